//! What the fault tests share: the engine and its socket, the busybox image (built once per
//! test binary, tagged once per test), clients through a proxy, a time bound on calls, the
//! engine's containers as listed without the library, and the transport error kinds.

use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use s2i_docker::{new_engine_api_client, DockerClient, DockerConfig, EngineClient, Error};

use crate::common::{self, raw_request, Cleanup};

/// The inactivity limit of the clients under test: a stall becomes a timeout after it.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// How long any call under test may take before the test fails.
pub const BOUND: Duration = Duration::from_secs(30);

/// The engine under test: its host and its socket.
pub struct Engine {
    pub host: String,
    pub socket: PathBuf,
}

/// The engine, or `None` (after one line on stderr) when none answers outside CI, or when it
/// is not on a Unix socket (the proxy forwards to Unix sockets only).
pub fn engine() -> Option<Engine> {
    let host = common::engine_host()?;
    match host.strip_prefix("unix://") {
        Some(path) => Some(Engine {
            socket: PathBuf::from(path),
            host,
        }),
        None => {
            eprintln!("skipping: the fault proxy forwards to unix:// engines, not {host}");
            None
        }
    }
}

/// The busybox image; removed when the last test using it is done.
pub struct Base {
    pub tag: String,
    _cleanup: Cleanup,
}

static BASE: Mutex<Weak<Base>> = Mutex::new(Weak::new());

/// The shared busybox image of `common::BUILDER_DOCKERFILE`, built on first use (again when
/// the tests that used it are done and another one starts).
pub fn base(engine: &Engine) -> Arc<Base> {
    let mut slot = BASE.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(base) = slot.upgrade() {
        return base;
    }
    let tag = format!("{}:base", common::unique_name("s2i-test-faults"));
    let cleanup = Cleanup::new(&engine.host);
    cleanup.image(&tag);
    // A label of its own makes its ID its own: other tests build the same Dockerfile, and an
    // image removed by ID (forced) loses all its names, the ones of this binary too.
    let dockerfile = format!(
        "{}LABEL s2i-test-faults={tag}\n",
        common::BUILDER_DOCKERFILE
    );
    let context = common::build_context_tar(&dockerfile, &[]);
    // No cache: cached steps are images other builds may be removing at that moment.
    let path = format!("/build?t={tag}&rm=1&forcerm=1&nocache=1&networkmode=none");
    let built = raw_request(
        &engine.host,
        "POST",
        &path,
        Some("application/x-tar"),
        &context,
    )
    .expect("build the busybox image");
    let out = String::from_utf8_lossy(&built.body);
    assert!(
        built.status == 200 && !out.contains("errorDetail"),
        "build of {tag}: {} {out}",
        built.status
    );
    let base = Arc::new(Base {
        tag,
        _cleanup: cleanup,
    });
    *slot = Arc::downgrade(&base);
    base
}

/// Held while a name of the shared image is added or removed: Podman 4.3 loses one of two
/// concurrent changes of one image's names (a test's name vanished right after it was added).
static NAMES: Mutex<()> = Mutex::new(());

/// A name of the busybox image for one test (`<unique>:latest`), removed when dropped: the
/// containers of a run are named after it.
pub struct TestImage {
    host: String,
    pub name: String,
}

impl TestImage {
    pub fn new(engine: &Engine, base: &Base) -> TestImage {
        let repo = common::unique_name("s2i-test-faults");
        let image = TestImage {
            host: engine.host.clone(),
            name: format!("{repo}:latest"),
        };
        let path = format!("/images/{}/tag?repo={repo}&tag=latest", base.tag);
        let _names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        let r = raw_request(&engine.host, "POST", &path, None, &[]).expect("tag the image");
        assert!(r.status < 300, "tag {}: {}", image.name, r.status);
        image
    }
}

impl Drop for TestImage {
    fn drop(&mut self) {
        let _names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
        let path = format!("/images/{}?force=1", self.name);
        match raw_request(&self.host, "DELETE", &path, None, &[]) {
            Ok(r) if r.status < 300 || r.status == 404 => {}
            Ok(r) => eprintln!("cleanup: image {}: {}", self.name, r.status),
            Err(e) => eprintln!("cleanup: image {}: {e}", self.name),
        }
    }
}

/// An engine client at `endpoint` that gives up after [`TIMEOUT`] without progress.
pub fn client(endpoint: &str) -> EngineClient {
    let config = DockerConfig {
        endpoint: endpoint.to_string(),
        ..Default::default()
    };
    new_engine_api_client(&config)
        .expect("engine client")
        .with_timeout(TIMEOUT)
}

/// The S2I operations at `endpoint`: [`client`], one pull attempt, a one-second output grace.
pub fn docker(endpoint: &str) -> DockerClient {
    DockerClient::new(Arc::new(client(endpoint)), Default::default())
        .with_pull_retry_count(0)
        .with_pull_inactivity_timeout(TIMEOUT)
        .with_output_grace(Duration::from_secs(1))
}

/// Runs `f` on a thread of its own; fails the test when it panics or has not returned within
/// `limit`. Also returns how long it took.
pub fn within<T: Send + 'static>(
    limit: Duration,
    f: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(limit) {
        Ok(v) => (v, started.elapsed()),
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("still running after {limit:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the call panicked"),
    }
}

/// The engine's containers (running or not) whose name or image mentions `image`'s repository,
/// as `ID name...` lines, listed without the library.
pub fn containers_of(host: &str, image: &str) -> Vec<String> {
    let repo = image.split(':').next().unwrap_or(image);
    let mapped: String = repo
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    let r = raw_request(host, "GET", "/containers/json?all=1", None, &[]).expect("list containers");
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    let list: serde_json::Value = serde_json::from_slice(&r.body).expect("container list JSON");
    let mut found = Vec::new();
    for c in list.as_array().into_iter().flatten() {
        let names: Vec<&str> = c["Names"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|n| n.as_str())
            .collect();
        let by_name = names.iter().any(|n| n.contains(&mapped));
        let by_image = c["Image"].as_str().is_some_and(|i| i.contains(repo));
        if by_name || by_image {
            found.push(format!(
                "{} {}",
                c["Id"].as_str().unwrap_or("?"),
                names.join(",")
            ));
        }
    }
    found
}

/// Fails the test if a container of `image` is still there a few seconds from now (the engine
/// may still be carrying out a removal it was asked for).
pub fn assert_no_container(host: &str, image: &str) {
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let left = containers_of(host, image);
        if left.is_empty() {
            return;
        }
        assert!(Instant::now() < until, "containers left behind: {left:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A connection failure after the connection was made: [`Error::Io`] or [`Error::Protocol`],
/// also as the cause of an S2I error.
pub fn is_transport(e: &Error) -> bool {
    match e {
        Error::Io(_) | Error::Protocol(_) => true,
        Error::S2i(s) => s.details.as_ref().is_some_and(is_transport),
        _ => false,
    }
}

/// A writer whose bytes the test reads afterwards.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(|p| p.into_inner())).into_owned()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
