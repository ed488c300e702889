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

use proc_macro2::TokenStream;
use quote::quote;

/// A doc comment under construction: lines of Markdown.
#[derive(Default)]
pub(crate) struct Doc {
    lines: Vec<String>,
}

impl Doc {
    /// An empty doc comment.
    pub(crate) fn new() -> Self {
        Doc::default()
    }

    /// Appends a line of generated Markdown (already safe).
    pub(crate) fn line(&mut self, line: impl Into<String>) -> &mut Self {
        self.lines.push(line.into());
        self
    }

    /// Appends an empty line unless the doc is empty or already ends with one.
    pub(crate) fn paragraph(&mut self) -> &mut Self {
        if self.lines.last().is_some_and(|l| !l.is_empty()) {
            self.lines.push(String::new());
        }
        self
    }

    /// Appends free text from the plan, defused (see the module docs).
    pub(crate) fn text(&mut self, text: &str) -> &mut Self {
        self.lines.extend(defuse(text));
        self
    }

    /// The lines so far.
    pub(crate) fn lines(&self) -> &[String] {
        &self.lines
    }

    /// One `#[doc = "…"]` attribute holding every line, each with the leading space `///`
    /// gives. One attribute instead of one per line: rustdoc reads them the same, and a large
    /// plan has tens of thousands of doc lines, each of which would cost the compiler tokens.
    pub(crate) fn attrs(&self) -> TokenStream {
        if self.lines.is_empty() {
            return TokenStream::new();
        }
        let mut text = String::new();
        for (i, l) in self.lines.iter().enumerate() {
            if i > 0 {
                text.push('\n');
            }
            if !l.is_empty() {
                text.push(' ');
                text.push_str(l);
            }
        }
        quote!(#[doc = #text])
    }
}

/// An inline code span showing `text` exactly, whatever backticks it contains.
pub(crate) fn code(text: &str) -> String {
    let text = text.replace(['\n', '\r'], " ");
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') {
        " "
    } else {
        ""
    };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A wire value (event or property name, enum value) as a code span of its JSON string, so
/// quotes, backslashes, control characters and surrounding spaces are all visible.
pub(crate) fn wire(text: &str) -> String {
    code(&json(text))
}

/// `text` as a JSON string literal.
pub(crate) fn json(text: &str) -> String {
    // Serializing a `str` to a `String` has no failure case.
    serde_json::to_string(text).unwrap_or_default()
}

/// A list of ids as comma-separated code spans (`` `a`, `b` ``), or `none`.
pub(crate) fn ids<'a>(ids: impl IntoIterator<Item = &'a str>) -> String {
    let list: Vec<String> = ids.into_iter().map(code).collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// Free text made safe for rustdoc, line by line.
fn defuse(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    // The opening fence of the code block we are in: its character and length.
    let mut fence: Option<(char, usize)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start();
        match fence {
            Some((c, n)) => {
                let run = trimmed.chars().take_while(|&x| x == c).count();
                if run >= n && trimmed[run * c.len_utf8()..].trim().is_empty() {
                    out.push(c.to_string().repeat(run));
                    fence = None;
                } else {
                    out.push(line.to_owned());
                }
            }
            None => {
                let opener = ['`', '~'].into_iter().find_map(|c| {
                    let run = trimmed.chars().take_while(|&x| x == c).count();
                    (run >= 3).then_some((c, run))
                });
                match opener {
                    Some((c, n)) => {
                        out.push(format!("{}text", c.to_string().repeat(n)));
                        fence = Some((c, n));
                    }
                    None => out.push(inline(trimmed)),
                }
            }
        }
    }
    if let Some((c, n)) = fence {
        out.push(c.to_string().repeat(n));
    }
    out
}

/// Escapes what rustdoc would read as links or HTML, and turns bare URLs into autolinks.
fn inline(line: &str) -> String {
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
    out
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
        defuse(text)
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
        assert_eq!(code("a"), "`a`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x"), "`` `x ``");
        assert_eq!(wire("Plan \"Tier\""), "`\"Plan \\\"Tier\\\"\"`");
    }
}
