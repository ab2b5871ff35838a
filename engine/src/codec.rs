//! The command encoding: how a [`Command`] is written into a journal record's payload.
//!
//! Byte 0 is the encoding version ([`COMMAND_ENCODING_VERSION`]), byte 1 the command's tag, then
//! its fields in declaration order, little-endian, fixed width: ids u32 (transaction ids u64),
//! prices, quantities and amounts i64, booleans one byte (0 or 1), enums one byte with the numbers
//! of docs/FORMAT.md, an `Option` one byte (0 none, 1 some) then the value. docs/FORMAT.md lists
//! every command's layout; the golden test (`tests/tests/codec.rs`) keeps it and this code in step.
//!
//! Invariants: `decode(encode(c)) == c` for every command (property test over generated commands);
//! decoding arbitrary bytes never panics and accepts only an exact, well-formed encoding (a wrong
//! version, tag, enum value, boolean or length is an error). Encoding writes into a fixed buffer of
//! [`COMMAND_BYTES_MAX`] bytes: no allocation. Complexity O(size), at most 128 bytes.

use crate::command::{AccountRef, Amend, Cancel, Command, MassCancel, OrderRef, Place, Transfer};
use crate::ledger::SystemAccount;
use crate::limits::{InstrumentLimits, UserLimits};
use crate::types::{
    AssetId, AssetSpec, ClientOrderId, DecimalStep, InstrumentId, InstrumentKind, InstrumentSpec, OrderId,
    OrderType, Price, Qty, Role, SelfTradePrevention, Side, Symbol, TenantId, TimeInForce, Trigger,
    TriggerKind, TriggerSource, TxId, UserId,
};

/// The command encoding version.
pub const COMMAND_ENCODING_VERSION: u8 = 1;
/// Largest encoded command, bytes.
pub const COMMAND_BYTES_MAX: usize = 128;

/// Why bytes are not a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An encoding version this code does not read.
    #[error("command encoding version {0} is not supported")]
    Version(u8),
    /// An unknown command tag.
    #[error("unknown command tag {0}")]
    Tag(u8),
    /// A field value outside its type (an enum, boolean or option byte).
    #[error("bad value {value} at byte {at}")]
    Value {
        /// The byte offset.
        at: usize,
        /// The byte found.
        value: u8,
    },
    /// Too few bytes, or bytes left over.
    #[error("wrong length")]
    Length,
}

struct Writer<'a> {
    buf: &'a mut [u8; COMMAND_BYTES_MAX],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }
    fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i64(&mut self, v: i64) {
        self.bytes(&v.to_le_bytes());
    }
    fn i16(&mut self, v: i16) {
        self.bytes(&v.to_le_bytes());
    }
    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    fn i32(&mut self, v: i32) {
        self.bytes(&v.to_le_bytes());
    }
    fn bool(&mut self, v: bool) {
        self.u8(u8::from(v));
    }
    fn price_opt(&mut self, v: Option<Price>) {
        self.bool(v.is_some());
        self.i64(v.map_or(0, |p| p.0));
    }
    fn step(&mut self, v: DecimalStep) {
        self.i64(v.units);
        self.u8(v.scale);
    }
    fn order_ref(&mut self, v: &OrderRef) {
        match v {
            OrderRef::Id(id) => {
                self.u8(0);
                self.u64(id.0);
                self.bytes(&[0; 28]);
            }
            OrderRef::Client(client) => {
                self.u8(1);
                self.bytes(&client.0);
            }
        }
    }
}

pub(crate) struct Reader<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) at: usize,
}

