//! Temporary local directories of a build (the runtime artifacts of an extended build, a
//! repository's clone), removed when dropped unless `--save-temp-dir` asked to keep them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use s2i_docker::{Error, Result};

use crate::records;

/// `--save-temp-dir`: the directories made from now on stay when dropped.
static KEEP: AtomicBool = AtomicBool::new(false);

/// Keeps every temporary directory made from now on (`--save-temp-dir`).
pub fn keep_all() {
    KEEP.store(true, Ordering::Relaxed);
}

/// A new directory `s2i-docker-<purpose>-<pid>-<start time>-<n>` in the system's temporary
/// directory, removed (with what it holds) when dropped, or kept and named under
/// `--save-temp-dir`; after a crash, by the next command (see `records`).
pub struct TempDir {
    path: PathBuf,
    keep: bool,
}

impl TempDir {
    /// # Errors
    /// The directory cannot be created.
    pub fn new(purpose: &str) -> Result<TempDir> {
        TempDir::made(purpose, KEEP.load(Ordering::Relaxed))
    }

    fn made(purpose: &str, keep: bool) -> Result<TempDir> {
        let base = std::env::temp_dir();
        for n in 0..100u32 {
            let name = format!("s2i-docker-{purpose}-{}-{n}", records::process_name());
            let path = base.join(name);
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(TempDir { path, keep }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::other(format!(
                        "cannot create {}: {e}",
                        path.display()
                    )))
                }
            }
        }
        Err(Error::other(format!(
            "cannot create a directory in {}",
            base.display()
        )))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.keep {
            // The reference's words, shown at the default level: the flag asked for the path.
            crate::progress::detail(
                0,
                format!(
                    "Temporary directory {:?} will be saved, not deleted",
                    self.path.display().to_string()
                ),
            );
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_when_dropped_unless_kept() {
        let gone = TempDir::made("test-temp", false).unwrap();
        std::fs::write(gone.path().join("f"), "x").unwrap();
        let path = gone.path().to_owned();
        drop(gone);
        assert!(!path.exists());
        let kept = TempDir::made("test-temp", true).unwrap();
        let path = kept.path().to_owned();
        drop(kept);
        assert!(path.is_dir());
        std::fs::remove_dir(path).unwrap();
    }
}
