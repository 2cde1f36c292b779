//! Containers and their scripted runs: creation from an image and a create request, start
//! (with published ports), the run that plays when its standard input is closed and its delay
//! has passed, `kill`, and the inspect reply.
//!
//! It uses the fake's `fs`, `clock` and seeds, and `config` for the daemon's merging rules.

use std::time::Instant;

use serde_json::{json, Map, Value};

use super::config::{default_host_config, merge_create_config, strings_of};
use super::images::Image;
use super::{State, ZERO_TIME};
use crate::fake::engine::clock;
use crate::fake::engine::fs::{Entry, Fs, Kind, SEED_MTIME};
use crate::fake::engine::FakeRun;

/// First host port handed out for published ports (the daemon's ephemeral range starts here).
const FIRST_HOST_PORT: u16 = 49153;

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
    /// `created` in seconds since the Unix epoch, as the container list shows it.
    pub(crate) created_unix: u64,
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

    /// This container in the `GET /containers/json` reply.
    pub(crate) fn summary_json(&self) -> Value {
        let status = match self.status {
            Status::Created => "Created".to_string(),
            Status::Running => "Up".to_string(),
            Status::Exited => format!("Exited ({})", self.exit_code),
        };
        json!({
            "Id": self.id,
            "Names": [format!("/{}", self.name)],
            "Image": self.config["Image"],
            "ImageID": self.image_id,
            "Command": self.argv().join(" "),
            "Created": self.created_unix,
            "State": self.status.as_str(),
            "Status": status,
            "Labels": match &self.config["Labels"] {
                Value::Null => json!({}),
                labels => labels.clone(),
            },
        })
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

impl State {
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
            fs.mkdir_all(w, 0o755, SEED_MTIME);
        }
        let c = Container {
            id: id.clone(),
            name,
            image_id: image.id.clone(),
            config,
            host_config,
            created: now_text(),
            created_unix: clock::now().0,
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
