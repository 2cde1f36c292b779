//! The seeds of the fake daemon: [`FakeImage`], an image's config and files, and [`FakeRun`],
//! how a container's run goes. Both are plain builders; the state turns them into images and
//! runs when the fake starts or a container does.
//!
//! Uses only the fake's own filesystem (`fs`) and the `Config` skeleton of `state`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::fs::{self, Entry, Fs, Kind};
use super::state::empty_config;

/// An image to seed the fake with: its config and its files.
///
/// The default image has `/` and `/tmp` (mode `1777`), no environment, no command.
///
/// ```
/// use s2i_docker::fake::engine::FakeImage;
///
/// let builder = FakeImage::default()
///     .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
///     .env("APP_ROOT", "/opt/app-root")
///     .user("1001")
///     .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755);
/// ```
#[derive(Clone, Debug)]
pub struct FakeImage {
    pub(crate) labels: BTreeMap<String, String>,
    pub(crate) env: Vec<String>,
    pub(crate) user: String,
    pub(crate) workdir: String,
    pub(crate) entrypoint: Option<Vec<String>>,
    pub(crate) cmd: Option<Vec<String>>,
    pub(crate) onbuild: Vec<String>,
    pub(crate) exposed: Vec<String>,
    pub(crate) fs: Fs,
}

impl Default for FakeImage {
    fn default() -> Self {
        let mut fs = Fs::root();
        fs.mkdir_all("/tmp", 0o1777, fs::SEED_MTIME);
        FakeImage {
            labels: Default::default(),
            env: Vec::new(),
            user: String::new(),
            workdir: String::new(),
            entrypoint: None,
            cmd: None,
            onbuild: Vec::new(),
            exposed: Vec::new(),
            fs,
        }
    }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

impl FakeImage {
    /// Adds label `key=value` (`Config.Labels`).
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.labels.insert(key.to_string(), value.to_string());
        self
    }

    /// Adds `NAME=value` to `Config.Env`.
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push(format!("{name}={value}"));
        self
    }

    /// Sets `Config.User`.
    pub fn user(mut self, user: &str) -> Self {
        self.user = user.to_string();
        self
    }

    /// Sets `Config.WorkingDir` (and creates the directory).
    pub fn workdir(mut self, dir: &str) -> Self {
        self.workdir = dir.to_string();
        self.fs.mkdir_all(dir, 0o755, fs::SEED_MTIME);
        self
    }

    /// Sets `Config.Entrypoint`.
    pub fn entrypoint(mut self, argv: &[&str]) -> Self {
        self.entrypoint = Some(strings(argv));
        self
    }

    /// Sets `Config.Cmd`.
    pub fn cmd(mut self, argv: &[&str]) -> Self {
        self.cmd = Some(strings(argv));
        self
    }

    /// Adds an `ONBUILD` trigger (`Config.OnBuild`), e.g. `"USER 1001"`.
    pub fn onbuild(mut self, instruction: &str) -> Self {
        self.onbuild.push(instruction.to_string());
        self
    }

    /// Adds an exposed port (`Config.ExposedPorts`), e.g. `"8080/tcp"`.
    pub fn expose(mut self, port: &str) -> Self {
        self.exposed.push(port.to_string());
        self
    }

    /// Adds a regular file (parents are created as needed, mode `0755`).
    pub fn file(mut self, path: &str, bytes: &[u8], mode: u32) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: mode & 0o7777,
                kind: Kind::File(bytes.to_vec()),
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }

    /// Adds a directory.
    pub fn dir(mut self, path: &str, mode: u32) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: mode & 0o7777,
                kind: Kind::Dir,
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }

    /// Adds a symbolic link to `target`.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.fs.put(
            path,
            Entry {
                mode: 0o777,
                kind: Kind::Symlink(target.to_string()),
                mtime: fs::SEED_MTIME,
            },
        );
        self
    }
}

/// How a container's run goes: its output, exit code, duration and effects.
///
/// ```
/// use std::time::Duration;
/// use s2i_docker::fake::engine::FakeRun;
///
/// let failing = FakeRun::new()
///     .stderr(b"assemble: missing Gemfile\n")
///     .exit_code(1)
///     .delay(Duration::from_millis(20));
/// ```
#[derive(Clone, Debug, Default)]
pub struct FakeRun {
    pub(crate) stdout: Vec<u8>,
    pub(crate) stderr: Vec<u8>,
    pub(crate) exit_code: i64,
    pub(crate) delay: Duration,
    pub(crate) oom_killed: bool,
    pub(crate) error: String,
    pub(crate) writes: Vec<(String, Entry)>,
}

impl FakeRun {
    /// A run that prints nothing and exits 0 at once.
    pub fn new() -> Self {
        FakeRun::default()
    }

    /// What the run writes to its standard output.
    pub fn stdout(mut self, bytes: &[u8]) -> Self {
        self.stdout = bytes.to_vec();
        self
    }

    /// What the run writes to its standard error.
    pub fn stderr(mut self, bytes: &[u8]) -> Self {
        self.stderr = bytes.to_vec();
        self
    }

    /// The exit code (`State.ExitCode`, and `StatusCode` of `wait`).
    pub fn exit_code(mut self, code: i64) -> Self {
        self.exit_code = code;
        self
    }

    /// How long the run lasts once started (and once its standard input is closed).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    /// Reports the run as killed for lack of memory (`State.OOMKilled`).
    pub fn oom_killed(mut self, yes: bool) -> Self {
        self.oom_killed = yes;
        self
    }

    /// Sets `State.Error`.
    pub fn error(mut self, message: &str) -> Self {
        self.error = message.to_string();
        self
    }

    /// A file the run creates in the container (e.g. a build artifact).
    pub fn writes(mut self, path: &str, bytes: &[u8], mode: u32) -> Self {
        self.writes.push((
            path.to_string(),
            Entry {
                mode: mode & 0o7777,
                kind: Kind::File(bytes.to_vec()),
                mtime: fs::SEED_MTIME,
            },
        ));
        self
    }
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
