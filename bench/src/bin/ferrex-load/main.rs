//! `ferrex-load`: drives a real `ferrex serve` over its WebSocket API or its binary protocol.
//!
//! It starts the server itself (the release `ferrex` binary next to this one: build it first with
//! `cargo build --release -p ferrex-gateway --bin ferrex`) on a fresh directory with a load
//! configuration (one spot instrument, 100 funded users on an unlimited rate tier), then:
//! - `latency --rate R`: one connection, orders sent open-loop at R per second, each stamped with
//!   its intended send time; the round trip (intended send to response read) goes into an
//!   `HdrHistogram`;
//! - `throughput --connections N`: N connections, each keeping `window` requests in flight, as
//!   fast as the server answers; orders per second;
//! - `idle --connections N`: N open, idle connections; the server's resident memory before and
//!   after (`VmRSS` of /proc/PID/status), per connection, and a check that it still answers.
//!
//! Over the WebSocket API, orders are signed like any client's (HMAC-SHA256) and come in pairs
//! that keep the book small: a GTC buy far below the market, then its cancel by client order id;
//! both count as orders. Over the binary protocol (`--protocol binary`), sessions log on with
//! HMAC keys and follow a scenario (`--scenario`): `pairs`, `exchange-core` (its benchmark mix)
//! or `market` (market makers and takers around a random-walk mid price, a live book); every
//! message counts, and its round trip ends at the report that answers it.
//!
//! Latency runs also write the percentile distribution (`.hgrm`, `HdrHistogram`'s format) and a
//! plot (`.svg`) into `--out` (default `target/ferrex-load`).

#![allow(clippy::cast_precision_loss, clippy::cast_possible_truncation, clippy::cast_sign_loss)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use ferrex_gateway::client::scenario::Kind;
use ferrex_gateway::client::ws::{WsClient, signed_request};

mod binary;
mod report;
use hdrhistogram::Histogram;
use serde_json::{Value, json};

