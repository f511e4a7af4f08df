//! Generators for the live socket fuzzer (`tests/socket_fuzz.rs`): a tiny seeded PRNG
//! and byte streams of mutated traffic for nsqd TCP (V2), nsqlookupd TCP (V1) and either
//! daemon's HTTP listener: bad sizes, negative and huge 4-byte lengths, truncated frames,
//! odd IDENTIFY JSON, valid prefixes then garbage, random bytes. Deterministic: the same
//! seed gives the same bytes, so a failing run replays from its printed seed.

/// xorshift64*: tiny, deterministic, good enough to pick mutations.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // splitmix64 step so nearby seeds diverge and zero is not a fixed point.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    pub fn bytes(&mut self, max: usize) -> Vec<u8> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.next_u64() as u8).collect()
    }
}

const NAMES: [&str; 10] = [
    "fz",
    "fz2",
    "fz#ephemeral",
    "",
    "bad name",
    "x.y_z-1",
    "../../etc",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "\u{e9}t\u{e9}",
    "%00",
];

const ODD_JSON: [&str; 22] = [
    "{}",
    "",
    "null",
    "[]",
    "{",
    "{\"client_id\":null,\"hostname\":null}",
    "{\"feature_negotiation\":true}",
    "{\"feature_negotiation\":true,\"snappy\":true}",
    "{\"feature_negotiation\":true,\"deflate\":true,\"deflate_level\":99}",
    "{\"feature_negotiation\":true,\"deflate\":true,\"snappy\":true}",
    "{\"feature_negotiation\":true,\"tls_v1\":true}",
    "{\"heartbeat_interval\":-1}",
    "{\"heartbeat_interval\":1}",
    "{\"heartbeat_interval\":99999999999999999999}",
    "{\"output_buffer_size\":-5,\"output_buffer_timeout\":-1}",
    "{\"output_buffer_size\":1e308}",
    "{\"sample_rate\":101}",
    "{\"msg_timeout\":-1}",
    "{\"user_agent\":\"\\ud800\"}",
    "{\"broadcast_address\":1,\"tcp_port\":-1,\"http_port\":70000,\"version\":[]}",
    "{\"broadcast_address\":\"h\",\"tcp_port\":4150,\"http_port\":4151,\"hostname\":\"h\",\"version\":\"1.3.0\"}",
    "\u{0}\u{ff}",
];

/// Body lengths as 4-byte big-endian: negative, huge, zero, off by one, plausible.
fn odd_len(rng: &mut Rng, actual: usize) -> [u8; 4] {
    let n: u32 = match rng.below(9) {
        0 => u32::MAX,    // -1
        1 => 0x8000_0000, // i32::MIN
        2 => 0x7fff_ffff, // i32::MAX
        3 => 0,
        4 => (actual as u32).wrapping_add(1),
        5 => (actual as u32).wrapping_sub(1),
        6 => 5 * 1024 * 1024 + 1, // just over nsqd's default max size
        7 => rng.next_u64() as u32,
        _ => actual as u32,
    };
    n.to_be_bytes()
}

fn frame(rng: &mut Rng, out: &mut Vec<u8>, line: &str, body: &[u8]) {
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&odd_len(rng, body.len()));
    out.extend_from_slice(body);
}

fn number(rng: &mut Rng) -> String {
    let s: &str = rng.pick(&[
        "-1",
        "0",
        "1",
        "2500",
        "99999999999",
        "abc",
        "",
        "1.5",
        " 3",
    ]);
    if rng.chance(30) {
        (rng.next_u64() as i64).to_string()
    } else {
        s.to_string()
    }
}

fn msg_id(rng: &mut Rng) -> String {
    let len = [16, 16, 0, 15, 17, 40][rng.below(6)];
    (0..len)
        .map(|_| (b'0' + (rng.next_u64() % 75) as u8) as char)
        .collect()
}

