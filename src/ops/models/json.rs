//! A one-pass reader of JSON replies, for the models decoded on every call (an image's inspect).
//!
//! serde_json spends most of an inspect's decode skipping the members a model leaves out, one
//! token at a time. [`Cursor`] builds a model straight from the text and skips whole values with a
//! tight loop over their tokens (strings eight bytes at a time). The text is read as bytes, with no
//! pass of its own to check it is UTF-8: outside strings only ASCII belongs, and in strings each
//! character past ASCII is checked where the scan meets it. It answers only where it is sure to answer as serde_json would: anything else (an
//! unknown kind of value where the model expects another, a duplicate member, a number that is not
//! a plain integer, nesting deeper than [`MAX_DEPTH`], a lone surrogate, any text serde_json would
//! reject) makes it give up with `None`, and the caller decodes the same text with serde_json,
//! whose result (or error) is then the answer.

use std::borrow::Cow;
use std::collections::HashMap;

/// How deep a skipped value may nest before the reader gives up (and serde_json, which skips any
/// depth, reads it).
const MAX_DEPTH: u32 = 64;

/// The bytes that end a string's plain run: `"`, `\`, the control characters (which a JSON
/// string may not hold unescaped) and every byte past ASCII (whose UTF-8 is checked apart).
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 256 {
        stops[b] = b < 0x20 || b >= 0x80 || b == b'"' as usize || b == b'\\' as usize;
        b += 1;
    }
    stops
};

/// A member's name: borrowed from the text when it has no escape. Its bytes are UTF-8.
pub(crate) type Name<'a> = Cow<'a, [u8]>;

