//! Helpers shared by the integration tests: which engine to test against, the busybox test image,
//! unique names, and a guard that removes what a test created.
//!
//! They use std and `tar` only, never the library: an engine check or a cleanup must stay right when the
//! library under test is wrong. Include with `mod common;`.
//!
//! Environment (set by `bash .ci/run`): `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`),
//! `S2I_TEST_PODMAN_HOST`, `S2I_TEST_REGISTRY` (`127.0.0.1:PORT`), `S2I_TEST_REGISTRY_USER`,
//! `S2I_TEST_REGISTRY_PASSWORD`, `S2I_TEST_REGISTRY_CONFIG`, `S2I_TEST_TLS_HOST` (`tcp://127.0.0.1:PORT`),
//! `S2I_TEST_TLS_CERT_PATH` (`ca.pem`, `cert.pem`, `key.pem`), `S2I_TEST_TLS_WRONG_CA`,
//! `S2I_TEST_SSH_HOST` (`ssh://ALIAS`, an alias of the system ssh configuration reaching the Docker
//! engine), `S2I_TEST_SSH_WRONG_HOST_KEY`, `S2I_TEST_SSH_NO_DOCKER`.
#![allow(dead_code)] // each test binary uses a subset of these helpers

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, SystemTime};

/// The engine tests talk to when `S2I_TEST_DOCKER_HOST` is unset.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// A builder image of busybox alone (ENGINES.md); its build context needs `busybox` beside it, as
/// [`build_context_tar`] puts it.
pub const BUILDER_DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /tmp /usr/libexec/s2i /usr/bin && chmod 1777 /tmp && ln -s /bin/busybox /usr/bin/env
ENV PATH=/bin
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i
USER 1001
CMD ["/bin/sh"]
"#;

/// Whether this is a CI run, where a missing engine or service fails the test instead of skipping it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// The configured engine host, whether or not it answers.
pub fn configured_host() -> String {
    std::env::var("S2I_TEST_DOCKER_HOST")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| DEFAULT_HOST.to_string())
}

/// The engine to test against, if one answers `GET /_ping` there.
///
/// Prints `skipping: no engine at <host>` and returns `None` when none answers; under `CI=true` it
/// panics instead. Use it as `let Some(host) = common::engine_host() else { return };`.
pub fn engine_host() -> Option<String> {
    let host = configured_host();
    match raw_request(&host, "GET", "/_ping", None, &[]) {
        Ok(r) if r.status == 200 => Some(host),
        Ok(r) => skip_or_fail(&format!(
            "no engine at {host}: /_ping answered {}",
            r.status
        )),
        Err(e) => skip_or_fail(&format!("no engine at {host}: {e}")),
    }
}

/// The value of a test environment variable such as `S2I_TEST_REGISTRY`; when it is unset, prints a
/// skip line and returns `None`, or panics under `CI=true`.
pub fn env_or_skip(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => skip_or_fail(&format!("{name} is unset (bash .ci/run sets it)")),
    }
}

fn skip_or_fail<T>(why: &str) -> Option<T> {
    if in_ci() {
        panic!("{why}; with CI=true the engine tests never skip: run `bash .ci/run`, which starts what they need");
    }
    eprintln!("skipping: {why}");
    None
}

/// Whether the configured engine is Podman: `S2I_TEST_ENGINE=podman` says so, otherwise the `Server`
/// header of its `/_ping` (`Libpod/4.3.1 (linux)`) does.
pub fn is_podman() -> bool {
    if let Ok(engine) = std::env::var("S2I_TEST_ENGINE") {
        return engine.eq_ignore_ascii_case("podman");
    }
    raw_request(&configured_host(), "GET", "/_ping", None, &[])
        .ok()
        .and_then(|r| r.header("server").map(|s| s.starts_with("Libpod")))
        .unwrap_or(false)
}

/// Debian's static busybox, the one binary of the test images.
pub fn busybox_path() -> &'static Path {
    static CHECKED: OnceLock<Result<(), String>> = OnceLock::new();
    let path = Path::new("/bin/busybox");
    let checked = CHECKED.get_or_init(|| match std::fs::read(path) {
        Err(e) => Err(format!("{}: {e}", path.display())),
        Ok(elf) if has_interpreter(&elf) => Err(format!(
            "{} is dynamically linked, so it cannot run in a FROM scratch image",
            path.display()
        )),
        Ok(_) => Ok(()),
    });
    if let Err(why) = checked {
        panic!("{why}: install Debian's busybox-static (apt-get install -y busybox-static)");
    }
    path
}

