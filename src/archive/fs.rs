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
    /// A symbolic link, stored as a link (a walk does not go through it).
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
        // A directory's identity matters only to a walk that follows links: one of its own.
        let node = |path: &Path, _: &[DirId]| {
            let info = self.lstat(path)?;
            let into = (info.kind == FileKind::Dir).then_some((0, 0));
            Ok((info, into))
        };
        walk_tree(self, root, Vec::new(), &node, visit)
    }
}

/// A directory's identity, its device and inode: how a walk that follows links notices a
/// link back into a directory it is inside.
pub(super) type DirId = (u64, u64);

/// What a walk knows of an entry: its info, and the identity of the directory to go into
/// (`None`: nothing to go into).
pub(super) type Node = (FileInfo, Option<DirId>);

/// The walk of [`FileSystem::walk`]: `root` and, depth first in lexical (byte) order,
/// everything below it. `node` tells what each entry is, given the directories the walk is
/// inside (`walking`, then the ones entered from `root` down); an entry that disappears
/// between listing and `node` is skipped.
pub(super) fn walk_tree<F: FileSystem + ?Sized>(
    fs: &F,
    root: &Path,
    mut walking: Vec<DirId>,
    node: &dyn Fn(&Path, &[DirId]) -> io::Result<Node>,
    visit: &mut dyn FnMut(&Path, &FileInfo) -> Result<WalkStep>,
) -> Result<()> {
    let (info, into) = node(root, &walking).map_err(|e| path_error("lstat", root, e))?;
    let above = walking.len();
    // An explicit stack rather than recursion: the depth is the tree's, not ours to bound.
    // Each entry carries how many directories below `root` it is in.
    let mut stack = vec![(root.to_path_buf(), info, into, 0)];
    while let Some((path, info, into, depth)) = stack.pop() {
        walking.truncate(above + depth);
        let step = visit(&path, &info)?;
        let Some(id) = into.filter(|_| step == WalkStep::Continue) else {
            continue;
        };
        walking.push(id);
        let mut names = fs
            .read_dir(&path)
            .map_err(|e| path_error("open", &path, e))?;
        names.sort_unstable();
        let mut children = Vec::with_capacity(names.len());
        for name in names {
            let child = path.join(name);
            match node(&child, &walking) {
                Ok((info, into)) => children.push((child, info, into, depth + 1)),
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
        Ok(Box::new(open_regular(path, false)?))
    }

    fn open_file(&self, path: &Path) -> io::Result<Option<File>> {
        open_regular(path, false).map(Some)
    }
}

/// Opens `path` for reading if it is a regular file (or, with `follow`, points to one).
pub(super) fn open_regular(path: &Path, follow: bool) -> io::Result<File> {
    // O_NONBLOCK: if the file was replaced by a FIFO since the walk saw it, fail instead of
    // blocking forever on the open; O_NOFOLLOW, unless links are followed: fail for a link
    // that replaced it too.
    let nofollow = if follow { 0 } else { libc::O_NOFOLLOW };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(nofollow | libc::O_NONBLOCK)
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
