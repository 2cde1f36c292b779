//! What the fake daemon knows, behind one mutex ([`Shared`]): images and their tags
//! (`images`), containers and how their runs go (`containers`), the registry it can pull from
//! and its credentials (`reference` parses the names), the faults to inject and the requests it
//! has seen. `config` holds the daemon's `Config` defaults and merging rules.
//!
//! A condition variable wakes the requests that block on a change (`wait`, an attached stream,
//! a delay) and the shutdown. Only the fake's own modules are used here.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::clock;
use super::{FakeRun, Fault, RecordedRequest, Route};

mod config;
mod containers;
mod images;
mod reference;

pub(crate) use config::{empty_config, merge_commit_config, merge_env};
pub(crate) use containers::{Container, Status};
pub(crate) use images::Image;
pub(crate) use reference::{decode_registry_auth, parse_reference, registry_host, Reference};

/// The API version the fake speaks by default (Docker 20.10).
pub(crate) const API_VERSION: &str = "1.41";
/// The oldest API version the daemon accepts by default.
pub(crate) const MIN_API_VERSION: &str = "1.12";
/// The daemon version in `Server` and `/version`.
pub(crate) const DOCKER_VERSION: &str = "20.10.24";
/// The zero `time.Time` of Go, as the daemon prints a time that has not happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The state and what is needed to wait for it to change.
pub(crate) struct Shared {
    state: Mutex<State>,
    changed: Condvar,
    stopping: AtomicBool,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Shared { .. }")
    }
}

impl Shared {
    pub(crate) fn new(state: State) -> Shared {
        Shared {
            state: Mutex::new(state),
            changed: Condvar::new(),
            stopping: AtomicBool::new(false),
        }
    }

    /// Locks the state, first letting every container whose run is due finish. A thread that
    /// panicked while holding the lock leaves the state usable: the fake must keep answering
    /// so the test sees its own failure rather than a poisoned lock.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if st.advance(Instant::now()) {
            self.changed.notify_all();
        }
        st
    }

    /// Wakes every thread waiting for a change.
    pub(crate) fn notify(&self) {
        self.changed.notify_all();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::SeqCst)
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Taking the lock orders the flag before any waiter's next check.
        drop(self.state.lock().unwrap_or_else(|p| p.into_inner()));
        self.changed.notify_all();
    }

    /// Blocks until `done` returns `Some`, the engine stops (`None`), or `limit` passes
    /// (`None`). `done` runs with the lock held, after due runs have finished.
    pub(crate) fn wait_for<T>(
        &self,
        limit: Option<Duration>,
        mut done: impl FnMut(&mut State) -> Option<T>,
    ) -> Option<T> {
        let until = limit.map(|l| Instant::now() + l);
        let mut st = self.lock();
        loop {
            if self.is_stopping() {
                return None;
            }
            if let Some(v) = done(&mut st) {
                return Some(v);
            }
            let now = Instant::now();
            if until.is_some_and(|u| now >= u) {
                return None;
            }
            // Sleep until the next run is due, the limit, or a change; never longer than a
            // moment so that a missed wake-up costs little.
            let mut nap = Duration::from_millis(200);
            for t in [st.next_deadline(), until].into_iter().flatten() {
                nap = nap.min(t.saturating_duration_since(now));
            }
            let (guard, _) = self
                .changed
                .wait_timeout(st, nap.max(Duration::from_millis(1)))
                .unwrap_or_else(|p| p.into_inner());
            st = guard;
            if st.advance(Instant::now()) {
                self.changed.notify_all();
            }
        }
    }

    /// Sleeps for `d` unless the engine stops first; `false` if it stopped.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        self.wait_for(Some(d), |_| None::<()>);
        !self.is_stopping()
    }
}

/// The API versions the daemon speaks: the newest (in every reply's `Api-Version`) and the
/// oldest; a request with a version prefix outside them gets the daemon's `400`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ApiVersions {
    pub(crate) max: String,
    pub(crate) min: String,
}

impl Default for ApiVersions {
    fn default() -> ApiVersions {
        ApiVersions {
            max: API_VERSION.to_string(),
            min: MIN_API_VERSION.to_string(),
        }
    }
}

/// A registered fault and how many more requests it applies to.
#[derive(Clone, Debug)]
pub(crate) struct FaultEntry {
    pub(crate) id: u64,
    pub(crate) route: Route,
    pub(crate) fault: Fault,
    pub(crate) remaining: Option<usize>,
}

/// The daemon's state.
#[derive(Default)]
pub(crate) struct State {
    pub(crate) images: BTreeMap<String, Image>,
    /// Canonical reference → image ID.
    pub(crate) tags: BTreeMap<String, String>,
    pub(crate) containers: BTreeMap<String, Container>,
    /// Canonical reference → the image a pull of it installs.
    pub(crate) registry: BTreeMap<String, Image>,
    /// Registry host → (user, password) a pull from it must present.
    pub(crate) logins: BTreeMap<String, (String, String)>,
    pub(crate) default_run: FakeRun,
    pub(crate) commands: Vec<(String, FakeRun)>,
    pub(crate) faults: Vec<FaultEntry>,
    pub(crate) records: Vec<RecordedRequest>,
    /// Sequence numbers of the recorded requests no route matched.
    pub(crate) unhandled: Vec<u64>,
    /// Exit codes of removed containers, for a `wait` that outlives its container.
    pub(crate) removed: BTreeMap<String, i64>,
    pub(crate) strict: bool,
    pub(crate) versions: ApiVersions,
    next_id: u64,
    next_port: u16,
}

impl std::fmt::Debug for State {
    /// Counts only: the registry's passwords must not reach a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State")
            .field("images", &self.tags.keys().collect::<Vec<_>>())
            .field("containers", &self.containers.len())
            .field("registry", &self.registry.keys().collect::<Vec<_>>())
            .field("logins", &self.logins.keys().collect::<Vec<_>>())
            .field("faults", &self.faults.len())
            .field("requests", &self.records.len())
            .finish()
    }
}

impl State {
    /// A fresh 64-hex ID.
    pub(crate) fn new_id(&mut self) -> String {
        self.next_id += 1;
        clock::hex_id(self.next_id)
    }
}
