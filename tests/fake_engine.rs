//! The real `EngineClient` against `FakeEngine`: every endpoint, every fault, clean shutdown.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use s2i_docker::fake::engine::{
    assert_request, FakeEngine, FakeImage, FakeRun, Fault, Route, RunningFake,
};
use s2i_docker::ops::container::{
    self, ContainerAttachOptions, ContainerCommitOptions, ContainerConfig, ContainerCreateBody,
    ContainerListOptions, ContainerRemoveOptions, HostConfig,
};
use s2i_docker::ops::copy::{self, CopyToContainerOptions};
use s2i_docker::ops::image::{self, ImageBuildOptions, ImagePullOptions, ImageRemoveOptions};
use s2i_docker::ops::{stream, system};
use s2i_docker::{AuthConfig, EngineClient, Error};
use s2i_docker::{Signal, WaitCondition};

/// Tests that open descriptors hold this shared; the descriptor count holds it alone.
static FDS: RwLock<()> = RwLock::new(());

fn shared_fds() -> RwLockReadGuard<'static, ()> {
    FDS.read().unwrap_or_else(|p| p.into_inner())
}

fn exclusive_fds() -> RwLockWriteGuard<'static, ()> {
    FDS.write().unwrap_or_else(|p| p.into_inner())
}

/// Short, so a fault that hangs would fail the test quickly.
const TIMEOUT: Duration = Duration::from_millis(500);

fn builder_image() -> FakeImage {
    FakeImage::default()
        .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
        .env("APP_ROOT", "/opt/app-root")
        .user("1001")
        .cmd(&["/usr/libexec/s2i/usage"])
        .file(
            "/usr/libexec/s2i/assemble",
            b"#!/bin/sh\necho assembling\n",
            0o755,
        )
        .file("/usr/libexec/s2i/run", b"#!/bin/sh\n", 0o755)
}

fn seed() -> FakeEngine {
    FakeEngine::new()
        .image("builder:1", builder_image())
        .registry_image(
            "127.0.0.1:5000/private/app:2",
            FakeImage::default().user("42"),
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
                .stderr(b"boom\n")
                .exit_code(3)
                .oom_killed(true),
        )
        .on_command("sleep", FakeRun::new().delay(Duration::from_secs(30)))
}

/// The two ways of serving a fake; the tests run against both.
fn serve_both(seed: impl Fn() -> FakeEngine) -> [RunningFake; 2] {
    [
        seed().serve_unix().unwrap(),
        seed().serve_in_memory().unwrap(),
    ]
}

fn client(fake: &RunningFake) -> EngineClient {
    fake.client().unwrap().with_timeout(TIMEOUT)
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

fn untar(mut r: impl Read) -> Vec<(String, Vec<u8>)> {
    let mut bytes = Vec::new();
    r.read_to_end(&mut bytes).unwrap();
    let mut ar = tar::Archive::new(&bytes[..]);
    ar.entries()
        .unwrap()
        .map(|e| {
            let mut e = e.unwrap();
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            (e.path().unwrap().display().to_string(), data)
        })
        .collect()
}

fn create_body(image: &str, cmd: &[&str], stdin: bool) -> ContainerCreateBody {
    ContainerCreateBody {
        config: ContainerConfig {
            image: image.to_string(),
            cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
            open_stdin: stdin,
            stdin_once: stdin,
            attach_stdout: true,
            ..Default::default()
        },
        host_config: HostConfig {
            shm_size: 67_108_864,
            ..Default::default()
        },
    }
}

#[test]
fn ping_and_version() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        ping_and_version_on(fake);
    }
}

fn ping_and_version_on(fake: RunningFake) {
    let docker = client(&fake);
    let ping = system::ping(&docker).unwrap();
    assert_eq!(ping.api_version, "1.41");
    assert_eq!(ping.os_type, "linux");
    assert!(!ping.experimental);
    assert_eq!(docker.api_version().unwrap(), "1.41");
    let version = system::version(&docker).unwrap();
    assert_eq!(version.api_version, "1.41");

    let reqs = fake.requests();
    assert_request(&reqs[0], "GET", "/_ping");
    assert_request(reqs.last().unwrap(), "GET", "/version");
    assert_eq!(reqs.last().unwrap().api_version.as_deref(), Some("1.41"));
    fake.assert_no_unhandled();
}

#[test]
fn image_inspect_pull_and_remove() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        image_inspect_pull_and_remove_on(fake);
    }
}

