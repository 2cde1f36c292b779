//! Containers left by a killed process, against a real engine: the labels the library puts on
//! the containers it creates, and `remove_abandoned_containers`, which removes those whose
//! creating process is gone and keeps those of live processes.
//!
//! The engine is `S2I_TEST_DOCKER_HOST` (default `unix:///var/run/docker.sock`); CI runs this
//! file against Podman too. Nothing is pulled: the image is built from the host's static
//! busybox. The containers' removal is only ever asked for creators that are gone (never by
//! age), so the containers of other test processes running at the same time stay.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use common::Cleanup;
use s2i_docker::docker::reap::{creation_labels, Creator};
use s2i_docker::ops::container::{
    ContainerConfig, ContainerCreateBody, ContainerListOptions, HostConfig,
};
use s2i_docker::{
    new_engine_api_client, remove_abandoned_containers, AuthConfig, Client, Docker, DockerClient,
    DockerConfig, EngineClient, RunContainerOptions, CREATED_AT_LABEL, CREATED_BY_LABEL,
};

/// One test at a time: Podman's build cache loses a layer when one test removes its image while
/// another builds the same steps.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn engine() -> Option<(EngineClient, Cleanup)> {
    let host = common::engine_host()?;
    let config = DockerConfig {
        endpoint: host.clone(),
        ..Default::default()
    };
    let docker = new_engine_api_client(&config).expect("client for the test engine");
    Some((docker, Cleanup::new(&host)))
}

/// Builds the busybox test image under `tag`, with the Dockerfile lines `extra` added; the
/// cleanup guard removes it.
fn build_test_image(cleanup: &Cleanup, tag: &str, extra: &str) {
    let host = common::engine_host().expect("the engine answered");
    let dockerfile = format!("{}{extra}", common::BUILDER_DOCKERFILE);
    common::build_image(&host, cleanup, tag, &dockerfile);
}

/// A process of this host that ran and was reaped.
fn dead_creator() -> Creator {
    let mut child = std::process::Command::new("true")
        .spawn()
        .expect("spawn true");
    let creator = Creator::of_process(child.id()).expect("the child's /proc entry");
    child.wait().expect("reap the child");
    creator
}

/// Creates a container of `image` (never started) labelled as created by `creator`, or
/// without labels of its own.
fn create_labelled(docker: &EngineClient, image: &str, creator: Option<&Creator>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs();
    let labels = creator.map(|creator| {
        HashMap::from([
            (CREATED_BY_LABEL.to_string(), creator.to_string()),
            (CREATED_AT_LABEL.to_string(), now.to_string()),
        ])
    });
    let body = ContainerCreateBody {
        config: ContainerConfig {
            image: image.to_string(),
            cmd: Some(vec!["/bin/true".into()]),
            labels,
            ..Default::default()
        },
        host_config: HostConfig {
            network_mode: "none".into(),
            ..Default::default()
        },
    };
    let name = common::unique_name("s2i_reap");
    docker
        .container_create(&body, &name)
        .expect("create a labelled container")
        .id
}

/// The IDs of the containers, running or not, that carry `label` (`key` or `key=value`).
fn listed(docker: &EngineClient, label: &str) -> Vec<String> {
    let options = ContainerListOptions {
        all: true,
        labels: vec![label.to_string()],
    };
    let list = docker.container_list(&options).expect("list containers");
    list.into_iter().map(|c| c.id).collect()
}

