//! Content rules: cleaning and sanitising against hostile markup, lazy images, ads, relative
//! links, filters, full text from article pages, and `reprocess`.

mod common;

use common::{FeedServer, TempArchive};
use dom_query::Document;
use newsvault::content::clean::{CleanRules, clean_html, sanitise};
use url::Url;

/// Tags that can carry no script in what `clean` lets through.
const SAFE_TAGS: &[&str] = &[
    "a",
    "abbr",
    "acronym",
    "area",
    "article",
    "aside",
    "b",
    "bdi",
    "bdo",
    "blockquote",
    "br",
    "caption",
    "center",
    "cite",
    "code",
    "col",
    "colgroup",
    "data",
    "dd",
    "del",
    "details",
    "dfn",
    "div",
    "dl",
    "dt",
    "em",
    "figcaption",
    "figure",
    "footer",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "header",
    "hgroup",
    "hr",
    "i",
    "img",
    "ins",
    "kbd",
    "li",
    "map",
    "mark",
    "nav",
    "ol",
    "p",
    "picture",
    "pre",
    "q",
    "rp",
    "rt",
    "rtc",
    "ruby",
    "s",
    "samp",
    "section",
    "small",
    "source",
    "span",
    "strike",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "time",
    "tr",
    "tt",
    "u",
    "ul",
    "var",
    "wbr",
    "html",
    "head",
    "body",
];

/// Fails when `html` could run script in a browser: a tag outside the safe set, an event
/// handler, a `style` attribute, or a URL attribute with a scheme other than http(s)/mailto.
fn assert_inert(vector: &str, html: &str) {
    let doc = Document::from(html);
    for node in doc.select("*").nodes() {
        let name = node
            .node_name()
            .map(|n| n.to_string())
            .unwrap_or_default()
            .to_lowercase();
        assert!(
            SAFE_TAGS.contains(&name.as_str()),
            "<{name}> survives {vector:?}: {html}"
        );
        for attr in node.attrs() {
            let key = attr.name.local.to_string().to_lowercase();
            let value = attr.value.to_string();
            assert!(!key.starts_with("on"), "{key} survives {vector:?}: {html}");
            assert!(key != "style", "style survives {vector:?}: {html}");
            if matches!(
                key.as_str(),
                "href"
                    | "src"
                    | "srcset"
                    | "action"
                    | "formaction"
                    | "background"
                    | "cite"
                    | "poster"
            ) {
                // As a browser reads it: outer spaces and controls trimmed, tabs and line breaks
                // removed; a scheme is a letter, then letters, digits, `+`, `-`, `.`, then `:`.
                let cleaned: String = value
                    .trim_matches(|c: char| c <= ' ')
                    .chars()
                    .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
                    .collect();
                let scheme = cleaned.split(':').next().unwrap_or("").to_lowercase();
                let is_scheme = cleaned.contains(':')
                    && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                    && scheme
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
                let ok = !is_scheme || ["http", "https", "mailto"].contains(&scheme.as_str());
                assert!(ok, "{key}={value:?} survives {vector:?}: {html}");
            }
        }
    }
    let lower = html.to_lowercase();
    for needle in [
        "<script", "<base", "<meta", "<iframe", "<object", "<embed", "<svg",
    ] {
        assert!(
            !lower.contains(needle),
            "{needle} survives {vector:?}: {html}"
        );
    }
}

