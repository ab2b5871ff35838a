//! The server's configuration (TOML, every key in docs/CONFIG.md) and its keystore.
//!
//! Invariants: unknown keys are errors (`deny_unknown_fields`), so a typo never silently falls
//! back to a default; every decimal (tick, lot, limits, deposits) must be exact on its grid;
//! [`Config::validate`] turns the market description into the engine commands that list it, and
//! fails with the path of the bad key (`instruments[1].tick: ...`). Secrets live only in the
//! keystore, which never reaches the journal or the logs.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use ferrex_engine::runtime::{Durability, WaitStrategy};
use ferrex_engine::{
    AccountRef, AssetId, AssetSpec, Command, EngineConfig, InstrumentKind, InstrumentSpec, Price, Qty, Role,
    Symbol, TenantId, Transfer, TxId, UserId,
};
use serde::Deserialize;

use crate::decimal::{self, DecimalError};
use crate::limits::{LimitsConfig, Tier};

/// The largest journal segment, MiB: segments stay under 4 GiB (the journal's `AppendMark`
/// packs a segment's offsets in 32 bits).
pub const SEGMENT_MIB_MAX: usize = 4_095;

/// The embedded demo configuration.
pub const DEMO_CONFIG: &str = include_str!("../demo/demo.toml");
/// The embedded demo keystore (named `embedded:demo` by the demo configuration).
pub const DEMO_KEYS: &str = include_str!("../demo/keys.toml");
/// The keystore name that selects [`DEMO_KEYS`].
pub const DEMO_KEYSTORE: &str = "embedded:demo";

/// The whole configuration file.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The keystore file (API keys and secrets), or `embedded:demo`.
    pub keystore: String,
    /// Network.
    pub server: Server,
    /// The journal.
    pub journal: Journal,
    /// The core thread.
    #[serde(default)]
    pub core: Core,
    /// Engine capacities.
    #[serde(default)]
    pub engine: Capacities,
    /// Assets, in listing order (ids from 0).
    pub assets: Vec<Asset>,
    /// Instruments, in listing order (ids from 0).
    pub instruments: Vec<Instrument>,
    /// Tenants besides tenant 0 (the exchange itself).
    #[serde(default)]
    pub tenants: Vec<u32>,
    /// Users created on a new journal.
    #[serde(default)]
    pub users: Vec<User>,
    /// Rate limits.
    #[serde(default)]
    pub limits: LimitsConfig,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Server {
    /// The WebSocket API's address (`127.0.0.1:8765`; port 0 picks a free one).
    pub listen: String,
    /// Open connections at most.
    #[serde(default = "defaults::connections_max")]
    pub connections_max: usize,
    /// The largest WebSocket message accepted, bytes.
    #[serde(default = "defaults::frame_bytes_max")]
    pub frame_bytes_max: usize,
    /// The largest `recvWindow` a signed request may ask for, ms.
    #[serde(default = "defaults::recv_window_ms_max")]
    pub recv_window_ms_max: u64,
    /// The admin HTTP address (`/metrics`, `/health`, `/ready`); none: not served.
    pub admin_listen: Option<String>,
    /// The binary protocol's address (docs/API-BINARY.md); none: not served.
    pub binary_listen: Option<String>,
    /// Binary sessions: a heartbeat after this long without other messages, ms.
    #[serde(default = "defaults::heartbeat_interval_ms")]
    pub heartbeat_interval_ms: u64,
    /// Binary sessions: cut off after this long without a message from the client, ms.
    #[serde(default = "defaults::idle_timeout_ms")]
    pub idle_timeout_ms: u64,
    /// Binary sessions: execution reports kept in memory for replays (older ones are rebuilt
    /// from the journal).
    #[serde(default = "defaults::replay_window_reports")]
    pub replay_window_reports: usize,
}

