//! Test helpers: a programmable feed server on 127.0.0.1, temporary archives and fixtures.
//!
//! The server is hand-made on tokio rather than a mock crate because the fetch tests need what
//! mocks do not offer: bodies that drip a byte at a time, raw redirects, answers that change from
//! one request to the next, and a log of every request's headers.

#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One answer of the server.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Wait between body bytes (a slow-drip server).
    pub drip: Option<Duration>,
    /// Wait before answering at all.
    pub delay: Option<Duration>,
}

impl Reply {
    pub fn ok(body: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            headers: vec![],
            body: body.into(),
            drip: None,
            delay: None,
        }
    }
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            ..Reply::ok(Vec::new())
        }
    }
    pub fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

/// What the server saw of one request.
#[derive(Debug, Clone)]
pub struct Seen {
    pub path: String,
    pub headers: HashMap<String, String>,
}

type Handler = Arc<dyn Fn(&Seen, usize) -> Reply + Send + Sync>;

/// A feed server whose routes can be changed while it runs.
#[derive(Clone)]
pub struct FeedServer {
    pub base: String,
    routes: Arc<Mutex<HashMap<String, Handler>>>,
    counts: Arc<Mutex<HashMap<String, usize>>>,
    pub log: Arc<Mutex<Vec<Seen>>>,
}

