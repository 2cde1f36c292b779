//! Where the engine is, as the docker CLI's environment says: [`DockerConfig`] and
//! [`get_default_docker_config`] (`DOCKER_HOST`, `CONTAINER_HOST`, `DOCKER_CERT_PATH`,
//! `DOCKER_TLS_VERIFY`, `DOCKER_TLS`, the sockets of Docker and Podman), and the docker CLI's
//! configuration directory ([`dir`]).
//!
//! Uses nothing else of the crate: it reads variables and probes sockets;
//! [`new_engine_api_client`](super::engine::new_engine_api_client) turns the result into a client.

use std::path::{Path, PathBuf};

/// How to reach the engine (the reference's `api.DockerConfig`).
///
/// [`get_default_docker_config`] fills it from the docker CLI's
/// environment variables; [`new_engine_api_client`](crate::new_engine_api_client) connects with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DockerConfig {
    /// `unix:///path` or `tcp://host:port[/base-path]`.
    pub endpoint: String,
    /// The client certificate (PEM), used when the file exists.
    pub cert_file: PathBuf,
    /// The client certificate's key (PEM), used when the file exists.
    pub key_file: PathBuf,
    /// The CA that signed the daemon's certificate (PEM), used when the file exists.
    pub ca_file: PathBuf,
    /// Speak TLS (`DOCKER_TLS`).
    pub use_tls: bool,
    /// Speak TLS and verify the daemon's certificate (`DOCKER_TLS_VERIFY`).
    pub tls_verify: bool,
    /// The sockets [`get_default_docker_config`] looked at
    /// when no variable named an engine and none of them answered (`endpoint` is the first);
    /// connection errors name them all. Empty otherwise: leave it empty when filling the rest by
    /// hand.
    pub tried_endpoints: Vec<String>,
}

/// Where the engine is when `DOCKER_HOST` says nothing.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The socket of a rootful Podman service (looked for after [`DEFAULT_HOST`] and the rootless
/// one, `$XDG_RUNTIME_DIR/podman/podman.sock`).
pub const PODMAN_SYSTEM_HOST: &str = "unix:///run/podman/podman.sock";

/// Reads `DOCKER_HOST`, `DOCKER_CERT_PATH`, `DOCKER_TLS_VERIFY` and `DOCKER_TLS` as the reference
/// does, and looks for Podman when no variable names an engine.
///
/// - `endpoint`: `DOCKER_HOST`; else `CONTAINER_HOST` when it is a `unix://` or `tcp://` URL
///   (Podman's variable); else the first of [`DEFAULT_HOST`],
///   `$XDG_RUNTIME_DIR/podman/podman.sock` and [`PODMAN_SYSTEM_HOST`] that accepts a connection
///   (nothing is sent); else [`DEFAULT_HOST`], with all of them in `tried_endpoints` so that
///   connection errors name them.
/// - certificates: `cert.pem`, `key.pem` and `ca.pem` in `DOCKER_CERT_PATH`, else in
///   [`dir()`] (`DOCKER_CONFIG` or `~/.docker`).
/// - `tls_verify` / `use_tls`: true when `DOCKER_TLS_VERIFY` / `DOCKER_TLS` is set to anything
///   non-empty, even `0` or `false` (as the docker CLI reads them).
pub fn get_default_docker_config() -> DockerConfig {
    config_from(
        &|name| std::env::var(name).ok(),
        &home_dir,
        &accepts_connections,
    )
}

