//! User ID ranges (the reference's `pkg/util/user`) and the user checks built on them.
//!
//! A [`RangeList`] is what S2I's `--allowed-uids` flag holds: comma-separated ranges such as
//! `1-`, `1000-2000` or `-99`, each bound inclusive and optional. [`is_user_allowed`] tells whether
//! an image's user is a number inside the list.
//!
//! ```
//! use s2i_docker::user::{is_user_allowed, parse_range_list};
//!
//! let allowed = parse_range_list("1-,0-0")?;
//! assert!(is_user_allowed("1001", &allowed));
//! assert!(!is_user_allowed("root", &allowed)); // only numeric users can be checked
//! assert_eq!(allowed.to_string(), "1-,0");
//! # Ok::<(), s2i_docker::Error>(())
//! ```
//!
//! Numbers follow Go's `strconv.Atoi`, so a `+` sign and leading zeros are accepted and the
//! error texts are the reference's, byte for byte.
//!
//! A leaf beside the layers: it uses only `error`.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// The text of the reference's `ErrInvalidRange`.
const INVALID_RANGE: &str = "invalid range; a range must consist of positive integers and the upper bound must be greater than or equal to the lower bound";

/// The text of the reference's `ErrParseRange` (followed by `: <cause>` when there is one).
const PARSE_RANGE: &str = "error parsing range; a range must be of one of the following formats: [n], [-n], [n-], [n:m] where n and m are positive numbers and m is greater than or equal to n";

fn invalid_range() -> Error {
    Error::InvalidInput(INVALID_RANGE.into())
}

fn parse_range_error(cause: Option<AtoiError>) -> Error {
    match cause {
        Some(c) => Error::InvalidInput(format!("{PARSE_RANGE}: {c}")),
        None => Error::InvalidInput(PARSE_RANGE.into()),
    }
}

/// A range of user IDs, each bound optional and inclusive.
///
/// A range without bounds is *empty*: it contains nothing (it is what an empty string parses to).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Range {
    from: Option<i64>,
    to: Option<i64>,
}

/// `[from, to]`: both bounds.
///
/// # Errors
/// A negative bound, or `to < from`: the reference's `ErrInvalidRange` text.
pub fn new_range(from: i64, to: i64) -> Result<Range> {
    checked_range(Some(from), Some(to))
}

/// `[-to]`: every ID up to `to`.
///
/// # Errors
/// A negative bound: the reference's `ErrInvalidRange` text.
pub fn new_range_to(to: i64) -> Result<Range> {
    checked_range(None, Some(to))
}

/// `[from-]`: every ID from `from` on.
///
/// # Errors
/// A negative bound: the reference's `ErrInvalidRange` text.
pub fn new_range_from(from: i64) -> Result<Range> {
    checked_range(Some(from), None)
}

fn checked_range(from: Option<i64>, to: Option<i64>) -> Result<Range> {
    if from.is_some_and(|f| f < 0) || to.is_some_and(|t| t < 0) {
        return Err(invalid_range());
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            return Err(invalid_range());
        }
    }
    Ok(Range { from, to })
}

/// Parses one range: `n`, `-n`, `n-`, `n-m`, or an empty string (an empty range).
///
/// Surrounding whitespace is trimmed; inner whitespace is not (`"1 - 5"` fails on `"1 "`).
///
/// # Errors
/// The reference's `ErrParseRange` text (with the `strconv.Atoi` cause when a number is
/// malformed or out of the 64-bit range), or its `ErrInvalidRange` text when `m < n`.
///
/// # Example
/// ```
/// use s2i_docker::user::parse_range;
///
/// let r = parse_range(" 1000-2000 ")?;
/// assert_eq!((r.from(), r.to()), (Some(1000), Some(2000)));
/// assert!(parse_range("-99")?.contains(0));
/// assert!(parse_range("").unwrap().is_empty());
/// assert!(parse_range("5-1").is_err());
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn parse_range(value: &str) -> Result<Range> {
    let value = value.trim();
    if value.is_empty() {
        return Ok(Range::default());
    }
    let parts: Vec<&str> = value.split('-').collect();
    match parts.as_slice() {
        [n] => {
            let n = atoi(n).map_err(|e| parse_range_error(Some(e)))?;
            new_range(n, n)
        }
        [left, right] => {
            let bound = |s: &str| -> Result<Option<i64>> {
                if s.is_empty() {
                    Ok(None)
                } else {
                    atoi(s).map(Some).map_err(|e| parse_range_error(Some(e)))
                }
            };
            let from = bound(left)?;
            let to = bound(right)?;
            checked_range(from, to)
        }
        _ => Err(parse_range_error(None)),
    }
}

