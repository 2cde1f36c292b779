//! The crate's one error type.
//!
//! [`Error`] covers three families:
//!
//! - **connection and transport** failures ([`Error::Connect`], [`Error::Io`], [`Error::Protocol`],
//!   [`Error::Timeout`], [`Error::Cancelled`], [`Error::Tls`]);
//! - **daemon replies**: a non-2xx status ([`Error::Api`]) and errors the daemon reports inside a
//!   200 stream ([`Error::Stream`]);
//! - the **S2I kinds** of the reference's `pkg/errors` ([`Error::S2i`] with an [`ErrorCode`], and
//!   [`Error::Container`] for a non-zero exit).
//!
//! Callers match on kinds through the predicates ([`Error::is_not_found`], [`Error::exit_code`],
//! [`Error::code`], ...), never on message strings.
//!
//! The bottom layer: it uses no other module of the crate, so what the predicates match
//! (Podman's texts for conflicts, the registries' codes for a missing image) is kept here.

use std::fmt;
use std::io;
use std::time::Duration;

mod context;

/// The registry error codes (OCI distribution) for a missing repository or tag, as the engines
/// print them.
const REGISTRY_NOT_FOUND: &[&str] = &["manifest unknown", "name unknown"];

/// `Result` with this crate's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The error codes of the reference's `pkg/errors` (numbered from 1, as there).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `InspectImageError` (1): an image's metadata could not be read.
    InspectImage = 1,
    /// `PullImageError` (2): an image could not be pulled.
    PullImage = 2,
    /// `SaveArtifactsError` (3).
    SaveArtifacts = 3,
    /// `AssembleError` (4).
    Assemble = 4,
    /// `WorkdirError` (5).
    Workdir = 5,
    /// `BuildError` (6).
    Build = 6,
    /// `TarTimeoutError` (7): a tar stream did not arrive in time.
    TarTimeout = 7,
    /// `DownloadError` (8).
    Download = 8,
    /// `ScriptsInsideImageError` (9).
    ScriptsInsideImage = 9,
    /// `InstallError` (10).
    Install = 10,
    /// `InstallErrorRequired` (11).
    InstallRequired = 11,
    /// `URLHandlerError` (12).
    UrlHandler = 12,
    /// `STIContainerError` (13): a container exited with a non-zero code.
    StiContainer = 13,
    /// `SourcePathError` (14).
    SourcePath = 14,
    /// `UserNotAllowedError` (15): an image's user is outside the allowed range.
    UserNotAllowed = 15,
    /// `EmptyGitRepositoryError` (16).
    EmptyGitRepository = 16,
}

/// An S2I error of the reference's `pkg/errors.Error` shape: message, code, suggestion, cause.
///
/// `Display` prints the message alone, as the reference's `Error()` does; the cause is available
/// through [`std::error::Error::source`].
#[derive(Debug)]
pub struct S2iError {
    /// The message, e.g. `unable to get metadata for busybox:latest`.
    pub message: String,
    /// The reference's error code.
    pub code: ErrorCode,
    /// What the user can do about it.
    pub suggestion: String,
    /// The underlying error, if any (the reference's `Details`).
    pub details: Option<Error>,
}

/// A container that exited with a non-zero code (the reference's `ContainerError`).
#[derive(Debug, Clone)]
pub struct ContainerError {
    /// `non-zero (<code>) exit code from <container>`.
    pub message: String,
    /// The container's state at exit: `Status: .., Error: .., OOMKilled: .., Dead: ..`.
    pub output: String,
    /// Always [`ErrorCode::StiContainer`].
    pub code: ErrorCode,
    /// What the user can do about it.
    pub suggestion: String,
    /// The container's exit code.
    pub exit_code: i64,
}

/// Why connecting to the engine failed; chooses the hint in the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectFailure {
    /// Nothing listens there (connection refused, dial timeout): the daemon is not running.
    NotRunning,
    /// The socket exists but this user may not open it.
    PermissionDenied,
    /// The socket path does not exist.
    NoSuchSocket,
    /// Any other failure (name resolution, unreachable network, ...).
    Other,
}

