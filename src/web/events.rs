//! `GET /events/new?type=T` shows the form of an event type (prefilled from `case=`,
//! `signal=`, `target=` and other fields of the query); `POST /events` records it
//! (SPEC §16). A form becomes the same input event `append` and `POST /v1/events`
//! take, through the same group committer: acknowledged only once durable. A refusal
//! re-shows the form (422) with every value kept and the reason beside its field.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use serde_json::{json, Map, Value};

use super::forms::{self, Field, Input, Part, Problems, Values};
use super::page::path_segment;
use super::page::{self, Nav};
use super::session::check_post;
use super::state::Web;
use super::viewer::Viewer;
use crate::codec::format_date;
use crate::domain::words;
use crate::error::Error;
use crate::ledger::event::known_type;

/// Everything a form shows: its type, what is typed, the problems, and for a
/// correction the event it corrects.
struct FormView {
    kind: &'static str,
    values: Values,
    problems: Problems,
    /// A correction's target: its id, type, seq, case and a line describing it.
    target: Option<Target>,
    saved: Option<u64>,
    /// The departments the organisation has (offered on the department field).
    departments: Vec<String>,
    /// The department typed is new: the form asks to confirm it (`confirm=1`).
    ask_confirm: bool,
}

impl FormView {
    fn of(kind: &'static str, values: Values, problems: Problems, target: Option<Target>) -> FormView {
        FormView { kind, values, problems, target, saved: None, departments: Vec::new(), ask_confirm: false }
    }
}

/// The departments the organisation has: those its cases were opened in.
fn departments_of(w: &Web) -> crate::Result<Vec<String>> {
    let set: std::collections::BTreeSet<String> = w.cases.rows(&w.ledger)?.iter().map(|r| r.program.clone()).collect();
    Ok(set.into_iter().collect())
}

/// The members of an event's form (or of its address) that are not the event's data.
#[derive(serde::Deserialize, Default)]
struct Meta {
    /// The event's type.
    #[serde(default, rename = "type", deserialize_with = "given")]
    kind: Option<String>,
    #[serde(default, deserialize_with = "given")]
    csrf: Option<String>,
    /// The event a correction corrects (its id).
    #[serde(default, deserialize_with = "given")]
    target: Option<String>,
    /// `1`: the person confirmed a department the ledger has not had yet.
    #[serde(default, deserialize_with = "given")]
    confirm: Option<String>,
    /// The seq just recorded (the form shown again after a save).
    #[serde(default, deserialize_with = "given")]
    saved: Option<String>,
    #[serde(default, deserialize_with = "given")]
    case: Option<String>,
    /// An amendment's case.
    #[serde(default, rename = "data.case", deserialize_with = "given")]
    data_case: Option<String>,
    /// The department (of an opening or an expense).
    #[serde(default, deserialize_with = "given")]
    program: Option<String>,
}

/// A member present in the form (even empty).
fn given<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    <String as serde::Deserialize>::deserialize(d).map(Some)
}

impl Meta {
    fn of(values: &Values) -> Meta {
        use serde::de::value::{Error as DeError, MapDeserializer};
        let pairs = values.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        <Meta as serde::Deserialize>::deserialize(MapDeserializer::<_, DeError>::new(pairs)).unwrap_or_default()
    }
}

/// The input event a form states, before it is checked.
struct Draft {
    kind: &'static str,
    occurred_on: String,
    data: Map<String, Value>,
}

impl Draft {
    /// As one JSONL input line.
    fn line(&self) -> String {
        json!({"type": self.kind, "occurred_on": self.occurred_on, "data": self.data}).to_string()
    }
}

#[derive(Clone)]
struct Target {
    id: String,
    kind: &'static str,
    seq: u64,
    case: Option<String>,
    signal: Option<String>,
    /// Its `data` and day as they stand now (the latest amendment applied).
    data: Map<String, Value>,
    occurred_on: String,
}

fn today_typed() -> String {
    words::date(chrono::Utc::now().date_naive())
}

