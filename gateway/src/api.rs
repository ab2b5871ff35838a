//! The WebSocket JSON API, following the Binance Spot WebSocket API for what it implements:
//! requests `{"id","method","params"}`, responses `{"id","status","result"}` or
//! `{"id","status","error":{"code","msg"}}`; signed requests carry `apiKey`, `timestamp`,
//! optional `recvWindow` and `signature` (HMAC-SHA256, hex, of the other parameters sorted by name
//! and joined as `key=value&...`). Prices and quantities are decimal strings on the instrument's
//! grid (off-grid values are refused, never rounded).
//!
//! This module is pure: [`Api::request`] turns a text frame into either an immediate response or
//! something to submit to the core (with what is needed to answer later), and [`Api::respond`]
//! turns a request's outputs into its response. The server (`server.rs`) does the I/O.
//!
//! Methods so far: `ping`, `time`, `exchangeInfo`, `depth`, `order.place`, `order.cancel`,
//! `order.status`, `openOrders.status`, `account.status`. Error codes: [`codes`].

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrex_engine::runtime::message::{Answer, Body, Item, Output, Query};
use ferrex_engine::{
    Cancel, ClientOrderId, Command, Event, MassCancel, OrderId, OrderRef, OrderType, Place, Price, Qty,
    SelfTradePrevention, Side, TimeInForce, UserId,
};
use hmac::{KeyInit, Mac};
use serde_json::{Map, Value, json};

use crate::config::{Key, Listed, Validated};
use crate::decimal;
use crate::limits::{OrderLimits, Refused};
use crate::market::{self, Topic};
use crate::metrics::Metrics;
use std::sync::Arc;

/// Error codes (Binance's numbers where Binance has the case).
pub mod codes {
    /// The request is not valid JSON or not a request object.
    pub const MALFORMED: i32 = -1000;
    /// Too many messages on the connection (status 429, `retryAfter`).
    pub const TOO_MANY_REQUESTS: i32 = -1003;
    /// The server is overloaded (the inbound ring is full): retry later.
    pub const SERVER_BUSY: i32 = -1008;
    /// Too many orders for the user's tier or the tenant (status 429, `retryAfter`).
    pub const TOO_MANY_ORDERS: i32 = -1015;
    /// The timestamp is outside the receive window.
    pub const INVALID_TIMESTAMP: i32 = -1021;
    /// The signature does not match.
    pub const INVALID_SIGNATURE: i32 = -1022;
    /// A parameter is missing or malformed.
    pub const BAD_PARAM: i32 = -1102;
    /// A parameter the method does not take.
    pub const UNKNOWN_PARAM: i32 = -1103;
    /// A price or quantity off the instrument's grid or out of range.
    pub const BAD_PRECISION: i32 = -1111;
    /// No such symbol.
    pub const BAD_SYMBOL: i32 = -1121;
    /// Unknown method.
    pub const UNKNOWN_METHOD: i32 = -1199;
    /// The engine rejected the order (the message carries the engine's reject code).
    pub const ORDER_REJECTED: i32 = -2010;
    /// The engine rejected the cancel.
    pub const CANCEL_REJECTED: i32 = -2011;
    /// No such order.
    pub const NO_SUCH_ORDER: i32 = -2013;
    /// Unknown API key.
    pub const BAD_API_KEY: i32 = -2015;
    /// `order.cancelReplace`: the cancel failed, so no new order was placed (or both failed).
    pub const CANCEL_REPLACE_FAILED: i32 = -2022;
    /// `order.cancelReplace`: one of the two steps failed (`data` tells which).
    pub const CANCEL_REPLACE_PARTIAL: i32 = -2021;
    /// The engine refused an admin or position command (a ferrex extension; `msg` has the
    /// engine's reject code, e.g. 5001 not authorized).
    pub const COMMAND_REJECTED: i32 = -2020;

    /// Every code, in the order of docs/API-WEBSOCKET.md's table (a test keeps them equal).
    pub const ALL: [i32; 18] = [
        MALFORMED,
        TOO_MANY_REQUESTS,
        SERVER_BUSY,
        TOO_MANY_ORDERS,
        INVALID_TIMESTAMP,
        INVALID_SIGNATURE,
        BAD_PARAM,
        UNKNOWN_PARAM,
        BAD_PRECISION,
        BAD_SYMBOL,
        UNKNOWN_METHOD,
        ORDER_REJECTED,
        CANCEL_REJECTED,
        NO_SUCH_ORDER,
        BAD_API_KEY,
        COMMAND_REJECTED,
        CANCEL_REPLACE_PARTIAL,
        CANCEL_REPLACE_FAILED,
    ];
}

/// The methods (metrics label them; anything else counts as `unknown`).
const METHODS: [&str; 31] = [
    "account.margin",
    "order.cancelReplace",
    "session.logon",
    "session.status",
    "session.logout",
    "account.positions",
    "position.close",
    "admin.createUser",
    "admin.deposit",
    "admin.withdraw",
    "admin.suspendUser",
    "admin.setMarkPrice",
    "admin.applyFunding",
    "admin.haltInstrument",
    "ping",
    "time",
    "exchangeInfo",
    "depth",
    "ticker.book",
    "trades.recent",
    "order.place",
    "order.cancel",
    "order.status",
    "openOrders.status",
    "openOrders.cancelAll",
    "session.cancelOnDisconnect",
    "userDataStream.subscribe",
    "account.status",
    "SUBSCRIBE",
    "UNSUBSCRIBE",
    "invalid",
];

/// The parameters of a new order (`order.place`, and `order.cancelReplace` beside its own).
const ORDER_PARAMS: [&str; 8] =
    ["symbol", "side", "type", "timeInForce", "price", "quantity", "newClientOrderId", "reduceOnly"];

/// Parameters each method accepts beyond the signature fields.
const SIGNATURE_PARAMS: [&str; 4] = ["apiKey", "timestamp", "recvWindow", "signature"];

/// What a request needs from the core, and how to answer it once the outputs are in.
#[derive(Clone, Debug)]
pub struct Pending {
    /// The client's request id.
    pub id: Value,
    /// The `rateLimits` of the response (orders: the user's order buckets).
    pub rate_limits: Value,
    /// What to render.
    pub kind: Kind,
}

/// How to render a request's outputs.
#[derive(Clone, Debug)]
pub enum Kind {
    /// `order.place`.
    Place {
        /// Instrument index.
        instrument: usize,
        /// Client order id.
        client_order_id: String,
        /// The order as sent.
        place: Place,
    },
    /// `order.cancel`.
    Cancel {
        /// Instrument index.
        instrument: usize,
    },
    /// `order.status`.
    Status {
        /// Instrument index.
        instrument: usize,
    },
    /// `openOrders.status`.
    OpenOrders,
    /// `account.status`.
    Account,
    /// `depth`.
    Depth {
        /// Instrument index.
        instrument: usize,
    },
    /// An admin or position command: `{"sequence"}` or its reject.
    Applied,
    /// `order.cancelReplace`, first step: the cancel.
    CancelReplace {
        /// Instrument index.
        instrument: usize,
        /// Place the new order even if the cancel failed (`ALLOW_FAILURE`).
        allow_failure: bool,
        /// The new order.
        place: Place,
        /// Its client order id.
        client_order_id: String,
    },
    /// `order.cancelReplace`, second step: the new order, with the cancel's outcome.
    CancelReplaceNew {
        /// Instrument index.
        instrument: usize,
        /// The cancel's response (`result` or `error` object) and whether it succeeded.
        cancel: (Value, bool),
        /// The new order.
        place: Place,
        /// Its client order id.
        client_order_id: String,
    },
    /// `account.positions`.
    Positions,
    /// `account.margin`.
    Margin {
        /// The settlement asset.
        asset: ferrex_engine::AssetId,
    },
    /// `openOrders.cancelAll`.
    CancelAll {
        /// Instrument index.
        instrument: usize,
    },
}

