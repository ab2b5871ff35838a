//! Random mixes of every command, money included, for the money property test and its fuzz target.
//!
//! Users start with modest balances, so holds run out and `InsufficientBalance` is common; transfers
//! reuse and skip transaction ids; admin holds, suspensions and halts come and go; instruments carry
//! fees (one with a maker rebate). Trading commands come from [`CommandGen`]. There is no oracle:
//! the engine's own invariants (conservation, exact holds, no negative balance) are checked after
//! every command, and a replay of the same commands must end in the same state hash.

use ferrex_engine::{
    AccountRef, AssetId, AssetSpec, Command, Engine, EngineConfig, Event, InstrumentId, InstrumentKind,
    InstrumentLimits, Price, Role, Symbol, SystemAccount, TenantId, TimeInForce, Transfer, Trigger,
    TriggerKind, TriggerSource, TxId, UserId, UserLimits,
};

use crate::fixture::{self, BTC, OPERATOR, USDT};
use crate::generate::{CommandGen, Source, market_spec};

/// The engine configuration of money runs: the differential's tiny capacities, four assets, two
/// conditional slots (so the pool fills up).
pub fn money_config() -> EngineConfig {
    EngineConfig { assets_max: 4, conditionals_max: 2, ..crate::generate::differential_config() }
}

/// The perpetual of money runs (instrument 2): prices 500..=1500 so that mark jumps liquidate,
/// 5% initial and 2.5% maintenance margin, taker 5 bps and a 1 bp maker rebate.
pub const PERP: InstrumentId = InstrumentId(2);

/// The commands every money run starts with: assets, traders, modest deposits, two spot instruments
/// with fees (taker 10 bps and a 2 bps maker rebate; taker 7 bps and maker 5 bps), a perpetual, and
/// some money in the insurance fund.
pub fn money_setup(config: &EngineConfig) -> Vec<Command> {
    let mut commands = fixture::assets();
    commands.extend(fixture::traders(1, config.users_max));
    commands.extend(fixture::deposits(config.users_max, USDT, 50_000, 1));
    commands.extend(fixture::deposits(config.users_max, BTC, 2_000, 2));
    for (symbol, maker, taker) in [("BTC-USDT", -2, 10), ("XBT-USDT", 5, 7)] {
        let mut spec = market_spec(symbol);
        (spec.maker_fee_bps, spec.taker_fee_bps) = (maker, taker);
        commands.push(Command::AddInstrument { actor: OPERATOR, spec });
    }
    let mut perp = market_spec("BTC-PERP");
    (perp.price_min, perp.price_max, perp.mark_price) = (Price(500), Price(1500), Price(1000));
    (perp.kind, perp.initial_margin_bps, perp.maintenance_margin_bps) = (InstrumentKind::Perpetual, 500, 250);
    (perp.maker_fee_bps, perp.taker_fee_bps) = (-1, 5);
    commands.push(Command::AddInstrument { actor: OPERATOR, spec: perp });
    commands.push(Command::Transfer(Transfer {
        actor: OPERATOR,
        account: AccountRef::System(SystemAccount::Insurance),
        asset: USDT,
        tx: TxId(1),
        amount: 2_000,
    }));
    commands
}

/// Generates money and admin commands around a [`CommandGen`].
#[derive(Debug, Clone)]
pub struct MoneyGen {
    trading: CommandGen,
    /// Next transaction id per user (index `users_max` for system accounts).
    next_tx: Vec<u64>,
    users_max: u32,
    /// The perpetual's mark as last set (it walks, and sometimes jumps).
    mark: i64,
    /// Sequencer time of the last command, ns.
    time_ns: u64,
}

impl MoneyGen {
    /// A generator for an engine set up by [`money_setup`].
    pub fn new(config: &EngineConfig) -> MoneyGen {
        MoneyGen {
            trading: CommandGen::new(3),
            next_tx: vec![3; config.users_max as usize + 1],
            mark: 1000,
            time_ns: 0,
            users_max: config.users_max,
        }
    }

    /// Learns from a command's events.
    pub fn observe(&mut self, events: &[Event]) {
        self.trading.observe(events);
    }

    /// The next command with its sequencer time (advancing by up to 2 us), or `None` when the
    /// source is exhausted.
    pub fn next_at(&mut self, s: &mut dyn Source) -> Option<(u64, Command)> {
        self.time_ns += s.below(2_000)?;
        let mut command = self.next(s)?;
        if let Command::Place(place) = &mut command
            && place.time_in_force == TimeInForce::Gtc
            && s.below(4)? == 0
        {
            // Good-till-date: mostly soon, now and then already past.
            place.expire_ns = (self.time_ns + s.below(20_000)?).saturating_sub(1_000);
        }
        Some((self.time_ns, command))
    }