impl Range {
    /// The lower bound, if any.
    pub fn from(&self) -> Option<i64> {
        self.from
    }

    /// The upper bound, if any.
    pub fn to(&self) -> Option<i64> {
        self.to
    }

    /// No bounds at all (the Go `Empty`); an empty range contains nothing.
    pub fn is_empty(&self) -> bool {
        self.from.is_none() && self.to.is_none()
    }

    /// Whether `value` lies within the bounds.
    pub fn contains(&self, value: i64) -> bool {
        if self.is_empty() {
            return false;
        }
        if self.from.is_some_and(|f| value < f) {
            return false;
        }
        if self.to.is_some_and(|t| value > t) {
            return false;
        }
        true
    }
}

impl fmt::Display for Range {
    /// The range as [`parse_range`] reads it back: `""`, `-n`, `n-`, `n` or `n-m`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.from, self.to) {
            (None, None) => Ok(()),
            (None, Some(t)) => write!(f, "-{t}"),
            (Some(from), None) => write!(f, "{from}-"),
            (Some(from), Some(t)) if from == t => write!(f, "{from}"),
            (Some(from), Some(t)) => write!(f, "{from}-{t}"),
        }
    }
}

impl FromStr for Range {
    type Err = Error;

    /// Same as [`parse_range`].
    fn from_str(s: &str) -> Result<Self> {
        parse_range(s)
    }
}

/// A list of [`Range`]s: an ID is in the list when any range contains it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RangeList(Vec<Range>);

/// Parses comma-separated ranges; `""` is the empty list, and empty parts are empty ranges.
///
/// # Errors
/// The first range that fails to parse, as [`parse_range`] reports it.
///
/// # Example
/// ```
/// use s2i_docker::user::parse_range_list;
///
/// let list = parse_range_list("1000-2000,5000")?;
/// assert!(list.contains(1500) && list.contains(5000) && !list.contains(0));
/// assert_eq!(list.to_string(), "1000-2000,5000");
/// assert!(parse_range_list("")?.is_empty());
/// assert!(parse_range_list("1-2-3").is_err());
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn parse_range_list(value: &str) -> Result<RangeList> {
    if value.is_empty() {
        return Ok(RangeList::default());
    }
    value
        .split(',')
        .map(parse_range)
        .collect::<Result<Vec<_>>>()
        .map(RangeList)
}

impl RangeList {
    /// The ranges, in the order they were given.
    pub fn ranges(&self) -> &[Range] {
        &self.0
    }

    /// No ranges, or only empty ones (the Go `Empty`): such a list restricts nothing.
    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Range::is_empty)
    }

    /// Whether any range contains `uid`.
    pub fn contains(&self, uid: i64) -> bool {
        self.0.iter().any(|r| r.contains(uid))
    }
}

impl From<Vec<Range>> for RangeList {
    fn from(ranges: Vec<Range>) -> Self {
        RangeList(ranges)
    }
}

impl fmt::Display for RangeList {
    /// The ranges joined by `,`, as [`parse_range_list`] reads them back. A list of one empty
    /// range prints as `-` (an empty range alone would print as `""`, the list of none).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.0.as_slice() {
            if only.is_empty() {
                return f.write_str("-");
            }
        }
        for (i, r) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

impl FromStr for RangeList {
    type Err = Error;

    /// Same as [`parse_range_list`].
    fn from_str(s: &str) -> Result<Self> {
        parse_range_list(s)
    }
}

/// Whether `user` may run a build: always when `allowed` is empty; otherwise only a numeric user
/// (Go `Atoi` syntax, e.g. `1001`, `+5`, `05`) inside one of the ranges.
///
/// `user` is taken as given: strip a `:group` part first (see the crate's user checks).
///
/// # Example
/// ```
/// use s2i_docker::user::{is_user_allowed, parse_range_list, RangeList};
///
/// let allowed = parse_range_list("1-")?;
/// assert!(is_user_allowed("1001", &allowed));
/// assert!(!is_user_allowed("0", &allowed));
/// assert!(!is_user_allowed("1001:0", &allowed)); // the group is the caller's to strip
/// assert!(is_user_allowed("root", &RangeList::default())); // no list, no restriction
/// # Ok::<(), s2i_docker::Error>(())
/// ```
pub fn is_user_allowed(user: &str, allowed: &RangeList) -> bool {
    if allowed.is_empty() {
        return true;
    }
    match atoi(user) {
        Ok(uid) => allowed.contains(uid),
        Err(_) => false,
    }
}

