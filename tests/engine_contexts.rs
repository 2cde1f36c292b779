//! Finding the engine as the docker CLI does, against real engines: docker contexts made by the
//! real `docker context create` and `docker context use` (one on the engine's socket, one on the
//! TLS proxy with its certificates, one for Podman), the order of `DOCKER_HOST`,
//! `DOCKER_CONTEXT` and `currentContext`, a context that does not exist, the system's trust
//! roots from `SSL_CERT_FILE` and `SSL_CERT_DIR`, and `DOCKER_API_VERSION`.
//!
//! The library reads the process's environment, so each case runs in a child process (this
//! test binary again, running only [`child`]) with exactly the variables the case sets; the
//! parent never changes its own environment. The child prints what it found on `REPORT` lines,
//! which the parent checks.
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (Docker or Podman); the TLS proxy and the Podman socket
//! come from `S2I_TEST_TLS_*` and `S2I_TEST_PODMAN_HOST`. Nothing is created on the engines.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use s2i_docker::{get_default_docker_config, new_engine_api_client, DockerConfig};

/// The variables that choose an engine: the child gets none of the parent's.
const ENGINE_VARIABLES: &[&str] = &[
    "DOCKER_HOST",
    "DOCKER_CONTEXT",
    "DOCKER_CONFIG",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "DOCKER_TLS",
    "DOCKER_API_VERSION",
    "CONTAINER_HOST",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
];

/// The marker that makes [`child`] run.
const CHILD: &str = "S2I_TEST_CONTEXTS_CHILD";

/// A context [`child`] asks for by name ([`DockerConfig::from_context`]) instead of reading the
/// environment.
const NAMED: &str = "S2I_TEST_CONTEXTS_NAMED";

/// Run by the parent in a child process: finds the engine from the environment (or the context
/// [`NAMED`]), connects and asks the version, printing each step's outcome.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    let report = |line: String| println!("REPORT {line}");
    let found = match std::env::var(NAMED) {
        Ok(name) => DockerConfig::from_context(&name),
        Err(_) => DockerConfig::from_env(),
    };
    let config = match found {
        Ok(c) => c,
        Err(e) => {
            report(format!("config: error {e}"));
            let fallback = new_engine_api_client(&get_default_docker_config());
            report(format!(
                "default: {}",
                fallback.err().map_or("connected".into(), |e| e.to_string())
            ));
            return;
        }
    };
    report(format!(
        "config: endpoint={} context={} use_tls={} tls_verify={}",
        config.endpoint,
        config.context.as_deref().unwrap_or("-"),
        config.use_tls,
        config.tls_verify
    ));
    let docker = match new_engine_api_client(&config) {
        Ok(d) => d,
        Err(e) => return report(format!("client: error {e}")),
    };
    match s2i_docker::ops::system::version(&docker) {
        Ok(v) => report(format!(
            "version: ok engine={:?} api={} server_api={}",
            docker.engine().expect("engine known after a call"),
            docker.api_version().expect("negotiated"),
            v.api_version
        )),
        Err(e) => report(format!("version: error {e}")),
    }
}

/// A docker CLI configuration directory of its own, removed on drop.
struct ConfigDir(PathBuf);

impl ConfigDir {
    fn new() -> ConfigDir {
        let dir = std::env::temp_dir().join(common::unique_name("s2i-test-contexts-"));
        std::fs::create_dir_all(&dir).expect("temporary DOCKER_CONFIG");
        ConfigDir(dir)
    }

    fn path(&self) -> &Path {
        &self.0
    }

