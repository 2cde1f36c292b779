//! TLS to a `tcp://` engine with rustls (ring provider): the client configuration, built once
//! per transport from [`TlsSettings`] (the CA file added to the system's roots, the client key
//! pair, or no verification when `DOCKER_TLS_VERIFY` is unset), and the handshake on a new
//! socket. The stream that follows is in [`stream`]; the system's roots, found as Go finds
//! them (`SSL_CERT_FILE`, `SSL_CERT_DIR`, each distribution's bundle), in [`roots`].
//!
//! Error texts follow the docker CLI's (`could not load X509 key pair: ...`), so the same
//! misconfiguration reads the same.
//!
//! Compiled only with the `tls` feature. Uses nothing outside the transport but `error` (and
//! std, `log`, rustls).

use std::fmt;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};

use super::conn::Socket;
use super::host::Host;
use super::TlsSettings;
use crate::error::{Error, Result};

mod roots;
mod stream;

pub(crate) use stream::{TlsReader, TlsStream, TlsWriter};

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
            builder
                .with_root_certificates(root_store(settings.ca_file.as_deref(), &roots::system())?)
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
        socket: Socket,
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
        let mut io = &socket;
        let mut done = || -> io::Result<()> {
            while conn.is_handshaking() {
                conn.complete_io(&mut io)?;
            }
            while conn.wants_write() {
                conn.write_tls(&mut io)?;
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
        Ok(TlsStream::new(conn, socket))
    }
}

