//! The image endpoints' cases: the requests they send, the streams they return, Podman's names.

use super::*;

const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn pull_sends_the_normalised_reference() {
    let (docker, server) = serve(|_| {
        (
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n13\r\n{\"status\":\"done\"}\r\n\r\n0\r\n\r\n".to_vec(),
            false,
        )
    });
    let options = ImagePullOptions {
        registry_auth: "e30K".into(),
        platform: "Linux/AMD64".into(),
    };
    let body = pull(&docker, "busybox", &options).unwrap();
    let mut seen = Vec::new();
    crate::ops::stream::consume(body, |m| seen.push(m.status.clone())).unwrap();
    assert_eq!(seen, ["done"]);
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/images/create")
    );
    assert_eq!(
        r.query_pairs(),
        [
            ("fromImage", "docker.io/library/busybox"),
            ("platform", "linux/amd64"),
            ("tag", "latest")
        ]
    );
    assert_eq!(r.header("X-Registry-Auth"), Some("e30K"));
    assert!(r.body.is_empty());

    let cases = [
        ("quay.io/x/y:1", "quay.io/x/y", "1".to_string()),
        ("localhost:5000/a", "localhost:5000/a", "latest".to_string()),
        (
            &*format!("foo:2@{DIGEST}"),
            "docker.io/library/foo",
            DIGEST.to_string(),
        ),
    ];
    for (reference, from, tag) in &cases {
        let _ = pull(&docker, reference, &ImagePullOptions::default()).unwrap();
        let r = server.requests().pop().unwrap();
        assert_eq!(
            r.query_pairs(),
            [("fromImage", *from), ("tag", tag.as_str())]
        );
        assert_eq!(
            r.header("X-Registry-Auth"),
            None,
            "empty auth sends no header"
        );
    }
    let before = server.requests().len();
    let e = pull(&docker, "Not:Valid:", &ImagePullOptions::default())
        .map(drop)
        .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert_eq!(
        server.requests().len(),
        before,
        "nothing sent for an invalid reference"
    );
}

#[test]
fn inspect_puts_the_name_in_the_path_unescaped() {
    let (docker, server) = serve(|r| {
        if r.path.contains("missing") {
            json(
                "404 Not Found",
                "{\"message\":\"No such image: missing:latest\"}",
            )
        } else {
            json(
                "200 OK",
                "{\"Id\":\"sha256:1\",\"RepoTags\":null,\"Config\":{\"User\":\"1001\",\"Labels\":{\"a\":\"b\"},\"Env\":[\"X=1\"],\"OnBuild\":null}}",
            )
        }
    });
    let name = format!("quay.io:443/x/y:1@{DIGEST}");
    let (image, raw) = inspect_with_raw(&docker, &name).unwrap();
    assert_eq!(image.id, "sha256:1");
    assert!(image.repo_tags.is_empty());
    let config = image.config.unwrap();
    assert_eq!(config.user, "1001");
    assert_eq!(
        config.labels.unwrap().get("a").map(String::as_str),
        Some("b")
    );
    assert!(raw.starts_with(b"{\"Id\""));
    let r = server.only_request();
    assert_eq!(r.method, "GET");
    assert_eq!(r.path, format!("/v1.41/images/{name}/json"));

    let e = inspect(&docker, "missing:latest").unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(
        e.to_string(),
        "Error response from daemon: No such image: missing:latest"
    );

    let e = inspect(&docker, "").unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(server.requests().len(), 2, "nothing sent for an empty name");
}

