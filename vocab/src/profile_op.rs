//! The operations a profile update applies to one trait.

use crate::keyword::keywords;

keywords! {
    /// What a profile (or group profile) update does with one trait.
    #[derive()]
    pub enum ProfileOp {
        /// Sets the trait, replacing its value (Mixpanel `$set`, Segment `identify` traits).
        Set = "set",
        /// Sets the trait only if it has no value yet (Mixpanel `$set_once`).
        SetOnce = "set_once",
        /// Adds a number to a numeric trait (Mixpanel `$add`).
        Add = "add",
        /// Adds the items a list trait does not hold yet (Mixpanel `$union`).
        Union = "union",
        /// Removes items from a list trait (Mixpanel `$remove`).
        Remove = "remove",
        /// Removes the trait from the profile (Mixpanel `$unset`).
        Unset = "unset",
    }
}

/// The shape of a trait's type, as far as [`ProfileOp::fits`] needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TraitShape {
    /// `integer` or `number`.
    Number,
    /// `list`.
    List,
    /// Every other type (`string`, `boolean`, `timestamp`, `enum`).
    Scalar,
}

/// Which operations fit which trait type is [`ProfileOp::fits`]; the plan's generated code
/// offers only those.
impl ProfileOp {
    /// Whether this operation applies to a trait of this shape: `add` to numbers only,
    /// `union`/`remove` to lists only; `set`, `set_once` and `unset` to every trait.
    pub const fn fits(self, shape: TraitShape) -> bool {
        match self {
            ProfileOp::Set | ProfileOp::SetOnce | ProfileOp::Unset => true,
            ProfileOp::Add => matches!(shape, TraitShape::Number),
            ProfileOp::Union | ProfileOp::Remove => matches!(shape, TraitShape::List),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_fit_their_shapes_only() {
        assert!(ProfileOp::Add.fits(TraitShape::Number));
        assert!(!ProfileOp::Add.fits(TraitShape::Scalar));
        assert!(!ProfileOp::Add.fits(TraitShape::List));
        assert!(ProfileOp::Union.fits(TraitShape::List));
        assert!(!ProfileOp::Remove.fits(TraitShape::Number));
        for shape in [TraitShape::Number, TraitShape::List, TraitShape::Scalar] {
            assert!(ProfileOp::Set.fits(shape));
            assert!(ProfileOp::SetOnce.fits(shape));
            assert!(ProfileOp::Unset.fits(shape));
        }
    }
}
