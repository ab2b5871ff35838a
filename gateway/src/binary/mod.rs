//! The binary protocol over TCP (docs/API-BINARY.md): fixed-offset little-endian messages
//! ([`wire`]) and a session layer in the spirit of `SoupBinTCP`: a challenge, a signed logon,
//! heartbeats both ways with timeouts, sequenced execution reports ([`reports`]) that a
//! reconnecting client replays from its last seen position ([`replay`]), and market data.
//!
//! The sessions live in the WebSocket server's event loop (server.rs), on their own listener:
//! both protocols share the ring, the order rate limits and the commands table that lets the
//! reports of any command be built, whoever sent it.
//!
//! Invariants: nothing is read from a session before its logon but the logon; a message whose
//! header length is below 4 or above [`wire::CLIENT_MESSAGE_BYTES_MAX`] ends the session (the
//! framing is lost); a well-framed message that is wrong (unknown kind, wrong length, bad field)
//! gets a `BusinessReject` and the session goes on; a session's reports are sent in position
//! order, each once (replay, then live, with live reports held while a replay is rebuilt); a
//! session whose unsent bytes pass `write_buffer_bytes_max`, whose client says nothing for
//! `idle_timeout`, or whose message stays incomplete for `idle_timeout`, is cut off with a
//! `Goodbye` naming why (after the message being written, never inside it), and nobody else
//! waits for it; one that does not take its goodbye within [`ENDING_GRACE`] is closed.
//! Complexity: O(bytes) per message; O(sessions) per timer tick (every 100 ms).
//! Known limitations: one thread serves every session (with the WebSocket ones); rebuilds run
//! on threads of their own, at most [`REBUILDS_MAX`] at once.

pub mod replay;
pub mod reports;
pub mod wire;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::{ErrorKind, Read, Write};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use ferrex_engine::runtime::message::{Answer, Body, DEPTH_LEVELS_MAX, Item, Origin, Output, Query, Request};
use ferrex_engine::runtime::{SubmitError, Submitter};
use ferrex_engine::{
    Amend, Cancel as CancelCommand, ClientOrderId, Command, Event, InstrumentId,
    MassCancel as MassCancelCommand, OrderId, OrderRef, OrderType, Place, Price, Qty, SelfTradePrevention,
    Side, TimeInForce, Trigger, TriggerKind, TriggerSource, UserId,
};
use mio::net::{TcpListener, TcpStream};
use mio::{Interest, Registry, Token};

use crate::api::Api;
use crate::config::Validated;
use crate::limits::Bucket;
use crate::marks::{Marks, Turns};
use crate::metrics::Metrics;
use crate::tags::TagMap;
use replay::{Rebuilt, Window};
use reports::{Report, Reporter};
use wire::{
    BusinessReject, CancelReplace, Challenge, DepthUpdate, Goodbye, Heartbeat, Logon, LogonAccepted,
    LogonRejected, NewOrder, ReplayComplete, Subscribe, Trade,
};

/// Reject and goodbye codes of the binary gateway (3000s: docs/API-BINARY.md).
pub mod codes {
    /// A message other than a logon before the logon.
    pub const NOT_LOGGED_ON: u16 = 3001;
    /// Unknown API key, or a signature that does not verify.
    pub const BAD_CREDENTIALS: u16 = 3002;
    /// A second logon on a logged-on session.
    pub const ALREADY_LOGGED_ON: u16 = 3003;
    /// A message kind the server does not accept.
    pub const UNKNOWN_KIND: u16 = 3004;
    /// A known kind with the wrong length or another protocol version.
    pub const MALFORMED: u16 = 3005;
    /// A field out of its range (side, type, instrument, text).
    pub const BAD_FIELD: u16 = 3006;
    /// The session's messages per second.
    pub const TOO_MANY_MESSAGES: u16 = 3007;
    /// The user's (or tenant's) orders per second or minute.
    pub const TOO_MANY_ORDERS: u16 = 3008;
    /// The ring is full: retry.
    pub const SERVER_BUSY: u16 = 3009;
    /// Goodbye: the header's length is impossible (framing lost).
    pub const BAD_FRAME: u16 = 3010;
    /// Goodbye: nothing from the client for the idle timeout, or a message left incomplete.
    pub const IDLE_TIMEOUT: u16 = 3011;
    /// Goodbye: the client does not read fast enough.
    pub const SLOW_CONSUMER: u16 = 3012;
    /// Goodbye: the client logged out.
    pub const LOGGED_OUT: u16 = 3013;
    /// Goodbye: too many live reports arrived during the replay.
    pub const REPLAY_OVERRUN: u16 = 3014;
    /// Logon rejected: too many replays are being rebuilt; retry.
    pub const REPLAY_BUSY: u16 = 3015;
    /// Logon rejected: the replay could not be rebuilt from the journal.
    pub const REPLAY_FAILED: u16 = 3016;
    /// Goodbye: the server is shutting down.
    pub const SHUTTING_DOWN: u16 = 3017;

    /// Every code with its name, in numeric order (docs/API-BINARY.md keeps the same table).
    pub const ALL: [(u16, &str); 17] = [
        (NOT_LOGGED_ON, "NOT_LOGGED_ON"),
        (BAD_CREDENTIALS, "BAD_CREDENTIALS"),
        (ALREADY_LOGGED_ON, "ALREADY_LOGGED_ON"),
        (UNKNOWN_KIND, "UNKNOWN_KIND"),
        (MALFORMED, "MALFORMED"),
        (BAD_FIELD, "BAD_FIELD"),
        (TOO_MANY_MESSAGES, "TOO_MANY_MESSAGES"),
        (TOO_MANY_ORDERS, "TOO_MANY_ORDERS"),
        (SERVER_BUSY, "SERVER_BUSY"),
        (BAD_FRAME, "BAD_FRAME"),
        (IDLE_TIMEOUT, "IDLE_TIMEOUT"),
        (SLOW_CONSUMER, "SLOW_CONSUMER"),
        (LOGGED_OUT, "LOGGED_OUT"),
        (REPLAY_OVERRUN, "REPLAY_OVERRUN"),
        (REPLAY_BUSY, "REPLAY_BUSY"),
        (REPLAY_FAILED, "REPLAY_FAILED"),
        (SHUTTING_DOWN, "SHUTTING_DOWN"),
    ];
}

