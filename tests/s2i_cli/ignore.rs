//! `.s2iignore`: the sources it names are left out of the build, as the reference leaves them
//! out.

use super::*;

/// An `assemble` that lists the sources it was given, and the environment's `FROM_FILE`.
const ASSEMBLE_LISTS: &str = r#"#!/bin/sh
echo "sources: $(cd /tmp/src && find . -type f | sort | tr '\n' ' ')"
echo "FROM_FILE=$FROM_FILE"
"#;

#[test]
fn s2iignore_leaves_out_what_it_names() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[
        (".s2i/bin/assemble", ASSEMBLE_LISTS),
        (".s2i/environment", "FROM_FILE=yes\n"),
        ("app.py", "a"),
        ("debug.log", "d"),
        ("keep.log", "k"),
        ("logs/today.log", "t"),
        ("docs/api/index.html", "i"),
        ("docs/guide.md", "g"),
        (
            ".s2iignore",
            "# not for the image\n*.log\n!keep.log\nlogs\ndocs/*\n!docs/api\n[broken\n",
        ),
    ]);
    let tag = out_tag(&cleanup);
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &[]));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));
    assert!(
        t.contains(
            "sources: ./.s2i/bin/assemble ./.s2i/environment ./.s2iignore ./app.py \
             ./docs/api/index.html ./keep.log \n"
        ),
        "{t}"
    );
    assert!(t.contains("FROM_FILE=yes"), "{t}");
    assert!(
        t.contains(r#"WARNING: .s2iignore: "[broken" is not a pattern of the sources"#),
        "{t}"
    );

    // The reference reads `.s2i/environment` after `.s2iignore` took its paths away.
    std::fs::write(app.0.join(".s2iignore"), ".s2i/environment\n").unwrap();
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &[]));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));
    assert!(t.contains("FROM_FILE=\n"), "{t}");
}