/// Whether an ELF64 little-endian file has a `PT_INTERP` program header (is dynamically linked).
fn has_interpreter(elf: &[u8]) -> bool {
    let u16_at = |o: usize| {
        elf.get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]) as usize)
    };
    let u32_at = |o: usize| {
        elf.get(o..o + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let u64_at = |o: usize| {
        elf.get(o..o + 8)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
    };
    if elf.get(..5) != Some(b"\x7fELF\x02") {
        return false;
    }
    let (Some(phoff), Some(size), Some(count)) = (u64_at(0x20), u16_at(0x36), u16_at(0x38)) else {
        return false;
    };
    (0..count).any(|i| u32_at(phoff as usize + i * size) == Some(3))
}

/// Builds `dockerfile` (with `busybox` beside it in the context) as `tag`, without the build
/// cache and with no network, through a plain `POST /build`; panics with the build's output
/// when it fails. The cleanup guard is told about `tag` first, so a failed build's tag goes too.
pub fn build_image(host: &str, cleanup: &Cleanup, tag: &str, dockerfile: &str) {
    cleanup.image(tag);
    let context = build_context_tar(dockerfile, &[]);
    let path = format!("/build?t={tag}&nocache=1&rm=1&forcerm=1&networkmode=none");
    let built = raw_request(host, "POST", &path, Some("application/x-tar"), &context)
        .unwrap_or_else(|e| panic!("build of {tag}: {e}"));
    let out = String::from_utf8_lossy(&built.body);
    assert!(
        built.status == 200 && !out.contains("errorDetail"),
        "build of {tag}: HTTP {}: {out}",
        built.status
    );
}

/// A build context (an uncompressed tar) with `Dockerfile`, `busybox` and the given files as
/// `(path, content, mode)`.
pub fn build_context_tar(dockerfile: &str, files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let busybox = std::fs::read(busybox_path()).expect("read /bin/busybox");
    let mut tar = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut header = tar::Header::new_ustar();
        header.set_size(data.len() as u64);
        header.set_mode(mode);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, path, data)
            .unwrap_or_else(|e| panic!("add {path} to the build context: {e}"));
    };
    add("Dockerfile", dockerfile.as_bytes(), 0o644);
    add("busybox", &busybox, 0o755);
    for (path, data, mode) in files {
        add(path, data, *mode);
    }
    tar.into_inner().expect("finish the build context")
}

/// A name no other test (or test run) uses: `prefix`, the process id, a counter and a random part, in
/// lower case. Prefixes start with `s2i_` (containers) or `s2i-test` (image repositories): `.ci/run`
/// fails a run that leaves such names behind.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    assert!(
        prefix.starts_with("s2i_") || prefix.starts_with("s2i-test"),
        "test names start with s2i_ (containers) or s2i-test (images), not {prefix:?}"
    );
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut h = RandomState::new().build_hasher();
    h.write_u64(n);
    if let Ok(d) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        h.write_u128(d.as_nanos());
    }
    format!(
        "{prefix}{}-{n}-{:08x}",
        std::process::id(),
        h.finish() as u32
    )
    .to_lowercase()
}

/// Removes, when dropped (a failing test too), the containers and images a test recorded, through plain
/// HTTP requests to the engine: containers first (`DELETE /containers/{id}?force=1&v=1`), then images
/// (`DELETE /images/{name}?force=1`), newest first. Already gone is fine; other failures are printed.
pub struct Cleanup {
    host: String,
    containers: Mutex<Vec<String>>,
    images: Mutex<Vec<String>>,
}

impl Cleanup {
    /// A guard for the engine at `host` (`unix://`, plain `tcp://` or `ssh://`).
    pub fn new(host: &str) -> Cleanup {
        Cleanup {
            host: host.to_string(),
            containers: Mutex::default(),
            images: Mutex::default(),
        }
    }

    /// Records a container (ID or name) to remove.
    pub fn container(&self, id: &str) {
        self.containers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(id.to_string());
    }

