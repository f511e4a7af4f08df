//! `--consumer-opt` / `--producer-opt`: go-nsq's `ConfigFlag`, which passes `key,value`
//! (a bare `key` meaning `true`) to `Config.Set`. [`NsqOpts`] keeps the options as go-nsq
//! holds them (separate `tls_v1`, `snappy`, `deflate` switches), checks each value when the
//! flag is read with go-nsq's ranges and error texts (so a bad one is a flag error, exit
//! status 2, as in Go), and builds the client's [`nsq_client::Config`] at the end.
//!
//! Accepted and checked but without effect, because the client has no such setting:
//! `local_addr`, `lookupd_poll_timeout`, `skip_lookupd_authorization`, and
//! `tls_min_version` (TLS 1.2 is always the minimum). `backoff_strategy` accepts
//! `exponential` only.

mod coerce;

pub(crate) use coerce::GoDuration;
use coerce::Raw;
use nsq_client::{Compression, Tls};
use options::{OptionValue, SetError};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The go-nsq `Config` a tool's `--*-opt` flags build.
#[derive(Debug, Clone)]
pub struct NsqOpts {
    client: nsq_client::Config,
    heartbeat: GoDuration,
    output_buffer_size: i64,
    output_buffer_timeout: GoDuration,
    msg_timeout: GoDuration,
    tls_v1: bool,
    tls_root_ca_file: Option<PathBuf>,
    tls_insecure_skip_verify: bool,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    snappy: bool,
    deflate: bool,
    deflate_level: i64,
}

impl Default for NsqOpts {
    /// go-nsq's `NewConfig()`.
    fn default() -> NsqOpts {
        let client = nsq_client::Config::default();
        NsqOpts {
            heartbeat: GoDuration::of(Duration::from_secs(30)),
            output_buffer_size: 16384,
            output_buffer_timeout: GoDuration::of(Duration::from_millis(250)),
            msg_timeout: GoDuration(0),
            tls_v1: false,
            tls_root_ca_file: None,
            tls_insecure_skip_verify: false,
            tls_cert: None,
            tls_key: None,
            snappy: false,
            deflate: false,
            deflate_level: 6,
            client,
        }
    }
}

fn ms(n: u64) -> GoDuration {
    GoDuration::of(Duration::from_millis(n))
}

fn mins(n: u64) -> GoDuration {
    GoDuration::of(Duration::from_secs(60 * n))
}

/// go-nsq's `min`/`max` struct tags: `invalid <option> ! <v> < <min>`.
fn range<T: PartialOrd + Copy>(
    option: &str,
    v: T,
    min: Option<T>,
    max: Option<T>,
    show: impl Fn(T) -> String,
) -> Result<T, String> {
    if let Some(min) = min.filter(|m| v < *m) {
        return Err(format!("invalid {option} ! {} < {}", show(v), show(min)));
    }
    if let Some(max) = max.filter(|m| v > *m) {
        return Err(format!("invalid {option} ! {} > {}", show(v), show(max)));
    }
    Ok(v)
}

fn coerced<T>(option: &str, raw: Raw, r: Result<T, String>) -> Result<T, String> {
    r.map_err(|e| format!("failed to coerce option {option} ({raw}) - {e}"))
}

