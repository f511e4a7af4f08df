//! Network namespaces for the network-fault tests: one namespace per host, each joined
//! by a veth pair to a bridge that lives in a namespace of its own, plus one veth from
//! the test process's namespace so the test can reach every host. Addresses come from
//! the test range 10.200.0.0/24 only, and everything is removed on drop (deleting a
//! namespace deletes its veth ends and their peers).
//!
//! Faults: a host's bridge port down (a partition: nothing reaches it, nothing leaves
//! it), and a degraded link (`tc netem` delay and loss where the kernel has netem; where
//! it has not, a `tbf` rate limit with a short queue, whose overflow is dropped: queueing
//! delay and loss under load). Needs root and permission to create namespaces:
//! [`unavailable`] says why not, for a clear skip. Runs hold an exclusive lock on
//! [`LOCK_PATH`], so two test runs on one machine never share the address range.

use std::fs::File;
use std::process::Command;

/// Serializes runs on one machine (they use the same address range).
pub const LOCK_PATH: &str = "/tmp/nsq-tests-netns.lock";
/// The test range's first three octets and prefix.
const NET: &str = "10.200.0";
/// The test process's own address on the bridge.
pub const HOST_IP: &str = "10.200.0.254";

/// Runs `ip args...` (which may run `tc` through `ip netns exec`); the error text if it
/// fails.
fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn must(args: &[&str]) {
    ip(args).unwrap_or_else(|e| panic!("{e}"));
}

/// Why namespaces cannot be used here, or None when they can.
pub fn unavailable() -> Option<String> {
    let probe = format!("nsqprobe{}", std::process::id());
    match ip(&["netns", "add", &probe]) {
        Ok(()) => {
            let _ = ip(&["netns", "del", &probe]);
            None
        }
        Err(e) => Some(e),
    }
}

