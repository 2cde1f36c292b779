//! A one-pass reader of JSON replies, for the models decoded on every call (an image's inspect).
//!
//! serde_json spends most of an inspect's decode skipping the members a model leaves out, one
//! token at a time. [`Cursor`] builds a model straight from the text and skips whole values with a
//! tight loop. It answers only where it is sure to answer as serde_json would: anything else (an
//! unknown kind of value where the model expects another, a duplicate member, a number that is not
//! a plain integer, nesting deeper than [`MAX_DEPTH`], a lone surrogate, any text serde_json would
//! reject) makes it give up with `None`, and the caller decodes the same text with serde_json,
//! whose result (or error) is then the answer.

use std::borrow::Cow;
use std::collections::HashMap;

/// How deep a skipped value may nest before the reader gives up (and serde_json, which skips any
/// depth, reads it).
const MAX_DEPTH: u32 = 64;

/// The bytes that end a string's plain run: `"`, `\` and the control characters (which a JSON
/// string may not hold unescaped).
static STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        stops[b] = true;
        b += 1;
    }
    stops[b'"' as usize] = true;
    stops[b'\\' as usize] = true;
    stops
};

/// A position in a JSON text. Every reading method skips the whitespace before its value and
/// returns `None` where the reader gives up.
pub(crate) struct Cursor<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Cursor<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Cursor { text, at: 0 }
    }

    #[inline]
    fn rest(&self) -> &'a [u8] {
        self.text.as_bytes().get(self.at..).unwrap_or_default()
    }

    /// The next byte that is not whitespace, left unread.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        // Replies seldom have whitespace between tokens: the first byte is mostly the one.
        match self.rest().first() {
            Some(&b) if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') => return Some(b),
            _ => {}
        }
        let skipped = self
            .rest()
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))?;
        self.at += skipped;
        self.rest().first().copied()
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
        let found = self.rest().starts_with(word);
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
        let start = self.at;
        let rest = self.rest();
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
        self.text[start..self.at].parse().ok()
    }

    /// A string, borrowed from the text when it has no escape.
    pub(crate) fn str(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.at;
        let run = plain_run(self.rest())?;
        self.at += run + 1;
        if self.text.as_bytes()[self.at - 1] == b'"' {
            return Some(Cow::Borrowed(&self.text[start..self.at - 1]));
        }
        self.at = start;
        self.escaped_str().map(Cow::Owned)
    }

    /// A string that has an escape or a control character, from after its opening quote.
    fn escaped_str(&mut self) -> Option<String> {
        let mut start = self.at;
        let mut owned = String::new();
        loop {
            let run = plain_run(self.rest())?;
            let plain = &self.text[start..self.at + run];
            self.at += run + 1;
            match self.text.as_bytes()[self.at - 1] {
                b'"' => {
                    owned.push_str(plain);
                    return Some(owned);
                }
                b'\\' => {
                    owned.push_str(plain);
                    owned.push(self.escape()?);
                    start = self.at;
                }
                _ => return None,
            }
        }
    }

    pub(crate) fn string(&mut self) -> Option<String> {
        self.str().map(Cow::into_owned)
    }

    /// The character of the escape after a `\`; a lone surrogate gives up.
    fn escape(&mut self) -> Option<char> {
        let byte = *self.rest().first()?;
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
                    if !self.rest().starts_with(b"\\u") {
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
        let digits = self.rest().get(..4)?;
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
        mut each: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.expect(b'{')?;
        if self.eat(b'}') {
            return Some(());
        }
        loop {
            let name = self.str()?;
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
            map.insert(name.into_owned(), c.string()?);
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
                name.into_owned(),
                serde_json::Value::Object(Default::default()),
            );
            Some(())
        })?;
        Some(map)
    }

    /// Skips one value of any kind, checking it is valid JSON.
    pub(crate) fn skip(&mut self) -> Option<()> {
        self.skip_within(MAX_DEPTH)
    }

    fn skip_within(&mut self, depth: u32) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                let depth = depth.checked_sub(1)?;
                self.expect(b'{')?;
                if self.eat(b'}') {
                    return Some(());
                }
                loop {
                    self.peek();
                    self.skip_string()?;
                    self.expect(b':')?;
                    self.skip_within(depth)?;
                    if !self.eat(b',') {
                        return self.expect(b'}');
                    }
                }
            }
            b'[' => {
                let depth = depth.checked_sub(1)?;
                self.elements(|c| c.skip_within(depth))
            }
            b't' => self.literal(b"true").then_some(()),
            b'f' => self.literal(b"false").then_some(()),
            b'n' => self.null().then_some(()),
            b'-' | b'0'..=b'9' => self.skip_number(),
            _ => None,
        }
    }

    /// Skips a string (the cursor is on its opening quote), checking its escapes.
    #[inline]
    fn skip_string(&mut self) -> Option<()> {
        if self.rest().first() != Some(&b'"') {
            return None;
        }
        self.at += 1;
        loop {
            self.at += plain_run(self.rest())? + 1;
            match self.text.as_bytes()[self.at - 1] {
                b'"' => return Some(()),
                b'\\' => {
                    match self.rest().first()? {
                        b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => self.at += 1,
                        b'u' => {
                            self.at += 1;
                            self.hex4()?;
                        }
                        _ => return None,
                    };
                }
                _ => return None,
            }
        }
    }

    /// Skips a number (the cursor is on its first byte), checking JSON's grammar.
    fn skip_number(&mut self) -> Option<()> {
        let rest = self.rest();
        let mut at = usize::from(rest.first() == Some(&b'-'));
        match rest.get(at)? {
            b'0' => at += 1,
            b'1'..=b'9' => at += count_digits(&rest[at..]),
            _ => return None,
        }
        if rest.get(at) == Some(&b'.') {
            let n = count_digits(&rest[at + 1..]);
            if n == 0 {
                return None;
            }
            at += 1 + n;
        }
        if matches!(rest.get(at), Some(b'e' | b'E')) {
            at += 1;
            if matches!(rest.get(at), Some(b'+' | b'-')) {
                at += 1;
            }
            let n = count_digits(&rest[at..]);
            if n == 0 {
                return None;
            }
            at += n;
        }
        self.at += at;
        Some(())
    }
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

