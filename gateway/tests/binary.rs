//! The binary protocol against the real `ferrex serve` on 127.0.0.1: logon (HMAC and Ed25519),
//! orders, execution reports to both sides of a trade, market data, replay from memory and from
//! the journal after a restart, and bad input: each case gets its documented answer and the
//! server keeps serving everyone else.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::{Server, demo_config_with};
use ferrex_gateway::binary::codes;
use ferrex_gateway::binary::reports::exec;
use ferrex_gateway::binary::wire::{self, Cancel, ExecutionReport, NewOrder, Subscribe};
use ferrex_gateway::client::binary::{BinaryClient, ClientError, LogonOptions, Secret, ServerMessage};
use ferrex_tests::journal_fixture::TempDir;

const WAIT: Duration = Duration::from_secs(10);

fn logon(server: &Server, user: &str, options: LogonOptions) -> BinaryClient {
    let secret = Secret::Hmac(format!("demo-{user}-secret"));
    BinaryClient::connect(&server.binary, &format!("demo-{user}"), &secret, options).expect("logon")
}

fn limit(instrument: u32, side: u8, price: i64, qty: i64, client: &str) -> Vec<u8> {
    NewOrder::limit(instrument, side, price, qty, client).to_bytes()
}

/// The next message that is not a heartbeat.
fn next(client: &mut BinaryClient) -> ServerMessage {
    loop {
        match client.recv_timeout(WAIT).expect("receive") {
            Some(ServerMessage::Heartbeat) => {}
            Some(message) => return message,
            None => panic!("nothing from the server within {WAIT:?}"),
        }
    }
}

fn report(client: &mut BinaryClient) -> ExecutionReport {
    match next(client) {
        ServerMessage::Execution(report) => report,
        other => panic!("expected an execution report, got {other:?}"),
    }
}

/// `count` buy orders on `instrument` at increasing prices, each with its acknowledgement.
fn place(client: &mut BinaryClient, instrument: u32, count: i64, prefix: &str) -> Vec<ExecutionReport> {
    (0..count)
        .map(|n| {
            client.send(&limit(instrument, 0, 5_000_000 + n, 10, &format!("{prefix}{n}"))).unwrap();
            report(client)
        })
        .collect()
}

/// Alice, logged on again and asking for the reports after `after`.
fn replay_from(server: &Server, after: (u64, u32)) -> BinaryClient {
    logon(server, "alice", LogonOptions { replay_after: Some(after), cancel_on_disconnect: false })
}

/// Carol's raw socket after a flood of messages of an unknown kind, written until the server
/// stops taking them (each earns a 112-byte reject that Carol never reads).
fn flood_without_reading(server: &Server) -> TcpStream {
    let (mut flood, _) = logon(server, "carol", LogonOptions::default()).into_stream();
    flood.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
    let garbage: Vec<u8> = std::iter::repeat_n([8u8, 0, 0x77, 1, 0, 0, 0, 0], 4096).flatten().collect();
    for _ in 0..64 {
        if flood.write_all(&garbage).is_err() {
            break;
        }
    }
    flood
}

/// A line of the metrics counting disconnects for `reason`.
fn disconnects(line: &str, reason: &str) -> bool {
    line.starts_with("ferrex_disconnects_total") && line.contains(&format!("reason=\"{reason}\""))
}

