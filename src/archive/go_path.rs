//! Go's `path.Clean` and `path.Base` on bytes, as the reference names entries and directories
//! with them; tar names need not be UTF-8.
//!
//! It uses nothing else of the crate (the archive may use only `error`).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};

/// Go's `path.Clean`: the shortest equivalent path, by lexical processing only.
///
/// Works on bytes (tar names need not be UTF-8); valid UTF-8 in gives valid UTF-8 out, as only
/// whole `/`-separated elements are dropped.
///
/// ```
/// use s2i_docker::archive::clean;
///
/// assert_eq!(clean(b"a//b/./c/"), b"a/b/c");
/// assert_eq!(clean(b"/a/../../b"), b"/b");
/// assert_eq!(clean(b""), b".");
/// ```
pub fn clean(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let rooted = path[0] == b'/';
    let n = path.len();
    let mut out: Vec<u8> = Vec::with_capacity(n);
    let (mut r, mut dotdot) = (0, 0);
    if rooted {
        out.push(b'/');
        r = 1;
        dotdot = 1;
    }
    while r < n {
        if path[r] == b'/' || (path[r] == b'.' && (r + 1 == n || path[r + 1] == b'/')) {
            r += 1;
        } else if path[r] == b'.'
            && path.get(r + 1) == Some(&b'.')
            && (r + 2 == n || path[r + 2] == b'/')
        {
            r += 2;
            if out.len() > dotdot {
                out.pop();
                while out.len() > dotdot && out.last() != Some(&b'/') {
                    out.pop();
                }
                if out.len() > dotdot && out.last() == Some(&b'/') {
                    out.pop();
                }
            } else if !rooted {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(b"..");
                dotdot = out.len();
            }
        } else {
            if (rooted && out.len() != 1) || (!rooted && !out.is_empty()) {
                out.push(b'/');
            }
            while r < n && path[r] != b'/' {
                out.push(path[r]);
                r += 1;
            }
        }
    }
    if out.is_empty() {
        return b".".to_vec();
    }
    out
}

pub(super) fn clean_path(p: &Path) -> PathBuf {
    PathBuf::from(OsString::from_vec(clean(p.as_os_str().as_bytes())))
}

/// Go's `path.Base`: the last element, trailing slashes removed; `.` for an empty path.
pub(super) fn go_base(path: &[u8]) -> Vec<u8> {
    if path.is_empty() {
        return b".".to_vec();
    }
    let mut end = path.len();
    while end > 0 && path[end - 1] == b'/' {
        end -= 1;
    }
    if end == 0 {
        return b"/".to_vec();
    }
    let trimmed = &path[..end];
    let start = trimmed
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(0, |i| i + 1);
    trimmed[start..].to_vec()
}

#[cfg(test)]
mod tests {
    //! Go's path functions, and the other Go behaviours the archive copies: `filepath.Dir` of a
    //! destination and PAX times.
    use super::*;
    use crate::archive::upload_dest_dir;
    use crate::archive::writer::{format_pax_time, unix_time};
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn go_path_functions() {
        let cleaned: &[(&str, &str)] = &[
            ("", "."),
            (".", "."),
            ("/", "/"),
            ("//", "/"),
            ("/a/b/", "/a/b"),
            ("a//b", "a/b"),
            ("/a/./b/../c", "/a/c"),
            ("../a", "../a"),
            ("a/../..", ".."),
            ("/..", "/"),
            ("/../a", "/a"),
            ("a/b/../../..", ".."),
            ("./", "."),
        ];
        for &(input, want) in cleaned {
            assert_eq!(clean(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
        let dirs: &[(&str, &str)] = &[
            ("/opt/app/src", "/opt/app"),
            ("/opt/app/", "/opt/app"),
            ("/opt", "/"),
            ("/", "/"),
            ("src", "."),
            ("", "."),
            ("a/b", "a"),
        ];
        for &(input, want) in dirs {
            assert_eq!(upload_dest_dir(input), want, "{input:?}");
        }
        let bases: &[(&str, &str)] = &[
            ("/opt/app/src", "src"),
            ("/opt/app/", "app"),
            ("/", "/"),
            ("", "."),
            ("a", "a"),
        ];
        for &(input, want) in bases {
            assert_eq!(go_base(input.as_bytes()), want.as_bytes(), "{input:?}");
        }
        assert_eq!(format_pax_time(5, 0), "5");
        assert_eq!(format_pax_time(5, 500_000_000), "5.5");
        assert_eq!(format_pax_time(-2, 500_000_000), "-1.5");
        assert_eq!(
            unix_time(UNIX_EPOCH - Duration::from_millis(1500)),
            (-2, 500_000_000)
        );
    }
}
