//! Feed health across runs: what `newsvault status` shows, and the back-off of feeds that keep
//! failing (`[fetch] failure_backoff_after`), driven by a fixed clock so "an hour later" is exact.

mod common;

use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{FeedServer, Reply, TempArchive, rss};
use newsvault::clock::Clock;
use newsvault::config::Config;
use newsvault::run::{RunSummary, describe, run};
use serde_json::Value;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

async fn run_at(archive: &TempArchive, at: DateTime<Utc>) -> RunSummary {
    let config = Config::load(&archive.config).unwrap();
    run(&config, Clock::Fixed(at)).await.unwrap()
}

fn feed() -> String {
    rss(&[("https://example.com/1", "第一条", "<p>一</p>")])
}

fn status_json(archive: &TempArchive) -> (i32, Value) {
    let (code, out, err) = archive.cli(&["status", "--json"], Some("2024-06-01T12:00:00Z"));
    let value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}{err}"));
    (code, value)
}

/// The `i`th source's first feed in `status --json`.
fn feed_of(status: &Value, source: usize) -> &Value {
    &status["sources"][source]["feeds"][0]
}

#[tokio::test(flavor = "multi_thread")]
async fn status_shows_health_of_every_source() {
    let server = FeedServer::start().await;
    server.set("/ok", feed());
    server.route("/broken", |_, _| Reply::status(500));
    server.route("/old", |_, _| Reply::status(301).header("Location", "/new"));
    server.set("/new", feed());
    let archive = TempArchive::new(
        &[
            ("正常", vec![server.url("/ok")]),
            ("坏了", vec![server.url("/broken")]),
            ("搬家", vec![server.url("/old")]),
        ],
        "[fetch]\nattempts = 1\n",
    );

    // Before any run: every feed listed, nothing created.
    let (code, out, _) = archive.cli(&["status"], None);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("never tried").count(), 3, "{out}");
    assert!(!archive.archive().exists(), "status created the archive");

    // Twice, so the moved feed's second answer is the same body as the first.
    for minutes in [0, 1] {
        run_at(&archive, start() + Duration::minutes(minutes)).await;
    }
    let (code, status) = status_json(&archive);
    assert_eq!(code, 2, "a failing feed makes status exit 2");
    let ok = feed_of(&status, 0);
    assert_eq!(status["sources"][0]["name"], "正常");
    assert_eq!(ok["url"], server.url("/ok"));
    assert_eq!(ok["failures"], 0);
    assert_eq!(ok["last_status"], 200);
    assert_eq!(ok["last_success"], "2024-06-01T12:01:00Z");
    assert_eq!(ok["last_error"], Value::Null);
    let broken = feed_of(&status, 1);
    assert_eq!(broken["failures"], 2);
    assert_eq!(broken["last_status"], 500);
    assert_eq!(broken["last_success"], Value::Null);
    assert_eq!(broken["last_attempt"], "2024-06-01T12:01:00Z");
    assert_eq!(broken["last_error"], "HTTP 500");
    let moved = feed_of(&status, 2);
    assert_eq!(moved["moved_to"], server.url("/new"));
    assert_eq!(moved["failures"], 0);

    let (_, table, _) = archive.cli(&["status"], Some("2024-06-01T12:02:00Z"));
    assert!(table.starts_with("SOURCE"), "{table}");
    assert!(table.contains("    error: HTTP 500\n"), "{table}");
    assert!(
        table.contains(&format!("    moved to: {}\n", server.url("/new"))),
        "{table}"
    );
    assert!(table.contains("2024-06-01 12:01"), "{table}");
}

/// A feed failing run after run is tried an hour after its third failure, then 2 h, then 4 h
/// (the cap in this config); skipped runs are not failures; one success ends the back-off.
#[tokio::test(flavor = "multi_thread")]
async fn failing_feed_backs_off_across_runs() {
    let server = FeedServer::start().await;
    let healthy = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = healthy.clone();
    let body = feed();
    server.route("/flaky", move |_, _| {
        if flag.load(std::sync::atomic::Ordering::SeqCst) {
            Reply::ok(body.clone())
        } else {
            Reply::status(503)
        }
    });
    server.set("/ok", rss(&[("https://example.com/ok", "好", "<p>好</p>")]));
    let archive = TempArchive::new(
        &[
            ("flaky", vec![server.url("/flaky")]),
            ("fine", vec![server.url("/ok")]),
        ],
        "[fetch]\nattempts = 1\nfailure_backoff_after = 3\nfailure_backoff_max_hours = 4\n",
    );
    let t0 = start();
    let minutes = |m: i64| t0 + Duration::minutes(m);
    let mut tried = 0;
    // (minutes after t0, expected to be tried)
    let plan = [
        (0, true),    // failure 1
        (10, true),   // failure 2
        (20, true),   // failure 3: back off 1 h from here
        (30, false),  //
        (79, false),  // 59 min after the last try
        (80, true),   // failure 4: back off 2 h
        (199, false), //
        (200, true),  // failure 5: 4 h
        (439, false), //
        (440, true),  // failure 6: 8 h, capped at 4 h
        (679, false), //
        (680, true),  // failure 7
    ];
    for (at, expect_tried) in plan {
        let summary = run_at(&archive, minutes(at)).await;
        let flaky = &summary.sources[0];
        if expect_tried {
            tried += 1;
            assert_eq!(flaky.failed.len(), 1, "at +{at} min: {flaky:?}");
            assert!(flaky.backing_off.is_empty(), "at +{at} min");
        } else {
            assert!(flaky.failed.is_empty(), "at +{at} min: {flaky:?}");
            assert_eq!(flaky.backing_off.len(), 1, "at +{at} min");
            assert_eq!(summary.failed_feeds(), 0, "skipping is not failing");
        }
        assert_eq!(server.hits("/flaky"), tried, "at +{at} min");
        assert_eq!(
            server.hits("/ok"),
            plan.iter().take_while(|p| p.0 <= at).count()
        );
    }

    // The printed summary and the exit code of a run that only skips.
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T23:21:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "flaky: {}: skipped (backing off after 7 failed runs; next try from 2024-06-02 03:20 UTC)",
            server.url("/flaky")
        )),
        "{out}"
    );
    assert!(out.contains("1 feed(s) skipped (backing off)"), "{out}");
    let (_, status) = status_json(&archive);
    let flaky = feed_of(&status, 0);
    assert_eq!(flaky["failures"], 7);
    // status's clock is 12:00, well inside the back-off.
    assert_eq!(flaky["backing_off_until"], "2024-06-02T03:20:00Z");

    // Back to health: tried when due, archived, and then tried on every run again.
    healthy.store(true, std::sync::atomic::Ordering::SeqCst);
    let back = run_at(&archive, minutes(920)).await;
    assert_eq!(back.sources[0].new, 1);
    let next = run_at(&archive, minutes(921)).await;
    assert!(next.sources[0].backing_off.is_empty());
    assert_eq!(server.hits("/flaky"), tried + 2);
    let printed = describe(&next, &archive.archive());
    assert!(!printed.contains("skipped"), "{printed}");
}

