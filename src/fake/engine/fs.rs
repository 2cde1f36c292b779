//! A container's (or an image's) tiny filesystem: a sorted map from absolute paths to entries,
//! with a minimal tar reader and writer (the `tar` crate) so that `PUT` and `GET` on
//! `/containers/{id}/archive` round-trip, and the path stat that the daemon sends in
//! `X-Docker-Container-Path-Stat`.
//!
//! It uses the `tar` crate and `clock`, not the crate's own `archive`: the fake checks what
//! the client's archives contain rather than sharing their code.

use std::collections::BTreeMap;
use std::io::Read;

use base64::Engine as _;

use super::clock;

/// What a path holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A regular file and its bytes.
    File(Vec<u8>),
    /// A directory.
    Dir,
    /// A symbolic link and its target, as written.
    Symlink(String),
}

/// One filesystem entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Permission bits with setuid, setgid and sticky (`0o7777`).
    pub(crate) mode: u32,
    /// What it is.
    pub(crate) kind: Kind,
    /// Modification time, seconds since the epoch.
    pub(crate) mtime: u64,
}

/// The modification time of seeded entries: fixed, so archives of seeded files are reproducible.
pub(crate) const SEED_MTIME: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z

/// An in-memory filesystem. Keys are normalised absolute paths (`/`, `/tmp`, `/tmp/a.txt`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Fs {
    entries: BTreeMap<String, Entry>,
}

/// `a/./b//../c/` relative to `base` → `/a/c`; `..` never climbs above `/`.
pub(crate) fn normalize(base: &str, path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    let joined = if path.starts_with('/') {
        path.to_string()
    } else {
        format!("{base}/{path}")
    };
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn parent(path: &str) -> Option<&str> {
    if path == "/" {
        return None;
    }
    match path.rfind('/') {
        Some(0) => Some("/"),
        Some(i) => Some(&path[..i]),
        None => None,
    }
}

fn basename(path: &str) -> &str {
    if path == "/" {
        return "/";
    }
    path.rsplit('/').next().unwrap_or(path)
}

/// Whether `path` is `dir` itself or lies below it.
pub(crate) fn is_within(path: &str, dir: &str) -> bool {
    dir == "/" || path == dir || path.strip_prefix(dir).is_some_and(|r| r.starts_with('/'))
}

/// The decoded `X-Docker-Container-Path-Stat` of a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stat {
    pub(crate) name: String,
    pub(crate) size: u64,
    /// Go `os.FileMode` bits: type bits high, permissions low.
    pub(crate) mode: u32,
    pub(crate) mtime: u64,
    pub(crate) link_target: String,
}

impl Stat {
    /// The header value: base64 (standard alphabet) of the JSON the daemon sends, in its field
    /// order.
    pub(crate) fn header_value(&self) -> String {
        let json = format!(
            "{{\"name\":{},\"size\":{},\"mode\":{},\"mtime\":{},\"linkTarget\":{}}}",
            json_string(&self.name),
            self.size,
            self.mode,
            json_string(&clock::rfc3339(self.mtime, 0)),
            json_string(&self.link_target),
        );
        base64::engine::general_purpose::STANDARD.encode(json)
    }
}

fn json_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

/// Go's `os.FileMode` bits for a Unix mode (what `os.Lstat` reports inside the daemon).
fn go_file_mode(entry: &Entry) -> u32 {
    const MODE_DIR: u32 = 1 << 31;
    const MODE_SYMLINK: u32 = 1 << 27;
    const MODE_SETUID: u32 = 1 << 23;
    const MODE_SETGID: u32 = 1 << 22;
    const MODE_STICKY: u32 = 1 << 20;
    let mut mode = entry.mode & 0o777;
    if entry.mode & 0o4000 != 0 {
        mode |= MODE_SETUID;
    }
    if entry.mode & 0o2000 != 0 {
        mode |= MODE_SETGID;
    }
    if entry.mode & 0o1000 != 0 {
        mode |= MODE_STICKY;
    }
    match entry.kind {
        Kind::Dir => mode | MODE_DIR,
        Kind::Symlink(_) => mode | MODE_SYMLINK,
        Kind::File(_) => mode,
    }
}

