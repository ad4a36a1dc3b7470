//! `indicators` and `explain`: figures for a period and a cut, and their lineage.

use std::io::Write;

use crate::error::{Error, Refusal, Result};
use crate::indicators::because;
use crate::indicators::{self, Definition, Period};
use crate::ledger::Ledger;
use crate::project::Cut;
pub use crate::query::{CutArgs, PeriodArgs};

use crate::report::ru_date;

/// What every figure command takes: definitions, a period, a cut.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct FigureArgs {
    /// Definition file (default: the built-in «Мама рядом» set).
    #[arg(long, value_name = "FILE")]
    pub defs: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub period: PeriodArgs,
    #[command(flatten)]
    pub cut: CutArgs,
}

impl FigureArgs {
    pub fn resolve(&self) -> Result<(Vec<Definition>, Period, Cut)> {
        Ok((definitions(self.defs.as_deref())?, self.period.resolve()?, self.cut.resolve()?))
    }
}

/// `--defs FILE`, else the built-in set.
pub fn definitions(defs: Option<&std::path::Path>) -> Result<Vec<Definition>> {
    match defs {
        None => Ok(indicators::default_definitions()),
        Some(p) => {
            let text = std::fs::read(p).map_err(|e| Error::Usage(crate::say::cannot_read(&p.display(), &e)))?;
            indicators::load_definitions(&text, &p.display().to_string())
        }
    }
}

pub fn print_indicators(
    ledger: &Ledger,
    period: Period,
    cut: Cut,
    defs: &[Definition],
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    // A question asked before of the same prefix of the chain is answered from the memo.
    let v = indicators::memo::figures(ledger, period, cut, defs)?;
    if json {
        writeln!(out, "{}", v.to_json())?;
        return Ok(());
    }
    let known = crate::report::cut_words(cut, chrono::Utc::now());
    writeln!(out, "Показатели за {}–{}, {known}", ru_date(period.from), ru_date(period.to))?;
    writeln!(out, "Реестр: последнее событие среза № {}, хеш {}", v.seq, crate::codec::hex(&v.head))?;
    writeln!(out, "{:<24} {:>14} {:>8} {:>14}  показатель", "id", "значение", "из", "доля")?;
    for f in &v.figures {
        let ratio = f.ratio.as_deref().map(|r| crate::report::ratio(&f.title, r)).unwrap_or_default();
        writeln!(
            out,
            "{:<24} {:>14} {:>8} {:>14}  {}",
            f.id,
            crate::report::amount(f.numerator),
            f.denominator.map(crate::report::amount).unwrap_or_default(),
            ratio,
            f.title,
        )?;
    }
    Ok(())
}

/// What `explain` is asked.
pub struct ExplainArgs<'a> {
    pub id: &'a str,
    pub period: Period,
    pub cut: Cut,
    pub excluded: bool,
}

pub fn print_explain(
    ledger: &Ledger,
    a: ExplainArgs<'_>,
    defs: &[Definition],
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let ExplainArgs { id, period, cut, excluded } = a;
    let def = defs.iter().find(|d| d.id == id).ok_or_else(|| {
        let ids: Vec<&str> = defs.iter().map(|d| d.id.as_str()).collect();
        Error::refused(Refusal::new(None, format!("нет показателя `{id}`; есть: `{}`", ids.join("`, `"))))
    })?;
    let v = indicators::lineage(ledger, period, cut, def, excluded)?;
    if json {
        writeln!(out, "{}", v.to_json())?;
        return Ok(());
    }
    writeln!(out, "{} — {}", def.id, def.title)?;
    writeln!(out, "Период {}–{}", ru_date(period.from), ru_date(period.to))?;
    for (part, label) in [(Some(&v.numerator), "Числитель"), (v.denominator.as_ref(), "Знаменатель")]
    {
        let Some(p) = part else { continue };
        writeln!(out, "{label}: {}", crate::report::amount(p.value))?;
        for s in &p.subjects {
            writeln!(out, "  {}", s.key)?;
            for r in &s.rows {
                let facts: Vec<String> = r
                    .facts
                    .iter()
                    .map(|(k, v)| format!("{}: {}", because::fact_name(k), because::fact_value(k, v)))
                    .collect();
                let events: Vec<String> =
                    r.events.iter().map(|e| format!("№ {} ({}…)", e.seq, &e.hash[..12.min(e.hash.len())])).collect();
                let rows = because::rows_title(&r.rows);
                writeln!(out, "    {rows}: {}; события {}", facts.join(", "), events.join(", "))?;
            }
        }
    }
    if let Some(list) = &v.excluded {
        writeln!(out, "В знаменателе, но не в числителе: {}", list.len())?;
        for x in list {
            let why: Vec<&str> = x.why.iter().map(|w| w.because.as_str()).collect();
            writeln!(out, "  {}: {}", x.key, why.join("; "))?;
        }
    }
    Ok(())
}