/// The user part of a `user[:group]` spec, trimmed (the reference's `extractUser`).
pub(crate) fn extract_user(spec: &str) -> String {
    let user = match spec.split_once(':') {
        Some((user, _)) => user,
        None => spec,
    };
    user.trim().to_string()
}

/// The users that an image's ONBUILD triggers switch to (the reference's `extractOnBuildUsers`).
///
/// A trigger counts when its first word (split on the first run of tab, vertical tab, form feed,
/// carriage return or space) is `USER` in any case; a bare `USER` yields the user `""`, which no
/// non-empty range list allows.
pub(crate) fn extract_on_build_users<S: AsRef<str>>(triggers: &[S]) -> Vec<String> {
    fn is_sep(c: char) -> bool {
        matches!(c, '\t' | '\u{0b}' | '\u{0c}' | '\r' | ' ')
    }
    let mut users = Vec::new();
    for trigger in triggers {
        let trigger = trigger.as_ref();
        let (first, rest) = match trigger.find(is_sep) {
            Some(start) => {
                let after = &trigger[start..];
                let end = after.find(|c| !is_sep(c)).unwrap_or(after.len());
                (&trigger[..start], &after[end..])
            }
            None => (trigger, ""),
        };
        if first.eq_ignore_ascii_case("user") {
            users.push(extract_user(rest));
        }
    }
    users
}

/// A failed Go `strconv.Atoi`, printed with the reference's text.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AtoiError {
    num: String,
    out_of_range: bool,
}

impl fmt::Display for AtoiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let reason = if self.out_of_range {
            "value out of range"
        } else {
            "invalid syntax"
        };
        write!(f, "strconv.Atoi: parsing {}: {reason}", go_quote(&self.num))
    }
}

/// Go's `strconv.Atoi` on a 64-bit platform: an optional sign, then decimal digits only.
///
/// As in Go, the first problem met while scanning decides the error: an overflow before a bad
/// character is a range error.
fn atoi(s: &str) -> std::result::Result<i64, AtoiError> {
    let err = |out_of_range| AtoiError {
        num: s.to_string(),
        out_of_range,
    };
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() {
        return Err(err(false));
    }
    let mut n: u64 = 0;
    for b in digits.bytes() {
        if !b.is_ascii_digit() {
            return Err(err(false));
        }
        n = match n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
        {
            Some(n) => n,
            None => return Err(err(true)),
        };
    }
    let limit = 1u64 << 63;
    if neg {
        if n > limit {
            return Err(err(true));
        }
        // `n <= 2^63`, so the wrapping negation lands exactly on the value (i64::MIN for 2^63).
        Ok((n as i64).wrapping_neg())
    } else if n >= limit {
        Err(err(true))
    } else {
        Ok(n as i64)
    }
}

