//! Admin commands: tenants, users, assets, transfers, admin holds, suspension and halts.
//!
//! Who may do what (the actor must exist and not be suspended):
//! - operators (tenant 0): everything;
//! - tenant admins: within their own tenant only, create traders and tenant admins, deposit,
//!   withdraw, hold and release, suspend and resume; never system accounts, assets or instruments;
//! - traders: no admin command.
//!
//! Every handler validates fully before its first write, so a refused command changes nothing.
//! Complexity: O(1) each, except `AddAsset` and admin holds (a `BTreeMap` insert: admin commands are
//! rare and not on the hot path).

use crate::book::UserOrders;
use crate::command::{AccountRef, Transfer};
use crate::engine::Engine;
use crate::event::Event;
use crate::ledger::{AssetState, SystemAccount};
use crate::reject::RejectCode;
use crate::types::{
    ASSET_SCALE_MAX, AssetId, AssetSpec, BALANCE_MAX, InstrumentId, Role, TenantId, TxId, UserId,
};

impl Engine {
    /// The actor's role, if it exists and is not suspended.
    fn actor_role(&self, actor: UserId) -> Result<(Role, TenantId), RejectCode> {
        let info = self.ledger.user(actor).ok_or(RejectCode::UnknownUser)?;
        if info.suspended {
            return Err(RejectCode::UserSuspended);
        }
        Ok((info.role, info.tenant))
    }

    pub(crate) fn require_operator(&self, actor: UserId) -> Result<(), RejectCode> {
        match self.actor_role(actor)? {
            (Role::Operator, _) => Ok(()),
            _ => Err(RejectCode::NotAuthorized),
        }
    }

    /// The actor may manage users of `tenant`.
    fn require_manager(&self, actor: UserId, tenant: TenantId) -> Result<(), RejectCode> {
        match self.actor_role(actor)? {
            (Role::Operator, _) => Ok(()),
            (Role::TenantAdmin, own) if own == tenant => Ok(()),
            _ => Err(RejectCode::NotAuthorized),
        }
    }

    /// The actor may manage `user`, which exists.
    pub(crate) fn require_user_manager(&self, actor: UserId, user: UserId) -> Result<(), RejectCode> {
        let tenant = self.ledger.user(user).ok_or(RejectCode::UnknownUser)?.tenant;
        self.require_manager(actor, tenant)
    }

    pub(crate) fn check_asset(&self, asset: AssetId) -> Result<&AssetState, RejectCode> {
        self.ledger.asset(asset).ok_or(RejectCode::UnknownAsset)
    }

    pub(crate) fn create_tenant(
        &mut self,
        actor: UserId,
        tenant: TenantId,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_operator(actor)?;
        let slot = self.ledger.tenants.get_mut(tenant.0 as usize).ok_or(RejectCode::UnknownTenant)?;
        if *slot {
            return Err(RejectCode::DuplicateTenant);
        }
        *slot = true;
        out.push(Event::TenantCreated { tenant });
        Ok(())
    }

    pub(crate) fn create_user(
        &mut self,
        (actor, user, tenant, role): (UserId, UserId, TenantId, Role),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_manager(actor, tenant)?;
        if !self.ledger.tenants.get(tenant.0 as usize).copied().unwrap_or(false) {
            return Err(RejectCode::UnknownTenant);
        }
        if role == Role::Operator && (tenant.0 != 0 || self.actor_role(actor)?.0 != Role::Operator) {
            return Err(RejectCode::NotAuthorized);
        }
        let info = self.ledger.users.get_mut(user.0 as usize).ok_or(RejectCode::UnknownUser)?;
        if info.exists {
            return Err(RejectCode::DuplicateUser);
        }
        info.exists = true;
        info.tenant = tenant;
        info.role = role;
        self.users[user.0 as usize].status = UserOrders::EXISTS;
        out.push(Event::UserCreated { user, tenant, role });
        Ok(())
    }

    pub(crate) fn add_asset(
        &mut self,
        actor: UserId,
        spec: &AssetSpec,
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_operator(actor)?;
        if !spec.symbol.is_valid() || spec.scale > ASSET_SCALE_MAX {
            return Err(RejectCode::InvalidAssetSpec);
        }
        if self.ledger.asset_symbols.contains_key(&spec.symbol) {
            return Err(RejectCode::DuplicateAsset);
        }
        if self.ledger.assets.len() >= self.ledger.assets_max as usize {
            return Err(RejectCode::AssetsFull);
        }
        let asset = AssetId(u32::try_from(self.ledger.assets.len()).expect("assets_max fits u32"));
        self.ledger.assets.push(AssetState {
            spec: *spec,
            system: [0; 3],
            net_deposits: 0,
            last_tx: TxId(0),
        });
        self.ledger.asset_symbols.insert(spec.symbol, asset);
        out.push(Event::AssetAdded { asset, symbol: spec.symbol, scale: spec.scale });
        Ok(())
    }

