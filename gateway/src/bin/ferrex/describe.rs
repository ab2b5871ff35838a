//! Commands, events' subjects and engine values as readable fields: the text and JSON forms the
//! CLI prints. Prices and quantities stay in ticks, lots and minor units (the journal's own
//! numbers); symbols and client order ids are shown as text.

use ferrex_engine::{AccountRef, Command, OrderRef, Place, TimeInForce};
use serde_json::{Map, Value, json};

/// One command: its kind and its fields in declaration order.
pub fn command(command: &Command) -> (&'static str, Map<String, Value>) {
    let mut f = Map::new();
    let mut put = |key: &str, value: Value| {
        f.insert(key.to_string(), value);
    };
    let kind = match *command {
        Command::Place(ref p) => {
            place(p, &mut put);
            "place"
        }
        Command::Cancel(c) => {
            put("user", json!(c.user.0));
            put("instrument", json!(c.instrument.0));
            order_ref(&c.order, &mut put);
            "cancel"
        }
        Command::Amend(a) => {
            put("user", json!(a.user.0));
            put("instrument", json!(a.instrument.0));
            order_ref(&a.order, &mut put);
            put("price", json!(a.price.0));
            put("qty", json!(a.qty.0));
            if let Some(trigger) = a.trigger_price {
                put("trigger_price", json!(trigger.0));
            }
            "amend"
        }
        Command::MassCancel(m) => {
            put("user", json!(m.user.0));
            put("instrument", json!(m.instrument.map(|i| i.0)));
            "mass_cancel"
        }
        _ => admin(command, &mut put),
    };
    (kind, f)
}

/// The admin commands' kinds and fields.
fn admin(command: &Command, put: &mut impl FnMut(&str, Value)) -> &'static str {
    match *command {
        Command::CreateTenant { actor, tenant } => {
            put("actor", json!(actor.0));
            put("tenant", json!(tenant.0));
            "create_tenant"
        }
        Command::CreateUser { actor, user, tenant, role } => {
            put("actor", json!(actor.0));
            put("user", json!(user.0));
            put("tenant", json!(tenant.0));
            put("role", json!(format!("{role:?}")));
            "create_user"
        }
        Command::AddAsset { actor, spec } => {
            put("actor", json!(actor.0));
            put("symbol", json!(spec.symbol.as_str()));
            put("scale", json!(spec.scale));
            "add_asset"
        }
        Command::AddInstrument { actor, spec } => {
            put("actor", json!(actor.0));
            put("symbol", json!(spec.symbol.as_str()));
            put("kind", json!(format!("{:?}", spec.kind)));
            put("base", json!(spec.base.0));
            put("quote", json!(spec.quote.0));
            put("tick", json!(format!("{}e-{}", spec.tick.units, spec.tick.scale)));
            put("lot", json!(format!("{}e-{}", spec.lot.units, spec.lot.scale)));
            put("maker_fee_bps", json!(spec.maker_fee_bps));
            put("taker_fee_bps", json!(spec.taker_fee_bps));
            "add_instrument"
        }
        Command::Transfer(t) => {
            put("actor", json!(t.actor.0));
            match t.account {
                AccountRef::User(user) => put("user", json!(user.0)),
                AccountRef::System(system) => put("system", json!(format!("{system:?}"))),
            }
            put("asset", json!(t.asset.0));
            put("tx", json!(t.tx.0));
            put("amount", json!(t.amount));
            if t.amount >= 0 { "deposit" } else { "withdraw" }
        }
        Command::AdminHold { actor, user, asset, amount } => {
            put("actor", json!(actor.0));
            put("user", json!(user.0));
            put("asset", json!(asset.0));
            put("amount", json!(amount));
            "admin_hold"
        }
        Command::SetUserSuspended { actor, user, suspended } => {
            put("actor", json!(actor.0));
            put("user", json!(user.0));
            put("suspended", json!(suspended));
            "set_user_suspended"
        }
        Command::SetMarkPrice { actor, instrument, price } => {
            put("actor", json!(actor.0));
            put("instrument", json!(instrument.0));
            put("price", json!(price.0));
            "set_mark_price"
        }
        Command::ApplyFunding { actor, instrument, rate_ppm } => {
            put("actor", json!(actor.0));
            put("instrument", json!(instrument.0));
            put("rate_ppm", json!(rate_ppm));
            "apply_funding"
        }
        Command::ClosePosition { user, instrument, price } => {
            put("user", json!(user.0));
            put("instrument", json!(instrument.0));
            put("price", json!(price.map(|p| p.0)));
            "close_position"
        }
        Command::SetInstrumentLimits { actor, instrument, limits } => {
            put("actor", json!(actor.0));
            put("instrument", json!(instrument.0));
            put("notional_max", json!(limits.notional_max));
            put("price_band_bps", json!(limits.price_band_bps));
            put("position_max", json!(limits.position_max));
            "set_instrument_limits"
        }
        Command::SetUserLimits { actor, user, limits } => {
            put("actor", json!(actor.0));
            put("user", json!(user.0));
            put("qty_max", json!(limits.qty_max));
            put("notional_max", json!(limits.notional_max));
            put("open_orders_max", json!(limits.open_orders_max));
            put("position_max", json!(limits.position_max));
            "set_user_limits"
        }
        Command::SetInstrumentHalted { actor, instrument, halted } => {
            put("actor", json!(actor.0));
            put("instrument", json!(instrument.0));
            put("halted", json!(halted));
            "set_instrument_halted"
        }
        Command::Place(_) | Command::Cancel(_) | Command::Amend(_) | Command::MassCancel(_) => {
            unreachable!("order commands are described by `command`")
        }
    }
}

