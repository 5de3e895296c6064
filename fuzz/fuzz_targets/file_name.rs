//! Fuzz target: file names made from any title fit in 255 bytes and stay in `_posts/`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use newsvault::publish::jekyll::{MAX_NAME_BYTES, is_plain_file_name, post_names};

fuzz_target!(|data: &[u8]| {
    let Ok(title) = std::str::from_utf8(data) else { return };
    let names = post_names(1_617_525_953_966, title, title);
    for name in std::iter::once(&names.plain).chain(&names.hashed) {
        assert!(name.len() <= MAX_NAME_BYTES);
        assert!(is_plain_file_name(name), "{name:?}");
    }
});
