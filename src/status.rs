//! `newsvault status`: every configured source's feeds and how their fetches have gone.
//!
//! The rows come from the config (every source and feed it lists, fetched or not) joined with
//! the store's record of each feed ([`FeedHealth`]): last attempt, last success, HTTP status,
//! consecutive failures, last error, and where a permanent redirect pointed. A feed that keeps
//! failing also shows until when the run leaves it alone ([`FetchConfig::backing_off_until`]).
//! Per source it adds the articles archived, when the last new one came, and when `watch` runs
//! it next; for the whole archive the store's size and totals ([`StatusReport`]).
//!
//! A source is *flagged* when one of its feeds has been failing, without a success in between,
//! for longer than `[status] failing_after_hours`: that is what `status --check` (for
//! monitoring) exits 2 on. A feed down for an hour is not worth a page; one dead for a day is.
//! This module only reads; rendering is a table for people and JSON for scripts.
//!
//! [`FetchConfig::backing_off_until`]: crate::config::FetchConfig::backing_off_until

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::Config;
use crate::store::{FeedHealth, SourceTotals, Store, StoreError, StoreTotals};

/// One configured source and its feeds.
#[derive(Debug, Clone, Default)]
pub struct SourceStatus {
    pub name: String,
    pub id: String,
    pub feeds: Vec<FeedStatus>,
    /// Articles archived and when the newest was first seen.
    pub totals: SourceTotals,
    /// When `watch` runs the source next; `None` when no `watch` has run it.
    pub next_run_ms: Option<i64>,
    /// One of its feeds has been failing for longer than `[status] failing_after_hours`.
    pub flagged: bool,
}

impl SourceStatus {
    /// The latest success over the source's feeds.
    pub fn last_success_ms(&self) -> Option<i64> {
        self.feeds
            .iter()
            .filter_map(|f| f.health.as_ref()?.last_success_ms)
            .max()
    }

    /// The feed failing longest in a row, if any is failing.
    pub fn worst_feed(&self) -> Option<&FeedStatus> {
        self.feeds
            .iter()
            .filter(|f| f.failing())
            .max_by_key(|f| f.health.as_ref().map_or(0, |h| h.failures))
    }

    /// Since when the source's longest-failing feed has been failing.
    pub fn failing_since_ms(&self) -> Option<i64> {
        self.feeds
            .iter()
            .filter(|f| f.failing())
            .filter_map(|f| f.health.as_ref()?.failing_since_ms)
            .min()
    }
}

/// All `status` shows: the sources, and the store's size and totals.
#[derive(Debug, Clone)]
pub struct StatusReport {
    pub sources: Vec<SourceStatus>,
    /// The store's file and its size in bytes (with its write-ahead log); `None`: no store yet.
    pub store: Option<(std::path::PathBuf, u64)>,
    pub totals: StoreTotals,
    /// `[status] failing_after_hours`, for the output.
    pub failing_after_hours: f64,
}

impl StatusReport {
    /// The sources flagged as failing for too long.
    pub fn flagged(&self) -> impl Iterator<Item = &SourceStatus> {
        self.sources.iter().filter(|s| s.flagged)
    }
}

/// The whole report: [`collect_status`] plus the per-source totals, the schedule, the flags and
/// the store's size.
pub fn collect_report(
    config: &Config,
    store: Option<&Store>,
    now_ms: i64,
) -> Result<StatusReport, StoreError> {
    let mut sources = collect_status(config, store, now_ms)?;
    let failing_after_ms = (config.status.failing_after_hours * 3_600_000.0) as i64;
    let next_runs = match store {
        Some(store) => store.next_runs()?,
        None => Default::default(),
    };
    for source in &mut sources {
        if let Some(store) = store {
            source.totals = store.source_totals(&source.id)?;
        }
        source.next_run_ms = next_runs.get(&source.id).copied();
        source.flagged = source
            .failing_since_ms()
            .is_some_and(|since| now_ms - since > failing_after_ms);
    }
    let totals = match store {
        Some(store) => store.totals()?,
        None => StoreTotals::default(),
    };
    let store = store.map(|_| {
        let path = config.store_path();
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let size = |p: &std::path::Path| std::fs::metadata(p).map_or(0, |m| m.len());
        let bytes = size(&path) + size(std::path::Path::new(&wal));
        (path, bytes)
    });
    Ok(StatusReport {
        sources,
        store,
        totals,
        failing_after_hours: config.status.failing_after_hours,
    })
}

