//! The system's trust roots, found where Go's `crypto/x509` finds them on Linux (and so where
//! the docker CLI and the daemon find them):
//!
//! 1. One bundle file: `SSL_CERT_FILE` when set, else the first of [`CERT_FILES`] that can be
//!    read (Debian and Ubuntu, Fedora and RHEL 6, openSUSE, OpenELEC, CentOS and RHEL 7,
//!    Alpine).
//! 2. Every file of every directory in `SSL_CERT_DIR` (`:`-separated) when set, else of
//!    [`CERT_DIRECTORIES`]; symbolic links to a file of the same directory (the `c_rehash`
//!    hash names) are skipped, as their target is read anyway.
//!
//! Certificates found twice are kept once. Files that cannot be read are passed over (Go does
//! the same); when nothing is found and something could not be read, that is logged as a
//! warning, since verification will then fail for want of roots.
//!
//! The roots are read once per process and kept while `SSL_CERT_FILE` and `SSL_CERT_DIR` stay
//! the same.

use std::collections::HashSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

/// The bundle files, in Go's order (`crypto/x509/root_linux.go`); the first readable one is
/// used.
pub(crate) const CERT_FILES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/tls/cacert.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The directories whose files are all read.
pub(crate) const CERT_DIRECTORIES: &[&str] = &["/etc/ssl/certs", "/etc/pki/tls/certs"];

/// The most of one file that is read: bundles are a few hundred KiB.
const MAX_FILE_BYTES: u64 = 8 << 20;

/// Where to look: the bundle files (the first readable one counts) and the directories.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Sources {
    pub(crate) files: Vec<PathBuf>,
    pub(crate) dirs: Vec<PathBuf>,
}

impl Sources {
    /// From `SSL_CERT_FILE` and `SSL_CERT_DIR` as `env` tells them, else the defaults.
    pub(crate) fn from(env: &dyn Fn(&str) -> Option<String>) -> Sources {
        let set = |name: &str| env(name).filter(|v| !v.is_empty());
        let files = match set("SSL_CERT_FILE") {
            Some(f) => vec![PathBuf::from(f)],
            None => CERT_FILES.iter().map(PathBuf::from).collect(),
        };
        let dirs = match set("SSL_CERT_DIR") {
            Some(d) => d
                .split(':')
                .filter(|d| !d.is_empty())
                .map(PathBuf::from)
                .collect(),
            None => CERT_DIRECTORIES.iter().map(PathBuf::from).collect(),
        };
        Sources { files, dirs }
    }
}

/// The roots the sources hold, and the first error other than "not found" met on the way.
#[derive(Debug, Default)]
pub(crate) struct Roots {
    pub(crate) certs: Vec<CertificateDer<'static>>,
    pub(crate) first_error: Option<String>,
}

/// The system's roots, read once per process and again only when `SSL_CERT_FILE` or
/// `SSL_CERT_DIR` change.
pub(crate) fn system() -> Arc<Vec<CertificateDer<'static>>> {
    static CACHE: Mutex<Option<(Sources, Arc<Vec<CertificateDer<'static>>>)>> = Mutex::new(None);
    let sources = Sources::from(&|name| std::env::var(name).ok());
    let mut cache = CACHE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((cached, roots)) = cache.as_ref() {
        if *cached == sources {
            return Arc::clone(roots);
        }
    }
    let roots = load(&sources);
    match (&roots.first_error, roots.certs.len()) {
        (Some(e), 0) => log::warn!("no system trust roots found: {e}"),
        (_, n) => log::debug!("system trust roots: {n} certificates"),
    }
    let certs = Arc::new(roots.certs);
    *cache = Some((sources, Arc::clone(&certs)));
    certs
}

/// Reads the roots of `sources`, as Go's `loadSystemRoots` does.
pub(crate) fn load(sources: &Sources) -> Roots {
    let mut roots = Roots::default();
    let mut seen = HashSet::new();
    let note = |roots: &mut Roots, path: &Path, e: std::io::Error| {
        if e.kind() != std::io::ErrorKind::NotFound && roots.first_error.is_none() {
            roots.first_error = Some(format!("{}: {e}", path.display()));
        }
    };
    for file in &sources.files {
        match read_capped(file) {
            Ok(pem) => {
                add_pem(&mut roots, &mut seen, &pem);
                break;
            }
            Err(e) => note(&mut roots, file, e),
        }
    }
    for dir in &sources.dirs {
        let entries = match unique_entries(dir) {
            Ok(entries) => entries,
            Err(e) => {
                note(&mut roots, dir, e);
                continue;
            }
        };
        for path in entries {
            if let Ok(pem) = read_capped(&path) {
                add_pem(&mut roots, &mut seen, &pem);
            }
        }
    }
    roots
}

fn add_pem(roots: &mut Roots, seen: &mut HashSet<Vec<u8>>, pem: &[u8]) {
    for cert in CertificateDer::pem_slice_iter(pem).flatten() {
        if seen.insert(cert.as_ref().to_vec()) {
            roots.certs.push(cert);
        }
    }
}

