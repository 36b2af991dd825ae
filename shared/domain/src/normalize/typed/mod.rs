//! The fast path of normalize: a record read straight from its line's bytes, by a hand-written
//! scanner ([`scan`]), into typed structs whose strings borrow from the line (a string with
//! escapes is decoded, unless its only escapes are `\"` and `\\`: it is then written back as it
//! stands and decoded only if its value is asked for), instead of a `serde_json::Value` per
//! record. It is only a
//! shortcut: a record it cannot take exactly as the `Value` path would (a key in another case, a
//! duplicate key, a missing id or time, anything the scanner is not sure is JSON as serde_json
//! reads it) makes [`Writer::write`] decline it, and the caller runs the `Value` path, whose
//! lenient reading and quarantine reasons are unchanged. The event is written as JSON straight
//! from the borrowed fields ([`Writer`]). Only directory audits have a typed reader so far; every
//! other source always takes the `Value` path.
//!
//! Equivalence with the `Value` path rests on three rules kept here: every value is checked by
//! the scanner as serde_json checks it when it builds a `Value` (so numbers, escapes and nesting
//! are accepted or declined alike); a key the `Value` normalizer would find by its
//! case-insensitive lookup (`super::field`) but that is not its exact spelling sends the record
//! to the `Value` path; and [`Text`] reads a value exactly as `super::text` does. The tests in
//! `shared/domain/tests/domain/typed_identity.rs` and `typed_scanner.rs` run both paths side by
//! side.

pub mod directory_audits;
pub mod scan;
mod time;

pub use directory_audits::Pool;

/// What a thread keeps from one batch of lines to the next: the [`Pool`] of vectors that records
/// are read into, so that reading a record allocates nothing once the first few are read. The
/// pool is taken for the lines of one buffer ([`Scratch::pool`]), whose lifetime its vectors'
/// types carry, and kept again after them ([`Scratch::keep`]).
#[derive(Default)]
pub struct Scratch(Pool<'static>);

impl Scratch {
    /// The pool, for records borrowing from lines that live for `'a`.
    pub fn pool<'a>(&mut self) -> Pool<'a> {
        std::mem::take(&mut self.0).relabel()
    }

    /// Keeps `pool` for the next lines.
    pub fn keep(&mut self, pool: Pool<'_>) {
        self.0 = pool.relabel();
    }
}

use std::borrow::Cow;

use super::Context;
use crate::model::{Source, fmt_time};
use scan::{Escapes, Scan, Scanned};

/// Writes the AuditEvent line of one record line, byte for byte the line the `Value` path writes
/// (`serde_json` over the `AuditEvent` it makes, with the line as `raw`), without building the
/// `AuditEvent`: its strings are written from the borrowed record. Made once per input: the
/// parts every event of it shares are written once, here.
pub struct Writer {
    source: Source,
    /// `,"source":"…","stream":…,"tenant_id":…`
    source_stream_tenant: Vec<u8>,
    /// `,"ingested_at":"…"`
    ingested_at: Vec<u8>,
}

impl Writer {
    pub fn new(source: Source, ctx: Context<'_>) -> Self {
        let mut source_stream_tenant = Vec::new();
        source_stream_tenant.extend_from_slice(b",\"source\":");
        json_str(&mut source_stream_tenant, source.name());
        source_stream_tenant.extend_from_slice(b",\"stream\":");
        json_opt(&mut source_stream_tenant, ctx.stream);
        source_stream_tenant.extend_from_slice(b",\"tenant_id\":");
        json_str(&mut source_stream_tenant, ctx.tenant_id);
        let mut ingested_at = b",\"ingested_at\":".to_vec();
        json_str(&mut ingested_at, &fmt_time(ctx.ingested_at));
        Writer {
            source,
            source_stream_tenant,
            ingested_at,
        }
    }

    /// Appends the event line (with its `\n`) of `line`, one record, to `out` and says `true`;
    /// or leaves `out` as it was and says `false` when the `Value` path must read the record (or
    /// the source has no typed reader).
    /// `pool` is the calling thread's ([`Scratch::pool`]).
    pub fn write<'a>(&self, line: &'a [u8], out: &mut Vec<u8>, pool: &mut Pool<'a>) -> bool {
        match self.source {
            Source::EntraDirectoryAudits => directory_audits::write(line, self, out, pool),
            _ => false,
        }
    }
}

