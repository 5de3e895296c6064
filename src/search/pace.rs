//! Pacing the index writer's feed: [`Pace`] keeps the walk that hands documents to tantivy a
//! bounded number of documents ahead of the threads that analyse them.
//!
//! tantivy's writer queues up to 10,000 documents between `add_document` and its indexing
//! threads. Reading articles from the store is much faster than segmenting them with jieba, so
//! an index built from scratch used to queue the whole archive: each document carries its text
//! three times (ranked, matched as phrases, stored for snippets), ~85 MB for 9,500 articles,
//! most of a first run's peak memory. The writer's threads are counted where they begin a
//! document, in the tokenizer of a field every document has exactly once ([`Counting`]); the
//! walk waits while it is more than [`Pace::AHEAD`] documents in front.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tantivy::tokenizer::Tokenizer;

/// Documents handed to the writer, against documents its threads have begun.
#[derive(Debug)]
pub(super) struct Pace {
    begun: Arc<AtomicUsize>,
    handed: usize,
    stall: Duration,
    /// Set when the count stopped moving while the walk waited: the walk then relies on
    /// tantivy's own bound instead of waiting for a count that may never come.
    off: bool,
}

impl Pace {
    /// How far the walk may run ahead: enough to keep every indexing thread busy (each document
    /// waiting holds its text three or four times).
    pub(super) const AHEAD: usize = 64;

    /// A pace that stops when the count stands still for `stall` while the walk waits (the
    /// writer's threads failed, or analyse documents without counting them).
    pub(super) fn new(stall: Duration) -> Pace {
        Pace {
            begun: Arc::default(),
            handed: 0,
            stall,
            off: false,
        }
    }

    /// The tokenizer to register for the field every document has once, counting for this pace.
    pub(super) fn counting<T>(&self, inner: T) -> Counting<T> {
        Counting {
            inner,
            begun: Arc::clone(&self.begun),
        }
    }

    /// Whether pacing stopped for a count that stood still.
    #[cfg(test)]
    pub(super) fn is_off(&self) -> bool {
        self.off
    }

    /// Documents the writer's threads have begun.
    #[cfg(test)]
    pub(super) fn begun(&self) -> usize {
        self.begun.load(Ordering::Acquire)
    }

    /// Call after handing a document to the writer: returns once the writer's threads are at
    /// most [`Pace::AHEAD`] documents behind.
    pub(super) fn handed(&mut self) {
        self.handed += 1;
        if self.off {
            return;
        }
        let mut last = self.begun.load(Ordering::Acquire);
        let mut since = Instant::now();
        while self.handed > last + Self::AHEAD {
            std::thread::sleep(Duration::from_micros(200));
            let now = self.begun.load(Ordering::Acquire);
            if now != last {
                (last, since) = (now, Instant::now());
            } else if since.elapsed() > self.stall {
                tracing::debug!(
                    handed = self.handed,
                    begun = now,
                    "the search index writer's threads stopped counting; no more pacing"
                );
                self.off = true;
                return;
            }
        }
    }
}

/// A tokenizer that counts the texts it is given, for [`Pace`].
#[derive(Clone)]
pub(super) struct Counting<T> {
    inner: T,
    begun: Arc<AtomicUsize>,
}

impl<T: Tokenizer> Tokenizer for Counting<T> {
    type TokenStream<'a> = T::TokenStream<'a>;
    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.begun.fetch_add(1, Ordering::Release);
        self.inner.token_stream(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tantivy::tokenizer::SimpleTokenizer;

    #[test]
    fn the_walk_stays_at_most_ahead_documents_in_front_of_the_writer() {
        let mut pace = Pace::new(Duration::from_secs(60));
        let mut counting = pace.counting(SimpleTokenizer::default());
        let begun = Arc::clone(&pace.begun);
        let writer = std::thread::spawn(move || {
            for _ in 0..500 {
                std::thread::sleep(Duration::from_micros(100));
                counting.token_stream("一 document");
            }
        });
        let mut furthest = 0;
        for _ in 0..500 {
            pace.handed();
            furthest = furthest.max(pace.handed - begun.load(Ordering::Acquire));
        }
        writer.join().unwrap();
        assert!(furthest <= Pace::AHEAD, "{furthest} documents ahead");
        assert!(!pace.off);
    }

    #[test]
    fn a_count_that_stops_ends_the_pacing_instead_of_the_walk() {
        let mut pace = Pace::new(Duration::from_millis(50));
        for _ in 0..Pace::AHEAD {
            pace.handed();
        }
        assert!(!pace.off, "no wait within the first documents");
        pace.handed();
        assert!(pace.off);
        // From then on the walk goes on: this would not end if it waited for the count.
        for _ in 0..100_000 {
            pace.handed();
        }
        assert_eq!(pace.handed, Pace::AHEAD + 100_001);
    }
}
