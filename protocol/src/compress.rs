//! Stream compression negotiated by IDENTIFY: the Snappy framing format or raw DEFLATE,
//! applied to whole buffers, the same on both ends of a connection. nsqd reads raw bytes,
//! `decode`s them into its command buffer, and `encode`s its output buffer before each
//! write, so the command and delivery code never know compression is on; a client does
//! the same with its commands and the server's frames.
//!
//! Decoding is bounded: `decode_limited` stops once the plain buffer holds a given number
//! of bytes (the largest command the connection accepts), so a small compressed frame
//! cannot inflate into a huge buffer (a decompression bomb). What is left stays in the
//! codec and the raw buffer for the next call, after the reader consumed what it could.

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";
/// Largest uncompressed chunk the framing format allows.
const SNAPPY_MAX_CHUNK: usize = 65536;
/// Largest data chunk body (checksum + compressed data) a valid stream has: the worst-case
/// snappy encoding of a full 64 KiB chunk, plus the checksum (the Go reader's bound too).
const SNAPPY_MAX_DATA_CHUNK: usize = 4 + 32 + SNAPPY_MAX_CHUNK + SNAPPY_MAX_CHUNK / 6;
/// Deflate output produced per step; the plain buffer grows by at most this past need.
const DEFLATE_STEP: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("snappy: {0}")]
    Snappy(String),
    #[error("deflate: {0}")]
    Deflate(String),
    /// The plain buffer already held the cap when decoding was asked for more: the reader
    /// did not consume a command that large, so the peer sent more than any command.
    #[error("decompressed input exceeds {0} bytes")]
    TooLarge(usize),
}

/// How far a bounded decode got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded {
    /// Every complete unit of the raw input was decoded.
    All,
    /// Stopped at the cap: consume from the plain buffer, then call again (without new
    /// raw input) to go on.
    Capped,
}

pub enum Codec {
    Snappy(Box<Snappy>),
    Deflate(Box<Deflate>),
}

impl Codec {
    pub fn snappy() -> Codec {
        Codec::Snappy(Box::default())
    }

    pub fn deflate(level: u32) -> Codec {
        Codec::Deflate(Box::new(Deflate::new(level)))
    }

    /// Consume every complete unit of `raw`, appending plain bytes to `plain`, without a
    /// bound on the output (for trusted peers: a client reading its server's frames).
    pub fn decode(
        &mut self,
        raw: &mut BytesMut,
        plain: &mut BytesMut,
    ) -> Result<(), CompressError> {
        self.decode_limited(raw, plain, usize::MAX).map(|_| ())
    }

    /// Like `decode`, but stop once `plain` holds `max_plain` bytes (snappy may pass it
    /// by up to one 64 KiB chunk, deflate not at all) and say so with `Decoded::Capped`.
    /// Called while `plain` already holds `max_plain` bytes, it fails with `TooLarge`.
    pub fn decode_limited(
        &mut self,
        raw: &mut BytesMut,
        plain: &mut BytesMut,
        max_plain: usize,
    ) -> Result<Decoded, CompressError> {
        if plain.len() >= max_plain {
            return Err(CompressError::TooLarge(max_plain));
        }
        match self {
            Codec::Snappy(s) => s.decode(raw, plain, max_plain),
            Codec::Deflate(d) => d.decode(raw, plain, max_plain),
        }
    }

    /// Compress all of `plain` into `raw`, flushed so the peer can decode it at once.
    pub fn encode(&mut self, plain: &[u8], raw: &mut Vec<u8>) -> Result<(), CompressError> {
        match self {
            Codec::Snappy(s) => s.encode(plain, raw),
            Codec::Deflate(d) => d.encode(plain, raw),
        }
    }
}

/// The checksum the framing format stores: CRC-32C, rotated and offset.
fn masked_crc(data: &[u8]) -> u32 {
    let c = crc32c::crc32c(data);
    c.rotate_right(15).wrapping_add(0xa282_ead8)
}

pub struct Snappy {
    started_out: bool,
    seen_stream_id: bool,
    /// Bytes of a skippable chunk still to be discarded as they arrive.
    skip_left: usize,
    enc: snap::raw::Encoder,
    dec: snap::raw::Decoder,
    scratch: Vec<u8>,
}

impl Default for Snappy {
    fn default() -> Self {
        Snappy {
            started_out: false,
            seen_stream_id: false,
            skip_left: 0,
            enc: snap::raw::Encoder::new(),
            dec: snap::raw::Decoder::new(),
            scratch: Vec::new(),
        }
    }
}

