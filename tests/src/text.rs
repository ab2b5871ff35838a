//! A compact text form of commands and events, for scenario files and failure messages.
//!
//! Commands (`#N` is the order with acceptance sequence N in the current engine; `by=uA` names the
//! actor of an admin command, user 0 by default):
//! ```text
//! tenant T [by=uA]
//! user U [tenant=T] [role=trader|admin|operator] [by=uA]
//! asset SYMBOL scale=S [by=uA]
//! add SYMBOL [qty=MIN..MAX] [price=MIN..MAX] [base=aB] [quote=aQ] [maker=BPS] [taker=BPS]
//!     [perp im=BPS mm=BPS mark=PRICE] [by=uA]
//! mark iI PRICE [by=uA]          funding iI PPM [by=uA]          close uU iI [price=WORST]
//! limits iI [notional=N] [band=BPS] [position=N] [by=uA]
//! user-limits uU [qty=N] [notional=N] [orders=N] [position=N] [by=uA]
//! deposit|withdraw uU|fee|insurance|funding aA AMOUNT tx=N [by=uA]
//! hold|release uU aA AMOUNT [by=uA]
//! suspend|resume uU [by=uA]
//! halt|reopen iI [by=uA]
//! place uU iI buy|sell limit PRICE xQTY [gtc|ioc|fok] [post] [stp=taker|maker|both] [cid=ID]
//! place uU iI buy|sell market xQTY [ioc|fok] [price=WORST] [levels=N] [budget=QUOTE] [stp=...] [cid=ID]
//! (either place form also takes `reduce` for a reduce-only order, `gtd=NS` for an expiry, and
//! `stop=P` or `tp=P` [`on=mark`] to make it a stop-loss or take-profit conditional)
//! amend uU iI #N|cid=ID PRICE xQTY [trigger=P]
//! cancel uU iI #N|cid=ID
//! amend uU iI #N|cid=ID PRICE xQTY
//! mass uU [iI]
//! ```
//! Events print as one line each, for example `fill t1 i0 #1/u1 <- #2/u2 100 x3 left=2 buy`.

use std::fmt::Write as _;

use ferrex_engine::types::ORDER_SLOT_NONE;
use ferrex_engine::{
    AccountRef, Amend, AssetId, AssetSpec, Cancel, CancelReason, ClientOrderId, Command, DecimalStep, Event,
    InstrumentId, InstrumentKind, InstrumentSpec, MassCancel, OrderId, OrderRef, OrderType, Place, Price,
    Qty, Role, SelfTradePrevention, Side, Symbol, SystemAccount, TenantId, TimeInForce, Transfer, TxId,
    UserId,
};
use ferrex_engine::{InstrumentLimits, Trigger, TriggerKind, TriggerSource, UserLimits};

use crate::fixture::{BTC, USDT};

/// Resolves `#N` (acceptance sequence) to the full order id by remembering accepted ids.
#[derive(Default, Debug, Clone)]
pub struct OrderNames {
    ids: Vec<OrderId>,
}

impl OrderNames {
    /// Learns the ids of accepted orders from events.
    pub fn observe(&mut self, events: &[Event]) {
        for e in events {
            if let Event::Accepted(a) = e {
                self.ids.push(a.order);
            }
        }
    }

    fn resolve(&self, sequence: u64) -> OrderId {
        self.ids
            .iter()
            .copied()
            .find(|id| id.sequence() == sequence)
            // An order never accepted: any slot works, the engine must answer "unknown order".
            .unwrap_or(OrderId::new(sequence, ORDER_SLOT_NONE))
    }
}

fn num<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, String> {
    text.parse().map_err(|_| format!("bad {what}: {text:?}"))
}

fn prefixed<T: std::str::FromStr>(word: &str, prefix: &str) -> Result<T, String> {
    let rest = word.strip_prefix(prefix).ok_or_else(|| format!("expected {prefix}..., got {word:?}"))?;
    num(rest, prefix)
}

