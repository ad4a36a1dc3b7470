//! The command line while `serve` holds the ledger (SPEC §20). sled lets one process
//! open a ledger; so `serve` also listens on a local socket, `DIR/serve.sock` (mode
//! 0600: only the service's own user, or root, may connect), and a reading command
//! given to a served ledger runs inside the service, on its open ledger, through the
//! very same code as alone (`run_with`), its output sent back as it is made. A
//! command that writes is refused and told to use the service.
//!
//! The protocol is this program's own: the client sends one JSON line
//! `{"argv": [...], "cwd": "..."}`; the service answers frames `tag · u32 BE length ·
//! bytes`: `o` standard output, `e` standard error, `f` a file written for the client
//! (JSON `{"index": i, "path": staged}`), `x` the exit code. Files the command writes
//! (`--out`, `export FILE`) are written by the service into `DIR/served/` and moved to
//! where the client asked by the client itself, with its own rights; files it reads
//! (`--defs`, `report verify FILE`) are taken from the client's directory.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::args::{CaseCommand, Cli, Command, KeyCommand};
use super::context::Ctx;
use crate::error::{Error, Result};
use crate::ledger::Ledger;

/// The socket's name in the ledger directory.
pub const SOCKET: &str = "serve.sock";
/// Where the service writes files for its clients, under the ledger directory.
const STAGING: &str = "served";
/// Commands run at once through the socket; more wait for an answer of "busy".
const MAX_AT_ONCE: usize = 4;
/// The longest request line (the arguments of one command).
const MAX_REQUEST_BYTES: u64 = 1 << 20;

/// A command sent to the service: its arguments and the directory it was typed in.
#[derive(serde::Serialize, serde::Deserialize)]
struct Request {
    argv: Vec<String>,
    cwd: PathBuf,
}

/// A file the command wrote, staged by the service: which of the command's outputs it
/// is, and where it waits.
#[derive(serde::Serialize, serde::Deserialize)]
struct Staged {
    index: usize,
    path: PathBuf,
}
/// A frame of output.
const FRAME_BYTES: usize = 1 << 16;

pub fn socket_path(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

/// What a command does to a ledger.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// Reads it: runs inside the service while it is served.
    Read,
    /// Writes it: only through the service while it is served.
    Write,
    /// Does not open the ledger (or opens another directory).
    Free,
}

fn kind(cmd: &Command) -> Kind {
    use super::report::ReportCommand as R;
    match cmd {
        Command::Log { .. }
        | Command::Verify { export: None, .. }
        | Command::Export { .. }
        | Command::Facts { .. }
        | Command::Case(CaseCommand::Show { .. })
        | Command::Cases { .. }
        | Command::Due { .. }
        | Command::Indicators { .. }
        | Command::Explain { .. }
        | Command::Report(R::Create { publish: false, .. } | R::Html { .. } | R::Verify { .. })
        | Command::Table { template: false, .. }
        | Command::Proof(_)
        | Command::ImportTable { dry_run: true, .. }
        | Command::Backup { .. } => Kind::Read,
        Command::Init { .. }
        | Command::Append { .. }
        | Command::Import { .. }
        | Command::ImportTable { .. }
        | Command::Recover { .. }
        | Command::Key(KeyCommand::Init { .. })
        | Command::Checkpoint
        | Command::Report(R::Create { publish: true, .. } | R::Bundle { .. })
        | Command::Serve { .. }
        | Command::Mirror { .. } => Kind::Write,
        _ => Kind::Free,
    }
}

/// The files a reading command reads and writes, as given (relative to the caller's
/// directory, or absolute).
fn paths(cmd: &mut Command) -> (Vec<&mut PathBuf>, Vec<&mut PathBuf>) {
    use super::report::ReportCommand as R;
    match cmd {
        Command::Export { file, parquet } => (vec![], file.iter_mut().chain(parquet.iter_mut()).collect()),
        Command::Facts { out, .. } => (vec![], vec![out]),
        Command::Indicators { args } | Command::Explain { args, .. } => (args.defs.iter_mut().collect(), vec![]),
        Command::Report(R::Create { args, out, .. }) => (args.defs.iter_mut().collect(), out.iter_mut().collect()),
        Command::Report(R::Html { args, out }) => (args.defs.iter_mut().collect(), vec![out]),
        Command::Report(R::Verify { file }) => (vec![file], vec![]),
        Command::Table { out, .. } => (vec![], vec![out]),
        Command::ImportTable { file, .. } => (vec![file], vec![]),
        Command::Backup { out } => (vec![], vec![out]),
        _ => (vec![], vec![]),
    }
}

