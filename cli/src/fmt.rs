//! `trackplan fmt`: one canonical layout for plan files, so diffs show meaning, not style.
//!
//! The rules, applied to the TOML syntax tree (`toml_edit`) so comments and the way values are
//! written (string quoting, number notation) survive:
//!
//! - Top-level sections in a fixed order: `plan`, `identity`, `taxonomy`, `purposes`,
//!   `destinations`, `properties`, `events`, `traits`, `groups`, `context`, `policies`,
//!   `exceptions`, then anything else in file order.
//!   Ids inside a section (events, purposes, …) keep the author's order: it is meaningful
//!   (generated code and consent screens follow it).
//! - Keys inside each table in a fixed order per kind of table (see [`key_order`]); unknown keys
//!   last, in file order, so `check` can still point at them.
//! - One blank line before each table header, none between keys; comments stay attached to the
//!   key or header they precede (blank lines between comment blocks are kept, collapsed to one).
//! - `key = value` with single spaces; inline tables as `{ a = 1, b = 2 }`; single-line arrays
//!   as `["a", "b"]`. Arrays and inline tables that contain comments or line breaks are left as
//!   written.
//! - No trailing whitespace; the file ends with exactly one newline.

use toml_edit::{Array, DocumentMut, InlineTable, Item, Key, RawString, Table, Value};

/// Formats plan text. Fails only on TOML syntax errors.
pub fn format(text: &str) -> Result<String, toml_edit::TomlError> {
    let mut doc: DocumentMut = text.parse()?;
    let preamble = take_preamble(doc.as_table_mut());
    let mut path = Vec::new();
    format_table(doc.as_table_mut(), &mut path);
    let mut position = 0;
    assign_positions(doc.as_table_mut(), &mut position);

    let mut first = true;
    normalize_headers(doc.as_table_mut(), &mut first);
    doc.as_table_mut()
        .decor_mut()
        .set_prefix(if preamble.is_empty() {
            String::new()
        } else {
            format!("{preamble}\n\n")
        });
    let trailing = comments_only(doc.trailing().as_str().unwrap_or(""));
    doc.set_trailing(if trailing.is_empty() {
        String::new()
    } else {
        format!("\n{trailing}")
    });

    let mut out: String = doc
        .to_string()
        .lines()
        .map(str::trim_end)
        .collect::<Vec<_>>()
        .join("\n");
    out.truncate(out.trim_end().len());
    out.push('\n');
    Ok(out)
}

/// What `fmt` would change, as a unified diff (`--- a/NAME`, `+++ b/NAME`, three lines of
/// context), for `fmt --check` to print.
pub fn unified_diff(name: &str, before: &str, after: &str) -> String {
    similar::TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// Detaches the file's opening comment block (comments before the first header that are
/// followed by a blank line) so it stays at the top when sections are reordered; comments right
/// above the first header stay with that header.
fn take_preamble(root: &mut Table) -> String {
    let mut first: Option<&mut Table> = None;
    let mut lowest = isize::MAX;
    let mut candidates: Vec<&mut Table> = Vec::new();
    for (_, item) in root.iter_mut() {
        match item {
            Item::Table(t) if !t.is_dotted() => candidates.push(t),
            Item::ArrayOfTables(a) => candidates.extend(a.iter_mut()),
            _ => {}
        }
    }
    // The first header in the file may be a nested one (`[events.a]` with `events` implicit);
    // walk down implicit tables to find the lowest position.
    while let Some(t) = candidates.pop() {
        if is_shown(t) && t.position().unwrap_or(isize::MAX) < lowest {
            lowest = t.position().unwrap_or(isize::MAX);
            first = Some(t);
            continue;
        }
        for (_, item) in t.iter_mut() {
            match item {
                Item::Table(t) if !t.is_dotted() => candidates.push(t),
                Item::ArrayOfTables(a) => candidates.extend(a.iter_mut()),
                _ => {}
            }
        }
    }
    let Some(first) = first else {
        return String::new();
    };
    let raw = first
        .decor()
        .prefix()
        .and_then(RawString::as_str)
        .unwrap_or("")
        .to_owned();
    let Some(split) = raw.trim_end().rfind("\n\n").or_else(|| {
        // A comment block directly followed by a blank line and the header.
        raw.trim_end_matches([' ', '\t'])
            .ends_with("\n\n")
            .then_some(raw.len())
    }) else {
        return String::new();
    };
    let (preamble, attached) = raw.split_at(split.min(raw.len()));
    let preamble = comments_only(preamble);
    first.decor_mut().set_prefix(attached.to_owned());
    preamble
}

/// What kind of table a path names; decides its key order.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Kind {
    Root,
    Plan,
    Identity,
    Purpose,
    Destination,
    Property,
    Items,
    Event,
    Group,
    Policy,
    Deny,
    Rule,
    Category,
    Exception,
    Other,
}

