//! The configuration file, `newsvault.toml`.
//!
//! A [`Config`] names the archive folder, the fetch limits and the sources. Relative paths are
//! resolved against the folder holding the config file, so the archive lands in the same place
//! whatever directory newsvault runs from. Unknown keys are errors that name the file, the line and
//! the key: a misspelt option must never be silently ignored by an unattended archiver. So are
//! values that parse but cannot be used (a feed that is not a URL, two sources with one id): the
//! checks run on the parsed config, and the line is found again in the file's spans (`Key`).
//!
//! Defaults live in the `DEFAULT_*` constants below; `newsvault.toml` at the repository root and
//! [`STARTER`] (written by `newsvault init`) explain every key.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use thiserror::Error;
use url::Url;

/// Where the Jekyll tree goes when the config does not say.
pub const DEFAULT_ARCHIVE: &str = "archive";
/// The store's path inside the archive folder (a dot-folder, which Jekyll ignores).
pub const DEFAULT_STORE: &str = ".newsvault/store.sqlite";
/// Feeds fetched at the same time, over all hosts.
pub const DEFAULT_CONCURRENCY: usize = 16;
/// Feeds fetched at the same time from one host.
pub const DEFAULT_PER_HOST: usize = 4;
/// Seconds allowed to open a connection.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// Seconds allowed for a whole request, body included.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;
/// Attempts per feed and run (the first plus retries).
pub const DEFAULT_ATTEMPTS: u32 = 4;
/// First backoff between attempts, in milliseconds; it doubles each retry, with jitter.
pub const DEFAULT_BACKOFF_MS: u64 = 500;
/// Longest wait a `Retry-After` header may impose, in seconds.
pub const DEFAULT_MAX_RETRY_AFTER_SECS: u64 = 60;
/// Largest feed body accepted, after decompression.
pub const DEFAULT_MAX_BODY_BYTES: u64 = 20 * 1024 * 1024;
/// Redirects followed before giving up.
pub const DEFAULT_MAX_REDIRECTS: usize = 10;
/// Items taken from one feed body; the rest are reported and left.
pub const DEFAULT_MAX_ITEMS: usize = 5_000;
/// Consecutive failed runs after which a feed is tried less often (0: always try).
pub const DEFAULT_FAILURE_BACKOFF_AFTER: u32 = 3;
/// Longest pause, in hours, between tries of a feed that keeps failing.
pub const DEFAULT_FAILURE_BACKOFF_MAX_HOURS: u64 = 24;
/// Jekyll's default permalink style.
pub const DEFAULT_PERMALINK: &str = "date";
/// `[publish.git]`: commit the outputs after a run that changed them.
pub const DEFAULT_GIT_COMMIT: bool = true;
/// `[publish.git]`: push after committing.
pub const DEFAULT_GIT_PUSH: bool = false;
/// `[publish.git]`: the remote pushed to.
pub const DEFAULT_GIT_REMOTE: &str = "origin";
/// `[publish.git]`: the commit message; `{new}` and `{changed}` are the run's counts.
pub const DEFAULT_GIT_MESSAGE: &str = "newsvault: {new} new, {changed} changed posts";
/// `[publish.git]`: pushes tried, each rejected one followed by a pull --rebase.
pub const DEFAULT_GIT_PUSH_ATTEMPTS: u32 = 3;

/// `[watch]`: minutes between two runs of a source (`interval_mins` of a source overrides it).
pub const DEFAULT_WATCH_INTERVAL_MINS: f64 = 60.0;
/// `[watch]`: each next run moves by a random amount of up to this share of the interval, in
/// percent, either way, so that sources started together drift apart.
pub const DEFAULT_WATCH_JITTER_PERCENT: f64 = 10.0;
/// `[status]`: a source whose feed has failed for longer than this is flagged.
pub const DEFAULT_FAILING_AFTER_HOURS: f64 = 24.0;

/// The commented config that `newsvault init` writes.
pub const STARTER: &str = include_str!("../newsvault.toml");

/// A config file that could not be used. Every variant names the file.
#[derive(Debug, Error)]
pub enum ConfigError {
    #[error("cannot read config {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// A syntax error, an unknown key or a value of the wrong type.
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    /// The file parsed but says something impossible, at the key named (its line and column
    /// when the key is in the file; a key left to its default is named by its table's).
    #[error("{path}{}: {message}", place(.at))]
    Invalid {
        path: PathBuf,
        at: Option<(usize, usize)>,
        message: String,
    },
}

fn place(at: &Option<(usize, usize)>) -> String {
    at.map(|(line, column)| format!(":{line}:{column}"))
        .unwrap_or_default()
}

/// A mistake [`Config::validate`] finds: what is wrong, and under which key.
#[derive(Debug)]
struct Mistake {
    key: Key,
    message: String,
}

/// A key of the config file, to name the line a mistake is on.
#[derive(Debug, Clone, Copy)]
enum Key {
    /// Key `key` of the `[[source]]` numbered `index` (from 0), or item `item` of its list.
    Source {
        index: usize,
        key: &'static str,
        item: Option<usize>,
    },
    /// Key `key` of the table at `table` (`&["publish", "git"]`).
    Table {
        table: &'static [&'static str],
        key: &'static str,
    },
}

impl Key {
    fn source(index: usize, key: &'static str) -> Key {
        Key::Source {
            index,
            key,
            item: None,
        }
    }

