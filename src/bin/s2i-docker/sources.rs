//! The build's input: the source directory, the scripts it or `--scripts-url` brings, its
//! environment, and the tar streamed into `assemble`'s standard input.
//!
//! The tar holds what the reference's upload directory holds, in its order: `artifacts/...`
//! (of an incremental build), `scripts/...` (scripts from outside the image) and `src/...`
//! (the sources). It is produced while it is sent, so memory stays bounded whatever the size
//! of the sources; the artifacts come from a spool file on disk.

use std::ffi::OsString;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use s2i_docker::archive::{
    create_tar_stream_to_tar_writer, spawn_archive_stream, EntryKind, FileInfo, FileSystem,
    LinkFollowingFileSystem, LocalFileSystem, RenameAdapter, TarHeader, TarStream, TarWriter,
    WalkStep,
};
use s2i_docker::{Error, ErrorCode, Result};

use crate::ignore::Ignore;
use crate::regex::Regex;

/// The S2I scripts a build may need.
pub const SCRIPTS: &[&str] = &[
    "assemble",
    "run",
    "save-artifacts",
    "usage",
    "assemble-runtime",
];

/// The source directory, absolute (a local source: see `git::remote` for the others).
///
/// # Errors
/// A path that does not exist (the reference's `SourcePathError`, code 14), or one that is not
/// a directory.
pub fn source_dir(source: &str) -> Result<PathBuf> {
    let path = Path::new(source.strip_prefix("file://").unwrap_or(source));
    let dir = std::fs::canonicalize(path).map_err(|_| {
        Error::s2i(
            ErrorCode::SourcePath,
            format!(
                "Local filesystem source path does not exist: {}",
                path.display()
            ),
            "check the source code path on the local filesystem",
            None,
        )
    })?;
    if !dir.is_dir() {
        return Err(Error::s2i(
            ErrorCode::SourcePath,
            format!("the source is not a directory: {}", path.display()),
            "pass the directory that holds the application's sources",
            None,
        ));
    }
    Ok(dir)
}

/// The source as the reference names it in the image's labels when it copies it: absolute,
/// cleaned, links not resolved.
pub fn absolute(source: &str) -> String {
    let path = Path::new(source.strip_prefix("file://").unwrap_or(source));
    let joined = match std::env::current_dir() {
        Ok(cwd) if path.is_relative() => cwd.join(path),
        _ => path.to_path_buf(),
    };
    let cleaned = s2i_docker::archive::clean(joined.as_os_str().as_encoded_bytes());
    String::from_utf8_lossy(&cleaned).into_owned()
}

/// `--context-dir`: the directory inside the source that holds the application.
///
/// # Errors
/// It does not exist, or it is not inside the source.
pub fn context_dir(source: &Path, dir: &str) -> Result<PathBuf> {
    let joined = std::fs::canonicalize(source.join(dir.trim_start_matches('/')))
        .ok()
        .filter(|p| p.is_dir() && p.starts_with(source));
    joined.ok_or_else(|| {
        Error::s2i(
            ErrorCode::SourcePath,
            format!(
                "the context directory {dir:?} is not a directory inside {}",
                source.display()
            ),
            "give --context-dir as a directory relative to the source",
            None,
        )
    })
}

/// Where each script comes from when it is not in the image: `--scripts-url` as a local
/// directory first, then the sources' `.s2i/bin`, then their `.sti/bin`, the older name the
/// reference still reads (with a warning, as the reference's).
pub fn local_scripts(source: &Path, scripts_dir: Option<&Path>) -> Vec<(String, PathBuf)> {
    let deprecated = source.join(".sti/bin");
    let dirs = [
        scripts_dir.map(Path::to_path_buf),
        Some(source.join(".s2i/bin")),
        Some(deprecated.clone()),
    ];
    let found: Vec<_> = SCRIPTS
        .iter()
        .filter_map(|name| {
            dirs.iter()
                .flatten()
                .map(|d| d.join(name))
                .find(|p| p.is_file())
                .map(|p| (name.to_string(), p))
        })
        .collect();
    if found.iter().any(|(_, p)| p.starts_with(&deprecated)) {
        crate::progress::warn("DEPRECATED: Use .s2i/bin instead of .sti/bin");
    }
    found
}

