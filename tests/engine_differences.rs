//! Where Podman's answers differ from Docker's: the S2I operations give the same results on both.
//!
//! The same tests run against the Docker engine and against Podman's Docker-compatible service
//! (`.ci/test` runs every `engine_*` suite on both, with `S2I_TEST_DOCKER_HOST` pointing at each).
//! Where Podman itself cannot do a thing, the test says so and why, and checks that the library
//! gives a clear answer instead. See the crate's `ops::podman` module for the list of differences.
//!
//! Without an engine the tests print one line and pass, except under `CI=true`. Every image and
//! container a test makes is removed, also when it fails.

mod common;

use std::io::{self, Cursor, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::Cleanup;
use s2i_docker::archive::LocalFileSystem;
use s2i_docker::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerConfig, ContainerCreateBody,
    ContainerRemoveOptions, HostConfig,
};
use s2i_docker::ops::copy;
use s2i_docker::{
    new_engine_api_client, BuildImageOptions, Client, CommitContainerOptions, Docker, DockerClient,
    DockerConfig, Engine, EngineClient, Error, RunCancel, RunContainerOptions,
};
use s2i_docker::{Signal, WaitCondition};

struct Ctx {
    host: String,
    engine: EngineClient,
    docker: DockerClient,
    cleanup: Cleanup,
    podman: bool,
}

fn ctx() -> Option<Ctx> {
    let host = common::engine_host()?;
    let engine = new_engine_api_client(&DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    })
    .expect("engine client");
    let docker = DockerClient::new(Arc::new(engine.clone()), Default::default())
        .with_pull_retry_delay(Duration::from_millis(10));
    let podman = common::is_podman();
    Some(Ctx {
        cleanup: Cleanup::new(&host),
        host,
        engine,
        docker,
        podman,
    })
}

impl Ctx {
    /// Builds the busybox builder image plus `extra` Dockerfile lines as `tag` (removed with the
    /// test, under its fully qualified name, which both engines read the same).
    fn build(&self, tag: &str, extra: &str) -> String {
        self.cleanup.image(&format!("docker.io/library/{tag}"));
        let context =
            common::build_context_tar(&format!("{}{extra}\n", common::BUILDER_DOCKERFILE), &[]);
        let out = Buf::default();
        let built = self.docker.build_image(BuildImageOptions {
            name: tag.to_string(),
            stdin: Some(Box::new(Cursor::new(context))),
            stdout: Some(Box::new(out.clone())),
            cgroup_limits: None,
            cancel: None,
            ..Default::default()
        });
        if let Err(e) = built {
            panic!("build {tag}: {e:?}\n{}", out.text());
        }
        self.docker.get_image_id(tag).expect("the built image")
    }

