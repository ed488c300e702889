//! Diagnostics: what is wrong with a plan, where, and how to fix it.

use crate::source::{SourceFile, Span};
use std::fmt::Write as _;

/// How bad a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Worth knowing (e.g. a deprecated taxonomy key); the plan still compiles.
    Warning,
    /// The plan is rejected.
    Error,
}

/// A secondary location that helps explain a diagnostic ("first defined here").
#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What is there.
    pub message: String,
}

/// One problem found in a plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// A stable kebab-case code, e.g. `unknown-key`, `purpose-mismatch`; tools match on it.
    pub code: &'static str,
    /// One sentence saying what is wrong; names the offending event/property.
    pub message: String,
    /// The primary location, when there is one (a missing file has none).
    pub span: Option<Span>,
    /// Short text under the primary location.
    pub label: Option<String>,
    /// Other locations that explain the problem.
    pub secondary: Vec<Label>,
    /// How to fix it ("did you mean `purposes`?").
    pub help: Option<String>,
}

impl Diagnostic {
    /// An error with a code and message.
    pub fn error(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            code,
            message: message.into(),
            span: None,
            label: None,
            secondary: Vec::new(),
            help: None,
        }
    }

    /// A warning with a code and message.
    pub fn warning(code: &'static str, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            ..Diagnostic::error(code, message)
        }
    }

    /// Sets the primary location.
    pub fn at(mut self, span: Span) -> Self {
        self.span = Some(span);
        self
    }

    /// Sets the label under the primary location.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a secondary location.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Self {
        self.secondary.push(Label {
            span,
            message: message.into(),
        });
        self
    }

    /// Sets the fix suggestion.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Whether this diagnostic rejects the plan.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// `file:line:col` of the primary location, or just the file name.
    pub fn location(&self, src: &SourceFile) -> String {
        match self.span {
            Some(span) => {
                let (line, col) = src.line_col(span.start);
                format!("{}:{line}:{col}", src.name)
            }
            None => src.name.clone(),
        }
    }

    /// Renders the diagnostic as plain text in the style of rustc: message, `file:line:col`,
    /// the source line with a caret under the span, secondary locations and the help line.
    /// The macros and the CLI both show exactly this text.
    pub fn render(&self, src: &SourceFile) -> String {
        let kind = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut out = format!("{kind}[{}]: {}\n", self.code, self.message);
        self.render_body(&mut out, src);
        out
    }

    /// [`Diagnostic::render`] without the severity word, for a host that prints it itself:
    /// rustc shows a macro's error as `error: [unknown-key] unknown key …`.
    pub fn render_without_severity(&self, src: &SourceFile) -> String {
        let mut out = format!("[{}] {}\n", self.code, self.message);
        self.render_body(&mut out, src);
        out
    }

    /// Everything after the first line: location, snippets, help.
    fn render_body(&self, out: &mut String, src: &SourceFile) {
        let _ = writeln!(out, "  --> {}", self.location(src));
        if let Some(span) = self.span {
            snippet(out, src, span, self.label.as_deref());
        }
        for label in &self.secondary {
            let (line, col) = src.line_col(label.span.start);
            let _ = writeln!(out, "  ::: {}:{line}:{col}", src.name);
            snippet(out, src, label.span, Some(&label.message));
        }
        if let Some(help) = &self.help {
            let _ = writeln!(out, "   = help: {help}");
        }
        out.truncate(out.trim_end().len());
    }
}

fn snippet(out: &mut String, src: &SourceFile, span: Span, label: Option<&str>) {
    let (line, col) = src.line_col(span.start);
    let text = src.line(line);
    let (end_line, end_col) = src.line_col(span.end);
    let width = if end_line == line && end_col > col {
        end_col - col
    } else {
        text.chars().count().saturating_sub(col - 1).max(1)
    };
    let gutter = line.to_string().len();
    let pad = " ".repeat(gutter);
    let _ = writeln!(out, "{pad} |");
    let _ = writeln!(out, "{line} | {text}");
    let _ = writeln!(
        out,
        "{pad} | {}{} {}",
        " ".repeat(col - 1),
        "^".repeat(width),
        label.unwrap_or("")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_names_file_line_column_and_points_at_the_span() {
        let src = SourceFile::new("plans/x.toml", "[plan]\nnmae = \"x\"\n");
        let d = Diagnostic::error("unknown-key", "unknown key `nmae` in [plan]")
            .at(Span::new(7, 11))
            .with_label("unknown key")
            .with_help("did you mean `name`?");
        let text = d.render(&src);
        assert_eq!(
            text,
            "error[unknown-key]: unknown key `nmae` in [plan]\n  --> plans/x.toml:2:1\n  |\n2 | nmae = \"x\"\n  | ^^^^ unknown key\n   = help: did you mean `name`?"
        );
        assert_eq!(
            d.render_without_severity(&src),
            text.replacen("error[unknown-key]:", "[unknown-key]", 1)
        );
    }
}
