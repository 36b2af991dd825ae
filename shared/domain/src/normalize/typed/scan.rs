//! A hand-written JSON scanner over one record line, for the typed fast path: one pass over the
//! line's bytes, strings borrowed from the line (decoded only when they hold a backslash), values
//! the reader does not want checked and skipped without being built. It accepts exactly what
//! `serde_json` accepts when it parses the line into a `serde_json::Value` (the `Value` path), or
//! less: anything it is not sure of (a key with an escape, deep nesting, a number it cannot judge
//! cheaply and `serde_json` refuses) is a [`Decline`], and the record then takes the `Value` path,
//! which reads it, or quarantines it, as before. A decline is never wrong, only slower; an
//! acceptance must mean `serde_json` would have accepted the line too.
//!
//! The rules followed (serde_json 1.0's `read.rs` and `de.rs`): whitespace is space, tab, line
//! feed and carriage return (the last two declined here: see [`Scan::peek`]); a string may not
//! hold a control character (below 0x20) raw, and its bytes must be UTF-8 (checked here only for
//! a string that is not ASCII; bytes outside strings must be ASCII); escapes are
//! `\" \\ \/ \b \f \n \r \t` and `\uXXXX` (hex in either case), where a surrogate must be a
//! leading one followed at once by `\u` and a trailing one; numbers are RFC 8259 numbers, and a
//! number too large for an `f64` is an error; nesting is limited (serde_json: 128 levels; here
//! fewer, declined).

/// The scanner cannot take the line exactly as the `Value` path would: that path reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decline;

pub type Scanned<T> = Result<T, Decline>;

/// Nesting deeper than this is declined (serde_json's own limit is 128; the Graph shapes nest
/// four levels).
const MAX_DEPTH: u32 = 64;

/// The key serde_json's `Value` treats as a raw-value marker; a record holding it anywhere goes
/// to the `Value` path rather than be read differently.
const RAW_VALUE_TOKEN: &[u8] = b"$serde_json::private::RawValue";

/// A JSON string of the line, as written (escapes not decoded). Its bytes are UTF-8 (checked
/// when they are not all ASCII).
#[derive(Debug, Clone, Copy)]
pub struct Str<'a> {
    /// The string with its quotes.
    pub json: &'a [u8],
    pub escapes: Escapes,
}

impl<'a> Str<'a> {
    /// The content between the quotes.
    pub fn raw(&self) -> &'a [u8] {
        content(self.json)
    }
}

/// The content of a JSON string token (its quotes dropped).
#[inline]
pub fn content(json: &[u8]) -> &[u8] {
    json.get(1..json.len().saturating_sub(1))
        .unwrap_or_default()
}

/// Bytes the scanner has checked to be UTF-8 (a string's, or ASCII ones), as text.
#[inline]
pub fn text(bytes: &[u8]) -> Scanned<&str> {
    std::str::from_utf8(bytes).map_err(|_| Decline)
}

/// The escapes in a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escapes {
    /// None: the content is the string's value.
    None,
    /// Only `\"` and `\\`: the content is the string as serde_json writes it.
    Simple,
    /// Others.
    Other,
}

/// The scanner: the line and a position in it. The line is bytes, not yet known to be UTF-8:
/// bytes outside strings must be ASCII (anything else is declined), and a string holding bytes
/// of 0x80 or more is checked to be UTF-8, so a line the scanner takes is UTF-8 as a whole.
pub struct Scan<'a> {
    b: &'a [u8],
    i: usize,
    depth: u32,
}

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The bytes of `w` that end a run of plain string content (a quote, a backslash or a control
/// character), as the high bit of each: eight bytes tested at once. Only the lowest flagged byte
/// is exact (a borrow can flag bytes above it), which is the only one used. Bytes of 0x80 and
/// above (UTF-8 sequences) are never flagged.
#[inline(always)]
fn specials(w: u64) -> u64 {
    let quote = w ^ (ONES * u64::from(b'"'));
    let backslash = w ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES) | w.wrapping_sub(ONES * 0x20))
        & !w
        & HIGH
}

