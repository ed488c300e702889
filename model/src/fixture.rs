//! The plan every rule test adds to, and the assertions they share (parser and validator
//! tests both run the whole `check`, as users do).

use crate::{Diagnostic, SourceFile, check};

/// A valid plan the cases add to: three purposes with different bases, one destination, one
/// shared property.
pub(crate) const BASE: &str = r#"[plan]
name = "t"
version = 1

[purposes.analytics]
description = "Improve the app."
basis = "consent"
data_use = "analytics.reporting"

[purposes.ads]
description = "Show ads."
basis = "consent"
data_use = "marketing.advertising.third_party.targeted"

[purposes.security]
description = "Detect fraud."
basis = "legitimate_interest"
data_use = "essential.fraud_detection"

[destinations.warehouse]
kind = "ndjson"
purposes = ["analytics"]

[properties.tier]
type = "enum"
values = ["free", "pro"]
sensitivity = "internal"
"#;

pub(crate) fn run(snippet: &str) -> (SourceFile, Vec<Diagnostic>) {
    let src = SourceFile::new("t.toml", format!("{BASE}{snippet}"));
    let checked = check(&src);
    assert_eq!(checked.plan.is_some(), !checked.has_errors());
    (src, checked.diagnostics)
}

/// `file:line:col` of the first `needle` inside the snippet part of the plan.
pub(crate) fn location_of(src: &SourceFile, needle: &str) -> String {
    let at = src.text[BASE.len()..]
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` is not in the snippet"));
    let (line, col) = src.line_col(BASE.len() + at);
    format!("t.toml:{line}:{col}")
}

/// Asserts the plan has exactly one diagnostic, with this code, at `needle`, whose message
/// contains every fragment.
#[track_caller]
pub(crate) fn one(snippet: &str, code: &str, needle: &str, fragments: &[&str]) -> Diagnostic {
    let (src, diagnostics) = run(snippet);
    let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&src)).collect();
    assert_eq!(diagnostics.len(), 1, "{}", rendered.join("\n\n"));
    let d = diagnostics.into_iter().next().unwrap();
    assert_eq!(d.code, code, "{}", rendered[0]);
    assert_eq!(
        d.location(&src),
        location_of(&src, needle),
        "{}",
        rendered[0]
    );
    for fragment in fragments {
        assert!(
            d.message.contains(fragment),
            "`{fragment}` not in: {}",
            d.message
        );
    }
    d
}

#[track_caller]
pub(crate) fn clean(snippet: &str) {
    let (src, diagnostics) = run(snippet);
    let rendered: Vec<String> = diagnostics.iter().map(|d| d.render(&src)).collect();
    assert!(diagnostics.is_empty(), "{}", rendered.join("\n\n"));
}