#[test]
fn two_users_trade_and_both_get_their_reports_and_the_market_data() {
    let dir = TempDir::new("binary-trade");
    let server = Server::start(&dir);
    let mut alice = logon(&server, "alice", LogonOptions::default());
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let mut watcher = logon(&server, "carol", LogonOptions::default());
    let btc = alice.instrument("BTC-USDT").expect("listed").instrument;
    assert_eq!((alice.accepted.user, bob.accepted.user), (1, 2));
    let subscribe = Subscribe { instrument: btc, flags: 3, depth_levels: 10 };
    watcher.send(&subscribe.to_bytes()).unwrap();
    let ServerMessage::DepthSnapshot(head, levels) = next(&mut watcher) else { panic!("a depth snapshot") };
    assert_eq!((head.instrument, head.count, levels.len()), (btc, 0, 0));

    alice.send(&limit(btc, 1, 6_000_000, 5_000, "a-sell")).unwrap();
    let new = report(&mut alice);
    assert_eq!((new.exec_type, wire::untext(&new.client_order_id)), (exec::NEW, Some("a-sell")));
    assert_eq!((new.side, new.price, new.qty, new.leaves_qty), (1, 6_000_000, 5_000, 5_000));
    bob.send(&limit(btc, 0, 6_000_100, 2_000, "b-buy")).unwrap();
    let bob_new = report(&mut bob);
    let bob_fill = report(&mut bob);
    assert_eq!((bob_new.exec_type, bob_fill.exec_type), (exec::NEW, exec::FILL));
    assert_eq!(
        (bob_fill.last_price, bob_fill.last_qty, bob_fill.leaves_qty, bob_fill.liquidity),
        (6_000_000, 2_000, 0, 2)
    );
    let alice_fill = report(&mut alice);
    assert_eq!((alice_fill.order_id, alice_fill.leaves_qty, alice_fill.liquidity), (new.order_id, 3_000, 1));
    assert_eq!(alice_fill.trade_id, bob_fill.trade_id);
    assert!(alice_fill.timestamp_ns >= new.timestamp_ns && alice_fill.timestamp_ns > 0);

    // The watcher saw the ask appear, the trade, and the ask shrink, in journal order.
    let ServerMessage::DepthUpdate(appeared) = next(&mut watcher) else { panic!("a depth update") };
    assert_eq!((appeared.side, appeared.price, appeared.qty), (1, 6_000_000, 5_000));
    let ServerMessage::Trade(trade) = next(&mut watcher) else { panic!("a trade") };
    assert_eq!(
        (trade.price, trade.qty, trade.aggressor, trade.trade_id),
        (6_000_000, 2_000, 0, bob_fill.trade_id)
    );
    let ServerMessage::DepthUpdate(shrunk) = next(&mut watcher) else { panic!("a depth update") };
    assert_eq!((shrunk.price, shrunk.qty), (6_000_000, 3_000));
    assert!(shrunk.sequence > appeared.sequence && appeared.sequence > head.sequence);

    // A cancel of somebody else's order is a cancel reject; one's own goes through.
    let cancel = Cancel { order_id: new.order_id, instrument: btc, client_order_id: [0; 36] };
    bob.send(&cancel.to_bytes()).unwrap();
    let ServerMessage::CancelReject(reject) = next(&mut bob) else { panic!("a cancel reject") };
    assert_eq!((reject.request, reject.order_id), (1, new.order_id));
    let by_client = Cancel { order_id: 0, instrument: btc, client_order_id: wire::text("a-sell") };
    alice.send(&by_client.to_bytes()).unwrap();
    let cancelled = report(&mut alice);
    assert_eq!(
        (cancelled.exec_type, cancelled.order_id, cancelled.qty),
        (exec::CANCELLED, new.order_id, 3_000)
    );
    assert!(server.stop());
}

