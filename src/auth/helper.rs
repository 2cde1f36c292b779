//! Credential helpers: `docker-credential-<name> get` run as a child process, its time limit and
//! the cap on what it may print, and its answer read without letting a secret into an error.
//!
//! Auth may use `error`, `config` and `image_ref` only; this file needs `error` and `config`.

use std::io::{self, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{DOCKER_HUB_SERVER, HUB};
use crate::config::AuthConfig;
use crate::error::{Error, Result};

/// What a credential helper prints (and exits non-zero with) for an unknown server.
const HELPER_NOT_FOUND: &str = "credentials not found in native keychain";
/// A helper's answer is one small JSON object.
const MAX_HELPER_OUTPUT: usize = 1 << 20;

/// Runs `docker-credential-<name> get` with `server` on stdin; `Ok(None)` when the helper
/// has no credentials for it.
///
/// The helper is looked up in `dir`, or in `$PATH` when `dir` is `None`, and killed when it
/// runs longer than `timeout`. Its answer is what it wrote before it exited, also when a
/// process it started keeps its stdout open; no thread is left reading it.
pub(super) fn run_helper(
    name: &str,
    server: &str,
    dir: Option<&Path>,
    timeout: Duration,
) -> Result<Option<AuthConfig>> {
    if name.is_empty() || name.contains('/') || name.contains('\0') {
        return Err(Error::InvalidInput(format!(
            "invalid credential helper name {name:?}"
        )));
    }
    let program = format!("docker-credential-{name}");
    let path = match dir {
        Some(dir) => dir.join(&program),
        None => PathBuf::from(&program),
    };
    let (mut child, mut stdout) = spawn_helper(&path, &program)?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading its input is judged by its answer below.
        let _ = stdin.write_all(server.as_bytes());
    }
    // `None`: a timeout too long to be a point in time, i.e. none.
    let deadline = Instant::now().checked_add(timeout);
    let (status, out) = read_until_exit(&mut child, &mut stdout, &program, deadline, timeout)?;
    parse_helper_output(&program, server, status.success(), &out)
}

/// Starts `path get` with its stdin piped, its stdout on a socket whose other end is returned
/// (read with a time limit, which a pipe does not offer), and its stderr dropped (it may echo a
/// secret).
fn spawn_helper(path: &Path, program: &str) -> Result<(Child, UnixStream)> {
    let failed = |e: io::Error| Error::other(format!("credential helper {program}: {e}"));
    let (ours, theirs) = UnixStream::pair().map_err(failed)?;
    // The helper's end is closed here when the command is dropped, so that only the helper
    // (and what it starts) holds it.
    let child = Command::new(path)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::from(OwnedFd::from(theirs)))
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::other(format!(
                    "credential helper {program}: executable file not found"
                ))
            } else {
                failed(e)
            }
        })?;
    Ok((child, ours))
}

/// Reads the helper's output while polling it until it exits, with pauses growing to 20 ms;
/// kills it at `deadline` (`None`: never).
///
/// The answer is what the helper wrote before it exited: a process it started in the
/// background may keep its stdout open, and is not waited for (a read to the end of the
/// output would wait for it). Output past [`MAX_HELPER_OUTPUT`] is read and dropped, so the helper never blocks on
/// a full socket.
fn read_until_exit(
    child: &mut Child,
    stdout: &mut UnixStream,
    program: &str,
    deadline: Option<Instant>,
    timeout: Duration,
) -> Result<(ExitStatus, Vec<u8>)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8 << 10];
    let mut open = true;
    let mut pause = Duration::from_millis(1);
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                // Everything the helper wrote is in the socket by now: take it without
                // waiting for an end that a background process may hold back, in a bounded
                // number of reads (such a process may go on writing).
                if open && stdout.set_nonblocking(true).is_ok() {
                    for _ in 0..MAX_HELPER_OUTPUT / buf.len() + 64 {
                        if read_some(stdout, &mut buf, &mut out) != Got::Data {
                            break;
                        }
                    }
                }
                return Ok((status, out));
            }
            Ok(None) => {}
            Err(e) => {
                kill_and_reap(child);
                return Err(Error::other(format!("credential helper {program}: {e}")));
            }
        }
        let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            kill_and_reap(child);
            return Err(timed_out(program, timeout));
        }
        let wait = left
            .map_or(pause, |l| pause.min(l))
            .max(Duration::from_millis(1));
        pause = (pause * 2).min(Duration::from_millis(20));
        if !open || stdout.set_read_timeout(Some(wait)).is_err() {
            thread::sleep(wait);
            continue;
        }
        match read_some(stdout, &mut buf, &mut out) {
            Got::Data => pause = Duration::from_millis(1),
            Got::Nothing => {}
            Got::End => open = false,
        }
    }
}