/// Deletes namespaces left by earlier runs that were killed before cleaning up.
fn remove_stale(prefix_root: &str) {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if let Some(name) = line.split_whitespace().next() {
            if name.starts_with(prefix_root) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
}

/// A bridge and the hosts on it.
pub struct Net {
    _lock: File,
    prefix: String,
    bridge: String,
    hosts: Vec<(String, String)>,
}

impl Net {
    /// The bridge namespace, its bridge, and the test process's veth to it.
    pub fn setup() -> Net {
        let lock = File::create(LOCK_PATH).unwrap_or_else(|e| panic!("{LOCK_PATH}: {e}"));
        lock.lock()
            .unwrap_or_else(|e| panic!("lock {LOCK_PATH}: {e}"));
        remove_stale("nsqnf");
        let prefix = format!("nsqnf{}", std::process::id());
        let bridge = format!("{prefix}-br");
        must(&["netns", "add", &bridge]);
        let net = Net {
            _lock: lock,
            prefix,
            bridge,
            hosts: Vec::new(),
        };
        net.in_bridge(&["link", "add", "br0", "type", "bridge"]);
        net.in_bridge(&["link", "set", "br0", "up"]);
        let (outer, inner) = ("nsqnfh", "nsqnfhp");
        let _ = ip(&["link", "del", outer]);
        must(&["link", "add", outer, "type", "veth", "peer", "name", inner]);
        must(&["link", "set", inner, "netns", &net.bridge]);
        net.in_bridge(&["link", "set", inner, "master", "br0", "up"]);
        must(&["addr", "add", &format!("{HOST_IP}/24"), "dev", outer]);
        must(&["link", "set", outer, "up"]);
        net
    }

    fn in_ns(&self, ns: &str, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", ns, "ip"];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// `tc args...` inside `ns`.
    fn tc_in_ns(&self, ns: &str, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["netns", "exec", ns, "tc"];
        all.extend_from_slice(args);
        ip(&all)
    }

    fn in_bridge(&self, args: &[&str]) {
        self.in_ns(&self.bridge, args)
            .unwrap_or_else(|e| panic!("{e}"));
    }

    fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    /// Adds host `name` (a namespace) at 10.200.0.`octet`; returns its address.
    pub fn add_host(&mut self, name: &str, octet: u8) -> String {
        let ns = self.ns(name);
        let addr = format!("{NET}.{octet}");
        must(&["netns", "add", &ns]);
        self.hosts.push((name.to_string(), ns.clone()));
        let (eth, port) = (format!("nsqnf{octet}"), self.port(name));
        must(&["link", "add", &eth, "type", "veth", "peer", "name", &port]);
        must(&["link", "set", &eth, "netns", &ns]);
        must(&["link", "set", &port, "netns", &self.bridge]);
        self.in_bridge(&["link", "set", &port, "master", "br0", "up"]);
        for args in [
            vec!["addr", "add", &format!("{addr}/24"), "dev", &eth],
            vec!["link", "set", &eth, "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            self.in_ns(&ns, &args).unwrap_or_else(|e| panic!("{e}"));
        }
        addr
    }

    /// The bridge-side veth name of `host`.
    fn port(&self, host: &str) -> String {
        format!("p-{host}")
    }

    fn eth(&self, host: &str) -> String {
        let ns = self.ns(host);
        let out = Command::new("ip")
            .args([
                "netns", "exec", &ns, "ip", "-o", "link", "show", "type", "veth",
            ])
            .output()
            .unwrap_or_else(|e| panic!("ip: {e}"));
        let text = String::from_utf8_lossy(&out.stdout);
        text.split(": ")
            .nth(1)
            .and_then(|n| n.split('@').next())
            .unwrap_or_else(|| panic!("no veth in {ns}: {text}"))
            .to_string()
    }

    /// The prefix that runs a command inside `host`'s namespace.
    pub fn exec_prefix(&self, host: &str) -> Vec<String> {
        ["ip", "netns", "exec", &self.ns(host)]
            .map(String::from)
            .to_vec()
    }

    /// Cuts `host` off from every other host (its bridge port down).
    pub fn partition(&self, host: &str) {
        self.in_bridge(&["link", "set", &self.port(host), "down"]);
    }

    /// Reconnects a partitioned `host`.
    pub fn reconnect(&self, host: &str) {
        self.in_bridge(&["link", "set", &self.port(host), "up"]);
    }

    /// Degrades `host`'s link both ways; returns what was applied (netem delay and
    /// loss, or where the kernel has no netem a tbf rate limit with a short queue).
    pub fn degrade(&self, host: &str) -> &'static str {
        let (ns, eth, port) = (self.ns(host), self.eth(host), self.port(host));
        let netem = ["netem", "delay", "50ms", "10ms", "loss", "5%"];
        let tbf = ["tbf", "rate", "1mbit", "burst", "8kb", "latency", "20ms"];
        let sides = [
            (ns.as_str(), eth.as_str()),
            (self.bridge.as_str(), port.as_str()),
        ];
        let applied = |qdisc: &[&str]| {
            sides.iter().try_for_each(|(ns, dev)| {
                let mut args = vec!["qdisc", "replace", "dev", dev, "root"];
                args.extend_from_slice(qdisc);
                self.tc_in_ns(ns, &args)
            })
        };
        match applied(&netem) {
            Ok(()) => "netem delay 50ms±10ms, loss 5%",
            Err(e) => {
                eprintln!("no netem here ({e}); degrading with tbf instead");
                applied(&tbf).unwrap_or_else(|e| panic!("{e}"));
                "tbf rate 1mbit, burst 8kb, queue 20ms (no netem in this kernel)"
            }
        }
    }

    /// Removes a degradation; returns the packets its queues dropped (both ways).
    pub fn restore(&self, host: &str) -> u64 {
        let (ns, eth, port) = (self.ns(host), self.eth(host), self.port(host));
        let mut dropped = 0;
        for (ns, dev) in [
            (ns.as_str(), eth.as_str()),
            (self.bridge.as_str(), port.as_str()),
        ] {
            let out = Command::new("ip")
                .args(["netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            // "... Sent 123 bytes 4 pkt (dropped 5, overlimits 6 requeues 0)"
            dropped += out
                .split("dropped ")
                .nth(1)
                .and_then(|r| r.split(',').next())
                .and_then(|n| n.trim().parse::<u64>().ok())
                .unwrap_or(0);
            let _ = self.tc_in_ns(ns, &["qdisc", "del", "dev", dev, "root"]);
        }
        dropped
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        for (_, ns) in &self.hosts {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = ip(&["netns", "del", &self.bridge]);
        let _ = ip(&["link", "del", "nsqnfh"]);
    }
}
