//! `caseledger witness serve` (SPEC §14): a C2SP tlog-witness. For each log it is
//! told (`--log VKEY`), it keeps the latest checkpoint it cosigned, and cosigns a new one
//! only when the log's signature verifies and a consistency proof from the size it
//! holds does: so a ledger cannot show one funder one history and another a different
//! one. The state is written durably (fsync, rename) before an answer, under one lock,
//! so a check and its record cannot interleave with another request's.
//!
//! `POST /add-checkpoint`: 200 and a cosignature line; 409 with the size it holds
//! (`text/x.tlog.size`) when `old` is not that size, or when the size is the same but
//! the root is not; 422 when the proof does not verify; 403 for a log it does not know
//! or a signature that does not verify; 400 for a malformed body.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::checkpoint::{verify_note, Checkpoint, KeyVerifier, WitnessKey};
use crate::error::{Error, Result};
use crate::ledger::merkle;

/// Longest request body (a checkpoint and at most 63 proof lines are a few KiB).
const MAX_BODY: usize = 64 * 1024;

#[derive(serde::Serialize, serde::Deserialize, Default)]
struct StateFile {
    /// origin → (size, root in base64) of the latest checkpoint cosigned.
    logs: BTreeMap<String, (u64, String)>,
}

struct Witness {
    key: WitnessKey,
    /// origin → the log's verifier key.
    logs: BTreeMap<String, String>,
    state_path: PathBuf,
    state: Mutex<StateFile>,
}

fn read_state(path: &Path) -> Result<StateFile> {
    match std::fs::read_to_string(path) {
        Ok(t) => serde_json::from_str(&t).map_err(|e| Error::Storage(format!("{}: {e}", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StateFile::default()),
        Err(e) => Err(Error::storage(&format!("reading {}", path.display()), e)),
    }
}

/// Serves until SIGTERM or SIGINT. `ready` is told the bound address.
pub fn serve(dir: &Path, addr: &str, logs: &[String], ready: impl FnOnce(SocketAddr)) -> Result<()> {
    let addr: SocketAddr = addr
        .parse()
        .map_err(|_| Error::Usage(format!("--addr: \"{addr}\" — не адрес ХОСТ:ПОРТ (например, 127.0.0.1:8090)")))?;
    let key = WitnessKey::load(dir)?;
    let mut by_origin = BTreeMap::new();
    for vkey in logs {
        let v = KeyVerifier::parse(vkey)?;
        if v.is_cosigner() {
            return Err(Error::Usage(format!("--log {vkey}: это ключ свидетеля, а не реестра")));
        }
        by_origin.insert(vkey.split('+').next().unwrap_or_default().to_string(), vkey.clone());
    }
    if by_origin.is_empty() {
        return Err(Error::Usage("назовите реестры, которые свидетель подписывает: --log КЛЮЧ …".into()));
    }
    let state_path = dir.join("state.json");
    let state = read_state(&state_path)?;
    let witness = Arc::new(Witness { key, logs: by_origin, state_path, state: Mutex::new(state) });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::storage("starting the runtime", e))?;
    runtime.block_on(async move {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::storage(&format!("listening on {addr}"), e))?;
        ready(tcp.local_addr()?);
        let app = axum::Router::new()
            .route("/add-checkpoint", axum::routing::post(add_checkpoint))
            .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
            .with_state(witness);
        axum::serve(tcp, app)
            .with_graceful_shutdown(async {
                use tokio::signal::unix::{signal, SignalKind};
                let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
                let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
                tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
            })
            .await
            .map_err(|e| Error::storage("serving", e))
    })
}

fn answer(status: StatusCode, text: impl Into<String>) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text.into()).into_response()
}

async fn add_checkpoint(State(w): State<Arc<Witness>>, body: axum::body::Bytes) -> Response {
    // The checks and the durable record run under one lock, on a blocking thread.
    tokio::task::spawn_blocking(move || judge(&w, &body))
        .await
        .unwrap_or_else(|_| answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error\n"))
}

/// The C2SP tlog-witness rules, in their order.
fn judge(w: &Witness, body: &[u8]) -> Response {
    let Ok(text) = std::str::from_utf8(body) else { return answer(StatusCode::BAD_REQUEST, "not UTF-8\n") };
    let Some((head, note)) = text.split_once("\n\n") else { return answer(StatusCode::BAD_REQUEST, "no checkpoint\n") };
    let mut lines = head.lines();
    let Some(old) = lines.next().and_then(|l| l.strip_prefix("old ")).and_then(|n| n.parse::<u64>().ok()) else {
        return answer(StatusCode::BAD_REQUEST, "the first line must be `old N`\n");
    };
    let proof: Option<Vec<merkle::Node>> = lines.map(merkle::from_b64).collect();
    let Some(proof) = proof.filter(|p| p.len() <= 63) else {
        return answer(StatusCode::BAD_REQUEST, "a proof line is not a base64 hash\n");
    };
    let Ok(cp) = Checkpoint::parse(note) else { return answer(StatusCode::BAD_REQUEST, "not a checkpoint\n") };
    let Some(vkey) = w.logs.get(&cp.origin) else {
        return answer(StatusCode::FORBIDDEN, format!("unknown log {}\n", cp.origin));
    };
    let signed = KeyVerifier::parse(vkey).and_then(|k| verify_note(note, vec![k]));
    if !signed.is_ok_and(|names| names.contains(&cp.origin)) {
        return answer(StatusCode::FORBIDDEN, "the checkpoint is not signed by the log's key\n");
    }
    if old > cp.size {
        return answer(StatusCode::BAD_REQUEST, "old is larger than the checkpoint's size\n");
    }
    let mut state = w.state.lock().unwrap_or_else(|e| e.into_inner());
    let (held, held_root) = state.logs.get(&cp.origin).cloned().unwrap_or((0, merkle::b64(&merkle::EMPTY_HASH)));
    let conflict =
        || (StatusCode::CONFLICT, [(header::CONTENT_TYPE, "text/x.tlog.size")], format!("{held}\n")).into_response();
    if old != held {
        return conflict();
    }
    let Some(held_root) = merkle::from_b64(&held_root) else {
        return answer(StatusCode::INTERNAL_SERVER_ERROR, "bad state\n");
    };
    if old == cp.size && held > 0 && held_root != cp.root {
        return conflict();
    }
    if !merkle::check_consistency(&proof, cp.size, cp.root, old, held_root) {
        tracing::warn!(origin = %cp.origin, old, size = cp.size, "a consistency proof that does not verify (kept as evidence in the log)");
        return answer(StatusCode::UNPROCESSABLE_ENTITY, "the consistency proof does not verify\n");
    }
    state.logs.insert(cp.origin.clone(), (cp.size, merkle::b64(&cp.root)));
    let text = serde_json::to_string_pretty(&*state).unwrap_or_default();
    if let Err(e) = crate::files::write_atomically(&w.state_path, |f| Ok(f.write_all(text.as_bytes())?)) {
        // Not recorded: not cosigned.
        state.logs.insert(cp.origin.clone(), (held, merkle::b64(&held_root)));
        return answer(StatusCode::SERVICE_UNAVAILABLE, format!("could not record the checkpoint: {e}\n"));
    }
    let time = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let text_body = note.split_once("\n\n").map_or(note, |(t, _)| t);
    answer(StatusCode::OK, w.key.cosign(&format!("{text_body}\n"), time))
}
