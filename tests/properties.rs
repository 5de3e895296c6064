//! Properties of the post format for arbitrary titles: the front matter always parses as YAML
//! and gives the title back, and the file name always fits and stays in `_posts/`.

use newsvault::content::clean_title;
use newsvault::publish::jekyll::{MAX_NAME_BYTES, post_names, render_post};
use newsvault::store::PostRecord;
use proptest::prelude::*;
use yaml_rust2::YamlLoader;

/// Titles of any Unicode, weighted towards what breaks YAML and file names.
fn title() -> impl Strategy<Value = String> {
    let tricky = prop::sample::select(vec![
        "\"", "\\", "\n", "\r\n", "\t", ":", ": ", "#", " #", "[", "]", "{", "}", "&", "*", "!",
        "|", ">", "'", "%", "@", "`", "/", "..", "-", "---", "\u{0}", "\u{7f}", "\u{85}",
        "\u{2028}", "\u{feff}", "\u{fffe}", "😀", "标题", "　", "{{", "{%",
    ]);
    let piece = prop_oneof![
        3 => any::<char>().prop_map(|c| c.to_string()),
        2 => tricky.prop_map(str::to_string),
        1 => "[a-z ]{1,5}",
    ];
    // 1 to 2,000 characters, as the format promises to keep whole.
    prop::collection::vec(piece, 1..2000)
        .prop_map(|pieces| pieces.concat().chars().take(2_000).collect())
}

fn post(title: &str, author: &str, link: &str) -> PostRecord {
    PostRecord {
        id: 1,
        post_name: "x.md".into(),
        title: clean_title(title),
        link: link.into(),
        published_ms: Some(1_617_572_220_000),
        date_ms: 1_617_525_953_966,
        author: author.into(),
        tags: vec![author.into(), "a, b".into()],
        categories: vec![author.into()],
        body: "<p>x</p>".into(),
        versions: 1,
        updated_ms: None,
        gone_ms: None,
        imported: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn front_matter_parses_and_keeps_the_title(title in title(), author in "\\PC{1,20}") {
        let text = render_post(&post(&title, &author, "https://e.com/a?b=1#c"));
        let front = text
            .strip_prefix("---\n")
            .and_then(|rest| rest.split_once("\n---\n"))
            .map(|(front, _)| front)
            .expect("front matter delimited");
        let docs = YamlLoader::load_from_str(front).map_err(|e| TestCaseError::fail(format!("{e}\n{front}")))?;
        let doc = &docs[0];
        let expected = clean_title(&title);
        prop_assert_eq!(doc["title"].as_str(), Some(expected.as_str()));
        prop_assert_eq!(doc["author"].as_str(), Some(author.as_str()));
        prop_assert_eq!(doc["tags"][1].as_str(), Some("a, b"));
        prop_assert_eq!(doc["from"].as_str(), Some("https://e.com/a?b=1#c"));
        // The title only loses control characters (tabs and line breaks become spaces).
        let visible = |s: &str| s.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect::<String>();
        prop_assert_eq!(visible(doc["title"].as_str().unwrap()), visible(&title));
    }

    #[test]
    fn file_names_fit_and_stay_in_posts(title in title(), identity in "\\PC{0,40}") {
        for name in post_names(1_617_525_953_966, &clean_title(&title), identity) {
            prop_assert!(name.len() <= MAX_NAME_BYTES, "{} bytes", name.len());
            prop_assert!(name.starts_with("2021-04-04-") && name.ends_with(".md"));
            prop_assert!(!name.contains('/') && !name.contains('\0'));
            let path = std::path::Path::new("_posts").join(&name);
            prop_assert_eq!(path.parent(), Some(std::path::Path::new("_posts")));
            prop_assert_eq!(path.components().count(), 2);
        }
    }
}
