//! The server side of HTTP/1.1 as the Docker daemon (Go's `net/http`) speaks it: request heads
//! parsed with `httparse`, bodies by `Content-Length` or chunked (the transport's push decoder),
//! and replies framed the way Go frames them.
//!
//! Go buffers the first 2048 bytes a handler writes: a reply that ends within them goes out
//! with `Content-Length`, a longer one, or one the handler flushes early (progress streams,
//! `wait`), goes out chunked. The fake does the same, so clients meet both framings.
//!
//! From the crate it uses only the transport's HTTP parsing (`transport::wire`), its chunked
//! codec (`transport::chunked`) and the in-memory pipes of `transport::connector`: byte-level
//! codecs, not the Engine API code that the fake is there to check.

use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use crate::transport::connector::{Connection, PipeEnd};

use crate::transport::chunked::{encode_chunk, ChunkedDecoder, LAST_CHUNK};
use crate::transport::wire::{self, Framing};

use super::clock;
use super::state::{API_VERSION, DOCKER_VERSION};

/// Largest request body kept in memory.
pub(crate) const MAX_BODY: usize = 512 << 20;
/// Go's `bufferBeforeChunkingSize`.
const GO_BUFFER: usize = 2048;

/// A request as read off the socket.
#[derive(Debug)]
pub(crate) struct Request {
    pub(crate) method: String,
    /// The request target as sent (path and query).
    pub(crate) target: String,
    pub(crate) minor_version: u8,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Request {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// Whether the connection ends after this exchange (RFC 9112 §9.3).
    pub(crate) fn wants_close(&self) -> bool {
        if self.minor_version == 0 {
            !self.has_token("Connection", "keep-alive")
        } else {
            self.has_token("Connection", "close")
        }
    }

    /// The path part of the target, before `?`.
    pub(crate) fn raw_path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }

    /// The query, decoded the way Go's `url.ParseQuery` does (`+` is a space).
    pub(crate) fn query(&self) -> Vec<(String, String)> {
        let Some((_, q)) = self.target.split_once('?') else {
            return Vec::new();
        };
        q.split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (form_decode(k), form_decode(v))
            })
            .collect()
    }
}

/// Percent-decoding of a path segment (`+` stays a plus).
pub(crate) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn form_decode(s: &str) -> String {
    percent_decode(&s.replace('+', " "))
}

/// Why no request could be read.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed (or the socket failed) between requests: end quietly.
    Closed,
    /// Not HTTP: answer `400 Bad Request` and close, as Go does.
    Bad(String),
}

/// A connection's byte stream as the server uses it: a Unix socket, or the server's end of an
/// in-memory pipe.
pub(crate) trait ServerStream: Read + Write + Send {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;
}

impl ServerStream for UnixStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        UnixStream::set_read_timeout(self, timeout)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        UnixStream::shutdown(self, how)
    }
}

/// The server's end of an in-memory connection; clones share it (the accept side keeps one to
/// shut the connection down when the engine stops).
#[derive(Clone)]
pub(crate) struct MemoryStream(pub(crate) Arc<PipeEnd>);

impl Read for MemoryStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Connection::read(&*self.0, buf)
    }
}

impl Write for MemoryStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Connection::write(&*self.0, buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl ServerStream for MemoryStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Connection::set_read_timeout(&*self.0, timeout)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        Connection::shutdown(&*self.0, how)
    }
}

/// One side of a connection: the stream and the bytes read past the last request.
pub(crate) struct Conn {
    pub(crate) stream: Box<dyn ServerStream>,
    pub(crate) pending: Vec<u8>,
}

impl Conn {
    pub(crate) fn new(stream: Box<dyn ServerStream>) -> Conn {
        Conn {
            stream,
            pending: Vec::new(),
        }
    }

