//! What a [`Transport`](super::Transport) and its response bodies share: where and how to
//! connect, and the pool of idle keep-alive connections.
//!
//! The pool is a stack, so the most recently used connection (the one least likely to have been
//! closed by the server) goes out first. A connection is checked before it leaves the pool: a
//! non-blocking read that finds the end of stream, or bytes nobody asked for, means it is stale
//! and it is dropped. On a plain Unix or TCP socket that read is a single `recv` peeking
//! without waiting (see `conn`). At most [`POOL_SIZE`] connections are kept; a response body hands its
//! connection back when it has been read to its end.
//!
//! Uses nothing outside the transport but `error` (and std, `log`).

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use super::conn::{self, Conn, Stream};
use super::connector::Connector;
#[cfg(feature = "tls")]
use super::tls;
use super::{Host, POOL_SIZE};
use crate::error::Result;

/// The state of one transport, shared with the response bodies that will hand their
/// connections back.
pub(super) struct Shared {
    pub(super) host: Host,
    /// The `Host` header of every request.
    pub(super) host_header: String,
    /// Put before every request target (a `tcp://` host's path).
    pub(super) base_path: String,
    #[cfg(feature = "tls")]
    tls: Option<tls::Connector>,
    /// Opens the connections instead of a socket ([`Transport::with_connector`](super::Transport::with_connector)).
    connector: Option<Arc<dyn Connector>>,
    idle: Mutex<Vec<Conn>>,
}

fn lock(idle: &Mutex<Vec<Conn>>) -> MutexGuard<'_, Vec<Conn>> {
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// The state for `host`, with connections from `connector` if given, else from sockets.
    pub(super) fn new(host: Host, connector: Option<Arc<dyn Connector>>) -> Shared {
        let base_path = match &host {
            Host::Tcp { base_path, .. } => base_path.clone(),
            Host::Unix(_) | Host::Ssh { .. } => String::new(),
        };
        Shared {
            host_header: host.header_value(),
            host,
            base_path,
            #[cfg(feature = "tls")]
            tls: None,
            connector,
            idle: Mutex::new(Vec::with_capacity(POOL_SIZE)),
        }
    }

    /// Speaks TLS over every socket when `tls` is given.
    #[cfg(feature = "tls")]
    pub(super) fn with_tls(mut self, tls: Option<tls::Connector>) -> Shared {
        self.tls = tls;
        self
    }

    /// The most recently parked idle connection that is still usable.
    pub(super) fn take_idle(&self) -> Option<Conn> {
        loop {
            let mut conn = lock(&self.idle).pop()?;
            if conn.is_reusable() {
                return Some(conn);
            }
            log::trace!("dropping a stale pooled connection to {}", self.host);
        }
    }

    /// Parks a connection whose exchange is complete.
    pub(super) fn put_idle(&self, mut conn: Conn) {
        conn.park();
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Closes every idle connection.
    pub(super) fn clear_idle(&self) {
        drop(std::mem::take(&mut *lock(&self.idle)));
    }

    /// How many idle connections are parked.
    pub(super) fn idle_count(&self) -> usize {
        lock(&self.idle).len()
    }

    /// Whether connections are plain HTTP over TCP (where a TLS daemon may be listening).
    pub(super) fn plain_tcp(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return false;
        }
        matches!(self.host, Host::Tcp { .. })
    }

    /// A new connection: from the connector, or a socket (with the TLS handshake if set up).
    pub(super) fn connect(&self, timeout: Duration) -> Result<Conn> {
        if let Some(connector) = &self.connector {
            let socket = conn::connect_with(&self.host, connector.as_ref(), timeout)?;
            return Ok(Conn::new(Stream::Plain(Arc::new(socket))));
        }
        let socket = conn::connect(&self.host, timeout)?;
        #[cfg(feature = "tls")]
        if let Some(tls) = &self.tls {
            let stream = tls.handshake(socket, timeout, &self.host)?;
            return Ok(Conn::new(Stream::Tls(Box::new(stream))));
        }
        Ok(Conn::new(Stream::Plain(Arc::new(socket))))
    }
}

#[cfg(test)]
mod tests {
    //! Stale connections are noticed before use; against the local engine, one connection
    //! serves a sequence of calls, and many threads stay within the pool and leak nothing.

    use std::time::{Duration, Instant};

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::Transport;

    #[test]
    fn stale_pooled_connection_is_not_used() {
        let server = Server::unix(vec![
            vec![Step::Request, send(OK), Step::Close],
            vec![Step::Request, send(OK)],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert_eq!(text(t.send(req("GET", "/a"), None).unwrap()), "OK");
        std::thread::sleep(Duration::from_millis(50));
        // POST is never resent: it succeeds only because the closed connection was noticed.
        assert_eq!(text(t.send(req("POST", "/b"), None).unwrap()), "OK");
        drop(t);
        let conns: Vec<usize> = records(server).into_iter().map(|(c, _)| c).collect();
        assert_eq!(conns, [0, 1]);
    }

    #[test]
    fn docker_ping() {
        if !docker_available() {
            return;
        }
        let t = Transport::new(
            Host::parse("unix:///var/run/docker.sock", false).unwrap(),
            None,
        )
        .unwrap();
        assert_eq!(ping(&t).unwrap(), "OK");
        let head = t.send(req("HEAD", "/_ping"), None).unwrap();
        assert!(head.header("Api-Version").is_some());
        drop(head);
        // A JSON reply, which the engine sends chunked.
        let r = t.send(req("GET", "/version"), None).unwrap();
        assert_eq!(r.status, 200);
        let v = r.read_to_vec(1 << 20).unwrap();
        assert!(v.starts_with(b"{"));
        assert_eq!(t.shared.idle_count(), 1, "all of it on one connection");
    }

    /// Set in the child process that runs the probe below on its own.
    const PROBE: &str = "S2I_DOCKER_TRANSPORT_FD_PROBE";

    #[test]
    fn docker_many_threads_and_no_leaks() {
        if std::env::var_os(PROBE).is_some() {
            return many_threads_probe();
        }
        if !docker_available() {
            return;
        }
        // Counting the process's descriptors is only meaningful with no other test running:
        // run this test alone in a child process of the test binary.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "transport::pool::tests::docker_many_threads_and_no_leaks",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(PROBE, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("1 passed"), "{stdout}");
        for line in stdout.lines().filter(|l| l.contains("pings")) {
            println!("{line}");
        }
    }

    fn many_threads_probe() {
        let before = open_fds();
        let t = Transport::new(
            Host::parse("unix:///var/run/docker.sock", false).unwrap(),
            None,
        )
        .unwrap();
        let errors = std::sync::atomic::AtomicUsize::new(0);
        let start = Instant::now();
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..500 {
                        if !matches!(ping(&t).as_deref(), Ok("OK")) {
                            errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                });
            }
        });
        let elapsed = start.elapsed();
        let pooled = t.shared.idle_count();
        println!(
            "8 x 500 pings: {elapsed:?}, {:?} per ping overall; {pooled} pooled connections",
            elapsed / 4000
        );
        assert_eq!(errors.into_inner(), 0);
        assert!(pooled <= POOL_SIZE);
        assert!(open_fds() > before, "the pool holds connections");
        drop(t);
        assert_eq!(open_fds(), before, "descriptors left open");
    }
}
