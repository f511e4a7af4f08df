//! IDENTIFY: the client's identity and settings, then the upgrades it negotiated (TLS,
//! then snappy or deflate), which the connection layer carries out mid-stream.

use crate::tcp::connection::UpgradeError;
use crate::tcp::identify;
use crate::tcp::session::Session;
use protocol::compress::Codec;
use protocol::json::identify::IdentifyRequest;
use protocol::{frame, ErrorCode, ProtocolError};
use tracing::debug;

impl Session {
    pub(in crate::tcp) async fn identify(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
        let req = IdentifyRequest::parse(body)?;
        {
            let mut ident = crate::lock(&self.client.identity);
            if let Some(v) = &req.client_id {
                ident.client_id = v.clone();
            }
            if let Some(v) = &req.hostname {
                ident.hostname = v.clone();
            }
            if let Some(v) = &req.user_agent {
                ident.user_agent = v.clone();
            }
        }
        let limits = &*self.limits;
        let mut negotiated = identify::negotiate(&req, limits)?;
        if self.conn.is_unix() {
            // TLS is offered on TCP only.
            negotiated.tls = false;
        }
        {
            let mut ident = crate::lock(&self.client.identity);
            ident.sample_rate = i32::from(negotiated.sample_rate);
        }
        if !req.feature_negotiation {
            frame::put_response(&mut self.conn.out, frame::OK);
            self.settings = negotiated;
            return Ok(());
        }
        let resp = identify::response(&negotiated, limits);
        let json = serde_json::to_vec(&resp).map_err(|e| {
            ProtocolError::new(ErrorCode::IdentifyFailed, format!("IDENTIFY failed {e}"))
        })?;
        frame::put_response(&mut self.conn.out, &json);
        let codec = if negotiated.snappy {
            Some(Codec::snappy())
        } else if negotiated.deflate {
            Some(Codec::deflate(negotiated.deflate_level.clamp(1, 9) as u32))
        } else {
            None
        };
        let tls = negotiated.tls;
        self.settings = negotiated;
        if tls {
            self.upgrade_tls().await?;
        }
        if let Some(codec) = codec {
            // The JSON goes out plain; everything after it, starting with this OK, is
            // compressed. A failed flush means the connection is gone.
            let io_err =
                |_| ProtocolError::new(ErrorCode::IdentifyFailed, "IDENTIFY failed write error");
            self.flush().await.map_err(io_err)?;
            {
                let mut ident = crate::lock(&self.client.identity);
                ident.snappy = self.settings.snappy;
                ident.deflate = self.settings.deflate;
            }
            // Bytes the client sent after IDENTIFY are already compressed.
            let max_command = self.ctx.decoder_limits.max_command_len();
            self.conn.start_compression(codec, max_command);
            frame::put_response(&mut self.conn.out, frame::OK);
        }
        Ok(())
    }

    /// TLS upgrade after the plain JSON reply: handshake (5 s), then `OK` over TLS.
    /// A failed handshake closes the connection.
    async fn upgrade_tls(&mut self) -> Result<(), ProtocolError> {
        let failed = |why: &str| {
            ProtocolError::new(ErrorCode::IdentifyFailed, format!("IDENTIFY failed {why}"))
        };
        self.flush().await.map_err(|_| failed("write error"))?;
        let acceptor = self
            .ctx
            .tls_acceptor
            .clone()
            .ok_or_else(|| failed("TLS not configured"))?;
        let tls = self
            .conn
            .upgrade_tls(&acceptor)
            .await
            .map_err(|e| match e {
                UpgradeError::NotPlain => failed("TLS already active"),
                UpgradeError::Handshake(e) => {
                    debug!(client = self.client.id, error = %e, "TLS handshake failed");
                    failed("TLS handshake failed")
                }
                UpgradeError::TimedOut => failed("TLS handshake timed out"),
            })?;
        {
            let mut ident = crate::lock(&self.client.identity);
            ident.tls = true;
            ident.tls_version = tls.version;
            ident.tls_cipher_suite = tls.cipher_suite;
        }
        frame::put_response(&mut self.conn.out, frame::OK);
        Ok(())
    }
}
