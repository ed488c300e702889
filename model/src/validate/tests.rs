//! Every rule of SPEC §3 with plans that pass and plans that fail: code, message and position.

use crate::fixture::*;
use crate::{Severity, SourceFile, Span, check};

#[test]
fn base_plan_is_clean() {
    clean("");
}

// Rule 1: duplicates, ids, generated-name collisions, wire names (syntax, unknown keys and
// kinds are the parser's: see `parse/tests.rs`).

#[test]
fn duplicate_ids_are_errors() {
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e]\npurposes = [\"ads\"]\n",
        "duplicate-key",
        "e]\npurposes = [\"ads\"]",
        &["`e` is defined twice"],
    );
    assert_eq!(d.label.as_deref(), Some("defined again here"));
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = { type = \"string\", sensitivity = \"public\" }\nx = { type = \"integer\", sensitivity = \"public\" }\n",
        "duplicate-key",
        "x = { type = \"integer\"",
        &["`x`"],
    );
}

#[test]
fn duplicate_ids_in_a_constructed_plan_are_errors() {
    let src = SourceFile::new(
        "t.toml",
        format!("{BASE}[events.e]\npurposes = [\"analytics\"]\n"),
    );
    let mut plan = check(&src).plan.expect("valid");
    plan.events.push(plan.events[0].clone());
    plan.purposes.push(plan.purposes[0].clone());
    let codes: Vec<&str> = crate::validate(&plan).iter().map(|d| d.code).collect();
    assert_eq!(codes, ["duplicate-id", "duplicate-id"]);
}

#[test]
fn ids_must_be_snake_case_identifiers() {
    let d = one(
        "[events.SignUp]\npurposes = [\"analytics\"]\n",
        "invalid-id",
        "SignUp",
        &["event id `SignUp` is not a valid id"],
    );
    assert!(d.help.unwrap().contains("`sign_up`"));
    one(
        "[events.\"page viewed\"]\npurposes = [\"analytics\"]\n",
        "invalid-id",
        "\"page viewed\"",
        &["`page viewed`"],
    );
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\n2fa = { type = \"boolean\", sensitivity = \"internal\" }\n",
        "invalid-id",
        "2fa",
        &["property id `2fa`"],
    );
    let src = SourceFile::new("t.toml", BASE.replace("name = \"t\"", "name = \"My Shop\""));
    let d = &check(&src).diagnostics[0];
    assert_eq!(
        (d.code, d.location(&src).as_str()),
        ("invalid-id", "t.toml:2:8")
    );
}

#[test]
fn generated_name_collisions_name_both_ids() {
    let d = one(
        "[events.a_1]\npurposes = [\"analytics\"]\n[events.a1]\npurposes = [\"analytics\"]\n",
        "name-collision",
        "a1]",
        &["event `a_1` and event `a1` both generate the Rust name `A1`"],
    );
    assert_eq!(d.secondary.len(), 1);
    // A field named after a keyword without raw form collides with its escaped spelling.
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nself = { type = \"string\", sensitivity = \"public\" }\nself_ = { type = \"string\", sensitivity = \"public\" }\n",
        "name-collision",
        "self_ =",
        &[
            "property `self` of event `e` and property `self_` of event `e`",
            "`self_`",
        ],
    );
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nsize = { type = \"enum\", values = [\"x-large\", \"X Large\"], sensitivity = \"public\" }\n",
        "name-collision",
        "\"X Large\"",
        &[
            "value \"x-large\" and value \"X Large\" of enum property `size` of event `e`",
            "`XLarge`",
        ],
    );
    one(
        "[purposes.a__b]\ndescription = \"X\"\nbasis = \"consent\"\ndata_use = \"analytics\"\n[purposes.a_b]\ndescription = \"Y\"\nbasis = \"consent\"\ndata_use = \"analytics\"\n",
        "name-collision",
        "a_b]",
        &["purpose `a__b` and purpose `a_b`", "`AB`"],
    );
    // An inline enum whose name equals another enum's.
    one(
        "[properties.e_kind]\ntype = \"enum\"\nvalues = [\"a\"]\nsensitivity = \"public\"\n[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nkind = { type = \"enum\", values = [\"b\"], sensitivity = \"public\" }\n",
        "name-collision",
        "kind = {",
        &[
            "enum property `e_kind` and enum property `kind` of event `e`",
            "`EKind`",
        ],
    );
}

