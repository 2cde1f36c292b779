//! Producing the tar: the walk of a host path into a [`TarWriter`], with the `.git` exclusion
//! and the entries' names, and the whole upload tar with its destination directory.
//!
//! Like the rest of the archive, this uses only `error`.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

use super::adapters::RenameAdapter;
use super::entry::{copy_exact, TarHeader, TarWriter};
use super::fs::{FileInfo, FileKind, FileSystem, WalkStep};
use super::go_path::{clean, clean_path, go_base};
use crate::error::Result;

/// Writes the entries of `dir` to `writer`, without finishing it (the reference's
/// `CreateTarStreamToTarWriter`).
///
/// Names are relative to `Dir(dir)` when `include_dir_in_path` (so they start with
/// `base(dir)/`), else relative to `dir`; see the [module docs](super) for what is written.
/// When `dir` is a regular file and `include_dir_in_path` is false, its entry is named
/// `base(dir)`.
///
/// # Errors
/// `dir` does not exist, a directory cannot be read, a file shrank while it was read or its
/// reader claimed more bytes than it was asked for (a custom [`FileSystem`]), or the writer
/// fails. Files that cannot be opened are skipped, not errors.
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
            FileKind::File => write_file_entry(fs, path, info, name, &mut buf, writer)?,
        }
        Ok(WalkStep::Continue)
    })
}

/// Writes the entry of regular file `path`: its header, then its content, through
/// [`TarWriter::write_file`] when the file system opens host files, else read here. A file that
/// cannot be opened is skipped with a warning.
fn write_file_entry(
    fs: &dyn FileSystem,
    path: &Path,
    info: &FileInfo,
    name: PathBuf,
    buf: &mut [u8],
    writer: &mut dyn TarWriter,
) -> Result<()> {
    /// An opened file: a host file, or a reader of the file system's own.
    enum Opened<'f> {
        Host(std::fs::File),
        Reader(Box<dyn io::Read + 'f>),
    }
    let opened = match fs.open_file(path) {
        Ok(Some(file)) => Ok(Opened::Host(file)),
        Ok(None) => fs.open(path).map(Opened::Reader),
        Err(e) => Err(e),
    };
    let opened = match opened {
        Ok(o) => o,
        Err(e) => {
            log::warn!("Ignoring file {}: {e}", path.display());
            return Ok(());
        }
    };
    if let Some(h) = TarHeader::from_file_info(name, info, PathBuf::new()) {
        writer.write_header(h)?;
    }
    match opened {
        Opened::Host(file) => writer.write_file(file, info.size, path),
        Opened::Reader(mut file) => copy_exact(&mut *file, info.size, buf, writer, path),
    }
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
/// The modes are whatever `writer` makes of them; wrap it in a
/// [`ChmodAdapter`](super::ChmodAdapter) for an upload's.
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
/// [module docs](super)); `src` → `.`.
pub fn upload_dest_dir(dest: &str) -> String {
    let bytes = dest.as_bytes();
    let head = match bytes.iter().rposition(|&b| b == b'/') {
        Some(i) => &bytes[..=i],
        None => &[][..],
    };
    String::from_utf8_lossy(&clean(head)).into_owned()
}

#[cfg(test)]
mod tests {
    //! The walk on a real tree: names, metadata, exclusion, special files, the upload's renaming.
    use super::*;
    use crate::archive::fixtures::*;
    use crate::archive::{ArchiveWriter, ChmodAdapter, LocalFileSystem};
    use std::io::Read;
    use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
    use std::time::{Duration, UNIX_EPOCH};

    /// A file system of one file, `/root/f` of 10 bytes, whose reader claims `claim(len)`
    /// bytes for a buffer of `len`.
    struct Lying(fn(usize) -> usize);

    struct LyingReader(fn(usize) -> usize);

    impl Read for LyingReader {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            buf.fill(b'z');
            Ok((self.0)(buf.len()))
        }
    }

    impl FileSystem for Lying {
        fn lstat(&self, path: &Path) -> io::Result<crate::archive::FileInfo> {
            let kind = if path == Path::new("/root") {
                FileKind::Dir
            } else {
                FileKind::File
            };
            Ok(crate::archive::FileInfo {
                kind,
                mode: 0o644,
                uid: 0,
                gid: 0,
                size: 10,
                mtime: UNIX_EPOCH,
            })
        }
        fn read_dir(&self, _: &Path) -> io::Result<Vec<OsString>> {
            Ok(vec!["f".into()])
        }
        fn read_link(&self, _: &Path) -> io::Result<PathBuf> {
            Err(io::ErrorKind::InvalidInput.into())
        }
        fn open(&self, _: &Path) -> io::Result<Box<dyn Read + '_>> {
            Ok(Box::new(LyingReader(self.0)))
        }
    }

    #[test]
    fn a_reader_that_claims_too_much_is_an_error() {
        // More than the buffer holds, and more than was asked for (the size announced).
        for claim in [
            |len: usize| len + 1,
            |len: usize| len * 2,
            |_| 11,
            |_| usize::MAX,
        ] {
            let mut rec = Recorder::default();
            let e =
                create_tar_stream_to_tar_writer(&Lying(claim), Path::new("/root"), false, &mut rec)
                    .unwrap_err();
            let text = e.to_string();
            assert!(text.contains("/root/f") && text.contains("bytes"), "{text}");
            assert!(rec.headers.iter().all(|(_, data)| data.len() <= 10));
        }
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
        let mut archive = tar::Archive::new(&tar[..]);
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
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out)).keep_special_bits(true);
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
    fn uploads_drop_setuid_setgid_and_sticky() {
        let tmp = TempDir::new("special");
        let src = make_tree(tmp.path());
        mkdir(&src.join("sticky"), 0o1777);
        // The upload's modes, as `default_upload_tar_writer` sets them.
        let mut out = Vec::new();
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out));
        write_upload_tar(&LocalFileSystem, &src, "/opt/app/src", &mut w).unwrap();
        drop(w);
        let modes: Vec<(String, u32)> = list(&out)
            .into_iter()
            .map(|l| (l.0, l.2))
            .filter(|(n, _)| n.contains("set") || n.contains("sticky"))
            .collect();
        assert_eq!(
            modes,
            [
                ("src/setgid".to_string(), 0o777),
                ("src/setuid".to_string(), 0o666),
                ("src/sticky".to_string(), 0o777),
            ]
        );
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
        let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut out)).keep_special_bits(true);
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
}
