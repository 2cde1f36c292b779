//! Image builds: the tar build context goes to the engine, and the build's output (JSON lines)
//! is copied to the caller's writer as it arrives, in-band errors included; the progress
//! callback sees the upload and the build's steps as [`BuildEvent`]s.
//!
//! The build carries in its `X-Registry-Config` the credentials of every registry the client's
//! source lists, as `docker build` sends all the configured ones (the engine gives each
//! registry its own entry alone when it pulls a base image), and of the registries of the
//! images the Dockerfile pulls, which `build/dockerfile.rs` reads from the head of the context:
//! so a source that cannot list its registries (a closure) serves a private base image too.
//!
//! Uses the client, ops (the build endpoint's options and the JSON-lines reader), auth (the
//! `X-Registry-Config`), error, the transport's cancel handle, the run's
//! [`RunCancel`](super::RunCancel), and the byte copies of [`transfer`](super::transfer).

use std::io::{self, Read, Write};
use std::sync::Arc;

use crate::auth::{encode_registry_config, RegistryCredentials};
use crate::client::Client;
use crate::docker::transfer::{copy_stream, filled, Counted};
use crate::docker::{BuildImageOptions, DockerClient};
use crate::error::{Error, Result};
use crate::ops::image::ImageBuildOptions;
use crate::ops::stream::{BuildStep, JsonMessage, JsonMessages};
use crate::transport::Cancel;

mod dockerfile;

