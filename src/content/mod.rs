//! Per-source rules: what an [`Entry`] of a feed becomes as an [`Article`].
//!
//! This is where an item gets its identity (the key the store dedupes on), its display link, a
//! title fit for front matter and file names, and the body its posts show. The content modes are
//! configuration, not code special to a site: `verbatim` keeps the feed's HTML as it is, each line
//! stripped and the lines joined, exactly as the original archives did.

pub mod clean;
pub mod fulltext;
pub mod images;
pub mod lines;
pub mod simple_markup;

use ring::digest::{Context, SHA256};
use url::Url;

use crate::config::{ContentMode, SourceConfig};
use crate::model::{Article, EarlierKey, Entry, ParsedFeed};
pub use lines::join_lines;

/// Query parameters that only track the reader; dropped when comparing links.
const TRACKING_PARAMS: &[&str] = &[
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "igshid", "mc_cid", "mc_eid",
    "_hsenc", "_hsmi", "mkt_tok", "spm",
];

/// Turns one entry into an article under its source's rules.
pub fn make_article(entry: &Entry, feed: &ParsedFeed, source: &SourceConfig) -> Article {
    let title = clean_title(entry.title.as_deref().unwrap_or(""));
    let raw_content = entry
        .content
        .as_deref()
        .filter(|c| !c.trim().is_empty())
        .or(entry.summary.as_deref())
        .unwrap_or("")
        .to_string();
    let (joined, shape) = match source.content {
        ContentMode::Verbatim => {
            let (joined, shape) = lines::join_keeping_shape(&raw_content);
            (joined, (shape.len() < raw_content.len()).then_some(shape))
        }
        ContentMode::Clean => (join_lines(&raw_content), None),
    };
    let version_hash = version_hash(&title, &joined);

    // Relative links point at the feed's site, not at the archive's: resolved against the
    // feed's address before they identify, show or move an article.
    let absolute = |link: &str| absolute_link(link, feed.base.as_ref());
    let entry_link = entry.link.as_deref().map(absolute);
    let feed_link = feed.link.as_deref().map(absolute);
    let guid = entry.guid.clone();
    let guid_url = guid.as_deref().filter(|g| is_web_url(g));
    // A guid taken as the link may be a path on the feed's site.
    let guid_link = guid
        .as_deref()
        .filter(|g| g.starts_with('/'))
        .map(absolute)
        .filter(|g| is_web_url(g));
    let item_link = if source.link_from_guid {
        guid_url.or(guid_link.as_deref()).or(entry_link.as_deref())
    } else {
        entry_link.as_deref()
    };
    let showable = [item_link, guid_url, feed_link.as_deref()]
        .into_iter()
        .enumerate()
        .find_map(|(i, link)| {
            link.filter(|link| is_showable_link(link))
                .map(|link| (i, link))
        });
    let link_from_item = showable.is_some_and(|(i, _)| i < 2);
    let link = showable.map_or("", |(_, link)| link).trim().to_string();

    let key_url = match (&guid, item_link) {
        (Some(guid), _) if is_web_url(guid) => Some(guid.as_str()),
        (Some(_), _) => None,
        (None, link) => link,
    };
    let key = match (key_url, &guid) {
        (Some(url), _) => url_key(url),
        (None, Some(guid)) => format!("guid:{guid}"),
        (None, None) => format!("hash:{}", identity_hash(&title, &joined)),
    };
    // Stores of before keyed a relative link as the feed gave it.
    let relative = match (&guid, entry.link.as_deref()) {
        (None, Some(given)) if url_key(given) != key => {
            Some(url_key(given)).filter(|_| Url::parse(given.trim()).is_err())
        }
        _ => None,
    };
    let earlier_keys = key_url
        .map(|url| earlier_url_keys(url, &key))
        .unwrap_or_default()
        .into_iter()
        .chain(relative.map(|earlier| EarlierKey {
            key: earlier.clone(),
            held_by: earlier,
            rekey: true,
        }))
        .chain(shared_guid_key(
            guid.as_deref(),
            &link,
            link_from_item,
            &key,
        ))
        .collect();
    let body = match source.content {
        ContentMode::Verbatim => joined,
        ContentMode::Clean => {
            let base = Url::parse(&link).ok();
            clean::clean_html(&raw_content, base.as_ref(), &clean_rules(source))
        }
    };
    Article {
        key,
        guid,
        link,
        link_from_item,
        earlier_keys,
        title,
        published: entry.published.or(entry.updated),
        authors: entry.authors.clone(),
        categories: entry.categories.clone(),
        raw_content,
        raw_shape: shape,
        body,
        version_hash,
    }
}

