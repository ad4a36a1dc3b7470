//! The command line (SPEC §8): parses arguments, calls the library, prints. Every
//! error becomes one line per problem on stderr and the exit code of SPEC §8.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::Path;

use clap::Parser;

mod args;
pub(crate) mod cases;
mod context;
mod demo;
pub(crate) mod figures;
mod keys;
mod people;
mod replay;
mod report;
pub(crate) mod served;
mod usage;

use crate::codec::hex;
use crate::error::{Error, Result};
use crate::ledger::event::Record;
use crate::ledger::{AppendOptions, Ledger};
use crate::record::StateRules;
pub(crate) use args::*;
use context::{resolve_actor, Ctx};

/// `append` prints its acks in pieces of this size.
const ACK_PIECE_BYTES: usize = 1 << 20;

/// Runs the command line and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            use clap::error::ErrorKind;
            if !e.use_stderr() || e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                let _ = e.print();
                return if e.use_stderr() { 2 } else { 0 };
            }
            eprintln!("{}", usage::russian(&e));
            return 2;
        }
    };
    let service = matches!(cli.command, Command::Serve { .. } | Command::Witness(WitnessCommand::Serve { .. }));
    // The ledger's config.toml: a mistake in it stops every command that reads the
    // ledger, before anything is done (`config check` lists them all).
    let config = if uses_config(&cli.command) {
        match load_config(&cli.ledger) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{e}");
                return e.exit_code();
            }
        }
    } else {
        crate::config::Config::default()
    };
    crate::domain::words::set_zone(config.zone());
    // While `serve` holds the ledger, a reading command runs inside it.
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
    if let Some(code) = served::try_forward(&cli, &args) {
        return code;
    }
    let log_file = if matches!(cli.command, Command::Serve { .. }) { config.log.as_deref() } else { None };
    if let Err(e) = init_tracing(if service { "info" } else { "warn" }, config.log_level.as_deref(), log_file) {
        eprintln!("{e}");
        return e.exit_code();
    }
    // sled's panics on damaged files end the process with the damaged-store message
    // (see `panics`); any other panic is a bug, printed by the default hook, and still
    // ends with exit 4 rather than 101.
    crate::panics::install();
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(cli, &config))) {
        Ok(Ok(())) => 0,
        // `caseledger log | head`: the reader went away, which is not an error.
        Ok(Err(_)) if stdout_closed() => 0,
        Ok(Err(e)) => {
            // Output already written (a `log`, an `export`) is cut short: said before
            // the error, which stays the last line.
            if e.exit_code() == 4 && STDOUT_WRITTEN.load(std::sync::atomic::Ordering::SeqCst) {
                eprintln!("the output above is incomplete: caseledger stopped part way on the error below");
            }
            eprintln!("{e}");
            e.exit_code()
        }
        Err(_) => {
            eprintln!("caseledger stopped on an internal error (a bug: please report it with the line above)");
            4
        }
    }
}

