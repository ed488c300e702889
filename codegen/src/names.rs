//! The identifiers of everything `plan!` generates, taken from the model's naming rule.
//!
//! The model validates that a plan's generated names are identifiers and never collide; on a
//! valid plan this module only turns names into [`Ident`]s. It also has to survive an
//! *invalid* plan, because the macro still emits stub items next to the errors: an item whose
//! name is not an identifier or collides with an earlier one is left out, and the reason is
//! kept in [`Names::skipped`] (on a valid plan that list is empty, which the tests assert).

use std::collections::HashSet;

use proc_macro2::Ident;
use trackplan_model::naming::{EnumNames, PlanNames, enum_values};
use trackplan_model::{Event, Plan, Property, Spanned};

use crate::ident::ident;
use crate::ty::Std;

/// Everything `plan!` generates, named.
pub(crate) struct Names<'p> {
    /// Purpose markers, parallel to `plan.purposes`; `None` when left out.
    pub purposes: Vec<Option<Ident>>,
    /// Destination markers, parallel to `plan.destinations`.
    pub destinations: Vec<Option<Ident>>,
    /// Event structs that are generated, in plan order.
    pub events: Vec<EventItem<'p>>,
    /// Enum types, each once, in order of first appearance.
    pub enums: Vec<EnumItem<'p>>,
    /// What was left out and why (empty for a valid plan).
    pub skipped: Vec<String>,
    /// How field types name `Option`, `String` and `Vec` next to these items.
    pub std: Std,
}

/// One generated event struct.
pub(crate) struct EventItem<'p> {
    /// The plan's event.
    pub event: &'p Event,
    /// The struct.
    pub ident: Ident,
    /// Its fields, in plan order; index `i` is `PLAN.events[_].properties[i]`.
    pub fields: Vec<FieldItem<'p>>,
}

/// One field of an event struct.
pub(crate) struct FieldItem<'p> {
    /// The resolved property on the event.
    pub property: &'p Property,
    /// The field.
    pub ident: Ident,
    /// Index into [`Names::enums`] for enum and list-of-enum properties.
    pub enum_index: Option<usize>,
}

/// One generated enum type.
pub(crate) struct EnumItem<'p> {
    /// The type.
    pub ident: Ident,
    /// The key `Values::PROPERTY` reports: the shared property id, or `event.property` for a
    /// property declared inline on an event.
    pub key: String,
    /// The property whose values it holds (the shared definition, or the inline one).
    pub property: &'p Property,
    /// Variants and the wire values they stand for, in plan order.
    pub variants: Vec<(Ident, &'p Spanned<String>)>,
}

