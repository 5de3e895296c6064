//! Sanitising simple markup in one pass: the fast path of [`super::clean::sanitise`].
//!
//! Most articles are plain markup: paragraphs, images, links and emphasis, properly nested and
//! closed. For those, what `ammonia` does (build a tree with html5ever, drop what the allow-list
//! refuses, serialise the tree) can be done in one pass over the text, several times faster. This
//! module makes that pass and gives ammonia's output byte for byte, or declines (`None`) as soon
//! as the input leaves the subset where that is certain: a tag whose parsing rules go beyond
//! "open, nest, close" (tables, `<pre>`, scripts, forms, foreign content, list items or
//! paragraphs that an opening tag would close implicitly, …), an element left open or closed out
//! of order, a comment or doctype, a character reference other than the few spelled out below, a
//! control character, a duplicate attribute, a relative URL the base cannot resolve. What it
//! declines goes to ammonia as before.
//!
//! The allow-list is read from the same `ammonia::Builder` ([`Policy::of`]); what no getter
//! shows (an attribute filter, an id prefix, style filtering) must stay unset on that builder.
//! The tests compare both sanitisers on generated markup.

use std::borrow::Cow;

use ammonia::Builder;
use url::Url;

use super::clean::MAX_DEPTH;

/// The allow-list of an `ammonia::Builder`, as this pass looks it up: sorted lists searched
/// without hashing (they are short, and looked up for every tag and attribute).
#[derive(Debug)]
pub struct Policy {
    /// False when the builder uses a feature this pass does not reproduce.
    usable: bool,
    tags: Vec<&'static str>,
    clean_content: Vec<&'static str>,
    generic_attributes: Vec<&'static str>,
    tag_attributes: Vec<(&'static str, Vec<&'static str>)>,
    /// At most one per tag (see `usable`).
    set_attribute_values: Vec<(&'static str, (&'static str, &'static str))>,
    url_schemes: Vec<&'static str>,
    link_rel: Option<String>,
}

impl Policy {
    /// Reads the allow-list of `builder` (its relative-URL rule is ignored: [`sanitise`] takes
    /// the base per call, as `clean::sanitise` sets it).
    pub fn of(builder: &Builder<'static>) -> Policy {
        fn sorted<T: Ord>(items: impl IntoIterator<Item = T>) -> Vec<T> {
            let mut items: Vec<T> = items.into_iter().collect();
            items.sort();
            items
        }
        let set_values = builder.clone_set_tag_attribute_values();
        Policy {
            usable: builder.clone_tag_attribute_values().is_empty()
                && builder.clone_generic_attribute_prefixes().is_none()
                && builder.clone_allowed_classes().is_empty()
                // Several values set on one tag are added in hash-map order.
                && set_values.values().all(|set| set.len() <= 1),
            tags: sorted(builder.clone_tags()),
            clean_content: sorted(builder.clone_clean_content_tags()),
            generic_attributes: sorted(builder.clone_generic_attributes()),
            tag_attributes: sorted(
                builder
                    .clone_tag_attributes()
                    .into_iter()
                    .map(|(tag, names)| (tag, sorted(names))),
            ),
            set_attribute_values: sorted(
                set_values
                    .into_iter()
                    .filter_map(|(tag, set)| set.into_iter().next().map(|value| (tag, value))),
            ),
            url_schemes: sorted(builder.clone_url_schemes()),
            link_rel: builder.get_link_rel().map(str::to_owned),
        }
    }

    fn allows_tag(&self, tag: &str) -> bool {
        self.tags.binary_search(&tag).is_ok()
    }

    /// The attributes allowed on `tag` besides the generic ones.
    fn attributes_of(&self, tag: &str) -> &[&'static str] {
        match self.tag_attributes.binary_search_by(|(t, _)| (*t).cmp(tag)) {
            Ok(at) => &self.tag_attributes[at].1,
            Err(_) => &[],
        }
    }

