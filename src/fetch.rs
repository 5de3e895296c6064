//! HTTP: getting a feed's bytes, politely and reliably.
//!
//! A [`Fetcher`] owns the HTTP clients (one per proxy setting) and the per-host limits. It follows
//! redirects itself, one hop at a time, so that it can name a loop's chain and notice permanent
//! redirects; it sends the validators of the previous answer (`If-None-Match`,
//! `If-Modified-Since`) so that an unchanged feed costs a 304; it retries what is worth retrying
//! (decided in one place, [`FetchError::is_retryable`]) with exponential backoff and jitter,
//! honouring `Retry-After` up to a cap; and it caps the body after decompression.
//!
//! The global concurrency limit is not here: the caller fans out (see `run`), and this module
//! bounds what reaches each host.
//!
//! Gotcha at the `fetch → feed` boundary: the body is handed on as raw bytes, never as text.
//! Decoding is the parser side's job (`feed::to_utf8`), which looks at the HTTP charset, the BOM
//! and the XML declaration together; decoding here too would decode twice.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use reqwest::header::{self, HeaderMap, HeaderValue};
use thiserror::Error;
use tokio::io::AsyncReadExt;
use tokio::sync::Semaphore;
use url::Url;

use crate::config::FetchConfig;

/// What a feed's last good answer said about its version, sent back on the next request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    pub etag: Option<String>,
    pub last_modified: Option<String>,
}

/// One request to make.
#[derive(Debug, Clone)]
pub struct FetchRequest {
    pub url: String,
    pub validators: Validators,
    /// Overrides `[fetch] timeout_secs`.
    pub timeout: Option<Duration>,
    /// Overrides `[fetch] proxy`.
    pub proxy: Option<String>,
    /// The URL was found inside a feed (an article page, an image), not configured by the user:
    /// it may not lead to loopback, private, link-local or metadata addresses (see [`guard`]).
    pub untrusted: bool,
}

/// A successful answer.
#[derive(Debug)]
pub enum Fetched {
    /// 200: a body to parse.
    Body(Body),
    /// 304: nothing changed since the validators were given. Carries any validator the server
    /// sent with the 304 (some servers rotate one and not the other).
    NotModified { validators: Validators },
}

#[derive(Debug)]
pub struct Body {
    /// Raw bytes, decompressed, not decoded.
    pub bytes: Vec<u8>,
    pub status: u16,
    /// `Content-Type`, for its charset.
    pub content_type: Option<String>,
    pub validators: Validators,
    /// The URL that answered, after redirects.
    pub final_url: String,
}

/// The result of a fetch, with what it took.
#[derive(Debug)]
pub struct FetchReport {
    pub outcome: Result<Fetched, FetchError>,
    /// Requests made, the first included.
    pub attempts: u32,
    /// Bytes received (after decompression), over all attempts.
    pub bytes: u64,
    /// Where a permanent redirect (301, 308) pointed, when one was followed.
    pub moved_to: Option<String>,
}

/// Why a fetch failed. The messages are one line; callers prefix source and URL.
#[derive(Debug, Error)]
pub enum FetchError {
    /// The server answered, but not with 2xx or 304.
    #[error("HTTP {status}")]
    Status {
        status: u16,
        /// `Retry-After`, when the server gave one.
        retry_after: Option<Duration>,
    },
    /// The request did not complete: DNS, refused, TLS, reset, timeout.
    #[error("{0}")]
    Network(String),
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    #[error("body larger than {limit} bytes (after decompression)")]
    TooLarge { limit: u64 },
    #[error("redirect loop: {}", chain.join(" -> "))]
    RedirectLoop { chain: Vec<String> },
    #[error("more than {limit} redirects: {}", chain.join(" -> "))]
    TooManyRedirects { limit: usize, chain: Vec<String> },
    #[error("redirect without a usable Location: {0}")]
    BadRedirect(String),
    #[error("{0}")]
    BadUrl(String),
    /// A URL found in a feed points at the archive's own network.
    #[error("refused: {0}")]
    Refused(String),
    #[error("cannot read {path}: {cause}")]
    File { path: String, cause: std::io::Error },
}

