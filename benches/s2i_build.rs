//! `s2i-docker build` beside the reference's `s2i build`, in one run.
//!
//! ```text
//! cargo bench --features cli --bench s2i_build
//! ```
//!
//! Both tools build the same apps (3 files; 2,000 files and 50 MB) with the reference's busybox
//! builder (`/work/shared/reference/make-builder.sh`) and `--pull-policy never`, alternately, at
//! least 8 runs each (`S2I_BENCH_RUNS`). Each build goes through a counting proxy on a Unix
//! socket (`DOCKER_HOST` points at it), which records every request (method, path, when it was
//! sent, and how long until its reply began). Printed: the medians and ratios of wall time,
//! engine calls and peak RSS (from `wait4`) per build, whether a container was left behind, and
//! the call timeline of one build of each tool side by side.
//!
//! The engine is `S2I_BENCH_DOCKER_HOST`, else `DOCKER_HOST`, else the Docker socket (it must
//! be a `unix://` socket). Without `/work/shared` (the reference binary and its builder script)
//! the bench says so, builds the same builder itself and measures `s2i-docker` alone. Every
//! image it makes is removed at the end. `S2I_BENCH_CLI` names the `s2i-docker` executable to
//! measure (for example the static one `.ci/run` builds); by default it is cargo's build.
//!
//! Where the engine's storage driver has no native diff (fuse-overlayfs, vfs), every commit ends
//! on a whole second of the wall clock: the naive diff sleeps until the second after it began
//! (moby's `daemon/graphdriver/fsdiff.go`, "Parent layers are extracted from tar's with full
//! second precision"). A build's wall time then moves in steps of a second whatever the client
//! does, so the bench also prints, per tool, when the commit's reply began within its second,
//! the time to the `start` call (the client's own lead) and the mean beside the median.

use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

const REFERENCE: &str = "/work/shared/reference/s2i";
const MAKE_BUILDER: &str = "/work/shared/reference/make-builder.sh";
const BUILDER: &str = "s2i-test-bench-builder";

