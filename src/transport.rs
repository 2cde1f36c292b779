//! Bytes and HTTP/1.1 framing over a Unix socket or TCP (TLS behind the `tls` feature), through
//! `ssh`, or over connections a [`connector::Connector`] opens (an in-process server, e.g. in
//! memory).
//!
//! This layer knows nothing of Docker paths or JSON: it sends a [`Request`] and hands back a
//! [`Response`] whose body is a streaming `Read`, or an [`Upgraded`] duplex stream for a `101`.
//! It is the bottom of the crate and uses nothing of it but `error` (with std, `httparse`,
//! `log`, and rustls behind the `tls` feature).
//!
//! A [`Transport`] keeps up to [`POOL_SIZE`] idle keep-alive connections and reuses the most
//! recently used one first; a pooled connection that the server closed is noticed (a
//! non-blocking read finds the end of stream) and dropped before use. Requests that can safely be
//! sent twice are resent once on a fresh connection when a reused one fails before any byte of
//! the response arrived (the server may close an idle connection just as a request goes out).
//!
//! # `ssh://` engines
//!
//! An `ssh://[user@]host[:port]` host (e.g. `DOCKER_HOST=ssh://builder@build-host`) is reached
//! as the docker CLI reaches it: every connection is a child process of the system `ssh`
//! client, `ssh -o ConnectTimeout=<s> -o BatchMode=yes -T [-l user] [-p port] -- host docker
//! system dial-stdio`, whose standard input and output carry the HTTP bytes to the remote
//! engine's socket. Keys, known hosts, aliases and jump hosts are ssh's own configuration
//! (`~/.ssh/config`, `/etc/ssh/ssh_config`), and the remote host needs a `docker` CLI (18.09 or
//! later) in the `PATH` its sshd gives a command. Everything above the bytes works as over a
//! socket: the pool (one kept-alive `ssh` per pooled connection), time limits, cancelling,
//! streamed uploads and downloads, and attach with its standard input half-closed (the child's
//! standard input is closed, and `dial-stdio` half-closes the engine connection). A failing ssh
//! is reported with its command, exit status and the last 4 KiB of its standard error (`Host
//! key verification failed.`, `Permission denied (publickey).`, `docker: not found`), as
//! [`Error::Connect`] when nothing came back yet. The child is killed and reaped when its
//! connection closes, on every path (dropped, failed, cancelled).
//!
//! What differs from the docker CLI: `BatchMode=yes` is added, so ssh never prompts for a
//! password or a key's passphrase (use an agent, or a key without one): a library has no
//! terminal to answer on; the connect limit is the call's [`Timeouts::connect`] (10 s by
//! default for the engine client) where the CLI passes 30 s; a path after the host
//! (`ssh://host/run/docker.sock`) is refused rather than taken as the remote socket (set
//! `DOCKER_HOST` on the remote host instead); TLS settings are ignored, as ssh encrypts the
//! connection; the `Host` header is the Unix socket's dummy [`UNIX_HOST_HEADER`] (the CLI sends
//! `docker.example.com`), since the requests end on the remote engine's Unix socket.
//!
//! # Time limits and cancelling
//!
//! Time limits are socket read/write timeouts: [`Timeouts::response`] for the wait until the
//! response head is in, [`Timeouts::idle`] for every read and write of a body. A [`Cancel`]
//! handle aborts calls from another thread.
//!
//! # Files
//!
//! This file holds the public front: the request and response types, the limits, the TLS
//! settings and [`Transport`] itself. Behind it, one file per step: `pool` (the shared state
//! and the idle connections), `exchange` (one request and its reply, and the resend rule),
//! `send` (writing a request), `reply` (waiting for the head), `body` (reading a response body),
//! `conn` (sockets and the buffered connection), `upgrade`, `cancel`, `tls`, and `ssh` (the
//! `ssh` children of `ssh://` hosts).

use std::fmt;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::{Error, Result};

mod body;
mod cancel;
pub mod chunked;
mod conn;
pub mod connector;
mod encode;
mod exchange;
mod host;
mod pool;
mod reply;
mod send;
mod ssh;
#[cfg(feature = "tls")]
mod tls;
mod upgrade;
pub mod wire;

