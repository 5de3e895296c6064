//! Running unattended (issue 7): one writer per archive, stopping cleanly on a signal, git
//! publishing and backups, each checked through the real binary against a loopback feed server.
//!
//! These tests start `newsvault` as a child process so that locks, signals and exit codes are the
//! real thing. They do not cover the crash test (killing at random moments): that is
//! `bench/crash.sh`, which takes minutes.

mod common;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{FeedServer, Reply, TempArchive, assert_no_temp_files, rss};

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

/// Waits until `server` has been asked for `path` more than `before` times (the child is then
/// inside its run).
async fn wait_for_hit(server: &FeedServer, path: &str, before: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while server.hits(path) <= before {
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
    wait_for_hit(&server, "/slow.xml", 0).await;
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
/// Waits for `child` to exit, at most `limit`; returns its exit code (`None`: killed by a
/// signal) and stderr.
async fn wait_exit(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            use std::io::Read;
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code(), stderr);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("newsvault did not exit within {limit:?}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
}

fn integrity(store: &Path) -> String {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap()
}

/// A signal in the middle of a run: the binary commits what it ingested, publishes it, leaves no
/// temporary file, and exits 0 promptly; the next run carries on without duplicates.
async fn stops_cleanly_on(signal: &str) {
    let server = FeedServer::start().await;
    let first = [
        ("https://e.com/1", "一", "<p>1</p>"),
        ("https://e.com/2", "二", "<p>2</p>"),
    ];
    server.set("/a.xml", rss(&first));
    let later = rss(&[("https://e.com/3", "三", "<p>3</p>")]);
    slow_feed(&server, "/slow.xml", later.clone(), Duration::from_secs(60));
    // One feed at a time: the slow feed is asked for only after /a.xml has been ingested.
    let archive = TempArchive::new(
        &[
            ("甲", vec![server.url("/a.xml")]),
            ("慢", vec![server.url("/slow.xml")]),
        ],
        "[fetch]\nconcurrency = 1\n",
    );

    let child = spawn_run(&archive);
    wait_for_hit(&server, "/slow.xml", 0).await;
    let sent = Instant::now();
    send_signal(&child, signal);
    let (code, stderr) = wait_exit(child, Duration::from_secs(20)).await;
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        sent.elapsed() < Duration::from_secs(5),
        "took {:?} to stop",
        sent.elapsed()
    );
    assert_eq!(
        integrity(&archive.archive().join(".newsvault/store.sqlite")),
        "ok"
    );
    assert_no_temp_files(&archive.archive());
    assert_eq!(archive.post_names().len(), first.len(), "{stderr}");
    assert!(archive.archive().join("search.json").exists());

    server.set("/slow.xml", later);
    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("甲: 0 new"), "{stdout}");
    assert!(stdout.contains("慢: 1 new"), "{stdout}");
    assert_eq!(archive.post_names().len(), first.len() + 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_run_commits_what_it_has_and_exits_0() {
    stops_cleanly_on("TERM").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn sigint_during_a_run_commits_what_it_has_and_exits_0() {
    stops_cleanly_on("INT").await;
}

fn article_count(store: &Path) -> i64 {
    let conn = rusqlite::Connection::open(store).unwrap();
    conn.query_row("SELECT count(*) FROM article", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_copies_the_last_commit_while_a_run_is_writing() {
    let server = FeedServer::start().await;
    server.set("/a.xml", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    server.set("/slow.xml", rss(&[]));
    let archive = TempArchive::new(
        &[
            ("甲", vec![server.url("/a.xml")]),
            ("慢", vec![server.url("/slow.xml")]),
        ],
        "[fetch]\nconcurrency = 1\n",
    );
    let (code, stdout, stderr) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");

    // A second run ingests a new article into its open transaction, then waits on a slow feed,
    // holding the archive's lock and the store's write lock.
    server.set(
        "/a.xml",
        rss(&[
            ("https://e.com/1", "一", "<p>1</p>"),
            ("https://e.com/2", "二", "<p>2</p>"),
        ]),
    );
    slow_feed(&server, "/slow.xml", rss(&[]), Duration::from_secs(60));
    let before = server.hits("/slow.xml");
    let writer = spawn_run(&archive);
    wait_for_hit(&server, "/slow.xml", before).await;

    let copy = archive.dir.path().join("copy.sqlite");
    let started = Instant::now();
    let (code, stdout, stderr) = archive.cli(&["backup", copy.to_str().unwrap()], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(started.elapsed() < Duration::from_secs(5), "backup waited");
    assert!(stdout.contains("(1 articles)"), "{stdout}");
    assert_eq!(integrity(&copy), "ok");
    assert_eq!(article_count(&copy), 1, "the copy shows uncommitted work");
    assert_no_temp_files(archive.dir.path());

    // After the run commits, a new backup replaces the old one.
    send_signal(&writer, "TERM");
    let (code, stderr) = wait_exit(writer, Duration::from_secs(20)).await;
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stdout, stderr) = archive.cli(&["backup", copy.to_str().unwrap()], Some(NOW));
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(article_count(&copy), 2);
    assert_eq!(integrity(&copy), "ok");
}

#[test]
fn backup_without_a_store_says_so() {
    let archive = TempArchive::new(&[("甲", vec!["http://127.0.0.1:9/a.xml".into()])], "");
    let copy = archive.dir.path().join("copy.sqlite");
    let (code, _, stderr) = archive.cli(&["backup", copy.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(stderr.contains("nothing to back up"), "{stderr}");
    assert!(!copy.exists());
    assert!(!archive.archive().exists(), "backup created the archive");
}

#[tokio::test(flavor = "multi_thread")]
async fn backup_into_a_missing_folder_names_the_folder() {
    let server = FeedServer::start().await;
    server.set("/a.xml", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let archive = TempArchive::new(&[("S", vec![server.url("/a.xml")])], "");
    let (code, _, err) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{err}");
    let missing = archive.dir.path().join("missing");
    let copy = missing.join("copy.sqlite");
    let (code, _, stderr) = archive.cli(&["backup", copy.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("{} is not a folder", missing.display())),
        "{stderr}"
    );
    assert!(
        !stderr.contains(newsvault::publish::TEMP_PREFIX),
        "{stderr}"
    );
    assert!(!missing.exists());
}

/// New posts are created in place (one file operation instead of a temporary file and a
/// rename): a run killed while creating one leaves part of it under its own name, still dirty in
/// the store, and the next run writes it whole.
#[tokio::test(flavor = "multi_thread")]
async fn a_post_left_half_written_by_a_killed_run_is_written_whole_by_the_next() {
    let server = FeedServer::start().await;
    server.set(
        "/a.xml",
        rss(&[
            ("https://e.com/1", "一", "<p>1</p>"),
            ("https://e.com/2", "二", "<p>2</p>"),
        ]),
    );
    let archive = TempArchive::new(&[("S", vec![server.url("/a.xml")])], "");
    let (code, _, err) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{err}");
    let names = archive.post_names();
    assert_eq!(names.len(), 2);
    let path = archive.posts().join(&names[0]);
    let whole = std::fs::read(&path).unwrap();

    // What a run killed in the middle of that write leaves: half the file, the post not marked
    // written.
    std::fs::write(&path, &whole[..whole.len() / 2]).unwrap();
    let conn =
        rusqlite::Connection::open(archive.archive().join(".newsvault/store.sqlite")).unwrap();
    let dirty = conn
        .execute(
            "INSERT INTO post_pending (article_id) SELECT id FROM article WHERE post_name = ?1",
            [&names[0]],
        )
        .unwrap();
    assert_eq!(dirty, 1);
    drop(conn);

    let (code, out, err) = archive.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), whole, "{out}");
    assert_no_temp_files(&archive.posts());
}
