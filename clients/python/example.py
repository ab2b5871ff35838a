"""Trades on a running demo server over the binary protocol (standard library only).

    cargo run --release -p ferrex-gateway --bin ferrex -- serve      # in one terminal
    python3 clients/python/example.py [HOST:PORT]                    # in another

Alice rests a sell, Bob buys into it; each prints the execution reports it receives; then Bob
reconnects and replays his reports from the first one. Exits 0 when every expected report came.
"""

import sys

from ferrex_binary import Client


def reports(client, count):
    """The next `count` execution reports (heartbeats and market data skipped)."""
    out = []
    while len(out) < count:
        message = client.recv()
        if message["type"] == "execution":
            out.append(message)
        elif message["type"] in ("goodbye", "business_reject", "cancel_reject"):
            raise SystemExit(f"unexpected: {message}")
    return out


def main():
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8767").rsplit(":", 1)
    alice = Client.connect(host, int(port), "demo-alice", "demo-alice-secret")
    bob = Client.connect(host, int(port), "demo-bob", "demo-bob-secret")
    btc = alice.instrument("BTC-USDT")
    print(f"logged on as users {alice.accepted['user']} and {bob.accepted['user']}; "
          f"BTC-USDT is instrument {btc['instrument']}, tick {btc['tick_units']}e-{btc['tick_scale']}")

    alice.new_order(btc["instrument"], "SELL", price_ticks=6_500_000, qty_lots=20, client_order_id="py-ask")
    (ask,) = reports(alice, 1)
    print(f"alice: {ask['exec_type']} order {ask['order_id']} ({ask['client_order_id']})")
    bob.new_order(btc["instrument"], "BUY", price_ticks=6_500_000, qty_lots=5, client_order_id="py-bid")
    bid_new, bid_fill = reports(bob, 2)
    print(f"bob: {bid_new['exec_type']}, then {bid_fill['exec_type']} {bid_fill['last_qty']} lots at "
          f"{bid_fill['last_price']} ticks, {bid_fill['leaves_qty']} left")
    (maker_fill,) = reports(alice, 1)
    print(f"alice: {maker_fill['exec_type']} as maker, {maker_fill['leaves_qty']} lots left")
    alice.cancel(btc["instrument"], order_id=ask["order_id"])
    (cancelled,) = reports(alice, 1)
    print(f"alice: {cancelled['exec_type']} {cancelled['qty']} lots")
    bob.sock.close()

    first = (bid_new["sequence"], bid_new["index"])
    again = Client.connect(host, int(port), "demo-bob", "demo-bob-secret", replay_after=first)
    (replayed,) = reports(again, 1)
    done = again.recv()
    assert replayed == bid_fill, (replayed, bid_fill)
    assert done["type"] == "replay_complete" and done["replayed"] == 1, done
    print(f"bob reconnected: replayed {done['replayed']} report, identical to the one first received")
    alice.logout()
    goodbye = alice.recv()
    while goodbye["type"] != "goodbye":
        goodbye = alice.recv()
    print(f"alice logged out (code {goodbye['code']})")


if __name__ == "__main__":
    main()
