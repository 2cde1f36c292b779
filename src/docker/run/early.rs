//! A stream of the attach connection that ended before the wait answered: the container exited
//! (and its wait is late, or its reply lost), or the connection was cut while it still runs.
//!
//! On Docker the attach output ends when the container exits, and the wait answers a moment
//! later; on Podman a container that exits without reading its input resets the connection.
//! So an end of the output, or a write of the input failing with a connection error, is not
//! an error by itself. When the wait has not answered [`FIRST_CHECK`] after such an end (or the
//! output grace, if shorter), the run asks the engine with a container inspect:
//!
//! - still running: the attach connection was lost while the container ran, and output or
//!   input with it. The run fails with an [`Error::Io`] that says so (never `Ok` with output
//!   silently missing), and is stopped like any run that ends early;
//! - no longer running: the wait gets the rest of the output grace
//!   ([`DockerClient::with_output_grace`](crate::docker::DockerClient::with_output_grace)),
//!   counted from the end of the stream, to answer. If it does not (its reply stalled or was
//!   lost), the exit code comes from the inspect and the run finishes with it; the wait's
//!   thread is left to end with its connection (the container's removal ends it on a daemon
//!   that still answers);
//! - no answer (the inspect failed, or had no state): the run asks again after another grace.
//!
//! A container that closes its stdout and stderr and runs on cannot be told from one whose
//! connection was cut: its run fails too. On Docker and Podman alike a cut output is not
//! completed from the container's logs here (Podman's attach is, for the signs
//! `ops::podman::attach` knows): the run fails instead.
//!
//! Waits keep no limit of their own: a run whose streams are all still open waits as long as
//! its container runs.
//!
//! Uses the [`Client`] trait and the container models; of the run, its events.

use std::io;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::error::Error;
use crate::ops::container::ContainerWaitResponse;

use super::watch::{Event, Run};

/// How long after a stream's early end the run first asks whether the container still runs
/// (the output grace when it is shorter). Long enough for Docker to record an exit whose
/// output has just ended, so that a correct run is not taken for a cut one.
pub(super) const FIRST_CHECK: Duration = Duration::from_millis(500);

/// What the run knows of a stream that ended while the wait had not answered.
pub(super) struct EarlyEnd {
    grace: Duration,
    /// When the first stream ended early.
    ended: Option<Instant>,
    /// When to ask (or, once the exit is known, to stop waiting for the wait).
    due: Option<Instant>,
    /// The output ended cleanly.
    output: bool,
    /// How writing the input failed: its kind and text.
    input: Option<(io::ErrorKind, String)>,
    /// The exit code an inspect found.
    exit_code: Option<i64>,
}

impl EarlyEnd {
    pub(super) fn new(grace: Duration) -> EarlyEnd {
        EarlyEnd {
            grace,
            ended: None,
            due: None,
            output: false,
            input: None,
            exit_code: None,
        }
    }

    /// The output stream ended cleanly; `waiting`: the wait has not answered.
    pub(super) fn output_ended(&mut self, waiting: bool) {
        if waiting {
            self.output = true;
            self.arm();
        }
    }

    /// Writing the input failed with `e`; only a connection error counts.
    pub(super) fn input_failed(&mut self, e: &io::Error, waiting: bool) {
        if waiting && Error::Io(io::Error::from(e.kind())).is_connection_error() {
            self.input = Some((e.kind(), e.to_string()));
            self.arm();
        }
    }

    fn arm(&mut self) {
        if self.ended.is_none() {
            let now = Instant::now();
            self.ended = Some(now);
            self.due = now.checked_add(self.grace.min(FIRST_CHECK));
        }
    }

    /// The next event; while the wait has not answered (`waiting`), the inspect when it is due
    /// (see the module's docs). `Timeout`: nothing yet, ask again.
    pub(super) fn next(&mut self, run: &Run<'_>, waiting: bool) -> Result<Event, RecvTimeoutError> {
        let due = match self.due {
            Some(due) if waiting => due,
            _ => {
                return run
                    .events
                    .recv()
                    .map_err(|_| RecvTimeoutError::Disconnected)
            }
        };
        let now = Instant::now();
        if now < due {
            return run.events.recv_timeout(due - now);
        }
        self.check(run.d.client.as_ref(), &run.container.id, now)
            .ok_or(RecvTimeoutError::Timeout)
    }

