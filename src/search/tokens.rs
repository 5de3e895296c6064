//! How the index reads text: jieba's words for ranking ([`JiebaTokenizer`], and
//! [`WordsTokenizer`] for a body segmented before it reaches the writer), single CJK characters
//! and Latin words for matching ([`CharTokenizer`]). Tokens are handed out from their byte
//! ranges in the text ([`TokenSpans`]), not as a string each. Full-width forms (ＣＯＶＩＤ,
//! ２０２２, common in Chinese news) are read as their ASCII letters, digits and signs
//! ([`fold_width`]) before lower-casing, by every tokenizer here and by the static index's terms.

use std::borrow::Cow;
use std::sync::OnceLock;

use jieba_rs::Jieba;
use tantivy::tokenizer::{RemoveLongFilter, TextAnalyzer, Token, TokenStream, Tokenizer};

/// Loads jieba's dictionary now (a few hundred milliseconds), so that the first query does not
/// wait for it; `serve` calls this on a thread of its own at start.
pub fn warm_up() {
    jieba();
}

fn jieba() -> &'static Jieba {
    static JIEBA: OnceLock<Jieba> = OnceLock::new();
    JIEBA.get_or_init(Jieba::new)
}

/// Tokens handed to tantivy one by one from their byte ranges in the text, through one reused
/// [`Token`]: no string is allocated per token (an article has thousands).
/// The text is the one tokenized, or its `fold_text` (jieba's words, whose offsets are then
/// in the folded text).
pub struct TokenSpans<'a> {
    text: Cow<'a, str>,
    spans: std::vec::IntoIter<(usize, usize)>,
    token: Token,
    /// Whether a line break between two tokens leaves a position free between them (the
    /// `chars` field: no phrase spans the title and the text, or two paragraphs).
    breaks: bool,
    /// Where the last token ended.
    end: usize,
}

impl<'a> TokenSpans<'a> {
    fn new(text: impl Into<Cow<'a, str>>, spans: Vec<(usize, usize)>) -> Self {
        TokenSpans {
            text: text.into(),
            spans: spans.into_iter(),
            token: Token {
                position: usize::MAX,
                ..Token::default()
            },
            breaks: false,
            end: 0,
        }
    }

    /// A line break between two tokens leaves a position free: they are not neighbours.
    fn with_gaps_at_breaks(mut self) -> Self {
        self.breaks = true;
        self
    }
}

impl TokenStream for TokenSpans<'_> {
    fn advance(&mut self) -> bool {
        let Some((from, to)) = self.spans.next() else {
            return false;
        };
        let token = &mut self.token;
        token.offset_from = from;
        token.offset_to = to;
        let gap = self.breaks && self.text[self.end..from].contains('\n');
        token.position = token.position.wrapping_add(if gap { 2 } else { 1 });
        self.end = to;
        token.position_length = 1;
        token.text.clear();
        push_lowercase(&mut token.text, &self.text[from..to]);
        true
    }
    fn token(&self) -> &Token {
        &self.token
    }
    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// jieba's search-mode words, Latin lower-cased; spaces and punctuation dropped.
#[derive(Debug, Clone, Default)]
pub struct JiebaTokenizer;

impl Tokenizer for JiebaTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        jieba_stream(text)
    }
}

/// jieba's words of `text` folded ([`fold_text`]): ＣＯＶＩＤ is segmented as COVID is.
fn jieba_stream(text: &str) -> TokenSpans<'_> {
    let folded = fold_text(text);
    let spans = jieba_spans(&folded);
    TokenSpans::new(folded, spans)
}

/// The byte ranges of the words jieba finds in `text` that the index keeps.
fn jieba_spans(text: &str) -> Vec<(usize, usize)> {
    let base = text.as_ptr() as usize;
    jieba()
        .cut_for_search(text, true)
        .into_iter()
        .filter(|t| t.word.chars().any(|c| is_cjk(c) || c.is_alphanumeric()))
        .map(|t| {
            let from = t.word.as_ptr() as usize - base;
            (from, from + t.word.len())
        })
        .collect()
}

