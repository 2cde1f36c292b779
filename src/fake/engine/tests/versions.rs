//! The fake as an engine of another API range (Docker 29: 1.44 to 1.52), and the crate's
//! client against it: negotiated, a whole S2I flow goes through in a version the engine
//! accepts; pinned too old, the daemon's refusal comes back as it is.

use std::sync::Arc;

use super::*;
use crate::docker::{
    CommitContainerOptions, Docker, DockerClient, PostExecutor, RunContainerOptions,
};
use crate::ops::engine::MAX_API_VERSION;
use crate::AuthConfig;

#[test]
fn the_daemon_speaks_the_versions_it_was_given() {
    let fake = FakeEngine::new()
        .min_api_version("1.44")
        .api_version("1.52")
        .serve_unix()
        .unwrap();
    let ping = call(&fake, "GET", "/_ping", b"");
    assert_eq!(ping.header("Api-Version"), Some("1.52"));
    let v = call(&fake, "GET", "/v1.52/version", b"").json();
    assert_eq!(
        (v["ApiVersion"].as_str(), v["MinAPIVersion"].as_str()),
        (Some("1.52"), Some("1.44"))
    );
    let old = call(&fake, "GET", "/v1.41/version", b"");
    assert_eq!(old.status, 400);
    assert_eq!(
        old.json()["message"],
        "client version 1.41 is too old. Minimum supported API version is 1.44, please upgrade \
         your client to a newer version"
    );
    assert_eq!(old.header("Api-Version"), Some("1.52"));
    let new = call(&fake, "GET", "/v1.53/version", b"");
    assert_eq!(
        new.json()["message"],
        "client version 1.53 is too new. Maximum supported API version is 1.52"
    );
    assert_eq!(call(&fake, "GET", "/v1.44/version", b"").status, 200);

    // The newest version follows a minimum above it.
    let fake = FakeEngine::new()
        .min_api_version("1.47")
        .serve_unix()
        .unwrap();
    assert_eq!(
        call(&fake, "GET", "/_ping", b"").header("Api-Version"),
        Some("1.47")
    );

    for (seed, why) in [
        (
            FakeEngine::new().api_version("1.4x"),
            "invalid API version \"1.4x\"",
        ),
        (
            FakeEngine::new().min_api_version("latest"),
            "invalid API version \"latest\"",
        ),
        (
            FakeEngine::new()
                .min_api_version("1.44")
                .api_version("1.41"),
            "API version 1.41 is older than the minimum API version 1.44",
        ),
    ] {
        match seed.serve_in_memory() {
            Err(Error::InvalidInput(m)) => assert!(m.contains(why), "{m}"),
            other => panic!("{other:?}"),
        }
    }
}

/// Commits the container once `assemble` has run, as S2I does.
struct Commit(Arc<DockerClient>);

impl PostExecutor for Commit {
    fn post_execute(&self, container_id: &str, _destination: &str) -> Result<()> {
        self.0.commit_container(CommitContainerOptions {
            container_id: container_id.to_string(),
            repository: "app:1".into(),
            command: vec!["/usr/libexec/s2i/run".into()],
            ..Default::default()
        })?;
        Ok(())
    }
}

/// Pull, inspect, run `assemble` with sources on its standard input, commit, remove.
fn s2i_flow(docker: &Arc<DockerClient>) -> Result<()> {
    let builder = "127.0.0.1:5000/s2i/builder:1";
    docker.check_and_pull_image(builder)?;
    assert_eq!(docker.get_scripts_url(builder)?, "image:///usr/libexec/s2i");
    let out = Arc::new(std::sync::Mutex::new(Vec::new()));
    docker.run_container(RunContainerOptions {
        image: builder.into(),
        command: "assemble".into(),
        stdin: Some(Box::new(std::io::Cursor::new(tar_of(&[(
            "app.py",
            b"print()\n",
        )])))),
        stdout: Some(Box::new(SharedBuf(out.clone()))),
        post_exec: Some(Box::new(Commit(docker.clone()))),
        ..Default::default()
    })?;
    assert_eq!(&*out.lock().unwrap(), b"---> assembled\n");
    assert_eq!(docker.get_image_user("app:1")?, "1001");
    docker.remove_image("app:1")?;
    Ok(())
}

struct SharedBuf(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn newer_engine(min: &str, max: &str) -> RunningFake {
    FakeEngine::new()
        .min_api_version(min)
        .api_version(max)
        .registry_image(
            "127.0.0.1:5000/s2i/builder:1",
            FakeImage::default()
                .label("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i")
                .user("1001")
                .file("/usr/libexec/s2i/assemble", b"#!/bin/sh\n", 0o755),
        )
        .container_output(b"---> assembled\n", b"")
        .serve_in_memory()
        .unwrap()
}

#[test]
fn a_whole_flow_against_an_engine_that_refuses_old_clients() {
    // Docker 29 (1.44 to 1.52), and an engine past this client's newest version (1.50 to 1.60).
    for (min, max, spoken) in [("1.44", "1.52", MAX_API_VERSION), ("1.50", "1.60", "1.50")] {
        let fake = newer_engine(min, max);
        let client = fake.client().unwrap();
        let docker = Arc::new(DockerClient::new(
            Arc::new(client.clone()),
            AuthConfig::default(),
        ));
        s2i_flow(&docker).unwrap();
        assert_eq!(client.api_version().unwrap(), spoken);
        let requests = fake.requests();
        assert_request(&requests[0], "GET", "/_ping");
        assert_request(&requests[1], "GET", "/version");
        assert_eq!(requests[1].api_version.as_deref(), Some(max));
        for r in &requests[2..] {
            assert_eq!(r.api_version.as_deref(), Some(spoken), "{r:?}");
        }
        assert!(requests.iter().any(|r| r.path == "/commit"));
        assert!(fake.containers().is_empty());
    }

    // Pinned to a version the engine no longer speaks: the daemon's refusal, and nothing left.
    let fake = newer_engine("1.44", "1.52");
    let pinned = fake.client().unwrap().with_api_version("1.41").unwrap();
    let docker = Arc::new(DockerClient::new(Arc::new(pinned), AuthConfig::default()));
    let e = s2i_flow(&docker).unwrap_err();
    // S2I's own text first (`unable to get metadata for ...`), the daemon's words as its cause.
    let cause = std::error::Error::source(&e)
        .map(ToString::to_string)
        .unwrap_or_default();
    assert_eq!(
        cause,
        "Error response from daemon: client version 1.41 is too old. Minimum supported API \
         version is 1.44, please upgrade your client to a newer version",
        "{e:?}"
    );
    assert!(fake.containers().is_empty());
}
