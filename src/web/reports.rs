//! `/reports` and `/tables` (SPEC §16), for methodists, auditors and administrators:
//! the JSON report, the HTML report and the funder's bundle of a period and a cut as
//! downloads, a report or bundle checked by uploading it; the seeds' hand-kept tables
//! as XLSX or CSV. The same library calls as `report create|html|bundle`,
//! `report verify`, `bundle verify` and `table`.

use axum::extract::{Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;

use super::page::{self, Nav};
use super::state::Web;
use super::viewer::Viewer;
use crate::domain::words;
use crate::query::{CutArgs, PeriodArgs};

/// The largest upload checked on `/reports` (a bundle of a million events is ~100 MB).
pub const MAX_UPLOAD_BYTES: usize = 256 << 20;

#[derive(Deserialize, Default, Clone)]
pub struct MakeQuery {
    year: Option<String>,
    quarter: Option<String>,
    from: Option<String>,
    to: Option<String>,
    known_at: Option<String>,
    /// json | html | bundle (reports); xlsx | csv (tables).
    format: Option<String>,
    /// The table's name (tables).
    name: Option<String>,
    program: Option<String>,
}

fn given(s: &Option<String>) -> Option<String> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| super::forms::day(s).unwrap_or_else(|| s.to_string()))
}

impl MakeQuery {
    fn resolve(&self) -> crate::Result<(crate::indicators::Period, crate::project::Cut)> {
        let year = given(&self.year).and_then(|y| y.parse().ok());
        let period = PeriodArgs { from: given(&self.from), to: given(&self.to), year, quarter: given(&self.quarter) };
        Ok((period.resolve()?, CutArgs { known_at: given(&self.known_at), at_seq: None }.resolve()?))
    }
}

pub(super) fn download(bytes: Vec<u8>, mime: &'static str, file: &str) -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static(mime)), (CONTENT_DISPOSITION, disposition(file))], bytes).into_response()
}

/// `attachment` with the file's name as RFC 6266 says: `filename*` in UTF-8
/// (percent-encoded, so a Russian name arrives whole) and an ASCII `filename` for the
/// oldest browsers (other letters as `_`).
fn disposition(file: &str) -> HeaderValue {
    let ascii: String =
        file.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '_' }).collect();
    const ATTR_CHAR: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(file, ATTR_CHAR);
    HeaderValue::from_str(&format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"))
        .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The period and cut fields, shared by every form; `id` prefixes the fields' ids, so
/// that two forms on one page keep them unique.
fn period_fields(q: &MakeQuery, id: &str) -> Markup {
    let v = |s: &Option<String>| s.clone().unwrap_or_default();
    let i = |name: &str| format!("{id}{name}");
    html! {
        div.field { label for=(i("year")) { "Год" } input id=(i("year")) name="year" type="number" min="1" max="9999" value=(v(&q.year)); }
        div.field { label for=(i("quarter")) { "или квартал" } input id=(i("quarter")) name="quarter" type="text" placeholder="2020Q3" value=(v(&q.quarter)) size="8"; }
        div.field { label for=(i("from")) { "или с" } input id=(i("from")) name="from" type="text" placeholder="ДД.ММ.ГГГГ" value=(v(&q.from)) size="10"; }
        div.field { label for=(i("to")) { "по" } input id=(i("to")) name="to" type="text" placeholder="ДД.ММ.ГГГГ" value=(v(&q.to)) size="10"; }
        div.field { label for=(i("known_at")) { "Как было известно на" } input id=(i("known_at")) name="known_at" type="text" placeholder="ДД.ММ.ГГГГ (пусто — сейчас)" value=(v(&q.known_at)) size="14"; }
    }
}

/// `/reports`: the forms; `/reports?format=…&year=…`: the download.
pub async fn reports(State(web): State<Web>, viewer: Viewer, Query(q): Query<MakeQuery>) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "отчёты делают методисты, аудиторы и администраторы");
    }
    if let Some(format) = given(&q.format) {
        let (period, cut) = match q.resolve() {
            Ok(pc) => pc,
            Err(e) => return page::bad_request(&viewer, &e.to_string()),
        };
        let name = format!("отчёт-{}-{}", crate::codec::format_date(period.from), crate::codec::format_date(period.to));
        let defs = crate::indicators::default_definitions();
        let now = chrono::Utc::now();
        let made = web
            .read(true, move |w| match format.as_str() {
                "json" => {
                    let r = crate::report::create(&w.ledger, period, cut, &defs, now)?;
                    Ok((serde_json::to_vec_pretty(&r).map_err(std::io::Error::from)?, "application/json", "json"))
                }
                "html" => Ok((
                    crate::report::html::render(&w.ledger, period, cut, &defs, now)?.into_bytes(),
                    "text/html; charset=utf-8",
                    "html",
                )),
                other => Err(crate::Error::Usage(format!("format: «{other}» — ни json, ни html"))),
            })
            .await;
        return match made {
            Ok((bytes, mime, ext)) => download(bytes, mime, &format!("{name}.{ext}")),
            Err(r) => r,
        };
    }
    let has_key = crate::checkpoint::LogKey::load(web.ledger.store().dir()).ok().flatten().is_some();
    let body = html! {
        h1 { "Отчёты" }
        h2 { "Сделать отчёт" }
        form.filters method="get" action="/reports" {
            (period_fields(&q, ""))
            div.field {
                label for="format" { "Что скачать" }
                select #format name="format" {
                    option value="html" { "отчёт для чтения и печати (HTML)" }
                    option value="json" { "отчёт с хешем (JSON)" }
                }
            }
            button.primary type="submit" { "Скачать" }
        }
        @if viewer.may_publish() {
            h2 { "Опубликовать отчёт для фонда" }
            @if has_key {
                p {
                    "Публикация записывает в журнал событие «Отчёт опубликован» с хешем отчёта, его определений, "
                    "периода и среза, подписывает журнал и отправляет подпись свидетелям. Затем скачивается пакет "
                    "для фонда (ZIP): отчёт, события, расшифровка показателей, подписи и проверяющий скрипт. "
                    "Опубликованное нельзя изменить — только опубликовать новый отчёт."
                }
                form.filters method="post" action="/reports/publish" {
                    input type="hidden" name="csrf" value=(viewer.csrf);
                    (period_fields(&q, "publish-"))
                    button.primary type="submit" { "Опубликовать и скачать пакет" }
                }
            } @else {
                p { "Пакет для фонда появится, когда у реестра будет ключ подписи (" code { "caseledger key init" } ")." }
            }
        }
        h2 { "Проверить отчёт или пакет" }
        p { "Выберите файл отчёта (JSON) или пакета (ZIP): он будет сверен с реестром (отчёт) или проверен сам по себе, без реестра (пакет)." }
        form #verify-upload method="post" action="/reports/verify" data-upload data-result="verify-result" data-csrf=(viewer.csrf) {
            div.field { label for="upload" { "Файл" } input #upload name="upload" type="file" accept=".json,.zip,application/json,application/zip"; }
            button.secondary type="submit" { "Проверить" }
        }
        div #verify-result aria-live="polite" {}
    };
    page::ok(page::layout("Отчёты", Some(&viewer), Nav::Reports, body))
}

