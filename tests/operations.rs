//! Running it for real (SPEC §20): config.toml, the command line while `serve` holds
//! the ledger, backup and restore, never behind the witnesses, storage format versions.
//! Everything through the binary, as an administrator would.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::server::{token, Server};
use common::{new_ledger, ok, run};

const REPLAY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/replay/mama-ryadom-2019-2020/events.jsonl");

#[test]
fn config_mistakes_are_named_by_key_in_russian_and_stop_every_command() {
    let (_tmp, dir) = new_ledger();
    ok(&run(&dir, &["append", REPLAY], b""), "append");
    // A Cyrillic «с» in Moscow, and a key one letter off.
    std::fs::write(dir.join("config.toml"), "timezone = \"Europe/Mosсow\"\ncheckpoint_evry = 5\n").unwrap();
    let r = run(&dir, &["config", "check"], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("ключ «timezone»: «Europe/Mosсow» — не часовой пояс"), "{}", r.stderr);
    assert!(r.stderr.contains("неизвестный ключ «checkpoint_evry» — может быть, «checkpoint_every»?"), "{}", r.stderr);
    assert!(r.stderr.contains("2 ошибки"), "{}", r.stderr);
    // Every command that reads the ledger stops before doing anything.
    for args in [&["log"][..], &["indicators", "--year", "2020"], &["serve", "--addr", "127.0.0.1:0"]] {
        let r = run(&dir, args, b"");
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("config.toml") && r.stderr.contains("«timezone»"), "{args:?}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{args:?}");
    }
    let syntax = "organisation = АНО\n";
    std::fs::write(dir.join("config.toml"), syntax).unwrap();
    let r = run(&dir, &["config", "check"], b"");
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("строка 1: это не TOML"), "{}", r.stderr);

    // A good file: every time a person reads is shown in its zone (UTC+5 here).
    std::fs::write(
        dir.join("config.toml"),
        "organisation = \"АНО «Мама рядом»\"\ntimezone = \"Asia/Yekaterinburg\"\ncheckpoint_every = 30\n",
    )
    .unwrap();
    let r = run(&dir, &["config", "check"], b"");
    ok(&r, "config check");
    assert!(r.stdout.contains("ошибок нет") && r.stdout.contains("timezone = Asia/Yekaterinburg"), "{}", r.stdout);
    let r = run(&dir, &["indicators", "--year", "2020", "--known-at", "2021-01-31T09:00:00Z"], b"");
    ok(&r, "indicators");
    assert!(r.stdout.contains("как известно на 31.01.2021 14:00"), "{}", r.stdout);
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn reading_commands_run_through_the_service_with_the_same_output_and_writing_ones_are_sent_to_it() {
    let (tmp, dir) = new_ledger();
    ok(&run(&dir, &["append", REPLAY], b""), "append");
    let out = |name: &str| tmp.path().join(name);
    let table = out("contracts.csv");
    let facts = out("facts");
    let html = out("report.html");
    let table_s = table.to_str().unwrap();
    let facts_s = facts.to_str().unwrap();
    let html_s = html.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["log"],
        vec!["log", "--json", "--case", "3/2020_МР"],
        vec!["cases", "--on", "2020-12-31"],
        vec!["case", "show", "3/2020_МР", "--on", "2020-12-31"],
        vec!["indicators", "--year", "2020", "--known-at", "2021-01-31"],
        vec!["--json", "explain", "P1", "--year", "2020", "--known-at", "2021-01-31"],
        vec!["report", "create", "--year", "2020", "--known-at", "2021-01-31"],
        vec!["table", "contracts", "--year", "2020", "--out", table_s],
        vec!["facts", "--year", "2020", "--known-at", "2021-01-31", "--out", facts_s],
        vec!["report", "html", "--year", "2020", "--known-at", "2021-01-31", "--out", html_s],
        vec!["export"],
        vec!["--json", "verify"],
        vec!["case", "show", "нет-такого"],
    ];
    // "Сформировано …" and `generated_at` name the moment: compared without it.
    let steady = |s: &str| {
        s.lines()
            .filter(|l| !["generated_at", "created_at", "\"hash\"", "Сформировано"].iter().any(|w| l.contains(w)))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let files = || -> Vec<Vec<u8>> {
        let mut f = vec![std::fs::read(&table).unwrap()];
        let mut names: Vec<_> = std::fs::read_dir(&facts).unwrap().map(|e| e.unwrap().path()).collect();
        names.sort();
        f.extend(names.iter().filter(|p| !p.ends_with("cut.json")).map(|p| std::fs::read(p).unwrap()));
        f
    };
    let alone: Vec<_> = commands.iter().map(|c| run(&dir, c, b"")).collect();
    let alone_files = files();
    std::fs::remove_dir_all(&facts).unwrap();
    std::fs::remove_file(&table).unwrap();

    let server = Server::start(&dir);
    let socket = dir.join("serve.sock");
    assert_eq!(mode(&socket), 0o600, "the socket is the service's user's alone");
    for (c, a) in commands.iter().zip(&alone) {
        let s = run(&dir, c, b"");
        assert_eq!(s.code, a.code, "{c:?}: {}", s.stderr);
        assert_eq!(steady(&s.stdout), steady(&a.stdout), "{c:?}");
        assert_eq!(s.stderr, a.stderr, "{c:?}");
    }
    assert_eq!(files(), alone_files, "the files written through the service");
    assert!(html.exists());
    assert_eq!(std::fs::read_dir(dir.join("served")).map(|d| d.count()).unwrap_or(0), 0, "nothing left staged");

    // Commands that write say to use the service, and write nothing.
    let before = common::head(&dir);
    for (args, hint) in [
        (&["append", REPLAY][..], "POST /v1/events"),
        (&["report", "bundle", "--year", "2020", "--out", "x.zip"], "POST /v1/bundles"),
        (&["checkpoint"], "сам подписывает"),
        (&["recover"], "остановите сервис"),
    ] {
        let r = run(&dir, args, b"");
        assert_eq!(r.code, 4, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains("открыт сервисом") && r.stderr.contains(hint), "{args:?}: {}", r.stderr);
    }
    assert_eq!(common::head(&dir), before);
    assert_eq!(server.stop("TERM"), Some(0));
    assert!(!socket.exists(), "the socket goes with the service");
    // Alone again.
    ok(&run(&dir, &["verify"], b""), "verify after the service");
}

