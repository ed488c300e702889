//! Doc comments built from plan text.
//!
//! Plan descriptions are free text written by people who never think about rustdoc. They reach
//! the generated code as `#[doc = "…"]` string attributes (so `*/`, quotes and backslashes are
//! just string content), and the Markdown in them is defused where rustdoc would act on it:
//!
//! - fenced code blocks become ```` ```text ```` blocks, so they are shown but never compiled as
//!   doctests, and an unclosed fence is closed;
//! - leading indentation is removed outside fences, so an indented paragraph never becomes an
//!   (implicitly Rust) indented code block;
//! - `[` `]` and `<` are escaped, so rustdoc sees neither intra-doc links nor HTML tags to warn
//!   about, and bare `http(s)://` URLs become autolinks instead of `bare_urls` warnings.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use trackplan_model::Spanned;

use crate::code::escape;

/// A doc comment under construction: lines of Markdown, kept as the text of one
/// `#[doc = "…"]` attribute (see [`Doc::attr`]).
#[derive(Default)]
pub(crate) struct Doc {
    /// The lines so far, joined by line breaks, each non-empty one with the leading space
    /// `///` gives.
    text: String,
    /// Whether no line was written yet.
    empty: bool,
    /// Whether the last line is empty.
    blank: bool,
}

impl Doc {
    /// An empty doc comment.
    pub(crate) fn new() -> Self {
        Doc {
            // Room for a typical generated doc, so it is not grown line by line.
            text: String::with_capacity(512),
            empty: true,
            blank: false,
        }
    }

    /// A doc comment that opens with an item's plan description, when it has one, as a
    /// paragraph of its own; what the plan says about the item follows.
    pub(crate) fn described(description: Option<&Spanned<String>>) -> Self {
        let mut docs = Doc::new();
        if let Some(d) = description {
            docs.text(&d.value);
            docs.paragraph();
        }
        docs
    }

    /// Appends a line of generated Markdown (already safe); `format_args!` saves building a
    /// `String` first.
    pub(crate) fn line(&mut self, line: impl fmt::Display) -> &mut Self {
        if !self.empty {
            self.text.push('\n');
        }
        self.empty = false;
        let start = self.text.len();
        self.text.push(' ');
        // Writing into a `String` cannot fail.
        let _ = write!(self.text, "{line}");
        self.blank = self.text.len() == start + 1;
        if self.blank {
            self.text.truncate(start);
        }
        self
    }

    /// Appends an empty line unless the doc is empty or already ends with one.
    pub(crate) fn paragraph(&mut self) -> &mut Self {
        if !self.empty && !self.blank {
            self.line("");
        }
        self
    }

    /// Appends free text from the plan, defused (see the module docs).
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        defuse(text, |line| {
            self.line(line);
        });
        self
    }

    /// One `#[doc = "…"]` attribute holding every line, followed by a line break; nothing
    /// for an empty doc. One attribute instead of one per line: rustdoc reads them the same,
    /// and a large plan has tens of thousands of doc lines, each of which would cost the
    /// compiler tokens.
    pub(crate) fn attr(&self) -> Attr<'_> {
        Attr(self)
    }
}

/// The attribute of a [`Doc`], as source text (see [`Doc::attr`]).
pub(crate) struct Attr<'a>(&'a Doc);

impl fmt::Display for Attr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.empty {
            return Ok(());
        }
        f.write_str("#[doc = \"")?;
        escape(&self.0.text, f)?;
        f.write_str("\"]\n")
    }
}

/// Free text squeezed onto one line of a list item, defused like any description.
pub(crate) fn one_line(text: &str) -> String {
    let mut out = String::new();
    defuse(
        &text.split_whitespace().collect::<Vec<_>>().join(" "),
        |line| {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(line);
        },
    );
    out
}

/// An inline code span showing `text` exactly, whatever backticks it contains; line breaks
/// become spaces.
pub(crate) fn code(text: &str) -> Code<'_> {
    Code(text)
}

/// A code span (see [`code`]).
pub(crate) struct Code<'a>(&'a str);

impl fmt::Display for Code<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.0;
        let mut longest = 0;
        let mut run = 0;
        for b in text.bytes() {
            if b == b'`' {
                run += 1;
                longest = longest.max(run);
            } else {
                run = 0;
            }
        }
        let pad = if text.starts_with('`') || text.ends_with('`') {
            " "
        } else {
            ""
        };
        let fence = |f: &mut fmt::Formatter<'_>| (0..=longest).try_for_each(|_| f.write_char('`'));
        fence(f)?;
        f.write_str(pad)?;
        for (i, part) in text.split(['\n', '\r']).enumerate() {
            if i > 0 {
                f.write_char(' ')?;
            }
            f.write_str(part)?;
        }
        f.write_str(pad)?;
        fence(f)
    }
}

/// A wire value (event or property name, enum value) as a code span of its JSON string, so
/// quotes, backslashes, control characters and surrounding spaces are all visible.
pub(crate) fn wire(text: &str) -> Wire {
    Wire(json(text))
}

/// A wire value's code span (see [`wire`]).
pub(crate) struct Wire(String);

impl fmt::Display for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        code(&self.0).fmt(f)
    }
}

/// `text` as a JSON string literal.
pub(crate) fn json(text: &str) -> String {
    // Serializing a `str` to a `String` has no failure case.
    serde_json::to_string(text).unwrap_or_default()
}

/// A list of ids as comma-separated code spans (`` `a`, `b` ``), or `none`.
pub(crate) fn ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for id in ids {
        if !out.is_empty() {
            out.push_str(", ");
        }
        // Writing into a `String` cannot fail.
        let _ = write!(out, "{}", code(id));
    }
    if out.is_empty() {
        out.push_str("none");
    }
    out
}

/// Free text made safe for rustdoc, line by line: each line goes to `out`.
fn defuse(text: &str, mut out: impl FnMut(&str)) {
    // The opening fence of the code block we are in: its character and length.
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some((c, n)) => {
                let run = trimmed.chars().take_while(|&x| x == c).count();
                if run >= n && trimmed[run * c.len_utf8()..].trim().is_empty() {
                    out(&c.to_string().repeat(run));
                    fence = None;
                } else {
                    out(line);
                }
            }
            None => {
                let opener = ['`', '~'].into_iter().find_map(|c| {
                    let run = trimmed.chars().take_while(|&x| x == c).count();
                    (run >= 3).then_some((c, run))
                });
                match opener {
                    Some((c, n)) => {
                        out(&format!("{}text", c.to_string().repeat(n)));
                        fence = Some((c, n));
                    }
                    None => out(&inline(trimmed)),
                }
            }
        }
    }
    if let Some((c, n)) = fence {
        out(&c.to_string().repeat(n));
    }
}

