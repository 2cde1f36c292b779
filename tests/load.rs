//! Load and soak against a real engine: many calls on one shared client from many threads, many
//! runs in a row, many runs at once. Each test prints its figures (calls, errors, open file
//! descriptors, resident memory, seconds) and asserts that nothing leaks: no error, the file
//! descriptors back to their count before the client existed, bounded memory growth (`VmRSS`,
//! and for the mixed calls the peak `VmHWM` too), no container left.
//!
//! Ignored in ordinary runs; `.ci/run` runs them once, in release mode, one at a time:
//!
//! ```text
//! cargo test --release --all-features --test load -- --ignored --test-threads=1 --nocapture
//! ```
//!
//! Memory is read from `/proc/self/status`: the growth of `VmRSS` between a point after a warm
//! up (the allocator's per-thread arenas and the engine's first answers are in place) and the
//! end, and the peak `VmHWM` of that phase (reset at its start through `/proc/self/clear_refs`). Nothing is pulled: the image is built from the host's
//! static busybox, as the other engine tests build it.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use common::Cleanup;
use s2i_docker::docker::reap::Creator;
use s2i_docker::ops::container::{
    ContainerConfig, ContainerCreateBody, ContainerListOptions, ContainerRemoveOptions, HostConfig,
};
use s2i_docker::{
    new_engine_api_client, AuthConfig, Client, Docker, DockerClient, DockerConfig, EngineClient,
    RunContainerOptions, CREATED_BY_LABEL,
};

const MIB: u64 = 1024 * 1024;

fn engine_client(host: &str) -> EngineClient {
    let config = DockerConfig {
        endpoint: host.to_string(),
        ..Default::default()
    };
    new_engine_api_client(&config).expect("client for the test engine")
}

/// Builds the busybox test image under a new tag, through requests of its own (before any
/// figure is taken); the cleanup guard removes the image.
fn build_test_image(host: &str, cleanup: &Cleanup) -> String {
    let tag = format!("{}:1", common::unique_name("s2i-test-load"));
    common::build_image(host, cleanup, &tag, common::BUILDER_DOCKERFILE);
    tag
}

/// The number of open file descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .expect("/proc/self/fd")
        .count()
}

/// The number of open file descriptors once it is back to `expected`, or after 5 s: threads
/// that end after their call returned (a run's wait reader) may hold a connection a moment.
fn fds_back_to(expected: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let n = open_fds();
        if n == expected || Instant::now() > deadline {
            return n;
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A `kB` field of `/proc/self/status` (`VmRSS`, `VmHWM`), in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"))
        * 1024
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / MIB as f64)
}

/// Resets `VmHWM` to the current `VmRSS` (`5` into `/proc/self/clear_refs`, Linux 4.0 and
/// later), so that the peak after a phase is that phase's own; where that is refused, the peak
/// stays the process's.
fn reset_peak() {
    if let Err(e) = std::fs::write("/proc/self/clear_refs", "5") {
        println!("  (VmHWM not reset: {e})");
    }
}

/// Memory and descriptors at one point.
#[derive(Clone, Copy)]
struct Figures {
    rss: u64,
    hwm: u64,
    fds: usize,
}

fn figures() -> Figures {
    Figures {
        rss: status_bytes("VmRSS"),
        hwm: status_bytes("VmHWM"),
        fds: open_fds(),
    }
}

/// Prints one test's figures and checks the memory growth against `limit`.
fn report(what: &str, calls: usize, errors: usize, before: Figures, after: Figures, secs: f64) {
    let growth = after.rss.saturating_sub(before.rss);
    println!(
        "{what}: {calls} calls, {errors} errors, {secs:.1} s; fds {} before, {} after; \
         VmRSS {} before, {} after (growth {}); VmHWM {} before, {} after",
        before.fds,
        after.fds,
        mib(before.rss),
        mib(after.rss),
        mib(growth),
        mib(before.hwm),
        mib(after.hwm),
    );
}

/// The containers, running or not, that this process created through `run_container`.
fn containers_of_this_process(docker: &EngineClient) -> Vec<String> {
    let options = ContainerListOptions {
        all: true,
        labels: vec![format!("{CREATED_BY_LABEL}={}", Creator::current())],
    };
    let listed = docker.container_list(&options).expect("list containers");
    listed.into_iter().map(|c| c.id).collect()
}

/// One call of the mix: `i % 8` of 0..=3 a ping, 4..=6 an image inspect, 7 a container create
/// and its removal. Containers whose removal fails are left to the cleanup guard.
fn mixed_call(docker: &EngineClient, tag: &str, i: usize, cleanup: &Cleanup) -> bool {
    match i % 8 {
        0..=3 => docker.ping().is_ok(),
        4..=6 => docker.image_inspect_with_raw(tag).is_ok(),
        _ => {
            let body = ContainerCreateBody {
                config: ContainerConfig {
                    image: tag.to_string(),
                    cmd: Some(vec!["/bin/true".into()]),
                    ..Default::default()
                },
                host_config: HostConfig {
                    network_mode: "none".into(),
                    ..Default::default()
                },
            };
            let name = common::unique_name("s2i_load");
            let Ok(created) = docker.container_create(&body, &name) else {
                cleanup.container(&name);
                return false;
            };
            let options = ContainerRemoveOptions {
                force: true,
                remove_volumes: true,
            };
            let removed = docker.container_remove(&created.id, &options).is_ok();
            if !removed {
                cleanup.container(&created.id);
            }
            removed
        }
    }
}

