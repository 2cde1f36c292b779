//! `ssh://` engines: every connection is a child process of the system `ssh` client running
//! `docker system dial-stdio` on the remote host, whose standard input and output carry the
//! HTTP bytes (what the docker CLI does, see its `cli/connhelper`).
//!
//! The command is `ssh -o ConnectTimeout=<s> -o BatchMode=yes -T [-l user] [-p port] -- host
//! docker system dial-stdio`: the docker CLI's arguments plus `BatchMode=yes`, so that a key
//! passphrase or a password is never asked for on a terminal a library cannot answer (keys come
//! from the agent or from files without a passphrase). Everything else (keys, known hosts,
//! aliases, jump hosts) is ssh's own configuration.
//!
//! The child's standard input and output are the two ends of one Unix socket pair rather than
//! two pipes, so that the connection gets a socket's time limits, non-blocking mode and
//! shutdown from std: shutting down the writing side is the half-close an attached container's
//! standard input needs (ssh passes the end of its input on, and `dial-stdio` closes the
//! engine connection for writing). Standard error goes to a thread that keeps its last
//! [`STDERR_TAIL`] bytes for the error message when ssh fails.
//!
//! ssh only fails once it is running, so a failure shows when the connection first ends: an
//! end of stream or a broken pipe, before any byte came back, while ssh exited with a failure
//! status, becomes [`Error::Connect`] with the command, the status and ssh's standard error;
//! later, an I/O error keeps its kind and gains the same text, and an end of stream stays one.
//!
//! The child is put in a process group of its own (a terminal's Ctrl-C does not reach it
//! before the library has cleaned up), and is killed and reaped when the connection is
//! dropped, on every path. Should the process itself be killed, its children end on their
//! own: their input ends, `dial-stdio` closes the engine connection, and ssh exits.
//!
//! Uses nothing outside the transport but `error` (and std, `log`).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::connector::{Connection, Connector};
use super::host::Host;
use crate::error::{ConnectFailure, Error};

/// How much of ssh's standard error is kept for error messages: the last 4 KiB.
pub(crate) const STDERR_TAIL: usize = 4 * 1024;

/// The connect limit when the transport gives none (the docker CLI's `ConnectTimeout=30`).
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection that ended waits for ssh to exit before it takes the end as it is.
const EXIT_WAIT: Duration = Duration::from_secs(2);

/// How long an error message waits for the rest of ssh's standard error after ssh exited.
const STDERR_WAIT: Duration = Duration::from_millis(500);

/// How long dropping a connection waits for the end of ssh's standard error after killing it.
const DROP_WAIT: Duration = Duration::from_millis(100);

/// The remote command: the engine's socket on the standard input and output.
const REMOTE_COMMAND: [&str; 3] = ["docker", "system", "dial-stdio"];

/// Opens connections to an `ssh://` host, one `ssh` child each.
pub(crate) struct SshConnector {
    /// `ssh://...`, for errors.
    name: String,
    user: Option<String>,
    host: String,
    port: Option<u16>,
    /// The ssh client: `ssh` from `PATH` (tests put a script in its place).
    program: PathBuf,
}

impl SshConnector {
    /// A connector for `host`, `None` unless it is an `ssh://` host.
    pub(crate) fn new(host: &Host) -> Option<SshConnector> {
        let Host::Ssh {
            user,
            host: name,
            port,
        } = host
        else {
            return None;
        };
        Some(SshConnector {
            name: host.to_string(),
            user: user.clone(),
            host: name.clone(),
            port: *port,
            program: PathBuf::from("ssh"),
        })
    }

    /// The arguments after the program name.
    fn args(&self, connect_timeout: Duration) -> Vec<String> {
        // Whole seconds, rounded up: ssh takes no fractions, and 0 would mean no limit.
        let secs = connect_timeout
            .as_secs()
            .saturating_add(u64::from(connect_timeout.subsec_nanos() > 0))
            .max(1);
        let mut args = vec![
            "-o".to_string(),
            format!("ConnectTimeout={secs}"),
            "-o".to_string(),
            "BatchMode=yes".to_string(),
            "-T".to_string(),
        ];
        if let Some(user) = &self.user {
            args.extend(["-l".to_string(), user.clone()]);
        }
        if let Some(port) = self.port {
            args.extend(["-p".to_string(), port.to_string()]);
        }
        args.extend(["--".to_string(), self.host.clone()]);
        args.extend(REMOTE_COMMAND.map(String::from));
        args
    }

