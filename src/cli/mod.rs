//! The command line (SPEC §8): parses arguments, calls the library, prints. Every
//! error becomes one line per problem on stderr and the exit code of SPEC §8.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use clap::{Parser, Subcommand};

pub(crate) mod cases;
mod demo;
pub(crate) mod figures;
mod replay;
mod report;
pub(crate) mod served;
mod usage;

use crate::domain::StateRules;
use crate::error::{Error, Result};
use crate::ledger::event::{hex, Record};
use crate::ledger::{AppendOptions, Ledger};

#[derive(Parser, Debug)]
#[command(name = "caseledger", version, about = "Hash-chained case ledger for family-support services (ТЖС)")]
pub struct Cli {
    /// Ledger directory.
    #[arg(long, global = true, env = "CASELEDGER_DIR", default_value = "./caseledger-data")]
    pub ledger: PathBuf,
    /// Machine output (JSON) instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create an empty ledger (refuses an existing one).
    Init {
        /// The organisation's name, printed on its tables and reports (kept in
        /// DIR/organisation, a line of text that may be edited later).
        #[arg(long)]
        organisation: Option<String>,
    },
    /// Append JSONL events from FILE or stdin, all or nothing.
    Append {
        /// Input file; `-` or nothing reads stdin.
        file: Option<PathBuf>,
        /// Actor of events that do not name one.
        #[arg(long, env = "CASELEDGER_ACTOR")]
        actor: Option<String>,
    },
    /// List stored events.
    Log {
        /// Only events about this case.
        #[arg(long)]
        case: Option<String>,
        /// Start at this seq.
        #[arg(long, default_value_t = 1)]
        from_seq: u64,
    },
    /// Recompute the whole chain (of the ledger, or of an export file).
    Verify {
        /// Verify this export file instead of the ledger.
        #[arg(long)]
        export: Option<PathBuf>,
        /// Also recompute the stored projections (memoised figures, case and signal
        /// indexes) from the events and compare.
        #[arg(long, conflicts_with = "export")]
        projections: bool,
    },
    /// Write every stored event as JSONL, verifiable by third parties.
    Export {
        /// Output file; stdout when absent.
        file: Option<PathBuf>,
        /// The events as Parquet instead (seq, id, type, occurred_on, recorded_at,
        /// actor, case, signal, family, data as JSON text, prev, hash).
        #[arg(long, value_name = "FILE", conflicts_with = "file")]
        parquet: Option<PathBuf>,
    },
    /// A region's figures: every bundle verified offline (one that fails is refused,
    /// exit 3), each organisation's figures per indicator, with totals.
    Aggregate {
        /// The organisations' bundles (`report bundle`), one per organisation.
        #[arg(required = true, value_name = "BUNDLE.zip")]
        bundles: Vec<PathBuf>,
        /// Also write the table: FILE.xlsx (print-ready, Russian) or FILE.json.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Also write every bundle's fact rows as one Parquet dataset partitioned by
        /// origin (DIR/origin=…/cases.parquet, …).
        #[arg(long, value_name = "DIR")]
        facts: Option<PathBuf>,
        /// The organisations' log keys, one verifier key (NAME+KEYID+BASE64) per line:
        /// each bundle is verified with the key named by its origin (a bundle whose
        /// origin is not there is refused). Default: each bundle's own policy.txt.
        #[arg(long, value_name = "FILE")]
        keys: Option<PathBuf>,
        /// The witnesses and quorum every bundle's checkpoint must have (C2SP
        /// tlog-policy). Default: each bundle's own policy.txt.
        #[arg(long, value_name = "FILE")]
        policy: Option<PathBuf>,
        /// The most each bundle may unpack to, in bytes (default 256 MiB).
        #[arg(long, value_name = "BYTES", default_value_t = crate::limits::MAX_BUNDLE_BYTES)]
        max_bytes: u64,
    },
    /// The fact rows of SPEC §6 for a period, as Parquet (cases, children, signals,
    /// expenses) with cut.json, for DuckDB, Spark or pandas.
    Facts {
        #[command(flatten)]
        period: figures::PeriodArgs,
        #[command(flatten)]
        cut: figures::CutArgs,
        /// The directory to write (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
    /// Rebuild a damaged store from the journal and whatever is readable in it (the
    /// damaged store is moved aside to DIR/damaged-<stamp>/, never deleted).
    Recover {
        /// When acknowledged events are lost from both copies, go on from what is left
        /// (the loss is printed; without this, every command keeps refusing).
        #[arg(long)]
        accept_loss: bool,
    },
    /// Keep a verified copy of a served ledger in --ledger DIR: pull its new events
    /// once, or every SECONDS until stopped.
    Mirror {
        /// Base URL of the service to copy, such as http://10.0.0.5:8080.
        #[arg(long, value_name = "URL")]
        from: String,
        /// File holding an auditor or admin token of that service.
        #[arg(long, value_name = "FILE")]
        token_file: PathBuf,
        /// Keep following: pull again every SECONDS until SIGTERM or SIGINT.
        #[arg(long, value_name = "SECONDS")]
        every: Option<u64>,
    },
    /// One archive of everything the ledger needs (events, signing key, users, tokens,
    /// witnesses, organisation, config.toml, checkpoint); consistent while `serve` runs.
    Backup {
        /// FILE.zip
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a working ledger in --ledger DIR (absent or empty) of a backup, verified.
    Restore {
        /// The archive `backup` wrote.
        file: PathBuf,
        /// Take the events from this export instead (`caseledger export` of a mirror,
        /// which may hold more than the backup): it must continue the backup's chain.
        #[arg(long, value_name = "FILE")]
        events: Option<PathBuf>,
    },
    /// Load an export into an empty ledger.
    Import {
        /// Export file; `-` reads stdin.
        file: PathBuf,
    },
    /// One case's state as of a day.
    #[command(subcommand)]
    Case(CaseCommand),
    /// What is due (SPEC §21), soonest first: monitoring after a closing, cases with no
    /// event for 30 days, signals not triaged after 3 days, stays past their end.
    Due {
        /// Only this curator's cases (signals are everyone's).
        #[arg(long)]
        curator: Option<String>,
        #[command(flatten)]
        when: cases::When,
    },
    /// Every case's state as of a day.
    Cases {
        #[command(flatten)]
        when: cases::When,
    },
    /// Indicator figures for a period, as known at a cut (SPEC §9).
    Indicators {
        #[command(flatten)]
        args: figures::FigureArgs,
    },
    /// The lineage of one figure: counted subjects, the facts read, the events.
    Explain {
        /// Indicator id, such as P1.
        id: String,
        #[command(flatten)]
        args: figures::FigureArgs,
        /// Also list the denominator's subjects that the numerator did not count, with
        /// the predicate that excluded each.
        #[arg(long)]
        excluded: bool,
    },
    /// Audited grant reports: create one, or verify one against the ledger.
    #[command(subcommand)]
    Report(report::ReportCommand),
    /// A hand-kept table from the ledger: efo-dynamics, shelter, contracts, monitoring.
    Table {
        /// efo-dynamics, shelter, contracts or monitoring.
        name: String,
        #[command(flatten)]
        period: figures::PeriodArgs,
        #[command(flatten)]
        cut: figures::CutArgs,
        /// Only cases of this program (отдел), such as МР or КЦ.
        #[arg(long)]
        program: Option<String>,
        /// An empty table to fill in by hand (contracts, efo-dynamics, shelter): the
        /// headers, date formats and drop-down lists; no period, no ledger read.
        #[arg(long, conflicts_with_all = ["from", "year", "quarter", "known_at", "at_seq", "program"])]
        template: bool,
        /// FILE.xlsx or FILE.csv.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Bring in a hand-kept table (contracts, efo-dynamics, shelter; XLSX or CSV):
    /// the events it states that the ledger lacks, all or nothing.
    ImportTable {
        /// contracts, efo-dynamics or shelter.
        name: String,
        /// FILE.xlsx or FILE.csv (Russian-locale CSV: `;`, dates ДД.ММ.ГГГГ).
        file: PathBuf,
        /// Print what would be appended; write nothing.
        #[arg(long)]
        dry_run: bool,
        /// The outcome of the closings the table states without one (the ЕФО and
        /// crisis-centre tables): stabilized, terminated_by_family, terminated_by_org,
        /// transferred, or the journal's Russian words.
        #[arg(long)]
        outcome: Option<String>,
        /// The result of the 6-month monitoring the table dates, for the rows whose own
        /// «положение устойчиво» cell is empty: да or нет.
        #[arg(long)]
        stable: Option<String>,
        /// How dates written with slashes read when a column cannot tell: дд.мм (day
        /// first) or мм/дд (month first, as a US-locale Google Sheet writes them).
        #[arg(long)]
        dates: Option<String>,
        /// Rows and columns hidden or filtered out in the workbook: skip or include
        /// (without it, a workbook that has any is refused, naming them).
        #[arg(long)]
        hidden: Option<String>,
        /// Cells that differ from what the ledger holds become corrections
        /// (event_amended, reason «исправлено по таблице FILE, строка N») instead of
        /// refusals; with --dry-run, previewed.
        #[arg(long)]
        amend: bool,
        /// Actor of the events (default: $CASELEDGER_ACTOR, else the OS user).
        #[arg(long, env = "CASELEDGER_ACTOR")]
        actor: Option<String>,
    },
    /// Write a realistic synthetic history (pseudonymous codes) as input JSONL.
    Gen {
        /// Families (each becomes a signal, and most a case).
        #[arg(long, default_value_t = 1000)]
        families: usize,
        /// First year of the history.
        #[arg(long = "from", value_name = "YEAR")]
        from_year: i32,
        /// Last year of the history.
        #[arg(long = "to", value_name = "YEAR")]
        to_year: i32,
        /// Random seed: the same seed gives the same history.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Leave out corrections (voids and amendments).
        #[arg(long)]
        no_corrections: bool,
        /// Output file; stdout when absent.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Load DIR/events.jsonl into a fresh ledger and check DIR/expected.json.
    Replay { dir: PathBuf },
    /// The multi-user HTTP service (SPEC §12) over this ledger.
    Serve {
        /// HOST:PORT to listen on (port 0: any free port, printed at start); default
        /// `addr` of config.toml, else 127.0.0.1:8080.
        #[arg(long)]
        addr: Option<String>,
        /// Tokens file (default: tokens.json in the ledger directory).
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
        /// Seconds between checkpoints signed while appends come in (needs `key init`);
        /// default `checkpoint_every` of config.toml, else 60.
        #[arg(long, value_name = "SECS")]
        checkpoint_every: Option<u64>,
    },
    /// Bearer tokens of the HTTP service.
    #[command(subcommand)]
    Token(TokenCommand),
    /// People who log in to the web pages of `serve` (users.json: argon2id hashes only).
    #[command(subcommand)]
    User(UserCommand),
    /// The ledger's signing key (DIR/log.key) for checkpoints.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign a checkpoint of the ledger's Merkle tree now, send it to the witnesses and
    /// keep their cosignatures; prints it.
    Checkpoint,
    /// Inclusion and consistency proofs of the ledger's Merkle tree (RFC 9162).
    #[command(subcommand)]
    Proof(ProofCommand),
    /// Funders' bundles (SPEC §15): verify one, or compare two, with no ledger.
    #[command(subcommand)]
    Bundle(report::BundleCommand),
    /// A witness that cosigns checkpoints of logs it knows (C2SP tlog-witness).
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// DIR/config.toml (SPEC §20): `config check` names every mistake by its key.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// A newcomer's tour: builds a demo ledger from an embedded sample and verifies it.
    Demo {
        /// Where to build the demo ledger (recreated on every run).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ConfigCommand {
    /// Read DIR/config.toml and say what is wrong in it, key by key (exit 2), or what
    /// it sets.
    Check,
}

#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Make a token for NAME (the actor of what they append); prints it once.
    Add {
        name: String,
        /// recorder, analyst, auditor or admin.
        #[arg(long)]
        role: String,
        /// Tokens file (default: tokens.json in the ledger directory).
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
    },
    /// List the names and roles that have tokens (never the tokens).
    List {
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
    },
    /// Remove NAME's token.
    Remove {
        name: String,
        #[arg(long, value_name = "FILE")]
        tokens: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add NAME (the actor of what they record); the password (at least 10
    /// characters) is read from the first line of stdin.
    Add {
        name: String,
        /// recorder, analyst, auditor or admin.
        #[arg(long)]
        role: String,
        /// The curator code this person records as, such as К-01: their open cases are
        /// what /cases opens on, their cases what /due lists.
        #[arg(long)]
        curator: Option<String>,
    },
    /// Tie NAME to a curator code (or untie it with --none).
    Curator {
        name: String,
        /// The curator code, such as К-01.
        #[arg(required_unless_present = "none")]
        code: Option<String>,
        #[arg(long, conflicts_with = "code")]
        none: bool,
    },
    /// List the users and their roles (never a password or its hash).
    List,
    /// Remove NAME (their open sessions end at their next request).
    Remove { name: String },
    /// Disable NAME's login, keeping the user (their open sessions end at their next
    /// request); `user enable NAME` lets them in again.
    Disable { name: String },
    /// Enable NAME's login again.
    Enable { name: String },
    /// Set a new password for NAME, read from the first line of stdin.
    Passwd { name: String },
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Make the ledger's Ed25519 signing key and print its verifier key.
    Init {
        /// The log's name in its checkpoints (a schema-less URL such as
        /// ledger.mama-ryadom.example/2021); default caseledger.local/ and 16 random hex.
        #[arg(long)]
        origin: Option<String>,
    },
    /// Print the verifier key (ORIGIN+KEYID+BASE64).
    Show,
}

#[derive(Subcommand, Debug)]
pub enum ProofCommand {
    /// That event SEQ is in the tree of the first N events.
    Inclusion {
        seq: u64,
        /// Tree size (default: the ledger's size now).
        #[arg(long)]
        size: Option<u64>,
    },
    /// That the tree of the first OLD events is a prefix of the tree of N.
    Consistency {
        old: u64,
        /// Tree size (default: the ledger's size now).
        #[arg(long)]
        size: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum WitnessCommand {
    /// Make a witness key in DIR and print its verifier key.
    Init {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The witness's name (a schema-less URL such as witness.fond.example).
        #[arg(long)]
        name: String,
    },
    /// Serve tlog-witness add-checkpoint for the given logs.
    Serve {
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        #[arg(long, default_value = "127.0.0.1:8090")]
        addr: String,
        /// Verifier keys of the logs to cosign.
        #[arg(long = "log", value_name = "VKEY", num_args = 1..)]
        logs: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum CaseCommand {
    /// Show one case.
    Show {
        /// Case code (№ дела).
        case: String,
        #[command(flatten)]
        when: cases::When,
    },
}

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

/// Where a command finds its ledger: it opens it itself, or (a reading command while
/// `serve` holds the ledger) it runs inside the service, on the service's ledger.
pub(crate) enum Ctx {
    Local,
    Served(std::sync::Arc<Ledger>),
}

impl Ctx {
    pub(crate) fn open(&self, dir: &Path) -> Result<std::sync::Arc<Ledger>> {
        match self {
            Ctx::Local => Ledger::open(dir).map(std::sync::Arc::new),
            Ctx::Served(ledger) => Ok(ledger.clone()),
        }
    }
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
            let (acks, rules) = StateRules::append_with(&ledger, |r| ledger.append_jsonl(input, &opts, r))?;
            // A bulk append's rules hold every event; freeing them need not delay the
            // answer (a process that exits first just skips it).
            std::thread::spawn(move || drop(rules));
            for ack in acks {
                ack.write_json_line(&mut out)?;
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
            let result = match export {
                Some(path) => Ledger::verify_export(open_input(Some(&path))?),
                None => match open_or_journal(ctx, dir)? {
                    // A store that fails part way is checked from the journal, as
                    // `export` reads it (SPEC §13).
                    Ok(ledger) => match ledger.verify() {
                        Err(e @ Error::Damaged { .. }) => {
                            eprintln!("{e}; checking the journal instead");
                            drop(ledger);
                            crate::ledger::heal::read_journal_alone(dir, None)
                                .map(|(seq, head)| crate::ledger::Verified { seq, head, root: None })
                        }
                        other => other,
                    },
                    Err(()) => crate::ledger::heal::read_journal_alone(dir, None)
                        .map(|(seq, head)| crate::ledger::Verified { seq, head, root: None }),
                },
            };
            match result {
                Ok(v) if cli.json => {
                    let mut j = serde_json::json!({"ok": true, "seq": v.seq, "head": hex(&v.head)});
                    if let Some(root) = &v.root {
                        j["root"] = serde_json::json!(crate::ledger::merkle::b64(root));
                    }
                    writeln!(out, "{j}")?;
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
            let from_journal = |w: &mut dyn Write| crate::ledger::heal::read_journal_alone(dir, Some(w)).map(|_| ());
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
                let mut v = serde_json::json!({"ok": r.lost.is_empty(), "seq": r.events, "head": hex(&r.head),
                    "from_journal": r.from_journal, "from_store": r.from_store,
                    "moved_to": r.moved_to.display().to_string()});
                if let Some((a, b)) = r.lost.first() {
                    // The first range as before; every range, and what came after them.
                    v["lost"] = serde_json::json!([a, b]);
                    v["lost_ranges"] = serde_json::json!(r.lost);
                    v["stranded"] = serde_json::json!(r.stranded);
                }
                writeln!(out, "{v}")?;
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
                return Err(crate::ledger::heal::lost_exactly(&r.lost, r.stranded, &also));
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
                match served::listen(dir, ledger.clone(), served_config.clone()) {
                    Ok(s) => socket = Some(s),
                    Err(e) => tracing::warn!(error = %e, "the command line cannot reach this service"),
                }
                // The one line a script waits for; everything else goes to the log.
                let _ = writeln!(out, "listening on {local}");
                let _ = out.flush();
            })?;
            drop(socket);
        }
        Command::Token(cmd) => {
            use crate::access as auth;
            let path_of = |t: Option<PathBuf>| t.unwrap_or_else(|| crate::server::default_tokens_path(dir));
            match cmd {
                TokenCommand::Add { name, role, tokens } => {
                    let role = auth::Role::parse(&role).ok_or_else(|| {
                        Error::Usage(format!(
                            "--role: `{role}` — нет такой роли; можно: `recorder`, `analyst`, `auditor`, `admin`"
                        ))
                    })?;
                    let token = auth::add(&path_of(tokens), &name, role)?;
                    writeln!(out, "{token}")?;
                }
                TokenCommand::List { tokens } => {
                    let list = auth::list(&path_of(tokens))?;
                    if cli.json {
                        let v: Vec<_> = list
                            .iter()
                            .map(|(n, r, c)| serde_json::json!({"name": n, "role": r.as_str(), "created_at": c}))
                            .collect();
                        writeln!(out, "{}", serde_json::Value::Array(v))?;
                    } else {
                        for (n, r, c) in list {
                            writeln!(out, "{n}\t{}\t{c}", r.as_str())?;
                        }
                    }
                }
                TokenCommand::Remove { name, tokens } => {
                    auth::remove(&path_of(tokens), &name)?;
                    writeln!(out, "токен {name} удалён (действует после перезапуска serve)")?;
                }
            }
        }
        Command::User(cmd) => {
            use crate::access;
            let path = access::default_users_path(dir);
            match cmd {
                UserCommand::Add { name, role, curator } => {
                    let role = access::Role::parse(&role).ok_or_else(|| {
                        Error::Usage(format!(
                            "--role: `{role}` — нет такой роли; можно: `recorder`, `analyst`, `auditor`, `admin`"
                        ))
                    })?;
                    if let Some(c) = &curator {
                        crate::ledger::event::check_code("curator", c)
                            .map_err(|r| Error::Usage(format!("--curator: {}", r.reason)))?;
                    }
                    access::add_user(&path, &name, role, &read_password()?)?;
                    if let Some(c) = &curator {
                        access::set_curator(&path, &name, Some(c))?;
                    }
                    let tied = curator.map(|c| format!(", куратор {c}")).unwrap_or_default();
                    writeln!(out, "пользователь {name} добавлен ({}{tied})", role.as_str())?;
                }
                UserCommand::Curator { name, code, none: _ } => {
                    access::set_curator(&path, &name, code.as_deref())?;
                    match code {
                        Some(c) => writeln!(out, "пользователь {name} записывает как куратор {c}")?,
                        None => writeln!(out, "пользователь {name} больше не привязан к куратору")?,
                    }
                }
                UserCommand::List => {
                    let list = access::list_users(&path)?;
                    if cli.json {
                        let v: Vec<_> = list.iter().map(|u| serde_json::to_value(u).unwrap_or_default()).collect();
                        writeln!(out, "{}", serde_json::Value::Array(v))?;
                    } else {
                        for u in list {
                            let mut line = format!("{}\t{}\t{}", u.name, u.role.as_str(), u.created_at);
                            if let Some(k) = &u.curator {
                                line.push_str(&format!("\tкуратор {k}"));
                            }
                            if u.disabled {
                                line.push_str("\tвход отключён");
                            }
                            writeln!(out, "{line}")?;
                        }
                    }
                }
                UserCommand::Disable { name } => {
                    access::set_disabled(&path, &name, true)?;
                    writeln!(out, "вход пользователя {name} отключён")?;
                }
                UserCommand::Enable { name } => {
                    access::set_disabled(&path, &name, false)?;
                    writeln!(out, "вход пользователя {name} включён")?;
                }
                UserCommand::Remove { name } => {
                    access::remove_user(&path, &name)?;
                    writeln!(out, "пользователь {name} удалён")?;
                }
                UserCommand::Passwd { name } => {
                    access::set_password(&path, &name, &read_password()?)?;
                    writeln!(out, "пароль пользователя {name} изменён")?;
                }
            }
        }
        Command::Key(KeyCommand::Init { origin }) => {
            ctx.open(dir)?;
            let vkey = crate::checkpoint::key_init(dir, origin.as_deref())?;
            writeln!(out, "{vkey}")?;
        }
        Command::Key(KeyCommand::Show) => {
            let key = crate::checkpoint::LogKey::load(dir)?
                .ok_or_else(|| Error::Usage(format!("{} has no key: run caseledger key init", dir.display())))?;
            writeln!(out, "{}", key.vkey())?;
        }
        Command::Checkpoint => {
            let ledger = ctx.open(dir)?;
            let s = crate::checkpoint::sign(&ledger, dir)?;
            out.write_all(s.checkpoint.note.as_bytes())?;
            out.flush()?;
            for why in &s.unavailable {
                eprintln!("witness unavailable: {why}");
            }
            if let Some(why) = &s.held_back {
                eprintln!("{why}");
            }
            if !s.inconsistent.is_empty() {
                return Err(Error::Lost(format!("a witness holds another history: {}", s.inconsistent.join("; "))));
            }
            if s.cosigned.len() < s.quorum {
                return Err(Error::Storage(format!(
                    "{} of the {} witnesses needed cosigned (see above); the checkpoint is kept, ask again later",
                    s.cosigned.len(),
                    s.quorum
                )));
            }
        }
        Command::Proof(cmd) => {
            let ledger = ctx.open(dir)?;
            let v = match cmd {
                ProofCommand::Inclusion { seq, size } => crate::checkpoint::inclusion_json(&ledger, seq, size)?,
                ProofCommand::Consistency { old, size } => crate::checkpoint::consistency_json(&ledger, old, size)?,
            };
            if cli.json {
                writeln!(out, "{v}")?;
            } else {
                writeln!(out, "{}", serde_json::to_string_pretty(&v).map_err(std::io::Error::from)?)?;
            }
        }
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

/// The first line of stdin, without its line end (a password given by a script, or
/// typed).
fn read_password() -> Result<String> {
    let mut line = String::new();
    io::stdin().read_line(&mut line).map_err(|e| Error::Usage(format!("reading the password from stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Opens the ledger; when the store cannot be opened (damaged, or the disk is full)
/// says so on stderr and answers `Err(())`: the caller reads the journal instead
/// (SPEC §13: `export` and `verify` still work from it).
fn open_or_journal(ctx: &Ctx, dir: &Path) -> Result<std::result::Result<std::sync::Arc<Ledger>, ()>> {
    match ctx.open(dir) {
        Ok(ledger) => Ok(Ok(ledger)),
        Err(e @ (Error::Damaged { .. } | Error::NoSpace(_))) if crate::ledger::journal::Journal::exists(dir) => {
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
        crate::ledger::store::release_free_memory();
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
    let key = ["case", "signal", "target", "program"]
        .iter()
        .find_map(|k| ev.data.get(*k).and_then(|v| v.as_str()))
        .unwrap_or("");
    writeln!(
        out,
        "{:>6}  {:<10}  {:<20}  {:<18}  {:<12}  {}",
        ev.seq, ev.occurred_on, ev.recorded_at, ev.kind, ev.actor, key
    )?;
    Ok(())
}

/// `--actor`, else `$CASELEDGER_ACTOR` (both through clap), else the OS user.
pub(crate) fn resolve_actor(actor: Option<String>) -> Result<String> {
    let actor = actor
        .or_else(|| std::env::var("USER").ok().filter(|u| !u.is_empty()))
        .or_else(|| std::env::var("LOGNAME").ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| {
            use std::os::unix::fs::MetadataExt;
            std::fs::metadata("/proc/self").map(|m| format!("uid{}", m.uid())).unwrap_or_else(|_| "unknown".into())
        });
    crate::ledger::event::check_code("actor", &actor).map_err(|r| Error::Usage(format!("--actor: {}", r.reason)))?;
    Ok(actor)
}

fn open_input(file: Option<&Path>) -> Result<Box<dyn BufRead>> {
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
