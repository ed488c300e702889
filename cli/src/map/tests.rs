//! The map's geometry: nothing overlaps, everything is on the canvas, every text fits its box;
//! and the diff marks what a change adds, removes, widens and sends to third parties.

use super::layout::{self, Layout, TextBox};
use super::*;

#[path = "../../tests/support/synthetic.rs"]
mod synthetic;

fn plan(name: &str, text: &str) -> Plan {
    let src = trackplan_model::SourceFile::new(name, text);
    let checked = trackplan_model::check(&src);
    assert!(
        !checked.has_errors(),
        "{name} has errors: {:?}",
        checked
            .errors()
            .map(|d| d.message.clone())
            .collect::<Vec<_>>()
    );
    checked.plan.expect("a valid plan")
}

fn shop() -> Plan {
    plan("shop.toml", include_str!("../../../plans/shop.toml"))
}

fn shop_next() -> Plan {
    plan(
        "shop_next.toml",
        include_str!("../../tests/fixtures/map/shop_next.toml"),
    )
}

fn overlap(a: (f64, f64, f64, f64), b: (f64, f64, f64, f64)) -> bool {
    a.0 < b.0 + b.2 && b.0 < a.0 + a.2 && a.1 < b.1 + b.3 && b.1 < a.1 + a.3
}

fn rect(t: &TextBox) -> (f64, f64, f64, f64) {
    (t.x, t.y, t.w, t.h)
}

/// Every geometric promise of the layout, with the offending texts named.
fn assert_readable(what: &str, l: &Layout) {
    let texts = l.texts();
    assert!(!texts.is_empty());
    for t in &texts {
        assert!(
            t.x >= 0.0 && t.y >= 0.0 && t.x + t.w <= l.width && t.y + t.h <= l.height,
            "{what}: {:?} leaves the canvas {}×{}",
            t.text,
            l.width,
            l.height
        );
        // The drawn text is the estimate's own: cutting never leaves it wider than the box.
        assert!(
            (layout::text_width(&t.text, t.size, t.mono) - t.w).abs() < 1e-9,
            "{what}: {:?}",
            t.text
        );
    }
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            assert!(
                !overlap(rect(a), rect(b)),
                "{what}: labels overlap: {:?} at {:?} and {:?} at {:?}",
                a.text,
                rect(a),
                b.text,
                rect(b)
            );
        }
    }
    for (i, n) in l.nodes.iter().enumerate() {
        for t in [&n.label, &n.detail].into_iter().chain(n.change.as_ref()) {
            assert!(
                t.x >= n.x && t.x + t.w <= n.x + n.w && t.y >= n.y && t.y + t.h <= n.y + n.h,
                "{what}: {:?} sticks out of its box",
                t.text
            );
        }
        for m in &l.nodes[i + 1..] {
            assert!(
                !overlap((n.x, n.y, n.w, n.h), (m.x, m.y, m.w, m.h)),
                "{what}: boxes of {:?} and {:?} overlap",
                n.label.text,
                m.label.text
            );
        }
    }
}

#[test]
fn shop_map_is_readable() {
    let g = Graph::of(&shop());
    assert_readable("shop", &layout::place(&g, false));
    let d = Graph::diff(&shop(), &shop_next());
    assert_readable("shop diff", &layout::place(&d, true));
}

#[test]
fn hundred_event_map_is_readable_and_cuts_long_labels_with_a_tooltip() {
    let p = plan("synthetic.toml", &synthetic::plan(100));
    assert_eq!(p.events.len(), 100);
    let g = Graph::of(&p);
    let l = layout::place(&g, false);
    assert_readable("100 events", &l);
    assert!(
        l.texts().iter().any(|t| t.cut() && t.text.ends_with('…')),
        "the synthetic plan's long ids must be cut"
    );
    let svg = svg::render(&g, &l, false, svg::Target::Standalone, "t");
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG");
    for t in l.texts().iter().filter(|t| t.cut()) {
        assert!(
            doc.descendants().any(|n| n.has_tag_name("title")
                && n.text() == Some(t.full.as_str())
                && n.parent().is_some_and(|p| p.has_tag_name("text"))),
            "cut label {:?} has no <title> with {:?}",
            t.text,
            t.full
        );
    }
    // Removing half of the events makes a diff map of the same size that stays readable.
    let half = plan("half.toml", &synthetic::plan(50));
    assert_readable(
        "diff 50 → 100",
        &layout::place(&Graph::diff(&half, &p), true),
    );
}

#[test]
fn weights_count_properties() {
    let g = Graph::of(&shop());
    let node = |c: Column, id: &str| {
        g.nodes
            .iter()
            .position(|n| n.column == c && n.id == id)
            .unwrap_or_else(|| panic!("{id}"))
    };
    let email = node(Column::Category, "user.contact.email");
    let security = node(Column::Purpose, "security");
    // login_failed.email, password_reset_requested.email, support_ticket_opened.contact_email,
    // and the profile's e-mail trait.
    assert_eq!(g.nodes[email].weight, 4);
    assert!(
        g.nodes[email]
            .rows
            .iter()
            .any(|(anchor, label)| anchor == "inv-traits.email" && label == "profile · email"),
        "{:?}",
        g.nodes[email].rows
    );
    let e = g
        .edges
        .iter()
        .find(|e| e.from == email && e.to == security)
        .expect("email → security");
    assert_eq!(e.weight, 2);
    // The health filter is `redact`: the warehouse receives it, Mixpanel does not.
    let pa = node(Column::Purpose, "product_analytics");
    let to = |d: &str| {
        g.edges
            .iter()
            .find(|e| e.from == pa && e.to == node(Column::Destination, d))
            .expect("edge")
    };
    assert!(to("warehouse").personal.contains("user.health_and_medical"));
    assert!(!to("mixpanel").personal.contains("user.health_and_medical"));
    assert_eq!(to("warehouse").weight, to("mixpanel").weight + 2);
}

