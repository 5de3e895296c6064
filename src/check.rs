//! `newsvault check`: are archived articles still online?
//!
//! Re-fetches article pages through the same [`Fetcher`] as feeds (same per-host limits, proxy,
//! timeouts), a few at a time and the least recently checked first, bounded per call. A page
//! that answers 404 or 410, or that redirects to a section or home page (a common way of taking
//! an article down; a section is a path above the article's by whole segments, so a redirect to
//! the same article spelled otherwise is none), marks the article gone at the source, with an
//! event and a `gone:` key in its post; a gone page that answers again marks it back. Edits are
//! noticed in feeds, not here: a page's HTML is not the feed's content, and comparing them would
//! report every redesign.

use std::collections::HashMap;

use futures::StreamExt;
use url::Url;

use crate::fetch::{FetchError, FetchRequest, Fetched, Fetcher};
use crate::store::{PageState, Store, StoreError};

/// What a check did.
#[derive(Debug, Default, Clone)]
pub struct CheckSummary {
    pub checked: usize,
    pub gone: usize,
    pub back: usize,
    /// Pages that gave no verdict (network errors, 5xx, refused addresses).
    pub unknown: usize,
    /// Those pages by cause ([`FetchError::cause`]).
    pub causes: HashMap<String, usize>,
}

impl CheckSummary {
    /// The cause of most pages without an answer, and how many it left so (the first by name
    /// among equals).
    pub fn most_common_cause(&self) -> Option<(&str, usize)> {
        self.causes
            .iter()
            .map(|(cause, &count)| (cause.as_str(), count))
            .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
    }
}

/// Checks up to `limit` articles (published since `since_ms`, of `source_id` if given).
pub async fn check_articles(
    store: &Store,
    fetcher: &Fetcher,
    since_ms: Option<i64>,
    source_id: Option<&str>,
    limit: usize,
    concurrency: usize,
    now_ms: i64,
) -> Result<CheckSummary, StoreError> {
    let candidates = store.check_candidates(since_ms, source_id, limit)?;
    let mut results = futures::stream::iter(candidates)
        .map(|(id, link)| async move {
            let answer = page_state(fetcher, &link).await;
            (id, link, answer)
        })
        .buffer_unordered(concurrency.max(1));
    let mut summary = CheckSummary::default();
    while let Some((id, link, answer)) = results.next().await {
        summary.checked += 1;
        let state = match answer {
            Ok(state) => state,
            Err(failure) => {
                tracing::info!("{link}: no answer: {failure}");
                *summary.causes.entry(failure.cause()).or_default() += 1;
                PageState::Unknown
            }
        };
        let changed = store.record_check(id, &state, now_ms)?;
        match state {
            PageState::Gone(_) if changed => summary.gone += 1,
            PageState::Online if changed => summary.back += 1,
            PageState::Unknown => summary.unknown += 1,
            _ => {}
        }
    }
    Ok(summary)
}

/// Whether the page at `link` is online or gone, or the failure that left it without an answer.
async fn page_state(fetcher: &Fetcher, link: &str) -> Result<PageState, FetchError> {
    let report = fetcher
        .fetch(&FetchRequest {
            url: link.to_string(),
            validators: Default::default(),
            timeout: None,
            proxy: None,
            untrusted: true,
        })
        .await;
    match report.outcome {
        Ok(Fetched::Body(body)) => Ok(match redirected_away(link, &body.final_url) {
            Some(reason) => PageState::Gone(reason),
            None => PageState::Online,
        }),
        Ok(Fetched::NotModified { .. }) => Ok(PageState::Online),
        Err(FetchError::Status { status, .. }) if status == 404 || status == 410 => {
            Ok(PageState::Gone(format!("HTTP {status}")))
        }
        Err(failure) => Err(failure),
    }
}

