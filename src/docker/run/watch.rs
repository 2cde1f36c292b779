//! Watching a run: the events its threads send, the thread that waits for the container, and
//! the loop on the caller's thread that acts on whatever comes first (the container exiting, a
//! stream failing, a cancel).
//!
//! The wait's thread is not joined when the run stops early: the run must not depend on the
//! daemon answering it, and the removal of the container ends it soon after ([`reap_wait`]
//! gives it a moment to let go of its connection). Once the container exited, its output
//! stream gets a grace period of silence to end by itself (see [`watch`]). A stream that ends
//! before the wait answered is checked with an inspect (`early`): a connection lost while the
//! container runs fails the run, and a wait that does not answer after the exit is replaced by
//! the inspect's exit code.
//!
//! Uses the [`Client`] trait through the run's [`DockerClient`], and of the run `cleanup` (to
//! stop it), `early`, [`Link`] and `lock`.

use std::io::{self, Read};
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use crate::client::Client;
use crate::docker::DockerClient;
use crate::error::{Error, Result};
use crate::ops::container::{ContainerWaitResponse, WaitCondition};

use super::cleanup::{stop, Container};
use super::early::{output_failed, EarlyEnd};
use super::link::Link;
use super::lock;

/// What the caller's thread works with while the container runs: the engine, the container,
/// its attach connection, and both ends of the channel of [`Event`]s.
pub(super) struct Run<'a> {
    pub(super) d: &'a DockerClient,
    pub(super) container: &'a Arc<Container>,
    pub(super) link: &'a Arc<Link>,
    pub(super) sender: &'a Sender<Event>,
    pub(super) events: &'a Receiver<Event>,
}

/// What the run's threads (and its cancel action) tell the watching thread.
pub(super) enum Event {
    /// The caller's stdin was copied and the input closed, or one side failed.
    Input(Result<(), Pumped>),
    /// The output stream ended (cleanly or not); the caller's writers are closed.
    Output(Result<()>),
    /// The wait answered.
    Waited(Result<ContainerWaitResponse>),
    /// The run was cancelled.
    Cancelled,
    /// The attach connection was lost while the container ran (see `early`).
    Lost(Error),
}

/// How copying the caller's stdin failed: reading it, or writing it into the container.
pub(super) enum Pumped {
    Read(Error),
    Write(io::Error),
}

/// The stream threads still running when the watch begins.
pub(super) struct Pending {
    pub(super) input: bool,
    pub(super) output: bool,
    pub(super) write_failure: Option<Error>,
}

/// Starts the wait and watches the run (see [`watch`]); a wait that cannot be started stops
/// the run. `wait_pending` says whether the wait is still out when this returns.
pub(super) fn wait_and_watch(
    run: &Run<'_>,
    pending: Pending,
    progress: &Progress,
    wait_pending: &mut bool,
) -> Result<()> {
    match spawn_wait(run.container, run.sender) {
        Ok(()) => {
            *wait_pending = true;
            watch(run, pending, progress, wait_pending)
        }
        Err(e) => {
            stop(run.container, run.link);
            Err(e)
        }
    }
}

/// Starts waiting for the container on a thread of its own, which is not joined (see the
/// module's docs); the answer comes as [`Event::Waited`].
fn spawn_wait(container: &Container, sender: &Sender<Event>) -> Result<()> {
    let client = container.client.clone();
    let id = container.id.clone();
    let sender = sender.clone();
    thread::Builder::new()
        .name("s2i-wait".to_string())
        .spawn(move || {
            let waited = panic::catch_unwind(AssertUnwindSafe(|| {
                client.container_wait(&id, WaitCondition::NotRunning)
            }))
            .unwrap_or_else(|_| Err(Error::other("the wait panicked")));
            // Let go of the client (and any connection it keeps) before the run hears of
            // the answer and returns.
            drop(client);
            let _ = sender.send(Event::Waited(waited));
        })
        .map(drop)
        .map_err(|e| Error::other(format!("cannot start the s2i-wait thread: {e}")))
}