/// Escapes what rustdoc would read as links or HTML, and turns bare URLs into autolinks.
fn inline(line: &str) -> Cow<'_, str> {
    // Most lines have nothing to escape.
    if !line.contains(['[', ']', '<', '>']) && !line.contains("http") {
        return Cow::Borrowed(line);
    }
    let mut out = String::with_capacity(line.len() + 8);
    let mut rest = line;
    while !rest.is_empty() {
        if let Some(len) = link_len(rest) {
            out.push_str(&rest[..len]);
            rest = &rest[len..];
            continue;
        }
        if let Some(len) = url_len(rest) {
            out.push('<');
            out.push_str(&rest[..len]);
            out.push('>');
            rest = &rest[len..];
            continue;
        }
        let Some(c) = rest.chars().next() else { break };
        match c {
            '[' | ']' | '<' | '>' => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
        rest = &rest[c.len_utf8()..];
    }
    Cow::Owned(out)
}

/// Length of the Markdown link to a web URL at the start of `s` (`[text](https://…)`), which
/// rustdoc renders as a link and never mistakes for an intra-doc link.
fn link_len(s: &str) -> Option<usize> {
    let text = s.strip_prefix('[')?;
    let close = text.find(']')?;
    if text[..close].contains('[') {
        return None;
    }
    let target = text[close + 1..].strip_prefix('(')?;
    if !(target.starts_with("https://") || target.starts_with("http://")) {
        return None;
    }
    let end = target.find(|c: char| c == ')' || c.is_whitespace())?;
    target[end..]
        .starts_with(')')
        .then_some(1 + close + 2 + end + 1)
}

/// Length of the URL at the start of `s`, if one starts there: `http://` or `https://` up to
/// whitespace or a character that cannot be in an autolink, without trailing punctuation.
fn url_len(s: &str) -> Option<usize> {
    if !(s.starts_with("https://") || s.starts_with("http://")) {
        return None;
    }
    let end = s
        .find(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | '`'))
        .unwrap_or(s.len());
    let url = s[..end].trim_end_matches(['.', ',', ';', ':', '!', '?', ')', '\'', '"']);
    let scheme = if url.starts_with("https://") { 8 } else { 7 };
    (url.len() > scheme).then_some(url.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Vec<String> {
        let mut lines = Vec::new();
        defuse(text, |l| lines.push(l.to_owned()));
        lines
    }

    #[test]
    fn fences_become_text_blocks_and_unclosed_ones_are_closed() {
        assert_eq!(
            doc("Example:\n```rust\nfn main() {}\n```\nafter"),
            ["Example:", "```text", "fn main() {}", "```", "after"]
        );
        assert_eq!(doc("~~~~\nx\n"), ["~~~~text", "x", "~~~~"]);
        assert_eq!(
            doc("  ```\n    indented code\n"),
            ["```text", "    indented code", "```"]
        );
    }

    #[test]
    fn indentation_links_and_html_are_defused() {
        assert_eq!(doc("\n    let x = 1;"), ["", "let x = 1;"]);
        assert_eq!(doc("see [Vec] and <b>"), ["see \\[Vec\\] and \\<b\\>"]);
        assert_eq!(
            doc("[x](crate::Y) [y](https://e.com)"),
            ["\\[x\\](crate::Y) [y](https://e.com)"]
        );
        assert_eq!(doc("ends */ here \"q\" \\n"), ["ends */ here \"q\" \\n"]);
    }

    #[test]
    fn bare_urls_become_autolinks() {
        assert_eq!(
            doc("Docs: https://example.com/a?b=1. More"),
            ["Docs: <https://example.com/a?b=1>. More"]
        );
        assert_eq!(doc("http:// alone"), ["http:// alone"]);
    }

    #[test]
    fn code_spans_survive_backticks() {
        assert_eq!(code("a").to_string(), "`a`");
        assert_eq!(code("a`b").to_string(), "``a`b``");
        assert_eq!(code("`x").to_string(), "`` `x ``");
        assert_eq!(code("a\nb\r\nc").to_string(), "`a b  c`");
        assert_eq!(wire("Plan \"Tier\"").to_string(), "`\"Plan \\\"Tier\\\"\"`");
    }
}
