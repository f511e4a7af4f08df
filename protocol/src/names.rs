//! Topic and channel name rules: 1..=64 bytes of `[.a-zA-Z0-9_-]`, optionally ending in
//! `#ephemeral` (which counts towards the 64).

pub const MAX_NAME_LEN: usize = 64;
pub const EPHEMERAL_SUFFIX: &str = "#ephemeral";

/// True if `name` is a valid topic or channel name.
pub fn is_valid(name: &[u8]) -> bool {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    let base = name
        .strip_suffix(EPHEMERAL_SUFFIX.as_bytes())
        .unwrap_or(name);
    !base.is_empty()
        && base
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// True if the name denotes an ephemeral topic or channel.
pub fn is_ephemeral(name: &str) -> bool {
    name.ends_with(EPHEMERAL_SUFFIX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules() {
        assert!(is_valid(b"a"));
        assert!(is_valid(b"a#ephemeral"));
        assert!(is_valid(b"Events.v1_x-y"));
        assert!(is_valid(&[b'a'; 64]));
        assert!(!is_valid(&[b'a'; 65]));
        let mut long_eph = vec![b'a'; 55];
        long_eph.extend_from_slice(b"#ephemeral");
        assert!(!is_valid(&long_eph));
        assert!(is_valid(&long_eph[1..]));
        assert!(!is_valid(b""));
        assert!(!is_valid(b"#ephemeral"));
        assert!(!is_valid(b"a#b"));
        assert!(!is_valid(b"a b"));
        assert!(!is_valid(b"a!"));
        assert!(!is_valid(b"a#ephemeral#ephemeral"));
    }

    #[test]
    fn ephemeral() {
        assert!(is_ephemeral("x#ephemeral"));
        assert!(!is_ephemeral("x"));
    }
}