    /// Where in `text` this key (or the item of its list) starts; the start of its table when
    /// the file leaves the key out. `None` when neither is in the file.
    fn offset_in(self, text: &str) -> Option<usize> {
        use toml::de::{DeTable, DeValue};
        let root = DeTable::parse(text).ok()?;
        let (entries, start, key, item) = match self {
            Key::Source { index, key, item } => {
                let source = root.get_ref().get("source")?.get_ref().get(index)?;
                let DeValue::Table(entries) = source.get_ref() else {
                    return Some(source.span().start);
                };
                (entries, source.span().start, key, item)
            }
            Key::Table { table, key } => {
                let (mut entries, mut start) = (root.get_ref(), root.span().start);
                for name in table {
                    let value = entries.get(*name)?;
                    let DeValue::Table(inner) = value.get_ref() else {
                        return Some(value.span().start);
                    };
                    (entries, start) = (inner, value.span().start);
                }
                (entries, start, key, None)
            }
        };
        let Some((name, value)) = entries.get_key_value(key) else {
            return Some(start);
        };
        Some(match item.and_then(|item| value.get_ref().get(item)) {
            Some(item) => item.span().start,
            None => name.span().start,
        })
    }
}

/// The whole config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Folder of the Jekyll tree (`_posts/`, `lists/`, `search.json`).
    #[serde(default = "default_archive")]
    pub archive: PathBuf,
    /// SQLite store; inside the archive folder unless set.
    pub store: Option<PathBuf>,
    /// Jekyll's permalink pattern of the site, for the URLs in `search.json`.
    #[serde(default = "default_permalink")]
    pub permalink: String,
    #[serde(default)]
    pub fetch: FetchConfig,
    #[serde(default)]
    pub publish: PublishConfig,
    #[serde(default)]
    pub check: CheckConfig,
    #[serde(default)]
    pub site: SiteConfig,
    #[serde(default)]
    pub watch: WatchConfig,
    #[serde(default)]
    pub status: StatusConfig,
    #[serde(default, rename = "source")]
    pub sources: Vec<SourceConfig>,
}

/// Where `newsvault build` writes the HTML site, inside the archive: a dot-folder, so Jekyll
/// ignores it.
pub const DEFAULT_SITE_DIR: &str = ".newsvault/site";
/// Where `hide` sets aside the other post files of a hidden article (copies newsvault did not
/// write and cannot write again), inside the archive: a dot-folder, so Jekyll ignores it.
pub const HIDDEN_POSTS_DIR: &str = ".newsvault/hidden-posts";
/// Where the search index lives, inside the archive.
pub const DEFAULT_INDEX_DIR: &str = ".newsvault/index";

/// `[site]`: the HTML site of `newsvault build` and `newsvault serve`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SiteConfig {
    /// Output folder (relative to the config's folder); `<archive>/.newsvault/site` if unset.
    pub out: Option<PathBuf>,
    /// A folder of templates that replace the built-in ones of the same name.
    pub templates: Option<PathBuf>,
    /// The site's title, shown on every page and in the Atom feed.
    pub title: Option<String>,
    /// Whether every `run` and `import jekyll` brings the search index up to date (the
    /// default). Off, a run is lighter (indexing with jieba is most of a big first run's time and
    /// memory) and `search` and `serve` bring the index up to date when they start instead.
    pub index_on_run: Option<bool>,
}

impl SiteConfig {
    pub fn index_on_run(&self) -> bool {
        self.index_on_run.unwrap_or(true)
    }
}

/// Article pages `run` re-checks at the end of each run (0: only `newsvault check` does).
pub const DEFAULT_CHECK_PER_RUN: usize = 0;
/// Article pages `newsvault check` fetches per call.
pub const DEFAULT_CHECK_LIMIT: usize = 200;
/// Article pages checked at the same time.
pub const DEFAULT_CHECK_CONCURRENCY: usize = 2;

/// `[check]`: re-fetching archived article pages to notice takedowns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckConfig {
    pub per_run: usize,
    pub limit: usize,
    pub concurrency: usize,
}

impl Default for CheckConfig {
    fn default() -> Self {
        CheckConfig {
            per_run: DEFAULT_CHECK_PER_RUN,
            limit: DEFAULT_CHECK_LIMIT,
            concurrency: DEFAULT_CHECK_CONCURRENCY,
        }
    }
}

/// `[watch]`: how often `newsvault watch` runs each source.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WatchConfig {
    /// Minutes between two runs of a source; fractions are allowed (0.5 is 30 s).
    pub interval_mins: f64,
    /// Random shift of each next run, in percent of the interval, either way.
    pub jitter_percent: f64,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            interval_mins: DEFAULT_WATCH_INTERVAL_MINS,
            jitter_percent: DEFAULT_WATCH_JITTER_PERCENT,
        }
    }
}

/// `[status]`: what `newsvault status` flags.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StatusConfig {
    /// A source with a feed failing for longer than this is flagged, and `status --check`
    /// exits 2. A run of failures shorter than that (a site down for an hour) is not worth a
    /// page to whoever watches the archive.
    pub failing_after_hours: f64,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            failing_after_hours: DEFAULT_FAILING_AFTER_HOURS,
        }
    }
}

/// `[fetch]`: how newsvault talks to the web.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FetchConfig {
    pub concurrency: usize,
    pub per_host: usize,
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
    pub attempts: u32,
    pub backoff_ms: u64,
    pub max_retry_after_secs: u64,
    pub max_body_bytes: u64,
    pub max_redirects: usize,
    /// Items taken from one feed body (a feed built to flood the archive stops there).
    pub max_items: usize,
    /// `http://…`, `socks5://…` or `socks5h://…`; otherwise the usual proxy variables apply.
    pub proxy: Option<String>,
    /// Sent as `User-Agent`; names newsvault and its version when unset.
    pub user_agent: Option<String>,
    /// Let URLs found in feeds (article pages, `check`) reach loopback and private addresses;
    /// off by default (see `fetch::guard`). Feed URLs in the config are always trusted.
    pub allow_private_addresses: bool,
    /// After this many consecutive failed runs a feed is tried less often: it waits an hour
    /// after its last attempt, then 2, 4, … hours, up to `failure_backoff_max_hours`. A feed
    /// dead for a week should not cost every hourly run its retries and timeouts. 0: always try.
    pub failure_backoff_after: u32,
    pub failure_backoff_max_hours: u64,
}