#[test]
fn build_query_headers_and_streamed_body() {
    let (docker, server) = serve(|_| {
        json(
            "200 OK",
            "{\"stream\":\"Step 1/1 : FROM scratch\\n\"}\r\n{\"error\":\"boom\"}\r\n",
        )
    });
    let context: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let options = ImageBuildOptions {
        tags: vec!["app:1".into()],
        no_cache: true,
        remove: true,
        force_remove: true,
        memory: 1 << 30,
        memory_swap: -1,
        cpu_shares: 512,
        cpu_period: 0,
        cpu_quota: 50_000,
        cgroup_parent: "/s2i".into(),
        ..Default::default()
    };
    let out = build(&docker, &mut &context[..], &options).unwrap();
    let mut log = Vec::new();
    let e = crate::ops::stream::copy_checked(out, &mut log).unwrap_err();
    assert_eq!(e.to_string(), "boom");
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/build")
    );
    assert_eq!(
        r.query_pairs(),
        [
            ("cgroupparent", "/s2i"),
            ("cpuquota", "50000"),
            ("cpushares", "512"),
            ("forcerm", "1"),
            ("memory", "1073741824"),
            ("memswap", "-1"),
            ("nocache", "1"),
            ("rm", "1"),
            ("t", "app:1"),
        ]
    );
    assert_eq!(r.header("Content-Type"), Some("application/x-tar"));
    assert_eq!(r.header("X-Registry-Config"), Some("bnVsbA=="));
    assert_eq!(r.body, context);

    let _ = build(&docker, &mut &b""[..], &ImageBuildOptions::default()).unwrap();
    let r = server.requests().pop().unwrap();
    assert_eq!(r.query_pairs(), [("rm", "0")]);
}

#[test]
fn build_arguments_target_pull_labels_and_registry_config() {
    let (docker, server) = serve(|_| json("200 OK", "{\"stream\":\"ok\"}\r\n"));
    let options = ImageBuildOptions {
        build_args: [("TOKEN".to_string(), "s3cret value".to_string())].into(),
        target: "runtime".into(),
        pull: true,
        labels: [("a".to_string(), "b".to_string())].into(),
        registry_config: "eyJ4Ijp7fX0=".into(),
        ..Default::default()
    };
    let _ = build(&docker, &mut &b""[..], &options).unwrap();
    let r = server.only_request();
    assert_eq!(
        r.query_pairs(),
        [
            ("buildargs", "{\"TOKEN\":\"s3cret value\"}"),
            ("labels", "{\"a\":\"b\"}"),
            ("pull", "1"),
            ("rm", "0"),
            ("target", "runtime"),
        ]
    );
    assert_eq!(r.header("X-Registry-Config"), Some("eyJ4Ijp7fX0="));
    // Neither the credentials nor the arguments' values in `Debug`.
    let debug = format!("{options:?}");
    assert!(
        !debug.contains("s3cret") && !debug.contains("eyJ4"),
        "{debug}"
    );
    assert!(
        debug.contains("TOKEN") && debug.contains("<redacted>"),
        "{debug}"
    );
}

