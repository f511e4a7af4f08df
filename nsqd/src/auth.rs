//! Authorization against external auth servers (`--auth-http-address`): the AUTH query,
//! validation of the server's answer, and the per-command check applied to SUB, PUB, MPUB
//! and DPUB. The state lives in the client's connection task.

use crate::http_client::{self, encode_component};
use regex::Regex;
use serde::Deserialize;
use std::time::{Duration, Instant};
use tracing::warn;

// Go's encoding/json leaves a field at its zero value when the reply has `null` for it
// (and a `null` in a list is the element's zero value): every field here reads `null` as
// its default, as Go nsqd v1.3.0 does.
#[derive(Deserialize)]
struct ServerReply {
    #[serde(default, deserialize_with = "null_as_default")]
    ttl: i64,
    #[serde(default, deserialize_with = "null_as_default")]
    identity: String,
    #[serde(default, deserialize_with = "null_as_default")]
    identity_url: String,
    #[serde(default, deserialize_with = "null_as_default")]
    authorizations: Vec<NullAsDefault<ServerAuthorization>>,
}

#[derive(Deserialize, Default)]
struct ServerAuthorization {
    #[serde(default, deserialize_with = "null_as_default")]
    topic: String,
    #[serde(default, deserialize_with = "null_as_default")]
    channels: Vec<NullAsDefault<String>>,
    #[serde(default, deserialize_with = "null_as_default")]
    permissions: Vec<NullAsDefault<String>>,
}

/// A list element that reads `null` as the element's default.
#[derive(Default)]
struct NullAsDefault<T>(T);

impl<'de, T: Deserialize<'de> + Default> Deserialize<'de> for NullAsDefault<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        null_as_default(d).map(NullAsDefault)
    }
}

fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug)]
struct Authorization {
    topic: Regex,
    channels: Vec<Regex>,
    subscribe: bool,
    publish: bool,
}

impl Authorization {
    /// Permission for the command, an unanchored topic match, and some channel regex
    /// matching the channel (`""` when publishing).
    fn allows(&self, topic: &str, channel: &str) -> bool {
        let permitted = if channel.is_empty() {
            self.publish
        } else {
            self.subscribe
        };
        permitted && self.topic.is_match(topic) && self.channels.iter().any(|c| c.is_match(channel))
    }
}

/// What the auth server granted this client, until `expires`.
#[derive(Debug)]
pub struct AuthState {
    pub secret: String,
    pub identity: String,
    pub identity_url: String,
    expires: Instant,
    authorizations: Vec<Authorization>,
}

/// Who is asking: the parameters of the auth query besides the secret.
pub struct Requester<'a> {
    pub remote_ip: String,
    pub tls: bool,
    pub common_name: &'a str,
}

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("{0}")]
    Query(String),
    #[error("invalid TTL {0} (must be >0)")]
    Ttl(i64),
    #[error("unknown permission {0}")]
    Permission(String),
    #[error("invalid regex {0}: {1}")]
    Regex(String, regex::Error),
}

impl AuthState {
    pub fn permission_count(&self) -> usize {
        self.authorizations.len()
    }

    pub fn is_expired(&self) -> bool {
        Instant::now() >= self.expires
    }

    pub fn allows(&self, topic: &str, channel: &str) -> bool {
        self.authorizations.iter().any(|a| a.allows(topic, channel))
    }
}

/// Ask the auth servers, starting at a random one, until one answers well.
pub async fn query(
    servers: &[String],
    secret: &str,
    who: &Requester<'_>,
    post: bool,
    tls: Option<&tokio_rustls::TlsConnector>,
    connect: Duration,
    request: Duration,
) -> Result<AuthState, AuthError> {
    let start = (daemon::clock::unix_nanos() as usize) % servers.len().max(1);
    let mut errors = Vec::new();
    for i in 0..servers.len() {
        let server = &servers[(start + i) % servers.len()];
        match query_one(server, secret, who, post, tls, connect, request).await {
            Ok(state) => return Ok(state),
            Err(e) => errors.push(format!("{server}: {e}")),
        }
    }
    let all = errors.join("; ");
    warn!(error = %all, "AUTH: every auth server failed");
    Err(AuthError::Query(all))
}

async fn query_one(
    server: &str,
    secret: &str,
    who: &Requester<'_>,
    post: bool,
    tls: Option<&tokio_rustls::TlsConnector>,
    connect: Duration,
    request: Duration,
) -> Result<AuthState, AuthError> {
    let base = if server.contains("://") {
        server.to_string()
    } else {
        format!("http://{server}/auth")
    };
    let reply = if post {
        // `--auth-http-request-method=post` (Go's main line, not in v1.3.0): the same
        // parameters as a JSON object of one-element arrays (Go's url.Values).
        let body = serde_json::json!({
            "common_name": [who.common_name],
            "remote_ip": [who.remote_ip],
            "secret": [secret],
            "tls": [who.tls.to_string()],
        });
        http_client::post_json_with_tls(&base, body.to_string().as_bytes(), connect, request, tls)
            .await
    } else {
        let url = format!(
            "{base}?common_name={}&remote_ip={}&secret={}&tls={}",
            encode_component(who.common_name),
            encode_component(&who.remote_ip),
            encode_component(secret),
            who.tls
        );
        match http_client::get_with_tls(&url, connect, request, tls).await {
            // As Go's V1 client: a 403 naming an `https_port` is asked again over https.
            Ok(r) if r.status == 403 => match http_client::https_retry_url(&url, &r.body) {
                Some(https) => http_client::get_with_tls(&https, connect, request, tls).await,
                None => Ok(r),
            },
            other => other,
        }
    }
    .map_err(|e| AuthError::Query(e.to_string()))?;
    if reply.status != 200 {
        return Err(AuthError::Query(format!("got response {}", reply.status)));
    }
    parse_reply(&reply.body, secret)
}

