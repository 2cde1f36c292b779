//! A scripted engine on a Unix socket for the unit tests of `ops`: it records each request
//! (decoded from the wire) and answers with bytes a handler chooses. `serve` hands out an
//! `EngineClient` pinned to API 1.41 and to the Docker engine, `serve_with(false, ..)` one that
//! negotiates with its ping.
//!
//! Test builds only. Uses `ops`' engine client (to connect one to the socket) and std: requests
//! are parsed here, not by `transport`, so the tests check the bytes the client sends rather
//! than the client's own reading of them.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::ops::engine::{new_engine_api_client, EngineClient};
use crate::ops::env::DockerConfig;

/// A request as the engine received it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Recorded {
    pub method: String,
    /// The path exactly as sent (still percent-encoded).
    pub path: String,
    /// The query pairs in the order sent, percent-decoded.
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn query_pairs(&self) -> Vec<(&str, &str)> {
        self.query
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// What to answer: the bytes, and whether to close the connection afterwards.
pub(crate) type Handler = dyn Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync;

pub(crate) struct Server {
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    pub path: PathBuf,
}

impl Server {
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }

    pub fn only_request(&self) -> Recorded {
        let r = self.requests();
        assert_eq!(r.len(), 1, "{r:#?}");
        r[0].clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// A JSON reply with `Content-Length`.
pub(crate) fn json(status: &str, body: &str) -> (Vec<u8>, bool) {
    (
        format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
        false,
    )
}

/// Starts a server and a client pinned to API 1.41 (no negotiation unless `pinned` is false).
pub(crate) fn serve_with(
    pinned: bool,
    handler: impl Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync + 'static,
) -> (EngineClient, Server) {
    static N: AtomicUsize = AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "s2i-docker-ops-{}-{}.sock",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).expect("bind the test socket");
    let requests = Arc::new(Mutex::new(Vec::new()));
    let handler: Arc<Handler> = Arc::new(handler);
    let recorded = requests.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let (handler, recorded) = (handler.clone(), recorded.clone());
            std::thread::spawn(move || serve_connection(conn, &*handler, &recorded));
        }
    });
    let config = DockerConfig {
        endpoint: format!("unix://{}", path.display()),
        ..Default::default()
    };
    let mut client = new_engine_api_client(&config).expect("client");
    if pinned {
        // Nor a ping to tell the engine: the tests that need Podman ask for it.
        client = client
            .with_api_version("1.41")
            .expect("version")
            .with_engine(crate::ops::engine::Engine::Docker);
    }
    (client, Server { requests, path })
}

/// Starts a server and a client pinned to API 1.41 and to the Docker engine.
pub(crate) fn serve(
    handler: impl Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync + 'static,
) -> (EngineClient, Server) {
    serve_with(true, handler)
}

fn serve_connection(conn: UnixStream, handler: &Handler, recorded: &Mutex<Vec<Recorded>>) {
    let Ok(mut writer) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    while let Some(request) = read_request(&mut reader) {
        if let Ok(mut r) = recorded.lock() {
            r.push(request.clone());
        }
        let (reply, close) = handler(&request);
        if writer.write_all(&reply).is_err() || close {
            let _ = writer.shutdown(std::net::Shutdown::Both);
            return;
        }
    }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(if b[i] == b'+' { b' ' } else { b[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn read_request(r: &mut BufReader<UnixStream>) -> Option<Recorded> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.trim_end().splitn(3, ' ');
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let get = |n: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.clone())
    };
    let mut body = Vec::new();
    if get("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            r.read_line(&mut size).ok()?;
            let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
            let mut chunk = vec![0; n + 2];
            r.read_exact(&mut chunk).ok()?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    } else if let Some(n) = get("Content-Length").and_then(|v| v.parse::<usize>().ok()) {
        body.resize(n, 0);
        r.read_exact(&mut body).ok()?;
    }
    Some(Recorded {
        method,
        path,
        query,
        headers,
        body,
    })
}
