//! The fast path of normalize: a record deserialized straight from its line into typed structs
//! whose strings borrow from the line (`Cow<str>`, owned only when the JSON string has escapes),
//! instead of a `serde_json::Value` per record. It is only a shortcut: a record it cannot take
//! exactly as the `Value` path would (a key in another case, a duplicate key, a missing id or
//! time, anything that is not valid JSON) makes [`Writer::write`] decline it, and the caller runs
//! the `Value` path, whose lenient reading and quarantine reasons are unchanged. The event is written as JSON
//! straight from the borrowed fields ([`Writer`]). Only directory audits have a typed reader so
//! far; every other source always takes the `Value` path.
//!
//! Equivalence with the `Value` path rests on three rules kept here: every value goes through
//! serde_json's `deserialize_any`, as `Value` does (so numbers, escapes and nesting limits are
//! accepted or refused alike); a key the `Value` normalizer would find by its case-insensitive
//! lookup (`super::field`) but that is not its exact spelling sends the record to the `Value`
//! path; and [`Text`] reads a value exactly as `super::text` does. The tests in
//! `shared/domain/tests/domain/typed_identity.rs` run both paths side by side.

pub mod directory_audits;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Context;
use crate::model::{Source, fmt_time};

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
    pub fn write(&self, line: &str, out: &mut Vec<u8>) -> bool {
        match self.source {
            Source::EntraDirectoryAudits => directory_audits::write(line, self, out),
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

/// The key serde_json's `Value` treats as a raw-value marker when it comes first in an object; a
/// record that holds it anywhere goes to the `Value` path rather than be read differently.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

/// Why the typed reader gave up (never shown: the `Value` path then reads the record).
fn fallback<E: de::Error>(why: &str) -> E {
    E::custom(why)
}

/// Any JSON value, checked as `Value` would check it and thrown away.
#[derive(Default)]
pub struct Skip;

impl<'de> Deserialize<'de> for Skip {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SkipVisitor)
    }
}

struct SkipVisitor;

impl<'de> Visitor<'de> for SkipVisitor {
    type Value = Skip;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_none<E: de::Error>(self) -> Result<Skip, E> {
        Ok(Skip)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Skip, A::Error> {
        while seq.next_element::<Skip>()?.is_some() {}
        Ok(Skip)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Skip, A::Error> {
        while let Some(key) = map.next_key::<Key<'de>>()? {
            if key.0 == RAW_VALUE_TOKEN {
                return Err(fallback("raw value token"));
            }
            map.next_value::<Skip>()?;
        }
        Ok(Skip)
    }
}

/// An object key, borrowed unless it has escapes.
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s)))
            }
        }
        d.deserialize_any(V)
    }
}

/// A field's value read as `super::text` reads it, once, as it is parsed: a string (trimmed;
/// sentinels and blanks are absent), a number or a boolean as text; anything else (null, an
/// object, an array) is absent.
#[derive(Default)]
pub struct Text<'de> {
    text: Option<Cow<'de, str>>,
    /// The text needs no escaping in JSON: it is a number or a boolean, or a string that had no
    /// escape in the record (serde_json then borrows it, and a JSON string without escapes holds
    /// no quote, backslash or control character).
    plain: bool,
}

/// An absent value.
pub const ABSENT: Text<'static> = Text {
    text: None,
    plain: true,
};

impl Text<'_> {
    /// The text, as `super::text` gives it.
    pub fn get(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// Writes the text as a JSON string, or `null` when absent.
    pub fn write(&self, out: &mut Vec<u8>) {
        match &self.text {
            Some(t) if self.plain => {
                out.push(b'"');
                out.extend_from_slice(t.as_bytes());
                out.push(b'"');
            }
            Some(t) => json_str(out, t),
            None => out.extend_from_slice(b"null"),
        }
    }
}

