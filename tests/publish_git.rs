//! `[publish.git]` through the real binary: commits in a temporary repository, pushes to a local
//! bare repository, a rejected push that needs a rebase, and no commit when nothing changed.
//!
//! Every repository lives in a temporary folder and git runs with no global or system config,
//! so the user's own git settings cannot change the outcome. The network is never used.

mod common;

use std::path::Path;
use std::process::Command;

use common::{FeedServer, TempArchive, rss};

const NOW: &str = "2021-04-04T08:45:53Z";

/// Runs git in `dir` with only the repository's own config; returns stdout, panics on failure.
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Makes `dir` a repository on branch main with an identity and one commit.
fn init_repo(dir: &Path) {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    identify(dir);
    std::fs::write(dir.join("README.md"), "an archive\n").unwrap();
    git(dir, &["add", "README.md"]);
    git(dir, &["commit", "--quiet", "-m", "start"]);
}

fn identify(dir: &Path) {
    git(dir, &["config", "user.name", "Tester"]);
    git(dir, &["config", "user.email", "tester@example.com"]);
}

fn commit_count(dir: &Path, rev: &str) -> usize {
    git(dir, &["rev-list", "--count", rev])
        .trim()
        .parse()
        .unwrap()
}

/// Runs `newsvault run` with git's global and system config out of the way.
fn run(config: &Path) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .arg("run")
        .arg("--config")
        .arg(config)
        .env("NEWSVAULT_NOW", NOW)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn items(n: usize) -> String {
    let owned: Vec<(String, String, String)> = (1..=n)
        .map(|i| {
            (
                format!("https://e.com/{i}"),
                format!("标题 {i}"),
                format!("<p>正文 {i}</p>"),
            )
        })
        .collect();
    let borrowed: Vec<(&str, &str, &str)> = owned
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    rss(&borrowed)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_commits_its_outputs_and_nothing_else_and_never_an_empty_commit() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(2));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "[publish.git]\n");
    let repo = archive.dir.path();
    let config = archive.config.clone();
    init_repo(repo);

    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("git: committed "), "{stdout}");
    assert_eq!(commit_count(repo, "HEAD"), 2);
    assert_eq!(
        git(repo, &["log", "-1", "--format=%s"]).trim(),
        "newsvault: 2 new, 0 changed posts"
    );
    let mut expected: Vec<String> = archive
        .post_names()
        .iter()
        .map(|name| format!("archive/_posts/{name}"))
        .collect();
    expected.push("archive/lists/甲.md".to_string());
    expected.push("archive/search.json".to_string());
    expected.sort();
    let mut got: Vec<String> = git(
        repo,
        &[
            "-c",
            "core.quotepath=off",
            "show",
            "--name-only",
            "--format=",
            "HEAD",
        ],
    )
    .lines()
    .map(str::to_string)
    .collect();
    got.sort();
    assert_eq!(got, expected);

    // Nothing new: no commit, and what the user staged stays staged and uncommitted.
    std::fs::write(repo.join("notes.txt"), "mine\n").unwrap();
    git(repo, &["add", "notes.txt"]);
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("git: nothing to commit"), "{stdout}");
    assert_eq!(commit_count(repo, "HEAD"), 2);
    assert_eq!(
        git(repo, &["diff", "--cached", "--name-only"]).trim(),
        "notes.txt"
    );

    // An edited article: one commit saying so.
    server.set(
        "/a.xml",
        rss(&[
            ("https://e.com/1", "标题 1", "<p>改过的正文</p>"),
            ("https://e.com/2", "标题 2", "<p>正文 2</p>"),
        ]),
    );
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(commit_count(repo, "HEAD"), 3);
    assert_eq!(
        git(repo, &["log", "-1", "--format=%s"]).trim(),
        "newsvault: 0 new, 1 changed posts"
    );
    assert_eq!(
        git(repo, &["diff", "--cached", "--name-only"]).trim(),
        "notes.txt"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_git_identity_newsvault_commits_as_itself() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(1));
    let archive = TempArchive::new(&[("甲", vec![server.url("/a.xml")])], "[publish.git]\n");
    let repo = archive.dir.path();
    let config = archive.config.clone();
    git(repo, &["init", "--quiet", "--initial-branch=main"]);
    // No identity, and none guessed from the host name either.
    git(repo, &["config", "user.useConfigOnly", "true"]);

    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        git(repo, &["log", "-1", "--format=%an <%ae>"]).trim(),
        "newsvault <newsvault@localhost>"
    );
}

/// A bare repository and a clone of it holding the archive; returns (bare, clone).
fn bare_and_clone(root: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let seed = root.join("seed");
    std::fs::create_dir_all(&seed).unwrap();
    init_repo(&seed);
    let bare = root.join("remote.git");
    git(
        root,
        &[
            "clone",
            "--quiet",
            "--bare",
            seed.to_str().unwrap(),
            "remote.git",
        ],
    );
    let clone = root.join("work");
    git(root, &["clone", "--quiet", bare.to_str().unwrap(), "work"]);
    identify(&clone);
    (bare, clone)
}