/// The cleaning rules of a source.
pub fn clean_rules(source: &SourceConfig) -> clean::CleanRules {
    clean::CleanRules {
        remove: source.remove.clone(),
        keep_iframes: source.iframes,
    }
}

/// Whether a source keeps an entry, by its `include` and `exclude` filters.
pub fn keeps(source: &SourceConfig, entry: &Entry) -> bool {
    let title = entry.title.as_deref().unwrap_or("");
    let link = entry
        .link
        .as_deref()
        .or(entry.guid.as_deref())
        .unwrap_or("");
    let included = source
        .include
        .as_ref()
        .is_none_or(|f| f.matches(&entry.categories, title, link));
    let excluded = source
        .exclude
        .as_ref()
        .is_some_and(|f| f.matches(&entry.categories, title, link));
    included && !excluded
}

/// The identity of an article known by a URL (a URL guid, or its link): guids and links share one
/// namespace, so an item keyed by its guid in one feed and an imported post known only by its
/// link meet.
pub fn url_key(url: &str) -> String {
    format!("url:{}", canonical_link(url))
}

/// The keys stores of before gave the URL that keys an item as `key`, where they differ, the
/// latest first: they kept its percent-escapes as the feed wrote them (`%e4` and `%E4` were two
/// keys), and earlier still they dropped the fragment. Their article under one of them is this
/// item's when its link or guid is this one's (the same fragment, escapes of any case).
fn earlier_url_keys(url: &str, key: &str) -> Vec<EarlierKey> {
    // Most links have neither: they had the key they have.
    if !url.contains(['%', '#']) {
        return Vec::new();
    }
    let Ok(parsed) = Url::parse(url.trim()) else {
        return Vec::new();
    };
    let mut without = parsed.clone();
    without.set_fragment(None);
    let with_fragment = format!("url:{}", canonical_link_as_written(url));
    let without_fragment = parsed
        .fragment()
        .map(|_| format!("url:{}", canonical_link_as_written(without.as_str())));
    let mut earlier: Vec<EarlierKey> = Vec::new();
    for candidate in std::iter::once(with_fragment).chain(without_fragment) {
        if candidate != key && earlier.iter().all(|e| e.key != candidate) {
            earlier.push(EarlierKey {
                key: candidate,
                held_by: key.to_string(),
                rekey: true,
            });
        }
    }
    earlier
}

/// Items of one feed body that give one guid to different pages are told apart by their
/// links (see [`tell_apart_shared_guids`]); when that guid comes alone later, its item finds its
/// article under its link, as long as that article carries the guid. It keeps that key: another
/// page the guid comes with later is another article, not a move of this one.
fn shared_guid_key(
    guid: Option<&str>,
    link: &str,
    link_from_item: bool,
    key: &str,
) -> Option<EarlierKey> {
    let guid = guid?;
    let by_link = url_key(link);
    (link_from_item && is_web_url(link) && by_link != key).then(|| EarlierKey {
        key: by_link,
        held_by: url_key(guid),
        rekey: false,
    })
}

/// One feed body that gives one guid to items with different links of their own (a site that
/// puts its home page in every `<guid>`) holds different articles, not one: each such item is
/// keyed by its link instead, so none is lost and none overwrites another as an edit or a move.
/// An article a run of before stored under the guid is found by the item whose link it has.
/// Returns the guids so shared, for the caller to name with its source and feed.
pub fn tell_apart_shared_guids(articles: &mut [Article]) -> Vec<String> {
    use std::collections::{BTreeMap, BTreeSet};
    let own_link = |article: &Article| {
        (article.guid.is_some() && article.link_from_item && is_web_url(&article.link))
            .then(|| canonical_link(&article.link))
    };
    let mut links: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for article in articles.iter() {
        if let Some(link) = own_link(article) {
            links.entry(&article.key).or_default().insert(link);
        }
    }
    let shared: BTreeSet<String> = links
        .into_iter()
        .filter(|(_, links)| links.len() > 1)
        .map(|(key, _)| key.to_string())
        .collect();
    let mut guids = Vec::new();
    for article in articles.iter_mut() {
        if own_link(article).is_none() || !shared.contains(&article.key) {
            continue;
        }
        let guid_key = std::mem::replace(&mut article.key, url_key(&article.link));
        let guid = article.guid.clone().unwrap_or_default();
        if !guids.contains(&guid) {
            guids.push(guid);
        }
        article.earlier_keys = std::iter::once(EarlierKey {
            key: guid_key,
            held_by: article.key.clone(),
            rekey: true,
        })
        .chain(earlier_url_keys(&article.link, &article.key))
        .collect();
    }
    guids
}