fn side(word: &str) -> Result<Side, String> {
    match word {
        "buy" => Ok(Side::Buy),
        "sell" => Ok(Side::Sell),
        _ => Err(format!("bad side {word:?}")),
    }
}

fn client_id(text: &str) -> Result<ClientOrderId, String> {
    ClientOrderId::new(text).map_err(|e| format!("bad client id {text:?}: {e}"))
}

fn order_ref(word: &str, names: &OrderNames) -> Result<OrderRef, String> {
    if let Some(id) = word.strip_prefix("cid=") {
        return Ok(OrderRef::Client(client_id(id)?));
    }
    Ok(OrderRef::Id(names.resolve(prefixed(word, "#")?)))
}

fn range(text: &str) -> Result<(i64, i64), String> {
    let (lo, hi) = text.split_once("..").ok_or_else(|| format!("bad range {text:?}"))?;
    Ok((num(lo, "range")?, num(hi, "range")?))
}

/// A spot spec of BTC against USDT with wide defaults: tick 0.01, lot 0.01, quantities and prices
/// 1..=1e6, no fees.
pub fn default_spec(symbol: &str) -> InstrumentSpec {
    InstrumentSpec {
        symbol: Symbol::new(symbol).expect("valid symbol"),
        tick: DecimalStep { units: 1, scale: 2 },
        lot: DecimalStep { units: 1, scale: 2 },
        qty_min: Qty(1),
        qty_max: Qty(1_000_000),
        price_min: Price(1),
        price_max: Price(1_000_000),
        kind: InstrumentKind::Spot,
        base: BTC,
        quote: USDT,
        ..InstrumentSpec::default()
    }
}

/// Splits off a trailing `by=uA` option: the actor, user 0 by default.
fn actor_of<'a>(words: &[&'a str]) -> Result<(UserId, Vec<&'a str>), String> {
    let mut actor = UserId(0);
    let mut rest = Vec::new();
    for word in words {
        if let Some(a) = word.strip_prefix("by=") {
            actor = UserId(prefixed(a, "u")?);
        } else {
            rest.push(*word);
        }
    }
    Ok((actor, rest))
}

fn parse_add(actor: UserId, symbol: &str, options: &[&str]) -> Result<Command, String> {
    let mut spec = default_spec(symbol);
    for option in options {
        if *option == "perp" {
            spec.kind = InstrumentKind::Perpetual;
            continue;
        }
        let (key, value) = option.split_once('=').ok_or_else(|| format!("bad add option {option:?}"))?;
        match key {
            "im" => spec.initial_margin_bps = num(value, "initial margin")?,
            "mm" => spec.maintenance_margin_bps = num(value, "maintenance margin")?,
            "mark" => spec.mark_price = Price(num(value, "mark")?),
            "qty" => (spec.qty_min.0, spec.qty_max.0) = range(value)?,
            "price" => (spec.price_min.0, spec.price_max.0) = range(value)?,
            "base" => spec.base = AssetId(prefixed(value, "a")?),
            "quote" => spec.quote = AssetId(prefixed(value, "a")?),
            "maker" => spec.maker_fee_bps = num(value, "maker fee")?,
            "taker" => spec.taker_fee_bps = num(value, "taker fee")?,
            _ => return Err(format!("unknown add option {option:?}")),
        }
    }
    Ok(Command::AddInstrument { actor, spec })
}

fn account(word: &str) -> Result<AccountRef, String> {
    Ok(match word {
        "fee" => AccountRef::System(SystemAccount::Fee),
        "insurance" => AccountRef::System(SystemAccount::Insurance),
        "funding" => AccountRef::System(SystemAccount::Funding),
        _ => AccountRef::User(UserId(prefixed(word, "u")?)),
    })
}

