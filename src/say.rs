//! What a person reads, in Russian (SPEC §21): days as `31.01.2021`, moments in the
//! organisation's time zone, numbers grouped by thousands, plurals; and the catalogue
//! of refusals that more than one module gives (a value of the wrong kind, an empty
//! text, a number out of range…), with [`slip`], the check every refusal a person can
//! see must pass.
//!
//! A ground-floor module: it imports nothing of this crate. The domain's words (event
//! types, vocabulary values, labels) are in `domain::words`, which builds on this.
//!
//! Exceptions, kept in English because SPEC §13 words them and outside tools compare
//! them: [`SPEC_PHRASES`].

use chrono::NaiveDate;

/// A day as Russian documents write it: `31.01.2021`.
pub fn date(d: NaiveDate) -> String {
    d.format("%d.%m.%Y").to_string()
}

/// Digits grouped by thousands with a (narrow no-break) space: `5 271 224`.
pub fn grouped(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 * 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    out
}

/// The Russian plural form for `n`: `(одно, несколько, много)` as in
/// `1 событие`, `2 события`, `5 событий`, `21 событие`, `11 событий`.
pub fn plural(n: u64, forms: (&str, &str, &str)) -> String {
    let word = match (n % 10, n % 100) {
        (_, 11..=14) => forms.2,
        (1, _) => forms.0,
        (2..=4, _) => forms.1,
        _ => forms.2,
    };
    format!("{} {word}", grouped(n))
}

/// The time zone times are shown in when the organisation has not named one
/// (SPEC §20): Moscow.
pub const DEFAULT_ZONE: chrono_tz::Tz = chrono_tz::Europe::Moscow;

static ZONE: std::sync::RwLock<Option<chrono_tz::Tz>> = std::sync::RwLock::new(None);

/// Sets the zone of this process's ledger (`timezone` in `config.toml`): at start, and
/// when an administrator changes it on `/admin/organisation`.
pub fn set_zone(zone: chrono_tz::Tz) {
    *ZONE.write().unwrap_or_else(|e| e.into_inner()) = Some(zone);
}

/// The zone every time a person reads is shown in (SPEC §20): the ledger's
/// `timezone`, Moscow by default.
pub fn zone() -> chrono_tz::Tz {
    ZONE.read().unwrap_or_else(|e| e.into_inner()).unwrap_or(DEFAULT_ZONE)
}

/// A moment as a person reads it in a time zone: `05.02.2021 10:14` (stored times stay
/// UTC).
pub fn local_moment(t: &chrono::DateTime<chrono::Utc>, zone: chrono_tz::Tz) -> String {
    t.with_timezone(&zone).format("%d.%m.%Y %H:%M").to_string()
}

/// A moment as a person reads it: `31.01.2021 12:15`, in the ledger's zone ([`zone`]).
pub fn moment(t: &chrono::DateTime<chrono::Utc>) -> String {
    local_moment(t, zone())
}

/// A day as a person types it: `31.01.2021` or `2021-01-31` (also with `/`, or a
/// one-digit day or month).
pub fn typed_day(typed: &str) -> Option<NaiveDate> {
    let t = typed.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        if t.len() == 10 {
            return Some(d);
        }
    }
    let parts: Vec<&str> = t.split(['.', '/']).collect();
    if let [d, m, y] = parts[..] {
        let (d, m, y) = (d.parse::<u32>().ok()?, m.parse::<u32>().ok()?, y.parse::<i32>().ok()?);
        if y < 1000 || parts[2].len() != 4 {
            return None;
        }
        return NaiveDate::from_ymd_opt(y, m, d);
    }
    None
}

// ---- The catalogue of refusals -------------------------------------------------

/// A required field left empty (the words of every form).
pub const REQUIRED: &str = "нужно заполнить";
/// A text or code that is empty.
pub const EMPTY: &str = "не может быть пустым";
/// A text or code with a control character.
pub const CONTROL_CHAR: &str = "содержит управляющий символ";
/// A value that must be a JSON string.
pub const NOT_A_STRING: &str = "должно быть строкой";
/// A member that must be a JSON object.
pub const NOT_AN_OBJECT: &str = "должно быть объектом JSON `{…}`";
/// A day in an event's file that is not `YYYY-MM-DD`.
pub const NOT_AN_ISO_DAY: &str = "не дата: в файле событий день пишут как ГГГГ-ММ-ДД, например `2021-01-31`";
/// A `recorded_at` that is not a UTC moment.
pub const NOT_A_STAMP: &str = "не момент записи: нужно время UTC вида `2021-01-31T12:00:00Z`";

/// An event type no event has.
pub fn unknown_type(typed: &str) -> String {
    format!("нет такого типа события `{typed}`")
}

/// A count that must be positive.
pub const AT_LEAST_ONE: &str = "должно быть не меньше 1";

