//! Unit tests of the registration database; the clock is the `now` argument (seconds
//! converted to ns below), so nothing sleeps.

use super::*;

const SEC: i64 = 1_000_000_000;

fn registry() -> Registry {
    Registry::new(Lifetimes {
        inactive_producer_timeout: Duration::from_secs(300),
        tombstone_lifetime: Duration::from_secs(45),
    })
}

fn peer(remote: &str, broadcast: &str, http_port: i64, now: i64) -> Arc<PeerInfo> {
    Arc::new(PeerInfo::new(
        remote,
        Identity {
            hostname: format!("{broadcast}.example"),
            broadcast_address: broadcast.to_string(),
            tcp_port: 4150,
            http_port,
            version: "1.3.0".to_string(),
        },
        now,
    ))
}

/// A peer identified at `now`, as the TCP session does it.
fn identified(r: &mut Registry, remote: &str, broadcast: &str, now: i64) -> Arc<PeerInfo> {
    let p = peer(remote, broadcast, 4151, now);
    assert!(r.add_producer(Registration::client(), &p));
    p
}

fn ids(peers: &[Arc<PeerInfo>]) -> Vec<&str> {
    peers.iter().map(|p| p.id.as_str()).collect()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn register_adds_channel_and_topic_once() {
    let mut r = registry();
    let a = identified(&mut r, "10.0.0.1:1", "a", 0);
    let added = r.register(&a, "t", Some("c"));
    assert_eq!(
        added,
        vec![Registration::channel("t", "c"), Registration::topic("t")]
    );
    assert!(
        r.register(&a, "t", Some("c")).is_empty(),
        "second time is a no-op"
    );
    assert_eq!(r.topics(), strings(&["t"]));
    assert_eq!(r.channels("t"), strings(&["c"]));
    let (channels, producers) = r.lookup("t", 0).expect("registered");
    assert_eq!(channels, strings(&["c"]));
    assert_eq!(ids(&producers), vec!["10.0.0.1:1"]);
    assert!(r.lookup("other", 0).is_none());
    assert_eq!(r.channels("other"), Vec::<String>::new());
}

#[test]
fn wildcards_match_any_key() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    let b = identified(&mut r, "b:1", "b", 0);
    r.register(&a, "t1", Some("c1"));
    r.register(&a, "t2", Some("c2"));
    r.register(&b, "t2", None);
    assert_eq!(r.channels(ANY), strings(&["c1", "c2"]));
    let (channels, producers) = r.lookup(ANY, 0).expect("any topic");
    assert_eq!(channels, strings(&["c1", "c2"]));
    assert_eq!(
        ids(&producers),
        vec!["a:1", "b:1"],
        "de-duplicated by peer id"
    );
    assert_eq!(
        r.find_registrations(Category::Topic, ANY, "").len(),
        2,
        "subkey must still match"
    );
}

#[test]
fn unregister_channel_keeps_key_unless_ephemeral() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", Some("c"));
    r.register(&a, "t", Some("e#ephemeral"));
    let (removed, unexpected) = r.unregister(&a.id, "t", Some("c"));
    assert_eq!(removed, vec![Registration::channel("t", "c")]);
    assert!(unexpected.is_empty());
    r.unregister(&a.id, "t", Some("e#ephemeral"));
    assert_eq!(r.channels("t"), strings(&["c"]), "ephemeral key removed");
    let (removed, _) = r.unregister(&a.id, "t", Some("never"));
    assert!(removed.is_empty());
}

#[test]
fn ephemeral_channel_stays_while_other_producers_remain() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    let b = identified(&mut r, "b:1", "b", 0);
    r.register(&a, "t", Some("e#ephemeral"));
    r.register(&b, "t", Some("e#ephemeral"));
    r.unregister(&a.id, "t", Some("e#ephemeral"));
    assert_eq!(r.channels("t"), strings(&["e#ephemeral"]));
    r.unregister(&b.id, "t", Some("e#ephemeral"));
    assert!(r.channels("t").is_empty());
}

