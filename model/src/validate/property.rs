//! Checks on a property's own definition: name, type, protection, transform, constraints.

use super::*;

impl<'p> Validator<'p> {
    pub(super) fn shared_properties(&mut self) {
        let plan = self.plan;
        for p in &plan.properties {
            self.id("property", &p.id);
            if let Some(first) = self.shared.insert(&p.id.value, p) {
                self.shared.insert(&first.id.value, first);
                self.duplicate("property", &p.id, first.id.span);
            }
            self.definition(p, None);
        }
    }

    /// Checks that depend only on a property's own definition.
    pub(super) fn definition(&mut self, p: &Property, event: Option<&Event>) {
        let what = ItemName::property(p, event);
        if !self.unknown(p, "name") {
            self.property_name(what, &p.name);
        }
        self.definition_as(what, p);
    }

    /// [`definition`](Self::definition) without the wire-name check, for items whose names
    /// follow their own rule (traits may use Mixpanel's profile names).
    pub(super) fn definition_as(&mut self, what: ItemName<'_>, p: &Property) {
        self.property_type(what, &p.ty);
        if let Some(purposes) = &p.purposes {
            self.purpose_refs(what, purposes);
        }
        let category_known = match &p.category {
            Some(c) => self.category(what, c),
            None => false,
        };
        if category_known
            && !self.unknown(p, "sensitivity")
            && let Some(c) = &p.category
        {
            self.category_sensitivity(what, p, c);
        }
        if !self.unknown(p, "sensitivity") {
            self.protection(what, p);
        }
        if !self.unknown(p, "type") {
            if !self.unknown(p, "transform") {
                self.transform(what, p);
            }
            self.constraints(what, p);
        }
    }

    pub(super) fn property_name(&mut self, what: ItemName<'_>, name: &Spanned<String>) {
        self.wire_name(what, name);
        let reserved = trackplan_vocab::is_reserved_name(&name.value);
        if reserved {
            self.push(
                Diagnostic::error(
                    "reserved-name",
                    format!(
                        "{what} has the wire name `{}`, which destinations reserve",
                        name.value
                    ),
                )
                .at(name.span)
                .with_label("reserved by Mixpanel/Segment")
                .with_help(
                    "`time`, `distinct_id`, `$insert_id`, `token` and names starting with `$` or `mp_` are set by trackplan or the destination; choose another `name`",
                ),
            );
        }
    }

    pub(super) fn property_type(&mut self, what: ItemName<'_>, ty: &Spanned<PropertyType>) {
        let Some(values) = naming::enum_values(&ty.value) else {
            return;
        };
        if values.is_empty() {
            self.push(
                Diagnostic::error(
                    "enum-without-values",
                    format!("{what} is an enum without values"),
                )
                .at(ty.span)
                .with_label("no values")
                .with_help("add `values = [\"…\", …]` with the values sent on the wire"),
            );
        }
        let mut seen: HashMap<&str, Span> = HashMap::with_capacity(values.len());
        for v in values {
            if v.value.is_empty() {
                self.push(
                    Diagnostic::error("empty-name", format!("{what} has an empty enum value"))
                        .at(v.span)
                        .with_label("empty"),
                );
            }
            if let Some(&first) = seen.get(v.value.as_str()) {
                self.push(
                    Diagnostic::error(
                        "duplicate-wire-name",
                        format!(
                            "{what} lists the value \"{}\" twice",
                            v.value.escape_debug()
                        ),
                    )
                    .at(v.span)
                    .with_label("listed again here")
                    .with_secondary(first, "first listed here"),
                );
            } else {
                seen.insert(&v.value, v.span);
            }
        }
    }