/// An auth server's reply body, decoded and checked.
pub(crate) fn parse_reply(body: &[u8], secret: &str) -> Result<AuthState, AuthError> {
    let parsed: ServerReply =
        serde_json::from_slice(body).map_err(|e| AuthError::Query(e.to_string()))?;
    into_state(parsed, secret)
}

fn into_state(r: ServerReply, secret: &str) -> Result<AuthState, AuthError> {
    if r.ttl <= 0 {
        return Err(AuthError::Ttl(r.ttl));
    }
    let compile = |re: &str| Regex::new(re).map_err(|e| AuthError::Regex(re.to_string(), e));
    let mut authorizations = Vec::new();
    for NullAsDefault(a) in r.authorizations {
        let (mut subscribe, mut publish) = (false, false);
        for NullAsDefault(p) in &a.permissions {
            match p.as_str() {
                "subscribe" => subscribe = true,
                "publish" => publish = true,
                other => return Err(AuthError::Permission(other.to_string())),
            }
        }
        authorizations.push(Authorization {
            topic: compile(&a.topic)?,
            channels: a
                .channels
                .iter()
                .map(|NullAsDefault(c)| compile(c))
                .collect::<Result<_, _>>()?,
            subscribe,
            publish,
        });
    }
    Ok(AuthState {
        secret: secret.to_string(),
        identity: r.identity,
        identity_url: r.identity_url,
        expires: expiry(Instant::now(), r.ttl),
        authorizations,
    })
}

/// The longest TTL honoured (about 100 years): a larger one never expires either, and
/// `Instant` arithmetic past it could overflow.
const MAX_TTL: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// When an authorization of `ttl` seconds (positive) from `now` expires.
fn expiry(now: Instant, ttl: i64) -> Instant {
    let ttl = Duration::from_secs(u64::try_from(ttl).unwrap_or(0)).min(MAX_TTL);
    now.checked_add(ttl).unwrap_or(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(json: &str) -> Result<AuthState, AuthError> {
        into_state(serde_json::from_str(json).expect("json"), "s")
    }

    #[test]
    fn permissions_and_matching() {
        let s = state(
            r#"{"ttl":60,"identity":"u","authorizations":[
                {"topic":"^events$","channels":[".*"],"permissions":["subscribe","publish"]},
                {"topic":"logs","channels":["^archive$"],"permissions":["subscribe"]}]}"#,
        )
        .expect("valid");
        assert_eq!(s.permission_count(), 2);
        assert!(
            s.allows("events", ""),
            "publish: channel regex .* matches \"\""
        );
        assert!(s.allows("events", "any"));
        assert!(!s.allows("events2", ""));
        assert!(s.allows("my_logs", "archive"), "topic regex is unanchored");
        assert!(!s.allows("logs", ""), "no publish permission");
        assert!(!s.allows("logs", "other"));
    }

    #[test]
    fn empty_channel_list_never_grants_publish() {
        let s = state(r#"{"ttl":60,"authorizations":[{"topic":".*","channels":[],"permissions":["publish"]}]}"#)
            .expect("valid");
        assert!(!s.allows("t", ""));
    }

    /// Go reads `null` as the zero value; such a reply is not a failed AUTH.
    #[test]
    fn null_fields_read_as_empty() {
        let s = state(
            r#"{"ttl":60,"identity":null,"identity_url":null,"authorizations":[
                {"topic":"^t$","channels":[null,".*"],"permissions":["publish",null]},
                {"topic":null,"channels":null,"permissions":null},
                null]}"#,
        );
        assert!(
            matches!(s, Err(AuthError::Permission(ref p)) if p.is_empty()),
            "a null permission is \"\", unknown as in Go: {s:?}"
        );
        let s = state(
            r#"{"ttl":60,"identity":null,"identity_url":null,"authorizations":[
                {"topic":"^t$","channels":[null],"permissions":["publish"]},
                {"topic":null,"channels":null,"permissions":null},
                null]}"#,
        )
        .expect("nulls are empty values");
        assert_eq!((s.identity.as_str(), s.identity_url.as_str()), ("", ""));
        assert_eq!(s.permission_count(), 3);
        assert!(
            s.allows("t", ""),
            "a null channel regex is \"\", matching publish"
        );
        let s = state(r#"{"ttl":60,"authorizations":null}"#).expect("null list");
        assert_eq!(s.permission_count(), 0);
        assert!(matches!(state(r#"{"ttl":null}"#), Err(AuthError::Ttl(0))));
    }

    #[test]
    fn huge_ttl_does_not_overflow() {
        // Found by the auth_reply fuzz target: `Instant + i64::MAX seconds` panicked.
        let s = state(r#"{"ttl":9223372036854775807}"#).expect("valid");
        assert!(!s.is_expired());
        assert!(s.expires > Instant::now() + Duration::from_secs(50 * 365 * 24 * 3600));
    }

    #[test]
    fn invalid_replies() {
        assert!(matches!(state(r#"{"ttl":0}"#), Err(AuthError::Ttl(0))));
        assert!(matches!(
            state(
                r#"{"ttl":1,"authorizations":[{"topic":"t","channels":[],"permissions":["admin"]}]}"#
            ),
            Err(AuthError::Permission(_))
        ));
        assert!(matches!(
            state(r#"{"ttl":1,"authorizations":[{"topic":"(","channels":[],"permissions":[]}]}"#),
            Err(AuthError::Regex(..))
        ));
    }
}
