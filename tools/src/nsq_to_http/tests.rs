//! nsq_to_http's command line and checks against Go's texts.

use super::*;

fn parse(args: &[&str]) -> Result<Config, cli::Exit> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    cli::parse(TOOL, "nsq_to_http", OPTIONS, Config::default(), &args)
}

fn check_of(args: &[&str]) -> Result<Settings, String> {
    check(&parse(args).expect("parses"))
}

/// Go nsq_to_http v1.3.0's `-h`, as it prints it.
const GO_USAGE: &str = "Usage of nsq_to_http:\n  -channel string\n    \tnsq channel (default \"nsq_to_http\")\n  -consumer-opt value\n    \toption to passthrough to nsq.Consumer (may be given multiple times, http://godoc.org/github.com/nsqio/go-nsq#Config)\n  -content-type string\n    \tthe Content-Type used for POST requests (default \"application/octet-stream\")\n  -get value\n    \tHTTP address to make a GET request to. '%s' will be printf replaced with data (may be given multiple times)\n  -header value\n    \tCustom header for HTTP requests (may be given multiple times)\n  -http-client-connect-timeout duration\n    \ttimeout for HTTP connect (default 2s)\n  -http-client-request-timeout duration\n    \ttimeout for HTTP request (default 20s)\n  -lookupd-http-address value\n    \tlookupd HTTP address (may be given multiple times)\n  -max-in-flight int\n    \tmax number of messages to allow in flight (default 200)\n  -mode string\n    \tthe upstream request mode options: round-robin, hostpool (default), epsilon-greedy (default \"hostpool\")\n  -n int\n    \tnumber of concurrent publishers (default 100)\n  -nsqd-tcp-address value\n    \tnsqd TCP address (may be given multiple times)\n  -post value\n    \tHTTP address to make a POST request to.  data will be in the body (may be given multiple times)\n  -sample float\n    \t% of messages to publish (float b/w 0 -> 1) (default 1)\n  -status-every int\n    \tthe # of requests between logging status (per handler), 0 disables (default 250)\n  -topic string\n    \tnsq topic\n  -version\n    \tprint version string\n";

#[test]
fn usage_is_go_s() {
    assert_eq!(options::check(OPTIONS), Ok(()));
    let Err(cli::Exit::Help(text)) = parse(&["-h"]) else {
        panic!("help");
    };
    assert_eq!(text, GO_USAGE);
    assert_eq!(
        parse(&["--version"]).err(),
        Some(cli::Exit::Version("nsq_to_http v1.3.0".into()))
    );
}

#[test]
fn checks_in_go_s_order() {
    let err = |args: &[&str]| check_of(args).err().unwrap_or_default();
    let src = "--nsqd-tcp-address=127.0.0.1:4150";
    assert_eq!(
        err(&["--header=nocolon", "--topic="]),
        "--header value format should be 'key=value'"
    );
    assert_eq!(
        err(&["--header=a:"]),
        "--header value format should be 'key=value'"
    );
    assert_eq!(err(&[]), "--topic and --channel are required");
    assert_eq!(
        err(&["--topic=t", "--channel="]),
        "--topic and --channel are required"
    );
    assert_eq!(
        err(&[
            "--topic=t",
            "--content-type=text/plain",
            "--get=http://h/%s"
        ]),
        "--content-type only used with --post"
    );
    assert_eq!(
        err(&["--topic=t", "--content-type=", "--post=http://h/"]),
        "--content-type requires a value when used"
    );
    assert_eq!(
        err(&["--topic=t", "--post=http://h/"]),
        "--nsqd-tcp-address or --lookupd-http-address required"
    );
    assert_eq!(err(&["--topic=t", src]), "--get or --post required");
    assert_eq!(
        err(&["--topic=t", src, "--get=http://h/%s", "--post=http://h/"]),
        "use --get or --post not both"
    );
    assert_eq!(
        err(&["--topic=t", src, "--get=http://h/%s/%s"]),
        "invalid GET address - must be a printf string"
    );
    assert_eq!(
        err(&["--topic=t", src, "--get=http://h/"]),
        "invalid GET address - must be a printf string"
    );
    assert_eq!(
        err(&["--topic=t", src, "--post=http://h/", "--sample=1.5"]),
        "ERROR: --sample must be between 0.0 and 1.0"
    );
    let s = check_of(&[
        "--topic=t",
        src,
        "--post=http://a/",
        "--post=http://b/",
        "--mode=nope",
        "--header=X-A: 1",
        "--header=x-a:2",
        "--header=B:c:d",
    ])
    .expect("valid");
    assert_eq!(s.mode, Mode::All);
    assert_eq!(s.method, Method::Post);
    assert_eq!(s.addresses, ["http://a/", "http://b/"]);
    assert_eq!(
        s.headers,
        [
            ("x-a".to_string(), "2".to_string()),
            ("B".to_string(), "c:d".to_string())
        ]
    );
    let mode = |m: &str| {
        check_of(&[
            "--topic=t",
            src,
            "--get=http://h/%s",
            &format!("--mode={m}"),
        ])
        .map(|s| s.mode)
    };
    assert_eq!(mode("round-robin"), Ok(Mode::RoundRobin));
    assert_eq!(mode("hostpool"), Ok(Mode::HostPool));
    assert_eq!(mode("epsilon-greedy"), Ok(Mode::HostPool));
    // The default content type given explicitly is not "used" (Go compares the value).
    assert!(check_of(&[
        "--topic=t",
        src,
        "--get=http://h/%s",
        "--content-type=application/octet-stream"
    ])
    .is_ok());
}

#[test]
fn consumer_checks_as_go_nsq_s() {
    let opts = NsqOpts::default();
    assert_eq!(
        consumer_config(&opts, TOOL, -1, "t", "c").err(),
        Some("invalid MaxInFlight ! -1 < 0".to_string())
    );
    assert_eq!(
        consumer_config(&opts, TOOL, 1, "t t", "c").err(),
        Some("invalid topic name".to_string())
    );
    assert_eq!(
        consumer_config(&opts, TOOL, 1, "t", "c!").err(),
        Some("invalid channel name".to_string())
    );
    assert_eq!(
        consumer_config(&opts, TOOL, 7, "t", "c").map(|c| c.max_in_flight),
        Ok(7)
    );
}
