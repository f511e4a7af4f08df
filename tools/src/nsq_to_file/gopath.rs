//! Go's slash-path helpers that decide nsq_to_file's file names, so the names (and the
//! work-dir to output-dir mapping, a plain prefix trim in Go) come out as Go's:
//! `path.Join`/`filepath.Join` (join with `/`, then `Clean`), `filepath.Split`, and the
//! errors of Go's `os` functions (`open <path>: no space left on device`).

/// Go's `path.Clean`.
pub(crate) fn clean(p: &str) -> String {
    if p.is_empty() {
        return ".".into();
    }
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|l| *l != "..") {
                    parts.pop();
                } else if !rooted {
                    parts.push("..");
                }
            }
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// Go's `path.Join` (and `filepath.Join` on Unix): the non-empty elements joined, cleaned.
pub(crate) fn join(elems: &[&str]) -> String {
    let parts: Vec<&str> = elems.iter().copied().filter(|e| !e.is_empty()).collect();
    if parts.is_empty() {
        return String::new();
    }
    clean(&parts.join("/"))
}

/// Go's `filepath.Split`: everything up to and including the last `/`, and the rest.
pub(crate) fn split(p: &str) -> (&str, &str) {
    match p.rfind('/') {
        Some(i) => p.split_at(i + 1),
        None => ("", p),
    }
}

/// An OS error as Go's `syscall.Errno` words it (lower case, no `(os error N)`).
pub(crate) fn errno_text(e: &std::io::Error) -> String {
    let Some(code) = e.raw_os_error() else {
        return e.to_string();
    };
    let text = std::io::Error::from_raw_os_error(code).to_string();
    let text = match text.rfind(" (os error") {
        Some(i) => &text[..i],
        None => &text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Go's `*os.PathError` text: `<op> <path>: <errno>`.
pub(crate) fn path_error(op: &str, path: &str, e: &std::io::Error) -> String {
    format!("{op} {path}: {}", errno_text(e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_go() {
        assert_eq!(clean("/a//b/./c/../d/"), "/a/b/d");
        assert_eq!(clean("../x/.."), "..");
        assert_eq!(clean("/../a"), "/a");
        assert_eq!(join(&["/tmp/", "t.h-000000.log"]), "/tmp/t.h-000000.log");
        assert_eq!(join(&["./w", "f"]), "w/f");
        assert_eq!(join(&["", ""]), "");
        assert_eq!(split("/a/b/c.log"), ("/a/b/", "c.log"));
        assert_eq!(split("c.log"), ("", "c.log"));
        let e = std::io::Error::from_raw_os_error(28);
        assert_eq!(
            path_error("write", "/x", &e),
            "write /x: no space left on device"
        );
    }
}
