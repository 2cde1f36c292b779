//! The S2I operations of `DockerClient` offline: against `FakeEngine`, in memory and on a Unix
//! socket, through the real `EngineClient` and transport. No engine is needed.
//!
//! Besides the operations themselves, every route `run_container` uses is made to fail in each
//! way a daemon can (an error status, a connection cut mid-reply, a reply that is not HTTP, a
//! reply slower than the client's timeout): the run must end with the documented error, without
//! a panic, without waiting past the timeout, without leaking a descriptor, and without leaving
//! its container behind (except where the fault is on the removal itself, which the library can
//! only report).

use std::collections::HashMap;
use std::io::{Cursor, Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use s2i_docker::archive::LocalFileSystem;
use s2i_docker::fake::engine::{FakeEngine, FakeImage, FakeRun, Fault, Route, RunningFake};
use s2i_docker::ops::container::{self as engine_container, ContainerConfig, ContainerCreateBody};
use s2i_docker::user::parse_range_list;
use s2i_docker::{
    check_allowed_user, check_allowed_user_with_assemble_user, pull_image, AuthConfig,
    BuildImageOptions, CommitContainerOptions, Docker, DockerClient, EngineClient, Error,
    ErrorCode, PullPolicy, RunCancel, RunContainerOptions,
};

// ---------------------------------------------------------------------------------------------
// Setup

/// The client's timeout: short, so that a fault that hangs fails a test quickly.
const TIMEOUT: Duration = Duration::from_millis(400);

/// How long a `Delay` fault holds a reply: well past [`TIMEOUT`].
const DELAY: Duration = Duration::from_millis(1200);

/// Tests that open descriptors hold this shared; a test that counts descriptors holds it alone.
static FDS: RwLock<()> = RwLock::new(());

fn shared_fds() -> RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive_fds() -> RwLockWriteGuard<'static, ()> {
    FDS.write().unwrap_or_else(|p| p.into_inner())
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

const SCRIPTS: &str = "image:///usr/libexec/s2i";

fn builder_image() -> FakeImage {
    FakeImage::default()
        .label("io.openshift.s2i.scripts-url", SCRIPTS)
        .label("io.openshift.s2i.assemble-input-files", "/opt/app-root/bin")
        .label("io.openshift.s2i.assemble-runtime-user", "1002")
        .env("APP_ROOT", "/opt/app-root")
        .user("1001")
        .workdir("/opt/app-root")
        .cmd(&["/usr/libexec/s2i/usage"])
        .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755)
        .file("/usr/libexec/s2i/run", b"#!/bin/sh\n", 0o755)
}

fn seed() -> FakeEngine {
    FakeEngine::new()
        .image("builder:1", builder_image())
        .image(
            "legacy-label:1",
            FakeImage::default()
                .label("io.s2i.scripts-url", "image:///legacy/label")
                .label("io.s2i.destination", "/opt/legacy"),
        )
        .image(
            "legacy-env:1",
            FakeImage::default()
                .env("STI_SCRIPTS_URL", "image:///legacy/env")
                .env("STI_LOCATION", "/opt/env"),
        )
        .image("bare:1", FakeImage::default())
        .image(
            "entry:1",
            FakeImage::default()
                .entrypoint(&["/entrypoint.sh"])
                .user("root"),
        )
        .image(
            "onbuild:1",
            FakeImage::default()
                .user("1001")
                .onbuild("USER root")
                .onbuild("RUN make"),
        )
        .image(
            "labelled-user:1",
            FakeImage::default()
                .user("root")
                .label("io.openshift.s2i.assemble-user", "1003"),
        )
        .registry_image(
            "127.0.0.1:5000/private/app:2",
            FakeImage::default()
                .user("1001")
                .label("io.openshift.s2i.scripts-url", "image:///private"),
        )
        .registry_login("127.0.0.1:5000", "user", "secret")
        .registry_image("busybox:latest", FakeImage::default().cmd(&["sh"]))
        .on_command(
            "assemble",
            FakeRun::new()
                .stdout(b"---> Installing application source\n")
                .stderr(b"npm WARN\n")
                .writes("/opt/app-root/app.bin", b"\x7fELF", 0o755),
        )
        .on_command(
            "fail-me",
            FakeRun::new()
                .stdout(b"failing\n")
                .stderr(b"boom\n")
                .exit_code(3),
        )
        .on_command("slow", FakeRun::new().delay(Duration::from_millis(800)))
}

/// Both ways of serving a fake; the tests run against each.
fn serve_both() -> [RunningFake; 2] {
    [
        seed().serve_in_memory().unwrap(),
        seed().serve_unix().unwrap(),
    ]
}

fn engine(fake: &RunningFake) -> EngineClient {
    fake.client().unwrap().with_timeout(TIMEOUT)
}

fn credentials(password: &str) -> AuthConfig {
    AuthConfig {
        username: "user".into(),
        password: password.into(),
        server_address: "127.0.0.1:5000".into(),
        ..Default::default()
    }
}

/// The S2I operations over `fake`, with `auth` for pulls and a pause between pull attempts too
/// short to slow the tests.
fn docker_with(fake: &RunningFake, auth: AuthConfig) -> DockerClient {
    DockerClient::new(Arc::new(engine(fake)), auth).with_pull_retry_delay(Duration::from_millis(5))
}

fn docker(fake: &RunningFake) -> DockerClient {
    docker_with(fake, AuthConfig::default())
}

fn mode(fake: &RunningFake) -> &'static str {
    if fake.is_in_memory() {
        "in memory"
    } else {
        "unix socket"
    }
}

fn count(fake: &RunningFake, route: Route) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.route == Some(route))
        .count()
}

fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data, mode) in files {
        let mut h = tar::Header::new_ustar();
        h.set_mode(*mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, *data).unwrap();
    }
    b.into_inner().unwrap()
}

/// `(path, mode, content)` of every entry.
fn untar(bytes: &[u8]) -> Vec<(String, u32, Vec<u8>)> {
    let mut ar = tar::Archive::new(bytes);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            let path = e.path().unwrap().display().to_string();
            (path, e.header().mode().unwrap(), data)
        })
        .collect()
}

/// A sink the test can read after handing it to the library.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What the library logged, per thread: the warnings of a run's cleanup come from the thread
/// that called `run_container`.
mod logs {
    use std::sync::{Mutex, Once};
    use std::thread::ThreadId;

    static RECORDS: Mutex<Vec<(ThreadId, log::Level, String)>> = Mutex::new(Vec::new());

    struct Capture;

    impl log::Log for Capture {
        fn enabled(&self, _: &log::Metadata<'_>) -> bool {
            true
        }
        fn log(&self, record: &log::Record<'_>) {
            if record.target().starts_with("s2i_docker") {
                let mut records = RECORDS.lock().unwrap_or_else(|p| p.into_inner());
                records.push((
                    std::thread::current().id(),
                    record.level(),
                    record.args().to_string(),
                ));
            }
        }
        fn flush(&self) {}
    }

    /// Starts capturing (once per process).
    pub fn init() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            if log::set_logger(&Capture).is_ok() {
                log::set_max_level(log::LevelFilter::Debug);
            }
        });
    }

    /// Takes what this thread logged at `level` or more severe since the last call.
    pub fn take(level: log::Level) -> Vec<String> {
        let me = std::thread::current().id();
        let mut records = RECORDS.lock().unwrap_or_else(|p| p.into_inner());
        let (mine, rest): (Vec<_>, Vec<_>) = records.drain(..).partition(|(t, _, _)| *t == me);
        *records = rest;
        mine.into_iter()
            .filter(|(_, l, _)| *l <= level)
            .map(|(_, _, m)| m)
            .collect()
    }
}

// ---------------------------------------------------------------------------------------------
// Images: inspect, labels, pulls

#[test]
fn image_metadata_and_its_fallbacks() {
    let _fds = shared_fds();
    logs::init();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        assert!(d.is_image_in_local_registry("builder:1").unwrap(), "{m}");
        assert!(!d.is_image_in_local_registry("ghost").unwrap(), "{m}");
        assert!(d.get_image_id("builder").is_err(), "{m}: no builder:latest");
        let id = d.get_image_id("builder:1").unwrap();
        assert_eq!(id, fake.image("builder:1").unwrap().id, "{m}");

        // Scripts URL: label, deprecated label, deprecated environment variable, nothing.
        logs::take(log::Level::Trace);
        assert_eq!(d.get_scripts_url("builder:1").unwrap(), SCRIPTS, "{m}");
        assert!(logs::take(log::Level::Warn).is_empty(), "{m}");
        assert_eq!(
            d.get_scripts_url("legacy-label:1").unwrap(),
            "image:///legacy/label"
        );
        let warned = logs::take(log::Level::Warn);
        assert!(
            warned
                .iter()
                .any(|w| w.contains("uses deprecated label 'io.s2i.scripts-url'")),
            "{m}: {warned:?}"
        );
        assert_eq!(
            d.get_scripts_url("legacy-env:1").unwrap(),
            "image:///legacy/env"
        );
        let warned = logs::take(log::Level::Warn);
        assert!(
            warned
                .iter()
                .any(|w| w.contains("uses deprecated environment variable STI_SCRIPTS_URL")),
            "{m}: {warned:?}"
        );
        assert_eq!(d.get_scripts_url("bare:1").unwrap(), "");
        let warned = logs::take(log::Level::Warn);
        assert!(
            warned.iter().any(|w| w
                .contains("does not contain a value for the io.openshift.s2i.scripts-url label")),
            "{m}: {warned:?}"
        );

        assert_eq!(
            d.get_assemble_input_files("builder:1").unwrap(),
            "/opt/app-root/bin"
        );
        assert_eq!(d.get_assemble_input_files("bare:1").unwrap(), "");
        assert_eq!(d.get_assemble_runtime_user("builder:1").unwrap(), "1002");
        assert_eq!(d.get_assemble_runtime_user("bare:1").unwrap(), "");
        assert_eq!(d.get_image_user("builder:1").unwrap(), "1001");
        assert_eq!(d.get_image_workdir("builder:1").unwrap(), "/opt/app-root");
        assert_eq!(d.get_image_workdir("bare:1").unwrap(), "/");
        assert_eq!(
            d.get_image_entrypoint("entry:1").unwrap(),
            ["/entrypoint.sh"]
        );
        assert!(d.get_image_entrypoint("bare:1").unwrap().is_empty());
        let labels = d.get_labels("builder:1").unwrap();
        assert_eq!(labels["io.openshift.s2i.scripts-url"], SCRIPTS);
        assert_eq!(
            d.get_on_build("onbuild:1").unwrap(),
            ["USER root", "RUN make"]
        );
        assert!(d.is_image_on_build("onbuild:1"));
        assert!(!d.is_image_on_build("builder:1"));
        assert!(!d.is_image_on_build("ghost:1"));

        let image = d.check_image("builder:1").unwrap().unwrap();
        let config = image.config.unwrap();
        assert_eq!(
            config.env.unwrap(),
            ["APP_ROOT=/opt/app-root"],
            "{m}: the env of the image"
        );
        let err = d.check_image("ghost:1").unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InspectImage), "{m}: {err:?}");
        assert_eq!(err.to_string(), "unable to get metadata for ghost:1");
        assert!(err.is_not_found(), "{m}");

        let raw = d.inspect_image("builder:1").unwrap();
        assert_eq!(raw.id, id);
        let err = d.get_labels("ghost").unwrap_err();
        assert_eq!(err.to_string(), "unable to get metadata for ghost:latest");
        fake.assert_no_unhandled();
    }
}

