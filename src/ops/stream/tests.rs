//! The stdcopy decoder and the JSON-lines reader: split points, caps, in-band errors.
use super::*;

/// A reader that hands out at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn frame(stream: u8, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![stream, 0, 0, 0];
    v.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    v.extend_from_slice(payload);
    v
}

fn demux_all(input: &[u8], step: usize) -> (Vec<u8>, Vec<u8>, Result<()>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let r = demux(&mut Trickle { data: input, step }, &mut out, &mut err);
    (out, err, r)
}

fn sample() -> Vec<u8> {
    let mut input = frame(1, b"hello ");
    input.extend(frame(2, b"oops\n"));
    input.extend(frame(0, b"stdin echo "));
    input.extend(frame(1, b""));
    input.extend(frame(1, b"world\n"));
    input
}

#[test]
fn demux_splits_streams_for_every_read_size() {
    let input = sample();
    for step in [1, 2, 3, 7, 8, 9, 13, input.len()] {
        let (out, err, r) = demux_all(&input, step);
        r.unwrap();
        assert_eq!(out, b"hello stdin echo world\n", "step {step}");
        assert_eq!(err, b"oops\n", "step {step}");
    }
}

#[test]
fn demux_prefixes_are_partial_or_clean() {
    // Every prefix gives a prefix of the output; only frame boundaries end cleanly.
    let input = sample();
    let boundaries = [0, 14, 27, 46, 54, 68];
    for i in 0..=input.len() {
        let (out, err, r) = demux_all(&input[..i], 1);
        assert!(b"hello stdin echo world\n".starts_with(&out), "prefix {i}");
        assert!(b"oops\n".starts_with(&err), "prefix {i}");
        match r {
            Ok(()) => assert!(boundaries.contains(&i), "prefix {i} ended cleanly"),
            Err(Error::Protocol(m)) => {
                assert!(!boundaries.contains(&i), "prefix {i}: {m}");
                assert!(m.contains("truncated"), "{m}");
            }
            Err(e) => panic!("prefix {i}: {e}"),
        }
    }
}

#[test]
fn decoder_prefix_calls_make_no_false_progress() {
    // Feeding a header piecewise yields nothing until the payload.
    let input = frame(2, b"abc");
    for i in 0..8 {
        let mut dec = FrameDecoder::new();
        let (used, out) = dec.decode(&input[..i]).unwrap();
        assert_eq!((used, out), (i, None));
        assert!(dec.finish().is_err() || i == 0);
        let (used, out) = dec.decode(&input[i..]).unwrap();
        assert_eq!((used, out), (8 - i, None));
        let (used, out) = dec.decode(&input[8..]).unwrap();
        assert_eq!((used, out), (3, Some((StdStream::Stderr, &b"abc"[..]))));
        dec.finish().unwrap();
    }
}

#[test]
fn demux_errors() {
    let mut input = frame(1, b"out");
    input.extend(frame(3, b"driver failed"));
    input.extend(frame(1, b"never"));
    for step in [1, 5, 100] {
        let (out, _, r) = demux_all(&input, step);
        assert_eq!(out, b"out");
        let e = r.unwrap_err();
        assert!(matches!(e, Error::Stream { .. }));
        assert_eq!(e.to_string(), "error from daemon in stream: driver failed");
    }
    let (_, _, r) = demux_all(&frame(7, b"x"), 3);
    assert_eq!(
        r.unwrap_err().to_string(),
        "protocol error: Unrecognized input header: 7"
    );
    let mut dec = FrameDecoder::new().max_frame_size(4);
    assert!(dec.decode(&frame(1, b"12345")).is_err());
    let big = [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff];
    assert!(FrameDecoder::new().decode(&big).is_err());
}

#[test]
fn demux_streams_big_frames_through_a_fixed_buffer() {
    let payload = vec![b'x'; 3 << 20];
    let input = frame(1, &payload);
    let mut out = Vec::new();
    demux(&mut &input[..], &mut out, &mut io::sink()).unwrap();
    assert_eq!(out.len(), payload.len());
}

#[test]
fn demux_reports_write_errors() {
    struct Full;
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Ok(0)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let r = demux(&mut &frame(1, b"x")[..], &mut Full, &mut io::sink());
    assert!(matches!(r, Err(Error::Io(e)) if e.kind() == io::ErrorKind::WriteZero));
}

const STREAM: &[u8] = b"{\"status\":\"Pulling from library/busybox\",\"id\":\"1\"}\r\n\
\n\
{\"status\":\"Downloading\",\"progressDetail\":{\"current\":5,\"total\":10},\"progress\":\"[=>  ]\",\"id\":\"abc\"}\n\
   \r\n\
{\"stream\":\"Step 1/2 : FROM scratch\\n\"}\n\
{\"aux\":{\"ID\":\"sha256:0\"}}";

fn collect(data: &[u8], step: usize) -> Vec<Result<JsonMessage>> {
    JsonMessages::new(Trickle { data, step }).collect()
}

