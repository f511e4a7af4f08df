//! The acknowledgement ledger of the crash and soak tests: producers record each body as
//! sent before writing it and as acked after the server's `OK`; consumers record each
//! delivery and each FIN. At the end [`Ledger::report`] says what an application would
//! care about: acked bodies never delivered (must be 0), duplicate deliveries (a body
//! delivered again after its FIN), bodies delivered without an `OK` (published when the
//! server died), and bodies delivered that were never sent (must be 0).
//!
//! Shared between threads behind one `Mutex`; every method takes `&self`.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::{Mutex, MutexGuard};

use crate::consumer::Tally;

#[derive(Default)]
struct Book {
    sent: HashSet<Vec<u8>>,
    acked: HashSet<Vec<u8>>,
    /// Bodies that may be lost without breaking the promise of the configuration (e.g.
    /// a DPUB still deferred in memory when the server was killed, as Go nsqd keeps it).
    excused: HashSet<Vec<u8>>,
    delivered: HashMap<Vec<u8>, usize>,
    finned: HashSet<Vec<u8>>,
    /// Deliveries of a body whose FIN had already been sent.
    after_fin: usize,
}

/// What was published, acknowledged, delivered and finished, from every thread.
#[derive(Default)]
pub struct Ledger {
    book: Mutex<Book>,
}

impl Ledger {
    pub fn new() -> Ledger {
        Ledger::default()
    }

    fn book(&self) -> MutexGuard<'_, Book> {
        // A panicking producer thread must not hide the report of the others.
        self.book.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bodies about to be written (before the server can have seen them).
    pub fn sent<B: AsRef<[u8]>>(&self, bodies: &[B]) {
        let mut book = self.book();
        for b in bodies {
            book.sent.insert(b.as_ref().to_vec());
        }
    }

    /// Bodies the server answered `OK` for.
    pub fn acked<B: AsRef<[u8]>>(&self, bodies: &[B]) {
        let mut book = self.book();
        for b in bodies {
            book.acked.insert(b.as_ref().to_vec());
        }
    }

    /// Bodies whose loss the test accepts (say why in the test); still counted apart.
    pub fn excuse(&self, body: &[u8]) {
        self.book().excused.insert(body.to_vec());
    }

    /// One delivery of `body` to a consumer.
    pub fn delivered(&self, body: &[u8]) {
        let mut book = self.book();
        if book.finned.contains(body) {
            book.after_fin += 1;
        }
        *book.delivered.entry(body.to_vec()).or_default() += 1;
    }

    /// The consumer sent FIN for `body`.
    pub fn finned(&self, body: &[u8]) {
        self.book().finned.insert(body.to_vec());
    }

    /// Every delivery of a [`Tally`] from a consumer that FINs all it receives.
    pub fn record_tally(&self, tally: &Tally) {
        for body in tally.bodies() {
            for _ in tally.deliveries(body) {
                self.delivered(body);
                self.finned(body);
            }
        }
    }

    /// The acked bodies (for draining until each has arrived).
    pub fn acked_set(&self) -> HashSet<Vec<u8>> {
        self.book().acked.clone()
    }

    pub fn acked_count(&self) -> usize {
        self.book().acked.len()
    }

    pub fn is_delivered(&self, body: &[u8]) -> bool {
        self.book().delivered.contains_key(body)
    }

    /// Acked bodies starting with `prefix` not delivered yet, excused ones excluded.
    pub fn outstanding(&self, prefix: &[u8]) -> HashSet<Vec<u8>> {
        let book = self.book();
        book.acked
            .iter()
            .filter(|b| b.starts_with(prefix))
            .filter(|b| !book.delivered.contains_key(*b) && !book.excused.contains(*b))
            .cloned()
            .collect()
    }

