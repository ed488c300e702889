//! Generated Rust names: the one documented rule that turns plan ids and wire values into Rust
//! identifiers.
//!
//! The macros never derive a name themselves: they ask this module, and validation uses the same
//! functions to reject plans whose generated names would collide (code `name-collision`), so a
//! valid plan never produces a rustc error inside generated code.
//!
//! | plan item | generated name | example |
//! |---|---|---|
//! | event `signup_completed` | struct, UpperCamelCase of the id | `SignupCompleted` |
//! | shared enum property `plan_tier` | enum, UpperCamelCase of the id | `PlanTier` |
//! | inline enum property `reason` on event `login_failed` | event + property | `LoginFailedReason` |
//! | an enum type equal to an event struct name | suffix `Value` | `PlanTierValue` |
//! | purpose `product_analytics` | `purpose::ProductAnalytics` | |
//! | destination `mixpanel` | `destination::Mixpanel` | |
//! | property id (field) | the id; keywords raw, `self`/`crate`/`super` + `_` | `r#type`, `self_` |
//! | enum value `"Health & Beauty"` | words capitalized and joined | `HealthBeauty` |
//! | enum value `"18-24"` | leading digit gets `V` | `V1824` |
//! | enum value `"🎉"` (nothing usable) | `Value` + 1-based position | `Value3` |
//! | any type or variant name `Self` | trailing underscore | `Self_` |
//!
//! UpperCamelCase of an id splits on `_`, upper-cases the first letter of each segment and keeps
//! digits (`a_1` → `A1`).

use crate::plan::{Plan, Property, PropertyType};

/// Strict and reserved keywords of Rust 2024 that may be written as raw identifiers
/// (`r#type`). `self`, `Self`, `crate` and `super` are keywords too but have no raw form.
const RAW_KEYWORDS: &[&str] = &[
    "abstract", "as", "async", "await", "become", "box", "break", "const", "continue", "do", "dyn",
    "else", "enum", "extern", "false", "final", "fn", "for", "gen", "if", "impl", "in", "let",
    "loop", "macro", "match", "mod", "move", "mut", "override", "priv", "pub", "ref", "return",
    "static", "struct", "trait", "true", "try", "type", "typeof", "unsafe", "unsized", "use",
    "virtual", "where", "while", "yield",
];

/// Keywords that cannot be raw identifiers; a field named after one gets a trailing `_`.
const UNRAWABLE_KEYWORDS: &[&str] = &["self", "Self", "crate", "super"];

/// Whether `word` is a Rust keyword (strict, reserved, or one of `self`/`Self`/`crate`/`super`).
///
/// ```
/// use trackplan_model::naming::is_keyword;
/// assert!(is_keyword("type"));
/// assert!(is_keyword("self"));
/// assert!(!is_keyword("union")); // a weak keyword: fine as an identifier
/// ```
pub fn is_keyword(word: &str) -> bool {
    RAW_KEYWORDS.contains(&word) || UNRAWABLE_KEYWORDS.contains(&word)
}

/// UpperCamelCase of a snake_case id: split on `_`, upper-case the first character of each
/// segment, keep digits; `Self` becomes `Self_`.
///
/// ```
/// use trackplan_model::naming::type_name;
/// assert_eq!(type_name("signup_completed"), "SignupCompleted");
/// assert_eq!(type_name("a_1"), "A1");
/// assert_eq!(type_name("self"), "Self_");
/// ```
pub fn type_name(id: &str) -> String {
    not_self(upper_camel(id))
}