impl FeedServer {
    /// Starts a server on an ephemeral loopback port, on the current tokio runtime.
    pub async fn start() -> FeedServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = FeedServer {
            base,
            routes: Default::default(),
            counts: Default::default(),
            log: Default::default(),
        };
        let shared = server.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move { shared.answer(stream).await });
            }
        });
        server
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Serves `body` (200) at `path`, replacing what was there.
    pub fn set(&self, path: &str, body: impl Into<Vec<u8>>) {
        let body = body.into();
        self.route(path, move |_, _| Reply::ok(body.clone()));
    }

    /// Serves what `handler` says; it gets the request and the number of earlier requests to
    /// this path.
    pub fn route(
        &self,
        path: &str,
        handler: impl Fn(&Seen, usize) -> Reply + Send + Sync + 'static,
    ) {
        self.routes
            .lock()
            .unwrap()
            .insert(path.to_string(), Arc::new(handler));
    }

    /// Requests made to `path` so far.
    pub fn hits(&self, path: &str) -> usize {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    async fn answer(&self, mut stream: tokio::net::TcpStream) {
        loop {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                match stream.read(&mut byte).await {
                    Ok(1) => head.push(byte[0]),
                    _ => return,
                }
            }
            let text = String::from_utf8_lossy(&head).to_string();
            let mut lines = text.split("\r\n");
            let path = lines
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .unwrap_or("/")
                .to_string();
            let headers = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let seen = Seen {
                path: path.clone(),
                headers,
            };
            self.log.lock().unwrap().push(seen.clone());
            let count = {
                let mut counts = self.counts.lock().unwrap();
                let count = counts.entry(path.clone()).or_insert(0);
                *count += 1;
                *count - 1
            };
            let handler = self.routes.lock().unwrap().get(&path).cloned();
            let reply = match handler {
                Some(handler) => handler(&seen, count),
                None => Reply::status(404),
            };
            if let Some(delay) = reply.delay {
                tokio::time::sleep(delay).await;
            }
            let mut out = format!(
                "HTTP/1.1 {} X\r\nContent-Length: {}\r\n",
                reply.status,
                reply.body.len()
            );
            for (name, value) in &reply.headers {
                out.push_str(&format!("{name}: {value}\r\n"));
            }
            out.push_str("\r\n");
            if stream.write_all(out.as_bytes()).await.is_err() {
                return;
            }
            match reply.drip {
                Some(pause) => {
                    for b in &reply.body {
                        if stream.write_all(&[*b]).await.is_err() {
                            return;
                        }
                        let _ = stream.flush().await;
                        tokio::time::sleep(pause).await;
                    }
                }
                None => {
                    if stream.write_all(&reply.body).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

/// A fixture file's bytes, from `tests/fixtures/`.
pub fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// No file under `dir` is a temporary file of an interrupted write.
pub fn assert_no_temp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        assert!(
            !name.starts_with(newsvault::publish::TEMP_PREFIX),
            "left behind: {}",
            entry.path().display()
        );
        if entry.file_type().unwrap().is_dir() {
            assert_no_temp_files(&entry.path());
        }
    }
}

/// The moment the golden post was written: `NEWSVAULT_NOW` for runs over the golden feed.
pub const GOLDEN_NOW: &str = "2021-04-04T08:45:53.966Z";

/// A new archive of the golden feed (source 联合早报), served by a local server and run once at
/// [`GOLDEN_NOW`].
pub async fn golden_archive() -> (FeedServer, TempArchive) {
    let server = FeedServer::start().await;
    server.set("/zaobao", fixture("golden/zaobao-realtime-china.xml"));
    let archive = TempArchive::new(&[("联合早报", vec![server.url("/zaobao")])], "");
    let (code, _, err) = archive.cli(&["run"], Some(GOLDEN_NOW));
    assert_eq!(code, 0, "{err}");
    (server, archive)
}

/// Overwrites one segment file (`*.idx`, its postings) of the search index in `index` with junk,
/// as a disk or a copy gone wrong would: the index's `meta.json` still reads, its segment does not
/// open ("Footer magic byte mismatch").
pub fn damage_a_segment(index: &Path) {
    let segment = std::fs::read_dir(index)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .find(|path| path.extension().is_some_and(|e| e == "idx"))
        .unwrap_or_else(|| panic!("no segment in {}", index.display()));
    let junk: Vec<u8> = (0..100u32).map(|i| (i * 37 % 251) as u8).collect();
    // Renamed over the segment rather than written into it: truncating a file that a thread of
    // tantivy's may still have mapped makes reading it SIGBUS (see `search::indexing::tests`).
    let temporary = index.join("junk.tmp");
    std::fs::write(&temporary, junk).unwrap();
    std::fs::rename(temporary, &segment).unwrap();
}

/// An RSS 2.0 feed of `(guid, title, content)` items.
pub fn rss(items: &[(&str, &str, &str)]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\"><channel><title>t</title><link>https://example.com/</link>\n",
    );
    for (guid, title, content) in items {
        out.push_str(&format!(
            "<item><title><![CDATA[{title}]]></title><description><![CDATA[{content}]]></description>\
             <pubDate>Sat, 03 Apr 2021 10:00:00 GMT</pubDate><guid>{guid}</guid><link>{guid}</link></item>\n"
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

/// An RSS feed of items `https://e.com/<n>`, titled `第<n>条`, one for each of `numbers`.
pub fn numbered_rss(numbers: impl IntoIterator<Item = usize>) -> String {
    let items: Vec<(String, String)> = numbers
        .into_iter()
        .map(|i| (format!("https://e.com/{i}"), format!("第{i}条")))
        .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(link, title)| (link.as_str(), title.as_str(), "<p>正文</p>"))
        .collect();
    rss(&items)
}

/// A temporary archive with a config whose sources are `(name, feed URLs)`, plus extra TOML for
/// the first lines (e.g. `[fetch]` settings).
pub struct TempArchive {
    pub dir: tempfile::TempDir,
    pub config: PathBuf,
}

impl TempArchive {
    pub fn new(sources: &[(&str, Vec<String>)], extra: &str) -> TempArchive {
        let dir = tempfile::tempdir().unwrap();
        let mut text = format!("archive = \"archive\"\n{extra}\n");
        for (name, feeds) in sources {
            text.push_str(&format!(
                "[[source]]\nname = {name:?}\nfeeds = {feeds:?}\ncontent = \"verbatim\"\n"
            ));
        }
        let config = dir.path().join("newsvault.toml");
        std::fs::write(&config, text).unwrap();
        TempArchive { dir, config }
    }

    pub fn archive(&self) -> PathBuf {
        self.dir.path().join("archive")
    }

    /// The store's file, where the config puts it by default.
    pub fn store(&self) -> PathBuf {
        self.archive().join(".newsvault/store.sqlite")
    }

    pub fn posts(&self) -> PathBuf {
        self.archive().join("_posts")
    }

    /// Post file names, sorted.
    pub fn post_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.posts())
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Every file under the archive with its bytes and modification time, for "nothing changed".
    pub fn snapshot(&self) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
        let mut out = vec![];
        let mut stack = vec![self.archive()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let entry = entry.unwrap();
                let path = entry.path();
                if path.ends_with(".newsvault") {
                    continue;
                }
                if entry.file_type().unwrap().is_dir() {
                    stack.push(path);
                } else {
                    let meta = entry.metadata().unwrap();
                    out.push((
                        path.clone(),
                        std::fs::read(&path).unwrap(),
                        meta.modified().unwrap(),
                    ));
                }
            }
        }
        out.sort();
        out
    }

    /// Runs the binary with this archive's config; returns (exit code, stdout, stderr).
    pub fn cli(&self, args: &[&str], now: Option<&str>) -> (i32, String, String) {
        let mut command = Command::new(env!("CARGO_BIN_EXE_newsvault"));
        command.args(args).arg("--config").arg(&self.config);
        match now {
            Some(now) => command.env("NEWSVAULT_NOW", now),
            None => command.env_remove("NEWSVAULT_NOW"),
        };
        let output = command.output().unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }
}

/// `newsvault serve` as a child process; killed when dropped.
pub struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `newsvault serve --addr 127.0.0.1:0` for `archive` (it brings the site up to date first)
/// and returns it with its base URL, read from its first line.
pub fn start_serve(archive: &TempArchive) -> (Serve, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newsvault"))
        .args(["serve", "--addr", "127.0.0.1:0", "--config"])
        .arg(&archive.config)
        .env_remove("NEWSVAULT_NOW")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let serve = Serve(child);
    let base = line
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (serve, base)
}

/// Runs the site's search script (`assets/site.js` of the built site `site`) under Node with a
/// fake DOM (`tests/fixtures/js/site_search.js`): the search of `query` against `base`
/// (`"static"`: the site's files, as on a static host; or the URL of a running `serve`), then
/// 显示更多 clicked `clicks` times. Its answer, `{status, hits: ["title|snippet"], more_hidden}`
/// with highlights in `[` `]`; `None`, after a line saying that `test` skipped, without `node`.
pub fn site_search_js(
    test: &str,
    site: &Path,
    base: &str,
    query: &str,
    clicks: usize,
) -> Option<serde_json::Value> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/js/site_search.js");
    let output = match Command::new(std::env::var("NEWSVAULT_NODE").unwrap_or("node".into()))
        .arg(script)
        .arg(site)
        .args([base, query, &clicks.to_string()])
        .output()
    {
        Ok(output) => output,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("SKIPPED {test}: no node to run site.js (install nodejs)");
            return None;
        }
        Err(e) => panic!("node: {e}"),
    };
    assert!(
        output.status.success(),
        "site.js under node: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(serde_json::from_slice(&output.stdout).unwrap())
}
