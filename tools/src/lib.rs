//! The NSQ command-line tools, one module per tool with a `main` its thin binary calls:
//! `to_nsq`, `nsq_stat`, `nsq_tail`, `nsq_to_file`, `nsq_to_http` and `nsq_to_nsq`, with
//! Go NSQ v1.3.0's flags, defaults, output and exit statuses. Shared: the Go command line
//! (`cli`: usage, version, exit codes, the consumer tools' address rules), Go's log lines
//! (`golog`), and `--consumer-opt`/`--producer-opt` as go-nsq reads them (`goconfig`);
//! nsq_to_http's and nsq_to_nsq's destination pool (`hostpool`) and request timings
//! (`timer_metrics`).
//! The wire is the `nsq_client` crate's; cluster queries are the `cluster` crate's.

mod cli;
mod flagtypes;
mod goconfig;
mod golog;
mod hostpool;
pub mod nsq_stat;
pub mod nsq_tail;
pub mod nsq_to_file;
pub mod nsq_to_http;
pub mod nsq_to_nsq;
mod rng;
mod timer_metrics;
pub mod to_nsq;
