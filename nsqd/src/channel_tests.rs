//! Channel tests with the clock passed in: deferral, REQ, orphans of a departed client,
//! pause, empty (epochs) and the consumer limit, without sockets or sleeps.

use super::*;
use crate::client::{ClientShared, Peer, STATE_SUBSCRIBED};
use bytes::Bytes;
use protocol::MessageId;
use tokio_util::sync::CancellationToken;

fn msg(n: u8) -> Message {
    Message::new(MessageId([b'0' + n; 16]), 1, Bytes::from(vec![n; 4]))
}

fn channel(max_consumers: usize) -> Channel {
    Channel::new("t", "c", Backlog::new(100, None), max_consumers, None)
}

fn take_all(ch: &Channel) -> Vec<Message> {
    let mut out = Vec::new();
    ch.take(100, &mut out, &mut Vec::new());
    out
}

fn consumer(id: u64) -> Arc<ClientShared> {
    Arc::new(ClientShared::new(
        id,
        Peer::Unix,
        0,
        CancellationToken::new(),
    ))
}

#[test]
fn put_take_and_done_keep_the_counts() {
    let ch = channel(0);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    let s = ch.snapshot();
    assert_eq!((s.depth, s.message_count, s.in_flight_count), (2, 2, 0));
    let taken = take_all(&ch);
    assert_eq!(taken.len(), 2);
    assert_eq!(taken[0].id, msg(1).id);
    assert_eq!(ch.snapshot().in_flight_count, 2);
    ch.in_flight_done(ch.epoch(), 1);
    let s = ch.snapshot();
    assert_eq!((s.depth, s.in_flight_count), (0, 1));
}

#[test]
fn deferred_message_is_due_at_now_plus_delay() {
    let ch = channel(0);
    let now = Instant::now();
    let delay = Duration::from_secs(60);
    ch.put_deferred(msg(1), delay, now).expect("defer");
    // The same ID cannot be deferred twice.
    assert!(matches!(
        ch.put_deferred(msg(1), delay, now),
        Err(ChannelError::AlreadyDeferred)
    ));
    assert_eq!(ch.snapshot().deferred_count, 1);
    assert!(!ch.scan(now + delay - Duration::from_millis(1)));
    assert!(take_all(&ch).is_empty());
    assert!(ch.scan(now + delay));
    let s = ch.snapshot();
    assert_eq!((s.deferred_count, s.depth), (0, 1));
    assert_eq!(take_all(&ch)[0].id, msg(1).id);
}

#[test]
fn req_now_requeues_and_req_later_defers() {
    let ch = channel(0);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    let taken = take_all(&ch);
    let epoch = ch.epoch();
    let now = Instant::now();
    ch.requeue(taken[0].clone(), epoch, Duration::ZERO, now)
        .expect("req 0");
    ch.requeue(taken[1].clone(), epoch, Duration::from_secs(5), now)
        .expect("req 5s");
    let s = ch.snapshot();
    assert_eq!(
        (
            s.depth,
            s.deferred_count,
            s.in_flight_count,
            s.requeue_count
        ),
        (1, 1, 0, 2)
    );
    assert!(ch.scan(now + Duration::from_secs(5)));
    assert_eq!(ch.snapshot().depth, 2);
}

#[test]
fn orphans_stay_in_flight_until_their_deadline_then_time_out() {
    let ch = channel(0);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    let taken = take_all(&ch);
    let now = Instant::now();
    let later = now + Duration::from_secs(30);
    // A departed client hands back one message due later and one already overdue.
    ch.adopt_orphans(
        vec![
            (taken[0].clone(), later),
            (taken[1].clone(), now - Duration::from_secs(1)),
        ],
        ch.epoch(),
        now,
    );
    assert!(ch.in_flight_elsewhere(&taken[0].id, 7));
    assert_eq!(ch.snapshot().in_flight_count, 2);
    assert!(ch.scan(now));
    let s = ch.snapshot();
    assert_eq!((s.in_flight_count, s.timeout_count, s.depth), (1, 1, 1));
    assert!(ch.scan(later));
    let s = ch.snapshot();
    assert_eq!((s.in_flight_count, s.timeout_count, s.depth), (0, 2, 2));
    assert!(!ch.in_flight_elsewhere(&taken[0].id, 7));
}

