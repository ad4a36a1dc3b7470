//! `caseledger mirror` (SPEC §13): keeps a verified copy of a served ledger on another
//! machine or disk. It pulls `GET /v1/events?from_seq=N` from the source, checks that
//! the first pulled event links to the mirror's own head and that every hash verifies,
//! and stores the events as they are (ids, times, hashes), through the same import
//! as `caseledger import`, all or nothing per page. A source whose history differs
//! from the copy is refused (exit 3) and nothing is written.
//!
//! A client of the HTTP API, like a browser: it calls the library to store, never the
//! server's code.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::codec::{hex, parse_hex};
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::record::StateRules;

/// Events asked for per request (the service's cap is higher; this bounds memory).
const PAGE_EVENTS: usize = 10_000;
/// A page of `PAGE_EVENTS` events is a few MB; the bound on one response body.
const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;
/// How long one request may take.
const REQUEST_SECS: u64 = 120;

pub struct Source {
    /// Base URL of the service, such as `http://10.0.0.5:8080`.
    pub url: String,
    pub token: String,
}

/// What one pull did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Pulled {
    pub events: u64,
    pub seq: u64,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(REQUEST_SECS)))
        .build()
        .into()
}

fn unreachable(url: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("cannot pull from {url}: {e}"))
}

impl Source {
    fn get(&self, agent: &ureq::Agent, path: &str) -> Result<(Vec<u8>, Option<u64>, bool)> {
        let url = format!("{}{path}", self.url.trim_end_matches('/'));
        let mut response = agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call()
            .map_err(|e| unreachable(&self.url, e))?;
        let status = response.status().as_u16();
        let next = response.headers().get("x-next-from-seq").and_then(|v| v.to_str().ok()?.parse().ok());
        let mut complete = true;
        let mut body = Vec::new();
        {
            use std::io::Read;
            let reader = response.body_mut().with_config().limit(MAX_PAGE_BYTES).reader();
            // A source that dies mid-answer leaves a cut body: keep what came.
            if reader.take(MAX_PAGE_BYTES).read_to_end(&mut body).is_err() {
                complete = false;
            }
        }
        match status {
            200 => Ok((body, next, complete)),
            401 | 403 => Err(Error::Usage(format!(
                "{url}: источник не принял токен ({status}); зеркалу нужен токен аудитора или администратора"
            ))),
            _ => Err(unreachable(&self.url, format!("{url} ответил {status}: {}", String::from_utf8_lossy(&body)))),
        }
    }

    /// The source's hash of event `seq`, if it holds it.
    fn hash_at(&self, agent: &ureq::Agent, seq: u64) -> Result<Option<[u8; 32]>> {
        let (body, _, _) = self.get(agent, &format!("/v1/events?from_seq={seq}&limit=1"))?;
        let Some(line) = body.split(|b| *b == b'\n').find(|l| !l.is_empty()) else { return Ok(None) };
        let v: serde_json::Value =
            serde_json::from_slice(line).map_err(|e| unreachable(&self.url, format!("not an event: {e}")))?;
        if v["seq"].as_u64() != Some(seq) {
            return Ok(None);
        }
        Ok(v["hash"].as_str().and_then(parse_hex))
    }
}

/// Pulls once: everything the source holds after the mirror's head.
pub fn pull(ledger: &Ledger, source: &Source) -> Result<Pulled> {
    let agent = agent();
    let head = ledger.head();
    if head.seq > 0 {
        // The source must hold the mirror's head as it is: else its history differs.
        if source.hash_at(&agent, head.seq)? != Some(head.hash) {
            let at = first_difference(ledger, source, &agent, head.seq)?;
            return Err(Error::Lost(format!("the source's history differs from the mirror at seq {at}")));
        }
    }
    let mut pulled = Pulled { events: 0, seq: head.seq };
    loop {
        let from = ledger.head().seq + 1;
        let (body, next, complete) = source.get(&agent, &format!("/v1/events?from_seq={from}&limit={PAGE_EVENTS}"))?;
        // Only whole lines count: a source killed mid-answer cuts the last one.
        let whole = match body.iter().rposition(|b| *b == b'\n') {
            Some(i) => &body[..=i],
            None => &body[..0],
        };
        if !whole.is_empty() {
            let before = ledger.head().seq;
            let (v, _) = StateRules::append_with(ledger, |r| ledger.import_onto(whole, r)).map_err(|e| match e {
                Error::Integrity { seq, reason } if seq == before + 1 && reason.contains("prev does not match") => {
                    Error::Lost(format!("the source's history differs from the mirror at seq {before}"))
                }
                other => other,
            })?;
            pulled.events += v.seq - before;
            pulled.seq = v.seq;
        }
        if !complete {
            return Err(unreachable(
                &source.url,
                format!("the source stopped answering mid-page; the mirror holds events up to seq {}", pulled.seq),
            ));
        }
        if next.is_none() || whole.is_empty() {
            return Ok(pulled);
        }
    }
}

