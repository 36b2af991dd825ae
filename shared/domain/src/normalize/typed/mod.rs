//! The fast path of normalize: a record deserialized straight from its line into typed structs
//! whose strings borrow from the line (`Cow<str>`, owned only when the JSON string has escapes),
//! instead of a `serde_json::Value` per record. It is only a shortcut: a record it cannot take
//! exactly as the `Value` path would (a key in another case, a duplicate key, a missing id or
//! time, anything that is not valid JSON) makes it answer `None`, and the caller runs the `Value`
//! path, whose lenient reading and quarantine reasons are unchanged. Only directory audits have a
//! typed reader so far; every other source always takes the `Value` path.
//!
//! Equivalence with the `Value` path rests on three rules kept here: every value goes through
//! serde_json's `deserialize_any`, as `Value` does (so numbers, escapes and nesting limits are
//! accepted or refused alike); a key the `Value` normalizer would find by its case-insensitive
//! lookup (`super::field`) but that is not its exact spelling sends the record to the `Value`
//! path; and [`Scalar::text`] reads a value exactly as `super::text` does. The tests in
//! `shared/domain/tests/domain/typed_identity.rs` run both paths side by side.

pub mod directory_audits;

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::Context;
use crate::model::{AuditEvent, Source};

/// The typed reading of one record line of `source`, or `None` when only the `Value` path can
/// read it (or `source` has no typed reader). The event's `raw` is left `None`: the record is the
/// line itself, which the caller writes as it is (see `super::reader`).
pub fn normalize_line(source: Source, line: &str, ctx: Context<'_>) -> Option<AuditEvent> {
    match source {
        Source::EntraDirectoryAudits => directory_audits::normalize(line, ctx),
        _ => None,
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

/// A field's value as `super::text` reads it: a string (sentinels and blanks are absent), a
/// number or a boolean; anything else (null, an object, an array) is absent.
#[derive(Default)]
pub enum Scalar<'de> {
    Str(Cow<'de, str>),
    Num(serde_json::Number),
    Bool(bool),
    #[default]
    Absent,
}

impl Scalar<'_> {
    /// The field as text, exactly as `super::text` gives it.
    pub fn text(&self) -> Option<String> {
        self.text_ref().map(Cow::into_owned)
    }

    /// [`Scalar::text`] without a copy when the value is a string.
    pub fn text_ref(&self) -> Option<Cow<'_, str>> {
        match self {
            Scalar::Str(s) if !super::is_sentinel(s) => Some(Cow::Borrowed(s.trim())),
            Scalar::Num(n) => Some(Cow::Owned(n.to_string())),
            Scalar::Bool(b) => Some(Cow::Owned(b.to_string())),
            _ => None,
        }
    }
}

impl<'de> Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Scalar<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Bool(b))
            }
            // As `Value` makes its numbers, so that `to_string` writes them alike.
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Num(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Scalar<'de>, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Scalar::Absent, Scalar::Num))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(s.to_string())))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Str(Cow::Owned(s)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar<'de>, E> {
                Ok(Scalar::Absent)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Scalar<'de>, A::Error> {
                SkipVisitor.visit_seq(seq).map(|_| Scalar::Absent)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Scalar<'de>, A::Error> {
                SkipVisitor.visit_map(map).map(|_| Scalar::Absent)
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
