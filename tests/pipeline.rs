//! End to end: `run` against feeds served on a loopback port, asserting on the files written.

mod common;

use std::path::Path;

use common::{FeedServer, GOLDEN_NOW, Reply, TempArchive, fixture, rss};
use newsvault::clock::Clock;
use newsvault::config::Config;
use newsvault::run::run;

const GOLDEN_NAME: &str = "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md";

fn clock(at: &str) -> Clock {
    Clock::Fixed(chrono::DateTime::parse_from_rfc3339(at).unwrap().to_utc())
}

fn load(archive: &TempArchive) -> Config {
    Config::load(&archive.config).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn golden_post_is_reproduced_byte_for_byte() {
    let server = FeedServer::start().await;
    server.set("/zaobao", fixture("golden/zaobao-realtime-china.xml"));
    let archive = TempArchive::new(&[("联合早报", vec![server.url("/zaobao")])], "");
    let summary = run(&load(&archive), clock(GOLDEN_NOW)).await.unwrap();
    assert_eq!(summary.new_articles(), 1);
    assert_eq!(archive.post_names(), vec![GOLDEN_NAME.to_string()]);
    let written = std::fs::read(archive.posts().join(GOLDEN_NAME)).unwrap();
    assert_eq!(
        String::from_utf8(written).unwrap(),
        String::from_utf8(fixture(&format!("golden/{GOLDEN_NAME}"))).unwrap()
    );
}

/// Articles of the same moment are listed in an order of their own, not in the order their
/// feeds happened to answer: the same feeds give the same list page and `search.json`, however
/// the archive came to hold them (one run or many, a run killed and run again).
#[tokio::test(flavor = "multi_thread")]
async fn articles_of_one_moment_are_listed_in_the_same_order_whichever_feed_answers_first() {
    let server = FeedServer::start().await;
    let a = rss(&[
        ("https://e.com/a1", "甲一", "<p>1</p>"),
        ("https://e.com/a2", "甲二", "<p>2</p>"),
    ]);
    let b = rss(&[
        ("https://e.com/b1", "乙一", "<p>1</p>"),
        ("https://e.com/b2", "乙二", "<p>2</p>"),
    ]);
    for (path, body, slow) in [
        ("/a-fast", &a, false),
        ("/a-slow", &a, true),
        ("/b-fast", &b, false),
        ("/b-slow", &b, true),
    ] {
        let reply = Reply {
            delay: slow.then(|| std::time::Duration::from_millis(400)),
            ..Reply::ok(body.clone())
        };
        server.route(path, move |_, _| reply.clone());
    }
    let mut outputs = vec![];
    for (first, second) in [("/a-fast", "/b-slow"), ("/b-fast", "/a-slow")] {
        let archive = TempArchive::new(&[("S", vec![server.url(first), server.url(second)])], "");
        let summary = run(&load(&archive), clock("2024-06-01T00:00:00Z"))
            .await
            .unwrap();
        assert_eq!(summary.new_articles(), 4);
        let read = |path: &str| std::fs::read_to_string(archive.archive().join(path)).unwrap();
        outputs.push((read("lists/S.md"), read("search.json")));
    }
    assert_eq!(outputs[0].0, outputs[1].0, "the list pages differ");
    assert_eq!(outputs[0].1, outputs[1].1, "search.json differs");
}

/// A source renamed (its `id` kept) has its list page under the new name; the page of the old
/// name, which newsvault wrote, goes.
#[tokio::test(flavor = "multi_thread")]
async fn a_renamed_source_takes_its_list_page_along() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "第一条", "<p>一</p>")]));
    let archive = TempArchive::new(&[("Mike", vec![server.url("/a")])], "");
    let text = std::fs::read_to_string(&archive.config).unwrap();
    let with_id = text.replace("name = \"Mike\"", "name = \"Mike\"\nid = \"m\"");
    std::fs::write(&archive.config, &with_id).unwrap();
    run(&load(&archive), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    let lists = archive.archive().join("lists");
    assert!(lists.join("Mike.md").exists());

    std::fs::write(
        &archive.config,
        with_id.replace("name = \"Mike\"", "name = \"Michael\""),
    )
    .unwrap();
    run(&load(&archive), clock("2024-06-01T01:00:00Z"))
        .await
        .unwrap();
    assert!(lists.join("Michael.md").exists());
    assert!(
        !lists.join("Mike.md").exists(),
        "the old name's list page stayed"
    );
}

/// A source whose name starts with `#` (or `.`, `_`, `~`) gets a list page Jekyll shows; the
/// page an earlier newsvault wrote under the name Jekyll leaves out goes.
#[tokio::test(flavor = "multi_thread")]
async fn list_pages_of_names_jekyll_would_leave_out_are_shown_and_the_old_ones_go() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "第一条", "<p>一</p>")]));
    server.set("/b", rss(&[("https://e.com/2", "第二条", "<p>二</p>")]));
    let archive = TempArchive::new(
        &[
            ("#头条", vec![server.url("/a")]),
            (".dot", vec![server.url("/b")]),
        ],
        "",
    );
    let lists = archive.archive().join("lists");
    std::fs::create_dir_all(&lists).unwrap();
    std::fs::write(lists.join("#头条.md"), "old\n").unwrap();
    std::fs::write(lists.join("_.dot.md"), "old\n").unwrap();
    run(&load(&archive), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&lists)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["-#头条.md", "-.dot.md"]);
    let page = std::fs::read_to_string(lists.join("-#头条.md")).unwrap();
    assert!(page.contains("第一条"), "{page}");
}

