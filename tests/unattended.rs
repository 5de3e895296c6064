//! Running unattended (issue 7): one writer per archive, stopping cleanly on a signal, git
//! publishing and backups, each checked through the real binary against a loopback feed server.
//!
//! These tests start `newsvault` as a child process so that locks, signals and exit codes are the
//! real thing. They do not cover the crash test (killing at random moments): that is
//! `bench/crash.sh`, which takes minutes.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{FeedServer, Reply, TempArchive, rss};

const NOW: &str = "2021-04-04T08:45:53Z";

/// Starts `newsvault run` on `archive` in the background.
fn spawn_run(archive: &TempArchive) -> Child {
    Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .arg("run")
        .arg("--config")
        .arg(&archive.config)
        .env("NEWSVAULT_NOW", NOW)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits until `server` has been asked for `path` (the child is then inside its run).
async fn wait_for_hit(server: &FeedServer, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.hits(path) == 0 {
        assert!(Instant::now() < deadline, "nobody fetched {path}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A feed route that answers only after `delay`.
fn slow_feed(server: &FeedServer, path: &str, body: String, delay: Duration) {
    server.route(path, move |_, _| Reply {
        delay: Some(delay),
        ..Reply::ok(body.clone())
    });
}

fn lock_file(archive: &TempArchive) -> std::path::PathBuf {
    archive.archive().join(".newsvault/lock")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_run_on_the_same_archive_is_refused_naming_the_holder() {
    let server = FeedServer::start().await;
    slow_feed(
        &server,
        "/slow.xml",
        rss(&[("https://e.com/1", "一", "<p>1</p>")]),
        Duration::from_secs(60),
    );
    let archive = TempArchive::new(&[("慢", vec![server.url("/slow.xml")])], "");

    let first = spawn_run(&archive);
    wait_for_hit(&server, "/slow.xml").await;
    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 1, "{stdout}{stderr}");
    let expected = format!(
        "archive {} is locked by newsvault pid {} since ",
        archive.archive().display(),
        first.id()
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert_eq!(server.hits("/slow.xml"), 1, "the refused run fetched");

    // The holder dies without cleaning up; its lock goes with it.
    let mut first = first;
    first.kill().unwrap();
    first.wait().unwrap();
    let left = std::fs::read_to_string(lock_file(&archive)).unwrap();
    assert!(left.contains(&format!("pid={}", first.id())), "{left}");
    server.set("/slow.xml", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(archive.post_names().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stale_lock_naming_a_dead_process_is_taken_over() {
    let server = FeedServer::start().await;
    server.set("/a.xml", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "");

    // A process that has exited: its pid is free (or reused by someone who holds no lock).
    let mut dead = Command::new("true").spawn().unwrap();
    dead.wait().unwrap();
    let lock = lock_file(&archive);
    std::fs::create_dir_all(lock.parent().unwrap()).unwrap();
    std::fs::write(
        &lock,
        format!("pid={}\nsince=2021-04-04T07:00:00+00:00\n", dead.id()),
    )
    .unwrap();

    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.contains(&format!("left by newsvault pid {}", dead.id())),
        "the takeover is not logged: {stderr}"
    );
    assert_eq!(archive.post_names().len(), 1);
    // A clean exit leaves an empty lock file: nothing to take over next time.
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "");
    let (code, _, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stderr}");
    assert!(!stderr.contains("taking over"), "{stderr}");
}
