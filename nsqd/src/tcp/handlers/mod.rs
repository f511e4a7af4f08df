//! The V2 command handlers, one file per group, each an `impl Session` block: IDENTIFY
//! and its upgrades, AUTH, SUB and publishing, and the message flow (delivery, FIN, REQ,
//! TOUCH, timeouts).

mod auth;
mod identify;
pub(super) mod messages;
mod pubsub;
