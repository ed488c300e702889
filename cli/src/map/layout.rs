//! Where every box, arrow and label of the data map goes.
//!
//! No font is measured: text widths are estimated per character on the generous side (wider
//! than DejaVu, Liberation or the system UI fonts draw them), labels that would not fit are cut
//! with `…` (the SVG keeps the full text in a `<title>`), and columns and rows are sized from
//! those estimates, so no two labels can overlap whatever font the viewer picks. Every text
//! placed is recorded as a [`TextBox`], which the tests check for overlaps.

use super::{Column, Graph, Status};

/// The font size of box labels (monospace: plan ids and category keys).
pub const LABEL_PX: f64 = 13.0;
/// The font size of the detail and change lines, the headers and the legend (sans-serif).
pub const SMALL_PX: f64 = 11.0;
/// The font size of the column headers.
pub const HEADER_PX: f64 = 13.0;

const MARGIN: f64 = 16.0;
const HEADER_H: f64 = 34.0;
const GAP: f64 = 170.0;
const ROW_GAP: f64 = 12.0;
const PAD_LEFT: f64 = 16.0;
const PAD_RIGHT: f64 = 10.0;
const MIN_COL_W: f64 = 170.0;
const MAX_COL_W: f64 = 320.0;
const LEGEND_SWATCH: f64 = 14.0;

/// A text placed on the map: its box (top-left corner, size), what is drawn and what it stands
/// for in full.
#[derive(Debug, Clone, PartialEq)]
pub struct TextBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Estimated width (generous).
    pub w: f64,
    /// Line height.
    pub h: f64,
    /// The baseline's y, where the SVG `<text>` goes.
    pub baseline: f64,
    /// What is drawn (maybe cut with `…`).
    pub text: String,
    /// The full text; differs from `text` when it was cut.
    pub full: String,
    /// Font size in px.
    pub size: f64,
    /// Monospace (labels) or sans-serif.
    pub mono: bool,
}

impl TextBox {
    /// Whether the drawn text was cut to fit.
    pub fn cut(&self) -> bool {
        self.text != self.full
    }
}

/// A node's box and its lines of text.
#[derive(Debug, Clone)]
pub struct NodeBox {
    /// Left edge.
    pub x: f64,
    /// Top edge.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
    /// The id or key.
    pub label: TextBox,
    /// Basis and retention, kind and party, sensitivity and count.
    pub detail: TextBox,
    /// What the change did to it (diff map).
    pub change: Option<TextBox>,
}

/// An arrow: a cubic Bézier from the source's right edge to the target's left edge.
#[derive(Debug, Clone)]
pub struct EdgePath {
    /// Start point.
    pub from: (f64, f64),
    /// End point.
    pub to: (f64, f64),
    /// Stroke width, from the number of properties.
    pub width: f64,
}

impl EdgePath {
    /// The SVG path data.
    pub fn d(&self) -> String {
        let (x1, y1) = self.from;
        let (x2, y2) = self.to;
        let mid = (x1 + x2) / 2.0;
        format!("M{x1:.1} {y1:.1}C{mid:.1} {y1:.1} {mid:.1} {y2:.1} {x2:.1} {y2:.1}")
    }
}

/// One entry of the legend: a swatch and its text.
#[derive(Debug, Clone)]
pub struct LegendItem {
    /// Which swatch (a CSS class of the SVG).
    pub swatch: &'static str,
    /// Top-left of the swatch.
    pub x: f64,
    /// Top of the swatch.
    pub y: f64,
    /// Its text.
    pub text: TextBox,
}

/// The whole map, placed.
#[derive(Debug, Clone)]
pub struct Layout {
    /// Canvas width.
    pub width: f64,
    /// Canvas height.
    pub height: f64,
    /// One per graph node, same index.
    pub nodes: Vec<NodeBox>,
    /// One per graph edge, same index.
    pub edges: Vec<EdgePath>,
    /// The column headers.
    pub headers: Vec<TextBox>,
    /// The legend.
    pub legend: Vec<LegendItem>,
    /// The order in which nodes are drawn in each column (top to bottom), for the key.
    pub order: Vec<usize>,
}