/// One event of a build's progress, as [`DockerClient::with_build_progress`] reports it.
///
/// The events come in order: `Upload` while the context is sent, `Uploaded` once, then the
/// build's messages (`Step`, `Output`, `Status`) as the engine sends them, with `Built` once
/// the engine names the image (Docker then adds its `Successfully built` and `Successfully
/// tagged` lines as `Output`). A failed build has no `Built`; its error is what
/// [`build_image`](crate::Docker::build_image) returns.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum BuildEvent<'a> {
    /// `sent` bytes of the build context have gone to the engine so far (once per write of
    /// the context, up to 64 KiB each).
    Upload {
        /// Bytes sent so far.
        sent: u64,
    },
    /// The whole context was sent: `sent` bytes.
    Uploaded {
        /// Bytes sent in all.
        sent: u64,
    },
    /// A step begins (`Step 2/5 : RUN make`, Podman's `STEP 2/5: RUN make`).
    Step(BuildStep<'a>),
    /// Output of the current step, or another line of the engine's (` ---> Running in ..`),
    /// as the engine sent it: usually one line, with its newline.
    Output {
        /// The text.
        text: &'a str,
    },
    /// A status message, e.g. the pull of a base image (`status`, `id`, `progress`).
    Status(&'a JsonMessage),
    /// The image was built.
    Built {
        /// Its ID, `sha256:...`.
        id: &'a str,
    },
}

/// A callback that receives every event of a build (see [`BuildEvent`]).
pub type BuildProgress = Arc<dyn Fn(&BuildEvent<'_>) + Send + Sync>;

impl DockerClient {
    /// Calls `progress` with every event of every build: the upload of its context, its steps
    /// and their output, the pulls of its base images, and the built image's ID (see
    /// [`BuildEvent`]).
    ///
    /// The callback runs on the thread that called [`build_image`](crate::Docker::build_image);
    /// the build waits for it.
    ///
    /// # Example
    /// ```
    /// # #[cfg(feature = "fake")] {
    /// use std::sync::{Arc, Mutex};
    /// use s2i_docker::fake::FakeClient;
    /// use s2i_docker::{AuthConfig, BuildEvent, BuildImageOptions, Docker, DockerClient};
    ///
    /// let client = Arc::new(FakeClient::new());
    /// client.state().build_image_output = concat!(
    ///     r#"{"stream":"Step 1/2 : FROM base\n"}"#, "\n",
    ///     r#"{"stream":"Step 2/2 : RUN make\n"}"#, "\n",
    ///     r#"{"stream":"compiled\n"}"#, "\n",
    ///     r#"{"aux":{"ID":"sha256:abc"}}"#, "\n",
    /// ).as_bytes().to_vec();
    /// let seen = Arc::new(Mutex::new(Vec::new()));
    /// let s = seen.clone();
    /// let docker = DockerClient::new(client, AuthConfig::default()).with_build_progress(move |e| {
    ///     s.lock().unwrap().push(match e {
    ///         BuildEvent::Uploaded { sent } => format!("sent {sent} bytes"),
    ///         BuildEvent::Step(step) => format!("{}/{} {}", step.number, step.total, step.instruction),
    ///         BuildEvent::Output { text } => text.trim_end().to_string(),
    ///         BuildEvent::Built { id } => format!("built {id}"),
    ///         _ => return,
    ///     })
    /// });
    /// docker.build_image(BuildImageOptions {
    ///     name: "app:1".into(),
    ///     stdin: Some(Box::new(&b"a tar"[..])),
    ///     ..Default::default()
    /// })?;
    /// assert_eq!(
    ///     *seen.lock().unwrap(),
    ///     ["sent 5 bytes", "1/2 FROM base", "2/2 RUN make", "compiled", "built sha256:abc"]
    /// );
    /// # }
    /// # Ok::<(), s2i_docker::Error>(())
    /// ```
    pub fn with_build_progress(
        mut self,
        progress: impl Fn(&BuildEvent<'_>) + Send + Sync + 'static,
    ) -> DockerClient {
        self.build_progress = Some(Arc::new(progress));
        self
    }
}

/// Tells the progress callback what a message of the build's output says. `after_step` is
/// whether the previous message announced a step: Docker ends a step's line with a message of
/// its own, a bare newline, which is no output.
fn report(progress: &BuildProgress, message: &JsonMessage, after_step: &mut bool) {
    let right_after_step = std::mem::replace(after_step, false);
    if !message.stream.is_empty() {
        let step = BuildStep::parse(&message.stream);
        match step {
            Some(step) => progress(&BuildEvent::Step(step)),
            None if right_after_step && message.stream == "\n" => {}
            None => progress(&BuildEvent::Output {
                text: &message.stream,
            }),
        }
        *after_step = step.is_some();
    }
    if !message.status.is_empty() {
        progress(&BuildEvent::Status(message));
    }
    let id = message
        .aux
        .as_ref()
        .and_then(|aux| aux.get("ID"))
        .and_then(|id| id.as_str());
    if let Some(id) = id {
        progress(&BuildEvent::Built { id });
    }
}

/// Hands every byte read from the build's output to the caller's writer as it is read, so the
/// caller sees the output as it arrives and whole, whatever the JSON reader makes of it. A read
/// after a cancel fails, for clients that cannot cut the stream themselves.
struct Tee<'a, R> {
    inner: R,
    out: Option<Box<dyn Write + Send>>,
    cancelled: &'a dyn Fn() -> bool,
}

impl<R: Read> Read for Tee<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if (self.cancelled)() {
            return Err(Error::Cancelled.into());
        }
        let n = self.inner.read(buf)?;
        if let Some(out) = &mut self.out {
            out.write_all(filled(buf, n)?)?;
            out.flush()?;
        }
        Ok(n)
    }
}

/// Builds without cache, removing the intermediate containers, with the caller's limits; the
/// first error reported inside the output is returned once the whole output was copied, also
/// when it follows lines that are not JSON.
///
/// With a cancel handle, the build goes through a client that the handle's cancel aborts, and
/// any failure after the cancel is [`Error::Cancelled`].
///
/// The context's head, up to its Dockerfile (at most 4 MiB), is read before the request is
/// sent and held in memory, then sent first.
pub(crate) fn build_image(d: &DockerClient, mut opts: BuildImageOptions) -> Result<()> {
    let credentials = d.credentials.as_ref();
    let progress = d.build_progress.as_ref();
    let Some(cancel) = opts.cancel.take() else {
        return build(d.client.as_ref(), opts, credentials, progress, &|| false);
    };
    let stop = Cancel::new();
    let on_cancel = stop.clone();
    let Some(_armed) = cancel.arm(Box::new(move || on_cancel.cancel())) else {
        return Err(Error::Cancelled);
    };
    let client = d
        .client
        .cancellable(&stop)
        .unwrap_or_else(|| d.client.clone());
    let cancelled = || cancel.is_cancelled();
    match build(client.as_ref(), opts, credentials, progress, &cancelled) {
        Err(_) if cancelled() => Err(Error::Cancelled),
        result => result,
    }
}