impl Reader<'_> {
    pub(crate) fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let bytes = self.buf.get(self.at..self.at + n).ok_or(DecodeError::Length)?;
        self.at += n;
        Ok(bytes)
    }
    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        self.array().map(u32::from_le_bytes)
    }
    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        self.array().map(u64::from_le_bytes)
    }
    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        self.array().map(i64::from_le_bytes)
    }
    pub(crate) fn i16(&mut self) -> Result<i16, DecodeError> {
        self.array().map(i16::from_le_bytes)
    }
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        self.array().map(u16::from_le_bytes)
    }
    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        self.array().map(i32::from_le_bytes)
    }
    /// A one-byte enum value below `count`.
    pub(crate) fn small(&mut self, count: u8) -> Result<u8, DecodeError> {
        let at = self.at;
        let value = self.u8()?;
        if value < count { Ok(value) } else { Err(DecodeError::Value { at, value }) }
    }
    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        Ok(self.small(2)? == 1)
    }
    pub(crate) fn price_opt(&mut self) -> Result<Option<Price>, DecodeError> {
        let (some, at) = (self.bool()?, self.at);
        let price = self.i64()?;
        match (some, price) {
            (true, p) => Ok(Some(Price(p))),
            (false, 0) => Ok(None),
            (false, _) => Err(DecodeError::Value { at, value: 0xff }),
        }
    }
    pub(crate) fn step(&mut self) -> Result<DecimalStep, DecodeError> {
        Ok(DecimalStep { units: self.i64()?, scale: self.u8()? })
    }
    pub(crate) fn order_ref(&mut self) -> Result<OrderRef, DecodeError> {
        if self.small(2)? == 0 {
            let id = OrderId(self.u64()?);
            let at = self.at;
            if self.take(28)?.iter().any(|&b| b != 0) {
                return Err(DecodeError::Value { at, value: 0xff });
            }
            Ok(OrderRef::Id(id))
        } else {
            Ok(OrderRef::Client(ClientOrderId(self.array()?)))
        }
    }
}

pub(crate) const SIDES: [Side; 2] = [Side::Buy, Side::Sell];
const ORDER_TYPES: [OrderType; 2] = [OrderType::Limit, OrderType::Market];
const TIFS: [TimeInForce; 3] = [TimeInForce::Gtc, TimeInForce::Ioc, TimeInForce::Fok];
pub(crate) const STPS: [SelfTradePrevention; 4] = [
    SelfTradePrevention::None,
    SelfTradePrevention::CancelTaker,
    SelfTradePrevention::CancelMaker,
    SelfTradePrevention::CancelBoth,
];
pub(crate) const ROLES: [Role; 3] = [Role::Trader, Role::TenantAdmin, Role::Operator];
const KINDS: [InstrumentKind; 2] = [InstrumentKind::Spot, InstrumentKind::Perpetual];
const SYSTEMS: [SystemAccount; 3] = [SystemAccount::Fee, SystemAccount::Insurance, SystemAccount::Funding];
const TRIGGER_KINDS: [TriggerKind; 2] = [TriggerKind::StopLoss, TriggerKind::TakeProfit];
const SOURCES: [TriggerSource; 2] = [TriggerSource::LastPrice, TriggerSource::MarkPrice];

/// The position of a value in its table (the number written).
pub(crate) fn index_of<T: PartialEq>(table: &[T], value: &T) -> u8 {
    u8::try_from(table.iter().position(|v| v == value).expect("every value is in its table")).expect("small")
}

pub(crate) fn read_enum<T: Copy>(r: &mut Reader<'_>, table: &[T]) -> Result<T, DecodeError> {
    Ok(table[r.small(u8::try_from(table.len()).expect("small"))? as usize])
}