fn role(word: &str) -> Result<Role, String> {
    match word {
        "trader" => Ok(Role::Trader),
        "admin" => Ok(Role::TenantAdmin),
        "operator" => Ok(Role::Operator),
        _ => Err(format!("bad role {word:?}")),
    }
}

fn instrument_limits(options: &[&str]) -> Result<InstrumentLimits, String> {
    let mut limits = InstrumentLimits::default();
    for option in options {
        match option.split_once('=') {
            Some(("notional", v)) => limits.notional_max = num(v, "notional")?,
            Some(("band", v)) => limits.price_band_bps = num(v, "band")?,
            Some(("position", v)) => limits.position_max = num(v, "position")?,
            _ => return Err(format!("unknown limits option {option:?}")),
        }
    }
    Ok(limits)
}

fn user_limits(options: &[&str]) -> Result<UserLimits, String> {
    let mut limits = UserLimits::default();
    for option in options {
        match option.split_once('=') {
            Some(("qty", v)) => limits.qty_max = num(v, "qty")?,
            Some(("notional", v)) => limits.notional_max = num(v, "notional")?,
            Some(("orders", v)) => limits.open_orders_max = num(v, "orders")?,
            Some(("position", v)) => limits.position_max = num(v, "position")?,
            _ => return Err(format!("unknown user-limits option {option:?}")),
        }
    }
    Ok(limits)
}

/// Parses an admin command line, or `None` when the line is not one.
fn parse_admin(words: &[&str]) -> Result<Option<Command>, String> {
    let (actor, words) = actor_of(words)?;
    let command = match words.as_slice() {
        ["tenant", t] => Command::CreateTenant { actor, tenant: TenantId(num(t, "tenant")?) },
        ["user", u, options @ ..] => {
            let (mut tenant, mut role_) = (TenantId(0), Role::Trader);
            for option in options {
                match option.split_once('=') {
                    Some(("tenant", t)) => tenant = TenantId(num(t, "tenant")?),
                    Some(("role", r)) => role_ = role(r)?,
                    _ => return Err(format!("unknown user option {option:?}")),
                }
            }
            Command::CreateUser { actor, user: UserId(prefixed(u, "u")?), tenant, role: role_ }
        }
        ["asset", symbol, scale] => Command::AddAsset {
            actor,
            spec: AssetSpec {
                symbol: Symbol::new(symbol).map_err(|e| format!("bad symbol: {e}"))?,
                scale: prefixed(scale, "scale=")?,
            },
        },
        ["add", symbol, options @ ..] => parse_add(actor, symbol, options)?,
        [kind @ ("deposit" | "withdraw"), who, asset, amount, tx] => {
            let amount: i64 = num(amount, "amount")?;
            Command::Transfer(Transfer {
                actor,
                account: account(who)?,
                asset: AssetId(prefixed(asset, "a")?),
                tx: TxId(prefixed(tx, "tx=")?),
                amount: if *kind == "deposit" { amount } else { -amount },
            })
        }
        [kind @ ("hold" | "release"), who, asset, amount] => {
            let amount: i64 = num(amount, "amount")?;
            Command::AdminHold {
                actor,
                user: UserId(prefixed(who, "u")?),
                asset: AssetId(prefixed(asset, "a")?),
                amount: if *kind == "hold" { amount } else { -amount },
            }
        }
        [kind @ ("suspend" | "resume"), who] => Command::SetUserSuspended {
            actor,
            user: UserId(prefixed(who, "u")?),
            suspended: *kind == "suspend",
        },
        ["mark", instrument, price] => Command::SetMarkPrice {
            actor,
            instrument: InstrumentId(prefixed(instrument, "i")?),
            price: Price(num(price, "price")?),
        },
        ["funding", instrument, rate] => Command::ApplyFunding {
            actor,
            instrument: InstrumentId(prefixed(instrument, "i")?),
            rate_ppm: num(rate, "rate")?,
        },
        ["close", user, instrument, rest @ ..] => Command::ClosePosition {
            user: UserId(prefixed(user, "u")?),
            instrument: InstrumentId(prefixed(instrument, "i")?),
            price: match rest {
                [] => None,
                [p] => Some(Price(prefixed(p, "price=")?)),
                _ => return Err("close takes at most a price".into()),
            },
        },
        ["limits", instrument, options @ ..] => Command::SetInstrumentLimits {
            actor,
            instrument: InstrumentId(prefixed(instrument, "i")?),
            limits: instrument_limits(options)?,
        },
        ["user-limits", user, options @ ..] => Command::SetUserLimits {
            actor,
            user: UserId(prefixed(user, "u")?),
            limits: user_limits(options)?,
        },
        [kind @ ("halt" | "reopen"), instrument] => Command::SetInstrumentHalted {
            actor,
            instrument: InstrumentId(prefixed(instrument, "i")?),
            halted: *kind == "halt",
        },
        _ => return Ok(None),
    };
    Ok(Some(command))
}

