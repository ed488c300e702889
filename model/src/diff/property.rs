//! Properties of an event added, removed and changed: name, type, sensitivity, transform, purposes.

use super::*;

impl Cx<'_> {
    pub(super) fn property_added(&mut self, he: &Event, hp: &Property, subject: &ChangedItem) {
        let third: Vec<&str> = self
            .head
            .routes(he)
            .filter(|d| d.third_party.value)
            .map(|d| d.id.value.as_str())
            .collect();
        let (impact, reason) = added_impact(hp, &third);
        self.push(
            Change::of(ChangeKind::PropertyAdded, subject, impact, reason)
                .after(property_summary(hp))
                .notes(justification(hp)),
        );
    }

    pub(super) fn property_changes(&mut self, bp: &Property, hp: &Property, subject: &ChangedItem) {
        if bp.name.value != hp.name.value {
            self.push(
                Change::of(
                    ChangeKind::WireNameRenamed,
                    subject,
                    Impact::None,
                    "the same value under a new key; reports using the old key stop matching",
                )
                .breaking(true)
                .values(bp.name.value.clone(), hp.name.value.clone()),
            );
        }
        self.type_changes(bp, hp, subject);
        if bp.required.value != hp.required.value {
            let (breaking, reason) = if hp.required.value {
                (false, "now always present")
            } else {
                (
                    true,
                    "may now be missing; reports that count on it see gaps",
                )
            };
            self.push(
                Change::of(ChangeKind::RequiredChanged, subject, Impact::None, reason)
                    .breaking(breaking)
                    .values(required(bp.required.value), required(hp.required.value)),
            );
        }
        self.sensitivity_changes(bp, hp, subject);
        let (bc, hc) = (
            bp.category.as_ref().map(|c| c.value.as_str()),
            hp.category.as_ref().map(|c| c.value.as_str()),
        );
        if bc != hc {
            let (bs, hs) = (bp.sensitivity.value, hp.sensitivity.value);
            let what = match (bc, hc) {
                (None, Some(h)) => format!("now declared as `{h}`"),
                (Some(b), None) => format!("no longer declared as `{b}`"),
                (Some(b), Some(h)) => format!("declared as `{h}` instead of `{b}`"),
                (None, None) => String::new(),
            };
            let (impact, why) = if hs == Sensitivity::Special && bs != Sensitivity::Special {
                (
                    Impact::High,
                    "special-category data; policies and consent must cover it",
                )
            } else if hs == Sensitivity::Special {
                (
                    Impact::NeedsReview,
                    "still special-category data; check the Art. 9(2) ground still fits",
                )
            } else if hs.max(bs) >= Sensitivity::Personal {
                (
                    Impact::NeedsReview,
                    "policies and the Art. 30 record match on categories",
                )
            } else {
                (Impact::Low, "not declared as personal data")
            };
            self.push(
                Change::of(
                    ChangeKind::CategoryChanged,
                    subject,
                    impact,
                    format!("{what}: {why}"),
                )
                .values(
                    bc.map_or(ChangeValue::Nothing, ChangeValue::from),
                    hc.map_or(ChangeValue::Nothing, ChangeValue::from),
                ),
            );
        }
        self.transform_changes(bp, hp, subject);
        self.property_purpose_changes(bp, hp, subject);
    }

    pub(super) fn type_changes(&mut self, bp: &Property, hp: &Property, subject: &ChangedItem) {
        let (bt, ht) = (&bp.ty.value, &hp.ty.value);
        if let (PropertyType::Enum { values: bv }, PropertyType::Enum { values: hv }) = (bt, ht) {
            let bv: Vec<&str> = ids(bv);
            let hv: Vec<&str> = ids(hv);
            if bv != hv {
                let added: Vec<&str> = hv.iter().copied().filter(|v| !bv.contains(v)).collect();
                let removed: Vec<&str> = bv.iter().copied().filter(|v| !hv.contains(v)).collect();
                let reason = match (added.is_empty(), removed.is_empty()) {
                    (false, true) => format!("new values {}", quoted(&added)),
                    (true, false) => format!(
                        "values {} are no longer sent; reports filtering on them go empty",
                        quoted(&removed)
                    ),
                    (false, false) => format!(
                        "values {} replaced by {}; reports filtering on the old ones go empty",
                        quoted(&removed),
                        quoted(&added)
                    ),
                    (true, true) => "the values were reordered".to_owned(),
                };
                self.push(
                    Change::of(ChangeKind::EnumValuesChanged, subject, Impact::None, reason)
                        .breaking(!removed.is_empty())
                        .values(&bv, &hv),
                );
            }
            return;
        }
        if !same_type(bt, ht) {
            let to_text = is_text(ht) && !is_text(bt);
            let (impact, reason) = if to_text {
                (
                    Impact::NeedsReview,
                    "now free text, which can carry personal data the old type could not",
                )
            } else {
                (
                    Impact::None,
                    "values have a new type; consumers parsing the old type break",
                )
            };
            self.push(
                Change::of(ChangeKind::TypeChanged, subject, impact, reason)
                    .breaking(true)
                    .values(type_detail(bt), type_detail(ht)),
            );
        }
    }

    pub(super) fn sensitivity_changes(
        &mut self,
        bp: &Property,
        hp: &Property,
        subject: &ChangedItem,
    ) {
        let (bs, hs) = (bp.sensitivity.value, hp.sensitivity.value);
        if bs == hs {
            return;
        }
        let values = (bs.key().to_owned(), hs.key().to_owned());
        if hs > bs {
            let (impact, reason) = match hs {
                Sensitivity::Special => (
                    Impact::High,
                    "now special-category data: needs explicit consent, an Art. 9(2) ground and \
                     no marketing use",
                ),
                Sensitivity::Personal => (
                    Impact::NeedsReview,
                    "now declared personal data: the notice and the Art. 30 record must list it",
                ),
                Sensitivity::Internal | Sensitivity::Public => {
                    (Impact::Low, "now treated as internal rather than public")
                }
            };
            self.push(
                Change::of(ChangeKind::SensitivityRaised, subject, impact, reason)
                    .values(values.0, values.1),
            );
        } else {
            let (impact, reason) = if bs >= Sensitivity::Personal {
                (
                    Impact::High,
                    if hs == Sensitivity::Personal {
                        "no longer treated as special-category data: explicit consent and the \
                         Art. 9 checks stop applying"
                    } else {
                        "no longer treated as personal data: transform, consent and notice \
                         requirements stop applying"
                    },
                )
            } else {
                (Impact::Low, "now treated as public rather than internal")
            };
            self.push(
                Change::of(ChangeKind::SensitivityLowered, subject, impact, reason)
                    .values(values.0, values.1),
            );
        }
    }

    pub(super) fn transform_changes(
        &mut self,
        bp: &Property,
        hp: &Property,
        subject: &ChangedItem,
    ) {
        let (bt, ht) = (&bp.transform.value, &hp.transform.value);
        if bt == ht {
            return;
        }
        let personal = hp.sensitivity.value >= Sensitivity::Personal
            || bp.sensitivity.value >= Sensitivity::Personal;
        let values = (bt.to_string(), ht.to_string());
        let (kind, impact, reason) = match strength(bt, ht) {
            Some(std::cmp::Ordering::Less) => (
                ChangeKind::TransformWeakened,
                if personal { Impact::High } else { Impact::Low },
                if matches!(ht, Transform::None) {
                    "the value now leaves the process as it is".to_owned()
                } else {
                    format!(
                        "the value is now less protected ({} → {})",
                        values.0, values.1
                    )
                },
            ),
            Some(_) => (
                ChangeKind::TransformStrengthened,
                Impact::Low,
                format!(
                    "the value is now better protected ({} → {})",
                    values.0, values.1
                ),
            ),
            None => (
                ChangeKind::TransformChanged,
                if personal {
                    Impact::NeedsReview
                } else {
                    Impact::Low
                },
                "protected in a different way; check it still fits the data".to_owned(),
            ),
        };
        let mut notes = vec!["the form of the value sent changes".to_owned()];
        notes.extend(justification(hp));
        self.push(
            Change::of(kind, subject, impact, reason)
                .breaking(true)
                .values(values.0, values.1)
                .notes(notes),
        );
    }

    pub(super) fn property_purpose_changes(
        &mut self,
        bp: &Property,
        hp: &Property,
        subject: &ChangedItem,
    ) {
        let (bset, hset) = (
            bp.purposes.as_ref().map(|p| ids(&p.value)),
            hp.purposes.as_ref().map(|p| ids(&p.value)),
        );
        if bset == hset {
            return;
        }
        let label = |s: &Option<Vec<&str>>| match s {
            Some(s) => ChangeValue::from(s),
            None => ChangeValue::from("any purpose of its event"),
        };
        let widened = match (&bset, &hset) {
            (_, None) => true,
            (None, Some(_)) => false,
            (Some(b), Some(h)) => h.iter().any(|p| !b.contains(p)),
        };
        let narrowed = match (&bset, &hset) {
            (None, _) => hset.is_some(),
            (Some(_), None) => false,
            (Some(b), Some(h)) => b.iter().any(|p| !h.contains(p)),
        };
        let values = (label(&bset), label(&hset));
        if widened {
            self.push(
                Change::of(
                    ChangeKind::PurposesWidened,
                    subject,
                    Impact::NeedsReview,
                    "the purpose restriction on this property was loosened",
                )
                .values(values.0.clone(), values.1.clone()),
            );
        }
        if narrowed {
            self.push(
                Change::of(
                    ChangeKind::PurposesNarrowed,
                    subject,
                    Impact::Low,
                    "this property may be collected for fewer purposes",
                )
                .values(values.0, values.1),
            );
        }
    }
}

/// The impact of data that starts being collected: special data, personal data sent as
/// is, or personal data that reaches a third party (`third`) are high.
pub(super) fn added_impact(hp: &Property, third: &[&str]) -> (Impact, String) {
    match hp.sensitivity.value {
        Sensitivity::Special => (
            Impact::High,
            "special-category data (GDPR Art. 9): needs explicit consent and an Art. 9(2) \
             ground"
                .to_owned(),
        ),
        Sensitivity::Personal if hp.transform.value == Transform::None => (
            Impact::High,
            "personal data sent as is, without pseudonymization or minimization".to_owned(),
        ),
        Sensitivity::Personal if !third.is_empty() && hp.audience().admits(true) => (
            Impact::High,
            format!(
                "personal data ({}) sent to a third party ({})",
                hp.transform.value.key(),
                list(third)
            ),
        ),
        Sensitivity::Personal => (
            Impact::NeedsReview,
            format!("personal data, protected by `{}`", hp.transform.value.key()),
        ),
        Sensitivity::Internal | Sensitivity::Public => (
            Impact::Low,
            "declared as not personal data; check that it cannot identify anyone".to_owned(),
        ),
    }
}
