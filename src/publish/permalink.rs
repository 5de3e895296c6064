//! Where Jekyll serves a post: its URL under the site's permalink pattern (a built-in style or
//! a pattern of placeholders), filled as Jekyll 4.3 fills it — slugs, strftime dates,
//! categories, the path cleaned of `..` and `./`, percent-encoded — for the URLs of
//! `search.json`. A placeholder Jekyll does not know is refused when the config is read.

use chrono::Datelike;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::dates::{push_two, utc};

/// Characters a URL path keeps as they are (RFC 3986 pchar and `/`); the rest is
/// percent-encoded, as Jekyll does.
const PATH_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'!')
    .remove(b'$')
    .remove(b'&')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')')
    .remove(b'*')
    .remove(b'+')
    .remove(b',')
    .remove(b';')
    .remove(b'=')
    .remove(b':')
    .remove(b'@')
    .remove(b'/');

/// Jekyll's `slugify` in its default mode (what `:slug` gives): only letters, marks and decimal
/// digits are kept, lower-cased.
fn slugify_default(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_slug(&mut out, text, is_slug_char);
    downcase(&out)
}

/// Ruby's `String#downcase`: each character lower-cased on its own (no final-sigma rule, which
/// Rust's `to_lowercase` applies: `ΟΔΟΣ` is `οδοσ` here, as in Jekyll).
fn downcase(text: &str) -> String {
    text.chars().flat_map(char::to_lowercase).collect()
}

/// The title part of a post's file name without its extension, as Jekyll reads it (its
/// `DATE_FILENAME_MATCHER`): what follows `^\d{2,4}-\d{1,2}-\d{1,2}-` (so `2013-10-5-Title`
/// too), with the date it found; none when the name starts with no such date.
pub fn split_date(stem: &str) -> Option<(&str, &str)> {
    // The regex's greedy counts, in the order its backtracking tries them.
    for year in [4, 3, 2] {
        for month in [2, 1] {
            for day in [2, 1] {
                let len = year + 1 + month + 1 + day;
                let Some(date) = stem.get(..len) else {
                    continue;
                };
                let bytes = date.as_bytes();
                let digits =
                    |from: usize, n: usize| bytes[from..from + n].iter().all(u8::is_ascii_digit);
                if digits(0, year)
                    && bytes[year] == b'-'
                    && digits(year + 1, month)
                    && bytes[year + 1 + month] == b'-'
                    && digits(year + 2 + month, day)
                    && stem[len..].starts_with('-')
                {
                    return Some((date, &stem[len + 1..]));
                }
            }
        }
    }
    None
}

/// What Jekyll's `pretty` slugs keep (`:title`).
fn is_pretty_slug_char(c: char) -> bool {
    is_slug_char(c) || "._~!$&'()+,;=@".contains(c)
}

/// Jekyll's `slugify` of `text`, case kept, onto `out`: runs of characters it does not `keep`
/// become `-`, none at either end. Its `pretty` mode (what `:title` gives) keeps letters, marks,
/// decimal digits and `._~!$&'()+,;=@`.
fn push_slug(out: &mut String, text: &str, keep: impl Fn(char) -> bool) {
    let start = out.len();
    let mut gap = false;
    for c in text.chars() {
        if keep(c) {
            if gap && out.len() > start {
                out.push('-');
            }
            gap = false;
            out.push(c);
        } else {
            gap = true;
        }
    }
}

/// Ruby's `\p{L}`, `\p{M}` and `\p{Nd}`, which Jekyll's slugs keep: not `char::is_alphanumeric`,
/// which also keeps other numbers (`½`, `²`, `①`, `Ⅻ`, and `〇` of Chinese dates).
fn is_slug_char(c: char) -> bool {
    use unicode_general_category::{GeneralCategory::*, get_general_category};
    if c.is_ascii() {
        return c.is_ascii_alphanumeric();
    }
    if ('\u{4e00}'..='\u{9fff}').contains(&c) {
        return true; // CJK unified ideographs, all letters: most of a Chinese title
    }
    matches!(
        get_general_category(c),
        UppercaseLetter
            | LowercaseLetter
            | TitlecaseLetter
            | ModifierLetter
            | OtherLetter
            | NonspacingMark
            | SpacingMark
            | EnclosingMark
            | DecimalNumber
    )
}

/// The placeholders of a post's permalink, as Jekyll 4.3 knows them (its `UrlDrop`).
pub const PLACEHOLDERS: &[&str] = &[
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "i_day",
    "i_month",
    "short_month",
    "long_month",
    "short_year",
    "w_year",
    "week",
    "w_day",
    "short_day",
    "long_day",
    "y_day",
    "title",
    "slug",
    "name",
    "path",
    "collection",
    "categories",
    "output_ext",
];