/// Go's `strconv.Quote` for the strings that reach an error message here.
fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{07}' => out.push_str("\\a"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{0b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(cause: &str) -> String {
        format!("{PARSE_RANGE}: {cause}")
    }

    #[test]
    fn error_texts_are_the_references() {
        assert_eq!(
            INVALID_RANGE,
            "invalid range; a range must consist of positive integers and the upper bound must be greater than or equal to the lower bound"
        );
        assert_eq!(
            parse_range("1-2-3").unwrap_err().to_string(),
            "error parsing range; a range must be of one of the following formats: [n], [-n], [n-], [n:m] where n and m are positive numbers and m is greater than or equal to n"
        );
        assert_eq!(
            parse_range("abc").unwrap_err().to_string(),
            "error parsing range; a range must be of one of the following formats: [n], [-n], [n-], [n:m] where n and m are positive numbers and m is greater than or equal to n: strconv.Atoi: parsing \"abc\": invalid syntax"
        );
    }

    #[test]
    fn parse_range_table() {
        // (input, Ok((from, to, display)) or Err(text))
        type Case = (
            &'static str,
            std::result::Result<(Option<i64>, Option<i64>, &'static str), String>,
        );
        let cases: Vec<Case> = vec![
            ("", Ok((None, None, ""))),
            ("   ", Ok((None, None, ""))),
            ("5", Ok((Some(5), Some(5), "5"))),
            (" 5 ", Ok((Some(5), Some(5), "5"))),
            ("\t5\n", Ok((Some(5), Some(5), "5"))),
            ("+5", Ok((Some(5), Some(5), "5"))),
            ("007", Ok((Some(7), Some(7), "7"))),
            ("-5", Ok((None, Some(5), "-5"))),
            ("5-", Ok((Some(5), None, "5-"))),
            ("1-5", Ok((Some(1), Some(5), "1-5"))),
            ("5-5", Ok((Some(5), Some(5), "5"))),
            ("+1-+5", Ok((Some(1), Some(5), "1-5"))),
            ("-", Ok((None, None, ""))),
            ("-0", Ok((None, Some(0), "-0"))),
            ("0-", Ok((Some(0), None, "0-"))),
            ("5-1", Err(INVALID_RANGE.to_string())),
            ("1-2-3", Err(PARSE_RANGE.to_string())),
            ("--5", Err(PARSE_RANGE.to_string())),
            (
                "1 - 5",
                Err(parse_err("strconv.Atoi: parsing \"1 \": invalid syntax")),
            ),
            (
                "abc",
                Err(parse_err("strconv.Atoi: parsing \"abc\": invalid syntax")),
            ),
            (
                "+",
                Err(parse_err("strconv.Atoi: parsing \"+\": invalid syntax")),
            ),
            (
                "1-x",
                Err(parse_err("strconv.Atoi: parsing \"x\": invalid syntax")),
            ),
            (
                "1_000",
                Err(parse_err("strconv.Atoi: parsing \"1_000\": invalid syntax")),
            ),
            (
                "99999999999999999999",
                Err(parse_err(
                    "strconv.Atoi: parsing \"99999999999999999999\": value out of range",
                )),
            ),
            (
                "9223372036854775808",
                Err(parse_err(
                    "strconv.Atoi: parsing \"9223372036854775808\": value out of range",
                )),
            ),
            (
                "9223372036854775807",
                Ok((Some(i64::MAX), Some(i64::MAX), "9223372036854775807")),
            ),
            (
                // Overflow is met before the bad character, so Go reports the range error.
                "99999999999999999999x",
                Err(parse_err(
                    "strconv.Atoi: parsing \"99999999999999999999x\": value out of range",
                )),
            ),
            (
                "5x",
                Err(parse_err("strconv.Atoi: parsing \"5x\": invalid syntax")),
            ),
            (
                "1\u{7}",
                Err(parse_err("strconv.Atoi: parsing \"1\\a\": invalid syntax")),
            ),
        ];
        for (input, want) in cases {
            let got = parse_range(input);
            match (got, want) {
                (Ok(r), Ok((from, to, shown))) => {
                    assert_eq!((r.from(), r.to()), (from, to), "{input:?}");
                    assert_eq!(r.to_string(), shown, "{input:?}");
                    assert_eq!(input.parse::<Range>().unwrap(), r, "{input:?}");
                }
                (Err(e), Err(text)) => {
                    assert!(matches!(e, Error::InvalidInput(_)), "{input:?}");
                    assert_eq!(e.to_string(), text, "{input:?}");
                }
                (got, want) => panic!("{input:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn a_list_prints_as_it_reads_back() {
        for (input, shown) in [
            ("", ""),
            ("-", "-"),
            (" ", "-"),
            (",", ","),
            ("1-5,7", "1-5,7"),
            ("-,3", ",3"),
        ] {
            let list = parse_range_list(input).unwrap();
            assert_eq!(list.to_string(), shown, "{input:?}");
            assert_eq!(parse_range_list(shown).unwrap(), list, "{input:?}");
        }
    }

    #[test]
    fn constructors() {
        assert_eq!(new_range(1, 5).unwrap().to_string(), "1-5");
        assert_eq!(new_range(3, 3).unwrap().to_string(), "3");
        assert_eq!(new_range_to(9).unwrap().to_string(), "-9");
        assert_eq!(new_range_from(9).unwrap().to_string(), "9-");
        for e in [
            new_range(5, 1).unwrap_err(),
            new_range(-1, 5).unwrap_err(),
            new_range(1, -5).unwrap_err(),
            new_range_to(-1).unwrap_err(),
            new_range_from(-1).unwrap_err(),
        ] {
            assert_eq!(e.to_string(), INVALID_RANGE);
        }
    }

    #[test]
    fn contains() {
        let empty = Range::default();
        assert!(empty.is_empty());
        assert!(!empty.contains(0));
        let r = parse_range("10-20").unwrap();
        assert!(!r.contains(9) && r.contains(10) && r.contains(20) && !r.contains(21));
        let to = parse_range("-5").unwrap();
        assert!(to.contains(-100) && to.contains(5) && !to.contains(6));
        let from = parse_range("5-").unwrap();
        assert!(!from.contains(4) && from.contains(5) && from.contains(i64::MAX));
    }

    #[test]
    fn parse_range_list_table() {
        // (input, display, number of ranges, is_empty)
        let cases: &[(&str, &str, usize, bool)] = &[
            ("", "", 0, true),
            ("1", "1", 1, false),
            ("1, 2", "1,2", 2, false),
            (",", ",", 2, true),
            ("1,,2", "1,,2", 3, false),
            ("1-5,100-", "1-5,100-", 2, false),
            (" -", "-", 1, true),
        ];
        for &(input, shown, n, empty) in cases {
            let l = parse_range_list(input).unwrap();
            assert_eq!(l.to_string(), shown, "{input:?}");
            assert_eq!(l.ranges().len(), n, "{input:?}");
            assert_eq!(l.is_empty(), empty, "{input:?}");
            assert_eq!(input.parse::<RangeList>().unwrap(), l);
        }
        let e = parse_range_list("1,x,5-1").unwrap_err();
        assert_eq!(
            e.to_string(),
            parse_err("strconv.Atoi: parsing \"x\": invalid syntax")
        );
        assert_eq!(
            parse_range_list("1,5-1").unwrap_err().to_string(),
            INVALID_RANGE
        );
        let l = parse_range_list("1-3,10").unwrap();
        assert!(l.contains(2) && l.contains(10) && !l.contains(5));
        assert_eq!(RangeList::default(), parse_range_list("").unwrap());
    }

    #[test]
    fn is_user_allowed_table() {
        let from1 = parse_range_list("1-").unwrap();
        let cases: &[(&str, bool)] = &[
            ("0", false),
            ("5", true),
            ("+5", true),
            ("-5", false),
            (" 5", false),
            ("5 ", false),
            ("root", false),
            ("", false),
            ("05", true),
            ("1001:0", false),
            ("99999999999999999999", false),
        ];
        for &(user, want) in cases {
            assert_eq!(is_user_allowed(user, &from1), want, "{user:?}");
        }
        // An empty list restricts nothing, even non-numeric users.
        for list in ["", ",", "-"] {
            let l = parse_range_list(list).unwrap();
            assert!(is_user_allowed("root", &l), "{list:?}");
            assert!(is_user_allowed("", &l), "{list:?}");
        }
    }

    #[test]
    fn extract_user_table() {
        let cases: &[(&str, &str)] = &[
            ("1001", "1001"),
            (" 1001 ", "1001"),
            ("1001:0", "1001"),
            ("root:wheel", "root"),
            (" foo :bar:baz", "foo"),
            (":0", ""),
            ("", ""),
        ];
        for &(spec, want) in cases {
            assert_eq!(extract_user(spec), want, "{spec:?}");
        }
    }

    #[test]
    fn on_build_users_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("USER 500", Some("500")),
            ("user\tfoo:bar", Some("foo")),
            ("USER  10:100 ", Some("10")),
            ("User root:wheel", Some("root")),
            ("USER\u{0b}\u{0c}\r 7", Some("7")),
            ("USERX 5", None),
            (" USER 5", None),
            ("RUN echo USER 5", None),
            // The reference panics here; a bare USER is the empty user.
            ("USER", Some("")),
            ("USER ", Some("")),
            // A newline is not a separator.
            ("USER\n5", None),
        ];
        for &(trigger, want) in cases {
            let got = extract_on_build_users(&[trigger]);
            let want: Vec<String> = want.iter().map(|s| s.to_string()).collect();
            assert_eq!(got, want, "{trigger:?}");
        }
        let all = extract_on_build_users(&["RUN make", "USER 1", "user 2:3", "ENV A=B"]);
        assert_eq!(all, ["1", "2"]);
        assert!(extract_on_build_users::<&str>(&[]).is_empty());
    }

    #[test]
    fn go_quote_matches_go() {
        assert_eq!(go_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(go_quote("\u{0}\u{1b}\u{7f}"), "\"\\x00\\x1b\\x7f\"");
        assert_eq!(go_quote("é\u{85}"), "\"é\\u0085\"");
    }
}
