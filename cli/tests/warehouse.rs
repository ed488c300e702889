//! `trackplan schema --sql postgres` and `trackplan prune`, end to end: the SQL applies to a
//! real PostgreSQL server (started by the runtime's test harness) and its views read the rows
//! `sinks::Postgres` writes; `prune` leaves an NDJSON file and a spool with every record younger
//! than the retention and none older; `check` and `docs` say where a SaaS backend's own
//! retention must match the plan.

#[path = "../../runtime/tests/support/postgres.rs"]
mod pg;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DAY: i64 = 86_400_000;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace")
        .to_path_buf()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trackplan"))
        .args(args)
        .current_dir(repo())
        .output()
        .expect("run trackplan")
}

fn run_ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "trackplan {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

#[test]
fn the_sql_applies_and_the_views_read_typed_columns() {
    let sql = run_ok(&["schema", "--sql", "postgres", "plans/warehouse.toml"]);
    assert!(sql.contains("CREATE TABLE IF NOT EXISTS trackplan.events ("));
    assert!(
        sql.contains("warehouse: 395 days"),
        "the retention is named"
    );
    assert!(
        !sql.contains("event_login_failed"),
        "a view only for the events the postgres destination receives"
    );
    let server = pg::PgServer::start();
    let mut c = server.client();
    c.batch_execute(&sql).expect("apply the SQL");
    // Twice: it is idempotent.
    c.batch_execute(&sql).expect("apply the SQL again");
    c.batch_execute(
        r#"INSERT INTO trackplan.events VALUES ('00000000-0000-4000-8000-000000000001',
           'Order Placed', '2026-05-01T10:00:00Z', 'k1:abc', 'warehouse@1', '{product_analytics}',
           NULL, '{"Revenue": 19.5, "Product IDs": ["a", "b"], "Gift": true}')"#,
    )
    .expect("insert");
    let row = c
        .query_one(
            "SELECT revenue, product_ids::text, gift, distinct_id FROM trackplan.event_order_placed",
            &[],
        )
        .expect("select from the view");
    assert_eq!(row.get::<_, f64>(0), 19.5);
    assert_eq!(row.get::<_, String>(1), r#"["a", "b"]"#);
    assert!(row.get::<_, bool>(2));
    assert_eq!(row.get::<_, String>(3), "k1:abc");

    let out = run(&[
        "schema",
        "--sql",
        "postgres",
        "--sql-schema",
        "Bad-Name",
        "plans/warehouse.toml",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a plain PostgreSQL identifier"));
}

fn write_lines(path: &Path, times: &[(i64, &str)]) {
    let text: String = times
        .iter()
        .map(|(t, url)| {
            format!(
                "{{\"event\":\"Login Failed\",\"time\":{t},\"insert_id\":\"{url}\",\"distinct_id\":\"k1:x\",\"plan\":\"warehouse@1\",\"purposes\":[\"security\"],\"properties\":{{\"u\":\"{url}\"}}}}\n"
            )
        })
        .collect();
    std::fs::write(path, text).expect("write");
}

#[test]
fn prune_keeps_the_younger_lines_of_an_ndjson_store_and_none_older() {
    let dir = std::env::temp_dir().join(format!("trackplan-cli-prune-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let file = dir.join("security.ndjson");
    let now = now_ms();
    // security: 180 days. One hour either side of the cutoff, and far either side.
    write_lines(
        &file,
        &[
            (now - 400 * DAY, "old-1"),
            (now - 10 * DAY, "young-1"),
            (now - 180 * DAY - 3_600_000, "old-2"),
            (now - 180 * DAY + 3_600_000, "young-2"),
            (now, "young-3"),
        ],
    );
    std::fs::write(dir.join("other"), "").expect("write");
    let arg = format!("security_log={}", file.display());
    let out = run_ok(&["prune", "plans/warehouse.toml", "--ndjson", &arg]);
    assert!(out.contains("security_log: removed 2 record(s)"), "{out}");
    let kept: Vec<String> = std::fs::read_to_string(&file)
        .expect("read")
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            v["insert_id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(kept, ["young-1", "young-2", "young-3"]);

    let out = run(&[
        "prune",
        "plans/warehouse.toml",
        "--ndjson",
        "nosuch=x.ndjson",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no destination `nosuch`"));
    let out = run(&["prune", "plans/warehouse.toml"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to prune"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn check_and_docs_name_the_saas_retention_setting_and_the_warehouse() {
    let out = run(&["check", "plans/warehouse.toml"]);
    assert!(out.status.success());
    let out = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.contains("note: destination `mixpanel` (Mixpanel) keeps its own copy, which trackplan cannot prune: set the Mixpanel project's data retention (agreed with Mixpanel) to at most 395 days"),
        "{out}"
    );
    let docs = run_ok(&["docs", "plans/warehouse.toml"]);
    assert!(docs.contains("PostgreSQL"), "the system is named");
    assert!(docs.contains("395 days"), "{docs}");
    let fides = run_ok(&["export", "fides", "plans/warehouse.toml"]);
    assert!(fides.contains("system: \"PostgreSQL\""), "{fides}");
    assert!(fides.contains("location: \"EU\""), "{fides}");
    assert!(fides.contains("trackplan_kind: \"postgres\""), "{fides}");
}
