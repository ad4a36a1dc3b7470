//! `report create` and `report verify` (SPEC §10).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::report::{self, figure_text as figure, plain};

use super::figures::FigureArgs;

#[derive(clap::Subcommand, Debug)]
pub enum ReportCommand {
    /// A self-contained, hashed JSON report of the figures for a period and a cut.
    Create {
        #[command(flatten)]
        args: FigureArgs,
        /// Write the report here (atomically) instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// One self-contained HTML page: figures, ratios, the cut and ledger head, charts.
    Html {
        #[command(flatten)]
        args: FigureArgs,
        /// FILE.html
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// The funder's bundle (SPEC §15): report, events, lineage, policy and a README in
    /// one zip that verifies with no access to the organisation.
    Bundle {
        #[command(flatten)]
        args: FigureArgs,
        /// FILE.zip
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Check a report against the ledger and show how its figures read now.
    Verify {
        /// The report (JSON).
        file: PathBuf,
    },
}

pub fn run(dir: &Path, cmd: ReportCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    match cmd {
        ReportCommand::Create { args, out: file } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = Ledger::open(dir)?;
            let r = report::create(&ledger, period, cut, &defs, chrono::Utc::now())?;
            let text = serde_json::to_string_pretty(&r).map_err(std::io::Error::from)? + "\n";
            match file {
                Some(path) => super::write_atomically(&path, |w| Ok(w.write_all(text.as_bytes())?))?,
                None => out.write_all(text.as_bytes())?,
            }
        }
        ReportCommand::Html { args, out: file } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = Ledger::open(dir)?;
            let page = report::html::render(&ledger, period, cut, &defs, chrono::Utc::now())?;
            super::write_atomically(&file, |w| Ok(w.write_all(page.as_bytes())?))?;
            writeln!(out, "отчёт записан: {}", file.display())?;
        }
        ReportCommand::Bundle { args, out: file } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = Ledger::open(dir)?;
            let zip = crate::bundle::create(&ledger, period, cut, &defs, chrono::Utc::now())?;
            super::write_atomically(&file, |w| Ok(w.write_all(&zip)?))?;
            writeln!(out, "пакет записан: {} ({} байт)", file.display(), zip.len())?;
        }
        ReportCommand::Verify { file } => {
            let text =
                std::fs::read(&file).map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display())))?;
            let value = match crate::ledger::json::read_file(&text) {
                Ok(v) => v,
                Err(e) => return Err(Error::Mismatch(format!("{}: not a JSON report: {e}", file.display()))),
            };
            let ledger = Ledger::open(dir)?;
            let v = report::verify(&ledger, &value)?;
            if json {
                writeln!(out, "{}", v.to_json())?;
            } else {
                print_human(&v, &value, out)?;
            }
            if !v.ok() {
                out.flush()?;
                return Err(Error::Mismatch(format!(
                    "report {} does not verify: {}",
                    file.display(),
                    v.failures.join("; ")
                )));
            }
        }
    }
    Ok(())
}

fn print_human(v: &report::Verification, report: &serde_json::Value, out: &mut dyn Write) -> Result<()> {
    if v.ok() {
        writeln!(
            out,
            "Отчёт верен: хеш совпадает, история реестра до события № {} та же, показатели пересчитаны и совпадают.",
            report["ledger"]["seq"]
        )?;
        match &v.cosigned {
            None => writeln!(out, "Контрольной точки в отчёте нет (у реестра не было ключа подписи).")?,
            Some(names) => {
                let size = report["checkpoint"].as_str().and_then(|n| n.lines().nth(1)).unwrap_or("?");
                writeln!(
                    out,
                    "Контрольная точка размера {size} подписана ключом реестра; сегодняшний реестр её продолжает{}.",
                    if names.is_empty() {
                        String::new()
                    } else {
                        format!("; заверили свидетели: {}", names.join(", "))
                    }
                )?;
            }
        }
    } else {
        writeln!(out, "Отчёт НЕ проходит проверку:")?;
        for f in &v.failures {
            writeln!(out, "  - {f}")?;
        }
        return Ok(());
    }
    if v.changed.is_empty() {
        writeln!(out, "Как известно сейчас: все показатели те же.")?;
        return Ok(());
    }
    writeln!(out, "Как известно сейчас, изменились:")?;
    for c in &v.changed {
        writeln!(out, "  {}: в отчёте {}, сейчас {}", plain(&c["id"]), figure(&c["then"]), figure(&c["now"]))?;
        write_movers(c, out)?;
    }
    Ok(())
}