/// One feed of a source.
#[derive(Debug, Clone)]
pub struct FeedStatus {
    pub url: String,
    /// `None`: never fetched (or no store yet).
    pub health: Option<FeedHealth>,
    /// When the run will try it again, if it is backing off now.
    pub backing_off_until: Option<i64>,
}

impl FeedStatus {
    /// Whether the last try of this feed failed.
    pub fn failing(&self) -> bool {
        self.health.as_ref().is_some_and(|h| h.failures > 0)
    }
}

/// The status of every source of `config`; `store` is `None` when no run has made one yet.
pub fn collect_status(
    config: &Config,
    store: Option<&Store>,
    now_ms: i64,
) -> Result<Vec<SourceStatus>, StoreError> {
    let mut out = Vec::with_capacity(config.sources.len());
    for source in &config.sources {
        let mut feeds = Vec::with_capacity(source.feeds.len());
        for url in &source.feeds {
            let health = match store {
                Some(store) => store.feed_health(url)?,
                None => None,
            };
            let backing_off_until = health.as_ref().and_then(|h| {
                config
                    .fetch
                    .backing_off_until(h.failures, h.last_attempt_ms)
                    .filter(|until| now_ms < *until)
            });
            feeds.push(FeedStatus {
                url: url.clone(),
                health,
                backing_off_until,
            });
        }
        out.push(SourceStatus {
            name: source.name.clone(),
            id: source.id().to_string(),
            feeds,
            ..Default::default()
        });
    }
    Ok(out)
}

/// A table: one row per feed (the source and its totals named on its first), under a row what
/// went wrong, where the feed moved, and whether it is backing off; a flagged source says so
/// under its first row. Below the table, the store and the archive's totals.
pub fn render_status_table(report: &StatusReport) -> String {
    const COLUMNS: usize = 8;
    let header = [
        "SOURCE",
        "ARTICLES",
        "LAST NEW (UTC)",
        "NEXT RUN (UTC)",
        "LAST SUCCESS (UTC)",
        "FAILURES",
        "STATUS",
        "FEED",
    ];
    let minute = "%Y-%m-%d %H:%M";
    let mut rows: Vec<([String; COLUMNS], Vec<String>)> = vec![];
    for source in &report.sources {
        for (i, feed) in source.feeds.iter().enumerate() {
            let first = i == 0;
            let only_first = |text: String| if first { text } else { String::new() };
            let health = feed.health.clone().unwrap_or_default();
            let last_success = match (&feed.health, health.last_success_ms) {
                (None, _) => "never tried".to_string(),
                (Some(_), None) => "never".to_string(),
                (Some(_), Some(ms)) => format_time(ms, minute),
            };
            let status = health
                .last_status
                .map_or_else(|| "-".to_string(), |s| s.to_string());
            let mut notes = vec![];
            if first
                && source.flagged
                && let Some(since) = source.failing_since_ms()
            {
                notes.push(format!(
                    "FAILING since {} (flagged after {} h)",
                    format_time(since, "%Y-%m-%d %H:%M UTC"),
                    report.failing_after_hours
                ));
            }
            if health.failures > 0
                && let Some(error) = &health.last_error
            {
                notes.push(format!("error: {error}"));
            }
            if let Some(target) = &health.moved_to {
                notes.push(format!("moved to: {target}"));
            }
            if let Some(until) = feed.backing_off_until {
                notes.push(format!(
                    "backing off: next try from {}",
                    format_time(until, "%Y-%m-%d %H:%M UTC")
                ));
            }
            let cells = [
                only_first(source.name.clone()),
                only_first(source.totals.articles.to_string()),
                only_first(
                    source
                        .totals
                        .last_new_ms
                        .map_or_else(|| "-".to_string(), |ms| format_time(ms, minute)),
                ),
                only_first(
                    source
                        .next_run_ms
                        .map_or_else(|| "-".to_string(), |ms| format_time(ms, minute)),
                ),
                last_success,
                health.failures.to_string(),
                status,
                feed.url.clone(),
            ];
            rows.push((cells, notes));
        }
    }
    let mut widths = header.map(display_width);
    for (cells, _) in &rows {
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(display_width(cell));
        }
    }
    let line = |cells: &[String]| {
        let mut out = String::new();
        for (i, cell) in cells.iter().enumerate() {
            out.push_str(cell);
            if i + 1 < cells.len() {
                out.push_str(&" ".repeat(widths[i] - display_width(cell) + 2));
            }
        }
        out.trim_end().to_string() + "\n"
    };
    let mut out = line(&header.map(str::to_string));
    for (cells, notes) in &rows {
        out.push_str(&line(cells));
        for note in notes {
            out.push_str(&format!("    {note}\n"));
        }
    }
    out.push('\n');
    out.push_str(&render_totals(report));
    let flagged: Vec<&str> = report.flagged().map(|s| s.name.as_str()).collect();
    if !flagged.is_empty() {
        out.push_str(&format!(
            "{} source(s) failing for more than {} h: {}\n",
            flagged.len(),
            report.failing_after_hours,
            flagged.join(", ")
        ));
    }
    out
}

