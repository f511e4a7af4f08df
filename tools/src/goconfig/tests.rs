//! go-nsq `Config.Set` texts and the mapping onto the client's configuration.

use super::*;

fn set(opts: &mut NsqOpts, text: &str) -> Result<(), String> {
    match OptionValue::set(opts, false, text) {
        Ok(()) => Ok(()),
        Err(SetError::Invalid(e) | SetError::Startup(e)) => Err(e),
    }
}

fn error(text: &str) -> String {
    set(&mut NsqOpts::default(), text).expect_err(text)
}

#[test]
fn go_nsq_error_texts() {
    // Each as Go's to_nsq prints it after `invalid value "<text>" for flag -producer-opt: `.
    assert_eq!(error("nope"), "invalid option nope");
    assert_eq!(
        error("tls_v1,maybe"),
        "failed to coerce option tls_v1 (maybe) - strconv.ParseBool: parsing \"maybe\": invalid syntax"
    );
    assert_eq!(error("max_in_flight,-1"), "invalid max_in_flight ! -1 < 0");
    assert_eq!(
        error("max_attempts,x"),
        "failed to coerce option max_attempts (x) - strconv.ParseUint: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        error("heartbeat_interval,5"),
        "failed to coerce option heartbeat_interval (5) - time: missing unit in duration \"5\""
    );
    assert_eq!(error("deflate_level,10"), "invalid deflate_level ! 10 > 9");
    assert_eq!(error("sample_rate,100"), "invalid sample_rate ! 100 > 99");
    assert_eq!(
        error("tls_root_ca_file,/nonexist"),
        "ERROR: failed to read custom Certificate Authority file open /nonexist: no such file or directory"
    );
    assert_eq!(
        error("msg_timeout,abc"),
        "failed to coerce option msg_timeout (abc) - time: invalid duration \"abc\""
    );
    assert_eq!(
        error("read_timeout,1ms"),
        "invalid read_timeout ! 1ms < 100ms"
    );
    assert_eq!(
        error("read_timeout,6m"),
        "invalid read_timeout ! 6m0s > 5m0s"
    );
    assert_eq!(
        error("lookupd_poll_jitter,1.5"),
        "invalid lookupd_poll_jitter ! 1.5 > 1"
    );
    assert_eq!(
        error("max_in_flight"),
        "failed to coerce option max_in_flight (true) - invalid value type"
    );
}

#[test]
fn options_map_onto_the_client_config() {
    let mut o = NsqOpts::default();
    for text in [
        "max-in-flight,7",
        "max_attempts,10",
        "snappy",
        "heartbeat_interval,5s",
        "msg_timeout,90s",
        "sample_rate,20",
        "client_id,me",
        "user_agent,ignored",
        "output_buffer_size,-1",
        "output_buffer_timeout,100ms",
        "auth_secret,xyz",
        "tls_v1,true",
        "tls_insecure_skip_verify",
        "lookupd_poll_interval,1s",
        "backoff_strategy,exponential",
    ] {
        set(&mut o, text).expect(text);
    }
    let c = o.client_config("to_nsq/1.3.0").expect("valid");
    assert_eq!(c.max_in_flight, 7);
    assert_eq!(c.max_attempts, 10);
    assert_eq!(c.compression, Compression::Snappy);
    assert_eq!(c.heartbeat_interval, Some(Duration::from_secs(5)));
    assert_eq!(c.msg_timeout, Some(Duration::from_secs(90)));
    assert_eq!(c.sample_rate, 20);
    assert_eq!(c.client_id, "me");
    assert_eq!(c.user_agent, "to_nsq/1.3.0");
    assert_eq!(c.output_buffer_size, None);
    assert_eq!(c.output_buffer_timeout, Some(Duration::from_millis(100)));
    assert_eq!(c.auth_secret.as_deref(), Some("xyz"));
    assert!(matches!(
        c.tls,
        Tls::InsecureSkipVerify { client_cert: None }
    ));
    assert_eq!(c.lookupd_poll_interval, Duration::from_secs(1));

    let d = NsqOpts::default().client_config("x").expect("defaults");
    assert_eq!(d.max_in_flight, 1);
    assert_eq!(d.heartbeat_interval, Some(Duration::from_secs(30)));
    assert_eq!(d.compression, Compression::None);
    assert!(matches!(d.tls, Tls::Off));

    let mut o = NsqOpts::default();
    set(&mut o, "deflate").expect("deflate");
    set(&mut o, "deflate_level,3").expect("level");
    let c = o.client_config("x").expect("valid");
    assert_eq!(c.compression, Compression::Deflate(3));
}

#[test]
fn validated_when_the_client_is_made() {
    let mut o = NsqOpts::default();
    set(&mut o, "heartbeat_interval,2m").expect("any duration");
    assert_eq!(
        o.client_config("x").expect_err("invalid").as_str(),
        "HeartbeatInterval 2m0s must be less than ReadTimeout 1m0s"
    );
}