/// Rebuilds from the journal running at once, at most.
pub const REBUILDS_MAX: usize = 4;
/// Live reports held for one session while its replay is rebuilt, at most.
pub const HELD_REPORTS_MAX: usize = 1 << 16;

/// Unsent bytes at which a session being read from is written to before its next read.
const WRITE_EARLY_BYTES: usize = 1 << 16;

/// Bytes read from one session in one turn of the loop; the rest waits for its next turn, so a
/// client that floods does not hold everyone else's messages back.
pub const READ_TURN_BYTES: usize = 1 << 16;
/// Token of the first binary session (sessions are `BINARY_BASE + slot`).
pub const BINARY_BASE: usize = 1 << 30;
/// Levels per side a subscriber's depth snapshot may ask for.
pub const SUBSCRIBE_LEVELS_MAX: u32 = 200;

const TICK: Duration = Duration::from_millis(100);
/// How long an ending session may take to read its last message before it is dropped.
pub const ENDING_GRACE: Duration = Duration::from_secs(1);

/// The binary gateway's settings.
#[derive(Clone, Debug)]
pub struct BinaryConfig {
    /// The journal directory (replays older than memory are rebuilt from it).
    pub dir: PathBuf,
    /// A heartbeat is sent after this long without other messages.
    pub heartbeat_interval: Duration,
    /// A session that sends nothing (or leaves a message incomplete) this long is cut off.
    pub idle_timeout: Duration,
    /// Unsent bytes a session may have queued before it is cut off.
    pub write_buffer_bytes_max: usize,
    /// Reports kept in memory for replays.
    pub window_reports_max: usize,
    /// Open binary sessions at most.
    pub sessions_max: usize,
    /// Open binary sessions per client IP address at most.
    pub ip_sessions_max: u32,
}

/// What the binary gateway borrows from the server for one call.
pub struct Shared<'a> {
    /// The API (keys, order rate limits, the market).
    pub api: &'a mut Api,
    /// The ring.
    pub submitter: &'a mut Submitter,
    /// Counters.
    pub metrics: &'a Metrics,
    /// Commands in flight by tag (the reports of a command need its content).
    pub commands: &'a mut TagMap<Command>,
    /// The next request tag (shared with the WebSocket side, so tags are unique).
    pub next_tag: &'a mut u64,
    /// Commands of the gateway's own waiting for room in the ring (cancel on disconnect).
    pub deferred: &'a mut VecDeque<Request>,
    /// The server's clock, ns.
    pub now_ns: u64,
}

impl Shared<'_> {
    /// Submits a request with a fresh tag (a command is remembered until its `Done`).
    fn submit(&mut self, body: Body) -> Result<u64, SubmitError> {
        let tag = *self.next_tag;
        self.submitter.submit(Request { origin: Origin { session: ORIGIN_SESSION, tag }, body })?;
        *self.next_tag += 1;
        if let Body::Command(command) = body {
            self.commands.insert(tag, command);
        }
        Ok(tag)
    }
}

/// The origin session of every binary request (routing is by tag).
pub const ORIGIN_SESSION: u32 = u32::MAX - 1;

enum State {
    /// Waiting for the logon that signs this nonce.
    Challenged([u8; 32]),
    /// Logged on; reports flow.
    Live { user: UserId },
    /// Logged on; a replay is being rebuilt and live reports are held.
    Replaying { user: UserId, held: Vec<Report> },
}

struct Session {
    stream: TcpStream,
    ip: IpAddr,
    input: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    state: State,
    cancel_on_close: bool,
    last_in: Instant,
    last_out: Instant,
    partial_since: Option<Instant>,
    bucket: Bucket,
    /// Since when the session is ending (its last message queued; it closes once that is
    /// written, or after [`ENDING_GRACE`] if the client does not read it).
    closing: Option<Instant>,
    /// The reason of a cut-off (slow consumer, replay overrun), for the metrics.
    cut: Option<&'static str>,
}

/// A depth query in flight for a subscriber.
struct DepthQuery {
    slot: usize,
    generation: u64,
    instrument: u32,
    levels: Vec<wire::Level>,
}

/// A market data message of the current command, sent at its `Done`.
enum MarketMessage {
    /// A level's new total.
    Depth(DepthUpdate),
    /// A trade (its timestamp is the command's, known at the `Done`).
    Trade(Trade),
}

/// A rebuild that finished: the session's slot and generation, and what it gives.
type Finished = (usize, u64, Result<Rebuilt, String>);

/// The binary sessions.
pub struct BinaryGateway {
    config: BinaryConfig,
    listener: TcpListener,
    sessions: Vec<Option<Session>>,
    generations: Vec<u64>,
    by_user: HashMap<UserId, BTreeSet<usize>>,
    depth_subscribers: HashMap<u32, BTreeSet<usize>>,
    trade_subscribers: HashMap<u32, BTreeSet<usize>>,
    queries: TagMap<DepthQuery>,
    /// When each of this gateway's commands was submitted (its round trip inside the server is
    /// counted in the request latency metric when its `Done` arrives).
    submitted: TagMap<Instant>,
    reporter: Reporter,
    in_command: bool,
    /// The current command's reports and market data, sent at its `Done` (when its time is known).
    pending: Vec<Report>,
    pending_market: Vec<MarketMessage>,
    window: Window,
    last_done_sequence: u64,
    rebuilds: (Sender<Finished>, Receiver<Finished>),
    rebuilds_running: usize,
    waker: Arc<mio::Waker>,
    dirty: Marks,
    /// Sessions whose turn ended with bytes left to read.
    turns: Turns,
    /// Open sessions per client IP address.
    per_ip: HashMap<IpAddr, u32>,
    last_tick: Instant,
    instruments: Vec<Vec<u8>>,
}

/// The listener's token.
pub const LISTENER: Token = Token(usize::MAX - 2);

