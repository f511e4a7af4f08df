//! What Go's `flag` package and `github.com/mreiferson/go-options` do for the nine Go NSQ
//! binaries: ONE option table per binary drives the command line (Go flag syntax and error
//! texts), the `-h` usage text, the `--config` TOML file (go-options' coercions), the
//! precedence flag > file > default, and the `/config` JSON.
//!
//! Design: a binary declares its options once with the [`options!`] macro, one row per
//! option (field, type, default, flag name, config key, help). The macro writes the typed
//! `Config` struct the rest of the binary reads, its `Default`, and a static table of
//! [`Opt`] rows whose fn pointers reach the field through [`OptionValue`]; everything else
//! ([`parse`], [`usage`], [`option_json`]) is generic code over that table. A macro rather
//! than a table of strings plus a hand-written `from_values`, because with the latter each
//! option would still be spelled in the struct, in `Default` and in the conversion; a
//! macro rather than a derive, because a proc-macro crate would cost a build dependency
//! and a second crate for what `macro_rules!` does in one file. Per-type behaviour (how a
//! duration, a repeatable list or a log level reads and shows) lives in [`OptionValue`]
//! impls, so a table row never says how to parse; a binary implements the trait for its
//! own enum-like types.
//!
//! Layout: `table.rs` (rows and the macro), `value.rs` (per-type behaviour), `parse.rs`
//! (Go flag syntax and resolution), `usage.rs`, `file.rs` (TOML file, Go `%v`),
//! `literal.rs` (Go `strconv` spellings), `error.rs`.

mod error;
mod file;
mod literal;
mod parse;
mod table;
mod usage;
mod value;

pub use error::{Error, SetError};
pub use file::{go_display, ConfigFile};
pub use literal::{parse_bool, parse_float, parse_int, parse_int_as, LiteralError};
pub use parse::{parse, Outcome};
pub use table::{check, keys, option_json, Field, Kind, Opt, Plain};
pub use usage::usage;
pub use value::{go_float, nanos, Narrow, OptionValue};

/// For the macro's expansion in other crates.
#[doc(hidden)]
pub use toml;

#[cfg(test)]
mod tests;
