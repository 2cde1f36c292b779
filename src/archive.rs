//! The tar stream of an upload (`PUT /containers/{id}/archive`), produced while it is sent.
//!
//! An upload copies a host path (a file or a directory) to a container path `dest`. The engine
//! receives the tar and the directory to extract it into, `Dir(dest)` ([`upload_dest_dir`]); the
//! tar's top entry is renamed from `base(src)` to `base(dest)` ([`RenameAdapter`]) so the content
//! lands at `dest`. The parts, from the bottom up:
//!
//! - [`FileSystem`] — the few filesystem operations the walk needs; [`LocalFileSystem`] is the real
//!   one, a fake can stand in for tests.
//! - [`TarWriter`] — the reference's tar writer: [`write_header`](TarWriter::write_header), then
//!   the content with [`write_data`](TarWriter::write_data), then [`finish`](TarWriter::finish).
//!   [`ArchiveWriter`] writes the bytes (over [`::tar::Builder`], PAX records for long names and
//!   sub-second mtimes); [`RenameAdapter`] and [`ChmodAdapter`] rewrite headers on the way.
//! - [`create_tar_stream_to_tar_writer`] — walks a path and writes its entries (the reference's
//!   `CreateTarStreamToTarWriter`).
//! - [`write_upload_tar`] — the whole upload tar: rename, walk, finish.
//! - [`stream_upload_tar`] / [`tar_reader`] — run the producer on a thread writing into a bounded
//!   pipe, so the request body is read while it is produced and never held whole in memory.
//!
//! # What goes into the tar
//!
//! - The walk root itself is never written: a directory `src` yields entries for its children
//!   only (`base(src)/...`; the engine creates the top directory when extracting), a symlink
//!   `src` yields an empty tar, a file `src` yields one entry.
//! - Entries come in lexical (byte) order; symlinks are not followed and are stored as links with
//!   their raw target; directories are stored as directories (names without a trailing slash);
//!   regular files with their content. Other files (FIFOs, sockets, devices) and files that
//!   cannot be opened are skipped with a warning `Ignoring file <path>: <error>`.
//! - Mode (permissions and setuid/setgid/sticky), uid, gid and mtime come from `lstat`.
//! - Any path component named `.git` below the root is left out, with everything under it.
//!
//! # Differences from S2I
//!
//! - Modes: [`ChmodAdapter::new`] gives directories and files with any execute bit
//!   `0777`, other files `0666`, and keeps setuid/setgid/sticky. The reference gave every file
//!   `0666` (its execute test looked at the group bit, and its "executable" mode was `0666` too).
//! - `.git` exclusion: matched against the path relative to the upload root, not
//!   the full host path, so sources that live under a host directory named `.git` still upload.
//! - FIFOs and other special files are skipped instead of opened (opening a FIFO blocks); files
//!   are opened without following symlinks. A file that vanishes during the walk is skipped.
//! - For `src` = `/` or `..`, entry names stay relative to `src` (the reference's names were
//!   garbled there).
//!
//! The reference's trailing-slash behaviour is kept: `dest` = `/opt/app/` has `Dir` `/opt/app`
//! and `base` `app`, so the content lands in `/opt/app/app`. Pass `dest` without a trailing slash.
//!
//! # Example
//!
//! Build an upload tar into memory and list it:
//!
//! ```
//! use s2i_docker::archive::{upload_dest_dir, write_upload_tar, ArchiveWriter, ChmodAdapter, LocalFileSystem};
//!
//! let src = std::env::temp_dir().join(format!("s2i-tar-doc-{}", std::process::id()));
//! std::fs::create_dir_all(src.join("a"))?;
//! std::fs::write(src.join("a/b.txt"), "hi")?;
//!
//! let mut tar = Vec::new();
//! let mut writer = ChmodAdapter::new(ArchiveWriter::new(&mut tar));
//! write_upload_tar(&LocalFileSystem, &src, "/opt/app/secret", &mut writer)?;
//! drop(writer);
//! std::fs::remove_dir_all(&src)?;
//!
//! assert_eq!(upload_dest_dir("/opt/app/secret"), "/opt/app");
//! let mut listing = Vec::new();
//! for entry in ::tar::Archive::new(&tar[..]).entries()? {
//!     let entry = entry?;
//!     listing.push(format!("{} {:o}", entry.path()?.display(), entry.header().mode()?));
//! }
//! assert_eq!(listing, ["secret/a 777", "secret/a/b.txt 666"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Stream it into a request body instead: `consume` gets a reader of the tar while a thread
//! produces it. This is all `upload_to_container` needs (`client.copy_to_container` reads the body):
//!
//! ```
//! use std::io::Read;
//! use s2i_docker::archive::{default_upload_tar_writer, stream_upload_tar, upload_dest_dir, LocalFileSystem};
//!
//! # let src = std::env::temp_dir().join(format!("s2i-tar-doc2-{}", std::process::id()));
//! # std::fs::create_dir_all(&src)?;
//! # std::fs::write(src.join("run.sh"), "#!/bin/sh\n")?;
//! let dest = "/opt/app/src";
//! let dir = upload_dest_dir(dest); // the `path` query parameter
//! let sent = stream_upload_tar(&LocalFileSystem, &src, dest, default_upload_tar_writer, |body| {
//!     // e.g. client.copy_to_container(container, &dir, body, &options)
//!     let mut bytes = Vec::new();
//!     body.read_to_end(&mut bytes)?;
//!     Ok(bytes.len())
//! })?;
//! assert!(sent >= 3 * 512);
//! # std::fs::remove_dir_all(&src)?;
//! # Ok::<(), s2i_docker::Error>(())
//! ```

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::io::{self, Read, Write};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

// ---------------------------------------------------------------------------------------------
// Filesystem

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

impl FileSystem for LocalFileSystem {
    fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
        let m = std::fs::symlink_metadata(path)?;
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
        Ok(FileInfo {
            kind,
            mode: m.mode() & 0o7777,
            uid: m.uid(),
            gid: m.gid(),
            size: m.len(),
            mtime: m.modified().unwrap_or(UNIX_EPOCH),
        })
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
        Ok(Box::new(file))
    }
}

fn path_error(op: &str, path: &Path, e: io::Error) -> Error {
    Error::Io(io::Error::new(
        e.kind(),
        format!("{op} {}: {e}", path.display()),
    ))
}

// ---------------------------------------------------------------------------------------------
// Tar headers and writers

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
/// Adapters ([`RenameAdapter`], [`ChmodAdapter`]) implement it by rewriting the header and
/// passing everything on; [`ArchiveWriter`] writes the bytes.
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

const BLOCK: u64 = 512;
/// Bytes of the ustar `name` and `linkname` fields; longer values go into PAX records.
const NAME_FIELD: usize = 100;

/// A [`TarWriter`] that writes a tar archive to `W` through [`::tar::Builder`].
///
/// Headers are ustar. A PAX extended header precedes an entry whose name or link target is
/// longer than 100 bytes (`path`, `linkpath`) or whose mtime has a sub-second part (`mtime`, as
/// the reference's PAX format keeps it; see [`sub_second_mtime`](ArchiveWriter::sub_second_mtime)).
/// Large IDs and sizes use the base-256 numeric form that Go's and GNU tar's readers accept.
pub struct ArchiveWriter<W: Write> {
    builder: ::tar::Builder<W>,
    /// Content bytes the current entry still expects.
    remaining: u64,
    /// Content bytes written for the current entry (for the padding).
    written: u64,
    current: PathBuf,
    sub_second_mtime: bool,
    finished: bool,
}

