//! Searching the index: a query of words, each of which must occur (ranked by jieba's words,
//! matched as a phrase of characters), filtered by source and date, with snippets that mark
//! every hit; and the `--since` windows people type.

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;

use serde::Serialize;
use tantivy::collector::{Count, TopDocs};
use tantivy::columnar::Column;
use tantivy::query::{BooleanQuery, BoostQuery, Occur, PhraseQuery, Query, RangeQuery, TermQuery};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{
    DocId, Index, IndexReader, ReloadPolicy, Score, SegmentReader, TantivyDocument, Term,
};

use super::{
    Fields, MAX_LIMIT, MAX_OFFSET, MAX_QUERY_CHARS, MAX_TERMS, SNIPPET_CHARS, SNIPPET_SCAN,
    SearchError, char_tokens, fold_width, indexed_articles, is_cjk, jieba_tokens,
    register_tokenizers, schema,
};

/// A search as asked.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    /// Only this source (its id or its name).
    pub source: Option<String>,
    /// Only articles dated at or after this moment (ms since 1970).
    pub since_ms: Option<i64>,
    /// Results wanted (capped at [`MAX_LIMIT`]).
    pub limit: usize,
    /// The best results skipped, for a later page (capped at [`MAX_OFFSET`]).
    pub offset: usize,
}

/// A piece of a snippet: `hit` pieces are what the query found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Piece {
    pub text: String,
    pub hit: bool,
}

/// One result.
#[derive(Debug, Clone, Serialize)]
pub struct SearchHit {
    pub id: i64,
    pub title: String,
    pub source: String,
    pub source_id: String,
    pub date_ms: i64,
    /// `2021-04-04 08:45 UTC`.
    pub time: String,
    /// The article's page on the site, relative to the site's root.
    pub url: String,
    /// The original article.
    pub link: String,
    pub gone: bool,
    pub score: f32,
    pub snippet: Vec<Piece>,
}

/// What a search found.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResults {
    pub query: String,
    /// All matching articles; `hits` holds the best of them after the `offset` best.
    pub total: usize,
    pub offset: usize,
    pub hits: Vec<SearchHit>,
}

/// An open index, for searching. Cheap to share between threads.
#[derive(Clone)]
pub struct SearchIndex {
    pub(super) index: Index,
    reader: IndexReader,
    fields: Fields,
}

impl SearchIndex {
    /// Opens the index in `dir`; it follows later commits (a `run` while `serve` serves). One
    /// whose segments do not open is [`SearchError::Damaged`]:
    /// [`update_index`](super::update_index) builds it again.
    pub fn open(dir: &Path) -> Result<SearchIndex, SearchError> {
        // An index whose building was cut short (a run stopped while it built it) opens, but
        // holds part of the archive or none of it: it is as good as missing.
        if !dir.join("meta.json").exists() || indexed_articles(dir).is_none() {
            return Err(SearchError::Missing(dir.to_path_buf()));
        }
        Self::open_segments(dir, ReloadPolicy::OnCommitWithDelay).map_err(|cause| {
            SearchError::Damaged {
                path: dir.to_path_buf(),
                cause,
            }
        })
    }

    /// Opens the index in `dir` and every one of its segments, reloading as `reload` says.
    pub(super) fn open_segments(dir: &Path, reload: ReloadPolicy) -> tantivy::Result<SearchIndex> {
        let index = Index::open_in_dir(dir)?;
        register_tokenizers(&index);
        let (_, fields) = schema();
        let reader = index.reader_builder().reload_policy(reload).try_into()?;
        Ok(SearchIndex {
            index,
            reader,
            fields,
        })
    }

    /// Makes searches see the index's last commit now, rather than when the reader notices it.
    pub fn reload(&self) -> tantivy::Result<()> {
        self.reader.reload()
    }

    /// Number of articles in the index.
    pub fn len(&self) -> u64 {
        self.reader.searcher().num_docs()
    }

