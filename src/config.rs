//! `DIR/config.toml` (SPEC §20): how an organisation runs its ledger. Optional; a
//! command-line flag wins over the file, the file over the defaults. Every mistake is
//! named by its key, in Russian, and `caseledger config check` prints them all.
//!
//! Ground floor: reads a file and answers a struct; it knows nothing of the ledger.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};

/// The file's name in the ledger directory.
pub const FILE: &str = "config.toml";

/// Keys the file may hold, in the order `config check` lists them.
pub const KEYS: &[&str] =
    &["organisation", "timezone", "addr", "public_url", "checkpoint_every", "log", "log_level", "mirrors"];

/// The time zone a person reads times in when the file names none.
pub const DEFAULT_TIMEZONE: chrono_tz::Tz = crate::say::DEFAULT_ZONE;

/// The largest config file read (it is a dozen lines).
const MAX_BYTES: u64 = 64 * 1024;

/// What `config.toml` says; every field absent when the file does not say it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Config {
    /// The organisation's name on its pages, tables and reports.
    pub organisation: Option<String>,
    /// The zone every time a person reads is shown in (stored times stay UTC).
    pub timezone: Option<chrono_tz::Tz>,
    /// Where `serve` listens (`HOST:PORT`).
    pub addr: Option<std::net::SocketAddr>,
    /// The address people type (`https://cases.example.org`): with `https`, the
    /// session cookie is `Secure` and a form's `Origin` must be this one.
    pub public_url: Option<PublicUrl>,
    /// Seconds between checkpoints `serve` signs while appends come in.
    pub checkpoint_every: Option<Duration>,
    /// The log file of `serve` (rotated daily, kept 30 days); relative to the ledger.
    pub log: Option<PathBuf>,
    /// error, warn, info, debug or trace.
    pub log_level: Option<String>,
    /// Token names of the mirrors whose copies checkpoints sent to witnesses must not
    /// outrun (SPEC §20, "never behind the witnesses").
    pub mirrors: Vec<String>,
}

/// `public_url`, parsed: its origin (`https://cases.example.org`, no path) and
/// whether it is `https`.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicUrl {
    pub origin: String,
    pub secure: bool,
}

impl Config {
    /// The config of the ledger in `dir`: the defaults when there is no file, the
    /// first mistake (Usage, exit 2) when the file has one.
    pub fn load(dir: &Path) -> Result<Config> {
        let (config, problems) = Self::check(dir)?;
        if problems.is_empty() {
            return Ok(config);
        }
        Err(Error::Usage(format!("{}: {}", dir.join(FILE).display(), problems.join("; "))))
    }

    /// The config and every mistake in it, each naming its key (`config check`).
    /// Err only when the file cannot be read at all.
    pub fn check(dir: &Path) -> Result<(Config, Vec<String>)> {
        let path = dir.join(FILE);
        let text = match read_bounded(&path) {
            Ok(Some(t)) => t,
            Ok(None) => return Ok((Config::default(), Vec::new())),
            Err(e) => return Err(e),
        };
        Ok(Self::parse(&text, dir))
    }

