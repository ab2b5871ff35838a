//! The binary protocol's load: sessions logged on with the Rust client, then driven by a
//! non-blocking loop: a scenario (`client::scenario`) makes each message, the session's own
//! reports close it (the first report of a new order, the outcome of a cancel or replace), and
//! the round trip from the message's intended send time to that report goes into a histogram.

use std::collections::{HashMap, VecDeque};

use std::net::TcpStream;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use ferrex_bench::socket;
use ferrex_gateway::binary::wire::{self, BusinessReject, CancelReject, ExecutionReport, Heartbeat};
use ferrex_gateway::client::binary::{BinaryClient, LogonOptions, Secret};
use ferrex_gateway::client::scenario::{Key, Kind, Scenario};
use hdrhistogram::Histogram;

/// The mid price of the load instrument, ticks (60000.00 at a tick of 0.01).
const MID_TICKS: i64 = 6_000_000;

/// One session under load.
pub struct Conn {
    stream: TcpStream,
    input: Vec<u8>,
    /// Read buffer (allocated once).
    chunk: Vec<u8>,
    output: Vec<u8>,
    sent: usize,
    scenario: Scenario,
    message: Vec<u8>,
    outstanding: HashMap<Key, u64>,
    /// Cancels and replaces in the order sent (a gateway refusal names neither).
    others: VecDeque<Key>,
    /// Messages answered.
    pub done: u64,
    /// Messages refused by the gateway (rate limit, full ring, bad field).
    pub refused: u64,
    last_heartbeat: Instant,
}

impl Conn {
    /// Logs on as load user `user` and prepares a non-blocking session.
    pub fn connect(address: &str, user: u32, kind: Kind, seed: u64) -> Result<Conn> {
        let secret = Secret::Hmac(format!("secret-{user}"));
        let client =
            BinaryClient::connect(address, &format!("load-{user}"), &secret, LogonOptions::default())
                .with_context(|| format!("logon of load-{user}"))?;
        let instrument = client.instrument("BTC-USDT").context("BTC-USDT listed")?.instrument;
        let (stream, input) = client.into_stream();
        stream.set_nonblocking(true)?;
        Ok(Conn {
            stream,
            input,
            chunk: vec![0; 1 << 14],
            output: Vec::with_capacity(1 << 16),
            sent: 0,
            scenario: Scenario::new(kind, instrument, MID_TICKS, seed),
            message: Vec::with_capacity(128),
            outstanding: HashMap::new(),
            others: VecDeque::new(),
            done: 0,
            refused: 0,
            last_heartbeat: Instant::now(),
        })
    }

    /// Messages sent and not answered yet.
    pub fn in_flight(&self) -> usize {
        self.outstanding.len()
    }

    /// Queues the scenario's next message, intended at `intended_ns`.
    pub fn queue(&mut self, intended_ns: u64) {
        let key = self.scenario.next(&mut self.message);
        self.output.extend_from_slice(&self.message);
        if !matches!(key, Key::New(_)) {
            self.others.push_back(key);
        }
        self.outstanding.insert(key, intended_ns);
    }

    /// Writes what is queued and reads what came; answered messages go into `histogram`.
    pub fn pump(&mut self, epoch: Instant, histogram: &mut Histogram<u64>) -> Result<()> {
        if self.last_heartbeat.elapsed() > Duration::from_secs(1) {
            self.output.extend_from_slice(&Heartbeat {}.to_bytes());
            self.last_heartbeat = Instant::now();
        }
        self.sent += socket::write_available(&mut self.stream, &self.output[self.sent..])
            .context("writing to the server")?;
        if self.sent == self.output.len() {
            self.output.clear();
            self.sent = 0;
        }
        socket::read_available(&mut self.stream, &mut self.chunk, &mut self.input)
            .context("reading from the server")?;
        let mut at = 0;
        let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        while let Some((len, kind, _)) = wire::header(&self.input[at..]) {
            if self.input.len() - at < len {
                break;
            }
            let end = at + len;
            let answered = self.answer(kind, at, end)?;
            at = end;
            if let Some(intended) = answered.and_then(|key| self.outstanding.remove(&key)) {
                histogram.saturating_record(now.saturating_sub(intended).max(1));
                self.done += 1;
            }
        }
        self.input.drain(..at);
        Ok(())
    }

