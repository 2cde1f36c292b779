//! Registry authentication against a real registry: Debian's `docker-registry` with htpasswd
//! authentication on 127.0.0.1.
//!
//! Each test builds a busybox image through the library, tags it `<registry>/s2i-test-...:1`,
//! pushes it with the registry's credentials, removes every local tag, and then pulls it back
//! through [`DockerClient`] and the package-level [`pull_image`] with credentials taken from a
//! docker `config.json`: its `auths` entry, or a credential helper found on `PATH`.
//!
//! - The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`); the same
//!   suite runs against Podman's Docker-compatible socket.
//! - The registry is `S2I_TEST_REGISTRY` (`127.0.0.1:PORT`) with `S2I_TEST_REGISTRY_USER` and
//!   `S2I_TEST_REGISTRY_PASSWORD`, as `bash .ci/run` starts it. When those are unset, each test
//!   starts a registry of its own (in a temporary directory, on a free port), so `cargo test`
//!   works wherever `docker-registry` and `htpasswd` are installed; without them the tests print
//!   one line and pass, except under `CI=true`, where they fail.
//! - The test of a registry that stops always starts a private registry, so that stopping it
//!   does not disturb the other tests.
//! - Podman reads `registries.conf.d` once, when its service starts, and needs an `insecure`
//!   entry there to pull from a plain-HTTP registry; `.ci/run` writes one for the shared
//!   registry's port before it starts Podman. A registry started by a test is not covered, so
//!   against Podman the tests that pull from a live registry need the shared one. Pushes send
//!   Podman's `tlsVerify=false`, which its push (unlike its pull) honours.
//!
//! Nothing is left behind: a guard removes every image a test tagged or pulled (on panic too),
//! and a registry a test started is stopped and its directory removed when the test ends.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use s2i_docker::auth::encode_auth;
use s2i_docker::ops::container::{
    ContainerAttachOptions, ContainerCommitOptions, ContainerCreateBody, ContainerCreateResponse,
    ContainerInspect, ContainerRemoveOptions, ContainerWaitResponse, IdResponse,
};
use s2i_docker::ops::copy::{ContainerPathStat, CopyToContainerOptions};
use s2i_docker::ops::image::{
    ImageBuildOptions, ImageDeleteResponseItem, ImageInspect, ImagePullOptions, ImagePushOptions,
    ImageRemoveOptions,
};
use s2i_docker::ops::stream;
use s2i_docker::ops::system::{Ping, Version};
use s2i_docker::{
    get_image_registry_auth, new_engine_api_client, pull_image, AuthConfig, AuthConfigurations,
    BodyReader, Client, Docker, DockerClient, DockerConfig, EngineClient, ErrorCode,
    HijackedResponse, PullPolicy,
};
use s2i_docker::{Signal, WaitCondition};

use common::Cleanup;

/// The label that tells the pushed image of one test from every other image.
const ID_LABEL: &str = "io.s2i-docker.test-id";

/// Set in the environment of the child process of the credential-helper test: the image to pull.
const HELPER_CHILD_IMAGE: &str = "S2I_TEST_HELPER_CHILD_IMAGE";
/// The user name the child expects the helper to hand out.
const HELPER_CHILD_USER: &str = "S2I_TEST_HELPER_CHILD_USER";
/// The credential helper's name: `docker-credential-s2itest`.
const HELPER_NAME: &str = "s2itest";

// ---------------------------------------------------------------------------------------------
// engine, skips

/// Prints why a test cannot run and returns `None`; under `CI=true` fails instead.
fn skip<T>(why: &str) -> Option<T> {
    if common::in_ci() {
        panic!("{why}; with CI=true the registry tests never skip: run `bash .ci/run`");
    }
    eprintln!("skipping: {why}");
    None
}

/// The library's client for the test engine, and the engine's host.
fn engine() -> Option<(EngineClient, String)> {
    let host = common::engine_host()?;
    let docker = new_engine_api_client(&DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    })
    .expect("client for the test engine");
    Some((docker, host))
}

// ---------------------------------------------------------------------------------------------
// registries

