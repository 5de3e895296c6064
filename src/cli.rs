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
    /// Write a commented starter config (newsvault.toml) into DIR (default: here).
    Init { dir: Option<PathBuf> },
    /// Fetch every source once, store new articles and versions, write their posts.
    Run,
    /// Copy the store to FILE, consistently, even while a run is writing (replaces FILE).
    Backup {
        /// Where the copy goes.
        file: PathBuf,
    },
    /// Show every source's feeds: last success, consecutive failures, last HTTP status, last
    /// error, permanent redirects, back-off. Exits 2 when some feed's last try failed.
    Status {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Parse one feed (a file or a URL) and print its entries as JSON.
    Inspect {
        /// A path or an http(s) URL.
        feed: String,
    },
    /// Archive bundled feeds served on a loopback port into DIR (default: a new temporary folder).
    Demo { dir: Option<PathBuf> },
}
