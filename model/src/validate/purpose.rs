//! Checks on purposes and their data uses and taxonomy categories.

use super::*;

impl<'p> Validator<'p> {
    pub(super) fn purposes(&mut self) {
        let plan = self.plan;
        for (i, p) in plan.purposes.iter().enumerate() {
            self.id("purpose", &p.id);
            if let Some(first) = self.purposes.insert(&p.id.value, p) {
                self.purposes.insert(&first.id.value, first);
                self.duplicate("purpose", &p.id, first.id.span);
            }
            if i == MAX_PURPOSES {
                self.push(
                    Diagnostic::error(
                        "too-many-purposes",
                        format!(
                            "purpose `{}` is purpose number {}; a plan may declare at most {MAX_PURPOSES}",
                            p.id.value,
                            i + 1
                        ),
                    )
                    .at(p.id.span)
                    .with_help("merge purposes that share a legal basis and data use"),
                );
            }
            if p.description.value.trim().is_empty()
                && !self.incomplete.has(p.id.span, "description")
            {
                self.push(
                    Diagnostic::error(
                        "empty-description",
                        format!("purpose `{}` has an empty description", p.id.value),
                    )
                    .at(p.description.span)
                    .with_label("end users read this on consent screens")
                    .with_help("say in one sentence what the data is used for"),
                );
            }
            if !self.incomplete.has(p.id.span, "data_use") {
                let what = ItemName::Purpose(&p.id.value);
                self.data_use(what, &p.data_use);
            }
        }
    }

    pub(super) fn data_use(&mut self, what: ItemName<'_>, key: &Spanned<String>) {
        match self.taxonomy.data_use(&key.value) {
            Some(k) => {
                if let Some(version) = &k.deprecated {
                    let mut d = Diagnostic::warning(
                        "deprecated-key",
                        format!(
                            "data use `{}` of {what} is deprecated since fideslang {version}",
                            key.value
                        ),
                    )
                    .at(key.span)
                    .with_label("deprecated");
                    d.help = k.replaced_by.as_ref().map(|r| format!("use `{r}` instead"));
                    self.push(d);
                }
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-data-use",
                    format!("data use `{}` of {what} is not in the taxonomy", key.value),
                )
                .at(key.span)
                .with_label("unknown data use");
                d.help = did_you_mean(
                    &key.value,
                    self.taxonomy.data_uses().map(|k| k.key.as_str()),
                )
                .or_else(|| Some(root_help(self.taxonomy.data_uses().map(|k| k.key.as_str()))));
                self.push(d);
            }
        }
    }

    /// Checks a category key exists; returns whether it does.
    pub(super) fn category(&mut self, what: ItemName<'_>, key: &Spanned<String>) -> bool {
        if self.incomplete.categories.contains(&key.value) {
            return false;
        }
        match self.taxonomy.category(&key.value) {
            Some(k) => {
                if let Some(version) = &k.deprecated {
                    let mut d = Diagnostic::warning(
                        "deprecated-key",
                        format!(
                            "data category `{}` of {what} is deprecated since fideslang {version}",
                            key.value
                        ),
                    )
                    .at(key.span)
                    .with_label("deprecated");
                    d.help = k.replaced_by.as_ref().map(|r| format!("use `{r}` instead"));
                    self.push(d);
                }
                true
            }
            None => {
                let mut d = Diagnostic::error(
                    "unknown-category",
                    format!(
                        "data category `{}` of {what} is not in the taxonomy",
                        key.value
                    ),
                )
                .at(key.span)
                .with_label("unknown data category");
                d.help = did_you_mean(
                    &key.value,
                    self.taxonomy.categories().map(|k| k.key.as_str()),
                )
                .or_else(|| {
                    Some(format!(
                        "{}; a plan may add categories with [taxonomy.categories.\"<key>\"]",
                        root_help(self.taxonomy.categories().map(|k| k.key.as_str()))
                    ))
                });
                self.push(d);
                false
            }
        }
    }

    /// Checks references to purposes (`purposes = [...]` lists).
    pub(super) fn purpose_refs(
        &mut self,
        what: ItemName<'_>,
        purposes: &Spanned<Vec<Spanned<String>>>,
    ) {
        for p in &purposes.value {
            if self.purposes.contains_key(p.value.as_str()) {
                continue;
            }
            let mut d = Diagnostic::error(
                "unknown-purpose",
                format!(
                    "{what} names purpose `{}`, which the plan does not declare",
                    p.value
                ),
            )
            .at(p.span)
            .with_label("unknown purpose");
            d.help = did_you_mean(
                &p.value,
                self.plan.purposes.iter().map(|p| p.id.value.as_str()),
            )
            .or_else(|| Some(format!("declare it in [purposes.{}]", p.value)));
            self.push(d);
        }
    }
}
