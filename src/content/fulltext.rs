//! `fulltext`: an article's text from its page, for feeds that carry only a summary.
//!
//! `fulltext = { selector = "div.post-content" }` takes that element of the page;
//! `fulltext = "auto"` finds the main content by readability-style extraction with `dom_smoothie`,
//! chosen by measuring: on the 40 real pages of ../shared/extract it scores F1 0.967 against
//! rs-trafilatura's 0.963, at about a fifth of the time and half the dependencies
//! (`bench/extract.sh` scores it). Pages are fetched by
//! the run through the same fetcher as feeds (same limits, politeness and proxy) for new articles
//! only; a page that cannot be had leaves the feed's content in place and is tried again by the
//! next runs, up to [`MAX_TRIES`] times.

use dom_query::Document;

use crate::config::Fulltext;
use crate::content::clean::check_selector;

/// Failed attempts after which an article keeps its feed content for good.
pub const MAX_TRIES: i64 = 3;
/// Pages fetched per source and run at most (a source that turns `fulltext` on for an archive
/// of thousands catches up over several runs).
pub const PER_RUN: usize = 100;

/// What extraction found on a page.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Extracted {
    pub title: Option<String>,
    /// The main content, as HTML.
    pub html: String,
    /// The main content, as text.
    pub text: String,
}

/// Extracts the main content of `page` (an HTML document) by `rule`. `url` helps the automatic
/// extractor resolve links.
pub fn extract(page: &str, url: Option<&str>, rule: &Fulltext) -> Result<Extracted, String> {
    match rule {
        Fulltext::Selector { selector } => by_selector(page, selector),
        Fulltext::Auto(_) => automatic(page, url),
    }
}

/// The element `selector` picks on the page. The selector is checked as the config checks it
/// first, so a malformed one is called invalid rather than matching nothing.
fn by_selector(page: &str, selector: &str) -> Result<Extracted, String> {
    check_selector(selector).map_err(|why| format!("invalid selector {selector:?}: {why}"))?;
    let doc = Document::from(page);
    let found = doc
        .try_select(selector)
        .ok_or_else(|| format!("selector {selector:?} matches nothing on the page"))?
        .first();
    let html = found.inner_html().to_string();
    if html.trim().is_empty() {
        return Err(format!("selector {selector:?} matches an empty element"));
    }
    let title = doc
        .try_select("title")
        .map(|t| t.first().text().trim().to_string())
        .filter(|t| !t.is_empty());
    Ok(Extracted {
        title,
        text: found.text().to_string(),
        html,
    })
}

fn automatic(page: &str, url: Option<&str>) -> Result<Extracted, String> {
    // Formatted text keeps paragraphs apart (Raw can glue words across block tags); measured
    // best of the crate's modes on ../shared/extract (bench/extract.sh).
    let config = dom_smoothie::Config {
        text_mode: dom_smoothie::TextMode::Formatted,
        ..Default::default()
    };
    // A URL that is not absolute http(s) makes the extractor refuse the page.
    let url = url.filter(|u| u.starts_with("http://") || u.starts_with("https://"));
    let mut readability = dom_smoothie::Readability::new(page, url, Some(config))
        .map_err(|e| format!("cannot read the page: {e}"))?;
    let article = readability
        .parse()
        .map_err(|e| format!("no main content found: {e}"))?;
    Ok(Extracted {
        title: Some(article.title.to_string()).filter(|t| !t.is_empty()),
        html: article.content.to_string(),
        text: article.text_content.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "<html><head><title>T</title></head><body><nav>menu</nav>\
        <div class=\"post-content\"><p>第一段。</p><p>第二段。</p></div><footer>f</footer></body></html>";

    #[test]
    fn selector_takes_that_element() {
        let rule = Fulltext::Selector {
            selector: "div.post-content".into(),
        };
        let found = extract(PAGE, None, &rule).unwrap();
        assert_eq!(found.html, "<p>第一段。</p><p>第二段。</p>");
        assert_eq!(found.title.as_deref(), Some("T"));
        let missing = Fulltext::Selector {
            selector: "article".into(),
        };
        assert!(
            extract(PAGE, None, &missing)
                .unwrap_err()
                .contains("matches nothing")
        );
    }

    #[test]
    fn an_invalid_selector_is_named_invalid_not_missing() {
        for selector in ["p:nth-child(", "div[", ""] {
            let rule = Fulltext::Selector {
                selector: selector.into(),
            };
            let err = extract(PAGE, None, &rule).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid selector {selector:?}: ")),
                "{selector:?}: {err}"
            );
        }
    }
}