/// The values of `data` flattened to the form's dot paths (`children.0.code`).
fn flatten(prefix: &str, v: &Value, out: &mut Values) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                flatten(&if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") }, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{prefix}.{i}"), v, out);
            }
        }
        Value::Bool(b) => {
            out.insert(prefix.to_string(), b.to_string());
        }
        Value::String(s) => {
            // Days and money as people read them.
            let shown = match crate::codec::parse_date(s) {
                Some(d) => words::date(d),
                None => s.clone(),
            };
            out.insert(prefix.to_string(), shown);
        }
        Value::Number(n) => {
            out.insert(prefix.to_string(), n.to_string());
        }
        Value::Null => {}
    }
}

/// The stored event with this id, as it stands now (the latest amendment of it
/// applied), for a correction's form.
fn load_target(web: &Web, id: &str) -> crate::Result<Option<Target>> {
    let Ok(uuid) = uuid::Uuid::try_parse(id.trim()) else { return Ok(None) };
    let Some(now) = crate::project::card::current(&web.ledger, uuid)? else { return Ok(None) };
    let Some(kind) = known_type(&now.kind) else { return Ok(None) };
    let crate::project::card::Current { id, seq, case, signal, data, occurred_on, .. } = now;
    Ok(Some(Target { id: id.to_string(), kind, seq, case, signal, data, occurred_on }))
}

/// The query of `GET /events/new`: the type and any field to prefill.
pub async fn new(State(web): State<Web>, viewer: Viewer, Query(q): Query<Vec<(String, String)>>) -> Response {
    if let Err(r) = viewer.must_record() {
        return r;
    }
    let q: Values = q.into_iter().collect();
    let meta = Meta::of(&q);
    let Some(kind) = meta.kind.as_deref().and_then(known_type) else {
        return page::bad_request(&viewer, "не указан тип события (type=…)");
    };
    let saved = meta.saved.as_deref().and_then(|s| s.parse().ok());
    let q2 = q.clone();
    let prepared = web.read(false, move |w| prefill(w, kind, &q2)).await;
    match prepared {
        Ok(Ok(mut view)) => {
            view.saved = saved;
            page::ok(render(&viewer, &view))
        }
        Ok(Err(why)) => page::not_found(&viewer, &why),
        Err(r) => r,
    }
}

/// The starting values of a form: the query's, today's date, a case's children.
fn prefill(web: &Web, kind: &'static str, q: &Values) -> crate::Result<Result<FormView, String>> {
    let mut values: Values = q
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "type" | "saved"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    values.entry("occurred_on".into()).or_insert_with(today_typed);
    let mut target = None;
    if matches!(kind, "event_voided" | "event_amended") {
        let Some(t) = Meta::of(&values).target.map(|t| load_target(web, &t)).transpose()?.flatten() else {
            return Ok(Err("исправляемая запись не найдена (target=…)".into()));
        };
        if kind == "event_amended" {
            let mut typed = Values::new();
            flatten("data", &Value::Object(t.data.clone()), &mut typed);
            values.extend(typed);
            values.insert("occurred_on".into(), parse_or_keep(&t.occurred_on));
        }
        values.insert("target".into(), t.id.clone());
        target = Some(t);
    }
    // The case's children, for the forms that list them.
    if let Some(case) = Meta::of(&values).case {
        let lists_children = matches!(kind, "efo_scored" | "case_closed" | "follow_up_done");
        if lists_children && !values.keys().any(|k| k.starts_with("children.")) {
            let today = chrono::Utc::now().date_naive();
            if let Some(state) =
                crate::project::case::state_of(&web.ledger, &case, today, crate::project::Cut::everything())?
            {
                for (i, c) in state.children.iter().enumerate() {
                    values.insert(format!("children.{i}.code"), c.code.0.to_string());
                }
            }
        }
    }
    let mut view = FormView::of(kind, values, Vec::new(), target);
    if matches!(kind, "case_opened" | "expense_recorded") {
        view.departments = departments_of(web)?;
    }
    Ok(Ok(view))
}

fn parse_or_keep(day: &str) -> String {
    crate::codec::parse_date(day).map_or_else(|| day.to_string(), words::date)
}