#[test]
fn a_reconnecting_client_gets_every_report_it_missed_from_memory_and_after_a_restart_from_the_journal() {
    let dir = TempDir::new("binary-replay");
    let server = Server::start(&dir);
    let mut alice = logon(&server, "alice", LogonOptions::default());
    let btc = alice.instrument("BTC-USDT").expect("listed").instrument;
    let seen = place(&mut alice, btc, 6, "r");
    drop(alice);
    // From memory: everything after the second report.
    let after = (seen[1].sequence, seen[1].index);
    let mut again = replay_from(&server, after);
    let replayed: Vec<ExecutionReport> = (2..6).map(|_| report(&mut again)).collect();
    assert_eq!(replayed, seen[2..]);
    let ServerMessage::ReplayComplete(done) = next(&mut again) else { panic!("replay complete") };
    assert_eq!((done.replayed, done.status), (4, 0));
    drop(again);
    assert!(server.stop());

    // After a restart the memory is empty: the same reports are rebuilt from the journal.
    let server = Server::start(&dir);
    let mut rebuilt = replay_from(&server, after);
    let replayed: Vec<ExecutionReport> = (2..6).map(|_| report(&mut rebuilt)).collect();
    assert_eq!(replayed, seen[2..], "rebuilt reports are byte for byte the ones first sent");
    let ServerMessage::ReplayComplete(done) = next(&mut rebuilt) else { panic!("replay complete") };
    assert_eq!((done.replayed, done.status), (4, 0));
    // Live reports follow the replay.
    rebuilt.send(&limit(btc, 0, 5_000_100, 10, "live")).unwrap();
    let live = report(&mut rebuilt);
    assert_eq!(wire::untext(&live.client_order_id), Some("live"));
    assert!((live.sequence, live.index) > (seen[5].sequence, seen[5].index));
    assert!(server.stop());
}

#[test]
fn an_ed25519_logon_works_and_a_bad_signature_is_refused() {
    let dir = TempDir::new("binary-logon");
    let server = Server::start(&dir);
    let ed = BinaryClient::connect(
        &server.binary,
        "demo-alice-ed25519",
        &Secret::Ed25519([0xa1; 32]),
        LogonOptions::default(),
    )
    .expect("Ed25519 logon");
    assert_eq!(ed.accepted.user, 1);
    let wrong = BinaryClient::connect(
        &server.binary,
        "demo-bob",
        &Secret::Hmac("nope".into()),
        LogonOptions::default(),
    );
    assert!(matches!(wrong, Err(ClientError::Rejected(codes::BAD_CREDENTIALS))), "{:?}", wrong.err());
    let unknown =
        BinaryClient::connect(&server.binary, "nobody", &Secret::Hmac("x".into()), LogonOptions::default());
    assert!(matches!(unknown, Err(ClientError::Rejected(codes::BAD_CREDENTIALS))));
    assert!(server.stop());
}

/// Reads from a raw socket until the server closes it; returns every byte.
fn read_to_close(stream: &mut TcpStream) -> Vec<u8> {
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    bytes
}

/// The kinds and first body u16 (a code) of the whole messages in `bytes`.
fn kinds(bytes: &[u8]) -> Vec<(u8, u16)> {
    let mut at = 0;
    let mut out = Vec::new();
    while let Some((len, kind, _)) = wire::header(&bytes[at..]) {
        if at + len > bytes.len() {
            break; // the connection ended inside this message
        }
        let code = bytes.get(at + 4..at + 6).map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
        out.push((kind, code));
        at += len;
    }
    out
}

