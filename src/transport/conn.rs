//! Sockets and connections: the [`Socket`] (Unix, TCP, or a [`Connector`]'s connection),
//! connecting with the errors that say what to fix, the plain-or-TLS [`Stream`], and [`Conn`],
//! a stream with its read buffer and the timeouts last set on it (so that setting the same
//! limit again costs no system call).
//!
//! Looking at a socket without waiting (is a pooled connection still good, has the engine
//! answered during an upload) is one `recv` with `MSG_DONTWAIT` on the descriptor of a Unix or
//! TCP socket: the only unsafe code of the crate, a call of `libc::recv` on a borrowed socket
//! and a buffer it may fill. A connector's connection and TLS switch to non-blocking mode
//! around an ordinary read instead.
//!
//! Uses nothing outside the transport but `error` (and std, libc; rustls behind the `tls`
//! feature, to recognise a TLS alert inside an I/O error).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::time::Duration;

use super::cancel::{Cancel, Registration};
use super::connector::{Connection, Connector};
use super::host::Host;
use super::wire::MAX_HEAD_SIZE;
use crate::error::{ConnectFailure, Error, Result};

/// The read buffer of a connection; big enough for every response head seen in practice and
/// for the small bodies (JSON replies) that follow it.
const READ_BUFFER: usize = 16 * 1024;

/// The most the read buffer grows to for a streamed body whose framing splits the data into
/// pieces smaller than the caller's reads (the engine's chunks are 32 KiB).
pub(crate) const STREAM_BUFFER: usize = 64 * 1024;

/// A connected socket.
///
/// Shared through an `Arc` between a connection, a [`Cancel`] watching it (which shuts it down)
/// and the two halves of an upgraded stream; reads and writes go through `&Socket`.
pub(crate) enum Socket {
    Unix(UnixStream),
    Tcp(TcpStream),
    /// A connection from a [`Connector`] (e.g. an in-memory pipe to an in-process server).
    Custom(Box<dyn Connection>),
}

impl Socket {
    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.shutdown(how),
            Socket::Tcp(s) => s.shutdown(how),
            Socket::Custom(c) => c.shutdown(how),
        }
    }

    pub(crate) fn set_read_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_read_timeout(d),
            Socket::Tcp(s) => s.set_read_timeout(d),
            Socket::Custom(c) => c.set_read_timeout(d),
        }
    }

    pub(crate) fn set_write_timeout(&self, d: Option<Duration>) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_write_timeout(d),
            Socket::Tcp(s) => s.set_write_timeout(d),
            Socket::Custom(c) => c.set_write_timeout(d),
        }
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            Socket::Unix(s) => s.set_nonblocking(on),
            Socket::Tcp(s) => s.set_nonblocking(on),
            Socket::Custom(c) => c.set_nonblocking(on),
        }
    }

    /// The descriptor of a Unix or TCP socket; `None` for a connector's connection.
    fn fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Socket::Unix(s) => Some(s.as_fd()),
            Socket::Tcp(s) => Some(s.as_fd()),
            Socket::Custom(_) => None,
        }
    }
}

/// What a look at a socket without waiting found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peeked {
    /// Nothing has arrived.
    Nothing,
    /// Bytes have arrived (this many were read, or seen when peeking).
    Bytes(usize),
    /// The peer closed the connection, or it failed.
    Closed,
}

/// One `recv(2)` with `MSG_DONTWAIT` (and `MSG_PEEK` when `peek` is set): reads what has
/// already arrived into `buf`, without waiting and without changing the socket's mode.
#[allow(unsafe_code)]
fn recv_now(fd: BorrowedFd<'_>, buf: &mut [u8], peek: bool) -> io::Result<usize> {
    use std::os::fd::AsRawFd;
    let flags = libc::MSG_DONTWAIT | if peek { libc::MSG_PEEK } else { 0 };
    loop {
        // SAFETY: `fd` is an open descriptor borrowed for the duration of the call, and `buf`
        // is valid for writes of `buf.len()` bytes, which is all `recv` may write.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), flags) };
        if let Ok(n) = usize::try_from(n) {
            return Ok(n);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

fn peeked(res: io::Result<usize>) -> io::Result<Peeked> {
    match res {
        Ok(0) => Ok(Peeked::Closed),
        Ok(n) => Ok(Peeked::Bytes(n)),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(Peeked::Nothing),
        Err(e) => Err(e),
    }
}

impl Read for &Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => (&*s).read(buf),
            Socket::Tcp(s) => (&*s).read(buf),
            Socket::Custom(c) => c.read(buf),
        }
    }
}

