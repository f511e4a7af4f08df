//! nsq_to_nsq's command line and checks against Go's texts.

use super::*;

fn parse(args: &[&str]) -> Result<Config, cli::Exit> {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    cli::parse(TOOL, "nsq_to_nsq", OPTIONS, Config::default(), &args)
}

/// Go nsq_to_nsq v1.3.0's `-h`, as it prints it.
const GO_USAGE: &str = "Usage of nsq_to_nsq:\n  -channel string\n    \tnsq channel (default \"nsq_to_nsq\")\n  -consumer-opt value\n    \toption to passthrough to nsq.Consumer (may be given multiple times, see http://godoc.org/github.com/nsqio/go-nsq#Config)\n  -destination-nsqd-tcp-address value\n    \tdestination nsqd TCP address (may be given multiple times)\n  -destination-topic string\n    \tuse this destination topic for all consumed topics (default is consumed topic name)\n  -lookupd-http-address value\n    \tlookupd HTTP address (may be given multiple times)\n  -max-in-flight int\n    \tmax number of messages to allow in flight (default 200)\n  -mode string\n    \tthe upstream request mode options: round-robin, hostpool (default), epsilon-greedy (default \"hostpool\")\n  -nsqd-tcp-address value\n    \tnsqd TCP address (may be given multiple times)\n  -producer-opt value\n    \toption to passthrough to nsq.Producer (may be given multiple times, see http://godoc.org/github.com/nsqio/go-nsq#Config)\n  -require-json-field string\n    \tfor JSON messages: only pass messages that contain this field\n  -require-json-value string\n    \tfor JSON messages: only pass messages in which the required field has this value\n  -status-every int\n    \tthe # of requests between logging status (per destination), 0 disables (default 250)\n  -topic value\n    \tnsq topic (may be given multiple times)\n  -version\n    \tprint version string\n  -whitelist-json-field value\n    \tfor JSON messages: pass this field (may be given multiple times)\n";

#[test]
fn usage_is_go_s() {
    assert_eq!(options::check(OPTIONS), Ok(()));
    let Err(cli::Exit::Help(text)) = parse(&["-h"]) else {
        panic!("help");
    };
    assert_eq!(text, GO_USAGE);
    assert_eq!(
        parse(&["--version"]).err(),
        Some(cli::Exit::Version("nsq_to_nsq v1.3.0".into()))
    );
}

#[test]
fn checks_in_go_s_order() {
    let err = |args: &[&str]| {
        check(&parse(args).expect("parses"))
            .err()
            .unwrap_or_default()
    };
    let src = "--nsqd-tcp-address=127.0.0.1:4150";
    let dst = "--destination-nsqd-tcp-address=127.0.0.1:4151";
    assert_eq!(err(&[]), "--topic and --channel are required");
    assert_eq!(
        err(&["--topic=t", "--channel="]),
        "--topic and --channel are required"
    );
    assert_eq!(err(&["--topic=t", "--topic=a b"]), "--topic is invalid");
    assert_eq!(
        err(&["--topic=t", "--destination-topic=x!"]),
        "--destination-topic is invalid"
    );
    assert_eq!(err(&["--topic=t", "--channel=c c"]), "--channel is invalid");
    assert_eq!(
        err(&["--topic=t"]),
        "--nsqd-tcp-address or --lookupd-http-address required"
    );
    assert_eq!(
        err(&["--topic=t", src, "--lookupd-http-address=127.0.0.1:4161"]),
        "use --nsqd-tcp-address or --lookupd-http-address not both"
    );
    assert_eq!(
        err(&["--topic=t", src]),
        "--destination-nsqd-tcp-address required"
    );
    let rr =
        |m: &str| check(&parse(&["--topic=t", src, dst, &format!("--mode={m}")]).expect("parses"));
    assert_eq!(rr("hostpool"), Ok(false));
    assert_eq!(rr("epsilon-greedy"), Ok(false));
    assert_eq!(rr("round-robin"), Ok(true));
    assert_eq!(rr("anything"), Ok(true));
    let c = parse(&[
        "--topic=a",
        "--topic=b",
        src,
        dst,
        "--whitelist-json-field=x",
        "--whitelist-json-field=y",
        "--require-json-field=k",
        "--require-json-value=5",
        "--producer-opt=snappy",
        "--consumer-opt=max_attempts,3",
    ])
    .expect("parses");
    assert_eq!(c.topics, ["a", "b"]);
    assert_eq!(c.whitelist_json_fields, ["x", "y"]);
    assert_eq!(c.require_json_value, "5");
}
