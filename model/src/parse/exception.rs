//! `[[exceptions]]`: built-in baseline policies a plan lifts.

use super::*;

impl Parser {
    pub(super) fn exceptions(&mut self, top: &Table<'_, '_>) -> Vec<Exception> {
        let mut out = Vec::new();
        let tables = self.array_of_tables(
            top,
            "exceptions",
            "exception",
            EXCEPTION_KEYS,
            "write each lifted policy as its own [[exceptions]] table",
        );
        for t in tables {
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