    /// Whether the index holds no article.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Runs `request`. A query that cannot be run is [`SearchError::BadQuery`].
    pub fn search(&self, request: &SearchRequest) -> Result<SearchResults, SearchError> {
        let _ = &self.index;
        let parsed = parse_query(&request.query)?;
        let f = &self.fields;
        let mut clauses: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for term in &parsed.include {
            clauses.push((Occur::Must, substring_query(f.chars, term)));
        }
        // Ranking: jieba's words of the query, in the title (counting double) and the text.
        let mut seen = HashSet::new();
        for term in &parsed.include {
            for token in jieba_tokens(term) {
                if !seen.insert(token.text.clone()) {
                    continue;
                }
                for (field, boost) in [(f.title, 2.0), (f.body, 1.0)] {
                    let query = TermQuery::new(
                        Term::from_field_text(field, &token.text),
                        IndexRecordOption::WithFreqs,
                    );
                    clauses.push((
                        Occur::Should,
                        Box::new(BoostQuery::new(Box::new(query), boost)),
                    ));
                }
            }
        }
        if let Some(source) = &request.source {
            clauses.push((
                Occur::Must,
                Box::new(TermQuery::new(
                    Term::from_field_text(f.source, source),
                    IndexRecordOption::Basic,
                )),
            ));
        }
        if let Some(since) = request.since_ms {
            clauses.push((
                Occur::Must,
                Box::new(RangeQuery::new(
                    Bound::Included(Term::from_field_i64(f.date, since)),
                    Bound::Unbounded,
                )),
            ));
        }
        let query = BooleanQuery::new(clauses);
        let searcher = self.reader.searcher();
        let limit = request.limit.clamp(1, MAX_LIMIT);
        let offset = request.offset.min(MAX_OFFSET);
        // Equal scores come newest first, then by id: the same order after every rebuild of
        // the index, whose documents land in segments in no fixed order.
        let ranked =
            TopDocs::with_limit(limit)
                .and_offset(offset)
                .tweak_score(|segment: &SegmentReader| {
                    let column = |name: &str| segment.fast_fields().i64(name).ok();
                    let (dates, ids) = (column("date"), column("id"));
                    move |doc: DocId, score: Score| {
                        let value = |c: &Option<Column<i64>>| c.as_ref().and_then(|c| c.first(doc));
                        (score, value(&dates), value(&ids))
                    }
                });
        let (top, total) = searcher.search(&query, &(ranked, Count))?;
        let highlight = highlight_runs(&parsed.include);
        let mut hits = Vec::with_capacity(top.len());
        for ((score, _, _), address) in top {
            let doc: TantivyDocument = searcher.doc(address)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_string()
            };
            let int = |field| doc.get_first(field).and_then(|v| v.as_i64()).unwrap_or(0);
            let id = int(f.id);
            let date_ms = int(f.date);
            hits.push(SearchHit {
                id,
                title: crate::publish::shown_title(&text(f.title)).to_string(),
                source: text(f.source_name),
                source_id: text(f.source),
                date_ms,
                time: crate::publish::dates::format_time(date_ms),
                url: format!("a/{id}.html"),
                link: text(f.link),
                gone: int(f.gone) != 0,
                score,
                snippet: snippet(&text(f.text), &highlight),
            });
        }
        Ok(SearchResults {
            query: request.query.clone(),
            total,
            offset,
            hits,
        })
    }
}

/// A query split into words.
#[derive(Debug, Default, PartialEq, Eq)]
struct ParsedQuery {
    include: Vec<String>,
}

fn parse_query(query: &str) -> Result<ParsedQuery, SearchError> {
    let chars = query.chars().count();
    if chars > MAX_QUERY_CHARS {
        return Err(SearchError::BadQuery(format!(
            "the query is {chars} characters long; at most {MAX_QUERY_CHARS} are searched"
        )));
    }
    let mut parsed = ParsedQuery::default();
    for word in query.split_whitespace() {
        if char_tokens(word).is_empty() {
            continue;
        }
        parsed.include.push(word.to_string());
    }
    if parsed.include.len() > MAX_TERMS {
        return Err(SearchError::BadQuery(format!(
            "too many words in the query; at most {MAX_TERMS}"
        )));
    }
    if parsed.include.is_empty() {
        return Err(SearchError::BadQuery(
            "the query has no word to search for (letters, digits or CJK characters)".into(),
        ));
    }
    Ok(parsed)
}

