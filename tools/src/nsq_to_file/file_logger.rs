//! One topic's output file, as Go nsq_to_file v1.3.0's `FileLogger` keeps it: the name
//! from `--filename-format` (with `<DATETIME>` rendered now and `<REV>` as `-%06d`),
//! rotation (new name, `--rotate-interval`, `--rotate-size` counted in bytes written
//! before compression), opening (append, or exclusive create with gzip or a rotate
//! interval; a name taken in the output dir or a file already over the size bumps
//! `<REV>`), sync (fsync; with gzip the current member is finished first and a new one
//! begun), and close (fsync, then the move from `--work-dir` to `--output-dir` by hard
//! link and unlink, which never overwrites: `<REV>` is bumped until a name is free).
//! Every file-system failure is fatal, as in Go: the messages of the batch were not
//! FINished, so nsqd keeps them.

use super::gopath::{self, path_error};
use super::localtime::{strftime, LocalTime};
use super::log::Log;
use super::Settings;
use flate2::write::GzEncoder;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::sync::Arc;
use std::time::Instant;

/// Where bytes go: the file, or a gzip member on it.
enum Writer {
    Plain(File),
    Gzip(GzEncoder<File>),
}

/// The open file.
struct Out {
    writer: Writer,
    /// The full path it was opened as (Go's `f.out.Name()`).
    name: String,
}

pub(crate) struct FileLogger {
    settings: Arc<Settings>,
    log: Arc<Log>,
    /// `[topic/channel]`, the start of every line about this logger.
    tag: String,
    filename_format: String,
    out: Option<Out>,
    filename: String,
    open_time: Instant,
    filesize: i64,
    rev: u64,
}

/// Go's `-%06d` for `<REV>`.
fn rev_text(rev: u64) -> String {
    format!("-{rev:06}")
}

/// Go's `strings.TrimPrefix`.
fn trim_prefix<'a>(s: &'a str, prefix: &str) -> &'a str {
    s.strip_prefix(prefix).unwrap_or(s)
}

/// Go's `os.MkdirAll(dir, 0770)` of the directory part of `path`.
fn make_dir_from_path(path: &str) -> Result<(), String> {
    let (dir, _) = gopath::split(path);
    if dir.is_empty() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o770);
    builder
        .recursive(true)
        .create(dir)
        .map_err(|e| path_error("mkdir", dir.trim_end_matches('/'), &e))
}

/// Go's `exclusiveRename`: hard link, then unlink the source.
fn exclusive_rename(src: &str, dst: &str) -> io::Result<()> {
    std::fs::hard_link(src, dst)?;
    std::fs::remove_file(src)
}

/// Go's `computeFilenameFormat`: the format with `<TOPIC>`, `<HOST>`, `<PID>` filled,
/// `<REV>` required (gzip, rotation or a work dir) or removed, `.gz` appended for gzip.
pub(crate) fn filename_format(s: &Settings, topic: &str) -> Result<String, String> {
    let hostname = daemon::hostname();
    let short = hostname.split('.').next().unwrap_or_default().to_string();
    let identifier = if s.host_identifier.is_empty() {
        short
    } else {
        s.host_identifier
            .replace("<SHORT_HOST>", &short)
            .replace("<HOSTNAME>", &hostname)
    };
    let mut cff = s.filename_format.clone();
    if s.gzip || s.rotate_size > 0 || s.rotate_interval.is_some() || s.work_dir != s.output_dir {
        if !cff.contains("<REV>") {
            return Err(
                "missing <REV> in --filename-format when gzip, rotation, or work dir enabled"
                    .into(),
            );
        }
    } else {
        cff = cff.replace("<REV>", "");
    }
    cff = cff
        .replace("<TOPIC>", topic)
        .replace("<HOST>", &identifier)
        .replace("<PID>", &std::process::id().to_string());
    if s.gzip && !cff.ends_with(".gz") {
        cff.push_str(".gz");
    }
    Ok(cff)
}

impl FileLogger {
    pub(crate) fn new(
        settings: Arc<Settings>,
        log: Arc<Log>,
        topic: &str,
        filename_format: String,
    ) -> FileLogger {
        let tag = format!("[{topic}/{}]", settings.channel);
        FileLogger {
            settings,
            log,
            tag,
            filename_format,
            out: None,
            filename: String::new(),
            open_time: Instant::now(),
            filesize: 0,
            rev: 0,
        }
    }