#[test]
fn remove_query() {
    let (docker, server) = serve(|_| {
        json(
            "200 OK",
            "[{\"Untagged\":\"a:1\"},{\"Deleted\":\"sha256:1\"}]",
        )
    });
    let items = remove(
        &docker,
        "a:1",
        &ImageRemoveOptions {
            force: true,
            no_prune: true,
        },
    )
    .unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items[1].deleted, "sha256:1");
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("DELETE", "/v1.41/images/a:1")
    );
    assert_eq!(r.query_pairs(), [("force", "1"), ("noprune", "1")]);
    assert!(remove(&docker, "", &ImageRemoveOptions::default()).is_err());
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn push_sends_the_tag_and_credentials_and_its_stream_carries_errors() {
    let (docker, server) = serve(|r| {
        if r.path.contains("refused") {
            json(
                "200 OK",
                "{\"status\":\"The push refers to repository [127.0.0.1:5000/refused]\"}\r\n{\"errorDetail\":{\"message\":\"unauthorized: authentication required\"},\"error\":\"unauthorized: authentication required\"}\r\n",
            )
        } else if r.path.contains("missing") {
            json(
                "404 Not Found",
                "{\"message\":\"An image does not exist locally with the tag: missing\"}",
            )
        } else {
            json(
                "200 OK",
                "{\"status\":\"Pushed\",\"id\":\"b81b\"}\r\n{\"status\":\"1: digest: sha256:0d00 size: 527\"}\r\n",
            )
        }
    });
    let options = ImagePushOptions {
        registry_auth: "eyJ1c2VybmFtZSI6InUifQo=".into(),
        tls_verify: None,
    };
    let body = push(&docker, "127.0.0.1:5000/team/app:1", &options).unwrap();
    let mut seen = Vec::new();
    crate::ops::stream::consume(body, |m| seen.push(m.status.clone())).unwrap();
    assert_eq!(seen, ["Pushed", "1: digest: sha256:0d00 size: 527"]);
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/images/127.0.0.1:5000/team/app/push")
    );
    assert_eq!(r.query_pairs(), [("tag", "1")]);
    assert_eq!(
        r.header("X-Registry-Auth"),
        Some("eyJ1c2VybmFtZSI6InUifQo=")
    );
    assert!(r.body.is_empty());

    // Familiar name, default tag, and a header even without credentials (the Docker engine
    // refuses a push without one); Podman's tlsVerify only when asked.
    let options = ImagePushOptions {
        registry_auth: String::new(),
        tls_verify: Some(false),
    };
    let _ = push(&docker, "docker.io/library/busybox", &options).unwrap();
    let r = server.requests().pop().unwrap();
    assert_eq!(r.path, "/v1.41/images/busybox/push");
    assert_eq!(r.query_pairs(), [("tag", "latest"), ("tlsVerify", "false")]);
    assert_eq!(r.header("X-Registry-Auth"), Some("e30K"));

    // A refused push is a 200 whose stream says why.
    let body = push(
        &docker,
        "127.0.0.1:5000/refused:1",
        &ImagePushOptions::default(),
    )
    .unwrap();
    let e = crate::ops::stream::consume(body, |_| {}).unwrap_err();
    assert!(matches!(e, Error::Stream { .. }), "{e:?}");
    assert_eq!(e.to_string(), "unauthorized: authentication required");
    assert!(e.is_unauthorized());

    let e = push(&docker, "missing", &ImagePushOptions::default())
        .map(drop)
        .unwrap_err();
    assert!(e.is_not_found(), "{e:?}");

    let before = server.requests().len();
    for bad in [
        format!("app@{DIGEST}"),
        "Not:Valid:".to_string(),
        String::new(),
    ] {
        let e = push(&docker, &bad, &ImagePushOptions::default())
            .map(drop)
            .unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e:?}");
    }
    assert_eq!(
        server.requests().len(),
        before,
        "nothing sent for a bad reference"
    );
}

#[test]
fn tag_normalises_the_target() {
    let (docker, server) = serve(|r| {
        if r.path.contains("missing") {
            json(
                "404 Not Found",
                "{\"message\":\"No such image: missing:latest\"}",
            )
        } else {
            (
                b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n".to_vec(),
                false,
            )
        }
    });
    tag(&docker, "sha256:abc", "127.0.0.1:5000/team/app:1").unwrap();
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/images/sha256:abc/tag")
    );
    assert_eq!(
        r.query_pairs(),
        [("repo", "127.0.0.1:5000/team/app"), ("tag", "1")]
    );

    tag(&docker, "app:1", "docker.io/library/busybox").unwrap();
    let r = server.requests().pop().unwrap();
    assert_eq!(r.path, "/v1.41/images/app:1/tag");
    assert_eq!(r.query_pairs(), [("repo", "busybox"), ("tag", "latest")]);

    let e = tag(&docker, "missing", "x:1").unwrap_err();
    assert!(e.is_not_found());
    assert_eq!(
        e.to_string(),
        "Error response from daemon: No such image: missing:latest"
    );

    let before = server.requests().len();
    let digest = format!("app@{DIGEST}");
    for (source, target) in [
        ("app", digest.as_str()),
        ("app", "Not:Valid:"),
        (" ", "x:1"),
    ] {
        let e = tag(&docker, source, target).unwrap_err();
        assert!(
            matches!(e, Error::InvalidInput(_)),
            "{source} {target}: {e:?}"
        );
    }
    assert_eq!(
        server.requests().len(),
        before,
        "nothing sent for bad names"
    );
}

