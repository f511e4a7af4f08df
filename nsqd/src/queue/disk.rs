//! The disk queue behind a topic or channel: a synchronous, file-compatible reimplementation
//! of go-diskqueue v1.1.0, so Go nsqd and this one can share a data dir.
//!
//! Owns the data files `<name>.diskqueue.NNNNNN.dat`, the metadata file
//! `<name>.diskqueue.meta.dat`, record framing (`[4-byte big-endian length][payload]`), file
//! rolling, corruption handling and the sync policy (every `sync_every` operations, on
//! `tick` after `sync_timeout`, on file changes and on close).
//!
//! Leaves to others: what a payload is (a `Record` encodes it, or `put_framed` takes
//! records already framed; the caller decodes what `read_with` hands over), locking (nsqd
//! wraps a queue in a std `Mutex`), and time: nothing here sleeps or spawns, so `tick`
//! must be called periodically for `sync_timeout` to apply.
//!
//! Differences from Go, none visible in the files: there is no I/O goroutine and no
//! one-record read-ahead (`read_with` consumes what it hands over); writes of a batch share
//! one write(2) per file; reads go through a read-ahead buffer; a reader that consumed a whole
//! file before the writer rolled deletes it instead of renaming it `.bad`; and when the
//! metadata file is missing but data files exist (crash before the first sync), those files
//! are read instead of being overwritten (also when it cannot be parsed). Records written
//! after the last metadata sync
//! (a crash between a write and its sync) are counted into the depth on open, and a record
//! the crash cut short is cut off, so a restart after `kill -9` reports no corruption.
//! A file the reader has left is deleted at the next sync, not before, so a crash never
//! leaves metadata pointing into a deleted file; and `read_uncommitted` lets a caller that
//! moves records to another queue (a topic into its channels) hold the read position back
//! until they are stored there (`commit_reads`), where Go has a window of loss. Beyond Go,
//! `read_held` keeps each record outstanding until `release` (a channel: until FIN, or until
//! the message is back in a queue): the synced read position stays at the oldest outstanding
//! record (`watermark.rs`), and its file is kept, so a crash re-delivers it.

use crate::queue::watermark::Watermark;
#[cfg(test)]
use bytes::Bytes;
use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions};
use std::hash::{BuildHasher, Hasher};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tracing::{error, info, warn};

/// Bytes asked of the kernel per read(2) of a data file. Large enough that a backlog of
/// small messages costs one syscall per few hundred records; small enough that many queues
/// with a backlog do not add up (the buffer is freed whenever the reader catches up).
const READ_AHEAD: usize = 128 * 1024;

/// A batch buffer grown past this by one huge batch is shrunk back after the write, so one
/// burst does not pin memory for the queue's lifetime.
const WRITE_BUF_KEEP: usize = 1024 * 1024;

/// Size of the length prefix in front of every record.
const PREFIX: i64 = 4;

#[derive(Debug, Clone)]
pub struct DiskQueueOptions {
    pub data_path: PathBuf,
    pub name: String,
    pub max_bytes_per_file: i64,
    /// Bounds of a record's payload length L (nsqd: 26 and `--max-msg-size` + 26).
    pub min_msg_size: i32,
    pub max_msg_size: i32,
    /// Sync after this many reads plus writes (records, not calls).
    pub sync_every: u64,
    /// `tick` syncs when there was activity and this long has passed since the last sync.
    pub sync_timeout: Duration,
}

/// Something that can be stored as one record: the payload, without the length prefix
/// (the tests' way in; the broker writes framed runs with `put_framed`).
#[cfg(test)]
pub trait Record {
    fn encoded_len(&self) -> usize;
    /// Appends exactly `encoded_len()` bytes.
    fn encode_into(&self, out: &mut Vec<u8>);
}

/// Byte payloads are stored as they are.
#[cfg(test)]
macro_rules! bytes_record {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn encoded_len(&self) -> usize {
                self.len()
            }
            fn encode_into(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(self);
            }
        }
    )*};
}
#[cfg(test)]
bytes_record!([u8], Vec<u8>, Bytes);

#[cfg(test)]
impl<T: Record + ?Sized> Record for &T {
    fn encoded_len(&self) -> usize {
        (**self).encoded_len()
    }
    fn encode_into(&self, out: &mut Vec<u8>) {
        (**self).encode_into(out)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiskQueueError {
    #[error("invalid message write size ({size}) minMsgSize={min} maxMsgSize={max}")]
    InvalidSize { size: usize, min: i32, max: i32 },
    /// A `Record` implementation wrote a different length than it announced (a bug).
    #[error("record announced {expected} bytes but encoded {actual}")]
    EncodedLenMismatch { expected: usize, actual: usize },
    /// The OS error is part of the message (as in Go's `write <path>: <error>`), so a
    /// client's `E_PUB_FAILED` and the log say e.g. "no space left on device".
    #[error("failed to {op} {}: {cause}", path.display())]
    Io {
        op: &'static str,
        path: PathBuf,
        cause: io::Error,
    },
}

fn io_err(op: &'static str, path: PathBuf, cause: io::Error) -> DiskQueueError {
    DiskQueueError::Io { op, path, cause }
}

/// A place in the queue: file number and byte offset in that file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Position {
    file: i64,
    pos: i64,
}

impl Position {
    fn at(file: i64, pos: i64) -> Self {
        Position { file, pos }
    }
}

/// Why a record could not be read. `Corrupt` means the rest of the file is unusable (Go's
/// read error: the file becomes `.bad`); `Io` is an error worth retrying (nothing changes).
enum ReadFailure {
    Corrupt(String),
    Io(DiskQueueError),
}

impl From<DiskQueueError> for ReadFailure {
    fn from(e: DiskQueueError) -> Self {
        ReadFailure::Io(e)
    }
}

pub struct DiskQueue {
    opts: DiskQueueOptions,
    depth: i64,
    read: Position,
    write: Position,
    /// Open at `write.pos` while writing; dropped (and reopened with a seek) after an error.
    write_file: Option<File>,
    cursor: Option<ReadCursor>,
    /// Framed records of the batch being written; reused across calls.
    write_buf: Vec<u8>,
    /// Reads plus writes since the last sync (Go's `count`).
    ops_since_sync: u64,
    /// A file change happened that must reach the metadata soon (Go's `needSync`).
    need_sync: bool,
    last_sync: Instant,
    /// Numbers of the files the reader has left, removed once the metadata no longer
    /// points into them (after the next sync, and once no outstanding record is in them),
    /// so a crash in between never finds its read file missing.
    removals: Vec<i64>,
    /// Records handed over by `read_held` and not yet released.
    watermark: Watermark,
}

impl std::fmt::Debug for DiskQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskQueue")
            .field("name", &self.opts.name)
            .field("depth", &self.depth)
            .field("read", &self.read)
            .field("write", &self.write)
            .finish_non_exhaustive()
    }
}

impl DiskQueue {
    /// Opens (or starts) the queue from its metadata file. Fails only if the metadata
    /// exists but cannot be read, or (no metadata) the data directory cannot be listed.
    pub fn open(opts: DiskQueueOptions) -> Result<Self, DiskQueueError> {
        let mut q = DiskQueue {
            opts,
            depth: 0,
            read: Position::default(),
            write: Position::default(),
            write_file: None,
            cursor: None,
            write_buf: Vec::new(),
            ops_since_sync: 0,
            need_sync: false,
            last_sync: Instant::now(),
            removals: Vec::new(),
            watermark: Watermark::default(),
        };
        q.load_metadata()?;
        // Metadata whose read position already equals the write position cannot be right
        // with a non-zero depth; fix it now rather than after the next write is consumed.
        q.check_tail();
        Ok(q)
    }

    /// Records written and not yet consumed. After a crash (stale metadata) this can be
    /// wrong, even negative, until the reader reaches the writer; use `is_readable` to
    /// decide whether to read.
    pub fn depth(&self) -> i64 {
        self.depth
    }

    /// Whether the read position is behind the write position (go-diskqueue reads on this,
    /// not on depth). Unlike go-diskqueue's test, a read file past the write file (damaged
    /// metadata) is not readable whatever the positions in them: otherwise the reader
    /// walks through missing files forever (the tail check then resets both).
    pub fn is_readable(&self) -> bool {
        self.read.file < self.write.file
            || (self.read.file == self.write.file && self.read.pos < self.write.pos)
    }