/// Watches the run until the container exited and both streams ended, or until something
/// ends it early: the caller's stdin failing, the output failing, the wait failing, a cancel.
/// Ending early stops the run (see [`stop`]).
///
/// Once the container exited and its output ended, an input still being copied is cut (the
/// attach connection is shut down) as soon as its writes get stuck: nothing reads it any more
/// (see [`close_due`]).
///
/// Once the container exited, its output stream has [`DockerClient::with_output_grace`] of
/// silence to end by itself: some daemons keep it open after the exit (S2I issues #934 and
/// #1062 were runs hanging there). The silence counts only while the output thread waits for
/// data, not while the caller's writers take their time, so no output is cut short.
fn watch(
    run: &Run<'_>,
    mut pending: Pending,
    progress: &Progress,
    wait_pending: &mut bool,
) -> Result<()> {
    let container: &Container = run.container;
    let link: &Link = run.link;
    let id = container.id.as_str();
    let grace = run.d.output_grace;
    let mut waited: Option<ContainerWaitResponse> = None;
    let mut exited_at: Option<Instant> = None;
    // The run closed the output stream of the exited container itself.
    let mut closed_after_exit = false;
    let mut early = EarlyEnd::new(grace);
    let stopped = loop {
        if !pending.input && !pending.output {
            if let Some(w) = waited.take() {
                return finish_wait(run.d.client.as_ref(), container, w, pending.write_failure);
            }
        }
        let next = match exited_at {
            Some(exit) if !closed_after_exit && !link.is_shut() => {
                let now = Instant::now();
                // `None`: a grace too long to add to the clock, which is no limit at all.
                match close_due(exit, now, grace, &pending, progress) {
                    None => run
                        .events
                        .recv()
                        .map_err(|_| RecvTimeoutError::Disconnected),
                    Some(due) if now >= due => {
                        if pending.output {
                            log::warn!(
                                "The output stream of container \"{id}\" stayed open {grace:?} \
                                 after it exited; closing it"
                            );
                        } else {
                            log::debug!("Container \"{id}\" exited; closing its unread input");
                        }
                        closed_after_exit = true;
                        if !link.shutdown() {
                            container.remove();
                        }
                        continue;
                    }
                    Some(due) => run.events.recv_timeout(due - now),
                }
            }
            _ => early.next(run, exited_at.is_none()),
        };
        let event = match next {
            Ok(event) => event,
            Err(RecvTimeoutError::Timeout) => continue,
            // Cannot happen: the run holds a sender.
            Err(RecvTimeoutError::Disconnected) => {
                break Error::other("the run's threads are gone")
            }
        };
        match event {
            Event::Cancelled => break Error::Cancelled,
            Event::Input(Ok(())) => pending.input = false,
            Event::Input(Err(Pumped::Write(e))) => {
                pending.input = false;
                early.input_failed(&e, exited_at.is_none());
                pending.write_failure.get_or_insert(e.into());
            }
            Event::Input(Err(Pumped::Read(e))) => break e,
            Event::Output(Ok(())) => {
                pending.output = false;
                early.output_ended(exited_at.is_none());
            }
            Event::Output(Err(e)) if closed_after_exit || link.is_shut() => {
                // Cut by the run itself after the exit: everything before was copied.
                log::debug!("Output stream of container \"{id}\" closed: {e}");
                pending.output = false;
            }
            Event::Output(Err(e)) => break output_failed(id, e),
            Event::Lost(e) => break e,
            Event::Waited(Ok(w)) => {
                *wait_pending = false;
                container.exited.store(true, Ordering::SeqCst);
                exited_at = Some(Instant::now());
                waited = Some(w);
            }
            // The client's cancel, or its wait timeout: the error says so as it is.
            Event::Waited(Err(e)) if e.is_cancelled() || e.is_timeout() => {
                *wait_pending = false;
                break e;
            }
            // Of its own kind (a cut connection stays an i/o error), saying what broke.
            Event::Waited(Err(e)) => {
                *wait_pending = false;
                break e.context(format_args!("waiting for container \"{id}\" to stop"));
            }
        }
    };
    stop(container, link);
    Err(stopped)
}

/// When the run closes the attach connection of the exited container (`exit`) itself.
///
/// While the output is still coming, after `grace` of silence on it (counted only while the
/// output thread waits for data: `now + grace` while it is busy with the caller's writers).
/// Once only the input is left, which nothing reads any more, as soon as a write of it has
/// been stuck for [`INPUT_STALL`] since the exit (a daemon that stops reading it would keep it
/// waiting until it gives the connection up, 20-30 s on Docker), and `grace` after the exit
/// at the latest. `None` when `grace` is too long to add to the clock: no limit.
fn close_due(
    exit: Instant,
    now: Instant,
    grace: Duration,
    pending: &Pending,
    progress: &Progress,
) -> Option<Instant> {
    if pending.output {
        let silent_since = lock(&progress.reading_since).map_or(now, |t| t.max(exit));
        return silent_since.checked_add(grace);
    }
    let stall = match *lock(&progress.writing_since) {
        Some(t) => t.max(exit) + INPUT_STALL,
        // Not writing now: look again soon.
        None => now + INPUT_STALL,
    };
    Some(
        exit.checked_add(grace)
            .map_or(stall, |latest| latest.min(stall)),
    )
}

