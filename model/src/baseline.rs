//! The baseline policies: deny rules every plan is checked against, whether or not it writes
//! any `[[policies]]` of its own.
//!
//! A plan's own `[[policies]]` only protect what their author thought of. The baseline holds
//! the rules no plan should need to remember: special-category data (GDPR Art. 9 health,
//! genetic, biometric, racial or ethnic origin, political opinions, religious beliefs, sex life
//! and orientation; Art. 10 criminal records; Art. 8 children's data — the taxonomy's special
//! categories, categories a plan marks `special = true`, and any property with
//! `sensitivity = "special"`) is never used for marketing or advertising, never shared with
//! third parties as a data use of its own, and never used to train AI systems. Consent to
//! analytics is not consent to any of these, and each is where special-category data does the
//! most harm once it leaves the purpose it was collected for.
//!
//! A plan may lift one with a visible, justified exception, which `check`, `docs` and `diff`
//! show to its reviewers:
//!
//! ```toml
//! [[exceptions]]
//! policy = "special-category-marketing"
//! justification = "Pharmacy offers to customers who gave explicit consent (Art. 9(2)(a)); reviewed by privacy@shop.example."
//! ```

/// A built-in deny rule for special-category data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BaselinePolicy {
    /// The id an `[[exceptions]] policy = "…"` names.
    pub id: &'static str,
    /// What the rule says, in words.
    pub summary: &'static str,
    /// The fideslang data uses it denies (each covers everything below it).
    pub data_uses: &'static [&'static str],
}

/// Every baseline policy, in the order `docs` lists them.
pub const BASELINE_POLICIES: &[BaselinePolicy] = &[
    BaselinePolicy {
        id: "special-category-marketing",
        summary: "special-category data is never used for marketing or advertising",
        data_uses: &["marketing"],
    },
    BaselinePolicy {
        id: "special-category-third-party-sharing",
        summary: "special-category data is never shared with third parties as a data use",
        data_uses: &["third_party_sharing"],
    },
    BaselinePolicy {
        id: "special-category-ai-training",
        summary: "special-category data is never used to train AI systems",
        data_uses: &["train_ai_system"],
    },
];

/// The baseline policy with this id.
pub fn baseline_policy(id: &str) -> Option<&'static BaselinePolicy> {
    BASELINE_POLICIES.iter().find(|p| p.id == id)
}

/// The first baseline policy that denies `data_use` for special-category data.
pub fn denying(data_use: &str) -> Option<&'static BaselinePolicy> {
    BASELINE_POLICIES.iter().find(|p| {
        p.data_uses
            .iter()
            .any(|rule| crate::taxonomy::covers(rule, data_use))
    })
}