/// A text or code longer than its limit.
pub fn too_long(max: usize) -> String {
    format!("длиннее {} символов", grouped(max as u64))
}

/// A text or code holding a character that would hide or reorder what is read.
pub fn invisible(c: char) -> String {
    format!("содержит невидимый символ U+{:04X}: наберите значение заново, без него", u32::from(c))
}

/// An amount that is not rubles and kopecks.
pub fn not_money(typed: &str) -> String {
    format!("«{typed}» — не сумма в рублях: пишут, например, 1500 или 1500,50")
}

/// A day that is not a date.
pub const NOT_A_DAY: &str = "не дата: нужен день, например 31.01.2021";

/// A day typed (an option, a query) that is not a date.
pub fn not_a_day(typed: &str) -> String {
    format!("«{typed}» — не дата: нужен день, например 31.01.2021")
}

/// A birth that is neither a year, a month nor a day.
pub fn not_born(typed: &str) -> String {
    format!("«{typed}» — не год, месяц или дата рождения: пишут 2019, 06.2019 или 14.06.2019")
}

/// A count outside its range.
pub fn out_of_range(n: i64, max: u64) -> String {
    let n = if n < 0 { format!("−{}", grouped(n.unsigned_abs())) } else { grouped(n as u64) };
    format!("{n} — вне допустимого: от 0 до {}", grouped(max))
}

/// The first day of an event after the day it is recorded.
pub fn after_recording(on: NaiveDate, recorded: NaiveDate) -> String {
    format!("{} — позже дня записи ({}): событие не датируют будущим днём", date(on), date(recorded))
}

/// A file a person named that cannot be read, and why, in their words.
pub fn cannot_read(file: &dyn std::fmt::Display, e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    let why = match e.kind() {
        NotFound => "такого файла нет".to_string(),
        PermissionDenied => "нет прав на чтение".to_string(),
        IsADirectory => "это папка, а нужен файл".to_string(),
        InvalidData => "файл не в UTF-8".to_string(),
        _ => match e.raw_os_error() {
            Some(n) => format!("ошибка чтения (код системы {n})"),
            None => "ошибка чтения".to_string(),
        },
    };
    format!("не удаётся прочитать {file}: {why}")
}

/// Phrases SPEC §13 words in English, which outside tools compare byte for byte; a
/// refusal may carry them beside its Russian words.
pub const SPEC_PHRASES: [&str; 3] = [
    "not UTF-8 (perhaps windows-1251: convert with iconv -f cp1251 -t utf-8)",
    "one event per line (JSONL)",
    "did you mean",
];

/// The look-alike hint of SPEC §13, in Russian and in SPEC's words.
pub fn did_you_mean(code: &str) -> String {
    format!("; может быть, «{code}»? / did you mean «{code}»?")
}

/// A reason as a page shows it: the English of SPEC §13 is for outside tools that read
/// the command line, not for a person reading a page.
pub fn for_page(reason: &str) -> String {
    match reason.find(" / did you mean") {
        Some(i) => reason[..i].to_string(),
        None => reason.to_string(),
    }
}

/// What serde says of a value of the wrong kind, in Russian. `words` gives the Russian
/// word of a vocabulary value (for the list of allowed values). Returns the name of
/// a member the message is about (a missing or unknown one), and the reason.
pub fn serde_reason(message: &str, words: &dyn Fn(&str) -> Option<&'static str>) -> (Option<String>, String) {
    let ticked = |s: &str| -> Vec<String> { s.split('`').skip(1).step_by(2).map(str::to_string).collect() };
    if let Some(rest) = message.strip_prefix("missing field ") {
        return (ticked(rest).into_iter().next(), REQUIRED.to_string());
    }
    if message.starts_with("unknown field ") {
        return (None, "лишнее поле: у этого события его нет".to_string());
    }
    if message.starts_with("duplicate field ") {
        return (None, "указано дважды".to_string());
    }
    if let Some(rest) = message.strip_prefix("unknown variant ") {
        let mut names = ticked(rest).into_iter();
        let typed = names.next().unwrap_or_default();
        let allowed: Vec<String> = names
            .map(|n| match words(&n) {
                Some(w) => format!("«{w}» (`{n}`)"),
                None => format!("`{n}`"),
            })
            .collect();
        return (None, format!("нет такого значения `{typed}`; можно: {}", allowed.join(", ")));
    }
    if let Some(rest) = message.strip_prefix("invalid type: ").or_else(|| message.strip_prefix("invalid value: ")) {
        let expected = rest.rsplit_once(", expected ").map_or("", |(_, e)| e);
        let want = match expected {
            e if e.contains("string") || e.contains("UUID") || e.contains("char") => "нужна строка",
            "u8" | "u16" | "u32" | "u64" | "usize" => "нужно целое число не меньше 0",
            e if e.starts_with('i') || e.contains("integer") => "нужно целое число",
            e if e.contains("bool") => "нужно «да» или «нет»",
            e if e.contains("sequence") || e.contains("array") => "нужен список",
            _ => "нужен объект с полями",
        };
        return (None, format!("значение другого вида: {want}"));
    }
    if message.starts_with("invalid length") {
        return (None, "неверное число элементов".to_string());
    }
    if message.contains("UUID") {
        return (None, "не идентификатор записи (UUID)".to_string());
    }
    if message.chars().any(|c| matches!(c, 'а'..='я' | 'А'..='Я' | 'ё' | 'Ё')) {
        return (None, message.to_string());
    }
    (None, "недопустимое значение".to_string())
}

