//! Queries: read-only answers about balances, positions, margin, orders and books.
//!
//! Nothing here changes state, so queries are not journaled; the runtime answers them in sequence
//! between commands. Answers that are lists are written to a caller's buffer (cleared first), so a
//! caller that reuses its buffers does not allocate. Complexity: balances O(assets), positions
//! O(perpetuals), margin O(perpetuals), open orders O(orders of the user + waiting conditionals),
//! order status O(1) by id or client id for resting orders (a scan of the waiting conditionals
//! otherwise), depth O(levels returned). Open orders sorts the user's conditionals in place: no
//! allocation beyond the caller's buffer.

use crate::book::NIL;
use crate::command::OrderRef;
use crate::engine::Engine;
use crate::ledger::Balance;
use crate::types::{AssetId, ClientOrderId, InstrumentId, OrderId, Price, Qty, Side, UserId};

/// A position with its figures at the current mark price.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PositionView {
    /// The perpetual.
    pub instrument: InstrumentId,
    /// Signed lots (positive long).
    pub qty: i64,
    /// Cost of the open quantity at entry, quote minor units.
    pub entry_notional: i64,
    /// The mark price.
    pub mark: Price,
    /// Mark notional minus entry notional, signed for the side (quote minor units).
    pub unrealized_pnl: i64,
    /// Realized PnL since the position opened.
    pub realized_pnl: i64,
    /// Initial margin of the position at the mark.
    pub initial_margin: i64,
    /// Maintenance margin of the position at the mark.
    pub maintenance_margin: i64,
}

/// A user's margin in one settlement asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarginView {
    /// Equity: the available balance (positions are settled to the mark).
    pub equity: i64,
    /// Initial margin of positions and open orders.
    pub initial_margin: i64,
    /// Maintenance margin of positions.
    pub maintenance_margin: i64,
    /// Equity less initial margin: what new orders and withdrawals may use (may be negative).
    pub available_margin: i64,
}

/// An open order as its owner sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OpenOrder {
    /// Its id.
    pub order: OrderId,
    /// Its instrument.
    pub instrument: InstrumentId,
    /// Its client order id (empty when none).
    pub client_order_id: ClientOrderId,
    /// Side.
    pub side: Side,
    /// Limit price.
    pub price: Price,
    /// Open quantity.
    pub qty: Qty,
    /// Quote or base it holds (spot).
    pub held: i64,
    /// Margin it reserves (perpetuals).
    pub margin: i64,
    /// A conditional order waiting for this trigger (`price` is then its order's limit or
    /// protection price, 0 for none).
    pub trigger: Option<crate::types::Trigger>,
}

impl Engine {
    /// A user's balances of every asset, in asset order (empty for an unknown user).
    pub fn balances(&self, user: UserId, out: &mut Vec<(AssetId, Balance)>) {
        out.clear();
        if self.ledger.user(user).is_some() {
            for asset in 0..self.ledger.assets.len() {
                let asset = AssetId(u32::try_from(asset).expect("assets_max fits u32"));
                out.push((asset, self.ledger.balance(user, asset)));
            }
        }
    }

    /// A user's open positions, in perpetual listing order.
    pub fn positions(&self, user: UserId, out: &mut Vec<PositionView>) {
        out.clear();
        if self.ledger.user(user).is_none() {
            return;
        }
        for &book in &self.perp_books {
            if let Some(view) = self.position_view(user, InstrumentId(book)) {
                out.push(view);
            }
        }
    }

    /// One position, if open.
    pub fn position_view(&self, user: UserId, instrument: InstrumentId) -> Option<PositionView> {
        let book = instrument.0 as usize;
        let market = self.markets.get(book).filter(|m| m.perp != u32::MAX)?;
        self.ledger.user(user)?;
        let p = self.position(book, user);
        if p.qty == 0 {
            return None;
        }
        let value = crate::money::notional(market.mark, Qty(p.qty.abs()), market.quote_unit);
        let unrealized = if p.qty > 0 { value - p.entry_notional } else { p.entry_notional - value };
        Some(PositionView {
            instrument,
            qty: p.qty,
            entry_notional: p.entry_notional,
            mark: market.mark,
            unrealized_pnl: unrealized,
            realized_pnl: p.realized_pnl,
            initial_margin: crate::perp::bps_ceil(value, market.initial_bps),
            maintenance_margin: crate::perp::bps_ceil(value, market.maintenance_bps),
        })
    }