#[test]
fn json_lines_for_every_read_size_and_prefix() {
    for step in [1, 2, 5, 64, STREAM.len()] {
        let all = collect(STREAM, step);
        assert_eq!(all.len(), 4, "step {step}");
        let all: Vec<_> = all.into_iter().map(|m| m.unwrap()).collect();
        assert_eq!(all[0].status, "Pulling from library/busybox");
        assert_eq!(
            all[1].progress_detail,
            Some(JsonProgress {
                current: 5,
                total: 10
            })
        );
        assert_eq!(all[2].stream, "Step 1/2 : FROM scratch\n");
        assert_eq!(all[3].aux, Some(serde_json::json!({"ID": "sha256:0"})));
    }
    // Every prefix yields a prefix of the messages; a value cut short is a decode error,
    // never a silent success.
    let full: Vec<JsonMessage> = collect(STREAM, 7).into_iter().map(|m| m.unwrap()).collect();
    for i in 0..STREAM.len() {
        let got = collect(&STREAM[..i], 1);
        let mut oks = 0;
        for m in &got {
            match m {
                Ok(m) => {
                    assert_eq!(m, &full[oks], "prefix {i}");
                    oks += 1;
                }
                Err(e) => assert!(matches!(e, Error::Decode { .. }), "prefix {i}: {e}"),
            }
        }
    }
}

#[test]
fn json_in_band_errors() {
    let cases: &[(&[u8], &str)] = &[
        (
            b"{\"errorDetail\":{\"message\":\"manifest unknown\"},\"error\":\"x\"}\n",
            "manifest unknown",
        ),
        (b"{\"error\":\"legacy only\"}", "legacy only"),
        (
            b"{\"errorDetail\":{\"code\":1}}\n",
            "unknown error in stream",
        ),
    ];
    for &(input, text) in cases {
        let mut it = JsonMessages::new(input);
        let e = it.next().unwrap().unwrap_err();
        assert!(matches!(e, Error::Stream { .. }));
        assert_eq!(e.to_string(), text);
        assert!(it.next().is_none());
    }
    let e = consume(&b"{\"status\":\"a\"}\nnot json\n"[..], |_| {}).unwrap_err();
    assert!(matches!(e, Error::Decode { .. }), "{e}");
    let mut seen = 0;
    consume(STREAM, |_| seen += 1).unwrap();
    assert_eq!(seen, 4);
}

#[test]
fn json_lines_go_on_after_a_line_that_is_not_json() {
    let input = b"{\"status\":\"a\"}\nnot json\n{\"status\":\"b\"}\n{\"error\":\"boom\"}\n{\"status\":\"c\"}\n";
    for step in [1, 3, input.len()] {
        let got = collect(input, step);
        assert_eq!(got.len(), 4, "step {step}");
        assert_eq!(got[0].as_ref().unwrap().status, "a");
        assert!(matches!(got[1], Err(Error::Decode { .. })), "{:?}", got[1]);
        assert_eq!(got[2].as_ref().unwrap().status, "b");
        assert!(matches!(&got[3], Err(Error::Stream { message }) if message == "boom"));
    }
}

#[test]
fn over_long_lines_can_be_skipped() {
    let long = format!("{{\"status\":\"{}\"}}\n", "x".repeat(100));
    let input = format!("{{\"status\":\"a\"}}\n{long}{long}{{\"error\":\"boom\"}}\n");
    for step in [1, 7, input.len()] {
        let it = JsonMessages::with_max_line(
            Trickle {
                data: input.as_bytes(),
                step,
            },
            64,
        );
        let got: Vec<_> = it.skip_long_lines().collect();
        assert_eq!(got.len(), 2, "step {step}: {got:?}");
        assert_eq!(got[0].as_ref().unwrap().status, "a");
        assert!(matches!(&got[1], Err(Error::Stream { message }) if message == "boom"));
    }
    // A stream that ends inside an over-long line ends there.
    let cut = &long.as_bytes()[..90];
    let got: Vec<_> = JsonMessages::with_max_line(cut, 64)
        .skip_long_lines()
        .collect();
    assert!(got.is_empty(), "{got:?}");
}

#[test]
fn json_line_cap() {
    let long = format!("{{\"status\":\"{}\"}}\n", "x".repeat(100));
    let mut it = JsonMessages::with_max_line(long.as_bytes(), 64);
    assert!(matches!(it.next(), Some(Err(Error::Protocol(_)))));
    assert!(it.next().is_none());
    let mut it = JsonMessages::with_max_line(long.as_bytes(), 200);
    assert!(it.next().unwrap().is_ok());
}

#[test]
fn copy_checked_copies_everything_and_reports_the_first_error() {
    let input =
        b"{\"stream\":\"Step 1/2\"}\n{\"error\":\"boom\"}\r\nplain text\n{\"error\":\"second\"}";
    let mut out = Vec::new();
    let e = copy_checked(
        Trickle {
            data: input,
            step: 3,
        },
        &mut out,
    )
    .unwrap_err();
    assert_eq!(e.to_string(), "boom");
    assert_eq!(out, input);
    let mut out = Vec::new();
    copy_checked(STREAM, &mut out).unwrap();
    assert_eq!(out, STREAM);
}
