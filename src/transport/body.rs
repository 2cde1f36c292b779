//! Response bodies: how one ends (length-delimited, chunked, close-delimited, or none), and
//! [`ResponseBody`], which reads one as a stream and hands the connection back to the pool at
//! its end.
//!
//! Reads go straight into the caller's buffer when it is large enough, so big bodies are not
//! copied twice; a chunked body's framing is taken from the connection's buffer as it comes.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use super::chunked::ChunkedDecoder;
use super::conn::{io_error, Conn};
use super::pool::Shared;
use super::wire::Head;
use crate::error::{Error, Result};

/// The most [`ResponseBody::read_to_vec`] reserves before the body's bytes arrive.
const PREALLOCATE_LIMIT: usize = 1 << 20;

/// How a response body ends.
pub(crate) enum BodyKind {
    /// After this many bytes.
    Length(u64),
    /// At the last chunk.
    Chunked(ChunkedDecoder),
    /// When the server closes the connection.
    Close,
    /// Already (no body, or all of it read); the connection has been released.
    Done,
    /// A read failed; the connection is gone.
    Failed,
}

impl BodyKind {
    /// The framing of a response to `method` with `head` (RFC 9112 §6.3).
    pub(crate) fn for_response(method: &str, head: &Head) -> Result<BodyKind> {
        let status = head.status;
        if method == "HEAD" || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(BodyKind::Done);
        }
        // One pass: the codings of every `Transfer-Encoding` (which wins when present) and the
        // lengths of every `Content-Length` (the first bad one is the error).
        let mut coded = false;
        let mut last_coding = None;
        let mut length: Result<Option<u64>> = Ok(None);
        for (name, value) in head.headers() {
            if name.eq_ignore_ascii_case("Transfer-Encoding") {
                coded = true;
                let mut codings = value.split(',').map(str::trim).filter(|t| !t.is_empty());
                last_coding = codings.next_back().or(last_coding);
            } else if name.eq_ignore_ascii_case("Content-Length") {
                if let Ok(known) = length {
                    length = content_length(value, known);
                }
            }
        }
        if coded {
            // A body whose last coding is not chunked can only end with the connection.
            return Ok(match last_coding {
                Some(t) if t.eq_ignore_ascii_case("chunked") => {
                    BodyKind::Chunked(ChunkedDecoder::new())
                }
                _ => BodyKind::Close,
            });
        }
        let length = length?;
        Ok(match length {
            Some(0) => BodyKind::Done,
            Some(n) => BodyKind::Length(n),
            None => BodyKind::Close,
        })
    }
}

/// The length so far with one more `Content-Length` value (a list of equal lengths is one).
fn content_length(value: &str, mut length: Option<u64>) -> Result<Option<u64>> {
    for part in value.split(',') {
        let part = part.trim();
        let n = (!part.is_empty() && part.len() <= 19 && part.bytes().all(|b| b.is_ascii_digit()))
            .then(|| part.parse::<u64>().ok())
            .flatten()
            .ok_or_else(|| {
                Error::Protocol(format!("invalid Content-Length `{}`", value.escape_debug()))
            })?;
        if length.is_some_and(|l| l != n) {
            return Err(Error::Protocol("conflicting Content-Length headers".into()));
        }
        length = Some(n);
    }
    Ok(length)
}

/// The body of a [`Response`](super::Response), read as a stream.
///
/// Framing (`Content-Length`, chunked with extensions and trailers, close-delimited, or none for
/// `HEAD`, `204` and `304`) is handled here; reads return body bytes only, and `Ok(0)` at its
/// end. The idle timeout of the request applies to every read.
///
/// When the body has been read to its end on a keep-alive connection, the connection goes back
/// to the pool at once. Dropped early, the connection is closed (unless the rest of the body
/// has already arrived, in which case it is skipped and the connection kept).
pub struct ResponseBody {
    conn: Option<Conn>,
    kind: BodyKind,
    keep_alive: bool,
    shared: Arc<Shared>,
    method: &'static str,
    target: String,
    idle: Option<Duration>,
}

impl ResponseBody {
    pub(super) fn new(
        conn: Conn,
        kind: BodyKind,
        keep_alive: bool,
        shared: Arc<Shared>,
        method: &'static str,
        target: String,
        idle: Option<Duration>,
    ) -> ResponseBody {
        let mut body = ResponseBody {
            conn: Some(conn),
            kind,
            keep_alive,
            shared,
            method,
            target,
            idle,
        };
        if matches!(body.kind, BodyKind::Done) {
            body.finish();
        }
        body
    }

