//! Recovery workloads on real files (a directory under the system's temporary directory, removed
//! afterwards):
//! - [`replay`]: the exchange-core mix journaled as the runtime journals it (one record per
//!   command, the command encoding, rising timestamps), the log closed and opened again, then
//!   `recovery::recover` from the snapshot of the starting book: records replayed per second,
//!   reading, checksum and chain checks, decoding and applying included;
//! - [`snapshot_large`]: a state of 1,000,000 resting orders and about 1,000,000 funded accounts
//!   (65,535 users x 16 assets) written as a snapshot file and loaded back, each phase timed.

use std::time::Instant;

use ferrex_engine::codec::{self, COMMAND_BYTES_MAX};
use ferrex_engine::recovery::{self, Until};
use ferrex_engine::{
    AccountRef, AssetId, AssetSpec, Command, DecimalStep, Engine, EngineConfig, Event, InstrumentId, Place,
    Price, Qty, Role, Side, Symbol, TenantId, Transfer, TxId, UserId,
};
use ferrex_journal::file::{FileStorage, Flush};
use ferrex_journal::snapshot;
use ferrex_journal::wal::Wal;

use crate::journal::{SEGMENT, Scratch};
use crate::{Rng, mix};

/// One replay measurement.
#[derive(Clone, Copy, Debug)]
pub struct ReplayResult {
    /// Records replayed.
    pub records: u64,
    /// Records per second, recovery as a whole.
    pub per_s: f64,
    /// Journal bytes read.
    pub bytes: u64,
    /// Records per second of reading alone (checksums and chain), and of reading and decoding.
    pub read_per_s: f64,
    /// Reading and decoding the commands.
    pub decode_per_s: f64,
}

/// Journals `count` commands of the exchange-core mix and replays them.
pub fn replay(count: usize) -> ReplayResult {
    let scratch = Scratch::new("replay");
    let mix = mix::generate(count, 42);
    let start_engine = mix::prepared(&mix);
    {
        let storage = FileStorage::open(&scratch.0, Flush::Fdatasync).expect("scratch directory");
        let (mut wal, _) = Wal::open(storage, SEGMENT).expect("new journal");
        recovery::write_snapshot(wal.storage_mut(), &start_engine, 0, 0).expect("snapshot");
        let mut buf = [0u8; COMMAND_BYTES_MAX];
        for (n, command) in mix.commands.iter().enumerate() {
            let len = codec::encode(command, &mut buf);
            wal.append(n as u64 + 1, &buf[..len]).expect("append");
        }
        wal.sync().expect("sync");
    }
    let storage = FileStorage::open(&scratch.0, Flush::Fdatasync).expect("scratch directory");
    let (wal, _) = Wal::open(storage, SEGMENT).expect("journal");
    let bytes = wal.segments().iter().map(|s| s.2 as u64).sum();
    let warm = wal.read_from(1).count();
    assert_eq!(warm, count);
    let start = Instant::now();
    let read = wal.read_from(1).map(|(h, p)| h.sequence ^ p.len() as u64).fold(0, u64::wrapping_add);
    let read_per_s = count as f64 / start.elapsed().as_secs_f64();
    let start = Instant::now();
    let decoded = wal.read_from(1).filter(|(_, p)| codec::decode(p).is_ok()).count();
    let decode_per_s = count as f64 / start.elapsed().as_secs_f64();
    assert_eq!(decoded, count);
    std::hint::black_box(read);
    let start = Instant::now();
    let (engine, report) =
        recovery::recover(&wal, Some(start_engine.config()), Until::End, &mut |_, _| {}).expect("recovery");
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(report.replayed, count as u64, "every record replayed");
    std::hint::black_box(engine.state_hash());
    ReplayResult {
        records: report.replayed,
        per_s: report.replayed as f64 / seconds,
        bytes,
        read_per_s,
        decode_per_s,
    }
}

/// One large snapshot measurement, milliseconds per phase.
#[derive(Clone, Copy, Debug)]
pub struct SnapshotResult {
    /// Resting orders in the state.
    pub orders: usize,
    /// Funded accounts (user x asset) in the state.
    pub accounts: usize,
    /// Snapshot file size, bytes.
    pub file_bytes: u64,
    /// Encoding the body.
    pub encode_ms: f64,
    /// State hash, checksum, write, fsync, rename and directory sync.
    pub write_ms: f64,
    /// Reading the file and checking its checksums.
    pub read_ms: f64,
    /// Rebuilding and verifying the engine (`recovery::load_snapshot`: allocation, rebuild, then
    /// `check_invariants` and the state hash compared with the header's, side by side).
    pub verified_ms: f64,
    /// For reference, measured apart: the state hash alone.
    pub hash_ms: f64,
    /// For reference, measured apart: an empty engine of the same configuration (allocating and
    /// prefaulting).
    pub alloc_ms: f64,
    /// For reference, measured apart: `check_invariants` alone.
    pub invariants_ms: f64,
}