/// `NAME=VALUE` lines of an environment file; blank lines and `#` comments are skipped.
///
/// # Errors
/// The file cannot be read, or a line is not `NAME=VALUE` (named with its number).
pub fn read_env_file(path: &Path) -> Result<Vec<String>> {
    let file = File::open(path).map_err(|e| {
        Error::other(format!(
            "cannot read the environment file {}: {e}",
            path.display()
        ))
    })?;
    let mut env = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(|e| Error::other(format!("{}: {e}", path.display())))?;
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((name, _)) if !name.trim().is_empty() => env.push(line.to_string()),
            _ => {
                return Err(Error::other(format!(
                    "{}:{}: {line:?} is not NAME=VALUE",
                    path.display(),
                    n + 1
                )))
            }
        }
    }
    Ok(env)
}

/// How the sources are walked: `--keep-symlinks`, `--exclude` and `.s2iignore`; and the names
/// at their top that the tar holds from elsewhere (an ONBUILD build's `Dockerfile` and scripts).
#[derive(Debug, Clone, Default)]
pub struct Walk {
    pub keep_symlinks: bool,
    pub exclude: Option<Arc<Regex>>,
    pub ignore: Option<Arc<Ignore>>,
    pub provided: Vec<String>,
}

impl Walk {
    /// Whether the entry at `relative` (in the sources, with `/`) is left out of the tar.
    pub fn leaves_out(&self, relative: &str) -> bool {
        self.drops(relative) || self.excludes(relative)
    }

    /// Whether the entry at `relative` is left out with all it holds: `.s2iignore` names it, or
    /// the tar holds that name from elsewhere.
    fn drops(&self, relative: &str) -> bool {
        self.ignore.as_ref().is_some_and(|i| i.is_ignored(relative))
            || self.provided.iter().any(|p| p == relative)
    }

    /// Whether `--exclude` leaves out the entry at `relative` itself (never the top); what a
    /// directory holds is matched in turn.
    fn excludes(&self, relative: &str) -> bool {
        !relative.is_empty() && self.exclude.as_ref().is_some_and(|e| e.is_match(relative))
    }
}

/// The sources with the entries `--exclude` and `.s2iignore` name left out: those whose path
/// relative to the sources' directory (with `/`) matches. An excluded directory's own entry is
/// left out and its entries are each matched in turn, as the reference matches them; an ignored
/// one is left out with all it holds, as the reference deletes it.
struct Filtered<'a> {
    inner: &'a dyn FileSystem,
    walk: &'a Walk,
}

impl FileSystem for Filtered<'_> {
    fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
        self.inner.lstat(path)
    }
    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        self.inner.read_dir(path)
    }
    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        self.inner.read_link(path)
    }
    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>> {
        self.inner.open(path)
    }
    fn open_file(&self, path: &Path) -> io::Result<Option<File>> {
        self.inner.open_file(path)
    }
    fn walk(
        &self,
        root: &Path,
        visit: &mut dyn FnMut(&Path, &FileInfo) -> Result<WalkStep>,
    ) -> Result<()> {
        self.inner.walk(root, &mut |path, info| {
            let relative = path.strip_prefix(root).unwrap_or(path).to_string_lossy();
            if self.walk.drops(&relative) {
                log::debug!("Leaving out {relative:?}");
                return Ok(WalkStep::SkipDir);
            }
            if self.walk.excludes(&relative) {
                log::debug!("Excluding {relative} (--exclude)");
                return Ok(WalkStep::Continue);
            }
            visit(path, info)
        })
    }
}

