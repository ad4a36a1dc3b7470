//! The command line's words (SPEC §8): every command, option and argument, as clap
//! reads them. What each command does is in `mod.rs` and the rooms beside it.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use super::{cases, figures, report};

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
