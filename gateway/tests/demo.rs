//! `ferrex demo`: the demo market comes alive at once. A newcomer's WebSocket client subscribed
//! to BTC-USDT trades sees trades arrive, and the book has both sides, with nobody else acting.

mod common;

use std::time::Duration;

use common::Server;
use ferrex_gateway::client::ws::WsClient;
use ferrex_tests::journal_fixture::TempDir;
use serde_json::{Map, json};

#[test]
fn the_demo_market_moves_on_its_own() {
    let dir = TempDir::new("demo");
    let server = Server::start_demo(&dir);
    let mut client = WsClient::connect(&server.address).expect("connect");
    let subscribe = json!({"id": 1, "method": "SUBSCRIBE", "params": ["btc-usdt@trade"]}).to_string();
    client.send(subscribe).expect("subscribe");
    let mut trades = 0;
    let deadline = std::time::Instant::now() + Duration::from_mins(1);
    while trades < 3 {
        assert!(std::time::Instant::now() < deadline, "three trades within 60 s");
        let message = client.recv(Duration::from_secs(20)).expect("receive").expect("a message within 20 s");
        if message["data"]["e"] == "trade" {
            assert_eq!(message["stream"], "btc-usdt@trade", "stream names are lower case, as Binance's");
            assert_eq!(message["data"]["s"], "BTC-USDT");
            trades += 1;
        }
    }
    let params: Map<String, serde_json::Value> =
        json!({"symbol": "BTC-USDT", "limit": 5}).as_object().expect("object").clone();
    let request = client.unsigned("depth", &params);
    let depth = client.call(request, Duration::from_secs(10)).expect("depth");
    let sides =
        (depth["result"]["bids"].as_array().map(Vec::len), depth["result"]["asks"].as_array().map(Vec::len));
    assert!(matches!(sides, (Some(1..), Some(1..))), "both sides quoted: {depth}");
    assert!(server.stop());
}
