//! The attached part of a run: attach, start, the threads that copy the caller's stdin in and
//! the container's output out, `on_start`, and then the watch until the container is done.
//!
//! Everything here happens inside one thread scope, so the stream threads and `on_start` are
//! always joined; a run that ends early shuts the attach connection down (see `stop`) so that
//! they can end. Uses the [`Client`] trait, the Engine API's attach options and stream
//! demultiplexing, and of the run `cleanup`, `hook`, `link` and `watch`.

use std::io::{self, Read, Write};
use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc::Sender;
use std::sync::Mutex;
use std::thread::{self, Scope, ScopedJoinHandle};
use std::time::Instant;

use crate::client::{Client, StdinWriter};
use crate::docker::transfer::filled;
use crate::docker::{OnStartHook, RunContainerOptions};
use crate::error::{Error, Result};
use crate::ops::container::{ContainerAttachOptions, HijackedResponse};
use crate::ops::stream::demux;

use super::cleanup::{stop, Container, StopOnUnwind};
use super::hook::catch_hook;
use super::link::Link;
use super::lock;
use super::watch::{wait_and_watch, Event, Pending, Progress, Pumped, Run, Watched};

/// Attach, start, stream stdin in and output out, wait, join `on_start`.
pub(super) fn attach_start_wait(
    run: &Run<'_>,
    image: &str,
    opts: &mut RunContainerOptions,
    cancelled: &dyn Fn() -> bool,
    wait_pending: &mut bool,
) -> Result<()> {
    let client = run.d.client.as_ref();
    let container: &Container = run.container;
    let link: &Link = run.link;
    let id = container.id.as_str();
    let stdin = opts.stdin.take();
    let stdout = opts.stdout.take();
    let stderr = opts.stderr.take();
    let wanted = ContainerAttachOptions {
        stream: true,
        stdin: stdin.is_some(),
        stdout: stdout.is_some(),
        stderr: stderr.is_some(),
    };
    let hijacked = attach(client, link, id, &wanted)?;
    start(client, id, cancelled)?;
    let on_start = opts.on_start.take();
    let (reader, writer) = match hijacked {
        Some(h) => (Some(h.reader), Some(h.writer)),
        None => (None, None),
    };
    // When the output thread's current read and the input thread's current write began.
    let progress = Progress::default();
    let target_image = opts.target_image;

    thread::scope(|s| {
        let _unwind = StopOnUnwind(container, link);
        // The scope joins the threads started before a failure: end their streams first.
        let stopping = |e: Error| {
            stop(container, link);
            e
        };
        // Only stdin is attached: the read half stays open (unread) until the run ends.
        let (output, _idle_reader) = copy_output(
            s,
            run.sender,
            reader,
            stdout,
            stderr,
            &progress.reading_since,
        )
        .map_err(stopping)?;
        let (input, write_failure) =
            copy_input(s, run.sender, writer, stdin, &progress.writing_since).map_err(stopping)?;
        let hook = spawn_on_start(s, on_start, id).map_err(stopping)?;
        if target_image {
            dump_container_info(client, image, id);
        }
        let pending = Pending {
            input,
            output,
            write_failure,
        };
        let result = wait_and_watch(run, pending, &progress, wait_pending);
        join_on_start(container, hook, result, cancelled)
    })
}

/// Attaches the streams `wanted` names, if any: before the start, so that no output is lost.
/// The connection is handed to `link` at once, so that it can be shut down from then on.
fn attach(
    client: &dyn Client,
    link: &Link,
    id: &str,
    wanted: &ContainerAttachOptions,
) -> Result<Option<HijackedResponse>> {
    if !(wanted.stdin || wanted.stdout || wanted.stderr) {
        return Ok(None);
    }
    // `stream=1` whichever stream is attached, or the daemon answers at once without streaming.
    match client.container_attach(id, wanted) {
        Ok(h) => {
            link.attached(h.writer.shutdown_handle());
            Ok(Some(h))
        }
        Err(e) => {
            log::error!("Unable to attach to container \"{id}\": {e}");
            Err(e)
        }
    }
}

/// Starts the container, unless the run is cancelled.
fn start(client: &dyn Client, id: &str, cancelled: &dyn Fn() -> bool) -> Result<()> {
    // Checked on both sides of the start: a cancel that came during the attach finds the
    // container not started yet, and its kill was a no-op, so it must not be started at all.
    if cancelled() {
        return Err(Error::Cancelled);
    }
    client.container_start(id)?;
    if cancelled() {
        return Err(Error::Cancelled);
    }
    Ok(())
}

