//! The TLS stream over a socket: one `rustls::ClientConnection` behind a `Mutex`, so that an
//! upgraded stream can be read on one thread and written on another.
//!
//! The reader blocks on the socket *without* the lock and takes it only to decrypt what
//! arrived; the writer takes it only to encrypt, then writes the records without it. Neither
//! half can then stall the other (a writer blocked on a full socket does not stop the reader
//! from draining the container's output). The tests in `tls` run these streams against socat.
//!
//! Uses nothing outside the transport (only std and rustls).

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, MutexGuard};

use rustls::ClientConnection;

use super::super::conn::Socket;

/// Ciphertext read from the socket at a time: one maximal TLS record and its header.
const TLS_READ_BUFFER: usize = 16 * 1024 + 512;

/// The TLS session, shared by the two halves of an upgraded stream.
type SharedConnection = Arc<Mutex<ClientConnection>>;

fn lock(conn: &Mutex<ClientConnection>) -> MutexGuard<'_, ClientConnection> {
    conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Ciphertext received and not yet handed to rustls.
struct ReadSide {
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
}

impl ReadSide {
    fn new() -> ReadSide {
        ReadSide {
            buf: vec![0; TLS_READ_BUFFER].into_boxed_slice(),
            pos: 0,
            len: 0,
        }
    }
}

fn tls_io_error(e: rustls::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads plaintext; blocks on the socket without holding the lock.
fn read_plain(
    conn: &Mutex<ClientConnection>,
    mut socket: &Socket,
    side: &mut ReadSide,
    out: &mut [u8],
) -> io::Result<usize> {
    if out.is_empty() {
        return Ok(0);
    }
    loop {
        {
            let mut c = lock(conn);
            loop {
                match c.reader().read(out) {
                    Ok(n) => return Ok(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // The peer closed TCP without close_notify; the HTTP framing above says
                    // whether anything is missing.
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                    Err(e) => return Err(e),
                }
                if side.pos == side.len {
                    break;
                }
                // Only fed while no plaintext waits, so rustls's bounded plaintext buffer never
                // overflows.
                let n = c.read_tls(&mut &side.buf[side.pos..side.len])?;
                side.pos = if n == 0 { side.len } else { side.pos + n };
                c.process_new_packets().map_err(tls_io_error)?;
            }
        }
        let n = socket.read(&mut side.buf)?;
        side.pos = 0;
        side.len = n;
        if n == 0 {
            let mut c = lock(conn);
            // Tell rustls the stream ended, so a close_notify seen earlier reads as a clean end.
            let _ = c.read_tls(&mut io::empty());
            return match c.reader().read(out) {
                Ok(n) => Ok(n),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::UnexpectedEof
                    ) =>
                {
                    Ok(0)
                }
                Err(e) => Err(e),
            };
        }
    }
}

/// Encrypts `data` under the lock, then writes the records without it.
fn write_plain(
    conn: &Mutex<ClientConnection>,
    mut socket: &Socket,
    scratch: &mut Vec<u8>,
    data: &[u8],
) -> io::Result<usize> {
    if data.is_empty() {
        return Ok(0);
    }
    let n = {
        let mut c = lock(conn);
        let n = c.writer().write(data)?;
        while c.wants_write() {
            c.write_tls(scratch)?;
        }
        n
    };
    let res = socket.write_all(scratch);
    scratch.clear();
    res.map(|()| n)
}

/// A TLS connection used by one thread at a time (request, response).
pub(crate) struct TlsStream {
    conn: SharedConnection,
    reader: ReadSide,
    scratch: Vec<u8>,
    socket: Arc<Socket>,
}

impl TlsStream {
    /// The stream over `socket` once the handshake of `conn` is done.
    pub(crate) fn new(conn: ClientConnection, socket: Socket) -> TlsStream {
        TlsStream {
            conn: Arc::new(Mutex::new(conn)),
            reader: ReadSide::new(),
            scratch: Vec::new(),
            socket: Arc::new(socket),
        }
    }

    pub(crate) fn socket(&self) -> &Arc<Socket> {
        &self.socket
    }

    /// The two halves of an upgraded stream, sharing the connection and the socket.
    pub(crate) fn split(self) -> (TlsReader, TlsWriter) {
        let TlsStream {
            conn,
            reader,
            scratch,
            socket,
        } = self;
        (
            TlsReader {
                conn: Arc::clone(&conn),
                side: reader,
                socket: Arc::clone(&socket),
            },
            TlsWriter {
                conn,
                scratch,
                socket,
            },
        )
    }
}

impl Read for TlsStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_plain(&self.conn, &self.socket, &mut self.reader, out)
    }
}

impl Write for TlsStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_plain(&self.conn, &self.socket, &mut self.scratch, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The read half of an upgraded TLS stream.
pub(crate) struct TlsReader {
    conn: SharedConnection,
    side: ReadSide,
    socket: Arc<Socket>,
}

impl TlsReader {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }
}

impl Read for TlsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_plain(&self.conn, &self.socket, &mut self.side, out)
    }
}

/// The write half of an upgraded TLS stream.
pub(crate) struct TlsWriter {
    conn: SharedConnection,
    scratch: Vec<u8>,
    socket: Arc<Socket>,
}

impl TlsWriter {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Sends close_notify: the peer sees the end of our data; reading goes on.
    pub(crate) fn close_write(&mut self) -> io::Result<()> {
        {
            let mut c = lock(&self.conn);
            c.send_close_notify();
            while c.wants_write() {
                c.write_tls(&mut self.scratch)?;
            }
        }
        let res = (&*self.socket).write_all(&self.scratch);
        self.scratch.clear();
        res
    }
}

impl Write for TlsWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_plain(&self.conn, &self.socket, &mut self.scratch, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