/// The hash of what the source published: the title and the line-joined content, as
/// `b3:` and the hex of their BLAKE3 hash. Equal hashes are the same version.
///
/// Stores written by a newsvault of before hold [`legacy_version_hash`]es instead (64 hex
/// digits, no prefix): the store tells them apart by the prefix and compares an article against
/// them with the legacy hash (see [`is_legacy_version_hash`]). BLAKE3 took the place of SHA-256
/// because hashing every item of every parsed feed was the largest single cost of parsing.
pub fn version_hash(title: &str, joined_content: &str) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(title.as_bytes());
    hasher.update(&[0u8]);
    hasher.update(joined_content.as_bytes());
    format!("{VERSION_HASH_PREFIX}{}", hasher.finalize().to_hex())
}

/// What starts a [`version_hash`] (and no [`legacy_version_hash`]).
const VERSION_HASH_PREFIX: &str = "b3:";

/// The version hash of stores written before BLAKE3: SHA-256 of the title, a NUL and the
/// joined content, in hex.
pub fn legacy_version_hash(title: &str, joined_content: &str) -> String {
    let mut hasher = Context::new(&SHA256);
    hasher.update(title.as_bytes());
    hasher.update(&[0u8]);
    hasher.update(joined_content.as_bytes());
    hex::encode(hasher.finish())
}

/// An article's version hash as stores written before BLAKE3 hold it.
pub fn legacy_version_hash_of(article: &Article) -> String {
    legacy_version_hash(&article.title, &join_lines(&article.raw_content))
}

/// Whether a stored version hash is a [`legacy_version_hash`].
pub fn is_legacy_version_hash(hash: &str) -> bool {
    !hash.starts_with(VERSION_HASH_PREFIX)
}

/// The `hash:` identity of an item with neither guid nor link: the first 32 hex digits of
/// its [`legacy_version_hash`]. Identities are kept forever, so this one stays SHA-256.
pub fn identity_hash(title: &str, joined_content: &str) -> String {
    let mut hash = legacy_version_hash(title, joined_content);
    hash.truncate(32);
    hash
}

/// Longest title kept, in characters; a longer one is cut (news titles are far shorter).
pub const MAX_TITLE_CHARS: usize = 4_096;