static STDOUT_CLOSED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
/// Whether anything was written to standard output.
static STDOUT_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Standard output, noting when its reader has gone away (EPIPE).
struct Stdout(io::StdoutLock<'static>);

impl Write for Stdout {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !buf.is_empty() {
            STDOUT_WRITTEN.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        self.0.write(buf).inspect_err(note_closed)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.0.flush().inspect_err(note_closed)
    }
}

fn note_closed(e: &io::Error) {
    if e.kind() == io::ErrorKind::BrokenPipe {
        STDOUT_CLOSED.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether the command reads the ledger directory (and so its config.toml).
fn uses_config(command: &Command) -> bool {
    !matches!(
        command,
        Command::Gen { .. }
            | Command::Bundle(_)
            | Command::Aggregate { .. }
            | Command::Witness(_)
            | Command::Demo { .. }
            | Command::Replay { .. }
            | Command::Config(_)
            | Command::Table { template: true, .. }
            | Command::Verify { export: Some(_), .. }
    )
}

/// The ledger's config, with the ledger's own rules for the names it holds.
pub(crate) fn load_config(dir: &Path) -> Result<crate::config::Config> {
    let (config, problems) = check_config(dir)?;
    if problems.is_empty() {
        return Ok(config);
    }
    Err(Error::Usage(format!("{}: {}", dir.join(crate::config::FILE).display(), problems.join("; "))))
}

/// The config and every mistake in it: the file's own, then the names it gives
/// checked by the ledger's rules (an organisation's name, mirrors' token names).
fn check_config(dir: &Path) -> Result<(crate::config::Config, Vec<String>)> {
    let (config, mut problems) = crate::config::Config::check(dir)?;
    if let Some(name) = &config.organisation {
        if let Err(e) = crate::ledger::check_organisation(name) {
            problems.push(format!("ключ «organisation»: {}", e.to_string().trim_start_matches("--organisation: ")));
        }
    }
    for m in &config.mirrors {
        if let Err(r) = crate::ledger::event::check_code("mirrors", m) {
            problems.push(format!("ключ «mirrors»: «{m}» — не имя токена ({})", r.reason));
        }
    }
    Ok((config, problems))
}

/// Logs go to stderr, or for `serve` with `log` in config.toml to that file, a new one
/// every day, the last 30 kept. `$CASELEDGER_LOG` wins over `log_level`.
fn init_tracing(default: &str, level: Option<&str>, file: Option<&Path>) -> Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CASELEDGER_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(level.unwrap_or(default)));
    let fmt = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    match file {
        None => {
            let _ = fmt.with_writer(io::stderr).try_init();
        }
        Some(path) => {
            let bad = |e: &dyn std::fmt::Display| Error::Usage(format!("журнал работы {}: {e}", path.display()));
            let (parent, name) = match (path.parent(), path.file_name().and_then(|n| n.to_str())) {
                (Some(p), Some(n)) => (p, n),
                _ => return Err(bad(&"это не путь к файлу")),
            };
            std::fs::create_dir_all(parent).map_err(|e| bad(&e))?;
            let appender = tracing_appender::rolling::Builder::new()
                .rotation(tracing_appender::rolling::Rotation::DAILY)
                .filename_prefix(name)
                .max_log_files(crate::limits::LOG_FILES_KEPT)
                .build(parent)
                .map_err(|e| bad(&e))?;
            let _ = fmt.with_ansi(false).with_writer(appender).try_init();
        }
    }
    Ok(())
}

fn run(cli: Cli, config: &crate::config::Config) -> Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, Stdout(io::stdout().lock()));
    run_with(cli, config, &Ctx::Local, &mut out)
}