#[test]
fn pulls_with_credentials_retries_and_failures() {
    let _fds = shared_fds();
    logs::init();
    const PRIVATE: &str = "127.0.0.1:5000/private/app:2";
    for fake in serve_both() {
        let m = mode(&fake);
        // A wrong password is no reason to try again: one attempt, then the pull error.
        let wrong = docker_with(&fake, credentials("wrong"));
        let err = wrong.pull_image(PRIVATE).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::PullImage), "{m}: {err:?}");
        assert_eq!(err.to_string(), format!("unable to get {PRIVATE}"));
        assert!(
            err.is_unauthorized(),
            "{m}: {}",
            err.to_string_with_causes()
        );
        assert_eq!(count(&fake, Route::ImagesCreate), 1, "{m}");
        assert!(fake.image(PRIVATE).is_none());
        // Without credentials the same.
        let err = docker(&fake).check_and_pull_image(PRIVATE).unwrap_err();
        assert!(
            err.is_unauthorized(),
            "{m}: {}",
            err.to_string_with_causes()
        );

        // The right ones: the image is pulled and described.
        fake.clear_requests();
        let d = docker_with(&fake, credentials("secret"));
        let image = d.check_and_pull_image(PRIVATE).unwrap().unwrap();
        assert_eq!(image.id, fake.image(PRIVATE).unwrap().id, "{m}");
        let pulls: Vec<_> = fake
            .requests()
            .into_iter()
            .filter(|r| r.route == Some(Route::ImagesCreate))
            .collect();
        assert_eq!(pulls.len(), 1, "{m}");
        assert_eq!(
            pulls[0].query("fromImage"),
            Some("127.0.0.1:5000/private/app")
        );
        assert_eq!(pulls[0].query("tag"), Some("2"));
        assert!(pulls[0].header("X-Registry-Auth").is_some());
        assert_eq!(d.get_scripts_url(PRIVATE).unwrap(), "image:///private");
        // Present now: no second pull.
        d.check_and_pull_image(PRIVATE).unwrap();
        assert_eq!(count(&fake, Route::ImagesCreate), 1, "{m}");

        // A retriable failure (the daemon's own words) is tried again after the pause.
        fake.clear_requests();
        fake.fail(
            Route::ImagesCreate,
            Fault::Status(500, "dial tcp 127.0.0.1:5000: connection refused".into()),
        )
        .times(2);
        logs::take(log::Level::Trace);
        let started = Instant::now();
        d.pull_image(PRIVATE).unwrap().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2), "{m}");
        assert_eq!(count(&fake, Route::ImagesCreate), 3, "{m}");
        let said = logs::take(log::Level::Info);
        assert_eq!(
            said.iter()
                .filter(|l| l.starts_with("pulling image error : "))
                .count(),
            2,
            "{m}: {said:?}"
        );
        assert!(said.iter().any(|l| l == "retrying in 5ms ..."), "{said:?}");

        // Retries run out: the last attempt's error is the pull error's cause.
        fake.clear_requests();
        fake.fail(
            Route::ImagesCreate,
            Fault::Status(500, "connection refused".into()),
        );
        let err = d
            .clone()
            .with_pull_retry_count(2)
            .pull_image(PRIVATE)
            .unwrap_err();
        assert_eq!(count(&fake, Route::ImagesCreate), 3, "{m}");
        assert_eq!(err.code(), Some(ErrorCode::PullImage));
        assert!(
            err.to_string_with_causes().contains("connection refused"),
            "{m}: {}",
            err.to_string_with_causes()
        );
        fake.clear_faults();

        // A reply cut before it began is the connection's failure: retried, and the second
        // attempt gets the image.
        fake.clear_requests();
        fake.fail(Route::ImagesCreate, Fault::HangUpAfter(0))
            .times(1);
        assert!(d.pull_image(PRIVATE).unwrap().is_some(), "{m}");
        assert_eq!(count(&fake, Route::ImagesCreate), 2, "{m}");

        // Not retriable: a manifest the registry does not have, an in-band error.
        for fault in [
            Fault::Status(404, "manifest unknown".into()),
            Fault::InBand("toomanyrequests: slow down".into()),
        ] {
            fake.clear_requests();
            fake.fail(Route::ImagesCreate, fault.clone()).times(1);
            let err = d.pull_image(PRIVATE).unwrap_err();
            assert_eq!(err.code(), Some(ErrorCode::PullImage), "{m} {fault:?}");
            assert_eq!(count(&fake, Route::ImagesCreate), 1, "{m} {fault:?}");
        }
        // A pull that stalls past the client's timeout fails rather than hangs.
        fake.clear_requests();
        fake.fail(Route::ImagesCreate, Fault::Delay(DELAY)).times(1);
        let started = Instant::now();
        let err = d.pull_image(PRIVATE).unwrap_err();
        assert!(err.is_timeout(), "{m}: {err:?}");
        assert!(started.elapsed() < DELAY, "{m}");
        fake.assert_no_unhandled();
    }
}