pub use body::ResponseBody;
pub use cancel::Cancel;
pub use encode::{encode_path, encode_path_segment, encode_query_value, query};
pub use host::{Host, DEFAULT_HTTP_PORT, DEFAULT_TLS_PORT};
pub use upgrade::{ShutdownHandle, StdinWriter, Upgraded, UpgradedReader, UpgradedWriter};

use exchange::Outcome;
use pool::Shared;
use wire::Head;

/// The `Host` header sent over a Unix socket.
///
/// A Unix socket has no host name, but HTTP/1.1 requires a `Host` header on every request
/// (RFC 9112 §3.2), so a fixed dummy is sent; the daemon ignores it. This is the name the moby
/// client uses (`DummyHost`), so requests look the same as the docker CLI's.
pub const UNIX_HOST_HEADER: &str = "api.moby.localhost";

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("s2i-docker/", env!("CARGO_PKG_VERSION"));

/// How many idle connections a [`Transport`] keeps for reuse.
pub const POOL_SIZE: usize = 8;

/// A request body.
pub enum Body<'a> {
    /// No body (no `Content-Length`, no `Transfer-Encoding`; `Content-Length: 0` for POST and PUT).
    Empty,
    /// A body known in full, sent with `Content-Length`.
    Bytes(Vec<u8>),
    /// A body streamed from a reader with `Transfer-Encoding: chunked`; never held whole in memory.
    Reader(&'a mut (dyn Read + Send)),
}

impl fmt::Debug for Body<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Body::Empty => f.write_str("Empty"),
            Body::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            Body::Reader(_) => f.write_str("Reader(..)"),
        }
    }
}

/// Per-call limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the connection (and the TLS handshake).
    pub connect: Duration,
    /// From the end of the request to the end of the response head; `None` waits forever
    /// (e.g. `POST /containers/{id}/wait`).
    pub response: Option<Duration>,
    /// The longest pause between two successful reads or writes of a body; `None` waits forever.
    pub idle: Option<Duration>,
}

/// An HTTP request, with the path already carrying the API version prefix and the query.
pub struct Request<'a> {
    /// `GET`, `POST`, `PUT`, `DELETE`, `HEAD`.
    pub method: &'static str,
    /// The request target, percent-encoded: `/v1.41/images/busybox:latest/json?x=y`.
    pub target: String,
    /// Extra headers; `Host`, `User-Agent`, `Content-Length`/`Transfer-Encoding` are added.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Body<'a>,
    /// Limits for this call.
    pub timeouts: Timeouts,
}

impl fmt::Debug for Request<'_> {
    /// Header values are left out: they may carry credentials (`X-Registry-Auth`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("method", &self.method)
            .field("target", &self.target)
            .field(
                "headers",
                &self.headers.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .field("body", &self.body)
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl Request<'_> {
    /// Whether sending the request twice does no harm and the body can be sent again.
    fn is_replayable(&self) -> bool {
        matches!(self.method, "GET" | "HEAD" | "DELETE" | "PUT" | "OPTIONS")
            && !matches!(self.body, Body::Reader(_))
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.target)
    }
}

/// TLS settings for a `tcp://` host.
///
/// Always defined, so configuration code compiles either way; [`Transport::new`] refuses them
/// unless the crate was built with the `tls` feature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates (PEM) trusted in addition to the system's; read only when verifying.
    pub ca_file: Option<PathBuf>,
    /// The client certificate chain (PEM).
    pub cert_file: Option<PathBuf>,
    /// The client key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key_file: Option<PathBuf>,
    /// Whether to verify the server's certificate and name (`DOCKER_TLS_VERIFY`).
    pub verify: bool,
}

/// A blocking HTTP/1.1 client for one engine, with a pool of keep-alive connections.
///
/// `Send + Sync`: share it between threads by reference or in an `Arc`. Dropping it closes the
/// idle connections once no response body still refers to them.
pub struct Transport {
    shared: Arc<Shared>,
}