/// What a session request does (the server keeps the connection's session).
#[derive(Clone, Debug)]
pub enum SessionOp {
    /// `session.logon`: later requests on the connection act as `user` without signatures.
    Logon {
        /// The user.
        user: UserId,
        /// The key it logged on with.
        api_key: String,
    },
    /// `session.status`.
    Status,
    /// `session.logout`.
    Logout,
}

/// A question the gateway answers from its own market data.
#[derive(Clone, Copy, Debug)]
pub enum MarketQuery {
    /// The best bid and ask of one instrument (index), or of all.
    TickerBook(Option<usize>),
    /// The latest `limit` trades of an instrument (index).
    RecentTrades(usize, usize),
}

/// What to do with a frame.
#[derive(Debug)]
pub enum Action {
    /// Send this response now.
    Reply(String),
    /// Subscribe to (or, with `subscribe` false, unsubscribe from) topics, then send `reply`.
    Subscribe {
        /// The topics.
        topics: Vec<Topic>,
        /// Subscribe or unsubscribe.
        subscribe: bool,
        /// The response.
        reply: String,
    },
    /// A session request: log on (as `user`, with `api_key`), report, or log out.
    Session {
        /// The client's request id.
        id: Value,
        /// Which.
        op: SessionOp,
    },
    /// Cancel the user's orders when this connection closes (or stop doing so), then reply.
    CancelOnDisconnect {
        /// The user, or `None` to turn it off.
        user: Option<UserId>,
        /// The response.
        reply: String,
    },
    /// Answer from the gateway's market data (`ticker.book`, `trades.recent`).
    MarketData {
        /// The client's request id.
        id: Value,
        /// Which.
        query: MarketQuery,
    },
    /// Submit this to the core; answer with [`Api::respond`] when its outputs are in.
    Submit(Box<(Body, Pending)>),
}

fn submit(body: Body, pending: Pending) -> Action {
    Action::Submit(Box::new((body, pending)))
}

/// What a request's outputs lead to.
#[derive(Debug)]
pub enum Reply {
    /// The response to send.
    Final(String),
    /// A second step to submit (cancel-replace), answered later.
    Then(Box<(Body, Pending)>),
}

/// A refused request: code and message.
struct Refusal(i32, String);

fn refuse(code: i32, msg: impl Into<String>) -> Refusal {
    Refusal(code, msg.into())
}

/// The API's state: the market (from the configuration), the keystore, the order buckets.
#[derive(Debug)]
pub struct Api {
    /// Request counters by method: [`METHODS`] in order, then `unknown`.
    requests: Vec<prometheus_client::metrics::counter::Counter>,
    /// The user the current request's connection is logged on as (set per request).
    session: Option<UserId>,
    market: Validated,
    metrics: Arc<Metrics>,
    orders: OrderLimits,
    keys: BTreeMap<String, Key>,
    recv_window_ms_max: u64,
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(now.as_millis()).unwrap_or(u64::MAX)
}

/// A rate limit refusal: status 429 and when to retry (`retryAfter`, ms since the epoch).
pub fn too_many(id: &Value, code: i32, msg: &str, wait: std::time::Duration) -> String {
    let retry_after = now_ms() + u64::try_from(wait.as_millis()).unwrap_or(u64::MAX / 2) + 1;
    json!({"id": id, "status": 429, "error": {"code": code, "msg": msg, "data": {"retryAfter": retry_after}}})
        .to_string()
}

/// An error response.
pub fn error_response(id: &Value, code: i32, msg: &str) -> String {
    json!({"id": id, "status": 400, "error": {"code": code, "msg": msg}}).to_string()
}

/// The `id` of a request text, read without building the rest of it: for an answer given before
/// the request is read (a rate-limit refusal), so that a client can still match it. `null` when
/// the text has none or is not a JSON object.
#[must_use]
pub fn request_id(text: &str) -> Value {
    #[derive(serde::Deserialize)]
    struct IdOnly {
        #[serde(default)]
        id: Value,
    }
    serde_json::from_str::<IdOnly>(text).map_or(Value::Null, |request| request.id)
}

/// A success response.
pub fn ok_response(id: &Value, result: &Value) -> String {
    ok_limited(id, &Value::Array(Vec::new()), result)
}

/// A success response with the `rateLimits` the request counted against.
fn ok_limited(id: &Value, limits: &Value, result: &Value) -> String {
    // Written out rather than through `json!`, which would copy `result` into a new tree first.
    format!(r#"{{"id":{id},"rateLimits":{limits},"result":{result},"status":200}}"#)
}

fn text_param<'a>(params: &'a Map<String, Value>, name: &str) -> Result<&'a str, Refusal> {
    params.get(name).and_then(Value::as_str).ok_or_else(|| {
        refuse(
            codes::BAD_PARAM,
            format!("Mandatory parameter '{name}' was not sent, was empty/null, or malformed."),
        )
    })
}

fn u64_param(params: &Map<String, Value>, name: &str) -> Result<Option<u64>, Refusal> {
    match params.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            n.as_u64().map(Some).ok_or_else(|| refuse(codes::BAD_PARAM, format!("'{name}' is malformed")))
        }
        Some(Value::String(s)) => {
            s.parse().map(Some).map_err(|_| refuse(codes::BAD_PARAM, format!("'{name}' is malformed")))
        }
        Some(_) => Err(refuse(codes::BAD_PARAM, format!("'{name}' is malformed"))),
    }
}

/// The text a signature covers: every parameter but `signature`, sorted, `key=value&...`.
pub fn signature_payload(params: &Map<String, Value>) -> String {
    let mut pairs: Vec<(&String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != "signature")
        .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(b.0));
    pairs.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// HMAC-SHA256 of `payload` with `secret`, lowercase hex.
