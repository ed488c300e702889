//! Enum types of enum properties, and the `Values` impls that map variants to wire values.

use proc_macro2::{Ident, TokenStream};
use quote::quote;
use trackplan_model::{SourceFile, Spanned};

use crate::doc::{self, Doc};
use crate::event::location;
use crate::names::EnumItem;

/// The enum of `item` and its impls.
pub(crate) fn enum_type(src: &SourceFile, item: &EnumItem<'_>) -> TokenStream {
    let ident = &item.ident;
    let p = item.property;

    let mut docs = Doc::new();
    if let Some(d) = &p.description {
        docs.text(&d.value);
        docs.paragraph();
    }
    docs.line(format!(
        "Values of property {}, sent as {}; declared at {}.",
        doc::code(&item.key),
        doc::wire(&p.name.value),
        doc::code(&location(src, p.id.span.start)),
    ));
    let docs = docs.attrs();

    let variants = item.variants.iter().map(|(v, value)| {
        let line = format!(" Sent as {}.", doc::wire(&value.value));
        quote! {
            #[doc = #line]
            #v,
        }
    });
    let impls = values_impl(ident, &item.key, &item.variants);
    quote! {
        #docs
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum #ident {
            #(#variants)*
        }

        #impls
    }
}

/// `Sealed`, `Values` and `ValuesOf` for an enum bound to the property `key` (shared id, or
/// `event.property` for an inline one): shared by `plan!` and `#[derive(Values)]`.
pub(crate) fn values_impl(
    ident: &Ident,
    key: &str,
    variants: &[(Ident, &Spanned<String>)],
) -> TokenStream {
    let arms = variants.iter().map(|(v, value)| {
        let value = &value.value;
        quote!(#ident::#v => #value,)
    });
    let hash = proc_macro2::Literal::u64_unsuffixed(key_hash(key));
    quote! {
        impl ::trackplan::__private::Sealed for #ident {}

        impl ::trackplan::Values for #ident {
            const PROPERTY: &'static str = #key;

            #[inline]
            fn wire(&self) -> &'static str {
                match *self {
                    #(#arms)*
                }
            }
        }

        impl ::trackplan::__private::ValuesOf<#hash> for #ident {}
    }
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