    /// The next command, or `None` when the source is exhausted.
    pub fn next(&mut self, s: &mut dyn Source) -> Option<Command> {
        Some(match s.below(100)? {
            0..=9 => Command::Transfer(self.transfer(s)?),
            10..=13 => Command::AdminHold {
                actor: self.actor(s)?,
                user: self.user(s)?,
                asset: asset(s)?,
                amount: amount(s)? * if s.below(2)? == 0 { 1 } else { -1 },
            },
            14..=15 => Command::SetUserSuspended {
                actor: self.actor(s)?,
                user: self.user(s)?,
                suspended: s.below(3)? == 0,
            },
            16 => Command::SetInstrumentHalted {
                actor: self.actor(s)?,
                instrument: InstrumentId(u32::try_from(s.below(3)?).ok()?),
                halted: s.below(3)? == 0,
            },
            17 => Command::CreateTenant { actor: self.actor(s)?, tenant: TenantId(small(s, 4)?) },
            18 => Command::CreateUser {
                actor: self.actor(s)?,
                user: UserId(small(s, self.users_max + 2)?),
                tenant: TenantId(small(s, 4)?),
                role: [Role::Trader, Role::TenantAdmin, Role::Operator][small(s, 3)? as usize],
            },
            19 => {
                const SYMBOLS: [&str; 4] = ["ETH", "SOL", "USDT", "DOGE"];
                let symbol = Symbol::new(SYMBOLS[small(s, 4)? as usize]).ok()?;
                let scale = u8::try_from(s.below(21)?).ok()?;
                Command::AddAsset { actor: self.actor(s)?, spec: AssetSpec { symbol, scale } }
            }
            20..=23 => {
                let step: u64 = if s.below(6)? == 0 { 300 } else { 20 };
                let delta = i64::try_from(s.below(2 * step + 1)?).ok()? - i64::try_from(step).ok()?;
                self.mark = (self.mark + delta).clamp(480, 1520);
                Command::SetMarkPrice { actor: self.actor(s)?, instrument: PERP, price: Price(self.mark) }
            }
            24 => Command::ApplyFunding {
                actor: self.actor(s)?,
                instrument: if s.below(10)? == 0 { InstrumentId(0) } else { PERP },
                rate_ppm: i32::try_from(s.below(4_001)?).ok()? - 2_000
                    + if s.below(20)? == 0 { 200_000 } else { 0 },
            },
            25..=26 => Command::ClosePosition {
                user: self.user(s)?,
                instrument: if s.below(10)? == 0 { InstrumentId(0) } else { PERP },
                price: if s.below(2)? == 0 {
                    None
                } else {
                    Some(Price(990 + i64::try_from(s.below(21)?).ok()?))
                },
            },
            27 => Command::SetInstrumentLimits {
                actor: self.actor(s)?,
                instrument: InstrumentId(small(s, 4)?),
                limits: InstrumentLimits {
                    // Mostly off again: a tight limit that stayed would stop trading for good.
                    notional_max: [0, 0, 0, 5_000, 50_000, -1][small(s, 6)? as usize],
                    price_band_bps: [0, 0, 0, 5, 50, 20_000][small(s, 6)? as usize],
                    position_max: [0, 0, 40, 400][small(s, 4)? as usize],
                },
            },
            28 => Command::SetUserLimits {
                actor: self.actor(s)?,
                user: self.user(s)?,
                limits: UserLimits {
                    qty_max: [0, 0, 0, 6, -1][small(s, 5)? as usize],
                    notional_max: [0, 0, 0, 8_000][small(s, 4)? as usize],
                    open_orders_max: [0, 0, 0, 2, 4][small(s, 5)? as usize],
                    position_max: [0, 0, 0, 30][small(s, 4)? as usize],
                },
            },
            _ => {
                let mut command = self.trading.next(s)?;
                self.conditional(&mut command, s)?;
                if let Command::Place(place) = &mut command {
                    if place.instrument == PERP && s.below(6)? == 0 {
                        (place.reduce_only, place.time_in_force) = (true, TimeInForce::Ioc);
                    } else if place.instrument == PERP && s.below(3)? == 0 {
                        // Leverage: positions large against balances, so mark jumps liquidate.
                        place.qty.0 = place.qty.0.saturating_mul(8);
                    }
                }
                command
            }
        })
    }

    /// Turns some placements into stop-loss or take-profit orders, and gives some amends a new
    /// trigger price.
    fn conditional(&self, command: &mut Command, s: &mut dyn Source) -> Option<()> {
        match command {
            Command::Place(place) if s.below(6)? == 0 => {
                let perp = place.instrument == PERP;
                let around = if perp { self.mark } else { 1000 };
                let offset = i64::try_from(s.below(41)?).ok()? - 20;
                place.trigger = Some(Trigger {
                    price: Price(around + offset * if perp { 5 } else { 1 }),
                    kind: if s.below(2)? == 0 { TriggerKind::StopLoss } else { TriggerKind::TakeProfit },
                    source: if perp && s.below(2)? == 0 {
                        TriggerSource::MarkPrice
                    } else {
                        TriggerSource::LastPrice
                    },
                });
            }
            Command::Amend(amend) if s.below(4)? == 0 => {
                amend.trigger_price = Some(Price(990 + i64::try_from(s.below(21)?).ok()?));
            }
            _ => {}
        }
        Some(())
    }

