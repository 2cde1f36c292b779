//! Bytes and HTTP/1.1 framing over a Unix socket or TCP (TLS behind the `tls` feature), or over
//! connections a [`connector::Connector`] opens (an in-process server, e.g. in memory).
//!
//! This layer knows nothing of Docker paths or JSON: it sends a [`Request`] and hands back a
//! [`Response`] whose body is a streaming `Read`, or an [`Upgraded`] duplex stream for a `101`.
//!
//! A [`Transport`] keeps up to [`POOL_SIZE`] idle keep-alive connections and reuses the most
//! recently used one first; a pooled connection that the server closed is noticed (a
//! non-blocking read finds the end of stream) and dropped before use. Requests that can safely be
//! sent twice are resent once on a fresh connection when a reused one fails before any byte of
//! the response arrived (the server may close an idle connection just as a request goes out).
//!
//! Time limits are socket read/write timeouts: [`Timeouts::response`] for the wait until the
//! response head is in, [`Timeouts::idle`] for every read and write of a body. A [`Cancel`]
//! handle aborts calls from another thread.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

mod body;
mod cancel;
pub mod chunked;
mod conn;
pub mod connector;
mod encode;
mod host;

#[cfg(feature = "tls")]
mod tls;
mod upgrade;
pub mod wire;

pub use body::ResponseBody;
pub use cancel::Cancel;
pub use encode::{encode_path, encode_path_segment, encode_query_value, query};
pub use host::{Host, DEFAULT_HTTP_PORT, DEFAULT_TLS_PORT};
pub use upgrade::{ShutdownHandle, StdinWriter, Upgraded, UpgradedReader, UpgradedWriter};

use body::BodyKind;
use conn::{io_error, Conn, Stream};
use wire::{Framing, Head, Status};

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

/// Request bodies of at most this size go out in the same write as the head.
const COALESCE_BODY: usize = 16 * 1024;

/// How long to look for a response after the server stopped taking the request body.
const EARLY_RESPONSE_WAIT: Duration = Duration::from_secs(1);

/// At most this many interim (`1xx`) heads are skipped before the final one.
const MAX_INTERIM: usize = 16;

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

struct Shared {
    host: Host,
    host_header: String,
    base_path: String,
    #[cfg(feature = "tls")]
    tls: Option<tls::Connector>,
    /// Opens the connections instead of a socket ([`Transport::with_connector`]).
    connector: Option<Arc<dyn connector::Connector>>,
    idle: Mutex<Vec<Conn>>,
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
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("headers", &self.headers().collect::<Vec<_>>())
            .finish()
    }
}

/// Why an exchange failed, and whether it may be tried again on a fresh connection.
struct Failure {
    error: Error,
    /// Nothing of a response had arrived: the request may not have been seen at all.
    before_response: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            before_response: false,
        }
    }
}

/// A head that arrived, and whether the connection must close after it.
struct Reply {
    head: Head,
    /// The request body was not sent in full (the server answered early).
    must_close: bool,
}

enum Outcome {
    Response(Response),
    Upgraded(Upgraded),
}

fn lock(idle: &Mutex<Vec<Conn>>) -> MutexGuard<'_, Vec<Conn>> {
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Transport {
    /// A transport for `host`, with TLS when `tls` is given (for `tcp://` hosts; a Unix socket
    /// is local and ignores TLS settings, as the docker CLI does).
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
            (_, None) => None,
        };
        let base_path = match &host {
            Host::Tcp { base_path, .. } => base_path.clone(),
            Host::Unix(_) => String::new(),
        };
        Ok(Transport {
            shared: Arc::new(Shared {
                host_header: host.header_value(),
                host,
                base_path,
                #[cfg(feature = "tls")]
                tls,
                connector: None,
                idle: Mutex::new(Vec::with_capacity(POOL_SIZE)),
            }),
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

    fn exchange(
        &self,
        mut req: Request<'_>,
        cancel: Option<&Cancel>,
        upgrade: bool,
    ) -> Result<Outcome> {
        if let Some(c) = cancel {
            c.check()?;
        }
        // Refuse a request that cannot be written before taking a connection for it.
        wire::check_request(&self.shared.base_path, &req.target, &req.headers)?;
        let replayable = !upgrade && req.is_replayable();
        let mut retried = false;
        loop {
            let pooled = if retried {
                None
            } else {
                self.shared.take_idle()
            };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(c) => c,
                None => self.shared.connect(req.timeouts.connect)?,
            };
            conn.watch(cancel)?;
            match self
                .shared
                .round_trip(&mut conn, &mut req, upgrade, !reused)
            {
                Ok(reply) => return self.shared.outcome(conn, req, reply, upgrade),
                Err(f) => {
                    if f.before_response && reused && replayable && !retried && !conn.cancelled() {
                        log::debug!(
                            "{} {}: reused connection failed ({}), sending again on a new one",
                            req.method,
                            req.target,
                            f.error
                        );
                        // The others have likely gone the same way (e.g. the daemon restarted).
                        drop(std::mem::take(&mut *lock(&self.shared.idle)));
                        retried = true;
                        continue;
                    }
                    return Err(f.error);
                }
            }
        }
    }
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("host", &self.shared.host)
            .field("idle", &lock(&self.shared.idle).len())
            .finish()
    }
}

