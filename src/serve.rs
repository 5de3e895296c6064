//! `newsvault serve`: the built HTML site and a search API over HTTP, for reading the archive on
//! this machine (it binds 127.0.0.1 unless told otherwise).
//!
//! - `GET /api/search?q=…[&source=…][&since=…][&limit=…][&offset=…]`: JSON results (see
//!   [`crate::search::SearchResults`]), `offset` the best results skipped (a later page). A query
//!   that cannot be run answers 400 with `{"error": "…"}`, never 500. Work per request is
//!   bounded: the query's length and words (see [`crate::search`]), at most
//!   [`crate::search::MAX_LIMIT`] results after at most [`crate::search::MAX_OFFSET`], and at most
//!   [`SEARCHES_AT_ONCE`] searches running at once.
//! - Anything else: a file of the site folder. Paths are decoded and checked segment by segment
//!   (no `..`, no hidden files, nothing outside the folder even through a link); a folder serves
//!   its `index.html`.
//!
//! Every answer carries security headers, among them a Content-Security-Policy that forbids inline
//! script (the site's script is the external `assets/site.js`).
//!
//! [`serve`] takes its listener and a shutdown future, in the shape of mini-redis's
//! `server::run`, so tests bind `127.0.0.1:0` and stop it when they are done.
//!
//! Kept current ([`serve_current`], what `newsvault serve` runs): before a search and before a
//! page (`.html`, `.xml`, a folder) is answered, the store is asked whether another process
//! committed to it since the site was last built (SQLite's `data_version`: one query), and the
//! index's `meta.json` whether the index was committed to. A changed store brings the site up
//! to date with an incremental build (and the index too, when runs leave it to `serve`); either
//! change makes searches read the index's last commit at once. So a search never answers with an
//! article whose page the site does not have yet, or has in an older version.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::publish::site::{SiteOptions, build_site};
use crate::search::{
    DEFAULT_LIMIT, MAX_LIMIT, MAX_OFFSET, SearchError, SearchIndex, SearchRequest, parse_since,
};
use crate::store::Store;

/// Searches that may run at the same time; more wait their turn.
pub const SEARCHES_AT_ONCE: usize = 4;
/// Longest `q` accepted before it is even looked at, in bytes.
const MAX_QUERY_BYTES: usize = 1024;

/// The Content-Security-Policy of every answer: the site's own script and styles only, no inline
/// script, images from anywhere (articles link theirs), no frames, no plugins.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' http: https: data:; media-src 'self' http: https:; frame-src 'none'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct ServeState {
    site: PathBuf,
    index_dir: PathBuf,
    /// Opened at the first search that finds the index (it may be built after `serve` starts).
    /// A std mutex: it is held only to clone or set the handle, never across an await.
    index: Mutex<Option<SearchIndex>>,
    searches: Semaphore,
    /// How the site and the index are kept current, when they are (`None` in [`serve`]).
    current: Option<Arc<Mutex<Current>>>,
}

/// What [`serve_current`] keeps the site current with: the store it is built from, how it is
/// built, and what the last look at the store and the index saw.
pub struct Current {
    store: Store,
    options: SiteOptions,
    index_dir: PathBuf,
    update_index: bool,
    /// The store's `data_version` when the site was last brought up to date.
    store_seen: Option<i64>,
    /// The index's `meta.json` (modification time, length) when searches last reloaded it.
    index_seen: Option<(std::time::SystemTime, u64)>,
}

impl Current {
    /// Keeps the site `options` describes current with `store`, whose `data_version` was
    /// `built_at` when the site was last built (`None`: build at the first look); the index in
    /// `index_dir` is brought up to date too when `update_index` (runs leave it to `serve`).
    pub fn new(
        store: Store,
        options: SiteOptions,
        index_dir: PathBuf,
        update_index: bool,
        built_at: Option<i64>,
    ) -> Current {
        let index_seen = index_stamp(&index_dir);
        Current {
            store,
            options,
            index_dir,
            update_index,
            store_seen: built_at,
            index_seen,
        }
    }

