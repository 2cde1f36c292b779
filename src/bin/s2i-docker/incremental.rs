//! Incremental builds: the previous image's `save-artifacts` output becomes `/tmp/artifacts`
//! of the new build.
//!
//! As the reference does: the previous image is TAG itself, checked (or pulled) by
//! `--incremental-pull-policy`; `save-artifacts` runs in it and writes a tar to its standard
//! output. That tar is spooled to an unlinked file (disk, not memory), checked, and streamed
//! under `artifacts/` into the same standard-input tar as the sources. When the previous image
//! is missing the build is a clean one; when `save-artifacts` fails (it is missing, it exits
//! non-zero, its output is not a tar) the build says so and is a clean one too.

use std::fs::File;

use s2i_docker::{pull_image, Docker, Result, RunContainerOptions};

use crate::build::{run_script, Build};
use crate::progress;
use crate::sources;

/// Runs `save-artifacts` in the previous image; the spooled tar of the artifacts, or `None`
/// for a clean build.
///
/// # Errors
/// Only a spool file that cannot be made; every failure of the previous image or its script
/// means a clean build.
pub fn save_artifacts(b: &Build) -> Result<Option<File>> {
    let tag = &b.args.tag;
    let docker = b.docker_for(tag);
    let previous = pull_image(tag, &docker, b.args.incremental_pull_policy);
    match previous {
        Ok(r) if r.image.is_some() => {}
        Ok(_) => {
            progress::step("Clean build will be performed");
            return Ok(None);
        }
        Err(e) => {
            progress::detail(
                2,
                format!("Unable to pull previously built image {tag:?}: {e}"),
            );
            progress::step("Clean build will be performed");
            return Ok(None);
        }
    }
    progress::step(format!(
        "Existing image for tag {tag} detected for incremental build"
    ));
    let user = match b.args.assemble_user.as_str() {
        "" => docker.get_image_user(tag)?,
        u => u.to_string(),
    };
    let mut spool = spool_file()?;
    progress::step(format!("Saving build artifacts from image {tag}"));
    let opts = RunContainerOptions {
        image: tag.clone(),
        command: "save-artifacts".into(),
        user,
        external_scripts: b.is_local("save-artifacts"),
        scripts_url: b.run_scripts_url(),
        destination: b.args.destination.clone(),
        network_mode: b.args.network.clone(),
        cap_drop: b.args.cap_drop.clone(),
        stdout: Some(Box::new(spool.try_clone()?)),
        cancel: crate::signals::handle(),
        ..Default::default()
    };
    let saved = run_script(&docker, tag, opts, None).and_then(|()| {
        sources::check_artifacts(&mut spool).map_err(|e| {
            s2i_docker::Error::other(format!("the output of save-artifacts is not a tar: {e}"))
        })
    });
    match saved {
        Ok(n) => {
            progress::detail(1, format!("{n} artifacts saved"));
            Ok(Some(spool))
        }
        Err(e) => {
            progress::warn(
                "Clean build will be performed because of error saving previous build artifacts",
            );
            progress::detail(1, format!("error: {e}"));
            Ok(None)
        }
    }
}

/// A new file in the temporary directory, unlinked at once: it goes away with the process.
fn spool_file() -> Result<File> {
    let dir = std::env::temp_dir();
    for n in 0..100u32 {
        let path = dir.join(format!("s2i-docker-artifacts-{}-{n}", std::process::id()));
        match File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            Ok(f) => {
                let _ = std::fs::remove_file(&path);
                return Ok(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(s2i_docker::Error::other(format!(
                    "cannot make a spool file for the artifacts in {}: {e}",
                    dir.display()
                )))
            }
        }
    }
    Err(s2i_docker::Error::other(format!(
        "cannot make a spool file for the artifacts in {}",
        dir.display()
    )))
}