/// `[journal]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Journal {
    /// The journal directory (relative to the working directory).
    pub dir: PathBuf,
    /// `sync` or `async`.
    #[serde(default = "defaults::durability")]
    pub durability: String,
    /// `async`: the most a power loss can lose, ms (the background sync's interval).
    #[serde(default = "defaults::async_sync_every_ms")]
    pub async_sync_every_ms: u64,
    /// Segment size, MiB.
    #[serde(default = "defaults::segment_mib")]
    pub segment_mib: usize,
    /// Records between snapshots.
    #[serde(default = "defaults::snapshot_every_records")]
    pub snapshot_every_records: u64,
    /// Snapshots kept.
    #[serde(default = "defaults::snapshot_keep")]
    pub snapshot_keep: usize,
}

/// `[core]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Core {
    /// The CPU to pin the core thread to.
    pub cpu: Option<usize>,
    /// `busy-spin`, `spin-yield` or `spin-park` (default).
    pub wait: Option<String>,
}

/// `[engine]`.
#[derive(Clone, Copy, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Capacities {
    /// Resting orders at most.
    pub orders_max: u32,
    /// Users at most (ids `0..users_max`).
    pub users_max: u32,
    /// Price levels at most.
    pub levels_max: u32,
}

impl Default for Capacities {
    fn default() -> Self {
        Capacities { orders_max: 1 << 20, users_max: 1 << 14, levels_max: 1 << 18 }
    }
}

/// `[[assets]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Asset {
    /// Symbol (`USDT`).
    pub symbol: String,
    /// Decimals of the minor unit.
    pub scale: u8,
}

/// `[[instruments]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Symbol (`BTC-USDT`).
    pub symbol: String,
    /// `spot` or `perpetual`.
    pub kind: String,
    /// Base asset symbol.
    pub base: String,
    /// Quote (settlement) asset symbol.
    pub quote: String,
    /// Price step.
    pub tick: String,
    /// Quantity step.
    pub lot: String,
    /// Smallest order quantity.
    pub min_qty: String,
    /// Largest order quantity.
    pub max_qty: String,
    /// Lowest price.
    pub min_price: String,
    /// Highest price.
    pub max_price: String,
    /// Maker fee, basis points (negative: rebate).
    #[serde(default)]
    pub maker_fee_bps: i16,
    /// Taker fee, basis points.
    #[serde(default)]
    pub taker_fee_bps: i16,
    /// Perpetuals: initial margin, basis points.
    #[serde(default)]
    pub initial_margin_bps: u16,
    /// Perpetuals: maintenance margin, basis points.
    #[serde(default)]
    pub maintenance_margin_bps: u16,
    /// Perpetuals: the mark price at listing.
    pub mark_price: Option<String>,
}

/// `[[users]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// User id (1 or more; 0 is the operator).
    pub id: u32,
    /// A name for logs and the start banner.
    pub name: String,
    /// Tenant.
    #[serde(default)]
    pub tenant: u32,
    /// `trader` (default), `tenant-admin` or `operator`.
    #[serde(default = "defaults::role")]
    pub role: String,
    /// Deposits made when the journal is new: asset symbol to amount.
    #[serde(default)]
    pub deposits: BTreeMap<String, String>,
    /// Its order rate tier (`[limits.tiers.NAME]`; `default` when not given).
    pub tier: Option<String>,
}

mod defaults {
    pub fn connections_max() -> usize {
        10_000
    }
    pub fn frame_bytes_max() -> usize {
        64 * 1024
    }
    pub fn recv_window_ms_max() -> u64 {
        60_000
    }
    pub fn heartbeat_interval_ms() -> u64 {
        1_000
    }
    pub fn idle_timeout_ms() -> u64 {
        5_000
    }
    pub fn replay_window_reports() -> usize {
        1 << 17
    }
    pub fn durability() -> String {
        "sync".into()
    }
    pub fn async_sync_every_ms() -> u64 {
        10
    }
    pub fn segment_mib() -> usize {
        64
    }
    pub fn snapshot_every_records() -> u64 {
        1_000_000
    }
    pub fn snapshot_keep() -> usize {
        3
    }
    pub fn role() -> String {
        "trader".into()
    }
}

