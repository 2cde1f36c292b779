//! Bytes and HTTP/1.1 framing over a Unix socket or TCP (TLS behind the `tls` feature).
//!
//! This layer knows nothing of Docker paths or JSON: it sends a [`Request`] and hands back a
//! [`Response`] whose body is a streaming `Read`, or an [`Upgraded`] duplex stream for a `101`.

use std::io::Read;
use std::time::Duration;

use crate::error::Result;

/// A request body.
pub enum Body<'a> {
    /// No body (no `Content-Length`, no `Transfer-Encoding`).
    Empty,
    /// A body known in full, sent with `Content-Length`.
    Bytes(Vec<u8>),
    /// A body streamed from a reader with `Transfer-Encoding: chunked`; never held whole in memory.
    Reader(&'a mut (dyn Read + Send)),
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