#[cfg(test)]
impl Layout {
    /// Every text on the map.
    pub fn texts(&self) -> Vec<&TextBox> {
        let mut out: Vec<&TextBox> = self.headers.iter().collect();
        for n in &self.nodes {
            out.push(&n.label);
            out.push(&n.detail);
            out.extend(n.change.as_ref());
        }
        out.extend(self.legend.iter().map(|l| &l.text));
        out
    }
}

/// The estimated width of `s` in px: per character, on the wide side of common fonts.
pub fn text_width(s: &str, size: f64, mono: bool) -> f64 {
    s.chars().map(|c| char_em(c, mono)).sum::<f64>() * size
}

fn char_em(c: char, mono: bool) -> f64 {
    if !c.is_ascii() {
        // Arrows, symbols, accented and wide (CJK, emoji) characters.
        return if mono { 1.25 } else { 1.3 };
    }
    if mono {
        return 0.64;
    }
    match c {
        'i' | 'l' | 'j' | '.' | ',' | ':' | ';' | '\'' | '|' | '!' | 'I' | ' ' => 0.42,
        'f' | 't' | 'r' | '(' | ')' | '[' | ']' | '-' | '/' => 0.5,
        'm' | 'w' | 'M' | 'W' | '@' | '%' => 1.05,
        'A'..='Z' => 0.82,
        '0'..='9' => 0.66,
        _ => 0.66,
    }
}

/// `s` cut with `…` to at most `max` px.
pub fn fit(s: &str, max: f64, size: f64, mono: bool) -> String {
    if text_width(s, size, mono) <= max {
        return s.to_owned();
    }
    let ellipsis = text_width("…", size, mono);
    let mut out = String::new();
    let mut w = 0.0;
    for c in s.chars() {
        let cw = char_em(c, mono) * size;
        if w + cw + ellipsis > max {
            break;
        }
        w += cw;
        out.push(c);
    }
    out.truncate(out.trim_end().len());
    out.push('…');
    out
}

fn text_at(x: f64, top: f64, s: &str, max: f64, size: f64, mono: bool) -> TextBox {
    let text = fit(s, max, size, mono);
    let h = (size * 1.3).ceil();
    TextBox {
        x,
        y: top,
        w: text_width(&text, size, mono),
        h,
        baseline: top + size * 1.0,
        text,
        full: s.to_owned(),
        size,
        mono,
    }
}

