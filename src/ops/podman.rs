//! Podman: where its Docker-compatible API answers differently from the Docker Engine, and
//! what this crate does about each difference.
//!
//! [`EngineClient`](crate::ops::engine::EngineClient) speaks to Podman's service
//! (`podman system service`) as to the Docker Engine. It tells them apart by the `Server` header
//! of `GET /_ping` (`Libpod/4.3.1 (linux)` is Podman, see [`Engine`](crate::ops::engine::Engine)),
//! asked once per client and shared by its clones (the version negotiation's ping tells it for
//! free), and it handles the differences below inside the endpoint functions of
//! [`ops`](crate::ops), so that [`DockerClient`](crate::DockerClient) and the S2I operations
//! above it give the same results on both engines. Tested with Docker Engine 20.10.24 (API 1.41)
//! and Podman 4.3.1 (its compat API 1.41).
//!
//! # Finding the engine
//!
//! With neither `DOCKER_HOST` nor `CONTAINER_HOST` set (Podman's own variable, honoured when it
//! is a `unix://` or `tcp://` URL), [`get_default_docker_config`](crate::get_default_docker_config)
//! uses the first of these sockets that accepts a connection: `/var/run/docker.sock`,
//! `$XDG_RUNTIME_DIR/podman/podman.sock` (rootless Podman), `/run/podman/podman.sock` (rootful
//! Podman). When none does, it keeps `/var/run/docker.sock`, and the connection error names every
//! socket tried: `Cannot connect to the Docker daemon at unix:///var/run/docker.sock,
//! unix:///run/user/1000/podman/podman.sock or unix:///run/podman/podman.sock. Is the docker
//! daemon running?`.
//!
//! # Differences handled
//!
//! 1. **`POST /commit` ignores the configuration in its body** (podman#13770, S2I #1082: the
//!    built image kept the builder's `Cmd`). On Podman, [`commit`](crate::ops::container::commit)
//!    also sends the configuration as `changes` query values, Dockerfile instructions that Podman
//!    does apply: `CMD ["..."]` and `ENTRYPOINT ["..."]` (JSON form), `ENV "K"="V"`,
//!    `LABEL "k"="v"`, `USER u`, `WORKDIR d`, `EXPOSE p`, `VOLUME ["..."]`, `STOPSIGNAL s`.
//!    They are chosen so the image comes out as Docker's merge of body and container makes it:
//!    an `Entrypoint` without a `Cmd` also sends `CMD []` (Docker then drops the container's
//!    command), and an empty `Cmd` keeps the container's. Podman strips one pair of quotes from
//!    `ENV` and `LABEL` keys and values and unescapes nothing, so every key and value is sent
//!    quoted and arrives as given. The body is still sent, so a Podman that reads it gets the
//!    same configuration twice.
//! 2. **`POST /commit` without a body fails** (`Decode(): EOF`, 500): on Podman an empty JSON
//!    object is sent when there is no configuration.
//! 3. **Commit IDs are bare hex** on Podman; every commit ID and every image ID from an inspect
//!    is given as `sha256:<hex>`, Docker's form.
//! 4. **Short names.** Docker reads `name:tag` as `docker.io/library/name:tag`. Podman names the
//!    images it builds and commits through this API the same way, but its own CLI names them
//!    `localhost/name:tag`, and it resolves a short name to `localhost/` first when both exist.
//!    On Podman, [image inspect](crate::ops::image::inspect), [image
//!    remove](crate::ops::image::remove) and [container create](crate::ops::container::create)
//!    use the Docker meaning of a short name (`docker.io/library/name:tag`,
//!    `docker.io/user/name:tag`) when such an image exists, and Podman's own lookup otherwise,
//!    so images made with `podman build -t name` are found by `name` as Podman users expect (on
//!    Docker that name would not exist). `RepoTags` and `RepoDigests` are given in Docker's short
//!    form (`name:tag`, not `docker.io/library/name:tag`).
//! 5. **Conflicts are 500s.** Where Docker answers 409 (a container name in use, killing a
//!    stopped container, removing a running one, removing by ID an image with several tags),
//!    Podman 4 answers 500 with its own text. [`Error::is_conflict`]
//!    is true for those texts (and only those: `that name is already in use`,
//!    `container state improper`, `by ID with more than one tag`); [`Error::status`]
//!    still tells the status the engine sent.
//! 6. **Refused pulls answer 200.** Podman reports every pull failure inside the progress
//!    stream (`errorDetail`), where Docker answers an error status: the stream reader fails with
//!    [`Error::Stream`] carrying the registry's text, which says what
//!    Docker's does (`unauthorized: authentication required`, `manifest unknown`,
//!    `connection refused`). [`Error::is_unauthorized`] is true
//!    for a refusal on both engines, [`Error::is_not_found`] for a
//!    missing image or tag (`manifest unknown`, `name unknown`), and the retry decision sees the
//!    same texts.
//! 7. **Not-found texts differ**: `failed to find image x:1: docker.io/library/x:1: No such
//!    image`, `no such image: ...: image not known`, `no such container`. All are 404s, and the
//!    check-and-pull logic treats Podman's `image not known` like Docker's `No such image`.
//! 8. **Attach without `stream=1` streams anyway** on Podman (it reads a missing `stream` as
//!    true, and refuses an explicit `stream=0` without `logs`), so it would wait for a stopped
//!    container to start again where Docker returns at once.
//!    [`attach`](crate::ops::container::attach) refuses such a request on Podman with
//!    [`Error::Unsupported`] instead of hanging. (S2I always attaches with `stream=1`.) Attach before start works on
//!    Podman 4.3: the `101` comes at once, as from Docker; an engine that withheld it would
//!    fail the attach after the client's timeout, not hang it.
//! 9. **Waiting on a container that never ran** (`condition=not-running`) gives exit code -1 on
//!    Podman, 0 on Docker: [`wait`](crate::ops::container::wait) reports 0 for a container in
//!    the `created` state. A wait without a condition is sent as `not-running`, Docker's default.
//! 10. **Archive uploads create missing directories** on Podman; Docker answers 404
//!     (`Could not find the file <dir> in container <id>`). On Podman,
//!     [`put_archive`](crate::ops::copy::put_archive) first asks whether the directory exists
//!     (`HEAD`) and gives Docker's 404 when it does not.
//! 11. **A container that exits without reading all of its stdin breaks Podman's attach.**
//!     Docker drops the unread input quietly. Podman then resets the connection, and often
//!     writes `Error: write unixpacket ...: broken pipe` as a last stderr frame, and sometimes
//!     loses output it had not forwarded yet (a few runs in a hundred here, under load).
//!     The attach stream of a Podman container therefore holds back a last stderr frame that
//!     starts with `Error: ` (one of at most 16 KiB; longer stderr frames stream through as they
//!     come) until more follows, and when the stream ends with such a frame, a
//!     reset, or a cut frame, it waits for the container and takes what the attach did not
//!     deliver from the container's logs (`GET /containers/{id}/logs`), dropping Podman's
//!     complaint, so the caller gets exactly the container's output. Writing the input fails
//!     too; [`run_container`](crate::Docker::run_container) decides by the exit code on both
//!     engines (see [`docker`](crate::docker)'s differences from S2I).
//! 12. **An image inspect can fail while another image is removed**: Podman reads the other
//!     images to find an image's parent, and answers 500 `... locating image with ID "<id>":
//!     image not known` when one of them goes meanwhile (parallel builds and removals hit it).
//!     [`inspect`](crate::ops::image::inspect) tries such an inspect again, up to five times
//!     50 ms apart; a missing image is a 404 on Podman too, and is not retried.
//! 13. **Version headers**: Podman's ping carries `Api-Version: 1.41` (used for negotiation, as
//!     Docker's) and `Libpod-Api-Version: 4.3.1` (not used); `GET /version` names the
//!     `Podman Engine` component.
//!
//! # What Podman cannot do
//!
//! - **ONBUILD triggers are not reported.** Podman keeps them in the images it builds, but
//!   neither its compat nor its own image inspect has an `OnBuild` field, so `get_on_build` is
//!   empty and `is_image_on_build` false on Podman, and the user check of `ONBUILD USER` cannot
//!   happen there. A commit whose configuration sets `OnBuild` fails on Podman with
//!   [`Error::Unsupported`] (its commit cannot set them either).
//! - **Values with a newline** in `Env`, `Labels`, `User`, `WorkingDir` or `StopSignal`, label
//!   keys with `=`, `Env` entries without `=`, and `User`, `WorkingDir` or `StopSignal` with
//!   surrounding spaces cannot be written as the instructions Podman's commit reads: such a
//!   commit fails on Podman with [`Error::InvalidInput`] naming the
//!   value, before anything is sent. (`Cmd`, `Entrypoint` and `Volumes` go as JSON and have no
//!   such limit.)
//! - **Committed images carry Podman's environment**: `container=podman` and, from Podman's
//!   default `containers.conf`, `TERM=xterm` are in every Podman container's environment and so
//!   in the images committed from them.
//! - **`StopSignal` is stored as a number** (`SIGTERM` becomes `15`).
//! - `Hostname`, `Domainname`, `Image` and the attach/TTY flags of a commit configuration are
//!   not applied on Podman (no instruction sets them); Docker stores them, and neither engine
//!   uses them when it runs the image.
//! - Images built by Podman carry an `io.buildah.version` label, and a build's output says
//!   `STEP 1/2` where Docker's says `Step 1/2`.
//!
//! # Where the handling lives
//!
//! The endpoint functions make each adjustment themselves, calling the plain functions here: the
//! Docker meaning of a short name, Docker's forms of names and IDs, the `changes` of a commit,
//! and when to try an image inspect again. The reader that completes a Podman attach from the
//! container's logs (difference 11) is in `attach`.
//!
//! Uses the container models, the engine client and the container endpoints (the attach reader
//! waits for the container and reads its logs), image references and error; nothing above
//! `ops`.

