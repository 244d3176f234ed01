//! Whole numbers in request bodies as JSON Schema counts them: `5.0` is the integer 5 (the
//! OpenAPI document says `type: integer`, and a client's JSON encoder may write either), while
//! `5.5`, negatives and strings stay refused. Use with `#[serde(deserialize_with = ...)]`.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A non-negative whole number that fits `T`.
struct Whole<T>(T);

impl<'de, T: TryFrom<u64>> Deserialize<'de> for Whole<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct WholeVisitor<T>(PhantomData<T>);

        impl<T: TryFrom<u64>> Visitor<'_> for WholeVisitor<T> {
            type Value = Whole<T>;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a whole number")
            }

            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
                T::try_from(n).map(Whole).map_err(|_| E::invalid_value(de::Unexpected::Unsigned(n), &"a smaller whole number"))
            }

            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
                match u64::try_from(n) {
                    Ok(n) => self.visit_u64(n),
                    Err(_) => Err(E::invalid_value(de::Unexpected::Signed(n), &self)),
                }
            }

            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
                // Below 2^64, so the cast is exact for every whole f64 it accepts.
                if n.fract() == 0.0 && (0.0..18_446_744_073_709_551_616.0).contains(&n) {
                    self.visit_u64(n as u64)
                } else {
                    Err(E::invalid_value(de::Unexpected::Float(n), &self))
                }
            }
        }

        deserializer.deserialize_any(WholeVisitor(PhantomData))
    }
}

pub fn required<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<T, D::Error> {
    Whole::deserialize(deserializer).map(|whole| whole.0)
}

/// For an optional field (`null` or absent is `None`; pair it with `#[serde(default)]`).
pub fn optional<'de, D: Deserializer<'de>, T: TryFrom<u64>>(deserializer: D) -> Result<Option<T>, D::Error> {
    Option::<Whole<T>>::deserialize(deserializer).map(|whole| whole.map(|w| w.0))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    struct Body {
        #[serde(deserialize_with = "super::required")]
        n: u32,
        #[serde(default, deserialize_with = "super::optional")]
        m: Option<u64>,
    }

    fn parse(text: &str) -> Result<(u32, Option<u64>), String> {
        serde_json::from_str::<Body>(text).map(|b| (b.n, b.m)).map_err(|e| e.to_string())
    }

    #[test]
    fn whole_floats_are_integers() {
        assert_eq!(parse(r#"{"n": 5}"#), Ok((5, None)));
        assert_eq!(parse(r#"{"n": 5.0, "m": 7.0}"#), Ok((5, Some(7))));
        assert_eq!(parse(r#"{"n": 1e3, "m": null}"#), Ok((1000, None)));
    }

    #[test]
    fn fractions_negatives_strings_and_overflow_are_refused() {
        for bad in [r#"{"n": 5.5}"#, r#"{"n": -1}"#, r#"{"n": -1.0}"#, r#"{"n": "5"}"#, r#"{"n": 4294967296}"#, r#"{"n": 1, "m": 1e20}"#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
