//! A synthetic tracking plan of any size, for the data map tests: 12 purposes (two that sell or
//! share), 10 destinations (every other one a third party), events with 3 to 7 properties drawn
//! from 20 personal categories, internal and public data, and special-category data (health,
//! biometric) on the analytics purposes. Long ids, so the map has to cut some labels.
//! Deterministic: the same `events` gives the same plan.

const WORDS: [&str; 12] = [
    "checkout_funnel_conversion",
    "search_quality",
    "recommendations",
    "retargeting_audiences",
    "partner_data_sharing",
    "newsletter_engagement",
    "fraud_detection",
    "account_security",
    "abuse_prevention",
    "order_fulfilment",
    "customer_support",
    "billing_and_invoicing",
];

const PERSONAL: [&str; 20] = [
    "user.contact.email",
    "user.contact.phone_number",
    "user.contact.address",
    "user.device.ip_address",
    "user.device.device_id",
    "user.device.cookie_id",
    "user.location.imprecise",
    "user.location.precise",
    "user.demographic.age_range",
    "user.demographic.gender",
    "user.demographic.language",
    "user.behavior.browsing_history",
    "user.behavior.purchase_history",
    "user.behavior.search_history",
    "user.financial.credit_card",
    "user.name.first",
    "user.name.last",
    "user.account.username",
    "user.content.private",
    "user.authorization.credentials",
];

const SPECIAL: [&str; 3] = [
    "user.health_and_medical.record_id",
    "user.health_and_medical.insurance_beneficiary_id",
    "user.biometric.fingerprint",
];

/// The id of synthetic purpose `i`.
pub fn purpose(i: usize) -> String {
    format!("purpose_{i:02}_{}", WORDS[i])
}

/// The id of synthetic destination `d`.
pub fn destination(d: usize) -> String {
    format!(
        "destination_{d:02}_{}_store",
        if d.is_multiple_of(2) {
            "partner"
        } else {
            "inhouse"
        }
    )
}

/// The plan's TOML.
pub fn plan(events: usize) -> String {
    use std::fmt::Write as _;
    let basis = |i: usize| match i {
        0..=5 => "consent",
        6..=8 => "legitimate_interest",
        _ => "contract",
    };
    let data_use = |i: usize| match i {
        0..=2 => "analytics.reporting",
        3 | 4 => "marketing.advertising.third_party.targeted",
        5 => "marketing.communications.email",
        6..=8 => "essential.fraud_detection",
        _ => "essential.service.operations.support",
    };
    let mut s = String::from(
        "# Synthetic plan of the data map tests.\n[plan]\nname = \"synthetic\"\nversion = 1\n\n",
    );
    for i in 0..12 {
        let _ = writeln!(
            s,
            "[purposes.{}]\ndescription = \"Synthetic purpose {i}.\"\nbasis = \"{}\"\n\
             data_use = \"{}\"\nretention_days = {}{}\n",
            purpose(i),
            basis(i),
            data_use(i),
            30 * (i + 1),
            if i == 3 || i == 4 {
                "\nsale_or_share = true"
            } else {
                ""
            }
        );
    }
    for d in 0..10 {
        let purposes = if d < 9 {
            format!("\"{}\"", purpose(d))
        } else {
            format!("\"{}\", \"{}\"", purpose(9), purpose(10))
        };
        let _ = writeln!(
            s,
            "[destinations.{}]\nkind = \"ndjson\"\npurposes = [{purposes}]\n\
             description = \"Synthetic destination {d}.\"{}\n",
            destination(d),
            if d.is_multiple_of(2) {
                "\nthird_party = true"
            } else {
                ""
            }
        );
    }
    for e in 0..events {
        let p = e % 12;
        let mut ps = vec![p];
        if p == 9 {
            ps.push(10);
        } else if p > 2 && e.is_multiple_of(3) {
            ps.push(if (p + 1) % 12 > 2 { (p + 1) % 12 } else { 5 });
        }
        ps.sort_unstable();
        ps.dedup();
        let id = format!("event_{e:03}_synthetic_interaction");
        let purposes: Vec<String> = ps.iter().map(|&x| format!("\"{}\"", purpose(x))).collect();
        let _ = writeln!(
            s,
            "[events.{id}]\nname = \"Synthetic Interaction {e:03}\"\n\
             description = \"Synthetic event {e}.\"\npurposes = [{}]\n[events.{id}.properties]",
            purposes.join(", ")
        );
        for k in 0..3 + e % 5 {
            let c = (e * 7 + k * 3) % (PERSONAL.len() + 6);
            if c < PERSONAL.len() {
                let _ = writeln!(
                    s,
                    "prop_{k} = {{ name = \"Prop {k}\", type = \"string\", sensitivity = \"personal\", \
                     category = \"{}\", transform = \"hmac\", description = \"x\" }}",
                    PERSONAL[c]
                );
            } else if c < PERSONAL.len() + 3 {
                let _ = writeln!(
                    s,
                    "prop_{k} = {{ name = \"Prop {k}\", type = \"integer\", sensitivity = \"internal\", description = \"x\" }}"
                );
            } else {
                let _ = writeln!(
                    s,
                    "prop_{k} = {{ name = \"Prop {k}\", type = \"boolean\", sensitivity = \"public\", description = \"x\" }}"
                );
            }
        }
        if p <= 2 && ps.len() == 1 {
            let _ = writeln!(
                s,
                "special = {{ name = \"Special\", type = \"string\", sensitivity = \"special\", \
                 category = \"{}\", transform = \"redact\", special_basis = \"explicit_consent\", \
                 required = false, description = \"x\" }}",
                SPECIAL[e % 3]
            );
        }
        s.push('\n');
    }
    s
}
