//! A source directory that is a git repository, taken as the reference takes it: unless
//! `--copy`, the build reads a clone of the repository at `HEAD` (or at `--ref`), so what is
//! not committed stays out, and the image's labels tell the commit
//! (`io.openshift.s2i.build.commit.id`, `.author`, `.date`, `.ref`, `.message`, and the
//! clone's origin as `source-location`).
//!
//! As in the reference, a repository is a directory whose `.git` (a directory, or a file that
//! points to one) holds some object or ref, on a machine with `git` on its `PATH`; anything
//! else is copied as it is. The clone is made with the `git` command (`git clone`, `git
//! checkout`, `git submodule update --init --recursive` unless `--ignore-submodules`) into a
//! temporary directory, removed when the build ends.
//!
//! A source may also be a remote repository, as the reference takes it: a `git://`,
//! `http://`, `https://` or `ssh://` URL, or `[user@]host:path` (ssh's short form), with an
//! optional `#REF` (which `--ref` overrides). Its clone is made the same way. A password in
//! such a URL is never shown: not in the progress, the errors, or the image's labels.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use s2i_docker::{Error, ErrorCode, Result};

use crate::temp::TempDir;

/// What the image's labels say of its sources (the reference's `SourceInfo`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceInfo {
    /// Where the sources came from: the clone's origin, or the directory copied.
    pub location: String,
    /// The ref checked out (`git rev-parse --abbrev-ref HEAD`).
    pub reference: String,
    pub commit_id: String,
    pub author_name: String,
    pub author_email: String,
    /// The author date, as `git show` writes it by default.
    pub date: String,
    /// The subject, cut to 80 columns as the reference cuts it.
    pub message: String,
    /// `--context-dir`.
    pub context_dir: String,
}

impl SourceInfo {
    /// The labels of the new image that come from the sources, with the reference's names;
    /// empty values give no label.
    pub fn labels(&self) -> Vec<(String, String)> {
        let author = match self.author_name.is_empty() {
            true => String::new(),
            false => format!("{} <{}>", self.author_name, self.author_email),
        };
        [
            ("commit.author", author.as_str()),
            ("commit.date", &self.date),
            ("commit.id", &self.commit_id),
            ("commit.ref", &self.reference),
            ("commit.message", &self.message),
            ("source-location", &self.location),
            ("source-context-dir", &self.context_dir),
        ]
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| (format!("io.openshift.s2i.build.{k}"), v.to_string()))
        .collect()
    }
}

/// Whether the reference would clone `dir` rather than copy it.
pub fn is_repository(dir: &Path) -> bool {
    let Some(git_dir) = git_dir(dir) else {
        return false;
    };
    let used = ["objects", "refs"]
        .iter()
        .any(|sub| holds_a_file(&git_dir.join(sub)));
    used && has_git()
}

/// `dir/.git`, or the directory a `.git` file points to (`gitdir: ...`, as in submodules and
/// worktrees).
fn git_dir(dir: &Path) -> Option<PathBuf> {
    let dot_git = dir.join(".git");
    let meta = std::fs::metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let target = text.strip_prefix("gitdir:")?.trim();
    Some(dir.join(target))
}

/// Whether a file is anywhere under `dir` (an unused repository holds directories only).
fn holds_a_file(dir: &Path) -> bool {
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            match entry.file_type() {
                Ok(t) if t.is_dir() => pending.push(entry.path()),
                Ok(_) => return true,
                Err(_) => {}
            }
        }
    }
    false
}

fn has_git() -> bool {
    Command::new("git")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// A remote repository to clone: its URL and the ref its `#` names (empty for none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub url: String,
    pub reference: String,
}

