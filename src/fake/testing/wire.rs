//! The scripted raw-bytes server of the transport's tests: a [`Server`] on a Unix socket or TCP
//! that plays one script of [`Step`]s per accepted connection, each on a thread of its own, and
//! records what it read; and what those tests share: plain requests and replies, scratch
//! directories, free ports, the checks for a local engine and for tools, and the duplex echo
//! check of an upgraded stream.
//!
//! Replies are written as given, byte for byte, so a test can send anything a broken or hostile
//! server might; requests are only split by their framing, never interpreted. Test builds only.
//! It uses `transport` (hosts, limits, requests, and the chunked decoder that finds the end of
//! an uploaded body) and nothing else of the crate.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::transport::chunked::ChunkedDecoder;
use crate::transport::{Body, Host, Request, Response, Timeouts, Transport, USER_AGENT};

pub(crate) fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

/// Whether a missing prerequisite must fail the test rather than skip it.
pub(crate) fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// Skips (returns `false`, printing why) or, under CI, fails.
pub(crate) fn require(ok: bool, what: &str) -> bool {
    if !ok {
        assert!(!in_ci(), "{what} (required when CI=true)");
        println!("SKIPPED: {what}");
    }
    ok
}

pub(crate) const DOCKER_SOCKET: &str = "/var/run/docker.sock";

pub(crate) fn docker_available() -> bool {
    require(
        UnixStream::connect(DOCKER_SOCKET).is_ok(),
        "no Docker engine answers at /var/run/docker.sock",
    )
}

pub(crate) fn timeouts() -> Timeouts {
    Timeouts {
        connect: Duration::from_secs(5),
        response: Some(Duration::from_secs(10)),
        idle: Some(Duration::from_secs(10)),
    }
}

/// A plain `200 OK` reply with the body `OK`.
pub(crate) const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";