/// What the service does instead, for a command that writes.
fn instead(cmd: &Command, dir: &Path) -> String {
    use super::report::ReportCommand as R;
    let what = match cmd {
        Command::Append { .. } | Command::Import { .. } => {
            "записывайте события через сервис: POST /v1/events или формы на его страницах"
        }
        Command::ImportTable { .. } => "таблицу загружают на странице «Импорт» (/import) или проверяют с --dry-run",
        Command::Report(R::Create { .. } | R::Bundle { .. }) => {
            "публикуют через сервис: страница «Отчёты» или POST /v1/bundles"
        }
        Command::Checkpoint => "сервис сам подписывает контрольные точки (checkpoint_every) — см. GET /v1/checkpoint",
        Command::Serve { .. } => "он уже работает",
        _ => "остановите сервис, чтобы выполнить эту команду",
    };
    format!("реестр {} открыт сервисом (caseledger serve), и эта команда записывает в него: {what}", dir.display())
}

/// When `serve` holds the ledger: runs a reading command through it (its exit code),
/// or refuses a writing one (exit 4). `None` when the command should run here.
pub fn try_forward(cli: &Cli, args: &[String]) -> Option<i32> {
    let k = kind(&cli.command);
    if k == Kind::Free {
        return None;
    }
    let stream = UnixStream::connect(socket_path(&cli.ledger)).ok()?;
    if k == Kind::Write {
        eprintln!("{}", instead(&cli.command, &cli.ledger));
        return Some(4);
    }
    match forward(stream, cli, args) {
        Ok(code) => Some(code),
        Err(e) => {
            eprintln!("{e}");
            Some(e.exit_code())
        }
    }
}

fn forward(stream: UnixStream, cli: &Cli, args: &[String]) -> Result<i32> {
    let cwd = std::env::current_dir().map_err(|e| Error::storage("reading the current directory", e))?;
    let mut request = serde_json::to_vec(&Request { argv: args.to_vec(), cwd })
        .map_err(|e| Error::Storage(format!("the request: {e}")))?;
    request.push(b'\n');
    (&stream).write_all(&request).map_err(|e| Error::storage("sending the command to the service", e))?;
    // The client's own reading of its arguments says where each file goes.
    let mut mine = Cli { ledger: cli.ledger.clone(), json: cli.json, command: clone_command(args)? };
    let (_, outputs) = paths(&mut mine.command);
    let outputs: Vec<PathBuf> = outputs.into_iter().map(|p| p.clone()).collect();
    let mut reader = BufReader::new(&stream);
    let lost = |e: std::io::Error| Error::storage("the service's answer broke off", e);
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    // A command that writes files prints where once they are there, as alone.
    let mut held: Option<Vec<u8>> = (!outputs.is_empty()).then(Vec::new);
    loop {
        let mut head = [0u8; 5];
        reader.read_exact(&mut head).map_err(lost)?;
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body).map_err(lost)?;
        match head[0] {
            b'o' if held.is_some() => held.iter_mut().for_each(|h| h.extend_from_slice(&body)),
            b'o' => {
                let mut out = stdout.lock();
                if out.write_all(&body).and_then(|()| out.flush()).is_err() {
                    // `caseledger log | head`: the reader went away.
                    return Ok(0);
                }
            }
            b'e' => {
                let _ = stderr.lock().write_all(&body);
            }
            b'f' => {
                let Staged { index: i, path: staged } = serde_json::from_slice(&body)
                    .map_err(|e| Error::Storage(format!("the service named a file oddly: {e}")))?;
                let staged = staged.as_path();
                let dest = outputs
                    .get(i)
                    .ok_or_else(|| Error::Storage(format!("the service wrote a file #{i} nobody asked for")))?;
                let moved = take(Path::new(staged), dest);
                if moved.is_err() {
                    let _ = std::fs::remove_dir_all(Path::new(staged).parent().unwrap_or(Path::new(staged)));
                }
                moved?;
            }
            b'x' => {
                let code = std::str::from_utf8(&body).ok().and_then(|s| s.parse().ok()).unwrap_or(4);
                if let Some(h) = held {
                    let mut out = stdout.lock();
                    let _ = out.write_all(&h).and_then(|()| out.flush());
                }
                return Ok(code);
            }
            other => return Err(Error::Storage(format!("the service sent an unknown frame {other}"))),
        }
    }
}

/// The command of `args`, parsed again (clap's values do not clone).
fn clone_command(args: &[String]) -> Result<Command> {
    use clap::Parser;
    Cli::try_parse_from(args).map(|c| c.command).map_err(|e| Error::Usage(super::usage::russian(&e)))
}

