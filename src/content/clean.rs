//! `content = "clean"`: make a feed's HTML fit to keep and to show.
//!
//! Two passes, each with the tool that does it well:
//!
//! 1. a streaming rewrite with `lol_html`, for what needs selectors and attribute moves: lazy
//!    images get their real `src` from `data-src`/`data-original`/`data-lazy-src`, ad wrappers
//!    (`dfp-ad-*`, `dfp-tag-wrapper`, … plus the source's own `remove` selectors) and 1×1
//!    tracking images go;
//! 2. an allow-list sanitiser, `ammonia`, for safety: only known-harmless tags and attributes
//!    survive, so no script, event handler, `javascript:`/`data:` URL, `<base>`, `<meta>` or style
//!    expression gets through whatever the source sends; relative URLs become absolute against
//!    the article's link; images (and iframes, when a source keeps them) get
//!    `referrerpolicy="no-referrer"`, which hot-linked news images need. Simple markup takes a
//!    one-pass path that gives ammonia's output byte for byte ([`super::simple_markup`]); the
//!    rest goes through ammonia itself.
//!
//! The result is put on one line (line breaks and the white space around them become one
//! space), as the post format wants its content.

use std::cell::RefCell;
use std::collections::HashSet;

use ammonia::{Builder, UrlRelative};
use lol_html::{RewriteStrSettings, element, rewrite_str};
use url::Url;

use super::simple_markup;

/// Wrappers that hold ads on the news sites archived (DFP/GPT, AdSense).
pub const AD_SELECTORS: &[&str] = &[
    "[id^=\"dfp-ad-\"]",
    ".dfp-tag-wrapper",
    ".dfp-tag",
    "[id^=\"div-gpt-ad\"]",
    ".adsbygoogle",
    "#innity-in-post",
];

/// Elements dropped with their content before sanitising.
const ALWAYS_DROP: &[&str] = &["script", "style", "noscript", "template"];

/// Attributes lazy-loading scripts keep the real image URL in.
const LAZY_SRC: &[&str] = &["data-src", "data-original", "data-lazy-src"];

/// The cleaning a source asks for.
#[derive(Debug, Clone, Default)]
pub struct CleanRules {
    /// The source's own selectors of elements to drop (share bars, related links …).
    pub remove: Vec<String>,
    /// Keep `<iframe>` embeds (video players); dropped by default.
    pub keep_iframes: bool,
}

/// Deepest element nesting cleaned as HTML; deeper content (built to exhaust a parser) keeps
/// its text only.
pub const MAX_DEPTH: usize = 512;

/// Cleans and sanitises `html`; `base` (the article's link) makes relative URLs absolute.
pub fn clean_html(html: &str, base: Option<&Url>, rules: &CleanRules) -> String {
    if nesting_depth(html) > MAX_DEPTH {
        tracing::warn!("content nested deeper than {MAX_DEPTH} elements: kept as text");
        return text_only(html);
    }
    let prepared = prepare(html, rules).unwrap_or_else(|_| html.to_string());
    let safe = sanitise(&prepared, base, rules.keep_iframes);
    one_line(&safe)
}

/// Sanitises `html` with the allow-list alone, no other cleaning: what the HTML site applies to
/// every article, verbatim sources included. Without iframes, markup simple enough takes the
/// fast path of [`simple_markup`], which gives the same output.
pub fn sanitise(html: &str, base: Option<&Url>, keep_iframes: bool) -> String {
    thread_local! {
        // Building the allow-list costs as much as a small article's cleaning: one per thread.
        static PLAIN: RefCell<Builder<'static>> = RefCell::new(allow_list(false));
        static WITH_IFRAMES: RefCell<Builder<'static>> = RefCell::new(allow_list(true));
        static PLAIN_POLICY: simple_markup::Policy = simple_markup::Policy::of(&allow_list(false));
    }
    // The fast path declines markup nested deeper than MAX_DEPTH.
    if !keep_iframes
        && let Some(clean) = PLAIN_POLICY.with(|policy| simple_markup::sanitise(html, base, policy))
    {
        return clean;
    }
    if nesting_depth(html) > MAX_DEPTH {
        return text_only(html);
    }
    // An iframe's content is raw text to a parser, and the sanitiser writes it back as it was:
    // text that would become markup anywhere else (found by fuzzing). Kept iframes are emptied.
    let emptied;
    let html = if keep_iframes {
        emptied = empty_iframes(html);
        emptied.as_str()
    } else {
        html
    };
    let clean = |builder: &RefCell<Builder<'static>>| {
        let mut builder = builder.borrow_mut();
        match base {
            Some(base) => builder.url_relative(UrlRelative::RewriteWithBase(base.clone())),
            None => builder.url_relative(UrlRelative::PassThrough),
        };
        builder.clean(html).to_string()
    };
    if keep_iframes {
        WITH_IFRAMES.with(clean)
    } else {
        PLAIN.with(clean)
    }
}

