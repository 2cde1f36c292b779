//! Labels a script asks for in `/tmp/.s2i/image_metadata.json`, and `--callback-url`.

use std::io::{BufRead, BufReader, Read};

use super::*;

/// An `assemble` that asks for the labels of `$LABELS` in `/tmp/.s2i/image_metadata.json`,
/// and ends its standard error without a newline.
const ASSEMBLE_LABELS: &str = r#"#!/bin/sh
set -e
mkdir -p /tmp/app /tmp/.s2i
cp -R /tmp/src/. /tmp/app/
printf '%s' "$LABELS" > /tmp/.s2i/image_metadata.json
printf 'no newline at the end' >&2
"#;
const ASSEMBLE_RUNTIME_LABELS: &str = r#"#!/bin/sh
mkdir -p /tmp/.s2i && echo '{"labels": [{"stage": "runtime"}]}' > /tmp/.s2i/image_metadata.json
echo "runtime labelled"
"#;

#[test]
fn labels_a_script_asks_for_are_on_the_image() {
    let (host, b, cleanup) = setup_or_return!();
    let secrets = App::new(&[("token", "s3cret")]);
    let app = App::new(&[
        (".s2i/bin/assemble", ASSEMBLE_LABELS),
        (".s2i/bin/assemble-runtime", ASSEMBLE_RUNTIME_LABELS),
        ("hello.txt", "hello"),
    ]);
    // The runtime's scripts keep their mode, as in the reference.
    use std::os::unix::fs::PermissionsExt;
    let runtime_script = app.0.join(".s2i/bin/assemble-runtime");
    std::fs::set_permissions(runtime_script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let inject = format!("{}:/tmp/secrets", secrets.path());
    let tag = out_tag(&cleanup);
    let build = |labels: &str, extra: &[&str]| {
        let env = format!("LABELS={labels}");
        let mut more = vec!["-e", &env, "-i", &inject];
        more.extend_from_slice(extra);
        let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &more));
        let t = text(&out);
        assert!(
            !t.contains("s2i-docker-metadata-"),
            "the marker is shown: {t}"
        );
        (out, t)
    };
    // They win over S2I's labels and the builder's (with injections, whose step runs too);
    // --callback-url is told the outcome and the labels.
    let (url, posted) = callback_receiver();
    let (out, t) = build(
        r#"{"labels": [{"from.script": "yes"}, {"io.k8s.display-name": "by the script"}]}"#,
        &["--callback-url", &url],
    );
    assert!(out.status.success(), "{t}");
    let posted = posted.join().unwrap();
    assert!(posted.contains(r#""success":true"#), "{posted}");
    assert!(posted.contains(r#""from.script":"yes""#), "{posted}");
    assert!(t.contains("no newline at the end"), "{t}");
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains(r#""from.script":"yes""#), "{config}");
    assert!(
        config.contains(r#""io.k8s.display-name":"by the script""#),
        "{config}"
    );

    // A file that is not JSON, or labels past the reference's limit, fail the build.
    let (out, t) = build("{labels", &[]);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(
        t.contains("JSON Unmarshal Error with 'image_metadata.json' file"),
        "{t}"
    );
    let big = format!(r#"{{"labels": [{{"big": "{}"}}]}}"#, "x".repeat(10240));
    let (out, t) = build(&big, &[]);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("label validation failed for"), "{t}");
    assert!(t.contains("exceeds the maximum limit '10240'"), "{t}");

    // In an extended build, the runtime image's script is heard; the builder's is not.
    let (out, t) = build(
        r#"{"labels": [{"stage": "builder"}]}"#,
        &extended_args(&b.tag, &[]),
    );
    assert!(out.status.success(), "{t}");
    assert!(t.contains("runtime labelled"), "{t}");
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains(r#""stage":"runtime""#), "{config}");
}

/// A URL that takes one POST; the thread returns its body.
fn callback_receiver() -> (String, std::thread::JoinHandle<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/done", listener.local_addr().unwrap());
    let posted = std::thread::spawn(move || {
        let (socket, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(socket);
        let (mut line, mut length) = (String::new(), 0);
        while reader.read_line(&mut line).unwrap() > 2 {
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = v.trim().parse().unwrap();
            }
            line.clear();
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let answer = b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
        std::io::Write::write_all(reader.get_mut(), answer).unwrap();
        String::from_utf8(body).unwrap()
    });
    (url, posted)
}
