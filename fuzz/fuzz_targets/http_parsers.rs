//! nsqd's HTTP request parsers: the query string (Go's url.ParseQuery), `/mpub` text
//! bodies split at newlines, and `/mpub?binary=true` bodies. Asserts every message is
//! within the size limit and non-empty, the text split loses no non-newline byte, and a
//! parsed query answers its keys.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use protocol::codec::{split_mpub, Limits};

const MAX_MSG: i64 = 64;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            let raw = String::from_utf8_lossy(rest);
            if let Ok(q) = httpapi::query::Query::parse(Some(&raw)) {
                let _ = q.get("topic");
            }
        }
        1 => {
            if let Some(msgs) = nsqd::fuzzing::http_mpub_lines(rest, MAX_MSG) {
                let kept: usize = msgs.iter().map(|m| m.len()).sum();
                let non_nl = rest.iter().filter(|&&b| b != b'\n').count();
                assert_eq!(kept, non_nl, "text split lost bytes");
                assert!(msgs
                    .iter()
                    .all(|m| !m.is_empty() && m.len() as i64 <= MAX_MSG));
            }
        }
        _ => {
            let limits = Limits {
                max_msg_size: MAX_MSG,
                max_body_size: 4096,
                ..Limits::default()
            };
            if let Ok(msgs) = split_mpub(Bytes::copy_from_slice(rest), &limits) {
                assert!(!msgs.is_empty());
                assert!(msgs
                    .iter()
                    .all(|m| !m.is_empty() && m.len() as i64 <= MAX_MSG));
            }
        }
    }
});
