//! The sample builder's files when there is no static busybox: the host's `/bin/sh` and the
//! few tools the sample's scripts use, with the shared libraries and the dynamic loader they
//! need, found by reading their ELF program headers and dynamic sections.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The tools the fallback image holds: its path in the image, and the host's paths tried.
/// `tar` extracts the sources (the library runs `tar -C /tmp -xf - && .../assemble`), `env`
/// is the entrypoint the library sets on the built image, the rest serve the scripts and the
/// sample app's `bin/hello`, and `mkdir`/`chown` the Dockerfile's single `RUN`.
pub const TOOLS: &[(&str, &[&str])] = &[
    ("/bin/sh", &["/bin/sh", "/usr/bin/sh"]),
    ("/usr/bin/env", &["/usr/bin/env", "/bin/env"]),
    ("/bin/tar", &["/bin/tar", "/usr/bin/tar"]),
    ("/bin/cat", &["/bin/cat", "/usr/bin/cat"]),
    ("/bin/cp", &["/bin/cp", "/usr/bin/cp"]),
    ("/bin/mkdir", &["/bin/mkdir", "/usr/bin/mkdir"]),
    ("/bin/chown", &["/bin/chown", "/usr/bin/chown"]),
    ("/bin/dirname", &["/bin/dirname", "/usr/bin/dirname"]),
    ("/bin/id", &["/bin/id", "/usr/bin/id"]),
];

/// What an ELF file asks of the dynamic loader.
#[derive(Debug, Default)]
pub struct ElfDeps {
    /// `PT_INTERP`: the dynamic loader's path; `None` in a static executable.
    pub interpreter: Option<String>,
    /// `DT_NEEDED`: the shared libraries' names.
    pub needed: Vec<String>,
    /// `DT_RUNPATH` and `DT_RPATH`, `:`-separated.
    pub search: Vec<String>,
    /// `EI_CLASS` and `e_machine`: a library must match its user's.
    pub kind: (u8, u16),
}

impl ElfDeps {
    /// A static executable: no loader and no shared library.
    pub fn is_static(&self) -> bool {
        self.interpreter.is_none() && self.needed.is_empty()
    }
}

/// A field of `width` bytes at `off`, in the file's byte order.
fn field(data: &[u8], off: usize, width: usize, big_endian: bool) -> Result<u64, String> {
    let bytes = off
        .checked_add(width)
        .and_then(|end| data.get(off..end))
        .ok_or("truncated ELF file")?;
    let mut v = 0u64;
    for i in 0..width {
        let b = if big_endian {
            bytes[i]
        } else {
            bytes[width - 1 - i]
        };
        v = (v << 8) | u64::from(b);
    }
    Ok(v)
}

