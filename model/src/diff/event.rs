//! Events added, removed and changed.

use super::*;

impl Cx<'_> {
    pub(super) fn events(&mut self) {
        for he in &self.head.events {
            let subject = ChangedItem::Event {
                id: he.id.value.clone(),
                name: he.name.value.clone(),
            };
            match self.base.event(&he.id) {
                None => self.event_added(he, &subject),
                Some(be) => self.event_changes(be, he, &subject),
            }
        }
        for be in &self.base.events {
            if self.head.event(&be.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::EventRemoved,
                        &ChangedItem::Event {
                            id: be.id.value.clone(),
                            name: be.name.value.clone(),
                        },
                        Impact::None,
                        "less data is collected; reports built on this event stop receiving it",
                    )
                    .breaking(true)
                    .before(purposes_of(be)),
                );
            }
        }
    }

    pub(super) fn event_added(&mut self, he: &Event, subject: &ChangedItem) {
        let routes: Vec<&Destination> = self.head.routes(he).collect();
        let special: Vec<&str> = names_with(he, |s| s == Sensitivity::Special);
        let personal: Vec<&str> = names_with(he, |s| s == Sensitivity::Personal);
        let third: Vec<&str> = routes
            .iter()
            .filter(|d| d.third_party.value)
            .map(|d| d.id.value.as_str())
            .collect();
        let personal_to_third = !third.is_empty()
            && he
                .properties
                .iter()
                .any(|p| p.sensitivity.value >= Sensitivity::Personal && p.audience().admits(true));
        let (impact, reason) = if !special.is_empty() {
            (
                Impact::High,
                format!(
                    "collects special-category data (GDPR Art. 9): {}",
                    quoted(&special)
                ),
            )
        } else if personal_to_third {
            (
                Impact::High,
                format!(
                    "collects personal data ({}) and sends it to a third party ({})",
                    quoted(&personal),
                    list(&third)
                ),
            )
        } else if !personal.is_empty() {
            (
                Impact::NeedsReview,
                format!("collects personal data: {}", quoted(&personal)),
            )
        } else {
            (
                Impact::Low,
                "a new event with no personal data declared; check the declarations are right"
                    .to_owned(),
            )
        };
        let notes = routes
            .iter()
            .map(|d| format!("sent to `{}` ({})", d.id.value, party(d.third_party.value)))
            .collect();
        self.push(
            Change::of(ChangeKind::EventAdded, subject, impact, reason)
                .after(purposes_of(he))
                .notes(notes),
        );
    }

    pub(super) fn event_changes(&mut self, be: &Event, he: &Event, subject: &ChangedItem) {
        if be.name.value != he.name.value {
            self.push(
                Change::of(
                    ChangeKind::WireNameRenamed,
                    subject,
                    Impact::None,
                    "the same data under a new name; reports keyed on the old name stop matching",
                )
                .breaking(true)
                .values(be.name.value.clone(), he.name.value.clone()),
            );
        }
        let (bset, hset) = (ids(&be.purposes.value), ids(&he.purposes.value));
        let added: Vec<&str> = hset.iter().copied().filter(|p| !bset.contains(p)).collect();
        let removed: Vec<&str> = bset.iter().copied().filter(|p| !hset.contains(p)).collect();
        let broutes: Vec<&str> = self.base.routes(be).map(|d| d.id.value.as_str()).collect();
        let hroutes: Vec<&Destination> = self.head.routes(he).collect();
        let gained: Vec<&Destination> = hroutes
            .iter()
            .copied()
            .filter(|d| !broutes.contains(&d.id.value.as_str()))
            .collect();
        let lost: Vec<&str> = broutes
            .iter()
            .copied()
            .filter(|id| !hroutes.iter().any(|d| d.id.value == *id))
            .collect();
        if !added.is_empty() {
            let risky: Vec<&str> = added
                .iter()
                .copied()
                .filter(|id| self.head.purpose(id).is_some_and(is_marketing))
                .collect();
            let (impact, reason) = if !risky.is_empty() {
                (
                    Impact::High,
                    format!(
                        "this event's data is now also used for {}, which sells, shares or \
                         markets with it",
                        list(&risky)
                    ),
                )
            } else {
                (
                    Impact::NeedsReview,
                    format!(
                        "this event's data is now also used for {}; users must be told, and \
                         asked where the basis is consent",
                        list(&added)
                    ),
                )
            };
            let mut notes: Vec<String> = gained
                .iter()
                .map(|d| {
                    format!(
                        "now sent to `{}` ({})",
                        d.id.value,
                        party(d.third_party.value)
                    )
                })
                .collect();
            if removed.is_empty() {
                notes.extend(lost.iter().map(|d| format!("no longer sent to `{d}`")));
            }
            self.push(
                Change::of(ChangeKind::PurposesWidened, subject, impact, reason)
                    .breaking(removed.is_empty() && !lost.is_empty())
                    .values(&bset, &hset)
                    .notes(notes),
            );
        }
        if !removed.is_empty() {
            let mut notes: Vec<String> = lost
                .iter()
                .map(|d| format!("no longer sent to `{d}`"))
                .collect();
            if added.is_empty() {
                notes.extend(gained.iter().map(|d| {
                    format!(
                        "now sent to `{}` ({})",
                        d.id.value,
                        party(d.third_party.value)
                    )
                }));
            }
            self.push(
                Change::of(
                    ChangeKind::PurposesNarrowed,
                    subject,
                    Impact::Low,
                    format!("this event's data is no longer used for {}", list(&removed)),
                )
                .breaking(!lost.is_empty())
                .values(&bset, &hset)
                .notes(notes),
            );
        }

        for hp in &he.properties {
            let subject = property_subject(he, hp);
            match be.property(&hp.id) {
                None => self.property_added(he, hp, &subject),
                Some(bp) => self.property_changes(bp, hp, &subject),
            }
        }
        self.personal_data_to_new_third_parties(be, he);
        for bp in &be.properties {
            if he.property(&bp.id).is_none() {
                self.push(
                    Change::of(
                        ChangeKind::PropertyRemoved,
                        &property_subject(he, bp),
                        Impact::None,
                        "less data is collected; reports using this property lose it",
                    )
                    .breaking(true)
                    .before(property_summary(bp)),
                );
            }
        }
    }

    /// One high-impact change per personal property of an event that now reaches a third party
    /// it did not reach before, whatever made it so. New events, properties and destinations
    /// are left out: their own changes already say who receives what.
    fn personal_data_to_new_third_parties(&mut self, be: &Event, he: &Event) {
        for hp in &he.properties {
            let Some(bp) = be.property(&hp.id) else {
                continue;
            };
            if hp.sensitivity.value < Sensitivity::Personal {
                continue;
            }
            let before = third_party_recipients(self.base, be, bp);
            let after = third_party_recipients(self.head, he, hp);
            let new: Vec<&str> = after
                .iter()
                .copied()
                .filter(|d| !before.contains(d) && self.base.destination(d).is_some())
                .collect();
            if new.is_empty() {
                continue;
            }
            let kind = if hp.sensitivity.value == Sensitivity::Special {
                "special-category"
            } else {
                "personal"
            };
            self.push(
                Change::of(
                    ChangeKind::PersonalDataToThirdParty,
                    &property_subject(he, hp),
                    Impact::High,
                    format!(
                        "{kind} data \"{}\" ({}) now reaches {} {}",
                        hp.name.value,
                        hp.transform.value,
                        if new.len() == 1 {
                            "third party"
                        } else {
                            "third parties"
                        },
                        list(&new)
                    ),
                )
                .values(&before, &after)
                .notes(
                    new.iter()
                        .map(|d| format!("now sent to `{d}` (third party)"))
                        .collect(),
                ),
            );
        }
    }
}
