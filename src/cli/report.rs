//! `report create` and `report verify` (SPEC §10).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::report::{self, figure_words};

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
        /// Publish it (SPEC §19): record `report_published` naming it and sign and
        /// witness a checkpoint that covers it; needs the signing key.
        #[arg(long)]
        publish: bool,
        /// Who publishes (with --publish): else $CASELEDGER_ACTOR, else the OS user.
        #[arg(long, env = "CASELEDGER_ACTOR", value_name = "A")]
        actor: Option<String>,
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
        /// Who publishes: else $CASELEDGER_ACTOR, else the OS user.
        #[arg(long, env = "CASELEDGER_ACTOR", value_name = "A")]
        actor: Option<String>,
    },
    /// Check a report against the ledger and show how its figures read now.
    Verify {
        /// The report (JSON).
        file: PathBuf,
    },
}

pub(crate) fn run(
    ctx: &super::context::Ctx,
    dir: &Path,
    cmd: ReportCommand,
    json: bool,
    out: &mut dyn Write,
) -> Result<()> {
    match cmd {
        ReportCommand::Create { args, out: file, publish, actor } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = ctx.open(dir)?;
            let r = if publish {
                let actor = super::context::resolve_actor(actor)?;
                let request = report::publish::Request { period, cut, defs: &defs };
                let none = |_: &serde_json::Value, _| Ok(Vec::new());
                let p = report::publish::publish(&ledger, &request, none, &append_as(&ledger, &actor))?;
                eprintln!(
                    "{}",
                    report::publish::words(p.event, &p.recorded_at, p.cosigned_at, crate::domain::words::zone())
                );
                p.report
            } else {
                report::create(&ledger, period, cut, &defs, chrono::Utc::now())?
            };
            let text = serde_json::to_string_pretty(&r).map_err(std::io::Error::from)? + "\n";
            match file {
                Some(path) => crate::files::write_atomically(&path, |w| Ok(w.write_all(text.as_bytes())?))?,
                None => out.write_all(text.as_bytes())?,
            }
        }
        ReportCommand::Html { args, out: file } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = ctx.open(dir)?;
            let page = report::html::render(&ledger, period, cut, &defs, chrono::Utc::now())?;
            crate::files::write_atomically(&file, |w| Ok(w.write_all(page.as_bytes())?))?;
            writeln!(out, "отчёт записан: {}", file.display())?;
        }
        ReportCommand::Bundle { args, out: file, actor } => {
            let (defs, period, cut) = args.resolve()?;
            let actor = super::context::resolve_actor(actor)?;
            let ledger = ctx.open(dir)?;
            let made = crate::bundle::create(&ledger, period, cut, &defs, &append_as(&ledger, &actor))?;
            crate::files::write_atomically(&file, |w| Ok(w.write_all(&made.zip)?))?;
            let p = &made.published;
            writeln!(
                out,
                "{}",
                report::publish::words(p.event, &p.recorded_at, p.cosigned_at, crate::domain::words::zone())
            )?;
            writeln!(
                out,
                "пакет записан: {} ({} байт): события 1–{}, срез по событие № {}",
                file.display(),
                made.zip.len(),
                p.signed.checkpoint.size,
                p.seq
            )?;
        }
        ReportCommand::Verify { file } => {
            let text = std::fs::read(&file).map_err(|e| Error::Usage(crate::say::cannot_read(&file.display(), &e)))?;
            let value = match crate::ledger::json::read_file(&text) {
                Ok(v) => v,
                Err(e) => return Err(Error::Mismatch(format!("{}: не отчёт в JSON (`{e}`)", file.display()))),
            };
            let ledger = ctx.open(dir)?;
            let v = report::verify(&ledger, &value)?;
            if json {
                writeln!(out, "{}", v.to_json())?;
            } else {
                print_human(&v, out)?;
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

/// Appends a publication as `actor`, directly (the command holds the ledger).
fn append_as<'a>(
    ledger: &'a Ledger,
    actor: &'a str,
) -> impl Fn(crate::ledger::event::InputEvent) -> Result<crate::ledger::Ack> + 'a {
    move |ev| {
        let opts = crate::ledger::AppendOptions { actor: actor.to_string(), now: chrono::Utc::now() };
        let acks = crate::record::StateRules::append_events(ledger, vec![(1, Ok(ev))], &opts)?;
        acks.into_iter().next().ok_or_else(|| Error::Storage("the publication was not appended".into()))
    }
}

