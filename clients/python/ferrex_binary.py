"""A client of ferrex's binary protocol (docs/API-BINARY.md), standard library only.

    from ferrex_binary import Client
    client = Client.connect("127.0.0.1", 8767, "demo-alice", "demo-alice-secret")
    btc = client.instrument("BTC-USDT")
    client.new_order(btc["instrument"], "BUY", price_ticks=6_000_000, qty_lots=10, client_order_id="py-1")
    message = client.recv()   # {"type": "execution", "exec_type": "new", ...}

Logon signs the server's challenge with HMAC-SHA256 (Ed25519 keys need a library the standard
library does not have). Messages come back as dicts whose keys are the field names of the
documentation. The caller must send something (`heartbeat()`) at least once per idle timeout.
"""

import hashlib
import hmac
import socket
import struct

VERSION = 1
HEADER = struct.Struct("<HBB")
NO_PRICE = -(2**63)
ALL_INSTRUMENTS = 0xFFFFFFFF

# kind: (name, struct format of the body, field names)
SERVER = {
    0x02: ("heartbeat", "", []),
    0x81: ("challenge", "<32sQ", ["nonce", "server_time_ms"]),
    0x82: ("logon_accepted", "<IIIQIQ",
           ["user", "heartbeat_interval_ms", "idle_timeout_ms", "live_after_sequence", "instruments", "reserved"]),
    0x83: ("logon_rejected", "<HH", ["code", "reserved"]),
    0x85: ("goodbye", "<HH", ["code", "reserved"]),
    0x86: ("instrument", "<IBBBB16sqqqq",
           ["instrument", "kind", "tick_scale", "lot_scale", "reserved", "symbol", "tick_units", "lot_units",
            "qty_min", "qty_max"]),
    0x87: ("replay_complete", "<QIIQ", ["replayed", "status", "reserved", "from_sequence"]),
    0x90: ("execution", "<QIBBBBQQIHBBqqqqqQ36s",
           ["sequence", "index", "exec_type", "side", "order_type", "time_in_force", "timestamp_ns", "order_id",
            "instrument", "reject_code", "cancel_reason", "liquidity", "price", "qty", "leaves_qty", "last_price",
            "last_qty", "trade_id", "client_order_id"]),
    0x91: ("cancel_reject", "<QIBBHQQI36s",
           ["sequence", "index", "request", "reserved", "reject_code", "timestamp_ns", "order_id", "instrument",
            "client_order_id"]),
    0x92: ("business_reject", "<HBBI36s64s",
           ["code", "refused_kind", "reserved", "retry_after_ms", "client_order_id", "text"]),
    0xA0: ("depth_snapshot", "<IIQII", ["instrument", "count", "sequence", "bids", "reserved"]),
    0xA1: ("depth_update", "<IB3sQqq", ["instrument", "side", "reserved", "sequence", "price", "qty"]),
    0xA2: ("trade", "<IB3sQQqqQ", ["instrument", "aggressor", "reserved", "sequence", "trade_id", "price", "qty",
                                   "timestamp_ns"]),
}
EXEC_TYPES = {1: "new", 2: "rejected", 3: "fill", 4: "cancelled", 5: "replaced", 6: "expired", 7: "triggered",
              8: "trigger_failed"}
LEVEL = struct.Struct("<B7xqq")


def _message(kind, fmt="", *values):
    body = struct.pack(fmt, *values) if fmt else b""
    return HEADER.pack(HEADER.size + len(body), kind, VERSION) + body


def _text(value, size):
    data = value.encode("ascii")
    if len(data) > size:
        raise ValueError(f"{value!r} is longer than {size} bytes")
    return data.ljust(size, b"\0")


def _untext(data):
    return data.rstrip(b"\0").decode("ascii")


class ProtocolError(Exception):
    """The server sent something that is not a message, or refused the logon."""


