//! Feed bytes into entries: RSS 0.9x/1.0/2.0, Atom and JSON Feed, through `feed-rs`.
//!
//! Two things happen here: the bytes are brought to UTF-8 ([`to_utf8`]: BOM, HTTP charset, XML
//! declaration, else detection), and the parsed feed is flattened into [`Entry`] values that
//! keep what the feed said and nothing the parser made up (its generated ids are discarded: an
//! identity must not depend on parser internals). What to do with an entry is `content`'s job.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8};
use thiserror::Error;

use crate::model::{Entry, ParsedFeed};

/// Why bytes are not a feed. One line, without source or URL (the caller names them).
#[derive(Debug, Error)]
pub enum FeedError {
    #[error("empty body")]
    Empty,
    #[error("an HTML page, not a feed")]
    Html,
    #[error("not a feed: {0}")]
    Invalid(String),
}

/// Parses a feed. `content_type` is the HTTP `Content-Type`, for its charset.
pub fn parse_feed(bytes: &[u8], content_type: Option<&str>) -> Result<ParsedFeed, FeedError> {
    let bytes = to_utf8(bytes, content_type.and_then(charset_of));
    let is_json = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    // A JSON Feed has no declarations to disarm: what looks like one is in a string.
    let bytes = if is_json {
        json_ids_as_strings(bytes)
    } else {
        disarm_late_declarations(bytes)
    };
    let start = String::from_utf8_lossy(&bytes[..bytes.len().min(1024)]).to_ascii_lowercase();
    let head = start.trim_start_matches('\u{feff}').trim_start();
    if head.is_empty() {
        return Err(FeedError::Empty);
    }
    if head.starts_with("<!doctype html") || head.starts_with("<html") {
        return Err(FeedError::Html);
    }
    // A parser that failed keeps state of that document (feed-rs asserts on it): each reading
    // has a parser of its own.
    let parser = || {
        feed_rs::parser::Builder::new()
            // An empty id marks "the feed gave none"; see `Entry::guid`.
            .id_generator(|_, _, _| String::new())
            .sanitize_content(false)
            .build()
    };
    // The XML reader under feed-rs can panic on some malformed input (found by fuzzing: an
    // encoding declaration met after the reader's prefix buffer is gone); a bad feed must fail
    // alone with a reason, never take the run down.
    let parse = |bytes: &[u8]| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser().parse(bytes)))
            .map_err(|_| FeedError::Invalid("the XML parser gave up on malformed input".into()))
    };
    match parse(bytes.as_ref())? {
        Ok(feed) => Ok(flatten(feed, 0)),
        // Real feeds write `AT&T` in a title; the XML reader refuses the whole document for
        // it. Only a feed that failed is read again, with its bare ampersands escaped (one
        // linear pass), so a well-formed feed costs nothing more.
        Err(first @ feed_rs::parser::ParseFeedError::XmlReader(_)) => {
            let (escaped, bare) = escape_bare_ampersands(&bytes);
            if bare == 0 {
                return Err(FeedError::Invalid(describe_at(&first, &bytes)));
            }
            match parse(&escaped)? {
                Ok(feed) => Ok(flatten(feed, bare)),
                Err(e) => Err(FeedError::Invalid(describe_at(&e, &escaped))),
            }
        }
        Err(e) => Err(FeedError::Invalid(describe(&e))),
    }
}

/// The document with every `&` that does not begin a well-formed reference (`&name;`,
/// `&#123;`, `&#x1F;`) written `&amp;`, outside CDATA sections and comments (whose text the
/// reader does not interpret), and how many there were. One pass: each `&` is found with
/// `memchr` and looked at only up to the end of the name after it.
fn escape_bare_ampersands(bytes: &[u8]) -> (Vec<u8>, usize) {
    let sections = text_sections(bytes);
    let mut sections = sections.iter().peekable();
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut bare = 0;
    let mut copied = 0;
    for at in memchr::memchr_iter(b'&', bytes) {
        while sections.peek().is_some_and(|s| s.end <= at) {
            sections.next();
        }
        if sections.peek().is_some_and(|s| s.contains(&at)) || is_reference(&bytes[at..]) {
            continue;
        }
        out.extend_from_slice(&bytes[copied..=at]);
        out.extend_from_slice(b"amp;");
        copied = at + 1;
        bare += 1;
    }
    out.extend_from_slice(&bytes[copied..]);
    (out, bare)
}

