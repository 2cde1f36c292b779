//! What the fake daemon knows: images and their tags, containers and how their runs go, the
//! registry it can pull from, the faults to inject and the requests it has seen.
//!
//! Everything sits behind one mutex ([`Shared`]); a condition variable wakes the requests that
//! block on a change (`wait`, an attached stream, a delay) and the shutdown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Map, Value};

use super::clock;
use super::fs::{Entry, Fs, Kind};
use super::{FakeImage, FakeRun, Fault, RecordedRequest, Route};

/// The API version the fake speaks (Docker 20.10).
pub(crate) const API_VERSION: &str = "1.41";
/// The oldest API version the daemon accepts.
pub(crate) const MIN_API_VERSION: &str = "1.12";
/// The daemon version in `Server` and `/version`.
pub(crate) const DOCKER_VERSION: &str = "20.10.24";
/// First host port handed out for published ports (the daemon's ephemeral range starts here).
const FIRST_HOST_PORT: u16 = 49153;

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

// ---------------------------------------------------------------------------------------------
// References

/// A parsed image reference, normalised the way the daemon does (`busybox` is
/// `docker.io/library/busybox:latest`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Reference {
    pub(crate) domain: String,
    pub(crate) path: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

fn valid_tag(tag: &str) -> bool {
    !tag.is_empty()
        && tag.len() <= 128
        && !tag.starts_with(['.', '-'])
        && tag
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn valid_path(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|c| {
            !c.is_empty()
                && c.chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || "._-".contains(ch))
                && !c.starts_with(['.', '_', '-'])
        })
}

/// Parses `[domain/]path[:tag][@algo:hex]`; `None` for what the daemon calls an invalid
/// reference format.
pub(crate) fn parse_reference(s: &str) -> Option<Reference> {
    if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return None;
    }
    let (name, digest) = match s.split_once('@') {
        Some((n, d)) => {
            let (algo, hex) = d.split_once(':')?;
            if algo.is_empty() || hex.len() < 32 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return None;
            }
            (n, Some(d.to_string()))
        }
        None => (s, None),
    };
    let (name, tag) = match name.rfind(':') {
        Some(i) if !name[i..].contains('/') => (&name[..i], Some(&name[i + 1..])),
        _ => (name, None),
    };
    if let Some(t) = tag {
        if !valid_tag(t) {
            return None;
        }
    }
    let (domain, path) = match name.split_once('/') {
        Some((first, rest))
            if first.contains(['.', ':'])
                || first == "localhost"
                || first != first.to_lowercase() =>
        {
            (first.to_string(), rest.to_string())
        }
        _ => ("docker.io".to_string(), name.to_string()),
    };
    let domain = if domain == "index.docker.io" {
        "docker.io".to_string()
    } else {
        domain
    };
    let path = if domain == "docker.io" && !path.contains('/') {
        format!("library/{path}")
    } else {
        path
    };
    if !valid_path(&path) || domain.is_empty() {
        return None;
    }
    Some(Reference {
        domain,
        path,
        tag: tag.map(str::to_string),
        digest,
    })
}

