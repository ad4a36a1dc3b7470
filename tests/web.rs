//! Handler tests of the web workspace, in process (SPEC §16): the whole service's router
//! over a real ledger and group committer, called without a network. Statuses,
//! redirects, the session cookie, CSRF, login throttling, refusals that keep the form,
//! and what each role is shown.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use caseledger::access::{add_user, Role, Tokens, Users};
use caseledger::appender::Appender;
use caseledger::ledger::Ledger;
use tower::ServiceExt;

struct App {
    router: axum::Router,
    ledger: Arc<Ledger>,
    users: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    location: String,
    cookie: Option<String>,
    headers: axum::http::HeaderMap,
    body: String,
}

fn app() -> App {
    app_with_config("")
}

/// The service over a new ledger whose config.toml holds `config`.
fn app_with_config(config: &str) -> App {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("ledger");
    let ledger = Arc::new(Ledger::init(&dir).unwrap());
    if !config.is_empty() {
        std::fs::write(dir.join("config.toml"), config).unwrap();
    }
    let users = caseledger::access::default_users_path(&dir);
    add_user(&users, "К-07", Role::Recorder, "пароль-куратора-07").unwrap();
    add_user(&users, "М-01", Role::Analyst, "пароль-методиста-1").unwrap();
    let (appender, _writer) = Appender::start(ledger.clone(), 64);
    let router = caseledger::server::app(
        ledger.clone(),
        Tokens::default(),
        Users::new(users.clone()),
        appender,
        Arc::new(AtomicBool::new(false)),
        false,
    );
    App { router, ledger, users, _tmp: tmp }
}