/// The build itself, through `client`; `cancelled` is checked before every read of the output.
fn build(
    client: &dyn Client,
    mut opts: BuildImageOptions,
    credentials: &dyn RegistryCredentials,
    progress: Option<&BuildProgress>,
    cancelled: &dyn Fn() -> bool,
) -> Result<()> {
    let limits = opts.cgroup_limits.take().unwrap_or_default();
    let mut empty = io::empty();
    let context: &mut (dyn Read + Send) = match opts.stdin.as_mut() {
        Some(r) => r.as_mut(),
        None => &mut empty,
    };
    // The base images' registries get their credentials: the Dockerfile is read from the
    // head of the context, which then goes to the engine whole.
    let (head, images) = dockerfile::peek_images(context, "", &opts.build_args)?;
    let registry_config = encode_registry_config(credentials, &images)?.unwrap_or_default();
    let mut context = io::Cursor::new(head).chain(context);
    let options = ImageBuildOptions {
        tags: vec![opts.name.clone()],
        no_cache: true,
        remove: true,
        force_remove: true,
        memory: limits.memory_limit_bytes,
        memory_swap: limits.memory_swap,
        cpu_shares: limits.cpu_shares,
        cpu_period: limits.cpu_period,
        cpu_quota: limits.cpu_quota,
        cgroup_parent: limits.parent,
        build_args: std::mem::take(&mut opts.build_args),
        target: std::mem::take(&mut opts.target),
        labels: std::mem::take(&mut opts.labels),
        pull: opts.pull,
        network_mode: std::mem::take(&mut opts.network_mode),
        registry_config,
        ..Default::default()
    };
    let tell = |sent, done| {
        if let Some(progress) = progress {
            progress(&if done {
                BuildEvent::Uploaded { sent }
            } else {
                BuildEvent::Upload { sent }
            });
        }
    };
    let mut upload = Counted::new(&mut context, &tell);
    let body = client.image_build(&mut upload, &options)?;
    let mut tee = Tee {
        inner: body,
        out: opts.stdout.take(),
        cancelled,
    };
    let mut failed = None;
    let mut after_step = false;
    // Lines that are not JSON, and lines over the reader's cap (dropped as they are read, so
    // memory stays bounded), were copied as they are; the reader goes on after them, so a
    // daemon error anywhere in the output is seen.
    for message in JsonMessages::new(&mut tee).skip_long_lines() {
        match message {
            Ok(m) => {
                if let Some(progress) = progress {
                    report(progress, &m, &mut after_step);
                }
            }
            // The build failed; the rest of the output (and the error itself) still goes to
            // the caller before the error is returned.
            Err(e @ Error::Stream { .. }) => {
                failed.get_or_insert(e);
            }
            Err(Error::Decode { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // Whatever the JSON reader left unread (it stops at the first daemon error).
    copy_stream(&mut tee, &mut io::sink())?;
    if let Some(mut out) = tee.out.take() {
        out.flush()?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;
    use crate::docker::{Docker, RunCancel};
    use crate::fake::testing::docker::*;
    use crate::fake::testing::http::{serve, Server};
    use crate::ops::engine::EngineClient;
    use crate::CGroupLimits;

    #[test]
    fn build_sends_the_options_and_copies_the_output() {
        let (fake, d) = setup();
        let output = b"{\"stream\":\"Step 1/2 : FROM scratch\\n\"}\n{\"stream\":\"Successfully built 1\\n\"}\n";
        fake.state().build_image_output = output.to_vec();
        let out = Probe::default();
        d.build_image(BuildImageOptions {
            name: "img:1".into(),
            stdin: Some(Box::new(Cursor::new(b"context tar".to_vec()))),
            stdout: Some(out.writer()),
            cgroup_limits: Some(CGroupLimits {
                memory_limit_bytes: 100,
                memory_swap: 200,
                cpu_shares: 3,
                cpu_period: 4,
                cpu_quota: 5,
                parent: "p".into(),
            }),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(out.text().as_bytes(), output);
        assert!(out.is_dropped());
        let state = fake.state();
        assert_eq!(state.build_image_context, b"context tar");
        let o = state.build_image_opts.clone().unwrap();
        assert_eq!(o.tags, ["img:1"]);
        assert!(o.no_cache && o.remove && o.force_remove);
        assert_eq!(
            (o.memory, o.memory_swap, o.cgroup_parent.as_str()),
            (100, 200, "p")
        );
        assert_eq!((o.cpu_shares, o.cpu_period, o.cpu_quota), (3, 4, 5));
    }

    #[test]
    fn an_error_after_lines_that_are_not_json_fails_the_build() {
        let long = format!("{}\n", "x".repeat(3 << 20));
        for noise in ["plain text\n", "{\"stream\":\"cut", long.as_str()] {
            let (fake, d) = setup();
            let output = format!(
                "{{\"stream\":\"Step 1/2\\n\"}}\n{noise}\n{{\"stream\":\"Step 2/2\\n\"}}\n\
                 {{\"errorDetail\":{{\"message\":\"RUN failed\"}},\"error\":\"RUN failed\"}}\n\
                 {{\"stream\":\"after\"}}\n"
            );
            fake.state().build_image_output = output.clone().into_bytes();
            let out = Probe::default();
            let e = d
                .build_image(BuildImageOptions {
                    name: "img".into(),
                    stdout: Some(out.writer()),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(matches!(e, Error::Stream { .. }), "{e:?}");
            assert_eq!(e.to_string(), "RUN failed");
            assert!(out.text() == output, "the whole output reaches the caller");
        }
    }

    #[test]
    fn a_failed_build_is_an_error_after_its_output_decision_7() {
        let (fake, d) = setup();
        let output = b"{\"stream\":\"Step 1/2\\n\"}\n{\"errorDetail\":{\"code\":1,\"message\":\"COPY failed\"},\"error\":\"COPY failed\"}\n{\"stream\":\"after\"}\n";
        fake.state().build_image_output = output.to_vec();
        let out = Probe::default();
        let e = d
            .build_image(BuildImageOptions {
                name: "img".into(),
                stdout: Some(out.writer()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, Error::Stream { .. }), "{e:?}");
        assert_eq!(e.to_string(), "COPY failed");
        assert_eq!(
            out.text().as_bytes(),
            output,
            "the whole output reaches the caller"
        );
        // Without a writer the output is discarded, the error still reported.
        let e = d
            .build_image(BuildImageOptions {
                name: "img".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "COPY failed");
        // A request error comes back as it is.
        fake.state().build_image_err = Some(Error::api(500, "no space"));
        let e = d.build_image(BuildImageOptions::default()).unwrap_err();
        assert_eq!(e.status(), Some(500));
    }

    #[test]
    fn build_options_and_the_registries_credentials_reach_the_engine() {
        use base64::Engine as _;
        let (fake, d) = setup();
        let local = crate::AuthConfig {
            username: "u".into(),
            password: "p".into(),
            server_address: "127.0.0.1:5000".into(),
            ..Default::default()
        };
        let d = d.with_registry_credentials(vec![local]);
        let opts = BuildImageOptions {
            name: "img".into(),
            build_args: [("A".to_string(), "secret-value".to_string())].into(),
            target: "t".into(),
            labels: [("l".to_string(), "v".to_string())].into(),
            pull: true,
            network_mode: "none".into(),
            ..Default::default()
        };
        let debug = format!("{opts:?}");
        assert!(
            !debug.contains("secret-value") && debug.contains("\"A\""),
            "{debug}"
        );
        d.build_image(opts).unwrap();
        let o = fake.state().build_image_opts.clone().unwrap();
        assert_eq!(o.build_args["A"], "secret-value");
        assert_eq!((o.target.as_str(), o.pull), ("t", true));
        assert_eq!(
            (o.labels["l"].as_str(), o.network_mode.as_str()),
            ("v", "none")
        );
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(&o.registry_config)
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(json["127.0.0.1:5000"]["username"], "u");
        // Anonymous: no credentials at all.
        let (fake, d) = setup();
        d.build_image(BuildImageOptions::default()).unwrap();
        assert_eq!(
            fake.state()
                .build_image_opts
                .clone()
                .unwrap()
                .registry_config,
            ""
        );
    }

    #[test]
    fn a_closure_is_asked_about_the_registries_of_the_base_images() {
        use base64::Engine as _;
        let (fake, d) = setup();
        let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let a = asked.clone();
        let d = d.with_registry_credentials(move |registry: &str| {
            a.lock().unwrap().push(registry.to_string());
            (registry == "quay.io").then(|| crate::AuthConfig {
                identity_token: "t".into(),
                ..Default::default()
            })
        });
        let mut tar = tar::Builder::new(Vec::new());
        let dockerfile =
            b"ARG V=1\nFROM quay.io/org/base:$V AS b\nFROM b\nCOPY --from=busybox /x /x\n";
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        tar.append_data(&mut header, "Dockerfile", &dockerfile[..])
            .unwrap();
        let context = tar.into_inner().unwrap();
        d.build_image(BuildImageOptions {
            stdin: Some(Box::new(Cursor::new(context.clone()))),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(*asked.lock().unwrap(), ["docker.io", "quay.io"]);
        let state = fake.state();
        assert_eq!(state.build_image_context, context, "the context went whole");
        let o = state.build_image_opts.clone().unwrap();
        let json = base64::engine::general_purpose::URL_SAFE
            .decode(&o.registry_config)
            .unwrap();
        let json: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"quay.io": {"identitytoken": "t", "serveraddress": "quay.io"}})
        );
    }

    #[test]
    fn progress_events_of_a_podman_build_and_of_a_failed_one() {
        use std::sync::Mutex;
        let (fake, d) = setup();
        fake.state().build_image_output = concat!(
            "{\"stream\":\"[1/2] STEP 1/2: FROM base AS b\\n\"}\n",
            "{\"status\":\"Pulling\",\"id\":\"base\"}\n",
            "{\"stream\":\"\\n\"}\n",
            "{\"stream\":\"[2/2] STEP 2/2: RUN make\\n\"}\n",
            "{\"stream\":\"made\\n\"}\n",
            "{\"aux\":{\"ID\":\"sha256:1\"}}\n",
        )
        .as_bytes()
        .to_vec();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let s = seen.clone();
        let d = d.with_build_progress(move |e| s.lock().unwrap().push(format!("{e:?}")));
        d.build_image(BuildImageOptions {
            stdin: Some(Box::new(Cursor::new(b"abc".to_vec()))),
            ..Default::default()
        })
        .unwrap();
        let seen = std::mem::take(&mut *seen.lock().unwrap());
        assert_eq!(seen.len(), 8, "{seen:#?}");
        assert_eq!(seen[0], "Upload { sent: 3 }");
        assert_eq!(seen[1], "Uploaded { sent: 3 }");
        assert!(seen[2].contains("number: 1, total: 2, instruction: \"FROM base AS b\""));
        assert!(seen[3].starts_with("Status(") && seen[3].contains("Pulling"));
        // Not right after the step line: a blank line of output.
        assert_eq!(seen[4], "Output { text: \"\\n\" }");
        assert!(seen[5].contains("instruction: \"RUN make\""));
        assert_eq!(seen[6], "Output { text: \"made\\n\" }");
        assert_eq!(seen[7], "Built { id: \"sha256:1\" }");

        // A failed build: the events up to the error, no `Built`.
        fake.state().build_image_output =
            b"{\"stream\":\"Step 1/1 : RUN false\"}\n{\"error\":\"RUN failed\"}\n".to_vec();
        let events = Arc::new(Mutex::new(Vec::new()));
        let e2 = events.clone();
        let d = d.with_build_progress(move |e| e2.lock().unwrap().push(format!("{e:?}")));
        let e = d.build_image(BuildImageOptions::default()).unwrap_err();
        assert_eq!(e.to_string(), "RUN failed");
        let events = events.lock().unwrap();
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(events[0].starts_with("Uploaded") && events[1].starts_with("Step("));
    }

    /// Runs `f` on a thread and fails the test if it has not returned within `limit`.
    fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(f());
        });
        rx.recv_timeout(limit)
            .unwrap_or_else(|_| panic!("still running after {limit:?}"))
    }

    /// An engine that answers a build with a 200 and one line of output, then stays silent.
    fn silent_builder() -> (EngineClient, Server) {
        serve(|_| {
            let head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nf\r\n{\"stream\":\"x\"}\n\r\n";
            (head.to_vec(), false)
        })
    }

    fn build_on(client: EngineClient, cancel: Option<RunCancel>) -> (Result<()>, String) {
        let d = DockerClient::new(Arc::new(client), auth());
        let out = Probe::default();
        let built = d.build_image(BuildImageOptions {
            name: "img".into(),
            stdin: Some(Box::new(Cursor::new(b"context tar".to_vec()))),
            stdout: Some(out.writer()),
            cancel,
            ..Default::default()
        });
        (built, out.text())
    }

    #[test]
    fn a_silent_build_fails_after_the_build_timeout() {
        let (client, _server) = silent_builder();
        let client = client.with_build_timeout(Some(Duration::from_millis(300)));
        let (built, out) = within(Duration::from_secs(5), move || build_on(client, None));
        let e = built.unwrap_err();
        assert!(e.is_timeout(), "{e:?}");
        assert_eq!(out, "{\"stream\":\"x\"}\n");
    }

    #[test]
    fn a_build_cancelled_from_another_thread_returns_promptly() {
        let (client, server) = silent_builder();
        let cancel = RunCancel::new();
        let c = cancel.clone();
        let building = std::thread::spawn(move || build_on(client, Some(c)));
        while server.requests().is_empty() {
            std::thread::sleep(Duration::from_millis(10));
        }
        std::thread::sleep(Duration::from_millis(100));
        let cancelled_at = Instant::now();
        let (built, _) = within(Duration::from_secs(5), move || {
            cancel.cancel();
            building.join().unwrap()
        });
        assert!(cancelled_at.elapsed() < Duration::from_secs(2));
        assert!(matches!(built, Err(Error::Cancelled)), "{built:?}");
        // The client's own cancel still applies beside the build's.
        let (client, _server) = silent_builder();
        let own = Cancel::new();
        let client = client.with_cancel(own.clone());
        let building = std::thread::spawn(move || build_on(client, Some(RunCancel::new())));
        std::thread::sleep(Duration::from_millis(200));
        let (built, _) = within(Duration::from_secs(5), move || {
            own.cancel();
            building.join().unwrap()
        });
        assert!(built.unwrap_err().is_cancelled());
    }

    #[test]
    fn a_cancelled_handle_builds_nothing() {
        let (fake, d) = setup();
        let cancel = RunCancel::new();
        cancel.cancel();
        let e = d
            .build_image(BuildImageOptions {
                cancel: Some(cancel),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e:?}");
        assert!(fake.calls().is_empty());
        // A client that cannot be cancelled from outside: the output stops at the next read.
        fake.state().build_image_output = b"{\"stream\":\"x\"}\n".repeat(4);
        let cancel = RunCancel::new();
        let c = cancel.clone();
        let e = d
            .build_image(BuildImageOptions {
                stdout: Some(Box::new(CancelOnWrite(c))),
                cancel: Some(cancel),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, Error::Cancelled), "{e:?}");
    }

    /// An output writer that cancels the build.
    struct CancelOnWrite(RunCancel);
    impl Write for CancelOnWrite {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.cancel();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
}
