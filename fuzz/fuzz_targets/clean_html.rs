//! Fuzz target: any text as article HTML through cleaning and sanitising. Must never panic, and
//! the output must hold no `<script`.
#![no_main]
use libfuzzer_sys::fuzz_target;
use newsvault::content::clean::{CleanRules, clean_html, sanitise};

fuzz_target!(|data: &[u8]| {
    let Ok(html) = std::str::from_utf8(data) else { return };
    let base = url::Url::parse("https://news.example/a/b").ok();
    let out = clean_html(html, base.as_ref(), &CleanRules::default());
    assert!(!out.to_ascii_lowercase().contains("<script"), "{out}");
    let out = sanitise(html, None, true);
    assert!(!out.to_ascii_lowercase().contains("<script"), "{out}");
});
