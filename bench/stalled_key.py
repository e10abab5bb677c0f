"""Issue 20, fault 5, measured: how long the other keys take to converge when one key's status
writes fail with 409, against a clean run (kmock API server, image facts from the fixtures).

The stuck key's first ~300 status writes all fail (as many as 30% of a thousand): harsher than 30%
at random, since every write of it fails for the whole run.

    python bench/stalled_key.py [--models 20] [--runs 3]

Prints the median time until every other model has its final status, clean and with faults.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aimcore.adapters.kube.api import AIM_KINDS, Backoff
from aimcore.adapters.kube.operator import JsonLog, Operator, Settings
from tests.cluster.support import FactsInspector
from tests.kube_support import RunningFake

QWEN = "amdenterpriseai/aim-qwen-qwen3-32b:0.8.5"


def settle_time(models: int, faulty: bool, seed: int) -> float:
    with RunningFake() as cluster:
        api = cluster.api("user")
        for i in range(models):
            api.create(AIM_KINDS["AIMModel"], {"apiVersion": "aim.eai.amd.com/v1alpha1", "kind": "AIMModel",
                                               "metadata": {"name": f"m{i:03d}", "namespace": "team"},
                                               "spec": {"image": QWEN}})
        if faulty:  # the stuck key's first ~300 status writes answer 409
            rnd = random.Random(seed)
            cluster.fake.fail("PATCH", "aimmodels", 409, times=sum(rnd.random() < 0.3 for _ in range(1000)),
                              subresource="status", name="m000")
        settings = Settings(leader_election=False, backoff=Backoff(base=0.2, cap=10.0, attempts=6),
                            identity="bench")
        inspector = FactsInspector("fixtures/catalog.imagefacts")
        operator = Operator(cluster.api("aimcore/bench"), inspector, settings, JsonLog(io.StringIO(), "info"))
        stop = threading.Event()
        thread = threading.Thread(target=operator.run, args=(stop,))
        start = time.monotonic()
        thread.start()

        def done(doc: dict[str, Any]) -> bool:
            return any(c.get("reason") == "NoTemplatesAvailable"
                       for c in (doc.get("status") or {}).get("conditions") or ())

        while True:
            docs = cluster.fake.objects("aimmodels")
            if all(done(doc) for (_, name), doc in docs.items() if name != "m000"):
                took = time.monotonic() - start
                break
            time.sleep(0.01)
        stop.set()
        thread.join(30)
        return took


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", type=int, default=20)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for faulty in (False, True):
        times = [settle_time(args.models, faulty, seed) for seed in range(args.runs)]
        label = "one key's writes all 409" if faulty else "clean"
        print(f"{label:<24} other {args.models - 1} models converged in {statistics.median(times):.2f} s "
              f"(median of {args.runs}: {', '.join(f'{t:.2f}' for t in times)})")


if __name__ == "__main__":
    main()