/// The value of one hex digit, as serde_json reads them (either case).
#[inline]
fn hex(b: u8) -> Option<u16> {
    match b {
        b'0'..=b'9' => Some(u16::from(b - b'0')),
        b'a'..=b'f' => Some(u16::from(b - b'a' + 10)),
        b'A'..=b'F' => Some(u16::from(b - b'A' + 10)),
        _ => None,
    }
}

/// The four hex digits at `b[i..i + 4]`.
#[inline]
fn hex4(b: &[u8], i: usize) -> Scanned<u16> {
    let d = b.get(i..i + 4).ok_or(Decline)?;
    let mut n = 0u16;
    for &c in d {
        n = (n << 4) | hex(c).ok_or(Decline)?;
    }
    Ok(n)
}

/// The escape starting at the backslash `b[i]`: its length in bytes and the character it
/// stands for, refused as serde_json refuses it when the string is read as text.
#[inline]
fn escape(b: &[u8], i: usize) -> Scanned<(usize, char)> {
    let c = match b.get(i + 1).ok_or(Decline)? {
        b'"' => '"',
        b'\\' => '\\',
        b'/' => '/',
        b'b' => '\u{8}',
        b'f' => '\u{c}',
        b'n' => '\n',
        b'r' => '\r',
        b't' => '\t',
        b'u' => return unicode_escape(b, i),
        _ => return Err(Decline),
    };
    Ok((2, c))
}

#[cold]
fn unicode_escape(b: &[u8], i: usize) -> Scanned<(usize, char)> {
    let n = hex4(b, i + 2)?;
    match n {
        // A trailing surrogate first: serde_json's "lone leading surrogate" error.
        0xDC00..=0xDFFF => Err(Decline),
        0xD800..=0xDBFF => {
            // It must be followed by `\u` and a trailing surrogate.
            if b.get(i + 6..i + 8) != Some(b"\\u") {
                return Err(Decline);
            }
            let n2 = hex4(b, i + 8)?;
            if !(0xDC00..=0xDFFF).contains(&n2) {
                return Err(Decline);
            }
            let c = 0x1_0000 + ((u32::from(n - 0xD800) << 10) | u32::from(n2 - 0xDC00));
            Ok((12, char::from_u32(c).ok_or(Decline)?))
        }
        _ => Ok((6, char::from_u32(u32::from(n)).ok_or(Decline)?)),
    }
}

/// The value of a string whose content `raw` holds escapes (already checked by the scanner).
pub fn unescape(raw: &[u8]) -> Scanned<String> {
    let mut out = String::with_capacity(raw.len());
    let mut i = 0;
    while let Some(at) = memchr::memchr(b'\\', &raw[i..]) {
        out.push_str(text(&raw[i..i + at])?);
        i += at;
        let (len, c) = escape(raw, i)?;
        out.push(c);
        i += len;
    }
    out.push_str(text(&raw[i..])?);
    Ok(out)
}

impl<'a> Scan<'a> {
    pub fn new(line: &'a [u8]) -> Self {
        Scan {
            b: line,
            i: 0,
            depth: 0,
        }
    }

    /// Skips whitespace and says which byte follows (`None` at the end of the line). Only
    /// spaces and tabs are skipped: a line feed or carriage return outside a string is JSON
    /// whitespace too, but the `Value` path writes the record's `raw` with each of them turned
    /// into a space, so a record holding one is left to it (the next byte is then not what any
    /// caller expects, and it declines).
    #[inline(always)]
    pub fn peek(&mut self) -> Option<u8> {
        // Compact JSON has no whitespace: one test for the byte that is there.
        let c = *self.b.get(self.i)?;
        if c > b' ' {
            return Some(c);
        }
        self.peek_past_whitespace()
    }

