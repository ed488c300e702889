//! The data map end to end: `docs --format svg|html` and `diff --format html` on real plans,
//! their SVG read as XML, and headless Chromium screenshots of the shop map, a diff map and a
//! 100-event map (kept when `TRACKPLAN_SCREENSHOT_DIR` is set, to look at them).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Command, Output};

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/synthetic.rs"]
mod synthetic;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use temp_dir::{TempDir, repo};

fn run_ok(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args(args)
        .current_dir(repo())
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "trackplan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(args: &[&str]) -> String {
    String::from_utf8(run_ok(args).stdout).expect("UTF-8")
}

impl TempDir {
    fn path(&self, name: &str) -> String {
        self.0.join(name).display().to_string()
    }
}

fn plan(path: &str) -> trackplan_model::Plan {
    let src = trackplan_model::SourceFile::read(repo().join(path)).expect("plan readable");
    trackplan_model::check(&src).plan.expect("a valid plan")
}

/// The inline `<svg>…</svg>` of an HTML page.
fn inline_svg(html: &str) -> &str {
    let start = html.find("<svg").expect("an inline SVG");
    let end = html[start..].find("</svg>").expect("its end") + start + "</svg>".len();
    &html[start..end]
}

/// The map's boxes: `(column, id) → (classes, status)`.
fn nodes(svg: &str) -> std::collections::BTreeMap<(String, String), (BTreeSet<String>, String)> {
    let doc = roxmltree::Document::parse(svg).expect("the map is well-formed XML");
    doc.descendants()
        .filter(|n| n.has_tag_name("g") && n.attribute("data-column").is_some())
        .map(|n| {
            let classes = n
                .attribute("class")
                .unwrap_or_default()
                .split(' ')
                .map(str::to_owned)
                .collect();
            (
                (
                    n.attribute("data-column").unwrap().to_owned(),
                    n.attribute("data-id").unwrap().to_owned(),
                ),
                (
                    classes,
                    n.attribute("data-status").unwrap_or_default().to_owned(),
                ),
            )
        })
        .collect()
}

/// Every purpose and destination is on the map; each third party, each sale-or-share purpose
/// and each special category is marked, and nothing else is.
fn assert_marks(plan: &trackplan_model::Plan, svg: &str) {
    let nodes = nodes(svg);
    let has = |col: &str, id: &str, class: &str| -> bool {
        let (classes, _) = nodes
            .get(&(col.to_owned(), id.to_owned()))
            .unwrap_or_else(|| panic!("{col} {id} is not on the map"));
        classes.contains(class)
    };
    for p in &plan.purposes {
        assert_eq!(
            has("purpose", &p.id.value, "sale"),
            p.sale_or_share.value,
            "{}",
            p.id.value
        );
    }
    for d in &plan.destinations {
        assert_eq!(
            has("destination", &d.id.value, "third"),
            d.third_party.value,
            "{}",
            d.id.value
        );
        assert_eq!(
            has("destination", &d.id.value, "first"),
            !d.third_party.value
        );
    }
    let special: BTreeSet<&str> = plan
        .events
        .iter()
        .flat_map(|e| &e.properties)
        .filter(|p| p.sensitivity.value == trackplan_model::Sensitivity::Special)
        .filter_map(|p| p.category.as_ref().map(|c| c.value.as_str()))
        .collect();
    assert!(
        !special.is_empty(),
        "the test plans have special-category data"
    );
    for ((col, id), (classes, _)) in &nodes {
        if col == "category" {
            assert_eq!(
                classes.contains("special"),
                special.contains(id.as_str()),
                "{id}"
            );
        }
    }
    for s in &special {
        assert!(has("category", s, "special"));
    }
    // The legend explains every mark.
    for text in [
        "third-party destination",
        "special category",
        "sells or shares",
    ] {
        assert!(svg.contains(text), "legend lacks {text:?}");
    }
}

#[test]
fn docs_svg_marks_every_purpose_destination_third_party_and_special_category() {
    let svg = stdout(&["docs", "plans/shop.toml", "--format", "svg"]);
    assert!(svg.starts_with("<?xml"));
    assert_marks(&plan("plans/shop.toml"), &svg);
    // A file of its own links nowhere.
    assert!(!svg.contains("<a "));

    let tmp = TempDir::new("synthetic");
    let path = tmp.path("synthetic.toml");
    std::fs::write(&path, synthetic::plan(100)).unwrap();
    let svg = stdout(&["docs", &path, "--format", "svg"]);
    let p = trackplan_model::check(&trackplan_model::SourceFile::new("s", synthetic::plan(100)))
        .plan
        .expect("the synthetic plan is valid");
    assert_eq!(p.events.len(), 100);
    assert_marks(&p, &svg);
    assert!(nodes(&svg).contains_key(&("purpose".into(), synthetic::purpose(11))));
    assert!(nodes(&svg).contains_key(&("destination".into(), synthetic::destination(9))));
}