/// What snippets mark of the query's `words`: each word's runs of letters, digits and CJK
/// characters (`"冬奥"` marks 冬奥, `冬奥，韩国` marks 冬奥 and 韩国: the punctuation a query
/// holds is no token and need not be in the text), folded and lower-cased, longest first.
fn highlight_runs(words: &[String]) -> Vec<Vec<char>> {
    let mut runs: Vec<Vec<char>> = Vec::new();
    for word in words {
        let mut run: Vec<char> = Vec::new();
        for c in word.chars().map(fold_width).chain([' ']) {
            if is_cjk(c) || c.is_alphanumeric() {
                run.extend(c.to_lowercase());
            } else if !run.is_empty() {
                let run = std::mem::take(&mut run);
                if !runs.contains(&run) {
                    runs.push(run);
                }
            }
        }
    }
    runs.sort_by_key(|t| std::cmp::Reverse(t.len()));
    runs
}

/// Finds `word` as a sequence of `chars` tokens: a substring of the title or text.
fn substring_query(field: Field, word: &str) -> Box<dyn Query> {
    let terms: Vec<Term> = char_tokens(word)
        .into_iter()
        .map(|t| Term::from_field_text(field, &t.text))
        .collect();
    if terms.len() == 1 {
        Box::new(TermQuery::new(
            terms.into_iter().next().expect("one term"),
            IndexRecordOption::WithFreqs,
        ))
    } else {
        Box::new(PhraseQuery::new(terms))
    }
}

/// About [`SNIPPET_CHARS`] characters of `text` around the first hit of any of `words`
/// (folded by [`fold_width`] and lower-cased, as `text` is compared), the hits marked. The start of the text when no word is found in it.
fn snippet(text: &str, words: &[Vec<char>]) -> Vec<Piece> {
    let chars: Vec<char> = text.chars().take(SNIPPET_SCAN).collect();
    let lower: Vec<char> = chars
        .iter()
        .map(|&c| {
            let c = fold_width(c);
            c.to_lowercase().next().unwrap_or(c)
        })
        .collect();
    let mut marked = vec![false; chars.len()];
    let mut first: Option<usize> = None;
    for word in words.iter().filter(|w| !w.is_empty()) {
        let mut i = 0;
        while i + word.len() <= lower.len() {
            if lower[i..i + word.len()] == word[..] {
                marked[i..i + word.len()].fill(true);
                first = Some(first.map_or(i, |f: usize| f.min(i)));
                i += word.len();
            } else {
                i += 1;
            }
        }
    }
    let start = first.map_or(0, |f| f.saturating_sub(SNIPPET_CHARS / 4));
    let end = (start + SNIPPET_CHARS).min(chars.len());
    let mut pieces: Vec<Piece> = Vec::new();
    if start > 0 {
        pieces.push(Piece {
            text: "…".into(),
            hit: false,
        });
    }
    for i in start..end {
        let c = if chars[i] == '\n' { ' ' } else { chars[i] };
        match pieces.last_mut() {
            Some(piece) if piece.hit == marked[i] && !(i == start && start > 0) => {
                piece.text.push(c)
            }
            _ => pieces.push(Piece {
                text: c.to_string(),
                hit: marked[i],
            }),
        }
    }
    if end < text.chars().count().min(SNIPPET_SCAN) || end < chars.len() {
        pieces.push(Piece {
            text: "…".into(),
            hit: false,
        });
    }
    pieces
}

/// `--since`: a window back from `now_ms` (`30d`, `12h`, `2w`, `90m`) or a day (`2021-04-01`).
/// A window reaching further back than milliseconds since 1970 count is an error naming it (it
/// once saturated, quietly meaning "since ever").
pub fn parse_since(text: &str, now_ms: i64) -> Result<i64, SearchError> {
    let text = text.trim();
    if let Ok(day) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(day
            .and_hms_opt(0, 0, 0)
            .expect("midnight exists")
            .and_utc()
            .timestamp_millis());
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = || {
        SearchError::BadQuery(format!(
            "{text:?} is neither a day (2021-04-01) nor a window like 30d, 12h or 2w"
        ))
    };
    let number: i64 = number.parse().map_err(|_| bad())?;
    let unit_ms = match unit {
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => return Err(bad()),
    };
    number
        .checked_mul(unit_ms)
        .and_then(|window| now_ms.checked_sub(window))
        .ok_or_else(|| {
            SearchError::BadQuery(format!("{text:?} is too long a time window to count"))
        })
}

