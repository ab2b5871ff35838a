//! Standard setups shared by tests and benchmarks: two assets, traders, deposits.
//!
//! Assets: `USDT` (id 0, scale 4) and `BTC` (id 1, scale 3). With the instruments of `text.rs`
//! (tick 0.01 USDT, lot 0.01 BTC) one tick times one lot is exactly 1 minor unit of USDT and one lot
//! is 10 minor units of BTC, so expected balances in scenarios are easy to compute by hand.

use ferrex_engine::types::BALANCE_MAX;
use ferrex_engine::{
    AccountRef, AssetId, AssetSpec, Command, Engine, Event, Role, Symbol, TenantId, Transfer, TxId, UserId,
};

/// The quote asset of the standard instruments.
pub const USDT: AssetId = AssetId(0);
/// The base asset of the standard instruments.
pub const BTC: AssetId = AssetId(1);
/// The exchange's own operator (exists in every engine).
pub const OPERATOR: UserId = UserId(0);

/// Adds `USDT` and `BTC`.
pub fn assets() -> Vec<Command> {
    [("USDT", 4), ("BTC", 3)]
        .into_iter()
        .map(|(symbol, scale)| Command::AddAsset {
            actor: OPERATOR,
            spec: AssetSpec { symbol: Symbol::new(symbol).expect("valid"), scale },
        })
        .collect()
}

/// Creates traders `first..end` in tenant 0.
pub fn traders(first: u32, end: u32) -> Vec<Command> {
    (first..end)
        .map(|user| Command::CreateUser {
            actor: OPERATOR,
            user: UserId(user),
            tenant: TenantId(0),
            role: Role::Trader,
        })
        .collect()
}

/// Deposits `amount` of `asset` to users `0..end`, with transaction id `tx`.
pub fn deposits(end: u32, asset: AssetId, amount: i64, tx: u64) -> Vec<Command> {
    (0..end)
        .map(|user| {
            Command::Transfer(Transfer {
                actor: OPERATOR,
                account: AccountRef::User(UserId(user)),
                asset,
                tx: TxId(tx),
                amount,
            })
        })
        .collect()
}

/// Assets, traders `1..users_max`, and every user (the operator too) funded with an equal share of
/// a quarter of `BALANCE_MAX` in each asset: enough that no generated order runs out of money.
pub fn funded(users_max: u32) -> Vec<Command> {
    let share = BALANCE_MAX / 4 / i64::from(users_max);
    let mut commands = assets();
    commands.extend(traders(1, users_max));
    commands.extend(deposits(users_max, USDT, share, 1));
    commands.extend(deposits(users_max, BTC, share, 2));
    commands
}

/// Applies setup commands, panicking on any reject (a broken fixture, not an engine verdict).
pub fn apply_setup(engine: &mut Engine, commands: &[Command]) {
    let mut events = Vec::new();
    for command in commands {
        events.clear();
        engine.apply(command, &mut events);
        if let Some(reject) = events.iter().find(|e| matches!(e, Event::Rejected { .. })) {
            panic!("setup command {command:?} refused: {reject:?}");
        }
    }
}

/// True for the events that report money rather than matching (`Balance`, `Transferred`).
pub fn is_money_event(event: &Event) -> bool {
    matches!(event, Event::Balance { .. } | Event::Transferred { .. })
}

/// A new engine with funded users (see [`funded`]) and these instruments listed, in order.
pub fn engine_with(config: ferrex_engine::EngineConfig, specs: &[ferrex_engine::InstrumentSpec]) -> Engine {
    let mut engine = Engine::new(config).expect("valid config");
    let mut commands = funded(config.users_max);
    commands.extend(specs.iter().map(|spec| Command::AddInstrument { actor: OPERATOR, spec: *spec }));
    apply_setup(&mut engine, &commands);
    engine
}