#[test]
fn paused_channel_hands_out_nothing() {
    let ch = channel(0);
    ch.put(&[Packed::from_messages(&[msg(1)])]).expect("put");
    ch.set_paused(true);
    assert!(take_all(&ch).is_empty());
    assert_eq!(ch.snapshot().depth, 1);
    ch.set_paused(false);
    assert_eq!(take_all(&ch).len(), 1);
}

#[test]
fn empty_starts_a_new_epoch_and_ignores_the_old_one() {
    let ch = channel(0);
    ch.put(&[Packed::from_messages(&[msg(1), msg(2)])])
        .expect("put");
    let taken = take_all(&ch);
    let old = ch.epoch();
    ch.empty().expect("empty");
    assert_ne!(ch.epoch(), old);
    let s = ch.snapshot();
    assert_eq!((s.depth, s.in_flight_count), (0, 0));
    // Timeouts and REQs of messages delivered before the empty do not come back.
    ch.timed_out(&taken, old);
    ch.adopt_orphans(
        vec![(taken[0].clone(), Instant::now())],
        old,
        Instant::now(),
    );
    assert_eq!(ch.snapshot().depth, 0);
    assert!(!ch.scan(Instant::now() + Duration::from_secs(1)));
}

#[test]
fn consumer_limit_and_wake_up() {
    let ch = channel(1);
    let a = consumer(1);
    ch.add_consumer(Arc::clone(&a)).expect("first consumer");
    // Adding the same client again is a no-op, another one is over the limit.
    ch.add_consumer(Arc::clone(&a)).expect("same consumer");
    assert!(matches!(
        ch.add_consumer(consumer(2)),
        Err(ChannelError::TooManyConsumers { limit: 1, .. })
    ));
    // A due deferred message wakes a consumer with capacity.
    a.state.store(STATE_SUBSCRIBED, Ordering::Relaxed);
    a.ready_count.store(1, Ordering::Relaxed);
    let now = Instant::now();
    ch.put_deferred(msg(1), Duration::from_secs(1), now)
        .expect("defer");
    assert!(ch.scan(now + Duration::from_secs(1)));
    let woken = a.wake.notified();
    tokio::pin!(woken);
    // The permit stored by `notify_one` completes the first poll.
    assert!(poll_once(woken.as_mut()));
    assert_eq!(ch.remove_consumer(1), 0);
}

/// Poll a future once with a no-op waker: whether it was ready.
fn poll_once<F: std::future::Future>(f: std::pin::Pin<&mut F>) -> bool {
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    f.poll(&mut cx).is_ready()
}

#[test]
fn take_sorts_out_messages_past_the_limits_and_they_are_not_in_flight() {
    let mut ch = channel(0);
    ch.limits = crate::deadletter::Limits::new(
        "t",
        crate::deadletter::Defaults {
            max_attempts: 2,
            ..Default::default()
        },
    );
    let mut spent = msg(1);
    spent.attempts = 2;
    let fresh = msg(2);
    ch.put(&[Packed::from_messages(&[spent, fresh])])
        .expect("put");
    let (mut out, mut over) = (Vec::new(), Vec::new());
    ch.take(100, &mut out, &mut over);
    assert_eq!(
        out.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![msg(2).id]
    );
    assert_eq!(over.len(), 1);
    assert!(over[0].dead && !over[0].expired);
    ch.overdue_done(1, 0);
    let s = ch.snapshot();
    assert_eq!((s.depth, s.in_flight_count), (0, 1));
    let l = s.limits.expect("limit stats");
    assert_eq!((l.dead_letter_count, l.max_attempts), (1, 2));
    // Off: no stats object, as in Go.
    assert!(channel(0).snapshot().limits.is_none());
}