/// The crate's error type.
///
/// `Display` is written for people: lowercase `prefix: detail` for transport kinds, the daemon's
/// words for daemon replies (`Error response from daemon: ...`, as the docker CLI prints them), and
/// the reference's exact texts for the S2I kinds.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The engine could not be reached at `host`.
    Connect {
        /// The host as configured, e.g. `unix:///var/run/docker.sock`.
        host: String,
        /// Which hint to give.
        failure: ConnectFailure,
        /// The operating system's error.
        source: io::Error,
    },
    /// Reading or writing failed after the connection was made.
    Io(io::Error),
    /// The peer did not speak HTTP/1.1 as expected (a malformed head, a bad chunk, ...).
    Protocol(String),
    /// The daemon answered with a non-2xx status.
    Api {
        /// The HTTP status.
        status: u16,
        /// The daemon's `message`, or a description of the reply when it had none.
        message: String,
    },
    /// The daemon reported an error inside a 200 stream (pull progress, build output, attach).
    Stream {
        /// The error's text, as the daemon wrote it.
        message: String,
    },
    /// A JSON reply could not be decoded into the expected type.
    Decode {
        /// What was being decoded, e.g. `GET /images/{name}/json reply`.
        what: String,
        /// The decoder's error.
        source: serde_json::Error,
    },
    /// An argument was rejected before anything was sent; the text says what to fix.
    InvalidInput(String),
    /// Nothing happened for `after` while `what` was in progress.
    Timeout {
        /// The operation, e.g. `pulling image "busybox:latest"`.
        what: String,
        /// The limit that was reached.
        after: Duration,
    },
    /// The call was aborted through a cancel handle.
    Cancelled,
    /// TLS could not be set up or the handshake failed.
    Tls(String),
    /// An S2I error with the reference's code and suggestion.
    S2i(Box<S2iError>),
    /// A container exited with a non-zero code.
    Container(Box<ContainerError>),
    /// An operation this implementation does not offer (e.g. on a fake).
    Unsupported(String),
    /// Anything else, with a message that says what happened.
    Other(String),
}

impl Error {
    /// A daemon reply with the given status and message.
    pub fn api(status: u16, message: impl Into<String>) -> Error {
        Error::Api {
            status,
            message: message.into(),
        }
    }

    /// A plain error with a message.
    pub fn other(message: impl Into<String>) -> Error {
        Error::Other(message.into())
    }

    /// An S2I error with the given parts.
    pub fn s2i(
        code: ErrorCode,
        message: impl Into<String>,
        suggestion: impl Into<String>,
        details: Option<Error>,
    ) -> Error {
        Error::S2i(Box::new(S2iError {
            message: message.into(),
            code,
            suggestion: suggestion.into(),
            details,
        }))
    }

    /// `NewInspectImageError`: `unable to get metadata for <name>`.
    pub fn inspect_image(name: &str, details: Error) -> Error {
        Error::s2i(
            ErrorCode::InspectImage,
            format!("unable to get metadata for {name}"),
            "check image name",
            Some(details),
        )
    }

    /// `NewPullImageError`: `unable to get <name>`.
    pub fn pull_image(name: &str, details: Error) -> Error {
        Error::s2i(
            ErrorCode::PullImage,
            format!("unable to get {name}"),
            "check image name, or if using a local image set the builder image pull policy to \"never\"",
            Some(details),
        )
    }

    /// `NewContainerError`: `non-zero (<code>) exit code from <name>`.
    pub fn container(name: &str, exit_code: i64, output: impl Into<String>) -> Error {
        Error::Container(Box::new(ContainerError {
            message: format!("non-zero ({exit_code}) exit code from {name}"),
            output: output.into(),
            code: ErrorCode::StiContainer,
            suggestion: "check the container logs for more information on the failure".into(),
            exit_code,
        }))
    }

    /// `NewUserNotAllowedError`.
    pub fn user_not_allowed(image: &str, onbuild: bool) -> Error {
        let message = if onbuild {
            format!(
                "image \"{image}\" includes at least one ONBUILD instruction that sets the user to a user that is not allowed"
            )
        } else {
            format!("image \"{image}\" must specify a user that is numeric and within the range of allowed users")
        };
        Error::s2i(
            ErrorCode::UserNotAllowed,
            message,
            format!(
                "modify image \"{image}\" to use a numeric user within the allowed range, or build without the allowed UIDs paremeter set"
            ),
            None,
        )
    }

