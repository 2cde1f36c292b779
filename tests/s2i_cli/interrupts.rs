//! A build that is interrupted removes its container; what a build killed outright left (its
//! container, its repository's clone) is removed by the next command.

use std::process::{Child, ChildStderr};

use super::*;

/// Starts a build of `app` whose `assemble` says `sleeping` and sleeps, with `env` set, and
/// waits until `assemble` runs; returns the child, the rest of its standard error, and what it
/// printed there so far.
fn sleeping_build(
    host: &str,
    builder: &str,
    tag: &str,
    app: &App,
    env: &[(&str, &str)],
) -> (Child, BufReader<ChildStderr>, String) {
    sleeping_build_with(host, builder, tag, app, env, "#!/bin/sh")
}

/// As [`sleeping_build`], the scripts run by `interpreter` (their first line).
pub(super) fn sleeping_build_with(
    host: &str,
    builder: &str,
    tag: &str,
    app: &App,
    env: &[(&str, &str)],
    interpreter: &str,
) -> (Child, BufReader<ChildStderr>, String) {
    let assemble = format!("{interpreter}\necho sleeping\nsleep 60\n");
    let run = format!("{interpreter}\n");
    let scripts = App::new(&[("assemble", &assemble), ("run", &run)]);
    for script in ["assemble", "run"] {
        let path = scripts.0.join(script);
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
    }
    let mut child = Command::new(binary())
        .args(build_args(
            app.path(),
            builder,
            tag,
            &["--scripts-url", scripts.path()],
        ))
        .envs(env.iter().copied())
        .env("DOCKER_HOST", host)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run s2i-docker");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    while !seen.contains("sleeping") {
        let mut line = String::new();
        if stderr.read_line(&mut line).unwrap() == 0 {
            panic!("s2i-docker ended before assemble ran: {seen}");
        }
        seen.push_str(&line);
    }
    (child, stderr, seen)
}

#[test]
fn an_interrupted_build_removes_its_container() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "x")]);
    let tag = out_tag(&cleanup);
    let (child, mut stderr, seen) = sleeping_build(&host, &b.tag, &tag, &app, &[]);
    let pid = child.id();
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{seen}{rest}");
    assert!(rest.contains("Interrupted"), "{seen}{rest}");
    assert_no_container_of(&host, pid, &out);
}

#[test]
fn what_a_killed_build_left_is_removed_by_the_next_command() {
    let (host, b, cleanup) = setup_or_return!();
    // The records of running commands go here, apart from other tests' and the user's.
    let runtime = App::new(&[("unused", "")]);
    let env = [("XDG_RUNTIME_DIR", runtime.path())];
    let app = App::new(&[("hello.txt", "x")]);
    super::git::git(&app.0, &["init", "--quiet"]);
    super::git::git(&app.0, &["add", "."]);
    super::git::git(&app.0, &["commit", "--quiet", "-m", "the app"]);
    let tag = out_tag(&cleanup);
    let (mut child, _, _) = sleeping_build(&host, &b.tag, &tag, &app, &env);
    let pid = child.id();
    child.kill().expect("SIGKILL");
    child.wait().unwrap();

    let left = containers_of(&host, pid);
    for id in &left {
        cleanup.container(id);
    }
    assert_eq!(
        left.len(),
        1,
        "the killed build's container stays: {left:?}"
    );
    let records = runtime.0.join("s2i-docker");
    let names: Vec<String> = std::fs::read_dir(&records)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(
        names.len() == 1 && names[0].starts_with(&format!("{pid}-")),
        "the killed build's record: {names:?}"
    );
    // The record is `<pid>-<start time>@<host>`, the repository's clone
    // `s2i-docker-source-<pid>-<start time>-<n>`.
    let (process, _) = names[0].split_once('@').expect("a record names its host");
    let clone = std::env::temp_dir().join(format!("s2i-docker-source-{process}-0"));
    assert!(clone.is_dir(), "{clone:?}");

    // Any command that reaches the same engine removes them, here `usage`.
    let out = s2i_with(&host, None, &env, &["usage", &b.tag, "-p", "never"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(
        t.contains(&format!(
            "Removed container {}, left by a killed build",
            &left[0][..12]
        )),
        "{t}"
    );
    assert!(containers_of(&host, pid).is_empty(), "{t}");
    assert!(!clone.exists(), "{t}");
    assert_eq!(std::fs::read_dir(&records).unwrap().count(), 0, "{t}");
}
