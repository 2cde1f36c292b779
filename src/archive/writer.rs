//! [`ArchiveWriter`]: the [`TarWriter`] that writes the bytes of the archive, ustar headers
//! with PAX records where ustar falls short, over [`tar::Builder`].
//!
//! Like the rest of the archive, this uses only `error`.

use std::fmt;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use super::entry::{EntryKind, TarHeader, TarWriter};
use crate::error::{Error, Result};

const BLOCK: u64 = 512;
/// Bytes of the ustar `name` and `linkname` fields; longer values go into PAX records.
const NAME_FIELD: usize = 100;

/// A [`TarWriter`] that writes a tar archive to `W` through [`tar::Builder`].
///
/// Headers are ustar. A PAX extended header precedes an entry whose name or link target is
/// longer than 100 bytes (`path`, `linkpath`) or whose mtime has a sub-second part (`mtime`, as
/// the reference's PAX format keeps it; see [`sub_second_mtime`](ArchiveWriter::sub_second_mtime)).
/// Large IDs and sizes use the base-256 numeric form that Go's and GNU tar's readers accept.
pub struct ArchiveWriter<W: Write> {
    builder: tar::Builder<W>,
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
        ArchiveWriter::from_builder(tar::Builder::new(w))
    }

    /// A writer that appends to an existing builder.
    pub fn from_builder(builder: tar::Builder<W>) -> ArchiveWriter<W> {
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

    /// The stream the archive goes to, for a writer that puts an entry's content there itself
    /// (then it calls [`content_written`](Self::content_written)).
    pub(super) fn stream_mut(&mut self) -> &mut W {
        self.builder.get_mut()
    }

    /// Fails unless the current entry still expects at least `n` bytes of content.
    pub(super) fn check_room(&self, n: u64) -> Result<()> {
        if n > self.remaining {
            return Err(Error::other(format!(
                "tar: write too long for {}",
                self.current.display()
            )));
        }
        Ok(())
    }

    /// Counts `n` bytes of the current entry's content as written (for the padding).
    pub(super) fn content_written(&mut self, n: u64) -> Result<()> {
        self.check_room(n)?;
        self.remaining -= n;
        self.written += n;
        Ok(())
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
    /// `tar::Builder::append_pax_extensions` leaves it empty, and busybox tar (the `tar` of
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
        let mut header = tar::Header::new_ustar();
        let n = pax_name.len().min(NAME_FIELD);
        header.as_old_mut().name[..n].copy_from_slice(&pax_name[..n]);
        header.set_entry_type(tar::EntryType::XHeader);
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
        let mut header = tar::Header::new_ustar();
        let (entry_type, size) = match h.kind {
            EntryKind::File => (tar::EntryType::Regular, h.size),
            EntryKind::Dir => (tar::EntryType::Directory, 0),
            EntryKind::Symlink => (tar::EntryType::Symlink, 0),
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
        self.check_room(data.len() as u64)?;
        self.builder.get_mut().write_all(data)?;
        self.content_written(data.len() as u64)
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
pub(super) fn unix_time(t: SystemTime) -> (i64, u32) {
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
pub(super) fn format_pax_time(secs: i64, nanos: u32) -> String {
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

#[cfg(test)]
mod tests {
    //! The bytes: long names and link targets, large IDs, sizes enforced, PAX header names.
    use super::*;
    use crate::archive::fixtures::list;
    use std::path::Path;
    use std::time::Duration;

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
        let mut archive = tar::Archive::new(&out[..]);
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
        for e in tar::Archive::new(&tar[..]).entries().unwrap() {
            names.push(e.unwrap().path().unwrap().display().to_string());
        }
        assert_eq!(names, ["src/dir", long.as_str()]);
        // busybox tar took the nameless header of `tar::Builder::append_pax_extensions` for
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
}