    /// Parses the file's text; relative paths are taken from `dir`.
    pub fn parse(text: &str, dir: &Path) -> (Config, Vec<String>) {
        let mut problems = Vec::new();
        let mut config = Config::default();
        let table: toml::Table = match text.parse() {
            Ok(t) => t,
            Err(e) => {
                let line = e.span().map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
                let what = e.message().trim().to_string();
                problems.push(match line {
                    Some(n) => format!("строка {n}: это не TOML ({what})"),
                    None => format!("это не TOML ({what})"),
                });
                return (config, problems);
            }
        };
        for (key, value) in &table {
            let bad = |why: String| format!("ключ «{key}»: {why}");
            let text_of = |v: &toml::Value| v.as_str().map(str::to_string);
            match key.as_str() {
                // The name's own rules (length, no invisible characters) are the
                // ledger's, checked by `names_problems` above this floor.
                "organisation" => match text_of(value) {
                    Some(name) if !name.trim().is_empty() => config.organisation = Some(name.trim().to_string()),
                    _ => problems.push(bad("нужна строка в кавычках, название организации".into())),
                },
                "timezone" => match text_of(value) {
                    Some(name) => match name.parse::<chrono_tz::Tz>() {
                        Ok(tz) => config.timezone = Some(tz),
                        Err(_) => problems.push(bad(format!(
                            "«{name}» — не часовой пояс из базы IANA (например, \"Europe/Moscow\", \"Asia/Yekaterinburg\")"
                        ))),
                    },
                    None => problems.push(bad("нужна строка в кавычках, например \"Europe/Moscow\"".into())),
                },
                "addr" => match text_of(value).map(|a| (a.parse::<std::net::SocketAddr>(), a)) {
                    Some((Ok(a), _)) => config.addr = Some(a),
                    Some((Err(_), a)) => problems.push(bad(format!(
                        "«{a}» — не адрес и порт (например, \"127.0.0.1:8080\")"
                    ))),
                    None => problems.push(bad("нужна строка в кавычках, например \"127.0.0.1:8080\"".into())),
                },
                "public_url" => match text_of(value) {
                    Some(u) => match PublicUrl::parse(&u) {
                        Ok(p) => config.public_url = Some(p),
                        Err(why) => problems.push(bad(why)),
                    },
                    None => problems.push(bad("нужна строка в кавычках, например \"https://cases.example.org\"".into())),
                },
                "checkpoint_every" => match value.as_integer() {
                    Some(n) if (1..=86_400).contains(&n) => config.checkpoint_every = Some(Duration::from_secs(n as u64)),
                    Some(n) => problems.push(bad(format!("{n} — нужно число секунд от 1 до 86 400"))),
                    None => problems.push(bad("нужно целое число секунд без кавычек, например 60".into())),
                },
                "log" => match text_of(value) {
                    Some(p) if !p.trim().is_empty() && !p.ends_with('/') => {
                        let p = PathBuf::from(p);
                        config.log = Some(if p.is_absolute() { p } else { dir.join(p) });
                    }
                    _ => problems.push(bad(
                        "нужен путь к файлу журнала в кавычках, например \"/var/log/caseledger/serve.log\"".into(),
                    )),
                },
                "log_level" => match text_of(value) {
                    Some(l) if ["error", "warn", "info", "debug", "trace"].contains(&l.as_str()) => {
                        config.log_level = Some(l)
                    }
                    _ => problems.push(bad("нужно одно из \"error\", \"warn\", \"info\", \"debug\", \"trace\"".into())),
                },
                "mirrors" => match value.as_array() {
                    Some(items) => {
                        for item in items {
                            match item.as_str().filter(|n| !n.trim().is_empty()) {
                                Some(n) if !config.mirrors.iter().any(|m| m == n) => config.mirrors.push(n.to_string()),
                                Some(n) => problems.push(bad(format!("зеркало «{n}» названо дважды"))),
                                None => problems.push(bad(
                                    "в списке не строка: нужны имена токенов зеркал в кавычках (как в caseledger token add ИМЯ)"
                                        .into(),
                                )),
                            }
                        }
                    }
                    None => problems.push(bad(
                        "нужен список имён токенов зеркал, например [\"mirror-office\"]".into(),
                    )),
                },
                other => problems.push(format!(
                    "неизвестный ключ «{other}»{} (известны: {})",
                    suggestion(other).map(|s| format!(" — может быть, «{s}»?")).unwrap_or_default(),
                    KEYS.join(", ")
                )),
            }
        }
        (config, problems)
    }

    /// The zone a person reads times in.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.timezone.unwrap_or(DEFAULT_TIMEZONE)
    }
}

impl PublicUrl {
    pub fn parse(text: &str) -> std::result::Result<PublicUrl, String> {
        let url = url::Url::parse(text)
            .map_err(|_| format!("«{text}» — не адрес сайта (например, \"https://cases.example.org\")"))?;
        let secure = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("«{text}»: схема «{other}», а нужна https:// (или http:// без прокси)")),
        };
        if url.host_str().is_none_or(str::is_empty) || !url.username().is_empty() || url.password().is_some() {
            return Err(format!(
                "«{text}» — нужен адрес сайта без имени и пароля, например \"https://cases.example.org\""
            ));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(format!(
                "«{text}»: сервис работает только в корне сайта — уберите путь «{}»",
                url.path().trim_end_matches('/')
            ));
        }
        Ok(PublicUrl { origin: url.origin().ascii_serialization(), secure })
    }
}

/// Sets one key of `DIR/config.toml` to a string (the administrator's pages): its line
/// replaced, or added at the end, the rest of the file — comments included — kept as
/// it is; the result must read back without a mistake, else nothing is written.
pub fn set_string(dir: &Path, key: &str, value: &str) -> Result<Config> {
    let path = dir.join(FILE);
    let text = read_bounded(&path)?.unwrap_or_default();
    // A JSON string is a TOML basic string (the same escapes).
    let line = format!("{key} = {}", serde_json::Value::String(value.to_string()));
    let is_key = |l: &str| l.trim_start().strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with('='));
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    match lines.iter().position(|l| is_key(l)) {
        Some(i) => lines[i] = line,
        None => lines.push(line),
    }
    let new = lines.join("\n") + "\n";
    let (config, problems) = Config::parse(&new, dir);
    if let Some(p) = problems.into_iter().next() {
        return Err(Error::Usage(p));
    }
    crate::files::write_atomically(&path, |w| Ok(w.write_all(new.as_bytes())?))?;
    Ok(config)
}

