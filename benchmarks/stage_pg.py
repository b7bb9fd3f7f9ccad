"""The stage's chunks on PostgreSQL: COPY's binary format against an INSERT's parameters and a SELECT (a script, not
a test).

    .venv/bin/python benchmarks/stage_pg.py [--rows 1000000] [--rounds 3] [--url postgresql+psycopg2://...]

The large demo item's N rows (``pipelines/demo/large_item.py``) packed into the stage's chunks once
(``StageStore.pack``: Arrow IPC streams, zstd above a megabyte), then, in a throwaway database, alternating
``--rounds`` times: ``StageStore.write`` of those chunks (binary COPY, one per chunk, in one transaction) against
the baseline, the same chunks inserted as an INSERT's parameters in one transaction (what the stage did before);
then every chunk read back by ``StageStore``'s fetch (binary COPY out, a connection per chunk) against a SELECT of
each on a connection of its own. Wall and client CPU, and, for a server on this machine, the server's own CPU
(its postmaster's process tree in /proc); the bytes read back are compared with those written.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path
from typing import Any

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))
from province_scale import ServerCpu, Timer, _server_pid, _throwaway_database  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres",
                        help="an admin connection: a throwaway database is created and dropped")
    args = parser.parse_args()
    with _throwaway_database(args.url, "govdata_stage") as url, tempfile.TemporaryDirectory() as tmp:
        measure(url, args.rows, args.rounds, Path(tmp))


def measure(url: Any, n: int, rounds: int, tmp: Path) -> None:
    from pipelines.catalogue import load_catalogue
    from pipelines.demo import large_item
    from pipelines.store import Store

    catalogue = load_catalogue(large_item.write_catalogue(tmp / "catalogue"))
    store = Store(url.render_as_string(hide_password=False), catalogue)
    store.ensure_tables()
    frame, _ = large_item.make_rows(n)
    packed = store.stage.pack(frame)
    size = sum(len(p.data) for p in packed)
    print(f"{n:,} rows of {large_item.ITEM}: {len(packed)} chunks, {size / 1e6:.1f} MB")
    server = _server_pid(store.engine)
    write, write_baseline = "write: StageStore.write (binary COPY)", "baseline: INSERT with parameters"
    read, read_baseline = "read: StageStore's fetch (binary COPY out)", "baseline: SELECT of each chunk"
    actions = {write: lambda: store.stage.write("s", "intake", packed),
               write_baseline: lambda: _insert_chunks(store, packed),
               read: lambda: _read_ours(store, len(packed)),
               read_baseline: lambda: _select_chunks(store, len(packed))}
    timings: dict[str, list[tuple[Timer, ServerCpu]]] = {label: [] for label in actions}
    for _ in range(rounds):
        for label, action in actions.items():  # in this order: each read reads what its write wrote
            with Timer() as timer, ServerCpu(server) as server_cpu:
                result = action()
            if isinstance(result, list) and result != [p.data for p in packed]:
                raise SystemExit(f"{label}: the bytes read back differ from those written")
            timings[label].append((timer, server_cpu))
    for label, measured in timings.items():
        walls = ", ".join(f"{t.wall:.2f}" for t, _ in measured)
        cpus = ", ".join(f"{t.cpu:.2f}" for t, _ in measured)
        servers = ", ".join("-" if s.cpu is None else f"{s.cpu:.2f}" for _, s in measured)
        print(f"  {label:<44} wall {walls} s; client CPU {cpus} s; server CPU {servers} s")
    for ours, baseline in ((write, write_baseline), (read, read_baseline)):
        ratio = sum(t.wall for t, _ in timings[baseline]) / sum(t.wall for t, _ in timings[ours])
        print(f"  {ours.split(':')[0]}: {ratio:.2f}x the baseline's speed (summed wall over {rounds} rounds)")
    store.dispose()


def _insert_chunks(store: Any, packed: list[Any]) -> None:
    table = store.stage.table
    with store.engine.begin() as conn:
        conn.execute(table.delete().where(table.c.submission_id == "s-baseline"))
        for number, part in enumerate(packed):
            conn.execute(table.insert().values(submission_id="s-baseline", kind="intake", chunk_no=number,
                                               rows=part.rows, data=part.data))


def _read_ours(store: Any, chunks: int) -> list[bytes]:
    return [store.stage._fetch("s", "intake", number) for number in range(chunks)]


def _select_chunks(store: Any, chunks: int) -> list[bytes]:
    table = store.stage.table
    read = []
    for number in range(chunks):
        with store.engine.connect() as conn:
            read.append(bytes(conn.execute(sa.select(table.c.data).where(
                table.c.submission_id == "s-baseline", table.c.kind == "intake",
                table.c.chunk_no == number)).scalar_one()))
    return read


if __name__ == "__main__":
    main()