impl<W: Write> fmt::Debug for ArchiveWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ArchiveWriter")
            .field("current", &self.current)
            .field("remaining", &self.remaining)
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// A writer of a new archive into `w`.
    pub fn new(w: W) -> ArchiveWriter<W> {
        ArchiveWriter::from_builder(::tar::Builder::new(w))
    }

    /// A writer that appends to an existing builder.
    pub fn from_builder(builder: ::tar::Builder<W>) -> ArchiveWriter<W> {
        ArchiveWriter {
            builder,
            remaining: 0,
            written: 0,
            current: PathBuf::new(),
            sub_second_mtime: true,
            finished: false,
        }
    }

    /// Whether to keep sub-second mtimes in a PAX record (default: yes, as the reference does).
    ///
    /// Each such record costs 1 KiB per entry; turning it off truncates mtimes to seconds.
    pub fn sub_second_mtime(&mut self, keep: bool) -> &mut Self {
        self.sub_second_mtime = keep;
        self
    }

    /// Finishes the archive and returns the underlying writer.
    ///
    /// # Errors
    /// The last entry is incomplete, or writing failed.
    pub fn into_inner(mut self) -> Result<W> {
        self.finish()?;
        Ok(self.builder.into_inner()?)
    }

    fn end_entry(&mut self) -> Result<()> {
        if self.remaining > 0 {
            return Err(Error::other(format!(
                "tar: missed writing {} bytes of {}",
                self.remaining,
                self.current.display()
            )));
        }
        let pad = (BLOCK - self.written % BLOCK) % BLOCK;
        if pad > 0 {
            self.builder
                .get_mut()
                .write_all(&[0u8; BLOCK as usize][..pad as usize])?;
        }
        self.written = 0;
        Ok(())
    }
}

impl<W: Write> ArchiveWriter<W> {
    /// Writes a PAX extended header (`x`) for the entry `name`.
    ///
    /// The header gets a name, `<dir>/PaxHeaders.0/<base>` as Go's `archive/tar` writes it:
    /// `::tar::Builder::append_pax_extensions` leaves it empty, and busybox tar (the `tar` of
    /// Alpine- and busybox-based builder images) takes a header without a name for the end of
    /// the archive, then fails on the records with `invalid tar magic`.
    fn append_pax_header(&mut self, name: &[u8], records: &[(&str, Vec<u8>)]) -> Result<()> {
        let mut data = Vec::new();
        for (key, value) in records {
            // A record is `<len> <key>=<value>\n`, where `<len>` counts its own digits too.
            let rest = 3 + key.len() + value.len();
            let (mut digits, mut limit) = (1, 10);
            while rest + digits >= limit {
                digits += 1;
                limit *= 10;
            }
            data.extend_from_slice(format!("{} {key}=", rest + digits).as_bytes());
            data.extend_from_slice(value);
            data.push(b'\n');
        }
        let (dir, base) = match name.iter().rposition(|&b| b == b'/') {
            Some(i) => (&name[..i], &name[i + 1..]),
            None => (&[][..], name),
        };
        let mut pax_name = Vec::with_capacity(dir.len() + 14 + base.len());
        if !dir.is_empty() {
            pax_name.extend_from_slice(dir);
            pax_name.push(b'/');
        }
        pax_name.extend_from_slice(b"PaxHeaders.0/");
        pax_name.extend_from_slice(base);
        let mut header = ::tar::Header::new_ustar();
        let n = pax_name.len().min(NAME_FIELD);
        header.as_old_mut().name[..n].copy_from_slice(&pax_name[..n]);
        header.set_entry_type(::tar::EntryType::XHeader);
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        self.builder.append(&header, &data[..])?;
        Ok(())
    }
}

impl<W: Write> TarWriter for ArchiveWriter<W> {
    fn write_header(&mut self, h: TarHeader) -> Result<()> {
        if self.finished {
            return Err(Error::other("tar: write after finish"));
        }
        self.end_entry()?;
        let name = h.name.as_os_str().as_bytes();
        if name.is_empty() {
            return Err(Error::InvalidInput("tar: an entry needs a name".into()));
        }
        let mut header = ::tar::Header::new_ustar();
        let (entry_type, size) = match h.kind {
            EntryKind::File => (::tar::EntryType::Regular, h.size),
            EntryKind::Dir => (::tar::EntryType::Directory, 0),
            EntryKind::Symlink => (::tar::EntryType::Symlink, 0),
        };
        header.set_entry_type(entry_type);
        header.set_mode(h.mode & 0o7777);
        header.set_uid(h.uid);
        header.set_gid(h.gid);
        header.set_size(size);
        let (secs, nanos) = unix_time(h.mtime);
        header.set_mtime(u64::try_from(secs).unwrap_or(0));

        let mut pax: Vec<(&str, Vec<u8>)> = Vec::new();
        // The name fields are written as raw bytes: the names come from a walk (relative, no
        // `..`), and `Header::set_path`'s checks and ustar prefix splitting are not wanted here.
        let old = header.as_old_mut();
        let n = name.len().min(NAME_FIELD);
        old.name[..n].copy_from_slice(&name[..n]);
        if name.len() > NAME_FIELD {
            pax.push(("path", name.to_vec()));
        }
        if h.kind == EntryKind::Symlink {
            let link = h.link_name.as_os_str().as_bytes();
            let n = link.len().min(NAME_FIELD);
            old.linkname[..n].copy_from_slice(&link[..n]);
            if link.len() > NAME_FIELD {
                pax.push(("linkpath", link.to_vec()));
            }
        }
        if (self.sub_second_mtime && nanos != 0) || secs < 0 {
            pax.push(("mtime", format_pax_time(secs, nanos).into_bytes()));
        }
        header.set_cksum();
        if !pax.is_empty() {
            self.append_pax_header(name, &pax)?;
        }
        // With empty data, `append` writes the header block alone; the content follows
        // through `write_data` and the padding in `end_entry`.
        self.builder.append(&header, io::empty())?;
        self.remaining = size;
        self.current = h.name;
        Ok(())
    }

    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        if data.len() as u64 > self.remaining {
            return Err(Error::other(format!(
                "tar: write too long for {}",
                self.current.display()
            )));
        }
        self.builder.get_mut().write_all(data)?;
        self.remaining -= data.len() as u64;
        self.written += data.len() as u64;
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        if self.finished {
            return Ok(());
        }
        self.end_entry()?;
        self.builder.finish()?;
        self.builder.get_mut().flush()?;
        self.finished = true;
        Ok(())
    }
}

/// Seconds since the epoch (floored) and the nanoseconds past them.
fn unix_time(t: SystemTime) -> (i64, u32) {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => (
            i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            d.subsec_nanos(),
        ),
        Err(e) => {
            let d = e.duration();
            let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX);
            match d.subsec_nanos() {
                0 => (-secs, 0),
                n => (-secs - 1, 1_000_000_000 - n),
            }
        }
    }
}

