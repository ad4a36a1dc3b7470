//! The charts of a period's figures, decided once for the HTML report and the
//! `/indicators` page (SPEC §16): the main ratios by quarter, and ЕФО dynamics — the
//! cases closed in the period by their number of weak sides at entry and at exit.
//! Drawn as inline SVG by maud, which escapes every text.

use chrono::Datelike;
use maud::{html, Markup};

use crate::domain::words;
use crate::error::Result;
use crate::indicators::{self, Charted, Definition, Period};
use crate::ledger::Ledger;
use crate::project::{Cut, World};

/// A grouped bar chart: groups of labelled values (`None`: no value, drawn as "—"
/// rather than as a zero), one colour per series.
#[derive(Debug, Clone, PartialEq)]
pub struct Bars {
    pub title: String,
    /// What the horizontal axis counts (under the labels).
    pub axis: String,
    pub series: Vec<String>,
    pub groups: Vec<(String, Vec<Option<f64>>)>,
    pub max: f64,
    pub unit: &'static str,
    /// Said instead of the chart when it has no groups.
    pub empty: &'static str,
}

/// Quarters overlapping the period, clipped to it, with their Russian names.
pub fn quarters(p: Period) -> Vec<(String, Period)> {
    let mut out = Vec::new();
    let mut y = p.from.year();
    let mut q = (p.from.month() - 1) / 3 + 1;
    while let Some((from, to)) = indicators::def::quarter(&format!("{y}Q{q}")).filter(|(from, _)| *from <= p.to) {
        out.push((format!("{q} кв. {y}"), Period { from: from.max(p.from), to: to.min(p.to) }));
        (y, q) = if q == 4 { (y + 1, 1) } else { (y, q + 1) };
    }
    out
}

/// The ratios charted by quarter: P1, P2, P3.1 and P3.2 of the default definitions
/// when they are there, else the first four shares (a count over a count; a sum, such
/// as a cost per family, is no percentage).
fn charted_defs(defs: &[Definition]) -> Vec<Definition> {
    use crate::indicators::def::Measure;
    let share = |d: &&Definition| {
        d.denominator.as_ref().is_some_and(|q| matches!(q.measure, Measure::Count(_)))
            && matches!(d.numerator.measure, Measure::Count(_))
    };
    let main: Vec<Definition> = ["P1", "P2", "P3.1", "P3.2"]
        .iter()
        .filter_map(|id| defs.iter().find(|d| d.id == *id).filter(share))
        .cloned()
        .collect();
    if main.is_empty() {
        defs.iter().filter(share).take(4).cloned().collect()
    } else {
        main
    }
}

/// At most this many quarters are charted (ten years); a longer period gets the ЕФО
/// chart only, and a sentence saying why.
pub const MAX_QUARTERS: usize = 40;

/// The period's quarters to chart (none when there are more than [`MAX_QUARTERS`]).
fn charted_quarters(period: Period) -> (Vec<String>, Vec<Period>) {
    let q = quarters(period);
    if q.len() > MAX_QUARTERS {
        return (Vec::new(), Vec::new());
    }
    q.into_iter().unzip()
}

/// The charts of a period as known inside a cut (stored digests when the cut is now).
pub fn of_ledger(ledger: &Ledger, period: Period, cut: Cut, defs: &[Definition]) -> Result<Vec<Bars>> {
    let (labels, parts) = charted_quarters(period);
    let chosen = charted_defs(defs);
    let charted = indicators::memo::charted(ledger, period, &parts, cut, &chosen)?;
    Ok(draw(charted, labels, &chosen))
}

/// The charts of a period over a loaded world (reports trust no derived data).
pub fn of_world(world: &World, period: Period, cut: Cut, defs: &[Definition]) -> Vec<Bars> {
    let (labels, parts) = charted_quarters(period);
    let chosen = charted_defs(defs);
    draw(indicators::charted_in(world, period, &parts, cut, &chosen), labels, &chosen)
}

fn draw(charted: Charted, labels: Vec<String>, chosen: &[Definition]) -> Vec<Bars> {
    let mut out = vec![efo_dynamics(&charted.efo)];
    if !chosen.is_empty() {
        let groups = labels
            .into_iter()
            .zip(&charted.ratios)
            .map(|(label, ratios)| {
                let percents = ratios
                    .iter()
                    .map(|r| r.as_deref().and_then(|r| r.parse::<f64>().ok()).map(|r| r * 100.0))
                    .collect();
                (label, percents)
            })
            .collect();
        out.push(Bars {
            title: "Доли по кварталам, % (числитель и знаменатель за квартал)".into(),
            axis: "квартал".into(),
            series: chosen.iter().map(|d| d.title.clone()).collect(),
            groups,
            max: 100.0,
            unit: " %",
            empty: "Доли по кварталам строятся для периода не длиннее 10 лет.",
        });
    }
    out
}

