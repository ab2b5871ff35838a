//! `ferrex demo`: `ferrex serve` on the embedded demo market, plus a living market on it: market
//! makers quoting around a random-walk mid price on BTC-USDT and ETH-USDT, moving and cancelling
//! their quotes and crossing now and then (the scenario of `client::scenario::Kind::Market`), over
//! the binary protocol as the demo users maker-1, maker-2 and taker. A newcomer connects to the
//! WebSocket API and sees a moving book and trades at once.
//!
//! The market sessions stop when the server stops (Ctrl-C or SIGTERM stops the server gracefully);
//! a session that loses its connection says so on stderr and ends.

use std::time::{Duration, Instant};

use clap::Args;
use ferrex_gateway::client::binary::{BinaryClient, LogonOptions, Secret, ServerMessage};
use ferrex_gateway::client::scenario::{Kind, Scenario};

use crate::serve::{self, Listening, ServeArgs};

/// `ferrex demo`.
#[derive(Args)]
pub struct DemoArgs {
    #[command(flatten)]
    serve: ServeArgs,
    /// Messages per second of each market session (four sessions).
    #[arg(long, default_value_t = 10)]
    rate: u32,
}

/// The market sessions: (user, instrument symbol, mid price in ticks).
const SESSIONS: [(&str, &str, i64); 4] = [
    ("maker-1", "BTC-USDT", 6_000_000),
    ("taker", "BTC-USDT", 6_000_000),
    ("maker-2", "ETH-USDT", 300_000),
    ("taker", "ETH-USDT", 300_000),
];

/// Runs the demo.
pub fn demo(args: &DemoArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.rate > 0 && args.rate <= 90,
        "--rate must be 1 to 90 (the demo tier allows 100 orders a second)"
    );
    let gap = Duration::from_secs(1) / args.rate;
    let rate = args.rate;
    let on_ready: serve::OnReady = Box::new(move |listening: &Listening| {
        let Some(binary) = listening.binary else {
            eprintln!("ferrex demo: the binary protocol is not served: no market sessions");
            return;
        };
        println!(
            "ferrex demo: market makers and a taker trade BTC-USDT and ETH-USDT ({rate} messages/s each); \
             subscribe to btc-usdt@depth or btc-usdt@trade on the WebSocket API to watch"
        );
        for (n, (user, symbol, mid)) in SESSIONS.into_iter().enumerate() {
            let address = binary.to_string();
            let seed = 0x5eed + n as u64;
            let _ = std::thread::Builder::new().name(format!("ferrex-demo-{user}")).spawn(move || {
                if let Err(error) = session(&address, user, symbol, mid, seed, gap) {
                    eprintln!("ferrex demo: {user} on {symbol} stopped: {error}");
                }
            });
        }
    });
    serve::serve(&args.serve, Some(on_ready))
}

/// One market session: a message every `gap`, its reports read in between.
fn session(
    address: &str,
    user: &str,
    symbol: &str,
    mid: i64,
    seed: u64,
    gap: Duration,
) -> anyhow::Result<()> {
    let secret = Secret::Hmac(format!("demo-{user}-secret"));
    let options = LogonOptions { replay_after: None, cancel_on_disconnect: true };
    let mut client = BinaryClient::connect(address, &format!("demo-{user}"), &secret, options)?;
    let instrument =
        client.instrument(symbol).ok_or_else(|| anyhow::anyhow!("{symbol} is not listed"))?.instrument;
    let mut scenario = Scenario::new(Kind::Market, instrument, mid, seed);
    let mut message = Vec::new();
    let mut next = Instant::now();
    loop {
        scenario.next(&mut message);
        client.send(&message)?;
        next += gap;
        while let Some(left) = next.checked_duration_since(Instant::now()) {
            match client.recv_timeout(left)? {
                Some(ServerMessage::Execution(report)) => {
                    scenario.observe(&report);
                }
                Some(ServerMessage::CancelReject(reject)) => {
                    scenario.observe_reject(&reject);
                }
                Some(ServerMessage::Goodbye(goodbye)) => {
                    anyhow::bail!("the server said goodbye ({})", goodbye.code)
                }
                Some(_) | None => {}
            }
        }
    }
}
