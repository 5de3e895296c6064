//! Fuzz target: any text as a search query against a small index (the golden article), and as
//! text for the search tokenizers and HTML-to-text. Must never panic: a bad query is an error
//! the server answers with 400.
#![no_main]
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use newsvault::search::{SearchIndex, SearchRequest, char_tokens, jieba_tokens, plain_text};

fn index() -> &'static SearchIndex {
    static INDEX: OnceLock<SearchIndex> = OnceLock::new();
    INDEX.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("newsvault-fuzz-search-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = newsvault::store::Store::open(&dir.join("store.sqlite")).expect("store");
        let index = dir.join("index");
        newsvault::search::update_index(&store, &index).expect("index");
        SearchIndex::open(&index).expect("open")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = plain_text(text);
    let _ = jieba_tokens(text);
    let _ = char_tokens(text);
    let request = SearchRequest {
        query: text.to_string(),
        source: None,
        since_ms: None,
        limit: 10,
        offset: 0,
    };
    let _ = index().search(&request);
});