    /// Records an image (name, `name:tag` or ID) to remove.
    pub fn image(&self, name: &str) {
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_string());
    }

    fn delete(&self, what: &str, path: &str) {
        match raw_request(&self.host, "DELETE", path, None, &[]) {
            Ok(r) if r.status < 300 || r.status == 404 => {}
            Ok(r) => eprintln!(
                "cleanup: {what}: {} {}",
                r.status,
                String::from_utf8_lossy(&r.body)
            ),
            Err(e) => eprintln!("cleanup: {what}: {e}"),
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let containers =
            std::mem::take(self.containers.get_mut().unwrap_or_else(|e| e.into_inner()));
        for id in containers.iter().rev() {
            self.delete(
                &format!("container {id}"),
                &format!("/containers/{id}?force=1&v=1"),
            );
        }
        let images = std::mem::take(self.images.get_mut().unwrap_or_else(|e| e.into_inner()));
        for name in images.iter().rev() {
            self.delete(&format!("image {name}"), &format!("/images/{name}?force=1"));
        }
    }
}

/// A whole response of [`raw_request`].
pub struct RawResponse {
    /// The status code.
    pub status: u16,
    /// The header lines, `name: value`.
    pub headers: Vec<String>,
    /// The body, with chunked transfer coding removed.
    pub body: Vec<u8>,
}

impl RawResponse {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// One HTTP/1.1 request to an engine on a new connection (`Connection: close`), independent of the
/// library; for checks and cleanup in tests. `body` goes with `content_type` when that is given.
pub fn raw_request(
    host: &str,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: &[u8],
) -> io::Result<RawResponse> {
    let headers: Vec<(&str, &str)> = content_type
        .map(|ct| ("Content-Type", ct))
        .into_iter()
        .collect();
    raw_request_with_headers(host, method, path, &headers, body)
}

/// [`raw_request`] with these extra headers (e.g. `X-Registry-Auth`).
pub fn raw_request_with_headers(
    host: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<RawResponse> {
    let timeout = Some(Duration::from_secs(120));
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut raw = Vec::new();
    if let Some(path) = host.strip_prefix("unix://") {
        let mut s = UnixStream::connect(path)?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(timeout)?;
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        s.read_to_end(&mut raw)?;
    } else if let Some(addr) = host.strip_prefix("tcp://") {
        let mut s = TcpStream::connect(addr)?;
        s.set_read_timeout(timeout)?;
        s.set_write_timeout(timeout)?;
        s.write_all(head.as_bytes())?;
        s.write_all(body)?;
        s.read_to_end(&mut raw)?;
    } else if let Some(target) = host.strip_prefix("ssh://") {
        raw = ssh_exchange(target, head.as_bytes(), body)?;
    } else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("not a unix://, tcp:// or ssh:// host: {host}"),
        ));
    }
    parse_response(&raw)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response"))
}

/// One exchange with the engine behind `ssh://[user@]host[:port]` (no IPv6 literal), through
/// `ssh ... docker system dial-stdio` as the docker CLI reaches it; the input stays open until
/// the engine has answered and closed (a half-closed request may be cut short by the engine).
fn ssh_exchange(target: &str, head: &[u8], body: &[u8]) -> io::Result<Vec<u8>> {
    use std::process::{Command, Stdio};
    let (user, address) = match target.trim_end_matches('/').rsplit_once('@') {
        Some((u, a)) => (Some(u), a),
        None => (None, target.trim_end_matches('/')),
    };
    let (name, port) = match address.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (address, None),
    };
    let mut cmd = Command::new("timeout");
    cmd.args([
        "120",
        "ssh",
        "-o",
        "ConnectTimeout=30",
        "-o",
        "BatchMode=yes",
        "-T",
    ]);
    if let Some(user) = user {
        cmd.args(["-l", user]);
    }
    if let Some(port) = port {
        cmd.args(["-p", port]);
    }
    cmd.args(["--", name, "docker", "system", "dial-stdio"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("piped");
    let written = stdin.write_all(head).and_then(|()| stdin.write_all(body));
    let mut raw = Vec::new();
    let read = child.stdout.take().expect("piped").read_to_end(&mut raw);
    drop(stdin);
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("piped")
        .read_to_string(&mut stderr)?;
    let status = child.wait()?;
    if raw.is_empty() {
        let why = written.err().map(|e| e.to_string()).unwrap_or_default();
        return Err(io::Error::new(
            io::ErrorKind::ConnectionRefused,
            format!("ssh {target} ({status}): {} {why}", stderr.trim()),
        ));
    }
    read?;
    Ok(raw)
}

fn parse_response(raw: &[u8]) -> Option<RawResponse> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<String> = lines.map(str::to_string).collect();
    let mut response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let mut rest = &raw[end + 4..];
    if !response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        response.body = rest.to_vec();
        return Some(response);
    }
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Some(response);
        }
        response.body.extend_from_slice(rest.get(..size)?);
        rest = rest.get(size + 2..)?;
    }
}
