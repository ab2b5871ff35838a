//! A blocking client of the binary protocol (docs/API-BINARY.md), used by the tests, the load
//! generator and `ferrex demo`.
//!
//! [`BinaryClient::connect`] reads the challenge, signs it (HMAC-SHA256 with a secret, or Ed25519
//! with a seed), logs on (optionally asking for a replay after a position) and reads the
//! instruments; then [`BinaryClient::send`] and [`BinaryClient::recv`] move messages.
//! [`BinaryClient::split`] gives a writer and a reader for two threads (pipelined load).
//! Invariant: `recv` returns whole messages only; a malformed one from the server is an error.
//! Known limitation: the caller answers nothing by itself: it must send a heartbeat (or anything)
//! at least once per idle timeout.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use hmac::{KeyInit, Mac};

use crate::binary::wire::{
    self, BusinessReject, CancelReject, Challenge, DepthUpdate, ExecutionReport, Goodbye, Heartbeat,
    Instrument, Logon, LogonAccepted, LogonRejected, ReplayComplete, Trade,
};

/// How a client proves its key.
#[derive(Clone, Debug)]
pub enum Secret {
    /// The key's HMAC-SHA256 secret.
    Hmac(String),
    /// The Ed25519 private key's 32-byte seed.
    Ed25519([u8; 32]),
}

/// What the logon asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogonOptions {
    /// Replay the reports after this (sequence, index) position.
    pub replay_after: Option<(u64, u32)>,
    /// Cancel the user's orders when the session ends.
    pub cancel_on_disconnect: bool,
}

/// A message from the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ServerMessage {
    /// A heartbeat.
    Heartbeat,
    /// An execution report (sequenced).
    Execution(ExecutionReport),
    /// A cancel reject (sequenced).
    CancelReject(CancelReject),
    /// A gateway reject.
    BusinessReject(BusinessReject),
    /// The replay asked for is complete.
    ReplayComplete(ReplayComplete),
    /// A depth snapshot and its levels (side, price, qty).
    DepthSnapshot(wire::DepthSnapshot, Vec<(u8, i64, i64)>),
    /// A depth update.
    DepthUpdate(DepthUpdate),
    /// A trade.
    Trade(Trade),
    /// The session ends.
    Goodbye(Goodbye),
    /// An instrument definition.
    Instrument(Instrument),
}

/// Why the client failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The server sent something that is not a message.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The logon was refused with this code.
    #[error("logon rejected with code {0}")]
    Rejected(u16),
    /// The server ended the session with this code.
    #[error("goodbye with code {0}")]
    Goodbye(u16),
}

/// The reading half of a session.
pub struct Reader {
    stream: TcpStream,
    buffer: Vec<u8>,
    start: usize,
}

/// The writing half of a session.
pub struct Writer {
    stream: TcpStream,
}

/// A logged-on session.
pub struct BinaryClient {
    /// The reading half.
    pub reader: Reader,
    /// The writing half.
    pub writer: Writer,
    /// What the server accepted.
    pub accepted: LogonAccepted,
    /// The instruments it described.
    pub instruments: Vec<Instrument>,
}

impl BinaryClient {
    /// Connects, logs on and reads the instruments.
    pub fn connect(
        address: &str,
        api_key: &str,
        secret: &Secret,
        options: LogonOptions,
    ) -> Result<BinaryClient, ClientError> {
        let stream = TcpStream::connect(address)?;
        stream.set_nodelay(true)?;
        let mut reader =
            Reader { stream: stream.try_clone()?, buffer: Vec::with_capacity(1 << 16), start: 0 };
        let mut writer = Writer { stream };
        let challenge = reader.next_raw()?;
        let challenge = Challenge::decode(&challenge).map_err(protocol)?;
        let mut signed = challenge.nonce.to_vec();
        signed.extend_from_slice(api_key.as_bytes());
        let logon = Logon {
            api_key: wire::text(api_key),
            signature: sign(secret, &signed),
            replay_from_sequence: options.replay_after.map_or(0, |p| p.0),
            replay_from_index: options.replay_after.map_or(0, |p| p.1),
            flags: u32::from(options.replay_after.is_some()) | (u32::from(options.cancel_on_disconnect) << 1),
            reserved: 0,
        };
        writer.send(&logon.to_bytes())?;
        let answer = reader.next_raw()?;
        match answer[2] {
            LogonAccepted::KIND => {}
            LogonRejected::KIND => {
                return Err(ClientError::Rejected(LogonRejected::decode(&answer).map_err(protocol)?.code));
            }
            kind => return Err(ClientError::Protocol(format!("logon answered with kind {kind:#x}"))),
        }
        let accepted = LogonAccepted::decode(&answer).map_err(protocol)?;
        let mut instruments = Vec::new();
        for _ in 0..accepted.instruments {
            match reader.recv()? {
                ServerMessage::Instrument(i) => instruments.push(i),
                other => return Err(ClientError::Protocol(format!("expected an instrument, got {other:?}"))),
            }
        }
        Ok(BinaryClient { reader, writer, accepted, instruments })
    }

