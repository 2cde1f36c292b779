//! Builds as users need them, against the test engine (Docker, or Podman in the second pass of
//! `.ci/test`): a base image in the authenticated registry (`S2I_TEST_REGISTRY*`), build
//! arguments, a target stage, labels, `pull`, and the progress callback's events.
//!
//! Every image a test builds, tags or pulls is removed by a guard, on failure too.

mod common;
mod registries;

use std::collections::HashMap;
use std::io::Cursor;
use std::sync::{Arc, Mutex};

use s2i_docker::{
    AuthConfig, BuildEvent, BuildImageOptions, Client, Docker, DockerClient, EngineClient,
    RegistryCredentials,
};

use common::Cleanup;
use registries::Registry;

/// What the progress callback saw, in order, as plain values.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Upload(u64),
    Uploaded(u64),
    Step(u32, u32, String),
    Output(String),
    Status(String),
    Built(String),
}

/// A client for the test engine that records its build events.
fn recording(
    docker: &EngineClient,
    auth: impl RegistryCredentials + 'static,
) -> (DockerClient, Arc<Mutex<Vec<Seen>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let d = DockerClient::new(Arc::new(docker.clone()), AuthConfig::default())
        .with_registry_credentials(auth)
        .with_build_progress(move |e| {
            let event = match e {
                BuildEvent::Upload { sent } => Seen::Upload(*sent),
                BuildEvent::Uploaded { sent } => Seen::Uploaded(*sent),
                BuildEvent::Step(step) => {
                    Seen::Step(step.number, step.total, step.instruction.to_string())
                }
                BuildEvent::Output { text } => Seen::Output(text.to_string()),
                BuildEvent::Status(m) => Seen::Status(m.status.clone()),
                BuildEvent::Built { id } => Seen::Built(id.to_string()),
                _ => return,
            };
            s.lock().unwrap().push(event);
        });
    (d, seen)
}

/// Builds `dockerfile` as `tag` through [`Docker::build_image`] with `opts`' other fields.
fn build_with(
    d: &DockerClient,
    cleanup: &Cleanup,
    tag: &str,
    dockerfile: &str,
    opts: BuildImageOptions,
) -> (s2i_docker::Result<()>, usize) {
    cleanup.image(tag);
    let context = common::build_context_tar(dockerfile, &[]);
    let len = context.len();
    // No network: RUN steps need none, and some hosts have no bridge for them.
    let built = d.build_image(BuildImageOptions {
        name: tag.to_string(),
        stdin: Some(Box::new(Cursor::new(context))),
        network_mode: "none".into(),
        ..opts
    });
    (built, len)
}

fn labels(docker: &EngineClient, name: &str) -> HashMap<String, String> {
    let (inspect, _) = docker
        .image_inspect_with_raw(name)
        .unwrap_or_else(|e| panic!("inspect {name}: {e}"));
    inspect.config.and_then(|c| c.labels).unwrap_or_default()
}

