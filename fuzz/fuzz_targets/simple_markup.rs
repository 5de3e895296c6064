//! Fuzz target: the sanitiser's fast path against ammonia. Whenever the fast path gives an
//! answer, with or without a base URL, it must be ammonia's output byte for byte.
#![no_main]
use ammonia::UrlRelative;
use libfuzzer_sys::fuzz_target;
use newsvault::content::clean::allow_list;
use newsvault::content::simple_markup::{Policy, sanitise};

fuzz_target!(|data: &[u8]| {
    let Ok(html) = std::str::from_utf8(data) else { return };
    thread_local! {
        static POLICY: Policy = Policy::of(&allow_list(false));
    }
    let base = url::Url::parse("https://news.example/a/b?c=d").ok();
    for base in [None, base.as_ref()] {
        let Some(fast) = POLICY.with(|policy| sanitise(html, base, policy)) else { continue };
        let mut builder = allow_list(false);
        match base {
            Some(base) => builder.url_relative(UrlRelative::RewriteWithBase(base.clone())),
            None => builder.url_relative(UrlRelative::PassThrough),
        };
        assert_eq!(fast, builder.clean(html).to_string(), "input: {html:?}");
    }
});