pub fn sign(secret: &str, payload: &str) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(payload.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Api {
    /// The API over a validated market and its keys.
    pub fn new(market: Validated, keys: Vec<Key>, recv_window_ms_max: u64, metrics: Arc<Metrics>) -> Api {
        let requests = METHODS.iter().chain(&["unknown"]).map(|m| metrics.request_counter(m)).collect();
        Api {
            requests,
            session: None,
            market,
            metrics,
            orders: OrderLimits::default(),
            keys: keys.into_iter().map(|k| (k.api_key.clone(), k)).collect(),
            recv_window_ms_max,
        }
    }

    /// The market.
    pub fn market(&self) -> &Validated {
        &self.market
    }

    /// Handles one text frame.
    pub fn request(&mut self, text: &str, now_ns: u64, session: Option<UserId>) -> Action {
        self.session = session;
        let action = self.parse(text);
        match action {
            Action::Submit(mut submission) => {
                let user = match &submission.0 {
                    Body::Command(Command::Place(p)) => Some(p.user),
                    Body::Command(Command::Cancel(c)) => Some(c.user),
                    Body::Command(Command::MassCancel(m)) => Some(m.user),
                    _ => None,
                };
                if let Some(user) = user {
                    if let Err((wait, msg)) = self.take_order(user, now_ns) {
                        return Action::Reply(too_many(&submission.1.id, codes::TOO_MANY_ORDERS, &msg, wait));
                    }
                    submission.1.rate_limits = self.order_rate_limits(user.0);
                }
                Action::Submit(submission)
            }
            other => other,
        }
    }

    /// Takes one order from the user's (and its tenant's) buckets; a refusal is counted and
    /// logged and gives the wait and a message.
    pub fn take_order(&mut self, user: UserId, now_ns: u64) -> Result<(), (std::time::Duration, String)> {
        let (tenant, tier) = self.market.tier(user.0);
        if let Err(Refused::Orders(wait) | Refused::Messages(wait)) =
            self.orders.take(&self.market.limits, (user.0, tenant, &tier), now_ns)
        {
            let msg = format!(
                "Too many orders; current limits are {} per second and {} per minute.",
                tier.orders_per_second, tier.orders_per_minute
            );
            self.metrics.error(codes::TOO_MANY_ORDERS);
            tracing::info!(user = user.0, code = codes::TOO_MANY_ORDERS, "order rate limit");
            return Err((wait, msg));
        }
        Ok(())
    }

    /// The user of `api_key` if `signature` signs `message` with it: Ed25519 (64 bytes) with its
    /// public key, or HMAC-SHA256 (32 bytes, then zeros) with its secret. The binary logon.
    #[must_use]
    pub fn verify_bytes(&self, api_key: &str, message: &[u8], signature: &[u8; 64]) -> Option<UserId> {
        let key = self.keys.get(api_key)?;
        if let Some(secret) = &key.secret {
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(message);
            if signature[32..].iter().all(|&b| b == 0) && mac.verify_slice(&signature[..32]).is_ok() {
                return Some(UserId(key.user));
            }
        }
        let public = ed25519_compact::PublicKey::from_slice(&key.ed25519()?).ok()?;
        let signature = ed25519_compact::Signature::from_slice(signature).ok()?;
        public.verify(message, &signature).is_ok().then_some(UserId(key.user))
    }

    /// Counts a request of `method` (`unknown` for a method not in [`METHODS`]).
    fn count_request(&self, method: &str) {
        let index = METHODS.iter().position(|&m| m == method).unwrap_or(METHODS.len());
        self.requests[index].inc();
    }

    /// An error response, counted and logged (never with secrets: the message is ours).
    fn fail(&self, id: &Value, code: i32, msg: &str) -> String {
        self.metrics.error(code);
        tracing::info!(code, msg, "request refused");
        error_response(id, code, msg)
    }

    /// The user's order buckets as Binance's `rateLimits`.
    fn order_rate_limits(&self, user: u32) -> Value {
        let Some((second, minute)) = self.orders.user(user) else { return Value::Array(Vec::new()) };
        json!([
            {"rateLimitType": "ORDERS", "interval": "SECOND", "intervalNum": 1, "limit": second.capacity(), "count": second.used()},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": minute.capacity(), "count": minute.used()},
        ])
    }

    fn parse(&self, text: &str) -> Action {
        let Ok(Value::Object(mut request)) = serde_json::from_str::<Value>(text) else {
            return Action::Reply(self.fail(
                &Value::Null,
                codes::MALFORMED,
                "Malformed request: not a JSON object.",
            ));
        };
        let id = request.remove("id").unwrap_or(Value::Null);
        let method = request.remove("method");
        let params = match request.remove("params") {
            None => Map::new(),
            Some(Value::Object(params)) => params,
            Some(Value::Array(streams)) if request.is_empty() => {
                // Binance's stream protocol: {"method": "SUBSCRIBE", "params": ["btcusdt@depth"]}.
                return self.streams(&id, method.as_ref().and_then(Value::as_str), &streams);
            }
            Some(_) => {
                return Action::Reply(self.fail(&id, codes::MALFORMED, "'params' must be an object."));
            }
        };
        if let Some(extra) = request.keys().next() {
            return Action::Reply(self.fail(
                &id,
                codes::MALFORMED,
                &format!("Unknown request field '{extra}'."),
            ));
        }
        let Some(Value::String(method)) = method else {
            self.count_request("invalid");
            return Action::Reply(self.fail(&id, codes::MALFORMED, "'method' must be a string."));
        };
        self.count_request(&method);
        match self.dispatch(&id, &method, &params) {
            Ok(action) => action,
            Err(Refusal(code, msg)) => Action::Reply(self.fail(&id, code, &msg)),
        }
    }

    fn dispatch(&self, id: &Value, method: &str, params: &Map<String, Value>) -> Result<Action, Refusal> {
        let pending = |kind| Pending { id: id.clone(), rate_limits: Value::Array(Vec::new()), kind };
        match method {
            "ping" => {
                only(params, &[])?;
                Ok(Action::Reply(ok_response(id, &json!({}))))
            }
            "time" => {
                only(params, &[])?;
                Ok(Action::Reply(ok_response(id, &json!({"serverTime": now_ms()}))))
            }
            "exchangeInfo" => {
                only(params, &["symbol", "symbols"])?;
                Ok(Action::Reply(ok_response(id, &self.exchange_info())))
            }
            "depth" => {
                only(params, &["symbol", "limit"])?;
                let instrument = self.instrument(params)?;
                let limit = u64_param(params, "limit")?.unwrap_or(100).clamp(1, 5000);
                let levels_max = u16::try_from(limit).expect("clamped");
                let query = Query::Depth { instrument: self.market.instruments[instrument].id, levels_max };
                Ok(submit(Body::Query(query), pending(Kind::Depth { instrument })))
            }
            "ticker.book" => {
                only(params, &["symbol"])?;
                let instrument =
                    if params.contains_key("symbol") { Some(self.instrument(params)?) } else { None };
                Ok(Action::MarketData { id: id.clone(), query: MarketQuery::TickerBook(instrument) })
            }
            "trades.recent" => {
                only(params, &["symbol", "limit"])?;
                let instrument = self.instrument(params)?;
                let limit = usize::try_from(u64_param(params, "limit")?.unwrap_or(500).clamp(1, 1000))
                    .expect("small");
                Ok(Action::MarketData { id: id.clone(), query: MarketQuery::RecentTrades(instrument, limit) })
            }
            _ => self.dispatch_signed(id, method, params),
        }
    }

    /// The methods that act for a user (signed).
    fn dispatch_signed(
        &self,
        id: &Value,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Action, Refusal> {
        let pending = |kind| Pending { id: id.clone(), rate_limits: Value::Array(Vec::new()), kind };
        match method {
            "order.place" => {
                let user = self.authenticate(params, &ORDER_PARAMS)?;
                let (place, instrument, client_order_id) = self.place(user, params)?;
                Ok(submit(
                    Body::Command(Command::Place(place)),
                    pending(Kind::Place { instrument, client_order_id, place }),
                ))
            }
            "order.cancelReplace" => self.cancel_replace(id, params),
            "order.cancel" => {
                let user = self.authenticate(params, &["symbol", "orderId", "origClientOrderId"])?;
                let instrument = self.instrument(params)?;
                let order = order_ref(params)?;
                let cancel = Cancel { user, instrument: self.market.instruments[instrument].id, order };
                Ok(submit(Body::Command(Command::Cancel(cancel)), pending(Kind::Cancel { instrument })))
            }
            "order.status" => {
                let user = self.authenticate(params, &["symbol", "orderId", "origClientOrderId"])?;
                let instrument = self.instrument(params)?;
                let order = order_ref(params)?;
                Ok(submit(
                    Body::Query(Query::OrderStatus { user, order }),
                    pending(Kind::Status { instrument }),
                ))
            }
            "openOrders.status" => {
                let user = self.authenticate(params, &["symbol"])?;
                let instrument = match params.get("symbol") {
                    Some(_) => Some(self.market.instruments[self.instrument(params)?].id),
                    None => None,
                };
                Ok(submit(Body::Query(Query::OpenOrders { user, instrument }), pending(Kind::OpenOrders)))
            }
            "openOrders.cancelAll" => {
                let user = self.authenticate(params, &["symbol"])?;
                let instrument = self.instrument(params)?;
                let command = Command::MassCancel(MassCancel {
                    user,
                    instrument: Some(self.market.instruments[instrument].id),
                });
                Ok(submit(Body::Command(command), pending(Kind::CancelAll { instrument })))
            }
            "account.positions" | "account.margin" | "position.close" => self.perpetual(id, method, params),
            method if method.starts_with("admin.") => {
                let command = self.admin(method, params)?;
                Ok(submit(Body::Command(command), pending(Kind::Applied)))
            }
            "session.logon" => {
                let user = self.authenticate(params, &[])?;
                let api_key = text_param(params, "apiKey")?.to_string();
                Ok(Action::Session { id: id.clone(), op: SessionOp::Logon { user, api_key } })
            }
            "session.status" => {
                only(params, &[])?;
                Ok(Action::Session { id: id.clone(), op: SessionOp::Status })
            }
            "session.logout" => {
                only(params, &[])?;
                Ok(Action::Session { id: id.clone(), op: SessionOp::Logout })
            }
            "session.cancelOnDisconnect" => {
                let user = self.authenticate(params, &["enabled"])?;
                let enabled = bool_param(params, "enabled")?;
                let reply = ok_response(id, &json!({"cancelOnDisconnect": enabled}));
                Ok(Action::CancelOnDisconnect { user: enabled.then_some(user), reply })
            }
            "userDataStream.subscribe" => {
                let user = self.authenticate(params, &[])?;
                let reply = ok_response(id, &json!({"subscriptionId": 0}));
                Ok(Action::Subscribe { topics: vec![market::user_topic(user)], subscribe: true, reply })
            }
            "account.status" => {
                let user = self.authenticate(params, &[])?;
                Ok(submit(Body::Query(Query::Balances { user }), pending(Kind::Account)))
            }
            other => Err(refuse(codes::UNKNOWN_METHOD, format!("Unknown method '{other}'."))),
        }
    }

    /// `SUBSCRIBE` / `UNSUBSCRIBE` with a list of stream names.
    fn streams(&self, id: &Value, method: Option<&str>, streams: &[Value]) -> Action {
        let subscribe = match method {
            Some("SUBSCRIBE") => true,
            Some("UNSUBSCRIBE") => false,
            _ => return Action::Reply(self.fail(id, codes::MALFORMED, "'params' must be an object.")),
        };
        let mut topics = Vec::with_capacity(streams.len());
        for stream in streams {
            match stream.as_str().and_then(|name| market::topic(&self.market, name)) {
                Some(topic) => topics.push(topic),
                None => {
                    return Action::Reply(self.fail(
                        id,
                        codes::BAD_PARAM,
                        &format!("Invalid stream {stream}."),
                    ));
                }
            }
        }
        let reply = json!({"id": id, "status": 200, "result": Value::Null}).to_string();
        Action::Subscribe { topics, subscribe, reply }
    }

    /// `order.cancelReplace`: the cancel is submitted first; `respond` submits the new order.
    fn cancel_replace(&self, id: &Value, params: &Map<String, Value>) -> Result<Action, Refusal> {
        let pending = |kind| Pending { id: id.clone(), rate_limits: Value::Array(Vec::new()), kind };
        let allowed =
            [&ORDER_PARAMS[..], &["cancelReplaceMode", "cancelOrderId", "cancelOrigClientOrderId"]].concat();
        let user = self.authenticate(params, &allowed)?;
        let allow_failure = match params.get("cancelReplaceMode").and_then(Value::as_str) {
            Some("STOP_ON_FAILURE") => false,
            Some("ALLOW_FAILURE") => true,
            _ => {
                return Err(refuse(
                    codes::BAD_PARAM,
                    "'cancelReplaceMode' must be STOP_ON_FAILURE or ALLOW_FAILURE.",
                ));
            }
        };
        let order = match (
            u64_param(params, "cancelOrderId")?,
            params.get("cancelOrigClientOrderId").and_then(Value::as_str),
        ) {
            (Some(id), _) => OrderRef::Id(OrderId(id)),
            (None, Some(text)) => OrderRef::Client(
                ClientOrderId::new(text)
                    .map_err(|_| refuse(codes::BAD_PARAM, "'cancelOrigClientOrderId' is malformed."))?,
            ),
            (None, None) => {
                return Err(refuse(
                    codes::BAD_PARAM,
                    "Either 'cancelOrderId' or 'cancelOrigClientOrderId' must be sent.",
                ));
            }
        };
        let (place, instrument, client_order_id) = self.place(user, params)?;
        let cancel = Cancel { user, instrument: self.market.instruments[instrument].id, order };
        let kind = Kind::CancelReplace { instrument, allow_failure, place, client_order_id };
        Ok(submit(Body::Command(Command::Cancel(cancel)), pending(kind)))
    }

    /// The perpetual methods: positions and closing one.
    fn perpetual(&self, id: &Value, method: &str, params: &Map<String, Value>) -> Result<Action, Refusal> {
        let pending = |kind| Pending { id: id.clone(), rate_limits: Value::Array(Vec::new()), kind };
        match method {
            "account.positions" => {
                let user = self.authenticate(params, &[])?;
                Ok(submit(Body::Query(Query::Positions { user }), pending(Kind::Positions)))
            }
            "account.margin" => {
                let user = self.authenticate(params, &["asset"])?;
                let (asset, _) = self.asset(params)?;
                Ok(submit(Body::Query(Query::Margin { user, asset }), pending(Kind::Margin { asset })))
            }
            "position.close" => {
                let user = self.authenticate(params, &["symbol", "price"])?;
                let instrument = self.instrument(params)?;
                let spec = &self.market.instruments[instrument].spec;
                let price = match params.get("price") {
                    None => None,
                    Some(_) => Some(Price(steps(params, "price", spec.tick)?)),
                };
                let command = Command::ClosePosition {
                    user,
                    instrument: self.market.instruments[instrument].id,
                    price,
                };
                Ok(submit(Body::Command(command), pending(Kind::Applied)))
            }
            other => Err(refuse(codes::UNKNOWN_METHOD, format!("Unknown method '{other}'."))),
        }
    }

    /// The `asset` parameter: its id and scale.
    fn asset(&self, params: &Map<String, Value>) -> Result<(ferrex_engine::AssetId, u8), Refusal> {
        let symbol = text_param(params, "asset")?;
        let index = self
            .market
            .assets
            .iter()
            .position(|(s, _)| s == symbol)
            .ok_or_else(|| refuse(codes::BAD_PARAM, "Unknown asset."))?;
        let id = ferrex_engine::AssetId(u32::try_from(index).expect("assets_max fits u32"));
        Ok((id, self.market.assets[index].1))
    }

    /// The admin methods: the key's user is the actor; the engine checks it may act (tenant
    /// admins on their tenant's users, operators on everything; docs/MONEY.md).
    fn admin(&self, method: &str, params: &Map<String, Value>) -> Result<Command, Refusal> {
        let user_param = |params: &Map<String, Value>| -> Result<UserId, Refusal> {
            let user = u64_param(params, "user")?
                .ok_or_else(|| refuse(codes::BAD_PARAM, "Mandatory parameter 'user' was not sent."))?;
            u32::try_from(user).map(UserId).map_err(|_| refuse(codes::BAD_PARAM, "'user' is out of range."))
        };
        match method {
            "admin.deposit" | "admin.withdraw" => {
                let actor = self.authenticate(params, &["user", "asset", "amount", "txId"])?;
                let user = user_param(params)?;
                let (asset, scale) = self.asset(params)?;
                let amount = decimal::to_units(text_param(params, "amount")?, scale)
                    .map_err(|e| refuse(codes::BAD_PRECISION, format!("'amount': {e}.")))?;
                let tx = u64_param(params, "txId")?
                    .ok_or_else(|| refuse(codes::BAD_PARAM, "Mandatory parameter 'txId' was not sent."))?;
                let amount = if method == "admin.withdraw" { -amount } else { amount };
                Ok(Command::Transfer(ferrex_engine::Transfer {
                    actor,
                    account: ferrex_engine::AccountRef::User(user),
                    asset,
                    tx: ferrex_engine::TxId(tx),
                    amount,
                }))
            }
            "admin.createUser" => {
                let actor = self.authenticate(params, &["user", "tenant", "role"])?;
                let tenant = u64_param(params, "tenant")?.unwrap_or(0);
                let tenant = ferrex_engine::TenantId(
                    u32::try_from(tenant)
                        .map_err(|_| refuse(codes::BAD_PARAM, "'tenant' is out of range."))?,
                );
                let role = match params.get("role").and_then(Value::as_str).unwrap_or("TRADER") {
                    "TRADER" => ferrex_engine::Role::Trader,
                    "TENANT_ADMIN" => ferrex_engine::Role::TenantAdmin,
                    "OPERATOR" => ferrex_engine::Role::Operator,
                    _ => {
                        return Err(refuse(
                            codes::BAD_PARAM,
                            "'role' must be TRADER, TENANT_ADMIN or OPERATOR.",
                        ));
                    }
                };
                Ok(Command::CreateUser { actor, user: user_param(params)?, tenant, role })
            }
            "admin.suspendUser" => {
                let actor = self.authenticate(params, &["user", "suspended"])?;
                Ok(Command::SetUserSuspended {
                    actor,
                    user: user_param(params)?,
                    suspended: bool_param(params, "suspended")?,
                })
            }
            "admin.haltInstrument" => {
                let actor = self.authenticate(params, &["symbol", "halted"])?;
                let instrument = self.market.instruments[self.instrument(params)?].id;
                Ok(Command::SetInstrumentHalted { actor, instrument, halted: bool_param(params, "halted")? })
            }
            "admin.setMarkPrice" => {
                let actor = self.authenticate(params, &["symbol", "price"])?;
                let listed = &self.market.instruments[self.instrument(params)?];
                let price = Price(steps(params, "price", listed.spec.tick)?);
                Ok(Command::SetMarkPrice { actor, instrument: listed.id, price })
            }
            "admin.applyFunding" => {
                let actor = self.authenticate(params, &["symbol", "ratePpm"])?;
                let instrument = self.market.instruments[self.instrument(params)?].id;
                let rate = match params.get("ratePpm") {
                    Some(Value::Number(n)) => n.as_i64().and_then(|r| i32::try_from(r).ok()),
                    _ => None,
                };
                let rate_ppm = rate.ok_or_else(|| {
                    refuse(codes::BAD_PARAM, "Mandatory parameter 'ratePpm' (an integer) was not sent.")
                })?;
                Ok(Command::ApplyFunding { actor, instrument, rate_ppm })
            }
            other => Err(refuse(codes::UNKNOWN_METHOD, format!("Unknown method '{other}'."))),
        }
    }

    /// Checks the signature fields and the parameters; returns the key's user.
    fn authenticate(&self, params: &Map<String, Value>, allowed: &[&str]) -> Result<UserId, Refusal> {
        if let Some(user) = self.session
            && !params.contains_key("signature")
        {
            // A logged-on session: no signature, no key (Binance's session.logon).
            only(params, &[allowed, &["timestamp", "recvWindow"][..]].concat())?;
            return Ok(user);
        }
        only(params, &[allowed, &SIGNATURE_PARAMS[..]].concat())?;
        let api_key = text_param(params, "apiKey")?;
        let key = self
            .keys
            .get(api_key)
            .ok_or_else(|| refuse(codes::BAD_API_KEY, "Invalid API-key, IP, or permissions for action."))?;
        let timestamp = u64_param(params, "timestamp")?.ok_or_else(|| {
            refuse(
                codes::BAD_PARAM,
                "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.",
            )
        })?;
        let window = u64_param(params, "recvWindow")?.unwrap_or(5_000);
        if window > self.recv_window_ms_max {
            return Err(refuse(
                codes::BAD_PARAM,
                format!("'recvWindow' must be at most {}.", self.recv_window_ms_max),
            ));
        }
        let now = now_ms();
        if timestamp > now + 1_000 || now.saturating_sub(timestamp) > window {
            return Err(refuse(
                codes::INVALID_TIMESTAMP,
                "Timestamp for this request is outside of the recvWindow.",
            ));
        }
        let signature = text_param(params, "signature")?;
        if !verify(key, &signature_payload(params), signature) {
            return Err(refuse(codes::INVALID_SIGNATURE, "Signature for this request is not valid."));
        }
        Ok(UserId(key.user))
    }

    fn instrument(&self, params: &Map<String, Value>) -> Result<usize, Refusal> {
        let symbol = text_param(params, "symbol")?;
        self.market
            .instruments
            .iter()
            .position(|l| l.symbol == symbol)
            .ok_or_else(|| refuse(codes::BAD_SYMBOL, "Invalid symbol."))
    }

    fn place(&self, user: UserId, params: &Map<String, Value>) -> Result<(Place, usize, String), Refusal> {
        let instrument = self.instrument(params)?;
        let listed: &Listed = &self.market.instruments[instrument];
        let side = match text_param(params, "side")? {
            "BUY" => Side::Buy,
            "SELL" => Side::Sell,
            _ => return Err(refuse(codes::BAD_PARAM, "'side' must be BUY or SELL.")),
        };
        // LIMIT_MAKER is Binance's post-only limit order: refused if it would take.
        let (order_type, post_only) = match text_param(params, "type")? {
            "LIMIT" => (OrderType::Limit, false),
            "LIMIT_MAKER" => (OrderType::Limit, true),
            "MARKET" => (OrderType::Market, false),
            _ => return Err(refuse(codes::BAD_PARAM, "'type' must be LIMIT, LIMIT_MAKER or MARKET.")),
        };
        let time_in_force = match (order_type, params.get("timeInForce").and_then(Value::as_str)) {
            (OrderType::Limit, _) if post_only => TimeInForce::Gtc,
            (OrderType::Limit, Some("GTC")) => TimeInForce::Gtc,
            (_, Some("IOC")) | (OrderType::Market, None) => TimeInForce::Ioc,
            (_, Some("FOK")) => TimeInForce::Fok,
            (OrderType::Limit, None) => {
                return Err(refuse(codes::BAD_PARAM, "Mandatory parameter 'timeInForce' was not sent."));
            }
            _ => return Err(refuse(codes::BAD_PARAM, "'timeInForce' must be GTC, IOC or FOK.")),
        };
        let qty = decimal::to_steps(text_param(params, "quantity")?, listed.spec.lot)
            .map_err(|e| refuse(codes::BAD_PRECISION, format!("'quantity': {e}.")))?;
        let price = match (order_type, params.get("price")) {
            (_, Some(_)) => Some(Price(
                decimal::to_steps(text_param(params, "price")?, listed.spec.tick)
                    .map_err(|e| refuse(codes::BAD_PRECISION, format!("'price': {e}.")))?,
            )),
            (OrderType::Limit, None) => {
                return Err(refuse(codes::BAD_PARAM, "Mandatory parameter 'price' was not sent."));
            }
            (OrderType::Market, None) => None,
        };
        let client_text = params.get("newClientOrderId").and_then(Value::as_str).unwrap_or("");
        let client_order_id = ClientOrderId::new(client_text).map_err(|_| {
            refuse(codes::BAD_PARAM, "'newClientOrderId' must be 1 to 36 characters of [A-Za-z0-9._:-].")
        })?;
        let place = Place {
            user,
            instrument: listed.id,
            client_order_id,
            side,
            order_type,
            price,
            qty: Qty(qty),
            time_in_force,
            self_trade: SelfTradePrevention::None,
            post_only,
            levels_max: if order_type == OrderType::Market && price.is_none() { 1000 } else { 0 },
            reduce_only: matches!(params.get("reduceOnly"), Some(Value::Bool(true)))
                || params.get("reduceOnly").and_then(Value::as_str) == Some("true"),
            ..Place::default()
        };
        Ok((place, instrument, client_text.to_string()))
    }

    fn exchange_info(&self) -> Value {
        let symbols: Vec<Value> = self
            .market
            .instruments
            .iter()
            .map(|l| {
                let s = &l.spec;
                json!({
                    "symbol": l.symbol,
                    "status": "TRADING",
                    "baseAsset": l.assets.0,
                    "quoteAsset": l.assets.1,
                    "kind": if s.kind == ferrex_engine::InstrumentKind::Spot { "SPOT" } else { "PERPETUAL" },
                    "orderTypes": ["LIMIT", "MARKET"],
                    "filters": [
                        {"filterType": "PRICE_FILTER", "minPrice": decimal::format_steps(s.price_min.0, s.tick),
                         "maxPrice": decimal::format_steps(s.price_max.0, s.tick), "tickSize": decimal::format_steps(1, s.tick)},
                        {"filterType": "LOT_SIZE", "minQty": decimal::format_steps(s.qty_min.0, s.lot),
                         "maxQty": decimal::format_steps(s.qty_max.0, s.lot), "stepSize": decimal::format_steps(1, s.lot)},
                    ],
                    "makerFeeBps": s.maker_fee_bps,
                    "takerFeeBps": s.taker_fee_bps,
                })
            })
            .collect();
        json!({"timezone": "UTC", "serverTime": now_ms(), "rateLimits": [], "symbols": symbols})
    }

    /// The response to a request once its outputs (through its `Done`) are in.
    pub fn respond(&self, pending: &Pending, outputs: &[Output]) -> Reply {
        match &pending.kind {
            Kind::CancelReplace { instrument, allow_failure, place, client_order_id } => {
                let cancel = self.answer(
                    &Pending { kind: Kind::Cancel { instrument: *instrument }, ..pending.clone() },
                    outputs,
                );
                let cancel: Value = serde_json::from_str(&cancel).expect("our own JSON");
                let succeeded = cancel["status"] == 200;
                let part = if succeeded { cancel["result"].clone() } else { cancel["error"].clone() };
                if !succeeded && !allow_failure {
                    let data = json!({"cancelResult": "FAILURE", "newOrderResult": "NOT_ATTEMPTED",
                                      "cancelResponse": part, "newOrderResponse": Value::Null});
                    return Reply::Final(self.fail_with(
                        &pending.id,
                        codes::CANCEL_REPLACE_FAILED,
                        "Order cancel-replace failed.",
                        &data,
                    ));
                }
                let kind = Kind::CancelReplaceNew {
                    instrument: *instrument,
                    cancel: (part, succeeded),
                    place: *place,
                    client_order_id: client_order_id.clone(),
                };
                Reply::Then(Box::new((
                    Body::Command(Command::Place(*place)),
                    Pending { kind, ..pending.clone() },
                )))
            }
            Kind::CancelReplaceNew { instrument, cancel, place, client_order_id } => {
                let placing = Kind::Place {
                    instrument: *instrument,
                    client_order_id: client_order_id.clone(),
                    place: *place,
                };
                let placed = self.answer(&Pending { kind: placing, ..pending.clone() }, outputs);
                let placed: Value = serde_json::from_str(&placed).expect("our own JSON");
                let ok = placed["status"] == 200;
                let result = |r: bool| if r { "SUCCESS" } else { "FAILURE" };
                let body = json!({
                    "cancelResult": result(cancel.1), "newOrderResult": result(ok),
                    "cancelResponse": cancel.0,
                    "newOrderResponse": if ok { placed["result"].clone() } else { placed["error"].clone() },
                });
                Reply::Final(if ok && cancel.1 {
                    ok_limited(&pending.id, &pending.rate_limits, &body)
                } else if ok || cancel.1 {
                    self.fail_with(
                        &pending.id,
                        codes::CANCEL_REPLACE_PARTIAL,
                        "Order cancel-replace partially failed.",
                        &body,
                    )
                } else {
                    self.fail_with(
                        &pending.id,
                        codes::CANCEL_REPLACE_FAILED,
                        "Order cancel-replace failed.",
                        &body,
                    )
                })
            }
            _ => Reply::Final(self.answer(pending, outputs)),
        }
    }

    /// An error response with `data`, counted.
    fn fail_with(&self, id: &Value, code: i32, msg: &str, data: &Value) -> String {
        self.metrics.error(code);
        json!({"id": id, "status": 400, "error": {"code": code, "msg": msg, "data": data}}).to_string()
    }

    /// The response to a one-step request.
    fn answer(&self, pending: &Pending, outputs: &[Output]) -> String {
        let id = &pending.id;
        let limits = &pending.rate_limits;
        let events: Vec<Event> =
            outputs.iter().filter_map(|o| if let Item::Event(e) = o.item { Some(e) } else { None }).collect();
        let answers: Vec<Answer> = outputs
            .iter()
            .filter_map(|o| if let Item::Answer(a) = o.item { Some(a) } else { None })
            .collect();
        let time_ms = outputs.iter().rev().find_map(|o| match o.item {
            Item::Done { timestamp_ns, .. } => Some(timestamp_ns / 1_000_000),
            _ => None,
        });
        let rejected =
            events.iter().find_map(|e| if let Event::Rejected { code, .. } = e { Some(*code) } else { None });
        if let Some(code) = rejected {
            let (error, what) = match pending.kind {
                Kind::Place { .. } => (codes::ORDER_REJECTED, "Order"),
                Kind::Applied => (codes::COMMAND_REJECTED, "Command"),
                _ => (codes::CANCEL_REJECTED, "Cancel"),
            };
            return self.fail(id, error, &format!("{what} rejected: {} ({code:?}).", code.code()));
        }
        match &pending.kind {
            Kind::Place { instrument, client_order_id, place } => {
                self.placed((id, limits), *instrument, client_order_id, place, &events, time_ms.unwrap_or(0))
            }
            Kind::Cancel { instrument } | Kind::CancelAll { instrument } => {
                let listed = &self.market.instruments[*instrument];
                let cancelled: Vec<Value> = events
                    .iter()
                    .filter_map(|e| if let Event::Cancelled { order, qty, .. } = e { Some((order, qty)) } else { None })
                    .map(|(order, qty)| {
                        json!({"symbol": listed.symbol, "orderId": order.0, "status": "CANCELED",
                               "cancelledQty": decimal::format_steps(qty.0, listed.spec.lot), "transactTime": time_ms})
                    })
                    .collect();
                match (&pending.kind, cancelled.first()) {
                    (Kind::CancelAll { .. }, _) => ok_limited(id, limits, &Value::Array(cancelled)),
                    (_, Some(one)) => ok_limited(id, limits, one),
                    (_, None) => self.fail(id, codes::CANCEL_REJECTED, "Cancel rejected."),
                }
            }
            Kind::Status { instrument } => match answers.first() {
                Some(Answer::Order(order)) => ok_limited(id, limits, &self.open_order(*instrument, order)),
                _ => self.fail(id, codes::NO_SUCH_ORDER, "Order does not exist."),
            },
            Kind::OpenOrders => {
                let orders: Vec<Value> = answers
                    .iter()
                    .filter_map(|a| if let Answer::Order(o) = a { Some(o) } else { None })
                    .filter_map(|o| {
                        let index = self.market.instruments.iter().position(|l| l.id == o.instrument)?;
                        Some(self.open_order(index, o))
                    })
                    .collect();
                ok_limited(id, limits, &Value::Array(orders))
            }
            Kind::Account => ok_limited(id, limits, &self.account(&answers, time_ms)),
            Kind::CancelReplace { .. } | Kind::CancelReplaceNew { .. } => {
                unreachable!("answered by `respond`")
            }
            Kind::Applied => ok_limited(
                id,
                limits,
                &json!({"sequence": outputs.last().map_or(0, |o| o.sequence), "transactTime": time_ms}),
            ),
            Kind::Margin { asset } => {
                let scale = self.market.assets.get(asset.0 as usize).map_or(0, |a| a.1);
                let money = |units: i64| decimal::format_units(units, scale);
                match answers.first() {
                    Some(Answer::Margin(Some(m))) => ok_limited(
                        id,
                        limits,
                        &json!({"equity": money(m.equity), "initialMargin": money(m.initial_margin),
                                "maintenanceMargin": money(m.maintenance_margin), "availableMargin": money(m.available_margin)}),
                    ),
                    _ => self.fail(id, codes::BAD_PARAM, "No margin account for this user and asset."),
                }
            }
            Kind::Positions => ok_limited(
                id,
                limits,
                &Value::Array(answers.iter().filter_map(|a| self.position(a)).collect()),
            ),
            Kind::Depth { instrument } => {
                let sequence = outputs.last().map_or(0, |o| o.sequence);
                ok_limited(id, limits, &self.depth(*instrument, &answers, sequence))
            }
        }
    }

    fn position(&self, answer: &Answer) -> Option<Value> {
        let Answer::Position(p) = answer else { return None };
        let listed = self.market.instruments.iter().find(|l| l.id == p.instrument)?;
        let scale = self.market.assets.get(listed.spec.quote.0 as usize)?.1;
        let money = |units: i64| decimal::format_units(units, scale);
        Some(json!({
            "symbol": listed.symbol,
            "positionAmt": decimal::format_steps(p.qty, listed.spec.lot),
            "entryNotional": money(p.entry_notional),
            "markPrice": decimal::format_steps(p.mark.0, listed.spec.tick),
            "unrealizedPnl": money(p.unrealized_pnl),
            "realizedPnl": money(p.realized_pnl),
            "initialMargin": money(p.initial_margin),
            "maintenanceMargin": money(p.maintenance_margin),
        }))
    }

    fn account(&self, answers: &[Answer], time_ms: Option<u64>) -> Value {
        let balances: Vec<Value> = answers
            .iter()
            .filter_map(|a| {
                if let Answer::Balance { asset, balance } = a { Some((asset, balance)) } else { None }
            })
            .filter_map(|(asset, balance)| {
                let (symbol, scale) = self.market.assets.get(asset.0 as usize)?;
                Some(json!({"asset": symbol, "free": decimal::format_units(balance.available, *scale),
                            "locked": decimal::format_units(balance.held, *scale)}))
            })
            .collect();
        json!({"balances": balances, "updateTime": time_ms})
    }

    fn depth(&self, instrument: usize, answers: &[Answer], sequence: u64) -> Value {
        let listed = &self.market.instruments[instrument];
        let mut sides = (Vec::new(), Vec::new());
        for answer in answers {
            if let Answer::Level { side, price, qty } = answer {
                let level = json!([
                    decimal::format_steps(price.0, listed.spec.tick),
                    decimal::format_steps(qty.0, listed.spec.lot)
                ]);
                if *side == Side::Buy { sides.0.push(level) } else { sides.1.push(level) }
            }
        }
        json!({"lastUpdateId": sequence, "bids": sides.0, "asks": sides.1})
    }

    fn placed(
        &self,
        (id, limits): (&Value, &Value),
        instrument: usize,
        client_order_id: &str,
        place: &Place,
        events: &[Event],
        time_ms: u64,
    ) -> String {
        let listed = &self.market.instruments[instrument];
        let (tick, lot) = (listed.spec.tick, listed.spec.lot);
        let order = events
            .iter()
            .find_map(|e| if let Event::Accepted(a) = e { Some(a.order) } else { None })
            .unwrap_or(OrderId(0));
        let fills: Vec<&ferrex_engine::Fill> = events
            .iter()
            .filter_map(|e| if let Event::Fill(f) = e { Some(f) } else { None })
            .filter(|f| f.taker_order == order)
            .collect();
        let executed: i64 = fills.iter().map(|f| f.qty.0).sum();
        let quote: i128 = fills.iter().map(|f| i128::from(f.price.0) * i128::from(f.qty.0)).sum();
        let cancelled = events.iter().any(|e| matches!(e, Event::Cancelled { order: o, .. } if *o == order));
        let status = if executed == place.qty.0 {
            "FILLED"
        } else if cancelled {
            if place.time_in_force == TimeInForce::Gtc { "CANCELED" } else { "EXPIRED" }
        } else if executed > 0 {
            "PARTIALLY_FILLED"
        } else {
            "NEW"
        };
        let quote_value = rust_decimal::Decimal::try_from_i128_with_scale(
            quote * i128::from(tick.units) * i128::from(lot.units),
            u32::from(tick.scale) + u32::from(lot.scale),
        )
        .map_or_else(|_| "overflow".to_string(), |d| d.normalize().to_string());
        ok_limited(
            id,
            limits,
            &json!({
                "symbol": listed.symbol,
                "orderId": order.0,
                "clientOrderId": client_order_id,
                "transactTime": time_ms,
                "price": place.price.map_or_else(|| "0".to_string(), |p| decimal::format_steps(p.0, tick)),
                "origQty": decimal::format_steps(place.qty.0, lot),
                "executedQty": decimal::format_steps(executed, lot),
                "cummulativeQuoteQty": quote_value,
                "status": status,
                "timeInForce": tif_name(place.time_in_force),
                "type": if place.order_type == OrderType::Limit { "LIMIT" } else { "MARKET" },
                "side": side_name(place.side),
                "fills": fills.iter().map(|f| json!({
                    "price": decimal::format_steps(f.price.0, tick),
                    "qty": decimal::format_steps(f.qty.0, lot),
                    "tradeId": f.trade.0,
                })).collect::<Vec<_>>(),
            }),
        )
    }

    fn open_order(&self, instrument: usize, order: &ferrex_engine::OpenOrder) -> Value {
        let listed = &self.market.instruments[instrument];
        json!({
            "symbol": listed.symbol,
            "orderId": order.order.0,
            "clientOrderId": order.client_order_id.as_str(),
            "price": decimal::format_steps(order.price.0, listed.spec.tick),
            "openQty": decimal::format_steps(order.qty.0, listed.spec.lot),
            "side": side_name(order.side),
            "status": "NEW",
        })
    }
}

fn side_name(side: Side) -> &'static str {
    if side == Side::Buy { "BUY" } else { "SELL" }
}

fn tif_name(tif: TimeInForce) -> &'static str {
    match tif {
        TimeInForce::Gtc => "GTC",
        TimeInForce::Ioc => "IOC",
        TimeInForce::Fok => "FOK",
    }
}

