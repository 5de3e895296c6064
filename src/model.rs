//! The nouns passed between stages.
//!
//! [`Entry`] is one item of a feed as the parser saw it, before any per-source rule;
//! [`Article`] is what the content rules make of it and what the store keeps. Both are plain data:
//! the stages own the behaviour.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// One feed, parsed: its own title and link, and its items in feed order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ParsedFeed {
    /// `<channel><title>` (RSS), `<feed><title>` (Atom), `title` (JSON Feed).
    pub title: Option<String>,
    /// The feed's home page: `<channel><link>`, Atom `link rel=alternate`, JSON `home_page_url`.
    /// Used as the display link of items that have neither a link nor a URL guid.
    pub link: Option<String>,
    pub entries: Vec<Entry>,
    /// The web address the feed was fetched from, after redirects: relative links of its items
    /// are resolved against it. Set by whoever fetched it; `None` for a feed read from a file.
    #[serde(skip)]
    pub base: Option<url::Url>,
    /// How many bare `&` (not beginning a character or entity reference) the feed had, each
    /// read as `&amp;` so that one item's `AT&T` does not lose the whole feed; 0 for a
    /// well-formed feed. The caller warns, naming source and feed.
    #[serde(skip)]
    pub bare_ampersands: usize,
}

/// One item of a feed, as published.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Entry {
    /// RSS `<guid>`, Atom `<id>`, JSON Feed `id`; `None` when the feed gives none (the parser's
    /// generated ids are discarded, as they would not be stable).
    pub guid: Option<String>,
    /// The item's first link (RSS `<link>`, Atom `link`, JSON `url`).
    pub link: Option<String>,
    pub title: Option<String>,
    /// RSS `pubDate`, Atom `published`, JSON `date_published`.
    pub published: Option<DateTime<Utc>>,
    /// Atom `updated`, JSON `date_modified`.
    pub updated: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// RSS `<description>`, Atom `<summary>`, JSON `summary`.
    pub summary: Option<String>,
    /// RSS `<content:encoded>`, Atom `<content>`, JSON `content_html` / `content_text`.
    pub content: Option<String>,
}

/// An entry after its source's rules: what the store keeps and the outputs show.
#[derive(Debug, Clone)]
pub struct Article {
    /// Identity within the source: `url:…` (a URL guid, else the link, canonicalised), `guid:…`
    /// (a guid that is not a URL), else `hash:…` of title and content. Never derived from
    /// anything that changes between runs.
    pub key: String,
    pub guid: Option<String>,
    /// The link shown in posts: the item's link (or its guid with `link_from_guid`), else a URL
    /// guid, else the feed's own link. For display only; identity uses `key`.
    pub link: String,
    /// Whether `link` is the item's own (its link or URL guid), not the feed's link it fell back
    /// to: only an item's own link moves a known article to a new address.
    pub link_from_item: bool,
    /// Keys under which the store may hold this item's article when none has `key`, tried in
    /// order (see [`EarlierKey`]).
    pub earlier_keys: Vec<EarlierKey>,
    /// The title with control characters dropped (tabs and line breaks become spaces).
    pub title: String,
    /// The date the feed gave, if any.
    pub published: Option<DateTime<Utc>>,
    pub authors: Vec<String>,
    pub categories: Vec<String>,
    /// The content exactly as the feed delivered it.
    pub raw_content: String,
    /// When `body` is `raw_content` with its lines joined (`verbatim`), the shape that gives
    /// `raw_content` back from `body` (see [`crate::content::lines`]): the store then keeps the
    /// text once. Only when the shape is the shorter of the two.
    pub raw_shape: Option<String>,
    /// The content as posts show it, after the source's content rules.
    pub body: String,
    /// Hash of what the source published (title and line-joined content): equal hashes are the
    /// same version.
    pub version_hash: String,
}

/// A key under which an item's article may be stored: the key an earlier newsvault gave it (a
/// link without its fragment), or the key it had when its feed told it apart another way. The
/// article found there is the item's only when its link or its guid, as a URL key, is
/// `held_by`: a key of before may be shared by several items, and only one's article is there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EarlierKey {
    pub key: String,
    /// The `url:` key the found article's link or guid must have.
    pub held_by: String,
    /// Whether the found article takes the item's key from then on.
    pub rekey: bool,
}
