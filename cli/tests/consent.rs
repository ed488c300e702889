//! `trackplan consent verify|export|stats` on a ledger the runtime recorded: the chain is
//! checked and a broken entry named, a subject's export shows the texts each entry was
//! recorded under (also after the plan changed them) and never the raw id or the key.

// The plans' generated code names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use trackplan_runtime::Consent;
use trackplan_runtime::consent::{Collection, Ledger, Method, Surface};

mod shop {
    trackplan_macros::plan!("../runtime/tests/fixture/shop.toml");
}

mod reworded {
    trackplan_macros::plan!("../runtime/tests/ledger/shop_reworded.toml");
}

const KEY_HEX: &str = "4242424242424242424242424242424242424242424242424242424242424242";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!(
            "trackplan-cli-consent-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

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

fn who(raw: &str) -> String {
    trackplan_runtime::Key::from_hex(KEY_HEX)
        .expect("key")
        .pseudonymize(raw)
}

/// Notice #1, user-42 accepts (#2), user-7 sends GPC (#3), user-42 is asked again under the
/// reworded plan (notice #4, entry #5). Returns the open ledger.
fn record(dir: &Path) -> Ledger {
    let ledger = Ledger::open(dir).expect("open");
    ledger
        .record(
            &who("user-42"),
            &shop::PLAN,
            &Consent::none()
                .grant(shop::purpose::ProductAnalytics)
                .grant(shop::purpose::Advertising),
            &Collection::new(Method::Accept, Surface::Banner).jurisdiction("DE"),
        )
        .expect("record");
    ledger
        .record(
            &who("user-7"),
            &shop::PLAN,
            &Consent::from_gpc(true),
            &Collection::new(Method::Gpc, Surface::Api),
        )
        .expect("record");
    ledger
        .record(
            &who("user-42"),
            &reworded::PLAN,
            &Consent::none().grant(reworded::purpose::ProductAnalytics),
            &Collection::new(Method::SaveChoices, Surface::Settings).reconsent(),
        )
        .expect("record");
    ledger
}

#[test]
fn verify_reports_an_intact_chain_and_the_first_broken_entry() {
    let tmp = TempDir::new("verify");
    record(&tmp.0);
    let dir = tmp.0.to_str().expect("UTF-8 path");
    let out = run(&["consent", "verify", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("chain intact, 5 record(s) (3 entries, 0 deleted"),
        "{report}"
    );
    assert!(report.contains("head "), "{report}");

    // Damage the last byte of entry #3 (the record before the second notice).
    let file = tmp.0.join("consent.ledger");
    let mut bytes = std::fs::read(&file).expect("read");
    let mut starts = Vec::new();
    let mut at = 8;
    while at < bytes.len() {
        starts.push(at);
        at += 8 + u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
    }
    bytes[starts[3] - 1] ^= 0x20;
    std::fs::write(&file, &bytes).expect("write");
    let out = run(&["consent", "verify", dir]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains(&format!("chain BROKEN at entry #3 at byte {}", starts[2])),
        "{report}"
    );
    assert!(
        report.contains("the 2 record(s) before it verify"),
        "{report}"
    );
}

#[test]
fn export_shows_the_texts_each_entry_was_recorded_under_and_never_the_raw_id() {
    let tmp = TempDir::new("export");
    record(&tmp.0);
    let dir = tmp.0.to_str().expect("UTF-8 path");
    let out = run(&[
        "consent",
        "export",
        "--key-env",
        "TEST_CONSENT_KEY",
        "--id",
        "user-42",
        dir,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (report, err) = (text(&out.stdout), text(&out.stderr));
    for printed in [&report, &err] {
        assert!(!printed.contains("user-42"), "raw id printed: {printed}");
        assert!(!printed.contains(KEY_HEX), "key printed: {printed}");
    }
    assert!(report.contains(&who("user-42")), "{report}");
    assert!(err.contains("2 entries of subject"), "{err}");
    assert!(
        report.contains("entry #2") && report.contains("accept on banner"),
        "{report}"
    );
    assert!(report.contains("jurisdiction DE"), "{report}");
    assert!(
        report.contains("entry #5") && report.contains("supersedes #2"),
        "{report}"
    );
    assert!(
        report.contains("answer to a re-ask after a plan change"),
        "{report}"
    );
    assert!(
        !report.contains("entry #3"),
        "another subject's entry: {report}"
    );

    // JSON: each entry's texts are those of the plan version it names.
    let out = run(&[
        "consent",
        "export",
        "--key-env",
        "TEST_CONSENT_KEY",
        "--id",
        "user-42",
        "--format",
        "json",
        dir,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!text(&out.stdout).contains("user-42"));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(doc["chain_intact"], true);
    let entries = doc["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 2);
    for (entry, plan) in entries.iter().zip([&shop::PLAN, &reworded::PLAN]) {
        assert_eq!(entry["plan_label"], plan.label);
        assert_eq!(entry["plan_hash"], plan.hash);
        let shown: Vec<(&str, &str)> = entry["purposes"]
            .as_array()
            .expect("purposes")
            .iter()
            .map(|p| {
                (
                    p["purpose"].as_str().expect("id"),
                    p["text_shown"].as_str().expect("text"),
                )
            })
            .collect();
        let planned: Vec<(&str, &str)> = plan
            .purposes
            .iter()
            .map(|p| (p.id, p.description))
            .collect();
        assert_eq!(shown, planned);
    }
    assert_ne!(
        entries[0]["purposes"][1]["text_shown"], entries[1]["purposes"][1]["text_shown"],
        "the reworded advertising text"
    );
    assert_eq!(entries[0]["purposes"][1]["preference"], "opt_in");
    assert_eq!(entries[0]["texts_recomputed_from"], serde_json::Value::Null);

    // Given the plan files, each entry's texts are recomputed from its own version.
    let runtime = Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests");
    let (v3, v4) = (
        runtime.join("fixture/shop.toml"),
        runtime.join("ledger/shop_reworded.toml"),
    );
    let (v3, v4) = (v3.to_str().expect("UTF-8"), v4.to_str().expect("UTF-8"));
    let with_plans = |format: &str| {
        run(&[
            "consent",
            "export",
            "--key-env",
            "TEST_CONSENT_KEY",
            "--id",
            "user-42",
            "--plan",
            v4,
            "--plan",
            v3,
            "--format",
            format,
            dir,
        ])
    };
    let out = with_plans("json");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    for (entry, file) in doc["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .zip([v3, v4])
    {
        assert_eq!(entry["texts_recomputed_from"], file);
        assert_eq!(entry["texts_differ_for"], serde_json::json!([]));
    }
    let report = text(&with_plans("text").stdout);
    assert_eq!(
        report.matches("texts recomputed from").count(),
        2,
        "{report}"
    );
    assert!(report.contains(&format!("texts recomputed from {v3}: the same as recorded")));
    assert_eq!(entries[1]["purposes"][1]["preference"], "not_given");

    // Without the key: an error naming the variable, nothing about the subject.
    let out = Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args([
            "consent",
            "export",
            "--key-env",
            "NO_SUCH_KEY_VAR",
            "--id",
            "user-42",
            dir,
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("NO_SUCH_KEY_VAR") && !err.contains("user-42"),
        "{err}"
    );
}

#[test]
fn stats_counts_methods_and_current_choices_per_purpose() {
    let tmp = TempDir::new("stats");
    // The same ledger goes on (reopening could race with another test's child process,
    // which holds the directory's lock between its fork and exec).
    let ledger = record(&tmp.0);
    ledger
        .forget(&who("user-7"), Default::default())
        .expect("forget");
    drop(ledger);
    let out = run(&["consent", "stats", tmp.0.to_str().expect("UTF-8")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains("4 entries, 2 subjects (1 erased, proof kept), 0 entries deleted"),
        "{report}"
    );
    let row = |name: &str| -> Vec<String> {
        report
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("no row {name}: {report}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    for (m, n) in [
        ("accept", "1"),
        ("gpc", "1"),
        ("save", "1"),
        ("erasure", "1"),
    ] {
        assert_eq!(row(m), [n], "{report}");
    }
    // Only user-42 is current: analytics granted, advertising not (asked again).
    assert_eq!(
        row("product_analytics"),
        ["1", "0", "0", "0", "1"],
        "{report}"
    );
    assert_eq!(row("advertising"), ["0", "0", "0", "1", "0"], "{report}");
    assert_eq!(
        row("customer_support"),
        ["0", "0", "0", "1", "1"],
        "{report}"
    );
}

// Built with `--features postgres`, the CLI reads the URL instead (tests/consent_postgres.rs).
#[cfg(not(feature = "postgres"))]
#[test]
fn a_postgres_url_without_the_feature_is_a_clear_error_without_the_password() {
    let out = run(&["consent", "verify", "postgres://app:s3cret@db.example/app"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("--features postgres"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}
