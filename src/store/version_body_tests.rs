//! Tests of how versions keep their text: a verbatim version as its body and shape, an imported
//! body stored once, hashes of before BLAKE3 known again, links that move an article — over
//! ingest, import, export and the migrations that brought each in.

use super::tests::store_at_version;
use super::*;

fn article(raw_content: &str, body: &str) -> Article {
    Article {
        key: format!("url:https://e.com/{raw_content}"),
        guid: None,
        link: format!("https://e.com/{raw_content}"),
        link_from_item: true,
        earlier_keys: vec![],
        title: "T".into(),
        published: None,
        authors: vec![],
        categories: vec![],
        raw_content: raw_content.into(),
        raw_shape: None,
        body: body.into(),
        version_hash: format!("h-{raw_content}"),
    }
}

/// Stores written before version hashes were BLAKE3 hold SHA-256 ones. An article seen
/// again as it was is unchanged (and its hash brought up to date); one that goes back to a
/// text it had adds no version.
#[test]
fn versions_hashed_before_blake3_are_known_again() {
    use crate::content::{join_lines, legacy_version_hash, version_hash};
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let source = test_source(&store);
    let text = |raw: &str, legacy: bool| {
        let mut article = Article {
            key: "guid:g-1".into(),
            ..article(raw, raw)
        };
        let hash = if legacy {
            legacy_version_hash
        } else {
            version_hash
        };
        article.version_hash = hash(&article.title, &join_lines(raw));
        article
    };
    let ingest = |article: &Article, at: i64| {
        store
            .ingest(&source, article, "", ["a.md".to_string()], &|_| false, at)
            .unwrap()
    };
    let stored = |id: i64| -> (String, i64) {
        store
            .conn
            .query_row(
                "SELECT version_hash, versions FROM article WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap()
    };
    let hashes = |id: i64| -> Vec<String> {
        store
            .versions(id)
            .unwrap()
            .into_iter()
            .map(|v| v.hash)
            .collect()
    };

    // What a store of before held: text A, then B, hashed with SHA-256.
    let id = ingest(&text("<p>A</p>\n", true), 1).id;
    assert_eq!(
        ingest(&text("<p>B</p>\n", true), 2).outcome,
        Ingest::Changed
    );

    let b = text("<p>B</p>\n", false);
    assert_eq!(ingest(&b, 3).outcome, Ingest::Unchanged);
    assert_eq!(stored(id), (b.version_hash.clone(), 2));
    let a_then = text("<p>A</p>\n", true).version_hash;
    assert_eq!(hashes(id), [a_then, b.version_hash.clone()]);
    assert_eq!(store.versions(id).unwrap()[1].last_seen_ms, 3);

    let a = text("<p>A</p>\n", false);
    assert_eq!(ingest(&a, 4).outcome, Ingest::Changed);
    assert_eq!(stored(id), (a.version_hash.clone(), 2));
    assert_eq!(hashes(id), [a.version_hash.clone(), b.version_hash.clone()]);
    assert_eq!(ingest(&a, 5).outcome, Ingest::Unchanged);
    assert_eq!(ingest(&b, 6).outcome, Ingest::Changed);
    assert_eq!(stored(id).1, 2);
}

/// An item that stops giving a link of its own shows the feed's link, which is no address
/// of the article: it moves nothing. One that gives a link again, to another page, moves it.
#[test]
fn only_a_link_of_the_items_own_moves_an_article() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let source = test_source(&store);
    let names = || ["a.md".to_string()];
    let first = Article {
        key: "guid:g-1".into(),
        ..article("a", "<p>a</p>")
    };
    let ingest = |article: &Article, at: i64| {
        store
            .ingest(&source, article, "", names(), &|_| false, at)
            .unwrap()
    };
    let id = ingest(&first, 1).id;
    let lent = Article {
        link: "https://e.com/".into(),
        link_from_item: false,
        earlier_keys: vec![],
        ..first.clone()
    };
    assert!(!ingest(&lent, 2).moved);
    let moved = Article {
        link: "https://e.com/b".into(),
        ..first.clone()
    };
    let again = ingest(&moved, 3);
    assert_eq!((again.outcome, again.moved), (Ingest::Unchanged, true));
    let events: Vec<(String, Option<String>)> = store
        .events(id)
        .unwrap()
        .into_iter()
        .map(|(kind, _, detail)| (kind, detail))
        .collect();
    assert_eq!(
        events,
        [
            ("first_seen".to_string(), None),
            (
                "moved".to_string(),
                Some("https://e.com/a -> https://e.com/b".to_string())
            ),
        ]
    );
}

