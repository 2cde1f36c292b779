//! Shared by the unit tests of the docker module: a fake engine with images, and a
//! logger that captures what the current thread logs.
//!
//! Test builds only; like the rest of `fake`, it may use any layer (here: fake's
//! [`FakeClient`], docker, config and ops).

use std::cell::RefCell;
use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Once};

use crate::config::{AuthConfig, ContainerConfig};
use crate::docker::DockerClient;
use crate::fake::FakeClient;
use crate::ops::image::ImageInspect;

thread_local! {
    static CAPTURED: RefCell<Vec<(log::Level, String)>> = const { RefCell::new(Vec::new()) };
}

struct Capture;

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        let line = (record.level(), record.args().to_string());
        CAPTURED.with(|c| c.borrow_mut().push(line));
    }
    fn flush(&self) {}
}

/// What `f` logged on this thread.
pub(crate) fn logs_of<T>(f: impl FnOnce() -> T) -> (T, Vec<(log::Level, String)>) {
    static INIT: Once = Once::new();
    INIT.call_once(|| {
        if log::set_logger(&Capture).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
    CAPTURED.with(|c| c.borrow_mut().clear());
    let out = f();
    (out, CAPTURED.with(|c| std::mem::take(&mut *c.borrow_mut())))
}

/// Asserts that `logs` holds the line `text` at `level`.
#[track_caller]
pub(crate) fn assert_logged(logs: &[(log::Level, String)], level: log::Level, text: &str) {
    assert!(
        logs.iter().any(|(l, m)| *l == level && m == text),
        "no {level} line {text:?} in {logs:?}"
    );
}

/// An image with the given labels and env.
pub(crate) fn image(id: &str, labels: &[(&str, &str)], env: &[&str]) -> ImageInspect {
    let labels: HashMap<String, String> = labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    ImageInspect {
        id: id.into(),
        config: Some(ContainerConfig {
            labels: (!labels.is_empty()).then_some(labels),
            env: (!env.is_empty()).then(|| env.iter().map(|s| s.to_string()).collect()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The usual builder: scripts in the image, default destination.
pub(crate) fn builder() -> ImageInspect {
    image(
        "sha256:builder",
        &[(
            crate::docker::labels::SCRIPTS_URL_LABEL,
            "image:///usr/libexec/s2i",
        )],
        &[],
    )
}

/// A fake with `builder:latest`, and a `DockerClient` over it that retries fast.
pub(crate) fn setup() -> (Arc<FakeClient>, DockerClient) {
    let fake = Arc::new(FakeClient::new());
    fake.add_image("builder:latest", builder());
    let d = DockerClient::new(fake.clone(), AuthConfig::default())
        .with_pull_retry_delay(std::time::Duration::from_millis(1));
    (fake, d)
}

/// A writer into a shared buffer that says when it was dropped.
#[derive(Clone, Default)]
pub(crate) struct Probe {
    pub(crate) data: Arc<Mutex<Vec<u8>>>,
    pub(crate) dropped: Arc<AtomicBool>,
}

impl Probe {
    pub(crate) fn writer(&self) -> Box<dyn Write + Send> {
        Box::new(ProbeWriter(self.clone()))
    }
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.data.lock().unwrap()).into_owned()
    }
    pub(crate) fn is_dropped(&self) -> bool {
        self.dropped.load(Ordering::SeqCst)
    }
}

struct ProbeWriter(Probe);

impl Write for ProbeWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.data.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for ProbeWriter {
    fn drop(&mut self) {
        self.0.dropped.store(true, Ordering::SeqCst);
    }
}

/// A reader of `data` that says when it was dropped.
pub(crate) struct ProbeReader(pub(crate) io::Cursor<Vec<u8>>, pub(crate) Arc<AtomicBool>);

impl io::Read for ProbeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Drop for ProbeReader {
    fn drop(&mut self) {
        self.1.store(true, Ordering::SeqCst);
    }
}

pub(crate) fn auth() -> AuthConfig {
    AuthConfig::default()
}