/// Go's `formatPAXTime`: `secs[.fraction]`, trailing zeros trimmed, sign kept for pre-1970 times.
fn format_pax_time(secs: i64, nanos: u32) -> String {
    if nanos == 0 {
        return secs.to_string();
    }
    let (sign, secs, nanos) = if secs < 0 {
        ("-", -(secs + 1), 1_000_000_000 - nanos)
    } else {
        ("", secs, nanos)
    };
    let s = format!("{sign}{secs}.{nanos:09}");
    s.trim_end_matches('0').to_string()
}

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
    fn finish(&mut self) -> Result<()> {
        self.inner.finish()
    }
}

/// Rewrites the permission bits of every entry but symlinks (the reference's `ChmodAdapter`).
///
/// The low 9 bits are replaced by [`new_dir_mode`](Self::new_dir_mode) for directories,
/// [`new_exec_file_mode`](Self::new_exec_file_mode) for files with any execute bit, and
/// [`new_file_mode`](Self::new_file_mode) for other files; setuid, setgid and sticky are kept.
#[derive(Debug)]
pub struct ChmodAdapter<W> {
    inner: W,
    /// Permissions of files without any execute bit.
    pub new_file_mode: u32,
    /// Permissions of files with an execute bit.
    pub new_exec_file_mode: u32,
    /// Permissions of directories.
    pub new_dir_mode: u32,
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
        }
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
            header.mode = (header.mode & 0o7000) | (perm & 0o777);
        }
        self.inner.write_header(header)
    }
    fn write_data(&mut self, data: &[u8]) -> Result<()> {
        self.inner.write_data(data)
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

// ---------------------------------------------------------------------------------------------
// Producing the tar

/// Writes the entries of `dir` to `writer`, without finishing it (the reference's
/// `CreateTarStreamToTarWriter`).
///
/// Names are relative to `Dir(dir)` when `include_dir_in_path` (so they start with
/// `base(dir)/`), else relative to `dir`; see the [module docs](self) for what is written.
/// When `dir` is a regular file and `include_dir_in_path` is false, its entry is named
/// `base(dir)`.
///
/// # Errors
/// `dir` does not exist, a directory cannot be read, or the writer fails. Files that cannot be
/// opened are skipped, not errors.
pub fn create_tar_stream_to_tar_writer(
    fs: &dyn FileSystem,
    dir: &Path,
    include_dir_in_path: bool,
    writer: &mut dyn TarWriter,
) -> Result<()> {
    let dir = clean_path(dir);
    let base = dir
        .file_name()
        .map(|b| b.as_bytes().to_vec())
        .unwrap_or_default();
    let mut buf = vec![0u8; 64 * 1024];
    fs.walk(&dir, &mut |path, info| {
        let rel = path
            .strip_prefix(&dir)
            .map(|r| r.as_os_str().as_bytes())
            .unwrap_or_default();
        if is_git_path(rel) {
            return Ok(WalkStep::SkipDir);
        }
        if rel.is_empty() && matches!(info.kind, FileKind::Dir | FileKind::Symlink) {
            return Ok(WalkStep::Continue);
        }
        let name = entry_name(&base, rel, include_dir_in_path);
        match info.kind {
            FileKind::Dir => {
                let header = TarHeader::from_file_info(name, info, PathBuf::new());
                if let Some(h) = header {
                    writer.write_header(h)?;
                }
            }
            FileKind::Symlink => match fs.read_link(path) {
                Ok(target) => {
                    if let Some(h) = TarHeader::from_file_info(name, info, target) {
                        writer.write_header(h)?;
                    }
                }
                Err(e) => log::warn!("Ignoring file {}: {e}", path.display()),
            },
            FileKind::Other => {
                log::warn!("Ignoring file {}: not a regular file", path.display());
            }
            FileKind::File => {
                let mut file = match fs.open(path) {
                    Ok(f) => f,
                    Err(e) => {
                        log::warn!("Ignoring file {}: {e}", path.display());
                        return Ok(WalkStep::Continue);
                    }
                };
                if let Some(h) = TarHeader::from_file_info(name, info, PathBuf::new()) {
                    writer.write_header(h)?;
                }
                copy_exact(&mut *file, info.size, &mut buf, writer, path)?;
            }
        }
        Ok(WalkStep::Continue)
    })
}

/// Copies exactly `size` bytes of `file` into the current entry; a file that grew is cut at
/// `size` (the header is already written), one that shrank is an error.
fn copy_exact(
    file: &mut dyn Read,
    size: u64,
    buf: &mut [u8],
    writer: &mut dyn TarWriter,
    path: &Path,
) -> Result<()> {
    let mut left = size;
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = match file.read(&mut buf[..want]) {
            Ok(0) => {
                return Err(Error::other(format!(
                    "{}: file shrank while being archived ({} of {size} bytes read)",
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

/// `(^|/)\.git(/|$)` on a `/`-separated relative path: a component named exactly `.git`.
fn is_git_path(rel: &[u8]) -> bool {
    rel.split(|&b| b == b'/').any(|c| c == b".git")
}

fn entry_name(base: &[u8], rel: &[u8], include_dir_in_path: bool) -> PathBuf {
    let mut name = Vec::with_capacity(base.len() + 1 + rel.len());
    if include_dir_in_path || rel.is_empty() {
        name.extend_from_slice(base);
    }
    if !rel.is_empty() {
        if !name.is_empty() {
            name.push(b'/');
        }
        name.extend_from_slice(rel);
    }
    PathBuf::from(OsString::from_vec(name))
}

/// Writes the whole tar of an upload of `src` to `dest` and finishes it: the top entry renamed
/// from `base(src)` to `base(dest)`, entries of `src` as [`create_tar_stream_to_tar_writer`]
/// writes them with `include_dir_in_path`.
///
/// The modes are whatever `writer` makes of them; wrap it in a [`ChmodAdapter`] for an upload's.
///
/// # Errors
/// As [`create_tar_stream_to_tar_writer`] and [`TarWriter::finish`].
pub fn write_upload_tar(
    fs: &dyn FileSystem,
    src: &Path,
    dest: &str,
    writer: &mut dyn TarWriter,
) -> Result<()> {
    let src = clean_path(src);
    let old = go_base(src.as_os_str().as_bytes());
    let new = go_base(dest.as_bytes());
    let mut renamed = RenameAdapter::new(writer, OsStr::from_bytes(&old), OsStr::from_bytes(&new));
    create_tar_stream_to_tar_writer(fs, &src, true, &mut renamed)?;
    renamed.finish()
}

/// The directory an upload to `dest` is extracted into: Go's `filepath.Dir(dest)`.
///
/// `/opt/app/src` → `/opt/app`; `/opt/app/` → `/opt/app` (see the trailing-slash note in the
/// [module docs](self)); `src` → `.`.
pub fn upload_dest_dir(dest: &str) -> String {
    let bytes = dest.as_bytes();
    let head = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => &bytes[..=i],
        None => &[][..],
    };
    String::from_utf8_lossy(&clean(head)).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Streaming

/// Size of the chunks handed from the producer to the reader.
const CHUNK: usize = 64 * 1024;
/// Chunks queued between producer and reader: with the one being filled and the one being read,
/// at most four chunks (256 KiB) are in memory.
const QUEUED_CHUNKS: usize = 2;

enum Msg {
    Data(Vec<u8>),
    Done,
    Failed(Error),
}

/// The producer's end of the pipe: buffers writes into chunks and queues them for the reader.
struct ChunkSender {
    tx: SyncSender<Msg>,
    buf: Vec<u8>,
}

impl ChunkSender {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.send(Msg::Data(chunk)).map_err(|_| {
            io::Error::new(
                io::ErrorKind::BrokenPipe,
                "the reader of the tar stream is gone",
            )
        })
    }
}

impl Write for ChunkSender {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.buf.len() >= CHUNK {
            self.send_buf()?;
        }
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.send_buf()
    }
}

impl Drop for ChunkSender {
    fn drop(&mut self) {
        // Bytes still buffered belong before the producer's final message; a gone reader
        // does not want them.
        let _ = self.send_buf();
    }
}

#[derive(Debug)]
enum StreamState {
    Open,
    Done,
    Failed(String),
}

/// The reading end of a tar being produced on another thread.
///
/// Reads return the tar's bytes as they are produced, then `Ok(0)` once the producer finished.
/// When the producer fails, the read after its last bytes returns its error as an `io::Error`
/// wrapping the crate's [`Error`] (`Error::from` unwraps it again). Dropping the stream early
/// stops the producer at its next write.
pub struct TarStream {
    rx: Receiver<Msg>,
    chunk: Vec<u8>,
    pos: usize,
    state: StreamState,
}

impl fmt::Debug for TarStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TarStream")
            .field("buffered", &(self.chunk.len() - self.pos))
            .field("state", &self.state)
            .finish()
    }
}

impl TarStream {
    fn new(rx: Receiver<Msg>) -> TarStream {
        TarStream {
            rx,
            chunk: Vec::new(),
            pos: 0,
            state: StreamState::Open,
        }
    }

    /// Whether the whole tar has been read (the producer finished and nothing is left).
    pub fn is_complete(&self) -> bool {
        matches!(self.state, StreamState::Done) && self.pos == self.chunk.len()
    }
}

impl Read for TarStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.pos < self.chunk.len() {
                let n = out.len().min(self.chunk.len() - self.pos);
                out[..n].copy_from_slice(&self.chunk[self.pos..self.pos + n]);
                self.pos += n;
                return Ok(n);
            }
            match &self.state {
                StreamState::Open => {}
                StreamState::Done => return Ok(0),
                StreamState::Failed(why) => {
                    return Err(Error::other(format!("the tar stream failed: {why}")).into())
                }
            }
            if out.is_empty() {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Ok(Msg::Done) => self.state = StreamState::Done,
                Ok(Msg::Failed(e)) => {
                    self.state = StreamState::Failed(e.to_string());
                    return Err(e.into());
                }
                Err(_) => {
                    let why = "the tar producer stopped before the end of the stream";
                    self.state = StreamState::Failed(why.into());
                    return Err(Error::other(why).into());
                }
            }
        }
    }
}

