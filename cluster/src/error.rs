//! The two ways a cluster query fails, as Go's clusterinfo reports them: [`Fatal`] when
//! every upstream of a fan-out failed (`failed to query any nsqd: <errors>`; a fan-out over
//! zero upstreams counts as that too), and [`Partial`] (Go's `ErrList`) carried next to
//! the data that was obtained. nsqadmin answers the first with 502 `UPSTREAM_ERROR: ...`
//! and the second with 200 and `WARNING: ...`.

use std::fmt;

/// Every upstream failed: the text after `UPSTREAM_ERROR: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fatal(pub String);

impl fmt::Display for Fatal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Fatal {}

/// The errors of the upstreams that failed while others answered (Go's `ErrList`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Partial(pub Vec<String>);

impl Partial {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Go's `ErrList.Error()`: the errors joined by newlines.
    pub fn text(&self) -> String {
        self.0.join("\n")
    }

    pub fn extend(&mut self, other: Partial) {
        self.0.extend(other.0);
    }
}

/// A fan-out's result: the data with the partial errors, or the fatal error.
pub type Fanout<T> = Result<(T, Partial), Fatal>;

/// Go's `fmt.Errorf("failed to query any %s: %s", kind, ErrList(errs))`.
pub(crate) fn all_failed(kind: &str, errors: &[String]) -> Fatal {
    Fatal(format!("failed to query any {kind}: {}", errors.join("\n")))
}

/// The end of a Go fan-out: all failed (including none queried) is fatal.
pub(crate) fn finish<T>(kind: &str, queried: usize, value: T, errors: Vec<String>) -> Fanout<T> {
    if errors.len() == queried {
        return Err(all_failed(kind, &errors));
    }
    Ok((value, Partial(errors)))
}

/// `messages` as nsqadmin's `message` field: `WARNING: <m1>; <m2>`, or empty.
pub fn warning(messages: &[String]) -> String {
    if messages.is_empty() {
        String::new()
    } else {
        format!("WARNING: {}", messages.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_gos() {
        assert_eq!(
            finish::<()>("nsqd", 0, (), vec![]),
            Err(Fatal("failed to query any nsqd: ".into()))
        );
        assert_eq!(
            finish::<()>("nsqlookupd", 2, (), vec!["a".into(), "b".into()]),
            Err(Fatal("failed to query any nsqlookupd: a\nb".into()))
        );
        let (_, p) = finish("nsqd", 2, (), vec!["a".into()]).expect("partial");
        assert_eq!(p.text(), "a");
        assert_eq!(warning(&[]), "");
        assert_eq!(warning(&["a\nb".into(), "c".into()]), "WARNING: a\nb; c");
    }
}
