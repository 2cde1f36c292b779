//! `ssh://` engines against a real sshd: `bash .ci/run` starts one on 127.0.0.1 whose "remote"
//! is this machine's Docker engine, and names it in `S2I_TEST_SSH_HOST` (an alias of the system
//! ssh configuration), with two aliases that must fail: `S2I_TEST_SSH_WRONG_HOST_KEY` (its known
//! host key is another one) and `S2I_TEST_SSH_NO_DOCKER` (its key's forced command runs the remote
//! command with a `PATH` lacking `docker`).
//!
//! Covered: ping and version, `DOCKER_HOST=ssh://...` through `get_default_docker_config`, attach
//! with the standard input half-closed, upload and download, the errors (with ssh's own words) of
//! a refused host key, a refused user, a remote without docker and a host that never answers, and
//! that no ssh child is left behind on any of these paths.
//!
//! Without `S2I_TEST_SSH_HOST` the tests print one line and pass, except under `CI=true`, where
//! they fail. One test at a time: they count this process's ssh children.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use common::Cleanup;
use s2i_docker::ops::container::{
    ContainerAttachOptions, ContainerConfig, ContainerCreateBody, HostConfig,
};
use s2i_docker::ops::copy::CopyToContainerOptions;
use s2i_docker::ops::image::ImageBuildOptions;
use s2i_docker::ops::stream;
use s2i_docker::transport::{Body, Host, Request, Timeouts, Transport};
use s2i_docker::{new_engine_api_client, Client, DockerConfig, EngineClient, Error, WaitCondition};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Set in the child process of [`docker_host_ssh_from_the_environment`].
const PROBE: &str = "S2I_TEST_SSH_ENV_PROBE";

fn client(host: &str) -> EngineClient {
    let config = DockerConfig {
        endpoint: host.to_string(),
        ..Default::default()
    };
    new_engine_api_client(&config).expect("client for an ssh:// host")
}

/// The alias part of `ssh://ALIAS`.
fn alias(host: &str) -> &str {
    host.strip_prefix("ssh://").expect("an ssh:// host")
}

/// The pids of this process's children named `ssh` (zombies included).
fn ssh_children() -> Vec<u32> {
    let me = std::process::id().to_string();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid ...
        let Some((comm, rest)) = stat.rsplit_once(") ") else {
            continue;
        };
        if comm.ends_with("(ssh") && rest.split_whitespace().nth(1) == Some(me.as_str()) {
            found.extend(
                entry
                    .file_name()
                    .to_str()
                    .and_then(|p| p.parse::<u32>().ok()),
            );
        }
    }
    found
}

fn assert_no_ssh_children() {
    // A child is reaped when its connection is dropped, so none may be left, not even a zombie.
    let left = ssh_children();
    assert!(left.is_empty(), "ssh children left behind: {left:?}");
}

/// The first part of every error of a failed ssh, up to its standard error.
fn failed_command(host: &str, args: &str, status: &str) -> String {
    format!(
        "error during connect: {host}: command [ssh -o ConnectTimeout=10 -o BatchMode=yes -T \
         {args}-- {} docker system dial-stdio] has exited with exit status {status}, make sure \
         the URL is valid, and Docker 18.09 or later is installed on the remote host: stderr=",
        host.rsplit_once('@').map_or(alias(host), |(_, a)| a)
    )
}

#[test]
fn ping_and_version_over_ssh() {
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_HOST") else {
        return;
    };
    {
        let docker = client(&host);
        assert_eq!(docker.host().to_string(), host);
        let start = Instant::now();
        let ping = docker.ping().expect("ping over ssh");
        let first = start.elapsed();
        assert!(!ping.api_version.is_empty(), "{ping:?}");
        let version = docker.server_version().expect("version over ssh");
        assert!(!version.version.is_empty(), "{version:?}");
        // Many calls, one kept-alive connection (one ssh) for all of them.
        let mut times = Vec::new();
        for _ in 0..200 {
            let start = Instant::now();
            docker.ping().expect("ping again");
            times.push(start.elapsed());
        }
        times.sort();
        println!(
            "ping over ssh: first (with the ssh handshake) {first:?}, then median of 200 {:?}",
            times[times.len() / 2]
        );
        assert_eq!(ssh_children().len(), 1, "{:?}", ssh_children());
    }
    assert_no_ssh_children();
}

