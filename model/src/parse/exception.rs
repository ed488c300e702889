//! `[[exceptions]]`: built-in baseline policies a plan lifts.

use super::*;

impl Parser {
    pub(super) fn exceptions(&mut self, top: &Table<'_, '_>) -> Vec<Exception> {
        let mut out = Vec::new();
        let Some((_, v)) = top.get("exceptions") else {
            return out;
        };
        let DeValue::Array(items) = v.get_ref() else {
            self.error(
                Diagnostic::error(
                    "wrong-kind",
                    format!(
                        "`exceptions` must be an array of tables, found {}",
                        kind_name(v.get_ref())
                    ),
                )
                .at(span_of(v))
                .with_help("write each lifted policy as its own [[exceptions]] table"),
            );
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            let Some(t) = self.open(item, format!("exception #{}", i + 1), EXCEPTION_KEYS) else {
                continue;
            };
            let policy = self.string(&t, "policy");
            let policy = self.require(&t, "policy", policy, "\"special-category-marketing\"");
            let justification = self.string(&t, "justification");
            let justification = self.require(
                &t,
                "justification",
                justification,
                "\"why this is lawful, and who reviewed it\"",
            );
            if let (Some(policy), Some(justification)) = (policy, justification) {
                out.push(Exception {
                    policy,
                    justification,
                    span: t.span,
                });
            }
        }
        out
    }
}
