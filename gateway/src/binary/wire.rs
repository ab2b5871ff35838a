//! The binary protocol's messages: little-endian, fixed offsets, every layout derived from its
//! field list and checked at compile time (docs/API-BINARY.md is generated from the same lists and
//! a test keeps the two equal).
//!
//! Every message starts with a 4-byte header: `length: u16` (the whole message, header
//! included), `kind: u8`, `version: u8` ([`VERSION`]). The body's fields follow one after the
//! other with no padding; each message type has one fixed length except the depth snapshot,
//! whose fixed part is followed by `count` levels of [`LEVEL_LEN`] bytes.
//!
//! Invariants: `decode(encode(m)) == m` for every message; decoding checks the header's length
//! against the type's length and never panics on any input (fuzzed through the server's framing).
//! Complexity: O(length). Known limitation: text fields (API key, client order id, symbol) are
//! ASCII, zero-padded; a field that is full has no terminating zero.

/// Header: length (u16), kind (u8), version (u8).
pub const HEADER_LEN: usize = 4;
/// The protocol version every message carries.
pub const VERSION: u8 = 1;
/// The largest message a client may send, bytes (larger lengths cut the connection off).
pub const CLIENT_MESSAGE_BYTES_MAX: usize = 256;
/// The largest message the server sends, bytes (a depth snapshot with every level it may carry).
pub const SERVER_MESSAGE_BYTES_MAX: usize = DepthSnapshot::LEN + LEVEL_LEN * DEPTH_SNAPSHOT_LEVELS_MAX;
/// Levels one depth snapshot carries at most (both sides together).
pub const DEPTH_SNAPSHOT_LEVELS_MAX: usize = 400;
/// One level of a depth snapshot: side (u8), 7 reserved bytes, price (i64), quantity (i64).
pub const LEVEL_LEN: usize = 24;
/// `NewOrder::price` of a market order without a price bound.
pub const NO_PRICE: i64 = i64::MIN;
/// `MassCancel::instrument` for every instrument.
pub const ALL_INSTRUMENTS: u32 = u32::MAX;

/// A fixed-size little-endian field type.
pub trait Wire: Sized + Copy {
    /// Its size, bytes.
    const SIZE: usize;
    /// Its name in the documentation.
    const NAME: &'static str;
    /// Writes it at the start of `out`.
    fn put(self, out: &mut [u8]);
    /// Reads it from the start of `bytes` (at least `SIZE` long).
    fn get(bytes: &[u8]) -> Self;
}

macro_rules! wire_int {
    ($($t:ty => $name:literal),*) => {$(
        impl Wire for $t {
            const SIZE: usize = std::mem::size_of::<$t>();
            const NAME: &'static str = $name;
            fn put(self, out: &mut [u8]) {
                out[..Self::SIZE].copy_from_slice(&self.to_le_bytes());
            }
            fn get(bytes: &[u8]) -> Self {
                <$t>::from_le_bytes(bytes[..Self::SIZE].try_into().expect("SIZE bytes"))
            }
        }
    )*};
}
wire_int!(u8 => "u8", u16 => "u16", u32 => "u32", u64 => "u64", i64 => "i64");

impl<const N: usize> Wire for [u8; N] {
    const SIZE: usize = N;
    const NAME: &'static str = "bytes";
    fn put(self, out: &mut [u8]) {
        out[..N].copy_from_slice(&self);
    }
    fn get(bytes: &[u8]) -> Self {
        bytes[..N].try_into().expect("N bytes")
    }
}

/// One field of a layout, for the documentation and its test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// Its name.
    pub name: &'static str,
    /// Its offset from the start of the message.
    pub offset: usize,
    /// Its size, bytes.
    pub size: usize,
    /// Its type (`u8`, `u16`, `u32`, `u64`, `i64`, `bytes`).
    pub type_name: &'static str,
    /// What it means.
    pub doc: &'static str,
}

