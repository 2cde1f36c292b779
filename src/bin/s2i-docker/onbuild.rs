//! Builder images with `ONBUILD` triggers: the reference's onbuild strategy.
//!
//! Such a builder is not run with `assemble`: the new image is built from a Dockerfile `FROM`
//! it, whose build runs the triggers on the sources. The build context holds the sources (as a
//! build sends them: `--exclude`, `.s2iignore`, links followed unless `--keep-symlinks`), the
//! `assemble` and `run` scripts of `--scripts-url` (a local directory) or of the sources'
//! `.s2i/bin` at its top, and this Dockerfile:
//!
//! ```text
//! FROM <builder>
//! ENV NAME="value" ...     the build's environment
//! RUN sh assemble          when the context has an `assemble`
//! ENTRYPOINT ["./run"]     the first executable file at the top named run, start, exec or
//!                          execute (or with `.sh`)
//! ```
//!
//! As in the reference, there is no entrypoint without such a file (an error), the image gets
//! no S2I labels, and the flags of the assemble container (`--incremental`, `--runtime-image`,
//! `--inject`, ...) do not apply: here a warning says so. Where the reference writes the
//! environment of `.s2i/environment` alone, unquoted, here it is the whole build's environment
//! (`-e` and `-E` too), each value quoted so that the Dockerfile keeps it as it is.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};

use s2i_docker::{BuildEvent, BuildImageOptions, Docker, Error, Result};

use crate::build::Build;
use crate::progress;
use crate::sources;

/// The names an entrypoint may have, each also with `.sh`; of those the sources have, the first
/// in name order is taken (the reference reads the sources' top in name order).
const ENTRYPOINTS: &[&str] = &["exec", "execute", "run", "start"];

/// Builds `b.args.tag` with the triggers of the builder; the new image's ID.
///
/// # Errors
/// The sources have no entrypoint, a value of the environment has a line break, or the image
/// build fails.
pub fn build(b: &Build, scripts_dir: Option<&Path>) -> Result<String> {
    let a = &b.args;
    if a.incremental || !a.runtime_image.is_empty() || !a.injections.is_empty() {
        progress::warn(format!(
            "{} has ONBUILD instructions: --incremental, --runtime-image and --inject do not apply",
            a.builder
        ));
    }
    let scripts: Vec<_> = sources::local_scripts(&b.source, scripts_dir)
        .into_iter()
        .filter(|(name, _)| name == "assemble" || name == "run")
        .collect();
    let walk = b.walk();
    let kept = |name: &str| !walk.leaves_out(name);
    let provided = |name: &str| scripts.iter().any(|(n, _)| n == name);
    let has_assemble =
        provided("assemble") || (kept("assemble") && b.source.join("assemble").is_file());
    // As the tar holds it: a link is the file it points to unless --keep-symlinks.
    let follow = !walk.keep_symlinks;
    let entrypoint = entrypoint(&|name| {
        provided(name) || kept(name) && executable(&b.source.join(name), follow)
    })
    .ok_or_else(|| Error::other("no valid entrypoint specified"))?;
    let dockerfile = dockerfile(&a.builder, &b.env, has_assemble, &entrypoint)?;
    progress::step(format!(
        "Building {} with the ONBUILD instructions of {}",
        shown(&a.tag),
        a.builder
    ));
    let context = sources::onbuild_context(b.source.clone(), dockerfile, scripts, walk);
    let mut id = build_image(b, &a.tag, Box::new(context), 0)?;
    if id.is_empty() && !a.tag.is_empty() {
        // An engine that does not say: the tag does.
        id = b.docker.get_image_id(&a.tag)?;
    }
    progress::step(format!(
        "Built {} ({})",
        shown(&a.tag),
        crate::build::short(&id)
    ));
    Ok(id)
}