/// The store line: where it is, its size, and what the archive holds.
fn render_totals(report: &StatusReport) -> String {
    let Some((path, bytes)) = &report.store else {
        return "no store yet: nothing archived\n".to_string();
    };
    let t = &report.totals;
    format!(
        "store {} ({}): {} articles, {} versions, {} sources, {} feeds, {} hidden, {} gone at the source\n",
        path.display(),
        format_bytes(*bytes),
        t.articles,
        t.versions,
        t.sources,
        t.feeds,
        t.hidden,
        t.gone
    )
}

/// What `status --check` prints: one line per flagged source, or one line saying all is well.
pub fn render_check(report: &StatusReport) -> String {
    let mut out = String::new();
    for source in report.flagged() {
        let since = source
            .failing_since_ms()
            .map_or_else(String::new, |ms| format_time(ms, "%Y-%m-%d %H:%M UTC"));
        let (failures, error) = source
            .worst_feed()
            .and_then(|f| f.health.as_ref())
            .map_or((0, String::new()), |h| {
                (h.failures, h.last_error.clone().unwrap_or_default())
            });
        out.push_str(&format!(
            "FAILING {}: since {since}, {failures} failed run(s): {error}\n",
            source.name
        ));
    }
    if out.is_empty() {
        out = format!(
            "ok: {} source(s), none failing for more than {} h\n",
            report.sources.len(),
            report.failing_after_hours
        );
    }
    out
}

/// The same as JSON: `{"sources": [{"name", "id", …, "feeds": [{…}]}], "store", "totals",
/// "failing_after_hours", "flagged"}`, times in RFC 3339 (UTC), absent values `null`.
pub fn render_status_json(report: &StatusReport) -> Value {
    let time = |ms: Option<i64>| ms.map(format_rfc3339);
    let sources: Vec<Value> = report
        .sources
        .iter()
        .map(|source| {
            let feeds: Vec<Value> = source
                .feeds
                .iter()
                .map(|feed| {
                    let h = feed.health.clone().unwrap_or_default();
                    json!({
                        "url": feed.url,
                        "fetched": feed.health.is_some(),
                        "last_attempt": time(h.last_attempt_ms),
                        "last_success": time(h.last_success_ms),
                        "last_status": h.last_status,
                        "failures": h.failures,
                        "last_error": h.last_error.filter(|_| h.failures > 0),
                        "failing_since": time(h.failing_since_ms.filter(|_| h.failures > 0)),
                        "moved_to": h.moved_to,
                        "backing_off_until": time(feed.backing_off_until),
                    })
                })
                .collect();
            let worst = source.worst_feed().and_then(|f| f.health.clone());
            json!({
                "name": source.name,
                "id": source.id,
                "articles": source.totals.articles,
                "last_new_article": time(source.totals.last_new_ms),
                "next_run": time(source.next_run_ms),
                "last_success": time(source.last_success_ms()),
                "failures": worst.as_ref().map_or(0, |h| h.failures),
                "last_error": worst.and_then(|h| h.last_error),
                "failing_since": time(source.failing_since_ms()),
                "flagged": source.flagged,
                "feeds": feeds,
            })
        })
        .collect();
    let t = &report.totals;
    json!({
        "sources": sources,
        "store": report.store.as_ref().map(|(path, bytes)| json!({
            "path": path.display().to_string(),
            "bytes": bytes,
        })),
        "totals": {
            "sources": t.sources,
            "feeds": t.feeds,
            "articles": t.articles,
            "versions": t.versions,
            "hidden": t.hidden,
            "gone": t.gone,
        },
        "failing_after_hours": report.failing_after_hours,
        "flagged": report.flagged().map(|s| s.name.as_str()).collect::<Vec<_>>(),
    })
}

