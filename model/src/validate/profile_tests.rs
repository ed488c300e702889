//! Every rule on `[traits]`, `[groups]` and `[context]`, one case each, at the place the
//! diagnostic points to.

use crate::fixture::{clean, one, run};

const TRAIT: &str = "\n[traits.nickname]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n";

const GROUP: &str = r#"
[groups.company]
purposes = ["analytics"]
key = { name = "company_id", type = "string", sensitivity = "internal" }

[groups.company.traits.seats]
type = "integer"
sensitivity = "internal"
"#;

#[test]
fn valid_sections_are_clean() {
    clean(&format!(
        "{TRAIT}{GROUP}\n[traits.email]\nname = \"$email\"\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"hmac\"\npurposes = [\"analytics\"]\n\n[context.app_version]\ntype = \"string\"\nsensitivity = \"public\"\n\n[events.opened]\npurposes = [\"analytics\"]\ngroups = [\"company\"]\n"
    ));
}

#[test]
fn a_trait_needs_purposes() {
    one(
        "\n[traits.nickname]\ntype = \"string\"\nsensitivity = \"internal\"\n",
        "missing-key",
        "[traits.nickname]",
        &["trait `nickname` is missing `purposes`"],
    );
}

#[test]
fn personal_traits_need_a_transform_or_a_justification() {
    one(
        "\n[traits.phone]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.phone_number\"\npurposes = [\"analytics\"]\n",
        "unprotected-personal-data",
        "[traits.phone]",
        &["trait `phone` is `personal` data"],
    );
    clean(
        "\n[traits.phone]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.phone_number\"\ntransform = \"none\"\njustification = \"Support calls back.\"\npurposes = [\"analytics\"]\n",
    );
}

#[test]
fn special_traits_need_consent_and_a_basis() {
    // `security` is a legitimate interest, and the fixture has no destination for it: give it one.
    let snippet = "\n[destinations.fraud]\nkind = \"ndjson\"\npurposes = [\"security\"]\n\n[traits.condition]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\nspecial_basis = \"explicit_consent\"\npurposes = [\"security\"]\n";
    one(
        snippet,
        "special-needs-consent",
        "condition]",
        &[
            "special-category trait `condition`",
            "`security` (legitimate_interest)",
        ],
    );
    one(
        "\n[traits.condition]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\npurposes = [\"analytics\"]\n",
        "missing-special-basis",
        "\"special\"",
        &["trait `condition` is special-category data without a `special_basis`"],
    );
}

#[test]
fn a_trait_no_destination_receives_is_an_error() {
    one(
        "\n[traits.risk]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"security\"]\n",
        "unreachable",
        "[\"security\"]",
        &["trait `risk` is kept for `security`, but no destination may receive"],
    );
}

#[test]
fn reserved_names_and_mixpanel_profile_names() {
    one(
        "\n[traits.nickname]\nname = \"$distinct_id\"\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n",
        "reserved-name",
        "\"$distinct_id\"",
        &["trait `nickname` has the wire name `$distinct_id`"],
    );
    // `$name` is Mixpanel's profile name: allowed on a trait, written out...
    clean(
        "\n[traits.full_name]\nname = \"$name\"\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.name\"\ntransform = \"hmac\"\npurposes = [\"analytics\"]\n",
    );
    // ...but never on an event property, nor on a context property.
    one(
        "\n[events.opened]\npurposes = [\"analytics\"]\nproperties.n = { name = \"$name\", type = \"string\", sensitivity = \"internal\" }\n",
        "reserved-name",
        "\"$name\"",
        &["property `n` of event `opened`"],
    );
    one(
        "\n[context.n]\nname = \"$email\"\ntype = \"string\"\nsensitivity = \"internal\"\n",
        "reserved-name",
        "\"$email\"",
        &["context property `n`"],
    );
}

#[test]
fn trait_wire_names_are_unique() {
    one(
        &format!(
            "{TRAIT}\n[traits.alias]\nname = \"nickname\"\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n"
        ),
        "duplicate-wire-name",
        "\"nickname\"\ntype",
        &["traits `nickname` and `alias` have the same wire name"],
    );
}