impl FetchError {
    /// The one place that decides what is worth another attempt: 5xx, 408 and 429 answers, and
    /// failures of the network itself. Other 4xx, oversize bodies and redirect trouble are not:
    /// asking again would get the same answer.
    pub fn is_retryable(&self) -> bool {
        match self {
            FetchError::Status { status, .. } => *status >= 500 || *status == 408 || *status == 429,
            FetchError::Network(e) => !e.contains(guard::REFUSED),
            FetchError::Timeout(_) => true,
            _ => false,
        }
    }

    /// What went wrong, without the URL, addresses or redirect chain it concerns, so that
    /// failures of one kind read alike and can be counted (`check` names the most common).
    pub fn cause(&self) -> String {
        const NOT_PUBLIC: &str =
            "refused: not a public http(s) address, see [fetch] allow_private_addresses";
        match self {
            FetchError::Network(e) if e.contains(guard::REFUSED) => NOT_PUBLIC.to_string(),
            FetchError::Refused(_) => NOT_PUBLIC.to_string(),
            FetchError::RedirectLoop { .. } => "redirect loop".to_string(),
            FetchError::TooManyRedirects { limit, .. } => format!("more than {limit} redirects"),
            FetchError::BadRedirect(_) => "redirect without a usable Location".to_string(),
            FetchError::BadUrl(_) => "not a usable URL".to_string(),
            FetchError::File { cause, .. } => format!("cannot read the file: {cause}"),
            FetchError::Status { .. }
            | FetchError::Network(_)
            | FetchError::Timeout(_)
            | FetchError::TooLarge { .. } => self.to_string(),
        }
    }

    /// The HTTP status, when the failure was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            FetchError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Makes requests. Cheap to share behind an `Arc`.
pub struct Fetcher {
    config: FetchConfig,
    user_agent: String,
    /// One client per proxy setting (`None`: the environment's proxy variables apply).
    clients: Mutex<HashMap<(Option<String>, bool), reqwest::Client>>,
    /// One semaphore per host, so no host sees more than `per_host` requests at once.
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

/// The User-Agent unless the config names another.
pub fn default_user_agent() -> String {
    format!(
        "newsvault/{} (+https://github.com/newsvault/newsvault)",
        env!("CARGO_PKG_VERSION")
    )
}

impl Fetcher {
    pub fn new(config: &FetchConfig) -> Fetcher {
        Fetcher {
            user_agent: config.user_agent.clone().unwrap_or_else(default_user_agent),
            config: config.clone(),
            clients: Mutex::new(HashMap::new()),
            hosts: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self, proxy: Option<&str>, guarded: bool) -> Result<reqwest::Client, FetchError> {
        let proxy = proxy.or(self.config.proxy.as_deref()).map(str::to_string);
        let key = (proxy.clone(), guarded);
        let mut clients = self.clients.lock().expect("client map poisoned");
        if let Some(client) = clients.get(&key) {
            return Ok(client.clone());
        }
        let mut builder = reqwest::Client::builder()
            .user_agent(&self.user_agent)
            .connect_timeout(self.config.connect_timeout())
            .redirect(reqwest::redirect::Policy::none())
            .gzip(true)
            .brotli(true)
            .deflate(true);
        if guarded {
            // Names resolve only to public addresses: checked where the connection is made,
            // so a name cannot resolve one way for the check and another for the connection.
            builder = builder.dns_resolver(Arc::new(guard::PublicOnly));
        }
        if let Some(proxy) = &proxy {
            let proxy = reqwest::Proxy::all(proxy)
                .map_err(|e| FetchError::BadUrl(format!("proxy {proxy}: {e}")))?;
            builder = builder.proxy(proxy);
        }
        let client = builder
            .build()
            .map_err(|e| FetchError::Network(format!("cannot start HTTP client: {e}")))?;
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The settings this fetcher was made with.
    pub fn config(&self) -> &FetchConfig {
        &self.config
    }

    fn host_limit(&self, url: &Url) -> Arc<Semaphore> {
        let host = format!(
            "{}:{}",
            url.host_str().unwrap_or(""),
            url.port_or_known_default().unwrap_or(0)
        );
        let mut hosts = self.hosts.lock().expect("host map poisoned");
        hosts
            .entry(host)
            .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_host)))
            .clone()
    }