    #[cfg(test)]
    pub fn put<R: Record + ?Sized>(&mut self, rec: &R) -> Result<(), DiskQueueError> {
        self.put_batch(&[rec])
    }

    /// Appends records: frames them, then `put_framed`.
    #[cfg(test)]
    pub fn put_batch<R: Record>(&mut self, recs: &[R]) -> Result<(), DiskQueueError> {
        let bytes = recs.iter().map(|r| PREFIX as usize + r.encoded_len()).sum();
        let mut framed = Vec::with_capacity(bytes);
        for rec in recs {
            let len = rec.encoded_len();
            self.check_size(len)?;
            append_framed(&mut framed, rec, len)?;
        }
        self.put_framed(&framed)
    }

    /// Appends records that are already framed (`[4-byte length][payload]` each, as a
    /// `Packed` holds them) with one write(2) per file touched. Every length is checked
    /// first, so an invalid record fails the batch with nothing written. An I/O error can
    /// leave a prefix of the batch written (the part that went to earlier files).
    pub fn put_framed(&mut self, framed: &[u8]) -> Result<(), DiskQueueError> {
        let records = frame_lengths(framed)?;
        for &len in &records {
            self.check_size(len)?;
        }
        if self.write.pos + framed.len() as i64 <= self.opts.max_bytes_per_file {
            // The usual case: the whole batch fits in the current file; write it as it is.
            self.write_all_at_tail(framed, records.len() as i64)?;
            self.ops_since_sync += records.len() as u64;
            self.sync_if_due();
            return Ok(());
        }
        self.write_buf.clear();
        let (mut pending, mut off) = (0, 0);
        for &len in &records {
            let end = self.write.pos + self.write_buf.len() as i64;
            // Go's rule: roll before a record that would overflow a non-empty file.
            if end > 0 && end + PREFIX + len as i64 > self.opts.max_bytes_per_file {
                self.write_pending(pending)?;
                pending = 0;
                self.roll();
            }
            let total = PREFIX as usize + len;
            self.write_buf.extend_from_slice(&framed[off..off + total]);
            off += total;
            pending += 1;
        }
        self.write_pending(pending)?;
        if self.write_buf.capacity() > WRITE_BUF_KEEP {
            self.write_buf = Vec::new();
        }
        self.ops_since_sync += records.len() as u64;
        self.sync_if_due();
        Ok(())
    }

    /// Consumes up to `max` records into `out` and returns how many (see `read_with`).
    #[cfg(test)]
    pub fn read_batch(
        &mut self,
        max: usize,
        out: &mut Vec<Bytes>,
    ) -> Result<usize, DiskQueueError> {
        self.read_with(max, |payload| out.push(Bytes::copy_from_slice(payload)))
    }

    /// Consumes up to `max` records, handing each payload to `sink`, and returns how many.
    /// Positions and depth advance now: a record handed over is gone from the queue.
    /// Corrupt data is skipped (logged, file renamed `.bad`) and reading goes on with the
    /// next file. An I/O error is returned only if no record was read; otherwise it shows
    /// up on the next call.
    pub fn read_with(
        &mut self,
        max: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<usize, DiskQueueError> {
        self.read_records(
            max,
            |p, _| {
                sink(p);
                false
            },
            true,
        )
    }

    /// Like `read_with`, but each record whose `sink(payload, seq)` returns true stays
    /// outstanding until `release(seq)`: the read position synced to the metadata file does
    /// not pass it, and its file is kept. A crash re-delivers it (and what was read after
    /// it). For a reader that hands records to consumers and forgets them only on FIN.
    pub fn read_held(
        &mut self,
        max: usize,
        sink: impl FnMut(&[u8], u64) -> bool,
    ) -> Result<usize, DiskQueueError> {
        self.read_records(max, sink, true)
    }

    /// Record `seq` of `read_held` is no longer outstanding. No sync here: the moved
    /// watermark goes to the metadata file with the next sync the queue does anyway (a
    /// read or write under `sync_every`, the `sync_timeout` tick), or `commit_released`.
    pub fn release(&mut self, seq: u64) {
        self.watermark.release(seq);
    }

    /// After releases: with `sync_every` 1 (sync after every operation), once nothing is
    /// outstanding any more, sync the moved watermark now, so a kill after everything was
    /// finished re-delivers nothing. While records stay outstanding, the reads that go on
    /// sync it (or the tick does): no fsync per release.
    pub fn commit_released(&mut self) {
        if self.opts.sync_every <= 1 && self.watermark.moved() && self.watermark.len() == 0 {
            if let Err(e) = self.sync() {
                error!(queue = %self.opts.name, error = %e, "disk queue sync failed");
            }
        }
    }

    /// No record is outstanding any more (clean shutdown, after writing them back).
    pub fn release_all(&mut self) {
        self.watermark.release_all();
    }

    /// How many records of `read_held` are outstanding.
    #[cfg(test)]
    pub fn held_count(&self) -> usize {
        self.watermark.len()
    }

    /// Like `read_with`, but the new read position is not synced (whatever
    /// `sync_every` says) until `commit_reads`: for a caller that stores the records
    /// elsewhere first (a topic moving its backlog into its channels), so a crash before
    /// they are stored finds them still unread instead of lost.
    pub fn read_uncommitted(
        &mut self,
        max: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Result<usize, DiskQueueError> {
        self.read_records(
            max,
            |p, _| {
                sink(p);
                false
            },
            false,
        )
    }

    /// The records read since the last sync are stored elsewhere: sync as `sync_every`
    /// (or a file change) asks.
    pub fn commit_reads(&mut self) {
        self.sync_if_due();
    }

    fn read_records(
        &mut self,
        max: usize,
        mut sink: impl FnMut(&[u8], u64) -> bool,
        commit: bool,
    ) -> Result<usize, DiskQueueError> {
        let mut n = 0;
        let mut failure = None;
        while n < max {
            match self.read_one(&mut sink) {
                Ok(true) => {
                    n += 1;
                    self.ops_since_sync += 1;
                    self.check_tail();
                }
                Ok(false) => break,
                Err(ReadFailure::Corrupt(reason)) => self.handle_read_error(&reason),
                Err(ReadFailure::Io(e)) => {
                    failure = Some(e);
                    break;
                }
            }
            // Go syncs at the top of its loop, i.e. before the next record is read.
            if commit {
                self.sync_if_due();
            }
        }
        match failure {
            Some(e) if n == 0 => Err(e),
            Some(e) => {
                warn!(queue = %self.opts.name, error = %e, "disk queue read stopped early");
                Ok(n)
            }
            None => Ok(n),
        }
    }

    /// fsyncs the write file and atomically replaces the metadata file.
    pub fn sync(&mut self) -> Result<(), DiskQueueError> {
        // Like Go, the operation count restarts even if the sync fails; `need_sync` makes
        // the next operation retry.
        self.ops_since_sync = 0;
        self.last_sync = Instant::now();
        self.need_sync = true;
        if let Some(file) = &self.write_file {
            if let Err(e) = file.sync_all() {
                self.write_file = None;
                return Err(io_err("fsync", self.data_file(self.write.file), e));
            }
        }
        self.persist_metadata()?;
        self.need_sync = false;
        self.watermark.synced();
        self.remove_left_files();
        Ok(())
    }

    /// Periodic call (nsqd: every ~100 ms): syncs if anything happened since the last sync
    /// and `sync_timeout` has passed since it.
    pub fn tick(&mut self, now: Instant) -> Result<(), DiskQueueError> {
        let active = self.ops_since_sync > 0 || self.need_sync || self.watermark.moved();
        if active && now.saturating_duration_since(self.last_sync) >= self.opts.sync_timeout {
            self.sync()
        } else {
            Ok(())
        }
    }

    /// Drops everything: removes the data files from the read file to the write file and
    /// the metadata file, and continues in a fresh file. No sync: the metadata file comes
    /// back at the next sync.
    pub fn empty(&mut self) -> Result<(), DiskQueueError> {
        info!(queue = %self.opts.name, "disk queue emptying");
        self.watermark.release_all();
        self.remove_left_files();
        let files = self.skip_to_next_rw_file();
        let meta = self.meta_file();
        let meta_result = match fs::remove_file(&meta) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err("remove", meta, e)),
            _ => Ok(()),
        };
        self.ops_since_sync = 0;
        self.need_sync = false;
        meta_result.and(files)
    }

