//! A builder with `ONBUILD` instructions: the new image is built from a Dockerfile `FROM` it,
//! as the reference's onbuild strategy builds it.

use super::*;

#[test]
fn a_builder_with_onbuild_instructions_builds_from_a_dockerfile() {
    let (host, b, cleanup) = setup_or_return!();
    let builder = builder_from(
        &host,
        &b.tag,
        &cleanup,
        "s2i-test-cli-onbuild",
        "ONBUILD COPY . ./\nONBUILD RUN echo \"onbuild ran: $(ls | tr '\\n' ' ')\"\n",
    );
    let config = image_config(&host, &builder);
    if !config.contains("\"OnBuild\":[\"COPY . ./\"") {
        // Podman builds OCI images, which keep no ONBUILD instructions: no such builder there.
        assert!(common::is_podman(), "the builder has no ONBUILD: {config}");
        println!(
            "the engine keeps no ONBUILD instructions in the images it builds: nothing to test"
        );
        return;
    }
    let app = App::new(&[
        ("hello.txt", "hello"),
        ("Dockerfile", "FROM the-sources-own\n"),
        (".s2i/environment", "FROM_FILE=yes\n"),
        (
            ".s2i/bin/assemble",
            "#!/bin/sh\necho \"assemble ran with GREETING=$GREETING\"\n",
        ),
    ]);
    // No executable named run, start, exec or execute: no entrypoint.
    let tag = out_tag(&cleanup);
    let out = s2i(&host, &build_args(app.path(), &builder, &tag, &[]));
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("no valid entrypoint specified"), "{t}");

    let run = app.0.join("start.sh");
    std::fs::write(
        &run,
        "#!/bin/sh\necho \"started with $FROM_FILE and $GREETING\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&run, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = s2i(
        &host,
        &build_args(
            app.path(),
            &builder,
            &tag,
            &["-e", "GREETING=a \"quoted\" $value"],
        ),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // The triggers ran on the sources, with the generated Dockerfile and the sources' assemble.
    assert!(
        t.contains("onbuild ran: Dockerfile assemble hello.txt start.sh"),
        "{t}"
    );
    assert!(
        t.contains("assemble ran with GREETING=a \"quoted\" $value"),
        "{t}"
    );
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(
        config.contains("\"Entrypoint\":[\"./start.sh\"]"),
        "{config}"
    );
    assert!(config.contains("\"FROM_FILE=yes\""), "{config}");
    assert!(
        config.contains(r#""GREETING=a \"quoted\" $value""#),
        "{config}"
    );
}
