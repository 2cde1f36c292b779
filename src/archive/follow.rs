//! [`LinkFollowingFileSystem`]: the local filesystem read through its symbolic links, as the
//! reference S2I copies local sources: a link to a file gives the file's content, a link to a
//! directory gives the directory with everything in it, wherever the target lives.
//!
//! A link is kept as a link, with a warning, where following it cannot give a file: a link that
//! points nowhere, and a link to a directory it is itself inside, the walk root's own directory
//! and the directories above it included (following it would never end, or send the whole tree
//! above). Uses only the rest of the archive.

use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::fs::{open_regular, walk_tree, DirId, Node};
use super::{FileInfo, FileSystem, LocalFileSystem, WalkStep};
use crate::error::Result;

/// The local filesystem, seen through symbolic links.
///
/// [`lstat`](FileSystem::lstat) and the walk report what a link points to, and
/// [`open`](FileSystem::open) reads it; a link that points nowhere or into a directory it is
/// inside stays a link (with a warning), so the walk always ends.
///
/// ```
/// use s2i_docker::archive::{FileKind, FileSystem, LinkFollowingFileSystem, WalkStep};
///
/// let src = std::env::temp_dir().join(format!("s2i-doc-follow-{}", std::process::id()));
/// std::fs::create_dir_all(&src)?;
/// std::fs::write(src.join("a.txt"), "a")?;
/// std::os::unix::fs::symlink("a.txt", src.join("b.txt"))?;
/// let mut kinds = Vec::new();
/// LinkFollowingFileSystem.walk(&src, &mut |path, info| {
///     kinds.push((path.strip_prefix(&src).unwrap().to_path_buf(), info.kind));
///     Ok(WalkStep::Continue)
/// })?;
/// assert_eq!(kinds[2], ("b.txt".into(), FileKind::File));
/// # std::fs::remove_dir_all(&src)?;
/// # Ok::<(), s2i_docker::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LinkFollowingFileSystem;

/// What an entry is once its links are followed, with its directory's identity; a link that
/// points nowhere or into `walking` (the directories the walk is inside) is the link itself.
fn resolve(path: &Path, walking: &[DirId]) -> io::Result<Node> {
    let link = std::fs::symlink_metadata(path)?;
    if !link.file_type().is_symlink() {
        let id = link.is_dir().then(|| (link.dev(), link.ino()));
        return Ok((FileInfo::from(&link), id));
    }
    let target = match std::fs::metadata(path) {
        Ok(target) => target,
        Err(e) => {
            log::warn!(
                "Keeping {} as a symbolic link: its target cannot be read ({e})",
                path.display()
            );
            return Ok((FileInfo::from(&link), None));
        }
    };
    if !target.is_dir() {
        return Ok((FileInfo::from(&target), None));
    }
    let id = (target.dev(), target.ino());
    if walking.contains(&id) {
        log::warn!(
            "Keeping {} as a symbolic link: it points to a directory it is inside",
            path.display()
        );
        return Ok((FileInfo::from(&link), None));
    }
    Ok((FileInfo::from(&target), Some(id)))
}

/// The identity of the directory `path`, if it is one.
fn dir_id(path: &Path) -> Option<DirId> {
    std::fs::metadata(path)
        .ok()
        .filter(Metadata::is_dir)
        .map(|m| (m.dev(), m.ino()))
}

impl FileSystem for LinkFollowingFileSystem {
    fn lstat(&self, path: &Path) -> io::Result<FileInfo> {
        resolve(path, &[]).map(|(info, _)| info)
    }

    fn read_dir(&self, path: &Path) -> io::Result<Vec<OsString>> {
        LocalFileSystem.read_dir(path)
    }

    fn read_link(&self, path: &Path) -> io::Result<PathBuf> {
        LocalFileSystem.read_link(path)
    }

    fn open(&self, path: &Path) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(open_regular(path, true)?))
    }

    fn open_file(&self, path: &Path) -> io::Result<Option<File>> {
        open_regular(path, true).map(Some)
    }

    /// The default walk's order, following links; a link back into a directory the entry is
    /// inside (the root's own and those above it included) stays a link.
    fn walk(
        &self,
        root: &Path,
        visit: &mut dyn FnMut(&Path, &FileInfo) -> Result<WalkStep>,
    ) -> Result<()> {
        // The directories above the root: a link to one of them holds the root too.
        let above: Vec<DirId> = std::fs::canonicalize(root)
            .map(|r| r.ancestors().skip(1).filter_map(dir_id).collect())
            .unwrap_or_default();
        walk_tree(self, root, above, &resolve, visit)
    }
}

#[cfg(test)]
mod tests {
    //! Links to files and directories give their content; links that point nowhere or into a
    //! directory they are inside stay links.