/// A request without a body or extra headers, with the limits of [`timeouts`].
pub(crate) fn req(method: &'static str, target: &str) -> Request<'static> {
    Request {
        method,
        target: target.into(),
        headers: Vec::new(),
        body: Body::Empty,
        timeouts: timeouts(),
    }
}

/// The whole body of `r`, as text.
pub(crate) fn text(r: Response) -> String {
    String::from_utf8(r.read_to_vec(1 << 20).expect("body")).expect("utf-8")
}

/// The `User-Agent` line of every request head.
pub(crate) fn ua() -> String {
    format!("User-Agent: {USER_AGENT}\r\n")
}

/// What `server` read, per connection, as text.
pub(crate) fn records(server: Server) -> Vec<(usize, String)> {
    server
        .finish()
        .into_iter()
        .map(|(i, b)| (i, String::from_utf8_lossy(&b).into_owned()))
        .collect()
}

/// `GET /_ping`, which must answer `200`; the body.
pub(crate) fn ping(t: &Transport) -> crate::error::Result<String> {
    let r = t.send(req("GET", "/_ping"), None)?;
    assert_eq!(r.status, 200);
    let body = r.read_to_vec(1024)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A unique scratch directory, removed on drop.
pub(crate) struct TempDir(pub(crate) PathBuf);

impl TempDir {
    pub(crate) fn new() -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "s2i-docker-transport-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).expect("create temp dir");
        TempDir(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What the server does on one connection, in order.
#[derive(Clone)]
pub(crate) enum Step {
    /// Read one whole request (by its framing) and record it.
    Request,
    /// Read one request head and record it (for upgrades: the body that follows is the stream).
    Head,
    /// Write these bytes at once.
    Send(Vec<u8>),
    /// Write these bytes one at a time with a pause in between, so each read gets one byte.
    Trickle(Vec<u8>),
    /// Pause.
    Sleep(Duration),
    /// Read until the client closes or half-closes; record what came.
    ReadToEnd,
    /// Send back everything read, until the client half-closes.
    Echo,
    /// Close at once.
    Close,
}

pub(crate) fn send(bytes: &[u8]) -> Step {
    Step::Send(bytes.to_vec())
}

enum Listener {
    Unix(UnixListener),
    Tcp(TcpListener),
}

enum Peer {
    Unix(UnixStream),
    Tcp(TcpStream),
}

impl Read for Peer {
    fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
        match self {
            Peer::Unix(s) => s.read(b),
            Peer::Tcp(s) => s.read(b),
        }
    }
}

impl Write for Peer {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        match self {
            Peer::Unix(s) => s.write(b),
            Peer::Tcp(s) => s.write(b),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Peer {
    fn shutdown(&self) {
        let _ = match self {
            Peer::Unix(s) => s.shutdown(Shutdown::Both),
            Peer::Tcp(s) => s.shutdown(Shutdown::Both),
        };
    }
    fn set_timeout(&self, d: Duration) {
        let _ = match self {
            Peer::Unix(s) => s.set_read_timeout(Some(d)),
            Peer::Tcp(s) => s.set_read_timeout(Some(d)),
        };
    }
}

/// What the server read: (connection index, bytes).
type Records = Arc<Mutex<Vec<(usize, Vec<u8>)>>>;

/// A server that plays one script per accepted connection (each on its own thread) and
/// records what it read.
pub(crate) struct Server {
    pub(crate) host: Host,
    _dir: Option<TempDir>,
    records: Records,
    handle: Option<JoinHandle<Result<(), String>>>,
}

impl Server {
    pub(crate) fn unix(scripts: Vec<Vec<Step>>) -> Server {
        let dir = TempDir::new();
        let path = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&path).expect("bind");
        Server::start(
            Listener::Unix(listener),
            Host::Unix(path),
            Some(dir),
            scripts,
        )
    }

    pub(crate) fn tcp(base_path: &str, scripts: Vec<Vec<Step>>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let host = Host::Tcp {
            host: "127.0.0.1".into(),
            port,
            base_path: base_path.into(),
        };
        Server::start(Listener::Tcp(listener), host, None, scripts)
    }

    fn start(
        listener: Listener,
        host: Host,
        dir: Option<TempDir>,
        scripts: Vec<Vec<Step>>,
    ) -> Server {
        let records = Arc::new(Mutex::new(Vec::new()));
        let rec = Arc::clone(&records);
        let handle = std::thread::spawn(move || -> Result<(), String> {
            let deadline = Instant::now() + Duration::from_secs(10);
            let _ = match &listener {
                Listener::Unix(l) => l.set_nonblocking(true),
                Listener::Tcp(l) => l.set_nonblocking(true),
            };
            let mut workers = Vec::new();
            for (index, script) in scripts.into_iter().enumerate() {
                let peer = loop {
                    let accepted = match &listener {
                        Listener::Unix(l) => l.accept().map(|(s, _)| Peer::Unix(s)),
                        Listener::Tcp(l) => l.accept().map(|(s, _)| Peer::Tcp(s)),
                    };
                    match accepted {
                        Ok(p) => break p,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            if Instant::now() > deadline {
                                return Err(format!("connection {index} never came"));
                            }
                            std::thread::sleep(Duration::from_millis(2));
                        }
                        Err(e) => return Err(format!("accept: {e}")),
                    }
                };
                let _ = match &peer {
                    Peer::Unix(s) => s.set_nonblocking(false),
                    Peer::Tcp(s) => s.set_nonblocking(false),
                };
                let rec = Arc::clone(&rec);
                workers.push(std::thread::spawn(move || play(index, peer, script, &rec)));
            }
            for w in workers {
                w.join()
                    .map_err(|_| "a connection script panicked".to_string())??;
            }
            Ok(())
        });
        Server {
            host,
            _dir: dir,
            records,
            handle: Some(handle),
        }
    }

    /// Waits for every script to finish; returns what was read, per connection, in order.
    pub(crate) fn finish(mut self) -> Vec<(usize, Vec<u8>)> {
        if let Some(h) = self.handle.take() {
            match h.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => panic!("server: {e}"),
                Err(_) => panic!("server panicked"),
            }
        }
        std::mem::take(&mut *self.records.lock().unwrap())
    }
}

fn play(
    index: usize,
    mut peer: Peer,
    script: Vec<Step>,
    rec: &Mutex<Vec<(usize, Vec<u8>)>>,
) -> Result<(), String> {
    peer.set_timeout(Duration::from_secs(10));
    let mut pending = Vec::new();
    for step in script {
        match step {
            Step::Request | Step::Head => {
                let req = read_request(&mut peer, &mut pending, matches!(step, Step::Request))
                    .map_err(|e| format!("connection {index}: reading a request: {e}"))?;
                rec.lock().unwrap().push((index, req));
            }
            Step::Send(b) => {
                // The client may have gone (that is what some tests check).
                let _ = peer.write_all(&b);
            }
            Step::Trickle(b) => {
                for byte in b {
                    if peer.write_all(&[byte]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            Step::Sleep(d) => std::thread::sleep(d),
            Step::ReadToEnd => {
                let mut all = std::mem::take(&mut pending);
                let _ = peer.read_to_end(&mut all);
                rec.lock().unwrap().push((index, all));
            }
            Step::Echo => {
                if !pending.is_empty() {
                    let _ = peer.write_all(&pending);
                    pending.clear();
                }
                let mut buf = [0u8; 16 * 1024];
                loop {
                    match peer.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            if peer.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        Err(e) => return Err(format!("connection {index}: echo: {e}")),
                    }
                }
            }
            Step::Close => {
                peer.shutdown();
                return Ok(());
            }
        }
    }
    // Keep the connection open until the client is done with it.
    let mut sink = [0u8; 4096];
    match peer.read(&mut sink) {
        Ok(0) | Err(_) => Ok(()),
        Ok(_) => Err(format!(
            "connection {index}: unexpected bytes after the script"
        )),
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Reads one request: its head, then (if `with_body`) its body by Content-Length or chunked.
fn read_request(peer: &mut Peer, pending: &mut Vec<u8>, with_body: bool) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = find(pending, b"\r\n\r\n") {
            break i + 4;
        }
        let n = peer.read(&mut buf)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in head"));
        }
        pending.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&pending[..head_end]).to_ascii_lowercase();
    let mut end = head_end;
    if with_body {
        if head.contains("\r\ntransfer-encoding: chunked\r\n") {
            let mut dec = ChunkedDecoder::new();
            let mut pos = head_end;
            loop {
                let (used, _) = dec
                    .decode(&pending[pos..], usize::MAX)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
                pos += used;
                if dec.is_done() {
                    break;
                }
                if used == 0 {
                    let n = peer.read(&mut buf)?;
                    if n == 0 {
                        return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in body"));
                    }
                    pending.extend_from_slice(&buf[..n]);
                }
            }
            end = pos;
        } else if let Some(i) = head.find("\r\ncontent-length: ") {
            let rest = &head[i + 18..];
            let len: usize = rest[..rest.find('\r').unwrap_or(0)].parse().unwrap_or(0);
            end = head_end + len;
            while pending.len() < end {
                let n = peer.read(&mut buf)?;
                if n == 0 {
                    return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "eof in body"));
                }
                pending.extend_from_slice(&buf[..n]);
            }
        }
    }
    let req = pending[..end].to_vec();
    pending.drain(..end);
    Ok(req)
}

/// A reader that hands out its data one byte per call.
pub(crate) struct OneByte<'a>(pub(crate) &'a [u8]);