/// Parses one command line.
pub fn parse_command(line: &str, names: &OrderNames) -> Result<Command, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    if let Some(command) = parse_admin(&words)? {
        return Ok(command);
    }
    match words.as_slice() {
        ["place", user, instrument, s, kind, rest @ ..] => parse_place(user, instrument, s, kind, rest),
        ["cancel", user, instrument, order] => Ok(Command::Cancel(Cancel {
            user: UserId(prefixed(user, "u")?),
            instrument: InstrumentId(prefixed(instrument, "i")?),
            order: order_ref(order, names)?,
        })),
        ["amend", user, instrument, order, price, qty, rest @ ..] => Ok(Command::Amend(Amend {
            user: UserId(prefixed(user, "u")?),
            instrument: InstrumentId(prefixed(instrument, "i")?),
            order: order_ref(order, names)?,
            price: Price(num(price, "price")?),
            qty: Qty(prefixed(qty, "x")?),
            trigger_price: match rest {
                [] => None,
                [t] => Some(Price(prefixed(t, "trigger=")?)),
                _ => return Err("amend takes at most a trigger".into()),
            },
        })),
        ["mass", user, rest @ ..] => Ok(Command::MassCancel(MassCancel {
            user: UserId(prefixed(user, "u")?),
            instrument: match rest {
                [] => None,
                [i] => Some(InstrumentId(prefixed(i, "i")?)),
                _ => return Err("mass takes at most one instrument".into()),
            },
        })),
        _ => Err(format!("unknown command {line:?}")),
    }
}

fn parse_place(user: &str, instrument: &str, s: &str, kind: &str, rest: &[&str]) -> Result<Command, String> {
    let mut place = Place {
        user: UserId(prefixed(user, "u")?),
        instrument: InstrumentId(prefixed(instrument, "i")?),
        side: side(s)?,
        ..Place::default()
    };
    let mut words = rest.iter();
    match kind {
        "limit" => {
            place.price = Some(Price(num(words.next().ok_or("limit needs a price")?, "price")?));
        }
        "market" => {
            place.order_type = OrderType::Market;
            place.time_in_force = TimeInForce::Ioc;
        }
        _ => return Err(format!("bad order type {kind:?}")),
    }
    place.qty = Qty(prefixed(words.next().ok_or("place needs xQTY")?, "x")?);
    for &word in words {
        match word {
            "gtc" => place.time_in_force = TimeInForce::Gtc,
            "ioc" => place.time_in_force = TimeInForce::Ioc,
            "fok" => place.time_in_force = TimeInForce::Fok,
            "post" => place.post_only = true,
            "reduce" => place.reduce_only = true,
            "on=mark" => {
                let trigger = place.trigger.as_mut().ok_or("on=mark after stop= or tp=")?;
                trigger.source = TriggerSource::MarkPrice;
            }
            w if w.starts_with("stop=") || w.starts_with("tp=") => {
                let (kind, value) = match w.split_once('=') {
                    Some(("stop", v)) => (TriggerKind::StopLoss, v),
                    Some((_, v)) => (TriggerKind::TakeProfit, v),
                    None => unreachable!("checked"),
                };
                let price = Price(num(value, "trigger")?);
                place.trigger = Some(Trigger { price, kind, source: TriggerSource::LastPrice });
            }
            w if w.starts_with("gtd=") => place.expire_ns = num(&w[4..], "expiry")?,
            "stp=taker" => place.self_trade = SelfTradePrevention::CancelTaker,
            "stp=maker" => place.self_trade = SelfTradePrevention::CancelMaker,
            "stp=both" => place.self_trade = SelfTradePrevention::CancelBoth,
            w if w.starts_with("cid=") => place.client_order_id = client_id(&w[4..])?,
            w if w.starts_with("price=") => place.price = Some(Price(num(&w[6..], "price")?)),
            w if w.starts_with("levels=") => place.levels_max = num(&w[7..], "levels")?,
            w if w.starts_with("budget=") => place.quote_budget = num(&w[7..], "budget")?,
            w => return Err(format!("unknown place option {w:?}")),
        }
    }
    Ok(Command::Place(place))
}

