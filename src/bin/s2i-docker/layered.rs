//! Builders without `tar` or `sh`: the reference's layered build.
//!
//! `assemble` takes the sources from a tar on its standard input, which `sh` and `tar` unpack in
//! the container. When its output says either is missing (`tar: not found`, `/bin/sh: no such
//! file or directory`), the builder is extended instead, as the reference extends it, with an
//! image built from this Dockerfile and the scripts and sources beside it:
//!
//! ```text
//! FROM <builder>
//! COPY ["scripts", "<destination>/scripts"]        when scripts travel with the build
//! COPY ["src", "<destination>/src"]
//! USER 0                                             when the builder names a user:
//! RUN ["chown", "-R", "<user>", "--", "<destination>/scripts", "<destination>/src"]
//! USER <user>
//! ```
//!
//! `assemble` then runs in a container of that image with nothing on its standard input, and
//! the container is committed (or, in an extended build, its artifacts copied) as in any build.
//!
//! Unlike the reference: the `RUN` takes no shell (a builder without `sh` still needs `chown`),
//! and root is named by its ID (an image may have no `/etc/passwd`); the image, named after the
//! process (`s2i-layered-temp-image-<pid>-<start time>`), is removed once the build is over, or
//! by the next command should this one be killed (`records`), and the new image keeps its
//! layers; the new image's labels name the builder rather than it; `assemble` comes from the
//! image's scripts URL when it does not travel with the build (the reference then looks for it
//! among the scripts that do). As in the reference, the artifacts of an incremental build do not
//! reach `assemble`, and labels `assemble` asks for are looked for after every run (the marker
//! that saves that call rides on the shell command line this container does not have).

use s2i_docker::ops::image::ImageRemoveOptions;
use s2i_docker::{
    Client, Docker, Error, Result, DEFAULT_DESTINATION, DEPRECATED_DESTINATION_LABEL,
    DESTINATION_LABEL, LOCATION_ENVIRONMENT,
};

use crate::build::{self, Build, Finish, Input};
use crate::progress;
use crate::sources;

/// Whether `assemble` failed because the builder lacks `tar` or `sh`: a line of its output
/// (or of the engine's error, when the container could not start) names `tar` and says it was
/// not found, or names `/bin/sh` and says there is no such file.
pub fn missing_requirements(e: &Error) -> bool {
    let text = match e {
        Error::Container(c) => c.output.clone(),
        other => other.to_string(),
    };
    text.lines().any(|line| {
        let line = line.to_ascii_lowercase();
        let then = |word: &str, said: &[&str]| {
            line.find(word)
                .is_some_and(|at| said.iter().any(|s| line[at..].contains(s)))
        };
        then("tar:", &["not found"])
            || then("\"tar\"", &["not found"])
            || then("/bin/sh", &["no such file or directory", "not found"])
    })
}

/// The layered build: the builder extended with the scripts and sources, `assemble` run in it
/// and `finish` done; the committed image's ID (`""` for an extended build). `had_artifacts`:
/// the previous image's artifacts were saved, and are lost (a warning says so).
///
/// # Errors
/// `--inject` was given (the injections need the shell this run goes without), the image build
/// failed, or as any build's `assemble`.
pub fn build(b: &Build, had_artifacts: bool, finish: Finish<'_>) -> Result<String> {
    let builder = &b.args.builder;
    progress::step(
        "Image is missing basic requirements (sh or tar), layered build will be performed",
    );
    if !b.args.injections.is_empty() {
        return Err(Error::other(format!(
            "{builder} lacks sh or tar, which --inject needs: build without --inject, or on a builder that has both"
        )));
    }
    if had_artifacts {
        progress::warn("the artifacts of the previous image do not reach a layered build");
    }
    let destination = destination(b)?;
    let scripts: Vec<_> = b.local_scripts.clone();
    let user = b.docker.get_image_user(builder)?;
    let dockerfile = dockerfile(builder, &destination, &user, !scripts.is_empty());
    // Named after this process: should it be killed, the next command removes the image.
    let image = TempImage {
        client: b.session.client(),
        name: crate::records::layered_image(),
    };
    progress::detail(
        2,
        format!(
            "Building new image {} with scripts and sources already inside",
            image.name
        ),
    );
    let context = sources::layered_context(b.source.clone(), dockerfile, scripts, b.walk());
    crate::onbuild::build_image(b, &image.name, Box::new(context), 2)?;
    let scripts_url = match b.is_local("assemble") {
        true => format!("image://{}", join(&destination, "scripts")),
        // The layered image has the builder's labels: the same scripts as any build's.
        false => b.run_scripts_url(),
    };
    build::assemble(
        b,
        Input::Layered {
            image: image.name.clone(),
            scripts_url,
        },
        finish,
    )
}

