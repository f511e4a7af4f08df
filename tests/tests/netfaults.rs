//! Network faults: 3 nsqd and 2 nsqlookupd, each in its own network namespace on one
//! bridge (addresses in 10.200.0.0/24), with a go-nsq and a pynsq consumer (each on a
//! channel of its own) in a namespace of their own that find the nodes through the
//! lookupds. The test publishes to all three nodes and keeps a ledger of every `OK`.
//!
//! 1. healthy: everything acked arrives at both consumers;
//! 2. nsqd3 partitioned (its bridge port down: cut off from the lookupds, the consumers
//!    and the publisher) right after it acked a batch: everything acked by the live
//!    nodes still arrives;
//! 3. nsqd1 and nsqd2 degraded as well (netem delay and loss, or a tbf rate limit where
//!    the kernel has no netem): everything acked by them still arrives;
//! 4. healed: everything ever acked, nsqd3's batch from just before the cut included, arrives,
//!    and both consumers take nsqd3's new messages again within 30 s (the time is printed:
//!    nsqd3's lookupd ping failed during the partition, so the lookupds drop it once the
//!    old connection's close arrives, and consumers find it again after it re-registers
//!    and they poll; Go nsqd re-registers at its next 15 s ping).
//!
//! Nothing acked may be lost; duplicates (redeliveries after a timeout) are counted and
//! printed. Skips, saying why, when not root or network namespaces are not permitted.
//! `NSQ_NETFAULTS_ROUNDS=<n>` (as `make netfaults` sets) repeats the fault cycle;
//! `NSQ_NETFAULTS_DUMP=1` prints every daemon's log at the end.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use nsq_tests::harness::{nsqd_bin, TempDir};
use nsq_tests::http;
use nsq_tests::lookupd::nsqlookupd_bin;
use nsq_tests::netns::{self, Net};
use testkit::{Process, Spec};

const TOPIC: &str = "nf";
/// Messages published to each reachable node per phase.
const PER_NODE: usize = 150;
/// The consumers' lookupd poll interval (seconds).
const POLL_S: u64 = 2;
/// How long nsqd3 stays cut off at the least: beyond the consumers' read timeout (5 s),
/// nsqd's heartbeat timeout for them (2 missed 2 s heartbeats) and nsqd's 15 s lookupd
/// ping period, so its ping to the lookupds fails during every partition.
const PARTITION: Duration = Duration::from_secs(16);
/// Failure bound for what was acked to reach both consumers.
const DELIVERY: Duration = Duration::from_secs(60);
/// Failure bound for a consumer to take nsqd3's messages again after the heal.
const RESUME: Duration = Duration::from_secs(30);
/// Padding of the bodies published while links are degraded.
const DEGRADED_BODY: usize = 2000;
/// Publisher timeouts towards one node.
const IO_TIMEOUT: Duration = Duration::from_secs(2);

/// A consumer process whose `MSG <body>` lines are collected.
struct Consumer {
    name: &'static str,
    child: Child,
    /// Body → (deliveries, first arrival).
    got: Arc<Mutex<HashMap<String, (usize, Instant)>>>,
    log: Arc<Mutex<String>>,
}

impl Consumer {
    fn spawn(name: &'static str, prefix: &[String], program: &[String]) -> Consumer {
        let mut child = Command::new(&prefix[0])
            .args(&prefix[1..])
            .args(program)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name} consumer: {e}"));
        let got: Arc<Mutex<HashMap<String, (usize, Instant)>>> = Arc::default();
        let log: Arc<Mutex<String>> = Arc::default();
        if let Some(out) = child.stdout.take() {
            let got = Arc::clone(&got);
            thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Some(body) = line.strip_prefix("MSG ") {
                        let mut got = got.lock().expect("tally");
                        got.entry(body.to_string()).or_insert((0, Instant::now())).0 += 1;
                    }
                }
            });
        }
        if let Some(mut err) = child.stderr.take() {
            let log = Arc::clone(&log);
            thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = err.read(&mut buf) {
                    log.lock()
                        .expect("log")
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            });
        }
        Consumer {
            name,
            child,
            got,
            log,
        }
    }

    fn missing<'a>(&self, bodies: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        let got = self.got.lock().expect("tally");
        bodies
            .into_iter()
            .filter(|b| !got.contains_key(*b))
            .cloned()
            .collect()
    }

    fn first_arrival(&self, body: &str) -> Option<Instant> {
        self.got.lock().expect("tally").get(body).map(|e| e.1)
    }

    /// (unique bodies, deliveries).
    fn counts(&self) -> (usize, usize) {
        let got = self.got.lock().expect("tally");
        (got.len(), got.values().map(|e| e.0).sum())
    }

    /// Fails the test if the process has exited.
    fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "the {} consumer exited ({status}); its log:\n{}",
                self.name,
                self.log_tail()
            );
        }
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().expect("log");
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Consumer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One publisher connection per node; reconnects after any failure.
struct Publisher {
    node: usize,
    addr: SocketAddr,
    conn: Option<TcpStream>,
    seq: usize,
}