impl NsqOpts {
    /// go-nsq's `Config.Set(option, value)`.
    fn set(&mut self, option: &str, raw: Raw) -> Result<(), String> {
        let option = option.replace('-', "_");
        let o = option.as_str();
        let dur = |min: Option<GoDuration>, max: Option<GoDuration>| {
            let d = coerced(o, raw, coerce::duration(raw))?;
            range(o, d, min, max, |d| d.to_string())
        };
        let pos = |d: GoDuration| d.positive().unwrap_or_default();
        let c = &mut self.client;
        match o {
            "dial_timeout" => c.dial_timeout = pos(dur(None, None)?),
            "read_timeout" => c.read_timeout = pos(dur(Some(ms(100)), Some(mins(5)))?),
            "write_timeout" => c.write_timeout = pos(dur(Some(ms(100)), Some(mins(5)))?),
            "local_addr" => {
                let text = coerce::string(raw);
                coerced(o, raw, resolve(&text))?;
            }
            "lookupd_poll_interval" => {
                c.lookupd_poll_interval = pos(dur(Some(ms(10)), Some(mins(5)))?)
            }
            "lookupd_poll_jitter" => {
                let f = coerced(o, raw, coerce::float(raw))?;
                c.lookupd_poll_jitter = range(o, f, Some(0.0), Some(1.0), coerce::go_float)?;
            }
            "lookupd_poll_timeout" => {
                dur(None, None)?;
            }
            "max_requeue_delay" => c.max_requeue_delay = pos(dur(Some(ms(0)), Some(mins(60)))?),
            "default_requeue_delay" => {
                c.default_requeue_delay = pos(dur(Some(ms(0)), Some(mins(60)))?)
            }
            "backoff_strategy" => match raw {
                Raw::Text("" | "exponential") => {}
                Raw::Text("full_jitter") => {
                    return Err(format!(
                        "failed to coerce option {o} ({raw}) - full_jitter is not supported"
                    ))
                }
                _ => return coerced(o, raw, Err("invalid value type".into())),
            },
            "max_backoff_duration" => {
                c.max_backoff_duration = pos(dur(Some(ms(0)), Some(mins(60)))?)
            }
            "backoff_multiplier" => c.backoff_multiplier = pos(dur(Some(ms(0)), Some(mins(60)))?),
            "max_attempts" => {
                // Go stores the uint64 into a uint16 field (truncating) before the range check.
                c.max_attempts = coerced(o, raw, coerce::uint(raw))? as u16;
            }
            "low_rdy_idle_timeout" => {
                c.low_rdy_idle_timeout = pos(dur(Some(ms(1000)), Some(mins(5)))?)
            }
            "low_rdy_timeout" => c.low_rdy_timeout = pos(dur(Some(ms(1000)), Some(mins(5)))?),
            "rdy_redistribute_interval" => {
                c.rdy_redistribute_interval = pos(dur(Some(ms(1)), Some(ms(5000)))?)
            }
            "client_id" => c.client_id = coerce::string(raw),
            "hostname" => c.hostname = coerce::string(raw),
            "user_agent" => c.user_agent = coerce::string(raw),
            "heartbeat_interval" => self.heartbeat = dur(None, None)?,
            "sample_rate" => {
                // Go keeps the int64 as an int32 field (truncating) before the range check.
                let n = coerced(o, raw, coerce::int(raw))? as i32;
                let n = range(o, n, Some(0), Some(99), |n| n.to_string())?;
                c.sample_rate = u8::try_from(n).unwrap_or_default();
            }
            "tls_v1" => self.tls_v1 = coerced(o, raw, coerce::boolean(raw))?,
            "tls_config" => return coerced(o, raw, Err("invalid value type".into())),
            "deflate" => self.deflate = coerced(o, raw, coerce::boolean(raw))?,
            "deflate_level" => {
                let n = coerced(o, raw, coerce::int(raw))?;
                self.deflate_level = range(o, n, Some(1), Some(9), |n| n.to_string())?;
            }
            "snappy" => self.snappy = coerced(o, raw, coerce::boolean(raw))?,
            "output_buffer_size" => self.output_buffer_size = coerced(o, raw, coerce::int(raw))?,
            "output_buffer_timeout" => self.output_buffer_timeout = dur(None, None)?,
            "max_in_flight" => {
                let n = coerced(o, raw, coerce::int(raw))?;
                let n = range(o, n, Some(0), None, |n| n.to_string())?;
                c.max_in_flight = u64::try_from(n).unwrap_or_default();
            }
            "msg_timeout" => self.msg_timeout = dur(Some(ms(0)), None)?,
            "auth_secret" => c.auth_secret = Some(coerce::string(raw)),
            "skip_lookupd_authorization" => {
                coerced(o, raw, coerce::boolean(raw))?;
            }
            "tls_root_ca_file" => {
                let Raw::Text(path) = raw else {
                    return Err(format!("ERROR: {raw} is not a string"));
                };
                check_root_ca_file(path)?;
                self.tls_root_ca_file = Some(PathBuf::from(path));
            }
            "tls_insecure_skip_verify" => {
                self.tls_insecure_skip_verify = coerced(o, raw, coerce::boolean(raw))?
            }
            "tls_cert" | "tls_key" => {
                let Raw::Text(path) = raw else {
                    return Err(format!("ERROR: {raw} is not a string"));
                };
                let path = Some(PathBuf::from(path));
                if o == "tls_cert" {
                    self.tls_cert = path;
                } else {
                    self.tls_key = path;
                }
            }
            "tls_min_version" => match raw {
                Raw::Text("ssl3.0" | "tls1.0" | "tls1.1" | "tls1.2") => {}
                Raw::Text(_) => return Err(format!("ERROR: {raw} is not a tls version")),
                Raw::True => return Err(format!("ERROR: {raw} is not a string")),
            },
            _ => return Err(format!("invalid option {o}")),
        }
        Ok(())
    }

