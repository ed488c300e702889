//! An ordered tree of maps, lists and scalars, written as YAML or JSON.
//!
//! Manifests read best with keys in a deliberate order (`fides_key` first), which
//! `serde_json::Value` does not keep. Strings are always written double-quoted with JSON
//! escapes, which YAML reads identically, so no value can change type or structure (`no`,
//! `1.0`, `- x`, `#` stay strings).

use std::fmt::Write as _;

/// A manifest value.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// Text.
    Str(String),
    /// `true` / `false`.
    Bool(bool),
    /// An ordered list.
    List(Vec<Node>),
    /// An ordered map.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// A string node.
    pub fn str(s: impl Into<String>) -> Node {
        Node::Str(s.into())
    }

    /// A list node.
    pub fn list(items: impl IntoIterator<Item = Node>) -> Node {
        Node::List(items.into_iter().collect())
    }

    /// A map node with static keys.
    pub fn map(entries: Vec<(&str, Node)>) -> Node {
        Node::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
        )
    }

    /// YAML text (block style), ending in a newline.
    pub fn to_yaml(&self) -> String {
        let mut out = String::new();
        match self {
            Node::Map(m) if !m.is_empty() => yaml_map(m, 0, &mut out),
            Node::List(l) if !l.is_empty() => yaml_list(l, 0, &mut out),
            scalar => {
                out.push_str(&inline(scalar));
                out.push('\n');
            }
        }
        out
    }

    /// Pretty JSON text, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        json(self, 0, &mut out);
        out.push('\n');
        out
    }
}

fn quote(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// A scalar or an empty collection on one line.
fn inline(n: &Node) -> String {
    match n {
        Node::Str(s) => quote(s),
        Node::Bool(b) => b.to_string(),
        Node::List(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
    }
}

fn is_block(n: &Node) -> bool {
    matches!(n, Node::List(l) if !l.is_empty()) || matches!(n, Node::Map(m) if !m.is_empty())
}

fn yaml_map(m: &[(String, Node)], indent: usize, out: &mut String) {
    for (k, v) in m {
        let _ = write!(out, "{}{}:", " ".repeat(indent), quote_key(k));
        yaml_value(v, indent, out);
    }
}

fn yaml_value(v: &Node, indent: usize, out: &mut String) {
    match v {
        Node::Map(m) if !m.is_empty() => {
            out.push('\n');
            yaml_map(m, indent + 2, out);
        }
        Node::List(l) if !l.is_empty() => {
            out.push('\n');
            yaml_list(l, indent + 2, out);
        }
        scalar => {
            let _ = writeln!(out, " {}", inline(scalar));
        }
    }
}

fn yaml_list(l: &[Node], indent: usize, out: &mut String) {
    for item in l {
        match item {
            Node::Map(m) if !m.is_empty() => {
                // The first entry goes on the dash line, the rest aligned under it.
                let mut block = String::new();
                yaml_map(m, indent + 2, &mut block);
                let _ = write!(out, "{}- ", " ".repeat(indent));
                out.push_str(&block[indent + 2..]);
            }
            Node::List(inner) if !inner.is_empty() => {
                let _ = writeln!(out, "{}-", " ".repeat(indent));
                yaml_list(inner, indent + 2, out);
            }
            scalar => {
                let _ = writeln!(out, "{}- {}", " ".repeat(indent), inline(scalar));
            }
        }
    }
}

/// Our keys are plain identifiers; anything else is quoted.
fn quote_key(k: &str) -> String {
    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        k.to_owned()
    } else {
        quote(k)
    }
}

fn json(n: &Node, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    match n {
        Node::List(l) if is_block(n) => {
            out.push_str("[\n");
            for (i, item) in l.iter().enumerate() {
                out.push_str(&pad);
                json(item, indent + 1, out);
                out.push_str(if i + 1 < l.len() { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{}]", "  ".repeat(indent));
        }
        Node::Map(m) if is_block(n) => {
            out.push_str("{\n");
            for (i, (k, v)) in m.iter().enumerate() {
                let _ = write!(out, "{pad}{}: ", quote(k));
                json(v, indent + 1, out);
                out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{}}}", "  ".repeat(indent));
        }
        scalar => out.push_str(&inline(scalar)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Node {
        Node::map(vec![
            (
                "system",
                Node::list([Node::map(vec![
                    ("fides_key", Node::str("shop")),
                    ("tags", Node::list([Node::str("no"), Node::str("# x")])),
                    ("empty", Node::List(vec![])),
                    ("flag", Node::Bool(true)),
                    ("inner", Node::map(vec![("a", Node::str("line\nbreak"))])),
                ])]),
            ),
            ("weird key", Node::str("")),
        ])
    }

    #[test]
    fn yaml_layout() {
        assert_eq!(
            sample().to_yaml(),
            "system:\n  - fides_key: \"shop\"\n    tags:\n      - \"no\"\n      - \"# x\"\n    empty: []\n    flag: true\n    inner:\n      a: \"line\\nbreak\"\n\"weird key\": \"\"\n"
        );
    }

    #[test]
    fn json_round_trips_through_serde_json() {
        let text = sample().to_json();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["system"][0]["tags"][1], "# x");
        assert_eq!(v["system"][0]["inner"]["a"], "line\nbreak");
        assert_eq!(v["weird key"], "");
    }
}