/// Places the graph. `diff` reserves a third line in every box for what changed.
pub fn place(g: &Graph, diff: bool) -> Layout {
    let columns = [Column::Category, Column::Purpose, Column::Destination];
    let headers_text = [
        "Data categories",
        "Purposes (legal basis · retention)",
        "Destinations",
    ];
    let order = order(g);
    let node_h = if diff { 56.0 } else { 40.0 };
    let pitch = node_h + ROW_GAP;

    // Column widths from the widest text, capped; longer texts are cut.
    let mut widths = [0.0_f64; 3];
    for (c, col) in columns.iter().enumerate() {
        let mut w = text_width(headers_text[c], HEADER_PX, false);
        for n in g.nodes.iter().filter(|n| n.column == *col) {
            w = w
                .max(text_width(&n.id, LABEL_PX, true) + PAD_LEFT + PAD_RIGHT)
                .max(text_width(&n.detail, SMALL_PX, false) + PAD_LEFT + PAD_RIGHT);
        }
        // The change line (diff map) is cut to the box rather than widening the column, its
        // full text in a tooltip: a diff map is as wide as the plans' own maps.
        // A diff box has a third line to say what changed: a little more room for it.
        let min = if diff { MIN_COL_W + 50.0 } else { MIN_COL_W };
        widths[c] = w.clamp(min, MAX_COL_W).ceil();
    }
    let xs = [
        MARGIN,
        MARGIN + widths[0] + GAP,
        MARGIN + widths[0] + GAP + widths[1] + GAP,
    ];
    let counts: Vec<usize> = columns
        .iter()
        .map(|c| g.nodes.iter().filter(|n| n.column == *c).count())
        .collect();
    let tallest = counts.iter().copied().max().unwrap_or(0).max(1) as f64;
    let body_h = tallest * pitch - ROW_GAP;
    let top = MARGIN + HEADER_H;

    let headers = (0..3)
        .map(|c| text_at(xs[c], MARGIN, headers_text[c], widths[c], HEADER_PX, false))
        .collect();

    let mut nodes: Vec<Option<NodeBox>> = vec![None; g.nodes.len()];
    for (c, col) in columns.iter().enumerate() {
        let in_col: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| g.nodes[i].column == *col)
            .collect();
        let col_h = in_col.len() as f64 * pitch - ROW_GAP;
        let y0 = top + ((body_h - col_h) / 2.0).max(0.0).floor();
        for (k, &i) in in_col.iter().enumerate() {
            let n = &g.nodes[i];
            let x = xs[c];
            let y = y0 + k as f64 * pitch;
            let inner = widths[c] - PAD_LEFT - PAD_RIGHT;
            let tx = x + PAD_LEFT;
            let label = text_at(tx, y + 5.0, &n.id, inner, LABEL_PX, true);
            let detail = text_at(tx, y + 23.0, &n.detail, inner, SMALL_PX, false);
            let change =
                diff.then(|| text_at(tx, y + 39.0, &change_line(n), inner, SMALL_PX, false));
            nodes[i] = Some(NodeBox {
                x,
                y,
                w: widths[c],
                h: node_h,
                label,
                detail,
                change,
            });
        }
    }
    let nodes: Vec<NodeBox> = nodes
        .into_iter()
        .map(|n| n.expect("every node is placed"))
        .collect();

    // Ports: a node's arrows leave (and arrive) spread over its height, in the order of the
    // other ends, so they fan out instead of crossing at the box.
    let max_w = g.edges.iter().map(|e| e.weight).max().unwrap_or(1).max(1) as f64;
    let mut out_ports = vec![Vec::new(); g.nodes.len()];
    let mut in_ports = vec![Vec::new(); g.nodes.len()];
    for (k, e) in g.edges.iter().enumerate() {
        out_ports[e.from].push(k);
        in_ports[e.to].push(k);
    }
    let center = |i: usize| nodes[i].y + nodes[i].h / 2.0;
    let mut from_y = vec![0.0; g.edges.len()];
    let mut to_y = vec![0.0; g.edges.len()];
    for i in 0..g.nodes.len() {
        let spread = |ks: &mut Vec<usize>, other: &dyn Fn(usize) -> f64, ys: &mut Vec<f64>| {
            ks.sort_by(|a, b| other(*a).total_cmp(&other(*b)));
            let m = ks.len() as f64;
            for (j, &k) in ks.iter().enumerate() {
                ys[k] = nodes[i].y + 6.0 + (nodes[i].h - 12.0) * (j as f64 + 1.0) / (m + 1.0);
            }
        };
        spread(&mut out_ports[i], &|k| center(g.edges[k].to), &mut from_y);
        spread(&mut in_ports[i], &|k| center(g.edges[k].from), &mut to_y);
    }
    // Where many arrows share a box side their ports are close: no arrow is much wider than
    // the distance between ports, so a dense bundle stays a fan of lines, not a solid band.
    let spacing = |i: usize, m: usize| (nodes[i].h - 12.0) / (m as f64 + 1.0);
    let edges = g
        .edges
        .iter()
        .enumerate()
        .map(|(k, e)| {
            let a = &nodes[e.from];
            let b = &nodes[e.to];
            let room =
                spacing(e.from, out_ports[e.from].len()).min(spacing(e.to, in_ports[e.to].len()));
            EdgePath {
                from: (a.x + a.w, from_y[k]),
                to: (b.x, to_y[k]),
                width: (1.5 + 8.5 * (e.weight as f64 / max_w).sqrt()).min((1.6 * room).max(1.2)),
            }
        })
        .collect();

    let width = (xs[2] + widths[2] + MARGIN).ceil();
    let (legend, legend_bottom) = legend(diff, top + body_h + 28.0, width);
    Layout {
        width,
        height: (legend_bottom + MARGIN).ceil(),
        nodes,
        edges,
        headers,
        legend,
        order,
    }
}

