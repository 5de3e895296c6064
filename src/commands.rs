//! One function per subcommand. Each loads what it needs, calls the stages in order, prints what
//! the user asked for on stdout (through [`crate::stdout`], so a reader that closes it early
//! stops the printing, not the command), and returns the exit code.
//!
//! Exit codes: 0 when everything worked, 1 on a fatal error (returned as `Err` and printed by the
//! binary), 2 when some feeds failed but the others were archived.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::clock::Clock;
use crate::config::{Config, STARTER};
use crate::feed::parse_feed;
use crate::fetch::{FetchRequest, Fetched, Fetcher};
use crate::lock::ArchiveLock;
use crate::publish::TEMP_PREFIX;
use crate::publish::git::{Counts, publish_to_git};
use crate::run::{RunSummary, describe, run_locked};
use crate::stdout;
use crate::store::{Hiding, Store, StoreFile};

/// Exit code of a run in which some feeds failed.
pub const EXIT_SOME_FAILED: u8 = 2;

/// `newsvault init [DIR]`: the starter config into `DIR/newsvault.toml`, else at `config` (the
/// file the other commands read: `--config`, `NEWSVAULT_CONFIG`, else `./newsvault.toml`).
pub fn init(dir: Option<&Path>, config: &Path) -> Result<ExitCode> {
    let path = match dir {
        Some(dir) => dir.join("newsvault.toml"),
        None => config.to_path_buf(),
    };
    if let Some(folder) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(folder)
            .with_context(|| format!("creating {}", folder.display()))?;
    }
    // Created only if absent, in one step: a config already there is never overwritten.
    let mut file = match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
    {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!("{} already exists; not overwriting it", path.display())
        }
        opened => opened.with_context(|| format!("creating {}", path.display()))?,
    };
    std::io::Write::write_all(&mut file, STARTER.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    let run = if path == Path::new("newsvault.toml") {
        "newsvault run".to_string()
    } else {
        format!("newsvault run --config {}", path.display())
    };
    stdout::println(format_args!(
        "wrote {}; edit its sources, then run `{run}`",
        path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault run`.
pub async fn run_once(config_path: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    if config.sources.is_empty() {
        tracing::warn!(
            "{}: the config lists no source: nothing to archive",
            config_path.display()
        );
    }
    let clock = Clock::from_env()?;
    let shutdown = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    // Held until git is done too, so two commands never run git in one work tree at once.
    let lock = ArchiveLock::acquire(&config.archive)?;
    let summary = run_locked(&config, clock, &lock, shutdown).await?;
    stdout::report(describe(&summary, &config.archive));
    after_run(&config, clock, &summary).await?;
    drop(lock);
    Ok(exit_code(&summary))
}

/// `newsvault watch`: runs the sources on their intervals until SIGINT / SIGTERM (see
/// [`crate::watch`]), holding the archive's lock throughout; each run is followed by what follows
/// `run` (page checks, git). Exits 0 when stopped by a signal.
pub async fn watch(config_path: &Path) -> Result<ExitCode> {
    let (file, config) = crate::watch::ConfigFile::load(config_path)?;
    let clock = Clock::from_env()?;
    let shutdown = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    let lock = ArchiveLock::acquire(&config.archive)?;
    crate::watch::watch(
        file,
        config,
        clock,
        &lock,
        shutdown,
        async |subset, clock, summary| {
            stdout::report(describe(summary, &subset.archive));
            after_run(subset, clock, summary).await
        },
    )
    .await?;
    drop(lock);
    Ok(ExitCode::SUCCESS)
}

/// What follows a run, under its lock: re-checking `[check] per_run` article pages, then
/// committing and pushing the outputs with `[publish.git]`.
async fn after_run(config: &Config, clock: Clock, summary: &RunSummary) -> Result<()> {
    if config.check.per_run > 0 {
        let store = Store::open_existing(&config.store_path())?;
        let checked = crate::check::check_articles(
            &store,
            &Fetcher::new(&config.fetch),
            None,
            None,
            config.check.per_run,
            config.check.concurrency,
            clock.now().timestamp_millis(),
        )
        .await?;
        if checked.gone + checked.back > 0 {
            publish_pending(config, &store, true)?;
        }
        stdout::report(format_args!(
            "{} page(s) checked: {} gone, {} back\n",
            checked.checked, checked.gone, checked.back
        ));
    }
    if let Some(git) = config.publish.git.clone() {
        let counts = Counts {
            new: summary.new_articles(),
            changed: summary.sources.iter().map(|s| s.changed).sum(),
        };
        let archive = config.archive.clone();
        let report = tokio::task::spawn_blocking(move || publish_to_git(&archive, &git, counts))
            .await
            .context("the git task panicked")?
            .context("publishing to git")?;
        stdout::report(report.describe());
    }
    Ok(())
}

/// `newsvault backup <file>`: a consistent copy of the store, taken while a run may be writing
/// (see [`Store::backup_to`]). It does not take the archive's lock. The copy is made beside
/// `file` under a temporary name, checked, and renamed over `file`, so `file` is always a whole
/// backup: the new one, or the one it had. `file` may not be one of the store's files.
pub fn backup(config_path: &Path, dest: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let store_path = config.store_path();
    if !store_path.exists() {
        bail!("no store at {}: nothing to back up", store_path.display());
    }
    // Not even over the store itself: the copy is vacuumed, and the log of a run writing
    // meanwhile would then land on the wrong pages.
    refuse_store_file(&config, dest, "back up to")?;
    let store = Store::open_existing(&store_path)?;
    let name = dest
        .file_name()
        .with_context(|| format!("{} does not name a file", dest.display()))?;
    let folder = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !folder.is_dir() {
        bail!(
            "cannot back up to {}: {} is not a folder",
            dest.display(),
            folder.display()
        );
    }
    let temp = folder.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        name.to_string_lossy()
    ));
    let copy = || -> Result<i64> {
        store.backup_to(&temp).with_context(|| {
            format!("backing up {} to {}", store_path.display(), dest.display())
        })?;
        // The store's error names the copy.
        let copy = Store::open_existing(&temp).context("opening the copy")?;
        let problems = copy.integrity_check()?;
        if problems != ["ok"] {
            bail!(
                "the copy {} is damaged: {}",
                temp.display(),
                problems.join("; ")
            );
        }
        let articles = copy.article_count()?;
        drop(copy);
        std::fs::rename(&temp, dest)
            .with_context(|| format!("renaming {} to {}", temp.display(), dest.display()))?;
        Ok(articles)
    };
    let articles = copy().inspect_err(|_| {
        let _ = std::fs::remove_file(&temp);
    })?;
    stdout::println(format_args!(
        "backed up {} to {} ({articles} articles)",
        store_path.display(),
        dest.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// 0 when every feed worked and every post, list page and search.json was written, else 2.
pub fn exit_code(summary: &RunSummary) -> ExitCode {
    let publish = &summary.publish;
    if summary.failed_feeds() > 0
        || !publish.failures.is_empty()
        || publish.indexes_failed.is_some()
    {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// `newsvault inspect <file-or-url>`.
pub async fn inspect(target: &str) -> Result<ExitCode> {
    let (bytes, content_type) = if target.starts_with("http://") || target.starts_with("https://") {
        let fetcher = Fetcher::new(&Default::default());
        let report = fetcher
            .fetch(&FetchRequest {
                url: target.to_string(),
                validators: Default::default(),
                timeout: None,
                proxy: None,
                untrusted: false,
            })
            .await;
        match report
            .outcome
            .with_context(|| format!("fetching {target}"))?
        {
            Fetched::Body(body) => (body.bytes, body.content_type),
            Fetched::NotModified { .. } => bail!("{target}: unexpected 304 Not Modified"),
        }
    } else {
        let path = PathBuf::from(target);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        (bytes, None)
    };
    let feed =
        parse_feed(&bytes, content_type.as_deref()).with_context(|| format!("parsing {target}"))?;
    stdout::println(serde_json::to_string_pretty(&feed)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault demo [DIR]`.
pub async fn demo(dir: Option<&Path>) -> Result<ExitCode> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!("newsvault-demo-{}", std::process::id())),
    };
    let summary = crate::demo::run_demo(&dir, Clock::from_env()?).await?;
    stdout::report(describe(&summary, &dir));
    stdout::report(format_args!(
        "open {} to see the posts; the store is {}\n",
        dir.join("_posts").display(),
        dir.join(crate::config::DEFAULT_STORE).display()
    ));
    Ok(exit_code(&summary))
}