    /// A user's margin in a settlement asset (`None` for an unknown user or asset).
    pub fn margin(&self, user: UserId, asset: AssetId) -> Option<MarginView> {
        self.ledger.user(user)?;
        self.ledger.asset(asset)?;
        let equity = self.ledger.balance(user, asset).available;
        let margin = self.margin_use(user, asset);
        Some(MarginView {
            equity,
            initial_margin: margin.initial,
            maintenance_margin: margin.maintenance,
            available_margin: equity - margin.initial,
        })
    }

    fn open_order(&self, slot: u32) -> OpenOrder {
        let o = &self.orders[slot as usize];
        let funds = &self.resting_funds(slot);
        OpenOrder {
            order: o.id,
            instrument: o.instrument,
            client_order_id: if o.has_client_id() {
                self.client_ids[slot as usize]
            } else {
                ClientOrderId::EMPTY
            },
            side: o.side,
            price: o.price,
            qty: o.qty,
            held: funds.held,
            margin: funds.margin,
            trigger: None,
        }
    }

    fn open_conditional(&self, index: u32) -> OpenOrder {
        let c = &self.conditionals[index as usize];
        OpenOrder {
            order: c.id,
            instrument: c.place.instrument,
            client_order_id: c.place.client_order_id,
            side: c.place.side,
            price: c.place.price.unwrap_or(Price(0)),
            qty: c.place.qty,
            held: c.funds.held,
            margin: c.funds.margin,
            trigger: c.place.trigger,
        }
    }

    /// A user's open orders, optionally on one instrument: resting orders oldest first, then waiting
    /// conditional orders oldest first.
    pub fn open_orders(&self, user: UserId, instrument: Option<InstrumentId>, out: &mut Vec<OpenOrder>) {
        out.clear();
        let Some(list) = self.users.get(user.0 as usize) else { return };
        let mut slot = list.head;
        while slot != NIL {
            if instrument.is_none_or(|i| i == self.orders[slot as usize].instrument) {
                out.push(self.open_order(slot));
            }
            slot = self.links[slot as usize].user_next;
        }
        let resting = out.len();
        for (_, _, (_, _, index)) in self.conditional_entries() {
            let c = &self.conditionals[index as usize];
            if c.place.user == user && instrument.is_none_or(|i| i == c.place.instrument) {
                out.push(self.open_conditional(index));
            }
        }
        out[resting..].sort_unstable_by_key(|o| o.order);
    }

    /// Runs every check a placement would (validation, limits, hold or margin) without placing:
    /// what Binance's `order.test` answers. Read-only; the verdict holds for the current state.
    pub fn test_order(&self, place: &crate::command::Place) -> Result<(), crate::reject::RejectCode> {
        if place.trigger.is_some() {
            self.validate_conditional(place).map(|_| ())
        } else {
            self.validate_place(place).map(|_| ())
        }
    }

    /// One open order of a user, by id or client order id (`None` once it is filled or cancelled),
    /// waiting conditional orders included.
    pub fn order_status(&self, user: UserId, order: &OrderRef) -> Option<OpenOrder> {
        self.resting_status(user, order).or_else(|| {
            let (book, list, at) = (0..self.triggers.len()).find_map(|book| {
                self.find_conditional(user, book, order).map(|(list, at)| (book, list, at))
            })?;
            Some(self.open_conditional(self.triggers[book].lists[list][at].2))
        })
    }

    fn resting_status(&self, user: UserId, order: &OrderRef) -> Option<OpenOrder> {
        let slot = match order {
            OrderRef::Id(id) => self.live_slot(*id)?,
            OrderRef::Client(client_id) => {
                if client_id.is_empty() || !client_id.is_valid() {
                    return None;
                }
                self.find_client_order(user, client_id)?
            }
        };
        (self.orders[slot as usize].user == user).then(|| self.open_order(slot))
    }
}