#[derive(Parser)]
#[command(name = "ferrex-load", about = "Load generator for the ferrex WebSocket API")]
struct Cli {
    /// `sync` or `async` durability for the server.
    #[arg(long, default_value = "sync")]
    durability: String,
    /// The server core's wait strategy: busy-spin, spin-yield or spin-park.
    #[arg(long, default_value = "spin-park")]
    core_wait: String,
    /// Pin the server's core thread to this CPU (`[core] cpu`); with `taskset -c` on the load
    /// generator (which the server inherits), the core can have a CPU of its own.
    #[arg(long)]
    core_cpu: Option<usize>,
    /// `async` durability: the server's background sync interval, ms (`[journal]
    /// async_sync_every_ms`).
    #[arg(long, default_value_t = 10)]
    async_sync_ms: u64,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
    /// The protocol.
    #[arg(long, value_enum, default_value_t = Protocol::Ws)]
    protocol: Protocol,
    /// The order flow of binary sessions.
    #[arg(long, value_enum, default_value_t = ScenarioArg::Pairs)]
    scenario: ScenarioArg,
    /// WebSocket requests: on a `session.logon` session (no per-request signature, as a
    /// Binance client after logon) or each signed with HMAC-SHA256.
    #[arg(long, value_enum, default_value_t = Auth::Session)]
    auth: Auth,
    /// Where latency runs write their `.hgrm` and `.svg`.
    #[arg(long, default_value = "target/ferrex-load")]
    out: PathBuf,
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Auth {
    /// `session.logon` once, then unsigned requests.
    Session,
    /// Every request signed.
    Signed,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Protocol {
    /// The WebSocket JSON API.
    Ws,
    /// The binary protocol.
    Binary,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ScenarioArg {
    /// A far buy, then its cancel.
    Pairs,
    /// exchange-core's benchmark mix.
    ExchangeCore,
    /// Market makers and takers around a random walk.
    Market,
}

impl ScenarioArg {
    fn kind(self) -> Kind {
        match self {
            ScenarioArg::Pairs => Kind::Pairs,
            ScenarioArg::ExchangeCore => Kind::ExchangeCore,
            ScenarioArg::Market => Kind::Market,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ScenarioArg::Pairs => "pairs",
            ScenarioArg::ExchangeCore => "exchange-core",
            ScenarioArg::Market => "market",
        }
    }
}

#[derive(Subcommand)]
enum Mode {
    /// Round-trip latency at a fixed rate on one connection.
    Latency {
        /// Orders per second.
        #[arg(long, default_value_t = 10_000)]
        rate: u64,
        /// Sessions the messages are spread over (binary only).
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Skip the machine's floor: the same open loop through a loopback echo thread, run
        /// just after the server's row (before it, the server's idle seconds changed its row).
        #[arg(long)]
        no_floor: bool,
    },
    /// Orders per second with N connections, each keeping `window` requests in flight.
    Throughput {
        /// Connections.
        #[arg(long, default_value_t = 1)]
        connections: usize,
        /// Requests in flight per connection.
        #[arg(long, default_value_t = 64)]
        window: usize,
    },
    /// Memory per idle connection.
    Idle {
        /// Connections.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
    },
}

const USERS: u32 = 100;

/// The server under load, on a temporary directory.
struct Server {
    child: Child,
    address: String,
    binary: String,
    admin: String,
    dir: PathBuf,
}

impl Server {
    /// The server's own view: `ferrex_request_latency_microseconds` and the core's figures.
    fn metrics(&self) -> Result<String> {
        use std::io::{Read, Write};
        let mut stream = TcpStream::connect(&self.admin)?;
        write!(stream, "GET /metrics HTTP/1.1\r\nHost: ferrex\r\n\r\n")?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        Ok(response
            .lines()
            .filter(|l| {
                l.starts_with("ferrex_request_latency")
                    || l.starts_with("ferrex_core{figure=\"ring")
                    || l.contains("\"batches\"")
                    || l.contains("\"commands\"")
            })
            .collect::<Vec<_>>()
            .join("\n"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn load_config(dir: &std::path::Path, cli: &Cli) -> Result<PathBuf> {
    let (durability, core_wait, sync_ms) = (&cli.durability, &cli.core_wait, cli.async_sync_ms);
    let mut config = format!(
        "keystore = \"{}\"\n[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"127.0.0.1:0\"\nbinary_listen = \"127.0.0.1:0\"\nconnections_max = 60000\n[core]\nwait = \"{core_wait}\"\n{}\
         [journal]\ndir = \"{}\"\ndurability = \"{durability}\"\nasync_sync_every_ms = {sync_ms}\n\
         [limits]\ntenant_orders_per_second = 100000000\nconnection_messages_per_second = 100000000\nip_connections_max = 60000\n\
         [limits.tiers.default]\norders_per_second = 100000000\norders_per_minute = 1000000000\n\
         [[assets]]\nsymbol = \"USDT\"\nscale = 6\n[[assets]]\nsymbol = \"BTC\"\nscale = 8\n\
         [[instruments]]\nsymbol = \"BTC-USDT\"\nkind = \"spot\"\nbase = \"BTC\"\nquote = \"USDT\"\ntick = \"0.01\"\nlot = \"0.0001\"\n\
         min_qty = \"0.0001\"\nmax_qty = \"100\"\nmin_price = \"0.01\"\nmax_price = \"1000000\"\n",
        dir.join("keys.toml").display(),
        cli.core_cpu.map_or_else(String::new, |cpu| format!("cpu = {cpu}\n")),
        dir.join("journal").display()
    );
    let mut keys = String::new();
    for user in 1..=USERS {
        writeln!(
            config,
            "[[users]]
id = {user}
name = \"load{user}\"
deposits = {{ USDT = \"100000000\", BTC = \"1000\" }}"
        )?;
        writeln!(keys, "[[keys]]\napi_key = \"load-{user}\"\nsecret = \"secret-{user}\"\nuser = {user}")?;
    }
    std::fs::write(dir.join("keys.toml"), keys)?;
    let path = dir.join("load.toml");
    std::fs::write(&path, config)?;
    Ok(path)
}

fn start_server(cli: &Cli) -> Result<Server> {
    let ferrex = std::env::current_exe()?.with_file_name("ferrex");
    if !ferrex.exists() {
        bail!("{} not found: cargo build --release -p ferrex-gateway --bin ferrex", ferrex.display());
    }
    let dir = std::env::temp_dir().join(format!("ferrex-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let config = load_config(&dir, cli)?;
    let mut child = Command::new(&ferrex)
        .args(["serve", "--log-level", "warn", "--config"])
        .arg(&config)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting ferrex serve")?;
    let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ferrex: listening on ws://").map(str::to_string))
        .context("the server did not say where it listens")?;
    let binary = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ferrex: binary protocol on tcp://").map(str::to_string))
        .context("the server did not say where the binary protocol listens")?;
    let admin = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("ferrex: admin on http://")?.split('/').next().map(str::to_string))
        .context("the server did not say where its admin endpoint is")?;
    std::thread::spawn(move || lines.for_each(drop));
    Ok(Server { child, address, binary, admin, dir })
}

/// A connection for load user `user`, logged on with `session.logon` when `session` (requests
/// then carry no signature, as a Binance client's after logon) and non-blocking.
fn connect(address: &str, user: u32, session: bool) -> Result<WsClient> {
    let mut client = WsClient::connect(address)?;
    if session {
        let logon = client.signed(
            "session.logon",
            serde_json::Map::new(),
            &format!("load-{user}"),
            &format!("secret-{user}"),
        );
        let answer = client.call(logon, Duration::from_secs(10))?;
        if answer["status"] != 200 {
            bail!("session.logon refused: {answer}");
        }
    }
    client.socket().get_mut().set_nonblocking(true)?;
    Ok(client)
}

/// The n-th order of `user`: even n places a resting buy, odd n cancels it; signed with the
/// user's HMAC secret, or plain text on a logged-on session.
fn order(user: u32, n: u64, session: bool) -> String {
    let pair = n / 2;
    let client_id = format!("o{user}x{pair}");
    let price = 1_000 + pair % 1_000;
    if session {
        return if n.is_multiple_of(2) {
            format!(
                r#"{{"id":{n},"method":"order.place","params":{{"symbol":"BTC-USDT","side":"BUY","type":"LIMIT","timeInForce":"GTC","price":"{price}.00","quantity":"0.0010","newClientOrderId":"{client_id}"}}}}"#
            )
        } else {
            format!(
                r#"{{"id":{n},"method":"order.cancel","params":{{"symbol":"BTC-USDT","origClientOrderId":"{client_id}"}}}}"#
            )
        };
    }
    let (method, params) = if n.is_multiple_of(2) {
        (
            "order.place",
            json!({"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
               "price": format!("{price}.00"), "quantity": "0.0010", "newClientOrderId": client_id}),
        )
    } else {
        ("order.cancel", json!({"symbol": "BTC-USDT", "origClientOrderId": client_id}))
    };
    let Value::Object(params) = params else { unreachable!("an object literal") };
    signed_request(n, method, params, (&format!("load-{user}"), &format!("secret-{user}")))
}

/// Reads every response available without blocking; calls `f` with each request id. A response
/// is read for its `id` and `status` only (no JSON tree per message).
fn drain(client: &mut WsClient, f: &mut dyn FnMut(u64)) -> Result<()> {
    let mut refused = None;
    client.drain_text(&mut |text| {
        if !text.contains("\"status\":200") {
            refused.get_or_insert(text.to_string());
        }
        let id = text.split_once("\"id\":").map_or(0, |(_, rest)| {
            rest.bytes().take_while(u8::is_ascii_digit).fold(0u64, |n, d| n * 10 + u64::from(d - b'0'))
        });
        f(id);
    })?;
    match refused {
        Some(response) => bail!("refused: {response}"),
        None => Ok(()),
    }
}

fn latency(server: &Server, rate: u64, seconds: f64, session: bool) -> Result<Histogram<u64>> {
    let mut ws = connect(&server.address, 1, session)?;
    let count = (rate as f64 * seconds) as u64;
    let gap_ns = 1_000_000_000 / rate;
    let mut histogram = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3)?;
    let epoch = Instant::now();
    let (mut sent, mut done) = (0u64, 0u64);
    let mut intended = vec![0u64; count as usize];
    while done < count {
        let now = epoch.elapsed().as_nanos() as u64;
        while sent < count && sent * gap_ns <= now {
            intended[sent as usize] = sent * gap_ns;
            ws.send(order(1, sent, session))?;
            sent += 1;
        }
        drain(&mut ws, &mut |id| {
            let now = epoch.elapsed().as_nanos() as u64;
            histogram.saturating_record(now.saturating_sub(intended[id as usize]).max(1));
            done += 1;
        })?;
        // Leave the CPU to the server while nothing is due (two CPUs for all).
        std::thread::yield_now();
    }
    print_row(&format!("{rate} orders/s, 1 connection"), count, &histogram);
    Ok(histogram)
}

/// A latency table row: load, messages, p50, p90, p99, p99.9, worst (µs).
fn print_row(load: &str, count: u64, histogram: &Histogram<u64>) {
    let us = |q: f64| histogram.value_at_quantile(q) as f64 / 1e3;
    println!(
        "| {load} | {count} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} |",
        us(0.5),
        us(0.9),
        us(0.99),
        us(0.999),
        histogram.max() as f64 / 1e3
    );
}

fn throughput(server: &Server, connections: usize, window: usize, seconds: f64, session: bool) -> Result<()> {
    let threads = connections.min(2);
    let per_thread = connections.div_ceil(threads);
    // Connections are set up first; the measured time starts when every thread has its own.
    let start = std::sync::Arc::new(std::sync::Barrier::new(threads + 1));
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let address = server.address.clone();
            let start = std::sync::Arc::clone(&start);
            std::thread::spawn(move || -> Result<u64> {
                let set_up = (0..per_thread)
                    .map(|c| {
                        let user = ((t * per_thread + c) as u32 % USERS) + 1;
                        Ok((connect(&address, user, session)?, user, 0u64, 0u64))
                    })
                    .collect::<Result<Vec<_>>>();
                start.wait();
                let mut sockets = set_up?;
                let deadline = Instant::now() + Duration::from_secs_f64(seconds);
                // Sleep in `poll` until a connection has answers: polling a hundred sockets in
                // a loop would take a CPU from the server.
                let mut poll = mio::Poll::new()?;
                for (i, (ws, ..)) in sockets.iter_mut().enumerate() {
                    let fd = std::os::fd::AsRawFd::as_raw_fd(ws.socket().get_ref());
                    poll.registry().register(
                        &mut mio::unix::SourceFd(&fd),
                        mio::Token(i),
                        mio::Interest::READABLE,
                    )?;
                }
                let mut events = mio::Events::with_capacity(1024);
                let mut completed = 0u64;
                let mut ready: Vec<usize> = (0..sockets.len()).collect();
                while Instant::now() < deadline {
                    for &i in &ready {
                        let (ws, user, sent, done) = &mut sockets[i];
                        drain(ws, &mut |_| *done += 1)?;
                        while *sent - *done < window as u64 {
                            ws.write(order(*user, *sent, session))?;
                            *sent += 1;
                        }
                        ws.flush()?;
                    }
                    poll.poll(&mut events, Some(Duration::from_millis(5)))?;
                    ready.clear();
                    ready.extend(events.iter().map(|e| e.token().0));
                }
                for (_, _, _, done) in &sockets {
                    completed += done;
                }
                Ok(completed)
            })
        })
        .collect();
    start.wait();
    let started = Instant::now();
    let mut total = 0;
    for handle in handles {
        total += handle.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
    }
    let rate = total as f64 / started.elapsed().as_secs_f64();
    println!("| {connections} connections, window {window} | {total} | {rate:.0} orders/s |");
    Ok(())
}

fn rss_kib(pid: u32) -> Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("VmRSS")
}

fn idle(server: &Server, connections: usize) -> Result<()> {
    let pid = server.child.id();
    let before = rss_kib(pid)?;
    let mut sockets = Vec::with_capacity(connections);
    for _ in 0..connections {
        sockets.push(connect(&server.address, 1, false)?);
    }
    let mut probe = connect(&server.address, 1, false)?;
    probe.socket().get_mut().set_nonblocking(false)?;
    probe.send(json!({"id": 1, "method": "ping"}).to_string())?;
    let answered = probe.recv(Duration::from_secs(10))?.is_some_and(|r| r["status"] == 200);
    let after = rss_kib(pid)?;
    println!(
        "| {connections} idle connections | server RSS {before} KiB -> {after} KiB | {:.1} KiB per connection | still answers: {answered} |",
        (after.saturating_sub(before)) as f64 / connections as f64
    );
    Ok(())
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    let server = start_server(&cli)?;
    let (protocol, at) = match cli.protocol {
        Protocol::Ws => ("WebSocket", format!("ws://{}", server.address)),
        Protocol::Binary => ("binary", format!("tcp://{}", server.binary)),
    };
    let scenario = if cli.protocol == Protocol::Binary { cli.scenario.name() } else { "pairs" };
    println!(
        "# ferrex-load ({protocol} protocol, {scenario} scenario, {} durability, core wait {}, server at {at})\n",
        cli.durability, cli.core_wait
    );
    match cli.mode {
        Mode::Latency { rate, connections, no_floor } => {
            println!(
                "| load | messages | p50 µs | p90 µs | p99 µs | p99.9 µs | worst µs |\n|---|---:|---:|---:|---:|---:|---:|"
            );
            let histogram = if cli.protocol == Protocol::Binary {
                let (histogram, sent, refused) = binary::latency(
                    &server.binary,
                    cli.scenario.kind(),
                    rate,
                    connections.max(1),
                    cli.seconds,
                )?;
                print_row(&format!("{rate} messages/s, {connections} sessions"), sent, &histogram);
                if refused > 0 {
                    println!("\n{refused} messages refused by the gateway");
                }
                histogram
            } else {
                latency(&server, rate, cli.seconds, cli.auth == Auth::Session)?
            };
            if !no_floor {
                let duration = Duration::from_secs_f64(cli.seconds);
                let echo = ferrex_bench::floor::echo(rate, duration, ferrex_bench::floor::EchoWait::Block)?;
                print_row(&format!("floor: loopback echo, {rate}/s"), echo.sent, &echo.round_trips);
            }
            let name = format!(
                "latency-{}-{scenario}-{rate}-{}",
                if cli.protocol == Protocol::Binary { "binary" } else { "ws" },
                cli.durability
            );
            let title =
                format!("ferrex {protocol} round trip, {scenario}, {rate}/s, {} durability", cli.durability);
            let (hgrm, svg) = report::write(&cli.out, &name, &title, &histogram)?;
            println!("\nPercentiles: {hgrm}\nPlot: {svg}");
            println!("\nThe server's own figures:\n```\n{}\n```", server.metrics()?);
            Ok(())
        }
        Mode::Throughput { connections, window } => {
            println!("| load | messages | rate |\n|---|---:|---:|");
            if cli.protocol == Protocol::Binary {
                let (rate, histogram, refused) = binary::throughput(
                    &server.binary,
                    cli.scenario.kind(),
                    connections,
                    window,
                    cli.seconds,
                )?;
                println!(
                    "| {connections} sessions, window {window} | {} | {rate:.0} messages/s |",
                    histogram.len()
                );
                println!(
                    "\nround trip under that load: p50 {:.0} µs, p99 {:.0} µs; {refused} refused by the gateway",
                    histogram.value_at_quantile(0.5) as f64 / 1e3,
                    histogram.value_at_quantile(0.99) as f64 / 1e3
                );
                Ok(())
            } else {
                throughput(&server, connections, window, cli.seconds, cli.auth == Auth::Session)
            }
        }
        Mode::Idle { connections } => idle(&server, connections),
    }
}