/// A JSON string as serde_json writes it: escaped only when it holds `"`, `\\` or a control
/// character (most of Microsoft's values hold none, and are copied as they are).
pub fn json_str(out: &mut Vec<u8>, s: &str) {
    if !needs_escape(s.as_bytes()) {
        out.reserve(s.len() + 2);
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        // Writing a string to a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *out, s);
    }
}

/// True when `bytes` hold a byte serde_json escapes. Tested 16 bytes at a time without an early
/// exit inside a block, which the compiler turns into vector instructions.
fn needs_escape(bytes: &[u8]) -> bool {
    let escaped = |b: u8| (b < 0x20) | (b == b'"') | (b == b'\\');
    let mut blocks = bytes.chunks_exact(16);
    for block in &mut blocks {
        if block.iter().fold(false, |any, &b| any | escaped(b)) {
            return true;
        }
    }
    blocks.remainder().iter().any(|&b| escaped(b))
}

/// An optional string: `null` when absent.
pub fn json_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => json_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

/// Bit `n` is set when a sentinel (`super::SENTINELS`, all ASCII) is `n` bytes long: a value of
/// another length, with no whitespace to trim, is none.
const SENTINEL_LENGTHS: u64 = {
    let mut bits = 0u64;
    let mut i = 0;
    while i < super::SENTINELS.len() {
        bits |= 1 << super::SENTINELS[i].len();
        i += 1;
    }
    bits
};

/// A field's value read as `super::text` reads it, once, as it is parsed: a string (trimmed;
/// sentinels and blanks are absent), a number or a boolean as text; anything else (null, an
/// object, an array) is absent. Kept in the form cheapest to write back as JSON.
#[derive(Default)]
pub enum Text<'a> {
    #[default]
    Absent,
    /// A JSON string as it stands in the line, quotes included, that serde_json would write the
    /// same: its content has no escape (`escaped` false: the content is the text), or only `\"`
    /// and `\\` (the very escapes serde_json writes for those characters; the text is decoded
    /// when asked for, which is rare: most are Graph's `newValue`s, such as
    /// `\"Global Administrator\"`, which are only written). Either way it starts and ends with a
    /// visible character, so trimming changes nothing, and it is no sentinel.
    Json { json: &'a [u8], escaped: bool },
    /// Text that needs no escaping in JSON: a number or a boolean, or a string without escapes
    /// that was trimmed.
    Plain(Cow<'a, str>),
    /// A string with other escapes, decoded (and trimmed): written escaped by serde_json.
    Decoded(String),
}

/// An absent value.
pub const ABSENT: Text<'static> = Text::Absent;

impl Text<'_> {
    /// The text, as `super::text` gives it.
    pub fn get(&self) -> Option<Cow<'_, str>> {
        match self {
            Text::Absent => None,
            // Checked to be UTF-8, and its escapes checked, when it was read: neither fails.
            Text::Json {
                json,
                escaped: false,
            } => scan::text(scan::content(json)).ok().map(Cow::Borrowed),
            Text::Json {
                json,
                escaped: true,
            } => scan::unescape(scan::content(json)).ok().map(Cow::Owned),
            Text::Plain(t) => Some(Cow::Borrowed(t)),
            Text::Decoded(t) => Some(Cow::Borrowed(t)),
        }
    }

    /// True when there is a text (`get().is_some()`, without decoding it).
    pub fn is_some(&self) -> bool {
        !matches!(self, Text::Absent)
    }

    /// Writes the text as a JSON string, or `null` when absent.
    #[inline]
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            Text::Json { json, .. } => out.extend_from_slice(json),
            Text::Plain(t) => quoted(out, t),
            Text::Decoded(t) => json_str(out, t),
            Text::Absent => out.extend_from_slice(b"null"),
        }
    }
}

