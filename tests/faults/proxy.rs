//! A fault proxy: a Unix socket that forwards every connection to the engine's socket and
//! breaks one chosen request (or a run of them).
//!
//! A [`Fault`] selects requests by method and path substring and by occurrence (the `nth`
//! matching request and the `times - 1` after it, counted over all connections), and says what
//! happens to that exchange: in which direction ([`Dir`]), after how many bytes of the request
//! or reply ([`At`], counted from the start of its head or of its body), and how ([`Action`]).
//!
//! Each connection is served by one thread over non-blocking sockets, so that it alone owns
//! both ends and can close them at any byte.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::scan::Head;

/// Which way the broken bytes travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dir {
    /// The request, client to engine.
    ToEngine,
    /// The reply (or an attach's output), engine to client.
    ToClient,
}

/// Where in the request or reply the fault strikes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum At {
    /// After this many bytes from the start of the head.
    Head(u64),
    /// After this many bytes of the body (after the head's blank line).
    Body(u64),
}

/// What the fault does once the bytes before it were forwarded and more arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Both connections are closed cleanly (what was queued at the proxy is discarded first):
    /// the peers read an end of stream where the message stops, and their writes fail.
    Cut,
    /// Both connections are closed at once, with whatever was queued at the proxy unread: a
    /// Unix-socket peer that had bytes in flight gets `ECONNRESET` (Unix sockets have no RST;
    /// this is their abortive close).
    Reset,
    /// Nothing more is forwarded in that direction (nor read from its sender) until the proxy
    /// is dropped; the other direction goes on.
    Stall,
}

/// A fault on the requests `method` whose path contains `path`.
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: &'static str,
    pub path: String,
    pub nth: usize,
    pub times: usize,
    pub dir: Dir,
    pub at: At,
    pub action: Action,
}

impl Fault {
    /// Cuts the whole reply of the first matching request (the engine still gets the request).
    pub fn new(method: &'static str, path: &str) -> Fault {
        Fault {
            method,
            path: path.to_string(),
            nth: 1,
            times: 1,
            dir: Dir::ToClient,
            at: At::Head(0),
            action: Action::Cut,
        }
    }

    /// Strikes the `nth` matching request (from 1) instead of the first.
    pub fn nth(self, nth: usize) -> Fault {
        Fault { nth, ..self }
    }

    /// Strikes `times` matching requests in a row.
    pub fn times(self, times: usize) -> Fault {
        Fault { times, ..self }
    }

    /// Breaks the request (client to engine) instead of the reply.
    pub fn in_request(self) -> Fault {
        Fault {
            dir: Dir::ToEngine,
            ..self
        }
    }

    /// Strikes at `at` instead of the start of the head.
    pub fn at(self, at: At) -> Fault {
        Fault { at, ..self }
    }

    /// Resets instead of cutting.
    pub fn reset(self) -> Fault {
        Fault {
            action: Action::Reset,
            ..self
        }
    }

    /// Stalls instead of cutting.
    pub fn stall(self) -> Fault {
        Fault {
            action: Action::Stall,
            ..self
        }
    }
}

/// What the proxy's threads share.
pub(super) struct Shared {
    pub(super) upstream: PathBuf,
    pub(super) fault: Fault,
    matched: AtomicUsize,
    fired: AtomicUsize,
    requests: Mutex<Vec<String>>,
    pub(super) stop: AtomicBool,
}

impl Shared {
    /// Records a request; whether the fault applies to it.
    pub(super) fn strikes(&self, head: &Head) -> bool {
        let mut log = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        log.push(format!("{} {}", head.method, head.path));
        let f = &self.fault;
        if head.method != f.method || !head.path.contains(&f.path) {
            return false;
        }
        let n = self.matched.fetch_add(1, Ordering::SeqCst) + 1;
        let hit = n >= f.nth && n < f.nth + f.times;
        if hit {
            self.fired.fetch_add(1, Ordering::SeqCst);
        }
        hit
    }
}

/// A running proxy; dropping it closes every connection and removes its socket.
pub struct Proxy {
    dir: PathBuf,
    socket: PathBuf,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    /// A proxy in front of the engine socket `upstream`, with `fault` armed.
    pub fn start(upstream: &Path, fault: Fault) -> Proxy {
        static N: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "s2i-faults-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create the proxy's directory");
        let socket = dir.join("engine.sock");
        let listener = UnixListener::bind(&socket).expect("bind the proxy's socket");
        let shared = Arc::new(Shared {
            upstream: upstream.to_path_buf(),
            fault,
            matched: AtomicUsize::new(0),
            fired: AtomicUsize::new(0),
            requests: Mutex::new(Vec::new()),
            stop: AtomicBool::new(false),
        });
        let accepting = shared.clone();
        let accept = thread::spawn(move || accept_loop(listener, accepting));
        Proxy {
            dir,
            socket,
            shared,
            accept: Some(accept),
        }
    }

    /// The proxy as an engine endpoint, `unix://...`.
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// How many requests the fault struck.
    pub fn fired(&self) -> usize {
        self.shared.fired.load(Ordering::SeqCst)
    }

    /// Every request seen, `METHOD path`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wakes the accepting thread.
        let _ = UnixStream::connect(&self.socket);
        if let Some(accept) = self.accept.take() {
            for conn in accept.join().unwrap_or_default() {
                let _ = conn.join();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn accept_loop(listener: UnixListener, shared: Arc<Shared>) -> Vec<JoinHandle<()>> {
    let mut conns = Vec::new();
    for client in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(client) = client else { continue };
        let shared = shared.clone();
        conns.push(thread::spawn(move || {
            if let Ok(engine) = UnixStream::connect(&shared.upstream) {
                let _ = super::pump::serve(client, engine, &shared);
            }
        }));
    }
    conns
}

/// Reads what `s` has queued (up to its end or until it would block), and forgets it.
pub(super) fn drain(s: &mut UnixStream) {
    let mut buf = [0u8; 16384];
    while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
}

/// Closes both connections as `action` says (a stall is not a close).
pub(super) fn close(action: Action, client: &mut UnixStream, engine: &mut UnixStream) {
    if action == Action::Cut {
        drain(client);
        drain(engine);
        let _ = client.shutdown(Shutdown::Both);
        let _ = engine.shutdown(Shutdown::Both);
    }
}

/// Writes what `s` accepts now of `data`; how much.
pub(super) fn write_some(s: &mut UnixStream, data: &[u8]) -> io::Result<usize> {
    match s.write(data) {
        Ok(n) => Ok(n),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(0),
        Err(e) => Err(e),
    }
}

/// The pause of a connection's thread when nothing moved.
pub(super) const IDLE: Duration = Duration::from_millis(2);
