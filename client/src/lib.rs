//! An NSQ client on the project's protocol crate and tokio: a [`Producer`] that publishes
//! to one nsqd (PUB, MPUB, DPUB; each call gets nsqd's answer, `E_*` errors typed), and a
//! [`Consumer`] that subscribes to one topic/channel on many nsqd, found directly or by
//! polling nsqlookupd, with go-nsq's flow control (max-in-flight spread over connections,
//! RDY redistribution, exponential backoff after failures). Both speak TLS, snappy and
//! deflate, and AUTH, as negotiated through IDENTIFY ([`Config`]).
//!
//! # Publishing
//!
//! ```no_run
//! # async fn example() -> Result<(), nsq_client::Error> {
//! use nsq_client::{Config, Producer};
//!
//! let producer = Producer::new("127.0.0.1:4150", Config::default());
//! producer.publish("events", b"hello").await?;
//! producer.multi_publish("events", &[&b"a"[..], b"b"]).await?;
//! producer.stop().await;
//! # Ok(()) }
//! ```
//!
//! # Consuming
//!
//! ```no_run
//! # async fn example() -> Result<(), nsq_client::Error> {
//! use nsq_client::{Config, Consumer, HandlerError, Message};
//! use std::time::Duration;
//!
//! let config = Config {
//!     max_in_flight: 100,
//!     ..Config::default()
//! };
//! let consumer = Consumer::new("events", "archive", config)?;
//! // Ok: FIN. Err: REQ with a delay growing with the attempts, and backoff.
//! consumer.add_handler(
//!     |m: Message| async move {
//!         println!("{}", String::from_utf8_lossy(&m.body));
//!         Ok::<(), HandlerError>(())
//!     },
//!     4,
//! );
//! consumer.connect_to_nsqlookupd("127.0.0.1:4161").await?;
//! tokio::time::sleep(Duration::from_secs(60)).await;
//! // Handles and answers what was delivered, then closes.
//! consumer.stop().await;
//! # Ok(()) }
//! ```
//!
//! The consumer follows go-nsq v1.1: `max_in_flight` is split evenly over the
//! connections (at least 1 each; when connections outnumber it, RDY moves between them
//! every `rdy_redistribute_interval`), a failed message (`Err` or
//! [`Message::requeue`]) backs off exponentially (every connection RDY 0 for
//! `backoff_multiplier * 2^level`, then RDY 1 on one to test; each success steps back),
//! a message delivered more than `max_attempts` times is FINed and passed to
//! [`Handler::log_failed_message`], and heartbeats are answered. Beyond go-nsq, when a
//! connection is lost the remaining ones take over its share at once.
//!
//! A `Producer` is cheap to clone; concurrent publishes share its one connection and are
//! pipelined. A publish fails on its own (`Error::Nsqd` with the code, say
//! `E_BAD_TOPIC`) without affecting the others; a broken connection is opened again by
//! the next call.

mod config;
mod conn;
mod consumer;
mod error;
mod producer;

pub use config::{Compression, Config, Tls};
pub use consumer::{Consumer, Handler, HandlerError, Message, Stats};
pub use error::{Error, Result};
pub use producer::Producer;
pub use protocol::{ErrorCode, MessageId};