#[test]
fn diff_marks_added_removed_widened_and_new_third_party_flows() {
    let g = Graph::diff(&shop(), &shop_next());
    let status = |c: Column, id: &str| {
        g.nodes
            .iter()
            .find(|n| n.column == c && n.id == id)
            .unwrap_or_else(|| panic!("{id}"))
            .status
    };
    assert_eq!(status(Column::Destination, "crm"), Status::Added);
    assert_eq!(
        status(Column::Category, "user.health_and_medical"),
        Status::Removed
    );
    assert_eq!(
        status(Column::Category, "user.contact.email"),
        Status::Widened
    );
    assert_eq!(status(Column::Purpose, "security"), Status::Narrowed);
    assert_eq!(status(Column::Destination, "support_desk"), Status::Same);
    // Same number of properties (one in, one out), and no new category: the profile's e-mail
    // trait already brings e-mail data to product analytics.
    let pa = g
        .nodes
        .iter()
        .find(|n| n.column == Column::Purpose && n.id == "product_analytics")
        .unwrap();
    assert_eq!((pa.status, pa.change.as_str()), (Status::Same, ""));
    assert!(pa.personal.contains("user.contact.email"));
    // The name trait, kept for customer support, now reaches the third-party CRM too.
    let alerts = g.alerts();
    assert!(
        alerts
            .iter()
            .any(|a| a == "user.name → customer_support → crm (third party)"),
        "{alerts:?}"
    );
    let ads = g.nodes.iter().find(|n| n.id == "ads").unwrap();
    assert!(
        ads.change
            .starts_with("new personal data: user.contact.email"),
        "{}",
        ads.change
    );
    let alerts = g.alerts();
    for a in [
        "user.contact.email → advertising → ads (third party)",
        "user.contact.email → customer_support → crm (third party)",
    ] {
        assert!(alerts.iter().any(|x| x == a), "{a} missing from {alerts:?}");
    }
    // First-party flows are no alert, however new.
    assert!(
        !alerts.iter().any(|a| a.contains("warehouse")),
        "{alerts:?}"
    );
    // No change, no marks.
    let same = Graph::diff(&shop(), &shop());
    assert!(same.nodes.iter().all(|n| n.status == Status::Same));
    assert!(
        same.edges
            .iter()
            .all(|e| e.status == Status::Same && !e.alert())
    );
}

#[test]
fn profile_group_and_context_data_flow_to_their_purposes_destinations() {
    let p = shop();
    let by_label = |label: &str| {
        flows(&p)
            .into_iter()
            .find(|f| f.label == label)
            .unwrap_or_else(|| panic!("no flow {label}"))
    };
    // The name is kept for customer support: only the support desk receives it.
    let name = by_label("profile · first_name");
    assert_eq!(name.category, "user.name");
    assert_eq!(name.purposes, ["customer_support"]);
    assert_eq!(
        name.deliveries,
        [("customer_support".to_owned(), "support_desk".to_owned())]
    );
    let key = by_label("company · key");
    assert_eq!(key.anchor, "inv-groups.company.key");
    assert!(
        key.deliveries.iter().any(|(_, d)| d == "mixpanel"),
        "{:?}",
        key.deliveries
    );
    assert!(flows(&p).iter().any(|f| f.label == "company · seats"));
    // Context goes wherever the events it is sent with go.
    let context = by_label("context · app_version");
    assert_eq!(context.anchor, "inv-context.app_version");
    for e in &p.events {
        for d in p.routes(e) {
            assert!(
                context.deliveries.iter().any(|(_, x)| *x == d.id.value),
                "{} is sent with {} to {}",
                context.label,
                e.id.value,
                d.id.value
            );
        }
    }
}

#[test]
fn diff_alerts_on_a_new_personal_trait_reaching_a_third_party() {
    let text = include_str!("../../../plans/shop.toml");
    let head = plan(
        "shop_phone.toml",
        &format!(
            "{text}
[traits.phone]
name = \"Phone\"
type = \"string\"
sensitivity = \"personal\"
category = \"user.contact.phone_number\"
transform = \"hmac\"
purposes = [\"product_analytics\"]
description = \"Phone number, pseudonymized.\"
"
        ),
    );
    let g = Graph::diff(&shop(), &head);
    let phone = g
        .nodes
        .iter()
        .find(|n| n.column == Column::Category && n.id == "user.contact.phone_number")
        .expect("the new trait's category");
    assert_eq!(phone.status, Status::Added);
    assert!(phone.rows.iter().any(|(a, _)| a == "inv-traits.phone"));
    let alerts = g.alerts();
    assert!(
        alerts
            .iter()
            .any(|a| a == "user.contact.phone_number → product_analytics → mixpanel (third party)"),
        "{alerts:?}"
    );
    assert!(
        !alerts.iter().any(|a| a.contains("warehouse")),
        "first party is no alert: {alerts:?}"
    );
}

#[test]
fn xml_escapes_and_drops_what_xml_cannot_carry() {
    assert_eq!(
        svg::xml("<a href=\"x\">'&'</a>\u{1}\u{FFFF}\n"),
        "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt; "
    );
    assert_eq!(layout::fit("abcdef", 1000.0, 10.0, true), "abcdef");
    let cut = layout::fit("abcdefghijklmnop", 50.0, 10.0, true);
    assert!(cut.ends_with('…') && layout::text_width(&cut, 10.0, true) <= 50.0);
}