/// Runs one command, its standard output to `out`.
pub(crate) fn run_with(cli: Cli, config: &crate::config::Config, ctx: &Ctx, mut out: &mut dyn Write) -> Result<()> {
    let dir = cli.ledger.as_path();
    match cli.command {
        Command::Init { organisation } => {
            let name = organisation.map(|n| crate::ledger::check_organisation(&n)).transpose()?;
            let ledger = Ledger::init(dir)?;
            if let Some(name) = name {
                ledger.set_organisation(&name)?;
            }
            writeln!(out, "создан пустой реестр: {}", dir.display())?;
        }
        Command::Append { file, actor } => {
            let ledger = ctx.open(dir)?;
            let opts = AppendOptions { actor: resolve_actor(actor)?, now: chrono::Utc::now() };
            let input = open_input(file.as_deref())?;
            let bytes = input_length(file.as_deref());
            let (acks, rules) =
                StateRules::append_with(&ledger, |r| ledger.append_jsonl_sized(input, bytes, &opts, r))?;
            // A bulk append's rules hold every event, and this process ends after the
            // answer: the system takes their memory back at once, where freeing them
            // piece by piece took a core from the digests' write and the answer.
            std::mem::forget(rules);
            // In pieces of 1 MiB: 370 k acks are 44 MB, and `out`'s buffer of 64 KiB
            // woke a pipe's reader at every 64 KiB (a write as long as a buffer goes
            // past it).
            let mut pieces = BufWriter::with_capacity(ACK_PIECE_BYTES, &mut out);
            let mut line = Vec::with_capacity(160);
            for ack in &acks {
                line.clear();
                ack.push_json_line(&mut line);
                pieces.write_all(&line)?;
            }
            pieces.flush()?;
            if let Ctx::Local = ctx {
                ledger.leave();
            }
        }
        Command::Log { case, from_seq } => {
            let ledger = ctx.open(dir)?;
            let print = |rec: Record, out: &mut dyn Write| -> Result<()> { print_event(&rec, cli.json, out) };
            if !cli.json {
                writeln!(
                    out,
                    "{:>6}  {:<10}  {:<20}  {:<18}  {:<12}  дело / сигнал",
                    "№", "дата", "записано", "тип", "автор"
                )?;
            }
            match case {
                Some(case) => {
                    for seq in ledger.case_events(&case)?.into_iter().filter(|s| *s >= from_seq) {
                        if let Some(rec) = ledger.record(seq)? {
                            print(rec, &mut out)?;
                        }
                    }
                }
                None => ledger.for_each(from_seq, |_, rec| print(rec, &mut out))?,
            }
        }
        Command::Verify { export, projections } => {
            if projections {
                return verify_projections(&*ctx.open(dir)?, cli.json, &mut out);
            }
            let result =
                match export {
                    Some(path) => Ledger::verify_export(open_input(Some(&path))?),
                    None => match open_or_journal(ctx, dir)? {
                        // A store that fails part way is checked from the journal, as
                        // `export` reads it (SPEC §13).
                        Ok(ledger) => match ledger.verify() {
                            Err(e @ Error::Damaged { .. }) => {
                                eprintln!("{e}; checking the journal instead");
                                drop(ledger);
                                crate::ledger::read_journal_alone(dir, None)
                                    .map(|(seq, head)| crate::ledger::Verified { seq, head, root: None })
                            }
                            other => other,
                        },
                        Err(()) => crate::ledger::read_journal_alone(dir, None)
                            .map(|(seq, head)| crate::ledger::Verified { seq, head, root: None }),
                    },
                };
            match result {
                Ok(v) if cli.json => {
                    /// `verify --json` (members in the order it has always written them).
                    #[derive(serde::Serialize)]
                    struct Verified {
                        head: String,
                        ok: bool,
                        #[serde(skip_serializing_if = "Option::is_none")]
                        root: Option<String>,
                        seq: u64,
                    }
                    let root = v.root.as_ref().map(crate::ledger::merkle::b64);
                    let j = Verified { head: hex(&v.head), ok: true, root, seq: v.seq };
                    writeln!(out, "{}", serde_json::to_string(&j).map_err(std::io::Error::from)?)?;
                }
                Ok(v) => {
                    writeln!(out, "цепочка цела: событий {}, последний хеш {}", v.seq, hex(&v.head))?;
                    if let Some(root) = &v.root {
                        writeln!(
                            out,
                            "корень дерева Меркла: {} (совпадает с хранимым деревом)",
                            crate::ledger::merkle::b64(root)
                        )?;
                    }
                }
                Err(Error::Integrity { seq, reason }) if cli.json => {
                    writeln!(out, "{}", serde_json::json!({"ok": false, "first_bad_seq": seq, "error": reason}))?;
                    out.flush()?;
                    return Err(Error::Integrity { seq, reason });
                }
                Err(e) => return Err(e),
            }
        }
        Command::Export { parquet: Some(path), .. } => {
            let ledger = ctx.open(dir)?;
            let n = crate::analysis::export_parquet(&ledger, &path)?;
            writeln!(out, "событий: {n} → {}", path.display())?;
        }
        Command::Facts { period, cut, out: to } => {
            let (period, cut) = (period.resolve()?, cut.resolve()?);
            let ledger = ctx.open(dir)?;
            let origin = crate::checkpoint::LogKey::load(dir)?.map(|k| k.origin);
            let n = crate::analysis::facts_of_ledger(&ledger, period, cut, origin.as_deref(), &to)?;
            writeln!(
                out,
                "факты за {}–{}: случаев {}, детей {}, сигналов {}, расходов {} → {}",
                crate::report::ru_date(period.from),
                crate::report::ru_date(period.to),
                n[0],
                n[1],
                n[2],
                n[3],
                to.display()
            )?;
        }
        Command::Export { file, .. } => {
            let from_journal = |w: &mut dyn Write| crate::ledger::read_journal_alone(dir, Some(w)).map(|_| ());
            match (open_or_journal(ctx, dir)?, file) {
                (Ok(ledger), None) => {
                    ledger.export(&mut out)?;
                }
                (Ok(ledger), Some(path)) => match write_atomically(&path, |w| ledger.export(w).map(|_| ())) {
                    Err(e @ Error::Damaged { .. }) => {
                        eprintln!("{e}; reading the journal instead");
                        drop(ledger);
                        write_atomically(&path, from_journal)?
                    }
                    other => other?,
                },
                (Err(()), None) => from_journal(&mut out)?,
                (Err(()), Some(path)) => write_atomically(&path, from_journal)?,
            }
        }
        Command::Mirror { from, token_file, every } => {
            let token = std::fs::read_to_string(&token_file)
                .map_err(|e| Error::Usage(format!("--token-file {}: {e}", token_file.display())))?;
            let source = crate::mirror::Source { url: from, token: token.trim().to_string() };
            crate::mirror::run(dir, &source, every, &mut out)?;
        }
        Command::Recover { accept_loss } => {
            let r = crate::ledger::recover::recover(dir, accept_loss)?;
            if cli.json {
                /// `recover --json` (members in the order it has always written them).
                #[derive(serde::Serialize)]
                struct Recovered<'a> {
                    from_journal: u64,
                    from_store: u64,
                    head: String,
                    /// The first range lost, as before; every range, and what came
                    /// after them (only when something was lost).
                    #[serde(skip_serializing_if = "Option::is_none")]
                    lost: Option<(u64, u64)>,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    lost_ranges: Option<&'a [(u64, u64)]>,
                    moved_to: String,
                    ok: bool,
                    seq: u64,
                    #[serde(skip_serializing_if = "Option::is_none")]
                    stranded: Option<Option<(u64, u64)>>,
                }
                let lost = r.lost.first().copied();
                let v = Recovered {
                    from_journal: r.from_journal,
                    from_store: r.from_store,
                    head: hex(&r.head),
                    lost,
                    lost_ranges: lost.map(|_| r.lost.as_slice()),
                    moved_to: r.moved_to.display().to_string(),
                    ok: r.lost.is_empty(),
                    seq: r.events,
                    stranded: lost.map(|_| r.stranded),
                };
                writeln!(out, "{}", serde_json::to_string(&v).map_err(std::io::Error::from)?)?;
            } else {
                writeln!(
                    out,
                    "восстановлено событий: {} (из журнала {}, только из старого хранилища {}), последний хеш {}",
                    r.events,
                    r.from_journal,
                    r.from_store,
                    hex(&r.head)
                )?;
                writeln!(out, "прежнее хранилище и журнал сохранены в {}", r.moved_to.display())?;
            }
            if !r.lost.is_empty() {
                out.flush()?;
                let also = if accept_loss {
                    format!(
                        "; the ledger now goes on from the {} events before them (--accept-loss); everything found is kept in {}",
                        r.events,
                        r.moved_to.display()
                    )
                } else {
                    "; every command will refuse the ledger until they are found, or run caseledger recover --accept-loss"
                        .to_string()
                };
                return Err(crate::ledger::lost_exactly(&r.lost, r.stranded, &also));
            }
        }
        Command::Backup { out: file } => {
            let ledger = ctx.open(dir)?;
            let made = crate::backup::backup(&ledger, &file)?;
            if cli.json {
                let v = serde_json::json!({"ok": true, "seq": made.seq, "head": hex(&made.head),
                    "files": made.files, "bytes": made.bytes});
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "резервная копия: {}, последний хеш {}; с ними {} → {} ({} байт)",
                    crate::domain::words::plural(made.seq, ("событие", "события", "событий")),
                    hex(&made.head),
                    made.files[1..].join(", "),
                    file.display(),
                    made.bytes
                )?;
            }
        }
        Command::Restore { file, events } => {
            let r = crate::backup::restore(&file, dir, events.as_deref())?;
            if cli.json {
                let v = serde_json::json!({"ok": true, "seq": r.seq, "head": hex(&r.head),
                    "from_backup": r.from_backup, "files": r.files, "checkpoint": r.checkpoint});
                writeln!(out, "{v}")?;
            } else {
                writeln!(
                    out,
                    "восстановлен реестр {}: {} (из резервной копии {}), цепочка цела, последний хеш {}",
                    dir.display(),
                    crate::domain::words::plural(r.seq, ("событие", "события", "событий")),
                    crate::domain::words::grouped(r.from_backup),
                    hex(&r.head)
                )?;
                writeln!(out, "с ними: {}", if r.files.is_empty() { "ничего".into() } else { r.files.join(", ") })?;
                if let Some(size) = r.checkpoint {
                    writeln!(out, "контрольная точка покрывает {size} и совпадает с деревом реестра")?;
                }
            }
            if !r.mirrors.is_empty() {
                eprintln!(
                    "config.toml называет зеркала ({}): контрольные точки уйдут свидетелям, когда каждое сообщит,                      сколько хранит; если зеркала больше нет (реестр восстановлен из него), уберите его из mirrors",
                    r.mirrors.join(", ")
                );
            }
        }
        Command::Import { file } => {
            let ledger = ctx.open(dir)?;
            let input = open_input(Some(&file))?;
            let (v, _) = StateRules::append_with(&ledger, |r| ledger.import(input, r))?;
            if cli.json {
                writeln!(out, "{}", serde_json::json!({"ok": true, "seq": v.seq, "head": hex(&v.head)}))?;
            } else {
                writeln!(out, "загружено событий: {}, последний хеш {}", v.seq, hex(&v.head))?;
            }
        }
        Command::Case(CaseCommand::Show { case, when }) => {
            let ledger = ctx.open(dir)?;
            cases::show(&ledger, &case, &when, cli.json, &mut out)?;
        }
        Command::Due { curator, when } => {
            let ledger = ctx.open(dir)?;
            cases::print_due(&ledger, curator.as_deref(), &when, cli.json, &mut out)?;
        }
        Command::Cases { when } => {
            let ledger = ctx.open(dir)?;
            cases::list(&ledger, &when, cli.json, &mut out)?;
        }
        Command::Indicators { args } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = ctx.open(dir)?;
            figures::print_indicators(&ledger, period, cut, &defs, cli.json, &mut out)?;
        }
        Command::Explain { id, args, excluded } => {
            let (defs, period, cut) = args.resolve()?;
            let ledger = ctx.open(dir)?;
            let args = figures::ExplainArgs { id: &id, period, cut, excluded };
            figures::print_explain(&ledger, args, &defs, cli.json, &mut out)?;
        }
        Command::Report(cmd) => report::run(ctx, dir, cmd, cli.json, &mut out)?,
        Command::Bundle(cmd) => report::run_bundle(cmd, cli.json, &mut out)?,
        Command::Aggregate { bundles, out: file, facts, keys, policy, max_bytes } => {
            let read = |p: &Path| {
                std::fs::read_to_string(p).map_err(|e| Error::Usage(crate::say::cannot_read(&p.display(), &e)))
            };
            let trust = crate::analysis::Trust {
                keys: keys
                    .as_deref()
                    .map(|k| read(k).and_then(|t| crate::analysis::Trust::keys_from(&t, &k.display().to_string())))
                    .transpose()?,
                policy: policy.as_deref().map(read).transpose()?,
                max_bytes: Some(max_bytes),
            };
            if let Some(f) = &file {
                let ext = f.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !["xlsx", "json"].contains(&ext) {
                    return Err(Error::Usage(format!("--out: {} — нужен файл .xlsx или .json", f.display())));
                }
            }
            let agg = crate::analysis::aggregate(&bundles, facts.as_deref(), &trust)?;
            match &file {
                Some(f) if f.extension().is_some_and(|e| e == "xlsx") => {
                    crate::report::tables::write_xlsx(&agg.table(), f)?;
                }
                Some(f) => write_atomically(f, |w| {
                    serde_json::to_writer_pretty(&mut *w, &agg.to_json())
                        .map_err(|e| Error::storage("writing JSON", e))?;
                    w.write_all(b"\n").map_err(|e| Error::storage("writing JSON", e))
                })?,
                None => {}
            }
            report::print_aggregate(&agg, cli.json, &mut out)?;
        }
        Command::ImportTable { name, file, dry_run, outcome, stable, dates, hidden, amend, actor } => {
            let word = |o: &Option<String>| o.clone().unwrap_or_default();
            let mut opts =
                crate::import::Options::from_words(&word(&outcome), &word(&stable), &word(&dates), &word(&hidden))
                    .map_err(Error::Usage)?;
            opts.amend = amend;
            let sheets = crate::import::read_path(&file)?;
            let ledger = ctx.open(dir)?;
            let append = AppendOptions { actor: resolve_actor(actor)?, now: chrono::Utc::now() };
            let plan = crate::import::plan(&ledger, &name, &sheets, opts)?;
            let acks = crate::import::apply(&ledger, &plan, &append, !dry_run)?;
            cases::print_import(&plan, &acks, dry_run, cli.json, &mut out)?;
        }
        Command::Table { name, template: true, out: file, .. } => {
            if file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() != Some("xlsx") {
                return Err(Error::Usage(format!("--out {}: шаблон — файл .xlsx", file.display())));
            }
            let table = crate::report::tables::template(&name)?;
            crate::report::tables::write_template(&table, &file)?;
            writeln!(out, "{} → {}", table.title, file.display())?;
        }
        Command::Table { name, period, cut, program, out: file, .. } => {
            let (period, cut) = (period.resolve()?, cut.resolve()?);
            let ext = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
            if !matches!(ext.as_deref(), Some("xlsx" | "csv")) {
                return Err(Error::Usage(format!("--out {}: нужен файл .xlsx или .csv", file.display())));
            }
            let ledger = ctx.open(dir)?;
            let table = crate::report::tables::of_ledger(&ledger, &name, period, cut, program.as_deref())?;
            if ext.as_deref() == Some("csv") {
                write_atomically(&file, |w| crate::report::tables::write_csv(&table, w))?;
            } else {
                crate::report::tables::write_xlsx(&table, &file)?;
            }
            writeln!(out, "{}: строк {} → {}", table.title, table.rows.len(), file.display())?;
        }
        Command::Gen { families, from_year, to_year, seed, no_corrections, out: file } => {
            if from_year > to_year || !(1900..=9999).contains(&from_year) || to_year > 9999 {
                return Err(Error::Usage(format!("--from {from_year} --to {to_year}: это не промежуток лет")));
            }
            if families > crate::limits::MAX_BATCH_EVENTS {
                return Err(Error::Usage(format!(
                    "--families: не больше {}",
                    crate::say::grouped(crate::limits::MAX_BATCH_EVENTS as u64)
                )));
            }
            let params = crate::gen::Params { families, from_year, to_year, seed, corrections: !no_corrections };
            let write = |w: &mut dyn Write| -> Result<()> {
                for e in crate::gen::history(&params) {
                    writeln!(w, "{}", e.to_json_line())?;
                }
                Ok(())
            };
            match file {
                Some(path) => write_atomically(&path, write)?,
                None => write(&mut out)?,
            }
        }
        Command::Replay { dir } => replay::run(&dir, cli.json, &mut out)?,
        Command::Serve { addr, tokens, checkpoint_every } => {
            let served_config = config.clone();
            let config = crate::server::Config {
                addr: addr.or_else(|| config.addr.map(|a| a.to_string())).unwrap_or_else(|| "127.0.0.1:8080".into()),
                tokens,
                checkpoint_every: checkpoint_every
                    .map(|s| std::time::Duration::from_secs(s.max(1)))
                    .or(config.checkpoint_every)
                    .unwrap_or(std::time::Duration::from_secs(60)),
            };
            let mut socket = None;
            crate::server::run(dir, &config, |local, ledger| {
                // The command line's way in while the service holds the ledger.
                match served::listen(dir, ledger.clone(), served_config.clone(), run_with) {
                    Ok(s) => socket = Some(s),
                    Err(e) => tracing::warn!(error = %e, "the command line cannot reach this service"),
                }
                // The one line a script waits for; everything else goes to the log.
                let _ = writeln!(out, "listening on {local}");
                let _ = out.flush();
            })?;
            drop(socket);
        }
        Command::Token(cmd) => people::token(dir, cmd, cli.json, out)?,
        Command::User(cmd) => people::user(dir, cmd, cli.json, out)?,
        Command::Key(cmd) => keys::key(ctx, dir, cmd, out)?,
        Command::Checkpoint => keys::checkpoint(ctx, dir, out)?,
        Command::Proof(cmd) => keys::proof(ctx, dir, cmd, cli.json, out)?,
        Command::Witness(WitnessCommand::Init { dir: wdir, name }) => {
            let vkey = crate::checkpoint::WitnessKey::init(&wdir, &name)?;
            writeln!(out, "{vkey}")?;
        }
        Command::Witness(WitnessCommand::Serve { dir: wdir, addr, logs }) => {
            crate::witness::serve(&wdir, &addr, &logs, |local| {
                let _ = writeln!(out, "listening on {local}");
                let _ = out.flush();
            })?;
        }
        Command::Config(ConfigCommand::Check) => {
            let (config, problems) = check_config(dir)?;
            let path = dir.join(crate::config::FILE);
            if !problems.is_empty() {
                out.flush()?;
                for p in &problems {
                    eprintln!("{}: {p}", path.display());
                }
                return Err(Error::Usage(format!(
                    "{}: {}",
                    path.display(),
                    crate::domain::words::plural(problems.len() as u64, ("ошибка", "ошибки", "ошибок"))
                )));
            }
            if !path.exists() {
                writeln!(out, "{}: файла нет — всё по умолчанию", path.display())?;
            } else {
                writeln!(out, "{}: ошибок нет", path.display())?;
            }
            let or_default = |v: Option<String>, d: &str| v.unwrap_or_else(|| format!("{d} (по умолчанию)"));
            writeln!(out, "  organisation = {}", or_default(config.organisation.clone(), "из файла organisation"))?;
            writeln!(
                out,
                "  timezone = {}",
                or_default(config.timezone.map(|t| t.name().to_string()), "Europe/Moscow")
            )?;
            writeln!(out, "  addr = {}", or_default(config.addr.map(|a| a.to_string()), "127.0.0.1:8080"))?;
            let public = config.public_url.as_ref().map(|p| {
                format!("{} ({})", p.origin, if p.secure { "cookie Secure, Origin сверяется с ним" } else { "без TLS" })
            });
            writeln!(out, "  public_url = {}", or_default(public, "адрес из запроса"))?;
            writeln!(
                out,
                "  checkpoint_every = {}",
                or_default(config.checkpoint_every.map(|d| format!("{} с", d.as_secs())), "60 с")
            )?;
            let log =
                config.log.as_ref().map(|l| format!("{} (новый файл каждый день, хранятся 30 дней)", l.display()));
            writeln!(out, "  log = {}", or_default(log, "stderr"))?;
            writeln!(out, "  log_level = {}", or_default(config.log_level.clone(), "info"))?;
            let mirrors = (!config.mirrors.is_empty()).then(|| config.mirrors.join(", "));
            writeln!(out, "  mirrors = {}", or_default(mirrors, "нет"))?;
        }
        Command::Demo { dir } => demo::run(&dir.unwrap_or_else(demo::default_dir), &mut out)?,
    }
    out.flush()?;
    Ok(())
}