/// `POST /events`.
pub async fn submit(
    State(web): State<Web>,
    viewer: Viewer,
    headers: HeaderMap,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Response {
    let values: Values = pairs.into_iter().collect();
    let meta = Meta::of(&values);
    if let Err(r) = check_post(&web, &headers, &viewer.csrf, meta.csrf.as_deref()) {
        return r;
    }
    if let Err(r) = viewer.must_record() {
        return r;
    }
    let Some(kind) = meta.kind.as_deref().and_then(known_type) else {
        return page::bad_request(&viewer, "не указан тип события");
    };
    let mut values: Values = values.into_iter().filter(|(k, _)| k != "csrf").collect();
    let departments = if matches!(kind, "case_opened" | "expense_recorded") {
        web.read(false, departments_of).await.unwrap_or_default()
    } else {
        Vec::new()
    };
    // A target looked up again on the server (never trusted from the form).
    let target = match meta.target.clone() {
        Some(t) if matches!(kind, "event_voided" | "event_amended") => {
            match web.read(false, move |w| load_target(w, &t)).await {
                Ok(Some(t)) => Some(t),
                Ok(None) => return page::not_found(&viewer, "исправляемая запись не найдена"),
                Err(r) => return r,
            }
        }
        _ => None,
    };
    // "One more row": the form again, nothing written.
    if let Some(list) = values.remove("more") {
        let n = forms::rows(&values, "", &list, 1);
        values.insert(format!("{list}.{n}.code"), String::new());
        let mut view = FormView::of(kind, values, Vec::new(), target);
        view.departments = departments.clone();
        return page::ok(render(&viewer, &view));
    }
    let (mut draft, problems) = build(kind, &values, target.as_ref());
    if !problems.is_empty() {
        return refused(
            &viewer,
            FormView { departments: departments.clone(), ..FormView::of(kind, values, problems, target) },
        );
    }
    // A department typed as a look-alike of one the organisation has («кц» for «КЦ») is
    // that department mistyped, not a new one (SPEC §21).
    // A department the organisation has not had yet opens a case only once the person
    // confirms it is new (`confirm=1`), and the opening records that it was confirmed.
    let typed = meta.program.as_deref().map(str::trim).filter(|p| !p.is_empty() && !draft.kind.starts_with("event_"));
    if let Some(typed) = typed.map(str::to_string) {
        let want = crate::domain::words::skeleton(&typed);
        if !departments.contains(&typed) {
            let same = departments.iter().find(|k| crate::domain::words::skeleton(k) == want);
            let confirmed = meta.confirm.as_deref() == Some("1");
            let problem = match same {
                Some(same) => Some((
                    format!("отдел «{typed}» — это «{same}»? Такой отдел уже есть; напишите его так же, как в реестре"),
                    false,
                )),
                None if kind == "case_opened" && !departments.is_empty() && !confirmed => Some((
                    format!(
                        "отдела «{typed}» в реестре ещё нет (есть: {}). Если это новый отдел, отметьте «Да, это новый отдел» и запишите снова",
                        departments.join(", ")
                    ),
                    true,
                )),
                None => None,
            };
            if let Some((why, ask_confirm)) = problem {
                let view = FormView {
                    departments: departments.clone(),
                    ask_confirm,
                    ..FormView::of(kind, values, vec![(Some("program".to_string()), why)], target)
                };
                return refused(&viewer, view);
            }
            if kind == "case_opened" && !departments.is_empty() {
                draft.data.insert("confirmed".into(), json!(["new_program"]));
            }
        }
    }
    let input = match crate::ledger::event::InputEvent::parse(draft.line().as_bytes()) {
        Ok(ev) => ev,
        Err(r) => {
            let problems = place(kind, &values, target.as_ref(), &[r]);
            return refused(
                &viewer,
                FormView { departments: departments.clone(), ..FormView::of(kind, values, problems, target) },
            );
        }
    };
    // What it says, typed (a payload that does not read is refused by the append).
    let payload = crate::domain::Payload::parse(kind, &input.data).ok();
    let next = after(kind, payload.as_ref(), target.as_ref());
    let mut lines = vec![(1, Ok(input))];
    // A case opened from a signal not yet triaged resolves it in the same write (one
    // form, SPEC §21): both events or neither.
    if let Some(crate::domain::Payload::CaseOpened(opened)) = &payload {
        if let Some(resolve) = signal_resolution(&web, opened, &draft.occurred_on).await {
            lines.push((2, Ok(resolve)));
        }
    }
    match web.appender.append(lines, viewer.user.name.clone()).await {
        Some(Ok(acks)) => {
            let seq = acks.first().map_or(0, |a| a.seq);
            Redirect::to(&format!("{next}saved={seq}")).into_response()
        }
        Some(Err(Error::Refused(mut list, _))) => {
            // The signal's resolution follows from the opening: when the opening is
            // refused, its reason is the one to read.
            if list.iter().any(|r| r.line == Some(1)) {
                list.retain(|r| r.line == Some(1));
            }
            let problems = place(kind, &values, target.as_ref(), &list);
            refused(
                &viewer,
                FormView { departments: departments.clone(), ..FormView::of(kind, values, problems, target) },
            )
        }
        Some(Err(e)) => page::failure(&e.to_string()),
        None => page::with_status(
            StatusCode::SERVICE_UNAVAILABLE,
            page::layout(
                "Запись остановлена",
                Some(&viewer),
                Nav::None,
                html! { h1 { "Запись остановлена" } p { "Сервис перестал принимать записи; обратитесь к администратору." } },
            ),
        ),
    }
}

/// For a case opened from a signal that is still open: the `signal_resolved` that
/// records it (resolution «открыт случай», the case named), dated as the opening.
async fn signal_resolution(
    web: &Web,
    opened: &crate::domain::payload::CaseOpened,
    on: &str,
) -> Option<crate::ledger::event::InputEvent> {
    let signal = opened.signal.as_ref()?.0.to_string();
    let case = opened.case.0.to_string();
    let wanted = signal.clone();
    let open = web
        .read(false, move |w| Ok(w.signals.rows(&w.ledger)?.iter().any(|s| s.signal == wanted && !s.resolved)))
        .await
        .ok()?;
    if !open {
        return None;
    }
    let line = json!({"type": "signal_resolved", "occurred_on": on,
        "data": {"signal": signal, "resolution": "case_opened", "case": case}});
    crate::ledger::event::InputEvent::parse(line.to_string().as_bytes()).ok()
}

/// The input event a form states, or the problems with what was typed.
fn build(kind: &'static str, values: &Values, target: Option<&Target>) -> (Draft, Problems) {
    let today = format_date(chrono::Utc::now().date_naive());
    let mut problems = Problems::new();
    let mut day_of = |name: &str, required: bool| -> Option<String> {
        match values.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
            Some(raw) => forms::day(raw).or_else(|| {
                problems.push((Some(name.into()), "дата в виде ДД.ММ.ГГГГ, например 31.01.2021".into()));
                None
            }),
            None if required => {
                problems.push((Some(name.into()), "нужно заполнить".into()));
                None
            }
            None => None,
        }
    };
    match (kind, target) {
        ("event_voided", Some(t)) => {
            let mut data = Map::new();
            data.insert("target".into(), json!(t.id));
            put_text(&mut data, values, "reason", &mut problems);
            (Draft { kind, occurred_on: today, data }, problems)
        }
        ("event_amended", Some(t)) => {
            // The correction is of today; `occurred_on` on its form is the day the
            // corrected event happened.
            let replacement_day = day_of("occurred_on", false);
            let (replacement, more) = forms::data(t.kind, values, "data.");
            problems.extend(more);
            let mut data = Map::new();
            data.insert("target".into(), json!(t.id));
            put_text(&mut data, values, "reason", &mut problems);
            if let Some(d) = replacement_day.filter(|d| *d != t.occurred_on) {
                data.insert("occurred_on".into(), json!(d));
            }
            data.insert("data".into(), Value::Object(replacement));
            (Draft { kind, occurred_on: today, data }, problems)
        }
        _ => {
            let occurred_on = day_of("occurred_on", true).unwrap_or_default();
            let (data, more) = forms::data(kind, values, "");
            problems.extend(more);
            (Draft { kind, occurred_on, data }, problems)
        }
    }
}