/// A position in a JSON text, read as bytes: the text is not checked as UTF-8 beforehand, but
/// every byte past ASCII the reader passes is (in strings; elsewhere it gives up). Every reading
/// method skips the whitespace before its value and returns `None` where the reader gives up.
pub(crate) struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Cursor { bytes, at: 0 }
    }

    /// The next byte that is not whitespace, left unread.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        // Replies seldom have whitespace between tokens: the first byte is mostly the one.
        match self.bytes.get(self.at) {
            Some(&b) if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') => return Some(b),
            None => return None,
            _ => {}
        }
        let skipped = self.bytes[self.at..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
        self.at += skipped;
        self.bytes.get(self.at).copied()
    }

    #[inline]
    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        self.at += usize::from(found);
        found
    }

    #[inline]
    fn expect(&mut self, byte: u8) -> Option<()> {
        self.eat(byte).then_some(())
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        self.peek();
        let found = self.bytes[self.at..].starts_with(word);
        if found {
            self.at += word.len();
        }
        found
    }

    /// Whether the whole text has been read (whitespace may follow the value).
    pub(crate) fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// `null`, read.
    pub(crate) fn null(&mut self) -> bool {
        self.literal(b"null")
    }

    pub(crate) fn bool(&mut self) -> Option<bool> {
        if self.literal(b"true") {
            Some(true)
        } else {
            self.literal(b"false").then_some(false)
        }
    }

    /// A plain integer: no fraction, exponent or `-0` (serde_json reads those as floats), at most
    /// 18 digits.
    pub(crate) fn i64(&mut self) -> Option<i64> {
        self.peek();
        let rest = &self.bytes[self.at..];
        let negative = rest.first() == Some(&b'-');
        let digits = &rest[usize::from(negative)..];
        let n = count_digits(digits);
        let plain = match digits.first() {
            Some(b'0') => n == 1 && !negative,
            Some(b'1'..=b'9') => n <= 18,
            _ => false,
        };
        if !plain || matches!(digits.get(n), Some(b'.' | b'e' | b'E')) {
            return None;
        }
        self.at += usize::from(negative) + n;
        // At most 18 digits: no overflow.
        let value = digits[..n]
            .iter()
            .fold(0i64, |v, &d| v * 10 + i64::from(d - b'0'));
        Some(if negative { -value } else { value })
    }

    /// A string's bytes (UTF-8), borrowed from the text when it has no escape.
    #[inline(always)]
    fn string_bytes(&mut self) -> Option<Cow<'a, [u8]>> {
        self.expect(b'"')?;
        let start = self.at;
        let end = plain_end(self.bytes, start);
        if self.bytes.get(end) == Some(&b'"') {
            self.at = end + 1;
            return Some(Cow::Borrowed(&self.bytes[start..end]));
        }
        self.escaped_string(end).map(Cow::Owned)
    }

    /// The rest of a string that has an escape or a byte past ASCII, from the start of its
    /// content (the cursor) and the end of its first plain run.
    fn escaped_string(&mut self, mut end: usize) -> Option<Vec<u8>> {
        let mut owned = Vec::new();
        loop {
            owned.extend_from_slice(&self.bytes[self.at..end]);
            self.at = end + 1;
            match *self.bytes.get(end)? {
                b'"' => return Some(owned),
                b'\\' => {
                    let mut utf8 = [0; 4];
                    owned.extend_from_slice(self.escape()?.encode_utf8(&mut utf8).as_bytes());
                }
                b if b >= 0x80 => {
                    self.at = end + utf8_width(&self.bytes[end..])?;
                    owned.extend_from_slice(&self.bytes[end..self.at]);
                }
                _ => return None,
            }
            end = plain_end(self.bytes, self.at);
        }
    }

    /// A string, borrowed from the text when it has no escape.
    pub(crate) fn str(&mut self) -> Option<Cow<'a, str>> {
        Some(match self.string_bytes()? {
            Cow::Borrowed(b) => Cow::Borrowed(std::str::from_utf8(b).ok()?),
            Cow::Owned(v) => Cow::Owned(String::from_utf8(v).ok()?),
        })
    }

    pub(crate) fn string(&mut self) -> Option<String> {
        self.str().map(Cow::into_owned)
    }

    /// The character of the escape after a `\`; a lone surrogate gives up.
    fn escape(&mut self) -> Option<char> {
        let byte = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(match byte {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let unit = u32::from(self.hex4()?);
                let code = if (0xD800..0xDC00).contains(&unit) {
                    if !self.bytes[self.at..].starts_with(b"\\u") {
                        return None;
                    }
                    self.at += 2;
                    let low = u32::from(self.hex4()?);
                    if !(0xDC00..0xE000).contains(&low) {
                        return None;
                    }
                    0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                } else {
                    unit
                };
                char::from_u32(code)?
            }
            _ => return None,
        })
    }

    fn hex4(&mut self) -> Option<u16> {
        let digits = self.bytes.get(self.at..self.at + 4)?;
        let mut value = 0;
        for &d in digits {
            value = value << 4 | char::from(d).to_digit(16)? as u16;
        }
        self.at += 4;
        Some(value)
    }

    /// Reads an object, handing each member's name to `each`, which reads its value.
    pub(crate) fn members(
        &mut self,
        mut each: impl FnMut(&mut Self, Name<'a>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let name = self.string_bytes()?;
            self.expect(b':')?;
            each(self, name)?;
            if !self.eat(b',') {
                return self.expect(b'}');
            }
        }
    }

    /// Reads an array, calling `each` to read each element.
    pub(crate) fn elements(&mut self, mut each: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.expect(b'[')?;
        if self.eat(b']') {
            return Some(());
        }
        loop {
            each(self)?;
            if !self.eat(b',') {
                return self.expect(b']');
            }
        }
    }

    /// `null` as `None`, else the value `read` reads.
    pub(crate) fn or_null<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Option<T>,
    ) -> Option<Option<T>> {
        if self.null() {
            Some(None)
        } else {
            read(self).map(Some)
        }
    }

    /// An array of strings.
    pub(crate) fn strings(&mut self) -> Option<Vec<String>> {
        let mut all = Vec::new();
        self.elements(|c| {
            all.push(c.string()?);
            Some(())
        })?;
        Some(all)
    }

    /// An object of strings (a later member of the same name wins, as in serde's maps).
    pub(crate) fn string_map(&mut self) -> Option<HashMap<String, String>> {
        let mut map = HashMap::new();
        self.members(|c, name| {
            map.insert(name_string(name)?, c.string()?);
            Some(())
        })?;
        Some(map)
    }

    /// An object whose members are all `{}` (`ExposedPorts`, `Volumes`), each read as an empty
    /// JSON object.
    pub(crate) fn empty_object_map(&mut self) -> Option<HashMap<String, serde_json::Value>> {
        let mut map = HashMap::new();
        self.members(|c, name| {
            c.expect(b'{')?;
            c.expect(b'}')?;
            map.insert(
                name_string(name)?,
                serde_json::Value::Object(Default::default()),
            );
            Some(())
        })?;
        Some(map)
    }

    /// Skips one value of any kind, checking it is valid JSON.
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.at = skip_value(self.bytes, self.at)?;
        Some(())
    }
}

