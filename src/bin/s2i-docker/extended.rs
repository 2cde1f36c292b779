//! Extended builds (`--runtime-image`): `assemble` runs in the builder, its artifacts are
//! copied into a container of the runtime image, where `assemble-runtime` runs, and that
//! container becomes the new image.
//!
//! As the reference does (its `postexecutorstep.go`): the artifacts are the
//! `--runtime-artifact` values or the runtime image's `io.openshift.s2i.assemble-input-files`
//! label (`SRC[:DEST]`, `;`-separated); each `SRC` (absolute, in the builder's container) is
//! downloaded into a local directory under `DEST` (relative) once `assemble` succeeded. The
//! runtime container starts with a command that waits for a marker file; the artifacts are
//! uploaded into its working directory (files `0644`, executables and directories `0755`), then
//! the marker, and `assemble-runtime` runs. The builder's container is removed before the
//! runtime's starts.

use std::path::{Component, Path, PathBuf};

use s2i_docker::archive::{ArchiveWriter, ChmodAdapter, LocalFileSystem, TarWriter};
use s2i_docker::{Docker, Error, PostExecutor, Result, RunContainerOptions};

use crate::build::{check_image, commit_options, labelled_commit, run_script, short, Build};
use crate::metadata;
use crate::progress;
use crate::temp::TempDir;

/// The runtime image and what goes into it.
pub struct Runtime {
    pub image: String,
    /// `(SRC, DEST)` pairs.
    pub artifacts: Vec<(String, String)>,
    pub user: String,
}

/// Checks the runtime image and reads its artifacts and user.
///
/// # Errors
/// The image cannot be had, no artifacts are named, or a mapping is not `/abs/src[:rel/dest]`.
pub fn prepare(b: &Build) -> Result<Runtime> {
    let image = b.args.runtime_image.clone();
    let docker = b.docker_for(&image);
    check_image(&docker, &image, b.args.runtime_pull_policy, &b.args)?;
    let mut specs = b.args.runtime_artifacts.clone();
    if specs.is_empty() {
        let label = docker.get_assemble_input_files(&image)?;
        specs = label
            .split(';')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
    }
    if specs.is_empty() {
        return Err(Error::other("no runtime artifacts to copy were specified"));
    }
    let artifacts = specs
        .iter()
        .map(|s| parse_mapping(s))
        .collect::<Result<Vec<_>>>()?;
    let user = match b.args.assemble_runtime_user.as_str() {
        "" => docker.get_assemble_runtime_user(&image)?,
        u => u.to_string(),
    };
    Ok(Runtime {
        image,
        artifacts,
        user,
    })
}

/// `SRC[:DEST]`, checked as the reference checks it.
fn parse_mapping(spec: &str) -> Result<(String, String)> {
    let (src, dest) = match spec.split_once(':') {
        Some((s, d)) => (s.trim(), d.trim()),
        None => (spec.trim(), ""),
    };
    let why = if !src.starts_with('/') {
        Some("source must be an absolute path")
    } else if dest.starts_with('/') {
        Some("destination must be a relative path")
    } else if dest.starts_with("..") {
        Some("destination cannot start with '..'")
    } else {
        None
    };
    match why {
        Some(why) => Err(Error::other(format!(
            "invalid runtime artifacts mapping: {src:?} -> {dest:?}: {why}"
        ))),
        None => Ok((src.to_string(), dest.to_string())),
    }
}

/// The builder's post-exec of an extended build: each artifact downloaded into `dir`.
pub fn downloader(b: &Build, rt: &Runtime, dir: &TempDir) -> Box<dyn PostExecutor + Send> {
    let docker = b.docker.clone();
    let artifacts = rt.artifacts.clone();
    let root = dir.path().join("files");
    let scripts: Vec<(String, PathBuf)> = b
        .local_scripts
        .iter()
        .filter(|(n, _)| n == "assemble-runtime" || n == "run")
        .cloned()
        .collect();
    Box::new(move |container: &str, _destination: &str| -> Result<()> {
        for (src, dest) in &artifacts {
            progress::step(format!("Copying {src} from the builder"));
            let into = safe_join(&root, dest)?;
            std::fs::create_dir_all(&into)
                .map_err(|e| Error::other(format!("could not create directory {into:?}: {e}")))?;
            let mut spool = tempfile_in(dir_of(&root))?;
            docker
                .download_from_container(src, &mut spool, container)
                .map_err(|e| {
                    Error::other(format!(
                        "could not download file {src:?} from container {container}: {e}"
                    ))
                })?;
            std::io::Seek::rewind(&mut spool)?;
            let mut archive = tar::Archive::new(spool);
            archive.set_preserve_permissions(true);
            archive.unpack(&into).map_err(|e| {
                Error::other(format!(
                    "could not extract artifact {src:?} into the directory {into:?}: {e}"
                ))
            })?;
        }
        // Scripts from the sources travel with the artifacts, under `scripts/`.
        for (name, path) in &scripts {
            let to = root.join("scripts");
            std::fs::create_dir_all(&to)?;
            std::fs::copy(path, to.join(name))?;
        }
        Ok(())
    })
}

fn dir_of(root: &Path) -> &Path {
    root.parent().unwrap_or(root)
}