/// A bad configuration: which key, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{key}: {problem}")]
pub struct ConfigError {
    /// The key's path (`instruments[1].tick`).
    pub key: String,
    /// What is wrong.
    pub problem: String,
}

fn bad(key: impl Into<String>, problem: impl std::fmt::Display) -> ConfigError {
    ConfigError { key: key.into(), problem: problem.to_string() }
}

/// An instrument as the gateway sees it: the engine's spec plus its id and display steps.
#[derive(Clone, Debug)]
pub struct Listed {
    /// Engine id.
    pub id: ferrex_engine::InstrumentId,
    /// Symbol text.
    pub symbol: String,
    /// The engine's spec.
    pub spec: InstrumentSpec,
    /// Base and quote asset symbols.
    pub assets: (String, String),
}

/// What a valid configuration means.
#[derive(Clone, Debug)]
pub struct Validated {
    /// The engine's capacities.
    pub engine: EngineConfig,
    /// The instruments.
    pub instruments: Vec<Listed>,
    /// Asset symbols and scales by id.
    pub assets: Vec<(String, u8)>,
    /// Commands that list the market on a new journal (assets, instruments, tenants, users,
    /// deposits), run by the operator.
    pub setup: Vec<Command>,
    /// The listen address.
    pub listen: SocketAddr,
    /// Durability.
    pub durability: Durability,
    /// The core's wait strategy.
    pub wait: WaitStrategy,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Configured users: id -> (tenant, order tier).
    pub users: BTreeMap<u32, (u32, Tier)>,
}

impl Validated {
    /// A user's tenant and order tier (users not in the configuration: tenant 0, `default`).
    pub fn tier(&self, user: u32) -> (u32, Tier) {
        self.users.get(&user).copied().unwrap_or_else(|| (0, self.limits.tiers["default"]))
    }
}

impl Config {
    /// Parses a configuration file's text; errors name the bad key.
    pub fn parse(text: &str) -> Result<Config, ConfigError> {
        toml::from_str(text).map_err(|e| {
            let message = e.message().to_string();
            let at = e.span().map(|span| {
                let line = text[..span.start].lines().count().max(1);
                format!("line {line}")
            });
            bad(at.unwrap_or_else(|| "config".into()), message)
        })
    }