impl Reference {
    /// `docker.io/library/busybox`.
    pub(crate) fn repo(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// `busybox` (the daemon's familiar form of the repository).
    pub(crate) fn familiar_repo(&self) -> String {
        if self.domain == "docker.io" {
            self.path
                .strip_prefix("library/")
                .unwrap_or(&self.path)
                .to_string()
        } else {
            self.repo()
        }
    }

    fn suffix(&self) -> String {
        match (&self.digest, &self.tag) {
            (Some(d), _) => format!("@{d}"),
            (None, Some(t)) => format!(":{t}"),
            (None, None) => ":latest".to_string(),
        }
    }

    /// `docker.io/library/busybox:latest`: the key of the tag index.
    pub(crate) fn canonical(&self) -> String {
        format!("{}{}", self.repo(), self.suffix())
    }

    /// `busybox:latest`: what `RepoTags` and messages show.
    pub(crate) fn familiar(&self) -> String {
        format!("{}{}", self.familiar_repo(), self.suffix())
    }

    /// The tag, `latest` by default.
    pub(crate) fn tag_or_latest(&self) -> &str {
        self.tag.as_deref().unwrap_or("latest")
    }
}

/// `https://index.docker.io/v1/` → `docker.io`, `http://127.0.0.1:5000/` → `127.0.0.1:5000`.
pub(crate) fn registry_host(s: &str) -> String {
    let s = s
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let s = s.split('/').next().unwrap_or(s);
    match s {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => {
            "docker.io".to_string()
        }
        other => other.to_string(),
    }
}

/// The user name and password in an `X-Registry-Auth` value (base64url JSON, padded or not;
/// `auth` is `base64(user:password)` when the fields are empty).
pub(crate) fn decode_registry_auth(value: &str) -> Option<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let value = value.trim();
    let bytes = URL_SAFE
        .decode(value)
        .or_else(|_| URL_SAFE_NO_PAD.decode(value))
        .or_else(|_| STANDARD.decode(value))
        .ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let (user, pass) = (field("username"), field("password"));
    if !user.is_empty() || !pass.is_empty() {
        return Some((user, pass));
    }
    let auth = STANDARD.decode(field("auth")).ok()?;
    let auth = String::from_utf8(auth).ok()?;
    let (user, pass) = auth.split_once(':')?;
    Some((user.to_string(), pass.to_string()))
}

// ---------------------------------------------------------------------------------------------
// Images and containers

/// An image in the daemon's store.
#[derive(Clone, Debug)]
pub(crate) struct Image {
    /// `sha256:<64 hex>`.
    pub(crate) id: String,
    /// The `Config` object of the inspect reply.
    pub(crate) config: Value,
    pub(crate) fs: Fs,
    pub(crate) created: String,
    pub(crate) parent: String,
    pub(crate) comment: String,
    pub(crate) author: String,
    pub(crate) container: String,
}

/// An empty `Config` object with every field the daemon writes.
pub(crate) fn empty_config() -> Value {
    json!({
        "Hostname": "", "Domainname": "", "User": "",
        "AttachStdin": false, "AttachStdout": false, "AttachStderr": false,
        "Tty": false, "OpenStdin": false, "StdinOnce": false,
        "Env": null, "Cmd": null, "Image": "", "Volumes": null, "WorkingDir": "",
        "Entrypoint": null, "OnBuild": null, "Labels": null
    })
}

impl FakeImage {
    /// This seed as a `Config` object.
    pub(crate) fn config_json(&self) -> Value {
        let mut c = empty_config();
        let strings = |v: &[String]| Value::from(v.to_vec());
        if !self.env.is_empty() {
            c["Env"] = strings(&self.env);
        }
        if let Some(cmd) = &self.cmd {
            c["Cmd"] = strings(cmd);
        }
        if let Some(ep) = &self.entrypoint {
            c["Entrypoint"] = strings(ep);
        }
        if !self.onbuild.is_empty() {
            c["OnBuild"] = strings(&self.onbuild);
        }
        if !self.labels.is_empty() {
            c["Labels"] = json!(self.labels);
        }
        if !self.exposed.is_empty() {
            let ports: Map<String, Value> = self
                .exposed
                .iter()
                .map(|p| (p.clone(), json!({})))
                .collect();
            c["ExposedPorts"] = Value::Object(ports);
        }
        c["User"] = json!(self.user);
        c["WorkingDir"] = json!(self.workdir);
        c
    }
}

/// Where a container is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    Created,
    Running,
    Exited,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

