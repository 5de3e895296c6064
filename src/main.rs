//! The `newsvault` binary: parse the command line, start logging, call the library, map the
//! outcome to an exit code (0 all good, 1 fatal, 2 some feeds failed).

mod allocator;

use std::process::ExitCode;

use clap::Parser;
use newsvault::cli::{Cli, Command};
use newsvault::commands;
use tracing_subscriber::EnvFilter;

#[global_allocator]
static ALLOCATOR: allocator::Allocator = allocator::Allocator;

fn main() -> ExitCode {
    // Not `Cli::parse()`: clap exits 2 on a mistyped command line, and 2 means "some feeds
    // failed" here. Help and the version go to stdout with 0; a mistake is fatal, 1.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Run | Command::Watch => newsvault::malloc::tune_for_run(),
        Command::Build { .. } => allocator::use_mimalloc(),
        _ => {}
    }
    start_logging(&cli);
    newsvault::progress::enable(cli.verbose, cli.quiet);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("newsvault: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match &cli.command {
            Command::Init { dir } => commands::init(dir.as_deref(), &cli.config),
            Command::Run => commands::run_once(&cli.config).await,
            Command::Watch => commands::watch(&cli.config).await,
            Command::Backup { file } => commands::backup(&cli.config, file),
            Command::Status { json, check } => commands::status(&cli.config, *json, *check),
            Command::Import(what) => commands::import(&cli.config, what),
            Command::Export(what) => commands::export(&cli.config, what),
            Command::History { article, diff } => {
                commands::history(&cli.config, article, diff.as_deref())
            }
            Command::Hide { article, reason } => commands::hide(&cli.config, article, reason),
            Command::Unhide { article } => commands::unhide(&cli.config, article),
            Command::Republish => commands::republish(&cli.config),
            Command::Build { out } => commands::build(&cli.config, out.as_deref()),
            Command::Search {
                query,
                source,
                since,
                limit,
                json,
            } => commands::search(
                &cli.config,
                query,
                source.as_deref(),
                since.as_deref(),
                *limit,
                *json,
            ),
            Command::Serve { addr } => commands::serve(&cli.config, addr).await,
            Command::Reprocess { source } => commands::reprocess(&cli.config, source.as_deref()),
            Command::Extract {
                page,
                selector,
                json,
            } => commands::extract(page, selector.as_deref(), *json).await,
            Command::Check {
                since,
                source,
                limit,
            } => commands::check(&cli.config, since.as_deref(), source.as_deref(), *limit).await,
            Command::Inspect { feed } => commands::inspect(feed).await,
            Command::Demo { dir } => commands::demo(dir.as_deref()).await,
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("newsvault: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr through `tracing`, coloured on a terminal only; `-v`/`-q` pick the level,
/// `RUST_LOG` overrides both.
fn start_logging(cli: &Cli) {
    let level = match (cli.quiet, cli.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("newsvault={level},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // Colour for a terminal only: a cron job's log or a pipe gets the words.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