#[test]
fn garbage_half_frames_oversize_lengths_and_stalls_are_cut_off_and_nobody_else_notices() {
    let dir = TempDir::new("binary-garbage");
    let server = Server::start(&dir);
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let btc = bob.instrument("BTC-USDT").expect("listed").instrument;

    // An order before logon ends the session.
    let mut early = TcpStream::connect(&server.binary).unwrap();
    early.write_all(&limit(btc, 0, 100, 1, "x")).unwrap();
    let said = kinds(&read_to_close(&mut early));
    assert_eq!(said.last(), Some(&(wire::Goodbye::KIND, codes::NOT_LOGGED_ON)), "{said:?}");

    // An impossible length ends the session (the framing is lost).
    let mut oversize = TcpStream::connect(&server.binary).unwrap();
    oversize.write_all(&[0xff, 0xff, 0x10, 0x01, 1, 2, 3]).unwrap();
    let said = kinds(&read_to_close(&mut oversize));
    assert_eq!(said.last(), Some(&(wire::Goodbye::KIND, codes::BAD_FRAME)), "{said:?}");

    // Well-framed garbage on a logged-on session is refused and the session goes on.
    let mut carol = logon(&server, "carol", LogonOptions::default());
    carol.send(&[8, 0, 0x77, 1, 0, 0, 0, 0]).unwrap();
    let ServerMessage::BusinessReject(unknown) = next(&mut carol) else { panic!("a business reject") };
    assert_eq!((unknown.code, unknown.refused_kind), (codes::UNKNOWN_KIND, 0x77));
    let mut short_order = limit(btc, 0, 100, 1, "short");
    short_order.truncate(50);
    short_order[0] = 50;
    carol.send(&short_order).unwrap();
    let ServerMessage::BusinessReject(short) = next(&mut carol) else { panic!("a business reject") };
    assert_eq!((short.code, short.refused_kind), (codes::MALFORMED, NewOrder::KIND));
    carol.send(&limit(btc, 7, 100, 1, "bad-side")).unwrap();
    let ServerMessage::BusinessReject(side) = next(&mut carol) else { panic!("a business reject") };
    assert_eq!((side.code, wire::untext(&side.client_order_id)), (codes::BAD_FIELD, Some("bad-side")));
    carol.send(&limit(btc, 0, 4_000_000, 10, "fine")).unwrap();
    assert_eq!(report(&mut carol).exec_type, exec::NEW);

    // Half a frame, then silence: cut off after the idle timeout (5 s in the demo config), while
    // bob, who says something every second, stays.
    let mut stalled = logon(&server, "dave", LogonOptions::default());
    stalled.send(&limit(btc, 0, 100, 1, "half")[..20]).unwrap();
    let mut goodbye = None;
    while goodbye.is_none() {
        bob.writer.heartbeat().unwrap();
        match stalled.recv_timeout(Duration::from_secs(1)) {
            Ok(Some(ServerMessage::Goodbye(g))) => goodbye = Some(g.code),
            Ok(_) => {}
            other => panic!("expected a goodbye, got {other:?}"),
        }
    }
    assert_eq!(goodbye, Some(codes::IDLE_TIMEOUT));

    // Bob, who was there all along, still trades.
    bob.send(&limit(btc, 1, 4_000_000, 10, "bob-sells")).unwrap();
    let new = report(&mut bob);
    let fill = report(&mut bob);
    assert_eq!((new.exec_type, fill.exec_type, fill.last_qty), (exec::NEW, exec::FILL, 10));
    assert!(server.stop());
}

#[test]
fn a_client_that_does_not_read_is_cut_off_at_its_buffer_bound_and_nobody_else_notices() {
    let dir = TempDir::new("binary-slow");
    let server = Server::start(&dir);
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let btc = bob.instrument("BTC-USDT").expect("listed").instrument;
    // The server's queue for a client that never reads grows past its 1 MiB bound.
    let mut flood = flood_without_reading(&server);
    // Bob trades meanwhile, unaffected.
    bob.send(&limit(btc, 0, 5_000_000, 10, "unaffected")).unwrap();
    assert_eq!(report(&mut bob).exec_type, exec::NEW);
    // The flooder, which reads nothing, is cut off.
    let cut = server.await_metric(|l| disconnects(l, "slow") || disconnects(l, "unread goodbye"));
    assert!(cut, "a slow-consumer disconnect is counted");
    // What it reads now are whole messages, then the close; a goodbye, if it came, says why.
    let bytes = read_to_close(&mut flood);
    let goodbyes: Vec<u16> = kinds(&bytes)
        .into_iter()
        .filter(|&(kind, _)| kind == wire::Goodbye::KIND)
        .map(|(_, code)| code)
        .collect();
    assert!(goodbyes.iter().all(|&code| code == codes::SLOW_CONSUMER), "{goodbyes:?}");
    bob.send(&limit(btc, 0, 5_000_001, 10, "still-fine")).unwrap();
    assert_eq!(report(&mut bob).exec_type, exec::NEW);
    assert!(server.stop());
}