impl Publisher {
    fn connect(&self) -> std::io::Result<TcpStream> {
        let mut s = TcpStream::connect_timeout(&self.addr, IO_TIMEOUT)?;
        s.set_read_timeout(Some(IO_TIMEOUT))?;
        s.set_write_timeout(Some(IO_TIMEOUT))?;
        s.write_all(b"  V2")?;
        Ok(s)
    }

    /// Publishes `n` messages (PUB for one, else one MPUB); their bodies if nsqd
    /// answered `OK`, nothing if it did not (or could not be reached).
    fn publish(&mut self, phase: &str, n: usize) -> Vec<String> {
        let bodies: Vec<String> = (0..n)
            .map(|_| {
                self.seq += 1;
                let mut body = format!("{phase}-n{}-{:06}-", self.node, self.seq);
                // Degraded phases send larger bodies, to overflow a rate-limited queue.
                if bulky(phase) {
                    body.extend(std::iter::repeat_n('.', DEGRADED_BODY));
                }
                body
            })
            .collect();
        let mut cmd = Vec::new();
        if let [body] = &bodies[..] {
            cmd.extend_from_slice(format!("PUB {TOPIC}\n").as_bytes());
            cmd.extend_from_slice(&(body.len() as u32).to_be_bytes());
            cmd.extend_from_slice(body.as_bytes());
        } else {
            let payload: usize = bodies.iter().map(|b| 4 + b.len()).sum();
            cmd.extend_from_slice(format!("MPUB {TOPIC}\n").as_bytes());
            cmd.extend_from_slice(&(4 + payload as u32).to_be_bytes());
            cmd.extend_from_slice(&(bodies.len() as u32).to_be_bytes());
            for b in &bodies {
                cmd.extend_from_slice(&(b.len() as u32).to_be_bytes());
                cmd.extend_from_slice(b.as_bytes());
            }
        }
        let result = (|| {
            if self.conn.is_none() {
                self.conn = Some(self.connect()?);
            }
            let s = self.conn.as_mut().ok_or(std::io::ErrorKind::NotConnected)?;
            s.write_all(&cmd)?;
            loop {
                let mut head = [0u8; 8];
                s.read_exact(&mut head)?;
                let size = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
                let mut data = vec![0u8; size.saturating_sub(4)];
                s.read_exact(&mut data)?;
                if data == b"_heartbeat_" {
                    s.write_all(b"NOP\n")?;
                    continue;
                }
                return Ok::<bool, std::io::Error>(head[4..8] == [0, 0, 0, 0] && data == b"OK");
            }
        })();
        match result {
            Ok(true) => bodies,
            _ => {
                self.conn = None;
                Vec::new()
            }
        }
    }
}

/// Phases on a degraded link, with larger bodies in MPUB batches.
fn bulky(phase: &str) -> bool {
    phase.ends_with("degraded") || phase.ends_with("precut")
}

fn go_consumer_bin(dir: &Path) -> PathBuf {
    let bin = dir.join("netfaults-consumer");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/go");
    let out = Command::new("go")
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./cmd/netfaults-consumer")
        .current_dir(&src)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `go` (needed for the go-nsq consumer): {e}"));
    assert!(
        out.status.success(),
        "go build of the go-nsq consumer failed (run `make deps`): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    bin
}

fn check_pynsq() {
    let ok = Command::new("python3")
        .args(["-c", "import nsq"])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "python3 cannot import pynsq (run `make deps`)");
}

fn start_in(net: &Net, host: &str, bin: &Path, args: &[String]) -> Process {
    Spec::new(bin)
        .wrap(&net.exec_prefix(host))
        .args(args)
        .start()
        .unwrap_or_else(|e| panic!("{host}: {e}"))
}