    fn spawn(&self, connect_timeout: Duration) -> io::Result<SshConnection> {
        let args = self.args(connect_timeout);
        let command = format!("[{} {}]", self.program.display(), args.join(" "));
        log::debug!("{}: starting {command}", self.name);
        let (ours, theirs) = UnixStream::pair()?;
        let theirs_out = theirs.try_clone()?;
        let mut cmd = Command::new(&self.program);
        cmd.args(&args)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::from(OwnedFd::from(theirs_out)))
            .stderr(Stdio::piped())
            .process_group(0);
        let spawned = cmd.spawn();
        // The child's ends of the socket pair live in `cmd`: only ssh may hold them, or its exit
        // would never read as the end of the stream.
        drop(cmd);
        let mut child = spawned.map_err(|e| {
            io::Error::other(format!(
                "cannot run {command} (is the OpenSSH client installed?): {e}"
            ))
        })?;
        let stderr = Arc::new(Tail::default());
        let collecting = child.stderr.take().map(|pipe| {
            let tail = Arc::clone(&stderr);
            std::thread::Builder::new()
                .name("s2i-ssh-stderr".into())
                .spawn(move || tail.collect(pipe))
        });
        if let Some(Err(e)) = collecting {
            reap(&mut child);
            return Err(e);
        }
        Ok(SshConnection {
            socket: ours,
            child: Mutex::new(child),
            stderr,
            name: self.name.clone(),
            command,
            received: AtomicBool::new(false),
            shut_down: AtomicBool::new(false),
            nonblocking: AtomicBool::new(false),
        })
    }
}

impl Connector for SshConnector {
    fn connect(&self) -> io::Result<Box<dyn Connection>> {
        self.connect_within(DEFAULT_CONNECT_TIMEOUT)
    }

    fn connect_within(&self, timeout: Duration) -> io::Result<Box<dyn Connection>> {
        Ok(Box::new(self.spawn(timeout)?))
    }
}

impl fmt::Debug for SshConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshConnector")
            .field("host", &self.name)
            .finish()
    }
}

/// Kills and reaps a child (already gone is fine).
fn reap(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    if let Err(e) = child.kill() {
        log::debug!("killing ssh (pid {}): {e}", child.id());
    }
    if let Err(e) = child.wait() {
        log::warn!("reaping ssh (pid {}): {e}", child.id());
    }
}

/// The last [`STDERR_TAIL`] bytes of ssh's standard error, filled by a thread of its own.
#[derive(Default)]
struct Tail {
    state: Mutex<TailState>,
    done: Condvar,
}

#[derive(Default)]
struct TailState {
    bytes: Vec<u8>,
    /// Bytes dropped from the front to stay within the bound.
    dropped: bool,
    /// The pipe reached its end (ssh and whatever inherited its standard error are gone).
    finished: bool,
}

impl Tail {
    fn lock(&self) -> MutexGuard<'_, TailState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn collect(&self, mut pipe: ChildStderr) {
        let mut buf = [0u8; 1024];
        loop {
            match pipe.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => self.push(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        // Closed before `finished` says so: a dropped connection leaves no descriptor behind.
        drop(pipe);
        self.lock().finished = true;
        self.done.notify_all();
    }

    fn push(&self, data: &[u8]) {
        let mut state = self.lock();
        state.bytes.extend_from_slice(data);
        if state.bytes.len() > STDERR_TAIL {
            let excess = state.bytes.len() - STDERR_TAIL;
            state.bytes.drain(..excess);
            state.dropped = true;
        }
    }

    /// Waits until the pipe has ended or `wait` has passed.
    fn wait_finished(&self, wait: Duration) -> MutexGuard<'_, TailState> {
        let deadline = Instant::now() + wait;
        let mut state = self.lock();
        while !state.finished {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                break;
            };
            state = self
                .done
                .wait_timeout(state, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        state
    }

    /// The text so far, once the pipe has ended or `wait` has passed.
    fn text(&self, wait: Duration) -> String {
        let state = self.wait_finished(wait);
        let text = String::from_utf8_lossy(&state.bytes);
        let text = text.trim();
        if state.dropped {
            format!("...{text}")
        } else {
            text.to_string()
        }
    }
}

/// One `ssh` child and our end of its standard input and output.
struct SshConnection {
    socket: UnixStream,
    child: Mutex<Child>,
    stderr: Arc<Tail>,
    name: String,
    command: String,
    /// Some byte came back: from now on a failure is no longer a connect failure.
    received: AtomicBool,
    /// This side shut the socket down for reading (a cancel): an end of stream is ours.
    shut_down: AtomicBool,
    nonblocking: AtomicBool,
}

/// Failures that mean the other end of the socket pair is gone.
fn is_broken(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::UnexpectedEof
    )
}