    /// The figures so far.
    pub fn report(&self) -> Report {
        let book = self.book();
        let never_delivered = |b: &&Vec<u8>| !book.delivered.contains_key(*b);
        let mut acked_lost: Vec<String> = book
            .acked
            .iter()
            .filter(never_delivered)
            .filter(|b| !book.excused.contains(*b))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        acked_lost.sort();
        let mut foreign: Vec<String> = book
            .delivered
            .keys()
            .filter(|b| !book.sent.contains(*b))
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        foreign.sort();
        let deliveries: usize = book.delivered.values().sum();
        Report {
            published: book.sent.len(),
            acked: book.acked.len(),
            delivered: book.delivered.len(),
            deliveries,
            duplicates: deliveries - book.delivered.len(),
            delivered_after_fin: book.after_fin,
            unfinished: book
                .delivered
                .keys()
                .filter(|b| !book.finned.contains(*b))
                .count(),
            delivered_unacked: book
                .delivered
                .keys()
                .filter(|b| !book.acked.contains(*b))
                .count(),
            excused_lost: book
                .excused
                .iter()
                .filter(|b| book.acked.contains(*b))
                .filter(never_delivered)
                .count(),
            acked_lost,
            foreign,
        }
    }
}

/// The ledger's figures at the end of a run.
#[derive(Clone, Debug)]
pub struct Report {
    /// Distinct bodies written to the server.
    pub published: usize,
    /// Distinct bodies the server answered `OK` for.
    pub acked: usize,
    /// Distinct bodies delivered at least once.
    pub delivered: usize,
    /// Deliveries in all.
    pub deliveries: usize,
    /// Deliveries beyond the first of each body (REQ and timeouts included).
    pub duplicates: usize,
    /// Deliveries of a body after its FIN was sent (the FIN died with the server).
    pub delivered_after_fin: usize,
    /// Bodies delivered but never finished: in flight or deferred by REQ when the server
    /// was killed, and not delivered again.
    pub unfinished: usize,
    /// Bodies delivered without an `OK` (the server died before answering).
    pub delivered_unacked: usize,
    /// Acked bodies never delivered that the test excused (see [`Ledger::excuse`]).
    pub excused_lost: usize,
    /// Acked bodies never delivered: must be empty.
    pub acked_lost: Vec<String>,
    /// Delivered bodies never sent: must be empty.
    pub foreign: Vec<String>,
}

impl Report {
    /// Fails the test on any acked loss or foreign delivery, with examples.
    pub fn assert_nothing_lost(&self) {
        assert!(
            self.acked_lost.is_empty(),
            "{} acked but lost, e.g. {:?} ({self})",
            self.acked_lost.len(),
            &self.acked_lost[..self.acked_lost.len().min(10)]
        );
        assert!(
            self.foreign.is_empty(),
            "delivered bodies never sent: {:?}",
            &self.foreign[..self.foreign.len().min(10)]
        );
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "published={} acked={} delivered={} deliveries={} acked-lost={} duplicates={} \
             delivered-after-fin={} delivered-but-unacked={} unfinished={} excused-lost={}",
            self.published,
            self.acked,
            self.delivered,
            self.deliveries,
            self.acked_lost.len(),
            self.duplicates,
            self.delivered_after_fin,
            self.delivered_unacked,
            self.unfinished,
            self.excused_lost
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_each_category() {
        let ledger = Ledger::new();
        ledger.sent(&[b"a", b"b", b"c", b"d"]);
        ledger.acked(&[b"a", b"b", b"c"]);
        ledger.excuse(b"c");
        for body in [b"a", b"a", b"d"] {
            ledger.delivered(body);
        }
        ledger.finned(b"a");
        ledger.delivered(b"a");
        ledger.delivered(b"x");
        let report = ledger.report();
        assert_eq!(report.published, 4);
        assert_eq!(report.acked, 3);
        assert_eq!(report.delivered, 3);
        assert_eq!(report.deliveries, 5);
        assert_eq!(report.duplicates, 2);
        assert_eq!(report.delivered_after_fin, 1);
        assert_eq!(report.delivered_unacked, 2);
        assert_eq!(report.excused_lost, 1);
        assert_eq!(report.acked_lost, ["b"]);
        assert_eq!(report.foreign, ["x"]);
        assert_eq!(report.unfinished, 2);
        assert_eq!(ledger.outstanding(b""), HashSet::from([b"b".to_vec()]));
        assert!(ledger.outstanding(b"a").is_empty());
    }
}
