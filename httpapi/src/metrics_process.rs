//! The standard `process_*` metric families of `/metrics`, named as Prometheus's own
//! clients name them (resident and virtual memory, CPU seconds, open and maximum file
//! descriptors, start time), read from `/proc/self` at scrape time.

use crate::metrics::{Exposition, Kind};
use procfs::process::{LimitValue, Process};

pub(crate) fn write(e: &mut Exposition) {
    let Ok(me) = Process::myself() else {
        return;
    };
    if let Ok(stat) = me.stat() {
        let ticks = procfs::ticks_per_second().max(1) as f64;
        e.single(
            "process_cpu_seconds_total",
            Kind::Counter,
            "Total user and system CPU time spent in seconds.",
            (stat.utime + stat.stime) as f64 / ticks,
        );
        e.single(
            "process_resident_memory_bytes",
            Kind::Gauge,
            "Resident memory size in bytes.",
            (stat.rss.saturating_mul(procfs::page_size())) as f64,
        );
        e.single(
            "process_virtual_memory_bytes",
            Kind::Gauge,
            "Virtual memory size in bytes.",
            stat.vsize as f64,
        );
        if let Ok(boot) = procfs::boot_time_secs() {
            e.single(
                "process_start_time_seconds",
                Kind::Gauge,
                "Start time of the process since unix epoch in seconds.",
                boot as f64 + stat.starttime as f64 / ticks,
            );
        }
    }
    if let Ok(n) = me.fd_count() {
        e.single(
            "process_open_fds",
            Kind::Gauge,
            "Number of open file descriptors.",
            n as f64,
        );
    }
    if let Ok(limits) = me.limits() {
        if let LimitValue::Value(max) = limits.max_open_files.soft_limit {
            e.single(
                "process_max_fds",
                Kind::Gauge,
                "Maximum number of open file descriptors.",
                max as f64,
            );
        }
    }
}
