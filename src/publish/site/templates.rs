//! The site's templates and assets: the built-in ones, embedded from `templates/`, and a
//! folder's files that replace them by name; their fingerprint (with the site's title, which
//! every page shows) renders every page again when one of them changes.

use std::borrow::Cow;
use std::path::Path;

use minijinja::Environment;
use ring::digest::{Context, SHA256};

use super::pages::{escape, without_forbidden_chars};
use super::{FORMAT, SiteError};

/// The built-in templates, by name.
pub const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../../templates/base.html")),
    (
        "macros.html",
        include_str!("../../../templates/macros.html"),
    ),
    ("home.html", include_str!("../../../templates/home.html")),
    ("list.html", include_str!("../../../templates/list.html")),
    (
        "source.html",
        include_str!("../../../templates/source.html"),
    ),
    (
        "sources.html",
        include_str!("../../../templates/sources.html"),
    ),
    ("days.html", include_str!("../../../templates/days.html")),
    (
        "article.html",
        include_str!("../../../templates/article.html"),
    ),
    (
        "search.html",
        include_str!("../../../templates/search.html"),
    ),
    ("feed.xml", include_str!("../../../templates/feed.xml")),
];

/// The built-in static files, copied as they are.
pub const ASSETS: &[(&str, &str)] = &[
    (
        "assets/site.css",
        include_str!("../../../templates/assets/site.css"),
    ),
    (
        "assets/site.js",
        include_str!("../../../templates/assets/site.js"),
    ),
];

/// The template environment: built-in templates, replaced by those of `dir` of the same name.
pub(super) fn environment(dir: Option<&Path>) -> Result<Environment<'static>, SiteError> {
    let mut env = Environment::new();
    // minijinja's HTML escaping also escapes `/`, which makes every URL unreadable in the source;
    // the five characters of [`escape`] are what HTML needs.
    // Characters XML 1.0 forbids (C0 controls, U+FFFE, U+FFFF: `&#1;` in an article) are left
    // out of every text written, escaped or safe (sanitised content, diffs), so `feed.xml` stays
    // well-formed and the pages carry none.
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Html)
            && let Some(text) = value.as_str()
        {
            let text = without_forbidden_chars(text);
            let text = if value.is_safe() {
                text
            } else {
                Cow::Owned(escape(&text).into_owned())
            };
            return out
                .write_str(&text)
                .map_err(|_| minijinja::Error::from(minijinja::ErrorKind::WriteFailure));
        }
        minijinja::escape_formatter(out, state, value)
    });
    let dir = dir.map(Path::to_path_buf);
    env.set_loader(move |name| {
        if name.contains("..") || name.starts_with('/') {
            return Ok(None);
        }
        if let Some(dir) = &dir {
            let path = dir.join(name);
            if path.is_file() {
                return std::fs::read_to_string(&path).map(Some).map_err(|e| {
                    minijinja::Error::new(
                        minijinja::ErrorKind::InvalidOperation,
                        format!("cannot read {}: {e}", path.display()),
                    )
                });
            }
        }
        Ok(TEMPLATES
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, text)| text.to_string()))
    });
    // Parse every template now, so a broken user template fails the build before any write.
    for (name, _) in TEMPLATES {
        env.get_template(name).map_err(template_error(name))?;
    }
    Ok(env)
}

/// What every page is made with: the templates and assets, [`FORMAT`], this version and the
/// site's `title` (on every page), hashed.
pub(super) fn templates_fingerprint(dir: Option<&Path>, title: &str) -> Result<String, SiteError> {
    let mut hash = Context::new(&SHA256);
    hash.update(format!("{FORMAT}\n{}\n", env!("CARGO_PKG_VERSION")).as_bytes());
    hash.update(&(title.len() as u64).to_le_bytes());
    hash.update(title.as_bytes());
    for (name, builtin) in TEMPLATES.iter().chain(ASSETS) {
        hash.update(name.as_bytes());
        match dir.map(|d| d.join(name)).filter(|p| p.is_file()) {
            Some(path) => {
                let bytes = std::fs::read(&path)
                    .map_err(|cause| SiteError::ReadTemplate { path, cause })?;
                hash.update(&bytes);
            }
            None => hash.update(builtin.as_bytes()),
        }
    }
    Ok(hex::encode(&hash.finish().as_ref()[..12]))
}

pub(super) fn template_error(name: &str) -> impl Fn(minijinja::Error) -> SiteError + '_ {
    move |cause| SiteError::Template {
        name: name.to_string(),
        cause,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_parses() {
        environment(None).unwrap();
    }

    #[test]
    fn rendered_text_carries_no_character_xml_forbids() {
        let env = environment(None).unwrap();
        let xml = env
            .render_named_str(
                "t.xml",
                "<t>{{ text }}</t>{{ safe }}",
                minijinja::context! {
                    text => "a\u{1}<b>\u{FFFF}\t\n",
                    safe => minijinja::Value::from_safe_string("<p>\u{0}c\u{1F}</p>".into()),
                },
            )
            .unwrap();
        assert_eq!(xml, "<t>a&lt;b&gt;\t\n</t><p>c</p>");
    }

    #[test]
    fn the_site_title_is_in_the_fingerprint() {
        let one = templates_fingerprint(None, "存档").unwrap();
        assert_eq!(one, templates_fingerprint(None, "存档").unwrap());
        assert_ne!(one, templates_fingerprint(None, "新的存档").unwrap());
    }
}