    /// The last accepted transaction id of an account's owner.
    fn last_tx(&self, account: AccountRef, asset: AssetId) -> TxId {
        match account {
            AccountRef::User(user) => self.ledger.users[user.0 as usize].last_tx,
            AccountRef::System(_) => self.ledger.assets[asset.0 as usize].last_tx,
        }
    }

    /// What an account may pay out: a user's available balance less the margin its perpetuals use.
    fn available(&self, account: AccountRef, asset: AssetId) -> i64 {
        match account {
            AccountRef::User(user) => self.spendable(user, asset),
            AccountRef::System(system) => self.ledger.assets[asset.0 as usize].system[system as usize - 1],
        }
    }

    fn validate_transfer(&self, t: &Transfer) -> Result<(), RejectCode> {
        match t.account {
            AccountRef::User(user) => self.require_user_manager(t.actor, user)?,
            AccountRef::System(_) => self.require_operator(t.actor)?,
        }
        let asset = self.check_asset(t.asset)?;
        if t.amount == 0 || t.amount == i64::MIN {
            return Err(RejectCode::InvalidAmount);
        }
        if t.tx <= self.last_tx(t.account, t.asset) {
            return Err(RejectCode::DuplicateTransfer);
        }
        if t.amount > 0 && t.amount > BALANCE_MAX - asset.net_deposits {
            return Err(RejectCode::BalanceLimit);
        }
        if t.amount < 0 && -t.amount > self.available(t.account, t.asset) {
            return Err(RejectCode::InsufficientBalance);
        }
        Ok(())
    }

    pub(crate) fn transfer(&mut self, t: &Transfer, out: &mut Vec<Event>) -> Result<(), RejectCode> {
        self.validate_transfer(t)?;
        self.ledger.assets[t.asset.0 as usize].net_deposits += t.amount;
        match t.account {
            AccountRef::User(user) => {
                self.ledger.users[user.0 as usize].last_tx = t.tx;
                self.ledger.balance_mut(user, t.asset).available += t.amount;
            }
            AccountRef::System(system) => {
                self.ledger.assets[t.asset.0 as usize].last_tx = t.tx;
                *self.ledger.system_mut(t.asset, system) += t.amount;
            }
        }
        out.push(Event::Transferred { account: t.account, asset: t.asset, tx: t.tx, amount: t.amount });
        if let AccountRef::User(user) = t.account {
            self.push_balance(user, t.asset, out);
        }
        Ok(())
    }

    pub(crate) fn admin_hold(
        &mut self,
        (actor, user, asset, amount): (UserId, UserId, AssetId, i64),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_user_manager(actor, user)?;
        self.check_asset(asset)?;
        if amount == 0 || amount == i64::MIN {
            return Err(RejectCode::InvalidAmount);
        }
        let held = self.ledger.admin_hold(user, asset);
        if amount > self.spendable(user, asset) || -amount > held {
            return Err(RejectCode::InsufficientBalance);
        }
        if amount > 0 {
            self.ledger.hold(user, asset, amount);
        } else {
            self.ledger.release(user, asset, -amount);
        }
        if held + amount == 0 {
            self.ledger.admin_holds.remove(&(user, asset));
        } else {
            self.ledger.admin_holds.insert((user, asset), held + amount);
        }
        self.push_balance(user, asset, out);
        Ok(())
    }

    pub(crate) fn set_user_suspended(
        &mut self,
        (actor, user, suspended): (UserId, UserId, bool),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_user_manager(actor, user)?;
        if user == actor {
            // Nobody locks themselves out (and the last operator cannot vanish by accident).
            return Err(RejectCode::NotAuthorized);
        }
        self.ledger.users[user.0 as usize].suspended = suspended;
        let status = &mut self.users[user.0 as usize].status;
        *status = UserOrders::EXISTS | if suspended { UserOrders::SUSPENDED } else { 0 };
        out.push(Event::UserSuspended { user, suspended });
        Ok(())
    }

    pub(crate) fn set_instrument_halted(
        &mut self,
        (actor, instrument, halted): (UserId, InstrumentId, bool),
        out: &mut Vec<Event>,
    ) -> Result<(), RejectCode> {
        self.require_operator(actor)?;
        let book = self.book_index(instrument)?;
        self.markets[book].halted = halted;
        out.push(Event::InstrumentHalted { instrument, halted });
        Ok(())
    }

    /// Reports a user's balance of an asset.
    pub(crate) fn push_balance(&self, user: UserId, asset: AssetId, out: &mut Vec<Event>) {
        let balance = self.ledger.balance(user, asset);
        out.push(Event::Balance { user, asset, available: balance.available, held: balance.held });
    }

    /// A system account's balance.
    pub fn system_balance(&self, asset: AssetId, account: SystemAccount) -> Option<i64> {
        self.ledger.asset(asset).map(|a| a.system[account as usize - 1])
    }
}
