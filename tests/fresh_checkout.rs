//! A CI machine is new every run (issue 7): the archive repository is checked out without the
//! store, which lives in `.newsvault/` and is never committed. `deploy/README.md` chooses to
//! restore the store from the CI cache and, when the cache is gone, to rebuild it from the
//! committed posts with `newsvault import jekyll`. These tests check the fallback, the hard case:
//! a checkout holding only what git publishing commits (`_posts/`, `lists/`, `search.json`)
//! carries on with no duplicate and no rewritten post, a `clean` source's too.

mod common;

use std::path::Path;

use common::{FeedServer, TempArchive, rss};

const NOW: &str = "2021-04-04T08:45:53Z";
const LATER: &str = "2021-04-04T09:45:53Z";

/// What `[publish.git]` commits, and so all that a fresh checkout has.
const COMMITTED: [&str; 3] = ["_posts", "lists", "search.json"];

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// A second archive with the same config, holding only the committed outputs of `archive`.
fn fresh_checkout(archive: &TempArchive) -> TempArchive {
    let fresh = TempArchive::new(&[], "");
    std::fs::copy(&archive.config, &fresh.config).unwrap();
    for name in COMMITTED {
        copy_tree(&archive.archive().join(name), &fresh.archive().join(name));
    }
    assert!(!fresh.archive().join(".newsvault").exists());
    fresh
}

fn items(range: std::ops::RangeInclusive<usize>, prefix: &str) -> String {
    let items: Vec<(String, String, String)> = range
        .map(|i| {
            (
                format!("https://{prefix}.example.com/news/{i}"),
                format!("{prefix} 第{i}条：同一天的标题"),
                format!("<p>正文 {i}</p>"),
            )
        })
        .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    rss(&items)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_checkout_rebuilt_from_posts_carries_on_without_duplicates() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(1..=5, "a"));
    server.set("/b.xml", items(1..=3, "b"));
    let original = TempArchive::new(
        &[
            ("甲报", vec![server.url("/a.xml")]),
            ("乙报", vec![server.url("/b.xml")]),
        ],
        "",
    );
    let (code, out, err) = original.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(original.post_names().len(), 8);

    // The next CI run: a new machine, the repository checked out, no cache.
    let fresh = fresh_checkout(&original);
    let before = fresh.snapshot();
    let posts = fresh.posts();
    let (code, out, err) = fresh.cli(&["import", "jekyll", posts.to_str().unwrap()], Some(LATER));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("8 imported, 0 duplicate, 0 skipped"), "{out}");

    // The same feeds again: nothing new, not one committed file touched.
    let (code, out, err) = fresh.cli(&["run"], Some(LATER));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("甲报: 0 new, 0 changed, 5 already archived"),
        "{out}"
    );
    assert!(
        out.contains("乙报: 0 new, 0 changed, 3 already archived"),
        "{out}"
    );
    assert!(out.contains("0 post(s) written"), "{out}");
    let after = fresh.snapshot();
    let strip = |files: Vec<(std::path::PathBuf, Vec<u8>, std::time::SystemTime)>, root: &Path| {
        files
            .into_iter()
            .map(|(path, bytes, _)| (path.strip_prefix(root).unwrap().to_path_buf(), bytes))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(after, &fresh.archive()),
        strip(before, &fresh.archive()),
        "a committed file changed"
    );

    // New items later: both archives write the same new posts under the same names.
    server.set("/a.xml", items(1..=7, "a"));
    for archive in [&original, &fresh] {
        let (code, out, err) = archive.cli(&["run"], Some(LATER));
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("甲报: 2 new"), "{out}");
    }
    assert_eq!(fresh.post_names(), original.post_names());
    assert_eq!(fresh.post_names().len(), 10);
    for name in fresh.post_names() {
        assert_eq!(
            std::fs::read(fresh.posts().join(&name)).unwrap(),
            std::fs::read(original.posts().join(&name)).unwrap(),
            "{name}"
        );
    }
}

/// The cached store, the usual case: restored beside the checkout, the run goes on as on the
/// machine before.
#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_checkout_with_the_cached_store_carries_on_without_duplicates() {
    let server = FeedServer::start().await;
    server.set("/a.xml", items(1..=4, "a"));
    let original = TempArchive::new(&[("甲报", vec![server.url("/a.xml")])], "");
    let (code, out, err) = original.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{out}{err}");

    let fresh = fresh_checkout(&original);
    // What the workflow caches: a consistent copy made by `newsvault backup`.
    let cached = original.dir.path().join("cache.sqlite");
    let (code, out, err) = original.cli(&["backup", cached.to_str().unwrap()], Some(NOW));
    assert_eq!(code, 0, "{out}{err}");
    let store = fresh.archive().join(".newsvault/store.sqlite");
    std::fs::create_dir_all(store.parent().unwrap()).unwrap();
    std::fs::copy(&cached, &store).unwrap();

    server.set("/a.xml", items(1..=5, "a"));
    let (code, out, err) = fresh.cli(&["run"], Some(LATER));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("甲报: 1 new, 0 changed, 4 already archived"),
        "{out}"
    );
    assert_eq!(fresh.post_names().len(), 5);
}

/// A `clean` source's posts hold the cleaned body, not the feed's content (here the white space
/// between paragraphs goes): rebuilt from them, the store knows each article by a version of that
/// body, and the feed's item, seen again, is the same version, not an edit. No `updated:`, no
/// second version, no post rewritten.
#[tokio::test(flavor = "multi_thread")]
async fn a_clean_sources_posts_rebuilt_are_not_edited_by_the_same_items() {
    let server = FeedServer::start().await;
    let items: Vec<(String, String, String)> = (1..=3)
        .map(|i| {
            (
                format!("https://c.example.com/news/{i}"),
                format!("第{i}条"),
                format!("<p>正文 {i}</p>\n  <p>第二段</p> <script>x()</script>"),
            )
        })
        .collect();
    let items: Vec<(&str, &str, &str)> = items
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    server.set("/c.xml", rss(&items));
    let original = TempArchive::new(&[], "");
    std::fs::write(
        &original.config,
        format!(
            "archive = \"archive\"\n[[source]]\nname = \"丙报\"\nfeeds = [{:?}]\ncontent = \"clean\"\n",
            server.url("/c.xml")
        ),
    )
    .unwrap();
    let (code, out, err) = original.cli(&["run"], Some(NOW));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(original.post_names().len(), 3);

    let fresh = fresh_checkout(&original);
    let posts = fresh.posts();
    let (code, out, err) = fresh.cli(&["import", "jekyll", posts.to_str().unwrap()], Some(LATER));
    assert_eq!(code, 0, "{out}{err}");
    let before = fresh.snapshot();
    let (code, out, err) = fresh.cli(&["run"], Some(LATER));
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("丙报: 0 new, 0 changed, 3 already archived"),
        "{out}"
    );
    assert_eq!(fresh.snapshot(), before, "a post was rewritten");
    let (_, history, _) = fresh.cli(&["history", "1"], None);
    assert!(!history.contains("changed"), "{history}");
}
