//! What a killed command left behind, removed by the next command.
//!
//! An interrupted build (`SIGINT`, `SIGTERM`, ...) removes its container itself (see `signals`);
//! one that is killed outright (`SIGKILL`, the out-of-memory killer, a crash) leaves its
//! container and its temporary directories. So each command that starts containers records
//! itself while it runs: an empty file named `<pid>-<start time>@<host>` (its [`Creator`], as
//! the label the library puts on the containers it creates names it, `/` as `_`) in the
//! records directory, `$XDG_RUNTIME_DIR/s2i-docker`, else `s2i-docker-<uid>` in the temporary
//! directory (used only when the user alone owns it and can write to it). The record is removed
//! when the command ends.
//!
//! The next command that reaches an engine looks for the records of processes of its own host
//! (boot and pid namespace: another one's pids mean other processes) that have ended: for each,
//! it removes that process's temporary directories and files
//! (`s2i-docker-<purpose>-<pid>-<start time>-<n>` in the temporary directory, see `temp`) and
//! the record; if there was one, it removes the engine's containers whose creator has ended
//! ([`remove_abandoned_containers`]: one container list, and one removal per container), and
//! the layered image each such process may have left (see `layered`; one removal each, by its
//! name, which holds the process's). Where no such record is found, nothing is asked of the
//! engine. What a killed build left on another engine stays there.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use s2i_docker::docker::reap::Creator;
use s2i_docker::docker::remove_abandoned_containers;
use s2i_docker::ops::image::ImageRemoveOptions;
use s2i_docker::Client;

use crate::progress;

/// The record of this process, once made.
static RECORD: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Removes what killed commands left (their containers on `client`'s engine) and records this
/// command. Nothing here fails the command: without a directory of the user's alone, or where
/// the record cannot be written, the command is not recorded.
pub fn begin(client: &dyn Client) {
    let Some(dir) = directory() else {
        return;
    };
    let me = me();
    let host = me.host.replace('/', "_");
    let path = dir.join(format!("{}@{host}", process_name()));
    if std::fs::File::create(&path).is_err() {
        return;
    }
    *RECORD.lock().unwrap_or_else(|p| p.into_inner()) = Some(path);
    let ended = ended_records(&dir, me, &host);
    if ended.is_empty() {
        return;
    }
    for (_, name) in &ended {
        remove_temp_dirs(name);
    }
    match remove_abandoned_containers(client, None) {
        Ok(ids) => {
            for id in ids {
                progress::step(format!(
                    "Removed container {}, left by a killed build",
                    &id[..id.len().min(12)]
                ));
            }
            // Done with: a failure leaves the records for the next command.
            for (record, name) in &ended {
                if remove_layered_image(client, name) {
                    let _ = std::fs::remove_file(record);
                }
            }
        }
        Err(e) => progress::warn(format!("Unable to remove abandoned containers: {e}")),
    }
}

/// The name of the layered image of the process named `process` (see `layered`): one a
/// process, so that the next command knows it.
fn layered_image_of(process: &str) -> String {
    format!("s2i-layered-temp-image-{process}")
}

/// The name of this process's layered image.
pub fn layered_image() -> String {
    layered_image_of(process_name())
}

/// Removes the layered image the ended process named `process` left, if any (only untagged
/// when an image was built on it); whether that is done with.
fn remove_layered_image(client: &dyn Client, process: &str) -> bool {
    let image = layered_image_of(process);
    let prune = ImageRemoveOptions {
        force: false,
        no_prune: false,
    };
    match client.image_remove(&image, &prune) {
        Ok(_) => {
            progress::step(format!("Removed image {image}, left by a killed build"));
            true
        }
        Err(e) if e.is_not_found() => true,
        Err(e) => {
            progress::warn(format!("Unable to remove the image {image}: {e}"));
            false
        }
    }
}

/// Removes this command's record: it ended, and took what it made with it.
pub fn end() {
    if let Some(record) = RECORD.lock().unwrap_or_else(|p| p.into_inner()).take() {
        let _ = std::fs::remove_file(record);
    }
}

/// This process, as `<pid>-<start time>`: in the names of its record and of its temporary
/// directories.
pub fn process_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| name(me()))
}

/// This process, read from `/proc` once.
fn me() -> &'static Creator {
    static ME: OnceLock<Creator> = OnceLock::new();
    ME.get_or_init(Creator::current)
}