#[test]
fn an_enum_named_like_an_event_gets_the_value_suffix_instead_of_colliding() {
    clean("[events.tier]\npurposes = [\"analytics\"]\n[events.tier.properties]\ntier = {}\n");
    // ... unless the suffixed name is taken too.
    let (src, diagnostics) = run(
        "[events.tier]\npurposes = [\"analytics\"]\n[events.tier_value]\npurposes = [\"analytics\"]\n",
    );
    assert_eq!(diagnostics.len(), 1);
    let d = &diagnostics[0];
    assert_eq!(d.code, "name-collision");
    assert_eq!(
        d.message,
        "event `tier_value` and enum property `tier` both generate the Rust name `TierValue`"
    );
    // At the shared definition in the base plan, pointing back at the event.
    assert_eq!(d.location(&src), "t.toml:24:13");
    assert_eq!(
        d.secondary[0].span,
        Span::from(src.text.find("tier_value]").map(|i| i..i + 10).unwrap())
    );
}

#[test]
fn duplicate_wire_names_are_errors_but_case_and_spacing_differences_are_not() {
    one(
        "[events.a]\nname = \"Opened\"\npurposes = [\"analytics\"]\n[events.b]\nname = \"Opened\"\ndescription = \"B\"\npurposes = [\"analytics\"]\n",
        "duplicate-wire-name",
        "\"Opened\"\ndescription",
        &["events `a` and `b` have the same wire name \"Opened\""],
    )
    .secondary
    .first()
    .expect("points at the first");
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = { name = \"X\", type = \"string\", sensitivity = \"public\" }\ny = { name = \"X\", type = \"string\", sensitivity = \"public\" }\n",
        "duplicate-wire-name",
        "y = { name",
        &["properties `x` and `y` of event `e` have the same wire name \"X\""],
    );
    one(
        "[properties.size]\ntype = \"enum\"\nvalues = [\"s\", \"m\", \"s\"]\nsensitivity = \"public\"\n",
        "duplicate-wire-name",
        "\"s\"]",
        &["lists the value \"s\" twice"],
    );
    clean(
        "[events.a]\nname = \"Opened\"\npurposes = [\"analytics\"]\n[events.b]\nname = \"opened\"\npurposes = [\"analytics\"]\n[events.c]\nname = \"Opened \"\npurposes = [\"analytics\"]\n",
    );
    one(
        "[events.a]\nname = \"\"\npurposes = [\"analytics\"]\n",
        "empty-name",
        "\"\"",
        &["event `a`"],
    );
}

// Rule 2: references.

#[test]
fn unknown_references_are_errors_with_suggestions() {
    let d = one(
        "[events.e]\npurposes = [\"analytic\"]\n",
        "unknown-purpose",
        "\"analytic\"",
        &["event `e` names purpose `analytic`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `analytics`?"));
    let d = one(
        "[purposes.p]\ndescription = \"P\"\nbasis = \"consent\"\ndata_use = \"analytics.reportng\"\n",
        "unknown-data-use",
        "\"analytics.reportng\"",
        &["data use `analytics.reportng` of purpose `p`"],
    );
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `analytics.reporting`?")
    );
    let d = one(
        "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.emial\"\ntransform = \"hmac\"\n",
        "unknown-category",
        "\"user.contact.emial\"",
        &["data category `user.contact.emial` of property `email`"],
    );
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `user.contact.email`?")
    );
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nteir = {}\n",
        "unknown-property",
        "teir",
        &["no shared definition"],
    );
    assert_eq!(
        d.help.as_deref(),
        Some("did you mean `tier`? (a shared property)")
    );
    one(
        "[properties.x]\ntype = \"string\"\nsensitivity = \"public\"\npurposes = [\"securty\"]\n",
        "unknown-purpose",
        "\"securty\"",
        &["property `x` names purpose `securty`"],
    );
}

