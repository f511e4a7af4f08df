//! Stream compression negotiated by IDENTIFY: the Snappy framing format or raw DEFLATE,
//! applied to whole buffers, the same on both ends of a connection. nsqd reads raw bytes,
//! `decode`s them into its command buffer, and `encode`s its output buffer before each
//! write, so the command and delivery code never know compression is on; a client does
//! the same with its commands and the server's frames.

use bytes::{Buf, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

const SNAPPY_STREAM_ID: &[u8] = b"\xff\x06\x00\x00sNaPpY";
/// Largest uncompressed chunk the framing format allows.
const SNAPPY_MAX_CHUNK: usize = 65536;

#[derive(Debug, thiserror::Error)]
pub enum CompressError {
    #[error("snappy: {0}")]
    Snappy(String),
    #[error("deflate: {0}")]
    Deflate(String),
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

    /// Consume every complete unit of `raw`, appending plain bytes to `plain`.
    pub fn decode(
        &mut self,
        raw: &mut BytesMut,
        plain: &mut BytesMut,
    ) -> Result<(), CompressError> {
        match self {
            Codec::Snappy(s) => s.decode(raw, plain),
            Codec::Deflate(d) => d.decode(raw, plain),
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
    enc: snap::raw::Encoder,
    dec: snap::raw::Decoder,
    scratch: Vec<u8>,
}

impl Default for Snappy {
    fn default() -> Self {
        Snappy {
            started_out: false,
            seen_stream_id: false,
            enc: snap::raw::Encoder::new(),
            dec: snap::raw::Decoder::new(),
            scratch: Vec::new(),
        }
    }
}

impl Snappy {
    fn decode(&mut self, raw: &mut BytesMut, plain: &mut BytesMut) -> Result<(), CompressError> {
        let bad = |m: &str| CompressError::Snappy(m.to_string());
        while raw.len() >= 4 {
            let kind = raw[0];
            let len = usize::from(raw[1]) | usize::from(raw[2]) << 8 | usize::from(raw[3]) << 16;
            if raw.len() < 4 + len {
                return Ok(());
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
        Ok(())
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

    fn decode(&mut self, raw: &mut BytesMut, plain: &mut BytesMut) -> Result<(), CompressError> {
        let mut out = Vec::with_capacity(raw.len() * 4 + 4096);
        loop {
            if out.capacity() - out.len() < 4096 {
                out.reserve(out.capacity().max(4096));
            }
            let before_in = self.decomp.total_in();
            let before_out = self.decomp.total_out();
            let status = self
                .decomp
                .decompress_vec(raw, &mut out, FlushDecompress::Sync)
                .map_err(|e| CompressError::Deflate(e.to_string()))?;
            let consumed = (self.decomp.total_in() - before_in) as usize;
            let produced = self.decomp.total_out() - before_out;
            raw.advance(consumed);
            if status == Status::StreamEnd {
                return Err(CompressError::Deflate("unexpected end of stream".into()));
            }
            // Go on while there is progress or the output filled up (the decompressor may
            // hold more back); stop when it neither consumes nor produces.
            let full = out.len() == out.capacity();
            if !full && (raw.is_empty() || (consumed == 0 && produced == 0)) {
                break;
            }
        }
        plain.extend_from_slice(&out);
        Ok(())
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
}