/// The placeholder at the start of `text` (what follows a `:`), as Jekyll reads it: the longest
/// run of `a`–`z` and `_`; one that ends in `_` stands for the name without it, the `_` kept
/// after its value. Returns the name and how many bytes after it belong to the match (0 or 1).
fn placeholder_at(text: &str) -> (&str, usize) {
    let len = text
        .find(|c: char| !(c.is_ascii_lowercase() || c == '_'))
        .unwrap_or(text.len());
    match text[..len].strip_suffix('_') {
        Some(name) => (name, 1),
        None => (&text[..len], 0),
    }
}

/// The pattern of `permalink`: a built-in style's, or `permalink` itself.
fn permalink_pattern(permalink: &str) -> &str {
    match permalink {
        "date" => "/:categories/:year/:month/:day/:title:output_ext",
        "pretty" => "/:categories/:year/:month/:day/:title/",
        "ordinal" => "/:categories/:year/:y_day/:title:output_ext",
        "weekdate" => "/:categories/:year/W:week/:short_day/:title:output_ext",
        "none" => "/:categories/:title:output_ext",
        pattern => pattern,
    }
}

/// The first placeholder of `permalink` Jekyll does not know (it refuses to build such a site),
/// as written; none for a built-in style or a pattern of known ones.
pub fn unknown_placeholder(permalink: &str) -> Option<String> {
    let mut rest = permalink_pattern(permalink);
    while let Some(at) = rest.find(':') {
        let (name, kept) = placeholder_at(&rest[at + 1..]);
        // A `:` with no name after it is text.
        let text = name.is_empty() && kept == 0;
        if !text && !PLACEHOLDERS.contains(&name) {
            return Some(format!(":{name}{}", "_".repeat(kept)));
        }
        rest = &rest[at + 1 + name.len() + kept..];
    }
    None
}

/// A post permalink (a built-in style or a pattern) read once, for the URLs of many posts:
/// search.json gives every post's on each run that writes posts.
pub struct Permalink {
    /// The pattern's text and placeholders, in order.
    pieces: Vec<Piece>,
}

enum Piece {
    Text(String),
    /// One of [`PLACEHOLDERS`].
    Placeholder(&'static str),
}

impl Permalink {
    pub fn new(permalink: &str) -> Permalink {
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut rest = permalink_pattern(permalink);
        while let Some(at) = rest.find(':') {
            text.push_str(&rest[..at]);
            let (name, _) = placeholder_at(&rest[at + 1..]);
            match PLACEHOLDERS.iter().find(|known| **known == name) {
                Some(known) => {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                    pieces.push(Piece::Placeholder(known));
                }
                // Refused in the config (see `unknown_placeholder`); kept as written otherwise.
                None => {
                    text.push(':');
                    text.push_str(name);
                }
            }
            // What follows the name (a `_` it ended in) is left for the pattern's text.
            rest = &rest[at + 1 + name.len()..];
        }
        text.push_str(rest);
        pieces.push(Piece::Text(text));
        pieces.retain(|piece| !matches!(piece, Piece::Text(text) if text.is_empty()));
        Permalink { pieces }
    }

