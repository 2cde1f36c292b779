//! What the modes of `benches/ops.rs` share: process measurements from `/proc`, the busybox
//! image, cleanup guards, child processes of the bench binary, the docker CLI, and the table of
//! results printed at the end.

use std::cell::{OnceCell, RefCell};
use std::fmt::Write as _;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use s2i_docker::ops::container::{self, ContainerCreateBody, ContainerRemoveOptions};
use s2i_docker::ops::image::{self, ImageBuildOptions, ImageRemoveOptions};
use s2i_docker::ops::stream;
use s2i_docker::EngineClient;

/// The engine: `S2I_TEST_DOCKER_HOST`, else `DOCKER_HOST`, else the default Unix socket.
pub fn endpoint() -> String {
    ["S2I_TEST_DOCKER_HOST", "DOCKER_HOST"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unix:///var/run/docker.sock".to_string())
}

/// The bench image: busybox alone, as the integration tests build it (ENGINES.md).
const BUSYBOX_DOCKERFILE: &str = r#"FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox","--install","-s","/bin"]
RUN mkdir -p /tmp /usr/libexec/s2i /usr/bin && chmod 1777 /tmp && ln -s /bin/busybox /usr/bin/env
ENV PATH=/bin
LABEL io.openshift.s2i.scripts-url=image:///usr/libexec/s2i
USER 1001
CMD ["/bin/sh"]
"#;

/// What every mode gets.
pub struct Bench {
    /// The library's client.
    pub docker: EngineClient,
    /// The engine's address as `DOCKER_HOST` would say it (for the CLI).
    pub endpoint: String,
    /// The Unix socket of the engine, for raw connections (`None` for a TCP engine).
    pub socket: Option<String>,
    /// The busybox image, built on first use and removed when the bench ends.
    busybox: OnceCell<Option<TempImage>>,
    /// The rows of the final table.
    rows: RefCell<Vec<Row>>,
}

impl Bench {
    pub fn new(docker: EngineClient, endpoint: String) -> Bench {
        Bench {
            socket: endpoint.strip_prefix("unix://").map(str::to_string),
            docker,
            endpoint,
            busybox: OnceCell::new(),
            rows: RefCell::default(),
        }
    }

    /// The busybox image's tag, building it on first use; `None` (with a message) when the
    /// build fails.
    pub fn busybox(&self) -> Option<&str> {
        self.busybox
            .get_or_init(|| {
                let tag = format!("s2i-docker-bench-{}:busybox", std::process::id());
                let busybox = match std::fs::read("/bin/busybox") {
                    Ok(b) => b,
                    Err(e) => {
                        println!(
                            "cannot read /bin/busybox ({e}): apt-get install -y busybox-static"
                        );
                        return None;
                    }
                };
                let context = context_tar(&[
                    ("Dockerfile", BUSYBOX_DOCKERFILE.as_bytes(), 0o644),
                    ("busybox", &busybox, 0o755),
                ]);
                TempImage::build(&self.docker, self.socket.as_deref(), &tag, &context)
            })
            .as_ref()
            .map(|i| i.tag.as_str())
    }

    /// Adds a row to the final table.
    pub fn row(&self, row: Row) {
        println!("  {}", row.line());
        self.rows.borrow_mut().push(row);
    }

    /// The final table.
    pub fn print_table(&self) {
        let rows = self.rows.borrow();
        if rows.is_empty() {
            return;
        }
        println!("\n{}", Row::header());
        println!("{}", "-".repeat(Row::header().len()));
        for r in rows.iter() {
            println!("{}", r.line());
        }
    }
}

/// One line of the result table.
pub struct Row {
    pub mode: &'static str,
    pub what: String,
    pub library: String,
    pub reference: String,
    pub ratio: String,
    pub target: String,
    pub verdict: &'static str,
}

impl Row {
    /// A row without a target: figures reported as measured.
    pub fn report(mode: &'static str, what: impl Into<String>, library: String) -> Row {
        Row {
            mode,
            what: what.into(),
            library,
            reference: String::new(),
            ratio: String::new(),
            target: "report".into(),
            verdict: "",
        }
    }

    /// The row of a mode that stopped with a panic.
    pub fn failed(mode: &'static str) -> Row {
        Row {
            target: String::new(),
            verdict: "ERROR",
            ..Row::report(mode, "stopped: see the panic above", String::new())
        }
    }

    pub fn vs(mut self, reference: String, ratio: f64) -> Row {
        self.reference = reference;
        self.ratio = format!("{ratio:.3}x");
        self
    }

    pub fn target(mut self, target: String, met: bool) -> Row {
        self.target = target;
        self.verdict = if met { "PASS" } else { "FAIL" };
        self
    }

    fn header() -> String {
        format!(
            "{:<9} {:<40} {:>20}  {:<36} {:>8}  {:<10} {}",
            "mode", "measure", "library", "reference", "ratio", "target", ""
        )
    }

    fn line(&self) -> String {
        format!(
            "{:<9} {:<40} {:>20}  {:<36} {:>8}  {:<10} {}",
            self.mode,
            self.what,
            self.library,
            self.reference,
            self.ratio,
            self.target,
            self.verdict
        )
    }
}

/// Median of the values (sorts them).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// User + system CPU seconds that `getrusage(who)` reports, to the microsecond (`/proc/*/stat`
/// counts in 10 ms ticks, too coarse beside transfers of a few tens of milliseconds of CPU).
fn rusage_cpu_secs(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `usage` points to a writable `rusage`, all of whose fields are integers (so
    // the zeroed value is valid too); `getrusage` writes nothing else.
    let usage = unsafe {
        if libc::getrusage(who, usage.as_mut_ptr()) != 0 {
            return 0.0;
        }
        usage.assume_init()
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

/// CPU seconds (user + system) of this process's children that have been waited for: the
/// difference around one child's run is that child's CPU time, threads included.
pub fn children_cpu_secs() -> f64 {
    rusage_cpu_secs(libc::RUSAGE_CHILDREN)
}

/// CPU seconds (user + system) of this process so far, threads that ended included.
pub fn self_cpu_secs() -> f64 {
    rusage_cpu_secs(libc::RUSAGE_SELF)
}

/// CPU time of the calling thread so far, in nanoseconds (`/proc/thread-self/schedstat`).
pub fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// The peak resident set size of this process in KiB (`VmHWM` of `/proc/self/status`, what
/// `getrusage(RUSAGE_SELF).ru_maxrss` reports).
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmHWM:")?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// An uncompressed tar of `(path, content, mode)`.
pub fn context_tar(files: &[(&str, &[u8], u32)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data, mode) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(*mode);
        b.append_data(&mut h, path, *data)
            .expect("append to an in-memory tar");
    }
    b.into_inner().expect("finish an in-memory tar")
}

/// An image that exists for the duration of a mode (or of the bench).
///
/// Dropping it removes, through raw requests on the socket, every container created from it
/// (whoever created it: a child killed half-way, the docker CLI), then the image.
pub struct TempImage {
    docker: EngineClient,
    socket: Option<String>,
    pub tag: String,
    /// The image's ID once built.
    id: Option<String>,
}

impl TempImage {
    /// Builds `context` as `tag` (`RUN` steps without network, no cache: the image is this
    /// run's own, not one shared with other images built from the same context); `None`, with
    /// a message, on failure.
    pub fn build(
        docker: &EngineClient,
        socket: Option<&str>,
        tag: &str,
        context: &[u8],
    ) -> Option<TempImage> {
        let options = ImageBuildOptions {
            tags: vec![tag.to_string()],
            no_cache: true,
            remove: true,
            force_remove: true,
            network_mode: "none".into(),
            ..Default::default()
        };
        // The guard exists before the build so that a half-made image goes too.
        let mut image = TempImage {
            docker: docker.clone(),
            socket: socket.map(str::to_string),
            tag: tag.to_string(),
            id: None,
        };
        let built = image::build(docker, &mut &context[..], &options)
            .and_then(|out| stream::copy_checked(out, &mut io::sink()));
        if let Err(e) = built {
            println!("cannot build the image {tag}: {e}");
            return None;
        }
        match image::inspect(docker, tag) {
            Ok(i) => image.id = Some(i.id),
            Err(e) => {
                println!("cannot inspect the image {tag}: {e}");
                return None;
            }
        }
        Some(image)
    }
}

impl Drop for TempImage {
    fn drop(&mut self) {
        if let Some(socket) = &self.socket {
            sweep_containers(socket, &self.tag, self.id.as_deref());
        }
        let force = ImageRemoveOptions {
            force: true,
            no_prune: false,
        };
        match image::remove(&self.docker, &self.tag, &force) {
            Ok(_) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => eprintln!("cannot remove {}: {e}", self.tag),
        }
    }
}

/// Removes the containers created from the image `image` (tag) or `id`: those the filter
/// `ancestor` finds whose `Image` is one of these two (a container of another image built on
/// top of this one is not ours). Raw requests, independent of the library.
fn sweep_containers(socket: &str, image: &str, id: Option<&str>) {
    let filters = serde_json::json!({ "ancestor": [image] }).to_string();
    let path = format!("/containers/json?all=1&filters={}", percent(&filters));
    let ours = |c: &serde_json::Value| {
        let from = c["Image"].as_str().unwrap_or_default();
        from == image || id.is_some_and(|id| id == from || id.strip_prefix("sha256:") == Some(from))
    };
    let ids: Vec<String> = match raw_request(socket, "GET", &path) {
        Ok((200, body)) => serde_json::from_slice::<Vec<serde_json::Value>>(&body)
            .unwrap_or_default()
            .iter()
            .filter(|c| ours(c))
            .filter_map(|c| c["Id"].as_str().map(str::to_string))
            .collect(),
        Ok((status, body)) => {
            eprintln!(
                "cannot list the containers of {image}: {status} {}",
                String::from_utf8_lossy(&body)
            );
            return;
        }
        Err(e) => {
            eprintln!("cannot list the containers of {image}: {e}");
            return;
        }
    };
    for id in ids {
        eprintln!("removing leftover container {id}");
        match raw_request(socket, "DELETE", &format!("/containers/{id}?force=1&v=1")) {
            Ok((s, _)) if s < 300 || s == 404 => {}
            Ok((s, body)) => eprintln!(
                "cannot remove container {id}: {s} {}",
                String::from_utf8_lossy(&body)
            ),
            Err(e) => eprintln!("cannot remove container {id}: {e}"),
        }
    }
}

fn percent(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// One request on a new connection (`Connection: close`); returns the status and the body
/// (chunked coding removed).
fn raw_request(socket: &str, method: &str, path: &str) -> io::Result<(u16, Vec<u8>)> {
    let mut s = UnixStream::connect(socket)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, "malformed HTTP response");
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(bad)?;
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(bad)?;
    let mut rest = &raw[end + 4..];
    if !head.contains("transfer-encoding: chunked") {
        return Ok((status, rest.to_vec()));
    }
    let mut body = Vec::new();
    loop {
        let eol = rest.windows(2).position(|w| w == b"\r\n").ok_or_else(bad)?;
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|t| usize::from_str_radix(t.split(';').next()?.trim(), 16).ok())
            .ok_or_else(bad)?;
        rest = &rest[eol + 2..];
        if size == 0 {
            return Ok((status, body));
        }
        body.extend_from_slice(rest.get(..size).ok_or_else(bad)?);
        rest = rest.get(size + 2..).ok_or_else(bad)?;
    }
}

/// A container created for a mode, removed (forcibly) when dropped.
pub struct TempContainer {
    docker: EngineClient,
    pub id: String,
}

impl TempContainer {
    /// Creates (does not start) a container of `image` running `cmd`.
    pub fn create(docker: &EngineClient, image: &str, cmd: &[&str]) -> TempContainer {
        let mut body = ContainerCreateBody::default();
        body.config.image = image.to_string();
        body.config.cmd = Some(cmd.iter().map(|s| s.to_string()).collect());
        let created = container::create(docker, &body, "").expect("create a container");
        TempContainer {
            docker: docker.clone(),
            id: created.id,
        }
    }
}

impl Drop for TempContainer {
    fn drop(&mut self) {
        let opts = ContainerRemoveOptions {
            remove_volumes: true,
            force: true,
        };
        match container::remove(&self.docker, &self.id, &opts) {
            Ok(()) => {}
            Err(e) if e.is_not_found() => {}
            Err(e) => eprintln!("cannot remove container {}: {e}", self.id),
        }
    }
}

/// A temporary directory, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("s2i-docker-bench-{}-{tag}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes `size` bytes of pseudo-random content (xorshift64*, so nothing compresses or
/// deduplicates it) to `path`.
pub fn write_random_file(path: &Path, size: u64) {
    let mut f = io::BufWriter::new(std::fs::File::create(path).expect("create the data file"));
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15 ^ u64::from(std::process::id());
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            word.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        f.write_all(&block[..n]).expect("write the data file");
        left -= n as u64;
    }
    f.flush().expect("write the data file");
}

/// A writer that counts and drops what it gets.
#[derive(Clone, Default)]
pub struct Counter(pub Arc<AtomicU64>);

impl Counter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

impl Write for Counter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.fetch_add(buf.len() as u64, Ordering::Relaxed);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// What one run of an outside process cost: wall time from spawn to exit, and its CPU time.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub wall: f64,
    pub cpu: f64,
}

