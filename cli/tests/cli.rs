//! End-to-end tests of the `trackplan` binary: each runs the real command on files in
//! `tests/fixtures/` (or the repository's `plans/`) and checks what a user would see.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

#[path = "support/chromium.rs"]
mod chromium;
#[path = "support/temp_dir.rs"]
mod temp_dir;

use temp_dir::{TempDir, repo};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixtures() -> PathBuf {
    crate_dir().join("tests/fixtures")
}

/// Runs `trackplan` in `dir` without colour.
fn run(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .output()
        .expect("the binary runs")
}

/// Runs `trackplan` like [`run`], failing the test with its stderr unless it succeeds.
fn run_ok(dir: &Path, args: &[&str]) -> Output {
    let out = run(dir, args);
    assert!(out.status.success(), "{}", stderr(&out));
    out
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).expect("UTF-8 output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).expect("UTF-8 output")
}

// ---- diff -------------------------------------------------------------------------------------

const HEADS: &[&str] = &[
    "added",
    "removed",
    "reshaped",
    "purposes",
    "protection",
    "reach",
];

#[test]
fn diff_reports_in_markdown() {
    let dir = fixtures().join("diff");
    for head in HEADS {
        let out = run(&dir, &["diff", "base.toml", &format!("{head}.toml")]);
        assert!(out.status.success(), "{head}: {}", stderr(&out));
        insta::assert_snapshot!(format!("diff_{head}_md"), stdout(&out));
    }
}