/// The system roots plus the CA file.
fn root_store(ca_file: Option<&Path>, system: &[CertificateDer<'static>]) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    let (added, ignored) = roots.add_parsable_certificates(system.iter().cloned());
    log::trace!("system roots: {added} certificates ({ignored} unusable)");
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
    let cert_pem =
        read_pem_file(cert).map_err(|e| fail(format!("open {}: {e}", cert.display())))?;
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

impl fmt::Debug for Connector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("name", &self.name)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpStream;
    use std::path::Path;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    use super::super::{Body, Host, Request, Transport, Upgrade};
    use super::*;
    use crate::fake::testing::wire::*;

    fn settings(dir: &Path, ca: Option<&str>, key: Option<&str>, verify: bool) -> TlsSettings {
        TlsSettings {
            ca_file: ca.map(|f| dir.join(f)),
            cert_file: key.map(|_| dir.join("client.pem")),
            key_file: key.map(|k| dir.join(k)),
            verify,
        }
    }

    fn tls_text<T: fmt::Debug>(r: Result<T>) -> String {
        match r {
            Err(Error::Tls(m)) => m,
            other => panic!("expected a TLS error, got {other:?}"),
        }
    }

    const EC: &[&str] = &[
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];

    /// A CA, a server certificate for 127.0.0.1 and localhost, a client certificate (its key as
    /// PKCS#8, SEC1 and, for an RSA twin, PKCS#1), and a second, unrelated CA.
    fn make_certs(dir: &Path) -> std::result::Result<(), String> {
        let req = |args: &[&str]| -> std::result::Result<(), String> {
            let mut all = vec!["req"];
            all.extend_from_slice(args);
            run("openssl", &all, dir)
        };
        let mut ca = vec!["-x509"];
        ca.extend_from_slice(EC);
        ca.extend_from_slice(&[
            "-keyout",
            "ca-key.pem",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=s2i-test-ca",
        ]);
        req(&ca)?;
        let mut other = vec!["-x509"];
        other.extend_from_slice(EC);
        other.extend_from_slice(&[
            "-keyout",
            "other-key.pem",
            "-out",
            "other-ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=other-ca",
        ]);
        req(&other)?;
        std::fs::write(
            dir.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(dir.join("client.ext"), "extendedKeyUsage=clientAuth\n")
            .map_err(|e| e.to_string())?;
        for (name, newkey) in [
            ("server", EC),
            ("client", EC),
            ("rsa-client", &["-newkey", "rsa:2048", "-nodes"][..]),
        ] {
            let mut csr: Vec<&str> = newkey.to_vec();
            let key = format!("{name}-key.pem");
            let csr_file = format!("{name}.csr");
            let subj = format!("/CN={name}");
            csr.extend_from_slice(&["-keyout", &key, "-out", &csr_file, "-subj", &subj]);
            req(&csr)?;
            let ext = if name == "server" {
                "server.ext"
            } else {
                "client.ext"
            };
            let out = format!("{name}.pem");
            run(
                "openssl",
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr_file,
                    "-CA",
                    "ca.pem",
                    "-CAkey",
                    "ca-key.pem",
                    "-CAcreateserial",
                    "-out",
                    &out,
                    "-days",
                    "2",
                    "-extfile",
                    ext,
                ],
                dir,
            )?;
        }
        run(
            "openssl",
            &["ec", "-in", "client-key.pem", "-out", "client-key-sec1.pem"],
            dir,
        )?;
        run(
            "openssl",
            &[
                "rsa",
                "-in",
                "rsa-client-key.pem",
                "-traditional",
                "-out",
                "rsa-client-key-pkcs1.pem",
            ],
            dir,
        )
    }

    /// socat terminating TLS on `port` and forwarding to the Unix socket `to`.
    fn socat(dir: &Path, port: u16, to: &Path) -> Child {
        let listen = format!(
            "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},cafile={},verify=1",
            dir.join("server.pem").display(),
            dir.join("server-key.pem").display(),
            dir.join("ca.pem").display()
        );
        let child = Command::new("socat")
            .args([listen, format!("UNIX-CONNECT:{}", to.display())])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start socat");
        let child = Child(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "socat did not listen on {port}");
            std::thread::sleep(Duration::from_millis(10));
        }
        child
    }

    fn get(target: &str) -> Request<'static> {
        Request {
            method: "GET",
            target: target.into(),
            headers: Vec::new(),
            body: Body::Empty,
            timeouts: timeouts(),
        }
    }

    fn ping(t: &Transport) -> Result<String> {
        let r = t.send(get("/_ping"), None)?;
        let body = r.read_to_vec(1024)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    fn tools_present() -> bool {
        require(
            on_path("socat") && on_path("openssl"),
            "socat and openssl are needed for the TLS tests",
        )
    }

    #[test]
    fn settings_are_checked_when_the_transport_is_made() {
        let dir = TempDir::new();
        let d = dir.path();
        let host = || Host::parse("tcp://127.0.0.1:1", true).unwrap();
        let missing = d.join("missing.pem");
        let m = tls_text(Transport::new(
            host(),
            Some(settings(d, Some("missing.pem"), None, true)),
        ));
        assert!(
            m.starts_with(&format!(
                "could not read CA certificate \"{}\": ",
                missing.display()
            )),
            "{m}"
        );
        std::fs::write(d.join("empty.pem"), "no PEM here\n").unwrap();
        let m = tls_text(Transport::new(
            host(),
            Some(settings(d, Some("empty.pem"), None, true)),
        ));
        assert_eq!(
            m,
            format!(
                "failed to append certificates from PEM file: \"{}\"",
                d.join("empty.pem").display()
            )
        );
        // Without verification the CA file is not read.
        assert!(
            Transport::new(host(), Some(settings(d, Some("missing.pem"), None, false))).is_ok()
        );

        let only_cert = TlsSettings {
            cert_file: Some(d.join("client.pem")),
            ..settings(d, None, None, false)
        };
        assert!(tls_text(Transport::new(host(), Some(only_cert)))
            .starts_with("could not load X509 key pair: "));
        let m = tls_text(Transport::new(
            host(),
            Some(settings(d, None, Some("key.pem"), false)),
        ));
        assert!(m.starts_with("could not load X509 key pair: "), "{m}");
        // An encrypted key.
        std::fs::write(
            d.join("client.pem"),
            "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        std::fs::write(
            d.join("enc.pem"),
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMAA=\n-----END ENCRYPTED PRIVATE KEY-----\n",
        )
        .unwrap();
        assert_eq!(
            tls_text(Transport::new(host(), Some(settings(d, None, Some("enc.pem"), false)))),
            "could not load X509 key pair: private key is encrypted; encrypted private keys are obsolete, and not supported"
        );
        // A Unix socket is local: TLS settings do not apply.
        assert!(Transport::new(
            Host::Unix("/x.sock".into()),
            Some(settings(d, Some("missing.pem"), None, true))
        )
        .is_ok());
    }

    #[test]
    fn system_roots_and_the_ca_file_are_trusted_together() {
        if !tools_present() {
            return;
        }
        let dir = TempDir::new();
        let d = dir.path();
        make_certs(d).expect("certificates");
        let found = roots::load(&roots::Sources {
            files: vec![d.join("ca.pem")],
            dirs: vec![],
        });
        assert_eq!(found.certs.len(), 1);
        assert_eq!(root_store(None, &found.certs).unwrap().len(), 1);
        let both = root_store(Some(&d.join("other-ca.pem")), &found.certs).unwrap();
        assert_eq!(both.len(), 2);
        assert_eq!(root_store(Some(&d.join("ca.pem")), &[]).unwrap().len(), 1);
    }

    #[test]
    fn tls_to_the_engine_through_socat() {
        if !tools_present() || !docker_available() {
            return;
        }
        let dir = TempDir::new();
        let d = dir.path();
        make_certs(d).expect("certificates");
        let port = free_port();
        let _socat = socat(d, port, Path::new(DOCKER_SOCKET));
        let ip = Host::parse(&format!("tcp://127.0.0.1:{port}"), true).unwrap();
        let name = Host::parse(&format!("tcp://localhost:{port}"), true).unwrap();

        // Verified, by IP address and by name, with each key encoding.
        for (host, key) in [
            (&ip, "client-key.pem"),
            (&name, "client-key.pem"),
            (&ip, "client-key-sec1.pem"),
        ] {
            let t = Transport::new(
                host.clone(),
                Some(settings(d, Some("ca.pem"), Some(key), true)),
            )
            .unwrap();
            assert_eq!(ping(&t).unwrap(), "OK", "{host} {key}");
        }
        let rsa = TlsSettings {
            cert_file: Some(d.join("rsa-client.pem")),
            key_file: Some(d.join("rsa-client-key-pkcs1.pem")),
            ..settings(d, Some("ca.pem"), None, true)
        };
        let t = Transport::new(ip.clone(), Some(rsa)).unwrap();
        assert_eq!(ping(&t).unwrap(), "OK");
        // Kept alive: several calls, a chunked JSON reply, one connection.
        for _ in 0..3 {
            assert_eq!(ping(&t).unwrap(), "OK");
        }
        let v = t
            .send(get("/version"), None)
            .unwrap()
            .read_to_vec(1 << 20)
            .unwrap();
        assert!(v.starts_with(b"{"));

        // Not verified: no CA needed.
        let t = Transport::new(
            ip.clone(),
            Some(settings(d, None, Some("client-key.pem"), false)),
        )
        .unwrap();
        assert_eq!(ping(&t).unwrap(), "OK");

        // Another CA does not vouch for the server.
        let t = Transport::new(
            ip.clone(),
            Some(settings(
                d,
                Some("other-ca.pem"),
                Some("client-key.pem"),
                true,
            )),
        )
        .unwrap();
        let m = tls_text(ping(&t));
        assert!(m.contains("UnknownIssuer"), "{m}");

        // The server requires a client certificate.
        let t = Transport::new(ip.clone(), Some(settings(d, Some("ca.pem"), None, true))).unwrap();
        let m = tls_text(ping(&t));
        assert!(m.contains("alert"), "{m}");

        // Plain HTTP to the TLS port.
        let t = Transport::new(
            Host::parse(&format!("tcp://127.0.0.1:{port}"), false).unwrap(),
            None,
        )
        .unwrap();
        match ping(&t) {
            Err(Error::Protocol(m)) => {
                assert!(
                    m.ends_with(
                        "\n* Are you trying to connect to a TLS-enabled daemon without TLS?"
                    ),
                    "{m}"
                )
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn upgraded_tls_stream_reads_and_writes_at_once() {
        if !tools_present() {
            return;
        }
        let dir = TempDir::new();
        let d = dir.path();
        make_certs(d).expect("certificates");
        let server = Server::unix(vec![vec![
            Step::Head,
            send(b"HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"),
            Step::Echo,
            send(b"done"),
            Step::Close,
        ]]);
        let Host::Unix(path) = &server.host else {
            unreachable!()
        };
        let port = free_port();
        let _socat = socat(d, port, path);
        let host = Host::parse(&format!("tcp://127.0.0.1:{port}"), true).unwrap();
        let t = Transport::new(
            host,
            Some(settings(d, Some("ca.pem"), Some("client-key.pem"), true)),
        )
        .unwrap();
        let attach = Request {
            method: "POST",
            ..get("/v1.41/containers/c/attach?stdin=1&stdout=1&stream=1")
        };
        let Upgrade::Switched(up) = t.upgrade(attach, None).unwrap() else {
            panic!("not upgraded")
        };
        assert_duplex_echo(up);
        drop(t);
        server.finish();
    }
}
