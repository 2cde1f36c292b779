//! Checks of the shared test helpers, and of the engine setup the suites rely on: the busybox builder
//! image builds and runs on the configured engine (Docker, or Podman in the second pass of `.ci/test`),
//! and [`common::Cleanup`] removes what it recorded.

#[path = "mod.rs"]
mod common;

use std::collections::HashSet;
use std::io::Read;

use common::{raw_request, Cleanup};

#[test]
fn unique_names_are_distinct_lowercase_and_keep_the_prefix() {
    let names: HashSet<String> = (0..1000)
        .map(|_| common::unique_name("s2i-test-Names"))
        .collect();
    assert_eq!(names.len(), 1000);
    for name in &names {
        assert!(name.starts_with("s2i-test-names"), "{name}");
        assert_eq!(name, &name.to_lowercase());
    }
    assert!(common::unique_name("s2i_run").starts_with("s2i_run"));
}

#[test]
#[should_panic(expected = "test names start with s2i_")]
fn unique_names_need_a_prefix_the_leftover_check_knows() {
    common::unique_name("other");
}

#[test]
fn build_context_holds_the_dockerfile_busybox_and_the_files_with_their_modes() {
    let tar = common::build_context_tar(
        common::BUILDER_DOCKERFILE,
        &[("s2i/bin/assemble", b"#!/bin/sh\n", 0o755)],
    );
    let mut archive = tar::Archive::new(tar.as_slice());
    let mut seen = Vec::new();
    for entry in archive.entries().expect("entries") {
        let mut entry = entry.expect("entry");
        let path = entry.path().expect("path").to_string_lossy().into_owned();
        let mode = entry.header().mode().expect("mode");
        let mut data = Vec::new();
        entry.read_to_end(&mut data).expect("read");
        seen.push((path, mode, data.len()));
    }
    let busybox_len = std::fs::metadata(common::busybox_path())
        .expect("busybox")
        .len() as usize;
    assert_eq!(
        seen,
        vec![
            (
                "Dockerfile".to_string(),
                0o644,
                common::BUILDER_DOCKERFILE.len()
            ),
            ("busybox".to_string(), 0o755, busybox_len),
            ("s2i/bin/assemble".to_string(), 0o755, 10),
        ]
    );
}

#[test]
fn chunked_responses_are_decoded() {
    // Through a local listener that answers like the engine does for JSON.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = std::thread::spawn(move || {
        use std::io::Write;
        let (mut s, _) = listener.accept().expect("accept");
        let mut buf = [0u8; 1024];
        let _ = s.read(&mut buf).expect("request");
        s.write_all(b"HTTP/1.1 200 OK\r\nServer: Libpod/4.3.1 (linux)\r\nTransfer-Encoding: chunked\r\n\r\n")
            .and_then(|_| s.write_all(b"3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n"))
            .expect("response");
    });
    let r = raw_request(&format!("tcp://{addr}"), "GET", "/x", None, &[]).expect("request");
    server.join().expect("server");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("SERVER"), Some("Libpod/4.3.1 (linux)"));
    assert_eq!(r.body, b"{\"a\":1}");
}

#[test]
fn the_builder_image_builds_and_runs_and_cleanup_removes_it() {
    let Some(host) = common::engine_host() else {
        return;
    };
    if let (Ok(podman), Err(_)) = (
        std::env::var("S2I_TEST_PODMAN_HOST"),
        std::env::var("S2I_TEST_ENGINE"),
    ) {
        assert_eq!(
            common::is_podman(),
            podman == host,
            "is_podman() for {host}"
        );
    }

    let image = format!("{}:1", common::unique_name("s2i-test-common"));
    let container = common::unique_name("s2i_common");
    let id;
    {
        let cleanup = Cleanup::new(&host);
        cleanup.image(&image);
        let context = common::build_context_tar(common::BUILDER_DOCKERFILE, &[]);
        let r = raw_request(
            &host,
            "POST",
            &format!("/build?t={image}&rm=1&forcerm=1"),
            Some("application/x-tar"),
            &context,
        )
        .expect("build");
        let progress = String::from_utf8_lossy(&r.body);
        assert!(
            r.status == 200 && !progress.contains("\"error"),
            "build: {} {progress}",
            r.status
        );

        // As the image's user (1001): /usr/bin/env is the S2I entrypoint, /tmp its destination.
        let config = format!(
            r#"{{"Image":"{image}","Entrypoint":["/usr/bin/env"],"Cmd":["sh","-c","test -w /tmp && touch /tmp/x && exit 3"]}}"#
        );
        let r = raw_request(
            &host,
            "POST",
            &format!("/containers/create?name={container}"),
            Some("application/json"),
            config.as_bytes(),
        )
        .expect("create");
        assert_eq!(
            r.status,
            201,
            "create: {}",
            String::from_utf8_lossy(&r.body)
        );
        let body = String::from_utf8_lossy(&r.body).into_owned();
        id = body.split('"').nth(3).expect("container id").to_string();
        cleanup.container(&id);

        let r = raw_request(&host, "POST", &format!("/containers/{id}/start"), None, &[])
            .expect("start");
        assert_eq!(r.status, 204, "start: {}", String::from_utf8_lossy(&r.body));
        let r =
            raw_request(&host, "POST", &format!("/containers/{id}/wait"), None, &[]).expect("wait");
        let waited = String::from_utf8_lossy(&r.body);
        assert!(
            waited.contains("\"StatusCode\":3"),
            "wait: {} {waited}",
            r.status
        );
    }
    let r = raw_request(&host, "GET", &format!("/containers/{id}/json"), None, &[])
        .expect("inspect container");
    assert_eq!(r.status, 404, "container {container} is still there");
    let r = raw_request(&host, "GET", &format!("/images/{image}/json"), None, &[])
        .expect("inspect image");
    assert_eq!(r.status, 404, "image {image} is still there");
}