impl Read for OneByte<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match (self.0.split_first(), out.first_mut()) {
            (Some((b, rest)), Some(slot)) => {
                *slot = *b;
                self.0 = rest;
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

#[cfg(feature = "tls")]
/// Runs a command, returning whether it succeeded (and its stderr on failure).
pub(crate) fn run(cmd: &str, args: &[&str], dir: &Path) -> Result<(), String> {
    let out = std::process::Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{cmd} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[cfg(feature = "tls")]
pub(crate) fn on_path(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(cmd).is_file()))
}

/// A child process killed (by its own id) and reaped on drop.
#[cfg(feature = "tls")]
pub(crate) struct Child(pub(crate) std::process::Child);

#[cfg(feature = "tls")]
impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Writes 8 MiB into an upgraded stream on one thread while reading it back on this one, from a
/// server that echoes and then sends `done`: both directions must flow at once.
pub(crate) fn assert_duplex_echo(up: crate::transport::Upgraded) {
    use crate::transport::StdinWriter;
    let (mut rd, mut wr) = up.split();
    // Far more than socket buffers hold: the writer blocks unless the reader keeps draining.
    const TOTAL: usize = 8 << 20;
    let writer = std::thread::spawn(move || -> io::Result<()> {
        let block: Vec<u8> = (0..65_536u32).map(|i| (i % 253) as u8).collect();
        for _ in 0..TOTAL / block.len() {
            wr.write_all(&block)?;
        }
        wr.close_write()
    });
    let mut got = Vec::with_capacity(TOTAL + 4);
    rd.read_to_end(&mut got).unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(got.len(), TOTAL + 4);
    assert!(got[..TOTAL]
        .iter()
        .enumerate()
        .all(|(i, b)| *b == ((i % 65_536) % 253) as u8));
    assert_eq!(&got[TOTAL..], b"done");
}