impl Transport {
    /// A transport for `host`, with TLS when `tls` is given (for `tcp://` hosts; a Unix socket
    /// is local and ignores TLS settings, as the docker CLI does, and so does an `ssh://` host,
    /// whose connections are `ssh` children: see [`ssh://` engines](self#ssh-engines)).
    ///
    /// Nothing is connected yet.
    ///
    /// # Errors
    ///
    /// [`Error::Tls`] when the TLS settings cannot be loaded (unreadable or empty CA file,
    /// bad key pair), or when they are given and the crate lacks the `tls` feature.
    pub fn new(host: Host, tls: Option<TlsSettings>) -> Result<Transport> {
        #[cfg(not(feature = "tls"))]
        if tls.is_some() {
            return Err(Error::Tls(
                "TLS support is not compiled in: enable the `tls` feature".into(),
            ));
        }
        #[cfg(feature = "tls")]
        let tls = match (&host, tls) {
            (Host::Tcp { host: name, .. }, Some(settings)) => {
                Some(tls::Connector::new(&settings, name)?)
            }
            (Host::Unix(_), Some(_)) => {
                log::debug!("TLS settings are ignored for the Unix socket {host}");
                None
            }
            (Host::Ssh { .. }, Some(_)) => {
                log::debug!("TLS settings are ignored for {host}: ssh encrypts the connection");
                None
            }
            (_, None) => None,
        };
        let connector =
            ssh::SshConnector::new(&host).map(|c| Arc::new(c) as Arc<dyn connector::Connector>);
        let shared = Shared::new(host, connector);
        #[cfg(feature = "tls")]
        let shared = shared.with_tls(tls);
        Ok(Transport {
            shared: Arc::new(shared),
        })
    }

    /// The host this transport talks to.
    pub fn host(&self) -> &Host {
        &self.shared.host
    }

    /// Sends `req` and returns the response once its head has arrived.
    ///
    /// The body is read from the returned [`Response`]; the connection goes back to the pool
    /// when the body has been read to its end (at once for a response without a body).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the engine cannot be reached, [`Error::Timeout`] when a limit of
    /// `req.timeouts` passes, [`Error::Cancelled`] when `cancel` fires, [`Error::Protocol`] for
    /// a reply that is not HTTP/1.x (e.g. a TLS daemon spoken to without TLS),
    /// [`Error::Tls`] for a failed handshake, [`Error::InvalidInput`] for a target or header
    /// that cannot be sent, [`Error::Io`] otherwise. A status of 4xx or 5xx is not an error
    /// here.
    pub fn send(&self, req: Request<'_>, cancel: Option<&Cancel>) -> Result<Response> {
        match self.exchange(req, cancel, false)? {
            Outcome::Response(r) => Ok(r),
            // `exchange` only switches when asked to.
            Outcome::Upgraded(_) => {
                Err(Error::Protocol("unexpected 101 Switching Protocols".into()))
            }
        }
    }

    /// Sends `req` with `Connection: Upgrade` and `Upgrade: tcp`, as `POST
    /// /containers/{id}/attach` needs, and returns the raw stream on `101 Switching Protocols`.
    ///
    /// The upgraded connection never goes back to the pool and has no time limits (set them on
    /// the halves if needed); a `cancel` handle keeps watching it.
    ///
    /// # Errors
    ///
    /// As [`send`](Transport::send). Any status other than 101 is not an error here but
    /// [`Upgrade::Refused`].
    pub fn upgrade(&self, mut req: Request<'_>, cancel: Option<&Cancel>) -> Result<Upgrade> {
        req.headers.push(("Connection", "Upgrade".into()));
        req.headers.push(("Upgrade", "tcp".into()));
        Ok(match self.exchange(req, cancel, true)? {
            Outcome::Response(r) => Upgrade::Refused(r),
            Outcome::Upgraded(u) => Upgrade::Switched(u),
        })
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("host", &self.shared.host)
            .field("idle", &self.shared.idle_count())
            .finish()
    }
}

/// What an HTTP upgrade request got.
#[derive(Debug)]
pub enum Upgrade {
    /// `101 Switching Protocols`: the connection is now a raw duplex stream.
    Switched(Upgraded),
    /// Any other reply (the caller turns it into an error, e.g. a 404 for a missing container).
    Refused(Response),
}

/// A response: status, headers, and the body as a stream.
pub struct Response {
    /// The status code.
    pub status: u16,
    head: Head,
    body: ResponseBody,
}