impl Write for &Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Socket::Unix(s) => (&*s).write(buf),
            Socket::Tcp(s) => (&*s).write(buf),
            Socket::Custom(c) => c.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A connection's byte stream: plain, or TLS over TCP.
pub(crate) enum Stream {
    Plain(Arc<Socket>),
    #[cfg(feature = "tls")]
    Tls(Box<super::tls::TlsStream>),
}

impl Stream {
    /// The socket underneath (for timeouts, shutdown and cancellation).
    pub(crate) fn socket(&self) -> &Arc<Socket> {
        match self {
            Stream::Plain(s) => s,
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.socket(),
        }
    }
}

impl Stream {
    /// The descriptor to look at without waiting: a plain Unix or TCP socket's (not TLS, whose
    /// layer may hold records already read, nor a connector's connection).
    fn plain_fd(&self) -> Option<BorrowedFd<'_>> {
        match self {
            Stream::Plain(s) => s.fd(),
            #[cfg(feature = "tls")]
            Stream::Tls(_) => None,
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).read(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => (&**s).write(buf),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            #[cfg(feature = "tls")]
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// Turns an I/O failure into the crate's error: cancelled, timed out, a TLS alert, or plain I/O.
pub(crate) fn io_error(
    e: io::Error,
    cancelled: bool,
    after: Option<Duration>,
    what: impl FnOnce() -> String,
) -> Error {
    if cancelled {
        return Error::Cancelled;
    }
    if matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    ) {
        if let Some(after) = after {
            return Error::Timeout {
                what: what(),
                after,
            };
        }
    }
    #[cfg(feature = "tls")]
    if let Some(tls) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        return Error::Tls(tls.to_string());
    }
    Error::from(e)
}

/// A socket timeout of `d`; zero (which the socket API refuses) becomes the shortest one.
fn socket_timeout(d: Option<Duration>) -> Option<Duration> {
    d.map(|d| d.max(Duration::from_nanos(1)))
}

/// A connection: the stream, its read buffer, a reusable head buffer and the cancel watch.
pub(crate) struct Conn {
    pub(crate) stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Scratch space for request heads, kept across requests.
    pub(crate) head: Vec<u8>,
    read_timeout: Option<Option<Duration>>,
    write_timeout: Option<Option<Duration>>,
    watch: Option<Registration>,
}

impl Conn {
    pub(crate) fn new(stream: Stream) -> Conn {
        Conn {
            stream,
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            head: Vec::with_capacity(512),
            read_timeout: None,
            write_timeout: None,
            watch: None,
        }
    }

    /// The bytes received and not consumed yet.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn consume(&mut self, n: usize) {
        self.start = (self.start + n).min(self.end);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The buffer's capacity; reads at least this large bypass it.
    pub(crate) fn buffer_capacity(&self) -> usize {
        self.buf.len()
    }

    /// Grows the buffer to `size` bytes (up to [`STREAM_BUFFER`]) when it is empty and smaller,
    /// so that one read takes in as much of a streamed body as the caller wants at once.
    /// [`park`](Conn::park) shrinks it again.
    pub(crate) fn reserve_for_stream(&mut self, size: usize) {
        let size = size.min(STREAM_BUFFER);
        if self.start == self.end && self.buf.len() < size {
            self.start = 0;
            self.end = 0;
            self.buf.resize(size, 0);
        }
    }

