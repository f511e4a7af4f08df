//! Message queues: the bounded in-memory FIFO with its disk overflow (`backlog`), the
//! compact in-memory form of queued messages (`packed`), the go-diskqueue compatible
//! file queue (`disk`) and its commit watermark for records still outstanding (`watermark`).

pub mod backlog;
pub mod disk;
#[cfg(test)]
mod disk_damaged_tests;
pub mod packed;
pub(crate) mod watermark;

pub use backlog::Backlog;
pub use disk::{DiskQueue, DiskQueueError, DiskQueueOptions};
pub use packed::{Packed, PackedBuilder};