/// Where the whitespace from `at` ends.
#[inline(always)]
fn skip_ws(bytes: &[u8], mut at: usize) -> usize {
    while matches!(bytes.get(at), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        at += 1;
    }
    at
}

/// Skips the value at `at` (after any whitespace), checking it is valid JSON; where it ends.
///
/// One loop over the value's tokens, the containers open around it kept as bits: nesting costs
/// no call, and the position stays in a register.
fn skip_value(bytes: &[u8], mut at: usize) -> Option<usize> {
    // One bit per open container, the innermost lowest: 1 for an object, 0 for an array.
    let mut open: u64 = 0;
    let mut depth = 0;
    loop {
        // A value, or the start of one.
        at = skip_ws(bytes, at);
        match *bytes.get(at)? {
            b'"' => at = string_end(bytes, at + 1)?,
            b'-' | b'0'..=b'9' => at = number_end(bytes, at)?,
            b't' => at = word_end(bytes, at, b"true")?,
            b'f' => at = word_end(bytes, at, b"false")?,
            b'n' => at = word_end(bytes, at, b"null")?,
            byte @ (b'{' | b'[') => {
                let object = byte == b'{';
                at = skip_ws(bytes, at + 1);
                if bytes.get(at) == Some(if object { &b'}' } else { &b']' }) {
                    at += 1;
                } else {
                    if depth == MAX_DEPTH {
                        return None;
                    }
                    depth += 1;
                    open = open << 1 | u64::from(object);
                    if object {
                        at = name_end(bytes, at)?;
                    }
                    continue;
                }
            }
            _ => return None,
        }
        // After a value: close the containers that end here, then on to the next value.
        loop {
            if depth == 0 {
                return Some(at);
            }
            let object = open & 1 == 1;
            at = skip_ws(bytes, at);
            match *bytes.get(at)? {
                b',' => {
                    at += 1;
                    if object {
                        at = name_end(bytes, skip_ws(bytes, at))?;
                    }
                    break;
                }
                b'}' if object => {}
                b']' if !object => {}
                _ => return None,
            }
            at += 1;
            open >>= 1;
            depth -= 1;
        }
    }
}

/// Skips a member's name (at `at`) and the colon after it; where they end.
#[inline(always)]
fn name_end(bytes: &[u8], at: usize) -> Option<usize> {
    if bytes.get(at) != Some(&b'"') {
        return None;
    }
    let at = skip_ws(bytes, string_end(bytes, at + 1)?);
    (bytes.get(at) == Some(&b':')).then_some(at + 1)
}

