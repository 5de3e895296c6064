//! Fuzz target: a post rendered with any title and link is read back by the importer with the
//! same title and link.
#![no_main]
use libfuzzer_sys::fuzz_target;
use newsvault::content::clean_title;
use newsvault::import::parse_post;
use newsvault::publish::jekyll::render_post;
use newsvault::store::PostRecord;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (title, link) = text.split_once('\u{1}').unwrap_or((text, "https://e.com/a"));
    let title = clean_title(title);
    let link: String = link.chars().filter(|c| !c.is_control() && !c.is_whitespace()).collect();
    let post = PostRecord {
        id: 1,
        post_name: "2021-04-04-x.md".into(),
        title: title.clone(),
        link: link.clone(),
        published_ms: Some(0),
        date_ms: 0,
        author: "S".into(),
        tags: vec!["S".into()],
        categories: vec!["S".into()],
        body: "<p>x</p>".into(),
        versions: 1,
        updated_ms: None,
        gone_ms: None,
        imported: None,
    };
    let rendered = render_post(&post);
    let back = parse_post("2021-04-04-x.md", &rendered).expect("a rendered post reads back");
    assert_eq!(back.title.trim(), title.trim());
    if !link.is_empty() {
        assert_eq!(back.link, link);
    }
    assert_eq!(back.body, "<p>x</p>");
});