    /// Runs the docker CLI on this configuration directory.
    fn docker(&self, args: &[&str]) {
        let mut cmd = Command::new("docker");
        for v in ENGINE_VARIABLES {
            cmd.env_remove(v);
        }
        let out = cmd
            .env("DOCKER_CONFIG", self.path())
            .args(args)
            .output()
            .expect("run the docker CLI");
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// The `REPORT` lines of [`child`] run with these variables (and `DOCKER_CONFIG` and `HOME`
    /// pointing here).
    fn child(&self, vars: &[(&str, &str)]) -> String {
        let mut cmd = Command::new(std::env::current_exe().expect("this test binary"));
        for v in ENGINE_VARIABLES {
            cmd.env_remove(v);
        }
        cmd.env(CHILD, "1")
            .env("DOCKER_CONFIG", self.path())
            .env("HOME", self.path())
            .args(["--exact", "child", "--nocapture", "--test-threads=1"]);
        for (k, v) in vars {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("run the child");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child with {vars:?} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.split_once("REPORT ").map(|(_, r)| r))
            .collect();
        assert!(!report.is_empty(), "no report from the child:\n{stdout}");
        report.join("\n")
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether the docker CLI is there; without it the test skips, or fails under `CI=true`.
fn docker_cli() -> bool {
    let found = Command::new("docker")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(!common::in_ci(), "the docker CLI is missing under CI=true");
        eprintln!("skipping: no docker CLI on PATH");
    }
    found
}

fn assert_has(report: &str, want: &str) {
    assert!(report.contains(want), "expected {want:?} in:\n{report}");
}

#[test]
fn contexts_made_by_the_docker_cli() {
    let Some(host) = common::engine_host() else {
        return;
    };
    if !docker_cli() {
        return;
    }
    let dir = ConfigDir::new();
    dir.docker(&[
        "context",
        "create",
        "s2i-test-engine",
        "--docker",
        &format!("host={host}"),
    ]);
    let engine = if common::is_podman() {
        "Podman"
    } else {
        "Docker"
    };

    // `docker context use`: the currentContext of config.json.
    dir.docker(&["context", "use", "s2i-test-engine"]);
    let r = dir.child(&[]);
    assert_has(
        &r,
        &format!("config: endpoint={host} context=s2i-test-engine use_tls=false tls_verify=false"),
    );
    assert_has(&r, &format!("version: ok engine={engine}"));

    // DOCKER_HOST beats the context, and DOCKER_CONTEXT beats currentContext.
    let r = dir.child(&[("DOCKER_HOST", "unix:///nonexistent/s2i-test.sock")]);
    assert_has(
        &r,
        "config: endpoint=unix:///nonexistent/s2i-test.sock context=-",
    );
    assert_has(
        &r,
        "version: error failed to connect to the docker API at unix:///nonexistent/s2i-test.sock",
    );
    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-missing")]);
    let meta = dir
        .path()
        .join("contexts/meta")
        .join(s2i_docker::ops::env::context::context_dir_name(
            "s2i-test-missing",
        ))
        .join("meta.json");
    let missing = format!(
        "docker context \"s2i-test-missing\" not found: {} does not exist (from DOCKER_CONTEXT)",
        meta.display()
    );
    assert_has(&r, &format!("config: error {missing}"));
    // The infallible form does not fall back to the default socket either.
    assert_has(&r, &format!("default: {missing}"));
    // A context asked for by name, as `docker --context NAME`, whatever DOCKER_CONTEXT says.
    let r = dir.child(&[
        (NAMED, "s2i-test-engine"),
        ("DOCKER_CONTEXT", "s2i-test-missing"),
    ]);
    assert_has(
        &r,
        &format!("config: endpoint={host} context=s2i-test-engine"),
    );
    assert_has(&r, &format!("version: ok engine={engine}"));
    let r = dir.child(&[(NAMED, "s2i-test-missing")]);
    assert_has(
        &r,
        "config: error docker context \"s2i-test-missing\" not found: ",
    );
    assert_has(
        &r,
        "meta.json does not exist; `docker context ls` lists the contexts",
    );

    // A currentContext that names a context no longer there.
    dir.docker(&[
        "context",
        "create",
        "s2i-test-gone",
        "--docker",
        &format!("host={host}"),
    ]);
    dir.docker(&["context", "use", "s2i-test-gone"]);
    dir.docker(&["context", "use", "s2i-test-engine"]);
    dir.docker(&["context", "rm", "s2i-test-gone"]);
    std::fs::write(
        dir.path().join("config.json"),
        r#"{"auths":{},"currentContext":"s2i-test-gone"}"#,
    )
    .unwrap();
    let r = dir.child(&[]);
    assert_has(
        &r,
        "config: error docker context \"s2i-test-gone\" not found: ",
    );
    assert_has(
        &r,
        &format!(
            "(the currentContext of {}/config.json)",
            dir.path().display()
        ),
    );

    // `docker context use default`: no context, the engine of the environment.
    dir.docker(&["context", "use", "default"]);
    let r = dir.child(&[("DOCKER_HOST", &host)]);
    assert_has(&r, &format!("config: endpoint={host} context=-"));
    let r = dir.child(&[("DOCKER_CONTEXT", "default"), ("CONTAINER_HOST", &host)]);
    assert_has(&r, &format!("config: endpoint={host} context=-"));
    assert_has(&r, &format!("version: ok engine={engine}"));

    // An ssh:// context is passed on to the host parser as it is.
    dir.docker(&[
        "context",
        "create",
        "s2i-test-ssh",
        "--docker",
        "host=ssh://s2i@127.0.0.1:1",
    ]);
    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-ssh")]);
    assert_has(
        &r,
        "config: endpoint=ssh://s2i@127.0.0.1:1 context=s2i-test-ssh",
    );
}

#[test]
fn a_context_for_podman() {
    let Some(podman) = common::env_or_skip("S2I_TEST_PODMAN_HOST") else {
        return;
    };
    if !docker_cli() {
        return;
    }
    let dir = ConfigDir::new();
    dir.docker(&[
        "context",
        "create",
        "s2i-test-podman",
        "--docker",
        &format!("host={podman}"),
    ]);
    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-podman")]);
    assert_has(
        &r,
        &format!("config: endpoint={podman} context=s2i-test-podman"),
    );
    assert_has(&r, "version: ok engine=Podman");
}

/// The TLS proxy in front of the engine and its certificate directory, or `None` after a skip
/// line (a failure under `CI=true`).
fn tls_proxy() -> Option<(String, PathBuf)> {
    let host = common::env_or_skip("S2I_TEST_TLS_HOST")?;
    let certs = common::env_or_skip("S2I_TEST_TLS_CERT_PATH")?;
    Some((host, PathBuf::from(certs)))
}

#[test]
fn a_context_on_the_tls_proxy() {
    let Some((host, certs)) = tls_proxy() else {
        return;
    };
    if !docker_cli() {
        return;
    }
    let dir = ConfigDir::new();
    let file = |f: &str| certs.join(f).display().to_string();
    dir.docker(&[
        "context",
        "create",
        "s2i-test-tls",
        "--docker",
        &format!(
            "host={host},ca={},cert={},key={}",
            file("ca.pem"),
            file("cert.pem"),
            file("key.pem")
        ),
    ]);
    // The client certificate without the CA, and SkipTLSVerify.
    dir.docker(&[
        "context",
        "create",
        "s2i-test-tls-skip",
        "--docker",
        &format!(
            "host={host},cert={},key={},skip-tls-verify=true",
            file("cert.pem"),
            file("key.pem")
        ),
    ]);
    // No client certificate: the proxy refuses.
    dir.docker(&[
        "context",
        "create",
        "s2i-test-tls-anonymous",
        "--docker",
        &format!("host={host},ca={}", file("ca.pem")),
    ]);

    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-tls")]);
    assert_has(
        &r,
        &format!("config: endpoint={host} context=s2i-test-tls use_tls=true tls_verify=true"),
    );
    if !cfg!(feature = "tls") {
        assert_has(&r, "client: error");
        return;
    }
    assert_has(&r, "version: ok engine=Docker");
    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-tls-skip")]);
    assert_has(&r, "use_tls=true tls_verify=false");
    assert_has(&r, "version: ok engine=Docker");
    let r = dir.child(&[("DOCKER_CONTEXT", "s2i-test-tls-anonymous")]);
    assert_has(&r, "use_tls=true tls_verify=true");
    assert_has(&r, "version: error");
    // The variables of the default context do not reach a context: DOCKER_TLS_VERIFY and a
    // DOCKER_CERT_PATH without a client certificate change nothing.
    let r = dir.child(&[
        ("DOCKER_CONTEXT", "s2i-test-tls"),
        ("DOCKER_TLS_VERIFY", ""),
        ("DOCKER_CERT_PATH", "/nonexistent"),
    ]);
    assert_has(&r, "version: ok engine=Docker");
}

#[test]
fn trust_roots_from_ssl_cert_file_and_ssl_cert_dir() {
    let Some((host, certs)) = tls_proxy() else {
        return;
    };
    if !cfg!(feature = "tls") {
        return;
    }
    // DOCKER_CERT_PATH with the client certificate but no ca.pem: the daemon's certificate must
    // be verified with the system's roots, which the variables point at the proxy's CA.
    let dir = ConfigDir::new();
    let client = dir.path().join("client");
    let roots = dir.path().join("roots");
    for d in [&client, &roots] {
        std::fs::create_dir_all(d).unwrap();
    }
    for f in ["cert.pem", "key.pem"] {
        std::fs::copy(certs.join(f), client.join(f)).unwrap();
    }
    std::fs::copy(certs.join("ca.pem"), roots.join("s2i-test-ca.pem")).unwrap();
    let ca = certs.join("ca.pem").display().to_string();
    let client = client.display().to_string();
    let roots = roots.display().to_string();
    let empty = dir.path().join("empty-roots");
    std::fs::create_dir_all(&empty).unwrap();
    let empty = empty.display().to_string();
    let base = [
        ("DOCKER_HOST", host.as_str()),
        ("DOCKER_TLS_VERIFY", "1"),
        ("DOCKER_CERT_PATH", client.as_str()),
    ];
    let with = |extra: &[(&'static str, &str)]| {
        let mut vars: Vec<(&str, &str)> = base.to_vec();
        vars.extend_from_slice(extra);
        dir.child(&vars)
    };

    // The system's roots alone do not know the proxy's CA.
    let r = with(&[]);
    assert_has(
        &r,
        "version: error tls: invalid peer certificate: UnknownIssuer",
    );
    // SSL_CERT_FILE replaces the bundle; the directories are still read.
    let r = with(&[("SSL_CERT_FILE", &ca), ("SSL_CERT_DIR", &empty)]);
    assert_has(&r, "version: ok engine=Docker");
    // SSL_CERT_DIR: every file of every listed directory.
    let r = with(&[
        ("SSL_CERT_FILE", "/nonexistent/bundle.pem"),
        ("SSL_CERT_DIR", &format!("{empty}:{roots}")),
    ]);
    assert_has(&r, "version: ok engine=Docker");
    let r = with(&[
        ("SSL_CERT_FILE", "/nonexistent/bundle.pem"),
        ("SSL_CERT_DIR", &empty),
    ]);
    assert_has(
        &r,
        "version: error tls: invalid peer certificate: UnknownIssuer",
    );
}

#[test]
fn api_versions_from_the_environment() {
    let Some(host) = common::engine_host() else {
        return;
    };
    let dir = ConfigDir::new();
    let r = dir.child(&[("DOCKER_HOST", &host), ("DOCKER_API_VERSION", "1.24")]);
    assert_has(
        &r,
        "client: error DOCKER_API_VERSION: API version 1.24 is older than 1.30, the oldest this \
         client supports; unset it to negotiate the version with the engine",
    );
    let r = dir.child(&[("DOCKER_HOST", &host), ("DOCKER_API_VERSION", "v1.40")]);
    assert_has(&r, "version: ok");
    assert_has(&r, "api=1.40");
    // Negotiated: the engine's version, up to the client's newest.
    let r = dir.child(&[("DOCKER_HOST", &host)]);
    let server = r
        .split("server_api=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or_else(|| panic!("no version in:\n{r}"))
        .to_string();
    let version = |v: &str| -> (u32, u32) {
        let (a, b) = v.split_once('.').unwrap();
        (a.parse().unwrap(), b.parse().unwrap())
    };
    let max = s2i_docker::ops::engine::MAX_API_VERSION;
    let want = if version(&server) < version(max) {
        server.clone()
    } else {
        max.to_string()
    };
    assert_has(&r, &format!("api={want} server_api={server}"));
}