/// `POST /reports/publish` (analyst, admin): publishes the report of a period and a
/// cut as the viewer (SPEC §19) and answers the funder's bundle.
pub async fn publish(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    axum::Form(pairs): axum::Form<Vec<(String, String)>>,
) -> Response {
    let value = |k: &str| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    if let Err(r) = super::session::check_post(&web, &headers, &viewer.csrf, value("csrf").as_deref()) {
        return r;
    }
    if !viewer.may_publish() {
        return page::forbidden(&viewer, "публикуют отчёты методисты (роль analyst) и администраторы");
    }
    let q = MakeQuery {
        year: value("year"),
        quarter: value("quarter"),
        from: value("from"),
        to: value("to"),
        known_at: value("known_at"),
        ..MakeQuery::default()
    };
    let (period, cut) = match q.resolve() {
        Ok(pc) => pc,
        Err(e) => return page::bad_request(&viewer, &e.to_string()),
    };
    let name =
        format!("пакет-отчёта-{}-{}.zip", crate::codec::format_date(period.from), crate::codec::format_date(period.to));
    let actor = viewer.user.name.clone();
    let defs = crate::indicators::default_definitions();
    let made = web
        .read(true, move |w| {
            let made = crate::bundle::create(&w.ledger, period, cut, &defs, &w.appender.publisher(actor))?;
            Ok(made.zip)
        })
        .await;
    match made {
        Ok(zip) => download(zip, "application/zip", &name),
        Err(r) => r,
    }
}