/// The allow-list of [`sanitise`], without the base URL (set per article); public for the fuzz
/// target that compares the fast path with ammonia.
pub fn allow_list(keep_iframes: bool) -> Builder<'static> {
    let mut builder = Builder::default();
    builder
        .add_tags([
            "figure",
            "figcaption",
            "picture",
            "source",
            "section",
            "time",
        ])
        .add_tag_attributes("img", ["referrerpolicy", "loading", "srcset", "sizes"])
        .add_tag_attributes("source", ["srcset", "type", "media", "sizes"])
        .set_tag_attribute_value("img", "referrerpolicy", "no-referrer")
        .url_schemes(HashSet::from(["http", "https", "mailto"]))
        .strip_comments(true);
    if keep_iframes {
        builder
            .add_tags(["iframe"])
            .add_tag_attributes("iframe", ["src", "width", "height", "allowfullscreen"])
            .set_tag_attribute_value("iframe", "referrerpolicy", "no-referrer")
            .set_tag_attribute_value("iframe", "sandbox", "allow-scripts allow-same-origin");
    }
    builder
}

/// The `lol_html` pass: lazy images, ads, tracking pixels, dropped elements.
fn prepare(html: &str, rules: &CleanRules) -> Result<String, lol_html::errors::RewritingError> {
    let mut drop: Vec<&str> = ALWAYS_DROP.iter().chain(AD_SELECTORS).copied().collect();
    // Selectors were checked when the config was loaded (see `check_selector`).
    drop.extend(
        rules
            .remove
            .iter()
            .map(String::as_str)
            .filter(|s| check_selector(s).is_ok()),
    );
    let drop = drop.join(", ");
    let settings = RewriteStrSettings::new()
        .append_element_content_handler(element!(drop.as_str(), |el| {
            el.remove();
            Ok(())
        }))
        .append_element_content_handler(element!("img", |el| {
            let size = |name: &str| {
                el.get_attribute(name)
                    .map(|v| v.trim().trim_end_matches("px").trim().to_string())
            };
            if size("width").as_deref() == Some("1") && size("height").as_deref() == Some("1") {
                el.remove();
                return Ok(());
            }
            let lazy = LAZY_SRC.iter().find_map(|name| el.get_attribute(name));
            if let Some(real) = lazy.filter(|v| !v.trim().is_empty()) {
                let src = el.get_attribute("src").unwrap_or_default();
                if src.trim() != real.trim() {
                    el.set_attribute("src", real.trim())?;
                }
            }
            if let Some(set) = el.get_attribute("data-srcset") {
                el.set_attribute("srcset", &set)?;
            }
            Ok(())
        }));
    rewrite_str(html, settings)
}

/// Every `<iframe>` with its content removed (its attributes stay).
fn empty_iframes(html: &str) -> String {
    let settings =
        RewriteStrSettings::new().append_element_content_handler(element!("iframe", |el| {
            el.set_inner_content("", lol_html::html_content::ContentType::Text);
            Ok(())
        }));
    rewrite_str(html, settings).unwrap_or_else(|_| text_only(html))
}

