//! Reading a request body leniently, in one pass, in memory bounded by its size.
//!
//! Two things a plain `#[derive(Deserialize)]` of the request would get wrong:
//!
//! - A value of the wrong type fails the whole parse, with serde's message and no
//!   parameter named. Here every value keeps its shape ([`Shaped`]), so the validation
//!   can answer, as the API does, "Invalid type for 'temperature': expected a decimal,
//!   but got a string instead."
//! - An array is held whole. A 32 MiB body of `[0,0,0,…]` is 16 million elements, which
//!   as values would take many times the body's size. Here arrays are folded element by
//!   element into what the simulation needs ([`Fold`]), usually a count.
//!
//! Only malformed JSON fails here (serde_json also bounds nesting at 128 levels, so
//! nothing recurses without limit); what the values mean is for `request` to judge.

use std::fmt;
use std::marker::PhantomData;

use serde::de::value::{MapAccessDeserializer, SeqAccessDeserializer};
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

pub(super) use serde::de::IgnoredAny as Skip;

/// A JSON value whose scalars are kept, whose arrays are read as `A` and whose objects
/// as `O` (either can be [`Skip`]ped).
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Shaped<A, O> {
    Null,
    Bool(bool),
    Int(i64),
    /// A number with a fraction or an exponent, or an integer outside i64.
    Float(f64),
    Str(String),
    Array(A),
    Object(O),
}

/// A value of which only a scalar is of use: arrays and objects are skipped.
pub(super) type Scalar = Shaped<Skip, Skip>;

impl<A, O> Shaped<A, O> {
    /// The kind of value, as the API names it in "expected X, but got Y instead".
    pub(super) fn kind(&self) -> &'static str {
        match self {
            Self::Null => "null",
            Self::Bool(_) => "a boolean",
            Self::Int(_) => "an integer",
            Self::Float(_) => "a decimal",
            Self::Str(_) => "a string",
            Self::Array(_) => "an array",
            Self::Object(_) => "an object",
        }
    }
}

impl<'de, A: Deserialize<'de>, O: Deserialize<'de>> Deserialize<'de> for Shaped<A, O> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ShapedVisitor(PhantomData))
    }
}

struct ShapedVisitor<A, O>(PhantomData<(A, O)>);

impl<'de, A: Deserialize<'de>, O: Deserialize<'de>> Visitor<'de> for ShapedVisitor<A, O> {
    type Value = Shaped<A, O>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Shaped::Null)
    }

    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Shaped::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        Shaped::deserialize(d)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Shaped::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Shaped::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        // Above i64::MAX no parameter is in range anyway; as a float it still compares.
        Ok(i64::try_from(v).map_or(Shaped::Float(v as f64), Shaped::Int))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Shaped::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Shaped::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(Shaped::Str(v))
    }

    fn visit_seq<S: SeqAccess<'de>>(self, seq: S) -> Result<Self::Value, S::Error> {
        A::deserialize(SeqAccessDeserializer::new(seq)).map(Shaped::Array)
    }

    fn visit_map<M: MapAccess<'de>>(self, map: M) -> Result<Self::Value, M::Error> {
        O::deserialize(MapAccessDeserializer::new(map)).map(Shaped::Object)
    }
}

/// What an array is folded into, one element at a time, as it is read.
pub(super) trait Fold: Default {
    type Item;
    fn add(&mut self, index: usize, item: Self::Item);
}

/// An array read through its [`Fold`].
#[derive(Debug, Default)]
pub(super) struct Folded<F>(pub(super) F);

impl<'de, F: Fold<Item: Deserialize<'de>>> Deserialize<'de> for Folded<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(FoldVisitor(PhantomData))
    }
}

struct FoldVisitor<F>(PhantomData<F>);

impl<'de, F: Fold<Item: Deserialize<'de>>> Visitor<'de> for FoldVisitor<F> {
    type Value = Folded<F>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
        let mut fold = F::default();
        let mut index = 0;
        while let Some(item) = seq.next_element()? {
            fold.add(index, item);
            index += 1;
        }
        Ok(Folded(fold))
    }
}

/// An object with keys of its own (not parameter names), folded entry by entry into
/// `F`, whose items are `(key, value)`.
#[derive(Debug, Default)]
pub(super) struct Entries<F>(pub(super) F);

impl<'de, V: Deserialize<'de>, F: Fold<Item = (String, V)>> Deserialize<'de> for Entries<F> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntriesVisitor(PhantomData))
    }
}

struct EntriesVisitor<F>(PhantomData<F>);

impl<'de, V: Deserialize<'de>, F: Fold<Item = (String, V)>> Visitor<'de> for EntriesVisitor<F> {
    type Value = Entries<F>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Self::Value, M::Error> {
        let mut fold = F::default();
        let mut index = 0;
        while let Some(entry) = map.next_entry()? {
            fold.add(index, entry);
            index += 1;
        }
        Ok(Entries(fold))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(usize);

    impl Fold for Count {
        type Item = Skip;
        fn add(&mut self, _: usize, _: Skip) {
            self.0 += 1;
        }
    }

    type Value = Shaped<Folded<Count>, Skip>;

    fn read(text: &str) -> Value {
        serde_json::from_str(text).expect(text)
    }

    #[test]
    fn keeps_scalars_and_kinds() {
        assert_eq!(read("null").kind(), "null");
        assert!(matches!(read("true"), Shaped::Bool(true)));
        assert!(matches!(read("-3"), Shaped::Int(-3)));
        assert!(matches!(read("3.5"), Shaped::Float(f) if f == 3.5));
        assert!(matches!(read("1e3"), Shaped::Float(f) if f == 1000.0));
        // Beyond i64 an integer is still a number, compared as a float.
        assert!(matches!(read("18446744073709551615"), Shaped::Float(_)));
        assert!(matches!(read("100000000000000000000000"), Shaped::Float(_)));
        assert!(matches!(read(r#""h\u00e9""#), Shaped::Str(s) if s == "hé"));
        assert_eq!(read(r#"{"a": [1, {"b": 2}]}"#).kind(), "an object");
    }

    #[test]
    fn folds_arrays_without_holding_them() {
        let Shaped::Array(Folded(Count(n))) = read(&format!("[{}0]", "[1, {}], ".repeat(100_000))) else {
            panic!("an array")
        };
        assert_eq!(n, 100_001);
    }

    #[test]
    fn only_malformed_json_fails() {
        for bad in ["", "[1,", "{\"a\" 1}", "[1] 2", "nul", &"[".repeat(200)] {
            assert!(serde_json::from_str::<Value>(bad).is_err(), "{bad}");
        }
    }
}