/// An article met more than once in one run (a feed repeating a guid, two feeds of a source
/// carrying one item with other texts: a full text and a summary) is taken once, from where the
/// run met it first: its first post has one version, and a feed that repeats a guid does not
/// make the article change back and forth on every run.
#[tokio::test(flavor = "multi_thread")]
async fn an_article_met_twice_in_one_run_is_taken_once() {
    let server = FeedServer::start().await;
    let repeating = |extra: &str| {
        rss(&[
            ("https://e.com/1", "第一条", "<p>全文</p>"),
            ("https://e.com/2", "第二条", "<p>一</p>"),
            ("https://e.com/2", "第二条改", "<p>二</p>"),
        ]) + extra
    };
    server.set("/full", repeating(""));
    server.set(
        "/summary",
        rss(&[("https://e.com/1", "第一条", "<p>摘要</p>")]),
    );
    let both = TempArchive::new(
        &[("A", vec![server.url("/full"), server.url("/summary")])],
        "",
    );
    let first = run(&load(&both), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(first.new_articles(), 2);
    assert_eq!(first.sources[0].changed, 0);
    for name in both.post_names() {
        let post = std::fs::read_to_string(both.posts().join(&name)).unwrap();
        assert!(!post.contains("\nversions:"), "{name}: {post}");
    }

    // One feed that repeats a guid: the same text is kept run after run.
    let one = TempArchive::new(&[("B", vec![server.url("/full")])], "");
    let config = load(&one);
    run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    for (hour, extra) in [(1, "<!-- 1 -->"), (2, "<!-- 2 -->")] {
        // A body that differs (so it is read again) with the same items.
        server.set("/full", repeating(extra));
        let again = run(&config, clock(&format!("2024-06-01T0{hour}:00:00Z")))
            .await
            .unwrap();
        assert_eq!(
            (again.new_articles(), again.sources[0].changed),
            (0, 0),
            "hour {hour}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn second_run_writes_nothing_and_new_items_get_exactly_their_posts() {
    let server = FeedServer::start().await;
    let items = vec![
        ("https://e.com/1", "第一条", "<p>一</p>"),
        ("https://e.com/2", "第二条", "<p>二</p>"),
    ];
    server.set("/a", rss(&items));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let config = load(&archive);
    let first = run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    assert_eq!(first.new_articles(), 2);
    assert!(archive.archive().join("search.json").exists());
    assert!(archive.archive().join("lists/A.md").exists());
    let before = archive.snapshot();

    // Same feed again, later: nothing written, not even rewritten with the same bytes.
    let second = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!(second.new_articles(), 0);
    assert_eq!(second.publish.posts_written, 0);
    assert_eq!(archive.snapshot(), before);

    // The feed adds two items (and keeps the old ones): exactly two new posts.
    let mut more = items.clone();
    more.push(("https://e.com/3", "第三条", "<p>三</p>"));
    more.push(("https://e.com/4", "第四条", "<p>四</p>"));
    server.set("/a", rss(&more));
    let third = run(&config, clock("2024-06-01T02:00:00Z")).await.unwrap();
    assert_eq!(third.new_articles(), 2);
    assert_eq!(third.publish.posts_written, 2);
    assert_eq!(archive.post_names().len(), 4);
    let list = std::fs::read_to_string(archive.archive().join("lists/A.md")).unwrap();
    assert_eq!(list.matches("](https://e.com/").count(), 4);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_article_in_two_feeds_or_with_tracking_parameters_is_one_post() {
    let server = FeedServer::start().await;
    let item = |link: &'static str| rss(&[(link, "同一篇", "<p>x</p>")]);
    server.set("/one", item("https://e.com/story/1"));
    server.set("/two", item("https://E.com:443/story/1?utm_source=rss"));
    let archive = TempArchive::new(&[("S", vec![server.url("/one"), server.url("/two")])], "");
    let summary = run(&load(&archive), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(summary.new_articles(), 1);
    assert_eq!(archive.post_names().len(), 1);
}

/// An RSS feed of items with a link and no guid: `(link, title)`.
fn linked_rss(items: &[(&str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>https://e.com/</link>\n",
    );
    for (link, title) in items {
        out.push_str(&format!(
            "<item><title>{title}</title><link>{link}</link><description>{title}的正文</description></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// `(key, link)` of every article of the store, by key.
fn keys_and_links(archive: &TempArchive) -> Vec<(String, String)> {
    let db = rusqlite::Connection::open(archive.store()).unwrap();
    let mut rows: Vec<(String, String)> = db
        .prepare("SELECT key, link FROM article")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    rows.sort();
    rows
}

/// Links that differ only after `#` are different pages on hash-routed sites and different
/// posts of a live blog: each is an article of its own.
#[tokio::test(flavor = "multi_thread")]
async fn links_that_differ_only_in_their_fragment_are_different_articles() {
    let server = FeedServer::start().await;
    let items = [
        ("https://e.cn/#/detail?id=1", "标题0"),
        ("https://e.cn/#/detail?id=2", "标题1"),
        ("https://e.cn/live#post-3", "标题2"),
        ("https://e.cn/live#post-4", "标题3"),
    ];
    server.set("/frag", linked_rss(&items));
    let archive = TempArchive::new(&[("F", vec![server.url("/frag")])], "");
    let config = load(&archive);
    let first = run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    assert_eq!(first.new_articles(), 4);
    assert_eq!(archive.post_names().len(), 4);
    let again = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!((again.new_articles(), again.sources[0].changed), (0, 0));
}

/// A store of before keyed a link without its fragment. After the upgrade an item finds its own
/// article there (the one whose link has its fragment), never another fragment's: no twin post,
/// no article overwritten by another.
#[tokio::test(flavor = "multi_thread")]
async fn an_upgraded_store_finds_each_fragments_own_article() {
    let server = FeedServer::start().await;
    let one = ("https://e.cn/#/detail?id=1", "标题一");
    let two = ("https://e.cn/#/detail?id=2", "标题二");
    server.set("/frag", linked_rss(&[one]));
    let archive = TempArchive::new(&[("F", vec![server.url("/frag")])], "");
    let config = load(&archive);
    run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    // As a newsvault of before stored it: the key without the fragment.
    let db = rusqlite::Connection::open(archive.store()).unwrap();
    db.execute("UPDATE article SET key = 'url:https://e.cn/'", [])
        .unwrap();
    drop(db);

    // Another fragment alone: a new article, the first one untouched.
    server.set("/frag", linked_rss(&[two]));
    let second = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!((second.new_articles(), second.sources[0].changed), (1, 0));
    assert_eq!(second.sources[0].moved, 0);
    // Both: each finds its own, and the upgraded one takes the new key.
    server.set("/frag", linked_rss(&[one, two]));
    let third = run(&config, clock("2024-06-01T02:00:00Z")).await.unwrap();
    assert_eq!((third.new_articles(), third.sources[0].changed), (0, 0));
    assert_eq!(archive.post_names().len(), 2);
    assert_eq!(
        keys_and_links(&archive),
        [
            (format!("url:{}", one.0), one.0.to_string()),
            (format!("url:{}", two.0), two.0.to_string()),
        ]
    );
}

/// `%e4` and `%E4` are one escape: two feeds of a source that spell one link's escapes in
/// different case (WordPress writes them lower-case) make one post.
#[tokio::test(flavor = "multi_thread")]
async fn percent_escapes_in_either_case_are_one_article() {
    let server = FeedServer::start().await;
    server.set("/lower", linked_rss(&[("https://e.com/d/%e4%b8%ad", "中")]));
    server.set("/upper", linked_rss(&[("https://e.com/d/%E4%B8%AD", "中")]));
    let archive = TempArchive::new(
        &[("P", vec![server.url("/lower"), server.url("/upper")])],
        "",
    );
    let config = load(&archive);
    let first = run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    assert_eq!(first.new_articles(), 1);
    assert_eq!(archive.post_names().len(), 1);
    assert_eq!(first.sources[0].moved, 0);
}

/// A store of before keyed a link with its escapes as written (lower-case, as WordPress
/// writes them): after the upgrade the item finds its article there and the article takes the
/// new key, with no twin post, whichever case a feed then writes.
#[tokio::test(flavor = "multi_thread")]
async fn an_upgraded_store_finds_a_link_keyed_with_lower_case_escapes() {
    let server = FeedServer::start().await;
    let lower = ("https://e.com/d/%e4%b8%ad", "中");
    server.set("/f", linked_rss(&[lower]));
    let archive = TempArchive::new(&[("P", vec![server.url("/f")])], "");
    let config = load(&archive);
    run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    // As a newsvault of before stored it: the escapes as the feed wrote them.
    let db = rusqlite::Connection::open(archive.store()).unwrap();
    db.execute(
        "UPDATE article SET key = 'url:https://e.com/d/%e4%b8%ad'",
        [],
    )
    .unwrap();
    drop(db);
    // A new item makes the body another, read again.
    let other = ("https://e.com/other", "另");
    server.set("/f", linked_rss(&[lower, other]));
    let second = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!((second.new_articles(), second.sources[0].changed), (1, 0));
    assert_eq!(
        keys_and_links(&archive),
        [
            (
                "url:https://e.com/d/%E4%B8%AD".to_string(),
                lower.0.to_string()
            ),
            (format!("url:{}", other.0), other.0.to_string())
        ]
    );
    server.set(
        "/f",
        linked_rss(&[("https://e.com/d/%E4%B8%AD", "中"), other]),
    );
    let third = run(&config, clock("2024-06-01T02:00:00Z")).await.unwrap();
    assert_eq!((third.new_articles(), third.sources[0].moved), (0, 0));
    assert_eq!(archive.post_names().len(), 2);
}

/// A relative item link is the feed's site's page: resolved against the feed's address, it
/// identifies the article (one post for the page however a feed spells it), shows as an absolute
/// link, and never moves an article it does not lead away from.
#[tokio::test(flavor = "multi_thread")]
async fn relative_item_links_are_resolved_against_the_feeds_address() {
    let server = FeedServer::start().await;
    let page = server.url("/story/42");
    let with_guid = |link: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>t</title><link>{}</link><item><title>同一篇文章</title>\
             <link>{link}</link><guid isPermaLink=\"false\">story-42</guid><description>正文</description>\
             </item></channel></rss>",
            server.url("/")
        )
    };
    server.set("/guid", with_guid(&page));
    let archive = TempArchive::new(&[("M", vec![server.url("/guid")])], "");
    let config = load(&archive);
    run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    server.set("/guid", with_guid("/story/42"));
    let again = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!(
        (again.new_articles(), again.sources[0].moved),
        (0, 0),
        "moved to a relative link"
    );
    assert_eq!(keys_and_links(&archive)[0].1, page);

    // Without a guid, the absolute and the relative spelling are one article.
    server.set("/absolute", linked_rss(&[(&page, "同一篇文章")]));
    server.set("/relative", linked_rss(&[("/story/42", "同一篇文章")]));
    let both = TempArchive::new(
        &[("N", vec![server.url("/absolute"), server.url("/relative")])],
        "",
    );
    let summary = run(&load(&both), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(summary.new_articles(), 1);
    let post = std::fs::read_to_string(both.posts().join(&both.post_names()[0])).unwrap();
    assert!(post.contains(&format!("from: {page}\n")), "{post}");

    // A store of before keyed the relative link as given: the article is found, not doubled.
    let db = rusqlite::Connection::open(both.store()).unwrap();
    db.execute(
        "UPDATE article SET key = 'url:/story/42', link = '/story/42'",
        [],
    )
    .unwrap();
    drop(db);
    server.set("/absolute", linked_rss(&[]));
    // Another body, read again.
    server.set(
        "/relative",
        linked_rss(&[("/story/42", "同一篇文章")]) + "<!-- again -->",
    );
    let upgraded = run(&load(&both), clock("2024-06-01T01:00:00Z"))
        .await
        .unwrap();
    assert_eq!(upgraded.new_articles(), 0);
    assert_eq!(both.post_names().len(), 1);
    assert_eq!(keys_and_links(&both)[0].0, format!("url:{page}"));
    // The link stored relative is resolved, not moved: no `moved`, the post shows it whole.
    assert_eq!(upgraded.sources[0].moved, 0);
    assert_eq!(keys_and_links(&both)[0].1, page);
    let post = std::fs::read_to_string(both.posts().join(&both.post_names()[0])).unwrap();
    assert!(post.contains(&format!("from: {page}\n")), "{post}");
}

/// A feed that gives one guid (its home page) to items with different links: every item is an
/// article, run after run, as items leave and come back; none overwrites another. A store that
/// holds the first under the guid (as a newsvault of before left it) keeps it, with no twin.
#[tokio::test(flavor = "multi_thread")]
async fn items_sharing_a_guid_with_different_links_are_each_archived() {
    let server = FeedServer::start().await;
    let feed = |items: &[(&str, &str)], run: usize| {
        let mut out = String::from(
            "<rss version=\"2.0\"><channel><title>T</title><link>https://e.com/</link>\n",
        );
        for (link, title) in items {
            out.push_str(&format!(
                "<item><title>{title}</title><link>{link}</link><guid>https://e.com/</guid>\
                 <description>{title}</description></item>\n"
            ));
        }
        out + &format!("</channel></rss><!-- {run} -->")
    };
    let two = ("https://e.com/n/2", "第二篇");
    let three = ("https://e.com/n/3", "第三篇");
    for upgraded in [false, true] {
        let archive = TempArchive::new(&[("G", vec![server.url("/g")])], "");
        let config = load(&archive);
        let steps: &[(&[(&str, &str)], usize)] = if upgraded {
            // The first item alone: stored under the guid, as before.
            &[(&[two], 1), (&[two, three], 1), (&[three], 0), (&[two], 0)]
        } else {
            &[
                (&[two, three], 2),
                (&[three], 0),
                (&[two, three], 0),
                (&[two], 0),
            ]
        };
        for (run_no, (items, new)) in steps.iter().enumerate() {
            server.set("/g", feed(items, run_no));
            let at = format!("2024-06-01T0{run_no}:00:00Z");
            let summary = run(&config, clock(&at)).await.unwrap();
            let s = &summary.sources[0];
            assert_eq!(
                (s.new, s.changed, s.moved),
                (*new, 0, 0),
                "upgraded {upgraded}, run {run_no}"
            );
        }
        assert_eq!(archive.post_names().len(), 2);
        let links: Vec<String> = keys_and_links(&archive)
            .into_iter()
            .map(|(_, link)| link)
            .collect();
        assert_eq!(links, [two.0, three.0]);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_source_does_not_stop_the_others() {
    let server = FeedServer::start().await;
    server.set("/good", rss(&[("https://e.com/1", "好", "<p>ok</p>")]));
    server.set(
        "/html",
        "<!DOCTYPE html><html><body>not a feed</body></html>",
    );
    server.set("/empty", "");
    server.set("/truncated", &rss(&[("https://e.com/9", "t", "c")])[..150]);
    server.set("/junk", vec![0u8, 159, 146, 150, 255, 1, 2, 3]);
    server.route("/missing", |_, _| Reply::status(404));
    let archive = TempArchive::new(
        &[
            ("Good", vec![server.url("/good"), server.url("/missing")]),
            ("Html", vec![server.url("/html")]),
            ("Empty", vec![server.url("/empty")]),
            ("Truncated", vec![server.url("/truncated")]),
            ("Junk", vec![server.url("/junk")]),
            ("Nowhere", vec!["http://127.0.0.1:9/feed".to_string()]),
        ],
        "[fetch]\nattempts = 1\n",
    );
    let (code, stdout, _) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 2, "{stdout}");
    assert_eq!(archive.post_names().len(), 1);
    assert!(stdout.contains("Good: 1 new"), "{stdout}");
    for (source, path, reason) in [
        ("Good", "/missing", "HTTP 404"),
        ("Html", "/html", "an HTML page, not a feed"),
        ("Empty", "/empty", "empty body"),
        ("Truncated", "/truncated", "not a feed"),
        ("Junk", "/junk", "not a feed"),
    ] {
        let line = format!("{source}: {}: {reason}", server.url(path));
        assert!(stdout.contains(&line), "missing {line:?} in\n{stdout}");
    }
    assert!(
        stdout.contains("Nowhere: http://127.0.0.1:9/feed: "),
        "{stdout}"
    );

    // Nothing stored earlier is touched when the good feed breaks later.
    let before = archive.snapshot();
    server.set("/good", "garbage");
    let (code, _, _) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 2);
    assert_eq!(archive.snapshot(), before);
}

#[tokio::test(flavor = "multi_thread")]
async fn odd_items_still_archive() {
    let server = FeedServer::start().await;
    let feed = r#"<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>https://home.example/</link>
<item><title>No date, no link, no guid</title><description>body one</description></item>
<item><title>Future "quoted" \ title</title><link>https://e.com/f</link><pubDate>Sat, 01 Jan 2050 00:00:00 GMT</pubDate><description>{{ liquid }}</description></item>
<item><guid isPermaLink="false">not-a-url-123</guid><title>Only a guid</title><description>x</description></item>
</channel></rss>"#;
    server.set("/odd", feed);
    let archive = TempArchive::new(&[("Odd", vec![server.url("/odd")])], "");
    let (code, stdout, stderr) = archive.cli(&["run"], Some("2024-06-01T12:00:00Z"));
    assert_eq!(code, 0, "{stdout}{stderr}");
    let names = archive.post_names();
    assert_eq!(names.len(), 3, "{names:?}");
    let read = |prefix: &str| {
        let name = names.iter().find(|n| n.starts_with(prefix)).unwrap();
        std::fs::read_to_string(archive.posts().join(name)).unwrap()
    };
    let undated = read("2024-06-01-No date");
    assert!(
        undated.contains("date: 2024-06-01T12:00:00.000Z\n"),
        "{undated}"
    );
    assert!(
        undated.contains("from: https://home.example/\n"),
        "{undated}"
    );
    let future = read("2024-06-01-Future");
    assert!(
        future.contains("title: \"Future \\\"quoted\\\" \\\\ title\"\n"),
        "{future}"
    );
    assert!(
        future.contains("date: 2024-06-01T12:00:00.000Z\n"),
        "clamped: {future}"
    );
    assert!(future.contains("<!--2524608000000-->\n"), "{future}");
    assert!(
        future.contains("render_with_liquid: false\n---\n"),
        "{future}"
    );
    assert!(
        !undated.contains("render_with_liquid"),
        "only posts with Liquid markers"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn same_day_and_title_get_a_hash_only_for_the_second() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[
            ("https://e.com/1", "同名", "<p>1</p>"),
            ("https://e.com/2", "同名", "<p>2</p>"),
        ]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    run(&load(&archive), clock("2024-06-01T00:00:00Z"))
        .await
        .unwrap();
    let names = archive.post_names();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"2021-04-03-同名.md".to_string()),
        "{names:?}"
    );
    let hashed = names.iter().find(|n| *n != "2021-04-03-同名.md").unwrap();
    assert!(
        hashed.starts_with("2021-04-03-同名-") && hashed.len() == "2021-04-03-同名-".len() + 8 + 3
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_taken_name_is_never_overwritten_and_a_failed_write_is_retried() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let config = load(&archive);
    // A file the store does not own holds the name the article would take.
    std::fs::create_dir_all(archive.posts()).unwrap();
    let foreign = archive.posts().join("2021-04-03-一.md");
    std::fs::write(&foreign, "hand-written").unwrap();
    let first = run(&config, clock("2024-06-01T00:00:00Z")).await.unwrap();
    assert_eq!(first.publish.posts_written, 1);
    assert_eq!(std::fs::read_to_string(&foreign).unwrap(), "hand-written");
    let names = archive.post_names();
    let ours = names
        .iter()
        .find(|n| n.starts_with("2021-04-03-一-"))
        .unwrap()
        .clone();

    // The article is edited, but its post cannot be written (a folder stands in its place):
    // the run reports it and the next run writes it.
    server.set("/a", rss(&[("https://e.com/1", "一", "<p>1, edited</p>")]));
    let path = archive.posts().join(&ours);
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let second = run(&config, clock("2024-06-01T01:00:00Z")).await.unwrap();
    assert_eq!(second.sources[0].changed, 1);
    assert_eq!(second.publish.posts_written, 0);
    assert_eq!(second.publish.failures.len(), 1, "{:?}", second.publish);
    // Runs while it still cannot be written change no other file: the post is still pending,
    // but the list page and search.json hold what they held.
    let before = archive.snapshot();
    let quiet = run(&config, clock("2024-06-01T01:30:00Z")).await.unwrap();
    assert_eq!(quiet.publish.posts_written, 0);
    assert_eq!(quiet.publish.failures.len(), 1, "{:?}", quiet.publish);
    assert_eq!(archive.snapshot(), before);
    std::fs::remove_dir(&path).unwrap();
    let third = run(&config, clock("2024-06-01T02:00:00Z")).await.unwrap();
    assert_eq!(third.new_articles() + third.sources[0].changed, 0);
    assert_eq!(
        third.publish.posts_written, 1,
        "the pending post is written next run"
    );
    let post = std::fs::read_to_string(&path).unwrap();
    assert!(post.contains("<p>1, edited</p>"), "{post}");
}

/// search.json (or a list page) that cannot be written (a full disk, say) fails the run as a
/// post would: the run still says what it stored, names the file and the cause, exits 2, and the
/// next run writes it; the posts of the run are written meanwhile. `hide` and `unhide`, which
/// change what it shows, fail.
#[tokio::test(flavor = "multi_thread")]
async fn search_json_that_cannot_be_written_is_reported_and_written_next_run() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "一", "<p>1</p>")]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");

    // A folder with a file in it stands where search.json goes: renaming onto it fails.
    let search = archive.archive().join("search.json");
    std::fs::remove_file(&search).unwrap();
    std::fs::create_dir(&search).unwrap();
    std::fs::write(search.join("x"), "x").unwrap();
    server.set(
        "/a",
        rss(&[
            ("https://e.com/1", "一", "<p>1</p>"),
            ("https://e.com/2", "二", "<p>2</p>"),
        ]),
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 2, "{out}{err}");
    assert!(
        out.contains("A: 1 new, 0 changed, 1 already archived"),
        "{out}{err}"
    );
    assert!(out.contains("1 post(s) written"), "{out}");
    let line = out
        .lines()
        .find(|l| l.starts_with("could not write "))
        .unwrap_or_else(|| panic!("{out}{err}"));
    assert!(
        line.contains(&search.display().to_string()) && line.ends_with("(retried next run)"),
        "{line}"
    );
    assert_eq!(archive.post_names().len(), 2);
    // A command that changes what the archive shows fails while search.json cannot show it.
    for args in [
        &["hide", "https://e.com/2", "--reason", "asked"][..],
        &["unhide", "https://e.com/2"],
    ] {
        let (code, out, err) = archive.cli(args, None);
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        assert!(
            err.contains(&format!("cannot write {}", search.display())),
            "{err}"
        );
    }

    std::fs::remove_dir_all(&search).unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T02:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("A: 0 new, 0 changed"), "{out}");
    let written = std::fs::read_to_string(&search).unwrap();
    assert!(
        written.contains("\"二\"") && written.contains("\"一\""),
        "{written}"
    );
}

/// `newsvault run` on a config of `text` (as `newsvault.toml` in a new folder, which `prepare`
/// may fill first); returns the folder and what the run gave.
fn run_config(
    text: &str,
    prepare: impl FnOnce(&Path),
) -> (tempfile::TempDir, std::process::Output) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("newsvault.toml");
    std::fs::write(&config, text).unwrap();
    prepare(dir.path());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    (dir, output)
}

#[test]
fn config_mistakes_fail_before_anything_is_fetched() {
    let (dir, output) = run_config(
        "archive = \"a\"\n[[source]]\nname = \"x\"\nfeeds = [\"http://127.0.0.1:9/\"]\nlinks_from_guid = true\n",
        |_| {},
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("newsvault.toml:5:"), "{stderr}");
    assert!(stderr.contains("links_from_guid"), "{stderr}");
    assert!(
        !Path::new(&dir.path().join("a")).exists(),
        "nothing created"
    );
}

/// A config without sources archives nothing, and says so rather than looking like a quiet run.
#[test]
fn a_config_without_sources_says_so() {
    let (_dir, output) = run_config("archive = \"a\"\n", |_| {});
    assert_eq!(output.status.code(), Some(0));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("lists no source"), "{stderr}");
}

/// An archive folder that is a file is refused as such, and the file is left as it was.
#[test]
fn an_archive_that_is_a_file_is_refused_naming_it() {
    let (dir, output) = run_config(
        "archive = \"notes.txt\"\n[[source]]\nname = \"x\"\nfeeds = [\"http://127.0.0.1:9/\"]\n",
        |dir| std::fs::write(dir.join("notes.txt"), "mine").unwrap(),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("notes.txt") && stderr.contains("is not a folder"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("notes.txt")).unwrap(),
        "mine"
    );
}

/// `~/…` in a path of the config is the home folder, as in a shell: `archive = "~/news"` archives
/// into `$HOME/news`, not into a folder named `~` beside the config. Without a home folder to
/// go by, the config is refused, naming the key.
#[tokio::test(flavor = "multi_thread")]
async fn a_path_under_the_home_folder_is_taken_as_such() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "第一条", "<p>一</p>")]));
    let dir = tempfile::tempdir().unwrap();
    let (home, config) = (
        dir.path().join("home"),
        dir.path().join("conf/newsvault.toml"),
    );
    std::fs::create_dir_all(config.parent().unwrap()).unwrap();
    std::fs::write(
        &config,
        format!(
            "archive = \"~/news\"\n[site]\nout = \"~\"\n[[source]]\nname = \"x\"\nfeeds = [\"{}\"]\n",
            server.url("/a")
        ),
    )
    .unwrap();
    let newsvault = |home: Option<&Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"));
        command
            .args(["run", "--config"])
            .arg(&config)
            .env_remove("HOME");
        if let Some(home) = home {
            command.env("HOME", home);
        }
        command.output().unwrap()
    };
    let output = newsvault(Some(&home));
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert_eq!(
        std::fs::read_dir(home.join("news/_posts")).unwrap().count(),
        1
    );
    assert!(!dir.path().join("conf/~").exists(), "a folder named ~");
    let loaded = Config::parse(
        &std::fs::read_to_string(&config).unwrap(),
        &config,
        config.parent().unwrap(),
    );
    // Without HOME in this process's environment the test cannot say; with it, the site's
    // folder is the home folder itself.
    if let (Ok(loaded), Some(own)) = (loaded, std::env::var_os("HOME")) {
        assert_eq!(loaded.site_dir(), Path::new(&own));
    }
    let output = newsvault(None);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("newsvault.toml:1:1:") && stderr.contains("HOME"),
        "{stderr}"
    );
}