impl Default for FetchConfig {
    fn default() -> Self {
        FetchConfig {
            concurrency: DEFAULT_CONCURRENCY,
            per_host: DEFAULT_PER_HOST,
            connect_timeout_secs: DEFAULT_CONNECT_TIMEOUT_SECS,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            attempts: DEFAULT_ATTEMPTS,
            backoff_ms: DEFAULT_BACKOFF_MS,
            max_retry_after_secs: DEFAULT_MAX_RETRY_AFTER_SECS,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_redirects: DEFAULT_MAX_REDIRECTS,
            max_items: DEFAULT_MAX_ITEMS,
            proxy: None,
            user_agent: None,
            allow_private_addresses: false,
            failure_backoff_after: DEFAULT_FAILURE_BACKOFF_AFTER,
            failure_backoff_max_hours: DEFAULT_FAILURE_BACKOFF_MAX_HOURS,
        }
    }
}

impl FetchConfig {
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs)
    }
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs)
    }

    /// Until when (ms since 1970) a feed that has failed `failures` consecutive runs, the last
    /// attempt at `last_attempt_ms`, is left alone; `None` when it is due as usual. The pause is
    /// 2^(failures - failure_backoff_after) hours, at most `failure_backoff_max_hours`.
    pub fn backing_off_until(&self, failures: u32, last_attempt_ms: Option<i64>) -> Option<i64> {
        const HOUR_MS: i64 = 3_600_000;
        let last = last_attempt_ms?;
        if self.failure_backoff_after == 0 || failures < self.failure_backoff_after {
            return None;
        }
        let doublings = (failures - self.failure_backoff_after).min(32);
        let hours = (1u64 << doublings).min(self.failure_backoff_max_hours);
        Some(last.saturating_add((hours as i64).saturating_mul(HOUR_MS)))
    }
}

/// `[publish]`: what happens to the outputs after they are written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PublishConfig {
    /// `[publish.git]`; absent, newsvault never runs git.
    pub git: Option<GitConfig>,
}

/// `[publish.git]`: commit the Jekyll outputs to the git work tree holding the archive, and push
/// them, the way the original's CI job did. Credentials never go here: git's own credential
/// helpers, SSH keys or the CI's token do that.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GitConfig {
    /// Commit after a run that changed outputs (never an empty commit).
    pub commit: bool,
    /// Push after committing (and push commits an earlier failed push left behind).
    pub push: bool,
    /// A remote name, or a URL without credentials.
    pub remote: String,
    /// The remote branch; the checked-out branch when unset.
    pub branch: Option<String>,
    /// The commit message; `{new}` and `{changed}` are replaced by the run's counts.
    pub message: String,
    /// Pushes tried before giving up; another writer's push in between makes newsvault pull
    /// with rebase and try again.
    pub push_attempts: u32,
}

impl Default for GitConfig {
    fn default() -> Self {
        GitConfig {
            commit: DEFAULT_GIT_COMMIT,
            push: DEFAULT_GIT_PUSH,
            remote: DEFAULT_GIT_REMOTE.to_string(),
            branch: None,
            message: DEFAULT_GIT_MESSAGE.to_string(),
            push_attempts: DEFAULT_GIT_PUSH_ATTEMPTS,
        }
    }
}

impl GitConfig {
    fn check(&self) -> Result<(), Mistake> {
        let mistake = |key, message: String| {
            Err(Mistake {
                key: Key::Table {
                    table: &["publish", "git"],
                    key,
                },
                message,
            })
        };
        if self.remote.trim().is_empty() || self.remote.starts_with('-') {
            return mistake(
                "remote",
                format!("[publish.git] remote {:?} is not usable", self.remote),
            );
        }
        if let Ok(url) = Url::parse(&self.remote)
            && url.password().is_some()
        {
            return mistake(
                "remote",
                "[publish.git] remote holds a password; use a git credential helper instead".into(),
            );
        }
        if let Some(branch) = &self.branch
            && (branch.trim().is_empty() || branch.starts_with('-'))
        {
            return mistake(
                "branch",
                format!("[publish.git] branch {branch:?} is not usable"),
            );
        }
        if self.push_attempts == 0 {
            return mistake(
                "push_attempts",
                "[publish.git] push_attempts must be at least 1".into(),
            );
        }
        Ok(())
    }
}

/// How a source's content reaches its posts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ContentMode {
    /// Cleaned and sanitised (see `content::clean`): the default.
    #[default]
    Clean,
    /// The feed's HTML as it is, each line stripped and the lines joined (the original format).
    Verbatim,
}

/// A regular expression from the config, compiled when the config is read.
#[derive(Debug, Clone)]
pub struct Pattern(pub regex::Regex);

impl<'de> Deserialize<'de> for Pattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        regex::Regex::new(&text)
            .map(Pattern)
            .map_err(|e| serde::de::Error::custom(format!("bad regular expression {text:?}: {e}")))
    }
}

/// `include` / `exclude`: patterns on an item's categories, title or link. A filter matches an
/// item when any of its patterns does (a category pattern: any of the item's categories).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub categories: Option<Pattern>,
    pub title: Option<Pattern>,
    pub link: Option<Pattern>,
}

impl Filter {
    pub fn matches(&self, categories: &[String], title: &str, link: &str) -> bool {
        self.categories
            .as_ref()
            .is_some_and(|p| categories.iter().any(|c| p.0.is_match(c)))
            || self.title.as_ref().is_some_and(|p| p.0.is_match(title))
            || self.link.as_ref().is_some_and(|p| p.0.is_match(link))
    }
}

/// Largest image `images = "download"` keeps, in bytes.
pub const DEFAULT_MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// What becomes of an article's images.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImagePolicy {
    /// Left on their sites (hot-linked, no referrer).
    #[default]
    Link,
    /// Downloaded into the archive, deduplicated by content.
    Download,
}