impl BinaryGateway {
    /// A gateway on a bound listener, registered with `registry`.
    pub fn new(
        config: BinaryConfig,
        listener: std::net::TcpListener,
        registry: &Registry,
        waker: Arc<mio::Waker>,
        market: &Validated,
        recovered_sequence: u64,
    ) -> std::io::Result<BinaryGateway> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        registry.register(&mut listener, LISTENER, Interest::READABLE)?;
        let instruments = market.instruments.iter().map(instrument_message).collect();
        Ok(BinaryGateway {
            window: Window::new(config.window_reports_max, recovered_sequence),
            config,
            listener,
            sessions: Vec::new(),
            generations: Vec::new(),
            by_user: HashMap::new(),
            depth_subscribers: HashMap::new(),
            trade_subscribers: HashMap::new(),
            queries: TagMap::default(),
            submitted: TagMap::default(),
            reporter: Reporter::default(),
            in_command: false,
            pending: Vec::new(),
            pending_market: Vec::new(),
            last_done_sequence: recovered_sequence,
            rebuilds: std::sync::mpsc::channel(),
            rebuilds_running: 0,
            waker,
            dirty: Marks::default(),
            turns: Turns::default(),
            per_ip: HashMap::new(),
            last_tick: Instant::now(),
            instruments,
        })
    }

    /// Accepts waiting connections and sends each its challenge.
    pub fn accept(&mut self, registry: &Registry, metrics: &Metrics) -> std::io::Result<()> {
        while let Some((mut stream, peer)) = crate::server::next_connection(&self.listener)? {
            let from_ip = self.per_ip.get(&peer.ip()).copied().unwrap_or(0);
            if self.sessions.iter().filter(|s| s.is_some()).count() >= self.config.sessions_max
                || from_ip >= self.config.ip_sessions_max
            {
                continue;
            }
            *self.per_ip.entry(peer.ip()).or_default() += 1;
            let _ = stream.set_nodelay(true);
            let slot = self.sessions.iter().position(Option::is_none).unwrap_or(self.sessions.len());
            if slot == self.sessions.len() {
                self.sessions.push(None);
                self.generations.push(0);
            }
            registry.register(
                &mut stream,
                Token(BINARY_BASE + slot),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let mut nonce = [0u8; 32];
            getrandom::fill(&mut nonce).map_err(|e| std::io::Error::other(e.to_string()))?;
            let now = Instant::now();
            let mut session = Session {
                stream,
                ip: peer.ip(),
                input: Vec::with_capacity(wire::CLIENT_MESSAGE_BYTES_MAX),
                output: Vec::new(),
                sent: 0,
                state: State::Challenged(nonce),
                cancel_on_close: false,
                last_in: now,
                last_out: now,
                partial_since: None,
                // Replaced at logon by the configured rate (before it, only the logon is read).
                bucket: Bucket::new(1, Duration::from_secs(1), 0),
                closing: None,
                cut: None,
            };
            let challenge = Challenge { nonce, server_time_ms: crate::api::now_ms() };
            session.queue(&challenge.to_bytes(), usize::MAX);
            self.sessions[slot] = Some(session);
            self.dirty.insert(slot);
            metrics.connection(true, "");
        }
        Ok(())
    }

    /// A session's socket is ready: read and handle its messages, then write what it has queued.
    pub fn ready(&mut self, token: Token, shared: &mut Shared<'_>) {
        let slot = token.0 - BINARY_BASE;
        // A session with input left from its last turn is read once this turn, in `read_more`.
        if !self.turns.is_due(slot) {
            self.read(slot, shared);
        }
    }

    /// A turn of the loop starts: the sessions left with bytes to read get their next turn in
    /// this one ([`BinaryGateway::read_more`], after the sessions with news).
    pub fn begin_turn(&mut self) {
        self.turns.begin();
    }

    /// Sessions left with bytes to read at the end of their last turn: another turn each.
    pub fn read_more(&mut self, shared: &mut Shared<'_>) {
        let due = self.turns.take_due();
        for &slot in &due {
            self.read(slot, shared);
        }
        self.turns.done(due);
    }

    /// True when a session waits for another turn to read (the loop must not sleep).
    #[must_use]
    pub fn has_unread(&self) -> bool {
        self.turns.waiting()
    }

    /// Reads and handles a session's messages, at most [`READ_TURN_BYTES`] of them; a session
    /// with more is marked to go on next turn, after everyone else's (mio's readiness is edge
    /// triggered: nothing else would come back to it).
    fn read(&mut self, slot: usize, shared: &mut Shared<'_>) {
        let mut buffer = [0u8; 4096];
        let mut turn_bytes = 0;
        loop {
            let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
            if session.closing.is_some() {
                break;
            }
            if turn_bytes >= READ_TURN_BYTES {
                self.turns.defer(slot);
                shared.metrics.read_turn_cut();
                break;
            }
            match session.stream.read(&mut buffer) {
                Ok(0) => {
                    self.end(slot, "closed", shared);
                    return;
                }
                Ok(n) => {
                    turn_bytes += n;
                    session.input.extend_from_slice(&buffer[..n]);
                    session.last_in = Instant::now();
                    self.frames(slot, shared);
                    if !self.write_early(slot, shared) {
                        return;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => {
                    self.end(slot, "error", shared);
                    return;
                }
            }
        }
        self.dirty.insert(slot);
        self.flush(shared);
    }

    /// Inside a long read: writes a session's answers once [`WRITE_EARLY_BYTES`] are waiting, so
    /// that its unsent bytes count only what the socket refuses (a client that reads is never
    /// cut off for answers a burst of its own requests queued between two flushes). False when
    /// the session ended on a write error.
    fn write_early(&mut self, slot: usize, shared: &mut Shared<'_>) -> bool {
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return false };
        if session.output.len() - session.sent < WRITE_EARLY_BYTES {
            return true;
        }
        if session.write_out().is_err() {
            self.end(slot, "error", shared);
            return false;
        }
        true
    }

    /// Handles every whole message in a session's input (the buffer is taken out of the session
    /// meanwhile, so each message is read where it lies), keeping a partial one for later.
    fn frames(&mut self, slot: usize, shared: &mut Shared<'_>) {
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        let input = std::mem::take(&mut session.input);
        let mut at = 0;
        let mut bad = false;
        loop {
            match self.sessions.get(slot) {
                Some(Some(session)) if session.closing.is_none() => {}
                _ => break,
            }
            match frame(&input[at..]) {
                Frame::Bad => {
                    bad = true;
                    break;
                }
                Frame::Partial => break,
                Frame::Whole { len, kind, version } => {
                    let message = &input[at..at + len];
                    at += len;
                    if version == wire::VERSION {
                        self.message(slot, kind, message, shared);
                    } else {
                        self.refuse(
                            slot,
                            &rejection(kind, codes::MALFORMED, "unsupported protocol version", &[0; 36], 0),
                            shared,
                        );
                    }
                }
            }
        }
        if bad {
            shared.metrics.error(i32::from(codes::BAD_FRAME));
            self.goodbye(slot, codes::BAD_FRAME);
        }
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        if session.closing.is_some() {
            return;
        }
        let mut input = input;
        input.drain(..at);
        // An incomplete message's clock runs from the read that began it (a message started after
        // whole ones in this read begins now).
        session.partial_since = (!input.is_empty()).then(|| {
            if at > 0 { Instant::now() } else { session.partial_since.unwrap_or_else(Instant::now) }
        });
        session.input = input;
    }

    fn message(&mut self, slot: usize, kind: u8, message: &[u8], shared: &mut Shared<'_>) {
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        let user = match &session.state {
            State::Challenged(nonce) => {
                let nonce = *nonce;
                if kind == Logon::KIND {
                    self.logon(slot, &nonce, message, shared);
                } else {
                    shared.metrics.error(i32::from(codes::NOT_LOGGED_ON));
                    self.goodbye(slot, codes::NOT_LOGGED_ON);
                }
                return;
            }
            State::Live { user } | State::Replaying { user, .. } => *user,
        };
        if let Err(wait) = session.bucket.take(shared.now_ns) {
            let wait_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX);
            let client = client_id_of(kind, message);
            self.refuse(
                slot,
                &rejection(kind, codes::TOO_MANY_MESSAGES, "too many messages", &client, wait_ms),
                shared,
            );
            return;
        }
        let empty_kind = kind == Heartbeat::KIND || kind == wire::Logout::KIND;
        if empty_kind && message.len() != wire::HEADER_LEN {
            self.refuse(
                slot,
                &rejection(kind, codes::MALFORMED, "wrong length for its kind", &[0; 36], 0),
                shared,
            );
            return;
        }
        match kind {
            Heartbeat::KIND => {}
            Logon::KIND => {
                self.refuse(
                    slot,
                    &rejection(kind, codes::ALREADY_LOGGED_ON, "already logged on", &[0; 36], 0),
                    shared,
                );
            }
            wire::Logout::KIND => self.goodbye(slot, codes::LOGGED_OUT),
            NewOrder::KIND
            | wire::Cancel::KIND
            | CancelReplace::KIND
            | wire::MassCancel::KIND
            | wire::ClosePosition::KIND => {
                self.order(slot, user, kind, message, shared);
            }
            Subscribe::KIND => self.subscribe(slot, message, shared),
            _ => self.refuse(
                slot,
                &rejection(kind, codes::UNKNOWN_KIND, "unknown message kind", &[0; 36], 0),
                shared,
            ),
        }
    }

    fn logon(&mut self, slot: usize, nonce: &[u8; 32], message: &[u8], shared: &mut Shared<'_>) {
        let Ok(logon) = Logon::decode(message) else {
            shared.metrics.error(i32::from(codes::MALFORMED));
            self.refuse_logon(slot, codes::MALFORMED);
            return;
        };
        let api_key = wire::untext(&logon.api_key).unwrap_or("");
        let mut signed = nonce.to_vec();
        signed.extend_from_slice(api_key.as_bytes());
        let Some(user) = shared.api.verify_bytes(api_key, &signed, &logon.signature) else {
            shared.metrics.error(i32::from(codes::BAD_CREDENTIALS));
            tracing::info!(code = codes::BAD_CREDENTIALS, "binary logon refused");
            self.refuse_logon(slot, codes::BAD_CREDENTIALS);
            return;
        };
        let replay = logon.flags & 1 != 0;
        let after = (logon.replay_from_sequence, logon.replay_from_index);
        let floor = self.window.floor();
        let rebuild = replay && after < floor;
        if rebuild && self.rebuilds_running >= REBUILDS_MAX {
            self.refuse_logon(slot, codes::REPLAY_BUSY);
            return;
        }
        let limits = &shared.api.market().limits;
        let per_second = limits.connection_messages_per_second;
        let accepted = LogonAccepted {
            user: user.0,
            heartbeat_interval_ms: millis(self.config.heartbeat_interval),
            idle_timeout_ms: millis(self.config.idle_timeout),
            live_after_sequence: self.last_done_sequence,
            instruments: u32::try_from(self.instruments.len()).expect("few"),
            reserved: 0,
        };
        let memory = if replay { self.window.collect(user, after) } else { Vec::new() };
        let write_max = self.config.write_buffer_bytes_max;
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        session.bucket = Bucket::new(per_second, Duration::from_secs(1), shared.now_ns);
        session.cancel_on_close = logon.flags & 2 != 0;
        session.queue(&accepted.to_bytes(), usize::MAX);
        for instrument in &self.instruments {
            session.queue(instrument, usize::MAX);
        }
        self.by_user.entry(user).or_default().insert(slot);
        tracing::debug!(user = user.0, replay, rebuild, "binary logon");
        if rebuild {
            session.state = State::Replaying { user, held: memory };
            self.rebuilds_running += 1;
            let (dir, sender, waker) =
                (self.config.dir.clone(), self.rebuilds.0.clone(), Arc::clone(&self.waker));
            let generation = self.generations[slot];
            std::thread::Builder::new()
                .name("ferrex-replay".into())
                .spawn(move || {
                    let outcome = replay::rebuild(&dir, user, after, floor.0)
                        .map(|mut r| {
                            r.reports.retain(|report| report.position() <= floor);
                            r
                        })
                        .map_err(|e| e.to_string());
                    let _ = sender.send((slot, generation, outcome));
                    let _ = waker.wake();
                })
                .expect("spawn a replay thread");
            return;
        }
        session.state = State::Live { user };
        if replay {
            let replayed = memory.len() as u64;
            for report in &memory {
                session.queue(report.message(), usize::MAX);
            }
            let done = ReplayComplete { replayed, status: 0, reserved: 0, from_sequence: after.0 };
            session.queue(&done.to_bytes(), write_max);
        }
        self.dirty.insert(slot);
    }

    /// Rebuilds that finished (called whenever the loop is woken): send each its reports, then what was held, then go live.
    pub fn rebuilt(&mut self, shared: &mut Shared<'_>) {
        if self.rebuilds_running == 0 {
            return;
        }
        while let Ok((slot, generation, result)) = self.rebuilds.1.try_recv() {
            self.rebuilds_running -= 1;
            if self.generations.get(slot) != Some(&generation) {
                continue;
            }
            let Some(Some(session)) = self.sessions.get_mut(slot) else { continue };
            let State::Replaying { user, held } =
                std::mem::replace(&mut session.state, State::Challenged([0; 32]))
            else {
                continue;
            };
            session.state = State::Live { user };
            match result {
                Ok(rebuilt) => {
                    for report in rebuilt.reports.iter().chain(&held) {
                        session.queue(report.message(), usize::MAX);
                    }
                    let done = ReplayComplete {
                        replayed: (rebuilt.reports.len() + held.len()) as u64,
                        status: u32::from(rebuilt.truncated),
                        reserved: 0,
                        from_sequence: rebuilt.from_sequence,
                    };
                    session.queue(&done.to_bytes(), usize::MAX);
                    self.dirty.insert(slot);
                }
                Err(error) => {
                    tracing::warn!(user = user.0, %error, "binary replay failed");
                    self.goodbye(slot, codes::REPLAY_FAILED);
                }
            }
        }
        self.flush(shared);
    }

    fn order(&mut self, slot: usize, user: UserId, kind: u8, message: &[u8], shared: &mut Shared<'_>) {
        let client = client_id_of(kind, message);
        let command = match parse_order(user, kind, message, shared.api.market()) {
            Ok(command) => command,
            Err((code, text)) => {
                self.refuse(slot, &rejection(kind, code, text, &client, 0), shared);
                return;
            }
        };
        if (kind == NewOrder::KIND || kind == wire::ClosePosition::KIND)
            && let Err((wait, _)) = shared.api.take_order(user, shared.now_ns)
        {
            let wait_ms = u32::try_from(wait.as_millis()).unwrap_or(u32::MAX);
            self.refuse(
                slot,
                &rejection(kind, codes::TOO_MANY_ORDERS, "too many orders", &client, wait_ms),
                shared,
            );
            return;
        }
        match shared.submit(Body::Command(command)) {
            Ok(tag) => {
                self.submitted.insert(tag, Instant::now());
            }
            Err(SubmitError::Busy | SubmitError::Stopped) => {
                self.refuse(
                    slot,
                    &rejection(kind, codes::SERVER_BUSY, "server busy, retry", &client, 0),
                    shared,
                );
            }
        }
    }

    fn subscribe(&mut self, slot: usize, message: &[u8], shared: &mut Shared<'_>) {
        let Ok(subscribe) = Subscribe::decode(message) else {
            self.refuse(
                slot,
                &rejection(Subscribe::KIND, codes::MALFORMED, "wrong length for its kind", &[0; 36], 0),
                shared,
            );
            return;
        };
        let market = shared.api.market();
        let Some(listed) = market.instruments.iter().find(|l| l.id.0 == subscribe.instrument) else {
            self.refuse(
                slot,
                &rejection(Subscribe::KIND, codes::BAD_FIELD, "unknown instrument", &[0; 36], 0),
                shared,
            );
            return;
        };
        if subscribe.flags > 3 || subscribe.depth_levels > SUBSCRIBE_LEVELS_MAX {
            self.refuse(
                slot,
                &rejection(
                    Subscribe::KIND,
                    codes::BAD_FIELD,
                    "flags or depth_levels out of range",
                    &[0; 36],
                    0,
                ),
                shared,
            );
            return;
        }
        let instrument = listed.id;
        for (bit, subscribers) in [(1, &mut self.depth_subscribers), (2, &mut self.trade_subscribers)] {
            let set = subscribers.entry(instrument.0).or_default();
            if subscribe.flags & bit == 0 {
                set.remove(&slot);
            }
        }
        if subscribe.flags & 2 != 0 {
            self.trade_subscribers.entry(instrument.0).or_default().insert(slot);
        }
        if subscribe.flags & 1 != 0 {
            let levels_max =
                u16::try_from(subscribe.depth_levels.clamp(1, SUBSCRIBE_LEVELS_MAX)).expect("small");
            debug_assert!(levels_max <= DEPTH_LEVELS_MAX);
            match shared.submit(Body::Query(Query::Depth { instrument, levels_max })) {
                Ok(tag) => {
                    let generation = self.generations[slot];
                    let query = DepthQuery { slot, generation, instrument: instrument.0, levels: Vec::new() };
                    self.queries.insert(tag, query);
                }
                Err(_) => self.refuse(
                    slot,
                    &rejection(Subscribe::KIND, codes::SERVER_BUSY, "server busy, retry", &[0; 36], 0),
                    shared,
                ),
            }
        }
    }

    /// The core's outputs: reports and market data, sent when each command's `Done` arrives.
    pub fn deliver(&mut self, outputs: &[Output], shared: &mut Shared<'_>) {
        for output in outputs {
            match output.item {
                Item::Event(event) => {
                    if !self.in_command {
                        let command = shared.commands.get(&output.origin.tag).copied();
                        self.reporter.start(output.sequence, 0, command);
                        self.in_command = true;
                    }
                    self.reporter.event(&event, &mut self.pending);
                    self.market_event(output.sequence, &event);
                }
                Item::Answer(Answer::Level { side, price, qty }) => {
                    if let Some(query) = self.queries.get_mut(&output.origin.tag) {
                        query.levels.push((side as u8, price.0, qty.0));
                    }
                }
                Item::Answer(_) => {}
                Item::Done { timestamp_ns, command, .. } => {
                    if command {
                        if let Some(submitted) = self.submitted.remove(&output.origin.tag) {
                            shared.metrics.latency(submitted.elapsed());
                        }
                        self.command_done(output.sequence, timestamp_ns);
                    } else if let Some(query) = self.queries.remove(&output.origin.tag) {
                        self.depth_snapshot(&query, output.sequence);
                    }
                }
            }
        }
        self.flush(shared);
    }

    fn command_done(&mut self, sequence: u64, timestamp_ns: u64) {
        self.in_command = false;
        self.last_done_sequence = sequence;
        let mut pending = std::mem::take(&mut self.pending);
        for mut report in pending.drain(..) {
            reports::patch_timestamp(&mut report, timestamp_ns);
            self.window.push(report);
            let Some(slots) = self.by_user.get(&report.user) else { continue };
            for &slot in slots {
                let Some(Some(session)) = self.sessions.get_mut(slot) else { continue };
                match &mut session.state {
                    State::Live { .. } => {
                        if !session.queue(report.message(), self.config.write_buffer_bytes_max) {
                            session.cut(codes::SLOW_CONSUMER, "slow");
                        }
                        self.dirty.insert(slot);
                    }
                    State::Replaying { held, .. } => {
                        if held.len() >= HELD_REPORTS_MAX {
                            session.cut(codes::REPLAY_OVERRUN, "replay overrun");
                            self.dirty.insert(slot);
                        } else {
                            held.push(report);
                        }
                    }
                    State::Challenged(_) => {}
                }
            }
        }
        self.pending = pending;
        let mut market = std::mem::take(&mut self.pending_market);
        let mut bytes = [0u8; Trade::LEN];
        for message in market.drain(..) {
            let (subscribers, len) = match message {
                MarketMessage::Depth(update) => {
                    (self.depth_subscribers.get(&update.instrument), update.encode(&mut bytes))
                }
                MarketMessage::Trade(trade) => {
                    let trade = Trade { timestamp_ns, ..trade };
                    (self.trade_subscribers.get(&trade.instrument), trade.encode(&mut bytes))
                }
            };
            let Some(subscribers) = subscribers else { continue };
            for &slot in subscribers {
                if let Some(Some(session)) = self.sessions.get_mut(slot) {
                    if !session.queue(&bytes[..len], self.config.write_buffer_bytes_max) {
                        session.cut(codes::SLOW_CONSUMER, "slow");
                    }
                    self.dirty.insert(slot);
                }
            }
        }
        self.pending_market = market;
    }

    fn market_event(&mut self, sequence: u64, event: &Event) {
        match *event {
            Event::Level { instrument, side, price, qty }
                if self.depth_subscribers.get(&instrument.0).is_some_and(|s| !s.is_empty()) =>
            {
                let update = DepthUpdate {
                    instrument: instrument.0,
                    side: side as u8,
                    reserved: [0; 3],
                    sequence,
                    price: price.0,
                    qty: qty.0,
                };
                self.pending_market.push(MarketMessage::Depth(update));
            }
            Event::Fill(fill)
                if self.trade_subscribers.get(&fill.instrument.0).is_some_and(|s| !s.is_empty()) =>
            {
                let trade = Trade {
                    instrument: fill.instrument.0,
                    aggressor: fill.aggressor as u8,
                    reserved: [0; 3],
                    sequence,
                    trade_id: fill.trade.0,
                    price: fill.price.0,
                    qty: fill.qty.0,
                    timestamp_ns: 0,
                };
                self.pending_market.push(MarketMessage::Trade(trade));
            }
            _ => {}
        }
    }

    fn depth_snapshot(&mut self, query: &DepthQuery, sequence: u64) {
        if self.generations.get(query.slot) != Some(&query.generation) {
            return;
        }
        let Some(Some(session)) = self.sessions.get_mut(query.slot) else { return };
        let bytes = wire::depth_snapshot(query.instrument, sequence, &query.levels);
        if !session.queue(&bytes, self.config.write_buffer_bytes_max) {
            session.cut(codes::SLOW_CONSUMER, "slow");
        }
        self.depth_subscribers.entry(query.instrument).or_default().insert(query.slot);
        self.dirty.insert(query.slot);
    }

    /// Heartbeats and timeouts (at most every 100 ms).
    pub fn tick(&mut self, shared: &mut Shared<'_>) {
        let now = Instant::now();
        if now.duration_since(self.last_tick) < TICK {
            return;
        }
        self.last_tick = now;
        let heartbeat = Heartbeat {}.to_bytes();
        let mut idle = Vec::new();
        let mut stuck = Vec::new();
        for (slot, session) in self.sessions.iter_mut().enumerate() {
            let Some(session) = session else { continue };
            if let Some(since) = session.closing {
                if now.duration_since(since) > ENDING_GRACE {
                    stuck.push(slot);
                }
                continue;
            }
            let stalled =
                session.partial_since.is_some_and(|t| now.duration_since(t) > self.config.idle_timeout);
            if now.duration_since(session.last_in) > self.config.idle_timeout || stalled {
                idle.push(slot);
            } else if now.duration_since(session.last_out) >= self.config.heartbeat_interval
                && matches!(session.state, State::Live { .. } | State::Replaying { .. })
            {
                session.queue(&heartbeat, usize::MAX);
                self.dirty.insert(slot);
            }
        }
        for slot in idle {
            shared.metrics.error(i32::from(codes::IDLE_TIMEOUT));
            self.goodbye(slot, codes::IDLE_TIMEOUT);
        }
        for slot in stuck {
            // It does not read even its last message: drop the connection.
            self.end(slot, "unread goodbye", shared);
        }
        self.flush(shared);
    }

    /// Writes what dirty sessions have queued; ends the ones that are done or broken.
    pub fn flush(&mut self, shared: &mut Shared<'_>) {
        let dirty = self.dirty.take();
        for &slot in &dirty {
            let Some(Some(session)) = self.sessions.get_mut(slot) else { continue };
            match session.write_out() {
                Ok(()) if session.closing.is_some() && session.output.is_empty() => {
                    let reason = session.cut.unwrap_or("goodbye");
                    self.end(slot, reason, shared);
                }
                Ok(()) => {}
                Err(_) => self.end(slot, "error", shared),
            }
        }
        self.dirty.recycle(dirty);
    }

    fn goodbye(&mut self, slot: usize, code: u16) {
        self.last_word(slot, &Goodbye { code, reserved: 0 }.to_bytes());
    }

    fn refuse_logon(&mut self, slot: usize, code: u16) {
        self.last_word(slot, &LogonRejected { code, reserved: 0 }.to_bytes());
    }

    /// Queues a session's last message; it is closed once that is written.
    fn last_word(&mut self, slot: usize, message: &[u8]) {
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        if session.closing.is_none() {
            session.queue(message, usize::MAX);
            session.closing = Some(Instant::now());
        }
        session.input.clear();
        self.dirty.insert(slot);
    }

    /// Sends a `BusinessReject` (the session goes on), counted in the metrics.
    fn refuse(&mut self, slot: usize, reject: &BusinessReject, shared: &Shared<'_>) {
        shared.metrics.error(i32::from(reject.code));
        let Some(Some(session)) = self.sessions.get_mut(slot) else { return };
        if !session.queue(&reject.to_bytes(), self.config.write_buffer_bytes_max) {
            session.cut(codes::SLOW_CONSUMER, "slow");
        }
        self.dirty.insert(slot);
    }

    /// Forgets a session: deregisters and closes it, cancels its user's orders if it asked.
    fn end(&mut self, slot: usize, reason: &str, shared: &mut Shared<'_>) {
        let Some(mut session) = self.sessions.get_mut(slot).and_then(Option::take) else { return };
        let _ = session.stream.flush();
        self.generations[slot] += 1;
        if let Some(count) = self.per_ip.get_mut(&session.ip) {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&session.ip);
            }
        }
        shared.metrics.connection(false, reason);
        tracing::debug!(session = slot, reason, ip = %session.ip, "binary session ended");
        for subscribers in self.depth_subscribers.values_mut().chain(self.trade_subscribers.values_mut()) {
            subscribers.remove(&slot);
        }
        if let State::Live { user } | State::Replaying { user, .. } = session.state {
            if let Some(slots) = self.by_user.get_mut(&user) {
                slots.remove(&slot);
                if slots.is_empty() {
                    self.by_user.remove(&user);
                }
            }
            if session.cancel_on_close {
                crate::server::defer_mass_cancel(
                    (shared.commands, shared.next_tag, shared.deferred),
                    ORIGIN_SESSION,
                    user,
                );
            }
        }
        drop(session);
    }

    /// Says goodbye to every session (the server is stopping).
    pub fn shutdown(&mut self, shared: &mut Shared<'_>) {
        for slot in 0..self.sessions.len() {
            self.goodbye(slot, codes::SHUTTING_DOWN);
        }
        self.flush(shared);
    }
}

