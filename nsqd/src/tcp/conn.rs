//! One V2 client connection: a single task owns the socket, the read and write buffers and
//! the in-flight table, and `select!`s over the next bytes, the channel's wake-up, the
//! heartbeat, the idle deadline, the next in-flight deadline and shutdown.
//!
//! Writes are coalesced: responses to every command found in one read, and every message
//! delivered in one round, go out in a single write. The buffer is flushed when it passes
//! `output_buffer_size` and whenever the task goes back to waiting, so nothing sits in it
//! while the client waits (the reference can hold a lone message up to
//! `output_buffer_timeout`; here that timer is never needed).

use crate::auth::{self, AuthState};
use crate::broker::Nsqd;
use crate::channel::{Channel, ChannelError};
use crate::client::{ClientShared, Peer, STATE_CLOSING, STATE_INIT, STATE_SUBSCRIBED};
use crate::tcp::compress::Codec;
use crate::tcp::identify::{IdentifyRequest, IdentifyResponse, Negotiated};
use crate::tcp::transport::Transport;
use crate::topic::{Topic, TopicError};
use bytes::{Bytes, BytesMut};
use protocol::{
    frame, Command, CommandName, DecodeError, Decoder, ErrorCode, Message, ProtocolError,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::{sleep_until, timeout};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

/// How many messages one delivery round takes from the channel at most.
const DELIVERY_BATCH: u64 = 256;
/// How long a client may take over the TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Initial read buffer; grows as large bodies need.
const READ_BUF: usize = 64 * 1024;

struct Subscription {
    topic: Arc<Topic>,
    channel: Arc<Channel>,
}

/// Why the connection loop ended.
enum Exit {
    /// Peer closed, I/O error, idle timeout, kick or shutdown.
    Closed,
}

pub struct Conn {
    ctx: Arc<Nsqd>,
    stream: Transport,
    client: Arc<ClientShared>,
    rbuf: BytesMut,
    out: BytesMut,
    decoder: Decoder,
    state: u8,
    sub: Option<Subscription>,
    epoch: u64,
    settings: Negotiated,
    take_buf: Vec<Message>,
    /// FINs not yet applied to the shared counters `(epoch, count)`: they are applied once
    /// per read (`apply_fins`), not per FIN, so consumers of one channel do not bounce its
    /// counter's cache line between cores for every message.
    fin_tally: (u64, u64),
    rng: u64,
    /// Snappy or deflate once negotiated; `raw_in`/`raw_out` hold the compressed side.
    codec: Option<Codec>,
    raw_in: BytesMut,
    raw_out: Vec<u8>,
    /// What AUTH granted (auth servers configured only).
    auth: Option<AuthState>,
}

impl Conn {
    pub fn new(ctx: Arc<Nsqd>, stream: Transport, peer: Peer) -> Conn {
        let id = ctx.next_client_id();
        let kick = ctx.shutdown.child_token();
        let client = Arc::new(ClientShared::new(id, peer, crate::unix_now(), kick));
        ctx.register_client(Arc::clone(&client));
        let settings = ctx.default_negotiated();
        Conn {
            decoder: Decoder::new(ctx.decoder_limits),
            ctx,
            stream,
            client,
            rbuf: BytesMut::with_capacity(READ_BUF),
            out: BytesMut::with_capacity(16 * 1024),
            state: STATE_INIT,
            sub: None,
            epoch: 0,
            settings,
            take_buf: Vec::new(),
            fin_tally: (0, 0),
            rng: id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            codec: None,
            raw_in: BytesMut::new(),
            raw_out: Vec::new(),
            auth: None,
        }
    }

    pub async fn run(mut self) {
        let _ = self.serve().await;
        self.cleanup();
    }

    async fn serve(&mut self) -> Result<(), Exit> {
        let kick: CancellationToken = self.client.kick.clone();
        let mut hb_interval = self.settings.heartbeat;
        let mut hb_next = hb_interval.map(|h| Instant::now() + h);
        let mut idle_deadline = hb_interval.map(|h| Instant::now() + 2 * h);
        loop {
            self.deliver().await?;
            self.flush().await?;
            let far = Instant::now() + Duration::from_secs(3600);
            let inflight_deadline = self.table().next_deadline();
            let subscribed = self.sub.is_some();
            tokio::select! {
                biased;
                _ = kick.cancelled() => return Err(Exit::Closed),
                r = self.stream.read_buf(if self.codec.is_some() { &mut self.raw_in } else { &mut self.rbuf }) => {
                    match r {
                        Ok(0) => {
                            // Half-closed mid-command: report what could not be read.
                            if let Some(e) = self.decoder.eof_error(&self.rbuf) {
                                self.send_error(&e).await?;
                            }
                            return Err(Exit::Closed);
                        }
                        Err(_) => return Err(Exit::Closed),
                        Ok(_) => {}
                    }
                    if let Some(codec) = self.codec.as_mut() {
                        if let Err(e) = codec.decode(&mut self.raw_in, &mut self.rbuf) {
                            debug!(client = self.client.id, error = %e, "bad compressed input");
                            return Err(Exit::Closed);
                        }
                    }
                    let processed = self.process_input().await;
                    self.apply_fins();
                    let processed = processed?;
                    if processed {
                        if let Some(h) = self.settings.heartbeat {
                            idle_deadline = Some(Instant::now() + 2 * h);
                        }
                    }
                    // IDENTIFY may have changed (or disabled) the heartbeat: re-arm both timers.
                    if self.settings.heartbeat != hb_interval {
                        hb_interval = self.settings.heartbeat;
                        hb_next = hb_interval.map(|h| Instant::now() + h);
                        idle_deadline = hb_interval.map(|h| Instant::now() + 2 * h);
                    }
                }
                _ = self.client.wake.notified(), if subscribed => {
                    self.check_epoch();
                }
                _ = sleep_until(hb_next.unwrap_or(far).into()), if hb_next.is_some() => {
                    frame::put_response(&mut self.out, frame::HEARTBEAT);
                    hb_next = self.settings.heartbeat.map(|h| Instant::now() + h);
                }
                _ = sleep_until(idle_deadline.unwrap_or(far).into()), if idle_deadline.is_some() => {
                    info!(client = self.client.id, "client idle past 2x heartbeat, closing");
                    return Err(Exit::Closed);
                }
                _ = sleep_until(inflight_deadline.unwrap_or(far).into()), if inflight_deadline.is_some() => {
                    self.expire_in_flight();
                }
            }
        }
    }

    /// Decode and execute every complete command in the read buffer. Returns whether any
    /// command was processed. A fatal error is written and flushed, then the loop ends.
    async fn process_input(&mut self) -> Result<bool, Exit> {
        let mut processed = false;
        loop {
            let state = self.state;
            let heartbeats = self.settings.heartbeat.is_some();
            let tls_pending =
                self.ctx.tls_required_tcp && !matches!(self.stream, Transport::Tls(_));
            let decoded = self.decoder.decode(&mut self.rbuf, |name, word| {
                if tls_pending && name != CommandName::Identify {
                    return Err(ProtocolError::invalid("cannot ")
                        .with_raw(&[word, b" in current state (TLS required)"].concat()));
                }
                state_check(name, state, heartbeats)
            });
            match decoded {
                Ok(None) => return Ok(processed),
                Ok(Some(cmd)) => {
                    processed = true;
                    if let Err(e) = self.execute(cmd).await {
                        self.send_error(&e).await?;
                    }
                }
                Err(DecodeError::Protocol(e)) => {
                    // The reference creates an MPUB's topic before reading its body.
                    if let Some(topic) = self.decoder.mpub_topic() {
                        let _ = self.ctx.get_or_create_topic(topic);
                    }
                    self.send_error(&e).await?;
                }
                Err(DecodeError::LineTooLong) => return Err(Exit::Closed),
            }
        }
    }

    async fn send_error(&mut self, e: &ProtocolError) -> Result<(), Exit> {
        frame::put_error(&mut self.out, &e.frame_bytes());
        if e.is_fatal() {
            debug!(client = self.client.id, error = %e, "fatal client error");
            let _ = self.flush().await;
            let _ = self.stream.shutdown().await;
            return Err(Exit::Closed);
        }
        Ok(())
    }

    async fn execute(&mut self, cmd: Command) -> Result<(), ProtocolError> {
        match cmd {
            Command::Nop => Ok(()),
            Command::Identify(body) => self.identify(&body).await,
            Command::Auth(secret) => self.authenticate(&secret).await,
            Command::Sub { topic, channel } => {
                self.check_auth("SUB", &topic, &channel).await?;
                self.subscribe(&topic, &channel).await
            }
            Command::Rdy(n) => {
                if self.state == STATE_SUBSCRIBED {
                    self.client.ready_count.store(n, Ordering::Relaxed);
                }
                Ok(())
            }
            Command::Fin(id) => self.finish(id),
            Command::Req { id, timeout_ms } => self.requeue(id, timeout_ms),
            Command::Touch(id) => self.touch(id),
            Command::Cls => {
                self.client.ready_count.store(0, Ordering::Relaxed);
                self.state = STATE_CLOSING;
                self.client.state.store(STATE_CLOSING, Ordering::Relaxed);
                frame::put_response(&mut self.out, frame::CLOSE_WAIT);
                Ok(())
            }
            Command::Pub { topic, body } => {
                self.check_auth("PUB", &topic, "").await?;
                self.publish("PUB", ErrorCode::PubFailed, &topic, vec![body])
            }
            Command::Mpub { topic, bodies } => {
                self.check_auth("MPUB", &topic, "").await?;
                self.publish("MPUB", ErrorCode::MpubFailed, &topic, bodies)
            }
            Command::Dpub {
                topic,
                defer_ms,
                body,
            } => {
                self.check_auth("DPUB", &topic, "").await?;
                let result = self
                    .ctx
                    .get_or_create_topic(&topic)
                    .and_then(|t| t.publish_deferred(body, Duration::from_millis(defer_ms)));
                self.publish_result("DPUB", ErrorCode::DpubFailed, &topic, 1, result)
            }
        }
    }

    /// AUTH: ask the auth servers what this secret may do (tcp-protocol.md §6.2).
    async fn authenticate(&mut self, secret: &[u8]) -> Result<(), ProtocolError> {
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
        frame::put_response(&mut self.out, reply.to_string().as_bytes());
        Ok(())
    }

    async fn query_auth(&self, secret: &str) -> Result<AuthState, ProtocolError> {
        let c = &self.ctx.config;
        let who = auth::Requester {
            remote_ip: self.client.remote_addr.ip(),
            tls: matches!(self.stream, Transport::Tls(_)),
            common_name: "",
        };
        auth::query(
            &c.auth_http_addresses,
            secret,
            &who,
            c.http_client_connect_timeout,
            c.http_client_request_timeout,
        )
        .await
        .map_err(|_| ProtocolError::new(ErrorCode::AuthFailed, "AUTH failed"))
    }

    /// The auth check of SUB/PUB/MPUB/DPUB (channel `""` for publishing); refreshes an
    /// expired authorization first.
    async fn check_auth(
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

    async fn identify(&mut self, body: &[u8]) -> Result<(), ProtocolError> {
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
        let limits = &self.ctx.identify_limits;
        let mut negotiated = req.negotiate(limits)?;
        if matches!(self.stream, Transport::Unix(_)) {
            // TLS is offered on TCP only.
            negotiated.tls = false;
        }
        {
            let mut ident = crate::lock(&self.client.identity);
            ident.sample_rate = i32::from(negotiated.sample_rate);
        }
        if !req.feature_negotiation {
            frame::put_response(&mut self.out, frame::OK);
            self.settings = negotiated;
            return Ok(());
        }
        let resp = IdentifyResponse::new(&negotiated, limits);
        let json = serde_json::to_vec(&resp).map_err(|e| {
            ProtocolError::new(ErrorCode::IdentifyFailed, format!("IDENTIFY failed {e}"))
        })?;
        frame::put_response(&mut self.out, &json);
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
            self.codec = Some(codec);
            // Bytes the client sent after IDENTIFY are already compressed.
            let pending = self.rbuf.split();
            self.raw_in.extend_from_slice(&pending);
            frame::put_response(&mut self.out, frame::OK);
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
        let Transport::Plain(tcp) = std::mem::replace(&mut self.stream, Transport::Upgrading)
        else {
            return Err(failed("TLS already active"));
        };
        let tls = match timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(e)) => {
                debug!(client = self.client.id, error = %e, "TLS handshake failed");
                return Err(failed("TLS handshake failed"));
            }
            Err(_) => return Err(failed("TLS handshake timed out")),
        };
        {
            let (_, session) = tls.get_ref();
            let mut ident = crate::lock(&self.client.identity);
            ident.tls = true;
            ident.tls_version = crate::tls::version_name(session.protocol_version());
            ident.tls_cipher_suite = crate::tls::suite_name(session.negotiated_cipher_suite());
        }
        self.stream = Transport::Tls(Box::new(tls));
        frame::put_response(&mut self.out, frame::OK);
        Ok(())
    }

    async fn subscribe(
        &mut self,
        topic_name: &str,
        channel_name: &str,
    ) -> Result<(), ProtocolError> {
        let mut result = self.try_subscribe(topic_name, channel_name);
        if matches!(result, Err(SubError::Exiting)) {
            // The (ephemeral) topic or channel was being deleted: retry once, as Go does.
            tokio::time::sleep(Duration::from_millis(100)).await;
            result = self.try_subscribe(topic_name, channel_name);
        }
        match result {
            Ok(sub) => {
                self.epoch = sub.channel.epoch();
                self.sub = Some(sub);
                self.state = STATE_SUBSCRIBED;
                self.client.state.store(STATE_SUBSCRIBED, Ordering::Relaxed);
                frame::put_response(&mut self.out, frame::OK);
                Ok(())
            }
            Err(SubError::Exiting) => Err(ProtocolError::new(
                ErrorCode::SubFailed,
                "SUB failed to deleted topic/channel",
            )),
            Err(SubError::Other(msg)) => Err(ProtocolError::new(
                ErrorCode::SubFailed,
                format!("SUB failed {msg}"),
            )),
        }
    }

    fn try_subscribe(
        &self,
        topic_name: &str,
        channel_name: &str,
    ) -> Result<Subscription, SubError> {
        let topic = self
            .ctx
            .get_or_create_topic(topic_name)
            .map_err(SubError::from)?;
        let channel = self
            .ctx
            .get_or_create_channel(&topic, channel_name)
            .map_err(SubError::from)?;
        channel
            .add_consumer(Arc::clone(&self.client))
            .map_err(|e| match e {
                ChannelError::Exiting => SubError::Exiting,
                other => SubError::Other(other.to_string()),
            })?;
        if channel.is_exiting() || topic.is_exiting() {
            channel.remove_consumer(self.client.id);
            return Err(SubError::Exiting);
        }
        Ok(Subscription { topic, channel })
    }

    fn publish(
        &mut self,
        cmd: &str,
        code: ErrorCode,
        topic: &str,
        bodies: Vec<Bytes>,
    ) -> Result<(), ProtocolError> {
        let n = bodies.len() as u64;
        let result = self
            .ctx
            .get_or_create_topic(topic)
            .and_then(|t| t.publish(bodies));
        self.publish_result(cmd, code, topic, n, result)
    }

    fn publish_result(
        &mut self,
        cmd: &str,
        code: ErrorCode,
        topic: &str,
        n: u64,
        result: Result<(), TopicError>,
    ) -> Result<(), ProtocolError> {
        match result {
            Ok(()) => {
                self.ctx.publish_succeeded();
                self.client.count_publish(topic, n);
                frame::put_response(&mut self.out, frame::OK);
                Ok(())
            }
            Err(e) => {
                self.ctx.publish_failed(&e);
                Err(ProtocolError::new(code, format!("{cmd} failed {e}")))
            }
        }
    }

    fn finish(&mut self, id: protocol::MessageId) -> Result<(), ProtocolError> {
        let Some(sub) = &self.sub else {
            return Err(fin_failed("FIN", &id, "ID not in flight"));
        };
        let removed = self.table().remove(&id);
        match removed {
            Some(entry) if entry.epoch == sub.channel.epoch() => {
                if let Some(e2e) = &sub.channel.e2e {
                    let ns = crate::topic::now_ns().saturating_sub(entry.msg.timestamp);
                    e2e.record(ns.max(0) as u64);
                }
                if self.fin_tally.1 > 0 && self.fin_tally.0 != entry.epoch {
                    self.apply_fins();
                }
                self.fin_tally = (entry.epoch, self.fin_tally.1 + 1);
                Ok(())
            }
            _ => Err(fin_failed("FIN", &id, self.miss_reason(&id))),
        }
    }

    /// Apply the FINs counted since the last call to the channel's and client's counters.
    fn apply_fins(&mut self) {
        let (epoch, n) = std::mem::take(&mut self.fin_tally);
        if n == 0 {
            return;
        }
        if let Some(sub) = &self.sub {
            sub.channel.in_flight_done(epoch, n);
        }
        self.client.in_flight.fetch_sub(n, Ordering::Relaxed);
        self.client.finish_count.fetch_add(n, Ordering::Relaxed);
    }

    fn requeue(&mut self, id: protocol::MessageId, timeout_ms: u64) -> Result<(), ProtocolError> {
        let Some(sub) = &self.sub else {
            return Err(fin_failed("REQ", &id, "ID not in flight"));
        };
        let removed = self.table().remove(&id);
        let entry = match removed {
            Some(e) if e.epoch == sub.channel.epoch() => e,
            _ => return Err(fin_failed("REQ", &id, self.miss_reason(&id))),
        };
        self.client.in_flight.fetch_sub(1, Ordering::Relaxed);
        self.client.requeue_count.fetch_add(1, Ordering::Relaxed);
        sub.channel
            .requeue(entry.msg, entry.epoch, Duration::from_millis(timeout_ms))
            .map_err(|e| fin_failed("REQ", &id, &e.to_string()))
    }

    fn touch(&mut self, id: protocol::MessageId) -> Result<(), ProtocolError> {
        let now = Instant::now();
        let touched = self.table().touch(
            &id,
            now,
            self.settings.msg_timeout,
            self.ctx.max_msg_timeout,
        );
        if touched {
            Ok(())
        } else {
            Err(fin_failed("TOUCH", &id, self.miss_reason(&id)))
        }
    }

    /// Deliver as many messages as RDY allows and the channel has, flushing whenever the
    /// output buffer passes its size.
    async fn deliver(&mut self) -> Result<(), Exit> {
        loop {
            let Some(sub) = &self.sub else { return Ok(()) };
            let capacity = self.client.capacity();
            if capacity == 0 {
                return Ok(());
            }
            let channel = Arc::clone(&sub.channel);
            self.take_buf.clear();
            let want = capacity.min(DELIVERY_BATCH) as usize;
            let epoch = channel.take(want, &mut self.take_buf);
            if self.take_buf.is_empty() {
                return Ok(());
            }
            if epoch != self.epoch {
                self.check_epoch();
            }
            let now = Instant::now();
            let mut sent = 0u64;
            let mut dropped = 0u64;
            let msgs = std::mem::take(&mut self.take_buf);
            {
                let mut table = crate::lock(&self.client.inflight);
                for mut msg in msgs.into_iter() {
                    let rate = self.settings.sample_rate;
                    if rate > 0 && next_percent(&mut self.rng) > rate {
                        dropped += 1;
                        continue;
                    }
                    msg.attempts = msg.attempts.wrapping_add(1);
                    let start = self.out.len();
                    frame::put_message(&mut self.out, &msg);
                    if table
                        .insert(msg, now, self.settings.msg_timeout, epoch)
                        .is_err()
                    {
                        // An ID can be in flight once; never send a second copy.
                        self.out.truncate(start);
                        warn!(
                            client = self.client.id,
                            "duplicate message ID in flight, dropped"
                        );
                        dropped += 1;
                        continue;
                    }
                    sent += 1;
                }
            }
            if dropped > 0 {
                channel.in_flight_done(epoch, dropped);
            }
            self.client.in_flight.fetch_add(sent, Ordering::Relaxed);
            self.client.message_count.fetch_add(sent, Ordering::Relaxed);
            if self.out.len() >= self.settings.output_buffer_size {
                self.flush().await?;
            }
        }
    }

    /// After the channel was emptied, forget what was delivered before.
    fn check_epoch(&mut self) {
        self.apply_fins();
        let Some(sub) = &self.sub else { return };
        let current = sub.channel.epoch();
        if current != self.epoch {
            self.epoch = current;
            let left = {
                let mut table = self.table();
                table.purge_epoch(current);
                table.len()
            };
            self.client.in_flight.store(left as u64, Ordering::Relaxed);
        }
    }

    fn expire_in_flight(&mut self) {
        let Some(sub) = &self.sub else { return };
        let expired = self.table().expire(Instant::now());
        if expired.is_empty() {
            return;
        }
        self.client
            .in_flight
            .fetch_sub(expired.len() as u64, Ordering::Relaxed);
        let epoch = self.epoch;
        let msgs: Vec<Message> = expired
            .into_iter()
            .filter(|e| e.epoch == epoch)
            .map(|e| e.msg)
            .collect();
        sub.channel.timed_out(&msgs, epoch);
    }

    /// This client's in-flight table. The lock is uncontended except when another client's
    /// FIN misses and the channel looks here; never call into a channel while holding it.
    fn table(&self) -> std::sync::MutexGuard<'_, crate::client::inflight::InFlight> {
        crate::lock(&self.client.inflight)
    }

    /// Why FIN/REQ/TOUCH found no such message here: held by another client of the
    /// channel (or by one that went away), or not in flight at all.
    fn miss_reason(&self, id: &protocol::MessageId) -> &'static str {
        match &self.sub {
            Some(sub) if sub.channel.in_flight_elsewhere(id, self.client.id) => {
                "client does not own message"
            }
            _ => "ID not in flight",
        }
    }

    async fn flush(&mut self) -> Result<(), Exit> {
        if self.out.is_empty() {
            return Ok(());
        }
        let data: &[u8] = match self.codec.as_mut() {
            None => &self.out,
            Some(codec) => {
                self.raw_out.clear();
                if codec.encode(&self.out, &mut self.raw_out).is_err() {
                    return Err(Exit::Closed);
                }
                &self.raw_out
            }
        };
        // Bounded by the heartbeat interval (as the reference's write deadline) and cut
        // short by a kick, so shutdown never waits on a client that stopped reading.
        let limit = self.settings.heartbeat.unwrap_or(Duration::from_secs(3600));
        let result = tokio::select! {
            r = timeout(limit, write_and_flush(&mut self.stream, data)) => match r {
                Ok(r) => r.is_ok(),
                Err(_) => false,
            },
            _ = self.client.kick.cancelled() => false,
        };
        self.out.clear();
        if result {
            Ok(())
        } else {
            Err(Exit::Closed)
        }
    }

    /// Hand in-flight messages back to the channel and leave it.
    fn cleanup(&mut self) {
        self.apply_fins();
        if let Some(sub) = self.sub.take() {
            let epoch = self.epoch;
            let drained = self.table().drain();
            let orphans = drained.into_iter().map(|e| (e.msg, e.deadline)).collect();
            sub.channel.adopt_orphans(orphans, epoch);
            self.client.in_flight.store(0, Ordering::Relaxed);
            let left = sub.channel.remove_consumer(self.client.id);
            if left == 0 && sub.channel.ephemeral {
                self.ctx.delete_ephemeral_channel(&sub.topic, &sub.channel);
            }
        }
        self.ctx.unregister_client(self.client.id);
    }
}

