"""Ray's own autoscaler scheduler on the operator's scheduler inputs, for comparison.

Reads a JSON file of cases, each `{"name", "input", "runs"}` where `input` is the operator's
`SchedulerInput` (operator/autoscaler/scheduler.ts), turns it into what Ray's legacy autoscaler
hands `ResourceDemandScheduler.get_nodes_to_launch` (python/ray/autoscaler/_private/
resource_demand_scheduler.py) -- node type configs, a provider that tags nodes with their type, one
resource dict per pending request, PlacementGroupTableData for the placement groups, the
request_resources() bundles -- and times that call alone. Prints one JSON object: per case the
median and all timings in ms and the node counts Ray chose.

    python bench/autoscaler/ray_scheduler.py cases.json > ray.json

Run it with the cached venv's python (scripts/toolchain/ray.sh).
"""

import copy
import json
import logging
import statistics
import sys
import time

from ray.autoscaler._private.node_provider_availability_tracker import NodeAvailabilitySummary
from ray.autoscaler._private.resource_demand_scheduler import ResourceDemandScheduler
from ray.autoscaler.tags import (
    NODE_KIND_HEAD,
    NODE_KIND_WORKER,
    TAG_RAY_NODE_KIND,
    TAG_RAY_USER_NODE_TYPE,
)
from ray.core.generated.common_pb2 import Bundle, PlacementStrategy
from ray.core.generated.gcs_pb2 import PlacementGroupTableData

# Ray logs each request it cannot place; with 10,000 requests that would dominate the timing.
logging.getLogger("ray.autoscaler").setLevel(logging.ERROR)


class Provider:
    """The two NodeProvider calls the scheduler makes: tags and internal IP of a node."""

    def __init__(self, tags, ips):
        self._tags = tags
        self._ips = ips

    def node_tags(self, node_id):
        return self._tags[node_id]

    def internal_ip(self, node_id):
        return self._ips[node_id]


STRATEGY = {
    "PACK": PlacementStrategy.PACK,
    "SPREAD": PlacementStrategy.SPREAD,
    "STRICT_PACK": PlacementStrategy.STRICT_PACK,
    "STRICT_SPREAD": PlacementStrategy.STRICT_SPREAD,
}


def prepare(inp):
    """The arguments of get_nodes_to_launch, and what to build a fresh scheduler from."""
    node_types = {}
    for t in inp["types"]:
        node_types[t["name"]] = {
            "resources": dict(t["resources"]),
            "min_workers": t["minWorkers"],
            "max_workers": t["maxWorkers"],
            "node_config": {},
        }
    tags, ips, nodes = {}, {}, []
    unused, totals = {}, {}
    for i, n in enumerate(inp["nodes"]):
        if n["status"] in ("DEAD", "DRAINING"):
            continue
        node_id = f"node-{i}"
        ip = f"10.{i // 65536}.{(i // 256) % 256}.{i % 256}"
        tags[node_id] = {
            TAG_RAY_NODE_KIND: NODE_KIND_HEAD if n["isHead"] else NODE_KIND_WORKER,
            TAG_RAY_USER_NODE_TYPE: n["type"],
        }
        ips[node_id] = ip
        nodes.append(node_id)
        unused[ip] = dict(n["available"])
        totals[ip] = dict(n["total"])
    demands = []
    for d in inp["demands"]:
        demands.extend(dict(d["resources"]) for _ in range(d["count"]))
    pgs = []
    for g in inp["gangs"]:
        pg = PlacementGroupTableData(strategy=STRATEGY[g["strategy"]])
        for b in g["bundles"]:
            pg.bundles.append(Bundle(unit_resources=b))
        pgs.append(pg)
    constraints = []
    for c in inp["constraints"]:
        constraints.extend(dict(c["resources"]) for _ in range(c["count"]))
    launching = {k: v for k, v in inp["pendingLaunches"].items() if v > 0}
    return {
        "node_types": node_types,
        "provider": Provider(tags, ips),
        "max_workers": inp["maxWorkers"],
        "head_node_type": inp["headType"],
        "upscaling_speed": inp["upscalingSpeed"],
        "args": dict(
            nodes=nodes,
            launching_nodes=launching,
            resource_demands=demands,
            unused_resources_by_ip=unused,
            pending_placement_groups=pgs,
            max_resources_by_ip=totals,
            ensure_min_cluster_size=constraints,
            node_availability_summary=NodeAvailabilitySummary(node_availabilities={}),
        ),
    }


def run_once(p):
    scheduler = ResourceDemandScheduler(
        p["provider"], p["node_types"], p["max_workers"], p["head_node_type"], p["upscaling_speed"]
    )
    # The scheduler mutates nothing it is given except dicts inside the demand list it copies;
    # a deep copy per run keeps runs independent without counting the copy.
    args = copy.deepcopy(p["args"])
    start = time.perf_counter()
    to_launch, unfulfilled = scheduler.get_nodes_to_launch(**args)
    elapsed = (time.perf_counter() - start) * 1000.0
    return elapsed, dict(to_launch), len(unfulfilled)


def main():
    with open(sys.argv[1]) as f:
        cases = json.load(f)
    out = {}
    for case in cases:
        p = prepare(case["input"])
        times, launch, unfulfilled = [], None, None
        for _ in range(case.get("runs", 3)):
            elapsed, launch, unfulfilled = run_once(p)
            times.append(elapsed)
        out[case["name"]] = {
            "median_ms": statistics.median(times),
            "times_ms": times,
            "launch": launch,
            "unfulfilled": unfulfilled,
        }
        print(f"[ray] {case['name']}: {statistics.median(times):.1f} ms, {launch}", file=sys.stderr)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