impl SshConnection {
    /// ssh's exit status, waiting up to `wait` for it to exit.
    fn exit_status(&self, wait: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + wait;
        let mut child = self.child.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Ok(None) | Err(_) => return None,
            }
        }
    }

    /// Whether a reset read after the first bytes is the end of the stream: ssh closed its end
    /// with input of ours unread in it because the remote command ended (`dial-stdio` exits
    /// when the engine closes, for one when an attached container exits while its input is
    /// still being written). The kernel reports that as a reset after the last byte where a
    /// socket to the engine shows an end of stream. ssh's own failures (exit status 255, a
    /// signal) stay errors.
    fn remote_ended(&self) -> bool {
        if !self.received.load(Ordering::SeqCst) || self.shut_down.load(Ordering::SeqCst) {
            return false;
        }
        self.exit_status(EXIT_WAIT)
            .and_then(|status| status.code())
            .is_some_and(|code| code != 255)
    }

    /// The error to report instead of `cause` (`None`: the end of the stream) when the other
    /// end went away because ssh failed: the command, its status and its standard error.
    ///
    /// Before any byte came back that is the connect error. After, an end of stream stays one
    /// (as on a socket: the engine may close, and `dial-stdio` may then exit with a complaint
    /// about the other direction), and an error keeps its kind, which callers go by (a broken
    /// pipe on an attached container's input that has exited).
    fn failure(&self, cause: Option<&io::Error>) -> Option<io::Error> {
        if self.shut_down.load(Ordering::SeqCst) || self.nonblocking.load(Ordering::SeqCst) {
            return None;
        }
        let received = self.received.load(Ordering::SeqCst);
        if received && cause.is_none() {
            return None;
        }
        let status = self.exit_status(EXIT_WAIT)?;
        if status.success() {
            return None;
        }
        let stderr = self.stderr.text(STDERR_WAIT);
        let message = format!(
            "command {} has exited with {}, make sure the URL is valid, and Docker 18.09 or \
             later is installed on the remote host: stderr={stderr}",
            self.command,
            describe(status)
        );
        match cause {
            Some(e) if received => Some(io::Error::new(e.kind(), format!("{e}: {message}"))),
            _ => Some(io::Error::other(Error::Connect {
                host: self.name.clone(),
                failure: ConnectFailure::Other,
                source: io::Error::new(kind_of(&stderr), message),
            })),
        }
    }
}

/// `exit status 255` or `signal: 9`, as Go prints a failed command.
fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => format!("signal: {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The I/O error kind that fits what ssh said, so that the error's predicates (e.g.
/// [`Error::is_connection_error`]) see a refused or dropped connection as one.
fn kind_of(stderr: &str) -> io::ErrorKind {
    let said = |what: &str| stderr.contains(what);
    if said("Connection refused") {
        io::ErrorKind::ConnectionRefused
    } else if said("timed out") {
        io::ErrorKind::TimedOut
    } else if said("Connection reset") || said("closed by remote host") {
        io::ErrorKind::ConnectionReset
    } else if said("Permission denied") || said("Host key verification failed") {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    }
}

impl Connection for SshConnection {
    fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match (&self.socket).read(buf) {
            Ok(0) if !buf.is_empty() => self.failure(None).map_or(Ok(0), Err),
            Ok(n) => {
                if n > 0 {
                    self.received.store(true, Ordering::SeqCst);
                }
                Ok(n)
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset && self.remote_ended() => Ok(0),
            Err(e) if is_broken(&e) => Err(self.failure(Some(&e)).unwrap_or(e)),
            Err(e) => Err(e),
        }
    }

    fn write(&self, buf: &[u8]) -> io::Result<usize> {
        match (&self.socket).write(buf) {
            Err(e) if is_broken(&e) => Err(self.failure(Some(&e)).unwrap_or(e)),
            other => other,
        }
    }

    fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.shut_down.store(true, Ordering::SeqCst);
        }
        self.socket.shutdown(how)
    }

    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_read_timeout(timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.socket.set_write_timeout(timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        self.socket.set_nonblocking(nonblocking)?;
        self.nonblocking.store(nonblocking, Ordering::SeqCst);
        Ok(())
    }
}