fn safe_join(root: &Path, rel: &str) -> Result<PathBuf> {
    let mut out = root.to_path_buf();
    for c in Path::new(rel).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => {
                return Err(Error::other(format!(
                    "invalid runtime artifact destination {rel:?}"
                )))
            }
        }
    }
    Ok(out)
}

/// A new file in `dir`, unlinked at once.
fn tempfile_in(dir: &Path) -> Result<std::fs::File> {
    for n in 0..1000u32 {
        let path = dir.join(format!("download-{n}"));
        if let Ok(f) = std::fs::File::options()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
        {
            let _ = std::fs::remove_file(&path);
            return Ok(f);
        }
    }
    Err(Error::other(format!(
        "cannot create a file in {}",
        dir.display()
    )))
}

fn standard_perms(w: Box<dyn std::io::Write + Send>) -> Box<dyn TarWriter + Send> {
    Box::new(ChmodAdapter::with_modes(
        ArchiveWriter::new(w),
        0o644,
        0o755,
        0o755,
    ))
}

/// Runs `assemble-runtime` in the runtime image with the artifacts, and commits it; returns
/// the new image's ID.
///
/// # Errors
/// The runtime image has no scripts URL (and the sources no `assemble-runtime`), an upload
/// fails, the script fails, or the commit does.
pub fn assemble_runtime(b: &Build, rt: &Runtime, dir: &TempDir) -> Result<String> {
    let image = &rt.image;
    let docker = b.docker_for(image);
    let workdir = docker.get_image_workdir(image)?;
    let base = if b.is_local("assemble-runtime") {
        format!("{}/scripts", workdir.trim_end_matches('/'))
    } else {
        let url = match b.run_scripts_url() {
            u if !u.is_empty() => u,
            _ => docker.get_scripts_url(image)?,
        };
        if url.is_empty() {
            return Err(Error::other(format!(
                "could not determine scripts URL for image {image:?}"
            )));
        }
        url.strip_prefix("image://")
            .unwrap_or(&url)
            .trim_end_matches('/')
            .to_string()
    };
    let marker_dir = dir.path().join("marker");
    std::fs::create_dir_all(&marker_dir)?;
    let marker_name = format!("s2i-upload-done{}", std::process::id());
    let marker = marker_dir.join(&marker_name);
    std::fs::write(&marker, b"")?;
    let marker_dest = format!("/tmp/{marker_name}");
    // After `assemble-runtime`, its command line says whether it left labels for the commit.
    let (watch, found) = metadata::watch();
    let cmd = metadata::then(
        &format!("while [ ! -f {marker_dest:?} ]; do sleep 0.5; done; {base}/assemble-runtime"),
        &[found.shell_step()],
    );
    let run_command = match b.is_local("run") {
        true => Some(format!("{}/scripts/run", workdir.trim_end_matches('/'))),
        false => None,
    };
    let commit = commit_options(b, image, &b.image_scripts_url, run_command)?;
    let files = dir.path().join("files");
    let upload_docker = docker.clone();
    let on_start = move |container: &str| -> Result<()> {
        upload_docker.upload_to_container_with_tar_writer(
            &LocalFileSystem,
            &files,
            &workdir,
            container,
            &standard_perms,
        )?;
        upload_docker.upload_to_container_with_tar_writer(
            &LocalFileSystem,
            &marker,
            &marker_dest,
            container,
            &standard_perms,
        )
    };
    let committed = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let commit_docker = docker.clone();
    let done = committed.clone();
    let runtime_image = image.clone();
    let labels = b.committed_labels.clone();
    let post_exec = move |container: &str, _destination: &str| -> Result<()> {
        let commit = labelled_commit(
            &commit_docker,
            &found,
            &labels,
            &runtime_image,
            container,
            commit.clone(),
        )?;
        progress::step(format!("Committing container as {}", commit.repository));
        let id = commit_docker.commit_container(commit)?;
        *done.lock().unwrap_or_else(|p| p.into_inner()) = id;
        Ok(())
    };
    progress::step(format!("Running \"assemble-runtime\" in \"{image}\""));
    let opts = RunContainerOptions {
        image: image.clone(),
        command_explicit: vec!["/bin/sh".into(), "-c".into(), cmd],
        user: rt.user.clone(),
        env: b.env.clone(),
        network_mode: b.args.network.clone(),
        cap_drop: b.args.cap_drop.clone(),
        on_start: Some(Box::new(on_start)),
        post_exec: Some(Box::new(post_exec)),
        cancel: crate::signals::handle(),
        ..Default::default()
    };
    run_script(&docker, image, opts, Some(watch))?;
    let id = committed.lock().unwrap_or_else(|p| p.into_inner()).clone();
    progress::step(format!("Built {} ({})", b.args.tag, short(&id)));
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_checked_as_the_reference_checks_them() {
        assert_eq!(
            parse_mapping("/opt/app:bin").unwrap(),
            ("/opt/app".into(), "bin".into())
        );
        assert_eq!(
            parse_mapping("/opt/app").unwrap(),
            ("/opt/app".into(), "".into())
        );
        let e = |s| parse_mapping(s).unwrap_err().to_string();
        assert!(e("opt/app").contains("source must be an absolute path"));
        assert!(e("/a:/b").contains("destination must be a relative path"));
        assert!(e("/a:../b").contains("destination cannot start with '..'"));
    }
}
