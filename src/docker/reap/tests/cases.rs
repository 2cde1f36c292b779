//! The cases: creators and their liveness, the labels of a run, the removals.

use std::sync::Arc;

use super::*;

/// A process of this host that has ended and was reaped: its pid and start time.
fn dead_creator() -> Creator {
    let mut child = std::process::Command::new("true").spawn().unwrap();
    // Read while it exists (running or a zombie until reaped).
    let creator = Creator::of_process(child.id()).unwrap();
    child.wait().unwrap();
    creator
}

fn labels(creator: &str, created_at: u64) -> HashMap<String, String> {
    HashMap::from([
        (CREATED_BY_LABEL.to_string(), creator.to_string()),
        (CREATED_AT_LABEL.to_string(), created_at.to_string()),
    ])
}

fn body(labels: HashMap<String, String>) -> ContainerCreateBody {
    ContainerCreateBody {
        config: ContainerConfig {
            image: "builder:latest".into(),
            labels: Some(labels),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn stat_lines_with_odd_command_names() {
    let fields = "S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 0 987654 19 20";
    assert_eq!(
        parse_stat(&format!("42 (sh) {fields}")),
        Some(('S', 987_654))
    );
    assert_eq!(
        parse_stat(&format!("42 (a) b (c)) {fields}")),
        Some(('S', 987_654))
    );
    assert_eq!(parse_stat("42 (sh) S 1 2"), None);
    assert_eq!(parse_stat("garbage"), None);
    assert_eq!(parse_stat(""), None);
}

#[test]
fn creator_round_trips_and_bad_values_are_named() {
    let me = Creator::current();
    assert_eq!(me.pid, std::process::id());
    assert!(me.start_time > 0, "{me:?}");
    assert!(me.host.contains('/'), "{me:?}");
    assert_eq!(me.to_string().parse::<Creator>().unwrap(), me);
    for bad in ["", "42", "42@h", "x:1@h", "42:y@h", "42:1@", "42:1@ "] {
        let e = bad.parse::<Creator>().unwrap_err();
        assert!(matches!(e, Error::InvalidInput(_)), "{bad}: {e:?}");
        let text = e.to_string();
        assert!(text.contains(CREATED_BY_LABEL), "{text}");
        assert!(text.contains("<pid>:<start>@<host>"), "{text}");
    }
}

#[test]
fn liveness_needs_the_same_pid_and_start_time_on_the_same_host() {
    let me = Creator::current();
    assert_eq!(me.is_gone(), Some(false));
    assert_eq!(dead_creator().is_gone(), Some(true));
    // A reused pid: this pid, another start time.
    let reused = Creator {
        start_time: me.start_time + 1,
        ..me.clone()
    };
    assert_eq!(reused.is_gone(), Some(true));
    // Start time unknown: the pid alone says it runs.
    let unknown_start = Creator {
        start_time: 0,
        ..me.clone()
    };
    assert_eq!(unknown_start.is_gone(), Some(false));
    // Another host (or boot, or pid namespace), or a host named only: nobody can tell.
    for host in ["0000-other-boot/4026531836", "hostname:elsewhere"] {
        let elsewhere = Creator {
            host: host.into(),
            ..dead_creator()
        };
        assert_eq!(elsewhere.is_gone(), None, "{host}");
    }
}

#[test]
fn run_container_labels_its_container() {
    let fake = Arc::new(FakeClient::new());
    fake.add_image("builder:latest", builder());
    let d = DockerClient::new(fake.clone(), auth());
    let before = unix_now();
    d.run_container(RunContainerOptions {
        image: "builder".into(),
        command: "run".into(),
        ..Default::default()
    })
    .unwrap();
    let created = fake.state().created.clone();
    let labels = created[0].1.config.labels.clone().unwrap();
    assert_eq!(labels.len(), 2, "{labels:?}");
    let creator: Creator = labels[CREATED_BY_LABEL].parse().unwrap();
    assert_eq!(creator, Creator::current());
    let at = created_at_secs(&labels[CREATED_AT_LABEL]).unwrap();
    assert!((before..=unix_now()).contains(&at), "{at}");
    let (_, nanos) = labels[CREATED_AT_LABEL].split_once('.').unwrap();
    assert!(nanos.len() == 9 && nanos.bytes().all(|b| b.is_ascii_digit()));
}

#[test]
fn creation_times_with_and_without_a_fraction() {
    assert_eq!(created_at_secs("1796517843.123456789"), Some(1_796_517_843));
    assert_eq!(created_at_secs(" 1796517843 "), Some(1_796_517_843));
    assert_eq!(created_at_secs("1796517843."), Some(1_796_517_843));
    assert_eq!(created_at_secs("2026-12-06T00:00:00Z"), None);
    assert_eq!(created_at_secs(""), None);
    // Two calls never share a creation time.
    let (a, b) = (creation_labels(), creation_labels());
    assert_ne!(a[CREATED_AT_LABEL], b[CREATED_AT_LABEL]);
}

#[test]
fn removes_containers_of_gone_creators_and_old_ones() {
    let fake = FakeClient::new();
    let (me, dead) = (Creator::current().to_string(), dead_creator().to_string());
    let other_host = format!("{}:1@hostname:elsewhere", std::process::id());
    let (now, old) = (unix_now(), unix_now() - 3600);
    {
        let mut st = fake.state();
        let mut add = |id: &str, labels: HashMap<String, String>| {
            st.containers.insert(id.into(), body(labels));
        };
        add("dead-new", labels(&dead, now));
        add("live-new", labels(&me, now));
        add("live-old", labels(&me, old));
        add("other-host-new", labels(&other_host, now));
        add("other-host-old", labels(&other_host, old));
        add("garbled-old", labels("not a creator", old));
        add("unlabelled", HashMap::new());
    }
    let mut removed = remove_abandoned_containers(&fake, None).unwrap();
    assert_eq!(removed, ["dead-new"]);
    let st = fake.state();
    let listed = st.list_options.clone().unwrap();
    assert!(listed.all);
    assert_eq!(listed.labels, [CREATED_BY_LABEL]);
    assert!(st.removed.iter().all(|(_, o)| o.force && o.remove_volumes));
    drop(st);

    removed = remove_abandoned_containers(&fake, Some(Duration::from_secs(600))).unwrap();
    removed.sort();
    assert_eq!(removed, ["garbled-old", "live-old", "other-host-old"]);
    let mut left: Vec<String> = fake.state().containers.keys().cloned().collect();
    left.sort();
    assert_eq!(left, ["live-new", "other-host-new", "unlabelled"]);
    // Nothing is older than a day.
    let day = Some(Duration::from_secs(86_400));
    assert!(remove_abandoned_containers(&fake, day).unwrap().is_empty());
}

#[test]
fn removal_failures_are_logged_and_the_others_go_on() {
    let fake = FakeClient::new();
    let dead = dead_creator().to_string();
    for id in ["a-gone", "b-stuck", "c-fine"] {
        fake.state()
            .containers
            .insert(id.into(), body(labels(&dead, unix_now())));
    }
    fake.state().remove_failures = [
        Error::api(404, "No such container: a-gone"),
        Error::api(500, "driver failed to remove b-stuck"),
    ]
    .into();
    let (removed, logs) = logs_of(|| remove_abandoned_containers(&fake, None).unwrap());
    assert_eq!(removed, ["c-fine"]);
    assert!(
        logs.iter().any(|(l, m)| *l == log::Level::Warn
            && m.contains("Unable to remove abandoned container b-stuck")
            && m.contains("driver failed")),
        "{logs:?}"
    );
    assert!(
        logs.iter()
            .any(|(l, m)| *l == log::Level::Info && m.contains("c-fine") && m.contains("is gone")),
        "{logs:?}"
    );
    // A failed list is the caller's error.
    fake.state().list_err = Some(Error::api(500, "list failed"));
    let e = remove_abandoned_containers(&fake, None).unwrap_err();
    assert_eq!(e.status(), Some(500));
}

#[test]
fn through_the_fake_engine() {
    let fake = FakeEngine::new()
        .image("builder:1", FakeImage::default().cmd(&["/bin/true"]))
        .serve_in_memory()
        .unwrap();
    let docker = fake.client().unwrap();
    let (me, dead) = (Creator::current().to_string(), dead_creator().to_string());
    let create = |labels: HashMap<String, String>, name: &str| {
        let mut b = body(labels);
        b.config.image = "builder:1".into();
        container::create(&docker, &b, name).unwrap().id
    };
    let dead_id = create(labels(&dead, unix_now()), "s2i_dead");
    let live_id = create(labels(&me, unix_now()), "s2i_live");
    let plain_id = create(HashMap::from([("app".into(), "web".into())]), "s2i_plain");

    // The list itself: label filters, key alone or key=value; running ones only without `all`.
    let list = |all: bool, labels: &[&str]| {
        let options = ContainerListOptions {
            all,
            labels: labels.iter().map(|l| l.to_string()).collect(),
        };
        let mut ids: Vec<String> = container::list(&docker, &options)
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect();
        ids.sort();
        ids
    };
    let mut both = vec![dead_id.clone(), live_id.clone()];
    both.sort();
    assert_eq!(list(true, &[CREATED_BY_LABEL]), both);
    assert_eq!(list(true, &["app=web"]), vec![plain_id.clone()]);
    assert!(list(true, &["app=db"]).is_empty());
    assert!(list(false, &[CREATED_BY_LABEL]).is_empty());
    container::start(&docker, &live_id).unwrap();
    let summary = container::list(
        &docker,
        &ContainerListOptions {
            all: true,
            labels: vec![format!("{CREATED_BY_LABEL}={me}")],
        },
    )
    .unwrap();
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].names, ["/s2i_live"]);
    assert_eq!(summary[0].labels[CREATED_BY_LABEL], me);
    assert!(summary[0].created > 1_600_000_000);
    let r = fake.requests().pop().unwrap();
    assert_eq!(r.query("all"), Some("1"));
    assert_eq!(
        r.query("filters"),
        Some(format!(r#"{{"label":["{CREATED_BY_LABEL}={me}"]}}"#).as_str())
    );
    // An empty filter is refused before anything is sent.
    let n = fake.requests().len();
    let e = container::list(
        &docker,
        &ContainerListOptions {
            all: true,
            labels: vec![" ".into()],
        },
    )
    .unwrap_err();
    assert!(matches!(e, Error::InvalidInput(_)), "{e:?}");
    assert_eq!(fake.requests().len(), n);

    let removed = remove_abandoned_containers(&docker, None).unwrap();
    assert_eq!(removed, vec![dead_id.clone()]);
    assert!(fake.container(&dead_id).is_none());
    assert!(fake.container(&live_id).is_some());
    assert!(fake.container(&plain_id).is_some());
    fake.assert_no_unhandled();
}

#[test]
fn labels_inherited_from_the_image_are_not_the_library_s() {
    let fake = FakeClient::new();
    let dead = dead_creator().to_string();
    let image_at = "1796517843.123456789";
    // An image committed from a labelled container carries both labels, and so do the
    // containers created from it.
    let committed = image(
        "sha256:app",
        &[(CREATED_BY_LABEL, &dead), (CREATED_AT_LABEL, image_at)],
        &[],
    );
    fake.add_image("app:1", committed);
    let mut inherited_labels = labels(&dead, 0);
    inherited_labels.insert(CREATED_AT_LABEL.into(), image_at.into());
    let mut from_image = body(inherited_labels);
    from_image.config.image = "app:1".into();
    fake.state()
        .containers
        .insert("from-image".into(), from_image);
    // Of that image, but labelled by the library when it created it: its own labels, even
    // when the same process made the image.
    let mut own = body(labels(&dead, unix_now()));
    own.config.image = "app:1".into();
    fake.state().containers.insert("own".into(), own);
    let other_dead = dead_creator().to_string();
    let mut other = body(labels(&other_dead, unix_now()));
    other.config.image = "app:1".into();
    fake.state().containers.insert("other".into(), other);
    let mut removed = remove_abandoned_containers(&fake, None).unwrap();
    removed.sort();
    assert_eq!(removed, ["other", "own"]);
    assert!(fake.state().containers.contains_key("from-image"));
    assert!(fake.calls().contains(&"inspect_image".to_string()));
    // An engine that fails to inspect: the container is left alone, with a warning.
    let mut again = body(labels(&other_dead, unix_now()));
    again.config.image = "app:1".into();
    fake.state().containers.insert("unsure".into(), again);
    fake.state().inspect_image_err = Some(Error::api(500, "inspect failed"));
    let (removed, logs) = logs_of(|| remove_abandoned_containers(&fake, None).unwrap());
    assert!(removed.is_empty(), "{removed:?}");
    assert!(
        logs.iter().any(|(l, m)| *l == log::Level::Warn
            && m.contains("Leaving container unsure")
            && m.contains("inspect failed")),
        "{logs:?}"
    );
}