impl SnapshotResult {
    /// Writing as a whole.
    pub fn write_total_ms(&self) -> f64 {
        self.encode_ms + self.write_ms
    }

    /// Loading as a whole.
    pub fn load_total_ms(&self) -> f64 {
        self.read_ms + self.verified_ms
    }
}

const ASSETS: u32 = 16;
const MID: i64 = 100_000;

/// A state of `orders` resting orders over 15 spot pairs and `users` users funded in 16 assets.
pub fn large_state(orders: usize, users: u32) -> Engine {
    let config = EngineConfig {
        orders_max: 1 << 20,
        levels_max: 1 << 16,
        instruments_max: 64,
        users_max: users + 1,
        side_levels_reserved: 256,
        assets_max: ASSETS,
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(config).expect("valid config");
    let mut events = Vec::with_capacity(64);
    let mut apply = |engine: &mut Engine, command: Command| {
        events.clear();
        engine.apply(&command, &mut events);
        assert!(!events.iter().any(|e| matches!(e, Event::Rejected { .. })), "{command:?}: {events:?}");
    };
    for asset in 0..ASSETS {
        let symbol = Symbol::new(&format!("C{asset}")).expect("symbol");
        apply(&mut engine, Command::AddAsset { actor: UserId(0), spec: AssetSpec { symbol, scale: 8 } });
    }
    for asset in 1..ASSETS {
        let mut spec = crate::spec(&format!("C{asset}-C0"));
        (spec.qty_max, spec.price_max) = (Qty(1_000_000), Price(1_000_000));
        (spec.base, spec.quote) = (AssetId(asset), AssetId(0));
        (spec.tick, spec.lot) = (DecimalStep { units: 1, scale: 2 }, DecimalStep { units: 1, scale: 2 });
        apply(&mut engine, Command::AddInstrument { actor: UserId(0), spec });
    }
    for user in 1..=users {
        let create = Command::CreateUser {
            actor: UserId(0),
            user: UserId(user),
            tenant: TenantId(0),
            role: Role::Trader,
        };
        apply(&mut engine, create);
        for asset in 0..ASSETS {
            apply(
                &mut engine,
                Command::Transfer(Transfer {
                    actor: UserId(0),
                    account: AccountRef::User(UserId(user)),
                    asset: AssetId(asset),
                    tx: TxId(u64::from(asset) + 1),
                    amount: 10_000_000_000_000,
                }),
            );
        }
    }
    let mut rng = Rng(7);
    for n in 0..orders {
        let side = if n % 2 == 0 { Side::Buy } else { Side::Sell };
        let offset = rng.range(1, 100);
        let price = if side == Side::Buy { MID - offset } else { MID + offset };
        apply(
            &mut engine,
            Command::Place(Place {
                user: UserId(1 + (n as u32 % users)),
                instrument: InstrumentId(n as u32 % (ASSETS - 1)),
                side,
                price: Some(Price(price)),
                qty: Qty(rng.range(1, 100)),
                ..Place::default()
            }),
        );
    }
    assert_eq!(engine.resting_orders_len(), orders);
    engine
}

/// Writes `engine` as a snapshot file and loads it back.
pub fn snapshot_large(engine: &Engine) -> SnapshotResult {
    let scratch = Scratch::new("snapshot");
    let mut storage = FileStorage::open(&scratch.0, Flush::Fdatasync).expect("scratch directory");
    let ms = |start: Instant| start.elapsed().as_secs_f64() * 1e3;
    let start = Instant::now();
    let mut body = Vec::new();
    engine.write_snapshot(&mut body);
    let encode_ms = ms(start);
    let start = Instant::now();
    let name = snapshot::write(&mut storage, 1, 1, engine.state_hash(), &body).expect("written");
    let write_ms = ms(start);
    drop(body);
    let start = Instant::now();
    let (header, body) = snapshot::read(&storage, &name).expect("read");
    let read_ms = ms(start);
    let start = Instant::now();
    let loaded = recovery::load_snapshot(&body, header.state_hash).expect("loads to the state written");
    let verified_ms = ms(start);
    let (orders, accounts) =
        (loaded.resting_orders_len(), loaded.users().count().saturating_sub(1) * ASSETS as usize);
    drop(body);
    let start = Instant::now();
    assert_eq!(loaded.state_hash(), header.state_hash);
    let hash_ms = ms(start);
    let start = Instant::now();
    loaded.check_invariants().expect("consistent");
    let invariants_ms = ms(start);
    let config = *loaded.config();
    drop(loaded);
    let start = Instant::now();
    let empty = Engine::new(config).expect("valid config");
    let alloc_ms = ms(start);
    drop(empty);
    SnapshotResult {
        orders,
        accounts,
        file_bytes: header.body_len + snapshot::SNAPSHOT_HEADER_LEN as u64,
        encode_ms,
        write_ms,
        read_ms,
        verified_ms,
        hash_ms,
        alloc_ms,
        invariants_ms,
    }
}
