//! [`Error`]: what stops a binary while it reads its command line and `--config` file. The
//! texts are Go's `flag` package's and go-options' (as our nsqd has always worded the
//! config-file ones); each binary's `main` decides how to print them and the exit code.

/// A command-line or config-file error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `---x`, `-=x` and the like.
    #[error("bad flag syntax: {0}")]
    BadFlagSyntax(String),

    /// A flag the binary does not have.
    #[error("flag provided but not defined: -{0}")]
    UnknownFlag(String),

    /// A non-bool flag was the last argument.
    #[error("flag needs an argument: -{0}")]
    MissingFlagValue(String),

    /// A bool flag's `=value` did not parse.
    #[error("invalid boolean value {value:?} for -{flag}: {reason}")]
    InvalidBool {
        flag: &'static str,
        value: String,
        reason: String,
    },

    #[error("invalid value {value:?} for flag -{flag}: {reason}")]
    InvalidFlagValue {
        flag: &'static str,
        value: String,
        reason: String,
    },

    #[error("failed to load config file {path} - {source}")]
    ReadConfigFile {
        path: String,
        #[source]
        source: std::io::Error,
    },

    #[error("failed to load config file {path} - {source}")]
    ParseConfigFile {
        path: String,
        #[source]
        source: toml::de::Error,
    },

    /// A config-file value of an option read as text (log level, TLS settings: Go's
    /// `config.Validate`); the value is rendered as Go's `%v` would.
    #[error("failed parsing {key} {value}")]
    FailedParsing { key: &'static str, value: String },

    /// Any other config-file value of the wrong type or out of range.
    #[error("failed to coerce value {value} for {key} - {reason}")]
    ConfigValue {
        key: &'static str,
        value: String,
        reason: String,
    },

    /// A value every parser accepts but the binary refuses at startup (Go checks these in
    /// `New`), reported after every other value was read.
    #[error("{0}")]
    Startup(String),
}

impl Error {
    /// A command-line error, after which Go's `flag` package prints the usage text.
    pub fn is_usage_error(&self) -> bool {
        matches!(
            self,
            Error::BadFlagSyntax(_)
                | Error::UnknownFlag(_)
                | Error::MissingFlagValue(_)
                | Error::InvalidBool { .. }
                | Error::InvalidFlagValue { .. }
        )
    }
}

/// Why one value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SetError {
    /// Not a value of the option's type; the text is the reason Go prints.
    Invalid(String),
    /// Well-formed but refused at startup (see [`Error::Startup`]).
    Startup(String),
}

impl From<String> for SetError {
    fn from(reason: String) -> SetError {
        SetError::Invalid(reason)
    }
}

impl From<crate::literal::LiteralError> for SetError {
    fn from(e: crate::literal::LiteralError) -> SetError {
        SetError::Invalid(e.to_string())
    }
}
