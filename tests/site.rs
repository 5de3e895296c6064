//! The HTML site of `newsvault build`, end to end: `run` against feeds on a loopback port, then
//! `build`, asserting on the files: pages, sanitising, versions, incremental rebuilds, hidden
//! articles, user templates, the static search index.

mod common;

use std::path::PathBuf;

use common::{
    FeedServer, GOLDEN_NOW, TempArchive, fixture, golden_archive, numbered_rss, rss, site_search_js,
};
use newsvault::publish::shards::search_files;
use newsvault::publish::site::TEMPLATES;

const GOLDEN_TITLE: &str = "中韩外长会谈 韩国支持北京举办冬奥";

fn site(archive: &TempArchive) -> PathBuf {
    archive.archive().join(".newsvault/site")
}

fn read(path: PathBuf) -> String {
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Every file of the site with its bytes and modification time.
fn snapshot(dir: &std::path::Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    let mut out = vec![];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                stack.push(entry.path());
            } else if !entry
                .file_name()
                .to_string_lossy()
                .starts_with(".newsvault-tmp-")
            {
                let meta = entry.metadata().unwrap();
                out.push((
                    entry.path(),
                    std::fs::read(entry.path()).unwrap(),
                    meta.modified().unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}

/// The id of the one article page whose text holds `needle`.
fn page_with(archive: &TempArchive, needle: &str) -> PathBuf {
    let pages: Vec<PathBuf> = std::fs::read_dir(site(archive).join("a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| read(p.clone()).contains(needle))
        .collect();
    assert_eq!(pages.len(), 1, "pages holding {needle:?}: {pages:?}");
    pages.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn build_writes_every_kind_of_page_for_the_golden_feed() {
    let (_server, archive) = golden_archive().await;
    let (code, out, err) = archive.cli(&["build"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("1 articles"), "{out}");

    let site = site(&archive);
    let home = read(site.join("index.html"));
    assert!(home.contains(GOLDEN_TITLE), "{home}");
    assert!(home.contains("assets/site.css") && home.contains("assets/site.js"));
    // No inline script, no requests to other hosts but images.
    assert!(!home.contains("<script>"), "inline script in {home}");
    assert!(!home.contains("src=\"http") && !home.contains("href=\"http"));

    let article = read(page_with(&archive, GOLDEN_TITLE));
    assert!(article.contains(&format!("<h1>{GOLDEN_TITLE}</h1>")));
    assert!(
        article.contains("href=\"https://www.zaobao.com/realtime/china/story20210404-1136538\"")
    );
    assert!(article.contains("联合早报"));
    assert!(article.contains("存档"), "archived time");
    assert!(
        article.contains("韩方支持中方举办北京冬奥会"),
        "the content"
    );
    assert!(!article.contains("已从来源删除"), "not gone");

    let day = read(site.join("days/2021-04-04.html"));
    assert!(day.contains(GOLDEN_TITLE));
    assert!(read(site.join("days/index.html")).contains("2021-04-04"));
    let source = read(site.join("sources/联合早报/index.html"));
    assert!(source.contains(GOLDEN_TITLE) && source.contains("2021-04"));
    assert!(read(site.join("sources/联合早报/2021-04.html")).contains(GOLDEN_TITLE));
    assert!(read(site.join("sources/index.html")).contains("联合早报"));
    let feed = read(site.join("feed.xml"));
    assert!(feed.starts_with("<?xml") && feed.contains("<entry>"));
    assert!(feed.contains(GOLDEN_TITLE));
    assert!(read(site.join("search.html")).contains("search-input"));
    assert!(read(site.join("assets/site.css")).contains("Noto Sans CJK SC"));
}

#[tokio::test(flavor = "multi_thread")]
async fn verbatim_articles_are_sanitised_in_the_site() {
    let server = FeedServer::start().await;
    let evil = "<p>正文</p><script>alert('x')</script><img src=\"https://e.com/a.png\" onerror=\"alert(1)\">\
                <a href=\"javascript:alert(2)\">链接</a><iframe src=\"https://evil.example/\"></iframe>";
    server.set("/a", rss(&[("https://e.com/1", "危险的文章", evil)]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    // The Jekyll post keeps the feed's HTML, as `verbatim` asks.
    let post = std::fs::read_dir(archive.posts()).unwrap().next().unwrap();
    assert!(read(post.unwrap().path()).contains("<script>"));
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let page = read(page_with(&archive, "危险的文章"));
    assert!(page.contains("<p>正文</p>"));
    assert!(!page.contains("alert"), "{page}");
    assert!(!page.contains("onerror"), "{page}");
    assert!(!page.contains("<iframe"), "{page}");
}

#[tokio::test(flavor = "multi_thread")]
async fn rebuild_rewrites_only_what_changed_and_shows_versions() {
    let server = FeedServer::start().await;
    let one = ("https://e.com/1", "第一条", "<p>北京举办冬奥会</p>");
    let two = ("https://e.com/2", "第二条", "<p>二</p>");
    server.set("/a", rss(&[one, two]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T00:00:00Z")).0, 0);
    let (code, out, err) = archive.cli(&["build"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("2 page(s) rendered"), "{out}");
    let before = snapshot(&site(&archive));

    // Nothing changed: nothing rendered, nothing touched, the build's state included.
    let (_, out, _) = archive.cli(&["build"], Some("2024-06-01T00:00:00Z"));
    assert!(
        out.contains("0 page(s) rendered, 0 file(s) written"),
        "{out}"
    );
    assert_eq!(snapshot(&site(&archive)), before);

    // The first article is edited at the source: its page alone is rendered again.
    let edited = ("https://e.com/1", "第一条", "<p>北京举办冬残奥会</p>");
    server.set("/a", rss(&[edited, two]));
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T01:00:00Z")).0, 0);
    let (_, out, _) = archive.cli(&["build"], Some("2024-06-01T00:00:00Z"));
    assert!(out.contains("1 page(s) rendered"), "{out}");
    let page = read(page_with(&archive, "第一条"));
    assert!(page.contains("版本 · 2"), "{page}");
    assert!(page.contains("<ins>残</ins>"), "{page}");
    let second = page_with(&archive, "第二条");
    let unchanged = before.iter().find(|(p, _, _)| *p == second).unwrap();
    let now = std::fs::metadata(&second).unwrap().modified().unwrap();
    assert_eq!(now, unchanged.2, "the second article's page was rewritten");
}

#[tokio::test(flavor = "multi_thread")]
async fn hidden_articles_leave_the_site_and_user_templates_replace_builtins() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[
            ("https://e.com/1", "留下的", "<p>一</p>"),
            ("https://e.com/2", "要隐藏的", "<p>二</p>"),
        ]),
    );
    let archive = TempArchive::new(
        &[("A", vec![server.url("/a")])],
        "[site]\ntemplates = \"my-templates\"\ntitle = \"我的存档\"\n",
    );
    let templates = archive.dir.path().join("my-templates");
    std::fs::create_dir_all(templates.join("assets")).unwrap();
    std::fs::write(
        templates.join("home.html"),
        "{% extends \"base.html\" %}{% block main %}CUSTOM HOME {{ total }}{% endblock %}",
    )
    .unwrap();
    std::fs::write(templates.join("assets/site.css"), "body { color: red }").unwrap();
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let home = read(site(&archive).join("index.html"));
    assert!(home.contains("CUSTOM HOME 2"), "{home}");
    assert!(home.contains("我的存档"), "{home}");
    assert_eq!(
        read(site(&archive).join("assets/site.css")),
        "body { color: red }"
    );
    let hidden = page_with(&archive, "要隐藏的");

    // `hide` takes the article out of the site already built, not only at the next `build`.
    let (code, _, err) = archive.cli(&["hide", "https://e.com/2", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    assert!(!hidden.exists());
    let day_pages = std::fs::read_dir(site(&archive).join("days")).unwrap();
    for page in day_pages {
        assert!(!read(page.unwrap().path()).contains("要隐藏的"));
    }
    assert!(!read(site(&archive).join("index.html")).contains("要隐藏的"));
    let (_, out, _) = archive.cli(&["build"], None);
    assert!(out.contains("0 removed"), "{out}");
    // And `unhide` puts it back.
    let (code, _, err) = archive.cli(&["unhide", "https://e.com/2"], None);
    assert_eq!(code, 0, "{err}");
    assert!(page_with(&archive, "要隐藏的").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn build_out_writes_where_asked_and_a_broken_template_fails_before_writing() {
    let server = FeedServer::start().await;
    server.set("/a", rss(&[("https://e.com/1", "一", "<p>一</p>")]));
    let archive = TempArchive::new(
        &[("A", vec![server.url("/a")])],
        "[site]\ntemplates = \"tpl\"\n",
    );
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let out_dir = archive.dir.path().join("public");
    let (code, _, err) = archive.cli(&["build", "--out", out_dir.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out_dir.join("index.html").exists());

    std::fs::create_dir_all(archive.dir.path().join("tpl")).unwrap();
    std::fs::write(archive.dir.path().join("tpl/article.html"), "{% if %}").unwrap();
    let other = archive.dir.path().join("other");
    let (code, _, err) = archive.cli(&["build", "--out", other.to_str().unwrap()], None);
    assert_eq!(code, 1);
    assert!(err.contains("article.html"), "{err}");
    assert!(!other.join("index.html").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_that_cannot_be_written_fails_the_build_by_name_and_the_next_build_writes_it() {
    let server = FeedServer::start().await;
    server.set("/a", numbered_rss(0..300));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    // A folder where a page worker must write one article's page.
    let out = archive.dir.path().join("public");
    std::fs::create_dir_all(out.join("a/150.html")).unwrap();
    let (code, _, err) = archive.cli(&["build", "--out", out.to_str().unwrap()], None);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("a/150.html"), "{err}");
    // Nothing half-written is left, and once the folder is gone the next build writes the page.
    let temporary = std::fs::read_dir(out.join("a"))
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with(".newsvault-tmp")
        })
        .count();
    assert_eq!(temporary, 0);
    std::fs::remove_dir(out.join("a/150.html")).unwrap();
    let (code, _, err) = archive.cli(&["build", "--out", out.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(read(out.join("a/150.html")).contains("正文"));
    assert_eq!(std::fs::read_dir(out.join("a")).unwrap().count(), 300);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_article_leaves_older_list_pages_alone() {
    let server = FeedServer::start().await;
    let links: Vec<String> = (0..150).map(|i| format!("https://e.com/{i}")).collect();
    let titles: Vec<String> = (0..150).map(|i| format!("第{i}条")).collect();
    let items: Vec<(&str, &str, &str)> = links
        .iter()
        .zip(&titles)
        .map(|(l, t)| (l.as_str(), t.as_str(), "<p>正文</p>"))
        .collect();
    server.set("/a", rss(&items));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T00:00:00Z")).0, 0);
    assert_eq!(archive.cli(&["build"], None).0, 0);
    // 150 articles of one day: the newest page is the day's own name, the older one `-p1`.
    let days = site(&archive).join("days");
    let older = days.join("2021-04-03-p1.html");
    let newest = days.join("2021-04-03.html");
    assert!(read(newest.clone()).contains("150 篇文章"));
    let older_text = read(older.clone());
    assert!(
        !older_text.contains("150 篇文章"),
        "the total is on the newest page only"
    );
    let stamp = std::fs::metadata(&older).unwrap().modified().unwrap();

    let mut more = items.clone();
    more.push(("https://e.com/new", "新的一条", "<p>新</p>"));
    server.set("/a", rss(&more));
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T01:00:00Z")).0, 0);
    assert_eq!(archive.cli(&["build"], None).0, 0);
    assert!(read(newest).contains("新的一条"));
    assert_eq!(read(older.clone()), older_text);
    assert_eq!(
        std::fs::metadata(&older).unwrap().modified().unwrap(),
        stamp,
        "the older page was rewritten"
    );
}

/// The static search index (`search/` in the site) answers as `assets/site.js` reads it:
/// [`search_files`] follows the same steps (terms, FNV-1a shard, postings, document files).
#[tokio::test(flavor = "multi_thread")]
async fn the_static_search_index_finds_chinese_words_and_latin_in_any_case() {
    let server = FeedServer::start().await;
    server.set("/zaobao", fixture("golden/zaobao-realtime-china.xml"));
    server.set(
        "/a",
        rss(&[
            (
                "https://e.com/1",
                "COVID Vaccine 疫苗",
                "<p>The WHO says vaccines work.</p>",
            ),
            ("https://e.com/2", "繁體", "<p>北京冬奧會開幕</p>"),
            (
                "https://e.com/3",
                "冬天",
                "<p>北京冬天很冷，奥运会在夏天</p>",
            ),
        ]),
    );
    let archive = TempArchive::new(
        &[
            ("联合早报", vec![server.url("/zaobao")]),
            ("A", vec![server.url("/a")]),
        ],
        "",
    );
    let (code, _, err) = archive.cli(&["run"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = archive.cli(&["build"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    let site = site(&archive);
    let titles = |query: &str| -> Vec<String> {
        search_files(&site, query)
            .unwrap()
            .into_iter()
            .map(|hit| hit.title)
            .collect()
    };

    // A two-character word inside a longer phrase; the hit's entry leads to its page.
    let hits = search_files(&site, "冬奥").unwrap();
    assert_eq!(hits.len(), 1, "{hits:?}");
    let golden = &hits[0];
    assert_eq!(golden.title, GOLDEN_TITLE);
    assert_eq!(golden.source, "联合早报");
    assert_eq!(golden.score, 1, "冬奥 is in the title");
    assert!(golden.time.starts_with("2021-04-04"), "{golden:?}");
    assert!(!golden.excerpt.is_empty() && !golden.gone);
    assert!(read(site.join(&golden.url)).contains(&format!("<h1>{GOLDEN_TITLE}</h1>")));
    // Words in the text, several words, a single character.
    assert_eq!(titles("郑义溶 厦门"), [GOLDEN_TITLE]);
    assert_eq!(titles("韩国 冬奥"), [GOLDEN_TITLE]);
    assert_eq!(titles("冬").len(), 3, "冬奥, 冬奧 and 冬天");
    assert_eq!(titles("奧"), ["繁體"]);
    // Characters apart are not a word: 冬 and 奥 are both in the third article.
    assert!(!titles("冬奥").contains(&"冬天".to_string()));
    // Traditional and simplified characters each find their own text.
    assert_eq!(titles("冬奧"), ["繁體"]);
    // Latin words, whatever their case; whole words only.
    assert_eq!(titles("covid"), ["COVID Vaccine 疫苗"]);
    assert_eq!(titles("VACCINES who"), ["COVID Vaccine 疫苗"]);
    assert!(titles("vacc").is_empty());
    assert!(titles("，。").is_empty());

    // The files stay small and the manifest says how to find them.
    let manifest = read(site.join("search/manifest.json"));
    assert!(manifest.contains("\"hash\":\"fnv1a32\""), "{manifest}");
    assert!(manifest.contains("\"docs\":4"), "{manifest}");
}

/// Full-width letters and digits are their ASCII forms in the static index, in its queries and
/// in the highlights of `site.js` (run under Node when it is installed).
#[tokio::test(flavor = "multi_thread")]
async fn the_static_search_folds_full_width_forms_in_the_index_and_site_js() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[
            (
                "https://e.com/w",
                "宽 ＣＯＶＩＤ",
                "<p>Ｏｌｙｍｐｉｃｓ　２０２２</p>",
            ),
            ("https://e.com/n", "窄 COVID", "<p>Olympics 2022</p>"),
        ]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let (code, _, err) = archive.cli(&["run"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = archive.cli(&["build"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    let site = site(&archive);
    for query in [
        "covid",
        "ＣＯＶＩＤ",
        "olympics ２０２２",
        "Ｏｌｙｍｐｉｃｓ",
    ] {
        assert_eq!(search_files(&site, query).unwrap().len(), 2, "{query}");
    }
    let test = "the_static_search_folds_full_width_forms_in_the_index_and_site_js";
    let Some(shown) = site_search_js(test, &site, "static", "covid ２０２２", 0) else {
        return;
    };
    assert_eq!(shown["status"], "找到 2 篇", "{shown}");
    let mut hits: Vec<&str> = shown["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    hits.sort();
    assert_eq!(
        hits,
        [
            "宽 [ＣＯＶＩＤ]|Ｏｌｙｍｐｉｃｓ [２０２２]",
            "窄 [COVID]|Olympics [2022]"
        ],
        "{shown}"
    );
}

/// `site.js` on a static host marks a quoted or punctuated query's words.
#[tokio::test(flavor = "multi_thread")]
async fn site_js_marks_the_words_of_a_quoted_query_on_a_static_host() {
    let (_server, archive) = golden_archive().await;
    let (code, _, err) = archive.cli(&["build"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    let test = "site_js_marks_the_words_of_a_quoted_query_on_a_static_host";
    for (query, title) in [
        ("\"冬奥\"", "中韩外长会谈 韩国支持北京举办[冬奥]|"),
        ("《韩国》 冬奥！", "中韩外长会谈 [韩国]支持北京举办[冬奥]|"),
    ] {
        let Some(shown) = site_search_js(test, &site(&archive), "static", query, 0) else {
            return;
        };
        let hit = shown["hits"][0].as_str().unwrap_or_default();
        assert!(hit.starts_with(title), "{query}: {shown}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_static_search_index_follows_edits_new_and_hidden_articles() {
    let server = FeedServer::start().await;
    let one = ("https://e.com/1", "第一条", "<p>北京举办冬奥会</p>");
    let two = ("https://e.com/2", "第二条", "<p>韩国外长访华</p>");
    server.set("/a", rss(&[one, two]));
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    let site = site(&archive);
    let titles = |query: &str| -> Vec<String> {
        let mut titles: Vec<String> = search_files(&site, query)
            .unwrap()
            .into_iter()
            .map(|hit| hit.title)
            .collect();
        titles.sort();
        titles
    };
    let run_and_build = |now: &str| {
        assert_eq!(archive.cli(&["run"], Some(now)).0, 0);
        let (code, out, err) = archive.cli(&["build"], Some(now));
        assert_eq!(code, 0, "{err}");
        out
    };
    run_and_build("2024-06-01T00:00:00Z");
    assert_eq!(titles("冬奥"), ["第一条"]);
    let search_files_before = snapshot(&site.join("search"));

    // Nothing changed: no index file is touched.
    let out = run_and_build("2024-06-01T00:30:00Z");
    assert!(out.contains("0 file(s) written"), "{out}");
    assert_eq!(snapshot(&site.join("search")), search_files_before);

    // Edited at the source: the old text is no longer found, the new one is.
    let edited = ("https://e.com/1", "第一条", "<p>上海举办亚运会</p>");
    server.set("/a", rss(&[edited, two]));
    run_and_build("2024-06-01T01:00:00Z");
    assert!(titles("冬奥").is_empty());
    assert_eq!(titles("亚运"), ["第一条"]);

    // A new article.
    let three = ("https://e.com/3", "第三条", "<p>冬奥会闭幕</p>");
    server.set("/a", rss(&[edited, two, three]));
    run_and_build("2024-06-01T02:00:00Z");
    assert_eq!(titles("冬奥"), ["第三条"]);
    assert_eq!(titles("举办 上海"), ["第一条"]);

    // Hidden: gone from the results and from every file of the index.
    let (code, _, err) = archive.cli(&["hide", "https://e.com/2", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    run_and_build("2024-06-01T03:00:00Z");
    assert!(titles("韩国").is_empty());
    for (path, bytes, _) in snapshot(&site.join("search")) {
        let text = String::from_utf8(bytes).unwrap();
        assert!(!text.contains("第二条"), "{}: {text}", path.display());
    }

    // The index folder deleted: the next build writes it again, whole.
    let before = snapshot(&site.join("search"));
    std::fs::remove_dir_all(site.join("search")).unwrap();
    run_and_build("2024-06-01T03:00:00Z");
    let after = snapshot(&site.join("search"));
    let bytes = |files: &[(PathBuf, Vec<u8>, std::time::SystemTime)]| -> Vec<(PathBuf, Vec<u8>)> {
        files
            .iter()
            .map(|(p, b, _)| (p.clone(), b.clone()))
            .collect()
    };
    assert_eq!(bytes(&after), bytes(&before));
    assert_eq!(titles("冬奥"), ["第三条"]);
}

/// A template change renders every page again, reading every body once; the static index, whose
/// state still holds, reads only the article that changed (through a connection of its own).
#[tokio::test(flavor = "multi_thread")]
async fn a_template_change_renders_every_page_and_the_index_follows_an_edit() {
    let server = FeedServer::start().await;
    let one = ("https://e.com/1", "第一条", "<p>北京举办冬奥会</p>");
    let two = ("https://e.com/2", "第二条", "<p>韩国外长访华</p>");
    // Enough articles that one edit is a patch of the index, its body read alone.
    let more = [
        ("https://e.com/3", "第三条", "<p>三</p>"),
        ("https://e.com/4", "第四条", "<p>四</p>"),
        ("https://e.com/5", "第五条", "<p>五</p>"),
    ];
    server.set("/a", rss(&[one, two, more[0], more[1], more[2]]));
    let archive = TempArchive::new(
        &[("A", vec![server.url("/a")])],
        "[site]\ntemplates = \"tpl\"\n",
    );
    let templates = archive.dir.path().join("tpl");
    std::fs::create_dir_all(&templates).unwrap();
    let site = site(&archive);
    let titles = |query: &str| -> Vec<String> {
        let hits = search_files(&site, query).unwrap();
        hits.into_iter().map(|hit| hit.title).collect()
    };
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T00:00:00Z")).0, 0);
    let (code, _, err) = archive.cli(&["build"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert_eq!(titles("冬奥"), ["第一条"]);

    // Edited at the source, and a template changed.
    let edited = ("https://e.com/1", "第一条", "<p>上海举办亚运会</p>");
    server.set("/a", rss(&[edited, two, more[0], more[1], more[2]]));
    assert_eq!(archive.cli(&["run"], Some("2024-06-01T01:00:00Z")).0, 0);
    let article = TEMPLATES
        .iter()
        .find(|(name, _)| *name == "article.html")
        .unwrap()
        .1;
    let mine = article.replacen("{% block main %}", "{% block main %}<!-- mine -->", 1);
    assert_ne!(mine, article);
    std::fs::write(templates.join("article.html"), mine).unwrap();
    let (code, out, err) = archive.cli(&["build"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("5 page(s) rendered"), "{out}");
    for text in ["第一条", "第二条", "第五条"] {
        assert!(read(page_with(&archive, text)).contains("<!-- mine -->"));
    }
    assert!(read(page_with(&archive, "第一条")).contains("亚运会"));
    assert!(titles("冬奥").is_empty());
    assert_eq!(titles("亚运"), ["第一条"]);
    assert_eq!(titles("韩国"), ["第二条"]);
}

/// An RSS feed of `(guid, title, content, RFC 2822 date)` items.
fn dated_rss(items: &[(&str, &str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>https://example.com/</link>\n",
    );
    for (guid, title, content, date) in items {
        out.push_str(&format!(
            "<item><title><![CDATA[{title}]]></title><description><![CDATA[{content}]]></description>\
             <pubDate>{date}</pubDate><guid>{guid}</guid><link>{guid}</link></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// Every `.html` and `.xml` file of the site, by path relative to it.
fn site_pages(site: &std::path::Path) -> Vec<(String, String)> {
    snapshot(site)
        .into_iter()
        .filter(|(p, _, _)| p.extension().is_some_and(|e| e == "html" || e == "xml"))
        .map(|(p, bytes, _)| {
            let relative = p.strip_prefix(site).unwrap().to_string_lossy().into_owned();
            (relative, String::from_utf8(bytes).unwrap())
        })
        .collect()
}

/// The relative links of the site's pages that lead to no file: `(page, href)`.
fn broken_links(site: &std::path::Path) -> Vec<(String, String)> {
    let mut broken = Vec::new();
    for (page, html) in site_pages(site) {
        if !page.ends_with(".html") {
            continue;
        }
        let folder = std::path::Path::new(&page).parent().unwrap().to_path_buf();
        for piece in html.split("href=\"").skip(1) {
            let href = &piece[..piece.find('"').unwrap()];
            if href.contains(':') || href.starts_with('#') || href.is_empty() {
                continue;
            }
            let href_path = href.split(['?', '#']).next().unwrap();
            let mut target = site.join(&folder);
            for segment in href_path.split('/') {
                match segment {
                    "." | "" => {}
                    ".." => {
                        target.pop();
                    }
                    name => target.push(name),
                }
            }
            if !target.is_file() {
                broken.push((page.clone(), href.to_string()));
            }
        }
    }
    broken
}

/// Characters XML 1.0 forbids (the C0 controls but tab, line feed and carriage return;
/// U+FFFE, U+FFFF).
fn forbidden_in_xml(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
        })
        .collect()
}

/// `build --out DIR` into a folder holding the user's own files: only pages the site's builds
/// wrote are ever removed.
#[tokio::test(flavor = "multi_thread")]
async fn build_removes_only_pages_it_wrote_itself() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[
            ("https://e.com/1", "留下的", "<p>一</p>"),
            ("https://e.com/2", "要隐藏的", "<p>二</p>"),
        ]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let out = archive.dir.path().join("public");
    let mine = [
        "index2.html",
        "notes/about.html",
        "notes/feed.xml",
        "a/mine.html",
        "days/my-day.html",
        "sources/mine/index.html",
        "keep.txt",
    ];
    for name in mine {
        let path = out.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "my own").unwrap();
    }
    let build = || {
        let (code, out_text, err) = archive.cli(&["build", "--out", out.to_str().unwrap()], None);
        assert_eq!(code, 0, "{err}");
        out_text
    };
    // A first build (no state of its own yet) removes nothing.
    build();
    for name in mine {
        assert_eq!(read(out.join(name)), "my own", "{name}");
    }
    let hidden: Vec<PathBuf> = std::fs::read_dir(out.join("a"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| read(p.clone()).contains("要隐藏的"))
        .collect();
    assert_eq!(hidden.len(), 1);

    // A page the build wrote, of an article hidden since, is removed; the user's files stay,
    // those added since the first build included.
    std::fs::write(out.join("later.html"), "my own").unwrap();
    let (code, _, err) = archive.cli(&["hide", "https://e.com/2", "--reason", "takedown"], None);
    assert_eq!(code, 0, "{err}");
    build();
    assert!(!hidden[0].exists(), "the hidden article's page stayed");
    for name in mine.iter().chain(&["later.html"]) {
        assert_eq!(read(out.join(name)), "my own", "{name}");
    }
}

/// `[site] title` is on every page: changing it renders every page again.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_site_title_shows_on_every_page() {
    let server = FeedServer::start().await;
    server.set("/a", numbered_rss(1..=3));
    server.set("/b", numbered_rss(4..=5));
    let archive = TempArchive::new(
        &[("A", vec![server.url("/a")]), ("B", vec![server.url("/b")])],
        "[site]\ntitle = \"旧的标题\"\n",
    );
    assert_eq!(archive.cli(&["run"], None).0, 0);
    assert_eq!(archive.cli(&["build"], None).0, 0);
    let config = std::fs::read_to_string(&archive.config).unwrap();
    std::fs::write(&archive.config, config.replace("旧的标题", "新的标题")).unwrap();
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let pages = site_pages(&site(&archive));
    assert!(pages.len() > 10, "{}", pages.len());
    for (page, text) in pages {
        assert!(!text.contains("旧的标题"), "{page} keeps the old title");
        assert!(text.contains("新的标题"), "{page} lacks the new title");
    }
}

/// Two source ids that make the same folder name (`src a`, `src/a`) keep their folders whatever
/// the order the build meets them in, and no page links to a folder that is not there.
#[tokio::test(flavor = "multi_thread")]
async fn colliding_source_folders_stay_put_and_every_link_holds() {
    let server = FeedServer::start().await;
    let old = (
        "https://e.com/1",
        "甲一",
        "<p>一</p>",
        "Sat, 03 Apr 2021 10:00:00 GMT",
    );
    let newer = (
        "https://f.com/1",
        "乙一",
        "<p>二</p>",
        "Sun, 04 Apr 2021 10:00:00 GMT",
    );
    server.set("/a", dated_rss(&[old]));
    server.set("/b", dated_rss(&[newer]));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("newsvault.toml");
    std::fs::write(
        &config,
        format!(
            "archive = \"archive\"\n[[source]]\nname = \"甲\"\nid = \"src a\"\nfeeds = [{:?}]\n\
             [[source]]\nname = \"乙\"\nid = \"src/a\"\nfeeds = [{:?}]\n",
            server.url("/a"),
            server.url("/b"),
        ),
    )
    .unwrap();
    let archive = TempArchive {
        dir,
        config: config.clone(),
    };
    let folders = |archive: &TempArchive| -> Vec<(String, String)> {
        let mut found = Vec::new();
        for entry in std::fs::read_dir(site(archive).join("sources")).unwrap() {
            let entry = entry.unwrap();
            if entry.file_type().unwrap().is_dir() {
                let index = read(entry.path().join("index.html"));
                let name = if index.contains("<h1>甲</h1>") {
                    "甲"
                } else {
                    "乙"
                };
                found.push((
                    name.to_string(),
                    entry.file_name().to_string_lossy().into_owned(),
                ));
            }
        }
        found.sort();
        found
    };
    assert_eq!(archive.cli(&["run"], None).0, 0);
    assert_eq!(archive.cli(&["build"], None).0, 0);
    let before = folders(&archive);
    assert_eq!(before.len(), 2, "{before:?}");
    assert_eq!(
        broken_links(&site(&archive)),
        Vec::<(String, String)>::new()
    );

    // 甲 gets the newest article: the walk meets its source first now.
    let newest = (
        "https://e.com/2",
        "甲二",
        "<p>三</p>",
        "Mon, 05 Apr 2021 10:00:00 GMT",
    );
    server.set("/a", dated_rss(&[old, newest]));
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    assert_eq!(folders(&archive), before);
    assert_eq!(
        broken_links(&site(&archive)),
        Vec::<(String, String)>::new()
    );
}

/// An imported post whose `from:` is a `javascript:` link: neither the article's page nor the
/// Atom feed makes it a link.
#[tokio::test(flavor = "multi_thread")]
async fn javascript_links_of_imported_posts_are_never_links_in_the_site() {
    let archive = TempArchive::new(&[("联合早报", vec!["https://e.com/feed".into()])], "");
    let posts = archive.dir.path().join("old/_posts");
    std::fs::create_dir_all(&posts).unwrap();
    std::fs::write(
        posts.join("2021-04-04-evil.md"),
        "---\nlayout: post\ntitle: \"evil link\"\ndate: 2021-04-04T08:45:53.966Z\n\
         author: 联合早报\nfrom: javascript:alert(document.domain)\ntags: [ 联合早报 ]\n\
         categories: [ 联合早报 ]\n---\n<!--1617572220000-->\n\
         [evil link](javascript:alert(document.domain))\n------\n\n<div>\n<p>正文 冬奥</p>\n</div>\n",
    )
    .unwrap();
    let (code, _, err) = archive.cli(&["import", "jekyll", posts.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let page = read(page_with(&archive, "evil link"));
    assert!(page.contains("正文 冬奥"), "{page}");
    let feed = read(site(&archive).join("feed.xml"));
    assert!(feed.contains("evil link"), "{feed}");
    for (name, text) in [("page", &page), ("feed", &feed)] {
        assert!(
            !text.to_lowercase().contains("javascript:"),
            "{name}: {text}"
        );
    }
}

/// A control character in an article (`&#1;`) stays out of the Atom feed, which stays
/// well-formed XML, and out of the pages.
#[tokio::test(flavor = "multi_thread")]
async fn control_characters_stay_out_of_the_feed_and_the_pages() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[("https://e.com/1", "控制字符", "<p>前&#1;后&#x1F;尾</p>")]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let feed = read(site(&archive).join("feed.xml"));
    assert!(feed.contains("前"), "{feed}");
    assert_eq!(forbidden_in_xml(&feed), Vec::<char>::new(), "{feed:?}");
    for (page, text) in site_pages(&site(&archive)) {
        assert_eq!(forbidden_in_xml(&text), Vec::<char>::new(), "{page}");
    }
    let hits = search_files(&site(&archive), "前").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(
        forbidden_in_xml(&hits[0].excerpt),
        Vec::<char>::new(),
        "{:?}",
        hits[0]
    );
}

/// An article without a title shows a placeholder wherever its title would be a link or a
/// heading: pages, feed, search results.
#[tokio::test(flavor = "multi_thread")]
async fn untitled_articles_show_a_placeholder() {
    let server = FeedServer::start().await;
    server.set(
        "/a",
        rss(&[("https://e.com/1", "", "<p>没有标题的正文</p>")]),
    );
    let archive = TempArchive::new(&[("A", vec![server.url("/a")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let (code, _, err) = archive.cli(&["build"], None);
    assert_eq!(code, 0, "{err}");
    let site = site(&archive);
    let page = read(page_with(&archive, "没有标题的正文"));
    assert!(page.contains("<h1>(无标题)</h1>"), "{page}");
    for (page, text) in site_pages(&site) {
        assert!(!text.contains("\"></a>"), "{page}: an empty link");
        assert!(!text.contains("<h1></h1>"), "{page}: an empty heading");
    }
    assert!(read(site.join("index.html")).contains(".html\">(无标题)</a>"));
    assert!(read(site.join("feed.xml")).contains("<title>(无标题)</title>"));
    let hits = search_files(&site, "标题").unwrap();
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].title, "(无标题)");
    let (code, out, err) = archive.cli(&["search", "标题", "--json"], None);
    assert_eq!(code, 0, "{err}");
    let found: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(found["hits"][0]["title"], "(无标题)", "{found}");
}
