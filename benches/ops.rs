//! The library against a real engine: per-call latency beside a raw-socket floor, and the S2I
//! operations beside the docker CLI doing the same work in the same run.
//!
//! ```text
//! cargo bench --bench ops                    # every mode
//! cargo bench --bench ops -- upload attach   # some modes
//! ```
//!
//! The engine is `S2I_TEST_DOCKER_HOST`, else `DOCKER_HOST`, else the default Unix socket; the
//! docker CLI (`docker` on `PATH`, or `S2I_BENCH_DOCKER_CLI`) is pointed at the same engine.
//!
//! - `ping`, `inspect`: library calls and a hand-written raw loop (keep-alive, request bytes
//!   written by hand, no JSON decoding) in alternating batches; median µs per call and ratio.
//!   `inspect` runs once more beside a raw loop that also decodes each reply with serde_json;
//!   then a raw loop that only reads each reply as JSON (serde_json into `IgnoredAny`: the
//!   least any client that reads the reply does) runs beside the plain raw loop; then the two
//!   parts of the typed call, each beside the raw loop: the library's transport alone (the
//!   reply read whole, not decoded) and the raw loop followed by the library's decode; then the
//!   decode alone is timed (`ImageInspect::from_json` beside `serde_json::from_slice`).
//! - `cycle`: create, start, wait and remove of a container running `true` through the
//!   [`Client`] methods, beside `docker run --rm <image> true`; median ms per cycle.
//! - `upload`, `download`: a 256 MiB file into a created container with
//!   `upload_to_container` and out of it with `download_from_container` (into a counting
//!   sink), beside `docker cp` and a raw-socket floor (a hand-written request, one thread, the
//!   tar of the file in 256 KiB writes; the reply read in 64 KiB reads); median wall times.
//!   Each library transfer runs in a child process of this binary, which reports its peak RSS
//!   (`VmHWM`, what `getrusage` calls `ru_maxrss`).
//! - `attach`: a container writing 1 GiB to stdout (`head -c 1073741824 /dev/zero`), through
//!   `run_container` into a counting writer, beside `docker run --rm ... > /dev/null` and a raw
//!   reader (hand-written upgrade request, 64 KiB reads, no demultiplexing). The engine is the
//!   limit here (it also writes the output to the container's log), so the client's CPU
//!   seconds beside the raw reader's say more than wall times; one more pair runs the library
//!   and the CLI at the same time, which compares them free of the engine's drift.
//!   `S2I_BENCH_ATTACH_MIB` and `S2I_BENCH_ATTACH_ROUNDS` change the size and the number of
//!   rounds.
//!
//! Each side of a comparison runs in every round, in an order that changes from round to round
//! so that no side always runs first or right after the same other side.
//! Wall and CPU times of outside processes (children of this binary, the CLI) are measured
//! from here: wall from spawn to exit, CPU as the growth of what `getrusage(RUSAGE_CHILDREN)`
//! reports for this process (to the microsecond).
//! A table of every figure is printed at the end.
//!
//! Everything created (the busybox image, containers, temporary files) is removed when the run
//! ends, also when a mode fails. Add a mode by writing a function and a line in [`MODES`].

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Instant;

use s2i_docker::archive::LocalFileSystem;
use s2i_docker::ops::container::{ContainerCreateBody, ContainerRemoveOptions};
use s2i_docker::ops::{copy, image, system};
use s2i_docker::transport::{Body as TransportBody, Request, Timeouts, Transport};
use s2i_docker::WaitCondition;
use s2i_docker::{
    new_engine_api_client, AuthConfig, Client, Docker, DockerClient, DockerConfig, EngineClient,
    RunContainerOptions,
};

use support::{
    child_report, median, mib, peak_rss_kib, run_child, self_cpu_secs, thread_cpu_ns, Bench,
    ChildReport, Cli, Counter, Row, TempContainer, TempDir, TempImage, CHILD,
};

/// Calls per latency measurement.
const CALLS: usize = 2000;
/// Batches the calls are split into; the median is over batches.
const BATCHES: usize = 20;
/// Container cycles per side.
const CYCLES: usize = 50;
/// Size of the file uploaded and downloaded.
const TRANSFER_BYTES: u64 = 256 << 20;
/// Rounds per side of uploads and downloads (the engine's pace varies by tens of percent from
/// one transfer to the next on a busy machine; a median of a few would not settle 1.0x).
const TRANSFER_ROUNDS: usize = 9;
/// The peak RSS allowed to a process that uploads or downloads.
const TRANSFER_RSS_KIB: u64 = 16 << 10;
/// The wall time allowed to the library beside `docker cp`.
const TRANSFER_RATIO: f64 = 1.0;
/// The client CPU allowed to an upload beside the raw floor's.
const UPLOAD_CPU_RATIO: f64 = 1.2;
/// Rounds per side of the attach measurement.
const ATTACH_ROUNDS: usize = 2;
/// The wall time allowed to `run_container` beside `docker run`.
const ATTACH_RATIO: f64 = 1.02;

