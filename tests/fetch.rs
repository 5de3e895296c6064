//! Fetching against a local HTTP server: conditional GET, retries, timeouts, redirects, the body
//! cap after decompression, charsets and proxies.
//!
//! Every test starts its own [`FeedServer`] on a loopback port and runs the real pipeline (the
//! library's `run`, or the binary where the printed summary matters) into a temporary archive, so
//! what is checked is what a user would see: posts written or not, the reason a feed failed, the
//! requests the server received. No test touches the internet. Timing bounds are loose on
//! purpose ("well before the drip would end"), so a busy machine cannot make them flake.

mod common;

use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{TimeZone, Utc};
use common::{FeedServer, Reply, TempArchive, rss};
use newsvault::clock::Clock;
use newsvault::config::Config;
use newsvault::run::{RunSummary, run};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Quick retries, so the tests that retry take milliseconds.
const FAST: &str = "[fetch]\nbackoff_ms = 10\n";

fn clock() -> Clock {
    Clock::Fixed(Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap())
}

async fn run_archive(archive: &TempArchive) -> RunSummary {
    let config = Config::load(&archive.config).unwrap();
    run(&config, clock()).await.unwrap()
}

/// Every post's text, concatenated.
fn all_posts(archive: &TempArchive) -> String {
    archive
        .post_names()
        .iter()
        .map(|name| std::fs::read_to_string(archive.posts().join(name)).unwrap())
        .collect()
}

fn failures(summary: &RunSummary) -> Vec<(String, String)> {
    summary
        .sources
        .iter()
        .flat_map(|s| s.failed.clone())
        .collect()
}

fn two_items() -> String {
    rss(&[
        ("https://example.com/1", "第一条", "<p>一</p>"),
        ("https://example.com/2", "第二条", "<p>二</p>"),
    ])
}

/// Serves `body` at `path` with the ETag `"v1"`, and 304 to a request that carries it.
fn serve_with_etag(server: &FeedServer, path: &str, body: String) {
    server.route(path, move |seen, _| {
        if seen.headers.get("if-none-match").map(String::as_str) == Some("\"v1\"") {
            Reply::status(304).header("ETag", "\"v1\"")
        } else {
            Reply::ok(body.clone()).header("ETag", "\"v1\"")
        }
    });
}

#[tokio::test(flavor = "multi_thread")]
async fn not_modified_by_etag_writes_nothing() {
    let server = FeedServer::start().await;
    serve_with_etag(&server, "/feed", two_items());
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let first = run_archive(&archive).await;
    assert_eq!(first.new_articles(), 2);
    let before = archive.snapshot();

    let second = run_archive(&archive).await;
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].headers.get("if-none-match"), None);
    assert_eq!(
        log[1].headers.get("if-none-match").map(String::as_str),
        Some("\"v1\"")
    );
    assert_eq!(log[1].headers.get("if-modified-since"), None);
    assert_eq!(second.new_articles(), 0);
    assert_eq!(second.sources[0].not_modified, 1);
    assert_eq!(second.publish.posts_written, 0);
    assert_eq!(archive.snapshot(), before, "a 304 run changed a file");
}

#[tokio::test(flavor = "multi_thread")]
async fn not_modified_by_last_modified_writes_nothing() {
    const STAMP: &str = "Sat, 01 Jun 2024 10:00:00 GMT";
    let server = FeedServer::start().await;
    let body = two_items();
    server.route("/feed", move |seen, _| {
        if seen.headers.get("if-modified-since").map(String::as_str) == Some(STAMP) {
            Reply::status(304)
        } else {
            Reply::ok(body.clone()).header("Last-Modified", STAMP)
        }
    });
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    assert_eq!(run_archive(&archive).await.new_articles(), 2);
    let before = archive.snapshot();

    let second = run_archive(&archive).await;
    let log = server.log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    assert_eq!(
        log[1].headers.get("if-modified-since").map(String::as_str),
        Some(STAMP)
    );
    assert_eq!(log[1].headers.get("if-none-match"), None);
    assert_eq!(second.sources[0].not_modified, 1);
    assert_eq!(second.publish.posts_written, 0);
    assert_eq!(archive.snapshot(), before, "a 304 run changed a file");
}

