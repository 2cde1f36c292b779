//! [`Error::context`]: what was being done, put into an error without changing its kind.

use std::fmt;
use std::io;

use super::Error;

impl Error {
    /// The same error with `what` (e.g. `waiting for container "x" to stop`) put before its
    /// detail, of the same kind: the predicates and a match on the variant answer as they did.
    ///
    /// The text goes into the detail the variant prints: `i/o error: <what>: <detail>` (the
    /// operating system's error is kept as the cause, with its kind), `protocol error: ..`,
    /// `Error response from daemon: <what>: <message>` (the status kept), and likewise for a
    /// stream, TLS or other error. The kinds whose texts are fixed (the S2I kinds, a connect
    /// failure, a timeout, a cancel, a decode failure) are returned unchanged.
    pub(crate) fn context(self, what: impl fmt::Display) -> Error {
        let with = |detail: String| format!("{what}: {detail}");
        match self {
            Error::Io(e) => Error::Io(io::Error::new(
                e.kind(),
                Context {
                    what: what.to_string(),
                    source: e,
                },
            )),
            Error::Protocol(m) => Error::Protocol(with(m)),
            Error::Api { status, message } => Error::Api {
                status,
                message: with(message),
            },
            Error::Stream { message } => Error::Stream {
                message: with(message),
            },
            Error::Tls(m) => Error::Tls(with(m)),
            Error::InvalidInput(m) => Error::InvalidInput(with(m)),
            Error::Unsupported(m) => Error::Unsupported(with(m)),
            Error::Other(m) => Error::Other(with(m)),
            other => other,
        }
    }
}

/// An I/O error with what was being done when it happened: prints `<what>: <error>`, and the
/// error is its cause.
#[derive(Debug)]
struct Context {
    what: String,
    source: io::Error,
}

impl fmt::Display for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.what, self.source)
    }
}

impl std::error::Error for Context {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WHAT: &str = "waiting for container \"c\" to stop";

    #[test]
    fn transport_errors_keep_their_kind() {
        let cut = Error::Io(io::Error::from(io::ErrorKind::UnexpectedEof)).context(WHAT);
        assert!(matches!(&cut, Error::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof));
        assert!(cut.is_connection_error());
        assert_eq!(
            cut.to_string(),
            "i/o error: waiting for container \"c\" to stop: unexpected end of file"
        );
        // The operating system's error stays reachable as the cause.
        let reset = Error::Io(io::Error::from_raw_os_error(104)).context(WHAT);
        assert!(reset.is_connection_error());
        let cause = std::error::Error::source(&reset).and_then(|s| s.source());
        let os = cause.and_then(|s| s.downcast_ref::<io::Error>());
        assert_eq!(os.and_then(io::Error::raw_os_error), Some(104));
        let timed_out = Error::Io(io::Error::from(io::ErrorKind::TimedOut)).context(WHAT);
        assert!(timed_out.is_timeout());
        let p = Error::Protocol("bad chunk".into()).context(WHAT);
        assert!(matches!(&p, Error::Protocol(_)));
        assert_eq!(
            p.to_string(),
            "protocol error: waiting for container \"c\" to stop: bad chunk"
        );
    }

    #[test]
    fn replies_keep_their_status_and_fixed_texts_stay() {
        let gone = Error::api(404, "No such container: c").context(WHAT);
        assert!(gone.is_not_found());
        assert_eq!(
            gone.to_string(),
            "Error response from daemon: waiting for container \"c\" to stop: No such container: c"
        );
        assert!(Error::api(500, "container state improper")
            .context(WHAT)
            .is_conflict());
        assert_eq!(
            Error::other("x").context(WHAT).to_string(),
            "waiting for container \"c\" to stop: x"
        );
        assert!(Error::Cancelled.context(WHAT).is_cancelled());
        assert_eq!(
            Error::tar_timeout().context(WHAT).to_string(),
            "timeout waiting for tar stream"
        );
    }
}