#[test]
fn pull_policies() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        // if-not-present: a present image is not pulled, a missing one is.
        let r = pull_image("builder:1", &d, PullPolicy::IfNotPresent).unwrap();
        assert!(!r.on_build);
        assert!(r.image.is_some());
        assert_eq!(count(&fake, Route::ImagesCreate), 0, "{m}");
        let r = pull_image("busybox", &d, PullPolicy::IfNotPresent).unwrap();
        assert_eq!(
            r.image.unwrap().id,
            fake.image("busybox").unwrap().id,
            "{m}"
        );
        assert_eq!(count(&fake, Route::ImagesCreate), 1, "{m}");

        // always: pulled even when present.
        let r = pull_image("busybox", &d, PullPolicy::Always).unwrap();
        assert!(r.image.is_some());
        assert_eq!(count(&fake, Route::ImagesCreate), 2, "{m}");

        // never: a local image only.
        let r = pull_image("onbuild:1", &d, PullPolicy::Never).unwrap();
        assert!(r.on_build, "{m}: ONBUILD triggers are reported");
        let err = pull_image("ghost:1", &d, PullPolicy::Never).unwrap_err();
        assert_eq!(err.to_string(), "unable to get metadata for ghost:1");
        assert_eq!(count(&fake, Route::ImagesCreate), 2, "{m}");

        // A missing image nobody can pull.
        let err = pull_image("ghost:1", &d, PullPolicy::IfNotPresent).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::PullImage), "{m}: {err:?}");
        assert!(
            err.to_string_with_causes().contains("pull access denied"),
            "{m}: {}",
            err.to_string_with_causes()
        );
    }
}