    /// The client's configuration with the tool's user agent (which, as in the Go tools,
    /// replaces any `user_agent` option: it is set after the flags are read), checked as
    /// go-nsq's `Config.Validate` does when a producer or consumer is made.
    pub(crate) fn client_config(&self, user_agent: &str) -> Result<nsq_client::Config, String> {
        let mut c = self.client.clone();
        c.user_agent = user_agent.to_string();
        if self.heartbeat > GoDuration::of(c.read_timeout) {
            return Err(format!(
                "HeartbeatInterval {} must be less than ReadTimeout {}",
                self.heartbeat,
                GoDuration::of(c.read_timeout)
            ));
        }
        c.heartbeat_interval = self.heartbeat.positive();
        c.output_buffer_size = u64::try_from(self.output_buffer_size).ok();
        c.output_buffer_timeout = self.output_buffer_timeout.positive();
        c.msg_timeout = self.msg_timeout.positive().filter(|d| !d.is_zero());
        c.compression = match (self.snappy, self.deflate) {
            (true, true) => return Err("cannot enable both deflate and snappy compression".into()),
            (true, false) => Compression::Snappy,
            (false, true) => Compression::Deflate(u32::try_from(self.deflate_level).unwrap_or(6)),
            (false, false) => Compression::None,
        };
        c.tls = self.tls()?;
        Ok(c)
    }

    fn tls(&self) -> Result<Tls, String> {
        if !self.tls_v1 {
            return Ok(Tls::Off);
        }
        let client_cert = match (&self.tls_cert, &self.tls_key) {
            (Some(c), Some(k)) => Some((c.clone(), k.clone())),
            _ => None,
        };
        if self.tls_insecure_skip_verify {
            return Ok(Tls::InsecureSkipVerify { client_cert });
        }
        if let Some(root) = &self.tls_root_ca_file {
            return Ok(Tls::Verify {
                root_ca_file: root.clone(),
                server_name: None,
                client_cert,
            });
        }
        // Go verifies against the system's roots: the Mozilla set here.
        let mut roots = rustls::RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let config = match client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                use rustls::pki_types::pem::PemObject;
                use rustls::pki_types::{CertificateDer, PrivateKeyDer};
                let certs = CertificateDer::pem_file_iter(&cert)
                    .and_then(|i| i.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| format!("tls_cert {}: {e}", cert.display()))?;
                let key = PrivateKeyDer::from_pem_file(&key)
                    .map_err(|e| format!("tls_key {}: {e}", key.display()))?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| e.to_string())?
            }
        };
        Ok(Tls::Custom {
            config: Arc::new(config),
            server_name: None,
        })
    }
}

/// Go's `time.ParseDuration`, negative values included.
pub(crate) fn parse_duration(text: &str) -> Result<GoDuration, String> {
    coerce::duration(Raw::Text(text))
}

fn resolve(addr: &str) -> Result<(), String> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()
        .map(|_| ())
        .map_err(|e| format!("address {addr}: {e}"))
}

/// go-nsq reads and parses the CA file when the option is set.
fn check_root_ca_file(path: &str) -> Result<(), String> {
    let pem = std::fs::read(path).map_err(|e| {
        format!(
            "ERROR: failed to read custom Certificate Authority file {}",
            coerce::go_open_error(path, &e)
        )
    })?;
    use rustls::pki_types::pem::PemObject;
    let any = rustls::pki_types::CertificateDer::pem_slice_iter(&pem).any(|c| c.is_ok());
    if !any {
        return Err(
            "ERROR: failed to append certificates from Certificate Authority file".to_string(),
        );
    }
    Ok(())
}

/// A repeatable `key[,value]` flag; each occurrence is applied to the one config.
impl OptionValue for NsqOpts {
    const WORD: &'static str = "value";

    fn set(&mut self, _first: bool, text: &str) -> Result<(), SetError> {
        let result = match text.split_once(',') {
            Some((key, value)) => NsqOpts::set(self, key, Raw::Text(value)),
            None => NsqOpts::set(self, text, Raw::True),
        };
        result.map_err(SetError::Invalid)
    }

    fn to_json(&self) -> Value {
        Value::Null
    }

    fn usage_default(&self) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests;
