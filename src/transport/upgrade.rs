//! The raw duplex stream after `101 Switching Protocols` (`POST /containers/{id}/attach`): the
//! [`Upgraded`] stream, its read and write halves, and the [`StdinWriter`] trait with its
//! [`ShutdownHandle`], through which a run half-closes or ends an attached container's stream.
//!
//! Uses nothing outside the transport but `error` (and std).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::Arc;
use std::time::Duration;

use super::cancel::Registration;
use super::conn::{io_error, Conn, Socket, Stream};
use crate::error::Error;

/// An upgraded connection: a raw duplex byte stream.
///
/// Bytes that arrived together with the `101` head are kept and read first. Split it to read on
/// one thread while writing on another.
pub struct Upgraded {
    reader: UpgradedReader,
    writer: UpgradedWriter,
}

/// The read half of an [`Upgraded`] stream (the attached container's output).
pub struct UpgradedReader {
    half: ReadHalf,
    leftover: Vec<u8>,
    pos: usize,
    timeout: Option<Duration>,
    common: Arc<Common>,
}

/// The write half of an [`Upgraded`] stream (the attached container's input).
///
/// [`close_write`](StdinWriter::close_write) half-closes it: `shutdown(Write)`
/// on a plain socket, a TLS `close_notify` over TLS; the read half keeps working.
pub struct UpgradedWriter {
    half: WriteHalf,
    timeout: Option<Duration>,
    common: Arc<Common>,
}

/// What both halves share: the request (for messages), the cancel watch, and the socket
/// (for [`shutdown_handle`](StdinWriter::shutdown_handle)).
struct Common {
    label: String,
    watch: Option<Registration>,
    socket: Arc<Socket>,
}

impl Common {
    fn cancelled(&self) -> bool {
        self.watch.as_ref().is_some_and(Registration::is_cancelled)
    }
}

enum ReadHalf {
    Plain(Arc<Socket>),
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsReader),
}

enum WriteHalf {
    Plain(Arc<Socket>),
    #[cfg(feature = "tls")]
    Tls(super::tls::TlsWriter),
}

impl Upgraded {
    /// Takes over a connection whose `101` head has been consumed; `label` names the request.
    pub(crate) fn new(conn: Conn, label: String) -> Upgraded {
        let (stream, leftover, watch) = conn.into_parts();
        // The stream lives as long as the container runs: no limits unless the caller sets them.
        // (Failing to clear them leaves the request's limits, which is no reason to fail.)
        let _ = stream.socket().set_read_timeout(None);
        let _ = stream.socket().set_write_timeout(None);
        let socket = Arc::clone(stream.socket());
        let (read, write) = match stream {
            Stream::Plain(socket) => (
                ReadHalf::Plain(Arc::clone(&socket)),
                WriteHalf::Plain(socket),
            ),
            #[cfg(feature = "tls")]
            Stream::Tls(tls) => {
                let (r, w) = tls.split();
                (ReadHalf::Tls(r), WriteHalf::Tls(w))
            }
        };
        let common = Arc::new(Common {
            label,
            watch,
            socket,
        });
        Upgraded {
            reader: UpgradedReader {
                half: read,
                leftover,
                pos: 0,
                timeout: None,
                common: Arc::clone(&common),
            },
            writer: UpgradedWriter {
                half: write,
                timeout: None,
                common,
            },
        }
    }

    /// The two halves; the connection closes when both are dropped.
    pub fn split(self) -> (UpgradedReader, UpgradedWriter) {
        (self.reader, self.writer)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("request", &self.reader.common.label)
            .finish()
    }
}

impl UpgradedReader {
    fn socket(&self) -> &Socket {
        match &self.half {
            ReadHalf::Plain(s) => s,
            #[cfg(feature = "tls")]
            ReadHalf::Tls(t) => t.socket(),
        }
    }

    /// Limits how long one read may wait (`None`, the default, waits as long as it takes).
    ///
    /// A read that times out fails with an [`Error::Timeout`] inside the `io::Error`.
    pub fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket()
            .set_read_timeout(timeout.map(|d| d.max(Duration::from_nanos(1))))?;
        self.timeout = timeout;
        Ok(())
    }
}

impl Read for UpgradedReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.pos < self.leftover.len() {
            let n = out.len().min(self.leftover.len() - self.pos);
            out[..n].copy_from_slice(&self.leftover[self.pos..self.pos + n]);
            self.pos += n;
            if self.pos == self.leftover.len() {
                self.leftover = Vec::new();
                self.pos = 0;
            }
            return Ok(n);
        }
        let res = match &mut self.half {
            ReadHalf::Plain(s) => (&**s).read(out),
            #[cfg(feature = "tls")]
            ReadHalf::Tls(t) => t.read(out),
        };
        let cancelled = self.common.cancelled();
        match res {
            Ok(0) if cancelled && !out.is_empty() => Err(Error::Cancelled.into()),
            Ok(n) => Ok(n),
            Err(e) => Err(io_error(e, cancelled, self.timeout, || {
                format!("reading the upgraded stream of {}", self.common.label)
            })
            .into()),
        }
    }
}

impl fmt::Debug for UpgradedReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedReader")
            .field("request", &self.common.label)
            .field("buffered", &(self.leftover.len() - self.pos))
            .finish()
    }
}

