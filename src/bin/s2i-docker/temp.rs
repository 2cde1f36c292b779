//! Temporary local directories of a build (the runtime artifacts of an extended build, a
//! repository's clone), removed when dropped.

use std::path::{Path, PathBuf};

use s2i_docker::{Error, Result};

/// A new directory `s2i-docker-<purpose>-<pid>-<n>` in the system's temporary directory,
/// removed (with what it holds) when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// # Errors
    /// The directory cannot be created.
    pub fn new(purpose: &str) -> Result<TempDir> {
        let base = std::env::temp_dir();
        for n in 0..100u32 {
            let name = format!("s2i-docker-{purpose}-{}-{n}", std::process::id());
            let dir = base.join(name);
            match std::fs::create_dir(&dir) {
                Ok(()) => return Ok(TempDir(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(Error::other(format!(
                        "cannot create {}: {e}",
                        dir.display()
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
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