impl Drop for SshConnection {
    fn drop(&mut self) {
        let _ = self.socket.shutdown(Shutdown::Both);
        reap(self.child.get_mut().unwrap_or_else(|p| p.into_inner()));
        // ssh is gone, so its standard error ends at once (and its descriptor with it), unless
        // something ssh started still holds it: then the thread finishes on its own later.
        drop(self.stderr.wait_finished(DROP_WAIT));
    }
}

#[cfg(test)]
mod tests {
    //! The ssh connector with shell scripts in the place of `ssh`: the argument list, HTTP through
    //! the child, half-close, failures with ssh's standard error, limits, cancelling, and no child
    //! left behind on any path. `tests/engine_ssh.rs` does the same against a real sshd.

    use std::io::{Read, Write};
    use std::net::Shutdown;
    use std::path::Path;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::error::{ConnectFailure, Error};
    use crate::fake::testing::wire::{req, TempDir};
    use crate::transport::{Cancel, Transport, Upgrade};

    /// Answers every request head on its input with `200 OK`, until its input ends.
    const HTTP_OK: &str = r#"while IFS= read -r line; do
      [ "$line" = "$(printf '\r')" ] && printf 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK'
    done"#;

    fn host() -> Host {
        Host::parse("ssh://me@remote:2222", false).unwrap()
    }

    /// A connector whose `ssh` is a shell script with `body`, in `dir`.
    fn scripted(dir: &TempDir, name: &str, body: &str) -> SshConnector {
        let path = dir.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut c = SshConnector::new(&host()).unwrap();
        c.program = path;
        c
    }