    /// `NewAssembleUserNotAllowedError`.
    pub fn assemble_user_not_allowed(image: &str, uses_config: bool) -> Error {
        if uses_config {
            Error::s2i(
                ErrorCode::UserNotAllowed,
                "assemble user must be numeric and within the range of allowed users",
                "build without the allowed UIDs or assemble user configurations set",
                None,
            )
        } else {
            Error::s2i(
                ErrorCode::UserNotAllowed,
                format!(
                    "image \"{image}\" includes the \"io.openshift.s2i.assemble-user\" label whose value is not within the allowed range"
                ),
                format!(
                    "modify the \"io.openshift.s2i.assemble-user\" label in image \"{image}\" to use a numeric user within the allowed range, or build without the allowed UIDs configuration set"
                ),
                None,
            )
        }
    }

    /// `NewTarTimeoutError`: `timeout waiting for tar stream`.
    pub fn tar_timeout() -> Error {
        Error::s2i(
            ErrorCode::TarTimeout,
            "timeout waiting for tar stream",
            "check the Source-To-Image scripts if it accepts tar stream for assemble and sends for save-artifacts",
            None,
        )
    }

    /// The HTTP status of a daemon reply, also through an S2I error's cause.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { status, .. } => Some(*status),
            Error::S2i(e) => e.details.as_ref().and_then(Error::status),
            _ => None,
        }
    }

    /// The daemon said 404: no such image, container or path.
    ///
    /// Also true for an S2I error whose cause is a 404 (e.g. an `InspectImageError`), and for a
    /// pull whose progress stream says the registry has no such image or tag (`manifest
    /// unknown`, `name unknown`): Podman reports that inside its 200 stream where Docker answers
    /// 404.
    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
            || self
                .stream_message()
                .is_some_and(|m| REGISTRY_NOT_FOUND.iter().any(|t| m.contains(t)))
    }

    /// The daemon said 409: a conflict (name in use, container not running, ...).
    ///
    /// Also true for Podman's 500 replies for those conditions, recognised by their texts
    /// (`that name is already in use`, `container state improper`, `by ID with more than one
    /// tag`; see [`podman`](mod@crate::ops::podman)), and for an S2I error whose cause is a conflict.
    pub fn is_conflict(&self) -> bool {
        match self.status() {
            Some(409) => true,
            Some(500) => self
                .api_message()
                .is_some_and(|m| CONFLICT_TEXTS.iter().any(|t| m.contains(t))),
            _ => false,
        }
    }

    /// The message of a daemon reply, also through an S2I error's cause.
    fn api_message(&self) -> Option<&str> {
        match self {
            Error::Api { message, .. } => Some(message),
            Error::S2i(e) => e.details.as_ref().and_then(Error::api_message),
            _ => None,
        }
    }

    /// The message of an error reported inside a stream, also through an S2I error's cause.
    fn stream_message(&self) -> Option<&str> {
        match self {
            Error::Stream { message } => Some(message),
            Error::S2i(e) => e.details.as_ref().and_then(Error::stream_message),
            _ => None,
        }
    }

    /// The daemon or a registry refused the credentials (401, or the daemon's registry texts).
    pub fn is_unauthorized(&self) -> bool {
        if self.status() == Some(401) {
            return true;
        }
        let text = self.to_string_with_causes().to_ascii_lowercase();
        text.contains("unauthorized")
            || text.contains("no basic auth credentials")
            || text.contains("authentication required")
    }

    /// Nothing happened within the inactivity limit.
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Timeout { .. } => true,
            Error::Io(e) => matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ),
            Error::S2i(e) => e.details.as_ref().is_some_and(Error::is_timeout),
            _ => false,
        }
    }

    /// The connection to the engine failed or was cut: refused, reset, aborted, a broken pipe,
    /// or closed before the reply was complete (the transport's unexpected end of stream).
    ///
    /// Decided on the error's kind, not its text, so it holds whatever words the operating
    /// system uses; also true for an S2I error whose cause is such an error. A daemon's reply
    /// ([`Error::Api`], [`Error::Stream`]) and a cancelled call are never connection errors.
    pub fn is_connection_error(&self) -> bool {
        match self {
            Error::Connect { source, .. } => is_connection_kind(source),
            Error::Io(e) => match e.get_ref().and_then(|i| i.downcast_ref::<Error>()) {
                Some(inner) => inner.is_connection_error(),
                None => is_connection_kind(e),
            },
            Error::S2i(e) => e.details.as_ref().is_some_and(Error::is_connection_error),
            _ => false,
        }
    }

    /// The call was aborted through a cancel handle.
    pub fn is_cancelled(&self) -> bool {
        match self {
            Error::Cancelled => true,
            Error::S2i(e) => e.details.as_ref().is_some_and(Error::is_cancelled),
            _ => false,
        }
    }

    /// The exit code of a container that exited non-zero.
    pub fn exit_code(&self) -> Option<i64> {
        match self {
            Error::Container(e) => Some(e.exit_code),
            _ => None,
        }
    }

    /// The reference's error code, for the S2I kinds.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::S2i(e) => Some(e.code),
            Error::Container(e) => Some(e.code),
            _ => None,
        }
    }

    /// The suggestion of an S2I error.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            Error::S2i(e) => Some(&e.suggestion),
            Error::Container(e) => Some(&e.suggestion),
            _ => None,
        }
    }

    /// The message followed by every cause, `: `-separated.
    ///
    /// S2I errors print their message alone (as the reference does); this shows why they happened.
    pub fn to_string_with_causes(&self) -> String {
        let mut text = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(c) = cause {
            let s = c.to_string();
            if !text.ends_with(&s) {
                text.push_str(": ");
                text.push_str(&s);
            }
            cause = c.source();
        }
        text
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connect { host, failure, source } => match failure {
                ConnectFailure::NotRunning => write!(
                    f,
                    "Cannot connect to the Docker daemon at {host}. Is the docker daemon running?"
                ),
                ConnectFailure::PermissionDenied => write!(
                    f,
                    "permission denied while trying to connect to the docker API at {host}"
                ),
                ConnectFailure::NoSuchSocket => write!(
                    f,
                    "failed to connect to the docker API at {host}; check if the path is correct and if the daemon is running: {source}"
                ),
                ConnectFailure::Other => write!(f, "error during connect: {host}: {source}"),
            },
            Error::Io(e) => write!(f, "i/o error: {e}"),
            Error::Protocol(m) => write!(f, "protocol error: {m}"),
            Error::Api { message, .. } => write!(f, "Error response from daemon: {message}"),
            Error::Stream { message } => write!(f, "{message}"),
            Error::Decode { what, source } => write!(f, "cannot decode {what}: {source}"),
            Error::InvalidInput(m) => write!(f, "{m}"),
            Error::Timeout { what, after } => {
                write!(f, "{what} timed out after {}", go_duration(*after))
            }
            Error::Cancelled => write!(f, "cancelled"),
            Error::Tls(m) => write!(f, "tls: {m}"),
            Error::S2i(e) => write!(f, "{}", e.message),
            Error::Container(e) => write!(f, "{}", e.message),
            Error::Unsupported(m) => write!(f, "{m}"),
            Error::Other(m) => write!(f, "{m}"),
        }
    }
}

