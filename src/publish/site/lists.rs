//! The pages that list articles: the home page, the sources, each source's months and each
//! day, numbered from the oldest so that a new article rewrites only the newest page of its
//! day and month; and the Atom feed of the latest articles (an article's own link in it only
//! when the site may show it).

use std::collections::{BTreeMap, HashSet};
use std::path::Path;

use minijinja::{Environment, Value, context};
use ring::digest::{Context, SHA256, digest};
use serde::Serialize;

use crate::publish::dates::iso;
use crate::publish::shown_title;

use super::files::Writer;
use super::pages::shown_link;
use super::templates::template_error;
use super::{HOME_DAYS, Item, LATEST, PAGE_SIZE, SiteError, SiteOptions, Slugs, val};

#[derive(Debug, Clone, Serialize)]
struct PageLink {
    n: usize,
    url: String,
    current: bool,
}

/// A list page that [`plan_list_pages`] found changed, rendered by [`render_list_pages`].
struct ListPage<'i> {
    name: String,
    root: String,
    heading: String,
    crumbs: Value,
    count: Option<usize>,
    page: usize,
    links: Vec<PageLink>,
    items: Vec<&'i Item>,
    show_source: bool,
}

/// Plans a list split into pages of [`PAGE_SIZE`]: `<stem>.html`, `<stem>-p1.html`, …; the
/// pages whose inputs changed since the last build go to `changed`.
fn plan_list_pages<'i>(
    writer: &mut Writer,
    changed: &mut Vec<ListPage<'i>>,
    stem: &str,
    heading: &str,
    crumbs: Value,
    items: &[&'i Item],
    show_source: bool,
) {
    // Pages are numbered from the oldest, so a new article changes the newest page (the list's
    // own name) and leaves the older ones alone, until the page count grows.
    let pages = items.len().div_ceil(PAGE_SIZE).max(1);
    let name = |k: usize| {
        if k == pages {
            format!("{stem}.html")
        } else {
            format!("{stem}-p{k}.html")
        }
    };
    let depth = stem.matches('/').count();
    for page in 1..=pages {
        // `items` is newest first; page k holds the k-th hundred from the oldest end.
        let end = items.len() - (page - 1) * PAGE_SIZE;
        let start = end.saturating_sub(PAGE_SIZE);
        // Only the newest page shows the total, which every new article changes.
        let count = (page == pages).then_some(items.len());
        let mut hash = Context::new(&SHA256);
        hash.update(format!("{heading}\n{page}\n{pages}\n{count:?}\n").as_bytes());
        for item in &items[start..end] {
            hash.update(item.print.as_bytes());
        }
        if writer.fresh(&name(page), hex::encode(&hash.finish().as_ref()[..12])) {
            continue;
        }
        changed.push(ListPage {
            name: name(page),
            root: "../".repeat(depth),
            heading: heading.to_string(),
            crumbs: crumbs.clone(),
            count,
            page,
            links: (1..=pages)
                .rev()
                .map(|k| PageLink {
                    n: k,
                    url: name(k),
                    current: k == page,
                })
                .collect(),
            items: items[start..end].to_vec(),
            show_source,
        });
    }
}