class Client:
    """A logged-on session."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""
        self.accepted = None
        self.instruments = []

    @classmethod
    def connect(cls, host, port, api_key, secret, replay_after=None, cancel_on_disconnect=False, timeout=10.0):
        """Connects, logs on (optionally replaying the reports after a (sequence, index) position)
        and reads the instruments."""
        sock = socket.create_connection((host, port), timeout=timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = cls(sock)
        challenge = client.recv()
        if challenge["type"] != "challenge":
            raise ProtocolError(f"expected a challenge, got {challenge}")
        mac = hmac.new(secret.encode(), challenge["nonce"] + api_key.encode("ascii"), hashlib.sha256).digest()
        flags = (1 if replay_after else 0) | (2 if cancel_on_disconnect else 0)
        sequence, index = replay_after or (0, 0)
        client.send(_message(0x01, "<64s64sQIIQ", _text(api_key, 64), mac.ljust(64, b"\0"), sequence, index,
                             flags, 0))
        answer = client.recv()
        if answer["type"] != "logon_accepted":
            raise ProtocolError(f"logon refused: {answer}")
        client.accepted = answer
        client.instruments = [client.recv() for _ in range(answer["instruments"])]
        return client

    def instrument(self, symbol):
        """The instrument message of a symbol."""
        return next(i for i in self.instruments if i["symbol"] == symbol)

    def send(self, data):
        self.sock.sendall(data)

    def heartbeat(self):
        self.send(_message(0x02))

    def logout(self):
        self.send(_message(0x03))

    def new_order(self, instrument, side, price_ticks, qty_lots, client_order_id="", order_type="LIMIT",
                  time_in_force="GTC", post_only=False, reduce_only=False):
        """Places an order; its answer comes as execution reports."""
        flags = (1 if post_only else 0) | (2 if reduce_only else 0)
        self.send(_message(0x10, "<qqqQqIIBBBBBBBB36s",
                           NO_PRICE if price_ticks is None else price_ticks, qty_lots, 0, 0, 0, instrument, 0,
                           {"BUY": 0, "SELL": 1}[side], {"LIMIT": 0, "MARKET": 1}[order_type],
                           {"GTC": 0, "IOC": 1, "FOK": 2}[time_in_force], flags, 0, 0, 0, 0,
                           _text(client_order_id, 36)))

    def cancel(self, instrument, order_id=0, client_order_id=""):
        self.send(_message(0x11, "<QI36s", order_id, instrument, _text(client_order_id, 36)))

    def cancel_replace(self, instrument, order_id, price_ticks, qty_lots):
        self.send(_message(0x12, "<QqqqI36s", order_id, price_ticks, qty_lots, 0, instrument, _text("", 36)))

    def mass_cancel(self, instrument=ALL_INSTRUMENTS):
        self.send(_message(0x13, "<I", instrument))

    def close_position(self, instrument, worst_price_ticks=None):
        """Closes the position on a perpetual (a reduce-only IOC market order for all of it)."""
        self.send(_message(0x15, "<IIq", instrument, 0, NO_PRICE if worst_price_ticks is None else worst_price_ticks))

    def subscribe(self, instrument, depth=True, trades=True, depth_levels=20):
        self.send(_message(0x14, "<III", instrument, (1 if depth else 0) | (2 if trades else 0), depth_levels))

    def recv(self, patience=None):
        """The next message, as a dict with a "type". With `patience` (seconds), a heartbeat is sent
        each second nothing comes (so the server does not cut an idle session off), and
        TimeoutError is raised after `patience` seconds."""
        waited = 0.0
        while True:
            if len(self.buffer) >= HEADER.size:
                length, kind, _ = HEADER.unpack_from(self.buffer)
                if length < HEADER.size:
                    raise ProtocolError(f"impossible length {length}")
                if len(self.buffer) >= length:
                    data, self.buffer = self.buffer[:length], self.buffer[length:]
                    return self._parse(kind, data)
            if patience is not None:
                self.sock.settimeout(1.0)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                waited += 1.0
                if patience is None or waited >= patience:
                    raise TimeoutError(f"nothing from the server for {waited:.0f} s") from None
                self.heartbeat()
                continue
            finally:
                if patience is not None:
                    self.sock.settimeout(None)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk

    @staticmethod
    def _parse(kind, data):
        if kind not in SERVER:
            raise ProtocolError(f"unknown message kind {kind:#x}")
        name, fmt, fields = SERVER[kind]
        size = struct.calcsize(fmt) if fmt else 0
        values = struct.unpack_from(fmt, data, HEADER.size) if fmt else ()
        message = {"type": name, **dict(zip(fields, values))}
        for key in ("symbol", "client_order_id", "text"):
            if key in message:
                message[key] = _untext(message[key])
        if name == "execution":
            message["exec_type"] = EXEC_TYPES.get(message["exec_type"], message["exec_type"])
        if name == "depth_snapshot":
            at = HEADER.size + size
            message["levels"] = [
                ("bid" if side == 0 else "ask", price, qty)
                for side, price, qty in (LEVEL.unpack_from(data, at + i * LEVEL.size) for i in range(message["count"]))
            ]
        return message