    /// Deletes the files the reader has left (the metadata no longer points into them),
    /// but for those an outstanding record is still in.
    fn remove_left_files(&mut self) {
        let keep_from = self.committed().file;
        let mut kept = Vec::new();
        for num in std::mem::take(&mut self.removals) {
            if num >= keep_from {
                kept.push(num);
                continue;
            }
            let path = self.data_file(num);
            if let Err(e) = fs::remove_file(&path) {
                if e.kind() != io::ErrorKind::NotFound {
                    error!(queue = %self.opts.name, file = %path.display(), error = %e, "disk queue failed to remove file");
                }
            }
        }
        self.removals = kept;
    }

    /// The read position the metadata records: the start of the oldest outstanding record
    /// of `read_held`, else the read position.
    fn committed(&self) -> Position {
        self.watermark
            .oldest()
            .map_or(self.read, |((file, pos), _)| Position::at(file, pos))
    }

    /// Syncs and closes (shutdown).
    pub fn close(mut self) -> Result<(), DiskQueueError> {
        info!(queue = %self.opts.name, "disk queue closing");
        self.sync()
    }

    /// Closes without syncing (topic or channel deletion; nsqd empties first).
    pub fn delete(self) -> Result<(), DiskQueueError> {
        info!(queue = %self.opts.name, "disk queue deleting");
        Ok(())
    }

    // ---- writing ----

    fn check_size(&self, size: usize) -> Result<(), DiskQueueError> {
        let (min, max) = (self.opts.min_msg_size, self.opts.max_msg_size);
        match i32::try_from(size) {
            Ok(l) if l >= min && l <= max => Ok(()),
            _ => Err(DiskQueueError::InvalidSize { size, min, max }),
        }
    }