#[test]
fn allowed_users() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        let uids = parse_range_list("1000-2000").unwrap();
        check_allowed_user(&d, "builder:1", &uids, false).unwrap();
        // Nothing is asked when every user is allowed.
        let before = fake.requests().len();
        check_allowed_user(&d, "entry:1", &parse_range_list("").unwrap(), false).unwrap();
        assert_eq!(fake.requests().len(), before, "{m}");

        let err = check_allowed_user(&d, "entry:1", &uids, false).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UserNotAllowed), "{m}: {err:?}");
        assert!(err.to_string().contains("entry:1"), "{err}");
        // An ONBUILD USER root is refused even though the image's own user is fine.
        check_allowed_user(&d, "onbuild:1", &uids, false).unwrap();
        let err = check_allowed_user(&d, "onbuild:1", &uids, true).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UserNotAllowed), "{m}");
        // The assemble-user label wins over the image's user.
        check_allowed_user(&d, "labelled-user:1", &uids, false).unwrap();
        // A configured assemble user wins over both; its group is ignored.
        check_allowed_user_with_assemble_user(&d, "entry:1", &uids, false, "1500:0").unwrap();
        let err = check_allowed_user_with_assemble_user(&d, "builder:1", &uids, false, "root")
            .unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::UserNotAllowed), "{m}");
        // The image's metadata cannot be read: that error, not a verdict.
        let err = check_allowed_user(&d, "ghost:1", &uids, false).unwrap_err();
        assert_eq!(err.code(), Some(ErrorCode::InspectImage), "{m}: {err:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Containers: run, upload, download, commit

/// What the post-exec hook found: the destination, the sources' and the artifact's archives.
type Seen = (String, Vec<u8>, Vec<u8>);

#[test]
fn an_assemble_run_streams_sources_in_and_output_out() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        let (stdout, stderr) = (Sink::default(), Sink::default());
        let sources = tar_of(&[
            ("src/", b"", 0o755),
            ("src/index.js", b"console.log(1)\n", 0o644),
        ]);
        // After the run and before the removal, the container holds the extracted sources and
        // what the run wrote.
        let seen: Arc<Mutex<Option<Seen>>> = Arc::default();
        let post = {
            let (d, seen) = (d.clone(), Arc::clone(&seen));
            move |id: &str, destination: &str| -> s2i_docker::Result<()> {
                let mut sources = Vec::new();
                d.download_from_container(&format!("{destination}/src"), &mut sources, id)?;
                let mut built = Vec::new();
                d.download_from_container("/opt/app-root/app.bin", &mut built, id)?;
                *seen.lock().unwrap() = Some((destination.to_string(), sources, built));
                Ok(())
            }
        };
        d.run_container(RunContainerOptions {
            image: "builder:1".into(),
            command: "assemble".into(),
            env: vec!["APP=demo".into()],
            stdin: Some(Box::new(Cursor::new(sources))),
            stdout: Some(Box::new(stdout.clone())),
            stderr: Some(Box::new(stderr.clone())),
            post_exec: Some(Box::new(post)),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(stdout.text(), "---> Installing application source\n", "{m}");
        assert_eq!(stderr.text(), "npm WARN\n", "{m}");
        let (destination, sources, built) = seen.lock().unwrap().take().unwrap();
        assert_eq!(destination, "/tmp");
        let files: Vec<(String, Vec<u8>)> = untar(&sources)
            .into_iter()
            .map(|(p, _, d)| (p, d))
            .collect();
        assert_eq!(
            files,
            [
                ("src".to_string(), Vec::new()),
                ("src/index.js".to_string(), b"console.log(1)\n".to_vec())
            ],
            "{m}"
        );
        assert_eq!(untar(&built)[0].2, b"\x7fELF");

        let create = fake
            .requests()
            .into_iter()
            .find(|r| r.route == Some(Route::ContainersCreate))
            .unwrap();
        assert!(
            create.query("name").unwrap().starts_with("s2i_builder_1_"),
            "{m}: {create:?}"
        );
        let body = create.json().unwrap();
        assert_eq!(
            body["Cmd"],
            serde_json::json!([
                "/bin/sh",
                "-c",
                "tar -C /tmp -xf - && /usr/libexec/s2i/assemble"
            ])
        );
        assert_eq!(body["Env"], serde_json::json!(["APP=demo"]));
        assert_eq!(body["OpenStdin"], true);
        assert_eq!(body["StdinOnce"], true);
        assert!(
            fake.containers().is_empty(),
            "{m}: the container is removed"
        );
        fake.assert_no_unhandled();
    }
}

#[test]
fn failing_runs_report_the_container_state_and_cancelled_runs_end() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        let stdout = Sink::default();
        let err = d
            .run_container(RunContainerOptions {
                image: "builder:1".into(),
                command_explicit: vec!["fail-me".into()],
                stdout: Some(Box::new(stdout.clone())),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.exit_code(), Some(3), "{m}: {err:?}");
        assert_eq!(err.code(), Some(ErrorCode::StiContainer));
        let Error::Container(c) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(
            c.output,
            "Status: exited, Error: , OOMKilled: false, Dead: false"
        );
        assert_eq!(stdout.text(), "failing\n");
        assert!(fake.containers().is_empty(), "{m}");

        // An image with an entrypoint gets `/usr/bin/env` in front of the script.
        d.run_container(RunContainerOptions {
            image: "entry:1".into(),
            command: "run".into(),
            scripts_url: "image:///usr/libexec/s2i".into(),
            ..Default::default()
        })
        .unwrap();
        let create = fake
            .requests()
            .into_iter()
            .rev()
            .find(|r| r.route == Some(Route::ContainersCreate))
            .unwrap()
            .json()
            .unwrap();
        assert_eq!(create["Entrypoint"], serde_json::json!(["/usr/bin/env"]));

        // A run cancelled from another thread: killed, removed, `Cancelled`.
        let cancel = RunCancel::new();
        let canceller = {
            let cancel = cancel.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                cancel.cancel();
            })
        };
        let started = Instant::now();
        let err = d
            .run_container(RunContainerOptions {
                image: "builder:1".into(),
                command_explicit: vec!["slow".into()],
                stdout: Some(Box::new(std::io::sink())),
                cancel: Some(cancel),
                ..Default::default()
            })
            .unwrap_err();
        canceller.join().unwrap();
        assert!(matches!(err, Error::Cancelled), "{m}: {err:?}");
        assert!(started.elapsed() < Duration::from_millis(700), "{m}");
        assert!(fake.containers().is_empty(), "{m}");

        // A missing image fails before anything is created; with `pull_image` it is pulled.
        let err = d
            .run_container(RunContainerOptions {
                image: "ghost:1".into(),
                command: "assemble".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert!(err.is_not_found(), "{m}: {err:?}");
        d.run_container(RunContainerOptions {
            image: "busybox".into(),
            pull_image: true,
            command_explicit: vec!["true".into()],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(count(&fake, Route::ImagesCreate), 1, "{m}");
        assert!(fake.containers().is_empty(), "{m}");
    }
}

/// A container of `builder:1` that does nothing, made through the Engine client (the S2I
/// operations only make containers inside `run_container`).
fn plain_container(fake: &RunningFake) -> String {
    let body = ContainerCreateBody {
        config: ContainerConfig {
            image: "builder:1".into(),
            cmd: Some(vec!["true".into()]),
            ..Default::default()
        },
        ..Default::default()
    };
    engine_container::create(&engine(fake), &body, "")
        .unwrap()
        .id
}

/// A scratch directory, removed on drop.
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("s2i-offline-{tag}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_file(path: &Path, data: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, data).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn upload_then_download_round_trips() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        let id = plain_container(&fake);
        let dir = TempDir::new("upload");
        let src = dir.0.join("app");
        write_file(&src.join("index.js"), b"console.log(1)\n", 0o644);
        write_file(&src.join("bin/start"), b"#!/bin/sh\n", 0o755);
        write_file(&src.join(".git/HEAD"), b"ref: main\n", 0o644);
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        write_file(&src.join("data/big.bin"), &big, 0o600);

        d.upload_to_container(&LocalFileSystem, &src, "/tmp/src", &id)
            .unwrap();
        let put = fake
            .requests()
            .into_iter()
            .find(|r| r.route == Some(Route::ArchivePut))
            .unwrap();
        assert_eq!(put.query("path"), Some("/tmp"), "{m}");
        assert_eq!(
            fake.container_file(&id, "/tmp/src/data/big.bin").unwrap(),
            big
        );
        assert!(fake.container_file(&id, "/tmp/src/.git/HEAD").is_none());

        let mut archive = Vec::new();
        d.download_from_container("/tmp/src", &mut archive, &id)
            .unwrap();
        let mut entries = untar(&archive);
        entries.sort();
        let summary: Vec<(String, u32)> = entries
            .iter()
            .map(|(p, mode, _)| (p.clone(), mode & 0o777))
            .collect();
        assert_eq!(
            summary,
            [
                // No entry for the top directory is sent (as in the reference): the daemon
                // makes it, with its default mode.
                ("src".to_string(), 0o755),
                ("src/bin".into(), 0o777),
                ("src/bin/start".into(), 0o777),
                ("src/data".into(), 0o777),
                ("src/data/big.bin".into(), 0o666),
                ("src/index.js".into(), 0o666),
            ],
            "{m}: executables stay executable, the rest is 0666, .git is left out"
        );
        assert_eq!(entries[4].2, big);

        // Into a directory that does not exist: the daemon's 404.
        let err = d
            .upload_to_container(&LocalFileSystem, &src, "/nowhere/src", &id)
            .unwrap_err();
        assert!(err.is_not_found(), "{m}: {err:?}");
        let err = d
            .download_from_container("/tmp/nothing", &mut Vec::new(), &id)
            .unwrap_err();
        assert!(err.is_not_found(), "{m}: {err:?}");
        d.remove_container(&id).unwrap();
        assert!(fake.containers().is_empty());
    }
}

#[test]
fn commit_build_remove_image_and_version() {
    let _fds = shared_fds();
    for fake in serve_both() {
        let m = mode(&fake);
        let d = docker(&fake);
        let id = plain_container(&fake);
        let labels: HashMap<String, String> = [("io.k8s.display-name".to_string(), "app".into())]
            .into_iter()
            .collect();
        let image_id = d
            .commit_container(CommitContainerOptions {
                container_id: id.clone(),
                repository: "myapp".into(),
                user: "1001".into(),
                command: vec!["/usr/libexec/s2i/run".into()],
                env: vec!["APP=1".into()],
                entrypoint: vec![],
                labels,
            })
            .unwrap();
        let image = fake.image("myapp:latest").unwrap();
        assert_eq!(image_id, image.id, "{m}");
        assert!(image_id.starts_with("sha256:"));
        assert_eq!(
            image.config["Cmd"],
            serde_json::json!(["/usr/libexec/s2i/run"])
        );
        assert_eq!(image.config["User"], "1001");
        assert_eq!(image.config["Labels"]["io.k8s.display-name"], "app");
        // The daemon merges the variables given with the container's.
        assert_eq!(
            image.config["Env"],
            serde_json::json!(["APP_ROOT=/opt/app-root", "APP=1"])
        );
        let commit = fake
            .requests()
            .into_iter()
            .find(|r| r.route == Some(Route::Commit))
            .unwrap();
        assert_eq!(commit.query("repo"), Some("docker.io/library/myapp"));
        assert_eq!(commit.query("tag"), Some("latest"));
        d.remove_container(&id).unwrap();
        d.kill_container("ghost").unwrap_err();

        // A build: its output reaches the writer as it comes.
        let out = Sink::default();
        let context = tar_of(&[
            (
                "Dockerfile",
                b"FROM builder:1\nLABEL built=yes\nUSER 1001\n",
                0o644,
            ),
            ("README", b"hello\n", 0o644),
        ]);
        d.build_image(BuildImageOptions {
            name: "built:1".into(),
            stdin: Some(Box::new(Cursor::new(context))),
            stdout: Some(Box::new(out.clone())),
            cgroup_limits: None,
            cancel: None,
            ..Default::default()
        })
        .unwrap();
        assert!(
            out.text().contains("Successfully tagged built:1"),
            "{m}: {}",
            out.text()
        );
        assert_eq!(
            fake.image("built:1").unwrap().config["Labels"]["built"],
            "yes"
        );
        let build = fake
            .requests()
            .into_iter()
            .find(|r| r.route == Some(Route::Build))
            .unwrap();
        assert_eq!(build.query("t"), Some("built:1"));
        assert_eq!(build.header("Content-Type"), Some("application/x-tar"));

        // A failing step: the whole output is copied, then the error.
        let out = Sink::default();
        let context = tar_of(&[("Dockerfile", b"FROM builder:1\nRUN make\n", 0o644)]);
        let err = d
            .build_image(BuildImageOptions {
                name: "broken:1".into(),
                stdin: Some(Box::new(Cursor::new(context))),
                stdout: Some(Box::new(out.clone())),
                cgroup_limits: None,
                cancel: None,
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(err, Error::Stream { .. }), "{m}: {err:?}");
        assert!(out.text().contains("Step 1/2 : FROM builder:1"), "{m}");
        assert!(out.text().contains("errorDetail"), "{m}: {}", out.text());
        assert!(fake.image("broken:1").is_none());

        d.remove_image("built:1").unwrap();
        assert!(fake.image("built:1").is_none(), "{m}");
        let err = d.remove_image("built:1").unwrap_err();
        assert!(err.is_not_found(), "{m}: {err:?}");

        let version = d.version().unwrap();
        assert_eq!(version.api_version, "1.41", "{m}");
        d.check_reachable().unwrap();
        fake.assert_no_unhandled();
    }
    // No engine: the errors say so.
    let fake = seed().serve_in_memory().unwrap();
    let d = docker(&fake);
    drop(fake);
    let err = d.check_reachable().unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

// ---------------------------------------------------------------------------------------------
// Faults on every route of `run_container`

/// A standard input that fails after a first piece, as a source archive that cannot be read.
struct FailingInput(usize);

impl Read for FailingInput {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.0 == 0 {
            return Err(std::io::Error::other("source archive unreadable"));
        }
        let n = buf.len().min(self.0);
        buf[..n].fill(0);
        self.0 -= n;
        Ok(n)
    }
}

/// Which run exercises a route: the route is only used on some paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Run {
    /// `assemble` with sources on stdin and output captured: inspect image, create, attach,
    /// start, wait, remove.
    Assemble,
    /// A command that exits 3: the container is inspected for its state.
    Failing,
    /// Sources that cannot be read: the run kills its (still running) container.
    UnreadableInput,
}

fn run_for(route: Route) -> Run {
    match route {
        Route::ContainerInspect => Run::Failing,
        Route::ContainerKill => Run::UnreadableInput,
        _ => Run::Assemble,
    }
}

fn start_run(d: &DockerClient, run: Run) -> s2i_docker::Result<()> {
    let sources = tar_of(&[("src/index.js", b"1\n", 0o644)]);
    let opts = match run {
        Run::Assemble => RunContainerOptions {
            image: "builder:1".into(),
            command: "assemble".into(),
            stdin: Some(Box::new(Cursor::new(sources))),
            stdout: Some(Box::new(std::io::sink())),
            stderr: Some(Box::new(std::io::sink())),
            ..Default::default()
        },
        Run::Failing => RunContainerOptions {
            image: "builder:1".into(),
            command_explicit: vec!["fail-me".into()],
            stdout: Some(Box::new(std::io::sink())),
            ..Default::default()
        },
        Run::UnreadableInput => RunContainerOptions {
            image: "builder:1".into(),
            command_explicit: vec!["slow".into()],
            stdin: Some(Box::new(FailingInput(1000))),
            stdout: Some(Box::new(std::io::sink())),
            ..Default::default()
        },
    };
    d.run_container(opts)
}

fn faults() -> [Fault; 4] {
    [
        Fault::Status(500, "injected failure".into()),
        // Inside the status line: the request took effect, its reply is cut.
        Fault::HangUpAfter(12),
        Fault::MalformedHead,
        Fault::Delay(DELAY),
    ]
}

const RUN_ROUTES: [Route; 8] = [
    Route::ImageInspect,
    Route::ContainersCreate,
    Route::ContainerAttach,
    Route::ContainerStart,
    Route::ContainerWait,
    Route::ContainerInspect,
    Route::ContainerKill,
    Route::ContainerRemove,
];

/// What one faulty run did.
struct Outcome {
    /// `None` when the run had not returned after [`WATCHDOG`] (it was then ended by
    /// stopping the fake).
    result: Option<s2i_docker::Result<()>>,
    elapsed: Duration,
    /// Warnings and errors the calling thread logged.
    logged: Vec<String>,
    /// Containers the fake still has once every delayed request has been handled.
    left: usize,
    /// The ID of the run's container, if one was created.
    id: Option<String>,
    /// Whether the faulty route was called at all.
    hit: bool,
}

/// How long a faulty run may take before it counts as hung.
const WATCHDOG: Duration = Duration::from_secs(5);

/// Runs `run` against a fresh fake whose `route` fails once with `fault`.
fn faulty_run(in_memory: bool, run: Run, route: Route, fault: &Fault) -> Outcome {
    let fake = if in_memory {
        seed().serve_in_memory()
    } else {
        seed().serve_unix()
    }
    .unwrap();
    let d = docker(&fake);
    fake.fail(route, fault.clone()).times(1);
    let started = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    let runner = std::thread::spawn(move || {
        logs::take(log::Level::Trace);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| start_run(&d, run)));
        let _ = tx.send((result, started.elapsed(), logs::take(log::Level::Warn)));
    });
    let (result, elapsed, logged) = match rx.recv_timeout(WATCHDOG) {
        Ok((result, elapsed, logged)) => {
            let result =
                result.unwrap_or_else(|_| panic!("{route:?} {fault:?}: run_container panicked"));
            (Some(result), elapsed, logged)
        }
        Err(_) => (None, started.elapsed(), Vec::new()),
    };
    if let Fault::Delay(delay) = fault {
        // The fake handles a delayed request after the client gave up on it.
        std::thread::sleep(delay.saturating_sub(started.elapsed()) + Duration::from_millis(300));
    }
    let requests = fake.requests();
    let id = requests
        .iter()
        .filter(|r| r.route != Some(Route::ContainersCreate))
        .find_map(|r| {
            let id = r.path.strip_prefix("/containers/")?.split('/').next()?;
            (id.len() == 64).then(|| id.to_string())
        });
    let hit = requests.iter().any(|r| r.route == Some(route));
    let left = fake.containers().len();
    // Stopping the fake ends a run that hung.
    drop(fake);
    runner.join().unwrap();
    Outcome {
        result,
        elapsed,
        logged,
        left,
        id,
        hit,
    }
}

