//! Serde and JSON Schema for the vocabulary's keyword enums ([`LegalBasis`] and the others).
//!
//! `trackplan-vocab` has no dependencies, so its enums implement neither serde's traits nor
//! schemars'; the format types use them through `#[serde(with = "keyword")]` and
//! `#[schemars(with = "keyword::Schema<_>")]`. Both read the keys and descriptions from the
//! vocabulary, so the editor schema lists exactly the values the parser accepts.
//!
//! [`LegalBasis`]: trackplan_vocab::LegalBasis

use std::borrow::Cow;
use std::marker::PhantomData;

use schemars::{JsonSchema, SchemaGenerator, json_schema};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serializer};
use trackplan_vocab::Keyword;

/// Writes a keyword as its key.
pub(crate) fn serialize<K: Keyword, S: Serializer>(value: &K, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(value.key())
}

/// Reads a keyword from its key; an unknown key is serde's "unknown variant" error.
pub(crate) fn deserialize<'de, K: Keyword, D: Deserializer<'de>>(d: D) -> Result<K, D::Error> {
    let key = String::deserialize(d)?;
    K::from_key(&key).ok_or_else(|| D::Error::unknown_variant(&key, K::KEYS))
}

/// The same for an optional keyword.
pub(crate) mod option {
    use super::*;

    /// Writes the key, or nothing (fields skip `None` before this is called).
    pub(crate) fn serialize<K: Keyword, S: Serializer>(
        value: &Option<K>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match value {
            Some(v) => s.serialize_some(v.key()),
            None => s.serialize_none(),
        }
    }

    /// Reads an optional key.
    pub(crate) fn deserialize<'de, K: Keyword, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<K>, D::Error> {
        match Option::<String>::deserialize(d)? {
            Some(key) => K::from_key(&key)
                .map(Some)
                .ok_or_else(|| D::Error::unknown_variant(&key, K::KEYS)),
            None => Ok(None),
        }
    }
}

/// The schema of keyword `K`: one string constant per value with its description, under the
/// enum's name, as schemars writes a documented unit enum.
pub(crate) struct Schema<K>(PhantomData<K>);

impl<K: Keyword> JsonSchema for Schema<K> {
    fn schema_name() -> Cow<'static, str> {
        Cow::Borrowed(K::NAME)
    }

    fn schema_id() -> Cow<'static, str> {
        Cow::Owned(format!("trackplan_vocab::{}", K::NAME))
    }

    fn json_schema(_: &mut SchemaGenerator) -> schemars::Schema {
        let values: Vec<serde_json::Value> = K::ALL
            .iter()
            .map(|v| {
                serde_json::json!({
                    "const": v.key(),
                    "description": v.description(),
                    "type": "string",
                })
            })
            .collect();
        json_schema!({
            "description": K::DESCRIPTION,
            "oneOf": values,
        })
    }
}