/// Writes a config into `clone` that archives `feed` into `clone/archive` and pushes.
fn config_in(clone: &Path, feed: &str) -> std::path::PathBuf {
    let config = clone.join("newsvault.toml");
    let text = format!(
        "archive = \"archive\"\n[publish.git]\npush = true\n\
         [[source]]\nname = \"甲\"\nfeeds = [{feed:?}]\ncontent = \"verbatim\"\n"
    );
    std::fs::write(&config, text).unwrap();
    config
}

#[tokio::test(flavor = "multi_thread")]
async fn a_run_pushes_to_a_bare_repository() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(2));
    let root = tempfile::tempdir().unwrap();
    let (bare, clone) = bare_and_clone(root.path());
    let config = config_in(&clone, &server.url("/a.xml"));

    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("pushed to origin main"), "{stdout}");
    assert_eq!(commit_count(&bare, "main"), 2);
    assert_eq!(
        git(&bare, &["rev-parse", "main"]),
        git(&clone, &["rev-parse", "HEAD"])
    );
    let files = git(
        &bare,
        &["ls-tree", "-r", "--name-only", "main", "archive/_posts"],
    );
    assert_eq!(files.lines().count(), 2, "{files}");

    // Nothing new: nothing committed, nothing pushed.
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(!stdout.contains("pushed"), "{stdout}");
    assert_eq!(commit_count(&bare, "main"), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_push_rejected_because_another_clone_pushed_first_is_rebased_and_retried() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(2));
    let root = tempfile::tempdir().unwrap();
    let (bare, clone) = bare_and_clone(root.path());
    let config = config_in(&clone, &server.url("/a.xml"));

    // Someone else pushes first.
    let other = root.path().join("other");
    git(
        root.path(),
        &["clone", "--quiet", bare.to_str().unwrap(), "other"],
    );
    identify(&other);
    std::fs::write(other.join("README.md"), "an archive, edited elsewhere\n").unwrap();
    git(&other, &["commit", "--quiet", "-am", "edit the readme"]);
    git(&other, &["push", "--quiet", "origin", "main"]);
    let theirs = git(&other, &["rev-parse", "HEAD"]);

    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("pushed to origin main after 1 rebase"),
        "{stdout}"
    );
    // Linear history: start, their edit, newsvault's commit on top.
    assert_eq!(commit_count(&bare, "main"), 3);
    assert_eq!(git(&bare, &["rev-parse", "main^"]), theirs);
    assert_eq!(
        git(&bare, &["log", "-1", "--format=%s", "main"]).trim(),
        "newsvault: 2 new, 0 changed posts"
    );
    assert_eq!(
        git(&bare, &["show", "main:README.md"]),
        "an archive, edited elsewhere\n"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_push_is_an_error_and_the_next_run_pushes_what_is_left() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(1));
    let root = tempfile::tempdir().unwrap();
    let (bare, clone) = bare_and_clone(root.path());
    let config = config_in(&clone, &server.url("/a.xml"));

    // The remote is unreachable for this run.
    let away = root.path().join("away.git");
    std::fs::rename(&bare, &away).unwrap();
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(stderr.contains("publishing to git"), "{stderr}");
    assert_eq!(
        commit_count(&clone, "HEAD"),
        2,
        "the commit is kept locally"
    );

    // Back again, and nothing new: the commit left behind is pushed.
    std::fs::rename(&away, &bare).unwrap();
    let (code, stdout, stderr) = run(&config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("git: nothing to commit, pushed"),
        "{stdout}"
    );
    assert_eq!(commit_count(&bare, "main"), 2);
}

/// Downloaded images are outputs too: a post that points at `/assets/images/…` must not be
/// committed without the picture it shows.
#[tokio::test(flavor = "multi_thread")]
async fn downloaded_images_are_committed_with_their_posts() {
    let server = FeedServer::start().await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x10\0\0\0\x10\x08\x02\0\0\0\x90\x91h6".to_vec();
    server.route("/img/a.png", move |_, _| {
        common::Reply::ok(png.clone()).header("Content-Type", "image/png")
    });
    let image = server.url("/img/a.png");
    server.set(
        "/a.xml",
        rss(&[(
            "https://e.com/1",
            "图",
            &format!("<p>1</p><img src=\"{image}\">"),
        )]),
    );
    let archive = TempArchive::new(
        &[("甲", vec![server.url("/a.xml")])],
        "[fetch]\nattempts = 1\nallow_private_addresses = true\n[publish.git]\n",
    );
    let text = std::fs::read_to_string(&archive.config)
        .unwrap()
        .replace("content = \"verbatim\"", "");
    std::fs::write(&archive.config, format!("{text}images = \"download\"\n")).unwrap();
    let repo = archive.dir.path();
    init_repo(repo);

    let (code, stdout, stderr) = run(&archive.config);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 image(s) saved"), "{stdout}");
    let committed = git(repo, &["show", "--name-only", "--format=", "HEAD"]);
    assert!(
        committed
            .lines()
            .any(|path| path.starts_with("archive/assets/images/") && path.ends_with(".png")),
        "{committed}"
    );
    assert_eq!(
        git(repo, &["status", "--porcelain", "--", "archive/assets"]),
        ""
    );
}
