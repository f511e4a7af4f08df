//! Topic tests: fan-out, the topic's own backlog and its drain (a tracked background task),
//! pause and hold (and pre-creation not undoing a delete made during the hold), deferred publishes with the clock passed to `scan`, and close writing
//! the backlog to disk for the next open.

use super::*;
use std::path::Path;

/// A fresh data directory per test, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!("nsqd-topic-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("temp dir");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn settings(dir: &Path) -> Arc<QueueSettings> {
    Arc::new(QueueSettings {
        data_path: dir.to_path_buf(),
        mem_queue_size: 100,
        max_bytes_per_file: 1 << 20,
        sync_every: 100,
        sync_timeout: Duration::from_secs(2),
        max_msg_size: 1 << 20,
        node_id: 1,
        max_channel_consumers: 0,
        e2e_window: None,
        background: Background::new(),
        limits: crate::deadletter::Defaults::default(),
    })
}

fn bodies(names: &[&str]) -> Vec<Bytes> {
    names
        .iter()
        .map(|n| Bytes::copy_from_slice(n.as_bytes()))
        .collect()
}

fn take_bodies(ch: &Channel) -> Vec<Bytes> {
    let mut out = Vec::new();
    ch.take(100, &mut out, &mut Vec::new());
    out.into_iter().map(|m| m.body).collect()
}

/// Wait (bounded) until the channel holds `n` messages: the drain runs in the background.
async fn wait_depth(ch: &Channel, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while ch.snapshot().depth != n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "channel depth stayed {} (want {n})",
            ch.snapshot().depth
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn publish_fans_out_to_every_channel() {
    let dir = TempDir::new("fanout");
    let t = Arc::new(Topic::new("t#ephemeral", settings(&dir.0)).expect("topic"));
    let (a, created) = t.get_or_create_channel("a#ephemeral").expect("a");
    assert!(created);
    let (b, _) = t.get_or_create_channel("b#ephemeral").expect("b");
    let (again, created) = t.get_or_create_channel("a#ephemeral").expect("a again");
    assert!(!created && Arc::ptr_eq(&a, &again));
    t.publish(bodies(&["1", "2"])).expect("publish");
    assert_eq!(take_bodies(&a), bodies(&["1", "2"]));
    assert_eq!(take_bodies(&b), bodies(&["1", "2"]));
    let s = t.snapshot(None);
    assert_eq!((s.message_count, s.message_bytes, s.depth), (2, 2, 0));
}

#[tokio::test]
async fn backlog_waits_for_a_channel_then_drains_in_order() {
    let dir = TempDir::new("drain");
    let t = Arc::new(Topic::new("t#ephemeral", settings(&dir.0)).expect("topic"));
    t.publish(bodies(&["1", "2"])).expect("publish");
    t.publish(bodies(&["3"])).expect("publish");
    assert_eq!(t.snapshot(None).depth, 3);
    let (ch, _) = t.get_or_create_channel("c#ephemeral").expect("channel");
    wait_depth(&ch, 3).await;
    assert_eq!(t.snapshot(None).depth, 0);
    assert_eq!(take_bodies(&ch), bodies(&["1", "2", "3"]));
}

#[tokio::test]
async fn paused_or_held_topic_keeps_messages_until_resumed() {
    let dir = TempDir::new("pause");
    let t = Arc::new(Topic::new("t#ephemeral", settings(&dir.0)).expect("topic"));
    let (ch, _) = t.get_or_create_channel("c#ephemeral").expect("channel");
    t.set_paused(true);
    t.publish(bodies(&["paused"])).expect("publish");
    assert_eq!((t.snapshot(None).depth, ch.snapshot().depth), (1, 0));
    t.set_paused(false);
    wait_depth(&ch, 1).await;

    t.hold();
    t.publish(bodies(&["held"])).expect("publish");
    assert_eq!(t.snapshot(None).depth, 1);
    t.release();
    wait_depth(&ch, 2).await;
    assert_eq!(take_bodies(&ch), bodies(&["paused", "held"]));
}

#[tokio::test]
async fn pre_creation_does_not_bring_back_a_channel_deleted_during_the_hold() {
    let dir = TempDir::new("precreate");
    let t = Arc::new(Topic::new("t#ephemeral", settings(&dir.0)).expect("topic"));
    t.hold();
    // Created and deleted while lookupd is being asked: its (older) answer lists "gone".
    t.get_or_create_channel("gone#ephemeral").expect("channel");
    assert!(t.delete_channel("gone#ephemeral"));
    assert!(t.precreate_channel("gone#ephemeral").expect("ok").is_none());
    let (_, created) = t
        .precreate_channel("other#ephemeral")
        .expect("ok")
        .expect("not deleted");
    assert!(created);
    t.release();
    assert_eq!(t.channel_count(), 1);
    // After the hold, a channel of that name can be created again.
    let (_, created) = t
        .precreate_channel("gone#ephemeral")
        .expect("ok")
        .expect("hold over");
    assert!(created);
    // A delete outside a hold is not remembered.
    assert!(t.delete_channel("gone#ephemeral"));
    assert!(t.precreate_channel("gone#ephemeral").expect("ok").is_some());
}

#[tokio::test]
async fn deferred_publish_is_due_after_its_delay() {
    let dir = TempDir::new("defer");
    let t = Arc::new(Topic::new("t#ephemeral", settings(&dir.0)).expect("topic"));
    let (ch, _) = t.get_or_create_channel("c#ephemeral").expect("channel");
    let before = Instant::now();
    t.publish_deferred(Bytes::from_static(b"later"), Duration::from_secs(60))
        .expect("dpub");
    let after = Instant::now();
    assert_eq!(ch.snapshot().deferred_count, 1);
    t.scan(before + Duration::from_secs(59));
    assert_eq!(ch.snapshot().depth, 0);
    t.scan(after + Duration::from_secs(60));
    assert_eq!(take_bodies(&ch), bodies(&["later"]));
}

#[tokio::test]
async fn close_writes_the_backlog_and_the_next_open_reads_it() {
    let dir = TempDir::new("close");
    let s = settings(&dir.0);
    let t = Arc::new(Topic::new("t", Arc::clone(&s)).expect("topic"));
    t.publish(bodies(&["1", "2", "3"])).expect("publish");
    t.close();
    assert!(t.is_exiting());
    assert!(matches!(
        t.publish(bodies(&["late"])),
        Err(TopicError::Exiting)
    ));
    let t = Arc::new(Topic::new("t", s).expect("reopen"));
    assert_eq!(t.snapshot(None).depth, 3);
    let (ch, _) = t.get_or_create_channel("c#ephemeral").expect("channel");
    wait_depth(&ch, 3).await;
    assert_eq!(take_bodies(&ch), bodies(&["1", "2", "3"]));
    t.delete();
    assert_eq!(t.channel_count(), 0);
}
