//! Changes to the plan header, the identity, purposes, destinations and policies.

use super::*;

impl Cx<'_> {
    pub(super) fn plan(&mut self) {
        let (b, h) = (self.base, self.head);
        if b.name.value != h.name.value {
            self.push(
                Change::of(
                    ChangeKind::PlanRenamed,
                    &ChangedItem::Plan,
                    Impact::None,
                    "every payload names the plan as `name@version`; consumers filtering on it \
                     stop matching",
                )
                .breaking(true)
                .values(b.name.value.clone(), h.name.value.clone()),
            );
        }
        let (bt, ht) = (b.identity.transform.value, h.identity.transform.value);
        if bt != ht {
            let (impact, reason) = match ht {
                IdentityTransform::None => (
                    Impact::High,
                    "user ids now leave the process as they are instead of pseudonymized",
                ),
                IdentityTransform::Hmac => (
                    Impact::Low,
                    "user ids are now pseudonymized with the tracker key before they leave",
                ),
            };
            self.push(
                Change::of(
                    ChangeKind::IdentityChanged,
                    &ChangedItem::Identity,
                    impact,
                    reason,
                )
                .breaking(true)
                .values(bt.to_string(), ht.to_string())
                .notes(vec![
                    "distinct ids change: the same person appears as a new user downstream"
                        .to_owned(),
                ]),
            );
        }
    }

    pub(super) fn purposes(&mut self) {
        for hp in &self.head.purposes {
            let subject = ChangedItem::Purpose {
                id: hp.id.value.clone(),
            };
            let Some(bp) = self.base.purpose(&hp.id) else {
                let (impact, reason) = if is_marketing(hp) {
                    (
                        Impact::High,
                        format!(
                            "a new reason to process data that {}; check the legal basis and \
                             the notice",
                            marketing_phrase(hp)
                        ),
                    )
                } else {
                    (
                        Impact::NeedsReview,
                        "a new reason to process data; check the legal basis and the notice \
                         text"
                            .to_owned(),
                    )
                };
                self.push(
                    Change::of(ChangeKind::PurposeAdded, &subject, impact, reason).after(format!(
                        "{} ({}, {})",
                        hp.data_use.value,
                        hp.basis.value.key(),
                        retention(hp.retention_days.as_ref())
                    )),
                );
                continue;
            };
            self.purpose_changes(bp, hp, &subject);
        }
        for bp in &self.base.purposes {
            if self.head.purpose(&bp.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::PurposeRemoved,
                        &ChangedItem::Purpose {
                            id: bp.id.value.clone(),
                        },
                        Impact::Low,
                        "data is no longer processed for this reason",
                    )
                    .before(bp.data_use.value.clone()),
                );
            }
        }
    }

    pub(super) fn purpose_changes(&mut self, bp: &Purpose, hp: &Purpose, subject: &ChangedItem) {
        use crate::plan::LegalBasis;
        if bp.basis.value != hp.basis.value {
            let (impact, reason) = if bp.basis.value == LegalBasis::Consent {
                (
                    Impact::High,
                    "this purpose no longer waits for the user's consent: data is processed \
                     without asking",
                )
            } else if hp.basis.value == LegalBasis::Consent {
                (
                    Impact::NeedsReview,
                    "this purpose now needs consent: events stop until users agree; check the \
                     consent screen",
                )
            } else {
                (
                    Impact::NeedsReview,
                    "the legal ground changed; the notice and the Art. 30 record must follow",
                )
            };
            self.push(
                Change::of(ChangeKind::LegalBasisChanged, subject, impact, reason).values(
                    bp.basis.value.key().to_owned(),
                    hp.basis.value.key().to_owned(),
                ),
            );
        }
        if bp.data_use.value != hp.data_use.value {
            let (impact, reason) = if is_marketing(hp) && !is_marketing(bp) {
                (
                    Impact::High,
                    "the data is now used for marketing; policies and consent must cover it"
                        .to_owned(),
                )
            } else {
                (
                    Impact::NeedsReview,
                    "what the data is used for changed; check the policies that match data uses"
                        .to_owned(),
                )
            };
            self.push(
                Change::of(ChangeKind::DataUseChanged, subject, impact, reason)
                    .values(bp.data_use.value.clone(), hp.data_use.value.clone()),
            );
        }
        let (br, hr) = (
            bp.retention_days.as_ref().map(|r| r.value),
            hp.retention_days.as_ref().map(|r| r.value),
        );
        if br != hr {
            let longer = match (br, hr) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(b), Some(h)) => h > b,
            };
            let (impact, reason) = if longer {
                (
                    Impact::NeedsReview,
                    "data is kept longer; the notice and the Art. 30 record state the retention",
                )
            } else {
                (Impact::Low, "data is kept for a shorter time")
            };
            self.push(
                Change::of(ChangeKind::RetentionChanged, subject, impact, reason).values(
                    retention_value(bp.retention_days.as_ref()),
                    retention_value(hp.retention_days.as_ref()),
                ),
            );
        }
        if bp.sale_or_share.value != hp.sale_or_share.value {
            let (impact, reason) = if hp.sale_or_share.value {
                (
                    Impact::High,
                    "this purpose now sells or shares data: Global Privacy Control and CCPA \
                     opt-outs apply and the notice must say so",
                )
            } else {
                (
                    Impact::NeedsReview,
                    "Global Privacy Control and CCPA opt-outs no longer stop this purpose; \
                     confirm it does not sell or share data",
                )
            };
            self.push(
                Change::of(ChangeKind::SaleOrShareChanged, subject, impact, reason)
                    .values(bp.sale_or_share.value, hp.sale_or_share.value),
            );
        }
        if bp.description.value != hp.description.value {
            self.push(
                Change::of(
                    ChangeKind::NoticeTextChanged,
                    subject,
                    Impact::Low,
                    "users read this text on the consent screen and in the notice; check it is \
                     accurate",
                )
                .values(bp.description.value.clone(), hp.description.value.clone()),
            );
        }
    }

    pub(super) fn destinations(&mut self) {
        for hd in &self.head.destinations {
            let subject = ChangedItem::Destination {
                id: hd.id.value.clone(),
            };
            let routed: Vec<String> = events_routed_to(self.head, hd)
                .map(|e| receives(e, hd))
                .collect();
            let Some(bd) = self.base.destination(&hd.id) else {
                let (impact, reason) = if hd.third_party.value {
                    (
                        Impact::High,
                        "a new third party receives data; a data processing agreement and the \
                         notice must cover it",
                    )
                } else {
                    (
                        Impact::NeedsReview,
                        "a new first-party system receives data; the Art. 30 record lists \
                         recipients",
                    )
                };
                self.push(
                    Change::of(ChangeKind::DestinationAdded, &subject, impact, reason)
                        .after(destination_summary(hd))
                        .notes(routed),
                );
                continue;
            };
            let (bset, hset) = (ids(&bd.purposes.value), ids(&hd.purposes.value));
            let added: Vec<&str> = hset.iter().copied().filter(|p| !bset.contains(p)).collect();
            let removed: Vec<&str> = bset.iter().copied().filter(|p| !hset.contains(p)).collect();
            let newly = newly_routed(self.base, bd, self.head, hd);
            let lost = newly_routed(self.head, hd, self.base, bd);
            if !added.is_empty() {
                let impact = if hd.third_party.value {
                    Impact::High
                } else {
                    Impact::NeedsReview
                };
                let mut notes = vec![format!("now also uses data for {}", list(&added))];
                notes.extend(lost.iter().map(|e| format!("no longer receives \"{e}\"")));
                self.push(
                    Change::of(
                        ChangeKind::DestinationPurposesWidened,
                        &subject,
                        impact,
                        format!(
                            "{} uses the data it receives for more purposes",
                            if hd.third_party.value {
                                "this third party"
                            } else {
                                "this system"
                            }
                        ),
                    )
                    .breaking(!lost.is_empty())
                    .values(&bset, &hset)
                    .notes(notes),
                );
            }
            if !removed.is_empty() {
                let notes: Vec<String> = newly
                    .iter()
                    .map(|e| format!("now receives \"{e}\""))
                    .collect();
                let (impact, reason) = if newly.is_empty() {
                    (Impact::Low, "uses the data for fewer purposes")
                } else {
                    (
                        Impact::NeedsReview,
                        "uses the data for fewer purposes, so events collected for the remaining \
                         ones now reach it",
                    )
                };
                self.push(
                    Change::of(
                        ChangeKind::DestinationPurposesNarrowed,
                        &subject,
                        impact,
                        reason,
                    )
                    .breaking(added.is_empty() && !lost.is_empty())
                    .values(&bset, &hset)
                    .notes(notes),
                );
            }
            if bd.third_party.value != hd.third_party.value {
                let (impact, reason) = if hd.third_party.value {
                    (
                        Impact::High,
                        "data now goes to a third party; `redact` properties are withheld from it",
                    )
                } else {
                    (
                        Impact::Low,
                        "data now stays with us; `redact` properties are now sent to it",
                    )
                };
                self.push(
                    Change::of(ChangeKind::ThirdPartyChanged, &subject, impact, reason)
                        .values(
                            party(bd.third_party.value).to_owned(),
                            party(hd.third_party.value).to_owned(),
                        )
                        .notes(routed.clone()),
                );
            }
            if bd.kind.value != hd.kind.value {
                self.push(
                    Change::of(
                        ChangeKind::DestinationKindChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the data goes to a different kind of system; check who operates it",
                    )
                    .values(
                        bd.kind.value.key().to_owned(),
                        hd.kind.value.key().to_owned(),
                    ),
                );
            }
        }
        for bd in &self.base.destinations {
            if self.head.destination(&bd.id).is_none() {
                let lost: Vec<String> = events_routed_to(self.base, bd)
                    .map(|e| format!("no longer receives \"{}\"", e.name.value))
                    .collect();
                self.push(
                    Change::of(
                        ChangeKind::DestinationRemoved,
                        &ChangedItem::Destination {
                            id: bd.id.value.clone(),
                        },
                        Impact::Low,
                        "fewer recipients; ask the recipient to delete what it holds if that is \
                         the intent",
                    )
                    .breaking(true)
                    .before(destination_summary(bd))
                    .notes(lost),
                );
            }
        }
    }

    pub(super) fn policies(&mut self) {
        for hp in &self.head.policies {
            let subject = ChangedItem::Policy {
                name: hp.name.value.clone(),
            };
            match self
                .base
                .policies
                .iter()
                .find(|p| p.name.value == hp.name.value)
            {
                None => self.push(
                    Change::of(
                        ChangeKind::PolicyAdded,
                        &subject,
                        Impact::Low,
                        "a new rule the plan must satisfy",
                    )
                    .after(policy_summary(hp)),
                ),
                Some(bp) if policy_summary(bp) != policy_summary(hp) => self.push(
                    Change::of(
                        ChangeKind::PolicyChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the rule now covers different data or uses; check it still protects \
                         what it was written for",
                    )
                    .values(policy_summary(bp), policy_summary(hp)),
                ),
                Some(_) => {}
            }
        }
        for bp in &self.base.policies {
            if !self
                .head
                .policies
                .iter()
                .any(|p| p.name.value == bp.name.value)
            {
                self.push(
                    Change::of(
                        ChangeKind::PolicyRemoved,
                        &ChangedItem::Policy {
                            name: bp.name.value.clone(),
                        },
                        Impact::High,
                        "a rule that kept data from some uses is gone",
                    )
                    .before(policy_summary(bp)),
                );
            }
        }
    }

    /// `[[exceptions]]`: lifting a built-in policy is the largest change a plan can make to
    /// what protects special-category data, so it is always high impact.
    pub(super) fn exceptions(&mut self) {
        for hx in &self.head.exceptions {
            let subject = ChangedItem::Exception {
                policy: hx.policy.value.clone(),
            };
            let justification = hx.justification.value.clone();
            match self
                .base
                .exceptions
                .iter()
                .find(|x| x.policy.value == hx.policy.value)
            {
                None => self.push(
                    Change::of(
                        ChangeKind::ExceptionAdded,
                        &subject,
                        Impact::High,
                        "the plan lifts a built-in policy for special-category data; check the justification",
                    )
                    .after(justification),
                ),
                Some(bx) if bx.justification.value != hx.justification.value => self.push(
                    Change::of(
                        ChangeKind::ExceptionChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the reason given for lifting a built-in policy changed",
                    )
                    .values(bx.justification.value.clone(), justification),
                ),
                Some(_) => {}
            }
        }
        for bx in &self.base.exceptions {
            if !self
                .head
                .exceptions
                .iter()
                .any(|x| x.policy.value == bx.policy.value)
            {
                self.push(
                    Change::of(
                        ChangeKind::ExceptionRemoved,
                        &ChangedItem::Exception {
                            policy: bx.policy.value.clone(),
                        },
                        Impact::Low,
                        "the built-in policy protects this plan again",
                    )
                    .before(bx.justification.value.clone()),
                );
            }
        }
    }
}