fn put_text(data: &mut Map<String, Value>, values: &Values, name: &str, problems: &mut Problems) {
    match values.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        Some(t) => {
            data.insert(name.into(), json!(t));
        }
        None => problems.push((Some(name.into()), "нужно заполнить".into())),
    }
}

/// The library's refusals beside the fields they name (the rest above the form).
fn place(kind: &'static str, values: &Values, target: Option<&Target>, refusals: &[crate::error::Refusal]) -> Problems {
    let (form_kind, prefix) = match (kind, target) {
        ("event_amended", Some(t)) => (t.kind, "data."),
        _ => (kind, ""),
    };
    let mut known = forms::field_names(form_kind, prefix, values);
    known.extend(["occurred_on".to_string(), "reason".to_string()]);
    let is_known = |n: &str| known.iter().any(|k| k == n);
    refusals
        .iter()
        .map(|r| {
            let field = r.field.as_deref().and_then(|f| {
                // An amendment's own members are `data.reason`, `data.occurred_on`.
                let own = f.strip_prefix("data.").filter(|m| matches!(*m, "reason" | "occurred_on"));
                own.map(String::from).or_else(|| forms::field_of(f, prefix, &is_known))
            });
            let reason = crate::say::for_page(&r.reason);
            // A reason that stands in the list above the form names its field as labelled.
            let label = match (&field, r.field.as_deref()) {
                (None, Some(f)) => {
                    words::member(f.rsplit(['.', '[']).find(|s| !s.is_empty() && !s.ends_with(']')).unwrap_or(""))
                }
                _ => "",
            };
            (field, if label.is_empty() { reason } else { format!("{label}: {reason}") })
        })
        .collect()
}