/// A message type's layout.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    /// Its name.
    pub name: &'static str,
    /// Its kind byte.
    pub kind: u8,
    /// Its length (the fixed part for the depth snapshot).
    pub len: usize,
    /// What it is.
    pub doc: &'static str,
    /// Its fields after the header.
    pub fields: &'static [Field],
}

/// Why bytes are not a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than a header.
    #[error("short header")]
    Short,
    /// The length field disagrees with the type's length.
    #[error("message kind {kind:#04x} must be {expected} bytes, its header says {found}")]
    Length {
        /// The kind.
        kind: u8,
        /// The type's length.
        expected: usize,
        /// The header's length.
        found: usize,
    },
    /// Another protocol version.
    #[error("version {0} is not supported")]
    Version(u8),
    /// A kind this side does not accept.
    #[error("unknown message kind {0:#04x}")]
    Kind(u8),
}

/// The header of `bytes`: (length, kind, version), if 4 bytes are there.
#[must_use]
pub fn header(bytes: &[u8]) -> Option<(usize, u8, u8)> {
    (bytes.len() >= HEADER_LEN).then(|| (usize::from(u16::get(bytes)), bytes[2], bytes[3]))
}

fn put_header(out: &mut [u8], len: usize, kind: u8) {
    u16::try_from(len).expect("messages fit u16 lengths").put(out);
    out[2] = kind;
    out[3] = VERSION;
}

macro_rules! count {
    () => { 0usize };
    ($head:ident $($tail:ident)*) => { 1usize + count!($($tail)*) };
}

macro_rules! messages {
    ($(
        $(#[doc = $doc:literal])*
        $name:ident = $kind:literal, $len:literal {
            $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ty ),* $(,)?
        }
    )*) => {$(
        $(#[doc = $doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[doc = $fdoc])* pub $field: $ty, )*
        }

        impl $name {
            /// Its kind byte.
            pub const KIND: u8 = $kind;
            /// Its length, header included.
            pub const LEN: usize = HEADER_LEN $(+ <$ty as Wire>::SIZE)*;
            /// Its layout.
            pub const LAYOUT: Layout = Layout {
                name: stringify!($name),
                kind: $kind,
                len: Self::LEN,
                doc: concat!($($doc),*),
                fields: &{
                    let sizes: [usize; count!($($field)*)] = [$(<$ty as Wire>::SIZE),*];
                    let names: [&str; count!($($field)*)] = [$(stringify!($field)),*];
                    let types: [&str; count!($($field)*)] = [$(<$ty as Wire>::NAME),*];
                    let docs: [&str; count!($($field)*)] = [$(concat!($($fdoc),*)),*];
                    let mut fields = [Field { name: "", offset: 0, size: 0, type_name: "", doc: "" }; count!($($field)*)];
                    let mut at = HEADER_LEN;
                    let mut i = 0;
                    while i < sizes.len() {
                        fields[i] = Field { name: names[i], offset: at, size: sizes[i], type_name: types[i], doc: docs[i] };
                        at += sizes[i];
                        i += 1;
                    }
                    fields
                },
            };

            /// Writes the message at the start of `out` (at least `LEN` bytes); returns `LEN`.
            #[allow(unused_assignments, unused_mut, unused_variables)]
            pub fn encode(&self, out: &mut [u8]) -> usize {
                put_header(out, Self::LEN, $kind);
                let mut at = HEADER_LEN;
                $( self.$field.put(&mut out[at..]); at += <$ty as Wire>::SIZE; )*
                Self::LEN
            }

            /// The message as bytes.
            #[must_use]
            pub fn to_bytes(&self) -> Vec<u8> {
                let mut out = vec![0; Self::LEN];
                self.encode(&mut out);
                out
            }

            /// Reads the message from `bytes` (one whole message, header included).
            #[allow(unused_assignments, unused_mut, unused_variables)]
            pub fn decode(bytes: &[u8]) -> Result<$name, WireError> {
                check(bytes, $kind, Self::LEN)?;
                let mut at = HEADER_LEN;
                Ok($name { $( $field: { let v = <$ty as Wire>::get(&bytes[at..]); at += <$ty as Wire>::SIZE; v }, )* })
            }
        }

        const _: () = assert!($name::LEN == $len, concat!("the layout of ", stringify!($name), " changed: update docs/API-BINARY.md"));
        const _: () = assert!($name::LEN <= SERVER_MESSAGE_BYTES_MAX);
    )*

        /// Every message type's layout, in kind order.
        pub const LAYOUTS: &[Layout] = &[$($name::LAYOUT),*];
    };
}

