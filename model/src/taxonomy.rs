//! The privacy taxonomy: fideslang data categories (what a value *is*) and data uses (what it
//! is used *for*), built in as data, plus the categories a plan adds.
//!
//! Keys are hierarchical: `user.contact` covers `user.contact.email`, never the reverse. In the
//! built-in data (and in plan extensions, which must sit below an existing key) a key's parent
//! is always the key without its last segment, so coverage is a prefix test on whole segments.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::diagnostic::Diagnostic;
use crate::plan::CategoryExtension;
use crate::source::Span;
use crate::suggestion::did_you_mean;

const CATEGORIES_TSV: &str = include_str!("../taxonomy/data_categories.tsv");
const DATA_USES_TSV: &str = include_str!("../taxonomy/data_uses.tsv");

/// The GDPR special categories of the built-in taxonomy (Art. 9, plus Art. 8 children and
/// Art. 10 criminal records): each key covers everything below it.
const SPECIAL_CATEGORIES: &[(&str, &str)] = &[
    (
        "user.health_and_medical.genetic",
        "genetic data (GDPR Art. 9)",
    ),
    ("user.health_and_medical", "health data (GDPR Art. 9)"),
    ("user.biometric.health", "health data (GDPR Art. 9)"),
    ("user.biometric", "biometric data (GDPR Art. 9)"),
    (
        "user.authorization.biometric",
        "biometric data (GDPR Art. 9)",
    ),
    (
        "user.demographic.race_ethnicity",
        "racial or ethnic origin (GDPR Art. 9)",
    ),
    (
        "user.demographic.political_opinion",
        "political opinions (GDPR Art. 9)",
    ),
    (
        "user.demographic.religious_belief",
        "religious or philosophical beliefs (GDPR Art. 9)",
    ),
    (
        "user.demographic.sexual_orientation",
        "sex life or sexual orientation (GDPR Art. 9)",
    ),
    (
        "user.criminal_history",
        "criminal convictions and offences (GDPR Art. 10)",
    ),
    ("user.childrens", "children's data (GDPR Art. 8)"),
];

/// What the ground of a plan-added special category is called in messages.
const PLAN_SPECIAL: &str = "a special category (marked `special = true` in this plan)";

/// One taxonomy key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxonomyKey {
    /// The dotted key, e.g. `user.contact.email`.
    pub key: String,
    /// The parent key; `None` at a root.
    pub parent: Option<String>,
    /// The fideslang version that added it (empty for plan extensions).
    pub version_added: String,
    /// The fideslang version that deprecated it, if any.
    pub deprecated: Option<String>,
    /// What replaces a deprecated key.
    pub replaced_by: Option<String>,
    /// For categories: the special-category ground when this key (or an ancestor) is special.
    pub special: Option<String>,
    /// A description, for plan extensions that give one.
    pub description: Option<String>,
    /// Whether the plan added this key.
    pub from_plan: bool,
}

impl TaxonomyKey {
    /// A readable label for docs: the last segment, words separated, first letter capitalized,
    /// well-known abbreviations in capitals.
    ///
    /// ```
    /// use trackplan_model::Taxonomy;
    /// let t = Taxonomy::builtin();
    /// assert_eq!(t.category("user.device.ip_address").unwrap().label(), "IP address");
    /// ```
    pub fn label(&self) -> String {
        label(&self.key)
    }
}

/// A readable label derived from a taxonomy key (`user.contact.email` → `Email`,
/// `marketing.advertising.third_party.targeted` → `Targeted`).
///
/// Docs usually want the whole path too; [`path_label`] joins every segment's label.
pub fn label(key: &str) -> String {
    let last = key.rsplit('.').next().unwrap_or(key);
    segment_label(last)
}

/// Labels of every segment joined with ` › `
/// (`user.contact.email` → `User › Contact › Email`).
pub fn path_label(key: &str) -> String {
    key.split('.')
        .map(segment_label)
        .collect::<Vec<_>>()
        .join(" › ")
}

fn segment_label(segment: &str) -> String {
    let words: Vec<String> = segment
        .split('_')
        .filter(|w| !w.is_empty())
        .enumerate()
        .map(|(i, w)| match w {
            "ip" | "id" | "sms" | "ai" | "url" => w.to_ascii_uppercase(),
            "and" => "and".to_owned(),
            "childrens" => if i == 0 { "Children's" } else { "children's" }.to_owned(),
            _ if i == 0 => {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_uppercase().chain(c).collect())
                    .unwrap_or_default()
            }
            _ => w.to_owned(),
        })
        .collect();
    words.join(" ")
}