    /// A container of `image` running `cmd` (not started), removed with the test.
    fn create(&self, image: &str, cmd: &[&str]) -> String {
        let body = ContainerCreateBody {
            config: ContainerConfig {
                image: image.to_string(),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
            host_config: HostConfig {
                network_mode: "none".into(),
                ..Default::default()
            },
        };
        let name = common::unique_name("s2i_diff");
        self.cleanup.container(&name);
        self.engine
            .container_create(&body, &name)
            .expect("create")
            .id
    }

    /// Runs to completion with stdout and stderr captured, or fails the test after `limit` (the
    /// run is cancelled, so its container goes too).
    fn run(
        &self,
        mut opts: RunContainerOptions,
        limit: Duration,
    ) -> (s2i_docker::Result<()>, String, String) {
        let out = Buf::default();
        let err = Buf::default();
        opts.stdout = Some(Box::new(out.clone()));
        opts.stderr = Some(Box::new(err.clone()));
        let cancel = RunCancel::new();
        opts.cancel = Some(cancel.clone());
        let (tx, rx) = mpsc::channel();
        let docker = self.docker.clone();
        let runner = std::thread::spawn(move || {
            let _ = tx.send(docker.run_container(opts));
        });
        match rx.recv_timeout(limit) {
            Ok(r) => {
                let _ = runner.join();
                (r, out.text(), err.text())
            }
            Err(_) => {
                cancel.cancel();
                let _ = runner.join();
                panic!("run_container did not return within {limit:?}: it hangs");
            }
        }
    }
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Buf {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_engine_is_told_by_its_ping() {
    let Some(ctx) = ctx() else { return };
    let want = if ctx.podman {
        Engine::Podman
    } else {
        Engine::Docker
    };
    assert_eq!(ctx.engine.engine().unwrap(), want);
    let server = ctx.engine.ping().unwrap().server;
    assert_eq!(Engine::from_server_header(&server), want, "{server}");
    // Both speak API 1.41 (or newer) and say so in the same header.
    let version = ctx.engine.api_version().unwrap();
    assert!(version.starts_with("1.4"), "{version}");
}

/// S2I issue #1082 / podman#13770: Podman ignores the configuration in the body of a commit.
#[test]
fn commits_apply_their_configuration() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-commit-base"));
    ctx.build(&base, "");
    let container = ctx.create(&base, &["/bin/sh", "-c", "echo built > /tmp/built"]);
    ctx.engine.container_start(&container).expect("start");
    assert_eq!(
        ctx.engine
            .container_wait(&container, WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        0
    );

    // What S2I commits after assemble: command, environment, labels, user.
    let tag = format!("{}:1", common::unique_name("s2i-test-diff-commit"));
    ctx.cleanup.image(&format!("docker.io/library/{tag}"));
    let id = ctx
        .docker
        .commit_container(CommitContainerOptions {
            container_id: container.clone(),
            repository: tag.clone(),
            user: "1002".into(),
            command: strings(&["/usr/libexec/s2i/run", "with spaces", "\"quoted\""]),
            env: strings(&["GREETING=hi there", "QUOTED=\"q\"", "EMPTY="]),
            labels: [
                ("io.openshift.s2i.build.image".to_string(), base.clone()),
                ("test.label".to_string(), "a \"b\" c".to_string()),
            ]
            .into(),
            ..Default::default()
        })
        .expect("commit");
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    assert_eq!(ctx.docker.get_image_id(&tag).unwrap(), id);
    let config = ctx
        .docker
        .inspect_image(&tag)
        .unwrap()
        .config
        .unwrap_or_default();
    assert_eq!(
        config.cmd,
        Some(strings(&[
            "/usr/libexec/s2i/run",
            "with spaces",
            "\"quoted\""
        ]))
    );
    assert_eq!(config.user, "1002");
    let env = config.env.unwrap_or_default();
    for e in ["GREETING=hi there", "QUOTED=\"q\"", "EMPTY=", "PATH=/bin"] {
        assert!(env.contains(&e.to_string()), "{e} not in {env:?}");
    }
    if ctx.podman {
        // Podman puts these in every container's environment, so its commits keep them.
        assert!(env.contains(&"container=podman".to_string()), "{env:?}");
    }
    let labels = ctx.docker.get_labels(&tag).unwrap();
    assert_eq!(labels["test.label"], "a \"b\" c");
    assert_eq!(labels["io.openshift.s2i.build.image"], base);
    assert_eq!(
        labels["io.openshift.s2i.scripts-url"],
        "image:///usr/libexec/s2i"
    );
    assert_eq!(ctx.docker.get_image_user(&tag).unwrap(), "1002");

    // An entrypoint alone: Docker drops the container's command, so must Podman.
    let entry_tag = format!("{}:1", common::unique_name("s2i-test-diff-commit-entry"));
    ctx.cleanup.image(&format!("docker.io/library/{entry_tag}"));
    ctx.docker
        .commit_container(CommitContainerOptions {
            container_id: container.clone(),
            repository: entry_tag.clone(),
            entrypoint: strings(&["/usr/bin/env"]),
            ..Default::default()
        })
        .expect("commit with an entrypoint");
    let config = ctx
        .docker
        .inspect_image(&entry_tag)
        .unwrap()
        .config
        .unwrap_or_default();
    assert_eq!(config.entrypoint, Some(strings(&["/usr/bin/env"])));
    assert!(config.cmd.unwrap_or_default().is_empty());

    // Nothing to set: the container's own configuration (Podman refuses a commit without a body).
    let plain_tag = format!("{}:1", common::unique_name("s2i-test-diff-commit-plain"));
    ctx.cleanup.image(&format!("docker.io/library/{plain_tag}"));
    ctx.docker
        .commit_container(CommitContainerOptions {
            container_id: container.clone(),
            repository: plain_tag.clone(),
            ..Default::default()
        })
        .expect("commit without a configuration");
    let config = ctx
        .docker
        .inspect_image(&plain_tag)
        .unwrap()
        .config
        .unwrap_or_default();
    assert_eq!(
        config.cmd,
        Some(strings(&["/bin/sh", "-c", "echo built > /tmp/built"]))
    );
    assert_eq!(config.user, "1001");

    // What Podman's instructions cannot carry is refused there, before anything is sent.
    let multi_line = CommitContainerOptions {
        container_id: container.clone(),
        repository: format!("{}:1", common::unique_name("s2i-test-diff-commit-nl")),
        env: strings(&["A=two\nlines"]),
        ..Default::default()
    };
    ctx.cleanup
        .image(&format!("docker.io/library/{}", multi_line.repository));
    match ctx.docker.commit_container(multi_line) {
        Err(e) => {
            assert!(ctx.podman, "{e:?}");
            assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
        }
        Ok(_) => assert!(
            !ctx.podman,
            "Podman cannot commit a newline in an environment value"
        ),
    }
}

/// Podman 4 answers 500 where Docker answers 409; both read as conflicts.
#[test]
fn conflicts_read_as_conflicts() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-conflict"));
    ctx.build(&base, "");
    let name = common::unique_name("s2i_diff_named");
    ctx.cleanup.container(&name);
    let body = ContainerCreateBody {
        config: ContainerConfig {
            image: base.clone(),
            cmd: Some(strings(&["/bin/sleep", "60"])),
            ..Default::default()
        },
        host_config: HostConfig {
            network_mode: "none".into(),
            ..Default::default()
        },
    };
    let id = ctx
        .engine
        .container_create(&body, &name)
        .expect("create")
        .id;
    let e = ctx.engine.container_create(&body, &name).unwrap_err();
    assert!(e.is_conflict(), "name in use: {e:?}");
    let e = ctx.engine.container_kill(&id, Signal::Kill).unwrap_err();
    assert!(
        e.is_conflict(),
        "kill of a container that is not running: {e:?}"
    );
    ctx.engine.container_start(&id).expect("start");
    let e = ctx
        .engine
        .container_remove(&id, &ContainerRemoveOptions::default())
        .unwrap_err();
    assert!(e.is_conflict(), "remove of a running container: {e:?}");
    // Once it stopped, the S2I operations remove it on both.
    ctx.docker.kill_container(&id).expect("kill");
    ctx.docker.remove_container(&id).expect("remove");
}

/// Docker reads `name:tag` as `docker.io/library/name:tag`; Podman prefers `localhost/name:tag`
/// when both exist. The library reads a short name as Docker does on both.
#[test]
fn short_names_mean_what_they_mean_to_docker() {
    let Some(ctx) = ctx() else { return };
    let name = common::unique_name("s2i-test-diff-short");
    let tag = format!("{name}:1");
    let ours = ctx.build(&tag, "ENV WHICH=docker-meaning\nLABEL which=docker-meaning");
    let other_tag = format!("{}:1", common::unique_name("s2i-test-diff-other"));
    let other = ctx.build(&other_tag, "ENV WHICH=localhost\nLABEL which=localhost");
    // The name the podman CLI would have given an image of its own.
    ctx.cleanup.image(&format!("localhost/{tag}"));
    let tagged = common::raw_request(
        &ctx.host,
        "POST",
        &format!("/images/{other}/tag?repo=localhost/{name}&tag=1"),
        None,
        &[],
    )
    .expect("tag");
    assert!(
        tagged.status < 300,
        "tag: {}",
        String::from_utf8_lossy(&tagged.body)
    );
    assert_eq!(
        ctx.docker
            .get_image_id(&format!("localhost/{tag}"))
            .unwrap(),
        other
    );

    // Inspect, labels, a run and the removal all take `name:1` to be ours.
    assert_eq!(ctx.docker.get_image_id(&tag).unwrap(), ours);
    assert_eq!(
        ctx.docker.get_labels(&tag).unwrap()["which"],
        "docker-meaning"
    );
    let inspect = ctx.engine.image_inspect_with_raw(&tag).unwrap().0;
    assert!(inspect.repo_tags.contains(&tag), "{:?}", inspect.repo_tags);
    let (r, out, _) = ctx.run(
        RunContainerOptions {
            image: tag.clone(),
            command_explicit: strings(&["/bin/sh", "-c", "echo $WHICH"]),
            ..Default::default()
        },
        Duration::from_secs(90),
    );
    r.expect("run");
    assert_eq!(out, "docker-meaning\n");
    // (With its untagged parents: `Docker::remove_image` keeps them, as S2I does, and the test
    // must leave nothing behind. The name is read the same way.)
    let prune = s2i_docker::ops::image::ImageRemoveOptions::default();
    ctx.engine.image_remove(&tag, &prune).expect("remove");
    assert_eq!(
        ctx.docker
            .get_image_id(&format!("localhost/{tag}"))
            .unwrap(),
        other,
        "the other image stays"
    );
    // Gone in Docker's meaning. Podman's own lookup then finds `localhost/name:1`, as Podman
    // users expect for images of its CLI (Docker has no such lookup).
    match ctx.docker.get_image_id(&tag) {
        Ok(id) => {
            assert!(ctx.podman, "found {id} after its removal");
            assert_eq!(id, other);
        }
        Err(e) => {
            assert!(!ctx.podman, "{e:?}");
            assert!(e.is_not_found(), "{e:?}");
        }
    }
}

/// S2I issue #1062: a build hung against Podman's socket. Attach before start, streaming in and
/// out, and the wait must all end, however the container treats its input.
#[test]
fn runs_do_not_hang() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-run"));
    ctx.build(&base, "");
    let limit = Duration::from_secs(120);
    let run = |script: &str, input: Vec<u8>| {
        ctx.run(
            RunContainerOptions {
                image: base.clone(),
                command_explicit: strings(&["/bin/sh", "-c", script]),
                stdin: Some(Box::new(Cursor::new(input))),
                ..Default::default()
            },
            limit,
        )
    };
    // Reads all of its input.
    let (r, out, _) = run("wc -c", vec![b'x'; 1 << 20]);
    r.expect("a container that reads its input");
    assert_eq!(out.trim(), "1048576");
    // Exits at once without reading a big input. Podman then resets the connection, often
    // complains on stderr, and sometimes loses the output; the caller gets it all, and only it.
    // (Docker holds input it cannot deliver for 20-30 s before it breaks the pipe, so it gets
    // an input that fits in the socket buffers.)
    let unread = if ctx.podman { 8 << 20 } else { 128 << 10 };
    for _ in 0..5 {
        let (r, out, err) = run("echo done; echo on stderr >&2", vec![b'x'; unread]);
        r.expect("a container that ignores its input succeeds");
        assert_eq!((out.as_str(), err.as_str()), ("done\n", "on stderr\n"));
    }
    let (r, _, _) = run("exit 3", vec![b'x'; unread]);
    let e = r.unwrap_err();
    assert_eq!(e.exit_code(), Some(3), "{e:?}");
    // No streams at all.
    let (r, _, _) = ctx.run(
        RunContainerOptions {
            image: base.clone(),
            command_explicit: strings(&["/bin/true"]),
            ..Default::default()
        },
        limit,
    );
    r.expect("a run without input");
}

/// Docker answers an attach without `stream=1` at once; Podman streams anyway and would wait for
/// a stopped container to start again, so the library refuses it there.
#[test]
fn attach_without_stream() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-attach"));
    ctx.build(&base, "");
    let id = ctx.create(&base, &["/bin/true"]);
    ctx.engine.container_start(&id).expect("start");
    ctx.engine
        .container_wait(&id, WaitCondition::NotRunning)
        .expect("wait");
    let options = ContainerAttachOptions {
        stdout: true,
        stderr: true,
        ..Default::default()
    };
    match ctx.engine.container_attach(&id, &options) {
        Err(e) => {
            assert!(ctx.podman, "{e:?}");
            assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        }
        Ok(mut attached) => {
            assert!(!ctx.podman, "Podman cannot attach without stream=1");
            let (tx, rx) = mpsc::channel();
            std::thread::spawn(move || {
                let mut rest = Vec::new();
                let _ = tx.send(attached.reader.read_to_end(&mut rest).map(|_| rest));
            });
            let rest = rx
                .recv_timeout(Duration::from_secs(30))
                .expect("Docker ends such an attach at once")
                .expect("read");
            assert!(rest.is_empty());
        }
    }
}

