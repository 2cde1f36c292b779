//! A builder without `sh`: the build falls back to the reference's layered build, an image of
//! the builder with the scripts and sources inside, which is removed when the build ends (or,
//! when the build is killed, by the next command). (A
//! builder without `tar` takes the same way; busybox's `sh` runs its own `tar` whatever the
//! image holds, so the test's builder lacks `sh`, and its scripts name busybox as their
//! interpreter.)

use super::*;

/// The names of the engine's layered images. Podman's list may fail while another test
/// removes an image: it is asked again.
fn layered_images(host: &str) -> Vec<String> {
    for _ in 0..10 {
        let r = raw_request(host, "GET", "/images/json", None, &[]).expect("GET /images/json");
        let images: serde_json::Value = serde_json::from_slice(&r.body).expect("image list");
        match images.as_array() {
            Some(list) if r.status == 200 => {
                return list
                    .iter()
                    .flat_map(|i| i["RepoTags"].as_array().cloned().unwrap_or_default())
                    .filter_map(|t| t.as_str().map(str::to_string))
                    .filter(|t| t.contains("s2i-layered-temp-image-"))
                    .collect()
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(200)),
        }
    }
    panic!("the engine does not list its images");
}

/// The layered images there are now that were not there `before`.
fn new_layered_images(host: &str, before: &[String]) -> Vec<String> {
    layered_images(host)
        .into_iter()
        .filter(|i| !before.contains(i))
        .collect()
}

const ASSEMBLE_NO_SH: &str = r#"#!/bin/busybox sh
[ ! -f /tmp/src/fail ] || { echo "assemble failed on purpose" >&2; exit 3; }
echo "assemble sees $(ls /tmp/src), owned by $(stat -c %u /tmp/src/hello.txt), as $(id -u) with GREETING=$GREETING"
"#;

const RUN_NO_SH: &str = "#!/bin/busybox sh\ncat /tmp/src/hello.txt\n";

#[test]
fn a_builder_without_sh_gets_a_layered_build_whose_image_goes() {
    let (host, b, cleanup) = setup_or_return!();
    let builder = builder_from(
        &host,
        &b.tag,
        &cleanup,
        "s2i-test-cli-no-sh",
        "USER 0\nRUN [\"/bin/busybox\", \"rm\", \"/bin/sh\"]\nUSER 1001\n",
    );
    let before = layered_images(&host);

    let app = App::new(&[
        ("hello.txt", "hello from a layered build\n"),
        (".s2i/bin/assemble", ASSEMBLE_NO_SH),
        (".s2i/bin/run", RUN_NO_SH),
    ]);
    for script in ["assemble", "run"] {
        let path = app.0.join(".s2i/bin").join(script);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(app.path(), &builder, &tag, &["-e", "GREETING=hi", "--run"]),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(
            "Image is missing basic requirements (sh or tar), layered build will be performed"
        ),
        "{t}"
    );
    // The sources are the user's, as the reference hands them over.
    assert!(
        t.contains("assemble sees hello.txt, owned by 1001, as 1001 with GREETING=hi"),
        "{t}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("hello from a layered build"),
        "{t}"
    );
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    assert!(config.contains("\"/tmp/scripts/run\""), "{config}");
    assert_eq!(
        labels_of(&config)["io.openshift.s2i.build.image"],
        builder.as_str()
    );
    assert_eq!(
        new_layered_images(&host, &before),
        [] as [String; 0],
        "the layered image is removed"
    );

    // A failing assemble is the error of any build, and its layered image is removed too.
    std::fs::write(app.0.join("fail"), "").unwrap();
    let out = s2i(&host, &build_args(app.path(), &builder, &tag, &[]));
    let t = text(&out);
    assert!(!out.status.success(), "{t}");
    assert!(t.contains("layered build will be performed"), "{t}");
    assert!(t.contains("assemble failed on purpose"), "{t}");
    assert_eq!(
        new_layered_images(&host, &before),
        [] as [String; 0],
        "the layered image is removed"
    );

    // A build killed outright leaves its layered image: the next command removes it.
    let runtime = App::new(&[("unused", "")]);
    let env = [("XDG_RUNTIME_DIR", runtime.path())];
    let (mut child, _, seen) = super::interrupts::sleeping_build_with(
        &host,
        &builder,
        &tag,
        &app,
        &env,
        "#!/bin/busybox sh",
    );
    assert!(seen.contains("layered build will be performed"), "{seen}");
    let pid = child.id();
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    for id in containers_of(&host, pid) {
        cleanup.container(&id);
    }
    let layered = new_layered_images(&host, &before);
    assert_eq!(layered.len(), 1, "the killed build's layered image stays");
    cleanup.image(&layered[0]);
    let out = s2i_with(&host, None, &env, &["usage", &b.tag, "-p", "never"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Podman names it `localhost/...`.
    let name = layered[0].rsplit('/').next().unwrap_or_default();
    let name = name.trim_end_matches(":latest");
    assert!(
        t.contains(&format!("Removed image {name}, left by a killed build")),
        "{t}"
    );
    assert_eq!(new_layered_images(&host, &before), [] as [String; 0], "{t}");
    assert!(containers_of(&host, pid).is_empty(), "{t}");
}
