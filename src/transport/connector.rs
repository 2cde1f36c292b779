//! Connections that are not sockets: a [`Connector`] hook under a [`Transport`], and an
//! in-memory duplex [`pipe`] to put behind it.
//!
//! This is how an in-process server (the `fake` feature's `FakeEngine`) is reached without a
//! socket: [`Transport::with_connector`] opens every connection through the connector, and
//! everything above the bytes (framing, pooling, stale checks, resending, time limits,
//! cancelling, upgrades) is the transport's own code, exactly as over a Unix socket.
//!
//! The shapes here may change in a minor release.
//!
//! A [`Connection`] is used the way the transport uses a socket: shared between the request in
//! flight, a [`Cancel`](super::Cancel) watching it and the two halves of an upgraded stream, so
//! every method takes `&self`. It must behave like a stream socket in these respects:
//!
//! - `read` returns `Ok(0)` once the peer has closed its sending side (or this side was shut
//!   down for reading), and otherwise blocks until at least one byte is there;
//! - with a read (write) timeout set, a read (write) that waits longer fails with
//!   [`io::ErrorKind::WouldBlock`] or [`io::ErrorKind::TimedOut`], which the transport reports
//!   as [`Error::Timeout`](crate::error::Error::Timeout);
//! - in non-blocking mode a read with nothing to return fails with
//!   [`io::ErrorKind::WouldBlock`] at once (how an idle pooled connection is checked);
//! - [`shutdown`](Connection::shutdown) with [`Shutdown::Both`] wakes a blocked read or write
//!   on another thread (how a [`Cancel`](super::Cancel) aborts a call), and
//!   [`Shutdown::Write`] tells the peer no more bytes are coming while reads go on (how an
//!   attached container's standard input is closed).
//!
//! Uses nothing outside the transport (only std).
//!
//! ```
//! use std::io::{Read, Write};
//! use std::sync::Arc;
//! use s2i_docker::transport::connector::{pipe, Connection, Connector, PipeEnd};
//! use s2i_docker::transport::{Body, Host, Request, Timeouts, Transport};
//!
//! /// Answers every request on a connection with `OK`, from a thread of its own.
//! struct Hello;
//!
//! impl Connector for Hello {
//!     fn connect(&self) -> std::io::Result<Box<dyn Connection>> {
//!         let (client, server) = pipe();
//!         std::thread::spawn(move || {
//!             let mut server: PipeEnd = server;
//!             let mut buf = [0u8; 4096];
//!             let mut seen = Vec::new();
//!             while let Ok(n @ 1..) = server.read(&mut buf) {
//!                 seen.extend_from_slice(&buf[..n]);
//!                 while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
//!                     seen.drain(..end + 4);
//!                     let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";
//!                     if server.write_all(reply).is_err() {
//!                         return;
//!                     }
//!                 }
//!             }
//!         });
//!         Ok(Box::new(client))
//!     }
//! }
//!
//! let host = Host::Unix("/in-memory/hello.sock".into());
//! let transport = Transport::with_connector(host, Arc::new(Hello));
//! let request = Request {
//!     method: "GET",
//!     target: "/_ping".into(),
//!     headers: Vec::new(),
//!     body: Body::Empty,
//!     timeouts: Timeouts { connect: std::time::Duration::from_secs(1), response: None, idle: None },
//! };
//! let reply = transport.send(request, None)?;
//! assert_eq!(reply.read_to_vec(16)?, b"OK");
//! # Ok::<(), s2i_docker::Error>(())
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::pool::Shared;
use super::{Host, Transport};

/// A connected byte stream the transport can use in place of a socket; see the
/// [module documentation](self) for the behaviour it needs.
pub trait Connection: Send + Sync {
    /// Reads what has arrived, as `Read::read` on a socket: `Ok(0)` at the end of the stream.
    fn read(&self, buf: &mut [u8]) -> io::Result<usize>;

    /// Writes some of `buf`, as `Write::write` on a socket.
    fn write(&self, buf: &[u8]) -> io::Result<usize>;

    /// Shuts down reading, writing or both, waking any read or write blocked on them.
    fn shutdown(&self, how: Shutdown) -> io::Result<()>;

    /// Limits how long one read waits (`None`: as long as it takes).
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Limits how long one write waits (`None`: as long as it takes).
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;