#[test]
fn init_writes_a_config_that_loads_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let bin = env!("CARGO_BIN_EXE_newsvault");
    let status = std::process::Command::new(bin)
        .arg("init")
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let config = Config::load(&dir.path().join("newsvault.toml")).unwrap();
    assert_eq!(config.sources.len(), 17);
    let again = std::process::Command::new(bin)
        .arg("init")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1));
}

/// Without DIR, `init` writes the config the other commands read: `--config` when given.
#[test]
fn init_writes_the_config_that_config_names() {
    let dir = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["init", "--config", "site/custom.toml"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(output.status.success(), "{output:?}");
    assert!(!dir.path().join("newsvault.toml").exists());
    let config = Config::load(&dir.path().join("site/custom.toml")).unwrap();
    assert_eq!(config.sources.len(), 17);
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("--config site/custom.toml"),
        "{output:?}"
    );
}

#[test]
fn inspect_prints_entries_as_json() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/golden/zaobao-realtime-china.xml");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .arg("inspect")
        .arg(&path)
        .output()
        .unwrap();
    assert!(output.status.success());
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let entry = &json["entries"][0];
    assert_eq!(entry["title"], "中韩外长会谈 韩国支持北京举办冬奥");
    assert_eq!(
        entry["link"],
        "https://www.zaobao.com/realtime/china/story20210404-1136538"
    );
    assert_eq!(entry["published"], "2021-04-04T21:37:00Z");
}