/// Whether `text` (starting at a `&`) begins a well-formed character or entity reference.
fn is_reference(text: &[u8]) -> bool {
    let rest = &text[1..];
    let (digits, valid): (&[u8], fn(&u8) -> bool) = match rest {
        [b'#', b'x', digits @ ..] => (digits, u8::is_ascii_hexdigit),
        [b'#', digits @ ..] => (digits, u8::is_ascii_digit),
        [first, ..]
            if first.is_ascii_alphabetic() || matches!(first, b'_' | b':') || *first >= 0x80 =>
        {
            (rest, |c| {
                c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.') || *c >= 0x80
            })
        }
        _ => return false,
    };
    let len = digits.iter().take_while(|c| valid(c)).count();
    len > 0 && digits.get(len) == Some(&b';')
}

/// [`describe`], with the line of `bytes` the XML reader stopped at when it gives a position
/// (feed-rs does not pass it on: the document is read again with quick-xml alone, only to
/// name the line of a feed that failed).
fn describe_at(error: &feed_rs::parser::ParseFeedError, bytes: &[u8]) -> String {
    let reason = describe(error);
    match xml_error_line(bytes) {
        Some(line) => format!("line {line}: {reason}"),
        None => reason,
    }
}

/// The line (from 1) at which quick-xml finds `bytes` malformed, if it does.
fn xml_error_line(bytes: &[u8]) -> Option<usize> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(quick_xml::events::Event::Eof) => return None,
            Ok(_) => buf.clear(),
            Err(_) => {
                let at = usize::try_from(reader.error_position())
                    .ok()?
                    .min(bytes.len());
                return Some(1 + memchr::memchr_iter(b'\n', &bytes[..at]).count());
            }
        }
    }
}

/// A JSON Feed whose items' `id`s are numbers, with them as strings: the JSON Feed spec says
/// a number there is to be read as a string, and feed-rs refuses the whole feed otherwise. Any
/// other JSON (a feed without such ids, or not JSON at all) comes back untouched, for feed-rs to
/// read or to refuse with its reason.
fn json_ids_as_strings(bytes: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let Ok(mut feed) = serde_json::from_slice::<serde_json::Value>(&bytes) else {
        return bytes;
    };
    let mut converted = false;
    let items = feed.get_mut("items").and_then(|i| i.as_array_mut());
    for item in items.into_iter().flatten() {
        // Only a number read exactly: one too large is read as a float, rounded, and two
        // items could then share one id (such a feed is refused, as before).
        if let Some(id) = item.get_mut("id")
            && let serde_json::Value::Number(number) = id
            && (number.is_u64()
                || number.is_i64()
                || number
                    .as_f64()
                    .is_some_and(|f| f.abs() < 9_007_199_254_740_992.0))
        {
            *id = serde_json::Value::String(number.to_string());
            converted = true;
        }
    }
    match converted.then(|| serde_json::to_vec(&feed)) {
        Some(Ok(json)) => Cow::Owned(json),
        _ => bytes,
    }
}

