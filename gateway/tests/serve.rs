//! `ferrex serve` as a newcomer meets it: the real binary on the embedded demo market, on
//! 127.0.0.1 with a free port and a fresh journal directory, driven over WebSocket by a client that
//! signs its requests itself (HMAC-SHA256 as Binance clients do). Two users trade and every figure
//! is checked exactly, the depth stream included; a table of bad inputs gets its documented errors while the server keeps
//! serving; orders and balances survive a restart on the same directory.

use std::net::TcpStream;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrex_tests::journal_fixture::TempDir;
use hmac::{KeyInit, Mac};
use serde_json::{Value, json};
use tungstenite::{Message, WebSocket};

mod common;

use common::Server;

/// A WebSocket connection to the server.
fn connect(server: &Server) -> Client {
    let stream = TcpStream::connect(&server.address).expect("connect");
    let (ws, _) = tungstenite::client(format!("ws://{}/", server.address), stream).expect("handshake");
    Client { ws }
}

struct Client {
    ws: WebSocket<TcpStream>,
}

fn now_ms() -> u64 {
    u64::try_from(SystemTime::now().duration_since(UNIX_EPOCH).expect("after 1970").as_millis())
        .expect("fits")
}

/// Binance's signature: HMAC-SHA256 (hex) of the parameters sorted by name, `key=value&...`.
fn signature(secret: &str, params: &serde_json::Map<String, Value>) -> String {
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    pairs.sort();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(pairs.join("&").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

impl Client {
    /// Sends a request and returns its response (stream events arriving first are passed over).
    fn send_text(&mut self, text: String) -> Value {
        self.ws.send(Message::text(text)).expect("send");
        loop {
            match self.ws.read().expect("a response") {
                Message::Text(text) => {
                    let message: Value = serde_json::from_str(text.as_str()).expect("JSON");
                    if message.get("status").is_some() {
                        return message;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// The next message the server pushes (a stream event).
    fn next_message(&mut self) -> Value {
        loop {
            if let Message::Text(text) = self.ws.read().expect("a message") {
                return serde_json::from_str(text.as_str()).expect("JSON");
            }
        }
    }

    fn call(&mut self, method: &str, params: Value) -> Value {
        let mut request = serde_json::Map::new();
        request.insert("id".into(), json!(method));
        request.insert("method".into(), json!(method));
        request.insert("params".into(), params);
        self.send_text(Value::Object(request).to_string())
    }

    fn signed(&mut self, user: &str, method: &str, params: Value) -> Value {
        let Value::Object(mut params) = params else { panic!("params are an object") };
        params.insert("apiKey".into(), json!(format!("demo-{user}")));
        params.insert("timestamp".into(), json!(now_ms()));
        let signature = signature(&format!("demo-{user}-secret"), &params);
        params.insert("signature".into(), json!(signature));
        self.call(method, Value::Object(params))
    }

    fn balance(&mut self, user: &str, asset: &str) -> (String, String) {
        let account = self.signed(user, "account.status", json!({}));
        let balances = account["result"]["balances"].as_array().expect("balances").clone();
        let entry = balances.iter().find(|b| b["asset"] == asset).expect("asset listed");
        (entry["free"].as_str().expect("free").into(), entry["locked"].as_str().expect("locked").into())
    }
}

fn limit(side: &str, price: &str, quantity: &str) -> Value {
    json!({"symbol": "BTC-USDT", "side": side, "type": "LIMIT", "timeInForce": "GTC", "price": price, "quantity": quantity})
}

#[test]
fn two_users_trade_and_every_figure_is_exact() {
    let dir = TempDir::new("serve-trade");
    let server = Server::start(&dir);
    let mut alice = connect(&server);
    let mut bob = connect(&server);
    let mut watcher = connect(&server);
    assert_eq!(alice.call("ping", json!({}))["status"], 200);
    let subscribed =
        watcher.send_text(json!({"id": 7, "method": "SUBSCRIBE", "params": ["btc-usdt@depth"]}).to_string());
    assert_eq!(subscribed["result"], Value::Null, "{subscribed}");
    let snapshot = watcher.call("depth", json!({"symbol": "BTC-USDT"}));
    let last_update_id = snapshot["result"]["lastUpdateId"].as_u64().expect("an update id");
    let sell = alice.signed("alice", "order.place", limit("SELL", "60000.00", "0.5"));
    assert_eq!(sell["result"]["status"], "NEW", "{sell}");
    let buy = bob.signed("bob", "order.place", limit("BUY", "60001.00", "0.2"));
    let result = &buy["result"];
    assert_eq!(result["status"], "FILLED", "{buy}");
    assert_eq!(result["executedQty"], "0.2000");
    assert_eq!(result["cummulativeQuoteQty"], "12000");
    assert_eq!(result["fills"], json!([{"price": "60000.00", "qty": "0.2000", "tradeId": 1}]));
    // Bob paid 12,000 USDT and a 5 bps taker fee (6 USDT); Alice got 12,000 less a 2 bps maker
    // fee (2.4 USDT) and holds her remaining 0.3 BTC for the rest of her order.
    assert_eq!(bob.balance("bob", "USDT"), ("987994.000000".into(), "0.000000".into()));
    assert_eq!(bob.balance("bob", "BTC"), ("10.20000000".into(), "0.00000000".into()));
    assert_eq!(alice.balance("alice", "USDT"), ("1011997.600000".into(), "0.000000".into()));
    assert_eq!(alice.balance("alice", "BTC"), ("9.50000000".into(), "0.30000000".into()));
    let depth = bob.call("depth", json!({"symbol": "BTC-USDT", "limit": 5}));
    assert_eq!(depth["result"]["asks"], json!([["60000.00", "0.3000"]]));
    assert_eq!(depth["result"]["bids"], json!([]));
    // The depth stream: the sell rested (one diff), the buy took 0.2 of it (the next diff), each
    // starting right after the previous one, the first right after the snapshot.
    let diffs: Vec<Value> = (0..2).map(|_| watcher.next_message()["data"].clone()).collect();
    assert_eq!(diffs[0]["U"], last_update_id + 1);
    assert_eq!(diffs[1]["U"].as_u64(), diffs[0]["u"].as_u64().map(|u| u + 1));
    let books: Vec<(Value, Value)> = diffs.iter().map(|d| (d["b"].clone(), d["a"].clone())).collect();
    assert_eq!(
        books,
        [(json!([]), json!([["60000.00", "0.5000"]])), (json!([]), json!([["60000.00", "0.3000"]]))]
    );
    let ticker = bob.call("ticker.book", json!({"symbol": "BTC-USDT"}))["result"].clone();
    assert_eq!(
        ticker,
        json!({"symbol": "BTC-USDT", "bidPrice": "0", "bidQty": "0", "askPrice": "60000.00", "askQty": "0.3000"})
    );
    let trades = bob.call("trades.recent", json!({"symbol": "BTC-USDT"}))["result"].clone();
    assert_eq!(trades[0]["price"], "60000.00");
    assert_eq!(
        (trades[0]["qty"].clone(), trades[0]["isBuyerMaker"].clone()),
        (json!("0.2000"), json!(false))
    );
    let order_id = sell["result"]["orderId"].clone();
    let status = alice.signed("alice", "order.status", json!({"symbol": "BTC-USDT", "orderId": order_id}));
    assert_eq!(status["result"]["openQty"], "0.3000", "{status}");
    let cancelled = alice.signed("alice", "order.cancel", json!({"symbol": "BTC-USDT", "orderId": order_id}));
    assert_eq!(
        (cancelled["result"]["status"].clone(), cancelled["result"]["cancelledQty"].clone()),
        (json!("CANCELED"), json!("0.3000"))
    );
    assert_eq!(
        alice.balance("alice", "BTC"),
        ("9.80000000".into(), "0.00000000".into()),
        "the hold is released"
    );
    assert_eq!(server.admin_get("/health").0, "HTTP/1.1 200 OK");
    assert_eq!(server.admin_get("/ready").0, "HTTP/1.1 200 OK");
    let (status, metrics) = server.admin_get("/metrics");
    assert_eq!(status, "HTTP/1.1 200 OK");
    for line in
        ["ferrex_trades_total 1", "ferrex_requests_total{method=\"order.place\"} 2", "ferrex_connections 3"]
    {
        assert!(metrics.lines().any(|l| l == line), "{line} in:\n{metrics}");
    }
    assert!(server.stop(), "a graceful stop exits 0");
}

#[test]
fn bad_input_gets_its_error_and_the_server_keeps_serving() {
    let dir = TempDir::new("serve-bad-input");
    let server = Server::start(&dir);
    let mut client = connect(&server);
    let resting = client.signed("alice", "order.place", limit("SELL", "61000.00", "0.1"));
    let alices_order = resting["result"]["orderId"].clone();
    let code = |response: Value| {
        response["error"]["code"].as_i64().unwrap_or_else(|| panic!("an error: {response}"))
    };
    let table: Vec<(&str, i64, Value)> = vec![
        ("invalid JSON", -1000, client.send_text("{\"id\": 1, \"method\": ".into())),
        ("unknown method", -1199, client.call("order.teleport", json!({}))),
        ("extra param", -1103, client.call("ping", json!({"extra": 1}))),
        ("missing param", -1102, client.call("depth", json!({}))),
        ("unknown symbol", -1121, client.call("depth", json!({"symbol": "DOGE-USDT"}))),
        ("off-tick price", -1111, client.signed("bob", "order.place", limit("BUY", "60000.001", "0.1"))),
        ("negative quantity", -1111, client.signed("bob", "order.place", limit("BUY", "60000.00", "-0.1"))),
        ("zero quantity", -1111, client.signed("bob", "order.place", limit("BUY", "60000.00", "0"))),
        (
            "another user's order",
            -2011,
            client.signed("bob", "order.cancel", json!({"symbol": "BTC-USDT", "orderId": alices_order})),
        ),
        ("unknown API key", -2015, client.signed("mallory", "account.status", json!({}))),
    ];
    for (case, expected, response) in table {
        assert_eq!(code(response), expected, "{case}");
    }
    let mut params =
        json!({"apiKey": "demo-bob", "timestamp": now_ms()}).as_object().expect("object").clone();
    params.insert("signature".into(), json!(signature("wrong-secret", &params)));
    assert_eq!(code(client.call("account.status", Value::Object(params))), -1022, "bad signature");
    let mut params =
        json!({"apiKey": "demo-bob", "timestamp": now_ms() - 60_000}).as_object().expect("object").clone();
    params.insert("signature".into(), json!(signature("demo-bob-secret", &params)));
    assert_eq!(code(client.call("account.status", Value::Object(params))), -1021, "stale timestamp");
    // An oversize frame closes that connection, and nobody else notices.
    let mut flooder = connect(&server);
    let oversize =
        format!("{{\"id\":1,\"method\":\"ping\",\"params\":{{\"pad\":\"{}\"}}}}", "x".repeat(100_000));
    let _ = flooder.ws.send(Message::text(oversize));
    assert!(flooder.ws.read().is_err(), "the oversize sender is cut off");
    assert_eq!(client.call("ping", json!({}))["status"], 200, "the others are still served");
    assert_eq!(
        client.signed("alice", "openOrders.status", json!({}))["result"].as_array().map(Vec::len),
        Some(1)
    );
    let (_, metrics) = server.admin_get("/metrics");
    for code in ["-1000", "-1022", "-2015", "-1111"] {
        let counted = format!("ferrex_errors_total{{code=\"{code}\"}}");
        assert!(metrics.lines().any(|l| l.starts_with(&counted)), "{counted} in:\n{metrics}");
    }
    assert!(server.stop());
}

#[test]
fn a_flood_past_the_rate_limit_is_refused_and_others_keep_trading() {
    let dir = TempDir::new("serve-flood");
    let server = Server::start(&dir);
    let mut dave = connect(&server);
    // Dave is on the demo's retail tier (5 orders a second, 20 a minute): 30 orders sent at once.
    let mut requests = Vec::new();
    for n in 0..30 {
        let mut params = limit("BUY", "50000.00", "0.001").as_object().expect("object").clone();
        params.insert("apiKey".into(), json!("demo-dave"));
        params.insert("timestamp".into(), json!(now_ms()));
        params.insert("signature".into(), json!(signature("demo-dave-secret", &params)));
        requests.push(json!({"id": n, "method": "order.place", "params": params}).to_string());
    }
    for request in requests {
        dave.ws.write(Message::text(request)).expect("queued");
    }
    dave.ws.flush().expect("sent");
    let (mut accepted, mut refused) = (0, 0);
    for _ in 0..30 {
        let response = dave.next_message();
        if response["status"] == 200 {
            accepted += 1;
            assert_eq!(response["rateLimits"][0]["limit"], 5, "{response}");
        } else {
            refused += 1;
            assert_eq!(
                (response["status"].clone(), response["error"]["code"].clone()),
                (json!(429), json!(-1015)),
                "{response}"
            );
            assert!(response["error"]["data"]["retryAfter"].as_u64() > Some(now_ms() - 1_000), "{response}");
        }
    }
    assert!(accepted >= 5 && refused >= 1, "{accepted} accepted, {refused} refused");
    let open = dave.signed("dave", "openOrders.status", json!({}))["result"].as_array().map(Vec::len);
    assert_eq!(open, Some(accepted), "refused orders never reached the engine");
    let mut bob = connect(&server);
    let other = bob.signed("bob", "order.place", limit("BUY", "50000.00", "0.001"));
    assert_eq!(other["status"], 200, "another user is not limited by Dave's flood: {other}");
    assert!(server.stop());
}

#[test]
fn a_burst_longer_than_one_turn_is_read_over_several_and_answered_in_order() {
    let dir = TempDir::new("serve-turns");
    let server = Server::start(&dir);
    let mut eve = connect(&server);
    eve.ws.get_mut().set_read_timeout(Some(std::time::Duration::from_secs(10))).expect("timeout");
    // More requests than one connection's turn reads (256): the server reads the rest on its next
    // turns, with no new readiness event once the burst is in; each gets its answer, in order
    // (past the demo's 500 messages a second, the answer is the rate-limit error, with the id).
    let count = 2_000;
    for id in 0..count {
        eve.ws
            .write(Message::text(json!({"id": id, "method": "ping", "params": {}}).to_string()))
            .expect("queued");
    }
    eve.ws.flush().expect("sent");
    let mut statuses = std::collections::BTreeSet::new();
    for id in 0..count {
        let response = eve.next_message();
        assert_eq!(response["id"], id, "answers in request order, each with its id: {response}");
        assert!(response["status"] == 200 || response["status"] == 429, "{response}");
        statuses.insert(response["status"].as_u64());
    }
    assert_eq!(statuses.len(), 2, "answered, then refused by the rate limit: {statuses:?}");
    assert!(server.counter("ferrex_read_turns_cut_total") >= 1, "the burst took more than one turn");
    let mut bob = connect(&server);
    let other = bob.signed("bob", "order.place", limit("BUY", "50000.00", "0.001"));
    assert_eq!(other["status"], 200, "{other}");
    assert!(server.stop());
}

#[test]
fn cancel_on_disconnect_cancels_the_users_orders_when_the_connection_closes() {
    let dir = TempDir::new("serve-cancel-on-disconnect");
    let server = Server::start(&dir);
    let mut watcher = connect(&server);
    assert_eq!(watcher.signed("carol", "userDataStream.subscribe", json!({}))["status"], 200);
    let mut session = connect(&server);
    let enabled = session.signed("carol", "session.cancelOnDisconnect", json!({"enabled": true}));
    assert_eq!(enabled["result"]["cancelOnDisconnect"], true, "{enabled}");
    let placed = session.signed("carol", "order.place", limit("BUY", "55000.00", "0.01"));
    let order = placed["result"]["orderId"].clone();
    session.ws.close(None).expect("close");
    let _ = session.ws.flush();
    // The user data stream tells when the gateway's mass cancel was applied.
    let cancelled = loop {
        let event = watcher.next_message()["event"].clone();
        if event["x"] == "CANCELED" {
            break event;
        }
    };
    assert_eq!(cancelled["i"], order);
    assert_eq!(watcher.signed("carol", "openOrders.status", json!({}))["result"], json!([]));
    assert!(server.stop());
}

#[test]
fn admins_act_on_their_own_tenant_only_and_perpetual_positions_open_and_close() {
    let dir = TempDir::new("serve-admin");
    let server = Server::start(&dir);
    let mut client = connect(&server);
    let deposit = |user: u64, tx: u64| json!({"user": user, "asset": "USDT", "amount": "250.5", "txId": tx});
    // Trent administers tenant 1: Erin (user 5) is his, Alice (user 1) is not.
    let own = client.signed("trent", "admin.deposit", deposit(5, 7));
    assert_eq!(own["status"], 200, "{own}");
    assert_eq!(client.balance("erin", "USDT").0, "100250.500000");
    let other = client.signed("trent", "admin.deposit", deposit(1, 7));
    assert_eq!(other["error"]["code"], -2020, "another tenant's user: {other}");
    assert!(other["error"]["msg"].as_str().is_some_and(|m| m.contains("5001")), "{other}");
    let trader = client.signed("bob", "admin.withdraw", deposit(2, 8));
    assert_eq!(trader["error"]["code"], -2020, "a trader is no admin: {trader}");
    assert_eq!(client.signed("operator", "admin.withdraw", deposit(1, 9))["status"], 200, "the operator may");
    assert_eq!(client.balance("alice", "USDT").0, "999749.500000");
    // A perpetual: Alice sells 0.01 to Bob at the mark, both hold positions, Bob closes his.
    let perp = |side: &str, price: &str| json!({"symbol": "BTC-USDT-PERP", "side": side, "type": "LIMIT", "timeInForce": "GTC", "price": price, "quantity": "0.01"});
    assert_eq!(client.signed("alice", "order.place", perp("SELL", "60000.0"))["result"]["status"], "NEW");
    assert_eq!(client.signed("bob", "order.place", perp("BUY", "60000.0"))["result"]["status"], "FILLED");
    let positions = client.signed("bob", "account.positions", json!({}))["result"].clone();
    assert_eq!(positions[0]["positionAmt"], "0.010", "{positions}");
    assert_eq!(positions[0]["entryNotional"], "600.000000", "{positions}");
    assert_eq!(client.signed("alice", "account.positions", json!({}))["result"][0]["positionAmt"], "-0.010");
    assert_eq!(client.signed("carol", "order.place", perp("BUY", "59990.0"))["result"]["status"], "NEW");
    let closed = client.signed("bob", "position.close", json!({"symbol": "BTC-USDT-PERP"}));
    assert_eq!(closed["status"], 200, "{closed}");
    assert_eq!(
        client.signed("bob", "account.positions", json!({}))["result"],
        json!([]),
        "flat after the close"
    );
    let marked = client.signed(
        "operator",
        "admin.setMarkPrice",
        json!({"symbol": "BTC-USDT-PERP", "price": "61000.0"}),
    );
    assert_eq!(marked["status"], 200, "{marked}");
    assert_eq!(
        client.signed("alice", "account.positions", json!({}))["result"][0]["unrealizedPnl"],
        "-10.000000"
    );
    assert!(server.stop());
}

/// Binance's Ed25519 signature: base64 of the Ed25519 signature of the sorted parameters.
fn ed25519_signature(seed: [u8; 32], params: &serde_json::Map<String, Value>) -> String {
    use base64::Engine as _;
    let mut pairs: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().map_or_else(|| v.to_string(), str::to_string)))
        .collect();
    pairs.sort();
    let keys = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(seed));
    let signature = keys.sk.sign(pairs.join("&").as_bytes(), None);
    base64::engine::general_purpose::STANDARD.encode(signature.as_ref())
}

#[test]
fn an_ed25519_session_logs_on_then_acts_without_signatures() {
    let dir = TempDir::new("serve-session");
    let server = Server::start(&dir);
    let mut client = connect(&server);
    let mut params =
        json!({"apiKey": "demo-alice-ed25519", "timestamp": now_ms()}).as_object().expect("object").clone();
    params.insert("signature".into(), json!(ed25519_signature([0xa1; 32], &params)));
    let logon = client.call("session.logon", Value::Object(params));
    assert_eq!(logon["result"]["apiKey"], "demo-alice-ed25519", "{logon}");
    assert_eq!(client.call("session.status", json!({}))["result"]["apiKey"], "demo-alice-ed25519");
    let placed = client.call("order.place", limit("SELL", "65000.00", "0.01"));
    assert_eq!(placed["result"]["status"], "NEW", "an unsigned order inside the session: {placed}");
    assert_eq!(client.balance("alice", "BTC").1, "0.01000000", "it is Alice's");
    let mut forged =
        json!({"apiKey": "demo-alice-ed25519", "timestamp": now_ms()}).as_object().expect("object").clone();
    forged.insert("signature".into(), json!(ed25519_signature([0xb2; 32], &forged)));
    let mut other = connect(&server);
    assert_eq!(
        other.call("session.logon", Value::Object(forged))["error"]["code"],
        -1022,
        "another key's signature"
    );
    assert_eq!(client.call("session.logout", json!({}))["result"]["apiKey"], Value::Null);
    let after = client.call("order.place", limit("SELL", "65000.00", "0.01"));
    assert_eq!(after["error"]["code"], -1102, "logged out: a signature is needed again: {after}");
    assert!(server.stop());
}

#[test]
fn cancel_replace_moves_an_order_and_reports_each_step() {
    let dir = TempDir::new("serve-cancel-replace");
    let server = Server::start(&dir);
    let mut client = connect(&server);
    let mut first = limit("SELL", "61000.00", "0.02");
    first["newClientOrderId"] = json!("cr-1");
    assert_eq!(client.signed("alice", "order.place", first)["result"]["status"], "NEW");
    let mut replace = limit("SELL", "61500.00", "0.03");
    replace["cancelReplaceMode"] = json!("STOP_ON_FAILURE");
    replace["cancelOrigClientOrderId"] = json!("cr-1");
    replace["newClientOrderId"] = json!("cr-2");
    let replaced = client.signed("alice", "order.cancelReplace", replace.clone());
    let result = &replaced["result"];
    assert_eq!(
        (result["cancelResult"].clone(), result["newOrderResult"].clone()),
        (json!("SUCCESS"), json!("SUCCESS")),
        "{replaced}"
    );
    assert_eq!(result["cancelResponse"]["cancelledQty"], "0.0200");
    let open = client.signed("alice", "openOrders.status", json!({}))["result"].clone();
    assert_eq!(
        (open[0]["clientOrderId"].clone(), open[0]["price"].clone()),
        (json!("cr-2"), json!("61500.00")),
        "{open}"
    );
    // cr-1 is gone now: with STOP_ON_FAILURE nothing is placed, with ALLOW_FAILURE the new order is.
    replace["newClientOrderId"] = json!("cr-3");
    let stopped = client.signed("alice", "order.cancelReplace", replace.clone());
    assert_eq!(stopped["error"]["code"], -2022, "{stopped}");
    assert_eq!(stopped["error"]["data"]["newOrderResult"], "NOT_ATTEMPTED");
    replace["cancelReplaceMode"] = json!("ALLOW_FAILURE");
    let partial = client.signed("alice", "order.cancelReplace", replace);
    assert_eq!(partial["error"]["code"], -2021, "{partial}");
    let data = &partial["error"]["data"];
    assert_eq!(
        (data["cancelResult"].clone(), data["newOrderResult"].clone()),
        (json!("FAILURE"), json!("SUCCESS"))
    );
    assert_eq!(
        client.signed("alice", "openOrders.status", json!({}))["result"].as_array().map(Vec::len),
        Some(2)
    );
    assert!(server.stop());
}

#[test]
fn orders_and_balances_survive_a_restart() {
    let dir = TempDir::new("serve-restart");
    let server = Server::start(&dir);
    let mut client = connect(&server);
    client.signed("carol", "order.place", limit("BUY", "59000.00", "0.25"));
    let before = (
        client.balance("carol", "USDT"),
        client.signed("carol", "openOrders.status", json!({}))["result"].clone(),
    );
    assert_eq!(
        before.0.1, "14757.375000",
        "the buy holds 0.25 x 59,000 USDT and the 5 bps taker fee it may pay"
    );
    assert!(server.stop());
    let server = Server::start(&dir);
    let mut client = connect(&server);
    let after = (
        client.balance("carol", "USDT"),
        client.signed("carol", "openOrders.status", json!({}))["result"].clone(),
    );
    assert_eq!(after, before);
    assert!(server.stop());
}