    #[cold]
    fn peek_past_whitespace(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t') {
                return Some(c);
            }
            self.i += 1;
        }
        None
    }

    /// Skips whitespace and the byte `c`, which must follow.
    #[inline(always)]
    fn eat(&mut self, c: u8) -> Scanned<()> {
        if self.peek() == Some(c) {
            self.i += 1;
            Ok(())
        } else {
            Err(Decline)
        }
    }

    /// True when nothing but whitespace is left.
    pub fn at_end(&mut self) -> bool {
        self.peek().is_none()
    }

    /// The string that starts at the current position (its opening quote).
    #[inline]
    pub fn string(&mut self) -> Scanned<Str<'a>> {
        if self.peek() != Some(b'"') {
            return Err(Decline);
        }
        self.string_here()
    }

    /// The string whose opening quote is the byte at the current position (as [`Scan::peek`]
    /// has just said). Inlined: called for nearly every value, it costs less than a call.
    #[inline(always)]
    pub fn string_here(&mut self) -> Scanned<Str<'a>> {
        let b = self.b;
        let start = self.i + 1;
        // A local index (the scanner's is written back once): the loop stays in registers.
        let mut i = start;
        let mut escapes = Escapes::None;
        // The high bits of the bytes passed over: set when the string may hold non-ASCII bytes
        // (the last word read can reach past its end, which only costs a needless check).
        let mut high = 0u64;
        loop {
            // Sixteen bytes at a time, as two words, to the next quote, backslash or control
            // character.
            while let Some(chunk) = b.get(i..).and_then(|rest| rest.first_chunk::<16>()) {
                let (lo, hi) = chunk.split_at(8);
                let lo = u64::from_le_bytes(lo.try_into().map_err(|_| Decline)?);
                let hi = u64::from_le_bytes(hi.try_into().map_err(|_| Decline)?);
                high |= lo | hi;
                let (lo, hi) = (specials(lo), specials(hi));
                if lo | hi != 0 {
                    i += if lo != 0 {
                        (lo.trailing_zeros() / 8) as usize
                    } else {
                        8 + (hi.trailing_zeros() / 8) as usize
                    };
                    break;
                }
                i += 16;
            }
            // The byte found (or, near the end of the line, the next byte).
            match *b.get(i).ok_or(Decline)? {
                b'"' => {
                    if high & HIGH != 0 {
                        text(&b[start..i])?;
                    }
                    let json = b.get(start - 1..i + 1).ok_or(Decline)?;
                    self.i = i + 1;
                    return Ok(Str { json, escapes });
                }
                b'\\' => {
                    let (len, c) = escape(b, i)?;
                    if len != 2 || !matches!(c, '"' | '\\') {
                        escapes = Escapes::Other;
                    } else if escapes == Escapes::None {
                        escapes = Escapes::Simple;
                    }
                    i += len;
                }
                0..0x20 => return Err(Decline),
                c => {
                    high |= u64::from(c) << 56;
                    i += 1;
                }
            }
        }
    }

    /// Enters the object that starts here (its `{`): `true` when a member follows (its key
    /// next), `false` when it is empty (and has been left).
    #[inline]
    pub fn object(&mut self) -> Scanned<bool> {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek() == Some(b'}') {
            self.i += 1;
            self.depth -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After a member's value: `true` when another member follows (its key next), `false` when
    /// the object ends (and has been left).
    #[inline]
    pub fn next_member(&mut self) -> Scanned<bool> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.i += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(Decline),
        }
    }

    /// True, with them read, when the next bytes are `member`: a key with its quotes and colon,
    /// `"key":`, as compact JSON writes it (the key holding no quote, backslash or control
    /// character). If not, nothing is read.
    #[inline(always)]
    pub fn member_is(&mut self, member: &[u8]) -> bool {
        if self.peek().is_some() && self.b.get(self.i..self.i + member.len()) == Some(member) {
            self.i += member.len();
            return true;
        }
        false
    }

    /// True, with the key and its colon read, when the next key is `key` as written (`key` holds
    /// no quote, backslash or control character, so the bytes compared are the whole string); if
    /// not, nothing is read. Cheaper than [`Scan::key`] for a key that is foreseen.
    #[inline]
    pub fn key_is(&mut self, key: &str) -> Scanned<bool> {
        if self.peek() != Some(b'"') {
            return Err(Decline);
        }
        let (from, to) = (self.i + 1, self.i + 1 + key.len());
        match self.b.get(from..to) {
            Some(here) if here == key.as_bytes() && self.b.get(to) == Some(&b'"') => {}
            _ => return Ok(false),
        }
        if self.b.get(to + 1) == Some(&b':') {
            self.i = to + 2;
        } else {
            self.i = to + 1;
            self.eat(b':')?;
        }
        Ok(true)
    }

    /// A key and its colon. A key with an escape is declined: its value could be a key the
    /// reader looks for, spelt differently.
    #[inline]
    pub fn key(&mut self) -> Scanned<&'a str> {
        let key = self.string()?;
        let raw = key.raw();
        if key.escapes != Escapes::None || raw == RAW_VALUE_TOKEN {
            return Err(Decline);
        }
        self.eat(b':')?;
        text(raw)
    }

    /// Enters the array that starts here (its `[`): `false` when it is empty (and has been
    /// left), else `true` with the first element next.
    #[inline]
    pub fn array(&mut self) -> Scanned<bool> {
        self.eat(b'[')?;
        self.enter()?;
        if self.peek() == Some(b']') {
            self.i += 1;
            self.depth -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// After an element: `true` when another follows, `false` when the array ends (and has
    /// been left).
    #[inline]
    pub fn next_element(&mut self) -> Scanned<bool> {
        match self.peek() {
            Some(b',') => {
                self.i += 1;
                Ok(true)
            }
            Some(b']') => {
                self.i += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => Err(Decline),
        }
    }

    #[inline]
    fn enter(&mut self) -> Scanned<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Decline);
        }
        Ok(())
    }

    /// Skips `literal` (`true`, `false`, `null`), which must be here.
    #[inline]
    pub fn literal(&mut self, literal: &[u8]) -> Scanned<()> {
        if self.b.get(self.i..self.i + literal.len()) == Some(literal) {
            self.i += literal.len();
            Ok(())
        } else {
            Err(Decline)
        }
    }

    /// The number that starts here, as written, after checking that serde_json reads it (an
    /// `f64` that overflows is refused there). Most numbers are small integers, told apart
    /// without parsing; any other is parsed by serde_json itself.
    pub fn number(&mut self) -> Scanned<&'a str> {
        let b = self.b;
        let start = self.i;
        let digits = |i: &mut usize| {
            let from = *i;
            while b.get(*i).is_some_and(u8::is_ascii_digit) {
                *i += 1;
            }
            *i - from
        };
        let mut i = start;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                digits(&mut i);
            }
            _ => return Err(Decline),
        }
        let mut simple = i - start <= 18;
        if b.get(i) == Some(&b'.') {
            i += 1;
            if digits(&mut i) == 0 {
                return Err(Decline);
            }
            simple = false;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            if digits(&mut i) == 0 {
                return Err(Decline);
            }
            simple = false;
        }
        let token = text(&b[start..i])?;
        if !simple && serde_json::from_str::<serde_json::Value>(token).is_err() {
            return Err(Decline);
        }
        self.i = i;
        Ok(token)
    }

    /// Skips the value that starts here, checked as serde_json checks it.
    pub fn skip(&mut self) -> Scanned<()> {
        match self.peek().ok_or(Decline)? {
            b'"' => self.string_here().map(drop),
            b'{' => {
                let mut more = self.object()?;
                while more {
                    self.key()?;
                    self.skip()?;
                    more = self.next_member()?;
                }
                Ok(())
            }
            b'[' => {
                let mut more = self.array()?;
                while more {
                    self.skip()?;
                    more = self.next_element()?;
                }
                Ok(())
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// True when the scanner takes `json` as one whole value.
    fn takes(json: &str) -> bool {
        let mut s = Scan::new(json.as_bytes());
        s.skip().is_ok() && s.at_end()
    }

    #[test]
    fn specials_finds_the_first_quote_backslash_or_control_byte() {
        for (i, special) in [b'"', b'\\', 0u8, 0x1f].into_iter().enumerate() {
            for at in 0..8 {
                let mut w = *b"abcdefgh";
                w[at] = special;
                // A later special byte (a borrow can flag bytes above the first) never hides it.
                if at < 7 {
                    w[7] = b'"';
                }
                let m = specials(u64::from_le_bytes(w));
                assert_eq!((m.trailing_zeros() / 8) as usize, at, "{i} at {at}");
            }
        }
        assert_eq!(specials(u64::from_le_bytes(*b" ~\x7f\x80\xff\xc3\xa9!")), 0);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_declined_and_utf8_is_taken() {
        let takes_bytes = |b: &[u8]| {
            let mut s = Scan::new(b);
            s.skip().is_ok() && s.at_end()
        };
        for bad in [
            &b"\"caf\xc3\""[..],
            b"\"\xff\"",
            b"\"\xc3\x28\"",
            b"\"\xed\xa0\x80\"",
            b"\"a long string, past sixteen bytes: \xe2\x82\"",
            b"[1,\xc2\xa0 2]",
            b"{\"a\xff\":1}",
        ] {
            assert!(!takes_bytes(bad), "{bad:?}");
        }
        for good in [
            "\"é\"",
            "\"a long string, past sixteen bytes: €😀 and on\"",
            "{\"ключ\":\"–\"}",
        ] {
            assert!(takes_bytes(good.as_bytes()), "{good}");
        }
    }

    #[test]
    fn line_ends_outside_strings_are_declined() {
        // serde_json takes them as whitespace, but the `Value` path rewrites them in `raw`.
        for json in ["{\"a\":\r1}", "{\"a\":1}\n", "[1,\n2]", "{\"a\"\r\n:1}"] {
            assert!(serde_json::from_str::<serde_json::Value>(json).is_ok());
            assert!(!takes(json), "{json:?}");
        }
    }

    #[test]
    fn takes_what_serde_json_takes_as_a_value() {
        let cases = [
            r#"{"a":[1,-2,3.5e10,-0,0.0,1E+2,true,false,null,"x\"y\\\/\b\f\n\r\tz"]}"#,
            r#""\u00e9\u20AC\ud83d\ude00""#,
            r#" { "a" : { } , "b" : [ ] } "#,
            "{\t\"a\"\t:\t1 }",
            "18446744073709551616",
            "123456789012345678901234567890",
            "-9223372036854775809",
            "1e308",
            "\"caf\u{e9}\"",
            // Refused by serde_json: the scanner must refuse them too.
            "1e999",
            "-1e999",
            "01",
            "1.",
            "-",
            ".5",
            "1e",
            "+1",
            "[1,]",
            "{\"a\":1,}",
            "{\"a\" 1}",
            "{1:1}",
            "[1 2]",
            "nul",
            "truex",
            "\"\\ud800\"",
            "\"\\udc00\"",
            "\"\\ud800\\u0041\"",
            "\"\\ud800x\"",
            "\"\\ud800\\n\"",
            "\"\\x\"",
            "\"\\u12g4\"",
            "\"\\u12\"",
            "\"a\u{1}b\"",
            "\"a\tb\"",
            "\"open",
            "[",
            "{\"a\":",
            "\u{a0}1",
            "[1]x",
        ];
        for json in cases {
            let serde = serde_json::from_str::<serde_json::Value>(json).is_ok();
            assert_eq!(takes(json), serde, "{json}");
        }
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(!takes(&deep), "deep nesting is declined");
    }

    #[test]
    fn unescape_decodes_as_serde_json_does() {
        for raw in [
            r#"plain"#,
            r#"\"Global Administrator\""#,
            r#"a\u00e9\u20ACb\ud83d\ude00c\/\\\b\f\n\r\t"#,
            r#"\u0000\u001F"#,
        ] {
            let want: String = serde_json::from_str(&format!("\"{raw}\"")).unwrap();
            assert_eq!(unescape(raw.as_bytes()).unwrap(), want, "{raw}");
        }
    }

    #[test]
    fn keys_with_escapes_and_the_raw_value_token_are_declined() {
        let mut s = Scan::new(br#"{"\u0069d":1}"#);
        assert_eq!(s.object(), Ok(true));
        assert_eq!(s.key_is("id"), Ok(false));
        assert_eq!(s.key(), Err(Decline));
        let mut s = Scan::new(br#"{"$serde_json::private::RawValue":1}"#);
        assert_eq!(s.skip(), Err(Decline));
        let mut s = Scan::new(br#"{"a":{"$serde_json::private::RawValue":1}}"#);
        assert_eq!(s.skip(), Err(Decline));
    }
}
