//! `.s2iignore`: sources left out of the build, as the reference leaves them out.
//!
//! The file, at the top of the sources (of `--context-dir`), holds one pattern a line; blank
//! lines and lines starting with `#` are skipped, and white space around a pattern trimmed. A pattern
//! is a path relative to the sources in Go's `filepath.Match` syntax (`*` and `?` within one
//! path element, `[...]` classes with `^` for negation, `\` escapes), as in a `.dockerignore`:
//! not recursive, `*.log` names the top level's only. A path that a pattern names is left out
//! with all it holds; a later `!pattern` puts back what it names that earlier patterns left out
//! (the last pattern that names a path decides). The reference deletes those paths from its
//! copy of the sources; here they are left out of the tar as it is made. A pattern that does
//! not parse, or that leads out of the sources, is skipped with a warning (the reference skips
//! the first kind without a word, and deletes outside the sources with the second).

use std::io::{BufRead, BufReader};
use std::path::Path;

use s2i_docker::{Error, Result};

use crate::progress;
use crate::regex::Regex;

/// The name of the file, at the top of the sources.
pub const FILE: &str = ".s2iignore";

/// The rules of a `.s2iignore`, in its order: whether each puts paths back (`!`), and what it
/// matches.
#[derive(Debug)]
pub struct Ignore {
    rules: Vec<(bool, Rule)>,
}

impl Ignore {
    /// Reads `.s2iignore` at the top of `source`; `None` when there is none.
    ///
    /// # Errors
    /// The file exists and cannot be read.
    pub fn read(source: &Path) -> Result<Option<Ignore>> {
        let path = source.join(FILE);
        let cannot = |e| Error::other(format!("cannot read {}: {e}", path.display()));
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(cannot(e)),
        };
        let mut rules = Vec::new();
        for line in BufReader::new(file).lines() {
            let line = line.map_err(cannot)?;
            let spec = line.trim();
            if spec.is_empty() || spec.starts_with('#') {
                continue;
            }
            let (keep, pattern) = match spec.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, spec),
            };
            match rule(pattern) {
                Some(rule) => rules.push((keep, rule)),
                None => progress::warn(format!("{FILE}: {spec:?} is not a pattern of the sources")),
            }
        }
        Ok(Some(Ignore { rules }))
    }

    /// Whether the entry at `relative` (its path in the sources, with `/`; empty for the top)
    /// is left out: the last rule that matches it does not put it back.
    pub fn is_ignored(&self, relative: &str) -> bool {
        let names = |rule: &Rule| match rule {
            Rule::Top => relative.is_empty(),
            // As Go's glob, which lists what a directory holds: never the top itself.
            Rule::Paths(re) => !relative.is_empty() && re.is_match(relative),
        };
        self.rules
            .iter()
            .rev()
            .find(|(_, rule)| names(rule))
            .is_some_and(|(keep, _)| !keep)
    }
}

/// What a pattern names: the top of the sources (`.`), or the paths an expression matches.
#[derive(Debug)]
enum Rule {
    Top,
    Paths(Regex),
}

/// The expression that matches the paths `pattern` names: the pattern made relative and clean
/// (as the reference joins it to its directory), then translated; `None` when it does not
/// parse or leads out of the sources.
fn rule(pattern: &str) -> Option<Rule> {
    let cleaned = s2i_docker::archive::clean(pattern.trim_start_matches('/').as_bytes());
    let cleaned = String::from_utf8(cleaned).ok()?;
    match cleaned.as_str() {
        "." => Some(Rule::Top),
        c if c == ".." || c.starts_with("../") => None,
        c => Regex::new(&translate(c)?).ok().map(Rule::Paths),
    }
}