/// Where the sources go, as the run of `assemble` reads it: `--destination`, else the builder's
/// label, its deprecated label, its deprecated `STI_LOCATION` variable, else `/tmp`.
fn destination(b: &Build) -> Result<String> {
    if !b.args.destination.is_empty() {
        return Ok(b.args.destination.clone());
    }
    let config = b
        .docker
        .check_image(&b.args.builder)?
        .and_then(|image| image.config)
        .unwrap_or_default();
    let labels = config.labels.unwrap_or_default();
    let label = [DESTINATION_LABEL, DEPRECATED_DESTINATION_LABEL]
        .iter()
        .find_map(|l| labels.get(*l).filter(|v| !v.is_empty()).cloned());
    let variable = || {
        config
            .env
            .as_deref()
            .unwrap_or_default()
            .iter()
            .find_map(|e| {
                let value = e
                    .strip_prefix(LOCATION_ENVIRONMENT)?
                    .strip_prefix('=')?
                    .trim();
                (!value.is_empty()).then(|| value.to_string())
            })
    };
    Ok(label
        .or_else(variable)
        .unwrap_or_else(|| DEFAULT_DESTINATION.to_string()))
}

/// `dir/name`, with one slash between.
fn join(dir: &str, name: &str) -> String {
    format!("{}/{name}", dir.trim_end_matches('/'))
}

/// The Dockerfile of the layered image (see the module's docs); every path and name is a JSON
/// string, so none needs escaping beyond JSON's.
fn dockerfile(builder: &str, destination: &str, user: &str, scripts: bool) -> String {
    let json = |s: &str| serde_json::Value::from(s).to_string();
    let scripts_dir = join(destination, "scripts");
    let sources_dir = join(destination, "src");
    let mut text = format!("FROM {builder}\n");
    let mut owned = Vec::new();
    if scripts {
        text += &format!("COPY [\"scripts\", {}]\n", json(&scripts_dir));
        owned.push(json(&scripts_dir));
    }
    text += &format!("COPY [\"src\", {}]\n", json(&sources_dir));
    owned.push(json(&sources_dir));
    if !user.is_empty() {
        text += &format!(
            "USER 0\nRUN [\"chown\", \"-R\", {}, \"--\", {}]\nUSER {user}\n",
            json(user),
            owned.join(", ")
        );
    }
    text
}

/// The layered image, removed when dropped: only untagged when the new image was built on it,
/// else removed with the steps of its build.
struct TempImage<'a> {
    client: &'a dyn Client,
    name: String,
}

impl Drop for TempImage<'_> {
    fn drop(&mut self) {
        let opts = ImageRemoveOptions {
            force: false,
            no_prune: false,
        };
        match self.client.image_remove(&self.name, &opts) {
            Err(e) if !e.is_not_found() => progress::warn(format!(
                "Unable to remove the layered image {}: {e}",
                self.name
            )),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dockerfile_copies_and_hands_over_to_the_user() {
        assert_eq!(
            dockerfile("builder:1", "/tmp", "1001", true),
            "FROM builder:1\nCOPY [\"scripts\", \"/tmp/scripts\"]\nCOPY [\"src\", \"/tmp/src\"]\n\
             USER 0\nRUN [\"chown\", \"-R\", \"1001\", \"--\", \"/tmp/scripts\", \"/tmp/src\"]\n\
             USER 1001\n"
        );
        assert_eq!(
            dockerfile("b", "/opt/app root/", "", false),
            "FROM b\nCOPY [\"src\", \"/opt/app root/src\"]\n"
        );
    }

    #[test]
    fn a_missing_tar_or_sh_is_recognised() {
        let failed = |output: &str| Error::container("b", 127, output.to_string());
        for output in [
            "sh: tar: not found\n",
            "/bin/sh: 1: tar: not found",
            "bash: tar: command not found",
        ] {
            assert!(missing_requirements(&failed(output)), "{output}");
        }
        for output in ["target not found", "assemble failed", "tar: short read"] {
            assert!(!missing_requirements(&failed(output)), "{output}");
        }
        let start = |message: &str| Error::other(message.to_string());
        assert!(missing_requirements(&start(
            "OCI runtime create failed: exec: \"/bin/sh\": stat /bin/sh: no such file or directory: unknown"
        )));
        assert!(missing_requirements(&start(
            "crun: executable file `/bin/sh` not found in $PATH: No such file or directory"
        )));
    }
}
