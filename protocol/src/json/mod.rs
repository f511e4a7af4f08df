//! The JSON bodies of NSQ, as serde types both ends share: the V2 IDENTIFY request and
//! reply, nsqd's `/stats` and `/info`, and nsqlookupd's IDENTIFY and HTTP answers. The
//! writers keep Go v1.3.0's key order; the readers accept what Go writes.

pub mod identify;
pub mod lookupd;
pub mod nsqd;