    /// The target of the request this body answers (as sent, without a `tcp://` host's path).
    pub(super) fn target(&self) -> &str {
        &self.target
    }

    /// Reads the whole body, refusing more than `limit` bytes (any `limit`, `usize::MAX`
    /// included, is accepted).
    ///
    /// # Errors
    ///
    /// [`Error::Protocol`] when the body is longer than `limit`, and any error of reading it.
    pub fn read_to_vec(mut self, limit: usize) -> Result<Vec<u8>> {
        let known = match self.kind {
            BodyKind::Length(n) => Some(n),
            _ => None,
        };
        if let Some(n) = known {
            if n > limit as u64 {
                return Err(self.too_long(limit));
            }
        }
        // A small body has usually arrived with the head: take it from the buffer at once.
        if let Some(whole) = self.take_whole_buffered(known, limit) {
            return Ok(whole);
        }
        // What a `Content-Length` announces is reserved up to a point only: a huge limit
        // (even `usize::MAX`) must not reserve a huge buffer before the bytes come. Without
        // one (chunked), what has already arrived is a fair guess, and spares the growing.
        let buffered = || self.conn.as_ref().map_or(0, |c| c.buffered().len());
        let cap = known
            .map_or_else(buffered, |n| usize::try_from(n).unwrap_or(usize::MAX))
            .min(limit)
            .min(PREALLOCATE_LIMIT);
        let mut out = Vec::with_capacity(cap);
        // One byte more than the limit shows a longer body; `usize::MAX` is no limit at all.
        let take = u64::try_from(limit).map_or(u64::MAX, |l| l.saturating_add(1));
        (&mut self)
            .take(take)
            .read_to_end(&mut out)
            .map_err(Error::from)?;
        if out.len() > limit {
            return Err(self.too_long(limit));
        }
        Ok(out)
    }

    /// Reads the whole body, refusing more than `limit` bytes, and hands it to `f`; a body that
    /// arrived whole with the head is handed over from the connection's buffer, not copied.
    ///
    /// # Errors
    /// As [`read_to_vec`](ResponseBody::read_to_vec).
    pub fn read_with<R>(mut self, limit: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        let whole = match self.kind {
            BodyKind::Length(n) => usize::try_from(n).ok().filter(|&n| n <= limit),
            _ => None,
        };
        if let Some(n) = whole {
            if let Some(conn) = self.conn.as_mut() {
                if let Some(body) = conn.buffered().get(..n) {
                    let r = f(body);
                    conn.consume(n);
                    self.finish();
                    return Ok(r);
                }
            }
        }
        Ok(f(&self.read_to_vec(limit)?))
    }

    /// The whole body of `known` bytes (at most `limit`) when all of it is buffered; the
    /// connection is released as a read to the end would release it.
    fn take_whole_buffered(&mut self, known: Option<u64>, limit: usize) -> Option<Vec<u8>> {
        let n = usize::try_from(known?).ok().filter(|&n| n <= limit)?;
        let conn = self.conn.as_mut()?;
        let whole = conn.buffered().get(..n)?.to_vec();
        conn.consume(n);
        self.finish();
        Some(whole)
    }

    fn too_long(&self, limit: usize) -> Error {
        Error::Protocol(format!(
            "the response body of {} {} is longer than the limit of {limit} bytes",
            self.method, self.target
        ))
    }

    /// Ends the body: a clean keep-alive connection goes back to the pool.
    fn finish(&mut self) {
        self.kind = BodyKind::Done;
        if let Some(conn) = self.conn.take() {
            if self.keep_alive && conn.buffered().is_empty() && !conn.cancelled() {
                self.shared.put_idle(conn);
            }
        }
    }

    fn fail(&mut self) {
        self.kind = BodyKind::Failed;
        self.conn = None;
    }