/// A registry to push to and pull from: the shared one of `.ci/run`, or one this test started.
struct Registry {
    /// `127.0.0.1:PORT`.
    addr: String,
    user: String,
    password: String,
    /// The registry process when this test started it.
    owned: Option<OwnedRegistry>,
}

impl Registry {
    /// The shared registry when `S2I_TEST_REGISTRY` is set, else one of this test's own.
    ///
    /// Against Podman, a registry started now cannot be pulled from (see the module docs).
    fn for_test() -> Option<Registry> {
        match std::env::var("S2I_TEST_REGISTRY") {
            Ok(addr) if !addr.is_empty() => Some(Registry {
                addr,
                user: common::env_or_skip("S2I_TEST_REGISTRY_USER")?,
                password: common::env_or_skip("S2I_TEST_REGISTRY_PASSWORD")?,
                owned: None,
            }),
            _ if common::is_podman() => skip(
                "S2I_TEST_REGISTRY is unset, and Podman cannot pull from a registry started now: \
                 it reads its insecure-registry entries once, when its service starts \
                 (`bash .ci/run` sets both up)",
            ),
            _ => Registry::private(),
        }
    }

    /// A registry of this test's own, whatever the environment says.
    fn private() -> Option<Registry> {
        for tool in ["docker-registry", "htpasswd"] {
            if find_on_path(tool).is_none() {
                return skip(&format!(
                    "S2I_TEST_REGISTRY is unset and {tool} is not installed \
                     (apt-get install docker-registry apache2-utils)"
                ));
            }
        }
        let user = "s2i".to_string();
        let password = format!("pw-{}", common::unique_name("s2i-test"));
        let owned = OwnedRegistry::start(&user, &password).unwrap_or_else(|e| panic!("{e}"));
        Some(Registry {
            addr: owned.addr.clone(),
            user,
            password,
            owned: Some(owned),
        })
    }

    fn credentials(&self) -> AuthConfig {
        AuthConfig {
            username: self.user.clone(),
            password: self.password.clone(),
            server_address: self.addr.clone(),
            ..Default::default()
        }
    }

    /// Stops a registry this test started (its data stays until the guard drops).
    fn stop(&mut self) {
        self.owned
            .as_mut()
            .expect("only a registry the test started can be stopped")
            .stop();
    }
}

fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// A `docker-registry serve` process with htpasswd authentication, its config, credentials and
/// data in a temporary directory. Dropping it stops the process and removes the directory.
struct OwnedRegistry {
    addr: String,
    dir: PathBuf,
    child: Option<Child>,
}

