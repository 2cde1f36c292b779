//! `--use-config`: a build's arguments and flags kept in `.s2ifile` in the current directory,
//! in the reference's format, so that the next `build --use-config` needs none of them again.
//!
//! ```json
//! {"source":".","builderImage":"builder:1","tag":"app:1","flags":{"env":"A=1,B=2","incremental":"true"}}
//! ```
//!
//! Each flag keeps its value as text, under its long name. A flag given several times keeps
//! them all: `env` and `cap-drop` as one comma-separated list (which they read back as such),
//! the others as `[first,second]`, each value written as a CSV field (quoted when it holds a
//! comma or a quote), as the reference writes its list flags.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use serde::Deserialize;

/// The file, in the current directory.
pub const FILE: &str = ".s2ifile";

/// The most the file may hold: arguments and flags take a few hundred bytes.
const MAX_SIZE: usize = 1 << 20;

/// The file's old name, still read (with the reference's warning) when there is no `.s2ifile`.
const OLD_FILE: &str = ".stifile";

/// What the file holds.
#[derive(Debug, Default, PartialEq, Eq, Deserialize)]
pub struct Saved {
    #[serde(default)]
    pub source: String,
    #[serde(rename = "builderImage", default)]
    pub builder: String,
    #[serde(default)]
    pub tag: String,
    /// Long flag name to its value as text.
    #[serde(default)]
    pub flags: HashMap<String, String>,
}

impl Saved {
    /// The file's JSON, written by hand: the few lines cost the static binary less than a
    /// derived serializer.
    fn to_json(&self) -> String {
        let mut out = format!(
            "{{\"source\":{},\"builderImage\":{}",
            json_string(&self.source),
            json_string(&self.builder)
        );
        if !self.tag.is_empty() {
            out += &format!(",\"tag\":{}", json_string(&self.tag));
        }
        if !self.flags.is_empty() {
            // In the order of their names, as the reference writes them.
            let mut names: Vec<&String> = self.flags.keys().collect();
            names.sort_unstable();
            let flags: Vec<String> = names
                .into_iter()
                .map(|n| format!("{}:{}", json_string(n), json_string(&self.flags[n])))
                .collect();
            out += &format!(",\"flags\":{{{}}}", flags.join(","));
        }
        out + "}"
    }
}

/// `s` as a JSON string.
fn json_string(s: &str) -> String {
    // A string always serialises.
    serde_json::to_string(s).unwrap_or_default()
}

/// The file in `dir` (`.s2ifile`, else `.stifile`); `None` when there is neither.
///
/// # Errors
/// The file cannot be read, or is not the JSON object above; the text names the file.
pub fn restore(dir: &Path) -> Result<Option<Saved>, String> {
    let mut path = dir.join(FILE);
    let text = match read_bounded(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            path = dir.join(OLD_FILE);
            match read_bounded(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                Ok(text) => {
                    eprintln!("DEPRECATED: Use {FILE} instead of {OLD_FILE}");
                    Ok(text)
                }
                other => other,
            }
        }
        other => other,
    };
    let text = text.map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if text.len() > MAX_SIZE {
        return Err(format!(
            "{} is larger than {} KiB: it is not a file this tool wrote; remove it",
            path.display(),
            MAX_SIZE >> 10
        ));
    }
    serde_json::from_slice(&text).map(Some).map_err(|e| {
        format!(
            "cannot read {}: {e} (it holds {{\"source\", \"builderImage\", \"tag\", \"flags\"}} \
             with text values; fix it or remove it)",
            path.display()
        )
    })
}

/// The file at `path`, up to one byte past [`MAX_SIZE`] (enough to tell it is too large).
fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let mut text = Vec::new();
    std::fs::File::open(path)?
        .take(MAX_SIZE as u64 + 1)
        .read_to_end(&mut text)?;
    Ok(text)
}

/// Writes `saved` to `.s2ifile` in `dir`: a new file is readable by its owner only, as the
/// environment it keeps (`-e`) may hold secrets (the reference makes it readable by all).
///
/// # Errors
/// The file cannot be written.
pub fn save(dir: &Path, saved: &Saved) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(FILE);
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(saved.to_json().as_bytes()))
        .map_err(|e| format!("cannot save {}: {e}", path.display()))
}

/// Whether flag `name` reads one value as a comma-separated list of its own.
fn comma_list(name: &str) -> bool {
    matches!(name, "env" | "cap-drop")
}

/// The values of flag `name` (given `repeatable`, several may be given) as one text.
pub fn join(name: &str, repeatable: bool, values: &[String]) -> String {
    if !repeatable {
        return values.last().cloned().unwrap_or_default();
    }
    if comma_list(name) {
        return values.join(",");
    }
    let fields: Vec<String> = values.iter().map(|v| csv_field(v)).collect();
    format!("[{}]", fields.join(","))
}

