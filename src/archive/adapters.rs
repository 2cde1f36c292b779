//! The adapters between the walk and the [`ArchiveWriter`]: [`RenameAdapter`] (the upload's top
//! entry takes the destination's name) and [`ChmodAdapter`] (the upload's modes), and
//! [`MakeTarWriter`], how an upload gets its writer.
//!
//! Like the rest of the archive, this uses only `error`.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::entry::{EntryKind, TarHeader, TarWriter};
use super::writer::ArchiveWriter;
use crate::error::Result;

/// Renames the upload's top entry: `old` becomes `new`, and `old/...` becomes `new/...`.
///
/// Other names pass unchanged (the reference's `RenameAdapter`).
#[derive(Debug)]
pub struct RenameAdapter<W> {
    inner: W,
    old: Vec<u8>,
    new: Vec<u8>,
}

impl<W: TarWriter> RenameAdapter<W> {
    /// Wraps `inner`, renaming `old` to `new`.
    pub fn new(inner: W, old: impl AsRef<OsStr>, new: impl AsRef<OsStr>) -> RenameAdapter<W> {
        RenameAdapter {
            inner,
            old: old.as_ref().as_bytes().to_vec(),
            new: new.as_ref().as_bytes().to_vec(),
        }
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: TarWriter> TarWriter for RenameAdapter<W> {
    fn write_header(&mut self, mut header: TarHeader) -> Result<()> {
        let name = header.name.as_os_str().as_bytes();
        let renamed = if name == self.old.as_slice() {
            Some(self.new.clone())
        } else if name.len() > self.old.len()
            && name.starts_with(&self.old)
            && name[self.old.len()] == b'/'
        {
            let mut n = self.new.clone();
            n.extend_from_slice(&name[self.old.len()..]);
            Some(n)
        } else {
            None
        };
        if let Some(n) = renamed {
            header.name = PathBuf::from(OsString::from_vec(n));
        }
        self.inner.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_data(data)
    }
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        self.inner.write_file(file, size, path)
    }
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// Rewrites the permission bits of every entry but symlinks (the reference's `ChmodAdapter`).
///
/// The low 9 bits are replaced by [`new_dir_mode`](Self::new_dir_mode) for directories,
/// [`new_exec_file_mode`](Self::new_exec_file_mode) for files with any execute bit, and
/// [`new_file_mode`](Self::new_file_mode) for other files. Setuid, setgid and sticky are
/// removed (a setuid file of the host must not become a setuid program in the container),
/// unless
/// [`keep_special_bits`](Self::keep_special_bits) asks to keep them.
#[derive(Debug)]
pub struct ChmodAdapter<W> {
    inner: W,
    /// Permissions of files without any execute bit.
    pub new_file_mode: u32,
    /// Permissions of files with an execute bit.
    pub new_exec_file_mode: u32,
    /// Permissions of directories.
    pub new_dir_mode: u32,
    /// Keep the setuid, setgid and sticky bits (`0o7000`) of the entries; off by default.
    pub keep_special_bits: bool,
}

impl<W: TarWriter> ChmodAdapter<W> {
    /// The upload's modes: directories and executables `0777`, other files `0666`.
    ///
    /// Everything is writable by the container's user, whatever its uid (S2I runs `assemble`
    /// as an arbitrary user that must be able to modify the sources).
    pub fn new(inner: W) -> ChmodAdapter<W> {
        ChmodAdapter::with_modes(inner, 0o666, 0o777, 0o777)
    }

    /// Custom modes (only the low 9 bits of each are used).
    pub fn with_modes(inner: W, file: u32, exec_file: u32, dir: u32) -> ChmodAdapter<W> {
        ChmodAdapter {
            inner,
            new_file_mode: file,
            new_exec_file_mode: exec_file,
            new_dir_mode: dir,
            keep_special_bits: false,
        }
    }

    /// Whether entries keep their setuid, setgid and sticky bits (default `false`: they are
    /// removed).
    ///
    /// ```
    /// use s2i_docker::archive::{ArchiveWriter, ChmodAdapter};
    /// let mut tar = Vec::new();
    /// let writer = ChmodAdapter::new(ArchiveWriter::new(&mut tar)).keep_special_bits(true);
    /// assert!(writer.keep_special_bits);
    /// ```
    pub fn keep_special_bits(mut self, keep: bool) -> ChmodAdapter<W> {
        self.keep_special_bits = keep;
        self
    }

    /// The wrapped writer.
    pub fn into_inner(self) -> W {
        self.inner
    }
}

impl<W: TarWriter> TarWriter for ChmodAdapter<W> {
    fn write_header(&mut self, mut header: TarHeader) -> Result<()> {
        let perm = match header.kind {
            EntryKind::Symlink => None,
            EntryKind::Dir => Some(self.new_dir_mode),
            EntryKind::File if header.mode & 0o111 != 0 => Some(self.new_exec_file_mode),
            EntryKind::File => Some(self.new_file_mode),
        };
        if let Some(perm) = perm {
            let special = if self.keep_special_bits {
                header.mode & 0o7000
            } else {
                0
            };
            header.mode = special | (perm & 0o777);
        }
        self.inner.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_data(data)
    }
    fn write_file(&mut self, file: File, size: u64, path: &Path) -> Result<()> {
        self.inner.write_file(file, size, path)
    }
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// Makes the [`TarWriter`] of an upload from the stream it must write to (the reference's
/// `makeTarWriter`); [`default_upload_tar_writer`] is the one `upload_to_container` uses.
pub type MakeTarWriter = dyn Fn(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send + Sync;

/// The upload's tar writer: [`ChmodAdapter::new`] over an [`ArchiveWriter`].
pub fn default_upload_tar_writer(w: Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> {
    Box::new(ChmodAdapter::new(ArchiveWriter::new(w)))
}

#[cfg(test)]
mod tests {
    //! Renaming and modes, and a [`MakeTarWriter`] passed as a trait object.
    use super::*;
    use crate::archive::fixtures::*;
    use crate::archive::{stream_upload_tar, upload_dest_dir, FileSystem, LocalFileSystem};
    use std::io::Read;
    use std::path::Path;
    use std::time::UNIX_EPOCH;

    #[test]
    fn adapters() {
        let header = |name: &str, kind, mode| TarHeader {
            name: PathBuf::from(name),
            kind,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: UNIX_EPOCH,
            link_name: PathBuf::new(),
        };
        let mut rec = Recorder::default();
        {
            let mut w = RenameAdapter::new(&mut rec, "src", "dst");
            for name in ["src", "src/a", "srcx", "srcx/a", "a/src", "src/"] {
                w.write_header(header(name, EntryKind::Dir, 0o755)).unwrap();
            }
            w.finish().unwrap();
        }
        let names: Vec<_> = rec.headers.iter().map(|(h, _)| h.name.clone()).collect();
        let want: Vec<PathBuf> = ["dst", "dst/a", "srcx", "srcx/a", "a/src", "dst/"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(names, want);
        assert!(rec.finished);

        // (kind, mode before, mode after) under the upload's modes.
        let cases: &[(EntryKind, u32, u32)] = &[
            (EntryKind::Dir, 0o700, 0o777),
            (EntryKind::Dir, 0o1755, 0o1777),
            (EntryKind::File, 0o644, 0o666),
            (EntryKind::File, 0o600, 0o666),
            (EntryKind::File, 0o744, 0o777),
            (EntryKind::File, 0o654, 0o777),
            (EntryKind::File, 0o645, 0o777),
            (EntryKind::File, 0o4755, 0o4777),
            (EntryKind::File, 0o2644, 0o2666),
            (EntryKind::File, 0o7000, 0o7666),
            (EntryKind::Symlink, 0o777, 0o777),
            (EntryKind::Symlink, 0o755, 0o755),
        ];
        let mut rec = Recorder::default();
        {
            let mut w = ChmodAdapter::new(&mut rec).keep_special_bits(true);
            for &(kind, before, _) in cases {
                w.write_header(header("x", kind, before)).unwrap();
            }
        }
        for (i, &(kind, before, after)) in cases.iter().enumerate() {
            assert_eq!(rec.headers[i].0.mode, after, "{kind:?} {before:o}");
        }

        // By default setuid, setgid and sticky are removed; the permissions are as above.
        let mut rec = Recorder::default();
        {
            let mut w = ChmodAdapter::new(&mut rec);
            for &(kind, before, _) in cases {
                w.write_header(header("x", kind, before)).unwrap();
            }
        }
        for (i, &(kind, before, after)) in cases.iter().enumerate() {
            let after = if kind == EntryKind::Symlink {
                after
            } else {
                after & 0o777
            };
            assert_eq!(rec.headers[i].0.mode, after, "{kind:?} {before:o}");
        }
    }

    /// The shape of `upload_to_container_with_tar_writer`: a borrowed filesystem and a
    /// `&MakeTarWriter`, streamed into a consumer that stands for `copy_to_container`.
    fn upload_like_docker(
        fs: &dyn FileSystem,
        src: &Path,
        dest: &str,
        make_tar_writer: &MakeTarWriter,
    ) -> Result<(String, Vec<u8>)> {
        let dir = upload_dest_dir(dest);
        stream_upload_tar(fs, src, dest, make_tar_writer, |body| {
            let mut v = Vec::new();
            body.read_to_end(&mut v)?;
            Ok((dir.clone(), v))
        })
    }

    #[test]
    fn make_tar_writer_as_a_trait_object() {
        let tmp = TempDir::new("dyn");
        let file = tmp.path().join("f");
        write(&file, "x", 0o600);
        let (dir, tar) = upload_like_docker(
            &LocalFileSystem,
            &file,
            "/etc/f2",
            &default_upload_tar_writer,
        )
        .unwrap();
        assert_eq!(dir, "/etc");
        assert_eq!(list(&tar), [e("f2", 'f', 0o666, "", "x")]);
        // A custom writer: the archive without any mode change.
        let plain: &MakeTarWriter = &|w| Box::new(ArchiveWriter::new(w));
        let (_, tar) = upload_like_docker(&LocalFileSystem, &file, "/etc/f2", plain).unwrap();
        assert_eq!(list(&tar), [e("f2", 'f', 0o600, "", "x")]);
    }
}
