//! What the commands do with the files around them, through the real binary: an export never
//! writes over the store and never leaves half a file where a whole one was; a command that does
//! not fill a store never creates one (nor the archive's folder), nor does an import of a folder
//! that is not there; a reader that closes stdout early ends the printing quietly and nothing
//! else (a run still archives); a time window too long to count is refused, naming it; what goes
//! to a file or a pipe holds no terminal colours; a mistyped command line exits 1, not 2.

mod common;

use std::io::Read;
use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{FeedServer, TempArchive, assert_no_temp_files, golden_archive, rss};

/// `path` with `suffix` appended to its file name (`store.sqlite` → `store.sqlite-wal`).
fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The store, under other names: the same path spelled differently, a symbolic link, a hard link.
fn other_names_of(archive: &TempArchive) -> Vec<PathBuf> {
    let store = archive.store();
    let symlink = archive.dir.path().join("symlink.sqlite");
    std::os::unix::fs::symlink(&store, &symlink).unwrap();
    let hard_link = archive.dir.path().join("hard-link.sqlite");
    std::fs::hard_link(&store, &hard_link).unwrap();
    vec![
        archive
            .archive()
            .join("_posts/../.newsvault/./store.sqlite"),
        symlink,
        hard_link,
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn export_refuses_to_write_over_the_store_or_its_companions() {
    let (_server, archive) = golden_archive().await;
    let store = archive.store();
    let before = std::fs::read(&store).unwrap();
    let mut targets = vec![store.clone()];
    targets.extend(other_names_of(&archive));
    let companions: Vec<PathBuf> = ["-wal", "-shm", "-journal"]
        .iter()
        .map(|suffix| with_suffix(&store, suffix))
        .collect();
    targets.extend(companions.iter().cloned());

    let refused = |targets: &[PathBuf]| {
        for out in targets {
            for what in ["jsonl", "opml"] {
                let (code, stdout, stderr) =
                    archive.cli(&["export", what, "--out", out.to_str().unwrap()], None);
                assert_eq!(
                    code,
                    1,
                    "export {what} --out {}: {stdout}{stderr}",
                    out.display()
                );
                assert_eq!(stderr.lines().count(), 1, "{stderr}");
                assert!(
                    stderr.contains(&out.display().to_string()) && stderr.contains("store"),
                    "the error names neither the file nor why: {stderr}"
                );
                assert_eq!(
                    std::fs::read(&store).unwrap(),
                    before,
                    "export {what} --out {} changed the store",
                    out.display()
                );
            }
        }
    };
    // The write-ahead log and shared-memory files exist only while the store is open: refused
    // by their paths when absent, and by their identity while another process has the store open.
    refused(&targets);
    let reader = rusqlite::Connection::open(&store).unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM article", [], |r| r.get(0))
        .unwrap();
    assert!(companions[0].exists() && companions[1].exists());
    refused(&targets);
    drop(reader);
    assert_no_temp_files(archive.dir.path());
}

/// A backup onto the store while a run writes would put a vacuumed copy under the run's log
/// (whose pages then land in the wrong places): refused, as onto any of the store's files.
#[tokio::test(flavor = "multi_thread")]
async fn backup_refuses_to_write_over_the_store_or_its_companions() {
    let (_server, archive) = golden_archive().await;
    let store = archive.store();
    let before = std::fs::read(&store).unwrap();
    let mut targets = vec![store.clone()];
    targets.extend(other_names_of(&archive));
    targets.extend(["-wal", "-shm", "-journal"].map(|suffix| with_suffix(&store, suffix)));
    for out in &targets {
        let existed = out.exists();
        let (code, stdout, stderr) = archive.cli(&["backup", out.to_str().unwrap()], None);
        assert_eq!(code, 1, "backup {}: {stdout}{stderr}", out.display());
        assert!(
            stderr.contains(&out.display().to_string()) && stderr.contains("store"),
            "{stderr}"
        );
        assert_eq!(out.exists(), existed, "backup wrote {}", out.display());
        assert_eq!(std::fs::read(&store).unwrap(), before);
    }
    assert_no_temp_files(archive.dir.path());
    let copy = archive.dir.path().join("copy.sqlite");
    let (code, stdout, stderr) = archive.cli(&["backup", copy.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_export_leaves_the_file_it_had_and_a_finished_one_replaces_it() {
    let (_server, archive) = golden_archive().await;
    let jsonl = archive.dir.path().join("export.jsonl");
    let opml = archive.dir.path().join("export.opml");
    std::fs::write(&jsonl, "the last export\n").unwrap();
    std::fs::write(&opml, "the last list\n").unwrap();

    // A version whose title is not text: the export fails on it.
    let conn = rusqlite::Connection::open(archive.store()).unwrap();
    let title: String = conn
        .query_row(
            "SELECT title FROM version WHERE id = (SELECT max(id) FROM version)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    conn.execute(
        "UPDATE version SET title = CAST(x'ff' AS BLOB) WHERE id = (SELECT max(id) FROM version)",
        [],
    )
    .unwrap();
    let (code, stdout, stderr) =
        archive.cli(&["export", "jsonl", "--out", jsonl.to_str().unwrap()], None);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read_to_string(&jsonl).unwrap(),
        "the last export\n"
    );
    assert_no_temp_files(archive.dir.path());

    conn.execute(
        "UPDATE version SET title = ?1 WHERE id = (SELECT max(id) FROM version)",
        [&title],
    )
    .unwrap();
    drop(conn);
    let (code, printed, stderr) = archive.cli(&["export", "jsonl"], None);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        archive.cli(&["export", "jsonl", "--out", jsonl.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(printed.ends_with("}\n"), "{printed}");
    assert_eq!(std::fs::read_to_string(&jsonl).unwrap(), printed);

    let (code, printed, stderr) = archive.cli(&["export", "opml"], None);
    assert_eq!(code, 0, "{stderr}");
    let (code, stdout, stderr) =
        archive.cli(&["export", "opml", "--out", opml.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(printed.contains("xmlUrl="), "{printed}");
    assert_eq!(std::fs::read_to_string(&opml).unwrap(), printed);
    assert_no_temp_files(archive.dir.path());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_into_a_fifo_is_written_in_place() {
    let (_server, archive) = golden_archive().await;
    let fifo = archive.dir.path().join("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut text = String::new();
            std::fs::File::open(&fifo)
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            text
        })
    };
    let (code, stdout, stderr) =
        archive.cli(&["export", "jsonl", "--out", fifo.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let text = reader.join().unwrap();
    assert!(
        text.starts_with("{\"article_id\":1,") && text.ends_with("}\n"),
        "{text}"
    );
    assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    assert_no_temp_files(archive.dir.path());
}

/// Runs `newsvault serve` on `archive`; its exit code, or `None` if it still runs after `limit`.
fn serve_exit(archive: &TempArchive, limit: Duration) -> (Option<i32>, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&archive.config)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            let mut stderr = String::new();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut stderr)
                .unwrap();
            return (status.code(), stderr);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    (None, String::new())
}

#[test]
fn commands_that_do_not_fill_a_store_never_create_one() {
    let archive = TempArchive::new(&[("甲", vec!["http://127.0.0.1:9/a.xml".into()])], "");
    let store = archive.store();
    let out = archive.dir.path().join("out.jsonl");
    let site = archive.dir.path().join("site");
    let copy = archive.dir.path().join("copy.sqlite");
    let (out_arg, site_arg, copy_arg) = (
        out.to_str().unwrap(),
        site.to_str().unwrap(),
        copy.to_str().unwrap(),
    );
    for args in [
        &["history", "1"][..],
        &["export", "jsonl"],
        &["export", "jsonl", "--out", out_arg],
        &["search", "冬奥"],
        &["build"],
        &["build", "--out", site_arg],
        &["check"],
        &["hide", "1", "--reason", "a takedown"],
        &["unhide", "1"],
        &["reprocess"],
        &["republish"],
        &["backup", copy_arg],
    ] {
        let (code, stdout, stderr) = archive.cli(args, None);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(&format!("no store at {}", store.display())),
            "{args:?}: {stderr}"
        );
        assert!(
            !archive.archive().exists(),
            "{args:?} created {}",
            archive.archive().display()
        );
        for file in [&out, &site, &copy] {
            assert!(!file.exists(), "{args:?} wrote {}", file.display());
        }
    }
    let (code, stderr) = serve_exit(&archive, Duration::from_secs(30));
    assert_eq!(code, Some(1), "serve without a store: {stderr}");
    assert!(
        stderr.contains(&format!("no store at {}", store.display())),
        "{stderr}"
    );
    // What needs no store still works without one, and creates nothing either.
    let (code, stdout, stderr) = archive.cli(&["status"], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("never tried"), "{stdout}");
    let (code, stdout, stderr) = archive.cli(&["export", "opml"], None);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!archive.archive().exists());
    // `import jekyll` fills a store, but not from a folder that is not there: a mistyped path
    // is named, and neither the archive's folder nor its store is made.
    let missing = archive.dir.path().join("no-such-posts");
    let (code, stdout, stderr) =
        archive.cli(&["import", "jekyll", missing.to_str().unwrap()], None);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("no-such-posts"), "{stderr}");
    assert!(!archive.archive().exists(), "{stdout}{stderr}");
}

/// What the binary's standard output is, for [`cli_with_stdout`].
#[derive(Debug, Clone, Copy)]
enum Stdout {
    /// A pipe whose reader has gone before anything is printed (`newsvault … | head -1` where
    /// head has quit).
    ClosedPipe,
    /// `/dev/full`: every write fails with "No space left on device".
    Full,
}

/// Runs the binary on `archive` with `stdout` as its standard output; returns the exit code and
/// stderr.
fn cli_with_stdout(archive: &TempArchive, args: &[&str], stdout: Stdout) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_newsvault"));
    command
        .args(args)
        .arg("--config")
        .arg(&archive.config)
        .env("NEWSVAULT_NOW", common::GOLDEN_NOW)
        .stderr(Stdio::piped());
    match stdout {
        Stdout::ClosedPipe => command.stdout(Stdio::piped()),
        Stdout::Full => command.stdout(std::fs::File::create("/dev/full").unwrap()),
    };
    let mut child = command.spawn().unwrap();
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_ended_quietly(args: &[&str], (code, stderr): (Option<i32>, String)) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
        "{args:?}: {stderr}"
    );
    assert_eq!(code, Some(0), "{args:?}: {stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_closed_stdout_ends_the_printing_quietly() {
    let (_server, archive) = golden_archive().await;
    let feed = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/zaobao-realtime-china.xml");
    let page = archive.dir.path().join("page.html");
    std::fs::write(
        &page,
        "<html><head><title>页</title></head><body><article><p>正文一段。</p></article></body></html>",
    )
    .unwrap();
    let opml = archive.dir.path().join("sources.opml");
    let (code, _, stderr) = archive.cli(&["export", "opml", "--out", opml.to_str().unwrap()], None);
    assert_eq!(code, 0, "{stderr}");
    let copy = archive.dir.path().join("copy.sqlite");
    for args in [
        &["search", "韩国"][..],
        &["search", "韩国", "--json"],
        &["inspect", feed.to_str().unwrap()],
        &["history", "1"],
        &["status"],
        &["status", "--json"],
        &["extract", page.to_str().unwrap(), "--selector", "article"],
        &[
            "extract",
            page.to_str().unwrap(),
            "--selector",
            "article",
            "--json",
        ],
        &["export", "jsonl"],
        &["export", "opml"],
        &["import", "opml", opml.to_str().unwrap()],
        &["backup", copy.to_str().unwrap()],
        &["build"],
        &["republish"],
    ] {
        assert_ended_quietly(args, cli_with_stdout(&archive, args, Stdout::ClosedPipe));
    }
    assert!(copy.exists(), "backup stopped with the printing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_whose_stdout_is_closed_still_archives_everything() {
    let server = FeedServer::start().await;
    server.set("/a.xml", common::numbered_rss(1..=30));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "");
    assert_ended_quietly(
        &["run"],
        cli_with_stdout(&archive, &["run"], Stdout::ClosedPipe),
    );
    assert_eq!(archive.post_names().len(), 30);
    let (code, stdout, stderr) = archive.cli(&["run"], Some(common::GOLDEN_NOW));
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("甲: 0 new, 0 changed"), "{stdout}");
    assert_eq!(archive.post_names().len(), 30);
}

/// Another failure to write stdout than its reader leaving is an error naming it, except for a
/// run, which archives all the same and logs it.
#[tokio::test(flavor = "multi_thread")]
async fn a_full_stdout_is_an_error_naming_it_but_does_not_stop_a_run() {
    let server = FeedServer::start().await;
    server.set("/a.xml", rss(&[("https://e.com/1", "韩国", "<p>正文</p>")]));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "");
    let (code, stderr) = cli_with_stdout(&archive, &["run"], Stdout::Full);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stderr.contains("cannot write to standard output"),
        "{stderr}"
    );
    assert_eq!(archive.post_names().len(), 1);
    for args in [
        &["search", "韩国"][..],
        &["export", "jsonl"],
        &["history", "1"],
    ] {
        let (code, stderr) = cli_with_stdout(&archive, args, Stdout::Full);
        assert_eq!(code, Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains("cannot write to standard output: No space left on device")
                && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_window_too_long_to_count_is_refused_naming_it() {
    let (_server, archive) = golden_archive().await;
    for args in [
        &["check", "--since", "20000000000w"][..],
        &["search", "韩国", "--since", "20000000000w"],
        &["search", "韩国", "--since", "1000000000000000000d"],
    ] {
        let (code, stdout, stderr) = archive.cli(args, None);
        assert_eq!(code, 1, "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(args[args.len() - 1]) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
}

/// `import opml` prints a config that loads and says on stderr what it left out or renamed;
/// stderr that is not a terminal (a cron job's log, a pipe) gets the words without colour codes.
#[test]
fn import_opml_notes_go_to_stderr_without_colour_codes() {
    let archive = TempArchive::new(&[], "");
    let file = archive.dir.path().join("feeds.opml");
    std::fs::write(
        &file,
        r#"<opml><body><outline text="BBC" xmlUrl="https://a.com/1"/><outline text="bbc" xmlUrl="https://b.com/1"/><outline text="G" xmlUrl="gopher://g.com/"/></body></opml>"#,
    )
    .unwrap();
    let (code, out, err) = archive.cli(&["import", "opml", file.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert!(err.contains(r#"source "bbc" named "bbc 2""#), "{err}");
    assert!(err.contains(r#"source "G" left out"#), "{err}");
    // What stdout holds loads as the sources of a config.
    std::fs::write(&archive.config, format!("archive = \"a\"\n{out}")).unwrap();
    let (code, listed, err) = archive.cli(&["export", "opml"], None);
    assert_eq!(code, 0, "{err}");
    assert!(listed.contains("bbc 2"), "{listed}");
}

/// Exit code 2 means "some feeds failed" (and, for `status --check`, "a source is flagged"): a
/// mistyped command line is a fatal error like any other and exits 1, naming what was wrong;
/// asking for help or the version is no error at all.
#[test]
fn a_mistyped_command_line_exits_1_not_the_code_of_failed_feeds() {
    let newsvault = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_newsvault"))
            .args(args)
            .env_remove("NEWSVAULT_CONFIG")
            .output()
            .unwrap();
        (
            output.status.code(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    for (args, named) in [
        (&["run", "--bogus"][..], "--bogus"),
        (&["status", "--chek"], "--chek"),
        (&["archive"], "archive"),
        (&[], "Usage"),
    ] {
        let (code, stdout, stderr) = newsvault(args);
        assert_eq!(code, Some(1), "{args:?}: {stdout}{stderr}");
        assert!(
            stderr.contains(named),
            "{args:?} does not name {named}: {stderr}"
        );
        assert!(stdout.is_empty(), "{args:?} printed to stdout: {stdout}");
    }
    for args in [&["--help"][..], &["run", "--help"], &["--version"]] {
        let (code, stdout, stderr) = newsvault(args);
        assert_eq!(code, Some(0), "{args:?}: {stdout}{stderr}");
        assert!(
            !stdout.is_empty() && stderr.is_empty(),
            "{args:?}: {stderr}"
        );
    }
}
