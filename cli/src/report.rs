//! `trackplan diff` output: the review report (Markdown) and its JSON form.
//!
//! The Markdown is written for a privacy or product reviewer who does not read Rust: a verdict
//! line, a summary table sorted by impact, then one section per change with the reason, the
//! values before and after, and where it is in the plan file.

use std::fmt::Write as _;
use trackplan_model::diff::{Change, ChangeKind, ChangeValue, Impact, PlanDiff};

/// The version of the JSON layout; bumped when a field changes meaning or disappears.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// The report as Markdown.
pub fn markdown(diff: &PlanDiff, base_label: &str, head_label: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "## Tracking plan review: `{}` v{} → `{}` v{}\n",
        diff.base.name, diff.base.version, diff.head.name, diff.head.version
    );
    let _ = writeln!(
        out,
        "Comparing `{}` (before) with `{}` (after).\n",
        code(base_label),
        code(head_label)
    );
    if diff.changes.is_empty() {
        out.push_str("No changes: both plans declare the same data, purposes and recipients.\n");
        return out;
    }

    out.push_str(&verdict(diff));
    out.push('\n');

    let order = ordered(diff);
    out.push_str(
        "\n### Summary\n\n| # | Impact | Change | What | Breaking |\n|---|---|---|---|---|\n",
    );
    for (n, c) in order.iter().enumerate() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            n + 1,
            badge(c),
            c.kind.title(),
            cell(&c.subject.to_string()),
            if c.breaking { "**yes**" } else { "" }
        );
    }

    out.push_str("\n### Details\n");
    for (n, c) in order.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n#### {}. {}: {}\n",
            n + 1,
            c.kind.title(),
            text(&c.subject.to_string())
        );
        let _ = writeln!(
            out,
            "**{}.** {}{}\n",
            verdict_label(c),
            text(&capitalize(&c.reason)),
            if c.breaking {
                " **Breaking** for consumers of the data."
            } else {
                ""
            }
        );
        let prose = c.kind == ChangeKind::NoticeTextChanged;
        if let Some(b) = &c.before {
            let _ = writeln!(out, "- Before: {}", value(b, prose));
        }
        if let Some(a) = &c.after {
            let _ = writeln!(out, "- After: {}", value(a, prose));
        }
        for note in &c.notes {
            let _ = writeln!(out, "- {}", text(&capitalize(note)));
        }
        let _ = writeln!(out, "- In the plan: `{}`", code(&c.subject.path()));
    }

    out.push_str(LEGEND);
    out
}

const LEGEND: &str = "
<details><summary>What the impact levels mean</summary>

- 🔴 **high**: more personal data, new purposes that sell, share or market, a new third-party \
recipient, or less protection. Needs sign-off from whoever is responsible for privacy.
- 🟠 **needs review**: a change to what is collected, why, or for how long that someone should \
confirm.
- 🟢 **low**: less data, more protection, or a change worth a glance.
- ⚪ **none**: no effect on personal data (it may still break reports).

**Breaking** means a consumer of the data (a dashboard, a warehouse query, a schema registry) \
that worked before can stop working. A breaking change needs a higher `[plan] version`.
</details>
";

fn verdict(diff: &PlanDiff) -> String {
    let high = diff.count(Impact::High);
    let review = diff.count(Impact::NeedsReview);
    let breaking = diff.changes.iter().filter(|c| c.breaking).count();
    let mut parts = Vec::new();
    if high + review > 0 {
        parts.push(format!(
            "**{} change{} need{} a privacy review** ({high} high, {review} needs review)",
            high + review,
            plural(high + review),
            if high + review == 1 { "s" } else { "" }
        ));
    } else {
        parts.push("No change needs a privacy review".to_owned());
    }
    parts.push(format!("{breaking} breaking change{}", plural(breaking)));
    if diff.version_not_bumped() {
        parts.push(format!(
            "⚠️ **version not bumped** (still {})",
            diff.head.version
        ));
    }
    format!(
        "{} · {} change{} in total.",
        parts.join(" · "),
        diff.changes.len(),
        plural(diff.changes.len())
    )
}

/// The version check first (it decides whether CI passes), then by impact, highest first;
/// within one impact, plan order.
fn ordered(diff: &PlanDiff) -> Vec<&Change> {
    let mut order: Vec<&Change> = diff.changes.iter().collect();
    order.sort_by_key(|c| {
        (
            c.kind != ChangeKind::VersionNotBumped,
            std::cmp::Reverse(c.impact),
        )
    });
    order
}