/// Prints a duration the way Go does for the values used here (`2m0s`, `5s`, `1.5s`, `300ms`).
pub(crate) fn go_duration(d: Duration) -> String {
    let total = d.as_secs();
    let nanos = d.subsec_nanos();
    if total == 0 {
        if nanos == 0 {
            return "0s".into();
        }
        if nanos % 1_000_000 == 0 {
            return format!("{}ms", nanos / 1_000_000);
        }
        return format!("{}µs", nanos / 1000);
    }
    let h = total / 3600;
    let m = (total % 3600) / 60;
    let s = total % 60;
    let secs = if nanos == 0 {
        format!("{s}s")
    } else {
        let frac = format!("{:09}", nanos);
        format!("{s}.{}s", frac.trim_end_matches('0'))
    };
    if h > 0 {
        format!("{h}h{m}m{secs}")
    } else if m > 0 {
        format!("{m}m{secs}")
    } else {
        secs
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } => Some(source),
            Error::Io(e) => Some(e),
            Error::Decode { source, .. } => Some(source),
            Error::S2i(e) => e
                .details
                .as_ref()
                .map(|d| d as &(dyn std::error::Error + 'static)),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    /// Unwraps an [`Error`] that travelled through an `io::Error` (e.g. out of a `Read` adapter).
    fn from(e: io::Error) -> Error {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            return match e.into_inner().map(|inner| inner.downcast::<Error>()) {
                Some(Ok(inner)) => *inner,
                Some(Err(_)) | None => unreachable_io(),
            };
        }
        Error::Io(e)
    }
}

/// The I/O error kinds of a connection that failed or was cut.
fn is_connection_kind(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof
    )
}