/// Every version's content as `export jsonl` gives it, in its order.
fn exported_contents(store: &Store) -> Vec<String> {
    let mut all = vec![];
    store
        .for_each_version(|row| {
            all.push(row.content.clone());
            Ok(())
        })
        .unwrap()
        .unwrap();
    all
}

fn import(store: &Store, article: &Article, name: &str) -> i64 {
    let source = test_source(store);
    let post = ImportedPost {
        name,
        name_key: name,
        author: "S",
        date_ms: 1,
        published_ms: None,
        summary: "",
        head: "",
        tail: "",
    };
    let outcome = store
        .importer()
        .unwrap()
        .import_post(&source, article, &post, &|_| false, 2)
        .unwrap();
    assert_eq!(outcome, ImportOutcome::Imported);
    store
        .conn
        .query_row("SELECT id FROM article WHERE post_name = ?1", [name], |r| {
            r.get(0)
        })
        .unwrap()
}

fn content(store: &Store, id: i64) -> String {
    store.versions(id).unwrap().remove(0).content
}

fn stored(store: &Store, id: i64) -> (String, i64) {
    store
        .conn
        .query_row(
            "SELECT content, content_is_body FROM version WHERE article_id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap()
}

/// A `verbatim` article's feed content is its body with white space and line breaks put
/// back: the store keeps the text once, with the shape, and gives every version back as the
/// feed sent it, through edits and changes of the body.
#[test]
fn a_verbatim_version_is_kept_as_its_body_and_shape() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let source = test_source(&store);
    let names = || ["v.md".to_string()];
    let sent = |raw: &str, hash: &str| {
        let (body, shape) = crate::content::lines::join_keeping_shape(raw);
        Article {
            key: "url:https://e.com/v".into(),
            link: "https://e.com/v".into(),
            link_from_item: true,
            earlier_keys: vec![],
            raw_shape: Some(shape),
            version_hash: hash.into(),
            ..article(raw, &body)
        }
    };
    let first = "<div>\n  <p>一</p>\n</div>\n";
    let edited = "<div>\n\t<p>一，改</p>\r\n</div>";
    let shapes = |id: i64| -> Vec<(String, i64, Option<String>)> {
        store
            .conn
            .prepare(
                "SELECT content, content_is_body, content_shape FROM version
                      WHERE article_id = ?1 ORDER BY id",
            )
            .unwrap()
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    };
    let contents = |id: i64| -> Vec<String> {
        store
            .versions(id)
            .unwrap()
            .into_iter()
            .map(|v| v.content)
            .collect()
    };
    let exported = || exported_contents(&store);
    let fetched = || {
        let mut all = vec![];
        store
            .for_each_fetched("s", |_, _, content, _| {
                all.push(content.to_string());
                Ok(())
            })
            .unwrap();
        all
    };

    let Ingested { outcome, id, .. } = store
        .ingest(&source, &sent(first, "h1"), "", names(), &|_| false, 1)
        .unwrap();
    assert_eq!(outcome, Ingest::New);
    let stored = shapes(id);
    assert_eq!(
        (stored[0].0.as_str(), stored[0].1),
        ("", 1),
        "the text twice"
    );
    assert!(stored[0].2.is_some());
    assert_eq!(contents(id), [first]);
    assert_eq!(exported(), [first]);
    assert_eq!(fetched(), [first]);

    let outcome = store
        .ingest(&source, &sent(edited, "h2"), "", names(), &|_| false, 2)
        .unwrap()
        .outcome;
    assert_eq!(outcome, Ingest::Changed);
    assert_eq!(contents(id), [first, edited]);
    assert_eq!(exported(), [first, edited]);
    assert_eq!(fetched(), [edited]);
    let stored = shapes(id);
    assert_eq!(stored[0].0, "<div><p>一</p></div>", "the first body, kept");
    assert_eq!((stored[1].0.as_str(), stored[1].1), ("", 1));

    // The title changes, and only the white space of the text: the body stays, so two
    // versions are that body at once, each with its own shape.
    let retitled = Article {
        title: "T2".into(),
        ..sent(&edited.replace('\t', "  "), "h3")
    };
    let outcome = store
        .ingest(&source, &retitled, "", names(), &|_| false, 3)
        .unwrap()
        .outcome;
    assert_eq!(outcome, Ingest::Changed);
    let respaced = retitled.raw_content.as_str();
    assert_eq!(contents(id), [first, edited, respaced]);
    let bodies = shapes(id)
        .iter()
        .filter(|(_, is_body, _)| *is_body == 1)
        .count();
    assert_eq!(bodies, 2);

    // The body changes under the current versions (rules re-applied), then the source goes
    // back to its first text.
    assert!(store.set_body(id, "<p>cleaned</p>", "c").unwrap());
    assert_eq!(contents(id), [first, edited, respaced]);
    let outcome = store
        .ingest(&source, &sent(first, "h1"), "", names(), &|_| false, 4)
        .unwrap()
        .outcome;
    assert_eq!(outcome, Ingest::Changed);
    assert_eq!(contents(id), [first, edited, respaced]);
    assert_eq!(fetched(), [first]);
    let versions: i64 = store
        .conn
        .query_row("SELECT versions FROM article WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(versions, 3);

    // A shape that does not fit its text (a store edited by hand) is an error, not a guess.
    store
        .conn
        .execute(
            "UPDATE version SET content_shape = '[1]' WHERE article_id = ?1",
            [id],
        )
        .unwrap();
    let error = store.versions(id).unwrap_err().to_string();
    assert!(error.contains("does not fit"), "{error}");
    assert!(error.contains(&format!("article {id}")), "{error}");
}

#[test]
fn a_version_4_store_upgrades_and_keeps_its_versions() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    store_at_version(
        &path,
        4,
        "INSERT INTO version (article_id, hash, title, content, first_seen_ms, last_seen_ms)
         VALUES (1, 'h', 'T', '<p>raw</p>', 1, 1);",
    );
    let store = Store::open(&path).unwrap();
    let version: i64 = store
        .conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SCHEMA_VERSION);
    assert_eq!(content(&store, 1), "<p>raw</p>");
    assert!(store.set_body(1, "<p>c</p>", "c").unwrap());
    assert_eq!(stored(&store, 1), ("<p>raw</p>".into(), 0));
}