    /// Switches non-blocking mode on or off.
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

/// Opens connections for a [`Transport`] made with [`Transport::with_connector`].
pub trait Connector: Send + Sync {
    /// A new connection to the server.
    ///
    /// # Errors
    ///
    /// Whatever keeps the connection from being made; the transport reports it as
    /// [`Error::Connect`](crate::error::Error::Connect), classified by its kind as a socket's
    /// would be (`ConnectionRefused`: the engine is not running; `NotFound`: no such socket).
    fn connect(&self) -> io::Result<Box<dyn Connection>>;

    /// A new connection, established within `timeout` where the connector can limit that (the
    /// transport passes each request's [`Timeouts::connect`](super::Timeouts::connect)).
    ///
    /// The default ignores the limit and calls [`connect`](Connector::connect).
    ///
    /// # Errors
    ///
    /// As [`connect`](Connector::connect).
    fn connect_within(&self, timeout: Duration) -> io::Result<Box<dyn Connection>> {
        let _ = timeout;
        self.connect()
    }
}

impl Transport {
    /// A transport whose connections all come from `connector` instead of a socket.
    ///
    /// `host` only names the server: it is what error messages and [`Transport::host`] show,
    /// and a `tcp://` host's base path is still put before every request target. No TLS is
    /// spoken over such connections.
    pub fn with_connector(host: Host, connector: Arc<dyn Connector>) -> Transport {
        Transport {
            shared: Arc::new(Shared::new(host, Some(connector))),
        }
    }
}

/// How many bytes one direction of a [`pipe`] holds before a write waits for the reader, like
/// a socket's buffer.
pub const PIPE_CAPACITY: usize = 256 * 1024;

/// One direction of a pipe.
#[derive(Default)]
struct Buffer {
    data: VecDeque<u8>,
    /// The writer is done (shut down for writing, or dropped): reads end once `data` is empty.
    writer_closed: bool,
    /// The reader is gone (shut down for reading, or dropped): writes fail, and so do reads.
    reader_closed: bool,
}

#[derive(Default)]
struct Direction {
    buffer: Mutex<Buffer>,
    /// Signalled on every change, for the blocked reader and writer alike.
    changed: Condvar,
}

impl Direction {
    fn lock(&self) -> MutexGuard<'_, Buffer> {
        // The buffer is consistent after every statement; a panicking holder leaves it usable.
        self.buffer.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits for a change, until `deadline` (`None`: for ever). `Err` when it has passed.
    fn wait<'a>(
        &self,
        guard: MutexGuard<'a, Buffer>,
        deadline: Option<Instant>,
    ) -> Result<MutexGuard<'a, Buffer>, MutexGuard<'a, Buffer>> {
        match deadline {
            None => Ok(self.changed.wait(guard).unwrap_or_else(|p| p.into_inner())),
            Some(d) => {
                let Some(left) = d
                    .checked_duration_since(Instant::now())
                    .filter(|l| !l.is_zero())
                else {
                    return Err(guard);
                };
                let (guard, _) = self
                    .changed
                    .wait_timeout(guard, left)
                    .unwrap_or_else(|p| p.into_inner());
                Ok(guard)
            }
        }
    }
}

/// One end of an in-memory duplex byte stream made by [`pipe`].
///
/// It behaves like a connected Unix stream socket (see the [module documentation](self)):
/// bounded buffers ([`PIPE_CAPACITY`] each way), blocking reads and writes with optional
/// timeouts, non-blocking mode, half-close and shutdown. Dropping an end closes it both ways:
/// the other end reads to the end of what was sent, then `Ok(0)`, and its writes fail with
/// [`io::ErrorKind::BrokenPipe`].
///
/// Use it through [`Connection`] (`&self`), or through `Read`/`Write` on `PipeEnd` or
/// `&PipeEnd`, so that one thread may read while another writes.
pub struct PipeEnd {
    /// What this end reads.
    incoming: Arc<Direction>,
    /// What this end writes.
    outgoing: Arc<Direction>,
    read_timeout: Mutex<Option<Duration>>,
    write_timeout: Mutex<Option<Duration>>,
    nonblocking: AtomicBool,
}

