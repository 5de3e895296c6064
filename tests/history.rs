//! The archive's memory: versions, events, takedowns, `history`, import of existing archives.

mod common;

use std::path::{Path, PathBuf};

use common::{FeedServer, Reply, TempArchive, fixture};

/// One RSS item whose link is served by the test server too.
fn feed(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://example.com/</link>\n",
    );
    for (link, title, content) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><guid>{link}</guid>\
             <pubDate>Sat, 03 Apr 2021 10:00:00 GMT</pubDate><description><![CDATA[{content}]]></description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

fn read_post(archive: &TempArchive) -> (String, String) {
    let names = archive.post_names();
    assert_eq!(names.len(), 1, "{names:?}");
    let text = std::fs::read_to_string(archive.posts().join(&names[0])).unwrap();
    (names[0].clone(), text)
}

/// An archive of one source, S, following `/feed` of `server`, whose article pages (on the
/// same loopback server) `check` may fetch.
fn page_checking_archive(server: &FeedServer) -> TempArchive {
    TempArchive::new(
        &[("S", vec![server.url("/feed")])],
        "[fetch]\nattempts = 1\nallow_private_addresses = true\n",
    )
}

/// `run` at the moment `at`, which must succeed; what it printed.
fn run_at(archive: &TempArchive, at: &str) -> String {
    let (code, out, err) = archive.cli(&["run"], Some(at));
    assert_eq!(code, 0, "{out}{err}");
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn an_article_edited_twice_taken_down_and_back() {
    let server = FeedServer::start().await;
    let page = server.url("/page/a");
    server.set("/page/a", "<html>article</html>");
    server.set("/page/b", "<html>another</html>");
    let v1 = "<p>韩国支持北京举办冬奥。</p>";
    let v2 = "<p>韩国反对北京举办冬奥。</p>";
    let v3 = "<p>韩国反对北京举办夏奥。</p>";
    let archive = page_checking_archive(&server);
    let run = |at: &str| run_at(&archive, at);

    server.set("/feed", feed(&[(&page, "冬奥", v1)]));
    assert!(run("2024-06-01T00:00:00Z").contains("S: 1 new"));
    let (name, first) = read_post(&archive);
    assert!(
        !first.contains("versions:"),
        "an unedited post keeps the original format"
    );

    server.set("/feed", feed(&[(&page, "冬奥", v2)]));
    assert!(run("2024-06-01T01:00:00Z").contains("1 changed"));
    server.set("/feed", feed(&[(&page, "冬奥（更新）", v3)]));
    assert!(run("2024-06-01T02:00:00Z").contains("1 changed"));
    let (same_name, edited) = read_post(&archive);
    assert_eq!(same_name, name, "edits update the post in place");
    assert!(
        edited.contains("updated: 2024-06-01T02:00:00.000Z\nversions: 3\n---\n"),
        "{edited}"
    );
    assert!(edited.contains(v3));

    // The article leaves the feed, then its page disappears.
    server.set(
        "/feed",
        feed(&[(&server.url("/page/b"), "另一篇", "<p>b</p>")]),
    );
    run("2024-06-01T03:00:00Z");
    server.route("/page/a", |_, _| Reply::status(404));
    let (code, out, err) = archive.cli(&["check"], Some("2024-06-01T04:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 gone"), "{out}");
    let gone = std::fs::read_to_string(archive.posts().join(&name)).unwrap();
    assert!(gone.contains("gone: 2024-06-01T04:00:00.000Z\n"), "{gone}");

    // It comes back.
    server.set("/page/a", "<html>article</html>");
    server.set("/feed", feed(&[(&page, "冬奥（更新）", v3)]));
    run("2024-06-01T05:00:00Z");
    let (_, out, _) = archive.cli(&["check"], Some("2024-06-01T06:00:00Z"));
    assert!(out.contains("1 back"), "{out}");
    let back = std::fs::read_to_string(archive.posts().join(&name)).unwrap();
    assert!(!back.contains("gone:"), "{back}");

    let (code, history, err) = archive.cli(&["history", &page], None);
    assert_eq!(code, 0, "{err}");
    assert!(history.contains("3 version(s)"), "{history}");
    for event in [
        "first_seen",
        "changed",
        "left_feed",
        "gone",
        "back_in_feed",
        "back",
    ] {
        assert!(
            history.contains(&format!("  {event}")),
            "no {event} in\n{history}"
        );
    }
    assert!(
        history.contains(
            "v1  first seen 2024-06-01T00:00:00.000Z  last seen 2024-06-01T00:00:00.000Z"
        ),
        "{history}"
    );
    assert!(history.contains("韩国[-支持-]{+反对+}北京"), "{history}");
    assert!(history.contains("举办[-冬-]{+夏+}奥"), "{history}");
    let (_, diff, _) = archive.cli(&["history", &page, "--diff", "1", "3"], None);
    assert!(diff.contains("diff v1 -> v3"), "{diff}");
    let (code, _, err) = archive.cli(&["history", &page, "--diff", "1", "9"], None);
    assert_eq!(code, 1);
    assert!(err.contains("no version 9"), "{err}");
}

/// An item keeps its guid while its link changes (a slug edited with the title, a site moved):
/// the article follows it, so its post links the page that exists, and `check` fetches that page
/// and does not report a takedown when the old address stops answering.
#[tokio::test(flavor = "multi_thread")]
async fn an_article_whose_link_changes_follows_it_and_is_not_reported_gone() {
    let server = FeedServer::start().await;
    let (old, new) = (server.url("/page/old"), server.url("/page/new"));
    server.set("/page/old", "<html>article</html>");
    server.set("/page/new", "<html>article</html>");
    let item = |link: &str| {
        format!(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
             <link>https://example.com/</link><item><title>冬奥</title><link>{link}</link>\
             <guid isPermaLink=\"false\">g-1</guid>\
             <pubDate>Sat, 03 Apr 2021 10:00:00 GMT</pubDate>\
             <description>韩国支持北京举办冬奥。</description></item></channel></rss>"
        )
    };
    let archive = page_checking_archive(&server);
    let run = |at: &str| run_at(&archive, at);
    server.set("/feed", item(&old));
    assert!(run("2024-06-01T00:00:00Z").contains("S: 1 new"));
    let (name, first) = read_post(&archive);
    assert!(first.contains(&format!("from: {old}\n")), "{first}");

    server.set("/feed", item(&new));
    let out = run("2024-06-01T01:00:00Z");
    assert!(
        out.contains("S: 0 new, 0 changed, 1 already archived, 1 moved"),
        "{out}"
    );
    let (same_name, moved) = read_post(&archive);
    assert_eq!(same_name, name, "a move updates the post in place");
    assert!(moved.contains(&format!("from: {new}\n")), "{moved}");
    assert!(moved.contains(&format!("[冬奥]({new})\n")), "{moved}");
    assert!(
        !moved.contains("versions:"),
        "a move is no new version: {moved}"
    );
    // The same page again, with parameters of the feed's own: no move; nor back to the old
    // address (two feeds of a source that disagree would move it to and fro every run).
    server.set("/feed", item(&format!("{new}?utm_source=rss")));
    assert!(!run("2024-06-01T02:00:00Z").contains("moved"));
    server.set("/feed", item(&format!("{new}?session=8f2a")));
    assert!(!run("2024-06-01T02:10:00Z").contains("moved"));
    server.set("/feed", item(&old));
    assert!(!run("2024-06-01T02:30:00Z").contains("moved"));
    assert!(read_post(&archive).1.contains(&format!("from: {new}\n")));

    server.route("/page/old", |_, _| Reply::status(404));
    let (code, out, err) = archive.cli(&["check"], Some("2024-06-01T03:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 gone"), "{out}");
    let (code, history, err) = archive.cli(&["history", &new], None);
    assert_eq!(code, 0, "{err}");
    assert!(
        history.contains(&format!(
            "2024-06-01T01:00:00.000Z  moved  {old} -> {new}\n"
        )),
        "{history}"
    );
    // A link it had still finds it (a takedown request may quote the old address).
    let (code, by_old_link, err) = archive.cli(&["history", &old], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(by_old_link, history);
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn fixture_posts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/import/_posts")
}

/// An imported article may have other post files (the same article saved under two days): they
/// are copies of it, so `hide` takes them out of `_posts/` too — set aside in the store's folder,
/// where Jekyll does not look, not deleted — and `unhide` puts them back as they were.
#[test]
fn hide_sets_an_articles_other_post_files_aside_and_unhide_puts_them_back() {
    let archive = TempArchive::new(&[], "");
    copy_dir(&fixture_posts(), &archive.posts());
    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let post = archive.posts().join("2020-06-01-同一篇文章两个日子.md");
    let other = archive.posts().join("2020-06-02-同一篇文章两个日子.md");
    let other_bytes = std::fs::read(&other).unwrap();

    let (code, out, err) = archive.cli(
        &[
            "hide",
            "https://example.org/dup/1.html",
            "--reason",
            "takedown",
        ],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!post.exists());
    assert!(
        !other.exists(),
        "a copy of the hidden article stayed in _posts"
    );
    assert!(out.contains("2020-06-02-同一篇文章两个日子.md"), "{out}");

    let (code, out, err) = archive.cli(&["unhide", "https://example.org/dup/1.html"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(post.exists());
    assert_eq!(std::fs::read(&other).unwrap(), other_bytes);
}

#[test]
fn import_then_republish_writes_every_file_back_byte_for_byte() {
    let archive = TempArchive::new(&[], "");
    copy_dir(&fixture_posts(), &archive.posts());
    let originals = archive.dir.path().join("originals");
    copy_dir(&fixture_posts(), &originals);
    let total = std::fs::read_dir(&originals).unwrap().count();
    assert!(total >= 30);

    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("{} imported, 1 duplicate, 0 skipped", total - 1)),
        "{out}"
    );
    // Importing again (an interrupted import finished) adds nothing.
    let (_, again, _) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert!(
        again.contains(&format!("0 imported, {total} duplicate, 0 skipped")),
        "{again}"
    );

    // Rebuild every post from the store alone.
    std::fs::remove_dir_all(archive.posts()).unwrap();
    let (code, out, err) = archive.cli(&["republish"], None);
    assert_eq!(code, 0, "{out}{err}");
    let mut rebuilt = 0;
    for entry in std::fs::read_dir(&originals).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name();
        let path = archive.posts().join(&name);
        if name.to_string_lossy() == "2020-06-02-同一篇文章两个日子.md" {
            assert!(!path.exists(), "an alias is recorded, not written");
            continue;
        }
        let written = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            String::from_utf8(written).unwrap(),
            String::from_utf8(std::fs::read(entry.path()).unwrap()).unwrap(),
            "{}",
            name.to_string_lossy()
        );
        rebuilt += 1;
    }
    assert_eq!(rebuilt, total - 1);
    let search = std::fs::read_to_string(archive.archive().join("search.json")).unwrap();
    let items: serde_json::Value = serde_json::from_str(&search).unwrap();
    assert_eq!(items.as_array().unwrap().len(), total - 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn import_then_run_over_the_same_items_adds_nothing() {
    let server = FeedServer::start().await;
    server.set("/zaobao", fixture("golden/zaobao-realtime-china.xml"));
    let archive = TempArchive::new(&[("联合早报", vec![server.url("/zaobao")])], "");
    copy_dir(&fixture_posts(), &archive.posts());
    let (code, out, _) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}");
    let before = archive.snapshot();
    let (code, out, err) = archive.cli(&["run"], Some("2021-04-04T08:45:53.966Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("联合早报: 0 new, 0 changed, 1 already archived"),
        "{out}"
    );
    let after = archive.snapshot();
    let posts = |snap: &Vec<(PathBuf, Vec<u8>, std::time::SystemTime)>| {
        snap.iter()
            .filter(|(p, _, _)| p.starts_with(archive.posts()))
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(posts(&after), posts(&before), "no post written or touched");
}

/// An archive kept by a newsvault whose version hashes were SHA-256: after the upgrade the
/// same items are the same versions (no edit, no post touched), and their hashes are brought up
/// to date.
#[tokio::test(flavor = "multi_thread")]
async fn an_archive_hashed_with_sha256_sees_no_edit_after_the_upgrade() {
    let server = FeedServer::start().await;
    server.set(
        "/feed",
        common::rss(&[
            ("https://e.com/1", "一", "<p>第一段</p>\n  <p>第二段</p>"),
            ("https://e.com/2", "二", "<p>正文</p>"),
            ("https://e.com/3", "三 \"引号\"", ""),
        ]),
    );
    let archive = TempArchive::new(&[("S", vec![server.url("/feed")])], "");
    assert!(run_at(&archive, "2024-06-01T00:00:00Z").contains("S: 3 new"));

    // What the older newsvault stored: SHA-256 version hashes (of the title and the joined
    // content, which a verbatim source's body is), and a feed body's hash of its own kind.
    let db = rusqlite::Connection::open(archive.store()).unwrap();
    let articles: Vec<(i64, String, String, String)> = db
        .prepare("SELECT id, title, body, version_hash FROM article")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (id, title, body, hash) in &articles {
        let legacy = newsvault::content::legacy_version_hash(title, body);
        db.execute(
            "UPDATE version SET hash = ?3 WHERE article_id = ?1 AND hash = ?2",
            rusqlite::params![id, hash, legacy],
        )
        .unwrap();
        db.execute(
            "UPDATE article SET version_hash = ?2 WHERE id = ?1",
            rusqlite::params![id, legacy],
        )
        .unwrap();
    }
    db.execute("UPDATE feed SET body_hash = 'sha256-of-before'", [])
        .unwrap();
    drop(db);

    let before = archive.snapshot();
    let out = run_at(&archive, "2024-06-01T01:00:00Z");
    assert!(
        out.contains("S: 0 new, 0 changed, 3 already archived"),
        "{out}"
    );
    // No post, list page or search.json written: only the store changes.
    let outputs = |snap: &Vec<(PathBuf, Vec<u8>, std::time::SystemTime)>| {
        snap.iter()
            .filter(|(p, _, _)| !p.starts_with(archive.archive().join(".newsvault")))
            .cloned()
            .collect::<Vec<_>>()
    };
    let after = archive.snapshot();
    assert!(after.iter().any(|(p, _, _)| p.ends_with("search.json")));
    assert_eq!(outputs(&after), outputs(&before));
    let db = rusqlite::Connection::open(archive.store()).unwrap();
    let (versions, upgraded): (i64, i64) = db
        .query_row(
            "SELECT count(*), sum(v.hash = a.version_hash AND a.version_hash LIKE 'b3:%')
             FROM version v JOIN article a ON a.id = v.article_id",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((versions, upgraded), (3, 3));
}

#[test]
fn posts_that_cannot_be_read_are_named_and_skipped() {
    let archive = TempArchive::new(&[], "");
    std::fs::create_dir_all(archive.posts()).unwrap();
    std::fs::write(archive.posts().join("2020-01-01-ok.md"), "---\nlayout: post\ntitle: \"ok\"\ndate: 2020-01-01T00:00:00.000Z\nauthor: S\nfrom: https://e.com/1\ntags: [ S ]\ncategories: [ S ]\n---\n<!--1-->\n[ok](https://e.com/1)\n------\n\n<div>\n<p>x</p>\n</div>\n").unwrap();
    std::fs::write(
        archive.posts().join("2020-01-02-broken.md"),
        "no front matter at all",
    )
    .unwrap();
    std::fs::write(
        archive.posts().join("2020-01-03-binary.md"),
        [0xff, 0xfe, 0x00],
    )
    .unwrap();
    let (code, out, _) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("skipped 2020-01-02-broken.md: does not start with a `---` front-matter line"),
        "{out}"
    );
    assert!(
        out.contains("skipped 2020-01-03-binary.md: not UTF-8 text"),
        "{out}"
    );
    assert!(out.contains("1 imported, 0 duplicate, 2 skipped"), "{out}");
}

#[test]
fn hidden_articles_leave_every_output_and_come_back() {
    let archive = TempArchive::new(&[], "");
    copy_dir(&fixture_posts(), &archive.posts());
    archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    archive.cli(&["republish"], None);
    let golden = "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md";
    let (code, out, err) = archive.cli(
        &["hide", golden, "--reason", "takedown request"],
        Some("2024-01-01T00:00:00Z"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(!archive.posts().join(golden).exists());
    let search = std::fs::read_to_string(archive.archive().join("search.json")).unwrap();
    assert!(!search.contains("中韩外长会谈"));
    let list =
        std::fs::read_to_string(archive.archive().join("lists/联合早报.md")).unwrap_or_default();
    assert!(!list.contains("中韩外长会谈"));
    let (_, history, _) = archive.cli(&["history", golden], None);
    assert!(history.contains("hidden  takedown request"), "{history}");

    let (code, _, _) = archive.cli(&["unhide", golden], None);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(archive.posts().join(golden)).unwrap(),
        fixture(&format!("golden/{golden}"))
    );
    let search = std::fs::read_to_string(archive.archive().join("search.json")).unwrap();
    assert!(search.contains("中韩外长会谈"));
}

/// A link two sources share names two articles: `hide`, `unhide` and `history` refuse it and
/// list both (id and source) rather than act on one of them; an id picks one. `unhide` of an
/// article that is not hidden says so and records nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_link_of_several_articles_is_refused_with_their_ids_and_sources() {
    let server = FeedServer::start().await;
    let shared = "https://example.com/shared";
    server.set("/a", feed(&[(shared, "共享", "<p>a</p>")]));
    server.set("/b", feed(&[(shared, "共享", "<p>b</p>")]));
    let archive = TempArchive::new(
        &[("A", vec![server.url("/a")]), ("B", vec![server.url("/b")])],
        "[fetch]\nattempts = 1\nallow_private_addresses = true\n",
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(archive.post_names().len(), 2);

    // The articles' ids by source, as the refusals list them (the feeds are fetched in any order).
    let mut ids: Vec<(String, String)> = vec![];
    for command in [
        &["hide", shared, "--reason", "takedown request"][..],
        &["unhide", shared],
        &["history", shared],
    ] {
        let (code, out, err) = archive.cli(command, Some("2024-06-02T00:00:00Z"));
        assert_eq!(code, 1, "{command:?}: {out}{err}");
        let listed = err
            .trim_end()
            .strip_prefix(&format!("newsvault: {shared:?} names 2 articles: "))
            .and_then(|rest| rest.strip_suffix("; give one of these ids"))
            .unwrap_or_else(|| panic!("{command:?}: {err}"));
        let mut found: Vec<(String, String)> = listed
            .split(", ")
            .map(|one| {
                let (id, source) = one.split_once(" (source ").unwrap();
                (source.trim_end_matches(')').to_string(), id.to_string())
            })
            .collect();
        found.sort();
        assert_eq!(found.len(), 2, "{err}");
        assert_eq!((found[0].0.as_str(), found[1].0.as_str()), ("A", "B"));
        ids = found;
    }
    assert_eq!(archive.post_names().len(), 2, "nothing was hidden");
    let (a, b) = (ids[0].1.as_str(), ids[1].1.as_str());

    let names_before = archive.post_names();
    let (code, out, err) = archive.cli(
        &["hide", b, "--reason", "takedown request"],
        Some("2024-06-02T00:00:00Z"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim_end(),
        format!("article {b} hidden from every output")
    );
    assert_eq!(archive.post_names().len(), 1);
    // Hidden again: nothing to do, no second event, the first reason kept.
    let (code, out, err) = archive.cli(
        &["hide", b, "--reason", "another"],
        Some("2024-06-02T00:30:00Z"),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim_end(),
        format!("article {b} is hidden already; its lists and search.json are without it")
    );
    let (_, history, _) = archive.cli(&["history", b], None);
    assert_eq!(history.matches("  hidden").count(), 1, "{history}");
    assert!(!history.contains("another"), "{history}");
    // A post file an earlier `hide` could not remove (here: something in its place that is not
    // a file) is removed by the next `hide` once it can be, still without a second event.
    let left = archive.post_names();
    let hidden_name = names_before.iter().find(|n| !left.contains(n)).unwrap();
    let post = archive.posts().join(hidden_name);
    std::fs::create_dir_all(post.join("blocker")).unwrap();
    let (code, _, err) = archive.cli(&["hide", b, "--reason", "again"], None);
    assert_eq!(code, 1, "{err}");
    std::fs::remove_dir_all(&post).unwrap();
    std::fs::write(&post, "left over").unwrap();
    let (code, out, err) = archive.cli(&["hide", b, "--reason", "again"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(!post.exists());
    assert_eq!(
        out.trim_end(),
        format!("article {b} hidden from every output")
    );
    let (_, history, _) = archive.cli(&["history", b], None);
    assert_eq!(history.matches("  hidden").count(), 1, "{history}");

    let (code, out, err) = archive.cli(&["unhide", a], Some("2024-06-02T01:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        out.trim_end(),
        format!("article {a} is not hidden; its post is written")
    );
    let (_, history, _) = archive.cli(&["history", a], None);
    assert!(!history.contains("unhidden"), "{history}");

    let (code, out, err) = archive.cli(&["unhide", b], Some("2024-06-02T01:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out.trim_end(), format!("article {b} shown again"));
    assert_eq!(archive.post_names().len(), 2);
    let (_, history, _) = archive.cli(&["history", b], None);
    assert!(history.contains("  unhidden"), "{history}");
}

/// Every version keeps the feed's content byte for byte as the parser gives it (indentation,
/// CRLF, full-width spaces, blank lines), though the store keeps a `verbatim` text once: its
/// post joins the lines.
#[tokio::test(flavor = "multi_thread")]
async fn each_version_keeps_the_feeds_content_byte_for_byte() {
    let server = FeedServer::start().await;
    let page = "https://example.com/a";
    let v1 = "<div>\n    <p>\u{3000}\u{3000}第一段。</p>\r\n\n\t<p>第二段。 </p>\n</div>";
    let v2 = "<div>\n    <p>\u{3000}\u{3000}第一段，改。</p>\r\n\n\t<p>第二段。 </p>\n</div>";
    let archive = TempArchive::new(&[("S", vec![server.url("/feed")])], "");
    for (content, at) in [(v1, "2024-06-01T00:00:00Z"), (v2, "2024-06-01T01:00:00Z")] {
        server.set("/feed", feed(&[(page, "标题", content)]));
        let (code, out, err) = archive.cli(&["run"], Some(at));
        assert_eq!(code, 0, "{out}{err}");
    }
    let (_, post) = read_post(&archive);
    assert!(
        post.contains("\n<div><p>\u{3000}\u{3000}第一段，改。</p><p>第二段。 </p></div>\n"),
        "{post}"
    );

    let out = archive.dir.path().join("all.jsonl");
    let (code, _, err) = archive.cli(&["export", "jsonl", "--out", out.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let contents: Vec<String> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["content"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(contents, [v1, v2]);

    let store =
        rusqlite::Connection::open(archive.archive().join(".newsvault/store.sqlite")).unwrap();
    let stored: Vec<String> = store
        .prepare("SELECT content FROM version ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    // The first version keeps the body it had; the current one is the article's body.
    assert_eq!(
        stored,
        [
            "<div><p>\u{3000}\u{3000}第一段。</p><p>第二段。 </p></div>",
            ""
        ]
    );
}

#[test]
fn export_jsonl_streams_every_version() {
    let archive = TempArchive::new(&[], "");
    copy_dir(&fixture_posts(), &archive.posts());
    archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    let out = archive.dir.path().join("all.jsonl");
    let (code, _, err) = archive.cli(&["export", "jsonl", "--out", out.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&out).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 29);
    assert!(
        lines
            .iter()
            .any(|l| l["title"] == "中韩外长会谈 韩国支持北京举办冬奥")
    );
}

/// `import opml` names the file and the reason for anything that is not an OPML list, and never
/// panics (an unquoted non-ASCII value used to cut a character in two).
#[test]
fn import_opml_names_the_file_and_the_reason() {
    let archive = TempArchive::new(&[], "");
    let file = archive.dir.path().join("feeds.opml");
    std::fs::write(
        &file,
        r#"<opml><body><outline text="中文" xmlUrl=中文/></body></opml>"#,
    )
    .unwrap();
    let (code, out, err) = archive.cli(&["import", "opml", file.to_str().unwrap()], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "newsvault: {}: line 1, column 39: <outline>: an attribute value not in quotes",
            file.display()
        )
    );
    assert!(out.is_empty(), "{out}");
}

/// A post in the original format.
fn original_post(title: &str, link: &str) -> String {
    format!(
        "---\nlayout: post\ntitle: \"{title}\"\ndate: 2020-01-01T00:00:00.000Z\nauthor: S\nfrom: {link}\ntags: [ S ]\ncategories: [ S ]\n---\n<!--1577836800000-->\n[{title}]({link})\n------\n\n<div>\n<p>{title}</p>\n</div>\n"
    )
}

/// The import reads files on several threads and commits them in batches: over many batches,
/// the first file (by name) of each article is still its post, the later ones its aliases, and
/// the unreadable ones are reported in name order.
#[test]
fn a_large_import_keeps_name_order_across_threads_and_batches() {
    let archive = TempArchive::new(&[], "");
    std::fs::create_dir_all(archive.posts()).unwrap();
    let (mut posts, mut aliases, mut broken) = (vec![], vec![], vec![]);
    let mut link = 0;
    for i in 0..4_321 {
        let name = format!("2020-01-01-p{i:05}.md");
        if i % 1_000 == 7 {
            std::fs::write(archive.posts().join(&name), "no front matter").unwrap();
            broken.push(name);
            continue;
        }
        // Every 97th file is another name of the article before it.
        if i % 97 == 0 && i > 0 {
            aliases.push(name.clone());
        } else {
            link += 1;
            posts.push(name.clone());
        }
        let text = original_post(&format!("t{link}"), &format!("https://e.com/{link}"));
        std::fs::write(archive.posts().join(&name), text).unwrap();
    }
    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 2, "{out}{err}");
    let reported: Vec<&str> = out
        .lines()
        .filter_map(|l| l.strip_prefix("skipped ")?.split(':').next())
        .collect();
    assert_eq!(reported, broken);
    assert!(
        out.contains(&format!(
            "{} imported, {} duplicate, {} skipped",
            posts.len(),
            aliases.len(),
            broken.len()
        )),
        "{out}"
    );

    // The store is back on its write-ahead log (byte 18 of the header: 2), no journal left.
    let store = archive.archive().join(".newsvault/store.sqlite");
    assert_eq!(std::fs::read(&store).unwrap()[18], 2);
    assert!(
        !archive
            .archive()
            .join(".newsvault/store.sqlite-journal")
            .exists()
    );

    std::fs::remove_dir_all(archive.posts()).unwrap();
    let (code, out, err) = archive.cli(&["republish"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(archive.post_names(), posts);
}

/// With another connection on the store (`serve`, `status`), the import keeps the write-ahead
/// log and works as well.
#[test]
fn an_import_beside_a_reader_of_the_store() {
    let archive = TempArchive::new(&[], "");
    std::fs::create_dir_all(archive.posts()).unwrap();
    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let store = archive.archive().join(".newsvault/store.sqlite");
    let reader = rusqlite::Connection::open(&store).unwrap();
    let count = |c: &rusqlite::Connection| -> i64 {
        c.query_row("SELECT count(*) FROM article", [], |r| r.get(0))
            .unwrap()
    };
    assert_eq!(count(&reader), 0);
    for i in 0..120 {
        let text = original_post(&format!("t{i}"), &format!("https://e.com/{i}"));
        std::fs::write(archive.posts().join(format!("2020-01-01-{i:03}.md")), text).unwrap();
    }
    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("120 imported, 0 duplicate, 0 skipped"),
        "{out}"
    );
    assert_eq!(count(&reader), 120);
    let mode: String = reader
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// A source whose `id` changed leaves its old id in the store under the same name: `republish`
/// (and `hide`) rewrite every stored source's list, and the old one must not take the list page
/// of the source the config names.
#[tokio::test(flavor = "multi_thread")]
async fn republish_leaves_a_configured_sources_list_to_it() {
    let server = FeedServer::start().await;
    server.set(
        "/one",
        common::rss(&[("https://e.com/1", "旧的文章", "<p>一</p>")]),
    );
    server.set(
        "/two",
        common::rss(&[("https://e.com/2", "新的文章", "<p>二</p>")]),
    );
    let archive = TempArchive::new(&[], "");
    // The config names the source BBC under `id`, following `feed`.
    let config = |id: &str, feed: &str| {
        let text = format!(
            "archive = \"archive\"\n\
             [[source]]\nname = \"BBC\"\nid = {id:?}\nfeeds = [{:?}]\ncontent = \"verbatim\"\n",
            server.url(feed)
        );
        std::fs::write(&archive.config, text).unwrap();
    };
    let list = || std::fs::read_to_string(archive.archive().join("lists/BBC.md")).unwrap();
    config("zz-old", "/one");
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    config("bbc", "/two");
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    let after_run = list();
    assert!(
        after_run.contains("新的文章") && !after_run.contains("旧的文章"),
        "{after_run}"
    );

    let (code, out, err) = archive.cli(&["republish"], Some("2024-06-01T02:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        list(),
        after_run,
        "the configured source keeps its list page"
    );
    assert_eq!(
        archive.post_names().len(),
        2,
        "both sources' posts are written"
    );
}

/// A takedown that could not be finished (a list page it could not write) is finished by
/// `hide` given again, though the article is hidden already in the store; and a post `unhide`
/// could not write is named, exits 2, and is written by `unhide` given again. An empty reason is
/// refused before anything changes.
#[tokio::test(flavor = "multi_thread")]
async fn hide_and_unhide_given_again_finish_what_they_could_not() {
    let (_server, archive) = common::golden_archive().await;
    let golden = "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md";
    let list = archive.archive().join("lists/联合早报.md");
    let search = archive.archive().join("search.json");
    let title = "中韩外长会谈";
    assert!(std::fs::read_to_string(&list).unwrap().contains(title));

    let (code, out, err) = archive.cli(&["hide", "1", "--reason", "  "], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("--reason"), "{err}");
    assert_eq!(archive.post_names(), [golden]);

    // Something that is not a file where the list page goes: the takedown fails half-way.
    std::fs::remove_file(&list).unwrap();
    std::fs::create_dir_all(list.join("blocker")).unwrap();
    let (code, out, err) = archive.cli(&["hide", "1", "--reason", "takedown request"], None);
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("联合早报.md"), "{err}");
    std::fs::remove_dir_all(&list).unwrap();
    let (code, out, err) = archive.cli(&["hide", "1", "--reason", "takedown request"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("hidden already"), "{out}");
    assert!(!std::fs::read_to_string(&list).unwrap().contains(title));
    assert!(!std::fs::read_to_string(&search).unwrap().contains(title));
    assert!(archive.post_names().is_empty());

    // Something that is not a file where the post goes: shown again in the store, not on disk.
    std::fs::create_dir_all(archive.posts().join(golden).join("blocker")).unwrap();
    let (code, out, err) = archive.cli(&["unhide", "1"], None);
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        err.contains("could not write") && err.contains(golden),
        "{err}"
    );
    std::fs::remove_dir_all(archive.posts().join(golden)).unwrap();
    let (code, out, err) = archive.cli(&["unhide", "1"], None);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        std::fs::read(archive.posts().join(golden)).unwrap(),
        fixture(&format!("golden/{golden}"))
    );
    assert!(std::fs::read_to_string(&list).unwrap().contains(title));
}

/// Posts imported from a folder other than the archive's own `_posts/` (another archive's
/// checkout) are written into it, byte for byte, with the lists and search.json listing them,
/// so that the Jekyll tree shows what the store holds; imported again, nothing changes.
#[test]
fn posts_imported_from_another_folder_are_written_into_the_archive() {
    let archive = TempArchive::new(&[], "");
    let (code, out, err) = archive.cli(
        &["import", "jekyll", fixture_posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    let imported: usize = out
        .lines()
        .find_map(|line| line.strip_suffix(" skipped"))
        .and_then(|line| line.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{out}"));
    assert!(imported > 10, "{out}");
    let names = archive.post_names();
    assert_eq!(names.len(), imported, "{out}");
    assert!(
        out.contains(&format!("{imported} post(s) written to")),
        "{out}"
    );
    for name in &names {
        assert_eq!(
            std::fs::read(archive.posts().join(name)).unwrap(),
            std::fs::read(fixture_posts().join(name)).unwrap(),
            "{name} is not the imported file"
        );
    }
    let search = std::fs::read_to_string(archive.archive().join("search.json")).unwrap();
    let items: serde_json::Value = serde_json::from_str(&search).unwrap();
    assert_eq!(items.as_array().unwrap().len(), imported);

    let before = archive.snapshot();
    let (code, out, err) = archive.cli(
        &["import", "jekyll", fixture_posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 imported"), "{out}");
    assert_eq!(archive.snapshot(), before);
}

/// The archive's own posts imported into its own store are all known, those of items without a
/// link or guid too (known by a hash of the feed's text, which the post does not keep): the file
/// is that article's post already, so nothing is skipped and nothing changes.
#[tokio::test(flavor = "multi_thread")]
async fn an_archive_imported_into_its_own_store_is_all_duplicates() {
    let server = FeedServer::start().await;
    server.set(
        "/f.xml",
        "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title>\
         <link>https://example.com/</link>\
         <item><title>没有链接的条目</title><description>正文</description>\
         <pubDate>Sat, 01 Jun 2024 08:00:00 GMT</pubDate></item>\
         <item><title>有链接</title><link>https://example.com/1</link><description>正文</description>\
         <pubDate>Sat, 01 Jun 2024 09:00:00 GMT</pubDate></item>\
         </channel></rss>",
    );
    let archive = TempArchive::new(&[("甲报", vec![server.url("/f.xml")])], "");
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-02T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(archive.post_names().len(), 2);
    let before = archive.snapshot();
    let (code, out, err) = archive.cli(
        &["import", "jekyll", archive.posts().to_str().unwrap()],
        None,
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("0 imported, 2 duplicate, 0 skipped"), "{out}");
    assert_eq!(archive.snapshot(), before);
}

/// Importing from another folder never writes over a file of the archive's `_posts/` the
/// store does not know, and a different article under a file name the store holds is skipped
/// and said, not counted as the one the store holds.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_from_another_folder_leaves_other_files_and_articles_alone() {
    let (_server, archive) = common::golden_archive().await;
    let golden = "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md";
    let other = archive.dir.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    // Another article under the golden post's name: another link.
    let text = String::from_utf8(fixture(&format!("golden/{golden}"))).unwrap();
    let link = "https://www.zaobao.com/realtime/china/story20210404-1136538";
    let another = text.replace(link, "https://e.com/another");
    std::fs::write(other.join(golden), &another).unwrap();
    // And a post whose name is a file of the archive's own, unknown to the store.
    let mine = "2019-01-01-自由亚洲电台报道第0号：测试标题.md";
    std::fs::copy(fixture_posts().join(mine), other.join(mine)).unwrap();
    std::fs::write(archive.posts().join(mine), "my own post\n").unwrap();

    let golden_before = std::fs::read(archive.posts().join(golden)).unwrap();
    let (code, out, err) = archive.cli(&["import", "jekyll", other.to_str().unwrap()], None);
    assert_eq!(code, 2, "{out}{err}");
    assert!(out.contains("0 imported, 0 duplicate, 2 skipped"), "{out}");
    assert!(
        out.contains(&format!(
            "skipped {golden}: the store already holds another article"
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("skipped {mine}: ")) && out.contains("holds another file"),
        "{out}"
    );
    assert_eq!(
        std::fs::read_to_string(archive.posts().join(mine)).unwrap(),
        "my own post\n"
    );
    assert_eq!(
        std::fs::read(archive.posts().join(golden)).unwrap(),
        golden_before
    );
}