fn events_of(dir: &Path) -> Vec<String> {
    run(dir, &["export"], b"").stdout.lines().map(str::to_string).collect()
}

#[test]
fn a_backup_taken_while_appending_over_http_restores_to_the_same_head_key_and_users() {
    let (tmp, dir) = new_ledger();
    ok(&run(&dir, &["key", "init", "--origin", "ledger.example/backup"], b""), "key init");
    ok(&run(&dir, &["user", "add", "А-01", "--role", "admin"], "пароль-администратора\n".as_bytes()), "user add");
    ok(&run(&dir, &["user", "add", "К-07", "--role", "recorder"], "пароль-куратора-07\n".as_bytes()), "user add");
    std::fs::write(dir.join("config.toml"), "organisation = \"АНО «Проба»\"\n").unwrap();
    let rec = token(&dir, "К-07", "recorder");
    let server = Server::start(&dir);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let appender = {
        let (url, stop) = (server.url("/v1/events"), stop.clone());
        std::thread::spawn(move || {
            let agent = common::server::agent();
            let mut batches = 0u32;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) || batches < 5 {
                let body = common::signals(batches, 20);
                let r = common::server::call(&agent, &url, "POST", Some(&rec), "application/x-ndjson", body.as_bytes());
                assert_eq!(r.status, 200, "{}", r.text);
                batches += 1;
            }
            batches
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let archive = tmp.path().join("backup.zip");
    let r = run(&dir, &["--json", "backup", "--out", archive.to_str().unwrap()], b"");
    ok(&r, "backup while serving");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let batches = appender.join().unwrap();
    let made: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let seq = made["seq"].as_u64().unwrap();
    assert!(
        seq > 0 && seq < u64::from(batches) * 20,
        "a backup in the middle of the appends: {seq} of {}",
        batches * 20
    );
    assert_eq!(server.stop("TERM"), Some(0));

    let restored = tmp.path().join("restored");
    let r = run(&restored, &["restore", archive.to_str().unwrap()], b"");
    ok(&r, "restore");
    assert!(r.stdout.contains("цепочка цела"), "{}", r.stdout);
    // The same events up to the backup's head, the same key, users, tokens and name.
    assert_eq!(events_of(&restored), events_of(&dir)[..seq as usize].to_vec());
    assert_eq!(made["head"].as_str().unwrap(), common::verified(&restored).1);
    for args in [&["key", "show"][..], &["user", "list"], &["token", "list"], &["config", "check"]] {
        // `config check` names the file first.
        let rest = |s: String| s.lines().skip(usize::from(args[0] == "config")).collect::<Vec<_>>().join("\n");
        assert_eq!(rest(run(&restored, args, b"").stdout), rest(run(&dir, args, b"").stdout), "{args:?}");
    }
    ok(&run(&restored, &["verify", "--projections"], b""), "verify --projections");
    // The people can log in to the restored service.
    let server = Server::start(&restored);
    let login = server.call("GET", "/login", None, "", b"");
    assert_eq!(login.status, 200);
    drop(server);

    // Restore never writes over a ledger, and never takes a forged archive.
    let r = run(&dir, &["restore", archive.to_str().unwrap()], b"");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("только в пустую или новую папку"), "{}", r.stderr);
    let forged = tmp.path().join("forged.zip");
    rewrite_member(&archive, &forged, "users.json", |b| b.extend_from_slice(b" "));
    let into = tmp.path().join("from-forged");
    let r = run(&into, &["restore", forged.to_str().unwrap()], b"");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("users.json не совпадает со своим хешем"), "{}", r.stderr);
    assert!(!into.exists(), "nothing left of a refused restore");
    rewrite_member(&archive, &forged, "events.jsonl", |b| {
        let at = b.len() / 2;
        b[at] ^= 1;
    });
    let r = run(&into, &["restore", forged.to_str().unwrap()], b"");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(!into.exists());
}