/// `fulltext`: where an article's full text comes from when the feed carries a summary.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "FulltextValue")]
pub enum Fulltext {
    /// `fulltext = "auto"`: main-content extraction from the article's page.
    Auto(FulltextAuto),
    /// `fulltext = { selector = "div.post-content" }`: that element of the article's page.
    Selector { selector: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FulltextAuto {
    Auto,
}

/// `fulltext` as written, before it is known to be one of its two forms (so that a mistake is
/// named with both, not as an "untagged enum").
#[derive(Deserialize)]
#[serde(untagged)]
enum FulltextValue {
    Word(String),
    Table(toml::Table),
    Other(toml::Value),
}

impl TryFrom<FulltextValue> for Fulltext {
    type Error = String;

    fn try_from(value: FulltextValue) -> Result<Fulltext, String> {
        const FORMS: &str = r#"use "auto" or { selector = "<CSS selector>" }"#;
        match value {
            FulltextValue::Word(word) if word == "auto" => Ok(Fulltext::Auto(FulltextAuto::Auto)),
            FulltextValue::Word(word) => Err(format!("fulltext {word:?} is not known; {FORMS}")),
            FulltextValue::Table(table) => {
                if let Some(key) = table.keys().find(|key| *key != "selector") {
                    return Err(format!("fulltext has no key `{key}`; {FORMS}"));
                }
                match table.get("selector") {
                    Some(toml::Value::String(selector)) => Ok(Fulltext::Selector {
                        selector: selector.clone(),
                    }),
                    Some(other) => Err(format!(
                        "fulltext's selector must be a string, not {}; {FORMS}",
                        other.type_str()
                    )),
                    None => Err(format!("fulltext has no selector; {FORMS}")),
                }
            }
            FulltextValue::Other(other) => Err(format!(
                "fulltext must be a string or a table, not {}; {FORMS}",
                other.type_str()
            )),
        }
    }
}

/// One `[[source]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// Shown in posts (`author:`), lists and search.
    pub name: String,
    /// What the store keys on; defaults to `name`, so set it before renaming a source.
    pub id: Option<String>,
    /// One or more feed URLs.
    pub feeds: Vec<String>,
    /// Front-matter `tags`; defaults to `[name]`.
    pub tags: Option<Vec<String>>,
    /// Front-matter `categories`; defaults to `[name]`.
    pub categories: Option<Vec<String>>,
    #[serde(default)]
    pub content: ContentMode,
    /// Take the article link from the guid (for feeds whose `<link>` is useless).
    #[serde(default)]
    pub link_from_guid: bool,
    /// Per-source override of `[fetch] timeout_secs`.
    pub timeout_secs: Option<u64>,
    /// Per-source override of `[fetch] proxy`.
    pub proxy: Option<String>,
    /// Keep only items this filter matches.
    pub include: Option<Filter>,
    /// Drop items this filter matches.
    pub exclude: Option<Filter>,
    /// CSS selectors of elements that `clean` drops (share bars, related links …).
    #[serde(default)]
    pub remove: Vec<String>,
    /// Keep `<iframe>` embeds when cleaning.
    #[serde(default)]
    pub iframes: bool,
    /// Fetch the full text from the article's page.
    pub fulltext: Option<Fulltext>,
    /// `"download"`: keep the article's images in the archive (`assets/images/`); `"link"`
    /// (the default): leave them on their sites.
    #[serde(default)]
    pub images: ImagePolicy,
    /// Per-source override of `[watch] interval_mins`.
    pub interval_mins: Option<f64>,
}

impl SourceConfig {
    /// How this source reads its feeds, as a short hash: its id, its filters and the item limit
    /// (`max_items`) decide which of a feed's items it archives. A feed's remembered state (its
    /// validators, its body's hash) stands for one reading: read another way, it is read again.
    pub fn reading(&self, max_items: usize) -> String {
        use ring::digest::{SHA256, digest};
        let filter = |filter: &Option<Filter>| {
            let pattern = |p: &Option<Pattern>| p.as_ref().map(|p| p.0.as_str().to_string());
            filter
                .as_ref()
                .map(|f| [pattern(&f.categories), pattern(&f.title), pattern(&f.link)])
        };
        let what = serde_json::json!([
            self.id(),
            filter(&self.include),
            filter(&self.exclude),
            max_items,
        ]);
        hex::encode(&digest(&SHA256, what.to_string().as_bytes()).as_ref()[..12])
    }

    pub fn id(&self) -> &str {
        self.id.as_deref().unwrap_or(&self.name)
    }
    pub fn tags(&self) -> Vec<String> {
        self.tags.clone().unwrap_or_else(|| vec![self.name.clone()])
    }
    pub fn categories(&self) -> Vec<String> {
        self.categories
            .clone()
            .unwrap_or_else(|| vec![self.name.clone()])
    }
}

fn default_archive() -> PathBuf {
    PathBuf::from(DEFAULT_ARCHIVE)
}

fn default_permalink() -> String {
    DEFAULT_PERMALINK.to_string()
}

impl Config {
    /// Reads and checks a config file; relative paths become relative to its folder.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|cause| ConfigError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, path, base)
    }

