//! A source directory that is a git repository: a clone of `HEAD` or `--ref`, or `--copy`; and
//! `rebuild` of an image built so.

use super::*;

/// An `assemble` that lists the sources it was given.
const ASSEMBLE_LISTS: &str = r#"#!/bin/sh
echo "sources: $(cd /tmp/src && ls | tr '\n' ' ')"
"#;

/// Runs `git args` in `dir`, as a test's author.
fn git(dir: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=T Tester", "-c", "user.email=t@example.com"])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[test]
fn a_git_repository_is_built_from_a_clone_unless_copied() {
    let (host, b, cleanup) = setup_or_return!();
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
    git(&app.0, &["checkout", "--quiet", "-"]);
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