#[test]
fn docs_html_map_links_each_box_to_its_inventory_rows() {
    let html = stdout(&["docs", "plans/shop.toml", "--format", "html"]);
    let svg = inline_svg(&html);
    assert_marks(&plan("plans/shop.toml"), svg);
    let ids: BTreeSet<&str> = html
        .split(" id=\"")
        .skip(1)
        .map(|s| &s[..s.find('"').unwrap()])
        .collect();
    let doc = roxmltree::Document::parse(svg).unwrap();
    let mut links = 0;
    for a in doc.descendants().filter(|n| n.has_tag_name("a")) {
        let target = a.attribute("href").unwrap().trim_start_matches('#');
        assert!(ids.contains(target), "box links to missing #{target}");
        links += 1;
    }
    let shop = plan("plans/shop.toml");
    assert!(links >= shop.purposes.len() + shop.destinations.len());
    // The key's entries link to inventory rows that exist: the e-mail category to its three rows.
    let key = &html[html
        .find("id=\"map-category-user.contact.email\"")
        .expect("key entry")..];
    let key = &key[..key.find("</li>").unwrap()];
    for row in [
        "inv-login_failed-email",
        "inv-password_reset_requested-email",
        "inv-support_ticket_opened-contact_email",
    ] {
        assert!(
            key.contains(&format!("href=\"#{row}\"")),
            "{row} not in {key}"
        );
        assert!(ids.contains(row), "no inventory row #{row}");
    }
    // Profile, group and context data are on the map too, linked to their inventory rows: the
    // e-mail trait next to the events' e-mails, the name (kept in profiles only) as a box of
    // its own, the group key and the context property among the uncategorized data.
    assert!(
        nodes(svg).contains_key(&("category".into(), "user.name".into())),
        "the first-name trait's category is on the map"
    );
    for (category, row) in [
        ("user.contact.email", "inv-traits.email"),
        ("user.name", "inv-traits.first_name"),
        ("(internal data, no category)", "inv-groups.company.key"),
        (
            "(internal data, no category)",
            "inv-groups.company.traits.seats",
        ),
        ("(public data, no category)", "inv-context.app_version"),
    ] {
        let entry = format!("id=\"map-category-{category}\"");
        let key = &html[html
            .find(&entry)
            .unwrap_or_else(|| panic!("no key entry {entry}"))..];
        let key = &key[..key.find("</li>").unwrap()];
        assert!(
            key.contains(&format!("href=\"#{row}\"")),
            "{row} not in {key}"
        );
        assert!(ids.contains(row), "no inventory row #{row}");
    }
}