/// The snippet as plain text with hits in `[` `]`, for a terminal or a script.
pub fn snippet_text(pieces: &[Piece], mark: (&str, &str)) -> String {
    pieces
        .iter()
        .map(|p| {
            if p.hit {
                format!("{}{}{}", mark.0, p.text, mark.1)
            } else {
                p.text.clone()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_mark_every_hit_case_insensitively() {
        let pieces = snippet(
            "The Winter Olympics 冬奥 in Beijing",
            &["冬奥".chars().collect(), "olympics".chars().collect()],
        );
        assert_eq!(
            snippet_text(&pieces, ("[", "]")),
            "The Winter [Olympics] [冬奥] in Beijing"
        );
    }

    #[test]
    fn quotes_and_punctuation_of_a_query_do_not_keep_its_words_from_being_marked() {
        let words: Vec<String> = ["\"冬奥\"", "冬奥，韩国", "«COVID-19»", "，"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        let runs: Vec<String> = highlight_runs(&words)
            .into_iter()
            .map(|r| r.into_iter().collect())
            .collect();
        assert_eq!(runs, ["covid", "冬奥", "韩国", "19"]);
        // The snippet starts at the hit, not at the top of the text.
        let text = format!("{}韩国与冬奥", "前".repeat(SNIPPET_CHARS * 2));
        let pieces = snippet(&text, &highlight_runs(&words[..1]));
        assert_eq!(pieces[0].text, "…");
        let marked: Vec<&str> = pieces
            .iter()
            .filter(|p| p.hit)
            .map(|p| p.text.as_str())
            .collect();
        assert_eq!(marked, ["冬奥"]);
    }

    #[test]
    fn snippets_mark_full_width_hits_of_ascii_words_and_back() {
        let pieces = snippet(
            "疫情 ＣＯＶＩＤ 与 Olympics",
            &["covid".chars().collect(), "olympics".chars().collect()],
        );
        assert_eq!(
            snippet_text(&pieces, ("[", "]")),
            "疫情 [ＣＯＶＩＤ] 与 [Olympics]"
        );
    }

    #[test]
    fn queries_are_bounded_and_must_have_words() {
        assert!(matches!(
            parse_query("  ，。 "),
            Err(SearchError::BadQuery(_))
        ));
        assert!(matches!(
            parse_query(&"冬".repeat(MAX_QUERY_CHARS + 1)),
            Err(SearchError::BadQuery(_))
        ));
        assert!(matches!(
            parse_query(&"a ".repeat(MAX_TERMS + 1)),
            Err(SearchError::BadQuery(_))
        ));
        let parsed = parse_query("冬奥 ， x").unwrap();
        assert_eq!(parsed.include, ["冬奥", "x"]);
    }

    #[test]
    fn since_takes_windows_and_days() {
        assert_eq!(parse_since("2d", 3 * 86_400_000).unwrap(), 86_400_000);
        assert_eq!(parse_since("1970-01-02", 0).unwrap(), 86_400_000);
        assert!(parse_since("soon", 0).is_err());
    }

    #[test]
    fn a_window_too_long_to_count_is_refused_naming_it() {
        for text in ["20000000000w", "1000000000000000000d"] {
            let error = parse_since(text, 0).unwrap_err().to_string();
            assert!(error.contains(text), "{error}");
        }
        // The longest window that counts reaches back from now without wrapping either.
        let longest = format!("{}m", i64::MAX / 60_000);
        assert!(parse_since(&longest, 1_700_000_000_000).unwrap() < 0);
        assert!(parse_since(&longest, -1_000_000_000_000).is_err());
    }
}