#[test]
fn a_private_base_image_is_pulled_with_its_registrys_credentials() {
    let Some((docker, host)) = registries::engine() else {
        return;
    };
    let Some(registry) = Registry::first() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let value = common::unique_name("s2i-test-base");
    let base = registries::push_labelled(&docker, &cleanup, &registry, "base", &value);
    let dockerfile = format!("FROM {base}\nLABEL derived=yes\n");

    // Without credentials the engine cannot pull the base.
    let (anonymous, _) = recording(&docker, Vec::<AuthConfig>::new());
    let tag = common::unique_name("s2i-test-derived");
    let (built, _) = build_with(&anonymous, &cleanup, &tag, &dockerfile, Default::default());
    let text = built.unwrap_err().to_string_with_causes().to_lowercase();
    assert!(
        text.contains("unauthorized") || text.contains("no basic auth credentials"),
        "{text}"
    );

    let (d, seen) = recording(&docker, vec![registry.credentials()]);
    let (built, _) = build_with(&d, &cleanup, &tag, &dockerfile, Default::default());
    built.unwrap_or_else(|e| panic!("build FROM {base}: {}", e.to_string_with_causes()));
    let l = labels(&docker, &tag);
    assert_eq!(l.get("base"), Some(&value), "{l:?}");
    assert_eq!(l.get("derived").map(String::as_str), Some("yes"));
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(
        seen.iter()
            .any(|e| matches!(e, Seen::Step(1, _, i) if i.contains(&base))),
        "{seen:?}"
    );

    // A closure cannot list its registries: the Dockerfile's FROM names the one to ask about.
    // Another base, not pulled yet.
    let base = registries::push_labelled(&docker, &cleanup, &registry, "base", &value);
    let tag = common::unique_name("s2i-test-derived");
    let r = registry.clone();
    let by_registry = move |name: &str| (name == r.addr).then(|| r.credentials());
    let (d, _) = recording(&docker, by_registry);
    let dockerfile = "ARG BASE\nFROM $BASE\n".to_string();
    let (built, _) = build_with(
        &d,
        &cleanup,
        &tag,
        &dockerfile,
        BuildImageOptions {
            build_args: [("BASE".to_string(), base.clone())].into(),
            ..Default::default()
        },
    );
    built.unwrap_or_else(|e| panic!("build FROM {base}: {}", e.to_string_with_causes()));
    assert_eq!(labels(&docker, &tag).get("base"), Some(&value));
}

#[test]
fn build_arguments_target_labels_and_progress() {
    let Some((docker, host)) = registries::engine() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let base = format!("{}:latest", common::unique_name("s2i-test-base"));
    registries::build(&docker, &cleanup, &base, common::BUILDER_DOCKERFILE);
    let dockerfile = format!(
        "FROM {base} AS first\n\
         ARG GREETING=nobody\n\
         LABEL stage=first greeting=$GREETING\n\
         RUN echo \"hello $GREETING\"\n\
         FROM first AS second\n\
         LABEL stage=second\n"
    );
    let (d, seen) = recording(&docker, Vec::<AuthConfig>::new());

    let first = format!("{}:1", common::unique_name("s2i-test-first"));
    let (built, context_len) = build_with(
        &d,
        &cleanup,
        &first,
        &dockerfile,
        BuildImageOptions {
            build_args: [("GREETING".to_string(), "world".to_string())].into(),
            target: "first".into(),
            labels: [("org.example.extra".to_string(), "yes".to_string())].into(),
            ..Default::default()
        },
    );
    built.unwrap_or_else(|e| panic!("build {first}: {}", e.to_string_with_causes()));
    let l = labels(&docker, &first);
    assert_eq!(l.get("stage").map(String::as_str), Some("first"), "{l:?}");
    assert_eq!(
        l.get("greeting").map(String::as_str),
        Some("world"),
        "{l:?}"
    );
    assert_eq!(
        l.get("org.example.extra").map(String::as_str),
        Some("yes"),
        "{l:?}"
    );

    // The events: the upload, then steps in order with their output, then the image.
    let events = std::mem::take(&mut *seen.lock().unwrap());
    let uploaded = events
        .iter()
        .position(|e| *e == Seen::Uploaded(context_len as u64));
    let uploaded = uploaded.unwrap_or_else(|| panic!("no Uploaded({context_len}): {events:?}"));
    assert!(events[..uploaded]
        .iter()
        .all(|e| matches!(e, Seen::Upload(_))));
    assert_eq!(events[uploaded - 1], Seen::Upload(context_len as u64));
    let steps: Vec<(u32, u32, &str)> = events
        .iter()
        .filter_map(|e| match e {
            Seen::Step(n, t, i) => Some((*n, *t, i.as_str())),
            _ => None,
        })
        .collect();
    assert_eq!(steps.first().map(|s| s.0), Some(1), "{events:?}");
    assert!(steps.windows(2).all(|w| w[1].0 == w[0].0 + 1), "{steps:?}");
    assert!(steps.iter().all(|s| s.0 <= s.1), "{steps:?}");
    assert!(steps.iter().any(|s| s.2.starts_with("RUN")), "{steps:?}");
    assert!(
        !steps.iter().any(|s| s.2.contains("stage=second")),
        "{steps:?}"
    );
    let run = events
        .iter()
        .position(|e| matches!(e, Seen::Step(_, _, i) if i.starts_with("RUN")))
        .unwrap();
    assert!(
        events[run..]
            .iter()
            .any(|e| matches!(e, Seen::Output(t) if t.contains("hello world"))),
        "{events:?}"
    );
    let id = docker.image_inspect_with_raw(&first).unwrap().0.id;
    let built: Vec<&Seen> = events
        .iter()
        .filter(|e| matches!(e, Seen::Built(_)))
        .collect();
    assert_eq!(built, [&Seen::Built(id)], "{events:?}");
    assert!(!events.contains(&Seen::Output("\n".into())), "{events:?}");

    // Without a target: the last stage; the argument's default.
    let second = format!("{}:1", common::unique_name("s2i-test-second"));
    let (built, _) = build_with(&d, &cleanup, &second, &dockerfile, Default::default());
    built.unwrap_or_else(|e| panic!("build {second}: {}", e.to_string_with_causes()));
    let l = labels(&docker, &second);
    assert_eq!(l.get("stage").map(String::as_str), Some("second"), "{l:?}");
    assert_eq!(
        l.get("greeting").map(String::as_str),
        Some("nobody"),
        "{l:?}"
    );
    assert_eq!(l.get("org.example.extra"), None, "{l:?}");
}