/// Appends `"s"`: `s` needs no escaping.
#[inline]
pub fn quoted(out: &mut Vec<u8>, s: &str) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    out.extend_from_slice(s.as_bytes());
    out.push(b'"');
}

/// True when `b`, the first or last byte of a string's content, is a visible ASCII character.
#[inline]
fn visible(b: Option<&u8>) -> bool {
    b.is_some_and(|&b| b > b' ' && b < 0x80)
}

impl<'a> Text<'a> {
    /// A string without escapes (`json`, quotes included), as `super::text` reads it.
    #[inline(always)]
    fn plain(json: &'a [u8]) -> Scanned<Self> {
        // Most values start and end with a visible ASCII character (never whitespace, so trimming
        // changes nothing) and are not as long as any sentinel: kept as they are.
        let content = scan::content(json);
        let n = content.len();
        if visible(content.first()) && visible(content.last()) {
            // Nothing to trim: a sentinel only if it is one, in any case, as it stands.
            let sentinel_length = n < 64 && SENTINEL_LENGTHS & (1 << n) != 0;
            if sentinel_length
                && super::SENTINELS
                    .iter()
                    .any(|x| x.len() == n && x.as_bytes().eq_ignore_ascii_case(content))
            {
                return Ok(Text::Absent);
            }
            return Ok(Text::Json {
                json,
                escaped: false,
            });
        }
        let s = scan::text(content)?;
        if super::is_sentinel(s) {
            return Ok(Text::Absent);
        }
        Ok(Text::Plain(Cow::Borrowed(s.trim())))
    }

    /// A string with escapes (`json`, quotes included; `simple` when they are only `\"` and
    /// `\\`), as `super::text` reads it.
    fn escaped(json: &'a [u8], simple: bool) -> Scanned<Self> {
        let raw = scan::content(json);
        let b = raw;
        // A raw end that is visible ASCII is a visible character of the value too: a quote or
        // backslash there comes from `\"` or `\\`. A string holding either is no sentinel.
        if simple && visible(b.first()) && visible(b.last()) {
            return Ok(Text::Json {
                json,
                escaped: true,
            });
        }
        let s = scan::unescape(raw)?;
        if super::is_sentinel(&s) {
            return Ok(Text::Absent);
        }
        Ok(Text::Decoded(match s.trim() {
            t if t.len() == s.len() => s,
            t => t.to_string(),
        }))
    }
}

/// A value of a record read by the scanner: each type reads one as the `Value` normalizers would
/// see it, refusing nothing serde_json takes (other kinds of value are absent) and declining
/// whatever the scanner declines.
pub trait Read<'a>: Sized {
    /// Reads the value that starts here; arrays take their vectors from `pool`.
    fn read(s: &mut Scan<'a>, pool: &mut Pool<'a>) -> Scanned<Self>;
}

impl<'a> Read<'a> for Text<'a> {
    // Inlined into each field's reading: most fields are text, and a call costs about as much as
    // reading a short one.
    #[inline(always)]
    fn read(s: &mut Scan<'a>, _: &mut Pool<'a>) -> Scanned<Self> {
        match s.peek() {
            Some(b'"') => {
                let st = s.string_here()?;
                if st.escapes == Escapes::None {
                    Text::plain(st.json)
                } else {
                    Text::escaped(st.json, st.escapes == Escapes::Simple)
                }
            }
            Some(b't') => s
                .literal(b"true")
                .map(|()| Text::Plain(Cow::Borrowed("true"))),
            Some(b'f') => s
                .literal(b"false")
                .map(|()| Text::Plain(Cow::Borrowed("false"))),
            Some(b'n') => s.literal(b"null").map(|()| Text::Absent),
            Some(b'-' | b'0'..=b'9') => number(s.number()?).map(Text::Plain),
            _ => s.skip().map(|()| Text::Absent),
        }
    }
}

/// A value whose key is read and skipped: its key is known, so that the key after it is
/// foreseen (`Fields::KEYS`).
#[derive(Default)]
pub struct Skip;

impl<'a> Read<'a> for Skip {
    fn read(s: &mut Scan<'a>, _: &mut Pool<'a>) -> Scanned<Self> {
        s.skip().map(|()| Skip)
    }
}