impl Session {
    /// Queues bytes unless that would pass `max` unsent bytes (false: cut it off).
    fn queue(&mut self, bytes: &[u8], max: usize) -> bool {
        if self.output.len() - self.sent + bytes.len() > max {
            return false;
        }
        if self.sent > 0 && self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        }
        self.output.extend_from_slice(bytes);
        true
    }

    /// Cuts the session off: what it has not been sent is dropped, a `Goodbye` with `code` is
    /// its last message (if it still reads), then it closes.
    fn cut(&mut self, code: u16, reason: &'static str) {
        if self.closing.is_some() {
            return;
        }
        // The message being written is finished (a client must never see half of one before
        // the goodbye); the ones after it are dropped.
        let (_, end) = frames_around(&self.output, self.sent);
        self.output.truncate(end);
        self.output.extend_from_slice(&Goodbye { code, reserved: 0 }.to_bytes());
        self.closing = Some(Instant::now());
        self.cut = Some(reason);
        self.input.clear();
    }

    /// Writes as much as the socket takes.
    fn write_out(&mut self) -> std::io::Result<()> {
        while self.sent < self.output.len() {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(0) => return Err(ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.sent += n;
                    self.last_out = Instant::now();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        } else if self.sent > (1 << 16) {
            // Keep the output starting at a message (see `cut`).
            let (start, _) = frames_around(&self.output, self.sent);
            self.output.drain(..start);
            self.sent -= start;
        }
        Ok(())
    }
}