impl OwnedRegistry {
    fn start(user: &str, password: &str) -> Result<OwnedRegistry, String> {
        let dir = std::env::temp_dir().join(common::unique_name("s2i-test-registry"));
        std::fs::create_dir_all(dir.join("data")).map_err(|e| format!("{}: {e}", dir.display()))?;
        // From here on, the guard removes the directory whatever happens.
        let mut registry = OwnedRegistry {
            addr: String::new(),
            dir,
            child: None,
        };
        let htpasswd = Command::new("htpasswd")
            .args(["-Bbn", user, password])
            .output()
            .map_err(|e| format!("htpasswd: {e}"))?;
        if !htpasswd.status.success() {
            return Err(format!(
                "htpasswd: {}",
                String::from_utf8_lossy(&htpasswd.stderr)
            ));
        }
        let dir = registry.dir.clone();
        std::fs::write(dir.join("htpasswd"), &htpasswd.stdout)
            .map_err(|e| format!("write htpasswd: {e}"))?;
        // A free port may be taken between choosing and binding it: try a few.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let addr = format!("127.0.0.1:{port}");
            let config = format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {data}\n  \
                 delete:\n    enabled: true\nhttp:\n  addr: {addr}\nauth:\n  htpasswd:\n    realm: basic-realm\n    \
                 path: {htpasswd}\n",
                data = dir.join("data").display(),
                htpasswd = dir.join("htpasswd").display(),
            );
            let config_path = dir.join("config.yml");
            std::fs::write(&config_path, config).map_err(|e| format!("write config: {e}"))?;
            let log = std::fs::File::create(dir.join("registry.log"))
                .map_err(|e| format!("create the registry log: {e}"))?;
            let log_err = log.try_clone().map_err(|e| format!("registry log: {e}"))?;
            let child = Command::new("docker-registry")
                .arg("serve")
                .arg(&config_path)
                .stdin(Stdio::null())
                .stdout(log)
                .stderr(log_err)
                .spawn()
                .map_err(|e| format!("docker-registry: {e}"))?;
            registry.child = Some(child);
            registry.addr = addr;
            match registry.wait_until_up() {
                Ok(()) => return Ok(registry),
                Err(e) => {
                    registry.stop();
                    last_error = e;
                }
            }
        }
        Err(last_error)
    }

    /// Waits for `GET /v2/` to answer 401 (up, and asking for credentials).
    fn wait_until_up(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = http_status(&self.addr, "/v2/") {
                if status == 401 {
                    return Ok(());
                }
                return Err(format!(
                    "the registry on {} answered /v2/ with {status}, not 401",
                    self.addr
                ));
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                let log =
                    std::fs::read_to_string(self.dir.join("registry.log")).unwrap_or_default();
                return Err(format!(
                    "docker-registry on {} exited ({status}) before it answered: {log}",
                    self.addr
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the registry on {} did not answer within 30 s",
                    self.addr
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Stops the process this test started (by its own handle) and waits for it.
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnedRegistry {
    fn drop(&mut self) {
        self.stop();
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("cleanup: {}: {e}", self.dir.display());
        }
    }
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("local address: {e}"))
}

/// The status of a plain `GET` on `addr`, or `None` when nothing answers.
fn http_status(addr: &str, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

// ---------------------------------------------------------------------------------------------
// the pushed image

/// An image of this test in the registry, with no local copy left.
struct Pushed {
    /// `<registry>/s2i-test-...:1`.
    name: String,
    /// The value of its [`ID_LABEL`].
    id_label: String,
    /// The image ID it had locally (the digest of its config, so a pull gives it back).
    image_id: String,
}

/// Builds a test image, tags it for `registry`, pushes it with the registry's credentials and
/// removes both local tags. `cleanup` is told about every name first, so the guard removes
/// whatever a failing step leaves.
fn push_test_image(docker: &EngineClient, cleanup: &Cleanup, registry: &Registry) -> Pushed {
    let id_label = common::unique_name("s2i-test");
    let local = format!("{id_label}:latest");
    let name = format!("{}/{id_label}:1", registry.addr);
    cleanup.image(&local);
    cleanup.image(&name);

    let dockerfile = format!(
        "{}LABEL {ID_LABEL}={id_label}\n",
        common::BUILDER_DOCKERFILE
    );
    let host = common::engine_host().expect("the engine answered");
    common::build_image(&host, cleanup, &local, &dockerfile);
    let (built, _) = docker
        .image_inspect_with_raw(&local)
        .expect("inspect the built image");

    docker
        .image_tag(&local, &name)
        .expect("tag for the registry");
    let options = ImagePushOptions {
        registry_auth: encode_auth(&registry.credentials()).expect("encode credentials"),
        // The test registries speak plain HTTP; Podman's push needs telling, Docker ignores it.
        tls_verify: Some(false),
    };
    let progress = docker.image_push(&name, &options).expect("push");
    let mut pushed = Vec::new();
    stream::consume(progress, |m| pushed.push(m.status.clone()))
        .unwrap_or_else(|e| panic!("the push of {name} failed in its stream: {e}"));
    assert!(
        pushed.iter().any(|s| s.contains("digest: sha256:")),
        "the push stream of {name} never named the pushed digest: {pushed:?}"
    );

    for tag in [&name, &local] {
        docker
            .image_remove(tag, &ImageRemoveOptions::default())
            .unwrap_or_else(|e| panic!("remove {tag}: {e}"));
    }
    let e = docker.image_inspect_with_raw(&name).map(drop).unwrap_err();
    assert!(e.is_not_found(), "{name} is still there locally: {e}");

    Pushed {
        name,
        id_label,
        image_id: built.id,
    }
}

/// Checks through inspect that `name` is the image [`push_test_image`] pushed.
fn assert_is_pushed_image(docker: &EngineClient, pushed: &Pushed) {
    let (inspect, _) = docker
        .image_inspect_with_raw(&pushed.name)
        .unwrap_or_else(|e| panic!("inspect {} after the pull: {e}", pushed.name));
    let labels = inspect.config.and_then(|c| c.labels).unwrap_or_default();
    assert_eq!(
        labels.get(ID_LABEL),
        Some(&pushed.id_label),
        "{} is not the pushed image",
        pushed.name
    );
    assert_eq!(inspect.id, pushed.image_id, "{}", pushed.name);
}

/// A docker `config.json` with one `auths` entry.
fn config_json(registry: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#"{{"auths":{{"{registry}":{{"auth":"{auth}"}}}}}}"#)
}

/// The credentials the library picks for `image` from a `config.json`.
fn auth_from_config(config: &str, image: &str) -> AuthConfig {
    let auths = AuthConfigurations::new(config.as_bytes()).expect("read the config");
    get_image_registry_auth(Some(&auths), image)
}

// ---------------------------------------------------------------------------------------------
// a client that counts pulls

/// The engine client, counting `POST /images/create` requests (one per pull attempt).
struct Counting {
    inner: EngineClient,
    pulls: AtomicUsize,
}

impl Counting {
    fn new(inner: &EngineClient) -> Arc<Counting> {
        Arc::new(Counting {
            inner: inner.clone(),
            pulls: AtomicUsize::new(0),
        })
    }

    fn pulls(&self) -> usize {
        self.pulls.load(Ordering::SeqCst)
    }
}

impl Client for Counting {
    fn ping(&self) -> s2i_docker::Result<Ping> {
        self.inner.ping()
    }
    fn server_version(&self) -> s2i_docker::Result<Version> {
        self.inner.server_version()
    }
    fn image_inspect_with_raw(&self, name: &str) -> s2i_docker::Result<(ImageInspect, Vec<u8>)> {
        self.inner.image_inspect_with_raw(name)
    }
    fn image_pull(
        &self,
        reference: &str,
        options: &ImagePullOptions,
    ) -> s2i_docker::Result<BodyReader> {
        self.pulls.fetch_add(1, Ordering::SeqCst);
        self.inner.image_pull(reference, options)
    }
    fn image_remove(
        &self,
        image: &str,
        options: &ImageRemoveOptions,
    ) -> s2i_docker::Result<Vec<ImageDeleteResponseItem>> {
        self.inner.image_remove(image, options)
    }
    fn image_build(
        &self,
        context: &mut (dyn Read + Send),
        options: &ImageBuildOptions,
    ) -> s2i_docker::Result<BodyReader> {
        self.inner.image_build(context, options)
    }
    fn container_create(
        &self,
        body: &ContainerCreateBody,
        name: &str,
    ) -> s2i_docker::Result<ContainerCreateResponse> {
        self.inner.container_create(body, name)
    }
    fn container_attach(
        &self,
        container: &str,
        options: &ContainerAttachOptions,
    ) -> s2i_docker::Result<HijackedResponse> {
        self.inner.container_attach(container, options)
    }
    fn container_start(&self, container: &str) -> s2i_docker::Result<()> {
        self.inner.container_start(container)
    }
    fn container_wait(
        &self,
        container: &str,
        condition: WaitCondition,
    ) -> s2i_docker::Result<ContainerWaitResponse> {
        self.inner.container_wait(container, condition)
    }
    fn container_inspect(&self, container: &str) -> s2i_docker::Result<ContainerInspect> {
        self.inner.container_inspect(container)
    }
    fn container_kill(&self, container: &str, signal: Signal) -> s2i_docker::Result<()> {
        self.inner.container_kill(container, signal)
    }
    fn container_remove(
        &self,
        container: &str,
        options: &ContainerRemoveOptions,
    ) -> s2i_docker::Result<()> {
        self.inner.container_remove(container, options)
    }
    fn copy_to_container(
        &self,
        container: &str,
        path: &str,
        content: &mut (dyn Read + Send),
        options: &CopyToContainerOptions,
    ) -> s2i_docker::Result<()> {
        self.inner
            .copy_to_container(container, path, content, options)
    }
    fn copy_from_container(
        &self,
        container: &str,
        path: &str,
    ) -> s2i_docker::Result<(BodyReader, ContainerPathStat)> {
        self.inner.copy_from_container(container, path)
    }
    fn container_commit(
        &self,
        container: &str,
        options: &ContainerCommitOptions,
    ) -> s2i_docker::Result<IdResponse> {
        self.inner.container_commit(container, options)
    }
}

/// A [`DockerClient`] over a counting client, with `auth` for its pulls.
fn counted_docker(docker: &EngineClient, auth: AuthConfig) -> (Arc<Counting>, DockerClient) {
    let counting = Counting::new(docker);
    let d = DockerClient::new(counting.clone(), auth);
    (counting, d)
}

fn label_of(result: &s2i_docker::PullResult) -> Option<String> {
    result
        .image
        .as_ref()
        .and_then(|i| i.config.as_ref())
        .and_then(|c| c.labels.as_ref()?.get(ID_LABEL).cloned())
}

// ---------------------------------------------------------------------------------------------
// the tests

#[test]
fn pull_with_credentials_from_a_config_json_auths_entry() {
    let Some((docker, host)) = engine() else {
        return;
    };
    let Some(registry) = Registry::for_test() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);

    let config = config_json(&registry.addr, &registry.user, &registry.password);
    let auth = auth_from_config(&config, &pushed.name);
    assert_eq!(auth.username, registry.user);
    assert_eq!(auth.server_address, registry.addr);

    let (counting, d) = counted_docker(&docker, auth);
    let image = d
        .pull_image(&pushed.name)
        .unwrap_or_else(|e| panic!("pull {}: {}", pushed.name, e.to_string_with_causes()))
        .expect("the pulled image's metadata");
    assert_eq!(image.id, pushed.image_id);
    assert_eq!(counting.pulls(), 1);
    assert_is_pushed_image(&docker, &pushed);
}

/// Writes `docker-credential-s2itest` into `dir`: it logs every server it is asked about to
/// `log` and hands out `user`/`password` for `registry` only.
fn write_helper(dir: &Path, log: &Path, registry: &str, user: &str, password: &str) {
    let script = format!(
        r#"#!/bin/sh
# A credential helper for the tests: logs each server it is asked about.
[ "$1" = get ] || {{ echo "unsupported: $1"; exit 1; }}
server=$(cat)
printf '%s\n' "$server" >>'{log}'
if [ "$server" = '{registry}' ]; then
    printf '{{"ServerURL":"%s","Username":"{user}","Secret":"{password}"}}\n' "$server"
else
    echo 'credentials not found in native keychain'
    exit 1
fi
"#,
        log = log.display(),
    );
    let path = dir.join(format!("docker-credential-{HELPER_NAME}"));
    std::fs::write(&path, script).expect("write the credential helper");
    let mut perms = std::fs::metadata(&path).expect("helper").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).expect("make the helper executable");
}

/// A temporary directory removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(common::unique_name("s2i-test-dir"));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn pull_with_credentials_from_a_credential_helper_on_path() {
    let Some((docker, host)) = engine() else {
        return;
    };
    let Some(registry) = Registry::for_test() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);

    // The helper is found on PATH as users install it. Tests share the process, so the PATH
    // is changed in a child process alone: this test binary again, running only
    // `credential_helper_child`.
    let tmp = TempDir::new();
    let bin = tmp.0.join("bin");
    let config_dir = tmp.0.join("config");
    std::fs::create_dir_all(&bin).expect("bin");
    std::fs::create_dir_all(&config_dir).expect("config");
    let log = tmp.0.join("helper.log");
    write_helper(
        &bin,
        &log,
        &registry.addr,
        &registry.user,
        &registry.password,
    );
    // `credsStore` applies to every registry, so the log shows which ones the library asked
    // about. The `auths` entry has a wrong password: only the helper's credentials can work.
    let auth = base64::engine::general_purpose::STANDARD
        .encode(format!("{}:wrong-password", registry.user));
    let config = format!(
        r#"{{"auths":{{"{addr}":{{"auth":"{auth}"}},"quay.io":{{"auth":"cTpx"}}}},"credsStore":"{HELPER_NAME}"}}"#,
        addr = registry.addr
    );
    std::fs::write(config_dir.join("config.json"), config).expect("write config.json");

    let path = std::env::var_os("PATH").unwrap_or_default();
    let path =
        std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(&path)))
            .expect("PATH");
    let exe = std::env::current_exe().expect("the test binary");
    let out = Command::new(exe)
        .args([
            "credential_helper_child",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("PATH", path)
        .env("DOCKER_CONFIG", &config_dir)
        .env("S2I_TEST_DOCKER_HOST", &host)
        .env(HELPER_CHILD_IMAGE, &pushed.name)
        .env(HELPER_CHILD_USER, &registry.user)
        .output()
        .expect("run the child test");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "the child pull failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    let asked = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(
        asked.lines().collect::<Vec<_>>(),
        [registry.addr.as_str()],
        "the helper must be asked once, for the image's registry only"
    );
    assert_is_pushed_image(&docker, &pushed);
}