fn refused(viewer: &Viewer, view: FormView) -> Response {
    page::with_status(StatusCode::UNPROCESSABLE_ENTITY, render(viewer, &view))
}

/// Where a recorded event leads: its case, else its signal's list, else its form (an
/// address to which `saved=SEQ` is added).
fn after(kind: &str, payload: Option<&crate::domain::Payload>, target: Option<&Target>) -> String {
    let named = |c: Option<&crate::domain::payload::Code>| c.map(|c| c.0.to_string());
    let case =
        payload.and_then(|p| named(p.case().or(p.case_reference()))).or_else(|| target.and_then(|t| t.case.clone()));
    let signal = payload.and_then(|p| named(p.signal().or(p.signal_reference())));
    match case {
        Some(c) => format!("/cases/{}?", path_segment(&c)),
        None if signal.is_some() || target.and_then(|t| t.signal.as_ref()).is_some() => "/signals?".to_string(),
        None => format!("/events/new?type={kind}&"),
    }
}

// ---------------------------------------------------------------- the form

fn id_of(name: &str) -> String {
    format!("f-{}", name.replace('.', "-"))
}

fn problem<'a>(view: &'a FormView, name: &str) -> Option<&'a str> {
    view.problems.iter().find(|(f, _)| f.as_deref() == Some(name)).map(|(_, m)| m.as_str())
}

fn render(viewer: &Viewer, view: &FormView) -> Markup {
    let kind = view.kind;
    let general: Vec<&str> = view
        .problems
        .iter()
        .filter(|(f, _)| f.as_ref().is_none_or(|f| !field_shown(view, f)))
        .map(|(_, m)| m.as_str())
        .collect();
    let meta = Meta::of(&view.values);
    let case = meta.case.or(meta.data_case);
    let body = html! {
        nav.crumbs aria-label="Путь" {
            a href="/cases" { "Случаи" }
            @if let Some(c) = &case { " › " a href={ "/cases/" (path_segment(c)) } { "Случай " (c) } }
            " › " (words::event_type(kind))
        }
        h1 { (words::event_type(kind)) }
        @if let Some(seq) = view.saved {
            p.notice role="status" { "Записано: событие № " (seq) "." }
        }
        @if let Some(t) = &view.target {
            p.lead { (if kind == "event_voided" { "Отменяется" } else { "Исправляется" }) " запись № " (t.seq) ": " strong { (words::event_type(t.kind)) } " от " (parse_or_keep(&t.occurred_on)) "." }
        }
        @if !view.problems.is_empty() {
            div.alert role="alert" {
                p { strong { "Событие не записано." } " Исправьте отмеченное и запишите снова." }
                @if !general.is_empty() { ul { @for m in &general { li { (m) } } } }
            }
        }
        form #event-form method="post" action="/events" {
            input type="hidden" name="csrf" value=(viewer.csrf);
            input type="hidden" name="type" value=(kind);
            @if let Some(t) = &view.target { input type="hidden" name="target" value=(t.id); }
            @match (kind, &view.target) {
                ("event_voided", Some(_)) => {
                    (text_area(view, "reason", "Причина отмены", true))
                }
                ("event_amended", Some(t)) => {
                    (text_area(view, "reason", "Причина исправления", true))
                    (field(view, "occurred_on", "Дата события (исправленная)", Input::Date, true, false))
                    fieldset.group {
                        legend { "Исправленные данные: " (words::event_type(t.kind)) }
                        (parts(view, t.kind, "data."))
                    }
                }
                _ => {
                    (field(view, "occurred_on", "Дата события", Input::Date, true, false))
                    (parts(view, kind, ""))
                }
            }
            div.actions {
                button.primary type="submit" { "Записать" }
                @if let Some(c) = &case { a.button href={ "/cases/" (path_segment(c)) } { "Отмена" } }
                @else { a.button href="/cases" { "Отмена" } }
            }
        }
    };
    let nav = match kind {
        "signal_received" => Nav::NewSignal,
        "case_opened" => Nav::NewCase,
        _ => Nav::None,
    };
    page::layout(words::event_type(kind), Some(viewer), nav, body)
}