/// A redirect from an article to its site's home page or to a section above it (a path whose
/// segments are a proper prefix of the article's) takes the article away. A redirect to the
/// same page spelled otherwise (`.html` dropped or added, a trailing slash, `https`, another
/// host) does not, and neither does one to a page that only starts with the same characters, nor
/// one to a landing page with a query.
fn redirected_away(link: &str, landed: &str) -> Option<String> {
    let (from, to) = (Url::parse(link).ok()?, Url::parse(landed).ok()?);
    if to.query().is_some() {
        return None;
    }
    let (article, landing) = (page_segments(&from), page_segments(&to));
    let above = landing.len() < article.len() && article.starts_with(&landing);
    above.then(|| format!("redirected to {landed}"))
}

/// A URL's path as the page it names: its non-empty segments, the last one without a file
/// extension of letters (`story.html` is `story`), and an index page (`index.html`,
/// `default.aspx`) standing for its folder.
fn page_segments(url: &Url) -> Vec<&str> {
    let mut segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if let Some(last) = segments.last_mut() {
        if let Some((stem, extension)) = last.rsplit_once('.')
            && !stem.is_empty()
            && (1..=5).contains(&extension.len())
            && extension.bytes().all(|b| b.is_ascii_alphabetic())
        {
            *last = stem;
        }
        if last.eq_ignore_ascii_case("index") || last.eq_ignore_ascii_case("default") {
            segments.pop();
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (article, where it redirected to, taken down?)
    #[rustfmt::skip]
    const REDIRECTS: &[(&str, &str, bool)] = &[
        // The home page, or a section above the article: taken down.
        ("https://e.com/news/china/story-1", "https://e.com/", true),
        ("https://e.com/news/china/story-1", "https://e.com", true),
        ("https://e.com/news/china/story-1", "https://www.e.com/", true),
        ("https://e.com/news/china/story-1", "https://e.com/news/china", true),
        ("https://e.com/news/china/story-1", "https://e.com/news/china/", true),
        ("https://e.com/news/china/story-1", "https://e.com/news/", true),
        ("https://e.com/news/china/story-1", "https://e.com/news/china/index.html", true),
        ("https://e.com/news/2024/story-2.html", "https://e.com/news/2024", true),
        ("https://e.com/story.html", "https://e.com/", true),
        // The same article spelled otherwise: online.
        ("https://e.com/news/2024/story-2.html", "https://e.com/news/2024/story-2", false),
        ("https://e.com/news/2024/story-2", "https://e.com/news/2024/story-2.html", false),
        ("https://e.com/news/2024/story-2", "https://e.com/news/2024/story-2/", false),
        ("https://e.com/news/2024/story-2/", "https://e.com/news/2024/story-2", false),
        ("http://e.com/news/2024/story-2", "https://e.com/news/2024/story-2", false),
        ("https://e.com/news/china/story-1", "https://e.com/news/china/story-1", false),
        ("https://e.com/story.html", "https://e.com/story", false),
        // Another page whose path merely starts like the article's, or is elsewhere: online.
        ("https://e.com/news/2024/story-2.html", "https://e.com/news/2024/story", false),
        ("https://e.com/news/china/story-12", "https://e.com/news/china/story-1", false),
        ("https://e.com/news/china/story-1", "https://www.e.com/news/china/story-1-new", false),
        ("https://e.com/news/v-2.5/story", "https://e.com/news/v-2", false),
        // A landing page with a query is not a plain section page.
        ("https://e.com/news/china/story-1", "https://e.com/?from=story-1", false),
        // The home page moving is no takedown of it.
        ("https://e.com/", "https://www.e.com/", false),
    ];

    #[test]
    fn redirects_to_home_or_a_section_are_takedowns_other_spellings_are_not() {
        for &(from, to, gone) in REDIRECTS {
            assert_eq!(
                redirected_away(from, to).is_some(),
                gone,
                "{from} -> {to}: gone should be {gone}"
            );
        }
    }
}