/// The boundaries of the message of `output` (whole messages from its start) that holds byte
/// `at`: its start and its end; `(at, at)` when a message starts at `at`. O(messages before `at`).
fn frames_around(output: &[u8], at: usize) -> (usize, usize) {
    let mut start = 0;
    while start < at {
        let len = wire::header(&output[start..]).map_or(output.len() - start, |(len, _, _)| len.max(1));
        if start + len > at {
            return (start, start + len);
        }
        start += len;
    }
    debug_assert_eq!(start, at, "messages are queued whole");
    (start, start)
}

/// What the start of a client's unread bytes holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Frame {
    /// A whole message of `len` bytes (between 4 and the client maximum).
    Whole {
        /// Its length.
        len: usize,
        /// Its kind.
        kind: u8,
        /// Its version.
        version: u8,
    },
    /// Not a whole message yet (maybe nothing).
    Partial,
    /// A header whose length is impossible: the framing is lost.
    Bad,
}

/// Frames the start of `unread`.
#[must_use]
pub fn frame(unread: &[u8]) -> Frame {
    match wire::header(unread) {
        Some((len, ..)) if !(wire::HEADER_LEN..=wire::CLIENT_MESSAGE_BYTES_MAX).contains(&len) => Frame::Bad,
        Some((len, kind, version)) if len <= unread.len() => Frame::Whole { len, kind, version },
        _ => Frame::Partial,
    }
}

