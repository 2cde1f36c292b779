//! The caller's code inside a run: its hooks (`command_overrides`, `on_start`, `post_exec`) and
//! its streams run under [`catch_hook`], so that a panic in them becomes the run's error instead
//! of unwinding through the run and past its cleanup.
//!
//! Uses only the error type.

use std::any::Any;
use std::panic::{self, AssertUnwindSafe};

use crate::error::{Error, Result};

/// Runs a caller's hook; a panic in it becomes an error instead of unwinding through the run.
pub(crate) fn catch_hook<T>(hook: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    match panic::catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r,
        Err(payload) => Err(Error::other(format!(
            "{hook} panicked: {}",
            panic_message(payload.as_ref())
        ))),
    }
}

fn panic_message(payload: &(dyn Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "unknown panic"
    }
}

#[cfg(test)]
mod tests {
    //! Panics in the caller's hooks, through whole runs against the fake engine.

    use crate::docker::run::fixtures::*;
    use crate::docker::{Docker, RunContainerOptions};
    use crate::error::Result;
    use crate::fake::testing::docker::*;

    #[test]
    fn panicking_hooks_become_errors() {
        let (fake, d) = setup();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(|_: &str| panic!("boom"))),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "on_start panicked: boom");
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(|_: &str, _: &str| -> Result<()> {
                    panic!("post {}", 1)
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "post_exec panicked: post 1");
        let e = d
            .run_container(RunContainerOptions {
                stdin: stdin(b""),
                command_overrides: Some(Box::new(|_: &str| panic!("rewrite"))),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "command_overrides panicked: rewrite");
        assert!(fake.state().containers.is_empty());
        assert_eq!(
            fake.state().created.len(),
            2,
            "no container for a failed override"
        );
    }
}