fn run_producer<P>(tx: SyncSender<Msg>, produce: P) -> bool
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()>,
{
    let writer = ChunkSender {
        tx: tx.clone(),
        buf: Vec::with_capacity(CHUNK),
    };
    // The writer is dropped (and its last bytes queued) inside `produce`, before the verdict.
    let result = produce(Box::new(writer));
    let ok = result.is_ok();
    let _ = tx.send(match result {
        Ok(()) => Msg::Done,
        Err(e) => Msg::Failed(e),
    });
    ok
}

/// Runs `produce` on a new thread, writing into a bounded pipe, and returns the reading end.
///
/// `produce` gets the pipe's writing end; the stream ends when it returns (`Ok`: end of data,
/// `Err`: the reader gets the error). Use it when the producer owns what it needs; with borrowed
/// data use [`with_tar_stream`].
pub fn spawn_tar_stream<P>(produce: P) -> TarStream
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()> + Send + 'static,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
    let fallback = tx.clone();
    let spawned = thread::Builder::new()
        .name("s2i-tar".into())
        .spawn(move || run_producer(tx, produce));
    if let Err(e) = spawned {
        // The queue is empty, so this cannot block.
        let _ = fallback.try_send(Msg::Failed(Error::other(format!(
            "cannot start the tar producer thread: {e}"
        ))));
    }
    TarStream::new(rx)
}

/// Runs `produce` on a scoped thread and `consume` on this one with the reading end; returns
/// `consume`'s result once the producer has stopped.
///
/// `consume` may stop reading early (e.g. the engine answered with an error): the stream is
/// dropped when it returns, the producer stops at its next write, and no thread outlives the
/// call. If `consume` succeeds without noticing that the producer failed, the failure is
/// returned.
///
/// # Errors
/// `consume`'s error, or the producer's as described.
pub fn with_tar_stream<P, C, R>(produce: P, consume: C) -> Result<R>
where
    P: FnOnce(Box<dyn Write + Send>) -> Result<()> + Send,
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    let (tx, rx) = mpsc::sync_channel(QUEUED_CHUNKS);
    thread::scope(|scope| {
        let producer = thread::Builder::new()
            .name("s2i-tar".into())
            .spawn_scoped(scope, move || run_producer(tx, produce))
            .map_err(|e| Error::other(format!("cannot start the tar producer thread: {e}")))?;
        let mut stream = TarStream::new(rx);
        let result = consume(&mut stream);
        let read_failure = match &stream.state {
            StreamState::Failed(why) => Some(why.clone()),
            _ => None,
        };
        drop(stream);
        let joined = producer.join();
        let value = result?;
        if let Some(why) = read_failure {
            return Err(Error::other(format!("the tar stream failed: {why}")));
        }
        match joined {
            Ok(_) => Ok(value),
            Err(_) => Err(Error::other("the tar producer panicked")),
        }
    })
}

