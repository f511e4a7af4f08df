//! Helpers the fuzz targets share: cutting one input into the pieces a socket would
//! deliver, and a per-process scratch directory for the targets that read files.

use std::path::{Path, PathBuf};

/// Cuts `data` into pieces at points drawn from `seed` (1 to 64 bytes each, sometimes a
/// single byte), as reads from a socket would arrive.
pub fn pieces(data: &[u8], seed: u64) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut rest = data;
    let mut state = seed | 1;
    while !rest.is_empty() {
        // xorshift64: cheap and deterministic for a given input.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let n = match state % 4 {
            0 => 1,
            _ => 1 + (state >> 8) as usize % 64,
        };
        let (head, tail) = rest.split_at(n.min(rest.len()));
        out.push(head);
        rest = tail;
    }
    out
}

/// The first 8 bytes as a seed (zero-padded) and the rest.
pub fn seed_and_rest(data: &[u8]) -> (u64, &[u8]) {
    let n = data.len().min(8);
    let mut seed = [0u8; 8];
    seed[..n].copy_from_slice(&data[..n]);
    (u64::from_le_bytes(seed), &data[n..])
}

/// An empty directory of this process's own (emptied on every call), in /dev/shm when
/// there is one: the disk queue fsyncs, which on a real disk would dominate the run.
pub fn scratch_dir(label: &str) -> PathBuf {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("nsq-fuzz-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// Writes `data` to `dir/name`.
pub fn write(dir: &Path, name: &str, data: &[u8]) {
    std::fs::write(dir.join(name), data).expect("write scratch file");
}