    /// Writes the framed records in `write_buf` (`records` of them) to the write file with
    /// one write call. Positions move only once the bytes are written; after a failure the
    /// file is reopened at `write.pos`, overwriting whatever part did get written.
    fn write_pending(&mut self, records: i64) -> Result<(), DiskQueueError> {
        if self.write_buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.write_buf);
        let result = self.write_all_at_tail(&buf, records);
        self.write_buf = buf;
        self.write_buf.clear();
        result
    }

    /// Writes `data` (`records` framed records) at the write position with one write call;
    /// the position and depth move only once it is written.
    fn write_all_at_tail(&mut self, data: &[u8], records: i64) -> Result<(), DiskQueueError> {
        if data.is_empty() {
            return Ok(());
        }
        let file = match self.write_file.take() {
            Some(file) => file,
            None => self.open_write_file()?,
        };
        if let Err(e) = (&file).write_all(data) {
            return Err(io_err("write", self.data_file(self.write.file), e));
        }
        self.write_file = Some(file);
        self.write.pos += data.len() as i64;
        self.depth += records;
        Ok(())
    }

    fn open_write_file(&self) -> Result<File, DiskQueueError> {
        let path = self.data_file(self.write.file);
        let mut file = create_options()
            .read(true)
            .write(true)
            .open(&path)
            .map_err(|e| io_err("open", path.clone(), e))?;
        let pos = u64::try_from(self.write.pos).unwrap_or(0);
        // A write that failed part-way (a full disk) left bytes past the position: cut
        // them, or a shorter record written next would leave junk the reader of the
        // finished file takes for corruption.
        let len = file
            .metadata()
            .map_err(|e| io_err("stat", path.clone(), e))?
            .len();
        if len > pos {
            file.set_len(pos)
                .map_err(|e| io_err("truncate", path.clone(), e))?;
        }
        if pos > 0 {
            file.seek(SeekFrom::Start(pos))
                .map_err(|e| io_err("seek", path.clone(), e))?;
        }
        info!(queue = %self.opts.name, file = %path.display(), "disk queue opened write file");
        Ok(file)
    }

    /// Moves the writer to the next file. The sync runs while the finished file is still
    /// open, so it is fsynced and the metadata already names the new file.
    fn roll(&mut self) {
        if let Some(cursor) = self.cursor.as_mut() {
            if cursor.num == self.write.file {
                // The reader must stop where the writer stopped, not at max_bytes_per_file.
                cursor.end = Some(self.write.pos);
            }
        }
        self.write.file += 1;
        self.write.pos = 0;
        if let Err(e) = self.sync() {
            error!(queue = %self.opts.name, error = %e, "disk queue sync failed");
        }
        self.write_file = None;
    }

    // ---- reading ----

    /// Reads and consumes the next record, handing its payload to `sink`; false when the
    /// reader is at the writer.
    fn read_one(&mut self, sink: &mut impl FnMut(&[u8], u64) -> bool) -> Result<bool, ReadFailure> {
        loop {
            if !self.is_readable() {
                if let Some(cursor) = self.cursor.as_mut() {
                    cursor.release_buffer();
                }
                return Ok(false);
            }
            let mut cursor = self.take_cursor()?;
            let finished = self.read.file < self.write.file;
            let limit = if finished {
                cursor.file_end()?
            } else {
                self.write.pos
            };
            if finished && self.read.pos >= limit {
                // The writer rolled after the reader took this file's last record.
                drop(cursor);
                self.leave_read_file();
                continue;
            }
            let (min, max) = (self.opts.min_msg_size, self.opts.max_msg_size);
            let rec = cursor.next_record(self.read.pos, limit, min, max)?;
            let start = (self.read.file, self.read.pos);
            let hold = sink(&cursor.buf[rec.clone()], self.watermark.next_seq());
            self.watermark.read(start, hold);
            self.read.pos += PREFIX + rec.len() as i64;
            self.depth -= 1;
            if finished && self.read.pos >= limit {
                drop(cursor);
                self.leave_read_file();
            } else {
                self.cursor = Some(cursor);
            }
            return Ok(true);
        }
    }

    fn take_cursor(&mut self) -> Result<ReadCursor, ReadFailure> {
        match self.cursor.take() {
            Some(cursor) if cursor.num == self.read.file => Ok(cursor),
            _ => self.open_read_file(),
        }
    }

    /// A missing file is corruption (Go renames and skips it); other open errors are
    /// returned so a transient failure (e.g. out of descriptors) does not discard data.
    fn open_read_file(&self) -> Result<ReadCursor, ReadFailure> {
        let path = self.data_file(self.read.file);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ReadFailure::Corrupt(format!("open: {e}")))
            }
            Err(e) => return Err(io_err("open", path, e).into()),
        };
        let Ok(pos) = u64::try_from(self.read.pos) else {
            return Err(ReadFailure::Corrupt(format!(
                "negative read position {}",
                self.read.pos
            )));
        };
        if pos > 0 {
            file.seek(SeekFrom::Start(pos))
                .map_err(|e| io_err("seek", path.clone(), e))?;
        }
        info!(queue = %self.opts.name, file = %path.display(), "disk queue opened read file");
        Ok(ReadCursor::new(file, self.read.file, path))
    }

    /// The reader is done with a finished file: go on at the next one and delete it at
    /// the next sync (which this asks for).
    fn leave_read_file(&mut self) {
        self.cursor = None;
        self.removals.push(self.read.file);
        self.read.file += 1;
        self.read.pos = 0;
        self.need_sync = true;
    }

    /// The rest of the read file is unusable: keep it as `.bad` and skip to the next file.
    /// If it is also the write file, new records go to a fresh file too.
    fn handle_read_error(&mut self, reason: &str) {
        let bad = self.data_file(self.read.file);
        error!(queue = %self.opts.name, file = %bad.display(), pos = self.read.pos, reason, "disk queue read error");
        self.cursor = None;
        if self.read.file == self.write.file {
            self.write_file = None;
            self.write.file += 1;
            self.write.pos = 0;
        }
        let mut renamed = bad.clone().into_os_string();
        renamed.push(".bad");
        let total = BAD_FILES.fetch_add(1, Ordering::Relaxed) + 1;
        warn!(queue = %self.opts.name, file = ?renamed, bad_files_total = total, "disk queue jumping to next file, saving bad file");
        if let Err(e) = fs::rename(&bad, &renamed) {
            error!(queue = %self.opts.name, file = %bad.display(), error = %e, "disk queue failed to rename bad file");
        }
        self.read.file += 1;
        self.read.pos = 0;
        self.skip_missing_read_files();
        self.need_sync = true;
        self.check_tail();
    }

    /// When the next read file is missing too (a gap in the numbers, as damaged metadata
    /// can claim: any size up to i64), go on at the next file that exists, or at the write
    /// file, rather than one missing file at a time.
    fn skip_missing_read_files(&mut self) {
        if self.read.file >= self.write.file || self.data_file(self.read.file).exists() {
            return;
        }
        let (from, to) = (self.read.file, self.write.file);
        let next = self
            .data_file_nums()
            .ok()
            .and_then(|nums| nums.into_iter().find(|&n| n > from && n <= to))
            .unwrap_or(to);
        warn!(queue = %self.opts.name, from, to = next, "disk queue data files missing, skipping to the next one");
        self.read.file = next;
    }

    /// The numbers of this queue's data files in the directory, ascending.
    fn data_file_nums(&self) -> io::Result<Vec<i64>> {
        let prefix = format!("{}.diskqueue.", self.opts.name);
        let mut nums: Vec<i64> = fs::read_dir(&self.opts.data_path)?
            .filter_map(|entry| entry.ok())
            .filter_map(|entry| data_file_num(entry.file_name().to_str()?, &prefix))
            .collect();
        nums.sort_unstable();
        Ok(nums)
    }

    /// When the reader has caught up with the writer the depth must be 0 and the
    /// positions equal; otherwise the metadata was wrong: reset (Go's checkTailCorruption).
    fn check_tail(&mut self) {
        if self.is_readable() {
            return;
        }
        let name = &self.opts.name;
        if self.depth < 0 {
            error!(queue = %name, depth = self.depth, "disk queue negative depth at tail, metadata corruption, resetting 0");
        } else if self.depth > 0 {
            error!(queue = %name, depth = self.depth, "disk queue positive depth at tail, data loss, resetting 0");
        }
        if self.depth != 0 {
            self.depth = 0;
            self.need_sync = true;
        }
        if self.read != self.write {
            error!(queue = %name, read = ?self.read, write = ?self.write, "disk queue read position beyond write position, corruption, skipping to next file");
            if let Err(e) = self.skip_to_next_rw_file() {
                error!(queue = %self.opts.name, error = %e, "disk queue failed to remove files");
            }
            self.need_sync = true;
        }
    }

    /// Removes the files from the read file to the write file and starts both in a fresh
    /// file with depth 0. Returns the first removal error (after trying every file).
    fn skip_to_next_rw_file(&mut self) -> Result<(), DiskQueueError> {
        // What was outstanding was in the files removed here.
        self.watermark.release_all();
        self.cursor = None;
        self.write_file = None;
        let mut first_err = None;
        // The files that exist in the range (damaged metadata can make it huge), or just
        // its ends if the directory cannot be listed.
        let (lo, hi) = (self.read.file, self.write.file);
        let nums = match self.data_file_nums() {
            Ok(nums) => nums.into_iter().filter(|n| (lo..=hi).contains(n)).collect(),
            Err(_) => vec![lo, hi],
        };
        for num in nums {
            let path = self.data_file(num);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    error!(queue = %self.opts.name, file = %path.display(), error = %e, "disk queue failed to remove file");
                    first_err.get_or_insert(io_err("remove", path, e));
                }
                _ => {}
            }
        }
        self.write.file += 1;
        self.write.pos = 0;
        self.read = self.write;
        self.depth = 0;
        first_err.map_or(Ok(()), Err)
    }

    // ---- syncing and metadata ----

    fn sync_if_due(&mut self) {
        if self.need_sync || self.ops_since_sync >= self.opts.sync_every.max(1) {
            if let Err(e) = self.sync() {
                // The data is already written; like Go, a failed sync is logged, not
                // reported as a failed put or read.
                error!(queue = %self.opts.name, error = %e, "disk queue sync failed");
            }
        }
    }

    fn persist_metadata(&self) -> Result<(), DiskQueueError> {
        let path = self.meta_file();
        let mut tmp = path.clone().into_os_string();
        // Go uses rand.Int(): a non-negative 63-bit number.
        tmp.push(format!(
            ".{}.tmp",
            RandomState::new().build_hasher().finish() >> 1
        ));
        let tmp = PathBuf::from(tmp);
        // Records read after the oldest outstanding one are read again after a crash.
        let (read, held_span) = match self.watermark.oldest() {
            Some(((file, pos), span)) => (Position::at(file, pos), span),
            None => (self.read, 0),
        };
        let text = format!(
            "{}\n{},{}\n{},{}\n",
            self.depth + held_span,
            read.file,
            read.pos,
            self.write.file,
            self.write.pos
        );
        let result = (|| {
            let mut file = create_options().write(true).truncate(true).open(&tmp)?;
            file.write_all(text.as_bytes())?;
            file.sync_all()?;
            fs::rename(&tmp, &path)
        })();
        result.map_err(|e| {
            let _ = fs::remove_file(&tmp);
            io_err("write metadata", path, e)
        })
    }

    fn load_metadata(&mut self) -> Result<(), DiskQueueError> {
        let path = self.meta_file();
        match fs::read(&path) {
            Ok(text) => {
                let (values, parsed) = parse_metadata(&text);
                // File numbers and offsets below 0 are damage too (no write makes them).
                let negative = values[1..].iter().any(|&v| v < 0);
                if parsed < values.len() || negative {
                    // Go uses the fields before the error (zeros for the rest), which
                    // puts the writer over the first file's data; read what the data
                    // files hold instead, as when the metadata is missing.
                    error!(queue = %self.opts.name, file = %path.display(), "disk queue failed to parse metadata, reading the data files found");
                    self.find_unrecorded_files()?;
                } else {
                    let [depth, read_file, read_pos, write_file, write_pos] = values;
                    self.depth = depth;
                    self.read = Position::at(read_file, read_pos);
                    self.write = Position::at(write_file, write_pos);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => self.find_unrecorded_files()?,
            Err(e) => return Err(io_err("read", path, e)),
        }
        self.skip_past_unsynced_writes();
        Ok(())
    }

    /// No metadata: normally a new queue (start at file 0). But if data files exist, the
    /// process died before the first sync; read them rather than overwrite file 0.
    fn find_unrecorded_files(&mut self) -> Result<(), DiskQueueError> {
        let nums = self
            .data_file_nums()
            .map_err(|e| io_err("list", self.opts.data_path.clone(), e))?;
        if let (Some(&lo), Some(&hi)) = (nums.first(), nums.last()) {
            warn!(queue = %self.opts.name, first = lo, last = hi, "disk queue metadata missing or unreadable, reading the data files found");
            self.read = Position::at(lo, 0);
            self.write = Position::at(hi, 0);
            // The depth is what those files hold (the last one is counted when the writer
            // skips past it), so the reader does not find a "negative depth" at the tail.
            // Only the files that exist: the numbers may have gaps of any size.
            for &num in &nums[..nums.len() - 1] {
                self.depth += self.count_whole_records(num, 0).0;
            }
        }
        Ok(())
    }

    /// If the metadata was not synced at the last shutdown the write file may hold records
    /// past `write.pos`. Writing there would overwrite them, so start a new file and let the
    /// reader salvage them (go-diskqueue v1.1.0 does the same).
    ///
    /// Unlike go-diskqueue, those records are counted into the depth: a process killed
    /// between a write(2) and the metadata sync after it leaves exactly this state (even
    /// when syncing after every record), and without the count the reader would reach the
    /// tail with a negative depth and report metadata corruption that did not happen. A
    /// record the kill cut short (its write never returned, so it was never acknowledged)
    /// is cut off the file instead of being read as corruption.
    fn skip_past_unsynced_writes(&mut self) {
        let path = self.data_file(self.write.file);
        match fs::metadata(&path) {
            Ok(meta) if i64::try_from(meta.len()).unwrap_or(i64::MAX) > self.write.pos => {
                warn!(queue = %self.opts.name, file = %path.display(), write_pos = self.write.pos, size = meta.len(), "disk queue metadata behind file size, skipping to new file");
                let (records, torn_at) = self.count_whole_records(self.write.file, self.write.pos);
                self.depth += records;
                if let Some(end) = torn_at {
                    self.cut_unfinished_record(end);
                }
                self.write.file += 1;
                self.write.pos = 0;
            }
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => {
                warn!(queue = %self.opts.name, file = %path.display(), error = %e, "disk queue cannot stat write file")
            }
        }
    }

    /// Counts the whole, well-formed records in data file `num` from byte `from` on. Also
    /// returns where an unfinished last record starts (the file ends inside it). Stops
    /// without that at a length out of bounds: that is real corruption, left for the
    /// reader to find and report. A file that cannot be read counts 0.
    fn count_whole_records(&self, num: i64, from: i64) -> (i64, Option<i64>) {
        let path = self.data_file(num);
        let (min, max) = (self.opts.min_msg_size, self.opts.max_msg_size);
        let scan = || -> io::Result<(i64, Option<i64>)> {
            let file = File::open(&path)?;
            let size = i64::try_from(file.metadata()?.len()).unwrap_or(i64::MAX);
            let mut reader = io::BufReader::new(file);
            reader.seek(SeekFrom::Start(u64::try_from(from).unwrap_or(0)))?;
            let (mut count, mut pos) = (0, from);
            while pos < size {
                if size - pos < PREFIX {
                    return Ok((count, Some(pos)));
                }
                let mut prefix = [0u8; 4];
                reader.read_exact(&mut prefix)?;
                let len = i32::from_be_bytes(prefix);
                if len < min || len > max {
                    return Ok((count, None));
                }
                let end = pos + PREFIX + i64::from(len);
                if end > size {
                    return Ok((count, Some(pos)));
                }
                reader.seek_relative(i64::from(len))?;
                count += 1;
                pos = end;
            }
            Ok((count, None))
        };
        match scan() {
            Ok(found) => found,
            Err(e) => {
                warn!(queue = %self.opts.name, file = %path.display(), error = %e, "disk queue cannot count the records of a data file");
                (0, None)
            }
        }
    }

    /// Truncates the last data file at `end`, where a record cut short by a crash starts.
    fn cut_unfinished_record(&self, end: i64) {
        let path = self.data_file(self.write.file);
        warn!(queue = %self.opts.name, file = %path.display(), pos = end, "disk queue dropping the unfinished record a crash left at the end of the file");
        let cut = OpenOptions::new()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_len(u64::try_from(end).unwrap_or(0)));
        if let Err(e) = cut {
            warn!(queue = %self.opts.name, file = %path.display(), error = %e, "disk queue cannot truncate the unfinished record");
        }
    }

    fn data_file(&self, num: i64) -> PathBuf {
        let name = format!("{}.diskqueue.{num:06}.dat", self.opts.name);
        self.opts.data_path.join(name)
    }

    fn meta_file(&self) -> PathBuf {
        let name = format!("{}.diskqueue.meta.dat", self.opts.name);
        self.opts.data_path.join(name)
    }
}

