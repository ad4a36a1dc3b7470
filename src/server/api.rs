//! The routes of SPEC §12: parse the request, check the role, call the library.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{json, Value};

use super::state::{AppState, Caller};
use crate::access::{Role, User};
use crate::codec::hex;
use crate::error::{Error, Refusal};
use crate::indicators::{self, Definition};
use crate::ledger::lines::LineReader;
use crate::ledger::{parse_jsonl_line, InputLine, Ledger};
use crate::limits::{MAX_EVENTS_PAGE, MAX_HTTP_BATCH_EVENTS, MAX_LINE_BYTES};
use crate::query::When;
use crate::query::{CutArgs, PeriodArgs};

/// An error answer: `{"error", "line"?, "field"?}` (SPEC §12).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    body: ErrorBody,
}

/// An error's JSON body (SPEC §12): the reason, and for a refused line its number and
/// field; when several lines were refused, every one of them and how many.
#[derive(serde::Serialize, Default, Debug)]
struct ErrorBody {
    error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<ErrorBody>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    line: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refused: Option<usize>,
}

impl ApiError {
    pub fn new(status: StatusCode, error: impl Into<String>) -> ApiError {
        ApiError { status, body: ErrorBody { error: error.into(), ..ErrorBody::default() } }
    }

    fn bad_request(error: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, error)
    }
}

fn refusal_json(r: &Refusal) -> ErrorBody {
    ErrorBody { error: r.to_string(), line: r.line, field: r.field.clone(), ..ErrorBody::default() }
}

impl From<Error> for ApiError {
    fn from(e: Error) -> ApiError {
        match e {
            Error::Refused(list, total) => {
                let mut body = list
                    .first()
                    .map(refusal_json)
                    .unwrap_or_else(|| ErrorBody { error: "refused".into(), ..ErrorBody::default() });
                if total > 1 {
                    // Every refused line, as the command line lists them.
                    body.errors = Some(list.iter().map(refusal_json).collect());
                    body.refused = Some(total);
                }
                ApiError { status: StatusCode::UNPROCESSABLE_ENTITY, body }
            }
            Error::Usage(m) => ApiError::bad_request(m),
            Error::Mismatch(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            e @ (Error::Integrity { .. } | Error::Lost(_)) => {
                tracing::error!(error = %e, "integrity failure while answering");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
            e @ (Error::InUse(_) | Error::Storage(_) | Error::NoSpace(_) | Error::Damaged { .. }) => {
                tracing::error!(error = %e, "storage failure while answering");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body)).into_response()
    }
}

type Answer = Result<Response, ApiError>;

/// The authenticated caller; 401 without a known token.
pub struct Authed(User);

impl<S: Send + Sync> FromRequestParts<S> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.extensions.get::<Caller>() {
            Some(Caller::User(u)) => Ok(Authed(u.clone())),
            Some(Caller::Unknown) => Err(ApiError::new(StatusCode::UNAUTHORIZED, "unknown or malformed bearer token")),
            _ => Err(ApiError::new(StatusCode::UNAUTHORIZED, "missing Authorization: Bearer TOKEN")),
        }
    }
}

impl Authed {
    /// 403 unless the caller's role is one of `roles`.
    fn may(&self, roles: &[Role], what: &str) -> Result<&User, ApiError> {
        if roles.contains(&self.0.role) {
            Ok(&self.0)
        } else {
            let allowed: Vec<&str> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("role {} may not {what} (allowed: {})", self.0.role.as_str(), allowed.join(", ")),
            ))
        }
    }
}

const EVERYONE: &[Role] = &Role::ALL;
const APPENDERS: &[Role] = &[Role::Recorder, Role::Admin];
const FIGURE_READERS: &[Role] = &[Role::Analyst, Role::Auditor, Role::Admin];
const REPORT_MAKERS: &[Role] = &[Role::Analyst, Role::Admin];
const AUDITORS: &[Role] = &[Role::Auditor, Role::Admin];

