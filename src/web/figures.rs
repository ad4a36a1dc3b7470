//! `/indicators` (SPEC §16): the figures of a period, as known now or at a moment, with
//! their Russian titles — for methodists, auditors and administrators (a recorder is
//! not shown it, and gets 403). The same call as `indicators --json` and
//! `GET /v1/indicators`.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;
use serde_json::Value;

use super::page::{self, Nav};
use super::{Viewer, Web};
use crate::domain::words;
use crate::query::{CutArgs, PeriodArgs};

#[derive(Deserialize, Default)]
pub struct FiguresQuery {
    year: Option<String>,
    quarter: Option<String>,
    from: Option<String>,
    to: Option<String>,
    known_at: Option<String>,
}

/// A figure's number as Russian documents write it (money with ₽, counts grouped).
fn number(v: &Value) -> String {
    match v {
        Value::Number(n) => n.as_u64().map_or_else(|| n.to_string(), words::grouped),
        Value::String(s) => crate::domain::payload::Money::parse(s).map_or_else(|| s.clone(), words::money),
        _ => "—".into(),
    }
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(q): Query<FiguresQuery>) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "показатели видят методисты, аудиторы и администраторы");
    }
    let last_year = chrono::Datelike::year(&chrono::Utc::now().date_naive()) - 1;
    let day = |s: &Option<String>| {
        s.as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| super::forms::day(s).unwrap_or_else(|| s.to_string()))
    };
    let (from, to) = (day(&q.from), day(&q.to));
    let quarter = q.quarter.clone().filter(|s| !s.trim().is_empty());
    let year = if from.is_none() && quarter.is_none() {
        Some(q.year.as_deref().and_then(|y| y.trim().parse().ok()).unwrap_or(last_year))
    } else {
        None
    };
    let period = PeriodArgs { from: from.clone(), to: to.clone(), year, quarter: quarter.clone() };
    let known = day(&q.known_at);
    let resolved = period.resolve().and_then(|p| Ok((p, CutArgs { known_at: known.clone(), at_seq: None }.resolve()?)));
    let (period, cut) = match resolved {
        Ok(pc) => pc,
        Err(e) => return page::bad_request(&viewer, &e.to_string()),
    };
    let defs = crate::indicators::default_definitions();
    let figures =
        match web.read(true, move |w| crate::indicators::memo::compute_json(&w.ledger, period, cut, &defs)).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let empty = Vec::new();
    let list = figures["indicators"].as_array().unwrap_or(&empty);
    let body = html! {
        h1 { "Показатели" }
        form.filters method="get" action="/indicators" {
            div.field { label for="year" { "Год" } input #year name="year" type="number" min="1" max="9999" value=(year.map(|y| y.to_string()).unwrap_or_default()); }
            div.field { label for="quarter" { "или квартал" } input #quarter name="quarter" type="text" placeholder="2020Q3" value=(quarter.clone().unwrap_or_default()) size="8"; }
            div.field { label for="from" { "или с" } input #from name="from" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.from.clone().unwrap_or_default()) size="10"; }
            div.field { label for="to" { "по" } input #to name="to" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.to.clone().unwrap_or_default()) size="10"; }
            div.field { label for="known_at" { "Как было известно на" } input #known_at name="known_at" type="text" placeholder="ДД.ММ.ГГГГ (пусто — сейчас)" value=(q.known_at.clone().unwrap_or_default()) size="14"; }
            button.secondary type="submit" { "Показать" }
        }
        p.lead {
            "Период " (words::date(period.from)) "–" (words::date(period.to))
            @if let Some(k) = &known { ", как было известно на " (crate::ledger::event::parse_date(k).map_or_else(|| k.clone(), words::date)) } @else { ", как известно сейчас" }
            ". Реестр: событие № " (figures["ledger"]["seq"]) "."
        }
        table.figures {
            thead { tr { th scope="col" { "Показатель" } th.num scope="col" { "Числитель" } th.num scope="col" { "Знаменатель" } th.num scope="col" { "Доля" } } }
            tbody {
                @for f in list {
                    tr {
                        td { (f["title"].as_str().unwrap_or("")) br; small.none { (f["id"].as_str().unwrap_or("")) } }
                        td.num { (number(&f["numerator"])) }
                        td.num { @if f.get("denominator").is_some() { (number(&f["denominator"])) } @else { "—" } }
                        td.num { @if let Some(r) = f["ratio"].as_str() { (r.replace('.', ",")) } @else { "—" } }
                    }
                }
            }
        }
    };
    page::ok(page::layout("Показатели", Some(&viewer), Nav::Figures, body))
}