/// A NUL-terminated string at `off`.
fn c_string(data: &[u8], off: u64) -> Result<String, String> {
    let rest = usize::try_from(off)
        .ok()
        .and_then(|o| data.get(o..))
        .ok_or("ELF string out of the file")?;
    let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
    Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Reads an ELF file's loader, needed libraries and search paths (32 or 64 bits, either byte
/// order).
pub fn read_elf(data: &[u8]) -> Result<ElfDeps, String> {
    if data.len() < 52 || &data[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    let (class, big) = (data[4], data[5] == 2);
    let wide = match class {
        1 => false,
        2 => true,
        c => return Err(format!("unknown ELF class {c}")),
    };
    let f = |off: usize, width: usize| field(data, off, width, big);
    let word = if wide { 8 } else { 4 };
    let (phoff, phentsize, phnum) = if wide {
        (f(0x20, 8)?, f(0x36, 2)?, f(0x38, 2)?)
    } else {
        (f(0x1c, 4)?, f(0x2a, 2)?, f(0x2c, 2)?)
    };
    let mut deps = ElfDeps {
        kind: (class, f(0x12, 2)? as u16),
        ..Default::default()
    };
    // (type, offset, vaddr, filesz) of each program header.
    let mut headers = Vec::new();
    for i in 0..phnum as usize {
        let h = phoff as usize + i * phentsize as usize;
        let (off, vaddr, filesz) = if wide {
            (f(h + 8, 8)?, f(h + 16, 8)?, f(h + 32, 8)?)
        } else {
            (f(h + 4, 4)?, f(h + 8, 4)?, f(h + 16, 4)?)
        };
        headers.push((f(h, 4)?, off, vaddr, filesz));
    }
    for &(kind, off, _, _) in &headers {
        if kind == 3 {
            deps.interpreter = Some(c_string(data, off)?);
        }
    }
    let Some(&(_, dynamic, _, dyn_size)) = headers.iter().find(|h| h.0 == 2) else {
        return Ok(deps);
    };
    let mut entries = Vec::new();
    for i in 0..(dyn_size / (2 * word as u64)) as usize {
        let e = dynamic as usize + i * 2 * word;
        let (tag, val) = (f(e, word)?, f(e + word, word)?);
        if tag == 0 {
            break;
        }
        entries.push((tag, val));
    }
    // DT_STRTAB is an address: its file offset is found through the PT_LOAD that maps it.
    let strtab = entries
        .iter()
        .find(|e| e.0 == 5)
        .and_then(|&(_, addr)| {
            headers
                .iter()
                .find(|h| h.0 == 1 && h.2 <= addr && addr < h.2 + h.3)
                .map(|h| addr - h.2 + h.1)
        })
        .ok_or("ELF dynamic section without a string table")?;
    for (tag, val) in entries {
        match tag {
            1 => deps.needed.push(c_string(data, strtab + val)?),
            15 | 29 => deps.search.extend(
                c_string(data, strtab + val)?
                    .split(':')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    Ok(deps)
}

/// The directories `/etc/ld.so.conf` lists (following its `include`s), then the loader's
/// defaults.
fn library_dirs() -> Vec<String> {
    let mut dirs = Vec::new();
    read_ld_so_conf(Path::new("/etc/ld.so.conf"), &mut dirs, 0);
    for d in ["/lib64", "/usr/lib64", "/lib", "/usr/lib"] {
        dirs.push(d.to_string());
    }
    dirs
}

fn read_ld_so_conf(path: &Path, dirs: &mut Vec<String>, depth: u32) {
    let Ok(text) = fs::read_to_string(path) else {
        return;
    };
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("").trim();
        if let Some(pattern) = line.strip_prefix("include").map(str::trim) {
            if depth < 8 {
                for file in glob_files(pattern) {
                    read_ld_so_conf(&file, dirs, depth + 1);
                }
            }
        } else if line.starts_with('/') {
            dirs.push(line.to_string());
        }
    }
}

/// `dir/prefix*suffix` (one `*` in the last part at most), sorted, as the loader reads them.
fn glob_files(pattern: &str) -> Vec<PathBuf> {
    let path = Path::new(pattern);
    let (Some(dir), Some(name)) = (path.parent(), path.file_name().and_then(|n| n.to_str())) else {
        return Vec::new();
    };
    let Some((prefix, suffix)) = name.split_once('*') else {
        return vec![path.to_path_buf()];
    };
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let n = e.file_name();
            let n = n.to_string_lossy();
            n.starts_with(prefix) && n.ends_with(suffix)
        })
        .map(|e| e.path())
        .collect();
    files.sort();
    files
}

/// The files of the fallback image: their path in the image, and the host's file they are
/// copied from (symlinks resolved: each is a regular file in the image).
#[derive(Debug, Default)]
pub struct HostFiles {
    /// Image path to host path: the tools, their libraries and the dynamic loader.
    pub files: BTreeMap<String, PathBuf>,
    /// The directories the libraries are in, for `LD_LIBRARY_PATH` (the image has no
    /// `ld.so.cache`).
    pub library_dirs: Vec<String>,
}

/// Collects [`TOOLS`] and what they load.
pub fn collect() -> Result<HostFiles, String> {
    let dirs = library_dirs();
    let mut out = HostFiles::default();
    let mut pending = Vec::new();
    for (image_path, candidates) in TOOLS {
        let host = candidates
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                format!("{image_path}: not found on this machine (tried {candidates:?})")
            })?;
        pending.push((image_path.to_string(), host.to_path_buf()));
    }
    while let Some((image_path, host)) = pending.pop() {
        if out.files.contains_key(&image_path) {
            continue;
        }
        let real = fs::canonicalize(&host).map_err(|e| format!("{}: {e}", host.display()))?;
        let data = fs::read(&real).map_err(|e| format!("{}: {e}", real.display()))?;
        out.files.insert(image_path.clone(), real.clone());
        let deps = read_elf(&data).map_err(|e| format!("{}: {e}", host.display()))?;
        if let Some(interp) = &deps.interpreter {
            pending.push((interp.clone(), PathBuf::from(interp)));
        }
        let origin = host.parent().unwrap_or(Path::new("/")).to_string_lossy();
        for name in &deps.needed {
            let search = deps.search.iter().map(|d| d.replace("$ORIGIN", &origin));
            let found = search
                .chain(dirs.iter().cloned())
                .map(|d| format!("{}/{name}", d.trim_end_matches('/')))
                .find(|p| same_kind(Path::new(p), deps.kind))
                .ok_or_else(|| format!("{}: needs {name}, not found", host.display()))?;
            let dir = found.rsplit_once('/').map_or("/", |d| d.0).to_string();
            if !out.library_dirs.contains(&dir) {
                out.library_dirs.push(dir);
            }
            pending.push((found.clone(), PathBuf::from(found)));
        }
    }
    Ok(out)
}

/// Whether `path` is an ELF file of the given class and machine.
fn same_kind(path: &Path, kind: (u8, u16)) -> bool {
    let Ok(mut file) = fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; 20];
    if std::io::Read::read_exact(&mut file, &mut head).is_err() || &head[..4] != b"\x7fELF" {
        return false;
    }
    let big = head[5] == 2;
    let machine = field(&head, 0x12, 2, big).unwrap_or(0) as u16;
    (head[4], machine) == kind
}