/// The remote repository `source` names, or `None` for a local path (a `file://` URL
/// included).
///
/// # Errors
/// A URL of another scheme (`ftp://`), which no clone can read.
pub fn remote(source: &str) -> Result<Option<Remote>> {
    match source.split_once("://") {
        Some(("file", _)) => return Ok(None),
        Some(("git" | "http" | "https" | "ssh", rest)) if !rest.is_empty() => {}
        Some((scheme, _)) => {
            return Err(Error::s2i(
                ErrorCode::SourcePath,
                format!(
                    "unsupported protocol specified: {scheme:?} in {}",
                    shown(source)
                ),
                "give a git://, http://, https:// or ssh:// URL, or a local directory",
                None,
            ))
        }
        // `host:path` or `user@host:path`, when no such local path exists.
        None if !is_scp_like(source) || Path::new(source).exists() => return Ok(None),
        None => {}
    }
    let (url, reference) = match source.rsplit_once('#') {
        Some((url, reference)) => (url, reference),
        None => (source, ""),
    };
    Ok(Some(Remote {
        url: url.to_string(),
        reference: reference.to_string(),
    }))
}

/// Whether `source` reads as ssh's `[user@]host:path`: a host (a name, an address, or an IPv6
/// address in brackets) before the first colon, no slash before it, and a path after it.
fn is_scp_like(source: &str) -> bool {
    let after_user = source.split_once('@').map_or(source, |(_, rest)| rest);
    let (host, path) = match after_user.strip_prefix('[') {
        Some(v6) => match v6.split_once("]:") {
            Some((address, path)) => (address, path),
            None => return false,
        },
        None => match after_user.split_once(':') {
            Some(parts) => parts,
            None => return false,
        },
    };
    let host_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':');
    // A second colon (`ext::command`) names one of git's own transports, not a path.
    !host.is_empty()
        && host.chars().all(host_char)
        && !path.is_empty()
        && !path.starts_with(':')
        && !source[..source.len() - path.len()].contains('/')
}

/// `url` without the password it may hold (`https://user:secret@host/x` is shown as
/// `https://user:***@host/x`).
pub fn shown(url: &str) -> String {
    match password(url) {
        Some(secret) => url.replacen(&format!(":{secret}@"), ":***@", 1),
        None => url.to_string(),
    }
}

/// The password in a URL's `scheme://user:password@host` part.
fn password(url: &str) -> Option<&str> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (userinfo, _) = authority.rsplit_once('@')?;
    let (_, secret) = userinfo.split_once(':')?;
    (!secret.is_empty()).then_some(secret)
}

/// A clone of the sources in a temporary directory, removed when dropped.
pub struct Clone {
    root: TempDir,
    /// The clone's work tree.
    pub path: PathBuf,
    pub info: SourceInfo,
}

/// Clones the repository `dir` (which [`is_repository`] found, `git` included) at `reference`
/// (`HEAD` when empty), as the reference does.
///
/// # Errors
/// A `git` command failed (its standard error is in the message), the ref starts with `-`, or
/// the temporary directory could not be made.
pub fn clone(dir: &Path, reference: &str, submodules: bool) -> Result<Clone> {
    fetch(&format!("file://{}", dir.display()), reference, submodules)
}

/// Clones the repository at `url` at `reference` (`HEAD` when empty), as the reference does.
///
/// # Errors
/// `git` is missing or failed (its standard error is in the message, without the URL's
/// password), the ref starts with `-`, or the temporary directory could not be made.
pub fn clone_url(url: &str, reference: &str, submodules: bool) -> Result<Clone> {
    if !has_git() {
        return Err(Error::s2i(
            ErrorCode::SourcePath,
            format!("cannot clone {}: git is not on the PATH", shown(url)),
            "install git, or clone the repository and pass its directory",
            None,
        ));
    }
    fetch(url, reference, submodules)
}

