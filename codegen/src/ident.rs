//! Generated names as identifiers, checked first so a bad name is an error and never a panic.

use proc_macro2::{Ident, Span};
use trackplan_model::naming::is_keyword;

/// Keywords that have no raw form (`r#self` is not an identifier).
const UNRAWABLE: &[&str] = &["self", "Self", "crate", "super", "_"];

/// The identifier for a generated `name`, as the model's naming rule returns it (`r#type` for a
/// raw identifier). `None` when `name` is not an identifier at all: `proc_macro2::Ident::new`
/// would panic on it.
pub(crate) fn ident(name: &str) -> Option<Ident> {
    let (raw, text) = match name.strip_prefix("r#") {
        Some(rest) => (true, rest),
        None => (false, name),
    };
    if !is_identifier(text) || UNRAWABLE.contains(&text) {
        return None;
    }
    if raw || is_keyword(text) {
        Some(Ident::new_raw(text, Span::call_site()))
    } else {
        Some(Ident::new(text, Span::call_site()))
    }
}

/// Whether `text` is an identifier token: XID_Start or `_`, then XID_Continue.
fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    match chars.next() {
        Some(c) if c == '_' || unicode_ident::is_xid_start(c) => {}
        _ => return false,
    }
    text != "_" && chars.all(unicode_ident::is_xid_continue)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_raw_and_non_identifiers() {
        assert_eq!(ident("plan_tier").unwrap().to_string(), "plan_tier");
        assert_eq!(ident("r#type").unwrap().to_string(), "r#type");
        assert_eq!(ident("match").unwrap().to_string(), "r#match");
        assert_eq!(ident("Ünïcødé").unwrap().to_string(), "Ünïcødé");
        for bad in [
            "", "_", "self", "r#self", "r#crate", "1abc", "a b", "a-b", "🎉", "r#",
        ] {
            assert!(ident(bad).is_none(), "{bad:?} accepted");
        }
    }
}