fn check(bytes: &[u8], kind: u8, len: usize) -> Result<(), WireError> {
    let (found, k, version) = header(bytes).ok_or(WireError::Short)?;
    debug_assert_eq!(k, kind, "decode is called for the kind in the header");
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    if found != len || bytes.len() < len {
        return Err(WireError::Length { kind, expected: len, found });
    }
    Ok(())
}

messages! {
    /// Client: log on with an API key and the signature of the server's challenge; optionally
    /// ask for the execution reports after a position (replay).
    Logon = 0x01, 156 {
        /// The API key, ASCII, zero-padded.
        api_key: [u8; 64],
        /// Ed25519 signature (64 bytes) or HMAC-SHA256 (32 bytes, then zeros) of the challenge's
        /// nonce followed by the API key's bytes.
        signature: [u8; 64],
        /// Replay: the sequence of the last report seen (with `replay_from_index`).
        replay_from_sequence: u64,
        /// Replay: the index of the last report seen.
        replay_from_index: u32,
        /// Bit 0: replay the reports after the position; bit 1: cancel this user's orders when
        /// the session ends.
        flags: u32,
        /// Reserved, zero.
        reserved: u64,
    }
    /// Either side: nothing to say (keeps the session alive).
    Heartbeat = 0x02, 4 {}
    /// Client: end the session (the server answers with `Goodbye` and closes).
    Logout = 0x03, 4 {}
    /// Client: place an order.
    NewOrder = 0x10, 96 {
        /// Limit price (market: the protection bound, or `NO_PRICE`), ticks.
        price: i64,
        /// Quantity, lots.
        qty: i64,
        /// Conditional orders: the trigger price, ticks (0: not conditional).
        trigger_price: i64,
        /// Good-till-date: expiry, sequencer ns (0: none).
        expire_ns: u64,
        /// Spot market buys: the most quote to spend, minor units (0: none).
        quote_budget: i64,
        /// Instrument id (`Instrument` messages).
        instrument: u32,
        /// Market orders: the most levels to take (0: no bound).
        levels_max: u32,
        /// 0 buy, 1 sell.
        side: u8,
        /// 0 limit, 1 market.
        order_type: u8,
        /// 0 GTC, 1 IOC, 2 FOK.
        time_in_force: u8,
        /// Bit 0 post-only, bit 1 reduce-only.
        flags: u8,
        /// Self-trade prevention: 0 allow, 1 cancel taker, 2 cancel maker, 3 cancel both.
        self_trade: u8,
        /// Trigger kind: 1 stop-loss, 2 take-profit (0 with no trigger price).
        trigger_kind: u8,
        /// Trigger source: 1 last price, 2 mark price.
        trigger_source: u8,
        /// Reserved, zero.
        reserved: u8,
        /// Client order id, ASCII, zero-padded (unique among the user's live orders).
        client_order_id: [u8; 36],
    }
    /// Client: cancel one order, by id or (id 0) by client order id.
    Cancel = 0x11, 52 {
        /// The order id (0: use `client_order_id`).
        order_id: u64,
        /// The instrument it rests on.
        instrument: u32,
        /// Its client order id (when `order_id` is 0).
        client_order_id: [u8; 36],
    }
    /// Client: replace a resting order's price and quantity (keeps its id; a lower quantity at
    /// the same price keeps its queue place).
    CancelReplace = 0x12, 76 {
        /// The order id (0: use `client_order_id`).
        order_id: u64,
        /// New price, ticks.
        price: i64,
        /// New open quantity, lots.
        qty: i64,
        /// Conditional orders: a new trigger price (0 keeps it).
        trigger_price: i64,
        /// The instrument it rests on.
        instrument: u32,
        /// Its client order id (when `order_id` is 0).
        client_order_id: [u8; 36],
    }
    /// Client: cancel every resting order of the session's user (on one instrument, or all).
    MassCancel = 0x13, 8 {
        /// The instrument, or `ALL_INSTRUMENTS`.
        instrument: u32,
    }
    /// Client: subscribe to an instrument's market data (a depth snapshot, then updates; trades).
    Subscribe = 0x14, 16 {
        /// The instrument.
        instrument: u32,
        /// Bit 0 depth, bit 1 trades; 0 unsubscribes.
        flags: u32,
        /// Levels per side in the snapshot (at most 200).
        depth_levels: u32,
    }
    /// Client: close the session's position on a perpetual (a reduce-only IOC market order for
    /// all of it, placed by the engine; its reports follow like a new order's).
    ClosePosition = 0x15, 20 {
        /// The perpetual.
        instrument: u32,
        /// Reserved, zero.
        reserved: u32,
        /// The worst price to trade at, ticks, or `NO_PRICE` for any.
        price: i64,
    }
    /// Server, first message: the nonce to sign.
    Challenge = 0x81, 44 {
        /// Random bytes.
        nonce: [u8; 32],
        /// The server's time, ms since the Unix epoch.
        server_time_ms: u64,
    }
    /// Server: the logon is accepted; `Instrument` messages follow, then the replay if asked.
    LogonAccepted = 0x82, 36 {
        /// The user the session acts as.
        user: u32,
        /// The server sends a heartbeat after this long without other messages, ms.
        heartbeat_interval_ms: u32,
        /// The server cuts the session off after this long without a message from the client, ms.
        idle_timeout_ms: u32,
        /// The journal sequence the session's live reports start after.
        live_after_sequence: u64,
        /// Instruments described next.
        instruments: u32,
        /// Reserved, zero.
        reserved: u64,
    }
    /// Server: the logon is refused (the connection closes).
    LogonRejected = 0x83, 8 {
        /// Why (docs/API-BINARY.md, codes).
        code: u16,
        /// Reserved, zero.
        reserved: u16,
    }
    /// Server: the session ends (the connection closes after it).
    Goodbye = 0x85, 8 {
        /// Why (docs/API-BINARY.md, codes).
        code: u16,
        /// Reserved, zero.
        reserved: u16,
    }
    /// Server: one instrument's definition.
    Instrument = 0x86, 60 {
        /// Its id.
        instrument: u32,
        /// 0 spot, 1 perpetual.
        kind: u8,
        /// Decimals of `tick_units`.
        tick_scale: u8,
        /// Decimals of `lot_units`.
        lot_scale: u8,
        /// Reserved, zero.
        reserved: u8,
        /// Symbol, ASCII, zero-padded.
        symbol: [u8; 16],
        /// One tick is `tick_units / 10^tick_scale`.
        tick_units: i64,
        /// One lot is `lot_units / 10^lot_scale`.
        lot_units: i64,
        /// Smallest order quantity, lots.
        qty_min: i64,
        /// Largest order quantity, lots.
        qty_max: i64,
    }
    /// Server: the replay asked for at logon is complete; live reports follow.
    ReplayComplete = 0x87, 28 {
        /// Reports replayed.
        replayed: u64,
        /// 0 complete; 1 the journal no longer reaches back to the position asked for (the
        /// replay starts at `from_sequence`).
        status: u32,
        /// Reserved, zero.
        reserved: u32,
        /// Where the replay started (the position asked for, or the oldest available).
        from_sequence: u64,
    }
    /// Server, sequenced: what happened to an order.
    ExecutionReport = 0x90, 128 {
        /// The journal sequence of the command that caused it.
        sequence: u64,
        /// Its position among that command's reports (sequence, index) order the session's reports.
        index: u32,
        /// 1 new, 2 rejected, 3 fill, 4 cancelled, 5 replaced, 6 expired, 7 triggered,
        /// 8 trigger failed.
        exec_type: u8,
        /// 0 buy, 1 sell.
        side: u8,
        /// 0 limit, 1 market (new only).
        order_type: u8,
        /// 0 GTC, 1 IOC, 2 FOK (new only).
        time_in_force: u8,
        /// The sequencer's time of the command, ns since the Unix epoch.
        timestamp_ns: u64,
        /// The order id (0 for a rejected new order).
        order_id: u64,
        /// The instrument.
        instrument: u32,
        /// Rejected and trigger failed: the engine's reject code.
        reject_code: u16,
        /// Cancelled: 1 requested, 2 mass cancel, 3 unfilled, 4 fill-or-kill, 5 self-trade,
        /// 6 liquidation, 7 expired.
        cancel_reason: u8,
        /// Fill: 1 maker, 2 taker.
        liquidity: u8,
        /// The order's price, ticks (`NO_PRICE` for none).
        price: i64,
        /// New and replaced: the order's quantity; cancelled: the quantity cancelled.
        qty: i64,
        /// The order's open quantity after this report.
        leaves_qty: i64,
        /// Fill: the trade's price, ticks.
        last_price: i64,
        /// Fill: the trade's quantity.
        last_qty: i64,
        /// Fill: the trade id (per instrument).
        trade_id: u64,
        /// New and rejected: the client order id the order was placed with.
        client_order_id: [u8; 36],
    }
    /// Server, sequenced: a cancel, replace or mass cancel was refused.
    CancelReject = 0x91, 76 {
        /// The journal sequence of the refused command.
        sequence: u64,
        /// Its position among that command's reports.
        index: u32,
        /// 1 cancel, 2 replace, 3 mass cancel.
        request: u8,
        /// Reserved, zero.
        reserved: u8,
        /// The engine's reject code.
        reject_code: u16,
        /// The sequencer's time of the command, ns since the Unix epoch.
        timestamp_ns: u64,
        /// The order id sent (0: by client order id, or a mass cancel).
        order_id: u64,
        /// The instrument sent (`ALL_INSTRUMENTS` for a mass cancel of all).
        instrument: u32,
        /// The client order id sent.
        client_order_id: [u8; 36],
    }
    /// Server, not sequenced: the gateway refused a message before it reached the engine.
    BusinessReject = 0x92, 112 {
        /// Why (docs/API-BINARY.md, codes).
        code: u16,
        /// The kind of the refused message.
        refused_kind: u8,
        /// Reserved, zero.
        reserved: u8,
        /// Rate limits: retry after this long, ms (0 otherwise).
        retry_after_ms: u32,
        /// The refused message's client order id, if it had one.
        client_order_id: [u8; 36],
        /// A readable reason, ASCII, zero-padded.
        text: [u8; 64],
    }
    /// Server, not sequenced: a book snapshot; `count` levels of `LEVEL_LEN` bytes follow (bids
    /// best first, then asks best first).
    DepthSnapshot = 0xA0, 28 {
        /// The instrument.
        instrument: u32,
        /// Levels that follow.
        count: u32,
        /// The book as of this journal sequence: apply updates with a higher sequence only.
        sequence: u64,
        /// Bid levels among `count` (the rest are asks).
        bids: u32,
        /// Reserved, zero.
        reserved: u32,
    }
    /// Server, not sequenced: a price level's new total (0: the level is gone).
    DepthUpdate = 0xA1, 36 {
        /// The instrument.
        instrument: u32,
        /// 0 bid, 1 ask.
        side: u8,
        /// Reserved, zero.
        reserved: [u8; 3],
        /// The journal sequence of the command that changed it.
        sequence: u64,
        /// The level's price, ticks.
        price: i64,
        /// Its new total quantity, lots.
        qty: i64,
    }
    /// Server, not sequenced: a trade.
    Trade = 0xA2, 52 {
        /// The instrument.
        instrument: u32,
        /// The aggressor's side: 0 buy, 1 sell.
        aggressor: u8,
        /// Reserved, zero.
        reserved: [u8; 3],
        /// The journal sequence of the command that traded.
        sequence: u64,
        /// Trade id (per instrument).
        trade_id: u64,
        /// Price, ticks.
        price: i64,
        /// Quantity, lots.
        qty: i64,
        /// The sequencer's time, ns since the Unix epoch.
        timestamp_ns: u64,
    }
}

