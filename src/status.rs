//! `newsvault status`: every configured source's feeds and how their fetches have gone.
//!
//! The rows come from the config (every source and feed it lists, fetched or not) joined with
//! the store's record of each feed ([`FeedHealth`]): last attempt, last success, HTTP status,
//! consecutive failures, last error, and where a permanent redirect pointed. A feed that keeps
//! failing also shows until when the run leaves it alone ([`FetchConfig::backing_off_until`]).
//! This module only reads; rendering is a table for people and JSON for scripts.
//!
//! [`FetchConfig::backing_off_until`]: crate::config::FetchConfig::backing_off_until

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::config::Config;
use crate::store::{FeedHealth, Store, StoreError};

/// One configured source and its feeds.
#[derive(Debug, Clone)]
pub struct SourceStatus {
    pub name: String,
    pub id: String,
    pub feeds: Vec<FeedStatus>,
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
        });
    }
    Ok(out)
}

/// A table: one row per feed (the source named on its first), and under a row what went wrong,
/// where the feed moved, and whether it is backing off.
pub fn render_status_table(sources: &[SourceStatus]) -> String {
    let header = ["SOURCE", "LAST SUCCESS (UTC)", "FAILURES", "STATUS", "FEED"];
    let mut rows: Vec<([String; 5], Vec<String>)> = vec![];
    for source in sources {
        for (i, feed) in source.feeds.iter().enumerate() {
            let name = if i == 0 {
                source.name.clone()
            } else {
                String::new()
            };
            let health = feed.health.clone().unwrap_or_default();
            let last_success = match (&feed.health, health.last_success_ms) {
                (None, _) => "never tried".to_string(),
                (Some(_), None) => "never".to_string(),
                (Some(_), Some(ms)) => format_time(ms, "%Y-%m-%d %H:%M"),
            };
            let status = health
                .last_status
                .map_or_else(|| "-".to_string(), |s| s.to_string());
            let mut notes = vec![];
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
                name,
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
    out
}

/// The same as JSON: `{"sources": [{"name", "id", "feeds": [{…}]}]}`, times in RFC 3339 (UTC),
/// absent values `null`.
pub fn render_status_json(sources: &[SourceStatus]) -> Value {
    let time = |ms: Option<i64>| ms.map(format_rfc3339);
    let sources: Vec<Value> = sources
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
                        "moved_to": h.moved_to,
                        "backing_off_until": time(feed.backing_off_until),
                    })
                })
                .collect();
            json!({ "name": source.name, "id": source.id, "feeds": feeds })
        })
        .collect();
    json!({ "sources": sources })
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
            }),
            backing_off_until: None,
        };
        let sources = [
            SourceStatus {
                name: "联合早报".into(),
                id: "联合早报".into(),
                feeds: vec![feed("http://a/", 0)],
            },
            SourceStatus {
                name: "BBC".into(),
                id: "BBC".into(),
                feeds: vec![feed("http://b/", 2)],
            },
        ];
        let table = render_status_table(&sources);
        let column_of_feed: Vec<usize> = table
            .lines()
            .filter(|l| !l.starts_with(' '))
            .map(|l| {
                let at = l.find("http").unwrap_or_else(|| l.find("FEED").unwrap());
                display_width(&l[..at])
            })
            .collect();
        assert_eq!(column_of_feed.len(), 3, "{table}");
        assert!(column_of_feed.windows(2).all(|w| w[0] == w[1]), "{table}");
        assert!(table.contains("    error: HTTP 500\n"), "{table}");
    }
}
