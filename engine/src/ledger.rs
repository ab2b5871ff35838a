//! The ledger: tenants, users, assets and accounts, and the moves of money between accounts.
//!
//! Accounts: one per (user, asset) in a dense table (`users_max * assets_max` entries of 16 bytes,
//! allocated up front), each an `available` and a `held` balance; plus three system accounts per asset:
//! fee, insurance and funding. Held money is either held by open orders or held by an operator
//! ("admin hold"); admin holds are kept apart so the invariants can tell them from order holds.
//!
//! Invariants (checked by `check_invariants`):
//! - per asset, the sum of available + held over every user account and the three system accounts
//!   equals deposits minus withdrawals: money moves, it is never created or destroyed;
//! - no balance is negative and none exceeds `BALANCE_MAX`; neither does an asset's total;
//! - a user's held balance equals its orders' holds plus its admin hold.
//!
//! Idempotency of transfers: each account owner (a user, or an asset's system accounts) remembers the
//! last transaction id it accepted; a transfer must carry a larger one. A repeated or older id is
//! answered `DuplicateTransfer` and changes nothing. Memory stays bounded; the price is that a tenant
//! numbers its transfers per user in increasing order (its own ledger sequence does).
//!
//! Complexity: every operation O(1), except admin holds (a `BTreeMap`, admin commands only).

use std::collections::BTreeMap;

use crate::types::{AssetId, AssetSpec, Role, Symbol, TenantId, TxId, UserId};

/// One user's balance of one asset.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balance {
    /// Free to use.
    pub available: i64,
    /// Held by open orders and operator holds.
    pub held: i64,
}

/// Everything known about a user besides its orders.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct UserInfo {
    pub(crate) exists: bool,
    pub(crate) suspended: bool,
    pub(crate) role: Role,
    pub(crate) tenant: TenantId,
    /// Last accepted transfer id (0: none yet).
    pub(crate) last_tx: TxId,
    /// Pre-trade limits of the user (limits.rs).
    pub(crate) limits: crate::limits::UserLimits,
}

/// A system account of an asset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum SystemAccount {
    /// Receives fees, pays maker rebates.
    Fee = 1,
    /// Takes liquidation losses beyond a user's equity and liquidation remainders.
    Insurance = 2,
    /// Receives the rounding of funding payments.
    Funding = 3,
}

/// An asset and its system accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AssetState {
    pub(crate) spec: AssetSpec,
    /// Fee, insurance, funding balances (indexed by `SystemAccount as usize - 1`).
    pub(crate) system: [i64; 3],
    /// Sum of deposits minus withdrawals, every account included.
    pub(crate) net_deposits: i64,
    /// Last accepted transfer id of the system accounts.
    pub(crate) last_tx: TxId,
}

/// Tenants, users, assets and balances.
#[derive(Clone, Debug)]
pub(crate) struct Ledger {
    pub(crate) tenants: Vec<bool>,
    pub(crate) users: Vec<UserInfo>,
    pub(crate) assets: Vec<AssetState>,
    pub(crate) asset_symbols: BTreeMap<Symbol, AssetId>,
    /// `users_max * assets_max` balances, row per user.
    pub(crate) accounts: Vec<Balance>,
    pub(crate) admin_holds: BTreeMap<(UserId, AssetId), i64>,
    pub(crate) assets_max: u32,
}

impl Ledger {
    /// A ledger with tenant 0 and user 0 (the exchange's operator, role `Operator`).
    pub(crate) fn new(tenants_max: u32, users_max: u32, assets_max: u32) -> Ledger {
        let mut ledger = Ledger {
            tenants: crate::engine::prefaulted(tenants_max as usize, false),
            users: crate::engine::prefaulted(users_max as usize, UserInfo::default()),
            assets: Vec::with_capacity(assets_max as usize),
            asset_symbols: BTreeMap::new(),
            accounts: crate::engine::prefaulted(users_max as usize * assets_max as usize, Balance::default()),
            admin_holds: BTreeMap::new(),
            assets_max,
        };
        ledger.tenants[0] = true;
        ledger.users[0] = UserInfo { exists: true, role: Role::Operator, ..UserInfo::default() };
        ledger
    }

    pub(crate) fn user(&self, user: UserId) -> Option<&UserInfo> {
        self.users.get(user.0 as usize).filter(|info| info.exists)
    }

    pub(crate) fn asset(&self, asset: AssetId) -> Option<&AssetState> {
        self.assets.get(asset.0 as usize)
    }

    fn index(&self, user: UserId, asset: AssetId) -> usize {
        user.0 as usize * self.assets_max as usize + asset.0 as usize
    }

    /// A user's balance of an asset (both ids valid).
    pub(crate) fn balance(&self, user: UserId, asset: AssetId) -> Balance {
        self.accounts[self.index(user, asset)]
    }

    pub(crate) fn balance_mut(&mut self, user: UserId, asset: AssetId) -> &mut Balance {
        let index = self.index(user, asset);
        &mut self.accounts[index]
    }

    pub(crate) fn system_mut(&mut self, asset: AssetId, account: SystemAccount) -> &mut i64 {
        &mut self.assets[asset.0 as usize].system[account as usize - 1]
    }

    /// Moves `amount` from available to held (the caller checked it is available).
    pub(crate) fn hold(&mut self, user: UserId, asset: AssetId, amount: i64) {
        let balance = self.balance_mut(user, asset);
        assert!(amount >= 0 && balance.available >= amount, "hold {amount} beyond available {balance:?}");
        balance.available -= amount;
        balance.held += amount;
    }

    /// Moves `amount` from held back to available.
    pub(crate) fn release(&mut self, user: UserId, asset: AssetId, amount: i64) {
        let balance = self.balance_mut(user, asset);
        assert!(amount >= 0 && balance.held >= amount, "release {amount} beyond held {balance:?}");
        balance.held -= amount;
        balance.available += amount;
    }

    /// Takes `amount` out of held: money that leaves this account for another.
    pub(crate) fn spend_held(&mut self, user: UserId, asset: AssetId, amount: i64) {
        let balance = self.balance_mut(user, asset);
        assert!(amount >= 0 && balance.held >= amount, "spend {amount} beyond held {balance:?}");
        balance.held -= amount;
    }

    /// Adds `amount` to available: money that arrives from another account.
    pub(crate) fn credit(&mut self, user: UserId, asset: AssetId, amount: i64) {
        let balance = self.balance_mut(user, asset);
        assert!(amount >= 0, "negative credit {amount}");
        balance.available += amount;
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.tenants.capacity()
            + self.users.capacity() * size_of::<UserInfo>()
            + self.assets.capacity() * size_of::<AssetState>()
            + self.accounts.capacity() * size_of::<Balance>()
    }

    /// The admin hold of a user on an asset.
    pub(crate) fn admin_hold(&self, user: UserId, asset: AssetId) -> i64 {
        self.admin_holds.get(&(user, asset)).copied().unwrap_or(0)
    }
}
