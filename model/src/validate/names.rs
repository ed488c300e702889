//! Checks that generated Rust names do not collide.

use super::*;

impl<'p> Validator<'p> {
    /// Naming collisions (naming.md): two ids whose generated Rust names are equal.
    pub(super) fn names(&mut self) {
        let plan = self.plan;
        let names = PlanNames::of(plan);
        let mut types: Namespace<'_, 'p> = HashMap::with_capacity(plan.events.len() + 1);
        types.insert("PLAN", (ItemName::PlanStatic, Span::default()));
        if !plan.traits.is_empty() {
            let what = ItemName::Generated(naming::PROFILE_STRUCT);
            types.insert(naming::PROFILE_STRUCT, (what, Span::default()));
        }
        if !plan.context.is_empty() {
            let what = ItemName::Generated(naming::CONTEXT_STRUCT);
            types.insert(naming::CONTEXT_STRUCT, (what, Span::default()));
        }
        for (e, n) in plan.events.iter().zip(&names.events) {
            self.claim(
                &mut types,
                &n.struct_name,
                ItemName::Event(&e.id.value),
                e.id.span,
                None,
            );
        }
        for (p, n) in plan.properties.iter().zip(&names.shared_enums) {
            if let Some(n) = n {
                let what = ItemName::EnumProperty {
                    id: &p.id.value,
                    event: None,
                };
                self.claim(&mut types, &n.type_name, what, p.id.span, None);
                self.variants(what, p, &n.variants);
            }
        }
        for (e, n) in plan.events.iter().zip(&names.events) {
            let mut fields: Namespace<'_, 'p> = HashMap::with_capacity(e.properties.len());
            for (p, f) in e.properties.iter().zip(&n.fields) {
                let what = ItemName::property(p, Some(e));
                self.claim(&mut fields, &f.field, what, p.id.span, None);
                if let (None, Some(en)) = (&p.shared, &f.enum_names) {
                    let what = ItemName::EnumProperty {
                        id: &p.id.value,
                        event: Some(&e.id.value),
                    };
                    self.claim(&mut types, &en.type_name, what, p.id.span, None);
                    self.variants(what, p, &en.variants);
                }
            }
        }
        self.section_names(&mut types, &names);
        let mut markers: Namespace<'_, 'p> = HashMap::with_capacity(plan.purposes.len());
        for (p, n) in plan.purposes.iter().zip(&names.purposes) {
            self.claim(
                &mut markers,
                n,
                ItemName::Purpose(&p.id.value),
                p.id.span,
                None,
            );
        }
        let mut markers: Namespace<'_, 'p> = HashMap::with_capacity(plan.destinations.len());
        for (d, n) in plan.destinations.iter().zip(&names.destinations) {
            self.claim(
                &mut markers,
                n,
                ItemName::Destination(&d.id.value),
                d.id.span,
                None,
            );
        }
    }

    /// The structs and enums of `[traits]`, `[groups]` and `[context]`, and the builder
    /// methods of each update struct.
    fn section_names<'n>(&mut self, types: &mut Namespace<'n, 'p>, names: &'n PlanNames) {
        let plan = self.plan;
        for (g, n) in plan.groups.iter().zip(&names.groups) {
            self.claim(
                types,
                &n.struct_name,
                ItemName::Group(&g.id.value),
                g.id.span,
                None,
            );
        }
        let lists = std::iter::once((None, &plan.traits, &names.traits)).chain(
            plan.groups
                .iter()
                .zip(&names.groups)
                .map(|(g, n)| (Some(g.id.value.as_str()), &g.traits, &n.traits)),
        );
        for (group, traits, fields) in lists {
            let mut methods: HashMap<String, (ItemName<'p>, Span)> = HashMap::new();
            for (t, f) in traits.iter().zip(fields) {
                let what = ItemName::Trait {
                    id: &t.id.value,
                    group,
                };
                if let Some(en) = &f.enum_names {
                    self.claim(types, &en.type_name, what, t.id.span, None);
                    self.variants(what, t, &en.variants);
                }
                let shape = naming::trait_shape(&t.ty.value);
                for (op, method) in naming::TRAIT_OPS
                    .iter()
                    .zip(naming::trait_methods(&t.id.value))
                {
                    if !op.fits(shape) {
                        continue;
                    }
                    match methods.get(&method) {
                        Some((first, first_span)) if *first != what => {
                            let d = Diagnostic::error(
                                "name-collision",
                                format!("{first} and {what} both generate the method `{method}`"),
                            )
                            .at(t.id.span)
                            .with_label(format!("generates `{method}`"))
                            .with_secondary(*first_span, format!("{first} generates `{method}` too"))
                            .with_help("rename one of them (an update has one method per trait and operation: `set_<id>`, `set_once_<id>`, `add_<id>`, `union_<id>`, `remove_<id>`, `unset_<id>`)");
                            self.push(d);
                        }
                        Some(_) => {}
                        None => {
                            methods.insert(method, (what, t.id.span));
                        }
                    }
                }
            }
        }
        for (c, f) in plan.context.iter().zip(&names.context) {
            if let Some(en) = &f.enum_names {
                let what = ItemName::Context(&c.property.id.value);
                self.claim(types, &en.type_name, what, c.property.id.span, None);
                self.variants(what, &c.property, &en.variants);
            }
        }
    }

    pub(super) fn variants(&mut self, what: ItemName<'p>, p: &'p Property, variants: &[String]) {
        let Some(values) = naming::enum_values(&p.ty.value) else {
            return;
        };
        let mut seen: Namespace<'_, 'p> = HashMap::with_capacity(values.len());
        for (v, name) in values.iter().zip(variants) {
            self.claim(
                &mut seen,
                name,
                ItemName::Value(&v.value),
                v.span,
                Some(what),
            );
        }
    }

    /// Registers a generated name; reports a collision with an earlier claimant. A claimant
    /// equal to the earlier one is a duplicate id or value, reported elsewhere. `scope` names
    /// the enum of a variant.
    pub(super) fn claim<'n>(
        &mut self,
        namespace: &mut Namespace<'n, 'p>,
        name: &'n str,
        what: ItemName<'p>,
        span: Span,
        scope: Option<ItemName<'p>>,
    ) {
        match namespace.get(name) {
            Some((first, _)) if *first == what => {}
            Some((first, first_span)) => {
                let message = match scope {
                    Some(scope) => format!(
                        "{first} and {what} of {scope} both generate the variant name `{name}`"
                    ),
                    None => format!("{first} and {what} both generate the Rust name `{name}`"),
                };
                let mut d = Diagnostic::error("name-collision", message)
                    .at(span)
                    .with_label(format!("generates `{name}`"))
                    .with_help(
                        "rename one of them (generated names follow the rule in the `naming` docs)",
                    );
                if *first_span != Span::default() {
                    d = d.with_secondary(*first_span, format!("{first} generates `{name}` too"));
                }
                self.push(d);
            }
            None => {
                namespace.insert(name, (what, span));
            }
        }
    }
}
