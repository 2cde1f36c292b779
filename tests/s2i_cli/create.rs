//! `create`: the repository of a new builder image, which builds and tests as it is.

use std::os::unix::fs::PermissionsExt;

use super::*;

#[test]
fn create_lays_down_a_builder_that_builds_applications() {
    let (host, b, cleanup) = setup_or_return!();
    let dir = App::new(&[("README.md", "kept")]);
    let name = format!("{}:1", common::unique_name("s2i-test-cli-created"));
    let out = s2i(&host, &["create", &name, dir.path()]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("File already exists: README.md, skipping"),
        "{t}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.0.join("README.md")).unwrap(),
        "kept"
    );

    // The builder, on the test's busybox image instead of the one from Docker Hub (no network).
    let dockerfile = std::fs::read_to_string(dir.0.join("Dockerfile")).unwrap();
    let dockerfile = dockerfile.replace(
        "FROM docker.io/library/busybox:1",
        &format!("FROM {}", b.tag),
    );
    assert!(
        dockerfile.contains(&format!("FROM {}", b.tag)),
        "{dockerfile}"
    );
    let scripts: Vec<(String, Vec<u8>, u32)> = ["assemble", "run", "usage", "save-artifacts"]
        .iter()
        .map(|s| {
            let path = dir.0.join("s2i/bin").join(s);
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o755, "{s}");
            (format!("s2i/bin/{s}"), std::fs::read(path).unwrap(), mode)
        })
        .collect();
    let files: Vec<(&str, &[u8], u32)> = scripts
        .iter()
        .map(|(p, d, m)| (p.as_str(), d.as_slice(), *m))
        .collect();
    cleanup.image(&name);
    build_image(
        &host,
        &name,
        &common::build_context_tar(&dockerfile, &files),
    );

    let out = s2i(&host, &["usage", &name, "-p", "never"]);
    assert!(
        text(&out).contains(&format!("s2i-docker build SOURCES {name} APP_IMAGE")),
        "{}",
        text(&out)
    );
    let app = dir.0.join("test/test-app");
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(app.to_str().unwrap(), &name, &tag, &["--incremental"]),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains("---> Installing the application's sources"),
        "{t}"
    );
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains("\"/usr/libexec/s2i/run\""), "{config}");
    // Again, incrementally: save-artifacts' output comes back.
    let out = s2i(
        &host,
        &build_args(app.to_str().unwrap(), &name, &tag, &["--incremental"]),
    );
    let t = text(&out);
    assert!(
        out.status.success() && t.contains("---> Restoring build artifacts"),
        "{t}"
    );
    cleanup.image(&image_id(&image_config(&host, &tag)));
}
