//! Sets of purposes and of destinations, indexed by declaration order in the plan.

use std::fmt;
use std::ops::{BitAnd, BitAndAssign, BitOr, BitOrAssign, Not, Sub};

use crate::MAX_ITEMS;

/// The indices in a set, ascending. Made by `iter` on [`PurposeSet`] and [`DestinationSet`].
#[derive(Clone)]
pub struct Indices(u64);

impl Iterator for Indices {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        if self.0 == 0 {
            return None;
        }
        let index = self.0.trailing_zeros() as usize;
        self.0 &= self.0 - 1;
        Some(index)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.0.count_ones() as usize;
        (n, Some(n))
    }
}

impl ExactSizeIterator for Indices {}

macro_rules! index_set {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(u64);

        impl $name {
            /// The empty set.
            pub const EMPTY: $name = $name(0);

            /// The set whose bit `i` stands for the item at index `i`.
            pub const fn from_bits(bits: u64) -> $name {
                $name(bits)
            }

            /// The set as bits, bit `i` standing for the item at index `i`.
            pub const fn bits(self) -> u64 {
                self.0
            }

            /// The set of the first `n` items (all of a plan's, for `n` = their count).
            pub const fn first(n: usize) -> $name {
                if n >= MAX_ITEMS { $name(u64::MAX) } else { $name((1u64 << n) - 1) }
            }

            /// The set holding only `index`; empty when `index` is not below [`MAX_ITEMS`].
            pub const fn only(index: usize) -> $name {
                if index < MAX_ITEMS { $name(1u64 << index) } else { $name(0) }
            }

            /// This set with `index` added (unchanged when `index` is not below [`MAX_ITEMS`]).
            #[must_use]
            pub const fn with(self, index: usize) -> $name {
                $name(self.0 | $name::only(index).0)
            }

            /// This set without `index`.
            #[must_use]
            pub const fn without(self, index: usize) -> $name {
                $name(self.0 & !$name::only(index).0)
            }

            /// Whether `index` is in the set.
            #[inline]
            pub const fn contains(self, index: usize) -> bool {
                index < MAX_ITEMS && self.0 & (1u64 << index) != 0
            }

            /// Whether every item of `other` is in `self`.
            #[inline]
            pub const fn contains_all(self, other: $name) -> bool {
                self.0 & other.0 == other.0
            }

            /// Whether the two sets share an item.
            #[inline]
            pub const fn intersects(self, other: $name) -> bool {
                self.0 & other.0 != 0
            }

            /// Whether the set is empty.
            #[inline]
            pub const fn is_empty(self) -> bool {
                self.0 == 0
            }

            /// How many items the set holds.
            pub const fn len(self) -> usize {
                self.0.count_ones() as usize
            }

            /// The items of either set.
            #[inline]
            #[must_use]
            pub const fn union(self, other: $name) -> $name {
                $name(self.0 | other.0)
            }

            /// The items of both sets.
            #[inline]
            #[must_use]
            pub const fn intersection(self, other: $name) -> $name {
                $name(self.0 & other.0)
            }

            /// The items of `self` that are not in `other`.
            #[inline]
            #[must_use]
            pub const fn difference(self, other: $name) -> $name {
                $name(self.0 & !other.0)
            }

            /// The indices in the set, ascending.
            #[inline]
            pub fn iter(self) -> Indices {
                Indices(self.0)
            }
        }

        impl IntoIterator for $name {
            type Item = usize;
            type IntoIter = Indices;

            fn into_iter(self) -> Indices {
                self.iter()
            }
        }

        impl FromIterator<usize> for $name {
            /// Indices not below [`MAX_ITEMS`] are left out.
            fn from_iter<I: IntoIterator<Item = usize>>(iter: I) -> $name {
                iter.into_iter().fold($name::EMPTY, $name::with)
            }
        }

        impl BitOr for $name {
            type Output = $name;
            fn bitor(self, other: $name) -> $name {
                self.union(other)
            }
        }

        impl BitOrAssign for $name {
            fn bitor_assign(&mut self, other: $name) {
                *self = self.union(other);
            }
        }

        impl BitAnd for $name {
            type Output = $name;
            fn bitand(self, other: $name) -> $name {
                self.intersection(other)
            }
        }

        impl BitAndAssign for $name {
            fn bitand_assign(&mut self, other: $name) {
                *self = self.intersection(other);
            }
        }

        impl Sub for $name {
            type Output = $name;
            fn sub(self, other: $name) -> $name {
                self.difference(other)
            }
        }

        impl Not for $name {
            type Output = $name;
            /// Every index below [`MAX_ITEMS`] not in the set (intersect with
            /// [`first`](Self::first) to stay within a plan).
            fn not(self) -> $name {
                $name(!self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str($what)?;
                f.debug_set().entries(self.iter()).finish()
            }
        }
    };
}

index_set!(
    /// A set of purposes, index `i` standing for the plan's `i`-th purpose in declaration order.
    /// Holds at most [`MAX_ITEMS`].
    PurposeSet,
    "PurposeSet"
);

index_set!(
    /// A set of destinations, index `i` standing for the plan's `i`-th destination in
    /// declaration order. Holds at most [`MAX_ITEMS`].
    DestinationSet,
    "DestinationSet"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iteration_is_ascending_and_exact() {
        let set: PurposeSet = [5, 0, 63, 5].into_iter().collect();
        assert_eq!(set.iter().collect::<Vec<_>>(), [0, 5, 63]);
        assert_eq!(set.len(), 3);
        assert_eq!(set.iter().len(), 3);
        assert_eq!(format!("{set:?}"), "PurposeSet{0, 5, 63}");
    }

    #[test]
    fn out_of_range_indices_are_never_members() {
        let set = DestinationSet::EMPTY.with(64).with(200);
        assert!(set.is_empty());
        assert!(!DestinationSet::from_bits(u64::MAX).contains(64));
        assert_eq!(DestinationSet::only(64), DestinationSet::EMPTY);
    }

    #[test]
    fn set_operations() {
        let a = PurposeSet::from_bits(0b0110);
        let b = PurposeSet::from_bits(0b0011);
        assert_eq!((a | b).bits(), 0b0111);
        assert_eq!((a & b).bits(), 0b0010);
        assert_eq!((a - b).bits(), 0b0100);
        assert_eq!(a.without(1).bits(), 0b0100);
        assert!(a.intersects(b));
        assert!(!a.contains_all(b));
        assert!((a | b).contains_all(b));
        assert_eq!((!a & PurposeSet::first(4)).bits(), 0b1001);
        assert_eq!(PurposeSet::first(64).len(), 64);
        assert_eq!(PurposeSet::first(0), PurposeSet::EMPTY);
    }
}
