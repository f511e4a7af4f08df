//! Entry points for the fuzz targets in `fuzz/` (built only with the `fuzzing` feature):
//! thin wrappers that let libFuzzer drive crate-private parsers exactly as nsqd runs them.
//! Not an API: nothing here is used by nsqd itself.

use crate::config::Config;
use crate::queue::{DiskQueue, DiskQueueOptions, Packed};
use bytes::Bytes;
use protocol::json::identify::IdentifyRequest;
use protocol::Message;
use std::path::Path;
use std::time::Duration;

/// An IDENTIFY body as a connection handles it with default limits: decoded, negotiated,
/// and on success the feature-negotiation reply serialized.
pub fn identify(body: &[u8]) -> Result<Vec<u8>, String> {
    let limits = crate::tcp::identify_limits(&Config::default(), true);
    let req = IdentifyRequest::parse(body).map_err(|e| e.frame_text())?;
    let negotiated = crate::tcp::identify::negotiate(&req, &limits).map_err(|e| e.frame_text())?;
    let resp = crate::tcp::identify::response(&negotiated, &limits);
    serde_json::to_vec(&resp).map_err(|e| e.to_string())
}

/// An auth server's reply body: the number of permissions granted, or the error.
pub fn auth_reply(body: &[u8]) -> Result<usize, String> {
    crate::auth::parse_reply(body, "secret")
        .map(|s| s.permission_count())
        .map_err(|e| e.to_string())
}

/// `/pub`'s text mode body split into messages (`/mpub` without `binary`).
pub fn http_mpub_lines(body: &[u8], max_msg_size: i64) -> Option<Vec<Bytes>> {
    crate::http::publish::split_lines(Bytes::copy_from_slice(body), max_msg_size).ok()
}

/// `nsqd.dat` parsed; on success, written back as nsqd saves it.
pub fn metadata(data: &[u8]) -> Option<Vec<u8>> {
    let md = crate::metadata::parse(data).ok()?;
    let out = crate::metadata::to_json(&md).ok()?;
    let again = crate::metadata::parse(&out).ok();
    assert_eq!(again.as_ref(), Some(&md), "nsqd.dat does not read back");
    Some(out)
}

/// Decodes a `Packed` run over `data` claimed to hold `count` records, popping one message
/// per zero bit of `ops` and splitting off `op` records otherwise. Returns the messages
/// decoded.
pub fn packed(data: &[u8], count: usize, ops: &[u8]) -> Vec<Message> {
    let mut run = Packed::from_raw(Bytes::copy_from_slice(data), count);
    let mut out = Vec::new();
    for &op in ops.iter().chain(std::iter::repeat_n(&0, count.min(4096))) {
        if run.is_empty() {
            break;
        }
        if op & 1 == 0 {
            match run.pop_front() {
                Some(m) => out.push(m),
                None => assert!(run.is_empty(), "pop_front failed but the run goes on"),
            }
        } else {
            let before = run.len();
            let mut head = run.split_to(usize::from(op >> 1));
            assert!(head.len() + run.len() <= before, "split made records");
            while let Some(m) = head.pop_front() {
                out.push(m);
            }
        }
    }
    assert!(out.len() <= count, "more messages than records");
    out
}

/// Disk queue limits the fuzz target uses: records of 26..=26+1024 bytes.
pub const DISK_MIN_MSG: i32 = 26;
pub const DISK_MAX_MSG: i32 = 26 + 1024;

/// Opens the queue `q` in `dir` (whatever files are there) and reads it out: up to
/// `max_reads` calls of up to 16 records. Then, if it was read to the end, writes
/// `payload` as one record and reads again: the second value says whether exactly that
/// record came back (`None`: not read to the end, or an I/O error).
pub fn disk_queue(
    dir: &Path,
    max_reads: usize,
    payload: &[u8],
) -> Result<(Vec<Vec<u8>>, Option<bool>), String> {
    let mut q = open_disk_queue(dir)?;
    let mut out = Vec::new();
    for _ in 0..max_reads {
        if !q.is_readable() {
            break;
        }
        q.read_with(16, |p| out.push(p.to_vec()))
            .map_err(|e| e.to_string())?;
    }
    if q.is_readable() {
        return Ok((out, None));
    }
    let mut framed = (payload.len() as u32).to_be_bytes().to_vec();
    framed.extend_from_slice(payload);
    if q.put_framed(&framed).is_err() {
        return Ok((out, None));
    }
    let mut back = Vec::new();
    if q.read_with(16, |p| back.push(p.to_vec())).is_err() {
        return Ok((out, None));
    }
    Ok((out, Some(back == [payload.to_vec()])))
}

fn open_disk_queue(dir: &Path) -> Result<DiskQueue, String> {
    DiskQueue::open(DiskQueueOptions {
        data_path: dir.to_path_buf(),
        name: "q".to_string(),
        max_bytes_per_file: 4096,
        min_msg_size: DISK_MIN_MSG,
        max_msg_size: DISK_MAX_MSG,
        sync_every: 1 << 20,
        sync_timeout: Duration::from_secs(3600),
    })
    .map_err(|e| e.to_string())
}

/// nsqd's command line with `--config=<path>`: `Ok` with the config's TCP address, or the
/// error text nsqd would print.
pub fn config_file(path: &Path) -> Result<String, String> {
    let args = ["nsqd".to_string(), format!("--config={}", path.display())];
    match crate::config::parse_args(args) {
        Ok(crate::config::Parsed::Run(c)) => Ok(c.tcp_address.clone()),
        Ok(_) => Ok(String::new()),
        Err(e) => Err(e.to_string()),
    }
}
