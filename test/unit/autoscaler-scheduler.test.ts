// The scheduler's rules on small, hand-worked cases. The scale-up cases are worked out by hand with
// Ray's scoring rule (resource_demand_scheduler.py, `_resource_based_utilization_scorer`): for each
// type, pack the remaining demand greedily on one empty node, then score
//   (gpu_ok, matching resource kinds, min over resources of cap·util³, mean of cap·util³)
// and add a node of the best type; repeat on what is left. (test/integration/
// ray-scheduler-parity.test.ts checks the same against Ray's own Python on random inputs.)
import { strict as assert } from "assert";
import { ClusterNode, decide, isBusy, NodeTypeConfig, SchedulerInput } from "../../operator/autoscaler/scheduler";

const MIN = 60_000;

function input(over: Partial<SchedulerInput> & { types: NodeTypeConfig[] }): SchedulerInput {
  return {
    headType: "head",
    maxWorkers: 100,
    upscalingSpeed: 100,
    idleTimeoutMs: 5 * MIN,
    nodes: [head()],
    pendingLaunches: {},
    demands: [],
    gangs: [],
    constraints: [],
    ...over,
    types: [{ name: "head", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 0 }, ...over.types],
  };
}

/** A head with no free CPU, so demand has to go to workers. */
function head(idleMs = 0): ClusterNode {
  return {
    instanceId: "head",
    type: "head",
    total: { CPU: 1 },
    available: { CPU: idleMs > 0 ? 1 : 0 },
    status: idleMs > 0 ? "IDLE" : "RUNNING",
    idleMs,
    isHead: true,
  };
}

function worker(
  instanceId: string,
  type: string,
  total: Record<string, number>,
  opts: { available?: Record<string, number>; idleMs?: number } = {},
): ClusterNode {
  const available = opts.available ?? total;
  const busy = Object.entries(total).some(([k, v]) => (available[k] ?? 0) < v);
  return {
    instanceId,
    type,
    total,
    available,
    status: busy ? "RUNNING" : "IDLE",
    idleMs: busy ? 0 : (opts.idleMs ?? 0),
    isHead: false,
  };
}

const t = (name: string, resources: Record<string, number>, maxWorkers = 10, minWorkers = 0): NodeTypeConfig => ({
  name,
  resources,
  minWorkers,
  maxWorkers,
});

