//! Waiting for the response head: the response time limit, interim `1xx` heads, and what a
//! connection that closes without a word means.
//!
//! The head is read into the connection's buffer and parsed there; bytes after it (the start
//! of the body, or of an upgraded stream) stay in the buffer for the next reader.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::io;
use std::time::{Duration, Instant};

use super::conn::{io_error, Conn};
use super::send::{Ctx, Failure};
use super::wire::{self, Head, Status};
use crate::error::Error;

/// At most this many interim (`1xx`) heads are skipped before the final one.
const MAX_INTERIM: usize = 16;

/// A head that arrived, and whether the connection must close after it.
pub(super) struct Reply {
    pub(super) head: Head,
    /// The request body was not sent in full (the server answered early).
    pub(super) must_close: bool,
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
///
/// `early` says the server answered before the request body was sent in full: the request was
/// seen, so a failure now is never one that a resend could mend.
pub(super) fn read_head(
    conn: &mut Conn,
    req: &Ctx<'_>,
    deadline: Option<Instant>,
    upgrade: bool,
    early: bool,
) -> Result<Head, Failure> {
    let mut received = !conn.buffered().is_empty();
    let mut interim = 0;
    loop {
        // Nothing buffered is nothing to parse (the usual case before the first read).
        if !conn.buffered().is_empty() {
            if let Some(head) = buffered_head(conn, req, upgrade, &mut interim)? {
                return Ok(head);
            }
        }
        let timeout = read_timeout(req, deadline, received)?;
        let read = conn.set_read_timeout(timeout).and_then(|()| conn.fill());
        match read {
            Ok(0) => return Err(ended(conn, req, received, early)),
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

/// The final head if the buffer holds it; interim heads in the buffer are counted and dropped.
fn buffered_head(
    conn: &mut Conn,
    req: &Ctx<'_>,
    upgrade: bool,
    interim: &mut usize,
) -> Result<Option<Head>, Failure> {
    loop {
        let (n, head) = match wire::parse_response_head(conn.buffered())? {
            Status::Complete(found) => found,
            Status::Partial => return Ok(None),
        };
        if head.status == 101 && !upgrade {
            return Err(Error::Protocol(format!(
                "unexpected 101 Switching Protocols in reply to {} {}",
                req.method, req.target
            ))
            .into());
        }
        let interim_head = (100..200).contains(&head.status) && head.status != 101;
        if !interim_head {
            return Ok(Some(head));
        }
        *interim += 1;
        if *interim > MAX_INTERIM {
            return Err(Error::Protocol(format!(
                "more than {MAX_INTERIM} interim responses to {} {}",
                req.method, req.target
            ))
            .into());
        }
        conn.consume(n);
    }
}

/// The read timeout for the next read of the head, or the timeout error once `deadline` has
/// passed.
fn read_timeout(
    req: &Ctx<'_>,
    deadline: Option<Instant>,
    received: bool,
) -> Result<Option<Duration>, Failure> {
    match deadline {
        None => Ok(None),
        // The whole limit for the first read: the same value every call, so the socket option
        // is not set again (the head nearly always comes in one read).
        Some(_) if !received => Ok(req.timeouts.response),
        Some(d) => match d.checked_duration_since(Instant::now()) {
            Some(left) if !left.is_zero() => Ok(Some(left)),
            _ => Err(Error::Timeout {
                what: format!("waiting for the response to {} {}", req.method, req.target),
                after: req.timeouts.response.unwrap_or_default(),
            }
            .into()),
        },
    }
}

/// The failure for a connection that ended before the whole head arrived.
fn ended(conn: &Conn, req: &Ctx<'_>, received: bool, early: bool) -> Failure {
    if conn.cancelled() {
        return Error::Cancelled.into();
    }
    if !received {
        return Failure {
            error: closed_silently(req, io::ErrorKind::UnexpectedEof),
            before_response: !early,
        };
    }
    wire::malformed(conn.buffered(), "unexpected end of stream").into()
}

#[cfg(test)]
mod tests {
    //! Replies that are refused, broken, late or garbage: each ends in the error that says so,
    //! and none panics.

    use std::io::Read;

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::{Timeouts, Transport};

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
            t.shared.clear_idle();
        }
        drop(t);
        server.finish();
    }
}
