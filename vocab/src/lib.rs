//! The vocabulary shared by trackplan's crates.
//!
//! The plan model (`trackplan-model`), the code generator (`trackplan-codegen`) and the runtime
//! (`trackplan-runtime`) all speak about the same things: purposes and their legal bases,
//! destinations, how sensitive a value is, and the sets of purposes and destinations an event is
//! collected for or routed to. A rule of the domain is written here once, so every side applies
//! the same one: [`routes`] (which destinations receive an event), [`Audience`] (a `redact`
//! value never goes to a third party) and [`MAX_ITEMS`]. The crate has no dependencies and
//! parses nothing; the model wraps these types in spans, the runtime uses them as they are.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod basis;
mod constraints;
mod granularity;
mod identity;
mod keyword;
mod name;
mod profile_op;
mod route;
mod sensitivity;
mod set;

pub use basis::LegalBasis;
pub use constraints::Constraints;
pub use granularity::Granularity;
pub use identity::IdentityTransform;
pub use keyword::Keyword;
pub use name::{
    PROFILE_NAMES, RESERVED_NAMES, RESERVED_PREFIXES, is_profile_name, is_reserved_name,
};
pub use profile_op::{ProfileOp, TraitShape};
pub use route::{Audience, route, routes};
pub use sensitivity::Sensitivity;
pub use set::{DestinationSet, Indices, PurposeSet};

/// Most purposes, destinations or events' purposes a plan may declare: sets of them are one
/// `u64` bit set, so routing and consent checks on the `track` path are a few integer operations.
pub const MAX_ITEMS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_round_trip_through_their_keys() {
        fn check<K: Keyword>() {
            assert_eq!(K::ALL.len(), K::KEYS.len());
            for (v, k) in K::ALL.iter().zip(K::KEYS) {
                assert_eq!(v.key(), *k);
                assert_eq!(v.to_string(), *k);
                assert_eq!(K::from_key(k), Some(*v));
                assert!(!v.description().starts_with(' '));
            }
            assert_eq!(K::from_key("no such key"), None);
        }
        check::<LegalBasis>();
        check::<Sensitivity>();
        check::<IdentityTransform>();
        check::<Granularity>();
        check::<ProfileOp>();
        assert_eq!(LegalBasis::DESCRIPTION, "GDPR Art. 6 legal bases.");
        assert_eq!(
            LegalBasis::Consent.description(),
            "Art. 6(1)(a): the subject agreed; off until granted."
        );
    }
}
