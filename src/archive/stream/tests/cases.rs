//! The cases of the tar stream's tests (see the parent module).

use super::*;

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

/// Reads `body` to its end in reads of `size` bytes; notes whether it read a host file itself.
fn read_all(body: &mut TarStream, size: usize) -> io::Result<(Vec<u8>, bool)> {
    let mut v = Vec::new();
    let mut buf = vec![0u8; size];
    loop {
        let n = body.read(&mut buf)?;
        if n == 0 {
            return Ok((v, body.files_read() > 0));
        }
        v.extend_from_slice(&buf[..n]);
    }
}

#[test]
fn host_files_are_read_by_the_reader() {
    let tmp = TempDir::new("host-files");
    let src = make_tree(tmp.path());
    let big: Vec<u8> = (0..150_001u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(src.join("big"), &big).unwrap();
    std::fs::write(src.join("zero"), "").unwrap();
    let mut direct = Vec::new();
    let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut direct));
    write_upload_tar(&LocalFileSystem, &src, "/opt/app/src", &mut w).unwrap();
    drop(w);
    // Reads of one byte, of sizes that cut everything anywhere, and larger than the chunks.
    for size in [1, 999, 100_000] {
        let (tar, saw_file) =
            stream_default_upload_tar(&LocalFileSystem, &src, "/opt/app/src", |body| {
                let got = read_all(body, size)?;
                assert!(body.is_complete());
                assert_eq!(body.read(&mut [0u8; 8])?, 0);
                Ok(got)
            })
            .unwrap();
        assert!(tar == direct, "reads of {size}: the tars differ");
        assert!(saw_file, "reads of {size}: no file went to the reader");
    }
    // A file system without host files: the same tar, every byte through the pipe.
    let plain = FakeFs::new(&[("a", 70_000, None), ("b", 3, None)]);
    let (fake_tar, saw_file) = stream_default_upload_tar(&plain, Path::new("/root"), "/dst", |b| {
        Ok(read_all(b, 4096)?)
    })
    .unwrap();
    assert!(!saw_file);
    let names: Vec<_> = list(&fake_tar)
        .into_iter()
        .map(|l| (l.0, l.4.len()))
        .collect();
    assert_eq!(
        names,
        [("dst/a".to_string(), 70_000), ("dst/b".to_string(), 3)]
    );
}

#[test]
fn a_host_file_that_changes_while_it_is_read() {
    let tmp = TempDir::new("changes");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    let f = src.join("f");
    let resize = |len: u64| {
        let file = std::fs::OpenOptions::new().write(true).open(&f).unwrap();
        file.set_len(len).unwrap();
    };
    // Grown after its header: cut at the size the header gave.
    std::fs::write(&f, vec![b'a'; 100_000]).unwrap();
    let tar = stream_default_upload_tar(&LocalFileSystem, &src, "/d/src", |body| {
        // The first 512 bytes are the entry's header, before any of the file.
        let mut v = vec![0u8; 512];
        body.read_exact(&mut v)?;
        resize(150_000);
        v.extend(read_all(body, 4096)?.0);
        Ok(v)
    })
    .unwrap();
    let listed = list(&tar);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].4, vec![b'a'; 100_000]);
    // Shrunk: the read fails, naming the file, and so does a consumer that swallows it.
    resize(100_000);
    for swallow in [false, true] {
        let e = stream_default_upload_tar(&LocalFileSystem, &src, "/d/src", |body| {
            // The header (see above).
            body.read_exact(&mut [0u8; 512])?;
            resize(10);
            match read_all(body, 4096) {
                Err(e) if !swallow => Err(Error::from(e)),
                _ => Ok(()),
            }
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("shrank"), "{e}");
        assert!(e.contains(&*f.to_string_lossy()), "{e}");
        resize(100_000);
    }
}