/// `bundle verify` and `bundle diff` (SPEC §15): no ledger needed.
#[derive(clap::Subcommand, Debug)]
pub enum BundleCommand {
    /// Check a bundle with no ledger: report hash, every event, the tree and the signed
    /// checkpoint, the witnesses' quorum, the figures re-derived, the lineage.
    Verify {
        /// FILE.zip
        file: PathBuf,
        /// The log's verifier key as the organisation gave it (else the bundle's own).
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        /// The funder's own witness policy (C2SP tlog-policy: `witness NAME VKEY URL`,
        /// `quorum N`); else the bundle's own policy.txt.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
    /// Check that NEW's history extends OLD's and list OLD's figures that read
    /// differently in NEW, with the events that moved them.
    Diff {
        old: PathBuf,
        new: PathBuf,
        #[arg(long, value_name = "VKEY")]
        key: Option<String>,
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
    },
}

fn read_bundle(file: &Path) -> Result<Vec<u8>> {
    std::fs::read(file).map_err(|e| Error::Usage(format!("cannot read {}: {e}", file.display())))
}

fn read_policy(file: Option<&Path>) -> Result<Option<String>> {
    file.map(|f| std::fs::read_to_string(f).map_err(|e| Error::Usage(format!("cannot read {}: {e}", f.display()))))
        .transpose()
}

pub fn run_bundle(cmd: BundleCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    match cmd {
        BundleCommand::Verify { file, key, policy } => {
            let policy = read_policy(policy.as_deref())?;
            let v = crate::bundle::verify(&read_bundle(&file)?, key.as_deref(), policy.as_deref())?;
            if json {
                writeln!(out, "{}", v.to_json())?;
            } else if v.ok() {
                writeln!(
                    out,
                    "Пакет верен: отчёт не изменён; события 1–{} целы и идут подряд; они — история, подписанная в контрольной точке размера {}; {}; показателей пересчитано и совпало: {}.",
                    v.seq,
                    v.checkpoint_size.unwrap_or(0),
                    if v.cosigned.is_empty() { "свидетелей нет".to_string() } else { format!("заверили свидетели: {}", v.cosigned.join(", ")) },
                    v.figures_rederived
                )?;
                writeln!(out, "{}", v.key_note)?;
            } else {
                writeln!(out, "Пакет НЕ проходит проверку:")?;
                for f in &v.failures {
                    writeln!(out, "  - {f}")?;
                }
            }
            if let Some(first) = v.failures.first() {
                out.flush()?;
                return Err(Error::Mismatch(format!("пакет {} не проходит проверку: {first}", file.display())));
            }
        }
        BundleCommand::Diff { old, new, key, policy } => {
            let policy = read_policy(policy.as_deref())?;
            let d = crate::bundle::diff(&read_bundle(&old)?, &read_bundle(&new)?, key.as_deref(), policy.as_deref())?;
            if json {
                writeln!(out, "{}", d.to_json())?;
                return Ok(());
            }
            writeln!(
                out,
                "Новый пакет продолжает историю старого: события 1–{} те же, добавлены № {}–{}.",
                d.old.0,
                d.old.0 + 1,
                d.new.0
            )?;
            if d.changed.is_empty() {
                writeln!(out, "Все показатели старого отчёта читаются по новым событиям так же.")?;
            }
            for c in &d.changed {
                writeln!(out, "  {}: было {}, теперь {}", plain(&c["id"]), figure(&c["then"]), figure(&c["now"]))?;
                write_movers(c, out)?;
            }
        }
    }
    Ok(())
}

/// The events that moved a changed figure (its `events`), a line each.
fn write_movers(changed: &serde_json::Value, out: &mut dyn Write) -> Result<()> {
    for e in changed["events"].as_array().into_iter().flatten() {
        writeln!(out, "    из-за события № {} {} ({})", e["seq"], plain(&e["type"]), plain(&e["id"]))?;
    }
    Ok(())
}

/// `aggregate`: each indicator, its organisations' figures and the total.
pub fn print_aggregate(agg: &crate::analysis::Aggregate, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        writeln!(out, "{}", agg.to_json())?;
        return Ok(());
    }
    writeln!(
        out,
        "Сводка за {}–{}: {} проверены",
        crate::report::ru_date(agg.period.from),
        crate::report::ru_date(agg.period.to),
        crate::domain::words::plural(agg.organisations.len() as u64, ("пакет", "пакета", "пакетов"))
    )?;
    writeln!(out, "{}", agg.provenance())?;
    let width = agg.organisations.iter().map(|o| o.origin.chars().count()).max().unwrap_or(0).max(6);
    for t in &agg.indicators {
        writeln!(out, "\n{} — {}", t.id, t.title)?;
        for (i, f) in &t.rows {
            let origin = &agg.organisations[*i].origin;
            writeln!(out, "  {origin:<width$}  {}", crate::report::figure_text(f))?;
        }
        writeln!(out, "  {:<width$}  {}", "итого", crate::report::figure_text(&t.total))?;
    }
    Ok(())
}