    /// Reads more bytes into the buffer, growing it (up to a little over the head cap) when it
    /// is full. Returns 0 at end of stream.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        self.make_room()?;
        let n = self.stream.read(&mut self.buf[self.end..])?;
        self.end += n;
        Ok(n)
    }

    /// Makes room at the end of the buffer for [`fill`](Conn::fill): moves the unread bytes to
    /// the front, or grows the buffer up to a little over the head cap.
    fn make_room(&mut self) -> io::Result<()> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() <= MAX_HEAD_SIZE {
                let grown = (self.buf.len() * 2).min(MAX_HEAD_SIZE + 1024);
                self.buf.resize(grown, 0);
            } else {
                return Err(io::Error::other("read buffer full"));
            }
        }
        Ok(())
    }

    /// Moves buffered bytes out into `out`; returns how many.
    pub(crate) fn take_buffered(&mut self, out: &mut [u8]) -> usize {
        let n = out.len().min(self.end - self.start);
        out[..n].copy_from_slice(&self.buf[self.start..self.start + n]);
        self.consume(n);
        n
    }

    /// Takes the buffered bytes and the stream apart (for an upgraded connection).
    pub(crate) fn into_parts(mut self) -> (Stream, Vec<u8>, Option<Registration>) {
        self.buf.truncate(self.end);
        self.buf.drain(..self.start);
        (self.stream, self.buf, self.watch)
    }

    pub(crate) fn set_read_timeout(&mut self, d: Option<Duration>) -> io::Result<()> {
        if self.read_timeout != Some(d) {
            self.read_timeout = None;
            self.stream.socket().set_read_timeout(socket_timeout(d))?;
            self.read_timeout = Some(d);
        }
        Ok(())
    }

    pub(crate) fn set_write_timeout(&mut self, d: Option<Duration>) -> io::Result<()> {
        if self.write_timeout != Some(d) {
            self.write_timeout = None;
            self.stream.socket().set_write_timeout(socket_timeout(d))?;
            self.write_timeout = Some(d);
        }
        Ok(())
    }

    /// Lets `cancel` abort this connection until it is parked or dropped.
    pub(crate) fn watch(&mut self, cancel: Option<&Cancel>) -> Result<()> {
        if let Some(cancel) = cancel {
            cancel.check()?;
            self.watch = Some(cancel.register(Arc::clone(self.stream.socket()))?);
        }
        Ok(())
    }

    pub(crate) fn cancelled(&self) -> bool {
        self.watch.as_ref().is_some_and(Registration::is_cancelled)
    }

    /// Reads whatever has already arrived into the buffer, without waiting: `Some(0)` at end
    /// of stream, `None` when nothing is there.
    pub(crate) fn poll_fill(&mut self) -> io::Result<Option<usize>> {
        self.make_room()?;
        if let Some(fd) = self.stream.plain_fd() {
            let res = recv_now(fd, &mut self.buf[self.end..], false);
            return match peeked(res)? {
                Peeked::Nothing => Ok(None),
                Peeked::Closed => Ok(Some(0)),
                Peeked::Bytes(n) => {
                    self.end += n;
                    Ok(Some(n))
                }
            };
        }
        self.poll_fill_switching()
    }

    /// [`poll_fill`](Conn::poll_fill) for a stream without a descriptor to `recv` from (a
    /// connector's connection) or with a layer above it (TLS): an ordinary read with the
    /// socket switched to non-blocking mode and back.
    fn poll_fill_switching(&mut self) -> io::Result<Option<usize>> {
        self.stream.socket().set_nonblocking(true)?;
        let res = self.fill();
        self.stream.socket().set_nonblocking(false)?;
        match res {
            Ok(n) => Ok(Some(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether an idle connection can carry another request: nothing unread, and the peer has
    /// neither closed it nor sent anything unasked (an idle HTTP/1.1 server sends nothing).
    ///
    /// A plain socket is looked at with one `recv` that peeks without waiting; TLS, whose
    /// layer may hold records already read, is read through it (see
    /// [`poll_fill`](Conn::poll_fill)).
    pub(crate) fn is_reusable(&mut self) -> bool {
        if self.start != self.end {
            return false;
        }
        if let Some(fd) = self.stream.plain_fd() {
            let mut byte = [0u8; 1];
            return matches!(peeked(recv_now(fd, &mut byte, true)), Ok(Peeked::Nothing));
        }
        matches!(self.poll_fill_switching(), Ok(None))
    }

    /// Prepares an idle connection for the pool: no cancel watch, a normal-sized buffer.
    pub(crate) fn park(&mut self) {
        self.watch = None;
        if self.buf.len() > READ_BUFFER && self.start == self.end {
            self.buf.truncate(READ_BUFFER);
            self.buf.shrink_to_fit();
        }
    }
}

fn connect_error(host: &Host, source: io::Error) -> Error {
    let failure = match source.kind() {
        io::ErrorKind::ConnectionRefused | io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => {
            ConnectFailure::NotRunning
        }
        io::ErrorKind::PermissionDenied => ConnectFailure::PermissionDenied,
        io::ErrorKind::NotFound => ConnectFailure::NoSuchSocket,
        _ => ConnectFailure::Other,
    };
    Error::Connect {
        host: host.to_string(),
        failure,
        source,
    }
}

/// Opens a connection through `connector` within `timeout`; `host` names it in errors.
pub(crate) fn connect_with(
    host: &Host,
    connector: &dyn Connector,
    timeout: Duration,
) -> Result<Socket> {
    connector
        .connect_within(timeout)
        .map(Socket::Custom)
        .map_err(|e| connect_error(host, e))
}

/// Opens a socket to `host`; TCP connects give up after `timeout` per address.
pub(crate) fn connect(host: &Host, timeout: Duration) -> Result<Socket> {
    match host {
        Host::Unix(path) => UnixStream::connect(path)
            .map(Socket::Unix)
            .map_err(|e| connect_error(host, e)),
        Host::Tcp {
            host: name, port, ..
        } => {
            let addrs = (name.as_str(), *port)
                .to_socket_addrs()
                .map_err(|e| connect_error(host, e))?;
            let timeout = timeout.max(Duration::from_millis(1));
            let mut last = io::Error::new(
                io::ErrorKind::AddrNotAvailable,
                format!("no address found for {name}"),
            );
            for addr in addrs {
                match TcpStream::connect_timeout(&addr, timeout) {
                    Ok(s) => {
                        // Heads and small bodies go out in one write each; Nagle would only
                        // delay them.
                        let _ = s.set_nodelay(true);
                        return Ok(Socket::Tcp(s));
                    }
                    Err(e) => last = e,
                }
            }
            Err(connect_error(host, last))
        }
        // A transport for an ssh:// host opens its connections through its connector.
        Host::Ssh { .. } => Err(Error::InvalidInput(format!(
            "{host} is reached through ssh, not a socket"
        ))),
    }
}

#[cfg(test)]
mod tests {
    //! What a failed connect reports: no such socket, nothing listening, nothing on the port;
    //! and what a look without waiting finds on a Unix, a TCP and a connector's connection.

    use super::*;
    use crate::fake::testing::wire::*;
    use crate::transport::Transport;

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

    /// Connections over the three kinds of socket, each with the peer's end.
    fn pairs() -> Vec<(&'static str, Conn, Box<dyn Write + Send>)> {
        let (a, b) = UnixStream::pair().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tcp = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (peer, _) = listener.accept().unwrap();
        let (c, d) = crate::transport::connector::pipe();
        let plain = |s: Socket| Conn::new(Stream::Plain(Arc::new(s)));
        vec![
            ("unix", plain(Socket::Unix(a)), Box::new(b)),
            ("tcp", plain(Socket::Tcp(tcp)), Box::new(peer)),
            ("custom", plain(Socket::Custom(Box::new(c))), Box::new(d)),
        ]
    }

    #[test]
    fn looks_without_waiting() {
        for (kind, mut conn, mut peer) in pairs() {
            let start = std::time::Instant::now();
            assert!(conn.is_reusable(), "{kind}: an idle connection");
            assert_eq!(conn.poll_fill().unwrap(), None, "{kind}");
            assert!(start.elapsed() < Duration::from_secs(1), "{kind}: waited");
            peer.write_all(b"unasked").unwrap();
            std::thread::sleep(Duration::from_millis(20));
            assert!(!conn.is_reusable(), "{kind}: bytes nobody asked for");
            // A socket's peek left them there for a read; a connector's connection read them
            // into the buffer already.
            let polled = conn.poll_fill().unwrap();
            if kind != "custom" {
                assert_eq!(polled, Some(7), "{kind}");
            }
            assert_eq!(conn.buffered(), b"unasked", "{kind}");
            assert!(!conn.is_reusable(), "{kind}: unread bytes");
            conn.consume(7);
            drop(peer);
            std::thread::sleep(Duration::from_millis(20));
            assert!(!conn.is_reusable(), "{kind}: closed by the peer");
            assert_eq!(conn.poll_fill().unwrap(), Some(0), "{kind}");
            // The socket still blocks for ordinary reads.
            assert_eq!(conn.fill().unwrap(), 0, "{kind}");
        }
    }
}