struct Cluster {
    consumers: Vec<Consumer>,
    publishers: Vec<Publisher>,
    /// (node, body) of every acked message.
    ledger: Vec<(usize, String)>,
}

impl Cluster {
    /// Publishes up to [`PER_NODE`] to each node of `nodes` (in MPUB batches on degraded
    /// links); a node that fails once is
    /// left alone for the rest of the phase. Returns the bodies acked.
    fn publish(&mut self, phase: &str, nodes: &[usize]) -> Vec<String> {
        let mut acked = Vec::new();
        let mut failed = vec![false; self.publishers.len()];
        // Degraded links get MPUB batches: bursts that overflow a short queue.
        let batch = if bulky(phase) { 25 } else { 1 };
        for _ in 0..PER_NODE / batch {
            for &n in nodes {
                if failed[n] {
                    continue;
                }
                let bodies = self.publishers[n].publish(phase, batch);
                failed[n] = bodies.is_empty();
                for body in bodies {
                    self.ledger.push((n, body.clone()));
                    acked.push(body);
                }
            }
        }
        let failed: Vec<usize> = nodes.iter().copied().filter(|&n| failed[n]).collect();
        println!(
            "{phase}: {} acked, publishing failed on nodes {failed:?}",
            acked.len()
        );
        acked
    }

    /// Waits until every consumer has every body of `bodies`.
    fn await_delivery(&mut self, what: &str, bodies: &[String]) {
        let deadline = Instant::now() + DELIVERY;
        for c in &mut self.consumers {
            loop {
                c.assert_running();
                let missing = c.missing(bodies);
                if missing.is_empty() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "{what}: the {} consumer misses {} of {} acked messages (e.g. {:?}); \
                     its log:\n{}",
                    c.name,
                    missing.len(),
                    bodies.len(),
                    &missing[..missing.len().min(5)],
                    c.log_tail()
                );
                thread::sleep(Duration::from_millis(50));
            }
        }
        println!("{what}: all {} delivered to every consumer", bodies.len());
    }
}

