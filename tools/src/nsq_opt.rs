//! go-nsq's `ConfigFlag`: `--consumer-opt`/`--producer-opt` values `key,value` (a bare
//! `key` sets a boolean to true) applied to a client [`Config`] with go-nsq's option
//! names and value syntax (Go durations, `strconv` integers and booleans).

use nsq_client::{Compression, Config, Tls};
use std::path::PathBuf;
use std::time::Duration;

/// The TLS options gathered from several keys, turned into [`Tls`] at the end.
#[derive(Default)]
struct TlsOpts {
    enabled: bool,
    root_ca: Option<PathBuf>,
    insecure: bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

fn dur(v: &str) -> Result<Duration, String> {
    daemon::duration::parse(v)
}

fn int<T: TryFrom<i64>>(v: &str) -> Result<T, String> {
    let i = options::parse_int(v).map_err(|e| e.to_string())?;
    T::try_from(i).map_err(|_| format!("value {v} out of range"))
}

fn boolean(v: &str) -> Result<bool, String> {
    options::parse_bool(v).map_err(|e| e.to_string())
}

/// Applies every `key,value` of `opts` to `config`; the error is go-nsq's text.
pub fn apply(config: &mut Config, opts: &[String]) -> Result<(), String> {
    let mut tls = TlsOpts::default();
    let mut deflate = (false, 6u32);
    let mut snappy = false;
    for opt in opts {
        let (key, value) = opt.split_once(',').unwrap_or((opt.as_str(), "true"));
        let c = &mut *config;
        match key {
            "dial_timeout" => c.dial_timeout = dur(value)?,
            "read_timeout" => c.read_timeout = dur(value)?,
            "write_timeout" => c.write_timeout = dur(value)?,
            "lookupd_poll_interval" => c.lookupd_poll_interval = dur(value)?,
            "lookupd_poll_jitter" => {
                c.lookupd_poll_jitter = options::parse_float(value).map_err(|e| e.to_string())?
            }
            "max_requeue_delay" => c.max_requeue_delay = dur(value)?,
            "default_requeue_delay" => c.default_requeue_delay = dur(value)?,
            "max_backoff_duration" => c.max_backoff_duration = dur(value)?,
            "backoff_multiplier" => c.backoff_multiplier = dur(value)?,
            "max_attempts" => c.max_attempts = int(value)?,
            "low_rdy_idle_timeout" => c.low_rdy_idle_timeout = dur(value)?,
            "low_rdy_timeout" => c.low_rdy_timeout = dur(value)?,
            "rdy_redistribute_interval" => c.rdy_redistribute_interval = dur(value)?,
            "client_id" => c.client_id = value.to_string(),
            "hostname" => c.hostname = value.to_string(),
            "user_agent" => c.user_agent = value.to_string(),
            "heartbeat_interval" => {
                let d = dur(value)?;
                c.heartbeat_interval = (!d.is_zero()).then_some(d);
            }
            "sample_rate" => c.sample_rate = int(value)?,
            "tls_v1" => tls.enabled = boolean(value)?,
            "tls_root_ca_file" => tls.root_ca = Some(value.into()),
            "tls_insecure_skip_verify" => tls.insecure = boolean(value)?,
            "tls_cert" => tls.cert = Some(value.into()),
            "tls_key" => tls.key = Some(value.into()),
            "deflate" => deflate.0 = boolean(value)?,
            "deflate_level" => deflate.1 = int(value)?,
            "snappy" => snappy = boolean(value)?,
            "output_buffer_size" => c.output_buffer_size = Some(int(value)?),
            "output_buffer_timeout" => c.output_buffer_timeout = Some(dur(value)?),
            "max_in_flight" => c.max_in_flight = int(value)?,
            "msg_timeout" => {
                let d = dur(value)?;
                c.msg_timeout = (!d.is_zero()).then_some(d);
            }
            "auth_secret" => c.auth_secret = Some(value.to_string()),
            _ => return Err(format!("invalid option {key}")),
        }
    }
    if deflate.0 {
        config.compression = Compression::Deflate(deflate.1);
    } else if snappy {
        config.compression = Compression::Snappy;
    }
    if tls.enabled {
        let client_cert = tls.cert.zip(tls.key);
        config.tls = if tls.insecure {
            Tls::InsecureSkipVerify { client_cert }
        } else if let Some(root_ca_file) = tls.root_ca {
            Tls::Verify {
                root_ca_file,
                server_name: None,
                client_cert,
            }
        } else {
            return Err("tls_v1 needs tls_root_ca_file or tls_insecure_skip_verify".into());
        };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_nsq_keys_and_values() {
        let mut c = Config::default();
        let opts: Vec<String> = [
            "max_attempts,10",
            "snappy",
            "heartbeat_interval,5s",
            "tls_v1,true",
            "tls_insecure_skip_verify",
            "auth_secret,a,b",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        apply(&mut c, &opts).expect("valid");
        assert_eq!(c.max_attempts, 10);
        assert_eq!(c.compression, Compression::Snappy);
        assert_eq!(c.heartbeat_interval, Some(Duration::from_secs(5)));
        assert!(matches!(c.tls, Tls::InsecureSkipVerify { .. }));
        assert_eq!(c.auth_secret.as_deref(), Some("a,b"));
        assert_eq!(
            apply(&mut c, &["nope,1".to_string()]),
            Err("invalid option nope".to_string())
        );
        assert!(apply(&mut c, &["max_attempts,x".to_string()]).is_err());
    }
}
