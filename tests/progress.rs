//! Progress bars (issue 7): `run` over many feeds draws a bar on a terminal, and nothing of it
//! when stderr is a pipe or when `-v` asks for log lines instead.
//!
//! The terminal is a real pseudo-terminal from util-linux `script`; the test is skipped (with a
//! note) where `script` is missing. Feeds answer after a delay so that the run lasts long enough
//! for a bar to be drawn on any machine.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{FeedServer, Reply, TempArchive, rss};

const NOW: &str = "2021-04-04T08:45:53Z";
const FEEDS: usize = 8;

async fn slow_archive() -> (FeedServer, TempArchive) {
    let server = FeedServer::start().await;
    let mut sources = vec![];
    for i in 0..FEEDS {
        let path = format!("/{i}.xml");
        let body = rss(&[(&format!("https://e.com/{i}"), "题", "<p>文</p>")]);
        server.route(&path, move |_, _| Reply {
            delay: Some(Duration::from_millis(250)),
            ..Reply::ok(body.clone())
        });
        sources.push((format!("源{i}"), vec![server.url(&path)]));
    }
    let sources: Vec<(&str, Vec<String>)> = sources
        .iter()
        .map(|(name, feeds)| (name.as_str(), feeds.clone()))
        .collect();
    let archive = TempArchive::new(&sources, "[fetch]\nconcurrency = 2\n");
    (server, archive)
}

/// Runs the binary with `args` on a pseudo-terminal; returns everything the terminal showed,
/// or `None` when `script` is not available.
fn on_terminal(archive: &TempArchive, args: &str) -> Option<String> {
    let command = format!(
        "{} {args} --config {}",
        env!("CARGO_BIN_EXE_newsvault"),
        archive.config.display()
    );
    let output = Command::new("script")
        .args(["-q", "-e", "-c", &command, "/dev/null"])
        .env("NEWSVAULT_NOW", NOW)
        .env_remove("RUST_LOG")
        .output()
        .ok()?;
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{shown}");
    Some(shown)
}

#[tokio::test(flavor = "multi_thread")]
async fn run_draws_a_bar_on_a_terminal_and_nothing_on_a_pipe() {
    // A pipe: stdout has the summary, stderr nothing at all.
    let (_server, archive) = slow_archive().await;
    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("8 post(s) written"), "{stdout}");
    assert_eq!(stderr, "", "a pipe got progress output");

    // A terminal: the bar counts the feeds.
    let (_server, archive) = slow_archive().await;
    let Some(shown) = on_terminal(&archive, "run") else {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    };
    assert!(shown.contains(&format!("/{FEEDS} feeds")), "{shown:?}");
    assert!(shown.contains("8 post(s) written"), "{shown:?}");

    // A terminal with -v: log lines, no bar.
    let (_server, archive) = slow_archive().await;
    let shown = on_terminal(&archive, "run -v").unwrap();
    assert!(!shown.contains(&format!("/{FEEDS} feeds")), "{shown:?}");
    assert!(shown.contains("8 post(s) written"), "{shown:?}");
}