fn upper_camel(id: &str) -> String {
    let mut out = String::with_capacity(id.len());
    for segment in id.split('_') {
        let mut chars = segment.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    out
}

/// The generated struct of event `id` (`signup_completed` → `SignupCompleted`).
pub fn event_struct_name(id: &str) -> String {
    type_name(id)
}

/// The marker type `purpose::<name>` of purpose `id`.
pub fn purpose_marker_name(id: &str) -> String {
    type_name(id)
}

/// The marker type `destination::<name>` of destination `id`.
pub fn destination_marker_name(id: &str) -> String {
    type_name(id)
}

/// The enum type of an enum property, *before* the `Value` suffix rule (which needs the event
/// struct names: see [`PlanNames`]). `event` is `None` for a shared `[properties.<id>]`
/// definition and the event id for an inline one.
///
/// ```
/// use trackplan_model::naming::enum_type_name;
/// assert_eq!(enum_type_name(None, "plan_tier"), "PlanTier");
/// assert_eq!(enum_type_name(Some("login_failed"), "reason"), "LoginFailedReason");
/// ```
pub fn enum_type_name(event: Option<&str>, property: &str) -> String {
    match event {
        None => type_name(property),
        Some(event) => not_self(upper_camel(event) + &upper_camel(property)),
    }
}

/// The struct field of property `id`: the id itself; keywords with a raw form become raw
/// identifiers, and `self`, `crate`, `super` get a trailing underscore.
///
/// A returned name starting with `r#` is a raw identifier (`quote::format_ident!` accepts it
/// as is).
///
/// ```
/// use trackplan_model::naming::field_name;
/// assert_eq!(field_name("plan_tier"), "plan_tier");
/// assert_eq!(field_name("type"), "r#type");
/// assert_eq!(field_name("self"), "self_");
/// ```
pub fn field_name(id: &str) -> String {
    if UNRAWABLE_KEYWORDS.contains(&id) {
        format!("{id}_")
    } else if RAW_KEYWORDS.contains(&id) {
        format!("r#{id}")
    } else {
        id.to_owned()
    }
}

/// The enum variant of a wire value at 1-based `position` in its `values` list.
///
/// Splits on every character that cannot continue a Rust identifier (anything but Unicode
/// letters and digits, so also `_`, spaces and punctuation), upper-cases the first character of
/// each word and keeps the rest as written — except that an all-uppercase ASCII word longer than
/// one character is lower-cased after its first letter (`EUR` → `Eur`), which keeps clippy's
/// `upper_case_acronyms` quiet. A name that would start with a digit gets the prefix `V`; a
/// value with no letters or digits at all becomes `Value{position}`; `Self` becomes `Self_`.
///
/// ```
/// use trackplan_model::naming::variant_name;
/// assert_eq!(variant_name("Health & Beauty", 1), "HealthBeauty");
/// assert_eq!(variant_name("gluten_free", 1), "GlutenFree");
/// assert_eq!(variant_name("EUR", 1), "Eur");
/// assert_eq!(variant_name("18-24", 2), "V1824");
/// assert_eq!(variant_name("🎉", 3), "Value3");
/// ```
pub fn variant_name(value: &str, position: usize) -> String {
    let mut out = String::with_capacity(value.len());
    for word in value.split(|c: char| !is_word_char(c)) {
        let mut chars = word.chars();
        let Some(first) = chars.next() else { continue };
        out.extend(first.to_uppercase());
        let rest = chars.as_str();
        let shouting = word.chars().count() > 1
            && word
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            && word.chars().any(|c| c.is_ascii_uppercase());
        if shouting {
            out.push_str(&rest.to_ascii_lowercase());
        } else {
            out.push_str(rest);
        }
    }
    match out.chars().next() {
        None => format!("Value{position}"),
        Some(c) if !is_ident_start(c) => not_self(format!("V{out}")),
        Some(_) => not_self(out),
    }
}

/// Characters kept inside a variant name: Unicode letters and digits that may continue a Rust
/// identifier (`XID_Continue`); `²` or `½` are numeric but not identifier characters, so they
/// separate words like punctuation does.
fn is_word_char(c: char) -> bool {
    c != '_' && c.is_alphanumeric() && unicode_ident::is_xid_continue(c)
}

fn is_ident_start(c: char) -> bool {
    unicode_ident::is_xid_start(c)
}

fn not_self(name: String) -> String {
    if name == "Self" {
        "Self_".to_owned()
    } else {
        name
    }
}

/// Every generated name of a plan, computed once; the macros read names from here.
///
/// Vectors are parallel to the plan's (`events[i]` is `plan.events[i]`, and so on).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanNames {
    /// One entry per event.
    pub events: Vec<EventNames>,
    /// One entry per shared property; `Some` for enum (and list-of-enum) properties.
    pub shared_enums: Vec<Option<EnumNames>>,
    /// `purpose::<name>` marker per purpose.
    pub purposes: Vec<String>,
    /// `destination::<name>` marker per destination.
    pub destinations: Vec<String>,
    /// One per user trait, parallel to `Plan::traits`: the field of the [`PROFILE_STRUCT`]
    /// update and the trait's enum (`Profile` + the id: `ProfilePlanTier`).
    pub traits: Vec<FieldNames>,
    /// One per group kind, parallel to `Plan::groups`.
    pub groups: Vec<GroupNames>,
    /// One per context property, parallel to `Plan::context`: the field of the
    /// [`CONTEXT_STRUCT`] and its enum (`Context` + the id).
    pub context: Vec<FieldNames>,
}

