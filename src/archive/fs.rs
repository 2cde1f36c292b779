//! The filesystem under an upload: the [`FileSystem`] operations the walk needs, and
//! [`LocalFileSystem`], the real one.
//!
//! A trait rather than direct `std::fs` calls so that tests can stand in a filesystem whose
//! files fail or never end. Like the rest of the archive, this uses only `error`.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The type of a file as `lstat` sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link (never followed).
    Symlink,
    /// Anything else: FIFO, socket, device.
    Other,
}

/// What an upload needs to know about a file (from `lstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    /// The file's type.
    pub kind: FileKind,
    /// Permission bits with setuid/setgid/sticky (`st_mode & 0o7777`).
    pub mode: u32,
    /// The owner's user ID.
    pub uid: u32,
    /// The owner's group ID.
    pub gid: u32,
    /// The size in bytes (what a regular file's entry will hold).
    pub size: u64,
    /// The modification time, with sub-second precision where the filesystem has it.
    pub mtime: SystemTime,
}

/// What [`FileSystem::walk`] does after visiting an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalkStep {
    /// Go on (into the entry, if it is a directory).
    Continue,
    /// Do not descend into this directory (same as `Continue` for other entries).
    SkipDir,
}

/// The filesystem operations an upload needs.
///
/// [`LocalFileSystem`] implements them on the real filesystem; tests can provide a fake. Errors
/// are plain `io::Error`s; the walk adds the path to them.
pub trait FileSystem: Send + Sync {
    /// Metadata of `path` without following a final symlink.
    fn lstat(&self, path: &Path) -> io::Result<FileInfo>;

    /// The names of the entries of directory `path` (without `.` and `..`), in any order.
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>>;

    /// The raw target of symlink `path`.
    fn read_link(&self, path: &Path) -> io::Result<PathBuf>;

    /// Opens regular file `path` for reading; fails for anything else (including a symlink).
    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>>;

    /// Opens regular file `path` as a host file, or `Ok(None)` when this file system's files
    /// are not host files (then the walk reads them through [`open`](FileSystem::open)).
    ///
    /// An owned [`File`] lets an upload read the content where it is sent, straight into the
    /// request's buffer, instead of copying it through the thread that writes the tar. The
    /// default returns `Ok(None)`; [`LocalFileSystem`] opens the file as `open` does.
    ///
    /// # Errors
    /// As [`open`](FileSystem::open).
    fn open_file(&self, path: &Path) -> io::Result<Option<File>> {
        let _ = path;
        Ok(None)
    }

    /// Visits `root` and, depth first in lexical (byte) order, everything below it, calling
    /// `visit` with each path and its `lstat` info. Symlinks are not followed.
    ///
    /// The default implementation uses [`lstat`](FileSystem::lstat) and
    /// [`read_dir`](FileSystem::read_dir); an entry that disappears between the two is skipped.
    ///
    /// # Errors
    /// `root` cannot be `lstat`ed, a directory cannot be read, or `visit` fails.
    fn walk(
        &self,
        root: &Path,
        visit: &mut dyn FnMut(&Path, &FileInfo) -> Result<WalkStep>,
    ) -> Result<()> {
        let info = self.lstat(root).map_err(|e| path_error("lstat", root, e))?;
        // An explicit stack rather than recursion: the depth is the tree's, not ours to bound.
        let mut stack: Vec<(PathBuf, FileInfo)> = vec![(root.to_path_buf(), info)];
        while let Some((path, info)) = stack.pop() {
            let step = visit(&path, &info)?;
            if info.kind != FileKind::Dir || step == WalkStep::SkipDir {
                continue;
            }
            let mut names = self
                .read_dir(&path)
                .map_err(|e| path_error("open", &path, e))?;
            names.sort_unstable();
            let mut children = Vec::with_capacity(names.len());
            for name in names {
                let child = path.join(name);
                match self.lstat(&child) {
                    Ok(info) => children.push((child, info)),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {
                        log::warn!("Ignoring file {}: {e}", child.display());
                    }
                    Err(e) => return Err(path_error("lstat", &child, e)),
                }
            }
            stack.extend(children.into_iter().rev());
        }
        Ok(())
    }
}

/// The real filesystem.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LocalFileSystem;

impl From<&std::fs::Metadata> for FileInfo {
    /// What a file's metadata says: from `symlink_metadata` (`lstat`), as [`LocalFileSystem`]
    /// reads it, or from `metadata` (`stat`) for a file system that follows links.
    fn from(m: &std::fs::Metadata) -> FileInfo {
        let t = m.file_type();
        let kind = if t.is_file() {
            FileKind::File
        } else if t.is_dir() {
            FileKind::Dir
        } else if t.is_symlink() {
            FileKind::Symlink
        } else {
            FileKind::Other
        };
        FileInfo {
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            size: m.len(),
            mtime: m.modified().unwrap_or(UNIX_EPOCH),
        }
    }
}

impl FileSystem for LocalFileSystem {
    fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
        Ok(FileInfo::from(&std::fs::symlink_metadata(path)?))
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        std::fs::read_dir(path)?
            .map(|e| e.map(|e| e.file_name()))
            .collect()
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        std::fs::read_link(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(open_regular(path)?))
    }

    fn open_file(&self, path: &Path) -> io::Result<Option<File>> {
        open_regular(path).map(Some)
    }
}

/// Opens `path` for reading if it is a regular file.
fn open_regular(path: &Path) -> io::Result<File> {
    // O_NOFOLLOW and O_NONBLOCK: if the file was replaced by a symlink or a FIFO since the
    // walk saw it, fail instead of following it or blocking forever on the open.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)?;
    if !file.metadata()?.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        ));
    }
    Ok(file)
}

/// An `io::Error` with the operation and the path in its text, as Go's `*PathError` prints.
pub(super) fn path_error(op: &str, path: &Path, e: io::Error) -> Error {
    Error::Io(io::Error::new(
        e.kind(),
        format!("{op} {}: {e}", path.display()),
    ))
}