#[test]
fn docker_host_ssh_from_the_environment() {
    if let Some(host) = std::env::var_os(PROBE) {
        // In the child: DOCKER_HOST is the ssh host.
        let host = host.into_string().expect("utf-8");
        let config = s2i_docker::get_default_docker_config();
        assert_eq!(config.endpoint, host);
        let docker = new_engine_api_client(&config).expect("client");
        assert_eq!(docker.host(), &Host::parse(&host, false).expect("host"));
        docker.ping().expect("ping through DOCKER_HOST");
        return;
    }
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_HOST") else {
        return;
    };
    // The variable is set in a child process of this test binary: setting it here would race
    // with the other tests reading the environment.
    let out = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "docker_host_ssh_from_the_environment",
            "--nocapture",
        ])
        .env(PROBE, &host)
        .env("DOCKER_HOST", &host)
        .env_remove("DOCKER_API_VERSION")
        .output()
        .expect("run the probe");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn attach_with_half_close_upload_and_download_over_ssh() {
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_HOST") else {
        return;
    };
    {
        let docker = client(&host);
        let cleanup = Cleanup::new(&host);
        let tag = format!("{}:ssh", common::unique_name("s2i-test-ssh"));
        // The build context goes up through ssh: an upload of its own.
        let context = common::build_context_tar(common::BUILDER_DOCKERFILE, &[]);
        cleanup.image(&tag);
        let options = ImageBuildOptions {
            no_cache: true,
            tags: vec![tag.clone()],
            remove: true,
            force_remove: true,
            network_mode: "none".into(),
            ..Default::default()
        };
        let output = docker
            .image_build(&mut &context[..], &options)
            .expect("POST /build");
        let mut log = Vec::new();
        let built = stream::copy_checked(output, &mut log);
        built.unwrap_or_else(|e| panic!("build: {e}\n{}", String::from_utf8_lossy(&log)));

        // `cat` echoes its input until the half-close ends it.
        let body = ContainerCreateBody {
            config: ContainerConfig {
                image: tag.clone(),
                cmd: Some(vec!["/bin/cat".into()]),
                open_stdin: true,
                stdin_once: true,
                attach_stdin: true,
                attach_stdout: true,
                attach_stderr: true,
                ..Default::default()
            },
            host_config: HostConfig {
                network_mode: "none".into(),
                ..Default::default()
            },
        };
        let created = docker
            .container_create(&body, &common::unique_name("s2i_ssh"))
            .expect("create");
        cleanup.container(&created.id);
        let attach = ContainerAttachOptions {
            stream: true,
            stdin: true,
            stdout: true,
            stderr: true,
        };
        let hijacked = docker
            .container_attach(&created.id, &attach)
            .expect("attach");
        let (mut reader, mut writer) = (hijacked.reader, hijacked.writer);
        let output = std::thread::spawn(move || {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let r = stream::demux(&mut reader, &mut out, &mut err);
            (out, err, r)
        });
        docker.container_start(&created.id).expect("start");
        let input: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&input).expect("write stdin");
        writer.close_write().expect("half-close");
        let (out, err, r) = output.join().expect("reader thread");
        r.expect("demux");
        assert!(out == input, "{} bytes back of {}", out.len(), input.len());
        assert!(err.is_empty(), "{}", String::from_utf8_lossy(&err));
        drop(writer);
        let waited = docker
            .container_wait(&created.id, WaitCondition::NotRunning)
            .expect("wait");
        assert_eq!(waited.status_code, 0);

        // 16 MiB up and back down.
        let data: Vec<u8> = (0..16u32 << 20)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect();
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        b.append_data(&mut h, "big.bin", &data[..])
            .expect("tar entry");
        let upload = b.into_inner().expect("tar");
        let start = Instant::now();
        docker
            .copy_to_container(
                &created.id,
                "/tmp",
                &mut &upload[..],
                &CopyToContainerOptions::default(),
            )
            .expect("copy to container");
        let up = start.elapsed();
        let start = Instant::now();
        let (archive, stat) = docker
            .copy_from_container(&created.id, "/tmp/big.bin")
            .expect("copy from container");
        assert_eq!(stat.size, data.len() as i64);
        let mut entries = tar::Archive::new(archive);
        let mut entry = entries
            .entries()
            .expect("entries")
            .next()
            .expect("one entry")
            .expect("entry");
        let mut back = Vec::new();
        entry.read_to_end(&mut back).expect("entry data");
        let down = start.elapsed();
        assert!(back == data, "{} bytes back of {}", back.len(), data.len());
        println!("16 MiB over ssh: upload {up:?}, download {down:?}");
    }
    assert_no_ssh_children();
}