/// One V2 command, valid-looking or not.
fn nsqd_command(rng: &mut Rng, out: &mut Vec<u8>) {
    let topic = rng.pick(&NAMES);
    let channel = rng.pick(&NAMES);
    match rng.below(15) {
        0 | 1 => {
            let body = rng.pick(&ODD_JSON).as_bytes().to_vec();
            frame(rng, out, "IDENTIFY", &body);
        }
        2 => out.extend_from_slice(format!("SUB {topic} {channel}\n").as_bytes()),
        3 => out.extend_from_slice(format!("RDY {}\n", number(rng)).as_bytes()),
        4 => {
            let body = rng.bytes(64);
            frame(rng, out, &format!("PUB {topic}"), &body);
        }
        5 => {
            let body = rng.bytes(64);
            let line = format!("DPUB {topic} {}", number(rng));
            frame(rng, out, &line, &body);
        }
        6 => {
            // MPUB: a message count then (size, body) pairs, any of them odd.
            let mut body = Vec::new();
            let count = rng.below(4);
            body.extend_from_slice(&odd_len(rng, count));
            for _ in 0..count {
                let m = rng.bytes(16);
                body.extend_from_slice(&odd_len(rng, m.len()));
                body.extend_from_slice(&m);
            }
            frame(rng, out, &format!("MPUB {topic}"), &body);
        }
        7 => out.extend_from_slice(format!("FIN {}\n", msg_id(rng)).as_bytes()),
        8 => out.extend_from_slice(format!("REQ {} {}\n", msg_id(rng), number(rng)).as_bytes()),
        9 => out.extend_from_slice(format!("TOUCH {}\n", msg_id(rng)).as_bytes()),
        10 => {
            let body = rng.bytes(32);
            frame(rng, out, "AUTH", &body);
        }
        11 => out.extend_from_slice(rng.pick(&[&b"NOP\n"[..], b"CLS\n", b"\n", b"NOP"])),
        12 => out.extend_from_slice(&rng.bytes(48)),
        13 => {
            let word: &str = rng.pick(&["PUB", "SUB", "IDENTIFY", "MPUB", "RDY", "BOGUS"]);
            out.extend_from_slice(word.as_bytes());
            out.extend_from_slice(&rng.bytes(8));
            out.push(b'\n');
        }
        _ => out.extend_from_slice(&vec![b'A'; rng.below(80_000)]),
    }
}

/// One V1 (nsqlookupd) command.
fn lookupd_command(rng: &mut Rng, out: &mut Vec<u8>) {
    let topic = rng.pick(&NAMES);
    let channel = rng.pick(&NAMES);
    match rng.below(8) {
        0 | 1 => {
            let body = rng.pick(&ODD_JSON).as_bytes().to_vec();
            frame(rng, out, "IDENTIFY", &body);
        }
        2 => out.extend_from_slice(format!("REGISTER {topic} {channel}\n").as_bytes()),
        3 => out.extend_from_slice(format!("UNREGISTER {topic} {channel}\n").as_bytes()),
        4 => out.extend_from_slice(format!("REGISTER {topic}\n").as_bytes()),
        5 => out.extend_from_slice(rng.pick(&[&b"PING\n"[..], b"\n", b"PING"])),
        6 => out.extend_from_slice(&rng.bytes(48)),
        _ => out.extend_from_slice(&vec![b'R'; rng.below(80_000)]),
    }
}

/// A V2 session: the magic (sometimes wrong or cut), sometimes a valid prefix (IDENTIFY,
/// PUB, SUB, RDY: a subscribed consumer with messages in flight), then 1 to 8 commands.
pub fn nsqd_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = magic(rng, b"  V2");
    if rng.chance(30) {
        valid_frame(
            &mut out,
            "IDENTIFY",
            b"{\"client_id\":\"fuzz\",\"feature_negotiation\":true}",
        );
        valid_frame(&mut out, "PUB fz", b"fuzz body");
        out.extend_from_slice(b"SUB fz fuzz\nRDY 10\n");
    }
    for _ in 0..1 + rng.below(8) {
        nsqd_command(rng, &mut out);
    }
    out
}

/// A V1 session: the magic (sometimes wrong or cut), sometimes a valid IDENTIFY as nsqd
/// sends it, then 1 to 8 commands.
pub fn lookupd_stream(rng: &mut Rng) -> Vec<u8> {
    let mut out = magic(rng, b"  V1");
    if rng.chance(30) {
        let body = br#"{"broadcast_address":"fuzz","tcp_port":4150,"http_port":4151,"hostname":"fuzz","version":"1.3.0"}"#;
        valid_frame(&mut out, "IDENTIFY", body);
    }
    for _ in 0..1 + rng.below(8) {
        lookupd_command(rng, &mut out);
    }
    out
}

