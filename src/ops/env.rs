//! Where the engine is, found the way the docker CLI finds it: [`DockerConfig`] and
//! [`get_default_docker_config`] (`DOCKER_HOST`, docker contexts, `CONTAINER_HOST`,
//! `DOCKER_CERT_PATH`, `DOCKER_TLS_VERIFY`, `DOCKER_TLS`, the sockets of Docker and Podman), and
//! the docker CLI's configuration directory ([`dir`]).
//!
//! # How the engine is chosen
//!
//! 1. `DOCKER_HOST`, when set: that engine, with TLS from `DOCKER_TLS_VERIFY`, `DOCKER_TLS` and
//!    the certificates in `DOCKER_CERT_PATH` (else in [`dir()`]).
//! 2. Else the docker context that `DOCKER_CONTEXT` names, else the `currentContext` of
//!    `config.json` in [`dir()`] (what `docker context use NAME` writes): the context's
//!    `Endpoints.docker.Host`, and TLS when it has certificates or `SkipTLSVerify` (see
//!    [`context`]). A context that does not exist is an error naming it and the file looked
//!    for, never a quiet fall back to another engine. The context `default` means no context.
//! 3. Else (the `default` context) `CONTAINER_HOST`, Podman's variable, passed on as it is
//!    (an `ssh://` URL included: the host parser decides what it accepts).
//! 4. Else the first of [`DEFAULT_HOST`], `$XDG_RUNTIME_DIR/podman/podman.sock` and
//!    [`PODMAN_SYSTEM_HOST`] whose socket exists. Only a socket that does not exist is passed
//!    over: one that refuses the connection, or that this user may not open, is the engine,
//!    and its error says so (a permission error with the usual fixes: the `docker` group, a
//!    rootless engine's socket). When none exists, [`DEFAULT_HOST`], and the connection error
//!    names every socket looked at.
//!
//! Differences from the docker CLI: steps 3 and 4 (the CLI knows neither Podman's variable nor
//! its sockets); a context's CA is added to the system's roots, as `DOCKER_CERT_PATH`'s is (the
//! CLI trusts a context's CA alone); there is no `--context` or `--host` flag (use
//! [`DockerConfig::from_context`] or fill a [`DockerConfig`] by hand).
//!
//! Uses nothing else of the crate but `error`: it reads variables and files and probes
//! sockets; [`new_engine_api_client`](super::engine::new_engine_api_client) turns the result
//! into a client.

use std::path::{Path, PathBuf};

use crate::error::Result;

pub mod context;
mod sha256;

use context::Context;

/// How to reach the engine (the reference's `api.DockerConfig`).
///
/// [`get_default_docker_config`] fills it from the docker CLI's
/// environment variables and contexts; [`new_engine_api_client`](crate::new_engine_api_client)
/// connects with it.
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
    /// when no variable named an engine and none of them existed (`endpoint` is the first);
    /// connection errors name them all. Empty otherwise: leave it empty when filling the rest by
    /// hand.
    pub tried_endpoints: Vec<String>,
    /// The docker context the endpoint and certificates come from; `None` for the `default`
    /// context (the variables, or the sockets found).
    pub context: Option<String>,
    /// Why the environment names no usable engine (a docker context that does not exist, an
    /// unreadable `config.json`, ...), set by [`get_default_docker_config`], which cannot fail;
    /// [`new_engine_api_client`](crate::new_engine_api_client) then fails with this text
    /// instead of connecting anywhere. `None` otherwise.
    pub error: Option<String>,
}

