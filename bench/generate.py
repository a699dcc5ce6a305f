"""Generation benchmark: `/api/generate` and `/api/bulk` end to end against the imaging function alone.

Run: `.venv/bin/python bench/generate.py [--requests 16] [--clients 4] [--bulk-images 50] [--workers 2]
[--mode cbn] [--orientation auto]` (a few minutes: cbn at 12 colors on a ~2 MP photo takes seconds per image;
the photo is wider than tall, so `auto` makes landscape pages).

1. Baseline: `mosaic.imaging.pipeline.generate` in a pool of `--workers` processes (fork server,
   as the server's), fed by `--clients` concurrent callers: requests/s, p50, p99.
2. The same photo and options through `POST /api/generate` on a live `mosaic serve` (same number of
   workers, SQLite) from `--clients` concurrent HTTP clients. The ratio of the two rates is the cost
   of HTTP, the upload, screening, the ledger (reserve + capture) and the pool round trip
   (target ≥ 0.85). Meanwhile one more client asks `GET /api/credits/balance` every 20 ms: its p99
   while both cores generate is the server's responsiveness (target ≤ 50 ms).
3. One `POST /api/bulk` of `--bulk-images` photos against generating them in the pool directly.
4. Print products (`--print-products book|poster|both` runs only this): the same `POST /api/bulk` as `output=book` against
   the ZIP, on one server, alternately (target: book ≤ 1.2× the ZIP's time); and a `tiles=3x3` cbn
   poster against one page (`generate()` in this process, the default ZIP; target ≤ 4×).
Prints figures; no assertions.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, get_args

import httpx
from PIL import Image

ROOT: Final = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mosaic.imaging.options import ORIENTATIONS, LocalMode, parse_options  # noqa: E402
from mosaic.imaging.pipeline import generate  # noqa: E402
from tests.e2e.live import create_user_with_key, server_env, serving  # noqa: E402

FIELDS: Final = {"mode": "cbn", "colors": "12", "output": "zip"}
PHOTO_PX: Final = (1732, 1155)  # ~2 MP
BALANCE_INTERVAL_S: Final = 0.02


def photo_jpeg() -> bytes:
    with Image.open(ROOT / "tests" / "fixtures" / "images" / "coffee.png") as im:
        big = im.convert("RGB").resize(PHOTO_PX, Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    big.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def _figures(latencies_s: list[float], wall_s: float) -> dict[str, float]:
    ordered = sorted(latencies_s)
    n = len(ordered)
    return {
        "rps": n / wall_s,
        "p50_ms": ordered[n // 2] * 1000,
        "p99_ms": ordered[min(n - 1, int(n * 0.99))] * 1000,
    }


def _closed_loop(call: Any, *, requests: int, clients: int) -> dict[str, float]:
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))

    def client() -> None:
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            started = time.perf_counter()
            call()
            with lock:
                latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        for future in [pool.submit(client) for _ in range(clients)]:
            future.result()
    return _figures(latencies, time.perf_counter() - started)


def direct(
    photo: bytes, *, fields: dict[str, str], workers: int, requests: int, clients: int, bulk_images: int
) -> dict[str, Any]:
    options = parse_options(fields)
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        for future in [pool.submit(generate, photo, options) for _ in range(workers)]:
            future.result()  # warm every worker
        single = _closed_loop(lambda: pool.submit(generate, photo, options).result(), requests=requests, clients=clients)
        started = time.perf_counter()
        for future in [pool.submit(generate, photo, options) for _ in range(bulk_images)]:
            future.result()
        bulk_s = time.perf_counter() - started
    return {"single": single, "bulk_s": bulk_s}


def _balance_probe(url: str, key: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:
        while not stop.is_set():
            started = time.perf_counter()
            assert client.get("/api/credits/balance").status_code == 200
            out.append(time.perf_counter() - started)
            time.sleep(BALANCE_INTERVAL_S)


def over_http(
    photo: bytes, *, fields: dict[str, str], workers: int, requests: int, clients: int, bulk_images: int
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(f"sqlite:///{tmp}/bench.db", MOSAIC_IMAGE_WORKERS=str(workers), MOSAIC_RATELIMIT="100000/minute")
        key = create_user_with_key(env, "bench@example.com")
        auth = {"Authorization": f"Bearer {key}"}
        with serving(env, Path(tmp) / "server.log") as server, httpx.Client(base_url=server.url, timeout=600) as http:

            def one() -> None:
                response = http.post("/api/generate", headers=auth, files={"image": ("photo.jpg", photo)}, data=fields)
                assert response.status_code == 200, response.text

            one()  # warm the path
            stop, balance_s = threading.Event(), []
            probe = threading.Thread(target=_balance_probe, args=(server.url, key, stop, balance_s))
            probe.start()
            single = _closed_loop(one, requests=requests, clients=clients)
            stop.set()
            probe.join()
            files = [("images", (f"photo{n}.jpg", photo)) for n in range(bulk_images)]
            started = time.perf_counter()
            response = http.post("/api/bulk", headers=auth, files=files, data=fields)
            bulk_s = time.perf_counter() - started
            assert response.status_code == 200, response.text
    return {"single": single, "bulk_s": bulk_s, "balance": _figures(balance_s, 1.0)}


def book_against_zip(photo: bytes, *, workers: int, bulk_images: int, rounds: int) -> None:
    """`rounds` × (bulk ZIP, bulk book) of the same photos on one server; each time and the ratio."""
    with tempfile.TemporaryDirectory() as tmp:
        env = server_env(f"sqlite:///{tmp}/bench.db", MOSAIC_IMAGE_WORKERS=str(workers), MOSAIC_RATELIMIT="100000/minute")
        key = create_user_with_key(env, "bench@example.com")
        auth = {"Authorization": f"Bearer {key}"}
        files = [("images", (f"photo{n}.jpg", photo)) for n in range(bulk_images)]
        with serving(env, Path(tmp) / "server.log") as server, httpx.Client(base_url=server.url, timeout=900) as http:

            def timed(output: str, sent: list[tuple[str, tuple[str, bytes]]] = files) -> tuple[float, int]:
                started = time.perf_counter()
                response = http.post("/api/bulk", headers=auth, files=sent, data={**FIELDS, "output": output})
                assert response.status_code == 200, response.text
                return time.perf_counter() - started, len(response.content)

            timed("zip", files[:workers])  # warm the path and the workers
            timed("book", files[:workers])
            for n in range(rounds):
                zip_s, zip_bytes = timed("zip")
                book_s, book_bytes = timed("book")
                print(f"round {n + 1}: bulk of {bulk_images} as ZIP {zip_s:.1f} s ({zip_bytes / 1e6:.1f} MB), "
                      f"as book {book_s:.1f} s ({book_bytes / 1e6:.1f} MB): book ÷ ZIP {book_s / zip_s:.2f} (target ≤ 1.2)")


def poster_against_page(photo: bytes, *, rounds: int) -> None:
    """A 3×3 cbn poster against one cbn page (the default ZIP), alternately in this process."""
    page, poster = parse_options(FIELDS), parse_options({"mode": "cbn", "colors": "12", "tiles": "3x3"})
    generate(photo, page)  # warm the imports and caches
    for n in range(rounds):
        started, cpu = time.perf_counter(), time.process_time()
        generate(photo, page)
        page_s, page_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        rendered = generate(photo, poster)
        poster_s, poster_cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"round {n + 1}: one cbn page {page_s:.1f} s (CPU {page_cpu:.1f} s), 3x3 poster {poster_s:.1f} s "
              f"(CPU {poster_cpu:.1f} s, {len(rendered.data) / 1e6:.1f} MB): poster ÷ page {poster_s / page_s:.2f}, "
              f"by CPU {poster_cpu / page_cpu:.2f} (target ≤ 4)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=16)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--bulk-images", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--print-products", choices=("book", "poster", "both"), help="only the book and/or poster comparison"
    )
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of the print products")
    parser.add_argument("--mode", default=FIELDS["mode"], choices=get_args(LocalMode))
    parser.add_argument("--orientation", default="auto", choices=ORIENTATIONS)
    args = parser.parse_args()
    photo = photo_jpeg()
    fields = {**FIELDS, "mode": args.mode, "orientation": args.orientation}
    sizes = dict(workers=args.workers, requests=args.requests, clients=args.clients, bulk_images=args.bulk_images)
    print(f"photo {PHOTO_PX[0]}x{PHOTO_PX[1]} JPEG {len(photo) // 1024} kB, {fields}, {sizes}, load {os.getloadavg()[0]:.1f}")
    if args.print_products:
        if args.print_products != "poster":
            book_against_zip(photo, workers=args.workers, bulk_images=args.bulk_images, rounds=args.rounds)
        if args.print_products != "book":
            poster_against_page(photo, rounds=args.rounds)
        print(f"load {os.getloadavg()[0]:.1f}")
        return
    base = direct(photo, fields=fields, **sizes)
    http = over_http(photo, fields=fields, **sizes)
    for name, figures in (("direct generate()", base["single"]), ("POST /api/generate", http["single"])):
        print(f"{name:22} {figures['rps']:6.2f} req/s  p50 {figures['p50_ms']:7.0f} ms  p99 {figures['p99_ms']:7.0f} ms")
    print(f"ratio /api/generate ÷ direct: {http['single']['rps'] / base['single']['rps']:.2f}  (target ≥ 0.85)")
    bulk_rate, base_rate = args.bulk_images / http["bulk_s"], args.bulk_images / base["bulk_s"]
    print(f"bulk of {args.bulk_images}: HTTP {http['bulk_s']:.1f} s ({bulk_rate:.2f} img/s), direct {base['bulk_s']:.1f} s "
          f"({base_rate:.2f} img/s), ratio {bulk_rate / base_rate:.2f}")
    balance = http["balance"]
    print(f"GET /api/credits/balance while generating: p50 {balance['p50_ms']:.1f} ms  p99 {balance['p99_ms']:.1f} ms  "
          f"(target p99 ≤ 50 ms)  load {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
