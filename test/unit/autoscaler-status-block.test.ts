// The "Cluster status" block: the seed's lines, for the seed's cluster.
import { strict as assert } from "assert";
import { decide, SchedulerInput } from "../../operator/autoscaler/scheduler";
import { formatClusterStatus, formatInfeasible, pyFloat, pyResources } from "../../operator/autoscaler/status-block";

const GiB = 2 ** 30;

/** example-cluster2 as in the seed's log: head + one idle worker of `worker-nodes`. */
function seedCluster(): SchedulerInput {
  return {
    types: [
      { name: "head-node", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 0 },
      { name: "worker-nodes", resources: { CPU: 1, Custom1: 1, is_spot: 1 }, minWorkers: 1, maxWorkers: 3 },
    ],
    headType: "head-node",
    maxWorkers: 3,
    upscalingSpeed: 1,
    idleTimeoutMs: 5 * 60_000,
    nodes: [
      {
        instanceId: "example-cluster2-ray-head-hbxvv",
        type: "head-node",
        total: { CPU: 1, memory: 0.3 * GiB, object_store_memory: 0.05 * GiB, "node:10.1.0.4": 1 },
        available: { CPU: 1, memory: 0.3 * GiB, object_store_memory: 0.05 * GiB, "node:10.1.0.4": 1 },
        status: "IDLE",
        idleMs: 41_500,
        isHead: true,
      },
      {
        instanceId: "example-cluster2-ray-worker-tdxdr",
        type: "worker-nodes",
        total: { CPU: 1, Custom1: 1, is_spot: 1, memory: 0.28 * GiB, object_store_memory: 0.05 * GiB },
        available: { CPU: 1, Custom1: 1, is_spot: 1, memory: 0.28 * GiB, object_store_memory: 0.05 * GiB },
        status: "IDLE",
        idleMs: 36_200,
        isHead: false,
      },
    ],
    pendingLaunches: {},
    demands: [],
    gangs: [],
    constraints: [],
  };
}