mod attach;

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::image_ref::{parse_normalized_named, DEFAULT_DOMAIN};
use crate::ops::models::ContainerConfig;

pub(crate) use attach::AttachOutput;

/// How many times an image inspect is tried when Podman fails it for another image's removal.
pub(crate) const INSPECT_ATTEMPTS: u32 = 5;

/// The pause between those attempts.
pub(crate) const INSPECT_RETRY_DELAY: std::time::Duration = std::time::Duration::from_millis(50);

/// Whether an image inspect failed because Podman lost track of *another* image meanwhile.
///
/// Podman reads the other images to find an image's parent; when one of them is removed at
/// the same moment, the inspect fails with a 500 such as `failed to convert ImageData to
/// ImageInspect 'x:1': reading image "<id>": locating image with ID "<id>": image not known`.
/// A missing image itself is a 404.
pub(crate) fn is_inspect_race(e: &Error) -> bool {
    matches!(e, Error::Api { status: 500, message } if message.contains("image not known"))
}

/// The Docker meaning of a short image name: `docker.io/library/name:tag` for `name:tag`,
/// `docker.io/user/name` for `user/name`.
///
/// `None` when the name already names its registry, is an image ID (`sha256:...` or 64 hex
/// digits), or is not a valid reference: those are looked up as given.
pub(crate) fn docker_hub_name(name: &str) -> Option<String> {
    if name.starts_with("sha256:") {
        return None;
    }
    let named = parse_normalized_named(name).ok()?;
    (named.domain == DEFAULT_DOMAIN && !has_domain(name)).then(|| named.to_string())
}

