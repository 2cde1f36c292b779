//! Image builds: the tar build context goes to the engine, and the build's output (JSON lines)
//! is copied to the caller's writer as it arrives, in-band errors included.
//!
//! Uses the client, ops (the build endpoint's options and the JSON-lines reader), error, and the
//! byte copies of [`transfer`](super::transfer).

use std::io::{self, Read, Write};

use crate::docker::transfer::{copy_stream, filled};
use crate::docker::{BuildImageOptions, DockerClient};
use crate::error::{Error, Result};
use crate::ops::image::ImageBuildOptions;
use crate::ops::stream::JsonMessages;

/// Hands every byte read from the build's output to the caller's writer as it is read, so the
/// caller sees the output as it arrives and whole, whatever the JSON reader makes of it.
struct Tee<R> {
    inner: R,
    out: Option<Box<dyn Write + Send>>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(out) = &mut self.out {
            out.write_all(filled(buf, n)?)?;
            out.flush()?;
        }
        Ok(n)
    }
}

/// Builds without cache, removing the intermediate containers, with the caller's limits; the
/// first error reported inside the output is returned once the whole output was copied, also
/// when it follows lines that are not JSON.
pub(crate) fn build_image(d: &DockerClient, mut opts: BuildImageOptions) -> Result<()> {
    let limits = opts.cgroup_limits.take().unwrap_or_default();
    let options = ImageBuildOptions {
        tags: vec![opts.name.clone()],
        no_cache: true,
        remove: true,
        force_remove: true,
        memory: limits.memory_limit_bytes,
        memory_swap: limits.memory_swap,
        cpu_shares: limits.cpu_shares,
        cpu_period: limits.cpu_period,
        cpu_quota: limits.cpu_quota,
        cgroup_parent: limits.parent,
        ..Default::default()
    };
    let mut empty = io::empty();
    let context: &mut (dyn Read + Send) = match opts.stdin.as_mut() {
        Some(r) => r.as_mut(),
        None => &mut empty,
    };
    let body = d.client.image_build(context, &options)?;
    let mut tee = Tee {
        inner: body,
        out: opts.stdout.take(),
    };
    let mut failed = None;
    // Lines that are not JSON, and lines over the reader's cap (dropped as they are read, so
    // memory stays bounded), were copied as they are; the reader goes on after them, so a
    // daemon error anywhere in the output is seen.
    for message in JsonMessages::new(&mut tee).skip_long_lines() {
        match message {
            Ok(_) => {}
            // The build failed; the rest of the output (and the error itself) still goes to
            // the caller before the error is returned.
            Err(e @ Error::Stream { .. }) => {
                failed.get_or_insert(e);
            }
            Err(Error::Decode { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    // Whatever the JSON reader left unread (it stops at the first daemon error).
    copy_stream(&mut tee, &mut io::sink())?;
    if let Some(mut out) = tee.out.take() {
        out.flush()?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::docker::Docker;
    use crate::fake::testing::docker::*;
    use crate::CGroupLimits;

    #[test]
    fn build_sends_the_options_and_copies_the_output() {
        let (fake, d) = setup();
        let output = b"{\"stream\":\"Step 1/2 : FROM scratch\\n\"}\n{\"stream\":\"Successfully built 1\\n\"}\n";
        fake.state().build_image_output = output.to_vec();
        let out = Probe::default();
        d.build_image(BuildImageOptions {
            name: "img:1".into(),
            stdin: Some(Box::new(Cursor::new(b"context tar".to_vec()))),
            stdout: Some(out.writer()),
            cgroup_limits: Some(CGroupLimits {
                memory_limit_bytes: 100,
                memory_swap: 200,
                cpu_shares: 3,
                cpu_period: 4,
                cpu_quota: 5,
                parent: "p".into(),
            }),
        })
        .unwrap();
        assert_eq!(out.text().as_bytes(), output);
        assert!(out.is_dropped());
        let state = fake.state();
        assert_eq!(state.build_image_context, b"context tar");
        let o = state.build_image_opts.clone().unwrap();
        assert_eq!(o.tags, ["img:1"]);
        assert!(o.no_cache && o.remove && o.force_remove);
        assert_eq!(
            (o.memory, o.memory_swap, o.cgroup_parent.as_str()),
            (100, 200, "p")
        );
        assert_eq!((o.cpu_shares, o.cpu_period, o.cpu_quota), (3, 4, 5));
    }

    #[test]
    fn an_error_after_lines_that_are_not_json_fails_the_build() {
        let long = format!("{}\n", "x".repeat(3 << 20));
        for noise in ["plain text\n", "{\"stream\":\"cut", long.as_str()] {
            let (fake, d) = setup();
            let output = format!(
                "{{\"stream\":\"Step 1/2\\n\"}}\n{noise}\n{{\"stream\":\"Step 2/2\\n\"}}\n\
                 {{\"errorDetail\":{{\"message\":\"RUN failed\"}},\"error\":\"RUN failed\"}}\n\
                 {{\"stream\":\"after\"}}\n"
            );
            fake.state().build_image_output = output.clone().into_bytes();
            let out = Probe::default();
            let e = d
                .build_image(BuildImageOptions {
                    name: "img".into(),
                    stdout: Some(out.writer()),
                    ..Default::default()
                })
                .unwrap_err();
            assert!(matches!(e, Error::Stream { .. }), "{e:?}");
            assert_eq!(e.to_string(), "RUN failed");
            assert!(out.text() == output, "the whole output reaches the caller");
        }
    }

    #[test]
    fn a_failed_build_is_an_error_after_its_output_decision_7() {
        let (fake, d) = setup();
        let output = b"{\"stream\":\"Step 1/2\\n\"}\n{\"errorDetail\":{\"code\":1,\"message\":\"COPY failed\"},\"error\":\"COPY failed\"}\n{\"stream\":\"after\"}\n";
        fake.state().build_image_output = output.to_vec();
        let out = Probe::default();
        let e = d
            .build_image(BuildImageOptions {
                name: "img".into(),
                stdout: Some(out.writer()),
                ..Default::default()
            })
            .unwrap_err();
        assert!(matches!(e, Error::Stream { .. }), "{e:?}");
        assert_eq!(e.to_string(), "COPY failed");
        assert_eq!(
            out.text().as_bytes(),
            output,
            "the whole output reaches the caller"
        );
        // Without a writer the output is discarded, the error still reported.
        let e = d
            .build_image(BuildImageOptions {
                name: "img".into(),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(e.to_string(), "COPY failed");
        // A request error comes back as it is.
        fake.state().build_image_err = Some(Error::api(500, "no space"));
        let e = d.build_image(BuildImageOptions::default()).unwrap_err();
        assert_eq!(e.status(), Some(500));
    }
}