// `get_ref().is::<Error>()` was checked just before: the downcast cannot fail. Kept as a
// function returning an error rather than a panic so the conversion stays total.
fn unreachable_io() -> Error {
    Error::Other("internal error: lost an error while unwrapping it".into())
}

impl From<Error> for io::Error {
    /// Wraps an [`Error`] so it can pass through `Read`/`Write`; [`From<io::Error>`] unwraps it.
    fn from(e: Error) -> io::Error {
        match e {
            Error::Io(inner) => inner,
            other => {
                let kind = match &other {
                    Error::Timeout { .. } => io::ErrorKind::TimedOut,
                    // Not `Interrupted`: `read_exact`, `read_to_end`, `write_all` and `io::copy`
                    // retry on that kind, which would hide the cancellation (or spin on it).
                    Error::Cancelled => io::ErrorKind::ConnectionAborted,
                    Error::Protocol(_) => io::ErrorKind::InvalidData,
                    _ => io::ErrorKind::Other,
                };
                io::Error::new(kind, other)
            }
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Error {
        Error::Decode {
            what: "JSON".into(),
            source: e,
        }
    }
}

/// The texts of Podman 4's 500 replies for the conditions Docker answers with 409.
///
/// They belong with Podman's other differences ([`ops::podman`](mod@crate::ops::podman)), but
/// [`Error::is_conflict`] matches them and the error type uses no module above it, so they are
/// kept here.
///
/// - `that name is already in use`: creating a container with a name in use;
/// - `container state improper`: killing a container that is not running, removing a running
///   container without force (and other operations refused in the container's state);
/// - `by ID with more than one tag`: removing by ID an image that has several tags.
pub(crate) const CONFLICT_TEXTS: &[&str] = &[
    "that name is already in use",
    "container state improper",
    "by ID with more than one tag",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stays_small() {
        // Results of this type travel through every call; keep them a few words wide.
        assert!(
            std::mem::size_of::<Error>() <= 56,
            "{}",
            std::mem::size_of::<Error>()
        );
    }

    #[test]
    fn reference_texts() {
        let e = Error::inspect_image(
            "busybox:latest",
            Error::api(404, "No such image: busybox:latest"),
        );
        assert_eq!(e.to_string(), "unable to get metadata for busybox:latest");
        assert_eq!(e.code(), Some(ErrorCode::InspectImage));
        assert!(e.is_not_found());
        assert_eq!(
            e.to_string_with_causes(),
            "unable to get metadata for busybox:latest: Error response from daemon: No such image: busybox:latest"
        );
        let c = Error::container("abc", 3, "Status: exited");
        assert_eq!(c.to_string(), "non-zero (3) exit code from abc");
        assert_eq!(c.exit_code(), Some(3));
        assert_eq!(c.code().map(|c| c as i32), Some(13));
        let t = Error::Timeout {
            what: "pulling image \"a:latest\"".into(),
            after: Duration::from_secs(120),
        };
        assert_eq!(
            t.to_string(),
            "pulling image \"a:latest\" timed out after 2m0s"
        );
        assert!(t.is_timeout());
    }

    #[test]
    fn go_durations() {
        assert_eq!(go_duration(Duration::from_secs(120)), "2m0s");
        assert_eq!(go_duration(Duration::from_secs(5)), "5s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_millis(300)), "300ms");
        assert_eq!(go_duration(Duration::from_secs(3661)), "1h1m1s");
    }

    #[test]
    fn conflicts_of_both_engines() {
        // Docker's 409s.
        assert!(
            Error::api(409, "Conflict. The container name \"/x\" is already in use").is_conflict()
        );
        // Podman 4's 500s for the same conditions, as it words them.
        let podman = [
            "container create: creating container storage: the container name \"s2i_x\" is already in use by cc97678a7b93. You have to remove that container to be able to reuse that name: that name is already in use",
            "can only kill running containers. cc97678a7b93 is in state exited: container state improper",
            "cannot remove container 4450b8dbf87b as it is running - running or paused containers cannot be removed without force: container state improper",
            "unable to delete image \"0132aaa3b73d\" by ID with more than one tag ([localhost/a:1 localhost/b:2]): please force removal",
        ];
        for text in podman {
            let e = Error::api(500, text);
            assert!(e.is_conflict(), "{text}");
            assert_eq!(
                e.status(),
                Some(500),
                "the status stays what the engine sent"
            );
            assert!(Error::inspect_image("x", Error::api(500, text)).is_conflict());
        }
        // Other 500s are not conflicts, nor are those texts with another status or kind.
        for e in [
            Error::api(500, "boom"),
            Error::api(500, "that name is fine"),
            Error::api(400, "container state improper"),
            Error::other("container state improper"),
            Error::Stream {
                message: "container state improper".into(),
            },
        ] {
            assert!(!e.is_conflict(), "{e:?}");
        }
    }

    #[test]
    fn not_found_in_a_status_or_a_pull_stream() {
        assert!(Error::api(404, "No such image: x:1").is_not_found());
        // Podman's pull of a missing tag: a 200 whose stream fails.
        let podman = Error::Stream {
            message: "initializing source docker://127.0.0.1:5000/s2i/nope:1: reading manifest 1 in 127.0.0.1:5000/s2i/nope: manifest unknown: manifest unknown".into(),
        };
        assert!(podman.is_not_found());
        assert!(Error::pull_image("x", podman).is_not_found());
        assert!(Error::Stream {
            message: "name unknown: repository name not known to registry".into()
        }
        .is_not_found());
        assert!(!Error::Stream {
            message: "unauthorized: authentication required".into()
        }
        .is_not_found());
        // Only a stream says so in words: a 500 with the text is not a 404.
        assert!(!Error::api(500, "manifest unknown").is_not_found());
        // A refused pull is unauthorized on both engines.
        assert!(Error::api(
            500,
            "Head \"http://127.0.0.1:5000/v2/s2i/busybox/manifests/1\": no basic auth credentials"
        )
        .is_unauthorized());
        assert!(Error::Stream {
            message: "initializing source docker://127.0.0.1:5000/s2i/pm:1: reading manifest 1 in 127.0.0.1:5000/s2i/pm: unauthorized: authentication required".into()
        }
        .is_unauthorized());
    }

    #[test]
    fn connection_errors_are_known_by_kind() {
        let io_kind = |k: io::ErrorKind| Error::Io(io::Error::from(k));
        assert!(Error::Io(io::Error::from_raw_os_error(104)).is_connection_error());
        assert!(io_kind(io::ErrorKind::ConnectionRefused).is_connection_error());
        assert!(io_kind(io::ErrorKind::BrokenPipe).is_connection_error());
        assert!(io_kind(io::ErrorKind::UnexpectedEof).is_connection_error());
        assert!(
            Error::pull_image("x", io_kind(io::ErrorKind::ConnectionReset)).is_connection_error()
        );
        assert!(!io_kind(io::ErrorKind::TimedOut).is_connection_error());
        assert!(!Error::Cancelled.is_connection_error());
        assert!(!Error::Io(Error::Cancelled.into()).is_connection_error());
        assert!(!Error::api(500, "connection reset by peer").is_connection_error());
        assert!(!Error::other("connection reset by peer").is_connection_error());
    }

    #[test]
    fn round_trips_through_io_error() {
        let e: io::Error = Error::api(409, "conflict").into();
        let back: Error = e.into();
        assert!(back.is_conflict());
        let plain: Error = io::Error::new(io::ErrorKind::BrokenPipe, "pipe").into();
        assert!(matches!(plain, Error::Io(_)));
    }
}
