//! `newsvault watch`: run each source on its own interval, for as long as the process lives.
//!
//! Watch holds the archive's lock from start to end (a `run` or a second `watch` is refused) and
//! runs, each time, the sources that are due, through the same [`run_locked`] as `newsvault run`:
//! the same fetch limits, the same ingest, the same back-off of feeds that keep failing (a feed
//! backing off is skipped inside its source's run, exactly as `run` skips it). What watch adds is
//! the *when*:
//!
//! - A source is due when its next run time, kept in the store (`schedule`, migration 0002), has
//!   come, or when it has none (a source new to the config runs at once).
//! - After a run the next one is set to the run's start plus the source's interval (`[watch]
//!   interval_mins`, or the source's own `interval_mins`), moved by a random jitter of up to
//!   `[watch] jitter_percent` either way, so sources started together drift apart instead of
//!   all firing in the same second every hour.
//! - The sources due at one moment run together, in one [`run_locked`], so they share its
//!   fan-out and its single transaction; their run is a [`Config`] clone holding only them.
//!
//! A shutdown (SIGINT / SIGTERM, see [`crate::shutdown`]) ends the run in progress the way it
//! ends `run` (what was ingested is committed and published) or ends the wait between runs; the
//! loop then returns. A run that fails (the store cannot be written, say) is logged and its
//! sources are scheduled as if it had worked: a long-running watcher must not spin on an error,
//! nor die of one that the next hour may not have.
//!
//! The config file is looked at again before each round (so at least once a minute): an edit
//! takes effect without a restart. An edit that does not load, or that moves the archive or the
//! store (watch holds the lock of the one it started with), is reported, and watch keeps the
//! config it had.
//!
//! Time: with `NEWSVAULT_NOW` set, watch's clock starts at that moment and then advances with
//! the real (monotonic) time, so schedules stay reproducible in tests without standing still.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::config::{Config, SourceConfig};
use crate::lock::ArchiveLock;
use crate::run::{RunSummary, run_locked};
use crate::stdout;
use crate::store::Store;

/// Longest single sleep between two looks at the schedule: a machine that was suspended, or a
/// wall clock that jumped, is noticed within this.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// Watch's "now": the command's clock at the start, advanced by the monotonic time since.
#[derive(Debug, Clone, Copy)]
struct WatchClock {
    clock: Clock,
    start: Instant,
}

impl WatchClock {
    fn now(&self) -> DateTime<Utc> {
        match self.clock {
            Clock::System => Utc::now(),
            Clock::Fixed(at) => {
                at + chrono::Duration::from_std(self.start.elapsed()).unwrap_or_default()
            }
        }
    }
    fn now_ms(&self) -> i64 {
        self.now().timestamp_millis()
    }
}

/// The config file watch follows, and what it looked like when last loaded.
pub struct ConfigFile {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
}

impl ConfigFile {
    /// Loads the config at `path`, noting the file's state first: an edit made while it loads
    /// is seen by the next look.
    pub fn load(path: &Path) -> Result<(ConfigFile, Config), crate::config::ConfigError> {
        let file = ConfigFile {
            path: path.to_path_buf(),
            seen: stamp(path),
        };
        let config = Config::load(path)?;
        Ok((file, config))
    }

    /// The config the file now holds, if the file changed since the last look.
    fn changed(&mut self) -> Option<Result<Config, crate::config::ConfigError>> {
        let now = stamp(&self.path);
        if now == self.seen {
            return None;
        }
        self.seen = now;
        Some(Config::load(&self.path))
    }
}

/// A file's modification time and length: a change of either is an edit.
fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    Some((meta.modified().ok()?, meta.len()))
}

/// `current` followed by the edit `edited` of its file, or why watch keeps `current`.
fn follow(current: &Config, edited: Config) -> std::result::Result<Config, String> {
    if edited.archive != current.archive || edited.store_path() != current.store_path() {
        return Err(format!(
            "it moves the archive or the store, and this watch holds the lock of {}; restart \
             watch to follow it",
            current.archive.display()
        ));
    }
    if edited.sources.is_empty() {
        return Err("it lists no source to watch".into());
    }
    Ok(edited)
}