fn json_response(v: &Value) -> Response {
    axum::Json(v).into_response()
}

fn jsonl_response(body: impl Into<Body>) -> Response {
    ([(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"))], body.into()).into_response()
}

/// Runs a read on a blocking thread; `heavy` reads wait for one of a few slots.
async fn read<T: Send + 'static>(
    state: &AppState,
    heavy: bool,
    f: impl FnOnce(&Ledger) -> crate::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    let slot = if heavy { Some(state.heavy.clone().acquire_owned().await.expect("never closed")) } else { None };
    let ledger = state.ledger.clone();
    // The slot is released when the work ends, not when a timed-out request is dropped.
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        f(&ledger)
    })
    .await
    .map_err(|_| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "the read failed"))?
    .map_err(ApiError::from)
}

fn query<T>(q: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    q.map(|Query(t)| t).map_err(|e| ApiError::bad_request(format!("query: {}", e.body_text())))
}

fn path<T>(p: Result<Path<T>, PathRejection>) -> Result<T, ApiError> {
    p.map(|Path(t)| t).map_err(|e| ApiError::bad_request(format!("path: {}", e.body_text())))
}

fn body(b: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    b.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "the body is larger than this route takes ({} bytes for events, {} for a question or a report)",
                    crate::limits::MAX_REQUEST_BYTES,
                    crate::limits::MAX_SMALL_BODY_BYTES
                ),
            )
        } else {
            ApiError::bad_request(format!("body: {}", e.body_text()))
        }
    })
}

/// The media type of the body, without parameters, lower-case.
fn media_type(headers: &HeaderMap) -> String {
    let v = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    v.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    match media_type(headers).as_str() {
        "application/json" => Ok(()),
        other => Err(unsupported(other, "application/json")),
    }
}

fn unsupported(got: &str, want: &str) -> ApiError {
    let got = if got.is_empty() { "none".to_string() } else { got.to_string() };
    ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Content-Type {got}: expected {want}"))
}

/// An `application/json` body read into `T` (a closed set of members): 415, 413 or
/// 400 naming what is wrong.
fn json_body<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    require_json(headers)?;
    let v = parse_json(&body(b)?)?;
    serde_json::from_value(v).map_err(|e| ApiError::bad_request(format!("body: {e}")))
}

/// A JSON body read strictly (`ledger::json`): malformed JSON is 400; valid JSON that
/// breaks a rule every entry point keeps (a member named twice, an integer outside
/// ±(2^53 − 1)) is refused, 422 naming the member.
fn parse_json(bytes: &[u8]) -> Result<Value, ApiError> {
    crate::ledger::json::parse(bytes).map_err(|e| {
        if e.syntax {
            ApiError::bad_request(format!("malformed JSON: {}", e.reason))
        } else {
            ApiError::from(Error::refused(Refusal::field(&e.path, e.reason)))
        }
    })
}

/// Whether a body is JSON at all (a refused event that is valid JSON is 422, not 400).
fn check_syntax(bytes: &[u8]) -> Result<(), ApiError> {
    serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
        .map(|_| ())
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

// ---------------------------------------------------------------- routes

pub async fn health(State(state): State<AppState>) -> Response {
    let head = state.ledger.head();
    json_response(&json!({"ok": true, "seq": head.seq, "head": hex(&head.hash)}))
}

/// An address nothing answers: JSON for the API (`/v1/…`), a page for a person.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/v1/") || uri.path() == "/v1" {
        return ApiError::new(StatusCode::NOT_FOUND, "no such route (see schemas/openapi.json)").into_response();
    }
    crate::web::page::missing()
}

pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "this route does not take that method (see schemas/openapi.json)")
}