/// A mode's name and function.
type Mode = (&'static str, fn(&Bench));

/// The modes, in the order they run when none is named.
const MODES: &[Mode] = &[
    ("ping", bench_ping),
    ("inspect", bench_inspect),
    ("cycle", bench_cycle),
    ("upload", bench_upload),
    ("download", bench_download),
    ("attach", bench_attach),
];

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(CHILD) {
        return child(&args[1..]);
    }
    let names: Vec<&String> = args.iter().filter(|a| !a.starts_with('-')).collect();
    for n in &names {
        if !MODES.iter().any(|(name, _)| name == n) {
            eprintln!(
                "unknown mode {n:?}; modes: {:?}",
                MODES.iter().map(|m| m.0).collect::<Vec<_>>()
            );
            std::process::exit(2);
        }
    }
    let endpoint = support::endpoint();
    let docker = match client(&endpoint) {
        Ok(d) => d,
        Err(e) => return println!("skipped: {e}"),
    };
    if let Err(e) = system::ping(&docker) {
        return println!("skipped: no engine at {endpoint}: {e}");
    }
    let bench = Bench::new(docker, endpoint);
    let started = Instant::now();
    for (name, run) in MODES {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        println!("{name}:");
        // A failing mode has cleaned up behind itself (guards) and the others still run.
        if panic::catch_unwind(AssertUnwindSafe(|| run(&bench))).is_err() {
            bench.row(Row::failed(name));
        }
    }
    bench.print_table();
    println!("\ntotal {:.0} s", started.elapsed().as_secs_f64());
    // `bench` goes here: the busybox image and anything left of it are removed.
}

fn client(endpoint: &str) -> s2i_docker::Result<EngineClient> {
    new_engine_api_client(&DockerConfig {
        endpoint: endpoint.to_string(),
        ..Default::default()
    })
}

// ---------------------------------------------------------------------------------------------
// ping, inspect: per-call latency beside the raw loop

/// Wall and CPU time of one batch, in µs per call.
fn batch(per_batch: usize, f: &mut dyn FnMut()) -> (f64, f64) {
    let cpu = thread_cpu_ns();
    let t = Instant::now();
    for _ in 0..per_batch {
        f();
    }
    let wall = t.elapsed().as_secs_f64() * 1e6 / per_batch as f64;
    let cpu = (thread_cpu_ns().saturating_sub(cpu)) as f64 / 1e3 / per_batch as f64;
    (wall, cpu)
}

/// The raw side of a comparison, when the engine is on a Unix socket the raw loop can reach.
fn raw_side<'a>(b: &Bench, raw: &'a mut dyn FnMut()) -> Option<&'a mut dyn FnMut()> {
    b.socket.is_some().then_some(raw)
}

/// Runs `lib` and `raw` in alternating batches and reports medians (µs per call) and ratios.
///
/// The engine's latency drifts with the machine's load, so each library batch is paired with
/// the raw batch next to it (their order alternates) and the median of the pairs' ratios is
/// printed beside the ratio of the medians. The client's own CPU time per call is printed too
/// (the ratio of the means, and the median of the pairs' ratios): it is what the library adds,
/// free of the daemon's time.
fn compare(
    b: &Bench,
    mode: &'static str,
    label: &str,
    mut lib: impl FnMut(),
    raw: Option<&mut dyn FnMut()>,
) {
    let per_batch = CALLS / BATCHES;
    let mut raw = raw;
    // Warm up: connections, negotiation, caches.
    for _ in 0..50 {
        lib();
        if let Some(r) = raw.as_mut() {
            r();
        }
    }
    let Some(raw) = raw else {
        let mut walls: Vec<f64> = (0..BATCHES).map(|_| batch(per_batch, &mut lib).0).collect();
        b.row(Row::report(
            mode,
            label,
            format!("{:.1} µs/call", median(&mut walls)),
        ));
        return;
    };
    let (mut lib_wall, mut raw_wall, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lib_cpu, mut raw_cpu, mut cpu_ratios) = (0.0, 0.0, Vec::new());
    for i in 0..BATCHES {
        let (l, r) = if i % 2 == 0 {
            let l = batch(per_batch, &mut lib);
            (l, batch(per_batch, raw))
        } else {
            let r = batch(per_batch, raw);
            (batch(per_batch, &mut lib), r)
        };
        lib_wall.push(l.0);
        raw_wall.push(r.0);
        ratios.push(l.0 / r.0);
        cpu_ratios.push(l.1 / r.1);
        lib_cpu += l.1;
        raw_cpu += r.1;
    }
    let (lm, rm) = (median(&mut lib_wall), median(&mut raw_wall));
    let (lib_cpu, raw_cpu) = (lib_cpu / BATCHES as f64, raw_cpu / BATCHES as f64);
    b.row(
        Row::report(mode, format!("{label} wall"), format!("{lm:.1} µs/call"))
            .vs(format!("raw socket {rm:.1} µs/call"), lm / rm),
    );
    b.row(
        Row::report(mode, format!("{label}, paired batches"), String::new())
            .vs("median of paired ratios".into(), median(&mut ratios)),
    );
    b.row(
        Row::report(mode, "client CPU", format!("{lib_cpu:.1} µs/call")).vs(
            format!("raw socket {raw_cpu:.1} µs/call"),
            lib_cpu / raw_cpu,
        ),
    );
    b.row(
        Row::report(mode, "client CPU, paired batches", String::new())
            .vs("median of paired ratios".into(), median(&mut cpu_ratios)),
    );
}