/// When `source` runs next after a run that started at `started_ms`: its interval later, moved
/// by up to `[watch] jitter_percent` of the interval either way (never before the start).
pub fn next_run_ms(config: &Config, source: &SourceConfig, started_ms: i64) -> i64 {
    let interval_ms = config.watch_interval(source).as_secs_f64() * 1000.0;
    let spread = interval_ms * config.watch.jitter_percent / 100.0;
    let jitter = spread * (fastrand::f64() * 2.0 - 1.0);
    started_ms + ((interval_ms + jitter).round() as i64).max(1)
}

/// The sources of `config` due at `now_ms`, given the stored next run times.
pub fn due_sources<'a>(
    config: &'a Config,
    next_runs: &HashMap<String, i64>,
    now_ms: i64,
) -> Vec<&'a SourceConfig> {
    config
        .sources
        .iter()
        .filter(|s| next_runs.get(s.id()).is_none_or(|next| *next <= now_ms))
        .collect()
}

/// `config` with only `sources` in it: what one of watch's runs is given.
pub fn config_with(config: &Config, sources: &[&SourceConfig]) -> Config {
    Config {
        sources: sources.iter().map(|s| (*s).clone()).collect(),
        ..config.clone()
    }
}

/// Runs the sources of `config` (loaded from `file`, and again whenever the file changes) on
/// their intervals until `shutdown` completes, holding `lock`.
///
/// `after_run` gets each run's config (only the sources that ran), the time, and the summary once the run is
/// committed and published; the binary prints the summary and publishes to git there. An error
/// it returns is logged, like a failed run.
pub async fn watch(
    mut file: ConfigFile,
    mut config: Config,
    clock: Clock,
    lock: &ArchiveLock,
    shutdown: impl Future<Output = ()> + Send + 'static,
    mut after_run: impl AsyncFnMut(&Config, Clock, &RunSummary) -> Result<()>,
) -> Result<()> {
    anyhow::ensure!(
        !config.sources.is_empty(),
        "the config lists no source to watch"
    );
    let clock = WatchClock {
        clock,
        start: Instant::now(),
    };
    let store_path = config.store_path();
    let store = Store::open(&store_path)?;

    // The one shutdown future becomes a flag every run and every wait can look at.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop.send(true);
    });
    let signalled = || {
        let mut stopped = stopped.clone();
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        }
    };

    loop {
        if *stopped.borrow() {
            return Ok(());
        }
        if let Some(edited) = file.changed() {
            let edited = match edited {
                // The error names the file, the line and the key.
                Err(e) => Err(e.to_string()),
                Ok(edited) => follow(&config, edited)
                    .map_err(|why| format!("{} changed, but {why}", file.path.display())),
            };
            match edited {
                Ok(edited) => {
                    config = edited;
                    stdout::report(format_args!(
                        "watch: {} changed; now watching {} sources\n",
                        file.path.display(),
                        config.sources.len()
                    ));
                }
                Err(why) => tracing::error!("{why}; watch keeps the config it had"),
            }
        }
        let config = &config;
        let mut next_runs = store.next_runs()?;
        let started = clock.now();
        let started_ms = started.timestamp_millis();
        let due = due_sources(config, &next_runs, started_ms);
        if !due.is_empty() {
            let subset = config_with(config, &due);
            let names: Vec<&str> = due.iter().map(|s| s.name.as_str()).collect();
            stdout::report(format_args!(
                "watch: {}: running {}\n",
                started.format("%Y-%m-%d %H:%M:%S UTC"),
                names.join(", ")
            ));
            let outcome = run_locked(&subset, Clock::Fixed(started), lock, signalled()).await;
            let interrupted = match &outcome {
                Ok(summary) => summary.interrupted,
                Err(_) => false,
            };
            match outcome {
                Ok(summary) => {
                    if let Err(e) = after_run(&subset, Clock::Fixed(clock.now()), &summary).await {
                        tracing::error!("after the run of {}: {e:#}", names.join(", "));
                    }
                }
                Err(e) => tracing::error!("the run of {} failed: {e:#}", names.join(", ")),
            }
            if interrupted {
                // The sources cut short run first when watch starts again.
                return Ok(());
            }
            for source in &due {
                let next = next_run_ms(config, source, started_ms);
                store
                    .set_next_run(source.id(), started_ms, next)
                    .context("recording the next run")?;
                next_runs.insert(source.id().to_string(), next);
            }
            if let Some((name, next)) = soonest(config, &next_runs) {
                stdout::report(format_args!(
                    "watch: next run {} ({name})\n",
                    format_ms(next)
                ));
            }
        }
        let wait = match soonest(config, &next_runs) {
            Some((_, next)) => Duration::from_millis((next - clock.now_ms()).max(0) as u64),
            None => Duration::ZERO,
        };
        tokio::select! {
            () = signalled() => return Ok(()),
            () = tokio::time::sleep(wait.min(MAX_SLEEP)) => {}
        }
    }
}