fn config_from(
    env: &dyn Fn(&str) -> Option<String>,
    home: &dyn Fn() -> Option<PathBuf>,
    answers: &dyn Fn(&str) -> bool,
) -> DockerConfig {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let named = set("DOCKER_HOST").or_else(|| {
        set("CONTAINER_HOST").filter(|h| h.starts_with("unix://") || h.starts_with("tcp://"))
    });
    let (endpoint, tried_endpoints) = match named {
        Some(host) => (host, Vec::new()),
        None => discover(candidate_hosts(env), answers),
    };
    let cert_path = set("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir_from(env, home));
    DockerConfig {
        endpoint,
        cert_file: cert_path.join("cert.pem"),
        key_file: cert_path.join("key.pem"),
        ca_file: cert_path.join("ca.pem"),
        use_tls: set("DOCKER_TLS").is_some(),
        tls_verify: set("DOCKER_TLS_VERIFY").is_some(),
        tried_endpoints,
    }
}

/// Where to look for an engine, in order: Docker's socket, rootless Podman's, rootful Podman's.
fn candidate_hosts(env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
    let mut hosts = vec![DEFAULT_HOST.to_string()];
    if let Some(dir) = env("XDG_RUNTIME_DIR").filter(|d| d.starts_with('/')) {
        hosts.push(format!(
            "unix://{}/podman/podman.sock",
            dir.trim_end_matches('/')
        ));
    }
    hosts.push(PODMAN_SYSTEM_HOST.to_string());
    let mut seen = std::collections::HashSet::new();
    hosts.retain(|h| seen.insert(h.clone()));
    hosts
}

/// The first candidate that answers, with no list; else the first candidate, with all of them.
fn discover(candidates: Vec<String>, answers: &dyn Fn(&str) -> bool) -> (String, Vec<String>) {
    if let Some(found) = candidates.iter().find(|h| answers(h)) {
        return (found.clone(), Vec::new());
    }
    let first = candidates
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    (first, candidates)
}

/// Whether something listens on a `unix://` socket (connects and hangs up; a socket-activated
/// service is started by it).
fn accepts_connections(host: &str) -> bool {
    host.strip_prefix("unix://")
        .is_some_and(|path| std::os::unix::net::UnixStream::connect(path).is_ok())
}

/// `a`, `a or b`, `a, b or c`.
pub(crate) fn or_list(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

/// The docker CLI's configuration directory: `DOCKER_CONFIG`, else `<home>/.docker`.
///
/// The home directory is `$HOME`, else the current user's entry in `/etc/passwd`.
pub fn dir() -> PathBuf {
    dir_from(&|name| std::env::var(name).ok(), &home_dir)
}

fn dir_from(env: &dyn Fn(&str) -> Option<String>, home: &dyn Fn() -> Option<PathBuf>) -> PathBuf {
    match env("DOCKER_CONFIG").filter(|v| !v.is_empty()) {
        Some(d) => PathBuf::from(d),
        None => home().unwrap_or_default().join(".docker"),
    }
}

/// `$HOME`, else the home directory of the process's real user in `/etc/passwd`.
fn home_dir() -> Option<PathBuf> {
    if let Some(h) = std::env::var_os("HOME").filter(|h| !h.is_empty()) {
        return Some(PathBuf::from(h));
    }
    // No `getuid()` without unsafe code: the kernel tells the real uid in /proc/self/status.
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_string();
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd_home(&passwd, &uid)
}

/// The home directory of `uid` in a passwd file (`name:pw:uid:gid:gecos:home:shell`).
fn passwd_home(passwd: &str, uid: &str) -> Option<PathBuf> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() >= 6 && fields[2] == uid && !fields[5].is_empty())
            .then(|| PathBuf::from(fields[5]))
    })
}