#[test]
fn pull_takes_the_registrys_base_over_the_local_one() {
    let Some((docker, host)) = registries::engine() else {
        return;
    };
    let Some(registry) = Registry::first() else {
        return;
    };
    let cleanup = Cleanup::new(&host);
    let base = registries::push_labelled(&docker, &cleanup, &registry, "which", "registry");
    // A local image under the same name, which only `pull` replaces.
    let local = format!("{}:latest", common::unique_name("s2i-test-local"));
    let dockerfile = format!("{}LABEL which=local\n", common::BUILDER_DOCKERFILE);
    registries::build(&docker, &cleanup, &local, &dockerfile);
    let local_id = docker.image_inspect_with_raw(&local).unwrap().0.id;
    cleanup.image(&local_id);
    docker.image_tag(&local, &base).expect("tag the local base");

    let (d, seen) = recording(&docker, vec![registry.credentials()]);
    let derived = format!("FROM {base}\nLABEL derived=yes\n");
    let kept = common::unique_name("s2i-test-kept");
    let (built, _) = build_with(&d, &cleanup, &kept, &derived, Default::default());
    built.unwrap_or_else(|e| panic!("build {kept}: {}", e.to_string_with_causes()));
    assert_eq!(
        labels(&docker, &kept).get("which").map(String::as_str),
        Some("local")
    );

    seen.lock().unwrap().clear();
    let pulled = common::unique_name("s2i-test-pulled");
    let (built, _) = build_with(
        &d,
        &cleanup,
        &pulled,
        &derived,
        BuildImageOptions {
            pull: true,
            ..Default::default()
        },
    );
    built.unwrap_or_else(|e| panic!("build {pulled} with pull: {}", e.to_string_with_causes()));
    assert_eq!(
        labels(&docker, &pulled).get("which").map(String::as_str),
        Some("registry")
    );
    if !common::is_podman() {
        // Docker reports the base's pull as status messages.
        let seen = seen.lock().unwrap();
        assert!(
            seen.iter().any(|e| matches!(e, Seen::Status(_))),
            "{seen:?}"
        );
    }
}