/// Whether the first component of `name` is a registry (as the reference grammar decides).
fn has_domain(name: &str) -> bool {
    match name.split_once('/') {
        Some((first, _)) => {
            first.contains(['.', ':']) || first == "localhost" || first.to_lowercase() != first
        }
        None => false,
    }
}

/// Docker's short form of a fully qualified name in `RepoTags`/`RepoDigests`:
/// `docker.io/library/x:1` is `x:1`, `docker.io/u/x:1` is `u/x:1`; others are kept.
pub(crate) fn familiar(name: &str) -> String {
    match name.strip_prefix("docker.io/") {
        Some(rest) => match rest.strip_prefix("library/") {
            Some(official) if !official.contains('/') => official.to_string(),
            _ => rest.to_string(),
        },
        None => name.to_string(),
    }
}

/// `sha256:<hex>` for a bare 64-digit hex ID; anything else unchanged.
pub(crate) fn image_id(id: String) -> String {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("sha256:{id}")
    } else {
        id
    }
}

/// The `changes` values that make Podman's commit apply `config` as Docker's applies the body.
///
/// # Errors
/// [`Error::Unsupported`] for `OnBuild` triggers; [`Error::InvalidInput`] for a value the
/// instructions cannot carry (see the module's "What Podman cannot do").
pub(crate) fn commit_changes(config: &ContainerConfig) -> Result<Vec<String>> {
    let mut changes = Vec::new();
    if config.on_build.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(Error::Unsupported(
            "Podman cannot set ONBUILD triggers in a commit (its API does not keep them)".into(),
        ));
    }
    let entrypoint = config.entrypoint.as_deref();
    let cmd = config.cmd.as_deref().filter(|c| !c.is_empty());
    if let Some(entrypoint) = entrypoint {
        changes.push(format!("ENTRYPOINT {}", serde_json::to_string(entrypoint)?));
    }
    match (cmd, entrypoint.is_some_and(|e| !e.is_empty())) {
        (Some(cmd), _) => changes.push(format!("CMD {}", serde_json::to_string(cmd)?)),
        // Docker keeps the container's command only when no entrypoint is given.
        (None, true) => changes.push("CMD []".to_string()),
        (None, false) => {}
    }
    for entry in config.env.iter().flatten() {
        let Some((key, value)) = entry.split_once('=') else {
            return Err(unwritable("Env", entry, "it has no '='"));
        };
        if key.is_empty() {
            return Err(unwritable("Env", entry, "its name is empty"));
        }
        no_newline("Env", entry)?;
        changes.push(format!("ENV \"{key}\"=\"{value}\""));
    }
    // Sorted: the same configuration always sends the same request.
    let labels: BTreeMap<&String, &String> = config.labels.iter().flatten().collect();
    for (key, value) in labels {
        if key.is_empty() || key.contains('=') {
            return Err(unwritable(
                "Labels",
                key,
                "a label name must be non-empty and without '='",
            ));
        }
        no_newline("Labels", key)?;
        no_newline("Labels", value)?;
        changes.push(format!("LABEL \"{key}\"=\"{value}\""));
    }
    for (field, instruction, value) in [
        ("User", "USER", &config.user),
        ("WorkingDir", "WORKDIR", &config.working_dir),
        ("StopSignal", "STOPSIGNAL", &config.stop_signal),
    ] {
        if value.is_empty() {
            continue;
        }
        no_newline(field, value)?;
        if value.trim() != value {
            return Err(unwritable(field, value, "it has surrounding spaces"));
        }
        changes.push(format!("{instruction} {value}"));
    }
    let ports: std::collections::BTreeSet<&String> =
        config.exposed_ports.iter().flat_map(|p| p.keys()).collect();
    for port in ports {
        no_newline("ExposedPorts", port)?;
        if port.trim().is_empty() || port.contains(char::is_whitespace) {
            return Err(unwritable(
                "ExposedPorts",
                port,
                "it is empty or has spaces",
            ));
        }
        changes.push(format!("EXPOSE {port}"));
    }
    let volumes: Vec<&String> = {
        let mut v: Vec<&String> = config.volumes.iter().flat_map(|v| v.keys()).collect();
        v.sort_unstable();
        v
    };
    if !volumes.is_empty() {
        changes.push(format!("VOLUME {}", serde_json::to_string(&volumes)?));
    }
    Ok(changes)
}

