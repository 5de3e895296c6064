//! `serve`: the built site and the search API over HTTP on a loopback port, started and stopped
//! by the test through the shutdown future.

mod common;

use common::{FeedServer, GOLDEN_NOW, TempArchive, golden_archive};
use newsvault::config::Config;

struct Running {
    base: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    async fn stop(mut self) {
        self.stop.take().unwrap().send(()).unwrap();
        self.task.await.unwrap().unwrap();
    }
}

/// An archive of the golden feed, built, served on 127.0.0.1:0.
async fn serve_golden() -> (FeedServer, TempArchive, Running) {
    let (server, archive) = golden_archive().await;
    assert_eq!(archive.cli(&["build"], Some(GOLDEN_NOW)).0, 0);
    let config = Config::load(&archive.config).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(newsvault::serve::serve(
        listener,
        config.site_dir(),
        config.index_dir(),
        async move {
            let _ = stopped.await;
        },
    ));
    let running = Running {
        base,
        stop: Some(stop),
        task,
    };
    (server, archive, running)
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_pages_with_security_headers_and_searches() {
    let (_feeds, _archive, running) = serve_golden().await;
    let client = reqwest::Client::new();
    let home = client.get(&running.base).send().await.unwrap();
    assert_eq!(home.status(), 200);
    let csp = home.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert_eq!(home.headers()["x-content-type-options"], "nosniff");
    assert!(
        home.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(home.text().await.unwrap().contains("中韩外长会谈"));

    let css = client
        .get(format!("{}/assets/site.css", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");

    let found = client
        .get(format!("{}/api/search", running.base))
        .query(&[("q", "冬奥")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let found: serde_json::Value = serde_json::from_str(&found).unwrap();
    assert_eq!(found["total"], 1);
    let url = found["hits"][0]["url"].as_str().unwrap();
    let page = client
        .get(format!("{}/{url}", running.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<h1>中韩外长会谈 韩国支持北京举办冬奥</h1>")
    );
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_queries_answer_400_with_a_message() {
    let (_feeds, _archive, running) = serve_golden().await;
    let client = reqwest::Client::new();
    let long = "冬".repeat(300);
    for query in [
        vec![],
        vec![("q", "")],
        vec![("q", "，。！")],
        vec![("q", long.as_str())],
        vec![("q", "冬奥"), ("limit", "100000")],
        vec![("q", "冬奥"), ("limit", "x")],
        vec![("q", "冬奥"), ("offset", "x")],
        vec![("q", "冬奥"), ("offset", "-1")],
        vec![("q", "冬奥"), ("offset", "1001")],
        vec![("q", "冬奥"), ("offset", "")],
        vec![("q", "冬奥"), ("since", "soon")],
        vec![("q", "\"(AND OR *:*")],
    ] {
        let response = client
            .get(format!("{}/api/search", running.base))
            .query(&query)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        if query.first().is_some_and(|(_, q)| q.starts_with('"')) {
            // Query syntax means nothing here: the words are searched as they are.
            assert_eq!(status, 200, "{query:?}: {body}");
        } else {
            assert_eq!(status, 400, "{query:?}: {body}");
            assert!(!body["error"].as_str().unwrap().is_empty());
        }
    }
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn no_path_leaves_the_site_folder() {
    let (_feeds, archive, running) = serve_golden().await;
    let client = reqwest::Client::new();
    for path in [
        "/../newsvault.toml",
        "/%2e%2e/%2e%2e/newsvault.toml",
        "/a/..%2f..%2f..%2fnewsvault.toml",
        "/.newsvault-build.json",
        "/a/999999.html",
    ] {
        // Sent raw: a client would normalise the dots away.
        let mut stream = tokio::net::TcpStream::connect(running.base.trim_start_matches("http://"))
            .await
            .unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        stream
            .write_all(
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
            )
            .await
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 404"), "{path}: {answer}");
        assert!(!answer.contains("[[source]]"), "{path} leaked the config");
    }
    assert!(archive.config.exists());
    let post = client.post(&running.base).send().await.unwrap();
    assert_eq!(post.status(), 405);
    running.stop().await;
}

/// The API's snippets and `site.js` (under Node, when installed) mark the words of a query
/// with quotes or punctuation, and the snippet starts at the hit.
#[tokio::test(flavor = "multi_thread")]
async fn quoted_queries_are_marked_by_the_api_and_site_js() {
    let (_feeds, archive, running) = serve_golden().await;
    let answer = api_search(&running.base, "%22%E5%86%AC%E5%A5%A5%22").await; // "冬奥"
    let snippet = answer["hits"][0]["snippet"].as_array().unwrap();
    let marked: Vec<&str> = snippet
        .iter()
        .filter(|p| p["hit"] == true)
        .map(|p| p["text"].as_str().unwrap())
        .collect();
    assert!(marked.contains(&"冬奥"), "{answer}");
    let site = Config::load(&archive.config).unwrap().site_dir();
    let test = "quoted_queries_are_marked_by_the_api_and_site_js";
    if let Some(shown) = common::site_search_js(test, &site, &running.base, "冬奥，", 0) {
        let hit = shown["hits"][0].as_str().unwrap_or_default();
        let (title, snippet) = hit.split_once('|').unwrap_or_default();
        assert!(title.contains("[冬奥]"), "{shown}");
        assert!(snippet.contains("[冬奥]"), "{shown}");
    }
    running.stop().await;
}

/// `offset` pages through the results (the next page holds the next best, none of the first),
/// and `site.js` pages with it: 显示更多 shows the rest.
#[tokio::test(flavor = "multi_thread")]
async fn the_api_pages_with_offset_and_site_js_shows_more() {
    let server = FeedServer::start().await;
    server.set("/f", common::numbered_rss(1..=31));
    let archive = TempArchive::new(&[("源", vec![server.url("/f")])], "");
    assert_eq!(archive.cli(&["run"], Some(GOLDEN_NOW)).0, 0);
    let (_serve, base) = common::start_serve(&archive);
    let page = |offset: usize| {
        let base = base.clone();
        async move {
            let answer = api_search(&base, &format!("%E6%AD%A3%E6%96%87&offset={offset}")).await; // 正文
            assert_eq!(answer["total"], 31, "{answer}");
            assert_eq!(answer["offset"], offset, "{answer}");
            answer["hits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["title"].as_str().unwrap().to_string())
                .collect::<Vec<String>>()
        }
    };
    let (first, second, none) = (page(0).await, page(20).await, page(31).await);
    assert_eq!((first.len(), second.len(), none.len()), (20, 11, 0));
    let mut all: Vec<String> = first.iter().chain(&second).cloned().collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 31, "{first:?} {second:?}");
    // Pages follow one order: from the 20th on, the first page's last and the second page.
    let mut from_19 = first[19..].to_vec();
    from_19.extend(second);
    assert_eq!(page(19).await, from_19);

    let site = Config::load(&archive.config).unwrap().site_dir();
    let test = "the_api_pages_with_offset_and_site_js_shows_more";
    let Some(shown) = common::site_search_js(test, &site, &base, "正文", 0) else {
        return;
    };
    assert_eq!(shown["status"], "找到 31 篇，显示前 20 篇", "{shown}");
    assert_eq!(shown["more_hidden"], false, "{shown}");
    let shown = common::site_search_js(test, &site, &base, "正文", 1).unwrap();
    assert_eq!(shown["status"], "找到 31 篇", "{shown}");
    assert_eq!(shown["more_hidden"], true, "{shown}");
    let mut titles: Vec<String> = shown["hits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap().split('|').next().unwrap().to_string())
        .collect();
    assert_eq!(titles.len(), 31, "{shown}");
    titles.sort();
    titles.dedup();
    assert_eq!(titles.len(), 31, "each once: {shown}");
}

/// What `GET /api/search?q=QUERY` answers, as JSON.
async fn api_search(base: &str, query: &str) -> serde_json::Value {
    let answer = reqwest::get(format!("{base}/api/search?q={query}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_serve_command_builds_a_damaged_index_again() {
    let (_server, archive) = golden_archive().await;
    let meta = archive.archive().join(".newsvault/index/meta.json");
    std::fs::write(&meta, "damaged").unwrap();

    let (_serve, base) = common::start_serve(&archive);
    let answer = api_search(&base, "冬奥").await;
    assert_eq!(answer["total"], 1, "{answer}");
    assert_ne!(std::fs::read_to_string(&meta).unwrap(), "damaged");
}

/// An index whose `meta.json` reads but one of whose segments does not open is built again too.
#[tokio::test(flavor = "multi_thread")]
async fn the_serve_command_builds_an_index_with_a_damaged_segment_again() {
    let (_server, archive) = golden_archive().await;
    common::damage_a_segment(&archive.archive().join(".newsvault/index"));

    let (_serve, base) = common::start_serve(&archive);
    let answer = api_search(&base, "冬奥").await;
    assert_eq!(answer["total"], 1, "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn with_the_index_left_to_them_search_and_serve_bring_it_up_to_date() {
    let server = FeedServer::start().await;
    let item = |n: usize| {
        (
            format!("https://e.com/{n}"),
            format!("报道{n}"),
            format!("<p>冬奥 第{n}篇</p>"),
        )
    };
    let feed = |items: &[(String, String, String)]| {
        let items: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(l, t, c)| (l.as_str(), t.as_str(), c.as_str()))
            .collect();
        common::rss(&items)
    };
    server.set("/f", feed(&[item(1)]));
    let archive = TempArchive::new(
        &[("源", vec![server.url("/f")])],
        "[site]\nindex_on_run = false\n",
    );
    let index = archive.archive().join(".newsvault/index");
    assert_eq!(archive.cli(&["run"], Some(GOLDEN_NOW)).0, 0);
    assert!(!index.exists(), "the run left the index alone");
    assert_eq!(archive.cli(&["build"], Some(GOLDEN_NOW)).0, 0);
    let (code, out, err) = archive.cli(&["search", "冬奥"], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("报道1"), "{out}");

    // A second article: the run leaves the index as it was, `serve` brings it up to date.
    server.set("/f", feed(&[item(1), item(2)]));
    assert_eq!(archive.cli(&["run"], Some(GOLDEN_NOW)).0, 0);
    let (_serve, base) = common::start_serve(&archive);
    let answer = api_search(&base, "冬奥").await;
    assert_eq!(answer["total"], 2, "{answer}");
}

/// `serve` brings a site built before a run up to date when it starts, and again when a run
/// changes the archive while it serves: every search result's page is there, as it is now.
#[tokio::test(flavor = "multi_thread")]
async fn the_serve_command_keeps_the_site_up_to_date_with_the_archive() {
    let server = FeedServer::start().await;
    let feed = |items: &[(&str, &str)]| {
        let items: Vec<(&str, &str, &str)> = items
            .iter()
            .map(|(link, title)| (*link, *title, "<p>冬奥 报道</p>"))
            .collect();
        common::rss(&items)
    };
    let one = ("https://e.com/1", "第一篇");
    let two = ("https://e.com/2", "第二篇");
    server.set("/f", feed(&[one]));
    let archive = TempArchive::new(&[("源", vec![server.url("/f")])], "");
    assert_eq!(archive.cli(&["run"], None).0, 0);
    assert_eq!(archive.cli(&["build"], None).0, 0);
    // A run after the build: the site lacks the second article when `serve` starts.
    server.set("/f", feed(&[one, two]));
    assert_eq!(archive.cli(&["run"], None).0, 0);

    let (_serve, base) = common::start_serve(&archive);
    let client = reqwest::Client::new();
    let pages_of = async |query: &str| -> Vec<(String, u16, String)> {
        let answer = api_search(&base, query).await;
        let mut pages = Vec::new();
        for hit in answer["hits"].as_array().unwrap() {
            let url = hit["url"].as_str().unwrap();
            let response = client.get(format!("{base}/{url}")).send().await.unwrap();
            let status = response.status().as_u16();
            pages.push((url.to_string(), status, response.text().await.unwrap()));
        }
        pages
    };
    let pages = pages_of("冬奥").await;
    assert_eq!(pages.len(), 2, "{pages:?}");
    for (url, status, _) in &pages {
        assert_eq!(*status, 200, "{url}");
    }
    let home = client
        .get(&base)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("第二篇"), "{home}");

    // While it serves: a new article, and the first one's title edited.
    let three = ("https://e.com/3", "第三篇");
    let edited = ("https://e.com/1", "第一篇改");
    server.set("/f", feed(&[edited, two, three]));
    assert_eq!(archive.cli(&["run"], None).0, 0);
    let pages = pages_of("冬奥").await;
    assert_eq!(pages.len(), 3, "{pages:?}");
    for (url, status, _) in &pages {
        assert_eq!(*status, 200, "{url}");
    }
    assert!(
        pages
            .iter()
            .any(|(_, _, text)| text.contains("<h1>第一篇改</h1>")),
        "the edited title"
    );
}

/// A built site and its index are served without the store (a copy of them on another
/// machine), as they were built; without the store and without a site there is nothing to serve.
#[tokio::test(flavor = "multi_thread")]
async fn the_serve_command_serves_a_built_site_without_its_store() {
    let (_server, archive) = golden_archive().await;
    assert_eq!(archive.cli(&["build"], None).0, 0);
    for suffix in ["", "-wal", "-shm"] {
        let mut name = archive.store().into_os_string();
        name.push(suffix);
        let _ = std::fs::remove_file(name);
    }
    let (_serve, base) = common::start_serve(&archive);
    let home = reqwest::get(&base).await.unwrap();
    assert_eq!(home.status(), 200);
    assert!(home.text().await.unwrap().contains("中韩外长会谈"));
    let answer = api_search(&base, "冬奥").await;
    assert_eq!(answer["total"], 1, "{answer}");
    assert!(!archive.store().exists(), "serve made a store");
}