/// A mandatory boolean parameter.
fn bool_param(params: &Map<String, Value>, name: &str) -> Result<bool, Refusal> {
    match params.get(name) {
        Some(Value::Bool(value)) => Ok(*value),
        _ => Err(refuse(
            codes::BAD_PARAM,
            format!("Mandatory parameter '{name}' (true or false) was not sent."),
        )),
    }
}

/// A decimal parameter in steps of `step`.
fn steps(params: &Map<String, Value>, name: &str, step: ferrex_engine::DecimalStep) -> Result<i64, Refusal> {
    decimal::to_steps(text_param(params, name)?, step)
        .map_err(|e| refuse(codes::BAD_PRECISION, format!("'{name}': {e}.")))
}

fn order_ref(params: &Map<String, Value>) -> Result<OrderRef, Refusal> {
    if let Some(id) = u64_param(params, "orderId")? {
        return Ok(OrderRef::Id(OrderId(id)));
    }
    let text = text_param(params, "origClientOrderId")
        .map_err(|_| refuse(codes::BAD_PARAM, "Either 'orderId' or 'origClientOrderId' must be sent."))?;
    ClientOrderId::new(text)
        .map(OrderRef::Client)
        .map_err(|_| refuse(codes::BAD_PARAM, "'origClientOrderId' is malformed."))
}