/// Turns the wait's answer into the run's result: a non-zero exit is a `ContainerError`.
fn finish_wait(
    client: &dyn Client,
    container: &Container,
    waited: ContainerWaitResponse,
    write_failure: Option<Error>,
) -> Result<()> {
    let id = container.id.as_str();
    let code = waited.status_code;
    if code != 0 {
        // A fresh call: the reference reused an expired deadline here and lost the state.
        let output = match client.container_inspect(id) {
            Ok(inspect) => inspect
                .state
                .map(|st| {
                    format!(
                        "Status: {}, Error: {}, OOMKilled: {}, Dead: {}",
                        st.status, st.error, st.oom_killed, st.dead
                    )
                })
                .unwrap_or_default(),
            Err(_) => String::new(),
        };
        return Err(Error::container(id, code, output));
    }
    if let Some(e) = write_failure {
        log::warn!("Container \"{id}\" exited without reading all of its input: {e}");
    }
    Ok(())
}

/// Waits at most `limit` for the wait thread's answer.
pub(super) fn reap_wait(events: &Receiver<Event>, limit: Duration) {
    let until = Instant::now().checked_add(limit);
    loop {
        let left = until.map_or(limit, |u| u.saturating_duration_since(Instant::now()));
        match events.recv_timeout(left) {
            Ok(Event::Waited(_)) | Err(_) => return,
            Ok(_) => {}
        }
    }
}

/// How long a write of the input may be stuck after the container exited and its output
/// ended before the run closes the input (see [`close_due`]).
const INPUT_STALL: Duration = Duration::from_millis(500);

/// When the stream threads' current read of the output and write of the input began; `None`
/// while they do something else (e.g. hand output to the caller's writers).
#[derive(Default)]
pub(super) struct Progress {
    pub(super) reading_since: Mutex<Option<Instant>>,
    pub(super) writing_since: Mutex<Option<Instant>>,
}

/// The attach stream's read half, noting when each read began (for the grace period after the
/// container's exit).
pub(super) struct Watched<'a> {
    pub(super) inner: Box<dyn Read + Send>,
    pub(super) reading_since: &'a Mutex<Option<Instant>>,
}

impl Read for Watched<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        *lock(self.reading_since) = Some(Instant::now());
        let read = self.inner.read(buf);
        *lock(self.reading_since) = None;
        read
    }
}

#[cfg(test)]
mod tests {
    //! Exits, failed waits and streams, and output streams that stay open after the exit.

    use std::io::{self, Write};
    use std::sync::atomic::AtomicBool;
    use std::time::Duration;

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::{Docker, DockerClient, RunContainerOptions};
    use crate::fake::stdcopy_frame;
    use crate::fake::testing::docker::*;
    use crate::ops::container::ContainerState;

