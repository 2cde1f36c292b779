//! The image getters, removals and version of DockerClient, against the recording fake client.

use super::*;

#[test]
fn local_registry_and_name_normalisation() {
    let (fake, d) = setup();
    assert!(d.is_image_in_local_registry("builder").unwrap());
    assert!(!d.is_image_in_local_registry("missing").unwrap());
    fake.state().inspect_image_err = Some(Error::api(500, "boom"));
    let e = d.is_image_in_local_registry("builder").unwrap_err();
    assert_eq!(e.to_string(), "unable to get metadata for builder:latest");
    assert_eq!(e.code(), Some(crate::ErrorCode::InspectImage));
    assert_eq!(
        fake.calls(),
        ["inspect_image", "inspect_image", "inspect_image"]
    );
}

#[test]
fn metadata_getters() {
    let (fake, d) = setup();
    let mut img = image("sha256:x", &[("a", "b")], &[]);
    if let Some(c) = img.config.as_mut() {
        c.user = "1001:0".into();
        c.entrypoint = Some(vec!["/entry".into()]);
        c.on_build = Some(vec!["USER 500".into()]);
    }
    fake.add_image("x:latest", img.clone());
    fake.add_image("raw", img);
    assert_eq!(d.get_image_user("x").unwrap(), "1001:0");
    assert_eq!(d.get_image_id("x").unwrap(), "sha256:x");
    assert_eq!(d.get_labels("x").unwrap()["a"], "b");
    assert_eq!(d.get_on_build("x").unwrap(), ["USER 500"]);
    assert!(d.is_image_on_build("x"));
    assert!(!d.is_image_on_build("builder"));
    assert!(!d.is_image_on_build("missing"));
    // These do not normalise: the name is inspected as given.
    assert_eq!(d.get_image_entrypoint("raw").unwrap(), ["/entry"]);
    assert_eq!(d.get_image_workdir("raw").unwrap(), "/");
    assert!(d.get_image_entrypoint("x").unwrap_err().is_not_found());
    assert_eq!(d.inspect_image("raw").unwrap().id, "sha256:x");
    // Errors: wrapped for user/labels/on-build, raw for the id.
    let e = d.get_labels("missing").unwrap_err();
    assert_eq!(e.to_string(), "unable to get metadata for missing:latest");
    let e = d.get_image_id("missing").unwrap_err();
    assert_eq!(
        e.to_string(),
        "Error response from daemon: No such image: missing:latest"
    );
    assert!(fake.calls().iter().all(|c| c == "inspect_image"));
}

#[test]
fn removals_versions_and_reachability() {
    let (fake, d) = setup();
    d.remove_image("builder:latest").unwrap();
    assert_eq!(fake.state().removed_images, ["builder:latest"]);
    assert!(d.remove_image("builder:latest").unwrap_err().is_not_found());
    assert!(d.remove_container("nope").unwrap_err().is_not_found());
    d.kill_container("any").unwrap();
    fake.state().version.version = "20.10.24".into();
    assert_eq!(d.version().unwrap().version, "20.10.24");
    d.check_reachable().unwrap();
    fake.state().version_err = Some(Error::other("Cannot connect"));
    assert!(d.check_reachable().is_err());
    assert_eq!(
        fake.calls(),
        [
            "remove_image",
            "remove_image",
            "remove",
            "kill",
            "version",
            "version",
            "version"
        ]
    );
}

#[test]
fn new_is_the_real_docker() {
    let fake = Arc::new(FakeClient::new());
    let d = new(fake.clone(), auth());
    assert!(!d.is_image_in_local_registry("x").unwrap());
    assert!(format!("{d:?}").contains("DockerClient"));
}