/// Starts copying the container's output to the caller's writers when there is any to copy;
/// says whether it did. Otherwise the writers are closed now, and the read half of the
/// connection, if any, is handed back to be kept open.
fn copy_output<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    sender: &Sender<Event>,
    reader: Option<Box<dyn Read + Send>>,
    stdout: Option<Box<dyn Write + Send>>,
    stderr: Option<Box<dyn Write + Send>>,
    reading_since: &'env Mutex<Option<Instant>>,
) -> Result<(bool, Option<Box<dyn Read + Send>>)> {
    match (reader, stdout.is_some() || stderr.is_some()) {
        (Some(reader), true) => {
            let sender = sender.clone();
            spawn(s, "s2i-output", move || {
                let mut reader = Watched {
                    inner: reader,
                    reading_since,
                };
                let mut out = Flushing(stdout);
                let mut err = Flushing(stderr);
                let copied = catch_hook("output writer", || demux(&mut reader, &mut out, &mut err));
                // Closed at the end of the stream, before the run ends, so that readers of
                // pipes behind them see EOF.
                drop((out, err));
                let _ = sender.send(Event::Output(copied));
            })?;
            Ok((true, None))
        }
        (reader, _) => {
            drop((stdout, stderr));
            Ok((false, reader))
        }
    }
}

/// Starts copying the caller's stdin into the container when both ends are there; says
/// whether it did, and how closing an attached stdin that gets no input failed.
fn copy_input<'scope, 'env>(
    s: &'scope Scope<'scope, 'env>,
    sender: &Sender<Event>,
    writer: Option<Box<dyn StdinWriter>>,
    stdin: Option<Box<dyn Read + Send>>,
    writing_since: &'env Mutex<Option<Instant>>,
) -> Result<(bool, Option<Error>)> {
    // Writing stdin fails when the container exits before reading it all (Podman resets
    // the connection at once). The exit code says whether that mattered: `tar -xf -` on a
    // cut stream fails, a script that ignores its input succeeds.
    let mut write_failure: Option<Error> = None;
    let copying = match (writer, stdin) {
        (Some(mut w), Some(mut input)) => {
            let sender = sender.clone();
            spawn(s, "s2i-input", move || {
                let pumped = panic::catch_unwind(AssertUnwindSafe(|| {
                    pump_stdin(&mut input, w.as_mut(), writing_since).and_then(|()| {
                        // With `StdinOnce`, this closes the container's stdin: `tar -xf -`
                        // sees EOF.
                        w.close_write().map_err(Pumped::Write)
                    })
                }))
                .unwrap_or_else(|_| Err(Pumped::Read(Error::other("stdin writer panicked"))));
                // The caller's stdin is closed here; the write half stays open until here
                // so that the daemon does not see an early EOF.
                drop((input, w));
                let _ = sender.send(Event::Input(pumped));
            })?;
            true
        }
        (Some(mut w), None) => {
            if let Err(e) = w.close_write() {
                write_failure = Some(e.into());
            }
            false
        }
        (None, stdin) => {
            drop(stdin);
            false
        }
    };
    Ok((copying, write_failure))
}

/// Runs `on_start` with the container's ID on a thread of its own.
fn spawn_on_start<'scope>(
    s: &'scope Scope<'scope, '_>,
    on_start: Option<OnStartHook>,
    id: &'scope str,
) -> Result<Option<ScopedJoinHandle<'scope, Result<()>>>> {
    match on_start {
        Some(f) => spawn(s, "s2i-on-start", move || catch_hook("on_start", || f(id))).map(Some),
        None => Ok(None),
    }
}

/// Joins `on_start`, after killing the container when the run failed or was cancelled; the
/// run's own error comes first, then the hook's.
fn join_on_start(
    container: &Container,
    hook: Option<ScopedJoinHandle<'_, Result<()>>>,
    mut result: Result<()>,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let id = container.id.as_str();
    if result.is_err() || cancelled() {
        // Whatever `on_start` is doing with the container ends sooner without it.
        container.kill();
    }
    if let Some(h) = hook {
        let hooked = h
            .join()
            .unwrap_or_else(|_| Err(Error::other("on_start panicked")));
        match (&result, hooked) {
            (_, Ok(())) => {}
            (Ok(()), Err(e)) => result = Err(e),
            (Err(_), Err(e)) => log::warn!("on_start hook of container \"{id}\" failed: {e}"),
        }
    }
    if cancelled() {
        return Err(Error::Cancelled);
    }
    result
}

/// Starts a scoped thread; the OS refusing one is an error of the run, not a panic.
fn spawn<'scope, T: Send + 'scope>(
    s: &'scope Scope<'scope, '_>,
    name: &str,
    f: impl FnOnce() -> T + Send + 'scope,
) -> Result<ScopedJoinHandle<'scope, T>> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(s, f)
        .map_err(|e| Error::other(format!("cannot start the {name} thread: {e}")))
}