describe("autoscaler status block", () => {
  it("prints the seed's block for the seed's idle cluster", () => {
    const input = seedCluster();
    assert.deepEqual(formatClusterStatus(input, decide(input)), [
      "Cluster status: 1 nodes",
      " - NodeIdleSeconds: Min=36 Mean=38 Max=41",
      " - ResourceUsage: 0.0/2.0 CPU, 0.0/1.0 Custom1, 0.0/1.0 is_spot, " +
        "0.0 GiB/0.58 GiB memory, 0.0 GiB/0.1 GiB object_store_memory",
      "Worker node types:",
      " - worker-nodes: 1",
      "Placement group demands: []",
      "Resource demands: []",
      "Unfulfilled demands: []",
      "Node requests: {}",
    ]);
  });

  it("shows demand, pending pods, node requests, infeasible demand and removals", () => {
    const input = seedCluster();
    input.nodes[1] = {
      ...input.nodes[1],
      available: { ...input.nodes[1].available, CPU: 0, Custom1: 0 },
      status: "RUNNING",
      idleMs: 0,
    };
    input.pendingLaunches = { "worker-nodes": 1 };
    input.demands = [
      { resources: { CPU: 1, Custom1: 1 }, count: 3 },
      { resources: { GPU: 1 }, count: 1 },
    ];
    input.gangs = [{ strategy: "STRICT_SPREAD", bundles: [{ CPU: 1 }, { CPU: 1 }] }];
    const lines = formatClusterStatus(input, decide(input));
    assert.equal(lines[0], "Cluster status: 1 nodes (1 pending)");
    assert.ok(
      lines.includes(
        " - ResourceUsage: 1.0/2.0 CPU, 1.0/1.0 Custom1, 0.0/1.0 is_spot, " +
          "0.0 GiB/0.58 GiB memory, 0.0 GiB/0.1 GiB object_store_memory",
      ),
      lines.join("\n"),
    );
    assert.ok(lines.includes(" - worker-nodes: 2 (1 pending)"));
    assert.ok(lines.includes("Placement group demands: [STRICT_SPREAD: [{'CPU': 1.0}, {'CPU': 1.0}]]"));
    assert.ok(lines.includes("Resource demands: [{'CPU': 1.0, 'Custom1': 1.0} * 3, {'GPU': 1.0}]"));
    assert.ok(lines.includes("Node requests: {'worker-nodes': 1}"), lines.join("\n"));
    assert.ok(lines.some((l) => l.startsWith("Infeasible demands") && l.includes("{'GPU': 1.0}")));
    // The limit (maxWorkers 3: one running, one pending, one launched) leaves demand unfulfilled.
    assert.ok(
      lines.some((l) => l.startsWith("Unfulfilled demands: [{'CPU': 1.0, 'Custom1': 1.0}")),
      lines.join("\n"),
    );
  });

  it("names the workers being removed and why", () => {
    const input = seedCluster();
    input.types[1].minWorkers = 0;
    input.nodes[1] = { ...input.nodes[1], idleMs: 400_000 };
    const lines = formatClusterStatus(input, decide(input));
    assert.ok(
      lines.includes("Nodes to remove: example-cluster2-ray-worker-tdxdr (worker-nodes, idle 400s)"),
      lines.join("\n"),
    );
  });

  it("prints numbers and dicts as Python did", () => {
    assert.equal(pyFloat(2), "2.0");
    assert.equal(pyFloat(0.58), "0.58");
    assert.equal(pyFloat(8589934592), "8589934592.0");
    assert.equal(pyFloat(0.0001), "0.0001");
    assert.equal(pyFloat(0.00001), "1e-05");
    assert.equal(pyFloat(1.5e16), "1.5e+16");
    assert.equal(pyFloat(-3.25), "-3.25");
    assert.equal(pyResources({ CPU: 1, "it's": 0.5 }), `{'CPU': 1.0, "it's": 0.5}`);
  });

  it("keeps 10,000 requests on one line per shape, and caps the number of shapes shown", () => {
    const input = seedCluster();
    input.demands = Array.from({ length: 30 }, (_, i) => ({ resources: { CPU: i + 1 }, count: 1000 }));
    const line = formatClusterStatus(input, decide(input), { maxShapes: 5 }).find((l) =>
      l.startsWith("Resource demands:"),
    )!;
    assert.equal(
      line,
      "Resource demands: [{'CPU': 1.0} * 1000, {'CPU': 2.0} * 1000, {'CPU': 3.0} * 1000, " +
        "{'CPU': 4.0} * 1000, {'CPU': 5.0} * 1000, ... 25 more shapes]",
    );
  });

  it("identical infeasible placement groups are one line, with their number", () => {
    const input = seedCluster();
    const spread = { strategy: "STRICT_SPREAD" as const, bundles: [{ CPU: 8 }, { CPU: 8 }] };
    const pack = { strategy: "STRICT_PACK" as const, bundles: [{ CPU: 1 }, { CPU: 2 }] };
    input.gangs = [spread, pack, ...Array.from({ length: 39 }, () => structuredClone(spread))];
    const decision = decide(input);
    assert.equal(decision.infeasibleGangs.length, 41);
    assert.deepEqual(formatInfeasible(decision), [
      "{'CPU': 8.0}, {'CPU': 8.0} (STRICT_SPREAD): 40 placement groups",
      "{'CPU': 1.0}, {'CPU': 2.0} (STRICT_PACK): placement group",
    ]);
    const line = formatClusterStatus(input, decision).find((l) => l.startsWith("Infeasible demands"));
    assert.equal(
      line,
      "Infeasible demands (no node type can hold them): [] placement groups: " +
        "[STRICT_SPREAD: [{'CPU': 8.0}, {'CPU': 8.0}] * 40, STRICT_PACK: [{'CPU': 1.0}, {'CPU': 2.0}]]",
    );
  });

  it("caps the placement groups shown, and counts the rest", () => {
    const input = seedCluster();
    input.gangs = Array.from({ length: 1000 }, (_, i) => ({
      strategy: i % 2 ? ("PACK" as const) : ("STRICT_SPREAD" as const),
      bundles: [{ CPU: i + 1 }, { CPU: 1 }],
    }));
    const line = formatClusterStatus(input, decide(input), { maxShapes: 3 }).find((l) =>
      l.startsWith("Placement group demands:"),
    )!;
    assert.equal(
      line,
      "Placement group demands: [STRICT_SPREAD: [{'CPU': 1.0}, {'CPU': 1.0}], PACK: [{'CPU': 2.0}, {'CPU': 1.0}], " +
        "STRICT_SPREAD: [{'CPU': 3.0}, {'CPU': 1.0}], ... 997 more]",
    );
  });
});