    /// Reads more bytes into `pending`; `false` at end of stream.
    fn fill(&mut self) -> Result<bool, ReadError> {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => {
                    self.pending.extend_from_slice(&buf[..n]);
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Err(ReadError::Closed),
            }
        }
    }

    /// Reads the next request with its whole body. `Expect: 100-continue` is answered before
    /// the body is read, as the daemon does.
    pub(crate) fn read_request(&mut self) -> Result<Request, ReadError> {
        let (len, mut req) = loop {
            if let Some(parsed) = parse_head(&self.pending)? {
                break parsed;
            }
            if !self.fill()? {
                return Err(if self.pending.is_empty() {
                    ReadError::Closed
                } else {
                    ReadError::Bad("unexpected end of request head".into())
                });
            }
        };
        self.pending.drain(..len);
        if req
            .header("Expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
        {
            let _ = self.stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        let chunked = req
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Transfer-Encoding"))
            .any(|(_, v)| v.to_ascii_lowercase().contains("chunked"));
        if chunked {
            req.body = self.read_chunked()?;
        } else if let Some(cl) = req.header("Content-Length") {
            let n: usize = cl
                .trim()
                .parse()
                .map_err(|_| ReadError::Bad("invalid Content-Length".into()))?;
            if n > MAX_BODY {
                return Err(ReadError::Bad("request body too large".into()));
            }
            while self.pending.len() < n {
                if !self.fill()? {
                    return Err(ReadError::Closed);
                }
            }
            req.body = self.pending.drain(..n).collect();
        }
        Ok(req)
    }

    fn read_chunked(&mut self) -> Result<Vec<u8>, ReadError> {
        let mut dec = ChunkedDecoder::new();
        let mut body = Vec::new();
        loop {
            let (used, data) = dec
                .decode(&self.pending, usize::MAX)
                .map_err(|e| ReadError::Bad(e.to_string()))?;
            body.extend_from_slice(&self.pending[data]);
            self.pending.drain(..used);
            if body.len() > MAX_BODY {
                return Err(ReadError::Bad("request body too large".into()));
            }
            if dec.is_done() {
                return Ok(body);
            }
            if used == 0 && !self.fill()? {
                return Err(ReadError::Closed);
            }
        }
    }
}

fn parse_head(buf: &[u8]) -> Result<Option<(usize, Request)>, ReadError> {
    match wire::parse_request_head(buf) {
        Ok(wire::Status::Partial) => Ok(None),
        Ok(wire::Status::Complete((len, head))) => Ok(Some((
            len,
            Request {
                method: head.method().to_string(),
                target: head.target().to_string(),
                minor_version: head.minor_version,
                headers: head
                    .headers()
                    .map(|(n, v)| (n.to_string(), v.to_string()))
                    .collect(),
                body: Vec::new(),
            },
        ))),
        Err(e) => Err(ReadError::Bad(e.to_string())),
    }
}

/// A reply body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// No framing header at all (`204`, `304`, `HEAD` of an archive).
    None,
    /// A body the handler wrote in one go: framed by Go's buffering rule.
    Bytes(Vec<u8>),
    /// A flushed stream: chunked, one chunk per piece.
    Stream(Vec<Vec<u8>>),
}

/// A reply before framing.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    /// Route-specific headers (`Content-Type`, `X-Docker-Container-Path-Stat`, ...).
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Body,
    /// Whether the daemon's middleware headers go out (not on the router's own 404).
    pub(crate) daemon_headers: bool,
    /// The `Api-Version` among them: the engine's, set by the router; the default one until
    /// then.
    pub(crate) api_version: Option<String>,
}

impl Reply {
    pub(crate) fn new(status: u16, body: Body) -> Reply {
        Reply {
            status,
            headers: Vec::new(),
            body,
            daemon_headers: true,
            api_version: None,
        }
    }

    pub(crate) fn header(mut self, name: &'static str, value: impl Into<String>) -> Reply {
        self.headers.push((name, value.into()));
        self
    }

    /// A JSON document, newline-terminated as Go's `json.Encoder` writes it.
    pub(crate) fn json(status: u16, value: &serde_json::Value) -> Reply {
        let mut body = serde_json::to_vec(value).unwrap_or_default();
        body.push(b'\n');
        Reply::new(status, Body::Bytes(body)).header("Content-Type", "application/json")
    }

    /// The daemon's error reply: `{"message":"..."}`.
    pub(crate) fn error(status: u16, message: &str) -> Reply {
        Reply::json(status, &serde_json::json!({ "message": message }))
    }

    /// A JSON-lines progress stream, flushed line by line.
    pub(crate) fn stream(lines: Vec<serde_json::Value>) -> Reply {
        let pieces = lines
            .iter()
            .map(|l| {
                let mut b = serde_json::to_vec(l).unwrap_or_default();
                b.extend_from_slice(b"\r\n");
                b
            })
            .collect();
        Reply::new(200, Body::Stream(pieces)).header("Content-Type", "application/json")
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        413 => "Request Entity Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Unknown",
    }
}

/// How a reply is damaged on the way out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Damage {
    None,
    /// Send only the first `n` bytes, then close.
    HangUpAfter(usize),
    /// Send the body chunked, with a chunk cut short, then close.
    TruncatedChunk,
}

/// A writer that stops after a byte budget: the bytes up to it go out, then it fails (and the
/// connection is closed), which is what a daemon crashing mid-reply looks like.
pub(crate) struct Wire<'a> {
    pub(crate) stream: &'a mut dyn ServerStream,
    pub(crate) budget: Option<usize>,
}