/// ЕФО dynamics: how many of the cases closed in the period had each number of weak
/// sides at entry and at exit (in at most [`MAX_BINS`] ranges of equal width), with
/// the means in the title. `histogram` is (weak sides, cases at entry, at exit).
fn efo_dynamics(histogram: &[(i64, u64, u64)]) -> Bars {
    let top = histogram.iter().map(|(k, _, _)| *k).max().unwrap_or(0).max(0);
    let width = [1, 2, 3, 4, 5, 10, 15, 20, 25, 50, 100, 250, 500, 1000]
        .into_iter()
        .find(|w| top / w < MAX_BINS)
        .unwrap_or(top / MAX_BINS + 1);
    let n: u64 = histogram.iter().map(|(_, a, _)| a).sum();
    let groups: Vec<(String, Vec<Option<f64>>)> = if n == 0 {
        Vec::new()
    } else {
        (0..=top / width)
            .map(|bin| {
                let (lo, hi) = (bin * width, bin * width + width - 1);
                let label = if width == 1 { lo.to_string() } else { format!("{lo}–{hi}") };
                let inside = histogram.iter().filter(|(k, _, _)| (*k).max(0) / width == bin);
                let (a, b) = inside.fold((0, 0), |(a, b), (_, x, y)| (a + x, b + y));
                (label, vec![Some(a as f64), Some(b as f64)])
            })
            .collect()
    };
    let max = groups.iter().flat_map(|(_, v)| v.iter().flatten()).fold(0.0, |m: f64, v| m.max(*v));
    let mean = |side: fn(&(i64, u64, u64)) -> u64| {
        let sum: i64 = histogram.iter().map(|h| h.0 * side(h) as i64).sum();
        words::decimal(sum as f64 / n.max(1) as f64, 1)
    };
    Bars {
        title: format!(
            "Динамика ЕФО: {}, закрытых в периоде, по числу слабых сторон на входе и на выходе (в среднем {} → {})",
            words::plural(n, ("случай", "случая", "случаев")),
            mean(|h| h.1),
            mean(|h| h.2)
        ),
        axis: "число слабых сторон".into(),
        series: vec!["на входе".into(), "на выходе".into()],
        groups,
        max,
        unit: "",
        empty: "Нет закрытых за период случаев с ЕФО на входе и на выходе.",
    }
}

/// At most this many ranges of weak sides on the ЕФО chart.
const MAX_BINS: i64 = 12;

const COLORS: [&str; 4] = ["#2f6db5", "#e08a2e", "#3a9a5b", "#8e5ab5"];

fn num(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        words::decimal(v, 1)
    }
}