    fn set_value_of(&self, tag: &str) -> Option<(&'static str, &'static str)> {
        self.set_attribute_values
            .binary_search_by(|(t, _)| (*t).cmp(tag))
            .ok()
            .map(|at| self.set_attribute_values[at].1)
    }
}

/// `html` sanitised as `ammonia` would with `policy` (relative URLs resolved against `base`, or
/// left as they are without one), or `None` when the markup is not simple enough to be sure.
pub fn sanitise(html: &str, base: Option<&Url>, policy: &Policy) -> Option<String> {
    if !policy.usable || !all_plain(html) {
        return None;
    }
    let mut out = String::with_capacity(html.len() + html.len() / 8);
    let mut open: Vec<Open> = Vec::new();
    let mut at = 0;
    while at < html.len() {
        let next = memchr::memchr(b'<', &html.as_bytes()[at..]).map_or(html.len(), |n| at + n);
        write_text(&html[at..next], &mut out)?;
        if next == html.len() {
            break;
        }
        let (tag, end) = Tag::read(html, next)?;
        at = end;
        match tag {
            Tag::Start {
                name,
                attributes,
                self_closing,
            } => {
                let kind = Kind::of(&name)?;
                if policy.clean_content.binary_search(&name.as_ref()).is_ok()
                    || (self_closing && !kind.is_void())
                    || closes_implicitly(kind, &open)
                    || open.len() >= MAX_DEPTH
                {
                    return None;
                }
                let kept = policy.allows_tag(&name);
                if kept {
                    let attributes = allowed_attributes(&name, attributes, base, policy)?;
                    write_start_tag(&name, &attributes, &mut out);
                }
                if !kind.is_void() {
                    open.push(Open { name, kind, kept });
                }
            }
            Tag::End { name } => {
                let closed = open.pop()?;
                if closed.name != name {
                    return None;
                }
                if closed.kept {
                    out.push_str("</");
                    out.push_str(&name);
                    out.push('>');
                }
            }
        }
    }
    open.is_empty().then_some(out)
}

/// How html5ever's tree builder treats a start tag, for the tags this pass handles (the "in
/// body" insertion mode of the HTML standard).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Closes an open `<p>`, then nests: `div`, `p`, `section`, `ul`, `blockquote`, …
    Block,
    /// `h1`–`h6`: a block that also closes a heading it is opened right inside.
    Heading,
    /// `li`: closes an open list item.
    ListItem,
    /// No content and no end tag: `br`, `img`, `wbr`, `source`.
    Void,
    /// `hr`: void, and closes an open `<p>`.
    Rule,
    /// `a`: one inside another is torn apart by the parser.
    Anchor,
    /// Formatting and other phrasing elements: open, nest, close.
    Inline,
}

impl Kind {
    fn of(name: &str) -> Option<Kind> {
        Some(match name {
            "address" | "article" | "aside" | "blockquote" | "center" | "details" | "div"
            | "dl" | "figcaption" | "figure" | "footer" | "header" | "hgroup" | "main" | "nav"
            | "ol" | "p" | "section" | "summary" | "ul" => Kind::Block,
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => Kind::Heading,
            "li" => Kind::ListItem,
            "br" | "img" | "wbr" | "source" => Kind::Void,
            "hr" => Kind::Rule,
            "a" => Kind::Anchor,
            "b" | "big" | "code" | "em" | "font" | "i" | "s" | "small" | "strike" | "strong"
            | "tt" | "u" | "abbr" | "acronym" | "bdi" | "bdo" | "cite" | "data" | "del" | "dfn"
            | "ins" | "kbd" | "mark" | "picture" | "q" | "samp" | "span" | "sub" | "sup"
            | "time" | "var" => Kind::Inline,
            _ => return None,
        })
    }

    fn is_void(self) -> bool {
        matches!(self, Kind::Void | Kind::Rule)
    }

    /// Whether an open element of this kind is in the standard's "special" category.
    fn is_special(self) -> bool {
        !matches!(self, Kind::Anchor | Kind::Inline)
    }
}

/// An element open at this point of the markup.
struct Open<'a> {
    name: Cow<'a, str>,
    kind: Kind,
    /// Whether its tags are written (allowed), or only its content.
    kept: bool,
}

/// Whether a start tag of `kind` would make the parser close or re-nest elements that are open:
/// the cases where the tree differs from the tags as written.
fn closes_implicitly(kind: Kind, open: &[Open]) -> bool {
    let p_open = || open.iter().any(|o| o.name == "p");
    match kind {
        Kind::Block | Kind::Rule => p_open(),
        Kind::Heading => p_open() || open.iter().any(|o| o.kind == Kind::Heading),
        Kind::ListItem => {
            // The parser closes the nearest open `li` unless a special element other than
            // `address`, `div` or `p` comes first.
            for o in open.iter().rev() {
                if o.kind == Kind::ListItem {
                    return true;
                }
                if o.kind.is_special() && !matches!(o.name.as_ref(), "address" | "div" | "p") {
                    break;
                }
            }
            p_open()
        }
        Kind::Anchor => open.iter().any(|o| o.kind == Kind::Anchor),
        Kind::Void | Kind::Inline => false,
    }
}

