//! The review workflow `examples/ci/plan-review.yml`, run locally: `scripts/ci-local.py` runs
//! its shell steps (and stands in for its actions and for `gh`) against a fixture repository
//! of an app with a base and a head commit, with this build's `trackplan` instead of
//! `cargo install`. Also: zizmor finds nothing above low in it.
//!
//! Needs `.venv` with PyYAML and zizmor (`scripts/setup`) and git.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/temp_dir.rs"]
mod temp_dir;

use temp_dir::{TempDir, repo};

fn venv(tool: &str) -> PathBuf {
    let path = repo().join(".venv/bin").join(tool);
    assert!(
        path.exists(),
        "{} is missing: run scripts/setup (it installs PyYAML and zizmor into .venv)",
        path.display()
    );
    path
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
        ])
        .args([
            "-c",
            "init.defaultBranch=main",
            "-c",
            "advice.detachedHead=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An app's repository as `actions/checkout` leaves it for a pull request: a clone whose
/// `origin/main` has `base` (or no plan at all) and whose checked-out branch has `head`.
fn app_repo(tmp: &Path, base: Option<&str>, head: &str) -> PathBuf {
    let origin = tmp.join("origin.git");
    std::fs::create_dir_all(&origin).unwrap();
    git(&origin, &["init", "--quiet", "--bare"]);
    let app = tmp.join("app");
    git(tmp, &["clone", "--quiet", origin.to_str().unwrap(), "app"]);
    std::fs::create_dir_all(app.join("plans")).unwrap();
    std::fs::write(app.join("README.md"), "An app.\n").unwrap();
    if let Some(base) = base {
        std::fs::write(app.join("plans/shop.toml"), base).unwrap();
    }
    git(&app, &["add", "."]);
    git(&app, &["commit", "--quiet", "-m", "base"]);
    git(&app, &["push", "--quiet", "origin", "HEAD:main"]);
    git(&app, &["checkout", "--quiet", "-b", "change"]);
    std::fs::write(app.join("plans/shop.toml"), head).unwrap();
    git(&app, &["add", "."]);
    git(&app, &["commit", "--quiet", "-m", "head"]);
    git(&app, &["fetch", "--quiet", "origin"]);
    app
}

struct Run {
    ok: bool,
    result: serde_json::Value,
    out: PathBuf,
    log: String,
}

impl Run {
    fn step(&self, name: &str) -> &serde_json::Value {
        self.result["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["name"] == name)
            .unwrap_or_else(|| panic!("no step {name:?}:\n{}", self.log))
    }

    fn summary(&self) -> String {
        std::fs::read_to_string(self.out.join("summary.md")).unwrap()
    }

    fn comments(&self) -> Vec<String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.out.join("comments"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "md"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect()
    }
}

fn run_workflow(app: &Path, out: &Path, fork: bool) -> Run {
    let mut cmd = Command::new(venv("python"));
    cmd.arg(repo().join("scripts/ci-local.py"))
        .arg(repo().join("examples/ci/plan-review.yml"))
        .args([
            "--repo",
            app.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ])
        .args(["--bin", env!("CARGO_BIN_EXE_trackplan")]);
    if fork {
        cmd.arg("--fork");
    }
    let o = cmd.output().expect("python runs");
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.status.code() == Some(0) || o.status.code() == Some(1),
        "ci-local.py could not run the workflow:\n{log}"
    );
    let result = serde_json::from_str(&std::fs::read_to_string(out.join("result.json")).unwrap())
        .expect("result.json");
    Run {
        ok: o.status.success(),
        result,
        out: out.to_path_buf(),
        log,
    }
}

fn shop() -> String {
    std::fs::read_to_string(repo().join("plans/shop.toml")).unwrap()
}

fn shop_next() -> String {
    std::fs::read_to_string(repo().join("cli/tests/fixtures/map/shop_next.toml")).unwrap()
}

#[test]
fn workflow_reviews_a_bumped_change_comments_once_and_uploads_the_map() {
    let tmp = TempDir::new("bumped");
    let app = app_repo(&tmp.0, Some(&shop()), &shop_next());
    let out = tmp.0.join("out");
    let run = run_workflow(&app, &out, false);
    assert!(run.ok, "the job fails:\n{}", run.log);
    assert_eq!(
        run.step("Fail on an unbumped breaking change")["outcome"],
        "skipped"
    );
    assert_eq!(run.step("Review report")["outputs"]["status"], "0");

    // The map of the change is the uploaded artifact, and the report links to it.
    let html = std::fs::read_to_string(out.join("artifacts/review.html")).expect("artifact");
    assert!(html.contains("data-id=\"crm\" data-status=\"added\""));
    let url = run.step("Upload the data map")["outputs"]["artifact-url"]
        .as_str()
        .unwrap()
        .to_owned();
    let summary = run.summary();
    assert!(summary.contains("## Tracking plan review: `shop` v3 → `shop` v4"));
    assert!(summary.contains("Destination added"));
    assert!(
        summary.contains(&format!("[open the HTML review]({url})")),
        "{summary}"
    );

    // One comment, with the marker and the report; a second push updates it in place.
    let comments = run.comments();
    assert_eq!(comments.len(), 1);
    assert!(comments[0].starts_with("<!-- trackplan-review -->\n## Tracking plan review"));
    let again = run_workflow(&app, &out, false);
    assert!(again.ok, "{}", again.log);
    assert_eq!(again.comments().len(), 1, "updated, not posted again");
    let calls = std::fs::read_to_string(out.join("comments/calls.log")).unwrap();
    assert!(
        calls.contains("--method PATCH repos/owner/app/issues/comments/1"),
        "{calls}"
    );
}

#[test]
fn workflow_fails_on_an_unbumped_breaking_change() {
    let tmp = TempDir::new("unbumped");
    let head = shop_next().replace("version = 4", "version = 3");
    let app = app_repo(&tmp.0, Some(&shop()), &head);
    let run = run_workflow(&app, &tmp.0.join("out"), false);
    assert!(!run.ok, "the job passes:\n{}", run.log);
    assert_eq!(run.step("Review report")["outputs"]["status"], "1");
    assert_eq!(
        run.step("Fail on an unbumped breaking change")["outcome"],
        "failure"
    );
    assert!(
        run.log
            .contains("::error file=plans/shop.toml::The plan has breaking changes")
    );
    // The reviewer still gets the report.
    assert!(run.summary().contains("version not bumped"));
    assert_eq!(run.comments().len(), 1);
}

#[test]
fn workflow_on_a_fork_writes_the_report_to_the_job_summary() {
    let tmp = TempDir::new("fork");
    let app = app_repo(&tmp.0, Some(&shop()), &shop_next());
    let run = run_workflow(&app, &tmp.0.join("out"), true);
    assert!(run.ok, "{}", run.log);
    assert_eq!(
        run.step("Post the report as a comment")["outcome"],
        "skipped"
    );
    assert!(run.comments().is_empty());
    assert!(run.summary().contains("Destination added"));
}

#[test]
fn workflow_on_a_new_plan_has_nothing_to_compare() {
    let tmp = TempDir::new("new");
    let app = app_repo(&tmp.0, None, &shop());
    let run = run_workflow(&app, &tmp.0.join("out"), false);
    assert!(run.ok, "{}", run.log);
    assert_eq!(run.step("Upload the data map")["outcome"], "skipped");
    assert!(
        run.summary().contains("nothing to compare"),
        "{}",
        run.summary()
    );
}

#[test]
fn workflow_has_no_zizmor_findings_above_low() {
    let out = Command::new(venv("zizmor"))
        .args(["--offline", "--min-severity", "medium", "--format", "plain"])
        .arg(repo().join("examples/ci/plan-review.yml"))
        .output()
        .expect("zizmor runs");
    assert!(
        out.status.success(),
        "zizmor findings:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