/// Copies a zip with one member changed.
fn rewrite_member(from: &Path, to: &Path, name: &str, change: impl FnOnce(&mut Vec<u8>)) {
    use std::io::Write;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::fs::File::create(to).unwrap());
    let mut change = Some(change);
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let entry_name = entry.name().unwrap().into_owned();
        if entry_name == name {
            (change.take().unwrap())(&mut bytes);
        }
        out.start_file(entry_name, zip::write::SimpleFileOptions::default()).unwrap();
        out.write_all(&bytes).unwrap();
    }
    out.finish().unwrap();
}

fn wait_for(what: &str, secs: u64, mut f: impl FnMut() -> bool) {
    let until = Instant::now() + Duration::from_secs(secs);
    while !f() {
        assert!(Instant::now() < until, "waited {secs} s for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn checkpoint_size(text: &str) -> u64 {
    text.lines().nth(1).and_then(|l| l.parse().ok()).unwrap_or(0)
}

#[test]
fn a_ledger_restored_from_its_mirror_is_never_behind_the_witnesses() {
    let (tmp, dir) = new_ledger();
    ok(&run(&dir, &["append", REPLAY], b""), "append");
    let vkey = run(&dir, &["key", "init", "--origin", "ledger.example/mirrored"], b"").stdout.trim().to_string();
    let (w, wkey) = common::witness(tmp.path(), "fund.example/witness", &vkey);
    std::fs::write(dir.join("witnesses"), format!("witness fund.example/witness {wkey} http://{}\nquorum 1\n", w.1))
        .unwrap();
    std::fs::write(dir.join("config.toml"), "checkpoint_every = 1\nmirrors = [\"mirror-office\"]\n").unwrap();
    let mirror_token = tmp.path().join("mirror.token");
    std::fs::write(&mirror_token, token(&dir, "mirror-office", "auditor")).unwrap();
    let rec = token(&dir, "К-07", "recorder");
    let archive = tmp.path().join("backup.zip");
    ok(&run(&dir, &["backup", "--out", archive.to_str().unwrap()], b""), "backup");

    let source_head = common::head(&dir);
    let server = Server::start(&dir);
    let mirror = tmp.path().join("mirror");
    let pull = || {
        let r =
            run(&mirror, &["mirror", "--from", &server.url(""), "--token-file", mirror_token.to_str().unwrap()], b"");
        ok(&r, "mirror");
    };
    pull();
    let held = common::head(&mirror);
    assert_eq!(held, source_head);
    // More events that the mirror has not pulled.
    let r = server.call("POST", "/v1/events", Some(&rec), "application/x-ndjson", common::signals(7, 30).as_bytes());
    assert_eq!(r.status, 200, "{}", r.text);
    // The service signs every second, and its witness cosigns — only what the mirror holds.
    let mut checkpoint = String::new();
    wait_for("a witnessed checkpoint", 20, || {
        checkpoint = server.call("GET", "/v1/checkpoint", None, "", b"").text;
        checkpoint.contains("— fund.example/witness")
    });
    std::thread::sleep(Duration::from_secs(2));
    checkpoint = server.call("GET", "/v1/checkpoint", None, "", b"").text;
    assert_eq!(checkpoint_size(&checkpoint), held, "the witnesses saw only what the mirror holds:\n{checkpoint}");
    let status: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("mirrors.json")).unwrap()).unwrap();
    assert_eq!(status["mirror-office"]["seq"].as_u64(), Some(held));
    // The source dies for good.
    assert_eq!(server.stop("KILL"), None);

    // Restored from the backup (key, witnesses, users) with the mirror's events.
    let events = tmp.path().join("mirror-events.jsonl");
    let r = run(&mirror, &["export", events.to_str().unwrap()], b"");
    ok(&r, "export of the mirror");
    let restored = tmp.path().join("restored");
    let r = run(&restored, &["restore", archive.to_str().unwrap(), "--events", events.to_str().unwrap()], b"");
    ok(&r, "restore from the mirror");
    assert!(r.stderr.contains("config.toml называет зеркала (mirror-office)"), "{}", r.stderr);
    assert_eq!(common::head(&restored), held);
    // The mirror is now the ledger: the list of mirrors goes, then everything works.
    std::fs::write(restored.join("config.toml"), "checkpoint_every = 1\n").unwrap();
    let r = run(&restored, &["checkpoint"], b"");
    ok(&r, "checkpoint of the restored ledger");
    let zip = tmp.path().join("bundle.zip");
    let r = run(&restored, &["report", "bundle", "--year", "2020", "--out", zip.to_str().unwrap()], b"");
    ok(&r, "report bundle of the restored ledger");
    let r =
        Command::new(common::bin()).args(["bundle", "verify", zip.to_str().unwrap(), "--key", &vkey]).output().unwrap();
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    drop(w);
}