    fn truncated(&self, cancelled: bool) -> Error {
        if cancelled {
            return Error::Cancelled;
        }
        Error::Io(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!(
                "the connection closed before the end of the response body of {} {}",
                self.method, self.target
            ),
        ))
    }

    /// Reads from the socket: into `out` directly when it is at least as big as the buffer,
    /// else into the buffer.
    fn read_more(&mut self, out: &mut [u8]) -> Result<More> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(More::End { cancelled: false });
        };
        let res = conn.set_read_timeout(self.idle).and_then(|()| {
            if out.len() >= conn.buffer_capacity() {
                conn.stream.read(out).map(|n| (n, true))
            } else {
                conn.fill().map(|n| (n, false))
            }
        });
        let cancelled = conn.cancelled();
        match res {
            Ok((0, _)) => Ok(More::End { cancelled }),
            Ok((n, true)) => Ok(More::Direct(n)),
            Ok((_, false)) => Ok(More::Buffered),
            Err(e) => Err(io_error(e, cancelled, self.idle, || {
                format!(
                    "reading the response body of {} {}",
                    self.method, self.target
                )
            })),
        }
    }

    fn read_body(&mut self, out: &mut [u8]) -> Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            let got = match self.kind {
                BodyKind::Done => return Ok(0),
                BodyKind::Failed => {
                    return Err(Error::Io(io::Error::other(
                        "the response body cannot be read after an earlier error",
                    )))
                }
                BodyKind::Length(left) => self.read_length(left, out)?,
                BodyKind::Chunked(_) => self.read_chunked(out)?,
                BodyKind::Close => self.read_close(out)?,
            };
            if let Got::Bytes(n) = got {
                return Ok(n);
            }
        }
    }

    /// A read of a body with `left` bytes to come.
    fn read_length(&mut self, left: u64, out: &mut [u8]) -> Result<Got> {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(out.len());
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Got::Bytes(0));
        };
        let mut n = conn.take_buffered(&mut out[..want]);
        if n == 0 {
            match self.read_more(&mut out[..want])? {
                More::End { cancelled } => return Err(self.truncated(cancelled)),
                More::Buffered => return Ok(Got::Refilled),
                More::Direct(direct) => n = direct,
            }
        }
        if let BodyKind::Length(left) = &mut self.kind {
            *left -= n as u64;
            if *left == 0 {
                self.finish();
            }
        }
        Ok(Got::Bytes(n))
    }

    /// A read of a chunked body: what is buffered if anything, else from the socket.
    fn read_chunked(&mut self, out: &mut [u8]) -> Result<Got> {
        match self.chunks_from_buffer(out)? {
            Some(n) => Ok(Got::Bytes(n)),
            None => self.chunk_from_socket(out),
        }
    }

    /// Hands out everything buffered, across chunk boundaries, until `out` is full: one read of
    /// the socket then serves several small chunks. `None` when nothing was handed out and the
    /// body goes on.
    fn chunks_from_buffer(&mut self, out: &mut [u8]) -> Result<Option<usize>> {
        let (BodyKind::Chunked(dec), Some(conn)) = (&mut self.kind, self.conn.as_mut()) else {
            return Ok(Some(0));
        };
        let mut n = 0;
        while n < out.len() && !conn.buffered().is_empty() {
            let (used, data) = match dec.decode(conn.buffered(), out.len() - n) {
                Ok(step) => step,
                Err(e) if n == 0 => return Err(e),
                // The decoder stays failed: the next read reports the error, and the data
                // before the bad framing is not lost.
                Err(_) => return Ok(Some(n)),
            };
            let len = data.len();
            out[n..n + len].copy_from_slice(&conn.buffered()[data]);
            conn.consume(used);
            n += len;
            if dec.is_done() {
                self.finish();
                return Ok(Some(n));
            }
            if used == 0 {
                break;
            }
        }
        if n == 0 {
            return Ok(None);
        }
        // Take the framing that follows too, so the connection is released as soon as the last
        // data byte is handed out. An error there waits for the next read.
        if let Ok((framing, _)) = dec.decode(conn.buffered(), 0) {
            conn.consume(framing);
        }
        if dec.is_done() {
            self.finish();
        }
        Ok(Some(n))
    }

    /// With nothing buffered: a chunk whose rest fills `out` is read straight into it (no
    /// copy); otherwise one read into the buffer takes the rest of the chunk, the framing and
    /// the chunks after it at once.
    fn chunk_from_socket(&mut self, out: &mut [u8]) -> Result<Got> {
        let (BodyKind::Chunked(dec), Some(conn)) = (&mut self.kind, self.conn.as_mut()) else {
            return Ok(Got::Bytes(0));
        };
        let direct = dec.data_remaining();
        let target = if direct >= out.len() as u64 {
            &mut out[..]
        } else {
            conn.reserve_for_stream(out.len());
            &mut [][..]
        };
        match self.read_more(target)? {
            More::End { cancelled } => Err(self.truncated(cancelled)),
            More::Buffered => Ok(Got::Refilled),
            More::Direct(n) => {
                if let BodyKind::Chunked(dec) = &mut self.kind {
                    dec.consume_data(n);
                }
                Ok(Got::Bytes(n))
            }
        }
    }

    /// A read of a body that ends when the server closes the connection.
    fn read_close(&mut self, out: &mut [u8]) -> Result<Got> {
        let Some(conn) = self.conn.as_mut() else {
            return Ok(Got::Bytes(0));
        };
        let n = conn.take_buffered(out);
        if n > 0 {
            return Ok(Got::Bytes(n));
        }
        match self.read_more(out)? {
            More::End { cancelled: true } => Err(Error::Cancelled),
            More::End { cancelled: false } => {
                self.finish();
                Ok(Got::Bytes(0))
            }
            More::Buffered => Ok(Got::Refilled),
            More::Direct(n) => Ok(Got::Bytes(n)),
        }
    }

    /// On drop: if the rest of the body is already buffered, skip it and keep the connection.
    fn finish_from_buffer(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        match &mut self.kind {
            BodyKind::Length(left) if *left <= conn.buffered().len() as u64 => {
                conn.consume(*left as usize);
                self.finish();
            }
            BodyKind::Chunked(dec) => {
                while !conn.buffered().is_empty() && !dec.is_done() {
                    match dec.decode(conn.buffered(), usize::MAX) {
                        Ok((used, _)) if used > 0 => conn.consume(used),
                        _ => return,
                    }
                }
                if dec.is_done() {
                    self.finish();
                }
            }
            _ => {}
        }
    }
}