    /// Parses config text; `path` names it in errors, `base` anchors relative paths.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map(|span| line_and_column(text, span.start))
                .unwrap_or((1, 1));
            let message = e.message().trim();
            // serde names an unknown key itself; a value of the wrong type, or a key given
            // twice, is named here by where the error is.
            let key = e.span().and_then(|span| key_at(text, span));
            ConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: match key {
                    Some(key) if !message.contains("unknown field") => format!("{key}: {message}"),
                    _ => message.to_string(),
                },
            }
        })?;
        // Checked as written, before relative paths are resolved.
        config.validate().map_err(|mistake| ConfigError::Invalid {
            path: path.to_path_buf(),
            at: mistake
                .key
                .offset_in(text)
                .map(|offset| line_and_column(text, offset)),
            message: mistake.message,
        })?;
        let home = std::env::var_os("HOME")
            .filter(|home| !home.is_empty())
            .map(PathBuf::from);
        let paths = [
            (Some(&mut config.archive), &[][..], "archive"),
            (config.store.as_mut(), &[], "store"),
            (config.site.out.as_mut(), &["site"], "out"),
            (config.site.templates.as_mut(), &["site"], "templates"),
        ];
        for (value, table, key) in paths {
            let Some(value) = value else { continue };
            *value =
                resolve_path(value, base, home.as_deref()).ok_or_else(|| ConfigError::Invalid {
                    path: path.to_path_buf(),
                    at: Key::Table { table, key }
                        .offset_in(text)
                        .map(|offset| line_and_column(text, offset)),
                    message: format!(
                        "`{key}` starts with `~`, the home folder, but HOME is not set; write \
                         the folder out"
                    ),
                })?;
        }
        Ok(config)
    }

    /// How long `watch` waits between two runs of `source` (before jitter).
    pub fn watch_interval(&self, source: &SourceConfig) -> Duration {
        Duration::from_secs_f64(source.interval_mins.unwrap_or(self.watch.interval_mins) * 60.0)
    }

    /// The HTML site's folder: `[site] out`, else inside the archive folder.
    pub fn site_dir(&self) -> PathBuf {
        self.site
            .out
            .clone()
            .unwrap_or_else(|| self.archive.join(DEFAULT_SITE_DIR))
    }

    /// The search index's folder, inside the archive folder.
    pub fn index_dir(&self) -> PathBuf {
        self.archive.join(DEFAULT_INDEX_DIR)
    }

    /// The SQLite file: `store`, else inside the archive folder.
    pub fn store_path(&self) -> PathBuf {
        self.store
            .clone()
            .unwrap_or_else(|| self.archive.join(DEFAULT_STORE))
    }

    fn validate(&self) -> Result<(), Mistake> {
        let mistake = |key: Key, message: String| Err(Mistake { key, message });
        if let Some(store) = &self.store
            && store.as_os_str().to_string_lossy().trim().is_empty()
        {
            return mistake(
                Key::Table {
                    table: &[],
                    key: "store",
                },
                "`store` is empty; leave it out to keep the store in the archive folder".into(),
            );
        }
        if let Some(placeholder) = crate::publish::permalink::unknown_placeholder(&self.permalink) {
            return mistake(
                Key::Table {
                    table: &[],
                    key: "permalink",
                },
                format!(
                    "`permalink` has {placeholder}, which Jekyll does not know (it would refuse to \
                     build the site); it knows :{}",
                    crate::publish::permalink::PLACEHOLDERS.join(", :")
                ),
            );
        }
        let mut ids = HashSet::new();
        // Each source's list page by its file name lower-cased: names that differ only in case
        // are one file on case-insensitive file systems.
        let mut lists: HashMap<String, usize> = HashMap::new();
        let positive = |value: f64| value.is_finite() && value > 0.0 && value < 1e9;
        // Each feed by its URL as parsed (`HTTP://A/f` is `http://a/f`), to the source and item
        // that list it: a feed's state (its validators, which articles it holds) is one.
        let mut feeds: HashMap<String, (usize, usize)> = HashMap::new();
        for (i, source) in self.sources.iter().enumerate() {
            let which = format!("source #{} ({:?})", i + 1, source.name);
            let key = |key| Key::source(i, key);
            // A source's id is its name unless it says otherwise.
            let id_key = key(if source.id.is_some() { "id" } else { "name" });
            if source.name.trim().is_empty() {
                return mistake(key("name"), format!("source #{}: `name` is empty", i + 1));
            }
            if source.id().trim().is_empty() {
                return mistake(id_key, format!("{which}: `id` is empty"));
            }
            if !ids.insert(source.id()) {
                return mistake(
                    id_key,
                    format!(
                        "{which}: id {:?} is used by an earlier source; give one of them its own \
                         `id`",
                        source.id()
                    ),
                );
            }
            let list = crate::publish::jekyll::list_file_name(&source.name);
            if let Some(&earlier) = lists.get(&list.to_lowercase()) {
                return mistake(
                    key("name"),
                    format!(
                        "{which}: its list page lists/{list} would be the same file as source \
                         #{}'s ({:?}); give one of them another `name`",
                        earlier + 1,
                        self.sources[earlier].name
                    ),
                );
            }
            lists.insert(list.to_lowercase(), i);
            if source.feeds.is_empty() {
                return mistake(key("feeds"), format!("{which}: `feeds` lists no URL"));
            }
            for (item, feed) in source.feeds.iter().enumerate() {
                if let Err(why) = check_feed_url(feed) {
                    let at = Key::Source {
                        index: i,
                        key: "feeds",
                        item: Some(item),
                    };
                    return mistake(at, format!("{which}: feed {feed:?} {why}"));
                }
                let url = feed_identity(feed);
                if let Some(&(earlier, earlier_item)) = feeds.get(&url) {
                    let at = Key::Source {
                        index: i,
                        key: "feeds",
                        item: Some(item),
                    };
                    let listed = if earlier == i {
                        format!("is already item {} of its `feeds`", earlier_item + 1)
                    } else {
                        format!(
                            "is already a feed of source #{} ({:?}); one feed is read for one \
                             source (its articles belong to that source)",
                            earlier + 1,
                            self.sources[earlier].name
                        )
                    };
                    return mistake(at, format!("{which}: feed {feed:?} {listed}"));
                }
                feeds.insert(url, (i, item));
            }
            let selectors = source.remove.iter().enumerate().map(|(item, selector)| {
                let at = Key::Source {
                    index: i,
                    key: "remove",
                    item: Some(item),
                };
                (at, selector)
            });
            let fulltext = match &source.fulltext {
                Some(Fulltext::Selector { selector }) => Some((key("fulltext"), selector)),
                _ => None,
            };
            for (at, selector) in selectors.chain(fulltext) {
                if let Err(why) = crate::content::clean::check_selector(selector) {
                    return mistake(at, format!("{which}: selector {selector:?}: {why}"));
                }
            }
            if let Some(proxy) = &source.proxy
                && let Err(why) = check_proxy(proxy)
            {
                return mistake(key("proxy"), format!("{which}: proxy {proxy:?} {why}"));
            }
            if source.timeout_secs == Some(0) {
                return mistake(
                    key("timeout_secs"),
                    format!("{which}: timeout_secs must be at least 1"),
                );
            }
            if let Some(minutes) = source.interval_mins
                && !positive(minutes)
            {
                return mistake(
                    key("interval_mins"),
                    format!("{which}: interval_mins must be a positive number of minutes"),
                );
            }
        }
        let fetch = |key| Key::Table {
            table: &["fetch"],
            key,
        };
        if let Some(proxy) = &self.fetch.proxy
            && let Err(why) = check_proxy(proxy)
        {
            return mistake(fetch("proxy"), format!("[fetch] proxy {proxy:?} {why}"));
        }
        for (key, value) in [
            ("concurrency", self.fetch.concurrency),
            ("per_host", self.fetch.per_host),
            ("attempts", self.fetch.attempts as usize),
            ("max_items", self.fetch.max_items),
            ("timeout_secs", self.fetch.timeout_secs as usize),
            (
                "connect_timeout_secs",
                self.fetch.connect_timeout_secs as usize,
            ),
            ("max_body_bytes", self.fetch.max_body_bytes as usize),
        ] {
            if value == 0 {
                return mistake(fetch(key), format!("[fetch] {key} must be at least 1"));
            }
        }
        if let Some(git) = &self.publish.git {
            git.check()?;
        }
        if !positive(self.watch.interval_mins) {
            return mistake(
                Key::Table {
                    table: &["watch"],
                    key: "interval_mins",
                },
                "[watch] interval_mins must be a positive number of minutes".into(),
            );
        }
        if !(0.0..=100.0).contains(&self.watch.jitter_percent) {
            return mistake(
                Key::Table {
                    table: &["watch"],
                    key: "jitter_percent",
                },
                "[watch] jitter_percent must be between 0 and 100".into(),
            );
        }
        if !positive(self.status.failing_after_hours) {
            return mistake(
                Key::Table {
                    table: &["status"],
                    key: "failing_after_hours",
                },
                "[status] failing_after_hours must be a positive number of hours".into(),
            );
        }
        Ok(())
    }
}