/// Builds the image `name` (none when empty) of `context` (a Dockerfile first) on the builder's
/// engine, its steps and their output shown at `level`; the new image's ID, `""` when the
/// engine did not say.
///
/// # Errors
/// The image build failed.
pub fn build_image(
    b: &Build,
    name: &str,
    context: Box<dyn Read + Send>,
    level: u8,
) -> Result<String> {
    let id = Arc::new(Mutex::new(String::new()));
    let built = id.clone();
    let docker = b
        .docker_for(&b.args.builder)
        .with_build_progress(move |e| match e {
            BuildEvent::Step(s) => progress::detail(
                level,
                format!("Step {}/{} : {}", s.number, s.total, s.instruction),
            ),
            BuildEvent::Output { text } if !text.trim_end().is_empty() => {
                progress::detail(level, text.trim_end())
            }
            BuildEvent::Built { id } => {
                *built.lock().unwrap_or_else(|p| p.into_inner()) = id.to_string()
            }
            _ => {}
        });
    docker.build_image(BuildImageOptions {
        name: name.to_string(),
        stdin: Some(context),
        network_mode: b.args.network.clone(),
        cancel: crate::signals::handle(),
        ..Default::default()
    })?;
    let id = id.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Ok(id)
}

fn shown(tag: &str) -> &str {
    if tag.is_empty() {
        "an image"
    } else {
        tag
    }
}

/// Whether `path` is a regular file that someone may execute (a link, the file it points to
/// when `follow`, else never).
fn executable(path: &Path, follow: bool) -> bool {
    use std::os::unix::fs::PermissionsExt;
    let meta = match follow {
        true => std::fs::metadata(path),
        false => std::fs::symlink_metadata(path),
    };
    meta.is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The entrypoint: the first name, in name order, of `run`, `start`, `exec`, `execute` and
/// the same with `.sh`, that `usable` takes.
fn entrypoint(usable: &dyn Fn(&str) -> bool) -> Option<String> {
    let mut names: Vec<String> = ENTRYPOINTS
        .iter()
        .flat_map(|n| [n.to_string(), format!("{n}.sh")])
        .collect();
    names.sort_unstable();
    names.into_iter().find(|n| usable(n))
}

/// The Dockerfile of the build.
///
/// # Errors
/// A value of `env` holds a line break, which a Dockerfile cannot hold.
fn dockerfile(builder: &str, env: &[String], assemble: bool, entrypoint: &str) -> Result<String> {
    let mut text = format!("FROM {builder}\n");
    for (i, pair) in env.iter().enumerate() {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if pair.contains(['\n', '\r']) {
            return Err(Error::other(format!(
                "the environment variable {name} holds a line break, which the Dockerfile of an ONBUILD build cannot hold"
            )));
        }
        let mut quoted = String::with_capacity(value.len());
        for c in value.chars() {
            if matches!(c, '"' | '\\' | '$') {
                quoted.push('\\');
            }
            quoted.push(c);
        }
        text += &match i {
            0 => format!("ENV {name}=\"{quoted}\""),
            _ => format!(" \\\n\t{name}=\"{quoted}\""),
        };
    }
    if !env.is_empty() {
        text.push('\n');
    }
    if assemble {
        text += "RUN sh assemble\n";
    }
    text += &format!("ENTRYPOINT [\"./{entrypoint}\"]\n");
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_keeps_values_as_they_are() {
        let env = ["A=1".to_string(), "B=say \"hi\" to $HOME\\n".to_string()];
        assert_eq!(
            dockerfile("builder:1", &env, true, "run").unwrap(),
            "FROM builder:1\nENV A=\"1\" \\\n\tB=\"say \\\"hi\\\" to \\$HOME\\\\n\"\n\
             RUN sh assemble\nENTRYPOINT [\"./run\"]\n"
        );
        assert_eq!(
            dockerfile("b", &[], false, "start.sh").unwrap(),
            "FROM b\nENTRYPOINT [\"./start.sh\"]\n"
        );
        assert!(dockerfile("b", &["A=x\ny".into()], false, "run").is_err());
    }

    #[test]
    fn a_link_is_executable_as_the_tar_holds_it() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("s2i-cli-onbuild-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("app"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(dir.join("app"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(dir.join("notes"), "").unwrap();
        std::os::unix::fs::symlink("app", dir.join("run")).unwrap();
        assert!(executable(&dir.join("app"), false) && executable(&dir.join("run"), true));
        assert!(!executable(&dir.join("run"), false) && !executable(&dir.join("notes"), true));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_entrypoint_is_the_first_name_there_is() {
        let some = |names: &'static [&'static str]| move |n: &str| names.contains(&n);
        assert_eq!(
            entrypoint(&some(&["start", "run.sh"])).as_deref(),
            Some("run.sh")
        );
        assert_eq!(
            entrypoint(&some(&["start", "exec.sh"])).as_deref(),
            Some("exec.sh")
        );
        assert_eq!(entrypoint(&some(&["runner", "app"])), None);
    }
}