/// The bytes are UTF-8 by now, so the XML reader must not switch encodings: a declaration naming
/// one makes the reader under feed-rs panic when it comes late in the document or is longer than
/// its prefix buffer (both found by fuzzing). The leading declaration becomes a plain
/// `<?xml version="1.0"?>`, and any other is turned into an ordinary processing instruction,
/// which parsers skip. What CDATA sections and comments hold is text the reader does not
/// interpret (an article about XML quoting `<?xml …?>`), and stays as written.
fn disarm_late_declarations(bytes: Cow<'_, [u8]>) -> Cow<'_, [u8]> {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0);
    let is_decl = |at: usize, b: &[u8]| {
        b[at..].starts_with(b"<?xml")
            && b.get(at + 5)
                .is_some_and(|c| c.is_ascii_whitespace() || *c == b'?')
    };
    // Found with memchr's `memmem`: a byte-by-byte scan of every feed took 2 % of a first run.
    let mut declarations: Vec<usize> = memchr::memmem::find_iter(&bytes, b"<?xml")
        .filter(|&at| is_decl(at, &bytes))
        .collect();
    if declarations.is_empty() {
        return bytes;
    }
    // The sections are in order and apart: the one that may hold `at` is the last to begin
    // at or before it.
    let quoted = text_sections(&bytes);
    declarations.retain(|&at| {
        let before = quoted.partition_point(|section| section.start <= at);
        !before
            .checked_sub(1)
            .is_some_and(|last| quoted[last].contains(&at))
    });
    if declarations.is_empty() {
        return bytes;
    }
    let mut out = bytes.into_owned();
    for &at in declarations.iter().rev() {
        let end = out[at..]
            .windows(2)
            .position(|w| w == b"?>")
            .map(|e| at + e + 2);
        match end {
            Some(end) if at == start => {
                out.splice(at..end, b"<?xml version=\"1.0\"?>".iter().copied());
            }
            _ => out[at + 2] = b'_',
        }
    }
    Cow::Owned(out)
}

/// The byte ranges of an XML document's CDATA sections and comments, in order, each from its
/// opening to its closing mark. A section left open is no section: what follows its opening
/// is treated as markup.
fn text_sections(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    use memchr::memmem::find;
    // The next opening of each kind at or after `from`, found again only once passed: a
    // search from every section to the end of the document for the kind it does not hold
    // would read a feed of many CDATA sections once per section.
    let next = |from: usize, open: &[u8]| find(&bytes[from..], open).map(|at| from + at);
    let mut sections = Vec::new();
    let (mut cdata, mut comment) = (next(0, b"<![CDATA["), next(0, b"<!--"));
    loop {
        let (open, close) = match (cdata, comment) {
            (Some(c), Some(m)) if m < c => (m, &b"-->"[..]),
            (Some(c), _) => (c, &b"]]>"[..]),
            (None, Some(m)) => (m, &b"-->"[..]),
            (None, None) => return sections,
        };
        let Some(len) = find(&bytes[open + 4..], close) else {
            return sections;
        };
        let end = open + 4 + len + close.len();
        sections.push(open..end);
        if cdata.is_some_and(|c| c < end) {
            cdata = next(end, b"<![CDATA[");
        }
        if comment.is_some_and(|m| m < end) {
            comment = next(end, b"<!--");
        }
    }
}

fn describe(error: &feed_rs::parser::ParseFeedError) -> String {
    use feed_rs::parser::{ParseErrorKind, ParseFeedError};
    match error {
        ParseFeedError::ParseError(ParseErrorKind::NoFeedRoot) => {
            "no <rss>, <rdf:RDF>, <feed> or JSON Feed root".to_string()
        }
        other => other.to_string(),
    }
}

fn flatten(feed: feed_rs::model::Feed, bare_ampersands: usize) -> ParsedFeed {
    let link = preferred_link(&feed.links);
    let entries = feed
        .entries
        .into_iter()
        .map(|e| Entry {
            guid: Some(e.id.trim().to_string()).filter(|id| !id.is_empty()),
            link: preferred_link(&e.links),
            title: e.title.map(|t| t.content),
            published: e.published,
            updated: e.updated,
            authors: e.authors.into_iter().filter_map(|p| p.name).collect(),
            categories: e
                .categories
                .into_iter()
                .map(|c| c.label.unwrap_or(c.term))
                .collect(),
            summary: e.summary.map(|t| t.content),
            content: e.content.and_then(|c| {
                let plain = c.content_type.to_string().starts_with("text/plain");
                c.body
                    .map(|body| if plain { text_as_html(&body) } else { body })
            }),
        })
        .collect();
    ParsedFeed {
        title: feed.title.map(|t| t.content),
        link,
        entries,
        base: None,
        bare_ampersands,
    }
}