fn no_newline(field: &str, value: &str) -> Result<()> {
    if value.contains('\n') {
        return Err(unwritable(field, value, "it has a newline"));
    }
    Ok(())
}

fn unwritable(field: &str, value: &str, why: &str) -> Error {
    Error::InvalidInput(format!(
        "Podman cannot commit {field} value {value:?}: {why} (Podman applies a commit's configuration only as Dockerfile instructions)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn changes(config: ContainerConfig) -> Vec<String> {
        commit_changes(&config).unwrap()
    }

    #[test]
    fn s2i_commit_as_instructions() {
        let config = ContainerConfig {
            cmd: Some(vec!["/usr/libexec/s2i/run".into()]),
            env: Some(vec![
                "GREETING=hi there".into(),
                "EMPTY=".into(),
                "EQ=a=b".into(),
            ]),
            labels: Some(HashMap::from([
                (
                    "io.openshift.s2i.build.image".to_string(),
                    "builder:1".to_string(),
                ),
                (
                    "a.b".to_string(),
                    "with \"quotes\" and 'apostrophes'".to_string(),
                ),
            ])),
            user: "1001".into(),
            ..Default::default()
        };
        assert_eq!(
            changes(config),
            [
                r#"CMD ["/usr/libexec/s2i/run"]"#,
                r#"ENV "GREETING"="hi there""#,
                r#"ENV "EMPTY"="""#,
                r#"ENV "EQ"="a=b""#,
                r#"LABEL "a.b"="with "quotes" and 'apostrophes'""#,
                r#"LABEL "io.openshift.s2i.build.image"="builder:1""#,
                "USER 1001",
            ]
        );
        assert!(changes(ContainerConfig::default()).is_empty());
    }

    #[test]
    fn command_and_entrypoint_follow_dockers_merge() {
        let v = |s: &[&str]| Some(s.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        // An entrypoint alone: Docker drops the container's command.
        let only_entrypoint = ContainerConfig {
            entrypoint: v(&["/usr/bin/env"]),
            ..Default::default()
        };
        assert_eq!(
            changes(only_entrypoint),
            [r#"ENTRYPOINT ["/usr/bin/env"]"#, "CMD []"]
        );
        // An empty command keeps the container's; an empty entrypoint clears it.
        let empty = ContainerConfig {
            cmd: v(&[]),
            entrypoint: v(&[]),
            ..Default::default()
        };
        assert_eq!(changes(empty), ["ENTRYPOINT []"]);
        // JSON carries anything: quotes, commas, newlines, non-ASCII.
        let odd = ContainerConfig {
            cmd: v(&["sh", "-c", "echo \"a,b\"\nexit 0", "é"]),
            ..Default::default()
        };
        assert_eq!(
            changes(odd),
            [r#"CMD ["sh","-c","echo \"a,b\"\nexit 0","é"]"#]
        );
        assert!(!changes(ContainerConfig {
            cmd: v(&["x\ny"]),
            ..Default::default()
        })[0]
            .contains('\n'));
    }

    #[test]
    fn the_other_instructions() {
        let config = ContainerConfig {
            working_dir: "/opt/app".into(),
            stop_signal: "SIGTERM".into(),
            exposed_ports: Some(HashMap::from([
                ("8080/tcp".to_string(), serde_json::json!({})),
                ("53/udp".to_string(), serde_json::json!({})),
            ])),
            volumes: Some(HashMap::from([
                ("/data".to_string(), serde_json::json!({})),
                ("/cache dir".to_string(), serde_json::json!({})),
            ])),
            // Not expressible, and of no effect on containers run from the image: ignored.
            hostname: "h".into(),
            tty: true,
            image: "x".into(),
            ..Default::default()
        };
        assert_eq!(
            changes(config),
            [
                "WORKDIR /opt/app",
                "STOPSIGNAL SIGTERM",
                "EXPOSE 53/udp",
                "EXPOSE 8080/tcp",
                r#"VOLUME ["/cache dir","/data"]"#,
            ]
        );
    }

    #[test]
    fn values_podman_cannot_take_are_refused() {
        let refused = |config: ContainerConfig| commit_changes(&config).unwrap_err();
        let env = |e: &str| ContainerConfig {
            env: Some(vec![e.to_string()]),
            ..Default::default()
        };
        for bad in ["A=x\ny", "NOVALUE", "=v"] {
            let e = refused(env(bad));
            assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
            assert!(e.to_string().contains("Podman cannot commit Env"), "{e}");
        }
        let label = |k: &str, v: &str| ContainerConfig {
            labels: Some(HashMap::from([(k.to_string(), v.to_string())])),
            ..Default::default()
        };
        for (k, v) in [("a=b", "v"), ("", "v"), ("k", "two\nlines"), ("k\n", "v")] {
            assert!(
                matches!(refused(label(k, v)), Error::InvalidInput(_)),
                "{k:?}={v:?}"
            );
        }
        for user in [" 1001", "1001\n", "u\nv"] {
            let e = refused(ContainerConfig {
                user: user.into(),
                ..Default::default()
            });
            assert!(e.to_string().contains("User"), "{e}");
        }
        let e = refused(ContainerConfig {
            on_build: Some(vec!["USER root".into()]),
            ..Default::default()
        });
        assert!(matches!(e, Error::Unsupported(_)), "{e:?}");
        // No triggers is fine.
        assert!(commit_changes(&ContainerConfig {
            on_build: Some(vec![]),
            ..Default::default()
        })
        .is_ok());
    }

    #[test]
    fn short_names_and_their_docker_meaning() {
        let cases: &[(&str, Option<&str>)] = &[
            ("app", Some("docker.io/library/app")),
            ("app:1", Some("docker.io/library/app:1")),
            ("user/app:1", Some("docker.io/user/app:1")),
            (
                "app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                Some("docker.io/library/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
            ),
            // Already qualified, or with a registry of its own.
            ("docker.io/library/app:1", None),
            ("docker.io/user/app", None),
            ("index.docker.io/library/app:1", None),
            ("localhost/app:1", None),
            ("localhost:5000/app:1", None),
            ("quay.io/x/y", None),
            // IDs and what is not a reference.
            (
                "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            (
                "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                None,
            ),
            ("Not:Valid:", None),
            ("", None),
        ];
        for (name, want) in cases {
            assert_eq!(docker_hub_name(name).as_deref(), *want, "{name}");
        }
    }

    #[test]
    fn familiar_names_and_ids() {
        assert_eq!(familiar("docker.io/library/app:1"), "app:1");
        assert_eq!(familiar("docker.io/user/app:1"), "user/app:1");
        assert_eq!(familiar("docker.io/library/a/b:1"), "library/a/b:1");
        assert_eq!(familiar("localhost/app:1"), "localhost/app:1");
        assert_eq!(familiar("quay.io/x/y@sha256:ab"), "quay.io/x/y@sha256:ab");
        let hex = "ab".repeat(32);
        assert_eq!(image_id(hex.clone()), format!("sha256:{hex}"));
        assert_eq!(image_id(format!("sha256:{hex}")), format!("sha256:{hex}"));
        assert_eq!(image_id("abc".into()), "abc");
        assert_eq!(image_id(String::new()), "");
    }
}
