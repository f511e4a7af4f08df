//! Message queues: the bounded in-memory FIFO with its disk overflow (`backlog`), the
//! compact in-memory form of queued messages (`packed`), and the go-diskqueue compatible
//! file queue (`disk`).

pub mod backlog;
pub mod disk;
#[cfg(test)]
mod disk_damaged_tests;
pub mod packed;

pub use backlog::Backlog;
pub use disk::{DiskQueue, DiskQueueError, DiskQueueOptions};
pub use packed::{Packed, PackedBuilder};