    /// Asks the engine whether the container still runs, or ends the wait for the wait.
    fn check(&mut self, client: &dyn Client, id: &str, now: Instant) -> Option<Event> {
        let ended = self.ended.unwrap_or(now);
        if let Some(code) = self.exit_code {
            return Some(self.exited(id, code));
        }
        match client.container_inspect(id).map(|i| i.state) {
            Ok(Some(state)) if state.running => {
                self.due = None;
                Some(Event::Lost(self.lost(id)))
            }
            Ok(Some(state)) => {
                self.exit_code = Some(state.exit_code);
                match ended.checked_add(self.grace) {
                    Some(until) if until > now => {
                        self.due = Some(until);
                        None
                    }
                    // The grace is over already, or has no end: the wait is not waited for
                    // any longer than the grace.
                    Some(_) => Some(self.exited(id, state.exit_code)),
                    None => {
                        self.due = None;
                        None
                    }
                }
            }
            answer => {
                match answer {
                    Err(e) => log::debug!("Cannot inspect container \"{id}\": {e}"),
                    Ok(_) => log::debug!("The inspect of container \"{id}\" has no state"),
                }
                self.due = now.checked_add(self.grace);
                None
            }
        }
    }

    /// The exit the inspect found, as the wait's answer.
    fn exited(&mut self, id: &str, code: i64) -> Event {
        self.due = None;
        log::warn!(
            "The wait for container \"{id}\" did not answer {:?} after its output ended; it \
             exited with code {code}",
            self.grace
        );
        Event::Waited(Ok(ContainerWaitResponse {
            status_code: code,
            error: None,
        }))
    }

    /// The error of a run whose attach connection was lost while the container ran.
    fn lost(&self, id: &str) -> Error {
        match &self.input {
            Some((kind, e)) => lost(id, *kind, &format!("writing its stdin failed: {e}")),
            None => lost(
                id,
                io::ErrorKind::ConnectionAborted,
                "its output ended while it was still running",
            ),
        }
    }
}

/// The error of the output stream: a connection error says the attach connection was lost.
pub(super) fn output_failed(id: &str, e: Error) -> Error {
    if !e.is_connection_error() {
        return e;
    }
    let (kind, why) = match &e {
        Error::Io(io) => (io.kind(), io.to_string()),
        other => (io::ErrorKind::ConnectionAborted, other.to_string()),
    };
    lost(id, kind, &why)
}

fn lost(id: &str, kind: io::ErrorKind, why: &str) -> Error {
    Error::Io(io::Error::new(
        kind,
        format!("the attach connection to container \"{id}\" was lost: {why}"),
    ))
}

#[cfg(test)]
mod tests {
    //! Streams that end before the wait answers: a late or lost wait, a cut connection.

    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::{Docker, DockerClient, RunContainerOptions};
    use crate::fake::testing::docker::*;
    use crate::fake::{stdcopy_frame, FakeClient};
    use crate::ops::container::ContainerState;

    /// A fake whose waits never answer while the container exists, whose inspect says
    /// `running` (or the exit `code`), and whose container prints two lines.
    fn stalled_wait(running: bool, code: i64) -> (Arc<FakeClient>, DockerClient) {
        let (fake, d) = setup();
        {
            let mut s = fake.state();
            s.wait_stalls = true;
            s.wait_container_result = code;
            s.wait_container_err_inspect_json.state = Some(ContainerState {
                status: if running { "running" } else { "exited" }.into(),
                running,
                exit_code: if running { 0 } else { code },
                ..Default::default()
            });
            s.attach_output = [stdcopy_frame(1, b"one\n"), stdcopy_frame(2, b"two\n")].concat();
        }
        (fake, d.with_output_grace(Duration::from_millis(200)))
    }

    fn attached(out: &Probe) -> RunContainerOptions {
        RunContainerOptions {
            stdout: Some(out.writer()),
            stderr: Some(out.writer()),
            ..opts("assemble")
        }
    }

