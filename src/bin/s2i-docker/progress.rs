//! What a person sees: one line per step, pull progress, the scripts' output as it comes, the
//! library's messages by `--loglevel`, and nothing but errors under `-q`.
//!
//! Everything goes to standard error, as the reference's log does, except what a command
//! produces for its caller: the output of `usage` and of the image run by `--run`.

use std::io::{self, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use s2i_docker::ops::stream::JsonMessage;
use s2i_docker::{stream_container_io, Error};

use crate::metadata::Watch;

static QUIET: AtomicBool = AtomicBool::new(false);
static LEVEL: AtomicU8 = AtomicU8::new(0);

/// Sets the output's verbosity for the whole process, and routes the library's log through it.
pub fn init(quiet: bool, loglevel: u8) {
    QUIET.store(quiet, Ordering::Relaxed);
    LEVEL.store(loglevel, Ordering::Relaxed);
    let _ = log::set_logger(&Logger);
    log::set_max_level(match loglevel {
        _ if quiet => log::LevelFilter::Error,
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        2..=4 => log::LevelFilter::Debug,
        _ => log::LevelFilter::Trace,
    });
}

pub fn quiet() -> bool {
    QUIET.load(Ordering::Relaxed)
}

pub fn level() -> u8 {
    LEVEL.load(Ordering::Relaxed)
}

/// One line of progress (not under `-q`).
pub fn step(text: impl AsRef<str>) {
    if !quiet() {
        eprintln!("---> {}", text.as_ref());
    }
}

/// A line shown from `--loglevel level` on (not under `-q`).
pub fn detail(level: u8, text: impl AsRef<str>) {
    if !quiet() && self::level() >= level {
        eprintln!("{}", text.as_ref());
    }
}

/// A warning (not under `-q`), with the reference's prefix.
pub fn warn(text: impl AsRef<str>) {
    if !quiet() {
        eprintln!("WARNING: {}", text.as_ref());
    }
}

/// Shows a pull's progress: status changes, not progress bars.
pub fn pull_progress(m: &JsonMessage) {
    if quiet() || !m.progress.is_empty() || m.status.is_empty() {
        return;
    }
    match m.id.is_empty() {
        true => eprintln!("     {}", m.status),
        false => eprintln!("     {}: {}", m.id, m.status),
    }
}

/// An S2I error whose cause is that the engine cannot be reached is reported as that cause:
/// "unable to get metadata for builder" would send the user looking at the wrong thing.
pub fn connection_first(e: Error) -> Error {
    match e {
        Error::S2i(mut s) if s.details.as_ref().is_some_and(Error::is_connection_error) => {
            s.details.take().unwrap_or(Error::S2i(s))
        }
        e => e,
    }
}

/// Prints an error the way the reference's `CheckError` does, and returns the exit code: the
/// S2I error's code, 1 for anything else.
pub fn report(e: &Error) -> u8 {
    eprintln!("ERROR: An error occurred: {e}");
    if let Some(s) = e.suggestion() {
        eprintln!("ERROR: Suggested solution: {s}");
    }
    let details = e.to_string_with_causes();
    if let Some(rest) = details.strip_prefix(&e.to_string()) {
        let rest = rest.trim_start_matches([':', ' ']);
        if !rest.is_empty() {
            eprintln!("ERROR: Details: {rest}");
        }
    }
    if let Error::Container(c) = e {
        // The kept standard error has its lines doubled with blank ones (as the reference's).
        let lines: Vec<&str> = c
            .output
            .lines()
            .map(str::trim_end)
            .filter(|l| !l.is_empty())
            .collect();
        if !lines.is_empty() {
            eprintln!("ERROR: Output:");
            for line in lines {
                eprintln!("    {line}");
            }
        }
    }
    match e {
        Error::S2i(s) => s.code as u8,
        _ => 1,
    }
}

/// Where the lines of a container's stream go.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    /// Standard error, unless `-q`.
    Log,
    /// Standard output, always (the command's own product).
    Stdout,
}

/// A writer for a container's stream whose lines are shown as they arrive, and the last 1 KiB
/// of it kept (the reference keeps a script's standard error for its error message); a
/// `watch` hides its marker. Join the handle after the writer was dropped.
pub fn line_writer(
    sink: Sink,
    keep: Option<Arc<Mutex<String>>>,
    watch: Option<Watch>,
) -> io::Result<(UnixStream, JoinHandle<()>)> {
    let (writer, reader) = UnixStream::pair()?;
    let done = stream_container_io(reader, keep, move |line| {
        let line = watch.as_ref().map_or(line, |w| w.shown(line));
        if line.is_empty() {
            return;
        }
        let end = if line.ends_with('\n') { "" } else { "\n" };
        match sink {
            Sink::Stdout => {
                let mut out = io::stdout().lock();
                let _ = write!(out, "{line}{end}");
                let _ = out.flush();
            }
            Sink::Log if !quiet() => eprint!("{line}{end}"),
            Sink::Log => {}
        }
    });
    Ok((writer, done))
}

/// The library's log on standard error, as the reference's log reads.
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.target().starts_with("s2i_docker") && m.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        match record.level() {
            log::Level::Error => eprintln!("ERROR: {}", record.args()),
            log::Level::Warn => eprintln!("WARNING: {}", record.args()),
            _ => eprintln!("{}", record.args()),
        }
    }

    fn flush(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use s2i_docker::ErrorCode;

    #[test]
    fn exit_codes_are_the_reference_codes() {
        let e = Error::s2i(
            ErrorCode::InstallRequired,
            "failed to install [assemble run]",
            "set it",
            None,
        );
        assert_eq!(report(&e), 11);
        assert_eq!(report(&Error::container("builder", 3, "oops\n\n")), 1);
        assert_eq!(report(&Error::other("anything")), 1);
    }

    #[test]
    fn an_unreachable_engine_is_reported_as_such() {
        let refused = Error::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        let wrapped = Error::inspect_image("builder:latest", refused);
        assert!(wrapped.is_connection_error());
        let shown = connection_first(wrapped);
        assert!(!matches!(shown, Error::S2i(_)), "{shown:?}");
        let other = Error::inspect_image("builder:latest", Error::api(404, "No such image"));
        assert!(matches!(connection_first(other), Error::S2i(_)));
    }
}