/// Some servers send a new ETag with a 304 and leave Last-Modified out: the next request must
/// carry the new ETag and the old Last-Modified.
#[tokio::test(flavor = "multi_thread")]
async fn validator_rotated_in_a_304_is_sent_next_time() {
    const STAMP: &str = "Sat, 01 Jun 2024 10:00:00 GMT";
    let server = FeedServer::start().await;
    let body = two_items();
    server.route("/feed", move |_, count| match count {
        0 => Reply::ok(body.clone())
            .header("ETag", "\"a\"")
            .header("Last-Modified", STAMP),
        _ => Reply::status(304).header("ETag", "\"b\""),
    });
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    for _ in 0..3 {
        run_archive(&archive).await;
    }
    let log = server.log.lock().unwrap().clone();
    let sent = |i: usize, name: &str| log[i].headers.get(name).cloned();
    assert_eq!(sent(1, "if-none-match").as_deref(), Some("\"a\""));
    assert_eq!(sent(2, "if-none-match").as_deref(), Some("\"b\""));
    assert_eq!(sent(2, "if-modified-since").as_deref(), Some(STAMP));
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_requests_waits_for_retry_after_then_archives() {
    let server = FeedServer::start().await;
    let body = two_items();
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen_times = times.clone();
    server.route("/feed", move |_, count| {
        seen_times.lock().unwrap().push(Instant::now());
        match count {
            0 => Reply::status(429).header("Retry-After", "2"),
            _ => Reply::ok(body.clone()),
        }
    });
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let summary = run_archive(&archive).await;
    assert_eq!(summary.new_articles(), 2);
    assert_eq!(summary.retries(), 1);
    assert!(failures(&summary).is_empty());
    let times = times.lock().unwrap();
    // backoff_ms is 10: only Retry-After can explain a wait this long.
    assert!(
        times[1] - times[0] >= Duration::from_millis(1900),
        "retried after {:?}, before Retry-After",
        times[1] - times[0]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_is_capped() {
    let server = FeedServer::start().await;
    let body = two_items();
    server.route("/feed", move |_, count| match count {
        0 => Reply::status(503).header("Retry-After", "3600"),
        _ => Reply::ok(body.clone()),
    });
    let extra = "[fetch]\nbackoff_ms = 10\nmax_retry_after_secs = 1\n";
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], extra);
    let started = Instant::now();
    let summary = run_archive(&archive).await;
    assert!(started.elapsed() < Duration::from_secs(60));
    assert_eq!(summary.new_articles(), 2);
    assert_eq!(summary.retries(), 1);
}

/// 500, 500, then 200: archived in one run, and the printed summary counts the retries.
#[tokio::test(flavor = "multi_thread")]
async fn server_errors_then_success_archive_in_one_run() {
    let server = FeedServer::start().await;
    let body = two_items();
    server.route("/feed", move |_, count| match count {
        0 | 1 => Reply::status(500),
        _ => Reply::ok(body.clone()),
    });
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let (code, out, err) = archive.cli(&["run"], Some("2024-06-01T12:00:00Z"));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(server.hits("/feed"), 3);
    assert!(out.contains("s: 2 new"), "{out}");
    assert!(out.contains("2 retries"), "{out}");
    assert_eq!(archive.post_names().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_errors_are_not_retried() {
    let server = FeedServer::start().await;
    server.route("/gone", |_, _| Reply::status(404));
    server.route("/forbidden", |_, _| Reply::status(403));
    let archive = TempArchive::new(
        &[("s", vec![server.url("/gone"), server.url("/forbidden")])],
        FAST,
    );
    let summary = run_archive(&archive).await;
    assert_eq!(server.hits("/gone"), 1);
    assert_eq!(server.hits("/forbidden"), 1);
    assert_eq!(summary.retries(), 0);
    let reasons: Vec<String> = failures(&summary).into_iter().map(|f| f.1).collect();
    assert!(reasons.contains(&"HTTP 404".to_string()), "{reasons:?}");
    assert!(reasons.contains(&"HTTP 403".to_string()), "{reasons:?}");
}

/// A server sending a byte a second: 300 bytes would take five minutes.
fn drip(body: &str) -> Reply {
    let mut reply = Reply::ok(format!("{body:<300}"));
    reply.drip = Some(Duration::from_secs(1));
    reply
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_drip_body_hits_whole_request_timeout() {
    let server = FeedServer::start().await;
    server.route("/slow", |_, _| drip("<rss"));
    server.set("/fast", two_items());
    let archive = TempArchive::new(
        &[
            ("slow", vec![server.url("/slow")]),
            ("fast", vec![server.url("/fast")]),
        ],
        "[fetch]\nbackoff_ms = 10\ntimeout_secs = 1\n",
    );
    let started = Instant::now();
    let summary = run_archive(&archive).await;
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "the drip held the run for {:?}",
        started.elapsed()
    );
    let failed = failures(&summary);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, server.url("/slow"));
    assert!(failed[0].1.contains("timed out"), "{failed:?}");
    assert_eq!(summary.sources[1].new, 2, "the fast feed must not suffer");
}

#[tokio::test(flavor = "multi_thread")]
async fn per_source_timeout_overrides_global() {
    let server = FeedServer::start().await;
    server.route("/slow", |_, _| drip("<rss"));
    let config = format!(
        "[fetch]\nbackoff_ms = 10\nattempts = 2\n\
         [[source]]\nname = \"slow\"\nfeeds = [{:?}]\ntimeout_secs = 1\n",
        server.url("/slow")
    );
    let archive = TempArchive::new(&[], &config);
    let started = Instant::now();
    let summary = run_archive(&archive).await;
    // The global timeout (30 s) twice would be 60 s.
    assert!(started.elapsed() < Duration::from_secs(30));
    let failed = failures(&summary);
    assert!(failed[0].1.contains("timed out after 1s"), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_loop_error_names_the_chain() {
    let server = FeedServer::start().await;
    server.route("/a", |_, _| Reply::status(302).header("Location", "/b"));
    server.route("/b", |_, _| Reply::status(302).header("Location", "/a"));
    let archive = TempArchive::new(&[("s", vec![server.url("/a")])], FAST);
    let summary = run_archive(&archive).await;
    let failed = failures(&summary);
    assert_eq!(failed.len(), 1);
    let expected = format!(
        "redirect loop: {} -> {} -> {}",
        server.url("/a"),
        server.url("/b"),
        server.url("/a")
    );
    assert_eq!(failed[0].1, expected);
    assert_eq!(server.hits("/a"), 1, "a loop is not retried");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_redirects_are_an_error() {
    let server = FeedServer::start().await;
    for i in 0..10 {
        let next = format!("/r{}", i + 1);
        server.route(&format!("/r{i}"), move |_, _| {
            Reply::status(307).header("Location", &next)
        });
    }
    let archive = TempArchive::new(
        &[("s", vec![server.url("/r0")])],
        "[fetch]\nbackoff_ms = 10\nmax_redirects = 3\n",
    );
    let summary = run_archive(&archive).await;
    let failed = failures(&summary);
    assert!(
        failed[0].1.starts_with("more than 3 redirects: "),
        "{failed:?}"
    );
    assert_eq!(server.hits("/r4"), 0);
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A gzip body small on the wire but over the cap once decompressed fails its feed with a clear
/// reason; one under the cap is decompressed and archived.
#[tokio::test(flavor = "multi_thread")]
async fn gzip_body_over_cap_after_decompression_fails_that_feed() {
    const CAP: usize = 100_000;
    let server = FeedServer::start().await;
    let bomb = two_items().replace("<channel>", &format!("<channel><!--{}-->", " ".repeat(CAP)));
    let bomb = gzip(bomb.as_bytes());
    assert!(
        bomb.len() < CAP / 10,
        "the compressed body must be under the cap"
    );
    server.route("/bomb", move |_, _| {
        Reply::ok(bomb.clone()).header("Content-Encoding", "gzip")
    });
    let small = gzip(two_items().as_bytes());
    server.route("/small", move |_, _| {
        Reply::ok(small.clone()).header("Content-Encoding", "gzip")
    });
    let archive = TempArchive::new(
        &[
            ("bomb", vec![server.url("/bomb")]),
            ("small", vec![server.url("/small")]),
        ],
        &format!("[fetch]\nbackoff_ms = 10\nmax_body_bytes = {CAP}\n"),
    );
    let summary = run_archive(&archive).await;
    let failed = failures(&summary);
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, server.url("/bomb"));
    assert_eq!(
        failed[0].1,
        format!("body larger than {CAP} bytes (after decompression)")
    );
    assert_eq!(server.hits("/bomb"), 1, "an oversize body is not retried");
    assert_eq!(summary.sources[1].new, 2);
    let log = server.log.lock().unwrap().clone();
    let accepted = log[0]
        .headers
        .get("accept-encoding")
        .cloned()
        .unwrap_or_default();
    for coding in ["gzip", "br", "deflate"] {
        assert!(accepted.contains(coding), "Accept-Encoding: {accepted}");
    }
}

/// A feed in a legacy encoding: `(header charset, XML declaration)`, each maybe absent.
fn legacy_feed(
    encoding: &'static encoding_rs::Encoding,
    declared: Option<&str>,
    title: &str,
    text: &str,
) -> Vec<u8> {
    let decl = match declared {
        Some(label) => format!("<?xml version=\"1.0\" encoding=\"{label}\"?>"),
        None => "<?xml version=\"1.0\"?>".to_string(),
    };
    let xml = format!(
        "{decl}\n<rss version=\"2.0\"><channel><title>{title}</title><link>https://example.com/</link>\n\
         <item><title>{title}</title><description>{text}</description>\
         <pubDate>Sat, 03 Apr 2021 10:00:00 GMT</pubDate><guid>https://example.com/{n}</guid>\
         <link>https://example.com/{n}</link></item>\n</channel></rss>\n",
        n = title.len()
    );
    let (bytes, _, unmappable) = encoding.encode(&xml);
    assert!(!unmappable, "{title} is not all {}", encoding.name());
    bytes.into_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn gbk_and_big5_feeds_come_out_as_utf8() {
    let server = FeedServer::start().await;
    let gbk_text = "外交部发言人在例行记者会上重申了中方的一贯立场。据官方媒体报道，相关部门当天下午召开专题会议，研究部署下一阶段工作。";
    let big5_text = "中央社記者報導，颱風過境後各地災情陸續傳出。行政院長表示，將盡速撥款協助受災縣市復原，並檢討防災體系。";
    let cases = [
        (
            encoding_rs::GBK,
            "GBK",
            "中韩外长会谈 韩国支持北京举办冬奥",
            gbk_text,
        ),
        (
            encoding_rs::BIG5,
            "Big5",
            "臺灣選舉結果揭曉 民進黨再度執政",
            big5_text,
        ),
    ];
    let mut sources = vec![];
    let mut expected = vec![];
    for (encoding, label, title, text) in cases {
        // Header and declaration; declaration only; header only; neither (detection).
        for (variant, header, declared) in [
            ("甲", true, true),
            ("乙", false, true),
            ("丙", true, false),
            ("丁", false, false),
        ] {
            let title = format!("{title}{variant}");
            let path = format!(
                "/{label}-{variant}",
                variant = u32::from(variant.chars().next().unwrap())
            );
            let body = legacy_feed(encoding, declared.then_some(label), &title, text);
            let content_type = if header {
                format!("application/rss+xml; charset={label}")
            } else {
                "application/rss+xml".to_string()
            };
            server.route(&path, move |_, _| {
                Reply::ok(body.clone()).header("Content-Type", &content_type)
            });
            sources.push((format!("{label}{variant}"), vec![server.url(&path)]));
            expected.push((title, text));
        }
    }
    let sources: Vec<(&str, Vec<String>)> = sources
        .iter()
        .map(|(n, f)| (n.as_str(), f.clone()))
        .collect();
    let archive = TempArchive::new(&sources, FAST);
    let summary = run_archive(&archive).await;
    assert!(failures(&summary).is_empty(), "{:?}", failures(&summary));
    let posts = all_posts(&archive);
    for (title, text) in expected {
        assert!(
            posts.contains(&format!("[{title}](")),
            "{title} missing in:\n{posts}"
        );
        assert!(posts.contains(text), "{text} missing in:\n{posts}");
    }
}

/// A plain HTTP forward proxy: takes absolute-URI requests, forwards them in origin form and
/// pipes the answer back. It records each request line, so a test can see what went through.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Proxy {
    async fn start() -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(forward(stream, log.clone()));
            }
        });
        Proxy { url, seen }
    }
}

/// Serves one request of a client connection (the proxy then pipes bytes both ways, which
/// suffices for one request per test).
async fn forward(mut client: TcpStream, seen: Arc<Mutex<Vec<String>>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte).await {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let (request_line, rest) = head.split_once("\r\n").unwrap();
    seen.lock().unwrap().push(request_line.to_string());
    let mut parts = request_line.split_whitespace();
    let (method, target) = (parts.next().unwrap(), parts.next().unwrap());
    let Ok(url) = url::Url::parse(target) else {
        let _ = client
            .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let address = format!(
        "{}:{}",
        url.host_str().unwrap(),
        url.port_or_known_default().unwrap()
    );
    let Ok(mut upstream) = TcpStream::connect(address).await else {
        let _ = client
            .write_all(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")
            .await;
        return;
    };
    let headers: String = rest
        .split("\r\n")
        .filter(|line| !line.to_ascii_lowercase().starts_with("proxy-"))
        .map(|line| format!("{line}\r\n"))
        .collect();
    let request = format!(
        "{method} {} HTTP/1.1\r\n{headers}",
        &url[url::Position::BeforePath..]
    );
    if upstream
        .write_all(request.trim_end_matches("\r\n").as_bytes())
        .await
        .is_err()
        || upstream.write_all(b"\r\n\r\n").await.is_err()
    {
        return;
    }
    let _ = tokio::io::copy_bidirectional(&mut client, &mut upstream).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn global_proxy_carries_the_request() {
    let server = FeedServer::start().await;
    server.set("/feed", two_items());
    let proxy = Proxy::start().await;
    let archive = TempArchive::new(
        &[("s", vec![server.url("/feed")])],
        &format!("[fetch]\nbackoff_ms = 10\nproxy = {:?}\n", proxy.url),
    );
    let summary = run_archive(&archive).await;
    assert!(failures(&summary).is_empty(), "{:?}", failures(&summary));
    assert_eq!(summary.new_articles(), 2);
    assert_eq!(
        *proxy.seen.lock().unwrap(),
        vec![format!("GET {} HTTP/1.1", server.url("/feed"))]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn per_source_proxy_carries_only_that_source() {
    let server = FeedServer::start().await;
    server.set("/via-proxy", two_items());
    server.set("/direct", two_items());
    let proxy = Proxy::start().await;
    let config = format!(
        "[fetch]\nbackoff_ms = 10\n\
         [[source]]\nname = \"proxied\"\nfeeds = [{:?}]\nproxy = {:?}\n\
         [[source]]\nname = \"direct\"\nfeeds = [{:?}]\n",
        server.url("/via-proxy"),
        proxy.url,
        server.url("/direct"),
    );
    let archive = TempArchive::new(&[], &config);
    let summary = run_archive(&archive).await;
    assert!(failures(&summary).is_empty(), "{:?}", failures(&summary));
    assert_eq!(summary.new_articles(), 4);
    assert_eq!(
        *proxy.seen.lock().unwrap(),
        vec![format!("GET {} HTTP/1.1", server.url("/via-proxy"))]
    );
    assert_eq!(server.hits("/direct"), 1);
}

/// A proxy that refuses connections fails the feed with a reason, not the run.
#[tokio::test(flavor = "multi_thread")]
async fn dead_proxy_fails_the_feed_with_a_reason() {
    let server = FeedServer::start().await;
    server.set("/feed", two_items());
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let archive = TempArchive::new(
        &[("s", vec![server.url("/feed")])],
        &format!("[fetch]\nbackoff_ms = 10\nattempts = 2\nproxy = \"http://127.0.0.1:{port}\"\n"),
    );
    let summary = run_archive(&archive).await;
    let failed = failures(&summary);
    assert_eq!(failed.len(), 1);
    assert!(!failed[0].1.is_empty());
    assert_eq!(server.hits("/feed"), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn user_agent_names_newsvault_unless_overridden() {
    let server = FeedServer::start().await;
    server.set("/feed", two_items());
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    run_archive(&archive).await;
    let custom = TempArchive::new(
        &[("s", vec![server.url("/feed")])],
        "[fetch]\nuser_agent = \"my-archive-bot/1.0\"\n",
    );
    run_archive(&custom).await;
    let log = server.log.lock().unwrap().clone();
    let agent = |i: usize| {
        log[i]
            .headers
            .get("user-agent")
            .cloned()
            .unwrap_or_default()
    };
    assert!(
        agent(0).starts_with(&format!("newsvault/{}", env!("CARGO_PKG_VERSION"))),
        "{}",
        agent(0)
    );
    assert_eq!(agent(1), "my-archive-bot/1.0");
}

/// Runs the binary with `vars` set (and every other proxy variable removed).
fn run_with_env(archive: &TempArchive, vars: &[(&str, &str)]) -> std::process::Output {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_newsvault"));
    command.arg("run").arg("--config").arg(&archive.config);
    for name in ["http_proxy", "https_proxy", "all_proxy", "no_proxy"] {
        command
            .env_remove(name)
            .env_remove(name.to_ascii_uppercase());
    }
    command.envs(vars.iter().copied());
    command.output().unwrap()
}

/// Without a `proxy` in the config, HTTP_PROXY / NO_PROXY decide, as they do for other tools.
#[tokio::test(flavor = "multi_thread")]
async fn environment_proxy_variables_apply() {
    let server = FeedServer::start().await;
    server.set("/feed", two_items());
    let proxy = Proxy::start().await;
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let output = run_with_env(&archive, &[("HTTP_PROXY", &proxy.url)]);
    assert!(output.status.success(), "{output:?}");
    assert_eq!(proxy.seen.lock().unwrap().len(), 1);

    let direct = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let output = run_with_env(
        &direct,
        &[("HTTP_PROXY", &proxy.url), ("NO_PROXY", "127.0.0.1")],
    );
    assert!(output.status.success(), "{output:?}");
    assert_eq!(proxy.seen.lock().unwrap().len(), 1, "NO_PROXY was ignored");
    assert_eq!(server.hits("/feed"), 2);
}

/// What a source reads of a feed depends on the source (its id, its filters) and on
/// `[fetch] max_items`, not only on the feed: a feed read under another reading is fetched whole
/// and read again, even when its body is the same as last time (or the server would answer 304),
/// so that a new source on a followed feed, or a filter taken away, archives what it now keeps.
#[tokio::test(flavor = "multi_thread")]
async fn a_feed_read_another_way_is_read_again_though_it_did_not_change() {
    let server = FeedServer::start().await;
    serve_with_etag(&server, "/feed", two_items());
    // The same body without validators: only the body's hash says it is unchanged.
    server.set("/plain", two_items());
    for path in ["/feed", "/plain"] {
        let archive = TempArchive::new(&[("s", vec![server.url(path)])], FAST);
        let config = |extra: &str| {
            let text = std::fs::read_to_string(&archive.config).unwrap();
            let text = text.replacen(
                "[[source]]\n",
                "[[source]]\nexclude = { title = \"第二\" }\n",
                1,
            );
            std::fs::write(&archive.config, format!("{text}{extra}")).unwrap();
        };
        let original = std::fs::read_to_string(&archive.config).unwrap();
        config("");
        let first = run_archive(&archive).await;
        assert_eq!(first.new_articles(), 1, "{path}");
        // The same reading: nothing read again.
        let again = run_archive(&archive).await;
        assert_eq!(again.new_articles(), 0, "{path}");
        assert_eq!(again.sources[0].unchanged, 0, "{path}: parsed again");
        // The filter taken away: the item it held back is archived.
        std::fs::write(&archive.config, &original).unwrap();

        let unfiltered = run_archive(&archive).await;
        assert_eq!(unfiltered.new_articles(), 1, "{path}");
        assert_eq!(archive.post_names().len(), 2, "{path}");
        // Another source (a new id) on the same feed archives the feed as its own.
        let renamed = original.replace("name = \"s\"", "name = \"t\"");
        std::fs::write(&archive.config, renamed).unwrap();
        let other = run_archive(&archive).await;
        assert_eq!(other.new_articles(), 2, "{path}");
        // And then it is quiet again.
        let quiet = run_archive(&archive).await;
        assert_eq!(quiet.new_articles(), 0, "{path}");
    }
}

/// A store from before readings were recorded (schema 10) knows its feeds' validators and body
/// hashes but not how they were read: each feed is read whole once more, so that a filter
/// removed meanwhile lets its items in at once.
#[tokio::test(flavor = "multi_thread")]
async fn a_feed_whose_reading_is_unknown_is_read_again_once() {
    let server = FeedServer::start().await;
    serve_with_etag(&server, "/feed", two_items());
    let archive = TempArchive::new(&[("s", vec![server.url("/feed")])], FAST);
    let original = std::fs::read_to_string(&archive.config).unwrap();
    let filtered = original.replacen(
        "[[source]]\n",
        "[[source]]\nexclude = { title = \"第二\" }\n",
        1,
    );
    std::fs::write(&archive.config, filtered).unwrap();
    assert_eq!(run_archive(&archive).await.new_articles(), 1);
    // As a store upgraded from schema 9 has it, with the filter then taken away.
    rusqlite::Connection::open(archive.store())
        .unwrap()
        .execute("UPDATE feed SET reading = NULL", [])
        .unwrap();
    std::fs::write(&archive.config, &original).unwrap();
    let unfiltered = run_archive(&archive).await;
    assert_eq!(unfiltered.new_articles(), 1);
    assert_eq!(archive.post_names().len(), 2);
    // Its reading is known from then on: the next run is answered by the validators.
    let quiet = run_archive(&archive).await;
    assert_eq!(
        (quiet.new_articles(), quiet.sources[0].not_modified),
        (0, 1)
    );
}
