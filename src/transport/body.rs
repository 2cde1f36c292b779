//! Response bodies (length-delimited, chunked, close-delimited, none) and chunked request bodies.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::Duration;

use super::chunked::{self, ChunkedDecoder, LAST_CHUNK, MAX_CHUNK_HEADER};
use super::conn::{io_error, Conn};
use super::wire::{parse_response_head, Head, Status};
use super::{early_answer, write_all, Ctx, Failure, Shared};
use crate::error::{Error, Result};

/// The size of the chunks a streamed request body is sent in; also the most of it in memory.
const CHUNK: usize = 64 * 1024;

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
        if head.header("Transfer-Encoding").is_some() {
            let last = head
                .headers()
                .filter(|(n, _)| n.eq_ignore_ascii_case("Transfer-Encoding"))
                .flat_map(|(_, v)| v.split(','))
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .last();
            // A body whose last coding is not chunked can only end with the connection.
            return Ok(match last {
                Some(t) if t.eq_ignore_ascii_case("chunked") => {
                    BodyKind::Chunked(ChunkedDecoder::new())
                }
                _ => BodyKind::Close,
            });
        }
        let mut length: Option<u64> = None;
        for (_, value) in head
            .headers()
            .filter(|(n, _)| n.eq_ignore_ascii_case("Content-Length"))
        {
            for part in value.split(',') {
                let part = part.trim();
                let n = (!part.is_empty()
                    && part.len() <= 19
                    && part.bytes().all(|b| b.is_ascii_digit()))
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
        }
        Ok(match length {
            Some(0) => BodyKind::Done,
            Some(n) => BodyKind::Length(n),
            None => BodyKind::Close,
        })
    }
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

    /// Reads the whole body, refusing more than `limit` bytes.
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
        let cap = known.map_or(0, |n| n as usize).min(limit);
        let mut out = Vec::with_capacity(cap);
        (&mut self)
            .take(limit as u64 + 1)
            .read_to_end(&mut out)
            .map_err(Error::from)?;
        if out.len() > limit {
            return Err(self.too_long(limit));
        }
        Ok(out)
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
            match &mut self.kind {
                BodyKind::Done => return Ok(0),
                BodyKind::Failed => {
                    return Err(Error::Io(io::Error::other(
                        "the response body cannot be read after an earlier error",
                    )))
                }
                BodyKind::Length(left) => {
                    let want = usize::try_from(*left).unwrap_or(usize::MAX).min(out.len());
                    let Some(conn) = self.conn.as_mut() else {
                        return Ok(0);
                    };
                    let mut n = conn.take_buffered(&mut out[..want]);
                    if n == 0 {
                        match self.read_more(&mut out[..want])? {
                            More::End { cancelled } => return Err(self.truncated(cancelled)),
                            More::Buffered => continue,
                            More::Direct(direct) => n = direct,
                        }
                    }
                    if let BodyKind::Length(left) = &mut self.kind {
                        *left -= n as u64;
                        if *left == 0 {
                            self.finish();
                        }
                    }
                    return Ok(n);
                }
                BodyKind::Chunked(dec) => {
                    let Some(conn) = self.conn.as_mut() else {
                        return Ok(0);
                    };
                    // Hand out everything buffered, across chunk boundaries, until `out` is
                    // full: one read of the socket then serves several small chunks.
                    let mut n = 0;
                    while n < out.len() && !conn.buffered().is_empty() {
                        let (used, data) = match dec.decode(conn.buffered(), out.len() - n) {
                            Ok(step) => step,
                            Err(e) if n == 0 => return Err(e),
                            // The decoder stays failed: the next read reports the error, and
                            // the data before the bad framing is not lost.
                            Err(_) => return Ok(n),
                        };
                        let len = data.len();
                        out[n..n + len].copy_from_slice(&conn.buffered()[data]);
                        conn.consume(used);
                        n += len;
                        if dec.is_done() {
                            self.finish();
                            return Ok(n);
                        }
                        if used == 0 {
                            break;
                        }
                    }
                    if n > 0 {
                        // Take the framing that follows too, so the connection is released as
                        // soon as the last data byte is handed out. An error there waits for
                        // the next read.
                        if let Ok((framing, _)) = dec.decode(conn.buffered(), 0) {
                            conn.consume(framing);
                        }
                        if dec.is_done() {
                            self.finish();
                        }
                        return Ok(n);
                    }
                    // Nothing buffered. A chunk whose rest fills `out` is read straight into
                    // it (no copy); otherwise one read into the buffer takes the rest of the
                    // chunk, the framing and the chunks after it at once.
                    let direct = dec.data_remaining();
                    let target = if direct >= out.len() as u64 {
                        &mut out[..]
                    } else {
                        conn.reserve_for_stream(out.len());
                        &mut [][..]
                    };
                    match self.read_more(target)? {
                        More::End { cancelled } => return Err(self.truncated(cancelled)),
                        More::Buffered => continue,
                        More::Direct(n) => {
                            if let BodyKind::Chunked(dec) = &mut self.kind {
                                dec.consume_data(n);
                            }
                            return Ok(n);
                        }
                    }
                }
                BodyKind::Close => {
                    let Some(conn) = self.conn.as_mut() else {
                        return Ok(0);
                    };
                    let n = conn.take_buffered(out);
                    if n > 0 {
                        return Ok(n);
                    }
                    match self.read_more(out)? {
                        More::End { cancelled: true } => return Err(Error::Cancelled),
                        More::End { cancelled: false } => {
                            self.finish();
                            return Ok(0);
                        }
                        More::Buffered => continue,
                        More::Direct(n) => return Ok(n),
                    }
                }
            }
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