impl UpgradedWriter {
    fn socket(&self) -> &Socket {
        match &self.half {
            WriteHalf::Plain(s) => s,
            #[cfg(feature = "tls")]
            WriteHalf::Tls(t) => t.socket(),
        }
    }

    /// Limits how long one write may block (`None`, the default, waits as long as it takes).
    pub fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket()
            .set_write_timeout(timeout.map(|d| d.max(Duration::from_nanos(1))))?;
        self.timeout = timeout;
        Ok(())
    }

    fn map(&self, e: io::Error) -> io::Error {
        io_error(e, self.common.cancelled(), self.timeout, || {
            format!("writing the upgraded stream of {}", self.common.label)
        })
        .into()
    }
}

impl Write for UpgradedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let res = match &mut self.half {
            WriteHalf::Plain(s) => (&**s).write(data),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(t) => t.write(data),
        };
        res.map_err(|e| self.map(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        let res = match &mut self.half {
            WriteHalf::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(t) => t.flush(),
        };
        res.map_err(|e| self.map(e))
    }
}

impl StdinWriter for UpgradedWriter {
    /// Tells the peer no more input is coming while its output keeps flowing.
    fn close_write(&mut self) -> io::Result<()> {
        let res = match &mut self.half {
            WriteHalf::Plain(s) => s.shutdown(Shutdown::Write),
            #[cfg(feature = "tls")]
            WriteHalf::Tls(t) => t.close_write(),
        };
        res.map_err(|e| self.map(e))
    }

    /// Shuts the socket down both ways (over TLS, the socket under it, without a close_notify):
    /// both halves' blocked calls return at once.
    fn shutdown_handle(&self) -> Option<ShutdownHandle> {
        let socket = Arc::clone(&self.common.socket);
        Some(ShutdownHandle::new(move || {
            // Failing means the socket is closed already, which is what was asked.
            let _ = socket.shutdown(Shutdown::Both);
        }))
    }
}

impl fmt::Debug for UpgradedWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpgradedWriter")
            .field("request", &self.common.label)
            .finish()
    }
}

/// The write side of an attached connection: stdin goes here, then [`close_write`](StdinWriter::close_write).
pub trait StdinWriter: Write + Send {
    /// Half-closes the connection (`shutdown(SHUT_WR)`; TLS sends close_notify) so the container
    /// sees the end of its standard input while its output keeps flowing.
    fn close_write(&mut self) -> io::Result<()>;

    /// A handle that ends the whole connection, both ways, from any thread.
    ///
    /// A read blocked on the output half then returns (end of stream or an error) and a write
    /// blocked on this half fails, whatever the daemon does. This is how a run stops waiting
    /// for a container that cannot be killed, or for a daemon that keeps the stream open after
    /// the container exited.
    ///
    /// The default is `None`, for connections that cannot be ended from outside: a run over
    /// such a connection can only wait for the daemon to end it.
    fn shutdown_handle(&self) -> Option<ShutdownHandle> {
        None
    }
}

/// Ends an attached connection from any thread; see [`StdinWriter::shutdown_handle`].
///
/// Shutting down is idempotent and never fails (a connection already closed stays closed).
///
/// # Example
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use s2i_docker::ShutdownHandle;
///
/// let closed = Arc::new(AtomicBool::new(false));
/// let flag = closed.clone();
/// let handle = ShutdownHandle::new(move || flag.store(true, Ordering::SeqCst));
/// handle.clone().shutdown();
/// assert!(closed.load(Ordering::SeqCst));
/// ```
#[derive(Clone)]
pub struct ShutdownHandle(Arc<dyn Fn() + Send + Sync>);

impl ShutdownHandle {
    /// A handle that calls `shutdown` (which must be safe to call more than once).
    pub fn new(shutdown: impl Fn() + Send + Sync + 'static) -> ShutdownHandle {
        ShutdownHandle(Arc::new(shutdown))
    }

    /// Shuts the connection down both ways.
    pub fn shutdown(&self) {
        (self.0)();
    }
}

impl std::fmt::Debug for ShutdownHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ShutdownHandle { .. }")
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::super::{Body, Request, Transport, Upgrade};
    use super::*;
    use crate::fake::testing::wire::*;
    use StdinWriter;

    #[test]
    fn a_shutdown_handle_ends_both_halves_from_another_thread() {
        // The server never writes and never closes until the client does.
        let server = Server::unix(vec![vec![
            Step::Head,
            send(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\n"),
            Step::ReadToEnd,
            Step::Close,
        ]]);
        let t = Transport::new(server.host.clone(), None).unwrap();
        let req = Request {
            method: "POST",
            target: "/attach".into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeouts: timeouts(),
        };
        let Upgrade::Switched(up) = t.upgrade(req, None).unwrap() else {
            panic!("not upgraded")
        };
        let (mut rd, mut wr) = up.split();
        let handle = wr.shutdown_handle().expect("a socket can be shut down");
        let started = Instant::now();
        let closer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            handle.shutdown();
            // Again: nothing happens, nothing fails.
            handle.shutdown();
        });
        let mut got = Vec::new();
        rd.read_to_end(&mut got).unwrap();
        closer.join().unwrap();
        assert!(got.is_empty());
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(wr.write_all(b"late").is_err());
        drop((rd, wr));
        drop(t);
        server.finish();
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
}