    use std::io::Read;
    use std::os::unix::fs::symlink;

    use super::*;
    use crate::archive::FileKind;

    /// Every entry the walk visits: its path below `root` and its kind.
    fn walked(root: &Path) -> Vec<(String, FileKind)> {
        let mut seen = Vec::new();
        LinkFollowingFileSystem
            .walk(root, &mut |path, info| {
                let rel = path.strip_prefix(root).unwrap().display().to_string();
                seen.push((rel, info.kind));
                Ok(WalkStep::Continue)
            })
            .unwrap();
        seen
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("s2i-follow-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn links_give_what_they_point_to() {
        let outside = temp_dir("outside");
        std::fs::write(outside.join("shared.conf"), "shared\n").unwrap();
        std::fs::create_dir(outside.join("lib")).unwrap();
        std::fs::write(outside.join("lib/x.txt"), "x").unwrap();
        let src = temp_dir("links");
        std::fs::write(src.join("a.txt"), "a").unwrap();
        symlink(outside.join("shared.conf"), src.join("conf")).unwrap();
        symlink(outside.join("lib"), src.join("lib")).unwrap();
        symlink("a.txt", src.join("b.txt")).unwrap();

        assert_eq!(
            walked(&src),
            [
                ("".to_string(), FileKind::Dir),
                ("a.txt".into(), FileKind::File),
                ("b.txt".into(), FileKind::File),
                ("conf".into(), FileKind::File),
                ("lib".into(), FileKind::Dir),
                ("lib/x.txt".into(), FileKind::File),
            ]
        );
        let mut content = String::new();
        LinkFollowingFileSystem
            .open(&src.join("conf"))
            .unwrap()
            .read_to_string(&mut content)
            .unwrap();
        assert_eq!(content, "shared\n");
        assert_eq!(
            LinkFollowingFileSystem
                .lstat(&src.join("conf"))
                .unwrap()
                .size,
            7
        );
        assert!(LinkFollowingFileSystem.open_file(&src.join("lib")).is_err());
        std::fs::remove_dir_all(&src).unwrap();
        std::fs::remove_dir_all(&outside).unwrap();
    }

    #[test]
    fn links_that_point_nowhere_or_around_stay_links() {
        let src = temp_dir("loops");
        std::fs::create_dir_all(src.join("d/e")).unwrap();
        symlink("missing", src.join("dangling")).unwrap();
        symlink("..", src.join("d/up")).unwrap();
        // Above the sources: the tree that holds them, and the root of all.
        symlink("..", src.join("parent")).unwrap();
        symlink("/", src.join("slash")).unwrap();
        symlink(&src, src.join("d/e/root")).unwrap();
        // Two directories that link to each other: each is entered once.
        std::fs::create_dir(src.join("p")).unwrap();
        std::fs::create_dir(src.join("q")).unwrap();
        symlink("../q", src.join("p/to-q")).unwrap();
        symlink("../p", src.join("q/to-p")).unwrap();

        assert_eq!(
            walked(&src),
            [
                ("".to_string(), FileKind::Dir),
                ("d".into(), FileKind::Dir),
                ("d/e".into(), FileKind::Dir),
                ("d/e/root".into(), FileKind::Symlink),
                ("d/up".into(), FileKind::Symlink),
                ("dangling".into(), FileKind::Symlink),
                ("p".into(), FileKind::Dir),
                ("p/to-q".into(), FileKind::Dir),
                ("p/to-q/to-p".into(), FileKind::Symlink),
                ("parent".into(), FileKind::Symlink),
                ("q".into(), FileKind::Dir),
                ("q/to-p".into(), FileKind::Dir),
                ("q/to-p/to-q".into(), FileKind::Symlink),
                ("slash".into(), FileKind::Symlink),
            ]
        );
        assert_eq!(
            LinkFollowingFileSystem
                .read_link(&src.join("dangling"))
                .unwrap(),
            Path::new("missing")
        );
        std::fs::remove_dir_all(&src).unwrap();
    }

    #[test]
    fn a_skipped_directory_is_not_entered() {
        let src = temp_dir("skip");
        std::fs::create_dir(src.join(".git")).unwrap();
        std::fs::write(src.join(".git/config"), "x").unwrap();
        let mut seen = Vec::new();
        LinkFollowingFileSystem
            .walk(&src, &mut |path, _| {
                seen.push(path.to_path_buf());
                let skip = path.ends_with(".git");
                Ok(if skip {
                    WalkStep::SkipDir
                } else {
                    WalkStep::Continue
                })
            })
            .unwrap();
        assert_eq!(seen, [src.clone(), src.join(".git")]);
        std::fs::remove_dir_all(&src).unwrap();
    }
}