/// Characters that pass through html5ever unchanged and without a parse error that could
/// matter: no controls but tab and line feed (a carriage return is rewritten, a NUL dropped), no
/// noncharacters, no byte-order mark.
fn plain_char(c: char) -> bool {
    match c {
        '\t' | '\n' => true,
        '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{fdd0}'..='\u{fdef}' | '\u{feff}' => false,
        c => (c as u32) & 0xfffe != 0xfffe,
    }
}

/// Whether every character of `text` is a [`plain_char`], decoding only the characters whose
/// first byte allows an exception (not CJK, for one). Eight bytes at a time are skipped when
/// none of them can start such a character ([`may_start_unplain`]).
fn all_plain(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut at = 0;
    while at < bytes.len() {
        let end = match bytes.get(at..at + 8) {
            Some(eight) => {
                if !may_start_unplain(u64::from_le_bytes(eight.try_into().expect("8 bytes"))) {
                    at += 8;
                    continue;
                }
                at + 8
            }
            None => bytes.len(),
        };
        while at < end {
            let b = bytes[at];
            if b < 0x80 {
                if (b < 0x20 && b != b'\t' && b != b'\n') || b == 0x7f {
                    return false;
                }
                at += 1;
            } else if matches!(b, 0xc2 | 0xef | 0xf0..) {
                // C1 controls; U+FDD0–FDEF, U+FEFF, U+FFFE/F; the other planes' noncharacters.
                let c = text[at..].chars().next().expect("a character starts here");
                if !plain_char(c) {
                    return false;
                }
                at += c.len_utf8();
            } else {
                at += 1;
            }
        }
    }
    true
}

/// Whether any byte of `eight` is one [`all_plain`] must look at: below 0x20 (tab and line
/// break included), 0x7f, 0xc2, 0xef, or 0xf0 and above. The bit tricks have no false negatives
/// (a borrow can only add positives after a true one).
fn may_start_unplain(eight: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let has_zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let has_below_0x20 = eight.wrapping_sub(ONES * 0x20) & !eight & HIGH != 0;
    has_below_0x20
        || has_zero(eight ^ (ONES * 0x7f))
        || has_zero(eight ^ (ONES * 0xc2))
        || has_zero(eight ^ (ONES * 0xef))
        || has_zero((eight & (ONES * 0xf0)) ^ (ONES * 0xf0))
}

/// One tag as the tokenizer reads it.
enum Tag<'a> {
    Start {
        name: Cow<'a, str>,
        attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
        self_closing: bool,
    },
    End {
        name: Cow<'a, str>,
    },
}

impl<'a> Tag<'a> {
    /// Reads the tag at `html[at]` (a `<`); returns it and where it ends.
    fn read(html: &'a str, at: usize) -> Option<(Tag<'a>, usize)> {
        let bytes = html.as_bytes();
        let mut i = at + 1;
        let end_tag = bytes.get(i) == Some(&b'/');
        if end_tag {
            i += 1;
        }
        // Anything else after `<` (`!`, `?`, a digit, a space) is a comment, a bogus comment or
        // text to the tokenizer.
        if !bytes.get(i)?.is_ascii_alphabetic() {
            return None;
        }
        let name_end = i + bytes[i..]
            .iter()
            .position(|b| is_space(*b) || *b == b'/' || *b == b'>')?;
        let name = lower(&html[i..name_end]);
        i = skip_spaces(bytes, name_end);
        if end_tag {
            return (bytes.get(i) == Some(&b'>')).then_some((Tag::End { name }, i + 1));
        }
        let mut attributes: Vec<(Cow<str>, Cow<str>)> = Vec::new();
        loop {
            match *bytes.get(i)? {
                b'>' => {
                    let tag = Tag::Start {
                        name,
                        attributes,
                        self_closing: false,
                    };
                    return Some((tag, i + 1));
                }
                b'/' => {
                    let tag = Tag::Start {
                        name,
                        attributes,
                        self_closing: true,
                    };
                    return (bytes.get(i + 1) == Some(&b'>')).then_some((tag, i + 2));
                }
                _ => {}
            }
            let name_end = i + bytes[i..]
                .iter()
                .position(|b| is_space(*b) || matches!(b, b'/' | b'>' | b'='))?;
            let raw_name = &html[i..name_end];
            if raw_name.is_empty() || raw_name.bytes().any(|b| matches!(b, b'"' | b'\'' | b'<')) {
                return None;
            }
            let attribute = lower(raw_name);
            i = skip_spaces(bytes, name_end);
            let value = if bytes.get(i) == Some(&b'=') {
                i = skip_spaces(bytes, i + 1);
                let (raw, next) = match *bytes.get(i)? {
                    quote @ (b'"' | b'\'') => {
                        let close = i + 1 + memchr::memchr(quote, &bytes[i + 1..])?;
                        let next = close + 1;
                        // The tokenizer wants a space, `/` or `>` after a quoted value.
                        if !matches!(bytes.get(next), Some(b) if is_space(*b) || matches!(b, b'/' | b'>'))
                        {
                            return None;
                        }
                        (&html[i + 1..close], next)
                    }
                    b'>' => return None,
                    _ => {
                        let end = i + bytes[i..].iter().position(|b| is_space(*b) || *b == b'>')?;
                        let raw = &html[i..end];
                        if raw
                            .bytes()
                            .any(|b| matches!(b, b'"' | b'\'' | b'<' | b'=' | b'`'))
                        {
                            return None;
                        }
                        (raw, end)
                    }
                };
                i = skip_spaces(bytes, next);
                decode(raw)?
            } else {
                Cow::Borrowed("")
            };
            // The tokenizer drops a repeated attribute; not worth following.
            if attributes.iter().any(|(name, _)| *name == attribute) {
                return None;
            }
            attributes.push((attribute, value));
        }
    }
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n')
}