fn magic(rng: &mut Rng, magic: &[u8]) -> Vec<u8> {
    match rng.below(10) {
        0 => rng.bytes(4),
        1 => magic[..rng.below(magic.len())].to_vec(),
        _ => magic.to_vec(),
    }
}

fn valid_frame(out: &mut Vec<u8>, line: &str, body: &[u8]) {
    out.extend_from_slice(line.as_bytes());
    out.push(b'\n');
    out.extend_from_slice(&(body.len() as u32).to_be_bytes());
    out.extend_from_slice(body);
}

pub const NSQD_PATHS: [&str; 24] = [
    "/pub",
    "/mpub",
    "/ping",
    "/info",
    "/stats",
    "/topic/create",
    "/topic/delete",
    "/topic/empty",
    "/topic/pause",
    "/topic/unpause",
    "/channel/create",
    "/channel/delete",
    "/channel/empty",
    "/channel/pause",
    "/channel/unpause",
    "/config/nsqlookupd_tcp_addresses",
    "/config/log_level",
    "/config/bogus",
    "/debug/pprof",
    "/",
    "//pub",
    "/pub/../stats",
    "/%zz",
    "*",
];
pub const LOOKUPD_PATHS: [&str; 16] = [
    "/ping",
    "/info",
    "/lookup",
    "/topics",
    "/channels",
    "/nodes",
    "/topic/create",
    "/topic/delete",
    "/channel/create",
    "/channel/delete",
    "/topic/tombstone",
    "/debug",
    "/config/log_level",
    "/",
    "/%zz",
    "*",
];
const QUERIES: [&str; 14] = [
    "",
    "?",
    "?topic=fz",
    "?topic=fz&channel=fz",
    "?topic=fz&defer=-1",
    "?topic=fz&binary=true",
    "?topic=fz&binary=1&format=json",
    "?topic=&channel=",
    "?topic=%zz",
    "?format=json&topic=fz",
    "?node=127.0.0.1:1&topic=fz",
    "?topic=bad name",
    "?&&&==",
    "?topic=fz&topic=fz2",
];

/// One HTTP request, possibly malformed at any level.
pub fn http_request(rng: &mut Rng, paths: &[&str]) -> Vec<u8> {
    let method: &str = rng.pick(&[
        "GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "BREW", "",
    ]);
    let path = rng.pick(paths);
    let query = rng.pick(&QUERIES);
    let version: &str = rng.pick(&["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/9", ""]);
    let mut out = format!("{method} {path}{query} {version}\r\nHost: fuzz\r\n").into_bytes();
    let body = if rng.chance(20) {
        vec![b'B'; rng.below(200_000)]
    } else {
        rng.bytes(64)
    };
    match rng.below(7) {
        0 => out.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes()),
        1 => {
            let len: &str = rng.pick(&[
                "-1",
                "99999999999999999999",
                "abc",
                "1,2",
                "18446744073709551615",
                "5242881",
            ]);
            out.extend_from_slice(format!("Content-Length: {len}\r\n\r\n").as_bytes());
        }
        2 => {
            out.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let size: &str = rng.pick(&["zz", "-3", "fffffffffffffffffffff", "3", "0", "100000"]);
            out.extend_from_slice(format!("{size}\r\n").as_bytes());
        }
        3 => out.extend_from_slice(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
        4 => out.extend_from_slice(&rng.bytes(40)),
        5 => out.extend_from_slice(b"\r\n"),
        _ => out.extend_from_slice(b"Connection: keep-alive\r\n\r\n"),
    }
    out.extend_from_slice(&body);
    if rng.chance(20) {
        out.extend_from_slice(b"GET /ping HTTP/1.1\r\nHost: fuzz\r\n\r\n");
    }
    out
}

/// Flips, inserts or cuts bytes of a generated stream.
pub fn mutate(rng: &mut Rng, out: &mut Vec<u8>) {
    if out.is_empty() {
        return;
    }
    for _ in 0..rng.below(4) {
        let i = rng.below(out.len());
        match rng.below(3) {
            0 => out[i] ^= 1 << rng.below(8),
            1 => out.insert(i, rng.next_u64() as u8),
            _ => out[i] = rng.next_u64() as u8,
        }
    }
    if rng.chance(30) {
        let keep = rng.below(out.len());
        out.truncate(keep);
    }
}