/// A path of the config as a path to use: `~` or `~/…` is under `home` (as in a shell; none
/// without a home), another relative path is under `base` (the config's folder).
fn resolve_path(path: &Path, base: &Path, home: Option<&Path>) -> Option<PathBuf> {
    match path.strip_prefix("~") {
        Ok(rest) => Some(home?.join(rest)),
        Err(_) if path.is_relative() => Some(base.join(path)),
        Err(_) => Some(path.to_path_buf()),
    }
}

pub(crate) fn check_feed_url(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" | "file" => Ok(()),
        other => Err(format!(
            "has scheme {other:?}; only http, https and file are fetched"
        )),
    }
}

/// A feed URL as parsed (`HTTP://A:80/f` is `http://a/f`): two spellings of one feed are one.
pub(crate) fn feed_identity(feed: &str) -> String {
    Url::parse(feed).map_or_else(|_| feed.to_string(), String::from)
}

fn check_proxy(text: &str) -> Result<(), String> {
    let url = Url::parse(text).map_err(|e| format!("is not a URL: {e}"))?;
    match url.scheme() {
        "http" | "https" | "socks5" | "socks5h" => Ok(()),
        other => Err(format!(
            "has scheme {other:?}; use http, https, socks5 or socks5h"
        )),
    }
}

/// The key whose value holds `span` of `text`, as the file spells it (`fetch.timeout_secs`,
/// `tags` of source #2, item 3 of `feeds` of source #1); `None` when `span` is in no value.
/// A file that does not parse (a key given twice) names the key the span covers, if it is one.
fn key_at(text: &str, span: std::ops::Range<usize>) -> Option<String> {
    let Ok(root) = toml::de::DeTable::parse(text) else {
        let word = text.get(span)?.trim();
        let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        return (!word.is_empty() && word.chars().all(bare)).then(|| format!("`{word}`"));
    };
    let mut path = Vec::new();
    if !path_to(root.get_ref(), &span, &mut path) {
        return None;
    }
    // `[[source]]` tables are numbered as the other messages number them; an item of a list
    // is named with its list.
    let (mut keys, mut source, mut item) = (Vec::new(), None, None);
    for step in path {
        match step {
            Step::Index(i) if keys == ["source"] => {
                keys.clear();
                source = Some(i + 1);
            }
            Step::Index(i) => item = Some(i + 1),
            Step::Key(key) => keys.push(key),
        }
    }
    let mut named = format!("`{}`", keys.join("."));
    if let Some(item) = item {
        named = format!("item {item} of {named}");
    }
    if let Some(source) = source {
        named = format!("{named} of source #{source}");
    }
    Some(named)
}

/// One step of the way from the top of a config file down to a value.
enum Step {
    Key(String),
    Index(usize),
}

/// Fills `path` with the way down `table` to the innermost value or key holding `span`.
/// The spans of tables and arrays of tables are those of their headers, not of their contents,
/// so every branch is searched rather than only the one whose span holds `span`.
fn path_to(table: &toml::de::DeTable, span: &std::ops::Range<usize>, path: &mut Vec<Step>) -> bool {
    use toml::de::DeValue;
    let holds = |outer: std::ops::Range<usize>| outer.start <= span.start && span.end <= outer.end;
    for (key, value) in table {
        path.push(Step::Key(key.get_ref().to_string()));
        let found = match value.get_ref() {
            DeValue::Table(inner) => path_to(inner, span, path),
            DeValue::Array(items) => items.iter().enumerate().any(|(i, item)| {
                path.push(Step::Index(i));
                let found = match item.get_ref() {
                    DeValue::Table(inner) => path_to(inner, span, path),
                    _ => holds(item.span()),
                };
                if !found {
                    path.pop();
                }
                found
            }),
            _ => false,
        };
        if found || holds(value.span()) || holds(key.span()) {
            return true;
        }
        path.pop();
    }
    false
}

