//! `trackplan subject export|forget` and `trackplan consent verify|export|stats` on stores the
//! runtime encrypted (feature `encryption`): read with the key from `--key-env` (the key the
//! app derives its encryption key from) or `--encryption-key-env`; without it, a clear error
//! and no file changed.

// The plan's generated code names `::trackplan::…`.
extern crate trackplan_runtime as trackplan;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use trackplan_runtime::consent::{Collection, Ledger, Method, Surface};
use trackplan_runtime::crypt::{Keyring, SealKey, SealedNdjson};
use trackplan_runtime::sinks::Ndjson;
use trackplan_runtime::spool::SyncPolicy;
use trackplan_runtime::{Consent, Key, Tracker};

mod shop {
    trackplan_macros::plan!("../runtime/tests/fixture/shop.toml");
}

const KEY_HEX: &str = "5151515151515151515151515151515151515151515151515151515151515151";
const OTHER_HEX: &str = "6262626262626262626262626262626262626262626262626262626262626262";
const CANARY: &str = "canary-sku-e2";

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir =
            std::env::temp_dir().join(format!("trackplan-cli-crypt-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
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
        .env("TEST_KEY", KEY_HEX)
        .env("OTHER_KEY", OTHER_HEX)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8(bytes.to_vec()).expect("UTF-8")
}

fn key() -> Key {
    Key::from_hex(KEY_HEX).expect("key")
}

fn keys() -> Keyring {
    Keyring::new(SealKey::derive(&key()))
}

/// An encrypted NDJSON store with two events of `user-42` and one of `user-7`.
fn store(path: &Path) {
    let tracker = Tracker::builder(&shop::PLAN)
        .key(key())
        .sink(
            shop::destination::Warehouse,
            Ndjson::create_encrypted(path, keys()).expect("create"),
        )
        .skip(shop::destination::Mixpanel)
        .skip(shop::destination::Ads)
        .skip(shop::destination::SecurityLog)
        .skip(shop::destination::SupportDesk)
        .max_delay(Duration::from_millis(5))
        .build()
        .expect("tracker");
    let consent = Consent::none().grant(shop::purpose::ProductAnalytics);
    for (who, sku) in [("user-42", "a"), ("user-7", "b"), ("user-42", "c")] {
        tracker.subject(who, consent).track(shop::ProductViewed {
            product_id: format!("{CANARY}-{sku}"),
            price: 1.0,
            currency: shop::Currency::Eur,
        });
    }
    tracker.flush().expect("flush");
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn subject_export_and_forget_read_an_encrypted_store_with_the_key() {
    let tmp = TempDir::new("subject");
    let file = tmp.0.join("events.ndjson");
    store(&file);
    let path = file.to_str().expect("UTF-8 path");
    let before = std::fs::read(&file).expect("read");
    assert!(!contains(&before, CANARY.as_bytes()), "the store is sealed");

    // Without the key: refused, nothing changed.
    for verb in ["export", "forget"] {
        let out = run(&["subject", verb, "--identity", "none", "--id", "x", path]);
        assert!(!out.status.success(), "{verb} without a key");
        let err = text(&out.stderr);
        assert!(
            err.contains("encrypted") && err.contains("--key-env"),
            "{err}"
        );
        assert_eq!(std::fs::read(&file).expect("read"), before);
    }
    // A wrong key: refused with the key id it needs, nothing changed.
    let out = run(&[
        "subject",
        "forget",
        "--identity",
        "none",
        "--encryption-key-env",
        "OTHER_KEY",
        "--id",
        "x",
        path,
    ]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&SealKey::derive(&key()).id()), "{err}");
    assert_eq!(std::fs::read(&file).expect("read"), before);

    let out = run(&[
        "subject",
        "export",
        "--key-env",
        "TEST_KEY",
        "--id",
        "user-42",
        path,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = text(&out.stdout);
    assert_eq!(lines.lines().count(), 2, "{lines}");
    assert!(lines.contains(&format!("{CANARY}-a")) && lines.contains(&format!("{CANARY}-c")));
    assert!(!lines.contains("user-42"), "the raw id is never printed");

    let out = run(&[
        "subject",
        "forget",
        "--key-env",
        "TEST_KEY",
        "--id",
        "user-42",
        path,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("removed 2 event(s)"),
        "{}",
        text(&out.stderr)
    );
    let after = std::fs::read(&file).expect("read");
    assert!(
        !contains(&after, CANARY.as_bytes()),
        "still sealed after the rewrite"
    );
    let left: Vec<String> = SealedNdjson::read(&file, &keys())
        .expect("open")
        .lines()
        .map(text)
        .collect();
    assert_eq!(left.len(), 1);
    assert!(left[0].contains(&key().pseudonymize("user-7")), "{left:?}");
}

#[test]
fn consent_verify_export_and_stats_read_an_encrypted_ledger_with_the_key() {
    let tmp = TempDir::new("ledger");
    {
        let ledger = Ledger::open_encrypted(&tmp.0, SyncPolicy::EveryEvent, keys()).expect("open");
        ledger
            .record(
                &key().pseudonymize("user-42"),
                &shop::PLAN,
                &Consent::none().grant(shop::purpose::ProductAnalytics),
                &Collection::new(Method::Accept, Surface::Banner).jurisdiction("DE"),
            )
            .expect("record");
    }
    let dir = tmp.0.to_str().expect("UTF-8 path");
    let file = tmp.0.join("consent.ledger");
    let before = std::fs::read(&file).expect("read");

    let out = run(&["consent", "verify", dir]);
    assert!(!out.status.success(), "an encrypted ledger needs its key");
    let err = text(&out.stderr);
    assert!(
        err.contains("encrypted") && err.contains(&SealKey::derive(&key()).id()),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).expect("read"), before);

    let out = run(&["consent", "verify", "--key-env", "TEST_KEY", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("chain intact"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&["consent", "stats", "--key-env", "TEST_KEY", dir]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("accept"),
        "{}",
        text(&out.stdout)
    );

    let out = run(&[
        "consent",
        "export",
        "--key-env",
        "TEST_KEY",
        "--id",
        "user-42",
        "--format",
        "json",
        dir,
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(
        report.contains(shop::PLAN.purposes[0].description),
        "{report}"
    );
    assert!(!report.contains("user-42"), "{report}");
}
