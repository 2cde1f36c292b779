//! The labels and environment variables by which a builder image describes itself to S2I, the
//! defaults that apply when it says nothing, and (inside the crate) how an image's metadata is
//! read: its labels and environment with S2I's fallbacks and warnings. Also the labels the
//! library puts on the containers it creates ([`CREATED_BY_LABEL`], [`CREATED_AT_LABEL`]; see
//! [`reap`](crate::docker::reap)).
//!
//! Uses config (the [`Image`] the lookups read) and ops (the image inspect it is made from).

use crate::config::{ContainerConfig, Image};
use crate::ops::image::ImageInspect;

/// Environment variable of an image that names its scripts URL (deprecated: use
/// [`SCRIPTS_URL_LABEL`]).
pub const SCRIPTS_URL_ENVIRONMENT: &str = "STI_SCRIPTS_URL";

/// Environment variable of an image that names the sources' destination (deprecated: use
/// [`DESTINATION_LABEL`]).
pub const LOCATION_ENVIRONMENT: &str = "STI_LOCATION";

/// Label of a builder image that says where its S2I scripts are, e.g. `image:///usr/libexec/s2i`.
pub const SCRIPTS_URL_LABEL: &str = "io.openshift.s2i.scripts-url";

/// Label of a builder image that says where the sources are extracted.
pub const DESTINATION_LABEL: &str = "io.openshift.s2i.destination";

/// Label of a builder image that lists the files `assemble` reads in an extended build.
pub const ASSEMBLE_INPUT_FILES_LABEL: &str = "io.openshift.s2i.assemble-input-files";

/// Label of a builder image that names the user running `assemble-runtime`.
pub const ASSEMBLE_RUNTIME_USER_LABEL: &str = "io.openshift.s2i.assemble-runtime-user";

/// Label of a builder image that names the user running `assemble`.
pub const ASSEMBLE_USER_LABEL: &str = "io.openshift.s2i.assemble-user";

/// Deprecated form of [`SCRIPTS_URL_LABEL`], still read.
pub const DEPRECATED_SCRIPTS_URL_LABEL: &str = "io.s2i.scripts-url";

/// Deprecated form of [`DESTINATION_LABEL`], still read.
pub const DEPRECATED_DESTINATION_LABEL: &str = "io.s2i.destination";

/// Label of every container the library creates: the process that created it, as
/// `<pid>:<start>@<host>` (see [`Creator`](crate::docker::reap::Creator)), e.g.
/// `4242:1234567@6f1c0d7e-1d2a-4c4f-9a55-0c3f3b0e2a11/4026531836`.
pub const CREATED_BY_LABEL: &str = "io.github.s2i-docker.created-by";

/// Label of every container the library creates: when, in seconds since the Unix epoch with
/// nanoseconds after a dot, e.g. `1796517843.123456789`.
pub const CREATED_AT_LABEL: &str = "io.github.s2i-docker.created-at";

/// Where sources are extracted when nothing says otherwise.
pub const DEFAULT_DESTINATION: &str = "/tmp";

/// The reference's `updateImageWithInspect`: ID, labels and env of an inspected image.
///
/// Only the labels and the environment are kept, in both configurations: the reference's
/// `api.ContainerConfig` holds those two, and the lookups below read nothing else.
pub(crate) fn image_from_inspect(inspect: &ImageInspect) -> Image {
    let config = inspect.config.as_ref().map(|c| ContainerConfig {
        labels: c.labels.clone(),
        env: c.env.clone(),
        ..Default::default()
    });
    Image {
        id: inspect.id.clone(),
        container_config: config.clone(),
        config,
    }
}

/// A label of the image's `Config`; an empty value counts as absent.
fn label<'a>(image: Option<&'a Image>, key: &str) -> Option<&'a str> {
    image?
        .config
        .as_ref()?
        .labels
        .as_ref()?
        .get(key)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The reference's `getVariable`: the first `NAME=` entry of the image's env, trimmed.
fn variable(image: Option<&Image>, name: &str) -> Option<String> {
    let env = image?.config.as_ref()?.env.as_ref()?;
    let value = env
        .iter()
        .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))?;
    Some(value.trim().to_string()).filter(|v| !v.is_empty())
}