/// The length of the plain run at the start of a string's remaining bytes, up to (not counting)
/// its first `"`, `\\` or control character; `None` when there is none.
///
/// Eight bytes at a time: in each 64-bit word, a byte below 0x20 or equal to either mark sets its
/// high bit in `hits` (the lowest set bit is exact: borrows only run upwards from a true hit).
#[inline]
fn plain_run(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::MAX / 255;
    const HIGH: u64 = ONES << 7;
    let mut words = bytes.chunks_exact(8);
    for (i, word) in words.by_ref().enumerate() {
        let mut eight = [0; 8];
        eight.copy_from_slice(word);
        let v = u64::from_le_bytes(eight);
        let quote = v ^ (ONES * u64::from(b'"'));
        let backslash = v ^ (ONES * u64::from(b'\\'));
        let hits = (v.wrapping_sub(ONES * 0x20) & !v
            | quote.wrapping_sub(ONES) & !quote
            | backslash.wrapping_sub(ONES) & !backslash)
            & HIGH;
        if hits != 0 {
            return Some(i * 8 + hits.trailing_zeros() as usize / 8);
        }
    }
    let tail = words.remainder();
    let n = tail.iter().position(|&b| STOPS[usize::from(b)])?;
    Some(bytes.len() - tail.len() + n)
}

fn count_digits(bytes: &[u8]) -> usize {
    bytes.iter().take_while(|b| b.is_ascii_digit()).count()
}

#[cfg(test)]
mod tests;