/// Podman says -1 for a container that never ran, Docker 0.
#[test]
fn waiting_for_a_container_that_never_ran() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-wait"));
    ctx.build(&base, "");
    let id = ctx.create(&base, &["/bin/true"]);
    let waited = ctx
        .engine
        .container_wait(&id, WaitCondition::NotRunning)
        .expect("wait");
    assert_eq!(waited.status_code, 0);
}

/// Podman creates a missing directory on upload; Docker answers 404. Both answer 404 here.
#[test]
fn uploads_into_a_missing_directory_fail() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-upload"));
    ctx.build(&base, "");
    let id = ctx.create(&base, &["/bin/true"]);
    let dir = std::env::temp_dir().join(common::unique_name("s2i-test-diff-upload"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("f.txt"), "x").unwrap();
    let uploaded = ctx.docker.upload_to_container(
        &LocalFileSystem,
        &dir.join("f.txt"),
        "/no/such/dir/f.txt",
        &id,
    );
    let e = uploaded.unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(
        e.to_string()
            .contains("Could not find the file /no/such/dir"),
        "{e}"
    );
    let e = copy::stat(&ctx.engine, &id, "/no").unwrap_err();
    assert!(e.is_not_found(), "nothing was created: {e:?}");
    // Into a directory that exists: fine on both.
    ctx.docker
        .upload_to_container(&LocalFileSystem, &dir.join("f.txt"), "/tmp/f.txt", &id)
        .expect("upload");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Podman's image inspect has no `OnBuild`: its ONBUILD triggers cannot be seen (nor committed).
#[test]
fn onbuild_triggers() {
    let Some(ctx) = ctx() else { return };
    let base = format!("{}:1", common::unique_name("s2i-test-diff-onbuild"));
    ctx.build(&base, "ONBUILD USER root\nONBUILD RUN echo child");
    let triggers = ctx.docker.get_on_build(&base).expect("on-build triggers");
    if ctx.podman {
        // Podman keeps them in the image, but none of its APIs reports them: the S2I check of
        // an ONBUILD USER cannot happen on Podman.
        assert!(triggers.is_empty(), "{triggers:?}");
        assert!(!ctx.docker.is_image_on_build(&base));
    } else {
        assert_eq!(triggers, ["USER root", "RUN echo child"]);
        assert!(ctx.docker.is_image_on_build(&base));
    }
    let id = ctx.create(&base, &["/bin/true"]);
    let repository = format!("{}:1", common::unique_name("s2i-test-diff-onbuild-commit"));
    ctx.cleanup
        .image(&format!("docker.io/library/{repository}"));
    let options = ContainerCommitOptions {
        reference: repository,
        config: Some(ContainerConfig {
            on_build: Some(strings(&["USER root"])),
            ..Default::default()
        }),
        ..Default::default()
    };
    match ctx.engine.container_commit(&id, &options) {
        Err(e) => {
            assert!(ctx.podman, "{e:?}");
            assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        }
        Ok(_) => assert!(!ctx.podman, "Podman cannot commit ONBUILD triggers"),
    }
}

/// Podman reports every pull failure inside a 200 stream; Docker answers an error status. Both
/// read the same. Needs the registry `bash .ci/run` starts (`S2I_TEST_REGISTRY`, user, password).
#[test]
fn pull_failures_read_the_same() {
    let Some(ctx) = ctx() else { return };
    let Some(registry) = common::env_or_skip("S2I_TEST_REGISTRY") else {
        return;
    };
    let auth = s2i_docker::AuthConfig {
        username: std::env::var("S2I_TEST_REGISTRY_USER").unwrap_or_default(),
        password: std::env::var("S2I_TEST_REGISTRY_PASSWORD").unwrap_or_default(),
        server_address: registry.clone(),
        ..Default::default()
    };
    let missing = format!(
        "{registry}/{}:1",
        common::unique_name("s2i-test-diff-missing")
    );
    ctx.cleanup.image(&missing);
    // Without credentials: refused, at once (not retried).
    let anonymous = ctx.docker.clone().with_pull_retry_count(3);
    let e = anonymous.pull_image(&missing).unwrap_err();
    assert!(e.is_unauthorized(), "{}", e.to_string_with_causes());
    assert!(!e.is_not_found(), "{}", e.to_string_with_causes());
    // With them: no such image.
    let authorised = DockerClient::new(Arc::new(ctx.engine.clone()), auth).with_pull_retry_count(0);
    let e = authorised.pull_image(&missing).unwrap_err();
    assert!(e.is_not_found(), "{}", e.to_string_with_causes());
    assert!(!e.is_unauthorized(), "{}", e.to_string_with_causes());
    assert!(!authorised.is_image_in_local_registry(&missing).unwrap());
}