/// Streams the tar of an upload of `src` to `dest` ([`write_upload_tar`] with the writer from
/// `make_tar_writer`) into `consume`, as [`with_tar_stream`] does.
///
/// This is the body of `upload_to_container_with_tar_writer`; pass
/// [`default_upload_tar_writer`] for `upload_to_container`'s modes.
///
/// # Errors
/// `consume`'s error (which includes the producer's when it read it), or the producer's.
pub fn stream_upload_tar<M, C, R>(
    fs: &dyn FileSystem,
    src: &Path,
    dest: &str,
    make_tar_writer: M,
    consume: C,
) -> Result<R>
where
    M: FnOnce(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send,
    C: FnOnce(&mut TarStream) -> Result<R>,
{
    with_tar_stream(
        move |w| {
            let mut writer = make_tar_writer(w);
            write_upload_tar(fs, src, dest, &mut *writer)
        },
        consume,
    )
}

/// Like [`stream_upload_tar`], for callers that own the filesystem: the producer runs on its
/// own thread and the returned stream can go anywhere (it is `Send` and `'static`).
pub fn tar_reader<M>(
    fs: Arc<dyn FileSystem>,
    src: PathBuf,
    dest: String,
    make_tar_writer: M,
) -> TarStream
where
    M: FnOnce(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> + Send + 'static,
{
    spawn_tar_stream(move |w| {
        let mut writer = make_tar_writer(w);
        write_upload_tar(&*fs, &src, &dest, &mut *writer)
    })
}

// ---------------------------------------------------------------------------------------------
// Go's path functions, on bytes

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing only.
///
/// Works on bytes (tar names need not be UTF-8); valid UTF-8 in gives valid UTF-8 out, as only
/// whole `/`-separated elements are dropped.
pub(crate) fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if path[r] == b'/' || (path[r] == b'.' && (r + 1 == n || path[r + 1] == b'/')) {
            r += 1;
        } else if path[r] == b'.'
            && path.get(r + 1) == Some(&b'.')
            && (r + 2 == n || path[r + 2] == b'/')
        {
            r += 2;
            if out.len() > dotdot {
                out.pop();
                while out.len() > dotdot && out.last() != Some(&b'/') {
                    out.pop();
                }
                if out.len() > dotdot && out.last() == Some(&b'/') {
                    out.pop();
                }
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}

fn clean_path(p: &Path) -> PathBuf {
    PathBuf::from(OsString::from_vec(clean(p.as_os_str().as_bytes())))
}

/// Go's `path.Base`: the last element, trailing slashes removed; `.` for an empty path.
fn go_base(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let mut end = path.len();
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    if end == 0 {
        return b"/".to_vec();
    }
    let trimmed = &path[..end];
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    trimmed[start..].to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::os::unix::fs::{symlink, PermissionsExt};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    /// A directory under the system temp dir, removed on drop (also when a test panics).
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let p = std::env::temp_dir().join(format!(
                "s2i-tar-test-{}-{tag}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
        fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(p: &Path, content: &str, mode: u32) {
        std::fs::write(p, content).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn mkdir(p: &Path, mode: u32) {
        std::fs::create_dir_all(p).unwrap();
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    fn long_name() -> String {
        format!("{}.txt", "n".repeat(146))
    }

    /// The test tree under `<tmp>/src`:
    ///
    /// ```text
    /// .git/config  .gitignore  a/ (0750)  a/.git/x  a/b.txt (0640)  a/<150-byte name>
    /// empty/  link -> a/b.txt  run.sh (0744)  setgid (02750)  setuid (04644)  x.git
    /// ```
    fn make_tree(root: &Path) -> PathBuf {
        let src = root.join("src");
        mkdir(&src, 0o755);
        mkdir(&src.join(".git"), 0o755);
        write(&src.join(".git/config"), "[core]\n", 0o644);
        write(&src.join(".gitignore"), "target\n", 0o644);
        mkdir(&src.join("a"), 0o750);
        mkdir(&src.join("a/.git"), 0o755);
        write(&src.join("a/.git/x"), "x", 0o644);
        write(&src.join("a/b.txt"), "hello", 0o640);
        write(&src.join("a").join(long_name()), "long", 0o644);
        mkdir(&src.join("empty"), 0o700);
        symlink("a/b.txt", src.join("link")).unwrap();
        write(&src.join("run.sh"), "#!/bin/sh\necho hi\n", 0o744);
        write(&src.join("setgid"), "g", 0o2750);
        write(&src.join("setuid"), "u", 0o4644);
        write(&src.join("x.git"), "not a repo", 0o600);
        src
    }

    /// An entry as read back from a tar: (name, type, mode, link target, content).
    type Listed = (String, char, u32, String, Vec<u8>);

    fn list(tar: &[u8]) -> Vec<Listed> {
        let mut out = Vec::new();
        let mut archive = ::tar::Archive::new(tar);
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            let kind = match entry.header().entry_type() {
                ::tar::EntryType::Regular => 'f',
                ::tar::EntryType::Directory => 'd',
                ::tar::EntryType::Symlink => 'l',
                other => panic!("unexpected entry type {other:?}"),
            };
            let mode = entry.header().mode().unwrap();
            let link = entry
                .link_name()
                .unwrap()
                .map(|l| l.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut content = Vec::new();
            entry.read_to_end(&mut content).unwrap();
            out.push((name, kind, mode, link, content));
        }
        out
    }

    fn e(name: &str, kind: char, mode: u32, link: &str, content: &str) -> Listed {
        (
            name.to_string(),
            kind,
            mode,
            link.to_string(),
            content.as_bytes().to_vec(),
        )
    }

    fn tar_of(src: &Path, include_dir_in_path: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = ArchiveWriter::new(&mut out);
        create_tar_stream_to_tar_writer(&LocalFileSystem, src, include_dir_in_path, &mut w)
            .unwrap();
        w.finish().unwrap();
        drop(w);
        out
    }

    #[test]
    fn tree_entries_as_on_disk() {
        let tmp = TempDir::new("tree");
        let src = make_tree(tmp.path());
        let long = format!("src/a/{}", long_name());
        assert_eq!(long.len() - "src/a/".len(), 150);
        let want = vec![
            e("src/.gitignore", 'f', 0o644, "", "target\n"),
            e("src/a", 'd', 0o750, "", ""),
            e("src/a/b.txt", 'f', 0o640, "", "hello"),
            e(&long, 'f', 0o644, "", "long"),
            e("src/empty", 'd', 0o700, "", ""),
            e("src/link", 'l', 0o777, "a/b.txt", ""),
            e("src/run.sh", 'f', 0o744, "", "#!/bin/sh\necho hi\n"),
            e("src/setgid", 'f', 0o2750, "", "g"),
            e("src/setuid", 'f', 0o4644, "", "u"),
            e("src/x.git", 'f', 0o600, "", "not a repo"),
        ];
        assert_eq!(list(&tar_of(&src, true)), want);

        // Relative to the directory itself: the same entries without the `src/` prefix.
        let want_rel: Vec<Listed> = want
            .iter()
            .map(|(n, k, m, l, c)| (n["src/".len()..].to_string(), *k, *m, l.clone(), c.clone()))
            .collect();
        assert_eq!(list(&tar_of(&src, false)), want_rel);

        // A trailing slash or `.` components do not change anything (the path is cleaned).
        let messy = PathBuf::from(format!("{}/./src/", tmp.path().display()));
        assert_eq!(list(&tar_of(&messy, true)), want);
    }

    #[test]
    fn headers_carry_lstat_metadata() {
        let tmp = TempDir::new("meta");
        let src = make_tree(tmp.path());
        let mtime = UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        std::fs::File::options()
            .write(true)
            .open(src.join("a/b.txt"))
            .unwrap()
            .set_modified(mtime)
            .unwrap();
        let mut rec = Recorder::default();
        create_tar_stream_to_tar_writer(&LocalFileSystem, &src, true, &mut rec).unwrap();
        let b = rec
            .headers
            .iter()
            .find(|(h, _)| h.name == Path::new("src/a/b.txt"))
            .unwrap();
        let meta = std::fs::metadata(src.join("a/b.txt")).unwrap();
        assert_eq!(b.0.uid, u64::from(meta.uid()));
        assert_eq!(b.0.gid, u64::from(meta.gid()));
        assert_eq!(b.0.size, 5);
        assert_eq!(b.0.mtime, mtime);
        assert_eq!(b.1, b"hello");
        assert!(!rec.finished, "the walk does not finish the writer");

        // The archive keeps the sub-second mtime in a PAX record, and seconds in the header.
        let tar = tar_of(&src, true);
        let mut archive = ::tar::Archive::new(&tar[..]);
        let mut found = false;
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            if entry.path().unwrap() == Path::new("src/a/b.txt") {
                assert_eq!(entry.header().mtime().unwrap(), 1_700_000_000);
                let pax = entry.pax_extensions().unwrap().unwrap();
                let mtimes: Vec<String> = pax
                    .filter_map(|x| x.ok())
                    .filter(|x| x.key() == Ok("mtime"))
                    .map(|x| x.value().unwrap().to_string())
                    .collect();
                assert_eq!(mtimes, ["1700000000.123456789"]);
                found = true;
            }
        }
        assert!(found);
    }

    #[test]
    fn upload_renames_and_chmods() {
        let tmp = TempDir::new("upload");
        let src = make_tree(tmp.path());
        let mut out = Vec::new();
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out));
        write_upload_tar(&LocalFileSystem, &src, "/opt/app/secret", &mut w).unwrap();
        drop(w);
        let long = format!("secret/a/{}", long_name());
        let want = vec![
            e("secret/.gitignore", 'f', 0o666, "", "target\n"),
            e("secret/a", 'd', 0o777, "", ""),
            e("secret/a/b.txt", 'f', 0o666, "", "hello"),
            e(&long, 'f', 0o666, "", "long"),
            e("secret/empty", 'd', 0o777, "", ""),
            e("secret/link", 'l', 0o777, "a/b.txt", ""),
            // Any execute bit makes a file 0777 (the reference gave 0666, testing the group bit).
            e("secret/run.sh", 'f', 0o777, "", "#!/bin/sh\necho hi\n"),
            e("secret/setgid", 'f', 0o2777, "", "g"),
            e("secret/setuid", 'f', 0o4666, "", "u"),
            e("secret/x.git", 'f', 0o666, "", "not a repo"),
        ];
        assert_eq!(list(&out), want);
        assert_eq!(upload_dest_dir("/opt/app/secret"), "/opt/app");
    }

    #[test]
    fn spec_examples() {
        // Single file: /tmp/x/rm.sh to /opt/s2i/rm-injections → `rm-injections` in /opt/s2i.
        let tmp = TempDir::new("single");
        let file = tmp.path().join("rm.sh");
        write(&file, "rm -rf /x\n", 0o644);
        let upload = |src: &Path, dest: &str| {
            let mut out = Vec::new();
            let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out));
            write_upload_tar(&LocalFileSystem, src, dest, &mut w).unwrap();
            drop(w);
            list(&out)
        };
        assert_eq!(
            upload(&file, "/opt/s2i/rm-injections"),
            [e("rm-injections", 'f', 0o666, "", "rm -rf /x\n")]
        );
        assert_eq!(upload_dest_dir("/opt/s2i/rm-injections"), "/opt/s2i");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(
            upload(&file, "/opt/s2i/rm-injections"),
            [e("rm-injections", 'f', 0o777, "", "rm -rf /x\n")]
        );
        // A single file with include_dir_in_path = false is named by its base name.
        assert_eq!(list(&tar_of(&file, false))[0].0, "rm.sh");

        // Directory: /h/inj containing a/b.txt to /opt/app/secret.
        let inj = tmp.path().join("inj");
        mkdir(&inj.join("a"), 0o755);
        write(&inj.join("a/b.txt"), "b", 0o644);
        assert_eq!(
            upload(&inj, "/opt/app/secret"),
            [
                e("secret/a", 'd', 0o777, "", ""),
                e("secret/a/b.txt", 'f', 0o666, "", "b")
            ]
        );
        // The trailing-slash quirk, kept: Dir is /opt/app and base is `app`, so the content
        // lands in /opt/app/app.
        assert_eq!(upload_dest_dir("/opt/app/"), "/opt/app");
        assert_eq!(
            upload(&inj, "/opt/app/")
                .into_iter()
                .map(|x| x.0)
                .collect::<Vec<_>>(),
            ["app/a", "app/a/b.txt"]
        );

        // A symlink as src: the root is never written, so the tar is empty.
        let link = tmp.path().join("link");
        symlink(&inj, &link).unwrap();
        assert!(upload(&link, "/opt/app/x").is_empty());
        // A missing src fails with the path in the error.
        let mut out = Vec::new();
        let mut w = ArchiveWriter::new(&mut out);
        let err =
            write_upload_tar(&LocalFileSystem, &tmp.path().join("nope"), "/x", &mut w).unwrap_err();
        assert!(err.to_string().contains("lstat "), "{err}");
        assert!(err.to_string().contains("nope"), "{err}");
    }

    #[test]
    fn git_exclusion_is_relative_to_the_upload_root() {
        let tmp = TempDir::new("gitroot");
        // The sources live under a host directory named `.git`: the reference, matching the
        // full host path, uploaded nothing.
        let src = tmp.path().join(".git/work/src");
        mkdir(&src.join(".git"), 0o755);
        write(&src.join("main.go"), "package main", 0o644);
        write(&src.join(".git/HEAD"), "ref", 0o644);
        let names: Vec<String> = list(&tar_of(&src, true)).into_iter().map(|x| x.0).collect();
        assert_eq!(names, ["src/main.go"]);

        let cases: &[(&str, bool)] = &[
            (".git", true),
            (".git/config", true),
            ("a/.git", true),
            ("a/.git/x", true),
            (".gitignore", false),
            ("x.git", false),
            ("a/.github/x", false),
            ("git", false),
            ("", false),
        ];
        for &(rel, excluded) in cases {
            assert_eq!(is_git_path(rel.as_bytes()), excluded, "{rel:?}");
        }
    }

    #[test]
    fn special_files_are_skipped() {
        let tmp = TempDir::new("fifo");
        let src = tmp.path().join("src");
        mkdir(&src, 0o755);
        write(&src.join("a"), "a", 0o644);
        let made = std::process::Command::new("mkfifo")
            .arg(src.join("fifo"))
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        // An unreadable file is skipped too (root can read anything, so only check as a user).
        write(&src.join("secret"), "s", 0o000);
        let root = std::fs::File::open(src.join("secret")).is_ok();
        let names: Vec<String> = list(&tar_of(&src, true)).into_iter().map(|x| x.0).collect();
        let mut want = vec!["src/a"];
        if root {
            want.push("src/secret");
        }
        assert_eq!(names, want, "fifo made: {made}");
    }

    #[test]
    fn system_tar_reads_the_archive() {
        let tmp = TempDir::new("gnutar");
        let src = make_tree(tmp.path());
        let mut out = Vec::new();
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out));
        write_upload_tar(&LocalFileSystem, &src, "/opt/app/secret", &mut w).unwrap();
        drop(w);
        let tarball = tmp.path().join("t.tar");
        std::fs::write(&tarball, &out).unwrap();
        let listing = match std::process::Command::new("tar")
            .arg("-tvf")
            .arg(&tarball)
            .output()
        {
            Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
            _ => return, // no system tar: the crate's reader checked the bytes already
        };
        // `-rw-rw-rw- 0/0 5 2024-01-01 00:00 secret/a/b.txt`: the mode and the name matter.
        let lines: Vec<(&str, &str)> = listing
            .lines()
            .map(|l| {
                let fields: Vec<&str> = l.split_whitespace().collect();
                (fields[0], fields[5])
            })
            .collect();
        assert_eq!(lines.len(), 10, "{listing}");
        let long = format!("secret/a/{}", long_name());
        assert!(lines.contains(&("-rw-rw-rw-", long.as_str())), "{listing}");
        assert!(lines.contains(&("drwxrwxrwx", "secret/a")), "{listing}");
        assert!(
            lines.contains(&("-rwxrwxrwx", "secret/run.sh")),
            "{listing}"
        );
        assert!(
            lines.contains(&("-rwSrw-rw-", "secret/setuid")),
            "{listing}"
        );
        assert!(
            lines.contains(&("-rwxrwsrwx", "secret/setgid")),
            "{listing}"
        );
        assert!(lines.contains(&("lrwxrwxrwx", "secret/link")), "{listing}");
        assert!(listing.contains("secret/link -> a/b.txt"), "{listing}");
    }

    #[test]
    fn long_link_targets_and_names() {
        let mut out = Vec::new();
        let mut w = ArchiveWriter::new(&mut out);
        let long = "d/".repeat(80) + "target";
        w.write_header(TarHeader {
            name: PathBuf::from("l".repeat(120)),
            kind: EntryKind::Symlink,
            mode: 0o777,
            uid: 3_000_000,
            gid: 0,
            size: 0,
            mtime: UNIX_EPOCH + Duration::from_secs(5),
            link_name: PathBuf::from(&long),
        })
        .unwrap();
        w.write_header(TarHeader {
            name: PathBuf::from("big-ids"),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 1 << 40,
            gid: 1 << 33,
            size: 2,
            mtime: UNIX_EPOCH - Duration::from_millis(1500),
            link_name: PathBuf::new(),
        })
        .unwrap();
        w.write_data(b"o").unwrap();
        w.write_data(b"k").unwrap();
        w.finish().unwrap();
        drop(w);
        let listed = list(&out);
        assert_eq!(listed[0].0, "l".repeat(120));
        assert_eq!(listed[0].3, long);
        assert_eq!(listed[1].4, b"ok");
        let mut archive = ::tar::Archive::new(&out[..]);
        let mut entries = archive.entries().unwrap();
        let first = entries.next().unwrap().unwrap();
        assert_eq!(first.header().uid().unwrap(), 3_000_000);
        let mut second = entries.next().unwrap().unwrap();
        assert_eq!(second.header().uid().unwrap(), 1 << 40);
        assert_eq!(second.header().gid().unwrap(), 1 << 33);
        let pax: Vec<(String, String)> = second
            .pax_extensions()
            .unwrap()
            .unwrap()
            .filter_map(|x| x.ok())
            .map(|x| (x.key().unwrap().into(), x.value().unwrap().into()))
            .collect();
        assert_eq!(pax, [("mtime".to_string(), "-1.5".to_string())]);
    }

    #[test]
    fn archive_writer_enforces_sizes() {
        let header = |name: &str, size| TarHeader {
            name: PathBuf::from(name),
            kind: EntryKind::File,
            mode: 0o644,
            uid: 0,
            gid: 0,
            size,
            mtime: UNIX_EPOCH,
            link_name: PathBuf::new(),
        };
        let mut w = ArchiveWriter::new(Vec::new());
        w.write_header(header("a", 3)).unwrap();
        let err = w.write_data(b"abcd").unwrap_err();
        assert_eq!(err.to_string(), "tar: write too long for a");
        w.write_data(b"ab").unwrap();
        let err = w.write_header(header("b", 0)).unwrap_err();
        assert_eq!(err.to_string(), "tar: missed writing 1 bytes of a");
        w.write_data(b"c").unwrap();
        w.write_header(header("b", 0)).unwrap();
        let bytes = w.into_inner().unwrap();
        // a: header + 1 data block; b: header; then two zero blocks.
        assert_eq!(bytes.len(), 512 * 5);
        let mut w = ArchiveWriter::new(Vec::new());
        assert!(w.write_header(header("", 0)).is_err());
        w.finish().unwrap();
        assert!(w.write_header(header("x", 0)).is_err());
    }

    #[test]
    fn pax_headers_have_names_that_busybox_tar_reads() {
        let long = format!("src/{}", "n".repeat(150));
        let mut w = ArchiveWriter::new(Vec::new());
        for (name, kind, size) in [
            ("src/dir", EntryKind::Dir, 0),
            (long.as_str(), EntryKind::File, 2),
        ] {
            w.write_header(TarHeader {
                name: PathBuf::from(name),
                kind,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size,
                mtime: UNIX_EPOCH + Duration::new(10, 5),
                link_name: PathBuf::new(),
            })
            .unwrap();
        }
        w.write_data(b"hi").unwrap();
        w.finish().unwrap();
        let tar = w.into_inner().unwrap();
        // The extended header of `src/dir` is named as Go names it.
        assert_eq!(&tar[..20], b"src/PaxHeaders.0/dir");
        assert_eq!(tar[156], b'x');
        let mut names = Vec::new();
        for e in ::tar::Archive::new(&tar[..]).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["src/dir", long.as_str()]);
        // busybox tar took the nameless header of `::tar::Builder::append_pax_extensions` for
        // the end of the archive and failed with `invalid tar magic`.
        let busybox = Path::new("/bin/busybox");
        if busybox.exists() {
            let mut child = std::process::Command::new(busybox)
                .args(["tar", "-tf", "-"])
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(&tar).unwrap();
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                format!("src/dir\n{long}\n")
            );
        }
    }

    #[test]
    fn sub_second_mtime_can_be_turned_off() {
        let h = TarHeader {
            name: PathBuf::from("f"),
            kind: EntryKind::Dir,
            mode: 0o755,
            uid: 0,
            gid: 0,
            size: 0,
            mtime: UNIX_EPOCH + Duration::new(10, 5),
            link_name: PathBuf::new(),
        };
        let mut with = ArchiveWriter::new(Vec::new());
        with.write_header(h.clone()).unwrap();
        let mut without = ArchiveWriter::new(Vec::new());
        without.sub_second_mtime(false).write_header(h).unwrap();
        assert_eq!(with.into_inner().unwrap().len(), 512 * 5);
        assert_eq!(without.into_inner().unwrap().len(), 512 * 3);
    }

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
            let mut w = ChmodAdapter::new(&mut rec);
            for &(kind, before, _) in cases {
                w.write_header(header("x", kind, before)).unwrap();
            }
        }
        for (i, &(kind, before, after)) in cases.iter().enumerate() {
            assert_eq!(rec.headers[i].0.mode, after, "{kind:?} {before:o}");
        }
    }

    #[test]
    fn go_path_functions() {
        let cleaned: &[(&str, &str)] = &[
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("//", "/"),
            ("/a/b/", "/a/b"),
            ("a//b", "a/b"),
            ("/a/./b/../c", "/a/c"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/..", "/"),
            ("/../a", "/a"),
            ("a/b/../../..", ".."),
            ("./", "."),
        ];
        for &(input, want) in cleaned {
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
        let dirs: &[(&str, &str)] = &[
            ("/opt/app/src", "/opt/app"),
            ("/opt/app/", "/opt/app"),
            ("/opt", "/"),
            ("/", "/"),
            ("src", "."),
            ("", "."),
            ("a/b", "a"),
        ];
        for &(input, want) in dirs {
            assert_eq!(upload_dest_dir(input), want, "{input:?}");
        }
        let bases: &[(&str, &str)] = &[
            ("/opt/app/src", "src"),
            ("/opt/app/", "app"),
            ("/", "/"),
            ("", "."),
            ("a", "a"),
        ];
        for &(input, want) in bases {
            assert_eq!(go_base(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
        assert_eq!(format_pax_time(5, 0), "5");
        assert_eq!(format_pax_time(5, 500_000_000), "5.5");
        assert_eq!(format_pax_time(-2, 500_000_000), "-1.5");
        assert_eq!(
            unix_time(UNIX_EPOCH - Duration::from_millis(1500)),
            (-2, 500_000_000)
        );
    }

    #[test]
    fn stream_delivers_the_same_bytes() {
        let tmp = TempDir::new("stream");
        let src = make_tree(tmp.path());
        // A file larger than a few chunks, to exercise the queue.
        let big: String = (0..200_000)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        write(&src.join("big"), &big, 0o644);
        let mut direct = Vec::new();
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut direct));
        write_upload_tar(&LocalFileSystem, &src, "/opt/app/src", &mut w).unwrap();
        drop(w);

        let streamed = stream_upload_tar(
            &LocalFileSystem,
            &src,
            "/opt/app/src",
            default_upload_tar_writer,
            |body| {
                let mut v = Vec::new();
                // Small reads, as a transport might do.
                let mut buf = [0u8; 1000];
                loop {
                    let n = body.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    v.extend_from_slice(&buf[..n]);
                }
                assert!(body.is_complete());
                Ok(v)
            },
        )
        .unwrap();
        assert_eq!(streamed, direct);

        let fs: Arc<dyn FileSystem> = Arc::new(LocalFileSystem);
        let mut reader = tar_reader(
            fs,
            src.clone(),
            "/opt/app/src".into(),
            default_upload_tar_writer,
        );
        let mut owned = Vec::new();
        reader.read_to_end(&mut owned).unwrap();
        assert_eq!(owned, direct);
        // After the end, reads keep returning 0.
        assert_eq!(reader.read(&mut [0u8; 8]).unwrap(), 0);
    }

    /// A fake filesystem: `root/` holds files whose content is generated, some failing.
    struct FakeFs {
        files: HashMap<&'static str, (u64, Option<u64>)>, // name → (size, fail after n bytes)
        opened: Mutex<Vec<String>>,
    }

    impl FakeFs {
        fn new(files: &[(&'static str, u64, Option<u64>)]) -> FakeFs {
            FakeFs {
                files: files.iter().map(|&(n, s, f)| (n, (s, f))).collect(),
                opened: Mutex::new(Vec::new()),
            }
        }
    }

    struct Failing {
        left: u64,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.left == 0 {
                return Err(io::Error::other("disk on fire"));
            }
            let n = buf.len().min(self.left as usize);
            buf[..n].fill(b'z');
            self.left -= n as u64;
            Ok(n)
        }
    }

    impl FileSystem for FakeFs {
        fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
            let info = |kind, size| FileInfo {
                kind,
                mode: 0o644,
                uid: 1,
                gid: 2,
                size,
                mtime: UNIX_EPOCH,
            };
            if path == Path::new("/root") {
                return Ok(info(FileKind::Dir, 0));
            }
            let name = path
                .strip_prefix("/root")
                .map_err(|_| io::Error::from(io::ErrorKind::NotFound))?;
            match self.files.get(name.to_str().unwrap_or_default()) {
                Some(&(size, _)) => Ok(info(FileKind::File, size)),
                None => Err(io::ErrorKind::NotFound.into()),
            }
        }
        fn read_dir(&self, _: &Path) -> io::Result<Vec<OsString>> {
            Ok(self.files.keys().map(OsString::from).collect())
        }
        fn read_link(&self, _: &Path) -> io::Result<PathBuf> {
            Err(io::ErrorKind::InvalidInput.into())
        }
        fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>> {
            let name = path.strip_prefix("/root").unwrap().to_str().unwrap();
            self.opened.lock().unwrap().push(name.to_string());
            let (size, fail) = self.files[name];
            Ok(match fail {
                Some(n) => Box::new(Failing { left: n }),
                None => Box::new(io::repeat(b'z').take(size)),
            })
        }
    }

    #[test]
    fn producer_error_reaches_the_reader() {
        let fs = FakeFs::new(&[("a", 10, None), ("b", 1 << 20, Some(300_000))]);
        let mut got = 0usize;
        let err = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                let mut buf = vec![0u8; 4096];
                loop {
                    match body.read(&mut buf) {
                        Ok(0) => return Ok(()),
                        Ok(n) => got += n,
                        Err(e) => return Err(Error::from(e)),
                    }
                }
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");
        assert!(err.to_string().contains("read /root/b"), "{err}");
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        // What was produced before the failure was delivered.
        assert!(got >= 300_000, "{got}");

        // A consumer that swallows the read error still gets the failure back.
        let err = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                let _ = io::copy(body, &mut io::sink());
                Ok(())
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("disk on fire"), "{err}");

        // The owned variant reports the same through `Read`.
        let fs: Arc<dyn FileSystem> = Arc::new(FakeFs::new(&[("b", 100, Some(10))]));
        let mut reader = tar_reader(fs, "/root".into(), "/dst".into(), default_upload_tar_writer);
        let e = reader.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(Error::from(e).to_string().contains("disk on fire"));
        let again = reader.read(&mut [0u8; 4]).unwrap_err();
        assert!(again.to_string().contains("tar stream failed"), "{again}");
    }

    #[test]
    fn dropping_the_reader_stops_the_producer() {
        // A 1 GiB file: the producer would block forever on a full queue if it were not told.
        let fs = Arc::new(FakeFs::new(&[("huge", 1 << 30, None)]));
        let dyn_fs: Arc<dyn FileSystem> = fs.clone();
        let mut reader = tar_reader(
            dyn_fs,
            "/root".into(),
            "/dst".into(),
            default_upload_tar_writer,
        );
        let mut buf = vec![0u8; 100_000];
        reader.read_exact(&mut buf).unwrap();
        drop(reader);
        // The producer thread holds the other reference to `fs` until it returns.
        let deadline = Instant::now() + Duration::from_secs(10);
        while Arc::strong_count(&fs) > 1 {
            assert!(
                Instant::now() < deadline,
                "the producer thread did not stop"
            );
            thread::sleep(Duration::from_millis(5));
        }

        // The scoped variant returns even when the consumer stops early.
        let fs = FakeFs::new(&[("huge", 1 << 30, None)]);
        let started = Instant::now();
        let r = stream_upload_tar(
            &fs,
            Path::new("/root"),
            "/dst",
            default_upload_tar_writer,
            |body| {
                body.read_exact(&mut [0u8; 1000])?;
                Err::<(), _>(Error::api(500, "engine said no"))
            },
        );
        assert_eq!(r.unwrap_err().status(), Some(500));
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(*fs.opened.lock().unwrap(), ["huge"]);
    }

    #[test]
    fn producer_panic_is_an_error() {
        let r = with_tar_stream(
            |_w| -> Result<()> { panic!("producer bug") },
            |body| {
                let e = body.read(&mut [0u8; 10]).unwrap_err();
                assert!(e.to_string().contains("stopped before the end"), "{e}");
                Ok(())
            },
        );
        assert!(r.is_err());
        let mut s = spawn_tar_stream(|mut w| {
            w.write_all(b"abc")?;
            Ok(())
        });
        let mut v = Vec::new();
        s.read_to_end(&mut v).unwrap();
        assert_eq!(v, b"abc");
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

    /// Records headers and data, for adapter and walk tests.
    #[derive(Default)]
    struct Recorder {
        headers: Vec<(TarHeader, Vec<u8>)>,
        finished: bool,
    }

    impl TarWriter for Recorder {
        fn write_header(&mut self, header: TarHeader) -> Result<()> {
            self.headers.push((header, Vec::new()));
            Ok(())
        }
        fn write_data(&mut self, data: &[u8]) -> Result<()> {
            match self.headers.last_mut() {
                Some(last) => last.1.extend_from_slice(data),
                None => return Err(Error::other("data before a header")),
            }
            Ok(())
        }
        fn finish(&mut self) -> Result<()> {
            self.finished = true;
            Ok(())
        }
    }
}
