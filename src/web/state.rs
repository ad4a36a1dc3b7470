//! What every page handler shares: the ledger, the appender, the people who log in,
//! the case and signal lists kept in memory, the chain check running in the
//! background, and the uploads waiting for their confirmation.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::access::{LoginThrottle, Users};
use crate::appender::Appender;
use crate::import::Options;
use crate::ledger::Ledger;

/// What every page handler shares.
#[derive(Clone)]
pub struct Web {
    pub ledger: Arc<Ledger>,
    pub appender: Appender,
    pub users: Arc<Users>,
    pub throttle: Arc<LoginThrottle>,
    pub(super) cases: Arc<crate::project::lists::CaseList>,
    pub(super) signals: Arc<crate::project::lists::SignalList>,
    pub(super) verify: Arc<VerifyJob>,
    pub(super) imports: Arc<Pending>,
    /// Whole-ledger reads at once (shared with the JSON API).
    pub heavy: Arc<tokio::sync::Semaphore>,
    /// `public_url` of config.toml: the address people type, behind a reverse proxy.
    pub public: Option<Arc<crate::config::PublicUrl>>,
}

impl Web {
    pub fn new(ledger: Arc<Ledger>, appender: Appender, users: Arc<Users>, heavy: Arc<tokio::sync::Semaphore>) -> Web {
        let dir = ledger.store().dir().to_path_buf();
        Web {
            ledger,
            appender,
            users,
            throttle: Arc::new(LoginThrottle::load(&dir)),
            cases: Arc::new(crate::project::lists::CaseList::default()),
            signals: Arc::new(crate::project::lists::SignalList::default()),
            verify: Arc::new(VerifyJob::default()),
            imports: Arc::new(Pending::default()),
            heavy,
            public: crate::config::Config::load(&dir).ok().and_then(|c| c.public_url).map(Arc::new),
        }
    }

    /// Builds the in-memory case and signal lists on a thread of its own, so the first
    /// person to open `/cases` after a start does not wait for it (seconds at a
    /// million events).
    pub fn warm_up(&self) {
        let web = self.clone();
        let _ = std::thread::Builder::new().name("caseledger-web-warm".into()).spawn(move || {
            let started = std::time::Instant::now();
            match web.cases.rows(&web.ledger).and_then(|_| web.signals.rows(&web.ledger)) {
                Ok(_) => tracing::info!(ms = started.elapsed().as_millis() as u64, "case and signal lists built"),
                Err(e) => tracing::warn!(error = %e, "building the case list failed; the first /cases will try again"),
            }
        });
    }
}

// ---------------------------------------------------------------- /verify

/// The chain check running (or last run) in the background, one at a time.
#[derive(Default)]
pub struct VerifyJob {
    pub(super) progress: Arc<AtomicU64>,
    pub(super) total: AtomicU64,
    pub(super) state: Mutex<JobState>,
}

#[derive(Default, Clone)]
pub(super) enum JobState {
    #[default]
    Idle,
    Running,
    Done(Result<String, String>),
}

// ---------------------------------------------------------------- /import

/// Uploads kept between the preview and the confirmation, and for how long.
const PENDING: usize = 16;
const PENDING_FOR: Duration = Duration::from_secs(30 * 60);

/// An upload previewed and waiting for its confirmation.
pub(super) struct Upload {
    pub(super) token: String,
    pub(super) user: String,
    pub(super) at: Instant,
    pub(super) table: String,
    pub(super) file: String,
    pub(super) opts: Options,
    pub(super) bytes: Vec<u8>,
}

/// The uploads waiting for confirmation (in memory: a restart asks for the file again).
#[derive(Default)]
pub struct Pending(Mutex<Vec<Upload>>);

impl Pending {
    pub(super) fn put(&self, u: Upload) {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        list.retain(|x| x.at.elapsed() < PENDING_FOR && x.user != u.user);
        if list.len() >= PENDING {
            list.remove(0);
        }
        list.push(u);
    }
    pub(super) fn take(&self, token: &str, user: &str) -> Option<Upload> {
        let mut list = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let i = list.iter().position(|x| x.token == token && x.user == user && x.at.elapsed() < PENDING_FOR)?;
        Some(list.remove(i))
    }
}