/// 1-based line and column of a byte offset.
pub(crate) fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..text.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("test.toml"), Path::new("/base"))
    }

    #[test]
    fn a_permalink_jekyll_would_refuse_is_refused() {
        let source = "[[source]]\nname = \"x\"\nfeeds = [\"http://a/\"]\n";
        let err = parse(&format!(
            "archive = \"a\"\npermalink = \"/:foo/:title/\"\n{source}"
        ))
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("test.toml:2:1:"), "{err}");
        assert!(
            err.contains(":foo") && err.contains(":short_month"),
            "{err}"
        );
        for fine in ["pretty", "/:categories/:title_/:w_year/"] {
            parse(&format!("permalink = {fine:?}\n{source}")).unwrap();
        }
    }

    #[test]
    fn paths_resolve_as_in_a_shell() {
        let (base, home) = (Path::new("/conf"), Some(Path::new("/home/u")));
        let resolve = |path: &str| resolve_path(Path::new(path), base, home);
        assert_eq!(resolve("~/news"), Some(PathBuf::from("/home/u/news")));
        assert_eq!(resolve("~"), Some(PathBuf::from("/home/u")));
        assert_eq!(resolve("~other/x"), Some(PathBuf::from("/conf/~other/x")));
        assert_eq!(resolve("news/~"), Some(PathBuf::from("/conf/news/~")));
        assert_eq!(resolve("/srv/news"), Some(PathBuf::from("/srv/news")));
        assert_eq!(resolve_path(Path::new("~/news"), base, None), None);
        assert_eq!(
            resolve_path(Path::new("news"), base, None),
            Some(PathBuf::from("/conf/news"))
        );
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let err = parse(
            "archive = \"a\"\n[[source]]\nname = \"x\"\nfeeds = [\"https://e.com/f\"]\ntagz = []\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("test.toml:5:"), "{err}");
        assert!(err.contains("tagz"), "{err}");
    }

    /// A value of the wrong type, or a key given twice, is named with its line, as an unknown
    /// key is: the user sees which of the file's many `tags` or `timeout_secs` is wrong.
    #[test]
    fn wrong_types_and_repeated_keys_name_file_line_and_key() {
        let feeds = "feeds = [\"https://e.com/f\"]\n";
        for (text, starts, names) in [
            (
                format!(
                    "[[source]]\nname = \"x\"\n{feeds}[[source]]\nname = \"y\"\n{feeds}tags = \"a\"\n"
                ),
                "test.toml:7:8: ",
                "`tags` of source #2: invalid type",
            ),
            (
                "[fetch]\ntimeout_secs = \"30\"\n".to_string(),
                "test.toml:2:16: ",
                "`fetch.timeout_secs`: invalid type",
            ),
            (
                "[[source]]\nname = \"x\"\nfeeds = [\"https://e.com/f\", 3]\n".to_string(),
                "test.toml:3:",
                "item 2 of `feeds` of source #1: invalid type",
            ),
            (
                "archive = \"a\"\narchive = \"b\"\n".to_string(),
                "test.toml:2:1: ",
                "`archive`: ",
            ),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(err.starts_with(starts), "{err}");
            assert!(err.contains(names), "{err}");
        }
    }

    #[test]
    fn defaults_follow_the_name() {
        let config =
            parse("[[source]]\nname = \"联合早报\"\nfeeds = [\"https://e.com/f\"]\n").unwrap();
        let source = &config.sources[0];
        assert_eq!(source.id(), "联合早报");
        assert_eq!(source.tags(), vec!["联合早报"]);
        assert_eq!(source.categories(), vec!["联合早报"]);
        assert_eq!(config.archive, Path::new("/base/archive"));
        assert_eq!(
            config.store_path(),
            Path::new("/base/archive/.newsvault/store.sqlite")
        );
    }

    #[test]
    fn bad_values_are_named() {
        let err = parse("[[source]]\nname = \"x\"\nfeeds = [\"not a url\"]\n").unwrap_err();
        assert!(err.to_string().contains("not a url"), "{err}");
        let err = parse("[[source]]\nname = \"x\"\nfeeds = []\n").unwrap_err();
        assert!(err.to_string().contains("no URL"), "{err}");
        let twice = "[[source]]\nname = \"x\"\nfeeds = [\"http://a/\"]\n[[source]]\nname = \"x\"\nfeeds = [\"http://b/\"]\n";
        assert!(
            parse(twice)
                .unwrap_err()
                .to_string()
                .contains("used by an earlier")
        );
        let err = parse("[[source]]\nname = \"x\"\nfeeds = [\"http://a/\"]\ncontent = \"fancy\"\n")
            .unwrap_err();
        assert!(err.to_string().starts_with("test.toml:4:"), "{err}");
    }

    /// Every mistake found once the file has parsed names the line of the key it is under, as a
    /// syntax error does: the value's item in a list, the name for a clash of ids or list pages.
    #[test]
    fn mistakes_in_values_name_their_line_and_key() {
        let source = "[[source]]\nname = \"a\"\nfeeds = [\"http://a/\"]\n";
        for (text, at, says) in [
            (
                format!("{source}[[source]]\nname = \"b\"\nfeeds = []\n"),
                "6:1",
                "`feeds`",
            ),
            (
                format!(
                    "{source}[[source]]\nname = \"b\"\nfeeds = [\n  \"http://b/\",\n  \"gopher://b/\",\n]\n"
                ),
                "8:3",
                "gopher",
            ),
            (
                format!("{source}[[source]]\nname = \"a\"\nfeeds = [\"http://b/\"]\n"),
                "5:1",
                "id \"a\"",
            ),
            (
                format!(
                    "{source}[[source]]\nname = \"b\"\nfeeds = [\"http://b/\", \"http://B:80/\"]\n"
                ),
                "6:23",
                "already item 1 of its `feeds`",
            ),
            (
                format!(
                    "{source}[[source]]\nname = \"b\"\nfeeds = [\"http://c/\", \"HTTP://a/\"]\n"
                ),
                "6:23",
                "already a feed of source #1",
            ),
            (
                format!("{source}[[source]]\nname = \"b\"\nid = \"a\"\nfeeds = [\"http://b/\"]\n"),
                "6:1",
                "id \"a\"",
            ),
            (
                format!("{source}[[source]]\nname = \"A\"\nid = \"b\"\nfeeds = [\"http://b/\"]\n"),
                "5:1",
                "lists/",
            ),
            (
                format!("{source}remove = [\"p\", \"p[\"]\n"),
                "4:16",
                "selector",
            ),
            (
                format!("{source}interval_mins = -1\n"),
                "4:1",
                "interval_mins",
            ),
            (format!("{source}proxy = \"ftp://p/\"\n"), "4:1", "proxy"),
            (
                format!("[fetch]\nconcurrency = 4\n\nper_host = 0\n{source}"),
                "4:1",
                "per_host",
            ),
            (
                format!("[fetch]\nmax_items = 0\n{source}"),
                "2:1",
                "max_items",
            ),
            (
                format!("[fetch]\ntimeout_secs = 0\n{source}"),
                "2:1",
                "timeout_secs",
            ),
            (format!("{source}timeout_secs = 0\n"), "4:1", "timeout_secs"),
            (
                format!("{source}[publish.git]\nbranch = \"-x\"\n"),
                "5:1",
                "branch",
            ),
            (
                format!("[status]\nfailing_after_hours = 0\n{source}"),
                "2:1",
                "failing_after_hours",
            ),
            (
                format!("{source}[watch]\njitter_percent = 101\n"),
                "5:1",
                "jitter_percent",
            ),
        ] {
            let err = parse(&text).unwrap_err().to_string();
            assert!(
                err.starts_with(&format!("test.toml:{at}: ")),
                "{text}\n{err}"
            );
            assert!(err.contains(says), "{text}\n{err}");
        }
    }

    /// `fulltext` takes `"auto"` or `{ selector = "…" }`; anything else is named, with its line.
    #[test]
    fn a_fulltext_that_is_neither_form_says_which_are() {
        let source = "[[source]]\nname = \"a\"\nfeeds = [\"http://a/\"]\n";
        for (value, says) in [
            ("\"automatic\"", "\"automatic\""),
            ("{ selectr = \"div\" }", "selectr"),
            ("{ selector = 3 }", "selector"),
            ("3", "fulltext"),
        ] {
            let err = parse(&format!("{source}fulltext = {value}\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("test.toml:4:"), "{value}: {err}");
            assert!(err.contains(says), "{value}: {err}");
            assert!(err.contains("\"auto\""), "{value}: {err}");
        }
        let config = parse(&format!("{source}fulltext = \"auto\"\n")).unwrap();
        assert_eq!(
            config.sources[0].fulltext,
            Some(Fulltext::Auto(FulltextAuto::Auto))
        );
        let config = parse(&format!("{source}fulltext = {{ selector = \"div.a\" }}\n")).unwrap();
        assert_eq!(
            config.sources[0].fulltext,
            Some(Fulltext::Selector {
                selector: "div.a".into()
            })
        );
    }

    /// SQLite takes an empty file name for a temporary database: a run would archive into it
    /// and lose everything when it ends.
    #[test]
    fn an_empty_store_path_is_refused() {
        for store in ["\"\"", "\"  \""] {
            let err = parse(&format!(
                "store = {store}\n[[source]]\nname = \"x\"\nfeeds = [\"http://a/\"]\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(err.starts_with("test.toml:1:1: "), "{err}");
            assert!(err.contains("`store`"), "{err}");
        }
    }

    #[test]
    fn sources_whose_list_pages_would_be_one_file_are_refused() {
        let two = |a: &str, b: &str| {
            parse(&format!(
                "[[source]]\nname = {a:?}\nid = \"one\"\nfeeds = [\"http://a/\"]\n\
                 [[source]]\nname = {b:?}\nid = \"two\"\nfeeds = [\"http://b/\"]\n"
            ))
        };
        for (a, b) in [("A/B", "A--B"), ("Zaobao", "zaobao"), ("同名", "同名")] {
            let err = two(a, b).unwrap_err().to_string();
            assert!(err.contains("source #2"), "{a} {b}: {err}");
            assert!(err.contains("lists/"), "{a} {b}: {err}");
        }
        two("联合早报", "聯合早報").unwrap();
    }

    #[test]
    fn failing_feeds_back_off_exponentially_up_to_the_cap() {
        const HOUR: i64 = 3_600_000;
        let fetch = FetchConfig {
            failure_backoff_after: 3,
            failure_backoff_max_hours: 24,
            ..FetchConfig::default()
        };
        let until = |failures| fetch.backing_off_until(failures, Some(0));
        assert_eq!(until(2), None);
        assert_eq!(until(3), Some(HOUR));
        assert_eq!(until(4), Some(2 * HOUR));
        assert_eq!(until(7), Some(16 * HOUR));
        assert_eq!(until(8), Some(24 * HOUR));
        assert_eq!(until(500), Some(24 * HOUR));
        assert_eq!(fetch.backing_off_until(9, None), None, "never tried");
        let off = FetchConfig {
            failure_backoff_after: 0,
            ..FetchConfig::default()
        };
        assert_eq!(off.backing_off_until(100, Some(0)), None);
    }

    #[test]
    fn starter_config_parses() {
        let config = parse(STARTER).unwrap();
        assert_eq!(config.sources.len(), 17);
    }
}
