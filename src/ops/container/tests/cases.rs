//! The container endpoints' cases: the requests they send and how they read the replies.

use super::*;

use std::collections::HashMap;
use std::io::Write;

#[test]
fn capabilities_are_normalised() {
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["KILL", "MKNOD", "SETGID", "SETUID"],
            &["CAP_KILL", "CAP_MKNOD", "CAP_SETGID", "CAP_SETUID"],
        ),
        (
            &["setuid", "cap_kill", "Cap_Kill", "kill"],
            &["CAP_KILL", "CAP_SETUID"],
        ),
        (&["all", "net_raw"], &["ALL", "CAP_NET_RAW"]),
        (&[], &[]),
    ];
    for (input, want) in cases {
        let input: Vec<String> = input.iter().map(|s| s.to_string()).collect();
        assert_eq!(normalize_capabilities(&input), *want, "{input:?}");
    }
}

#[test]
fn create_sends_config_host_config_and_name() {
    let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"abc\",\"Warnings\":null}"));
    let body = ContainerCreateBody {
        config: ContainerConfig {
            image: "busybox:latest".into(),
            cmd: Some(vec!["/bin/sh".into()]),
            open_stdin: true,
            ..Default::default()
        },
        host_config: HostConfig {
            cap_drop: Some(vec!["kill".into(), "CAP_KILL".into(), "mknod".into()]),
            shm_size: 67_108_864,
            ..Default::default()
        },
    };
    let created = create(&docker, &body, "s2i_busybox_0000abcd").unwrap();
    assert_eq!(created.id, "abc");
    assert!(created.warnings.is_empty());
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/containers/create")
    );
    assert_eq!(r.query_pairs(), [("name", "s2i_busybox_0000abcd")]);
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["Image"], "busybox:latest");
    assert_eq!(sent["OpenStdin"], true);
    assert_eq!(sent["Cmd"], serde_json::json!(["/bin/sh"]));
    assert_eq!(
        sent["HostConfig"]["CapDrop"],
        serde_json::json!(["CAP_KILL", "CAP_MKNOD"])
    );
    assert_eq!(sent["HostConfig"]["ShmSize"], 67_108_864);
    assert!(sent.get("Entrypoint").is_none());

    let _ = create(&docker, &ContainerCreateBody::default(), "").unwrap();
    assert!(server.requests()[1].query.is_empty(), "no name, no query");
}

#[test]
fn attach_upgrades_and_streams() {
    let (docker, server) = serve(|r| {
        if r.path.contains("missing") {
            return json(
                "404 Not Found",
                "{\"message\":\"No such container: missing\"}",
            );
        }
        if r.path.contains("bare") {
            return (
                b"HTTP/1.1 409 Conflict\r\nContent-Length: 0\r\n\r\n".to_vec(),
                false,
            );
        }
        let mut reply =
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n".to_vec();
        reply.extend_from_slice(b"\x01\0\0\0\0\0\0\x03out\x02\0\0\0\0\0\0\x03err");
        (reply, true)
    });
    let options = ContainerAttachOptions {
        stream: true,
        stdin: true,
        stdout: true,
        stderr: true,
    };
    let mut hijacked = attach(&docker, "abc", &options).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    crate::ops::stream::demux(&mut hijacked.reader, &mut out, &mut err).unwrap();
    assert_eq!((&out[..], &err[..]), (&b"out"[..], &b"err"[..]));
    // The server closed: writing may fail, but half-closing never panics.
    let _ = hijacked.writer.write_all(b"x");
    let _ = hijacked.writer.close_write();
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/containers/abc/attach")
    );
    assert_eq!(
        r.query_pairs(),
        [
            ("stderr", "1"),
            ("stdin", "1"),
            ("stdout", "1"),
            ("stream", "1")
        ]
    );
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert_eq!(r.header("Upgrade"), Some("tcp"));
    assert!(r
        .header("Connection")
        .is_some_and(|v| v.eq_ignore_ascii_case("upgrade")));

    let e = attach(&docker, "missing", &options).unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    assert_eq!(
        e.to_string(),
        "Error response from daemon: unable to upgrade to tcp, received 404: No such container: missing"
    );
    let e = attach(&docker, "bare", &ContainerAttachOptions::default()).unwrap_err();
    assert!(e.is_conflict());
    assert_eq!(
        e.to_string(),
        "Error response from daemon: unable to upgrade to tcp, received 409"
    );
    assert_eq!(server.requests()[2].query.len(), 0);
}