/// `POST /reports/verify`: the uploaded file's bytes (sent by app.js with the form's
/// CSRF token in `X-CSRF-Token`); answers the verdict as an HTML fragment.
pub async fn verify(State(web): State<Web>, viewer: Viewer, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "отчёты проверяют методисты, аудиторы и администраторы");
    }
    let token = headers.get("x-csrf-token").and_then(|v| v.to_str().ok());
    if let Err(r) = super::session::check_post(&web, &headers, &viewer.csrf, token) {
        return r;
    }
    // The upload is not copied; a report (not a zip) is small.
    let bytes = body;
    if !bytes.starts_with(b"PK") && bytes.len() > crate::limits::MAX_SMALL_BODY_BYTES {
        return page::ok(html! {
            div.verdict.error role="alert" {
                p { "Файл больше 1 МиБ и не пакет (ZIP): отчёт (JSON) таким не бывает." }
            }
        });
    }
    let verdict = web
        .read(true, move |w| {
            if bytes.starts_with(b"PK") {
                let v = crate::bundle::verify(&bytes, &crate::bundle::Pins::default())?;
                let mut lines = Vec::new();
                if v.ok() {
                    if let Some(p) = &v.published {
                        lines.push(format!("{}.", p.words(words::zone())));
                    }
                    lines.push(v.summary());
                    lines.push(v.key_note.clone());
                }
                Ok((v.ok(), v.failures.clone(), lines))
            } else {
                let value = match crate::ledger::json::read_file(&bytes) {
                    Ok(v) => v,
                    Err(e) => return Ok((false, vec![format!("файл не читается как отчёт (JSON): {e}")], Vec::new())),
                };
                let v = crate::report::verify(&w.ledger, &value)?;
                let mut lines = Vec::new();
                if v.ok() {
                    lines.push(format!(
                        "Отчёт верен: хеш совпадает, история реестра до события № {} та же, показатели пересчитаны и совпадают.",
                        v.seq.unwrap_or_default()
                    ));
                    lines.push(match &v.published {
                        Some(p) => format!("{}.", p.words(words::zone())),
                        None => "Отчёт не опубликован: в реестре нет события его публикации.".into(),
                    });
                    if v.changed.is_empty() {
                        lines.push("Как известно сейчас: все показатели те же.".into());
                    }
                    for c in &v.changed {
                        let events: Vec<String> =
                            c.events.iter().map(|e| format!("№ {} ({})", e.seq, words::event_type(&e.kind))).collect();
                        lines.push(format!(
                            "{}: в отчёте {}, сейчас {} — из-за событий {}",
                            c.now.title,
                            crate::report::figure_words(&c.then),
                            crate::report::figure_words(&c.now),
                            events.join(", ")
                        ));
                    }
                }
                Ok((v.ok(), v.failures.clone(), lines))
            }
        })
        .await;
    let (ok, failures, lines) = match verdict {
        Ok(x) => x,
        Err(r) => return r,
    };
    page::ok(html! {
        @if ok {
            div.verdict.ok role="status" { @for l in &lines { p { (l) } } }
        } @else {
            div.verdict.error role="alert" {
                p { strong { "Не проходит проверку:" } }
                ul { @for f in &failures { li { (f) } } }
            }
        }
    })
}

/// `/tables`: the form; `/tables?name=…&format=…`: the download.
pub async fn tables(State(web): State<Web>, viewer: Viewer, Query(q): Query<MakeQuery>) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "таблицы видят методисты, аудиторы и администраторы");
    }
    if let Some(name) = given(&q.name) {
        let (period, cut) = match q.resolve() {
            Ok(pc) => pc,
            Err(e) => return page::bad_request(&viewer, &e.to_string()),
        };
        let csv = given(&q.format).as_deref() == Some("csv");
        let program = given(&q.program);
        let file =
            format!("{name}-{}-{}", crate::codec::format_date(period.from), crate::codec::format_date(period.to));
        let made = web
            .read(true, move |w| {
                let table = crate::report::tables::of_ledger(&w.ledger, &name, period, cut, program.as_deref())?;
                let mut bytes = Vec::new();
                if csv {
                    crate::report::tables::write_csv(&table, &mut bytes)?;
                } else {
                    let tmp = tempfile::Builder::new()
                        .suffix(".xlsx")
                        .tempfile()
                        .map_err(|e| crate::Error::storage("a temporary file for the table", e))?;
                    crate::report::tables::write_xlsx(&table, tmp.path())?;
                    bytes =
                        std::fs::read(tmp.path()).map_err(|e| crate::Error::storage("reading the table back", e))?;
                }
                Ok(bytes)
            })
            .await;
        return match made {
            Ok(bytes) if csv => download(bytes, "text/csv; charset=utf-8", &format!("{file}.csv")),
            Ok(bytes) => download(
                bytes,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                &format!("{file}.xlsx"),
            ),
            Err(r) => r,
        };
    }
    let titles = [
        ("contracts", "Журнал регистрации договоров"),
        ("efo-dynamics", "Динамика ЕФО по закрытым случаям"),
        ("shelter", "Проживание в кризисном центре"),
        ("monitoring", "Мониторинговая таблица по месяцам"),
    ];
    let body = html! {
        h1 { "Таблицы" }
        p.lead { "Таблицы, которые организация ведёт вручную, — из событий реестра, для Excel." }
        form.filters method="get" action="/tables" {
            div.field {
                label for="name" { "Таблица" }
                select #name name="name" { @for (n, t) in titles { option value=(n) { (t) } } }
            }
            (period_fields(&q, ""))
            div.field { label for="program" { "Отдел" } input #program name="program" type="text" placeholder="все" size="6"; }
            div.field {
                label for="format" { "Формат" }
                select #format name="format" { option value="xlsx" { "Excel (XLSX)" } option value="csv" { "CSV для русского Excel" } }
            }
            button.primary type="submit" { "Скачать" }
        }
    };
    page::ok(page::layout("Таблицы", Some(&viewer), Nav::Tables, body))
}