    /// Sends one message.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.writer.send(bytes)
    }

    /// The next message.
    pub fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        self.reader.recv()
    }

    /// The next message within `timeout`, or `None`.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ServerMessage>, ClientError> {
        self.reader.recv_timeout(timeout)
    }

    /// The two halves, for a writing and a reading thread.
    #[must_use]
    pub fn split(self) -> (Writer, Reader) {
        (self.writer, self.reader)
    }

    /// The socket and the bytes already read from it but not yet returned (for a caller's own
    /// non-blocking loop).
    #[must_use]
    pub fn into_stream(self) -> (TcpStream, Vec<u8>) {
        let pending = self.reader.buffer[self.reader.start..].to_vec();
        (self.writer.stream, pending)
    }

    /// The instrument with this symbol.
    #[must_use]
    pub fn instrument(&self, symbol: &str) -> Option<&Instrument> {
        self.instruments.iter().find(|i| wire::untext(&i.symbol) == Some(symbol))
    }
}

impl Writer {
    /// Sends one or more whole messages.
    pub fn send(&mut self, bytes: &[u8]) -> Result<(), ClientError> {
        self.stream.write_all(bytes)?;
        Ok(())
    }

    /// Sends a heartbeat.
    pub fn heartbeat(&mut self) -> Result<(), ClientError> {
        self.send(&Heartbeat {}.to_bytes())
    }
}

impl Reader {
    /// The next whole message's bytes.
    fn next_raw(&mut self) -> Result<Vec<u8>, ClientError> {
        loop {
            if let Some(message) = self.take()? {
                return Ok(message);
            }
            self.fill()?;
        }
    }

    fn take(&mut self) -> Result<Option<Vec<u8>>, ClientError> {
        let Some((len, _, _)) = wire::header(&self.buffer[self.start..]) else { return Ok(None) };
        if !(wire::HEADER_LEN..=wire::SERVER_MESSAGE_BYTES_MAX).contains(&len) {
            return Err(ClientError::Protocol(format!("impossible length {len}")));
        }
        if self.buffer.len() - self.start < len {
            return Ok(None);
        }
        let message = self.buffer[self.start..self.start + len].to_vec();
        self.start += len;
        if self.start == self.buffer.len() {
            self.buffer.clear();
            self.start = 0;
        }
        Ok(Some(message))
    }

    fn fill(&mut self) -> Result<(), ClientError> {
        if self.start > 0 {
            self.buffer.drain(..self.start);
            self.start = 0;
        }
        let mut chunk = [0u8; 1 << 14];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ClientError::Io(ErrorKind::UnexpectedEof.into()));
        }
        self.buffer.extend_from_slice(&chunk[..n]);
        Ok(())
    }

    /// The next message (a goodbye is returned as a message, not an error).
    pub fn recv(&mut self) -> Result<ServerMessage, ClientError> {
        let bytes = self.next_raw()?;
        parse(&bytes)
    }

    /// The next message within `timeout`, or `None` when none came.
    pub fn recv_timeout(&mut self, timeout: Duration) -> Result<Option<ServerMessage>, ClientError> {
        if let Some(bytes) = self.take()? {
            return parse(&bytes).map(Some);
        }
        self.stream.set_read_timeout(Some(timeout))?;
        let filled = self.fill();
        self.stream.set_read_timeout(None)?;
        match filled {
            Ok(()) => {}
            Err(ClientError::Io(e)) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        match self.take()? {
            Some(bytes) => parse(&bytes).map(Some),
            None => Ok(None),
        }
    }
}

fn protocol(error: wire::WireError) -> ClientError {
    ClientError::Protocol(error.to_string())
}

/// Parses one whole server message.
pub fn parse(bytes: &[u8]) -> Result<ServerMessage, ClientError> {
    let kind = bytes.get(2).copied().ok_or_else(|| ClientError::Protocol("short".into()))?;
    Ok(match kind {
        Heartbeat::KIND => ServerMessage::Heartbeat,
        ExecutionReport::KIND => ServerMessage::Execution(ExecutionReport::decode(bytes).map_err(protocol)?),
        CancelReject::KIND => ServerMessage::CancelReject(CancelReject::decode(bytes).map_err(protocol)?),
        BusinessReject::KIND => {
            ServerMessage::BusinessReject(BusinessReject::decode(bytes).map_err(protocol)?)
        }
        ReplayComplete::KIND => {
            ServerMessage::ReplayComplete(ReplayComplete::decode(bytes).map_err(protocol)?)
        }
        wire::DepthSnapshot::KIND => {
            let (head, levels) = wire::depth_levels(bytes).map_err(protocol)?;
            ServerMessage::DepthSnapshot(head, levels)
        }
        DepthUpdate::KIND => ServerMessage::DepthUpdate(DepthUpdate::decode(bytes).map_err(protocol)?),
        Trade::KIND => ServerMessage::Trade(Trade::decode(bytes).map_err(protocol)?),
        Goodbye::KIND => ServerMessage::Goodbye(Goodbye::decode(bytes).map_err(protocol)?),
        Instrument::KIND => ServerMessage::Instrument(Instrument::decode(bytes).map_err(protocol)?),
        other => return Err(ClientError::Protocol(format!("unknown kind {other:#x}"))),
    })
}

/// The logon signature of `message` (the nonce, then the API key's bytes).
#[must_use]
pub fn sign(secret: &Secret, message: &[u8]) -> [u8; 64] {
    let mut signature = [0u8; 64];
    match secret {
        Secret::Hmac(secret) => {
            let mut mac =
                hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
            mac.update(message);
            signature[..32].copy_from_slice(&mac.finalize().into_bytes());
        }
        Secret::Ed25519(seed) => {
            let pair = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
            signature.copy_from_slice(pair.sk.sign(message, None).as_ref());
        }
    }
    signature
}
