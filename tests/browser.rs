//! The site in a real browser: headless Chromium against `newsvault serve` on a loopback port,
//! then against the built folder served by a plain static file server (as GitHub Pages would;
//! browsers do not let pages opened from the file system fetch the index). Each time: open the
//! home page, search for 冬奥 on the search page (its script calls `/api/search` under the site's
//! Content-Security-Policy, or, on the static server, reads the index files under `search/`),
//! find the golden article among the results, open it, and save screenshots under
//! `target/browser/`.
//!
//! Chromium is driven from the command line (`--dump-dom` runs the page's script for a while of
//! virtual time, then prints the DOM; `--screenshot` saves a PNG), so no driver or npm is needed.
//! Without Chromium (`/usr/bin/chromium`, or `NEWSVAULT_CHROMIUM`) the test says so and passes.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{golden_archive, start_serve};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const GOLDEN_TITLE: &str = "中韩外长会谈 韩国支持北京举办冬奥";

fn chromium() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("NEWSVAULT_CHROMIUM") {
        return Some(PathBuf::from(path));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// [`chromium`], or a line saying that `test` skipped for want of it.
fn chromium_for(test: &str) -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        println!(
            "SKIPPED {test}: no chromium at /usr/bin/chromium \
             (apt-get install chromium, or set NEWSVAULT_CHROMIUM)"
        );
    }
    found
}

/// Runs Chromium headless with `args` on `url`; returns its stdout. A guard kills a Chromium
/// that hangs (this is not a timing assertion: a hang fails the test either way).
fn run_chromium(chromium: &Path, profile: &Path, args: &[&str], url: &str) -> String {
    let mut child = Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromium");
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || std::io::read_to_string(stdout).unwrap_or_default());
    for _ in 0..1200 {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    if child.try_wait().unwrap().is_none() {
        let _ = child.kill();
        let _ = child.wait();
        panic!("chromium did not finish with {url}");
    }
    reader.join().unwrap()
}

/// The text of an HTML fragment: tags dropped (results mark hits inside titles).
fn text_of(html: &str) -> String {
    let mut text = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    text
}

/// A plain static file server for the folder `root` on a loopback port, as a static host is:
/// GET and HEAD of files (a folder's `index.html`), a content type from the extension, 404 for
/// anything else (`/api/search` included). Returns its base URL.
async fn serve_static(root: PathBuf) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let root = root.clone();
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 65_536 {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&request);
                let mut words = request.split_whitespace();
                let method = words.next().unwrap_or_default().to_string();
                let target = words.next().unwrap_or_default();
                let path = target.split(['?', '#']).next().unwrap_or_default();
                let path = percent_encoding::percent_decode_str(path)
                    .decode_utf8_lossy()
                    .into_owned();
                let mut file = root.clone();
                let mut safe = true;
                for part in path.split('/').filter(|p| !p.is_empty()) {
                    safe &= part != ".." && part != "." && !part.contains('\\');
                    file.push(part);
                }
                if file.is_dir() {
                    file.push("index.html");
                }
                let body = if safe && (method == "GET" || method == "HEAD") {
                    std::fs::read(&file).ok()
                } else {
                    None
                };
                let (status, kind, body) = match body {
                    Some(body) => {
                        let kind = match file.extension().and_then(|e| e.to_str()) {
                            Some("html") => "text/html; charset=utf-8",
                            Some("css") => "text/css; charset=utf-8",
                            Some("js") => "text/javascript; charset=utf-8",
                            Some("json") => "application/json",
                            Some("xml") => "application/xml",
                            Some("png") => "image/png",
                            _ => "application/octet-stream",
                        };
                        ("200 OK", kind, body)
                    }
                    None => (
                        "404 Not Found",
                        "text/html; charset=utf-8",
                        b"<!doctype html><title>404</title>Not found".to_vec(),
                    ),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
                     Connection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                if method != "HEAD" {
                    let _ = socket.write_all(&body).await;
                }
                let _ = socket.shutdown().await;
            });
        }
    });
    base
}

fn screenshots() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// What [`search_and_open`] saw.
struct Visit {
    /// The search page's DOM.
    results: String,
    /// The first result's markup.
    hit: String,
    article_url: String,
}