/// `newsvault status [--json] [--check]`: 0 when no feed is failing, else 2; with `--check`, 2
/// only when a source is flagged (failing longer than `[status] failing_after_hours`). It only
/// reads: with no store yet, every feed shows as never tried and nothing is created.
pub fn status(config_path: &Path, json: bool, check: bool) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let now = Clock::from_env()?.now().timestamp_millis();
    let store_path = config.store_path();
    let store = if store_path.exists() {
        Some(Store::open_existing(&store_path)?)
    } else {
        None
    };
    let report = crate::status::collect_report(&config, store.as_ref(), now)
        .with_context(|| format!("reading feed health from {}", store_path.display()))?;
    if json {
        stdout::println(serde_json::to_string_pretty(
            &crate::status::render_status_json(&report),
        )?)?;
    } else if check {
        stdout::print(crate::status::render_check(&report))?;
    } else {
        stdout::print(crate::status::render_status_table(&report))?;
    }
    let failing = if check {
        report.flagged().next().is_some()
    } else {
        report
            .sources
            .iter()
            .flat_map(|s| &s.feeds)
            .any(|f| f.failing())
    };
    Ok(if failing {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}

/// Opens the store of `config` under the archive's lock, for commands that change a store
/// without filling it: the store must exist, and is looked for before the lock, whose file would
/// create the archive's folder.
fn open_locked(config: &Config) -> Result<(ArchiveLock, Store)> {
    let path = config.store_path();
    Store::ensure_exists(&path)?;
    let lock = ArchiveLock::acquire(&config.archive)?;
    let store = Store::open_existing(&path)?;
    Ok((lock, store))
}

/// Rewrites the posts the store marks pending, the lists and search.json.
/// `indexes`: rewrite lists and search.json even when no post was written.
fn publish_pending(
    config: &Config,
    store: &Store,
    indexes: bool,
) -> Result<crate::publish::jekyll::PublishReport> {
    let report = publish_jekyll(config, store, indexes)?;
    // Hidden, gone or re-derived articles show in search at once, not after the next run.
    update_search_index(config, store, crate::search::Building::Fast);
    Ok(report)
}

/// The Jekyll tree's side of [`publish_pending`]: the pending posts, and the lists and
/// search.json when they change (or `indexes`); a list or search.json not written is an error.
fn publish_jekyll(
    config: &Config,
    store: &Store,
    indexes: bool,
) -> Result<crate::publish::jekyll::PublishReport> {
    let ids = list_sources(config, store)?;
    let report = crate::publish::jekyll::publish_with(
        store,
        &config.archive,
        &config.permalink,
        &ids,
        indexes,
    )
    .context("publishing the Jekyll tree")?;
    // A command that changes what the archive shows (`hide`, `unhide`, `check`, `republish`)
    // must not say it is shown while a list or search.json still shows what it did.
    if let Some(failed) = &report.indexes_failed {
        anyhow::bail!("publishing the Jekyll tree: cannot write {failed}");
    }
    Ok(report)
}

/// Brings the HTML site up to date (incrementally) when one was built at its default place, so
/// that a hidden article leaves it at once, not at the next `build`. A site that cannot be built
/// is a warning: the article is hidden in the store and the Jekyll tree already.
fn refresh_built_site(config: &Config, store: &Store) {
    let Ok(options) = site_options(config, None) else {
        return;
    };
    if !options.out.join("index.html").exists() {
        return;
    }
    if let Err(e) = crate::publish::site::build_site(store, &options) {
        tracing::warn!("building the site in {}: {e:#}", options.out.display());
    }
}

/// Brings the search index up to date with the store after a command changed it. The store is
/// the system of record and the index is rebuilt from it by the next `search`: an index that
/// cannot be updated is a warning that names it and why, not a failed command whose work (an
/// article hidden, posts imported) is already done.
fn update_search_index(config: &Config, store: &Store, building: crate::search::Building) {
    if let Err(e) = crate::search::update_index(store, &config.index_dir(), building) {
        tracing::warn!("{e}");
    }
}

/// The sources whose list pages a rewrite covers: the configured ones, then those only the store
/// knows (removed from the config, or whose `id` changed), so that hiding one of their articles
/// still shows in their list. One of the latter whose list page would be the file of a source
/// listed before it is left out: a page belongs to one source, the configured one first.
fn list_sources(config: &Config, store: &Store) -> Result<Vec<String>> {
    use crate::publish::jekyll::list_file_name;
    let mut ids: Vec<String> = config.sources.iter().map(|s| s.id().to_string()).collect();
    // Pages are named after the name the store holds, as publishing names them.
    let mut pages = HashSet::new();
    for source in &config.sources {
        let name = store.source_name(source.id())?;
        pages.insert(list_file_name(name.as_deref().unwrap_or(&source.name)));
    }
    for id in store.source_ids()? {
        if ids.contains(&id) {
            continue;
        }
        let Some(name) = store.source_name(&id)? else {
            continue;
        };
        if pages.insert(list_file_name(&name)) {
            ids.push(id);
        } else {
            tracing::debug!(
                "source {id:?}: its list page is another source's file; left to that one"
            );
        }
    }
    Ok(ids)
}

/// `newsvault import jekyll|opml`.
pub fn import(config_path: &Path, what: &crate::cli::ImportCommand) -> Result<ExitCode> {
    use crate::cli::ImportCommand;
    match what {
        ImportCommand::Opml { file } => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let (toml, notes) = crate::import::opml_to_toml(&text)
                .map_err(|why| anyhow::anyhow!("{}: {why}", file.display()))?;
            // On stderr: the TOML on stdout goes into a config as it is.
            for note in notes {
                tracing::warn!("{}: {note}", file.display());
            }
            stdout::print(&toml)?;
            Ok(ExitCode::SUCCESS)
        }
        ImportCommand::Jekyll { posts } => {
            let config = Config::load(config_path)?;
            let clock = Clock::from_env()?;
            // Read before the lock and the store are made: a mistyped folder creates nothing.
            std::fs::read_dir(posts).with_context(|| format!("reading {}", posts.display()))?;
            // Importing fills a store: the one command besides `run`, `watch` and `demo` that
            // creates one.
            let _lock = ArchiveLock::acquire(&config.archive)?;
            let store = Store::open(&config.store_path())?;
            let before = store.last_article_id()?;
            let progress = crate::progress::Progress::bar(0, "posts");
            let summary = crate::import::import_jekyll(
                &store,
                &config,
                posts,
                clock.now().timestamp_millis(),
                |done, total| progress.set(done, total),
            )?;
            drop(progress);
            // Posts read from a folder other than the archive's own `_posts/` (another archive's
            // checkout) are written into it, byte for byte, with the lists and search.json: the
            // store now says they are the archive's.
            let archive_posts = config.archive.join(crate::publish::jekyll::POSTS_DIR);
            let written =
                if summary.imported > 0 && !crate::import::is_same_folder(posts, &archive_posts) {
                    store.mark_dirty_after(before)?;
                    Some(publish_jekyll(&config, &store, true)?)
                } else {
                    None
                };
            // As after a run, the imported articles are found by `search` at once, unless runs
            // leave the index to `search`. Lean, as a run builds it: an import into a new store
            // (a CI cache lost) builds the index of the whole archive, unattended, and this sets
            // its peak memory.
            if config.site.index_on_run() {
                crate::malloc::release_freed();
                update_search_index(&config, &store, crate::search::Building::Lean);
            }
            for (file, reason) in &summary.skipped {
                stdout::println(format_args!("skipped {file}: {reason}"))?;
            }
            stdout::println(format_args!(
                "{} imported, {} duplicate, {} skipped",
                summary.imported,
                summary.duplicates,
                summary.skipped.len()
            ))?;
            let mut unwritten = 0;
            if let Some(report) = written {
                stdout::println(format_args!(
                    "{} post(s) written to {}",
                    report.posts_written,
                    archive_posts.display()
                ))?;
                for failure in &report.failures {
                    eprintln!("could not write {failure} (written by the next run)");
                }
                unwritten = report.failures.len();
            }
            Ok(if summary.skipped.is_empty() && unwritten == 0 {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_SOME_FAILED)
            })
        }
    }
}

