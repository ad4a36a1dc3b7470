//! `report html`: one self-contained HTML page (no network: inline CSS and SVG) with
//! the figures and ratios of a period, the cut and the ledger head they come from, a
//! bar chart of ЕФО dynamics and the main ratios by quarter. Printable to PDF.

use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use crate::codec::hex;
use crate::domain::words;
use crate::error::Result;
use crate::indicators::{self, Definition, Figure, Period};
use crate::ledger::Ledger;
use crate::project::{Cut, World};
use crate::report::{amount, charts, cut_words, ratio, ru_date};

/// A figure's row: id, title, value, denominator, and the ratio as a percentage (a
/// money ratio, such as cost per family, as its amount).
fn figure_row(f: &Figure) -> Markup {
    let ratio = match (&f.ratio, f.ratio.as_deref().and_then(|r| r.parse::<f64>().ok())) {
        (Some(r), Some(_)) if f.title.contains('₽') => ratio(&f.title, r),
        (Some(_), Some(p)) => format!("{} %", words::decimal(p * 100.0, 1)),
        _ => String::new(),
    };
    html! {
        tr {
            td { (f.id) }
            td { (f.title) }
            td.n { (amount(f.numerator)) }
            td.n { @if let Some(d) = f.denominator { (amount(d)) } }
            td.n { (ratio) }
        }
    }
}

const STYLE: &str = r#"body{font-family:"DejaVu Sans",Arial,sans-serif;margin:2em;color:#222;max-width:60em}
h1{font-size:1.4em} .legend{list-style:none;padding:0;margin:.3em 0 1em;font-size:.9em} table{border-collapse:collapse;width:100%;margin:1em 0}
td,th{border:1px solid #bbb;padding:.3em .5em;font-size:.9em;vertical-align:top} th{background:#eef2f7;text-align:left}
td.n{text-align:right;white-space:nowrap} .meta{color:#555;font-size:.85em} code{font-size:.85em;word-break:break-all}
figure{margin:1.5em 0;page-break-inside:avoid} figcaption{font-weight:bold;margin-bottom:.3em}
@media print{body{margin:0}}"#;

pub fn render(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition], now: DateTime<Utc>) -> Result<String> {
    let world = World::load(ledger, cut)?;
    let c = indicators::compute_in(&world, period, cut, defs);
    let known = cut_words(Cut { known_at: c.known_at, at_seq: cut.at_seq }, now);
    let charts = charts::of_world(&world, period, cut, defs);
    let page = html! {
        (DOCTYPE)
        html lang="ru" {
            head {
                meta charset="utf-8";
                title { "Показатели " (ru_date(period.from)) "–" (ru_date(period.to)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                @if let Some(org) = ledger.organisation() { p.meta { (org) } }
                h1 { "Показатели социальных результатов за " (ru_date(period.from)) "–" (ru_date(period.to)) }
                p.meta {
                    "Срез: " (known) ". Реестр: последнее событие среза № " (c.seq) ", хеш " code { (hex(&c.head)) }
                    ". Сформировано " (words::moment(&now)) "."
                }
                table {
                    thead { tr { th { "id" } th { "показатель" } th { "значение" } th { "из" } th { "доля" } } }
                    tbody { @for f in &c.figures { (figure_row(f)) } }
                }
                @for b in &charts { (charts::svg(b)) }
                p.meta {
                    "Каждое число выводится из событий реестра; проверка: " code { "caseledger report verify" }
                    ", происхождение: " code { "caseledger explain ID" } "."
                }
            }
        }
    };
    let mut out = page.into_string();
    out.push('\n');
    Ok(out)
}