impl Fs {
    /// A filesystem holding only `/`.
    pub(crate) fn root() -> Fs {
        let mut fs = Fs::default();
        fs.entries
            .insert("/".to_string(), dir_entry(0o755, SEED_MTIME));
        fs
    }

    /// The entry at `path` (normalised), not following symlinks.
    pub(crate) fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(&normalize("/", path))
    }

    /// Every entry, sorted by path.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&String, &Entry)> {
        self.entries.iter()
    }

    /// The total size of the regular files (the image `Size`).
    pub(crate) fn size(&self) -> u64 {
        self.entries
            .values()
            .map(|e| match &e.kind {
                Kind::File(b) => b.len() as u64,
                _ => 0,
            })
            .sum()
    }

    /// Creates `path` and any missing parents as directories.
    pub(crate) fn mkdir_all(&mut self, path: &str, mode: u32, mtime: u64) {
        let path = normalize("/", path);
        if let Some(p) = parent(&path) {
            if !matches!(
                self.entries.get(p),
                Some(Entry {
                    kind: Kind::Dir,
                    ..
                })
            ) {
                self.mkdir_all(p, 0o755, mtime);
            }
        }
        match self.entries.get_mut(&path) {
            Some(Entry {
                kind: Kind::Dir, ..
            }) => {}
            _ => {
                self.remove_tree(&path);
                self.entries.insert(path, dir_entry(mode, mtime));
            }
        }
    }

    /// Puts `entry` at `path`, creating parents and replacing whatever was there (a directory
    /// with its contents).
    pub(crate) fn put(&mut self, path: &str, entry: Entry) {
        let path = normalize("/", path);
        if entry.kind == Kind::Dir {
            self.mkdir_all(&path, entry.mode, entry.mtime);
            if let Some(e) = self.entries.get_mut(&path) {
                e.mode = entry.mode;
                e.mtime = entry.mtime;
            }
            return;
        }
        if let Some(p) = parent(&path) {
            self.mkdir_all(p, 0o755, entry.mtime);
        }
        self.remove_tree(&path);
        self.entries.insert(path, entry);
    }

    fn remove_tree(&mut self, path: &str) {
        if path == "/" {
            return;
        }
        let below: Vec<String> = self
            .entries
            .range(path.to_string()..)
            .take_while(|(k, _)| k.starts_with(path))
            .filter(|(k, _)| is_within(k, path))
            .map(|(k, _)| k.clone())
            .collect();
        for k in below {
            self.entries.remove(&k);
        }
    }

    /// Copies `src` (and, for a directory, everything below it) of `from` to `dest` here.
    pub(crate) fn copy_from(&mut self, from: &Fs, src: &str, dest: &str) {
        let src = normalize("/", src);
        let dest = normalize("/", dest);
        for (path, entry) in from.entries.iter().filter(|(p, _)| is_within(p, &src)) {
            let rest = &path[src.len().min(path.len())..];
            let target = if src == "/" {
                normalize(&dest, path.trim_start_matches('/'))
            } else {
                normalize(&dest, rest.trim_start_matches('/'))
            };
            self.put(&target, entry.clone());
        }
    }

    /// The stat the daemon reports for `path`, or `None` if there is nothing there.
    pub(crate) fn stat(&self, path: &str) -> Option<Stat> {
        let norm = normalize("/", path);
        let entry = self.entries.get(&norm)?;
        let (size, link_target) = match &entry.kind {
            Kind::File(b) => (b.len() as u64, String::new()),
            Kind::Dir => (4096, String::new()),
            Kind::Symlink(t) => (t.len() as u64, t.clone()),
        };
        Some(Stat {
            name: basename(&norm).to_string(),
            size,
            mode: go_file_mode(entry),
            mtime: entry.mtime,
            link_target,
        })
    }

    /// Extracts the tar `archive` below the existing directory `dest`, the way
    /// `PUT /containers/{id}/archive` does.
    ///
    /// Hard links become copies, devices and FIFOs are skipped. With `no_overwrite_dir_non_dir`
    /// replacing a directory by a non-directory (or the reverse) is an error, as in the daemon.
    pub(crate) fn extract(
        &mut self,
        dest: &str,
        archive: &[u8],
        no_overwrite_dir_non_dir: bool,
    ) -> Result<(), String> {
        let dest = normalize("/", dest);
        let mut ar = tar::Archive::new(archive);
        let entries = ar.entries().map_err(|e| e.to_string())?;
        for entry in entries {
            let mut entry = entry.map_err(|e| e.to_string())?;
            let name = entry.path().map_err(|e| e.to_string())?;
            let name = name.to_string_lossy().into_owned();
            let target = normalize(&dest, name.trim_start_matches('/'));
            if !is_within(&target, &dest) {
                return Err(format!("invalid path {name:?}: it leads outside {dest}"));
            }
            let header = entry.header();
            let mode = header.mode().unwrap_or(0o644) & 0o7777;
            let mtime = header.mtime().unwrap_or(SEED_MTIME);
            let kind = match header.entry_type() {
                tar::EntryType::Directory => Kind::Dir,
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let mut bytes = Vec::new();
                    entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
                    Kind::File(bytes)
                }
                tar::EntryType::Symlink => {
                    let link = entry.link_name().map_err(|e| e.to_string())?;
                    Kind::Symlink(
                        link.map(|l| l.to_string_lossy().into_owned())
                            .unwrap_or_default(),
                    )
                }
                tar::EntryType::Link => {
                    let link = entry.link_name().map_err(|e| e.to_string())?;
                    let link = link
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    match self.get(&normalize(&dest, link.trim_start_matches('/'))) {
                        Some(e) => e.kind.clone(),
                        None => return Err(format!("hard link target {link} not found")),
                    }
                }
                _ => continue,
            };
            if no_overwrite_dir_non_dir {
                if let Some(existing) = self.entries.get(&target) {
                    let was_dir = existing.kind == Kind::Dir;
                    let is_dir = kind == Kind::Dir;
                    if was_dir && !is_dir {
                        return Err(format!(
                            "cannot overwrite directory \"{target}\" with non-directory \"{name}\""
                        ));
                    }
                    if !was_dir && is_dir {
                        return Err(format!(
                            "cannot overwrite non-directory \"{target}\" with directory \"{name}\""
                        ));
                    }
                }
            }
            self.put(&target, Entry { mode, kind, mtime });
        }
        Ok(())
    }

    /// A tar of `path` (and everything below it when it is a directory), named from the last
    /// path component as the daemon does: `GET ...?path=/tmp/src` gives `src/`, `src/a.txt`.
    /// A path ending in `/.` gives the directory's contents under `./`.
    pub(crate) fn archive(&self, path: &str) -> Option<Vec<u8>> {
        let norm = normalize("/", path);
        self.entries.get(&norm)?;
        let contents_only = path.ends_with("/.") || norm == "/";
        let base = if contents_only {
            ".".to_string()
        } else {
            basename(&norm).to_string()
        };
        let mut builder = tar::Builder::new(Vec::new());
        for (p, entry) in self.entries.iter().filter(|(p, _)| is_within(p, &norm)) {
            let rest = if norm == "/" {
                p.as_str()
            } else {
                &p[norm.len()..]
            };
            let name = if rest.is_empty() || rest == "/" {
                base.clone()
            } else {
                format!("{base}{rest}")
            };
            append(&mut builder, &name, entry).ok()?;
        }
        builder.into_inner().ok()
    }
}