    /// Brings the site up to date when the store changed since the last look; returns whether
    /// the store or the index changed (then searches must reload the index). A build that fails
    /// is logged, and the site served as it is, until the store changes again.
    fn refresh(&mut self) -> bool {
        let version = match self.store.data_version() {
            Ok(version) => version,
            Err(e) => {
                tracing::warn!("serve: cannot ask the store whether it changed: {e}");
                return false;
            }
        };
        let store_changed = self.store_seen != Some(version);
        if store_changed {
            self.store_seen = Some(version);
            if let Err(e) = build_site(&self.store, &self.options) {
                tracing::warn!("building the site in {}: {e:#}", self.options.out.display());
            }
            if self.update_index
                && let Err(e) = crate::search::update_index(
                    &self.store,
                    &self.index_dir,
                    crate::search::Building::Fast,
                )
            {
                tracing::warn!("{e}");
            }
        }
        let index = index_stamp(&self.index_dir);
        let index_changed = index != self.index_seen;
        self.index_seen = index;
        store_changed || index_changed
    }
}

/// The index's `meta.json` (modification time, length), which every commit to it rewrites.
fn index_stamp(index_dir: &Path) -> Option<(std::time::SystemTime, u64)> {
    let meta = std::fs::metadata(index_dir.join("meta.json")).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// Serves `site` and the index in `index_dir` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    site: PathBuf,
    index_dir: PathBuf,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::thread::spawn(crate::search::warm_up);
    axum::serve(listener, router(site, index_dir))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves like [`serve`] the site that `current` keeps up to date with its store (see the
/// module's documentation).
pub async fn serve_current(
    listener: TcpListener,
    current: Current,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    std::thread::spawn(crate::search::warm_up);
    let site = current.options.out.clone();
    let index_dir = current.index_dir.clone();
    axum::serve(listener, routes(site, index_dir, Some(current)))
        .with_graceful_shutdown(shutdown)
        .await
}

/// The routes, for [`serve`] and for tests.
pub fn router(site: PathBuf, index_dir: PathBuf) -> Router {
    routes(site, index_dir, None)
}

fn routes(site: PathBuf, index_dir: PathBuf, current: Option<Current>) -> Router {
    let index = SearchIndex::open(&index_dir).ok();
    let state = Arc::new(ServeState {
        site,
        index_dir,
        index: Mutex::new(index),
        searches: Semaphore::new(SEARCHES_AT_ONCE),
        current: current.map(|c| Arc::new(Mutex::new(c))),
    });
    Router::new()
        .route("/api/search", get(search))
        .fallback(static_file)
        .with_state(state)
        .layer(axum::middleware::map_response(security_headers))
}

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Brings the site up to date when the store changed (see [`Current`]), on a blocking thread;
/// one look at a time, so requests that come during a build wait for it. Searches read the
/// index's last commit afterwards when the store or the index changed.
async fn keep_current(state: &ServeState) {
    let Some(current) = state.current.clone() else {
        return;
    };
    let changed = tokio::task::spawn_blocking(move || {
        current
            .lock()
            .map(|mut current| current.refresh())
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false);
    if !changed {
        return;
    }
    let mut slot = state
        .index
        .lock()
        .expect("the index slot is never poisoned");
    match slot.as_ref() {
        Some(index) => {
            if let Err(e) = index.reload() {
                tracing::warn!("reloading the search index: {e}");
            }
        }
        None => *slot = SearchIndex::open(&state.index_dir).ok(),
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, axum::Json(json!({ "error": message.into() }))).into_response()
}

async fn search(
    State(state): State<Arc<ServeState>>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let query = params.get("q").map(|q| q.trim()).unwrap_or_default();
    if query.is_empty() {
        return error(StatusCode::BAD_REQUEST, "give a query: /api/search?q=words");
    }
    if query.len() > MAX_QUERY_BYTES {
        return error(StatusCode::BAD_REQUEST, "the query is too long");
    }
    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("limit must be a number from 1 to {MAX_LIMIT}"),
            );
        }
    };
    let offset = match params.get("offset").map(|o| o.parse::<usize>()) {
        None => 0,
        Some(Ok(n)) if n <= MAX_OFFSET => n,
        Some(_) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("offset must be a number from 0 to {MAX_OFFSET}"),
            );
        }
    };
    let since_ms = match params.get("since").filter(|s| !s.is_empty()) {
        None => None,
        Some(since) => match parse_since(since, chrono::Utc::now().timestamp_millis()) {
            Ok(ms) => Some(ms),
            Err(e) => return error(StatusCode::BAD_REQUEST, e.to_string()),
        },
    };
    let request = SearchRequest {
        query: query.to_string(),
        source: params.get("source").filter(|s| !s.is_empty()).cloned(),
        since_ms,
        limit,
        offset,
    };
    keep_current(&state).await;
    let index = {
        let mut slot = state
            .index
            .lock()
            .expect("the index slot is never poisoned");
        if slot.is_none() {
            *slot = SearchIndex::open(&state.index_dir).ok();
        }
        slot.clone()
    };
    let Some(index) = index else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the search index is not built yet; run `newsvault run`",
        );
    };
    let Ok(_permit) = state.searches.acquire().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    match tokio::task::spawn_blocking(move || index.search(&request)).await {
        Ok(Ok(results)) => axum::Json(results).into_response(),
        Ok(Err(SearchError::BadQuery(why))) => error(StatusCode::BAD_REQUEST, why),
        Ok(Err(e)) => {
            tracing::error!("search: {e:#}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the search failed")
        }
        Err(e) => {
            tracing::error!("search task: {e}");
            error(StatusCode::INTERNAL_SERVER_ERROR, "the search failed")
        }
    }
}

