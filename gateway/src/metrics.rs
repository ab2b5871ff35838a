//! Metrics (Prometheus text format through `prometheus-client`) and the admin HTTP endpoint:
//! `/metrics`, `/health` (the process is alive) and `/ready` (recovered and accepting).
//!
//! What is counted: requests by method, errors by code (rate-limit refusals among them),
//! connections open and ended by reason, trades, engine rejects by code, request round trips
//! (an `HdrHistogram`, exposed as quantile gauges), and the core's own figures read at scrape
//! time (commands, queries, batches, ring batch sizes, syncs and their time, consumers cut off,
//! outbound queue occupancy, the durable journal sequence).
//!
//! Invariants: counting never blocks the event loop for long (atomics; one mutex for the
//! histogram, taken per answered request and per scrape); the admin endpoint runs on its own
//! thread, reads at most 8 KiB of a request and answers one request per connection.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferrex_engine::runtime::CoreStats;
use hdrhistogram::Histogram;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// One label.
pub type Label = [(&'static str, String); 1];

fn label(name: &'static str, value: &str) -> Label {
    [(name, value.to_string())]
}

/// Everything the gateway counts.
pub struct Metrics {
    registry: Registry,
    requests: Family<Label, Counter>,
    errors: Family<Label, Counter>,
    engine_rejects: Family<Label, Counter>,
    disconnects: Family<Label, Counter>,
    trades: Counter,
    read_turns_cut: Counter,
    connections: Gauge,
    latency: Mutex<Histogram<u64>>,
    latency_us: Family<Label, Gauge>,
    core: Family<Label, Gauge>,
    core_stats: Arc<CoreStats>,
    durable: Arc<AtomicU64>,
    ready: AtomicBool,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// Metrics reading the core's figures from `core_stats` and `durable`.
    pub fn new(core_stats: Arc<CoreStats>, durable: Arc<AtomicU64>) -> Metrics {
        let mut registry = Registry::with_prefix("ferrex");
        let metrics = Metrics {
            requests: Family::default(),
            errors: Family::default(),
            engine_rejects: Family::default(),
            disconnects: Family::default(),
            trades: Counter::default(),
            read_turns_cut: Counter::default(),
            connections: Gauge::default(),
            latency: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds")),
            latency_us: Family::default(),
            core: Family::default(),
            core_stats,
            durable,
            ready: AtomicBool::new(false),
            registry: Registry::default(),
        };
        registry.register("requests", "WebSocket requests by method", metrics.requests.clone());
        registry.register(
            "errors",
            "Error responses by code (rate-limit refusals included; binary protocol codes are the 3000s)",
            metrics.errors.clone(),
        );
        registry.register(
            "engine_rejects",
            "Commands the engine rejected, by reject code",
            metrics.engine_rejects.clone(),
        );
        registry.register("disconnects", "Connections ended, by reason", metrics.disconnects.clone());
        registry.register("trades", "Trades seen on the output stream", metrics.trades.clone());
        registry.register(
            "read_turns_cut",
            "Reads of a connection stopped at its turn's bound with more to read (it goes on next turn, after the others)",
            metrics.read_turns_cut.clone(),
        );
        registry.register(
            "connections",
            "Open connections (WebSocket and binary sessions)",
            metrics.connections.clone(),
        );
        registry.register(
            "request_latency_microseconds",
            "Request round trip inside the gateway (WebSocket: frame read to response written; binary: command submitted to its outputs), quantiles",
            metrics.latency_us.clone(),
        );
        registry.register(
            "core",
            "The core's figures (see docs/API-WEBSOCKET.md, Operations)",
            metrics.core.clone(),
        );
        Metrics { registry, ..metrics }
    }

    /// The request counter of `method`, to keep and increment without a lookup per request.
    pub fn request_counter(&self, method: &str) -> Counter {
        self.requests.get_or_create(&label("method", method)).clone()
    }

    /// An error response with `code` was sent.
    pub fn error(&self, code: i32) {
        self.errors.get_or_create(&label("code", &code.to_string())).inc();
    }

    /// The engine rejected a command with `code`.
    pub fn engine_reject(&self, code: u16) {
        self.engine_rejects.get_or_create(&label("code", &code.to_string())).inc();
    }

    /// A trade happened.
    pub fn trade(&self) {
        self.trades.inc();
    }

    /// A connection's read stopped at its turn's bound, with more to read.
    pub fn read_turn_cut(&self) {
        self.read_turns_cut.inc();
    }

    /// A connection opened (`+1`) or ended (`-1`, with its reason).
    pub fn connection(&self, opened: bool, reason: &str) {
        if opened {
            self.connections.inc();
        } else {
            self.connections.dec();
            self.disconnects.get_or_create(&label("reason", reason)).inc();
        }
    }

    /// A request's round trip inside the gateway.
    pub fn latency(&self, elapsed: Duration) {
        let us = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX).max(1);
        if let Ok(mut histogram) = self.latency.lock() {
            histogram.saturating_record(us);
        }
    }

    /// The server accepts requests (set once recovery and the market are done).
    pub fn set_ready(&self) {
        self.ready.store(true, Ordering::Release);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        if let Ok(histogram) = self.latency.lock() {
            for q in ["0.5", "0.9", "0.99", "0.999"] {
                let value = histogram.value_at_quantile(q.parse().expect("a quantile"));
                self.latency_us
                    .get_or_create(&label("quantile", q))
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        let stats = &self.core_stats;
        let figures = [
            ("commands", stats.commands.load(Ordering::Relaxed)),
            ("queries", stats.queries.load(Ordering::Relaxed)),
            ("batches", stats.batches.load(Ordering::Relaxed)),
            ("ring_batch_last", stats.batch_last.load(Ordering::Relaxed)),
            ("ring_batch_max", stats.batch_max.load(Ordering::Relaxed)),
            ("syncs", stats.syncs.load(Ordering::Relaxed)),
            ("sync_microseconds_total", stats.sync_ns_total.load(Ordering::Relaxed) / 1_000),
            ("sync_microseconds_max", stats.sync_ns_max.load(Ordering::Relaxed) / 1_000),
            ("consumers_cut_off", stats.consumers_cut_off.load(Ordering::Relaxed)),
            ("outbound_queue_occupancy", stats.outbound_occupancy.load(Ordering::Relaxed)),
            ("journal_durable_sequence", self.durable.load(Ordering::Acquire)),
            (
                "journal_lag",
                stats
                    .last_sequence
                    .load(Ordering::Relaxed)
                    .saturating_sub(self.durable.load(Ordering::Acquire)),
            ),
        ];
        for (name, value) in figures {
            self.core.get_or_create(&label("figure", name)).set(i64::try_from(value).unwrap_or(i64::MAX));
        }
        let mut text = String::new();
        encode(&mut text, &self.registry).expect("writing to a String");
        text
    }
}

/// Serves `/metrics`, `/health` and `/ready` on `listener` until the process ends.
pub fn serve_admin(listener: &TcpListener, metrics: &Metrics) {
    for stream in listener.incoming() {
        let Ok(mut stream) = stream else { continue };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        let mut buf = [0u8; 8192];
        let mut len = 0;
        let path = loop {
            match stream.read(&mut buf[len..]) {
                Ok(0) | Err(_) => break None,
                Ok(n) => len += n,
            }
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut headers);
            match request.parse(&buf[..len]) {
                Ok(httparse::Status::Complete(_)) => break request.path.map(str::to_string),
                Ok(httparse::Status::Partial) if len < buf.len() => {}
                _ => break None,
            }
        };
        let (status, body) = match path.as_deref() {
            Some("/metrics") => ("200 OK", metrics.render()),
            Some("/health") => ("200 OK", "alive\n".to_string()),
            Some("/ready") if metrics.ready.load(Ordering::Acquire) => ("200 OK", "ready\n".to_string()),
            Some("/ready") => ("503 Service Unavailable", "starting\n".to_string()),
            Some(_) => ("404 Not Found", "not found\n".to_string()),
            None => ("400 Bad Request", "bad request\n".to_string()),
        };
        let content_type = if path.as_deref() == Some("/metrics") {
            "application/openmetrics-text; version=1.0.0; charset=utf-8"
        } else {
            "text/plain; charset=utf-8"
        };
        let response = format!(
            "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        let _ = stream.write_all(response.as_bytes());
    }
}
