//! The engine through a small table declared with the macro, as a binary would.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::json;

use crate::{check, keys, option_json, parse, usage, Error, Outcome, SetError};
use daemon::log_level::LogLevel;

/// An enum-like option whose bad value is refused at startup, not while parsing.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Method {
    #[default]
    Get,
    Post,
}

impl crate::OptionValue for Method {
    const WORD: &'static str = "string";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        *self = match text {
            "get" => Method::Get,
            "post" => Method::Post,
            _ => {
                return Err(SetError::Startup(
                    "--method must be post or get".to_string(),
                ))
            }
        };
        Ok(())
    }

    fn to_json(&self) -> serde_json::Value {
        json!(if *self == Method::Get { "get" } else { "post" })
    }

    fn usage_default(&self) -> Option<String> {
        Some(format!(
            "{:?}",
            if *self == Method::Get { "get" } else { "post" }
        ))
    }
}

crate::options! {
    let host = "vm".to_string();
    #[derive(Debug, Clone, PartialEq)]
    pub struct Config in OPTIONS {
        /// A string.
        tcp_address: String = "0.0.0.0:4150".to_string(),
            "tcp-address" "tcp_address" shown "<addr>:<port> to listen on";
        broadcast_address: String = host.clone(),
            "broadcast-address" "broadcast_address" hidden "address (defaults to the OS hostname)";
        log_level: LogLevel = LogLevel::Info,
            "log-level" "log_level" shown "set log verbosity";
        mem_queue_size: i64 = 10_000, "mem-queue-size" "mem_queue_size" shown "messages in memory";
        port: u16 = 0, "port" "port" shown "a port";
        node_id: u16 as i64 = 7, "node-id" "id" hidden "node id";
        msg_timeout: Duration = Duration::from_secs(60),
            "msg-timeout" "msg_timeout" shown "message timeout";
        snappy: bool = true, "snappy" "snappy" shown "enable snappy";
        quiet: bool = false, "q" "quiet" shown "one letter";
        sample: f64 = 1.0, "sample" "sample" shown "fraction\nof messages";
        lookupd: Vec<String> = Vec::new(),
            "lookupd-tcp-address" "nsqlookupd_tcp_addresses" shown "lookupd (may be given multiple times)";
        percentiles: Vec<f64> = Vec::new(),
            "percentile" "percentiles" shown "percentiles";
        method: Method = Method::Get, "method" "method" shown "HTTP method";
        region: String = String::new(), "region" _ shown "flag only field";
    }
    flags {
        "config" String "path to config file";
        "version" Bool "print version string";
        "verbose" Bool "[deprecated] has no effect";
    }
    extra {
        note: &'static str = "not an option";
    }
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

fn outcome(args: &[&str]) -> Result<Outcome<Config>, Error> {
    parse(OPTIONS, Config::default(), &strings(args))
}

fn run(args: &[&str]) -> Result<(Config, Vec<String>), Error> {
    match outcome(args)? {
        Outcome::Run { config, ignored } => Ok((config, ignored)),
        other => panic!("{args:?}: expected a config, got {other:?}"),
    }
}

fn config(args: &[&str]) -> Config {
    run(args).unwrap_or_else(|e| panic!("{args:?}: {e}")).0
}

fn error(args: &[&str]) -> String {
    run(args).expect_err("should fail").to_string()
}

/// A TOML file in the temp dir, removed on drop.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(text: &str) -> TempFile {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("options-test-{}-{n}.toml", std::process::id()));
        std::fs::write(&path, text).expect("write temp config");
        TempFile(path)
    }

    fn flag(&self) -> String {
        format!("--config={}", self.0.display())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn with_file(text: &str, args: &[&str]) -> Result<Config, Error> {
    let file = TempFile::new(text);
    let flag = file.flag();
    let mut all = vec![flag.as_str()];
    all.extend_from_slice(args);
    run(&all).map(|(c, _)| c)
}

#[test]
fn table_is_consistent() {
    assert_eq!(check(OPTIONS), Ok(()));
    let c = Config::default();
    assert_eq!(
        (c.broadcast_address.as_str(), c.note),
        ("vm", "not an option")
    );
    assert_eq!(keys(OPTIONS).count(), 13, "every field with a key");
}

#[test]
fn four_syntax_forms() {
    for args in [
        &["-tcp-address", "1.2.3.4:5"][..],
        &["-tcp-address=1.2.3.4:5"],
        &["--tcp-address", "1.2.3.4:5"],
        &["--tcp-address=1.2.3.4:5"],
    ] {
        let (c, ignored) = run(args).expect("parses");
        assert_eq!(c.tcp_address, "1.2.3.4:5", "{args:?}");
        assert!(ignored.is_empty());
    }
}

#[test]
fn values_may_look_like_flags_or_be_empty() {
    let c = config(&["--tcp-address", "-x-", "--broadcast-address="]);
    assert_eq!(c.tcp_address, "-x-");
    assert_eq!(c.broadcast_address, "");
    let c = config(&["--tcp-address", "", "--broadcast-address=a=b"]);
    assert_eq!(
        (c.tcp_address.as_str(), c.broadcast_address.as_str()),
        ("", "a=b")
    );
}

#[test]
fn bool_flags_take_a_value_only_after_equals() {
    let c = config(&["--snappy=false", "-q"]);
    assert!(!c.snappy && c.quiet);
    assert!(
        config(&["--snappy=F", "--snappy=T"]).snappy,
        "last one wins"
    );
    let (c, ignored) = run(&["--snappy=0", "--snappy", "false", "--port=1"]).expect("parses");
    assert!(c.snappy);
    assert_eq!(c.port, 0);
    assert_eq!(ignored, strings(&["false", "--port=1"]));
    assert_eq!(
        error(&["--snappy=yes"]),
        "invalid boolean value \"yes\" for -snappy: parse error"
    );
    assert_eq!(
        error(&["--verbose=maybe"]),
        "invalid boolean value \"maybe\" for -verbose: parse error"
    );
    assert!(run(&["--verbose"]).is_ok());
}

#[test]
fn parsing_stops_at_terminator_and_non_flags() {
    let (c, ignored) = run(&["--mem-queue-size=5", "--", "--mem-queue-size=6"]).expect("ok");
    assert_eq!(c.mem_queue_size, 5);
    assert_eq!(ignored, strings(&["--mem-queue-size=6"]));
    let (_, ignored) = run(&["-", "x"]).expect("ok");
    assert_eq!(ignored, strings(&["-", "x"]));
    let (_, ignored) = run(&["rest", "--bogus"]).expect("ok");
    assert_eq!(ignored, strings(&["rest", "--bogus"]));
}

#[test]
fn repeatable_flags_accumulate() {
    let c = config(&[
        "--lookupd-tcp-address=a:4160",
        "-lookupd-tcp-address",
        "b:4160,c:4160",
        "--percentile=0.5,0.99",
        "--percentile",
        "1.0",
    ]);
    assert_eq!(c.lookupd, strings(&["a:4160", "b:4160,c:4160"]));
    assert_eq!(c.percentiles, [1.0, 0.99, 0.5]);
}

#[test]
fn typed_values_and_errors() {
    let c = config(&[
        "--mem-queue-size=0x10",
        "--port=4150",
        "--msg-timeout=1m30s",
        "--log-level=WARN",
        "--sample=0.25",
        "--node-id=-1",
        "--region=r1",
    ]);
    assert_eq!((c.mem_queue_size, c.port), (16, 4150));
    assert_eq!(c.msg_timeout, Duration::from_secs(90));
    assert_eq!(c.log_level, LogLevel::Warn);
    assert_eq!(c.sample, 0.25);
    assert_eq!(c.node_id, u16::MAX, "narrowed for the binary's range check");
    assert_eq!(c.region, "r1");
    for (args, message) in [
        (&["--mem-queue-size=lots"][..], "invalid value \"lots\" for flag -mem-queue-size: parse error"),
        (&["--port=70000"], "invalid value \"70000\" for flag -port: value out of range"),
        (&["--msg-timeout", "60"], "invalid value \"60\" for flag -msg-timeout: parse error"),
        (
            &["--msg-timeout=-1s"],
            "invalid value \"-1s\" for flag -msg-timeout: negative duration \"-1s\" not allowed",
        ),
        (
            &["--log-level=loud"],
            "invalid value \"loud\" for flag -log-level: invalid log level 'loud' (debug, info, warn, error, fatal)",
        ),
        (&["--percentile=0.5,"], "invalid value \"0.5,\" for flag -percentile: parse error"),
        (&["--node-id=0x10000000000000000"], "invalid value \"0x10000000000000000\" for flag -node-id: value out of range"),
    ] {
        assert_eq!(error(args), message, "{args:?}");
    }
}

#[test]
fn syntax_errors() {
    assert_eq!(error(&["--bogus"]), "flag provided but not defined: -bogus");
    assert_eq!(
        error(&["-bogus=1"]),
        "flag provided but not defined: -bogus"
    );
    assert_eq!(
        error(&["---tcp-address=x"]),
        "bad flag syntax: ---tcp-address=x"
    );
    assert_eq!(error(&["-=x"]), "bad flag syntax: -=x");
    assert_eq!(
        error(&["--tcp-address"]),
        "flag needs an argument: -tcp-address"
    );
    assert_eq!(
        error(&["--TCP-ADDRESS=x"]),
        "flag provided but not defined: -TCP-ADDRESS"
    );
    assert!(Error::UnknownFlag(String::new()).is_usage_error());
    assert!(!Error::Startup(String::new()).is_usage_error());
}

#[test]
fn help_and_version() {
    for arg in ["-h", "--help", "-help", "--help=1"] {
        assert!(matches!(outcome(&[arg]), Ok(Outcome::Help)), "{arg}");
    }
    assert!(matches!(
        outcome(&["--bogus", "--help"]),
        Err(Error::UnknownFlag(_))
    ));
    assert!(matches!(outcome(&["--version"]), Ok(Outcome::Version)));
    assert!(matches!(
        outcome(&["-version", "--config=/nonexistent/x.toml"]),
        Ok(Outcome::Version)
    ));
    assert!(matches!(
        outcome(&["--version=false"]),
        Ok(Outcome::Run { .. })
    ));
    assert!(matches!(outcome(&[]), Ok(Outcome::Run { .. })));
}

#[test]
fn startup_errors_come_after_every_value_is_read() {
    assert_eq!(error(&["--method=put"]), "--method must be post or get");
    assert_eq!(
        error(&["--method=put", "--port=x"]),
        "invalid value \"x\" for flag -port: parse error"
    );
    let err = with_file("method = \"head\"\nmsg_timeout = \"soon\"", &[]).expect_err("bad");
    assert!(
        matches!(
            err,
            Error::ConfigValue {
                key: "msg_timeout",
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(config(&["--method=post"]).method, Method::Post);
}

#[test]
fn flag_beats_file_beats_default() {
    let text = "mem_queue_size = 5\nport = 7\nmsg_timeout = \"30s\"\nid = 9";
    let c = with_file(text, &["--mem-queue-size=20"]).expect("valid");
    assert_eq!(c.mem_queue_size, 20, "flag beats file");
    assert_eq!((c.port, c.node_id), (7, 9), "file beats default");
    assert_eq!(c.msg_timeout, Duration::from_secs(30));
    assert!(c.snappy, "default");
    let c = with_file(text, &["--mem-queue-size=10000"]).expect("valid");
    assert_eq!(
        c.mem_queue_size, 10000,
        "a flag equal to the default still wins"
    );
    // Flag order relative to --config does not matter.
    let file = TempFile::new(text);
    let c = config(&["--mem-queue-size=1", &file.flag()]);
    assert_eq!((c.mem_queue_size, c.port), (1, 7));
    // An empty --config means no file.
    assert_eq!(config(&["--config="]), config(&[]));
}

#[test]
fn repeatable_flag_replaces_the_file_list() {
    let text = "nsqlookupd_tcp_addresses = [\"f1:4160\", \"f2:4160\"]\npercentiles = \"0.5, 1.0\"";
    let c = with_file(text, &[]).expect("valid");
    assert_eq!(c.lookupd, ["f1:4160", "f2:4160"]);
    assert_eq!(c.percentiles, [0.5, 1.0], "file order kept");
    let c = with_file(text, &["--lookupd-tcp-address=c:4160", "--percentile=0.9"]).expect("ok");
    assert_eq!(c.lookupd, ["c:4160"]);
    assert_eq!(c.percentiles, [0.9]);
}

#[test]
fn file_keys_and_types() {
    let text = "region = \"not a key\"\nunknown = { nested = true }\nquiet = \"T\"\nsample = 1\n\
                log_level = \"error\"\nsnappy = 0";
    let c = with_file(text, &[]).expect("valid");
    assert_eq!(c.region, "", "flag-only options have no key");
    assert!(c.quiet && c.snappy);
    assert_eq!((c.sample, c.log_level), (1.0, LogLevel::Error));
    for (text, message) in [
        ("mem_queue_size = \"lots\"", "failed to coerce value lots for mem_queue_size - parse error"),
        ("port = 70000", "failed to coerce value 70000 for port - value out of range"),
        (
            "msg_timeout = \"60\"",
            "failed to coerce value 60 for msg_timeout - time: missing unit in duration \"60\"",
        ),
        ("tcp_address = 5", "failed to coerce value 5 for tcp_address - expected string, got integer"),
        (
            "nsqlookupd_tcp_addresses = [1, 2]",
            "failed to coerce value [1 2] for nsqlookupd_tcp_addresses - expected string, got integer",
        ),
        ("snappy = 1.0", "failed to coerce value 1 for snappy - expected bool, got float"),
        ("method = \"head\"", "--method must be post or get"),
    ] {
        let err = with_file(text, &[]).expect_err(text);
        assert_eq!(err.to_string(), message, "{text}");
    }
    assert!(with_file("mem_queue_size = \"lots\"", &["--mem-queue-size=1"]).is_ok());
}

#[test]
fn text_options_in_the_file_are_checked_even_under_a_flag() {
    for (text, message) in [
        ("log_level = \"loud\"", "failed parsing log_level loud"),
        ("log_level = 1", "failed parsing log_level 1"),
        ("log_level = [\"x\"]", "failed parsing log_level [x]"),
    ] {
        let err = with_file(text, &["--log-level=info"]).expect_err(text);
        assert!(matches!(err, Error::FailedParsing { .. }));
        assert_eq!(err.to_string(), message);
    }
    let c = with_file("log_level = \"ERROR\"", &["--log-level=debug"]).expect("valid");
    assert_eq!(c.log_level, LogLevel::Debug);
}

#[test]
fn unreadable_or_unparsable_file() {
    let err = error(&["--config=/nonexistent/x.toml"]);
    assert!(
        err.starts_with("failed to load config file /nonexistent/x.toml - "),
        "{err}"
    );
    let err = with_file("this is = = not toml", &[]).expect_err("bad toml");
    assert!(matches!(err, Error::ParseConfigFile { .. }), "{err}");
    assert!(!err.is_usage_error());
}

#[test]
fn usage_is_go_layout() {
    let text = usage("prog", OPTIONS, &Config::default());
    let expected = "Usage of prog:
  -broadcast-address string
    \taddress (defaults to the OS hostname)
  -config string
    \tpath to config file
  -log-level value
    \tset log verbosity (default INFO)
  -lookupd-tcp-address value
    \tlookupd (may be given multiple times)
  -mem-queue-size int
    \tmessages in memory (default 10000)
  -method string
    \tHTTP method (default \"get\")
  -msg-timeout duration
    \tmessage timeout (default 1m0s)
  -node-id int
    \tnode id
  -percentile value
    \tpercentiles
  -port int
    \ta port
  -q\tone letter
  -region string
    \tflag only field
  -sample float
    \tfraction
    \tof messages (default 1)
  -snappy
    \tenable snappy (default true)
  -tcp-address string
    \t<addr>:<port> to listen on (default \"0.0.0.0:4150\")
  -verbose
    \t[deprecated] has no effect
  -version
    \tprint version string
";
    assert_eq!(text, expected);
}

#[test]
fn option_json_by_key() {
    let c = config(&["--percentile=1,0.99", "--lookupd-tcp-address=a:1"]);
    let get = |key: &str| option_json(OPTIONS, &c, key).map(|v| v.to_string());
    assert_eq!(get("msg_timeout").as_deref(), Some("60000000000"));
    assert_eq!(get("log_level").as_deref(), Some("2"));
    assert_eq!(get("id").as_deref(), Some("7"));
    assert_eq!(get("percentiles").as_deref(), Some("[1,0.99]"));
    assert_eq!(
        get("nsqlookupd_tcp_addresses").as_deref(),
        Some("[\"a:1\"]")
    );
    assert_eq!(get("method").as_deref(), Some("\"get\""));
    assert_eq!(get("snappy").as_deref(), Some("true"));
    for key in ["node_id", "config", "version", "region", "note", ""] {
        assert_eq!(get(key), None, "{key}");
    }
}