/// Opens the ledger; when the store cannot be opened (damaged, or the disk is full)
/// says so on stderr and answers `Err(())`: the caller reads the journal instead
/// (SPEC §13: `export` and `verify` still work from it).
fn open_or_journal(ctx: &Ctx, dir: &Path) -> Result<std::result::Result<std::sync::Arc<Ledger>, ()>> {
    match ctx.open(dir) {
        Ok(ledger) => Ok(Ok(ledger)),
        Err(e @ (Error::Damaged { .. } | Error::NoSpace(_))) if crate::ledger::journal_exists(dir) => {
            eprintln!("{e}; reading the journal instead");
            Ok(Err(()))
        }
        Err(e) => Err(e),
    }
}

/// `verify --projections`: the chain, then every stored projection recomputed from
/// the events (exit 3 naming what differs).
fn verify_projections(ledger: &Ledger, json: bool, out: &mut dyn Write) -> Result<()> {
    // Each step reads the whole ledger and frees what it built before the next; the
    // freed heap goes back to the system in between, so the steps' peaks do not stack.
    fn trimmed<T>(r: T) -> T {
        crate::ledger::release_free_memory();
        r
    }
    let v = trimmed(ledger.verify()?);
    let subjects = trimmed(ledger.verify_subject_indexes()?);
    let memo = trimmed(crate::indicators::memo::verify_all(ledger)?);
    let digests = trimmed(crate::project::summary::verify(ledger)?);
    let (tree, tree_failures) = ledger.store().verify_tree()?;
    let failures: Vec<String> = subjects
        .failures
        .iter()
        .chain(&memo.failures)
        .chain(&digests.failures)
        .chain(&tree_failures)
        .cloned()
        .collect();
    if json {
        writeln!(
            out,
            "{}",
            serde_json::json!({"ok": failures.is_empty(), "seq": v.seq, "head": hex(&v.head),
                "subjects": subjects.checked, "memo": memo.checked, "digests": digests.checked,
                "tree": tree, "failures": failures})
        )?;
    } else {
        writeln!(out, "цепочка цела: событий {}, последний хеш {}", v.seq, hex(&v.head))?;
        writeln!(out, "индексы дел и сигналов: проверено {}", subjects.checked)?;
        writeln!(out, "сохранённые показатели: проверено {}", memo.checked)?;
        writeln!(out, "сводки фактов по делам, сигналам и расходам: проверено {}", digests.checked)?;
        writeln!(out, "узлы дерева Меркла: проверено {tree}")?;
    }
    if failures.is_empty() {
        return Ok(());
    }
    out.flush()?;
    Err(Error::Mismatch(format!("projections differ from the events: {}", failures.join("; "))))
}

