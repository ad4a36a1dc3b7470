//! `/indicators` (SPEC §16): the figures of a period, as known now or at a moment, with
//! their Russian titles — for methodists, auditors and administrators (a recorder is
//! not shown it, and gets 403). The same call as `indicators --json` and
//! `GET /v1/indicators`.

use axum::extract::{Query, State};
use axum::response::Response;
use maud::html;
use serde::Deserialize;

use super::page::{self, Nav};
use super::state::Web;
use super::viewer::Viewer;
use crate::domain::words;
use crate::query::{CutArgs, PeriodArgs};

#[derive(Deserialize, Default)]
pub struct FiguresQuery {
    year: Option<String>,
    quarter: Option<String>,
    from: Option<String>,
    to: Option<String>,
    known_at: Option<String>,
    /// "Changed since": the figures as known at this day too, beside the others.
    since: Option<String>,
}

use crate::indicators::Figure;
use crate::report::amount;

/// The period and cut a figures page asks about, read from its query; with what the
/// form shows back (year, quarter, known).
struct Asked {
    period: crate::indicators::Period,
    cut: crate::project::Cut,
    year: Option<i32>,
    quarter: Option<String>,
    known: Option<String>,
    /// The cut of "changed since" and its day as asked.
    since: Option<(crate::project::Cut, String)>,
}

impl FiguresQuery {
    fn asked(&self) -> crate::Result<Asked> {
        let last_year = chrono::Datelike::year(&chrono::Utc::now().date_naive()) - 1;
        let day = |s: &Option<String>| {
            s.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| super::forms::day(s).unwrap_or_else(|| s.to_string()))
        };
        let (from, to) = (day(&self.from), day(&self.to));
        let quarter = self.quarter.clone().filter(|s| !s.trim().is_empty());
        let year = if from.is_none() && quarter.is_none() {
            Some(self.year.as_deref().and_then(|y| y.trim().parse().ok()).unwrap_or(last_year))
        } else {
            None
        };
        let period = PeriodArgs { from, to, year, quarter: quarter.clone() }.resolve()?;
        let known = day(&self.known_at);
        let cut = CutArgs { known_at: known.clone(), at_seq: None }.resolve()?;
        let since = match day(&self.since) {
            Some(s) => {
                let known_at = crate::project::parse_known_at(&s)
                    .ok_or_else(|| crate::Error::Usage(format!("«Изменения после»: «{s}» — не дата ДД.ММ.ГГГГ")))?;
                // "Changed after" looks back from the cut shown: it must come before it.
                if cut.known_at.is_some_and(|k| known_at >= k) || known_at >= chrono::Utc::now() {
                    return Err(crate::Error::Usage(format!(
                        "«Изменения после»: «{s}» — не раньше среза, который показан; выберите день раньше"
                    )));
                }
                Some((crate::project::Cut { known_at: Some(known_at), at_seq: None }, s))
            }
            None => None,
        };
        Ok(Asked { period, cut, year, quarter, known, since })
    }

    /// The same question as a query string (for links between the pages).
    fn query_string(&self) -> String {
        let mut parts = Vec::new();
        for (k, v) in [
            ("year", &self.year),
            ("quarter", &self.quarter),
            ("from", &self.from),
            ("to", &self.to),
            ("known_at", &self.known_at),
            ("since", &self.since),
        ] {
            if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={}", super::page::urlencode(v)));
            }
        }
        parts.join("&")
    }
}

fn cut_words(a: &Asked) -> String {
    match &a.known {
        Some(k) => {
            format!(", как было известно на {}", crate::codec::parse_date(k).map_or_else(|| k.clone(), words::date))
        }
        None => ", как известно сейчас".into(),
    }
}

/// A moment of the form as people write it (a day, or a day and time).
fn day_words(s: &str) -> String {
    if let Some(d) = crate::codec::parse_date(s) {
        return words::date(d);
    }
    crate::project::parse_known_at(s).map_or_else(|| s.to_string(), |t| words::moment(&t))
}