fn millis(duration: Duration) -> u32 {
    u32::try_from(duration.as_millis()).unwrap_or(u32::MAX)
}

/// A gateway refusal of a message of `kind`.
fn rejection(kind: u8, code: u16, text: &str, client: &[u8; 36], retry_after_ms: u32) -> BusinessReject {
    BusinessReject {
        code,
        refused_kind: kind,
        reserved: 0,
        retry_after_ms,
        client_order_id: *client,
        text: wire::text(text),
    }
}

/// The client order id field of a message that has one.
fn client_id_of(kind: u8, message: &[u8]) -> [u8; 36] {
    let at = match kind {
        NewOrder::KIND if message.len() == NewOrder::LEN => 60,
        wire::Cancel::KIND if message.len() == wire::Cancel::LEN => 16,
        CancelReplace::KIND if message.len() == CancelReplace::LEN => 40,
        _ => return [0; 36],
    };
    message[at..at + 36].try_into().expect("36 bytes")
}

/// A refusal: a gateway code and a text.
pub type Refusal = (u16, &'static str);

fn malformed() -> Refusal {
    (codes::MALFORMED, "wrong length for its kind")
}

fn instrument_of(market: &Validated, id: u32) -> Result<InstrumentId, Refusal> {
    market
        .instruments
        .iter()
        .find(|l| l.id.0 == id)
        .map(|l| l.id)
        .ok_or((codes::BAD_FIELD, "unknown instrument"))
}

fn order_ref(order_id: u64, client: &[u8; 36]) -> Result<OrderRef, Refusal> {
    if order_id != 0 {
        return Ok(OrderRef::Id(OrderId(order_id)));
    }
    let text = wire::untext(client).ok_or((codes::BAD_FIELD, "client order id is not ASCII"))?;
    let client = ClientOrderId::new(text).map_err(|_| (codes::BAD_FIELD, "bad client order id"))?;
    if client == ClientOrderId::EMPTY {
        return Err((codes::BAD_FIELD, "neither an order id nor a client order id"));
    }
    Ok(OrderRef::Client(client))
}

/// An order message (new order, cancel, cancel-replace, mass cancel, close position) as the
/// engine's command for `user`, or why not.
pub fn parse_order(user: UserId, kind: u8, message: &[u8], market: &Validated) -> Result<Command, Refusal> {
    match kind {
        NewOrder::KIND => {
            let m = NewOrder::decode(message).map_err(|_| malformed())?;
            Ok(Command::Place(new_order(user, &m, market)?))
        }
        wire::Cancel::KIND => {
            let m = wire::Cancel::decode(message).map_err(|_| malformed())?;
            let instrument = instrument_of(market, m.instrument)?;
            Ok(Command::Cancel(CancelCommand {
                user,
                instrument,
                order: order_ref(m.order_id, &m.client_order_id)?,
            }))
        }
        CancelReplace::KIND => {
            let m = CancelReplace::decode(message).map_err(|_| malformed())?;
            let instrument = instrument_of(market, m.instrument)?;
            Ok(Command::Amend(Amend {
                user,
                instrument,
                order: order_ref(m.order_id, &m.client_order_id)?,
                price: Price(m.price),
                qty: Qty(m.qty),
                trigger_price: (m.trigger_price != 0).then_some(Price(m.trigger_price)),
            }))
        }
        wire::ClosePosition::KIND => {
            let m = wire::ClosePosition::decode(message).map_err(|_| malformed())?;
            if m.reserved != 0 {
                return Err((codes::BAD_FIELD, "reserved must be zero"));
            }
            let instrument = instrument_of(market, m.instrument)?;
            Ok(Command::ClosePosition {
                user,
                instrument,
                price: (m.price != wire::NO_PRICE).then_some(Price(m.price)),
            })
        }
        _ => {
            let m = wire::MassCancel::decode(message).map_err(|_| malformed())?;
            let instrument = if m.instrument == wire::ALL_INSTRUMENTS {
                None
            } else {
                Some(instrument_of(market, m.instrument)?)
            };
            Ok(Command::MassCancel(MassCancelCommand { user, instrument }))
        }
    }
}

/// The wire's numbering of each enum: a field's value is its position in the table.
const SIDES: [Side; 2] = [Side::Buy, Side::Sell];
const ORDER_TYPES: [OrderType; 2] = [OrderType::Limit, OrderType::Market];
const TIMES_IN_FORCE: [TimeInForce; 3] = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok];
const SELF_TRADE: [SelfTradePrevention; 4] = [
    SelfTradePrevention::None,
    SelfTradePrevention::CancelTaker,
    SelfTradePrevention::CancelMaker,
    SelfTradePrevention::CancelBoth,
];

