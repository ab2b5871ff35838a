//! The server's IO thread: one mio event loop for the WebSocket API (tungstenite over
//! non-blocking sockets) and, when it listens, the binary protocol's sessions ([`binary`]).
//!
//! Each turn of the loop: accept and hand-shake new connections; read whole frames from readable
//! ones and hand them to [`Api::request`] (a reply goes straight back; a command or query goes to
//! the core's ring, tagged); give connections left with unread input by their last turn another
//! turn; then drain the core's outputs, answer every request whose `Done` has arrived and publish
//! the market data streams. With requests in flight the loop polls the core's outputs for
//! [`AWAIT_OUTPUTS`] before it sleeps; asleep, it is woken by a socket or by the core (through
//! the subscriber's waker, only while the loop has announced its sleep).
//!
//! Invariants: a connection's requests are answered in the order the core processed them; a
//! connection that closes or breaks is forgotten and its answers dropped; a full ring answers
//! "server busy" at once; frames larger than `frame_bytes_max` close the connection (tungstenite's
//! limit); the server never blocks on a socket (a client that does not read has its answers
//! queued, bounded by `write_buffer_bytes_max`, then is cut off); no connection is read for more
//! than [`READ_TURN_MESSAGES`] messages (binary: [`binary::READ_TURN_BYTES`]) in one turn, so a
//! client that floods does not hold the others back.
//! Known limitations: one thread serves every connection of both protocols.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::io::ErrorKind;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ferrex_engine::runtime::message::{Body, Item, Origin, Output, Request};
use ferrex_engine::runtime::{SubmitError, Submitter, Subscriber};
use ferrex_engine::{Command, MassCancel, UserId};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};
use tungstenite::handshake::server::{NoCallback, ServerHandshake};
use tungstenite::handshake::{HandshakeError, MidHandshake};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

use crate::api::{self, Action, Api, MarketQuery, Pending, Reply, SessionOp, codes};
use crate::binary::{self, BinaryConfig, BinaryGateway, Shared};
use crate::limits::Bucket;
use crate::market::{MarketData, Topic};
use crate::marks::{Marks, Turns};
use crate::metrics::Metrics;
use crate::tags::TagMap;

const LISTENER: Token = Token(usize::MAX);
/// A connection's frames are gathered up to this many bytes and written by the flush that
/// ends each turn of the loop (one `send` per connection per batch, not one per frame).
const WRITE_BATCH_BYTES: usize = 64 << 10;
/// How long the loop polls the core's outputs before it sleeps while commands are in flight.
const AWAIT_OUTPUTS: Duration = Duration::from_micros(10);

/// WebSocket messages read from one connection in one turn of the loop; the rest waits for its
/// next turn, so a client that floods does not hold everyone else's requests back (the binary
/// protocol's bound is [`binary::READ_TURN_BYTES`]).
pub const READ_TURN_MESSAGES: usize = 256;
const CORE: Token = Token(usize::MAX - 1);

/// Whether a frame was taken by tungstenite: written, or buffered because the socket would block
/// (the flush at the end of the turn, or the next writable event, sends it).
fn queued(written: Result<(), tungstenite::Error>) -> bool {
    match written {
        Ok(()) => true,
        Err(tungstenite::Error::Io(e)) => e.kind() == ErrorKind::WouldBlock,
        Err(_) => false,
    }
}

/// Queues a mass cancel of `user`'s orders (cancel-on-disconnect, either protocol): answered to
/// nobody (the connection is gone), queued so that a full ring only delays it, and remembered by
/// tag like every command in flight.
pub(crate) fn defer_mass_cancel(
    (commands, next_tag, deferred): (&mut TagMap<Command>, &mut u64, &mut VecDeque<Request>),
    session: u32,
    user: UserId,
) {
    let command = Command::MassCancel(MassCancel { user, instrument: None });
    let tag = *next_tag;
    *next_tag += 1;
    commands.insert(tag, command);
    deferred.push_back(Request { origin: Origin { session, tag }, body: Body::Command(command) });
}

