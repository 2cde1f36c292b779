//! The tar stream of an upload (`PUT /containers/{id}/archive`), produced while it is sent.
//!
//! An upload copies a host path (a file or a directory) to a container path `dest`. The engine
//! receives the tar and the directory to extract it into, `Dir(dest)` ([`upload_dest_dir`]); the
//! tar's top entry is renamed from `base(src)` to `base(dest)` ([`RenameAdapter`]) so the content
//! lands at `dest`. The parts, from the bottom up:
//!
//! - [`FileSystem`] — the few filesystem operations the walk needs; [`LocalFileSystem`] is the real
//!   one, [`LinkFollowingFileSystem`] the real one read through its symbolic links (as the
//!   reference copies local sources), a fake can stand in for tests.
//! - [`TarWriter`] — the reference's tar writer: [`write_header`](TarWriter::write_header), then
//!   the content with [`write_data`](TarWriter::write_data), then [`finish`](TarWriter::finish).
//!   [`ArchiveWriter`] writes the bytes (over [`tar::Builder`], PAX records for long names and
//!   sub-second mtimes); [`RenameAdapter`] and [`ChmodAdapter`] rewrite headers on the way.
//! - [`create_tar_stream_to_tar_writer`] — walks a path and writes its entries (the reference's
//!   `CreateTarStreamToTarWriter`).
//! - [`write_upload_tar`] — the whole upload tar: rename, walk, finish.
//! - [`stream_upload_tar`] / [`tar_reader`] — run the producer on a thread writing into a bounded
//!   pipe, so the request body is read while it is produced and never held whole in memory.
//!   With the default writer (`upload_to_container`, [`tar_reader`] given
//!   [`default_upload_tar_writer`]) and with [`spawn_archive_stream`]'s, the producer hands each
//!   host file ([`FileSystem::open_file`]) over unread, and the reader of the stream (a
//!   request's body, a container's standard input) reads its content straight into the buffer
//!   it sends, so the bytes are not copied from thread to thread.
//!
//! The archive is a leaf: it uses only `error`. The S2I operations (`docker`) call it with a
//! [`FileSystem`] and hand the stream to the Engine API as a request body.
//!
//! # What goes into the tar
//!
//! - The walk root itself is never written: a directory `src` yields entries for its children
//!   only (`base(src)/...`; the engine creates the top directory when extracting), a symlink
//!   `src` yields an empty tar, a file `src` yields one entry.
//! - Entries come in lexical (byte) order; symlinks are not followed and are stored as links with
//!   their raw target (through [`LinkFollowingFileSystem`], a link is what it points to, unless
//!   it points nowhere or into a directory it is inside); directories are stored as directories
//!   (names without a trailing slash); regular files with their content. Other files (FIFOs,
//!   sockets, devices) and files that cannot be opened are skipped with a warning
//!   `Ignoring file <path>: <error>`.
//! - Mode (permissions and setuid/setgid/sticky), uid, gid and mtime come from `lstat`.
//! - Any path component named `.git` below the root is left out, with everything under it.
//!
//! # Differences from S2I
//!
//! - Modes: [`ChmodAdapter::new`] gives directories and files with any execute bit
//!   `0777`, other files `0666`, and removes setuid/setgid/sticky unless
//!   [`ChmodAdapter::keep_special_bits`] asks to keep them. The reference gave every file
//!   `0666` (its execute test looked at the group bit, and its "executable" mode was `0666` too)
//!   and kept those bits.
//! - `.git` exclusion: matched against the path relative to the upload root, not
//!   the full host path, so sources that live under a host directory named `.git` still upload.
//! - FIFOs and other special files are skipped instead of opened (opening a FIFO blocks); files
//!   are opened without following symlinks (but for [`LinkFollowingFileSystem`]'s). A file that
//!   vanishes during the walk is skipped.
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
//! for entry in tar::Archive::new(&tar[..]).entries()? {
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

mod adapters;
mod entry;
#[cfg(test)]
mod fixtures;
mod follow;
mod fs;
mod go_path;
mod stream;
mod walk;
mod writer;

pub use adapters::{default_upload_tar_writer, ChmodAdapter, MakeTarWriter, RenameAdapter};
pub use entry::{EntryKind, TarHeader, TarWriter};
pub use follow::LinkFollowingFileSystem;
pub use fs::{FileInfo, FileKind, FileSystem, LocalFileSystem, WalkStep};
pub use go_path::clean;
pub use stream::{
    spawn_archive_stream, spawn_tar_stream, stream_upload_tar, tar_reader, with_tar_stream,
    ArchiveStreamWriter, TarStream,
};
pub use walk::{create_tar_stream_to_tar_writer, upload_dest_dir, write_upload_tar};
pub use writer::ArchiveWriter;

pub(crate) use stream::stream_default_upload_tar;