/// The struct of a user-profile update, generated when the plan has `[traits]`.
pub const PROFILE_STRUCT: &str = "Profile";

/// The struct of the context values, generated when the plan has `[context]`.
pub const CONTEXT_STRUCT: &str = "Context";

/// Generated names of one group kind.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupNames {
    /// The struct that is both the group (its key) and an update of its profile:
    /// UpperCamelCase of the kind's id (`company` → `Company`).
    pub struct_name: String,
    /// One per trait, parallel to `GroupKind::traits`; enums are the kind's struct name plus
    /// the trait's (`CompanyIndustry`).
    pub traits: Vec<FieldNames>,
}

/// The builder methods of trait `id` on its update struct, one per [`ProfileOp`] in the
/// order of [`TRAIT_OPS`]: `set_`, `set_once_`, `add_`, `union_`, `remove_` and `unset_`
/// followed by the id. Only the ones that fit the trait's type are public; the others are
/// hidden methods whose call is a compile error naming the trait.
///
/// [`ProfileOp`]: trackplan_vocab::ProfileOp
///
/// ```
/// use trackplan_model::naming::trait_methods;
/// assert_eq!(trait_methods("plan_tier")[1], "set_once_plan_tier");
/// ```
pub fn trait_methods(id: &str) -> [String; 6] {
    ["set", "set_once", "add", "union", "remove", "unset"].map(|op| format!("{op}_{id}"))
}

/// The operations in the order of [`trait_methods`].
pub const TRAIT_OPS: [trackplan_vocab::ProfileOp; 6] = [
    trackplan_vocab::ProfileOp::Set,
    trackplan_vocab::ProfileOp::SetOnce,
    trackplan_vocab::ProfileOp::Add,
    trackplan_vocab::ProfileOp::Union,
    trackplan_vocab::ProfileOp::Remove,
    trackplan_vocab::ProfileOp::Unset,
];

/// The shape of a trait's type, for [`ProfileOp::fits`](trackplan_vocab::ProfileOp::fits).
pub fn trait_shape(ty: &PropertyType) -> trackplan_vocab::TraitShape {
    match ty {
        PropertyType::Integer | PropertyType::Number => trackplan_vocab::TraitShape::Number,
        PropertyType::List { .. } => trackplan_vocab::TraitShape::List,
        _ => trackplan_vocab::TraitShape::Scalar,
    }
}

/// Generated names of one event.
#[derive(Debug, Clone, PartialEq)]
pub struct EventNames {
    /// The struct.
    pub struct_name: String,
    /// One per property, parallel to `Event::properties`.
    pub fields: Vec<FieldNames>,
}

/// Generated names of one property on an event.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldNames {
    /// The struct field (may be raw: `r#type`).
    pub field: String,
    /// The enum of an enum or list-of-enum property. For a property that uses a shared
    /// definition this is the shared enum (generated once, from [`PlanNames::shared_enums`]).
    pub enum_names: Option<EnumNames>,
}

/// Generated names of one enum type.
#[derive(Debug, Clone, PartialEq)]
pub struct EnumNames {
    /// The type, after the `Value` suffix rule.
    pub type_name: String,
    /// One variant per value, in order.
    pub variants: Vec<String>,
}

/// The values of an enum or list-of-enum property type.
pub fn enum_values(ty: &PropertyType) -> Option<&[crate::Spanned<String>]> {
    match ty {
        PropertyType::Enum { values } => Some(values),
        PropertyType::List { items } => enum_values(items),
        _ => None,
    }
}