/// The child half of [`pull_with_credentials_from_a_credential_helper_on_path`]; without its
/// environment it does nothing.
#[test]
fn credential_helper_child() {
    let Ok(image) = std::env::var(HELPER_CHILD_IMAGE) else {
        return;
    };
    let user = std::env::var(HELPER_CHILD_USER).expect("the expected user");
    let (docker, _) = engine().expect("the parent checked the engine");
    let auths = AuthConfigurations::from_default_location()
        .expect("read $DOCKER_CONFIG/config.json")
        .expect("$DOCKER_CONFIG/config.json exists");
    assert_eq!(auths.creds_store(), Some(HELPER_NAME));
    let auth = get_image_registry_auth(Some(&auths), &image);
    assert_eq!(
        auth.username, user,
        "the helper's user, not the auths entry's"
    );
    assert_ne!(auth.password, "wrong-password");
    let (counting, d) = counted_docker(&docker, auth);
    let result = pull_image(&image, &d, PullPolicy::Always)
        .unwrap_or_else(|e| panic!("pull {image}: {}", e.to_string_with_causes()));
    assert!(label_of(&result).is_some(), "{result:?}");
    assert_eq!(counting.pulls(), 1);
}

#[test]
fn a_wrong_password_is_unauthorized_and_not_retried() {
    let Some((docker, host)) = engine() else {
        return;
    };
    let Some(registry) = Registry::for_test() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);

    let config = config_json(&registry.addr, &registry.user, "not-the-password");
    let auth = auth_from_config(&config, &pushed.name);
    assert_eq!(auth.password, "not-the-password");
    // The default pause (5 s) comes before any retry: finishing sooner proves there was none.
    let delay = s2i_docker::DEFAULT_PULL_RETRY_DELAY;
    let (counting, d) = counted_docker(&docker, auth);
    let started = Instant::now();
    let e = d.pull_image(&pushed.name).unwrap_err();
    let elapsed = started.elapsed();
    let text = e.to_string_with_causes();
    assert!(e.is_unauthorized(), "{text}");
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{text}");
    assert_eq!(e.to_string(), format!("unable to get {}", pushed.name));
    let lower = text.to_lowercase();
    assert!(
        lower.contains("unauthorized") && lower.contains("authentication required"),
        "{text}"
    );
    assert_eq!(counting.pulls(), 1, "an unauthorized pull is not retried");
    assert!(elapsed < delay, "{elapsed:?}: no retry, no sleep");
    let e = docker
        .image_inspect_with_raw(&pushed.name)
        .map(drop)
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[test]
fn no_credentials_surface_the_daemons_refusal() {
    let Some((docker, host)) = engine() else {
        return;
    };
    let Some(registry) = Registry::for_test() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);

    // The config knows another registry only: the pull is anonymous.
    let auth = auth_from_config(&config_json("quay.io", "q", "q"), &pushed.name);
    assert!(auth.is_empty(), "{auth:?}");
    let (counting, d) = counted_docker(&docker, auth);
    let d = d.with_pull_retry_delay(Duration::from_secs(2));
    let e = pull_image(&pushed.name, &d, PullPolicy::IfNotPresent).unwrap_err();
    let text = e.to_string_with_causes();
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{text}");
    assert!(e.is_unauthorized(), "{text}");
    if common::is_podman() {
        // Podman's words for the registry's 401.
        assert!(
            text.contains("unauthorized: authentication required"),
            "{text}"
        );
    } else {
        assert!(text.contains("no basic auth credentials"), "{text}");
    }
    assert!(
        text.contains(&registry.addr),
        "the error names the registry: {text}"
    );
    assert_eq!(counting.pulls(), 1, "not retried");
}

