//! The runtime on real files: outputs released only when durable, in request order, each
//! request's outputs ending with one `Done`; the events equal those of the pure engine fed the
//! same commands at the same times; queries answered in sequence; a slow consumer cut off while
//! the others get everything; a stop drains what was taken; a restart recovers the same state; in
//! `async` durability the flusher makes everything durable with no further traffic, and
//! segments are retired while the runtime runs.

use ferrex_engine::runtime::message::{Answer, Body, Item, Origin, Output, Query, Request};
use ferrex_engine::runtime::{Durability, Ended, Runtime, RuntimeConfig, Started, SubmitError, Subscriber};
use std::time::{Duration, Instant};

use ferrex_engine::{Command, Engine, Event};
use ferrex_tests::fixture::{self, USDT};
use ferrex_tests::generate::SplitMix64;
use ferrex_tests::journal_fixture::TempDir;
use ferrex_tests::money_gen::{MoneyGen, money_config, money_setup};

fn config(dir: &TempDir, durability: Durability) -> RuntimeConfig {
    let mut config = RuntimeConfig::new(&dir.0);
    config.engine = money_config();
    config.segment_bytes = 16 * 4096;
    config.core.durability = durability;
    config.core.batch_max = 16;
    config
}

fn submit(started: &mut Started, origin: Origin, body: Body) {
    loop {
        match started.submitter.submit(Request { origin, body }) {
            Ok(()) => return,
            Err(SubmitError::Busy) => std::thread::yield_now(),
            Err(SubmitError::Stopped) => panic!("stopped"),
        }
    }
}

/// Reads one request's outputs (up to and with its `Done`) from the front of `pending`, pulling
/// more from `subscriber` as needed.
fn next_request(subscriber: &mut Subscriber, pending: &mut Vec<Output>) -> Vec<Output> {
    loop {
        if let Some(end) = pending.iter().position(|o| matches!(o.item, Item::Done { .. })) {
            return pending.drain(..=end).collect();
        }
        subscriber.wait(pending, 1024).expect("outputs");
    }
}

#[test]
fn outputs_are_durable_ordered_and_equal_to_the_pure_engine() {
    for durability in [Durability::Sync, Durability::Async] {
        let dir = TempDir::new(&format!("runtime-{durability:?}"));
        let mut started = Runtime::start(&config(&dir, durability)).expect("start");
        assert!(started.report.created);
        let mut reference = Engine::new(money_config()).expect("config");
        let mut commands: Vec<Command> = money_setup(&money_config());
        let mut generator = MoneyGen::new(&money_config());
        let mut source = SplitMix64(7);
        commands.extend((0..400).map(|_| generator.next(&mut source).expect("endless")));
        let mut subscriber = started.subscribers.pop().expect("one consumer");
        let mut pending = Vec::new();
        let mut events = Vec::new();
        for (expected_sequence, (n, command)) in (1u64..).zip(commands.iter().enumerate()) {
            let tag = n as u64;
            submit(&mut started, Origin { session: 3, tag }, Body::Command(*command));
            if n % 50 == 0 {
                submit(&mut started, Origin { session: 4, tag }, Body::Query(Query::StateHash));
            }
            let outputs = next_request(&mut subscriber, &mut pending);
            let Item::Done { timestamp_ns, items, command: true } = outputs.last().expect("done").item else {
                panic!("a command ends with its Done: {outputs:?}");
            };
            assert_eq!(items as usize, outputs.len() - 1);
            for output in &outputs {
                assert_eq!((output.sequence, output.origin), (expected_sequence, Origin { session: 3, tag }));
                if durability == Durability::Sync {
                    assert!(started.runtime.durable_sequence() >= output.sequence, "released before durable");
                }
            }
            events.clear();
            reference.apply_at(timestamp_ns, command, &mut events);
            let got: Vec<Event> = outputs
                .iter()
                .filter_map(|o| if let Item::Event(e) = o.item { Some(e) } else { None })
                .collect();
            assert_eq!(got, events, "command {n}: the runtime's events are the pure engine's");
            generator.observe(&events);
            if n % 50 == 0 {
                let answer = next_request(&mut subscriber, &mut pending);
                assert_eq!(answer.len(), 2);
                assert_eq!(answer[0].sequence, expected_sequence, "a query sees every command before it");
                assert_eq!(answer[0].item, Item::Answer(Answer::StateHash(reference.state_hash())));
            }
        }
        let report = started.runtime.stop().expect("stop");
        assert_eq!(report.commands, commands.len() as u64);
        assert_eq!(report.state_hash, reference.state_hash());
        assert_eq!(report.snapshots.last_sequence, report.last_sequence, "a final snapshot on stop");
        let restarted = Runtime::start(&config(&dir, durability)).expect("restart");
        assert!(!restarted.report.created);
        assert_eq!(restarted.report.recovery.state_hash, reference.state_hash());
        assert_eq!(restarted.report.recovery.replayed, 0, "the final snapshot is recovered from");
        restarted.runtime.stop().expect("stop");
    }
}

/// Polls `done` (yielding) until it holds; panics after 20 s (a bound, never a pace).
fn await_condition(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not within 20 s");
        std::thread::yield_now();
    }
}

fn segment_files(dir: &TempDir) -> usize {
    std::fs::read_dir(&dir.0)
        .expect("journal directory")
        .filter(|e| e.as_ref().is_ok_and(|e| e.path().extension().is_some_and(|x| x == "wal")))
        .count()
}