    /// Rule 8: categories and sensitivity agree.
    pub(super) fn category_sensitivity(
        &mut self,
        what: ItemName<'_>,
        p: &Property,
        category: &Spanned<String>,
    ) {
        if let Some(ground) = self.taxonomy.special_ground(&category.value) {
            if p.sensitivity.value < Sensitivity::Special {
                self.push(
                    Diagnostic::error(
                        "sensitivity-too-low",
                        format!(
                            "{what} has category `{}`, {ground}, but sensitivity `{}`",
                            category.value,
                            p.sensitivity.value.key()
                        ),
                    )
                    .at(p.sensitivity.span)
                    .with_label("must be `special`")
                    .with_secondary(category.span, "special category")
                    .with_help("set `sensitivity = \"special\"` (and give `special_basis`), or correct the category"),
                );
            }
        } else if self.taxonomy.is_personal(&category.value)
            && p.sensitivity.value < Sensitivity::Personal
        {
            self.push(
                Diagnostic::error(
                    "sensitivity-too-low",
                    format!(
                        "{what} has category `{}`, which is personal data, but sensitivity `{}`",
                        category.value,
                        p.sensitivity.value.key()
                    ),
                )
                .at(p.sensitivity.span)
                .with_label("must be at least `personal`")
                .with_secondary(category.span, "a `user.*` category")
                .with_help("set `sensitivity = \"personal\"`, or correct the category"),
            );
        }
    }

    /// Rules 5 and 6 (the parts that need no event): category, transform or justification,
    /// special basis.
    pub(super) fn protection(&mut self, what: ItemName<'_>, p: &Property) {
        let sensitivity = p.sensitivity.value;
        if sensitivity >= Sensitivity::Personal {
            if p.category.is_none() && !self.unknown(p, "category") {
                self.push(
                    Diagnostic::error(
                        "missing-category",
                        format!(
                            "{what} is `{}` data without a `category`",
                            sensitivity.key()
                        ),
                    )
                    .at(p.span)
                    .with_label("needs `category`")
                    .with_secondary(p.sensitivity.span, "sensitivity set here")
                    .with_help(
                        "add the fideslang data category, e.g. `category = \"user.contact.email\"`",
                    ),
                );
            }
            let justified = p
                .justification
                .as_ref()
                .is_some_and(|j| !j.value.trim().is_empty());
            if p.transform.value == Transform::None
                && !justified
                && !self.unknown(p, "transform")
                && !self.unknown(p, "justification")
            {
                self.push(
                    Diagnostic::error(
                        "unprotected-personal-data",
                        format!(
                            "{what} is `{}` data sent without a transform or a justification",
                            sensitivity.key()
                        ),
                    )
                    .at(p.transform.span)
                    .with_label("sent as is")
                    .with_help("pseudonymize or minimize it (`transform = \"hmac\"`, `\"truncate_ip\"`, `\"bucket\"`, `\"redact\"`, …), or set `transform = \"none\"` with `justification = \"…\"`"),
                );
            }
        }
        match (&p.special_basis, sensitivity == Sensitivity::Special) {
            (None, true) if !self.unknown(p, "special_basis") => self.push(
                Diagnostic::error(
                    "missing-special-basis",
                    format!("{what} is special-category data without a `special_basis`"),
                )
                .at(p.sensitivity.span)
                .with_label("special data needs a GDPR Art. 9(2) ground")
                .with_help(format!(
                    "add `special_basis = \"explicit_consent\"` (one of {})",
                    list(SPECIAL_BASES)
                )),
            ),
            (Some(basis), true) => {
                if !SPECIAL_BASES.contains(&basis.value.as_str()) {
                    let help = did_you_mean(&basis.value, SPECIAL_BASES.iter().copied())
                        .unwrap_or_else(|| {
                            format!("`special_basis` is one of {}", list(SPECIAL_BASES))
                        });
                    self.push(
                        Diagnostic::error(
                            "invalid-special-basis",
                            format!(
                                "`{}` is not a GDPR Art. 9(2) ground (special_basis of {what})",
                                basis.value
                            ),
                        )
                        .at(basis.span)
                        .with_label("unknown ground")
                        .with_help(help),
                    );
                }
            }
            // With a special category the sensitivity is what is wrong, reported by rule 8.
            (Some(basis), false)
                if !p
                    .category
                    .as_ref()
                    .is_some_and(|c| self.taxonomy.is_special(&c.value)) =>
            {
                self.push(
                Diagnostic::warning(
                    "unused-special-basis",
                    format!(
                        "{what} has a `special_basis` but sensitivity `{}`",
                        sensitivity.key()
                    ),
                )
                .at(basis.span)
                .with_label("only used for `special` data")
                .with_help("remove `special_basis`, or set `sensitivity = \"special\"` if this is special-category data"),
                );
            }
            (Some(_), false) | (None, _) => {}
        }
    }