impl Snappy {
    fn decode(
        &mut self,
        raw: &mut BytesMut,
        plain: &mut BytesMut,
        max_plain: usize,
    ) -> Result<Decoded, CompressError> {
        let bad = |m: &str| CompressError::Snappy(m.to_string());
        if self.skip_left > 0 {
            let n = self.skip_left.min(raw.len());
            raw.advance(n);
            self.skip_left -= n;
        }
        while raw.len() >= 4 && self.skip_left == 0 {
            if plain.len() >= max_plain {
                return Ok(Decoded::Capped);
            }
            let kind = raw[0];
            let len = usize::from(raw[1]) | usize::from(raw[2]) << 8 | usize::from(raw[3]) << 16;
            if self.seen_stream_id && (0x80..=0xfe).contains(&kind) && raw.len() < 4 + len {
                // A skippable chunk (up to 16 MiB) is discarded as it arrives, not buffered.
                self.skip_left = 4 + len - raw.len();
                raw.clear();
                break;
            }
            if kind <= 0x01 && len > SNAPPY_MAX_DATA_CHUNK {
                return Err(bad("chunk too large"));
            }
            if kind == 0xff && len != 6 {
                return Err(bad("bad stream identifier"));
            }
            if raw.len() < 4 + len {
                return Ok(Decoded::All);
            }
            let chunk = raw.split_to(4 + len);
            let body = &chunk[4..];
            if !self.seen_stream_id && kind != 0xff {
                return Err(bad("stream does not start with a stream identifier"));
            }
            match kind {
                0xff => {
                    if body != b"sNaPpY" {
                        return Err(bad("bad stream identifier"));
                    }
                    self.seen_stream_id = true;
                }
                0x00 | 0x01 => {
                    if body.len() < 4 {
                        return Err(bad("chunk too short"));
                    }
                    let crc = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                    let data = &body[4..];
                    let start = plain.len();
                    if kind == 0x00 {
                        let n = snap::raw::decompress_len(data).map_err(|e| bad(&e.to_string()))?;
                        if n > SNAPPY_MAX_CHUNK {
                            return Err(bad("chunk too large"));
                        }
                        plain.resize(start + n, 0);
                        self.dec
                            .decompress(data, &mut plain[start..])
                            .map_err(|e| bad(&e.to_string()))?;
                    } else {
                        plain.extend_from_slice(data);
                    }
                    if masked_crc(&plain[start..]) != crc {
                        return Err(bad("checksum mismatch"));
                    }
                }
                0x80..=0xfe => {}
                _ => return Err(bad("reserved unskippable chunk")),
            }
        }
        Ok(Decoded::All)
    }

    fn encode(&mut self, plain: &[u8], raw: &mut Vec<u8>) -> Result<(), CompressError> {
        if !self.started_out {
            raw.extend_from_slice(SNAPPY_STREAM_ID);
            self.started_out = true;
        }
        for piece in plain.chunks(SNAPPY_MAX_CHUNK) {
            let crc = masked_crc(piece);
            self.scratch
                .resize(snap::raw::max_compress_len(piece.len()), 0);
            let n = self
                .enc
                .compress(piece, &mut self.scratch)
                .map_err(|e| CompressError::Snappy(e.to_string()))?;
            let (kind, data) = if n < piece.len() {
                (0x00u8, &self.scratch[..n])
            } else {
                (0x01u8, piece)
            };
            let len = data.len() + 4;
            raw.push(kind);
            raw.extend_from_slice(&(len as u32).to_le_bytes()[..3]);
            raw.extend_from_slice(&crc.to_le_bytes());
            raw.extend_from_slice(data);
        }
        Ok(())
    }
}

pub struct Deflate {
    comp: Compress,
    decomp: Decompress,
}

impl Deflate {
    fn new(level: u32) -> Deflate {
        Deflate {
            comp: Compress::new(Compression::new(level.clamp(1, 9)), false),
            decomp: Decompress::new(false),
        }
    }