/// The largest end the durable-extent markers (bytes 64 and 128) of the newest segment claim
/// (0: none written). Read from the file while the log runs: its writes are in the page cache.
fn newest_segment_marker_end(dir: &TempDir) -> u64 {
    let mut names: Vec<std::path::PathBuf> = std::fs::read_dir(&dir.0)
        .expect("journal directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wal"))
        .collect();
    names.sort();
    let bytes = std::fs::read(names.last().expect("a segment")).expect("readable");
    let at = |offset: usize| u64::from_le_bytes(bytes[offset..offset + 8].try_into().expect("8 bytes"));
    at(ferrex_journal::wal::MARKERS[0]).max(at(ferrex_journal::wal::MARKERS[1]))
}

#[test]
fn async_durability_syncs_in_the_background_and_retires_segments_while_running() {
    let dir = TempDir::new("runtime-flusher");
    let mut config = config(&dir, Durability::Async);
    config.async_sync_every = Duration::from_millis(1);
    config.snapshots.every_records = 200;
    config.snapshots.keep = 1;
    let mut started = Runtime::start(&config).expect("start");
    let mut subscriber = started.subscribers.pop().expect("one consumer");
    let mut commands: Vec<Command> = money_setup(&money_config());
    let mut generator = MoneyGen::new(&money_config());
    let mut source = SplitMix64(11);
    let mut pending = Vec::new();
    let mut last = 0;
    for n in 0..3_000usize {
        let command = match commands.get(n) {
            Some(command) => *command,
            None => generator.next(&mut source).expect("endless"),
        };
        submit(&mut started, Origin { session: 1, tag: n as u64 }, Body::Command(command));
        let outputs = next_request(&mut subscriber, &mut pending);
        let events: Vec<Event> =
            outputs.iter().filter_map(|o| if let Item::Event(e) = o.item { Some(e) } else { None }).collect();
        generator.observe(&events);
        last = outputs[0].sequence;
    }
    commands.clear();
    await_condition("the watermark reaches the last command", || started.runtime.durable_sequence() >= last);
    // Each query lets the core look at the snapshotter again (when it next idles). The first
    // segment gone while running: the log rolled, and what the snapshots cover was retired.
    let first = dir.0.join("00000000000000000001.wal");
    await_condition("segments behind the snapshots retired", || {
        submit(&mut started, Origin { session: 2, tag: 0 }, Body::Query(Query::StateHash));
        next_request(&mut subscriber, &mut pending);
        !first.exists() && segment_files(&dir) <= 2
    });
    // The segment being written gets its marker from the flusher's passes (no `sync` runs in
    // `async` until the stop): records damaged before it would be corruption, not a torn tail.
    await_condition("a marker in the segment being written", || {
        submit(&mut started, Origin { session: 2, tag: 1 }, Body::Query(Query::StateHash));
        next_request(&mut subscriber, &mut pending);
        newest_segment_marker_end(&dir) > ferrex_journal::wal::DATA_START as u64
    });
    let report = started.runtime.stop().expect("stop");
    assert!(report.segments_retired > 0, "{report:?}");
}

#[test]
fn a_consumer_that_does_not_read_is_cut_off_and_the_others_keep_everything() {
    let dir = TempDir::new("runtime-cutoff");
    let mut config = config(&dir, Durability::Async);
    config.consumers = 2;
    config.consumer_slots = 64;
    let mut started = Runtime::start(&config).expect("start");
    let mut idle = started.subscribers.pop().expect("second");
    let mut reader = started.subscribers.pop().expect("first");
    let mut setup = fixture::assets();
    setup.extend(fixture::traders(1, 32));
    setup.extend(fixture::deposits(32, USDT, 1_000, 1));
    let mut pending = Vec::new();
    let mut sequences = Vec::new();
    for (n, command) in setup.iter().enumerate() {
        submit(&mut started, Origin { session: 1, tag: n as u64 }, Body::Command(*command));
        sequences.push(next_request(&mut reader, &mut pending)[0].sequence);
    }
    assert_eq!(sequences, (1..=setup.len() as u64).collect::<Vec<_>>(), "the reader got everything");
    let mut seen = Vec::new();
    let cut = loop {
        match idle.poll(&mut seen, 1024) {
            Ok(0) => panic!("no cut-off after {} outputs", seen.len()),
            Ok(_) => {}
            Err(cut) => break cut,
        }
    };
    assert!(seen.len() <= 64 && cut.first_missed > 1, "{cut:?} after {} outputs", seen.len());
    assert_eq!(seen.last().map(|o| o.sequence + 1), Some(cut.first_missed), "no gap before the cut");
    started.runtime.stop().expect("stop");
    assert_eq!(reader.wait(&mut pending, 16), Err(Ended::Stopped));
}

#[test]
fn a_stop_drains_every_request_taken_and_then_refuses() {
    let dir = TempDir::new("runtime-drain");
    let mut started = Runtime::start(&config(&dir, Durability::Sync)).expect("start");
    let commands = fixture::traders(1, 40);
    for (n, command) in commands.iter().enumerate() {
        submit(&mut started, Origin { session: 2, tag: n as u64 }, Body::Command(*command));
    }
    let mut submitter = started.submitter.clone();
    let report = started.runtime.stop().expect("stop");
    assert_eq!(report.commands, commands.len() as u64, "everything taken was applied");
    assert_eq!(submitter.submit(Request::default()), Err(SubmitError::Stopped));
    let mut subscriber = started.subscribers.pop().expect("one");
    let mut outputs = Vec::new();
    while subscriber.wait(&mut outputs, 1024).is_ok() {}
    let done = outputs.iter().filter(|o| matches!(o.item, Item::Done { command: true, .. })).count();
    assert_eq!(done, commands.len(), "every taken request got its outputs before the end");
}
