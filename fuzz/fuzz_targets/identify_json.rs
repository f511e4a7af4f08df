//! IDENTIFY bodies as nsqd handles them (decoded as Go's encoding/json would, negotiated
//! against the default limits, the reply serialized). Asserts that a negotiated reply is
//! JSON whose limits are within nsqd's, and that nothing panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(reply) = nsqd::fuzzing::identify(data) {
        let v: serde_json::Value = serde_json::from_slice(&reply).expect("reply is JSON");
        assert!(v["max_rdy_count"].as_u64().is_some_and(|n| n <= 2500));
        assert!(v["deflate_level"]
            .as_i64()
            .is_some_and(|n| (0..=9).contains(&n)));
        assert!(v["msg_timeout"].as_i64().is_some_and(|n| n >= 0));
    }
});
