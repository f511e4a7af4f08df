//! One binary's option table: [`Opt`] rows (flag name, config key, help text, how the value
//! is read and shown), as the [`options!`](crate::options) macro builds them from a
//! single declaration per option.

use serde_json::Value;

use crate::error::SetError;

/// One command-line flag, with the typed field of `C` it sets (if any).
pub struct Opt<C: 'static> {
    /// The flag name, without dashes (`mem-queue-size`).
    pub flag: &'static str,
    /// The config-file and `/config` key (`mem_queue_size`); `None` for command-line only.
    pub key: Option<&'static str>,
    /// The help text as Go's usage prints it (before the `(default …)` part).
    pub help: &'static str,
    /// Whether the usage appends the default (off for defaults computed per host that the
    /// help text already describes).
    pub show_default: bool,
    pub kind: Kind<C>,
}

/// What a flag sets.
pub enum Kind<C: 'static> {
    /// A flag with no option behind it: `--config`, `--version`, deprecated no-ops.
    Plain(Plain),
    Field(Field<C>),
}

/// The type of a [`Kind::Plain`] flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    Bool,
    String,
}

/// A typed field of `C`, through [`OptionValue`](crate::OptionValue).
pub struct Field<C: 'static> {
    pub word: &'static str,
    pub bool_flag: bool,
    pub file_as_text: bool,
    pub set: fn(&mut C, bool, &str) -> Result<(), SetError>,
    pub load: fn(&mut C, &toml::Value) -> Result<(), SetError>,
    pub json: fn(&C) -> Value,
    pub usage_default: fn(&C) -> Option<String>,
}

impl<C> Opt<C> {
    /// The word Go's usage prints after the flag name (empty for bool flags).
    pub fn word(&self) -> &'static str {
        match &self.kind {
            Kind::Plain(Plain::Bool) => "",
            Kind::Plain(Plain::String) => "string",
            Kind::Field(f) => f.word,
        }
    }

    /// `-f` alone means true and a value needs `=`.
    pub fn bool_flag(&self) -> bool {
        match &self.kind {
            Kind::Plain(p) => *p == Plain::Bool,
            Kind::Field(f) => f.bool_flag,
        }
    }
}

/// The option named `key` in `config`, as Go's JSON encoding of its `Options` field
/// (`GET /config/<key>`); `None` for an unknown key.
pub fn option_json<C>(table: &[Opt<C>], config: &C, key: &str) -> Option<Value> {
    table.iter().find_map(|opt| match &opt.kind {
        Kind::Field(f) if opt.key == Some(key) => Some((f.json)(config)),
        _ => None,
    })
}

/// Every config key, in table order.
pub fn keys<C>(table: &[Opt<C>]) -> impl Iterator<Item = &'static str> + '_ {
    table.iter().filter_map(|opt| match opt.kind {
        Kind::Field(_) => opt.key,
        Kind::Plain(_) => None,
    })
}

/// Table mistakes a test should catch: a repeated flag or key, a flag with dashes or `=`
/// in the wrong place.
pub fn check<C>(table: &[Opt<C>]) -> Result<(), String> {
    let mut flags = std::collections::HashSet::new();
    let mut keys = std::collections::HashSet::new();
    for opt in table {
        if opt.flag.is_empty() || opt.flag.starts_with('-') || opt.flag.contains('=') {
            return Err(format!("bad flag name {:?}", opt.flag));
        }
        if !flags.insert(opt.flag) {
            return Err(format!("flag -{} declared twice", opt.flag));
        }
        if let Some(key) = opt.key {
            if !keys.insert(key) {
                return Err(format!("key {key} declared twice"));
            }
        }
    }
    Ok(())
}