impl App {
    async fn send(
        &self,
        method: &str,
        path: &str,
        cookie: Option<&str>,
        form: Option<&[(&str, &str)]>,
        extra: &[(&str, &str)],
    ) -> Reply {
        let mut b = Request::builder().method(method).uri(path).header(header::HOST, "127.0.0.1:8080");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        for (k, v) in extra {
            b = b.header(*k, *v);
        }
        let body = match form {
            Some(pairs) => {
                b = b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
                Body::from(serde_urlencoded_pairs(pairs))
            }
            None => Body::empty(),
        };
        let res = self.router.clone().oneshot(b.body(body).unwrap()).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let location = headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let cookie = headers
            .get(header::SET_COOKIE)
            .and_then(|v| v.to_str().ok())
            .map(|c| c.split(';').next().unwrap().to_string());
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        Reply { status, location, cookie, headers, body: String::from_utf8_lossy(&bytes).into_owned() }
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> Reply {
        self.send("GET", path, cookie, None, &[]).await
    }

    /// Logs in; returns the session cookie and the CSRF token of the session.
    async fn login(&self, user: &str, password: &str) -> (String, String) {
        let page = self.get("/login", None).await;
        let cookie = page.cookie.clone().expect("the login page starts a session");
        let csrf = csrf_of(&page.body);
        let r = self
            .send(
                "POST",
                "/login",
                Some(&cookie),
                Some(&[("username", user), ("password", password), ("csrf", &csrf), ("next", "/cases")]),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
        assert_eq!(r.location, "/cases");
        let cookie = r.cookie.unwrap_or(cookie);
        let page = self.get("/cases", Some(&cookie)).await;
        assert_eq!(page.status, StatusCode::OK);
        (cookie, csrf_of(&page.body))
    }
}

fn serde_urlencoded_pairs(pairs: &[(&str, &str)]) -> String {
    pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&")
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
    html[at..at + 64].to_string()
}

#[tokio::test]
async fn pages_need_a_session_and_carry_a_strict_csp() {
    let app = app();
    let r = app.get("/", None).await;
    assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/cases"));
    let r = app.get("/cases?status=open", None).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location, "/login?next=/cases%3Fstatus%3Dopen");
    let r = app.get("/login", None).await;
    assert_eq!(r.status, StatusCode::OK);
    let csp = r.headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap();
    assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline") && csp.contains("default-src 'none'"));
    let set = r.headers.get(header::SET_COOKIE).unwrap().to_str().unwrap().to_string();
    assert!(set.contains("HttpOnly") && set.contains("SameSite=Strict"), "{set}");
    assert!(r.body.contains("name=\"username\"") && r.body.contains("name=\"password\""));
    assert!(!r.body.contains("<script>"), "no inline script");
    // The JSON API is unchanged beside the pages.
    let h = app.get("/health", None).await;
    assert_eq!(h.status, StatusCode::OK);
    assert!(h.body.contains("\"ok\":true"));
}

#[tokio::test]
async fn a_post_from_elsewhere_or_without_the_token_is_refused() {
    let app = app();
    let page = app.get("/login", None).await;
    let cookie = page.cookie.unwrap();
    let csrf = csrf_of(&page.body);
    let form = [("username", "К-07"), ("password", "пароль-куратора-07"), ("csrf", csrf.as_str())];
    let r = app.send("POST", "/login", Some(&cookie), Some(&form[..2]), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token");
    let r = app.send("POST", "/login", Some(&cookie), Some(&form), &[("origin", "http://evil.example")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "another origin");
    let r = app.send("POST", "/login", Some(&cookie), Some(&form), &[("sec-fetch-site", "cross-site")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "cross-site");
    let r = app
        .send(
            "POST",
            "/login",
            Some(&cookie),
            Some(&form),
            &[("origin", "http://127.0.0.1:8080"), ("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // Logged in: a recording POST without the token is refused and writes nothing.
    let cookie = r.cookie.unwrap_or(cookie);
    let ev = [
        ("type", "signal_received"),
        ("occurred_on", "01.03.2026"),
        ("signal", "С-1"),
        ("channel", "phone"),
        ("csrf", "0".repeat(64).leak() as &str),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&ev), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ledger.head().seq, 0);
}

#[tokio::test]
async fn five_failed_logins_lock_the_user() {
    let app = app();
    let page = app.get("/login", None).await;
    let cookie = page.cookie.unwrap();
    let csrf = csrf_of(&page.body);
    for _ in 0..5 {
        let r = app
            .send(
                "POST",
                "/login",
                Some(&cookie),
                Some(&[("username", "К-07"), ("password", "неверный-пароль"), ("csrf", &csrf)]),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("role=\"alert\""));
    }
    // The right password is refused too, for 15 minutes.
    let r = app
        .send(
            "POST",
            "/login",
            Some(&cookie),
            Some(&[("username", "К-07"), ("password", "пароль-куратора-07"), ("csrf", &csrf)]),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.body.contains("заблокирован"), "{}", r.body);
    // Another user is not locked.
    let r = app
        .send(
            "POST",
            "/login",
            Some(&cookie),
            Some(&[("username", "М-01"), ("password", "пароль-методиста-1"), ("csrf", &csrf)]),
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_form_records_the_event_as_the_user_through_the_same_append() {
    let app = app();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    let r = app.get("/events/new?type=signal_received", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::OK);
    for name in ["type", "occurred_on", "signal", "family", "channel"] {
        assert!(r.body.contains(&format!("name=\"{name}\"")), "{name}");
    }
    assert!(r.body.contains("телефон") && !r.body.contains(">phone<"), "vocabulary in Russian");
    let ev = [
        ("csrf", csrf.as_str()),
        ("type", "signal_received"),
        ("occurred_on", "01.03.2026"),
        ("signal", "С-2026-1"),
        ("family", "Ф-1"),
        ("channel", "phone"),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&ev), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/signals?saved=1");
    let stored = app.ledger.record(1).unwrap().unwrap().parse().unwrap();
    assert_eq!(
        (stored.kind.as_str(), stored.actor.as_str(), stored.occurred_on.as_str()),
        ("signal_received", "К-07", "2026-03-01")
    );
    assert_eq!(stored.data, serde_json::json!({"signal": "С-2026-1", "family": "Ф-1", "channel": "phone"}));

    // Money and dates as people type them; a case with a child; its page.
    let opened = [
        ("csrf", csrf.as_str()),
        ("type", "case_opened"),
        ("occurred_on", "2026-03-02"),
        ("case", "7/2026_КЦ"),
        ("family", "Ф-1"),
        ("program", "КЦ"),
        ("children.0.code", "Р-1"),
        ("children.0.born", "2020"),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&opened), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(r.location, "/cases/7%2F2026_%D0%9A%D0%A6?saved=2");
    let aid = [
        ("csrf", csrf.as_str()),
        ("type", "aid_issued"),
        ("occurred_on", "03.03.2026"),
        ("case", "7/2026_КЦ"),
        ("kind", "diapers"),
        ("quantity", "3"),
        ("value", "1 500,50"),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&aid), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    assert_eq!(app.ledger.record(3).unwrap().unwrap().parse().unwrap().data["value"], "1500.50");
    let card = app.get("/cases/7%2F2026_%D0%9A%D0%A6", Some(&cookie)).await;
    assert_eq!(card.status, StatusCode::OK);
    assert!(
        card.body.contains("подгузники") && card.body.contains("1\u{202f}500,50"),
        "aid in Russian words and money"
    );
    assert!(card.body.contains("Исправить") && card.body.contains("Закрыть случай"));
}

#[tokio::test]
async fn a_refusal_keeps_the_form_and_writes_nothing() {
    let app = app();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    // A case event for a case that does not exist: the rule's words beside the field.
    let ev = [
        ("csrf", csrf.as_str()),
        ("type", "plan_set"),
        ("occurred_on", "01.03.2026"),
        ("case", "нет-такого"),
        ("goals", "3"),
        ("achieved", "1"),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&ev), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-case-error\""), "{}", r.body);
    assert!(r.body.contains("role=\"alert\" id=\"f-case-error\"") && r.body.contains("не открыт"));
    assert!(r.body.contains("value=\"нет-такого\"") && r.body.contains("value=\"3\""), "values kept");
    // A day that is not a day: said in Russian by the form, nothing written.
    let ev = [
        ("csrf", csrf.as_str()),
        ("type", "signal_received"),
        ("occurred_on", "31.02.2026"),
        ("signal", "С-1"),
        ("channel", "phone"),
    ];
    let r = app.send("POST", "/events", Some(&cookie), Some(&ev), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("id=\"f-occurred_on-error\"") && r.body.contains("ДД.ММ.ГГГГ"));
    assert_eq!(app.ledger.head().seq, 0, "nothing written");
}

#[tokio::test]
async fn roles_see_what_they_may_do() {
    let app = app();
    let (rec, _) = app.login("К-07", "пароль-куратора-07").await;
    let (ana, ana_csrf) = app.login("М-01", "пароль-методиста-1").await;
    // A recorder records and sees no figures.
    let r = app.get("/cases", Some(&rec)).await;
    assert!(r.body.contains("Новый сигнал") && !r.body.contains("/indicators"));
    assert_eq!(app.get("/indicators", Some(&rec)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/indicators/charts?year=2025", Some(&rec)).await.status, StatusCode::FORBIDDEN);
    // A methodist sees figures and records nothing.
    let r = app.get("/cases", Some(&ana)).await;
    assert!(!r.body.contains("Новый сигнал") && r.body.contains("/indicators"));
    assert_eq!(app.get("/indicators?year=2025", Some(&ana)).await.status, StatusCode::OK);
    let charts = app.get("/indicators/charts?year=2025", Some(&ana)).await;
    assert_eq!(charts.status, StatusCode::OK);
    assert!(charts.body.contains("Динамика ЕФО") && charts.body.contains("Доли по кварталам"));
    let bad = app.get("/indicators?year=2025&since=31.02.2025", Some(&ana)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "a day that is not a day is refused");
    assert!(bad.body.contains("«Изменения после»: «31.02.2025»"), "the field is named: {}", bad.body);
    let later = app.get("/indicators?year=2020&known_at=31.12.2020&since=31.03.2021", Some(&ana)).await;
    assert_eq!(later.status, StatusCode::BAD_REQUEST, "'changed after' a day later than the cut shown");
    assert!(later.body.contains("не раньше среза"), "{}", later.body);
    // A period of centuries: the ЕФО chart, and a sentence instead of 36 000 quarters.
    let long = app.get("/indicators/charts?from=01.01.1000&to=31.12.9999", Some(&ana)).await;
    assert_eq!(long.status, StatusCode::OK);
    assert!(long.body.contains("не длиннее 10 лет") && long.body.contains("Динамика ЕФО"), "{}", long.body);
    assert_eq!(app.get("/events/new?type=signal_received", Some(&ana)).await.status, StatusCode::FORBIDDEN);
    let ev = [
        ("csrf", ana_csrf.as_str()),
        ("type", "signal_received"),
        ("occurred_on", "01.03.2026"),
        ("signal", "С-1"),
        ("channel", "phone"),
    ];
    assert_eq!(app.send("POST", "/events", Some(&ana), Some(&ev), &[]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.ledger.head().seq, 0);
    // A removed user's session ends at the next request.
    caseledger::access::remove_user(&app.users, "М-01").unwrap();
    let r = app.get("/cases", Some(&ana)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location.starts_with("/login"));
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = app();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    let r = app.send("POST", "/logout", Some(&cookie), Some(&[("csrf", &csrf)]), &[]).await;
    assert_eq!((r.status, r.location.as_str()), (StatusCode::SEE_OTHER, "/login"));
    let r = app.get("/cases", Some(&cookie)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn every_event_type_has_a_russian_form() {
    let app = app();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    // A case and an event to correct, for the forms that need them.
    let opened = [
        ("csrf", csrf.as_str()),
        ("type", "case_opened"),
        ("occurred_on", "02.03.2026"),
        ("case", "1/2026"),
        ("family", "Ф-1"),
        ("program", "МР"),
        ("children.0.code", "Р-1"),
    ];
    assert_eq!(app.send("POST", "/events", Some(&cookie), Some(&opened), &[]).await.status, StatusCode::SEE_OTHER);
    let id = app.ledger.record(1).unwrap().unwrap().parse().unwrap().id.to_string();
    for kind in caseledger::ledger::event::EVENT_TYPES {
        let path = match kind {
            "event_voided" | "event_amended" => format!("/events/new?type={kind}&target={id}"),
            _ => format!("/events/new?type={kind}&case=1%2F2026"),
        };
        let r = app.get(&path, Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::OK, "{kind}: {}", r.body);
        assert!(r.body.contains(&format!("<h1>{}</h1>", caseledger::domain::words::event_type(kind))), "{kind}");
        // (A void is of today: its form asks only for the reason.)
        assert_eq!(r.body.contains("name=\"occurred_on\""), kind != "event_voided", "{kind}");
        // No English vocabulary value is shown as an option's text.
        for english in [
            ">phone<",
            ">urgent_help<",
            ">entry<",
            ">crisis<",
            ">food<",
            ">legal<",
            ">stabilized<",
            ">terminated_by_family<",
        ] {
            assert!(!r.body.contains(english), "{kind} shows {english}");
        }
    }
    // The ЕФО form: eight domains and a level per child of the case.
    let r = app.get("/events/new?type=efo_scored&case=1%2F2026", Some(&cookie)).await;
    for d in [
        "housing_income",
        "health_safety",
        "self_care",
        "education",
        "identity",
        "emotional",
        "family_relations",
        "behaviour",
    ] {
        assert!(r.body.contains(&format!("name=\"domains.{d}\"")), "{d}");
    }
    assert!(r.body.contains("name=\"children.0.level\"") && r.body.contains("value=\"Р-1\""));
    // The amendment's form is the target's, prefilled, under `data.`.
    let r = app.get(&format!("/events/new?type=event_amended&target={id}"), Some(&cookie)).await;
    assert!(
        r.body.contains("name=\"data.program\"")
            && r.body.contains("value=\"МР\"")
            && r.body.contains("name=\"reason\"")
    );
}

/// `/audit` and `/verify` are the auditor's (and admin's): others get 403 and no link.
/// The trail filters by actor, type and recorded days, newest first; the XLSX holds the
/// same rows; a check started on /verify ends with the chain's head.
#[tokio::test]
async fn the_trail_and_the_check_are_the_auditors() {
    let app = app();
    add_user(&app.users, "А-01", Role::Auditor, "пароль-аудитора-01").unwrap();
    let lines = [
        r#"{"type":"signal_received","occurred_on":"2021-03-01","recorded_at":"2021-03-02T10:00:00Z","actor":"К-07","data":{"signal":"С-1","family":"Ф-1","channel":"phone"}}"#,
        r#"{"type":"signal_received","occurred_on":"2021-01-10","recorded_at":"2021-03-05T10:00:00Z","actor":"К-08","data":{"signal":"С-2","family":"Ф-2","channel":"phone"}}"#,
        r#"{"type":"signal_received","occurred_on":"2021-03-06","recorded_at":"2021-03-06T10:00:00Z","actor":"К-07","data":{"signal":"С-3","family":"Ф-3","channel":"walk_in"}}"#,
    ];
    let input = lines.join("\n") + "\n";
    let opts = caseledger::ledger::AppendOptions { actor: "тест".into(), now: chrono::Utc::now() };
    app.ledger.append_jsonl(input.as_bytes(), &opts, &mut caseledger::ledger::EnvelopeOnly).unwrap();

    let (analyst, _) = app.login("М-01", "пароль-методиста-1").await;
    assert!(!app.get("/cases", Some(&analyst)).await.body.contains("href=\"/audit\""));
    assert_eq!(app.get("/audit", Some(&analyst)).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get("/verify", Some(&analyst)).await.status, StatusCode::FORBIDDEN);

    let (cookie, csrf) = app.login("А-01", "пароль-аудитора-01").await;
    let all = app.get("/audit", Some(&cookie)).await;
    assert_eq!(all.status, StatusCode::OK);
    let order: Vec<usize> =
        ["С-3", "С-2", "С-1"].iter().map(|s| all.body.find(&format!("сигнал {s}")).unwrap()).collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "newest first");
    assert!(all.body.contains("поздняя запись"), "the signal recorded two months late is flagged");
    let by_actor = app.get("/audit?actor=%D0%9A-07", Some(&cookie)).await.body;
    assert!(by_actor.contains("сигнал С-1") && by_actor.contains("сигнал С-3") && !by_actor.contains("сигнал С-2"));
    let by_days = app.get("/audit?from=05.03.2021&to=2021-03-05", Some(&cookie)).await.body;
    assert!(by_days.contains("сигнал С-2") && !by_days.contains("сигнал С-1") && !by_days.contains("сигнал С-3"));
    let bad = app.get("/audit?from=31.02.2021", Some(&cookie)).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.body);

    // The XLSX of the filtered trail, read back.
    let mut b = Request::builder().uri("/audit.xlsx?actor=%D0%9A-07").header(header::HOST, "127.0.0.1:8080");
    b = b.header(header::COOKIE, &cookie);
    let res = app.router.clone().oneshot(b.body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let named = res.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
    assert!(named.contains("filename*=UTF-8''%D0%B6%D1%83%D1%80%D0%BD%D0%B0%D0%BB"), "a Russian file name: {named}");
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    use calamine::Reader;
    let mut book = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let sheet = book.worksheet_range("Журнал записей").unwrap();
    let seqs: Vec<String> = sheet.rows().skip(1).map(|r| r[0].to_string()).collect();
    assert_eq!(seqs, ["3", "1"]);

    // The check: a POST without the form's token is refused; with it, it runs.
    let r = app.send("POST", "/verify", Some(&cookie), Some(&[("csrf", "wrong")]), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.send("POST", "/verify", Some(&cookie), Some(&[("csrf", &csrf)]), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let head = caseledger::ledger::event::hex(&app.ledger.head().hash);
    let mut status = String::new();
    for _ in 0..100 {
        status = app.get("/verify/status", Some(&cookie)).await.body;
        if status.contains("Цепочка цела") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(status.contains("Цепочка цела") && status.contains(&head), "{status}");
    assert!(status.contains("проверено 3 события"), "{status}");
}

impl App {
    /// A file's bytes posted as app.js posts them (the CSRF token in a header).
    async fn upload(&self, path: &str, cookie: &str, csrf: Option<&str>, bytes: &[u8]) -> Reply {
        let mut b = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::HOST, "127.0.0.1:8080")
            .header(header::COOKIE, cookie)
            .header(header::CONTENT_TYPE, "application/octet-stream");
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        let res = self.router.clone().oneshot(b.body(Body::from(bytes.to_vec())).unwrap()).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 24).await.unwrap();
        Reply {
            status,
            location: String::new(),
            cookie: None,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }
}

/// `/import` (SPEC §17): a preview that writes nothing, then the confirmation that
/// appends as the user, all or nothing; the same refusals as `import-table`.
#[tokio::test]
async fn a_table_is_previewed_then_appended_on_confirmation() {
    let app = app();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    let page = app.get("/import", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Загрузка таблиц") && page.body.contains("/import/template?name=contracts"));
    let t = app.get("/import/template?name=shelter", Some(&cookie)).await;
    assert_eq!(t.status, StatusCode::OK);
    assert!(t.headers[header::CONTENT_TYPE].to_str().unwrap().contains("spreadsheetml"));
    let (analyst, _) = app.login("М-01", "пароль-методиста-1").await;
    assert_eq!(app.get("/import", Some(&analyst)).await.status, StatusCode::FORBIDDEN);

    let url = "/import/preview?name=contracts&file=%D0%B6%D1%83%D1%80%D0%BD%D0%B0%D0%BB.csv&outcome=&stable=";
    let bad = "№;№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n1;1/2026_МР;Ф-1;МР;31.02.2026;;\n";
    let r = app.upload(url, &cookie, Some(&csrf), bad.as_bytes()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.contains("Лист «журнал», строка 2, столбец «дата заключения»: «31.02.2026» — не дата"),
        "{}",
        r.body
    );
    assert!(!r.body.contains("/import/confirm"), "no confirmation of a refused table");
    assert_eq!(app.upload(url, &cookie, None, bad.as_bytes()).await.status, StatusCode::FORBIDDEN, "CSRF");

    let good = "№;№ дела;шифр семьи;отдел;дата заключения;дата закрытия;итог\n1;1/2026_МР;Ф-1;МР;10.02.2026;20.03.2026;ТЖС стабилизирована\n2;2/2026_МР;Ф-2;МР;11.02.2026;;\n";
    let r = app.upload(url, &cookie, Some(&csrf), good.as_bytes()).await;
    assert!(r.body.contains("будет добавлено 3 события (№ 1–3); ничего не записано"), "{}", r.body);
    assert_eq!(app.ledger.head().seq, 0, "a preview writes nothing");
    let at = r.body.find("name=\"token\" value=\"").expect("a confirmation form") + 20;
    let token = r.body[at..at + 36].to_string();
    let confirm = [("csrf", csrf.as_str()), ("token", token.as_str())];
    let r = app.send("POST", "/import/confirm", Some(&cookie), Some(&confirm), &[]).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("Таблица загружена") && r.body.contains("добавлено 3 события (№ 1–3)"), "{}", r.body);
    assert_eq!(app.ledger.head().seq, 3);
    let stored = app.ledger.record(3).unwrap().unwrap().parse().unwrap();
    assert_eq!((stored.kind.as_str(), stored.actor.as_str()), ("case_opened", "К-07"));
    // The token is spent; the same table again has nothing to add.
    let r = app.send("POST", "/import/confirm", Some(&cookie), Some(&confirm), &[]).await;
    assert!(r.body.contains("больше не ждёт подтверждения"), "{}", r.body);
    let r = app.upload(url, &cookie, Some(&csrf), good.as_bytes()).await;
    assert!(r.body.contains("добавлять нечего") && !r.body.contains("/import/confirm"), "{}", r.body);
    assert_eq!(app.ledger.head().seq, 3);

    // The page asks what the command line asks: corrections by the table (the checkbox)…
    let page = app.get("/import", Some(&cookie)).await.body;
    for field in ["name=\"dates\"", "name=\"hidden\"", "name=\"amend\""] {
        assert!(page.contains(field), "{field}");
    }
    let changed = good.replace(";Ф-2;", ";Ф-22;");
    let r = app.upload(url, &cookie, Some(&csrf), changed.as_bytes()).await;
    assert!(r.body.contains("импорт не меняет записанное молча") && !r.body.contains("/import/confirm"), "{}", r.body);
    let r = app.upload(&format!("{url}&amend=%D0%B4%D0%B0"), &cookie, Some(&csrf), changed.as_bytes()).await;
    assert!(r.body.contains("Исправление записи") && r.body.contains("шифр семьи: «Ф-2» → «Ф-22»"), "{}", r.body);
    let at = r.body.find("name=\"token\" value=\"").expect("a confirmation form") + 20;
    let token = r.body[at..at + 36].to_string();
    let confirm = [("csrf", csrf.as_str()), ("token", token.as_str())];
    let r = app.send("POST", "/import/confirm", Some(&cookie), Some(&confirm), &[]).await;
    assert!(r.body.contains("добавлено 1 событие (№ 4)"), "{}", r.body);
    let fix = app.ledger.record(4).unwrap().unwrap().parse().unwrap();
    assert_eq!(fix.kind, "event_amended");

    // …and hidden rows: named until the person chooses.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (r, line) in changed.lines().enumerate() {
        for (c, cell) in line.split(';').enumerate() {
            sheet.write_string(r as u32, c as u16, cell).unwrap();
        }
    }
    sheet.write_string(3, 1, "3/2026_МР").unwrap();
    sheet.write_string(3, 2, "Ф-3").unwrap();
    sheet.write_string(3, 3, "МР").unwrap();
    sheet.write_string(3, 4, "12.02.2026").unwrap();
    sheet.set_row_hidden(3).unwrap();
    let xlsx = book.save_to_buffer().unwrap();
    let url = "/import/preview?name=contracts&file=journal.xlsx";
    let r = app.upload(url, &cookie, Some(&csrf), &xlsx).await;
    assert!(r.body.contains("Лист «Sheet1»: скрыта строка 4 — и в скрытом есть данные"), "{}", r.body);
    let r = app.upload(&format!("{url}&hidden=skip"), &cookie, Some(&csrf), &xlsx).await;
    assert!(r.body.contains("добавлять нечего") && r.body.contains("Не прочитано скрытое"), "{}", r.body);
    let r = app.upload(&format!("{url}&hidden=include"), &cookie, Some(&csrf), &xlsx).await;
    assert!(r.body.contains("будет добавлено 1 событие"), "{}", r.body);
    assert_eq!(app.ledger.head().seq, 4);
}

/// Publishing (SPEC §19) is the methodist's and the administrator's: an auditor is not
/// shown the form and is refused it; a methodist's POST (with the form's token)
/// records the publication as them and answers the funder's bundle, which verifies.
#[tokio::test]
async fn publishing_a_report_is_the_methodists_and_binds_it() {
    let app = app();
    add_user(&app.users, "А-01", Role::Auditor, "пароль-аудитора-01").unwrap();
    let lines = [
        r#"{"type":"signal_received","occurred_on":"2021-03-01","recorded_at":"2021-03-02T10:00:00Z","actor":"К-07","data":{"signal":"С-1","family":"Ф-1","channel":"phone"}}"#,
        r#"{"type":"signal_received","occurred_on":"2021-04-10","recorded_at":"2021-04-10T10:00:00Z","actor":"К-07","data":{"signal":"С-2","family":"Ф-2","channel":"phone"}}"#,
    ];
    let input = lines.join("\n") + "\n";
    let opts = caseledger::ledger::AppendOptions { actor: "тест".into(), now: chrono::Utc::now() };
    app.ledger.append_jsonl(input.as_bytes(), &opts, &mut caseledger::ledger::EnvelopeOnly).unwrap();
    let form = |csrf: &str| -> Vec<(String, String)> {
        vec![("csrf".into(), csrf.into()), ("year".into(), "2021".into()), ("known_at".into(), "31.03.2021".into())]
    };
    let pairs = |f: &[(String, String)]| f.iter().map(|(k, v)| (k.clone(), v.clone())).collect::<Vec<_>>();

    // No key yet: the methodist is told how to make one.
    let (analyst, csrf) = app.login("М-01", "пароль-методиста-1").await;
    let page = app.get("/reports", Some(&analyst)).await.body;
    assert!(page.contains("caseledger key init") && !page.contains("action=\"/reports/publish\""), "{page}");
    caseledger::checkpoint::key_init(app.ledger.store().dir(), Some("ledger.web.example/1")).unwrap();

    let (auditor, auditor_csrf) = app.login("А-01", "пароль-аудитора-01").await;
    let page = app.get("/reports", Some(&auditor)).await.body;
    assert!(!page.contains("/reports/publish") && !page.contains("Опубликовать"), "an auditor reads and verifies");
    let f = pairs(&form(&auditor_csrf));
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let r = app.send("POST", "/reports/publish", Some(&auditor), Some(&refs), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(app.ledger.head().seq, 2, "nothing written");

    let page = app.get("/reports", Some(&analyst)).await.body;
    assert!(page.contains("action=\"/reports/publish\"") && page.contains("Опубликовать и скачать пакет"), "{page}");
    let r = app.send("POST", "/reports/publish", Some(&analyst), Some(&[("year", "2021")]), &[]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "no token: refused");
    let f = pairs(&form(&csrf));
    let body = f.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&");
    let req = Request::builder()
        .method("POST")
        .uri("/reports/publish")
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::COOKIE, &analyst)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap();
    let res = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/zip");
    let disposition = res.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_string();
    let russian = enc("пакет-отчёта-2021-01-01-2021-12-31.zip");
    assert!(disposition.contains(&format!("filename*=UTF-8''{russian}")), "{disposition}");
    let zip = axum::body::to_bytes(res.into_body(), usize::MAX).await.unwrap();
    let v = caseledger::bundle::verify(&zip, &caseledger::bundle::Pins::default()).unwrap();
    assert!(v.ok(), "{:?}", v.failures);
    assert_eq!(v.seq, 1, "as known 31.03.2021: the first signal only");
    let published = v.published.expect("published");
    assert_eq!(published.seq, 3);
    let event = app.ledger.record(3).unwrap().unwrap().parse().unwrap();
    assert_eq!((event.kind.as_str(), event.actor.as_str()), ("report_published", "М-01"));
    // The trail says it in words.
    let trail = app.get("/audit", Some(&auditor)).await.body;
    assert!(trail.contains("Отчёт опубликован: 01.01.2021–31.12.2021"), "{trail}");
}

/// `next` after a login is a path of this site, or `/` (issue 28): a browser drops a
/// tab or a line break from a URL, so `/\t/evil.example` would take it to another site;
/// a line break never gives a 5xx.
#[tokio::test]
async fn a_login_never_leaves_this_site() {
    let app = app();
    let page = app.get("/login", None).await;
    let cookie = page.cookie.clone().unwrap();
    let csrf = csrf_of(&page.body);
    for next in ["/\t/evil.example", "//evil.example", "/\\evil.example", "https://evil.example/", "/\n/evil"] {
        let r = app
            .send(
                "POST",
                "/login",
                Some(&cookie),
                Some(&[("username", "Х-99"), ("password", "неверный-пароль"), ("csrf", &csrf), ("next", next)]),
                &[],
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert!(r.body.contains("name=\"next\" value=\"/\""), "{next:?}: the form carries / on");
    }
    let (cookie, _) = app.login("К-07", "пароль-куратора-07").await;
    for (query, to) in [
        ("next=%2F%09%2Fevil.example", "/"),
        ("next=%0a", "/"),
        ("next=%2Fcases%0d%0aSet-Cookie:%20x", "/casesSet-Cookie:%20x"),
        ("next=%2Fcases%2F14%2F2021_%D0%9C%D0%A0", "/cases/14/2021_%D0%9C%D0%A0"),
    ] {
        let r = app.get(&format!("/login?{query}"), Some(&cookie)).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{query}: {}", r.body);
        assert_eq!(r.location, to, "{query}");
        assert!(r.headers.get(header::SET_COOKIE).is_none(), "{query}: no header injected");
    }
}

/// SPEC §20: behind a reverse proxy that speaks https (config.toml `public_url`), the
/// session cookie is `Secure` and a form's `Origin` must be the public address — not
/// the `Host` the proxy passes on.
#[tokio::test]
async fn behind_an_https_proxy_the_cookie_is_secure_and_origin_is_the_public_url() {
    let plain = app();
    let set = |r: &Reply| r.headers.get(header::SET_COOKIE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let page = plain.get("/login", None).await;
    assert!(!set(&page).contains("Secure"), "{}", set(&page));

    let app = app_with_config("public_url = \"https://cases.example.org\"\n");
    let page = app.get("/login", None).await;
    assert!(set(&page).contains("Secure"), "{}", set(&page));
    let cookie = page.cookie.clone().unwrap();
    let csrf = csrf_of(&page.body);
    let form = [("username", "К-07"), ("password", "пароль-куратора-07"), ("csrf", csrf.as_str()), ("next", "/cases")];
    // The proxy's Host is 127.0.0.1:8080; the browser's Origin is the public address.
    let own_host = app.send("POST", "/login", Some(&cookie), Some(&form), &[("origin", "http://127.0.0.1:8080")]).await;
    assert_eq!(own_host.status, StatusCode::FORBIDDEN, "{}", own_host.body);
    let public =
        app.send("POST", "/login", Some(&cookie), Some(&form), &[("origin", "https://cases.example.org")]).await;
    assert_eq!(public.status, StatusCode::SEE_OTHER, "{}", public.body);
    assert_eq!(public.location, "/cases");
    let look_alike = app
        .send("POST", "/login", Some(&cookie), Some(&form), &[("origin", "https://cases.example.org.evil.example")])
        .await;
    assert_eq!(look_alike.status, StatusCode::FORBIDDEN);
}

/// SPEC §20: a mirror config.toml names that has never said how far it holds is told
/// to auditors and admins on every page and on /verify; a curator is not bothered.
#[tokio::test]
async fn a_silent_mirror_is_an_alert_on_every_page_of_an_admin_and_on_verify() {
    let app = app_with_config("mirrors = [\"mirror-office\"]\n");
    add_user(&app.users, "А-01", Role::Admin, "пароль-администратора").unwrap();
    let said = "Зеркало mirror-office ни разу не сообщило, сколько хранит";
    let (admin, _) = app.login("А-01", "пароль-администратора").await;
    for path in ["/cases", "/signals", "/verify"] {
        let page = app.get(path, Some(&admin)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(page.body.contains(said), "{path}: {}", page.body);
    }
    let (curator, _) = app.login("К-07", "пароль-куратора-07").await;
    let page = app.get("/cases", Some(&curator)).await;
    assert!(!page.body.contains(said));
    // Once the mirror reports, the alert is gone.
    caseledger::mirror::heads::record(
        app.ledger.store().dir(),
        "mirror-office",
        caseledger::mirror::heads::Held {
            seq: 0,
            head: "0".repeat(64),
            at: caseledger::ledger::event::format_stamp(&chrono::Utc::now()),
        },
    )
    .unwrap();
    let page = app.get("/verify", Some(&admin)).await;
    assert!(!page.body.contains(said), "{}", page.body);
    assert!(page.body.contains("mirror-office"), "the mirror's row on /verify");
}

/// SPEC §21: a login tied to a curator code opens /cases on that curator's open cases
/// (years together: 2019's before 2020's), and /due lists their cases' due work and
/// the untriaged signals, soonest first, each with its action; «все» shows everyone's.
#[tokio::test]
async fn a_curator_opens_on_their_open_cases_and_sees_what_is_due() {
    let app = app();
    caseledger::access::set_curator(&app.users, "К-07", Some("К-01")).unwrap();
    let today = chrono::Utc::now().date_naive();
    let ago = |days: i64| (today - chrono::Duration::days(days)).format("%Y-%m-%d").to_string();
    let open = |case: &str, curator: &str, on: &str| {
        format!(
            r#"{{"type":"case_opened","occurred_on":"{on}","data":{{"case":"{case}","family":"Ф-{case}","program":"МР","curator":"{curator}","children":[{{"code":"Р-{case}","born":"2019"}}]}}}}"#
        )
    };
    let closed = |case: &str, on: &str| {
        format!(
            r#"{{"type":"case_closed","occurred_on":"{on}","data":{{"case":"{case}","outcome":"stabilized","children":[{{"code":"Р-{case}","in_family":true}}]}}}}"#
        )
    };
    let signal = |code: &str, on: &str| {
        format!(
            r#"{{"type":"signal_received","occurred_on":"{on}","data":{{"signal":"{code}","family":"Ф-{code}","channel":"phone"}}}}"#
        )
    };
    let lines = [
        open("2/2020_МР", "К-01", &ago(40)),  // idle 40 days: due 10 days ago
        open("10/2019_МР", "К-01", &ago(5)),  // fresh: nothing due
        open("1/2020_МР", "К-02", &ago(50)),  // another curator's, idle
        open("3/2019_МР", "К-01", &ago(400)), // closed, monitoring overdue
        closed("3/2019_МР", &ago(200)),
        signal("С-старый", &ago(5)), // untriaged for 5 days
        signal("С-новый", &ago(1)),  // not yet late
    ];
    let input = lines.join("\n") + "\n";
    let opts = caseledger::ledger::AppendOptions { actor: "К-07".into(), now: chrono::Utc::now() };
    app.ledger.append_jsonl(input.as_bytes(), &opts, &mut caseledger::ledger::EnvelopeOnly).unwrap();

    let (cookie, _) = app.login("К-07", "пароль-куратора-07").await;
    let mine = app.get("/cases", Some(&cookie)).await;
    assert!(mine.body.contains("Ваши открытые случаи (куратор К-01)"), "{}", mine.body);
    let shown = |body: &str, case: &str| body.contains(&format!(">{case}</a>"));
    assert!(shown(&mine.body, "2/2020_МР") && shown(&mine.body, "10/2019_МР"));
    assert!(!shown(&mine.body, "1/2020_МР") && !shown(&mine.body, "3/2019_МР"), "not theirs, or closed");
    assert!(mine.body.find(">10/2019_МР<").unwrap() < mine.body.find(">2/2020_МР<").unwrap(), "2019 before 2020");
    let all = app.get("/cases?status=&curator=", Some(&cookie)).await;
    assert!(shown(&all.body, "1/2020_МР") && shown(&all.body, "3/2019_МР"));
    let order: Vec<usize> = ["3/2019_МР", "10/2019_МР", "1/2020_МР", "2/2020_МР"]
        .iter()
        .map(|c| all.body.find(&format!(">{c}<")).unwrap())
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "by year, then number: {order:?}");

    let due = app.get("/due", Some(&cookie)).await;
    assert_eq!(due.status, StatusCode::OK);
    let items: Vec<&str> = due.body.split("<li class=\"due-item").skip(1).collect();
    assert_eq!(items.len(), 3, "{}", due.body);
    assert!(items[0].contains("мониторинг просрочен") && items[0].contains("3/2019_МР"), "{}", items[0]);
    assert!(items[0].contains("/events/new?type=follow_up_done&amp;case=3/2019_%D0%9C%D0%A0"), "{}", items[0]);
    assert!(items[1].contains("нет событий 30 дней") && items[1].contains("2/2020_МР"), "{}", items[1]);
    assert!(items[1].contains("просрочено на 10 дней"), "{}", items[1]);
    assert!(items[2].contains("сигнал не разобран") && items[2].contains("С-старый"), "{}", items[2]);
    let everyone = app.get("/due?all=1", Some(&cookie)).await;
    assert!(everyone.body.contains("1/2020_МР"), "another curator's idle case with ?all=1");
}

/// SPEC §21: an administrator manages people in the browser — add, reset a password,
/// tie to a curator code, unlock, disable and enable — and the organisation's name and
/// time zone; the same files as the command line; others get 403.
#[tokio::test]
async fn an_administrator_manages_people_and_the_organisation_in_the_browser() {
    let app = app();
    add_user(&app.users, "А-01", Role::Admin, "пароль-администратора").unwrap();
    let (curator, curator_csrf) = app.login("К-07", "пароль-куратора-07").await;
    assert_eq!(app.get("/admin/users", Some(&curator)).await.status, StatusCode::FORBIDDEN);
    let sneaky = app
        .send(
            "POST",
            "/admin/users",
            Some(&curator),
            Some(&[("csrf", &curator_csrf), ("action", "disable"), ("name", "А-01")]),
            &[],
        )
        .await;
    assert_eq!(sneaky.status, StatusCode::FORBIDDEN);

    let (admin, csrf) = app.login("А-01", "пароль-администратора").await;
    let page = app.get("/admin/users", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("К-07") && page.body.contains("Добавить пользователя"));
    let post = |pairs: Vec<(&'static str, String)>| {
        let (app, admin, csrf) = (&app, admin.clone(), csrf.clone());
        async move {
            let mut form: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
            form.extend(pairs.iter().map(|(k, v)| (*k, v.as_str())));
            app.send("POST", "/admin/users", Some(&admin), Some(&form), &[]).await
        }
    };
    // Without the session's token: refused.
    let forged =
        app.send("POST", "/admin/users", Some(&admin), Some(&[("action", "disable"), ("name", "К-07")]), &[]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    // Add, with a curator code; a short password is refused in Russian, the name kept.
    let r = post(vec![
        ("action", "add".into()),
        ("name", "К-09".into()),
        ("role", "recorder".into()),
        ("curator", "К-09".into()),
        ("password", "короткий".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("в пароле 8 символов, а нужно не меньше 10"), "{}", r.body);
    assert!(r.body.contains("value=\"К-09\""), "the name stays in the form");
    let r = post(vec![
        ("action", "add".into()),
        ("name", "К-09".into()),
        ("role", "recorder".into()),
        ("curator", "К-09".into()),
        ("password", "пароль-куратора-09".into()),
    ])
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let listed = caseledger::access::list_users(&app.users).unwrap();
    let k9 = listed.iter().find(|u| u.name == "К-09").unwrap();
    assert_eq!((k9.role, k9.curator.as_deref()), (Role::Recorder, Some("К-09")));
    let (k9_cookie, _) = app.login("К-09", "пароль-куратора-09").await;
    // A new password; the old one no longer works.
    assert_eq!(
        post(vec![("action", "passwd".into()), ("name", "К-09".into()), ("password", "новый-пароль-09".into())])
            .await
            .status,
        StatusCode::SEE_OTHER
    );
    app.login("К-09", "новый-пароль-09").await;
    // Disabled: the open session ends and logging in fails; enabled again, it works.
    assert_eq!(post(vec![("action", "disable".into()), ("name", "К-09".into())]).await.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get("/cases", Some(&k9_cookie)).await.status, StatusCode::SEE_OTHER, "sent to the login");
    let page = app.get("/login", None).await;
    let (c, t) = (page.cookie.clone().unwrap(), csrf_of(&page.body));
    let form = [("username", "К-09"), ("password", "новый-пароль-09"), ("csrf", t.as_str()), ("next", "/cases")];
    assert_eq!(app.send("POST", "/login", Some(&c), Some(&form), &[]).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(post(vec![("action", "enable".into()), ("name", "К-09".into())]).await.status, StatusCode::SEE_OTHER);
    app.login("К-09", "новый-пароль-09").await;
    // Its own login cannot be disabled.
    let r = post(vec![("action", "disable".into()), ("name", "А-01".into())]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("собственный вход отключить нельзя"));
    // Five wrong passwords lock К-07; the administrator unlocks.
    for _ in 0..5 {
        let page = app.get("/login", None).await;
        let (c, t) = (page.cookie.clone().unwrap(), csrf_of(&page.body));
        let form = [("username", "К-07"), ("password", "неверный-пароль"), ("csrf", t.as_str()), ("next", "/cases")];
        app.send("POST", "/login", Some(&c), Some(&form), &[]).await;
    }
    assert!(app.get("/admin/users", Some(&admin)).await.body.contains("заблокирован ещё на"));
    assert_eq!(post(vec![("action", "unlock".into()), ("name", "К-07".into())]).await.status, StatusCode::SEE_OTHER);
    app.login("К-07", "пароль-куратора-07").await;

    // The organisation: name and zone, written to config.toml.
    let dir = app.ledger.store().dir().to_path_buf();
    let org = app.get("/admin/organisation", Some(&admin)).await;
    assert_eq!(org.status, StatusCode::OK);
    // Moscow: the zone is the process's, and other tests of this binary read times too.
    let form = [("csrf", csrf.as_str()), ("organisation", "АНО «Мама рядом»"), ("timezone", "Europe/Moscow")];
    let r = app.send("POST", "/admin/organisation", Some(&admin), Some(&form), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    let config = caseledger::config::Config::load(&dir).unwrap();
    assert_eq!(config.organisation.as_deref(), Some("АНО «Мама рядом»"));
    assert_eq!(config.timezone, Some(chrono_tz::Europe::Moscow));
    assert_eq!(app.ledger.organisation().as_deref(), Some("АНО «Мама рядом»"));
    let bad = [("csrf", csrf.as_str()), ("organisation", "АНО\u{202e}"), ("timezone", "Europe/Moscow")];
    let r = app.send("POST", "/admin/organisation", Some(&admin), Some(&bad), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.body.contains("невидимый символ U+202E"), "{}", r.body);
}

/// SPEC §21: a department typed as a look-alike of one the organisation has («кц» for
/// «КЦ») is refused beside the field, naming the one it is; the right spelling goes in.
#[tokio::test]
async fn a_mistyped_department_is_refused_naming_the_one_it_is() {
    let app = app();
    let first = r#"{"type":"case_opened","occurred_on":"2026-03-01","data":{"case":"1/2026_КЦ","family":"Ф-1","program":"КЦ","children":[{"code":"Р-1"}]}}"#;
    let opts = caseledger::ledger::AppendOptions { actor: "К-07".into(), now: chrono::Utc::now() };
    app.ledger.append_jsonl(format!("{first}\n").as_bytes(), &opts, &mut caseledger::ledger::EnvelopeOnly).unwrap();
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    let form = |program: &'static str, case: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("type", "case_opened".to_string()),
            ("occurred_on", "02.03.2026".to_string()),
            ("case", case.to_string()),
            ("family", "Ф-2".to_string()),
            ("program", program.to_string()),
            ("children.0.code", "Р-2".to_string()),
        ]
    };
    for typed in ["кц", "KЦ"] {
        let pairs = form(typed, "2/2026_КЦ");
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let r = app.send("POST", "/events", Some(&cookie), Some(&pairs), &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{typed}");
        assert!(r.body.contains("id=\"f-program-error\""), "{}", r.body);
        assert!(r.body.contains(&format!("отдел «{typed}» — это «КЦ»?")), "{}", r.body);
    }
    assert_eq!(app.ledger.head().seq, 1, "nothing written");
    let pairs = form("КЦ", "2/2026_КЦ");
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.send("POST", "/events", Some(&cookie), Some(&pairs), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.body);
    // The form offers the departments the organisation has.
    let blank = app.get("/events/new?type=case_opened", Some(&cookie)).await;
    assert!(
        blank.body.contains("list=\"departments\"") && blank.body.contains("<option value=\"КЦ\">"),
        "{}",
        blank.body
    );
    // A department the organisation has not had before is asked to be confirmed
    // (SPEC §21 `confirm=1`); confirmed, the opening records it.
    let pairs = form("МР", "3/2026_МР");
    let mut pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = app.send("POST", "/events", Some(&cookie), Some(&pairs), &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.body);
    assert!(r.body.contains("отдела «МР» в реестре ещё нет (есть: КЦ)"), "{}", r.body);
    assert!(r.body.contains("name=\"confirm\" value=\"1\""), "{}", r.body);
    assert_eq!(app.ledger.head().seq, 2, "nothing written");
    pairs.push(("confirm", "1"));
    assert_eq!(app.send("POST", "/events", Some(&cookie), Some(&pairs), &[]).await.status, StatusCode::SEE_OTHER);
    let opened = app.ledger.head();
    let mut stored = Vec::new();
    app.ledger.export(&mut stored).unwrap();
    let last: serde_json::Value =
        serde_json::from_slice(stored.split(|b| *b == b'\n').rfind(|l| !l.is_empty()).unwrap()).unwrap();
    assert_eq!(opened.seq, 3);
    assert_eq!(last["data"]["confirmed"], serde_json::json!(["new_program"]), "{last}");
}

/// The texts of every alert on a page (the form's general problems and each field's),
/// without markup.
fn alerts(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("role=\"alert\"") {
        let after = &rest[i..];
        let start = after.find('>').map_or(after.len(), |j| j + 1);
        let end = ["</p>", "</div>"].iter().filter_map(|t| after[start..].find(t)).min().unwrap_or(0);
        let mut text = String::new();
        let mut in_tag = false;
        for c in after[start..start + end].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        out.push(text.replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&"));
        rest = &after[start..];
    }
    out
}

#[tokio::test]
async fn the_slips_a_curator_makes_are_refused_in_russian_beside_their_field() {
    let app = app();
    // A signal, a case opened from it on 02.03.2026, the family in the crisis centre
    // since 03.03.2026 until 30.03.2026, and another case closed on 05.03.2026.
    let history = [
        r#"{"type":"signal_received","occurred_on":"2026-03-01","data":{"signal":"С-1","channel":"phone"}}"#,
        r#"{"type":"case_opened","occurred_on":"2026-03-02","data":{"case":"1/2026_КЦ","family":"Ф-1","program":"КЦ","signal":"С-1","children":[{"code":"Р-1"}]}}"#,
        r#"{"type":"shelter_admitted","occurred_on":"2026-03-03","data":{"case":"1/2026_КЦ","until":"2026-03-30"}}"#,
        r#"{"type":"case_opened","occurred_on":"2026-03-01","data":{"case":"2/2026_КЦ","family":"Ф-2","program":"КЦ","children":[{"code":"Р-2"}]}}"#,
        r#"{"type":"case_closed","occurred_on":"2026-03-05","data":{"case":"2/2026_КЦ","outcome":"stabilized"}}"#,
        r#"{"type":"signal_received","occurred_on":"2026-03-10","data":{"signal":"С-2","channel":"phone"}}"#,
    ];
    let opts = caseledger::ledger::AppendOptions { actor: "К-07".into(), now: chrono::Utc::now() };
    let input = history.join("\n") + "\n";
    app.ledger.append_jsonl(input.as_bytes(), &opts, &mut caseledger::record::StateRules::new()).unwrap();
    let head = app.ledger.head().seq;
    let (cookie, csrf) = app.login("К-07", "пароль-куратора-07").await;
    let case = "1/2026_КЦ";
    let domains = |n: &'static str| -> Vec<(String, &'static str)> {
        caseledger::domain::words::EFO_DOMAINS.iter().map(|(d, _)| (format!("domains.{d}"), n)).collect()
    };
    // (what the curator did, the form, the field the reason must stand beside)
    type Slip<'a> = (&'a str, Vec<(String, &'a str)>, &'a str);
    let slips: Vec<Slip> = vec![
        (
            "a birth that is no day",
            vec![
                ("type".into(), "child_added"),
                ("case".into(), case),
                ("child.code".into(), "Р-9"),
                ("child.born".into(), "31.13.2022"),
            ],
            "child.born",
        ),
        (
            "ЕФО total against its domains",
            [
                vec![
                    ("type".into(), "efo_scored"),
                    ("case".into(), case),
                    ("stage".into(), "entry"),
                    ("weak_total".into(), "99"),
                ],
                domains("2"),
            ]
            .concat(),
            "weak_total",
        ),
        (
            "aid to nobody",
            vec![("type".into(), "aid_issued"), ("kind".into(), "food"), ("quantity".into(), "1")],
            "case",
        ),
        (
            "kopecks with three digits",
            vec![
                ("type".into(), "aid_issued"),
                ("case".into(), case),
                ("kind".into(), "food"),
                ("quantity".into(), "1"),
                ("value".into(), "12.345"),
            ],
            "value",
        ),
        (
            "a plan for a case never opened",
            vec![
                ("type".into(), "plan_set"),
                ("case".into(), "9/2026_КЦ"),
                ("goals".into(), "2"),
                ("achieved".into(), "0"),
            ],
            "case",
        ),
        (
            "leaving a shelter never entered",
            vec![("type".into(), "shelter_left"), ("occurred_on".into(), "04.03.2026"), ("case".into(), "2/2026_КЦ")],
            "",
        ),
        (
            "a plan dated before the opening",
            vec![
                ("type".into(), "plan_set"),
                ("occurred_on".into(), "01.03.2026"),
                ("case".into(), case),
                ("goals".into(), "2"),
                ("achieved".into(), "0"),
            ],
            "occurred_on",
        ),
        (
            "a stay that ends before it starts",
            vec![("type".into(), "shelter_extended"), ("case".into(), case), ("until".into(), "01.03.2026")],
            "until",
        ),
        (
            "a case opened before its signal",
            vec![
                ("type".into(), "case_opened"),
                ("occurred_on".into(), "09.03.2026"),
                ("case".into(), "3/2026_КЦ"),
                ("family".into(), "Ф-3"),
                ("program".into(), "КЦ"),
                ("signal".into(), "С-2"),
                ("children.0.code".into(), "Р-3"),
            ],
            "occurred_on",
        ),
        (
            "closing while in the crisis centre",
            vec![("type".into(), "case_closed"), ("case".into(), case), ("outcome".into(), "stabilized")],
            "occurred_on",
        ),
        (
            "more goals achieved than set",
            vec![("type".into(), "plan_set"), ("case".into(), case), ("goals".into(), "2"), ("achieved".into(), "3")],
            "achieved",
        ),
        (
            "monitoring an open case",
            vec![("type".into(), "follow_up_done"), ("case".into(), case), ("stable".into(), "true")],
            "case",
        ),
        (
            "a day in the future",
            vec![
                ("type".into(), "plan_set"),
                ("occurred_on".into(), "01.01.2999"),
                ("case".into(), case),
                ("goals".into(), "2"),
                ("achieved".into(), "0"),
            ],
            "occurred_on",
        ),
        (
            "a look-alike case code",
            vec![
                ("type".into(), "plan_set"),
                ("case".into(), "1/2026_KЦ"),
                ("goals".into(), "2"),
                ("achieved".into(), "0"),
            ],
            "case",
        ),
        (
            "a child twice",
            vec![
                ("type".into(), "case_opened"),
                ("case".into(), "4/2026_КЦ"),
                ("family".into(), "Ф-4"),
                ("program".into(), "КЦ"),
                ("children.0.code".into(), "Р-4"),
                ("children.1.code".into(), "Р-4"),
            ],
            "",
        ),
    ];
    let today = chrono::Utc::now().date_naive().format("%d.%m.%Y").to_string();
    for (what, form, field) in slips {
        let mut pairs: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        if !form.iter().any(|(k, _)| k == "occurred_on") {
            pairs.push(("occurred_on", today.as_str()));
        }
        pairs.extend(form.iter().map(|(k, v)| (k.as_str(), *v)));
        let r = app.send("POST", "/events", Some(&cookie), Some(&pairs), &[]).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{what}: {}", r.body);
        let said = alerts(&r.body);
        assert!(said.len() >= 2, "{what}: the alert and the field's reason: {said:?}");
        let beside = format!("id=\"f-{}-error\"", field.replace('.', "-"));
        let beside_any = r.body.contains(&beside) || r.body.contains(&format!("id=\"f-{field}-error\""));
        assert!(field.is_empty() || beside_any, "{what}: no reason beside {field}: {said:?}");
        for text in &said {
            assert_eq!(caseledger::say::slip(text), None, "{what}: «{text}» is not Russian");
        }
    }
    assert_eq!(app.ledger.head().seq, head, "nothing written");
}
