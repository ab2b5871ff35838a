//! A blocking client of the WebSocket JSON API (docs/API-WEBSOCKET.md): requests signed with
//! HMAC-SHA256 exactly as Binance signs them, responses as JSON values.
//!
//! Invariant: [`WsClient::recv`] returns only text frames parsed as JSON (pings are answered by
//! tungstenite). Known limitation: one request at a time is the caller's business; nothing
//! matches responses to requests but their `id`.

use std::io::ErrorKind;
use std::net::TcpStream;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tungstenite::{Message, WebSocket};

use crate::api::{now_ms, sign, signature_payload};

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum WsError {
    /// The socket or the WebSocket protocol failed.
    #[error("websocket: {0}")]
    Socket(String),
    /// The server sent text that is not JSON.
    #[error("not JSON: {0}")]
    Json(#[from] serde_json::Error),
}

fn socket(error: impl std::fmt::Display) -> WsError {
    WsError::Socket(error.to_string())
}

/// A request text with id `id`, signed with the key's HMAC secret exactly as Binance signs
/// (`apiKey` and `timestamp` added to `params`, then `signature` over the sorted parameters).
#[must_use]
pub fn signed_request(
    id: u64,
    method: &str,
    mut params: Map<String, Value>,
    (api_key, secret): (&str, &str),
) -> String {
    params.insert("apiKey".into(), json!(api_key));
    params.insert("timestamp".into(), json!(now_ms()));
    let signature = sign(secret, &signature_payload(&params));
    params.insert("signature".into(), json!(signature));
    json!({"id": id, "method": method, "params": params}).to_string()
}

/// A connection to the WebSocket API.
pub struct WsClient {
    ws: WebSocket<TcpStream>,
    next_id: u64,
}

impl WsClient {
    /// Connects to `address` (`IP:PORT`).
    pub fn connect(address: &str) -> Result<WsClient, WsError> {
        let stream = TcpStream::connect(address).map_err(socket)?;
        stream.set_nodelay(true).map_err(socket)?;
        // A small read buffer: tungstenite's default (128 KiB) is cleared on every read, which
        // costs more than the message when a caller polls many sockets.
        let config = tungstenite::protocol::WebSocketConfig::default().read_buffer_size(4096);
        let (ws, _) =
            tungstenite::client::client_with_config(format!("ws://{address}/"), stream, Some(config))
                .map_err(socket)?;
        Ok(WsClient { ws, next_id: 1 })
    }

    /// A request text signed with the key's HMAC secret (`apiKey`, `timestamp`, `signature`
    /// added to `params`); returns the text and its id.
    pub fn signed(
        &mut self,
        method: &str,
        params: Map<String, Value>,
        api_key: &str,
        secret: &str,
    ) -> (String, u64) {
        let id = self.next_id;
        self.next_id += 1;
        (signed_request(id, method, params, (api_key, secret)), id)
    }

    /// A request text without signature fields; returns the text and its id.
    pub fn unsigned(&mut self, method: &str, params: &Map<String, Value>) -> (String, u64) {
        let id = self.next_id;
        self.next_id += 1;
        (json!({"id": id, "method": method, "params": params}).to_string(), id)
    }

    /// Sends a text frame.
    pub fn send(&mut self, text: String) -> Result<(), WsError> {
        match self.ws.send(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(socket(e)),
        }
    }

    /// Queues a text frame without writing it yet ([`WsClient::flush`] writes what is queued).
    pub fn write(&mut self, text: String) -> Result<(), WsError> {
        match self.ws.write(Message::text(text)) {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(socket(e)),
        }
    }

    /// Writes what is queued (as much as a non-blocking socket takes).
    pub fn flush(&mut self) -> Result<(), WsError> {
        match self.ws.flush() {
            Ok(()) => Ok(()),
            Err(tungstenite::Error::Io(e)) if e.kind() == ErrorKind::WouldBlock => Ok(()),
            Err(e) => Err(socket(e)),
        }
    }

    /// The next JSON message within `timeout` (`None`: nothing came).
    pub fn recv(&mut self, timeout: Duration) -> Result<Option<Value>, WsError> {
        self.ws.get_mut().set_read_timeout(Some(timeout)).map_err(socket)?;
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => return Ok(Some(serde_json::from_str(text.as_str())?)),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Ok(None);
                }
                Err(e) => return Err(socket(e)),
            }
        }
    }

    /// Sends a request and waits for the response with its id (other messages are dropped).
    pub fn call(&mut self, request: (String, u64), timeout: Duration) -> Result<Value, WsError> {
        let (text, id) = request;
        self.send(text)?;
        let deadline = std::time::Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
            match self.recv(left)? {
                Some(value) if value["id"] == json!(id) => return Ok(value),
                Some(_) => {}
                None => break,
            }
        }
        Err(WsError::Socket(format!("no response to request {id} within {timeout:?}")))
    }

    /// Calls `f` with the text of every message already received, without blocking (the socket
    /// must be non-blocking: `socket().get_mut().set_nonblocking(true)`).
    pub fn drain_text(&mut self, f: &mut dyn FnMut(&str)) -> Result<(), WsError> {
        loop {
            match self.ws.read() {
                Ok(Message::Text(text)) => f(text.as_str()),
                Ok(_) => {}
                Err(tungstenite::Error::Io(e))
                    if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) =>
                {
                    return Ok(());
                }
                Err(e) => return Err(socket(e)),
            }
        }
    }

    /// The socket, to poll it without blocking.
    pub fn socket(&mut self) -> &mut WebSocket<TcpStream> {
        &mut self.ws
    }
}