/// The file of the site folder that `path` names, if it names one safely: each decoded segment
/// must be a plain name (no `..`, `.`, hidden names, separators or NULs).
pub fn resolve(site: &Path, path: &str) -> Option<PathBuf> {
    let decoded = percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()?;
    let mut file = site.to_path_buf();
    for segment in decoded.split('/').filter(|s| !s.is_empty()) {
        if segment.starts_with('.') || segment.contains(['\\', '\0']) {
            return None;
        }
        file.push(segment);
    }
    if decoded.ends_with('/') || decoded.is_empty() || file.is_dir() {
        file.push("index.html");
    }
    // A link inside the folder must not lead out of it.
    let real = file.canonicalize().ok()?;
    let root = site.canonicalize().ok()?;
    real.starts_with(&root).then_some(real)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "json" => "application/json",
        "xml" => "application/atom+xml; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

async fn static_file(State(state): State<Arc<ServeState>>, method: Method, uri: Uri) -> Response {
    if method != Method::GET && method != Method::HEAD {
        return (StatusCode::METHOD_NOT_ALLOWED, "GET or HEAD only").into_response();
    }
    // Pages (not assets) are answered as the archive is now.
    let page = uri.path().ends_with('/')
        || Path::new(uri.path())
            .extension()
            .is_none_or(|e| e == "html" || e == "xml");
    if page {
        keep_current(&state).await;
    }
    let Some(path) = resolve(&state.site, uri.path()) else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    match tokio::fs::read(&path).await {
        Ok(bytes) => (
            [
                (header::CONTENT_TYPE, content_type(&path)),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            bytes,
        )
            .into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "not found").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_site() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a")).unwrap();
        std::fs::write(dir.path().join("index.html"), "home").unwrap();
        std::fs::write(dir.path().join("a/1.html"), "one").unwrap();
        std::fs::write(dir.path().join(".newsvault-build.json"), "{}").unwrap();
        let site = dir.path();
        assert!(resolve(site, "/").unwrap().ends_with("index.html"));
        assert!(resolve(site, "/a/1.html").is_some());
        assert!(resolve(site, "/a/../index.html").is_none());
        assert!(resolve(site, "/a/%2e%2e/index.html").is_none());
        assert!(resolve(site, "/..%2f..%2fetc/passwd").is_none());
        assert!(resolve(site, "/.newsvault-build.json").is_none());
        assert!(resolve(site, "/a/2.html").is_none());
    }
}