fn field_shown(view: &FormView, name: &str) -> bool {
    let (kind, prefix) = match (view.kind, &view.target) {
        ("event_amended", Some(t)) => (t.kind, "data."),
        (k, _) => (k, ""),
    };
    name == "occurred_on"
        || name == "reason"
        || forms::field_names(kind, prefix, &view.values).iter().any(|n| n == name)
}

fn parts(view: &FormView, kind: &str, prefix: &str) -> Markup {
    html! {
        @for part in forms::parts(kind) {
            @match part {
                Part::Field(fl) => {
                    // An amendment keeps its target's case and signal.
                    @let fixed = !prefix.is_empty() && matches!(fl.path, "case" | "signal");
                    (field(view, &format!("{prefix}{}", fl.path), forms::label(fl.path), fl.input, fl.required, fixed))
                }
                Part::Domains => { (domains(view, prefix)) }
                Part::Rows { list, members } => { (rows(view, prefix, list, &members)) }
            }
        }
    }
}

fn field(view: &FormView, name: &str, label: &str, input: Input, required: bool, fixed: bool) -> Markup {
    let id = id_of(name);
    let err = problem(view, name);
    let value = view.values.get(name).map(String::as_str).unwrap_or("");
    html! {
        div.field.invalid[err.is_some()] {
            label for=(id) { (label) @if required { span.req aria-hidden="true" { " *" } span.sr { " (обязательно)" } } }
            (control(&id, name, input, value, required, fixed, err.is_some()))
            @if let Some(hint) = hint(input) { p.hint id={ (id) "-hint" } { (hint) } }
            @if let Some(e) = err { p.error role="alert" id={ (id) "-error" } { (e) } }
            @if name == "program" {
                datalist #departments { @for d in &view.departments { option value=(d) {} } }
                @if view.ask_confirm {
                    label.confirm {
                        input type="checkbox" name="confirm" value="1";
                        " Да, это новый отдел"
                    }
                }
            }
        }
    }
}

fn hint(input: Input) -> Option<&'static str> {
    match input {
        Input::Date => Some("ДД.ММ.ГГГГ"),
        Input::Money => Some("в рублях, например 1 500,50"),
        Input::Born => Some("год (2019), месяц (2019-05) или дата"),
        _ => None,
    }
}