/// Checks the error of a run whose `route` failed with `fault`, as documented for
/// `run_container`; `Err` says what differs.
fn check_error(route: Route, fault: &Fault, o: &Outcome) -> Result<(), String> {
    let Some(result) = &o.result else {
        return Err(format!("no result after {WATCHDOG:?}"));
    };
    let text = match result {
        Ok(()) => String::new(),
        Err(e) => e.to_string_with_causes(),
    };
    let transport_error = |e: &Error| matches!(e, Error::Io(_) | Error::Protocol(_));
    let ok = match (route, fault, result) {
        // `wait` has no time limit: a slow reply only takes longer.
        (Route::ContainerWait, Fault::Delay(_), r) => r.is_ok(),
        // A failed wait keeps its kind, with the container's ID in its text.
        (Route::ContainerWait, _, Err(e)) => {
            text.contains("waiting for container \"")
                && match fault {
                    Fault::Status(..) => {
                        e.status() == Some(500) && text.contains("injected failure")
                    }
                    Fault::MalformedHead => {
                        matches!(e, Error::Protocol(m) if m.contains("malformed HTTP response"))
                    }
                    Fault::HangUpAfter(_) => transport_error(e),
                    _ => true,
                }
        }
        // A non-zero exit is reported whatever happened to the inspect of its state, which
        // is then empty.
        (Route::ContainerInspect, _, Err(Error::Container(c))) => {
            c.exit_code == 3 && c.output.is_empty()
        }
        // The kill is a cleanup step: its failure is no error of the run, whose own error
        // (the unreadable input) is returned.
        (Route::ContainerKill, _, Err(Error::Io(_))) => text.contains("source archive unreadable"),
        // A removal that failed once is tried again (`REMOVE_WINDOW`): the container is
        // removed and the run succeeds, with nothing to warn about.
        (Route::ContainerRemove, _, Ok(())) => o.logged.is_empty(),
        // Elsewhere the failed call's error is returned unchanged: the daemon's reply, the
        // transport's view of a cut or garbled reply, or the time limit.
        (_, Fault::Status(500, _), Err(e)) => {
            e.status() == Some(500) && text.contains("injected failure")
        }
        (_, Fault::HangUpAfter(_), Err(e)) => transport_error(e),
        (_, Fault::MalformedHead, Err(Error::Protocol(m))) => m.contains("malformed HTTP response"),
        (_, Fault::Delay(_), Err(e)) => e.is_timeout(),
        _ => false,
    };
    // The steps whose failure the reference logs before returning it.
    let id = o.id.as_deref().unwrap_or("?");
    let logged = |prefix: &str| o.logged.iter().any(|l| l.starts_with(prefix));
    let ok = ok
        && match route {
            Route::ImageInspect => logged("Unable to get image metadata for builder:1: "),
            Route::ContainerAttach => logged(&format!("Unable to attach to container \"{id}\": ")),
            _ => true,
        };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unexpected result {result:?} ({text}), logged {:?}",
            o.logged
        ))
    }
}

