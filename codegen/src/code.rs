//! Rust source text under construction: how `plan!` writes its expansion.
//!
//! A plan of 1000 events expands to close to a million tokens. Built one by one (`quote!`),
//! every token is an allocation in proc_macro2 and, inside rustc, a round trip across the
//! proc-macro bridge; that was nearly all of the macro's time. Written as text, the expansion
//! is one `String` that the compiler lexes once. The derives keep building tokens with
//! `quote!`: their output is small and spans of the user's fields matter there.
//!
//! Generators write with `write!(code, "…")` templates that look like the code they produce;
//! values go in through the [`fmt::Display`] helpers here, never as raw text, so a plan's
//! strings can only ever become string literals.

use std::fmt::{self, Display, Write as _};

use proc_macro2::{Span, TokenStream};

/// Rust source text being written.
#[derive(Default)]
pub(crate) struct Code {
    text: String,
}

impl Code {
    /// Empty source with room for `capacity` bytes.
    pub(crate) fn with_capacity(capacity: usize) -> Code {
        Code {
            text: String::with_capacity(capacity),
        }
    }

    /// Appends formatted source; `write!(code, …)` calls this. Unlike [`fmt::Write`] it returns
    /// nothing: writing into a `String` cannot fail, and no `Display` impl here fails.
    pub(crate) fn write_fmt(&mut self, args: fmt::Arguments<'_>) {
        // A `String` only reports errors its arguments' `Display` impls raise; ours raise none.
        let _ = self.text.write_fmt(args);
    }

    /// Appends source text as is.
    pub(crate) fn push(&mut self, source: &str) {
        self.text.push_str(source);
    }

    /// The source written so far.
    pub(crate) fn as_str(&self) -> &str {
        &self.text
    }

    /// The finished source.
    pub(crate) fn into_string(self) -> String {
        self.text
    }
}

/// `text` as a Rust string literal, `"…"`: see [`escape`].
pub(crate) fn lit(text: &str) -> Lit<'_> {
    Lit(text)
}

/// A string literal (see [`lit`]).
pub(crate) struct Lit<'a>(&'a str);

impl Display for Lit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_char('"')?;
        escape(self.0, f)?;
        f.write_char('"')
    }
}

/// Writes `text` as the inside of a Rust string literal.
///
/// `"` and `\` are escaped, and so is every character that is invisible or that rustc rejects
/// or warns about in a literal: control characters (a bare carriage return is a lexer error),
/// the line and paragraph separators, and the bidirectional-text controls that rustc's
/// `text_direction_codepoint_in_literal` lint denies. Everything else, including emoji and any
/// script, is written as is so generated code stays readable.
pub(crate) fn escape(text: &str, out: &mut impl fmt::Write) -> fmt::Result {
    // Byte by byte: almost all of a plan's text is printable ASCII, copied in runs.
    let bytes = text.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let c = if b.is_ascii() {
            if matches!(b, b' '..=b'~') && b != b'"' && b != b'\\' {
                i += 1;
                continue;
            }
            char::from(b)
        } else {
            // `i` is at the start of a character: every step moves by whole characters.
            let c = text[i..].chars().next().unwrap_or_default();
            if !needs_unicode_escape(c) {
                i += c.len_utf8();
                continue;
            }
            c
        };
        out.write_str(&text[start..i])?;
        match c {
            '"' => out.write_str("\\\"")?,
            '\\' => out.write_str("\\\\")?,
            '\n' => out.write_str("\\n")?,
            '\r' => out.write_str("\\r")?,
            '\t' => out.write_str("\\t")?,
            c => write!(out, "\\u{{{:x}}}", u32::from(c))?,
        }
        i += c.len_utf8();
        start = i;
    }
    out.write_str(&text[start..])
}

fn needs_unicode_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            // Zero-width and bidirectional marks, line and paragraph separators, bidi
            // embeddings, overrides and isolates, and the byte order mark.
            '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}'
        )
}

/// An `f64` expression: a literal with a decimal point, or the constant for infinities and
/// NaN, which TOML can spell (`inf`, `nan`).
pub(crate) struct Float(pub f64);

impl Display for Float {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let x = self.0;
        if x.is_nan() {
            f.write_str("::core::f64::NAN")
        } else if x == f64::INFINITY {
            f.write_str("::core::f64::INFINITY")
        } else if x == f64::NEG_INFINITY {
            f.write_str("::core::f64::NEG_INFINITY")
        } else {
            // `Display` of a finite `f64` is plain digits (never an exponent); it lacks the
            // point for whole numbers, without which `1` would be an integer literal.
            let digits = x.to_string();
            f.write_str(&digits)?;
            if digits.contains('.') {
                Ok(())
            } else {
                f.write_str(".0")
            }
        }
    }
}

/// `Some(value)` or `None` (both imported where the expression is used).
pub(crate) struct Opt<T>(pub Option<T>);

impl<T: Display> Display for Opt<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(v) => write!(f, "Some({v})"),
            None => f.write_str("None"),
        }
    }
}

