//! What the tests of per-registry credentials and of build options share: the two
//! authenticated registries of `.ci/run`, images pushed to them, and a stand-in registry that
//! records the credentials it is offered.
//!
//! - `S2I_TEST_REGISTRY`, `S2I_TEST_REGISTRY_USER`, `S2I_TEST_REGISTRY_PASSWORD`: the first
//!   registry; `S2I_TEST_REGISTRY2`, `S2I_TEST_REGISTRY_USER2`, `S2I_TEST_REGISTRY_PASSWORD2`:
//!   the second, with other credentials. Unset, the tests skip (under `CI=true` they fail).
//! - The stand-in registry answers every request with `401` and
//!   `WWW-Authenticate: Basic realm=..`, so an engine that has credentials for it sends them,
//!   and it records every `Authorization` header. Podman pulls over plain HTTP only from
//!   registries its `registries.conf.d` marks insecure, and reads those entries once, before
//!   its first pull: `.ci/run` writes one for the port of `S2I_TEST_STANDIN_REGISTRY` before
//!   it starts Podman, and the stand-in listens there.
//!
//! Include with `mod common; mod registries;`.
#![allow(dead_code)] // each test binary uses a subset

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine as _;

use s2i_docker::auth::encode_auth;
use s2i_docker::ops::image::{ImagePushOptions, ImageRemoveOptions};
use s2i_docker::ops::stream;
use s2i_docker::{new_engine_api_client, AuthConfig, Client, DockerConfig, EngineClient};

use crate::common::{self, Cleanup};

/// An authenticated registry of `.ci/run`.
#[derive(Clone)]
pub struct Registry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub user: String,
    pub password: String,
}

impl Registry {
    /// The first registry (`S2I_TEST_REGISTRY*`).
    pub fn first() -> Option<Registry> {
        Registry::from_env(
            "S2I_TEST_REGISTRY",
            "S2I_TEST_REGISTRY_USER",
            "S2I_TEST_REGISTRY_PASSWORD",
        )
    }

    /// The second registry (`S2I_TEST_REGISTRY2*`), with other credentials than the first.
    pub fn second() -> Option<Registry> {
        Registry::from_env(
            "S2I_TEST_REGISTRY2",
            "S2I_TEST_REGISTRY_USER2",
            "S2I_TEST_REGISTRY_PASSWORD2",
        )
    }

    fn from_env(addr: &str, user: &str, password: &str) -> Option<Registry> {
        Some(Registry {
            addr: common::env_or_skip(addr)?,
            user: common::env_or_skip(user)?,
            password: common::env_or_skip(password)?,
        })
    }

    /// Its credentials, naming it as their server.
    pub fn credentials(&self) -> AuthConfig {
        AuthConfig {
            username: self.user.clone(),
            password: self.password.clone(),
            server_address: self.addr.clone(),
            ..Default::default()
        }
    }

    /// Its `auths` entry of a docker `config.json`: `"ADDR":{"auth":"..."}`.
    pub fn auths_entry(&self) -> String {
        auths_entry(&self.addr, &self.user, &self.password)
    }
}

/// An `auths` entry of a docker `config.json`.
pub fn auths_entry(server: &str, user: &str, password: &str) -> String {
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!(r#""{server}":{{"auth":"{auth}"}}"#)
}

/// The library's client for the test engine, and the engine's host.
pub fn engine() -> Option<(EngineClient, String)> {
    let host = common::engine_host()?;
    let docker = new_engine_api_client(&DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    })
    .expect("client for the test engine");
    Some((docker, host))
}

/// Builds `dockerfile` (with busybox beside it) as `tag`, recording the tag with `cleanup`
/// first.
pub fn build(_docker: &EngineClient, cleanup: &Cleanup, tag: &str, dockerfile: &str) {
    let host = common::engine_host().expect("the engine answered");
    common::build_image(&host, cleanup, tag, dockerfile);
}

/// Builds the busybox image with `label=value` and pushes it to `registry` as
/// `<registry>/<repo>:1`, then removes every local tag of it; returns the pushed name.
pub fn push_labelled(
    docker: &EngineClient,
    cleanup: &Cleanup,
    registry: &Registry,
    label: &str,
    value: &str,
) -> String {
    let repo = common::unique_name("s2i-test-creds");
    let local = format!("{repo}:latest");
    let name = format!("{}/{repo}:1", registry.addr);
    cleanup.image(&name);
    let dockerfile = format!("{}LABEL {label}={value}\n", common::BUILDER_DOCKERFILE);
    build(docker, cleanup, &local, &dockerfile);
    docker
        .image_tag(&local, &name)
        .expect("tag for the registry");
    let options = ImagePushOptions {
        registry_auth: encode_auth(&registry.credentials()).expect("encode credentials"),
        tls_verify: Some(false),
    };
    let progress = docker.image_push(&name, &options).expect("push");
    stream::consume(progress, |_| {})
        .unwrap_or_else(|e| panic!("the push of {name} failed in its stream: {e}"));
    for tag in [&name, &local] {
        docker
            .image_remove(tag, &ImageRemoveOptions::default())
            .unwrap_or_else(|e| panic!("remove {tag}: {e}"));
    }
    name
}

