//! `run_container`: create, attach, start, stream, wait, and remove on every path.
//!
//! A run, step by step (each step is a function, in this file unless another is named):
//!
//! 1. `inspect_image`: the image is inspected, and pulled first when asked and missing. One
//!    reply gives its labels, environment and entrypoint.
//! 2. `create_request` (`run/command.rs`): the command (the reference's §3.4), the entrypoint
//!    and the rest of the create request, from the options and the image.
//! 3. `create`: the container is created. A create whose reply was lost may have created it
//!    anyway; it is looked for by name and removed (`remove_after_lost_create`,
//!    `run/cleanup.rs`). From here on `RemoveOnDrop` (`run/cleanup.rs`) removes the container on
//!    every way out of `run_container`, a panic included.
//! 4. `arm_cancel`: the [`RunCancel`] handle (`run/cancel.rs`), if any, learns what cancelling
//!    this run means: shut the attach connection down (`Link`, `run/link.rs`), tell the
//!    watching thread, kill the container. A handle cancelled already ends the run here.
//! 5. `attach_start_wait` (`run/attach.rs`): the caller's streams are attached, the container
//!    started, and threads started that copy stdin in and the output out and run `on_start`.
//! 6. `wait_and_watch` (`run/watch.rs`), called by the previous step: the container is waited
//!    for while the caller's thread watches everything at once, until the container exited and
//!    its streams ended, or until something ends the run early: a stream failing, the wait
//!    failing, a cancel. An early end stops the run (`stop`, `run/cleanup.rs`): the attach
//!    connection is shut down and the container killed. Then `on_start` is joined, whatever
//!    happened (`join_on_start`, `run/attach.rs`). A stream that ends before the wait answers
//!    (`run/early.rs`) makes the run ask the engine, with an inspect, whether the container
//!    still runs: if it does, the attach connection was lost and the run fails; if not, a wait
//!    that stays silent for the output grace is replaced by the exit the inspect found.
//! 7. `post_exec`: the caller's `post_exec` runs when all went well.
//! 8. `remove_and_reap`: the container is removed with its volumes, forced when the kill
//!    failed or the daemon says it still runs (`Container::remove`, `run/cleanup.rs`). A
//!    removal that fails in transit or that the daemon cannot carry out now is tried again,
//!    with pauses, for up to [`REMOVE_WINDOW`]; a 404 counts as removed. A container still
//!    there then is logged at error level; when the run had otherwise succeeded, its result is
//!    that error, which names the container left behind (a run that failed keeps its error).
//!
//! A run uses the caller's thread and up to four more: one copies the caller's stdin into the
//! attach stream, one copies the container's output out of it, one runs `on_start`, and one
//! waits for the container to exit. The caller's thread watches them all (through one channel
//! of events), so that whatever happens first (the container exiting, a stream failing, a
//! cancel) is acted on at once. The first three threads are scoped to the run and always
//! joined; the run makes sure they end by shutting the attach connection down. The wait is not
//! joined when the run stops early: the run must not depend on the daemon answering it, and
//! the removal of the container ends it soon after.
//!
//! The caller's hooks and streams run under [`catch_hook`] (`run/hook.rs`): a panic in one is
//! an error of the run, and the container is still removed.
//!
//! This file and those under `run/` use the layers below `docker` (`client`, `ops`, `error`,
//! `config`, `image_ref`, `archive`) and, of `docker`, the options, the image metadata functions,
//! `pull` and `io`; nothing above.

mod attach;
mod cancel;
mod cleanup;
mod command;
mod early;
mod hook;
mod link;
mod watch;

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::docker::{pull, DockerClient, RunContainerOptions};
use crate::error::{Error, Result};
use crate::image_ref::{container_name, get_image_name};
use crate::ops::container::ContainerCreateBody;
use crate::ops::image::ImageInspect;

use attach::attach_start_wait;
use cancel::{Armed, CancelAction};
use cleanup::{cleanup_client, remove_after_lost_create, Container, RemoveOnDrop};
use command::{create_request, redacted_for_log};
use link::Link;
use watch::{reap_wait, Event, Run};

pub use cancel::RunCancel;
pub(crate) use hook::catch_hook;

/// `/dev/shm` size of S2I containers: 64 MiB.
pub const DEFAULT_SHM_SIZE: i64 = 67_108_864;