    /// Reads and parses a file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| bad(path.display().to_string(), e))?;
        Config::parse(&text)
    }

    /// The embedded demo configuration.
    pub fn demo() -> Config {
        Config::parse(DEMO_CONFIG).expect("the embedded demo configuration is valid")
    }

    /// Checks everything and derives the market.
    pub fn validate(&self) -> Result<Validated, ConfigError> {
        let listen = self.server.listen.parse().map_err(|e| bad("server.listen", e))?;
        let durability = self.journal.durability.parse().map_err(|e| bad("journal.durability", e))?;
        if !(1..=60_000).contains(&self.journal.async_sync_every_ms) {
            return Err(bad("journal.async_sync_every_ms", "from 1 to 60000 ms"));
        }
        if !(1..=SEGMENT_MIB_MAX).contains(&self.journal.segment_mib) {
            return Err(bad("journal.segment_mib", format!("from 1 to {SEGMENT_MIB_MAX} MiB")));
        }
        let wait =
            self.core.wait.as_deref().unwrap_or("spin-park").parse().map_err(|e| bad("core.wait", e))?;
        let engine = EngineConfig {
            orders_max: self.engine.orders_max,
            users_max: self.engine.users_max,
            levels_max: self.engine.levels_max,
            assets_max: u32::try_from(self.assets.len().max(1)).map_err(|e| bad("assets", e))?,
            instruments_max: u32::try_from(self.instruments.len().max(1))
                .map_err(|e| bad("instruments", e))?,
            ..EngineConfig::default()
        };
        let mut scratch = ferrex_engine::Engine::new(engine).map_err(|e| bad("engine", e))?;
        let operator = UserId(0);
        let mut setup = Vec::new();
        // The configuration key behind each set-up command, to name it if the engine refuses it.
        let mut keys: Vec<String> = Vec::new();
        let mut assets = Vec::new();
        for (i, asset) in self.assets.iter().enumerate() {
            let symbol = Symbol::new(&asset.symbol)
                .map_err(|e| bad(format!("assets[{i}].symbol"), format!("{e:?}")))?;
            if assets.iter().any(|(s, _)| s == &asset.symbol) {
                return Err(bad(format!("assets[{i}].symbol"), "listed twice"));
            }
            setup.push(Command::AddAsset { actor: operator, spec: AssetSpec { symbol, scale: asset.scale } });
            keys.push(format!("assets[{i}]"));
            assets.push((asset.symbol.clone(), asset.scale));
        }
        let asset_id = |key: String, symbol: &str| {
            assets
                .iter()
                .position(|(s, _)| s == symbol)
                .map(|i| AssetId(u32::try_from(i).expect("few assets")))
                .ok_or_else(|| bad(key, format!("no asset {symbol:?}")))
        };
        let mut instruments = Vec::new();
        for (i, instrument) in self.instruments.iter().enumerate() {
            let spec = instrument_spec(i, instrument, &asset_id)?;
            setup.push(Command::AddInstrument { actor: operator, spec });
            keys.push(format!("instruments[{i}]"));
            instruments.push(Listed {
                id: ferrex_engine::InstrumentId(u32::try_from(i).expect("few instruments")),
                symbol: instrument.symbol.clone(),
                spec,
                assets: (instrument.base.clone(), instrument.quote.clone()),
            });
        }
        for (i, &tenant) in self.tenants.iter().enumerate() {
            if tenant == 0 {
                return Err(bad(format!("tenants[{i}]"), "tenant 0 always exists"));
            }
            setup.push(Command::CreateTenant { actor: operator, tenant: TenantId(tenant) });
            keys.push(format!("tenants[{i}]"));
        }
        self.users_setup(&engine, &assets, &asset_id, (&mut setup, &mut keys))?;
        // The engine has the last word: the set-up must apply with no reject.
        let mut events = Vec::new();
        for (command, key) in setup.iter().zip(&keys) {
            events.clear();
            scratch.apply(command, &mut events);
            if let Some(code) = events.iter().find_map(|e| match e {
                ferrex_engine::Event::Rejected { code, .. } => Some(*code),
                _ => None,
            }) {
                return Err(bad(
                    key.clone(),
                    format!("refused by the engine: {code:?} ({}; docs/REJECT_CODES.md)", code.code()),
                ));
            }
        }
        let users = self.user_tiers()?;
        Ok(Validated {
            engine,
            instruments,
            assets,
            setup,
            listen,
            durability,
            wait,
            limits: self.limits.clone(),
            users,
        })
    }

    /// Each configured user's tenant and tier; the `default` tier must exist.
    fn user_tiers(&self) -> Result<BTreeMap<u32, (u32, Tier)>, ConfigError> {
        let default = *self
            .limits
            .tiers
            .get("default")
            .ok_or_else(|| bad("limits.tiers", "a `default` tier is needed"))?;
        for (name, tier) in &self.limits.tiers {
            if tier.orders_per_second == 0 || tier.orders_per_minute == 0 {
                return Err(bad(format!("limits.tiers.{name}"), "limits must be positive"));
            }
        }
        let limits = &self.limits;
        if limits.tenant_orders_per_second == 0
            || limits.connection_messages_per_second == 0
            || limits.ip_connections_max == 0
        {
            return Err(bad("limits", "limits must be positive"));
        }
        let mut users = BTreeMap::new();
        for (i, user) in self.users.iter().enumerate() {
            let tier = match &user.tier {
                None => default,
                Some(name) => *self
                    .limits
                    .tiers
                    .get(name)
                    .ok_or_else(|| bad(format!("users[{i}].tier"), format!("no tier {name:?}")))?,
            };
            users.insert(user.id, (user.tenant, tier));
        }
        Ok(users)
    }

    /// The set-up commands of the users and their deposits, with the key behind each.
    fn users_setup(
        &self,
        engine: &EngineConfig,
        assets: &[(String, u8)],
        asset_id: &dyn Fn(String, &str) -> Result<AssetId, ConfigError>,
        (setup, keys): (&mut Vec<Command>, &mut Vec<String>),
    ) -> Result<(), ConfigError> {
        let operator = UserId(0);
        for (i, user) in self.users.iter().enumerate() {
            let key = |field: &str| format!("users[{i}].{field}");
            if user.id == 0 || user.id >= engine.users_max {
                return Err(bad(key("id"), format!("must be 1 to {}", engine.users_max - 1)));
            }
            let role = match user.role.as_str() {
                "trader" => Role::Trader,
                "tenant-admin" => Role::TenantAdmin,
                "operator" => Role::Operator,
                other => return Err(bad(key("role"), format!("unknown role {other:?}"))),
            };
            setup.push(Command::CreateUser {
                actor: operator,
                user: UserId(user.id),
                tenant: TenantId(user.tenant),
                role,
            });
            keys.push(format!("users[{i}]"));
            for (tx, (symbol, amount)) in (1u64..).zip(&user.deposits) {
                let asset = asset_id(key("deposits"), symbol)?;
                let scale = assets[asset.0 as usize].1;
                let amount = decimal::to_units(amount, scale)
                    .map_err(|e| bad(format!("users[{i}].deposits.{symbol}"), e))?;
                setup.push(Command::Transfer(Transfer {
                    actor: operator,
                    account: AccountRef::User(UserId(user.id)),
                    asset,
                    tx: TxId(tx),
                    amount,
                }));
                keys.push(format!("users[{i}].deposits.{symbol}"));
            }
        }
        Ok(())
    }
}