/// The table's entry for a field's value, or a `BAD_FIELD` refusal naming it.
fn pick<T: Copy>(table: &[T], value: u8, refusal: &'static str) -> Result<T, Refusal> {
    table.get(usize::from(value)).copied().ok_or((codes::BAD_FIELD, refusal))
}

fn new_order(user: UserId, m: &NewOrder, market: &Validated) -> Result<Place, Refusal> {
    let bad = |what: &'static str| (codes::BAD_FIELD, what);
    let side = pick(&SIDES, m.side, "side must be 0 or 1")?;
    let order_type = pick(&ORDER_TYPES, m.order_type, "order_type must be 0 or 1")?;
    let time_in_force = pick(&TIMES_IN_FORCE, m.time_in_force, "time_in_force must be 0, 1 or 2")?;
    let self_trade = pick(&SELF_TRADE, m.self_trade, "self_trade must be 0 to 3")?;
    if m.flags > 3 || m.reserved != 0 {
        return Err(bad("unknown flags"));
    }
    let trigger = match (m.trigger_price, m.trigger_kind, m.trigger_source) {
        (0, 0, 0) => None,
        (price, kind @ 1..=2, source @ 1..=2) if price != 0 => Some(Trigger {
            price: Price(price),
            kind: if kind == 1 { TriggerKind::StopLoss } else { TriggerKind::TakeProfit },
            source: if source == 1 { TriggerSource::LastPrice } else { TriggerSource::MarkPrice },
        }),
        _ => return Err(bad("trigger price, kind and source go together")),
    };
    let text = wire::untext(&m.client_order_id).ok_or(bad("client order id is not ASCII"))?;
    Ok(Place {
        user,
        instrument: instrument_of(market, m.instrument)?,
        client_order_id: ClientOrderId::new(text).map_err(|_| bad("bad client order id"))?,
        side,
        order_type,
        price: (m.price != wire::NO_PRICE).then_some(Price(m.price)),
        qty: Qty(m.qty),
        time_in_force,
        post_only: m.flags & 1 != 0,
        self_trade,
        levels_max: m.levels_max,
        quote_budget: m.quote_budget,
        reduce_only: m.flags & 2 != 0,
        expire_ns: m.expire_ns,
        trigger,
    })
}