describe("autoscaler scheduler: choosing node types as Ray scores them", () => {
  const smallBig = [t("small", { CPU: 2 }), t("big", { CPU: 8 })];

  it("2 × {CPU: 1}: the small node, fully used, beats a quarter-used big one", () => {
    // small: 2/2 used, util 1 → 2·1³ = 2 → (1, 1, 2, 2)
    // big:   2/8 used, util 0.25 → 8·0.25³ = 0.125 → (1, 1, 0.125, 0.125)
    const d = decide(input({ types: smallBig, demands: [{ resources: { CPU: 1 }, count: 2 }] }));
    assert.deepEqual(d.launch, { small: 1 });
  });

  it("8 × {CPU: 1}: one big node, fully used, beats a full small one (capacity × util³)", () => {
    // small: util 1 → 2 → (1,1,2,2); big: util 1 → 8 → (1,1,8,8): big.
    const d = decide(input({ types: smallBig, demands: [{ resources: { CPU: 1 }, count: 8 }] }));
    assert.deepEqual(d.launch, { big: 1 });
  });

  it("5 × {CPU: 1}: three small nodes, not one big one (the cube punishes a 5/8-used node)", () => {
    // Round 1: small 2·1³ = 2; big 8·(5/8)³ = 1.953125 → small (2 > 1.95). 3 left.
    // Round 2: small 2; big 8·(3/8)³ = 0.421875 → small. 1 left.
    // Round 3: small 2·(1/2)³ = 0.25; big 8·(1/8)³ = 0.015625 → small.
    const d = decide(input({ types: smallBig, demands: [{ resources: { CPU: 1 }, count: 5 }] }));
    assert.deepEqual(d.launch, { small: 3 });
  });

  it("CPU work does not take a GPU node when a CPU node will do", () => {
    // cpu: (gpu_ok=1, 1, 4, 4). gpu: CPU 4·1³ = 4, GPU 1·0³ = 0 → (gpu_ok=0, 1, 0, 2): cpu.
    const types = [t("cpu", { CPU: 4 }), t("gpu", { CPU: 4, GPU: 1 })];
    assert.deepEqual(decide(input({ types, demands: [{ resources: { CPU: 1 }, count: 4 }] })).launch, { cpu: 1 });
    // A GPU request fits only the GPU type.
    assert.deepEqual(decide(input({ types, demands: [{ resources: { CPU: 1, GPU: 1 }, count: 1 }] })).launch, {
      gpu: 1,
    });
  });

  it("a type offering more of the resource kinds asked for wins before utilisation counts", () => {
    // Demand kinds: {CPU, Custom1}. plain: 4 CPU used → (1, 1, 4, 4).
    // custom: 4 CPU + 1 Custom1 → CPU 4, Custom1 4·(1/4)³ = 0.0625 → (1, 2, 0.0625, 2.03): custom.
    const types = [t("plain", { CPU: 4 }), t("custom", { CPU: 4, Custom1: 4 })];
    const d = decide(
      input({
        types,
        demands: [
          { resources: { CPU: 1 }, count: 4 },
          { resources: { Custom1: 1 }, count: 1 },
        ],
      }),
    );
    assert.deepEqual(d.launch, { custom: 1 });
  });

  it("equal scores: the type whose name sorts last (Ray sorts (score, name) descending)", () => {
    const types = [t("alpha", { CPU: 2 }), t("beta", { CPU: 2 })];
    assert.deepEqual(decide(input({ types, demands: [{ resources: { CPU: 1 }, count: 2 }] })).launch, { beta: 1 });
  });

  it("resources of capacity below 1 are not scored", () => {
    // half: {CPU: 2, is_spot: 0.5}: only CPU is scored → (1, 1, 2, 2); full: {CPU: 2, is_spot: 1}: the
    // unused is_spot scores 0 → (1, 1, 0, 1): half wins.
    const types = [t("full", { CPU: 2, is_spot: 1 }), t("half", { CPU: 2, is_spot: 0.5 })];
    assert.deepEqual(decide(input({ types, demands: [{ resources: { CPU: 1 }, count: 2 }] })).launch, { half: 1 });
  });
});

