//! Every endpoint of `EngineClient` against a real engine.
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`), so the same suite
//! runs against Podman's Docker-compatible socket. Without an engine the tests print one line and
//! pass, except under `CI=true`, where a missing engine fails them.
//!
//! Containers and build steps run with network mode `none`: they need no network, and an engine
//! whose bridge is unusable still runs them.
//!
//! Nothing is pulled: the test image is built from a `FROM scratch` context holding the host's
//! static `/bin/busybox`. A guard removes every container and image a test made, on panic too.

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use common::Cleanup;
use s2i_docker::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerConfig, ContainerCreateBody,
    ContainerRemoveOptions, HostConfig,
};
use s2i_docker::ops::copy::CopyToContainerOptions;
use s2i_docker::ops::image::{ImageBuildOptions, ImagePullOptions, ImageRemoveOptions};
use s2i_docker::ops::{copy, stream};
use s2i_docker::{new_engine_api_client, Client, DockerConfig, EngineClient, Error};
use s2i_docker::{Signal, WaitCondition};

/// The tests share one engine and count the process's file descriptors: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// The client for the test engine and a cleanup guard for it, or `None` (after one line) when
/// no engine answers outside CI.
fn engine() -> Option<(EngineClient, Cleanup)> {
    let host = common::engine_host()?;
    let config = DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    };
    let docker = new_engine_api_client(&config).expect("client for the test engine");
    Some((docker, Cleanup::new(&host)))
}

/// A conflict: Docker's 409, or Podman 4's 500 with its text for the same condition (which
/// `is_conflict` knows).
fn assert_conflict(e: &Error, podman_text: &str) {
    assert!(e.is_conflict(), "{e:?}");
    if e.status() != Some(409) {
        assert!(
            e.status() == Some(500) && e.to_string().contains(podman_text),
            "{e:?}"
        );
    }
}

fn tar_of(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, path, *data).expect("tar entry");
    }
    b.into_inner().expect("tar")
}

/// Builds the busybox test image under `tag`; the cleanup guard removes it.
fn build_test_image(cleanup: &Cleanup, tag: &str) {
    let host = common::engine_host().expect("the engine answered");
    common::build_image(&host, cleanup, tag, common::BUILDER_DOCKERFILE);
}

#[test]
fn image_and_container_lifecycle() {
    let _serial = serial();
    let Some((docker, cleanup)) = engine() else {
        return;
    };
    let tag = format!("{}:t1", common::unique_name("s2i-test-engine"));
    build_test_image(&cleanup, &tag);

    // Image inspect, with the raw JSON.
    let (image, raw) = docker
        .image_inspect_with_raw(&tag)
        .expect("inspect the image");
    assert!(image.id.starts_with("sha256:"), "{}", image.id);
    let config = image.config.clone().unwrap_or_default();
    assert_eq!(config.user, "1001");
    assert_eq!(
        config
            .labels
            .unwrap_or_default()
            .get("io.openshift.s2i.scripts-url")
            .map(String::as_str),
        Some("image:///usr/libexec/s2i")
    );
    assert!(raw.starts_with(b"{"));
    // The reply decoded in one pass is what serde_json makes of it.
    let by_serde: s2i_docker::ops::models::ImageInspect =
        serde_json::from_slice(&raw).expect("serde_json decodes the reply");
    assert_eq!(
        s2i_docker::ops::models::ImageInspect::from_json(&raw).expect("from_json"),
        by_serde
    );
    let by_id = s2i_docker::ops::image::inspect(&docker, &image.id).expect("inspect by ID");
    assert_eq!(by_id.id, image.id);

    // Create a container that extracts a tar from stdin and prints to both streams.
    let name = common::unique_name("s2i_engine");
    let body = ContainerCreateBody {
        config: ContainerConfig {
            image: tag.clone(),
            cmd: Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "tar -xf - -C /tmp && cat /tmp/in/hello.txt && echo to-stderr >&2".into(),
            ]),
            open_stdin: true,
            stdin_once: true,
            attach_stdin: true,
            attach_stdout: true,
            attach_stderr: true,
            ..Default::default()
        },
        host_config: HostConfig {
            cap_drop: Some(vec!["kill".into(), "MKNOD".into(), "cap_kill".into()]),
            network_mode: "none".into(),
            shm_size: 67_108_864,
            ..Default::default()
        },
    };
    let created = docker.container_create(&body, &name).expect("create");
    cleanup.container(&created.id);
    assert_eq!(created.id.len(), 64, "{}", created.id);

    // The same name again: a conflict (Podman 4 answers 500 instead of 409).
    let e = docker.container_create(&body, &name).unwrap_err();
    assert_conflict(&e, "already in use");

    // Attach before start, then start, feed stdin, half-close, read the demultiplexed output.
    let attach = ContainerAttachOptions {
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
    };
    let hijacked = docker
        .container_attach(&created.id, &attach)
        .expect("attach");
    let mut reader = hijacked.reader;
    let mut writer = hijacked.writer;
    let output = std::thread::spawn(move || {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let r = stream::demux(&mut reader, &mut out, &mut err);
        (out, err, r)
    });
    docker.container_start(&created.id).expect("start");
    let input = tar_of(&[("in/hello.txt", b"hello from stdin\n", 0o644)]);
    writer.write_all(&input).expect("write stdin");
    writer.close_write().expect("half-close");
    let (out, err, r) = output.join().expect("reader thread");
    r.expect("demux");
    assert_eq!(String::from_utf8_lossy(&out), "hello from stdin\n");
    assert_eq!(String::from_utf8_lossy(&err), "to-stderr\n");
    drop(writer);

    let waited = docker
        .container_wait(&created.id, WaitCondition::NotRunning)
        .expect("wait");
    assert_eq!(waited.status_code, 0);
    let inspected = docker
        .container_inspect(&created.id)
        .expect("inspect container");
    let state = inspected.state.expect("state");
    assert_eq!(state.status, "exited");
    assert_eq!(state.exit_code, 0);
    // Docker echoes `CAP_KILL`; Podman lists its own defaults too, without the prefix.
    let dropped = inspected
        .host_config
        .and_then(|h| h.cap_drop)
        .unwrap_or_default();
    for cap in ["KILL", "MKNOD"] {
        assert!(
            dropped.iter().any(|d| d.trim_start_matches("CAP_") == cap),
            "{cap} not dropped: {dropped:?}"
        );
    }

    // Killing a stopped container is a conflict.
    let e = docker
        .container_kill(&created.id, Signal::Kill)
        .unwrap_err();
    assert_conflict(&e, "state improper");

    // Copy into the stopped container and back out.
    let upload = tar_of(&[("up.txt", b"uploaded bytes", 0o640)]);
    docker
        .copy_to_container(
            &created.id,
            "/tmp",
            &mut &upload[..],
            &CopyToContainerOptions::default(),
        )
        .expect("copy to container");
    let (mut archive, stat) = docker
        .copy_from_container(&created.id, "/tmp/up.txt")
        .expect("copy from container");
    assert_eq!(stat.name, "up.txt");
    assert_eq!(stat.size, 14);
    let mut tar_bytes = Vec::new();
    archive
        .read_to_end(&mut tar_bytes)
        .expect("read the archive");
    let mut entries = tar::Archive::new(&tar_bytes[..]);
    let mut found = HashMap::new();
    for entry in entries.entries().expect("tar entries") {
        let mut entry = entry.expect("tar entry");
        let path = entry.path().expect("path").display().to_string();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("entry data");
        found.insert(path, data);
    }
    assert_eq!(
        found.get("up.txt").map(Vec::as_slice),
        Some(&b"uploaded bytes"[..])
    );
    let head = copy::stat(&docker, &created.id, "/tmp/in").expect("HEAD archive");
    assert_eq!(head.name, "in");
    assert!(head.mode & (1 << 31) != 0, "a directory: {:o}", head.mode);
    let e = docker
        .copy_from_container(&created.id, "/no/such/path")
        .map(|_| ())
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    // Docker refuses a missing directory; Podman 4 would create it, the client asks first.
    let e = docker
        .copy_to_container(
            &created.id,
            "/no/such/dir",
            &mut &upload[..],
            &CopyToContainerOptions::default(),
        )
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(copy::stat(&docker, &created.id, "/no")
        .unwrap_err()
        .is_not_found());

    // Commit with a new command, then check the image.
    let committed_tag = format!("{}:v1", common::unique_name("s2i-test-commit"));
    cleanup.image(&committed_tag);
    let commit = ContainerCommitOptions {
        reference: committed_tag.clone(),
        comment: "committed by the test".into(),
        author: "s2i-docker tests".into(),
        config: Some(ContainerConfig {
            cmd: Some(vec!["/bin/echo".into(), "committed".into()]),
            env: Some(vec!["A=1".into()]),
            user: "1001".into(),
            ..Default::default()
        }),
    };
    let id = docker
        .container_commit(&created.id, &commit)
        .expect("commit");
    // `sha256:<hex>` from both (Podman answers the bare hex).
    assert!(
        id.id.starts_with("sha256:") && id.id.len() == 71,
        "{}",
        id.id
    );
    let committed = docker
        .image_inspect_with_raw(&committed_tag)
        .expect("inspect commit")
        .0;
    assert_eq!(committed.id, id.id);
    // Podman 4 ignores the config body of `POST /commit` (podman issue 13770); the client
    // sends it as `changes` too.
    let cc = committed.config.unwrap_or_default();
    assert_eq!(
        cc.cmd,
        Some(vec!["/bin/echo".to_string(), "committed".to_string()])
    );
    assert!(cc.env.unwrap_or_default().contains(&"A=1".to_string()));
    assert_eq!(cc.user, "1001");
    let e = docker
        .container_commit(
            &created.id,
            &ContainerCommitOptions {
                reference: format!("x@sha256:{}", "a".repeat(64)),
                ..Default::default()
            },
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "refusing to create a tag with a digest reference"
    );

    // A running container: kill it, its wait reports the signal.
    let sleeper = ContainerCreateBody {
        config: ContainerConfig {
            image: tag.clone(),
            cmd: Some(vec!["/bin/sleep".into(), "60".into()]),
            ..Default::default()
        },
        host_config: HostConfig {
            network_mode: "none".into(),
            ..Default::default()
        },
    };
    let running = docker
        .container_create(&sleeper, "")
        .expect("create sleeper");
    cleanup.container(&running.id);
    docker.container_start(&running.id).expect("start sleeper");
    // Starting it again is not an error (304).
    docker.container_start(&running.id).expect("start twice");
    let e = docker
        .container_remove(&running.id, &ContainerRemoveOptions::default())
        .unwrap_err();
    assert_conflict(&e, "running");
    docker
        .container_kill(&running.id, Signal::Kill)
        .expect("kill");
    let waited = docker
        .container_wait(&running.id, WaitCondition::NotRunning)
        .expect("wait sleeper");
    assert_eq!(waited.status_code, 137);

    // Remove both containers and both images; they are gone afterwards.
    let v = ContainerRemoveOptions {
        remove_volumes: true,
        force: false,
    };
    for c in [&created.id, &running.id] {
        docker.container_remove(c, &v).expect("remove container");
        let e = docker.container_inspect(c).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }
    for i in [&committed_tag, &tag] {
        let deleted = docker
            .image_remove(i, &ImageRemoveOptions::default())
            .expect("remove image");
        assert!(!deleted.is_empty());
        let e = docker.image_inspect_with_raw(i).unwrap_err();
        assert!(e.is_not_found(), "{e:?}");
    }
}

#[test]
fn failing_build_reports_the_error_from_the_stream() {
    let _serial = serial();
    let Some((docker, cleanup)) = engine() else {
        return;
    };
    let tag = format!("{}:bad", common::unique_name("s2i-test-bad"));
    cleanup.image(&tag);
    let context = tar_of(&[("Dockerfile", b"FROM scratch\nCOPY missing-file /x\n", 0o644)]);
    let options = ImageBuildOptions {
        tags: vec![tag],
        remove: true,
        force_remove: true,
        no_cache: true,
        ..Default::default()
    };
    let output = docker
        .image_build(&mut &context[..], &options)
        .expect("POST /build");
    let mut log = Vec::new();
    let e = stream::copy_checked(output, &mut log).unwrap_err();
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
    assert!(e.to_string().contains("missing-file"), "{e}");
    // Docker says `Step 1/2`, Podman `STEP 1/2`.
    let log = String::from_utf8_lossy(&log).to_lowercase();
    assert!(log.contains("step 1/2"), "{log}");
}

#[test]
fn errors_of_the_engine_and_of_the_client() {
    let _serial = serial();
    let Some((docker, _)) = engine() else {
        return;
    };
    let version = docker.server_version().expect("version");
    assert!(!version.api_version.is_empty() && !version.version.is_empty());
    let ping = docker.ping().expect("ping");
    assert!(!ping.api_version.is_empty());
    let in_use = docker.api_version().expect("negotiated version");
    assert!(in_use.starts_with("1."), "{in_use}");

    // 404s from the daemon, and the client-side equivalents that send nothing.
    let e = docker
        .image_inspect_with_raw("s2i-docker-test-no-such-image:none")
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(e.to_string().contains("No such image"), "{e}");
    let e = docker.image_inspect_with_raw("").unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let e = docker
        .container_inspect("s2i-docker-test-no-such-container")
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    let e = docker
        .container_attach(
            "s2i-docker-test-no-such-container",
            &ContainerAttachOptions {
                stream: true,
                stdout: true,
                ..Default::default()
            },
        )
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert!(
        e.to_string()
            .contains("unable to upgrade to tcp, received 404"),
        "{e}"
    );
    for e in [
        docker.container_start("").unwrap_err(),
        docker
            .container_wait("", WaitCondition::NotRunning)
            .unwrap_err(),
        docker.container_kill("", Signal::Kill).unwrap_err(),
        docker.copy_from_container("", "/").map(|_| ()).unwrap_err(),
    ] {
        assert_eq!(
            e.to_string(),
            "invalid container name or ID: value is empty"
        );
    }

    // Pulls: an invalid reference never leaves the client; an unreachable registry is a 500.
    let e = docker
        .image_pull("Not/A/Valid:Ref:", &ImagePullOptions::default())
        .map(|_| ())
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    let result = docker
        .image_pull(
            "127.0.0.1:1/s2i-docker-test/nothing:x",
            &ImagePullOptions::default(),
        )
        .and_then(|body| stream::consume(body, |_| {}));
    let e = result.unwrap_err();
    assert!(e.to_string().contains("127.0.0.1:1"), "{e}");
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

#[test]
fn concurrent_pings_share_one_client() {
    let _serial = serial();
    let Some((docker, _)) = engine() else {
        return;
    };
    let before = open_fds();
    {
        let docker = docker.with_timeout(Duration::from_secs(30));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let docker = docker.clone();
                std::thread::spawn(move || {
                    let mut errors = 0;
                    for _ in 0..500 {
                        if docker.ping().is_err() {
                            errors += 1;
                        }
                    }
                    errors
                })
            })
            .collect();
        let errors: usize = threads.into_iter().map(|t| t.join().expect("thread")).sum();
        assert_eq!(errors, 0);
    }
    drop(docker);
    // Kept-alive connections close with the last clone of the client.
    let after = open_fds();
    assert!(
        after <= before,
        "file descriptors: {before} before, {after} after"
    );
}

#[test]
fn cancelled_calls_fail_without_harming_the_client() {
    let _serial = serial();
    let Some((docker, _)) = engine() else {
        return;
    };
    let cancel = s2i_docker::Cancel::new();
    let cancellable = docker.with_cancel(cancel.clone());
    cancellable.ping().expect("before cancel");
    cancel.cancel();
    assert!(cancel.is_cancelled());
    let e = cancellable.ping().unwrap_err();
    assert!(e.is_cancelled(), "{e:?}");
    docker.ping().expect("other clones are not affected");
}

/// The CLI layout of TLS files (`ca.pem`, `cert.pem`, `key.pem` in one directory) against the TLS
/// proxy that `.ci/run` puts in front of the engine (`S2I_TEST_TLS_HOST`, `S2I_TEST_TLS_CERT_PATH`).
#[test]
fn tls_engine_from_a_certificate_directory() {
    let _serial = serial();
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let (Some(host), Some(dir)) = (var("S2I_TEST_TLS_HOST"), var("S2I_TEST_TLS_CERT_PATH")) else {
        assert!(
            var("CI").as_deref() != Some("true"),
            "S2I_TEST_TLS_HOST/S2I_TEST_TLS_CERT_PATH unset under CI"
        );
        println!("skipped: no TLS engine (S2I_TEST_TLS_HOST, S2I_TEST_TLS_CERT_PATH)");
        return;
    };
    let dir = PathBuf::from(dir);
    let config = DockerConfig {
        endpoint: host,
        cert_file: dir.join("cert.pem"),
        key_file: dir.join("key.pem"),
        ca_file: dir.join("ca.pem"),
        use_tls: false,
        tls_verify: true,
        ..Default::default()
    };
    let ping = |c: &DockerConfig| new_engine_api_client(c).and_then(|d| d.ping().map(|_| d));
    if !cfg!(feature = "tls") {
        assert!(ping(&config).is_err(), "TLS without the `tls` feature");
        return;
    }
    let docker = ping(&config).expect("ping over TLS");
    assert!(!docker
        .server_version()
        .expect("version over TLS")
        .version
        .is_empty());
    let e = docker
        .image_inspect_with_raw("s2i-docker-test-no-such-image:tls")
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");

    // `DOCKER_TLS` alone: no verification of the daemon, so a missing CA file does not matter.
    let unverified = DockerConfig {
        use_tls: true,
        tls_verify: false,
        ca_file: dir.join("no-such-ca.pem"),
        ..config.clone()
    };
    ping(&unverified).expect("TLS without verification");

    // A CA that did not sign the daemon's certificate: refused.
    if let Some(wrong) = var("S2I_TEST_TLS_WRONG_CA") {
        let wrong_ca = DockerConfig {
            ca_file: PathBuf::from(wrong),
            ..config.clone()
        };
        assert!(ping(&wrong_ca).is_err(), "a wrong CA was accepted");
    }
    // Certificate files that do not exist are left out; the proxy wants one: refused.
    let no_client_cert = DockerConfig {
        cert_file: dir.join("no-such-cert.pem"),
        key_file: dir.join("no-such-key.pem"),
        ..config.clone()
    };
    assert!(
        ping(&no_client_cert).is_err(),
        "no client certificate, yet accepted"
    );
}