    /// Connects, trying again while another test's fork still holds the new script open for
    /// writing (`ETXTBSY`, a race of tests that write executables, not of the connector).
    fn connect(c: &SshConnector, timeout: Duration) -> SshConnection {
        for _ in 0..50 {
            match c.spawn(timeout) {
                Ok(conn) => return conn,
                Err(e) if e.to_string().contains("Text file busy") => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("the script stayed busy");
    }

    fn transport(c: SshConnector) -> Transport {
        Transport::with_connector(host(), Arc::new(c))
    }

    /// Whether process `pid` still exists (a zombie counts).
    fn exists(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
    }

    #[test]
    fn the_arguments_are_the_docker_clis_plus_batch_mode() {
        let c = SshConnector::new(&host()).unwrap();
        assert_eq!(
            c.args(Duration::from_millis(1500)).join(" "),
            "-o ConnectTimeout=2 -o BatchMode=yes -T -l me -p 2222 -- remote docker system dial-stdio"
        );
        let bare = SshConnector::new(&Host::parse("ssh://alias", false).unwrap()).unwrap();
        assert_eq!(
            bare.args(Duration::ZERO).join(" "),
            "-o ConnectTimeout=1 -o BatchMode=yes -T -- alias docker system dial-stdio"
        );
        assert!(SshConnector::new(&Host::Unix("/x".into())).is_none());
        assert_eq!(
            format!("{c:?}"),
            r#"SshConnector { host: "ssh://me@remote:2222" }"#
        );
    }

    #[test]
    fn requests_go_through_the_child_and_its_connection_is_reused() {
        let dir = TempDir::new();
        let t = transport(scripted(&dir, "ssh", HTTP_OK));
        // The first script may still be busy (see `connect`): make it run once before.
        drop(connect(
            &scripted(&dir, "ssh", HTTP_OK),
            Duration::from_secs(1),
        ));
        for _ in 0..3 {
            let r = t.send(req("GET", "/_ping"), None).unwrap();
            assert_eq!(r.read_to_vec(16).unwrap(), b"OK");
        }
        assert_eq!(t.shared.idle_count(), 1, "one child for all three");
    }

    #[test]
    fn closing_the_input_half_closes_and_the_output_is_read_to_its_end() {
        let dir = TempDir::new();
        let c = scripted(&dir, "ssh", "cat; printf ':bye'");
        let conn = connect(&c, Duration::from_secs(1));
        (&conn.socket).write_all(b"stdin data").unwrap();
        conn.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 64];
        loop {
            match conn.read(&mut buf).unwrap() {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, b"stdin data:bye");
        assert!(conn.exit_status(Duration::from_secs(5)).unwrap().success());
    }

    #[test]
    fn a_failing_ssh_is_a_connect_error_with_its_stderr() {
        let dir = TempDir::new();
        let c = scripted(
            &dir,
            "ssh",
            "echo 'Host key verification failed.' >&2; exit 255",
        );
        let program = c.program.display().to_string();
        drop(connect(&c, Duration::from_secs(1)));
        let t = transport(c);
        let e = t.send(req("GET", "/_ping"), None).unwrap_err();
        let Error::Connect {
            host,
            failure,
            source,
        } = &e
        else {
            panic!("{e:?}");
        };
        assert_eq!(host, "ssh://me@remote:2222");
        assert_eq!(*failure, ConnectFailure::Other);
        assert_eq!(source.kind(), io::ErrorKind::PermissionDenied);
        assert_eq!(
            e.to_string(),
            format!(
                "error during connect: ssh://me@remote:2222: command [{program} -o ConnectTimeout=5 \
                 -o BatchMode=yes -T -l me -p 2222 -- remote docker system dial-stdio] has exited \
                 with exit status 255, make sure the URL is valid, and Docker 18.09 or later is \
                 installed on the remote host: stderr=Host key verification failed."
            )
        );
    }

    #[test]
    fn the_stderr_of_a_failure_is_bounded_to_its_end() {
        let dir = TempDir::new();
        let c = scripted(
            &dir,
            "ssh",
            r#"i=0; while [ $i -lt 1000 ]; do echo "complaint $i" >&2; i=$((i+1)); done
echo 'Connection closed by 10.0.0.1 port 22' >&2
exit 255"#,
        );
        drop(connect(&c, Duration::from_secs(1)));
        let t = transport(c);
        let e = t.send(req("GET", "/x"), None).unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        let text = e.to_string();
        let stderr = text.split_once("stderr=").unwrap().1;
        assert!(stderr.starts_with("..."), "{stderr}");
        assert!(stderr.len() <= STDERR_TAIL + 3, "{}", stderr.len());
        assert!(stderr.ends_with("complaint 999\nConnection closed by 10.0.0.1 port 22"));
        assert!(!stderr.contains("complaint 0\n"));
    }

    #[test]
    fn after_the_first_bytes_an_end_stays_an_end_and_errors_keep_their_kind() {
        let dir = TempDir::new();
        // A head and part of its body, then ssh fails (having read the whole request: unread
        // bytes would make the end a reset): the body is cut short, as on a socket.
        let c = scripted(
            &dir,
            "ssh",
            r#"while IFS= read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
printf 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'
echo 'Connection to remote closed by remote host.' >&2
exit 255"#,
        );
        drop(connect(&c, Duration::from_secs(1)));
        let r = transport(c).send(req("GET", "/x"), None).unwrap();
        let e = r.read_to_vec(100).unwrap_err();
        assert!(!e.to_string().contains("stderr="), "{e}");

        // A write after ssh failed: a broken pipe still, with what ssh said.
        let c = scripted(&dir, "ssh2", "printf x; echo oops >&2; exit 3");
        let conn = connect(&c, Duration::from_secs(1));
        let mut buf = [0u8; 8];
        assert_eq!(conn.read(&mut buf).unwrap(), 1);
        assert!(!conn.exit_status(Duration::from_secs(5)).unwrap().success());
        let e = conn.write(b"more").unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::BrokenPipe, "{e}");
        let text = e.to_string();
        assert!(text.contains("has exited with exit status 3"), "{text}");
        assert!(text.ends_with("stderr=oops"), "{text}");
        assert_eq!(conn.read(&mut buf).unwrap(), 0, "the end stays an end");
    }

    #[test]
    fn a_remote_command_that_ends_with_our_input_unread_ends_the_stream() {
        let dir = TempDir::new();
        for (name, status, ends) in [("ssh-ended", 1, true), ("ssh-failed", 255, false)] {
            // Output, then an exit without reading the input: the kernel reports a reset.
            let body = format!("printf hello; sleep 0.3; exit {status}");
            let c = scripted(&dir, name, &body);
            let conn = connect(&c, Duration::from_secs(1));
            conn.write(&[b'x'; 1000]).unwrap();
            let mut buf = [0u8; 16];
            let mut got = Vec::new();
            let end = loop {
                match conn.read(&mut buf) {
                    Ok(0) => break Ok(()),
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) => break Err(e),
                }
            };
            assert_eq!(got, b"hello", "{name}");
            match end {
                Ok(()) => assert!(ends, "{name}: an end, not an error"),
                Err(e) => {
                    assert!(!ends, "{name}: {e}");
                    assert_eq!(e.kind(), io::ErrorKind::ConnectionReset, "{e}");
                }
            }
        }
    }