/// The first seq at which the source's history differs from the mirror's (the two agree
/// before it): a binary search over the source's hashes, O(log n) requests.
fn first_difference(ledger: &Ledger, source: &Source, agent: &ureq::Agent, head: u64) -> Result<u64> {
    let (mut lo, mut hi) = (0u64, head); // agree at lo (0: nothing), differ at hi
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let ours = ledger.record(mid)?.map(|r| r.hash);
        if ours.is_some() && source.hash_at(agent, mid)? == ours {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(hi)
}

/// `caseledger mirror`: pulls once, or every `every` seconds until SIGTERM or SIGINT.
/// Prints one line per pull that stored something.
pub fn run(dir: &Path, source: &Source, every: Option<u64>, out: &mut dyn std::io::Write) -> Result<()> {
    let ledger =
        if dir.join("sled").exists() || dir.join("journal").exists() { Ledger::open(dir)? } else { Ledger::init(dir)? };
    let report = |p: Pulled, out: &mut dyn std::io::Write| -> Result<()> {
        let head = ledger.head();
        writeln!(out, "получено событий: {}, копия до № {} (хеш {})", p.events, head.seq, hex(&head.hash))?;
        out.flush()?;
        Ok(())
    };
    let Some(every) = every else {
        let p = pull(&ledger, source)?;
        report_head(source, &ledger)?;
        return report(p, out);
    };
    let stop = stop_flag();
    while !stop.load(Ordering::SeqCst) {
        // Durable before it is told: the source may then let witnesses see it.
        match pull(&ledger, source).and_then(|p| ledger.sync().map(|()| p)) {
            Ok(p) => {
                if let Err(e) = report_head(source, &ledger) {
                    if matches!(e, Error::Lost(_)) {
                        return Err(e);
                    }
                    tracing::warn!(error = %e, "telling the source how far the mirror holds failed");
                }
                if p.events > 0 {
                    report(p, out)?;
                }
            }
            // A source whose history differs is never followed further.
            Err(e @ Error::Lost(_)) => return Err(e),
            Err(e) => tracing::warn!(error = %e, "pull failed; trying again in {every} s"),
        }
        for _ in 0..every.max(1) * 10 {
            if stop.load(Ordering::SeqCst) {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    ledger.sync()
}

/// A flag set by SIGTERM or SIGINT (the handlers are in place when this returns).
fn stop_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else { return flag };
    let signals = rt.block_on(async {
        use tokio::signal::unix::{signal, SignalKind};
        Some((signal(SignalKind::terminate()).ok()?, signal(SignalKind::interrupt()).ok()?))
    });
    let Some((mut term, mut int)) = signals else { return flag };
    let set = flag.clone();
    std::thread::spawn(move || {
        rt.block_on(async {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        });
        set.store(true, Ordering::SeqCst);
    });
    flag
}

/// What the mirrors have told their source they hold (SPEC §20), kept by `serve` in
/// `DIR/mirrors.json` by token name: `{"NAME": {"seq": N, "head": HEX, "at": STAMP}}`.
pub mod heads {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    use serde::{Deserialize, Serialize};

    use crate::error::{Error, Result};

    const FILE: &str = "mirrors.json";

    /// One mirror's last report.
    #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
    pub struct Held {
        pub seq: u64,
        pub head: String,
        /// When it said so (RFC 3339 UTC).
        pub at: String,
    }

    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE)
    }

    /// Every mirror's last report (none when the file is missing or unreadable: a
    /// mirror that has not said anything holds nothing as far as anyone knows).
    pub fn load(dir: &Path) -> BTreeMap<String, Held> {
        std::fs::read(path(dir)).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    static WRITE: std::sync::Mutex<()> = std::sync::Mutex::new(());

    /// Keeps what mirror `name` says it holds.
    pub fn record(dir: &Path, name: &str, held: Held) -> Result<()> {
        let _one = WRITE.lock().unwrap_or_else(|e| e.into_inner());
        let mut all = load(dir);
        all.insert(name.to_string(), held);
        let text = serde_json::to_vec_pretty(&all).map_err(|e| Error::Storage(format!("mirrors.json: {e}")))?;
        crate::files::write_atomically(&path(dir), |w| Ok(w.write_all(&text)?))
    }

    /// How far every mirror `names` holds: the least of their heads (0 for one that
    /// never reported); None when no mirror is named.
    pub fn floor(dir: &Path, names: &[String]) -> Option<(u64, String)> {
        if names.is_empty() {
            return None;
        }
        let all = load(dir);
        names.iter().map(|n| (all.get(n).map_or(0, |h| h.seq), n.clone())).min()
    }
}

/// Tells the source how far this mirror holds (`POST /v1/mirror`), so its checkpoints
/// never run ahead of the copy. An older source without the route is no error.
pub fn report_head(source: &Source, ledger: &Ledger) -> Result<()> {
    let head = ledger.head();
    let url = format!("{}/v1/mirror", source.url.trim_end_matches('/'));
    let body = serde_json::json!({"seq": head.seq, "head": hex(&head.hash)}).to_string();
    let mut response = agent()
        .post(&url)
        .header("Authorization", &format!("Bearer {}", source.token))
        .content_type("application/json")
        .send(body.as_bytes())
        .map_err(|e| unreachable(&source.url, e))?;
    match response.status().as_u16() {
        200 | 404 => Ok(()),
        409 => Err(Error::Lost(format!(
            "the source says this mirror's history differs from its own: {}",
            response.body_mut().read_to_string().unwrap_or_default()
        ))),
        other => Err(unreachable(&source.url, format!("{url} answered {other}"))),
    }
}