impl NewOrder {
    /// A GTC limit order with every other field at its default (no trigger, no expiry, no flags).
    #[must_use]
    pub fn limit(
        instrument: u32,
        side: u8,
        price_ticks: i64,
        qty_lots: i64,
        client_order_id: &str,
    ) -> NewOrder {
        NewOrder {
            price: price_ticks,
            qty: qty_lots,
            trigger_price: 0,
            expire_ns: 0,
            quote_budget: 0,
            instrument,
            levels_max: 0,
            side,
            order_type: 0,
            time_in_force: 0,
            flags: 0,
            self_trade: 0,
            trigger_kind: 0,
            trigger_source: 0,
            reserved: 0,
            client_order_id: text(client_order_id),
        }
    }
}

const _: () = assert!(Logon::LEN <= CLIENT_MESSAGE_BYTES_MAX && NewOrder::LEN <= CLIENT_MESSAGE_BYTES_MAX);
const _: () = assert!(SERVER_MESSAGE_BYTES_MAX <= u16::MAX as usize);

/// One depth level: side (0 bid, 1 ask), price (ticks), quantity (lots).
pub type Level = (u8, i64, i64);

/// Appends one depth level to a snapshot being built.
pub fn put_level(out: &mut Vec<u8>, side: u8, price: i64, qty: i64) {
    let mut level = [0u8; LEVEL_LEN];
    level[0] = side;
    price.put(&mut level[8..]);
    qty.put(&mut level[16..]);
    out.extend_from_slice(&level);
}