/// Refuses parameters outside `allowed`.
fn only(params: &Map<String, Value>, allowed: &[&str]) -> Result<(), Refusal> {
    match params.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(refuse(codes::UNKNOWN_PARAM, format!("Unknown parameter '{unknown}'."))),
        None => Ok(()),
    }
}

/// Checks a request's signature with the key: HMAC-SHA256 (hex) with its secret, or Ed25519
/// (base64) with its public key.
fn verify(key: &Key, payload: &str, signature: &str) -> bool {
    use base64::Engine as _;
    if let Some(secret) = &key.secret
        && constant_time_eq(signature.as_bytes(), sign(secret, payload).as_bytes())
    {
        return true;
    }
    let Some(public) = key.ed25519() else { return false };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(signature) else { return false };
    let (Ok(public), Ok(signature)) =
        (ed25519_compact::PublicKey::from_slice(&public), ed25519_compact::Signature::from_slice(&bytes))
    else {
        return false;
    };
    public.verify(payload.as_bytes(), &signature).is_ok()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, DEMO_KEYSTORE, load_keys};

    fn api() -> Api {
        let metrics = Arc::new(Metrics::new(Arc::default(), Arc::default()));
        Api::new(
            Config::demo().validate().expect("demo"),
            load_keys(DEMO_KEYSTORE).expect("keys"),
            60_000,
            metrics,
        )
    }

    #[test]
    fn a_requests_id_is_read_alone_whatever_its_kind() {
        assert_eq!(request_id(r#"{"id":7,"method":"ping","params":{"x":[1,{"y":2}]}}"#), json!(7));
        assert_eq!(request_id(r#"{"method":"ping","id":"abc"}"#), json!("abc"));
        assert_eq!(request_id(r#"{"method":"ping"}"#), Value::Null);
        assert_eq!(request_id("not json"), Value::Null);
        assert_eq!(request_id("[1,2]"), Value::Null);
    }

    fn signed(method: &str, mut params: Map<String, Value>) -> String {
        params.insert("apiKey".into(), json!("demo-alice"));
        params.insert("timestamp".into(), json!(now_ms()));
        let signature = sign("demo-alice-secret", &signature_payload(&params));
        params.insert("signature".into(), json!(signature));
        json!({"id": "r1", "method": method, "params": params}).to_string()
    }

    fn error_code(action: Action) -> i64 {
        match action {
            Action::Reply(text) => {
                serde_json::from_str::<Value>(&text).expect("json")["error"]["code"].as_i64().expect("code")
            }
            _ => panic!("not an error"),
        }
    }

    #[test]
    fn a_signed_order_becomes_a_place_command() {
        let params = json!({"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                            "price": "60000.01", "quantity": "0.001"});
        let Action::Submit(submission) =
            api().request(&signed("order.place", params.as_object().unwrap().clone()), 0, None)
        else {
            panic!("not submitted");
        };
        let (Body::Command(Command::Place(place)), _) = *submission else { panic!("not a place") };
        assert_eq!((place.user, place.price, place.qty), (UserId(1), Some(Price(6_000_001)), Qty(10)));
    }

    #[test]
    fn the_documented_error_codes_are_the_codes() {
        let doc = include_str!("../../docs/API-WEBSOCKET.md");
        let table = doc.split("## Error codes").nth(1).expect("a table");
        let documented: Vec<i32> = table
            .lines()
            .filter_map(|l| l.strip_prefix("| ")?.split(" |").next()?.trim().parse().ok())
            .collect();
        assert_eq!(documented, codes::ALL);
    }

    #[test]
    fn bad_input_gets_its_code() {
        let api = api();
        let mut api = api;
        assert_eq!(error_code(api.request("{not json", 0, None)), i64::from(codes::MALFORMED));
        assert_eq!(
            error_code(api.request(r#"{"id":1,"method":"nope"}"#, 0, None)),
            i64::from(codes::UNKNOWN_METHOD)
        );
        assert_eq!(
            error_code(api.request(r#"{"id":1,"method":"ping","params":{"x":1}}"#, 0, None)),
            i64::from(codes::UNKNOWN_PARAM)
        );
        let off_tick = json!({"symbol": "BTC-USDT", "side": "BUY", "type": "LIMIT", "timeInForce": "GTC",
                              "price": "60000.001", "quantity": "0.001"});
        assert_eq!(
            error_code(api.request(&signed("order.place", off_tick.as_object().unwrap().clone()), 0, None)),
            i64::from(codes::BAD_PRECISION)
        );
        let mut tampered: Value = serde_json::from_str(&signed("account.status", Map::new())).unwrap();
        let signed_at = tampered["params"]["timestamp"].as_u64().expect("a timestamp");
        tampered["params"]["timestamp"] = json!(signed_at - 1);
        assert_eq!(
            error_code(api.request(&tampered.to_string(), 0, None)),
            i64::from(codes::INVALID_SIGNATURE)
        );
    }
}
