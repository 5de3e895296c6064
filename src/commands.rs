//! One function per subcommand. Each loads what it needs, calls the stages in order, prints what
//! the user asked for on stdout, and returns the exit code.
//!
//! Exit codes: 0 when everything worked, 1 on a fatal error (returned as `Err` and printed by the
//! binary), 2 when some feeds failed but the others were archived.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};

use crate::clock::Clock;
use crate::config::{Config, STARTER};
use crate::feed::parse_feed;
use crate::fetch::{FetchRequest, Fetched, Fetcher};
use crate::lock::ArchiveLock;
use crate::publish::git::{Counts, publish_to_git};
use crate::publish::TEMP_PREFIX;
use crate::run::{RunSummary, describe, run_locked};
use crate::store::Store;

/// Exit code of a run in which some feeds failed.
pub const EXIT_SOME_FAILED: u8 = 2;

/// `newsvault init [DIR]`.
pub fn init(dir: Option<&Path>) -> Result<ExitCode> {
    let dir = dir.unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("newsvault.toml");
    if path.exists() {
        bail!("{} already exists; not overwriting it", path.display());
    }
    std::fs::write(&path, STARTER).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {}; edit its sources, then run `newsvault run`",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// `newsvault run`.
pub async fn run_once(config_path: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let clock = Clock::from_env()?;
    let shutdown = crate::shutdown::listen().context("listening for SIGINT and SIGTERM")?;
    // Held until git is done too, so two commands never run git in one work tree at once.
    let lock = ArchiveLock::acquire(&config.archive)?;
    let summary = run_locked(&config, clock, &lock, shutdown).await?;
    print!("{}", describe(&summary, &config.archive));
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
        print!("{}", report.describe());
    }
    drop(lock);
    Ok(exit_code(&summary))
}

/// `newsvault backup <file>`: a consistent copy of the store, taken while a run may be writing
/// (see [`Store::backup_to`]). It does not take the archive's lock. The copy is made beside
/// `file` under a temporary name, checked, and renamed over `file`, so `file` is always a whole
/// backup: the new one, or the one it had.
pub fn backup(config_path: &Path, dest: &Path) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let store_path = config.store_path();
    if !store_path.exists() {
        bail!("no store at {}: nothing to back up", store_path.display());
    }
    let store = Store::open(&store_path)
        .with_context(|| format!("opening store {}", store_path.display()))?;
    let name = dest
        .file_name()
        .with_context(|| format!("{} does not name a file", dest.display()))?;
    let folder = dest
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let temp = folder.join(format!(
        "{TEMP_PREFIX}{}-{}",
        std::process::id(),
        name.to_string_lossy()
    ));
    let copy = || -> Result<i64> {
        store
            .backup_to(&temp)
            .with_context(|| format!("copying {} to {}", store_path.display(), temp.display()))?;
        let copy = Store::open(&temp)
            .with_context(|| format!("opening the copy {}", temp.display()))?;
        let problems = copy.integrity_check()?;
        if problems != ["ok"] {
            bail!("the copy {} is damaged: {}", temp.display(), problems.join("; "));
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
    println!(
        "backed up {} to {} ({articles} articles)",
        store_path.display(),
        dest.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// 0 when every feed worked and every post was written, else 2.
pub fn exit_code(summary: &RunSummary) -> ExitCode {
    if summary.failed_feeds() > 0 || !summary.publish.failures.is_empty() {
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
    println!("{}", serde_json::to_string_pretty(&feed)?);
    Ok(ExitCode::SUCCESS)
}

/// `newsvault demo [DIR]`.
pub async fn demo(dir: Option<&Path>) -> Result<ExitCode> {
    let dir = match dir {
        Some(dir) => dir.to_path_buf(),
        None => std::env::temp_dir().join(format!("newsvault-demo-{}", std::process::id())),
    };
    let summary = crate::demo::run_demo(&dir, Clock::from_env()?).await?;
    print!("{}", describe(&summary, &dir));
    println!(
        "open {} to see the posts; the store is {}",
        dir.join("_posts").display(),
        dir.join(crate::config::DEFAULT_STORE).display()
    );
    Ok(exit_code(&summary))
}

/// `newsvault status [--json]`: 0 when no feed is failing, else 2. It only reads: with no store
/// yet, every feed shows as never tried and nothing is created.
pub fn status(config_path: &Path, json: bool) -> Result<ExitCode> {
    let config = Config::load(config_path)?;
    let now = Clock::from_env()?.now().timestamp_millis();
    let store_path = config.store_path();
    let store = if store_path.exists() {
        Some(
            crate::store::Store::open(&store_path)
                .with_context(|| format!("opening store {}", store_path.display()))?,
        )
    } else {
        None
    };
    let sources = crate::status::collect_status(&config, store.as_ref(), now)
        .with_context(|| format!("reading feed health from {}", store_path.display()))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&crate::status::render_status_json(&sources))?
        );
    } else {
        print!("{}", crate::status::render_status_table(&sources));
    }
    let failing = sources.iter().flat_map(|s| &s.feeds).any(|f| f.failing());
    Ok(if failing {
        ExitCode::from(EXIT_SOME_FAILED)
    } else {
        ExitCode::SUCCESS
    })
}