/// A title fit for one line: tabs and line breaks become spaces, other control characters go,
/// and it is cut at [`MAX_TITLE_CHARS`].
pub fn clean_title(title: &str) -> String {
    title
        .chars()
        .take(MAX_TITLE_CHARS)
        .filter_map(|c| match c {
            '\t' | '\n' | '\r' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `link` made absolute against `base` when it is relative and there is a base; else as given.
fn absolute_link(link: &str, base: Option<&Url>) -> String {
    let link = link.trim();
    match base {
        Some(base) if Url::parse(link).is_err() => base
            .join(link)
            .map_or_else(|_| link.to_string(), |url| url.to_string()),
        _ => link.to_string(),
    }
}

/// Whether a link may be shown (in a post's `from:` and first line, the lists, the site): a web
/// URL, or one without a scheme (relative, kept as the feed gave it). A link that would run
/// script or load something other than a page (`javascript:`, `data:`, `vbscript:` …) is not.
/// The site checks every link it renders with it too: an imported post's `from:` never met it.
pub fn is_showable_link(link: &str) -> bool {
    match Url::parse(link.trim()) {
        Ok(url) => matches!(url.scheme(), "http" | "https"),
        Err(_) => !link.trim().is_empty(),
    }
}

fn is_web_url(text: &str) -> bool {
    Url::parse(text).is_ok_and(|u| matches!(u.scheme(), "http" | "https"))
}

/// A link in the form used to compare links: scheme and host lower-cased, default port and an
/// empty fragment dropped, tracking parameters (`utm_*` and the like) removed, the hex digits of
/// percent-escapes upper-cased (RFC 3986 6.2.2.1: WordPress writes `%e4%b8%ad` where others
/// write `%E4%B8%AD`). The fragment is kept: on hash-routed sites (`/#/detail?id=1`) and live
/// blogs (`live#post-3`) it tells pages and posts apart. Text that is not a URL comes back
/// trimmed.
pub fn canonical_link(link: &str) -> String {
    let canonical = canonical_link_as_written(link);
    if !canonical.contains('%') || Url::parse(link.trim()).is_err() {
        return canonical;
    }
    let mut bytes = canonical.into_bytes();
    for at in 0..bytes.len() {
        if bytes[at] == b'%'
            && bytes.get(at + 1).is_some_and(u8::is_ascii_hexdigit)
            && bytes.get(at + 2).is_some_and(u8::is_ascii_hexdigit)
        {
            bytes[at + 1].make_ascii_uppercase();
            bytes[at + 2].make_ascii_uppercase();
        }
    }
    String::from_utf8(bytes).expect("ASCII letters upper-cased in UTF-8 stay UTF-8")
}

/// [`canonical_link`] with percent-escapes as the link wrote them: the form stores of before
/// keyed links by (see [`earlier_url_keys`]).
fn canonical_link_as_written(link: &str) -> String {
    let Ok(mut url) = Url::parse(link.trim()) else {
        return link.trim().to_string();
    };
    // An empty fragment says nothing; one of `key=value` pairs is a tracking mark
    // (`#xtor=RSS-2`, `#ref=rss`), not a place: a route (`#/detail?id=1`, `#!/a`) or an anchor
    // (`#post-3`) tells pages apart.
    if url.fragment().is_some_and(|f| {
        f.is_empty() || (f.contains('=') && !f.starts_with('/') && !f.starts_with('!'))
    }) {
        url.set_fragment(None);
    }
    if url.query().is_some() {
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| {
                let k = k.to_ascii_lowercase();
                !k.starts_with("utm_") && !TRACKING_PARAMS.contains(&k.as_str())
            })
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        if kept.is_empty() {
            url.set_query(None);
        } else {
            url.query_pairs_mut().clear().extend_pairs(kept);
        }
    }
    url.to_string()
}

/// The page a link leads to, for telling whether an article moved: the link canonicalised
/// ([`canonical_link`]) without its query and fragment. Feeds that add a parameter of their own
/// to every link (a session, a cache-buster) would otherwise move their articles on every fetch.
pub fn page_address(link: &str) -> String {
    let canonical = canonical_link(link);
    match Url::parse(&canonical) {
        Ok(mut url) => {
            url.set_query(None);
            url.set_fragment(None);
            url.to_string()
        }
        Err(_) => match canonical.split_once(['?', '#']) {
            Some((address, _)) => address.to_string(),
            None => canonical,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(link_from_guid: bool) -> SourceConfig {
        SourceConfig {
            name: "s".into(),
            id: None,
            feeds: vec!["http://e/".into()],
            tags: None,
            categories: None,
            content: ContentMode::Verbatim,
            link_from_guid,
            timeout_secs: None,
            proxy: None,
            include: None,
            exclude: None,
            remove: vec![],
            iframes: false,
            fulltext: None,
            images: Default::default(),
            interval_mins: None,
        }
    }

    #[test]
    fn canonical_links_compare_equal() {
        assert_eq!(
            canonical_link("HTTPS://WWW.Example.com:443/a?utm_source=x&id=3&fbclid=y"),
            "https://www.example.com/a?id=3"
        );
        assert_eq!(canonical_link("https://e.com/a#"), "https://e.com/a");
        assert_eq!(
            canonical_link("https://e.com/a#xtor=RSS-2"),
            "https://e.com/a"
        );
        assert_eq!(
            canonical_link("https://e.com/a#ref=rss&x=1"),
            "https://e.com/a"
        );
        assert_eq!(
            canonical_link("https://e.com/#/d?id=1"),
            "https://e.com/#/d?id=1"
        );
        assert_eq!(
            canonical_link("https://e.com/#!/d=1"),
            "https://e.com/#!/d=1"
        );
        assert_eq!(
            canonical_link("https://e.com/live#post-3"),
            "https://e.com/live#post-3"
        );
        assert_eq!(
            canonical_link("http://example.com:80/a?utm_medium=rss"),
            "http://example.com/a"
        );
    }

    /// `%e4` and `%E4` are one escape (RFC 3986 6.2.2.1): one key, upper-cased. Stores of
    /// before keyed links with the escapes as written; the item names that key, and the one
    /// without its fragment, for the store to find its own article there.
    #[test]
    fn percent_escapes_compare_without_case() {
        assert_eq!(
            canonical_link("https://e.com/d/%e4%b8%ad?q=%e4%b8%ad#%e4x"),
            "https://e.com/d/%E4%B8%AD?q=%E4%B8%AD#%E4x"
        );
        assert_eq!(
            url_key("https://e.com/d/%e4%b8%ad"),
            url_key("https://e.com/d/%E4%B8%AD")
        );
        assert_eq!(
            url_key("https://e.com/d/中"),
            url_key("https://e.com/d/%e4%b8%ad")
        );
        // Text that is not a URL is kept as given.
        assert_eq!(canonical_link("/d/%e4"), "/d/%e4");
        let entry = |link: &str| Entry {
            link: Some(link.into()),
            ..Default::default()
        };
        let feed = ParsedFeed::default();
        let article = make_article(
            &entry("https://e.com/d/%e4%b8%ad#p1"),
            &feed,
            &source(false),
        );
        assert_eq!(article.key, "url:https://e.com/d/%E4%B8%AD#p1");
        let earlier: Vec<&str> = article
            .earlier_keys
            .iter()
            .map(|e| e.key.as_str())
            .collect();
        assert_eq!(
            earlier,
            [
                "url:https://e.com/d/%e4%b8%ad#p1",
                "url:https://e.com/d/%e4%b8%ad"
            ]
        );
        assert!(
            article
                .earlier_keys
                .iter()
                .all(|e| e.held_by == article.key && e.rekey)
        );
        let upper = make_article(&entry("https://e.com/d/%E4%B8%AD"), &feed, &source(false));
        assert!(upper.earlier_keys.is_empty());
    }

    /// What follows `#` tells pages apart on hash-routed sites (`/#/detail?id=1`) and posts of
    /// a live blog (`live#post-3`): it is part of the identity. Stores of before keyed such items
    /// without it; the item names that earlier key, for the store to find its own article there.
    #[test]
    fn fragments_are_part_of_a_links_identity() {
        let feed = ParsedFeed::default();
        let keys: Vec<Article> = [
            "https://e.cn/#/detail?id=1",
            "https://e.cn/#/detail?id=2",
            "https://e.cn/live#post-3",
            "https://e.cn/live#post-4",
        ]
        .into_iter()
        .map(|link| {
            let entry = Entry {
                link: Some(link.into()),
                ..Default::default()
            };
            make_article(&entry, &feed, &source(false))
        })
        .collect();
        assert_eq!(keys[0].key, "url:https://e.cn/#/detail?id=1");
        assert_eq!(keys[3].key, "url:https://e.cn/live#post-4");
        assert_eq!(
            keys[0].earlier_keys,
            [EarlierKey {
                key: "url:https://e.cn/".into(),
                held_by: keys[0].key.clone(),
                rekey: true,
            }]
        );
        assert_eq!(keys[2].earlier_keys[0].key, "url:https://e.cn/live");
        // Tell a move by the page: the fragment and the query do not make another page.
        assert_eq!(
            page_address("https://e.cn/live?x=1#post-3"),
            "https://e.cn/live"
        );
        // A link without a fragment had the key it has.
        let entry = Entry {
            link: Some("https://e.com/a".into()),
            ..Default::default()
        };
        assert!(
            make_article(&entry, &feed, &source(false))
                .earlier_keys
                .is_empty()
        );
    }

    /// Stores keep these values (in every version, and as the identity of an item with neither
    /// guid nor link): a hash that changed would make every archived article look edited, and
    /// such items look new. Hash of the title, a NUL and the joined content.
    #[test]
    fn version_hashes_are_the_values_stores_keep() {
        assert_eq!(
            version_hash("标题", "第一行\n第二行"),
            "b3:4e7f64ccfce8f18c01756bc24fbf91b472fc23208c3a1d8f3c302bfa2c29d64e"
        );
        assert_eq!(
            legacy_version_hash("标题", "第一行\n第二行"),
            "a47820691cb9ba1fe1289be90cb361622e5e857bbdf26882df8692f3b93a0cca"
        );
        assert_eq!(
            identity_hash("标题", "第一行\n第二行"),
            "a47820691cb9ba1fe1289be90cb36162"
        );
        assert!(!is_legacy_version_hash(&version_hash("t", "c")));
        assert!(is_legacy_version_hash(&legacy_version_hash("t", "c")));
    }

    #[test]
    fn identity_prefers_guid_then_link_then_hash() {
        let feed = ParsedFeed {
            link: Some("https://home/".into()),
            ..Default::default()
        };
        let mut entry = Entry {
            guid: Some("tag:x,1".into()),
            link: Some("https://e.com/1?utm_source=rss".into()),
            title: Some("t".into()),
            ..Default::default()
        };
        assert_eq!(
            make_article(&entry, &feed, &source(false)).key,
            "guid:tag:x,1"
        );
        entry.guid = None;
        let article = make_article(&entry, &feed, &source(false));
        assert_eq!(article.key, "url:https://e.com/1");
        assert_eq!(article.link, "https://e.com/1?utm_source=rss");
        entry.link = None;
        let article = make_article(&entry, &feed, &source(false));
        assert!(article.key.starts_with("hash:"));
        assert_eq!(
            article.link, "https://home/",
            "falls back to the feed's link"
        );
    }

    #[test]
    fn a_verbatim_article_carries_the_shape_of_its_content() {
        let raw = "<div>\n    <p>一</p>\n    <p>二</p>\n</div>";
        let entry = Entry {
            content: Some(raw.into()),
            ..Default::default()
        };
        let feed = ParsedFeed::default();
        let article = make_article(&entry, &feed, &source(false));
        assert_eq!(article.body, "<div><p>一</p><p>二</p></div>");
        let shape = article.raw_shape.expect("a verbatim article has a shape");
        assert_eq!(lines::unjoin(&article.body, &shape).as_deref(), Some(raw));
        // Where the shape would not be shorter than the content, the content stays as it is.
        let entry = Entry {
            content: Some("a\nb".into()),
            ..Default::default()
        };
        assert_eq!(make_article(&entry, &feed, &source(false)).raw_shape, None);
        // A cleaned body is not the content's lines joined.
        let clean = SourceConfig {
            content: ContentMode::Clean,
            ..source(false)
        };
        let entry = Entry {
            content: Some(raw.into()),
            ..Default::default()
        };
        assert_eq!(make_article(&entry, &feed, &clean).raw_shape, None);
    }

    #[test]
    fn link_from_guid() {
        let entry = Entry {
            guid: Some("https://e.com/story/1".into()),
            link: Some("https://e.com/".into()),
            ..Default::default()
        };
        let feed = ParsedFeed::default();
        assert_eq!(
            make_article(&entry, &feed, &source(true)).link,
            "https://e.com/story/1"
        );
        assert_eq!(
            make_article(&entry, &feed, &source(false)).link,
            "https://e.com/"
        );
    }

    /// A link that would run script or load something else than a page (`javascript:`, `data:`)
    /// is never shown: the post links to the guid or the feed instead. Identity is unchanged.
    #[test]
    fn links_that_are_not_web_pages_are_not_shown() {
        let feed = ParsedFeed {
            link: Some("https://home/".into()),
            ..Default::default()
        };
        for link in [
            "javascript:alert(document.cookie)",
            " JavaScript:alert(1)",
            "java\tscript:alert(1)",
            "data:text/html,<script>alert(1)</script>",
            "vbscript:msgbox(1)",
        ] {
            let entry = Entry {
                link: Some(link.into()),
                title: Some("t".into()),
                ..Default::default()
            };
            for mode in [ContentMode::Verbatim, ContentMode::Clean] {
                let source = SourceConfig {
                    content: mode,
                    ..source(false)
                };
                let article = make_article(&entry, &feed, &source);
                assert_eq!(article.link, "https://home/", "{link:?}");
                assert_eq!(article.key, url_key(link), "{link:?}");
            }
            let entry = Entry {
                guid: Some("https://e.com/story/1".into()),
                ..entry
            };
            assert_eq!(
                make_article(&entry, &feed, &source(false)).link,
                "https://e.com/story/1"
            );
        }
        // A relative link is kept as the feed gave it.
        let entry = Entry {
            link: Some("/news/1".into()),
            ..Default::default()
        };
        assert_eq!(make_article(&entry, &feed, &source(false)).link, "/news/1");
    }

    /// A relative link is resolved against the feed's address before it identifies or shows an
    /// article; stores of before keyed it as given, and the item names that key.
    #[test]
    fn relative_links_are_resolved_against_the_feeds_address() {
        let feed = ParsedFeed {
            link: Some("/".into()),
            base: Url::parse("https://e.com/feeds/rss.xml").ok(),
            ..Default::default()
        };
        let entry = Entry {
            link: Some(" /story/42".into()),
            ..Default::default()
        };
        // With `link_from_guid` too: without a guid, the link is the key all the same.
        for link_from_guid in [false, true] {
            let article = make_article(&entry, &feed, &source(link_from_guid));
            assert_eq!(article.link, "https://e.com/story/42");
            assert_eq!(article.key, "url:https://e.com/story/42");
            assert_eq!(
                article.earlier_keys,
                [EarlierKey {
                    key: "url:/story/42".into(),
                    held_by: "url:/story/42".into(),
                    rekey: true,
                }]
            );
        }
        // With a guid, the guid identifies; the link shown is absolute all the same.
        let entry = Entry {
            guid: Some("story-42".into()),
            link: Some("story/43".into()),
            ..Default::default()
        };
        let article = make_article(&entry, &feed, &source(false));
        assert_eq!(
            (article.key.as_str(), article.link.as_str()),
            ("guid:story-42", "https://e.com/feeds/story/43")
        );
        // A guid that is a path, taken as the link.
        let entry = Entry {
            guid: Some("/story/44".into()),
            ..Default::default()
        };
        let article = make_article(&entry, &feed, &source(true));
        assert_eq!(article.link, "https://e.com/story/44");
        assert_eq!(article.key, "guid:/story/44");
        // The feed's own link, fallen back to.
        let article = make_article(&Entry::default(), &feed, &source(false));
        assert_eq!(article.link, "https://e.com/");
    }

    /// One body giving one guid to items with different links: each is keyed by its link, and
    /// may find an article stored under the guid when that article has its link. One guid on
    /// items of one link stays one article.
    #[test]
    fn a_guid_shared_by_different_links_in_one_feed_is_told_apart_by_link() {
        let feed = ParsedFeed::default();
        let item = |guid: &str, link: &str| {
            let entry = Entry {
                guid: Some(guid.into()),
                link: Some(link.into()),
                ..Default::default()
            };
            make_article(&entry, &feed, &source(false))
        };
        let mut articles = vec![
            item("https://e.com/", "https://e.com/n/2"),
            item("https://e.com/", "https://e.com/n/3?utm_source=x"),
            item("same", "https://e.com/s"),
            item("same", "https://e.com/s?utm_medium=rss"),
        ];
        assert_eq!(tell_apart_shared_guids(&mut articles), ["https://e.com/"]);
        let keys: Vec<&str> = articles.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "url:https://e.com/n/2",
                "url:https://e.com/n/3",
                "guid:same",
                "guid:same"
            ]
        );
        assert_eq!(
            articles[1].earlier_keys,
            [EarlierKey {
                key: "url:https://e.com/".into(),
                held_by: "url:https://e.com/n/3".into(),
                rekey: true,
            }]
        );
        // The guid alone, later: keyed by it, its article looked for under its link too.
        let alone = item("https://e.com/", "https://e.com/n/3");
        assert_eq!(alone.key, "url:https://e.com/");
        assert_eq!(
            alone.earlier_keys,
            [EarlierKey {
                key: "url:https://e.com/n/3".into(),
                held_by: "url:https://e.com/".into(),
                rekey: false,
            }]
        );
    }

    #[test]
    fn titles_lose_control_characters() {
        assert_eq!(clean_title("a\nb\u{0}c\u{7f}"), "a bc");
    }
}
