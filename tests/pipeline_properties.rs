//! The whole pipeline on arbitrary item fields: no panic, every post parses back with its title,
//! every file stays in the archive, and the store stays consistent.

use std::path::Path;

use newsvault::clock::Clock;
use newsvault::config::Config;
use newsvault::content::clean_title;
use newsvault::import::parse_post;
use newsvault::run::run;
use newsvault::store::Store;
use proptest::prelude::*;

/// Text for item fields: any characters, weighted towards markup, quotes, paths and controls.
fn field() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "<", ">", "&", "\"", "'", "\\", "/", "../", "\n", "\u{0}", "\u{7}", "{{", "{%", ":", "#",
        "]]>", "<script>", "<p>", "</div>", "&amp;", "&#0;", "标题", "😀", "\u{202e}", " ",
    ]);
    prop::collection::vec(
        prop_oneof![2 => any::<char>().prop_map(|c| c.to_string()), 1 => tricky.prop_map(str::to_string)],
        0..60,
    )
    .prop_map(|parts| parts.concat())
}

/// XML-escaped text (control characters XML forbids dropped), so the feed itself is well formed
/// and the oddities reach newsvault's own code.
fn xml(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[derive(Debug, Clone)]
struct Item {
    title: String,
    link: String,
    guid: Option<String>,
    content: String,
    date: Option<String>,
}

fn item() -> impl Strategy<Value = Item> {
    let date = prop::option::of(prop_oneof![
        Just("Sat, 03 Apr 2021 10:00:00 GMT".to_string()),
        Just("Sun, 01 Jan 2090 00:00:00 +0800".to_string()),
        Just("not a date".to_string()),
        field(),
    ]);
    (
        field(),
        prop_oneof![field(), Just("https://e.com/a?b=1".to_string())],
        prop::option::of(field()),
        field(),
        date,
    )
        .prop_map(|(title, link, guid, content, date)| Item {
            title,
            link,
            guid,
            content,
            date,
        })
}

fn feed(items: &[Item]) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel><title>t</title><link>https://home.example/</link>\n",
    );
    for item in items {
        out.push_str(&format!(
            "<item><title>{}</title><link>{}</link>",
            xml(&item.title),
            xml(&item.link)
        ));
        if let Some(guid) = &item.guid {
            out.push_str(&format!("<guid>{}</guid>", xml(guid)));
        }
        if let Some(date) = &item.date {
            out.push_str(&format!("<pubDate>{}</pubDate>", xml(date)));
        }
        out.push_str(&format!(
            "<description>{}</description></item>\n",
            xml(&item.content)
        ));
    }
    out.push_str("</channel></rss>\n");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn arbitrary_items_keep_the_archive_sound(items in prop::collection::vec(item(), 1..8), clean in any::<bool>()) {
        let dir = tempfile::tempdir().unwrap();
        let feed_path = dir.path().join("feed.xml");
        std::fs::write(&feed_path, feed(&items)).unwrap();
        let mode = if clean { "clean" } else { "verbatim" };
        let text = format!(
            "archive = \"archive\"\n[[source]]\nname = \"S\"\ncontent = \"{mode}\"\nfeeds = [\"file://{}\"]\n",
            feed_path.display()
        );
        let config = Config::parse(&text, Path::new("t.toml"), dir.path()).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let at = Clock::Fixed(chrono::DateTime::parse_from_rfc3339("2024-06-01T00:00:00Z").unwrap().to_utc());
        let summary = runtime.block_on(run(&config, at)).unwrap();
        prop_assert_eq!(summary.failed_feeds(), 0);
        // A second run changes nothing.
        let again = runtime.block_on(run(&config, at)).unwrap();
        prop_assert_eq!(again.publish.posts_written, 0);

        let posts = dir.path().join("archive/_posts");
        let store = Store::open(&config.store_path()).unwrap();
        prop_assert_eq!(store.integrity_check().unwrap(), vec!["ok".to_string()]);
        let names: Vec<String> = std::fs::read_dir(&posts).unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        prop_assert_eq!(names.len() as i64, store.article_count().unwrap());
        // The parser may trim a title's ends; what is left must come back exactly.
        let titles: Vec<String> = items
            .iter()
            .map(|i| clean_title(&xml_roundtrip(&i.title)).trim().to_string())
            .collect();
        for name in &names {
            let path = posts.join(name);
            prop_assert_eq!(path.parent(), Some(posts.as_path()));
            let text = std::fs::read_to_string(&path).unwrap();
            let post = parse_post(name, &text).map_err(TestCaseError::fail)?;
            let title = post.title.trim().to_string();
            prop_assert!(titles.contains(&title), "title {:?} not among {:?}", title, titles);
        }
    }
}

/// What the title is after the XML round trip of `xml()` (forbidden controls dropped).
fn xml_roundtrip(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || matches!(c, '\n' | '\t'))
        .collect()
}