/// Data categories and data uses, with lookups by key.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    categories: Vec<TaxonomyKey>,
    data_uses: Vec<TaxonomyKey>,
    category_index: HashMap<String, usize>,
    data_use_index: HashMap<String, usize>,
}

impl Taxonomy {
    /// The built-in fideslang 3.x taxonomy, parsed once per process.
    pub fn builtin() -> &'static Taxonomy {
        static BUILTIN: OnceLock<Taxonomy> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            let mut categories = read_tsv(CATEGORIES_TSV);
            for c in &mut categories {
                c.special = special_ground(&c.key).map(str::to_owned);
            }
            let data_uses = read_tsv(DATA_USES_TSV);
            Taxonomy::from_keys(categories, data_uses)
        })
    }

    fn from_keys(categories: Vec<TaxonomyKey>, data_uses: Vec<TaxonomyKey>) -> Taxonomy {
        let index = |keys: &[TaxonomyKey]| {
            keys.iter()
                .enumerate()
                .map(|(i, k)| (k.key.clone(), i))
                .collect()
        };
        Taxonomy {
            category_index: index(&categories),
            data_use_index: index(&data_uses),
            categories,
            data_uses,
        }
    }

    /// The built-in taxonomy plus a plan's `[taxonomy.categories."<key>"]` extensions, and the
    /// problems with those extensions (a key that is malformed or has no existing parent).
    ///
    /// An extension that names an existing key may only tighten it (`special = true`).
    pub fn extended(&self, extensions: &[CategoryExtension]) -> (Taxonomy, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        if extensions.is_empty() {
            return (self.clone(), diagnostics);
        }
        let mut categories = self.categories.clone();
        let mut index = self.category_index.clone();
        let mut added: Vec<(usize, Span)> = Vec::new();
        for ext in extensions {
            let key = ext.key.value.as_str();
            let well_formed = !key.is_empty()
                && key.split('.').all(|s| {
                    s.starts_with(|c: char| c.is_ascii_lowercase())
                        && s.chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                });
            if !well_formed {
                diagnostics.push(
                    Diagnostic::error(
                        "invalid-category",
                        format!("taxonomy category `{key}` is not a valid key"),
                    )
                    .at(ext.key.span)
                    .with_label("not a dotted snake_case key")
                    .with_help("keys are lowercase segments joined by dots, e.g. `user.demographic.union_membership`"),
                );
                continue;
            }
            if let Some(&i) = index.get(key) {
                let existing = &mut categories[i];
                if existing.from_plan {
                    diagnostics.push(
                        Diagnostic::error(
                            "duplicate-key",
                            format!("taxonomy category `{key}` is added twice"),
                        )
                        .at(ext.key.span),
                    );
                } else if ext.special {
                    existing
                        .special
                        .get_or_insert_with(|| PLAN_SPECIAL.to_owned());
                    existing.description = ext.description.as_ref().map(|d| d.value.clone());
                } else {
                    diagnostics.push(
                        Diagnostic::error(
                            "invalid-category",
                            format!("taxonomy category `{key}` is already built in"),
                        )
                        .at(ext.key.span)
                        .with_label("already in the fideslang taxonomy")
                        .with_help("remove this table, or add `special = true` to treat the built-in category as special"),
                    );
                }
                continue;
            }
            let parent = key.rsplit_once('.').map(|(p, _)| p.to_owned());
            index.insert(key.to_owned(), categories.len());
            added.push((categories.len(), ext.key.span));
            categories.push(TaxonomyKey {
                key: key.to_owned(),
                parent,
                version_added: String::new(),
                deprecated: None,
                replaced_by: None,
                special: ext.special.then(|| PLAN_SPECIAL.to_owned()),
                description: ext.description.as_ref().map(|d| d.value.clone()),
                from_plan: true,
            });
        }
        // Parents are checked after all additions so extensions may build on each other in any
        // order; special-ness is then inherited from the nearest special ancestor.
        for (i, span) in added {
            let key = categories[i].key.clone();
            match categories[i].parent.clone() {
                Some(parent) if index.contains_key(&parent) => {}
                parent => {
                    let mut d = Diagnostic::error(
                        "invalid-category",
                        format!(
                            "taxonomy category `{key}` does not sit below an existing category"
                        ),
                    )
                    .at(span)
                    .with_label("no parent category");
                    d.help = match parent {
                        Some(parent) => did_you_mean(&parent, categories.iter().map(|c| c.key.as_str()))
                            .map(|h| format!("its parent `{parent}` is unknown; {h}"))
                            .or_else(|| Some(format!("its parent `{parent}` is unknown"))),
                        None => Some("a plan may only add keys below existing ones, e.g. `user.demographic.union_membership`".to_owned()),
                    };
                    diagnostics.push(d);
                }
            }
        }
        let mut taxonomy = Taxonomy::from_keys(categories, self.data_uses.clone());
        let inherited: Vec<(usize, String)> = taxonomy
            .categories
            .iter()
            .enumerate()
            .filter(|(_, c)| c.special.is_none())
            .filter_map(|(i, c)| {
                taxonomy
                    .ancestors(&c.key)
                    .skip(1)
                    .find_map(|a| taxonomy.category(a).and_then(|k| k.special.clone()))
                    .map(|s| (i, s))
            })
            .collect();
        for (i, special) in inherited {
            taxonomy.categories[i].special = Some(special);
        }
        (taxonomy, diagnostics)
    }

    /// The taxonomy a valid plan uses: the built-in one plus the plan's extensions (whose
    /// problems [`check`](crate::check) has already reported).
    pub fn for_plan(plan: &crate::plan::Plan) -> Taxonomy {
        Taxonomy::builtin().extended(&plan.taxonomy).0
    }

    /// The data category with this key.
    pub fn category(&self, key: &str) -> Option<&TaxonomyKey> {
        self.category_index.get(key).map(|&i| &self.categories[i])
    }

    /// The data use with this key.
    pub fn data_use(&self, key: &str) -> Option<&TaxonomyKey> {
        self.data_use_index.get(key).map(|&i| &self.data_uses[i])
    }

    /// Every data category, built-in first, in file order.
    pub fn categories(&self) -> impl Iterator<Item = &TaxonomyKey> {
        self.categories.iter()
    }

    /// Every data use, in file order.
    pub fn data_uses(&self) -> impl Iterator<Item = &TaxonomyKey> {
        self.data_uses.iter()
    }

    /// The key followed by its ancestors, nearest first
    /// (`user.contact.email`, `user.contact`, `user`).
    pub fn ancestors<'k>(&self, key: &'k str) -> impl Iterator<Item = &'k str> + 'k {
        std::iter::successors(Some(key), |k| k.rsplit_once('.').map(|(p, _)| p))
    }

    /// Whether a special category (Art. 9/10, children) covers this data category.
    ///
    /// ```
    /// use trackplan_model::Taxonomy;
    /// let t = Taxonomy::builtin();
    /// assert!(t.is_special("user.health_and_medical.genetic"));
    /// assert!(!t.is_special("user.contact.email"));
    /// ```
    pub fn is_special(&self, key: &str) -> bool {
        self.special_ground(key).is_some()
    }

    /// Why a data category is special ("health data (GDPR Art. 9)"), if it is.
    pub fn special_ground(&self, key: &str) -> Option<&str> {
        self.ancestors(key)
            .find_map(|a| self.category(a).and_then(|c| c.special.as_deref()))
    }

    /// Whether a data category is about a person (`user.*`), so at least `personal`.
    pub fn is_personal(&self, key: &str) -> bool {
        key == "user" || key.starts_with("user.")
    }
}