/// The value of `label` on the local image `name`, if it has it.
pub fn label_of(docker: &EngineClient, name: &str, label: &str) -> Option<String> {
    let (inspect, _) = docker.image_inspect_with_raw(name).ok()?;
    inspect.config?.labels?.get(label).cloned()
}

// ---------------------------------------------------------------------------------------------
// the stand-in registry

/// What the stand-in received: `(request line, decoded Authorization header)`.
type Seen = Mutex<Vec<(String, Option<String>)>>;

/// A registry on 127.0.0.1 that refuses everything with a Basic challenge and records every
/// request line with its `Authorization` header. One per test binary, shared by its tests:
/// each test looks at the requests for its own repositories.
pub struct StandIn {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    seen: Arc<Seen>,
}

impl StandIn {
    /// The stand-in of this test binary, started on first use: on `S2I_TEST_STANDIN_REGISTRY`'s
    /// port when it is set (Podman has an insecure entry for it), else on a free port. Against
    /// Podman without that variable it skips (it fails under `CI=true`).
    pub fn shared() -> Option<&'static StandIn> {
        static SHARED: OnceLock<Result<StandIn, String>> = OnceLock::new();
        let addr = std::env::var("S2I_TEST_STANDIN_REGISTRY")
            .ok()
            .filter(|a| !a.is_empty());
        if addr.is_none() && common::is_podman() {
            let why =
                "S2I_TEST_STANDIN_REGISTRY is unset, and Podman pulls over plain HTTP only from \
                       registries its registries.conf.d marked insecure before its first pull \
                       (bash .ci/run sets both up)";
            if common::in_ci() {
                panic!("{why}");
            }
            eprintln!("skipping: {why}");
            return None;
        }
        let started = SHARED.get_or_init(|| {
            let listener = TcpListener::bind(addr.as_deref().unwrap_or("127.0.0.1:0"))
                .map_err(|e| format!("bind the stand-in registry: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| e.to_string())?
                .to_string();
            let seen = Arc::new(Mutex::new(Vec::new()));
            let recorded = seen.clone();
            std::thread::spawn(move || {
                for conn in listener.incoming().flatten() {
                    let recorded = recorded.clone();
                    std::thread::spawn(move || answer(conn, &recorded));
                }
            });
            Ok(StandIn { addr, seen })
        });
        match started {
            Ok(standin) => Some(standin),
            Err(e) => panic!("{e}"),
        }
    }

    /// The decoded `Authorization` headers (`user:password` for Basic) of the requests whose
    /// line names `repo`.
    pub fn authorizations_for(&self, repo: &str) -> Vec<String> {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        seen.iter()
            .filter(|(line, _)| line.contains(repo))
            .filter_map(|(_, auth)| auth.clone())
            .collect()
    }

    /// How many requests it received, from all tests (an engine without credentials for it
    /// stops after the first `GET /v2/`, which names no repository).
    pub fn requests(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Asserts that every `Authorization` it received, from all tests, was `allowed` (its own
    /// `user:password`).
    pub fn assert_only_received(&self, allowed: &str) {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        let others = seen
            .iter()
            .filter(|(_, auth)| auth.as_deref().is_some_and(|a| a != allowed))
            .count();
        assert_eq!(
            others, 0,
            "the stand-in registry {} received other credentials than its own",
            self.addr
        );
    }

    /// Asserts that no request of any test carried any of `secrets`, in any form.
    pub fn assert_never_received(&self, secrets: &[&str]) {
        let seen = self.seen.lock().unwrap_or_else(|e| e.into_inner());
        for (_, auth) in seen.iter() {
            for secret in secrets {
                assert!(
                    !auth.as_deref().unwrap_or_default().contains(secret),
                    "the stand-in registry {} received another registry's credentials",
                    self.addr
                );
            }
        }
    }
}

/// Answers every request of one connection with a 401 Basic challenge.
fn answer(conn: TcpStream, seen: &Seen) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let Ok(mut out) = conn.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(conn);
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut authorization = None;
        let mut content_length = 0usize;
        loop {
            let mut header = String::new();
            match reader.read_line(&mut header) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            // Podman sends an empty `Basic` (`:`) when it has no credentials: anonymous.
            if name.eq_ignore_ascii_case("authorization") && decode_authorization(value) != ":" {
                authorization = Some(decode_authorization(value));
            } else if name.eq_ignore_ascii_case("content-length") {
                content_length = value.parse().unwrap_or(0);
            }
        }
        seen.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((line.trim_end().to_string(), authorization));
        let mut body = vec![0u8; content_length.min(1 << 20)];
        if std::io::Read::read_exact(&mut reader, &mut body).is_err() {
            return;
        }
        let reply =
            "{\"errors\":[{\"code\":\"UNAUTHORIZED\",\"message\":\"authentication required\"}]}";
        let head = format!(
            "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\n\
             Docker-Distribution-Api-Version: registry/2.0\r\n\
             Www-Authenticate: Basic realm=\"s2i-test-standin\"\r\nContent-Length: {}\r\n\r\n",
            reply.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(reply.as_bytes()).is_err() {
            return;
        }
    }
}

/// `Basic <base64>` decoded to `user:password`; anything else as it is.
fn decode_authorization(value: &str) -> String {
    value
        .strip_prefix("Basic ")
        .and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        })
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|| value.to_string())
}