/// `newsvault demo DIR` run in `cwd`, with the golden clock; it must succeed.
fn demo(dir: &Path, cwd: &Path) -> std::process::Output {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .arg("demo")
        .arg(dir)
        .current_dir(cwd)
        .env("NEWSVAULT_NOW", GOLDEN_NOW)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn demo_archives_the_bundled_feeds_without_network() {
    let dir = tempfile::tempdir().unwrap();
    demo(dir.path(), Path::new("."));
    let golden = std::fs::read(dir.path().join("_posts").join(GOLDEN_NAME)).unwrap();
    assert_eq!(golden, fixture(&format!("golden/{GOLDEN_NAME}")));
    assert_eq!(
        std::fs::read_dir(dir.path().join("_posts"))
            .unwrap()
            .count(),
        5
    );
}

/// `demo DIR` with DIR relative to where it runs archives into DIR itself and says so.
#[test]
fn demo_archives_into_a_relative_folder_as_given() {
    let dir = tempfile::tempdir().unwrap();
    let output = demo(Path::new("演示 \"archive\""), dir.path());
    let posts = dir.path().join("演示 \"archive\"").join("_posts");
    assert_eq!(std::fs::read_dir(&posts).unwrap().count(), 5);
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(said.contains("演示 \"archive\"/_posts"), "{said}");
}

/// A store that cannot take what a run brings (a full disk, say) ends the run with one line
/// that names the store's file, the feed being stored and the cause; nothing archived before
/// changes, and the next run, with room again, stores what this one could not.
#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_cannot_take_the_run_is_named_and_nothing_archived_changes() {
    let server = FeedServer::start().await;
    let first = ("https://e.com/1", "第一条", "<p>一</p>");
    server.set("/a", rss(&[first]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    let before = archive.snapshot();

    // The store refuses new articles as SQLite does when the disk is full.
    let store = rusqlite::Connection::open(archive.store()).unwrap();
    store
        .execute_batch(
            "CREATE TRIGGER no_room BEFORE INSERT ON article
             BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;",
        )
        .unwrap();
    server.set(
        "/a",
        rss(&[first, ("https://e.com/2", "第二条", "<p>二</p>")]),
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    let store_path = archive.store().display().to_string();
    assert_eq!(err.matches(&store_path).count(), 1, "{err}");
    assert_eq!(err.matches(&server.url("/a")).count(), 1, "{err}");
    assert_eq!(err.matches("database or disk is full").count(), 1, "{err}");
    assert_eq!(archive.snapshot(), before);

    store.execute_batch("DROP TRIGGER no_room").unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T02:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("A: 1 new, 0 changed, 1 already archived"),
        "{out}"
    );
}

/// A fatal error is one line that names the thing once and gives the cause once (`main` prints
/// an error with its chain of causes, so an error that shows its cause must not also chain it).
#[test]
fn a_fatal_error_names_the_thing_and_the_cause_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = |config: &str| {
        let path = dir.path().join("newsvault.toml");
        std::fs::write(&path, config).unwrap();
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
            .args(["run", "--config"])
            .arg(&path)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(1));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let feeds = "[[source]]\nname = \"x\"\nfeeds = [\"http://127.0.0.1:9/\"]\n";

    // The store's file is not a store.
    std::fs::create_dir(dir.path().join("a")).unwrap();
    std::fs::write(dir.path().join("a/junk.sqlite"), vec![0x5a; 8192]).unwrap();
    let stderr = run(&format!(
        "archive = \"a\"\nstore = \"a/junk.sqlite\"\n{feeds}"
    ));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("junk.sqlite").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("not a database").count(), 1, "{stderr}");

    // The store's path is a folder.
    std::fs::create_dir(dir.path().join("a/folder.sqlite")).unwrap();
    let stderr = run(&format!(
        "archive = \"a\"\nstore = \"a/folder.sqlite\"\n{feeds}"
    ));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("folder.sqlite").count(), 1, "{stderr}");
    assert_eq!(stderr.matches("unable to open").count(), 1, "{stderr}");

    // The archive is a file.
    std::fs::write(dir.path().join("file"), "").unwrap();
    let stderr = run(&format!("archive = \"file\"\n{feeds}"));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert_eq!(stderr.matches("is not a folder").count(), 1, "{stderr}");
}