/// Whether taxonomy key `rule` covers `key`: equal, or an ancestor of it.
///
/// ```
/// use trackplan_model::taxonomy::covers;
/// assert!(covers("user.contact", "user.contact.email"));
/// assert!(covers("user.contact", "user.contact"));
/// assert!(!covers("user.contact.email", "user.contact"));
/// assert!(!covers("user.contact", "user.contacts"));
/// ```
pub fn covers(rule: &str, key: &str) -> bool {
    key.strip_prefix(rule)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'))
}

fn special_ground(key: &str) -> Option<&'static str> {
    SPECIAL_CATEGORIES
        .iter()
        .find(|(special, _)| covers(special, key))
        .map(|(_, ground)| *ground)
}

fn read_tsv(text: &str) -> Vec<TaxonomyKey> {
    let non_empty = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let mut cols = line.split('\t');
            let key = cols.next().unwrap_or("").trim().to_owned();
            TaxonomyKey {
                key,
                parent: non_empty(cols.next()),
                version_added: non_empty(cols.next()).unwrap_or_default(),
                deprecated: non_empty(cols.next()),
                replaced_by: non_empty(cols.next()),
                special: None,
                description: None,
                from_plan: false,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::Spanned;

    #[test]
    fn builtin_has_every_key_of_the_data_files() {
        let t = Taxonomy::builtin();
        assert_eq!(t.categories().count(), 85);
        assert_eq!(t.data_uses().count(), 56);
        assert!(t.category("user.contact.email").is_some());
        assert!(
            t.data_use("marketing.advertising.third_party.targeted")
                .is_some()
        );
        assert!(t.category("marketing").is_none());
    }

    #[test]
    fn parents_are_the_key_without_its_last_segment() {
        // `covers` and `ancestors` rely on this; a new data file that broke it must fail here.
        let t = Taxonomy::builtin();
        for k in t.categories().chain(t.data_uses()) {
            let expected = k.key.rsplit_once('.').map(|(p, _)| p.to_owned());
            assert_eq!(k.parent, expected, "{}", k.key);
            if let Some(p) = &k.parent {
                assert!(t.category(p).is_some() || t.data_use(p).is_some(), "{p}");
            }
        }
    }

    #[test]
    fn special_categories_follow_the_table() {
        let t = Taxonomy::builtin();
        for special in SPECIAL_CATEGORIES {
            assert!(
                t.category(special.0).is_some(),
                "{} is a built-in key",
                special.0
            );
        }
        assert_eq!(
            t.special_ground("user.health_and_medical.record_id"),
            Some("health data (GDPR Art. 9)")
        );
        assert_eq!(
            t.special_ground("user.health_and_medical.genetic"),
            Some("genetic data (GDPR Art. 9)")
        );
        assert!(t.is_special("user.biometric.fingerprint"));
        assert!(t.is_special("user.childrens"));
        assert!(!t.is_special("user.demographic.age_range"));
        assert!(!t.is_special("system.operations"));
        assert!(t.is_personal("user.demographic.age_range"));
        assert!(!t.is_personal("system.operations"));
    }

    #[test]
    fn deprecated_keys_name_their_replacement() {
        let t = Taxonomy::builtin();
        let k = t.data_use("personalize.profiling").unwrap();
        assert_eq!(k.deprecated.as_deref(), Some("2.1.1"));
        assert_eq!(
            k.replaced_by.as_deref(),
            Some("personalize.content.profiling")
        );
        assert!(
            t.data_use("analytics.reporting")
                .unwrap()
                .deprecated
                .is_none()
        );
    }

    fn ext(key: &str, special: bool) -> CategoryExtension {
        CategoryExtension {
            key: Spanned::new(key.to_owned(), Span::new(3, 5)),
            special,
            description: None,
        }
    }

    #[test]
    fn plan_extensions_sit_below_existing_keys() {
        let (t, d) = Taxonomy::builtin().extended(&[
            ext("user.demographic.union_membership", true),
            ext("user.demographic.union_membership.role", false),
            ext("user.contact.email.work", false),
        ]);
        assert!(d.is_empty(), "{d:?}");
        assert!(
            t.category("user.demographic.union_membership")
                .unwrap()
                .from_plan
        );
        assert_eq!(
            t.special_ground("user.demographic.union_membership"),
            Some(PLAN_SPECIAL)
        );
        // Below a special key, special too.
        assert!(t.is_special("user.demographic.union_membership.role"));
        assert!(!t.is_special("user.contact.email.work"));
        // The built-in taxonomy is unchanged.
        assert!(
            Taxonomy::builtin()
                .category("user.demographic.union_membership")
                .is_none()
        );
    }

    #[test]
    fn plan_extensions_without_parent_or_malformed_are_errors() {
        let (_, d) = Taxonomy::builtin().extended(&[
            ext("user.demographc.union", true),
            ext("toplevel", false),
            ext("User.Bad", false),
            ext("user.contact.email", false),
        ]);
        let codes: Vec<_> = d.iter().map(|d| (d.code, d.message.as_str())).collect();
        assert_eq!(codes.len(), 4, "{codes:?}");
        assert!(d[0].message.contains("`User.Bad` is not a valid key"));
        assert!(d[1].message.contains("already built in"));
        assert!(
            d[2].message
                .contains("`user.demographc.union` does not sit below")
        );
        assert_eq!(
            d[2].help.as_deref(),
            Some("its parent `user.demographc` is unknown; did you mean `user.demographic`?")
        );
        assert!(d[3].message.contains("`toplevel` does not sit below"));
    }

    #[test]
    fn plan_may_mark_a_builtin_category_special() {
        let (t, d) = Taxonomy::builtin().extended(&[ext("user.location.precise", true)]);
        assert!(d.is_empty());
        assert!(t.is_special("user.location.precise"));
    }

    #[test]
    fn labels_are_readable() {
        assert_eq!(label("user.contact.email"), "Email");
        assert_eq!(label("user.childrens"), "Children's");
        assert_eq!(label("user.health_and_medical"), "Health and medical");
        assert_eq!(label("essential.service.notifications.sms"), "SMS");
        assert_eq!(
            path_label("user.device.ip_address"),
            "User › Device › IP address"
        );
    }
}