/// Items separated by `", "`.
pub(crate) struct Comma<I>(pub I);

impl<I> Display for Comma<I>
where
    I: Iterator + Clone,
    I::Item: Display,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.clone().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

/// Tokens of generated `source`, lexed by proc_macro2 (the compiler's lexer inside a proc
/// macro). Generated source always lexes; should a bug break that, the result is a
/// `compile_error!` at `span` asking for a report, never a panic.
pub(crate) fn tokens(source: &str, span: Span) -> TokenStream {
    match source.parse::<TokenStream>() {
        Ok(tokens) => tokens,
        Err(e) => bug(&format!("generated code does not lex: {e}"), span),
    }
}

/// `compile_error!` for a trackplan bug, at `span`.
pub(crate) fn bug(problem: &str, span: Span) -> TokenStream {
    crate::expand::error(
        &format!("{problem}; this is a bug in trackplan, please report it with the plan"),
        span,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What rustc's lexer (through syn) reads back from the literal.
    fn round_trip(text: &str) -> String {
        let source = lit(text).to_string();
        let parsed: syn::LitStr =
            syn::parse_str(&source).unwrap_or_else(|e| panic!("{source}: {e}"));
        parsed.value()
    }

    #[test]
    fn string_literals_hold_any_text_exactly() {
        let nasty = [
            "",
            "plain",
            "with \"quotes\"",
            "back\\slash",
            "trailing backslash \\",
            "\\\"",
            "#hash",
            "\"#",
            "r#\"raw\"#",
            "🎉 emoji, 日本語, русский, Ελληνικά, Straße",
            "ends a comment */ and opens one /*",
            "line\nbreaks\r\nand\ttabs",
            "nul \0 then 1: \u{0}1",
            "bell \u{7} del \u{7f} c1 \u{85}",
            "bidi \u{202e}reversed\u{202c} isolate \u{2066}x\u{2069} \u{200f}",
            "separators \u{2028} \u{2029} bom \u{feff}",
            "combining e\u{301} and zwj 👩\u{200d}💻",
            "{braces} {{}} %s $1",
            "'single' quotes",
        ];
        for text in nasty {
            assert_eq!(round_trip(text), text, "{text:?}");
        }
        let every_char: String = (0..0x3000u32).filter_map(char::from_u32).collect();
        assert_eq!(round_trip(&every_char), every_char);
    }

    #[test]
    fn escapes_are_readable_and_visible() {
        assert_eq!(lit("a \"b\" \\ c").to_string(), r#""a \"b\" \\ c""#);
        assert_eq!(lit("日本 🎉").to_string(), "\"日本 🎉\"");
        assert_eq!(lit("x\u{202e}y\r").to_string(), r#""x\u{202e}y\r""#);
        assert_eq!(lit("\0").to_string(), r#""\u{0}""#);
    }

    #[test]
    fn every_string_of_the_edge_case_plan_round_trips() {
        let text = include_str!("../../plans/edge_cases.toml");
        let checked =
            trackplan_model::check(&trackplan_model::SourceFile::new("edge_cases.toml", text));
        assert_eq!(checked.errors().count(), 0, "{:?}", checked.diagnostics);
        let plan = checked.plan.expect("the edge-case plan parses");
        let mut strings = vec![text.to_owned()];
        for p in &plan.purposes {
            strings.push(p.description.value.clone());
        }
        for e in &plan.events {
            strings.push(e.name.value.clone());
            strings.extend(e.description.as_ref().map(|d| d.value.clone()));
            for p in e.properties.iter().chain(&plan.properties) {
                strings.push(p.name.value.clone());
                strings.extend(p.description.as_ref().map(|d| d.value.clone()));
                if let Some(values) = trackplan_model::naming::enum_values(&p.ty.value) {
                    strings.extend(values.iter().map(|v| v.value.clone()));
                }
            }
        }
        assert!(strings.iter().any(|s| s.contains("*/")));
        assert!(strings.iter().any(|s| s.contains('\t')));
        for s in &strings {
            assert_eq!(&round_trip(s), s);
        }
    }

    #[test]
    fn floats_are_float_literals() {
        assert_eq!(Float(1.0).to_string(), "1.0");
        assert_eq!(Float(-0.5).to_string(), "-0.5");
        assert_eq!(Float(1e300).to_string().parse::<f64>().unwrap(), 1e300);
        assert!(Float(1e300).to_string().ends_with(".0"));
        assert_eq!(Float(f64::NAN).to_string(), "::core::f64::NAN");
        assert_eq!(
            Float(f64::NEG_INFINITY).to_string(),
            "::core::f64::NEG_INFINITY"
        );
    }

    #[test]
    fn a_lexing_bug_is_a_compile_error() {
        let out = tokens("\"unterminated", Span::call_site()).to_string();
        assert!(out.contains("compile_error"), "{out}");
        assert!(out.contains("bug in trackplan"), "{out}");
    }
}