    /// Fetches one URL, retrying as the config says. Never panics on what the server does.
    pub async fn fetch(&self, request: &FetchRequest) -> FetchReport {
        let mut report = FetchReport {
            outcome: Err(FetchError::BadUrl(String::new())),
            attempts: 0,
            bytes: 0,
            moved_to: None,
        };
        let url = match Url::parse(&request.url) {
            Ok(url) => url,
            Err(e) => {
                report.outcome = Err(FetchError::BadUrl(format!("not a URL: {e}")));
                return report;
            }
        };
        if url.scheme() == "file" {
            report.attempts = 1;
            report.outcome = read_file(&url, self.config.max_body_bytes).await;
            if let Ok(Fetched::Body(body)) = &report.outcome {
                report.bytes = body.bytes.len() as u64;
            }
            return report;
        }
        let guarded = request.untrusted && !self.config.allow_private_addresses;
        let client = match self.client(request.proxy.as_deref(), guarded) {
            Ok(client) => client,
            Err(e) => {
                report.outcome = Err(e);
                return report;
            }
        };
        loop {
            report.attempts += 1;
            let outcome = self.attempt(&client, &url, request, &mut report).await;
            match outcome {
                Err(e) if e.is_retryable() && report.attempts < self.config.attempts => {
                    tokio::time::sleep(self.backoff(report.attempts, &e)).await;
                }
                outcome => {
                    report.outcome = outcome;
                    return report;
                }
            }
        }
    }

    /// How long to wait before attempt `done + 1`: exponential with jitter, or what
    /// `Retry-After` asked for (up to the cap), whichever is longer.
    fn backoff(&self, done: u32, error: &FetchError) -> Duration {
        let base = self
            .config
            .backoff_ms
            .saturating_mul(1 << (done - 1).min(16));
        let jitter = fastrand::u64(0..=base / 2);
        let wait = Duration::from_millis(base + jitter);
        let cap = Duration::from_secs(self.config.max_retry_after_secs);
        match error {
            FetchError::Status {
                retry_after: Some(asked),
                ..
            } => wait.max((*asked).min(cap)),
            _ => wait,
        }
    }