    /// The URL Jekyll gives a post of these `categories`, file name and date.
    pub fn url(&self, categories: &[String], post_name: &str, date_ms: i64) -> String {
        let date = utc(date_ms);
        let four_digits = (0..=9999).contains(&date.year());
        let stem = post_name.strip_suffix(".md").unwrap_or(post_name);
        // Jekyll drops a slug's trailing periods ("slugs shouldn't end with a period").
        let slug = split_date(stem)
            .map_or(stem, |(_, title)| title)
            .trim_end_matches('.');
        let mut out = String::with_capacity(post_name.len() + 32);
        for piece in &self.pieces {
            let name = match piece {
                Piece::Text(text) => {
                    out.push_str(text);
                    continue;
                }
                Piece::Placeholder(name) => *name,
            };
            let value = match name {
                // The common ones by hand, without parsing a strftime pattern.
                "year" if four_digits => {
                    let year = date.year() as u32;
                    push_two(&mut out, year / 100);
                    push_two(&mut out, year % 100);
                    continue;
                }
                "month" if four_digits => {
                    push_two(&mut out, date.month());
                    continue;
                }
                "day" if four_digits => {
                    push_two(&mut out, date.day());
                    continue;
                }
                "title" => {
                    push_slug(&mut out, slug, is_pretty_slug_char);
                    continue;
                }
                "categories" => {
                    push_categories(&mut out, categories);
                    continue;
                }
                "i_month" => date.month().to_string(),
                "i_day" => date.day().to_string(),
                "year" => date.format("%Y").to_string(),
                "month" => date.format("%m").to_string(),
                "day" => date.format("%d").to_string(),
                "short_year" => date.format("%y").to_string(),
                "hour" => date.format("%H").to_string(),
                "minute" => date.format("%M").to_string(),
                "second" => date.format("%S").to_string(),
                "y_day" => date.format("%j").to_string(),
                "week" => date.format("%V").to_string(),
                "w_year" => date.format("%G").to_string(),
                "w_day" => date.format("%u").to_string(),
                "short_day" => date.format("%a").to_string(),
                "long_day" => date.format("%A").to_string(),
                "short_month" => date.format("%b").to_string(),
                "long_month" => date.format("%B").to_string(),
                "slug" => slugify_default(slug),
                "name" => slugify_default(stem),
                // Jekyll's `cleaned_relative_path`: trailing periods dropped too.
                "path" => stem.trim_end_matches('.').to_string(),
                "collection" => "posts".to_string(),
                "output_ext" => ".html".to_string(),
                // Not one of PLACEHOLDERS: kept as written.
                _ => format!(":{name}"),
            };
            out.push_str(&value);
        }
        // Jekyll's `URL#sanitize_url`: a leading `/`, every `..` made `/`, every `./` dropped,
        // and runs of `/` (an empty placeholder leaves `//`) made one. Most paths need none of
        // it.
        let clean = out.starts_with('/')
            && !out.contains("..")
            && !out.contains("./")
            && !out.contains("//");
        if !clean {
            let cleaned = format!("/{out}").replace("..", "/").replace("./", "");
            out.clear();
            for c in cleaned.chars() {
                if !(c == '/' && out.ends_with('/')) {
                    out.push(c);
                }
            }
        }
        let mut url = String::with_capacity(out.len() * 2);
        url.extend(utf8_percent_encode(&out, PATH_KEEP));
        url
    }
}

/// `:categories`: the categories lower-cased, each once, joined by `/`.
fn push_categories(out: &mut String, categories: &[String]) {
    let mut seen: Vec<String> = Vec::with_capacity(categories.len());
    for category in categories {
        let lower = downcase(category);
        if seen.contains(&lower) {
            continue;
        }
        if !seen.is_empty() {
            out.push('/');
        }
        out.push_str(&lower);
        seen.push(lower);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::dates::day;
    use proptest::prelude::*;

    fn post_url(permalink: &str, categories: &[String], post_name: &str, date_ms: i64) -> String {
        Permalink::new(permalink).url(categories, post_name, date_ms)
    }

    #[test]
    fn jekyll_urls() {
        let categories = vec!["联合早报".to_string()];
        assert_eq!(
            post_url(
                "date",
                &categories,
                "2021-04-04-中韩外长会谈 韩国支持北京举办冬奥.md",
                1617525953966
            ),
            "/%E8%81%94%E5%90%88%E6%97%A9%E6%8A%A5/2021/04/04/%E4%B8%AD%E9%9F%A9%E5%A4%96%E9%95%BF%E4%BC%9A%E8%B0%88-%E9%9F%A9%E5%9B%BD%E6%94%AF%E6%8C%81%E5%8C%97%E4%BA%AC%E4%B8%BE%E5%8A%9E%E5%86%AC%E5%A5%A5.html"
        );
        assert_eq!(
            post_url(
                "/:year/:title/",
                &[],
                "2021-04-04-Hello World.md",
                1617525953966
            ),
            "/2021/Hello-World/"
        );
        assert_eq!(
            post_url("none", &["News".into()], "2021-04-04-a.md", 0),
            "/news/a.html"
        );
    }

    #[test]
    fn url_dates_are_spelled_as_strftime_spells_them() {
        let pattern = "/:year/:month/:day/:i_month/:i_day/:title";
        // From before 1970 to past year 9999 (where strftime takes over), a day and a bit apart.
        let mut ms: i64 = -62_000_000_000_000;
        while ms < 260_000_000_000_000 {
            let date = utc(ms);
            let want = date.format("/%Y/%m/%d/%-m/%-d/a").to_string();
            assert_eq!(post_url(pattern, &[], "2021-04-04-a.md", ms), want, "{ms}");
            assert_eq!(day(ms), date.format("%Y-%m-%d").to_string(), "{ms}");
            ms += 90_061_001 * 997;
        }
    }

    /// The URL filled in the plainest way, as Jekyll's `URL` class does it (placeholder by
    /// placeholder through strftime, then `sanitize_url` on every path): what [`Permalink::url`]
    /// must give, fast paths and all.
    fn plain_url(pattern: &str, categories: &[String], post_name: &str, date_ms: i64) -> String {
        let date = utc(date_ms);
        let stem = post_name.strip_suffix(".md").unwrap_or(post_name);
        let slug = stem.get(11..).unwrap_or(stem).trim_end_matches('.');
        let mut lower: Vec<String> = Vec::new();
        for category in categories {
            if !lower.contains(&category.to_lowercase()) {
                lower.push(category.to_lowercase());
            }
        }
        let mut out = String::new();
        let mut rest = permalink_pattern(pattern);
        while let Some(at) = rest.find(':') {
            out.push_str(&rest[..at]);
            let (name, _) = placeholder_at(&rest[at + 1..]);
            let strftime = |spec: &str| date.format(spec).to_string();
            out.push_str(&match name {
                "year" => strftime("%Y"),
                "month" => strftime("%m"),
                "day" => strftime("%d"),
                "i_month" => strftime("%-m"),
                "i_day" => strftime("%-d"),
                "hour" => strftime("%H"),
                "minute" => strftime("%M"),
                "second" => strftime("%S"),
                "short_year" => strftime("%y"),
                "y_day" => strftime("%j"),
                "week" => strftime("%V"),
                "w_year" => strftime("%G"),
                "w_day" => strftime("%u"),
                "short_day" => strftime("%a"),
                "long_day" => strftime("%A"),
                "short_month" => strftime("%b"),
                "long_month" => strftime("%B"),
                "title" => slugify(slug, |c| is_slug_char(c) || "._~!$&'()+,;=@".contains(c)),
                "slug" => slugify(slug, is_slug_char).to_lowercase(),
                "name" => slugify(stem, is_slug_char).to_lowercase(),
                // Jekyll's `cleaned_relative_path`: trailing periods dropped too.
                "path" => stem.trim_end_matches('.').to_string(),
                "collection" => "posts".to_string(),
                "categories" => lower.join("/"),
                "output_ext" => ".html".to_string(),
                _ => format!(":{name}"),
            });
            rest = &rest[at + 1 + name.len()..];
        }
        out.push_str(rest);
        let cleaned = format!("/{out}").replace("..", "/").replace("./", "");
        let mut path = String::new();
        for c in cleaned.chars() {
            if !(c == '/' && path.ends_with('/')) {
                path.push(c);
            }
        }
        utf8_percent_encode(&path, PATH_KEEP).to_string()
    }

    /// Jekyll's `slugify`, as its Ruby reads: replace runs, then trim `-`.
    fn slugify(text: &str, keep: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        for c in text.chars() {
            if keep(c) {
                out.push(c);
            } else if !out.ends_with('-') {
                out.push('-');
            }
        }
        out.trim_matches('-').to_string()
    }

    proptest! {
        /// Whatever the pattern's text, title, categories and date, the URL is the plain one.
        #[test]
        fn urls_are_filled_as_the_plain_way_fills_them(
            pattern in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(
                        PLACEHOLDERS
                            .iter()
                            .map(|name| format!(":{name}"))
                            .chain([":title_", ":foo", ":"].map(String::from))
                            .collect::<Vec<_>>()
                    ),
                    "[/._a-z:-]{0,3}",
                ],
                0..8,
            ).prop_map(|pieces| pieces.concat()),
            title in "[a-zA-Z0-9 ./_~!&+,;=@%:-]{0,12}|\\PC{0,12}",
            categories in proptest::collection::vec("[a-zA-Z/. ]{0,4}|\\PC{0,3}", 0..3),
            date_ms in -62_135_596_800_000i64..253_402_300_799_999,
        ) {
            let name = format!("2024-06-02-{title}.md");
            prop_assert_eq!(
                post_url(&pattern, &categories, &name, date_ms),
                plain_url(&pattern, &categories, &name, date_ms)
            );
        }
    }

