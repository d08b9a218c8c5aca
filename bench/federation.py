"""Events per second a hub ingests through PUT /federation/v1/send, fully verified, against
the same endpoint with verification switched off (a test-only switch), in the same run.

    python bench/federation.py [--quick] [--peers N] [--events-per-txn N] [--duration S]

Sets up a hub in a temporary data dir (SQLite), pins N fake instances, and has each send
signed transactions of petition.counts events one at a time (the protocol allows one
transaction in flight per peer), first to the hub as configured, then to the same hub
restarted with GROUNDSWELL_TEST_FEDERATION_UNVERIFIED=1, which skips the RFC 9421
signature, digest and nonce checks and the events' origin signatures. Everything else —
strict JSON, schemas, idempotency records, the per-peer in-flight lease, the database
writes — is the same, so the ratio is the cost of verification. The last line is JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(message: str) -> None:
    print(message, flush=True)


@contextmanager
def hub_server(env: dict[str, str], port: int):
    script = Path(sys.executable).with_name("groundswell")
    process = subprocess.Popen(
        [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the hub did not start")
            time.sleep(0.1)
        yield
    finally:
        process.terminate()
        process.wait(15)


async def setup(peers: int) -> list[tuple[str, object]]:
    """Migrate the hub's database and pin `peers` fake instances (node id, key)."""
    import json as _json

    from core.db import migrate
    from federation.keyring import KeyRing, new_node_id
    from federation.keys import generate_node_key
    from federation.tables import FederationPeer

    await migrate()
    nodes = []
    for n in range(peers):
        key = generate_node_key()
        ring = KeyRing()
        ring.add_current(key.public_bytes)
        node_id = new_node_id()
        await FederationPeer.insert(
            FederationPeer(
                node_id=node_id,
                origin=f"http://instance-{n}.invalid",
                role="instance",
                status="active",
                keys=_json.dumps(ring.to_json()),
                created_at=time.time(),
            )
        )
        nodes.append((node_id, key))
    return nodes


def transactions(node_id: str, key, hub_id: str, origin: str, count: int, per_txn: int, tag: str):
    """Signed requests, made before the clock starts (signing is the sender's cost)."""
    from federation.events import build_event
    from federation.httpsig import sign_request
    from federation.transactions import build_transaction, new_txn_id, send_path

    now = int(time.time())
    made = []
    for t in range(count):
        events = [
            build_event(
                "petition.counts",
                {
                    "petition": {"origin": node_id, "id": f"{tag}-{t}-{e}"},
                    "sequence": 1,
                    "as_of": now,
                    "signatures": e,
                },
                origin=node_id,
                created=now,
                keys=[key],
            )
            for e in range(per_txn)
        ]
        txn_id = new_txn_id()
        body = build_transaction(node_id, hub_id, txn_id, events)
        headers = sign_request(
            "PUT", origin + send_path(txn_id), key, now=now, body=body, idempotency_key=txn_id
        )
        made.append((send_path(txn_id), body, headers))
    return made


async def drive(port: int, work: list[list[tuple]], duration: float) -> tuple[int, int, list[float]]:
    """Each peer sends its transactions one after another until the time is up."""
    accepted = 0
    refused = 0
    latencies: list[float] = []
    deadline = time.monotonic() + duration

    async def peer(requests: list[tuple]) -> None:
        nonlocal accepted, refused
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for path, body, headers in requests:
                if time.monotonic() > deadline:
                    return
                started = time.perf_counter()
                response = await http.put(path, content=body, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                if response.status_code == 200:
                    accepted += len(json.loads(body)["events"])
                else:
                    refused += 1

    started = time.monotonic()
    await asyncio.gather(*(peer(requests) for requests in work))
    elapsed = min(time.monotonic() - started, duration) or duration
    return accepted, refused, latencies, elapsed  # type: ignore[return-value]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, under a minute")
    parser.add_argument("--peers", type=int, default=0, help="concurrent sending instances (default 4)")
    parser.add_argument("--events-per-txn", type=int, default=10)
    parser.add_argument("--duration", type=float, default=0, help="seconds per measurement")
    args = parser.parse_args()
    peers = args.peers or 4
    duration = args.duration or (4.0 if args.quick else 20.0)
    per_peer = 400 if args.quick else 2000
    workdir = Path(tempfile.mkdtemp(prefix="gs-bench-federation-"))
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("GROUNDSWELL_")}
    env.update(
        {
            "GROUNDSWELL_DATA_DIR": str(workdir),
            "GROUNDSWELL_PUBLIC_URL": origin,
            "GROUNDSWELL_ROLE": "hub",
            "GROUNDSWELL_LOG_LEVEL": "warning",
            "PYTHONPATH": str(ROOT),
        }
    )
    try:
        os.environ.update(env)
        import core  # noqa: F401  (after the environment is set: one process, one instance)
        from federation.identity import load_identity

        nodes = asyncio.run(setup(peers))
        hub_id = load_identity().node_id
        results = {}
        for label, extra in (
            ("verified", {}),
            ("unverified", {"GROUNDSWELL_TEST_FEDERATION_UNVERIFIED": "1"}),
        ):
            log(f"{label}: signing {peers} × {per_peer} transactions of {args.events_per_txn} events…")
            work = [
                transactions(node_id, key, hub_id, origin, per_peer, args.events_per_txn, f"{label}{i}")
                for i, (node_id, key) in enumerate(nodes)
            ]
            with hub_server({**env, **extra}, port):
                accepted, refused, latencies, elapsed = asyncio.run(drive(port, work, duration))
            rate = accepted / elapsed
            results[label] = (rate, latencies, refused)
            log(
                f"  {rate:,.0f} events/s, p50 {percentile(latencies, 50):.1f} ms, "
                f"p99 {percentile(latencies, 99):.1f} ms per transaction, refused {refused}"
            )
        verified, unverified = results["verified"], results["unverified"]
        print(
            json.dumps(
                {
                    "bench": "federation",
                    "peers": peers,
                    "events_per_txn": args.events_per_txn,
                    "events_per_s": round(verified[0], 1),
                    "unsigned_events_per_s": round(unverified[0], 1),
                    "ratio_vs_unsigned": round(verified[0] / unverified[0], 3) if unverified[0] else None,
                    "p99_txn_ms": round(percentile(verified[1], 99), 1),
                    "refused": verified[2] + unverified[2],
                }
            )
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