fn instrument_message(listed: &crate::config::Listed) -> Vec<u8> {
    let spec = &listed.spec;
    wire::Instrument {
        instrument: listed.id.0,
        kind: u8::from(matches!(spec.kind, ferrex_engine::InstrumentKind::Perpetual)),
        tick_scale: spec.tick.scale,
        lot_scale: spec.lot.scale,
        reserved: 0,
        symbol: wire::text(&listed.symbol),
        tick_units: spec.tick.units,
        lot_units: spec.lot.units,
        qty_min: spec.qty_min.0,
        qty_max: spec.qty_max.0,
    }
    .to_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_or_a_compaction_never_splits_a_message() {
        let mut output = Vec::new();
        let lengths: Vec<usize> = [Heartbeat {}.to_bytes(), Goodbye { code: 1, reserved: 0 }.to_bytes()]
            .iter()
            .cycle()
            .take(5)
            .map(|message| {
                output.extend_from_slice(message);
                message.len()
            })
            .collect();
        let mut starts = vec![0];
        for len in &lengths {
            starts.push(starts.last().unwrap() + len);
        }
        for at in 0..=output.len() {
            let (start, end) = frames_around(&output, at);
            assert!(starts.contains(&start) && starts.contains(&end), "byte {at}: ({start}, {end})");
            assert!(start <= at && at <= end && (start == end) == starts.contains(&at), "byte {at}");
        }
    }
}
