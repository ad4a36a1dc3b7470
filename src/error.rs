//! The error type shared by the library and the command line. Every variant maps to
//! one exit code of SPEC §8.

use std::fmt;

/// One refused input line: which line, which field, and why, in words a curator reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: Option<usize>,
    pub field: Option<String>,
    pub reason: String,
}

impl Refusal {
    pub fn new(field: impl Into<Option<String>>, reason: impl Into<String>) -> Self {
        Refusal { line: None, field: field.into(), reason: reason.into() }
    }
    pub fn field(field: &str, reason: impl Into<String>) -> Self {
        Refusal::new(Some(field.to_string()), reason)
    }
    pub fn at_line(mut self, line: usize) -> Self {
        self.line = Some(line);
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(line) = self.line {
            write!(f, "line {line}: ")?;
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.reason)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input refused; nothing was written. Exit 1.
    #[error("{}", render_refusals(.0, *.1))]
    Refused(Vec<Refusal>, usize),
    /// Wrong use of the command line. Exit 2.
    #[error("{0}")]
    Usage(String),
    /// The chain or a report does not verify. Exit 3.
    #[error("integrity failure at seq {seq}: {reason}")]
    Integrity { seq: u64, reason: String },
    /// Figures that do not match what was expected (a replay, a report). Exit 3.
    #[error("{0}")]
    Mismatch(String),
    /// Another process holds the ledger. Exit 4.
    #[error("ledger in use: {0} is held by another caseledger process (stop it, or wait for it to finish)")]
    InUse(String),
    /// Storage or other runtime failure. Exit 4.
    #[error("{0}")]
    Storage(String),
    /// The disk is full (SPEC §13): names the file being written. Exit 4.
    #[error(
        "no space left on device writing {0} (free some space and run the command again; nothing was half-written)"
    )]
    NoSpace(String),
    /// The store cannot be opened or read (SPEC §13). Exit 4.
    #[error("the store in {dir} is damaged ({detail}); run caseledger recover")]
    Damaged { dir: String, detail: String },
    /// Acknowledged events are lost, or the copies disagree (SPEC §13). Exit 3.
    #[error("integrity failure: {0}")]
    Lost(String),
}

fn render_refusals(list: &[Refusal], total: usize) -> String {
    let mut out: Vec<String> = list.iter().map(ToString::to_string).collect();
    if total > list.len() {
        out.push(format!("… and {} more refused lines", total - list.len()));
    }
    out.join("\n")
}

impl Error {
    /// A single refusal (one line of input, or a refused request).
    pub fn refused(r: Refusal) -> Self {
        Error::Refused(vec![r], 1)
    }
    pub fn storage(context: &str, e: impl fmt::Display) -> Self {
        Error::Storage(format!("{context}: {e}"))
    }
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Refused(..) => 1,
            Error::Usage(_) => 2,
            Error::Integrity { .. } | Error::Mismatch(_) | Error::Lost(_) => 3,
            Error::InUse(_) | Error::Storage(_) | Error::NoSpace(_) | Error::Damaged { .. } => 4,
        }
    }
}

/// ENOSPC, whatever kind the standard library gave it.
pub fn is_disk_full(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(28)
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