/// The source that runs next and when.
fn soonest<'a>(config: &'a Config, next_runs: &HashMap<String, i64>) -> Option<(&'a str, i64)> {
    config
        .sources
        .iter()
        .map(|s| (s.name.as_str(), next_runs.get(s.id()).copied().unwrap_or(0)))
        .min_by_key(|(_, next)| *next)
}

fn format_ms(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn config(text: &str) -> Config {
        Config::parse(text, Path::new("test.toml"), Path::new("/base")).unwrap()
    }

    const TWO: &str = "[watch]\ninterval_mins = 60\njitter_percent = 10\n\
        [[source]]\nname = \"a\"\nfeeds = [\"http://a/\"]\n\
        [[source]]\nname = \"b\"\nfeeds = [\"http://b/\"]\ninterval_mins = 5\n";

    #[test]
    fn an_edit_that_moves_the_archive_or_the_store_or_drops_every_source_is_not_followed() {
        let current = config(&format!("archive = \"a\"\n{TWO}"));
        let edited = |text: &str| follow(&current, config(text));
        let one = "[[source]]\nname = \"c\"\nfeeds = [\"http://c/\"]\n";
        let followed = edited(&format!("archive = \"a\"\n{one}")).unwrap();
        assert_eq!(followed.sources[0].name, "c");
        let moved = edited(&format!("archive = \"elsewhere\"\n{one}")).unwrap_err();
        assert!(moved.contains("restart watch"), "{moved}");
        let store = edited(&format!("archive = \"a\"\nstore = \"s.sqlite\"\n{one}"));
        assert!(store.unwrap_err().contains("store"));
        let none = edited("archive = \"a\"\n").unwrap_err();
        assert!(none.contains("no source"), "{none}");
    }

    #[test]
    fn next_run_is_the_interval_later_within_the_jitter() {
        let config = config(TWO);
        let hour = 3_600_000;
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let next = next_run_ms(&config, &config.sources[0], 1_000);
            assert!((1_000 + hour - hour / 10..=1_000 + hour + hour / 10).contains(&next));
            seen.insert(next);
            let five = next_run_ms(&config, &config.sources[1], 0);
            assert!((270_000..=330_000).contains(&five), "{five}");
        }
        assert!(seen.len() > 10, "no jitter: {seen:?}");
    }

    #[test]
    fn new_sources_are_due_at_once_and_others_when_their_time_comes() {
        let config = config(TWO);
        let mut next = HashMap::new();
        let names = |due: Vec<&SourceConfig>| -> Vec<String> {
            due.iter().map(|s| s.name.clone()).collect()
        };
        assert_eq!(names(due_sources(&config, &next, 0)), ["a", "b"]);
        next.insert("a".to_string(), 100);
        next.insert("b".to_string(), 50);
        assert_eq!(names(due_sources(&config, &next, 49)), Vec::<String>::new());
        assert_eq!(names(due_sources(&config, &next, 50)), ["b"]);
        assert_eq!(names(due_sources(&config, &next, 100)), ["a", "b"]);
        let subset = config_with(&config, &due_sources(&config, &next, 50));
        assert_eq!(subset.sources.len(), 1);
        assert_eq!(subset.archive, config.archive);
        assert_eq!(soonest(&config, &next), Some(("b", 50)));
    }

    #[test]
    fn intervals_must_be_positive() {
        let bad = "[[source]]\nname = \"a\"\nfeeds = [\"http://a/\"]\ninterval_mins = 0\n";
        let err = Config::parse(bad, Path::new("t.toml"), Path::new("/")).unwrap_err();
        assert!(err.to_string().contains("interval_mins"), "{err}");
        let bad = "[watch]\ninterval_mins = -1\n";
        assert!(Config::parse(bad, Path::new("t.toml"), Path::new("/")).is_err());
    }
}