/// Encodes a command into `out`; returns the number of bytes written.
pub fn encode(command: &Command, out: &mut [u8; COMMAND_BYTES_MAX]) -> usize {
    let mut w = Writer { buf: out, at: 0 };
    w.u8(COMMAND_ENCODING_VERSION);
    match *command {
        Command::Place(ref p) => {
            w.u8(14);
            encode_place(&mut w, p);
        }
        Command::Cancel(ref c) => {
            w.u8(15);
            w.u32(c.user.0);
            w.u32(c.instrument.0);
            w.order_ref(&c.order);
        }
        Command::Amend(ref a) => {
            w.u8(16);
            w.u32(a.user.0);
            w.u32(a.instrument.0);
            w.order_ref(&a.order);
            w.i64(a.price.0);
            w.i64(a.qty.0);
            w.price_opt(a.trigger_price);
        }
        Command::MassCancel(ref m) => {
            w.u8(17);
            w.u32(m.user.0);
            w.bool(m.instrument.is_some());
            w.u32(m.instrument.map_or(0, |i| i.0));
        }
        _ => encode_admin(&mut w, command),
    }
    w.at
}

/// Admin commands: tags 1 to 13.
fn encode_admin(w: &mut Writer<'_>, command: &Command) {
    match *command {
        Command::CreateTenant { actor, tenant } => {
            w.u8(1);
            w.u32(actor.0);
            w.u32(tenant.0);
        }
        Command::CreateUser { actor, user, tenant, role } => {
            w.u8(2);
            w.u32(actor.0);
            w.u32(user.0);
            w.u32(tenant.0);
            w.u8(index_of(&ROLES, &role));
        }
        Command::AddAsset { actor, spec } => {
            w.u8(3);
            w.u32(actor.0);
            w.bytes(&spec.symbol.0);
            w.u8(spec.scale);
        }
        Command::AddInstrument { actor, spec } => {
            w.u8(4);
            w.u32(actor.0);
            encode_spec(w, &spec);
        }
        Command::Transfer(t) => {
            w.u8(5);
            w.u32(t.actor.0);
            match t.account {
                AccountRef::User(user) => {
                    w.u8(0);
                    w.u32(user.0);
                }
                AccountRef::System(system) => {
                    w.u8(1 + index_of(&SYSTEMS, &system));
                    w.u32(0);
                }
            }
            w.u32(t.asset.0);
            w.u64(t.tx.0);
            w.i64(t.amount);
        }
        Command::AdminHold { actor, user, asset, amount } => {
            w.u8(6);
            w.u32(actor.0);
            w.u32(user.0);
            w.u32(asset.0);
            w.i64(amount);
        }
        Command::SetUserSuspended { actor, user, suspended } => {
            w.u8(7);
            w.u32(actor.0);
            w.u32(user.0);
            w.bool(suspended);
        }
        Command::SetMarkPrice { actor, instrument, price } => {
            w.u8(8);
            w.u32(actor.0);
            w.u32(instrument.0);
            w.i64(price.0);
        }
        Command::ApplyFunding { actor, instrument, rate_ppm } => {
            w.u8(9);
            w.u32(actor.0);
            w.u32(instrument.0);
            w.i32(rate_ppm);
        }
        Command::ClosePosition { user, instrument, price } => {
            w.u8(10);
            w.u32(user.0);
            w.u32(instrument.0);
            w.price_opt(price);
        }
        Command::SetInstrumentLimits { actor, instrument, limits } => {
            w.u8(11);
            w.u32(actor.0);
            w.u32(instrument.0);
            w.i64(limits.notional_max);
            w.u32(limits.price_band_bps);
            w.i64(limits.position_max);
        }
        Command::SetUserLimits { actor, user, limits } => {
            w.u8(12);
            w.u32(actor.0);
            w.u32(user.0);
            w.i64(limits.qty_max);
            w.i64(limits.notional_max);
            w.u32(limits.open_orders_max);
            w.i64(limits.position_max);
        }
        Command::SetInstrumentHalted { actor, instrument, halted } => {
            w.u8(13);
            w.u32(actor.0);
            w.u32(instrument.0);
            w.bool(halted);
        }
        Command::Place(_) | Command::Cancel(_) | Command::Amend(_) | Command::MassCancel(_) => {
            unreachable!("order commands are encoded by `encode`")
        }
    }
}

