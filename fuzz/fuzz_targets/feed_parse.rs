//! Fuzz target: any bytes as a feed, with and without a charset label. Must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = newsvault::feed::parse_feed(data, None);
    let _ = newsvault::feed::parse_feed(data, Some("text/xml; charset=gbk"));
});