/// Whether a `remove` selector is one the cleaner can use.
pub fn check_selector(selector: &str) -> Result<(), String> {
    selector
        .parse::<lol_html::Selector>()
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// How deep start tags nest, roughly (void elements and self-closing tags do not count): a
/// cheap guard run before any parser.
pub fn nesting_depth(html: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    let bytes = html.as_bytes();
    let (mut depth, mut deepest) = (0usize, 0usize);
    let mut i = 0;
    while let Some(at) = bytes[i..].iter().position(|b| *b == b'<') {
        i += at + 1;
        match bytes.get(i) {
            Some(b'/') => depth = depth.saturating_sub(1),
            Some(c) if c.is_ascii_alphabetic() => {
                let name_end = bytes[i..]
                    .iter()
                    .position(|b| !b.is_ascii_alphanumeric())
                    .map_or(bytes.len(), |n| i + n);
                let name = &bytes[i..name_end];
                let close = bytes[name_end..].iter().position(|b| *b == b'>');
                let self_closing = close.is_some_and(|c| c > 0 && bytes[name_end + c - 1] == b'/');
                let void = VOID.iter().any(|v| v.as_bytes().eq_ignore_ascii_case(name));
                if !void && !self_closing {
                    depth += 1;
                    deepest = deepest.max(depth);
                }
            }
            _ => {}
        }
    }
    deepest
}

/// The text of `html` (tags dropped, entities kept as they are) in one paragraph: what is left of content too hostile to parse.
fn text_only(html: &str) -> String {
    let mut text = String::with_capacity(html.len() / 2);
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag && !c.is_control() => text.push(c),
            _ => {}
        }
    }
    format!("<p>{}</p>", one_line(text.trim()))
}

/// Line breaks, with the white space around them, become one space; the ends are trimmed.
fn one_line(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut pending_break = false;
    let mut pending_space = String::new();
    for c in html.chars() {
        if c == '\n' || c == '\r' {
            pending_break = true;
        } else if c.is_whitespace() {
            pending_space.push(c);
        } else {
            if pending_break {
                if !out.is_empty() {
                    out.push(' ');
                }
            } else if !out.is_empty() {
                out.push_str(&pending_space);
            }
            pending_break = false;
            pending_space.clear();
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clean(html: &str) -> String {
        let base = Url::parse("https://news.example/world/story-1").unwrap();
        clean_html(html, Some(&base), &CleanRules::default())
    }

    #[test]
    fn lazy_images_get_a_src_and_no_referrer() {
        let out = clean(
            r#"<img class="lazyload" data-src="/i/a.jpg" src="data:image/gif;base64,R0lGOD">"#,
        );
        assert_eq!(
            out,
            r#"<img src="https://news.example/i/a.jpg" referrerpolicy="no-referrer">"#
        );
        let out = clean(r#"<img data-original="b.jpg">"#);
        assert!(
            out.contains(r#"src="https://news.example/world/b.jpg""#),
            "{out}"
        );
    }

    #[test]
    fn ads_scripts_and_pixels_go() {
        let out = clean(
            "<p>a</p>\n  <div id=\"dfp-ad-imu1-wrapper\" class=\"dfp-tag-wrapper\"><div id=\"dfp-ad-imu1\">ad</div></div>\
             <script>alert(1)</script><img src=\"https://t.example/p.gif\" width=\"1\" height=\"1\"><p onclick=\"x()\">b</p>",
        );
        assert_eq!(out, "<p>a</p> <p>b</p>");
    }

    #[test]
    fn relative_links_become_absolute() {
        let out = clean(r#"<a href="../other">x</a>"#);
        assert_eq!(
            out,
            r#"<a href="https://news.example/other" rel="noopener noreferrer">x</a>"#
        );
    }

    #[test]
    fn source_selectors_and_iframes() {
        let base = Url::parse("https://e.com/").unwrap();
        let rules = CleanRules {
            remove: vec![".share".into()],
            keep_iframes: false,
        };
        let out = clean_html(
            "<div class=\"share\">s</div><iframe src=\"https://v.example/\"></iframe><p>t</p>",
            Some(&base),
            &rules,
        );
        assert_eq!(out, "<p>t</p>");
        let rules = CleanRules {
            remove: vec![],
            keep_iframes: true,
        };
        let out = clean_html(
            "<iframe src=\"https://v.example/e\"></iframe>",
            Some(&base),
            &rules,
        );
        assert!(
            out.contains("<iframe") && out.contains("referrerpolicy=\"no-referrer\""),
            "{out}"
        );
        assert!(check_selector("div[").is_err());
    }

    #[test]
    fn deep_nesting_keeps_the_text_only() {
        let html = "<div>".repeat(10_000) + "x &lt; <script>y</script>" + &"</div>".repeat(10_000);
        assert_eq!(clean(&html), "<p>x &lt; y</p>");
        assert_eq!(nesting_depth("<p><img src=a><br/><b>x</b></p>"), 2);
    }
}