/// The known key a mistyped one is closest to (one or two letters apart).
fn suggestion(key: &str) -> Option<&'static str> {
    let lower = key.to_lowercase().replace('-', "_");
    KEYS.iter().copied().find(|k| *k == lower || distance(k, &lower) <= 2)
}

fn distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let old = row[j + 1];
            row[j + 1] = (old + 1).min(row[j] + 1).min(prev + usize::from(ca != cb));
            prev = old;
        }
    }
    row[b.len()]
}

fn read_bounded(path: &Path) -> Result<Option<String>> {
    use std::io::Read;
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::Usage(format!("{}: не читается: {e}", path.display()))),
    };
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Usage(format!("{}: не читается: {e}", path.display())))?;
    if bytes.len() as u64 > MAX_BYTES {
        return Err(Error::Usage(format!(
            "{}: больше {} КиБ — это не файл настроек",
            path.display(),
            MAX_BYTES / 1024
        )));
    }
    String::from_utf8(bytes).map(Some).map_err(|_| Error::Usage(format!("{}: не в кодировке UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (Config, Vec<String>) {
        Config::parse(text, Path::new("/srv/ledger"))
    }

    #[test]
    fn a_full_file_reads() {
        let (c, problems) = parse(
            "organisation = \"АНО «Мама рядом»\"\ntimezone = \"Asia/Yekaterinburg\"\naddr = \"127.0.0.1:8080\"\n\
             public_url = \"https://cases.example.org/\"\ncheckpoint_every = 30\nlog = \"logs/serve.log\"\n\
             log_level = \"info\"\nmirrors = [\"mirror-office\"]\n",
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(c.organisation.as_deref(), Some("АНО «Мама рядом»"));
        assert_eq!(c.zone(), chrono_tz::Asia::Yekaterinburg);
        assert_eq!(c.public_url, Some(PublicUrl { origin: "https://cases.example.org".into(), secure: true }));
        assert_eq!(c.checkpoint_every, Some(Duration::from_secs(30)));
        assert_eq!(c.log, Some(PathBuf::from("/srv/ledger/logs/serve.log")));
        assert_eq!(c.mirrors, vec!["mirror-office".to_string()]);
    }

    #[test]
    fn every_mistake_is_named_by_its_key_in_russian() {
        let (_, problems) = parse(
            "timezone = \"Europe/Mosсow\"\ncheckpoint_every = \"60\"\npublic_url = \"https://x.example/cases\"\n\
             timezon = \"UTC\"\nlog_level = \"loud\"\nmirrors = \"m1\"\naddr = \"localhost\"\n",
        );
        let all = problems.join("\n");
        for needle in [
            "ключ «timezone»: «Europe/Mosсow» — не часовой пояс",
            "ключ «checkpoint_every»: нужно целое число",
            "ключ «public_url»: «https://x.example/cases»: сервис работает только в корне сайта",
            "неизвестный ключ «timezon» — может быть, «timezone»?",
            "ключ «log_level»",
            "ключ «mirrors»",
            "ключ «addr»: «localhost» — не адрес и порт",
        ] {
            assert!(all.contains(needle), "{needle:?} not in:\n{all}");
        }
        assert_eq!(problems.len(), 7);
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let (_, problems) = parse("timezone = \"Europe/Moscow\"\naddr = 127.0.0.1:8080\n");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].starts_with("строка 2: это не TOML"), "{problems:?}");
    }

    #[test]
    fn a_key_set_keeps_the_rest_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(FILE),
            "# наш сервис\ntimezone = \"Europe/Moscow\"  # МСК\naddr = \"127.0.0.1:8080\"\n",
        )
        .unwrap();
        let c = set_string(dir.path(), "timezone", "Asia/Omsk").unwrap();
        assert_eq!(c.zone(), chrono_tz::Asia::Omsk);
        set_string(dir.path(), "organisation", "АНО «Мама \"рядом\"»").unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            text,
            "# наш сервис\ntimezone = \"Asia/Omsk\"\naddr = \"127.0.0.1:8080\"\norganisation = \"АНО «Мама \\\"рядом\\\"»\"\n"
        );
        assert_eq!(Config::load(dir.path()).unwrap().organisation.as_deref(), Some("АНО «Мама \"рядом\"»"));
        assert!(set_string(dir.path(), "timezone", "Mars/Base").is_err());
        assert_eq!(std::fs::read_to_string(dir.path().join(FILE)).unwrap(), text, "nothing written on a mistake");
    }

    #[test]
    fn plain_http_is_not_secure_and_other_schemes_are_refused() {
        assert!(!PublicUrl::parse("http://10.0.0.5:8080").unwrap().secure);
        assert_eq!(PublicUrl::parse("http://10.0.0.5:8080").unwrap().origin, "http://10.0.0.5:8080");
        assert!(PublicUrl::parse("ftp://x.example").is_err());
        assert!(PublicUrl::parse("https://user:pw@x.example").is_err());
    }
}