impl Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.budget {
            None => self.stream.write(buf),
            Some(0) => Err(io::Error::new(io::ErrorKind::BrokenPipe, "fault: hang up")),
            Some(left) => {
                let n = self.stream.write(&buf[..buf.len().min(left)])?;
                self.budget = Some(left - n);
                Ok(n)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// The daemon's middleware headers, sorted the way Go writes them.
pub(crate) fn daemon_headers(out: &mut Vec<(&'static str, String)>, api_version: Option<&str>) {
    out.push((
        "Api-Version",
        api_version.unwrap_or(API_VERSION).to_string(),
    ));
    out.push(("Docker-Experimental", "false".to_string()));
    out.push(("Ostype", "linux".to_string()));
    out.push(("Server", format!("Docker/{DOCKER_VERSION} (linux)")));
}

/// The status line and headers of `reply`, framed chunked or by length.
pub(crate) fn head_bytes(reply: &Reply, close: bool, chunked: bool) -> Vec<u8> {
    let mut headers = reply.headers.clone();
    if reply.daemon_headers {
        daemon_headers(&mut headers, reply.api_version.as_deref());
    }
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let (secs, _) = clock::now();
    headers.push(("Date", clock::http_date(secs)));
    if close {
        headers.push(("Connection", "close".to_string()));
    }
    let framing = match &reply.body {
        _ if chunked => Framing::Chunked,
        Body::Bytes(b) => Framing::Length(b.len() as u64),
        _ => Framing::None,
    };
    let mut out = Vec::with_capacity(256);
    if wire::write_response_head(
        &mut out,
        reply.status,
        reason(reply.status),
        &headers,
        framing,
    )
    .is_err()
    {
        // Only a line break inside a header can fail, and every value here is the fake's own.
        out = b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n".to_vec();
    }
    out
}

/// Serialises `reply` (`head_only` for `HEAD`) and writes it through `wire`. Returns an
/// error when the connection must close: the damage cut it, or the peer went away.
pub(crate) fn write_reply(
    wire: &mut Wire<'_>,
    reply: &Reply,
    head_only: bool,
    close: bool,
    damage: Damage,
) -> io::Result<()> {
    let truncate = damage == Damage::TruncatedChunk;
    let chunked = truncate
        || match &reply.body {
            Body::None => false,
            Body::Bytes(b) => b.len() > GO_BUFFER,
            Body::Stream(_) => true,
        };
    if truncate && reply.body == Body::None && !head_only {
        // Nothing to cut in a 204: send a 200 with a body, and cut that.
        let mut r = Reply::error(200, "fake engine: truncated");
        r.daemon_headers = reply.daemon_headers;
        r.api_version = reply.api_version.clone();
        return write_reply(wire, &r, head_only, close, damage);
    }
    let mut out = head_bytes(reply, close, chunked);
    if head_only {
        wire.write_all(&out)?;
        if truncate {
            wire.flush()?;
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "fault: truncated",
            ));
        }
        return finish(wire, damage);
    }
    let pieces: Vec<&[u8]> = match &reply.body {
        Body::None => Vec::new(),
        Body::Bytes(b) if chunked => b.chunks(GO_BUFFER).collect(),
        Body::Bytes(b) => vec![b.as_slice()],
        Body::Stream(p) => p.iter().map(Vec::as_slice).collect(),
    };
    if truncate {
        // Announce more than is sent: the first chunk claims all the body (at least 16
        // bytes) and delivers half of it.
        let all: Vec<u8> = pieces.concat();
        let announced = all.len().max(16);
        out.extend_from_slice(format!("{announced:x}\r\n").as_bytes());
        out.extend_from_slice(&all[..all.len() / 2]);
        wire.write_all(&out)?;
        wire.flush()?;
        return Err(io::Error::new(
            io::ErrorKind::BrokenPipe,
            "fault: truncated chunk",
        ));
    }
    if !chunked {
        for p in pieces {
            out.extend_from_slice(p);
        }
        wire.write_all(&out)?;
        return finish(wire, damage);
    }
    // A flushed stream: the head goes out first, then one write per chunk.
    wire.write_all(&out)?;
    for p in pieces {
        let mut chunk = Vec::with_capacity(p.len() + 12);
        encode_chunk(p, &mut chunk);
        wire.write_all(&chunk)?;
    }
    wire.write_all(LAST_CHUNK)?;
    finish(wire, damage)
}

fn finish(wire: &mut Wire<'_>, damage: Damage) -> io::Result<()> {
    wire.flush()?;
    if let Damage::HangUpAfter(_) = damage {
        // The whole reply fit in the budget: the hang-up still happens, now.
        return Err(io::Error::new(io::ErrorKind::BrokenPipe, "fault: hang up"));
    }
    Ok(())
}

/// Go's reply to something that is not HTTP.
pub(crate) const BAD_REQUEST: &[u8] = b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request";

/// A head that no HTTP parser accepts (a header line without a colon).
pub(crate) const MALFORMED_HEAD: &[u8] =
    b"HTTP/1.1 200 OK\r\nApi-Version 1.41\r\nContent-Length: 2\r\n\r\n{}";

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::net::UnixStream;