/// Why `text` would not read as Russian to a curator, if it would not (SPEC §21):
/// a Latin word (an English word or an event type's code such as `case_opened`), or
/// a day written `2021-01-31`. What is quoted back «as typed» is the person's own
/// (unless it is a snake_case code). Spans in backticks are what a person must type (codes,
/// ids) and are allowed, as are command-line options (`--from`); so are acronyms (`UUID`, `JSON`), hex ids and [`SPEC_PHRASES`].
pub fn slip(text: &str) -> Option<String> {
    let mut t = text.to_string();
    for phrase in SPEC_PHRASES {
        if let Some(i) = t.find(phrase) {
            // The phrase and what it quotes up to the end of the sentence.
            let end = t[i..].find('?').map_or(t.len(), |j| i + j + 1);
            t.replace_range(i..end, " ");
        }
    }
    let mut plain = String::with_capacity(t.len());
    for (i, part) in t.split('`').enumerate() {
        if i % 2 == 0 {
            plain.push_str(part);
            plain.push(' ');
        }
    }
    // What a person typed, quoted back «like this» (a sheet's name, a value), is theirs;
    // a code of the ledger's (`case_opened`) quoted so is still a slip.
    let mut unquoted = String::with_capacity(plain.len());
    for (i, part) in plain.split(['«', '»']).enumerate() {
        let snake = part.contains('_') && part.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if i % 2 == 0 || snake {
            unquoted.push_str(part);
        }
        unquoted.push(' ');
    }
    let plain = unquoted;
    let bytes: Vec<char> = plain.chars().collect();
    // A day in ISO form: four digits, dash, two digits, dash, two digits.
    for w in bytes.windows(10) {
        let d = |c: char| c.is_ascii_digit();
        if d(w[0])
            && d(w[1])
            && d(w[2])
            && d(w[3])
            && w[4] == '-'
            && d(w[5])
            && d(w[6])
            && w[7] == '-'
            && d(w[8])
            && d(w[9])
        {
            return Some(format!("a day written as {}", w.iter().collect::<String>()));
        }
    }
    for word in plain.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        if word.starts_with("--") {
            continue;
        }
        let word = word.trim_matches('-');
        let latin = word.chars().filter(char::is_ascii_alphabetic).count();
        if latin < 2 {
            continue;
        }
        let acronym =
            word.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') && !word.contains('_');
        // A hex digest or a UUID's groups are ids, not words.
        let hex = word.len() >= 8 && word.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        if !acronym && !hex {
            return Some(format!("the Latin word «{word}»"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_catches_english_codes_and_iso_days() {
        assert_eq!(slip("случай К-01 не открыт"), None);
        assert_eq!(slip("нужен идентификатор (UUID) 0190f1d2-aaaa-7bbb-8ccc-123456789abc"), None);
        assert_eq!(slip("можно: «при входе» (`entry`)"), None);
        assert_eq!(slip("ребёнок Д-01; может быть, «Д-01»? / did you mean «Д-01»?"), None);
        assert!(slip("is 99 but the domains add up to 16").is_some());
        assert!(slip("сначала нужно событие case_opened").is_some());
        assert!(slip("2026-09-01 — раньше открытия").is_some());
        assert!(slip("«shelter_left» возможно только").is_some());
        assert_eq!(slip("Лист «broken», строка 2: «#REF!»"), None);
    }

    #[test]
    fn serde_messages_become_russian() {
        let none = |_: &str| None;
        assert_eq!(serde_reason("missing field `case`", &none), (Some("case".into()), REQUIRED.into()));
        let stage = |v: &str| (v == "entry").then_some("при входе");
        let (_, why) = serde_reason("unknown variant `start`, expected one of `entry`, `exit`", &stage);
        assert_eq!(why, "нет такого значения `start`; можно: «при входе» (`entry`), `exit`");
        assert_eq!(slip(&why), None);
        let (_, why) = serde_reason("invalid type: integer `5`, expected a string", &none);
        assert_eq!(why, "значение другого вида: нужна строка");
        let (_, why) = serde_reason("invalid value: integer `-1`, expected u32", &none);
        assert_eq!(why, "значение другого вида: нужно целое число не меньше 0");
    }
}