fn name(c: &Creator) -> String {
    format!("{}-{}", c.pid, c.start_time)
}

/// The records directory, made if missing (`0700`), if it is the user's alone: a directory
/// (not a link) owned by the user (the owner of this process's `/proc` entry) that nobody else
/// can write to.
fn directory() -> Option<PathBuf> {
    let uid = std::fs::metadata("/proc/self").ok()?.uid();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from) {
        Some(d) if d.is_absolute() => d.join("s2i-docker"),
        _ => std::env::temp_dir().join(format!("s2i-docker-{uid}")),
    };
    let _ = std::fs::DirBuilder::new().mode(0o700).create(&dir);
    let meta = std::fs::symlink_metadata(&dir).ok()?;
    (meta.is_dir() && meta.uid() == uid && meta.mode() & 0o022 == 0).then_some(dir)
}

/// The records in `dir` of processes of this `host` (`me`'s, `/` as `_`) that have ended, with
/// their processes' names.
fn ended_records(dir: &Path, me: &Creator, host: &str) -> Vec<(PathBuf, String)> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut ended = Vec::new();
    for entry in entries.flatten() {
        let file = entry.file_name();
        // A record of another host is not judged: its pids are other processes here.
        let Some((name, _)) = file
            .to_str()
            .and_then(|n| n.split_once('@'))
            .filter(|r| r.1 == host)
        else {
            continue;
        };
        let Some((pid, start)) = name.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(start_time)) = (pid.parse(), start.parse()) else {
            continue;
        };
        let creator = Creator {
            pid,
            start_time,
            host: me.host.clone(),
        };
        if creator != *me && creator.is_gone() == Some(true) {
            ended.push((entry.path(), name.to_string()));
        }
    }
    ended
}

/// Removes the temporary directories and files of the process named `process` (`<pid>-<start
/// time>`): `s2i-docker-<purpose>-<process>-<n>` in the temporary directory (see `temp`; `n`
/// is any word), and not links.
fn remove_temp_dirs(process: &str) {
    let base = std::env::temp_dir();
    let Ok(entries) = std::fs::read_dir(&base) else {
        return;
    };
    let tail = format!("-{process}");
    for entry in entries.flatten() {
        let file = entry.file_name();
        let theirs = file.to_str().is_some_and(|n| {
            n.starts_with("s2i-docker-")
                && n.rsplit_once('-')
                    .is_some_and(|(rest, _)| rest.ends_with(&tail))
        });
        let _ = match entry.file_type() {
            Ok(t) if theirs && t.is_dir() => std::fs::remove_dir_all(entry.path()),
            Ok(t) if theirs && t.is_file() => std::fs::remove_file(entry.path()),
            _ => continue,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_records_of_ended_processes_are_found() {
        let dir = std::env::temp_dir().join(format!("s2i-test-records-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let me = Creator::current();
        let host = me.host.replace('/', "_");
        let mut child = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .unwrap();
        let other = Creator::of_process(child.id()).unwrap();
        for c in [&me, &other] {
            std::fs::write(dir.join(format!("{}@{host}", name(c))), "").unwrap();
        }
        std::fs::write(dir.join("not-a-record"), "").unwrap();
        // A process of another pid namespace, whose pid here is some other process's.
        std::fs::write(dir.join(format!("1-{}@another_1", me.start_time)), "").unwrap();
        assert_eq!(ended_records(&dir, &me, &host), []);
        child.kill().unwrap();
        child.wait().unwrap();
        assert_eq!(
            ended_records(&dir, &me, &host),
            [(dir.join(format!("{}@{host}", name(&other))), name(&other))]
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_the_ended_processes_temporary_directories_are_removed() {
        let base = std::env::temp_dir();
        let theirs = base.join("s2i-docker-source-4000001-77-0");
        let other_pid = base.join("s2i-docker-source-14000001-77-0");
        let link = base.join("s2i-docker-link-4000001-77-1");
        for d in [&theirs, &other_pid] {
            std::fs::create_dir_all(d).unwrap();
            std::fs::write(d.join("f"), "x").unwrap();
        }
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&other_pid, &link).unwrap();
        remove_temp_dirs("4000001-77");
        assert!(!theirs.exists());
        assert!(other_pid.join("f").exists() && link.exists());
        std::fs::remove_file(link).unwrap();
        std::fs::remove_dir_all(other_pid).unwrap();
    }
}