describe("autoscaler scheduler: placement groups", () => {
  const w4w8 = [t("w4", { CPU: 4 }), t("w8", { CPU: 8 })];

  it("STRICT_PACK: the bundles together, so only a node holding their sum will do", () => {
    // 3 × {CPU: 2} = {CPU: 6}: w4 cannot hold it; one w8.
    const d = decide(
      input({ types: w4w8, gangs: [{ strategy: "STRICT_PACK", bundles: [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }] }] }),
    );
    assert.deepEqual(d.launch, { w8: 1 });
  });

  it("PACK: bundles packed as ordinary demand (best effort)", () => {
    // Round 1: w4 takes 2 → 4·1³ = 4; w8 takes 3 → 8·(6/8)³ = 3.375 → w4. Round 2 (1 left):
    // w4 4·(2/4)³ = 0.5; w8 8·(2/8)³ = 0.125 → w4.
    const d = decide(
      input({ types: w4w8, gangs: [{ strategy: "PACK", bundles: [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }] }] }),
    );
    assert.deepEqual(d.launch, { w4: 2 });
  });

  it("STRICT_SPREAD: one bundle per node, on distinct nodes, existing free nodes first", () => {
    // Each new node scored for one bundle: w4 4·(1/4)³ = 0.0625 beats w8 8·(1/8)³ = 0.015625.
    const gangs = [{ strategy: "STRICT_SPREAD" as const, bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }] }];
    assert.deepEqual(decide(input({ types: w4w8, gangs })).launch, { w4: 3 });
    // A free w8 takes one bundle (only one: strict spread); two new nodes for the rest.
    const withFree = decide(input({ types: w4w8, gangs, nodes: [head(), worker("w8-a", "w8", { CPU: 8 })] }));
    assert.deepEqual(withFree.launch, { w4: 2 });
  });

  it("STRICT_SPREAD that cannot be placed whole adds no node at all", () => {
    // 4 bundles, room for 3 more workers: launching 3 would not start the group.
    const d = decide(
      input({
        types: w4w8,
        maxWorkers: 3,
        gangs: [{ strategy: "STRICT_SPREAD", bundles: [{ CPU: 1 }, { CPU: 1 }, { CPU: 1 }, { CPU: 1 }] }],
      }),
    );
    assert.deepEqual(d.launch, {});
  });

  it("a STRICT_SPREAD group that cannot be placed whole leaves the nodes it tried free for the next group", () => {
    // Group A takes the two free c nodes, then needs a third c node: the type is full, A stays pending.
    // Group B then fits the same two free nodes (had A kept them, B would have needed two new w4 nodes).
    const c = { CPU: 2, Custom1: 1 };
    const cluster = {
      types: [t("c", c, 2), t("w4", { CPU: 4 })],
      nodes: [head(), worker("c-1", "c", c), worker("c-2", "c", c)],
    };
    const groupA = { strategy: "STRICT_SPREAD" as const, bundles: [c, c, c] };
    const groupB = { strategy: "STRICT_SPREAD" as const, bundles: [{ CPU: 2 }, { CPU: 2 }] };
    assert.deepEqual(decide(input({ ...cluster, gangs: [groupA, groupB] })).launch, {});
    // Tasks packed after the groups find both nodes free too.
    const later = decide(input({ ...cluster, gangs: [groupA], demands: [{ resources: { CPU: 2 }, count: 2 }] }));
    assert.deepEqual(later.launch, {});
  });

  it("hundreds of STRICT_SPREAD groups: each placed on the nodes the groups before it left free", () => {
    // 300 groups of 3 × {CPU: 2}: each new w4 node takes two bundles (of different groups), so
    // 900 bundles need 450 nodes; the first group also uses the one free w4 (2 bundles' room).
    const group = { strategy: "STRICT_SPREAD" as const, bundles: [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }] };
    const d = decide(
      input({
        types: [t("w4", { CPU: 4 }, 1000)],
        maxWorkers: 1000,
        nodes: [head(), worker("w4-free", "w4", { CPU: 4 })],
        gangs: Array.from({ length: 300 }, () => group),
      }),
    );
    assert.deepEqual(d.launch, { w4: 449 });
  });

  it("a demand naming a node's own resource (node:<ip>) is placed on that node", () => {
    const nodes = [head(), worker("w-1", "w", { CPU: 4, "node:10.0.0.7": 1 })];
    const types = [t("w", { CPU: 4 })];
    const onIt = decide(input({ types, nodes, demands: [{ resources: { CPU: 1, "node:10.0.0.7": 0.01 }, count: 2 }] }));
    assert.deepEqual(onIt.launch, {});
    assert.deepEqual(onIt.infeasible, []);
    // Another node's: no node has it, no type offers it.
    const elsewhere = decide(input({ types, nodes, demands: [{ resources: { "node:10.0.0.8": 0.01 }, count: 1 }] }));
    assert.deepEqual(elsewhere.infeasible, [{ resources: { "node:10.0.0.8": 0.01 }, count: 1 }]);
  });

  it("a placement group only a node started by hand can hold is not infeasible", () => {
    // No type offers 16 CPUs; the hand-started node (no known type) has them.
    const byHand: ClusterNode = { ...worker("by-hand", "", { CPU: 16 }, { available: { CPU: 0 } }) };
    const gangs = [{ strategy: "STRICT_PACK" as const, bundles: [{ CPU: 8 }, { CPU: 8 }] }];
    const types = [t("w4", { CPU: 4 })];
    assert.deepEqual(decide(input({ types, nodes: [head(), byHand], gangs })).infeasibleGangs, []);
    assert.deepEqual(decide(input({ types, nodes: [head()], gangs })).infeasibleGangs, gangs);
  });

  it("an infeasible placement group is reported once, as the group, not also as tasks (STRICT_PACK: its sum)", () => {
    const gangs = [
      { strategy: "STRICT_PACK" as const, bundles: [{ CPU: 8 }, { CPU: 8 }] },
      { strategy: "PACK" as const, bundles: [{ CPU: 16 }] },
    ];
    // A task of the same shape as the STRICT_PACK group's sum: it, and only it, is an infeasible task.
    const d = decide(input({ types: w4w8, gangs, demands: [{ resources: { CPU: 16 }, count: 2 }] }));
    assert.deepEqual(d.infeasibleGangs, gangs);
    assert.deepEqual(d.infeasible, [{ resources: { CPU: 16 }, count: 2 }]);
    assert.deepEqual(d.launch, {});
    assert.deepEqual(decide(input({ types: w4w8, gangs })).infeasible, []);
  });

  it("placement-group launches are not held back by the upscaling throttle", () => {
    const bundles = Array.from({ length: 12 }, () => ({ CPU: 4 }));
    const d = decide(
      input({ types: [t("w4", { CPU: 4 }, 50)], upscalingSpeed: 1, gangs: [{ strategy: "STRICT_SPREAD", bundles }] }),
    );
    assert.deepEqual(d.launch, { w4: 12 });
  });
});