fn status_at(archive: &TempArchive, args: &[&str], at: DateTime<Utc>) -> (i32, String) {
    let now = at.to_rfc3339();
    let (code, out, err) = archive.cli(args, Some(&now));
    assert!(code == 0 || code == 2, "{out}{err}");
    (code, out)
}

/// Per source: articles, last new article, last success, failures and error; for the archive:
/// store size and totals; a source failing longer than `[status] failing_after_hours` is flagged
/// and makes `status --check` exit 2, a shorter failure does not.
#[tokio::test(flavor = "multi_thread")]
async fn status_flags_sources_failing_for_longer_than_failing_after_hours() {
    let server = FeedServer::start().await;
    server.set(
        "/ok",
        rss(&[
            ("https://example.com/1", "一", "<p>一</p>"),
            ("https://example.com/2", "二", "<p>二</p>"),
        ]),
    );
    server.route("/broken", |_, _| Reply::status(500));
    let archive = TempArchive::new(
        &[
            ("正常", vec![server.url("/ok")]),
            ("坏了", vec![server.url("/broken")]),
        ],
        "[fetch]\nattempts = 1\nfailure_backoff_after = 0\n[status]\nfailing_after_hours = 2\n",
    );
    // Before any run: nothing to flag, no store.
    let (code, out) = status_at(&archive, &["status", "--check"], start());
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, "ok: 2 source(s), none failing for more than 2 h\n");

    for minutes in [0, 60] {
        run_at(&archive, start() + Duration::minutes(minutes)).await;
    }

    // 1.5 h after the first failure: failing, not yet flagged.
    let soon = start() + Duration::minutes(90);
    let (code, out) = status_at(&archive, &["status", "--check"], soon);
    assert_eq!(code, 0, "{out}");
    let (code, json) = status_at(&archive, &["status", "--json"], soon);
    assert_eq!(code, 2, "plain status still exits 2 on any failing feed");
    let json: Value = serde_json::from_str(&json).unwrap();
    let ok = &json["sources"][0];
    assert_eq!(ok["articles"], 2);
    assert_eq!(ok["last_new_article"], "2024-06-01T12:00:00Z");
    assert_eq!(ok["last_success"], "2024-06-01T13:00:00Z");
    assert_eq!(ok["failures"], 0);
    assert_eq!(ok["flagged"], false);
    assert_eq!(ok["next_run"], Value::Null, "no watch has run");
    let broken = &json["sources"][1];
    assert_eq!(broken["articles"], 0);
    assert_eq!(broken["last_new_article"], Value::Null);
    assert_eq!(broken["failures"], 2);
    assert_eq!(broken["last_error"], "HTTP 500");
    assert_eq!(broken["failing_since"], "2024-06-01T12:00:00Z");
    assert_eq!(broken["flagged"], false);
    assert_eq!(json["totals"]["articles"], 2);
    assert_eq!(json["totals"]["versions"], 2);
    assert_eq!(json["totals"]["sources"], 2);
    assert!(json["store"]["bytes"].as_u64().unwrap() > 0, "{json}");
    assert_eq!(json["flagged"], serde_json::json!([]));

    // Past two hours: flagged in the table, the JSON and the exit code of --check.
    let late = start() + Duration::minutes(121);
    let (code, out) = status_at(&archive, &["status", "--check"], late);
    assert_eq!(code, 2, "{out}");
    assert_eq!(
        out,
        "FAILING 坏了: since 2024-06-01 12:00 UTC, 2 failed run(s): HTTP 500\n"
    );
    let (_, table) = status_at(&archive, &["status"], late);
    assert!(
        table.contains("    FAILING since 2024-06-01 12:00 UTC (flagged after 2 h)\n"),
        "{table}"
    );
    assert!(
        table.contains("1 source(s) failing for more than 2 h: 坏了"),
        "{table}"
    );
    assert!(
        table.contains("2 articles, 2 versions, 2 sources, 2 feeds"),
        "{table}"
    );
    let (_, json) = status_at(&archive, &["status", "--json", "--check"], late);
    let json: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["flagged"], serde_json::json!(["坏了"]));
    assert_eq!(json["sources"][1]["flagged"], true);

    // One success ends the failing streak: nothing flagged any more.
    server.set("/broken", feed());
    run_at(&archive, late).await;
    let (code, out) = status_at(&archive, &["status", "--check"], late);
    assert_eq!(code, 0, "{out}");
}
