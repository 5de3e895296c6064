//! `newsvault demo`: the whole pipeline on bundled feeds, with no network.
//!
//! Three small feeds (the golden 联合早报 item as RSS 2.0, an Atom feed and a JSON Feed) are
//! served by a minimal HTTP server on an ephemeral 127.0.0.1 port, a config pointing at them is
//! made in memory, and one ordinary run archives them into the demo folder.

use std::path::Path;

use anyhow::{Context, Result};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::clock::Clock;
use crate::config::Config;
use crate::run::{RunSummary, run};

/// The bundled feeds: (path, content type, body).
const FEEDS: &[(&str, &str, &str)] = &[
    (
        "/zaobao.xml",
        "application/rss+xml; charset=utf-8",
        include_str!("../demo/zaobao.xml"),
    ),
    (
        "/solidot.atom",
        "application/atom+xml; charset=utf-8",
        include_str!("../demo/solidot.atom"),
    ),
    (
        "/digital-times.json",
        "application/feed+json",
        include_str!("../demo/digital-times.json"),
    ),
];

/// Serves the bundled feeds, archives them into `dir`, stops the server.
pub async fn run_demo(dir: &Path, clock: Clock) -> Result<RunSummary> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .context("binding a loopback port for the demo feeds")?;
    let port = listener.local_addr()?.port();
    let server = tokio::spawn(serve(listener));
    let base = format!("http://127.0.0.1:{port}");
    // The archive is `dir` as given (set after parsing: a relative `archive` in the text would
    // be taken relative to `dir` again, and a path is not always a valid TOML string).
    let text = format!(
        "[[source]]\nname = \"联合早报\"\nfeeds = [\"{base}/zaobao.xml\"]\ncontent = \"verbatim\"\n\
         [[source]]\nname = \"Solidot\"\nfeeds = [\"{base}/solidot.atom\"]\n\
         [[source]]\nname = \"中国数字时代\"\nfeeds = [\"{base}/digital-times.json\"]\n"
    );
    let mut config = Config::parse(&text, Path::new("(demo config)"), dir)?;
    config.archive = dir.to_path_buf();
    let summary = run(&config, clock).await;
    server.abort();
    summary
}

/// Answers GET requests for the bundled feeds, one connection at a time is plenty.
async fn serve(listener: TcpListener) {
    while let Ok((mut stream, _)) = listener.accept().await {
        tokio::spawn(async move {
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
                match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => head.extend_from_slice(&buf[..n]),
                }
            }
            let head = String::from_utf8_lossy(&head);
            let path = head.split_whitespace().nth(1).unwrap_or("/");
            let response = match FEEDS.iter().find(|(p, _, _)| *p == path) {
                Some((_, kind, body)) => format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                ),
                None => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_string(),
            };
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        });
    }
}
