//! `images = "download"`: an article's images kept in the archive.
//!
//! Each image is fetched through the run's fetcher as a URL found in a feed (so the network
//! guard applies), must say it is a raster image (`image/*`, SVG refused: it can carry script)
//! and fit the size cap, and is saved once per content as `assets/images/<sha256>.<ext>`. The
//! post's `<img>` then points at the local copy and keeps the original URL in `data-origin`.
//! An image that fails stays a remote link, and later runs try again (a bounded number of
//! times). The URL → file map is in the store, so `reprocess` puts local copies back.

use std::collections::HashMap;
use std::path::Path;

use lol_html::{RewriteStrSettings, element, rewrite_str};
use ring::digest::{SHA256, digest};

/// Folder of downloaded images, under the archive.
pub const IMAGES_DIR: &str = "assets/images";
/// Failed rounds after which an article keeps its remaining images remote.
pub const MAX_TRIES: i64 = 3;
/// Articles whose images are fetched per source and run at most.
pub const PER_RUN: usize = 200;

/// The http(s) image URLs of `html` not yet local, in order, without repeats.
pub fn remote_images(html: &str) -> Vec<String> {
    let mut found = Vec::new();
    let _ = rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(element!("img[src]", |el| {
            if el.get_attribute("data-origin").is_none()
                && let Some(src) = el.get_attribute("src")
                && (src.starts_with("http://") || src.starts_with("https://"))
                && !found.contains(&src)
            {
                found.push(src);
            }
            Ok(())
        })),
    );
    found
}

/// Points each `<img>` whose `src` has a local copy in `local` at it, keeping the original in
/// `data-origin`.
pub fn localize(html: &str, local: &HashMap<String, String>) -> String {
    if local.is_empty() {
        return html.to_string();
    }
    rewrite_str(
        html,
        RewriteStrSettings::new().append_element_content_handler(element!("img[src]", |el| {
            if let Some(src) = el.get_attribute("src")
                && let Some(file) = local.get(&src)
            {
                el.set_attribute("src", &format!("/{file}"))?;
                el.set_attribute("data-origin", &src)?;
            }
            Ok(())
        })),
    )
    .unwrap_or_else(|_| html.to_string())
}

/// The file extension for an image content type; `None` for what is not kept.
pub fn extension_for(content_type: Option<&str>) -> Option<&'static str> {
    let kind = content_type?.split(';').next()?.trim().to_ascii_lowercase();
    Some(match kind.as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "jpg",
        "image/png" => "png",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/avif" => "avif",
        "image/bmp" => "bmp",
        _ => return None,
    })
}

/// Saves image bytes under the archive (once per content); returns the path relative to the
/// archive, e.g. `assets/images/<sha256>.jpg`.
pub fn save(archive: &Path, bytes: &[u8], extension: &str) -> std::io::Result<String> {
    let name = format!("{}.{extension}", hex::encode(digest(&SHA256, bytes)));
    let folder = archive.join(IMAGES_DIR);
    std::fs::create_dir_all(&folder)?;
    let path = folder.join(&name);
    if !path.exists() {
        crate::publish::write_atomically(&path, bytes)?;
    }
    Ok(format!("{IMAGES_DIR}/{name}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_images_are_found_and_localized() {
        let html = r#"<p><img src="https://e.com/a.jpg"><img src="https://e.com/a.jpg"><img src="/rel.png"><img src="https://e.com/b.png" data-origin="x"></p>"#;
        assert_eq!(remote_images(html), vec!["https://e.com/a.jpg"]);
        let map = HashMap::from([(
            "https://e.com/a.jpg".to_string(),
            "assets/images/ab.jpg".to_string(),
        )]);
        let out = localize(html, &map);
        assert!(
            out.starts_with(
                r#"<p><img src="/assets/images/ab.jpg" data-origin="https://e.com/a.jpg">"#
            ),
            "{out}"
        );
        assert_eq!(extension_for(Some("image/svg+xml")), None);
        assert_eq!(extension_for(Some("image/JPEG; q=1")), Some("jpg"));
    }
}