#[test]
fn options_debug_hides_credentials() {
    let pull = ImagePullOptions {
        registry_auth: "eyJwYXNzd29yZCI6InNlY3JldCJ9Cg==".into(),
        ..Default::default()
    };
    let push = ImagePushOptions {
        registry_auth: pull.registry_auth.clone(),
        ..Default::default()
    };
    for d in [format!("{pull:?}"), format!("{push:?}")] {
        assert!(!d.contains("eyJ") && d.contains("<redacted>"), "{d}");
    }
}

#[test]
fn podman_inspects_and_removes_the_docker_meaning_of_a_short_name() {
    let (docker, server) = serve(|r| {
        if r.path.contains("docker.io/library/cli-only") {
            return json(
                "404 Not Found",
                "{\"message\":\"failed to find image: No such image\"}",
            );
        }
        if r.method == "DELETE" {
            return json("200 OK", "[{\"Untagged\":\"docker.io/library/app:1\"}]");
        }
        let hex = "cd".repeat(32);
        json(
            "200 OK",
            &format!("{{\"Id\":\"{hex}\",\"RepoTags\":[\"docker.io/library/app:1\",\"localhost/app:1\",\"docker.io/u/x:2\"],\"RepoDigests\":[\"docker.io/library/app@{DIGEST}\"]}}"),
        )
    });
    let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
    let image = inspect(&docker, "app:1").unwrap();
    assert_eq!(image.id, format!("sha256:{}", "cd".repeat(32)));
    assert_eq!(image.repo_tags, ["app:1", "localhost/app:1", "u/x:2"]);
    assert_eq!(image.repo_digests, [format!("app@{DIGEST}")]);
    inspect(&docker, "cli-only").unwrap();
    inspect(&docker, "localhost/app:1").unwrap();
    remove(&docker, "app:1", &ImageRemoveOptions::default()).unwrap();
    remove(&docker, "cli-only:2", &ImageRemoveOptions::default()).unwrap();
    let paths: Vec<String> = server.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(
        paths,
        [
            "/v1.41/images/docker.io/library/app:1/json",
            "/v1.41/images/docker.io/library/cli-only/json",
            "/v1.41/images/cli-only/json",
            "/v1.41/images/localhost/app:1/json",
            "/v1.41/images/docker.io/library/app:1",
            "/v1.41/images/docker.io/library/cli-only:2",
            "/v1.41/images/cli-only:2",
        ]
    );
    // Missing both ways: the error about the name as given.
    let e = inspect(&docker, "docker.io/library/cli-only").unwrap_err();
    assert!(e.is_not_found());
}

#[test]
fn podman_inspects_again_when_another_image_went_meanwhile() {
    const RACE: &str = "{\"message\":\"failed to convert ImageData to ImageInspect 'docker.io/library/app:1': reading image \\\"68bd\\\": locating image with ID \\\"68bd\\\": image not known\"}";
    let (docker, server) = serve(|r| {
        if r.path.contains("missing") {
            return json(
                "404 Not Found",
                "{\"message\":\"failed to find image missing: No such image\"}",
            );
        }
        if r.path.contains("racing") {
            return json("500 Internal Server Error", RACE);
        }
        json("200 OK", "{\"Id\":\"sha256:1\"}")
    });
    let docker = docker.with_engine(crate::ops::engine::Engine::Podman);
    let e = inspect(&docker, "localhost/racing:1").unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert_eq!(
        server.requests().len(),
        crate::ops::podman::INSPECT_ATTEMPTS as usize,
        "bounded attempts"
    );
    // A missing image is not retried, nor is any other failure.
    assert!(inspect(&docker, "localhost/missing")
        .unwrap_err()
        .is_not_found());
    assert_eq!(
        server.requests().len(),
        crate::ops::podman::INSPECT_ATTEMPTS as usize + 1
    );
    assert!(crate::ops::podman::is_inspect_race(&Error::api(
        500,
        "x: image not known"
    )));
    assert!(!crate::ops::podman::is_inspect_race(&Error::api(
        500, "boom"
    )));
    assert!(!crate::ops::podman::is_inspect_race(&Error::api(
        404,
        "image not known"
    )));
}