/// Copies the caller's stdin into the container, telling the two sides' errors apart.
/// `writing_since` tells when the write in progress, if any, began.
fn pump_stdin(
    input: &mut Box<dyn Read + Send>,
    w: &mut dyn StdinWriter,
    writing_since: &Mutex<Option<Instant>>,
) -> Result<(), Pumped> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match catch_hook("stdin reader", || Ok(input.read(&mut buf))) {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(e)) => return Err(Pumped::Read(e.into())),
            Err(panicked) => return Err(Pumped::Read(panicked)),
        };
        let chunk = filled(&buf, n).map_err(|e| Pumped::Read(e.into()))?;
        *lock(writing_since) = Some(Instant::now());
        let written = w.write_all(chunk);
        *lock(writing_since) = None;
        written.map_err(Pumped::Write)?;
    }
}

/// A writer that flushes after every write, so the caller sees the output as it arrives.
struct Flushing(Option<Box<dyn Write + Send>>);

impl Write for Flushing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.0 {
            Some(w) => {
                w.write_all(buf)?;
                w.flush()?;
                Ok(buf.len())
            }
            None => Ok(buf.len()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.0 {
            Some(w) => w.flush(),
            None => Ok(()),
        }
    }
}

/// Logs where a `target_image` container's ports are published (the reference's
/// `dumpContainerInfo`); errors are ignored, this is information only.
fn dump_container_info(client: &dyn Client, image: &str, id: &str) {
    let Ok(inspect) = client.container_inspect(id) else {
        return;
    };
    let mut text = format!(
        "The image {image} has been started in container {id} as a result of the --run=true option. \
         Port Bindings:"
    );
    let mut ports: Vec<_> = inspect
        .network_settings
        .map(|n| n.ports.into_iter().collect())
        .unwrap_or_default();
    // The keys of a map: no two alike.
    ports.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    if ports.is_empty() {
        text.push_str(" none");
    }
    for (port, bindings) in ports {
        text.push_str(&format!(
            "\n  Container Port:  {port}\n  Public Host / Port Mappings:"
        ));
        for b in bindings.unwrap_or_default() {
            text.push_str(&format!("\n    IP: {} Port: {}", b.host_ip, b.host_port));
        }
    }
    log::info!("{text}");
}

#[cfg(test)]
mod tests {
    //! Attaching, the stream threads and `on_start`, through whole runs against the fake engine.

    use std::io::Cursor;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;
    use crate::docker::run::fixtures::*;
    use crate::docker::Docker;
    use crate::fake::stdcopy_frame;
    use crate::fake::testing::docker::*;

    #[test]
    fn attach_streams_whenever_a_stream_is_attached_decision_13() {
        for (i, o, e) in [
            (true, false, false),
            (false, true, false),
            (false, false, true),
            (true, true, true),
        ] {
            let (fake, d) = setup();
            d.run_container(RunContainerOptions {
                stdin: if i { stdin(b"x") } else { None },
                stdout: if o {
                    Some(Box::new(std::io::sink()))
                } else {
                    None
                },
                stderr: if e {
                    Some(Box::new(std::io::sink()))
                } else {
                    None
                },
                ..opts("assemble")
            })
            .unwrap();
            let a = fake.state().attach_options.unwrap();
            assert!(a.stream);
            assert_eq!((a.stdin, a.stdout, a.stderr), (i, o, e));
        }
    }

    #[test]
    fn streams_in_and_out_and_closed() {
        let (fake, d) = setup();
        fake.state().attach_output = [
            stdcopy_frame(1, b"out 1\n"),
            stdcopy_frame(2, b"err 1\n"),
            stdcopy_frame(1, b"out 2\n"),
        ]
        .concat();
        let (out, err) = (Probe::default(), Probe::default());
        let stdin_dropped = Arc::new(AtomicBool::new(false));
        d.run_container(RunContainerOptions {
            stdin: Some(Box::new(ProbeReader(
                Cursor::new(vec![7u8; 200_000]),
                stdin_dropped.clone(),
            ))),
            stdout: Some(out.writer()),
            stderr: Some(err.writer()),
            ..opts("assemble")
        })
        .unwrap();
        assert_eq!(out.text(), "out 1\nout 2\n");
        assert_eq!(err.text(), "err 1\n");
        assert!(out.is_dropped() && err.is_dropped());
        assert!(stdin_dropped.load(Ordering::SeqCst));
        let state = fake.state();
        assert_eq!(state.attach_stdin.len(), 200_000);
        assert!(
            state.stdin_closed,
            "stdin must be half-closed so tar sees EOF"
        );
    }