/// Moves what the service wrote to where the client asked: a rename, or a copy when
/// the two are on different disks; a directory's files one by one into the wanted one.
fn take(staged: &Path, dest: &Path) -> Result<()> {
    let err = |e: std::io::Error| Error::Usage(format!("{}: {e}", dest.display()));
    if staged.is_dir() {
        std::fs::create_dir_all(dest).map_err(err)?;
        for entry in std::fs::read_dir(staged).map_err(err)? {
            let entry = entry.map_err(err)?;
            take(&entry.path(), &dest.join(entry.file_name()))?;
        }
        let _ = std::fs::remove_dir(staged);
    } else if std::fs::rename(staged, dest).is_err() {
        std::fs::copy(staged, dest).map_err(err)?;
        std::fs::remove_file(staged).map_err(err)?;
    }
    if let Some(parent) = staged.parent().filter(|p| p.file_name().is_some_and(|n| n != STAGING)) {
        let _ = std::fs::remove_dir(parent);
    }
    Ok(())
}

/// The socket of a running service; removed when dropped.
pub struct Listening {
    path: PathBuf,
}

impl Drop for Listening {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Starts answering commands on `DIR/serve.sock` for as long as the process runs.
/// How the service runs one command it is sent (the command line's own dispatch,
/// handed in by it).
pub type Run = fn(Cli, &crate::config::Config, &Ctx, &mut dyn Write) -> Result<()>;

pub fn listen(dir: &Path, ledger: Arc<Ledger>, config: crate::config::Config, run: Run) -> Result<Listening> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(dir);
    // The service holds the ledger's lock: a socket left here is a dead service's.
    let _ = std::fs::remove_file(&path);
    let _ = std::fs::remove_dir_all(dir.join(STAGING));
    // Bound in a private directory and given its mode there, then moved into place, so
    // it is never reachable with the process's default mode.
    let private = dir.join(format!(".serve.sock.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    let io = |what: &str| {
        let what = what.to_string();
        move |e: std::io::Error| Error::storage(&what, e)
    };
    std::fs::create_dir(&private).map_err(io("making the socket's directory"))?;
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).map_err(io("securing the socket"))?;
    let inner = private.join(SOCKET);
    let bound = UnixListener::bind(&inner).and_then(|l| {
        std::fs::set_permissions(&inner, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&inner, &path)?;
        Ok(l)
    });
    let _ = std::fs::remove_dir_all(&private);
    let listener = bound.map_err(io(&format!("listening on {}", path.display())))?;
    let dir = dir.to_path_buf();
    let busy = Arc::new(AtomicUsize::new(0));
    let config = Arc::new(config);
    std::thread::Builder::new()
        .name("caseledger-socket".into())
        .spawn(move || {
            for stream in listener.incoming().flatten() {
                let (ledger, dir, config, busy) = (ledger.clone(), dir.clone(), config.clone(), busy.clone());
                if busy.fetch_add(1, Ordering::SeqCst) >= MAX_AT_ONCE {
                    busy.fetch_sub(1, Ordering::SeqCst);
                    let mut out = Frames::new(&stream, b'e');
                    let _ = writeln!(out, "сервис занят: уже выполняются {MAX_AT_ONCE} команды; повторите позже");
                    let _ = out.flush().and_then(|()| frame(&stream, b'x', b"4"));
                    continue;
                }
                let _ = std::thread::Builder::new().name("caseledger-socket-cmd".into()).spawn(move || {
                    answer(&stream, &ledger, &dir, &config, run);
                    busy.fetch_sub(1, Ordering::SeqCst);
                });
            }
        })
        .map_err(io("starting the socket thread"))?;
    Ok(Listening { path })
}

/// Runs one client's command and sends back what it printed and wrote.
fn answer(stream: &UnixStream, ledger: &Arc<Ledger>, dir: &Path, config: &crate::config::Config, run: Run) {
    let code = match run_one(stream, ledger, dir, config, run) {
        Ok(code) => code,
        Err(e) => {
            let _ = frame(stream, b'e', format!("{e}\n").as_bytes());
            e.exit_code()
        }
    };
    let _ = frame(stream, b'x', code.to_string().as_bytes());
}