pub async fn append(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    let user = who.may(APPENDERS, "append events")?.clone();
    let lines = match media_type(&headers).as_str() {
        "application/json" => json_events(&body(b)?)?,
        "application/x-ndjson" => ndjson_events(&body(b)?)?,
        other => return Err(unsupported(other, "application/json or application/x-ndjson")),
    };
    if lines.len() > MAX_HTTP_BATCH_EVENTS {
        return Err(too_many());
    }
    let lines = lines.into_iter().map(|(n, ev)| (n, ev.and_then(server_stamped))).collect();
    match state.appender.append(lines, user.name).await {
        Some(Ok(acks)) => {
            let acks: Vec<Value> = acks.iter().map(|a| a.to_json()).collect();
            Ok(json_response(&json!({"acks": acks})))
        }
        Some(Err(e)) => Err(e.into()),
        None => Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "the writer has stopped; see the service's log")),
    }
}

/// `actor` is the token's user and `recorded_at` the server's clock: an event that
/// sets either is refused.
fn server_stamped(ev: crate::ledger::event::InputEvent) -> Result<crate::ledger::event::InputEvent, Refusal> {
    if ev.actor.is_some() {
        return Err(Refusal::field("actor", "is the authenticated user; the service sets it, leave it out"));
    }
    if ev.recorded_at.is_some() {
        return Err(Refusal::field("recorded_at", "is the service's clock; leave it out"));
    }
    Ok(ev)
}

fn too_many() -> ApiError {
    ApiError::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        format!("a request may carry at most {MAX_HTTP_BATCH_EVENTS} events; split it"),
    )
}

fn too_long(len: usize) -> Refusal {
    Refusal::new(None, format!("the event is {len} bytes; an event may be at most {MAX_LINE_BYTES} bytes"))
}

/// `application/json`: one event object, or an array of them (line = position).
fn json_events(bytes: &[u8]) -> Result<Vec<InputLine>, ApiError> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace()).copied();
    match first {
        Some(b'{') => {
            if bytes.len() > MAX_LINE_BYTES {
                check_syntax(bytes)?;
                return Ok(vec![(1, Err(too_long(bytes.len())))]);
            }
            // Parsed once; only a refused body is read again, to tell malformed JSON (400)
            // from an event that is refused (422).
            let ev = crate::ledger::event::InputEvent::parse(bytes);
            if ev.is_err() {
                check_syntax(bytes)?;
            }
            Ok(vec![(1, ev)])
        }
        Some(b'[') => {
            let items: Vec<Box<serde_json::value::RawValue>> =
                serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
            if items.len() > MAX_HTTP_BATCH_EVENTS {
                return Err(too_many());
            }
            Ok(items
                .iter()
                .enumerate()
                .map(|(i, raw)| {
                    let text = raw.get().as_bytes();
                    let ev = if text.len() > MAX_LINE_BYTES {
                        Err(too_long(text.len()))
                    } else {
                        crate::ledger::event::InputEvent::parse(text)
                    };
                    (i + 1, ev)
                })
                .collect())
        }
        _ => {
            check_syntax(bytes)?;
            Err(ApiError::bad_request("the body must be an event object or a JSON array of events"))
        }
    }
}

/// `application/x-ndjson`: one event per line; a line that is not JSON is a 400.
fn ndjson_events(bytes: &[u8]) -> Result<Vec<InputLine>, ApiError> {
    let mut reader = LineReader::new(bytes, MAX_LINE_BYTES);
    let mut out = Vec::new();
    while let Some((number, line)) = reader.next_line().map_err(|e| ApiError::from(Error::from(e)))? {
        let Some(ev) = parse_jsonl_line(&line) else { continue };
        // Only a refused line is read again, to tell malformed JSON (400) from an event
        // that is refused (422).
        if let (Err(_), crate::ledger::lines::Line::Text(text)) = (&ev, &line) {
            if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(text) {
                let mut err = ApiError::bad_request(format!("line {number}: malformed JSON: {e}"));
                err.body.line = Some(number);
                return Err(err);
            }
        }
        out.push((number, ev));
        if out.len() > MAX_HTTP_BATCH_EVENTS {
            break;
        }
    }
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    from_seq: Option<u64>,
    limit: Option<usize>,
    case: Option<String>,
}