#[test]
fn a_perpetual_position_opened_over_the_binary_protocol_is_closed_by_one_message() {
    let dir = TempDir::new("binary-close");
    let server = Server::start(&dir);
    let mut alice = logon(&server, "alice", LogonOptions::default());
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let mut carol = logon(&server, "carol", LogonOptions::default());
    let perp = alice.instrument("BTC-USDT-PERP").expect("listed");
    assert_eq!(perp.kind, 1, "a perpetual");
    let perp = perp.instrument;
    // Bob bids, Alice sells into it: Alice is short 10 lots, Bob long.
    bob.send(&limit(perp, 0, 600_000, 10, "bob-bid")).unwrap();
    assert_eq!(report(&mut bob).exec_type, exec::NEW);
    alice.send(&limit(perp, 1, 600_000, 10, "alice-sell")).unwrap();
    let (new, fill) = (report(&mut alice), report(&mut alice));
    assert_eq!((new.exec_type, fill.exec_type, fill.leaves_qty), (exec::NEW, exec::FILL, 0));
    // Carol offers; Alice closes: a reduce-only IOC buy for her whole position.
    carol.send(&limit(perp, 1, 600_100, 25, "carol-ask")).unwrap();
    assert_eq!(report(&mut carol).exec_type, exec::NEW);
    let close = wire::ClosePosition { instrument: perp, reserved: 0, price: wire::NO_PRICE };
    alice.send(&close.to_bytes()).unwrap();
    let (new, fill) = (report(&mut alice), report(&mut alice));
    assert_eq!((new.exec_type, new.side, new.time_in_force, new.qty), (exec::NEW, 0, 1, 10));
    assert_eq!(
        (fill.exec_type, fill.last_qty, fill.last_price, fill.leaves_qty),
        (exec::FILL, 10, 600_100, 0)
    );
    // Flat now: closing again is refused by the engine, as a rejected new order.
    alice.send(&close.to_bytes()).unwrap();
    let refused = report(&mut alice);
    assert_eq!(refused.exec_type, exec::REJECTED);
    assert!(refused.reject_code >= 1000, "an engine reject code: {}", refused.reject_code);
    assert!(server.stop());
}

#[test]
fn reports_evicted_from_the_memory_window_are_rebuilt_from_the_journal_while_the_server_runs() {
    let dir = TempDir::new("binary-evicted");
    let configs = TempDir::new("binary-evicted-config");
    let config = demo_config_with(&configs, &[("[server]\n", "[server]\nreplay_window_reports = 4\n")]);
    let server = Server::start_with_config(&dir, &config);
    let mut alice = logon(&server, "alice", LogonOptions::default());
    let btc = alice.instrument("BTC-USDT").expect("listed").instrument;
    let seen = place(&mut alice, btc, 8, "w");
    drop(alice);
    // The window holds the last four reports; a replay after the second needs six: the two
    // evicted ones come from the journal, the rest from memory, in order, each once.
    let after = (seen[1].sequence, seen[1].index);
    let mut again = replay_from(&server, after);
    let replayed: Vec<ExecutionReport> = (2..8).map(|_| report(&mut again)).collect();
    assert_eq!(replayed, seen[2..], "rebuilt and remembered reports, byte for byte, in order");
    let ServerMessage::ReplayComplete(done) = next(&mut again) else { panic!("replay complete") };
    assert_eq!((done.replayed, done.status, done.from_sequence), (6, 0, after.0));
    again.send(&limit(btc, 0, 5_000_100, 10, "live")).unwrap();
    let live = report(&mut again);
    assert_eq!(wire::untext(&live.client_order_id), Some("live"));
    assert!((live.sequence, live.index) > (seen[7].sequence, seen[7].index));
    assert!(server.stop());
}