/// `GET /_ping`, sequential calls on one client.
fn bench_ping(b: &Bench) {
    let mut raw = b.socket.as_deref().map(RawClient::connect);
    let mut raw_call = || {
        if let Some(r) = raw.as_mut() {
            r.call("GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
        }
    };
    compare(
        b,
        "ping",
        "GET /_ping",
        || {
            system::ping(&b.docker).expect("ping");
        },
        raw_side(b, &mut raw_call),
    );
}

/// `GET /images/{name}/json` decoded into `ImageInspect`, on a tiny image built for the run.
fn bench_inspect(b: &Bench) {
    let tag = format!("s2i-docker-bench-{}:inspect", std::process::id());
    let context = support::context_tar(&[
        (
            "Dockerfile",
            b"FROM scratch\nCOPY f /f\nLABEL a=b c=d\nENV X=1\nUSER 1001\n",
            0o644,
        ),
        ("f", b"bench\n", 0o644),
    ]);
    let Some(_image) = TempImage::build(&b.docker, b.socket.as_deref(), &tag, &context) else {
        return;
    };
    let version = b.docker.api_version().expect("API version");
    let request = format!("GET /v{version}/images/{tag}/json HTTP/1.1\r\nHost: localhost\r\n\r\n");
    let mut raw = b.socket.as_deref().map(RawClient::connect);
    let mut raw_call = || {
        if let Some(r) = raw.as_mut() {
            r.call(&request);
        }
    };
    compare(
        b,
        "inspect",
        "GET /images/{name}/json, typed",
        || {
            image::inspect(&b.docker, &tag).expect("inspect");
        },
        raw_side(b, &mut raw_call),
    );
    // The same beside a raw loop that also decodes the reply with serde_json: what the typed
    // call costs beyond the decoding every typed client does.
    let mut raw_decode = || {
        if let Some(r) = raw.as_mut() {
            r.call(&request);
            let image: image::ImageInspect = serde_json::from_slice(&r.body).expect("decode");
            std::hint::black_box(image);
        }
    };
    compare(
        b,
        "inspect",
        "typed, beside raw + serde_json",
        || {
            image::inspect(&b.docker, &tag).expect("inspect");
        },
        raw_side(b, &mut raw_decode),
    );
    // The floor of any client that reads the reply: the raw loop, each reply checked as JSON
    // and nothing built from it (serde_json into `IgnoredAny`), beside the raw loop. Touching
    // the reply after the wait for it costs more than the same work in a hot loop.
    let mut reader = b.socket.as_deref().map(RawClient::connect);
    let read_only = || {
        if let Some(r) = reader.as_mut() {
            r.call(&request);
            let any: serde::de::IgnoredAny = serde_json::from_slice(&r.body).expect("JSON");
            std::hint::black_box(any);
        }
    };
    let mut raw_again = || {
        if let Some(r) = raw.as_mut() {
            r.call(&request);
        }
    };
    compare(
        b,
        "inspect",
        "raw + serde_json IgnoredAny (read, nothing built)",
        read_only,
        raw_side(b, &mut raw_again),
    );
    // What the typed call adds, in two parts, each beside the raw loop: the library's
    // transport alone (the same request through `Transport::send`, the reply read whole and
    // not looked at), and the raw loop followed by the library's decode of each reply
    // (`ImageInspect::from_json`, the model built as `image::inspect` builds it).
    let transport = Transport::new(b.docker.host().clone(), None).expect("transport");
    let target = format!("/v{version}/images/{tag}/json");
    let transport_only = || {
        let request = Request {
            method: "GET",
            target: target.clone(),
            headers: Vec::new(),
            body: TransportBody::Empty,
            timeouts: Timeouts {
                connect: std::time::Duration::from_secs(30),
                response: Some(std::time::Duration::from_secs(120)),
                idle: Some(std::time::Duration::from_secs(120)),
            },
        };
        let response = transport.send(request, None).expect("send");
        assert_eq!(response.status, 200);
        let n = response
            .read_with(1 << 20, |reply| reply.len())
            .expect("read");
        std::hint::black_box(n);
    };
    let mut raw_again = || {
        if let Some(r) = raw.as_mut() {
            r.call(&request);
        }
    };
    compare(
        b,
        "inspect",
        "the library's transport alone (reply read, not decoded)",
        transport_only,
        raw_side(b, &mut raw_again),
    );
    let mut ours = b.socket.as_deref().map(RawClient::connect);
    let raw_then_decode = || {
        if let Some(r) = ours.as_mut() {
            r.call(&request);
            let image = image::ImageInspect::from_json(&r.body).expect("decode");
            std::hint::black_box(image);
        }
    };
    let mut raw_again = || {
        if let Some(r) = raw.as_mut() {
            r.call(&request);
        }
    };
    compare(
        b,
        "inspect",
        "raw + the library's decode (ImageInspect::from_json)",
        raw_then_decode,
        raw_side(b, &mut raw_again),
    );
    if let Some(r) = raw.as_mut() {
        r.call(&request);
        bench_decode(b, &r.body);
    }
}

/// The decode alone, of one reply over and over: `ImageInspect::from_json` beside
/// `serde_json::from_slice`, in alternating batches; median µs per decode.
fn bench_decode(b: &Bench, reply: &[u8]) {
    let per_batch = 1000;
    let time = |one_pass: bool| {
        let t = Instant::now();
        for _ in 0..per_batch {
            let reply = std::hint::black_box(reply);
            let image: image::ImageInspect = if one_pass {
                image::ImageInspect::from_json(reply).expect("decode")
            } else {
                serde_json::from_slice(reply).expect("decode")
            };
            std::hint::black_box(image);
        }
        t.elapsed().as_secs_f64() * 1e6 / per_batch as f64
    };
    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    for i in 0..BATCHES {
        if i % 2 == 0 {
            ours.push(time(true));
            theirs.push(time(false));
        } else {
            theirs.push(time(false));
            ours.push(time(true));
        }
    }
    let (o, t) = (median(&mut ours), median(&mut theirs));
    b.row(
        Row::report(
            "inspect",
            format!("decode of its {}-byte reply", reply.len()),
            format!("{o:.2} µs"),
        )
        .vs(format!("serde_json {t:.2} µs"), o / t),
    );
}

// ---------------------------------------------------------------------------------------------
// cycle: create, start, wait, remove

/// Removes the container when dropped unless the cycle removed it.
struct RemoveOnDrop<'a> {
    client: &'a dyn Client,
    id: String,
    armed: bool,
}

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if self.armed {
            let force = ContainerRemoveOptions {
                remove_volumes: true,
                force: true,
            };
            let _ = self.client.container_remove(&self.id, &force);
        }
    }
}

