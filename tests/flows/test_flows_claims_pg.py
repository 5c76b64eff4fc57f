"""On PostgreSQL several repair workers drain one queue: no defect is claimed twice."""

from __future__ import annotations

import threading

import pytest

pytestmark = pytest.mark.postgres


def _detection(key: str, n: int):
    from flows.detection import Detection

    defects = tuple({"kind": "text", "category": "mismatch", "bbox": [10 * i, 0, 10 * i + 8, 8],
                     "quad": [[10 * i, 0], [10 * i + 8, 0], [10 * i + 8, 8], [10 * i, 8]],
                     "expected": f"line {i}", "observed": "x", "score": 0.9,
                     "reasons": ["ocr_mismatch"]} for i in range(n))
    return Detection(key=key, etag=f"etag-{key}", sha256=None, mode="manifest",
                     defects=defects)


def test_concurrent_workers_claim_disjoint_defects_by_poster(pg_url):
    from flows import records
    from posterqa.settings import Settings
    from storage.db import make_engine, upgrade

    upgrade(pg_url)
    engine = make_engine(pg_url)
    settings = Settings(db_url=pg_url)
    run_id = records.open_run(engine, kind="sweep", prefix="posters/", params={})
    for i in range(6):
        records.record_detection(engine, settings, run_id=run_id,
                                 detection=_detection(f"posters/a/p{i}.png", 4))
    claimed: dict[str, list] = {"w1": [], "w2": [], "w3": []}

    start = threading.Barrier(len(claimed))

    def work(name: str) -> None:
        start.wait(10)
        while groups := records.claim_groups(engine, worker=f"host:{name}", limit=3):
            claimed[name].extend(groups)

    threads = [threading.Thread(target=work, args=(n,)) for n in claimed]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ids = [d for groups in claimed.values() for g in groups for d in g.defect_ids]
    assert len(ids) == len(set(ids)) == 24
    for groups in claimed.values():
        for g in groups:
            assert len({g.asset_id}) == 1 and all(j.attempt == 1 for j in g.jobs)
    engine.dispose()
