//! The original archives' line normalisation, and its inverse.
//!
//! `verbatim` posts show the feed's content with every line stripped of white space at both
//! ends and the lines joined with nothing between them ([`join_lines`]). The store keeps what the
//! feed sent as well, as the article's version, and the two texts differ only by that white space
//! and those line breaks. So instead of a second copy the store can keep the *shape* of the feed's
//! content ([`join_keeping_shape`]): for each line, the white space before and after it and the
//! length of what is left. [`unjoin`] gives the content back from the joined text and its shape,
//! byte for byte.
//!
//! A shape is a JSON array with one element per line: `n` for a line of `n` bytes with no white
//! space around it, else `[before, n, after]`. `"<p>a</p>\n  <p>b</p>"` joins to
//! `"<p>a</p><p>b</p>"` with the shape `[8,["  ",8,""]]`.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

/// Each line stripped of surrounding white space (as JavaScript's `trim` does) and the lines
/// joined with nothing between them.
pub fn join_lines(content: &str) -> String {
    let mut out = String::with_capacity(content.len());
    for line in content.split('\n') {
        out.push_str(line.trim_matches(is_js_whitespace));
    }
    out
}

/// [`join_lines`], and the shape that gives `content` back through [`unjoin`].
pub fn join_keeping_shape(content: &str) -> (String, String) {
    let mut joined = String::with_capacity(content.len());
    let mut shape = Vec::new();
    for line in content.split('\n') {
        let rest = line.trim_start_matches(is_js_whitespace);
        let kept = rest.trim_end_matches(is_js_whitespace);
        let before = &line[..line.len() - rest.len()];
        let after = &rest[kept.len()..];
        joined.push_str(kept);
        shape.push(if before.is_empty() && after.is_empty() {
            Line::Bare(kept.len())
        } else {
            Line::Padded(before.into(), kept.len(), after.into())
        });
    }
    let shape = serde_json::to_string(&shape).expect("a list of strings and numbers serializes");
    (joined, shape)
}

/// The content that [`join_keeping_shape`] made `joined` and `shape` of; `None` when they do not
/// fit together (the shape is not one, or asks for more or fewer bytes than `joined` has).
pub fn unjoin(joined: &str, shape: &str) -> Option<String> {
    let lines: Vec<Line> = serde_json::from_str(shape).ok()?;
    let mut content = String::with_capacity(joined.len() + shape.len());
    let mut at = 0usize;
    for (i, line) in lines.iter().enumerate() {
        let (before, len, after) = match line {
            Line::Bare(len) => ("", *len, ""),
            Line::Padded(before, len, after) => (before.as_ref(), *len, after.as_ref()),
        };
        if i > 0 {
            content.push('\n');
        }
        content.push_str(before);
        content.push_str(joined.get(at..at.checked_add(len)?)?);
        content.push_str(after);
        at += len;
    }
    (at == joined.len() && !lines.is_empty()).then_some(content)
}

/// One line of a shape.
#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum Line<'a> {
    /// This many bytes, nothing around them.
    Bare(usize),
    /// White space before, bytes kept, white space after.
    Padded(
        #[serde(borrow)] Cow<'a, str>,
        usize,
        #[serde(borrow)] Cow<'a, str>,
    ),
}

/// White space as JavaScript's `String.prototype.trim` sees it (WhiteSpace and LineTerminator).
fn is_js_whitespace(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lines_are_stripped_and_joined() {
        assert_eq!(
            join_lines("\n  <p>a</p>  \n\t<p>b</p>\u{3000}\r\n"),
            "<p>a</p><p>b</p>"
        );
        assert_eq!(join_lines("<p>　　x</p>"), "<p>　　x</p>");
    }

    #[test]
    fn a_shape_holds_the_white_space_and_the_lengths() {
        let (joined, shape) = join_keeping_shape("<p>a</p>\n  <p>b</p>");
        assert_eq!(joined, "<p>a</p><p>b</p>");
        assert_eq!(shape, r#"[8,["  ",8,""]]"#);
        let (joined, shape) = join_keeping_shape(" \u{3000}\n\t\r\n");
        assert_eq!(
            (joined.as_str(), shape.as_str()),
            ("", r#"[[" 　",0,""],["\t\r",0,""],0]"#)
        );
        assert_eq!(join_keeping_shape(""), (String::new(), "[0]".to_string()));
    }

    #[test]
    fn a_shape_that_does_not_fit_gives_nothing() {
        assert_eq!(unjoin("abc", "[2]"), None);
        assert_eq!(unjoin("abc", "[4]"), None);
        assert_eq!(unjoin("abc", "[]"), None);
        assert_eq!(unjoin("abc", "not json"), None);
        // Not at a character boundary.
        assert_eq!(unjoin("一二", "[1,5]"), None);
        assert_eq!(
            unjoin("abc", "[1,[\" \",2,\"\"]]").as_deref(),
            Some("a\n bc")
        );
    }

    proptest! {
        #[test]
        fn content_comes_back_from_its_joined_text_and_shape(
            content in "(\\PC|[ \t\r\n\u{3000}\u{a0}\u{feff}]){0,200}"
        ) {
            let (joined, shape) = join_keeping_shape(&content);
            prop_assert_eq!(&joined, &join_lines(&content));
            prop_assert_eq!(unjoin(&joined, &shape), Some(content));
        }
    }
}
