//! One pass over the sources: fetch what is due, parse, apply the rules, store, publish.
//!
//! The only concurrent part of the pipeline is the fan-out below: each feed is fetched and parsed
//! on the runtime's workers, at most `[fetch] concurrency` at once and at most `per_host` per host
//! (inside `fetch`); parsing runs on the blocking pool, one feed per core ahead of the ingest
//! (`Parsers`). The results come back to this one task, which owns the [`Store`] and ingests
//! them in a single transaction; only after that commit are posts written. A feed that fails is
//! recorded and reported, and never stops the others.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;

use crate::clock::Clock;
use crate::config::{Config, SourceConfig};
use crate::content::{make_article, tell_apart_shared_guids};
use crate::feed::parse_feed;
use crate::fetch::{FetchRequest, Fetched, Fetcher, Validators};
use crate::lock::ArchiveLock;
use crate::model::Article;
use crate::publish::jekyll::{self, LISTS_DIR, POSTS_DIR, PublishReport};
use crate::publish::sweep_temporary_files;
use crate::store::{FeedResult, Ingest, Ingested, SourceMeta, Store};

/// What happened to one source in a run.
#[derive(Debug, Clone, Default)]
pub struct SourceSummary {
    pub name: String,
    /// Articles seen for the first time.
    pub new: usize,
    /// Articles seen before with other content (a version added).
    pub changed: usize,
    /// Articles seen before, unchanged.
    pub unchanged: usize,
    /// Articles seen before whose item gave them another link of its own (see
    /// [`crate::store::Ingested::moved`]); also counted as changed or unchanged.
    pub moved: usize,
    /// Feeds answered by 304 or with the same body as last time.
    pub not_modified: usize,
    /// Requests beyond the first, over the source's feeds.
    pub retries: u32,
    /// Feeds that failed: (URL, reason).
    pub failed: Vec<(String, String)>,
    /// Articles that got their full text from their page this run.
    pub fulltext: usize,
    /// Article pages whose full text could not be had: (link, reason). The article keeps the
    /// feed's content; later runs try again.
    pub fulltext_failed: Vec<(String, String)>,
    /// Images saved into the archive this run (`images = "download"`).
    pub images_saved: usize,
    /// Images that could not be had: (URL, reason). They stay remote; later runs try again.
    pub images_failed: Vec<(String, String)>,
    /// Feeds not tried this run because they have been failing (`[fetch] failure_backoff_after`).
    pub backing_off: Vec<BackingOff>,
}

/// A feed left alone this run: it failed `failures` runs in a row, the last one too recently.
#[derive(Debug, Clone)]
pub struct BackingOff {
    pub url: String,
    pub failures: u32,
    /// The first moment (ms since 1970) a run tries it again.
    pub until_ms: i64,
}

/// What a run did.
#[derive(Debug, Clone, Default)]
pub struct RunSummary {
    pub sources: Vec<SourceSummary>,
    pub publish: PublishReport,
    /// Bytes received over all feeds (after decompression).
    pub bytes: u64,
    /// A shutdown (signal) stopped the run before every feed was in: what was ingested is
    /// committed and published, the rest is fetched next run.
    pub interrupted: bool,
}

impl RunSummary {
    pub fn new_articles(&self) -> usize {
        self.sources.iter().map(|s| s.new).sum()
    }
    pub fn failed_feeds(&self) -> usize {
        self.sources.iter().map(|s| s.failed.len()).sum()
    }
    pub fn retries(&self) -> u32 {
        self.sources.iter().map(|s| s.retries).sum()
    }
}

/// One feed to fetch.
struct FeedJob {
    source: usize,
    url: String,
    validators: Validators,
    body_hash: Option<String>,
}

/// What fetching and parsing one feed gave.
struct FeedDone {
    source: usize,
    url: String,
    attempts: u32,
    bytes: u64,
    outcome: FeedOutcome,
    /// The parser a parsed feed holds until its articles are ingested.
    _parser: Option<Parser>,
}