pub async fn list(State(web): State<Web>, viewer: Viewer, Query(q): Query<FiguresQuery>) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "показатели видят методисты, аудиторы и администраторы");
    }
    let asked = match q.asked() {
        Ok(a) => a,
        Err(e) => return page::bad_request(&viewer, &e.to_string()),
    };
    let (period, cut, year, quarter) = (asked.period, asked.cut, asked.year, asked.quarter.clone());
    let since_cut = asked.since.as_ref().map(|(c, _)| *c);
    let defs = crate::indicators::default_definitions();
    let (figures, before) = match web
        .read(true, move |w| {
            let now = crate::indicators::memo::figures(&w.ledger, period, cut, &defs)?;
            let before = match since_cut {
                Some(c) => Some(crate::indicators::memo::figures(&w.ledger, period, c, &defs)?),
                None => None,
            };
            Ok((now, before))
        })
        .await
    {
        Ok(v) => v,
        Err(r) => return r,
    };
    let list = &figures.figures;
    let earlier = |id: &str| before.as_ref().and_then(|b| b.figure(id));
    // Both answers come from the memo, read back the same way: a figure changed when
    // its values differ.
    let changed = |f: &Figure| earlier(&f.id).is_some_and(|b| b != f);
    let since_words = asked.since.as_ref().map(|(_, s)| day_words(s));
    let moved = list.iter().filter(|f| changed(f)).count() as u64;
    let qs = q.query_string();
    let body = html! {
        h1 { "Показатели" }
        @if let Some(org) = web.ledger.organisation() { p.org.printonly { (org) } }
        form.filters.noprint method="get" action="/indicators" {
            div.field { label for="year" { "Год" } input #year name="year" type="number" min="1" max="9999" value=(year.map(|y| y.to_string()).unwrap_or_default()); }
            div.field { label for="quarter" { "или квартал" } input #quarter name="quarter" type="text" placeholder="2020Q3" value=(quarter.clone().unwrap_or_default()) size="8"; }
            div.field { label for="from" { "или с" } input #from name="from" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.from.clone().unwrap_or_default()) size="10"; }
            div.field { label for="to" { "по" } input #to name="to" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.to.clone().unwrap_or_default()) size="10"; }
            div.field { label for="known_at" { "Как было известно на" } input #known_at name="known_at" type="text" placeholder="ДД.ММ.ГГГГ (пусто — сейчас)" value=(q.known_at.clone().unwrap_or_default()) size="14"; }
            div.field { label for="since" { "Изменения после" } input #since name="since" type="text" placeholder="ДД.ММ.ГГГГ" value=(q.since.clone().unwrap_or_default()) size="10"; }
            button.secondary type="submit" { "Показать" }
        }
        p.lead {
            "Период " (words::date(period.from)) "–" (words::date(period.to))
            (cut_words(&asked))
            ". Реестр: событие № " (figures.seq) "."
        }
        @if let (Some(b), Some(w)) = (&before, &since_words) {
            p.changes {
                @if moved == 0 {
                    "После " (w) " ни один показатель не изменился"
                } @else {
                    "После " (w) " " (if moved == 1 { "изменился" } else { "изменились" }) " "
                    (words::plural(moved, ("показатель", "показателя", "показателей")))
                    " из " (list.len())
                }
                " (тогда реестр заканчивался событием № " (b.seq) "). "
                @if let Some(d) = asked.since.as_ref().and_then(|(_, s)| crate::codec::parse_date(s)) {
                    a.noprint href={ "/audit?from=" (words::date(d + chrono::Days::new(1))) } { "События, записанные после " (w) }
                }
            }
        }
        table.figures {
            thead { tr {
                th scope="col" { "Показатель" } th.num scope="col" { "Числитель" } th.num scope="col" { "Знаменатель" } th.num scope="col" { "Доля" }
                @if let Some(w) = &since_words { th scope="col" { "Было на " (w) } }
            } }
            tbody {
                @for f in list {
                    tr class=[changed(f).then_some("changed")] data-id=(f.id) {
                        td {
                            a href={ "/explain/" (super::page::path_segment(&f.id)) "?" (qs) } { (f.title) }
                        }
                        @if no_expenses(f) {
                            td.num { span.none { "расходов нет" } }
                            td.num { (f.denominator.map_or_else(|| "—".to_string(), amount)) }
                            td.num { span.none { "—" } }
                        } @else {
                            td.num { (amount(f.numerator)) }
                            td.num { (f.denominator.map_or_else(|| "—".to_string(), amount)) }
                            td.num { @if let Some(r) = &f.ratio { (share(&f.title, r)) } @else { "—" } }
                        }
                        @if since_words.is_some() {
                            td {
                                @match earlier(&f.id) {
                                    Some(b) if changed(f) => { strong { "изменилось: " } "было " (figure_words(b)) }
                                    Some(_) => { span.none { "без изменений" } }
                                    None => { span.none { "—" } }
                                }
                            }
                        }
                    }
                }
            }
        }
        div.charts hx-get={ "/indicators/charts?" (qs) } hx-trigger="load" hx-swap="outerHTML" {
            p.none { "Графики загружаются… " noscript { a href={ "/indicators/charts?" (qs) } { "Открыть графики" } } }
        }
    };
    page::ok(page::layout("Показатели", Some(&viewer), Nav::Figures, body))
}

/// `/indicators/charts`: the period's charts (ratios by quarter, ЕФО dynamics) as a
/// fragment the figures page loads after it shows; the same charts as the HTML report.
pub async fn charts(State(web): State<Web>, viewer: Viewer, Query(q): Query<FiguresQuery>) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "показатели видят методисты, аудиторы и администраторы");
    }
    let asked = match q.asked() {
        Ok(a) => a,
        Err(e) => return page::bad_request(&viewer, &e.to_string()),
    };
    let (period, cut) = (asked.period, asked.cut);
    let defs = crate::indicators::default_definitions();
    let charts = match web.read(true, move |w| crate::report::charts::of_ledger(&w.ledger, period, cut, &defs)).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    page::ok(html! { div.charts { @for b in &charts { (crate::report::charts::svg(b)) } } })
}

/// Subjects shown on one `/explain` page (a figure at a million events counts thousands).
const MAX_SUBJECTS: usize = 300;

/// One event a figure's facts came from, as a person reads it.
struct EventLine {
    seq: u64,
    occurred_on: String,
    kind: String,
    actor: String,
    recorded_at: String,
}

/// `/explain/{id}` (SPEC §16): who was counted and who was not, and why in words; the
/// facts and the events they came from, each case linking to its card as known at the
/// same cut. The same call as `explain --excluded --json`.
pub async fn explain(
    State(web): State<Web>,
    viewer: Viewer,
    axum::extract::Path(id): axum::extract::Path<String>,
    Query(q): Query<FiguresQuery>,
) -> Response {
    if !viewer.may_see_figures() {
        return page::forbidden(&viewer, "показатели видят методисты, аудиторы и администраторы");
    }
    let asked = match q.asked() {
        Ok(a) => a,
        Err(e) => return page::bad_request(&viewer, &e.to_string()),
    };
    let defs = crate::indicators::default_definitions();
    let Some(def) = defs.iter().find(|d| d.id == id).cloned() else {
        return page::not_found(&viewer, &format!("показателя «{id}» нет"));
    };
    let (period, cut) = (asked.period, asked.cut);
    let d = def.clone();
    let read = web
        .read(true, move |w| {
            let v = crate::indicators::lineage(&w.ledger, period, cut, &d, true)?;
            // The events named by the shown subjects, read once each.
            let mut seqs: Vec<u64> = Vec::new();
            for part in [Some(&v.numerator), v.denominator.as_ref()].into_iter().flatten() {
                for s in part.subjects.iter().take(MAX_SUBJECTS) {
                    seqs.extend(s.rows.iter().flat_map(|r| &r.events).map(|e| e.seq));
                }
            }
            seqs.sort_unstable();
            seqs.dedup();
            let mut events = std::collections::BTreeMap::new();
            for seq in seqs {
                if let Some(rec) = w.ledger.record(seq)? {
                    let e = rec.parse().map_err(|reason| crate::Error::Integrity { seq, reason })?;
                    events.insert(
                        seq,
                        EventLine {
                            seq,
                            occurred_on: e.occurred_on,
                            kind: e.kind,
                            actor: e.actor,
                            recorded_at: e.recorded_at,
                        },
                    );
                }
            }
            Ok((v, events))
        })
        .await;
    let (v, events) = match read {
        Ok(x) => x,
        Err(r) => return r,
    };
    let on = crate::codec::format_date(period.to);
    let card = |case: &str| {
        let mut link = format!("/cases/{}?on={on}", super::page::path_segment(case));
        if let Some(k) = &asked.known {
            link.push_str(&format!("&known_at={}", super::page::urlencode(k)));
        }
        link
    };
    let counted = &v.numerator.subjects;
    let excluded: &[crate::indicators::Excluded] = v.excluded.as_deref().unwrap_or_default();
    let event_cell = |seq: u64| -> maud::Markup {
        html! {
            @if let Some(l) = events.get(&seq) {
                span.ev {
                    "№ " (l.seq) " · " (crate::codec::parse_date(&l.occurred_on).map_or_else(|| l.occurred_on.clone(), words::date))
                    " · " (words::event_type(&l.kind)) " · " (l.actor) ", записано "
                    (crate::codec::parse_stamp(&l.recorded_at).map_or_else(|| l.recorded_at.clone(), |t| t.format("%d.%m.%Y").to_string()))
                }
            } @else { span.ev { "№ " (seq) } }
        }
    };
    let rows_of = |s: &crate::indicators::Subject| -> maud::Markup {
        html! {
            @for r in &s.rows {
                div.row {
                    @if let Some(c) = &r.case { a href=(card(c)) { "случай " (c) } " " }
                    span.facts {
                        @for (k, val) in &r.facts {
                            @if k != "family" && k != "case" { span.fact { (crate::indicators::because::fact_name(k)) ": " (crate::indicators::because::fact_value(k, val)) } " " }
                        }
                    }
                    ul.events { @for e in &r.events { li { (event_cell(e.seq)) } } }
                }
            }
        }
    };
    let body = html! {
        p { a href={ "/indicators?" (q.query_string()) } { "← Все показатели" } }
        h1 { (def.title) }
        p.lead {
            "Период " (words::date(period.from)) "–" (words::date(period.to)) (cut_words(&asked)) "."
        }
        p.figure {
            "Числитель: " strong { (amount(v.numerator.value)) }
            @if let Some(d) = &v.denominator { ", знаменатель: " strong { (amount(d.value)) } }
        }
        h2 { "Засчитаны (" (counted.len()) ")" }
        @if counted.is_empty() { p { "Никто." } }
        @else {
            table.explain {
                thead { tr { th scope="col" { "Кто" } th scope="col" { "Факты и события" } } }
                tbody {
                    @for s in counted.iter().take(MAX_SUBJECTS) {
                        tr { th scope="row" { (s.key) } td { (rows_of(s)) } }
                    }
                }
            }
            @if counted.len() > MAX_SUBJECTS { p { "Показаны первые " (MAX_SUBJECTS) "; все — в " code { "caseledger explain " (def.id) " --json" } "." } }
        }
        @if v.denominator.is_some() {
            h2 { "Не засчитаны (" (excluded.len()) ")" }
            @if excluded.is_empty() { p { "Все из знаменателя засчитаны." } }
            @else {
                table.explain {
                    thead { tr { th scope="col" { "Кто" } th scope="col" { "Почему" } th scope="col" { "Случай" } } }
                    tbody {
                        @for x in excluded.iter().take(MAX_SUBJECTS) {
                            @for w in x.why.iter().take(1) {
                                tr {
                                    th scope="row" { (x.key) }
                                    td { (w.because) }
                                    td { @if let Some(c) = w.row.as_ref().and_then(|r| r.case.as_deref()) { a href=(card(c)) { (c) } } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    page::ok(page::layout(&def.title, Some(&viewer), Nav::Figures, body))
}

/// A figure's share as people read it beside the charts: `55,2 %` (a cost per family
/// stays in rubles).
fn share(title: &str, ratio: &str) -> String {
    match ratio.parse::<f64>() {
        Ok(r) if !title.contains('₽') => format!("{}\u{a0}%", format!("{:.1}", r * 100.0).replace('.', ",")),
        _ => crate::report::ratio(title, ratio),
    }
}

/// An earlier figure as this page writes its own: `16 из 29 (55,2 %)`, money in ₽.
fn figure_words(f: &Figure) -> String {
    if no_expenses(f) {
        return "расходов нет".to_string();
    }
    let mut s = amount(f.numerator);
    if let Some(d) = f.denominator {
        s.push_str(&format!(" из {}", amount(d)));
    }
    if let Some(r) = &f.ratio {
        s.push_str(&format!(" ({})", share(&f.title, r)));
    }
    s
}

/// A cost figure of a period with no expense recorded: «расходов нет», not «0,00 ₽».
fn no_expenses(f: &Figure) -> bool {
    f.title.contains('₽') && f.numerator == crate::indicators::Number::Money(0)
}
