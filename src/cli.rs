//! The command line: [`Cli`] and one [`Command`] per subcommand. The doc comments are the help.
//!
//! Options that every command takes (`--config`, `-v`, `-q`) are global, so they may come before
//! or after the subcommand and its arguments.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Follow news feeds, keep every article and every version of it, publish Jekyll posts.
#[derive(Debug, Parser)]
#[command(name = "newsvault", version, about, propagate_version = true)]
pub struct Cli {
    /// The config file.
    #[arg(
        long,
        short = 'c',
        global = true,
        env = "NEWSVAULT_CONFIG",
        default_value = "newsvault.toml"
    )]
    pub config: PathBuf,

    /// More log output (-v info, -vv debug, -vvv trace). RUST_LOG overrides it.
    #[arg(long, short = 'v', global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// Only errors.
    #[arg(long, short = 'q', global = true)]
    pub quiet: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented starter config: DIR/newsvault.toml, else the `--config` file (default:
    /// ./newsvault.toml). Never overwrites.
    Init { dir: Option<PathBuf> },
    /// Fetch every source once, store new articles and versions, write their posts.
    Run,
    /// Keep running: fetch each source every `interval_mins` (default hourly, with jitter),
    /// holding the archive's lock, until SIGINT / SIGTERM.
    Watch,
    /// Copy the store to FILE, consistently, even while a run is writing (replaces FILE).
    Backup {
        /// Where the copy goes.
        file: PathBuf,
    },
    /// Show every source's feeds: last success, consecutive failures, last HTTP status, last
    /// error, permanent redirects, back-off; per source the articles archived, the last new one
    /// and the next scheduled run; the store's size and totals. Exits 2 when some feed's last
    /// try failed.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        /// For monitoring: print only the sources failing for longer than `[status]
        /// failing_after_hours`, and exit 2 when there is one (0 otherwise).
        #[arg(long)]
        check: bool,
    },
    /// Bring an existing archive in: Jekyll posts of the original format, or an OPML list.
    #[command(subcommand)]
    Import(ImportCommand),
    /// Get the archive out: every article version as JSON Lines, or the sources as OPML.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Show an article's versions and events, and what changed between versions.
    History {
        /// The article: its id, its post's file name, or its link.
        article: String,
        /// Compare these two versions (1-based) instead of each with the one before.
        #[arg(long, num_args = 2, value_names = ["FROM", "TO"])]
        diff: Option<Vec<usize>>,
    },
    /// Remove an article from every output (its post, lists, search.json); the store keeps it.
    Hide {
        /// The article: its id, its post's file name, or its link.
        article: String,
        /// Why (a takedown request, say); recorded with the time.
        #[arg(long)]
        reason: String,
    },
    /// Show a hidden article again.
    Unhide {
        /// The article: its id, its post's file name, or its link.
        article: String,
    },
    /// Re-fetch archived article pages and record takedowns (404, 410, redirects to a home or
    /// section page) and returns.
    Check {
        /// Only articles published in this window: `30d`, `12h`, `2w`.
        #[arg(long)]
        since: Option<String>,
        /// Only this source (its name or id).
        #[arg(long)]
        source: Option<String>,
        /// At most this many pages (default: `[check] limit`).
        #[arg(long)]
        limit: Option<usize>,
    },
    /// Derive every article's body again with the current content rules (no version is added)
    /// and rewrite the posts that change.
    Reprocess {
        /// Only this source (its name or id).
        #[arg(long)]
        source: Option<String>,
    },
    /// Extract the main content of one page (a file or a URL) as `fulltext` would, and print
    /// its title, text and cleaned HTML.
    Extract {
        /// A path or an http(s) URL.
        page: String,
        /// Take this element instead of extracting automatically.
        #[arg(long)]
        selector: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write every post, list and search.json again from the store.
    Republish,
    /// Build the HTML site from the store (incremental: unchanged pages are left alone).
    Build {
        /// Output folder (default: `[site] out`, else `<archive>/.newsvault/site`).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Search the archive: every word must occur. Chinese works without spaces.
    Search {
        /// The query, e.g. "冬奥 韩国".
        query: String,
        /// Only this source (its name or id).
        #[arg(long)]
        source: Option<String>,
        /// Only articles since a day (`2021-04-01`) or within a window (`30d`, `12h`, `2w`).
        #[arg(long)]
        since: Option<String>,
        /// At most this many results.
        #[arg(long, default_value_t = 10)]
        limit: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the HTML site and `GET /api/search?q=` over HTTP, kept up to date with the store
    /// (without a store, a site built already is served as it is).
    Serve {
        /// Address to listen on; loopback unless you mean otherwise.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: String,
    },
    /// Parse one feed (a file or a URL) and print its entries as JSON.
    Inspect {
        /// A path or an http(s) URL.
        feed: String,
    },
    /// Archive bundled feeds served on a loopback port into DIR (default: a new temporary folder).
    Demo { dir: Option<PathBuf> },
}

#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Read a `_posts` folder of posts in the original format into the store; each file stays
    /// its article's post, byte for byte.
    Jekyll {
        /// The `_posts` folder.
        posts: PathBuf,
    },
    /// Print `[[source]]` entries for the feeds of an OPML file, to paste into the config.
    Opml {
        /// The OPML file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Every version of every article, one JSON object per line (streamed).
    Jsonl {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// The configured sources as OPML.
    Opml {
        /// Write here instead of standard output.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}
