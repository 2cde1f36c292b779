//! Fakes for tests, behind the `fake` feature.
//!
//! Three doubles, one per layer a test may want to stand in for:
//!
//! - [`FakeDocker`] implements [`Docker`](crate::Docker) with canned answers and records its
//!   arguments: for tests of code that *uses* the S2I operations (a build strategy, a CLI).
//! - [`FakeClient`] implements the low-level [`Client`](crate::Client) in memory and records
//!   every call by name (`inspect_image`, `create`, `attach`, `start`, `wait`, `remove`, ...):
//!   for tests of [`DockerClient`](crate::DockerClient) itself, offline. Its attach returns a
//!   stream of real stdcopy frames and records what is written to the container's stdin.
//! - [`FakeEngine`] is an in-process Docker daemon speaking real HTTP/1.1, in memory through
//!   the transport's connector hook or on a Unix socket, with state, fault injection and
//!   request recording: for tests of anything that talks to an engine,
//!   [`EngineClient`](crate::EngineClient) included, through the real transport (see
//!   [`engine`]).
//!
//! [`FakeDocker`] and [`FakeClient`] hold their state behind a mutex because the traits take
//! `&self`; configure them before handing them out and read what they recorded afterwards.
//! This file holds what they share: handing out a configured error more than once.
//!
//! `fake::testing`, in test builds only, is the one home of the crate's own in-process test
//! servers: a scripted server that answers with raw bytes (`wire`), a scripted engine that
//! records decoded requests and hands out an `EngineClient` (`http`), and the fixtures of the
//! S2I operations' tests (`docker`). They replay what a test scripts, where `FakeEngine` keeps
//! state and answers as a daemon would.
//!
//! `fake` sits at the top of the crate: it may use every layer, and no layer uses it outside
//! its tests.

pub mod client;
pub mod docker;
pub mod engine;
#[cfg(test)]
pub(crate) mod testing;

pub use client::{stdcopy_frame, FakeClient, FakeClientState, OnCall};
pub use docker::{FakeDocker, Recorded};
pub use engine::{FakeEngine, RunningFake};

use std::io;

use crate::error::Error;

/// A new error like `e`, so that a fake can hand out a configured error more than once.
///
/// Kinds, statuses, exit codes and texts are kept; causes that cannot be copied (I/O and JSON
/// errors) are rebuilt from their kind and text.
pub(crate) fn clone_error(e: &Error) -> Error {
    match e {
        Error::Connect {
            host,
            failure,
            source,
        } => Error::Connect {
            host: host.clone(),
            failure: *failure,
            source: io::Error::new(source.kind(), source.to_string()),
        },
        Error::Io(source) => Error::Io(io::Error::new(source.kind(), source.to_string())),
        Error::Protocol(m) => Error::Protocol(m.clone()),
        Error::Api { status, message } => Error::api(*status, message.clone()),
        Error::Stream { message } => Error::Stream {
            message: message.clone(),
        },
        Error::InvalidInput(m) => Error::InvalidInput(m.clone()),
        Error::Timeout { what, after } => Error::Timeout {
            what: what.clone(),
            after: *after,
        },
        Error::Cancelled => Error::Cancelled,
        Error::Tls(m) => Error::Tls(m.clone()),
        Error::S2i(s) => Error::s2i(
            s.code,
            s.message.clone(),
            s.suggestion.clone(),
            s.details.as_ref().map(clone_error),
        ),
        Error::Container(c) => Error::Container(c.clone()),
        Error::Unsupported(m) => Error::Unsupported(m.clone()),
        other => Error::Other(other.to_string()),
    }
}

/// Hands out a configured error afresh, or nothing.
pub(crate) fn fail(e: &Option<Error>) -> Result<(), Error> {
    match e {
        Some(e) => Err(clone_error(e)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cloned_errors_keep_their_kind() {
        let e = clone_error(&Error::inspect_image(
            "x:latest",
            Error::api(404, "No such image"),
        ));
        assert!(e.is_not_found());
        assert_eq!(e.to_string(), "unable to get metadata for x:latest");
        let c = clone_error(&Error::container("id", 3, "Status: exited"));
        assert_eq!(c.exit_code(), Some(3));
        let io = clone_error(&Error::Io(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by peer",
        )));
        assert!(io.to_string().contains("connection reset by peer"));
    }
}