fn instrument_spec(
    i: usize,
    instrument: &Instrument,
    asset_id: &dyn Fn(String, &str) -> Result<AssetId, ConfigError>,
) -> Result<InstrumentSpec, ConfigError> {
    let key = |field: &str| format!("instruments[{i}].{field}");
    let step =
        |field: &str, text: &str| decimal::parse_step(text).map_err(|e: DecimalError| bad(key(field), e));
    let symbol = Symbol::new(&instrument.symbol).map_err(|e| bad(key("symbol"), format!("{e:?}")))?;
    let tick = step("tick", &instrument.tick)?;
    let lot = step("lot", &instrument.lot)?;
    let steps = |field: &str, text: &str, s| decimal::to_steps(text, s).map_err(|e| bad(key(field), e));
    let kind = match instrument.kind.as_str() {
        "spot" => InstrumentKind::Spot,
        "perpetual" => InstrumentKind::Perpetual,
        other => return Err(bad(key("kind"), format!("unknown kind {other:?} (spot, perpetual)"))),
    };
    let mark_price = match (&instrument.mark_price, kind) {
        (Some(text), InstrumentKind::Perpetual) => Price(steps("mark_price", text, tick)?),
        (None, InstrumentKind::Perpetual) => return Err(bad(key("mark_price"), "a perpetual needs one")),
        (Some(_), InstrumentKind::Spot) => return Err(bad(key("mark_price"), "only perpetuals have one")),
        (None, InstrumentKind::Spot) => Price(0),
    };
    let spec = InstrumentSpec {
        symbol,
        tick,
        lot,
        qty_min: Qty(steps("min_qty", &instrument.min_qty, lot)?),
        qty_max: Qty(steps("max_qty", &instrument.max_qty, lot)?),
        price_min: Price(steps("min_price", &instrument.min_price, tick)?),
        price_max: Price(steps("max_price", &instrument.max_price, tick)?),
        kind,
        base: asset_id(key("base"), &instrument.base)?,
        quote: asset_id(key("quote"), &instrument.quote)?,
        maker_fee_bps: instrument.maker_fee_bps,
        taker_fee_bps: instrument.taker_fee_bps,
        initial_margin_bps: instrument.initial_margin_bps,
        maintenance_margin_bps: instrument.maintenance_margin_bps,
        mark_price,
    };
    if !spec.is_valid() {
        return Err(bad(
            format!("instruments[{i}]"),
            "inconsistent: check limits, fees and margins (docs/CONFIG.md)",
        ));
    }
    Ok(spec)
}