    /// Post URLs as Jekyll 4.3.1 makes them (each expected value below is what its `URL` class
    /// gave for the post's slug): a slug's trailing periods dropped, letters, marks and decimal
    /// digits kept (not `½`, `²`, `①`, `Ⅻ` or `〇`), `:slug` in Jekyll's default mode, and the
    /// path cleaned of `..` and `./` as Jekyll cleans it.
    #[test]
    fn urls_are_the_ones_jekyll_makes() {
        let date = 1717286400000; // 2024-06-02
        let url = |pattern: &str, slug: &str| {
            post_url(pattern, &[], &format!("2024-06-02-{slug}.md"), date)
        };
        let date_style = "/:categories/:year/:month/:day/:title:output_ext";
        let slug_style = "/:categories/:slug/";
        for (slug, by_date, by_slug) in [
            (
                "Breaking-news....",
                "/2024/06/02/Breaking-news.html",
                "/breaking-news/",
            ),
            ("dots.", "/2024/06/02/dots.html", "/dots/"),
            ("50% off ½ ² ①", "/2024/06/02/50-off.html", "/50-off/"),
            (
                "二〇二一年 报道",
                "/2024/06/02/%E4%BA%8C-%E4%BA%8C%E4%B8%80%E5%B9%B4-%E6%8A%A5%E9%81%93.html",
                "/%E4%BA%8C-%E4%BA%8C%E4%B8%80%E5%B9%B4-%E6%8A%A5%E9%81%93/",
            ),
            ("a.b & c+d", "/2024/06/02/a.b-&-c+d.html", "/a-b-c-d/"),
            ("..hidden", "/2024/06/02/hidden.html", "/hidden/"),
            ("x..y", "/2024/06/02/x/y.html", "/x-y/"),
            (
                "Ⅻ章 ǅ",
                "/2024/06/02/%E7%AB%A0-%C7%85.html",
                "/%E7%AB%A0-%C7%86/",
            ),
        ] {
            assert_eq!(url(date_style, slug), by_date, "{slug}");
            assert_eq!(url(slug_style, slug), by_slug, "{slug}");
        }
    }