#[test]
fn a_refused_host_key_says_so() {
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_WRONG_HOST_KEY") else {
        return;
    };
    let e = client(&host).ping().unwrap_err();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    let text = e.to_string();
    assert!(
        text.starts_with(&failed_command(&host, "", "255")),
        "{text}"
    );
    assert!(
        text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED"),
        "{text}"
    );
    assert!(text.ends_with("Host key verification failed."), "{text}");
    assert_no_ssh_children();
}

#[test]
fn a_refused_user_says_so() {
    let _serial = serial();
    let Some(good) = common::env_or_skip("S2I_TEST_SSH_HOST") else {
        return;
    };
    let host = format!("ssh://nobody@{}", alias(&good));
    let e = client(&host).server_version().unwrap_err();
    assert!(
        e.is_connection_error() || matches!(e, Error::Connect { .. }),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(
        text.starts_with(&failed_command(&host, "-l nobody ", "255")),
        "{text}"
    );
    assert!(
        text.ends_with("nobody@127.0.0.1: Permission denied (publickey)."),
        "{text}"
    );
    assert_no_ssh_children();
}

#[test]
fn a_remote_without_docker_says_so() {
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_NO_DOCKER") else {
        return;
    };
    let e = client(&host).ping().unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with(&failed_command(&host, "", "127")),
        "{text}"
    );
    assert!(text.ends_with("docker: not found"), "{text}");
    assert_no_ssh_children();
}

#[test]
fn a_host_that_never_answers_fails_at_the_connect_limit() {
    let _serial = serial();
    if common::env_or_skip("S2I_TEST_SSH_HOST").is_none() {
        return;
    }
    // The kernel completes the TCP handshake for the backlog; nothing ever speaks ssh.
    let silent = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = silent.local_addr().expect("address").port();
    let host = Host::parse(&format!("ssh://127.0.0.1:{port}"), false).expect("host");
    let transport = Transport::new(host, None).expect("transport");
    let request = Request {
        method: "GET",
        target: "/_ping".into(),
        headers: Vec::new(),
        body: Body::Empty,
        timeouts: Timeouts {
            connect: Duration::from_secs(2),
            response: None,
            idle: None,
        },
    };
    let start = Instant::now();
    let e = transport.send(request, None).unwrap_err();
    let took = start.elapsed();
    let text = e.to_string();
    assert!(matches!(e, Error::Connect { .. }), "{e:?}");
    assert!(
        text.contains("-o ConnectTimeout=2 ") && text.contains("timed out"),
        "{text}"
    );
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_secs(10),
        "{took:?}"
    );
    drop(transport);
    assert_no_ssh_children();
}

#[test]
fn no_ssh_child_is_left_behind_on_any_path() {
    let _serial = serial();
    let Some(host) = common::env_or_skip("S2I_TEST_SSH_HOST") else {
        return;
    };
    let docker = client(&host);
    // Concurrent calls: more connections than the pool keeps; the extra ones are closed.
    std::thread::scope(|s| {
        for _ in 0..12 {
            s.spawn(|| {
                for _ in 0..20 {
                    docker.ping().expect("ping");
                }
            });
        }
    });
    assert!(!ssh_children().is_empty());
    // `GET /events` answers its head at once and then streams for as long as it is read: a
    // body dropped unread, and a read cancelled from another thread.
    let transport =
        Transport::new(Host::parse(&host, false).expect("host"), None).expect("transport");
    let events = || Request {
        method: "GET",
        target: "/events".into(),
        headers: Vec::new(),
        body: Body::Empty,
        timeouts: Timeouts {
            connect: Duration::from_secs(10),
            response: Some(Duration::from_secs(30)),
            idle: None,
        },
    };
    let unread = transport.send(events(), None).expect("GET /events");
    assert_eq!(unread.status, 200);
    drop(unread);
    let cancel = s2i_docker::Cancel::new();
    let streaming = transport
        .send(events(), Some(&cancel))
        .expect("GET /events");
    let reading = std::thread::spawn(move || {
        let mut body = streaming.into_body();
        let mut buf = [0u8; 1024];
        loop {
            match body.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(e),
            }
        }
    });
    std::thread::sleep(Duration::from_millis(300));
    cancel.cancel();
    let read = reading.join().expect("reader thread");
    assert!(read.is_err(), "{read:?}");
    drop(transport);
    drop(docker);
    assert_no_ssh_children();
}