/// A container and its scripted run.
#[derive(Clone, Debug)]
pub(crate) struct Container {
    pub(crate) id: String,
    /// Without the leading `/`.
    pub(crate) name: String,
    pub(crate) image_id: String,
    /// The merged `Config` (the image's defaults under the create request's fields).
    pub(crate) config: Value,
    pub(crate) host_config: Value,
    pub(crate) created: String,
    pub(crate) fs: Fs,
    pub(crate) status: Status,
    pub(crate) exit_code: i64,
    pub(crate) oom_killed: bool,
    pub(crate) error: String,
    pub(crate) started_at: String,
    pub(crate) finished_at: String,
    /// The run chosen at the last start.
    pub(crate) run: FakeRun,
    /// When the run finishes; `None` while it waits for its standard input.
    pub(crate) run_until: Option<Instant>,
    /// An attached client is still writing standard input.
    pub(crate) stdin_pending: bool,
    /// Everything written to standard input by the last attached client.
    pub(crate) stdin: Vec<u8>,
    /// `(stream, bytes)` produced by the last run: 1 is stdout, 2 is stderr.
    pub(crate) output: Vec<(u8, Vec<u8>)>,
    /// How many times the container has stopped.
    pub(crate) exits: u64,
    pub(crate) ports: Value,
}

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

