//! Tolerant JSON leaves for reading events.
//!
//! Real Amazon Connect events carry many fields this function does not read, and `null` where the
//! published event structs expect objects (chat and task contacts have no `CustomerEndpoint`). The
//! types here never fail on a JSON type they did not expect: they record what they saw, so that
//! validation can say which field was wrong and why, instead of a serde message that may echo values.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::MapAccessDeserializer;
use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// A JSON value read where a string (or a list of strings) is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Loose {
    Str(String),
    List(Vec<String>),
    /// Anything else; the text names the JSON type ("a number", "an object", ...).
    Other(&'static str),
}

/// A JSON value read where an object is expected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obj<T> {
    Present(T),
    /// Not an object; the text names the JSON type.
    Other(&'static str),
}

const NUMBER: &str = "a number";
const BOOLEAN: &str = "a boolean";
const NULL: &str = "null";
const OBJECT: &str = "an object";
const ARRAY: &str = "an array";

/// Visits every JSON type that is neither the one wanted nor a container, as `Other(kind)`.
macro_rules! other_scalars {
    ($other:path) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($other(BOOLEAN))
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($other(NUMBER))
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($other(NUMBER))
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($other(NUMBER))
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other(NULL))
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($other(NULL))
        }
    };
}

struct LooseVisitor;

impl<'de> Visitor<'de> for LooseVisitor {
    type Value = Loose;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    other_scalars!(Loose::Other);

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        Ok(Loose::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Loose, E> {
        Ok(Loose::Str(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        let mut items = Vec::new();
        let mut all_strings = true;
        while let Some(item) = seq.next_element::<Loose>()? {
            match item {
                Loose::Str(s) if all_strings => items.push(s),
                _ => all_strings = false,
            }
        }
        Ok(if all_strings {
            Loose::List(items)
        } else {
            Loose::Other("an array with entries that are not strings")
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Other(OBJECT))
    }
}

impl<'de> Deserialize<'de> for Loose {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(LooseVisitor)
    }
}

struct ObjVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjVisitor<T> {
    type Value = Obj<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    other_scalars!(Obj::Other);

    fn visit_str<E: de::Error>(self, _: &str) -> Result<Obj<T>, E> {
        Ok(Obj::Other("a string"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Obj<T>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Obj::Other(ARRAY))
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Obj<T>, A::Error> {
        T::deserialize(MapAccessDeserializer::new(map)).map(Obj::Present)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ObjVisitor(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, PartialEq)]
    struct Inner {
        a: Option<Loose>,
    }

    #[derive(Deserialize, Debug, PartialEq)]
    struct Outer {
        v: Option<Loose>,
        o: Option<Obj<Inner>>,
    }

    fn read(json: &str) -> Outer {
        match serde_json::from_str(json) {
            Ok(v) => v,
            Err(e) => panic!("{json} did not parse: {e}"),
        }
    }

    #[test]
    fn strings_lists_and_other_types_are_recorded_not_rejected() {
        assert_eq!(read(r#"{"v":"x"}"#).v, Some(Loose::Str("x".into())));
        assert_eq!(
            read(r#"{"v":["a","b"]}"#).v,
            Some(Loose::List(vec!["a".into(), "b".into()]))
        );
        assert_eq!(
            read(r#"{"v":["a",1]}"#).v,
            Some(Loose::Other("an array with entries that are not strings"))
        );
        assert_eq!(read(r#"{"v":12}"#).v, Some(Loose::Other("a number")));
        assert_eq!(read(r#"{"v":-1.5}"#).v, Some(Loose::Other("a number")));
        assert_eq!(read(r#"{"v":true}"#).v, Some(Loose::Other("a boolean")));
        assert_eq!(read(r#"{"v":{"k":[1,{"z":null}]}}"#).v, Some(Loose::Other("an object")));
        assert_eq!(read(r#"{"v":null}"#).v, None, "null reads as absent");
        assert_eq!(read(r#"{}"#).v, None);
    }

    #[test]
    fn objects_are_read_and_other_types_recorded() {
        assert_eq!(
            read(r#"{"o":{"a":"x","zz":[1]}}"#).o,
            Some(Obj::Present(Inner {
                a: Some(Loose::Str("x".into()))
            }))
        );
        assert_eq!(read(r#"{"o":"x"}"#).o, Some(Obj::Other("a string")));
        assert_eq!(read(r#"{"o":[1,2]}"#).o, Some(Obj::Other("an array")));
        assert_eq!(read(r#"{"o":3}"#).o, Some(Obj::Other("a number")));
        assert_eq!(read(r#"{"o":null}"#).o, None);
    }

    #[test]
    fn escaped_strings_are_unescaped() {
        assert_eq!(read(r#"{"v":"a\u0041\n"}"#).v, Some(Loose::Str("aA\n".into())));
    }
}