/// A number as `super::text` writes it: `serde_json::Number`'s `to_string` of the number as
/// `Value` holds it. An integer that fits in 64 bits is written as it was read (JSON allows no
/// leading zeros or plus sign), except `-0`, which serde_json reads as the float `-0.0`; any
/// other number is parsed and written by serde_json itself.
fn number(token: &str) -> Scanned<Cow<'_, str>> {
    let integer = token.len() <= 18 && !token.contains(['.', 'e', 'E']) && token != "-0";
    if integer {
        return Ok(Cow::Borrowed(token));
    }
    match serde_json::from_str::<serde_json::Value>(token) {
        Ok(serde_json::Value::Number(n)) => Ok(Cow::Owned(n.to_string())),
        _ => Err(scan::Decline),
    }
}

/// The fields of one kind of JSON object that a normalizer reads, by their exact spelling.
pub trait Fields<'a>: Default {
    /// The keys read, in the order [`Fields::set`] numbers them (and, for speed, in the order
    /// Graph writes them: see [`Fields::members`]).
    const KEYS: &'static [&'static str];
    /// Keys not read here whose presence (in any case) would make the `Value` path read the
    /// record differently (a top-level `value` array is a list response, for example).
    const GUARDS: &'static [&'static str] = &[];
    /// Reads the value of `KEYS[index]`.
    fn set(&mut self, index: usize, s: &mut Scan<'a>, pool: &mut Pool<'a>) -> Scanned<()>;
    /// Reads the members of the object just entered (a member follows): while its keys come in
    /// `KEYS`'s order, as Graph writes them, each is read where it is foreseen, with nothing
    /// looked up; from the first key out of that order on, by [`members`].
    fn members(&mut self, s: &mut Scan<'a>, pool: &mut Pool<'a>) -> Scanned<()>;
}

/// Reads the rest of an object's members (a member follows) into `fields`, `seen` being the
/// keys read so far (bit `i` for `KEYS[i]`).
pub fn members<'a, T: Fields<'a>>(
    fields: &mut T,
    s: &mut Scan<'a>,
    pool: &mut Pool<'a>,
    mut seen: u64,
) -> Scanned<()> {
    loop {
        let key = s.key()?;
        match T::KEYS.iter().position(|k| *k == key) {
            Some(index) => {
                // `Value` keeps the last of duplicate keys; rare enough to leave to it.
                if seen & (1 << index) != 0 {
                    return Err(scan::Decline);
                }
                seen |= 1 << index;
                fields.set(index, s, pool)?;
            }
            None => {
                let other_case = T::KEYS
                    .iter()
                    .chain(T::GUARDS)
                    .any(|g| g.len() == key.len() && g.eq_ignore_ascii_case(key));
                if other_case {
                    // A key in another case, or a guard key.
                    return Err(scan::Decline);
                }
                s.skip()?;
            }
        }
        if !s.next_member()? {
            return Ok(());
        }
    }
}

/// Declares a struct of [`Fields`]: `name { field: Type = "jsonKey", ... }`.
macro_rules! fields {
    ($(#[$meta:meta])* $name:ident { $($field:ident : $ty:ty = $key:literal),* $(,)? }
     $(guards $guards:expr)?) => {
        $(#[$meta])*
        #[derive(Default)]
        pub struct $name<'de> {
            $(pub $field: $ty,)*
        }
        impl<'de> $crate::normalize::typed::Fields<'de> for $name<'de> {
            const KEYS: &'static [&'static str] = &[$($key),*];
            $(const GUARDS: &'static [&'static str] = $guards;)?
            #[inline]
            fn set(
                &mut self,
                index: usize,
                s: &mut $crate::normalize::typed::scan::Scan<'de>,
                pool: &mut $crate::normalize::typed::Pool<'de>,
            ) -> $crate::normalize::typed::scan::Scanned<()> {
                let mut i = 0usize;
                $(
                    if index == i {
                        self.$field = $crate::normalize::typed::Read::read(s, pool)?;
                        return Ok(());
                    }
                    i += 1;
                )*
                let _ = i;
                Ok(())
            }
            fn members(
                &mut self,
                s: &mut $crate::normalize::typed::scan::Scan<'de>,
                pool: &mut $crate::normalize::typed::Pool<'de>,
            ) -> $crate::normalize::typed::scan::Scanned<()> {
                let mut seen = 0u64;
                let mut bit = 1u64;
                $(
                    // `"key":` as compact JSON has it, in one comparison; else with whitespace.
                    if !s.member_is(concat!("\"", $key, "\":").as_bytes()) && !s.key_is($key)? {
                        return $crate::normalize::typed::members(self, s, pool, seen);
                    }
                    self.$field = $crate::normalize::typed::Read::read(s, pool)?;
                    seen |= bit;
                    bit <<= 1;
                    if !s.next_member()? {
                        return Ok(());
                    }
                )*
                let _ = bit;
                $crate::normalize::typed::members(self, s, pool, seen)
            }
        }
    };
}
pub(crate) use fields;