/// The entries of `dir`, sorted, without symbolic links to a name in the same directory (Go's
/// `readUniqueDirectoryEntries`).
fn unique_entries(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        let same_dir_link = entry.file_type().is_ok_and(|t| t.is_symlink())
            && std::fs::read_link(&path).is_ok_and(|t| !t.to_string_lossy().contains('/'));
        if !same_dir_link {
            out.push(path);
        }
    }
    out.sort();
    Ok(out)
}

/// A file's bytes; one over [`MAX_FILE_BYTES`] is no bundle and is refused.
fn read_capped(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "larger than a certificate bundle can be",
        ));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use std::collections::HashMap;

    /// A PEM block around `der` (the store here does not parse the certificates, so any bytes
    /// do).
    fn pem(der: &[u8]) -> String {
        format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::engine::general_purpose::STANDARD.encode(der)
        )
    }

    fn ders(roots: &Roots) -> Vec<Vec<u8>> {
        roots.certs.iter().map(|c| c.as_ref().to_vec()).collect()
    }

    fn sources(vars: &[(&str, &str)]) -> Sources {
        let vars: HashMap<&str, &str> = vars.iter().copied().collect();
        Sources::from(&|name| vars.get(name).map(|v| v.to_string()))
    }

    #[test]
    fn variables_replace_the_defaults() {
        let default = sources(&[]);
        assert_eq!(
            default.files[0],
            Path::new("/etc/ssl/certs/ca-certificates.crt")
        );
        assert_eq!(default.files.len(), 6);
        assert!(default.files.contains(&PathBuf::from("/etc/ssl/cert.pem")));
        assert!(default.files.contains(&PathBuf::from(
            "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"
        )));
        assert_eq!(
            default.dirs,
            [Path::new("/etc/ssl/certs"), Path::new("/etc/pki/tls/certs")]
        );
        let set = sources(&[("SSL_CERT_FILE", "/my/ca.pem"), ("SSL_CERT_DIR", "/a::/b")]);
        assert_eq!(set.files, [Path::new("/my/ca.pem")]);
        assert_eq!(set.dirs, [Path::new("/a"), Path::new("/b")]);
        assert_eq!(
            sources(&[("SSL_CERT_FILE", ""), ("SSL_CERT_DIR", "")]),
            default
        );
    }

    #[test]
    fn the_first_readable_bundle_and_every_directory_file() {
        let dir = crate::fake::testing::wire::TempDir::new();
        let d = dir.path();
        std::fs::write(d.join("first.pem"), pem(b"one") + &pem(b"two")).unwrap();
        std::fs::write(d.join("second.pem"), pem(b"never read")).unwrap();
        let certs = d.join("certs");
        std::fs::create_dir(&certs).unwrap();
        std::fs::write(certs.join("Root_A.pem"), pem(b"a")).unwrap();
        std::fs::write(certs.join("notes.txt"), "not a certificate").unwrap();
        // The c_rehash name of Root_A.pem: skipped, its target is read.
        std::os::unix::fs::symlink("Root_A.pem", certs.join("1a2b3c4d.0")).unwrap();
        // A link out of the directory (as Debian links to /usr/share): followed.
        std::fs::write(d.join("elsewhere.pem"), pem(b"b") + &pem(b"one")).unwrap();
        std::os::unix::fs::symlink(d.join("elsewhere.pem"), certs.join("Root_B.pem")).unwrap();
        let more = d.join("more");
        std::fs::create_dir(&more).unwrap();
        std::fs::write(more.join("c.crt"), pem(b"c")).unwrap();

        let roots = load(&Sources {
            files: vec![
                d.join("missing.pem"),
                d.join("first.pem"),
                d.join("second.pem"),
            ],
            dirs: vec![certs.clone(), d.join("no-such-dir"), more],
        });
        // Found twice ("one"), kept once; the rest in the order read.
        let want: Vec<Vec<u8>> = ["one", "two", "a", "b", "c"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert_eq!(ders(&roots), want);
        assert_eq!(roots.first_error, None, "missing files are no error");

        // A path that cannot be read for another reason is noted (here: a directory).
        let roots = load(&Sources {
            files: vec![certs.clone()],
            dirs: vec![],
        });
        assert!(roots.certs.is_empty());
        let e = roots.first_error.unwrap();
        assert!(e.starts_with(&certs.display().to_string()), "{e}");
    }

    #[test]
    fn this_systems_roots_are_found() {
        // Whatever the distribution, one of its paths is in the list; a machine without any
        // (a bare container) has none to find.
        if CERT_FILES.iter().all(|f| !Path::new(f).exists()) {
            return;
        }
        let roots = load(&Sources::from(&|_| None));
        assert!(roots.certs.len() > 10, "{} roots", roots.certs.len());
        let cached = system();
        assert!(Arc::ptr_eq(&cached, &system()), "read once");
    }
}