/// search.json names each post's own source, tags and categories, also where the posts of
/// sources with different ones alternate (the walk reuses what it read for the post before).
#[tokio::test(flavor = "multi_thread")]
async fn search_json_gives_each_post_its_own_sources_tags_and_categories() {
    let server = FeedServer::start().await;
    let feed = |days: &[u32]| {
        let mut out = String::from(
            "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><title>t</title><link>https://e.com/</link>",
        );
        for day in days {
            out.push_str(&format!(
                "<item><title>第{day}日</title><link>https://e.com/{day}</link>\
                 <pubDate>{day:02} Apr 2021 10:00:00 GMT</pubDate><description>x</description></item>"
            ));
        }
        out + "</channel></rss>"
    };
    server.set("/a", feed(&[1, 3, 5]));
    server.set("/b", feed(&[2, 4, 6]));
    let archive = TempArchive::new(&[], "");
    let config = format!(
        "archive = \"archive\"\n\
         [[source]]\nname = \"Alpha\"\nfeeds = [{:?}]\ncontent = \"verbatim\"\n\
         [[source]]\nname = \"Beta\"\nfeeds = [{:?}]\ncontent = \"verbatim\"\n\
         tags = [\"x\", \"y\"]\ncategories = [\"News\", \"Beta\"]\n",
        server.url("/a"),
        server.url("/b"),
    );
    std::fs::write(&archive.config, config).unwrap();
    run(&load(&archive), clock("2021-05-01T00:00:00Z"))
        .await
        .unwrap();
    let search: serde_json::Value =
        serde_json::from_slice(&std::fs::read(archive.archive().join("search.json")).unwrap())
            .unwrap();
    let entries: Vec<(String, String, String)> = search
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let field = |name: &str| e[name].as_str().unwrap().to_string();
            (field("category"), field("tags"), field("url"))
        })
        .collect();
    let alpha = |day: &str| {
        (
            "Alpha".to_string(),
            "Alpha".to_string(),
            format!(
                "/alpha/2021/04/{day}/%E7%AC%AC{}%E6%97%A5.html",
                day.trim_start_matches('0')
            ),
        )
    };
    let beta = |day: &str| {
        (
            "Beta".to_string(),
            "x, y".to_string(),
            format!(
                "/news/beta/2021/04/{day}/%E7%AC%AC{}%E6%97%A5.html",
                day.trim_start_matches('0')
            ),
        )
    };
    assert_eq!(
        entries,
        [
            beta("06"),
            alpha("05"),
            beta("04"),
            alpha("03"),
            beta("02"),
            alpha("01")
        ]
    );
}