/// The clone of [`clone`] and [`clone_url`], `git` being there.
fn fetch(url: &str, reference: &str, submodules: bool) -> Result<Clone> {
    if reference.starts_with('-') {
        // git would read it as an option; no ref starts so.
        return Err(Error::s2i(
            ErrorCode::SourcePath,
            format!("invalid ref {reference:?}: a ref does not start with '-'"),
            "give a branch, tag or commit as --ref (or after the URL's #)",
            None,
        ));
    }
    let root = TempDir::new("source")?;
    let mut clone = Clone {
        path: root.path().join("src"),
        root,
        info: SourceInfo::default(),
    };
    let reference = if reference.is_empty() {
        "HEAD"
    } else {
        reference
    };
    crate::progress::detail(1, format!("Downloading {:?} ...", shown(url)));
    let target = clone.path.to_string_lossy().into_owned();
    // git may quote the URL: its password goes, as `shown` leaves it out.
    git(clone.root.path(), &["clone", "--quiet", "--", url, &target]).map_err(
        |e| match password(url) {
            Some(secret) => Error::other(e.to_string().replace(secret, "***")),
            None => e,
        },
    )?;
    git(&clone.path, &["checkout", "--quiet", reference])?;
    crate::progress::detail(1, format!("Checked out {reference:?}"));
    if submodules {
        git(
            &clone.path,
            &["submodule", "update", "--init", "--recursive"],
        )?;
        crate::progress::detail(1, format!("Updated submodules for {reference:?}"));
    }
    clone.info = info(&clone.path);
    Ok(clone)
}

/// The commit checked out in `repo`; a value `git` cannot tell is empty, as in the reference.
fn info(repo: &Path) -> SourceInfo {
    let text = |args: &[&str]| git(repo, args).unwrap_or_default();
    let commit = text(&[
        "--no-pager",
        "show",
        "-s",
        "--format=%H%n%an%n%ae%n%ad%n%<(80,trunc)%s",
        "HEAD",
    ]);
    let mut lines = commit.lines().map(str::trim);
    let mut next = || lines.next().unwrap_or_default().to_string();
    SourceInfo {
        location: shown(&text(&["config", "--get", "remote.origin.url"])),
        reference: text(&["rev-parse", "--abbrev-ref", "HEAD"]),
        commit_id: next(),
        author_name: next(),
        author_email: next(),
        date: next(),
        message: next(),
        context_dir: String::new(),
    }
}