/// Data files this process has moved aside as `.bad` (every queue): logged with each
/// one as `bad_files_total`, for a metrics endpoint to export. Not in `/stats`, whose
/// JSON keeps Go nsqd's shape.
static BAD_FILES: AtomicU64 = AtomicU64::new(0);

/// How many data files this process has renamed `.bad`.
pub(crate) fn bad_files_total() -> u64 {
    BAD_FILES.load(Ordering::Relaxed)
}

/// The file number in a data file's name (`<prefix>NNNNNN.dat`), if it is one.
fn data_file_num(file_name: &str, prefix: &str) -> Option<i64> {
    let digits = file_name.strip_prefix(prefix)?.strip_suffix(".dat")?;
    if digits.len() < 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// New files get mode 0600, as in Go.
fn create_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Appends `[len][payload]` to `buf`; on a lying `Record` the partial frame is removed.
#[cfg(test)]
fn append_framed<R: Record + ?Sized>(
    buf: &mut Vec<u8>,
    rec: &R,
    len: usize,
) -> Result<(), DiskQueueError> {
    let start = buf.len();
    // `len` passed check_size, so it fits in an i32.
    buf.extend_from_slice(&(len as u32).to_be_bytes());
    rec.encode_into(buf);
    let actual = buf.len() - start - PREFIX as usize;
    if actual != len {
        buf.truncate(start);
        return Err(DiskQueueError::EncodedLenMismatch {
            expected: len,
            actual,
        });
    }
    Ok(())
}

/// The payload lengths of framed records; an incomplete frame is a caller bug.
fn frame_lengths(framed: &[u8]) -> Result<Vec<usize>, DiskQueueError> {
    let mut lens = Vec::new();
    let mut off = 0;
    while off < framed.len() {
        let len = framed
            .get(off..off + PREFIX as usize)
            .map(|p| u32::from_be_bytes([p[0], p[1], p[2], p[3]]) as usize);
        match len {
            Some(len) if off + PREFIX as usize + len <= framed.len() => {
                lens.push(len);
                off += PREFIX as usize + len;
            }
            _ => {
                return Err(DiskQueueError::EncodedLenMismatch {
                    expected: framed.len(),
                    actual: off,
                })
            }
        }
    }
    Ok(lens)
}

/// Parses `depth\nreadFile,readPos\nwriteFile,writePos\n`. Returns the values (unparsed
/// ones 0) and how many were parsed before the first bad one, as Go's Fscanf reports.
fn parse_metadata(text: &[u8]) -> ([i64; 5], usize) {
    let mut values = [0i64; 5];
    let text = String::from_utf8_lossy(text);
    let mut fields = text
        .split(['\n', ','])
        .map(|f| f.trim_matches([' ', '\t']).parse());
    for (i, value) in values.iter_mut().enumerate() {
        match fields.next() {
            Some(Ok(v)) => *value = v,
            _ => return (values, i),
        }
    }
    (values, values.len())
}

/// The open read file plus bytes read ahead. `buf[start..filled]` are the file's bytes
/// from the queue's read position on; consuming a record moves `start`.
struct ReadCursor {
    file: File,
    num: i64,
    path: PathBuf,
    /// Scratch space, zeroed once when it grows; only `start..filled` is meaningful.
    buf: Vec<u8>,
    start: usize,
    filled: usize,
    /// Where the file ends once it is finished (written out and rolled away from).
    end: Option<i64>,
}

impl ReadCursor {
    fn new(file: File, num: i64, path: PathBuf) -> Self {
        ReadCursor {
            file,
            num,
            path,
            buf: Vec::new(),
            start: 0,
            filled: 0,
            end: None,
        }
    }

    /// The end of a finished file: where the writer stopped, or (opened later) its size,
    /// so a different max_bytes_per_file in an earlier run does not matter.
    fn file_end(&mut self) -> Result<i64, ReadFailure> {
        if let Some(end) = self.end {
            return Ok(end);
        }
        let meta = self
            .file
            .metadata()
            .map_err(|e| io_err("stat", self.path.clone(), e))?;
        let end = i64::try_from(meta.len()).unwrap_or(i64::MAX);
        self.end = Some(end);
        Ok(end)
    }

    /// Reads the record at file offset `pos` (the first buffered byte), not looking past
    /// `limit`, and consumes it. Returns where its payload is in `buf` (valid until the
    /// next read).
    fn next_record(
        &mut self,
        pos: i64,
        limit: i64,
        min: i32,
        max: i32,
    ) -> Result<std::ops::Range<usize>, ReadFailure> {
        if !self.fill(PREFIX as usize, pos, limit)? {
            return Err(ReadFailure::Corrupt("short read of record length".into()));
        }
        let mut prefix = [0u8; 4];
        prefix.copy_from_slice(&self.buf[self.start..self.start + 4]);
        let len = i32::from_be_bytes(prefix);
        if len < min || len > max {
            return Err(ReadFailure::Corrupt(format!(
                "invalid message read size ({len})"
            )));
        }
        // `len` is within [min, max] and non-negative here (a negative one is below min
        // unless min is negative, which nsqd never configures).
        let total = PREFIX as usize + usize::try_from(len).unwrap_or(0);
        if !self.fill(total, pos, limit)? {
            return Err(ReadFailure::Corrupt(format!(
                "short read of {len}-byte record"
            )));
        }
        let rec = self.start + 4..self.start + total;
        self.start += total;
        Ok(rec)
    }

    /// Makes `need` bytes available from `start`, reading ahead up to `limit` with as few
    /// read calls as possible. False if the file (or `limit`) ends first.
    fn fill(&mut self, need: usize, pos: i64, limit: i64) -> Result<bool, ReadFailure> {
        let have = self.filled - self.start;
        if have >= need {
            return Ok(true);
        }
        let file_off = pos + have as i64;
        let allowed = usize::try_from(limit - file_off).unwrap_or(0);
        if have + allowed < need {
            return Ok(false);
        }
        self.buf.copy_within(self.start..self.filled, 0);
        self.start = 0;
        self.filled = have;
        self.resize_buffer(need.max(READ_AHEAD.min(have + allowed)));
        let stop = self.buf.len().min(have + allowed);
        while self.filled < need {
            match self.file.read(&mut self.buf[self.filled..stop]) {
                Ok(0) => return Ok(false),
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io_err("read", self.path.clone(), e).into()),
            }
        }
        Ok(true)
    }

    /// Grows the buffer to `size`, or shrinks it back to READ_AHEAD after a large record.
    fn resize_buffer(&mut self, size: usize) {
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        } else if self.buf.len() > READ_AHEAD && size <= READ_AHEAD {
            self.buf.truncate(READ_AHEAD);
            self.buf.shrink_to_fit();
        }
    }

    /// Frees the read-ahead memory while the queue is drained (nothing is buffered then).
    fn release_buffer(&mut self) {
        if self.start == self.filled {
            self.buf = Vec::new();
            self.start = 0;
            self.filled = 0;
        }
    }
}