/// A depth snapshot message with its levels (side, price, qty), bids first.
#[must_use]
pub fn depth_snapshot(instrument: u32, sequence: u64, levels: &[(u8, i64, i64)]) -> Vec<u8> {
    let levels = &levels[..levels.len().min(DEPTH_SNAPSHOT_LEVELS_MAX)];
    let bids = levels.iter().filter(|l| l.0 == 0).count();
    let head = DepthSnapshot {
        instrument,
        count: u32::try_from(levels.len()).expect("bounded"),
        sequence,
        bids: u32::try_from(bids).expect("bounded"),
        reserved: 0,
    };
    let mut out = head.to_bytes();
    for &(side, price, qty) in levels {
        put_level(&mut out, side, price, qty);
    }
    let len = out.len();
    u16::try_from(len).expect("bounded by SERVER_MESSAGE_BYTES_MAX").put(&mut out);
    out
}

/// The levels of a depth snapshot message (side, price, qty).
pub fn depth_levels(bytes: &[u8]) -> Result<(DepthSnapshot, Vec<Level>), WireError> {
    let (len, kind, _) = header(bytes).ok_or(WireError::Short)?;
    if kind != DepthSnapshot::KIND {
        return Err(WireError::Kind(kind));
    }
    let mut head = bytes.get(..DepthSnapshot::LEN).ok_or(WireError::Short)?.to_vec();
    u16::try_from(DepthSnapshot::LEN).expect("small").put(&mut head);
    let snapshot = DepthSnapshot::decode(&head)?;
    let count = snapshot.count as usize;
    let expected = DepthSnapshot::LEN + count * LEVEL_LEN;
    if len != expected || bytes.len() < expected || count > DEPTH_SNAPSHOT_LEVELS_MAX {
        return Err(WireError::Length { kind, expected, found: len });
    }
    let levels = bytes[DepthSnapshot::LEN..expected]
        .chunks_exact(LEVEL_LEN)
        .map(|l| (l[0], i64::get(&l[8..]), i64::get(&l[16..])))
        .collect();
    Ok((snapshot, levels))
}