/// What a child of the bench binary reported: its `key=value` line.
#[derive(Debug, Clone)]
pub struct ChildReport {
    pub run: Run,
    pub fields: Vec<(String, String)>,
}

impl ChildReport {
    pub fn get(&self, key: &str) -> f64 {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
            .unwrap_or(f64::NAN)
    }
}

/// The first argument of a child run of the bench binary.
pub const CHILD: &str = "__child";

/// Runs the bench binary as `__child <args>`, which does one measured thing and prints
/// `bench-child key=value ...` as its last line.
///
/// # Panics
/// When the child fails (its stderr is passed through).
pub fn run_child(args: &[&str]) -> ChildReport {
    let exe = std::env::current_exe().expect("the bench binary's path");
    let cpu = children_cpu_secs();
    let t = Instant::now();
    let out = Command::new(exe)
        .arg(CHILD)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .expect("run the bench binary as a child");
    let run = Run {
        wall: t.elapsed().as_secs_f64(),
        cpu: children_cpu_secs() - cpu,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child {args:?} failed: {}\n{stdout}",
        out.status
    );
    let line = stdout
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("bench-child "))
        .unwrap_or_else(|| panic!("child {args:?} reported nothing: {stdout}"));
    let fields = line
        .split_whitespace()
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ChildReport { run, fields }
}

