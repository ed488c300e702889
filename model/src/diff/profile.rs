//! Traits, group kinds and context properties added, removed and changed.
//!
//! A trait is compared like a property whose "event" is the trait itself: its purposes decide
//! where its updates go, so a personal trait that starts reaching a third party is `high`, as a
//! personal property is. A context property reaches the destinations of the events it applies
//! to.

use super::*;
use crate::plan::GroupKind;

impl Cx<'_> {
    pub(super) fn sections(&mut self) {
        let (base, head) = (self.base, self.head);
        self.traits(None, &base.traits, &head.traits);
        for hg in &head.groups {
            let subject = ChangedItem::GroupKind {
                id: hg.id.value.clone(),
            };
            match base.group(&hg.id.value) {
                None => self.group_added(hg, &subject),
                Some(bg) => {
                    self.group_changes(bg, hg, &subject);
                    self.traits(Some(&hg.id.value), &bg.traits, &hg.traits);
                }
            }
        }
        for bg in &base.groups {
            if head.group(&bg.id.value).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::GroupKindRemoved,
                        &ChangedItem::GroupKind {
                            id: bg.id.value.clone(),
                        },
                        Impact::None,
                        "memberships and group profiles of this kind are no longer sent",
                    )
                    .breaking(true)
                    .before(ids(&bg.purposes.value)),
                );
            }
        }
        self.context();
        self.event_groups();
    }

    /// Third parties that receive data kept for `purposes`.
    fn third_parties<'p>(plan: &'p Plan, purposes: &'p [Spanned<String>]) -> Vec<&'p str> {
        plan.routes_for(purposes)
            .filter(|d| d.third_party.value)
            .map(|d| d.id.value.as_str())
            .collect()
    }

    fn traits(&mut self, group: Option<&str>, base: &[Property], head: &[Property]) {
        let subject = |t: &Property| ChangedItem::Trait {
            group: group.map(str::to_owned),
            id: t.id.value.clone(),
            name: t.name.value.clone(),
        };
        for ht in head {
            let hp = Plan::trait_purposes(ht);
            let third = Self::third_parties(self.head, hp);
            let Some(bt) = base.iter().find(|b| b.id.value == ht.id.value) else {
                let (impact, reason) = crate::diff::property::added_impact(ht, &third);
                let notes = self
                    .head
                    .routes_for(hp)
                    .map(|d| format!("sent to `{}` ({})", d.id.value, party(d.third_party.value)))
                    .collect();
                self.push(
                    Change::of(ChangeKind::TraitAdded, &subject(ht), impact, reason)
                        .after(summary(ht))
                        .notes(notes)
                        .notes_more(justification(ht)),
                );
                continue;
            };
            let s = subject(ht);
            let (mut b, mut h) = (bt.clone(), ht.clone());
            // Purposes are a trait's own, compared below with what they route to.
            b.purposes = None;
            h.purposes = None;
            self.property_changes(&b, &h, &s);
            let bp = Plan::trait_purposes(bt);
            let (bset, hset) = (ids(bp), ids(hp));
            if bset != hset {
                let widened = hset.iter().any(|p| !bset.contains(p));
                let (kind, impact, reason) = if widened {
                    (
                        ChangeKind::PurposesWidened,
                        Impact::NeedsReview,
                        "the trait is kept for more purposes",
                    )
                } else {
                    (
                        ChangeKind::PurposesNarrowed,
                        Impact::Low,
                        "the trait is kept for fewer purposes",
                    )
                };
                self.push(Change::of(kind, &s, impact, reason).values(bset, hset));
            }
            let before = Self::third_parties(self.base, bp);
            let gained: Vec<&str> = third
                .iter()
                .copied()
                .filter(|d| !before.contains(d))
                .collect();
            if ht.sensitivity.value >= Sensitivity::Personal
                && ht.audience().admits(true)
                && !gained.is_empty()
            {
                self.push(
                    Change::of(
                        ChangeKind::PersonalDataToThirdParty,
                        &s,
                        Impact::High,
                        format!(
                            "personal data now reaches a third party ({})",
                            list(&gained)
                        ),
                    )
                    .values(before, third),
                );
            }
        }
        for bt in base {
            if !head.iter().any(|h| h.id.value == bt.id.value) {
                self.push(
                    Change::of(
                        ChangeKind::TraitRemoved,
                        &subject(bt),
                        Impact::None,
                        "profiles no longer receive this trait; reports built on it stop updating",
                    )
                    .breaking(true)
                    .before(summary(bt)),
                );
            }
        }
    }

    fn group_added(&mut self, hg: &GroupKind, subject: &ChangedItem) {
        let third = Self::third_parties(self.head, &hg.purposes.value);
        let (impact, reason) = if hg.key.sensitivity.value >= Sensitivity::Personal {
            crate::diff::property::added_impact(&hg.key, &third)
        } else {
            (
                Impact::Low,
                "a new kind of group; memberships go where its purposes allow".to_owned(),
            )
        };
        let notes = self
            .head
            .routes_for(&hg.purposes.value)
            .map(|d| format!("sent to `{}` ({})", d.id.value, party(d.third_party.value)))
            .collect();
        self.push(
            Change::of(ChangeKind::GroupKindAdded, subject, impact, reason)
                .after(ids(&hg.purposes.value))
                .notes(notes),
        );
        for t in &hg.traits {
            let third = Self::third_parties(self.head, Plan::trait_purposes(t));
            let (impact, reason) = crate::diff::property::added_impact(t, &third);
            self.push(
                Change::of(
                    ChangeKind::TraitAdded,
                    &ChangedItem::Trait {
                        group: Some(hg.id.value.clone()),
                        id: t.id.value.clone(),
                        name: t.name.value.clone(),
                    },
                    impact,
                    reason,
                )
                .after(summary(t)),
            );
        }
    }

    fn group_changes(&mut self, bg: &GroupKind, hg: &GroupKind, subject: &ChangedItem) {
        let (bset, hset) = (ids(&bg.purposes.value), ids(&hg.purposes.value));
        if bset != hset {
            let widened = hset.iter().any(|p| !bset.contains(p));
            let (kind, impact, reason) = if widened {
                (
                    ChangeKind::PurposesWidened,
                    Impact::NeedsReview,
                    "memberships and group updates are collected for more purposes",
                )
            } else {
                (
                    ChangeKind::PurposesNarrowed,
                    Impact::Low,
                    "memberships and group updates are collected for fewer purposes",
                )
            };
            self.push(Change::of(kind, subject, impact, reason).values(bset, hset));
        }
        let (mut b, mut h) = (bg.key.clone(), hg.key.clone());
        b.purposes = None;
        h.purposes = None;
        self.property_changes(&b, &h, subject);
    }

    fn context(&mut self) {
        let (base, head) = (self.base, self.head);
        for hc in &head.context {
            let p = &hc.property;
            let subject = ChangedItem::Context {
                id: p.id.value.clone(),
                name: p.name.value.clone(),
            };
            let mut third: Vec<&str> = Vec::new();
            for e in head.events.iter().filter(|e| hc.applies_to(e)) {
                for d in head.routes(e).filter(|d| d.third_party.value) {
                    if !third.contains(&d.id.value.as_str()) {
                        third.push(&d.id.value);
                    }
                }
            }
            let Some(bc) = base
                .context
                .iter()
                .find(|c| c.property.id.value == p.id.value)
            else {
                let (impact, reason) = crate::diff::property::added_impact(p, &third);
                let events: Vec<&str> = match &hc.events {
                    None => vec!["every event"],
                    Some(ids) => ids.value.iter().map(|e| e.value.as_str()).collect(),
                };
                self.push(
                    Change::of(ChangeKind::ContextAdded, &subject, impact, reason)
                        .after(summary(p))
                        .notes(vec![format!("sent with {}", plain(&events))]),
                );
                continue;
            };
            self.property_changes(&bc.property, p, &subject);
            self.property_purpose_changes(&bc.property, p, &subject);
            let label = |c: &crate::plan::ContextProperty| match &c.events {
                None => ChangeValue::from("every event"),
                Some(ids) => ChangeValue::from(
                    ids.value
                        .iter()
                        .map(|e| e.value.as_str())
                        .collect::<Vec<_>>(),
                ),
            };
            let (be, he) = (label(bc), label(hc));
            if be != he {
                self.push(
                    Change::of(
                        ChangeKind::ContextEventsChanged,
                        &subject,
                        Impact::NeedsReview,
                        "the context property is sent with other events, so to other destinations",
                    )
                    .values(be, he),
                );
            }
        }
        for bc in &base.context {
            let p = &bc.property;
            if !head
                .context
                .iter()
                .any(|c| c.property.id.value == p.id.value)
            {
                self.push(
                    Change::of(
                        ChangeKind::ContextRemoved,
                        &ChangedItem::Context {
                            id: p.id.value.clone(),
                            name: p.name.value.clone(),
                        },
                        Impact::None,
                        "events no longer carry it; reports that group by it see gaps",
                    )
                    .breaking(true)
                    .before(summary(p)),
                );
            }
        }
    }

    fn event_groups(&mut self) {
        for he in &self.head.events {
            let Some(be) = self.base.event(&he.id.value) else {
                continue;
            };
            let (b, h) = (ids(&be.groups.value), ids(&he.groups.value));
            if b == h {
                continue;
            }
            let added = h.iter().any(|g| !b.contains(g));
            let (impact, reason, breaking) = if added {
                (
                    Impact::NeedsReview,
                    "the event now carries a group's key to every destination it reaches",
                    false,
                )
            } else {
                (
                    Impact::Low,
                    "the event no longer carries a group's key; reports per group lose it",
                    true,
                )
            };
            self.push(
                Change::of(
                    ChangeKind::EventGroupsChanged,
                    &ChangedItem::Event {
                        id: he.id.value.clone(),
                        name: he.name.value.clone(),
                    },
                    impact,
                    reason,
                )
                .breaking(breaking)
                .values(b, h),
            );
        }
    }
}

/// A trait's or context property's summary: as a property's, without "optional" (none of them
/// is ever required).
fn summary(p: &Property) -> String {
    let mut p = p.clone();
    p.required.value = true;
    property_summary(&p)
}
