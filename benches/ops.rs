//! Latency of the library's calls beside a hand-written raw-socket loop, against a real engine.
//!
//! ```text
//! cargo bench --bench ops              # every mode
//! cargo bench --bench ops -- ping      # one mode (several may be named)
//! ```
//!
//! The engine is `S2I_TEST_DOCKER_HOST`, else `DOCKER_HOST`, else the default Unix socket. Each
//! mode runs the library and the raw loop in alternating batches in the same process and prints
//! the median per-call time of each and their ratio; the raw loop (keep-alive, request bytes
//! written by hand, response read by `Content-Length`/chunked, no JSON decoding) is the floor.
//!
//! Modes are separate functions taking the shared [`Bench`] context; add one by writing a
//! function and a line in [`MODES`].

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::Instant;

use s2i_docker::ops::image::{ImageBuildOptions, ImageRemoveOptions};
use s2i_docker::ops::{image, stream, system};
use s2i_docker::{new_engine_api_client, DockerConfig, EngineClient};

/// Calls per measurement.
const CALLS: usize = 2000;
/// Batches the calls are split into; the median is over batches.
const BATCHES: usize = 20;

/// A mode's name and function.
type Mode = (&'static str, fn(&Bench));

/// The modes, in the order they run when none is named.
const MODES: &[Mode] = &[("ping", bench_ping), ("inspect", bench_inspect)];

/// What every mode gets: the library's client and where to open raw connections.
struct Bench {
    docker: EngineClient,
    /// The Unix socket of the engine, for the raw loop (`None` for a TCP engine).
    socket: Option<String>,
}

fn main() {
    let names: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let endpoint = ["S2I_TEST_DOCKER_HOST", "DOCKER_HOST"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string());
    let config = DockerConfig {
        endpoint: endpoint.clone(),
        ..Default::default()
    };
    let docker = match new_engine_api_client(&config) {
        Ok(d) => d,
        Err(e) => return println!("skipped: {e}"),
    };
    if let Err(e) = system::ping(&docker) {
        return println!("skipped: no engine at {endpoint}: {e}");
    }
    let bench = Bench {
        docker,
        socket: endpoint.strip_prefix("unix://").map(str::to_string),
    };
    for (name, run) in MODES {
        if names.is_empty() || names.iter().any(|n| n == name) {
            run(&bench);
        }
    }
    for n in &names {
        if !MODES.iter().any(|(name, _)| name == n) {
            eprintln!(
                "unknown mode {n:?}; modes: {:?}",
                MODES.iter().map(|m| m.0).collect::<Vec<_>>()
            );
        }
    }
}

/// CPU time of the calling thread so far, in nanoseconds (`/proc/thread-self/schedstat`).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

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

/// Runs `lib` and `raw` in alternating batches and prints medians (µs per call) and ratios.
///
/// The engine's latency drifts with the machine's load, so each library batch is paired with
/// the raw batch next to it (their order alternates) and the median of the pairs' ratios is
/// printed beside the ratio of the medians. The client's own CPU time per call is printed too:
/// it is what the library adds, free of the daemon's noise.
fn compare(label: &str, mut lib: impl FnMut(), raw: Option<&mut dyn FnMut()>) {
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
        println!(
            "{label:<24} library {:7.1} µs/call (no raw loop for a TCP engine)",
            median(&mut walls)
        );
        return;
    };
    let (mut lib_wall, mut raw_wall, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let (mut lib_cpu, mut raw_cpu) = (0.0, 0.0);
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
        lib_cpu += l.1;
        raw_cpu += r.1;
    }
    let (lm, rm) = (median(&mut lib_wall), median(&mut raw_wall));
    println!(
        "{label:<24} library {lm:7.1} µs/call   raw socket {rm:7.1} µs/call   ratio {:.3}x (median of paired batches {:.3}x)   client CPU {:.1} vs {:.1} µs/call",
        lm / rm,
        median(&mut ratios),
        lib_cpu / BATCHES as f64,
        raw_cpu / BATCHES as f64,
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// `GET /_ping`, sequential calls on one client.
fn bench_ping(b: &Bench) {
    let mut raw = b.socket.as_deref().map(RawClient::connect);
    let mut raw_call = || {
        if let Some(r) = raw.as_mut() {
            r.call("GET /_ping HTTP/1.1\r\nHost: localhost\r\n\r\n");
        }
    };
    let raw_ref: Option<&mut dyn FnMut()> = if b.socket.is_some() {
        Some(&mut raw_call)
    } else {
        None
    };
    compare(
        "ping (GET /_ping)",
        || {
            system::ping(&b.docker).expect("ping");
        },
        raw_ref,
    );
}

/// `GET /images/{name}/json` decoded into `ImageInspect`, on a tiny image built for the run.
fn bench_inspect(b: &Bench) {
    let tag = format!("s2i-docker-bench-{}:inspect", std::process::id());
    let Some(_image) = TempImage::build(&b.docker, &tag) else {
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
    let raw_ref: Option<&mut dyn FnMut()> = if b.socket.is_some() {
        Some(&mut raw_call)
    } else {
        None
    };
    compare(
        "image inspect (typed)",
        || {
            image::inspect(&b.docker, &tag).expect("inspect");
        },
        raw_ref,
    );
}

/// An image that exists for the duration of a mode.
struct TempImage {
    docker: EngineClient,
    tag: String,
}

impl TempImage {
    fn build(docker: &EngineClient, tag: &str) -> Option<TempImage> {
        let mut b = tar::Builder::new(Vec::new());
        for (path, data) in [
            (
                "Dockerfile",
                &b"FROM scratch\nCOPY f /f\nLABEL a=b c=d\nENV X=1\nUSER 1001\n"[..],
            ),
            ("f", &b"bench\n"[..]),
        ] {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            b.append_data(&mut h, path, data).ok()?;
        }
        let context = b.into_inner().ok()?;
        let options = ImageBuildOptions {
            tags: vec![tag.to_string()],
            remove: true,
            force_remove: true,
            network_mode: "none".into(),
            ..Default::default()
        };
        let image = TempImage {
            docker: docker.clone(),
            tag: tag.to_string(),
        };
        let built = image::build(docker, &mut &context[..], &options)
            .and_then(|out| stream::copy_checked(out, &mut std::io::sink()));
        if let Err(e) = built {
            println!("inspect: cannot build the image: {e}");
            return None;
        }
        Some(image)
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        let force = ImageRemoveOptions {
            force: true,
            no_prune: false,
        };
        if let Err(e) = image::remove(&self.docker, &self.tag, &force) {
            eprintln!("cannot remove {}: {e}", self.tag);
        }
    }
}

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
