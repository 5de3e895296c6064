//! The plain text of an article's HTML, as the index reads it and snippets show it: tags dropped
//! (scripts and styles with their content), entities decoded, blocks ended by line breaks.
//! Any text is taken, well-formed or not.

/// The text of an HTML fragment: tags dropped (script and style with their content), the
/// common entities decoded, block ends as line breaks, runs of spaces as one.
pub fn plain_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len() / 2);
    html_pieces(html, |piece| match piece {
        HtmlPiece::Text(text) => push_text(&mut out, text),
        HtmlPiece::Block => {
            if !out.ends_with('\n') && !out.is_empty() {
                while out.ends_with(' ') {
                    out.pop();
                }
                out.push('\n');
            }
        }
    });
    out.trim().to_string()
}

/// A piece of an HTML fragment as [`plain_text`] reads it.
pub(crate) enum HtmlPiece<'a> {
    /// Text between tags, its entities not decoded.
    Text(&'a str),
    /// A block tag, opening or closing: a line break.
    Block,
}

/// Calls `each` with the pieces of `html` in order: the text between tags, and a
/// [`HtmlPiece::Block`] for each of [`BLOCK_TAGS`]; other tags dropped, `script` and `style`
/// with their content. [`plain_text`] and the static index's terms both read HTML this way.
pub(crate) fn html_pieces<'a>(html: &'a str, mut each: impl FnMut(HtmlPiece<'a>)) {
    let mut rest = html;
    loop {
        let lt = rest.find('<');
        each(HtmlPiece::Text(&rest[..lt.unwrap_or(rest.len())]));
        let Some(lt) = lt else { break };
        rest = &rest[lt..];
        // `<` is one byte; a tag without `>` runs to the end (never cut inside a character).
        let (tag, end) = match rest.find('>') {
            Some(at) => (&rest[1..at], at + 1),
            None => (&rest[1..], rest.len()),
        };
        rest = &rest[end..];
        let closing = tag.starts_with('/');
        let name = tag.trim_start_matches('/');
        let name = &name[..name.bytes().take_while(u8::is_ascii_alphanumeric).count()];
        if !closing && (name.eq_ignore_ascii_case("script") || name.eq_ignore_ascii_case("style")) {
            rest = &rest[find_closing(rest, name).unwrap_or(rest.len())..];
            continue;
        }
        if BLOCK_TAGS.iter().any(|b| name.eq_ignore_ascii_case(b)) {
            each(HtmlPiece::Block);
        }
    }
}

/// Where `</name` starts in `text`, whatever its case.
fn find_closing(text: &str, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(at) = text[from..].find("</") {
        let start = from + at;
        let after = &bytes[start + 2..];
        if after.len() >= name.len() && after[..name.len()].eq_ignore_ascii_case(name.as_bytes()) {
            return Some(start);
        }
        from = start + 2;
    }
    None
}

/// `text` (between tags) onto `out`: entities decoded, each run of white space one space.
fn push_text(out: &mut String, text: &str) {
    // Runs of other characters are copied whole.
    let (mut i, mut run) = (0, 0);
    while i < text.len() {
        let b = text.as_bytes()[i];
        let (c, len) = if b == b'&' {
            decode_entity(&text[i..]).unwrap_or(('&', 1))
        } else if b.is_ascii() {
            (char::from(b), 1)
        } else {
            let c = text[i..].chars().next().expect("not empty");
            (c, c.len_utf8())
        };
        if b == b'&' || c.is_whitespace() {
            out.push_str(&text[run..i]);
            if !c.is_whitespace() {
                out.push(c);
            } else if !out.is_empty() && !out.ends_with([' ', '\n']) {
                out.push(' ');
            }
            run = i + len;
        }
        i += len;
    }
    out.push_str(&text[run..]);
}

/// Tags after which [`plain_text`] breaks the line (lower case).
const BLOCK_TAGS: &[&str] = &[
    "p",
    "br",
    "div",
    "li",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "tr",
    "blockquote",
    "figcaption",
    "section",
    "article",
];

/// The entity at the start of `text` (`&…;`) and its length, for the common named entities
/// and numeric references; `None` for a reference to NUL or another C0 control but white space.
pub(crate) fn decode_entity(text: &str) -> Option<(char, usize)> {
    // Entities are short; look at the first 12 characters (not bytes: the text is any Unicode).
    let window = text
        .char_indices()
        .nth(12)
        .map_or(text, |(i, _)| &text[..i]);
    let end = window.find(';')?;
    let name = &text[1..end];
    let c = match name {
        "amp" => '&',
        "lt" => '<',
        "gt" => '>',
        "quot" => '"',
        "apos" | "#39" => '\'',
        "nbsp" => ' ',
        _ if name.starts_with("#x") || name.starts_with("#X") => {
            char::from_u32(u32::from_str_radix(&name[2..], 16).ok()?)?
        }
        _ if name.starts_with('#') => char::from_u32(name[1..].parse().ok()?)?,
        _ => return None,
    };
    // NUL and the other C0 controls (`&#1;`) are no text: the reference is refused (left as
    // written). Tab, line feed and carriage return are white space.
    if c < ' ' && !matches!(c, '\t' | '\n' | '\r') {
        return None;
    }
    Some((c, end + 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_drops_tags_scripts_and_decodes_entities() {
        let text =
            plain_text("<p>中韩&amp;外长</p><script>alert(1)</script><p>会谈&#x4E2D;&nbsp;x</p>");
        assert_eq!(text, "中韩&外长\n会谈中 x");
    }

    #[test]
    fn references_to_control_characters_are_refused() {
        for reference in ["&#0;", "&#1;", "&#x1F;", "&#x0;", "&#27;"] {
            assert_eq!(decode_entity(reference), None, "{reference}");
        }
        assert_eq!(decode_entity("&#9;"), Some(('\t', 4)));
        assert_eq!(decode_entity("&#x4E2D;"), Some(('中', 8)));
        let text = plain_text("<p>前&#1;后&#x1F;尾</p>");
        assert!(!text.chars().any(|c| c.is_control()), "{text:?}");
    }

    #[test]
    fn plain_text_takes_any_text() {
        for html in ["<¡", "&¡;", "&#x110000;", "<p", "<>", "&#99999999999;"] {
            plain_text(html);
        }
        assert_eq!(plain_text("a &amp b <c"), "a &amp b");
    }
}