    #[test]
    fn a_wait_that_never_answers_ends_with_the_exit_the_inspect_found() {
        let (fake, d) = stalled_wait(false, 0);
        let out = Probe::default();
        let o = out.clone();
        let (r, logs) = within(Duration::from_secs(10), move || {
            logs_of(|| d.run_container(attached(&o)))
        });
        r.unwrap();
        assert_eq!(out.text(), "one\ntwo\n");
        assert_logged(
            &logs,
            log::Level::Warn,
            "The wait for container \"fake-container-1\" did not answer 200ms after its output \
             ended; it exited with code 0",
        );
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "attach",
                "start",
                "wait",
                "inspect_container",
                "remove"
            ]
        );
        assert!(fake.state().containers.is_empty());
        // A non-zero exit found that way fails the run as the wait's would.
        let (fake, d) = stalled_wait(false, 3);
        let e = within(Duration::from_secs(10), move || {
            d.run_container(attached(&Probe::default()))
        })
        .unwrap_err();
        assert_eq!(e.exit_code(), Some(3), "{e:?}");
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn an_output_that_ends_while_the_container_runs_fails_the_run() {
        let (fake, d) = stalled_wait(true, 0);
        let out = Probe::default();
        let o = out.clone();
        let e = within(Duration::from_secs(10), move || {
            d.run_container(attached(&o))
        })
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "i/o error: the attach connection to container \"fake-container-1\" was lost: its \
             output ended while it was still running"
        );
        assert!(e.is_connection_error(), "{e:?}");
        // What came is handed on all the same; the container is stopped and removed.
        assert_eq!(out.text(), "one\ntwo\n");
        let state = fake.state();
        assert!(state.killed.contains(&"fake-container-1".to_string()));
        assert!(state.containers.is_empty());
    }

    #[test]
    fn an_input_cut_while_the_container_runs_fails_the_run() {
        for with_output in [false, true] {
            let (fake, d) = stalled_wait(true, 0);
            fake.state().attach_stdin_limit = Some(10);
            let e = within(Duration::from_secs(10), move || {
                let out = Probe::default();
                d.run_container(RunContainerOptions {
                    stdin: stdin(&[b'x'; 100]),
                    ..if with_output {
                        attached(&out)
                    } else {
                        opts("assemble")
                    }
                })
            })
            .unwrap_err();
            let text = e.to_string();
            assert!(
                text.starts_with(
                    "i/o error: the attach connection to container \"fake-container-1\" was \
                     lost: writing its stdin failed: "
                ),
                "{text}"
            );
            assert!(e.is_connection_error(), "{e:?}");
            assert!(fake.state().containers.is_empty());
        }
    }

    #[test]
    fn an_input_cut_after_the_exit_is_not_an_error() {
        // The container exited 0 without reading all its input, and its wait is late: the
        // inspect says so, and the run succeeds (with the warning of such an exit).
        let (fake, d) = stalled_wait(false, 0);
        fake.state().attach_stdin_limit = Some(10);
        let (r, logs) = within(Duration::from_secs(10), move || {
            logs_of(|| {
                d.run_container(RunContainerOptions {
                    stdin: stdin(&[b'x'; 100]),
                    ..opts("assemble")
                })
            })
        });
        r.unwrap();
        assert!(logs.iter().any(|(l, m)| *l == log::Level::Warn
            && m.starts_with(
                "Container \"fake-container-1\" exited without reading all of its input: "
            )));
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn an_inspect_without_an_answer_is_asked_again_after_the_grace() {
        let (fake, d) = stalled_wait(false, 0);
        fake.state().inspect_container_err = Some(Error::api(500, "busy"));
        let f = fake.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(700));
            f.state().inspect_container_err = None;
        });
        within(Duration::from_secs(10), move || {
            d.run_container(attached(&Probe::default()))
        })
        .unwrap();
        let inspects = fake
            .calls()
            .iter()
            .filter(|c| *c == "inspect_container")
            .count();
        assert!(inspects >= 2, "{:?}", fake.calls());
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn a_wait_that_answers_in_time_is_not_second_guessed() {
        // The normal order on Docker: the output ends, then the wait answers. No inspect.
        let (fake, d) = setup();
        fake.state().attach_output = stdcopy_frame(1, b"one\n");
        d.with_output_grace(Duration::from_millis(50))
            .run_container(attached(&Probe::default()))
            .unwrap();
        assert!(!fake.calls().contains(&"inspect_container".to_string()));
    }

    #[test]
    fn an_output_connection_error_says_the_connection_was_lost() {
        let e = output_failed(
            "c1",
            Error::Io(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by peer",
            )),
        );
        assert_eq!(
            e.to_string(),
            "i/o error: the attach connection to container \"c1\" was lost: reset by peer"
        );
        assert!(e.is_connection_error());
        // A daemon's error or a writer's is left as it is.
        let e = output_failed("c1", Error::other("output writer panicked: writer"));
        assert_eq!(e.to_string(), "output writer panicked: writer");
    }
}