    fn user(&self, s: &mut dyn Source) -> Option<UserId> {
        Some(UserId(u32::try_from(s.below(u64::from(self.users_max) + 1)?).ok()?))
    }

    /// Mostly the operator; sometimes a trader (refused) or nobody.
    fn actor(&self, s: &mut dyn Source) -> Option<UserId> {
        if s.below(8)? == 0 { self.user(s) } else { Some(OPERATOR) }
    }

    fn transfer(&mut self, s: &mut dyn Source) -> Option<Transfer> {
        let account = match s.below(10)? {
            0 => AccountRef::System(SystemAccount::Insurance),
            1 => AccountRef::System(SystemAccount::Fee),
            _ => AccountRef::User(self.user(s)?),
        };
        let owner = match account {
            AccountRef::User(user) => (user.0 as usize).min(self.next_tx.len() - 1),
            AccountRef::System(_) => self.next_tx.len() - 1,
        };
        // Mostly the next id; sometimes a retry of the previous one or a jump ahead.
        let tx = match s.below(8)? {
            0 => self.next_tx[owner].saturating_sub(1),
            1 => self.next_tx[owner] + s.below(5)?,
            _ => self.next_tx[owner],
        };
        self.next_tx[owner] = self.next_tx[owner].max(tx + 1);
        let sign = if s.below(3)? == 0 { -1 } else { 1 };
        Some(Transfer {
            actor: self.actor(s)?,
            account,
            asset: asset(s)?,
            tx: TxId(tx),
            amount: sign * amount(s)?,
        })
    }
}

fn small(s: &mut dyn Source, bound: u32) -> Option<u32> {
    u32::try_from(s.below(u64::from(bound))?).ok()
}

fn asset(s: &mut dyn Source) -> Option<AssetId> {
    // USDT, BTC, and now and then an asset that does not exist.
    Some(AssetId(u32::try_from(s.below(5)?).ok()?.min(2)))
}

fn amount(s: &mut dyn Source) -> Option<i64> {
    Some(match s.below(20)? {
        0 => 0,
        1 => i64::MAX,
        _ => i64::try_from(s.below(50_000)?).ok()?,
    })
}

/// What a money run saw.
#[derive(Debug, Default, Clone)]
pub struct MoneyRun {
    /// Every command applied after the setup, with its sequencer time.
    pub commands: Vec<(u64, Command)>,
    /// Every event, in order.
    pub events: Vec<Event>,
    /// The state hash at the end.
    pub hash: u64,
}

/// Applies up to `commands_max` generated commands to a freshly set-up engine, checking every
/// invariant after each; `Err` gives the broken invariant and the last commands.
pub fn run(source: &mut dyn Source, commands_max: usize) -> Result<MoneyRun, String> {
    let mut run = MoneyRun::default();
    let engine = drive(source, commands_max, |engine, time_ns, command, events| {
        run.commands.push((time_ns, *command));
        if let Err(e) = engine.check_invariants() {
            let start = run.commands.len().saturating_sub(20);
            let recent: Vec<String> =
                run.commands[start..].iter().map(|(t, c)| format!("> @{t} {c:?}")).collect();
            return Err(format!("{e}\nafter:\n{}\nevents: {events:?}", recent.join("\n")));
        }
        run.events.extend_from_slice(events);
        Ok(())
    })?;
    run.hash = engine.state_hash();
    Ok(run)
}

/// Up to `commands_max` generated commands with their times, unchecked (for tests that only need
/// a realistic command stream: the journal's).
pub fn commands(source: &mut dyn Source, commands_max: usize) -> Vec<(u64, Command)> {
    let mut commands = Vec::with_capacity(commands_max);
    drive(source, commands_max, |_, time_ns, command, _| {
        commands.push((time_ns, *command));
        Ok(())
    })
    .expect("unchecked runs do not fail");
    commands
}

/// Generates and applies commands on a freshly set-up engine, calling `after` with each; returns
/// the engine.
fn drive(
    source: &mut dyn Source,
    commands_max: usize,
    mut after: impl FnMut(&Engine, u64, &Command, &[Event]) -> Result<(), String>,
) -> Result<Engine, String> {
    let config = money_config();
    let mut engine = Engine::new(config).map_err(|e| e.to_string())?;
    fixture::apply_setup(&mut engine, &money_setup(&config));
    let mut generator = MoneyGen::new(&config);
    let mut events = Vec::new();
    for _ in 0..commands_max {
        let Some((time_ns, command)) = generator.next_at(source) else { break };
        events.clear();
        engine.apply_at(time_ns, &command, &mut events);
        after(&engine, time_ns, &command, &events)?;
        generator.observe(&events);
    }
    Ok(engine)
}

/// Replays commands on a freshly set-up engine; returns the final state hash.
pub fn replay(commands: &[(u64, Command)]) -> u64 {
    let config = money_config();
    let mut engine = Engine::new(config).expect("valid config");
    fixture::apply_setup(&mut engine, &money_setup(&config));
    let mut events = Vec::new();
    for (time_ns, command) in commands {
        events.clear();
        engine.apply_at(*time_ns, command, &mut events);
    }
    engine.state_hash()
}
