//! Showing the model's diagnostics: rustc-style snippets for people, JSON for tools.
//!
//! The text carries the same content as `Diagnostic::render` (what the macros print): code,
//! message, `file:line:col`, the source with the span underlined and labelled, secondary
//! locations and the help line. The CLI draws it with `annotate-snippets` (the renderer rustc
//! uses), in colour only on a terminal without `NO_COLOR`.

use annotate_snippets::{AnnotationKind, Group, Level, Origin, Renderer, Snippet};
use serde_json::{Value, json};
use std::io::IsTerminal as _;
use trackplan_model::{Diagnostic, Severity, SourceFile, Span};

/// The version of the JSON layout of `check --format json`.
pub const JSON_FORMAT_VERSION: u32 = 1;

/// When to use colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// On a terminal, unless `NO_COLOR` is set or `TERM=dumb`.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

impl ColorChoice {
    /// Whether to colour what goes to standard error.
    pub fn for_stderr(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stderr().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::env::var("TERM").map_or(true, |t| t != "dumb")
            }
        }
    }
}

/// A byte range that is safe to slice `text` with.
fn clamp(text: &str, span: Span) -> std::ops::Range<usize> {
    let fix = |mut i: usize| {
        i = i.min(text.len());
        while !text.is_char_boundary(i) {
            i -= 1;
        }
        i
    };
    let start = fix(span.start);
    let end = fix(span.end.max(span.start));
    start..end
}

/// One diagnostic as text, like rustc prints it.
pub fn render(d: &Diagnostic, src: &SourceFile, color: bool) -> String {
    let level = match d.severity {
        Severity::Error => Level::ERROR,
        Severity::Warning => Level::WARNING,
    };
    let title = level.primary_title(d.message.as_str()).id(d.code);
    let mut group: Group<'_> = match d.span {
        Some(span) => {
            let mut snippet = Snippet::source(src.text.as_str())
                .path(src.name.as_str())
                .annotation(
                    AnnotationKind::Primary
                        .span(clamp(&src.text, span))
                        .label(d.label.as_deref()),
                );
            for l in &d.secondary {
                snippet = snippet.annotation(
                    AnnotationKind::Context
                        .span(clamp(&src.text, l.span))
                        .label(l.message.as_str()),
                );
            }
            title.element(snippet)
        }
        None => title.element(Origin::path(src.name.as_str())),
    };
    if let Some(help) = &d.help {
        group = group.element(Level::HELP.message(help.as_str()));
    }
    let renderer = if color {
        Renderer::styled()
    } else {
        Renderer::plain()
    };
    renderer.render(&[group])
}

/// The closing line: `error: plans/x.toml has 2 errors and 1 warning`.
pub fn summary(name: &str, diagnostics: &[Diagnostic]) -> String {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let warnings = diagnostics.len() - errors;
    let count = |n: usize, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
    if errors > 0 {
        format!(
            "error: {name} has {} and {}",
            count(errors, "error"),
            count(warnings, "warning")
        )
    } else if warnings > 0 {
        format!("{name} is valid, with {}", count(warnings, "warning"))
    } else {
        format!("{name} is valid")
    }
}

/// `check --format json`: stable fields for tools.
pub fn json(src: &SourceFile, diagnostics: &[Diagnostic]) -> Value {
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let position = |offset: usize| {
        let (line, column) = src.line_col(offset);
        json!({ "line": line, "column": column })
    };
    let items: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            json!({
                "severity": match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                },
                "code": d.code,
                "message": d.message,
                "file": src.name,
                "start": d.span.map(|s| position(s.start)),
                "end": d.span.map(|s| position(s.end)),
                "label": d.label,
                "help": d.help,
                "secondary": d.secondary.iter().map(|l| json!({
                    "message": l.message,
                    "start": position(l.span.start),
                    "end": position(l.span.end),
                })).collect::<Vec<_>>(),
                "rendered": d.render(src),
            })
        })
        .collect();
    json!({
        "format_version": JSON_FORMAT_VERSION,
        "file": src.name,
        "ok": errors == 0,
        "errors": errors,
        "warnings": diagnostics.len() - errors,
        "diagnostics": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_location_snippet_label_and_help() {
        let src = SourceFile::new("plans/x.toml", "[plan]\nnmae = \"x\"\n");
        let d = Diagnostic::error("unknown-key", "unknown key `nmae` in [plan]")
            .at(Span::new(7, 11))
            .with_label("unknown key")
            .with_secondary(Span::new(0, 6), "in this table")
            .with_help("did you mean `name`?");
        let text = render(&d, &src, false);
        assert!(
            text.starts_with("error[unknown-key]: unknown key `nmae` in [plan]"),
            "{text}"
        );
        assert!(text.contains("--> plans/x.toml:2:1"), "{text}");
        assert!(text.contains("nmae = \"x\""), "{text}");
        assert!(text.contains("^^^^ unknown key"), "{text}");
        assert!(text.contains("in this table"), "{text}");
        assert!(text.contains("help: did you mean `name`?"), "{text}");
        assert!(!text.contains('\u{1b}'), "no colour when asked for none");
    }

    #[test]
    fn spans_past_the_end_or_inside_a_character_do_not_panic() {
        let src = SourceFile::new("p.toml", "é");
        let d = Diagnostic::warning("w", "m").at(Span::new(1, 99));
        assert!(render(&d, &src, false).contains("warning[w]: m"));
        let d = Diagnostic::error("e", "no file").with_help("create it");
        let text = render(&d, &src, true);
        assert!(text.contains("p.toml"));
    }
}