    #[test]
    fn daemon_stream_errors_and_wait_errors() {
        let (fake, d) = setup();
        fake.state().attach_output = [stdcopy_frame(1, b"a"), stdcopy_frame(3, b"oops")].concat();
        let e = d
            .run_container(RunContainerOptions {
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(e.to_string().contains("oops"), "{e}");
        assert!(fake.state().containers.is_empty());
        let (fake, d) = setup();
        fake.state().wait_container_err = Some(Error::api(500, "wait broke"));
        let e = d.run_container(opts("assemble")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "Error response from daemon: waiting for container \"fake-container-1\" to stop: wait broke"
        );
        assert_eq!(e.status(), Some(500));
        assert!(fake
            .state()
            .killed
            .contains(&"fake-container-1".to_string()));
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn a_wait_timeout_fails_the_run_and_removes_the_container() {
        let (fake, d) = setup();
        fake.state().wait_container_err = Some(Error::Timeout {
            what: "POST /containers/fake-container-1/wait".into(),
            after: Duration::from_secs(1),
        });
        let e = d
            .run_container(RunContainerOptions {
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        let state = fake.state();
        assert!(state.killed.contains(&"fake-container-1".to_string()));
        assert!(state.containers.is_empty());
    }

    #[test]
    fn non_zero_exit_reports_the_state_decision_4() {
        let (fake, d) = setup();
        {
            let mut s = fake.state();
            s.wait_container_result = 3;
            s.wait_container_err_inspect_json.state = Some(ContainerState {
                status: "exited".into(),
                error: "".into(),
                oom_killed: true,
                dead: false,
                exit_code: 3,
                ..Default::default()
            });
        }
        let post_called = Arc::new(AtomicBool::new(false));
        let p = post_called.clone();
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(move |_: &str, _: &str| {
                    p.store(true, Ordering::SeqCst);
                    Ok(())
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(3));
        assert_eq!(
            e.to_string(),
            "non-zero (3) exit code from fake-container-1"
        );
        let Error::Container(c) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(
            c.output,
            "Status: exited, Error: , OOMKilled: true, Dead: false"
        );
        assert!(!post_called.load(Ordering::SeqCst));
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "start",
                "wait",
                "inspect_container",
                "remove"
            ]
        );
        // An inspect that fails leaves the output empty.
        fake.state().inspect_container_err = Some(Error::api(500, "gone"));
        let e = d.run_container(opts("assemble")).unwrap_err();
        let Error::Container(c) = &e else {
            panic!("{e:?}")
        };
        assert_eq!(c.output, "");
    }

    /// A writer that takes its time with every write.
    struct SlowWriter(Probe, Duration);
    impl Write for SlowWriter {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            std::thread::sleep(self.1);
            self.0.data.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_output_stream_left_open_after_the_exit_is_closed_after_the_grace() {
        let (fake, d) = setup();
        let d = d.with_output_grace(Duration::from_millis(100));
        // The container exits at once (exit code 0), the daemon never ends the stream.
        fake.state().attach_stays_open = true;
        fake.state().attach_output = [
            stdcopy_frame(1, b"one\n"),
            stdcopy_frame(2, b"two\n"),
            stdcopy_frame(1, b"three\n"),
        ]
        .concat();
        let (out, err) = (Probe::default(), Probe::default());
        let (o, e) = (out.clone(), err.clone());
        let f = fake.clone();
        let (r, logs) = within(Duration::from_secs(10), move || {
            logs_of(|| {
                d.run_container(RunContainerOptions {
                    stdin: stdin(b"tar"),
                    // Slower than the grace for each piece: still nothing is cut.
                    stdout: Some(Box::new(SlowWriter(o, Duration::from_millis(250)))),
                    stderr: Some(e.writer()),
                    ..opts("assemble")
                })
            })
        });
        r.unwrap();
        assert_eq!(out.text(), "one\nthree\n");
        assert_eq!(err.text(), "two\n");
        assert!(out.is_dropped() || err.is_dropped());
        assert_logged(
            &logs,
            log::Level::Warn,
            "The output stream of container \"fake-container-1\" stayed open 100ms after it exited; closing it",
        );
        assert!(f.state().containers.is_empty());
        // A container that exits non-zero is reported as such.
        fake.state().wait_container_result = 4;
        let e = within(Duration::from_secs(10), {
            let d = DockerClient::new(fake.clone(), auth())
                .with_output_grace(Duration::from_millis(50));
            move || {
                d.run_container(RunContainerOptions {
                    stdout: Some(Box::new(io::sink())),
                    ..opts("assemble")
                })
            }
        })
        .unwrap_err();
        assert_eq!(e.exit_code(), Some(4));
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn output_is_read_to_its_end_while_the_wait_has_answered() {
        // The wait answers at once, the stream ends by itself: everything arrives, no warning.
        let (fake, d) = setup();
        let frames: Vec<u8> = (0..200)
            .flat_map(|i| stdcopy_frame(1 + (i % 2) as u8, format!("line {i}\n").as_bytes()))
            .collect();
        fake.state().attach_output = frames;
        let (out, err) = (Probe::default(), Probe::default());
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                stdout: Some(out.writer()),
                stderr: Some(err.writer()),
                ..opts("assemble")
            })
        });
        r.unwrap();
        assert_eq!(out.text().lines().count(), 100);
        assert_eq!(err.text().lines().count(), 100);
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "create",
                "attach",
                "start",
                "wait",
                "remove"
            ]
        );
    }

    #[test]
    fn an_endless_output_grace_is_no_limit() {
        // The wait answers while the output is still being written: the grace is computed,
        // and `Duration::MAX` must mean "never close", not an overflow.
        let (fake, d) = setup();
        let d = d.with_output_grace(Duration::MAX);
        fake.state().attach_output =
            [stdcopy_frame(1, b"one\n"), stdcopy_frame(1, b"two\n")].concat();
        let out = Probe::default();
        let o = out.clone();
        let r = within(Duration::from_secs(10), move || {
            d.run_container(RunContainerOptions {
                stdout: Some(Box::new(SlowWriter(o, Duration::from_millis(100)))),
                ..opts("assemble")
            })
        });
        r.unwrap();
        assert_eq!(out.text(), "one\ntwo\n");
        assert!(fake.state().containers.is_empty());
    }
}