#[test]
fn start_wait_kill_remove_inspect() {
    let (docker, server) = serve(|r| {
        match (r.method.as_str(), r.path.rsplit('/').next()) {
        (_, Some("start")) => (b"HTTP/1.1 304 Not Modified\r\n\r\n".to_vec(), false),
        (_, Some("wait")) if r.path.contains("weird") => {
            (b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!".to_vec(), false)
        }
        (_, Some("wait")) => json("200 OK", "{\"StatusCode\":3,\"Error\":null}"),
        (_, Some("json")) => json(
            "200 OK",
            "{\"Id\":\"abc\",\"State\":{\"Status\":\"exited\",\"ExitCode\":3,\"OOMKilled\":true,\"Error\":\"\"},\"NetworkSettings\":{\"Ports\":{\"8080/tcp\":null}}}",
        ),
        _ => (b"HTTP/1.1 204 No Content\r\n\r\n".to_vec(), false),
    }
    });
    start(&docker, "abc").unwrap();
    assert_eq!(
        wait(&docker, "abc", WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        3
    );
    let e = wait(&docker, "weird", WaitCondition::NotRunning).unwrap_err();
    assert_eq!(e.to_string(), "not json!");
    kill(&docker, "abc", Signal::Kill).unwrap();
    remove(
        &docker,
        "abc",
        &ContainerRemoveOptions {
            remove_volumes: true,
            force: true,
        },
    )
    .unwrap();
    let state = inspect(&docker, "abc").unwrap().state.unwrap();
    assert!(state.oom_killed);
    assert_eq!(state.exit_code, 3);
    type Seen = (String, String, Vec<(String, String)>);
    let got: Vec<Seen> = server
        .requests()
        .into_iter()
        .map(|r| (r.method, r.path, r.query))
        .collect();
    let pairs = |v: &[(&str, &str)]| -> Vec<(String, String)> {
        v.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let want = vec![
        (
            "POST".to_string(),
            "/v1.41/containers/abc/start".to_string(),
            pairs(&[]),
        ),
        (
            "POST".into(),
            "/v1.41/containers/abc/wait".into(),
            pairs(&[("condition", "not-running")]),
        ),
        (
            "POST".into(),
            "/v1.41/containers/weird/wait".into(),
            pairs(&[("condition", "not-running")]),
        ),
        (
            "POST".into(),
            "/v1.41/containers/abc/kill".into(),
            pairs(&[("signal", "SIGKILL")]),
        ),
        (
            "DELETE".into(),
            "/v1.41/containers/abc".into(),
            pairs(&[("force", "1"), ("v", "1")]),
        ),
        (
            "GET".into(),
            "/v1.41/containers/abc/json".into(),
            pairs(&[]),
        ),
    ];
    assert_eq!(got, want);
    assert!(server.requests().iter().all(|r| r.body.is_empty()));
}

#[test]
fn empty_ids_send_nothing() {
    let (docker, server) = serve(|_| json("200 OK", "{}"));
    let errors = [
        start(&docker, "").unwrap_err(),
        wait(&docker, "", WaitCondition::NotRunning).unwrap_err(),
        inspect(&docker, "").unwrap_err(),
        kill(&docker, "", Signal::Kill).unwrap_err(),
        remove(&docker, "", &ContainerRemoveOptions::default()).unwrap_err(),
        attach(&docker, "", &ContainerAttachOptions::default()).unwrap_err(),
        commit(&docker, "", &ContainerCommitOptions::default()).unwrap_err(),
    ];
    for e in errors {
        assert!(
            matches!(&e, Error::InvalidInput(m) if m == "invalid container name or ID: value is empty"),
            "{e:?}"
        );
    }
    assert!(server.requests().is_empty());
}

#[test]
fn commit_query_and_body() {
    let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"sha256:new\"}"));
    let options = ContainerCommitOptions {
        reference: "myimg".into(),
        config: Some(ContainerConfig {
            cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
            user: "1001".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    assert_eq!(commit(&docker, "abc", &options).unwrap().id, "sha256:new");
    let r = server.only_request();
    assert_eq!(
        (r.method.as_str(), r.path.as_str()),
        ("POST", "/v1.41/commit")
    );
    assert_eq!(
        r.query_pairs(),
        [
            ("author", ""),
            ("comment", ""),
            ("container", "abc"),
            ("repo", "docker.io/library/myimg"),
            ("tag", "latest"),
        ]
    );
    assert_eq!(r.header("Content-Type"), Some("application/json"));
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
    assert_eq!(sent["User"], "1001");

    let plain = ContainerCommitOptions {
        reference: "quay.io/a/b:2".into(),
        comment: "c".into(),
        author: "me".into(),
        config: None,
    };
    commit(&docker, "abc", &plain).unwrap();
    let r = server.requests().pop().unwrap();
    assert_eq!(
        r.query_pairs()[3..],
        [("repo", "quay.io/a/b"), ("tag", "2")]
    );
    assert_eq!(r.query_pairs()[..2], [("author", "me"), ("comment", "c")]);
    assert!(r.body.is_empty());
    assert_eq!(r.header("Content-Type"), None);

    commit(&docker, "abc", &ContainerCommitOptions::default()).unwrap();
    let r = server.requests().pop().unwrap();
    assert_eq!(r.query_pairs()[3..], [("repo", ""), ("tag", "")]);

    let digest = ContainerCommitOptions {
        reference: format!("x@sha256:{}", "0".repeat(64)),
        ..Default::default()
    };
    let e = commit(&docker, "abc", &digest).unwrap_err();
    assert_eq!(
        e.to_string(),
        "refusing to create a tag with a digest reference"
    );
    assert_eq!(server.requests().len(), 3);
}

fn podman(
    handler: impl Fn(&Recorded) -> (Vec<u8>, bool) + Send + Sync + 'static,
) -> (EngineClient, Server) {
    let (docker, server) = serve(handler);
    (
        docker.with_engine(crate::ops::engine::Engine::Podman),
        server,
    )
}

#[test]
fn commit_to_podman_sends_the_config_as_changes() {
    let hex = "ab".repeat(32);
    let reply = format!("{{\"Id\":\"{hex}\"}}");
    let (docker, server) = podman(move |_| json("201 Created", &reply));
    let options = ContainerCommitOptions {
        reference: "app:1".into(),
        config: Some(ContainerConfig {
            cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
            env: Some(vec!["A=1".into()]),
            labels: Some(HashMap::from([("k".to_string(), "v".to_string())])),
            user: "1001".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    // Docker's form of the ID.
    assert_eq!(
        commit(&docker, "c", &options).unwrap().id,
        format!("sha256:{hex}")
    );
    let r = server.only_request();
    assert_eq!(
        r.query_pairs(),
        [
            ("author", ""),
            ("changes", r#"CMD ["/usr/libexec/s2i/run"]"#),
            ("changes", r#"ENV "A"="1""#),
            ("changes", r#"LABEL "k"="v""#),
            ("changes", "USER 1001"),
            ("comment", ""),
            ("container", "c"),
            ("repo", "docker.io/library/app"),
            ("tag", "1"),
        ]
    );
    // The body still goes (a Podman that reads it gets the same).
    let sent: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(sent["User"], "1001");

    // No configuration: no changes, and `{}` (Podman refuses an empty body).
    commit(&docker, "c", &ContainerCommitOptions::default()).unwrap();
    let r = server.requests().pop().unwrap();
    assert!(r.query.iter().all(|(k, _)| k != "changes"));
    assert_eq!(r.body, b"{}");
    assert_eq!(r.header("Content-Type"), Some("application/json"));

    // What the instructions cannot carry is refused before anything is sent.
    let bad = ContainerCommitOptions {
        config: Some(ContainerConfig {
            env: Some(vec!["A=two\nlines".into()]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let e = commit(&docker, "c", &bad).unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn attach_without_stream_is_refused_by_podman_only() {
    let (docker, server) = podman(|_| json("500 Internal Server Error", "{}"));
    let options = ContainerAttachOptions {
        stdout: true,
        ..Default::default()
    };
    let e = attach(&docker, "c", &options).unwrap_err();
    assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
    assert!(e.to_string().contains("stream=1"), "{e}");
    assert!(server.requests().is_empty());
}

#[test]
fn podman_waits_like_docker() {
    let (docker, server) = podman(|r| {
        if r.path.ends_with("/json") {
            let status = if r.path.contains("fresh") {
                "created"
            } else {
                "exited"
            };
            return json(
                "200 OK",
                &format!("{{\"State\":{{\"Status\":\"{status}\"}}}}"),
            );
        }
        json("200 OK", "{\"StatusCode\":-1,\"Error\":null}")
    });
    // A container that never ran exited with 0, as Docker says.
    assert_eq!(
        wait(&docker, "fresh", WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        0
    );
    let r = &server.requests()[0];
    assert_eq!(r.query_pairs(), [("condition", "not-running")]);
    // Otherwise -1 is what it is.
    assert_eq!(
        wait(&docker, "old", WaitCondition::NotRunning)
            .unwrap()
            .status_code,
        -1
    );
    assert_eq!(
        wait(&docker, "fresh", WaitCondition::NextExit)
            .unwrap()
            .status_code,
        -1
    );
    assert_eq!(server.requests().len(), 5);
}

#[test]
fn podman_creates_from_the_docker_meaning_of_a_short_name() {
    let (docker, server) = podman(|r| {
        let image = serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["Image"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if image == "docker.io/library/cli-only:1" {
            return json(
                "404 Not Found",
                "{\"message\":\"no such image: image not known\"}",
            );
        }
        json("201 Created", "{\"Id\":\"abc\"}")
    });
    let body = |image: &str| ContainerCreateBody {
        config: ContainerConfig {
            image: image.into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let images = |server: &Server| -> Vec<String> {
        server
            .requests()
            .iter()
            .map(|r| {
                serde_json::from_slice::<serde_json::Value>(&r.body).unwrap()["Image"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    create(&docker, &body("app:1"), "n").unwrap();
    assert_eq!(images(&server), ["docker.io/library/app:1"]);
    // Only Podman's own lookup knows it (`localhost/cli-only:1`).
    create(&docker, &body("cli-only:1"), "n").unwrap();
    assert_eq!(
        images(&server)[1..],
        ["docker.io/library/cli-only:1", "cli-only:1"]
    );
    // Qualified names and IDs go as they are.
    create(&docker, &body("quay.io/x/y:1"), "n").unwrap();
    create(&docker, &body(&format!("sha256:{}", "0".repeat(64))), "n").unwrap();
    assert_eq!(
        images(&server)[3..],
        [
            "quay.io/x/y:1".to_string(),
            format!("sha256:{}", "0".repeat(64))
        ]
    );
    // Docker is asked as it was asked.
    let (docker, server) = serve(|_| json("201 Created", "{\"Id\":\"abc\"}"));
    create(&docker, &body("app:1"), "n").unwrap();
    assert_eq!(images(&server), ["app:1"]);
}

#[test]
fn list_sends_all_and_label_filters_and_reads_both_engines_replies() {
    let (docker, server) = serve(|r| {
        if r.query.iter().any(|(k, _)| k == "all") {
            // Docker's form.
            json(
                "200 OK",
                r#"[{"Id":"a1","Names":["/s2i_a"],"Image":"builder:1","ImageID":"sha256:b","Command":"true","Created":1700000000,"State":"exited","Status":"Exited (0) 1 minute ago","Labels":{"k":"v"},"Ports":[],"Mounts":[]}]"#,
            )
        } else {
            // Podman 4's: names without `/`, nulls for empty lists and maps.
            json(
                "200 OK",
                r#"[{"Id":"p1","Names":["s2i_p"],"Image":"localhost/b:1","ImageID":"b","Created":1700000001,"State":"running","Labels":null,"Ports":null}]"#,
            )
        }
    });
    let options = ContainerListOptions {
        all: true,
        labels: vec!["io.example/by".into(), "k=v w".into()],
    };
    let docker_list = list(&docker, &options).unwrap();
    assert_eq!(docker_list.len(), 1);
    let a = &docker_list[0];
    assert_eq!(
        (a.id.as_str(), a.image_id.as_str(), a.state.as_str()),
        ("a1", "sha256:b", "exited")
    );
    assert_eq!(a.names, ["/s2i_a"]);
    assert_eq!(a.created, 1_700_000_000);
    assert_eq!(a.labels, HashMap::from([("k".into(), "v".into())]));
    let podman_list = list(&docker, &ContainerListOptions::default()).unwrap();
    assert_eq!(podman_list[0].names, ["s2i_p"]);
    assert!(podman_list[0].labels.is_empty());

    let requests = server.requests();
    assert_eq!(requests[0].path, "/v1.41/containers/json");
    assert_eq!(
        requests[0].query,
        [
            ("all".to_string(), "1".to_string()),
            (
                "filters".to_string(),
                r#"{"label":["io.example/by","k=v w"]}"#.to_string()
            )
        ]
    );
    // Neither `all` nor `filters` when not asked for.
    assert!(requests[1].query.is_empty(), "{:?}", requests[1].query);
    // An empty label filter is refused before anything is sent.
    let e = list(
        &docker,
        &ContainerListOptions {
            all: true,
            labels: vec![String::new()],
        },
    )
    .unwrap_err();
    assert!(
        matches!(&e, Error::InvalidInput(m) if m.contains("label filter")),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 2);
}