    /// One attempt: the request and the redirects it leads to.
    async fn attempt(
        &self,
        client: &reqwest::Client,
        start: &Url,
        request: &FetchRequest,
        report: &mut FetchReport,
    ) -> Result<Fetched, FetchError> {
        let timeout = request.timeout.unwrap_or_else(|| self.config.timeout());
        let limit = self.host_limit(start);
        let _permit = limit.acquire_owned().await.expect("semaphore never closed");
        let work = async {
            let mut url = start.clone();
            let mut chain = vec![url.to_string()];
            let mut all_permanent = true;
            let proxied = request.proxy.is_some() || self.config.proxy.is_some();
            loop {
                // Every hop of a URL found in a feed is checked, redirects included.
                if request.untrusted && !self.config.allow_private_addresses {
                    guard::check_url(&url, proxied)?;
                }
                let mut builder = client.get(url.clone());
                if let Some(etag) = &request.validators.etag {
                    builder = builder.header(header::IF_NONE_MATCH, etag);
                }
                if let Some(modified) = &request.validators.last_modified {
                    builder = builder.header(header::IF_MODIFIED_SINCE, modified);
                }
                let mut response = builder.send().await.map_err(network_error)?;
                let status = response.status();
                if status.is_redirection() && status != StatusCode::NOT_MODIFIED {
                    let next = redirect_target(&url, response.headers())?;
                    all_permanent &= matches!(status.as_u16(), 301 | 308);
                    if chain.iter().any(|seen| seen == next.as_str()) {
                        chain.push(next.to_string());
                        return Err(FetchError::RedirectLoop { chain });
                    }
                    chain.push(next.to_string());
                    if chain.len() > self.config.max_redirects + 1 {
                        return Err(FetchError::TooManyRedirects {
                            limit: self.config.max_redirects,
                            chain,
                        });
                    }
                    url = next;
                    continue;
                }
                if all_permanent && chain.len() > 1 {
                    report.moved_to = Some(url.to_string());
                }
                let validators = validators_of(response.headers());
                if status == StatusCode::NOT_MODIFIED {
                    return Ok(Fetched::NotModified { validators });
                }
                if !status.is_success() {
                    return Err(FetchError::Status {
                        status: status.as_u16(),
                        retry_after: retry_after(response.headers()),
                    });
                }
                let content_type = response
                    .headers()
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                let mut bytes = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(network_error)? {
                    report.bytes += chunk.len() as u64;
                    if (bytes.len() + chunk.len()) as u64 > self.config.max_body_bytes {
                        return Err(FetchError::TooLarge {
                            limit: self.config.max_body_bytes,
                        });
                    }
                    bytes.extend_from_slice(&chunk);
                }
                return Ok(Fetched::Body(Body {
                    bytes,
                    status: status.as_u16(),
                    content_type,
                    validators,
                    final_url: url.to_string(),
                }));
            }
        };
        match tokio::time::timeout(timeout, work).await {
            Ok(outcome) => outcome,
            Err(_) => Err(FetchError::Timeout(timeout)),
        }
    }
}

fn redirect_target(from: &Url, headers: &HeaderMap) -> Result<Url, FetchError> {
    let location = headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| FetchError::BadRedirect(format!("{from} gave no Location")))?;
    let next = from
        .join(location)
        .map_err(|e| FetchError::BadRedirect(format!("{location:?}: {e}")))?;
    match next.scheme() {
        "http" | "https" => Ok(next),
        other => Err(FetchError::BadRedirect(format!(
            "{next} (scheme {other} is not followed)"
        ))),
    }
}

fn validators_of(headers: &HeaderMap) -> Validators {
    let text = |v: &HeaderValue| v.to_str().ok().map(str::to_string);
    Validators {
        etag: headers.get(header::ETAG).and_then(text),
        last_modified: headers.get(header::LAST_MODIFIED).and_then(text),
    }
}

/// `Retry-After` as seconds or as an HTTP date.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let text = headers.get(header::RETRY_AFTER)?.to_str().ok()?.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc);
    (at - Utc::now()).to_std().ok()
}

/// A one-line reason for a failed request: the error and its causes, without the URL (the caller
/// names it once).
fn network_error(error: reqwest::Error) -> FetchError {
    let mut parts = vec![];
    let mut source: Option<&dyn std::error::Error> = Some(&error);
    while let Some(e) = source {
        let text = e.to_string();
        let text = match text.find(" for url (") {
            Some(at) => text[..at].to_string(),
            None => text,
        };
        if !parts.iter().any(|p: &String| p.contains(&text)) {
            parts.push(text);
        }
        source = e.source();
    }
    FetchError::Network(parts.join(": "))
}