fn print_event(rec: &Record, json: bool, out: &mut dyn Write) -> Result<()> {
    if json {
        let mut line = Vec::with_capacity(rec.canonical.len() + 80);
        rec.to_json_line(&mut line);
        out.write_all(&line)?;
        return Ok(());
    }
    let ev = rec.parse().map_err(|reason| Error::Integrity { seq: 0, reason })?;
    let key = crate::domain::Payload::of_stored(&ev).and_then(|p| p.about()).unwrap_or_default();
    writeln!(
        out,
        "{:>6}  {:<10}  {:<20}  {:<18}  {:<12}  {}",
        ev.seq, ev.occurred_on, ev.recorded_at, ev.kind, ev.actor, key
    )?;
    Ok(())
}

/// The length of a regular file named as input (not of standard input, a pipe or a
/// device).
fn input_length(file: Option<&Path>) -> Option<u64> {
    let path = file.filter(|p| p.as_os_str() != "-")?;
    std::fs::metadata(path).ok().filter(|m| m.is_file()).map(|m| m.len())
}

fn open_input(file: Option<&Path>) -> Result<Box<dyn BufRead + Send>> {
    match file {
        None => Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin()))),
        Some(p) if p.as_os_str() == "-" => Ok(Box::new(BufReader::with_capacity(1 << 16, io::stdin()))),
        Some(p) => {
            let f = File::open(p).map_err(|e| Error::Usage(crate::say::cannot_read(&p.display(), &e)))?;
            Ok(Box::new(BufReader::with_capacity(1 << 16, f)))
        }
    }
}

pub use crate::files::write_atomically;