fn skip_spaces(bytes: &[u8], from: usize) -> usize {
    from + bytes[from..].iter().take_while(|b| is_space(**b)).count()
}

/// A tag or attribute name as the tokenizer spells it: ASCII letters lower-cased.
fn lower(name: &str) -> Cow<'_, str> {
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(name.to_ascii_lowercase())
    } else {
        Cow::Borrowed(name)
    }
}

/// The attributes of an allowed element as ammonia writes them: allowed ones in their order,
/// URLs with a scheme outside the allow-list dropped, set values, `rel` on links, relative URLs
/// resolved.
fn allowed_attributes<'a>(
    tag: &str,
    attributes: Vec<(Cow<'a, str>, Cow<'a, str>)>,
    base: Option<&Url>,
    policy: &Policy,
) -> Option<Vec<(Cow<'a, str>, Cow<'a, str>)>> {
    let mut kept: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(attributes.len() + 1);
    let tag_attributes = policy.attributes_of(tag);
    for (name, value) in attributes {
        let allowed = |names: &[&str]| names.iter().any(|allowed| *allowed == name);
        if !allowed(&policy.generic_attributes) && !allowed(tag_attributes) {
            continue;
        }
        if is_url_attribute(tag, &name) {
            match Url::parse(&value) {
                Ok(url) if !policy.url_schemes.iter().any(|s| *s == url.scheme()) => continue,
                Ok(_) | Err(url::ParseError::RelativeUrlWithoutBase) => {}
                Err(_) => continue,
            }
        }
        kept.push((name, value));
    }
    if let Some((name, value)) = policy.set_value_of(tag) {
        match kept.iter_mut().find(|(kept, _)| kept == name) {
            Some((_, kept)) => *kept = Cow::Borrowed(value),
            None => kept.push((Cow::Borrowed(name), Cow::Borrowed(value))),
        }
    }
    if tag == "a"
        && let Some(rel) = &policy.link_rel
    {
        kept.push((Cow::Borrowed("rel"), Cow::Owned(rel.clone())));
    }
    for (name, value) in &mut kept {
        if is_url_attribute(tag, name)
            && matches!(
                Url::parse(value),
                Err(url::ParseError::RelativeUrlWithoutBase)
            )
            && let Some(base) = base
        {
            // ammonia drops an attribute the base cannot resolve, reordering the rest.
            *value = Cow::Owned(base.join(value).ok()?.as_str().to_owned());
        }
    }
    Some(kept)
}

/// ammonia's list of attributes holding a URL, for the elements this pass handles.
fn is_url_attribute(tag: &str, attribute: &str) -> bool {
    matches!(attribute, "href" | "xlink:href" | "src") || (tag == "a" && attribute == "ping")
}

fn write_start_tag(name: &str, attributes: &[(Cow<str>, Cow<str>)], out: &mut String) {
    out.push('<');
    out.push_str(name);
    for (attribute, value) in attributes {
        out.push(' ');
        out.push_str(attribute);
        out.push_str("=\"");
        write_escaped(value, true, out);
        out.push('"');
    }
    out.push('>');
}

