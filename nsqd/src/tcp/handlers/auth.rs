//! AUTH and the authorization check of SUB/PUB/MPUB/DPUB, against the configured auth
//! servers.

use crate::auth::{self, AuthState};
use crate::tcp::session::Session;
use protocol::{frame, ErrorCode, ProtocolError};

impl Session {
    /// AUTH: ask the auth servers what this secret may do, as Go nsqd v1.3.0 does.
    pub(in crate::tcp) async fn authenticate(
        &mut self,
        secret: &[u8],
    ) -> Result<(), ProtocolError> {
        if self.auth.as_ref().is_some_and(|a| a.permission_count() > 0) {
            return Err(ProtocolError::invalid("AUTH already set"));
        }
        if self.ctx.config.auth_http_addresses.is_empty() {
            return Err(ProtocolError::new(ErrorCode::AuthDisabled, "AUTH disabled"));
        }
        let secret = String::from_utf8_lossy(secret).into_owned();
        let state = self.query_auth(&secret).await?;
        if state.permission_count() == 0 {
            return Err(ProtocolError::new(
                ErrorCode::Unauthorized,
                "AUTH no authorizations found",
            ));
        }
        let reply = serde_json::json!({
            "identity": state.identity,
            "identity_url": state.identity_url,
            "permission_count": state.permission_count(),
        });
        {
            let mut ident = crate::lock(&self.client.identity);
            ident.authed = true;
            ident.auth_identity = state.identity.clone();
            ident.auth_identity_url = state.identity_url.clone();
        }
        self.auth = Some(state);
        frame::put_response(&mut self.conn.out, reply.to_string().as_bytes());
        Ok(())
    }

    async fn query_auth(&self, secret: &str) -> Result<AuthState, ProtocolError> {
        let c = &self.ctx.config;
        // As Go nsqd: the subject CN of the client's certificate under TLS, else "".
        let common_name = self.conn.peer_common_name();
        let who = auth::Requester {
            remote_ip: self.client.remote_addr.ip(),
            tls: self.conn.is_tls(),
            common_name: &common_name,
        };
        auth::query(
            &c.auth_http_addresses,
            secret,
            &who,
            c.auth_http_request_method == crate::config::AuthRequestMethod::Post,
            self.ctx.auth_tls.as_ref(),
            c.http_client_connect_timeout,
            c.http_client_request_timeout,
        )
        .await
        .map_err(|_| ProtocolError::new(ErrorCode::AuthFailed, "AUTH failed"))
    }

    /// The auth check of SUB/PUB/MPUB/DPUB (channel `""` for publishing); refreshes an
    /// expired authorization first.
    pub(in crate::tcp) async fn check_auth(
        &mut self,
        cmd: &str,
        topic: &str,
        channel: &str,
    ) -> Result<(), ProtocolError> {
        if self.ctx.config.auth_http_addresses.is_empty() {
            return Ok(());
        }
        let secret = match &self.auth {
            Some(a) if a.permission_count() > 0 => a.secret.clone(),
            _ => {
                return Err(ProtocolError::new(
                    ErrorCode::AuthFirst,
                    format!("AUTH required before {cmd}"),
                ))
            }
        };
        if self.auth.as_ref().is_some_and(|a| a.is_expired()) {
            self.auth = Some(self.query_auth(&secret).await?);
        }
        if self.auth.as_ref().is_some_and(|a| a.allows(topic, channel)) {
            return Ok(());
        }
        Err(ProtocolError::new(
            ErrorCode::Unauthorized,
            format!(
                "AUTH failed for {cmd} on {} {}",
                protocol::quote::go_quote(topic.as_bytes()),
                protocol::quote::go_quote(channel.as_bytes())
            ),
        ))
    }
}