fn run_one(
    stream: &UnixStream,
    ledger: &Arc<Ledger>,
    dir: &Path,
    config: &crate::config::Config,
    run: Run,
) -> Result<i32> {
    use clap::Parser;
    let mut line = Vec::new();
    BufReader::new(stream)
        .take(MAX_REQUEST_BYTES)
        .read_until(b'\n', &mut line)
        .map_err(|e| Error::storage("reading a command from the socket", e))?;
    let Request { argv, cwd } =
        serde_json::from_slice(&line).map_err(|e| Error::Usage(format!("команда через сокет — не JSON (`{e}`)")))?;
    let mut cli = Cli::try_parse_from(&argv).map_err(|e| Error::Usage(super::usage::russian(&e)))?;
    if kind(&cli.command) != Kind::Read {
        return Err(Error::InUse(instead(&cli.command, dir)));
    }
    cli.ledger = dir.to_path_buf();
    let staging = dir.join(STAGING).join(&crate::codec::hex(&random())[..16]);
    let (inputs, outputs) = paths(&mut cli.command);
    for p in inputs {
        *p = cwd.join(&*p);
    }
    let mut staged = Vec::new();
    let mut names = Vec::new();
    for (i, p) in outputs.into_iter().enumerate() {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let given = p.display().to_string();
        *p = staging.join(format!("{i}-{name}"));
        names.push((p.display().to_string(), given));
        staged.push(p.clone());
    }
    if !staged.is_empty() {
        std::fs::create_dir_all(&staging).map_err(|e| Error::storage("making a folder for the command's files", e))?;
    }
    // A command that writes files says where in a line or two: said with the names the
    // client gave, so its output is the same as alone.
    let mut out = Frames::new(stream, b'o');
    out.names = names.clone();
    let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(cli, config, &Ctx::Served(ledger.clone()), &mut out)
    }));
    let _ = out.finish();
    let code = match ran {
        Ok(Ok(())) => 0,
        Ok(Err(e)) => {
            let mut text = String::new();
            if e.exit_code() == 4 && out.written {
                text.push_str("the output above is incomplete: caseledger stopped part way on the error below\n");
            }
            let mut said = e.to_string();
            for (staged, given) in &names {
                said = said.replace(staged.as_str(), given);
            }
            text.push_str(&said);
            text.push('\n');
            frame(stream, b'e', text.as_bytes()).map_err(|e| Error::storage("answering", e))?;
            e.exit_code()
        }
        Err(_) => {
            let text = "caseledger stopped on an internal error (a bug: please report it)\n";
            frame(stream, b'e', text.as_bytes()).map_err(|e| Error::storage("answering", e))?;
            4
        }
    };
    for (i, p) in staged.iter().enumerate() {
        if p.exists() {
            let v = Staged { index: i, path: p.to_path_buf() };
            let body = serde_json::to_vec(&v).map_err(|e| Error::Storage(format!("naming a file: {e}")))?;
            frame(stream, b'f', &body).map_err(|e| Error::storage("answering", e))?;
        }
    }
    Ok(code)
}

fn random() -> [u8; 32] {
    let mut b = [0u8; 32];
    let _ = getrandom::fill(&mut b);
    b
}

fn frame(mut stream: &UnixStream, tag: u8, body: &[u8]) -> std::io::Result<()> {
    let mut head = [tag, 0, 0, 0, 0];
    head[1..].copy_from_slice(&(body.len() as u32).to_be_bytes());
    stream.write_all(&head)?;
    stream.write_all(body)
}

/// Output sent to the client in frames of one kind.
struct Frames<'a> {
    stream: &'a UnixStream,
    tag: u8,
    buf: Vec<u8>,
    written: bool,
    /// Staged paths and the names the client gave them: output is then kept whole
    /// until the end and the names put back.
    names: Vec<(String, String)>,
}

impl<'a> Frames<'a> {
    fn new(stream: &'a UnixStream, tag: u8) -> Frames<'a> {
        Frames { stream, tag, buf: Vec::with_capacity(FRAME_BYTES), written: false, names: Vec::new() }
    }
}

impl Write for Frames<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        self.written |= !bytes.is_empty();
        if self.buf.len() >= FRAME_BYTES && self.names.is_empty() {
            self.send()?;
        }
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.names.is_empty() {
            self.send()?;
        }
        Ok(())
    }
}

impl Frames<'_> {
    /// Sends what is buffered (all of it, names put back, at the end).
    fn finish(&mut self) -> std::io::Result<()> {
        if !self.names.is_empty() {
            let mut text = String::from_utf8_lossy(&self.buf).into_owned();
            for (staged, given) in &self.names {
                text = text.replace(staged.as_str(), given);
            }
            self.buf = text.into_bytes();
            self.names.clear();
        }
        self.send()
    }

    fn send(&mut self) -> std::io::Result<()> {
        if !self.buf.is_empty() {
            frame(self.stream, self.tag, &self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }
}