fn image_inspect_pull_and_remove_on(fake: RunningFake) {
    let docker = client(&fake);

    let builder = image::inspect(&docker, "builder:1").unwrap();
    let config = builder.config.unwrap();
    assert_eq!(config.user, "1001");
    assert_eq!(config.env.unwrap(), ["APP_ROOT=/opt/app-root"]);
    assert_eq!(
        config.labels.unwrap()["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );
    assert_eq!(builder.repo_tags, ["builder:1"]);
    assert!(builder.id.starts_with("sha256:") && builder.id.len() == 71);
    assert_eq!(
        image::inspect(&docker, "docker.io/library/builder:1")
            .unwrap()
            .id,
        builder.id
    );
    assert_eq!(
        image::inspect(&docker, &builder.id[7..19]).unwrap().id,
        builder.id
    );

    let missing = image::inspect(&docker, "nope").unwrap_err();
    assert!(missing.is_not_found(), "{missing}");
    assert!(
        missing.to_string().contains("No such image: nope:latest"),
        "{missing}"
    );

    // A public image pulls without credentials.
    let body = image::pull(&docker, "busybox", &ImagePullOptions::default()).unwrap();
    let mut statuses = Vec::new();
    stream::consume(body, |m| statuses.push(format!("{m:?}"))).unwrap();
    assert!(statuses
        .last()
        .unwrap()
        .contains("Downloaded newer image for busybox:latest"));
    assert_eq!(
        image::inspect(&docker, "busybox")
            .unwrap()
            .config
            .unwrap()
            .cmd
            .unwrap(),
        ["sh"]
    );
    let pull = &fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.route == Some(Route::ImagesCreate))
        .unwrap();
    assert_eq!(pull.query("fromImage"), Some("docker.io/library/busybox"));
    assert_eq!(pull.query("tag"), Some("latest"));

    // A private one needs the registry's credentials; without them the 200 stream fails in-band.
    let err = image::pull(
        &docker,
        "127.0.0.1:5000/private/app:2",
        &ImagePullOptions::default(),
    )
    .and_then(|body| stream::consume(body, |_| {}))
    .unwrap_err();
    assert!(matches!(err, Error::Stream { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("unauthorized: authentication required"),
        "{err}"
    );
    let auth = |password: &str| ImagePullOptions {
        registry_auth: s2i_docker::auth::encode_auth(&AuthConfig {
            username: "user".into(),
            password: password.into(),
            server_address: "127.0.0.1:5000".into(),
            ..Default::default()
        })
        .unwrap(),
        ..Default::default()
    };
    let err = image::pull(&docker, "127.0.0.1:5000/private/app:2", &auth("wrong"))
        .and_then(|body| stream::consume(body, |_| {}))
        .unwrap_err();
    assert!(err.to_string().contains("unauthorized"), "{err}");
    let body = image::pull(&docker, "127.0.0.1:5000/private/app:2", &auth("secret")).unwrap();
    stream::consume(body, |_| {}).unwrap();
    assert_eq!(
        fake.image("127.0.0.1:5000/private/app:2").unwrap().config["User"],
        "42"
    );

    let err = image::pull(&docker, "127.0.0.1:5000/unknown:1", &auth("secret")).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(err.to_string().contains("manifest unknown"), "{err}");
    let err = image::pull(&docker, "nothere", &ImagePullOptions::default()).unwrap_err();
    assert!(
        err.to_string().contains("pull access denied for nothere"),
        "{err}"
    );

    // Remove: untag, then a 404.
    let removed = image::remove(&docker, "busybox", &ImageRemoveOptions::default()).unwrap();
    assert_eq!(removed[0].untagged, "busybox:latest");
    assert!(removed[1].deleted.starts_with("sha256:"));
    let err = image::remove(&docker, "busybox", &ImageRemoveOptions::default()).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn build_from_a_tar_context() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        build_from_a_tar_context_on(fake);
    }
}

fn build_from_a_tar_context_on(fake: RunningFake) {
    let docker = client(&fake);
    let dockerfile = b"FROM builder:1\nLABEL io.openshift.s2i.destination=/opt/src\nUSER root\nCOPY scripts/ /usr/libexec/s2i/\nCMD [\"/usr/libexec/s2i/run\"]\n";
    let context = tar_of(&[
        ("Dockerfile", dockerfile, 0o644),
        ("scripts/assemble", b"#!/bin/sh\necho custom\n", 0o755),
    ]);
    let options = ImageBuildOptions {
        tags: vec!["built:1".into()],
        no_cache: true,
        remove: true,
        ..Default::default()
    };
    let mut out = Vec::new();
    let body = image::build(&docker, &mut &context[..], &options).unwrap();
    stream::copy_checked(body, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(out.contains("Step 1/5 : FROM builder:1"), "{out}");
    assert!(out.contains("Successfully tagged built:1"), "{out}");

    let built = image::inspect(&docker, "built:1").unwrap().config.unwrap();
    assert_eq!(built.user, "root");
    assert_eq!(built.cmd.unwrap(), ["/usr/libexec/s2i/run"]);
    let labels = built.labels.unwrap();
    assert_eq!(labels["io.openshift.s2i.destination"], "/opt/src");
    assert_eq!(
        labels["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );
    assert_eq!(
        fake.image_file("built:1", "/usr/libexec/s2i/assemble")
            .unwrap(),
        b"#!/bin/sh\necho custom\n"
    );

    // A step the fake cannot run fails in-band, and the client notices.
    let context = tar_of(&[("Dockerfile", b"FROM builder:1\nRUN make\n", 0o644)]);
    let body = image::build(&docker, &mut &context[..], &options).unwrap();
    let err = stream::copy_checked(body, &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::Stream { .. }), "{err:?}");

    let context = tar_of(&[("README", b"", 0o644)]);
    let err = image::build(&docker, &mut &context[..], &options).unwrap_err();
    assert_eq!(err.status(), Some(500), "{err}");
    assert!(
        err.to_string()
            .contains("Cannot locate specified Dockerfile"),
        "{err}"
    );
}

#[test]
fn an_s2i_assemble_run() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        an_s2i_assemble_run_on(fake);
    }
}

fn an_s2i_assemble_run_on(fake: RunningFake) {
    let docker = client(&fake);
    let script = "tar -C /tmp -xf - && /usr/libexec/s2i/assemble";
    let created = container::create(
        &docker,
        &create_body("builder:1", &["/bin/sh", "-c", script], true),
        "s2i_builder_1",
    )
    .unwrap();
    let id = created.id;
    assert_eq!(id.len(), 64);

    let conflict = container::create(
        &docker,
        &create_body("builder:1", &["x"], false),
        "s2i_builder_1",
    )
    .unwrap_err();
    assert!(conflict.is_conflict(), "{conflict}");
    let no_image =
        container::create(&docker, &create_body("ghost:1", &["x"], false), "").unwrap_err();
    assert!(no_image.is_not_found(), "{no_image}");
    assert!(
        no_image.to_string().contains("No such image: ghost:1"),
        "{no_image}"
    );

    let attached = container::attach(
        &docker,
        &id,
        &ContainerAttachOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
        },
    )
    .unwrap();
    container::start(&docker, &id).unwrap();
    // Starting a running container is a 304, which is not an error.
    container::start(&docker, &id).unwrap();
    assert_eq!(fake.container(&id).unwrap().status, "running");

    let sources = tar_of(&[
        ("src/app.js", b"console.log(1)\n", 0o644),
        ("src/run.sh", b"#!/bin/sh\n", 0o755),
    ]);
    let mut writer = attached.writer;
    let mut reader = attached.reader;
    let output = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        stream::demux(&mut reader, &mut out, &mut err).map(|()| (out, err))
    });
    writer.write_all(&sources).unwrap();
    writer.close_write().unwrap();
    let (out, err) = output.join().unwrap().unwrap();
    assert_eq!(out, b"---> Installing application source\n");
    assert_eq!(err, b"npm WARN\n");
    drop(writer);

    let waited = container::wait(&docker, &id, WaitCondition::NotRunning).unwrap();
    assert_eq!(waited.status_code, 0);
    let inspected = container::inspect(&docker, &id).unwrap();
    let state = inspected.state.unwrap();
    assert_eq!(
        (state.status.as_str(), state.exit_code, state.running),
        ("exited", 0, false)
    );
    assert_eq!(inspected.name, "/s2i_builder_1");
    assert_eq!(fake.container(&id).unwrap().stdin, sources);

    // The sources are where the command extracted them, the artifact where the run wrote it.
    let (tar, stat) = copy::get_archive(&docker, &id, "/tmp/src").unwrap();
    assert_eq!((stat.name.as_str(), stat.mode & 0o777), ("src", 0o755));
    assert!(stat.mode & (1 << 31) != 0, "a directory: {:o}", stat.mode);
    assert_eq!(
        untar(tar),
        [
            ("src".to_string(), Vec::new()),
            ("src/app.js".to_string(), b"console.log(1)\n".to_vec()),
            ("src/run.sh".to_string(), b"#!/bin/sh\n".to_vec()),
        ]
    );
    let stat = copy::stat(&docker, &id, "/opt/app-root/app.bin").unwrap();
    assert_eq!((stat.size, stat.mode), (4, 0o755));

    let committed = container::commit(
        &docker,
        &id,
        &ContainerCommitOptions {
            reference: "myapp:latest".into(),
            config: Some(ContainerConfig {
                cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
                env: Some(vec!["APP_ROOT=/srv".into(), "EXTRA=1".into()]),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .unwrap();
    let image = image::inspect(&docker, "myapp").unwrap();
    assert_eq!(image.id, committed.id);
    let config = image.config.unwrap();
    assert_eq!(config.cmd.unwrap(), ["/usr/libexec/s2i/run"]);
    assert_eq!(config.env.unwrap(), ["APP_ROOT=/srv", "EXTRA=1"]);
    assert_eq!(config.user, "1001", "unset fields come from the container");
    assert_eq!(
        fake.image_file("myapp", "/opt/app-root/app.bin").unwrap(),
        b"\x7fELF"
    );
    let commit = fake
        .requests()
        .into_iter()
        .find(|r| r.route == Some(Route::Commit))
        .unwrap();
    assert_eq!(commit.query("repo"), Some("docker.io/library/myapp"));
    assert_eq!(commit.query("container"), Some(id.as_str()));

    let err = container::kill(&docker, &id, Signal::Kill).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    container::remove(
        &docker,
        &id,
        &ContainerRemoveOptions {
            remove_volumes: true,
            force: false,
        },
    )
    .unwrap();
    assert!(fake.containers().is_empty());
    let err = container::inspect(&docker, &id).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn failing_runs_and_kills() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        failing_runs_and_kills_on(fake);
    }
}

fn failing_runs_and_kills_on(fake: RunningFake) {
    let docker = client(&fake);

    let id = container::create(&docker, &create_body("builder:1", &["fail-me"], false), "")
        .unwrap()
        .id;
    let attached = container::attach(
        &docker,
        &id,
        &ContainerAttachOptions {
            stream: true,
            stdout: true,
            stderr: true,
            stdin: false,
        },
    )
    .unwrap();
    container::start(&docker, &id).unwrap();
    let mut reader = attached.reader;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    stream::demux(&mut reader, &mut out, &mut err).unwrap();
    assert_eq!((out.as_slice(), err.as_slice()), (&b""[..], &b"boom\n"[..]));
    assert_eq!(
        container::wait(&docker, &id, WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        3
    );
    let state = container::inspect(&docker, &id).unwrap().state.unwrap();
    assert!(state.oom_killed);

    // Tar into a directory that does not exist fails as busybox tar does.
    let id = container::create(
        &docker,
        &create_body(
            "builder:1",
            &["/bin/sh", "-c", "tar -C /nowhere -xf - && x"],
            false,
        ),
        "",
    )
    .unwrap()
    .id;
    container::start(&docker, &id).unwrap();
    assert_eq!(
        container::wait(&docker, &id, WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        1
    );

    // A long run: kill ends it, and a wait that was pending returns 137.
    let id = container::create(
        &docker,
        &create_body("builder:1", &["sleep", "30"], false),
        "",
    )
    .unwrap()
    .id;
    container::start(&docker, &id).unwrap();
    let err = container::remove(&docker, &id, &ContainerRemoveOptions::default()).unwrap_err();
    assert!(err.is_conflict(), "{err}");
    let waiter = {
        let docker = docker.clone();
        let id = id.clone();
        std::thread::spawn(move || container::wait(&docker, &id, WaitCondition::NotRunning))
    };
    std::thread::sleep(Duration::from_millis(100));
    container::kill(&docker, &id, Signal::Kill).unwrap();
    assert_eq!(waiter.join().unwrap().unwrap().status_code, 137);
    container::remove(
        &docker,
        &id,
        &ContainerRemoveOptions {
            force: true,
            remove_volumes: true,
        },
    )
    .unwrap();

    for err in [
        container::start(&docker, "ghost").unwrap_err(),
        container::wait(&docker, "ghost", WaitCondition::NotRunning)
            .map(|_| ())
            .unwrap_err(),
        container::kill(&docker, "ghost", Signal::Kill).unwrap_err(),
        container::remove(&docker, "ghost", &ContainerRemoveOptions::default()).unwrap_err(),
        copy::stat(&docker, "ghost", "/").map(|_| ()).unwrap_err(),
        container::attach(&docker, "ghost", &ContainerAttachOptions::default())
            .map(|_| ())
            .unwrap_err(),
    ] {
        assert!(err.is_not_found(), "{err}");
    }
}

#[test]
fn wait_conditions() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        wait_conditions_on(fake);
    }
}

fn wait_conditions_on(fake: RunningFake) {
    let docker = client(&fake);
    let id = container::create(&docker, &create_body("builder:1", &["fail-me"], false), "")
        .unwrap()
        .id;
    // A created container is not running: `not-running` answers at once.
    assert_eq!(
        container::wait(&docker, &id, WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        0
    );
    let wait_in_thread = |condition: WaitCondition| {
        let (docker, id) = (docker.clone(), id.clone());
        std::thread::spawn(move || container::wait(&docker, &id, condition))
    };
    let next_exit = wait_in_thread(WaitCondition::NextExit);
    let removed = wait_in_thread(WaitCondition::Removed);
    std::thread::sleep(Duration::from_millis(100));
    assert!(!next_exit.is_finished() && !removed.is_finished());
    container::start(&docker, &id).unwrap();
    assert_eq!(next_exit.join().unwrap().unwrap().status_code, 3);
    std::thread::sleep(Duration::from_millis(50));
    assert!(!removed.is_finished());
    container::remove(&docker, &id, &ContainerRemoveOptions::default()).unwrap();
    assert_eq!(removed.join().unwrap().unwrap().status_code, 3);
    let err = container::wait(&docker, &id, WaitCondition::NotRunning).unwrap_err();
    assert!(err.is_not_found(), "{err}");
}

#[test]
fn upload_then_download_round_trips() {
    let _fds = shared_fds();
    for fake in serve_both(seed) {
        upload_then_download_round_trips_on(fake);
    }
}

fn upload_then_download_round_trips_on(fake: RunningFake) {
    let docker = client(&fake);
    let id = container::create(&docker, &create_body("builder:1", &["true"], false), "")
        .unwrap()
        .id;
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let upload = tar_of(&[
        ("app/", b"", 0o755),
        ("app/big.bin", &big, 0o600),
        ("app/bin/start", b"#!/bin/sh\n", 0o755),
    ]);
    copy::put_archive(
        &docker,
        &id,
        "/tmp",
        &mut &upload[..],
        &CopyToContainerOptions::default(),
    )
    .unwrap();
    let put = fake
        .requests()
        .into_iter()
        .find(|r| r.route == Some(Route::ArchivePut))
        .unwrap();
    assert_eq!(put.query("path"), Some("/tmp"));
    assert_eq!(put.query("noOverwriteDirNonDir"), Some("true"));
    assert_eq!(put.body_len, upload.len());

    let (tar, stat) = copy::get_archive(&docker, &id, "/tmp/app/big.bin").unwrap();
    assert_eq!(
        (stat.name.as_str(), stat.size, stat.mode),
        ("big.bin", 300_000, 0o600)
    );
    assert_eq!(untar(tar), [("big.bin".to_string(), big)]);
    let (tar, _) = copy::get_archive(&docker, &id, "/tmp/app/bin").unwrap();
    assert_eq!(
        untar(tar),
        [
            ("bin".into(), vec![]),
            ("bin/start".into(), b"#!/bin/sh\n".to_vec())
        ]
    );

    let err = copy::put_archive(
        &docker,
        &id,
        "/missing",
        &mut &upload[..],
        &Default::default(),
    )
    .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    let err = copy::get_archive(&docker, &id, "/tmp/nothing")
        .map(|_| ())
        .unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .contains("Could not find the file /tmp/nothing"),
        "{err}"
    );
}

/// Calls the endpoint of `route` with the client, as a test would; `Ok` if the call and the
/// reading of its body succeeded.
fn call_route(docker: &EngineClient, fake: &RunningFake, route: Route) -> Result<(), Error> {
    let id = fake.container("victim").map(|c| c.id).unwrap_or_default();
    match route {
        Route::Ping => system::ping(docker).map(drop),
        Route::Version => system::version(docker).map(drop),
        Route::ImageInspect => image::inspect(docker, "builder:1").map(drop),
        Route::ImagesCreate => image::pull(docker, "busybox", &ImagePullOptions::default())
            .and_then(|b| stream::consume(b, |_| {})),
        Route::ImageRemove => {
            image::remove(docker, "doomed:1", &ImageRemoveOptions::default()).map(drop)
        }
        Route::Build => {
            let ctx = tar_of(&[("Dockerfile", b"FROM builder:1\n", 0o644)]);
            image::build(docker, &mut &ctx[..], &ImageBuildOptions::default())
                .and_then(|b| stream::copy_checked(b, &mut Vec::new()))
        }
        Route::ContainersCreate => {
            container::create(docker, &create_body("builder:1", &["true"], false), "").map(drop)
        }
        Route::ContainerAttach => container::attach(
            docker,
            &id,
            &ContainerAttachOptions {
                stream: true,
                stdout: true,
                stderr: true,
                stdin: false,
            },
        )
        .and_then(|h| {
            // Run it so the stream carries output and ends.
            container::start(docker, &id)?;
            let mut reader = h.reader;
            stream::demux(&mut reader, &mut Vec::new(), &mut Vec::new())
        }),
        Route::ContainerStart => container::start(docker, &id),
        Route::ContainerWait => container::wait(docker, &id, WaitCondition::NotRunning).map(drop),
        Route::ContainerInspect => container::inspect(docker, &id).map(drop),
        Route::ContainerKill => container::kill(docker, &id, Signal::Kill),
        Route::ContainerRemove => {
            container::remove(docker, &id, &ContainerRemoveOptions::default())
        }
        Route::ContainerList => container::list(
            docker,
            &ContainerListOptions {
                all: true,
                labels: vec!["a=b".into()],
            },
        )
        .map(drop),
        Route::ArchivePut => {
            let t = tar_of(&[("f", b"1", 0o644)]);
            copy::put_archive(docker, &id, "/tmp", &mut &t[..], &Default::default())
        }
        Route::ArchiveGet => copy::get_archive(docker, &id, "/tmp").and_then(|(mut b, _)| {
            std::io::copy(&mut b, &mut std::io::sink())
                .map(drop)
                .map_err(Error::from)
        }),
        Route::ArchiveHead => copy::stat(docker, &id, "/tmp").map(drop),
        Route::Commit => {
            container::commit(docker, &id, &ContainerCommitOptions::default()).map(drop)
        }
        _ => unreachable!("a route this test does not know"),
    }
}

const ROUTES: &[Route] = &[
    Route::Ping,
    Route::Version,
    Route::ImageInspect,
    Route::ImagesCreate,
    Route::ImageRemove,
    Route::Build,
    Route::ContainersCreate,
    Route::ContainerAttach,
    Route::ContainerStart,
    Route::ContainerWait,
    Route::ContainerInspect,
    Route::ContainerKill,
    Route::ContainerRemove,
    Route::ContainerList,
    Route::ArchivePut,
    Route::ArchiveGet,
    Route::ArchiveHead,
    Route::Commit,
];

/// A fresh fake where every route's call succeeds: a `victim` container that runs (its kill
/// and removal work) and an image to remove.
fn victim_fake(route: Route, in_memory: bool) -> (RunningFake, EngineClient) {
    let seed = seed().image("doomed:1", FakeImage::default());
    let fake = if in_memory {
        seed.serve_in_memory()
    } else {
        seed.serve_unix()
    }
    .unwrap();
    let docker = client(&fake);
    // Kill needs a container that keeps running; the others one that ends at once.
    let cmd = if route == Route::ContainerKill {
        "sleep"
    } else {
        "true"
    };
    container::create(&docker, &create_body("builder:1", &[cmd], false), "victim").unwrap();
    (fake, docker)
}

/// Puts the victim in the state the route needs to succeed.
fn prepare(docker: &EngineClient, fake: &RunningFake, route: Route) {
    let id = fake.container("victim").unwrap().id;
    match route {
        // Kill needs it running (it sleeps); wait needs it started (it ends at once).
        Route::ContainerKill | Route::ContainerWait => container::start(docker, &id).unwrap(),
        _ => {}
    }
}

#[test]
fn every_route_succeeds_without_faults() {
    let _fds = shared_fds();
    for in_memory in [false, true] {
        every_route_succeeds_without_faults_in(in_memory);
    }
}

fn every_route_succeeds_without_faults_in(in_memory: bool) {
    for &route in ROUTES {
        let (fake, docker) = victim_fake(route, in_memory);
        prepare(&docker, &fake, route);
        call_route(&docker, &fake, route).unwrap_or_else(|e| panic!("{route:?}: {e:?}"));
        assert!(
            fake.requests().iter().any(|r| r.route == Some(route)),
            "{route:?}"
        );
        fake.assert_no_unhandled();
    }
}

#[test]
fn every_fault_is_an_error_not_a_panic_or_a_hang() {
    let _fds = shared_fds();
    for in_memory in [false, true] {
        every_fault_is_an_error_not_a_panic_or_a_hang_in(in_memory);
    }
}

fn every_fault_is_an_error_not_a_panic_or_a_hang_in(in_memory: bool) {
    let faults = [
        Fault::Status(500, "injected failure".into()),
        Fault::HangUpAfter(10),
        Fault::TruncatedChunk,
        Fault::MalformedHead,
    ];
    for fault in faults {
        for &route in ROUTES {
            if fault == Fault::TruncatedChunk && route == Route::ArchiveHead {
                continue; // a HEAD reply has no body to cut
            }
            let (fake, docker) = victim_fake(route, in_memory);
            prepare(&docker, &fake, route);
            fake.fail(route, fault.clone()).times(1);
            let started = Instant::now();
            let result = call_route(&docker, &fake, route);
            let err = match result {
                Err(e) => e,
                Ok(()) => panic!("{route:?} with {fault:?}: no error"),
            };
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "{route:?} {fault:?}: slow"
            );
            if let Fault::Status(code, _) = &fault {
                assert_eq!(err.status(), Some(*code), "{route:?}: {err}");
                if route != Route::ArchiveHead {
                    // (a HEAD reply carries no message)
                    assert!(
                        err.to_string().contains("injected failure"),
                        "{route:?}: {err}"
                    );
                }
            }
        }
    }
}

#[test]
fn in_band_errors_fail_pulls_and_builds() {
    let _fds = shared_fds();
    for in_memory in [false, true] {
        in_band_errors_fail_pulls_and_builds_in(in_memory);
    }
}

fn in_band_errors_fail_pulls_and_builds_in(in_memory: bool) {
    for route in [Route::ImagesCreate, Route::Build] {
        let (fake, docker) = victim_fake(route, in_memory);
        fake.fail(route, Fault::InBand("manifest unknown".into()))
            .times(1);
        let err = call_route(&docker, &fake, route).unwrap_err();
        assert!(
            matches!(&err, Error::Stream { message } if message.contains("manifest unknown")),
            "{err:?}"
        );
        // The next request is served normally.
        call_route(&docker, &fake, route).unwrap();
    }
}

#[test]
fn a_delay_past_the_timeout_is_a_timeout() {
    let _fds = shared_fds();
    for in_memory in [false, true] {
        a_delay_past_the_timeout_is_a_timeout_in(in_memory);
    }
}

fn a_delay_past_the_timeout_is_a_timeout_in(in_memory: bool) {
    for route in [
        Route::Ping,
        Route::ImageInspect,
        Route::ContainerInspect,
        Route::ArchiveHead,
    ] {
        let (fake, docker) = victim_fake(route, in_memory);
        if route == Route::Ping {
            // Negotiate first, so the delayed ping is the call itself.
            docker.api_version().unwrap();
        }
        fake.fail(route, Fault::Delay(TIMEOUT * 3)).times(1);
        let started = Instant::now();
        let err = call_route(&docker, &fake, route).unwrap_err();
        assert!(err.is_timeout(), "{route:?}: {err:?}");
        assert!(started.elapsed() < TIMEOUT * 3, "{route:?}");
    }
    // Calls without a time limit just take longer.
    let (fake, docker) = victim_fake(Route::ContainerWait, in_memory);
    prepare(&docker, &fake, Route::ContainerWait);
    fake.fail(Route::ContainerWait, Fault::Delay(TIMEOUT * 2))
        .times(1);
    call_route(&docker, &fake, Route::ContainerWait).unwrap();
}

#[test]
fn unknown_routes_are_recorded_and_strict_mode_reports_them() {
    let _fds = shared_fds();
    let fake = FakeEngine::new().strict().serve_unix().unwrap();
    let mut s = UnixStream::connect(fake.socket_path().unwrap()).unwrap();
    s.write_all(b"GET /v1.41/networks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut reply = String::new();
    s.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 404 Not Found\r\n"), "{reply}");
    assert!(
        reply.ends_with("{\"message\":\"page not found\"}\n"),
        "{reply}"
    );
    assert_eq!(fake.unhandled().len(), 1);
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fake.requests()));
    assert!(panicked.is_err());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(fake)));
    assert!(
        panicked.is_err(),
        "dropping a strict fake with unhandled requests panics"
    );
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

