//! `caseledger serve` (SPEC §12): a JSON API over the same library as the command
//! line, on axum and tokio. A thin transport: handlers parse the request, check the
//! caller's role, and call the library; appends go through one group committer
//! ([`crate::appender`]); whole-ledger reads run on blocking threads, a bounded number at once.

mod api;
pub mod listener;
mod state;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::access::Tokens;
use crate::error::{Error, Result};
use crate::ledger::Ledger;
use crate::limits::{APPEND_QUEUE, MAX_CONNECTIONS, MAX_HEAVY_READS, REQUEST_TIMEOUT_SECS, SHUTDOWN_GRACE_SECS};
use api::ApiError;
use state::{AppState, Caller};

/// Where and how to serve.
#[derive(Debug, Clone)]
pub struct Config {
    pub addr: String,
    /// The tokens file (default: `tokens.json` in the ledger directory).
    pub tokens: Option<PathBuf>,
    /// How often a checkpoint is signed while appends come in (SPEC §14: at least
    /// every 60 s), when the ledger has a signing key.
    pub checkpoint_every: Duration,
}

pub use crate::access::default_tokens_path;

/// Opens the ledger, serves until SIGTERM or SIGINT, then finishes in-flight requests,
/// lets the writer drain its queue, and returns. `ready` is told the bound address.
pub fn run(dir: &Path, config: &Config, ready: impl FnOnce(SocketAddr, &Arc<Ledger>)) -> Result<()> {
    let addr: SocketAddr = config.addr.parse().map_err(|_| {
        Error::Usage(format!("--addr: \"{}\" — не адрес ХОСТ:ПОРТ (например, 127.0.0.1:8080)", config.addr))
    })?;
    let ledger = Arc::new(Ledger::open(dir)?);
    let tokens_path = config.tokens.clone().unwrap_or_else(|| default_tokens_path(dir));
    let tokens = Tokens::load(&tokens_path)?;
    if tokens.is_empty() {
        tracing::warn!(file = %tokens_path.display(), "no tokens: only /health will answer (create one with `caseledger token add NAME --role R`)");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(MAX_HEAVY_READS * 4 + 4)
        .thread_name("caseledger-http")
        .enable_all()
        .build()
        .map_err(|e| Error::storage("starting the runtime", e))?;
    let (appender, writer_thread) = crate::appender::Appender::start(ledger.clone(), APPEND_QUEUE);
    let shutting_down = Arc::new(AtomicBool::new(false));
    let users = crate::access::Users::new(crate::access::default_users_path(dir));
    let app = app(ledger.clone(), tokens, users, appender, shutting_down.clone(), true);
    let (stop_signer, signer_thread) = start_signer(ledger.clone(), config.checkpoint_every);
    let ledger_for_ready = ledger.clone();
    let served = runtime.block_on(async move {
        let tcp = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::storage(&format!("listening on {addr}"), e))?;
        let local = tcp.local_addr()?;
        tracing::info!(addr = %local, ledger = %dir.display(), "serving");
        ready(local, &ledger_for_ready);
        let listener = listener::Limited::new(tcp, MAX_CONNECTIONS);
        let stopping = Arc::new(tokio::sync::Notify::new());
        let notify = stopping.clone();
        let app = app.into_make_service_with_connect_info::<crate::access::Client>();
        let serving = axum::serve(listener, app).with_graceful_shutdown(async move {
            stop_signal().await;
            shutting_down.store(true, Ordering::SeqCst);
            notify.notify_one();
            tracing::info!("stopping: no new connections; finishing in-flight requests");
        });
        // Connections that never finish (a client that sent half a request) must not
        // keep the service from stopping: they get SHUTDOWN_GRACE_SECS.
        tokio::select! {
            served = serving => served.map_err(|e| Error::storage("serving", e)),
            () = async {
                stopping.notified().await;
                tokio::time::sleep(Duration::from_secs(SHUTDOWN_GRACE_SECS)).await;
            } => {
                tracing::warn!("connections still open {SHUTDOWN_GRACE_SECS} s after the stop signal; closing them");
                Ok(())
            }
        }
    });
    // Every handle to the writer is gone with the router: it drains its queue and ends.
    runtime.shutdown_timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS));
    if writer_thread.join().is_err() {
        return Err(Error::Storage("the writer thread panicked".into()));
    }
    drop(stop_signer);
    if signer_thread.join().is_err() {
        return Err(Error::Storage("the checkpoint signer thread panicked".into()));
    }
    served?;
    ledger.sync()?;
    tracing::info!(seq = ledger.head().seq, "stopped");
    Ok(())
}