pub async fn events(
    State(state): State<AppState>,
    who: Authed,
    q: Result<Query<EventsQuery>, QueryRejection>,
) -> Answer {
    who.may(EVERYONE, "read events")?;
    let q = query(q)?;
    let from = q.from_seq.unwrap_or(1).max(1);
    let limit = q.limit.unwrap_or(MAX_EVENTS_PAGE);
    if limit == 0 || limit > MAX_EVENTS_PAGE {
        return Err(ApiError::bad_request(format!("limit: between 1 and {MAX_EVENTS_PAGE}")));
    }
    let (text, next) = read(&state, true, move |ledger| {
        let mut page = Page { out: Vec::new(), left: limit, next: None };
        match &q.case {
            Some(case) => {
                for seq in ledger.case_events(case)?.into_iter().filter(|s| *s >= from) {
                    if let Some(rec) = ledger.record(seq)? {
                        page.take(seq, &rec);
                    }
                    if page.next.is_some() {
                        break;
                    }
                }
            }
            None => ledger.for_each_while(from, |seq, rec| {
                page.take(seq, &rec);
                Ok(page.next.is_none())
            })?,
        }
        Ok((page.out, page.next))
    })
    .await?;
    let mut response = jsonl_response(text);
    if let Some(seq) = next {
        // More events follow: ask again from here.
        response.headers_mut().insert("x-next-from-seq", HeaderValue::from(seq));
    }
    Ok(response)
}

/// Stored events as JSONL, up to a limit; `next` is the first seq left out.
struct Page {
    out: Vec<u8>,
    left: usize,
    next: Option<u64>,
}

impl Page {
    fn take(&mut self, seq: u64, rec: &crate::ledger::event::Record) {
        if self.left == 0 {
            self.next.get_or_insert(seq);
        } else {
            rec.to_json_line(&mut self.out);
            self.left -= 1;
        }
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CaseQuery {
    on: Option<String>,
    known_at: Option<String>,
    at_seq: Option<u64>,
}

impl CaseQuery {
    fn when(self) -> Result<When, ApiError> {
        if self.known_at.is_some() && self.at_seq.is_some() {
            return Err(ApiError::bad_request("give known_at or at_seq, not both"));
        }
        Ok(When { on: self.on, cut: CutArgs { known_at: self.known_at, at_seq: self.at_seq } })
    }
}

pub async fn cases(State(state): State<AppState>, who: Authed, q: Result<Query<CaseQuery>, QueryRejection>) -> Answer {
    who.may(EVERYONE, "read cases")?;
    let when = query(q)?.when()?;
    when.resolve()?;
    let text = read(&state, true, move |ledger| {
        let (on, cut) = when.resolve()?;
        pretty(&crate::project::case::states(ledger, on, cut)?)
    })
    .await?;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
}

pub async fn case(
    State(state): State<AppState>,
    who: Authed,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<CaseQuery>, QueryRejection>,
) -> Answer {
    who.may(EVERYONE, "read cases")?;
    let code = path(p)?;
    let when = query(q)?.when()?;
    when.resolve()?;
    let text = read(&state, false, move |ledger| {
        let (on, cut) = when.resolve()?;
        match crate::project::case::state_of(ledger, &code, on, cut)? {
            Some(case) => pretty(&case).map(Some),
            None => Ok(None),
        }
    })
    .await?
    .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such case at that day and cut"))?;
    Ok(([(CONTENT_TYPE, HeaderValue::from_static("application/json"))], text).into_response())
}

/// The JSON `case show --json` / `cases --json` print: pretty, one trailing newline.
fn pretty<T: serde::Serialize>(v: &T) -> crate::Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(std::io::Error::from)?;
    out.push(b'\n');
    Ok(out)
}

/// A period and a cut, as the command line's flags (SPEC §12 "same query").
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FigureQuery {
    from: Option<String>,
    to: Option<String>,
    year: Option<i32>,
    quarter: Option<String>,
    known_at: Option<String>,
    at_seq: Option<u64>,
}

/// The figure query plus `excluded` (also list what the numerator left out).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ExplainQuery {
    from: Option<String>,
    to: Option<String>,
    year: Option<i32>,
    quarter: Option<String>,
    known_at: Option<String>,
    at_seq: Option<u64>,
    excluded: Option<bool>,
}