impl PlanNames {
    /// Computes every generated name of `plan`. Collisions are not resolved here: validation
    /// reports them (code `name-collision`), so for a valid plan all names are distinct.
    pub fn of(plan: &Plan) -> PlanNames {
        let structs: std::collections::HashSet<String> = plan
            .events
            .iter()
            .map(|e| event_struct_name(&e.id))
            .collect();
        let enum_names = |event: Option<&str>, p: &Property| {
            enum_values(&p.ty.value).map(|values| {
                let mut type_name = enum_type_name(event, &p.id);
                if structs.contains(&type_name) {
                    type_name.push_str("Value");
                }
                EnumNames {
                    type_name,
                    variants: values
                        .iter()
                        .enumerate()
                        .map(|(i, v)| variant_name(v, i + 1))
                        .collect(),
                }
            })
        };
        let shared_enums: Vec<Option<EnumNames>> = plan
            .properties
            .iter()
            .map(|p| enum_names(None, p))
            .collect();
        let shared_index: std::collections::HashMap<&str, usize> = plan
            .properties
            .iter()
            .enumerate()
            .map(|(i, p)| (p.id.value.as_str(), i))
            .collect();
        let events = plan
            .events
            .iter()
            .map(|e| EventNames {
                struct_name: event_struct_name(&e.id),
                fields: e
                    .properties
                    .iter()
                    .map(|p| FieldNames {
                        field: field_name(&p.id),
                        enum_names: match p.shared.as_deref().and_then(|s| shared_index.get(s)) {
                            Some(&i) => shared_enums[i].clone(),
                            None => enum_names(Some(&e.id), p),
                        },
                    })
                    .collect(),
            })
            .collect();
        let fields = |prefix: &str, list: &[Property]| -> Vec<FieldNames> {
            list.iter()
                .map(|p| FieldNames {
                    field: field_name(&p.id),
                    enum_names: enum_names(Some(prefix), p),
                })
                .collect()
        };
        let traits = fields("profile", &plan.traits);
        let groups = plan
            .groups
            .iter()
            .map(|g| GroupNames {
                struct_name: type_name(&g.id),
                traits: fields(&g.id, &g.traits),
            })
            .collect();
        let context = fields(
            "context",
            &plan
                .context
                .iter()
                .map(|c| c.property.clone())
                .collect::<Vec<_>>(),
        );
        PlanNames {
            traits,
            groups,
            context,
            events,
            shared_enums,
            purposes: plan
                .purposes
                .iter()
                .map(|p| purpose_marker_name(&p.id))
                .collect(),
            destinations: plan
                .destinations
                .iter()
                .map(|d| destination_marker_name(&d.id))
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_upper_camel_case_of_the_id() {
        assert_eq!(type_name("signup_completed"), "SignupCompleted");
        assert_eq!(type_name("a_1"), "A1");
        assert_eq!(type_name("a1"), "A1");
        assert_eq!(type_name("checkout_v2_done"), "CheckoutV2Done");
        assert_eq!(type_name("trailing_"), "Trailing");
        assert_eq!(type_name("double__underscore"), "DoubleUnderscore");
        assert_eq!(type_name("plan"), "Plan");
        assert_eq!(type_name("type"), "Type");
        assert_eq!(type_name("self"), "Self_");
        assert_eq!(event_struct_name("self"), "Self_");
        assert_eq!(purpose_marker_name("product_analytics"), "ProductAnalytics");
        assert_eq!(destination_marker_name("security_log"), "SecurityLog");
    }

    #[test]
    fn enum_type_names_prefix_the_event_for_inline_enums() {
        assert_eq!(enum_type_name(None, "plan_tier"), "PlanTier");
        assert_eq!(
            enum_type_name(Some("login_failed"), "reason"),
            "LoginFailedReason"
        );
        assert_eq!(enum_type_name(None, "self"), "Self_");
        // `self` inside a longer name is an ordinary word.
        assert_eq!(enum_type_name(Some("self"), "kind"), "SelfKind");
        assert_eq!(enum_type_name(Some("e"), "self"), "ESelf");
    }

    #[test]
    fn fields_escape_keywords() {
        for kw in [
            "type", "match", "async", "await", "dyn", "gen", "try", "true", "fn", "yield",
        ] {
            assert_eq!(field_name(kw), format!("r#{kw}"));
        }
        for kw in ["self", "crate", "super"] {
            assert_eq!(field_name(kw), format!("{kw}_"));
        }
        assert_eq!(field_name("union"), "union");
        assert_eq!(field_name("plan_tier"), "plan_tier");
        assert!(is_keyword("Self"));
        assert!(!is_keyword("Type"));
    }

    #[test]
    fn variants_from_any_wire_value() {
        let cases = [
            ("free", "Free"),
            ("Health & Beauty", "HealthBeauty"),
            ("gluten_free", "GlutenFree"),
            ("EUR", "Eur"),
            ("iPhone", "IPhone"),
            ("B2B", "B2b"),
            ("A", "A"),
            ("18-24", "V1824"),
            ("65+", "V65"),
            ("<18", "V18"),
            ("say \"hi\"", "SayHi"),
            ("back\\slash", "BackSlash"),
            ("#hashtag", "Hashtag"),
            ("C# code", "CCode"),
            ("Ünïcödé wörd", "ÜnïcödéWörd"),
            ("日本語", "日本語"),
            ("東京 tower", "東京Tower"),
            ("straße", "Straße"),
            ("ﬁne", "FIne"), // the ligature upper-cases to two letters
            ("x²", "X"),
            ("Self", "Self_"),
            ("self", "Self_"),
            ("crate", "Crate"),
        ];
        for (value, expected) in cases {
            assert_eq!(variant_name(value, 1), expected, "{value:?}");
        }
        assert_eq!(variant_name("🎉", 3), "Value3");
        assert_eq!(variant_name("", 1), "Value1");
        assert_eq!(variant_name("---", 2), "Value2");
        assert_eq!(variant_name("🎉 party", 1), "Party");
    }

    #[test]
    fn every_generated_variant_is_an_identifier() {
        for value in [
            "18-24",
            "日本語",
            "x²",
            "½ price",
            "Ⅻ",
            "٣ arabic digits",
            "𝟙 math",
            "ǅemal",
            "ａｂｃ",
        ] {
            let name = variant_name(value, 1);
            let mut chars = name.chars();
            let first = chars.next().expect("never empty");
            assert!(unicode_ident::is_xid_start(first), "{value:?} → {name:?}");
            assert!(
                chars.all(unicode_ident::is_xid_continue),
                "{value:?} → {name:?}"
            );
        }
    }

    fn plan_with(text: &str) -> Plan {
        let src = crate::SourceFile::new("n.toml", text);
        let (plan, diagnostics) = crate::parse(&src);
        assert!(diagnostics.is_empty(), "{diagnostics:?}");
        plan.expect("parses")
    }

    #[test]
    fn plan_names_apply_the_value_suffix_and_reuse_shared_enums() {
        let plan = plan_with(
            r#"
[plan]
name = "n"
version = 1
[purposes.product_analytics]
description = "P"
basis = "consent"
data_use = "analytics"
[destinations.mixpanel]
kind = "mixpanel"
purposes = ["product_analytics"]
[properties.plan_tier]
type = "enum"
values = ["free", "Pro Plus"]
sensitivity = "internal"
[events.plan_tier]
purposes = ["product_analytics"]
[events.login_failed]
purposes = ["product_analytics"]
[events.login_failed.properties]
plan_tier = {}
type = { type = "list", items = { type = "enum", values = ["a-b"] }, sensitivity = "public" }
self = { type = "string", sensitivity = "public" }
"#,
        );
        let names = PlanNames::of(&plan);
        assert_eq!(names.purposes, ["ProductAnalytics"]);
        assert_eq!(names.destinations, ["Mixpanel"]);
        let shared = names.shared_enums[0].as_ref().expect("enum");
        assert_eq!(shared.type_name, "PlanTierValue");
        assert_eq!(shared.variants, ["Free", "ProPlus"]);
        let login = &names.events[1];
        assert_eq!(login.struct_name, "LoginFailed");
        let fields: Vec<&str> = login.fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["plan_tier", "r#type", "self_"]);
        assert_eq!(login.fields[0].enum_names.as_ref(), Some(shared));
        let items = login.fields[1].enum_names.as_ref().expect("list of enums");
        assert_eq!(items.type_name, "LoginFailedType");
        assert_eq!(items.variants, ["AB"]);
        assert_eq!(login.fields[2].enum_names, None);
    }
}
