//! `trackplan consent verify|export|stats` on a ledger kept in a real PostgreSQL server (the
//! runtime's throwaway test server; the CLI built with `--features postgres`).

// The plan's generated code names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

#[path = "../../runtime/tests/support/postgres.rs"]
mod pg;

use std::process::{Command, Output};

use trackplan_runtime::Consent;
use trackplan_runtime::consent::{Collection, Ledger, Method, Surface};

mod shop {
    trackplan_macros::plan!("../runtime/tests/fixture/shop.toml");
}

const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args(args)
        .env("TEST_CONSENT_KEY", KEY_HEX)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

#[test]
fn verify_export_and_stats_read_the_ledger_in_postgres() {
    let server = pg::PgServer::start();
    let url = server.url();
    let key = trackplan_runtime::Key::from_hex(KEY_HEX).expect("key");
    let ledger = Ledger::connect(&url).expect("connect");
    for (raw, consent, method) in [
        (
            "user-42",
            Consent::none().grant(shop::purpose::ProductAnalytics),
            Method::Accept,
        ),
        ("user-7", Consent::from_gpc(true), Method::Gpc),
        ("user-42", Consent::none(), Method::Reject),
    ] {
        ledger
            .record(
                &key.pseudonymize(raw),
                &shop::PLAN,
                &consent,
                &Collection::new(method, Surface::Banner),
            )
            .expect("record");
    }

    let out = run(&["consent", "verify", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("chain intact, 4 record(s) (3 entries"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&[
        "consent",
        "export",
        "--key-env",
        "TEST_CONSENT_KEY",
        "--id",
        "user-42",
        &url,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(!report.contains("user-42") && !text(&out.stderr).contains("user-42"));
    assert!(
        report.contains("entry #2") && report.contains("entry #4"),
        "{report}"
    );
    assert!(report.contains("reject on banner"), "{report}");
    assert!(
        report.contains(&format!("shown: {:?}", shop::PLAN.purposes[0].description)),
        "{report}"
    );

    let out = run(&["consent", "stats", &url]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("3 entries, 2 subjects"));

    // A row changed in the table: verify names it.
    server
        .client()
        .execute(
            "UPDATE trackplan_consent_ledger SET payload = convert_to(replace(convert_from(payload, 'UTF8'), 'reject', 'accept'), 'UTF8') WHERE seq = 4",
            &[],
        )
        .expect("update");
    let out = run(&["consent", "verify", &url]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout)
            .contains("chain BROKEN at entry #4: its content does not match its digest"),
        "{}",
        text(&out.stdout)
    );
}