/// The path if it may exist: only "does not exist" drops it (a permission error keeps it, so the
/// TLS setup reports it).
pub(crate) fn existing(path: &Path) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        return None;
    }
    match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        _ => Some(path.to_path_buf()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::ops::engine::new_engine_api_client;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)], home: Option<&str>) -> DockerConfig {
        config_answered(vars, home, &[])
    }

    /// The configuration when exactly the sockets `listening` answer.
    fn config_answered(
        vars: &[(&str, &str)],
        home: Option<&str>,
        listening: &[&str],
    ) -> DockerConfig {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let home = home.map(PathBuf::from);
        config_from(&|name| vars.get(name).cloned(), &|| home.clone(), &|host| {
            listening.contains(&host)
        })
    }

    #[test]
    fn looks_for_podman_when_no_variable_names_an_engine() {
        let rootless = "unix:///run/user/1000/podman/podman.sock";
        let xdg = [("XDG_RUNTIME_DIR", "/run/user/1000")];
        // Docker answers: Docker, even with Podman around.
        let c = config_answered(&xdg, None, &[DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert!(c.tried_endpoints.is_empty());
        // Rootless Podman before rootful Podman.
        let c = config_answered(&xdg, None, &[rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, rootless);
        assert!(c.tried_endpoints.is_empty());
        let c = config_answered(&xdg, None, &[PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
        // Without XDG_RUNTIME_DIR (or a relative one) there is no rootless socket to look at.
        let c = config_answered(&[], None, &[rootless, PODMAN_SYSTEM_HOST]);
        assert_eq!(c.endpoint, PODMAN_SYSTEM_HOST);
        let c = config_answered(&[("XDG_RUNTIME_DIR", "run")], None, &[]);
        assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
        // Nothing answers: Docker's socket, and the list for the connection error.
        let c = config_answered(&[("XDG_RUNTIME_DIR", "/run/user/1000/")], None, &[]);
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(
            c.tried_endpoints,
            [DEFAULT_HOST, rootless, PODMAN_SYSTEM_HOST]
        );
        // Root's runtime directory is /run: the rootful socket is listed once.
        let c = config_answered(&[("XDG_RUNTIME_DIR", "/run")], None, &[]);
        assert_eq!(c.tried_endpoints, [DEFAULT_HOST, PODMAN_SYSTEM_HOST]);
        // A variable that names an engine is used as it is: nothing is looked at.
        for vars in [
            [("DOCKER_HOST", "tcp://10.0.0.1:2375")],
            [("CONTAINER_HOST", "unix:///somewhere/podman.sock")],
        ] {
            let c = config_from(
                &|name| {
                    vars.iter()
                        .find(|(k, _)| *k == name)
                        .map(|(_, v)| v.to_string())
                },
                &|| None,
                &|host| panic!("{host} looked at"),
            );
            assert!(c.tried_endpoints.is_empty());
            assert_eq!(c.endpoint, vars[0].1);
        }
    }

    #[test]
    fn connection_errors_name_the_sockets_tried() {
        assert_eq!(or_list(&[]), "");
        assert_eq!(or_list(&["a".into()]), "a");
        assert_eq!(or_list(&["a".into(), "b".into()]), "a or b");
        assert_eq!(or_list(&["a".into(), "b".into(), "c".into()]), "a, b or c");

        let dir = std::env::temp_dir().join(format!("s2i-docker-discovery-{}", std::process::id()));
        let hosts: Vec<String> = ["docker.sock", "podman/podman.sock", "podman.sock"]
            .iter()
            .map(|f| format!("unix://{}/{f}", dir.display()))
            .collect();
        let (endpoint, tried) = discover(hosts.clone(), &accepts_connections);
        assert_eq!(endpoint, hosts[0]);
        let config = DockerConfig {
            endpoint,
            tried_endpoints: tried,
            ..Default::default()
        };
        let docker = new_engine_api_client(&config).unwrap();
        let e = crate::ops::system::ping(&docker).unwrap_err();
        assert!(matches!(e, Error::Connect { .. }), "{e:?}");
        let text = e.to_string();
        assert!(
            text.starts_with(&format!(
                "failed to connect to the docker API at {}, {} or {}; check if the path is correct",
                hosts[0], hosts[1], hosts[2]
            )),
            "{text}"
        );
        // An endpoint set by hand is named alone.
        let named = DockerConfig {
            endpoint: hosts[1].clone(),
            tried_endpoints: hosts.clone(),
            ..Default::default()
        };
        let e = crate::ops::system::ping(&new_engine_api_client(&named).unwrap()).unwrap_err();
        assert!(!e.to_string().contains(&hosts[0]), "{e}");

        // A socket that accepts connections is found.
        std::fs::create_dir_all(dir.join("podman")).unwrap();
        let path = dir.join("podman/podman.sock");
        let _ = std::fs::remove_file(&path);
        let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
        assert_eq!(
            discover(hosts.clone(), &accepts_connections),
            (hosts[1].clone(), vec![])
        );
        drop(listener);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!accepts_connections("tcp://127.0.0.1:1"));
    }

    #[test]
    fn default_config_from_environment() {
        let c = config(&[], Some("/home/u"));
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(c.ca_file, PathBuf::from("/home/u/.docker/ca.pem"));
        assert_eq!(c.cert_file, PathBuf::from("/home/u/.docker/cert.pem"));
        assert_eq!(c.key_file, PathBuf::from("/home/u/.docker/key.pem"));
        assert!(!c.use_tls && !c.tls_verify);

        let c = config(
            &[
                ("DOCKER_HOST", "tcp://10.0.0.1:2376"),
                ("CONTAINER_HOST", "unix:///run/podman.sock"),
                ("DOCKER_CERT_PATH", "/certs"),
                ("DOCKER_TLS_VERIFY", "0"),
                ("DOCKER_CONFIG", "/cfg"),
            ],
            Some("/home/u"),
        );
        assert_eq!(c.endpoint, "tcp://10.0.0.1:2376");
        assert_eq!(c.key_file, PathBuf::from("/certs/key.pem"));
        // Any non-empty value turns verification on, "0" included (as the docker CLI does).
        assert!(c.tls_verify && !c.use_tls);

        let c = config(
            &[
                ("CONTAINER_HOST", "unix:///run/podman.sock"),
                ("DOCKER_CONFIG", "/cfg"),
                ("DOCKER_TLS", "1"),
                ("DOCKER_TLS_VERIFY", ""),
            ],
            None,
        );
        assert_eq!(c.endpoint, "unix:///run/podman.sock");
        assert_eq!(c.ca_file, PathBuf::from("/cfg/ca.pem"));
        assert!(c.use_tls && !c.tls_verify);

        // Podman's ssh:// hosts are not for this client.
        let c = config(
            &[("CONTAINER_HOST", "ssh://core@host/run/podman.sock")],
            None,
        );
        assert_eq!(c.endpoint, DEFAULT_HOST);
        assert_eq!(c.ca_file, PathBuf::from(".docker/ca.pem"));
    }

    #[test]
    fn home_from_passwd() {
        let passwd = "root:x:0:0:root:/root:/bin/bash\n\
                      daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
                      broken\n\
                      u:x:1000:1000:U,,,:/home/u:/bin/sh\n";
        assert_eq!(passwd_home(passwd, "0"), Some(PathBuf::from("/root")));
        assert_eq!(passwd_home(passwd, "1000"), Some(PathBuf::from("/home/u")));
        assert_eq!(passwd_home(passwd, "42"), None);
        assert!(dir().ends_with(".docker") || std::env::var_os("DOCKER_CONFIG").is_some());
    }

    #[test]
    fn tls_files_are_used_only_when_present() {
        let dir = std::env::temp_dir();
        assert_eq!(existing(Path::new("")), None);
        assert_eq!(existing(&dir.join("no-such-file-s2i-docker.pem")), None);
        assert_eq!(existing(&dir), Some(dir.clone()));
    }
}