/// The tar of `assemble`'s standard input, produced on a thread while it is read.
///
/// The sources are read through their symbolic links (see [`LinkFollowingFileSystem`]) unless
/// `walk.keep_symlinks`, as the reference copies them, without what `walk.exclude` and
/// `walk.ignore` name. The content of the sources and the scripts is not copied through the
/// producer: the reader of the stream (the copy into the container's standard input) reads each
/// file straight into the buffer it writes.
pub fn input_tar(
    source: PathBuf,
    scripts: Vec<(String, PathBuf)>,
    artifacts: Option<File>,
    walk: Walk,
) -> TarStream {
    sources_tar(source, None, scripts, artifacts, walk)
}

/// The context of a layered build (see `layered`), produced on a thread while it is read:
/// `Dockerfile` first, then `scripts/` and `src/` as in [`input_tar`].
pub fn layered_context(
    source: PathBuf,
    dockerfile: String,
    scripts: Vec<(String, PathBuf)>,
    walk: Walk,
) -> TarStream {
    sources_tar(source, Some(dockerfile), scripts, None, walk)
}

/// [`input_tar`], with a `Dockerfile` at its head when one is given.
fn sources_tar(
    source: PathBuf,
    dockerfile: Option<String>,
    scripts: Vec<(String, PathBuf)>,
    artifacts: Option<File>,
    walk: Walk,
) -> TarStream {
    spawn_archive_stream(move |mut writer| {
        writer.sub_second_mtime(false);
        if let Some(text) = &dockerfile {
            add_dockerfile(&mut writer, text)?;
        }
        if let Some(spool) = artifacts {
            copy_artifacts(spool, &mut writer)?;
        }
        for (name, path) in &scripts {
            add_script(&mut writer, &format!("scripts/{name}"), path)?;
        }
        let base = source
            .file_name()
            .map(|b| b.to_os_string())
            .unwrap_or_default();
        let mut renamed = RenameAdapter::new(&mut writer, base, "src");
        let mut fs: &dyn FileSystem = if walk.keep_symlinks {
            &LocalFileSystem
        } else {
            &LinkFollowingFileSystem
        };
        let filtered;
        if walk.exclude.is_some() || walk.ignore.is_some() || !walk.provided.is_empty() {
            filtered = Filtered {
                inner: fs,
                walk: &walk,
            };
            fs = &filtered;
        }
        create_tar_stream_to_tar_writer(fs, &source, true, &mut renamed)?;
        writer.finish()
    })
}

/// The context of an ONBUILD build (see `onbuild`), produced on a thread while it is read:
/// `Dockerfile` first (the engine's client reads it from the head of the context), then the
/// `scripts` (executable) and the sources, all at the top; the sources' own entries of those
/// names are left out.
pub fn onbuild_context(
    source: PathBuf,
    dockerfile: String,
    scripts: Vec<(String, PathBuf)>,
    mut walk: Walk,
) -> TarStream {
    walk.provided = ["Dockerfile".to_string()]
        .into_iter()
        .chain(scripts.iter().map(|(name, _)| name.clone()))
        .collect();
    spawn_archive_stream(move |mut writer| {
        writer.sub_second_mtime(false);
        add_dockerfile(&mut writer, &dockerfile)?;
        for (name, path) in &scripts {
            add_script(&mut writer, name, path)?;
        }
        let fs: &dyn FileSystem = if walk.keep_symlinks {
            &LocalFileSystem
        } else {
            &LinkFollowingFileSystem
        };
        let filtered = Filtered {
            inner: fs,
            walk: &walk,
        };
        create_tar_stream_to_tar_writer(&filtered, &source, false, &mut writer)?;
        writer.finish()
    })
}

/// Writes `Dockerfile`, whose text is `text`.
fn add_dockerfile(writer: &mut dyn TarWriter, text: &str) -> Result<()> {
    writer.write_header(TarHeader {
        name: PathBuf::from("Dockerfile"),
        kind: EntryKind::File,
        mode: 0o644,
        uid: 0,
        gid: 0,
        size: text.len() as u64,
        mtime: std::time::SystemTime::now(),
        link_name: PathBuf::new(),
    })?;
    writer.write_data(text.as_bytes())
}