/// A connected pair of [`PipeEnd`]s: what one writes, the other reads.
pub fn pipe() -> (PipeEnd, PipeEnd) {
    let a = Arc::new(Direction::default());
    let b = Arc::new(Direction::default());
    let end = |incoming: &Arc<Direction>, outgoing: &Arc<Direction>| PipeEnd {
        incoming: Arc::clone(incoming),
        outgoing: Arc::clone(outgoing),
        read_timeout: Mutex::new(None),
        write_timeout: Mutex::new(None),
        nonblocking: AtomicBool::new(false),
    };
    (end(&a, &b), end(&b, &a))
}

fn timed_out() -> io::Error {
    // What a socket with SO_RCVTIMEO/SO_SNDTIMEO reports on Linux.
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "Resource temporarily unavailable",
    )
}

fn broken_pipe() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "Broken pipe")
}

fn timeout_value(slot: &Mutex<Option<Duration>>) -> Option<Duration> {
    *slot.lock().unwrap_or_else(|p| p.into_inner())
}

fn set_timeout_value(slot: &Mutex<Option<Duration>>, d: Option<Duration>) -> io::Result<()> {
    if d.is_some_and(|d| d.is_zero()) {
        // As `UnixStream::set_read_timeout` does.
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "cannot set a 0 duration timeout",
        ));
    }
    *slot.lock().unwrap_or_else(|p| p.into_inner()) = d;
    Ok(())
}

impl PipeEnd {
    fn deadline(&self, slot: &Mutex<Option<Duration>>) -> Option<Instant> {
        timeout_value(slot).and_then(|d| Instant::now().checked_add(d))
    }

    fn read_bytes(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.deadline(&self.read_timeout);
        let mut b = self.incoming.lock();
        loop {
            if b.reader_closed {
                return Ok(0);
            }
            if !b.data.is_empty() {
                let n = buf.len().min(b.data.len());
                for (slot, byte) in buf.iter_mut().zip(b.data.drain(..n)) {
                    *slot = byte;
                }
                drop(b);
                self.incoming.changed.notify_all();
                return Ok(n);
            }
            if b.writer_closed {
                return Ok(0);
            }
            if self.nonblocking.load(Ordering::SeqCst) {
                return Err(timed_out());
            }
            b = self.incoming.wait(b, deadline).map_err(|_| timed_out())?;
        }
    }

    fn write_bytes(&self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let deadline = self.deadline(&self.write_timeout);
        let mut b = self.outgoing.lock();
        loop {
            if b.writer_closed || b.reader_closed {
                return Err(broken_pipe());
            }
            let room = PIPE_CAPACITY.saturating_sub(b.data.len());
            if room > 0 {
                let n = room.min(buf.len());
                b.data.extend(&buf[..n]);
                drop(b);
                self.outgoing.changed.notify_all();
                return Ok(n);
            }
            if self.nonblocking.load(Ordering::SeqCst) {
                return Err(timed_out());
            }
            b = self.outgoing.wait(b, deadline).map_err(|_| timed_out())?;
        }
    }

    fn close_reading(&self) {
        let mut b = self.incoming.lock();
        b.reader_closed = true;
        b.data.clear();
        drop(b);
        self.incoming.changed.notify_all();
    }

    fn close_writing(&self) {
        self.outgoing.lock().writer_closed = true;
        self.outgoing.changed.notify_all();
    }
}

impl Connection for PipeEnd {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_bytes(buf)
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf)
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.close_reading();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.close_writing();
        }
        Ok(())
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout_value(&self.read_timeout, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        set_timeout_value(&self.write_timeout, timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.nonblocking.store(nonblocking, Ordering::SeqCst);
        Ok(())
    }
}

impl Read for &PipeEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_bytes(buf)
    }
}

impl Write for &PipeEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Read for PipeEnd {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.read_bytes(buf)
    }
}

impl Write for PipeEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.write_bytes(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        self.close_reading();
        self.close_writing();
    }
}

