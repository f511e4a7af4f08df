//! The session loop of one V2 client: a single task owns the connection (`Connection`),
//! the in-flight table and the subscription, and `select!`s over the next bytes, the
//! channel's wake-up, the heartbeat, the idle deadline, the next in-flight deadline and
//! shutdown. Commands are decoded here and executed by the handlers in `tcp::handlers`.
//!
//! Writes are coalesced: responses to every command found in one read, and every message
//! delivered in one round, go out in a single write. The buffer is flushed when it passes
//! `output_buffer_size` and whenever the task goes back to waiting, so nothing sits in it
//! while the client waits (the reference can hold a lone message up to
//! `output_buffer_timeout`; here that timer is never needed).

use crate::auth::AuthState;
use crate::broker::Nsqd;
use crate::channel::Channel;
use crate::client::{ClientShared, Peer, STATE_CLOSING, STATE_INIT, STATE_SUBSCRIBED};
use crate::tcp::connection::{Connection, ReadError};
use crate::tcp::handlers::messages::expire_in_flight;
use crate::tcp::identify::{IdentifyLimits, Negotiated};
use crate::tcp::transport::Transport;
use crate::topic::Topic;
use protocol::{
    frame, Command, CommandName, DecodeError, Decoder, ErrorCode, Message, ProtocolError,
};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::time::sleep_until;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info};

pub(super) struct Subscription {
    pub(super) topic: Arc<Topic>,
    pub(super) channel: Arc<Channel>,
}

/// Why the session loop ended.
pub(super) enum Exit {
    /// Peer closed, I/O error, idle timeout, kick or shutdown.
    Closed,
}

pub(crate) struct Session {
    pub(super) ctx: Arc<Nsqd>,
    /// What IDENTIFY may negotiate (shared by every connection).
    pub(super) limits: Arc<IdentifyLimits>,
    pub(super) conn: Connection,
    pub(super) client: Arc<ClientShared>,
    pub(super) decoder: Decoder,
    pub(super) state: u8,
    pub(super) sub: Option<Subscription>,
    pub(super) epoch: u64,
    pub(super) settings: Negotiated,
    pub(super) take_buf: Vec<Message>,
    /// Messages a take found past the channel's limits (beyond Go; empty when off).
    pub(super) over_buf: Vec<crate::deadletter::Overdue>,
    /// The largest message frame of the last delivery round: the next round takes only as
    /// many as fit in `ROUND_BYTES` (see `deliver`). Starts at that size: one message first.
    pub(super) frame_bytes: usize,
    /// FINs not yet applied to the shared counters `(epoch, count)`: they are applied once
    /// per read (`apply_fins`), not per FIN, so consumers of one channel do not bounce its
    /// counter's cache line between cores for every message.
    pub(super) fin_tally: (u64, u64),
    /// IDs FINished since the last `apply_fins` whose disk records the channel holds:
    /// released there in one lock hold.
    pub(super) fin_held: Vec<protocol::MessageId>,
    pub(super) rng: u64,
    /// What AUTH granted (auth servers configured only).
    pub(super) auth: Option<AuthState>,
}

impl Session {
    pub(crate) fn new(
        ctx: Arc<Nsqd>,
        limits: Arc<IdentifyLimits>,
        stream: Transport,
        peer: Peer,
    ) -> Session {
        let id = ctx.next_client_id();
        let kick = ctx.shutdown.child_token();
        let client = Arc::new(ClientShared::new(
            id,
            peer,
            daemon::clock::unix_secs(),
            kick,
        ));
        ctx.register_client(Arc::clone(&client));
        let settings = super::default_negotiated(&limits);
        Session {
            decoder: Decoder::new(ctx.decoder_limits),
            ctx,
            limits,
            conn: Connection::new(stream),
            client,
            state: STATE_INIT,
            sub: None,
            epoch: 0,
            settings,
            take_buf: Vec::new(),
            over_buf: Vec::new(),
            frame_bytes: crate::tcp::handlers::messages::ROUND_BYTES,
            fin_tally: (0, 0),
            fin_held: Vec::new(),
            rng: id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            auth: None,
        }
    }

    pub(crate) async fn run(mut self) {
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
                r = self.conn.read() => {
                    match r {
                        Ok(()) => {}
                        Err(ReadError::Eof) => {
                            // Half-closed mid-command: report what could not be read.
                            if let Some(e) = self.decoder.eof_error(&self.conn.input) {
                                self.send_error(&e).await?;
                            }
                            return Err(Exit::Closed);
                        }
                        Err(ReadError::Io) => return Err(Exit::Closed),
                        Err(ReadError::Codec(e)) => {
                            // Undecodable, or more than any command (a decompression
                            // bomb): the connection ends as on a read error.
                            info!(client = self.client.id, error = %e, "failed to read command, closing");
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
                    frame::put_response(&mut self.conn.out, frame::HEARTBEAT);
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
            let tls_pending = self.ctx.tls_required_tcp && !self.conn.is_tls();
            let decoded = self.decoder.decode(&mut self.conn.input, |name, word| {
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

    pub(super) async fn send_error(&mut self, e: &ProtocolError) -> Result<(), Exit> {
        frame::put_error(&mut self.conn.out, &e.frame_bytes());
        if e.is_fatal() {
            debug!(client = self.client.id, error = %e, "fatal client error");
            let _ = self.flush().await;
            self.conn.shutdown().await;
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
                frame::put_response(&mut self.conn.out, frame::CLOSE_WAIT);
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

    pub(super) async fn flush(&mut self) -> Result<(), Exit> {
        // Bounded by the heartbeat interval (as the reference's write deadline) and cut
        // short by a kick, so shutdown never waits on a client that stopped reading.
        let limit = self.settings.heartbeat.unwrap_or(Duration::from_secs(3600));
        let Session {
            conn,
            client,
            sub,
            epoch,
            ..
        } = self;
        let mut stalled = false;
        // While the client does not read, its in-flight messages still time out and go
        // back to the channel (the reference times them out from the channel, whatever
        // its connection does), and it has no capacity, so the channel wakes consumers
        // that can take them.
        let flushed = conn
            .flush(limit, &client.kick, |now| {
                if !stalled {
                    stalled = true;
                    client.stalled.store(true, Ordering::Relaxed);
                }
                expire_in_flight(sub.as_ref(), client, *epoch, now)
            })
            .await;
        if stalled {
            client.stalled.store(false, Ordering::Relaxed);
        }
        if flushed {
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
            sub.channel.adopt_orphans(orphans, epoch, Instant::now());
            self.client.in_flight.store(0, Ordering::Relaxed);
            let left = sub.channel.remove_consumer(self.client.id);
            if left == 0 && sub.channel.ephemeral {
                self.ctx.delete_ephemeral_channel(&sub.topic, &sub.channel);
            }
        }
        self.ctx.unregister_client(self.client.id);
    }
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