/// Runs `git args` in `dir`; its standard output, trimmed.
fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::other(format!("cannot run git {}: {e}", args.join(" "))))?;
    if !out.status.success() {
        return Err(Error::other(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository with a commit on `main`, a branch `v1` with another file, and a change
    /// left uncommitted; removed when dropped.
    struct Repo(TempDir);

    fn repo() -> Repo {
        let tmp = TempDir::new("test-repo").unwrap();
        let dir = tmp.path();
        let run = |args: &[&str]| {
            let mut all = vec![
                "-c",
                "user.name=A Author",
                "-c",
                "user.email=a@example.com",
                "-c",
                "init.defaultBranch=main",
            ];
            all.extend_from_slice(args);
            git(dir, &all).unwrap();
        };
        run(&["init", "--quiet"]);
        std::fs::write(dir.join("app.txt"), "committed").unwrap();
        run(&["add", "app.txt"]);
        run(&["commit", "--quiet", "-m", "the first commit"]);
        run(&["checkout", "--quiet", "-b", "v1"]);
        std::fs::write(dir.join("v1.txt"), "on v1").unwrap();
        run(&["add", "v1.txt"]);
        run(&["commit", "--quiet", "-m", &"long subject ".repeat(10)]);
        run(&["checkout", "--quiet", "main"]);
        std::fs::write(dir.join("app.txt"), "changed, not committed").unwrap();
        Repo(tmp)
    }

    #[test]
    fn a_clone_holds_what_is_committed_and_tells_the_commit() {
        let repo = repo();
        assert!(is_repository(repo.0.path()));
        let c = clone(repo.0.path(), "", true).unwrap();
        assert_eq!(
            std::fs::read_to_string(c.path.join("app.txt")).unwrap(),
            "committed"
        );
        assert!(!c.path.join("v1.txt").exists());
        let i = &c.info;
        assert_eq!(i.location, format!("file://{}", repo.0.path().display()));
        assert_eq!(i.reference, "main");
        assert_eq!(
            i.commit_id,
            git(repo.0.path(), &["rev-parse", "main"]).unwrap()
        );
        assert_eq!(
            (i.author_name.as_str(), i.author_email.as_str()),
            ("A Author", "a@example.com")
        );
        assert_eq!(i.message, "the first commit");
        assert!(!i.date.is_empty());
        let labels = i.labels();
        assert!(labels.contains(&(
            "io.openshift.s2i.build.commit.author".into(),
            "A Author <a@example.com>".into()
        )));
        assert!(labels
            .iter()
            .all(|(k, _)| k != "io.openshift.s2i.build.source-context-dir"));

        // `--ref v1`: the branch, whose subject is cut to 80 columns as `%<(80,trunc)` cuts it.
        let v1 = clone(repo.0.path(), "v1", false).unwrap();
        assert!(v1.path.join("v1.txt").exists());
        assert_eq!(v1.info.message.chars().count(), 80);
        assert!(v1.info.message.ends_with(".."), "{}", v1.info.message);
        // git makes the local branch of the remote one checked out.
        assert_eq!(v1.info.reference, "v1");

        let root = c.root.path().to_path_buf();
        drop(c);
        assert!(!root.exists(), "the clone is removed");
    }

    #[test]
    fn what_is_not_a_used_repository_is_copied() {
        let dir = TempDir::new("test-repo").unwrap();
        assert!(!is_repository(dir.path()));
        git(dir.path(), &["init", "--quiet"]).unwrap();
        assert!(!is_repository(dir.path()), "no commit yet");
        let e = match clone(Path::new("/no/such/repository"), "", false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("cloned nothing"),
        };
        assert!(
            e.starts_with("git clone --quiet -- file:///no/such/repository"),
            "{e}"
        );
    }

    #[test]
    fn remote_sources_are_told_from_local_paths() {
        let r = |s: &str| remote(s).unwrap();
        let at = |url: &str, reference: &str| {
            Some(Remote {
                url: url.into(),
                reference: reference.into(),
            })
        };
        assert_eq!(
            r("https://github.com/x/y"),
            at("https://github.com/x/y", "")
        );
        assert_eq!(r("https://h/x/y.git#v1.2"), at("https://h/x/y.git", "v1.2"));
        assert_eq!(
            r("git://127.0.0.1:9418/app"),
            at("git://127.0.0.1:9418/app", "")
        );
        assert_eq!(r("ssh://git@h:22/x"), at("ssh://git@h:22/x", ""));
        assert_eq!(
            r("git@github.com:x/y.git"),
            at("git@github.com:x/y.git", "")
        );
        assert_eq!(r("host:repo#main"), at("host:repo", "main"));
        assert_eq!(r("[fd00::1]:x/y"), at("[fd00::1]:x/y", ""));
        for local in [
            "app",
            "./a:b",
            "/srv/app",
            "file:///srv/app",
            "a/b:c",
            "x:",
            ":x",
            ".",
        ] {
            assert_eq!(r(local), None, "{local}");
        }
        let e = remote("ftp://u:secret@h/x").unwrap_err();
        assert!(
            e.to_string()
                .contains("unsupported protocol specified: \"ftp\""),
            "{e}"
        );
        assert!(!e.to_string().contains("secret"), "{e}");
        let e = match clone_url("git://h/x", "-f", false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("cloned from nowhere"),
        };
        assert!(e.contains("invalid ref \"-f\""), "{e}");
    }

    #[test]
    fn passwords_are_not_shown() {
        assert_eq!(shown("https://u:tok@h/x"), "https://u:***@h/x");
        assert_eq!(shown("https://u@h/x"), "https://u@h/x");
        assert_eq!(shown("git@h:x/y"), "git@h:x/y");
        assert_eq!(shown("https://h/x@y:z"), "https://h/x@y:z");
        // The clone's errors leave it out too.
        let e = match clone_url("http://u:s3cret@127.0.0.1:1/x", "", false) {
            Err(e) => e.to_string(),
            Ok(_) => panic!("cloned from nowhere"),
        };
        assert!(!e.contains("s3cret") && e.contains("u:***@"), "{e}");
    }

    #[test]
    fn labels_leave_out_what_is_empty() {
        let info = SourceInfo {
            location: "/src".into(),
            context_dir: "app".into(),
            ..SourceInfo::default()
        };
        assert_eq!(
            info.labels(),
            [
                (
                    "io.openshift.s2i.build.source-location".to_string(),
                    "/src".to_string()
                ),
                (
                    "io.openshift.s2i.build.source-context-dir".to_string(),
                    "app".to_string()
                ),
            ]
        );
    }
}