/// Renders and writes the changed list pages, on every core (a new article in the middle of a
/// month moves every later page of it).
fn render_list_pages(
    env: &Environment<'static>,
    base: &Value,
    pages: Vec<ListPage>,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let template = env
        .get_template("list.html")
        .map_err(template_error("list.html"))?;
    let folders: HashSet<&Path> = pages
        .iter()
        .filter_map(|page| Path::new(&page.name).parent())
        .collect();
    for folder in folders {
        let folder = writer.out.join(folder);
        std::fs::create_dir_all(&folder).map_err(|cause| SiteError::Write {
            path: folder.clone(),
            cause,
        })?;
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let part = pages.len().div_ceil(threads).max(1);
    let in_place = writer.in_place;
    let done = std::thread::scope(|scope| {
        let workers: Vec<_> = pages
            .chunks(part)
            .map(|chunk| {
                let template = &template;
                // Pages written, pages rendered with the bytes they had.
                scope.spawn(move || -> Result<(usize, usize), SiteError> {
                    let (mut written, mut unchanged) = (0, 0);
                    for page in chunk {
                        let html = template
                            .render(context! {
                                root => &page.root,
                                heading => &page.heading,
                                crumbs => page.crumbs.clone(),
                                count => page.count,
                                page => page.page,
                                pages => val(&page.links),
                                items => val(&page.items),
                                show_source => page.show_source,
                                ..base.clone()
                            })
                            .map_err(template_error("list.html"))?;
                        if in_place.write(&page.name, html.as_bytes())? {
                            written += 1;
                        } else {
                            unchanged += 1;
                        }
                    }
                    Ok((written, unchanged))
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("a list renderer panicked"))
            .collect::<Vec<_>>()
    });
    for page in &pages {
        writer.keep.insert(page.name.clone());
    }
    for part in done {
        let (written, unchanged) = part?;
        writer.report.written += written;
        writer.report.unchanged += unchanged;
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
struct Count {
    name: String,
    url: String,
    count: usize,
}

pub(super) fn render_lists(
    env: &Environment<'static>,
    items: &[Item],
    slugs: &Slugs,
    base: &Value,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let render = |name: &str, ctx: Value| -> Result<String, SiteError> {
        env.get_template(name)
            .and_then(|t| t.render(ctx))
            .map_err(template_error(name))
    };
    // Days, newest first (items are already newest first).
    let mut days: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    let mut sources: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
    for item in items {
        days.entry(&item.day).or_default().push(item);
        sources.entry(&item.source_id).or_default().push(item);
    }
    let mut changed = Vec::new();
    for (day, list) in &days {
        let crumbs = val(vec![Count {
            name: "按日期".into(),
            url: "days/index.html".into(),
            count: 0,
        }]);
        plan_list_pages(
            writer,
            &mut changed,
            &format!("days/{day}"),
            day,
            crumbs,
            list,
            true,
        );
    }
    let day_counts = |day: &str, count: usize| {
        context! { day => day, url => format!("days/{day}.html"), count => count }
    };
    let mut months: Vec<Value> = Vec::new();
    let mut current: Option<(String, Vec<Value>)> = None;
    for (day, list) in days.iter().rev() {
        let month = &day[..7];
        if current.as_ref().is_none_or(|(m, _)| m != month) {
            if let Some((m, d)) = current.take() {
                months.push(context! { month => m, days => d });
            }
            current = Some((month.to_string(), Vec::new()));
        }
        if let Some((_, d)) = current.as_mut() {
            d.push(day_counts(day, list.len()));
        }
    }
    if let Some((m, d)) = current.take() {
        months.push(context! { month => m, days => d });
    }
    let html = render(
        "days.html",
        context! { root => "../", months, ..base.clone() },
    )?;
    writer.write("days/index.html", html.as_bytes())?;

    // Sources: a page each, with a page per month.
    let mut counts: Vec<Count> = Vec::new();
    for (source_id, list) in &sources {
        let slug = slugs.get(source_id);
        let name = list[0].source.clone();
        counts.push(Count {
            name: name.clone(),
            url: format!("sources/{slug}/index.html"),
            count: list.len(),
        });
        let mut by_month: BTreeMap<&str, Vec<&Item>> = BTreeMap::new();
        for item in list {
            by_month.entry(&item.day[..7]).or_default().push(item);
        }
        let crumbs = val(vec![
            Count {
                name: "来源".into(),
                url: "sources/index.html".into(),
                count: 0,
            },
            Count {
                name: name.clone(),
                url: format!("sources/{slug}/index.html"),
                count: 0,
            },
        ]);
        for (month, month_items) in &by_month {
            plan_list_pages(
                writer,
                &mut changed,
                &format!("sources/{slug}/{month}"),
                &format!("{name} · {month}"),
                crumbs.clone(),
                month_items,
                false,
            );
        }
        let month_links: Vec<Value> = by_month
            .iter()
            .rev()
            .map(|(month, l)| {
                context! { month => *month, url => format!("sources/{slug}/{month}.html"), count => l.len() }
            })
            .collect();
        let latest: Vec<&Item> = list.iter().take(LATEST).copied().collect();
        let html = render(
            "source.html",
            context! {
                root => "../../",
                source => context! { name => name, count => list.len() },
                latest => val(latest),
                months => month_links,
                ..base.clone()
            },
        )?;
        writer.write(&format!("sources/{slug}/index.html"), html.as_bytes())?;
    }
    counts.sort_by(|a, b| b.count.cmp(&a.count).then(a.name.cmp(&b.name)));
    let html = render(
        "sources.html",
        context! { root => "../", sources => val(&counts), ..base.clone() },
    )?;
    writer.write("sources/index.html", html.as_bytes())?;

    let latest: Vec<&Item> = items.iter().take(LATEST).collect();
    let recent_days: Vec<Value> = days
        .iter()
        .rev()
        .take(HOME_DAYS)
        .map(|(day, list)| day_counts(day, list.len()))
        .collect();
    let html = render(
        "home.html",
        context! {
            root => "./",
            total => items.len(),
            latest => val(latest),
            days => recent_days,
            sources => val(&counts),
            ..base.clone()
        },
    )?;
    writer.write("index.html", html.as_bytes())?;
    render_list_pages(env, base, changed, writer)
}

pub(super) fn render_feed(
    env: &Environment<'static>,
    items: &[Item],
    options: &SiteOptions,
    writer: &mut Writer,
) -> Result<(), SiteError> {
    let entries: Vec<Value> = items
        .iter()
        .take(LATEST)
        .map(|item| {
            context! {
                id => item.id,
                title => shown_title(&item.title),
                url => item.url(),
                link => shown_link(&item.link),
                source => item.source.clone(),
                updated => iso(item.updated_ms),
                published => item.published_ms.map(iso),
                summary => item.summary.clone(),
            }
        })
        .collect();
    let updated = items
        .iter()
        .map(|i| i.updated_ms)
        .max()
        .unwrap_or(options.now_ms);
    let feed_id = hex::encode(&digest(&SHA256, options.title.as_bytes()).as_ref()[..8]);
    let xml = env
        .get_template("feed.xml")
        .and_then(|t| {
            t.render(context! {
                site_title => options.title.clone(),
                feed_id,
                updated => iso(updated),
                entries,
            })
        })
        .map_err(template_error("feed.xml"))?;
    writer.write("feed.xml", xml.as_bytes())
}