/// The entrypoint that replaces an image's own so that S2I's command runs as given.
pub const DEFAULT_ENTRYPOINT: &[&str] = &["/usr/bin/env"];

/// How long the output stream of an exited container may stay silent before the run closes
/// it (see [`DockerClient::with_output_grace`]).
pub(crate) const DEFAULT_OUTPUT_GRACE: Duration = Duration::from_secs(5);

/// How long the removal of a run's container keeps trying: 10 s.
///
/// A removal that fails in transit (the engine unreachable, the connection cut) or that the
/// daemon cannot carry out now (a 5xx, a conflict) is sent again after a pause (200 ms,
/// doubling up to 2 s) until this much time has passed since the first attempt; a removal in
/// flight then is not cut short. This covers an engine restarted during the run. A container
/// that is still there then makes a run that had otherwise succeeded fail with the removal's
/// error (of its kind, naming the container left behind); a run that failed keeps its error,
/// and the container is logged at error level.
pub const REMOVE_WINDOW: Duration = Duration::from_secs(10);

/// How long a run that ended early waits, after removing its container, for the wait thread to
/// hear of the removal and release its connection.
const WAIT_AFTER_REMOVAL: Duration = Duration::from_secs(2);

/// Locks a mutex whose data stays valid whatever a panicking holder was doing.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The reference's `holdHijackedConnection` + wait + hooks; see the module's docs.
pub(crate) fn run_container(d: &DockerClient, mut opts: RunContainerOptions) -> Result<()> {
    let cancel = opts.cancel.clone();
    let cancelled = || cancel.as_ref().is_some_and(RunCancel::is_cancelled);
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let image = get_image_name(&opts.image);
    let inspect = inspect_image(d, &image, opts.pull_image)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    let (body, tar_destination) = create_request(&opts, &image, &inspect)?;
    let container = Arc::new(create(d, &opts, &body, &cancelled)?);
    let guard = RemoveOnDrop(&container);
    let link = Arc::new(Link::default());
    let (sender, events) = mpsc::channel();
    let armed = arm_cancel(cancel.as_ref(), &container, &link, &sender)?;
    let run = Run {
        d,
        container: &container,
        link: &link,
        sender: &sender,
        events: &events,
    };
    let mut wait_pending = false;
    let result = attach_start_wait(&run, &image, &mut opts, &cancelled, &mut wait_pending);
    let result = post_exec(
        result,
        &mut opts,
        &container.id,
        &tar_destination,
        &cancelled,
    );
    drop(armed);
    remove_and_reap(&container, wait_pending, sender, &events);
    // The remaining option streams go with `opts`.
    drop(guard);
    match (result, container.take_removal_error()) {
        // Logged at error level by the removal; the run's own failure says more.
        (Err(e), _) => Err(e),
        (Ok(()), Some(left)) => Err(left),
        (Ok(()), None) => Ok(()),
    }
}

/// The image's inspect, after a pull when `pull_image` asks for it and the image is missing.
fn inspect_image(d: &DockerClient, image: &str, pull_image: bool) -> Result<ImageInspect> {
    // One inspect gives labels, env and entrypoint (the reference made three calls for these).
    let inspected = if pull_image {
        pull::inspect_or_pull(d, image)
    } else {
        d.client.image_inspect_with_raw(image).map(|(i, _)| i)
    };
    match inspected {
        Ok(i) => Ok(i),
        Err(e) => {
            log::error!("Unable to get image metadata for {image}: {e}");
            Err(e)
        }
    }
}

/// Creates the container under a fresh name; when the create fails, removes the container it
/// may have made all the same (see [`remove_after_lost_create`]).
fn create(
    d: &DockerClient,
    opts: &RunContainerOptions,
    body: &ContainerCreateBody,
    cancelled: &dyn Fn() -> bool,
) -> Result<Container> {
    let name = container_name(&opts.image);
    log::debug!(
        "Creating container with options {{Name:{name} Config:{}}}",
        redacted_for_log(body)
    );
    let created = match d.client.container_create(body, &name) {
        Ok(created) => created,
        Err(e) => {
            remove_after_lost_create(cleanup_client(&d.client).as_ref(), &name, &e, cancelled);
            return Err(e);
        }
    };
    for warning in &created.warnings {
        log::warn!("{warning}");
    }
    Ok(Container::new(d.client.clone(), created.id))
}

