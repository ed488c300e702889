//! What the parser reports (rule 1 of SPEC §3): TOML syntax, unknown keys, wrong kinds,
//! keyword values and missing keys, each with its position, and that a broken field does not
//! hide the item's other errors.

use crate::fixture::*;
use crate::{Severity, SourceFile, check};

#[test]
fn toml_syntax_errors_name_the_position() {
    let (src, diagnostics) = run("[events.e]\npurposes = [\"analytics\"\n");
    assert_eq!(diagnostics.len(), 1);
    let d = &diagnostics[0];
    assert_eq!((d.code, d.severity), ("toml-syntax", Severity::Error));
    assert!(d.message.starts_with("invalid TOML: "), "{}", d.message);
    // Right after `["analytics"`, where the `]` is missing (the snippet starts on line 28).
    assert_eq!(d.location(&src), "t.toml:29:24");
}

#[test]
fn unknown_keys_suggest_the_closest_key() {
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\ndescripton = \"E\"\n",
        "unknown-key",
        "descripton",
        &["unknown key `descripton`", "event `e`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `description`?"));
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = { type = \"string\", sensitivty = \"public\" }\n",
        "unknown-key",
        "sensitivty",
        &["`sensitivty`", "property `x` of event `e`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `sensitivity`?"));
    // The misspelt key is not also reported as missing.
    let d = one(
        "[[policies]]\nname = \"p\"\ndeny = { categories = [\"user\"], data_use = [\"marketing\"] }\n",
        "unknown-key",
        "data_use",
        &["unknown key `data_use` in `deny` of policy \"p\""],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `data_uses`?"));
}

#[test]
fn unknown_top_level_key_lists_the_sections() {
    let d = one(
        "[event.e]\npurposes = [\"analytics\"]\n",
        "unknown-key",
        "event",
        &["`event`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `events`?"));
}

#[test]
fn wrong_value_kinds_are_errors() {
    one(
        "[events.e]\npurposes = \"analytics\"\n",
        "wrong-kind",
        "\"analytics\"",
        &["`purposes` of event `e` must be an array of strings, found a string"],
    );
    one(
        "[events.e]\npurposes = [\"analytics\", 3]\n",
        "wrong-kind",
        "3",
        &["must be strings, found an integer"],
    );
    one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = \"string\"\n",
        "wrong-kind",
        "\"string\"",
        &["property `x` of event `e` must be a table"],
    );
    one(
        "[purposes.p]\ndescription = \"P\"\nbasis = \"consent\"\ndata_use = \"analytics\"\nretention_days = -1\n",
        "invalid-value",
        "-1",
        &["`retention_days`"],
    );
    one(
        "[[policies]]\nname = \"p\"\ndeny = { categories = \"user\", data_uses = [\"marketing\"] }\n",
        "wrong-kind",
        "\"user\"",
        &["`categories`"],
    );
}

#[test]
fn keyword_values_are_checked_with_suggestions() {
    let d = one(
        "[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = { type = \"strng\", sensitivity = \"public\" }\n",
        "invalid-value",
        "\"strng\"",
        &["`strng` is not a valid `type` of property `x` of event `e`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `string`?"));
    let d = one(
        "[destinations.d]\nkind = \"segmnt\"\npurposes = [\"analytics\"]\n",
        "invalid-value",
        "\"segmnt\"",
        &["destination `d`"],
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `segment`?"));
}

#[test]
fn missing_required_keys_are_errors() {
    let d = one(
        "[events.e]\nname = \"E\"\n",
        "missing-key",
        "[events.e]",
        &["event `e` is missing `purposes`"],
    );
    assert!(d.help.unwrap().contains("purposes = ["));
    one(
        "[purposes.p]\ndescription = \"P\"\ndata_use = \"analytics\"\n",
        "missing-key",
        "[purposes.p]",
        &["purpose `p` is missing `basis`"],
    );
    one(
        "[destinations.d]\npurposes = [\"analytics\"]\n",
        "missing-key",
        "[destinations.d]",
        &["`kind`"],
    );
    one(
        "[properties.x]\ntype = \"string\"\n",
        "missing-key",
        "[properties.x]",
        &["property `x` is missing `sensitivity`"],
    );
}

#[test]
fn a_file_without_plan_table_is_an_error() {
    let src = SourceFile::new("t.toml", "[events.e]\npurposes = []\n");
    let checked = check(&src);
    assert_eq!(checked.diagnostics[0].code, "missing-key");
    assert!(checked.diagnostics[0].message.contains("[plan]"));
}

#[test]
fn a_misspelt_plan_table_is_reported_once() {
    let src = SourceFile::new("t.toml", BASE.replace("[plan]", "[pln]"));
    let checked = check(&src);
    let codes: Vec<&str> = checked.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknown-key"]);
    assert_eq!(
        checked.diagnostics[0].help.as_deref(),
        Some("did you mean `plan`?")
    );
}

#[test]
fn a_broken_field_does_not_hide_other_errors_of_the_item() {
    let (src, diagnostics) = run(
        "[properties.x]\ntype = \"strng\"\nsensitivity = \"personal\"\ncategory = \"user.contact.emial\"\ntransform = \"hmac\"\n[events.e]\npurposes = [\"analytics\"]\n[events.e.properties]\nx = {}\n",
    );
    let found: Vec<(&str, String)> = diagnostics
        .iter()
        .map(|d| (d.code, d.location(&src)))
        .collect();
    assert_eq!(
        found,
        [
            ("invalid-value", location_of(&src, "\"strng\"")),
            (
                "unknown-category",
                location_of(&src, "\"user.contact.emial\"")
            ),
        ]
    );
}