impl<'p> Names<'p> {
    /// Names every item of `plan`.
    pub(crate) fn of(plan: &'p Plan) -> Names<'p> {
        let names = PlanNames::of(plan);
        let mut skipped = Vec::new();
        let mut types = HashSet::new();

        let purposes = markers(
            plan.purposes.iter().map(|p| p.id.value.as_str()),
            &names.purposes,
            "purpose",
            &mut skipped,
        );
        let destinations = markers(
            plan.destinations.iter().map(|d| d.id.value.as_str()),
            &names.destinations,
            "destination",
            &mut skipped,
        );

        let mut events = Vec::new();
        let mut event_idents = Vec::new();
        for (event, event_names) in plan.events.iter().zip(&names.events) {
            let Some(ident) = ident(&event_names.struct_name) else {
                skipped.push(format!(
                    "event `{}`: `{}` is not an identifier",
                    event.id.value, event_names.struct_name
                ));
                event_idents.push(None);
                continue;
            };
            if !types.insert(ident.to_string()) {
                skipped.push(format!(
                    "event `{}`: the name `{ident}` is taken",
                    event.id.value
                ));
                event_idents.push(None);
                continue;
            }
            event_idents.push(Some(ident));
        }

        // Shared enums first (in `[properties]` order), then inline ones as events use them.
        let mut enums: Vec<EnumItem<'p>> = Vec::new();
        let mut shared_enum_index = vec![None; plan.properties.len()];
        for (i, (property, enum_names)) in
            plan.properties.iter().zip(&names.shared_enums).enumerate()
        {
            if let Some(enum_names) = enum_names {
                shared_enum_index[i] = push_enum(
                    &mut enums,
                    &mut types,
                    &mut skipped,
                    property,
                    property.id.value.clone(),
                    enum_names,
                );
            }
        }

        for ((event, event_names), event_ident) in
            plan.events.iter().zip(&names.events).zip(event_idents)
        {
            let Some(event_ident) = event_ident else {
                continue;
            };
            let mut field_names = HashSet::new();
            let mut fields = Vec::new();
            for (property, field_names_of) in event.properties.iter().zip(&event_names.fields) {
                let Some(field) = ident(&field_names_of.field) else {
                    skipped.push(format!(
                        "property `{}` of event `{}`: `{}` is not an identifier",
                        property.id.value, event.id.value, field_names_of.field
                    ));
                    continue;
                };
                if !field_names.insert(field.to_string()) {
                    skipped.push(format!(
                        "property `{}` of event `{}`: the field `{field}` is taken",
                        property.id.value, event.id.value
                    ));
                    continue;
                }
                let shared = property
                    .shared
                    .as_deref()
                    .and_then(|id| plan.properties.iter().position(|p| p.id.value == id));
                let enum_index = match (&field_names_of.enum_names, shared) {
                    (None, _) => None,
                    (Some(_), Some(i)) => shared_enum_index[i],
                    (Some(enum_names), None) => push_enum(
                        &mut enums,
                        &mut types,
                        &mut skipped,
                        property,
                        format!("{}.{}", event.id.value, property.id.value),
                        enum_names,
                    ),
                };
                if enum_values(&property.ty.value).is_some() && enum_index.is_none() {
                    skipped.push(format!(
                        "property `{}` of event `{}`: its enum type was left out",
                        property.id.value, event.id.value
                    ));
                    continue;
                }
                fields.push(FieldItem {
                    property,
                    ident: field,
                    enum_index,
                });
            }
            events.push(EventItem {
                event,
                ident: event_ident,
                fields,
            });
        }

        // Structs and enums of `[traits]`, `[groups]` and `[context]` live next to these too.
        let sections = names.groups.iter().map(|g| g.struct_name.as_str()).chain(
            names
                .traits
                .iter()
                .chain(names.groups.iter().flat_map(|g| &g.traits))
                .chain(&names.context)
                .filter_map(|f| f.enum_names.as_ref())
                .map(|e| e.type_name.as_str()),
        );
        let std = Std::for_module(types.iter().map(String::as_str).chain(sections));
        Names {
            purposes,
            destinations,
            events,
            enums,
            skipped,
            std,
        }
    }

    /// The markers of the purposes `ids` (an event's or a destination's), in order, leaving
    /// out any that does not exist or was not generated.
    pub(crate) fn purpose_markers(&self, plan: &Plan, ids: &[Spanned<String>]) -> Vec<&Ident> {
        ids.iter()
            .filter_map(|id| {
                let i = plan.purposes.iter().position(|p| p.id.value == id.value)?;
                self.purposes[i].as_ref()
            })
            .collect()
    }
}

fn markers<'a>(
    ids: impl Iterator<Item = &'a str>,
    names: &[String],
    what: &str,
    skipped: &mut Vec<String>,
) -> Vec<Option<Ident>> {
    let mut seen = HashSet::new();
    ids.zip(names)
        .map(|(id, name)| match ident(name) {
            Some(m) if seen.insert(m.to_string()) => Some(m),
            Some(m) => {
                skipped.push(format!("{what} `{id}`: the marker `{m}` is taken"));
                None
            }
            None => {
                skipped.push(format!("{what} `{id}`: `{name}` is not an identifier"));
                None
            }
        })
        .collect()
}

pub(crate) fn push_enum<'p>(
    enums: &mut Vec<EnumItem<'p>>,
    types: &mut HashSet<String>,
    skipped: &mut Vec<String>,
    property: &'p Property,
    key: String,
    enum_names: &EnumNames,
) -> Option<usize> {
    let Some(type_ident) = ident(&enum_names.type_name) else {
        skipped.push(format!(
            "enum of property `{key}`: `{}` is not an identifier",
            enum_names.type_name
        ));
        return None;
    };
    if !types.insert(type_ident.to_string()) {
        skipped.push(format!(
            "enum of property `{key}`: the name `{type_ident}` is taken"
        ));
        return None;
    }
    let values = enum_values(&property.ty.value).unwrap_or(&[]);
    let mut seen = HashSet::new();
    let mut variants = Vec::new();
    for (value, name) in values.iter().zip(&enum_names.variants) {
        match ident(name) {
            Some(v) if seen.insert(v.to_string()) => variants.push((v, value)),
            _ => skipped.push(format!(
                "value {} of property `{key}`: variant `{name}` is not an identifier or is taken",
                crate::doc::json(value)
            )),
        }
    }
    enums.push(EnumItem {
        ident: type_ident,
        key,
        property,
        variants,
    });
    Some(enums.len() - 1)
}