fn side_name(side: Side) -> &'static str {
    match side {
        Side::Buy => "buy",
        Side::Sell => "sell",
    }
}

fn reason_name(reason: CancelReason) -> &'static str {
    match reason {
        CancelReason::Requested => "requested",
        CancelReason::MassCancel => "mass",
        CancelReason::Unfilled => "unfilled",
        CancelReason::FillOrKill => "fok",
        CancelReason::SelfTrade => "self-trade",
        CancelReason::Liquidation => "liquidation",
        CancelReason::Expired => "expired",
    }
}

fn order(id: OrderId) -> String {
    format!("#{}", id.sequence())
}

fn account_name(account: AccountRef) -> String {
    match account {
        AccountRef::User(user) => format!("u{}", user.0),
        AccountRef::System(SystemAccount::Fee) => "fee".into(),
        AccountRef::System(SystemAccount::Insurance) => "insurance".into(),
        AccountRef::System(SystemAccount::Funding) => "funding".into(),
    }
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Trader => "trader",
        Role::TenantAdmin => "admin",
        Role::Operator => "operator",
    }
}

/// Admin and money events as a line, or `None` for order events.
fn format_admin_event(event: &Event) -> Option<String> {
    Some(match event {
        Event::TenantCreated { tenant } => format!("tenant-created t{}", tenant.0),
        Event::UserCreated { user, tenant, role } => {
            format!("user-created u{} t{} {}", user.0, tenant.0, role_name(*role))
        }
        Event::AssetAdded { asset, symbol, scale } => {
            format!("asset-added a{} {} scale={scale}", asset.0, symbol.as_str())
        }
        Event::Transferred { account, asset, tx, amount } => {
            format!("transferred {} a{} {amount:+} tx={}", account_name(*account), asset.0, tx.0)
        }
        Event::Balance { user, asset, available, held } => {
            format!("balance u{} a{} {available}/{held}", user.0, asset.0)
        }
        Event::UserSuspended { user, suspended } => {
            format!("{} u{}", if *suspended { "suspended" } else { "resumed" }, user.0)
        }
        Event::InstrumentHalted { instrument, halted } => {
            format!("{} i{}", if *halted { "halted" } else { "reopened" }, instrument.0)
        }
        Event::Position { user, instrument, qty, entry_notional, realized_pnl } => {
            format!(
                "position u{} i{} {qty:+} entry={entry_notional} pnl={realized_pnl}",
                user.0, instrument.0
            )
        }
        Event::MarkPrice { instrument, price } => format!("mark i{} {}", instrument.0, price.0),
        Event::Triggered { order, user, .. } => format!("triggered #{} u{}", order.sequence(), user.0),
        Event::TriggerFailed { order, user, code, .. } => {
            format!("trigger-failed #{} u{} {} {:?}", order.sequence(), user.0, code.code(), code)
        }
        Event::InstrumentLimitsSet { instrument, limits: l } => format!(
            "limits i{} notional={} band={} position={}",
            instrument.0, l.notional_max, l.price_band_bps, l.position_max
        ),
        Event::UserLimitsSet { user, limits: l } => format!(
            "user-limits u{} qty={} notional={} orders={} position={}",
            user.0, l.qty_max, l.notional_max, l.open_orders_max, l.position_max
        ),
        Event::FundingApplied { instrument, rate_ppm, paid } => {
            format!("funding i{} {rate_ppm}ppm paid={paid}", instrument.0)
        }
        Event::Liquidation { user, asset, equity, maintenance } => {
            format!("liquidation u{} a{} equity={equity} mm={maintenance}", user.0, asset.0)
        }
        Event::InsuranceShortfall { asset, amount } => format!("shortfall a{} {amount}", asset.0),
        _ => return None,
    })
}