#[test]
fn consumers_lose_nothing_acked_through_partitions_and_degraded_links() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: network namespaces need root (run as root, as CI does)");
        return;
    }
    if let Some(why) = netns::unavailable() {
        eprintln!("skipped: network namespaces are not permitted here: {why}");
        return;
    }
    check_pynsq();
    let tmp = TempDir::new("netfaults");
    let go_bin = go_consumer_bin(tmp.path());
    let rounds: usize = std::env::var("NSQ_NETFAULTS_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);

    let mut net = Net::setup();
    let lookupds: Vec<String> = [("l1", 21), ("l2", 22)]
        .map(|(h, o)| net.add_host(h, o))
        .to_vec();
    let nodes: Vec<String> = [("d1", 11), ("d2", 12), ("d3", 13)]
        .map(|(h, o)| net.add_host(h, o))
        .to_vec();
    net.add_host("c", 31);

    let mut daemons = Vec::new();
    for (i, ip) in lookupds.iter().enumerate() {
        let args = [
            format!("--tcp-address={ip}:4160"),
            format!("--http-address={ip}:4161"),
            format!("--broadcast-address={ip}"),
        ];
        daemons.push(start_in(
            &net,
            &format!("l{}", i + 1),
            &nsqlookupd_bin(),
            &args,
        ));
    }
    for (i, ip) in nodes.iter().enumerate() {
        let data = tmp.path().join(format!("d{}", i + 1));
        std::fs::create_dir_all(&data).expect("data dir");
        let mut args = vec![
            format!("--tcp-address={ip}:4150"),
            format!("--http-address={ip}:4151"),
            format!("--broadcast-address={ip}"),
            format!("--data-path={}", data.display()),
            "--msg-timeout=5s".to_string(),
        ];
        args.extend(
            lookupds
                .iter()
                .map(|l| format!("--lookupd-tcp-address={l}:4160")),
        );
        daemons.push(start_in(&net, &format!("d{}", i + 1), &nsqd_bin(), &args));
        let addr: SocketAddr = format!("{ip}:4151").parse().expect("addr");
        http::post_ok(addr, &format!("/topic/create?topic={TOPIC}"));
        for ch in ["go", "py"] {
            http::post_ok(addr, &format!("/channel/create?topic={TOPIC}&channel={ch}"));
        }
    }

    let lookupd_http: Vec<String> = lookupds.iter().map(|l| format!("{l}:4161")).collect();
    let prefix = net.exec_prefix("c");
    let go_args = vec![
        go_bin.display().to_string(),
        format!("-lookupd={}", lookupd_http.join(",")),
        format!("-topic={TOPIC}"),
        "-channel=go".to_string(),
        format!("-poll={POLL_S}s"),
    ];
    let py_script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/python/netfaults_consumer.py");
    let py_args = vec![
        "python3".to_string(),
        py_script.display().to_string(),
        lookupd_http.join(","),
        TOPIC.to_string(),
        "py".to_string(),
        POLL_S.to_string(),
    ];
    let mut cluster = Cluster {
        consumers: vec![
            Consumer::spawn("go-nsq", &prefix, &go_args),
            Consumer::spawn("pynsq", &prefix, &py_args),
        ],
        publishers: nodes
            .iter()
            .enumerate()
            .map(|(i, ip)| Publisher {
                node: i + 1,
                addr: format!("{ip}:4150").parse().expect("addr"),
                conn: None,
                seq: 0,
            })
            .collect(),
        ledger: Vec::new(),
    };

    let all = [0, 1, 2];
    let acked = cluster.publish("healthy", &all);
    cluster.await_delivery("healthy", &acked);

    for round in 1..=rounds {
        // nsqd3's link is slowed, then it is cut off right after acking a batch: some of
        // it still undelivered or in flight, held by nsqd3 until the heal.
        net.degrade("d3");
        let precut = cluster.publish(&format!("r{round}-precut"), &[2]);
        let cut = Instant::now();
        net.partition("d3");
        let acked = cluster.publish(&format!("r{round}-partitioned"), &all);
        assert!(
            acked.iter().all(|b| !b.contains("-n3-")),
            "a partitioned node acked a message"
        );
        cluster.await_delivery("nsqd3 partitioned, live nodes' messages", &acked);
        let applied: Vec<&str> = ["d1", "d2"].iter().map(|h| net.degrade(h)).collect();
        let acked = cluster.publish(&format!("r{round}-degraded"), &[0, 1]);
        cluster.await_delivery(&format!("nsqd1, nsqd2 degraded ({})", applied[0]), &acked);
        let dropped = net.restore("d1") + net.restore("d2");
        println!("degraded links dropped {dropped} packets");
        if let Some(rest) = PARTITION.checked_sub(cut.elapsed()) {
            thread::sleep(rest); // the fault's length, not a wait for readiness
        }

        net.restore("d3");
        net.reconnect("d3");
        let healed = Instant::now();
        let acked = cluster.publish(&format!("r{round}-healed"), &all);
        let ledger: Vec<String> = cluster.ledger.iter().map(|(_, b)| b.clone()).collect();
        cluster.await_delivery("healed, everything ever acked", &ledger);
        let first_n3 = acked.iter().find(|b| b.contains("-n3-"));
        let first_n3 = first_n3.unwrap_or_else(|| panic!("nsqd3 acked nothing after the heal"));
        for c in &cluster.consumers {
            let late = precut
                .iter()
                .filter(|b| c.first_arrival(b).is_some_and(|t| t >= healed))
                .count();
            println!(
                "round {round}: the {} consumer got {late} of nsqd3's {} last acked messages \
                 only after the heal",
                c.name,
                precut.len()
            );
            let back = c.first_arrival(first_n3).expect("delivered") - healed;
            println!(
                "round {round}: the {} consumer took nsqd3's messages again {back:?} after \
                 the heal (poll interval {POLL_S} s)",
                c.name
            );
            assert!(back < RESUME, "{} resumed only after {back:?}", c.name);
        }
    }

    let per_node: Vec<usize> = (0..3)
        .map(|n| cluster.ledger.iter().filter(|(i, _)| *i == n).count())
        .collect();
    for c in &cluster.consumers {
        let (unique, total) = c.counts();
        println!(
            "{}: {unique} unique of {} acked (per node {per_node:?}), {} duplicates, 0 lost",
            c.name,
            cluster.ledger.len(),
            total - unique
        );
    }
    for d in &daemons {
        if std::env::var_os("NSQ_NETFAULTS_DUMP").is_some() {
            println!("----- {} -----\n{}", d.label(), d.output());
        }
        assert!(
            !d.output().contains("panicked"),
            "{} panicked:\n{}",
            d.label(),
            d.output_tail(40)
        );
    }
    drop(cluster);
    drop(daemons);
    drop(net);
}