/// 1536 → "1.5 KiB".
fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64;
    let mut unit = "B";
    for next in UNITS {
        if value < 1024.0 {
            break;
        }
        value /= 1024.0;
        unit = next;
    }
    format!("{value:.1} {unit}")
}

fn format_time(ms: i64, format: &str) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.format(format).to_string())
}

fn format_rfc3339(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(SecondsFormat::Secs, true),
    )
}

/// Columns a terminal gives `text`: East Asian wide characters (CJK, kana, Hangul, full-width
/// forms) take two, so that tables of Chinese source names line up.
fn display_width(text: &str) -> usize {
    text.chars()
        .map(|c| match c as u32 {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6
            | 0x1F300..=0x1F64F
            | 0x20000..=0x3FFFD => 2,
            _ => 1,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(display_width("BBC"), 3);
        assert_eq!(display_width("联合早报"), 8);
        assert_eq!(display_width("(臺)中央社CNA"), 13);
    }

    #[test]
    fn columns_line_up_with_chinese_names() {
        let feed = |url: &str, failures| FeedStatus {
            url: url.to_string(),
            health: Some(FeedHealth {
                url: url.to_string(),
                last_attempt_ms: Some(0),
                last_success_ms: Some(0),
                last_status: Some(200),
                failures,
                last_error: Some("HTTP 500".to_string()).filter(|_| failures > 0),
                moved_to: None,
                failing_since_ms: Some(0).filter(|_| failures > 0),
            }),
            backing_off_until: None,
        };
        let sources = vec![
            SourceStatus {
                name: "联合早报".into(),
                id: "联合早报".into(),
                feeds: vec![feed("http://a/", 0)],
                ..Default::default()
            },
            SourceStatus {
                name: "BBC".into(),
                id: "BBC".into(),
                feeds: vec![feed("http://b/", 2)],
                flagged: true,
                ..Default::default()
            },
        ];
        let report = StatusReport {
            sources,
            store: None,
            totals: StoreTotals::default(),
            failing_after_hours: 24.0,
        };
        let table = render_status_table(&report);
        let column_of_feed: Vec<usize> = table
            .lines()
            .take_while(|l| !l.is_empty())
            .filter(|l| !l.starts_with(' '))
            .map(|l| {
                let at = l.find("http").unwrap_or_else(|| l.find("FEED").unwrap());
                display_width(&l[..at])
            })
            .collect();
        assert_eq!(column_of_feed.len(), 3, "{table}");
        assert!(column_of_feed.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert!(table.contains("    error: HTTP 500\n"), "{table}");
        assert!(
            table.contains("    FAILING since 1970-01-01 00:00 UTC (flagged after 24 h)\n"),
            "{table}"
        );
        assert!(table.ends_with("1 source(s) failing for more than 24 h: BBC\n"));
        assert!(render_check(&report).starts_with("FAILING BBC: since 1970-01-01 00:00 UTC, 2"));
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(format_bytes(10), "10 B");
        assert_eq!(format_bytes(1536), "1.5 KiB");
        assert_eq!(format_bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