impl<'de> Text<'de> {
    fn string(s: Cow<'de, str>, plain: bool) -> Self {
        // Most values start and end with a visible ASCII character (never whitespace, so trimming
        // changes nothing) and are longer than any sentinel: kept as they are.
        let visible = |b: Option<&u8>| b.is_some_and(|&b| b > b' ' && b < 0x80);
        if s.len() > super::LONGEST_SENTINEL
            && visible(s.as_bytes().first())
            && visible(s.as_bytes().last())
        {
            return Text {
                text: Some(s),
                plain,
            };
        }
        if super::is_sentinel(&s) {
            return Text::default();
        }
        let text = match s {
            Cow::Borrowed(s) => Cow::Borrowed(s.trim()),
            Cow::Owned(s) if s.trim().len() == s.len() => Cow::Owned(s),
            Cow::Owned(s) => Cow::Owned(s.trim().to_string()),
        };
        Text {
            text: Some(text),
            plain,
        }
    }

    fn plain(s: String) -> Self {
        Text {
            text: Some(Cow::Owned(s)),
            plain: true,
        }
    }
}

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Text<'de>, E> {
                Ok(Text::plain(b.to_string()))
            }
            // Numbers are made as `Value` makes them, so that `to_string` writes them alike.
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Text<'de>, E> {
                Ok(Text::plain(serde_json::Number::from(n).to_string()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Text<'de>, E> {
                Ok(Text::plain(serde_json::Number::from(n).to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Text<'de>, E> {
                Ok(serde_json::Number::from_f64(n)
                    .map_or_else(Text::default, |n| Text::plain(n.to_string())))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'de>, E> {
                Ok(Text::string(Cow::Borrowed(s), true))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'de>, E> {
                Ok(Text::string(Cow::Owned(s.to_string()), false))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Text<'de>, E> {
                Ok(Text::string(Cow::Owned(s), false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Text<'de>, E> {
                Ok(Text::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Text<'de>, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| Text::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Text<'de>, A::Error> {
                SkipVisitor.visit_map(map).map(|_| Text::default())
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of one kind of JSON object that a normalizer reads, by their exact spelling.
pub trait Fields<'de>: Default {
    /// The keys read, in the order [`Fields::set`] numbers them.
    const KEYS: &'static [&'static str];
    /// Keys not read here whose presence (in any case) would make the `Value` path read the
    /// record differently (a top-level `value` array is a list response, for example).
    const GUARDS: &'static [&'static str] = &[];
    /// Reads the value of `KEYS[index]`.
    fn set<A: MapAccess<'de>>(&mut self, index: usize, map: &mut A) -> Result<(), A::Error>;
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
            fn set<A: serde::de::MapAccess<'de>>(
                &mut self,
                index: usize,
                map: &mut A,
            ) -> Result<(), A::Error> {
                let mut i = 0usize;
                $(
                    if index == i {
                        self.$field = map.next_value()?;
                        return Ok(());
                    }
                    i += 1;
                )*
                let _ = i;
                Ok(())
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

impl<'de, T: Fields<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ObjVisitor(PhantomData))
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Fields<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Obj<T>, A::Error> {
        let mut fields = T::default();
        let mut seen = 0u64;
        while let Some(Key(key)) = map.next_key::<Key<'de>>()? {
            if let Some(index) = T::KEYS.iter().position(|k| *k == key) {
                // `Value` keeps the last of duplicate keys; rare enough to leave to it.
                if seen & (1 << index) != 0 {
                    return Err(fallback("duplicate key"));
                }
                seen |= 1 << index;
                fields.set(index, &mut map)?;
            } else if key == RAW_VALUE_TOKEN
                || T::KEYS
                    .iter()
                    .chain(T::GUARDS)
                    .any(|k| k.eq_ignore_ascii_case(&key))
            {
                return Err(fallback("key in another case, or a guard key"));
            } else {
                map.next_value::<Skip>()?;
            }
        }
        Ok(Obj(Some(fields)))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Obj<T>, E> {
        Ok(Obj(None))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Obj<T>, A::Error> {
        SkipVisitor.visit_seq(seq).map(|_| Obj(None))
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

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Arr<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ArrVisitor(PhantomData))
    }
}

struct ArrVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ArrVisitor<T> {
    type Value = Arr<T>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Arr<T>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<T>()? {
            items.push(item);
        }
        Ok(Arr(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Arr<T>, A::Error> {
        SkipVisitor.visit_map(map).map(|_| Arr(Vec::new()))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Arr<T>, E> {
        Ok(Arr(Vec::new()))
    }
}