fn print_human(v: &report::Verification, out: &mut dyn Write) -> Result<()> {
    if v.ok() {
        writeln!(
            out,
            "Отчёт верен: хеш совпадает, история реестра до события № {} та же, показатели пересчитаны и совпадают.",
            v.seq.unwrap_or_default()
        )?;
        match &v.published {
            Some(p) => writeln!(out, "{}.", p.words(crate::domain::words::zone()))?,
            None => writeln!(
                out,
                "Отчёт не опубликован: в реестре нет события его публикации (такой отчёт ничем не связан с журналом; публикует report bundle или report create --publish)."
            )?,
        }
        match &v.cosigned {
            None => writeln!(out, "Контрольной точки в отчёте нет (у реестра не было ключа подписи).")?,
            Some(names) => {
                let size = v.checkpoint_size.map_or_else(|| "?".to_string(), |n| n.to_string());
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
        writeln!(out, "  {}: в отчёте {}, сейчас {}", c.id, figure_words(&c.then), figure_words(&c.now))?;
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
        /// The funder's own definitions: a bundle computed with others is refused,
        /// naming the first indicator that differs.
        #[arg(long, value_name = "FILE")]
        defs: Option<PathBuf>,
        /// The most the bundle may unpack to, in bytes (default 256 MiB).
        #[arg(long, value_name = "BYTES", default_value_t = crate::limits::MAX_BUNDLE_BYTES)]
        max_bytes: u64,
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
        /// The most each bundle may unpack to, in bytes (default 256 MiB).
        #[arg(long, value_name = "BYTES", default_value_t = crate::limits::MAX_BUNDLE_BYTES)]
        max_bytes: u64,
    },
}

/// A bundle's bytes; a file larger than the most a bundle may unpack to (and a little
/// for the zip's own records) is refused unread.
fn read_bundle(file: &Path, max_bytes: u64) -> Result<Vec<u8>> {
    let len = std::fs::metadata(file).map_err(|e| Error::Usage(crate::say::cannot_read(&file.display(), &e)))?.len();
    if len > max_bytes.saturating_add(1 << 20) {
        return Err(Error::Mismatch(format!(
            "пакет {} не проходит проверку: файл больше {} МиБ (больший предел — --max-bytes)",
            file.display(),
            max_bytes >> 20
        )));
    }
    std::fs::read(file).map_err(|e| Error::Usage(crate::say::cannot_read(&file.display(), &e)))
}

fn read_policy(file: Option<&Path>) -> Result<Option<String>> {
    file.map(|f| std::fs::read_to_string(f).map_err(|e| Error::Usage(crate::say::cannot_read(&f.display(), &e))))
        .transpose()
}

pub fn run_bundle(cmd: BundleCommand, json: bool, out: &mut dyn Write) -> Result<()> {
    match cmd {
        BundleCommand::Verify { file, key, policy, defs, max_bytes } => {
            let policy = read_policy(policy.as_deref())?;
            let defs = defs.map(|d| super::figures::definitions(Some(&d))).transpose()?;
            let pins = crate::bundle::Pins {
                key: key.as_deref(),
                policy: policy.as_deref(),
                defs: defs.as_deref(),
                max_bytes: Some(max_bytes),
            };
            let v = crate::bundle::verify(&read_bundle(&file, max_bytes)?, &pins)?;
            if json {
                writeln!(out, "{}", v.to_json())?;
            } else if v.ok() {
                if let Some(p) = &v.published {
                    writeln!(out, "{}.", p.words(crate::domain::words::zone()))?;
                }
                writeln!(out, "{}", v.summary())?;
                writeln!(out, "{}", v.key_note)?;
                if v.defs_pinned {
                    writeln!(out, "Определения показателей — ваши (--defs).")?;
                } else {
                    writeln!(out, "Определения показателей — из самого отчёта (свои: --defs FILE).")?;
                }
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
        BundleCommand::Diff { old, new, key, policy, max_bytes } => {
            let policy = read_policy(policy.as_deref())?;
            let pins = crate::bundle::Pins {
                key: key.as_deref(),
                policy: policy.as_deref(),
                defs: None,
                max_bytes: Some(max_bytes),
            };
            let d = crate::bundle::diff(&read_bundle(&old, max_bytes)?, &read_bundle(&new, max_bytes)?, &pins)?;
            if json {
                writeln!(out, "{}", d.to_json())?;
                return Ok(());
            }
            writeln!(
                out,
                "Новый пакет продолжает историю старого: события 1–{} те же, добавлены № {}–{}; оба подписаны одним ключом журнала.",
                d.sizes.0,
                d.sizes.0 + 1,
                d.sizes.1
            )?;
            if d.publications.is_empty() {
                writeln!(out, "Между ними отчётов не публиковали.")?;
            } else {
                writeln!(out, "Публикации отчётов после старого, до нового включительно:")?;
            }
            for p in &d.publications {
                writeln!(
                    out,
                    "  событие № {}, {}: отчёт за {}–{}, как известно на {} (по событие № {})",
                    p.seq,
                    crate::domain::words::moment(&p.recorded_at.0),
                    report::ru_date(p.period.from.0),
                    report::ru_date(p.period.to.0),
                    crate::domain::words::moment(&p.known_at.0),
                    p.cut_seq
                )?;
            }
            if d.changed.is_empty() {
                writeln!(out, "Все показатели старого отчёта читаются по новым событиям так же.")?;
            }
            for c in &d.changed {
                writeln!(out, "  {}: было {}, теперь {}", c.id, figure_words(&c.then), figure_words(&c.now))?;
                write_movers(c, out)?;
            }
        }
    }
    Ok(())
}

/// The events that moved a changed figure (its `events`), a line each.
fn write_movers(changed: &report::Change, out: &mut dyn Write) -> Result<()> {
    for e in &changed.events {
        writeln!(out, "    из-за события № {} {} ({})", e.seq, e.kind, e.id)?;
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