fn vectors() -> Vec<String> {
    let text = String::from_utf8(common::fixture("xss/vectors.txt")).unwrap();
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn no_xss_vector_leaves_executable_script() {
    let vectors = vectors();
    assert!(vectors.len() >= 50);
    let base = Url::parse("https://news.example/a/b").unwrap();
    for vector in &vectors {
        let wrapped = format!("<div><p>before</p>{vector}<p>after</p></div>");
        assert_inert(
            vector,
            &clean_html(&wrapped, Some(&base), &CleanRules::default()),
        );
        assert_inert(vector, &sanitise(&wrapped, None, false));
        let with_iframes = CleanRules {
            keep_iframes: true,
            ..CleanRules::default()
        };
        let out = clean_html(&wrapped, Some(&base), &with_iframes);
        let without_iframes = Document::from(out.as_str());
        without_iframes.select("iframe").remove();
        assert_inert(vector, &without_iframes.html());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn clean_sources_get_lazy_images_no_ads_and_absolute_links() {
    let server = FeedServer::start().await;
    let content = "<div class=\"figure-media\"><img class=\"lazyload\" data-src=\"/img/1.jpg\" src=\"data:image/gif;base64,R0lGOD\"></div>\n  \
        <p>第一段。<a href=\"../other/2\">相关</a></p>\n  \
        <div id=\"dfp-ad-imu1-wrapper\" class=\"dfp-tag-wrapper\"><div id=\"dfp-ad-imu1\" class=\"dfp-tag\"></div></div>\n  \
        <img src=\"https://track.example/p.gif\" width=\"1\" height=\"1\"><script>steal()</script><p onclick=\"x()\">第二段。</p>";
    server.set(
        "/feed",
        common::rss(&[("https://news.example/world/china/story-1", "清理", content)]),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("newsvault.toml");
    std::fs::write(
        &config,
        format!(
            "archive = \"a\"\n[[source]]\nname = \"S\"\nfeeds = [\"{}\"]\n",
            server.url("/feed")
        ),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["run", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let posts = dir.path().join("a/_posts");
    let name = std::fs::read_dir(&posts)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let post = std::fs::read_to_string(name).unwrap();
    let body = post.split("<div>\n").nth(1).unwrap();
    assert!(
        body.contains(
            "<img src=\"https://news.example/img/1.jpg\" referrerpolicy=\"no-referrer\">"
        ),
        "{body}"
    );
    assert!(
        body.contains("href=\"https://news.example/world/other/2\""),
        "{body}"
    );
    assert!(
        !body.contains("dfp") && !body.contains("track.example") && !body.contains("steal"),
        "{body}"
    );
    assert!(
        !body.contains("onclick") && body.contains("第二段。"),
        "{body}"
    );
    assert_eq!(body.matches('\n').count(), 2, "content on one line: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn filters_keep_what_the_original_kept() {
    let server = FeedServer::start().await;
    let item = |link: &str, category: &str| {
        format!(
            "<item><title>{category}</title><link>{link}</link><category>{category}</category><description>x</description></item>"
        )
    };
    let feed = format!(
        "<rss version=\"2.0\"><channel><title>t</title>{}{}{}{}</channel></rss>",
        item("https://e.com/1", "【404文库】"),
        item("https://e.com/2", "English"),
        item("https://e.com/3", "🔥 hot"),
        item("https://e.com/4", "中国"),
    );
    server.set("/feed", feed);
    // The rule of the repository's config for 中国数字时代, verbatim.
    let shipped =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/newsvault.toml")).unwrap();
    let rule = shipped
        .lines()
        .find(|l| l.starts_with("include = { categories"))
        .expect("the shipped config carries the 中国数字时代 rule");
    let archive = TempArchive::new(&[("S", vec![server.url("/feed")])], "");
    let mut text = std::fs::read_to_string(&archive.config).unwrap();
    text.push_str(rule);
    text.push_str("\nexclude = { link = '/4$' }\n");
    std::fs::write(&archive.config, text).unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    let names = archive.post_names();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.iter().any(|n| n.contains("404文库")) && names.iter().any(|n| n.contains("🔥")));
}

/// An article page in the corpus generator's shape, with navigation around it.
fn page(title: &str, paragraphs: &[&str]) -> String {
    let body: String = paragraphs.iter().map(|p| format!("<p>{p}</p>\n")).collect();
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{title} | 联合早报</title></head>\n\
         <body><nav class=\"site-nav\"><a href=\"/\">首页</a> <a href=\"/news\">新闻导航栏目</a> <a href=\"/sg\">新加坡</a></nav>\
         <article><h1 class=\"article-title\">{title}</h1>\n<div class=\"article-content-rawhtml\">\n{body}</div></article>\
         <footer>版权所有 页脚导航</footer></body></html>\n"
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn full_text_by_selector_and_automatically() {
    let server = FeedServer::start().await;
    let paragraphs = [
        "据官方媒体报道，相关部门当天下午召开专题会议，研究部署下一阶段工作。分析人士认为，这一举措有助于稳定市场预期，但效果仍有待观察。",
        "多名受访民众表示，近期物价上涨明显，日常开支压力有所增加。统计数据显示，今年前五个月全国固定资产投资同比增长百分之四点二。",
        "当局强调，将坚持稳中求进的工作总基调，推动经济持续回升向好。有网民在社交媒体上发文质疑，相关政策执行过程中存在一刀切现象。",
        "记者在现场看到，不少商铺已经恢复营业，街道上人流逐渐增多。专家指出，外部环境复杂多变，出口企业面临的不确定性仍然较大。",
    ];
    server.set("/story/1", page("北京发布新规", &paragraphs));
    server.set("/story/2", page("上海回应关切", &paragraphs));
    let feed = common::rss(&[
        (&server.url("/story/1"), "北京发布新规", "<p>摘要一</p>"),
        (&server.url("/story/2"), "上海回应关切", "<p>摘要二</p>"),
        (&server.url("/story/missing"), "没有页面", "<p>摘要三</p>"),
    ]);
    server.set("/feed", feed);
    for rule in [
        "fulltext = { selector = \"div.article-content-rawhtml\" }",
        "fulltext = \"auto\"",
    ] {
        let archive = TempArchive::new(
            &[("S", vec![server.url("/feed")])],
            "[fetch]\nattempts = 1\nallow_private_addresses = true\n",
        );
        let text = std::fs::read_to_string(&archive.config)
            .unwrap()
            .replace("content = \"verbatim\"", "");
        std::fs::write(&archive.config, format!("{text}{rule}\n")).unwrap();
        let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
        assert_eq!(code, 0, "{rule}: {out}{err}");
        assert!(out.contains("2 full text(s) fetched"), "{rule}: {out}");
        assert!(
            out.contains("/story/missing: full text not had (HTTP 404)"),
            "{rule}: {out}"
        );
        for name in archive.post_names() {
            let post = std::fs::read_to_string(archive.posts().join(&name)).unwrap();
            if name.contains("没有页面") {
                assert!(
                    post.contains("<p>摘要三</p>"),
                    "the feed's content is kept: {post}"
                );
                continue;
            }
            for p in &paragraphs {
                assert!(
                    post.contains(p),
                    "{rule}: paragraph missing from {name}:\n{post}"
                );
            }
            for nav in ["新闻导航栏目", "页脚导航", "摘要"] {
                assert!(!post.contains(nav), "{rule}: {nav} in {name}:\n{post}");
            }
        }
        // The next run does not fetch the pages again, but tries the missing one again.
        let before = server.hits("/story/1");
        let (_, out, _) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
        assert_eq!(server.hits("/story/1"), before, "{rule}");
        assert!(
            out.contains("/story/missing: full text not had"),
            "{rule}: {out}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn reprocess_rederives_without_adding_versions() {
    let server = FeedServer::start().await;
    server.set(
        "/feed",
        common::rss(&[(
            "https://e.com/1",
            "标题",
            "<p>正文</p><div class=\"share\">分享</div>",
        )]),
    );
    let archive = TempArchive::new(&[("S", vec![server.url("/feed")])], "");
    let text = std::fs::read_to_string(&archive.config)
        .unwrap()
        .replace("content = \"verbatim\"", "");
    std::fs::write(&archive.config, &text).unwrap();
    archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    let name = archive.post_names()[0].clone();
    assert!(
        std::fs::read_to_string(archive.posts().join(&name))
            .unwrap()
            .contains("分享")
    );
    // The site and the search index are built before the reprocess …
    assert_eq!(archive.cli(&["build"], None).0, 0);
    let (_, found, _) = archive.cli(&["search", "分享"], None);
    assert!(found.contains("标题"), "{found}");
    std::fs::write(&archive.config, format!("{text}remove = [\".share\"]\n")).unwrap();
    let (code, out, err) = archive.cli(&["reprocess"], Some("2024-06-01T01:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("1 article(s) re-derived, 1 post(s) rewritten"),
        "{out}"
    );
    let post = std::fs::read_to_string(archive.posts().join(&name)).unwrap();
    assert!(!post.contains("分享") && post.contains("正文"), "{post}");
    assert!(!post.contains("versions:"), "{post}");
    let (_, history, _) = archive.cli(&["history", "https://e.com/1"], None);
    assert!(history.contains("1 version(s)"), "{history}");
    // … and follow the new body though no version was added: the page is rendered again and
    // the removed words are no longer found.
    let (_, out, _) = archive.cli(&["build"], None);
    assert!(out.contains("1 page(s) rendered"), "{out}");
    let page = std::fs::read_dir(archive.dir.path().join("archive/.newsvault/site/a"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|page| page.contains("正文"))
        .expect("the article's page");
    assert!(!page.contains("分享"), "{page}");
    let (_, found, _) = archive.cli(&["search", "分享"], None);
    assert!(!found.contains("标题"), "{found}");
    // And a run over the same feed afterwards changes nothing.
    let (_, out, _) = archive.cli(&["run"], Some("2024-06-01T02:00:00Z"));
    assert!(out.contains("0 new, 0 changed"), "{out}");
}

#[tokio::test(flavor = "multi_thread")]
async fn images_are_downloaded_once_and_failures_retried() {
    let server = FeedServer::start().await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\nnot really a png but bytes".to_vec();
    let png_served = png.clone();
    server.route("/img/a.png", move |_, _| {
        common::Reply::ok(png_served.clone()).header("Content-Type", "image/png")
    });
    server.route("/img/late.jpg", |_, n| {
        if n == 0 {
            common::Reply::status(503)
        } else {
            common::Reply::ok(b"jpeg bytes".to_vec()).header("Content-Type", "image/jpeg")
        }
    });
    server.route("/img/x.svg", |_, _| {
        common::Reply::ok(b"<svg onload=alert(1)/>".to_vec())
            .header("Content-Type", "image/svg+xml")
    });
    let a = server.url("/img/a.png");
    let late = server.url("/img/late.jpg");
    let svg = server.url("/img/x.svg");
    server.set(
        "/feed",
        common::rss(&[
            (
                "https://e.com/1",
                "一",
                &format!("<p>1</p><img src=\"{a}\"><img src=\"{late}\">"),
            ),
            (
                "https://e.com/2",
                "二",
                &format!("<p>2</p><img src=\"{a}\"><img src=\"{svg}\">"),
            ),
        ]),
    );
    let archive = TempArchive::new(
        &[("S", vec![server.url("/feed")])],
        "[fetch]\nattempts = 1\nallow_private_addresses = true\n",
    );
    let text = std::fs::read_to_string(&archive.config)
        .unwrap()
        .replace("content = \"verbatim\"", "");
    std::fs::write(&archive.config, format!("{text}images = \"download\"\n")).unwrap();
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T00:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 image(s) saved"), "{out}");
    assert!(
        out.contains("x.svg: not a raster image (image/svg+xml)"),
        "{out}"
    );
    assert!(out.contains("late.jpg: HTTP 503"), "{out}");
    assert_eq!(
        server.hits("/img/a.png"),
        1,
        "one download for two articles"
    );
    let sha = hex::encode(ring::digest::digest(&ring::digest::SHA256, &png));
    let file = archive.archive().join(format!("assets/images/{sha}.png"));
    assert_eq!(std::fs::read(&file).unwrap(), png);
    let posts: Vec<String> = archive
        .post_names()
        .iter()
        .map(|n| std::fs::read_to_string(archive.posts().join(n)).unwrap())
        .collect();
    let local = format!("src=\"/assets/images/{sha}.png\"");
    let origin = format!("data-origin=\"{a}\"");
    assert!(
        posts
            .iter()
            .all(|p| p.contains(&local) && p.contains(&origin)),
        "{posts:?}"
    );
    assert!(
        posts.iter().any(|p| p.contains(&format!("src=\"{late}\""))),
        "failed image left remote"
    );

    // The next run tries the failed ones again; the late image arrives.
    let (_, out, _) = archive.cli(&["run"], Some("2024-06-01T01:00:00Z"));
    assert!(out.contains("1 image(s) saved"), "{out}");
    assert_eq!(server.hits("/img/a.png"), 1);
    let first = archive
        .post_names()
        .into_iter()
        .find(|n| n.contains('一'))
        .unwrap();
    let post = std::fs::read_to_string(archive.posts().join(first)).unwrap();
    assert!(post.contains(&format!("data-origin=\"{late}\"")), "{post}");
}