/// The values a stored text of flag `name` stands for: the inverse of [`join`].
///
/// # Errors
/// A list with an unterminated quoted field.
pub fn split(name: &str, repeatable: bool, text: &str) -> Result<Vec<String>, String> {
    let list = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .filter(|_| repeatable && !comma_list(name));
    match list {
        None => Ok(vec![text.to_string()]),
        Some("") => Ok(Vec::new()),
        Some(fields) => csv_fields(fields).ok_or_else(|| {
            format!("{FILE}: the value {text:?} of {name:?} is not a list of CSV fields")
        }),
    }
}

/// One CSV field: quoted, with its quotes doubled, when it holds a comma, a quote or a line
/// break, starts with a space, or is empty (so that `[]` is only the empty list).
fn csv_field(value: &str) -> String {
    let quote = value.is_empty()
        || value.contains([',', '"', '\n', '\r'])
        || value.starts_with([' ', '\t']);
    if quote {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_string()
    }
}

/// The fields of one CSV record; `None` when a quoted field does not end well.
fn csv_fields(record: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = record.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            match chars.next() {
                None => {
                    fields.push(field);
                    return Some(fields);
                }
                Some(',') => {}
                Some(_) => return None,
            }
        } else {
            loop {
                match chars.next() {
                    None => {
                        fields.push(field);
                        return Some(fields);
                    }
                    Some(',') => break,
                    Some(c) => field.push(c),
                }
            }
        }
        fields.push(field);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::temp::TempDir;

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lists_come_back_as_they_went() {
        for values in [
            strings(&["/a:/b"]),
            strings(&["/a:/b", "/c,d:/e", "say \"hi\":/f", " lead:/g", ""]),
            strings(&[]),
            strings(&[""]),
        ] {
            let text = join("volume", true, &values);
            assert_eq!(split("volume", true, &text).unwrap(), values, "{text}");
        }
        assert_eq!(join("volume", true, &strings(&["a", "b,c"])), "[a,\"b,c\"]");
        // Lists of their own stay one value, which the flag splits when it is set.
        assert_eq!(join("env", true, &strings(&["A=1", "B=2,3"])), "A=1,B=2,3");
        assert_eq!(split("env", true, "[A=1]").unwrap(), ["[A=1]"]);
        // One value of a flag given once; the last of a flag given twice.
        assert_eq!(join("tag", false, &strings(&["a", "b"])), "b");
        assert_eq!(split("destination", false, "[x]").unwrap(), ["[x]"]);
        assert!(split("volume", true, "[\"a]").is_err());
        assert!(split("volume", true, "[\"a\"b]").is_err());
    }

    #[test]
    fn the_file_is_the_references() {
        let dir = TempDir::new("test-s2ifile").unwrap();
        assert_eq!(restore(dir.path()).unwrap(), None);
        // What the reference writes.
        let theirs = r#"{"source":"app","builderImage":"b:1","flags":{"incremental":"true"}}"#;
        std::fs::write(dir.path().join(OLD_FILE), theirs).unwrap();
        let old = restore(dir.path()).unwrap().unwrap();
        assert_eq!((old.source.as_str(), old.builder.as_str()), ("app", "b:1"));
        assert_eq!(old.flags["incremental"], "true");
        let mut saved = Saved {
            tag: "app:1".into(),
            ..old
        };
        save(dir.path(), &saved).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE)).unwrap();
        assert_eq!(
            text,
            r#"{"source":"app","builderImage":"b:1","tag":"app:1","flags":{"incremental":"true"}}"#
        );
        assert_eq!(restore(dir.path()).unwrap().as_ref(), Some(&saved));
        let mode = std::fs::metadata(dir.path().join(FILE))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // Any text comes back as it went.
        saved.flags.insert("env".into(), "Q=\"\\\n\u{1}é".into());
        save(dir.path(), &saved).unwrap();
        assert_eq!(restore(dir.path()).unwrap().as_ref(), Some(&saved));
        std::fs::write(dir.path().join(FILE), vec![b' '; MAX_SIZE + 1]).unwrap();
        assert!(restore(dir.path())
            .unwrap_err()
            .contains("larger than 1024 KiB"));
        std::fs::write(dir.path().join(FILE), r#"{"flags":{"rm":true}}"#).unwrap();
        let e = restore(dir.path()).unwrap_err();
        assert!(
            e.contains(".s2ifile") && e.contains("fix it or remove it"),
            "{e}"
        );
    }
}