/// Tells `cancel`, if any, what cancelling this run does, until the returned guard is dropped;
/// [`Error::Cancelled`] when the handle is cancelled already.
fn arm_cancel(
    cancel: Option<&RunCancel>,
    container: &Arc<Container>,
    link: &Arc<Link>,
    sender: &Sender<Event>,
) -> Result<Option<Armed>> {
    let Some(c) = cancel else {
        return Ok(None);
    };
    let (container, link, sender) = (container.clone(), link.clone(), sender.clone());
    let action: CancelAction = Box::new(move || {
        // The run stops waiting first, so that it ends whatever the kill does.
        link.shutdown();
        let _ = sender.send(Event::Cancelled);
        container.kill();
    });
    match c.arm(action) {
        Some(armed) => Ok(Some(armed)),
        None => Err(Error::Cancelled),
    }
}

/// Runs `post_exec` after a run that succeeded and was not cancelled; its result is the run's.
fn post_exec(
    result: Result<()>,
    opts: &mut RunContainerOptions,
    id: &str,
    tar_destination: &str,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    match result {
        Ok(()) if cancelled() => Err(Error::Cancelled),
        Ok(()) => match opts.post_exec.take() {
            Some(post) => {
                log::info!("Invoking PostExecute function");
                catch_hook("post_exec", || post.post_execute(id, tar_destination))
            }
            None => Ok(()),
        },
        Err(e) => Err(e),
    }
}

/// Removes the container; when the wait is still out, waits a little for its answer.
fn remove_and_reap(
    container: &Container,
    wait_pending: bool,
    sender: Sender<Event>,
    events: &Receiver<Event>,
) {
    if container.remove() && wait_pending {
        // The daemon answers a wait once its container is gone: let the wait thread end (and
        // let go of its connection) before returning, but never for long.
        drop(sender);
        reap_wait(events, WAIT_AFTER_REMOVAL);
    }
}

#[cfg(test)]
mod fixtures {
    //! What the run's tests share: options, the caller's streams, and runs that must not hang.

    use std::io::{self, Cursor, Read, Write};
    use std::sync::{mpsc, Arc};
    use std::time::Duration;

    use crate::docker::{DockerClient, RunContainerOptions};
    use crate::error::Error;
    use crate::fake::testing::docker::setup;
    use crate::fake::FakeClient;

    pub(super) fn stdin(data: &[u8]) -> Option<Box<dyn Read + Send>> {
        Some(Box::new(Cursor::new(data.to_vec())))
    }

    pub(super) fn opts(command: &str) -> RunContainerOptions {
        RunContainerOptions {
            image: "builder".into(),
            command: command.into(),
            ..Default::default()
        }
    }

    /// A writer that panics.
    pub(super) struct PanickyWriter;
    impl Write for PanickyWriter {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            panic!("writer")
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// A reader that fails.
    pub(super) struct FailingReader;
    impl Read for FailingReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::Error::other("source vanished"))
        }
    }

    /// A run whose container never stops by itself and whose kill always fails.
    pub(super) fn unkillable() -> (Arc<FakeClient>, DockerClient) {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        fake.state().kill_err = Some(Error::api(500, "cannot kill"));
        (fake, d)
    }

    /// Runs `f` on a thread and fails the test if it takes longer than `limit`.
    pub(super) fn within<T: Send + 'static>(
        limit: Duration,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> T {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("still running after {limit:?}"))
    }
}

#[cfg(test)]
mod tests {
    //! Whole runs: the engine calls in order, pulls, `post_exec`, and `target_image` runs.

    use std::sync::Mutex;

    use super::fixtures::*;
    use super::*;
    use crate::docker::Docker;
    use crate::fake::testing::docker::*;
    use crate::fake::FakeClient;

    #[test]
    fn a_wait_cut_in_transit_stays_an_io_error() {
        let (fake, d) = setup();
        fake.state().wait_container_err = Some(Error::Io(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "reply cut",
        )));
        let e = d.run_container(opts("assemble")).unwrap_err();
        assert!(matches!(&e, Error::Io(_)), "{e:?}");
        assert!(e.is_connection_error(), "{e:?}");
        assert_eq!(
            e.to_string(),
            "i/o error: waiting for container \"fake-container-1\" to stop: reply cut"
        );
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn call_sequence_with_and_without_streams() {
        let (fake, d) = setup();
        d.run_container(RunContainerOptions {
            stdin: stdin(b"tar"),
            ..opts("assemble")
        })
        .unwrap();
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
        let (fake, d) = setup();
        d.run_container(opts("run")).unwrap();
        // Nothing to stream: no attach at all.
        assert_eq!(
            fake.calls(),
            ["inspect_image", "create", "start", "wait", "remove"]
        );
        assert!(fake.state().containers.is_empty());
        let (name, _) = fake.state().created[0].clone();
        assert!(name.starts_with("s2i_builder_"), "{name}");
        assert!(fake.state().removed[0].1.remove_volumes);
    }

