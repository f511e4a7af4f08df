//! The usage text in the layout of Go's `flag.PrintDefaults`: flags sorted by name, the
//! type word, the help on the next line after a tab, then `(default …)` unless the default
//! is the type's zero value.

use crate::table::{Kind, Opt};

/// `Usage of <program>:` and one entry per flag; `defaults` supplies the shown defaults.
pub fn usage<C>(program: &str, table: &[Opt<C>], defaults: &C) -> String {
    let mut opts: Vec<&Opt<C>> = table.iter().collect();
    opts.sort_by_key(|o| o.flag);
    let mut out = format!("Usage of {program}:\n");
    for opt in opts {
        let mut line = format!("  -{}", opt.flag);
        let word = opt.word();
        if !word.is_empty() {
            line.push(' ');
            line.push_str(word);
        }
        // Go puts the help of a one-letter bool flag on the same line.
        line.push_str(if line.len() <= 4 { "\t" } else { "\n    \t" });
        line.push_str(&opt.help.replace('\n', "\n    \t"));
        if let (Kind::Field(field), true) = (&opt.kind, opt.show_default) {
            if let Some(default) = (field.usage_default)(defaults) {
                line.push_str(&format!(" (default {default})"));
            }
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}
