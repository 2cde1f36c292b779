//! The chunked decoder (`transport::chunked`): no panic; the same bytes fed whole or in pieces
//! (fuzzer-chosen split points, data caps, and the body reader's direct `consume_data` path)
//! give the same data, end and error; what the encoder writes decodes to what went in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use s2i_docker::transport::chunked::{encode_chunk, ChunkedDecoder, LAST_CHUNK};

/// Feeds `input` in pieces of `step` bytes, taking at most `max` data bytes per call, and
/// (when `direct`) data straight from the input as the body reader does.
/// Returns the data, whether the body ended, and the bytes used; `None` on an error.
fn decode(input: &[u8], step: usize, max: usize, direct: bool) -> Option<(Vec<u8>, bool, usize)> {
    let mut dec = ChunkedDecoder::new();
    let (mut out, mut used, mut fed) = (Vec::new(), 0, 0);
    loop {
        let pending = &input[used..fed];
        let remaining = dec.data_remaining();
        if direct && remaining > 0 && !pending.is_empty() {
            let n = pending
                .len()
                .min(max)
                .min(usize::try_from(remaining).unwrap_or(usize::MAX));
            out.extend_from_slice(&pending[..n]);
            dec.consume_data(n);
            used += n;
            continue;
        }
        let (n, data) = dec.decode(pending, max).ok()?;
        assert!(data.end <= n && n <= pending.len() && data.len() <= max);
        out.extend_from_slice(&pending[data]);
        used += n;
        if dec.is_done() {
            return Some((out, true, used));
        }
        if n == 0 {
            if fed == input.len() {
                return Some((out, false, used));
            }
            fed = (fed + step).min(input.len());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, step, max, rest @ ..] = data else {
        return;
    };
    if mode & 1 == 0 {
        let whole = decode(rest, rest.len().max(1), usize::MAX, false);
        let step = usize::from(*step).max(1);
        let max = usize::from(*max).max(1);
        let pieces = decode(rest, step, max, mode & 2 != 0);
        assert_eq!(whole, pieces, "step {step} max {max}");
    } else {
        // Round trip: the rest cut into chunks of fuzzer-chosen lengths.
        let mut body = Vec::new();
        let mut lens = rest
            .iter()
            .map(|&b| usize::from(b) * usize::from(*step) / 16);
        let mut left = rest;
        while !left.is_empty() {
            let n = lens.next().unwrap_or(left.len()).clamp(1, left.len());
            encode_chunk(&left[..n], &mut body);
            left = &left[n..];
        }
        encode_chunk(&[], &mut body);
        body.extend_from_slice(LAST_CHUNK);
        let got = decode(&body, usize::from(*max).max(1), usize::MAX, mode & 2 != 0);
        assert_eq!(got, Some((rest.to_vec(), true, body.len())));
    }
});