/// Reads from `reader` until `buf` is full or the reader ends; returns `(filled, ended)`.
fn fill_chunk(reader: &mut (dyn Read + Send), buf: &mut [u8]) -> io::Result<(usize, bool)> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => return Ok((filled, true)),
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok((filled, false))
}

/// Streams `reader` as a chunked body, one write per chunk (the last one carries the end).
///
/// Returns `true` when the server answered before the whole body was sent: the upload stops
/// there and the caller reads that answer (the connection is not reused).
pub(crate) fn write_chunked(
    conn: &mut Conn,
    reader: &mut (dyn Read + Send),
    ctx: &Ctx<'_>,
) -> std::result::Result<bool, Failure> {
    let mut buf = vec![0u8; MAX_CHUNK_HEADER + CHUNK + 2 + LAST_CHUNK.len()];
    loop {
        let (n, ended) = fill_chunk(reader, &mut buf[MAX_CHUNK_HEADER..MAX_CHUNK_HEADER + CHUNK])
            .map_err(|e| Failure::from(Error::from(e)))?;
        if conn.cancelled() {
            return Err(Error::Cancelled.into());
        }
        let mut start = MAX_CHUNK_HEADER;
        let mut end = MAX_CHUNK_HEADER;
        if n > 0 {
            start = chunked::write_chunk_header(&mut buf[..MAX_CHUNK_HEADER], n).unwrap_or(0);
            end += n;
            buf[end..end + 2].copy_from_slice(b"\r\n");
            end += 2;
        }
        if ended {
            buf[end..end + LAST_CHUNK.len()].copy_from_slice(LAST_CHUNK);
            end += LAST_CHUNK.len();
        }
        if let Err(f) = write_all(conn, ctx, &buf[start..end]) {
            return early_answer(conn, f);
        }
        if ended {
            return Ok(false);
        }
        // A final answer while the upload goes on means the server will not read the rest
        // (e.g. a 404 for a missing container): stop sending and read it.
        if let Ok(Some(got)) = conn.poll_fill() {
            if got > 0 && answered(conn) {
                return Ok(true);
            }
        }
    }
}

/// Whether the bytes received during an upload hold a final answer (or garbage, which the
/// head reader reports); interim `1xx` heads are dropped and the upload goes on.
fn answered(conn: &mut Conn) -> bool {
    loop {
        match parse_response_head(conn.buffered()) {
            Ok(Status::Complete((n, head)))
                if (100..200).contains(&head.status) && head.status != 101 =>
            {
                conn.consume(n)
            }
            Ok(Status::Complete(_)) | Err(_) => return true,
            Ok(Status::Partial) => return false,
        }
    }
}
