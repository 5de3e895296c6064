//! Cleaning throughput: `content = "clean"` over 10,000 generated articles.
//!
//!   bench/clean.sh        (generates the corpus, then runs this with `cargo bench --bench clean`)
//!
//! Reads every `feed-*.xml` of the folder given as the first argument, parses them, and cleans
//! the first 10,000 items' content against their links, timing the cleaning alone; prints
//! articles per second and MB/s of input. Three rounds; the median is reported.

use std::time::Instant;

use newsvault::content::clean::{CleanRules, clean_html};
use newsvault::feed::parse_feed;

fn main() {
    let folder = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .expect("usage: cargo bench --bench clean -- <corpus folder>");
    let mut items = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&folder)
        .expect("corpus folder")
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("feed-")
        })
        .collect();
    paths.sort();
    for path in paths {
        let feed = parse_feed(&std::fs::read(&path).unwrap(), None).unwrap();
        for entry in feed.entries {
            let base = entry.link.as_deref().and_then(|l| url::Url::parse(l).ok());
            items.push((entry.summary.unwrap_or_default(), base));
        }
    }
    items.truncate(10_000);
    let bytes: usize = items.iter().map(|(html, _)| html.len()).sum();
    let rules = CleanRules::default();
    let mut rounds = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let mut out = 0;
        for (html, base) in &items {
            out += clean_html(html, base.as_ref(), &rules).len();
        }
        std::hint::black_box(out);
        rounds.push(started.elapsed().as_secs_f64());
    }
    rounds.sort_by(f64::total_cmp);
    let median = rounds[1];
    println!(
        "cleaned {} articles ({:.1} MB) in {:.3} s (median of 3): {:.0} articles/s, {:.1} MB/s",
        items.len(),
        bytes as f64 / 1e6,
        median,
        items.len() as f64 / median,
        bytes as f64 / 1e6 / median
    );
}