/// Go's `filepath.Match` pattern as an anchored expression; `None` where Go's is malformed (or
/// a class holds a character past ASCII, which is not taken).
fn translate(pattern: &str) -> Option<String> {
    let p = pattern.as_bytes();
    let mut re = b"^".to_vec();
    let mut i = 0;
    while let Some(&c) = p.get(i) {
        i += 1;
        match c {
            b'*' => re.extend_from_slice(b"[^/]*"),
            b'?' => re.extend_from_slice(b"[^/]"),
            b'\\' => {
                literal(&mut re, *p.get(i)?);
                i += 1;
            }
            b'[' => {
                re.push(b'[');
                if p.get(i) == Some(&b'^') {
                    re.push(b'^');
                    i += 1;
                }
                let mut first = true;
                while first || p.get(i) != Some(&b']') {
                    let lo = class_char(p, &mut i)?;
                    literal(&mut re, lo);
                    if p.get(i) == Some(&b'-') {
                        i += 1;
                        let hi = class_char(p, &mut i).filter(|hi| *hi >= lo)?;
                        re.push(b'-');
                        literal(&mut re, hi);
                    }
                    first = false;
                }
                re.push(b']');
                i += 1;
            }
            c => literal(&mut re, c),
        }
    }
    re.push(b'$');
    String::from_utf8(re).ok()
}

/// The character of a class at `i`, taken (`\\` escapes the next); `None` at the end, at an
/// unescaped `-` or `]`, or past ASCII.
fn class_char(p: &[u8], i: &mut usize) -> Option<u8> {
    let c = match *p.get(*i)? {
        b'-' | b']' => return None,
        b'\\' => {
            *i += 1;
            *p.get(*i)?
        }
        c => c,
    };
    *i += 1;
    c.is_ascii().then_some(c)
}

/// `c`, escaped where the expression would read it as an operator.
#[inline(always)]
fn literal(re: &mut Vec<u8>, c: u8) {
    if c.is_ascii_punctuation() {
        re.push(b'\\');
    }
    re.push(c);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(text: &str) -> Ignore {
        let dir = std::env::temp_dir().join(format!(
            "s2i-cli-ignore-{}-{}",
            std::process::id(),
            text.len()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(FILE), text).unwrap();
        let read = Ignore::read(&dir).unwrap().unwrap();
        std::fs::remove_dir_all(dir).unwrap();
        read
    }

    #[test]
    fn patterns_are_gos_and_the_last_that_matches_decides() {
        let i = ignore("# a comment\n\n  *.log  \n!keep.log\ndocs\n!docs/api\n/tmp/\n./a/../b?\n");
        for (path, ignored) in [
            ("x.log", true),
            ("keep.log", false),
            ("sub/x.log", false),
            (".hidden.log", true),
            ("docs", true),
            ("docs/api", false),
            ("tmp", true),
            ("b1", true),
            ("b12", false),
            ("a", false),
            ("", false),
        ] {
            assert_eq!(i.is_ignored(path), ignored, "{path}");
        }
    }

    #[test]
    fn classes_and_escapes_are_gos() {
        assert_eq!(translate("a[^/b-d]\\*").unwrap(), "^a[^\\/b-d]\\*$");
        let i = ignore("[a-c]?.txt\n\\[x\\].md\nv[!]\n");
        assert!(i.is_ignored("b1.txt") && !i.is_ignored("d1.txt"));
        assert!(i.is_ignored("[x].md") && !i.is_ignored("x.md"));
        assert!(i.is_ignored("v!"));
        assert!(ignore("é*.txt\n").is_ignored("été.txt"));
        // Malformed in Go: not rules at all.
        for bad in ["[]a]", "[a-]", "[z-a]", "[ab", "ab\\", "[-a]", "[é]"] {
            assert_eq!(translate(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_top_is_named_by_a_dot_and_nothing_outside_is() {
        assert!(ignore(".\n").is_ignored(""));
        let all = ignore("*\n");
        assert!(all.is_ignored("a") && !all.is_ignored(""));
        let outside = ignore("../x\n..\n");
        assert!(outside.rules.is_empty());
        let none = std::env::temp_dir().join("s2i-cli-ignore-none");
        std::fs::create_dir_all(&none).unwrap();
        assert!(Ignore::read(&none).unwrap().is_none());
        std::fs::remove_dir_all(none).unwrap();
    }
}