enum FeedOutcome {
    /// Parsed: the articles and what to remember about the answer.
    Parsed {
        articles: Vec<(Article, String)>,
        status: u16,
        validators: Validators,
        body_hash: String,
        moved_to: Option<String>,
    },
    /// 304, or the very body ingested last time.
    Unchanged {
        validators: Validators,
        body: Option<(u16, String)>,
        /// Where a permanent redirect pointed (recorded with an unchanged body).
        moved_to: Option<String>,
    },
    Failed {
        status: Option<u16>,
        reason: String,
    },
}

/// Runs every source of `config` once, holding the archive's lock (see [`crate::lock`]).
pub async fn run(config: &Config, clock: Clock) -> Result<RunSummary> {
    run_until(config, clock, std::future::pending()).await
}

/// [`run`], stopped early when `shutdown` completes (the binary passes a signal listener, see
/// [`crate::shutdown`]): feeds still in flight are dropped, what was ingested is committed and
/// published, and the summary says `interrupted`.
pub async fn run_until(
    config: &Config,
    clock: Clock,
    shutdown: impl Future<Output = ()>,
) -> Result<RunSummary> {
    let lock = ArchiveLock::acquire(&config.archive)?;
    run_locked(config, clock, &lock, shutdown).await
}

/// [`run_until`] for a caller that already holds the archive's lock (`watch` holds it across
/// runs).
pub async fn run_locked(
    config: &Config,
    clock: Clock,
    _lock: &ArchiveLock,
    shutdown: impl Future<Output = ()>,
) -> Result<RunSummary> {
    let store_path = config.store_path();
    let store = Store::open(&store_path)?;
    store.defer_checkpoints()?;
    let posts_dir = config.archive.join(POSTS_DIR);
    std::fs::create_dir_all(&posts_dir)
        .with_context(|| format!("creating {}", posts_dir.display()))?;
    // What a crash left half-written: posts, list pages, and search.json in the archive folder.
    for folder in [&config.archive, &posts_dir, &config.archive.join(LISTS_DIR)] {
        sweep_temporary_files(folder)
            .with_context(|| format!("sweeping temporary files in {}", folder.display()))?;
    }

    let started = clock.now().timestamp_millis();
    let timer = std::time::Instant::now();
    let mut jobs = Vec::new();
    let mut backing_off = Vec::new();
    let readings: Vec<String> = config
        .sources
        .iter()
        .map(|source| source.reading(config.fetch.max_items))
        .collect();
    // List pages of names the configured sources no longer go by (a source renamed, its `id`
    // kept): newsvault wrote them, and removes them once the new ones are written.
    let mut renamed_lists = Vec::new();
    for (i, source) in config.sources.iter().enumerate() {
        if let Some(old) = store.source_name(source.id())?
            && old != source.name
        {
            renamed_lists.push(jekyll::list_file_name(&old));
            renamed_lists.extend(jekyll::former_list_file_name(&old));
        }
        store.ensure_source(source.id(), &source.name, started)?;
        for url in &source.feeds {
            let health = store.feed_health(url)?.unwrap_or_default();
            if let Some(until_ms) = config
                .fetch
                .backing_off_until(health.failures, health.last_attempt_ms)
                && started < until_ms
            {
                let url = url.clone();
                let failures = health.failures;
                backing_off.push((
                    i,
                    BackingOff {
                        url,
                        failures,
                        until_ms,
                    },
                ));
                continue;
            }
            let state = store.feed_state(url)?;
            // Read another way than last time, the feed is fetched whole and read again; so is
            // one whose reading is not known (recorded since store schema 10).
            let same_reading = state.reading.as_deref() == Some(readings[i].as_str());
            jobs.push(FeedJob {
                source: i,
                url: url.clone(),
                validators: if same_reading {
                    state.validators
                } else {
                    Validators::default()
                },
                body_hash: state.body_hash.filter(|_| same_reading),
            });
        }
    }

    // A bar over the feeds, on a terminal only (see `progress`).
    let progress = crate::progress::Progress::bar(jobs.len() as u64, "feeds");
    let fetcher = Arc::new(Fetcher::new(&config.fetch));
    let sources: Arc<Vec<SourceConfig>> = Arc::new(config.sources.clone());
    let parsers = Parsers::one_per_core();
    let mut summary = RunSummary {
        sources: config
            .sources
            .iter()
            .map(|s| SourceSummary {
                name: s.name.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    for (i, skipped) in backing_off {
        summary.sources[i].backing_off.push(skipped);
    }

    // The fan-out: feeds are fetched and parsed concurrently; results come back here in the order
    // they finish.
    let mut results = futures::stream::iter(jobs)
        .map(|job| {
            let fetcher = fetcher.clone();
            let sources = sources.clone();
            let parsers = parsers.clone();
            AbortOnDrop(tokio::spawn(fetch_and_parse(
                fetcher, sources, parsers, job,
            )))
        })
        .buffer_unordered(config.fetch.concurrency);

    store.begin()?;
    let metas: Vec<SourceMeta> = config
        .sources
        .iter()
        .map(|s| SourceMeta {
            id: s.id().to_string(),
            name: s.name.clone(),
            tags: s.tags(),
            categories: s.categories(),
        })
        .collect();
    let taken_on_disk = |name: &str| posts_dir.join(name).symlink_metadata().is_ok();
    // A store that cannot take a feed's articles (a full disk, say) ends the run naming both.
    let storing = |url: &str| format!("storing {url} in {}", store_path.display());
    let mut shutdown = std::pin::pin!(shutdown);
    // The articles this run has met, by source and key: each is taken once per run.
    let mut met_in_run: HashMap<(usize, String), i64> = HashMap::new();
    loop {
        // A shutdown stops the run between two feeds, never inside an ingest: the feeds in
        // flight are dropped (and aborted with the stream), what is ingested is committed below.
        let done = tokio::select! {
            biased;
            () = &mut shutdown => {
                summary.interrupted = true;
                break;
            }
            done = results.next() => match done {
                Some(done) => done,
                None => break,
            },
        };
        let done = done.context("a feed task panicked")?;
        progress.inc();
        let now = clock.now().timestamp_millis();
        let meta = &metas[done.source];
        let source_summary = &mut summary.sources[done.source];
        source_summary.retries += done.attempts.saturating_sub(1);
        summary.bytes += done.bytes;
        match done.outcome {
            FeedOutcome::Parsed {
                articles,
                status,
                validators,
                body_hash,
                moved_to,
            } => {
                let mut present = Vec::with_capacity(articles.len());
                for (article, summary_text) in &articles {
                    // Met before in this run (a repeated guid, an item two feeds of the source
                    // carry): taken once, as first met, or its texts would take turns as versions.
                    let met = (done.source, article.key.clone());
                    if let Some(&id) = met_in_run.get(&met) {
                        source_summary.unchanged += 1;
                        present.push(id);
                        continue;
                    }
                    let date_ms = article
                        .published
                        .map_or(now, |p| p.timestamp_millis().min(now));
                    let identity = format!("{}\n{}", meta.id, article.key);
                    let names = jekyll::post_names(date_ms, &article.title, identity);
                    let Ingested { outcome, id, moved } = store
                        .ingest(meta, article, summary_text, names, &taken_on_disk, now)
                        .with_context(|| storing(&done.url))?;
                    match outcome {
                        Ingest::New => source_summary.new += 1,
                        Ingest::Changed => source_summary.changed += 1,
                        Ingest::Unchanged => source_summary.unchanged += 1,
                    }
                    source_summary.moved += usize::from(moved);
                    met_in_run.insert(met, id);
                    present.push(id);
                }
                store
                    .record_presence(&done.url, &present, now)
                    .with_context(|| storing(&done.url))?;
                let result = FeedResult::Fetched {
                    status,
                    validators: &validators,
                    body_hash: &body_hash,
                    reading: &readings[done.source],
                    moved_to: moved_to.as_deref(),
                };
                store
                    .record_feed(&done.url, &meta.id, &result, now)
                    .with_context(|| storing(&done.url))?;
            }
            FeedOutcome::Unchanged {
                validators,
                body,
                moved_to,
            } => {
                source_summary.not_modified += 1;
                let result = match &body {
                    Some((status, hash)) => FeedResult::Fetched {
                        status: *status,
                        validators: &validators,
                        body_hash: hash,
                        reading: &readings[done.source],
                        moved_to: moved_to.as_deref(),
                    },
                    None => FeedResult::NotModified {
                        validators: &validators,
                        reading: &readings[done.source],
                    },
                };
                store
                    .record_feed(&done.url, &meta.id, &result, now)
                    .with_context(|| storing(&done.url))?;
            }
            FeedOutcome::Failed { status, reason } => {
                tracing::debug!(source = %meta.name, feed = %done.url, "{reason}");
                let result = FeedResult::Failed {
                    status,
                    error: &reason,
                };
                store
                    .record_feed(&done.url, &meta.id, &result, now)
                    .with_context(|| storing(&done.url))?;
                source_summary.failed.push((done.url, reason));
            }
        }
    }
    drop(results);
    drop(progress);
    // Small blocks spread over the pages the feeds filled: gone before the run hands its memory
    // back (`malloc::release_freed`), or they would keep those pages resident.
    drop(met_in_run);
    tracing::debug!(
        ms = timer.elapsed().as_millis(),
        "feeds fetched, parsed and ingested"
    );
    fetch_fulltexts(&store, &fetcher, config, &mut summary).await?;
    fetch_images(
        &store,
        &fetcher,
        config,
        &mut summary,
        clock.now().timestamp_millis(),
    )
    .await?;
    // Its pooled connections and their buffers are not needed again.
    drop(fetcher);
    store
        .commit()
        .with_context(|| format!("committing the run to {}", store_path.display()))?;
    tracing::debug!(ms = timer.elapsed().as_millis(), "store committed");
    // The log the run filled is copied into the store file while the posts are written.
    let checkpoint = {
        let store_path = store_path.clone();
        std::thread::spawn(move || -> Result<()> {
            Store::open(&store_path)?.checkpoint()?;
            Ok(())
        })
    };

    // The search index follows the store, so `search` works right after a run. It can always be
    // rebuilt from the store, so a failure is reported and does not fail the run. A run that
    // changed nothing leaves it alone: a quiet run costs what its feeds cost, whatever the size
    // of the archive. An index to bring up to date (a few hundred articles) is updated on a
    // thread of its own while the posts are written; one to build from scratch (the whole
    // archive) is built once they are, with the run's memory handed back, so that jieba's
    // dictionary and the index writer take the place of the run's memory, not a place beside it.
    let changed = summary
        .sources
        .iter()
        .any(|s| s.new + s.changed + s.moved + s.fulltext + s.images_saved > 0);
    let index_dir = config.index_dir();
    // An index cut short (a run stopped while it built it) is built again, changes or not.
    let index_wanted =
        config.site.index_on_run() && (changed || !crate::search::index_finished(&index_dir));
    let update_beside = index_wanted
        && crate::search::indexed_articles(&index_dir).is_some_and(|articles| articles > 0);
    let update_index = {
        let (store_path, index_dir) = (store_path.clone(), index_dir.clone());
        move || -> Result<()> {
            let store = Store::open(&store_path).context("updating the search index")?;
            crate::search::update_index(&store, &index_dir, crate::search::Building::Lean)?;
            Ok(())
        }
    };
    let indexing = update_beside.then(|| std::thread::spawn(update_index.clone()));

    let ids: Vec<String> = metas.iter().map(|m| m.id.clone()).collect();
    summary.publish = jekyll::publish(&store, &config.archive, &config.permalink, &ids)
        .context("publishing the Jekyll tree")?;
    let names: Vec<&str> = config.sources.iter().map(|s| s.name.as_str()).collect();
    jekyll::remove_old_lists(&config.archive, &renamed_lists, &names);
    tracing::debug!(ms = timer.elapsed().as_millis(), "Jekyll tree published");
    match checkpoint.join() {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!("checkpointing the store: {e:#}"),
        Err(_) => tracing::warn!("checkpointing the store: the thread panicked"),
    }
    // What publishing committed since (posts marked written) follows it now. Everything is
    // committed already: a checkpoint that fails is left to the next one, not a failed run.
    if let Err(e) = store.checkpoint() {
        tracing::warn!("checkpointing the store: {e:#}");
    }
    drop(store);

    let indexed = match indexing {
        Some(thread) => Some(thread.join().unwrap_or_else(|_| {
            Err(anyhow::anyhow!(
                "updating the search index: the indexing thread panicked"
            ))
        })),
        None if index_wanted => {
            crate::malloc::release_freed();
            Some(update_index())
        }
        None => None,
    };
    if let Some(indexed) = indexed {
        // The error names the index folder (or the store, in context).
        if let Err(e) = indexed {
            tracing::warn!("{e:#}");
        }
        tracing::debug!(ms = timer.elapsed().as_millis(), "search index updated");
    }
    Ok(summary)
}

/// The `fulltext` phase: for sources that ask for it, fetch the pages of articles still without
/// their full text (new ones, and earlier failures up to `MAX_TRIES`), extract, and derive the
/// body again. Runs inside the run's transaction, with the same fetcher and limits.
async fn fetch_fulltexts(
    store: &Store,
    fetcher: &Arc<Fetcher>,
    config: &Config,
    summary: &mut RunSummary,
) -> Result<()> {
    use crate::content::fulltext::{MAX_TRIES, PER_RUN, extract};
    for (i, source) in config.sources.iter().enumerate() {
        let Some(rule) = &source.fulltext else {
            continue;
        };
        let pending = store.fulltext_pending(source.id(), MAX_TRIES, PER_RUN)?;
        let mut pages = futures::stream::iter(pending)
            .map(|(id, link)| {
                let fetcher = fetcher.clone();
                let rule = rule.clone();
                let timeout = source.timeout_secs.map(Duration::from_secs);
                let proxy = source.proxy.clone();
                async move {
                    let request = FetchRequest {
                        url: link.clone(),
                        validators: Validators::default(),
                        timeout,
                        proxy,
                        untrusted: true,
                    };
                    let report = fetcher.fetch(&request).await;
                    let outcome = match report.outcome {
                        Ok(Fetched::Body(body)) => {
                            let page_url = body.final_url.clone();
                            tokio::task::spawn_blocking(move || {
                                let page = crate::feed::decode_html(
                                    &body.bytes,
                                    body.content_type.as_deref(),
                                );
                                extract(&page, Some(&page_url), &rule)
                            })
                            .await
                            .unwrap_or_else(|e| Err(format!("extraction crashed: {e}")))
                        }
                        Ok(Fetched::NotModified { .. }) => Err("unexpected 304".to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    (id, link, outcome)
                }
            })
            .buffer_unordered(config.fetch.concurrency);
        let rules = crate::content::clean_rules(source);
        while let Some((id, link, outcome)) = pages.next().await {
            match outcome {
                Ok(found) => {
                    let body = match source.content {
                        crate::config::ContentMode::Clean => {
                            let base = url::Url::parse(&link).ok();
                            crate::content::clean::clean_html(&found.html, base.as_ref(), &rules)
                        }
                        crate::config::ContentMode::Verbatim => {
                            crate::content::join_lines(&found.html)
                        }
                    };
                    store.set_fulltext(id, &found.html, &body, &jekyll::summarize(&body))?;
                    summary.sources[i].fulltext += 1;
                }
                Err(reason) => {
                    store.fulltext_failed(id, &reason)?;
                    summary.sources[i].fulltext_failed.push((link, reason));
                }
            }
        }
    }
    Ok(())
}

/// The `images = "download"` phase: for articles whose images are not all local yet, fetch each
/// remote image once (the same URL in many articles is fetched once), save it by content, and
/// point the articles at the local copies. Runs inside the run's transaction.
async fn fetch_images(
    store: &Store,
    fetcher: &Arc<Fetcher>,
    config: &Config,
    summary: &mut RunSummary,
    now_ms: i64,
) -> Result<()> {
    use std::collections::HashMap;

    use crate::config::{DEFAULT_MAX_IMAGE_BYTES, ImagePolicy};
    use crate::content::images::{
        MAX_TRIES, PER_RUN, extension_for, localize, remote_images, save,
    };
    for (i, source) in config.sources.iter().enumerate() {
        if source.images != ImagePolicy::Download {
            continue;
        }
        let articles = store.images_pending(source.id(), MAX_TRIES, PER_RUN)?;
        let mut local: HashMap<String, String> = HashMap::new();
        let mut wanted = Vec::new();
        for (_, _, body) in &articles {
            for url in remote_images(body) {
                if local.contains_key(&url) || wanted.contains(&url) {
                    continue;
                }
                match store.image_file(&url)? {
                    Some(file) => {
                        local.insert(url, file);
                    }
                    None => wanted.push(url),
                }
            }
        }
        let mut downloads = futures::stream::iter(wanted)
            .map(|url| {
                let fetcher = fetcher.clone();
                let proxy = source.proxy.clone();
                async move {
                    let request = FetchRequest {
                        url: url.clone(),
                        validators: Validators::default(),
                        timeout: None,
                        proxy,
                        untrusted: true,
                    };
                    let outcome = match fetcher.fetch(&request).await.outcome {
                        Ok(Fetched::Body(body)) => {
                            match extension_for(body.content_type.as_deref()) {
                                None => Err(format!(
                                    "not a raster image ({})",
                                    body.content_type.as_deref().unwrap_or("no content type")
                                )),
                                Some(_) if body.bytes.len() as u64 > DEFAULT_MAX_IMAGE_BYTES => {
                                    Err(format!("larger than {DEFAULT_MAX_IMAGE_BYTES} bytes"))
                                }
                                Some(ext) => Ok((body.bytes, ext)),
                            }
                        }
                        Ok(Fetched::NotModified { .. }) => Err("unexpected 304".to_string()),
                        Err(e) => Err(e.to_string()),
                    };
                    (url, outcome)
                }
            })
            .buffer_unordered(config.fetch.concurrency);
        while let Some((url, outcome)) = downloads.next().await {
            match outcome.and_then(|(bytes, ext)| {
                save(&config.archive, &bytes, ext)
                    .map(|file| (file, bytes.len()))
                    .map_err(|e| format!("cannot save: {e}"))
            }) {
                Ok((file, size)) => {
                    store.record_image(&url, &file, size as u64, now_ms)?;
                    local.insert(url, file);
                    summary.sources[i].images_saved += 1;
                }
                Err(reason) => summary.sources[i].images_failed.push((url, reason)),
            }
        }
        for (id, _, body) in &articles {
            let all_local = remote_images(body).iter().all(|u| local.contains_key(u));
            store.images_round(*id, &localize(body, &local), all_local)?;
        }
    }
    Ok(())
}

/// A spawned feed task that is aborted when the run stops waiting for it (a shutdown, an error),
/// so no fetch outlives its run.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Future for AbortOnDrop<T> {
    type Output = std::result::Result<T, tokio::task::JoinError>;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        std::pin::Pin::new(&mut self.0).poll(cx)
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[tracing::instrument(skip_all, fields(feed = %job.url))]
async fn fetch_and_parse(
    fetcher: Arc<Fetcher>,
    sources: Arc<Vec<SourceConfig>>,
    parsers: Parsers,
    job: FeedJob,
) -> FeedDone {
    let source = &sources[job.source];
    let request = FetchRequest {
        url: job.url.clone(),
        validators: job.validators.clone(),
        timeout: source.timeout_secs.map(Duration::from_secs),
        proxy: source.proxy.clone(),
        untrusted: false,
    };
    let report = fetcher.fetch(&request).await;
    let mut parser = None;
    let outcome = match report.outcome {
        Err(e) => FeedOutcome::Failed {
            status: e.status(),
            reason: e.to_string(),
        },
        Ok(Fetched::NotModified { validators }) => FeedOutcome::Unchanged {
            validators,
            body: None,
            moved_to: report.moved_to.clone(),
        },
        Ok(Fetched::Body(body)) => {
            let sources = sources.clone();
            let index = job.source;
            let previous = job.body_hash.clone();
            let moved_to = report.moved_to.clone();
            let max_items = fetcher.config().max_items;
            let url = job.url.clone();
            match parsers
                .parse(move || {
                    parse_body(&sources[index], &url, body, previous, moved_to, max_items)
                })
                .await
            {
                Ok((outcome, held)) => {
                    parser = Some(held);
                    outcome
                }
                Err(e) => FeedOutcome::Failed {
                    status: None,
                    reason: format!("parser crashed: {e}"),
                },
            }
        }
    };
    FeedDone {
        source: job.source,
        url: job.url,
        attempts: report.attempts,
        bytes: report.bytes,
        outcome,
        _parser: parser,
    }
}

/// The feeds parsed ahead of the ingest: one per core, and two on a single core. Each parsed
/// feed keeps its parser until its articles are ingested, so parsing keeps the cores busy while
/// the ingest has work, and never piles parsed articles up in memory beyond that: with up to
/// sixteen feeds parsed at once (the fetch concurrency), a first run held ~20 MB more at its peak
/// on two cores, in the same time.
#[derive(Clone)]
struct Parsers(Arc<tokio::sync::Semaphore>);

/// One of the [`Parsers`], held until the feed it parsed is ingested.
struct Parser {
    _permit: tokio::sync::OwnedSemaphorePermit,
}

impl Parsers {
    fn one_per_core() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::at_once(cores.max(2))
    }

    fn at_once(parsers: usize) -> Self {
        Self(Arc::new(tokio::sync::Semaphore::new(parsers)))
    }

    /// Runs `parse` on the blocking pool once one of the parsers is free; its result comes with
    /// the parser, to be dropped once the result is used.
    async fn parse<T: Send + 'static>(
        &self,
        parse: impl FnOnce() -> T + Send + 'static,
    ) -> std::result::Result<(T, Parser), tokio::task::JoinError> {
        let parser = Parser {
            _permit: (self.0.clone().acquire_owned().await)
                .expect("the parsers' semaphore is never closed"),
        };
        tokio::task::spawn_blocking(move || (parse(), parser)).await
    }
}

/// Parses the body of feed `url` into articles, unless it is the body ingested last time.
fn parse_body(
    source: &SourceConfig,
    url: &str,
    body: crate::fetch::Body,
    previous_hash: Option<String>,
    moved_to: Option<String>,
    max_items: usize,
) -> FeedOutcome {
    // This hash only tells whether a body is the one read last time (a SHA-256 one from an older
    // newsvault never matches, and the feed is parsed once more).
    let body_hash = blake3::hash(&body.bytes).to_hex().to_string();
    if previous_hash.as_deref() == Some(body_hash.as_str()) {
        return FeedOutcome::Unchanged {
            validators: body.validators,
            body: Some((body.status, body_hash)),
            moved_to,
        };
    }
    match parse_feed(&body.bytes, body.content_type.as_deref()) {
        Ok(mut feed) => {
            feed.base = url::Url::parse(&body.final_url)
                .ok()
                .filter(|url| matches!(url.scheme(), "http" | "https"));
            if feed.bare_ampersands > 0 {
                tracing::warn!(
                    "{}: {url}: not well-formed XML: {} bare `&` read as `&amp;`",
                    source.name,
                    feed.bare_ampersands
                );
            }
            // The source's include/exclude filters decide which items are archived at all; a feed
            // longer than `max_items` is cut there (and says so).
            if feed.entries.len() > max_items {
                tracing::warn!(
                    "{}: {url}: feed has {} items; only the first {max_items} are taken",
                    source.name,
                    feed.entries.len()
                );
            }
            let mut articles: Vec<Article> = feed
                .entries
                .iter()
                .take(max_items)
                .filter(|entry| crate::content::keeps(source, entry))
                .map(|entry| make_article(entry, &feed, source))
                .collect();
            for guid in tell_apart_shared_guids(&mut articles) {
                tracing::warn!(
                    "{}: {url}: items with different links share the guid {guid:?}; \
                     each is archived by its link",
                    source.name
                );
            }
            let articles = articles
                .into_iter()
                .map(|article| {
                    let summary = jekyll::summarize(&article.body);
                    (article, summary)
                })
                .collect();
            FeedOutcome::Parsed {
                articles,
                status: body.status,
                validators: body.validators,
                body_hash,
                moved_to,
            }
        }
        Err(e) => FeedOutcome::Failed {
            status: Some(body.status),
            reason: e.to_string(),
        },
    }
}

/// The lines a run prints: per source, what was new, and every failed feed with its reason.
pub fn describe(summary: &RunSummary, archive: &Path) -> String {
    let mut out = String::new();
    for source in &summary.sources {
        out.push_str(&format!(
            "{}: {} new, {} changed, {} already archived",
            source.name, source.new, source.changed, source.unchanged
        ));
        if source.moved > 0 {
            out.push_str(&format!(", {} moved", source.moved));
        }
        if source.not_modified > 0 {
            out.push_str(&format!(", {} feed(s) unchanged", source.not_modified));
        }
        if source.retries > 0 {
            out.push_str(&format!(", {} retries", source.retries));
        }
        if source.fulltext > 0 {
            out.push_str(&format!(", {} full text(s) fetched", source.fulltext));
        }
        if source.images_saved > 0 {
            out.push_str(&format!(", {} image(s) saved", source.images_saved));
        }
        out.push('\n');
        for (url, reason) in &source.failed {
            out.push_str(&format!("{}: {url}: {reason}\n", source.name));
        }
        for (url, reason) in &source.images_failed {
            out.push_str(&format!(
                "{}: image {url}: {reason}; left remote, tried again next run\n",
                source.name
            ));
        }
        for (link, reason) in &source.fulltext_failed {
            out.push_str(&format!(
                "{}: {link}: full text not had ({reason}); the feed's content is kept\n",
                source.name
            ));
        }
        for skipped in &source.backing_off {
            let until = chrono::DateTime::from_timestamp_millis(skipped.until_ms)
                .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string());
            out.push_str(&format!(
                "{}: {}: skipped (backing off after {} failed runs; next try from {until})\n",
                source.name, skipped.url, skipped.failures
            ));
        }
    }
    out.push_str(&format!("{} bytes received\n", summary.bytes));
    let publish = &summary.publish;
    out.push_str(&format!(
        "{} post(s) written to {}",
        publish.posts_written,
        archive.join(POSTS_DIR).display()
    ));
    if summary.failed_feeds() > 0 {
        out.push_str(&format!("; {} feed(s) failed", summary.failed_feeds()));
    }
    let skipped: usize = summary.sources.iter().map(|s| s.backing_off.len()).sum();
    if skipped > 0 {
        out.push_str(&format!("; {skipped} feed(s) skipped (backing off)"));
    }
    if summary.interrupted {
        out.push_str("; interrupted, the remaining feeds are fetched next run");
    }
    out.push('\n');
    for failure in publish.failures.iter().chain(&publish.indexes_failed) {
        out.push_str(&format!("could not write {failure} (retried next run)\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn no_more_feeds_are_parsed_ahead_of_the_ingest_than_there_are_parsers() {
        let parsers = Parsers::at_once(2);
        // Feeds parsed or being parsed and not yet ingested, and the most there were at once.
        let ahead = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let mut feeds: futures::stream::FuturesUnordered<_> = (0..12)
            .map(|_| {
                let (ahead, most) = (ahead.clone(), most.clone());
                parsers.parse(move || {
                    let now = ahead.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(10));
                })
            })
            .collect();
        let mut ingested = 0;
        while let Some(parsed) = feeds.next().await {
            let ((), parser) = parsed.unwrap();
            // The ingest: slower than parsing here, so parsed feeds would wait for it.
            tokio::time::sleep(Duration::from_millis(20)).await;
            ahead.fetch_sub(1, Ordering::SeqCst);
            drop(parser);
            ingested += 1;
        }
        assert_eq!(ingested, 12);
        // Two at a time, never more: parsing is held back, and still runs beside the ingest.
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }
}