/// The reference's lookup of an S2I setting: the label, else the deprecated label, else the
/// deprecated environment variable, each with the reference's warning when it is used.
fn label_or_deprecated(
    image: Option<&Image>,
    label_key: &str,
    deprecated_label: &str,
    deprecated_env: &str,
) -> Option<String> {
    if let Some(v) = label(image, label_key) {
        return Some(v.to_string());
    }
    let id = image.map_or("", |i| i.id.as_str());
    if let Some(v) = label(image, deprecated_label) {
        log::warn!(
            "Image {id} uses deprecated label '{deprecated_label}', please migrate it to {label_key} instead!"
        );
        return Some(v.to_string());
    }
    let v = variable(image, deprecated_env)?;
    log::warn!(
        "Image {id} uses deprecated environment variable {deprecated_env}, please migrate it to {label_key} label instead!"
    );
    Some(v)
}

/// The reference's `getScriptsURL`: label, deprecated label, deprecated env, or `""`.
pub(crate) fn scripts_url_of(image: Option<&Image>) -> String {
    let Some(img) = image else {
        return String::new();
    };
    label_or_deprecated(
        image,
        SCRIPTS_URL_LABEL,
        DEPRECATED_SCRIPTS_URL_LABEL,
        SCRIPTS_URL_ENVIRONMENT,
    )
    .unwrap_or_else(|| {
        log::warn!(
            "Image {} does not contain a value for the {} label",
            img.id,
            SCRIPTS_URL_LABEL
        );
        String::new()
    })
}

/// The reference's `getDestination`: label, deprecated label, deprecated env, or `/tmp`.
pub(crate) fn destination_of(image: Option<&Image>) -> String {
    label_or_deprecated(
        image,
        DESTINATION_LABEL,
        DEPRECATED_DESTINATION_LABEL,
        LOCATION_ENVIRONMENT,
    )
    .unwrap_or_else(|| DEFAULT_DESTINATION.to_string())
}

/// The reference's `GetAssembleInputFiles` once the image is known: its
/// [`ASSEMBLE_INPUT_FILES_LABEL`], or `""` with a warning naming the image as the caller wrote it.
pub(crate) fn assemble_input_files_of(name: &str, image: Option<&Image>) -> String {
    match label(image, ASSEMBLE_INPUT_FILES_LABEL) {
        Some(v) => v.to_string(),
        None => {
            log::warn!(
                "Image \"{name}\" does not contain a value for the {} label",
                ASSEMBLE_INPUT_FILES_LABEL
            );
            String::new()
        }
    }
}

