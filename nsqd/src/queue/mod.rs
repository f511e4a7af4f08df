//! Message queues: the bounded in-memory FIFO with its disk overflow (`backlog`), and the
//! go-diskqueue compatible file queue (`disk`).

pub mod backlog;
pub mod disk;

pub use backlog::Backlog;
pub use disk::{DiskQueue, DiskQueueError, DiskQueueOptions};
