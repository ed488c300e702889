//! `trackplan diff --format html`: the review report as one self-contained page, with the data
//! map of the change (what it adds, removes and widens) above the report's own content.
//!
//! The report part is the Markdown of [`crate::report::markdown`] rendered by pulldown-cmark,
//! so the page and the pull-request comment cannot disagree. Plan text in that Markdown is
//! already escaped (`<` as `&lt;`, code spans literal), and the only raw HTML it carries is the
//! report's own `<details>` legend.

use crate::map::{Graph, layout, svg};
use std::fmt::Write as _;
use trackplan_model::Plan;

/// The page. `report_md` is the Markdown report of the same change.
pub fn page(base: &Plan, head: &Plan, report_md: &str) -> String {
    let g = Graph::diff(base, head);
    let l = layout::place(&g, true);
    let title = format!(
        "Tracking plan review: {} v{} → {} v{}",
        base.name.value, base.version.value, head.name.value, head.version.value
    );
    let mut body = String::new();
    let _ = writeln!(body, "<h1 id=\"top\">{}</h1>", svg::xml(&title));
    let alerts = g.alerts();
    if !alerts.is_empty() {
        body.push_str(
            "<div class=\"map-alerts\" id=\"alerts\"><p><strong>New personal data to third \
             parties</strong> (red on the map): confirm each recipient, purpose and legal \
             basis.</p>\n<ul>\n",
        );
        for a in &alerts {
            let _ = writeln!(body, "<li><code>{}</code></li>", svg::xml(a));
        }
        body.push_str("</ul></div>\n");
    }
    let changed = g
        .nodes
        .iter()
        .filter(|n| n.status != crate::map::Status::Same)
        .count()
        + g.edges
            .iter()
            .filter(|e| e.status != crate::map::Status::Same)
            .count();
    let _ = writeln!(
        body,
        "<h2 id=\"map\">Data map of the change</h2>\n<p>Both plans on one map: data categories \
         (left) → purposes (middle) → destinations (right), arrow width = number of properties. \
         {} box{} or arrow{} changed: green added, grey dashed removed, amber widened (more \
         data, or a new mark such as third party or sale/share), blue narrowed. Hover for \
         details; the key below lists the data behind each box.</p>",
        changed,
        if changed == 1 { "" } else { "es" },
        if changed == 1 { "" } else { "s" },
    );
    body.push_str(&svg::section(&g, &l, true, &title, false));
    body.push_str("<h2 id=\"report\">Review report</h2>\n");
    // The report's own title repeats the page's.
    let report = match report_md.strip_prefix("## ") {
        Some(rest) => rest.split_once('\n').map_or("", |(_, r)| r),
        None => report_md,
    };
    body.push_str(&markdown_to_html(report));
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>\n{}{}{PAGE}</style>\n</head>\n<body>\n<main>\n{body}</main>\n\
         </body>\n</html>\n",
        svg::xml(&title),
        crate::docs::CSS,
        svg::PAGE_CSS,
    )
}

const PAGE: &str = "
.report h2 { font-size: 18px; }
.report table { width: auto; }
.report td, .report th { border: 1px solid var(--line); }
.report thead th { position: static; }
details { margin: 18px 0; }
";

fn markdown_to_html(md: &str) -> String {
    use pulldown_cmark::{Options, Parser, html};
    let parser = Parser::new_ext(md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH);
    let mut out = String::from("<div class=\"report\">\n");
    html::push_html(&mut out, parser);
    out.push_str("</div>\n");
    out
}

/// The line the Markdown report gets when CI publishes the HTML page somewhere: placed after
/// the report's "Comparing …" line.
pub fn with_map_link(md: &str, url: &str) -> String {
    let link = format!(
        "🗺️ **Data map of this change:** [open the HTML review]({}) (what the change adds, \
         removes and widens, drawn as a map).\n\n",
        url.replace(' ', "%20")
            .replace('(', "%28")
            .replace(')', "%29")
            .replace('<', "%3C")
            .replace('>', "%3E")
    );
    match md
        .find("\n\nComparing ")
        .and_then(|i| md[i + 2..].find("\n\n").map(|j| i + 2 + j + 2))
    {
        Some(at) => format!("{}{link}{}", &md[..at], &md[at..]),
        None => format!("{link}{md}"),
    }
}