describe("autoscaler scheduler: capacity, limits, constraints", () => {
  const w4 = [t("w4", { CPU: 4 }, 10)];

  it("demand that fits the free capacity of running and pending nodes launches nothing", () => {
    const nodes = [head(), worker("w4-a", "w4", { CPU: 4 }, { available: { CPU: 3 } })];
    assert.deepEqual(decide(input({ types: w4, nodes, demands: [{ resources: { CPU: 1 }, count: 3 }] })).launch, {});
    // A pod still starting counts as a full node.
    const pending = decide(
      input({ types: w4, nodes, pendingLaunches: { w4: 1 }, demands: [{ resources: { CPU: 1 }, count: 7 }] }),
    );
    assert.deepEqual(pending.launch, {});
    // One more request than that: one more node.
    const more = decide(
      input({ types: w4, nodes, pendingLaunches: { w4: 1 }, demands: [{ resources: { CPU: 1 }, count: 8 }] }),
    );
    assert.deepEqual(more.launch, { w4: 1 });
  });

  it("minWorkers: launched regardless of demand, and not throttled", () => {
    const d = decide(input({ types: [t("w4", { CPU: 4 }, 20, 8)], upscalingSpeed: 1 }));
    assert.deepEqual(d.launch, { w4: 8 });
    assert.deepEqual(d.targetWorkers, { head: 0, w4: 8 });
  });

  it("per-type and global maxWorkers cap the launches; the rest is reported unfulfilled", () => {
    const typeCap = decide(input({ types: [t("w4", { CPU: 4 }, 3)], demands: [{ resources: { CPU: 4 }, count: 5 }] }));
    assert.deepEqual(typeCap.launch, { w4: 3 });
    assert.deepEqual(typeCap.unfulfilled, [{ resources: { CPU: 4 }, count: 2 }]);
    const nodes = [
      head(),
      worker("w4-a", "w4", { CPU: 4 }, { available: { CPU: 0 } }),
      worker("w4-b", "w4", { CPU: 4 }, { available: { CPU: 0 } }),
    ];
    const globalCap = decide(
      input({ types: w4, maxWorkers: 3, nodes, demands: [{ resources: { CPU: 4 }, count: 5 }] }),
    );
    assert.deepEqual(globalCap.launch, { w4: 1 });
    assert.ok(globalCap.notes.some((n) => /maxWorkers 3/.test(n)));
  });

  it("minWorkers never pushes the cluster over the global maxWorkers (contract, stricter than Ray)", () => {
    const d = decide(input({ types: [t("a", { CPU: 1 }, 10, 4), t("b", { CPU: 1 }, 10, 4)], maxWorkers: 6 }));
    assert.equal((d.launch.a ?? 0) + (d.launch.b ?? 0), 6);
  });

  it("request_resources is measured against total capacity, not free capacity", () => {
    // One w4 fully busy. As a constraint, {CPU: 4} × 2 counts the busy node: one more node.
    const nodes = [head(), worker("w4-a", "w4", { CPU: 4 }, { available: { CPU: 0 } })];
    const c = decide(input({ types: w4, nodes, constraints: [{ resources: { CPU: 4 }, count: 2 }] }));
    assert.deepEqual(c.launch, { w4: 1 });
    // As pending demand, both need free room: two nodes.
    const p = decide(input({ types: w4, nodes, demands: [{ resources: { CPU: 4 }, count: 2 }] }));
    assert.deepEqual(p.launch, { w4: 2 });
  });

  it("infeasible demand is reported and launches nothing", () => {
    const d = decide(
      input({
        types: w4,
        demands: [
          { resources: { GPU: 8 }, count: 3 },
          { resources: { CPU: 1 }, count: 1 },
        ],
      }),
    );
    assert.deepEqual(d.launch, { w4: 1 });
    assert.deepEqual(d.infeasible, [{ resources: { GPU: 8 }, count: 3 }]);
    assert.deepEqual(d.unfulfilled, []);
    const pg = decide(input({ types: w4, gangs: [{ strategy: "STRICT_PACK", bundles: [{ CPU: 3 }, { CPU: 3 }] }] }));
    assert.deepEqual(pg.launch, {});
    assert.equal(pg.infeasibleGangs.length, 1);
  });

  it("a type with maxWorkers 0 is never launched, and its shapes count as infeasible", () => {
    const d = decide(
      input({
        types: [t("w4", { CPU: 4 }, 10), t("gpu", { GPU: 1 }, 0)],
        demands: [{ resources: { GPU: 1 }, count: 1 }],
      }),
    );
    assert.deepEqual(d.launch, {});
    assert.deepEqual(d.infeasible, [{ resources: { GPU: 1 }, count: 1 }]);
  });
});