/// Prints a child's report line.
pub fn child_report(fields: &[(&str, String)]) {
    let mut line = String::from("bench-child");
    for (k, v) in fields {
        let _ = write!(line, " {k}={v}");
    }
    println!("{line}");
}

/// The docker CLI, talking to the same engine.
pub struct Cli {
    program: String,
    endpoint: String,
}

impl Cli {
    /// The CLI on `PATH` (or `S2I_BENCH_DOCKER_CLI`), if it answers `docker version`.
    pub fn find(endpoint: &str) -> Option<Cli> {
        let program = std::env::var("S2I_BENCH_DOCKER_CLI").unwrap_or_else(|_| "docker".into());
        let cli = Cli {
            program,
            endpoint: endpoint.to_string(),
        };
        match cli
            .command(&["version", "--format", "{{.Server.Version}}"])
            .output()
        {
            Ok(o) if o.status.success() => Some(cli),
            Ok(o) => {
                println!(
                    "  the docker CLI cannot reach the engine: {}",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                println!("  no docker CLI ({e}): set S2I_BENCH_DOCKER_CLI");
                None
            }
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.program);
        c.args(args)
            .env("DOCKER_HOST", &self.endpoint)
            .stdin(Stdio::null());
        c
    }

    /// Runs `docker <args>` with its stdout to `/dev/null`; panics when it fails.
    pub fn run(&self, args: &[&str]) -> Run {
        let cpu = children_cpu_secs();
        let t = Instant::now();
        let out = self
            .command(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .output()
            .expect("run the docker CLI");
        let run = Run {
            wall: t.elapsed().as_secs_f64(),
            cpu: children_cpu_secs() - cpu,
        };
        assert!(
            out.status.success(),
            "docker {args:?} failed: {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        run
    }
}

/// The median of `lib[i] / reference[i]` over the pairs of the same round.
pub fn paired_ratio(lib: &[f64], reference: &[f64]) -> f64 {
    let mut ratios: Vec<f64> = lib.iter().zip(reference).map(|(l, r)| l / r).collect();
    median(&mut ratios)
}

/// `n` as MiB with one decimal.
pub fn mib(kib: f64) -> String {
    format!("{:.1} MiB", kib / 1024.0)
}