#[test]
fn an_imported_body_is_stored_once_and_kept_when_the_body_changes() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let same = import(&store, &article("<p>a</p>", "<p>a</p>"), "a.md");
    assert_eq!(stored(&store, same), (String::new(), 1));
    assert_eq!(content(&store, same), "<p>a</p>");
    assert_eq!(exported_contents(&store), ["<p>a</p>"]);

    // The original's `null` before the body: the content differs, and is stored as is.
    let null = import(&store, &article(" <p>n</p>", "null <p>n</p>"), "n.md");
    assert_eq!(stored(&store, null), (" <p>n</p>".into(), 0));

    // Any writer changing the body (rules re-applied here) leaves the version its text.
    assert!(store.set_body(same, "<p>a, cleaned</p>", "a").unwrap());
    assert_eq!(stored(&store, same), ("<p>a</p>".into(), 0));
    assert_eq!(content(&store, same), "<p>a</p>");
    assert_eq!(stored(&store, null), (" <p>n</p>".into(), 0));

    // A feed brings an edited version of an imported post.
    let again = import(&store, &article("<p>e</p>", "<p>e</p>"), "e.md");
    let mut edited = article("<p>e</p>", "<p>e, edited</p>");
    edited.raw_content = "<p>e, edited</p>".into();
    edited.version_hash = "h-edited".into();
    let source = test_source(&store);
    let names = || ["e.md".to_string()];
    let Ingested { outcome, id, .. } = store
        .ingest(&source, &edited, "", names(), &|_| false, 3)
        .unwrap();
    assert_eq!((outcome, id), (Ingest::Changed, again));
    let versions: Vec<String> = store
        .versions(again)
        .unwrap()
        .into_iter()
        .map(|v| v.content)
        .collect();
    assert_eq!(versions, ["<p>e</p>", "<p>e, edited</p>"]);
}

/// `reprocess` brings a summary made by newer rules (search.json's `desc`) to an article whose
/// body stays the same; the same body and summary change nothing.
#[test]
fn a_new_summary_of_the_same_body_is_set() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store.sqlite")).unwrap();
    let id = import(
        &store,
        &article("<p>a</p>", "<p>a&nbsp;&nbsp;b</p>"),
        "a.md",
    );
    assert!(store.set_body(id, "<p>a&nbsp;&nbsp;b</p>", "a b").unwrap());
    let summary: String = store
        .conn
        .query_row("SELECT summary FROM article WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(summary, "a b");
    assert!(!store.set_body(id, "<p>a&nbsp;&nbsp;b</p>", "a b").unwrap());
}