    fn serve(reply: &Reply, head_only: bool, close: bool, damage: Damage) -> Vec<u8> {
        let (mut a, mut b) = UnixStream::pair().unwrap();
        let _ = write_reply(
            &mut Wire {
                budget: match damage {
                    Damage::HangUpAfter(n) => Some(n),
                    _ => None,
                },
                stream: &mut a,
            },
            reply,
            head_only,
            close,
            damage,
        );
        drop(a);
        let mut out = Vec::new();
        b.read_to_end(&mut out).unwrap();
        out
    }

    fn without_date(bytes: &[u8]) -> String {
        String::from_utf8_lossy(bytes)
            .split("\r\n")
            .filter(|l| !l.starts_with("Date: "))
            .collect::<Vec<_>>()
            .join("\r\n")
    }

    #[test]
    fn small_json_has_content_length_and_daemon_headers() {
        let out = serve(
            &Reply::error(404, "No such container: x"),
            false,
            false,
            Damage::None,
        );
        assert_eq!(
            without_date(&out),
            "HTTP/1.1 404 Not Found\r\nApi-Version: 1.41\r\nContent-Type: application/json\r\n\
             Docker-Experimental: false\r\nOstype: linux\r\nServer: Docker/20.10.24 (linux)\r\n\
             Content-Length: 35\r\n\r\n{\"message\":\"No such container: x\"}\n"
        );
    }

    #[test]
    fn big_bodies_and_streams_are_chunked() {
        let big = Reply::new(200, Body::Bytes(vec![b'x'; 5000]));
        let out = serve(&big, false, true, Damage::None);
        let text = without_date(&out);
        assert!(text.contains("Connection: close\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n"));
        assert!(text.contains("\r\n388\r\n") && text.ends_with("\r\n0\r\n\r\n"));
        let s = serve(
            &Reply::stream(vec![serde_json::json!({"status": "a"})]),
            false,
            false,
            Damage::None,
        );
        assert!(without_date(&s).ends_with("\r\n\r\n10\r\n{\"status\":\"a\"}\r\n\r\n0\r\n\r\n"));
    }

    #[test]
    fn damage_cuts_the_reply() {
        let r = Reply::error(500, "boom");
        assert_eq!(
            serve(&r, false, false, Damage::HangUpAfter(9)),
            b"HTTP/1.1 "
        );
        let cut = without_date(&serve(&r, false, false, Damage::TruncatedChunk));
        assert!(
            cut.ends_with("Transfer-Encoding: chunked\r\n\r\n13\r\n{\"message"),
            "{cut}"
        );
        assert!(!cut.contains("boom"));
    }

    #[test]
    fn requests_with_chunked_bodies_and_pipelining() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(
            b"PUT /v1.41/containers/x/archive?path=%2Ftmp&a=b+c HTTP/1.1\r\nHost: x\r\n\
              Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nT: v\r\n\r\n\
              GET /_ping HTTP/1.0\r\n\r\n",
        )
        .unwrap();
        drop(a);
        let mut conn = Conn::new(Box::new(b));
        let r = conn.read_request().unwrap();
        assert_eq!(r.body, b"abcde");
        assert_eq!(r.raw_path(), "/v1.41/containers/x/archive");
        assert_eq!(
            r.query(),
            [("path".into(), "/tmp".into()), ("a".into(), "b c".into())]
        );
        assert!(!r.wants_close());
        let r = conn.read_request().unwrap();
        assert_eq!((r.method.as_str(), r.wants_close()), ("GET", true));
        assert!(matches!(conn.read_request(), Err(ReadError::Closed)));
    }

    #[test]
    fn garbage_is_a_bad_request() {
        let (mut a, b) = UnixStream::pair().unwrap();
        a.write_all(b"\x16\x03\x01 hello\r\n\r\n").unwrap();
        let mut conn = Conn::new(Box::new(b));
        assert!(matches!(conn.read_request(), Err(ReadError::Bad(_))));
    }

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb%3a1%zz%"), "a/b:1%zz%");
        assert_eq!(form_decode("a+b%2B"), "a b+");
    }
}