    #[test]
    fn a_missing_ssh_says_so() {
        let mut c = SshConnector::new(&host()).unwrap();
        c.program = "/nonexistent/ssh".into();
        let t = transport(c);
        match t.send(req("GET", "/_ping"), None) {
            Err(
                e @ Error::Connect {
                    failure: ConnectFailure::Other,
                    ..
                },
            ) => {
                let text = e.to_string();
                assert!(
                    text.starts_with(
                        "error during connect: ssh://me@remote:2222: cannot run [/nonexistent/ssh -o"
                    ),
                    "{text}"
                );
                assert!(
                    text.contains("(is the OpenSSH client installed?)"),
                    "{text}"
                );
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_silent_child_times_out_is_cancelled_and_is_reaped_on_drop() {
        let dir = TempDir::new();
        let c = scripted(&dir, "ssh", "exec sleep 600");
        let conn = connect(&c, Duration::from_secs(1));
        let pid = conn.child.lock().unwrap().id();
        assert!(exists(pid));
        conn.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let e = conn.read(&mut [0u8; 8]).unwrap_err();
        assert!(matches!(
            e.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        conn.set_nonblocking(true).unwrap();
        let e = conn.read(&mut [0u8; 8]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        conn.set_nonblocking(false).unwrap();
        drop(conn);
        assert!(!exists(pid), "killed and reaped");

        // Through a transport: a response limit, then a cancel from another thread.
        let t = Arc::new(transport(c));
        let mut r = req("GET", "/slow");
        r.timeouts.response = Some(Duration::from_millis(100));
        assert!(matches!(t.send(r, None), Err(Error::Timeout { .. })));
        let cancel = Cancel::new();
        let waiting = {
            let (t, cancel) = (Arc::clone(&t), cancel.clone());
            std::thread::spawn(move || {
                let mut r = req("POST", "/wait");
                r.timeouts.response = None;
                t.send(r, Some(&cancel))
            })
        };
        std::thread::sleep(Duration::from_millis(100));
        let start = Instant::now();
        cancel.cancel();
        assert!(matches!(waiting.join().unwrap(), Err(Error::Cancelled)));
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "no wait for the child"
        );
        assert_eq!(t.shared.idle_count(), 0);
        assert!(children_of_this_process("sleep").is_empty());
    }

    #[test]
    fn an_upgraded_stream_half_closes_through_the_child() {
        let dir = TempDir::new();
        let c = scripted(
            &dir,
            "ssh",
            r#"while IFS= read -r line; do [ "$line" = "$(printf '\r')" ] && break; done
    printf 'HTTP/1.1 101 UPGRADED\r\nUpgrade: tcp\r\n\r\nhi:'
    cat
    printf ':bye'"#,
        );
        drop(connect(&c, Duration::from_secs(1)));
        let t = transport(c);
        let Upgrade::Switched(up) = t.upgrade(req("POST", "/attach"), None).unwrap() else {
            panic!("not upgraded");
        };
        let (mut rd, mut wr) = up.split();
        wr.write_all(b"input").unwrap();
        crate::transport::StdinWriter::close_write(&mut wr).unwrap();
        let mut got = Vec::new();
        rd.read_to_end(&mut got).unwrap();
        assert_eq!(got, b"hi:input:bye");
    }

    /// The pids of this process's children running `name` (zombies included).
    fn children_of_this_process(name: &str) -> Vec<u32> {
        let me = std::process::id().to_string();
        let mut found = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // pid (comm) state ppid ...
            let Some((comm, rest)) = stat.split_once(") ") else {
                continue;
            };
            let ppid = rest.split_whitespace().nth(1);
            if ppid == Some(me.as_str()) && comm.ends_with(&format!("({name}")) {
                found.extend(
                    entry
                        .file_name()
                        .to_str()
                        .and_then(|p| p.parse::<u32>().ok()),
                );
            }
        }
        found
    }
}
