"""Trades on a running demo server over the binary protocol (standard library only).

    cargo run --release -p ferrex-gateway --bin ferrex -- serve      # or `-- demo`, in one terminal
    python3 clients/python/example.py [HOST:PORT]                    # in another

Alice rests a sell on the perpetual BTC-USDT-PERP (which `ferrex demo`'s market makers leave
alone), Bob buys into it; each prints the execution reports it receives; Alice cancels the rest;
then Bob reconnects and replays his reports from the first one. Exits 0 when every expected
report came.
"""

import sys
import time

from ferrex_binary import Client


def reports(client, count):
    """The next `count` execution reports (heartbeats and market data skipped)."""
    out = []
    while len(out) < count:
        message = client.recv(patience=10)
        if message["type"] == "execution":
            out.append(message)
        elif message["type"] in ("goodbye", "business_reject", "cancel_reject"):
            raise SystemExit(f"unexpected: {message}")
    return out


def main():
    host, port = (sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1:8767").rsplit(":", 1)
    alice = Client.connect(host, int(port), "demo-alice", "demo-alice-secret")
    bob = Client.connect(host, int(port), "demo-bob", "demo-bob-secret")
    btc = alice.instrument("BTC-USDT-PERP")
    print(f"logged on as users {alice.accepted['user']} and {bob.accepted['user']}; "
          f"BTC-USDT-PERP is instrument {btc['instrument']}, tick {btc['tick_units']}e-{btc['tick_scale']}")

    # 65000.0 at a tick of 0.1 is 650000 ticks; 20 lots of 0.001 are 0.02 BTC. Client order ids
    # must be unique among a user's live orders: a run's own suffix keeps reruns apart.
    run = int(time.time() * 1000) % 1_000_000
    alice.new_order(btc["instrument"], "SELL", price_ticks=650_000, qty_lots=20, client_order_id=f"py-ask-{run}")
    (ask,) = reports(alice, 1)
    print(f"alice: {ask['exec_type']} order {ask['order_id']} ({ask['client_order_id']})")
    bob.new_order(btc["instrument"], "BUY", price_ticks=650_000, qty_lots=5, client_order_id=f"py-bid-{run}")
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
    done = again.recv(patience=10)
    assert replayed == bid_fill, (replayed, bid_fill)
    assert done["type"] == "replay_complete" and done["replayed"] == 1, done
    print(f"bob reconnected: replayed {done['replayed']} report, identical to the one first received")
    alice.logout()
    goodbye = alice.recv(patience=10)
    while goodbye["type"] != "goodbye":
        goodbye = alice.recv(patience=10)
    print(f"alice logged out (code {goodbye['code']})")


if __name__ == "__main__":
    main()