/// The checkpoint signer of `serve` (SPEC §14): every `every`, when the ledger has a
/// signing key and has grown since its latest checkpoint, signs one and sends it to
/// the witnesses. Failures are logged and tried again at the next tick: a witness
/// that is down never stops the ledger. Ends when the returned sender is dropped.
fn start_signer(ledger: Arc<Ledger>, every: Duration) -> (std::sync::mpsc::Sender<()>, std::thread::JoinHandle<()>) {
    let (stop, stopped) = std::sync::mpsc::channel::<()>();
    let thread = std::thread::Builder::new()
        .name("caseledger-checkpoints".into())
        .spawn(move || {
            // A round that fell short of the quorum is tried again at the next tick,
            // grown or not.
            let mut short = false;
            loop {
                match stopped.recv_timeout(every) {
                    Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
                    _ => return,
                }
                let dir = ledger.store().dir().to_path_buf();
                let grown = match (crate::checkpoint::LogKey::load(&dir), crate::checkpoint::Checkpoint::latest(&dir)) {
                    (Ok(Some(_)), Ok(latest)) => {
                        let can = crate::checkpoint::coverable(&ledger, &dir).map(|c| c.0).unwrap_or(0);
                        can > 0 && (short || latest.is_none_or(|cp| cp.size < can))
                    }
                    (Ok(None), _) => false,
                    (Err(e), _) | (_, Err(e)) => {
                        tracing::error!(error = %e, "cannot read the signing key or the latest checkpoint");
                        false
                    }
                };
                if !grown {
                    continue;
                }
                match crate::checkpoint::sign(&ledger, &dir) {
                    Ok(s) => {
                        short = s.cosigned.len() < s.quorum;
                        for why in &s.unavailable {
                            tracing::warn!(witness = %why, "a witness did not cosign");
                        }
                        for why in &s.inconsistent {
                            tracing::error!(witness = %why, "a witness holds another history of this ledger");
                        }
                        tracing::info!(
                            size = s.checkpoint.size,
                            cosigned = s.cosigned.len(),
                            quorum = s.quorum,
                            "checkpoint signed"
                        );
                    }
                    Err(e) => tracing::error!(error = %e, "signing a checkpoint failed"),
                }
            }
        })
        .expect("starting the checkpoint signer thread");
    (stop, thread)
}

async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("installing the SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("installing the SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

/// The whole service — the JSON API and the web pages — over an open ledger and its
/// group committer: what `serve` runs, and what handler tests call in process.
pub fn app(
    ledger: Arc<Ledger>,
    tokens: Tokens,
    users: crate::access::Users,
    appender: crate::appender::Appender,
    shutting_down: Arc<AtomicBool>,
    warm_up: bool,
) -> axum::Router {
    let heavy = Arc::new(Semaphore::new(MAX_HEAVY_READS));
    let web = crate::web::Web::new(ledger.clone(), appender.clone(), Arc::new(users), heavy.clone());
    if warm_up {
        web.warm_up();
    }
    let state = AppState { ledger, tokens: Arc::new(tokens), appender, heavy, shutting_down };
    router(state, web)
}

fn router(state: AppState, web: crate::web::Web) -> axum::Router {
    use axum::routing::{get, post};
    let api = axum::Router::new()
        .route("/health", get(api::health))
        .route("/v1/events", post(api::append).get(api::events))
        .route("/v1/cases", get(api::cases))
        .route("/v1/cases/{case}", get(api::case))
        .route("/v1/indicators", get(api::indicators_get).post(api::indicators_post).layer(crate::limits::small_body()))
        .route("/v1/explain/{id}", get(api::explain))
        .route("/v1/reports", post(api::report_create).layer(crate::limits::small_body()))
        .route("/v1/reports/verify", post(api::report_verify).layer(crate::limits::small_body()))
        .route("/v1/bundles", post(api::bundle_create).layer(crate::limits::small_body()))
        .route("/v1/verify", get(api::verify))
        .route("/v1/export", get(api::export))
        .route("/v1/checkpoint", get(api::checkpoint))
        .route("/v1/mirror", post(api::mirror_head).layer(crate::limits::small_body()))
        .route("/v1/proof/inclusion", get(api::proof_inclusion))
        .route("/v1/proof/consistency", get(api::proof_consistency))
        .with_state(state.clone());
    // The web pages (SPEC §16) beside the JSON API, on the same address.
    api.merge(crate::web::router(web))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(crate::limits::MAX_REQUEST_BYTES))
        .layer(axum::middleware::from_fn_with_state(state, around))
}

/// Around every request: refuse during shutdown, find the caller, bound the time, and
/// log one line (method, path, status, duration, user — never contents).
async fn around(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let caller = identify(&state.tokens, &req);
    let user = match &caller {
        Caller::User(u) => u.name.clone(),
        Caller::Missing => "-".into(),
        Caller::Unknown => "?".into(),
    };
    req.extensions_mut().insert(caller);
    // An append is never cut off: once queued it is stored, so its answer must say so.
    let is_append = method == axum::http::Method::POST && path == "/v1/events";
    let response = if state.shutting_down.load(Ordering::SeqCst) {
        ApiError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "the service is shutting down").into_response()
    } else if is_append {
        next.run(req).await
    } else {
        match tokio::time::timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS), next.run(req)).await {
            Ok(r) => r,
            Err(_) => ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                format!("the request took longer than {REQUEST_TIMEOUT_SECS} s"),
            )
            .into_response(),
        }
    };
    tracing::info!(
        target: "caseledger::request",
        %method,
        %path,
        status = response.status().as_u16(),
        ms = format_args!("{:.2}", started.elapsed().as_secs_f64() * 1000.0),
        %user,
        "request"
    );
    response
}

fn identify(tokens: &Tokens, req: &Request) -> Caller {
    let Some(value) = req.headers().get(axum::http::header::AUTHORIZATION) else { return Caller::Missing };
    let Some(token) = value.to_str().ok().and_then(|v| v.strip_prefix("Bearer ")).map(str::trim) else {
        return Caller::Unknown;
    };
    tokens.user(token).cloned().map_or(Caller::Unknown, Caller::User)
}