/// The next connection waiting on a non-blocking listener, or `None` when there is none.
pub(crate) fn next_connection(
    listener: &TcpListener,
) -> std::io::Result<Option<(TcpStream, std::net::SocketAddr)>> {
    loop {
        match listener.accept() {
            Ok(pair) => return Ok(Some(pair)),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(None),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Limits of the server.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Open connections at most (more are closed at once).
    pub connections_max: usize,
    /// The largest message accepted, bytes.
    pub frame_bytes_max: usize,
    /// Unsent bytes a connection may have queued before it is cut off.
    pub write_buffer_bytes_max: usize,
}

enum Conn {
    Handshaking(MidHandshake<ServerHandshake<TcpStream, NoCallback>>),
    Open(WebSocket<TcpStream>),
}

/// A logged-on session: the user, the key it logged on with, since when (ms).
type Session = (UserId, String, u64);

/// A request waiting for its outputs.
struct InFlight {
    started: Instant,
    connection: usize,
    generation: u64,
    pending: Pending,
    outputs: Vec<Output>,
}

/// The server's state.
pub struct Server {
    api: Api,
    limits: Limits,
    poll: Poll,
    listener: TcpListener,
    connections: Vec<Option<Conn>>,
    /// Per slot: bumped each time a connection there ends, so answers never reach its successor.
    generations: Vec<u64>,
    in_flight: TagMap<InFlight>,
    next_tag: u64,
    submitter: Submitter,
    subscriber: Subscriber,
    market: MarketData,
    /// Who listens to what: topic -> connection slots.
    topics: HashMap<Topic, BTreeSet<usize>>,
    messages: Vec<(Topic, String)>,
    /// Per slot: the connection's message bucket and its peer's address.
    peers: Vec<Option<(Bucket, IpAddr)>>,
    /// Open connections per IP address.
    per_ip: HashMap<IpAddr, u32>,
    /// Per slot: the user whose orders are cancelled when the connection closes.
    cancel_on_close: Vec<Option<UserId>>,
    /// Per slot: when the connection opened (ms) and its logged-on session (user, key, since ms).
    sessions: Vec<(u64, Option<Session>)>,
    /// Requests of the gateway's own (cancel-on-disconnect) waiting for room in the ring.
    deferred: VecDeque<Request>,
    /// WebSocket connections whose turn ended with messages left to read.
    turns: Turns,
    /// Connections with frames gathered for one write at the end of a delivery.
    to_flush: Marks,
    epoch: Instant,
    metrics: Arc<Metrics>,
    /// The binary protocol's sessions, when it listens.
    binary: Option<BinaryGateway>,
    /// Every command in flight by tag, whoever sent it: the binary reports need their content.
    commands: TagMap<Command>,
    /// Wakes the loop (mio allows one waker per poll: the core and the replay threads share it).
    waker: Arc<mio::Waker>,
}

impl Server {
    /// A server on a bound listener.
    pub fn new(
        api: Api,
        limits: Limits,
        listener: std::net::TcpListener,
        submitter: Submitter,
        subscriber: Subscriber,
        market: MarketData,
        metrics: Arc<Metrics>,
    ) -> std::io::Result<Server> {
        listener.set_nonblocking(true)?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry().register(&mut listener, LISTENER, Interest::READABLE)?;
        // The core wakes the loop when it publishes outputs while the loop sleeps in `poll`.
        let waker = Arc::new(mio::Waker::new(poll.registry(), CORE)?);
        let notify = Arc::clone(&waker);
        subscriber.set_notify(Box::new(move || {
            let _ = notify.wake();
        }));
        Ok(Server {
            api,
            limits,
            poll,
            listener,
            connections: Vec::new(),
            generations: Vec::new(),
            in_flight: TagMap::default(),
            next_tag: 1,
            submitter,
            subscriber,
            market,
            topics: HashMap::new(),
            messages: Vec::new(),
            peers: Vec::new(),
            per_ip: HashMap::new(),
            cancel_on_close: Vec::new(),
            sessions: Vec::new(),
            deferred: VecDeque::new(),
            turns: Turns::default(),
            to_flush: Marks::default(),
            epoch: Instant::now(),
            metrics,
            binary: None,
            commands: TagMap::default(),
            waker,
        })
    }

    /// Serves the binary protocol too, on `listener`; `recovered_sequence` is the last record the
    /// runtime recovered (reports start after it).
    pub fn enable_binary(
        &mut self,
        config: BinaryConfig,
        listener: std::net::TcpListener,
        recovered_sequence: u64,
    ) -> std::io::Result<()> {
        let registry = self.poll.registry();
        let waker = Arc::clone(&self.waker);
        self.binary = Some(BinaryGateway::new(
            config,
            listener,
            registry,
            waker,
            self.api.market(),
            recovered_sequence,
        )?);
        Ok(())
    }

    /// Runs `f` on the binary gateway with what it borrows from the server.
    fn with_binary(&mut self, f: impl FnOnce(&mut BinaryGateway, &mut Shared<'_>)) {
        let now_ns = self.now_ns();
        let Some(binary) = self.binary.as_mut() else { return };
        let mut shared = Shared {
            api: &mut self.api,
            submitter: &mut self.submitter,
            metrics: &self.metrics,
            commands: &mut self.commands,
            next_tag: &mut self.next_tag,
            deferred: &mut self.deferred,
            now_ns,
        };
        f(binary, &mut shared);
    }

    /// Serves until `stop` is set (or the core stops).
    pub fn run(&mut self, stop: &Arc<AtomicBool>) -> std::io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut outputs = Vec::with_capacity(1 << 14);
        while !stop.load(Ordering::Relaxed) {
            // The loop sleeps until a socket is ready or the core publishes (the core wakes it
            // through the subscriber's notify, only while the loop has announced its sleep).
            // Busy-polling while requests are in flight measured far worse on 2 CPUs (p50 2 ms
            // at 10K/s: docs/PERFORMANCE.md).
            if self.await_outputs(&mut outputs)? {
                continue;
            }
            let timeout =
                if self.turns.waiting() || self.binary.as_ref().is_some_and(BinaryGateway::has_unread) {
                    Duration::ZERO
                } else if self.deferred.is_empty() {
                    Duration::from_millis(50)
                } else {
                    Duration::from_millis(1)
                };
            let sleeping = self.subscriber.before_sleep();
            let timeout = if sleeping { timeout } else { Duration::ZERO };
            let polled = self.poll.poll(&mut events, Some(timeout));
            if sleeping {
                self.subscriber.after_sleep();
            }
            match polled {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            // Connections with input left from their last turn are read once this turn, after
            // those with news (and not again for an event of theirs).
            self.turns.begin();
            if let Some(binary) = self.binary.as_mut() {
                binary.begin_turn();
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept()?,
                    CORE => self.with_binary(BinaryGateway::rebuilt),
                    binary::LISTENER => {
                        if let Some(binary) = self.binary.as_mut() {
                            binary.accept(self.poll.registry(), &self.metrics)?;
                        }
                    }
                    token if token.0 >= binary::BINARY_BASE => {
                        self.with_binary(|b, shared| b.ready(token, shared));
                    }
                    token if self.turns.is_due(token.0) => {}
                    token => self.ready(token.0),
                }
            }
            self.read_more();
            self.with_binary(BinaryGateway::read_more);
            self.with_binary(BinaryGateway::tick);
            while let Some(request) = self.deferred.front() {
                match self.submitter.submit(*request) {
                    Ok(()) => {
                        self.deferred.pop_front();
                    }
                    Err(SubmitError::Busy) => break,
                    Err(SubmitError::Stopped) => return Ok(()),
                }
            }
            outputs.clear();
            match self.subscriber.poll(&mut outputs, 1 << 14) {
                Ok(_) => self.deliver(&outputs),
                Err(cut) => return Err(std::io::Error::other(cut.to_string())),
            }
        }
        self.with_binary(BinaryGateway::shutdown);
        Ok(())
    }

    /// With commands in flight, polls the core's outputs for up to [`AWAIT_OUTPUTS`] before the
    /// loop sleeps: an answer due within microseconds is then delivered without a wake-up of the
    /// loop (one less on every round trip). True when outputs came (they are delivered).
    fn await_outputs(&mut self, outputs: &mut Vec<Output>) -> std::io::Result<bool> {
        if self.commands.is_empty() && self.in_flight.is_empty() {
            return Ok(false);
        }
        let started = Instant::now();
        while started.elapsed() < AWAIT_OUTPUTS {
            outputs.clear();
            match self.subscriber.poll(outputs, 1 << 14) {
                Ok(0) => std::hint::spin_loop(),
                Ok(_) => {
                    self.deliver(outputs);
                    return Ok(true);
                }
                Err(cut) => return Err(std::io::Error::other(cut.to_string())),
            }
        }
        Ok(false)
    }

    fn accept(&mut self) -> std::io::Result<()> {
        while let Some((mut stream, peer)) = next_connection(&self.listener)? {
            let open = self.connections.iter().filter(|c| c.is_some()).count();
            let limits = &self.api.market().limits;
            let from_ip = self.per_ip.get(&peer.ip()).copied().unwrap_or(0);
            if open >= self.limits.connections_max || from_ip >= limits.ip_connections_max {
                drop(stream);
                continue;
            }
            // Responses are small and latency matters: no Nagle delay.
            let _ = stream.set_nodelay(true);
            let bucket =
                Bucket::new(limits.connection_messages_per_second, Duration::from_secs(1), self.now_ns());
            let slot = self.connections.iter().position(Option::is_none).unwrap_or(self.connections.len());
            if slot == self.connections.len() {
                self.connections.push(None);
                self.generations.push(0);
                self.peers.push(None);
                self.cancel_on_close.push(None);
                self.sessions.push((0, None));
            }
            self.sessions[slot] = (api::now_ms(), None);
            self.peers[slot] = Some((bucket, peer.ip()));
            self.metrics.connection(true, "");
            *self.per_ip.entry(peer.ip()).or_default() += 1;
            self.poll.registry().register(
                &mut stream,
                Token(slot),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            let config = WebSocketConfig::default()
                .read_buffer_size(4096)
                .write_buffer_size(WRITE_BATCH_BYTES)
                .max_write_buffer_size(self.limits.write_buffer_bytes_max)
                .max_message_size(Some(self.limits.frame_bytes_max))
                .max_frame_size(Some(self.limits.frame_bytes_max));
            self.connections[slot] = match tungstenite::accept_with_config(stream, Some(config)) {
                Ok(ws) => Some(Conn::Open(ws)),
                Err(HandshakeError::Interrupted(mid)) => Some(Conn::Handshaking(mid)),
                Err(HandshakeError::Failure(_)) => {
                    self.forget(slot, "handshake");
                    None
                }
            };
        }
        Ok(())
    }

    /// A connection's socket is ready: go on with its handshake, read its frames, flush.
    fn ready(&mut self, slot: usize) {
        let Some(conn) = self.connections.get_mut(slot).and_then(Option::take) else { return };
        let mut ws = match conn {
            Conn::Handshaking(mid) => match mid.handshake() {
                Ok(ws) => ws,
                Err(HandshakeError::Interrupted(mid)) => {
                    self.connections[slot] = Some(Conn::Handshaking(mid));
                    return;
                }
                Err(HandshakeError::Failure(_)) => {
                    self.forget(slot, "handshake");
                    return;
                }
            },
            Conn::Open(ws) => ws,
        };
        let mut turn_messages = 0;
        loop {
            if turn_messages == READ_TURN_MESSAGES {
                self.turns.defer(slot);
                self.metrics.read_turn_cut();
                break;
            }
            turn_messages += 1;
            match ws.read() {
                Ok(Message::Text(text)) => {
                    if let Some(reply) = self.handle(slot, text.as_str())
                        && !queued(ws.write(Message::text(reply)))
                    {
                        self.forget(slot, "error");
                        return;
                    }
                }
                Ok(Message::Binary(_)) => {
                    self.metrics.error(codes::MALFORMED);
                    let reply = api::error_response(
                        &serde_json::Value::Null,
                        codes::MALFORMED,
                        "Binary frames are not accepted here.",
                    );
                    if !queued(ws.write(Message::text(reply))) {
                        self.forget(slot, "error");
                        return;
                    }
                }
                Ok(_) => {}
                Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => break,
                Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                    self.forget(slot, "closed");
                    return;
                }
                Err(tungstenite::Error::Capacity(_)) => {
                    self.forget(slot, "oversize");
                    return;
                }
                Err(_) => {
                    self.forget(slot, "error");
                    return;
                }
            }
        }
        if !queued(ws.flush()) {
            self.forget(slot, "error");
            return;
        }
        self.connections[slot] = Some(Conn::Open(ws));
    }

    /// Connections left with messages to read at the end of their last turn: another turn each.
    fn read_more(&mut self) {
        let due = self.turns.take_due();
        for &slot in &due {
            self.ready(slot);
        }
        self.turns.done(due);
    }

    fn now_ns(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One request: an immediate reply, or `None` once it is on its way to the core.
    fn handle(&mut self, slot: usize, text: &str) -> Option<String> {
        let now_ns = self.now_ns();
        if let Some(Some((bucket, _))) = self.peers.get_mut(slot)
            && let Err(wait) = bucket.take(now_ns)
        {
            let msg = format!("Too many messages; current limit is {} per second.", bucket.capacity());
            self.metrics.error(codes::TOO_MANY_REQUESTS);
            return Some(api::too_many(&api::request_id(text), codes::TOO_MANY_REQUESTS, &msg, wait));
        }
        let session = self.sessions.get(slot).and_then(|s| s.1.as_ref().map(|(user, _, _)| *user));
        match self.api.request(text, now_ns, session) {
            Action::Reply(reply) => Some(reply),
            Action::Session { id, op } => {
                let (connected, session) = &mut self.sessions[slot];
                match op {
                    SessionOp::Logon { user, api_key } => *session = Some((user, api_key, api::now_ms())),
                    SessionOp::Logout => *session = None,
                    SessionOp::Status => {}
                }
                let (api_key, since) = session
                    .as_ref()
                    .map_or((serde_json::Value::Null, serde_json::Value::Null), |(_, key, since)| {
                        (serde_json::json!(key), serde_json::json!(since))
                    });
                let result = serde_json::json!({
                    "apiKey": api_key, "authorizedSince": since, "connectedSince": connected,
                    "returnRateLimits": true, "serverTime": api::now_ms(),
                });
                Some(api::ok_response(&id, &result))
            }
            Action::CancelOnDisconnect { user, reply } => {
                self.cancel_on_close[slot] = user;
                Some(reply)
            }
            Action::MarketData { id, query } => {
                let market = self.api.market();
                let result = match query {
                    MarketQuery::TickerBook(Some(i)) => self.market.ticker(market, i),
                    MarketQuery::TickerBook(None) => serde_json::Value::Array(
                        (0..market.instruments.len()).map(|i| self.market.ticker(market, i)).collect(),
                    ),
                    MarketQuery::RecentTrades(i, limit) => self.market.recent_trades(i, limit),
                };
                Some(api::ok_response(&id, &result))
            }
            Action::Subscribe { topics, subscribe, reply } => {
                for topic in topics {
                    let listeners = self.topics.entry(topic).or_default();
                    if subscribe {
                        listeners.insert(slot);
                    } else {
                        listeners.remove(&slot);
                    }
                }
                Some(reply)
            }
            Action::Submit(submission) => {
                let (body, pending) = *submission;
                let tag = self.next_tag;
                let origin = Origin { session: u32::try_from(slot).expect("connections fit u32"), tag };
                match self.submitter.submit(Request { origin, body }) {
                    Ok(()) => {
                        self.next_tag += 1;
                        if let Body::Command(command) = body {
                            self.commands.insert(tag, command);
                        }
                        let generation = self.generations[slot];
                        self.in_flight.insert(
                            tag,
                            InFlight {
                                started: Instant::now(),
                                connection: slot,
                                generation,
                                pending,
                                outputs: Vec::new(),
                            },
                        );
                        None
                    }
                    Err(SubmitError::Busy) => {
                        Some(self.refused(&pending.id, "Server is currently overloaded, please retry."))
                    }
                    Err(SubmitError::Stopped) => Some(self.refused(&pending.id, "Server is shutting down.")),
                }
            }
        }
    }

    /// A "server busy" answer (the ring is full or closed), counted and logged.
    fn refused(&self, id: &serde_json::Value, msg: &str) -> String {
        self.metrics.error(codes::SERVER_BUSY);
        tracing::warn!(code = codes::SERVER_BUSY, msg, "request refused");
        api::error_response(id, codes::SERVER_BUSY, msg)
    }

    /// Routes the core's outputs; answers each request whose `Done` arrived; publishes market
    /// and user data.
    fn deliver(&mut self, outputs: &[Output]) {
        if outputs.is_empty() {
            return;
        }
        let mut messages = std::mem::take(&mut self.messages);
        messages.clear();
        let time_ms = api::now_ms();
        for output in outputs {
            match output.item {
                Item::Event(ferrex_engine::Event::Fill(_)) => self.metrics.trade(),
                Item::Event(ferrex_engine::Event::Rejected { code, .. }) => {
                    self.metrics.engine_reject(code.code());
                }
                _ => {}
            }
            let topics = &self.topics;
            let wants = |topic: Topic| topics.get(&topic).is_some_and(|listeners| !listeners.is_empty());
            self.market.observe(self.api.market(), output, (time_ms, &wants), &mut messages);
        }
        let topics = &self.topics;
        let wants = |topic: Topic| topics.get(&topic).is_some_and(|listeners| !listeners.is_empty());
        self.market.flush(self.api.market(), (time_ms, &wants), &mut messages);
        self.answer(outputs);
        self.publish(&messages);
        self.messages = messages;
        self.with_binary(|b, shared| b.deliver(outputs, shared));
        for output in outputs {
            if let Item::Done { command: true, .. } = output.item {
                self.commands.remove(&output.origin.tag);
            }
        }
    }

    /// Sends each message to its topic's listeners; a listener whose send buffer is full is cut
    /// off (it cannot keep up), nobody else waits for it.
    fn publish(&mut self, messages: &[(Topic, String)]) {
        let mut slow = Vec::new();
        for (topic, text) in messages {
            let Some(listeners) = self.topics.get(topic) else { continue };
            let text = tungstenite::Utf8Bytes::from(text.clone());
            for &slot in listeners {
                let Some(Some(Conn::Open(ws))) = self.connections.get_mut(slot) else { continue };
                if queued(ws.write(Message::Text(text.clone()))) {
                    self.to_flush.insert(slot);
                } else {
                    slow.push(slot);
                }
            }
        }
        slow.extend(self.flush_marked());
        for slot in slow {
            tracing::warn!(connection = slot, "disconnected: cannot keep up with its streams (1 MiB unsent)");
            self.forget(slot, "slow");
        }
    }

    /// Answers each request whose `Done` arrived.
    fn answer(&mut self, outputs: &[Output]) {
        for output in outputs {
            let tag = output.origin.tag;
            let Some(flight) = self.in_flight.get_mut(&tag) else { continue };
            flight.outputs.push(*output);
            if !matches!(output.item, Item::Done { .. }) {
                continue;
            }
            let flight = self.in_flight.remove(&tag).expect("present");
            if self.generations[flight.connection] != flight.generation {
                continue;
            }
            let response = match self.api.respond(&flight.pending, &flight.outputs) {
                Reply::Final(response) => response,
                Reply::Then(next) => {
                    // The second step of a cancel-replace: the same connection, a new tag.
                    let (body, pending) = *next;
                    let tag = self.next_tag;
                    let origin = Origin { session: u32::try_from(flight.connection).expect("fits"), tag };
                    match self.submitter.submit(Request { origin, body }) {
                        Ok(()) => {
                            self.next_tag += 1;
                            if let Body::Command(command) = body {
                                self.commands.insert(tag, command);
                            }
                            let next = InFlight { pending, outputs: Vec::new(), ..flight };
                            self.in_flight.insert(tag, next);
                            continue;
                        }
                        Err(_) => self.refused(&pending.id, "Server is currently overloaded, please retry."),
                    }
                }
            };
            self.metrics.latency(flight.started.elapsed());
            let Some(Some(Conn::Open(ws))) = self.connections.get_mut(flight.connection) else { continue };
            if queued(ws.write(Message::text(response))) {
                self.to_flush.insert(flight.connection);
            } else {
                self.forget(flight.connection, "error");
            }
        }
        // One write to each socket for all of its answers in this batch.
        for slot in self.flush_marked() {
            self.forget(slot, "error");
        }
    }

    /// Writes the frames gathered for the marked connections, one write each; returns those
    /// whose socket failed (no allocation unless one did).
    fn flush_marked(&mut self) -> Vec<usize> {
        let marked = self.to_flush.take();
        let mut failed = Vec::new();
        for &slot in &marked {
            if let Some(Some(Conn::Open(ws))) = self.connections.get_mut(slot)
                && !queued(ws.flush())
            {
                failed.push(slot);
            }
        }
        self.to_flush.recycle(marked);
        failed
    }

    /// Ends the connection in `slot` (closing its socket if it is still held there).
    fn forget(&mut self, slot: usize, reason: &str) {
        if self.peers.get(slot).is_some_and(Option::is_some) {
            self.metrics.connection(false, reason);
            tracing::debug!(connection = slot, reason, "connection ended");
        }
        if let Some(Some(Conn::Open(mut ws))) = self.connections.get_mut(slot).map(Option::take) {
            let _ = self.poll.registry().deregister(ws.get_mut());
        }
        self.generations[slot] += 1;
        if let Some(session) = self.sessions.get_mut(slot) {
            *session = (0, None);
        }
        if let Some(user) = self.cancel_on_close.get_mut(slot).and_then(Option::take) {
            defer_mass_cancel((&mut self.commands, &mut self.next_tag, &mut self.deferred), u32::MAX, user);
        }
        if let Some((_, ip)) = self.peers.get_mut(slot).and_then(Option::take)
            && let Some(count) = self.per_ip.get_mut(&ip)
        {
            *count -= 1;
            if *count == 0 {
                self.per_ip.remove(&ip);
            }
        }
        self.in_flight.retain(|_, f| f.connection != slot);
        for listeners in self.topics.values_mut() {
            listeners.remove(&slot);
        }
    }
}
