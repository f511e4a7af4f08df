//! The `kill -9` campaign in the durable configuration (`--mem-queue-size=0
//! --sync-every=1`): rounds of mixed PUB/MPUB/DPUB load with a consumer that FINs, REQs
//! and lets some messages time out, each ended by `kill -9` at a seeded random point, then
//! a restart on the same data dir; at the end everything is drained (deferred included)
//! and no acknowledged message may be missing, and every message delivered and not
//! FINished before a kill (in flight or deferred by REQ) must have been delivered again
//! (see `nsq_tests::soak` for what the configuration promises).
//!
//! `NSQ_SOAK_KILLS` sets the kills of the mixed campaign (default 10; `make soak` runs 100)
//! and a quarter of it (at least 3) for each variant: kills while messages are deferred
//! and in flight, during a topic→channel drain of a disk backlog, and with files small
//! enough to roll every few messages. `NSQ_SOAK_SEED` replays a printed seed;
//! `NSQ_SOAK_KEEP=<dir>` keeps each campaign's data dir in `<dir>/<name>`.

use std::time::Duration;

use nsq_tests::daemon::is_go_build;
use nsq_tests::harness::{nsqd_bin, TempDir};
use nsq_tests::soak::{kills_from_env, seed_from_env, Campaign, Outcome, DURABLE};

/// Kills of the mixed campaign in `make test`.
const CI_KILLS: usize = 10;

fn variant_kills() -> usize {
    (kills_from_env(CI_KILLS) / 4).max(3)
}

fn run(campaign: Campaign<'_>) -> Outcome {
    let dir = TempDir::new(campaign.name);
    // NSQ_SOAK_KEEP=<dir>: run in <dir>/<campaign> and leave it there for a post-mortem.
    let data = match std::env::var_os("NSQ_SOAK_KEEP") {
        Some(keep) => {
            let data = std::path::Path::new(&keep).join(campaign.name);
            std::fs::create_dir_all(&data).expect("create NSQ_SOAK_KEEP dir");
            data
        }
        None => dir.path().to_path_buf(),
    };
    let bin = nsqd_bin();
    let go = is_go_build(&bin);
    let outcome = campaign.run(&bin, &data);
    println!(
        "SOAK {} seed={} kills={} {} (in-flight allowance {})",
        campaign.name, campaign.seed, outcome.kills, outcome.report, outcome.unseen_allowance
    );
    if go {
        println!("Go nsqd logged: {:#?}", outcome.bad_lines);
    } else {
        assert!(
            outcome.bad_lines.is_empty(),
            "restarts reported corruption or a panic (seed {}): {:#?}",
            campaign.seed,
            outcome.bad_lines
        );
    }
    let report = &outcome.report;
    assert!(
        report.foreign.is_empty(),
        "delivered bodies never sent: {:?}",
        report.foreign
    );
    if go {
        // Go nsqd v1.3.0 keeps in-flight messages in memory only: one taken for the
        // consumer and not yet written to its socket vanishes unseen at a kill (at most
        // the consumer's RDY per kill), and one delivered and not FINished is not
        // delivered again (counted as unfinished).
        assert!(
            report.acked_lost.len() <= outcome.unseen_allowance,
            "seed {}: {} acked messages lost, more than the {} a kill can take in flight: {:?}",
            campaign.seed,
            report.acked_lost.len(),
            outcome.unseen_allowance,
            &report.acked_lost[..report.acked_lost.len().min(20)]
        );
        return outcome;
    }
    // Ours keeps a channel's disk read position at the oldest message still in flight
    // or deferred by REQ: a kill loses none of them.
    assert!(
        report.acked_lost.is_empty(),
        "seed {}: {} acked messages lost: {:?}",
        campaign.seed,
        report.acked_lost.len(),
        &report.acked_lost[..report.acked_lost.len().min(20)]
    );
    assert_eq!(
        report.unfinished, 0,
        "seed {}: messages delivered and never FINished were not delivered again",
        campaign.seed
    );
    outcome
}

#[test]
fn kill_9_under_mixed_load_loses_no_acked_message() {
    let outcome = run(Campaign {
        name: "soak",
        kills: kills_from_env(CI_KILLS),
        seed: seed_from_env(),
        args: DURABLE.to_vec(),
        backlog: 0,
        require_pending: false,
        max_run: Duration::from_millis(1200),
    });
    assert!(outcome.report.acked > 0, "nothing was acknowledged");
}

#[test]
fn kill_9_with_deferred_and_in_flight_messages() {
    let outcome = run(Campaign {
        name: "pending",
        kills: variant_kills(),
        seed: seed_from_env() ^ 1,
        args: DURABLE.to_vec(),
        backlog: 0,
        require_pending: true,
        max_run: Duration::from_millis(300),
    });
    assert!(outcome.report.acked > 0, "nothing was acknowledged");
}

#[test]
fn kill_9_during_topic_to_channel_drain() {
    let outcome = run(Campaign {
        name: "drain",
        kills: variant_kills(),
        seed: seed_from_env() ^ 2,
        args: DURABLE.to_vec(),
        backlog: 3000,
        require_pending: false,
        max_run: Duration::from_millis(400),
    });
    assert!(
        outcome.report.acked >= 3000,
        "the backlog was not acknowledged"
    );
}

#[test]
fn kill_9_during_disk_file_rolls() {
    let mut args = DURABLE.to_vec();
    // A few dozen messages per file: a roll every few publishes.
    args.push("--max-bytes-per-file=2048");
    let outcome = run(Campaign {
        name: "roll",
        kills: variant_kills(),
        seed: seed_from_env() ^ 3,
        args,
        backlog: 0,
        require_pending: false,
        max_run: Duration::from_millis(1200),
    });
    assert!(outcome.report.acked > 0, "nothing was acknowledged");
}