#[test]
fn no_descriptors_threads_or_files_are_left_behind() {
    let _fds = exclusive_fds();
    let before = open_fds();
    let dir;
    {
        let fake = seed().serve_unix().unwrap();
        dir = fake.socket_path().unwrap().parent().unwrap().to_path_buf();
        let docker = client(&fake);
        let id = container::create(
            &docker,
            &create_body(
                "builder:1",
                &["/bin/sh", "-c", "tar -C /tmp -xf - && assemble"],
                true,
            ),
            "",
        )
        .unwrap()
        .id;
        let h = container::attach(
            &docker,
            &id,
            &ContainerAttachOptions {
                stream: true,
                stdin: true,
                stdout: true,
                stderr: true,
            },
        )
        .unwrap();
        container::start(&docker, &id).unwrap();
        let mut writer = h.writer;
        writer.write_all(&tar_of(&[("a", b"1", 0o644)])).unwrap();
        writer.close_write().unwrap();
        let mut reader = h.reader;
        stream::demux(&mut reader, &mut Vec::new(), &mut Vec::new()).unwrap();
        container::wait(&docker, &id, WaitCondition::NotRunning).unwrap();
        copy::get_archive(&docker, &id, "/tmp/a").unwrap();
        // Leave a container running, a wait pending, and a connection idle at drop time.
        let long = container::create(&docker, &create_body("builder:1", &["sleep"], false), "")
            .unwrap()
            .id;
        container::start(&docker, &long).unwrap();
        let pending = {
            let docker = docker.clone();
            std::thread::spawn(move || container::wait(&docker, &long, WaitCondition::NotRunning))
        };
        std::thread::sleep(Duration::from_millis(100));
        assert!(dir.exists());
        let started = Instant::now();
        drop(fake);
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(
            pending.join().unwrap().is_err(),
            "the pending wait ends with the fake"
        );
    }
    assert!(!dir.exists(), "the temporary directory is removed");
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// A sink the test can read after handing it to the library.
#[derive(Clone, Default)]
struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn the_s2i_operations_run_against_the_fake() {
    use s2i_docker::{Docker, DockerClient, RunContainerOptions};
    let _fds = shared_fds();
    let fake = seed().serve_unix().unwrap();
    let docker = DockerClient::new(std::sync::Arc::new(client(&fake)), AuthConfig::default());

    let out = Shared::default();
    let sources = tar_of(&[("src/index.js", b"1\n", 0o644)]);
    docker
        .run_container(RunContainerOptions {
            image: "builder:1".into(),
            command: "assemble".into(),
            stdin: Some(Box::new(std::io::Cursor::new(sources))),
            stdout: Some(Box::new(out.clone())),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        *out.0.lock().unwrap(),
        b"---> Installing application source\n"
    );
    assert!(
        fake.containers().is_empty(),
        "the run's container is removed"
    );
    let create = fake
        .requests()
        .into_iter()
        .find(|r| r.route == Some(Route::ContainersCreate))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        create["Cmd"],
        serde_json::json!([
            "/bin/sh",
            "-c",
            "tar -C /tmp -xf - && /usr/libexec/s2i/assemble"
        ])
    );
    let routes: Vec<Route> = fake.requests().iter().filter_map(|r| r.route).collect();
    for route in [
        Route::ContainersCreate,
        Route::ContainerAttach,
        Route::ContainerStart,
        Route::ContainerWait,
        Route::ContainerRemove,
    ] {
        assert!(routes.contains(&route), "{route:?} in {routes:?}");
    }

    // A failing run is a container error carrying the daemon's view of the state.
    let err = docker
        .run_container(RunContainerOptions {
            image: "builder:1".into(),
            command_explicit: vec!["fail-me".into()],
            stdout: Some(Box::new(std::io::sink())),
            ..Default::default()
        })
        .unwrap_err();
    let text = format!("{err:?}");
    assert!(text.contains("OOMKilled: true"), "{text}");
    assert!(fake.containers().is_empty());

    assert_eq!(
        docker.get_scripts_url("builder:1").unwrap(),
        "image:///usr/libexec/s2i"
    );
    fake.assert_no_unhandled();
}

#[test]
fn in_memory_uses_no_descriptor_and_its_clients_outlive_it() {
    let _fds = exclusive_fds();
    let before = open_fds();
    let fake = seed().serve_in_memory().unwrap();
    assert!(fake.is_in_memory() && fake.socket_path().is_none());
    assert!(
        fake.host().starts_with("unix:///in-memory/"),
        "{}",
        fake.host()
    );
    let docker = client(&fake);
    system::ping(&docker).unwrap();
    let id = container::create(&docker, &create_body("builder:1", &["sleep"], false), "")
        .unwrap()
        .id;
    container::start(&docker, &id).unwrap();
    assert_eq!(open_fds(), before, "no descriptor while serving");

    // Cancelling a wait that would last 30 s.
    let cancel = s2i_docker::transport::Cancel::new();
    let waiting = {
        let docker = docker.with_cancel(cancel.clone());
        let id = id.clone();
        std::thread::spawn(move || container::wait(&docker, &id, WaitCondition::NotRunning))
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    cancel.cancel();
    let err = waiting.join().unwrap().unwrap_err();
    assert!(matches!(err, Error::Cancelled), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(1));

    // A pending wait ends with the fake; later calls cannot connect.
    let pending = {
        let docker = docker.clone();
        std::thread::spawn(move || container::wait(&docker, &id, WaitCondition::NotRunning))
    };
    std::thread::sleep(Duration::from_millis(100));
    let started = Instant::now();
    drop(fake);
    assert!(started.elapsed() < Duration::from_secs(2));
    assert!(pending.join().unwrap().is_err());
    let err = system::ping(&docker).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Connect {
                failure: s2i_docker::error::ConnectFailure::NotRunning,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(open_fds(), before);
}
