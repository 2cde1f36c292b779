//! TLS to a `tcp://` engine with rustls (ring provider).
//!
//! One `rustls::ClientConnection` per socket, behind a `Mutex` so that an upgraded stream can
//! be read on one thread and written on another: the reader blocks on the socket *without* the
//! lock and takes it only to decrypt what arrived; the writer takes it only to encrypt, then
//! writes the records without it. Neither half can then stall the other (a writer blocked on a
//! full socket does not stop the reader from draining the container's output).

use std::fmt;
use std::io::{self, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme};

use super::conn::Socket;
use super::host::Host;
use super::TlsSettings;
use crate::error::{Error, Result};

/// The system's CA bundle (Debian, Ubuntu, Alpine, Arch; Fedora links it too).
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Ciphertext read from the socket at a time: one maximal TLS record and its header.
const TLS_READ_BUFFER: usize = 16 * 1024 + 512;

/// A client configuration and the name to verify, built once per transport.
pub(crate) struct Connector {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

fn tls_error(text: impl Into<String>) -> Error {
    Error::Tls(text.into())
}

fn read_pem_file(path: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(path)
}

impl Connector {
    /// Loads the CA, the client key pair and builds the configuration for `host`.
    pub(crate) fn new(settings: &TlsSettings, host: &str) -> Result<Connector> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(e.to_string()))?;
        let builder = if settings.verify {
            builder.with_root_certificates(root_store(settings.ca_file.as_deref())?)
        } else {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
        };
        let config = match (&settings.cert_file, &settings.key_file) {
            (None, None) => builder.with_no_client_auth(),
            (Some(cert), Some(key)) => {
                let (chain, key) = key_pair(cert, key)?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| tls_error(format!("could not load X509 key pair: {e}")))?
            }
            _ => {
                return Err(tls_error(
                    "could not load X509 key pair: a client certificate needs both a certificate and a key file",
                ))
            }
        };
        let name = ServerName::try_from(host.to_string())
            .map_err(|_| tls_error(format!("invalid server name `{host}`")))?;
        Ok(Connector {
            config: Arc::new(config),
            name,
        })
    }

    /// Runs the handshake on a connected socket, giving up after `timeout`.
    pub(crate) fn handshake(
        &self,
        mut socket: Socket,
        timeout: Duration,
        host: &Host,
    ) -> Result<TlsStream> {
        let mut conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
            .map_err(|e| tls_error(e.to_string()))?;
        let limit = Some(timeout.max(Duration::from_millis(1)));
        socket
            .set_read_timeout(limit)
            .and_then(|()| socket.set_write_timeout(limit))
            .map_err(Error::Io)?;
        let mut done = || -> io::Result<()> {
            while conn.is_handshaking() {
                conn.complete_io(&mut socket)?;
            }
            while conn.wants_write() {
                conn.write_tls(&mut socket)?;
            }
            Ok(())
        };
        if let Err(e) = done() {
            return Err(match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                    what: format!("the TLS handshake with {host}"),
                    after: timeout,
                },
                _ => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    Some(tls) => tls_error(tls.to_string()),
                    None => tls_error(format!("handshake with {host} failed: {e}")),
                },
            });
        }
        Ok(TlsStream {
            conn: Arc::new(Mutex::new(conn)),
            reader: ReadSide::new(),
            scratch: Vec::new(),
            socket,
        })
    }
}

/// The system roots plus the CA file.
fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    if let Ok(pem) = read_pem_file(Path::new(SYSTEM_CA_BUNDLE)) {
        let (added, ignored) =
            roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
        log::trace!("system CA bundle: {added} certificates ({ignored} unusable)");
    }
    if let Some(file) = ca_file {
        let pem = read_pem_file(file).map_err(|e| {
            tls_error(format!(
                "could not read CA certificate \"{}\": {e}",
                file.display()
            ))
        })?;
        let (added, _) =
            roots.add_parsable_certificates(CertificateDer::pem_slice_iter(&pem).flatten());
        if added == 0 {
            return Err(tls_error(format!(
                "failed to append certificates from PEM file: \"{}\"",
                file.display()
            )));
        }
    }
    Ok(roots)
}

fn key_pair(
    cert: &Path,
    key: &Path,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let fail = |what: String| tls_error(format!("could not load X509 key pair: {what}"));
    let cert_pem = read_pem_file(cert).map_err(|e| fail(format!("open {}: {e}", cert.display())))?;
    let key_pem = read_pem_file(key).map_err(|e| fail(format!("open {}: {e}", key.display())))?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| fail(format!("{}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(fail(format!(
            "failed to find any PEM data in certificate input ({})",
            cert.display()
        )));
    }
    if contains(&key_pem, b"ENCRYPTED") {
        return Err(fail(
            "private key is encrypted; encrypted private keys are obsolete, and not supported"
                .into(),
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| fail(format!("{}: {e}", key.display())))?;
    Ok((chain, key))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Accepts any server certificate (`DOCKER_TLS_VERIFY` unset), while still checking that the
/// server holds the key of the certificate it sent (the handshake signatures).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

type Shared = Arc<Mutex<ClientConnection>>;

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
    socket: &mut Socket,
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
    socket: &mut Socket,
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
    conn: Shared,
    reader: ReadSide,
    scratch: Vec<u8>,
    socket: Socket,
}

impl TlsStream {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }

    /// The two halves of an upgraded stream; the socket is duplicated for the writer.
    pub(crate) fn split(self) -> io::Result<(TlsReader, TlsWriter)> {
        let TlsStream {
            conn,
            reader,
            scratch,
            socket,
        } = self;
        let write_socket = socket.try_clone()?;
        Ok((
            TlsReader {
                conn: Arc::clone(&conn),
                side: reader,
                socket,
            },
            TlsWriter {
                conn,
                scratch,
                socket: write_socket,
            },
        ))
    }
}

impl Read for TlsStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_plain(&self.conn, &mut self.socket, &mut self.reader, out)
    }
}

impl Write for TlsStream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_plain(&self.conn, &mut self.socket, &mut self.scratch, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The read half of an upgraded TLS stream.
pub(crate) struct TlsReader {
    conn: Shared,
    side: ReadSide,
    socket: Socket,
}

impl TlsReader {
    pub(crate) fn socket(&self) -> &Socket {
        &self.socket
    }
}

impl Read for TlsReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        read_plain(&self.conn, &mut self.socket, &mut self.side, out)
    }
}

/// The write half of an upgraded TLS stream.
pub(crate) struct TlsWriter {
    conn: Shared,
    scratch: Vec<u8>,
    socket: Socket,
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
        let res = self.socket.write_all(&self.scratch);
        self.scratch.clear();
        res
    }
}

impl Write for TlsWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        write_plain(&self.conn, &mut self.socket, &mut self.scratch, data)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish()
    }
}
