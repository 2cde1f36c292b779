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

    mod cases;
}
