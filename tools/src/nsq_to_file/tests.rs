//! Unit tests of nsq_to_file's command line against Go nsq_to_file v1.3.0's texts.

use super::*;

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

fn checked(a: &[&str]) -> Result<Settings, String> {
    let (config, _) = parse(&args(a)).map_err(|e| format!("{e:?}"))?;
    check(&config)
}

#[test]
fn table_is_consistent() {
    assert_eq!(options::check(OPTIONS), Ok(()));
}

#[test]
fn usage_is_go_nsq_to_file_s() {
    let Err(cli::Exit::Help(text)) = parse(&args(&["-h"])) else {
        panic!("help");
    };
    assert_eq!(text, GO_USAGE);
}

const GO_USAGE: &str = concat!(
    "Usage of nsqd:\n",
    "  -channel string\n",
    "    \tnsq channel (default \"nsq_to_file\")\n",
    "  -consumer-opt value\n",
    "    \toption to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)\n",
    "  -datetime-format string\n",
    "    \tstrftime compatible format for <DATETIME> in filename format (default \"%Y-%m-%d_%H\")\n",
    "  -filename-format string\n",
    "    \toutput filename format (<TOPIC>, <HOST>, <PID>, <DATETIME>, <REV> are replaced. <REV> is increased when file already exists) (default \"<TOPIC>.<HOST><REV>.<DATETIME>.log\")\n",
    "  -gzip\n",
    "    \tgzip output files.\n",
    "  -gzip-level int\n",
    "    \tgzip compression level (1-9, 1=BestSpeed, 9=BestCompression) (default 6)\n",
    "  -host-identifier string\n",
    "    \tvalue to output in log filename in place of hostname. <SHORT_HOST> and <HOSTNAME> are valid replacement tokens\n",
    "  -http-client-connect-timeout duration\n",
    "    \ttimeout for HTTP connect (default 2s)\n",
    "  -http-client-request-timeout duration\n",
    "    \ttimeout for HTTP request (default 5s)\n",
    "  -log-level string\n",
    "    \tset log verbosity: debug, info, warn, error, or fatal (default \"info\")\n",
    "  -log-prefix string\n",
    "    \tlog message prefix (default \"[nsq_to_file] \")\n",
    "  -lookupd-http-address value\n",
    "    \tlookupd HTTP address (may be given multiple times)\n",
    "  -max-in-flight int\n",
    "    \tmax number of messages to allow in flight (default 200)\n",
    "  -nsqd-tcp-address value\n",
    "    \tnsqd TCP address (may be given multiple times)\n",
    "  -output-dir string\n",
    "    \tdirectory to write output files to (default \"/tmp\")\n",
    "  -rotate-interval duration\n",
    "    \trotate the file every duration\n",
    "  -rotate-size rotate-size\n",
    "    \trotate the file when it grows bigger than rotate-size bytes\n",
    "  -skip-empty-files\n",
    "    \tskip writing empty files\n",
    "  -sync-interval duration\n",
    "    \tsync file to disk every duration (default 30s)\n",
    "  -topic value\n",
    "    \tnsq topic (may be given multiple times)\n",
    "  -topic-pattern string\n",
    "    \tonly log topics matching the following pattern\n",
    "  -topic-refresh duration\n",
    "    \thow frequently the topic list should be refreshed (default 1m0s)\n",
    "  -version\n",
    "    \tprint version string\n",
    "  -work-dir string\n",
    "    \tdirectory for in-progress files before moving to output-dir\n",
);

#[test]
fn flag_errors() {
    let Err(cli::Exit::Usage(text)) = parse(&args(&["--max-in-flight=x"])) else {
        panic!("usage error");
    };
    assert!(text
        .starts_with("invalid value \"x\" for flag -max-in-flight: parse error\nUsage of nsqd:\n"));
    let Err(cli::Exit::Usage(text)) = parse(&args(&["--rotate-size=x"])) else {
        panic!("usage error");
    };
    assert!(text.starts_with("invalid value \"x\" for flag -rotate-size: parse error\n"));
    let Err(cli::Exit::Usage(text)) = parse(&args(&["--gzip=x"])) else {
        panic!("usage error");
    };
    assert!(
        text.starts_with("invalid boolean value \"x\" for -gzip: parse error\n"),
        "{text}"
    );
    let Ok((c, ignored)) = parse(&args(&["--version", "extra", "--topic=t"])) else {
        panic!("parses");
    };
    assert!(c.version);
    assert_eq!(ignored, ["extra", "--topic=t"]);
}

#[test]
fn checks_in_go_order() {
    let e = |a: &[&str]| checked(a).err().unwrap_or_default();
    assert_eq!(
        e(&[]),
        "--nsqd-tcp-address or --lookupd-http-address required."
    );
    assert_eq!(e(&["--channel="]), "--channel is required");
    assert_eq!(
        e(&["--http-client-connect-timeout=0"]),
        "--http-client-connect-timeout should be positive"
    );
    assert_eq!(
        e(&["--http-client-request-timeout=-1s"]),
        "--http-client-request-timeout should be positive"
    );
    assert_eq!(
        e(&["--nsqd-tcp-address=a", "--lookupd-http-address=b"]),
        "use --nsqd-tcp-address or --lookupd-http-address not both"
    );
    assert_eq!(
        e(&["--nsqd-tcp-address=a", "--gzip-level=10"]),
        "invalid --gzip-level value (10), should be 1-9"
    );
    assert_eq!(
        e(&["--nsqd-tcp-address=a"]),
        "--topic or --topic-pattern required"
    );
    assert_eq!(
        e(&["--nsqd-tcp-address=a", "--topic-pattern=x"]),
        "--lookupd-http-address must be specified when no --topic specified"
    );
    let s = checked(&[
        "--nsqd-tcp-address=a",
        "--topic=t",
        "--rotate-interval=-1s",
        "--consumer-opt=bogus",
    ])
    .expect("valid");
    assert_eq!(s.work_dir, "/tmp");
    assert_eq!(s.rotate_interval, None);
    assert_eq!(s.sync_interval, Duration::from_secs(30));
}

#[test]
fn filename_format_as_go() {
    let mut s = checked(&[
        "--nsqd-tcp-address=a",
        "--topic=t",
        "--host-identifier=h<SHORT_HOST>",
    ])
    .expect("valid");
    let short = daemon::hostname()
        .split('.')
        .next()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        file_logger::filename_format(&s, "t").expect("format"),
        format!("t.h{short}.<DATETIME>.log")
    );
    s.gzip = true;
    assert_eq!(
        file_logger::filename_format(&s, "t").expect("format"),
        format!("t.h{short}<REV>.<DATETIME>.log.gz")
    );
    s.filename_format = "<TOPIC>.<PID>".into();
    assert_eq!(
        file_logger::filename_format(&s, "t"),
        Err("missing <REV> in --filename-format when gzip, rotation, or work dir enabled".into())
    );
}