#[test]
fn containers_of_a_gone_process_are_removed_and_those_of_a_live_one_kept() {
    let _serial = serial();
    let Some((docker, cleanup)) = engine() else {
        return;
    };
    let tag = format!("{}:1", common::unique_name("s2i-test-reap"));
    build_test_image(&cleanup, &tag, "");

    let dead = dead_creator();
    assert_eq!(dead.is_gone(), Some(true));
    let me = Creator::current();
    let dead_id = create_labelled(&docker, &tag, Some(&dead));
    cleanup.container(&dead_id);
    let live_id = create_labelled(&docker, &tag, Some(&me));
    cleanup.container(&live_id);
    // An image committed from a labelled container carries the label (as if built so), and so
    // do the containers created from it: not the library's, never removed.
    let labelled_tag = format!("{}:1", common::unique_name("s2i-test-reap"));
    let label_line = format!("LABEL {CREATED_BY_LABEL}=\"{dead}\"\n");
    build_test_image(&cleanup, &labelled_tag, &label_line);
    let inherited_id = create_labelled(&docker, &labelled_tag, None);
    cleanup.container(&inherited_id);

    // The list filters on a label's presence and on its value.
    let labelled = listed(&docker, CREATED_BY_LABEL);
    assert!(labelled.contains(&dead_id) && labelled.contains(&live_id));
    let mut by_dead = listed(&docker, &format!("{CREATED_BY_LABEL}={dead}"));
    by_dead.sort();
    let mut expected = vec![dead_id.clone(), inherited_id.clone()];
    expected.sort();
    assert_eq!(by_dead, expected);
    let summary = docker
        .container_list(&ContainerListOptions {
            all: true,
            labels: vec![format!("{CREATED_BY_LABEL}={me}")],
        })
        .expect("list");
    let live = summary.iter().find(|c| c.id == live_id).expect("listed");
    assert_eq!(live.labels[CREATED_BY_LABEL], me.to_string());
    assert_eq!(live.state, "created");
    assert!(live.created > 1_600_000_000, "{live:?}");

    let removed = remove_abandoned_containers(&docker, None).expect("remove abandoned");
    assert!(removed.contains(&dead_id), "{removed:?}");
    assert!(!removed.contains(&live_id), "{removed:?}");
    assert!(!removed.contains(&inherited_id), "{removed:?}");
    let e = docker.container_inspect(&dead_id).unwrap_err();
    assert!(e.is_not_found(), "{e:?}");
    docker
        .container_inspect(&live_id)
        .expect("the live process's container stays");
    docker
        .container_inspect(&inherited_id)
        .expect("the container with the image's label stays");
    // Cleanup removes the kept container and the image.
}

#[test]
fn run_container_labels_the_containers_it_creates() {
    let _serial = serial();
    let Some((docker, cleanup)) = engine() else {
        return;
    };
    let tag = format!("{}:1", common::unique_name("s2i-test-reap"));
    build_test_image(&cleanup, &tag, "");

    let expected = creation_labels();
    let seen = Arc::new(Mutex::new(None));
    let (record, lister) = (seen.clone(), docker.clone());
    let d = DockerClient::new(Arc::new(docker.clone()), AuthConfig::default());
    d.run_container(RunContainerOptions {
        image: tag.clone(),
        command_explicit: vec!["/bin/true".into()],
        network_mode: "none".into(),
        on_start: Some(Box::new(move |id: &str| {
            let mine = format!("{CREATED_BY_LABEL}={}", expected[CREATED_BY_LABEL]);
            let labelled = listed(&lister, &mine);
            let inspected = lister.container_inspect(id)?;
            *record.lock().unwrap() = Some((id.to_string(), labelled, inspected));
            Ok(())
        })),
        ..Default::default()
    })
    .expect("run_container");
    let (id, labelled, inspected) = seen.lock().unwrap().take().expect("on_start ran");
    assert!(labelled.contains(&id), "{id} not in {labelled:?}");
    let labels = inspected.config.and_then(|c| c.labels).unwrap_or_default();
    let creator: Creator = labels[CREATED_BY_LABEL].parse().expect("a creator");
    assert_eq!(creator, Creator::current());
    let (secs, nanos) = labels[CREATED_AT_LABEL]
        .split_once('.')
        .expect("<secs>.<nanos>");
    assert!(
        secs.parse::<u64>().is_ok() && nanos.parse::<u32>().is_ok(),
        "{labels:?}"
    );
    // The run removed its container.
    assert!(!listed(&docker, CREATED_BY_LABEL).contains(&id));
}