fn faults_on_every_route(in_memory: bool) {
    let mode = if in_memory {
        "in memory"
    } else {
        "unix socket"
    };
    let mut failures = Vec::new();
    for route in RUN_ROUTES {
        for fault in faults() {
            let before = open_fds();
            let o = faulty_run(in_memory, run_for(route), route, &fault);
            let case = format!("{mode}, {route:?}, {fault:?}");
            if !o.hit {
                failures.push(format!("{case}: the route was not called"));
            }
            if let Err(why) = check_error(route, &fault, &o) {
                failures.push(format!("{case}: {why}"));
            }
            // No hang: the run ends within the time limit of the call that failed (plus the
            // fake's slow run, which a failed kill cannot shorten).
            let bound = TIMEOUT + Duration::from_millis(1500);
            if o.elapsed > bound {
                failures.push(format!("{case}: took {:?}", o.elapsed));
            }
            let after = open_fds();
            if after != before {
                failures.push(format!(
                    "{case}: {before} descriptors before, {after} after"
                ));
            }
            // A removal that failed is tried again: no container is ever left.
            if o.left != 0 {
                failures.push(format!("{case}: {} container(s) left", o.left));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn run_container_survives_every_fault_on_a_unix_socket() {
    let _fds = exclusive_fds();
    logs::init();
    faults_on_every_route(false);
}

#[test]
fn run_container_survives_every_fault_in_memory() {
    let _fds = exclusive_fds();
    logs::init();
    faults_on_every_route(true);
}

// ---------------------------------------------------------------------------------------------
// Faults that once defeated the cleanup or hung the run, each on its own.

/// A reply to `POST /containers/create` that is lost (the connection cut after the daemon
/// created the container, or a reply slower than the timeout, the daemon creating it later)
/// leaves a container the run never learned the ID of. It knows the name it asked for
/// (`s2i_<image>_<random>`) and removes the container by that name (for a slow reply, once it
/// shows up).
#[test]
fn a_create_whose_reply_is_lost_leaves_no_container() {
    let _fds = exclusive_fds();
    logs::init();
    for in_memory in [true, false] {
        for fault in [Fault::HangUpAfter(12), Fault::Delay(DELAY)] {
            let o = faulty_run(in_memory, Run::Assemble, Route::ContainersCreate, &fault);
            assert!(
                matches!(o.result, Some(Err(_))),
                "{fault:?}: {:?}",
                o.result
            );
            assert_eq!(
                o.left, 0,
                "in memory: {in_memory}, {fault:?}: container left"
            );
        }
    }
}

/// When the caller's `stdin` fails, the run kills the container. If the kill fails too, the
/// container keeps running and its output never ends: the run must shut the attach stream
/// down itself (dropping the write half is not enough, the read half holds the same socket)
/// and force the removal, which kills the container.
#[test]
fn a_failed_kill_after_unreadable_input_does_not_hang_the_run() {
    let _fds = exclusive_fds();
    logs::init();
    for in_memory in [true, false] {
        for fault in [
            Fault::Status(500, "injected failure".into()),
            Fault::MalformedHead,
        ] {
            let o = faulty_run(
                in_memory,
                Run::UnreadableInput,
                Route::ContainerKill,
                &fault,
            );
            let text = match &o.result {
                Some(Err(e)) => e.to_string_with_causes(),
                other => panic!(
                    "in memory: {in_memory}, {fault:?}: {other:?} after {:?}",
                    o.elapsed
                ),
            };
            assert!(text.contains("source archive unreadable"), "{text}");
            assert_eq!(
                o.left, 0,
                "in memory: {in_memory}, {fault:?}: container left"
            );
        }
    }
}

/// A cancelled run whose kill fails must not wait for the container to end by itself: it
/// closes the attach stream, stops waiting, force-removes the container and returns
/// `Cancelled` at once.
#[test]
fn a_cancelled_run_ends_even_when_the_kill_fails() {
    let _fds = shared_fds();
    let fake = seed()
        .on_command("long", FakeRun::new().delay(Duration::from_secs(30)))
        .serve_in_memory()
        .unwrap();
    fake.fail(
        Route::ContainerKill,
        Fault::Status(500, "injected failure".into()),
    );
    let d = docker(&fake);
    let cancel = RunCancel::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let runner = {
        let cancel = cancel.clone();
        std::thread::spawn(move || {
            let _ = tx.send(d.run_container(RunContainerOptions {
                image: "builder:1".into(),
                command_explicit: vec!["long".into()],
                stdout: Some(Box::new(std::io::sink())),
                cancel: Some(cancel),
                ..Default::default()
            }));
        })
    };
    std::thread::sleep(Duration::from_millis(100));
    cancel.cancel();
    let result = rx.recv_timeout(WATCHDOG);
    let left = fake.containers().len();
    drop(fake);
    runner.join().unwrap();
    match result {
        Ok(Err(Error::Cancelled)) => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(left, 0, "container left");
}