/// What one step of reading a body gave.
enum Got {
    /// This many bytes for the caller (0: the end of the body).
    Bytes(usize),
    /// More bytes came into the connection's buffer: look again.
    Refilled,
}

/// What a read from the socket gave.
enum More {
    /// End of stream (or the connection is gone).
    End { cancelled: bool },
    /// Bytes read straight into the caller's buffer.
    Direct(usize),
    /// Bytes read into the connection's buffer.
    Buffered,
}

impl Read for ResponseBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match self.read_body(out) {
            Ok(n) => Ok(n),
            Err(e) => {
                self.fail();
                Err(e.into())
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.finish_from_buffer();
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            BodyKind::Length(n) => format!("Length({n} left)"),
            BodyKind::Chunked(_) => "Chunked".into(),
            BodyKind::Close => "Close".into(),
            BodyKind::Done => "Done".into(),
            BodyKind::Failed => "Failed".into(),
        };
        f.debug_struct("ResponseBody")
            .field("request", &format_args!("{} {}", self.method, self.target))
            .field("kind", &kind)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    //! Every framing read through a socket, reads of every size, and what dropping a body early
    //! does with its connection.

    use std::time::Duration;

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::Transport;

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
    fn read_with_hands_over_the_whole_body_however_it_came() {
        let server = Server::unix(vec![
            vec![
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello"),
                Step::Sleep(Duration::from_millis(20)),
                send(b" world"),
                Step::Request,
                send(CHUNKED),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
                Step::Request,
                send(b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\ntoo long"),
            ],
            vec![Step::Request, send(OK)],
        ]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let read = |limit| {
            t.send(req("GET", "/x"), None)
                .unwrap()
                .read_with(limit, |body| String::from_utf8(body.to_vec()).unwrap())
        };
        // Arrived with the head, then in two parts, then chunked, then empty.
        assert_eq!(read(5).unwrap(), "hello");
        assert_eq!(read(100).unwrap(), "hello world");
        assert_eq!(read(100).unwrap(), "abc0123456789abcdef");
        assert_eq!(read(0).unwrap(), "");
        // Over the limit: refused, and the connection is not reused.
        match read(5) {
            Err(Error::Protocol(m)) => assert!(m.contains("limit of 5 bytes"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(read(100).unwrap(), "OK");
        drop(t);
        let conns: Vec<usize> = records(server).into_iter().map(|(c, _)| c).collect();
        assert_eq!(conns, [0, 0, 0, 0, 0, 1]);
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
}