fn place(p: &Place, put: &mut impl FnMut(&str, Value)) {
    put("user", json!(p.user.0));
    put("instrument", json!(p.instrument.0));
    if !p.client_order_id.is_empty() {
        put("client_order_id", json!(p.client_order_id.as_str()));
    }
    put("side", json!(format!("{:?}", p.side)));
    put("type", json!(format!("{:?}", p.order_type)));
    put("price", json!(p.price.map(|p| p.0)));
    put("qty", json!(p.qty.0));
    if p.time_in_force != TimeInForce::Gtc {
        put("tif", json!(format!("{:?}", p.time_in_force)));
    }
    if p.post_only {
        put("post_only", json!(true));
    }
    put("stp", json!(format!("{:?}", p.self_trade)));
    if p.quote_budget != 0 {
        put("quote_budget", json!(p.quote_budget));
    }
    if p.reduce_only {
        put("reduce_only", json!(true));
    }
    if p.expire_ns != 0 {
        put("expire_ns", json!(p.expire_ns));
    }
    if let Some(t) = p.trigger {
        put(
            "trigger",
            json!({"price": t.price.0, "kind": format!("{:?}", t.kind), "source": format!("{:?}", t.source)}),
        );
    }
}

fn order_ref(order: &OrderRef, put: &mut impl FnMut(&str, Value)) {
    match order {
        OrderRef::Id(id) => put("order", json!(id.0)),
        OrderRef::Client(client) => put("client_order_id", json!(client.as_str())),
    }
}

/// The users a command acts for or on (actor included), for `--user`.
pub fn users(command: &Command) -> [Option<u32>; 2] {
    match *command {
        Command::CreateTenant { actor, .. }
        | Command::AddAsset { actor, .. }
        | Command::AddInstrument { actor, .. }
        | Command::SetMarkPrice { actor, .. }
        | Command::ApplyFunding { actor, .. }
        | Command::SetInstrumentLimits { actor, .. }
        | Command::SetInstrumentHalted { actor, .. } => [Some(actor.0), None],
        Command::CreateUser { actor, user, .. }
        | Command::AdminHold { actor, user, .. }
        | Command::SetUserSuspended { actor, user, .. }
        | Command::SetUserLimits { actor, user, .. } => [Some(actor.0), Some(user.0)],
        Command::Transfer(t) => match t.account {
            AccountRef::User(user) => [Some(t.actor.0), Some(user.0)],
            AccountRef::System(_) => [Some(t.actor.0), None],
        },
        Command::ClosePosition { user, .. } => [Some(user.0), None],
        Command::Place(ref p) => [Some(p.user.0), None],
        Command::Cancel(c) => [Some(c.user.0), None],
        Command::Amend(a) => [Some(a.user.0), None],
        Command::MassCancel(m) => [Some(m.user.0), None],
    }
}

/// The instrument a command names, for `--instrument`.
pub fn instrument(command: &Command) -> Option<u32> {
    match *command {
        Command::SetMarkPrice { instrument, .. }
        | Command::ApplyFunding { instrument, .. }
        | Command::ClosePosition { instrument, .. }
        | Command::SetInstrumentLimits { instrument, .. }
        | Command::SetInstrumentHalted { instrument, .. } => Some(instrument.0),
        Command::Place(ref p) => Some(p.instrument.0),
        Command::Cancel(c) => Some(c.instrument.0),
        Command::Amend(a) => Some(a.instrument.0),
        Command::MassCancel(m) => m.instrument.map(|i| i.0),
        _ => None,
    }
}

/// A line of text: `key=value` pairs (strings bare when they have no space).
pub fn text_fields(fields: &Map<String, Value>) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| match v {
            Value::String(s) if !s.contains(' ') && !s.is_empty() => format!("{k}={s}"),
            other => format!("{k}={other}"),
        })
        .collect();
    parts.join(" ")
}