async fn read_file(url: &Url, limit: u64) -> Result<Fetched, FetchError> {
    let path = url
        .to_file_path()
        .map_err(|_| FetchError::BadUrl(format!("{url} is not a local path")))?;
    let shown = path.display().to_string();
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|cause| FetchError::File {
            path: shown.clone(),
            cause,
        })?;
    // A device or a FIFO has no length to check and may never end (or never begin).
    if !meta.is_file() {
        return Err(FetchError::File {
            path: shown,
            cause: std::io::Error::other("not a regular file (a device, FIFO or socket)"),
        });
    }
    if meta.len() > limit {
        return Err(FetchError::TooLarge { limit });
    }
    // Read up to the cap whatever the length said: the file may grow meanwhile.
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|cause| FetchError::File {
            path: shown.clone(),
            cause,
        })?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .await
        .map_err(|cause| FetchError::File { path: shown, cause })?;
    if bytes.len() as u64 > limit {
        return Err(FetchError::TooLarge { limit });
    }
    Ok(Fetched::Body(Body {
        bytes,
        status: 200,
        content_type: None,
        validators: Validators::default(),
        final_url: url.to_string(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retryable_is_decided_by_kind() {
        let status = |status| FetchError::Status {
            status,
            retry_after: None,
        };
        assert!(status(500).is_retryable());
        assert!(status(503).is_retryable());
        assert!(status(429).is_retryable());
        assert!(status(408).is_retryable());
        assert!(!status(404).is_retryable());
        assert!(!status(403).is_retryable());
        assert!(FetchError::Network("reset".into()).is_retryable());
        assert!(!FetchError::TooLarge { limit: 1 }.is_retryable());
        assert!(!FetchError::RedirectLoop { chain: vec![] }.is_retryable());
    }

    #[test]
    fn causes_leave_out_the_url_so_alike_failures_count_together() {
        let refused = FetchError::Refused(
            "http://10.0.0.1/a: 10.0.0.1 is a loopback, private, link-local or reserved address"
                .into(),
        );
        let resolved = FetchError::Network(format!(
            "error sending request: intranet.example {} (10.0.0.2)",
            guard::REFUSED
        ));
        assert_eq!(refused.cause(), resolved.cause());
        assert!(refused.cause().contains("allow_private_addresses"));
        let looped = |chain: &[&str]| FetchError::RedirectLoop {
            chain: chain.iter().map(|c| c.to_string()).collect(),
        };
        assert_eq!(
            looped(&["http://a/1"]).cause(),
            looped(&["http://b/2"]).cause()
        );
        let status = FetchError::Status {
            status: 503,
            retry_after: None,
        };
        assert_eq!(status.cause(), "HTTP 503");
    }

    #[test]
    fn retry_after_is_capped() {
        let config = FetchConfig {
            backoff_ms: 10,
            max_retry_after_secs: 5,
            ..FetchConfig::default()
        };
        let fetcher = Fetcher::new(&config);
        let asked = FetchError::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(3600)),
        };
        assert_eq!(fetcher.backoff(1, &asked), Duration::from_secs(5));
        let plain = FetchError::Status {
            status: 500,
            retry_after: None,
        };
        let wait = fetcher.backoff(3, &plain);
        assert!(wait >= Duration::from_millis(40) && wait <= Duration::from_millis(60));
    }
}

/// Keeping URLs found in feeds away from the archive's own network (server-side request
/// forgery): loopback, private, link-local (cloud metadata at 169.254.169.254), shared,
/// multicast and reserved addresses are refused, for literal addresses in the URL and for
/// every address a name resolves to. Behind a proxy that resolves names itself (socks5h, HTTP
/// CONNECT), only the name and literal addresses can be checked here.
pub mod guard {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

    use url::{Host, Url};

    use super::FetchError;

    /// Marks a resolver refusal inside a network error, so it is not retried.
    pub const REFUSED: &str = "resolves only to non-public addresses";

    /// Names that mean "this machine" or its cloud's metadata whatever DNS says.
    const LOCAL_NAMES: &[&str] = &["localhost", "metadata.google.internal", "metadata"];

    /// Checks the scheme and host of a URL found in a feed.
    pub fn check_url(url: &Url, proxied: bool) -> Result<(), FetchError> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FetchError::Refused(format!(
                "{url}: only http and https URLs are fetched"
            )));
        }
        match url.host() {
            Some(Host::Ipv4(ip)) => check_ip(IpAddr::V4(ip), url),
            Some(Host::Ipv6(ip)) => check_ip(IpAddr::V6(ip), url),
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                let local = LOCAL_NAMES.contains(&name.as_str()) || name.ends_with(".localhost");
                if local || (proxied && name.ends_with(".internal")) {
                    return Err(FetchError::Refused(format!(
                        "{url}: {name} names this machine or its network"
                    )));
                }
                Ok(())
            }
            None => Err(FetchError::Refused(format!("{url}: no host"))),
        }
    }

    fn check_ip(ip: IpAddr, url: &Url) -> Result<(), FetchError> {
        if is_public(ip) {
            Ok(())
        } else {
            Err(FetchError::Refused(format!(
                "{url}: {ip} is a loopback, private, link-local or reserved address"
            )))
        }
    }

    /// Whether an address is on the public internet.
    pub fn is_public(ip: IpAddr) -> bool {
        match ip {
            IpAddr::V4(v4) => is_public_v4(v4),
            IpAddr::V6(v6) => {
                if let Some(v4) = v6.to_ipv4_mapped() {
                    return is_public_v4(v4);
                }
                let s = v6.segments();
                // NAT64 (64:ff9b::/96) carries an IPv4 address in its last 32 bits.
                if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
                    let [a, b] = s[6].to_be_bytes();
                    let [c, d] = s[7].to_be_bytes();
                    return is_public_v4(Ipv4Addr::new(a, b, c, d));
                }
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || v6.is_multicast()
                    || (s[0] & 0xfe00) == 0xfc00 // unique local
                    || (s[0] & 0xffc0) == 0xfe80 // link-local
                    || (s[0] & 0xffc0) == 0xfec0 // site-local
                    || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
                    || v6 == Ipv6Addr::new(0, 0, 0, 0, 0, 0, 0, 1))
            }
        }
    }

    fn is_public_v4(ip: Ipv4Addr) -> bool {
        let [a, b, c, _] = ip.octets();
        !(ip.is_loopback()
            || ip.is_private()
            || ip.is_link_local()
            || ip.is_unspecified()
            || ip.is_broadcast()
            || ip.is_multicast()
            || ip.is_documentation()
            || a == 0
            || (a == 100 && (64..128).contains(&b)) // shared (CGNAT)
            || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
            || (a == 198 && (b == 18 || b == 19)) // benchmarking
            || a >= 240) // reserved
    }

    /// A DNS resolver that hands the HTTP client only public addresses.
    pub struct PublicOnly;

    impl reqwest::dns::Resolve for PublicOnly {
        fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let host = name.as_str().to_string();
            Box::pin(async move {
                let all: Vec<SocketAddr> =
                    tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
                let public: Vec<SocketAddr> =
                    all.iter().copied().filter(|a| is_public(a.ip())).collect();
                if public.is_empty() {
                    let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                    return Err(format!("{host} {REFUSED} ({})", shown.join(", ")).into());
                }
                Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
            })
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn private_and_metadata_addresses_are_refused() {
            for bad in [
                "http://127.0.0.1/",
                "http://169.254.169.254/latest/meta-data/",
                "http://10.0.0.1/",
                "http://192.168.1.1/",
                "http://172.16.0.1/",
                "http://[::1]/",
                "http://[fd00::1]/",
                "http://[::ffff:127.0.0.1]/",
                "http://0.0.0.0/",
                "http://100.64.0.1/",
                "http://localhost:8080/",
                "http://a.localhost/",
                "file:///etc/passwd",
                "ftp://example.com/",
                "http://[64:ff9b::a00:1]/",
            ] {
                let url = Url::parse(bad).unwrap();
                assert!(check_url(&url, false).is_err(), "{bad} let through");
            }
            for good in [
                "https://www.zaobao.com/a",
                "http://93.184.216.34/",
                "http://[2606:4700::1]/",
            ] {
                assert!(
                    check_url(&Url::parse(good).unwrap(), false).is_ok(),
                    "{good} refused"
                );
            }
        }
    }
}