#[test]
fn a_newer_storage_format_is_refused_naming_its_version_and_an_older_one_is_upgraded_after_a_copy() {
    let (_tmp, dir) = new_ledger();
    ok(&run(&dir, &["append", REPLAY], b""), "append");
    let format = std::fs::read_to_string(dir.join("FORMAT")).unwrap();
    assert!(format.starts_with("caseledger-store-3\ncaseledger "), "{format}");
    std::fs::write(dir.join("FORMAT"), "caseledger-store-9\ncaseledger 7.1.0\n").unwrap();
    for args in [&["log"][..], &["verify"], &["append", REPLAY]] {
        let r = run(&dir, args, b"");
        assert_eq!(r.code, 4, "{args:?}");
        assert!(
            r.stderr.contains("хранилище формата 9 записала caseledger 7.1.0")
                && r.stderr.contains("установите caseledger 7.1.0"),
            "{}",
            r.stderr
        );
    }
    assert_eq!(std::fs::read_to_string(dir.join("FORMAT")).unwrap(), "caseledger-store-9\ncaseledger 7.1.0\n");

    // A store of format 2 (before the journal's tag) without a FORMAT file.
    std::fs::remove_file(dir.join("FORMAT")).unwrap();
    {
        let db = common::open_store(&dir);
        db.insert(b"meta", &b"caseledger-store-2"[..]).unwrap();
        db.flush().unwrap();
    }
    let (seq, head) = common::verified(&dir);
    let copies: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_string_lossy().starts_with("before-upgrade-store-2-"))
        .collect();
    assert_eq!(copies.len(), 1, "one copy of the old store");
    assert!(copies[0].join("sled").join("db").exists() && copies[0].join("journal").exists());
    assert!(std::fs::read_to_string(dir.join("FORMAT")).unwrap().starts_with("caseledger-store-3\n"));
    let db = common::open_store(&dir);
    assert_eq!(db.get(b"meta").unwrap().as_deref(), Some(&b"caseledger-store-3"[..]));
    drop(db);
    assert_eq!(common::verified(&dir), (seq, head));
}

#[test]
fn serve_logs_to_the_file_config_toml_names_one_file_a_day() {
    let (_tmp, dir) = new_ledger();
    std::fs::write(dir.join("config.toml"), "log = \"logs/serve.log\"\nlog_level = \"info\"\n").unwrap();
    let server = Server::start(&dir);
    assert_eq!(server.call("GET", "/health", None, "", b"").status, 200);
    assert_eq!(server.stop("TERM"), Some(0));
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = dir.join("logs").join(format!("serve.log.{today}"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    // The test's server runs with CASELEDGER_LOG=warn, which wins over log_level.
    assert!(text.contains("WARN") && text.contains("no tokens"), "{text}");
    assert!(!text.contains('\u{1b}'), "no terminal colours in a file");
}

#[test]
fn past_years_into_a_ledger_in_use_are_refused_in_russian_with_the_way_to_do_it() {
    let (_tmp, dir) = new_ledger();
    let event = |signal: &str, at: &str| {
        format!(
            "{{\"type\":\"signal_received\",\"occurred_on\":\"2021-01-10\",\"recorded_at\":\"{at}\",\"data\":{{\"signal\":\"{signal}\",\"family\":\"Ф-1\",\"channel\":\"phone\"}}}}\n"
        )
    };
    ok(&run(&dir, &["append"], event("С-1", "2021-02-01T09:00:00Z").as_bytes()), "append");
    let r = run(&dir, &["append"], event("С-2", "2021-01-15T09:00:00Z").as_bytes());
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr.contains("раньше времени записи предыдущего события (01.02.2021 12:00)")
            && r.stderr.contains("время записи в реестре не идёт назад")
            && r.stderr.contains("caseledger import-table"),
        "{}",
        r.stderr
    );
    // Without recorded_at, the same past event is recorded today with its own date.
    let today = event("С-2", "x").replace(",\"recorded_at\":\"x\"", "");
    ok(&run(&dir, &["append"], today.as_bytes()), "append without recorded_at");
}