/// One event as a line.
pub fn format_event(event: &Event) -> String {
    if let Some(line) = format_admin_event(event) {
        return line;
    }
    match event {
        Event::InstrumentAdded { instrument, symbol } => {
            format!("added i{} {}", instrument.0, symbol.as_str())
        }
        Event::Rejected { user, code } => {
            format!("rejected u{} {} {:?}", user.0, code.code(), code)
        }
        Event::Accepted(a) => {
            let mut line = format!(
                "accepted {} u{} i{} {} {} {}",
                order(a.order),
                a.user.0,
                a.instrument.0,
                side_name(a.side),
                match a.order_type {
                    OrderType::Limit => "limit",
                    OrderType::Market => "market",
                },
                match a.time_in_force {
                    TimeInForce::Gtc => "gtc",
                    TimeInForce::Ioc => "ioc",
                    TimeInForce::Fok => "fok",
                },
            );
            if let Some(p) = a.price {
                let _ = write!(line, " {}", p.0);
            }
            let _ = write!(line, " x{}", a.qty.0);
            if let Some(t) = a.trigger {
                let kind = if t.kind == TriggerKind::StopLoss { "stop" } else { "tp" };
                let source = if t.source == TriggerSource::MarkPrice { " on=mark" } else { "" };
                let _ = write!(line, " {kind}={}{source}", t.price.0);
            }
            line
        }
        Event::Fill(f) => format!(
            "fill t{} i{} {}/u{} <- {}/u{} {} x{} left={} {}",
            f.trade.0,
            f.instrument.0,
            order(f.maker_order),
            f.maker_user.0,
            order(f.taker_order),
            f.taker_user.0,
            f.price.0,
            f.qty.0,
            f.maker_qty_left.0,
            side_name(f.aggressor)
        ),
        Event::Done { order: o, user, .. } => format!("done {} u{}", order(*o), user.0),
        Event::Cancelled { order: o, user, qty, reason, .. } => {
            format!("cancelled {} u{} x{} {}", order(*o), user.0, qty.0, reason_name(*reason))
        }
        Event::Amended { order: o, user, price, qty, priority_kept, .. } => format!(
            "amended {} u{} {} x{} {}",
            order(*o),
            user.0,
            price.0,
            qty.0,
            if *priority_kept { "kept" } else { "lost" }
        ),
        Event::Level { instrument, side, price, qty } => {
            format!("level i{} {} {} x{}", instrument.0, side_name(*side), price.0, qty.0)
        }
        Event::MassCancelled { user, instrument, count } => match instrument {
            Some(i) => format!("mass-cancelled u{} i{} {count}", user.0, i.0),
            None => format!("mass-cancelled u{} all {count}", user.0),
        },
        _ => unreachable!("admin events are formatted above"),
    }
}