    #[test]
    fn streams_are_dropped_on_early_errors() {
        for fail in ["inspect", "create", "attach", "start"] {
            let (fake, d) = setup();
            {
                let mut s = fake.state();
                match fail {
                    "inspect" => s.inspect_image_err = Some(Error::api(500, "x")),
                    "create" => s.create_err = Some(Error::api(500, "x")),
                    "attach" => s.attach_err = Some(Error::api(409, "x")),
                    _ => s.start_err = Some(Error::api(500, "x")),
                }
            }
            let out = Probe::default();
            let in_dropped = Arc::new(AtomicBool::new(false));
            let e = d
                .run_container(RunContainerOptions {
                    stdin: Some(Box::new(ProbeReader(
                        Cursor::new(vec![]),
                        in_dropped.clone(),
                    ))),
                    stdout: Some(out.writer()),
                    ..opts("assemble")
                })
                .unwrap_err();
            assert_eq!(e.to_string(), "Error response from daemon: x", "{fail}");
            assert!(
                out.is_dropped() && in_dropped.load(Ordering::SeqCst),
                "{fail}"
            );
            // A created container is always removed.
            assert!(fake.state().containers.is_empty(), "{fail}");
        }
    }

    #[test]
    fn on_start_is_always_joined_decision_17() {
        // Success: on_start runs with the ID; its error is returned.
        let (fake, d) = setup();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(|id: &str| {
                    Err(Error::other(format!("upload to {id} failed")))
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "upload to fake-container-1 failed");
        // Failure of the container: its error first, but on_start was awaited.
        fake.state().wait_container_result = 2;
        let finished = Arc::new(AtomicBool::new(false));
        let f = finished.clone();
        let e = d
            .run_container(RunContainerOptions {
                on_start: Some(Box::new(move |_: &str| {
                    std::thread::sleep(Duration::from_millis(50));
                    f.store(true, Ordering::SeqCst);
                    Err(Error::other("late"))
                })),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(2));
        assert!(finished.load(Ordering::SeqCst), "on_start must be joined");
        assert!(fake.state().containers.is_empty());
    }

    struct PanickyReader;
    impl Read for PanickyReader {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("reader")
        }
    }

    #[test]
    fn panicking_streams_kill_and_remove() {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        fake.state().attach_output = stdcopy_frame(1, b"x");
        let e = d
            .run_container(RunContainerOptions {
                stdout: Some(Box::new(PanickyWriter)),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "output writer panicked: writer");
        assert_eq!(fake.state().killed, ["fake-container-1"]);
        assert!(fake.state().containers.is_empty());
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(PanickyReader)),
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "stdin reader panicked: reader");
        assert!(fake.state().containers.is_empty());
    }

    #[test]
    fn stdin_errors() {
        // The caller's reader fails: that error, and the (running) container is killed.
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(FailingReader)),
                stdout: Some(Box::new(io::sink())),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(e.to_string().contains("source vanished"), "{e}");
        assert!(fake.state().containers.is_empty());
        // The container stops reading: its exit code is the error, not the broken pipe.
        let (fake, d) = setup();
        fake.state().attach_stdin_limit = Some(10);
        fake.state().wait_container_result = 2;
        let e = d
            .run_container(RunContainerOptions {
                stdin: stdin(&[0; 100]),
                ..opts("assemble")
            })
            .unwrap_err();
        assert_eq!(e.exit_code(), Some(2));
        // It exited 0 without reading all its input: a success, with a warning.
        fake.state().wait_container_result = 0;
        let (r, logs) = logs_of(|| {
            d.run_container(RunContainerOptions {
                stdin: stdin(&[0; 100]),
                ..opts("assemble")
            })
        });
        r.unwrap();
        assert!(logs.iter().any(|(l, m)| *l == log::Level::Warn
            && m.starts_with(
                "Container \"fake-container-2\" exited without reading all of its input: "
            )));
    }

    /// A reader that says it read more than the buffer holds.
    struct LyingReader;
    impl Read for LyingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            Ok(buf.len() + 1)
        }
    }

    #[test]
    fn a_lying_stdin_reader_is_an_error_not_a_panic() {
        let (fake, d) = setup();
        fake.state().run_until_killed = true;
        let e = d
            .run_container(RunContainerOptions {
                stdin: Some(Box::new(LyingReader)),
                ..opts("assemble")
            })
            .unwrap_err();
        assert!(
            e.to_string().contains("a reader returned 65537 bytes"),
            "{e}"
        );
        assert!(fake.state().containers.is_empty());
    }
}