/// Traits, group kinds and context (issue 11): a personal trait that starts reaching a third
/// party, a new one that does, a removed one, a group trait, context on other events.
#[test]
fn diff_reports_profile_group_and_context_changes() {
    let dir = fixtures().join("diff");
    let out = run(&dir, &["diff", "profile_base.toml", "profile.toml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    insta::assert_snapshot!("diff_profile_md", stdout(&out));
    let out = run(
        &dir,
        &[
            "diff",
            "profile_base.toml",
            "profile.toml",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let kinds: Vec<(&str, &str)> = value["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| {
            (
                c["kind"].as_str().unwrap_or(""),
                c["impact"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // The new personal trait reaching a third party, and the old one widened to it, are high.
    assert!(kinds.contains(&("trait_added", "high")), "{kinds:?}");
    assert!(
        kinds.contains(&("personal_data_to_third_party", "high")),
        "{kinds:?}"
    );
    insta::assert_json_snapshot!("diff_profile_json", value);
}

#[test]
fn diff_reports_in_json() {
    let dir = fixtures().join("diff");
    for head in HEADS {
        let out = run(
            &dir,
            &[
                "diff",
                "base.toml",
                &format!("{head}.toml"),
                "--format",
                "json",
            ],
        );
        assert!(out.status.success(), "{head}: {}", stderr(&out));
        let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        insta::assert_json_snapshot!(format!("diff_{head}_json"), value);
    }
}

#[test]
fn every_change_kind_is_covered_by_the_fixtures() {
    let dir = fixtures().join("diff");
    let mut seen = std::collections::BTreeSet::new();
    for head in HEADS {
        let out = run(
            &dir,
            &[
                "diff",
                "base.toml",
                &format!("{head}.toml"),
                "--format",
                "json",
            ],
        );
        let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
        for c in value["changes"].as_array().expect("changes") {
            seen.insert(c["kind"].as_str().expect("kind").to_owned());
        }
    }
    // The kinds the review issue lists; DestinationKindChanged and PlanRenamed are covered by
    // the model's unit tests.
    for kind in [
        "version_not_bumped",
        "identity_changed",
        "purpose_added",
        "legal_basis_changed",
        "data_use_changed",
        "retention_changed",
        "sale_or_share_changed",
        "notice_text_changed",
        "destination_added",
        "destination_removed",
        "destination_purposes_widened",
        "third_party_changed",
        "event_added",
        "event_removed",
        "wire_name_renamed",
        "purposes_widened",
        "purposes_narrowed",
        "property_added",
        "property_removed",
        "type_changed",
        "enum_values_changed",
        "required_changed",
        "sensitivity_raised",
        "sensitivity_lowered",
        "category_changed",
        "transform_weakened",
        "transform_strengthened",
        "policy_added",
        "policy_removed",
        "personal_data_to_third_party",
    ] {
        assert!(seen.contains(kind), "no fixture shows `{kind}`: {seen:?}");
    }
}

#[test]
fn diff_json_values_are_data_and_the_md_version_check_agrees_with_its_summary() {
    let dir = fixtures().join("diff");
    let out = run_ok(
        &dir,
        &["diff", "base.toml", "purposes.toml", "--format", "json"],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let changes = value["changes"].as_array().expect("changes");
    for c in changes {
        for side in ["before", "after"] {
            let text = c[side].as_str().unwrap_or_default();
            assert!(!text.contains('`'), "Markdown in JSON {side}: {c}");
        }
    }
    let widened = changes
        .iter()
        .find(|c| c["kind"] == "purposes_widened")
        .expect("a widening");
    assert!(
        widened["before"].is_array() && widened["after"].is_array(),
        "{widened}"
    );

    let md = stdout(&run_ok(&dir, &["diff", "base.toml", "removed.toml"]));
    assert!(
        md.contains("| ⚠️ action needed | Version not bumped |"),
        "{md}"
    );
    assert!(
        md.contains("**⚠️ Action needed.** 3 breaking changes"),
        "{md}"
    );
}

#[test]
fn diff_names_each_personal_property_that_reaches_a_new_third_party() {
    let dir = fixtures().join("diff");
    let out = run_ok(
        &dir,
        &["diff", "base.toml", "reach.toml", "--format", "json"],
    );
    let value: serde_json::Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    let reached: Vec<(String, String, String)> = value["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter(|c| c["kind"] == "personal_data_to_third_party")
        .map(|c| {
            (
                c["path"].as_str().unwrap_or_default().to_owned(),
                c["impact"].as_str().unwrap_or_default().to_owned(),
                c["after"].to_string(),
            )
        })
        .collect();
    assert_eq!(
        reached,
        [
            (
                "events.login_failed.properties.email".to_owned(),
                "high".to_owned(),
                r#"["adnet"]"#.to_owned()
            ),
            (
                "events.login_failed.properties.ip".to_owned(),
                "high".to_owned(),
                r#"["adnet"]"#.to_owned()
            ),
        ]
    );
}

#[test]
fn diff_fail_on_sets_the_exit_code() {
    let dir = fixtures().join("diff");
    let code = |head: &str, flags: &[&str]| {
        let mut args = vec!["diff", "base.toml", head];
        args.extend_from_slice(flags);
        run(&dir, &args).status.code()
    };
    // `removed` breaks consumers without a version bump; `reshaped` bumps it.
    assert_eq!(code("removed.toml", &[]), Some(0));
    assert_eq!(code("removed.toml", &["--fail-on", "breaking"]), Some(1));
    assert_eq!(code("reshaped.toml", &["--fail-on", "breaking"]), Some(0));
    assert_eq!(code("removed.toml", &["--fail-on", "never"]), Some(0));
    // `reshaped` changes no personal data; `added` adds some.
    assert_eq!(code("reshaped.toml", &["--fail-on", "privacy"]), Some(0));
    assert_eq!(code("added.toml", &["--fail-on", "privacy"]), Some(1));
    assert_eq!(
        code(
            "added.toml",
            &["--fail-on", "breaking", "--fail-on", "privacy"]
        ),
        Some(1)
    );
    assert_eq!(code("base.toml", &["--fail-on", "privacy"]), Some(0));
}

#[test]
fn diff_reads_plans_from_git() {
    let tmp = TempDir::new("git");
    let dir = &tmp.0;
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .output()
            .expect("git runs")
            .status
            .success();
        assert!(ok, "git {args:?}");
    };
    git(&["init", "-q"]);
    std::fs::create_dir_all(dir.join("plans")).unwrap();
    let base = std::fs::read_to_string(fixtures().join("diff/base.toml")).unwrap();
    std::fs::write(dir.join("plans/app.toml"), base).unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "base"]);
    let head = std::fs::read_to_string(fixtures().join("diff/removed.toml")).unwrap();
    std::fs::write(dir.join("plans/app.toml"), head).unwrap();

    let out = run_ok(
        dir,
        &["diff", "git:HEAD", "plans/app.toml", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(v["summary"]["version_not_bumped"], true);

    // From a subdirectory, paths are relative to it, like file arguments.
    let out = run_ok(
        &dir.join("plans"),
        &["diff", "git:HEAD:app.toml", "app.toml", "--format", "md"],
    );
    assert!(stdout(&out).contains("Comparing `git:HEAD:app.toml` (before)"));

    let out = run(dir, &["diff", "git:no-such-rev", "plans/app.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot read git:no-such-rev:plans/app.toml from git"));
}

#[test]
fn diff_of_an_invalid_plan_shows_its_errors() {
    let out = run(&fixtures(), &["diff", "diff/base.toml", "check/typo.toml"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("error[unknown-key]"), "{err}");
    assert!(err.contains("check/typo.toml has errors"), "{err}");
}

#[test]
fn diff_compares_a_base_that_no_longer_validates() {
    // Rules tighten over time: an old plan that parses but breaks today's rules is still a
    // valid starting point for a review.
    let out = run_ok(
        &fixtures(),
        &["diff", "check/privacy.toml", "diff/base.toml"],
    );
    assert!(
        stderr(&out).contains("warning: check/privacy.toml does not pass validation (4 error(s))"),
        "{}",
        stderr(&out)
    );
    assert!(stdout(&out).contains("## Tracking plan review: `leaky` v1 → `app` v1"));
    // A base that does not parse cannot be compared.
    let out = run(
        &fixtures(),
        &["diff", "check/syntax.toml", "diff/base.toml"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("error[toml-syntax]"));
}

// ---- check ------------------------------------------------------------------------------------

#[test]
fn check_broken_plans() {
    let dir = fixtures().join("check");
    for name in ["typo", "syntax", "privacy", "unknown"] {
        let out = run(&dir, &["check", &format!("{name}.toml")]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        insta::assert_snapshot!(format!("check_{name}"), stderr(&out));
    }
}

#[test]
fn check_warnings_pass() {
    let out = run(&fixtures().join("check"), &["check", "deprecated.toml"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("warning[deprecated-key]"));
    assert_eq!(stdout(&out), "deprecated.toml is valid, with 1 warning\n");
}

#[test]
fn check_json() {
    let out = run(
        &fixtures().join("check"),
        &["check", "typo.toml", "--format", "json"],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    insta::assert_json_snapshot!("check_typo_json", v);
}

#[test]
fn check_uses_the_plan_named_in_cargo_toml() {
    // The workspace's Cargo.toml names plans/shop.toml.
    let out = run_ok(&repo(), &["check"]);
    assert_eq!(stdout(&out), "plans/shop.toml is valid\n");

    let tmp = TempDir::new("nodefault");
    let out = run(&tmp.0, &["check"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no plan given and none found"));
}

#[test]
fn colour_only_when_asked() {
    let dir = fixtures().join("check");
    let plain = run(&dir, &["check", "typo.toml"]);
    assert!(!stderr(&plain).contains('\u{1b}'));
    let coloured = run(&dir, &["check", "typo.toml", "--color", "always"]);
    assert!(stderr(&coloured).contains('\u{1b}'));
}

// ---- fmt --------------------------------------------------------------------------------------

fn plans_in_repo() -> Vec<PathBuf> {
    let mut plans = Vec::new();
    for dir in [
        repo().join("plans"),
        fixtures().join("diff"),
        fixtures().join("check"),
    ] {
        for entry in std::fs::read_dir(&dir).expect("plan dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "toml") && !path.ends_with("syntax.toml") {
                plans.push(path);
            }
        }
    }
    plans.sort();
    plans
}

#[test]
fn fmt_is_idempotent_on_every_plan() {
    let tmp = TempDir::new("fmt");
    for plan in plans_in_repo() {
        let copy = tmp.0.join(plan.file_name().unwrap());
        std::fs::copy(&plan, &copy).unwrap();
        let out = run(&tmp.0, &["fmt", copy.to_str().unwrap()]);
        assert!(out.status.success(), "{}: {}", plan.display(), stderr(&out));
        let once = std::fs::read_to_string(&copy).unwrap();
        let out = run(&tmp.0, &["fmt", "--check", copy.to_str().unwrap()]);
        assert!(out.status.success(), "{} not idempotent", plan.display());
        assert_eq!(std::fs::read_to_string(&copy).unwrap(), once);
        // Formatting never changes what the plan means.
        let before = run(
            &repo(),
            &["check", plan.to_str().unwrap(), "--format", "json"],
        );
        let after = run(
            &tmp.0,
            &["check", copy.to_str().unwrap(), "--format", "json"],
        );
        let codes = |o: &Output| {
            let v: serde_json::Value = serde_json::from_str(&stdout(o)).unwrap();
            v["diagnostics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["code"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        assert_eq!(codes(&before), codes(&after), "{}", plan.display());
    }
}

#[test]
fn fmt_check_passes_on_the_repository_plans() {
    let out = run(&repo(), &["fmt", "--check", "plans/shop.toml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn fmt_check_reports_unformatted_files() {
    let tmp = TempDir::new("fmtcheck");
    let file = tmp.0.join("p.toml");
    std::fs::write(&file, "[plan]\nversion=1\nname =  \"p\"\n").unwrap();
    let out = run(&tmp.0, &["fmt", "--check", "p.toml"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout(&out),
        "--- a/p.toml\n+++ b/p.toml\n@@ -1,3 +1,3 @@\n [plan]\n-version=1\n-name =  \"p\"\n\
         +name = \"p\"\n+version = 1\np.toml is not formatted (run `trackplan fmt p.toml`)\n",
        "--check prints the diff `fmt` would apply"
    );
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "[plan]\nversion=1\nname =  \"p\"\n",
        "--check never writes"
    );
    let out = run(&tmp.0, &["fmt", "p.toml"]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "[plan]\nname = \"p\"\nversion = 1\n"
    );
}

// ---- coverage --------------------------------------------------------------------------------

#[test]
fn coverage_names_the_events_a_crate_never_constructs() {
    let dir = fixtures().join("coverage");
    let out = run(&dir, &["coverage", "--crate", "app"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        "3 of 4 events of plan `app` are constructed in app/src.\n\
         Never constructed:\n  - \"Item Purchased\" (`item_purchased`, type `ItemPurchased`)\n"
    );

    let out = run(
        &dir.join("app"),
        &[
            "coverage",
            "--allow",
            "item_purchased",
            "--plan",
            "plan.toml",
        ],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("allowed with --allow:\n  - \"Item Purchased\""),
        "{}",
        stdout(&out)
    );

    let out = run(&dir, &["coverage", "--crate", "app", "--allow", "nope"]);
    assert!(stderr(&out).contains("--allow nope: the plan has no event"));
}

// ---- import segment ---------------------------------------------------------------------------

#[test]
fn import_segment_awkward_names() {
    let dir = fixtures().join("segment");
    let out = run_ok(&dir, &["import", "segment", "awkward.json"]);
    let toml = stdout(&out);
    insta::assert_snapshot!("import_segment_awkward", toml);
    insta::assert_snapshot!("import_segment_awkward_warnings", stderr(&out));

    // The skeleton is canonical and fails `check` exactly on the placeholders; once a person
    // fills them, the plan is valid.
    let (code, diags) = review_imported("import", &toml);
    assert_eq!(code, Some(1));
    assert!(!diags.is_empty());
}

/// An imported skeleton's review, as a person does it: `fmt --check` accepts it as written,
/// every diagnostic of `check` is on a `needs_review` placeholder, and filling the
/// placeholders (a purpose, a destination, the sensitivities) makes `check` pass. Returns the
/// exit code and the diagnostics of the first `check`.
fn review_imported(name: &str, toml: &str) -> (Option<i32>, Vec<serde_json::Value>) {
    let tmp = TempDir::new(name);
    let plan = tmp.0.join("app.toml");
    std::fs::write(&plan, toml).unwrap();
    assert!(
        run(&tmp.0, &["fmt", "--check", "app.toml"])
            .status
            .success()
    );
    let out = run(&tmp.0, &["check", "app.toml", "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let diags = v["diagnostics"].as_array().unwrap().clone();
    for d in &diags {
        let at = d["start"]["line"].as_u64().unwrap() as usize;
        let line = toml.lines().nth(at - 1).unwrap();
        assert!(
            line.contains("needs_review"),
            "diagnostic not on a placeholder: {} at {line:?}",
            d["rendered"]
        );
    }
    let filled = toml
        .replace(
            "# Declare each purpose like this",
            "[purposes.product_analytics]\ndescription = \"d\"\nbasis = \"consent\"\ndata_use = \"analytics.reporting\"\n\n[destinations.warehouse]\nkind = \"ndjson\"\npurposes = [\"product_analytics\"]\n\n# Declare each purpose like this",
        )
        .replace("purposes = [\"needs_review\"]", "purposes = [\"product_analytics\"]")
        .replace("sensitivity = \"needs_review\"", "sensitivity = \"internal\"");
    std::fs::write(&plan, filled).unwrap();
    run_ok(&tmp.0, &["check", "app.toml"]);
    (out.status.code(), diags)
}

/// Issue 11: Typewriter's `identify` traits become `[traits.*]`, its `group` traits the traits
/// of a group kind; every decision a Segment plan does not record is a placeholder `check`
/// points at, and filling them gives a valid plan.
#[test]
fn import_segment_identify_and_group_traits() {
    let dir = fixtures().join("segment");
    let out = run_ok(&dir, &["import", "segment", "traits.json"]);
    let toml = stdout(&out);
    assert!(!stderr(&out).contains("rules.identify"), "{}", stderr(&out));
    for table in [
        "[traits.email]",
        "[traits.plan]",
        "[traits.logins]",
        "[groups.group]",
        "[groups.group.traits.industry]",
        "[groups.group.traits.employees]",
    ] {
        assert!(toml.contains(table), "{table} missing:\n{toml}");
    }
    assert!(
        !toml.contains("required"),
        "traits take no `required`:\n{toml}"
    );
    insta::assert_snapshot!("import_segment_traits", toml);

    review_imported("import-traits", &toml);
}

#[test]
fn import_rejects_what_is_not_a_segment_plan() {
    let tmp = TempDir::new("import-bad");
    std::fs::write(tmp.0.join("x.json"), "{\"events\": []}").unwrap();
    let out = run(&tmp.0, &["import", "segment", "x.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no events found"));
}

// ---- schema -----------------------------------------------------------------------------------

#[test]
fn schema_of_the_plan_format_matches_the_committed_file() {
    let out = run(&repo(), &["schema"]);
    assert!(out.status.success());
    let printed: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let committed: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(repo().join("plans/trackplan.schema.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(printed, committed);
}

#[test]
fn schema_of_event_payloads() {
    let out = run_ok(&repo(), &["schema", "--events", "plans/shop.toml"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let entries = v["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 10, "nine events and the user profile");
    let profile = entries
        .iter()
        .find(|e| e["entityType"] == "profile")
        .unwrap();
    assert_eq!(profile["name"], "$user");
    assert_eq!(
        profile["schemaJson"]["properties"]["Email"]["pattern"], "^[0-9a-f]{64}$",
        "an hmac trait is sent as its HMAC"
    );
    assert_eq!(
        profile["schemaJson"]["properties"]["Favourite Categories"]["type"],
        "array"
    );
    let cart = entries
        .iter()
        .find(|e| e["name"] == "Cart Updated")
        .unwrap();
    let cart_props = &cart["schemaJson"]["properties"];
    assert!(
        cart_props["App Version"].is_object(),
        "context is sent with every event"
    );
    assert!(
        cart_props["Company ID"].is_object(),
        "the group key of a carried group"
    );
    assert!(
        !cart["schemaJson"]["required"]
            .as_array()
            .unwrap()
            .contains(&"App Version".into()),
        "context is never required"
    );
    let signup = entries
        .iter()
        .find(|e| e["name"] == "Signup Completed")
        .unwrap();
    assert_eq!(signup["entityType"], "event");
    let schema = &signup["schemaJson"];
    assert_eq!(schema["additionalProperties"], false);
    assert_eq!(
        schema["properties"]["Age"]["enum"],
        serde_json::json!(["<18", "18-24", "25-34", "35-49", "50-64", "65+"]),
        "a bucketed age is sent as its range label"
    );
    assert_eq!(
        schema["properties"]["Plan Tier"]["enum"],
        serde_json::json!(["free", "pro", "enterprise"])
    );
    assert_eq!(
        schema["required"],
        serde_json::json!(["Plan Tier", "Age", "Newsletter"])
    );
    let login = entries
        .iter()
        .find(|e| e["name"] == "Login Failed")
        .unwrap();
    assert_eq!(
        login["schemaJson"]["properties"]["email"]["pattern"],
        "^[0-9a-f]{64}$"
    );
    let search = entries
        .iter()
        .find(|e| e["name"] == "Search Performed")
        .unwrap();
    let required = search["schemaJson"]["required"].as_array().unwrap();
    assert!(
        !required.contains(&"Query".into()),
        "redact properties never reach third parties, so they cannot be required"
    );
}

// ---- docs -------------------------------------------------------------------------------------

/// Every event, property and purpose of the example plan, as the docs must show them.
fn shop_names() -> Vec<String> {
    let shop = std::fs::read_to_string(repo().join("plans/shop.toml")).unwrap();
    let doc: toml_edit::DocumentMut = shop.parse().unwrap();
    let mut names = Vec::new();
    for (id, p) in doc["purposes"].as_table().unwrap() {
        names.push(id.to_owned());
        names.push(p["description"].as_str().unwrap().to_owned());
    }
    for (id, e) in doc["events"].as_table().unwrap() {
        names.push(id.to_owned());
        names.push(e["name"].as_str().unwrap().to_owned());
        for (pid, p) in e["properties"].as_table_like().unwrap().iter() {
            names.push(pid.to_owned());
            let wire = p
                .get("name")
                .and_then(|n| n.as_str())
                .or_else(|| {
                    doc.get("properties")
                        .and_then(|t| t.get(pid))
                        .and_then(|t| t.get("name"))
                        .and_then(|n| n.as_str())
                })
                .unwrap_or(pid);
            names.push(wire.to_owned());
        }
    }
    names
}

#[test]
fn docs_markdown_lists_everything() {
    let out = run_ok(&repo(), &["docs", "plans/shop.toml"]);
    let md = stdout(&out);
    for name in shop_names() {
        let escaped = name.replace('_', "\\_");
        assert!(
            md.contains(&name) || md.contains(&escaped),
            "{name:?} missing from the Markdown docs"
        );
    }
    for section in [
        "## What we collect and why",
        "## Data inventory",
        "## Record of processing activities (GDPR Art. 30)",
    ] {
        assert!(md.contains(section), "{section}");
    }
    insta::assert_snapshot!("docs_shop_md", md);
}

/// Issue 11: the inventory, the notice and the Art. 30 record list profile, group and context
/// data, each with the purposes it is kept for and who receives it.
#[test]
fn docs_list_profile_group_and_context_data() {
    let md = stdout(&run_ok(&repo(), &["docs", "plans/shop.toml"]));
    let row = |needle: &str| {
        md.lines()
            .find(|l| l.starts_with("| ") && l.contains(needle))
            .unwrap_or_else(|| panic!("no inventory row with {needle}"))
            .to_owned()
    };
    let email = row("`traits.email`");
    assert!(
        email.contains("| personal |") && email.contains("`hmac`"),
        "{email}"
    );
    assert!(email.contains("`warehouse`, `mixpanel`"), "{email}");
    let name = row("`traits.first_name`");
    assert!(
        name.contains("`customer_support`") && name.contains("`support_desk`"),
        "{name}"
    );
    assert!(row("`groups.company.key`").contains("group key (company)"));
    assert!(row("`context.app_version`").contains("every event"));
    // The notice tells the reader what their profile holds, under the purpose it serves.
    let support = md
        .split("### Customer support")
        .nth(1)
        .expect("the customer support purpose in the notice");
    assert!(
        support.contains("*First Name* (How the customer wants to be addressed), kept in your profile, personal data, sent as is."),
        "{support}"
    );
    // The record of processing lists the personal traits among the categories of data.
    let record = md
        .split("## Record of processing activities")
        .nth(1)
        .expect("the record");
    assert!(
        record.contains("Email (profile trait) `user.contact.email`"),
        "{record}"
    );
    assert!(
        record.contains("First Name (profile trait) `user.name`"),
        "{record}"
    );
    let html = stdout(&run_ok(
        &repo(),
        &["docs", "plans/shop.toml", "--format", "html"],
    ));
    assert!(html.contains("traits.email"), "the HTML says the same");
}

#[test]
fn docs_show_the_event_purposes_of_a_shared_property_and_no_doubled_parentheses() {
    let dir = fixtures().join("docs");
    let md = stdout(&run_ok(&dir, &["docs", "shared.toml"]));
    let row = md
        .lines()
        .find(|l| l.starts_with("| **Login Failed**") && l.contains("`email`"))
        .expect("an inventory row for the e-mail");
    assert!(row.contains("| `security` |"), "{row}");
    assert!(
        !row.contains("billing"),
        "the event is not collected for billing: {row}"
    );
    for doc in [md, stdout(&run_ok(&repo(), &["docs", "plans/shop.toml"]))] {
        assert!(
            !doc.contains("((") && !doc.contains("))"),
            "doubled parentheses: {}",
            doc.lines()
                .find(|l| l.contains("))") || l.contains("(("))
                .unwrap_or_default()
        );
    }
}

#[test]
fn docs_html_lists_everything_and_renders_in_chromium() {
    let tmp = TempDir::new("docs");
    let html_path = tmp.0.join("shop.html");
    run_ok(
        &repo(),
        &[
            "docs",
            "plans/shop.toml",
            "--format",
            "html",
            "-o",
            html_path.to_str().unwrap(),
        ],
    );
    let html = std::fs::read_to_string(&html_path).unwrap();
    for name in shop_names() {
        let escaped = name
            .replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
            .replace('\'', "&#39;");
        assert!(
            html.contains(&escaped),
            "{name:?} missing from the HTML docs"
        );
    }
    assert!(html.contains("<table class=\"inventory\">"));
    for external in ["<script", "<link", "src=", "http://", "https://", "@import"] {
        assert!(
            !html.contains(external),
            "HTML must be self-contained: {external}"
        );
    }

    assert!(
        Path::new(chromium::CHROMIUM).exists(),
        "the HTML docs check needs headless Chromium at {}: run scripts/setup (scripts/test does)",
        chromium::CHROMIUM
    );
    // Tall enough for the data map and the inventory below it: headless Chromium
    // screenshots a page scrolled to a fragment this far down as blank.
    let png = chromium::screenshot(
        &tmp.0,
        "inventory",
        &format!("file://{}", html_path.display()),
        "1280,3000",
    );
    assert!(
        png.len() > 20_000,
        "a screenshot with content, not a blank page"
    );
}

// ---- export fides -----------------------------------------------------------------------------

#[test]
fn export_fides_manifest_loads_in_fideslang() {
    let tmp = TempDir::new("fides");
    let manifest = tmp.0.join("shop.yml");
    run_ok(
        &repo(),
        &[
            "export",
            "fides",
            "plans/shop.toml",
            "-o",
            manifest.to_str().unwrap(),
        ],
    );
    let yaml = std::fs::read_to_string(&manifest).unwrap();
    insta::assert_snapshot!("export_fides_shop_yaml", yaml);

    let json = run(
        &repo(),
        &["export", "fides", "plans/shop.toml", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let app = &v["system"][0];
    assert_eq!(app["fides_key"], "shop");
    let decls = app["privacy_declarations"].as_array().unwrap();
    assert_eq!(decls.len(), 4, "one declaration per purpose");
    let analytics = decls
        .iter()
        .find(|d| d["name"] == "product_analytics")
        .unwrap();
    assert_eq!(
        analytics["special_category_legal_basis"],
        "Explicit consent"
    );
    assert_eq!(analytics["legal_basis_for_processing"], "Consent");
    assert_eq!(analytics["retention_period"], "395 days");
    // Profile traits count as data collected for their purposes: the pseudonymized e-mail
    // trait is kept for product analytics and reaches Mixpanel, a third party.
    let categories = |d: &serde_json::Value, key: &str| -> Vec<String> {
        d[key]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|c| c.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert!(
        categories(analytics, "data_categories").contains(&"user.contact.email".to_owned()),
        "{analytics}"
    );
    assert!(
        categories(analytics, "shared_categories").contains(&"user.contact.email".to_owned()),
        "{analytics}"
    );
    let support = decls
        .iter()
        .find(|d| d["name"] == "customer_support")
        .unwrap();
    assert!(
        categories(support, "data_categories").contains(&"user.name".to_owned()),
        "the first-name trait is kept for customer support: {support}"
    );

    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "loading the Fides manifest needs fideslang in {}: run scripts/setup (scripts/test does)",
        python.display()
    );
    let check = Command::new(&python)
        .arg(crate_dir().join("tests/fides_check.py"))
        .arg(&manifest)
        .output()
        .expect("python runs");
    assert!(
        check.status.success(),
        "fideslang rejected the manifest:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn fides_and_docs_name_amplitude_and_its_location() {
    let plan = "runtime/tests/plans/amplitude.toml";
    let json = run_ok(&repo(), &["export", "fides", plan, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let systems = v["system"].as_array().unwrap();
    let amplitude = systems
        .iter()
        .find(|s| s["name"] == "amplitude")
        .expect("the destination's system");
    assert_eq!(amplitude["system_type"], "Third Party");
    assert_eq!(amplitude["meta"]["system"], "Amplitude");
    assert_eq!(amplitude["meta"]["location"], "EU");
    assert!(
        systems
            .iter()
            .all(|s| s["name"] == "amplitude" || s.get("meta").is_none())
    );

    let docs = stdout(&run_ok(&repo(), &["docs", plan]));
    assert!(docs.contains("amplitude (Amplitude, EU)"), "{docs}");

    let python = repo().join(".venv/bin/python");
    assert!(
        python.exists(),
        "loading the Amplitude manifest needs fideslang in {}: run scripts/setup (scripts/test does)",
        python.display()
    );
    let tmp = TempDir::new("fides-amplitude");
    let manifest = tmp.0.join("amplitude.yml");
    run_ok(
        &repo(),
        &["export", "fides", plan, "-o", manifest.to_str().unwrap()],
    );
    let check = Command::new(&python)
        .arg(crate_dir().join("tests/fides_check.py"))
        .arg(&manifest)
        .output()
        .expect("python runs");
    assert!(
        check.status.success(),
        "fideslang rejected the manifest:\n{}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );
}

// ---- help -------------------------------------------------------------------------------------

#[test]
fn every_command_has_help_with_an_example() {
    for args in [
        &["check", "--help"][..],
        &["diff", "--help"],
        &["subject", "export", "--help"],
        &["subject", "forget", "--help"],
        &["docs", "--help"],
        &["schema", "--help"],
        &["export", "fides", "--help"],
        &["import", "segment", "--help"],
        &["fmt", "--help"],
    ] {
        let out = run(&repo(), args);
        assert!(out.status.success(), "{args:?}");
        let help = stdout(&out);
        assert!(help.contains("Example"), "{args:?} has no example:\n{help}");
        assert!(help.contains("trackplan "), "{args:?}");
    }
}

// ---- subject ----------------------------------------------------------------------------------

const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn event_line(distinct_id: &str, n: u32) -> String {
    format!(
        "{{\"event\":\"Page Viewed\",\"time\":{n},\"insert_id\":\"id-{n}\",\"distinct_id\":\"{distinct_id}\",\"plan\":\"shop@3\",\"purposes\":[\"product_analytics\"],\"properties\":{{\"URL\":\"/p/{n}\"}}}}\n"
    )
}

fn run_with_key(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args(args)
        .current_dir(dir)
        .env("TEST_TRACKPLAN_KEY", KEY_HEX)
        .output()
        .expect("the binary runs")
}

#[test]
fn subject_export_and_forget() {
    let key = trackplan_runtime::Key::from_hex(KEY_HEX).unwrap();
    let alice = key.pseudonymize("user-42");
    let bob = key.pseudonymize("user-7");
    let tmp = TempDir::new("subject");
    let store = tmp.0.join("events.ndjson");
    let original = [
        event_line(&alice, 1),
        event_line(&bob, 2),
        "not json at all\n".to_owned(),
        "\n".to_owned(),
        event_line(&alice, 3),
    ]
    .concat();
    std::fs::write(&store, &original).unwrap();

    let args = |cmd: &str| {
        vec![
            "subject".to_owned(),
            cmd.to_owned(),
            "--key-env".to_owned(),
            "TEST_TRACKPLAN_KEY".to_owned(),
            "--id".to_owned(),
            "user-42".to_owned(),
            "events.ndjson".to_owned(),
        ]
    };
    let call = |cmd: &str| {
        let a = args(cmd);
        let refs: Vec<&str> = a.iter().map(String::as_str).collect();
        run_with_key(&tmp.0, &refs)
    };

    let out = call("export");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        stdout(&out),
        [event_line(&alice, 1), event_line(&alice, 3)].concat()
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!("2 event(s) of subject {alice}")),
        "{err}"
    );
    assert!(
        !err.contains("user-42"),
        "the raw id is never printed: {err}"
    );
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        original,
        "export never writes"
    );

    let out = call("forget");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("removed 2 event(s)"),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("1 line(s) that are not events were left untouched"));
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        [
            event_line(&bob, 2),
            "not json at all\n".to_owned(),
            "\n".to_owned()
        ]
        .concat(),
        "other subjects and unreadable lines are kept byte for byte"
    );
    let leftovers: Vec<_> = std::fs::read_dir(&tmp.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers, ["events.ndjson"], "no temp file left behind");

    let out = call("forget");
    assert!(out.status.success());
    assert!(stderr(&out).contains("removed 0 event(s)"));
    assert!(stdout(&call("export")).is_empty());

    // Without the key the request cannot be answered.
    let out = run(
        &tmp.0,
        &["subject", "export", "--id", "user-42", "events.ndjson"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--key-env is required"));
    let out = run(
        &tmp.0,
        &[
            "subject",
            "export",
            "--key-env",
            "NO_SUCH_VAR_FOR_TRACKPLAN",
            "--id",
            "u",
            "events.ndjson",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("NO_SUCH_VAR_FOR_TRACKPLAN"),
        "{}",
        stderr(&out)
    );

    // Plans with `[identity] transform = "none"` store the raw id.
    std::fs::write(
        &store,
        [event_line("user-9", 5), event_line(&bob, 6)].concat(),
    )
    .unwrap();
    run_ok(
        &tmp.0,
        &[
            "subject",
            "forget",
            "--identity",
            "none",
            "--id",
            "user-9",
            "events.ndjson",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(&store).unwrap(),
        event_line(&bob, 6)
    );
}

#[test]
fn a_lifted_built_in_policy_is_shown_by_check_and_docs() {
    let dir = fixtures().join("check");
    let out = run_ok(&dir, &["check", "lifted.toml"]);
    assert_eq!(
        stdout(&out),
        "note: built-in policy `special-category-marketing` is lifted for this plan: Offers only to customers who gave explicit consent to health-based offers; reviewed by privacy@pharmacy.example.\nlifted.toml is valid\n"
    );
    let docs = stdout(&run_ok(&dir, &["docs", "lifted.toml"]));
    assert!(
        docs.contains("## Exceptions to the built-in policies"),
        "{docs}"
    );
    assert!(
        docs.contains("`special-category-marketing` (special-category data is never used for marketing or advertising): *Offers only"),
        "{docs}"
    );
}

#[test]
fn check_in_a_member_crate_finds_the_workspace_plan() {
    let tmp = TempDir::new("workspace");
    std::fs::write(
        tmp.0.join("Cargo.toml"),
        "[workspace]\nmembers = [\"crates/app\"]\n\n[workspace.metadata.trackplan]\nplan = \"plans/shop.toml\"\n",
    )
    .unwrap();
    std::fs::create_dir_all(tmp.0.join("plans")).unwrap();
    std::fs::copy(
        repo().join("plans/shop.toml"),
        tmp.0.join("plans/shop.toml"),
    )
    .unwrap();
    let app = tmp.0.join("crates/app");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("Cargo.toml"), "[package]\nname = \"app\"\n").unwrap();
    let out = run_ok(&app, &["check"]);
    assert_eq!(stdout(&out), "../../plans/shop.toml is valid\n");
}

#[test]
fn docs_and_fides_name_the_posthog_system_and_where_it_keeps_the_data() {
    let dir = fixtures().join("docs");
    let md = stdout(&run_ok(&dir, &["docs", "posthog.toml"]));
    assert!(md.contains("posthog (PostHog, EU)"), "{md}");
    assert!(
        md.contains("Product analytics (PostHog, data in EU, third party)"),
        "{md}"
    );
    assert!(md.contains("data kept in posthog: EU"), "{md}");

    let json = run_ok(
        &dir,
        &["export", "fides", "posthog.toml", "--format", "json"],
    );
    let v: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let system = v["system"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "posthog")
        .expect("the destination's system");
    assert_eq!(system["system_type"], "Third Party");
    assert_eq!(system["meta"]["system"], "PostHog");
    assert_eq!(system["meta"]["location"], "EU");
}

// ---- kafka destinations -----------------------------------------------------------------------

#[test]
fn kafka_destinations_get_their_topic_retention_system_and_location_stated() {
    let plan = fixtures().join("kafka/stream.toml");
    let plan = plan.to_str().unwrap();
    // `check`: one note per Kafka topic, from the shortest retention of its purposes.
    let check = stdout(&run_ok(&repo(), &["check", plan]));
    assert!(
        check.contains(
            "note: destination `events` (Apache Kafka): set retention.ms=2592000000 on its topic \
             (30 days, the shortest retention_days of its purposes)"
        ),
        "{check}"
    );
    assert!(
        check.contains("note: destination `tickets` (Apache Kafka): none of its purposes declares retention_days"),
        "{check}"
    );

    let docs = stdout(&run_ok(&repo(), &["docs", plan]));
    assert!(
        docs.contains("| `events` | kafka (Apache Kafka, eu-central-1) | first party |"),
        "{docs}"
    );
    assert!(
        docs.contains("| `tickets` | kafka (Apache Kafka) | first party |"),
        "{docs}"
    );
    assert!(
        docs.contains(
            "- `events`: `retention.ms=2592000000` (30 days, the shortest retention of its purposes)"
        ),
        "{docs}"
    );

    let fides = run_ok(&repo(), &["export", "fides", plan, "--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&stdout(&fides)).unwrap();
    let events = v["system"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["fides_key"] == "stream.events")
        .unwrap();
    assert_eq!(events["meta"]["system"], "Apache Kafka");
    assert_eq!(events["meta"]["location"], "eu-central-1");
    assert_eq!(
        events["system_type"], "Service",
        "first party unless marked"
    );
}
