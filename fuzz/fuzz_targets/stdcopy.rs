//! The stdcopy demultiplexer (`ops::stream::demux`, `FrameDecoder`): no panic, output never
//! larger than the input, and the same stdout, stderr and outcome whether the stream is read
//! whole or in fuzzer-chosen pieces.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use s2i_docker::ops::stream::{demux, FrameDecoder};

/// A reader that hands out the input in pieces of the given sizes (cycled).
struct Pieces<'a> {
    data: &'a [u8],
    sizes: std::iter::Cycle<std::slice::Iter<'a, u8>>,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self
            .sizes
            .next()
            .map_or(buf.len(), |&s| usize::from(s).max(1));
        let n = want.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

fn run(data: &[u8], sizes: &[u8]) -> (Vec<u8>, Vec<u8>, Result<(), String>) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut reader = Pieces {
        data,
        sizes: sizes.iter().cycle(),
    };
    let res = demux(&mut reader, &mut out, &mut err).map_err(|e| e.to_string());
    (out, err, res)
}

fuzz_target!(|data: &[u8]| {
    let [n, rest @ ..] = data else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n % 8).min(rest.len()));
    let whole = run(stream, &[]);
    assert!(whole.0.len() + whole.1.len() <= stream.len());
    assert_eq!(whole, run(stream, sizes), "read sizes {sizes:?}");

    // The decoder with a small frame cap, fed one piece at a time.
    let mut dec = FrameDecoder::new().max_frame_size(usize::from(*n));
    let mut input = stream;
    while !input.is_empty() {
        match dec.decode(input) {
            Ok((used, out)) => {
                assert!(used > 0 && used <= input.len());
                if let Some((_, payload)) = out {
                    assert!(payload.len() <= usize::from(*n) && payload.len() == used);
                }
                input = &input[used..];
            }
            Err(_) => return,
        }
    }
    let _ = dec.finish();
});