impl ExplainQuery {
    fn split(self) -> (FigureQuery, bool) {
        let ExplainQuery { from, to, year, quarter, known_at, at_seq, excluded } = self;
        (FigureQuery { from, to, year, quarter, known_at, at_seq }, excluded.unwrap_or(false))
    }
}

impl FigureQuery {
    fn resolve(&self) -> Result<(indicators::Period, crate::project::Cut), ApiError> {
        if self.known_at.is_some() && self.at_seq.is_some() {
            return Err(ApiError::bad_request("give known_at or at_seq, not both"));
        }
        let period =
            PeriodArgs { from: self.from.clone(), to: self.to.clone(), year: self.year, quarter: self.quarter.clone() }
                .resolve()?;
        let cut = CutArgs { known_at: self.known_at.clone(), at_seq: self.at_seq }.resolve()?;
        Ok((period, cut))
    }
}

async fn figures(state: &AppState, q: FigureQuery, defs: Vec<Definition>) -> Answer {
    let (period, cut) = q.resolve()?;
    let v = read(state, true, move |ledger| indicators::memo::figures(ledger, period, cut, &defs)).await?;
    Ok(json_response(&v.to_json()))
}

pub async fn indicators_get(
    State(state): State<AppState>,
    who: Authed,
    q: Result<Query<FigureQuery>, QueryRejection>,
) -> Answer {
    who.may(FIGURE_READERS, "read indicators")?;
    figures(&state, query(q)?, indicators::default_definitions()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DefsBody {
    defs: Value,
}

fn definitions(v: &Value) -> Result<Vec<Definition>, ApiError> {
    indicators::parse_file(v).map_err(|e| ApiError::from(Error::refused(Refusal::field("defs", e.to_string()))))
}

pub async fn indicators_post(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    q: Result<Query<FigureQuery>, QueryRejection>,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    who.may(FIGURE_READERS, "read indicators")?;
    let q = query(q)?;
    let parsed: DefsBody = json_body(&headers, b)?;
    figures(&state, q, definitions(&parsed.defs)?).await
}

pub async fn explain(
    State(state): State<AppState>,
    who: Authed,
    p: Result<Path<String>, PathRejection>,
    q: Result<Query<ExplainQuery>, QueryRejection>,
) -> Answer {
    who.may(FIGURE_READERS, "explain figures")?;
    let id = path(p)?;
    let (q, excluded) = query(q)?.split();
    let (period, cut) = q.resolve()?;
    let defs = indicators::default_definitions();
    let Some(def) = defs.into_iter().find(|d| d.id == id) else {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("no indicator \"{id}\"")));
    };
    let v = read(&state, true, move |ledger| indicators::lineage(ledger, period, cut, &def, excluded)).await?;
    Ok(json_response(&v.to_json()))
}

/// The body of `/v1/bundles` (a bundle is always published).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BundleBody {
    from: String,
    to: String,
    known_at: Option<String>,
    defs: Option<Value>,
}

/// The body of `/v1/reports`: a bundle's, and whether to publish the report (SPEC §19).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportBody {
    from: String,
    to: String,
    known_at: Option<String>,
    defs: Option<Value>,
    #[serde(default)]
    publish: bool,
}