#[test]
fn topic_unregister_removes_peer_from_its_channels() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    let b = identified(&mut r, "b:1", "b", 0);
    r.register(&a, "t", Some("c1"));
    r.register(&a, "t", Some("c2"));
    r.register(&b, "t", Some("c1"));
    let (removed, unexpected) = r.unregister(&a.id, "t", None);
    assert_eq!(
        unexpected,
        vec![
            Registration::channel("t", "c1"),
            Registration::channel("t", "c2")
        ]
    );
    assert_eq!(removed.len(), 3);
    assert_eq!(r.channels("t"), strings(&["c1", "c2"]), "keys stay");
    let (_, producers) = r.lookup("t", 0).expect("topic stays");
    assert_eq!(ids(&producers), vec!["b:1"]);

    r.register(&a, "x#ephemeral", Some("c#ephemeral"));
    r.unregister(&a.id, "x#ephemeral", None);
    assert!(
        r.lookup("x#ephemeral", 0).is_none(),
        "ephemeral topic removed"
    );
    assert_eq!(
        r.channels("x#ephemeral"),
        strings(&["c#ephemeral"]),
        "its channel key is not (as in the reference)"
    );
}

#[test]
fn disconnect_removes_peer_everywhere_but_keeps_keys() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", Some("c"));
    r.register(&a, "e#ephemeral", None);
    let removed = r.remove_peer(&a.id);
    assert_eq!(
        removed.len(),
        4,
        "client, channel and two topics: {removed:?}"
    );
    assert_eq!(r.topics(), strings(&["e#ephemeral", "t"]));
    assert_eq!(r.channels("t"), strings(&["c"]));
    assert!(r.nodes(0).is_empty());
    assert!(r.dump().is_empty(), "no registration has producers");
    let (_, producers) = r.lookup("t", 0).expect("key kept");
    assert!(producers.is_empty());
}

#[test]
fn inactive_producers_are_hidden_until_they_ping() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", None);
    let at_limit = 300 * SEC;
    assert_eq!(
        r.lookup("t", at_limit).expect("t").1.len(),
        1,
        "not past the limit"
    );
    assert_eq!(r.nodes(at_limit).len(), 1);
    let past = at_limit + 1;
    assert!(r.lookup("t", past).expect("t").1.is_empty());
    assert!(r.nodes(past).is_empty());
    a.touch(past);
    assert_eq!(r.lookup("t", past).expect("t").1.len(), 1);
    assert_eq!(r.nodes(past).len(), 1);
    // A clock that went backwards does not make a producer inactive.
    assert_eq!(r.lookup("t", -SEC).expect("t").1.len(), 1);
}

#[test]
fn tombstone_hides_one_topic_for_its_lifetime() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "node-a", 0);
    let b = identified(&mut r, "b:1", "node-b", 0);
    for p in [&a, &b] {
        r.register(p, "t", None);
        r.register(p, "u", None);
    }
    let t0 = 10 * SEC;
    assert_eq!(r.tombstone("t", "node-a:4151", t0), 1);
    assert_eq!(r.tombstone("t", "node-a", t0), 0, "exact node string only");
    assert_eq!(r.tombstone("nope", "node-a:4151", t0), 0);
    assert_eq!(ids(&r.lookup("t", t0).expect("t").1), vec!["b:1"]);
    assert_eq!(ids(&r.lookup("u", t0).expect("u").1), vec!["a:1", "b:1"]);

    let nodes = r.nodes(t0);
    assert_eq!(nodes.len(), 2, "tombstoned nodes are still listed");
    assert_eq!(nodes[0].peer.id, "a:1");
    assert_eq!(nodes[0].topics, strings(&["t", "u"]));
    assert_eq!(nodes[0].tombstones, vec![true, false]);
    assert_eq!(nodes[1].tombstones, vec![false, false]);

    // Re-REGISTER keeps the record and its tombstone.
    assert!(r.register(&a, "t", None).is_empty());
    assert_eq!(ids(&r.lookup("t", t0).expect("t").1), vec!["b:1"]);

    let expiry = t0 + 45 * SEC;
    assert_eq!(ids(&r.lookup("t", expiry - 1).expect("t").1), vec!["b:1"]);
    assert_eq!(
        ids(&r.lookup("t", expiry).expect("t").1),
        vec!["a:1", "b:1"]
    );
    assert_eq!(r.nodes(expiry)[0].tombstones, vec![false, false]);
    let dump = r.dump();
    let (_, producers) = dump
        .iter()
        .find(|(reg, _)| **reg == Registration::topic("t"))
        .expect("t dumped");
    assert_eq!(
        producers[0].tombstoned_at,
        Some(t0),
        "flag kept after expiry"
    );
}

