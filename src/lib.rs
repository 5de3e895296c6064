//! newsvault follows news feeds, keeps every article it has ever seen, and publishes the archive
//! as Jekyll posts byte-compatible with the archives it replaces.
//!
//! # Layout
//!
//! The modules follow the way data flows through a run:
//!
//! ```text
//! newsvault.toml ─► config ─► fetch ─► feed ─► content ─► store ─► publish::jekyll
//!                  (sources)  (HTTP)  (parse)  (rules)   (SQLite)  (_posts/, lists/, search.json)
//! ```
//!
//! - [`config`]: the TOML file: the archive folder, fetch limits and the sources.
//! - [`fetch`]: HTTP with concurrency limits, timeouts, retries and conditional requests.
//! - [`feed`]: RSS, Atom and JSON Feed bytes into [`model::Entry`] values.
//! - [`content`]: per-source rules that turn an entry into an [`model::Article`].
//! - [`store`]: SQLite, the system of record; every SQL statement lives there.
//! - [`publish`]: outputs derived from the store (the Jekyll tree, the HTML site).
//! - [`search`]: the full-text index (tantivy, jieba for Chinese), kept current by every run.
//! - [`serve`]: the HTML site and a search API over local HTTP.
//! - [`run`]: one pass over the sources, tying the stages together.
//! - [`lock`]: one writer per archive folder; a second `run` is refused, naming the holder.
//! - [`shutdown`]: SIGINT / SIGTERM end a run early, after committing what it ingested.
//! - [`watch`]: `newsvault watch`, each source run on its own interval under one lock.
//! - [`status`]: each source's health (`newsvault status`), read from config and store.
//! - [`commands`]: one function per subcommand, called by the binary.
//! - [`progress`]: progress bars on stderr for long commands, on a terminal only.
//! - [`stdout`]: what commands print; a reader that closes it early stops the printing only.
//! - [`malloc`]: glibc's malloc tuned so that a run's phases do not keep each other's memory.
//!
//! [`clock`] gives "now", which `NEWSVAULT_NOW` can fix for reproducible output, and [`demo`]
//! serves bundled feeds on a loopback port so the whole pipeline can be seen without a network.

pub mod check;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod content;
pub mod demo;
pub mod export;
pub mod feed;
pub mod fetch;
pub mod history;
pub mod import;
pub mod lock;
pub mod malloc;
pub mod model;
pub mod progress;
pub mod publish;
pub mod run;
pub mod search;
pub mod serve;
pub mod shutdown;
pub mod status;
pub mod stdout;
pub mod store;
pub mod watch;
