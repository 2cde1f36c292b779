//! Writing a request: the head, then the body whole or chunked, and the early answer that stops
//! an upload the server will not read.
//!
//! A server may answer before it has read the whole body (a `404` for a missing container
//! while a tar stream goes up). Then the body is not sent further, and the answer, not the
//! broken pipe of the next write, is what the caller gets; the connection is not reused.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::io::{self, Read, Write};
use std::time::Duration;

use super::chunked::{self, LAST_CHUNK, MAX_CHUNK_HEADER};
use super::conn::{io_error, Conn};
use super::pool::Shared;
use super::wire::{self, parse_response_head, Framing, Status};
use super::{Body, Request, Timeouts};
use crate::error::Error;

/// Request bodies of at most this size go out in the same write as the head.
const COALESCE_BODY: usize = 16 * 1024;

/// How long to look for a response after the server stopped taking the request body.
const EARLY_RESPONSE_WAIT: Duration = Duration::from_secs(1);

/// The size of the chunks a streamed request body is sent in; also the most of it in memory.
const CHUNK: usize = 64 * 1024;

/// Why an exchange failed, and whether it may be tried again on a fresh connection.
pub(super) struct Failure {
    pub(super) error: Error,
    /// Nothing of a response had arrived: the request may not have been seen at all.
    pub(super) before_response: bool,
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure {
            error,
            before_response: false,
        }
    }
}

/// What error messages need to know of the request being sent.
pub(super) struct Ctx<'r> {
    pub(super) method: &'static str,
    pub(super) target: &'r str,
    pub(super) timeouts: Timeouts,
    /// A silent close would suggest a TLS daemon (a new plain-TCP connection).
    pub(super) tls_hint: bool,
}

impl Shared {
    /// Sends head and body. Returns `true` when the server answered before the body was sent
    /// in full (the connection cannot be reused then).
    pub(super) fn write_request(
        &self,
        conn: &mut Conn,
        req: &mut Request<'_>,
        head: &mut Vec<u8>,
    ) -> Result<bool, Failure> {
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
            Body::Reader(r) => write_chunked(conn, &mut **r, &ctx),
            _ => Ok(false),
        }
    }
}

fn write_failure(conn: &Conn, ctx: &Ctx<'_>, e: io::Error) -> Failure {
    Failure {
        error: io_error(e, conn.cancelled(), ctx.timeouts.idle, || {
            format!("sending the request {} {}", ctx.method, ctx.target)
        }),
        before_response: true,
    }
}

fn write_all(conn: &mut Conn, ctx: &Ctx<'_>, data: &[u8]) -> Result<(), Failure> {
    conn.stream
        .write_all(data)
        .and_then(|()| conn.stream.flush())
        .map_err(|e| write_failure(conn, ctx, e))
}

/// Writes a body after its head; if the server stops taking it, looks for an early answer.
fn write_body(conn: &mut Conn, ctx: &Ctx<'_>, data: &[u8]) -> Result<bool, Failure> {
    match write_all(conn, ctx, data) {
        Ok(()) => Ok(false),
        Err(f) => early_answer(conn, f),
    }
}

/// After a failed body write: if the server already answered (e.g. 404 before reading an
/// upload) that answer is what the caller needs, so report it rather than the broken pipe.
fn early_answer(conn: &mut Conn, mut failure: Failure) -> Result<bool, Failure> {
    if conn.cancelled() || failure.error.is_timeout() {
        return Err(failure);
    }
    if conn.set_read_timeout(Some(EARLY_RESPONSE_WAIT)).is_err() {
        return Err(failure);
    }
    loop {
        match parse_response_head(conn.buffered()) {
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
fn write_chunked(
    conn: &mut Conn,
    reader: &mut (dyn Read + Send),
    ctx: &Ctx<'_>,
) -> Result<bool, Failure> {
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

#[cfg(test)]
mod tests {
    //! The exact bytes of request heads and bodies, and an upload cut short by an early answer.

    use std::time::Instant;

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::{Host, Transport};

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
}
