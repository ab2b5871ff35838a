//! `ferrex serve [--config FILE] [--listen ADDR] [--data DIR]` and `ferrex config check FILE`.
//!
//! Serve: validate the configuration (the embedded demo one without `--config`), start the
//! runtime on the journal directory (recovering what is there), list the market on a new journal
//! by submitting the configuration's set-up commands through the ring (journaled like any other
//! command), print where it listens and, for the demo, the demo API keys; then serve WebSocket
//! clients until SIGTERM or SIGINT, and stop gracefully (drain, sync, final snapshot).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use ferrex_engine::Event;
use ferrex_engine::runtime::message::{Body, DEPTH_LEVELS_MAX, Item, Origin, Output, Query, Request};
use ferrex_engine::runtime::snapshotter::SnapshotPolicy;
use ferrex_engine::runtime::{Runtime, RuntimeConfig, Started, SubmitError};
use ferrex_gateway::api::Api;
use ferrex_gateway::binary::BinaryConfig;
use ferrex_gateway::config::{self, Config, DEMO_KEYSTORE, Validated};
use ferrex_gateway::market::MarketData;
use ferrex_gateway::metrics::Metrics;
use ferrex_gateway::server::{Limits, Server};
use std::sync::Arc;
use std::time::Duration;

/// `ferrex serve`.
#[derive(Args)]
pub struct ServeArgs {
    /// The configuration file (TOML, docs/CONFIG.md); without it, the embedded demo market.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Listen on this address instead of the configuration's (port 0 picks a free port).
    #[arg(long)]
    listen: Option<String>,
    /// Use this journal directory instead of the configuration's.
    #[arg(long)]
    data: Option<PathBuf>,
    /// Serve /metrics, /health and /ready here instead of the configuration's `admin_listen`.
    #[arg(long)]
    admin_listen: Option<String>,
    /// Serve the binary protocol here instead of the configuration's `binary_listen`.
    #[arg(long)]
    binary_listen: Option<String>,
    /// Log lines as text (default) or JSON, on stderr (`RUST_LOG`-style level: `--log-level`).
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// The most detailed level logged: error, warn, info, debug, trace.
    #[arg(long, default_value = "info")]
    log_level: tracing::Level,
}

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn init_logs(format: LogFormat, level: tracing::Level) {
    let builder =
        tracing_subscriber::fmt().with_writer(std::io::stderr).with_max_level(level).with_ansi(false);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// `ferrex config check FILE`.
#[derive(Args)]
pub struct CheckArgs {
    /// The configuration file.
    file: PathBuf,
}

/// Validates a configuration file and its keystore.
pub fn check(args: &CheckArgs) -> anyhow::Result<()> {
    let config = Config::load(&args.file)?;
    let validated = config.validate()?;
    let keys = config::load_keys(&config.keystore)?;
    println!(
        "{}: valid ({} assets, {} instruments, {} users, {} API keys)",
        args.file.display(),
        validated.assets.len(),
        validated.instruments.len(),
        config.users.len(),
        keys.len()
    );
    Ok(())
}

/// The configuration with the command line's overrides.
fn configure(args: &ServeArgs) -> anyhow::Result<Config> {
    let mut config = match &args.config {
        Some(path) => Config::load(path)?,
        None => Config::demo(),
    };
    if let Some(listen) = &args.listen {
        config.server.listen.clone_from(listen);
    }
    if let Some(data) = &args.data {
        config.journal.dir.clone_from(data);
    }
    if let Some(admin) = &args.admin_listen {
        config.server.admin_listen = Some(admin.clone());
    }
    if let Some(binary) = &args.binary_listen {
        config.server.binary_listen = Some(binary.clone());
    }
    Ok(config)
}

/// Prints the demo keys (public on purpose) when the demo keystore is used.
fn print_demo_keys(config: &Config, keys: &[config::Key]) {
    if config.keystore != DEMO_KEYSTORE {
        return;
    }
    println!("ferrex: demo API keys (public, for this demo only):");
    for key in keys {
        match &key.secret {
            Some(secret) => println!("  user {}  apiKey {}  HMAC secret {secret}", key.user, key.api_key),
            None => println!(
                "  user {}  apiKey {}  Ed25519 (demo private key seed: a1 x 32)",
                key.user, key.api_key
            ),
        }
    }
}

/// Where a started server listens (for `ferrex demo`'s market).
pub struct Listening {
    /// The binary protocol, if served.
    pub binary: Option<std::net::SocketAddr>,
}

/// Called once the server is about to serve.
pub type OnReady = Box<dyn FnOnce(&Listening) + Send>;

/// Runs the server; `on_ready` is called once it is about to serve.
pub fn serve(args: &ServeArgs, on_ready: Option<OnReady>) -> anyhow::Result<()> {
    init_logs(args.log_format, args.log_level);
    let config = configure(args)?;
    let market = config.validate()?;
    let keys = config::load_keys(&config.keystore)?;
    let terminate = ferrex_engine::runtime::termination_flag().context("signal handlers")?;
    let listener =
        std::net::TcpListener::bind(market.listen).with_context(|| format!("listen on {}", market.listen))?;
    let mut runtime_config = RuntimeConfig::new(&config.journal.dir);
    runtime_config.engine = market.engine;
    runtime_config.segment_bytes = config.journal.segment_mib << 20;
    runtime_config.async_sync_every = Duration::from_millis(config.journal.async_sync_every_ms);
    runtime_config.snapshots = SnapshotPolicy {
        every_records: config.journal.snapshot_every_records,
        keep: config.journal.snapshot_keep.max(1),
        ..SnapshotPolicy::default()
    };
    runtime_config.core.durability = market.durability;
    runtime_config.core.cpu = config.core.cpu;
    runtime_config.core.wait = market.wait;
    let mut started = Runtime::start(&runtime_config).context("starting the runtime")?;
    let report = &started.report;
    println!(
        "ferrex: journal {} ({}), recovered through record {} (snapshot {}, {} replayed, {:.1} ms), state hash {:016x}",
        config.journal.dir.display(),
        if report.created { "new" } else { "existing" },
        report.recovery.last_sequence,
        report.recovery.snapshot.as_ref().map_or_else(|| "none".to_string(), |(name, _)| name.clone()),
        report.recovery.replayed,
        report.recovery_time.as_secs_f64() * 1e3,
        report.recovery.state_hash
    );
    if started.report.created {
        list_market(&mut started, &market.setup)?;
    }
    let address = listener.local_addr()?;
    println!("ferrex: listening on ws://{address}");
    print_demo_keys(&config, &keys);
    let mut listening = Listening { binary: None };
    let binary_listener = match &config.server.binary_listen {
        Some(address) => {
            let listener = std::net::TcpListener::bind(address)
                .with_context(|| format!("binary listen on {address}"))?;
            listening.binary = Some(listener.local_addr()?);
            println!("ferrex: binary protocol on tcp://{}", listener.local_addr()?);
            Some(listener)
        }
        None => None,
    };
    // Reports start after what is applied now (the set-up commands make none).
    let recovered_sequence = started.runtime.durable_sequence();
    let market_data = seed_market_data(&mut started, &market)?;
    let Started { runtime, submitter, mut subscribers, .. } = started;
    let subscriber = subscribers.pop().context("one consumer")?;
    let limits = Limits {
        connections_max: config.server.connections_max,
        frame_bytes_max: config.server.frame_bytes_max,
        write_buffer_bytes_max: 1 << 20,
    };
    let metrics = Arc::new(Metrics::new(runtime.stats(), runtime.durable_watermark()));
    if let Some(admin) = &config.server.admin_listen {
        let admin_listener =
            std::net::TcpListener::bind(admin).with_context(|| format!("admin listen on {admin}"))?;
        println!("ferrex: admin on http://{}/metrics, /health, /ready", admin_listener.local_addr()?);
        let metrics = Arc::clone(&metrics);
        std::thread::Builder::new()
            .name("ferrex-admin".into())
            .spawn(move || ferrex_gateway::metrics::serve_admin(&admin_listener, &metrics))
            .context("admin thread")?;
    }
    let api = Api::new(market, keys, config.server.recv_window_ms_max, Arc::clone(&metrics));
    let mut server =
        Server::new(api, limits, listener, submitter, subscriber, market_data, Arc::clone(&metrics))?;
    if let Some(listener) = binary_listener {
        let binary = BinaryConfig {
            dir: config.journal.dir.clone(),
            heartbeat_interval: Duration::from_millis(config.server.heartbeat_interval_ms),
            idle_timeout: Duration::from_millis(config.server.idle_timeout_ms),
            write_buffer_bytes_max: 1 << 20,
            window_reports_max: config.server.replay_window_reports.max(1),
            sessions_max: config.server.connections_max,
            ip_sessions_max: config.limits.ip_connections_max,
        };
        server.enable_binary(binary, listener, recovered_sequence)?;
    }
    metrics.set_ready();
    tracing::info!(address = %address, "serving");
    if let Some(on_ready) = on_ready {
        on_ready(&listening);
    }
    let outcome = server.run(&terminate);
    drop(server);
    let stopped = runtime.stop().context("stopping the runtime")?;
    println!(
        "ferrex: stopped after record {}, state hash {:016x}, snapshot of record {}",
        stopped.last_sequence, stopped.state_hash, stopped.snapshots.last_sequence
    );
    outcome.context("serving")
}

/// The market data mirror, seeded with a full depth query of each instrument.
fn seed_market_data(started: &mut Started, market: &Validated) -> anyhow::Result<MarketData> {
    let subscriber = started.subscribers.last_mut().context("one consumer")?;
    let mut data = MarketData::new(market.instruments.len(), started.report.recovery.last_sequence);
    let mut outputs = Vec::new();
    for (i, listed) in market.instruments.iter().enumerate() {
        let query = Query::Depth { instrument: listed.id, levels_max: DEPTH_LEVELS_MAX };
        let request = Request {
            origin: Origin { session: u32::MAX, tag: u64::MAX - i as u64 },
            body: Body::Query(query),
        };
        started.submitter.submit(request).map_err(|e| anyhow::anyhow!("{e}"))?;
        outputs.clear();
        while !outputs.iter().any(|o: &Output| matches!(o.item, Item::Done { .. })) {
            subscriber.wait(&mut outputs, 1 << 14).map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        data.seed(i, &outputs);
    }
    Ok(data)
}

/// Submits the market's set-up commands and waits for each to be applied; any reject is an error.
fn list_market(started: &mut Started, setup: &[ferrex_engine::Command]) -> anyhow::Result<()> {
    let subscriber = started.subscribers.last_mut().context("one consumer")?;
    let mut outputs = Vec::new();
    for (n, command) in setup.iter().enumerate() {
        let request =
            Request { origin: Origin { session: u32::MAX, tag: n as u64 }, body: Body::Command(*command) };
        loop {
            match started.submitter.submit(request) {
                Ok(()) => break,
                Err(SubmitError::Busy) => std::thread::yield_now(),
                Err(SubmitError::Stopped) => bail!("the runtime stopped while listing the market"),
            }
        }
        loop {
            outputs.clear();
            subscriber.wait(&mut outputs, 1024).map_err(|e| anyhow::anyhow!("{e}"))?;
            for output in &outputs {
                if let Item::Event(Event::Rejected { code, .. }) = output.item {
                    bail!("set-up command {n} ({command:?}) was rejected: {code:?}");
                }
            }
            if outputs.iter().any(|o| matches!(o.item, Item::Done { .. })) {
                break;
            }
        }
    }
    println!("ferrex: market listed ({} set-up commands journaled)", setup.len());
    Ok(())
}
