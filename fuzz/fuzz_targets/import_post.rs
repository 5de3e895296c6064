//! Fuzz target: any text as a post file of the original format. Must never panic; what parses
//! must put the file back together from its parts.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(post) = newsvault::import::parse_post("2021-04-04-x.md", text) {
        assert_eq!(format!("{}{}{}", post.head, post.body, post.tail), text);
    }
});