/// ASCII text into a zero-padded field (longer text is cut).
#[must_use]
pub fn text<const N: usize>(value: &str) -> [u8; N] {
    let mut out = [0u8; N];
    let n = value.len().min(N);
    out[..n].copy_from_slice(&value.as_bytes()[..n]);
    out
}

/// A zero-padded field's text (up to its first zero), or `None` if it is not ASCII.
#[must_use]
pub fn untext(field: &[u8]) -> Option<&str> {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    let text = &field[..end];
    (text.is_ascii() && field[end..].iter().all(|&b| b == 0))
        .then(|| std::str::from_utf8(text).ok())
        .flatten()
}

/// The message tables and annotated examples of docs/API-BINARY.md (a test keeps the file equal).
#[must_use]
pub fn markdown() -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    for layout in LAYOUTS {
        let who = if layout.kind < 0x80 { "client to server" } else { "server to client" };
        let _ =
            writeln!(out, "### {} (kind `{:#04x}`, {} bytes, {who})\n", layout.name, layout.kind, layout.len);
        let _ = writeln!(out, "{}\n", collapse(layout.doc));
        let _ = writeln!(out, "| offset | size | type | field | meaning |\n|---:|---:|---|---|---|");
        let _ = writeln!(out, "| 0 | 2 | u16 | length | {} |", layout.len);
        let _ = writeln!(out, "| 2 | 1 | u8 | kind | `{:#04x}` |", layout.kind);
        let _ = writeln!(out, "| 3 | 1 | u8 | version | {VERSION} |");
        for f in layout.fields {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                f.offset,
                f.size,
                f.type_name,
                f.name,
                collapse(f.doc)
            );
        }
        out.push('\n');
    }
    out
}

