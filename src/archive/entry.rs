//! Tar entries as the upload's writers see them: [`TarHeader`] and its [`EntryKind`], and the
//! [`TarWriter`] trait every writer and adapter implements.
//!
//! Like the rest of the archive, this uses only `error`.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::fs::{path_error, FileInfo, FileKind};
use crate::error::{Error, Result};

/// The most a file's content is read in at a time when it is copied through a writer.
const CONTENT_BUFFER: usize = 64 * 1024;

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

    /// Writes the whole content of the current entry from `file`, a regular file the walk
    /// opened: `size` bytes (the header's); `path` names the file in errors.
    ///
    /// The default reads the file and hands its bytes to
    /// [`write_data`](TarWriter::write_data): a file that grew is cut at `size`, one that
    /// shrank is an error. Adapters that leave the content alone pass the file on, so that the
    /// writer at the end of the chain may hand it further without reading it: the upload's
    /// stream lets the reader of the tar read the file straight into its own buffer.
    ///
    /// # Errors
    /// Reading the file fails or it shrank, or as [`write_data`](TarWriter::write_data).
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        let mut file = file;
        let len = usize::try_from(size).map_or(CONTENT_BUFFER, |s| s.min(CONTENT_BUFFER));
        copy_exact(&mut file, size, &mut vec![0u8; len], self, path)
    }

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
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        (**self).write_file(file, size, path)
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
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        (**self).write_file(file, size, path)
    }
    fn finish(&mut self) -> Result<()> {
        (**self).finish()
    }
}

/// Copies exactly `size` bytes of `file` into the current entry of `writer`; a file that grew
/// is cut at `size` (the header is already written), one that shrank is an error, and so is a
/// reader that claims more bytes than it was asked for.
pub(super) fn copy_exact<W: TarWriter + ?Sized>(
    file: &mut dyn Read,
    size: u64,
    buf: &mut [u8],
    writer: &mut W,
    path: &Path,
) -> Result<()> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => return Err(shrank(path, size, size - left)),
            // A custom file system's reader may claim more than it was given room for.
            Ok(n) if n > want => {
                return Err(Error::other(format!(
                    "{}: the file system's reader returned {n} bytes for a read of at most \
                     {want} (the file's size is {size} bytes, {} read before)",
                    path.display(),
                    size - left
                )))
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(path_error("read", path, e)),
        };
        writer.write_data(&buf[..n])?;
        left -= n as u64;
    }
    Ok(())
}

/// The error of a file that ended after `read` of the `size` bytes its entry announced.
pub(super) fn shrank(path: &Path, size: u64, read: u64) -> Error {
    Error::other(format!(
        "{}: file shrank while being archived ({read} of {size} bytes read)",
        path.display()
    ))
}

#[cfg(test)]
mod tests {
    //! The default `write_file`: the content read into `write_data`, cut or refused when the
    //! file changed size.
    use super::*;
    use crate::archive::fixtures::{Recorder, TempDir};

    #[test]
    fn write_file_reads_exactly_the_size() {
        let tmp = TempDir::new("write-file");
        let path = tmp.path().join("f");
        std::fs::write(&path, vec![b'x'; 100_000]).unwrap();
        let header = |size| TarHeader {
            name: "f".into(),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: SystemTime::UNIX_EPOCH,
            link_name: PathBuf::new(),
        };
        let mut rec = Recorder::default();
        for size in [0, 3, 100_000] {
            rec.write_header(header(size)).unwrap();
            let file = File::open(&path).unwrap();
            rec.write_file(file, size, &path).unwrap();
        }
        let lens: Vec<usize> = rec.headers.iter().map(|(_, d)| d.len()).collect();
        assert_eq!(lens, [0, 3, 100_000]);
        // A file shorter than its header says: an error naming it.
        let e = rec
            .write_file(File::open(&path).unwrap(), 100_001, &path)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("shrank") && e.contains("100000 of 100001"),
            "{e}"
        );
        assert!(e.contains(&*path.to_string_lossy()), "{e}");
    }
}
