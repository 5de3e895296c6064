//! Hostile and broken input: each case gives a clear error or a safe result, never a panic, and
//! nothing archived earlier is lost; nothing makes a run wait forever.

mod common;

use std::io::Write;

use common::{FeedServer, Reply, TempArchive, rss};

/// Runs `feed` as a second feed of an archive that already holds one good article; returns the
/// run's (exit code, stdout) and checks the good article's post is untouched.
async fn run_hostile(feed: Reply, extra: &str) -> (i32, String, TempArchive, FeedServer) {
    let server = FeedServer::start().await;
    server.set(
        "/good",
        rss(&[("https://e.com/keep", "保留", "<p>keep</p>")]),
    );
    let archive = TempArchive::new(&[("Good", vec![server.url("/good")])], extra);
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    let before = archive.snapshot();
    let good = before
        .iter()
        .find(|(p, _, _)| p.to_string_lossy().contains("保留"))
        .cloned()
        .expect("the good post");
    server.route("/hostile", move |_, _| feed.clone());
    let mut text = std::fs::read_to_string(&archive.config).unwrap();
    text.push_str(&format!(
        "[[source]]\nname = \"Hostile\"\nfeeds = [\"{}\"]\ncontent = \"clean\"\n",
        server.url("/hostile")
    ));
    std::fs::write(&archive.config, text).unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert!(!err.contains("panicked"), "{err}");
    assert!(code == 0 || code == 2, "exit {code}: {out}{err}");
    let after = std::fs::read(&good.0).expect("the good post is still there");
    assert_eq!(after, good.1, "the good post is unchanged");
    for name in archive.post_names() {
        assert!(archive.posts().join(&name).is_file());
    }
    (code, out, archive, server)
}

#[tokio::test(flavor = "multi_thread")]
async fn billion_laughs_and_external_entities_are_never_expanded() {
    let laughs = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol9 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">]>
<rss version="2.0"><channel><title>t</title><item><title>&lol9;</title><link>https://e.com/l</link><description>&lol9;</description></item></channel></rss>"#;
    let (_, _, archive, _) = run_hostile(Reply::ok(laughs), "").await;
    for name in archive.post_names() {
        let post = std::fs::read_to_string(archive.posts().join(name)).unwrap();
        assert!(!post.contains("lollollol"), "expanded: {post}");
    }
    let xxe = r#"<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>t</title><item><title>a &xxe; b</title><link>https://e.com/x</link><description>&xxe;</description></item></channel></rss>"#;
    let (_, _, archive, _) = run_hostile(Reply::ok(xxe), "").await;
    for name in archive.post_names() {
        let post = std::fs::read_to_string(archive.posts().join(name)).unwrap();
        assert!(!post.contains("root:"), "resolved: {post}");
    }
}