#[cfg(test)]
#[path = "disk_held_tests.rs"]
mod held_tests;

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests fail loudly by design
pub(crate) mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory per test, removed on drop.
    pub(crate) struct TempDir(pub(crate) PathBuf);

    impl TempDir {
        pub(crate) fn new() -> Self {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!("diskqueue-test-{}-{n}", std::process::id());
            let path = std::env::temp_dir().join(name);
            let _ = fs::remove_dir_all(&path);
            fs::create_dir_all(&path).unwrap();
            TempDir(path)
        }

        fn file(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }

        fn names(&self) -> Vec<String> {
            let mut names: Vec<String> = fs::read_dir(&self.0)
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            names.sort();
            names
        }

        fn data_file(&self, num: i64) -> PathBuf {
            self.file(&format!("t.diskqueue.{num:06}.dat"))
        }

        fn meta(&self) -> Option<String> {
            fs::read_to_string(self.file("t.diskqueue.meta.dat")).ok()
        }

        fn size(&self, num: i64) -> u64 {
            fs::metadata(self.data_file(num)).unwrap().len()
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    fn options(dir: &TempDir, max_bytes_per_file: i64) -> DiskQueueOptions {
        DiskQueueOptions {
            data_path: dir.0.clone(),
            name: "t".into(),
            max_bytes_per_file,
            min_msg_size: 4,
            max_msg_size: 1 << 20,
            sync_every: 1_000_000,
            sync_timeout: Duration::from_secs(2),
        }
    }

    fn open(dir: &TempDir, max_bytes_per_file: i64) -> DiskQueue {
        DiskQueue::open(options(dir, max_bytes_per_file)).unwrap()
    }

    #[test]
    fn put_batch_and_put_framed_write_the_same_files() {
        let (a, b) = (TempDir::new(), TempDir::new());
        let (mut qa, mut qb) = (open(&a, 300), open(&b, 300));
        // Batches that fit the current file (written as they are) and ones that roll.
        for (batch, sizes) in [vec![20, 30], vec![100; 5], vec![8], vec![250, 9, 9]]
            .into_iter()
            .enumerate()
        {
            let recs: Vec<Vec<u8>> = sizes
                .iter()
                .enumerate()
                .map(|(i, &len)| payload(batch * 100 + i, len))
                .collect();
            let mut framed = Vec::new();
            for r in &recs {
                framed.extend_from_slice(&(r.len() as u32).to_be_bytes());
                framed.extend_from_slice(r);
            }
            qa.put_batch(&recs).unwrap();
            qb.put_framed(&framed).unwrap();
            assert_eq!(qa.depth(), qb.depth());
        }
        assert_eq!(a.names(), b.names());
        for num in 0..=qa.write.file {
            assert_eq!(
                fs::read(a.data_file(num)).unwrap(),
                fs::read(b.data_file(num)).unwrap()
            );
        }
        assert!(qb.put_framed(&[0, 0, 0, 9, 1]).is_err(), "truncated frame");
    }

    /// A recognisable payload of `len` (>= 8) bytes.
    fn payload(i: usize, len: usize) -> Vec<u8> {
        let mut v = format!("{i:08}").into_bytes();
        v.resize(len, b'x');
        v
    }

    /// Records 0..n of `len` bytes each, all put.
    fn put_n(q: &mut DiskQueue, n: usize, len: usize) -> Vec<Vec<u8>> {
        let recs: Vec<Vec<u8>> = (0..n).map(|i| payload(i, len)).collect();
        for rec in &recs {
            q.put(rec).unwrap();
        }
        recs
    }

    fn read_all(q: &mut DiskQueue) -> Vec<Bytes> {
        let mut out = Vec::new();
        while q.read_batch(7, &mut out).unwrap() > 0 {}
        out
    }

    fn corrupt(path: &Path, offset: u64, bytes: &[u8]) {
        let mut f = OpenOptions::new().write(true).open(path).unwrap();
        f.seek(SeekFrom::Start(offset)).unwrap();
        f.write_all(bytes).unwrap();
    }

    fn bad_files(dir: &TempDir) -> Vec<String> {
        dir.names()
            .into_iter()
            .filter(|n| n.ends_with(".bad"))
            .collect()
    }

    #[test]
    fn round_trip_across_rolls() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs: Vec<Vec<u8>> = (0..50).map(|i| payload(i, 8 + i % 13)).collect();
        for rec in &recs {
            q.put(rec).unwrap();
        }
        assert_eq!(q.depth(), 50);
        assert!(dir.names().len() > 5);
        assert_eq!(read_all(&mut q), recs);
        assert_eq!(q.depth(), 0);
        assert!(!q.is_readable());
        // Finished files are gone; the current write file and the metadata remain.
        let write_file = format!("t.diskqueue.{:06}.dat", q.write.file);
        assert_eq!(
            dir.names(),
            [write_file, "t.diskqueue.meta.dat".to_string()]
        );
    }

    #[test]
    fn spec_example_metadata_and_file_format() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let recs = put_n(&mut q, 3, 53);
        let mut out = Vec::new();
        assert_eq!(q.read_batch(1, &mut out).unwrap(), 1);
        assert_eq!(out, recs[..1]);
        q.sync().unwrap();
        assert_eq!(dir.meta().unwrap(), "2\n0,57\n0,171\n");
        assert_eq!(
            dir.names(),
            ["t.diskqueue.000000.dat", "t.diskqueue.meta.dat"]
        );
        let data = fs::read(dir.data_file(0)).unwrap();
        assert_eq!(data.len(), 171);
        assert_eq!(data[..4], [0, 0, 0, 53]);
        assert_eq!(data[4..57], recs[0]);
        assert_eq!(data[57..61], [0, 0, 0, 53]);
        #[cfg(unix)]
        for name in dir.names() {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(dir.file(&name)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{name}");
        }
    }

    #[test]
    fn reopen_after_close_continues() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let recs = put_n(&mut q, 10, 20);
        let mut out = Vec::new();
        q.read_batch(4, &mut out).unwrap();
        q.close().unwrap();
        assert_eq!(dir.meta().unwrap(), "6\n0,96\n0,240\n");

        let mut q = open(&dir, 1 << 20);
        assert_eq!(q.depth(), 6);
        q.put(&payload(10, 20)).unwrap();
        assert_eq!(dir.size(0), 264, "appends to the same file");
        let got = read_all(&mut q);
        assert_eq!(got[..6], recs[4..]);
        assert_eq!(got[6], payload(10, 20));
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn crash_with_stale_metadata_loses_nothing() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let mut recs = put_n(&mut q, 5, 20);
        q.sync().unwrap();
        for i in 5..10 {
            recs.push(payload(i, 20));
            q.put(&recs[i]).unwrap();
        }
        let mut out = Vec::new();
        q.read_batch(2, &mut out).unwrap();
        drop(q); // no close: the metadata still says 5 records, none read
        assert_eq!(dir.meta().unwrap(), "5\n0,0\n0,120\n");

        let mut q = open(&dir, 1 << 20);
        q.put(&payload(10, 20)).unwrap();
        assert!(dir.data_file(1).exists(), "new writes go to a new file");
        assert_eq!(dir.size(0), 240, "old file not overwritten");
        let got = read_all(&mut q);
        // The two consumed before the crash come again; nothing is lost.
        assert_eq!(got[..10], recs[..]);
        assert_eq!(got[10], payload(10, 20));
        assert_eq!(got.len(), 11);
        assert_eq!(q.depth(), 0);
        assert!(!dir.data_file(0).exists());
        assert!(bad_files(&dir).is_empty());
    }

    #[test]
    fn crash_before_first_sync_loses_nothing() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs = put_n(&mut q, 3, 20);
        drop(q);
        assert!(dir.meta().is_none());

        let mut q = open(&dir, 100);
        q.put(&payload(3, 20)).unwrap();
        assert!(dir.data_file(1).exists());
        let got = read_all(&mut q);
        assert_eq!(got[..3], recs[..]);
        assert_eq!(got[3], payload(3, 20));
        assert_eq!(q.depth(), 0);
    }

    /// Reads one record at a time, checking the depth counts down to exactly 0 (a reset at
    /// the tail would jump it there from a negative or positive value).
    fn read_counting_down(q: &mut DiskQueue) -> Vec<Bytes> {
        let mut out = Vec::new();
        let mut depth = q.depth();
        while q.read_batch(1, &mut out).unwrap() > 0 {
            depth -= 1;
            assert_eq!(q.depth(), depth, "after {} reads", out.len());
        }
        assert_eq!(depth, 0, "depth at the tail");
        out
    }

    /// The state a kill -9 leaves between a record's write(2) and the metadata sync after
    /// it (with `--sync-every=1` too): the write file is longer than the metadata says.
    #[test]
    fn kill_between_write_and_sync_counts_the_unsynced_records() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let mut recs = put_n(&mut q, 3, 20);
        q.sync().unwrap();
        recs.push(payload(3, 20));
        q.put(&recs[3]).unwrap();
        drop(q); // killed before the sync: metadata says 3 records
        assert_eq!(dir.meta().unwrap(), "3\n0,0\n0,72\n");

        let mut q = open(&dir, 1 << 20);
        assert_eq!(q.depth(), 4, "the unsynced record is counted");
        q.put(&payload(4, 20)).unwrap();
        recs.push(payload(4, 20));
        assert_eq!(read_counting_down(&mut q), recs);
        assert!(bad_files(&dir).is_empty());
    }

    /// The same with a queue never read and a roll since the last sync (the roll synced, the
    /// records in the new file did not).
    #[test]
    fn kill_after_roll_before_sync_counts_every_record() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100); // 4 records of 24 bytes per file
        let recs = put_n(&mut q, 2, 20);
        q.sync().unwrap();
        let more: Vec<Vec<u8>> = (2..6).map(|i| payload(i, 20)).collect();
        for r in &more {
            q.put(r).unwrap(); // the roll before the fifth record syncs; the rest do not
        }
        drop(q);
        let mut q = open(&dir, 100);
        let mut want = recs;
        want.extend(more);
        assert_eq!(q.depth(), 6);
        assert_eq!(read_counting_down(&mut q), want);
    }

    /// A record the kill cut short was never acknowledged: it is cut off, not reported as
    /// corruption (no `.bad` file), and what came before it is all there.
    #[test]
    fn unfinished_record_from_a_crash_is_cut_off() {
        for cut in [2, 10] {
            let dir = TempDir::new();
            let mut q = open(&dir, 1 << 20);
            let recs = put_n(&mut q, 2, 20);
            q.sync().unwrap();
            let more = put_n(&mut q, 2, 20);
            drop(q);
            // The second unsynced record only partly written.
            let f = OpenOptions::new()
                .write(true)
                .open(dir.data_file(0))
                .unwrap();
            f.set_len(48 + 24 + cut).unwrap();
            drop(f);

            let mut q = open(&dir, 1 << 20);
            assert_eq!(q.depth(), 3);
            assert_eq!(dir.size(0), 72, "cut at the unfinished record");
            let got = read_counting_down(&mut q);
            assert_eq!(got[..2], recs[..]);
            assert_eq!(got[2..], more[..1]);
            assert!(bad_files(&dir).is_empty(), "cut {cut}");
        }
    }

    /// No metadata at all (killed before the first sync): the depth is what the files hold.
    #[test]
    fn missing_metadata_depth_counts_the_files() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs = put_n(&mut q, 10, 20);
        drop(q);
        let _ = fs::remove_file(dir.file("t.diskqueue.meta.dat"));
        let mut q = open(&dir, 100);
        assert_eq!(q.depth(), 10);
        assert_eq!(read_counting_down(&mut q), recs);
    }

    #[test]
    fn garbled_metadata_reads_every_file_and_overwrites_none() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs = put_n(&mut q, 10, 20);
        q.close().unwrap();
        fs::write(dir.file("t.diskqueue.meta.dat"), "garbage\n").unwrap();
        let mut q = open(&dir, 100);
        let more = put_n(&mut q, 3, 20);
        let got = read_all(&mut q);
        let want: Vec<&[u8]> = recs.iter().chain(&more).map(Vec::as_slice).collect();
        let got: Vec<&[u8]> = got.iter().map(|b| b.as_ref()).collect();
        assert_eq!(got, want);
        assert!(bad_files(&dir).is_empty());
    }

    #[test]
    fn bytes_past_the_write_position_are_cut_before_writing() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1000);
        put_n(&mut q, 2, 20);
        q.sync().unwrap();
        drop(q);
        // A write that failed part-way (disk full) in a process that went on running:
        // reopening the write file must not leave those bytes behind the next record.
        let mut q = open(&dir, 1000);
        q.write_file = None;
        let mut f = OpenOptions::new()
            .append(true)
            .open(dir.data_file(0))
            .unwrap();
        // Longer than the record written next, so overwriting alone would not hide it.
        f.write_all(&[0, 0, 0, 60]).unwrap();
        f.write_all(&[7; 30]).unwrap();
        drop(f);
        put_n(&mut q, 1, 20);
        q.close().unwrap();
        assert_eq!(dir.size(0), 72);
        let mut q = open(&dir, 1000);
        assert_eq!(read_all(&mut q).len(), 3);
        assert!(bad_files(&dir).is_empty());
    }

    #[test]
    fn garbage_length_renames_file_and_reads_next() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100); // 4 records of 24 bytes per file
        let recs = put_n(&mut q, 12, 20);
        corrupt(&dir.data_file(1), 0, &[0xff, 0xff, 0xff, 0xff]);
        let got = read_all(&mut q);
        assert_eq!(got[..4], recs[..4]);
        assert_eq!(got[4..], recs[8..]);
        assert_eq!(bad_files(&dir), ["t.diskqueue.000001.dat.bad"]);
        assert!(bad_files_total() >= 1);
        assert_eq!(q.depth(), 0, "reset at the tail");
    }

    #[test]
    fn truncated_file_renamed_bad() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs = put_n(&mut q, 12, 20);
        let f = OpenOptions::new()
            .write(true)
            .open(dir.data_file(1))
            .unwrap();
        f.set_len(30).unwrap(); // one whole record, then 6 bytes
        drop(f);
        let got = read_all(&mut q);
        assert_eq!(got[..5], recs[..5]);
        assert_eq!(got[5..], recs[8..]);
        assert_eq!(bad_files(&dir), ["t.diskqueue.000001.dat.bad"]);
    }

    #[test]
    fn corrupt_write_file_moves_writer() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let recs = put_n(&mut q, 3, 20);
        corrupt(&dir.data_file(0), 24, &[0, 0, 0, 0]);
        assert_eq!(read_all(&mut q), recs[..1]);
        assert_eq!(bad_files(&dir), ["t.diskqueue.000000.dat.bad"]);
        assert_eq!(q.depth(), 0);
        q.put(&payload(7, 20)).unwrap();
        assert!(dir.data_file(1).exists());
        assert_eq!(read_all(&mut q), [payload(7, 20)]);
    }

    #[test]
    fn missing_file_is_skipped() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs = put_n(&mut q, 12, 20);
        fs::remove_file(dir.data_file(1)).unwrap();
        let got = read_all(&mut q);
        assert_eq!(got[..4], recs[..4]);
        assert_eq!(got[4..], recs[8..]);
    }

    #[test]
    fn empty_removes_files_and_metadata() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        put_n(&mut q, 12, 20);
        let mut out = Vec::new();
        q.read_batch(5, &mut out).unwrap();
        q.sync().unwrap();
        q.empty().unwrap();
        assert_eq!(q.depth(), 0);
        assert!(dir.names().is_empty(), "{:?}", dir.names());
        // No activity since: the metadata does not come back on a tick.
        q.tick(Instant::now() + Duration::from_secs(10)).unwrap();
        assert!(dir.meta().is_none());
        q.put(&payload(1, 20)).unwrap();
        assert_eq!(dir.names(), ["t.diskqueue.000003.dat"]);
        assert_eq!(read_all(&mut q), [payload(1, 20)]);
        q.close().unwrap();
        assert_eq!(dir.meta().unwrap(), "0\n3,24\n3,24\n");
    }

    #[test]
    fn uncommitted_reads_come_back_after_a_crash() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let written = put_n(&mut q, 8, 20);
        q.sync().unwrap();
        let mut out = Vec::new();
        // Across the roll from file 0 to file 1: file 0 must outlive the crash.
        assert_eq!(q.read_uncommitted(5, |p| out.push(p.to_vec())).unwrap(), 5);
        assert_eq!(dir.meta().unwrap(), "8\n0,0\n1,96\n");
        assert!(dir.data_file(0).exists());
        drop(q); // kill -9: no close
        let mut q = open(&dir, 100);
        let again = read_all(&mut q);
        assert_eq!(again.len(), 8);
        assert_eq!(again[0].as_ref(), written[0].as_slice());
        assert!(bad_files(&dir).is_empty());
    }

    #[test]
    fn commit_reads_syncs_and_removes_left_files() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        put_n(&mut q, 8, 20);
        assert_eq!(q.read_uncommitted(5, |_| {}).unwrap(), 5);
        q.commit_reads();
        assert_eq!(dir.meta().unwrap(), "3\n1,24\n1,96\n");
        assert!(!dir.data_file(0).exists());
    }

    #[test]
    fn finished_file_deleted_when_reader_leaves() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        put_n(&mut q, 12, 20);
        let mut out = Vec::new();
        q.read_batch(3, &mut out).unwrap();
        assert!(dir.data_file(0).exists());
        q.read_batch(1, &mut out).unwrap();
        assert!(!dir.data_file(0).exists());
        // Leaving a file syncs.
        assert_eq!(dir.meta().unwrap(), "8\n1,0\n2,96\n");
    }

    #[test]
    fn batch_rolls_in_the_middle() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let recs: Vec<Vec<u8>> = (0..5).map(|i| payload(i, 30)).collect();
        q.put_batch(&recs).unwrap();
        assert_eq!((dir.size(0), dir.size(1), dir.size(2)), (68, 68, 34));
        assert_eq!(q.depth(), 5);
        q.sync().unwrap();
        assert_eq!(dir.meta().unwrap(), "5\n0,0\n2,34\n");
        assert_eq!(read_all(&mut q), recs);
    }

    #[test]
    fn invalid_lengths_rejected() {
        let dir = TempDir::new();
        let mut opts = options(&dir, 100);
        opts.max_msg_size = 64;
        let mut q = DiskQueue::open(opts).unwrap();
        let batch = [vec![b'a'; 10], vec![b'b'; 3]];
        let err = q.put_batch(&batch).unwrap_err();
        assert!(matches!(err, DiskQueueError::InvalidSize { size: 3, .. }));
        assert!(q.put(&vec![0u8; 65]).is_err());
        assert_eq!(q.depth(), 0);
        assert!(dir.names().is_empty());
        q.put(&[1u8; 4][..]).unwrap();
        q.put(&Bytes::from(vec![2u8; 64])).unwrap();
        assert_eq!(read_all(&mut q), [vec![1u8; 4], vec![2u8; 64]]);
    }

    #[test]
    fn reader_chases_writer() {
        let dir = TempDir::new();
        let mut q = open(&dir, 100);
        let mut out = Vec::new();
        for i in 0..20 {
            q.put(&payload(i, 20)).unwrap();
            assert_eq!(q.read_batch(10, &mut out).unwrap(), 1);
            assert_eq!(out.pop().unwrap(), payload(i, 20));
            assert_eq!(q.depth(), 0);
        }
        // Uneven interleaving, with rolls while the reader is caught up or behind.
        let mut expected = Vec::new();
        for i in 20..60 {
            q.put(&payload(i, 20)).unwrap();
            expected.push(payload(i, 20));
            if i % 3 == 0 {
                q.read_batch(2, &mut out).unwrap();
            }
        }
        while q.read_batch(100, &mut out).unwrap() > 0 {}
        assert_eq!(out, expected);
        assert!(bad_files(&dir).is_empty());
        assert_eq!(dir.names().len(), 2, "write file and metadata");
    }

    #[test]
    fn sync_every_counts_records() {
        let dir = TempDir::new();
        let mut opts = options(&dir, 1 << 20);
        opts.sync_every = 3;
        let mut q = DiskQueue::open(opts).unwrap();
        put_n(&mut q, 2, 20);
        assert!(dir.meta().is_none());
        q.put(&payload(2, 20)).unwrap();
        assert_eq!(dir.meta().unwrap(), "3\n0,0\n0,72\n");
        let mut out = Vec::new();
        q.read_batch(2, &mut out).unwrap();
        assert_eq!(dir.meta().unwrap(), "3\n0,0\n0,72\n");
        q.read_batch(1, &mut out).unwrap();
        assert_eq!(dir.meta().unwrap(), "0\n0,72\n0,72\n");
    }

    #[test]
    fn tick_syncs_after_timeout_when_active() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        let start = Instant::now();
        q.tick(start + Duration::from_secs(3)).unwrap();
        assert!(dir.meta().is_none(), "no activity, no sync");
        q.put(&payload(0, 20)).unwrap();
        q.tick(Instant::now()).unwrap();
        assert!(dir.meta().is_none(), "timeout not reached");
        q.tick(Instant::now() + Duration::from_secs(3)).unwrap();
        assert_eq!(dir.meta().unwrap(), "1\n0,0\n0,24\n");
        fs::remove_file(dir.file("t.diskqueue.meta.dat")).unwrap();
        q.tick(Instant::now() + Duration::from_secs(6)).unwrap();
        assert!(dir.meta().is_none(), "no activity since the last sync");
    }

    #[test]
    fn records_larger_than_buffer_and_file() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1000);
        let recs = vec![payload(0, 10), payload(1, 300_000), payload(2, 10)];
        for rec in &recs {
            q.put(rec).unwrap();
        }
        assert_eq!(
            dir.size(1),
            300_004,
            "a lone record may exceed the file size"
        );
        assert_eq!(read_all(&mut q), recs);
    }

    #[test]
    fn stale_depth_at_tail_reset_on_open() {
        let dir = TempDir::new();
        let mut q = open(&dir, 1 << 20);
        put_n(&mut q, 1, 20);
        read_all(&mut q);
        drop(q);
        fs::write(dir.file("t.diskqueue.meta.dat"), "7\n0,24\n0,24\n").unwrap();
        let q = open(&dir, 1 << 20);
        assert_eq!(q.depth(), 0);
    }

    #[test]
    fn metadata_parsing() {
        assert_eq!(parse_metadata(b"2\n0,57\n0,171\n"), ([2, 0, 57, 0, 171], 5));
        assert_eq!(parse_metadata(b"2\n0,57\n0,171"), ([2, 0, 57, 0, 171], 5));
        assert_eq!(parse_metadata(b"5\n3,100\n"), ([5, 3, 100, 0, 0], 3));
        assert_eq!(parse_metadata(b"x"), ([0; 5], 0));
    }
}
