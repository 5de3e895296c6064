//! Fault tests: servers that fail, in a set pattern and at random, and what survives a run.
//!
//! The exact test fails each feed's first requests in a known pattern and expects every article
//! in one run with the retries counted. The random one is `../shared/bench/serve.py --fail-rate
//! 0.3` done in Rust, so it runs wherever the test suite does: each request fails with
//! probability 0.3, drawn from an RNG seeded per feed (so the outcome does not depend on the order
//! in which concurrent requests arrive). With the default `attempts`, a feed is lost in a run with
//! probability 0.3^attempts; the test expects at least 95 % of the articles after one run and all
//! of them after two.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{TimeZone, Utc};
use common::{FeedServer, Reply, TempArchive, rss};
use newsvault::clock::Clock;
use newsvault::config::{Config, DEFAULT_ATTEMPTS};
use newsvault::run::{RunSummary, run};

fn clock() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap())
}

async fn run_archive(archive: &TempArchive) -> RunSummary {
    let config = Config::load(&archive.config).unwrap();
    run(&config, clock()).await.unwrap()
}

/// A feed of `items` items whose guids are unique to feed `feed`.
fn feed(feed: usize, items: usize) -> String {
    let items: Vec<(String, String, String)> = (0..items)
        .map(|i| {
            (
                format!("https://example.com/{feed}/{i}"),
                format!("第{feed}源第{i}条"),
                format!("<p>正文 {feed} {i}</p>"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(g, t, c)| (g.as_str(), t.as_str(), c.as_str()))
        .collect();
    rss(&borrowed)
}

/// Feed `i` fails its first `i % 3` requests, with a retryable status that varies by feed.
#[tokio::test(flavor = "multi_thread")]
async fn feeds_failing_first_requests_in_a_pattern_archive_in_one_run() {
    const FEEDS: usize = 12;
    const ITEMS: usize = 5;
    let server = FeedServer::start().await;
    let statuses = [500, 502, 503, 504, 408, 429];
    let mut sources = vec![];
    let mut expected_retries = 0;
    for i in 0..FEEDS {
        let body = feed(i, ITEMS);
        let fails = i % 3;
        let status = statuses[i % statuses.len()];
        expected_retries += fails as u32;
        let path = format!("/feed-{i}");
        server.route(&path, move |_, count| {
            if count < fails {
                Reply::status(status)
            } else {
                Reply::ok(body.clone())
            }
        });
        sources.push((format!("source {i}"), vec![server.url(&path)]));
    }
    let sources: Vec<(&str, Vec<String>)> = sources
        .iter()
        .map(|(n, f)| (n.as_str(), f.clone()))
        .collect();
    let archive = TempArchive::new(&sources, "[fetch]\nbackoff_ms = 5\n");
    let summary = run_archive(&archive).await;
    assert_eq!(summary.failed_feeds(), 0);
    assert_eq!(summary.new_articles(), FEEDS * ITEMS);
    assert_eq!(archive.post_names().len(), FEEDS * ITEMS);
    assert_eq!(summary.retries(), expected_retries);
    for (i, source) in summary.sources.iter().enumerate() {
        assert_eq!(source.retries, (i % 3) as u32, "{}", source.name);
        assert_eq!(server.hits(&format!("/feed-{i}")), i % 3 + 1);
    }
    let printed = newsvault::run::describe(&summary, &archive.archive());
    assert!(printed.contains("source 2: 5 new"), "{printed}");
    assert!(printed.contains("2 retries"), "{printed}");
}

/// 50 feeds × 20 items behind a server failing 30 % of requests at random.
#[tokio::test(flavor = "multi_thread")]
async fn random_failures_lose_little_and_nothing_after_two_runs() {
    const FEEDS: usize = 50;
    const ITEMS: usize = 20;
    const FAIL_RATE: f64 = 0.3;
    const SEED: u64 = 20240601;
    let server = FeedServer::start().await;
    // One RNG per feed, drawn once per request to it.
    let rngs: Arc<Mutex<HashMap<usize, fastrand::Rng>>> = Default::default();
    let mut sources = vec![];
    for i in 0..FEEDS {
        let body = feed(i, ITEMS);
        let rngs = rngs.clone();
        let path = format!("/feed-{i}");
        server.route(&path, move |_, _| {
            let mut rngs = rngs.lock().unwrap();
            let rng = rngs
                .entry(i)
                .or_insert_with(|| fastrand::Rng::with_seed(SEED ^ (i as u64) << 8));
            if rng.f64() < FAIL_RATE {
                Reply::status(500)
            } else {
                Reply::ok(body.clone())
            }
        });
        sources.push((format!("source {i}"), vec![server.url(&path)]));
    }
    let sources: Vec<(&str, Vec<String>)> = sources
        .iter()
        .map(|(n, f)| (n.as_str(), f.clone()))
        .collect();
    // Default retry settings except the backoff, so the test is quick.
    let archive = TempArchive::new(&sources, "[fetch]\nbackoff_ms = 5\nconcurrency = 16\n");
    let total = FEEDS * ITEMS;

    let first = run_archive(&archive).await;
    let after_one = archive.post_names().len();
    assert_eq!(after_one, first.new_articles());
    assert!(
        after_one * 100 >= total * 95,
        "{after_one} of {total} articles after one run ({} feeds failed)",
        first.failed_feeds()
    );
    assert!(first.retries() > 0, "the server injected no failures");
    let requests: usize = (0..FEEDS).map(|i| server.hits(&format!("/feed-{i}"))).sum();
    assert!(
        requests <= FEEDS * DEFAULT_ATTEMPTS as usize,
        "{requests} requests"
    );

    let second = run_archive(&archive).await;
    assert_eq!(
        archive.post_names().len(),
        total,
        "after two runs ({} feeds failed in the second)",
        second.failed_feeds()
    );
}
