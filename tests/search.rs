//! Search, end to end: `run` keeps the index current (no separate step), `search` finds Chinese
//! words inside longer phrases, keeps traditional and simplified apart, ignores Latin case, and
//! filters by source and date. The index is rebuilt from the store when it does not open, is
//! written by one process at a time while others wait, and follows imported posts.

mod common;

use common::{FeedServer, TempArchive, golden_archive, rss};

/// Titles of the results of `search QUERY [extra…] --json`.
fn titles(archive: &TempArchive, query: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec!["search", query, "--json"];
    args.extend_from_slice(extra);
    let (code, out, err) = archive.cli(&args, Some("2024-06-02T00:00:00Z"));
    assert_eq!(code, 0, "search {query:?}: {err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    json["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["title"].as_str().unwrap().to_string())
        .collect()
}

async fn archive_of_three_scripts() -> (FeedServer, TempArchive) {
    archive_of_three_scripts_with("").await
}

/// [`archive_of_three_scripts`] with `extra` at the top of its config.
async fn archive_of_three_scripts_with(extra: &str) -> (FeedServer, TempArchive) {
    let server = FeedServer::start().await;
    server.set(
        "/zh",
        rss(&[
            (
                "https://e.com/s",
                "简体",
                "<p>北京举办冬奥会的准备工作顺利</p>",
            ),
            (
                "https://e.com/t",
                "繁體",
                "<p>北京舉辦冬奧會的準備工作順利</p>",
            ),
        ]),
    );
    server.set(
        "/en",
        rss(&[(
            "https://e.com/e",
            "Latin",
            "<p>The Winter OLYMPICS in Beijing</p>",
        )]),
    );
    let archive = TempArchive::new(
        &[
            ("中文", vec![server.url("/zh")]),
            ("English", vec![server.url("/en")]),
        ],
        extra,
    );
    let (code, _, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    (server, archive)
}

#[tokio::test(flavor = "multi_thread")]
async fn run_keeps_the_index_current_and_search_finds_the_golden_article() {
    let (_server, archive) = golden_archive().await;
    assert!(
        archive
            .archive()
            .join(".newsvault/index/meta.json")
            .exists()
    );

    let (code, out, err) = archive.cli(&["search", "冬奥 韩国"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("中韩外长会谈 韩国支持北京举办冬奥"), "{out}");
    assert!(
        out.contains("[冬奥]") || out.contains("[韩国]"),
        "highlight: {out}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&archive.cli(&["search", "冬奥", "--json"], None).1).unwrap();
    let hit = &json["hits"][0];
    assert_eq!(hit["source"], "联合早报");
    let marked: Vec<&str> = hit["snippet"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["hit"] == true)
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert_eq!(marked.first(), Some(&"冬奥"), "{hit}");
}

/// Quotes and punctuation in a query do not keep its words from being marked: each word's runs
/// of letters, digits and CJK characters are.
#[tokio::test(flavor = "multi_thread")]
async fn quoted_and_punctuated_queries_mark_their_words() {
    let (_server, archive) = golden_archive().await;
    for query in ["\"冬奥\"", "《冬奥》 “韩国”", "冬奥！"] {
        let (code, out, err) = archive.cli(&["search", query], None);
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("中韩外长会谈"), "{query}: {out}");
        assert!(out.contains("[冬奥]"), "{query}: highlight: {out}");
        let json: serde_json::Value =
            serde_json::from_str(&archive.cli(&["search", query, "--json"], None).1).unwrap();
        let snippet = json["hits"][0]["snippet"].as_array().unwrap();
        let marked: Vec<&str> = snippet
            .iter()
            .filter(|p| p["hit"] == true)
            .map(|p| p["text"].as_str().unwrap())
            .collect();
        assert!(marked.contains(&"冬奥"), "{query}: {snippet:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_two_character_word_inside_a_longer_phrase_is_found() {
    let (_server, archive) = archive_of_three_scripts().await;
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);
    assert_eq!(titles(&archive, "举办", &[]), ["简体"]);
    assert_eq!(titles(&archive, "准备", &[]), ["简体"]);
    assert_eq!(titles(&archive, "北京举办冬奥会", &[]), ["简体"]);
    // Every word must occur.
    assert!(titles(&archive, "冬奥 夏奥", &[]).is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn traditional_and_simplified_each_find_their_own_text() {
    let (_server, archive) = archive_of_three_scripts().await;
    assert_eq!(titles(&archive, "冬奧", &[]), ["繁體"]);
    assert_eq!(titles(&archive, "舉辦", &[]), ["繁體"]);
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);
    // Characters the two scripts share find both.
    let mut both = titles(&archive, "北京", &[]);
    both.sort();
    assert_eq!(both, ["简体", "繁體"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn latin_words_are_case_insensitive() {
    let (_server, archive) = archive_of_three_scripts().await;
    for query in ["olympics", "Olympics", "OLYMPICS", "winter BEIJING"] {
        assert_eq!(titles(&archive, query, &[]), ["Latin"], "{query}");
    }
    assert!(titles(&archive, "olympic", &[]).is_empty(), "whole words");
}

/// Full-width letters and digits (ＣＯＶＩＤ, ２０２２, common in Chinese news) are their ASCII
/// forms, in the text and in the query, and are highlighted so.
#[tokio::test(flavor = "multi_thread")]
async fn full_width_letters_and_digits_find_their_ascii_forms_and_back() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[
            (
                "https://e.com/w",
                "宽",
                "<p>ＣＯＶＩＤ疫苗与Ｏｌｙｍｐｉｃｓ　２０２２</p>",
            ),
            ("https://e.com/n", "窄", "<p>COVID疫苗与Olympics 2022</p>"),
        ]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let (code, _, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    for query in [
        "covid",
        "ＣＯＶＩＤ",
        "Ｃｏｖｉｄ疫苗",
        "olympics 2022",
        "２０２２",
    ] {
        let mut found = titles(&archive, query, &[]);
        found.sort();
        assert_eq!(found, ["宽", "窄"], "{query}");
    }
    let (code, out, err) = archive.cli(&["search", "covid"], Some("2024-06-02T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("[ＣＯＶＩＤ]") && out.contains("[COVID]"),
        "{out}"
    );
}

/// A word is found within the title or a line of the text, never across the title's end or
/// two paragraphs (as in the static search).
#[tokio::test(flavor = "multi_thread")]
async fn no_word_is_found_across_the_title_and_text_or_two_paragraphs() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[(
            "https://e.com/1",
            "外长谈冬奥",
            "<p>韩国支持</p><p>香港</p><p>澳门</p>",
        )]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let (code, _, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    for query in ["奥韩", "冬奥韩国", "港澳", "香港澳门"] {
        assert!(titles(&archive, query, &[]).is_empty(), "{query}");
    }
    for query in ["谈冬奥", "韩国支持", "香港 澳门"] {
        assert_eq!(titles(&archive, query, &[]), ["外长谈冬奥"], "{query}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_and_bad_queries() {
    let (_server, archive) = archive_of_three_scripts().await;
    assert_eq!(
        titles(&archive, "winter", &["--source", "English"]),
        ["Latin"]
    );
    assert!(titles(&archive, "winter", &["--source", "中文"]).is_empty());
    assert!(titles(&archive, "北京", &["--since", "2030-01-01"]).is_empty());
    assert_eq!(
        titles(&archive, "北京", &["--since", "2021-04-01"]).len(),
        2
    );
    let (code, _, err) = archive.cli(&["search", "，。！"], None);
    assert_eq!(code, 1);
    assert!(err.contains("no word to search for"), "{err}");
    // A source the archive does not know is named, not answered with nothing; nor is a limit of
    // no results.
    let (code, _, err) = archive.cli(&["search", "winter", "--source", "Englsh"], None);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("\"Englsh\"") && err.contains("English"),
        "{err}"
    );
    let (code, _, err) = archive.cli(&["search", "winter", "--limit", "0"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("--limit"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_articles_leave_the_index_at_once() {
    let (_server, archive) = archive_of_three_scripts().await;
    let (code, _, err) = archive.cli(&["hide", "https://e.com/s", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    assert!(titles(&archive, "冬奥", &[]).is_empty());
    assert_eq!(archive.cli(&["unhide", "https://e.com/s"], None).0, 0);
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);
}

/// An edited article is found by its new text, once, and no longer by the text it lost.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_article_replaces_its_old_text_in_the_index() {
    let (server, archive) = archive_of_three_scripts().await;
    server.set(
        "/en",
        rss(&[(
            "https://e.com/e",
            "Latin",
            "<p>The Summer Games in Paris</p>",
        )]),
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("English: 0 new, 1 changed"), "{out}");
    assert_eq!(titles(&archive, "paris", &[]), ["Latin"]);
    assert!(titles(&archive, "olympics", &[]).is_empty());
}

/// Hits that score the same come newest first, then by article id: the same order however the
/// index's documents fell into segments (here one segment per run).
#[tokio::test(flavor = "multi_thread")]
async fn equal_scores_come_newest_first_whatever_the_segments() {
    let server = FeedServer::start().await;
    let archive = TempArchive::new(&[("S", vec![server.url("/feed")])], "");
    let mut items = vec![];
    for run in 0..4 {
        for i in 0..2 {
            items.push(format!("https://e.com/{run}-{i}"));
        }
        let feed: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|link| (link.as_str(), "同一标题", "<p>同样的正文</p>"))
            .collect();
        server.set("/feed", rss(&feed));
        let at = format!("2024-06-01T0{run}:00:00Z");
        let (code, out, err) = archive.cli(&["run"], Some(&at));
        assert_eq!(code, 0, "{out}{err}");
    }
    let (code, out, err) = archive.cli(&["search", "正文", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    let hits = json["hits"].as_array().unwrap();
    let ids: Vec<i64> = hits.iter().map(|h| h["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, [8, 7, 6, 5, 4, 3, 2, 1], "{out}");
    let scores: Vec<f64> = hits.iter().map(|h| h["score"].as_f64().unwrap()).collect();
    assert!(scores.windows(2).all(|w| w[0] == w[1]), "{scores:?}");
}

/// The English feed gains an article; a run (`args`) finds the index damaged, builds it again
/// from the store, and the new article is found with the old one.
fn a_run_with_one_more_builds_the_index_again(
    server: &FeedServer,
    archive: &TempArchive,
    args: &[&str],
) {
    server.set(
        "/en",
        rss(&[
            (
                "https://e.com/e",
                "Latin",
                "<p>The Winter OLYMPICS in Beijing</p>",
            ),
            ("https://e.com/f", "Later", "<p>Olympics again</p>"),
        ]),
    );
    let (code, _, err) = archive.cli(args, Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("building it again from the store"), "{err}");
    let mut found = titles(archive, "olympics", &[]);
    found.sort();
    assert_eq!(found, ["Later", "Latin"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_damaged_index_is_built_again_from_the_store() {
    let (server, archive) = archive_of_three_scripts().await;
    let index = archive.archive().join(".newsvault/index");
    std::fs::write(index.join("meta.json"), "damaged").unwrap();
    // `search` finds it damaged and builds it again.
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);

    // So does a run that adds an article, and the new article is found with the old ones.
    std::fs::write(index.join("meta.json"), "damaged").unwrap();
    a_run_with_one_more_builds_the_index_again(&server, &archive, &["run", "-v"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_cut_short_is_built_again_by_the_next_run_with_nothing_new() {
    let (_server, archive) = archive_of_three_scripts().await;
    // A run stopped while it built the index leaves its files without its state (written last).
    let index = archive.archive().join(".newsvault/index");
    std::fs::remove_file(index.join("newsvault-index.json")).unwrap();
    let (code, _, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(index.join("newsvault-index.json").exists());
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_index_folder_that_cannot_be_made_is_named_once() {
    let (server, archive) = archive_of_three_scripts().await;
    let index = archive.archive().join(".newsvault/index");
    std::fs::remove_dir_all(&index).unwrap();
    std::fs::write(&index, "a file where the index goes").unwrap();
    let (code, _, err) = archive.cli(&["search", "冬奥"], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("cannot build the search index in"), "{err}");
    assert_eq!(err.matches(".newsvault/index").count(), 1, "{err}");

    // A run that adds an article archives it and says, once, why the index was not updated.
    server.set(
        "/en",
        rss(&[("https://e.com/f", "Later", "<p>Olympics again</p>")]),
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 new"), "{out}");
    assert!(err.contains("cannot build the search index in"), "{err}");
    assert_eq!(err.matches(".newsvault/index").count(), 1, "{err}");
    assert_eq!(err.matches("search index").count(), 1, "{err}");
}

/// An index whose `meta.json` reads but one of whose segments does not open is as good as
/// missing: `search`, `hide` and a run with something new each build it again from the store,
/// and say so.
#[tokio::test(flavor = "multi_thread")]
async fn an_index_with_a_damaged_segment_is_built_again_from_the_store() {
    let (server, archive) = archive_of_three_scripts().await;
    let index = archive.archive().join(".newsvault/index");

    common::damage_a_segment(&index);
    let (code, out, err) = archive.cli(&["search", "冬奥"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("简体"), "{out}");
    assert!(err.contains("building it again from the store"), "{err}");
    assert!(err.contains(".newsvault/index"), "{err}");

    // `hide` hides the article in the store, then builds the index again without it.
    common::damage_a_segment(&index);
    let (code, out, err) = archive.cli(&["hide", "https://e.com/s", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hidden from every output"), "{out}");
    assert!(err.contains("building it again from the store"), "{err}");
    assert!(titles(&archive, "冬奥", &[]).is_empty());

    // A run that adds an article: the new one is found with the old.
    common::damage_a_segment(&index);
    a_run_with_one_more_builds_the_index_again(&server, &archive, &["run"]);
}

/// The store is the system of record: `hide` that cannot bring the index up to date has still
/// hidden the article, says why the index was not updated, and succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn hide_succeeds_when_the_index_cannot_be_written() {
    let (_server, archive) = archive_of_three_scripts().await;
    let index = archive.archive().join(".newsvault/index");
    std::fs::remove_dir_all(&index).unwrap();
    std::fs::write(&index, "a file where the index goes").unwrap();
    let (code, out, err) = archive.cli(&["hide", "https://e.com/s", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("hidden from every output"), "{out}");
    assert!(err.contains("cannot build the search index in"), "{err}");
    let (_, history, _) = archive.cli(&["history", "https://e.com/s"], None);
    assert!(history.contains("takedown"), "{history}");
}

/// With the index left to `search`, searches started together on an archive without an index
/// all answer: one builds the index while the others wait for it, and find it current. A `hide`
/// started among them waits too, and its article leaves the index.
#[tokio::test(flavor = "multi_thread")]
async fn searches_and_hide_started_together_wait_for_the_one_writing_the_index() {
    let (_server, archive) = archive_of_three_scripts_with("[site]\nindex_on_run = false\n").await;
    assert!(!archive.archive().join(".newsvault/index").exists());
    let (searches, hide) = std::thread::scope(|scope| {
        let searches: Vec<_> = (0..3)
            .map(|_| scope.spawn(|| archive.cli(&["search", "冬奥", "--json"], None)))
            .collect();
        let hide =
            scope.spawn(|| archive.cli(&["hide", "https://e.com/e", "--reason", "takedown"], None));
        let searches: Vec<_> = searches.into_iter().map(|s| s.join().unwrap()).collect();
        (searches, hide.join().unwrap())
    });
    for (code, out, err) in searches {
        assert_eq!(code, 0, "{err}");
        assert!(out.contains("简体"), "{out}");
    }
    let (code, _, err) = hide;
    assert_eq!(code, 0, "{err}");
    assert!(!err.contains("search index"), "{err}");
    assert!(titles(&archive, "olympics", &[]).is_empty());
}

/// Posts imported into an archive that has an index are found by `search` at once, as a run's
/// articles are; with the index left to `search`, import leaves it alone.
#[tokio::test(flavor = "multi_thread")]
async fn imported_posts_are_found_at_once() {
    let (_server, archive) = archive_of_three_scripts().await;
    let other_feeds = FeedServer::start().await;
    other_feeds.set(
        "/f",
        rss(&[("https://e.com/x", "残奥", "<p>北京残奥会开幕</p>")]),
    );
    let other = TempArchive::new(
        &[("其他", vec![other_feeds.url("/f")])],
        "[site]\nindex_on_run = false\n",
    );
    let (code, _, err) = other.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");

    let posts = other.posts();
    let (code, out, err) = archive.cli(&["import", "jekyll", posts.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 imported"), "{out}");
    assert_eq!(titles(&archive, "残奥", &[]), ["残奥"]);
    assert_eq!(titles(&archive, "冬奥", &[]), ["简体"]);

    let (_server, left) = archive_of_three_scripts_with("[site]\nindex_on_run = false\n").await;
    let (code, out, err) = left.cli(&["import", "jekyll", posts.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 imported"), "{out}");
    assert!(!left.archive().join(".newsvault/index").exists());
    assert_eq!(titles(&left, "残奥", &[]), ["残奥"]);
}

/// An import whose index cannot be brought up to date has imported its posts: it says why the
/// index was not updated, and succeeds.
#[tokio::test(flavor = "multi_thread")]
async fn an_import_whose_index_fails_is_an_import() {
    let (_server, archive) = archive_of_three_scripts().await;
    let fresh = TempArchive::new(&[], "");
    let index = fresh.archive().join(".newsvault/index");
    std::fs::create_dir_all(index.parent().unwrap()).unwrap();
    std::fs::write(&index, "a file where the index goes").unwrap();
    let posts = archive.posts();
    let (code, out, err) = fresh.cli(&["import", "jekyll", posts.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("3 imported"), "{out}");
    assert!(err.contains("cannot build the search index in"), "{err}");
}