    /// Inflates straight into `plain`, a step at a time, never growing it past
    /// `max_plain`: the decompressor keeps what did not fit for the next call.
    fn decode(
        &mut self,
        raw: &mut BytesMut,
        plain: &mut BytesMut,
        max_plain: usize,
    ) -> Result<Decoded, CompressError> {
        // First step sized to the input (a typical command inflates a few times over).
        let mut step = raw.len().saturating_mul(4).clamp(4096, DEFLATE_STEP);
        loop {
            let room = max_plain.saturating_sub(plain.len());
            if room == 0 {
                return Ok(Decoded::Capped);
            }
            let want = step.min(room);
            let start = plain.len();
            plain.resize(start + want, 0);
            let before_in = self.decomp.total_in();
            let before_out = self.decomp.total_out();
            let status =
                self.decomp
                    .decompress(&raw[..], &mut plain[start..], FlushDecompress::Sync);
            let consumed = (self.decomp.total_in() - before_in) as usize;
            let produced = (self.decomp.total_out() - before_out) as usize;
            plain.truncate(start + produced);
            raw.advance(consumed);
            let status = status.map_err(|e| CompressError::Deflate(e.to_string()))?;
            if status == Status::StreamEnd {
                return Err(CompressError::Deflate("unexpected end of stream".into()));
            }
            // Go on while the output filled up (the decompressor may hold more back) or
            // input is left and progress is made; stop when neither holds.
            let full = produced == want;
            if !full && (raw.is_empty() || (consumed == 0 && produced == 0)) {
                return Ok(Decoded::All);
            }
            step = DEFLATE_STEP;
        }
    }

    fn encode(&mut self, plain: &[u8], raw: &mut Vec<u8>) -> Result<(), CompressError> {
        let mut input = plain;
        loop {
            raw.reserve(input.len() / 2 + 1024);
            let before_in = self.comp.total_in();
            self.comp
                .compress_vec(input, raw, FlushCompress::Sync)
                .map_err(|e| CompressError::Deflate(e.to_string()))?;
            let consumed = (self.comp.total_in() - before_in) as usize;
            input = &input[consumed..];
            // Output stopped short of the room it had: all input is in and flushed.
            if input.is_empty() && raw.len() < raw.capacity() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn round_trip(mut codec: Codec, mut peer: Codec) {
        let msgs: Vec<Vec<u8>> = vec![
            b"OK".to_vec(),
            vec![b'a'; 100_000],
            (0..70_000u32).map(|i| (i * 7919 % 251) as u8).collect(),
            b"x".to_vec(),
        ];
        let mut wire = Vec::new();
        for m in &msgs {
            codec.encode(m, &mut wire).expect("encode");
        }
        // Feed the wire to the peer split at awkward points.
        let mut raw = BytesMut::new();
        let mut plain = BytesMut::new();
        for piece in wire.chunks(777) {
            raw.extend_from_slice(piece);
            peer.decode(&mut raw, &mut plain).expect("decode");
        }
        assert!(raw.is_empty(), "leftover raw bytes");
        assert_eq!(plain.to_vec(), msgs.concat());
    }

    #[test]
    fn snappy_round_trip() {
        round_trip(Codec::snappy(), Codec::snappy());
    }

    #[test]
    fn deflate_round_trip() {
        round_trip(Codec::deflate(6), Codec::deflate(6));
    }

    #[test]
    fn snappy_interoperates_with_snap_frames() {
        // What pynsq does: a new stream (with identifier) per send.
        let mut raw = BytesMut::new();
        for msg in [&b"PUB t\n"[..], b"NOP\n"] {
            let mut w = snap::write::FrameEncoder::new(Vec::new());
            w.write_all(msg).expect("write");
            raw.extend_from_slice(&w.into_inner().expect("flush"));
        }
        let mut s = Codec::snappy();
        let mut plain = BytesMut::new();
        s.decode(&mut raw, &mut plain).expect("decode");
        assert_eq!(&plain[..], b"PUB t\nNOP\n");
        // And our output reads back with the reference frame decoder.
        let mut wire = Vec::new();
        s.encode(b"hello hello hello", &mut wire).expect("encode");
        let mut out = Vec::new();
        snap::read::FrameDecoder::new(&wire[..])
            .read_to_end(&mut out)
            .expect("frame decode");
        assert_eq!(out, b"hello hello hello");
    }

    #[test]
    fn deflate_reads_a_flushing_peer() {
        // A peer (go-nsq, pynsq) sync-flushes after every command.
        let msgs: Vec<Vec<u8>> = (0..20u32)
            .map(|i| {
                let n = 16 + (i as usize * 7919) % 70_000;
                (0..n as u32)
                    .map(|j| (j.wrapping_mul(2_654_435_761) >> (i % 7)) as u8)
                    .collect()
            })
            .collect();
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(5));
        let mut d = Codec::deflate(6);
        let mut raw = BytesMut::new();
        let mut plain = BytesMut::new();
        for m in &msgs {
            enc.write_all(m).expect("write");
            enc.flush().expect("flush");
            let wire = std::mem::take(enc.get_mut());
            for piece in wire.chunks(1000) {
                raw.extend_from_slice(piece);
                d.decode(&mut raw, &mut plain).expect("decode");
            }
        }
        assert_eq!(plain.len(), msgs.iter().map(Vec::len).sum::<usize>());
        assert_eq!(plain.to_vec(), msgs.concat());
    }

    #[test]
    fn snappy_rejects_garbage() {
        let mut s = Codec::snappy();
        let mut raw = BytesMut::from(&b"\x00\x05\x00\x00abcde"[..]);
        assert!(s.decode(&mut raw, &mut BytesMut::new()).is_err());
    }

    #[test]
    fn deflate_output_is_raw_and_sync_flushed() {
        let mut d = Codec::deflate(6);
        let mut wire = Vec::new();
        d.encode(b"hello", &mut wire).expect("encode");
        assert!(wire.ends_with(&[0, 0, 0xff, 0xff]), "sync flush marker");
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&wire[..])
            .read_to_end(&mut out)
            .ok();
        assert_eq!(out, b"hello");
    }