/// The chart as a `<figure>` with an inline SVG (or its `empty` words).
pub fn svg(b: &Bars) -> Markup {
    let (w, h, left, bottom, top) = (860.0_f64, 290.0_f64, 40.0_f64, 66.0_f64, 20.0_f64);
    let plot_h = h - bottom - top;
    let gw = (w - left - 10.0) / b.groups.len().max(1) as f64;
    let bw = (gw * 0.8 / b.series.len().max(1) as f64).min(40.0);
    let f1 = |x: f64| format!("{x:.1}");
    html! {
        figure.chart {
            figcaption { (b.title) }
            @if b.groups.is_empty() {
                p.none { (b.empty) }
            } @else {
                svg xmlns="http://www.w3.org/2000/svg" viewBox=(format!("0 0 {w} {h}")) width="100%" role="img" aria-label=(b.title) {
                    line x1=(left) y1=(h - bottom) x2=(w - 5.0) y2=(h - bottom) stroke="#888" {}
                    @for (gi, (label, values)) in b.groups.iter().enumerate() {
                        @let gx = left + gi as f64 * gw + gw * 0.1;
                        @for (si, v) in values.iter().enumerate() {
                            @let x = gx + si as f64 * bw;
                            @if let Some(v) = v {
                                @let bh = if b.max > 0.0 { v / b.max * plot_h } else { 0.0 };
                                @let y = h - bottom - bh;
                                rect x=(f1(x)) y=(f1(y)) width=(f1(bw - 2.0)) height=(f1(bh)) fill=(COLORS[si % COLORS.len()]) {
                                    title { (b.series[si]) ": " (num(*v)) (b.unit) }
                                }
                                text x=(f1(x + bw / 2.0 - 1.0)) y=(f1(y - 3.0)) font-size="10" text-anchor="middle" { (num(*v)) }
                            } @else {
                                text x=(f1(x + bw / 2.0 - 1.0)) y=(f1(h - bottom - 3.0)) font-size="10" text-anchor="middle" { "—" }
                            }
                        }
                        @let lx = gx + gw * 0.4;
                        text x=(f1(lx)) y=(f1(h - bottom + 14.0)) font-size="11" text-anchor="middle" { (label) }
                    }
                    text x=(f1(left + (w - left) / 2.0)) y=(f1(h - 8.0)) font-size="11" text-anchor="middle" fill="#555" { (b.axis) }
                }
                // The legend in words a phone can read, beside the picture, not inside it.
                ul.legend {
                    @for (si, name) in b.series.iter().enumerate() {
                        li {
                            svg xmlns="http://www.w3.org/2000/svg" width="12" height="12" aria-hidden="true" {
                                rect width="12" height="12" fill=(COLORS[si % COLORS.len()]) {}
                            }
                            " " (name)
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn costs_are_not_charted_as_percentages() {
        let defs = indicators::default_definitions();
        let ids = |ds: Vec<Definition>| ds.into_iter().map(|d| d.id).collect::<Vec<_>>();
        assert_eq!(ids(charted_defs(&defs)), ["P1", "P2", "P3.1", "P3.2"]);
        // Without the main four, the first four shares: never cost_per_family.
        let rest: Vec<Definition> =
            defs.iter().filter(|d| !["P1", "P2", "P3.1", "P3.2"].contains(&d.id.as_str())).cloned().collect();
        let chosen = ids(charted_defs(&rest));
        assert_eq!(chosen.len(), 4);
        assert!(!chosen.iter().any(|id| id.starts_with("cost")), "{chosen:?}");
    }

    #[test]
    fn many_weak_sides_fall_into_at_most_twelve_ranges() {
        // 8 to 35 weak sides (seed 001's cases): ranges of 3.
        let b = efo_dynamics(&indicators::efo_histogram([(35, 8), (20, 12), (18, 9)]));
        assert_eq!(b.groups.len(), 12);
        assert_eq!(b.groups[0].0, "0–2");
        assert_eq!(b.groups[11], ("33–35".to_string(), vec![Some(1.0), Some(0.0)]));
        assert_eq!(b.groups[2], ("6–8".to_string(), vec![Some(0.0), Some(1.0)]));
        assert_eq!(b.groups[3], ("9–11".to_string(), vec![Some(0.0), Some(1.0)]));
        assert_eq!(b.groups[6], ("18–20".to_string(), vec![Some(2.0), Some(0.0)]));
    }

    #[test]
    fn efo_dynamics_counts_cases_by_weak_sides() {
        // Three cases: 4 → 1, 4 → 0, 2 → 1.
        let b = efo_dynamics(&indicators::efo_histogram([(4, 1), (4, 0), (2, 1)]));
        let at = |k: usize| b.groups[k].1.clone();
        assert_eq!(b.groups.len(), 5, "0 to 4 weak sides");
        assert_eq!(at(0), vec![Some(0.0), Some(1.0)]);
        assert_eq!(at(1), vec![Some(0.0), Some(2.0)]);
        assert_eq!(at(2), vec![Some(1.0), Some(0.0)]);
        assert_eq!(at(4), vec![Some(2.0), Some(0.0)]);
        assert_eq!(b.max, 2.0);
        assert!(b.title.contains("3 случая"), "{}", b.title);
        assert!(b.title.contains("в среднем 3,3 → 0,7"), "{}", b.title);
        assert!(efo_dynamics(&[]).groups.is_empty());
    }

    #[test]
    fn the_svg_escapes_and_closes_every_element() {
        let b = Bars {
            title: "<b>&".into(),
            axis: "x".into(),
            series: vec!["a".into()],
            groups: vec![("1 кв. 2020".into(), vec![Some(50.0)]), ("2 кв. 2020".into(), vec![None])],
            max: 100.0,
            unit: " %",
            empty: "",
        };
        let s = svg(&b).into_string();
        assert!(s.contains("&lt;b&gt;&amp;") && !s.contains("<b>"));
        // Inline SVG inside HTML: every element closed explicitly.
        assert_eq!(s.matches("<rect").count(), s.matches("</rect>").count());
        assert_eq!(s.matches("<line").count(), s.matches("</line>").count());
        assert!(s.contains("<title>a: 50 %</title>") && s.contains(">—</text>"));
    }
}