/// One cycle through the `Client` methods; returns its wall and this thread's CPU seconds.
fn lib_cycle(client: &dyn Client, body: &ContainerCreateBody) -> (f64, f64) {
    let cpu = thread_cpu_ns();
    let t = Instant::now();
    let created = client.container_create(body, "").expect("create");
    let mut guard = RemoveOnDrop {
        client,
        id: created.id,
        armed: true,
    };
    client.container_start(&guard.id).expect("start");
    let waited = client
        .container_wait(&guard.id, WaitCondition::NotRunning)
        .expect("wait");
    assert_eq!(waited.status_code, 0, "`true` failed");
    let remove = ContainerRemoveOptions {
        remove_volumes: true,
        force: false,
    };
    client.container_remove(&guard.id, &remove).expect("remove");
    guard.armed = false;
    let wall = t.elapsed().as_secs_f64();
    (wall, (thread_cpu_ns() - cpu) as f64 / 1e9)
}

fn bench_cycle(b: &Bench) {
    let Some(tag) = b.busybox() else { return };
    let cli = Cli::find(&b.endpoint);
    let mut body = ContainerCreateBody::default();
    body.config.image = tag.to_string();
    body.config.cmd = Some(vec!["true".into()]);
    let client: &dyn Client = &b.docker;
    let cli_cycle = |c: &Cli| c.run(&["run", "--rm", tag, "true"]);
    // Warm up both (image layers in the page cache, the CLI binary, connections).
    for _ in 0..3 {
        lib_cycle(client, &body);
        if let Some(c) = &cli {
            cli_cycle(c);
        }
    }
    let (mut lib_wall, mut lib_cpu, mut cli_wall, mut cli_cpu) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..CYCLES {
        let mut lib = || {
            let (w, c) = lib_cycle(client, &body);
            lib_wall.push(w * 1e3);
            lib_cpu.push(c * 1e3);
        };
        match &cli {
            Some(c) if i % 2 == 1 => {
                let r = cli_cycle(c);
                cli_wall.push(r.wall * 1e3);
                cli_cpu.push(r.cpu * 1e3);
                lib();
            }
            Some(c) => {
                lib();
                let r = cli_cycle(c);
                cli_wall.push(r.wall * 1e3);
                cli_cpu.push(r.cpu * 1e3);
            }
            None => lib(),
        }
    }
    let lw = median(&mut lib_wall);
    let lc = lib_cpu.iter().sum::<f64>() / lib_cpu.len() as f64;
    let mut row = Row::report(
        "cycle",
        format!("create/start/wait/rm `true`, n={CYCLES}"),
        format!("{lw:.1} ms/cycle"),
    );
    if !cli_wall.is_empty() {
        let cw = median(&mut cli_wall);
        row = row.vs(format!("docker run --rm: {cw:.1} ms/cycle"), lw / cw);
    }
    b.row(row);
    let mut row = Row::report("cycle", "client CPU (mean)", format!("{lc:.2} ms/cycle"));
    if !cli_cpu.is_empty() {
        let cc = cli_cpu.iter().sum::<f64>() / cli_cpu.len() as f64;
        row = row.vs(format!("docker CLI process: {cc:.1} ms/cycle"), lc / cc);
    }
    b.row(row);
}

// ---------------------------------------------------------------------------------------------
// Rounds of several sides, their order rotated

/// One side of a comparison: its name and one round of it.
type Side<'a> = (&'static str, Box<dyn FnMut() -> ChildReport + 'a>);

/// The order of three sides in successive rounds: every side comes first, second and last
/// once in three rounds, and after each other side as often (a side's run can slow the next
/// one, e.g. through the engine's disk writes).
const ORDERS_OF_THREE: [[usize; 3]; 6] = [
    [0, 1, 2],
    [2, 1, 0],
    [1, 2, 0],
    [0, 2, 1],
    [2, 0, 1],
    [1, 0, 2],
];

/// The side that runs `step`-th in `round`.
fn side_at(round: usize, step: usize, n: usize) -> usize {
    if n == 3 {
        ORDERS_OF_THREE[round % ORDERS_OF_THREE.len()][step]
    } else if round % 2 == 0 {
        step
    } else {
        n - 1 - step
    }
}