impl Response {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.header(name)
    }

    /// Every header, in the order received.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.head.headers()
    }

    /// The reason phrase of the status line (may be empty).
    pub fn reason(&self) -> &str {
        self.head.reason()
    }

    /// The target of the request this answers, as given in [`Request::target`].
    pub(crate) fn target(&self) -> &str {
        self.body.target()
    }

    /// The body, to read as a stream.
    pub fn into_body(self) -> ResponseBody {
        self.body
    }

    /// Reads the whole body, refusing more than `limit` bytes.
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when the body is longer than `limit` (nothing beyond `limit + 1`
    /// bytes is read), and any error of reading the body.
    pub fn read_to_vec(self, limit: usize) -> Result<Vec<u8>> {
        self.body.read_to_vec(limit)
    }

    /// Reads the whole body, refusing more than `limit` bytes, and hands it to `f`, without
    /// copying it when it arrived whole with the head.
    ///
    /// ```no_run
    /// # use s2i_docker::transport::{Body, Host, Request, Timeouts, Transport};
    /// # use std::time::Duration;
    /// let transport = Transport::new(Host::parse("unix:///var/run/docker.sock", true)?, None)?;
    /// let response = transport.send(
    ///     Request {
    ///         method: "GET",
    ///         target: "/_ping".into(),
    ///         headers: Vec::new(),
    ///         body: Body::Empty,
    ///         timeouts: Timeouts { connect: Duration::from_secs(5), response: None, idle: None },
    ///     },
    ///     None,
    /// )?;
    /// let ok = response.read_with(1024, |body| body == b"OK")?;
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// As [`read_to_vec`](Response::read_to_vec).
    pub fn read_with<R>(self, limit: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        self.body.read_with(limit, f)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! What the front promises (thread safety, TLS only with the feature), and the cost of a
    //! request to the local engine next to a raw socket.

    use std::io::{Read, Write};
    use std::time::Instant;

    use super::*;
    use crate::fake::testing::wire::*;

    #[cfg(not(feature = "tls"))]
    #[test]
    fn tls_needs_the_feature() {
        let settings = TlsSettings {
            ca_file: None,
            cert_file: None,
            key_file: None,
            verify: true,
        };
        match Transport::new(Host::parse("tcp://h", true).unwrap(), Some(settings)) {
            Err(Error::Tls(m)) => {
                assert_eq!(
                    m,
                    "TLS support is not compiled in: enable the `tls` feature"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn transport_types_are_send_and_sync() {
        fn send_sync<T: Send + Sync>() {}
        fn send_static<T: Send + 'static>() {}
        send_sync::<Transport>();
        send_sync::<Cancel>();
        send_static::<Response>();
        send_static::<ResponseBody>();
        send_static::<UpgradedReader>();
        send_static::<UpgradedWriter>();
        fn stdin_writer<T: crate::transport::StdinWriter + 'static>() {}
        stdin_writer::<UpgradedWriter>();
    }

    #[test]
    fn docker_ping_latency() {
        if !docker_available() {
            return;
        }
        const N: u32 = 3000;
        // The floor: the same request and reply on a raw socket, nothing parsed.
        let mut raw = std::os::unix::net::UnixStream::connect(DOCKER_SOCKET).unwrap();
        let request = format!(
            "GET /_ping HTTP/1.1\r\nHost: {UNIX_HOST_HEADER}\r\nUser-Agent: {USER_AGENT}\r\n\r\n"
        );
        let mut buf = [0u8; 4096];
        let mut once = || {
            raw.write_all(request.as_bytes()).unwrap();
            let mut got = 0;
            loop {
                got += raw.read(&mut buf[got..]).unwrap();
                if buf[..got].ends_with(b"\r\n\r\nOK") {
                    break;
                }
            }
        };
        let t = Transport::new(
            Host::parse("unix:///var/run/docker.sock", false).unwrap(),
            None,
        )
        .unwrap();
        for _ in 0..200 {
            once();
            ping(&t).unwrap();
        }
        // Interleaved, so both see the same machine load; medians resist the noise.
        let (mut raw_times, mut times) = (Vec::new(), Vec::new());
        for _ in 0..N {
            let start = Instant::now();
            once();
            raw_times.push(start.elapsed());
            let start = Instant::now();
            ping(&t).unwrap();
            times.push(start.elapsed());
        }
        raw_times.sort();
        times.sort();
        let (raw_each, each) = (raw_times[raw_times.len() / 2], times[times.len() / 2]);
        println!("GET /_ping, median of {N}: raw socket {raw_each:?}, transport {each:?}");
    }
}