#[test]
fn a_replay_from_before_the_oldest_snapshot_starts_at_that_snapshot_and_says_so() {
    let dir = TempDir::new("binary-truncated");
    let configs = TempDir::new("binary-truncated-config");
    let config = demo_config_with(&configs, &[("[journal]\n", "[journal]\nsnapshot_keep = 1\n")]);
    let server = Server::start_with_config(&dir, &config);
    let mut alice = logon(&server, "alice", LogonOptions::default());
    let btc = alice.instrument("BTC-USDT").expect("listed").instrument;
    let seen = place(&mut alice, btc, 4, "t");
    drop(alice);
    // A graceful stop takes a last snapshot; keeping one, the older ones (the first included) go.
    assert!(server.stop());
    let server = Server::start_with_config(&dir, &config);
    let after = (seen[0].sequence, seen[0].index);
    let mut again = replay_from(&server, after);
    let ServerMessage::ReplayComplete(done) = next(&mut again) else { panic!("replay complete") };
    assert_eq!((done.replayed, done.status), (0, 1), "nothing after the snapshot, and it says so");
    assert!(
        done.from_sequence >= seen[3].sequence,
        "it starts at the last snapshot ({}), not at the position asked for ({})",
        done.from_sequence,
        after.0
    );
    again.send(&limit(btc, 0, 5_000_100, 10, "after")).unwrap();
    assert_eq!(wire::untext(&report(&mut again).client_order_id), Some("after"));
    assert!(server.stop());
}

#[test]
fn a_session_cut_off_that_never_reads_its_goodbye_is_dropped_after_the_grace_period() {
    let dir = TempDir::new("binary-unread");
    let server = Server::start(&dir);
    let mut flood = flood_without_reading(&server);
    // Its goodbye cannot be written behind the full buffers, so the server drops the connection
    // once the grace period has passed.
    assert!(
        server.await_metric(|l| disconnects(l, "unread goodbye")),
        "the unread goodbye is counted as such"
    );
    // The connection is gone: reading drains what was in flight, then ends.
    let bytes = read_to_close(&mut flood);
    assert!(
        !kinds(&bytes).iter().any(|&(kind, _)| kind == wire::Goodbye::KIND),
        "the goodbye was never written"
    );
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let btc = bob.instrument("BTC-USDT").expect("listed").instrument;
    bob.send(&limit(btc, 0, 5_000_000, 10, "fine")).unwrap();
    assert_eq!(report(&mut bob).exec_type, exec::NEW);
    assert!(server.stop());
}

#[test]
fn a_burst_longer_than_one_turn_is_read_over_several_and_every_message_is_answered() {
    let dir = TempDir::new("binary-turns");
    let server = Server::start(&dir);
    let (mut writer, mut reader) = logon(&server, "carol", LogonOptions::default()).split();
    // 20,000 messages of an unknown kind in one write (160 KB; a turn reads 64 KiB): once the
    // burst is in, no readiness event comes again, and the server must still read it to the end.
    let count = 20_000;
    let burst: Vec<u8> = std::iter::repeat_n([8u8, 0, 0x77, 1, 0, 0, 0, 0], count).flatten().collect();
    let sender = std::thread::spawn(move || writer.send(&burst).map(|()| writer));
    let mut answered = 0;
    while answered < count {
        match reader.recv_timeout(WAIT).expect("receive") {
            Some(ServerMessage::BusinessReject(reject)) => {
                assert!(
                    reject.code == codes::UNKNOWN_KIND || reject.code == codes::TOO_MANY_MESSAGES,
                    "{reject:?}"
                );
                answered += 1;
            }
            Some(ServerMessage::Heartbeat) => {}
            Some(other) => panic!("expected a business reject, got {other:?}"),
            None => panic!("{answered} of {count} messages answered"),
        }
    }
    let _writer = sender.join().expect("the writer").expect("sent");
    assert!(server.counter("ferrex_read_turns_cut_total") >= 1, "the burst took more than one turn");
    let mut bob = logon(&server, "bob", LogonOptions::default());
    let btc = bob.instrument("BTC-USDT").expect("listed").instrument;
    bob.send(&limit(btc, 0, 5_000_000, 10, "after-the-burst")).unwrap();
    assert_eq!(report(&mut bob).exec_type, exec::NEW);
    assert!(server.stop());
}