/// Runs `rounds` rounds of every side, changing the order from round to round (see
/// [`ORDERS_OF_THREE`]); returns each side's reports.
fn rotate(rounds: usize, sides: &mut [Side<'_>]) -> Vec<Vec<ChildReport>> {
    let n = sides.len();
    let mut out = vec![Vec::new(); n];
    for round in 0..rounds {
        for step in 0..n {
            let i = side_at(round, step, n);
            let r = (sides[i].1)();
            let mut marks = String::new();
            for (k, v) in &r.fields {
                if ["started", "first", "ended", "secs"].contains(&k.as_str()) {
                    marks.push_str(&format!("  {k} {v}"));
                }
            }
            println!(
                "    {:<14} {:7.3} s wall  {:.3} s CPU{marks}",
                sides[i].0, r.run.wall, r.run.cpu
            );
            out[i].push(r);
        }
    }
    out
}

/// A CLI run as a report without fields.
fn cli_report(run: support::Run) -> ChildReport {
    ChildReport {
        run,
        fields: Vec::new(),
    }
}

fn walls(reports: &[ChildReport]) -> Vec<f64> {
    reports.iter().map(|r| r.run.wall).collect()
}

fn cpus(reports: &[ChildReport]) -> Vec<f64> {
    reports.iter().map(|r| r.run.cpu).collect()
}

/// The largest peak RSS the children reported.
fn peak(reports: &[ChildReport]) -> f64 {
    reports.iter().map(|r| r.get("hwm_kib")).fold(0.0, f64::max)
}

/// The rows shared by the transfers and attach: the library's median wall beside the CLI's
/// (with the target) and beside the raw floor's, and its CPU beside theirs. `sides` are the
/// reports of `[library, raw, cli]`.
fn wall_and_cpu_rows(
    b: &Bench,
    mode: &'static str,
    what: &str,
    sides: &[Vec<ChildReport>],
    cli_label: &str,
    target: f64,
) {
    let (lib, raw, cli) = (&sides[0], &sides[1], &sides[2]);
    let lw = median(&mut walls(lib));
    let mut row = Row::report(
        mode,
        format!("{what} wall (median of {})", lib.len()),
        format!("{lw:.3} s"),
    );
    if !cli.is_empty() {
        let cw = median(&mut walls(cli));
        row = row
            .vs(format!("{cli_label}: {cw:.3} s"), lw / cw)
            .target(format!("<= {target:.2}x"), lw / cw <= target);
    }
    b.row(row);
    if !cli.is_empty() {
        b.row(
            Row::report(mode, "  wall, rounds paired", String::new()).vs(
                "per-round ratios, median".into(),
                support::paired_ratio(&walls(lib), &walls(cli)),
            ),
        );
    }
    if !raw.is_empty() {
        let rw = median(&mut walls(raw));
        b.row(
            Row::report(mode, "  wall beside the raw floor", String::new())
                .vs(format!("raw socket: {rw:.3} s"), lw / rw),
        );
    }
    let lc = median(&mut cpus(lib));
    let mut row = Row::report(mode, "client CPU, user+sys (median)", format!("{lc:.3} s"));
    if !raw.is_empty() {
        let rc = median(&mut cpus(raw));
        row = row.vs(format!("raw socket: {rc:.3} s"), lc / rc);
    }
    b.row(row);
    if !cli.is_empty() {
        let cc = median(&mut cpus(cli));
        b.row(
            Row::report(mode, "  client CPU beside the CLI", String::new())
                .vs(format!("{cli_label}: {cc:.3} s"), lc / cc),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// upload, download: a 256 MiB file beside `docker cp` and a raw socket

/// Where the data file goes in the containers (`/tmp` exists in the busybox image).
const CONTAINER_FILE: &str = "/tmp/bench.bin";

/// A created (not started) container and a 256 MiB file on the host.
struct TransferSetup {
    _dir: TempDir,
    file: String,
    container: TempContainer,
    version: String,
}

fn transfer_setup(b: &Bench, name: &str) -> Option<TransferSetup> {
    let tag = b.busybox()?;
    let dir = TempDir::new(name);
    let file = dir.0.join("bench.bin");
    support::write_random_file(&file, TRANSFER_BYTES);
    let container = TempContainer::create(&b.docker, tag, &["true"]);
    let file = file.to_str().expect("a UTF-8 temporary path").to_string();
    Some(TransferSetup {
        _dir: dir,
        file,
        container,
        version: b.docker.api_version().expect("API version"),
    })
}

/// The rows of a transfer: wall and CPU beside the CLI and the floor, the call alone, peak RSS.
fn transfer_rows(b: &Bench, mode: &'static str, cli_label: &str, sides: &[Vec<ChildReport>]) {
    wall_and_cpu_rows(b, mode, "256 MiB", sides, cli_label, TRANSFER_RATIO);
    let lib = &sides[0];
    let mut calls: Vec<f64> = lib.iter().map(|r| r.get("secs")).collect();
    b.row(Row::report(
        mode,
        "  library call alone (in the child)",
        format!("{:.3} s", median(&mut calls)),
    ));
    let rss = peak(lib);
    b.row(
        Row::report(mode, "peak RSS of the process (VmHWM, max)", mib(rss)).target(
            format!("<= {} MiB", TRANSFER_RSS_KIB >> 10),
            rss <= TRANSFER_RSS_KIB as f64,
        ),
    );
}

fn bench_upload(b: &Bench) {
    let Some(setup) = transfer_setup(b, "upload") else {
        return;
    };
    let id = setup.container.id.as_str();
    let file = setup.file.as_str();
    let cli = Cli::find(&b.endpoint);
    let lib = || run_child(&["upload", id, file, CONTAINER_FILE]);
    // The first upload creates the file, the others replace it: measure only replacements.
    lib();
    let target = format!("{id}:/tmp/");
    let mut sides: Vec<Side<'_>> = vec![("library", Box::new(lib))];
    if let Some(socket) = b.socket.as_deref() {
        let version = setup.version.as_str();
        sides.push((
            "raw socket",
            Box::new(move || run_child(&["upload-raw", socket, version, id, file])),
        ));
    }
    if let Some(c) = &cli {
        sides.push((
            "docker cp",
            Box::new(|| cli_report(c.run(&["cp", file, &target]))),
        ));
    }
    let mut by_side = rotate(TRANSFER_ROUNDS, &mut sides);
    let stat = copy::stat(&b.docker, id, CONTAINER_FILE).expect("stat the uploaded file");
    assert_eq!(stat.size as u64, TRANSFER_BYTES, "uploaded size");
    pad_sides(&mut by_side, &sides, b.socket.is_some(), cli.is_some());
    transfer_rows(b, "upload", "docker cp", &by_side);
    // The CPU of the two sides of the same round, which met the same engine and page cache.
    if b.socket.is_some() {
        let ratio = support::paired_ratio(&cpus(&by_side[0]), &cpus(&by_side[1]));
        b.row(
            Row::report("upload", "  client CPU beside the raw floor", String::new())
                .vs("per-round ratios, median".into(), ratio)
                .target(
                    format!("<= {UPLOAD_CPU_RATIO:.2}x"),
                    ratio <= UPLOAD_CPU_RATIO,
                ),
        );
    }
}

/// Puts empty lists where the raw or the CLI side did not run, so that the sides are always
/// `[library, raw, cli]`.
fn pad_sides(by_side: &mut Vec<Vec<ChildReport>>, sides: &[Side<'_>], raw: bool, cli: bool) {
    debug_assert_eq!(by_side.len(), sides.len());
    if !raw {
        by_side.insert(1, Vec::new());
    }
    if !cli {
        by_side.push(Vec::new());
    }
}

fn bench_download(b: &Bench) {
    let Some(setup) = transfer_setup(b, "download") else {
        return;
    };
    let id = setup.container.id.as_str();
    run_child(&["upload", id, &setup.file, CONTAINER_FILE]);
    let cli = Cli::find(&b.endpoint);
    let tar_size = TRANSFER_BYTES as f64;
    let source = format!("{id}:{CONTAINER_FILE}");
    let mut sides: Vec<Side<'_>> = vec![(
        "library",
        Box::new(|| {
            let r = run_child(&["download", id, CONTAINER_FILE]);
            assert!(r.get("bytes") > tar_size, "downloaded {:?}", r.fields);
            r
        }),
    )];
    if let Some(socket) = b.socket.as_deref() {
        let version = setup.version.as_str();
        sides.push((
            "raw socket",
            Box::new(move || {
                let r = run_child(&["download-raw", socket, version, id, CONTAINER_FILE]);
                assert!(r.get("bytes") > tar_size, "downloaded {:?}", r.fields);
                r
            }),
        ));
    }
    if let Some(c) = &cli {
        sides.push((
            "docker cp",
            Box::new(|| cli_report(c.run(&["cp", &source, "-"]))),
        ));
    }
    let mut by_side = rotate(TRANSFER_ROUNDS, &mut sides);
    pad_sides(&mut by_side, &sides, b.socket.is_some(), cli.is_some());
    transfer_rows(b, "download", "docker cp ... -", &by_side);
}

// ---------------------------------------------------------------------------------------------
// attach: 1 GiB of container output

/// Rounds of attach: `S2I_BENCH_ATTACH_ROUNDS`, else [`ATTACH_ROUNDS`].
fn attach_rounds() -> usize {
    std::env::var("S2I_BENCH_ATTACH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(ATTACH_ROUNDS)
}

fn attach_bytes() -> u64 {
    std::env::var("S2I_BENCH_ATTACH_MIB")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(1024)
        << 20
}

fn bench_attach(b: &Bench) {
    let Some(tag) = b.busybox() else { return };
    let bytes = attach_bytes();
    let size = bytes.to_string();
    let cmd = ["head", "-c", size.as_str(), "/dev/zero"];
    let cli = Cli::find(&b.endpoint);
    let version = b.docker.api_version().expect("API version");
    let mut sides: Vec<Side<'_>> = vec![(
        "run_container",
        Box::new(|| {
            let r = run_child(&["attach", tag, &size]);
            assert_eq!(r.get("bytes"), bytes as f64, "attached output");
            r
        }),
    )];
    if let Some(socket) = b.socket.as_deref() {
        let (docker, version) = (&b.docker, version.as_str());
        sides.push((
            "raw socket",
            Box::new(move || {
                // Wall from create to remove, as for the other sides (removing the container
                // deletes its log of the output, which takes a while); CPU is the reader's.
                let t = Instant::now();
                let ctr = TempContainer::create(docker, tag, &cmd);
                let mut r = run_child(&["attach-raw", socket, version, &ctr.id]);
                drop(ctr);
                r.run.wall = t.elapsed().as_secs_f64();
                assert!(r.get("bytes") >= bytes as f64, "raw output {:?}", r.fields);
                r
            }),
        ));
    }
    if let Some(c) = &cli {
        let mut args = vec!["run", "--rm", tag];
        args.extend(cmd);
        sides.push(("docker run", Box::new(move || cli_report(c.run(&args)))));
    }
    let mut by_side = rotate(attach_rounds(), &mut sides);
    pad_sides(&mut by_side, &sides, b.socket.is_some(), cli.is_some());
    let what = if bytes == 1 << 30 {
        "1 GiB".to_string()
    } else {
        format!("{} MiB", bytes >> 20)
    };
    wall_and_cpu_rows(
        b,
        "attach",
        &what,
        &by_side,
        "docker run >/dev/null",
        ATTACH_RATIO,
    );
    b.row(Row::report(
        "attach",
        "peak RSS of the process (VmHWM, max)",
        mib(peak(&by_side[0])),
    ));
    // The engine's pace drifts a lot from one minute to the next; two clients streaming at the
    // same time meet the same engine, so the ratio of their times is free of that drift.
    if let Some(c) = &cli {
        let mut args = vec!["run", "--rm", tag];
        args.extend(cmd);
        let (lib, via_cli) = thread::scope(|s| {
            let lib = s.spawn(|| run_child(&["attach", tag, &size]));
            let via_cli = s.spawn(|| c.run(&args));
            (
                lib.join().unwrap_or_else(|p| panic::resume_unwind(p)),
                via_cli.join().unwrap_or_else(|p| panic::resume_unwind(p)),
            )
        });
        assert_eq!(lib.get("bytes"), bytes as f64, "attached output");
        // Only the walls mean something here: the CPU figures of two children waited for at
        // the same time are mixed up.
        println!(
            "    at the same time: run_container {:.3} s, docker run {:.3} s",
            lib.run.wall, via_cli.wall
        );
        b.row(
            Row::report(
                "attach",
                "  wall, both at the same time (one pair)",
                format!("{:.3} s", lib.run.wall),
            )
            .vs(
                format!("docker run >/dev/null: {:.3} s", via_cli.wall),
                lib.run.wall / via_cli.wall,
            )
            .target(
                format!("<= {ATTACH_RATIO:.2}x"),
                lib.run.wall / via_cli.wall <= ATTACH_RATIO,
            ),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Children: one measured operation per process

/// Runs one child operation (`__child <kind> <args>`) and prints its report; exits non-zero
/// (through a panic) when it fails.
fn child(args: &[String]) {
    let arg = |i: usize| args.get(i).map(String::as_str).unwrap_or_default();
    let docker = || {
        let engine = client(&support::endpoint()).expect("engine client");
        DockerClient::new(Arc::new(engine), AuthConfig::default())
    };
    let t = Instant::now();
    let mut fields = Vec::new();
    match arg(0) {
        "upload" => {
            docker()
                .upload_to_container(&LocalFileSystem, Path::new(arg(2)), arg(3), arg(1))
                .expect("upload_to_container");
        }
        "download" => {
            let mut sink = Counter::default();
            docker()
                .download_from_container(arg(2), &mut sink, arg(1))
                .expect("download_from_container");
            fields.push(("bytes", sink.get().to_string()));
        }
        "attach" => {
            let sink = Counter::default();
            let marks = Marks::new(t);
            let started = marks.clone();
            docker()
                .run_container(RunContainerOptions {
                    image: arg(1).to_string(),
                    command_explicit: ["head", "-c", arg(2), "/dev/zero"]
                        .map(String::from)
                        .to_vec(),
                    stdout: Some(Box::new(MarkedWriter {
                        inner: sink.clone(),
                        marks: marks.clone(),
                    })),
                    on_start: Some(Box::new(move |_| {
                        started.mark("started");
                        Ok(())
                    })),
                    ..Default::default()
                })
                .expect("run_container");
            fields.push(("bytes", sink.get().to_string()));
            fields.extend(marks.fields());
        }
        "upload-raw" => raw_upload(arg(1), arg(2), arg(3), Path::new(arg(4))),
        "download-raw" => {
            let n = raw_download(arg(1), arg(2), arg(3), arg(4));
            fields.push(("bytes", n.to_string()));
        }
        "attach-raw" => {
            let marks = Marks::new(t);
            let n = raw_attach(arg(1), arg(2), arg(3), &marks);
            fields.extend(marks.fields());
            fields.push(("bytes", n.to_string()));
        }
        other => panic!("unknown child operation {other:?}"),
    }
    fields.push(("secs", format!("{:.6}", t.elapsed().as_secs_f64())));
    fields.push(("cpu", format!("{:.4}", self_cpu_secs())));
    fields.push(("hwm_kib", peak_rss_kib().to_string()));
    child_report(&fields);
}

/// Times since the start of a child at which things happened (`started`, `first`, `ended`).
#[derive(Clone)]
struct Marks {
    t0: Instant,
    marks: Arc<Mutex<Vec<(&'static str, f64)>>>,
}

impl Marks {
    fn new(t0: Instant) -> Marks {
        Marks {
            t0,
            marks: Arc::default(),
        }
    }

    fn mark(&self, what: &'static str) {
        let at = self.t0.elapsed().as_secs_f64();
        let mut marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        if !marks.iter().any(|(w, _)| *w == what) {
            marks.push((what, at));
        }
    }

    fn fields(&self) -> Vec<(&'static str, String)> {
        let marks = self.marks.lock().unwrap_or_else(|p| p.into_inner());
        marks
            .iter()
            .map(|(w, at)| (*w, format!("{at:.3}")))
            .collect()
    }
}

/// Marks the first byte written through it and the end of the output (its drop).
struct MarkedWriter {
    inner: Counter,
    marks: Marks,
}

impl Write for MarkedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.marks.mark("first");
        self.inner.write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for MarkedWriter {
    fn drop(&mut self) {
        self.marks.mark("ended");
    }
}

/// The floor of an upload: a hand-written `PUT /containers/{id}/archive` with `Content-Length`,
/// the tar of one file written from one thread in 256 KiB writes.
fn raw_upload(socket: &str, version: &str, id: &str, file: &Path) {
    let mut data = std::fs::File::open(file).expect("open the data file");
    let size = data.metadata().expect("stat the data file").len();
    let mut header = tar::Header::new_ustar();
    header.set_path("bench.bin").expect("tar path");
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    let padding = (512 - size % 512) % 512;
    let length = 512 + size + padding + 1024;
    let mut s = UnixStream::connect(socket).expect("connect");
    write!(
        s,
        "PUT /v{version}/containers/{id}/archive?noOverwriteDirNonDir=true&path=%2Ftmp HTTP/1.1\r\n\
         Host: localhost\r\nContent-Type: application/x-tar\r\nContent-Length: {length}\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("write the request head");
    s.write_all(header.as_bytes())
        .expect("write the tar header");
    let mut buf = vec![0u8; 256 << 10];
    loop {
        let n = data.read(&mut buf).expect("read the data file");
        if n == 0 {
            break;
        }
        s.write_all(&buf[..n]).expect("write the body");
    }
    buf[..(padding + 1024) as usize].fill(0);
    s.write_all(&buf[..(padding + 1024) as usize])
        .expect("write the tar end");
    let mut reply = Vec::new();
    s.read_to_end(&mut reply).expect("read the reply");
    assert!(
        reply.starts_with(b"HTTP/1.1 200"),
        "upload: {}",
        String::from_utf8_lossy(&reply)
    );
}

/// The floor of a download: a hand-written `GET /containers/{id}/archive`, the reply read in
/// 64 KiB reads to its end (`Connection: close`) and dropped; returns the bytes after the head.
fn raw_download(socket: &str, version: &str, id: &str, path: &str) -> u64 {
    let mut s = UnixStream::connect(socket).expect("connect");
    let path = path.replace('/', "%2F");
    write!(
        s,
        "GET /v{version}/containers/{id}/archive?path={path} HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\n\r\n"
    )
    .expect("write the request");
    let mut buf = vec![0u8; 64 << 10];
    let (head_end, filled) = read_head(&mut s, &mut buf);
    assert!(
        buf.starts_with(b"HTTP/1.1 200"),
        "download: {}",
        String::from_utf8_lossy(&buf[..head_end])
    );
    (filled - head_end) as u64 + read_to_end_counting(&mut s, &mut buf)
}

/// Reads until the end of a response head; returns where the head ends and how much is in `buf`.
fn read_head(s: &mut UnixStream, buf: &mut [u8]) -> (usize, usize) {
    let mut filled = 0;
    loop {
        let n = s.read(&mut buf[filled..]).expect("read the reply");
        assert!(n > 0, "the engine closed the connection");
        filled += n;
        if let Some(p) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            return (p + 4, filled);
        }
    }
}

/// Reads `s` to its end through `buf`; returns how many bytes came.
fn read_to_end_counting(s: &mut UnixStream, buf: &mut [u8]) -> u64 {
    let mut total = 0;
    loop {
        match s.read(buf) {
            Ok(0) => return total,
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => panic!("read the stream: {e}"),
        }
    }
}

/// The floor of attach: a hand-written upgrade request, start, then 64 KiB reads of the raw
/// stream to its end (no demultiplexing); returns the bytes read after the `101` head.
fn raw_attach(socket: &str, version: &str, id: &str, marks: &Marks) -> u64 {
    let mut s = UnixStream::connect(socket).expect("connect");
    write!(
        s,
        "POST /v{version}/containers/{id}/attach?stderr=1&stdout=1&stream=1 HTTP/1.1\r\n\
         Host: localhost\r\nContent-Type: text/plain\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\
         Content-Length: 0\r\n\r\n"
    )
    .expect("write the attach request");
    let mut buf = vec![0u8; 64 << 10];
    let (head_end, filled) = read_head(&mut s, &mut buf);
    assert!(
        buf.starts_with(b"HTTP/1.1 101"),
        "attach: {}",
        String::from_utf8_lossy(&buf[..head_end])
    );
    let early = (filled - head_end) as u64;
    let mut start = UnixStream::connect(socket).expect("connect");
    write!(
        start,
        "POST /v{version}/containers/{id}/start HTTP/1.1\r\nHost: localhost\r\n\
         Connection: close\r\nContent-Length: 0\r\n\r\n"
    )
    .expect("write the start request");
    let mut reply = Vec::new();
    start.read_to_end(&mut reply).expect("read the start reply");
    assert!(
        reply.starts_with(b"HTTP/1.1 204"),
        "start: {}",
        String::from_utf8_lossy(&reply)
    );
    marks.mark("started");
    let n = s.read(&mut buf).expect("read the attached stream");
    marks.mark("first");
    let total = early + n as u64 + read_to_end_counting(&mut s, &mut buf);
    marks.mark("ended");
    total
}

// ---------------------------------------------------------------------------------------------

/// The floor: one kept-alive Unix connection, hand-written requests, bodies read and dropped.
struct RawClient {
    stream: BufReader<UnixStream>,
    body: Vec<u8>,
}

impl RawClient {
    fn connect(path: &str) -> RawClient {
        let s = UnixStream::connect(path).expect("connect to the engine socket");
        RawClient {
            stream: BufReader::with_capacity(64 << 10, s),
            body: Vec::with_capacity(64 << 10),
        }
    }

    fn call(&mut self, request: &str) {
        self.stream
            .get_mut()
            .write_all(request.as_bytes())
            .expect("write");
        let mut line = String::new();
        let mut length = None;
        let mut chunked = false;
        self.stream.read_line(&mut line).expect("status line");
        assert!(line.starts_with("HTTP/1.1 200"), "{line}");
        loop {
            line.clear();
            self.stream.read_line(&mut line).expect("header");
            let h = line.trim_end();
            if h.is_empty() {
                break;
            }
            let (name, value) = h.split_once(':').expect("header line");
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            } else if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.trim().eq_ignore_ascii_case("chunked");
            }
        }
        self.body.clear();
        if chunked {
            loop {
                line.clear();
                self.stream.read_line(&mut line).expect("chunk size");
                let size = usize::from_str_radix(line.trim_end(), 16).expect("hex chunk size");
                let start = self.body.len();
                self.body.resize(start + size + 2, 0);
                self.stream
                    .read_exact(&mut self.body[start..])
                    .expect("chunk");
                self.body.truncate(start + size);
                if size == 0 {
                    break;
                }
            }
        } else if let Some(n) = length {
            self.body.resize(n, 0);
            self.stream.read_exact(&mut self.body).expect("body");
        }
    }
}