/// Text between tags, its character references decoded and written back as html5ever's
/// serialiser escapes text; one pass over the bytes.
fn write_text(text: &str, out: &mut String) -> Option<()> {
    let bytes = text.as_bytes();
    let (mut at, mut run) = (0, 0);
    while let Some(found) = memchr::memchr3(b'&', b'>', 0xc2, &bytes[at..]) {
        at += found;
        out.push_str(&text[run..at]);
        if bytes[at] == b'&' {
            let (c, used) = reference(&text[at + 1..])?;
            let mut utf8 = [0; 4];
            write_escaped(c.encode_utf8(&mut utf8), false, out);
            at += 1 + used;
        } else {
            // `>`, or the first byte of U+0080–U+00BF (no-break space among them).
            let next = at + if bytes[at] == b'>' { 1 } else { 2 };
            write_escaped(&text[at..next], false, out);
            at = next;
        }
        run = at;
    }
    out.push_str(&text[run..]);
    Some(())
}

/// html5ever's escaping: `&`, `<`, `>` and no-break space, and `"` in attribute values.
fn write_escaped(text: &str, attribute: bool, out: &mut String) {
    let bytes = text.as_bytes();
    let mut run = 0;
    for (at, &b) in bytes.iter().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if attribute => "&quot;",
            // U+00A0 is C2 A0 in UTF-8 (C2 leads other characters too).
            0xa0 if at > 0 && bytes[at - 1] == 0xc2 => {
                out.push_str(&text[run..at - 1]);
                out.push_str("&nbsp;");
                run = at + 1;
                continue;
            }
            _ => continue,
        };
        out.push_str(&text[run..at]);
        out.push_str(escaped);
        run = at + 1;
    }
    out.push_str(&text[run..]);
}

/// Character references decoded, for the spellings whose meaning is plain in text and in
/// attribute values alike: `&` before anything but a letter, digit or `#` stays itself; the
/// named `&amp;` `&lt;` `&gt;` `&quot;` `&apos;` `&nbsp;` and numeric references ending in `;`
/// to a plain character are decoded; any other reference declines.
fn decode(raw: &str) -> Option<Cow<'_, str>> {
    let Some(first) = memchr::memchr(b'&', raw.as_bytes()) else {
        return Some(Cow::Borrowed(raw));
    };
    let mut out = String::with_capacity(raw.len());
    out.push_str(&raw[..first]);
    let mut rest = &raw[first..];
    while let Some(at) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (decoded, used) = reference(after)?;
        out.push(decoded);
        rest = &after[used..];
    }
    out.push_str(rest);
    Some(Cow::Owned(out))
}