impl DockerConfig {
    /// As [`get_default_docker_config`], with its error as an error: a docker context that
    /// does not exist, a `config.json` or `meta.json` that cannot be read.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`](crate::Error::InvalidInput) naming the context, or the file, and
    /// what to change.
    ///
    /// ```
    /// use s2i_docker::DockerConfig;
    ///
    /// let config_dir = std::env::temp_dir().join(format!("s2i-docker-env-doc-{}", std::process::id()));
    /// std::fs::create_dir_all(&config_dir)?;
    /// std::fs::write(config_dir.join("config.json"), r#"{"currentContext":"gone"}"#)?;
    /// std::env::set_var("DOCKER_CONFIG", &config_dir);
    /// std::env::remove_var("DOCKER_HOST");
    /// std::env::remove_var("DOCKER_CONTEXT");
    ///
    /// let e = DockerConfig::from_env().unwrap_err().to_string();
    /// assert!(e.starts_with("docker context \"gone\" not found: "), "{e}");
    /// // The infallible form carries the error to the client, which refuses to connect.
    /// let config = s2i_docker::get_default_docker_config();
    /// assert_eq!(config.error.as_deref(), Some(e.as_str()));
    /// assert!(s2i_docker::new_engine_api_client(&config).is_err());
    /// # std::fs::remove_dir_all(&config_dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_env() -> Result<DockerConfig> {
        config_from(&|name| std::env::var(name).ok(), &home_dir, &|host| {
            probe(host)
        })
    }

    /// The engine of the docker context `name` in [`dir()`], as `docker --context NAME` uses
    /// it (`default`: as [`from_env`](DockerConfig::from_env) without a context).
    ///
    /// # Errors
    ///
    /// As [`context::load`]: the context does not exist or its files cannot be read.
    ///
    /// ```
    /// use s2i_docker::ops::env::context::context_dir_name;
    /// use s2i_docker::DockerConfig;
    ///
    /// // What `docker context create remote --docker host=tcp://10.0.0.5:2376,ca=...` writes.
    /// let config_dir = std::env::temp_dir().join(format!("s2i-docker-named-doc-{}", std::process::id()));
    /// let hash = context_dir_name("remote");
    /// let meta = config_dir.join("contexts/meta").join(&hash);
    /// let tls = config_dir.join("contexts/tls").join(&hash).join("docker");
    /// std::fs::create_dir_all(&meta)?;
    /// std::fs::create_dir_all(&tls)?;
    /// std::fs::write(
    ///     meta.join("meta.json"),
    ///     r#"{"Name":"remote","Metadata":{},"Endpoints":{"docker":{"Host":"tcp://10.0.0.5:2376","SkipTLSVerify":false}}}"#,
    /// )?;
    /// std::fs::write(tls.join("ca.pem"), "-----BEGIN CERTIFICATE-----\n...")?;
    /// std::env::set_var("DOCKER_CONFIG", &config_dir);
    ///
    /// let remote = DockerConfig::from_context("remote")?;
    /// assert_eq!(remote.endpoint, "tcp://10.0.0.5:2376");
    /// assert_eq!(remote.context.as_deref(), Some("remote"));
    /// assert_eq!(remote.ca_file, tls.join("ca.pem"));
    /// assert!(remote.tls_verify);
    /// assert!(DockerConfig::from_context("nope").is_err());
    /// # std::fs::remove_dir_all(&config_dir)?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_context(name: &str) -> Result<DockerConfig> {
        let env = |name: &str| std::env::var(name).ok();
        if name == context::DEFAULT_CONTEXT {
            return default_context(&env, &home_dir, &|host| probe(host));
        }
        let ctx = context::load(&dir(), name)?;
        Ok(from_context(ctx))
    }
}

/// Where the engine is when nothing says otherwise.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// The socket of a rootful Podman service (looked for after [`DEFAULT_HOST`] and the rootless
/// one, `$XDG_RUNTIME_DIR/podman/podman.sock`).
pub const PODMAN_SYSTEM_HOST: &str = "unix:///run/podman/podman.sock";

/// Finds the engine as the docker CLI does (see the [module documentation](self) for the
/// order), and looks for Podman when nothing names an engine.
///
/// - `endpoint`: `DOCKER_HOST`; else the docker context selected by `DOCKER_CONTEXT` or
///   `config.json`'s `currentContext`; else `CONTAINER_HOST` (Podman's variable); else the
///   first of [`DEFAULT_HOST`], `$XDG_RUNTIME_DIR/podman/podman.sock` and
///   [`PODMAN_SYSTEM_HOST`] whose socket exists (nothing is sent); else [`DEFAULT_HOST`], with
///   all of them in `tried_endpoints` so that connection errors name them.
/// - certificates: `cert.pem`, `key.pem` and `ca.pem` in the context's TLS directory; without a
///   context in `DOCKER_CERT_PATH`, else in [`dir()`] (`DOCKER_CONFIG` or `~/.docker`).
/// - `tls_verify` / `use_tls`: true when `DOCKER_TLS_VERIFY` / `DOCKER_TLS` is set to anything
///   non-empty, even `0` or `false` (as the docker CLI reads them); for a context, TLS when it
///   has certificates or `SkipTLSVerify`, verified unless `SkipTLSVerify`.
///
/// It cannot fail: when the environment names an engine that cannot be used (a context that
/// does not exist, ...), the result carries the reason in [`DockerConfig::error`] and
/// [`new_engine_api_client`](crate::new_engine_api_client) fails with it.
/// [`DockerConfig::from_env`] returns it as an error at once.
pub fn get_default_docker_config() -> DockerConfig {
    DockerConfig::from_env().unwrap_or_else(|e| DockerConfig {
        error: Some(e.to_string()),
        ..Default::default()
    })
}

