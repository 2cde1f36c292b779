//! A source directory that is a git repository: a clone of `HEAD` or `--ref`, or `--copy`; a git
//! URL (served by `git daemon`) cloned at its `#REF`; and `rebuild` of an image built so.

use super::*;

/// An `assemble` that lists the sources it was given.
const ASSEMBLE_LISTS: &str = r#"#!/bin/sh
echo "sources: $(cd /tmp/src && ls | tr '\n' ' ')"
"#;

/// Runs `git args` in `dir`, as a test's author.
pub(super) fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=T Tester", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

/// A repository of an app whose `assemble` lists its sources: `committed.txt` on its first
/// branch (checked out), `other.txt` too on the branch `other`, whose commit is returned.
fn repository() -> (App, String) {
    let app = App::new(&[
        (".s2i/bin/assemble", ASSEMBLE_LISTS),
        ("committed.txt", "c"),
    ]);
    git(&app.0, &["init", "--quiet"]);
    git(&app.0, &["add", "."]);
    git(&app.0, &["commit", "--quiet", "-m", "the app"]);
    git(&app.0, &["checkout", "--quiet", "-b", "other"]);
    std::fs::write(app.0.join("other.txt"), "o").unwrap();
    git(&app.0, &["add", "other.txt"]);
    git(&app.0, &["commit", "--quiet", "-m", "another branch"]);
    let other = git(&app.0, &["rev-parse", "HEAD"]);
    git(&app.0, &["checkout", "--quiet", "-"]);
    (app, other)
}

#[test]
fn a_git_repository_is_built_from_a_clone_unless_copied() {
    let (host, b, cleanup) = setup_or_return!();
    let (app, _) = repository();
    let head = git(&app.0, &["rev-parse", "HEAD"]);
    std::fs::write(app.0.join("uncommitted.txt"), "u").unwrap();
    let tag = out_tag(&cleanup);
    let build = |extra: &[&str]| {
        let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, extra));
        let t = text(&out);
        assert!(out.status.success(), "{t}");
        let config = image_config(&host, &tag);
        cleanup.image(&image_id(&config));
        (t, config)
    };
    // As the reference: what is committed at HEAD, and the commit in the labels.
    let (t, config) = build(&[]);
    assert!(t.contains("sources: committed.txt \n"), "{t}");
    let label = |config: &str, name: &str| labels_of(config)[name].clone();
    let commit = |name: &str| format!("io.openshift.s2i.build.commit.{name}");
    assert_eq!(label(&config, &commit("id")), head.as_str(), "{config}");
    assert_eq!(
        label(&config, &commit("author")),
        "T Tester <t@example.com>",
        "{config}"
    );
    let location = "io.openshift.s2i.build.source-location";
    let url = format!("file://{}", app.path());
    assert_eq!(label(&config, location), url.as_str(), "{config}");
    // --ref checks out another branch.
    let (t, config) = build(&["--ref", "other"]);
    assert!(t.contains("sources: committed.txt other.txt \n"), "{t}");
    assert_eq!(label(&config, &commit("ref")), "other", "{config}");
    // rebuild: the same source, builder and ref again, from the image's labels.
    let again = out_tag(&cleanup);
    let rebuild = |image: &str| {
        let args = ["rebuild", image, &again, "-p", "never", "--network", "none"];
        let out = s2i(&host, &args);
        (out.status.success(), text(&out))
    };
    let (ok, t) = rebuild(&tag);
    assert!(ok, "{t}");
    assert!(t.contains("sources: committed.txt other.txt \n"), "{t}");
    let rebuilt = image_config(&host, &again);
    cleanup.image(&image_id(&rebuilt));
    assert_eq!(label(&rebuilt, &commit("ref")), "other", "{rebuilt}");
    assert_eq!(label(&rebuilt, location), url.as_str(), "{rebuilt}");
    // An image S2I did not build cannot be rebuilt.
    let (ok, t) = rebuild(&b.tag);
    assert!(!ok, "{t}");
    assert!(
        t.contains("required label \"io.openshift.s2i.build.image\" not found"),
        "{t}"
    );
    // --copy: the directory as it is, and no commit in the labels.
    let (t, config) = build(&["--copy"]);
    assert!(
        t.contains("sources: committed.txt uncommitted.txt \n"),
        "{t}"
    );
    assert!(label(&config, &commit("id")).is_null(), "{config}");
    assert_eq!(label(&config, location), app.path(), "{config}");
}

/// A `git daemon` serving one repository (named by its path under a base directory) on a free
/// local port; stopped when dropped.
struct GitDaemon {
    child: std::process::Child,
    port: u16,
}

impl GitDaemon {
    fn serve(base: &std::path::Path, repository: &std::path::Path) -> GitDaemon {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = base.to_str().unwrap();
        let child = Command::new("git")
            .args([
                "daemon",
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
            ])
            .arg(format!("--port={port}"))
            .arg(format!("--base-path={base}"))
            .arg(repository)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("run git daemon");
        let daemon = GitDaemon { child, port };
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(10),
                "git daemon never listened on {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        daemon
    }
}

impl Drop for GitDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_git_url_is_cloned_at_its_ref() {
    let (host, b, cleanup) = setup_or_return!();
    let (app, other) = repository();
    let daemon = GitDaemon::serve(app.0.parent().unwrap(), &app.0);
    let name = app.0.file_name().unwrap().to_str().unwrap();
    let url = format!("git://127.0.0.1:{}/{name}", daemon.port);
    let tag = out_tag(&cleanup);
    let out = s2i(
        &host,
        &build_args(&format!("{url}#other"), &b.tag, &tag, &[]),
    );
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("sources: committed.txt other.txt \n"), "{t}");
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));
    let labels = labels_of(&config);
    assert_eq!(
        labels["io.openshift.s2i.build.source-location"],
        url.as_str()
    );
    assert_eq!(labels["io.openshift.s2i.build.commit.id"], other.as_str());
    assert_eq!(labels["io.openshift.s2i.build.commit.ref"], "other");
    // --ref wins over the URL's; a repository that is not there is git's error.
    let out = s2i(&host, &build_args(&url, &b.tag, &tag, &["--ref", "other"]));
    assert!(text(&out).contains("other.txt"), "{}", text(&out));
    cleanup.image(&image_id(&image_config(&host, &tag)));
    let missing = format!("git://127.0.0.1:{}/no-such-repository", daemon.port);
    let out = s2i(&host, &build_args(&missing, &b.tag, &tag, &[]));
    let t = text(&out);
    assert!(
        !out.status.success() && t.contains("git clone --quiet"),
        "{t}"
    );
}