/// The character a reference stands for and the bytes it takes after its `&`.
fn reference(after: &str) -> Option<(char, usize)> {
    const NAMED: &[(&str, char)] = &[
        ("amp;", '&'),
        ("lt;", '<'),
        ("gt;", '>'),
        ("quot;", '"'),
        ("apos;", '\''),
        ("nbsp;", '\u{a0}'),
    ];
    let bytes = after.as_bytes();
    match bytes.first() {
        Some(b) if b.is_ascii_alphanumeric() => NAMED
            .iter()
            .find(|(name, _)| after.starts_with(name))
            .map(|(name, c)| (*c, name.len())),
        Some(b'#') => {
            let (start, radix) = match bytes.get(1) {
                Some(b'x' | b'X') => (2, 16),
                _ => (1, 10),
            };
            let digits = bytes[start..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || (radix == 16 && b.is_ascii_hexdigit()))
                .count();
            if digits == 0 || digits > 7 || bytes.get(start + digits) != Some(&b';') {
                return None;
            }
            let value = u32::from_str_radix(&after[start..start + digits], radix).ok()?;
            let c = char::from_u32(value).filter(|c| plain_char(*c))?;
            Some((c, start + digits + 1))
        }
        _ => Some(('&', 0)),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use ammonia::UrlRelative;
    use proptest::prelude::*;

    use super::*;
    use crate::content::clean::allow_list;

    const BASE: &str = "https://www.zaobao.com.sg/realtime/china/story20210403-1135442";

    /// What ammonia makes of `html` under the site's allow-list.
    fn by_ammonia(html: &str, base: Option<&Url>) -> String {
        let mut builder = allow_list(false);
        match base {
            Some(base) => builder.url_relative(UrlRelative::RewriteWithBase(base.clone())),
            None => builder.url_relative(UrlRelative::PassThrough),
        };
        builder.clean(html).to_string()
    }

    /// The fast path's answer, checked against ammonia's whenever it gives one.
    fn checked(html: &str, base: Option<&Url>) -> Result<Option<String>, TestCaseError> {
        let policy = Policy::of(&allow_list(false));
        let fast = sanitise(html, base, &policy);
        if let Some(fast) = &fast {
            prop_assert_eq!(fast, &by_ammonia(html, base), "input: {:?}", html);
        }
        Ok(fast)
    }

    fn base() -> Url {
        Url::parse(BASE).unwrap()
    }

    #[test]
    fn articles_as_feeds_send_them_take_the_fast_path() {
        let article = concat!(
            "<div> <div class=\"figure-media\"> <img data-src=\"https://static.zaobao.com/i/1.jpg\" ",
            "src=\"https://static.zaobao.com/i/1.jpg\" referrerpolicy=\"no-referrer\"> </div> ",
            "<figcaption>中国外长王毅（右）与韩国外长郑义溶会谈。（法新社）</figcaption> ",
            "<p>韩国外长郑义溶说，韩国支持北京举办&ldquo;冬奥&rdquo;。</p>",
        );
        // `&ldquo;` is outside the references spelled out: declined, ammonia does it.
        assert_eq!(checked(article, Some(&base())).unwrap(), None);
        let article = article.replace("&ldquo;", "“").replace("&rdquo;", "”") + "</div>";
        let fast = checked(&article, Some(&base()))
            .unwrap()
            .expect("simple markup");
        assert!(fast.contains(
            "<img src=\"https://static.zaobao.com/i/1.jpg\" referrerpolicy=\"no-referrer\">"
        ));
        assert!(!fast.contains("class="), "{fast}");

        let links = "<p>见<a href=\"/news/1?a=1&amp;b=2\" onclick=\"x()\" title='A \"B\"'>这里</a>&nbsp;&lt;3 &gt; & R&#x26;D<br/></p>";
        let fast = checked(links, Some(&base()))
            .unwrap()
            .expect("simple markup");
        assert_eq!(
            fast,
            "<p>见<a href=\"https://www.zaobao.com.sg/news/1?a=1&amp;b=2\" title=\"A &quot;B&quot;\" \
             rel=\"noopener noreferrer\">这里</a>&nbsp;&lt;3 &gt; &amp; R&amp;D<br></p>"
        );
        assert_eq!(
            checked(links, None)
                .unwrap()
                .map(|f| f.contains("href=\"/news/1?a=1&amp;b=2\"")),
            Some(true)
        );
    }

    #[test]
    fn archived_posts_and_hostile_markup_agree_with_ammonia() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
        let vectors = std::fs::read_to_string(root.join("xss/vectors.txt")).unwrap();
        for line in vectors.lines().filter(|l| !l.starts_with('#')) {
            checked(line, Some(&base())).unwrap();
            checked(line, None).unwrap();
        }
        let mut fast = 0;
        for entry in std::fs::read_dir(root.join("golden/real-posts")).unwrap() {
            let post = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let body = post.rsplit("---\n").next().unwrap();
            fast += checked(body, Some(&base())).unwrap().is_some() as usize;
        }
        let golden = std::fs::read_to_string(
            root.join("golden/2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md"),
        )
        .unwrap();
        let body = golden.rsplit("---\n").next().unwrap();
        fast += checked(body, Some(&base())).unwrap().is_some() as usize;
        assert!(fast >= 1, "the archived posts all went to ammonia");
    }

    #[test]
    fn what_the_parser_would_rearrange_is_declined() {
        for html in [
            "<p>one<p>two",
            "<p>a<div>b</div></p>",
            "<b><i>x</b></i>",
            "<a href=x>1<a href=y>2</a></a>",
            "<ul><li>a<li>b</ul>",
            "<h1>a<h2>b</h2></h1>",
            "<table><td>x</td></table>",
            "<pre>\nx</pre>",
            "<p>open",
            "</p>",
            "x<!-- c -->y",
            "<br></br>",
            "a < b",
            "&copy; &amp",
            "<p>\r\n</p>",
            "<img src=x src=y>",
            "<div/>",
            "<a href=\"x\"title=y>t</a>",
        ] {
            assert_eq!(checked(html, Some(&base())).unwrap(), None, "{html}");
        }
        // Nested lists are not an implicit close.
        assert!(
            checked("<ul><li>a<ul><li>b</li></ul></li></ul>", None)
                .unwrap()
                .is_some()
        );
    }

    /// Tags the fast path takes, and (below) tags it must decline.
    const TAGS: &[&str] = &[
        "p",
        "div",
        "a",
        "b",
        "strong",
        "em",
        "i",
        "span",
        "figure",
        "figcaption",
        "picture",
        "h2",
        "h3",
        "ul",
        "ol",
        "li",
        "blockquote",
        "section",
        "main",
        "font",
        "center",
        "sub",
        "time",
        "code",
        "address",
        "small",
        "P",
        "Div",
        "q",
        "abbr",
        "div",
        "div",
        "section",
    ];
    const INLINE_TAGS: &[&str] = &[
        "a", "b", "strong", "em", "i", "span", "font", "sub", "time", "code", "small", "q", "abbr",
        "B", "picture",
    ];
    const OTHER_TAGS: &[&str] = &[
        "table", "td", "pre", "script", "style", "textarea", "dd", "iframe", "svg", "nobr",
        "button", "title", "form", "select", "math", "template", "noscript", "input", "image",
    ];
    const VOIDS: &[&str] = &["br", "img", "hr", "wbr", "source", "BR", "Img"];
    const ATTRIBUTES: &[&str] = &[
        "href",
        "src",
        "title",
        "lang",
        "class",
        "id",
        "alt",
        "width",
        "referrerpolicy",
        "hreflang",
        "onclick",
        "style",
        "data-src",
        "srcset",
        "rel",
        "cite",
        "loading",
        "xlink:href",
        "ping",
    ];
    const VALUES: &[&str] = &[
        "",
        "/img/1.jpg",
        "../a?b=1&amp;c=2",
        "https://static.zaobao.com/a.jpg",
        "javascript:alert(1)",
        "mailto:x@example.com",
        "//cdn.example.com/x.png",
        "http://[bad",
        "a&amp;b",
        "&quot;q&quot;",
        "x\"y",
        "it's",
        "a b",
        "&#x41;&#20013;",
        "&nbsp;",
        "\u{a0}",
        "中文",
        "no-referrer",
        "lazy",
        "ftp://x/y",
        "#frag",
        "?q=1",
        "x>y",
        "x<y",
        "data:text/html,x",
        "  /spaced  ",
        "a & b",
        "&#38;",
    ];
    const OTHER_VALUES: &[&str] = &["&copy", "a&b", "&#0;", "\r", "a\u{0}b"];
    /// Text the fast path takes, and (below) text it must decline.
    const TEXTS: &[&str] = &[
        "冬奥",
        "韩国支持北京举办冬奥。",
        "Latin text",
        " ",
        "\n",
        "  \n  ",
        "&amp;",
        "&lt;",
        "&gt;",
        "&quot;",
        "&apos;",
        "&nbsp;",
        "\u{a0}",
        "©·½",
        "&",
        "& ",
        "&#20013;",
        "&#x4E2D;",
        ">",
        "\"",
        "'",
        "\t",
        "&#65;&#x42;",
        "&#X4e2d;",
        "(&)",
    ];
    const OTHER_TEXTS: &[&str] = &[
        "&copy;",
        "&amp",
        "&#0;",
        "&#128;",
        "&#x110000;",
        "&#;",
        "<",
        "\r\n",
        "<!-- c -->",
        "\u{1}",
        "\u{feff}",
        "&#13;",
        "< p",
        "<3",
        "a&b;",
        "R&D",
    ];

    fn text() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            20 => prop::sample::select(TEXTS),
            1 => prop::sample::select(OTHER_TEXTS),
        ];
        prop::collection::vec(piece, 1..4).prop_map(|t| t.concat())
    }

    fn tag_name() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            30 => prop::sample::select(TAGS),
            1 => prop::sample::select(OTHER_TAGS),
        ]
    }

    fn value() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            20 => prop::sample::select(VALUES),
            1 => prop::sample::select(OTHER_VALUES),
        ]
    }

    /// Attributes, each name once (a repeated one declines), in any order and case.
    fn attributes() -> impl Strategy<Value = String> {
        prop::sample::subsequence(ATTRIBUTES, 0..4)
            .prop_shuffle()
            .prop_flat_map(|names| {
                names
                    .into_iter()
                    .map(|name| (Just(name), value(), 0..4usize, any::<bool>()))
                    .collect::<Vec<_>>()
            })
            .prop_map(|attributes| {
                let written = attributes.into_iter().map(|(name, value, quoting, upper)| {
                    let name = if upper {
                        name.to_ascii_uppercase()
                    } else {
                        name.to_owned()
                    };
                    match quoting {
                        0 => format!(" {name}=\"{}\"", value.replace('"', "&quot;")),
                        1 => format!(" {name}='{}'", value.replace('\'', "&#39;")),
                        2 if !value.is_empty()
                            && !value.contains([' ', '"', '\'', '<', '=', '`', '>']) =>
                        {
                            format!(" {name}={value}")
                        }
                        _ => format!(" {name}"),
                    }
                });
                written.collect()
            })
    }

    fn start_tag(name: &'static str) -> impl Strategy<Value = String> {
        attributes().prop_map(move |attributes| format!("<{name}{attributes}>"))
    }

    fn element(name: &'static str, children: Vec<String>) -> impl Strategy<Value = String> {
        start_tag(name).prop_map(move |open| {
            format!(
                "{open}{}</{}>",
                children.concat(),
                name.to_ascii_lowercase()
            )
        })
    }

    /// Well-formed trees shaped like articles (mostly what the fast path takes), with now and
    /// then a tag or a text it must decline.
    fn tree() -> impl Strategy<Value = String> {
        let void = prop::sample::select(VOIDS).prop_flat_map(|name| {
            (start_tag(name), any::<bool>())
                .prop_map(|(tag, slash)| if slash { tag.replace('>', "/>") } else { tag })
        });
        let leaf = prop_oneof![4 => text(), 1 => void];
        let inline = leaf.prop_recursive(3, 16, 4, |inner| {
            let name = prop_oneof![
                30 => prop::sample::select(INLINE_TAGS),
                1 => prop::sample::select(OTHER_TAGS),
            ];
            (name, prop::collection::vec(inner, 0..4))
                .prop_flat_map(|(name, children)| element(name, children))
        });
        inline.clone().prop_recursive(4, 64, 6, move |inner| {
            let paragraph = (
                prop::sample::select(&["p", "h2", "h3", "figcaption", "P"][..]),
                prop::collection::vec(inline.clone(), 0..4),
            )
                .prop_flat_map(|(name, children)| element(name, children));
            let block = (tag_name(), prop::collection::vec(inner.clone(), 0..5))
                .prop_flat_map(|(name, children)| element(name, children));
            let list = prop::collection::vec(
                prop::collection::vec(inner, 0..3)
                    .prop_flat_map(|children| element("li", children)),
                0..4,
            )
            .prop_flat_map(|items| element("ul", items));
            prop_oneof![3 => paragraph, 3 => block, 1 => list]
        })
    }

    /// Tag soup: anything in any order.
    fn soup() -> impl Strategy<Value = String> {
        let token = prop_oneof![
            text(),
            tag_name().prop_flat_map(start_tag),
            tag_name().prop_map(|name| format!("</{name}>")),
            prop::sample::select(VOIDS).prop_flat_map(start_tag),
            prop::sample::select(&["</br>", "<p/>", "</a >", "< p>", "<p", "<!doctype html>"][..])
                .prop_map(str::to_owned),
        ];
        prop::collection::vec(token, 0..24).prop_map(|tokens| tokens.concat())
    }

    #[test]
    fn a_character_to_check_is_found_at_any_place_in_an_eight_byte_run() {
        // Each character whose first byte the eight-byte skip must not miss, and characters
        // that share such a first byte or are below 0x20 and are plain all the same.
        let unplain = [
            '\0', '\x1f', '\x7f', '\u{85}', '\u{fdd0}', '\u{feff}', '\u{fffe}',
        ];
        let plain = ['\t', '\n', '\u{a0}', '\u{ff0c}', '\u{1f600}', ' '];
        for filler in ["abcdefghijklmnopqrstuvwx", "冬奥会北京举办冬奥"] {
            for at in (0..=filler.len()).filter(|&at| filler.is_char_boundary(at)) {
                for c in unplain.iter().chain(&plain) {
                    let text = format!("{}{c}{}", &filler[..at], &filler[at..]);
                    assert_eq!(all_plain(&text), plain.contains(c), "{text:?}");
                }
            }
        }
    }

    proptest! {
        #[test]
        fn all_plain_is_every_character_plain(text in "\\PC*|[\\x00-\\x{a0}\\x{fdc0}-\\x{ffff}\\x{1fffe}\\x{10ffff}]*") {
            prop_assert_eq!(all_plain(&text), text.chars().all(plain_char));
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn well_formed_markup_is_cleaned_as_ammonia_cleans_it(html in tree(), with_base: bool) {
            let base = with_base.then(base);
            checked(&html, base.as_ref())?;
        }

        #[test]
        fn tag_soup_is_cleaned_as_ammonia_cleans_it_or_declined(html in soup(), with_base: bool) {
            let base = with_base.then(base);
            checked(&html, base.as_ref())?;
        }
    }
}