/// The question of `/v1/reports` and `/v1/bundles`: the period, the cut, the definitions.
fn report_question(
    b: BundleBody,
) -> std::result::Result<(crate::indicators::Period, crate::project::Cut, Vec<Definition>), ApiError> {
    let q = FigureQuery { from: Some(b.from), to: Some(b.to), known_at: b.known_at, ..FigureQuery::default() };
    let (period, cut) = q.resolve()?;
    let defs = match &b.defs {
        Some(d) => definitions(d)?,
        None => indicators::default_definitions(),
    };
    Ok((period, cut, defs))
}

pub async fn report_create(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    who.may(REPORT_MAKERS, "create reports")?;
    let r: ReportBody = json_body(&headers, b)?;
    let publish = r.publish;
    let (period, cut, defs) =
        report_question(BundleBody { from: r.from, to: r.to, known_at: r.known_at, defs: r.defs })?;
    let (appender, actor) = (state.appender.clone(), who.0.name.clone());
    let report = read(&state, true, move |ledger| {
        if !publish {
            return crate::report::create(ledger, period, cut, &defs, chrono::Utc::now());
        }
        let request = crate::report::publish::Request { period, cut, defs: &defs };
        let none = |_: &Value, _| Ok(Vec::new());
        Ok(crate::report::publish::publish(ledger, &request, none, &appender.publisher(actor))?.report)
    })
    .await?;
    Ok(json_response(&report))
}

/// `POST /v1/bundles` (SPEC §15): the same body as `/v1/reports`; the zip.
pub async fn bundle_create(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    who.may(REPORT_MAKERS, "create bundles")?;
    let (period, cut, defs) = report_question(json_body(&headers, b)?)?;
    let (appender, actor) = (state.appender.clone(), who.0.name.clone());
    let zip = read(&state, true, move |ledger| {
        Ok(crate::bundle::create(ledger, period, cut, &defs, &appender.publisher(actor))?.zip)
    })
    .await?;
    Ok((
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/zip")),
            (axum::http::header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"bundle.zip\"")),
        ],
        zip,
    )
        .into_response())
}

pub async fn report_verify(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    who.may(FIGURE_READERS, "verify reports")?;
    require_json(&headers)?;
    let report = parse_json(&body(b)?)?;
    let v = read(&state, true, move |ledger| crate::report::verify(ledger, &report)).await?;
    Ok(json_response(&v.to_json()))
}

pub async fn verify(State(state): State<AppState>, who: Authed) -> Answer {
    who.may(AUDITORS, "verify the chain")?;
    let v = read(&state, true, |ledger| {
        let head = ledger.head();
        Ok(match ledger.verify() {
            Ok(v) => json!({"ok": true, "seq": v.seq, "head": hex(&v.head), "root": v.root.map(|r| crate::ledger::merkle::b64(&r))}),
            Err(Error::Integrity { seq, reason }) => {
                json!({"ok": false, "seq": head.seq, "head": hex(&head.hash), "first_bad_seq": seq, "error": reason})
            }
            Err(e) => return Err(e),
        })
    })
    .await?;
    Ok(json_response(&v))
}

/// Streams the export as it is read, in chunks.
pub async fn export(State(state): State<AppState>, who: Authed) -> Answer {
    who.may(AUDITORS, "export the ledger")?;
    let slot = state.heavy.clone().acquire_owned().await.expect("never closed");
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(8);
    let ledger = state.ledger.clone();
    let runtime = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let mut sink = ChannelWriter { tx: tx.clone(), buf: Vec::with_capacity(1 << 16), runtime };
        if let Err(e) = ledger.export(&mut sink) {
            tracing::error!(error = %e, "export failed midway");
            let _ = tx.blocking_send(Err(std::io::Error::other(e.to_string())));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|chunk| (chunk, rx)) });
    Ok(jsonl_response(Body::from_stream(stream)))
}