/// Write everything and flush (TLS buffers inside the session until flushed).
async fn write_and_flush(stream: &mut Transport, data: &[u8]) -> std::io::Result<()> {
    stream.write_all(data).await?;
    stream.flush().await
}

/// Uniform 0..=99 for sampling (xorshift; quality is plenty for a percentage).
fn next_percent(rng: &mut u64) -> u8 {
    let mut x = *rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *rng = x;
    (x % 100) as u8
}

enum SubError {
    Exiting,
    Other(String),
}

impl From<TopicError> for SubError {
    fn from(e: TopicError) -> Self {
        match e {
            TopicError::Exiting | TopicError::Channel(ChannelError::Exiting) => SubError::Exiting,
            other => SubError::Other(other.to_string()),
        }
    }
}

fn fin_failed(cmd: &str, id: &protocol::MessageId, reason: &str) -> ProtocolError {
    let code = match cmd {
        "FIN" => ErrorCode::FinFailed,
        "REQ" => ErrorCode::ReqFailed,
        _ => ErrorCode::TouchFailed,
    };
    ProtocolError::new(code, format!("{cmd} {id} failed {reason}"))
}

/// The state rules that the reference checks before a command's parameters or body.
fn state_check(name: CommandName, state: u8, heartbeats: bool) -> Result<(), ProtocolError> {
    let cannot = |cmd: &str| ProtocolError::invalid(format!("cannot {cmd} in current state"));
    match name {
        CommandName::Identify | CommandName::Auth if state != STATE_INIT => {
            Err(cannot(name.as_str()))
        }
        CommandName::Sub if state != STATE_INIT => Err(cannot("SUB")),
        CommandName::Sub if !heartbeats => Err(ProtocolError::invalid(
            "cannot SUB with heartbeats disabled",
        )),
        CommandName::Rdy if state == STATE_INIT => Err(cannot("RDY")),
        CommandName::Fin | CommandName::Req | CommandName::Touch
            if state != STATE_SUBSCRIBED && state != STATE_CLOSING =>
        {
            Err(cannot(name.as_str()))
        }
        CommandName::Cls if state != STATE_SUBSCRIBED => Err(cannot("CLS")),
        _ => Ok(()),
    }
}