    pub(crate) fn tag(&self) -> &str {
        &self.tag
    }

    fn fatal(&self, message: &str) -> ! {
        self.log.fatal(&format!("{} {message}", self.tag))
    }

    /// An INFO line about this logger.
    pub(crate) fn log_info(&self, message: &str) {
        self.log.info(&format!("{} {message}", self.tag));
    }

    /// A FATAL line as it is, then exit status 1.
    pub(crate) fn log_fatal(&self, message: &str) -> ! {
        self.log.fatal(message)
    }

    /// Writes `p` (Go's `FileLogger.Write`: the size counts what went in, before gzip).
    pub(crate) fn write(&mut self, p: &[u8]) -> Result<(), String> {
        let Some(out) = self.out.as_mut() else {
            return Err("no file open".into());
        };
        let written = match &mut out.writer {
            Writer::Plain(f) => f.write_all(p),
            Writer::Gzip(g) => g.write_all(p),
        };
        self.filesize += p.len() as i64;
        written.map_err(|e| path_error("write", &out.name, &e))
    }

    /// Go's `FileLogger.Sync`: fsync; with gzip, the member is finished first and a new
    /// one begun (the file is a concatenation of gzip streams).
    pub(crate) fn sync(&mut self) -> Result<(), String> {
        let level = self.settings.gzip_level;
        let Some(out) = self.out.take() else {
            return Ok(());
        };
        let name = out.name;
        let (file, result) = match out.writer {
            Writer::Plain(f) => {
                let r = f.sync_all();
                (f, r)
            }
            Writer::Gzip(g) => match g.finish() {
                Ok(f) => {
                    let r = f.sync_all();
                    (f, r)
                }
                Err(e) => return Err(path_error("write", &name, &e)),
            },
        };
        let writer = if self.settings.gzip {
            Writer::Gzip(GzEncoder::new(file, flate2::Compression::new(level)))
        } else {
            Writer::Plain(file)
        };
        self.out = Some(Out {
            writer,
            name: name.clone(),
        });
        result.map_err(|e| path_error("sync", &name, &e))
    }

    fn current_filename(&self) -> String {
        let datetime = strftime(&self.settings.datetime_format, &LocalTime::now());
        self.filename_format.replace("<DATETIME>", &datetime)
    }

    /// Go's `needsRotation`: nothing open, a new name, the interval passed, or the size
    /// exceeded.
    pub(crate) fn needs_rotation(&self) -> bool {
        let Some(out) = &self.out else {
            return true;
        };
        let filename = self.current_filename();
        if filename != self.filename {
            self.log.info(&format!(
                "{} new filename {filename}, rotating...",
                self.tag
            ));
            return true;
        }
        if let Some(interval) = self.settings.rotate_interval {
            let since = self.open_time.elapsed();
            if since > interval {
                self.log.info(&format!(
                    "{} {} since last open, rotating...",
                    self.tag,
                    crate::goconfig::GoDuration::of(since)
                ));
                return true;
            }
        }
        let max = self.settings.rotate_size;
        if max > 0 && self.filesize > max {
            self.log.info(&format!(
                "{} {} currently {} bytes (> {max}), rotating...",
                self.tag, out.name, self.filesize
            ));
            return true;
        }
        false
    }