#[test]
fn enums_need_values_and_lists_need_items() {
    one(
        "[properties.x]\ntype = \"enum\"\nsensitivity = \"public\"\n",
        "enum-without-values",
        "\"enum\"",
        &["property `x` is an enum without values"],
    );
    one(
        "[properties.x]\ntype = \"enum\"\nvalues = []\nsensitivity = \"public\"\n",
        "enum-without-values",
        "\"enum\"",
        &["without values"],
    );
    one(
        "[properties.x]\ntype = \"list\"\nsensitivity = \"public\"\n",
        "list-without-items",
        "\"list\"",
        &["property `x` is a list without `items`"],
    );
    one(
        "[properties.x]\ntype = \"list\"\nitems = { type = \"enum\" }\nsensitivity = \"public\"\n",
        "enum-without-values",
        "\"list\"",
        &["property `x`"],
    );
    one(
        "[properties.x]\ntype = \"list\"\nitems = { type = \"list\" }\nsensitivity = \"public\"\n",
        "unsupported-type",
        "\"list\" }",
        &["list of lists"],
    );
    one(
        "[properties.x]\ntype = \"string\"\nvalues = [\"a\"]\nsensitivity = \"public\"\n",
        "misplaced-key",
        "values",
        &["only applies to `type = \"enum\"`"],
    );
    clean(
        "[properties.x]\ntype = \"list\"\nitems = { type = \"enum\", values = [\"a\", \"b\"] }\nsensitivity = \"public\"\n",
    );
}

