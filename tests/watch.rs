//! `newsvault watch` (issue 7): sources run on their own intervals, under one lock held across
//! runs, and the process stops cleanly on SIGTERM / SIGINT.
//!
//! The binary runs for real against a loopback feed server, with a per-source interval of about a
//! second (`interval_mins = 0.02`); every wait has a generous deadline and no assertion depends on
//! how fast the machine is.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{FeedServer, TempArchive, rss};

fn spawn_watch(archive: &TempArchive) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .arg("watch")
        .arg("--config")
        .arg(&archive.config)
        .env_remove("NEWSVAULT_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `server` has answered `path` at least `count` times.
async fn wait_for_hits(server: &FeedServer, path: &str, count: usize, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.hits(path) < count {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("watch exited early with {status}");
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!(
                "{path} was fetched {} times, not {count}",
                server.hits(path)
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends `signal`, then waits (up to a generous bound) for the exit; returns code and output.
async fn stop(mut child: Child, signal: &str) -> (Option<i32>, String, String) {
    let sent = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(sent.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch did not stop within 20 s of SIG{signal}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    use std::io::Read;
    let (mut out, mut err) = (String::new(), String::new());
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), out, err)
}

/// A feed that gains an item on every request: request n carries items 1..=n+1.
fn growing_feed(server: &FeedServer, path: &str) {
    server.route(path, |_, count| {
        common::Reply::ok(common::numbered_rss(1..=count + 1))
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_runs_a_source_again_after_its_interval_and_stops_on_sigterm() {
    let server = FeedServer::start().await;
    growing_feed(&server, "/fast.xml");
    server.set(
        "/slow.xml",
        rss(&[("https://e.com/slow", "慢", "<p>慢</p>")]),
    );
    let archive = TempArchive::new(
        &[
            ("快", vec![server.url("/fast.xml")]),
            ("慢", vec![server.url("/slow.xml")]),
        ],
        "",
    );
    // The fast source every 1.2 s; the slow one keeps the default hour.
    let text = std::fs::read_to_string(&archive.config).unwrap();
    let text = text.replacen(
        "name = \"快\"\n",
        "name = \"快\"\ninterval_mins = 0.02\n",
        1,
    );
    std::fs::write(&archive.config, text).unwrap();

    let mut child = spawn_watch(&archive);
    wait_for_hits(&server, "/fast.xml", 3, &mut child).await;

    // The lock is held between runs too: a `run` now is refused.
    let (code, _, stderr) = archive.cli(&["run"], None);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("is locked by newsvault pid"), "{stderr}");

    // status shows when each source runs next: soon for the fast one, in about an hour for the
    // slow one.
    let (_, status, _) = archive.cli(&["status", "--json"], None);
    let status: serde_json::Value = serde_json::from_str(&status).unwrap();
    let next = |i: usize| {
        let text = status["sources"][i]["next_run"]
            .as_str()
            .unwrap()
            .to_string();
        chrono::DateTime::parse_from_rfc3339(&text).unwrap()
    };
    let gap = next(1) - next(0);
    assert!(
        gap > chrono::Duration::minutes(40),
        "the slow source is not scheduled an hour out: {status}"
    );

    let (code, stdout, stderr) = stop(child, "TERM").await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let fast_runs = server.hits("/fast.xml");
    assert!(fast_runs >= 3);
    // Only the due source ran again; the hourly one ran once, at the start.
    assert_eq!(server.hits("/slow.xml"), 1, "{stdout}");
    assert!(stdout.contains("running 快, 慢"), "{stdout}");
    assert!(stdout.contains("running 快\n"), "{stdout}");
    // Each run of the growing feed archived its new item.
    let posts = archive.post_names();
    assert!(posts.len() >= fast_runs, "{posts:?}");
    assert!(archive.archive().join("search.json").exists());
    // The lock is released on the way out.
    assert_eq!(
        std::fs::read_to_string(archive.archive().join(".newsvault/lock")).unwrap(),
        ""
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_stops_on_sigint_while_waiting_and_resumes_its_schedule() {
    let server = FeedServer::start().await;
    server.set("/a.xml", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "");

    // Hourly: one run at the start, then a long wait that SIGINT must cut short.
    let mut child = spawn_watch(&archive);
    wait_for_hits(&server, "/a.xml", 1, &mut child).await;
    // Let the run finish and the wait begin (the post is written after the fetch).
    let deadline = Instant::now() + Duration::from_secs(30);
    while archive.post_names().is_empty() || !archive.archive().join("search.json").exists() {
        assert!(Instant::now() < deadline, "the first run wrote nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, stdout, stderr) = stop(child, "INT").await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("watch: next run "), "{stdout}");

    // Started again within the hour, nothing is due: no fetch before SIGTERM.
    let child = spawn_watch(&archive);
    // Ready (signal handlers installed, lock taken) once the lock file names it.
    let lock = archive.archive().join(".newsvault/lock");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&lock)
        .unwrap_or_default()
        .contains(&format!("pid={}", child.id()))
    {
        assert!(
            Instant::now() < deadline,
            "the second watch never took the lock"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (code, stdout, stderr) = stop(child, "TERM").await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert_eq!(server.hits("/a.xml"), 1, "{stdout}");
}

/// watch follows edits of its config without a restart: a broken edit is reported and the config
/// it had is kept; a source added is run.
#[tokio::test(flavor = "multi_thread")]
async fn watch_follows_edits_of_its_config_and_keeps_its_config_when_an_edit_is_broken() {
    let server = FeedServer::start().await;
    growing_feed(&server, "/a.xml");
    server.set("/b.xml", rss(&[("https://e.com/b", "乙", "<p>乙</p>")]));
    let archive = TempArchive::new(
        &[("甲", vec![server.url("/a.xml")])],
        "[watch]\ninterval_mins = 0.02\n",
    );
    let good = std::fs::read_to_string(&archive.config).unwrap();
    let mut child = spawn_watch(&archive);
    wait_for_hits(&server, "/a.xml", 2, &mut child).await;

    // A mistake: reported, and 甲 goes on running as before.
    std::fs::write(&archive.config, format!("{good}bogus_key = 1\n")).unwrap();
    let seen = server.hits("/a.xml");
    wait_for_hits(&server, "/a.xml", seen + 3, &mut child).await;
    assert_eq!(server.hits("/b.xml"), 0);

    // A source added: it runs, and so does the one that was there.
    let added = format!(
        "{good}[[source]]\nname = \"乙\"\nfeeds = [{:?}]\n",
        server.url("/b.xml")
    );
    std::fs::write(&archive.config, added).unwrap();
    wait_for_hits(&server, "/b.xml", 1, &mut child).await;
    let seen = server.hits("/a.xml");
    wait_for_hits(&server, "/a.xml", seen + 1, &mut child).await;

    let (code, stdout, stderr) = stop(child, "TERM").await;
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stderr.contains("bogus_key"), "{stderr}");
    assert!(stderr.contains("keeps the config it had"), "{stderr}");
    assert!(stdout.contains("now watching 2 sources"), "{stdout}");
    assert!(
        archive.post_names().iter().any(|name| name.contains("乙")),
        "{:?}",
        archive.post_names()
    );
}