describe("autoscaler scheduler: upscaling throttle", () => {
  it("at most max(5, speed × running workers) pending launches per type", () => {
    const types = [t("w4", { CPU: 4 }, 1000)];
    const demands = [{ resources: { CPU: 4 }, count: 100 }];
    // Nothing running: 5.
    const none = decide(input({ types, upscalingSpeed: 1, demands }));
    assert.deepEqual(none.launch, { w4: 5 });
    assert.equal(none.wanted.w4, 100);
    // 20 busy workers, speed 1, 3 already pending: 20 − 3 = 17.
    const nodes = [
      head(),
      ...Array.from({ length: 20 }, (_, i) => worker(`w-${i}`, "w4", { CPU: 4 }, { available: { CPU: 0 } })),
    ];
    assert.deepEqual(decide(input({ types, upscalingSpeed: 1, nodes, pendingLaunches: { w4: 3 }, demands })).launch, {
      w4: 17,
    });
    // Speed 0.5: max(5, 10) − 3 = 7.
    assert.deepEqual(decide(input({ types, upscalingSpeed: 0.5, nodes, pendingLaunches: { w4: 3 }, demands })).launch, {
      w4: 7,
    });
    // Already 12 pending, bound 10: none now.
    const held = decide(input({ types, upscalingSpeed: 0.5, nodes, pendingLaunches: { w4: 12 }, demands }));
    assert.deepEqual(held.launch, {});
    assert.ok(held.notes.some((n) => /held back by upscalingSpeed/.test(n)));
  });
});

