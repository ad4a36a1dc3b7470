//! `report html`: one self-contained HTML page (no network: inline CSS and SVG) with
//! the figures and ratios of a period, the cut and the ledger head they come from, a
//! bar chart of ЕФО dynamics and the main ratios by quarter. Printable to PDF.

use std::fmt::Write as _;

use chrono::{DateTime, Datelike, Utc};

use crate::error::Result;
use crate::indicators::{self, Definition, Figure, Period};
use crate::ledger::event::hex;
use crate::ledger::Ledger;
use crate::project::case::fold_all;
use crate::project::{Cut, World};
use crate::report::{plain, ru_date};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Quarters overlapping the period, clipped to it.
fn quarters(p: Period) -> Vec<(String, Period)> {
    let mut out = Vec::new();
    let mut y = p.from.year();
    let mut q = (p.from.month() - 1) / 3 + 1;
    while let Some((from, to)) = indicators::def::quarter(&format!("{y}Q{q}")).filter(|(from, _)| *from <= p.to) {
        out.push((format!("{q} кв. {y}"), Period { from: from.max(p.from), to: to.min(p.to) }));
        (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
    }
    out
}

const BAR_COLORS: [&str; 4] = ["#2f6db5", "#e08a2e", "#3a9a5b", "#8e5ab5"];

/// A grouped vertical bar chart: groups of labelled values (`None`: no value, drawn
/// as "—" rather than as a zero), one colour per series.
fn bars(title: &str, series: &[&str], groups: &[(String, Vec<Option<f64>>)], max: f64, unit: &str) -> String {
    let (w, h, left, bottom, top) = (860.0, 300.0, 40.0, 60.0, 30.0);
    let plot_h = h - bottom - top;
    let gw = (w - left - 10.0) / groups.len().max(1) as f64;
    let bw = (gw * 0.8 / series.len().max(1) as f64).min(40.0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<figure><figcaption>{}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="100%" role="img" aria-label="{}">"#,
        esc(title),
        esc(title)
    );
    let _ =
        write!(s, r##"<line x1="{left}" y1="{}" x2="{}" y2="{}" stroke="#888"/>"##, h - bottom, w - 5.0, h - bottom);
    for (gi, (label, values)) in groups.iter().enumerate() {
        let gx = left + gi as f64 * gw + gw * 0.1;
        for (si, v) in values.iter().enumerate() {
            let x = gx + si as f64 * bw;
            let Some(v) = v else {
                let _ = write!(
                    s,
                    r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">—</text>"#,
                    x + bw / 2.0 - 1.0,
                    h - bottom - 3.0
                );
                continue;
            };
            let bh = if max > 0.0 { v / max * plot_h } else { 0.0 };
            let y = h - bottom - bh;
            let _ = write!(
                s,
                r#"<rect x="{x:.1}" y="{y:.1}" width="{:.1}" height="{bh:.1}" fill="{}"><title>{}: {v}{unit}</title></rect>"#,
                bw - 2.0,
                BAR_COLORS[si % BAR_COLORS.len()],
                esc(series[si])
            );
            let _ = write!(
                s,
                r#"<text x="{:.1}" y="{:.1}" font-size="10" text-anchor="middle">{}</text>"#,
                x + bw / 2.0 - 1.0,
                y - 3.0,
                fmt_num(*v)
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{:.1}" font-size="11" text-anchor="end" transform="rotate(-35 {:.1} {:.1})">{}</text>"#,
            gx + gw * 0.4,
            h - bottom + 14.0,
            gx + gw * 0.4,
            h - bottom + 14.0,
            esc(label)
        );
    }
    for (si, name) in series.iter().enumerate() {
        let x = left + si as f64 * 190.0;
        let _ = write!(
            s,
            r#"<rect x="{x}" y="6" width="12" height="12" fill="{}"/><text x="{}" y="16" font-size="12">{}</text>"#,
            BAR_COLORS[si % 4],
            x + 16.0,
            esc(name)
        );
    }
    s.push_str("</svg></figure>");
    s
}

fn fmt_num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn figure_row(f: &Figure) -> String {
    let j = f.to_json();
    let pct = f.ratio.as_deref().and_then(|r| r.parse::<f64>().ok()).map(|r| format!("{:.1} %", r * 100.0));
    format!(
        "<tr><td>{}</td><td>{}</td><td class=n>{}</td><td class=n>{}</td><td class=n>{}</td></tr>",
        esc(&f.id),
        esc(&f.title),
        esc(&plain(&j["numerator"])),
        j.get("denominator").map(|d| esc(&plain(d))).unwrap_or_default(),
        match (&f.ratio, pct) {
            (Some(r), Some(_)) if f.title.contains('₽') => esc(r),
            (Some(_), Some(p)) => p,
            _ => String::new(),
        }
    )
}

pub fn render(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition], now: DateTime<Utc>) -> Result<String> {
    let world = World::load(ledger, cut)?;
    let c = indicators::compute_in(&world, period, cut, defs);
    // Moments as people write them: a whole day's end is that day (31.01.2021),
    // another moment has its time (31.01.2021 09:15 UTC).
    let moment = |t: &DateTime<Utc>| {
        if t.format("%H:%M:%S").to_string() == "23:59:59" {
            ru_date(t.date_naive())
        } else {
            crate::domain::words::moment(t)
        }
    };
    let known = match (c.known_at, cut.at_seq) {
        (Some(t), _) => format!("как известно на {}", moment(&t)),
        (None, Some(n)) => format!("как известно на событие № {n}"),
        (None, None) => format!("по всем записям реестра на {}", moment(&now)),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        r#"<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Показатели {from}–{to}</title><style>
body{{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em;color:#222;max-width:60em}}
h1{{font-size:1.4em}} table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #bbb;padding:.3em .5em;font-size:.9em;vertical-align:top}} th{{background:#eef2f7;text-align:left}}
td.n{{text-align:right;white-space:nowrap}} .meta{{color:#555;font-size:.85em}} code{{font-size:.85em;word-break:break-all}}
figure{{margin:1.5em 0;page-break-inside:avoid}} figcaption{{font-weight:bold;margin-bottom:.3em}}
@media print{{body{{margin:0}}}}
</style></head><body>
<h1>Показатели социальных результатов за {from}–{to}</h1>
<p class=meta>Срез: {known}. Реестр: последнее событие среза № {seq}, хеш <code>{head}</code>. Сформировано {created}.</p>
<table><thead><tr><th>id</th><th>показатель</th><th>значение</th><th>из</th><th>доля</th></tr></thead><tbody>"#,
        from = ru_date(period.from),
        to = ru_date(period.to),
        known = esc(&known),
        seq = c.seq,
        head = hex(&c.head),
        created = moment(&now),
    );
    for f in &c.figures {
        h.push_str(&figure_row(f));
    }
    h.push_str("</tbody></table>");

    // ЕФО dynamics of the cases closed in the period.
    let closed: Vec<_> = fold_all(&world, Some(period.to))
        .into_iter()
        .filter(|s| s.closed_on.is_some_and(|d| d >= period.from))
        .filter_map(|s| {
            Some((s.case.0.clone(), s.efo.entry.as_ref()?.weak_sides as f64, s.efo.exit.as_ref()?.weak_sides as f64))
        })
        .collect();
    if closed.is_empty() {
        h.push_str("<p>Нет закрытых за период случаев с ЕФО на входе и выходе.</p>");
    } else {
        let shown: Vec<(String, Vec<Option<f64>>)> =
            closed.iter().take(30).map(|(c, a, b)| (c.clone(), vec![Some(*a), Some(*b)])).collect();
        let max = closed.iter().take(30).map(|(_, a, b)| a.max(*b)).fold(0.0, f64::max);
        let more = if closed.len() > 30 { format!(" (первые 30 из {})", closed.len()) } else { String::new() };
        h.push_str(&bars(
            &format!("Динамика ЕФО: число слабых сторон на входе и на выходе{more}"),
            &["вход", "выход"],
            &shown,
            max,
            "",
        ));
    }

    // The main ratios by quarter.
    let charted: Vec<&Definition> = ["P1", "P2", "P3.1", "P3.2"]
        .iter()
        .filter_map(|id| defs.iter().find(|d| d.id == *id && d.denominator.is_some()))
        .collect();
    let charted: Vec<&Definition> =
        if charted.is_empty() { defs.iter().filter(|d| d.denominator.is_some()).take(4).collect() } else { charted };
    if !charted.is_empty() {
        let owned: Vec<Definition> = charted.iter().map(|d| (*d).clone()).collect();
        let groups: Vec<(String, Vec<Option<f64>>)> = quarters(period)
            .into_iter()
            .map(|(label, q)| {
                let qc = indicators::compute_in(&world, q, cut, &owned);
                let vals = qc
                    .figures
                    .iter()
                    .map(|f| f.ratio.as_deref().and_then(|r| r.parse::<f64>().ok()).map(|r| r * 100.0))
                    .collect();
                (label, vals)
            })
            .collect();
        let names: Vec<&str> = charted.iter().map(|d| d.id.as_str()).collect();
        h.push_str(&bars("Доли по кварталам, % (числитель / знаменатель за квартал)", &names, &groups, 100.0, " %"));
    }
    h.push_str("<p class=meta>Каждое число выводится из событий реестра; проверка: <code>caseledger report verify</code>, происхождение: <code>caseledger explain ID</code>.</p></body></html>\n");
    Ok(h)
}