/// What probing a socket found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probe {
    /// It accepted a connection.
    Answers,
    /// There is no socket there: look further.
    Absent,
    /// It is there but refused (not running, permission denied, ...): this is the engine, and
    /// its error is the one to show.
    Fails,
}

fn config_from(
    env: &dyn Fn(&str) -> Option<String>,
    home: &dyn Fn() -> Option<PathBuf>,
    probe: &dyn Fn(&str) -> Probe,
) -> Result<DockerConfig> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    if set("DOCKER_HOST").is_none() {
        let config_dir = dir_from(env, home);
        if let Some((name, why)) = context::selected(set("DOCKER_CONTEXT"), &config_dir)? {
            let ctx = context::load_selected(&config_dir, &name, &why)?;
            return Ok(from_context(ctx));
        }
    }
    default_context(env, home, probe)
}

/// The `default` context: the variables, else the sockets found.
fn default_context(
    env: &dyn Fn(&str) -> Option<String>,
    home: &dyn Fn() -> Option<PathBuf>,
    probe: &dyn Fn(&str) -> Probe,
) -> Result<DockerConfig> {
    let set = |name: &str| env(name).filter(|v| !v.is_empty());
    let named = set("DOCKER_HOST").or_else(|| set("CONTAINER_HOST"));
    let (endpoint, tried_endpoints) = match named {
        Some(host) => (host, Vec::new()),
        None => discover(candidate_hosts(env), probe),
    };
    let cert_path = set("DOCKER_CERT_PATH")
        .map(PathBuf::from)
        .unwrap_or_else(|| dir_from(env, home));
    Ok(DockerConfig {
        endpoint,
        cert_file: cert_path.join("cert.pem"),
        key_file: cert_path.join("key.pem"),
        ca_file: cert_path.join("ca.pem"),
        use_tls: set("DOCKER_TLS").is_some(),
        tls_verify: set("DOCKER_TLS_VERIFY").is_some(),
        tried_endpoints,
        context: None,
        error: None,
    })
}

/// The engine of a docker context: its host, and TLS as the docker CLI sets it up from the
/// context's files and `SkipTLSVerify`.
fn from_context(ctx: Context) -> DockerConfig {
    let endpoint = if ctx.host.is_empty() {
        DEFAULT_HOST.to_string()
    } else {
        ctx.host
    };
    DockerConfig {
        endpoint,
        cert_file: ctx.tls_dir.join("cert.pem"),
        key_file: ctx.tls_dir.join("key.pem"),
        ca_file: ctx.tls_dir.join("ca.pem"),
        use_tls: ctx.has_tls_data || ctx.skip_tls_verify,
        tls_verify: ctx.has_tls_data && !ctx.skip_tls_verify,
        tried_endpoints: Vec::new(),
        context: Some(ctx.name),
        error: None,
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

/// The first candidate whose socket is there (answering or not), with no list; else the first
/// candidate, with all of them.
fn discover(candidates: Vec<String>, probe: &dyn Fn(&str) -> Probe) -> (String, Vec<String>) {
    if let Some(found) = candidates.iter().find(|h| probe(h) != Probe::Absent) {
        return (found.clone(), Vec::new());
    }
    let first = candidates
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_HOST.to_string());
    (first, candidates)
}

/// Connects to a `unix://` socket and hangs up (a socket-activated service is started by it).
/// Only "no such file" (or a path through a non-directory) means there is no socket.
fn probe(host: &str) -> Probe {
    let Some(path) = host.strip_prefix("unix://") else {
        return Probe::Absent;
    };
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Probe::Answers,
        Err(e)
            if e.kind() == std::io::ErrorKind::NotFound
                || e.raw_os_error() == Some(libc::ENOTDIR) =>
        {
            Probe::Absent
        }
        Err(e) => {
            log::debug!("{host}: {e}");
            Probe::Fails
        }
    }
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
    //! Finding the engine: variables, contexts, sockets.
    use super::*;
    use crate::fake::testing::wire::TempDir;

    mod cases;
}