/// Plain text as HTML that shows it as written: `&`, `<` and `>` escaped, each line break kept
/// as `<br>` (the posts' content is HTML, and a verbatim source's lines are joined).
fn text_as_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\n' => out.push_str("<br>\n"),
            c => out.push(c),
        }
    }
    out
}

/// The `alternate` link (or a link without `rel`), else the first.
fn preferred_link(links: &[feed_rs::model::Link]) -> Option<String> {
    links
        .iter()
        .find(|l| matches!(l.rel.as_deref(), None | Some("alternate")))
        .or_else(|| links.first())
        .map(|l| l.href.trim().to_string())
        .filter(|href| !href.is_empty())
}

/// An HTML page's bytes as text: BOM, HTTP charset, `<meta charset>`, else detection.
pub fn decode_html(bytes: &[u8], content_type: Option<&str>) -> String {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(4096)]).to_ascii_lowercase();
    let meta = head.find("charset=").map(|at| {
        head[at + 8..]
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
            .collect::<String>()
    });
    let label = content_type
        .and_then(charset_of)
        .map(str::to_string)
        .or(meta);
    String::from_utf8_lossy(&to_utf8(bytes, label.as_deref())).into_owned()
}

/// The `charset` parameter of a `Content-Type` header.
pub fn charset_of(content_type: &str) -> Option<&str> {
    content_type.split(';').skip(1).find_map(|param| {
        let (key, value) = param.split_once('=')?;
        key.trim()
            .eq_ignore_ascii_case("charset")
            .then(|| value.trim().trim_matches('"'))
    })
}

/// The `encoding` of an XML declaration at the start of `bytes`, if any.
fn declared_encoding(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(256)];
    let text = std::str::from_utf8(head)
        .unwrap_or_else(|e| std::str::from_utf8(&head[..e.valid_up_to()]).unwrap_or(""));
    let decl = text.trim_start().strip_prefix("<?xml")?;
    let decl = &decl[..decl.find("?>")?];
    let at = decl.find("encoding")?;
    let rest = decl[at + "encoding".len()..]
        .trim_start()
        .strip_prefix('=')?;
    let rest = rest.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = &rest[1..][..rest[1..].find(quote)?];
    Encoding::for_label(value.as_bytes())
}

/// Brings a feed's bytes to UTF-8, deciding the encoding from, in order: a byte-order mark, the
/// HTTP charset, the XML declaration, and detection. A label that says UTF-8 for bytes that are
/// not is not believed, and neither is an HTTP charset naming another encoding for bytes that
/// are valid UTF-8 beyond ASCII in a document declaring UTF-8 or nothing. When the result differs from what the XML declaration says, the
/// declaration is rewritten to UTF-8, so the XML parser does not decode a second time.
pub fn to_utf8<'a>(bytes: &'a [u8], http_charset: Option<&str>) -> Cow<'a, [u8]> {
    let (encoding, body) = match Encoding::for_bom(bytes) {
        Some((encoding, bom_len)) => (encoding, &bytes[bom_len..]),
        None => {
            let declared = declared_encoding(bytes);
            let valid_utf8 = simdutf8::basic::from_utf8(bytes).is_ok();
            // Servers label feeds with a default charset whatever their bytes: UTF-8 beyond
            // ASCII, in a document that declares nothing else, is what it looks like.
            let utf8_by_its_bytes =
                valid_utf8 && !bytes.is_ascii() && declared.is_none_or(|d| d == UTF_8);
            let labelled = http_charset
                .filter(|_| !utf8_by_its_bytes)
                .and_then(|label| Encoding::for_label(label.as_bytes()))
                .into_iter()
                .chain(declared);
            let mut chosen = None;
            for encoding in labelled {
                // A UTF-8 label on bytes that are not UTF-8 is a lie seen in the wild.
                if encoding == UTF_8 && !valid_utf8 {
                    continue;
                }
                chosen = Some(encoding);
                break;
            }
            let encoding = chosen.unwrap_or_else(|| {
                if valid_utf8 {
                    UTF_8
                } else {
                    let mut detector =
                        chardetng::EncodingDetector::new(chardetng::Iso2022JpDetection::Deny);
                    detector.feed(bytes, true);
                    detector.guess(None, chardetng::Utf8Detection::Allow)
                }
            });
            (encoding, bytes)
        }
    };
    let text: Cow<'a, [u8]> = if encoding == UTF_8 {
        Cow::Borrowed(body)
    } else {
        let (text, _) = encoding.decode_without_bom_handling(body);
        Cow::Owned(text.into_owned().into_bytes())
    };
    match declared_encoding(&text) {
        Some(declared) if declared != UTF_8 => Cow::Owned(declare_utf8(&text)),
        _ => text,
    }
}