/// Writes the script `name` (`scripts/NAME` in the input tar), executable, whatever its mode on
/// the host.
fn add_script(writer: &mut dyn TarWriter, name: &str, path: &Path) -> Result<()> {
    let cannot =
        |e: io::Error| Error::other(format!("cannot read the script {}: {e}", path.display()));
    let file = File::open(path).map_err(cannot)?;
    let meta = file.metadata().map_err(cannot)?;
    writer.write_header(TarHeader {
        name: PathBuf::from(name),
        kind: EntryKind::File,
        mode: 0o755,
        uid: 0,
        gid: 0,
        size: meta.len(),
        mtime: meta.modified().unwrap_or(UNIX_EPOCH),
        link_name: PathBuf::new(),
    })?;
    writer.write_file(file, meta.len(), path)
}

/// A name inside the artifacts tar, made safe: relative, no `..`, no `.` parts.
fn artifact_name(path: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::from("artifacts");
    for c in path.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Checks the spooled artifacts tar from `save-artifacts` and rewinds it; returns how many
/// entries it holds.
///
/// # Errors
/// The output is not a tar.
pub fn check_artifacts(spool: &mut File) -> io::Result<usize> {
    spool.seek(SeekFrom::Start(0))?;
    let mut count = 0;
    for entry in tar::Archive::new(&mut *spool).entries()? {
        entry?;
        count += 1;
    }
    spool.seek(SeekFrom::Start(0))?;
    Ok(count)
}

/// Copies the entries of the artifacts tar under `artifacts/`.
fn copy_artifacts(spool: File, writer: &mut dyn TarWriter) -> Result<()> {
    let mut archive = tar::Archive::new(spool);
    let mut buf = vec![0u8; 64 * 1024];
    for entry in archive.entries()? {
        let mut entry = entry?;
        let h = entry.header();
        let kind = match h.entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File,
            tar::EntryType::Directory => EntryKind::Dir,
            tar::EntryType::Symlink => EntryKind::Symlink,
            _ => continue,
        };
        let Some(name) = artifact_name(&entry.path()?) else {
            log::warn!(
                "Ignoring artifact {:?}: its path leaves the artifacts directory",
                entry.path()?
            );
            continue;
        };
        let header = TarHeader {
            name,
            kind,
            mode: h.mode()? & 0o7777,
            uid: h.uid().unwrap_or(0),
            gid: h.gid().unwrap_or(0),
            size: if kind == EntryKind::File {
                entry.size()
            } else {
                0
            },
            mtime: UNIX_EPOCH + Duration::from_secs(h.mtime().unwrap_or(0)),
            link_name: entry
                .link_name()?
                .map(|l| l.into_owned())
                .unwrap_or_default(),
        };
        writer.write_header(header)?;
        if kind == EntryKind::File {
            loop {
                let n = io::Read::read(&mut entry, &mut buf)?;
                if n == 0 {
                    break;
                }
                writer.write_data(&buf[..n])?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_labels_name_the_source_absolute_and_clean() {
        assert_eq!(absolute("/a/./b/../c/"), "/a/c");
        assert_eq!(absolute("file:///a/b"), "/a/b");
        let cwd = std::env::current_dir().unwrap();
        assert_eq!(absolute("x/./y"), format!("{}/x/y", cwd.display()));
    }

    #[test]
    fn missing_paths_say_what_to_do() {
        let e = source_dir("/nonexistent/app").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Local filesystem source path does not exist: /nonexistent/app"
        );
        assert_eq!(e.code(), Some(ErrorCode::SourcePath));
    }

    #[test]
    fn the_context_dir_stays_inside_the_source() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-context-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("app/web")).unwrap();
        let source = std::fs::canonicalize(dir.join("app")).unwrap();
        assert_eq!(context_dir(&source, "web").unwrap(), source.join("web"));
        assert_eq!(context_dir(&source, "/web/").unwrap(), source.join("web"));
        assert!(context_dir(&source, "..").is_err());
        assert!(context_dir(&source, "missing").is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn artifact_names_stay_inside() {
        assert_eq!(
            artifact_name(Path::new("./a/b")),
            Some(PathBuf::from("artifacts/a/b"))
        );
        assert_eq!(
            artifact_name(Path::new("/a")),
            Some(PathBuf::from("artifacts/a"))
        );
        assert_eq!(artifact_name(Path::new("a/../../b")), None);
    }

    #[test]
    fn scripts_come_from_the_flag_then_s2i_bin_then_sti_bin() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-scripts-{}", std::process::id()));
        for path in [
            "flag/run",
            "app/.s2i/bin/assemble",
            "app/.s2i/bin/run",
            "app/.sti/bin/assemble",
            "app/.sti/bin/save-artifacts",
        ] {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "#!/bin/sh\n").unwrap();
        }
        let found = local_scripts(&dir.join("app"), Some(&dir.join("flag")));
        let from = |name: &str| {
            found
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, p)| p.strip_prefix(&dir).unwrap().display().to_string())
        };
        assert_eq!(from("run").as_deref(), Some("flag/run"));
        assert_eq!(from("assemble").as_deref(), Some("app/.s2i/bin/assemble"));
        assert_eq!(
            from("save-artifacts").as_deref(),
            Some("app/.sti/bin/save-artifacts")
        );
        assert_eq!(from("usage"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_input_tar_holds_artifacts_scripts_and_sources() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-input-{}", std::process::id()));
        let app = dir.join("app");
        std::fs::create_dir_all(app.join(".s2i/bin")).unwrap();
        std::fs::write(app.join("hello.txt"), "hi").unwrap();
        // Large enough for the reader of the stream to read it itself.
        let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(app.join("big"), &big).unwrap();
        std::fs::write(app.join(".s2i/bin/assemble"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.join("env"), "# comment\nA=1\n\nB=x=y\n").unwrap();
        let mut spool_tar = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        spool_tar
            .append_data(&mut h, "./cache/x", &b"abc"[..])
            .unwrap();
        std::fs::write(dir.join("spool"), spool_tar.into_inner().unwrap()).unwrap();
        let mut spool = File::open(dir.join("spool")).unwrap();
        assert_eq!(check_artifacts(&mut spool).unwrap(), 1);

        let scripts = local_scripts(&app, None);
        assert_eq!(scripts.len(), 1);
        let mut bytes = Vec::new();
        input_tar(app.clone(), scripts, Some(spool), Walk::default())
            .read_to_end(&mut bytes)
            .unwrap();
        let entries: Vec<(String, u32, Vec<u8>)> = tar::Archive::new(&bytes[..])
            .entries()
            .unwrap()
            .map(|e| {
                let mut e = e.unwrap();
                let name = e.path().unwrap().display().to_string();
                let mode = e.header().mode().unwrap();
                let mut content = Vec::new();
                e.read_to_end(&mut content).unwrap();
                (name, mode, content)
            })
            .collect();
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "artifacts/cache/x",
                "scripts/assemble",
                "src/.s2i",
                "src/.s2i/bin",
                "src/.s2i/bin/assemble",
                "src/big",
                "src/hello.txt"
            ]
        );
        assert_eq!(entries[0].2, b"abc");
        assert_eq!(
            (entries[1].1, &entries[1].2[..]),
            (0o755, &b"#!/bin/sh\n"[..])
        );
        assert!(entries[5].2 == big);
        assert_eq!(entries[6].2, b"hi");
        // A script that cannot be read fails the stream, naming it.
        let missing = vec![("run".to_string(), dir.join("missing"))];
        let e = input_tar(app.clone(), missing, None, Walk::default())
            .read_to_end(&mut Vec::new())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("cannot read the script") && e.contains("missing"),
            "{e}"
        );
        assert_eq!(read_env_file(&dir.join("env")).unwrap(), ["A=1", "B=x=y"]);
        std::fs::write(dir.join("env"), "oops\n").unwrap();
        assert!(read_env_file(&dir.join("env"))
            .unwrap_err()
            .to_string()
            .contains(":1:"));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn symbolic_links_are_followed_unless_kept() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-links-{}", std::process::id()));
        let app = dir.join("app");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(dir.join("shared.conf"), "shared").unwrap();
        std::os::unix::fs::symlink(dir.join("shared.conf"), app.join("app.conf")).unwrap();
        let entries = |keep| {
            let mut bytes = Vec::new();
            let walk = Walk {
                keep_symlinks: keep,
                ..Walk::default()
            };
            input_tar(app.clone(), Vec::new(), None, walk)
                .read_to_end(&mut bytes)
                .unwrap();
            tar::Archive::new(&bytes[..])
                .entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let link = e.link_name().unwrap().map(|l| l.display().to_string());
                    let mut content = String::new();
                    e.read_to_string(&mut content).unwrap();
                    (e.path().unwrap().display().to_string(), link, content)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            entries(false),
            [("src/app.conf".to_string(), None, "shared".to_string())]
        );
        let target = dir.join("shared.conf").display().to_string();
        assert_eq!(
            entries(true),
            [("src/app.conf".to_string(), Some(target), String::new())]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn excluded_entries_are_left_out_one_by_one() {
        let dir = std::env::temp_dir().join(format!("s2i-cli-exclude-{}", std::process::id()));
        let app = dir.join("app");
        for (name, content) in [
            ("keep.txt", "k"),
            ("logs/a.log", "a"),
            ("logs/b.txt", "b"),
            ("x.log/inner.txt", "i"),
        ] {
            std::fs::create_dir_all(app.join(name).parent().unwrap()).unwrap();
            std::fs::write(app.join(name), content).unwrap();
        }
        let listed = |walk: Walk| {
            let mut bytes = Vec::new();
            input_tar(app.clone(), Vec::new(), None, walk)
                .read_to_end(&mut bytes)
                .unwrap();
            let mut names: Vec<String> = tar::Archive::new(&bytes[..])
                .entries()
                .unwrap()
                .map(|e| e.unwrap().path().unwrap().display().to_string())
                .collect();
            names.sort();
            names
        };
        let names = |pattern: &str| {
            listed(Walk {
                exclude: Some(Arc::new(Regex::new(pattern).unwrap())),
                ..Walk::default()
            })
        };
        // The directory `x.log` is left out, not what is in it (as the reference walks).
        assert_eq!(
            names(r"\.log$"),
            [
                "src/keep.txt",
                "src/logs",
                "src/logs/b.txt",
                "src/x.log/inner.txt"
            ]
        );
        assert_eq!(
            names("(^|/)logs(/|$)"),
            ["src/keep.txt", "src/x.log", "src/x.log/inner.txt"]
        );
        // `.s2iignore` leaves out a directory with all it holds; with `--exclude` too.
        std::fs::write(app.join(".s2iignore"), "*.log\n.s2iignore\n").unwrap();
        let ignore = Some(Arc::new(Ignore::read(&app).unwrap().unwrap()));
        assert_eq!(
            listed(Walk {
                ignore: ignore.clone(),
                ..Walk::default()
            }),
            [
                "src/keep.txt",
                "src/logs",
                "src/logs/a.log",
                "src/logs/b.txt"
            ]
        );
        assert_eq!(
            listed(Walk {
                ignore,
                exclude: Some(Arc::new(Regex::new(r"\.txt$").unwrap())),
                ..Walk::default()
            }),
            ["src/logs", "src/logs/a.log"]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