/// The third line of a box on the diff map.
pub fn change_line(n: &super::Node) -> String {
    match n.status {
        Status::Same => "unchanged".to_owned(),
        Status::Added => format!("+ {}", n.change),
        Status::Removed => format!("− {}", n.change),
        Status::Widened => format!("▲ {}", n.change),
        Status::Narrowed => format!("▼ {}", n.change),
    }
}

/// The legend, wrapped to the canvas width; returns its items and its bottom edge.
fn legend(diff: bool, top: f64, width: f64) -> (Vec<LegendItem>, f64) {
    let mut items: Vec<(&'static str, &'static str)> = vec![
        ("sw-special", "special category (GDPR Art. 9/10)"),
        ("sw-personal", "personal data"),
        ("sw-plain", "not personal"),
        ("sw-sale", "purpose that sells or shares (opt-out, GPC)"),
        ("sw-third", "third-party destination"),
        ("sw-first", "first-party destination"),
        ("sw-weight", "arrow width: number of properties"),
    ];
    if diff {
        items.extend([
            ("sw-added", "+ added by the change"),
            ("sw-removed", "− removed by the change"),
            ("sw-widened", "▲ widened: more data or a new mark"),
            ("sw-narrowed", "▼ narrowed: less data"),
            ("sw-alert", "new personal data to a third party"),
        ]);
    }
    let line = 22.0;
    let (mut x, mut y) = (MARGIN, top);
    let mut out = Vec::new();
    for (swatch, text) in items {
        let tw = text_width(text, SMALL_PX, false);
        let item_w = LEGEND_SWATCH + 6.0 + tw + 22.0;
        if x > MARGIN && x + item_w > width - MARGIN {
            x = MARGIN;
            y += line;
        }
        let max = (width - 2.0 * MARGIN - LEGEND_SWATCH - 6.0).max(40.0);
        out.push(LegendItem {
            swatch,
            x,
            y,
            text: text_at(x + LEGEND_SWATCH + 6.0, y, text, max, SMALL_PX, false),
        });
        x += item_w;
    }
    (out, y + line)
}

/// Nodes in drawing order: purposes as in the plan; categories and destinations by the mean
/// position of the purposes they connect to (fewer crossings), then as in the plan.
fn order(g: &Graph) -> Vec<usize> {
    let purpose_pos: Vec<Option<usize>> = {
        let mut k = 0;
        g.nodes
            .iter()
            .map(|n| {
                (n.column == Column::Purpose).then(|| {
                    k += 1;
                    k - 1
                })
            })
            .collect()
    };
    let bary = |i: usize| -> f64 {
        let (mut sum, mut w) = (0.0, 0.0);
        for e in &g.edges {
            let other = if e.from == i {
                e.to
            } else if e.to == i {
                e.from
            } else {
                continue;
            };
            if let Some(p) = purpose_pos[other] {
                sum += p as f64 * e.weight as f64;
                w += e.weight as f64;
            }
        }
        if w == 0.0 { f64::MAX } else { sum / w }
    };
    let mut out = Vec::with_capacity(g.nodes.len());
    for col in [Column::Category, Column::Purpose, Column::Destination] {
        let mut ids: Vec<(f64, usize)> = g
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.column == col)
            .map(|(i, _)| {
                (
                    if col == Column::Purpose {
                        i as f64
                    } else {
                        bary(i)
                    },
                    i,
                )
            })
            .collect();
        ids.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        out.extend(ids.into_iter().map(|(_, i)| i));
    }
    out
}