fn encode_spec(w: &mut Writer<'_>, spec: &InstrumentSpec) {
    w.bytes(&spec.symbol.0);
    w.step(spec.tick);
    w.step(spec.lot);
    for v in [spec.qty_min.0, spec.qty_max.0, spec.price_min.0, spec.price_max.0] {
        w.i64(v);
    }
    w.u8(index_of(&KINDS, &spec.kind));
    w.u32(spec.base.0);
    w.u32(spec.quote.0);
    w.i16(spec.maker_fee_bps);
    w.i16(spec.taker_fee_bps);
    w.u16(spec.initial_margin_bps);
    w.u16(spec.maintenance_margin_bps);
    w.i64(spec.mark_price.0);
}

fn encode_place(w: &mut Writer<'_>, p: &Place) {
    w.u32(p.user.0);
    w.u32(p.instrument.0);
    w.bytes(&p.client_order_id.0);
    w.u8(index_of(&SIDES, &p.side));
    w.u8(index_of(&ORDER_TYPES, &p.order_type));
    w.price_opt(p.price);
    w.i64(p.qty.0);
    w.u8(index_of(&TIFS, &p.time_in_force));
    w.bool(p.post_only);
    w.u8(index_of(&STPS, &p.self_trade));
    w.u32(p.levels_max);
    w.i64(p.quote_budget);
    w.bool(p.reduce_only);
    w.u64(p.expire_ns);
    w.bool(p.trigger.is_some());
    let trigger = p.trigger.unwrap_or(Trigger {
        price: Price(0),
        kind: TriggerKind::StopLoss,
        source: TriggerSource::LastPrice,
    });
    w.i64(trigger.price.0);
    w.u8(index_of(&TRIGGER_KINDS, &trigger.kind));
    w.u8(index_of(&SOURCES, &trigger.source));
}

/// Decodes a command: exactly one, well-formed, of this encoding version.
pub fn decode(bytes: &[u8]) -> Result<Command, DecodeError> {
    let mut r = Reader { buf: bytes, at: 0 };
    let version = r.u8()?;
    if version != COMMAND_ENCODING_VERSION {
        return Err(DecodeError::Version(version));
    }
    let command = match r.u8()? {
        14 => Command::Place(decode_place(&mut r)?),
        15 => Command::Cancel(Cancel {
            user: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            order: r.order_ref()?,
        }),
        16 => Command::Amend(Amend {
            user: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            order: r.order_ref()?,
            price: Price(r.i64()?),
            qty: Qty(r.i64()?),
            trigger_price: r.price_opt()?,
        }),
        17 => {
            let user = UserId(r.u32()?);
            let (some, at) = (r.bool()?, r.at);
            let instrument = r.u32()?;
            if !some && instrument != 0 {
                return Err(DecodeError::Value { at, value: 0xff });
            }
            Command::MassCancel(MassCancel { user, instrument: some.then_some(InstrumentId(instrument)) })
        }
        tag => decode_admin(tag, &mut r)?,
    };
    if r.at != bytes.len() {
        return Err(DecodeError::Length);
    }
    Ok(command)
}