/// The words of a text segmented before indexing (`segmented`): one token per line.
#[derive(Debug, Clone, Default)]
pub struct WordsTokenizer;

impl Tokenizer for WordsTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        let mut spans = Vec::new();
        let mut from = 0;
        for line in text.split('\n') {
            if !line.is_empty() {
                spans.push((from, from + line.len()));
            }
            from += line.len() + 1;
        }
        TokenSpans::new(text, spans)
    }
}

/// The analyser of the fields jieba segments.
pub(super) fn words_analyzer() -> TextAnalyzer {
    TextAnalyzer::builder(JiebaTokenizer)
        .filter(RemoveLongFilter::limit(64))
        .build()
}

/// `text` as `body` is indexed: the words `words` (a [`words_analyzer`]) gives, one per line.
/// A word holds no line break (jieba keeps white space to words of its own, which the index
/// drops), so [`WordsTokenizer`] gives back exactly these words.
pub(super) fn segmented(text: &str, words: &mut TextAnalyzer) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 2);
    let mut stream = words.token_stream(text);
    while stream.advance() {
        out.push_str(&stream.token().text);
        out.push('\n');
    }
    out
}

/// The words jieba finds in `text`, as the index sees them.
pub fn jieba_tokens(text: &str) -> Vec<Token> {
    collect_tokens(jieba_stream(text))
}

fn collect_tokens(mut stream: impl TokenStream) -> Vec<Token> {
    let mut tokens = Vec::new();
    while stream.advance() {
        tokens.push(stream.token().clone());
    }
    tokens
}

/// Appends `text` folded ([`fold_width`]) and lower-cased, without Unicode tables for the
/// common cases (ASCII, CJK).
fn push_lowercase(out: &mut String, text: &str) {
    if text.is_ascii() {
        out.extend(text.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else if text.chars().all(is_cjk) {
        out.push_str(text);
    } else {
        out.extend(text.chars().map(fold_width).flat_map(char::to_lowercase));
    }
}

/// The ASCII character a full-width form stands for (U+FF01–U+FF5E → U+0021–U+007E: `Ｃ` → `C`,
/// `２` → `2`, `，` → `,`), a space for the ideographic space (U+3000); any other character
/// as it is. Both searches (and `site.js`) fold text and queries so before lower-casing.
pub fn fold_width(c: char) -> char {
    match c as u32 {
        0xFF01..=0xFF5E => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        0x3000 => ' ',
        _ => c,
    }
}

/// Whether [`fold_width`] changes a character of `text`. (A search of the bytes first would
/// not save the scan: nearly every Chinese text holds a full-width comma.)
fn has_wide(text: &str) -> bool {
    text.chars().any(|c| fold_width(c) != c)
}

/// `text` with [`fold_width`] applied, borrowed when nothing changes.
pub fn fold_text(text: &str) -> std::borrow::Cow<'_, str> {
    if has_wide(text) {
        std::borrow::Cow::Owned(text.chars().map(fold_width).collect())
    } else {
        std::borrow::Cow::Borrowed(text)
    }
}

/// One token per CJK character, one per run of other letters and digits (lower-cased); a line
/// break leaves a position free, so that tokens on either side are no phrase.
#[derive(Debug, Clone, Default)]
pub struct CharTokenizer;

impl Tokenizer for CharTokenizer {
    type TokenStream<'a> = TokenSpans<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> TokenSpans<'a> {
        char_stream(text)
    }
}

/// The `chars` tokens of `text`, a position left free at each line break (the title's end, a
/// paragraph's), so that no phrase spans one.
fn char_stream(text: &str) -> TokenSpans<'_> {
    TokenSpans::new(text, char_spans(text)).with_gaps_at_breaks()
}

/// Chinese, Japanese and Korean characters: each is a token of its own (and a term of its own in
/// the static index, `publish::shards`, so that both searches cut text alike).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF       // kana
        | 0x3400..=0x4DBF     // CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0x20000..=0x3134F) // CJK extensions B–G
}