#[test]
fn unregister_then_register_clears_tombstone() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", None);
    r.tombstone("t", "a:4151", 0);
    assert!(r.lookup("t", 0).expect("t").1.is_empty());
    r.unregister(&a.id, "t", None);
    r.register(&a, "t", None);
    assert_eq!(r.lookup("t", 0).expect("t").1.len(), 1);
}

#[test]
fn zero_tombstone_lifetime_never_hides() {
    let mut r = Registry::new(Lifetimes {
        inactive_producer_timeout: Duration::from_secs(300),
        tombstone_lifetime: Duration::ZERO,
    });
    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", None);
    r.tombstone("t", "a:4151", 0);
    assert_eq!(r.lookup("t", 0).expect("t").1.len(), 1);
}

#[test]
fn http_admin_operations() {
    let mut r = registry();
    r.create_topic("t");
    r.create_topic("t");
    assert_eq!(r.topics(), strings(&["t"]));
    let (channels, producers) = r.lookup("t", 0).expect("created");
    assert!(channels.is_empty() && producers.is_empty());

    r.create_channel("u", "c");
    assert_eq!(
        r.topics(),
        strings(&["t", "u"]),
        "channel create adds its topic"
    );
    assert!(r.delete_channel("u", "c"));
    assert!(!r.delete_channel("u", "c"));
    assert_eq!(r.topics(), strings(&["t", "u"]));

    let a = identified(&mut r, "a:1", "a", 0);
    r.register(&a, "t", Some("c1"));
    r.create_channel("t", "c2");
    assert_eq!(r.delete_topic("t"), strings(&["c1", "c2"]));
    assert!(r.lookup("t", 0).is_none());
    assert!(r.channels("t").is_empty());
    assert!(r.delete_topic("t").is_empty(), "absent is fine");
    assert_eq!(r.nodes(0)[0].topics, Vec::<String>::new());

    r.create_channel("v", "c");
    r.delete_topic(ANY);
    assert!(
        r.topics().is_empty(),
        "`*` deletes every topic (reference quirk)"
    );
}

#[test]
fn dump_lists_only_registrations_with_producers() {
    let mut r = registry();
    r.create_topic("empty");
    let a = identified(&mut r, "a:1", "a", 5);
    r.register(&a, "t", Some("c"));
    let dump = r.dump();
    let keys: Vec<String> = dump
        .iter()
        .map(|(reg, _)| format!("{}:{}:{}", reg.category.as_str(), reg.key, reg.subkey))
        .collect();
    assert_eq!(keys, strings(&["channel:t:c", "client::", "topic:t:"]));
    assert!(dump
        .iter()
        .all(|(_, p)| p.len() == 1 && p[0].tombstoned_at.is_none()));
    assert_eq!(dump[0].1[0].peer.last_update(), 5);
}

#[test]
fn registration_display_matches_reference_log() {
    assert_eq!(
        Registration::channel("t", "c").to_string(),
        "category:channel key:t subkey:c"
    );
    assert_eq!(
        Registration::client().to_string(),
        "category:client key: subkey:"
    );
}

#[test]
fn census_counts_alive_and_tombstoned_producers() {
    let mut r = registry();
    let a = identified(&mut r, "a:1", "node-a", 0);
    let b = identified(&mut r, "b:1", "node-b", 0);
    r.register(&a, "t", Some("c"));
    r.register(&b, "t", None);
    r.create_topic("empty");
    let t0 = 10 * SEC;
    r.tombstone("t", "node-a:4151", t0);
    let count = |now| {
        r.census(now)
            .into_iter()
            .map(|(reg, n, t)| (reg.to_string(), n, t))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        count(t0),
        vec![
            ("category:channel key:t subkey:c".to_string(), 1, 0),
            ("category:client key: subkey:".to_string(), 2, 0),
            ("category:topic key:empty subkey:".to_string(), 0, 0),
            ("category:topic key:t subkey:".to_string(), 2, 1),
        ]
    );
    // b keeps pinging, a does not: past the inactivity timeout only b counts.
    let later = 301 * SEC;
    b.touch(later);
    assert_eq!(
        count(later)[1],
        ("category:client key: subkey:".to_string(), 1, 0)
    );
    assert_eq!(
        count(later)[3],
        ("category:topic key:t subkey:".to_string(), 1, 0)
    );
}
