//! Draws a placed data map as SVG, and the HTML around it (the map key that links each box to
//! its inventory rows).
//!
//! Written by hand: the map is a few hundred rects, paths and texts with a `<style>`, and the
//! one thing a writer crate would add, escaping, is [`xml`] below (it also drops the control
//! characters XML 1.0 cannot carry, which a plan's TOML strings can).

use super::layout::{Layout, NodeBox, TextBox};
use super::{Column, Graph, Node, Status};
use std::fmt::Write as _;

/// What the SVG is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Inline in an HTML page that has the map key: boxes link to it.
    Inline,
    /// A file of its own (wikis, slides): no links, an XML declaration.
    Standalone,
}

/// Text for XML content and double-quoted attributes.
pub fn xml(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "
svg.tpmap { background: #fff; }
.tpmap text { font-family: system-ui, -apple-system, \"Segoe UI\", Roboto, \"DejaVu Sans\", sans-serif; fill: #1d2330; }
.tpmap text.label { font-family: ui-monospace, \"DejaVu Sans Mono\", Menlo, Consolas, monospace; font-size: 13px; font-weight: 600; }
.tpmap text.detail { font-size: 11px; fill: #4a5468; }
.tpmap text.change { font-size: 11px; font-weight: 700; }
.tpmap text.header { font-size: 13px; font-weight: 700; fill: #2b3445; }
.tpmap text.legend { font-size: 11px; fill: #2b3445; }
.tpmap .box { fill: #fff; stroke: #8a94a8; stroke-width: 1.2; }
.tpmap .stripe { fill: #b7c0d0; }
.tpmap .node.personal .box { fill: #fff8e6; stroke: #c98a16; }
.tpmap .node.personal .stripe { fill: #e0a21b; }
.tpmap .node.special .box { fill: #fde7e6; stroke: #b3261e; stroke-width: 2.2; }
.tpmap .node.special .stripe { fill: #b3261e; }
.tpmap .node.special text.detail { fill: #8f1d17; font-weight: 700; }
.tpmap .node.sale .box { fill: #f7ecfb; stroke: #7b2f9e; stroke-width: 2.2; stroke-dasharray: 6 3; }
.tpmap .node.sale .stripe { fill: #7b2f9e; }
.tpmap .node.sale text.detail { fill: #5e2379; font-weight: 700; }
.tpmap .node.third .box { fill: #fff0e8; stroke: #c2410c; stroke-width: 2.2; }
.tpmap .node.third .stripe { fill: #c2410c; }
.tpmap .node.third text.detail { fill: #9a3412; font-weight: 700; }
.tpmap .node.first .stripe { fill: #3b82c4; }
.tpmap a:hover .box, .tpmap a:focus .box { stroke: #2952cc; stroke-width: 2.5; }
.tpmap .edge { fill: none; stroke: #8796b0; stroke-opacity: 0.45; }
.tpmap .edge.personal { stroke: #d39b2a; stroke-opacity: 0.55; }
.tpmap .edge.special { stroke: #b3261e; stroke-opacity: 0.6; }
.tpmap.diff .edge { stroke: #b9c0cc; stroke-opacity: 0.5; }
.tpmap.diff .edge.added { stroke: #1f883d; stroke-opacity: 0.75; }
.tpmap.diff .edge.widened { stroke: #d97706; stroke-opacity: 0.75; }
.tpmap.diff .edge.narrowed { stroke: #5b7fb5; stroke-opacity: 0.6; }
.tpmap.diff .edge.removed { stroke: #9aa1ad; stroke-opacity: 0.7; stroke-dasharray: 5 4; }
.tpmap.diff .edge.alert { stroke: #d1002a; stroke-opacity: 0.95; }
.tpmap .halo { fill: none; stroke: #ff8fa3; stroke-opacity: 0.55; }
.tpmap .outline { fill: none; stroke-width: 3; }
.tpmap .node.added .outline { stroke: #1f883d; }
.tpmap .node.widened .outline { stroke: #d97706; }
.tpmap .node.narrowed .outline { stroke: #5b7fb5; }
.tpmap .node.removed { opacity: 0.55; }
.tpmap .node.removed .outline { stroke: #6b7280; stroke-dasharray: 5 4; }
.tpmap .node.removed text.label { text-decoration: line-through; }
.tpmap .node.alert .outline { stroke: #d1002a; stroke-width: 4; }
.tpmap text.change.added { fill: #1a7f37; }
.tpmap text.change.removed { fill: #4b5563; }
.tpmap text.change.widened { fill: #b45309; }
.tpmap text.change.narrowed { fill: #3d5f95; }
.tpmap text.change.same { fill: #8a94a8; font-weight: 400; }
.tpmap .node.alert text.change { fill: #c0001f; }
.tpmap .sw-special { fill: #fde7e6; stroke: #b3261e; stroke-width: 2; }
.tpmap .sw-personal { fill: #fff8e6; stroke: #c98a16; stroke-width: 1.5; }
.tpmap .sw-plain { fill: #fff; stroke: #8a94a8; stroke-width: 1.2; }
.tpmap .sw-sale { fill: #f7ecfb; stroke: #7b2f9e; stroke-width: 2; stroke-dasharray: 4 2; }
.tpmap .sw-third { fill: #fff0e8; stroke: #c2410c; stroke-width: 2; }
.tpmap .sw-first { fill: #fff; stroke: #3b82c4; stroke-width: 2; }
.tpmap .sw-weight { fill: #d39b2a; }
.tpmap .sw-added { fill: #fff; stroke: #1f883d; stroke-width: 3; }
.tpmap .sw-removed { fill: #fff; stroke: #6b7280; stroke-width: 2; stroke-dasharray: 3 2; }
.tpmap .sw-widened { fill: #fff; stroke: #d97706; stroke-width: 3; }
.tpmap .sw-narrowed { fill: #fff; stroke: #5b7fb5; stroke-width: 3; }
.tpmap .sw-alert { fill: #d1002a; }
";

/// The SVG document of the map.
pub fn render(g: &Graph, l: &Layout, diff: bool, target: Target, title: &str) -> String {
    let mut s = String::with_capacity(64 * 1024);
    if target == Target::Standalone {
        s.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    }
    let _ = writeln!(
        s,
        "<svg{} class=\"tpmap{}\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" role=\"img\" aria-labelledby=\"tpmap-title\">",
        // HTML puts inline SVG in its namespace by itself (and the docs name no URL at all).
        if target == Target::Standalone {
            " xmlns=\"http://www.w3.org/2000/svg\""
        } else {
            ""
        },
        if diff { " diff" } else { "" },
        w = l.width,
        h = l.height,
    );
    let _ = writeln!(s, "<title id=\"tpmap-title\">{}</title>", xml(title));
    let _ = writeln!(s, "<style>{STYLE}</style>");
    let _ = writeln!(
        s,
        "<rect x=\"0\" y=\"0\" width=\"{}\" height=\"{}\" fill=\"#fff\"/>",
        l.width, l.height
    );
    for h in &l.headers {
        text(&mut s, h, "header", "");
    }

    // Arrows under the boxes: plain ones first, then changes, alerts on top.
    let mut edges: Vec<usize> = (0..g.edges.len()).collect();
    edges.sort_by_key(|&k| {
        let e = &g.edges[k];
        (
            e.alert(),
            e.status != Status::Same,
            std::cmp::Reverse(e.weight),
        )
    });
    s.push_str("<g class=\"edges\">\n");
    for k in edges {
        let e = &g.edges[k];
        let p = &l.edges[k];
        let from = &g.nodes[e.from];
        let to = &g.nodes[e.to];
        let mut class = String::from("edge");
        let data = if from.column == Column::Category {
            (from.marks.special, from.marks.personal)
        } else {
            (
                e.personal.iter().any(|c| special_node(g, c)),
                !e.personal.is_empty(),
            )
        };
        if data.0 {
            class.push_str(" special");
        } else if data.1 {
            class.push_str(" personal");
        }
        if diff {
            class.push(' ');
            class.push_str(e.status.key());
        }
        if e.alert() {
            class.push_str(" alert");
            let _ = writeln!(
                s,
                "<path class=\"halo\" d=\"{}\" stroke-width=\"{:.1}\"/>",
                p.d(),
                p.width + 7.0
            );
        }
        let count = if diff
            && e.status != Status::Added
            && e.status != Status::Removed
            && e.before != e.weight
        {
            format!("{} → {} properties", e.before, e.weight)
        } else {
            plural(e.weight, "property", "properties")
        };
        let mut tip = format!("{} → {}: {count}", from.id, to.id);
        if !e.personal.is_empty() {
            let _ = write!(tip, "; personal data: {}", join(&e.personal));
        }
        if e.alert() {
            let _ = write!(tip, "; NEW to a third party: {}", join(&e.fresh));
        }
        if diff && e.status != Status::Same {
            let _ = write!(tip, " ({})", e.status.key());
        }
        let _ = writeln!(
            s,
            "<path class=\"{class}\" d=\"{}\" stroke-width=\"{:.1}\" data-from=\"{}\" data-to=\"{}\" \
             data-weight=\"{}\"><title>{}</title></path>",
            p.d(),
            p.width,
            xml(&from.id),
            xml(&to.id),
            e.weight,
            xml(&tip)
        );
    }
    s.push_str("</g>\n<g class=\"nodes\">\n");
    for &i in &l.order {
        node(&mut s, g, i, &l.nodes[i], diff, target);
    }
    s.push_str("</g>\n<g class=\"legend\">\n");
    for item in &l.legend {
        if item.swatch == "sw-weight" || item.swatch == "sw-alert" {
            // A short, thick stroke sample.
            let _ = writeln!(
                s,
                "<rect class=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"6\" rx=\"2\"/>",
                item.swatch,
                item.x,
                item.y + 4.0
            );
        } else {
            let _ = writeln!(
                s,
                "<rect class=\"{}\" x=\"{:.1}\" y=\"{:.1}\" width=\"14\" height=\"14\" rx=\"3\"/>",
                item.swatch, item.x, item.y
            );
        }
        text(&mut s, &item.text, "legend", "");
    }
    s.push_str("</g>\n</svg>\n");
    s
}

fn special_node(g: &Graph, category: &str) -> bool {
    g.nodes
        .iter()
        .any(|n| n.column == Column::Category && n.id == category && n.marks.special)
}

fn node(s: &mut String, g: &Graph, i: usize, b: &NodeBox, diff: bool, target: Target) {
    let n = &g.nodes[i];
    let mut class = format!("node {}", n.column_key());
    if n.marks.special {
        class.push_str(" special");
    }
    if n.marks.personal && n.column == Column::Category {
        class.push_str(" personal");
    }
    if n.marks.sale_or_share {
        class.push_str(" sale");
    }
    if n.column == Column::Destination {
        class.push_str(if n.marks.third_party {
            " third"
        } else {
            " first"
        });
    }
    let alert = diff && g.edges.iter().any(|e| e.alert() && e.to == i);
    if diff {
        class.push(' ');
        class.push_str(n.status.key());
        if alert {
            class.push_str(" alert");
        }
    }
    let mut tip = n.title.clone();
    if diff && !n.change.is_empty() {
        let _ = write!(tip, " — change: {}", n.change);
    }
    let _ = writeln!(
        s,
        "<g class=\"{class}\" data-column=\"{}\" data-id=\"{}\" data-status=\"{}\">",
        n.column_key(),
        xml(&n.id),
        n.status.key()
    );
    // On the diff map only what changed has an entry in the key.
    let linked = target == Target::Inline && (!diff || n.status != Status::Same);
    if linked {
        let _ = writeln!(s, "<a href=\"#{}\">", xml(&n.anchor()));
    }
    let _ = writeln!(s, "<title>{}</title>", xml(&tip));
    if diff && (n.status != Status::Same || alert) {
        let _ = writeln!(
            s,
            "<rect class=\"outline\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"9\"/>",
            b.x - 3.5,
            b.y - 3.5,
            b.w + 7.0,
            b.h + 7.0
        );
    }
    let _ = writeln!(
        s,
        "<rect class=\"box\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"6\"/>",
        b.x, b.y, b.w, b.h
    );
    let _ = writeln!(
        s,
        "<rect class=\"stripe\" x=\"{:.1}\" y=\"{:.1}\" width=\"6\" height=\"{:.1}\" rx=\"2\"/>",
        b.x + 1.0,
        b.y + 1.0,
        b.h - 2.0
    );
    text(s, &b.label, "label", "");
    text(s, &b.detail, "detail", "");
    if let Some(c) = &b.change {
        text(s, c, "change", n.status.key());
    }
    if linked {
        s.push_str("</a>\n");
    }
    s.push_str("</g>\n");
}

fn text(s: &mut String, t: &TextBox, class: &str, extra: &str) {
    let class = if extra.is_empty() {
        class.to_owned()
    } else {
        format!("{class} {extra}")
    };
    let _ = write!(
        s,
        "<text class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\">{}",
        t.x,
        t.baseline,
        xml(&t.text)
    );
    if t.cut() {
        let _ = write!(s, "<title>{}</title>", xml(&t.full));
    }
    s.push_str("</text>\n");
}

impl Node {
    fn column_key(&self) -> &'static str {
        self.column.key()
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn join(set: &std::collections::BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// The CSS the HTML page adds for the map and its key.
pub const PAGE_CSS: &str = "
.map-scroll { overflow-x: auto; border: 1px solid var(--line, #dfe3ea); border-radius: 6px; margin: 10px 0 14px; }
.map-scroll svg { display: block; }
ul.map-key { columns: 2 420px; padding-left: 18px; font-size: 12.5px; line-height: 1.45; }
ul.map-key li { break-inside: avoid; margin-bottom: 6px; }
ul.map-key li:target { background: #fff5c2; outline: 2px solid #e0b400; }
ul.map-key .rows a { font-size: 12px; }
.map-alerts { border-left: 4px solid #d1002a; background: #fff1f3; padding: 8px 14px; }
tr:has(.anchor:target) td { background: #fff5c2; }
";

/// The HTML section: heading, a sentence on how to read it, the SVG, and the key that links
/// each box to its inventory rows.
pub fn section(g: &Graph, l: &Layout, diff: bool, title: &str, rows_here: bool) -> String {
    let mut s = String::new();
    s.push_str("<div class=\"map-scroll\">\n");
    s.push_str(&render(g, l, diff, Target::Inline, title));
    s.push_str("</div>\n");
    s.push_str(if diff {
        "<h3 id=\"map-key\">What changed, box by box</h3>\n<p>Each changed box of the map links \
         here; each entry lists the data behind the box"
    } else {
        "<h3 id=\"map-key\">Map key</h3>\n<p>Each box of the map links here; each entry lists the \
         data behind the box"
    });
    s.push_str(if rows_here {
        ", linked to its rows of the data inventory.</p>\n"
    } else {
        " (event · property).</p>\n"
    });
    s.push_str("<ul class=\"map-key\">\n");
    for &i in &l.order {
        let n = &g.nodes[i];
        if diff && n.status == Status::Same {
            continue;
        }
        let _ = write!(
            s,
            "<li id=\"{}\"><strong>{}</strong> <code>{}</code>: {}",
            xml(&n.anchor()),
            match n.column {
                Column::Category => "Category",
                Column::Purpose => "Purpose",
                Column::Destination => "Destination",
            },
            xml(&n.id),
            xml(n
                .title
                .strip_prefix(&format!("{}: ", n.id))
                .unwrap_or(&n.title))
        );
        if diff && !n.change.is_empty() {
            let _ = write!(s, " <em>Change: {}.</em>", xml(&n.change));
        }
        if !n.rows.is_empty() {
            s.push_str("<br><span class=\"rows\">");
            for (k, (anchor, label)) in n.rows.iter().enumerate() {
                if k > 0 {
                    s.push_str(", ");
                }
                if rows_here {
                    let _ = write!(s, "<a href=\"#{}\">{}</a>", xml(anchor), xml(label));
                } else {
                    s.push_str(&xml(label));
                }
            }
            s.push_str("</span>");
        }
        s.push_str("</li>\n");
    }
    s.push_str("</ul>\n");
    s
}