/// Declares a binary's options once: the typed `Config` struct, its `Default`, and the
/// static [`Opt`] table that drives parsing, usage, the config file and `/config`.
///
/// ```ignore
/// options::options! {
///     let host = daemon::hostname();           // shared by the default expressions
///     #[derive(Debug, Clone, PartialEq)]
///     pub struct Config in OPTIONS {
///         /// doc comment of the field
///         tcp_address: String = "0.0.0.0:4160".to_string(),
///             "tcp-address" "tcp_address" shown "<addr>:<port> to listen on for TCP clients";
///         node_id: u16 as i64 = 0, "node-id" "id" hidden "unique part for message IDs";
///     }
///     flags {
///         "config" String "path to config file";
///         "version" Bool "print version string";
///     }
///     extra {
///         ignored_args: Vec<String> = Vec::new();
///     }
/// }
/// ```
///
/// Each option row: `field: Type [as Raw] = default, "flag-name" "config_key"|_
/// shown|hidden "help";`. `as Raw` reads the flag and file as `Raw` and narrows with
/// [`Narrow`](crate::Narrow); `_` means no config key; `hidden` leaves the default out of the
/// usage. `flags` are command-line-only flags with no field; `extra` fields are not options.
#[macro_export]
macro_rules! options {
    (
        $(let $hv:ident = $he:expr;)*
        $(#[$smeta:meta])*
        pub struct $name:ident in $table:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty $(as $raw:ty)? = $default:expr,
                    $flag:literal $key:tt $show:ident $help:literal;
            )*
        }
        $(flags {
            $( $pflag:literal $pkind:ident $phelp:literal; )*
        })?
        $(extra {
            $( $(#[$xmeta:meta])* $xfield:ident : $xty:ty = $xdefault:expr; )*
        })?
    ) => {
        $(#[$smeta])*
        pub struct $name {
            $( $(#[$fmeta])* pub $field: $ty, )*
            $($( $(#[$xmeta])* pub $xfield: $xty, )*)?
        }

        impl ::std::default::Default for $name {
            fn default() -> $name {
                $(let $hv = $he;)*
                $name {
                    $( $field: $default, )*
                    $($( $xfield: $xdefault, )*)?
                }
            }
        }

        /// Every flag, in declaration order.
        pub static $table: &[$crate::Opt<$name>] = &[
            $(
                $crate::Opt {
                    flag: $flag,
                    key: $crate::__options_key!($key),
                    help: $help,
                    show_default: $crate::__options_show!($show),
                    kind: $crate::Kind::Field($crate::__options_field!($name, $field, $ty $(, $raw)?)),
                },
            )*
            $($(
                $crate::Opt {
                    flag: $pflag,
                    key: None,
                    help: $phelp,
                    show_default: true,
                    kind: $crate::Kind::Plain($crate::Plain::$pkind),
                },
            )*)?
        ];
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __options_key {
    (_) => {
        None
    };
    ($key:literal) => {
        Some($key)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __options_show {
    (shown) => {
        true
    };
    (hidden) => {
        false
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __options_field {
    ($name:ident, $field:ident, $ty:ty) => {
        $crate::Field {
            word: <$ty as $crate::OptionValue>::WORD,
            bool_flag: <$ty as $crate::OptionValue>::BOOL_FLAG,
            file_as_text: <$ty as $crate::OptionValue>::FILE_AS_TEXT,
            set: |c: &mut $name, first: bool, text: &str| {
                <$ty as $crate::OptionValue>::set(&mut c.$field, first, text)
            },
            load: |c: &mut $name, value: &$crate::toml::Value| {
                c.$field = <$ty as $crate::OptionValue>::from_file(value)?;
                Ok(())
            },
            json: |c: &$name| <$ty as $crate::OptionValue>::to_json(&c.$field),
            usage_default: |c: &$name| <$ty as $crate::OptionValue>::usage_default(&c.$field),
        }
    };
    ($name:ident, $field:ident, $ty:ty, $raw:ty) => {
        $crate::Field {
            word: <$raw as $crate::OptionValue>::WORD,
            bool_flag: <$raw as $crate::OptionValue>::BOOL_FLAG,
            file_as_text: <$raw as $crate::OptionValue>::FILE_AS_TEXT,
            set: |c: &mut $name, first: bool, text: &str| {
                let mut raw = <$raw as ::std::default::Default>::default();
                <$raw as $crate::OptionValue>::set(&mut raw, first, text)?;
                c.$field = <$ty as $crate::Narrow<$raw>>::narrow(raw);
                Ok(())
            },
            load: |c: &mut $name, value: &$crate::toml::Value| {
                let raw = <$raw as $crate::OptionValue>::from_file(value)?;
                c.$field = <$ty as $crate::Narrow<$raw>>::narrow(raw);
                Ok(())
            },
            json: |c: &$name| <$ty as $crate::OptionValue>::to_json(&c.$field),
            usage_default: |c: &$name| <$ty as $crate::OptionValue>::usage_default(&c.$field),
        }
    };
}