/// A before/after value: plan keys and short values as code, so `legitimate_interest` reads as
/// written in the plan; lists as comma-separated code; prose (notice text) and long values as
/// text.
fn value(v: &ChangeValue, prose: bool) -> String {
    match v {
        ChangeValue::Nothing => "*none*".to_owned(),
        ChangeValue::Bool(b) => format!("`{b}`"),
        ChangeValue::Number(n) => format!("`{n}`"),
        ChangeValue::List(items) if items.is_empty() => "*none*".to_owned(),
        ChangeValue::List(items) => items
            .iter()
            .map(|i| format!("`{}`", code(i)))
            .collect::<Vec<_>>()
            .join(", "),
        ChangeValue::Text(s) if prose || s.chars().count() > 80 => text(s),
        ChangeValue::Text(s) => format!("`{}`", code(s)),
    }
}

/// The summary table's first column. The version check is no privacy matter (its impact is
/// none) but CI fails on it, so both the table and the details call it "action needed".
fn badge(c: &Change) -> &'static str {
    if c.kind == ChangeKind::VersionNotBumped {
        "⚠️ action needed"
    } else {
        impact_badge(c.impact)
    }
}

/// The details' opening words, agreeing with [`badge`].
fn verdict_label(c: &Change) -> String {
    if c.kind == ChangeKind::VersionNotBumped {
        "⚠️ Action needed".to_owned()
    } else {
        format!("Impact: {}", c.impact.label())
    }
}

fn impact_badge(i: Impact) -> &'static str {
    match i {
        Impact::High => "🔴 high",
        Impact::NeedsReview => "🟠 needs review",
        Impact::Low => "🟢 low",
        Impact::None => "⚪ none",
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map_or_else(String::new, |f| {
        f.to_uppercase().collect::<String>() + c.as_str()
    })
}

/// Text made safe for Markdown prose and table cells: no HTML, no line breaks, no accidental
/// emphasis or table breaks. Backtick code spans (ids in our own phrases) are kept as code
/// spans; an unpaired backtick is escaped.
fn text(s: &str) -> String {
    let parts: Vec<&str> = s.split('`').collect();
    let paired = parts.len() % 2 == 1;
    let mut out = String::with_capacity(s.len());
    for (i, part) in parts.iter().enumerate() {
        let in_code = i % 2 == 1 && (paired || i + 1 < parts.len());
        if i > 0 {
            let opening_or_closing = paired || i + 1 < parts.len() || i % 2 == 0;
            out.push_str(if opening_or_closing { "`" } else { "\\`" });
        }
        if in_code {
            // Code spans show text literally; only a line break or `|` can break a table row.
            out.push_str(&part.replace(['\n', '\r', '\t'], " ").replace('|', "\\|"));
        } else {
            escape_prose(part, &mut out);
        }
    }
    out
}

fn escape_prose(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '*' | '_' | '[' | ']' | '#' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            _ => out.push(c),
        }
    }
}

/// A table cell: like [`text`] (which already escapes `|`).
fn cell(s: &str) -> String {
    text(s)
}

/// Text inside a code span: backticks would end it, line breaks would break the table.
fn code(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '`' => '\'',
            '\n' | '\r' | '\t' => ' ',
            c => c,
        })
        .collect()
}

/// The report as JSON: `{format_version, base, head, summary, changes}`; each change also
/// carries `path`, where it is in the plan file (`events.login_failed.properties.email`).
pub fn json(diff: &PlanDiff) -> serde_json::Value {
    let by_impact = |i| serde_json::Value::from(diff.count(i));
    let changes: Vec<serde_json::Value> = diff
        .changes
        .iter()
        .map(|c| {
            // Plain data with string keys: serializing to a Value cannot fail.
            let mut v = serde_json::to_value(c).unwrap_or_default();
            if let Some(m) = v.as_object_mut() {
                m.insert("path".into(), c.subject.path().into());
            }
            v
        })
        .collect();
    serde_json::json!({
        "format_version": JSON_FORMAT_VERSION,
        "base": diff.base,
        "head": diff.head,
        "summary": {
            "changes": diff.changes.len(),
            "breaking": diff.changes.iter().filter(|c| c.breaking).count(),
            "version_not_bumped": diff.version_not_bumped(),
            "max_impact": diff.max_impact(),
            "by_impact": {
                "high": by_impact(Impact::High),
                "needs_review": by_impact(Impact::NeedsReview),
                "low": by_impact(Impact::Low),
                "none": by_impact(Impact::None),
            },
        },
        "changes": changes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_text_cannot_inject_markdown_or_html() {
        assert_eq!(
            text("A|B <script>*x*</script>\nnext"),
            "A\\|B &lt;script&gt;\\*x\\*&lt;/script&gt; next"
        );
        assert_eq!(code("a`b"), "a'b");
        assert_eq!(text("for `product_analytics`"), "for `product_analytics`");
        assert_eq!(text("odd ` tick_x"), "odd \\` tick\\_x");
    }
}
