//! A `caseledger serve` child process on 127.0.0.1 and a small HTTP client for tests.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{bin, run};

pub struct Server {
    pub child: Child,
    pub addr: String,
    agent: ureq::Agent,
}

/// Makes a token for `name` with `role` in the ledger's tokens file.
pub fn token(dir: &Path, name: &str, role: &str) -> String {
    let r = run(dir, &["token", "add", name, "--role", role], b"");
    assert_eq!(r.code, 0, "token add: {}", r.stderr);
    let t = r.stdout.trim().to_string();
    assert_eq!(r.stdout.lines().count(), 1, "the token alone on one line");
    t
}

pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One answer: status, content type, body text.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: String,
    pub text: String,
    /// The body as sent (a zip is not text).
    pub bytes: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl Server {
    /// Starts `serve` on a free port and waits for its "listening on" line.
    pub fn start(dir: &Path) -> Server {
        Server::start_with(dir, &[])
    }

    /// Starts `serve` with more arguments.
    pub fn start_with(dir: &Path, args: &[&str]) -> Server {
        let mut child = Command::new(bin())
            .arg("--ledger")
            .arg(dir)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("CASELEDGER_DIR")
            .env("CASELEDGER_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let addr =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("serve said: {line:?}")).to_string();
        Server { child, addr, agent: agent() }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn call(&self, method: &str, path: &str, token: Option<&str>, content_type: &str, body: &[u8]) -> Reply {
        call(&self.agent, &self.url(path), method, token, content_type, body)
    }

    /// A POST over a raw connection that reads the answer while the body is still
    /// being written: a server may answer 413 from the headers and close without
    /// reading an oversized body, and a client that only reads after writing sees a
    /// broken pipe instead of the answer (seen once in CI).
    pub fn post_oversized(&self, path: &str, token: &str, content_type: &str, body: Vec<u8>) -> Reply {
        use std::io::{Read, Write};
        let mut stream = std::net::TcpStream::connect(&self.addr).expect("connect");
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {token}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            self.addr,
            body.len()
        );
        let mut writer = stream.try_clone().expect("clone the stream");
        let sender = std::thread::spawn(move || {
            // The server may stop reading at any point: a failed write is expected.
            let _ = writer.write_all(head.as_bytes()).and_then(|()| writer.write_all(&body));
        });
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let _ = sender.join();
        let text = String::from_utf8_lossy(&raw).into_owned();
        let (headers, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let status = headers.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let content_type = headers
            .lines()
            .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type:").map(|v| v.trim().to_string()))
            .unwrap_or_default();
        Reply { status, content_type, text: body.to_string(), bytes: body.as_bytes().to_vec() }
    }

    pub fn get(&self, path: &str, token: &str) -> Reply {
        self.call("GET", path, Some(token), "", b"")
    }

    pub fn post_json(&self, path: &str, token: &str, body: &str) -> Reply {
        self.call("POST", path, Some(token), "application/json", body.as_bytes())
    }

    /// Sends a signal and waits for the exit code.
    pub fn stop(mut self, signal: &str) -> Option<i32> {
        let pid = self.child.id().to_string();
        let s = Command::new("kill").args(["-s", signal, &pid]).status().unwrap();
        assert!(s.success());
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status.code()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn call(
    agent: &ureq::Agent,
    url: &str,
    method: &str,
    token: Option<&str>,
    content_type: &str,
    body: &[u8],
) -> Reply {
    let try_call = || -> Result<Reply, ureq::Error> {
        let mut b = ureq::http::Request::builder().method(method).uri(url);
        if let Some(t) = token {
            b = b.header("Authorization", format!("Bearer {t}"));
        }
        if !content_type.is_empty() {
            b = b.header("Content-Type", content_type);
        }
        let req = b.body(body.to_vec()).unwrap();
        let mut resp = agent.run(req)?;
        let status = resp.status().as_u16();
        let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let bytes = resp.body_mut().with_config().limit(1 << 30).read_to_vec()?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        Ok(Reply { status, content_type, text, bytes })
    };
    try_call().unwrap_or_else(|e| panic!("{method} {url}: {e}"))
}

/// Like [`call`], but a transport error (the server died) is returned.
pub fn try_post(agent: &ureq::Agent, url: &str, token: &str, content_type: &str, body: &[u8]) -> Option<Reply> {
    let req = ureq::http::Request::builder()
        .method("POST")
        .uri(url)
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", content_type)
        .body(body.to_vec())
        .unwrap();
    let mut resp = agent.run(req).ok()?;
    let status = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().ok()?;
    Some(Reply { status, content_type: String::new(), bytes: text.clone().into_bytes(), text })
}
