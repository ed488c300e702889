//! `[[policies]]` deny rules.

use super::*;

impl Parser {
    pub(super) fn policies(&mut self, top: &Table<'_, '_>) -> Vec<Policy> {
        let mut out = Vec::new();
        let tables = self.array_of_tables(
            top,
            "policies",
            "policy",
            POLICY_KEYS,
            "write each rule as its own [[policies]] table",
        );
        for t in tables {
            let name = self.string(&t, "name");
            let name = self.require(&t, "name", name, "\"no health data for marketing\"");
            let what = match &name {
                Some(n) => format!("policy \"{}\"", n.value),
                None => t.what.clone(),
            };
            let deny = match t.get("deny") {
                Some((_, d)) => self.open(d, format!("`deny` of {what}"), DENY_KEYS),
                None => {
                    self.require::<()>(&t, "deny", Got::Absent, "{ categories = [\"user.health_and_medical\"], data_uses = [\"marketing\"] }");
                    None
                }
            };
            let Some(deny) = deny else { continue };
            let categories = self.rule_set(&deny, "categories", "[\"user.health_and_medical\"]");
            let data_uses = self.rule_set(&deny, "data_uses", "[\"marketing\"]");
            if let (Some(name), Some(categories), Some(data_uses)) = (name, categories, data_uses) {
                out.push(Policy {
                    name,
                    categories,
                    data_uses,
                    span: t.span,
                });
            }
        }
        out
    }

    /// One dimension of a deny rule: an array of keys, or `{ values = [...], matches = "…" }`.
    pub(super) fn rule_set(
        &mut self,
        deny: &Table<'_, '_>,
        key: &str,
        example: &str,
    ) -> Option<RuleSet> {
        let Some((_, v)) = deny.get(key) else {
            self.require::<()>(deny, key, Got::Absent, example);
            return None;
        };
        match v.get_ref() {
            DeValue::Array(_) => {
                let values = self.strings(deny, key).ok()?;
                Some(RuleSet {
                    values: values.value,
                    matches: Spanned::new(Match::Any, values.span),
                })
            }
            DeValue::Table(_) => {
                let t = self.open(v, format!("`{key}` of {}", deny.what), RULE_KEYS)?;
                let values = self.strings(&t, "values");
                let values = self.require(&t, "values", values, example);
                let matches = match self.keyword(&t, "matches", MATCHES) {
                    Got::Value(m) => m,
                    Got::Absent => Spanned::new(Match::Any, t.span),
                    Got::Invalid => return None,
                };
                Some(RuleSet {
                    values: values?.value,
                    matches,
                })
            }
            _ => {
                self.wrong_kind(
                    deny,
                    key,
                    v,
                    "an array of keys or a table `{ values = [...], matches = \"any\" }`",
                );
                None
            }
        }
    }
}