/// An annotated hex dump of one encoded message: a line per field.
#[must_use]
pub fn annotated(layout: &Layout, bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let hex = |range: std::ops::Range<usize>| {
        bytes[range].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(" ")
    };
    let _ = writeln!(
        out,
        "{:<4} {:<48} header: length {}, kind {:#04x}, version {}",
        0,
        hex(0..4),
        layout.len,
        layout.kind,
        bytes[3]
    );
    for f in layout.fields {
        let shown = f.size.min(16);
        let more = if f.size > shown { " .." } else { "" };
        let _ = writeln!(
            out,
            "{:<4} {:<48} {}",
            f.offset,
            format!("{}{more}", hex(f.offset..f.offset + shown)),
            f.name
        );
    }
    out
}

fn collapse(doc: &str) -> String {
    doc.split_whitespace().collect::<Vec<_>>().join(" ").replace('|', "\\|")
}

/// The (sequence, index) position of a sequenced message (execution report or cancel reject).
#[must_use]
pub fn position(bytes: &[u8]) -> (u64, u32) {
    (u64::get(&bytes[4..]), u32::get(&bytes[12..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_are_contiguous_and_kinds_unique() {
        let mut kinds = std::collections::BTreeSet::new();
        for layout in LAYOUTS {
            assert!(kinds.insert(layout.kind), "kind {:#x} used twice", layout.kind);
            let end = layout.fields.iter().fold(HEADER_LEN, |at, f| {
                assert_eq!(f.offset, at, "{}.{}", layout.name, f.name);
                at + f.size
            });
            assert_eq!(end, layout.len, "{}", layout.name);
        }
    }

    #[test]
    fn a_message_round_trips_and_its_header_is_checked() {
        let order = NewOrder { flags: 1, ..NewOrder::limit(1, 1, 50_000, 3, "abc") };
        let bytes = order.to_bytes();
        assert_eq!(header(&bytes), Some((96, 0x10, VERSION)));
        assert_eq!(NewOrder::decode(&bytes), Ok(order));
        assert_eq!(untext(&order.client_order_id), Some("abc"));
        let mut bad = bytes.clone();
        bad[0] = 95;
        assert!(matches!(NewOrder::decode(&bad), Err(WireError::Length { .. })));
        bad = bytes;
        bad[3] = 2;
        assert_eq!(NewOrder::decode(&bad), Err(WireError::Version(2)));
    }

    /// The generated part of docs/API-BINARY.md: the tables, then annotated examples.
    fn generated() -> String {
        let mut out = markdown();
        out.push_str("### Examples\n\nA new order: buy 0.5 BTC-USDT at 60000.00 (instrument 0, tick 0.01, lot 0.0001), GTC, client order id `bot-1`:\n\n```\n");
        let order = NewOrder::limit(0, 0, 6_000_000, 5_000, "bot-1");
        out.push_str(&annotated(&NewOrder::LAYOUT, &order.to_bytes()));
        out.push_str("```\n\nIts fill as the taker, 0.2 at 60000.00, with 0.3 left (journal sequence 42, index 3):\n\n```\n");
        let fill = ExecutionReport {
            sequence: 42,
            index: 3,
            exec_type: 3,
            side: 0,
            order_type: 0,
            time_in_force: 0,
            timestamp_ns: 1_764_489_600_000_000_000,
            order_id: 7,
            instrument: 0,
            reject_code: 0,
            cancel_reason: 0,
            liquidity: 2,
            price: NO_PRICE,
            qty: 0,
            leaves_qty: 3_000,
            last_price: 6_000_000,
            last_qty: 2_000,
            trade_id: 1,
            client_order_id: [0; 36],
        };
        out.push_str(&annotated(&ExecutionReport::LAYOUT, &fill.to_bytes()));
        out.push_str("```\n\n");
        out
    }

    #[test]
    fn the_documentation_shows_these_layouts() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/API-BINARY.md");
        let doc = std::fs::read_to_string(path).expect("docs/API-BINARY.md");
        let (head, rest) = doc.split_once("rewrites it -->\n").expect("the generated part's start marker");
        let (_, tail) = rest.split_once("<!-- end of generated part -->").expect("its end marker");
        let expected = format!("{head}rewrites it -->\n{}<!-- end of generated part -->{tail}", generated());
        if std::env::var_os("FERREX_BLESS").is_some() {
            std::fs::write(path, &expected).expect("write docs/API-BINARY.md");
        }
        assert!(doc == expected, "docs/API-BINARY.md is not the layouts': FERREX_BLESS=1 rewrites it");
    }

    #[test]
    fn the_documentation_lists_every_gateway_code() {
        let doc = include_str!("../../../docs/API-BINARY.md");
        let rows: Vec<(u16, &str)> = doc
            .lines()
            .filter_map(|l| {
                let cells: Vec<&str> = l.trim_matches('|').split('|').map(str::trim).collect();
                Some((cells.first()?.parse::<u16>().ok().filter(|c| *c >= 3000)?, *cells.get(1)?))
            })
            .collect();
        assert_eq!(rows, super::super::codes::ALL.to_vec());
    }

    #[test]
    fn a_depth_snapshot_round_trips() {
        let levels = [(0, 100, 5), (0, 99, 1), (1, 101, 7)];
        let bytes = depth_snapshot(2, 77, &levels);
        assert_eq!(bytes.len(), DepthSnapshot::LEN + 3 * LEVEL_LEN);
        let (head, decoded) = depth_levels(&bytes).expect("valid");
        assert_eq!((head.instrument, head.sequence, head.bids, head.count), (2, 77, 2, 3));
        assert_eq!(decoded, levels);
        assert!(depth_levels(&bytes[..bytes.len() - 1]).is_err());
    }
}
