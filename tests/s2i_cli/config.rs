//! `--use-config` (the arguments and flags kept in `./.s2ifile`) and `--save-temp-dir`.

use super::*;

#[test]
fn use_config_builds_again_from_what_it_saved() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "hello\n")]);
    let tag = out_tag(&cleanup);
    let mut args = build_args(".", &b.tag, &tag, &["-e", "GREETING=saved", "--use-config"]);
    let out = s2i_in(&host, Some(&app.0), &args);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("with GREETING=saved"), "{t}");
    let saved = std::fs::read_to_string(app.0.join(".s2ifile")).unwrap();
    let saved: serde_json::Value = serde_json::from_str(&saved).unwrap();
    assert_eq!(saved["builderImage"], b.tag.as_str());
    assert_eq!(saved["flags"]["env"], "GREETING=saved");
    let config = image_config(&host, &tag);
    cleanup.image(&image_id(&config));

    // Nothing but the flag: the source, builder, tag, pull policy, network and environment
    // all come from the file; a flag given again wins.
    let out = s2i_in(&host, Some(&app.0), &["build", "--use-config"]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    assert!(t.contains("with GREETING=saved"), "{t}");
    let again = image_config(&host, &tag);
    cleanup.image(&image_id(&again));
    assert_ne!(
        image_id(&again),
        image_id(&config),
        "a new image under {tag}"
    );
    args = vec!["build", "--use-config", "-e", "GREETING=given"];
    let out = s2i_in(&host, Some(&app.0), &args);
    let t = text(&out);
    assert!(
        out.status.success() && t.contains("with GREETING=given"),
        "{t}"
    );
    cleanup.image(&image_id(&image_config(&host, &tag)));
}

#[test]
fn save_temp_dir_keeps_the_runtime_artifacts() {
    let (host, b, cleanup) = setup_or_return!();
    let app = App::new(&[("hello.txt", "hello from the runtime image\n")]);
    let tag = out_tag(&cleanup);
    let extra = extended_args(&b.tag, &["--save-temp-dir"]);
    let out = s2i(&host, &build_args(app.path(), &b.tag, &tag, &extra));
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    cleanup.image(&image_id(&image_config(&host, &tag)));
    let kept = t
        .lines()
        .find_map(|l| l.strip_prefix("Temporary directory \""))
        .and_then(|l| l.strip_suffix("\" will be saved, not deleted"))
        .unwrap_or_else(|| panic!("no kept directory named: {t}"));
    let kept = PathBuf::from(kept);
    let artifact = kept.join("files/lib/app/hello.txt");
    let found = std::fs::read_to_string(&artifact);
    std::fs::remove_dir_all(&kept).unwrap();
    assert_eq!(
        found.unwrap_or_else(|e| panic!("{}: {e}\n{t}", artifact.display())),
        "hello from the runtime image\n"
    );
}