/// Admin commands: tags 1 to 13.
fn decode_admin(tag: u8, r: &mut Reader<'_>) -> Result<Command, DecodeError> {
    Ok(match tag {
        1 => Command::CreateTenant { actor: UserId(r.u32()?), tenant: TenantId(r.u32()?) },
        2 => Command::CreateUser {
            actor: UserId(r.u32()?),
            user: UserId(r.u32()?),
            tenant: TenantId(r.u32()?),
            role: read_enum(r, &ROLES)?,
        },
        3 => Command::AddAsset {
            actor: UserId(r.u32()?),
            spec: AssetSpec { symbol: Symbol(r.array()?), scale: r.u8()? },
        },
        4 => Command::AddInstrument { actor: UserId(r.u32()?), spec: decode_spec(r)? },
        5 => {
            let actor = UserId(r.u32()?);
            let kind = r.small(4)?;
            let at = r.at;
            let user = r.u32()?;
            let account = match kind {
                0 => AccountRef::User(UserId(user)),
                _ if user != 0 => return Err(DecodeError::Value { at, value: 0xff }),
                k => AccountRef::System(SYSTEMS[k as usize - 1]),
            };
            let transfer =
                Transfer { actor, account, asset: AssetId(r.u32()?), tx: TxId(r.u64()?), amount: r.i64()? };
            Command::Transfer(transfer)
        }
        6 => Command::AdminHold {
            actor: UserId(r.u32()?),
            user: UserId(r.u32()?),
            asset: AssetId(r.u32()?),
            amount: r.i64()?,
        },
        7 => Command::SetUserSuspended {
            actor: UserId(r.u32()?),
            user: UserId(r.u32()?),
            suspended: r.bool()?,
        },
        8 => Command::SetMarkPrice {
            actor: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            price: Price(r.i64()?),
        },
        9 => Command::ApplyFunding {
            actor: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            rate_ppm: r.i32()?,
        },
        10 => Command::ClosePosition {
            user: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            price: r.price_opt()?,
        },
        11 => Command::SetInstrumentLimits {
            actor: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            limits: InstrumentLimits {
                notional_max: r.i64()?,
                price_band_bps: r.u32()?,
                position_max: r.i64()?,
            },
        },
        12 => Command::SetUserLimits {
            actor: UserId(r.u32()?),
            user: UserId(r.u32()?),
            limits: UserLimits {
                qty_max: r.i64()?,
                notional_max: r.i64()?,
                open_orders_max: r.u32()?,
                position_max: r.i64()?,
            },
        },
        13 => Command::SetInstrumentHalted {
            actor: UserId(r.u32()?),
            instrument: InstrumentId(r.u32()?),
            halted: r.bool()?,
        },
        tag => return Err(DecodeError::Tag(tag)),
    })
}

fn decode_spec(r: &mut Reader<'_>) -> Result<InstrumentSpec, DecodeError> {
    Ok(InstrumentSpec {
        symbol: Symbol(r.array()?),
        tick: r.step()?,
        lot: r.step()?,
        qty_min: Qty(r.i64()?),
        qty_max: Qty(r.i64()?),
        price_min: Price(r.i64()?),
        price_max: Price(r.i64()?),
        kind: read_enum(r, &KINDS)?,
        base: AssetId(r.u32()?),
        quote: AssetId(r.u32()?),
        maker_fee_bps: r.i16()?,
        taker_fee_bps: r.i16()?,
        initial_margin_bps: r.u16()?,
        maintenance_margin_bps: r.u16()?,
        mark_price: Price(r.i64()?),
    })
}

fn decode_place(r: &mut Reader<'_>) -> Result<Place, DecodeError> {
    let mut place = Place {
        user: UserId(r.u32()?),
        instrument: InstrumentId(r.u32()?),
        client_order_id: ClientOrderId(r.array()?),
        side: read_enum(r, &SIDES)?,
        order_type: read_enum(r, &ORDER_TYPES)?,
        price: r.price_opt()?,
        qty: Qty(r.i64()?),
        time_in_force: read_enum(r, &TIFS)?,
        post_only: r.bool()?,
        self_trade: read_enum(r, &STPS)?,
        levels_max: r.u32()?,
        quote_budget: r.i64()?,
        reduce_only: r.bool()?,
        expire_ns: r.u64()?,
        trigger: None,
    };
    let (some, at) = (r.bool()?, r.at);
    let trigger = Trigger {
        price: Price(r.i64()?),
        kind: read_enum(r, &TRIGGER_KINDS)?,
        source: read_enum(r, &SOURCES)?,
    };
    let default = Trigger { price: Price(0), kind: TriggerKind::StopLoss, source: TriggerSource::LastPrice };
    if !some && trigger != default {
        return Err(DecodeError::Value { at, value: 0xff });
    }
    place.trigger = some.then_some(trigger);
    Ok(place)
}