fn strings_of(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|s| s.as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// The `<dir>` of a command `... sh -c "tar -C <dir> -xf - && ..."`: the shape in which S2I
/// feeds sources to `assemble` over standard input.
pub(crate) fn tar_destination(argv: &[String]) -> Option<String> {
    let i = argv.iter().position(|a| a == "-c")?;
    let script = argv.get(i + 1)?;
    let at = script.find("tar -C ")?;
    let mut words = script[at + "tar -C ".len()..].split_whitespace();
    let dir = words.next()?;
    if words.next()? != "-xf" || words.next()? != "-" {
        return None;
    }
    Some(dir.to_string())
}

fn now_text() -> String {
    let (s, n) = clock::now();
    clock::rfc3339(s, n)
}

impl Container {
    /// Entrypoint then Cmd: what the container executes.
    pub(crate) fn argv(&self) -> Vec<String> {
        let mut argv = strings_of(&self.config["Entrypoint"]);
        argv.extend(strings_of(&self.config["Cmd"]));
        argv
    }

    fn start(&mut self, run: FakeRun, now: Instant, ports: Value) {
        self.status = Status::Running;
        self.run_until = if self.stdin_pending {
            None
        } else {
            Some(now + run.delay)
        };
        self.run = run;
        self.exit_code = 0;
        self.oom_killed = false;
        self.error.clear();
        self.output.clear();
        self.started_at = now_text();
        self.finished_at = ZERO_TIME.to_string();
        self.ports = ports;
    }

    /// The standard input is complete: the run may go on.
    pub(crate) fn stdin_closed(&mut self, now: Instant) {
        self.stdin_pending = false;
        if self.status == Status::Running && self.run_until.is_none() {
            self.run_until = Some(now + self.run.delay);
        }
    }

    fn stop(&mut self, exit_code: i64) {
        self.status = Status::Exited;
        self.exit_code = exit_code;
        self.finished_at = now_text();
        self.run_until = None;
        self.stdin_pending = false;
        self.exits += 1;
        self.ports = json!({});
    }

    /// Plays the scripted run: extract standard input where the command untars it, write the
    /// run's files, produce its output and exit.
    fn finish(&mut self) {
        let run = self.run.clone();
        let mut stdout = run.stdout.clone();
        let mut stderr = run.stderr.clone();
        let mut code = run.exit_code;
        let mut ok = true;
        if let Some(dir) = tar_destination(&self.argv()) {
            let is_dir = matches!(
                self.fs.get(&dir),
                Some(Entry {
                    kind: Kind::Dir,
                    ..
                })
            );
            let failure = if !is_dir {
                Some((
                    format!("tar: can't change directory to '{dir}': No such file or directory\n"),
                    1,
                ))
            } else if self.stdin.is_empty() {
                None
            } else {
                let stdin = std::mem::take(&mut self.stdin);
                let r = self.fs.extract(&dir, &stdin, false);
                self.stdin = stdin;
                r.err().map(|e| (format!("tar: {e}\n"), 2))
            };
            if let Some((msg, c)) = failure {
                stdout.clear();
                stderr = msg.into_bytes();
                code = c;
                ok = false;
            }
        }
        if ok {
            for (path, entry) in &run.writes {
                self.fs.put(path, entry.clone());
            }
            self.oom_killed = run.oom_killed;
            self.error = run.error.clone();
        }
        self.output = vec![(1, stdout), (2, stderr)];
        self.stop(code);
    }

    /// Stops a running container as a signal would; `false` if it was not running.
    pub(crate) fn kill(&mut self, signal: i64) -> bool {
        if self.status != Status::Running {
            return false;
        }
        self.output.clear();
        self.stop(128 + signal);
        true
    }

    /// The `GET /containers/{id}/json` reply.
    pub(crate) fn inspect_json(&self) -> Value {
        let argv = self.argv();
        let running = self.status == Status::Running;
        json!({
            "Id": self.id,
            "Created": self.created,
            "Path": argv.first().cloned().unwrap_or_default(),
            "Args": argv.get(1..).unwrap_or(&[]),
            "State": {
                "Status": self.status.as_str(),
                "Running": running,
                "Paused": false,
                "Restarting": false,
                "OOMKilled": self.oom_killed,
                "Dead": false,
                "Pid": if running { 4242 } else { 0 },
                "ExitCode": self.exit_code,
                "Error": self.error,
                "StartedAt": self.started_at,
                "FinishedAt": self.finished_at,
            },
            "Image": self.image_id,
            "ResolvConfPath": "",
            "HostnamePath": "",
            "HostsPath": "",
            "LogPath": "",
            "Name": format!("/{}", self.name),
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": null,
            "HostConfig": self.host_config,
            "GraphDriver": {"Data": null, "Name": "overlay2"},
            "Mounts": [],
            "Config": self.config,
            "NetworkSettings": {
                "Bridge": "",
                "SandboxID": "",
                "HairpinMode": false,
                "LinkLocalIPv6Address": "",
                "LinkLocalIPv6PrefixLen": 0,
                "Ports": self.ports,
                "SandboxKey": "",
                "SecondaryIPAddresses": null,
                "SecondaryIPv6Addresses": null,
                "EndpointID": "",
                "Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "IPAddress": if running { "172.17.0.2" } else { "" },
                "IPPrefixLen": if running { 16 } else { 0 },
                "IPv6Gateway": "",
                "MacAddress": "",
                "Networks": {}
            }
        })
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

    /// An image built from a seed, with a fresh ID.
    pub(crate) fn image_from_seed(&mut self, seed: &FakeImage) -> Image {
        Image {
            id: format!("sha256:{}", self.new_id()),
            config: seed.config_json(),
            fs: seed.fs.clone(),
            created: clock::rfc3339(super::fs::SEED_MTIME, 0),
            parent: String::new(),
            comment: String::new(),
            author: String::new(),
            container: String::new(),
        }
    }

    /// Stores `image` and points `tags` at it; returns its ID.
    pub(crate) fn add_image(&mut self, image: Image, tags: &[Reference]) -> String {
        let id = image.id.clone();
        for t in tags {
            self.tags.insert(t.canonical(), id.clone());
        }
        self.images.insert(id.clone(), image);
        id
    }

    /// Finds an image by reference, full ID, or ID prefix, the way the daemon resolves names.
    pub(crate) fn find_image(&self, name: &str) -> Option<&Image> {
        if let Some(hex) = name.strip_prefix("sha256:") {
            return self.image_by_prefix(hex);
        }
        if let Some(r) = parse_reference(name) {
            if let Some(id) = self.tags.get(&r.canonical()) {
                return self.images.get(id);
            }
        }
        if name.len() >= 4 && name.chars().all(|c| c.is_ascii_hexdigit()) {
            return self.image_by_prefix(name);
        }
        None
    }

    fn image_by_prefix(&self, hex: &str) -> Option<&Image> {
        if hex.is_empty() {
            return None;
        }
        let mut found = self
            .images
            .values()
            .filter(|i| i.id["sha256:".len()..].starts_with(hex));
        match (found.next(), found.next()) {
            (Some(i), None) => Some(i),
            _ => None,
        }
    }

    /// The familiar tags of image `id`.
    pub(crate) fn repo_tags(&self, id: &str) -> Vec<String> {
        self.tags
            .iter()
            .filter(|(_, v)| v.as_str() == id)
            .filter_map(|(k, _)| parse_reference(k).map(|r| r.familiar()))
            .collect()
    }

    /// The `GET /images/{name}/json` reply.
    pub(crate) fn image_json(&self, image: &Image) -> Value {
        let size = image.fs.size();
        json!({
            "Id": image.id,
            "RepoTags": self.repo_tags(&image.id),
            "RepoDigests": [],
            "Parent": image.parent,
            "Comment": image.comment,
            "Created": image.created,
            "Container": image.container,
            "ContainerConfig": image.config,
            "DockerVersion": DOCKER_VERSION,
            "Author": image.author,
            "Config": image.config,
            "Architecture": "amd64",
            "Os": "linux",
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {"Data": null, "Name": "overlay2"},
            "RootFS": {"Type": "layers", "Layers": []},
            "Metadata": {"LastTagTime": ZERO_TIME}
        })
    }

    /// Finds a container by full ID, name (with or without `/`), or unique ID prefix.
    pub(crate) fn find_container_id(&self, key: &str) -> Option<String> {
        if key.is_empty() {
            return None;
        }
        if self.containers.contains_key(key) {
            return Some(key.to_string());
        }
        let name = key.strip_prefix('/').unwrap_or(key);
        if let Some(c) = self.containers.values().find(|c| c.name == name) {
            return Some(c.id.clone());
        }
        let mut found = self.containers.keys().filter(|id| id.starts_with(key));
        match (found.next(), found.next()) {
            (Some(id), None) => Some(id.clone()),
            _ => None,
        }
    }

    /// Creates a container of `image_id` from the create request `body` (already validated).
    pub(crate) fn create_container(
        &mut self,
        name: Option<&str>,
        body: &Value,
        image: &Image,
    ) -> String {
        let id = self.new_id();
        let name = match name {
            Some(n) => n.trim_start_matches('/').to_string(),
            None => format!("fake_container_{}", &id[..8]),
        };
        let config = merge_create_config(&image.config, body);
        let mut host_config = default_host_config();
        if let Some(Value::Object(hc)) = body.get("HostConfig") {
            for (k, v) in hc {
                if !v.is_null() {
                    host_config[k] = v.clone();
                }
            }
        }
        if host_config["NetworkMode"].as_str().is_none_or_empty() {
            host_config["NetworkMode"] = json!("default");
        }
        if host_config["ShmSize"].as_i64().unwrap_or(0) <= 0 {
            host_config["ShmSize"] = json!(67_108_864);
        }
        let mut fs = image.fs.clone();
        if let Some(w) = config["WorkingDir"].as_str().filter(|w| !w.is_empty()) {
            fs.mkdir_all(w, 0o755, super::fs::SEED_MTIME);
        }
        let c = Container {
            id: id.clone(),
            name,
            image_id: image.id.clone(),
            config,
            host_config,
            created: now_text(),
            fs,
            status: Status::Created,
            exit_code: 0,
            oom_killed: false,
            error: String::new(),
            started_at: ZERO_TIME.to_string(),
            finished_at: ZERO_TIME.to_string(),
            run: FakeRun::default(),
            run_until: None,
            stdin_pending: false,
            stdin: Vec::new(),
            output: Vec::new(),
            exits: 0,
            ports: json!({}),
        };
        self.containers.insert(id.clone(), c);
        id
    }

    /// The scripted run for a command line: the first `on_command` pattern it contains, or
    /// the defaults.
    fn run_for(&self, argv: &[String]) -> FakeRun {
        let line = argv.join(" ");
        self.commands
            .iter()
            .find(|(pattern, _)| line.contains(pattern.as_str()))
            .map(|(_, run)| run.clone())
            .unwrap_or_else(|| self.default_run.clone())
    }

    /// Starts container `id` (which exists and is not running).
    pub(crate) fn start_container(&mut self, id: &str) {
        let Some(c) = self.containers.get(id) else {
            return;
        };
        let run = self.run_for(&c.argv());
        let ports = self.publish_ports(id);
        if let Some(c) = self.containers.get_mut(id) {
            c.start(run, Instant::now(), ports);
        }
    }

    fn publish_ports(&mut self, id: &str) -> Value {
        let Some(c) = self.containers.get(id) else {
            return json!({});
        };
        let mut exposed: Vec<String> = c.config["ExposedPorts"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let bindings = c.host_config["PortBindings"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        for k in bindings.keys() {
            if !exposed.contains(k) {
                exposed.push(k.clone());
            }
        }
        let publish_all = c.host_config["PublishAllPorts"].as_bool().unwrap_or(false);
        let mut ports = Map::new();
        for port in exposed {
            let given = bindings.get(&port).and_then(Value::as_array).cloned();
            let value = match given {
                Some(list) => Value::Array(
                    list.iter()
                        .map(|b| {
                            let ip = b["HostIp"]
                                .as_str()
                                .filter(|s| !s.is_empty())
                                .unwrap_or("0.0.0.0");
                            let host_port = match b["HostPort"].as_str().filter(|s| !s.is_empty()) {
                                Some(p) => p.to_string(),
                                None => self.take_port(),
                            };
                            json!({"HostIp": ip, "HostPort": host_port})
                        })
                        .collect(),
                ),
                None if publish_all => json!([{"HostIp": "0.0.0.0", "HostPort": self.take_port()}]),
                None => Value::Null,
            };
            ports.insert(port, value);
        }
        Value::Object(ports)
    }

    fn take_port(&mut self) -> String {
        if self.next_port < FIRST_HOST_PORT {
            self.next_port = FIRST_HOST_PORT;
        }
        let p = self.next_port;
        self.next_port = self.next_port.saturating_add(1);
        p.to_string()
    }

    /// Finishes every run that is due; `true` if any did.
    pub(crate) fn advance(&mut self, now: Instant) -> bool {
        let mut changed = false;
        for c in self.containers.values_mut() {
            let due = c.run_until.is_some_and(|t| now >= t);
            if c.status == Status::Running && !c.stdin_pending && due {
                c.finish();
                changed = true;
            }
        }
        changed
    }

    /// When the next run is due.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.containers
            .values()
            .filter(|c| c.status == Status::Running && !c.stdin_pending)
            .filter_map(|c| c.run_until)
            .min()
    }
}

trait NoneOrEmpty {
    fn is_none_or_empty(&self) -> bool;
}

impl NoneOrEmpty for Option<&str> {
    fn is_none_or_empty(&self) -> bool {
        self.map_or(true, str::is_empty)
    }
}

/// The `HostConfig` the daemon reports for a container created without one.
fn default_host_config() -> Value {
    // Parsed rather than built with `json!`, whose macro recursion an object this size exceeds.
    const DEFAULT: &str = r#"{
        "Binds": null, "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "default", "PortBindings": null,
        "RestartPolicy": {"Name": "", "MaximumRetryCount": 0},
        "AutoRemove": false, "VolumeDriver": "", "VolumesFrom": null,
        "CapAdd": null, "CapDrop": null, "CgroupnsMode": "host",
        "Dns": null, "DnsOptions": null, "DnsSearch": null, "ExtraHosts": null, "GroupAdd": null,
        "IpcMode": "private", "Cgroup": "", "Links": null, "OomScoreAdj": 0, "PidMode": "",
        "Privileged": false, "PublishAllPorts": false, "ReadonlyRootfs": false,
        "SecurityOpt": null, "UTSMode": "", "UsernsMode": "", "ShmSize": 67108864,
        "Runtime": "runc", "ConsoleSize": [0, 0], "Isolation": "",
        "CpuShares": 0, "Memory": 0, "NanoCpus": 0, "CgroupParent": "",
        "BlkioWeight": 0, "CpuPeriod": 0, "CpuQuota": 0, "CpusetCpus": "", "CpusetMems": "",
        "Devices": null, "MemoryReservation": 0, "MemorySwap": 0, "MemorySwappiness": null,
        "OomKillDisable": false, "PidsLimit": null, "Ulimits": null
    }"#;
    serde_json::from_str(DEFAULT).unwrap_or_else(|_| json!({}))
}

/// The container `Config`: the request's fields over the image's, with the daemon's rules:
/// `Env` and `Labels` merge by key, and an `Entrypoint` given without a `Cmd` drops the
/// image's `Cmd`.
fn merge_create_config(image: &Value, body: &Value) -> Value {
    let mut c = image.clone();
    let Some(req) = body.as_object() else {
        return c;
    };
    for (k, v) in req {
        if matches!(
            k.as_str(),
            "HostConfig" | "NetworkingConfig" | "Env" | "Labels" | "ExposedPorts"
        ) || is_unset(v)
        {
            continue;
        }
        c[k] = v.clone();
    }
    let entry_given = req.get("Entrypoint").is_some_and(|v| !is_unset(v));
    let cmd_given = req.get("Cmd").is_some_and(|v| !is_unset(v));
    if entry_given && !cmd_given {
        c["Cmd"] = Value::Null;
    }
    c["Env"] = merge_env(&c["Env"], req.get("Env").unwrap_or(&Value::Null));
    merge_maps(&mut c, req, &["Labels", "ExposedPorts"]);
    c
}

/// The daemon fills a request's empty fields (`""`, `[]`, `null`) from the image.
fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

/// The request's keys are added to (or replace those of) the maps `keys` of `config`.
fn merge_maps(config: &mut Value, req: &Map<String, Value>, keys: &[&str]) {
    for key in keys {
        if let Some(Value::Object(add)) = req.get(*key) {
            let mut m = config[*key].as_object().cloned().unwrap_or_default();
            m.extend(add.iter().map(|(k, v)| (k.clone(), v.clone())));
            config[*key] = Value::Object(m);
        }
    }
}

/// The image `Config` of a commit: the container's, with the request's set fields over it
/// (`Env` and the maps merged by key).
pub(crate) fn merge_commit_config(container: &Value, body: Option<&Value>) -> Value {
    let mut c = container.clone();
    let Some(req) = body.and_then(Value::as_object) else {
        return c;
    };
    for (k, v) in req {
        if matches!(k.as_str(), "Env" | "Labels" | "ExposedPorts" | "Volumes") || is_unset(v) {
            continue;
        }
        c[k] = v.clone();
    }
    c["Env"] = merge_env(&c["Env"], req.get("Env").unwrap_or(&Value::Null));
    merge_maps(&mut c, req, &["Labels", "ExposedPorts", "Volumes"]);
    c
}

/// `base` with `over`'s `NAME=value` entries replacing the same names and the rest appended.
pub(crate) fn merge_env(base: &Value, over: &Value) -> Value {
    let mut env = strings_of(base);
    for e in strings_of(over) {
        let name = e.split('=').next().unwrap_or("").to_string();
        match env
            .iter_mut()
            .find(|x| x.split('=').next().unwrap_or("") == name)
        {
            Some(slot) => *slot = e,
            None => env.push(e),
        }
    }
    if env.is_empty() && base.is_null() {
        Value::Null
    } else {
        Value::from(env)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_the_daemon() {
        for (input, canonical, familiar) in [
            (
                "busybox",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "busybox:1.36",
                "docker.io/library/busybox:1.36",
                "busybox:1.36",
            ),
            (
                "docker.io/library/busybox:latest",
                "docker.io/library/busybox:latest",
                "busybox:latest",
            ),
            (
                "index.docker.io/foo/bar",
                "docker.io/foo/bar:latest",
                "foo/bar:latest",
            ),
            (
                "127.0.0.1:5000/x:1",
                "127.0.0.1:5000/x:1",
                "127.0.0.1:5000/x:1",
            ),
            (
                "localhost/a/b",
                "localhost/a/b:latest",
                "localhost/a/b:latest",
            ),
        ] {
            let r = parse_reference(input).unwrap();
            assert_eq!(r.canonical(), canonical, "{input}");
            assert_eq!(r.familiar(), familiar, "{input}");
        }
        for bad in [
            "",
            "Busybox",
            "a b",
            "foo:",
            "foo:-x",
            "x@sha256:12",
            "a//b",
        ] {
            assert!(parse_reference(bad).is_none(), "{bad}");
        }
        let d = format!("busybox@sha256:{}", "a".repeat(64));
        assert_eq!(
            parse_reference(&d).unwrap().canonical(),
            format!("docker.io/library/{d}")
        );
    }

    #[test]
    fn registry_hosts() {
        assert_eq!(registry_host("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(registry_host("http://127.0.0.1:5000/"), "127.0.0.1:5000");
        assert_eq!(registry_host("registry.test"), "registry.test");
    }

    #[test]
    fn registry_auth_decodes_padded_unpadded_and_auth_field() {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        let json = r#"{"username":"u","password":"p?>"}"#;
        for enc in [URL_SAFE.encode(json), URL_SAFE_NO_PAD.encode(json)] {
            assert_eq!(decode_registry_auth(&enc), Some(("u".into(), "p?>".into())));
        }
        let auth = format!(r#"{{"auth":"{}"}}"#, STANDARD.encode("u:p"));
        assert_eq!(
            decode_registry_auth(&URL_SAFE.encode(auth)),
            Some(("u".into(), "p".into()))
        );
        assert_eq!(decode_registry_auth("e30K"), None);
        assert_eq!(decode_registry_auth("%%%"), None);
    }

    #[test]
    fn tar_destination_finds_the_s2i_shape() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            tar_destination(&argv(&[
                "/bin/sh",
                "-c",
                "tar -C /tmp -xf - && /usr/libexec/s2i/assemble"
            ])),
            Some("/tmp".to_string())
        );
        assert_eq!(
            tar_destination(&argv(&[
                "/usr/bin/env",
                "/bin/sh",
                "-c",
                "tar -C /opt/app -xf -"
            ])),
            Some("/opt/app".to_string())
        );
        assert_eq!(tar_destination(&argv(&["/bin/sh", "-c", "echo hi"])), None);
        assert_eq!(
            tar_destination(&argv(&["tar", "-C", "/tmp", "-xf", "-"])),
            None
        );
    }

    #[test]
    fn create_config_merges_like_the_daemon() {
        let image = json!({"Env": ["PATH=/bin", "A=1"], "Cmd": ["run"], "Entrypoint": ["/ep"],
                           "User": "1001", "Labels": {"a": "1"}});
        let c = merge_create_config(
            &image,
            &json!({"Env": ["A=2", "B=3"], "Entrypoint": ["/usr/bin/env"], "User": "",
                    "Labels": {"b": "2"}}),
        );
        assert_eq!(c["Env"], json!(["PATH=/bin", "A=2", "B=3"]));
        assert_eq!(c["Cmd"], Value::Null);
        assert_eq!(c["Entrypoint"], json!(["/usr/bin/env"]));
        assert_eq!(c["User"], "1001");
        assert_eq!(c["Labels"], json!({"a": "1", "b": "2"}));
        let c = merge_create_config(&image, &json!({"Cmd": ["x"]}));
        assert_eq!(
            (c["Cmd"].clone(), c["Entrypoint"].clone()),
            (json!(["x"]), json!(["/ep"]))
        );
    }
}
