//! The JSON-lines progress stream (`ops::stream::JsonMessages`, `copy_checked`): no panic, the
//! same messages and errors whatever the read sizes and line cap split, and `copy_checked`
//! copies the stream byte for byte.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use s2i_docker::ops::stream::{copy_checked, JsonMessages};

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

fn messages(data: &[u8], sizes: &[u8], max_line: usize) -> Vec<String> {
    let reader = Pieces {
        data,
        sizes: sizes.iter().cycle(),
    };
    let all: Vec<String> = JsonMessages::with_max_line(reader, max_line)
        .map(|m| match m {
            Ok(m) => format!("{m:?}"),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    // Every message takes at least two bytes (`{}`), and the iterator ends after an error.
    assert!(all.len() <= data.len() / 2 + 1);
    all
}

fuzz_target!(|data: &[u8]| {
    let [n, cap, rest @ ..] = data else {
        return;
    };
    let (sizes, stream) = rest.split_at(usize::from(n % 8).min(rest.len()));
    let max_line = if cap % 2 == 0 {
        1 << 20
    } else {
        usize::from(*cap) * 4
    };
    let whole = messages(stream, &[], max_line);
    assert_eq!(
        whole,
        messages(stream, sizes, max_line),
        "read sizes {sizes:?}"
    );

    let mut copy = Vec::new();
    let res = copy_checked(
        Pieces {
            data: stream,
            sizes: sizes.iter().cycle(),
        },
        &mut copy,
    );
    assert_eq!(copy, stream);
    let first_error = whole.iter().find(|m| m.starts_with("error: ")).cloned();
    if let Err(e) = res {
        // Only in-band errors: a stream's message, never a decoding error.
        assert!(
            first_error.is_some(),
            "copy_checked failed ({e}) where no message did"
        );
    }
});