/// Runs `calls` mixed calls on each of `threads` threads sharing `docker`; the errors.
fn mixed_load(
    docker: &EngineClient,
    tag: &str,
    threads: usize,
    calls: usize,
    cleanup: &Cleanup,
) -> usize {
    let errors = AtomicUsize::new(0);
    thread::scope(|s| {
        for t in 0..threads {
            let errors = &errors;
            s.spawn(move || {
                for i in 0..calls {
                    if !mixed_call(docker, tag, t + i, cleanup) {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    errors.into_inner()
}

#[test]
#[ignore = "load: run by .ci/run with --ignored, in release mode"]
fn one_client_shared_by_8_threads_for_8000_mixed_calls() {
    let Some(host) = common::engine_host() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let tag = build_test_image(&host, &cleanup);
    let (threads, calls) = (8, 1000);

    let fds_without_client = open_fds();
    let docker = engine_client(&host);
    // Warm up: the allocator's arenas for 8 threads, the pool's connections.
    let warm_errors = mixed_load(&docker, &tag, threads, 16, &cleanup);
    assert_eq!(warm_errors, 0, "errors while warming up");
    reset_peak();
    let before = figures();
    let started = Instant::now();
    let errors = mixed_load(&docker, &tag, threads, calls, &cleanup);
    let secs = started.elapsed().as_secs_f64();
    let during = figures();
    drop(docker);
    let after = Figures {
        fds: fds_back_to(fds_without_client),
        ..during
    };
    report(
        "8 threads x 1000 mixed calls on one EngineClient",
        threads * calls,
        errors,
        Figures {
            fds: fds_without_client,
            ..before
        },
        after,
        secs,
    );
    println!(
        "  (fds with the client and its pooled connections: {} after the warm up, {} after the load)",
        before.fds, during.fds
    );
    assert_eq!(errors, 0);
    assert_eq!(after.fds, fds_without_client, "file descriptors leaked");
    let growth = during.rss.saturating_sub(before.rss);
    assert!(growth < 4 * MIB, "VmRSS grew by {}", mib(growth));
    let peak_growth = during.hwm.saturating_sub(before.hwm);
    assert!(peak_growth < 4 * MIB, "VmHWM grew by {}", mib(peak_growth));
}

/// A `run_container` of busybox `true`.
fn run_true(d: &DockerClient, tag: &str) -> s2i_docker::Result<()> {
    d.run_container(RunContainerOptions {
        image: tag.to_string(),
        command_explicit: vec!["/bin/true".into()],
        network_mode: "none".into(),
        ..Default::default()
    })
}

#[test]
#[ignore = "soak: run by .ci/run with --ignored, in release mode"]
fn run_container_200_times_in_a_row() {
    let Some(host) = common::engine_host() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let tag = build_test_image(&host, &cleanup);
    let runs = 200;

    let fds_without_client = open_fds();
    let docker = engine_client(&host);
    let d = DockerClient::new(Arc::new(docker.clone()), AuthConfig::default());
    for _ in 0..10 {
        run_true(&d, &tag).expect("warm-up run");
    }
    reset_peak();
    let before = figures();
    let started = Instant::now();
    let mut errors = Vec::new();
    for _ in 0..runs {
        if let Err(e) = run_true(&d, &tag) {
            errors.push(e.to_string());
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let during = figures();
    let left = containers_of_this_process(&docker);
    drop((d, docker));
    let after = Figures {
        fds: fds_back_to(fds_without_client),
        ..during
    };
    report(
        "200 run_container calls in a row",
        runs,
        errors.len(),
        Figures {
            fds: fds_without_client,
            ..before
        },
        after,
        secs,
    );
    println!("  containers left: {}", left.len());
    for id in &left {
        cleanup.container(id);
    }
    assert!(errors.is_empty(), "{errors:?}");
    assert!(left.is_empty(), "containers left: {left:?}");
    assert_eq!(after.fds, fds_without_client, "file descriptors leaked");
    let growth = during.rss.saturating_sub(before.rss);
    assert!(growth < 2 * MIB, "VmRSS grew by {}", mib(growth));
}

#[test]
#[ignore = "load: run by .ci/run with --ignored, in release mode"]
fn run_container_16_at_once_on_one_client() {
    let Some(host) = common::engine_host() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let tag = build_test_image(&host, &cleanup);
    let runs = 16;

    let fds_without_client = open_fds();
    let docker = engine_client(&host);
    let d = DockerClient::new(Arc::new(docker.clone()), AuthConfig::default());
    reset_peak();
    let before = figures();
    let started = Instant::now();
    let errors = Mutex::new(Vec::new());
    thread::scope(|s| {
        for _ in 0..runs {
            s.spawn(|| {
                if let Err(e) = run_true(&d, &tag) {
                    errors.lock().unwrap().push(e.to_string());
                }
            });
        }
    });
    let secs = started.elapsed().as_secs_f64();
    let errors = errors.into_inner().unwrap();
    let during = figures();
    let left = containers_of_this_process(&docker);
    drop((d, docker));
    let after = Figures {
        fds: fds_back_to(fds_without_client),
        ..during
    };
    report(
        "16 run_container calls at once on one client",
        runs,
        errors.len(),
        Figures {
            fds: fds_without_client,
            ..before
        },
        after,
        secs,
    );
    println!("  containers left: {}", left.len());
    for id in &left {
        cleanup.container(id);
    }
    assert!(errors.is_empty(), "{errors:?}");
    assert!(left.is_empty(), "containers left: {left:?}");
    assert_eq!(after.fds, fds_without_client, "file descriptors leaked");
}