#[test]
fn a_stopped_registry_is_retried_then_fails() {
    let Some((docker, host)) = engine() else {
        return;
    };
    // Its own registry: stopping the shared one would fail the other tests.
    let Some(mut registry) = Registry::private() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);
    registry.stop();
    assert_eq!(
        http_status(&registry.addr, "/v2/"),
        None,
        "the registry still answers"
    );

    let config = config_json(&registry.addr, &registry.user, &registry.password);
    let auth = auth_from_config(&config, &pushed.name);
    let (retries, delay) = (2, Duration::from_millis(300));
    let (counting, d) = counted_docker(&docker, auth);
    let d = d
        .with_pull_retry_count(retries)
        .with_pull_retry_delay(delay);
    let started = Instant::now();
    let e = pull_image(&pushed.name, &d, PullPolicy::Always).unwrap_err();
    let elapsed = started.elapsed();
    let text = e.to_string_with_causes();
    assert_eq!(e.code(), Some(ErrorCode::PullImage), "{text}");
    assert_eq!(e.to_string(), format!("unable to get {}", pushed.name));
    assert!(text.contains("connection refused"), "{text}");
    assert!(text.contains(&registry.addr), "{text}");
    assert_eq!(
        counting.pulls(),
        retries as usize + 1,
        "every attempt was made: {text}"
    );
    // A pause between attempts, none after the last.
    assert!(elapsed >= delay * retries, "{elapsed:?}");
    let e = docker
        .image_inspect_with_raw(&pushed.name)
        .map(drop)
        .unwrap_err();
    assert!(e.is_not_found(), "{e}");
}