    /// The key a server message answers.
    fn answer(&mut self, kind: u8, at: usize, end: usize) -> Result<Option<Key>> {
        let bytes = &self.input[at..end];
        Ok(match kind {
            ExecutionReport::KIND => {
                let report = ExecutionReport::decode(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
                let key = self.scenario.observe(&report);
                if let Some(key @ (Key::Cancel(_) | Key::Replace(_))) = key {
                    self.others.retain(|k| *k != key);
                }
                key
            }
            CancelReject::KIND => {
                let reject = CancelReject::decode(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
                let key = self.scenario.observe_reject(&reject);
                if let Some(key) = key {
                    self.others.retain(|k| *k != key);
                }
                key
            }
            BusinessReject::KIND => {
                let reject = BusinessReject::decode(bytes).map_err(|e| anyhow::anyhow!("{e}"))?;
                self.refused += 1;
                match ferrex_gateway::client::scenario::client_number(&reject.client_order_id) {
                    Some(n) => Some(Key::New(n)),
                    None => self.others.pop_front().inspect(|key| self.scenario.refused(*key)),
                }
            }
            wire::Goodbye::KIND => bail!("the server said goodbye: {:?}", wire::Goodbye::decode(bytes)),
            _ => None,
        })
    }
}

/// A histogram of round trips, ns (1 ns to 60 s, 3 digits).
pub fn histogram() -> Result<Histogram<u64>> {
    Ok(Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?)
}

/// Open loop: `rate` messages per second for `seconds`, spread over `connections` sessions, each
/// message stamped with its intended send time (no coordinated omission).
pub fn latency(
    address: &str,
    kind: Kind,
    rate: u64,
    connections: usize,
    seconds: f64,
) -> Result<(Histogram<u64>, u64, u64)> {
    let mut conns: Vec<Conn> = (0..connections)
        .map(|c| Conn::connect(address, u32::try_from(c % 100).expect("small") + 1, kind, 7 + c as u64))
        .collect::<Result<_>>()?;
    let count = (rate as f64 * seconds) as u64;
    let gap_ns = 1_000_000_000 / rate;
    let mut histogram = histogram()?;
    let epoch = Instant::now();
    let mut sent = 0u64;
    let drain_until = Duration::from_secs_f64(seconds) + Duration::from_secs(10);
    loop {
        let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
        while sent < count && sent * gap_ns <= now {
            conns[(sent as usize) % connections].queue(sent * gap_ns);
            sent += 1;
        }
        for conn in &mut conns {
            conn.pump(epoch, &mut histogram)?;
        }
        let in_flight: usize = conns.iter().map(Conn::in_flight).sum();
        if sent == count && in_flight == 0 || epoch.elapsed() > drain_until {
            break;
        }
        // Two CPUs host this loop, the server's gateway thread and its core: give the CPU away
        // while nothing is due rather than spin against them.
        std::thread::yield_now();
    }
    let refused = conns.iter().map(|c| c.refused).sum();
    Ok((histogram, sent, refused))
}

/// Closed loop: `connections` sessions on two threads, each keeping `window` messages in flight,
/// for `seconds`; returns the messages answered per second and the round trips.
pub fn throughput(
    address: &str,
    kind: Kind,
    connections: usize,
    window: usize,
    seconds: f64,
) -> Result<(f64, Histogram<u64>, u64)> {
    let threads = connections.min(2);
    let per_thread = connections.div_ceil(threads);
    // Sessions are logged on first; the measured time starts when every thread has its own.
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let address = address.to_string();
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || -> Result<(u64, Histogram<u64>, u64)> {
                let set_up = (t * per_thread..((t + 1) * per_thread).min(connections))
                    .map(|n| {
                        Conn::connect(
                            &address,
                            u32::try_from(n % 100).expect("small") + 1,
                            kind,
                            11 + n as u64,
                        )
                    })
                    .collect::<Result<Vec<_>>>();
                start.wait();
                let mut conns = set_up?;
                let mut histogram = histogram()?;
                let epoch = Instant::now();
                let deadline = epoch + Duration::from_secs_f64(seconds);
                while Instant::now() < deadline {
                    let before: u64 = conns.iter().map(|c| c.done).sum();
                    let now = u64::try_from(epoch.elapsed().as_nanos()).unwrap_or(u64::MAX);
                    for conn in &mut conns {
                        while conn.in_flight() < window {
                            conn.queue(now);
                        }
                        conn.pump(epoch, &mut histogram)?;
                    }
                    if conns.iter().map(|c| c.done).sum::<u64>() == before {
                        // Nothing came back: leave the CPU to the server (two CPUs for all).
                        std::thread::yield_now();
                    }
                }
                Ok((conns.iter().map(|c| c.done).sum(), histogram, conns.iter().map(|c| c.refused).sum()))
            })
        })
        .collect();
    start.wait();
    let started = Instant::now();
    let mut total = 0;
    let mut refused = 0;
    let mut merged = histogram()?;
    for handle in handles {
        let (done, histogram, r) = handle.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        total += done;
        refused += r;
        merged.add(&histogram)?;
    }
    Ok((total as f64 / started.elapsed().as_secs_f64(), merged, refused))
}