/// One API key.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    /// The public key id clients send as `apiKey`.
    pub api_key: String,
    /// The HMAC-SHA256 secret (requests signed with HMAC).
    pub secret: Option<String>,
    /// The Ed25519 public key, 32 bytes in hex (requests and `session.logon` signed with
    /// Ed25519, base64 signatures).
    pub ed25519_public_key: Option<String>,
    /// The user it acts as.
    pub user: u32,
}

impl Key {
    /// The Ed25519 public key's bytes.
    pub fn ed25519(&self) -> Option<[u8; 32]> {
        let bytes = hex::decode(self.ed25519_public_key.as_deref()?).ok()?;
        bytes.try_into().ok()
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Secrets never reach logs.
        f.debug_struct("Key")
            .field("api_key", &self.api_key)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeystoreFile {
    keys: Vec<Key>,
}

/// Reads the keystore the configuration names (`embedded:demo` for the demo keys).
pub fn load_keys(name: &str) -> Result<Vec<Key>, ConfigError> {
    let text = if name == DEMO_KEYSTORE {
        DEMO_KEYS.to_string()
    } else {
        std::fs::read_to_string(name).map_err(|e| bad("keystore", format!("{name}: {e}")))?
    };
    let file: KeystoreFile = toml::from_str(&text).map_err(|e| bad("keystore", e.message()))?;
    for (i, key) in file.keys.iter().enumerate() {
        if key.secret.is_none() && key.ed25519_public_key.is_none() {
            return Err(bad(format!("keystore keys[{i}]"), "needs a secret or an ed25519_public_key"));
        }
        if key.ed25519_public_key.is_some() && key.ed25519().is_none() {
            return Err(bad(format!("keystore keys[{i}].ed25519_public_key"), "must be 32 bytes in hex"));
        }
    }
    Ok(file.keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_configuration_is_valid_and_lists_three_instruments() {
        let validated = Config::demo().validate().expect("valid");
        let symbols: Vec<&str> = validated.instruments.iter().map(|l| l.symbol.as_str()).collect();
        assert_eq!(symbols, ["BTC-USDT", "ETH-USDT", "BTC-USDT-PERP"]);
        assert_eq!(load_keys(DEMO_KEYSTORE).expect("demo keys").len(), 11);
    }

    #[test]
    fn a_bad_key_is_named() {
        let text = DEMO_CONFIG.replace("tick = \"0.01\"\nlot = \"0.0001\"", "tick = \"0.01\"\nlot = \"-1\"");
        let error = Config::parse(&text).expect("parses").validate().expect_err("invalid");
        assert_eq!(error.key, "instruments[0].lot");
        let text =
            DEMO_CONFIG.replace("tick = \"0.01\"\nlot = \"0.0001\"", "tick = \"0.01\"\nlot = \"0.00001\"");
        let error = Config::parse(&text).expect("parses").validate().expect_err("refused by the engine");
        assert_eq!(error.key, "instruments[0]", "a lot times a tick finer than the quote's unit: {error}");
        let error = Config::parse(&DEMO_CONFIG.replace("[server]", "[server]\nlisten_port = 1"))
            .expect_err("unknown");
        assert!(error.problem.contains("listen_port"), "{error}");
        for segment_mib in [0, SEGMENT_MIB_MAX + 1] {
            let text = DEMO_CONFIG.replace("[journal]", &format!("[journal]\nsegment_mib = {segment_mib}"));
            let error = Config::parse(&text).expect("parses").validate().expect_err("out of range");
            assert_eq!(error.key, "journal.segment_mib", "{segment_mib} MiB: {error}");
        }
    }
}
