//! Enum types of enum properties, and the `Values` impls that map variants to wire values.
//!
//! `#[derive(Values)]` writes the same impls for a user's enum with `quote!`, keeping the
//! spans of the user's variants (`derive/values.rs`).

use trackplan_model::SourceFile;

use crate::code::{Code, lit};
use crate::doc::{self, Doc};
use crate::event::location;
use crate::names::EnumItem;

/// Writes the enum of `item` and its impls.
pub(crate) fn enum_type(out: &mut Code, src: &SourceFile, item: &EnumItem<'_>) {
    let ident = &item.ident;
    let p = item.property;

    let mut docs = Doc::described(p.description.as_ref());
    docs.line(format!(
        "Values of property {}, sent as {}; declared at {}.",
        doc::code(&item.key),
        doc::wire(&p.name.value),
        doc::code(&location(src, p.id.span.start)),
    ));

    write!(
        out,
        "{docs}#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]\npub enum {ident} {{\n",
        docs = docs.attr()
    );
    for (v, value) in &item.variants {
        let line = format!(" Sent as {}.", doc::wire(&value.value));
        write!(out, "    #[doc = {}]\n    {v},\n", lit(&line));
    }
    write!(
        out,
        "}}

#[doc(hidden)]
impl ::trackplan::__private::Sealed for {ident} {{}}

impl ::trackplan::__private::Values for {ident} {{
    const PROPERTY: &'static str = {key};

    #[inline]
    fn wire(&self) -> &'static str {{
        match *self {{
",
        key = lit(&item.key),
    );
    for (v, value) in &item.variants {
        writeln!(out, "            {ident}::{v} => {},", lit(&value.value));
    }
    write!(
        out,
        "        }}
    }}
}}

#[doc(hidden)]
impl ::trackplan::__private::ValuesOf<{hash}> for {ident} {{}}

impl {ident} {{
    /// Every value, in plan order.
    pub const ALL: [{ident}; {n}] = [{all}];

    /// The wire values, in plan order: what `from_str` and `try_from` accept.
    pub const WIRE_VALUES: [&'static str; {n}] = [{wires}];
}}

impl ::core::str::FromStr for {ident} {{
    type Err = ::trackplan::__private::UnknownValue;

    /// The variant sent as `text`, byte for byte.
    fn from_str(text: &str) -> ::core::result::Result<Self, Self::Err> {{
        match text {{
{arms}            _ => ::core::result::Result::Err(::trackplan::__private::UnknownValue::new({name}, &{ident}::WIRE_VALUES)),
        }}
    }}
}}

impl ::core::convert::TryFrom<&str> for {ident} {{
    type Error = ::trackplan::__private::UnknownValue;

    fn try_from(text: &str) -> ::core::result::Result<Self, Self::Error> {{
        ::core::str::FromStr::from_str(text)
    }}
}}

",
        hash = key_hash(&item.key),
        n = item.variants.len(),
        all = item
            .variants
            .iter()
            .map(|(v, _)| format!("{ident}::{v}"))
            .collect::<Vec<_>>()
            .join(", "),
        wires = item
            .variants
            .iter()
            .map(|(_, value)| lit(&value.value).to_string())
            .collect::<Vec<_>>()
            .join(", "),
        arms = item
            .variants
            .iter()
            .map(|(v, value)| format!(
                "            {} => ::core::result::Result::Ok({ident}::{v}),\n",
                lit(&value.value)
            ))
            .collect::<String>(),
        name = lit(&ident.to_string()),
    );
}

/// The runtime's `enum_key_hash` (64-bit FNV-1a), computed at expansion time.
pub(crate) fn key_hash(key: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in key.as_bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::key_hash;

    #[test]
    fn key_hash_is_fnv1a_like_the_runtime() {
        assert_eq!(key_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(key_hash("a"), 0xaf63_dc4c_8601_ec8c);
    }
}