#[test]
fn policies_and_baseline_policies_cover_traits() {
    one(
        "\n[[policies]]\nname = \"no e-mail for ads\"\ndeny = { categories = [\"user.contact.email\"], data_uses = [\"marketing\"] }\n\n[destinations.adtech]\nkind = \"segment\"\npurposes = [\"ads\"]\nthird_party = true\n\n[traits.email]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.contact.email\"\ntransform = \"hmac\"\npurposes = [\"ads\"]\n",
        "policy-violation",
        "email]",
        &[
            "trait `email` (category `user.contact.email`) is kept for",
            "no e-mail for ads",
        ],
    );
    one(
        "\n[destinations.adtech]\nkind = \"segment\"\npurposes = [\"ads\"]\nthird_party = true\n\n[traits.condition]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\nspecial_basis = \"explicit_consent\"\npurposes = [\"ads\"]\n",
        "baseline-policy",
        "condition]",
        &["trait `condition` is kept", "special-category-marketing"],
    );
}

#[test]
fn group_traits_narrow_the_groups_purposes() {
    one(
        &GROUP.replace(
            "sensitivity = \"internal\"\n\"#",
            "",
        ).replace(
            "[groups.company.traits.seats]\ntype = \"integer\"\nsensitivity = \"internal\"\n",
            "[groups.company.traits.seats]\ntype = \"integer\"\nsensitivity = \"internal\"\npurposes = [\"ads\"]\n\n[destinations.adtech]\nkind = \"segment\"\npurposes = [\"ads\"]\n",
        ),
        "purpose-mismatch",
        "\"ads\"]",
        &["trait `seats` of group kind `company` is kept for `ads`"],
    );
}

#[test]
fn group_keys_are_strings_or_integers_and_protected() {
    one(
        "\n[groups.team]\npurposes = [\"analytics\"]\nkey = { type = \"boolean\", sensitivity = \"internal\" }\n",
        "invalid-group-key",
        "\"boolean\"",
        &["the key of group kind `team` has type `boolean`"],
    );
    one(
        "\n[groups.household]\npurposes = [\"analytics\"]\nkey = { type = \"string\", sensitivity = \"personal\", category = \"user.contact.address\" }\n",
        "unprotected-personal-data",
        "{ type",
        &["the key of group kind `household` is `personal` data"],
    );
    one(
        "\n[groups.team]\npurposes = [\"analytics\"]\n",
        "missing-key",
        "[groups.team]",
        &["group kind `team` is missing `key`"],
    );
}

#[test]
fn group_trait_names_differ_from_the_key() {
    one(
        &GROUP.replace(
            "[groups.company.traits.seats]\n",
            "[groups.company.traits.seats]\nname = \"company_id\"\n",
        ),
        "duplicate-wire-name",
        "\"company_id\"\ntype",
        &[
            "trait `seats` of group kind `company` has the wire name \"company_id\" of the group's key",
        ],
    );
}

#[test]
fn a_group_no_destination_receives_is_an_error() {
    one(
        "\n[groups.team]\npurposes = [\"security\"]\nkey = { type = \"string\", sensitivity = \"internal\" }\n",
        "unreachable",
        "[\"security\"]",
        &["group kind `team` is kept for `security`"],
    );
}

#[test]
fn events_carry_known_groups_within_their_purposes() {
    one(
        "\n[events.opened]\npurposes = [\"analytics\"]\ngroups = [\"compnay\"]\n",
        "unknown-group",
        "\"compnay\"",
        &["event `opened` carries group kind `compnay`"],
    );
    let (src, d) = run(&format!(
        "{GROUP}\n[destinations.adtech]\nkind = \"segment\"\npurposes = [\"ads\"]\n\n[events.opened]\npurposes = [\"analytics\", \"ads\"]\ngroups = [\"company\"]\n"
    ));
    assert_eq!(
        d.len(),
        1,
        "{:?}",
        d.iter().map(|d| d.render(&src)).collect::<Vec<_>>()
    );
    assert_eq!(d[0].code, "purpose-mismatch");
    assert!(
        d[0].message.contains(
            "is collected only for `analytics`, but the event is also collected for `ads`"
        )
    );
    one(
        &format!(
            "{GROUP}\n[events.opened]\npurposes = [\"analytics\"]\ngroups = [\"company\"]\nproperties.company = {{ name = \"company_id\", type = \"string\", sensitivity = \"internal\" }}\n"
        ),
        "duplicate-wire-name",
        "company = {",
        &["has the wire name \"company_id\" of the key of group kind `company`"],
    );
}

