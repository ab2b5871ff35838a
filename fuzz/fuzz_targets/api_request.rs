//! The WebSocket API on arbitrary frames: `Api::request` must never panic, every immediate reply
//! must be a JSON response object with an `id` and a `status`, and nothing unauthenticated may
//! reach the engine: without a logged-on session, no frame the fuzzer makes (it cannot forge an
//! HMAC or Ed25519 signature) may yield a command. Half the inputs are raw text; the other half
//! are well-formed requests for a real method with fuzzed parameters.

#![no_main]

use std::sync::{Mutex, OnceLock};

use ferrex_engine::UserId;
use ferrex_engine::runtime::message::Body;
use ferrex_gateway::api::{Action, Api};
use ferrex_gateway::config::{Config, DEMO_KEYSTORE, load_keys};
use ferrex_gateway::metrics::Metrics;
use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 12] = [
    "ping",
    "depth",
    "order.place",
    "order.cancel",
    "order.cancelReplace",
    "openOrders.cancelAll",
    "account.status",
    "session.logon",
    "admin.deposit",
    "position.close",
    "SUBSCRIBE",
    "userDataStream.subscribe",
];

fn api() -> &'static Mutex<Api> {
    static API: OnceLock<Mutex<Api>> = OnceLock::new();
    API.get_or_init(|| {
        let market = Config::demo().validate().expect("the demo configuration is valid");
        let keys = load_keys(DEMO_KEYSTORE).expect("the demo keys");
        let metrics = std::sync::Arc::new(Metrics::new(Default::default(), Default::default()));
        Mutex::new(Api::new(market, keys, 60_000, metrics))
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let frame = if mode % 2 == 0 {
        text.into_owned()
    } else {
        let method = METHODS[usize::from(mode / 2) % METHODS.len()];
        let params: serde_json::Value =
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text.into_owned()));
        serde_json::json!({"id": 1, "method": method, "params": params}).to_string()
    };
    let session = (mode >= 128).then_some(UserId(1));
    let action = api().lock().expect("no panics while holding it").request(
        &frame,
        u64::from(mode) * 1_000_000,
        session,
    );
    match action {
        Action::Reply(reply) => {
            let reply: serde_json::Value = serde_json::from_str(&reply).expect("replies are JSON");
            assert!(reply.get("id").is_some() && reply.get("status").is_some(), "{reply}");
        }
        Action::Submit(submission) => {
            if let Body::Command(command) = submission.0 {
                assert!(
                    session.is_some(),
                    "an unauthenticated frame reached the engine: {command:?} from {frame}"
                );
            }
        }
        _ => {}
    }
});