#[test]
fn shared_definitions_can_only_be_adjusted_not_redefined_on_events() {
    clean(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\ntier = { name = \"Tier\", description = \"Tier now.\", required = false, purposes = [\"analytics\"] }\n",
    );
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\ntier = { type = \"string\" }\n",
        "shared-override",
        "type",
        &[
            "property `tier` of event `e` uses the shared definition [properties.tier], so it cannot set `type`",
        ],
    );
}

// Rule 3: keywords and other awkward ids generate valid code by the naming rule.

#[test]
fn rust_keywords_are_valid_ids() {
    clean(
        "[events.type]\npurposes = [\"analytics\"]\n[events.type.properties]\nself = { type = \"string\", sensitivity = \"public\" }\nmatch = { type = \"string\", sensitivity = \"public\" }\ncrate = { type = \"string\", sensitivity = \"public\" }\nsuper = { type = \"string\", sensitivity = \"public\" }\nasync = { type = \"enum\", values = [\"Self\", \"crate\"], sensitivity = \"public\" }\n[events.self]\npurposes = [\"analytics\"]\n[events.plan]\npurposes = [\"analytics\"]\n",
    );
}

// Rule 4: reserved wire names.

#[test]
fn reserved_property_names_are_errors() {
    for name in [
        "time",
        "distinct_id",
        "$insert_id",
        "token",
        "$os",
        "mp_lib",
    ] {
        let d = one(
            &format!(
                "[properties.x]\nname = \"{name}\"\ntype = \"string\"\nsensitivity = \"public\"\n"
            ),
            "reserved-name",
            &format!("\"{name}\""),
            &["property `x`", &format!("`{name}`"), "reserve"],
        );
        assert!(d.help.is_some());
    }
    // The id is the wire name by default.
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\ntoken = { type = \"string\", sensitivity = \"public\" }\n",
        "reserved-name",
        "token",
        &["property `token` of event `e`"],
    );
    // An event may rename a shared property to a reserved name: reported on the event.
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\ntier = { name = \"$tier\" }\n",
        "reserved-name",
        "\"$tier\"",
        &["property `tier` of event `e`"],
    );
    clean("[properties.x]\nname = \"Time\"\ntype = \"string\"\nsensitivity = \"public\"\n");
}

// Rule 5: personal data needs a category and a transform or a justification.

#[test]
fn personal_data_needs_a_category() {
    one(
        "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ntransform = \"hmac\"\n",
        "missing-category",
        "[properties.email]",
        &["property `email` is `personal` data without a `category`"],
    );
}

#[test]
fn personal_data_needs_a_transform_or_a_justification() {
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nemail = { type = \"string\", sensitivity = \"personal\", category = \"user.contact.email\" }\n",
        "unprotected-personal-data",
        "{ type",
        &[
            "property `email` of event `e` is `personal` data sent without a transform or a justification",
        ],
    );
    assert!(d.help.unwrap().contains("justification"));
    one(
        "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"none\"\njustification = \"  \"\n",
        "unprotected-personal-data",
        "\"none\"",
        &["property `email`"],
    );
    clean(
        "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"none\"\njustification = \"Support replies to it.\"\n",
    );
    clean(
        "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"redact\"\n",
    );
}

// Rule 6: special data needs consent for every purpose and a special basis.

const HEALTH: &str = "health = { type = \"string\", sensitivity = \"special\", category = \"user.health_and_medical\", transform = \"redact\", special_basis = \"explicit_consent\" }\n";

#[test]
fn special_data_only_on_consent_purposes() {
    let d = one(
        &format!(
            "[events.e]\npurposes = [\"analytics\", \"security\"]\n[events.e.properties]\n{HEALTH}"
        ),
        "special-needs-consent",
        "health",
        &[
            "special-category property `health` is on event `e`",
            "`security` (legitimate_interest)",
        ],
    );
    assert_eq!(d.secondary.len(), 1);
    // Consent purposes only (not `ads`: the baseline policies keep health data out of
    // marketing).
    clean(&format!(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\n{HEALTH}"
    ));
}

#[test]
fn special_data_needs_a_valid_special_basis() {
    let d = one(
        "[properties.h]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\n",
        "missing-special-basis",
        "\"special\"",
        &["property `h` is special-category data without a `special_basis`"],
    );
    assert!(d.help.unwrap().contains("explicit_consent"));
    let d = one(
        "[properties.h]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\nspecial_basis = \"public_helth\"\n",
        "invalid-special-basis",
        "\"public_helth\"",
        &["`public_helth` is not a GDPR Art. 9(2) ground"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `public_health`?"));
    let (_, diagnostics) = run(
        "[properties.x]\ntype = \"string\"\nsensitivity = \"internal\"\nspecial_basis = \"explicit_consent\"\n",
    );
    assert_eq!(diagnostics.len(), 1);
    assert_eq!(
        (diagnostics[0].code, diagnostics[0].severity),
        ("unused-special-basis", Severity::Warning)
    );
}

// Rule 7: purpose restrictions of properties.

#[test]
fn property_purposes_restrict_the_events_it_may_be_on() {
    let shared = "[properties.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"hmac\"\npurposes = [\"security\"]\n";
    let d = one(
        &format!(
            "{shared}[events.e]\npurposes = [\"security\", \"analytics\"]\n[events.e.properties]\nemail = {{}}\n"
        ),
        "purpose-mismatch",
        "email = {}",
        &[
            "property `email` of event `e` may only be collected for `security`, but the event is also collected for `analytics`",
        ],
    );
    assert_eq!(d.secondary.len(), 2);
    clean(&format!(
        "{shared}[events.e]\npurposes = [\"security\"]\n[events.e.properties]\nemail = {{}}\n"
    ));
    // An event may narrow the restriction, never widen it.
    clean(&format!(
        "{shared}[events.e]\npurposes = [\"security\"]\n[events.e.properties]\nemail = {{ purposes = [\"security\"] }}\n"
    ));
    let d = one(
        &format!(
            "{shared}[events.e]\npurposes = [\"security\"]\n[events.e.properties]\nemail = {{ purposes = [\"security\", \"analytics\"] }}\n"
        ),
        "purpose-mismatch",
        "\"analytics\"",
        &[
            "property `email` of event `e` adds purpose `analytics`, which its shared definition does not allow (`security`)",
        ],
    );
    assert!(d.help.unwrap().contains("narrow"));
    // An event's own restriction applies too.
    one(
        &format!(
            "{shared}[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nemail = {{ purposes = [\"security\"] }}\n"
        ),
        "purpose-mismatch",
        "email =",
        &["`analytics`"],
    );
}

// Rule 8: categories and sensitivity agree.

#[test]
fn special_categories_need_special_sensitivity() {
    let d = one(
        "[properties.h]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.health_and_medical.record_id\"\ntransform = \"hmac\"\n",
        "sensitivity-too-low",
        "\"personal\"",
        &[
            "property `h` has category `user.health_and_medical.record_id`, health data (GDPR Art. 9), but sensitivity `personal`",
        ],
    );
    assert!(d.help.unwrap().contains("special"));
    // A special basis next to the too-low sensitivity is not reported a second time.
    one(
        "[properties.h]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.biometric\"\ntransform = \"hmac\"\nspecial_basis = \"explicit_consent\"\n",
        "sensitivity-too-low",
        "\"personal\"",
        &["biometric data (GDPR Art. 9)"],
    );
    one(
        "[properties.r]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.demographic.race_ethnicity\"\ntransform = \"redact\"\n",
        "sensitivity-too-low",
        "\"personal\"",
        &["racial or ethnic origin"],
    );
}

#[test]
fn user_categories_need_at_least_personal() {
    one(
        "[properties.c]\ntype = \"string\"\nsensitivity = \"internal\"\ncategory = \"user.device.cookie_id\"\n",
        "sensitivity-too-low",
        "\"internal\"",
        &["`user.device.cookie_id`, which is personal data, but sensitivity `internal`"],
    );
    clean(
        "[properties.c]\ntype = \"string\"\nsensitivity = \"internal\"\ncategory = \"system.operations\"\n",
    );
}

#[test]
fn plan_added_special_categories_need_special_sensitivity() {
    let ext = "[taxonomy.categories.\"user.demographic.union_membership\"]\nspecial = true\n";
    one(
        &format!(
            "{ext}[properties.u]\ntype = \"boolean\"\nsensitivity = \"personal\"\ncategory = \"user.demographic.union_membership\"\ntransform = \"redact\"\n"
        ),
        "sensitivity-too-low",
        "\"personal\"",
        &["marked `special = true` in this plan"],
    );
    clean(&format!(
        "{ext}[properties.u]\ntype = \"boolean\"\nsensitivity = \"special\"\ncategory = \"user.demographic.union_membership\"\ntransform = \"redact\"\nspecial_basis = \"non_profit_body\"\n"
    ));
    one(
        "[taxonomy.categories.\"usr.union\"]\nspecial = true\n",
        "invalid-category",
        "\"usr.union\"",
        &["does not sit below an existing category"],
    );
    let d = one(
        "[taxonomy.categories.user.demographic.union]\nspecial = true\n",
        "unknown-key",
        "demographic",
        &["taxonomy category `user`"],
    );
    assert!(d.help.unwrap().contains("quote"));
}

// Rule 9: policies, as Fides evaluates them.

#[test]
fn policies_deny_by_ancestor_keys() {
    let policy = "[[policies]]\nname = \"no health data for marketing\"\ndeny = { categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }\n";
    let d = one(
        &format!("[events.e]\npurposes = [\"ads\"]\n[events.e.properties]\n{HEALTH}{policy}"),
        "policy-violation",
        "health",
        &[
            "event `e` sends property `health` (category `user.health_and_medical`)",
            "`marketing.advertising.third_party.targeted` (purpose `ads`)",
            "policy \"no health data for marketing\"",
        ],
    );
    assert_eq!(d.secondary.len(), 2);
    clean(&format!(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\n{HEALTH}{policy}"
    ));
    // A rule value covers descendants, never ancestors. (The built-in policy that keeps
    // health data out of marketing is lifted, so only the plan's rule is tested.)
    clean(&format!(
        "[events.e]\npurposes = [\"ads\"]\n[events.e.properties]\n{HEALTH}[[policies]]\nname = \"n\"\ndeny = {{ categories = [\"user.health_and_medical.genetic\"], data_uses = [\"marketing\"] }}\n[[exceptions]]\npolicy = \"special-category-marketing\"\njustification = \"Tested separately.\"\n"
    ));
}

#[test]
fn policy_matches_apply_per_dimension() {
    let event = format!("[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\n{HEALTH}");
    // none: the data use is not covered by `marketing`, so the rule fires.
    one(
        &format!(
            "{event}[[policies]]\nname = \"health only for marketing\"\ndeny = {{ categories = [\"user.health_and_medical\"], data_uses = {{ values = [\"marketing\"], matches = \"none\" }} }}\n"
        ),
        "policy-violation",
        "health",
        &["`analytics.reporting` (purpose `analytics`)"],
    );
    // other on categories: the category is covered, so nothing is "other".
    clean(&format!(
        "{event}[[policies]]\nname = \"n\"\ndeny = {{ categories = {{ values = [\"user\"], matches = \"other\" }}, data_uses = [\"analytics\"] }}\n"
    ));
    let d = one(
        &format!(
            "{event}[[policies]]\nname = \"n\"\ndeny = {{ categories = [\"user\"], data_uses = {{ values = [\"analytics\"], matches = \"anything\" }} }}\n"
        ),
        "invalid-value",
        "\"anything\"",
        &["`matches`"],
    );
    assert!(d.help.unwrap().contains("`any`"));
}

#[test]
fn policy_keys_must_exist() {
    one(
        "[[policies]]\nname = \"n\"\ndeny = { categories = [\"user.helth\"], data_uses = [\"marketing\"] }\n",
        "unknown-category",
        "\"user.helth\"",
        &["policy \"n\""],
    );
    one(
        "[policies]\nname = \"n\"\n",
        "wrong-kind",
        "[policies]",
        &["`policies` must be an array of tables"],
    );
}

// Rule 10: destinations.

#[test]
fn destinations_need_existing_purposes() {
    one(
        "[destinations.d]\nkind = \"memory\"\npurposes = []\n",
        "destination-without-purpose",
        "[]",
        &["destination `d` has no purpose"],
    );
    one(
        "[destinations.d]\nkind = \"memory\"\npurposes = [\"ad\"]\n",
        "unknown-purpose",
        "\"ad\"",
        &["destination `d` names purpose `ad`"],
    );
}

// Beyond the ten rules: limits, identity, transforms, constraints, deprecations.

#[test]
fn at_most_64_purposes() {
    let mut snippet = String::new();
    for i in 0..62 {
        snippet.push_str(&format!(
            "[purposes.p{i}]\ndescription = \"P\"\nbasis = \"consent\"\ndata_use = \"analytics\"\n"
        ));
    }
    // 3 in the base + 62 = 65.
    one(
        &snippet,
        "too-many-purposes",
        "p61]",
        &["purpose `p61` is purpose number 65; a plan may declare at most 64"],
    );
}

#[test]
fn at_most_64_destinations() {
    let mut snippet = String::new();
    for i in 0..64 {
        snippet.push_str(&format!(
            "[destinations.d{i}]\nkind = \"memory\"\npurposes = [\"analytics\"]\n"
        ));
    }
    // 1 in the base + 64 = 65.
    one(
        &snippet,
        "too-many-destinations",
        "d63]",
        &["destination `d63` is destination number 65"],
    );
}

#[test]
fn raw_identity_needs_a_justification() {
    one(
        "[identity]\ntransform = \"none\"\n",
        "missing-justification",
        "\"none\"",
        &["raw user ids"],
    );
    clean(
        "[identity]\ntransform = \"none\"\njustification = \"The ids are random per install already.\"\n",
    );
}

#[test]
fn transforms_fit_their_types() {
    for (ty, transform, extra, needs) in [
        ("integer", "hmac", "", "a `string`"),
        ("number", "truncate_ip", "", "a `string`"),
        ("boolean", "strip_query", "", "a `string`"),
        (
            "list\", items = { type = \"string\" }, x = \"",
            "hmac",
            "",
            "a `string`",
        ),
        ("string", "coarsen", ", to = \"day\"", "a `timestamp`"),
        (
            "timestamp",
            "bucket",
            ", buckets = [1]",
            "an `integer` or `number`",
        ),
    ] {
        let ty_key = ty.split('"').next().unwrap_or(ty);
        let snippet = format!(
            "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\np = {{ type = \"{ty}\", sensitivity = \"internal\", transform = \"{transform}\"{extra} }}\n"
        )
        .replace(", x = \"\"", "");
        one(
            &snippet,
            "transform-type-mismatch",
            &format!("\"{transform}\""),
            &[&format!(
                "property `p` of event `e` uses transform `{transform}`, which needs {needs}, but its type is `{ty_key}`"
            )],
        );
    }
    clean(
        "[properties.x]\ntype = \"timestamp\"\nsensitivity = \"internal\"\ntransform = \"coarsen\"\nto = \"month\"\n",
    );
    clean(
        "[properties.x]\ntype = \"number\"\nsensitivity = \"internal\"\ntransform = \"bucket\"\nbuckets = [0.5, 1.5]\n",
    );
}

#[test]
fn transform_parameters_are_checked() {
    one(
        "[properties.x]\ntype = \"integer\"\nsensitivity = \"internal\"\ntransform = \"bucket\"\nbuckets = [25, 18]\n",
        "invalid-buckets",
        "\"bucket\"",
        &["`buckets` of property `x` must be strictly ascending"],
    );
    one(
        "[properties.x]\ntype = \"integer\"\nsensitivity = \"internal\"\ntransform = \"bucket\"\nbuckets = [1.5]\n",
        "invalid-buckets",
        "\"bucket\"",
        &["whole numbers"],
    );
    one(
        "[properties.x]\ntype = \"integer\"\nsensitivity = \"internal\"\ntransform = \"bucket\"\n",
        "missing-key",
        "\"bucket\"",
        &["without `buckets`"],
    );
    one(
        "[properties.x]\ntype = \"timestamp\"\nsensitivity = \"internal\"\ntransform = \"coarsen\"\n",
        "missing-key",
        "\"coarsen\"",
        &["without `to`"],
    );
    let d = one(
        "[properties.x]\ntype = \"timestamp\"\nsensitivity = \"internal\"\ntransform = \"coarsen\"\nto = \"week\"\n",
        "invalid-value",
        "\"week\"",
        &["`to`"],
    );
    assert!(d.help.unwrap().contains("`hour`"));
    one(
        "[properties.x]\ntype = \"string\"\nsensitivity = \"internal\"\nto = \"day\"\n",
        "misplaced-key",
        "to =",
        &["only applies to `transform = \"coarsen\"`"],
    );
}

#[test]
fn constraints_fit_their_types() {
    one(
        "[properties.x]\ntype = \"integer\"\nsensitivity = \"public\"\nmax_length = 3\n",
        "constraint-type-mismatch",
        "3",
        &["`max_length` of property `x` applies to strings"],
    );
    one(
        "[properties.x]\ntype = \"string\"\nsensitivity = \"public\"\nmin = 0\n",
        "constraint-type-mismatch",
        "0",
        &["`min` of property `x` applies to numbers"],
    );
    one(
        "[properties.x]\ntype = \"integer\"\nsensitivity = \"public\"\nmin = 5\nmax = 1\n",
        "invalid-constraint",
        "5",
        &["`min` 5 above `max` 1"],
    );
    clean("[properties.x]\ntype = \"number\"\nsensitivity = \"public\"\nmin = -1.5\nmax = 1e3\n");
}

#[test]
fn deprecated_taxonomy_keys_warn_with_the_replacement() {
    let d = one(
        "[purposes.p]\ndescription = \"P\"\nbasis = \"consent\"\ndata_use = \"personalize.profiling\"\n",
        "deprecated-key",
        "\"personalize.profiling\"",
        &["data use `personalize.profiling` of purpose `p` is deprecated since fideslang 2.1.1"],
    );
    assert_eq!(d.severity, Severity::Warning);
    assert_eq!(
        d.help.as_deref(),
        Some("use `personalize.content.profiling` instead")
    );
}

#[test]
fn purposes_need_a_description_for_end_users() {
    one(
        "[purposes.p]\ndescription = \" \"\nbasis = \"consent\"\ndata_use = \"analytics\"\n",
        "empty-description",
        "\" \"",
        &["purpose `p`"],
    );
}

#[test]
fn rule_matching_follows_fides() {
    use crate::{Match, RuleSet, Spanned, rule_matches};
    let rule = |matches: Match, values: &[&str]| RuleSet {
        values: values
            .iter()
            .map(|v| Spanned::new((*v).to_owned(), Span::default()))
            .collect(),
        matches: Spanned::new(matches, Span::default()),
    };
    let contact = ["user.contact"];
    let email = ["user.contact.email"];
    let email_and_ip = ["user.contact.email", "user.device.ip_address"];
    // any: some declared key is covered (by itself or an ancestor).
    assert!(rule_matches(&rule(Match::Any, &contact), &email));
    assert!(rule_matches(&rule(Match::Any, &email), &email));
    assert!(!rule_matches(&rule(Match::Any, &email), &contact));
    assert!(rule_matches(&rule(Match::Any, &contact), &email_and_ip));
    // all: every declared key is covered.
    assert!(!rule_matches(&rule(Match::All, &contact), &email_and_ip));
    assert!(rule_matches(
        &rule(Match::All, &["user.contact", "user.device"]),
        &email_and_ip
    ));
    // none: no declared key is covered.
    assert!(rule_matches(&rule(Match::None, &["system"]), &email));
    assert!(!rule_matches(&rule(Match::None, &contact), &email_and_ip));
    // other: some declared key is not covered.
    assert!(rule_matches(&rule(Match::Other, &contact), &email_and_ip));
    assert!(!rule_matches(&rule(Match::Other, &["user"]), &email_and_ip));
    // Nothing declared never matches.
    for m in [Match::Any, Match::All, Match::None, Match::Other] {
        assert!(!rule_matches(&rule(m, &contact), &[]));
    }
}

#[test]
fn properties_without_category_are_outside_every_policy() {
    clean(
        "[events.e]\npurposes = [\"ads\"]\n[events.e.properties]\nx = { type = \"string\", sensitivity = \"public\" }\n[[policies]]\nname = \"only system data for ads\"\ndeny = { categories = { values = [\"system\"], matches = \"none\" }, data_uses = [\"marketing\"] }\n",
    );
}

#[test]
fn wire_names_are_any_text() {
    clean(
        r##"[events.e]
name = "Ünïcödé \"quoted\" \\ # 🎉 注文 完了"
purposes = ["analytics"]
[events.e.properties]
a = { name = "with space", type = "enum", values = ["18-24", "65+", "🎉", "Health & Beauty", "注文", "a\"b", "c\\d", "#tag"], sensitivity = "public" }
b = { name = "#hash", type = "string", sensitivity = "public" }
c = { name = "Time", type = "string", sensitivity = "public" }
"##,
    );
}

#[test]
fn an_amplitude_destination_must_be_a_third_party() {
    let d = one(
        "[destinations.amp]\nkind = \"amplitude\"\npurposes = [\"analytics\"]\n",
        "first-party-saas",
        "\"amplitude\"",
        &["destination `amp` sends to Amplitude, a third party"],
    );
    assert!(d.help.unwrap().contains("third_party = true"));
    clean(
        "[destinations.amp]\nkind = \"amplitude\"\npurposes = [\"analytics\"]\nthird_party = true\nlocation = \"EU\"\n",
    );
}