#[test]
fn context_properties_are_checked_on_each_event() {
    one(
        "\n[context.device_owner]\ntype = \"string\"\nsensitivity = \"personal\"\ncategory = \"user.name\"\n",
        "unprotected-personal-data",
        "[context.device_owner]",
        &["context property `device_owner` is `personal` data"],
    );
    one(
        "\n[context.build]\nname = \"n\"\ntype = \"string\"\nsensitivity = \"internal\"\n\n[events.opened]\npurposes = [\"analytics\"]\nproperties.n = { type = \"string\", sensitivity = \"internal\" }\n",
        "duplicate-wire-name",
        "\"n\"\ntype",
        &["context property `build` and property `n` of event `opened`"],
    );
    // Not when it applies to other events only.
    clean(
        "\n[context.build]\nname = \"n\"\ntype = \"string\"\nsensitivity = \"internal\"\nevents = [\"closed\"]\n\n[events.opened]\npurposes = [\"analytics\"]\nproperties.n = { type = \"string\", sensitivity = \"internal\" }\n\n[events.closed]\npurposes = [\"analytics\"]\n",
    );
    one(
        "\n[context.build]\ntype = \"string\"\nsensitivity = \"internal\"\nevents = [\"opend\"]\n\n[events.opened]\npurposes = [\"analytics\"]\n",
        "unknown-event",
        "\"opend\"",
        &["context property `build` names event `opend`"],
    );
    one(
        "\n[context.health]\ntype = \"string\"\nsensitivity = \"special\"\ncategory = \"user.health_and_medical\"\ntransform = \"redact\"\nspecial_basis = \"explicit_consent\"\n\n[events.login]\npurposes = [\"security\"]\n",
        "special-needs-consent",
        "health]",
        &["on event `login`"],
    );
    one(
        "\n[context.build]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n\n[events.login]\npurposes = [\"security\"]\n",
        "purpose-mismatch",
        "build]",
        &["may only be collected for `analytics`"],
    );
}

#[test]
fn generated_names_of_sections_do_not_collide() {
    one(
        "\n[traits.tier]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n\n[traits.once_tier]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n",
        "name-collision",
        "once_tier]",
        &["generate the method `set_once_tier`"],
    );
    one(
        "\n[traits.tier]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n\n[events.profile]\npurposes = [\"analytics\"]\n",
        "name-collision",
        "profile]",
        &["`Profile`"],
    );
}

#[test]
fn ids_and_purpose_lists_of_sections_follow_the_limits() {
    let long = "t".repeat(crate::validate::limits::MAX_ID_LEN + 1);
    one(
        &format!(
            "\n[traits.{long}]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\"]\n"
        ),
        "id-too-long",
        &format!("{long}]"),
        &["trait id"],
    );
    one(
        "\n[traits.tier2]\ntype = \"string\"\nsensitivity = \"internal\"\npurposes = [\"analytics\", \"analytics\"]\n",
        "duplicate-purpose",
        "\"analytics\"]",
        &["trait `tier2` lists purpose `analytics` twice"],
    );
}

#[test]
fn sections_stop_at_the_runtimes_set_size() {
    let max = trackplan_vocab::MAX_ITEMS;
    let context: String = (0..=max)
        .map(|i| format!("\n[context.c{i}]\ntype = \"string\"\nsensitivity = \"public\"\n"))
        .collect();
    one(
        &context,
        "too-many-context",
        &format!("c{max}]"),
        &[&format!("context property `c{max}` is number {}", max + 1)],
    );
    let traits: String = (0..=max)
        .map(|i| {
            format!("\n[traits.t{i}]\ntype = \"string\"\nsensitivity = \"public\"\npurposes = [\"analytics\"]\n")
        })
        .collect();
    one(
        &traits,
        "too-many-traits",
        &format!("t{max}]"),
        &[&format!("declares {} traits", max + 1)],
    );
    let groups: String = (0..=max)
        .map(|i| {
            format!("\n[groups.g{i}]\npurposes = [\"analytics\"]\nkey = {{ type = \"string\", sensitivity = \"internal\" }}\n")
        })
        .collect();
    one(
        &groups,
        "too-many-groups",
        &format!("g{max}]"),
        &[&format!(
            "group kind `g{max}` is group kind number {}",
            max + 1
        )],
    );
    // 64 are fine.
    let fits: String = (0..max)
        .map(|i| format!("\n[context.c{i}]\ntype = \"string\"\nsensitivity = \"public\"\n"))
        .collect();
    clean(&fits);
}