describe("autoscaler scheduler: removing idle workers", () => {
  const w = [t("w", { CPU: 1 }, 10, 1)];

  it("removes workers idle past the timeout, least recently used first, down to minWorkers", () => {
    const nodes = [
      head(),
      worker("busy", "w", { CPU: 1 }, { available: { CPU: 0 } }),
      worker("idle-2m", "w", { CPU: 1 }, { idleMs: 2 * MIN }),
      worker("idle-10m", "w", { CPU: 1 }, { idleMs: 10 * MIN }),
      worker("idle-6m", "w", { CPU: 1 }, { idleMs: 6 * MIN }),
    ];
    const d = decide(input({ types: w, nodes }));
    // Most recently used first: busy (kept: counts toward minWorkers 1), idle-2m (under the timeout),
    // then idle-6m and idle-10m go; reported least recently used first.
    assert.deepEqual(
      d.remove.map((r) => [r.instanceId, r.reason]),
      [
        ["idle-10m", "idle"],
        ["idle-6m", "idle"],
      ],
    );
    assert.equal(d.targetWorkers.w, 2);
  });

  it("never below minWorkers: the most recently used idle ones are kept", () => {
    const nodes = [
      head(),
      worker("a", "w", { CPU: 1 }, { idleMs: 60 * MIN }),
      worker("b", "w", { CPU: 1 }, { idleMs: 30 * MIN }),
    ];
    const d = decide(input({ types: [t("w", { CPU: 1 }, 10, 1)], nodes }));
    assert.deepEqual(
      d.remove.map((r) => r.instanceId),
      ["a"],
    );
  });

  it("never the head, never a busy node, never a draining or dead one", () => {
    const nodes: ClusterNode[] = [
      head(60 * MIN),
      { ...worker("running", "w", { CPU: 1 }, { idleMs: 60 * MIN }), status: "RUNNING" },
      { ...worker("draining", "w", { CPU: 1 }, { idleMs: 60 * MIN }), status: "DRAINING" },
      { ...worker("dead", "w", { CPU: 1 }, { idleMs: 60 * MIN }), status: "DEAD" },
      worker("in-use", "w", { CPU: 1, memory: 100 }, { available: { CPU: 1, memory: 50 } }),
    ];
    const d = decide(input({ types: [t("w", { CPU: 1 }, 10, 0)], nodes }));
    assert.deepEqual(d.remove, []);
    assert.ok(isBusy(nodes[1]) && isBusy(nodes[4]));
  });

  it("removes an IDLE node whatever stale node_activity Ray still lists for it (Ray 2.60 keeps the last list)", () => {
    const nodes: ClusterNode[] = [
      head(),
      {
        ...worker("ran-a-task", "w", { CPU: 1 }, { idleMs: 60 * MIN }),
        activity: ["Resource: CPU currently in use.", "Busy workers on node."],
      },
    ];
    const d = decide(input({ types: [t("w", { CPU: 1 }, 10, 0)], nodes }));
    assert.deepEqual(
      d.remove.map((r) => r.instanceId),
      ["ran-a-task"],
    );
    assert.equal(isBusy(nodes[1]), false);
  });

  it("a lowered maxWorkers removes idle workers over it, but waits for busy ones", () => {
    const nodes = [
      head(),
      worker("busy-1", "w", { CPU: 1 }, { available: { CPU: 0 } }),
      worker("busy-2", "w", { CPU: 1 }, { available: { CPU: 0 } }),
      worker("idle-1m", "w", { CPU: 1 }, { idleMs: 1 * MIN }),
    ];
    const d = decide(input({ types: [t("w", { CPU: 1 }, 1, 0)], nodes }));
    assert.deepEqual(
      d.remove.map((r) => [r.instanceId, r.reason]),
      [["idle-1m", "over-max-workers"]],
    );
    assert.ok(d.notes.some((n) => /busy-2.*kept until idle/.test(n)));
  });

  it("keeps idle workers that request_resources or a pending placement group needs", () => {
    const nodes = [
      head(),
      worker("needed", "w", { CPU: 4 }, { idleMs: 60 * MIN }),
      worker("spare", "w", { CPU: 4 }, { idleMs: 60 * MIN }),
    ];
    const types = [t("w", { CPU: 4 }, 10, 0)];
    const c = decide(input({ types, nodes, constraints: [{ resources: { CPU: 4 }, count: 1 }] }));
    assert.equal(c.remove.length, 1);
    assert.deepEqual(
      decide(input({ types, nodes, gangs: [{ strategy: "STRICT_SPREAD", bundles: [{ CPU: 4 }, { CPU: 4 }] }] })).remove,
      [],
    );
  });

  it("removed workers are not counted as capacity for new demand", () => {
    // Both idle past the timeout; the demand does not fit them (GPU), so they go and a GPU node comes.
    const nodes = [head(), worker("w-a", "w", { CPU: 1 }, { idleMs: 60 * MIN })];
    const d = decide(
      input({
        types: [t("w", { CPU: 1 }, 10, 0), t("g", { CPU: 1, GPU: 1 }, 10, 0)],
        nodes,
        demands: [{ resources: { GPU: 1 }, count: 1 }],
      }),
    );
    assert.deepEqual(
      d.remove.map((r) => r.instanceId),
      ["w-a"],
    );
    assert.deepEqual(d.launch, { g: 1 });
    assert.deepEqual(d.targetWorkers, { head: 0, w: 0, g: 1 });
  });
});