#[test]
fn diff_html_highlights_what_the_change_adds_removes_and_sends_to_third_parties() {
    let html = stdout(&[
        "diff",
        "plans/shop.toml",
        "cli/tests/fixtures/map/shop_next.toml",
        "--format",
        "html",
    ]);
    for external in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        assert!(!html.contains(external), "self-contained: {external}");
    }
    let svg = inline_svg(&html);
    let nodes = nodes(svg);
    let status = |col: &str, id: &str| nodes[&(col.to_owned(), id.to_owned())].1.clone();
    assert_eq!(status("destination", "crm"), "added");
    assert_eq!(status("category", "user.health_and_medical"), "removed");
    assert_eq!(status("category", "user.contact.email"), "widened");
    assert_eq!(status("destination", "support_desk"), "same");
    assert!(
        nodes[&("destination".to_owned(), "ads".to_owned())]
            .0
            .contains("alert")
    );
    let doc = roxmltree::Document::parse(svg).unwrap();
    let alerts: BTreeSet<(String, String)> = doc
        .descendants()
        .filter(|n| {
            n.has_tag_name("path") && n.attribute("class").is_some_and(|c| c.contains("alert"))
        })
        .map(|n| {
            (
                n.attribute("data-from").unwrap().to_owned(),
                n.attribute("data-to").unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        alerts.contains(&("advertising".into(), "ads".into())),
        "{alerts:?}"
    );
    assert!(
        alerts.contains(&("customer_support".into(), "crm".into())),
        "{alerts:?}"
    );
    assert!(
        !alerts.iter().any(|(_, to)| to == "warehouse"),
        "{alerts:?}"
    );
    // Next to the map: the Markdown report's content, as HTML.
    assert!(html.contains("<h2 id=\"report\">Review report</h2>"));
    assert!(html.contains("<table>"), "the report's summary table");
    assert!(html.contains("Destination added"));
    assert!(html.contains("user.contact.email → advertising → ads (third party)"));
}

#[test]
fn diff_md_links_to_the_html_review_where_ci_publishes_it() {
    let md = stdout(&[
        "diff",
        "plans/shop.toml",
        "cli/tests/fixtures/map/shop_next.toml",
        "--map-url",
        "https://ci.example/artifacts/1 (x)",
    ]);
    let line = md
        .lines()
        .find(|l| l.contains("Data map of this change"))
        .expect("the link line");
    assert!(
        line.contains("(https://ci.example/artifacts/1%20%28x%29)"),
        "{line}"
    );
    let comparing = md.lines().position(|l| l.starts_with("Comparing")).unwrap();
    let link = md.lines().position(|l| l == line).unwrap();
    assert_eq!(link, comparing + 2, "right after the Comparing line:\n{md}");
    let plain = stdout(&[
        "diff",
        "plans/shop.toml",
        "cli/tests/fixtures/map/shop_next.toml",
    ]);
    assert!(!plain.contains("Data map of this change"));
}

/// Screenshots of the shop map (its own SVG), of the diff page and of the 100-event map.
#[test]
fn maps_render_in_chromium() {
    assert!(
        Path::new(chromium::CHROMIUM).exists(),
        "the map screenshots need headless Chromium at /usr/bin/chromium: run scripts/setup \
         (apt-get install chromium)"
    );
    let tmp = TempDir::new("shots");
    let synthetic = tmp.path("synthetic.toml");
    std::fs::write(&synthetic, synthetic::plan(100)).unwrap();
    let files = [
        (
            "shop-map",
            vec!["docs", "plans/shop.toml", "--format", "svg"],
            "svg",
            "1200,620",
        ),
        (
            "diff-map",
            vec![
                "diff",
                "plans/shop.toml",
                "cli/tests/fixtures/map/shop_next.toml",
                "--format",
                "html",
            ],
            "html",
            "1280,1400",
        ),
        (
            "synthetic-map",
            vec!["docs", synthetic.as_str(), "--format", "svg"],
            "svg",
            "1300,1500",
        ),
    ];
    for (name, args, ext, size) in files {
        let file = tmp.path(&format!("{name}.{ext}"));
        let mut args = args.clone();
        args.extend(["-o", file.as_str()]);
        run_ok(&args);
        let png = chromium::screenshot(&tmp.0, name, &format!("file://{file}"), size);
        assert!(
            png.len() > 30_000,
            "{name}: a screenshot with content, not a blank page"
        );
    }
}

#[test]
fn awkward_plan_text_stays_text_in_the_map() {
    let p = plan("plans/edge_cases.toml");
    for svg in [
        stdout(&["docs", "plans/edge_cases.toml", "--format", "svg"]),
        inline_svg(&stdout(&[
            "docs",
            "plans/edge_cases.toml",
            "--format",
            "html",
        ]))
        .to_owned(),
    ] {
        let doc = roxmltree::Document::parse(&svg).expect("well-formed XML whatever the plan says");
        let tags: BTreeSet<&str> = doc
            .descendants()
            .filter(|n| n.is_element())
            .map(|n| n.tag_name().name())
            .collect();
        let allowed: BTreeSet<&str> =
            ["svg", "title", "style", "rect", "g", "path", "text", "a"].into();
        assert!(tags.is_subset(&allowed), "unexpected elements: {tags:?}");
        let nodes = nodes(&svg);
        for d in &p.destinations {
            assert!(nodes.contains_key(&("destination".into(), d.id.value.clone())));
        }
        for q in &p.purposes {
            assert!(nodes.contains_key(&("purpose".into(), q.id.value.clone())));
            // Descriptions reach the tooltips as text.
            let first_line = q
                .description
                .value
                .lines()
                .next()
                .unwrap_or_default()
                .trim();
            assert!(
                doc.descendants()
                    .any(|n| n.has_tag_name("title")
                        && n.text().is_some_and(|t| t.contains(first_line))),
                "{first_line:?} not in a tooltip"
            );
        }
    }
}