/// The reader's path through the site at `base`: the home page lists the golden article and
/// offers the search form; the search page, as the form submits it, finds 冬奥 through `engine`
/// (`api` or `static`) with the golden article first and the word marked; the article opens.
/// Screenshots of the results and the article go to `target/browser/<shots>search.png` and
/// `<shots>article.png`.
fn search_and_open(
    chromium: &Path,
    profile: &Path,
    base: &str,
    engine: &str,
    shots: &str,
) -> Visit {
    let dom = |url: &str| {
        run_chromium(
            chromium,
            profile,
            &["--virtual-time-budget=5000", "--dump-dom"],
            url,
        )
    };
    let home = dom(&format!("{base}/"));
    assert!(home.contains(GOLDEN_TITLE), "home page: {home}");
    assert!(
        home.contains("action=\"./search.html\""),
        "search form: {home}"
    );

    let search_url = format!("{base}/search.html?q=%E5%86%AC%E5%A5%A5");
    let results = dom(&search_url);
    assert!(
        results.contains(&format!("data-search=\"{engine}\"")),
        "{results}"
    );
    let hit = results
        .split("<li class=\"hit\">")
        .nth(1)
        .unwrap_or_else(|| panic!("no result on the search page: {results}"))
        .to_string();
    assert!(text_of(&hit).contains(GOLDEN_TITLE), "{hit}");
    assert!(hit.contains("<mark>冬奥</mark>"), "highlight: {hit}");
    let href = hit
        .split("href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap();
    assert!(href.ends_with(".html"), "{href}");

    let article_url = format!("{base}/{}", href.trim_start_matches("./"));
    let article = dom(&article_url);
    assert!(
        article.contains(&format!("<h1>{GOLDEN_TITLE}</h1>")),
        "{article}"
    );
    assert!(article.contains("韩方支持中方举办北京冬奥会"), "{article}");

    let folder = screenshots();
    for (name, url) in [("search.png", &search_url), ("article.png", &article_url)] {
        screenshot(
            chromium,
            profile,
            &folder.join(format!("{shots}{name}")),
            "1200,900",
            url,
        );
    }
    Visit {
        results,
        hit,
        article_url,
    }
}

/// A PNG of `url` at window `size` in `path`.
fn screenshot(chromium: &Path, profile: &Path, path: &Path, size: &str, url: &str) {
    let _ = std::fs::remove_file(path);
    run_chromium(
        chromium,
        profile,
        &[
            "--virtual-time-budget=5000",
            &format!("--window-size={size}"),
            &format!("--screenshot={}", path.display()),
        ],
        url,
    );
    let bytes = std::fs::read(path).unwrap_or_default();
    assert!(
        bytes.starts_with(b"\x89PNG"),
        "no screenshot at {}",
        path.display()
    );
    println!("screenshot: {}", path.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn search_for_the_golden_article_in_chromium() {
    let Some(chromium) = chromium_for("search_for_the_golden_article_in_chromium") else {
        return;
    };
    let (_server, archive) = golden_archive().await;
    // No `build`: serve builds the missing site itself.
    let (_serve, base) = start_serve(&archive);
    let profile = tempfile::tempdir().unwrap();
    // The search page's script fetches /api/search and lists the hits.
    let visit = search_and_open(&chromium, profile.path(), &base, "api", "");
    // A phone-sized view of the article too.
    screenshot(
        &chromium,
        profile.path(),
        &screenshots().join("article-phone.png"),
        "390,844",
        &visit.article_url,
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn search_the_static_build_in_chromium() {
    let Some(chromium) = chromium_for("search_the_static_build_in_chromium") else {
        return;
    };
    let (_server, archive) = golden_archive().await;
    let out = archive.dir.path().join("public");
    let (code, _, err) = archive.cli(&["build", "--out", out.to_str().unwrap()], None);
    assert_eq!(code, 0, "{err}");
    assert!(out.join("search/manifest.json").is_file());
    // No newsvault here: a plain file server, as a static host; `api/search` is a 404, so the
    // script reads the static index.
    let base = serve_static(out).await;
    let profile = tempfile::tempdir().unwrap();
    let visit = search_and_open(&chromium, profile.path(), &base, "static", "static-");
    assert!(text_of(&visit.hit).contains("联合早报"), "{}", visit.hit);
    assert!(visit.results.contains("找到 1 篇"), "{}", visit.results);
}