/// A field that `super::field` would read as an object: `Some` when the value is one, `None` for
/// any other value (which the `Value` normalizers treat as absent too).
pub struct Obj<T>(pub Option<T>);

impl<T> Default for Obj<T> {
    fn default() -> Self {
        Obj(None)
    }
}

impl<'a, T: Fields<'a>> Read<'a> for Obj<T> {
    fn read(s: &mut Scan<'a>, pool: &mut Pool<'a>) -> Scanned<Self> {
        if s.peek() != Some(b'{') {
            return s.skip().map(|()| Obj(None));
        }
        let mut fields = T::default();
        if s.object()? {
            fields.members(s, pool)?;
        }
        Ok(Obj(Some(fields)))
    }
}

/// A field that the `Value` normalizers iterate when it is an array (`as_array().into_iter()
/// .flatten()`): its elements, or none for any other value.
pub struct Arr<T>(pub Vec<T>);

impl<T> Default for Arr<T> {
    fn default() -> Self {
        Arr(Vec::new())
    }
}

/// An element type of [`Arr`]: its empty vectors are kept in the [`Pool`].
pub trait Pooled<'a>: Sized {
    /// The vectors of this type in `pool`.
    fn stack<'p>(pool: &'p mut Pool<'a>) -> &'p mut Vec<Vec<Self>>;
}

impl<'a, T: Read<'a> + Pooled<'a>> Read<'a> for Arr<T> {
    fn read(s: &mut Scan<'a>, pool: &mut Pool<'a>) -> Scanned<Self> {
        if s.peek() != Some(b'[') {
            return s.skip().map(|()| Arr(Vec::new()));
        }
        let mut items = T::stack(pool).pop().unwrap_or_default();
        let mut more = s.array()?;
        while more {
            items.push(T::read(s, pool)?);
            more = s.next_element()?;
        }
        Ok(Arr(items))
    }
}

impl<'a, T: Pooled<'a>> Arr<T> {
    /// Gives the vector back to `pool`, emptied.
    pub fn give(self, pool: &mut Pool<'a>) {
        let mut items = self.0;
        if items.capacity() > 0 {
            items.clear();
            T::stack(pool).push(items);
        }
    }
}

/// An empty vector of `U` with the allocation of `v` (emptied). Collecting a vector's own
/// iterator into a vector of a type of the same size and alignment reuses its buffer (the
/// standard library's in-place collection), so a vector of records that borrowed one line
/// becomes, with no copy and no unsafe code, an empty vector for the next line's.
pub fn recycle<T, U>(mut v: Vec<T>) -> Vec<U> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recycled_vectors_keep_their_allocation() {
        // What the pool relies on to allocate nothing per record; if the standard library ever
        // stopped collecting in place, the pool would still be right, only slower.
        let line = String::from("borrowed");
        let mut v: Vec<(&str, u64)> = Vec::with_capacity(10);
        v.push((&line, 1));
        let at = v.as_ptr() as usize;
        let w: Vec<(&'static str, u64)> = recycle(v);
        assert!(w.is_empty());
        assert_eq!((w.capacity(), w.as_ptr() as usize), (10, at));
    }
}