impl Shared {
    /// The most recently parked idle connection that is still usable.
    fn take_idle(&self) -> Option<Conn> {
        loop {
            let mut conn = lock(&self.idle).pop()?;
            if conn.is_reusable() {
                return Some(conn);
            }
            log::trace!("dropping a stale pooled connection to {}", self.host);
        }
    }

    /// Parks a connection whose exchange is complete.
    fn put_idle(&self, mut conn: Conn) {
        conn.park();
        let mut idle = lock(&self.idle);
        if idle.len() < POOL_SIZE {
            idle.push(conn);
        }
    }

    /// Whether connections are plain HTTP over TCP (where a TLS daemon may be listening).
    fn plain_tcp(&self) -> bool {
        #[cfg(feature = "tls")]
        if self.tls.is_some() {
            return false;
        }
        matches!(self.host, Host::Tcp { .. })
    }

    fn connect(&self, timeout: Duration) -> Result<Conn> {
        if let Some(connector) = &self.connector {
            let socket = conn::connect_with(&self.host, connector.as_ref())?;
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

    /// Writes the request and reads up to the final response head (kept in `conn`'s buffer).
    fn round_trip(
        &self,
        conn: &mut Conn,
        req: &mut Request<'_>,
        upgrade: bool,
        fresh: bool,
    ) -> std::result::Result<Reply, Failure> {
        let mut head = std::mem::take(&mut conn.head);
        head.clear();
        let sent = self.write_request(conn, req, &mut head);
        head.clear();
        conn.head = head;
        let early = sent?;
        let ctx = Ctx {
            method: req.method,
            target: &req.target,
            timeouts: req.timeouts,
            tls_hint: fresh && self.plain_tcp(),
        };
        // A limit too far away to represent is no limit.
        let deadline = req
            .timeouts
            .response
            .and_then(|d| Instant::now().checked_add(d));
        let head = read_head(conn, &ctx, deadline, upgrade, early)?;
        Ok(Reply {
            head,
            must_close: early,
        })
    }

    /// Sends head and body. Returns `true` when the server answered before the body was sent
    /// in full (the connection cannot be reused then).
    fn write_request(
        &self,
        conn: &mut Conn,
        req: &mut Request<'_>,
        head: &mut Vec<u8>,
    ) -> std::result::Result<bool, Failure> {
        let framing = match &req.body {
            Body::Empty if matches!(req.method, "POST" | "PUT") => Framing::Length(0),
            Body::Empty => Framing::None,
            Body::Bytes(b) => Framing::Length(b.len() as u64),
            Body::Reader(_) => Framing::Chunked,
        };
        wire::write_request_head(
            head,
            req.method,
            &self.base_path,
            &req.target,
            &self.host_header,
            &req.headers,
            framing,
        )?;
        let ctx = Ctx {
            method: req.method,
            target: &req.target,
            timeouts: req.timeouts,
            tls_hint: false,
        };
        conn.set_write_timeout(req.timeouts.idle)
            .map_err(|e| write_failure(conn, &ctx, e))?;
        let coalesced = match &req.body {
            Body::Bytes(b) if b.len() <= COALESCE_BODY => {
                head.extend_from_slice(b);
                true
            }
            _ => false,
        };
        write_all(conn, &ctx, head)?;
        match &mut req.body {
            Body::Bytes(b) if !coalesced => write_body(conn, &ctx, b),
            Body::Reader(r) => body::write_chunked(conn, &mut **r, &ctx),
            _ => Ok(false),
        }
    }

    /// Builds the response (or upgraded stream) once the head is in.
    fn outcome(
        self: &Arc<Self>,
        conn: Conn,
        req: Request<'_>,
        reply: Reply,
        upgrade: bool,
    ) -> Result<Outcome> {
        let Reply { head, must_close } = reply;
        let mut conn = conn;
        conn.consume(head.wire_len());
        if upgrade && head.status == 101 {
            let label = req.label();
            return Ok(Outcome::Upgraded(Upgraded::new(conn, label)));
        }
        let kind = BodyKind::for_response(req.method, &head)?;
        let keep_alive = head.minor_version == 1
            && !must_close
            && !head.has_token("Connection", "close")
            && !matches!(kind, BodyKind::Close);
        let body = ResponseBody::new(
            conn,
            kind,
            keep_alive,
            Arc::clone(self),
            req.method,
            req.target,
            req.timeouts.idle,
        );
        Ok(Outcome::Response(Response {
            status: head.status,
            head,
            body,
        }))
    }
}

/// What error messages need to know of the request being sent.
struct Ctx<'r> {
    method: &'static str,
    target: &'r str,
    timeouts: Timeouts,
    /// A silent close would suggest a TLS daemon (a new plain-TCP connection).
    tls_hint: bool,
}

fn write_failure(conn: &Conn, ctx: &Ctx<'_>, e: io::Error) -> Failure {
    Failure {
        error: io_error(e, conn.cancelled(), ctx.timeouts.idle, || {
            format!("sending the request {} {}", ctx.method, ctx.target)
        }),
        before_response: true,
    }
}

fn write_all(conn: &mut Conn, ctx: &Ctx<'_>, data: &[u8]) -> std::result::Result<(), Failure> {
    conn.stream
        .write_all(data)
        .and_then(|()| conn.stream.flush())
        .map_err(|e| write_failure(conn, ctx, e))
}

/// Writes a body after its head; if the server stops taking it, looks for an early answer.
fn write_body(conn: &mut Conn, ctx: &Ctx<'_>, data: &[u8]) -> std::result::Result<bool, Failure> {
    match write_all(conn, ctx, data) {
        Ok(()) => Ok(false),
        Err(f) => early_answer(conn, f),
    }
}

/// After a failed body write: if the server already answered (e.g. 404 before reading an
/// upload) that answer is what the caller needs, so report it rather than the broken pipe.
fn early_answer(conn: &mut Conn, mut failure: Failure) -> std::result::Result<bool, Failure> {
    if conn.cancelled() || failure.error.is_timeout() {
        return Err(failure);
    }
    if conn.set_read_timeout(Some(EARLY_RESPONSE_WAIT)).is_err() {
        return Err(failure);
    }
    loop {
        match wire::parse_response_head(conn.buffered()) {
            Ok(Status::Complete(_)) => return Ok(true),
            Ok(Status::Partial) => {}
            Err(_) => break,
        }
        match conn.fill() {
            Ok(n) if n > 0 => {}
            _ => break,
        }
    }
    failure.before_response &= conn.buffered().is_empty();
    Err(failure)
}

/// The error for a connection that ended before any byte of a response.
///
/// On a new plain-TCP connection that is what a TLS daemon (OpenSSL-based proxies in
/// particular) does with an HTTP request, so the error carries the docker CLI's hint.
fn closed_silently(req: &Ctx<'_>, kind: io::ErrorKind) -> Error {
    let text = format!(
        "the engine closed the connection before answering {} {}",
        req.method, req.target
    );
    if req.tls_hint {
        return Error::Protocol(format!(
            "{text}\n* Are you trying to connect to a TLS-enabled daemon without TLS?"
        ));
    }
    Error::Io(io::Error::new(kind, text))
}

/// Reads the final response head into `conn`'s buffer, skipping interim `1xx` heads.
fn read_head(
    conn: &mut Conn,
    req: &Ctx<'_>,
    deadline: Option<Instant>,
    upgrade: bool,
    early: bool,
) -> std::result::Result<Head, Failure> {
    let mut received = !conn.buffered().is_empty();
    let mut interim = 0;
    loop {
        match wire::parse_response_head(conn.buffered())? {
            Status::Complete((n, head)) => {
                let interim_head = (100..200).contains(&head.status) && head.status != 101;
                if head.status == 101 && !upgrade {
                    return Err(Error::Protocol(format!(
                        "unexpected 101 Switching Protocols in reply to {} {}",
                        req.method, req.target
                    ))
                    .into());
                }
                if !interim_head {
                    return Ok(head);
                }
                interim += 1;
                if interim > MAX_INTERIM {
                    return Err(Error::Protocol(format!(
                        "more than {MAX_INTERIM} interim responses to {} {}",
                        req.method, req.target
                    ))
                    .into());
                }
                conn.consume(n);
                continue;
            }
            Status::Partial => {}
        }
        let timeout = match deadline {
            None => None,
            // The whole limit for the first read: the same value every call, so the socket
            // option is not set again (the head nearly always comes in one read).
            Some(_) if !received => req.timeouts.response,
            Some(d) => match d.checked_duration_since(Instant::now()) {
                Some(left) if !left.is_zero() => Some(left),
                _ => {
                    return Err(Error::Timeout {
                        what: format!("waiting for the response to {} {}", req.method, req.target),
                        after: req.timeouts.response.unwrap_or_default(),
                    }
                    .into())
                }
            },
        };
        let read = conn.set_read_timeout(timeout).and_then(|()| conn.fill());
        match read {
            Ok(0) => {
                if conn.cancelled() {
                    return Err(Error::Cancelled.into());
                }
                if !received {
                    return Err(Failure {
                        error: closed_silently(req, io::ErrorKind::UnexpectedEof),
                        before_response: !early,
                    });
                }
                return Err(wire::malformed(conn.buffered(), "unexpected end of stream").into());
            }
            Ok(_) => received = true,
            Err(e) if !received && req.tls_hint && e.kind() == io::ErrorKind::ConnectionReset => {
                return Err(closed_silently(req, e.kind()).into());
            }
            Err(e) => {
                let error = io_error(e, conn.cancelled(), req.timeouts.response, || {
                    format!("waiting for the response to {} {}", req.method, req.target)
                });
                let before_response = !received && !early && matches!(error, Error::Io(_));
                return Err(Failure {
                    error,
                    before_response,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ConnectFailure;
    use crate::fake::testing::wire::*;
    use crate::transport::StdinWriter;

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";

    fn req(method: &'static str, target: &str) -> Request<'static> {
        Request {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeouts: timeouts(),
        }
    }

    fn text(r: Response) -> String {
        String::from_utf8(r.read_to_vec(1 << 20).expect("body")).expect("utf-8")
    }

    fn ua() -> String {
        format!("User-Agent: {USER_AGENT}\r\n")
    }

    fn records(server: Server) -> Vec<(usize, String)> {
        server
            .finish()
            .into_iter()
            .map(|(i, b)| (i, String::from_utf8_lossy(&b).into_owned()))
            .collect()
    }

    #[test]
    fn exact_request_bytes() {
        let server = Server::unix(vec![vec![
            Step::Request,
            send(OK),
            Step::Request,
            send(OK),
            Step::Request,
            send(OK),
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let mut r = req("GET", "/v1.41/images/busybox:latest/json");
        r.headers.push(("X-Test", "1".into()));
        assert_eq!(text(t.send(r, None).unwrap()), "OK");

        let mut r = req("POST", "/v1.41/containers/create?name=x");
        r.headers.push(("Content-Type", "application/json".into()));
        r.body = Body::Bytes(br#"{"Image":"busybox"}"#.to_vec());
        assert_eq!(text(t.send(r, None).unwrap()), "OK");

        let data: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
        let mut reader = &data[..];
        let r = Request {
            method: "PUT",
            target: "/v1.41/containers/x/archive?path=%2Ftmp".into(),
            headers: Vec::new(),
            body: Body::Reader(&mut reader),
            timeouts: timeouts(),
        };
        assert_eq!(text(t.send(r, None).unwrap()), "OK");
        drop(t);

        let recs = server.finish();
        assert_eq!(recs.len(), 3);
        assert!(recs.iter().all(|(conn, _)| *conn == 0), "one connection");
        assert_eq!(
            String::from_utf8_lossy(&recs[0].1),
            format!(
                "GET /v1.41/images/busybox:latest/json HTTP/1.1\r\nHost: api.moby.localhost\r\n{}X-Test: 1\r\n\r\n",
                ua()
            )
        );
        assert_eq!(
            String::from_utf8_lossy(&recs[1].1),
            format!(
                "POST /v1.41/containers/create?name=x HTTP/1.1\r\nHost: api.moby.localhost\r\n{}Content-Type: application/json\r\nContent-Length: 19\r\n\r\n{{\"Image\":\"busybox\"}}",
                ua()
            )
        );
        let mut want = format!(
            "PUT /v1.41/containers/x/archive?path=%2Ftmp HTTP/1.1\r\nHost: api.moby.localhost\r\n{}Transfer-Encoding: chunked\r\n\r\n",
            ua()
        )
        .into_bytes();
        want.extend_from_slice(b"10000\r\n");
        want.extend_from_slice(&data[..65536]);
        want.extend_from_slice(format!("\r\n{:x}\r\n", 70_000 - 65536).as_bytes());
        want.extend_from_slice(&data[65536..]);
        want.extend_from_slice(b"\r\n0\r\n\r\n");
        assert!(recs[2].1 == want, "chunked upload bytes differ");
    }

    #[test]
    fn length_headers_and_tcp_base_path() {
        let mut script = Vec::new();
        for i in 0..6 {
            script.push(Step::Request);
            // The reply to HEAD announces a length but has no body.
            script.push(send(if i == 4 {
                b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"
            } else {
                OK
            }));
        }
        let server = Server::tcp("/base", vec![script]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        for method in ["POST", "PUT", "GET", "DELETE"] {
            let r = t.send(req(method, "/v1.41/x"), None).unwrap();
            assert_eq!(r.status, 200);
            if method != "HEAD" {
                assert_eq!(text(r), "OK");
            }
        }
        let head = t.send(req("HEAD", "/_ping"), None).unwrap();
        assert_eq!(head.header("content-length"), Some("1000"));
        assert_eq!(text(head), "", "a HEAD reply has no body");
        let mut big = req("PUT", "/big");
        big.body = Body::Bytes(vec![b'z'; COALESCE_BODY + 1]);
        assert_eq!(text(t.send(big, None).unwrap()), "OK");
        let Host::Tcp { port, .. } = server.host.clone() else {
            unreachable!()
        };
        drop(t);
        let recs = records(server);
        let host = format!("Host: 127.0.0.1:{port}\r\n");
        let lines: Vec<&str> = recs
            .iter()
            .map(|(_, r)| r.lines().next().unwrap())
            .collect();
        assert_eq!(
            lines,
            [
                "POST /base/v1.41/x HTTP/1.1",
                "PUT /base/v1.41/x HTTP/1.1",
                "GET /base/v1.41/x HTTP/1.1",
                "DELETE /base/v1.41/x HTTP/1.1",
                "HEAD /base/_ping HTTP/1.1",
                "PUT /base/big HTTP/1.1",
            ]
        );
        for (i, (_, r)) in recs.iter().enumerate() {
            assert!(r.contains(&host), "{r}");
            let zero = r.contains("\r\nContent-Length: 0\r\n");
            assert_eq!(zero, i < 2, "{r}");
            assert!(!r.contains("Transfer-Encoding"));
        }
        assert!(recs[5].1.contains(&format!(
            "\r\nContent-Length: {}\r\n\r\nzzz",
            COALESCE_BODY + 1
        )));
    }

    #[test]
    fn response_framings_and_reuse() {
        let server = Server::unix(vec![
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: 1\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 204 No Content\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 304 Not Modified\r\nContent-Length: 55\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\n\r\nclose-delimited body"),
                Step::Close,
            ],
            vec![Step::Request, send(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc")],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\nxyz"),
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nnot chunked"),
                Step::Close,
            ],
            vec![Step::Request, send(OK)],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert_eq!(
            text(t.send(req("GET", "/chunked"), None).unwrap()),
            "hello world"
        );
        let head = t.send(req("HEAD", "/head"), None).unwrap();
        assert_eq!(text(head), "");
        let r = t.send(req("POST", "/204"), None).unwrap();
        assert_eq!((r.status, r.reason()), (204, "No Content"));
        assert_eq!(text(r), "");
        let r = t.send(req("GET", "/304"), None).unwrap();
        assert_eq!(r.status, 304);
        assert_eq!(text(r), "");
        let r = t.send(req("GET", "/continue"), None).unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(text(r), "ok");
        assert_eq!(text(t.send(req("GET", "/empty"), None).unwrap()), "");
        assert_eq!(
            text(t.send(req("GET", "/close"), None).unwrap()),
            "close-delimited body"
        );
        assert_eq!(text(t.send(req("GET", "/http10"), None).unwrap()), "abc");
        assert_eq!(
            text(t.send(req("GET", "/conn-close"), None).unwrap()),
            "xyz"
        );
        assert_eq!(
            text(t.send(req("GET", "/gzip"), None).unwrap()),
            "not chunked"
        );
        assert_eq!(text(t.send(req("GET", "/last"), None).unwrap()), "OK");
        drop(t);
        let conns: Vec<usize> = records(server).into_iter().map(|(c, _)| c).collect();
        assert_eq!(conns, [0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    }

    const CHUNKED: &[u8] = b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\nX-Trailer: yes\r\n\r\n";

    #[test]
    fn one_byte_reads_through_the_socket() {
        let server = Server::unix(vec![vec![
            Step::Request,
            Step::Trickle(CHUNKED.to_vec()),
            Step::Request,
            Step::Trickle(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec()),
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        for want in ["abc0123456789abcdef", "hello"] {
            let r = t.send(req("GET", "/x"), None).unwrap();
            let mut body = r.into_body();
            let mut got = Vec::new();
            let mut byte = [0u8; 1];
            loop {
                match body.read(&mut byte).unwrap() {
                    0 => break,
                    n => got.extend_from_slice(&byte[..n]),
                }
            }
            assert_eq!(String::from_utf8(got).unwrap(), want);
        }
        drop(t);
        assert_eq!(server.finish().len(), 2);
    }

    #[test]
    fn every_split_point_through_the_socket() {
        let mut script = Vec::new();
        for i in 1..CHUNKED.len() {
            script.push(Step::Request);
            script.push(send(&CHUNKED[..i]));
            script.push(Step::Sleep(Duration::from_millis(2)));
            script.push(send(&CHUNKED[i..]));
        }
        let server = Server::unix(vec![script]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        for _ in 1..CHUNKED.len() {
            let r = t.send(req("GET", "/x"), None).unwrap();
            assert_eq!(r.header("api-version"), Some("1.41"));
            assert_eq!(text(r), "abc0123456789abcdef");
        }
        drop(t);
        assert!(server.finish().iter().all(|(c, _)| *c == 0));
    }

    #[test]
    fn large_reads_span_small_chunks_and_big_chunks_go_straight_through() {
        let mut small = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        let mut want_small = Vec::new();
        for i in 0..40u8 {
            let data = vec![b'a' + i % 26; 1000];
            small.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            small.extend_from_slice(&data);
            small.extend_from_slice(b"\r\n");
            want_small.extend_from_slice(&data);
        }
        small.extend_from_slice(b"0\r\n\r\n");
        let big_data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let mut big = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        big.extend_from_slice(format!("{:x}\r\n", big_data.len()).as_bytes());
        big.extend_from_slice(&big_data);
        big.extend_from_slice(b"\r\n0\r\n\r\n");
        let server = Server::unix(vec![vec![
            Step::Request,
            send(&small),
            Step::Request,
            send(&big),
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        for want in [&want_small, &big_data] {
            let mut body = t.send(req("GET", "/x"), None).unwrap().into_body();
            let mut buf = vec![0u8; 64 << 10];
            let (mut got, mut reads) = (Vec::new(), Vec::new());
            loop {
                match body.read(&mut buf).unwrap() {
                    0 => break,
                    n => {
                        got.extend_from_slice(&buf[..n]);
                        reads.push(n);
                    }
                }
            }
            assert_eq!(&got, want);
            // One read hands out the data of many buffered chunks, not one chunk's.
            assert!(reads.iter().any(|&n| n > 1000), "{reads:?}");
        }
        drop(t);
        // Both bodies ended cleanly: one connection served both.
        assert!(server.finish().iter().all(|(c, _)| *c == 0));
    }

    #[test]
    fn upgrade_keeps_leftover_bytes_and_half_closes() {
        let server = Server::unix(vec![
            vec![
                Step::Head,
                send(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n\x01\x00\x00\x00\x00\x00\x00\x02hi"),
                Step::ReadToEnd,
                send(b"bye"),
                Step::Close,
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n{\"message\":\"No such thing\"}\r\n"),
            ],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let mut r = req("POST", "/v1.41/containers/c/attach?stdin=1&stream=1");
        r.headers.push(("Content-Type", "text/plain".into()));
        let Upgrade::Switched(up) = t.upgrade(r, None).unwrap() else {
            panic!("not upgraded")
        };
        let (mut rd, mut wr) = up.split();
        let mut frame = [0u8; 10];
        rd.read_exact(&mut frame).unwrap();
        assert_eq!(&frame, b"\x01\x00\x00\x00\x00\x00\x00\x02hi");
        wr.write_all(b"stdin data").unwrap();
        wr.close_write().unwrap();
        let mut rest = Vec::new();
        rd.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"bye");
        drop((rd, wr));

        let Upgrade::Refused(resp) = t
            .upgrade(req("POST", "/v1.41/containers/none/attach"), None)
            .unwrap()
        else {
            panic!("upgraded")
        };
        assert_eq!(resp.status, 404);
        assert!(text(resp).contains("No such thing"));
        drop(t);
        let recs = records(server);
        assert_eq!(recs[0].0, 0);
        assert_eq!(
            recs[0].1,
            format!(
                "POST /v1.41/containers/c/attach?stdin=1&stream=1 HTTP/1.1\r\nHost: api.moby.localhost\r\n{}Content-Type: text/plain\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
                ua()
            )
        );
        assert_eq!(recs[1], (0, "stdin data".to_string()));
        assert_eq!(recs[2].0, 1);
    }

    #[test]
    fn upgraded_stream_reads_and_writes_at_once() {
        let server = Server::unix(vec![vec![
            Step::Head,
            send(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n"),
            Step::Echo,
            send(b"done"),
            Step::Close,
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), None).unwrap() else {
            panic!("not upgraded")
        };
        assert_duplex_echo(up);
        drop(t);
        server.finish();
    }

    /// A reader that yields `total` bytes in pieces, pausing before each.
    struct Slow {
        left: usize,
        pause: Duration,
    }

    impl Read for Slow {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            std::thread::sleep(self.pause);
            let n = out.len().min(self.left).min(4096);
            out[..n].fill(b't');
            self.left -= n;
            Ok(n)
        }
    }

    #[test]
    fn uploads_stop_at_an_early_answer() {
        // Fast: the socket fills, the server closes, the failed write finds the answer.
        // Slow: the answer is seen between two chunks, long before the server closes.
        for (pause, within) in [
            (Duration::from_micros(200), Duration::from_secs(5)),
            (Duration::from_millis(5), Duration::from_millis(250)),
        ] {
            let server = Server::unix(vec![
                vec![
                    Step::Head,
                    send(b"HTTP/1.1 100 Continue\r\n\r\n"),
                    Step::Sleep(Duration::from_millis(50)),
                    send(b"HTTP/1.1 404 Not Found\r\nContent-Length: 7\r\n\r\nmissing"),
                    Step::Sleep(Duration::from_millis(400)),
                    Step::Close,
                ],
                vec![Step::Request, send(OK)],
            ]);
            let t = Transport::new(server.host.clone(), None).unwrap();
            let mut body = Slow {
                left: 64 << 20,
                pause,
            };
            let start = Instant::now();
            let put = Request {
                body: Body::Reader(&mut body),
                ..req("PUT", "/v1.41/containers/none/archive?path=%2Ftmp")
            };
            let resp = t.send(put, None).unwrap();
            assert_eq!(resp.status, 404);
            assert_eq!(text(resp), "missing");
            assert!(start.elapsed() < within, "{:?}", start.elapsed());
            assert!(body.left > 0, "the upload stopped early");
            // The connection with a half-sent body is not reused.
            assert_eq!(text(t.send(req("GET", "/next"), None).unwrap()), "OK");
            drop(t);
            let conns: Vec<usize> = server.finish().into_iter().map(|(c, _)| c).collect();
            assert_eq!(conns, [0, 1]);
        }
    }

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
    fn idempotent_requests_are_resent_once() {
        let server = Server::unix(vec![
            vec![Step::Request, send(OK), Step::Request, Step::Close],
            vec![Step::Request, send(OK)],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert_eq!(text(t.send(req("GET", "/a"), None).unwrap()), "OK");
        let mut put = req("PUT", "/b");
        put.body = Body::Bytes(b"data".to_vec());
        assert_eq!(text(t.send(put, None).unwrap()), "OK");
        drop(t);
        let recs = records(server);
        let conns: Vec<usize> = recs.iter().map(|(c, _)| *c).collect();
        assert_eq!(conns, [0, 0, 1]);
        assert_eq!(recs[1].1, recs[2].1, "the same request, sent again");
        assert!(recs[2].1.ends_with("\r\n\r\ndata"));
    }

    #[test]
    fn other_requests_are_not_resent() {
        let server = Server::unix(vec![vec![
            Step::Request,
            send(OK),
            Step::Request,
            Step::Close,
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert_eq!(text(t.send(req("GET", "/a"), None).unwrap()), "OK");
        match t.send(req("POST", "/b"), None) {
            Err(Error::Io(e)) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
                assert!(e.to_string().contains("before answering POST /b"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        drop(t);
        assert_eq!(server.finish().len(), 2);

        // A streamed body cannot be sent twice either.
        let server = Server::unix(vec![vec![
            Step::Request,
            send(OK),
            Step::Request,
            Step::Close,
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert_eq!(text(t.send(req("GET", "/a"), None).unwrap()), "OK");
        let mut reader: &[u8] = b"tar";
        let put = Request {
            body: Body::Reader(&mut reader),
            ..req("PUT", "/c")
        };
        assert!(t.send(put, None).is_err());
        drop(t);
        assert_eq!(server.finish().len(), 2);
    }

    #[test]
    fn cancel_aborts_blocked_calls() {
        let server = Server::unix(vec![
            vec![Step::Request],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
            ],
            vec![
                Step::Head,
                send(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n"),
            ],
        ]);
        let t = Arc::new(Transport::new(server.host.clone(), None).unwrap());

        // Waiting for the head.
        let cancel = Cancel::new();
        let (t2, c2) = (Arc::clone(&t), cancel.clone());
        let waiting = std::thread::spawn(move || {
            let mut r = req("POST", "/v1.41/containers/x/wait");
            r.timeouts.response = None;
            t2.send(r, Some(&c2))
        });
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        cancel.cancel();
        assert!(matches!(waiting.join().unwrap(), Err(Error::Cancelled)));
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(cancel.is_cancelled());
        // Later calls fail at once, without connecting.
        assert!(matches!(
            t.send(req("GET", "/x"), Some(&cancel)),
            Err(Error::Cancelled)
        ));

        // Reading a body.
        let cancel = Cancel::new();
        let mut r = req("GET", "/body");
        r.timeouts.idle = None;
        let resp = t.send(r, Some(&cancel)).unwrap();
        let reading = std::thread::spawn(move || resp.read_to_vec(100));
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        cancel.cancel();
        let got = reading.join().unwrap();
        assert!(matches!(got, Err(Error::Cancelled)), "{got:?}");
        assert!(start.elapsed() < Duration::from_secs(1));

        // An upgraded stream.
        let cancel = Cancel::new();
        let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), Some(&cancel)).unwrap()
        else {
            panic!("not upgraded")
        };
        let (mut rd, _wr) = up.split();
        let reading = std::thread::spawn(move || {
            let mut buf = [0u8; 16];
            rd.read(&mut buf).map_err(Error::from)
        });
        std::thread::sleep(Duration::from_millis(100));
        cancel.cancel();
        assert!(matches!(reading.join().unwrap(), Err(Error::Cancelled)));
        drop(_wr);
        drop(t);
        server.finish();
    }

    #[test]
    fn timeouts_name_the_operation() {
        let server = Server::unix(vec![
            vec![Step::Request, Step::Sleep(Duration::from_millis(400))],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
                Step::Sleep(Duration::from_millis(400)),
            ],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let mut r = req("POST", "/v1.41/images/create?fromImage=x");
        r.timeouts.response = Some(Duration::from_millis(100));
        let start = Instant::now();
        match t.send(r, None) {
            Err(Error::Timeout { what, after }) => {
                assert_eq!(
                    what,
                    "waiting for the response to POST /v1.41/images/create?fromImage=x"
                );
                assert_eq!(after, Duration::from_millis(100));
            }
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_millis(350));

        let mut r = req("GET", "/slow-body");
        r.timeouts.idle = Some(Duration::from_millis(100));
        let resp = t.send(r, None).unwrap();
        match resp.read_to_vec(100) {
            Err(Error::Timeout { what, .. }) => {
                assert_eq!(what, "reading the response body of GET /slow-body")
            }
            other => panic!("{other:?}"),
        }
        drop(t);
        server.finish();
    }

    #[test]
    fn huge_and_zero_limits() {
        let server = Server::tcp("", vec![vec![Step::Request, send(OK), Step::Request]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let mut r = req("GET", "/x");
        r.timeouts = Timeouts {
            connect: Duration::MAX,
            response: Some(Duration::MAX),
            idle: Some(Duration::MAX),
        };
        assert_eq!(text(t.send(r, None).unwrap()), "OK");
        let mut r = req("GET", "/y");
        r.timeouts.response = Some(Duration::ZERO);
        assert!(matches!(t.send(r, None), Err(Error::Timeout { .. })));
        drop(t);
        server.finish();
    }

    #[test]
    fn broken_replies() {
        let server = Server::unix(vec![
            vec![Step::Request, send(b"\x15\x03\x01\x00\x02\x02\x46"), Step::Close],
            vec![Step::Request, send(b"HTTP/1.1 200 OK\r\nContent-"), Step::Close],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
                Step::Close,
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab"),
                Step::Close,
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 1, 2\r\n\r\n"),
            ],
            vec![Step::Request, send(b"HTTP/1.1 101 Switching\r\n\r\n")],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n"),
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n14\r\n01234567890123456789\r\n"),
            ],
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX"),
            ],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        match t.send(req("GET", "/_ping"), None) {
            Err(Error::Protocol(m)) => {
                assert!(m.contains("malformed HTTP response"), "{m}");
                assert!(m.ends_with(
                    "\n* Are you trying to connect to a TLS-enabled daemon without TLS?"
                ));
            }
            other => panic!("{other:?}"),
        }
        match t.send(req("GET", "/x"), None) {
            Err(Error::Protocol(m)) => assert!(m.contains("unexpected end of stream"), "{m}"),
            other => panic!("{other:?}"),
        }
        for _ in 0..2 {
            let resp = t.send(req("GET", "/x"), None).unwrap();
            match resp.read_to_vec(100) {
                Err(Error::Io(e)) => assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof),
                other => panic!("{other:?}"),
            }
        }
        assert!(
            matches!(t.send(req("GET", "/x"), None), Err(Error::Protocol(m)) if m.contains("Content-Length"))
        );
        assert!(
            matches!(t.send(req("GET", "/x"), None), Err(Error::Protocol(m)) if m.contains("101"))
        );
        for _ in 0..2 {
            match t.send(req("GET", "/big"), None).unwrap().read_to_vec(10) {
                Err(Error::Protocol(m)) => {
                    assert_eq!(
                        m,
                        "the response body of GET /big is longer than the limit of 10 bytes"
                    )
                }
                other => panic!("{other:?}"),
            }
        }
        // Data followed by bad framing: the data is handed out, then the error.
        let mut body = t.send(req("GET", "/x"), None).unwrap().into_body();
        let mut buf = [0u8; 64];
        assert_eq!(body.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        let e = Error::from(body.read(&mut buf).unwrap_err());
        assert!(
            matches!(&e, Error::Protocol(m) if m.contains("chunk")),
            "{e:?}"
        );
        drop(t);
        server.finish();
    }

    #[test]
    fn early_drop_closes_unless_the_rest_is_here() {
        let server = Server::unix(vec![
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n0123456789"),
            ],
            vec![Step::Request, send(OK)],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        // Whole bodies already received: dropping skips them and keeps the connection.
        drop(t.send(req("GET", "/1"), None).unwrap());
        std::thread::sleep(Duration::from_millis(20));
        drop(t.send(req("GET", "/2"), None).unwrap());
        let mut body = t.send(req("GET", "/3"), None).unwrap().into_body();
        let mut five = [0u8; 5];
        body.read_exact(&mut five).unwrap();
        drop(body);
        assert_eq!(text(t.send(req("GET", "/4"), None).unwrap()), "OK");
        drop(t);
        let conns: Vec<usize> = records(server).into_iter().map(|(c, _)| c).collect();
        assert_eq!(conns, [0, 0, 0, 1]);
    }

    #[test]
    fn connect_errors() {
        let dir = TempDir::new();
        let missing = dir.path().join("missing.sock");
        let t = Transport::new(Host::Unix(missing.clone()), None).unwrap();
        match t.send(req("GET", "/_ping"), None) {
            Err(e @ Error::Connect { .. }) => {
                let Error::Connect { host, failure, .. } = &e else {
                    unreachable!()
                };
                assert_eq!(*failure, ConnectFailure::NoSuchSocket);
                assert_eq!(host, &format!("unix://{}", missing.display()));
                assert!(e
                    .to_string()
                    .starts_with("failed to connect to the docker API at unix://"));
            }
            other => panic!("{other:?}"),
        }

        let dead = dir.path().join("dead.sock");
        drop(std::os::unix::net::UnixListener::bind(&dead).unwrap());
        let t = Transport::new(Host::Unix(dead), None).unwrap();
        assert!(matches!(
            t.send(req("GET", "/_ping"), None),
            Err(Error::Connect {
                failure: ConnectFailure::NotRunning,
                ..
            })
        ));

        let port = free_port();
        let t = Transport::new(
            Host::parse(&format!("tcp://127.0.0.1:{port}"), false).unwrap(),
            None,
        )
        .unwrap();
        match t.send(req("GET", "/_ping"), None) {
            Err(e @ Error::Connect { failure: ConnectFailure::NotRunning, .. }) => assert_eq!(
                e.to_string(),
                format!("Cannot connect to the Docker daemon at tcp://127.0.0.1:{port}. Is the docker daemon running?")
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_requests_are_refused_before_sending() {
        let server = Server::unix(vec![vec![Step::Request, send(OK)]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        assert!(matches!(
            t.send(req("GET", "/a b"), None),
            Err(Error::InvalidInput(_))
        ));
        let mut r = req("GET", "/x");
        r.headers.push(("X-Registry-Auth", "secret\r\nX: y".into()));
        match t.send(r, None) {
            Err(Error::InvalidInput(m)) => assert!(!m.contains("secret"), "{m}"),
            other => panic!("{other:?}"),
        }
        // The connection that refused nothing is still good.
        assert_eq!(text(t.send(req("GET", "/ok"), None).unwrap()), "OK");
        drop(t);
        assert_eq!(server.finish().len(), 1);
    }

    #[test]
    fn garbage_replies_never_panic() {
        let pieces: &[&[u8]] = &[
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.0 204 x\r\n",
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"Content-Length: 3\r\n",
            b"Content-Length: 99999999999999999999\r\n",
            b"Transfer-Encoding: chunked\r\n",
            b"Connection: close\r\n",
            b"\r\n",
            b"3\r\nabc\r\n",
            b"0\r\n\r\n",
            b"zz\r\n",
            b"\xff\x00",
            b"abc",
        ];
        let mut seed: u64 = 0xdead_beef_cafe_f00d;
        let mut scripts = Vec::new();
        for _ in 0..150 {
            let mut reply = Vec::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            for k in 0..(seed % 8) {
                let r = seed.rotate_left((k * 7) as u32);
                reply.extend_from_slice(pieces[(r % pieces.len() as u64) as usize]);
            }
            scripts.push(vec![Step::Request, Step::Send(reply), Step::Close]);
        }
        let n = scripts.len();
        let server = Server::unix(scripts);
        let t = Transport::new(server.host.clone(), None).unwrap();
        for _ in 0..n {
            let mut r = req("GET", "/x");
            r.timeouts.response = Some(Duration::from_secs(2));
            r.timeouts.idle = Some(Duration::from_secs(2));
            if let Ok(resp) = t.send(r, None) {
                let _ = resp.read_to_vec(1000);
            }
            // Every reply ends with a close: force the next request onto the next connection.
            drop(std::mem::take(&mut *lock(&t.shared.idle)));
        }
        drop(t);
        server.finish();
    }

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

    fn ping(t: &Transport) -> Result<String> {
        let r = t.send(req("GET", "/_ping"), None)?;
        assert_eq!(r.status, 200);
        let body = r.read_to_vec(1024)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
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
        assert_eq!(lock(&t.shared.idle).len(), 1, "all of it on one connection");
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
                "transport::tests::docker_many_threads_and_no_leaks",
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
        let pooled = lock(&t.shared.idle).len();
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