/// A writer that sends what it is given down a channel, 64 KiB at a time.
struct ChannelWriter {
    tx: tokio::sync::mpsc::Sender<Result<Vec<u8>, std::io::Error>>,
    buf: Vec<u8>,
    runtime: tokio::runtime::Handle,
}

/// How long an export waits for a client that does not read.
const STALLED_CLIENT: std::time::Duration = std::time::Duration::from_secs(60);

impl Write for ChannelWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= 1 << 16 {
            self.flush()?;
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(1 << 16));
            // A client that stops reading must not hold a whole-ledger slot for ever.
            let sent = self.runtime.block_on(self.tx.send_timeout(Ok(chunk), STALLED_CLIENT));
            sent.map_err(|_| {
                std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the client went away or stopped reading")
            })?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------- checkpoints (SPEC §14)

/// The latest signed checkpoint with its cosignatures, as text (no token needed: it is
/// what funders and witnesses fetch).
pub async fn checkpoint(State(state): State<AppState>) -> Answer {
    let dir = state.ledger.store().dir().to_path_buf();
    match crate::checkpoint::Checkpoint::latest(&dir)? {
        Some(cp) => {
            Ok(([(CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"))], cp.note).into_response())
        }
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "this ledger has signed no checkpoint yet (caseledger key init, then caseledger checkpoint)",
        )),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionQuery {
    seq: u64,
    size: Option<u64>,
}

pub async fn proof_inclusion(
    State(state): State<AppState>,
    who: Authed,
    q: Result<Query<InclusionQuery>, QueryRejection>,
) -> Answer {
    who.may(EVERYONE, "read proofs")?;
    let q = query(q)?;
    let v = read(&state, false, move |ledger| crate::checkpoint::inclusion_json(ledger, q.seq, q.size)).await?;
    Ok(json_response(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyQuery {
    old: u64,
    size: Option<u64>,
}

pub async fn proof_consistency(
    State(state): State<AppState>,
    who: Authed,
    q: Result<Query<ConsistencyQuery>, QueryRejection>,
) -> Answer {
    who.may(EVERYONE, "read proofs")?;
    let q = query(q)?;
    let v = read(&state, false, move |ledger| crate::checkpoint::consistency_json(ledger, q.old, q.size)).await?;
    Ok(json_response(&v))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MirrorHead {
    seq: u64,
    head: String,
}

/// `POST /v1/mirror`: a mirror (its auditor or admin token names it) says how far it
/// holds this ledger; kept in `DIR/mirrors.json`. 409 when its head is not this
/// ledger's event at that seq.
pub async fn mirror_head(
    State(state): State<AppState>,
    who: Authed,
    headers: HeaderMap,
    b: Result<Bytes, BytesRejection>,
) -> Answer {
    let user = who.may(AUDITORS, "report a mirror's head")?.clone();
    require_json(&headers)?;
    let h: MirrorHead = serde_json::from_slice(&body(b)?)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("not {{\"seq\": N, \"head\": HEX}}: {e}")))?;
    let name = user.name.clone();
    let (seq, head) = (h.seq, h.head.clone());
    let same = read(&state, false, move |ledger| {
        let ours =
            if h.seq == 0 { Some(crate::ledger::event::ZERO_HASH) } else { ledger.record(h.seq)?.map(|r| r.hash) };
        if ours.map(|o| hex(&o)) != Some(h.head.clone()) {
            return Ok(false);
        }
        let at = crate::codec::format_stamp(&chrono::Utc::now());
        let held = crate::mirror::heads::Held { seq: h.seq, head: h.head, at };
        crate::mirror::heads::record(ledger.store().dir(), &name, held).map(|()| true)
    })
    .await?;
    if !same {
        tracing::error!(mirror = %user.name, seq, "a mirror holds another history of this ledger");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("mirror {} holds event {seq} with hash {head}, which is not this ledger's", user.name),
        ));
    }
    Ok(json_response(&json!({"ok": true})))
}