    /// Go's `Close`: finish gzip, fsync, close, and move a work-dir file to the output
    /// dir without overwriting. Failures are fatal.
    pub(crate) fn close(&mut self) {
        let Some(out) = self.out.take() else {
            return;
        };
        let src = out.name;
        let file = match out.writer {
            Writer::Plain(f) => f,
            Writer::Gzip(g) => match g.finish() {
                Ok(f) => f,
                Err(e) => self.fatal(&format!(
                    "failed to close GZIP writer: {}",
                    path_error("write", &src, &e)
                )),
            },
        };
        if let Err(e) = file.sync_all() {
            self.fatal(&format!(
                "failed to fsync output file: {}",
                path_error("sync", &src, &e)
            ));
        }
        drop(file);
        let s = Arc::clone(&self.settings);
        if s.work_dir == s.output_dir {
            return;
        }
        let dst = gopath::join(&[&s.output_dir, trim_prefix(&src, &s.work_dir)]);
        self.log
            .info(&format!("{} moving finished file {src} to {dst}", self.tag));
        match exclusive_rename(&src, &dst) {
            Ok(()) => return,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => self.fatal(&format!(
                "unable to move file from {src} to {dst}: {}",
                link_error(&src, &dst, &e)
            )),
        }
        // The name is taken: bump <REV> until one is free.
        let (_, template) = gopath::split(&self.filename);
        let (dst_dir, _) = gopath::split(&dst);
        let dst_template = gopath::join(&[dst_dir, template]);
        let mut rev = self.rev + 1;
        loop {
            self.log.warn(&format!(
                "{} destination file already exists: {dst}",
                self.tag
            ));
            let next = dst_template.replace("<REV>", &rev_text(rev));
            match exclusive_rename(&src, &next) {
                Ok(()) => {
                    self.log.info(&format!(
                        "{} renamed finished file {src} to {next} to avoid overwrite",
                        self.tag
                    ));
                    return;
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => rev += 1,
                Err(e) => self.fatal(&format!(
                    "unable to rename file from {src} to {next}: {}",
                    link_error(&src, &next, &e)
                )),
            }
        }
    }

    /// Go's `updateFile`: close the current file, then open the next (a new name starts
    /// at `<REV>` 0, the same name at the next `<REV>`), skipping names taken in the
    /// output dir, taken in the work dir (exclusive create) or already over the size.
    pub(crate) fn update_file(&mut self) {
        self.close();
        let filename = self.current_filename();
        if filename != self.filename {
            self.rev = 0;
        } else {
            self.rev += 1;
        }
        self.filename = filename;
        self.open_time = Instant::now();
        let s = Arc::clone(&self.settings);
        let full_path = gopath::join(&[&s.work_dir, &self.filename]);
        if let Err(e) = make_dir_from_path(&full_path) {
            self.fatal(&format!("unable to create dir: {e}"));
        }
        let exclusive = s.gzip || s.rotate_interval.is_some();
        loop {
            let abs = full_path.replace("<REV>", &rev_text(self.rev));
            if s.work_dir != s.output_dir {
                let output_name = gopath::join(&[&s.output_dir, trim_prefix(&abs, &s.work_dir)]);
                if let Err(e) = make_dir_from_path(&output_name) {
                    self.fatal(&format!("unable to create dir: {e}"));
                }
                match std::fs::metadata(&output_name) {
                    Ok(_) => {
                        self.log.warn(&format!(
                            "{} output file already exists: {output_name}",
                            self.tag
                        ));
                        self.rev += 1;
                        continue;
                    }
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => self.fatal(&format!(
                        "unable to stat output file {output_name}: {}",
                        path_error("stat", &output_name, &e)
                    )),
                }
            }
            let mut open = OpenOptions::new();
            open.write(true).mode(0o666);
            if exclusive {
                open.create_new(true);
            } else {
                open.create(true).append(true);
            }
            let file = match open.open(&abs) {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    self.log
                        .warn(&format!("{} working file already exists: {abs}", self.tag));
                    self.rev += 1;
                    continue;
                }
                Err(e) => self.fatal(&format!(
                    "unable to open {abs}: {}",
                    path_error("open", &abs, &e)
                )),
            };
            self.log.info(&format!("{} opening {abs}", self.tag));
            self.filesize = match file.metadata() {
                Ok(m) => i64::try_from(m.len()).unwrap_or(i64::MAX),
                Err(e) => self.fatal(&format!(
                    "unable to stat file {abs}: {}",
                    path_error("stat", &abs, &e)
                )),
            };
            if s.rotate_size > 0 && self.filesize > s.rotate_size {
                self.log.info(&format!(
                    "{} {abs} currently {} bytes (> {}), rotating...",
                    self.tag, self.filesize, s.rotate_size
                ));
                self.rev += 1;
                continue;
            }
            let writer = if s.gzip {
                Writer::Gzip(GzEncoder::new(file, flate2::Compression::new(s.gzip_level)))
            } else {
                Writer::Plain(file)
            };
            self.out = Some(Out { writer, name: abs });
            return;
        }
    }
}

/// Go's `*os.LinkError` text.
fn link_error(src: &str, dst: &str, e: &io::Error) -> String {
    format!("link {src} {dst}: {}", gopath::errno_text(e))
}
