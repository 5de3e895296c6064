//! `newsvault check`: are archived articles still online?
//!
//! Re-fetches article pages through the same [`Fetcher`] as feeds (same per-host limits, proxy,
//! timeouts), a few at a time and the least recently checked first, bounded per call. A page
//! that answers 404 or 410, or that redirects to a section or home page (a common way of taking
//! an article down), marks the article gone at the source, with an event and a `gone:` key in its
//! post; a gone page that answers again marks it back. Edits are noticed in feeds, not here: a
//! page's HTML is not the feed's content, and comparing them would report every redesign.

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
    /// Pages that gave no verdict (network errors, 5xx).
    pub unknown: usize,
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
        .map(|(id, link)| async move { (id, page_state(fetcher, &link).await) })
        .buffer_unordered(concurrency.max(1));
    let mut summary = CheckSummary::default();
    while let Some((id, state)) = results.next().await {
        summary.checked += 1;
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

async fn page_state(fetcher: &Fetcher, link: &str) -> PageState {
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
        Ok(Fetched::Body(body)) => match redirected_away(link, &body.final_url) {
            Some(reason) => PageState::Gone(reason),
            None => PageState::Online,
        },
        Ok(Fetched::NotModified { .. }) => PageState::Online,
        Err(FetchError::Status { status, .. }) if status == 404 || status == 410 => {
            PageState::Gone(format!("HTTP {status}"))
        }
        Err(_) => PageState::Unknown,
    }
}

/// A redirect from an article to its site's home page or to a section above it (a path that is
/// a proper prefix of the article's) takes the article away.
fn redirected_away(link: &str, landed: &str) -> Option<String> {
    let (from, to) = (Url::parse(link).ok()?, Url::parse(landed).ok()?);
    if from.as_str() == to.as_str() {
        return None;
    }
    let to_path = to.path().trim_end_matches('/');
    let from_path = from.path().trim_end_matches('/');
    let above =
        to_path.is_empty() || (from_path.starts_with(to_path) && from_path.len() > to_path.len());
    (above && to.query().is_none()).then(|| format!("redirected to {landed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_to_home_or_section_are_takedowns() {
        let article = "https://e.com/news/china/story-1";
        assert!(redirected_away(article, "https://e.com/").is_some());
        assert!(redirected_away(article, "https://e.com/news/china").is_some());
        assert!(redirected_away(article, "https://e.com/news/china/story-1").is_none());
        assert!(redirected_away(article, "https://www.e.com/news/china/story-1-new").is_none());
    }
}