fn kind_of(path: &[String]) -> Kind {
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    match p.as_slice() {
        [] => Kind::Root,
        ["plan"] => Kind::Plan,
        ["identity"] => Kind::Identity,
        ["purposes", _] => Kind::Purpose,
        ["destinations", _] => Kind::Destination,
        ["properties", _]
        | ["events", _, "properties", _]
        | ["traits", _]
        | ["groups", _, "key"]
        | ["groups", _, "traits", _]
        | ["context", _] => Kind::Property,
        [.., "items"] => Kind::Items,
        ["events", _] => Kind::Event,
        ["groups", _] => Kind::Group,
        ["policies", _] => Kind::Policy,
        ["policies", _, "deny"] => Kind::Deny,
        ["policies", _, "deny", _] => Kind::Rule,
        ["taxonomy", "categories", _] => Kind::Category,
        ["exceptions", _] => Kind::Exception,
        _ => Kind::Other,
    }
}

/// The canonical key order of each kind of table.
fn key_order(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Root => &[
            "plan",
            "identity",
            "taxonomy",
            "purposes",
            "destinations",
            "properties",
            "events",
            "traits",
            "groups",
            "context",
            "policies",
            "exceptions",
        ],
        Kind::Plan => &["name", "version", "owner"],
        Kind::Identity => &["transform", "justification"],
        Kind::Exception => &["policy", "justification"],
        Kind::Purpose => &[
            "description",
            "basis",
            "data_use",
            "retention_days",
            "sale_or_share",
        ],
        Kind::Destination => &["kind", "purposes", "description", "third_party"],
        Kind::Property | Kind::Items => &[
            "name",
            "type",
            "items",
            "values",
            "sensitivity",
            "category",
            "transform",
            "buckets",
            "to",
            "special_basis",
            "justification",
            "purposes",
            "required",
            "max_length",
            "min",
            "max",
            "description",
            "events",
        ],
        Kind::Event => &["name", "description", "purposes", "groups", "properties"],
        Kind::Group => &["description", "purposes", "key", "traits"],
        Kind::Policy => &["name", "description", "deny"],
        Kind::Deny => &["categories", "data_uses"],
        Kind::Rule => &["values", "matches"],
        Kind::Category => &["special", "description"],
        Kind::Other => &[],
    }
}

fn rank(kind: Kind, key: &str) -> usize {
    let order = key_order(kind);
    order.iter().position(|k| *k == key).unwrap_or(order.len())
}

fn format_table(table: &mut Table, path: &mut Vec<String>) {
    let kind = kind_of(path);
    // A stable sort: unknown keys (equal rank) keep their order.
    table.sort_values_by(|a, _, b, _| rank(kind, a.get()).cmp(&rank(kind, b.get())));
    for (mut key, item) in table.iter_mut() {
        path.push(key.get().to_owned());
        match item {
            Item::Value(value) => {
                normalize_key(&mut key);
                format_value(value, path);
            }
            Item::Table(t) => {
                if t.is_dotted() {
                    normalize_key(&mut key);
                }
                format_table(t, path);
            }
            Item::ArrayOfTables(a) => {
                for (i, t) in a.iter_mut().enumerate() {
                    path.push(i.to_string());
                    format_table(t, path);
                    path.pop();
                }
            }
            Item::None => {}
        }
        path.pop();
    }
}

fn format_value(value: &mut Value, path: &mut Vec<String>) {
    let suffix = value
        .decor()
        .suffix()
        .and_then(RawString::as_str)
        .map(comments_only)
        .unwrap_or_default();
    match value {
        Value::InlineTable(t) => format_inline(t, path),
        Value::Array(a) => format_array(a, path),
        _ => {}
    }
    let decor = value.decor_mut();
    decor.set_prefix(" ");
    decor.set_suffix(if suffix.is_empty() {
        String::new()
    } else {
        format!(" {suffix}")
    });
}