#[test]
fn pull_policies_against_the_registry() {
    let Some((docker, host)) = engine() else {
        return;
    };
    let Some(registry) = Registry::for_test() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let pushed = push_test_image(&docker, &cleanup, &registry);
    let name = pushed.name.as_str();
    let config = config_json(&registry.addr, &registry.user, &registry.password);
    let auth = auth_from_config(&config, name);
    let (counting, d) = counted_docker(&docker, auth);
    let d = d.with_pull_retry_delay(Duration::from_millis(100));

    // never, absent: an error, nothing pulled.
    let e = pull_image(name, &d, PullPolicy::Never).unwrap_err();
    assert_eq!(e.to_string(), format!("unable to get metadata for {name}"));
    assert_eq!(e.code(), Some(ErrorCode::InspectImage));
    assert_eq!(counting.pulls(), 0);

    // if-not-present, absent: pulled.
    let result = pull_image(name, &d, PullPolicy::IfNotPresent)
        .unwrap_or_else(|e| panic!("if-not-present: {}", e.to_string_with_causes()));
    assert_eq!(label_of(&result), Some(pushed.id_label.clone()));
    assert!(!result.on_build);
    assert_eq!(counting.pulls(), 1);
    assert_is_pushed_image(&docker, &pushed);

    // if-not-present, present: not pulled again.
    let result = pull_image(name, &d, PullPolicy::IfNotPresent).expect("if-not-present");
    assert_eq!(label_of(&result), Some(pushed.id_label.clone()));
    assert_eq!(counting.pulls(), 1);

    // never, present: the local image.
    let result = pull_image(name, &d, PullPolicy::Never).expect("never");
    assert_eq!(label_of(&result), Some(pushed.id_label.clone()));
    assert_eq!(counting.pulls(), 1);

    // always, present: pulled anyway.
    let result = pull_image(name, &d, PullPolicy::Always).expect("always");
    assert_eq!(label_of(&result), Some(pushed.id_label.clone()));
    assert_eq!(counting.pulls(), 2);
    assert_is_pushed_image(&docker, &pushed);
}
