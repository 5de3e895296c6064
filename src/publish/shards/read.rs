//! Reading the static index as `assets/site.js` does: [`search_files`] fetches the manifest,
//! the shards of a query's terms in every segment and the document files of the results, and
//! ranks them as the browser does ([`StaticHit`]); for tests, and to check a built site.

use std::path::{Path, PathBuf};

use super::terms::{decode_postings, fnv1a32, query_terms};
use super::{DIR, FORMAT, chunk_path, shard_path};

/// A result of [`search_files`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StaticHit {
    pub number: u32,
    /// Query terms in the title.
    pub score: u32,
    pub title: String,
    pub url: String,
    pub source: String,
    pub time: String,
    pub gone: bool,
    pub excerpt: String,
}

/// Searches the index of the site in `site` as `assets/site.js` does, best first (most query
/// terms in the title, then the newest): for tests, and to check a built site.
pub fn search_files(site: &Path, query: &str) -> std::io::Result<Vec<StaticHit>> {
    use serde_json::Value;
    let bad = |what: String| std::io::Error::new(std::io::ErrorKind::InvalidData, what);
    let read = |path: PathBuf| -> std::io::Result<Value> {
        let bytes = std::fs::read(&path)?;
        serde_json::from_slice(&bytes).map_err(|e| bad(format!("{}: {e}", path.display())))
    };
    let dir = site.join(DIR);
    let manifest = read(dir.join("manifest.json"))?;
    let number = |value: &Value, key: &str| {
        value[key]
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| bad(format!("no {key} in {value}")))
    };
    if manifest["format"].as_u64() != Some(u64::from(FORMAT)) {
        return Err(bad(format!("format {}", manifest["format"])));
    }
    let chunk_size = number(&manifest, "doc_chunk")?;
    let terms = query_terms(query);
    let mut hits: Vec<(u32, u32)> = Vec::new();
    let segments = manifest["segments"].as_array().cloned().unwrap_or_default();
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    'segments: for segment in &segments {
        let first = number(segment, "first")?;
        let size = number(segment, "size")?;
        let count = number(segment, "shards")?;
        let mut lists: Vec<Vec<u32>> = Vec::new();
        let mut titles: Vec<Vec<u32>> = Vec::new();
        for term in &terms {
            let shard = read(shard_path(
                &dir,
                (first, size),
                fnv1a32(term.as_bytes()) % count,
            ))?;
            let Some(value) = shard.get(term.as_str()).and_then(Value::as_str) else {
                continue 'segments;
            };
            let mut parts = value.split(' ');
            let decode = |text: Option<&str>| {
                decode_postings(text.unwrap_or("")).ok_or_else(|| bad(format!("{term}: {value}")))
            };
            lists.push(decode(parts.next())?);
            titles.push(decode(parts.next())?);
        }
        lists.sort_by_key(Vec::len);
        let mut docs = lists[0].clone();
        for list in &lists[1..] {
            docs.retain(|d| list.binary_search(d).is_ok());
        }
        for doc in docs {
            let score = titles
                .iter()
                .filter(|t| t.binary_search(&doc).is_ok())
                .count();
            hits.push((score as u32, first + doc));
        }
    }
    hits.sort_by(|a, b| b.cmp(a));
    let mut out = Vec::new();
    for (score, number) in hits {
        let chunk = read(chunk_path(&dir, number / chunk_size))?;
        let entry = &chunk[(number % chunk_size) as usize];
        let text = |key: &str| entry[key].as_str().unwrap_or_default().to_string();
        if entry.is_null() {
            return Err(bad(format!("no entry for document {number}")));
        }
        out.push(StaticHit {
            number,
            score,
            title: text("title"),
            url: text("url"),
            source: text("source"),
            time: text("time"),
            gone: entry["gone"].as_bool().unwrap_or(false),
            excerpt: text("excerpt"),
        });
    }
    Ok(out)
}