impl fmt::Debug for PipeEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PipeEnd")
            .field("unread", &self.incoming.lock().data.len())
            .field("unsent", &self.outgoing.lock().data.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{ConnectFailure, Error};
    use crate::transport::StdinWriter;
    use crate::transport::{Body, Cancel, Request, Timeouts, Upgrade};
    use std::sync::atomic::AtomicUsize;
    use std::thread::JoinHandle;

    type Script = dyn Fn(usize, PipeEnd) + Send + Sync;

    /// A connector that serves each connection with `script` on a thread of its own.
    struct Scripted {
        script: Arc<Script>,
        opened: AtomicUsize,
        threads: Mutex<Vec<JoinHandle<()>>>,
        refuse: AtomicBool,
    }

    impl Scripted {
        fn new(script: impl Fn(usize, PipeEnd) + Send + Sync + 'static) -> Arc<Scripted> {
            Arc::new(Scripted {
                script: Arc::new(script),
                opened: AtomicUsize::new(0),
                threads: Mutex::new(Vec::new()),
                refuse: AtomicBool::new(false),
            })
        }

        fn opened(&self) -> usize {
            self.opened.load(Ordering::SeqCst)
        }

        fn join(&self) {
            for t in std::mem::take(&mut *self.threads.lock().unwrap()) {
                t.join().unwrap();
            }
        }
    }

    impl Connector for Scripted {
        fn connect(&self) -> io::Result<Box<dyn Connection>> {
            if self.refuse.load(Ordering::SeqCst) {
                return Err(io::ErrorKind::ConnectionRefused.into());
            }
            let (client, server) = pipe();
            let index = self.opened.fetch_add(1, Ordering::SeqCst);
            let script = Arc::clone(&self.script);
            let t = std::thread::spawn(move || script(index, server));
            self.threads.lock().unwrap().push(t);
            Ok(Box::new(client))
        }
    }

    /// Reads one request head (the tests send no bodies); `false` at the end of the stream.
    fn read_head(end: &PipeEnd) -> bool {
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match Connection::read(end, &mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return false,
            }
        }
        true
    }

    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK";

    fn req(method: &'static str, target: &str) -> Request<'static> {
        Request {
            method,
            target: target.into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeouts: Timeouts {
                connect: Duration::from_secs(1),
                response: Some(Duration::from_secs(5)),
                idle: Some(Duration::from_secs(5)),
            },
        }
    }

    fn host() -> Host {
        Host::Unix("/in-memory/test.sock".into())
    }

    #[test]
    fn pipe_reads_writes_half_closes_and_drops() {
        let (mut a, mut b) = pipe();
        a.write_all(b"abc").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        // Half-close: the peer reads what was sent, then the end; the other way still works.
        a.write_all(b"de").unwrap();
        Connection::shutdown(&a, Shutdown::Write).unwrap();
        assert!(matches!(a.write(b"x"), Err(e) if e.kind() == io::ErrorKind::BrokenPipe));
        let mut rest = Vec::new();
        b.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"de");
        b.write_all(b"back").unwrap();
        assert_eq!(a.read(&mut buf).unwrap(), 4);
        // Dropped: the survivor reads the end, and its writes fail.
        drop(b);
        assert_eq!(a.read(&mut buf).unwrap(), 0);
        let e = Connection::write(&a, b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
        assert_eq!(a.read(&mut []).unwrap(), 0);
    }

    #[test]
    fn pipe_timeouts_nonblocking_backpressure_and_shutdown() {
        let (a, b) = pipe();
        let mut buf = [0u8; 4];
        a.set_read_timeout(Some(Duration::from_millis(30))).unwrap();
        let start = Instant::now();
        let e = Connection::read(&a, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert!(a.set_read_timeout(Some(Duration::ZERO)).is_err());

        a.set_nonblocking(true).unwrap();
        let start = Instant::now();
        let e = Connection::read(&a, &mut buf).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        assert!(start.elapsed() < Duration::from_millis(30));
        a.set_nonblocking(false).unwrap();
        a.set_read_timeout(None).unwrap();

        // A full buffer makes writes wait for the reader.
        let big = vec![7u8; PIPE_CAPACITY + 10];
        assert_eq!(Connection::write(&b, &big).unwrap(), PIPE_CAPACITY);
        b.set_write_timeout(Some(Duration::from_millis(20)))
            .unwrap();
        let e = Connection::write(&b, &big[PIPE_CAPACITY..]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        b.set_write_timeout(None).unwrap();
        let b = Arc::new(b);
        let writer = {
            let b = Arc::clone(&b);
            std::thread::spawn(move || (&*b).write_all(&[1u8; 10]))
        };
        let mut got = vec![0u8; PIPE_CAPACITY + 10];
        (&a).read_exact(&mut got).unwrap();
        writer.join().unwrap().unwrap();
        assert!(got[..PIPE_CAPACITY].iter().all(|&x| x == 7));
        assert_eq!(&got[PIPE_CAPACITY..], &[1u8; 10]);

        // Shutting down wakes a read blocked on another thread.
        let a = Arc::new(a);
        let reader = {
            let a = Arc::clone(&a);
            std::thread::spawn(move || Connection::read(&*a, &mut [0u8; 4]))
        };
        std::thread::sleep(Duration::from_millis(30));
        a.shutdown(Shutdown::Both).unwrap();
        assert_eq!(reader.join().unwrap().unwrap(), 0);
        let e = Connection::write(&*b, b"x").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn a_transport_over_a_connector_pools_and_replaces_stale_connections() {
        // The first connection answers twice and then closes while idle.
        let server = Scripted::new(|index, end| {
            let answers = if index == 0 { 2 } else { usize::MAX };
            for _ in 0..answers {
                if !read_head(&end) || (&end).write_all(OK).is_err() {
                    return;
                }
            }
        });
        let t = Transport::with_connector(host(), server.clone());
        assert_eq!(t.host(), &host());
        for _ in 0..2 {
            let r = t.send(req("GET", "/_ping"), None).unwrap();
            assert_eq!(r.read_to_vec(10).unwrap(), b"OK");
        }
        assert_eq!(server.opened(), 1, "kept alive");
        // Wait for the server's close, which the pool notices before the next request.
        std::thread::sleep(Duration::from_millis(20));
        let r = t.send(req("GET", "/_ping"), None).unwrap();
        assert_eq!(r.read_to_vec(10).unwrap(), b"OK");
        assert_eq!(server.opened(), 2);
        drop(t);
        server.join();
    }

    #[test]
    fn a_transport_over_a_connector_times_out_cancels_and_reports_refusals() {
        // The server reads requests and never answers, until the client goes away.
        let server = Scripted::new(|_, end| while read_head(&end) {});
        let t = Arc::new(Transport::with_connector(host(), server.clone()));
        let mut r = req("GET", "/slow");
        r.timeouts.response = Some(Duration::from_millis(50));
        let start = Instant::now();
        match t.send(r, None) {
            Err(Error::Timeout { after, what }) => {
                assert_eq!(after, Duration::from_millis(50));
                assert!(what.contains("GET /slow"), "{what}");
            }
            other => panic!("{other:?}"),
        }
        assert!(start.elapsed() < Duration::from_secs(2));

        let cancel = Cancel::new();
        let waiting = {
            let (t, cancel) = (Arc::clone(&t), cancel.clone());
            std::thread::spawn(move || {
                let mut r = req("POST", "/wait");
                r.timeouts.response = None;
                t.send(r, Some(&cancel))
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        cancel.cancel();
        assert!(matches!(waiting.join().unwrap(), Err(Error::Cancelled)));

        server.refuse.store(true, Ordering::SeqCst);
        match t.send(req("GET", "/_ping"), None) {
            Err(e @ Error::Connect { .. }) => {
                assert!(matches!(
                    e,
                    Error::Connect {
                        failure: ConnectFailure::NotRunning,
                        ..
                    }
                ));
                assert!(e.to_string().contains("unix:///in-memory/test.sock"), "{e}");
            }
            other => panic!("{other:?}"),
        }
        drop(t);
        server.join();
    }

    #[test]
    fn an_upgraded_stream_over_a_connector_half_closes() {
        // `101`, then everything read is sent back until the client half-closes.
        let server = Scripted::new(|_, end| {
            if !read_head(&end) {
                return;
            }
            (&end)
                .write_all(b"HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nhi:")
                .unwrap();
            let mut buf = [0u8; 64];
            while let Ok(n @ 1..) = Connection::read(&end, &mut buf) {
                (&end).write_all(&buf[..n]).unwrap();
            }
            (&end).write_all(b":bye").unwrap();
        });
        let t = Transport::with_connector(host(), server.clone());
        let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), None).unwrap() else {
            panic!("not upgraded");
        };
        let (mut rd, mut wr) = up.split();
        wr.write_all(b"input").unwrap();
        wr.close_write().unwrap();
        let mut got = Vec::new();
        rd.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hi:input:bye");
        drop((rd, wr, t));
        server.join();
    }
}