#[allow(clippy::too_many_arguments)]
fn control(id: &str, name: &str, input: Input, value: &str, required: bool, fixed: bool, invalid: bool) -> Markup {
    let described = {
        let mut d = Vec::new();
        if hint(input).is_some() {
            d.push(format!("{id}-hint"));
        }
        if invalid {
            d.push(format!("{id}-error"));
        }
        (!d.is_empty()).then(|| d.join(" "))
    };
    let invalid = invalid.then_some("true");
    html! {
        @match input {
            Input::Choice(member, options) => {
                select id=(id) name=(name) required[required] aria-invalid=[invalid] aria-describedby=[described] {
                    option value="" { "— выберите —" }
                    @for o in options {
                        option value=(o) selected[*o == value] { (words::value(member, o).unwrap_or(o)) }
                    }
                }
            }
            Input::YesNo => {
                select id=(id) name=(name) required[required] aria-invalid=[invalid] aria-describedby=[described] {
                    option value="" { "— выберите —" }
                    option value="true" selected[value == "true"] { "да" }
                    option value="false" selected[value == "false"] { "нет" }
                }
            }
            Input::Text => {
                textarea id=(id) name=(name) rows="2" required[required] aria-invalid=[invalid] aria-describedby=[described] { (value) }
            }
            Input::Count => {
                input id=(id) name=(name) type="number" min="0" step="1" inputmode="numeric" value=(value)
                    required[required] aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::Date => {
                input id=(id) name=(name) type="text" inputmode="numeric" placeholder="ДД.ММ.ГГГГ" value=(value) size="10"
                    autocomplete="off" required[required] aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::Money => {
                input id=(id) name=(name) type="text" inputmode="decimal" value=(value) size="12"
                    required[required] aria-invalid=[invalid] aria-describedby=[described];
            }
            Input::Code | Input::Born => {
                input id=(id) name=(name) type="text" value=(value) readonly[fixed] autocomplete="off"
                    list=[(name == "program").then_some("departments")]
                    required[required] aria-invalid=[invalid] aria-describedby=[described];
            }
        }
    }
}

fn text_area(view: &FormView, name: &str, label: &str, required: bool) -> Markup {
    field(view, name, label, Input::Text, required, false)
}

fn domains(view: &FormView, prefix: &str) -> Markup {
    html! {
        fieldset.group {
            legend { "Слабые стороны по восьми разделам ЕФО" }
            p.hint { "Число слабых сторон в каждом разделе (0, если их нет). Можно вместо этого указать только общее число ниже." }
            div.grid {
                @for (d, name) in words::EFO_DOMAINS {
                    @let full = format!("{prefix}domains.{d}");
                    @let id = id_of(&full);
                    @let err = problem(view, &full);
                    div.field.invalid[err.is_some()] {
                        label for=(id) { (name) }
                        (control(&id, &full, Input::Count, view.values.get(&full).map(String::as_str).unwrap_or(""), false, false, err.is_some()))
                        @if let Some(e) = err { p.error role="alert" id={ (id) "-error" } { (e) } }
                    }
                }
            }
        }
    }
}

fn rows(view: &FormView, prefix: &str, list: &'static str, members: &[Field]) -> Markup {
    let n = forms::rows(&view.values, prefix, list, 1);
    let list_err = problem(view, &format!("{prefix}{list}"));
    let legend = match (view.target.as_ref().map(|t| t.kind).unwrap_or(view.kind), members.get(1).map(|m| m.path)) {
        (_, Some("level")) => "Уровень благополучия детей",
        (_, Some("in_family")) => "Дети: живут ли в кровной семье",
        _ => "Дети",
    };
    html! {
        fieldset.group.rows {
            legend { (legend) }
            @if let Some(e) = list_err { p.error role="alert" { (e) } }
            table.rows {
                thead { tr { @for mm in members { th scope="col" { (forms::label(mm.path)) } } } }
                tbody {
                    @for i in 0..n {
                        tr {
                            @for mm in members {
                                @let name = format!("{prefix}{list}.{i}.{}", mm.path);
                                @let id = id_of(&name);
                                @let err = problem(view, &name);
                                td.invalid[err.is_some()] {
                                    label.sr for=(id) { (forms::label(mm.path)) ", строка " (i + 1) }
                                    (control(&id, &name, mm.input, view.values.get(&name).map(String::as_str).unwrap_or(""), false, false, err.is_some()))
                                    @if let Some(e) = err { p.error role="alert" id={ (id) "-error" } { (e) } }
                                }
                            }
                        }
                    }
                }
            }
            @if prefix.is_empty() {
                button.secondary type="submit" name="more" value=(list) formnovalidate
                    hx-post="/events" hx-target="#event-form" hx-select="#event-form" hx-swap="outerHTML" {
                    "+ ещё ребёнок"
                }
            }
        }
    }
}