    #[test]
    fn pull_image_pulls_a_missing_image_decision_2() {
        let (fake, d) = setup();
        fake.state()
            .registry
            .insert("remote:latest".into(), builder());
        d.run_container(RunContainerOptions {
            image: "remote".into(),
            pull_image: true,
            ..opts("run")
        })
        .unwrap();
        assert_eq!(
            fake.calls(),
            [
                "inspect_image",
                "pull",
                "inspect_image",
                "create",
                "start",
                "wait",
                "remove"
            ]
        );
        // Present: checked once, not pulled.
        let (fake, d) = setup();
        d.run_container(RunContainerOptions {
            pull_image: true,
            ..opts("run")
        })
        .unwrap();
        assert_eq!(fake.calls()[..2], ["inspect_image", "create"]);
        // Without pull_image a missing image fails before anything is created.
        let (fake, d) = setup();
        let (e, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                image: "remote".into(),
                ..opts("run")
            })
            .unwrap_err()
        });
        assert!(e.is_not_found());
        assert_eq!(fake.calls(), ["inspect_image"]);
        assert!(logs.iter().any(|(l, m)| *l == log::Level::Error
            && m.starts_with("Unable to get image metadata for remote:latest: ")));
    }

    #[test]
    fn post_exec_gets_the_destination() {
        let (fake, d) = setup();
        let got = Arc::new(Mutex::new(None));
        let g = got.clone();
        d.run_container(RunContainerOptions {
            destination: "/opt/src".into(),
            post_exec: Some(Box::new(move |id: &str, dest: &str| {
                *g.lock().unwrap() = Some((id.to_string(), dest.to_string()));
                Ok(())
            })),
            ..opts("save-artifacts")
        })
        .unwrap();
        assert_eq!(
            got.lock().unwrap().clone(),
            Some(("fake-container-1".to_string(), "/opt/src".to_string()))
        );
        // Its error is the run's; the container is removed anyway.
        let e = d
            .run_container(RunContainerOptions {
                post_exec: Some(Box::new(|_: &str, _: &str| {
                    Err(Error::other("extract failed"))
                })),
                ..opts("save-artifacts")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "extract failed");
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn target_image_runs_the_image_as_it_is() {
        let mut img = builder();
        if let Some(c) = img.config.as_mut() {
            c.entrypoint = Some(vec!["/entry".into()]);
        }
        let fake = Arc::new(FakeClient::new());
        fake.add_image("builder:latest", img);
        let dest = Arc::new(Mutex::new(None));
        let seen = dest.clone();
        fake.state()
            .wait_container_err_inspect_json
            .network_settings = Some(crate::ops::container::NetworkSettings {
            ports: [(
                "8080/tcp".to_string(),
                Some(vec![crate::ops::container::PortBinding {
                    host_ip: "0.0.0.0".into(),
                    host_port: "32768".into(),
                }]),
            )]
            .into(),
        });
        let d = DockerClient::new(fake.clone(), auth());
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                target_image: true,
                post_exec: Some(Box::new(move |_: &str, d: &str| {
                    *seen.lock().unwrap() = Some(d.to_string());
                    Ok(())
                })),
                ..opts("run")
            })
        });
        r.unwrap();
        assert_logged(&logs, log::Level::Info, "The image builder:latest has been started in container fake-container-1 as a result of the --run=true option. Port Bindings:\n  Container Port:  8080/tcp\n  Public Host / Port Mappings:\n    IP: 0.0.0.0 Port: 32768");
        let body = fake.state().created[0].1.clone();
        assert_eq!(body.config.cmd, None);
        assert_eq!(body.config.entrypoint, None);
        assert!(body.host_config.publish_all_ports);
        assert_eq!(dest.lock().unwrap().as_deref(), Some(""));
        // The port dump inspects the container.
        assert!(fake.calls().contains(&"inspect_container".to_string()));
    }
}
