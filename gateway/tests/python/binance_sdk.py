"""The official Binance Python SDK (binance-connector) against a ferrex server, unchanged.

Usage: python binance_sdk.py ws://HOST:PORT
Places a limit order as the demo user alice, queries it, cancels it and checks the account;
prints "ok" at the end, or exits non-zero with the first mismatch.
"""

import json
import sys
import threading

from binance.websocket.spot.websocket_api import SpotWebsocketAPIClient

responses = []
arrived = threading.Condition()


def on_message(_, message):
    with arrived:
        responses.append(json.loads(message))
        arrived.notify_all()


client = SpotWebsocketAPIClient(
    stream_url=sys.argv[1],
    api_key="demo-alice",
    api_secret="demo-alice-secret",
    on_message=on_message,
)


def call(method, **params):
    """Sends one request through the SDK and waits for its response (by id)."""
    with arrived:
        before = len(responses)
        method(**params)
        if not arrived.wait_for(lambda: len(responses) > before, timeout=10):
            raise SystemExit(f"{method.__name__}: no response")
        response = responses[before]
    if response.get("status") != 200:
        raise SystemExit(f"{method.__name__}: {response}")
    return response["result"]


call(client.ping_connectivity)
assert call(client.server_time)["serverTime"] > 0
placed = call(
    client.new_order,
    symbol="BTC-USDT",
    side="BUY",
    type="LIMIT",
    timeInForce="GTC",
    price="50000.00",
    quantity="0.01",
    newClientOrderId="sdk-order-1",
)
assert placed["status"] == "NEW", placed
assert placed["origQty"] == "0.0100", placed
status = call(client.get_order, symbol="BTC-USDT", orderId=placed["orderId"])
assert status["openQty"] == "0.0100" and status["clientOrderId"] == "sdk-order-1", status
locked = {b["asset"]: b["locked"] for b in call(client.account)["balances"]}
assert locked["USDT"] == "500.250000", locked  # 0.01 x 50,000 and the 5 bps taker fee it may pay
cancelled = call(client.cancel_order, symbol="BTC-USDT", origClientOrderId="sdk-order-1")
assert cancelled["status"] == "CANCELED", cancelled
locked = {b["asset"]: b["locked"] for b in call(client.account)["balances"]}
assert locked["USDT"] == "0.000000", locked
client.stop()
print("ok")