fn dir_entry(mode: u32, mtime: u64) -> Entry {
    Entry {
        mode,
        kind: Kind::Dir,
        mtime,
    }
}

fn append(builder: &mut tar::Builder<Vec<u8>>, name: &str, entry: &Entry) -> std::io::Result<()> {
    let mut header = tar::Header::new_ustar();
    header.set_mode(entry.mode);
    header.set_mtime(entry.mtime);
    header.set_uid(0);
    header.set_gid(0);
    header.set_username("root")?;
    header.set_groupname("root")?;
    match &entry.kind {
        Kind::File(bytes) => {
            header.set_entry_type(tar::EntryType::Regular);
            header.set_size(bytes.len() as u64);
            builder.append_data(&mut header, name, bytes.as_slice())
        }
        Kind::Dir => {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_size(0);
            builder.append_data(&mut header, name, std::io::empty())
        }
        Kind::Symlink(target) => {
            header.set_entry_type(tar::EntryType::Symlink);
            header.set_size(0);
            builder.append_link(&mut header, name, target)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(bytes: &[u8], mode: u32) -> Entry {
        Entry {
            mode,
            kind: Kind::File(bytes.to_vec()),
            mtime: SEED_MTIME,
        }
    }

    #[test]
    fn normalize_cleans_and_never_climbs_above_root() {
        for (base, path, want) in [
            ("/", "", "/"),
            ("/", "/", "/"),
            ("/tmp", "a/./b//c/", "/tmp/a/b/c"),
            ("/tmp", "../../../etc", "/etc"),
            ("/x", "/abs", "/abs"),
        ] {
            assert_eq!(normalize(base, path), want, "{base} + {path}");
        }
    }

    #[test]
    fn upload_then_download_round_trips() {
        let mut fs = Fs::root();
        fs.mkdir_all("/tmp", 0o1777, SEED_MTIME);
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(0o755);
        h.set_size(0);
        b.append_data(&mut h, "src", std::io::empty()).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o755);
        h.set_size(5);
        b.append_data(&mut h, "src/run.sh", &b"echo\n"[..]).unwrap();
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, "src/link", "run.sh").unwrap();
        let up = b.into_inner().unwrap();

        fs.extract("/tmp", &up, true).unwrap();
        let got = fs.get("/tmp/src/run.sh").unwrap();
        assert_eq!(
            (&got.kind, got.mode),
            (&Kind::File(b"echo\n".to_vec()), 0o755)
        );

        let down = fs.archive("/tmp/src").unwrap();
        let mut ar = tar::Archive::new(&down[..]);
        let mut names = Vec::new();
        for e in ar.entries().unwrap() {
            let mut e = e.unwrap();
            let mut body = String::new();
            e.read_to_string(&mut body).unwrap();
            names.push((e.path().unwrap().display().to_string(), body));
        }
        assert_eq!(
            names,
            [
                ("src".to_string(), String::new()),
                ("src/link".to_string(), String::new()),
                ("src/run.sh".to_string(), "echo\n".to_string()),
            ]
        );

        let stat = fs.stat("/tmp/src/run.sh").unwrap();
        assert_eq!(
            (stat.name.as_str(), stat.size, stat.mode),
            ("run.sh", 5, 0o755)
        );
        assert_eq!(fs.stat("/tmp").unwrap().mode, (1 << 31) | (1 << 20) | 0o777);
    }

    #[test]
    fn stat_header_is_what_the_daemon_sends() {
        // The header of a 2-byte 0644 file `fe-h.txt`, copied from a real daemon's reply.
        let stat = Stat {
            name: "fe-h.txt".into(),
            size: 2,
            mode: 0o644,
            mtime: 1_795_751_871,
            link_target: String::new(),
        };
        assert_eq!(
            stat.header_value(),
            "eyJuYW1lIjoiZmUtaC50eHQiLCJzaXplIjoyLCJtb2RlIjo0MjAsIm10aW1lIjoiMjAyNi0xMS0yN1QwMzo1Nzo1MVoiLCJsaW5rVGFyZ2V0IjoiIn0="
        );
    }

    #[test]
    fn no_overwrite_dir_non_dir_is_enforced() {
        let mut fs = Fs::root();
        fs.mkdir_all("/tmp/x", 0o755, SEED_MTIME);
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(1);
        h.set_mode(0o644);
        b.append_data(&mut h, "x", &b"1"[..]).unwrap();
        let up = b.into_inner().unwrap();
        let err = fs.extract("/tmp", &up, true).unwrap_err();
        assert!(err.contains("cannot overwrite directory"), "{err}");
        fs.extract("/tmp", &up, false).unwrap();
        assert_eq!(fs.get("/tmp/x").unwrap().kind, Kind::File(b"1".to_vec()));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let mut fs = Fs::root();
        assert!(fs.extract("/", &[7u8; 700], false).is_err());
    }

    #[test]
    fn copy_from_copies_subtrees() {
        let mut ctx = Fs::root();
        ctx.put("/app/a.txt", file(b"a", 0o644));
        ctx.put("/app/sub/b.txt", file(b"b", 0o600));
        let mut img = Fs::root();
        img.copy_from(&ctx, "/app", "/opt/app");
        assert_eq!(img.get("/opt/app/sub/b.txt"), Some(&file(b"b", 0o600)));
        img.copy_from(&ctx, "/app/a.txt", "/opt/a2.txt");
        assert_eq!(img.get("/opt/a2.txt"), Some(&file(b"a", 0o644)));
    }
}