fn main() {
    let host = ["S2I_BENCH_DOCKER_HOST", "DOCKER_HOST"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".into());
    let Some(socket) = host.strip_prefix("unix://").map(PathBuf::from) else {
        println!("s2i_build bench: the engine must be a unix:// socket, not {host}; skipped");
        return;
    };
    if !matches!(raw(&socket, "GET", "/_ping"), Ok((200, _))) {
        println!("s2i_build bench: no engine answers at {host}; skipped");
        return;
    }
    let runs: usize = std::env::var("S2I_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8)
        .max(1);
    let work = TempDir::new();
    let reference = reference_side();
    if !make_builder(&host, reference.is_some(), &work.0) {
        return;
    }
    let mut tools = Vec::new();
    if let Some(r) = reference {
        tools.push(Tool {
            name: "s2i",
            exe: r,
        });
    }
    tools.push(Tool {
        name: "s2i-docker",
        exe: std::env::var_os("S2I_BENCH_CLI")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_s2i-docker"))),
    });
    for t in &tools {
        println!("{}: {}", t.name, t.exe.display());
    }
    let proxy = Proxy::start(&work.0.join("proxy.sock"), &socket);
    let apps = [
        ("3-file app", make_app(&work.0.join("small"), 3, 16)),
        (
            "2,000 files, 50 MB",
            make_app(&work.0.join("large"), 2000, 25_000),
        ),
    ];
    println!("s2i_build bench: {runs} runs of each tool per app, alternately, engine {host}");
    for (label, app) in &apps {
        bench_app(label, app, &tools, &proxy, &socket, runs, &work.0);
    }
    for t in &tools {
        let _ = raw(
            &socket,
            "DELETE",
            &format!("/images/{}?force=1", out_tag(t)),
        );
    }
    let _ = raw(&socket, "DELETE", &format!("/images/{BUILDER}?force=1"));
}

/// The reference binary, or `None` after saying why the reference side is skipped.
fn reference_side() -> Option<PathBuf> {
    if !Path::new("/work/shared").is_dir() {
        println!("/work/shared is missing: no reference binary; only s2i-docker is measured");
        return None;
    }
    if !Path::new(REFERENCE).is_file() || !Path::new(MAKE_BUILDER).is_file() {
        println!("{REFERENCE} or {MAKE_BUILDER} is missing: only s2i-docker is measured");
        return None;
    }
    Some(PathBuf::from(REFERENCE))
}

/// Builds the builder with the reference's script (or, without it, the same image by hand).
fn make_builder(host: &str, with_script: bool, work: &Path) -> bool {
    let status = if with_script {
        Command::new("sh")
            .args([MAKE_BUILDER, BUILDER])
            .env("DOCKER_HOST", host)
            .stdout(Stdio::null())
            .status()
    } else {
        fallback_builder(host, work)
    };
    match status {
        Ok(s) if s.success() => true,
        other => {
            println!("s2i_build bench: cannot build the builder image ({other:?}); skipped");
            false
        }
    }
}

/// The reference's builder without its script: busybox, the three scripts, `USER 1001`.
fn fallback_builder(host: &str, work: &Path) -> io::Result<std::process::ExitStatus> {
    let dir = work.join("builder");
    let s2i = dir.join("rootfs/usr/libexec/s2i");
    std::fs::create_dir_all(&s2i)?;
    std::fs::create_dir_all(dir.join("rootfs/bin"))?;
    std::fs::create_dir_all(dir.join("rootfs/usr/bin"))?;
    std::fs::create_dir_all(dir.join("rootfs/tmp"))?;
    std::fs::copy("/bin/busybox", dir.join("rootfs/bin/busybox"))?;
    for a in ["sh", "tar", "cp", "mkdir", "cat", "ls", "echo", "rm"] {
        std::os::unix::fs::symlink("/bin/busybox", dir.join("rootfs/bin").join(a))?;
    }
    std::os::unix::fs::symlink("/bin/busybox", dir.join("rootfs/usr/bin/env"))?;
    let scripts = [
        ("assemble", "#!/bin/sh\nset -e\nmkdir -p /tmp/app\ncp -R /tmp/src/* /tmp/app/\necho \"assembled\"\n"),
        ("run", "#!/bin/sh\ncat /tmp/app/hello.txt\n"),
        ("usage", "#!/bin/sh\necho usage\n"),
    ];
    for (name, text) in scripts {
        std::fs::write(s2i.join(name), text)?;
    }
    let dockerfile = "FROM scratch\nCOPY rootfs/ /\nRUN chmod 1777 /tmp && chmod 755 /usr/libexec/s2i/*\nLABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i\nUSER 1001\nCMD [\"/usr/libexec/s2i/usage\"]\n";
    std::fs::write(dir.join("Dockerfile"), dockerfile)?;
    Command::new("docker")
        .args(["build", "-q", "-t", BUILDER])
        .arg(&dir)
        .env("DOCKER_HOST", host)
        .stdout(Stdio::null())
        .status()
}

/// `n` files of `size` bytes in 20 directories (one for a small app), with `hello.txt`.
fn make_app(dir: &Path, n: usize, size: usize) -> PathBuf {
    std::fs::create_dir_all(dir).expect("app dir");
    std::fs::write(dir.join("hello.txt"), "hello\n").expect("hello.txt");
    let chunk: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    for i in 1..n {
        let sub = if n > 20 {
            dir.join(format!("d{:02}", i % 20))
        } else {
            dir.to_path_buf()
        };
        std::fs::create_dir_all(&sub).expect("app subdir");
        std::fs::write(sub.join(format!("f{i:04}.txt")), &chunk).expect("app file");
    }
    dir.to_path_buf()
}

struct Tool {
    name: &'static str,
    exe: PathBuf,
}

fn out_tag(t: &Tool) -> String {
    format!(
        "s2i-test-bench-out-{}",
        t.name.replace("s2i-docker", "cli").replace("s2i", "ref")
    )
}

/// One build's figures.
#[derive(Clone, Default)]
struct Sample {
    wall: Duration,
    /// The wall clock at the proxy's reset, when the build began.
    epoch: Option<SystemTime>,
    rss_kib: i64,
    calls: Vec<Call>,
    left: usize,
}

fn bench_app(
    label: &str,
    app: &Path,
    tools: &[Tool],
    proxy: &Proxy,
    socket: &Path,
    runs: usize,
    work: &Path,
) {
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); tools.len()];
    for i in 0..runs {
        for k in 0..tools.len() {
            // Alternate which tool goes first.
            let k = if i % 2 == 0 { k } else { tools.len() - 1 - k };
            match run_once(&tools[k], app, proxy, socket, work) {
                Ok(s) => samples[k].push(s),
                Err(e) => {
                    println!("{label}: {} failed: {e}", tools[k].name);
                    return;
                }
            }
        }
    }
    println!("\n== {label} (median of {runs})");
    println!(
        "{:<12} {:>10} {:>7} {:>10} {:>6}",
        "tool", "wall ms", "calls", "peak RSS", "left"
    );
    let mut medians = Vec::new();
    for (t, s) in tools.iter().zip(&samples) {
        let wall = median(s.iter().map(|x| x.wall.as_secs_f64() * 1000.0).collect());
        let calls = median(s.iter().map(|x| x.calls.len() as f64).collect());
        let rss = median(s.iter().map(|x| x.rss_kib as f64).collect());
        let left: usize = s.iter().map(|x| x.left).sum();
        println!(
            "{:<12} {wall:>10.1} {calls:>7.0} {:>7.1} MiB {left:>6}",
            t.name,
            rss / 1024.0
        );
        medians.push((wall, calls, rss));
    }
    if let [(rw, rc, rr), (cw, cc, cr)] = medians[..] {
        println!(
            "ratio s2i-docker/s2i: wall {:.2}x (goal <= 0.9x), calls {:.2}x ({cc:.0} vs {rc:.0}; goal <= 8), peak RSS {:.2}x (goal <= 0.5x)",
            cw / rw,
            cc / rc,
            cr / rr
        );
    }
    print_engine_steps(tools, &samples);
    print_timelines(tools, &samples);
}