/// Where the string whose content starts at `at` ends (past its closing quote), checking its
/// escapes (not decoding them: serde_json takes a lone surrogate in a value it skips) and its
/// UTF-8.
#[inline(always)]
fn string_end(bytes: &[u8], mut at: usize) -> Option<usize> {
    loop {
        at = plain_end(bytes, at);
        match *bytes.get(at)? {
            b'"' => return Some(at + 1),
            b'\\' => {
                at += match bytes.get(at + 1)? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => 2,
                    b'u' if bytes.get(at + 2..at + 6)?.iter().all(u8::is_ascii_hexdigit) => 6,
                    _ => return None,
                }
            }
            b if b >= 0x80 => at += utf8_width(&bytes[at..])?,
            _ => return None,
        }
    }
}

/// Where the literal `word` at `at` ends.
#[inline(always)]
fn word_end(bytes: &[u8], at: usize, word: &[u8]) -> Option<usize> {
    (bytes.get(at..at + word.len())? == word).then_some(at + word.len())
}

/// Where the number at `at` ends, checking JSON's grammar.
fn number_end(bytes: &[u8], at: usize) -> Option<usize> {
    let rest = &bytes[at..];
    let mut n = usize::from(rest.first() == Some(&b'-'));
    match rest.get(n)? {
        b'0' => n += 1,
        b'1'..=b'9' => n += count_digits(&rest[n..]),
        _ => return None,
    }
    if rest.get(n) == Some(&b'.') {
        let digits = count_digits(&rest[n + 1..]);
        if digits == 0 {
            return None;
        }
        n += 1 + digits;
    }
    if matches!(rest.get(n), Some(b'e' | b'E')) {
        n += 1;
        if matches!(rest.get(n), Some(b'+' | b'-')) {
            n += 1;
        }
        let digits = count_digits(&rest[n..]);
        if digits == 0 {
            return None;
        }
        n += digits;
    }
    Some(at + n)
}

/// The members of a struct read so far: serde rejects a struct whose member comes twice.
#[derive(Default)]
pub(crate) struct Seen(u64);

impl Seen {
    /// `None` when member `bit` (below 64) was read before.
    pub(crate) fn first(&mut self, bit: u32) -> Option<()> {
        let mask = 1 << bit;
        let first = self.0 & mask == 0;
        self.0 |= mask;
        first.then_some(())
    }
}

/// Where the plain run of a string's bytes from `at` ends: at the first `"`, `\\`, control
/// character or byte past ASCII, or at the end of the text.
///
/// Eight bytes at a time: in each 64-bit word, a byte past 0x7f, below 0x20 (the subtraction
/// wraps) or equal to either mark (its difference with it is zero, and wraps) sets its high bit
/// in `hits`. Only a byte past 0x7f gets the high bit otherwise, and it stops the run anyway;
/// the lowest set bit is exact, as borrows only run upwards from a true hit.
#[inline]
fn plain_end(bytes: &[u8], mut at: usize) -> usize {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    while let Some(word) = bytes.get(at..at + 8) {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let v = u64::from_le_bytes(eight);
        let hits = (v
            | v.wrapping_sub(ONES * 0x20)
            | (v ^ (ONES * u64::from(b'"'))).wrapping_sub(ONES)
            | (v ^ (ONES * u64::from(b'\\'))).wrapping_sub(ONES))
            & HIGH;
        if hits != 0 {
            return at + hits.trailing_zeros() as usize / 8;
        }
        at += 8;
    }
    while bytes.get(at).is_some_and(|&b| !STOPS[usize::from(b)]) {
        at += 1;
    }
    at
}

/// The length of the UTF-8 sequence of one character at the start of `bytes` (which starts past
/// ASCII); `None` when it is not one.
fn utf8_width(bytes: &[u8]) -> Option<usize> {
    let width = match bytes.first()? {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return None,
    };
    std::str::from_utf8(bytes.get(..width)?).ok()?;
    Some(width)
}

/// A member's name as a `String`.
fn name_string(name: Name<'_>) -> Option<String> {
    String::from_utf8(name.into_owned()).ok()
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests;