/// A bare `&` in one item's title (`AT&T`, not `AT&amp;T`) is read as written: the feed and
/// all its items are archived, with a warning naming the feed.
#[tokio::test(flavor = "multi_thread")]
async fn a_bare_ampersand_in_a_title_loses_no_item() {
    let feed = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>t</title>\n\
                <item><title>AT&T 与 B&B</title><link>https://e.com/att</link></item>\n\
                <item><title>其他</title><link>https://e.com/other</link></item>\n\
                </channel></rss>\n";
    let (code, out, archive, server) = run_hostile(Reply::ok(feed), "").await;
    assert_eq!(code, 0, "{out}");
    let names = archive.post_names();
    assert!(names.iter().any(|n| n.contains("AT&T 与 B&B")), "{names:?}");
    assert!(names.iter().any(|n| n.contains("其他")), "{names:?}");
    server.route("/hostile", |_, _| {
        Reply::ok(
            "<rss version=\"2.0\"><channel><title>t</title>\
             <item><title>Q&A</title><link>https://e.com/qa</link></item></channel></rss>",
        )
    });
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T03:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains("Hostile") && err.contains("/hostile") && err.contains("1 bare `&`"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_100_mb_gzip_bomb_fails_its_feed() {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![b' '; 1 << 20];
    encoder
        .write_all(b"<rss version=\"2.0\"><channel><title>")
        .unwrap();
    for _ in 0..100 {
        encoder.write_all(&zeros).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "the bomb is small on the wire");
    let reply = Reply::ok(bomb).header("Content-Encoding", "gzip");
    let (code, out, _, _) = run_hostile(reply, "").await;
    assert_eq!(code, 2);
    assert!(
        out.contains("/hostile: body larger than 20971520 bytes (after decompression)"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_thousand_deep_nesting_in_xml_and_in_html() {
    let n = 10_000;
    let xml = format!(
        "<rss version=\"2.0\"><channel><title>t</title><item><title>deep xml</title><link>https://e.com/d1</link><description>{}{}</description></item>\
         <item><title>deep html</title><link>https://e.com/d2</link><description><![CDATA[{}正文{}]]></description></item></channel></rss>",
        "<a>".repeat(n),
        "</a>".repeat(n),
        "<div>".repeat(n),
        "</div>".repeat(n)
    );
    let (_, _, archive, _) = run_hostile(Reply::ok(xml), "").await;
    let names = archive.post_names();
    let deep = names
        .iter()
        .find(|n| n.contains("deep html"))
        .expect("archived");
    let post = std::fs::read_to_string(archive.posts().join(deep)).unwrap();
    assert!(post.contains("<p>正文</p>"), "{post}");
}

#[tokio::test(flavor = "multi_thread")]
async fn invalid_utf8_and_nul_bytes() {
    let mut feed = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>\xff\xfe</title><item><title><![CDATA[nul\x00title \xc3\x28 bad]]></title><link>https://e.com/u\xff</link><description><![CDATA[<p a=\"\xe2\x82\">\x00x</p>]]></description></item></channel></rss>".to_vec();
    feed.extend_from_slice(b"\xf0\x28\x8c\xbc");
    let (_, _, archive, _) = run_hostile(Reply::ok(feed), "").await;
    for name in archive.post_names() {
        assert!(!name.contains('\0'));
        let post = std::fs::read(archive.posts().join(&name)).unwrap();
        assert!(std::str::from_utf8(&post).is_ok(), "{name} is UTF-8");
        assert!(!post.contains(&0u8), "{name} has no NUL");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn titles_with_paths_stay_in_posts() {
    let feed = rss(&[
        ("https://e.com/p1", "../../../../etc/passwd", "<p>1</p>"),
        ("https://e.com/p2", "/absolute/path", "<p>2</p>"),
        ("https://e.com/p3", "..", "<p>3</p>"),
        ("https://e.com/p4", "a\\..\\..\\b", "<p>4</p>"),
    ]);
    let (_, _, archive, _) = run_hostile(Reply::ok(feed), "").await;
    let names = archive.post_names();
    assert_eq!(names.len(), 5, "{names:?}");
    assert!(
        names.contains(&"2021-04-03-..--..--..--..--etc--passwd.md".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"2021-04-03---absolute--path.md".to_string()),
        "{names:?}"
    );
    let outside = archive.dir.path().join("etc");
    assert!(!outside.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn article_and_image_links_to_the_archives_own_network_are_refused() {
    let server = FeedServer::start().await;
    server.set(
        "/page",
        "<html><body><div class=\"c\"><p>internal secret</p></div></body></html>",
    );
    let loopback = server.url("/page");
    let feed = rss(&[
        (
            loopback.as_str(),
            "loopback",
            "<p>feed text 1</p><img src=\"http://127.0.0.1/x.png\">",
        ),
        (
            "http://169.254.169.254/latest/meta-data/",
            "metadata",
            "<p>feed text 2</p>",
        ),
        ("http://10.0.0.1/admin", "private", "<p>feed text 3</p>"),
        ("http://localhost:1/x", "localhost", "<p>feed text 4</p>"),
    ]);
    server.set("/feed", feed);
    // The feed itself is served from loopback: configured feeds are trusted.
    let archive = TempArchive::new(
        &[("S", vec![server.url("/feed")])],
        "[fetch]\nattempts = 1\n",
    );
    let text = std::fs::read_to_string(&archive.config).unwrap();
    std::fs::write(
        &archive.config,
        format!("{text}fulltext = {{ selector = \"div.c\" }}\n"),
    )
    .unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(
        server.hits("/page"),
        0,
        "the loopback page was never requested"
    );
    assert_eq!(
        out.matches("full text not had (refused: ").count(),
        4,
        "{out}"
    );
    for what in ["127.0.0.1", "169.254.169.254", "10.0.0.1", "localhost"] {
        assert!(out.contains(what), "{what} not named: {out}");
    }
    for name in archive.post_names() {
        let post = std::fs::read_to_string(archive.posts().join(&name)).unwrap();
        assert!(
            post.contains("feed text"),
            "the feed's content is kept: {post}"
        );
        assert!(!post.contains("internal secret"));
    }
    // `check` refuses them too, and says why: each page at -v, the most common cause always.
    let (_, out, err) = archive.cli(&["check", "-v"], Some("2024-06-01T01:00:00Z"));
    assert!(
        out.contains(
            "0 gone, 0 back, 4 without an answer (most common cause, 4 of them: refused: not a \
             public http(s) address, see [fetch] allow_private_addresses)"
        ),
        "{out}"
    );
    for link in [
        loopback.as_str(),
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/admin",
        "http://localhost:1/x",
    ] {
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("{link}: no answer: refused: "))),
            "{link} and its cause not logged:\n{err}"
        );
    }
    assert_eq!(server.hits("/page"), 0);
}

/// A `file:` feed that is not a regular file (a device that never ends, a FIFO nobody writes
/// to) fails that feed at once, naming it; the run goes on with the other feeds and ends.
#[test]
fn a_file_feed_that_is_a_device_or_a_fifo_fails_it_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("feed.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let good = dir.path().join("good.xml");
    std::fs::write(&good, rss(&[("https://e.com/1", "好", "<p>1</p>")])).unwrap();
    let feeds = vec![
        "file:///dev/zero".to_string(),
        format!("file://{}", fifo.display()),
        format!("file://{}", good.display()),
    ];
    let archive = TempArchive::new(&[("s", feeds)], "");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["run", "--config"])
        .arg(&archive.config)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > std::time::Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("the run did not end");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    assert_eq!(archive.post_names().len(), 1, "{stdout}");
    for name in ["/dev/zero", "feed.fifo"] {
        let line = stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_default();
        assert!(line.contains("not a regular file"), "{name}: {stdout}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_items_and_endless_titles_are_cut() {
    let links: Vec<String> = (0..20)
        .map(|i| format!("https://e.com/flood/{i}"))
        .collect();
    let long = "长".repeat(5_000);
    let items: Vec<(&str, &str, &str)> = links
        .iter()
        .map(|l| (l.as_str(), long.as_str(), "<p>x</p>"))
        .collect();
    let (_, _, archive, _) = run_hostile(Reply::ok(rss(&items)), "[fetch]\nmax_items = 5\n").await;
    let names = archive.post_names();
    assert_eq!(names.len(), 1 + 5, "{names:?}");
    for name in names.iter().filter(|n| n.contains('长')) {
        let post = std::fs::read_to_string(archive.posts().join(name)).unwrap();
        let title = post.lines().nth(2).unwrap();
        assert_eq!(
            title.chars().filter(|c| *c == '长').count(),
            4_096,
            "cut at 4,096"
        );
    }
}

/// A feed cut at `max_items` says so naming its source and its URL: with many sources, a line
/// without them tells the reader nothing.
#[tokio::test(flavor = "multi_thread")]
async fn a_feed_cut_at_max_items_is_named_with_its_source() {
    let server = FeedServer::start().await;
    server.set(
        "/long",
        rss(&[
            ("https://e.com/1", "一", "<p>1</p>"),
            ("https://e.com/2", "二", "<p>2</p>"),
            ("https://e.com/3", "三", "<p>3</p>"),
        ]),
    );
    let archive = TempArchive::new(
        &[("长源", vec![server.url("/long")])],
        "[fetch]\nmax_items = 2\n",
    );
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(archive.post_names().len(), 2);
    let line = err
        .lines()
        .find(|l| l.contains("only the first 2 are taken"))
        .unwrap_or_else(|| panic!("no warning: {err}"));
    assert!(line.contains("长源"), "{line}");
    assert!(line.contains(&server.url("/long")), "{line}");
}

// Regression tests for what fuzzing found (`fuzz/run.sh`).

#[test]
fn fuzz_feed_parse_crash_1d92daaf_fails_the_feed_without_a_panic() {
    for name in [
        "fuzz/feed_parse-crash-1d92daaf",
        "fuzz/feed_parse-crash-47d9a92d",
    ] {
        let input = common::fixture(name);
        // Not even a caught panic: the parser never gets input that makes it panic. The hook
        // sees every panic, caught or not.
        static PANICKED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {
            PANICKED.store(true, std::sync::atomic::Ordering::SeqCst)
        }));
        let _ = newsvault::feed::parse_feed(&input, None);
        std::panic::set_hook(previous);
        assert!(
            !PANICKED.load(std::sync::atomic::Ordering::SeqCst),
            "{name} panicked inside"
        );
    }
}

#[test]
fn fuzz_clean_html_crash_iframe_content_cannot_carry_markup() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if !path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("clean_html-")
        {
            continue;
        }
        let html = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
        let out = newsvault::content::clean::sanitise(&html, None, true);
        assert!(!out.to_ascii_lowercase().contains("<script"), "{out}");
        let rules = newsvault::content::clean::CleanRules {
            keep_iframes: true,
            ..Default::default()
        };
        let out = newsvault::content::clean::clean_html(&html, None, &rules);
        assert!(!out.to_ascii_lowercase().contains("<script"), "{out}");
    }
}

#[test]
fn fuzz_import_post_crash_ef1cb648_a_div_line_inside_the_front_matter() {
    let input =
        String::from_utf8_lossy(&common::fixture("fuzz/import_post-crash-ef1cb648")).into_owned();
    if let Ok(post) = newsvault::import::parse_post("2020-07-04-x.md", &input) {
        assert_eq!(format!("{}{}{}", post.head, post.body, post.tail), input);
    }
    let empty = "---\ntitle: x\n---\n<div>\n</div>\n";
    let post = newsvault::import::parse_post("2020-07-04-x.md", empty).unwrap();
    assert_eq!(format!("{}{}{}", post.head, post.body, post.tail), empty);
}