    pub(super) fn transform(&mut self, what: ItemName<'_>, p: &Property) {
        let ty = &p.ty.value;
        let needs = match &p.transform.value {
            Transform::None | Transform::Redact => return,
            Transform::Hmac | Transform::TruncateIp | Transform::StripQuery => {
                if matches!(ty, PropertyType::String) {
                    return;
                }
                "a `string`"
            }
            Transform::Coarsen { .. } => {
                if matches!(ty, PropertyType::Timestamp) {
                    return;
                }
                "a `timestamp`"
            }
            Transform::Bucket { buckets } => {
                if matches!(ty, PropertyType::Integer | PropertyType::Number) {
                    self.buckets(what, p, buckets);
                    return;
                }
                "an `integer` or `number`"
            }
        };
        self.push(
            Diagnostic::error(
                "transform-type-mismatch",
                format!(
                    "{what} uses transform `{}`, which needs {needs}, but its type is `{}`",
                    p.transform.value.key(),
                    ty.key()
                ),
            )
            .at(p.transform.span)
            .with_label(format!("needs {needs}"))
            .with_secondary(p.ty.span, "type set here"),
        );
    }

    pub(super) fn buckets(&mut self, what: ItemName<'_>, p: &Property, buckets: &[f64]) {
        let problem = if buckets.is_empty() {
            Some("has no bounds".to_owned())
        } else if buckets.windows(2).any(|w| w[0] >= w[1]) {
            Some("must be strictly ascending".to_owned())
        } else if matches!(p.ty.value, PropertyType::Integer)
            && buckets.iter().any(|b| b.fract() != 0.0)
        {
            Some("must be whole numbers for an `integer` property".to_owned())
        } else {
            None
        };
        if let Some(problem) = problem {
            self.push(
                Diagnostic::error("invalid-buckets", format!("`buckets` of {what} {problem}"))
                    .at(p.transform.span)
                    .with_label("bucket transform")
                    .with_help("list ascending bounds, e.g. `buckets = [18, 25, 35, 50, 65]`"),
            );
        }
    }

    pub(super) fn constraints(&mut self, what: ItemName<'_>, p: &Property) {
        let c = &p.constraints;
        let ty = &p.ty.value;
        if let Some(max_length) = &c.max_length
            && !matches!(ty, PropertyType::String)
        {
            self.push(
                Diagnostic::error(
                    "constraint-type-mismatch",
                    format!(
                        "`max_length` of {what} applies to strings, but its type is `{}`",
                        ty.key()
                    ),
                )
                .at(max_length.span)
                .with_label("only for `type = \"string\"`")
                .with_secondary(p.ty.span, "type set here"),
            );
        }
        for (key, bound) in [("min", &c.min), ("max", &c.max)] {
            if let Some(bound) = bound
                && !matches!(ty, PropertyType::Integer | PropertyType::Number)
            {
                self.push(
                    Diagnostic::error(
                        "constraint-type-mismatch",
                        format!(
                            "`{key}` of {what} applies to numbers, but its type is `{}`",
                            ty.key()
                        ),
                    )
                    .at(bound.span)
                    .with_label("only for `integer` and `number`")
                    .with_secondary(p.ty.span, "type set here"),
                );
            }
        }
        if let (Some(min), Some(max)) = (&c.min, &c.max)
            && min.value > max.value
        {
            self.push(
                Diagnostic::error(
                    "invalid-constraint",
                    format!("{what} has `min` {} above `max` {}", min.value, max.value),
                )
                .at(min.span)
                .with_secondary(max.span, "max"),
            );
        }
    }
}