    /// A small frame that inflates to 64 MiB of zeros.
    fn deflate_bomb() -> Vec<u8> {
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            enc.write_all(&zeros).expect("write");
        }
        enc.flush().expect("flush");
        enc.get_ref().clone()
    }

    #[test]
    fn deflate_decode_stops_at_the_cap() {
        let bomb = deflate_bomb();
        assert!(bomb.len() < 128 * 1024, "bomb is {} bytes", bomb.len());
        let cap = 1 << 20;
        let mut d = Codec::deflate(6);
        let mut raw = BytesMut::from(&bomb[..]);
        let mut plain = BytesMut::new();
        let mut total = 0usize;
        // A reader that consumes everything between calls gets all of it, a cap at a time.
        loop {
            let r = d.decode_limited(&mut raw, &mut plain, cap).expect("decode");
            assert!(plain.len() <= cap, "plain grew to {}", plain.len());
            assert!(plain.iter().all(|&b| b == 0));
            total += plain.len();
            plain.clear();
            if r == Decoded::All {
                break;
            }
        }
        assert_eq!(total, 64 << 20);
        assert!(raw.is_empty());
        // A reader that consumes nothing is told the input is too large.
        let mut d = Codec::deflate(6);
        let mut raw = BytesMut::from(&bomb[..]);
        let mut plain = BytesMut::new();
        assert_eq!(
            d.decode_limited(&mut raw, &mut plain, cap).expect("decode"),
            Decoded::Capped
        );
        assert_eq!(plain.len(), cap);
        let err = d.decode_limited(&mut raw, &mut plain, cap);
        assert!(matches!(err, Err(CompressError::TooLarge(c)) if c == cap));
    }

    #[test]
    fn snappy_decode_stops_at_the_cap() {
        let mut wire = Vec::new();
        Codec::snappy()
            .encode(&vec![0u8; 16 << 20], &mut wire)
            .expect("encode");
        let cap = 1 << 20;
        let mut s = Codec::snappy();
        let mut raw = BytesMut::from(&wire[..]);
        let mut plain = BytesMut::new();
        let r = s.decode_limited(&mut raw, &mut plain, cap).expect("decode");
        assert_eq!(r, Decoded::Capped);
        // At most one 64 KiB chunk past the cap.
        assert!(plain.len() < cap + SNAPPY_MAX_CHUNK, "{}", plain.len());
        assert!(s.decode_limited(&mut raw, &mut plain, cap).is_err());
    }

    #[test]
    fn snappy_refuses_oversized_data_chunks_before_buffering_them() {
        let mut s = Codec::snappy();
        let mut raw = BytesMut::from(SNAPPY_STREAM_ID);
        // A data chunk claiming 16 MiB: refused from its header alone.
        raw.extend_from_slice(&[0x00, 0xff, 0xff, 0xff]);
        assert!(s.decode(&mut raw, &mut BytesMut::new()).is_err());
        // A skippable chunk of 1 MiB is discarded as it arrives, and decoding goes on.
        let mut s = Codec::snappy();
        let mut raw = BytesMut::from(SNAPPY_STREAM_ID);
        let mut plain = BytesMut::new();
        raw.extend_from_slice(&[0x80, 0x00, 0x00, 0x10]);
        s.decode(&mut raw, &mut plain).expect("decode");
        for _ in 0..16 {
            raw.extend_from_slice(&[7u8; 65536]);
            s.decode(&mut raw, &mut plain).expect("decode");
            assert!(raw.is_empty());
        }
        let mut wire = Vec::new();
        let mut enc = Codec::snappy();
        enc.encode(b"NOP\n", &mut wire).expect("encode");
        raw.extend_from_slice(&wire[SNAPPY_STREAM_ID.len()..]);
        s.decode(&mut raw, &mut plain).expect("decode");
        assert_eq!(&plain[..], b"NOP\n");
    }
}
