//! What the archive's tests share (test builds only): temporary directories, the test tree,
//! reading a tar back as a listing, and a [`TarWriter`] that records what it is given.
//!
//! Like the rest of the archive, this uses only `error`.

use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::entry::{TarHeader, TarWriter};
use super::fs::LocalFileSystem;
use super::walk::create_tar_stream_to_tar_writer;
use super::writer::ArchiveWriter;
use crate::error::{Error, Result};

/// A directory under the system temp dir, removed on drop (also when a test panics).
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "s2i-tar-test-{}-{tag}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(super) fn write(p: &Path, content: &str, mode: u32) {
    std::fs::write(p, content).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(super) fn mkdir(p: &Path, mode: u32) {
    std::fs::create_dir_all(p).unwrap();
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
}

pub(super) fn long_name() -> String {
    format!("{}.txt", "n".repeat(146))
}

/// The test tree under `<tmp>/src`:
///
/// ```text
/// .git/config  .gitignore  a/ (0750)  a/.git/x  a/b.txt (0640)  a/<150-byte name>
/// empty/  link -> a/b.txt  run.sh (0744)  setgid (02750)  setuid (04644)  x.git
/// ```
pub(super) fn make_tree(root: &Path) -> PathBuf {
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
pub(super) type Listed = (String, char, u32, String, Vec<u8>);

pub(super) fn list(tar: &[u8]) -> Vec<Listed> {
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular => 'f',
            tar::EntryType::Directory => 'd',
            tar::EntryType::Symlink => 'l',
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

pub(super) fn e(name: &str, kind: char, mode: u32, link: &str, content: &str) -> Listed {
    (
        name.to_string(),
        kind,
        mode,
        link.to_string(),
        content.as_bytes().to_vec(),
    )
}

pub(super) fn tar_of(src: &Path, include_dir_in_path: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = ArchiveWriter::new(&mut out);
    create_tar_stream_to_tar_writer(&LocalFileSystem, src, include_dir_in_path, &mut w).unwrap();
    w.finish().unwrap();
    drop(w);
    out
}

/// Records headers and data, for adapter and walk tests.
#[derive(Default)]
pub(super) struct Recorder {
    pub(super) headers: Vec<(TarHeader, Vec<u8>)>,
    pub(super) finished: bool,
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