/// The reference's `GetAssembleRuntimeUser` once the image is known: its
/// [`ASSEMBLE_RUNTIME_USER_LABEL`], or `""`.
pub(crate) fn assemble_runtime_user_of(image: Option<&Image>) -> String {
    label(image, ASSEMBLE_RUNTIME_USER_LABEL)
        .unwrap_or_default()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::docker::Docker;
    use crate::fake::testing::docker::*;

    #[test]
    fn check_image_maps_the_inspect() {
        let (fake, d) = setup();
        fake.add_image(
            "e:latest",
            image("sha256:e", &[("l", "v")], &["A=1", "B= 2 "]),
        );
        let img = d.check_image("e").unwrap().unwrap();
        assert_eq!(img.id, "sha256:e");
        assert_eq!(img.config, img.container_config);
        let c = img.config.unwrap();
        assert_eq!(c.labels.unwrap()["l"], "v");
        assert_eq!(c.env.unwrap(), ["A=1", "B= 2 "]);
        let e = d.check_image("nope").unwrap_err();
        assert_eq!(e.to_string(), "unable to get metadata for nope:latest");
        assert!(e.is_not_found());
        // No config at all is empty metadata, not a crash.
        fake.add_image("bare:latest", ImageInspect::default());
        assert_eq!(d.get_scripts_url("bare").unwrap(), "");
        assert!(d.get_labels("bare").unwrap().is_empty());
        // A config without labels or env: every lookup is absent, as with empty ones.
        let unlabelled = image_from_inspect(&image("sha256:u", &[], &[]));
        assert_eq!(unlabelled.config.as_ref().unwrap().labels, None);
        assert_eq!(label(Some(&unlabelled), SCRIPTS_URL_LABEL), None);
        assert_eq!(variable(Some(&unlabelled), SCRIPTS_URL_ENVIRONMENT), None);
        assert_eq!(destination_of(Some(&unlabelled)), DEFAULT_DESTINATION);
        assert_eq!(assemble_runtime_user_of(Some(&unlabelled)), "");
        // Only the labels and the env are kept.
        let mut with_user = image("sha256:w", &[("l", "v")], &[]);
        with_user.config.as_mut().unwrap().user = "1001".into();
        let kept = image_from_inspect(&with_user).config.unwrap();
        assert_eq!(kept.user, "");
        assert_eq!(kept.labels.unwrap()["l"], "v");
    }

    #[test]
    fn scripts_url_fallbacks_and_warnings() {
        let (fake, d) = setup();
        fake.add_image(
            "new:latest",
            image("id-new", &[(SCRIPTS_URL, "image:///new")], &[]),
        );
        fake.add_image(
            "old:latest",
            image("id-old", &[("io.s2i.scripts-url", "image:///old")], &[]),
        );
        fake.add_image(
            "env:latest",
            image("id-env", &[], &["X=1", "STI_SCRIPTS_URL= image:///env "]),
        );
        fake.add_image("none:latest", image("id-none", &[(SCRIPTS_URL, "")], &[]));
        let (url, logs) = logs_of(|| d.get_scripts_url("new").unwrap());
        assert_eq!(url, "image:///new");
        assert!(logs.iter().all(|(l, _)| *l > log::Level::Warn), "{logs:?}");
        let (url, logs) = logs_of(|| d.get_scripts_url("old").unwrap());
        assert_eq!(url, "image:///old");
        assert_logged(&logs, log::Level::Warn, "Image id-old uses deprecated label 'io.s2i.scripts-url', please migrate it to io.openshift.s2i.scripts-url instead!");
        let (url, logs) = logs_of(|| d.get_scripts_url("env").unwrap());
        assert_eq!(url, "image:///env");
        assert_logged(&logs, log::Level::Warn, "Image id-env uses deprecated environment variable STI_SCRIPTS_URL, please migrate it to io.openshift.s2i.scripts-url label instead!");
        let (url, logs) = logs_of(|| d.get_scripts_url("none").unwrap());
        assert_eq!(url, "");
        assert_logged(
            &logs,
            log::Level::Warn,
            "Image id-none does not contain a value for the io.openshift.s2i.scripts-url label",
        );
    }

    const SCRIPTS_URL: &str = crate::docker::labels::SCRIPTS_URL_LABEL;

    #[test]
    fn scripts_url_pulls_a_missing_image() {
        let (fake, d) = setup();
        fake.state().registry.insert(
            "remote:latest".into(),
            image("sha256:r", &[(SCRIPTS_URL, "image:///r")], &[]),
        );
        assert_eq!(d.get_scripts_url("remote").unwrap(), "image:///r");
        assert_eq!(fake.calls(), ["inspect_image", "pull", "inspect_image"]);
        assert_eq!(fake.state().pulls[0].0, "remote:latest");
        // Present now: no second pull.
        assert_eq!(d.get_scripts_url("remote").unwrap(), "image:///r");
        assert_eq!(fake.calls().len(), 4);
    }

    #[test]
    fn assemble_labels() {
        let (fake, d) = setup();
        fake.add_image(
            "a:latest",
            image(
                "id",
                &[
                    (
                        crate::docker::labels::ASSEMBLE_INPUT_FILES_LABEL,
                        "/opt/app",
                    ),
                    (crate::docker::labels::ASSEMBLE_RUNTIME_USER_LABEL, "1002"),
                ],
                &[],
            ),
        );
        assert_eq!(d.get_assemble_input_files("a").unwrap(), "/opt/app");
        assert_eq!(d.get_assemble_runtime_user("a").unwrap(), "1002");
        let (files, logs) = logs_of(|| d.get_assemble_input_files("builder").unwrap());
        assert_eq!(files, "");
        assert_logged(&logs, log::Level::Warn, "Image \"builder\" does not contain a value for the io.openshift.s2i.assemble-input-files label");
        assert_eq!(d.get_assemble_runtime_user("builder").unwrap(), "");
        assert!(d.get_assemble_runtime_user("gone").is_err());
    }
}