    /// Jekyll takes the date off a file name by `^\d{2,4}-\d{1,2}-\d{1,2}-`: an imported
    /// `2013-10-5-Short Date Post.md` is served at `…/Short-Date-Post.html`.
    #[test]
    fn a_date_without_leading_zeros_is_taken_off_the_slug() {
        let date = 1380931200000; // 2013-10-05
        assert_eq!(
            post_url("date", &[], "2013-10-5-Short Date Post.md", date),
            "/2013/10/05/Short-Date-Post.html"
        );
        assert_eq!(post_url("/:slug/", &[], "13-1-5-Short.md", date), "/short/");
        assert_eq!(split_date("2024-06-01-a"), Some(("2024-06-01", "a")));
        assert_eq!(split_date("2024-06-01"), None);
        assert_eq!(split_date("no date"), None);
    }

    /// Ruby's `downcase` has no final-sigma rule: `ΟΔΟΣ` is `οδοσ` in Jekyll's URLs.
    #[test]
    fn lower_case_is_rubys() {
        let url = post_url(
            "/:categories/:slug/",
            &["ΟΔΟΣ".into()],
            "2024-06-01-ΟΔΟΣ.md",
            1717200000000,
        );
        assert_eq!(url, "/%CE%BF%CE%B4%CE%BF%CF%83/%CE%BF%CE%B4%CE%BF%CF%83/");
    }

    /// `:path` drops trailing periods, as Jekyll's `cleaned_relative_path` does.
    #[test]
    fn path_drops_trailing_periods() {
        assert_eq!(
            post_url("/:path/", &[], "2024-06-01-wait....md", 1717200000000),
            "/2024-06-01-wait/"
        );
    }

    /// Every placeholder Jekyll 4.3.1 knows, as it fills them for `_posts/2024-06-02-Hello_World
    /// x.md` dated 2024-06-02T00:00Z (a Sunday), categories `[S]` (checked with `jekyll build`).
    #[test]
    fn every_placeholder_is_filled_as_jekyll_does() {
        let url = |pattern: &str| {
            post_url(
                pattern,
                &["S".into()],
                "2024-06-02-Hello_World x.md",
                1717286400000,
            )
        };
        assert_eq!(url("weekdate"), "/s/2024/W22/Sun/Hello_World-x.html");
        assert_eq!(
            url("/:short_month/:long_month/:long_day/:w_year/:w_day/:name/:collection/"),
            "/Jun/June/Sunday/2024/7/2024-06-02-hello-world-x/posts/"
        );
        assert_eq!(url("/:path/"), "/2024-06-02-Hello_World%20x/");
        assert_eq!(url("/:title2/"), "/Hello_World-x2/");
        assert_eq!(url("/:title_/"), "/Hello_World-x_/");
        assert_eq!(unknown_placeholder("/:title_/:title2/"), None);
        assert_eq!(unknown_placeholder("/:title_x/"), Some(":title_x".into()));
        assert_eq!(unknown_placeholder("/:foo/"), Some(":foo".into()));
        assert_eq!(unknown_placeholder("/:_/"), Some(":_".into()));
        assert_eq!(unknown_placeholder("/a:1/:Title/"), None);
        assert_eq!(unknown_placeholder("weekdate"), None);
    }
}
