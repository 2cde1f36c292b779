//! A private Podman service killed (`SIGKILL`) and restarted on the same socket in the middle
//! of a run: the run must return an error, not hang, and leave no container.
//!
//! What the library guarantees here: the service's containers survive the service (`conmon`
//! keeps them), and the run's kill fails while the service is down; the removal (forced, since
//! the kill failed) is tried again for `REMOVE_WINDOW` (10 s), so it succeeds once the service
//! answers again. The test restarts the service one second after killing it, and a service
//! answers within a few seconds of its start: well within the window.
//!
//! Only as root with `podman` on `PATH` (otherwise it prints a skip line, and fails under
//! `CI=true`). The service is this test's own child, on a socket and with a storage of its own
//! (`--root`, `--runroot` in a temporary directory) and no network for the container: the
//! Podman service of `.ci/run` and the other tests' containers are never touched (a service
//! killed while it shares the storage can disturb the other users of that storage).

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s2i_docker::{Docker, DockerClient, RunContainerOptions};

use crate::common::{self, raw_request, Cleanup};
use crate::faults::setup::{self, Captured, BOUND};

/// A Podman service of this test's own, on `dir/podman.sock`; killed when dropped.
struct Service {
    dir: PathBuf,
    socket: PathBuf,
    child: Option<Child>,
}

impl Service {
    fn start(dir: &Path) -> Service {
        let mut service = Service {
            dir: dir.to_path_buf(),
            socket: dir.join("podman.sock"),
            child: None,
        };
        service.spawn();
        service
    }

    /// `podman` with this service's storage.
    fn podman(&self) -> Command {
        let mut podman = Command::new("podman");
        podman
            .arg("--root")
            .arg(self.dir.join("r"))
            .arg("--runroot")
            .arg(self.dir.join("rr"));
        podman
    }

    fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// Starts the service and waits (up to 30 s) until it answers `/_ping`.
    fn spawn(&mut self) {
        let _ = std::fs::remove_file(&self.socket);
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.join("podman.log"))
            .expect("open the service's log");
        let child = self
            .podman()
            .args(["system", "service", "--time=0", &self.host()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start podman system service");
        self.child = Some(child);
        let until = Instant::now() + Duration::from_secs(30);
        while !matches!(raw_request(&self.host(), "GET", "/_ping", None, &[]), Ok(r) if r.status == 200)
        {
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > until {
                let log = std::fs::read_to_string(self.dir.join("podman.log"));
                panic!("the Podman service did not answer: {log:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kills the service (its containers live on, under `conmon`).
    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
        // Podman mounts its storage's `overlay` directory (and a container's `shm`) on itself.
        let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
        let prefix = self.dir.to_string_lossy().into_owned();
        let mut points: Vec<&str> = mounts
            .lines()
            .filter_map(|l| l.split(' ').nth(1))
            .filter(|p| p.starts_with(&prefix))
            .collect();
        points.sort_by_key(|p| std::cmp::Reverse(p.len()));
        for point in points {
            let _ = Command::new("umount").args(["-l", point]).status();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Whether this test can run here: as root, with `podman` on `PATH`.
fn can_run_podman() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let podman = Command::new("podman")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if root && podman {
        return true;
    }
    let why = "a private Podman service needs root and podman on PATH";
    assert!(
        !common::in_ci(),
        "{why}; with CI=true the engine tests never skip"
    );
    eprintln!("skipping: {why}");
    false
}

/// Imports `/bin/busybox` alone as `name` (the binary at `/busybox`) into the service's storage.
fn import_busybox(service: &Service, name: &str) {
    let tar = Command::new("tar")
        .args(["-C", "/bin", "-c", "busybox"])
        .output()
        .expect("tar busybox");
    let mut import = service
        .podman()
        .args(["import", "-", name])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("podman import");
    let mut stdin = import.stdin.take().expect("stdin");
    std::io::Write::write_all(&mut stdin, &tar.stdout).expect("feed podman import");
    drop(stdin);
    assert!(import.wait().is_ok_and(|s| s.success()), "podman import");
}

/// Waits up to `limit` for `text` in `output`.
fn wait_for(output: &Captured, text: &str, limit: Duration) {
    let until = Instant::now() + limit;
    while !output.text().contains(text) {
        assert!(Instant::now() < until, "no {text:?} in {:?}", output.text());
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn podman_service_killed_mid_run_fails_the_run_and_the_container_is_removed() {
    if !can_run_podman() {
        return;
    }
    // Short: Podman refuses a run root path longer than 50 characters.
    let dir = PathBuf::from(format!("/tmp/s2i-fp-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the service's directory");
    let mut service = Service::start(&dir);
    let host = service.host();
    let cleanup = Cleanup::new(&host);
    let image = format!("{}:latest", common::unique_name("s2i-test-faults-podman"));
    cleanup.image(&image);
    import_busybox(&service, &image);

    let docker = DockerClient::new(Arc::new(setup::client(&host)), Default::default())
        .with_output_grace(Duration::from_secs(1));
    let output = Captured::default();
    let opts = RunContainerOptions {
        image: image.clone(),
        command_explicit: ["/busybox", "sh", "-c", "echo started; sleep 8; echo done"]
            .map(String::from)
            .to_vec(),
        stdout: Some(Box::new(output.clone())),
        stderr: Some(Box::new(output.clone())),
        network_mode: "none".into(),
        ..Default::default()
    };
    let run = std::thread::spawn(move || setup::within(BOUND, move || docker.run_container(opts)));
    wait_for(&output, "started", Duration::from_secs(20));
    service.kill();
    std::thread::sleep(Duration::from_secs(1));
    service.spawn();
    let (result, took) = run.join().expect("the run panicked");
    let e = result.expect_err("the run succeeded although its service was killed");
    eprintln!("the run failed after {took:?}: {e:?}");
    // Its connections were cut: an i/o or protocol error, whichever call noticed first.
    assert!(
        setup::is_transport(&e),
        "not an i/o or protocol error: {e:?}"
    );
    assert!(!output.text().contains("done"), "{}", output.text());

    let left = setup::containers_of(&host, &image);
    for line in &left {
        cleanup.container(line.split(' ').next().unwrap_or_default());
    }
    assert!(
        left.is_empty(),
        "containers left behind by the run: {left:?}"
    );
}