fn format_inline(t: &mut InlineTable, path: &mut Vec<String>) {
    if t.to_string().contains(['#', '\n']) {
        return;
    }
    let kind = kind_of(path);
    t.sort_values_by(|a, _, b, _| rank(kind, a.get()).cmp(&rank(kind, b.get())));
    t.fmt();
    for (key, value) in t.iter_mut() {
        path.push(key.get().to_owned());
        match value {
            Value::InlineTable(inner) => format_inline(inner, path),
            Value::Array(a) => format_array(a, path),
            _ => {}
        }
        path.pop();
    }
}

fn format_array(a: &mut Array, path: &mut Vec<String>) {
    if a.to_string().contains(['#', '\n']) {
        return;
    }
    a.fmt();
    for value in a.iter_mut() {
        if let Value::InlineTable(t) = value {
            format_inline(t, path);
        }
    }
}

fn normalize_key(key: &mut toml_edit::KeyMut<'_>) {
    let prefix = key
        .leaf_decor()
        .prefix()
        .and_then(RawString::as_str)
        .map(comment_block)
        .unwrap_or_default();
    let decor = key.leaf_decor_mut();
    decor.set_prefix(prefix);
    decor.set_suffix(" ");
}

/// The comments above a key or header, each line ending in a newline, plus one blank line when
/// the comments were separated from what follows by one (a note about a section rather than
/// about that key).
fn comment_block(raw: &str) -> String {
    let comments = comments_only(raw);
    if comments.is_empty() {
        return String::new();
    }
    let after_last = raw.rfind('#').map_or("", |i| &raw[i..]);
    let blank_after = after_last.matches('\n').count() >= 2;
    format!("{comments}\n{}", if blank_after { "\n" } else { "" })
}

/// Keeps the comment lines of a decor, trimmed; blank lines between comment blocks collapse to
/// one, blank lines before the first and after the last comment go.
fn comments_only(raw: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let mut gap = false;
    for line in raw.lines().map(str::trim) {
        if line.starts_with('#') {
            if gap && !out.is_empty() {
                out.push("");
            }
            out.push(line);
            gap = false;
        } else if line.is_empty() {
            gap = true;
        }
    }
    out.join("\n")
}

fn assign_positions(table: &mut Table, position: &mut isize) {
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) => {
                if !t.is_dotted() {
                    t.set_position(Some(*position));
                    *position += 1;
                }
                assign_positions(t, position);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    t.set_position(Some(*position));
                    *position += 1;
                    assign_positions(t, position);
                }
            }
            _ => {}
        }
    }
}

/// One blank line before every header after the first; comments kept above it.
fn normalize_headers(table: &mut Table, first: &mut bool) {
    let mut order: Vec<(isize, Vec<Key>)> = Vec::new();
    collect_headers(table, &mut Vec::new(), &mut order);
    order.sort_by_key(|(p, _)| *p);
    let shown: Vec<isize> = order.iter().map(|(p, _)| *p).collect();
    set_header_decor(table, &shown, first);
}