/// Where the client can and cannot act: the time to the `start` call, when the commit's reply
/// began within its wall-clock second, and the mean wall beside the median.
fn print_engine_steps(tools: &[Tool], samples: &[Vec<Sample>]) {
    for (t, s) in tools.iter().zip(samples) {
        let start = median(
            s.iter()
                .filter_map(|x| x.calls.iter().find(|c| c.path.ends_with("/start")))
                .map(|c| ms(c.at))
                .collect(),
        );
        let phases: Vec<String> = s
            .iter()
            .filter_map(|x| {
                let c = x.calls.iter().find(|c| c.path.contains("/commit"))?;
                let at = x.epoch? + c.at + c.first_byte?;
                let since = at.duration_since(SystemTime::UNIX_EPOCH).ok()?;
                Some(format!(".{:03}", since.subsec_millis()))
            })
            .collect();
        let mean = s.iter().map(|x| ms(x.wall)).sum::<f64>() / s.len().max(1) as f64;
        println!(
            "{:<12} start sent at {start:.1} ms (median); mean wall {mean:.1} ms; commit replies began at {} s past a whole second",
            t.name,
            phases.join(" ")
        );
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// The first build of each tool: its calls, when each was sent and how long its reply took to
/// begin.
fn print_timelines(tools: &[Tool], samples: &[Vec<Sample>]) {
    let lines: Vec<Vec<String>> = samples
        .iter()
        .map(|s| {
            s.first()
                .map(|s| {
                    s.calls
                        .iter()
                        .map(|c| {
                            let reply = c
                                .first_byte
                                .map(|d| format!("{:.1}", ms(d)))
                                .unwrap_or("-".into());
                            format!(
                                "{:>7.1} {:<6} {:<38} {:>7}",
                                ms(c.at),
                                c.method,
                                short_path(&c.path),
                                reply
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        })
        .collect();
    println!("timeline of one build (sent at ms, method, path, reply began after ms):");
    let header: Vec<String> = tools.iter().map(|t| format!("{:<62}", t.name)).collect();
    println!("{}", header.join(" | "));
    let rows = lines.iter().map(Vec::len).max().unwrap_or(0);
    for i in 0..rows {
        let cells: Vec<String> = lines
            .iter()
            .map(|l| format!("{:<62}", l.get(i).cloned().unwrap_or_default()))
            .collect();
        println!("{}", cells.join(" | "));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The path without the version prefix and query, IDs shortened.
fn short_path(p: &str) -> String {
    let p = p.split('?').next().unwrap_or(p);
    let p = match p.strip_prefix("/v1.") {
        Some(rest) => rest
            .split_once('/')
            .map(|(_, r)| format!("/{r}"))
            .unwrap_or_default(),
        None => p.to_string(),
    };
    p.split('/')
        .map(|seg| {
            if seg.len() == 64 && seg.bytes().all(|b| b.is_ascii_hexdigit()) {
                &seg[..12]
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// One build: wall time, peak RSS (`wait4`), the calls through the proxy, containers left.
fn run_once(t: &Tool, app: &Path, proxy: &Proxy, socket: &Path, work: &Path) -> io::Result<Sample> {
    proxy.reset();
    let epoch = SystemTime::now();
    let log_path = work.join("stderr.log");
    let log = File::create(&log_path)?;
    let started = Instant::now();
    let child = Command::new(&t.exe)
        .arg("build")
        .arg(app)
        .args([BUILDER, &out_tag(t), "--pull-policy", "never"])
        .env("DOCKER_HOST", format!("unix://{}", proxy.path.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()?;
    let (status, rss_kib) = wait4(child.id() as i32)?;
    let wall = started.elapsed();
    if status != 0 {
        let mut text = String::new();
        File::open(&log_path)?.read_to_string(&mut text)?;
        return Err(io::Error::other(format!("exit status {status}: {text}")));
    }
    // Let the proxy's threads see the last replies.
    std::thread::sleep(Duration::from_millis(50));
    let left = raw(socket, "GET", "/containers/json?all=1")
        .map(|(_, body)| body.matches("\"/s2i_s2i_test_bench_builder").count())
        .unwrap_or(0);
    let _ = raw(socket, "DELETE", &format!("/images/{}", out_tag(t)));
    Ok(Sample {
        wall,
        epoch: Some(epoch),
        rss_kib,
        calls: proxy.calls(),
        left,
    })
}

/// Waits for the child `pid`: its wait status and peak RSS in KiB.
fn wait4(pid: i32) -> io::Result<(i32, i64)> {
    let mut status = 0;
    // SAFETY: `rusage` is a plain C struct that `wait4` fills; zeroed is a valid value of it.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child, not reaped elsewhere; both pointers are valid for writes.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((status, usage.ru_maxrss))
}

/// One request to the engine on a fresh connection: status and body (chunked bodies undone
/// only roughly: enough to search them).
fn raw(socket: &Path, method: &str, path: &str) -> io::Result<(u16, String)> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(s, "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")?;
    let mut text = String::new();
    s.read_to_string(&mut text)?;
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    Ok((status, body))
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(format!("s2i-bench-build-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A request seen by the proxy.
#[derive(Clone)]
struct Call {
    method: String,
    path: String,
    /// Since the proxy's reset.
    at: Duration,
    /// From the request to the first byte of its reply.
    first_byte: Option<Duration>,
}

#[derive(Default)]
struct Calls {
    since: Option<Instant>,
    /// Counts the resets: a late reply of an earlier build's connection must not be taken for
    /// one of this build's.
    generation: u64,
    list: Vec<Call>,
}

/// A counting proxy between a tool and the engine, on a Unix socket.
struct Proxy {
    path: PathBuf,
    calls: Arc<Mutex<Calls>>,
}

impl Proxy {
    fn start(path: &Path, engine: &Path) -> Proxy {
        let listener = UnixListener::bind(path).expect("bind the proxy socket");
        let calls = Arc::new(Mutex::new(Calls::default()));
        let (shared, engine) = (calls.clone(), engine.to_path_buf());
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                if let Ok(upstream) = UnixStream::connect(&engine) {
                    relay(client, upstream, shared.clone());
                }
            }
        });
        Proxy {
            path: path.to_path_buf(),
            calls,
        }
    }

    fn reset(&self) {
        let mut c = self.calls.lock().unwrap();
        c.since = Some(Instant::now());
        c.generation += 1;
        c.list.clear();
    }

    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().list.clone()
    }
}

/// Copies both ways; requests are parsed on the way in, the first reply byte noted on the way
/// out (HTTP/1.1 without pipelining: a reply begins only after its request).
fn relay(client: UnixStream, upstream: UnixStream, calls: Arc<Mutex<Calls>>) {
    let pending: Arc<Mutex<Vec<(u64, usize, Instant)>>> = Arc::default();
    let (mut c_in, mut u_out) = (client.try_clone().unwrap(), upstream.try_clone().unwrap());
    let (p1, calls1) = (pending.clone(), calls.clone());
    std::thread::spawn(move || {
        let mut parser = Parser::default();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match c_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            parser.feed(&buf[..n], &mut |method, path| {
                let now = Instant::now();
                let mut c = calls1.lock().unwrap();
                let at = now - c.since.unwrap_or(now);
                c.list.push(Call {
                    method,
                    path,
                    at,
                    first_byte: None,
                });
                p1.lock()
                    .unwrap()
                    .push((c.generation, c.list.len() - 1, now));
            });
            if u_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = u_out.shutdown(std::net::Shutdown::Write);
    });
    let (mut u_in, mut c_out) = (upstream, client);
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match u_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let waiting: Vec<(u64, usize, Instant)> = pending.lock().unwrap().drain(..).collect();
            if !waiting.is_empty() {
                let mut c = calls.lock().unwrap();
                let generation = c.generation;
                for (g, i, sent) in waiting {
                    if g != generation {
                        continue;
                    }
                    if let Some(call) = c.list.get_mut(i) {
                        call.first_byte = Some(sent.elapsed());
                    }
                }
            }
            if c_out.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = c_out.shutdown(std::net::Shutdown::Write);
    });
}

/// Finds the request heads in a client's byte stream, skipping bodies (length or chunked); an
/// upgraded connection (attach) is raw from its head on.
#[derive(Default)]
struct Parser {
    state: State,
    line: Vec<u8>,
}

#[derive(Default)]
enum State {
    #[default]
    Head,
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    Trailer,
    Raw,
}

impl Parser {
    fn feed(&mut self, mut input: &[u8], on_head: &mut dyn FnMut(String, String)) {
        while !input.is_empty() {
            match &mut self.state {
                State::Raw => return,
                State::Body(n) | State::ChunkData(n) => {
                    let take = (*n).min(input.len() as u64) as usize;
                    *n -= take as u64;
                    input = &input[take..];
                    if *n == 0 {
                        self.state = match self.state {
                            State::Body(_) => State::Head,
                            _ => State::Trailer, // the CRLF after the data, read as a line
                        };
                        if matches!(self.state, State::Trailer) {
                            self.state = State::ChunkSize;
                            self.line.clear();
                            self.line.push(b'#'); // marks "skip the CRLF line"
                        }
                    }
                }
                _ => {
                    let Some(end) = input.iter().position(|b| *b == b'\n') else {
                        self.line.extend_from_slice(input);
                        return;
                    };
                    self.line.extend_from_slice(&input[..=end]);
                    input = &input[end + 1..];
                    self.line_done(on_head);
                }
            }
        }
    }

    fn line_done(&mut self, on_head: &mut dyn FnMut(String, String)) {
        let line = std::mem::take(&mut self.line);
        match self.state {
            State::Head => {
                // The head is kept whole until its blank line.
                self.line = line;
                if self.line.ends_with(b"\r\n\r\n") || self.line == b"\r\n" {
                    let head =
                        String::from_utf8_lossy(&std::mem::take(&mut self.line)).into_owned();
                    self.head_done(&head, on_head);
                }
            }
            State::ChunkSize => {
                if line.first() == Some(&b'#') {
                    return; // the CRLF after a chunk's data
                }
                let text = String::from_utf8_lossy(&line);
                let size = u64::from_str_radix(text.trim().split(';').next().unwrap_or("0"), 16)
                    .unwrap_or(0);
                self.state = if size == 0 {
                    State::Trailer
                } else {
                    State::ChunkData(size)
                };
            }
            State::Trailer if line == b"\r\n" => self.state = State::Head,
            _ => {}
        }
    }

    fn head_done(&mut self, head: &str, on_head: &mut dyn FnMut(String, String)) {
        let mut lines = head.split("\r\n");
        let first = lines.next().unwrap_or_default();
        let mut parts = first.split(' ');
        let (method, path) = (
            parts.next().unwrap_or("").to_string(),
            parts.next().unwrap_or("").to_string(),
        );
        if method.is_empty() {
            return;
        }
        on_head(method, path);
        let mut state = State::Head;
        for l in lines {
            let Some((name, value)) = l.split_once(':') else {
                continue;
            };
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
            match name.as_str() {
                "content-length" => {
                    let n: u64 = value.parse().unwrap_or(0);
                    if n > 0 && !matches!(state, State::Raw) {
                        state = State::Body(n);
                    }
                }
                "transfer-encoding"
                    if value.eq_ignore_ascii_case("chunked") && !matches!(state, State::Raw) =>
                {
                    state = State::ChunkSize
                }
                "upgrade" => state = State::Raw,
                _ => {}
            }
        }
        self.state = state;
    }
}