#[test]
fn a_reader_that_stops_during_a_host_file() {
    let tmp = TempDir::new("stops");
    let src = tmp.path().join("src");
    std::fs::create_dir(&src).unwrap();
    // 1 GiB, sparse: the producer hands it over and must not wait for it to be read.
    for name in ["a", "b", "c", "d"] {
        let file = std::fs::File::create(src.join(name)).unwrap();
        file.set_len(1 << 30).unwrap();
    }
    let started = Instant::now();
    let r = stream_default_upload_tar(&LocalFileSystem, &src, "/d/src", |body| {
        body.read_exact(&mut [0u8; 100_000])?;
        Err::<(), _>(Error::api(500, "engine said no"))
    });
    assert_eq!(r.unwrap_err().status(), Some(500));
    assert!(started.elapsed() < Duration::from_secs(10));
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

/// `stream_upload_tar` of the fake file system's `/root`, with the default writer.
fn stream_fake<R>(fs: &FakeFs, consume: impl FnOnce(&mut TarStream) -> Result<R>) -> Result<R> {
    stream_upload_tar(
        fs,
        Path::new("/root"),
        "/dst",
        default_upload_tar_writer,
        consume,
    )
}

#[test]
fn producer_error_reaches_the_reader() {
    let fs = FakeFs::new(&[("a", 10, None), ("b", 1 << 20, Some(300_000))]);
    let mut got = 0usize;
    let err = stream_fake(&fs, |body| {
        let mut buf = vec![0u8; 4096];
        loop {
            match body.read(&mut buf) {
                Ok(0) => return Ok(()),
                Ok(n) => got += n,
                Err(e) => return Err(Error::from(e)),
            }
        }
    })
    .unwrap_err();
    assert!(err.to_string().contains("disk on fire"), "{err}");
    assert!(err.to_string().contains("read /root/b"), "{err}");
    assert!(matches!(err, Error::Io(_)), "{err:?}");
    // What was produced before the failure was delivered.
    assert!(got >= 300_000, "{got}");

    // A consumer that swallows the read error still gets the failure back.
    let err = stream_fake(&fs, |body| {
        let _ = io::copy(body, &mut io::sink());
        Ok(())
    })
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
    let r = stream_fake(&fs, |body| {
        body.read_exact(&mut [0u8; 1000])?;
        Err::<(), _>(Error::api(500, "engine said no"))
    });
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

/// The test tree with files of every size around the pipe's hand-off size (16 KiB) and its
/// pieces' (64 KiB), ten of each.
fn sized_tree(root: &Path) -> PathBuf {
    let src = make_tree(root);
    for (i, len) in [1, 16 * 1024 - 1, 16 * 1024, 65_536, 100_001]
        .iter()
        .enumerate()
    {
        for j in 0..10 {
            let content: Vec<u8> = (0..*len).map(|k| ((k + j) % 251) as u8).collect();
            std::fs::write(src.join(format!("s{i}-{j}")), content).unwrap();
        }
    }
    src
}

#[test]
fn an_archive_stream_writes_what_the_archive_writer_writes() {
    let tmp = TempDir::new("archive-stream");
    let src = sized_tree(tmp.path());
    // The command line's shape: an entry of its own, then the walk renamed, whole seconds.
    let produce = |src: PathBuf| {
        move |writer: &mut dyn TarWriter| -> Result<()> {
            writer.write_header(TarHeader {
                name: "scripts/run".into(),
                kind: crate::archive::EntryKind::File,
                mode: 0o755,
                uid: 0,
                gid: 0,
                size: 3,
                mtime: UNIX_EPOCH,
                link_name: PathBuf::new(),
            })?;
            writer.write_data(b"abc")?;
            let mut renamed = crate::archive::RenameAdapter::new(writer, "src", "app");
            crate::archive::create_tar_stream_to_tar_writer(
                &LocalFileSystem,
                &src,
                true,
                &mut renamed,
            )?;
            renamed.finish()
        }
    };
    let mut direct = Vec::new();
    let mut w = ArchiveWriter::new(&mut direct);
    w.sub_second_mtime(false);
    produce(src.clone())(&mut w).unwrap();
    drop(w);
    for size in [1, 999, 64 * 1024, 1 << 20] {
        let write = produce(src.clone());
        let mut stream = spawn_archive_stream(move |mut writer| {
            writer.sub_second_mtime(false);
            write(&mut writer)
        });
        let (tar, saw_file) = read_all(&mut stream, size).unwrap();
        assert!(tar == direct, "reads of {size}: the tars differ");
        assert!(saw_file, "reads of {size}: no file went to the reader");
        assert!(stream.is_complete());
    }
}

#[test]
fn tar_reader_hands_files_over_with_the_default_writer_only() {
    fn is_default<M: 'static>(_: &M) -> bool {
        is_default_upload_tar_writer::<M>()
    }
    let as_pointer: fn(Box<dyn Write + Send>) -> Box<dyn TarWriter + Send> =
        default_upload_tar_writer;
    assert!(is_default(&default_upload_tar_writer));
    assert!(!is_default(&as_pointer));
    assert!(!is_default(&|w| default_upload_tar_writer(w)));

    let tmp = TempDir::new("tar-reader");
    let src = sized_tree(tmp.path());
    let mut direct = Vec::new();
    let mut w = ChmodAdapter::new(ArchiveWriter::new(&mut direct));
    write_upload_tar(&LocalFileSystem, &src, "/opt/app/src", &mut w).unwrap();
    drop(w);
    let fs: Arc<dyn FileSystem> = Arc::new(LocalFileSystem);
    let dest = "/opt/app/src";
    // The function itself: host files go to the reader.
    let mut stream = tar_reader(
        fs.clone(),
        src.clone(),
        dest.into(),
        default_upload_tar_writer,
    );
    let (tar, saw_file) = read_all(&mut stream, 4096).unwrap();
    assert!(tar == direct && saw_file);
    // Through a pointer, it may be any writer: every byte through the pipe, the same tar.
    let mut stream = tar_reader(fs, src, dest.into(), as_pointer);
    let (tar, saw_file) = read_all(&mut stream, 4096).unwrap();
    assert!(tar == direct && !saw_file);
}