fn collect_headers(table: &Table, path: &mut Vec<Key>, out: &mut Vec<(isize, Vec<Key>)>) {
    for (key, item) in table.iter() {
        match item {
            Item::Table(t) if !t.is_dotted() => {
                path.push(Key::new(key));
                if is_shown(t) {
                    out.push((t.position().unwrap_or(0), path.clone()));
                }
                collect_headers(t, path, out);
                path.pop();
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter() {
                    path.push(Key::new(key));
                    out.push((t.position().unwrap_or(0), path.clone()));
                    collect_headers(t, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
}

/// Whether the header of a table is printed (implicit tables without values are not).
fn is_shown(t: &Table) -> bool {
    !(t.is_implicit()
        && t.iter()
            .all(|(_, i)| matches!(i, Item::Table(t) if !t.is_dotted()) || i.is_array_of_tables()))
}

fn set_header_decor(table: &mut Table, shown: &[isize], first: &mut bool) {
    let lowest = shown.first().copied();
    for (_, item) in table.iter_mut() {
        match item {
            Item::Table(t) if !t.is_dotted() => {
                if is_shown(t) {
                    decorate_header(t, lowest, first);
                }
                set_header_decor(t, shown, first);
            }
            Item::ArrayOfTables(a) => {
                for t in a.iter_mut() {
                    decorate_header(t, lowest, first);
                    set_header_decor(t, shown, first);
                }
            }
            _ => {}
        }
    }
}

fn decorate_header(t: &mut Table, lowest: Option<isize>, first: &mut bool) {
    let is_first = t.position() == lowest;
    let comments = t
        .decor()
        .prefix()
        .and_then(RawString::as_str)
        .map(comment_block)
        .unwrap_or_default();
    let lead = if is_first { "" } else { "\n" };
    t.decor_mut().set_prefix(format!("{lead}{comments}"));
    let suffix = t
        .decor()
        .suffix()
        .and_then(RawString::as_str)
        .map(comments_only)
        .unwrap_or_default();
    t.decor_mut().set_suffix(if suffix.is_empty() {
        String::new()
    } else {
        format!(" {suffix}")
    });
    if is_first {
        *first = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_shows_what_fmt_changes() {
        let before = "[plan]\nversion=1\nname =  \"p\"\n";
        let after = format(before).expect("valid TOML");
        assert_eq!(
            unified_diff("p.toml", before, &after),
            "--- a/p.toml\n+++ b/p.toml\n@@ -1,3 +1,3 @@\n [plan]\n-version=1\n-name =  \"p\"\n\
             +name = \"p\"\n+version = 1\n"
        );
        assert_eq!(unified_diff("p.toml", &after, &after), "");
    }

    #[test]
    fn orders_sections_and_keys_and_keeps_comments() {
        let input = r#"# Preamble.

[events.a]
purposes = ["x"]   # why
name   =  "A"

[plan]
version = 1
# the id
name = "p"
"#;
        let out = format(input).unwrap();
        assert_eq!(
            out,
            r#"# Preamble.

[plan]
# the id
name = "p"
version = 1

[events.a]
name = "A"
purposes = ["x"] # why
"#
        );
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn inline_tables_are_sorted_and_spaced() {
        let input = "[events.a.properties]\nx = {description=\"d\",type=\"list\",items={type=\"string\"},name=\"X\"}\n";
        let out = format(input).unwrap();
        assert_eq!(
            out,
            "[events.a.properties]\nx = { name = \"X\", type = \"list\", items = { type = \"string\" }, description = \"d\" }\n"
        );
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn arrays_with_comments_stay_as_written() {
        let input =
            "[destinations.d]\npurposes = [\n  \"a\", # first\n  \"b\",\n]\nkind = \"ndjson\"\n";
        let out = format(input).unwrap();
        assert_eq!(
            out,
            "[destinations.d]\nkind = \"ndjson\"\npurposes = [\n  \"a\", # first\n  \"b\",\n]\n"
        );
    }

    #[test]
    fn policies_keep_their_order_and_unknown_keys_go_last() {
        let input = "[[policies]]\ndeny = { data_uses = [\"m\"], categories = [\"c\"] }\nname = \"one\"\n[[policies]]\nname = \"two\"\nzzz = 1\ndeny = {}\n\n\n# end\n";
        let out = format(input).unwrap();
        assert_eq!(
            out,
            "[[policies]]\nname = \"one\"\ndeny = { categories = [\"c\"], data_uses = [\"m\"] }\n\n[[policies]]\nname = \"two\"\ndeny = {}\nzzz = 1\n\n# end\n"
        );
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn a_comment_separated_by_a_blank_line_stays_separated() {
        let input =
            "[plan]\nname = \"p\"\n\n# About events.\n\n\n[events.a]\n# On name.\nname = \"A\"\n";
        let out = format(input).unwrap();
        assert_eq!(
            out,
            "[plan]\nname = \"p\"\n\n# About events.\n\n[events.a]\n# On name.\nname = \"A\"\n"
        );
        assert_eq!(format(&out).unwrap(), out);
    }

    #[test]
    fn syntax_errors_are_reported() {
        assert!(format("[plan\nname = 1").is_err());
    }
}