/// The tokens of the `chars` field.
pub fn char_tokens(text: &str) -> Vec<Token> {
    collect_tokens(char_stream(text))
}

/// The byte ranges of the `chars` tokens of `text`: each CJK character, each run of other
/// letters and digits.
fn char_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::with_capacity(text.len() / 3);
    let mut word: Option<usize> = None;
    for (i, c) in text.char_indices() {
        let cjk = is_cjk(c);
        if cjk || !c.is_alphanumeric() {
            if let Some(start) = word.take() {
                spans.push((start, i));
            }
            if cjk {
                spans.push((i, i + c.len_utf8()));
            }
        } else if word.is_none() {
            word = Some(i);
        }
    }
    if let Some(start) = word {
        spans.push((start, text.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(tokens: Vec<Token>) -> Vec<String> {
        tokens.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn jieba_tokens_lowercase_latin_and_drop_punctuation() {
        let tokens = texts(jieba_tokens("韩国支持北京举办冬奥，COVID Vaccine!"));
        assert!(tokens.contains(&"冬奥".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"covid".to_string()), "{tokens:?}");
        assert!(tokens.contains(&"vaccine".to_string()), "{tokens:?}");
        assert!(!tokens.iter().any(|t| t == "，" || t == " " || t == "!"));
    }

    #[test]
    fn char_tokens_split_cjk_and_keep_latin_words() {
        assert_eq!(
            texts(char_tokens("冬奧 Beijing-2022年")),
            ["冬", "奧", "beijing", "2022", "年"]
        );
    }

    #[test]
    fn char_positions_leave_a_gap_at_line_breaks() {
        let positions: Vec<(String, usize)> = char_tokens("冬奥\n韩国 a\n\nb\r\nc")
            .into_iter()
            .map(|t| (t.text, t.position))
            .collect();
        let want = [
            ("冬", 0),
            ("奥", 1),
            ("韩", 3),
            ("国", 4),
            ("a", 5),
            ("b", 7),
            ("c", 9),
        ];
        let want: Vec<(String, usize)> = want.iter().map(|&(t, p)| (t.into(), p)).collect();
        assert_eq!(positions, want);
    }

    #[test]
    fn full_width_forms_are_read_as_ascii() {
        assert_eq!(fold_width('Ｃ'), 'C');
        assert_eq!(fold_width('ｚ'), 'z');
        assert_eq!(fold_width('０'), '0');
        assert_eq!(fold_width('！'), '!');
        assert_eq!(fold_width('～'), '~');
        assert_eq!(fold_width('\u{3000}'), ' ');
        assert_eq!(fold_width('冬'), '冬');
        assert_eq!(fold_width('，'), ',');
        assert_eq!(
            texts(char_tokens("ＣＯＶＩＤ－１９　Ｏｌｙｍｐｉｃｓ冬奥")),
            ["covid", "19", "olympics", "冬", "奥"]
        );
        let wide = texts(jieba_tokens(
            "韩国ＣＯＶＩＤ疫苗，Ｏｌｙｍｐｉｃｓ　２０２２",
        ));
        let narrow = texts(jieba_tokens("韩国COVID疫苗,Olympics 2022"));
        assert_eq!(wide, narrow);
        assert!(wide.contains(&"covid".to_string()), "{wide:?}");
        let mut words = words_analyzer();
        assert_eq!(segmented("ＣＯＶＩＤ", &mut words), "covid\n");
    }

    proptest::proptest! {
        /// What [`segmented`] writes, [`WordsTokenizer`] reads back word for word, whatever the
        /// text: no word holds the line break that ends it.
        #[test]
        fn segmented_words_read_back_as_they_were(text in "[a-zA-Z0-9 \n\r\t,.冬奥北京韩國国臺台湾-]{0,80}|\\PC{0,80}") {
            let mut words = words_analyzer();
            let expected: Vec<String> = texts(collect_tokens(words.token_stream(&text)));
            let joined = segmented(&text, &mut words);
            let read = texts(collect_tokens(WordsTokenizer.token_stream(&joined)));
            proptest::prop_assert_eq!(read, expected);
        }
    }
}
