//! The command line in Go `flag` syntax and the resolution of every option: a flag given on
//! the command line beats the `--config` file, which beats the default (go-options'
//! `Resolve`).
//!
//! Go accepts `-name value`, `-name=value`, `--name value`, `--name=value`; bool flags take
//! a value only after `=` and never consume the next argument; parsing stops at the first
//! non-flag argument (`-` included) or after `--`, and the rest is ignored. `-h`, `-help`
//! ask for usage unless the binary defines them. Values are checked in command-line order
//! and the first bad one is the error. `--version` wins before the file is read.

use crate::error::{Error, SetError};
use crate::file::{go_display, ConfigFile};
use crate::literal;
use crate::table::{Kind, Opt, Plain};

/// What the command line asks for.
#[derive(Debug)]
pub enum Outcome<C> {
    Run {
        config: C,
        /// Everything from the first non-flag argument (or after `--`); Go ignores these.
        ignored: Vec<String>,
    },
    /// `--version` (true).
    Version,
    /// `-h`, `-help`, `--help` (Go's `flag.ErrHelp`).
    Help,
}

/// Parses `args` (without `argv[0]`) against `table`, then reads the `--config` file, each
/// option starting from its value in `defaults`.
pub fn parse<C: Clone>(
    table: &[Opt<C>],
    defaults: C,
    args: &[String],
) -> Result<Outcome<C>, Error> {
    let mut config = defaults.clone();
    let mut given = vec![false; table.len()];
    let mut deferred: Option<String> = None;
    let mut config_path = String::new();
    let mut version = false;
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg.len() < 2 || !arg.starts_with('-') {
            break;
        }
        i += 1;
        if arg == "--" {
            break;
        }
        let body = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .unwrap_or(arg);
        if body.is_empty() || body.starts_with('-') || body.starts_with('=') {
            return Err(Error::BadFlagSyntax(arg.clone()));
        }
        let (name, inline) = match body.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (body, None),
        };
        let Some(index) = table.iter().position(|o| o.flag == name) else {
            if name == "help" || name == "h" {
                return Ok(Outcome::Help);
            }
            return Err(Error::UnknownFlag(name.to_string()));
        };
        let opt = &table[index];
        let value = match (inline, opt.bool_flag()) {
            (Some(v), _) => v.to_string(),
            (None, true) => "true".to_string(),
            (None, false) => {
                let v = args
                    .get(i)
                    .ok_or_else(|| Error::MissingFlagValue(opt.flag.to_string()))?;
                i += 1;
                v.clone()
            }
        };
        let refused = |reason: String| {
            if opt.bool_flag() {
                Error::InvalidBool {
                    flag: opt.flag,
                    value: value.clone(),
                    reason,
                }
            } else {
                Error::InvalidFlagValue {
                    flag: opt.flag,
                    value: value.clone(),
                    reason,
                }
            }
        };
        match &opt.kind {
            Kind::Plain(Plain::Bool) => {
                let b = literal::parse_bool(&value).map_err(|e| refused(e.to_string()))?;
                if opt.flag == "version" {
                    version = b;
                }
            }
            Kind::Plain(Plain::String) => {
                if opt.flag == "config" {
                    config_path = value.clone();
                }
            }
            Kind::Field(field) => match (field.set)(&mut config, !given[index], &value) {
                Ok(()) => {}
                Err(SetError::Invalid(reason)) => return Err(refused(reason)),
                Err(SetError::Startup(message)) => {
                    deferred.get_or_insert(message);
                }
            },
        }
        given[index] = true;
    }
    let ignored = args[i..].to_vec();
    if version {
        return Ok(Outcome::Version);
    }
    let file = if config_path.is_empty() {
        ConfigFile::default()
    } else {
        ConfigFile::load(&config_path)?
    };

    // Options read as text are checked first, even under a flag (Go's `config.Validate`).
    for opt in table {
        if let (Kind::Field(field), Some(key)) = (&opt.kind, opt.key) {
            if let (true, Some(value)) = (field.file_as_text, file.get(key)) {
                let mut scratch = defaults.clone();
                if (field.load)(&mut scratch, value).is_err() {
                    return Err(Error::FailedParsing {
                        key,
                        value: go_display(value),
                    });
                }
            }
        }
    }
    // Then every option no flag gave; a bad file value under a flag is never read.
    for (index, opt) in table.iter().enumerate() {
        let (Kind::Field(field), Some(key), false) = (&opt.kind, opt.key, given[index]) else {
            continue;
        };
        let Some(value) = file.get(key) else {
            continue;
        };
        match (field.load)(&mut config, value) {
            Ok(()) => {}
            Err(SetError::Invalid(reason)) => {
                return Err(Error::ConfigValue {
                    key,
                    value: go_display(value),
                    reason,
                })
            }
            Err(SetError::Startup(message)) => {
                deferred.get_or_insert(message);
            }
        }
    }
    match deferred {
        Some(message) => Err(Error::Startup(message)),
        None => Ok(Outcome::Run { config, ignored }),
    }
}