/// `newsvault export jsonl|opml [--out FILE]`. A file is written whole or not at all (see
/// [`crate::export::write_to_file`]), and never when it is one of the store's files.
pub fn export(config_path: &Path, what: &crate::cli::ExportCommand) -> Result<ExitCode> {
    use crate::cli::ExportCommand;
    use crate::export::{ExportError, export_jsonl, export_opml, write_to_file};
    let config = Config::load(config_path)?;
    let (ExportCommand::Jsonl { out } | ExportCommand::Opml { out }) = what;
    if let Some(file) = out {
        refuse_store_file(&config, file, "export to")?;
    }
    match what {
        ExportCommand::Opml { out } => {
            let opml = export_opml(&config);
            match out {
                Some(file) => write_to_file(file, |w| Ok(w.write_all(opml.as_bytes())?))?,
                None => stdout::print(&opml)?,
            }
        }
        ExportCommand::Jsonl { out } => {
            let store = Store::open_existing(&config.store_path())?;
            let count = match out {
                Some(file) => write_to_file(file, |w| export_jsonl(&store, w))?,
                None => match export_jsonl(&store, &mut std::io::stdout().lock()) {
                    // A reader that stopped reading ends the export there, quietly.
                    Err(ExportError::Io(cause)) => {
                        stdout::settle(Err(cause))?;
                        return Ok(ExitCode::SUCCESS);
                    }
                    exported => exported?,
                },
            };
            tracing::info!("exported {count} versions");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The one article `what` (an id, a post file name or a link) names. A link that several
/// sources carry names several: rather than pick one, the error lists their ids and sources.
fn one_article(store: &Store, what: &str) -> Result<i64> {
    match store.find_articles(what)?.as_slice() {
        [] => bail!("no article {what:?} (give an id, a post file name or a link)"),
        [one] => Ok(one.id),
        several => {
            let listed: Vec<String> = several
                .iter()
                .map(|found| format!("{} (source {})", found.id, found.source))
                .collect();
            bail!(
                "{what:?} names {} articles: {}; give one of these ids",
                several.len(),
                listed.join(", ")
            )
        }
    }
}

/// Refuses `file` as what a command writes (`action`: "export to", "back up to") when it is one
/// of the store's files, however it is named (see [`StoreFile::of`]): the store would be
/// replaced or damaged, the archive lost.
fn refuse_store_file(config: &Config, file: &Path, action: &str) -> Result<()> {
    let store = config.store_path();
    if let Some(which) = StoreFile::of(file, &store) {
        bail!(
            "cannot {action} {}: it is {} ({}); writing it would destroy the archive",
            file.display(),
            which.describe(),
            which.path(&store).display()
        );
    }
    Ok(())
}

/// `newsvault history <article> [--diff A B]`.
pub fn history(config_path: &Path, article: &str, diff: Option<&[usize]>) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let store = Store::open_existing(&config.store_path())?;
    let id = one_article(&store, article)?;
    let between = diff.map(|d| (d[0], d[1]));
    stdout::print(crate::history::describe_history(&store, id, between)?)?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault hide <article> --reason R`: the store keeps the article, every output drops it.
pub fn hide(config_path: &Path, article: &str, reason: &str) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    if reason.trim().is_empty() {
        anyhow::bail!(
            "`--reason` is empty: say why the article is hidden (it is kept with the article)"
        );
    }
    let clock = Clock::from_env()?;
    let (_lock, store) = open_locked(&config)?;
    let id = one_article(&store, article)?;
    // Hidden already, what an earlier `hide` could not take out (a post file it could not
    // remove, a list or search.json it could not write) is taken out now.
    let (already, post_name) = match store.hide(id, reason, clock.now().timestamp_millis())? {
        Hiding::Already { post_name } => (true, post_name),
        Hiding::Hidden { post_name } => (false, post_name),
    };
    let mut removed = false;
    if let Some(name) = post_name {
        let path = config
            .archive
            .join(crate::publish::jekyll::POSTS_DIR)
            .join(&name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(e).with_context(|| format!("removing {}", path.display()));
            }
            Err(_) => {}
            Ok(()) => removed = true,
        }
    }
    let set_aside = move_other_post_files(&config, &store, id, Way::Hide)?;
    publish_pending(&config, &store, true)?;
    refresh_built_site(&config, &store);
    if already && !removed && set_aside.is_empty() {
        stdout::println(format_args!(
            "article {id} is hidden already; its lists and search.json are without it"
        ))?;
    } else {
        stdout::println(format_args!("article {id} hidden from every output"))?;
    }
    if !set_aside.is_empty() {
        stdout::println(format_args!(
            "its other post files, set aside in {}: {}",
            config
                .archive
                .join(crate::config::HIDDEN_POSTS_DIR)
                .display(),
            set_aside.join(", ")
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Which way [`move_other_post_files`] moves them.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Way {
    Hide,
    Unhide,
}

/// Moves the other post files of article `id` (its aliases: copies of it an imported archive
/// held under other names) out of `_posts/` into [`crate::config::HIDDEN_POSTS_DIR`] when it is
/// hidden, and back when it is shown again: a hidden article leaves no copy in the Jekyll tree,
/// and nothing newsvault cannot write again is deleted. A file already where it goes is left
/// (never overwritten). Returns the names moved.
fn move_other_post_files(config: &Config, store: &Store, id: i64, way: Way) -> Result<Vec<String>> {
    let posts = config.archive.join(crate::publish::jekyll::POSTS_DIR);
    let aside = config.archive.join(crate::config::HIDDEN_POSTS_DIR);
    let (from, to) = match way {
        Way::Hide => (&posts, &aside),
        Way::Unhide => (&aside, &posts),
    };
    let mut moved = Vec::new();
    for name in store.aliases(id)? {
        let (source, target) = (from.join(&name), to.join(&name));
        if source.symlink_metadata().is_err() || target.symlink_metadata().is_ok() {
            continue;
        }
        std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
        std::fs::rename(&source, &target)
            .with_context(|| format!("moving {} to {}", source.display(), target.display()))?;
        moved.push(name);
    }
    Ok(moved)
}

/// `newsvault unhide <article>`: a hidden article back in every output; one that is not hidden
/// is left as it is, without an event.
pub fn unhide(config_path: &Path, article: &str) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let clock = Clock::from_env()?;
    let (_lock, store) = open_locked(&config)?;
    let id = one_article(&store, article)?;
    // Not hidden, what an earlier `unhide` could not write (its post) is written now.
    let unhidden = store.unhide(id, clock.now().timestamp_millis())?;
    if unhidden {
        move_other_post_files(&config, &store, id, Way::Unhide)?;
    }
    let report = publish_pending(&config, &store, true)?;
    refresh_built_site(&config, &store);
    if !report.failures.is_empty() {
        for failure in &report.failures {
            eprintln!("could not write {failure} (written by the next run)");
        }
        return Ok(ExitCode::from(EXIT_SOME_FAILED));
    }
    if unhidden {
        stdout::println(format_args!("article {id} shown again"))?;
    } else {
        stdout::println(format_args!(
            "article {id} is not hidden; its post is written"
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// `newsvault republish`.
pub fn republish(config_path: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let (_lock, store) = open_locked(&config)?;
    store.mark_all_dirty()?;
    let progress = crate::progress::Progress::spinner("writing posts, lists and search.json");
    let report = publish_pending(&config, &store, true)?;
    drop(progress);
    stdout::println(format_args!(
        "{} post(s), {} list(s) and search.json written to {}",
        report.posts_written,
        report.lists_written,
        config.archive.display()
    ))?;
    Ok(if report.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        for failure in &report.failures {
            eprintln!("could not write {failure}");
        }
        ExitCode::from(EXIT_SOME_FAILED)
    })
}

/// `30d`, `12h`, `2w`, `90m` (a bare number is days) as milliseconds; a window too long to count
/// in milliseconds is an error naming it.
fn parse_window(text: &str) -> Result<i64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: i64 = number
        .parse()
        .with_context(|| format!("{text:?} is not a time window like 30d, 12h or 2w"))?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" | "" => 86_400_000,
        "w" => 7 * 86_400_000,
        other => bail!("{text:?}: unknown unit {other:?} (use m, h, d or w)"),
    };
    number
        .checked_mul(unit_ms)
        .with_context(|| format!("{text:?} is too long a time window to count"))
}

/// The moment `text` (a window, see [`parse_window`]) before `now_ms`, in milliseconds since
/// 1970.
fn since_ms(text: &str, now_ms: i64) -> Result<i64> {
    now_ms
        .checked_sub(parse_window(text)?)
        .with_context(|| format!("{text:?} is too long a time window to count"))
}

/// `newsvault check [--since 30d] [--source NAME] [--limit N]`.
pub async fn check(
    config_path: &Path,
    since: Option<&str>,
    source: Option<&str>,
    limit: Option<usize>,
) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let clock = Clock::from_env()?;
    let now = clock.now().timestamp_millis();
    let since_ms = since.map(|text| since_ms(text, now)).transpose()?;
    let source_id = match source {
        Some(name) => Some(
            config
                .sources
                .iter()
                .find(|s| s.name == name || s.id() == name)
                .map(|s| s.id().to_string())
                .with_context(|| format!("no source named {name:?} in the config"))?,
        ),
        None => None,
    };
    let (_lock, store) = open_locked(&config)?;
    let fetcher = Fetcher::new(&config.fetch);
    let summary = crate::check::check_articles(
        &store,
        &fetcher,
        since_ms,
        source_id.as_deref(),
        limit.unwrap_or(config.check.limit),
        config.check.concurrency,
        now,
    )
    .await?;
    publish_pending(&config, &store, summary.gone + summary.back > 0)?;
    let why = summary
        .most_common_cause()
        .map(|(cause, count)| format!(" (most common cause, {count} of them: {cause})"))
        .unwrap_or_default();
    stdout::println(format_args!(
        "{} page(s) checked: {} gone, {} back, {} without an answer{why}",
        summary.checked, summary.gone, summary.back, summary.unknown
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault reprocess [--source NAME]`.
pub fn reprocess(config_path: &Path, source: Option<&str>) -> Result<ExitCode> {
    use crate::config::ContentMode;
    use crate::content::{clean::clean_html, clean_rules, join_lines};
    let config = Config::load(config_path)?;
    let sources: Vec<_> = match source {
        Some(name) => vec![
            config
                .sources
                .iter()
                .find(|s| s.name == name || s.id() == name)
                .with_context(|| format!("no source named {name:?} in the config"))?,
        ],
        None => config.sources.iter().collect(),
    };
    let (_lock, store) = open_locked(&config)?;
    let mut changed = 0;
    store.begin()?;
    for source in sources {
        let rules = clean_rules(source);
        store.for_each_fetched(source.id(), |id, link, content, fulltext| {
            let html = fulltext.unwrap_or(content);
            let body = match source.content {
                ContentMode::Verbatim => join_lines(html),
                ContentMode::Clean => {
                    let base = url::Url::parse(link).ok();
                    clean_html(html, base.as_ref(), &rules)
                }
            };
            // Images already kept in the archive stay local.
            let mut local = std::collections::HashMap::new();
            for url in crate::content::images::remote_images(&body) {
                if let Some(file) = store.image_file(&url)? {
                    local.insert(url, file);
                }
            }
            let body = crate::content::images::localize(&body, &local);
            let summary = crate::publish::jekyll::summarize(&body);
            if store.set_body(id, &body, &summary)? {
                changed += 1;
            }
            Ok(())
        })?;
    }
    store.commit()?;
    let report = publish_pending(&config, &store, changed > 0)?;
    stdout::println(format_args!(
        "{changed} article(s) re-derived, {} post(s) rewritten",
        report.posts_written
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault extract <file-or-url> [--selector S] [--json]`.
pub async fn extract(page: &str, selector: Option<&str>, json: bool) -> Result<ExitCode> {
    use crate::config::{Fulltext, FulltextAuto};
    let (bytes, content_type, url) = if page.starts_with("http://") || page.starts_with("https://")
    {
        let report = Fetcher::new(&Default::default())
            .fetch(&FetchRequest {
                url: page.to_string(),
                validators: Default::default(),
                timeout: None,
                proxy: None,
                untrusted: false,
            })
            .await;
        match report.outcome.with_context(|| format!("fetching {page}"))? {
            Fetched::Body(body) => (body.bytes, body.content_type, Some(body.final_url)),
            Fetched::NotModified { .. } => bail!("{page}: unexpected 304 Not Modified"),
        }
    } else {
        let bytes = std::fs::read(page).with_context(|| format!("reading {page}"))?;
        let bytes = if page.ends_with(".gz") {
            use std::io::Read;
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_end(&mut out)
                .with_context(|| format!("decompressing {page}"))?;
            out
        } else {
            bytes
        };
        (bytes, None, None)
    };
    let text = crate::feed::decode_html(&bytes, content_type.as_deref());
    let rule = match selector {
        Some(selector) => Fulltext::Selector {
            selector: selector.to_string(),
        },
        None => Fulltext::Auto(FulltextAuto::Auto),
    };
    let mut found = crate::content::fulltext::extract(&text, url.as_deref(), &rule)
        .map_err(|why| anyhow::anyhow!("{page}: {why}"))?;
    let base = url.as_deref().and_then(|u| url::Url::parse(u).ok());
    found.html = crate::content::clean::clean_html(&found.html, base.as_ref(), &Default::default());
    if json {
        stdout::println(serde_json::to_string_pretty(&found)?)?;
    } else {
        stdout::println(format_args!(
            "title: {}\n\n{}\n\n{}",
            found.title.unwrap_or_default(),
            found.text.trim(),
            found.html
        ))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The site's options from the config, `--out` overriding `[site] out`.
fn site_options(config: &Config, out: Option<&Path>) -> Result<crate::publish::site::SiteOptions> {
    Ok(crate::publish::site::SiteOptions {
        out: out.map_or_else(|| config.site_dir(), Path::to_path_buf),
        templates: config.site.templates.clone(),
        title: config
            .site
            .title
            .clone()
            .unwrap_or_else(|| "newsvault".to_string()),
        now_ms: Clock::from_env()?.now().timestamp_millis(),
    })
}

/// `newsvault build [--out DIR]`.
pub fn build(config_path: &Path, out: Option<&Path>) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let options = site_options(&config, out)?;
    let store = Store::open_existing(&config.store_path())?;
    let started = std::time::Instant::now();
    let report = crate::publish::site::build_site(&store, &options)
        .with_context(|| format!("building the site in {}", options.out.display()))?;
    stdout::println(format_args!(
        "{} articles; {} page(s) rendered, {} file(s) written, {} unchanged, {} removed in {:.2} s: {}",
        report.articles,
        report.rendered,
        report.written,
        report.unchanged,
        report.removed,
        started.elapsed().as_secs_f64(),
        options.out.join("index.html").display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// `newsvault search QUERY [--source S] [--since W] [--limit N] [--json]`. The index is brought
/// up to date first when the store can be read (it is cheap when nothing changed).
pub fn search(
    config_path: &Path,
    query: &str,
    source: Option<&str>,
    since: Option<&str>,
    limit: usize,
    json: bool,
) -> Result<ExitCode> {
    use crate::search::{SearchError, SearchIndex, SearchRequest, parse_since, snippet_text};
    let config = Config::load(config_path)?;
    if limit == 0 {
        bail!("--limit 0 asks for no result; give 1 or more");
    }
    let dir = config.index_dir();
    // A run keeps the index current; it is built here when missing or damaged, or when runs
    // leave it to `search`.
    let current = config
        .site
        .index_on_run()
        .then(|| SearchIndex::open(&dir).ok())
        .flatten();
    let index = match current {
        Some(index) => index,
        None => {
            let store = Store::open_existing(&config.store_path())?;
            crate::search::open_updated(&store, &dir, crate::search::Building::Fast)?
        }
    };
    let now = Clock::from_env()?.now().timestamp_millis();
    // A source by its name or id, configured or once archived (sources since removed from the
    // config are still in the archive); one the archive does not know is named, not searched.
    let source = match source {
        None => None,
        Some(name) => match config
            .sources
            .iter()
            .find(|s| s.name == name || s.id() == name)
        {
            Some(configured) => Some(configured.id().to_string()),
            None => {
                let store = Store::open_existing(&config.store_path())?;
                let mut shown_names = Vec::new();
                let mut found = None;
                for id in store.source_ids()? {
                    let shown = store.source_name(&id)?.unwrap_or_else(|| id.clone());
                    if id == name || shown == name {
                        found = Some(id);
                        break;
                    }
                    shown_names.push(shown);
                }
                match found {
                    Some(id) => Some(id),
                    None => bail!(
                        "no source {name:?} in this archive; its sources: {}",
                        shown_names.join(", ")
                    ),
                }
            }
        },
    };
    let request = SearchRequest {
        query: query.to_string(),
        source,
        since_ms: since.map(|s| parse_since(s, now)).transpose()?,
        limit,
        offset: 0,
    };
    let results = match index.search(&request) {
        Err(SearchError::BadQuery(why)) => bail!("{query:?}: {why}"),
        other => other?,
    };
    if json {
        stdout::println(serde_json::to_string_pretty(&results)?)?;
    } else {
        use std::io::IsTerminal;
        let mark = if std::io::stdout().is_terminal() {
            ("\x1b[1;33m", "\x1b[0m")
        } else {
            ("[", "]")
        };
        stdout::println(format_args!(
            "{} article(s) match {query:?}{}",
            results.total,
            if results.total > results.hits.len() {
                format!(", the best {}:", results.hits.len())
            } else {
                String::new()
            }
        ))?;
        for (i, hit) in results.hits.iter().enumerate() {
            stdout::println(format_args!(
                "\n{}. {}\n   {} · {}{} · {}\n   {}",
                i + 1,
                hit.title,
                hit.source,
                hit.time,
                if hit.gone { " · gone at source" } else { "" },
                hit.link,
                snippet_text(&hit.snippet, mark)
            ))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `newsvault serve [--addr 127.0.0.1:8080]`: brings the site up to date (an incremental build:
/// cheap when nothing changed), then serves it with the search API until SIGINT / SIGTERM,
/// bringing it up to date again whenever the store changes (see [`crate::serve`]).
pub async fn serve(config_path: &Path, addr: &str) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let options = site_options(&config, None)?;
    let index_dir = config.index_dir();
    let built = options.out.join("index.html").exists();
    // A site built already is served without its store (a copy of the site and the index),
    // as it is: there is nothing to keep it current with.
    if built && !config.store_path().exists() {
        tracing::warn!(
            "no store at {}: serving the site in {} as it was built",
            config.store_path().display(),
            options.out.display()
        );
        let (listener, shutdown) = listen(addr, &options.out).await?;
        crate::serve::serve(listener, options.out, index_dir, shutdown).await?;
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open_existing(&config.store_path())?;
    // Asked before the build: a commit during it is seen at the first request.
    let built_at = store.data_version()?;
    // A site that cannot be brought up to date (a folder it may not write) is served as it was
    // built; one that is not there must be built.
    if let Err(e) = crate::publish::site::build_site(&store, &options)
        .with_context(|| format!("building the site in {}", options.out.display()))
    {
        if !built {
            return Err(e);
        }
        tracing::warn!("{e:#}; serving it as it was built");
    }
    // The index is brought up to date here (and whenever the store changes) when runs leave it
    // to `search` and `serve`, and built when missing or damaged.
    let runs_leave_index = !config.site.index_on_run();
    if runs_leave_index || crate::search::SearchIndex::open(&index_dir).is_err() {
        crate::search::update_index(&store, &index_dir, crate::search::Building::Fast)?;
    }
    let (listener, shutdown) = listen(addr, &options.out).await?;
    let current =
        crate::serve::Current::new(store, options, index_dir, runs_leave_index, Some(built_at));
    crate::serve::serve_current(listener, current, shutdown).await?;
    Ok(ExitCode::SUCCESS)
}

/// `serve`'s listener on `addr`, said on stdout, and the signals that stop it.
async fn listen(
    addr: &str,
    site: &Path,
) -> Result<(
    tokio::net::TcpListener,
    impl Future<Output = ()> + Send + 'static,
)> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    let local = listener.local_addr()?;
    stdout::println(format_args!(
        "serving {} on http://{local}/",
        site.display()
    ))?;
    let shutdown = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    Ok((listener, shutdown))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_count_in_milliseconds_and_one_too_long_is_refused_naming_it() {
        assert_eq!(parse_window("90m").unwrap(), 90 * 60_000);
        assert_eq!(parse_window("2w").unwrap(), 14 * 86_400_000);
        assert_eq!(parse_window("3").unwrap(), 3 * 86_400_000);
        for text in ["20000000000w", "1000000000000000000d"] {
            let error = parse_window(text).unwrap_err().to_string();
            assert!(error.contains(text), "{error}");
        }
        let error = since_ms(&format!("{}m", i64::MAX / 60_000), -1_000_000_000_000)
            .unwrap_err()
            .to_string();
        assert!(error.contains("too long"), "{error}");
    }
}
