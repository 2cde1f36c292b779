//! One exchange on a connection: take a pooled connection or open one, send the request, wait
//! for the head, and build the [`Response`] or the upgraded stream; and the rule for sending a
//! request again.
//!
//! A request that can safely be sent twice (see `Request::is_replayable`) is resent once, on a
//! fresh connection, when a reused connection fails before any byte of the response arrived:
//! the server may close an idle connection just as a request goes out. Nothing else is ever
//! resent.
//!
//! Uses nothing outside the transport but `error` (and std, `log`).

use std::sync::Arc;
use std::time::Instant;

use super::body::{BodyKind, ResponseBody};
use super::conn::Conn;
use super::pool::Shared;
use super::reply::{read_head, Reply};
use super::send::{Ctx, Failure};
use super::upgrade::Upgraded;
use super::{wire, Cancel, Request, Response, Transport};
use crate::error::Result;

/// What an exchange ended with.
pub(super) enum Outcome {
    Response(Response),
    Upgraded(Upgraded),
}

impl Transport {
    /// Sends `req` (asking for an upgrade when `upgrade` is set) and waits for the head.
    pub(super) fn exchange(
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
                        self.shared.clear_idle();
                        retried = true;
                        continue;
                    }
                    return Err(f.error);
                }
            }
        }
    }
}

impl Shared {
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

#[cfg(test)]
mod tests {
    //! Which requests are refused before sending, and which are sent again after a reused
    //! connection fails.

    use std::io;

    use super::*;
    use crate::error::Error;
    use crate::fake::testing::wire::*;
    use crate::transport::Body;

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
}
