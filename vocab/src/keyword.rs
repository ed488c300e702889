//! Keywords: the closed lists of words a plan file chooses from (`basis = "consent"`).

use std::fmt;

/// A closed list of plan-file keywords, such as [`LegalBasis`](crate::LegalBasis).
///
/// The plan parser, the editor schema and the review tools all read the list from here, so a
/// keyword exists in one place: the variant, its key and its description.
pub trait Keyword: Copy + Eq + fmt::Debug + fmt::Display + 'static {
    /// Every value, in the order the plan format documents them.
    const ALL: &'static [Self];
    /// The key of every value, in the order of [`ALL`](Keyword::ALL).
    const KEYS: &'static [&'static str];
    /// The enum's name (`"LegalBasis"`), for schemas that list the keywords by name.
    const NAME: &'static str;
    /// What the list as a whole is, in one line.
    const DESCRIPTION: &'static str;

    /// The key as written in plan files (`"legitimate_interest"`).
    fn key(self) -> &'static str;

    /// One sentence on what this value means, as editors show it.
    fn description(self) -> &'static str;

    /// The value written `key` in plan files.
    fn from_key(key: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.key() == key)
    }
}

/// Defines a keyword enum: the variants with their keys and one-line docs, `key`, `Display`
/// (the key) and [`Keyword`]. The enum's one doc line is also its [`Keyword::DESCRIPTION`].
macro_rules! keywords {
    (
        #[doc = $doc:literal]
        #[derive($($derive:ident),*)]
        pub enum $name:ident {
            $(
                #[doc = $vdoc:literal]
                $variant:ident = $key:literal,
            )+
        }
    ) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash $(, $derive)*)]
        pub enum $name {
            $(
                #[doc = $vdoc]
                $variant,
            )+
        }

        impl $name {
            /// The key as written in plan files.
            pub const fn key(self) -> &'static str {
                match self {
                    $($name::$variant => $key,)+
                }
            }
        }

        impl $crate::Keyword for $name {
            const ALL: &'static [$name] = &[$($name::$variant),+];
            const KEYS: &'static [&'static str] = &[$($key),+];
            const NAME: &'static str = stringify!($name);
            const DESCRIPTION: &'static str = $crate::keyword::trim_doc($doc);

            fn key(self) -> &'static str {
                $name::key(self)
            }

            fn description(self) -> &'static str {
                match self {
                    $($name::$variant => $crate::keyword::trim_doc($vdoc),)+
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.key())
            }
        }
    };
}

pub(crate) use keywords;

/// A doc line without the space `///` leaves before it.
pub(crate) const fn trim_doc(line: &'static str) -> &'static str {
    match line.as_bytes() {
        [b' ', ..] => match line.split_at_checked(1) {
            Some((_, rest)) => rest,
            None => line,
        },
        _ => line,
    }
}
