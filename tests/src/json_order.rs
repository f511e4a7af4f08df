//! Key order of JSON objects as written on the wire. `serde_json::Value` sorts keys, so
//! checks of documented key order (IDENTIFY reply, `nsqd.dat`) scan the raw text here.

/// The keys of every object in `raw`, one list per object in order of its opening
/// brace, each in written order. Keys are returned as written (escapes not decoded).
/// Assumes `raw` is valid JSON.
pub fn object_keys(raw: &str) -> Vec<Vec<String>> {
    // One entry per open container: Some(index into `objects`) for objects.
    let mut stack: Vec<Option<usize>> = Vec::new();
    let mut objects: Vec<Vec<String>> = Vec::new();
    let mut expecting_key = false;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                let text = read_string(&mut chars);
                if expecting_key {
                    if let Some(Some(index)) = stack.last() {
                        objects[*index].push(text);
                    }
                    expecting_key = false;
                }
            }
            '{' => {
                stack.push(Some(objects.len()));
                objects.push(Vec::new());
                expecting_key = true;
            }
            '[' => {
                stack.push(None);
                expecting_key = false;
            }
            '}' | ']' => {
                stack.pop();
                expecting_key = false;
            }
            ',' => expecting_key = matches!(stack.last(), Some(Some(_))),
            _ => {}
        }
    }
    objects
}

/// Reads up to the closing quote (the opening one already consumed).
fn read_string(chars: &mut std::str::Chars<'_>) -> String {
    let mut text = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => break,
            '\\' => {
                text.push(c);
                if let Some(escaped) = chars.next() {
                    text.push(escaped);
                }
            }
            _ => text.push(c),
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_keys_per_object_in_written_order() {
        let raw =
            r#"{"topics":[{"name":"a\"{","paused":false,"channels":null}],"version":"1.3.0"}"#;
        assert_eq!(
            object_keys(raw),
            vec![
                vec!["topics".to_string(), "version".to_string()],
                vec![
                    "name".to_string(),
                    "paused".to_string(),
                    "channels".to_string()
                ],
            ]
        );
    }
}