/// What one read of the helper's output gave.
#[derive(PartialEq, Eq)]
enum Got {
    Data,
    /// Nothing within the read's time limit (or nothing waiting, when non-blocking).
    Nothing,
    /// The output ended (or failed).
    End,
}

/// One read into `out`, kept to [`MAX_HELPER_OUTPUT`] bytes.
fn read_some(stdout: &mut UnixStream, buf: &mut [u8], out: &mut Vec<u8>) -> Got {
    match io::Read::read(stdout, buf) {
        Ok(0) => Got::End,
        Ok(n) => {
            let room = MAX_HELPER_OUTPUT.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room).min(buf.len())]);
            Got::Data
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
            ) =>
        {
            Got::Nothing
        }
        Err(_) => Got::End,
    }
}

/// Kills the helper and waits for it, so that no zombie is left behind.
fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn timed_out(program: &str, timeout: Duration) -> Error {
    Error::Timeout {
        what: format!("credential helper {program}"),
        after: timeout,
    }
}

/// What a credential helper prints for `get`.
#[derive(Deserialize)]
struct HelperCredentials {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

fn parse_helper_output(
    program: &str,
    server: &str,
    success: bool,
    out: &[u8],
) -> Result<Option<AuthConfig>> {
    if !success {
        let message = String::from_utf8_lossy(out).trim().to_string();
        if message == HELPER_NOT_FOUND {
            return Ok(None);
        }
        // The message goes into errors and logs: a helper that printed credentials and then
        // failed must not leak them there.
        let message = if message.contains("\"Secret\"") {
            "(its output is not shown: it holds a secret)".to_string()
        } else {
            message
        };
        return Err(Error::other(format!(
            "error getting credentials from {program}: {message}"
        )));
    }
    // The output holds the secret: report where it is malformed, never what it says.
    let creds: HelperCredentials = serde_json::from_slice(out).map_err(|e| {
        Error::other(format!(
            "credential helper {program} printed malformed JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    if creds.username.is_empty() && creds.secret.is_empty() {
        return Ok(None);
    }
    let mut auth = AuthConfig {
        server_address: server.to_string(),
        ..AuthConfig::default()
    };
    // Helpers store identity tokens under the user name `<token>` (docker CLI convention).
    if creds.username == "<token>" {
        auth.identity_token = creds.secret;
    } else {
        auth.username = creds.username;
        auth.password = creds.secret;
    }
    Ok(Some(auth))
}

/// The server URL a helper is asked about: Docker Hub's key for Hub, else the registry host.
pub(super) fn server_url(registry: &str) -> String {
    if registry == HUB {
        DOCKER_HUB_SERVER.to_string()
    } else {
        registry.to_string()
    }
}

#[cfg(test)]
mod tests {
    //! Helpers run lazily and per registry, and every way a helper can fail.
    use super::*;
    use crate::auth::fixtures::*;
    use crate::auth::{get_image_registry_auth, AuthConfigurations};

    /// A helper that records its call and answers `user`/`secret`.
    fn answering(name: &str, user: &str, secret: &str) -> String {
        format!(
            r#"[ "$1" = get ] || exit 9
url=$(cat)
printf '{name}:%s\n' "$url" >> "$(dirname "$0")/calls"
printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{secret}"}}' "$url""#
        )
    }

    fn with_helpers(doc: &str, dir: &TempDir) -> AuthConfigurations {
        let mut a = load(doc).unwrap();
        a.set_helper_dir(dir.0.clone());
        a.set_helper_timeout(Duration::from_secs(20));
        a
    }

    #[test]
    fn helpers_are_asked_lazily_and_only_about_their_registry() {
        let dir = TempDir::new("helpers");
        dir.helper("quay", &answering("quay", "qu", "qsecret"));
        dir.helper("store", &answering("store", "su", "ssecret"));
        dir.helper("token", &answering("token", "<token>", "idtok"));
        let doc = r#"{
            "auths": {"r.io": {"auth": "ZmlsZTpmcA==", "email": "m@r"}, "file.io": {"auth": "ZmlsZTpmcA=="}},
            "credsStore": "store",
            "credHelpers": {"https://quay.io": "quay", "t.io": "token", "file.io": "missing"}
        }"#;
        let a = with_helpers(doc, &dir);
        assert!(dir.calls().is_empty(), "loading runs no helper");

        // credHelpers first, asked with exactly the registry host.
        let q = get_image_registry_auth(Some(&a), "quay.io/app/x:1");
        assert_eq!(creds(&q), ("qu", "qsecret", "", "quay.io"));
        assert_eq!(dir.calls(), ["quay:quay.io"]);

        // credsStore for everything else, Docker Hub asked as its canonical server URL; the
        // file's email is kept beside the helper's credentials.
        let hub = get_image_registry_auth(Some(&a), "busybox");
        assert_eq!(creds(&hub), ("su", "ssecret", "", DOCKER_HUB_SERVER));
        let r = get_image_registry_auth(Some(&a), "r.io/x");
        assert_eq!(creds(&r), ("su", "ssecret", "m@r", "r.io"));
        assert_eq!(
            dir.calls(),
            [
                "quay:quay.io",
                &format!("store:{DOCKER_HUB_SERVER}"),
                "store:r.io"
            ]
        );

        // `<token>` is an identity token.
        let t = a.get_registry_auth("t.io").unwrap().unwrap();
        assert_eq!(
            (t.username.as_str(), t.identity_token.as_str()),
            ("", "idtok")
        );
        assert!(t.password.is_empty());

        // A missing helper: an error from get_registry_auth, the file's entry from
        // get_image_registry_auth.
        let e = a.get_registry_auth("file.io").unwrap_err();
        assert!(e.to_string().contains("docker-credential-missing"), "{e}");
        let f = get_image_registry_auth(Some(&a), "file.io/x");
        assert_eq!(creds(&f), ("file", "fp", "", "file.io"));
        assert_eq!(dir.calls().len(), 4);
    }

    /// The threads of this process whose name starts with `prefix`.
    fn threads_named(prefix: &str) -> usize {
        std::fs::read_dir("/proc/self/task")
            .map(|tasks| {
                tasks
                    .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("comm")).ok())
                    .filter(|name| name.starts_with(prefix))
                    .count()
            })
            .unwrap_or(0)
    }

    #[test]
    fn a_helper_whose_child_keeps_stdout_open_answers_at_once() {
        let dir = TempDir::new("forking");
        // The answer, then a background process that inherits stdout and outlives the helper.
        dir.helper(
            "forking",
            r#"cat > /dev/null
echo '{"Username":"fu","Secret":"fs"}'
sleep 100 &
echo $! > "$(dirname "$0")/background""#,
        );
        let doc = r#"{"credHelpers": {"fork.io": "forking"}}"#;
        let a = with_helpers(doc, &dir);
        let started = Instant::now();
        let got = a.get_registry_auth("fork.io");
        let took = started.elapsed();
        if let Ok(pid) = std::fs::read_to_string(dir.0.join("background")) {
            let _ = std::process::Command::new("kill").arg(pid.trim()).status();
        }
        let got = got.unwrap().unwrap();
        assert_eq!((got.username.as_str(), got.password.as_str()), ("fu", "fs"));
        // Well within the 20 s limit: the helper's exit is enough.
        assert!(took < Duration::from_secs(5), "{took:?}");
        // And nothing of the call is left waiting for the background process.
        assert_eq!(threads_named("credential-help"), 0);
    }

    #[test]
    fn helper_failures_cost_only_their_registry() {
        let dir = TempDir::new("failing");
        dir.helper(
            "notfound",
            "cat > /dev/null\necho 'credentials not found in native keychain'\nexit 1",
        );
        dir.helper(
            "broken",
            "cat > /dev/null\necho 'boom: keychain locked'\nexit 3",
        );
        dir.helper(
            "garbage",
            "cat > /dev/null\necho '{\"Username\": \"u\", \"Secret\": \"s3cr3t\"'",
        );
        dir.helper(
            "leaky",
            "cat > /dev/null\necho '{\"Username\": \"u\", \"Secret\": \"s3cr3t\"}'\nexit 1",
        );
        dir.helper("empty", "cat > /dev/null\necho '{}'");
        dir.helper("slow", "exec sleep 30");
        dir.helper("good", &answering("good", "gu", "gs"));
        let doc = r#"{
            "auths": {"nf.io": {"auth": "ZmlsZTpmcA=="}},
            "credHelpers": {"nf.io": "notfound", "nf2.io": "notfound", "broken.io": "broken",
                            "garbage.io": "garbage", "leaky.io": "leaky", "empty.io": "empty",
                            "slow.io": "slow",
                            "nope.io": "nope", "good.io": "good", "evil.io": "../good"}
        }"#;
        let mut a = with_helpers(doc, &dir);
        a.set_helper_timeout(Duration::from_millis(300));

        // Not found: the file's entry, or anonymous; neither is an error.
        assert_eq!(
            a.get_registry_auth("nf.io").unwrap().unwrap().username,
            "file"
        );
        assert!(a.get_registry_auth("nf2.io").unwrap().is_none());

        let e = a.get_registry_auth("broken.io").unwrap_err();
        assert_eq!(
            e.to_string(),
            "error getting credentials from docker-credential-broken: boom: keychain locked"
        );
        let e = a.get_registry_auth("garbage.io").unwrap_err();
        assert!(e.to_string().contains("malformed JSON"), "{e}");
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        let e = a.get_registry_auth("leaky.io").unwrap_err();
        assert!(!e.to_string().contains("s3cr3t"), "{e}");
        assert!(e.to_string().contains("docker-credential-leaky"), "{e}");
        assert!(a.get_registry_auth("empty.io").unwrap().is_none());
        let e = a.get_registry_auth("nope.io").unwrap_err();
        assert!(e.to_string().contains("executable file not found"), "{e}");
        let e = a.get_registry_auth("evil.io").unwrap_err();
        assert!(
            e.to_string().contains("invalid credential helper name"),
            "{e}"
        );

        let started = Instant::now();
        let e = a.get_registry_auth("slow.io").unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "credential helper docker-credential-slow timed out after 300ms"
        );
        assert!(started.elapsed() < Duration::from_secs(5));

        // Through get_image_registry_auth every failure is anonymous, and other registries
        // are unaffected.
        for image in [
            "broken.io/x",
            "garbage.io/x",
            "slow.io/x",
            "nope.io/x",
            "evil.io/x",
        ] {
            assert!(
                get_image_registry_auth(Some(&a), image).is_empty(),
                "{image}"
            );
        }
        assert_eq!(
            get_image_registry_auth(Some(&a), "good.io/x").username,
            "gu"
        );
        assert_eq!(dir.calls(), ["good:good.io"]);
        // A timeout too long to add to the clock is no limit, not an overflow.
        a.set_helper_timeout(Duration::MAX);
        assert_eq!(
            a.get_registry_auth("good.io").unwrap().unwrap().username,
            "gu"
        );
    }
}