/// Rewrites the `encoding="…"` of the XML declaration to UTF-8.
fn declare_utf8(text: &[u8]) -> Vec<u8> {
    let end = text.windows(2).position(|w| w == b"?>").unwrap_or(0);
    let decl = String::from_utf8_lossy(&text[..end]);
    let Some(at) = decl.find("encoding") else {
        return text.to_vec();
    };
    let after = &decl[at..];
    let open = after.find(['"', '\'']).unwrap_or(0);
    let quote = after.as_bytes().get(open).copied().unwrap_or(b'"') as char;
    let close = after[open + 1..]
        .find(quote)
        .map_or(after.len(), |c| open + 1 + c + 1);
    let mut out = Vec::with_capacity(text.len());
    out.extend_from_slice(decl[..at].as_bytes());
    out.extend_from_slice(b"encoding=\"UTF-8\"");
    out.extend_from_slice(&after.as_bytes()[close..]);
    out.extend_from_slice(&text[end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSS: &str = r#"<?xml version="1.0" encoding="ENC"?>
<rss version="2.0"><channel><title>t</title><link>https://example.com/</link>
<item><title>TITLE</title><link>https://example.com/1</link></item>
<item><title>no guid, no link</title><description>d</description></item>
</channel></rss>"#;

    fn feed(encoding: &str, title: &str) -> String {
        RSS.replace("ENC", encoding).replace("TITLE", title)
    }

    /// What `disarm_late_declarations` did when it looked at every byte.
    fn disarmed_byte_by_byte(bytes: &[u8]) -> Vec<u8> {
        let start = bytes
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(0);
        let mut out = bytes.to_vec();
        let declarations: Vec<usize> = (0..bytes.len())
            .filter(|&at| {
                bytes[at..].starts_with(b"<?xml")
                    && bytes
                        .get(at + 5)
                        .is_some_and(|c| c.is_ascii_whitespace() || *c == b'?')
            })
            .collect();
        for &at in declarations.iter().rev() {
            match out[at..].windows(2).position(|w| w == b"?>") {
                Some(e) if at == start => {
                    out.splice(at..at + e + 2, b"<?xml version=\"1.0\"?>".iter().copied());
                }
                _ => out[at + 2] = b'_',
            }
        }
        out
    }

    proptest::proptest! {
        #[test]
        fn declarations_are_disarmed_wherever_they_are(
            pieces in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("<?xml version=\"1.0\" encoding=\"gbk\"?>"),
                    proptest::strategy::Just("<?xml?>"),
                    proptest::strategy::Just("<?xml"),
                    proptest::strategy::Just("<?xmlx ?>"),
                    proptest::strategy::Just("<<?xml "),
                    proptest::strategy::Just("?>"),
                    proptest::strategy::Just(" \n"),
                    proptest::strategy::Just("<rss>"),
                    proptest::strategy::Just("中文"),
                ],
                0..12,
            )
        ) {
            let bytes = pieces.concat().into_bytes();
            let disarmed = disarm_late_declarations(Cow::Borrowed(&bytes));
            let expected = disarmed_byte_by_byte(&bytes);
            proptest::prop_assert_eq!(disarmed.as_ref(), expected.as_slice());
        }
    }

    #[test]
    fn gbk_by_declaration_and_by_header() {
        let text = feed("GBK", "中韩外长会谈");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let parsed = parse_feed(&gbk, None).unwrap();
        assert_eq!(parsed.entries[0].title.as_deref(), Some("中韩外长会谈"));
        // The header names GBK, the declaration lies (says UTF-8).
        let text = feed("UTF-8", "中韩外长会谈");
        let (gbk, _, _) = encoding_rs::GBK.encode(&text);
        let parsed = parse_feed(&gbk, Some("text/xml; charset=gbk")).unwrap();
        assert_eq!(parsed.entries[0].title.as_deref(), Some("中韩外长会谈"));
    }

    /// Servers label feeds with a default charset (`ISO-8859-1`, `gb2312`) whatever their bytes:
    /// bytes that are UTF-8, with characters beyond ASCII, in a document that declares UTF-8
    /// or nothing, are UTF-8.
    #[test]
    fn utf8_bytes_under_a_wrong_http_charset_are_utf8() {
        let declared = feed("UTF-8", "中韩外长会谈 – café");
        let undeclared = declared.replace(" encoding=\"UTF-8\"", "");
        for text in [&declared, &undeclared] {
            for label in ["ISO-8859-1", "gb2312", "big5", "windows-1252"] {
                let content_type = format!("application/rss+xml; charset={label}");
                let parsed = parse_feed(text.as_bytes(), Some(&content_type)).unwrap();
                assert_eq!(
                    parsed.entries[0].title.as_deref(),
                    Some("中韩外长会谈 – café"),
                    "{label}: {text}"
                );
            }
        }
        // A document that declares another encoding itself is read in it.
        let latin1 = feed("ISO-8859-1", "cafÃ©");
        let parsed = parse_feed(latin1.as_bytes(), Some("text/xml; charset=iso-8859-1")).unwrap();
        assert_eq!(parsed.entries[0].title.as_deref(), Some("cafÃƒÂ©"));
        // GB18030 bytes labelled so stay GB18030.
        let text = feed("GB18030", "中韩外长会谈");
        let (gb, _, _) = encoding_rs::GB18030.encode(&text);
        let parsed = parse_feed(&gb, Some("text/xml; charset=gb18030")).unwrap();
        assert_eq!(parsed.entries[0].title.as_deref(), Some("中韩外长会谈"));
    }

    #[test]
    fn big5_without_any_label_is_detected() {
        let text = RSS.replace(" encoding=\"ENC\"", "").replace(
            "TITLE",
            "中央社報導：臺灣總統府今日舉行記者會，說明國防預算與經濟政策",
        );
        let (big5, _, _) = encoding_rs::BIG5.encode(&text);
        let parsed = parse_feed(&big5, None).unwrap();
        assert_eq!(
            parsed.entries[0].title.as_deref(),
            Some("中央社報導：臺灣總統府今日舉行記者會，說明國防預算與經濟政策")
        );
    }

    #[test]
    fn missing_guid_stays_missing() {
        let parsed = parse_feed(feed("UTF-8", "x").as_bytes(), None).unwrap();
        assert_eq!(parsed.entries[1].guid, None);
        assert_eq!(parsed.entries[1].link, None);
        assert_eq!(parsed.link.as_deref(), Some("https://example.com/"));
    }

    /// Content a feed declares plain text (Atom `type="text"`, JSON Feed `content_text`) is
    /// text: its `<`, `&` and line breaks show as written, never as markup.
    #[test]
    fn plain_text_content_is_shown_as_text() {
        let atom = "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
            <title>t</title><id>urn:f</id><updated>2024-01-01T00:00:00Z</updated>\
            <entry><id>urn:1</id><title>a</title><updated>2024-01-01T00:00:00Z</updated>\
            <content type=\"text\">wrap it in &lt;section&gt; &amp; use &lt;img src=x onerror=alert(1)&gt;\nnext line</content></entry>\
            <entry><id>urn:2</id><title>b</title><updated>2024-01-01T00:00:00Z</updated>\
            <content type=\"html\">&lt;p&gt;markup&lt;/p&gt;</content></entry></feed>";
        let parsed = parse_feed(atom.as_bytes(), None).unwrap();
        assert_eq!(
            parsed.entries[0].content.as_deref(),
            Some(
                "wrap it in &lt;section&gt; &amp; use &lt;img src=x onerror=alert(1)&gt;<br>\nnext line"
            )
        );
        assert_eq!(parsed.entries[1].content.as_deref(), Some("<p>markup</p>"));
        let json = r#"{"version": "https://jsonfeed.org/version/1.1", "title": "t",
            "items": [{"id": "1", "content_text": "<b>not html</b> 这一条"},
                      {"id": "2", "content_html": "<b>html</b>"}]}"#;
        let parsed = parse_feed(json.as_bytes(), None).unwrap();
        assert_eq!(
            parsed.entries[0].content.as_deref(),
            Some("&lt;b&gt;not html&lt;/b&gt; 这一条")
        );
        assert_eq!(parsed.entries[1].content.as_deref(), Some("<b>html</b>"));
    }

    /// JSON Feed reads an `id` that is a number as a string (the spec says so); feed-rs refuses
    /// one, and a feed with a single such item must not fail whole.
    #[test]
    fn a_json_feed_item_with_a_numeric_id_is_read_with_it_as_a_string() {
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J",
            "home_page_url":"https://j.com/","items":[
            {"id":1,"url":"https://j.com/1","title":"一","content_html":"<p>x</p>"},
            {"id":"2","url":"https://j.com/2","title":"二","content_text":"y"},
            {"id":3.5,"url":"https://j.com/3","title":"三","content_text":"z"}]}"#;
        let parsed = parse_feed(json.as_bytes(), None).unwrap();
        let guids: Vec<_> = parsed.entries.iter().map(|e| e.guid.as_deref()).collect();
        assert_eq!(guids, [Some("1"), Some("2"), Some("3.5")]);
        assert_eq!(parsed.entries[0].title.as_deref(), Some("一"));
        // Ids too large to read exactly would be rounded into one: refused, not merged.
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":12345678901234567890123,"url":"https://j.com/1","content_text":"x"},
            {"id":12345678901234567890124,"url":"https://j.com/2","content_text":"y"}]}"#;
        assert!(parse_feed(json.as_bytes(), None).is_err());
    }

    /// `<?xml` inside CDATA, a comment or a JSON string is content, not a declaration: it is
    /// left as written. One outside them is still disarmed.
    #[test]
    fn declarations_in_cdata_comments_and_json_strings_are_content() {
        let rss = r#"<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>T</title>
<item><title>XML 教程</title><link>https://e.com/x</link><description><![CDATA[<p>每个文件以 <code><?xml version="1.0"?></code> 开头</p><pre><?xml version="1.0" encoding="GBK"?></pre>]]></description></item>
<!-- <?xml version="1.0"?> --><?xml version="1.0" encoding="gbk"?>
</channel></rss>"#;
        let disarmed = disarm_late_declarations(Cow::Borrowed(rss.as_bytes()));
        let text = std::str::from_utf8(&disarmed).unwrap();
        assert!(text.starts_with("<?xml version=\"1.0\"?><rss"), "{text}");
        assert!(
            text.contains(r#"<code><?xml version="1.0"?></code>"#),
            "{text}"
        );
        assert!(text.contains(r#"<pre><?xml version="1.0" encoding="GBK"?></pre>"#));
        assert!(text.contains(r#"<!-- <?xml version="1.0"?> -->"#), "{text}");
        assert!(
            text.contains(r#"--><?_ml version="1.0" encoding="gbk"?>"#),
            "{text}"
        );
        let parsed = parse_feed(rss.as_bytes(), None).unwrap();
        assert_eq!(
            parsed.entries[0].summary.as_deref(),
            Some(
                r#"<p>每个文件以 <code><?xml version="1.0"?></code> 开头</p><pre><?xml version="1.0" encoding="GBK"?></pre>"#
            )
        );
        let json = r#"{"version":"https://jsonfeed.org/version/1.1","title":"J","items":[
            {"id":"1","url":"https://j.com/1","title":"一","content_html":"<pre><?xml version=\"1.0\"?></pre>"}]}"#;
        let parsed = parse_feed(json.as_bytes(), None).unwrap();
        assert_eq!(
            parsed.entries[0].content.as_deref(),
            Some(r#"<pre><?xml version="1.0"?></pre>"#)
        );
    }

    /// Real feeds write `AT&T` in a title: the item, and the feed's other items, are archived
    /// with it as written, and references, CDATA sections and comments stay as they are.
    #[test]
    fn bare_ampersands_do_not_lose_the_feed() {
        let rss = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel><title>c</title>\n\
                   <item><title>AT&T 与 B&B &amp; &#38; &#x26; &lt;x&gt; &</title>\
                   <link>https://e.com/a?x=1&y=2</link>\
                   <description><![CDATA[Q&A]]><!-- R&D --> M&amp;S</description></item>\n\
                   <item><title>two</title><link>https://e.com/b</link></item>\n\
                   </channel></rss>";
        let parsed = parse_feed(rss.as_bytes(), None).unwrap();
        assert_eq!(parsed.bare_ampersands, 4);
        assert_eq!(parsed.entries.len(), 2);
        let item = &parsed.entries[0];
        assert_eq!(item.title.as_deref(), Some("AT&T 与 B&B & & & <x> &"));
        assert_eq!(item.link.as_deref(), Some("https://e.com/a?x=1&y=2"));
        assert_eq!(item.summary.as_deref(), Some("Q&A M&S"));
        let well_formed = parse_feed(feed("UTF-8", "a &amp; b").as_bytes(), None).unwrap();
        assert_eq!(well_formed.bare_ampersands, 0);
    }

    #[test]
    fn only_ampersands_that_begin_no_reference_are_escaped() {
        let (out, bare) = escape_bare_ampersands(
            "&a; &_x.y-1; &#12; &#x1F; &中; & &; &#; &#x; &#12 &a b; &1a; <!--&--><![CDATA[&]]>&"
                .as_bytes(),
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "&a; &_x.y-1; &#12; &#x1F; &中; &amp; &amp;; &amp;#; &amp;#x; &amp;#12 &amp;a b; \
             &amp;1a; <!--&--><![CDATA[&]]>&amp;"
        );
        assert_eq!(bare, 8);
    }

    /// A feed that stays malformed names the line the XML reader stopped at.
    #[test]
    fn a_malformed_feed_names_its_line() {
        let rss = "<?xml version=\"1.0\"?>\n<rss version=\"2.0\"><channel>\n\
                   <item><title>a &bogus</title></item>\n<item><title>b</wrong></item>\n\
                   </channel></rss>";
        match parse_feed(rss.as_bytes(), None) {
            Err(FeedError::Invalid(reason)) => assert!(reason.starts_with("line 4: "), "{reason}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn junk_is_named() {
        assert!(matches!(parse_feed(b"  \n", None), Err(FeedError::Empty)));
        assert!(matches!(
            parse_feed(b"<!DOCTYPE html><html><body>hi</body></html>", None),
            Err(FeedError::Html)
        ));
        assert!(matches!(
            parse_feed(b"\x00\x01\x02garbage\xff", None),
            Err(FeedError::Invalid(_))
        ));
        let truncated = &feed("UTF-8", "x")[..120];
        assert!(parse_feed(truncated.as_bytes(), None).is_err());
    }

    #[test]
    fn charset_parameter() {
        assert_eq!(charset_of("text/xml; charset=\"GB2312\""), Some("GB2312"));
        assert_eq!(charset_of("application/rss+xml"), None);
    }
}
