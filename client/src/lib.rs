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
