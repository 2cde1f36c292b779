//! Tar entries as the upload's writers see them: [`TarHeader`] and its [`EntryKind`], and the
//! [`TarWriter`] trait every writer and adapter implements.
//!
//! Like the rest of the archive, this uses only `error`.

use std::path::PathBuf;
use std::time::SystemTime;

use super::fs::{FileInfo, FileKind};
use crate::error::Result;

/// The type of a tar entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryKind {
    /// A regular file (type `0`), followed by `size` bytes of content.
    File,
    /// A directory (type `5`).
    Dir,
    /// A symbolic link (type `2`) to [`TarHeader::link_name`].
    Symlink,
}

/// One tar entry's header, as a [`TarWriter`] receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TarHeader {
    /// The entry's name: relative, `/`-separated, no trailing slash for directories.
    pub name: PathBuf,
    /// The entry's type.
    pub kind: EntryKind,
    /// Permission bits with setuid/setgid/sticky (`0o7777` at most).
    pub mode: u32,
    /// The owner's user ID.
    pub uid: u64,
    /// The owner's group ID.
    pub gid: u64,
    /// The content's size in bytes (0 for directories and symlinks).
    pub size: u64,
    /// The modification time.
    pub mtime: SystemTime,
    /// A symlink's raw target (empty for other entries).
    pub link_name: PathBuf,
}

impl TarHeader {
    /// A header for `name` from a file's `lstat` info; `link_name` is the target of a symlink.
    ///
    /// Returns `None` for [`FileKind::Other`], which tar uploads do not carry.
    pub fn from_file_info(name: PathBuf, info: &FileInfo, link_name: PathBuf) -> Option<TarHeader> {
        let kind = match info.kind {
            FileKind::File => EntryKind::File,
            FileKind::Dir => EntryKind::Dir,
            FileKind::Symlink => EntryKind::Symlink,
            FileKind::Other => return None,
        };
        Some(TarHeader {
            name,
            kind,
            mode: info.mode & 0o7777,
            uid: u64::from(info.uid),
            gid: u64::from(info.gid),
            size: if kind == EntryKind::File {
                info.size
            } else {
                0
            },
            mtime: info.mtime,
            link_name: if kind == EntryKind::Symlink {
                link_name
            } else {
                PathBuf::new()
            },
        })
    }
}

/// The reference's tar writer: a header, then exactly `size` bytes of content, ..., then finish.
///
/// Adapters ([`RenameAdapter`](super::RenameAdapter), [`ChmodAdapter`](super::ChmodAdapter))
/// implement it by rewriting the header and passing everything on;
/// [`ArchiveWriter`](super::ArchiveWriter) writes the bytes.
pub trait TarWriter {
    /// Starts an entry. The previous entry must have received all of its content.
    ///
    /// # Errors
    /// The previous entry is incomplete, or writing failed.
    fn write_header(&mut self, header: TarHeader) -> Result<()>;

    /// Writes content of the current entry (a regular file), in as many calls as needed.
    ///
    /// # Errors
    /// More bytes than the header's `size`, or writing failed.
    fn write_data(&mut self, data: &[u8]) -> Result<()>;

    /// Ends the archive (the two zero blocks) and flushes it.
    ///
    /// # Errors
    /// The last entry is incomplete, or writing failed.
    fn finish(&mut self) -> Result<()>;
}

impl<T: TarWriter + ?Sized> TarWriter for Box<T> {
    fn write_header(&mut self, header: TarHeader) -> Result<()> {
        (**self).write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        (**self).write_data(data)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}

impl<T: TarWriter + ?Sized> TarWriter for &mut T {
    fn write_header(&mut self, header: TarHeader) -> Result<()> {
        (**self).write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        (**self).write_data(data)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}
