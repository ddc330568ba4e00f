// The GCS client against a real Ray head (the pinned `ray`, scripts/toolchain/ray.sh): a head started
// as the operator's head pods start it (`ray start --head --no-monitor`, autoscaler v2 mode), worker
// nodes joining with RAY_CLOUD_INSTANCE_ID / RAY_NODE_TYPE_NAME as the operator's pods do, and a
// Python driver putting demand on it. Every test here reads Ray's own answer.
import { strict as assert } from "assert";
import { GcsAutoscalerClient, GcsError, ClusterResourceState } from "../../operator/autoscaler/gcs-client";
import { AutoscalingSpec, ClusterAutoscaler } from "../../operator/autoscaler/autoscaler";
import { observedFromGcs } from "../../operator/autoscaler/gcs-input";
import { decide, NodeTypeConfig } from "../../operator/autoscaler/scheduler";
import { formatClusterStatus } from "../../operator/autoscaler/status-block";
import { LocalRayCluster, RayDriver, rayVenv } from "../support/ray";

const WORKER_RESOURCES = { Custom1: 1, is_spot: 1 };
const W1 = "example-cluster-ray-worker-4hvv6";
const W2 = "example-cluster-ray-worker-tdxdr";
const SPARE = "example-cluster-ray-worker-spare";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls the GCS until `pred` holds; fails with the last state seen. */
async function waitState(
  gcs: GcsAutoscalerClient,
  what: string,
  pred: (s: ClusterResourceState) => boolean,
  timeoutMs = 60_000,
): Promise<ClusterResourceState> {
  const deadline = Date.now() + timeoutMs;
  let last: ClusterResourceState | undefined;
  while (Date.now() < deadline) {
    last = await gcs.getClusterResourceState();
    if (pred(last)) return last;
    await sleep(250);
  }
  assert.fail(`timed out waiting for ${what}; last state:\n${JSON.stringify(last, null, 1).slice(0, 6000)}`);
}

const byInstance = (s: ClusterResourceState, id: string) => s.nodes.find((n) => n.instanceId === id);

describe("GCS client against a real Ray head", function () {
  this.timeout(5 * 60_000);
  let cluster: LocalRayCluster | undefined;
  let gcs: GcsAutoscalerClient;
  let driver: RayDriver;

  before(async function () {
    this.timeout(15 * 60_000); // the first run creates the Ray venv
    rayVenv();
    cluster = await LocalRayCluster.start({
      head: { instanceId: "example-cluster-ray-head-hbxvv", nodeTypeName: "head-node", numCpus: 1 },
    });
    await Promise.all([
      cluster.addWorker({ instanceId: W1, nodeTypeName: "worker-nodes", numCpus: 1, resources: WORKER_RESOURCES }),
      cluster.addWorker({ instanceId: W2, nodeTypeName: "worker-nodes", numCpus: 1, resources: WORKER_RESOURCES }),
      cluster.addWorker({ instanceId: SPARE, nodeTypeName: "spare-nodes", numCpus: 1 }),
    ]);
    gcs = new GcsAutoscalerClient({ address: cluster.gcsAddress });
  });

  after(async function () {
    this.timeout(2 * 60_000);
    gcs?.close();
    if (cluster) {
      await cluster.stop();
      assert.deepEqual(cluster.liveProcesses(), [], "Ray processes left behind");
    }
  });

  it("GetClusterResourceState: the head and the workers, with the instance ids and types we set", async () => {
    // (A node just started may report RUNNING for a moment while Ray starts its first workers.)
    const s = await waitState(gcs, "4 idle nodes", (x) => x.nodes.filter((n) => n.status === "IDLE").length === 4);
    assert.ok(s.version > 0);
    assert.match(s.sessionName, /^session_/);
    const head = byInstance(s, "example-cluster-ray-head-hbxvv")!;
    assert.ok(head, "head not found by instance id");
    assert.equal(head.rayNodeTypeName, "head-node");
    assert.ok("node:__internal_head__" in head.totalResources);
    assert.equal(head.nodeIpAddress, "127.0.0.1");
    for (const id of [W1, W2]) {
      const w = byInstance(s, id)!;
      assert.ok(w, `${id} not found`);
      assert.equal(w.rayNodeTypeName, "worker-nodes");
      assert.equal(w.totalResources.CPU, 1);
      assert.equal(w.totalResources.Custom1, 1);
      assert.equal(w.totalResources.is_spot, 1);
      assert.deepEqual(Object.fromEntries(["CPU", "Custom1", "is_spot"].map((k) => [k, w.availableResources[k]])), {
        CPU: 1,
        Custom1: 1,
        is_spot: 1,
      });
      assert.equal(w.status, "IDLE");
      assert.match(w.nodeId, /^[0-9a-f]{56}$/);
    }
    assert.equal(byInstance(s, SPARE)!.rayNodeTypeName, "spare-nodes");
    // Idle time grows while nothing runs.
    const later = await waitState(
      gcs,
      "idle time to grow",
      (x) => byInstance(x, W1)!.idleDurationMs > byInstance(s, W1)!.idleDurationMs,
    );
    assert.equal(byInstance(later, W1)!.status, "IDLE");
  });

  it("DrainNode of an idle worker is accepted and the node leaves; the others stay", async () => {
    const s = await gcs.getClusterResourceState();
    const spare = byInstance(s, SPARE)!;
    const r = await gcs.drainNode({
      nodeId: spare.nodeId,
      reason: "IDLE_TERMINATION",
      message: "idle for 5 minutes (test)",
    });
    assert.deepEqual(r, { accepted: true, rejectionReason: "" });
    const after = await waitState(gcs, "the drained node to leave", (x) => byInstance(x, SPARE)?.status === "DEAD");
    for (const id of [W1, W2, "example-cluster-ray-head-hbxvv"])
      assert.notEqual(byInstance(after, id)!.status, "DEAD", `${id} died with the drained node`);
    await cluster!.stopWorker(SPARE); // the pod's deletion
  });

  it("pending tasks needing Custom1 show as pending resource requests, by count", async () => {
    driver = cluster!.startDriver(`
@ray.remote(num_cpus=0, resources={"Custom1": 1})
def hold():
    time.sleep(3600)

refs = [hold.remote() for _ in range(5)]
print("TASKS", flush=True)
time.sleep(3600)
`);
    await driver.waitFor("TASKS");
    // Two run (one Custom1 per worker), three wait.
    const s = await waitState(gcs, "3 pending {Custom1: 1}", (x) =>
      x.pendingResourceRequests.some((r) => r.request.resources.Custom1 === 1 && r.count === 3),
    );
    const req = s.pendingResourceRequests.find((r) => r.request.resources.Custom1 === 1)!;
    assert.deepEqual(req.request.resources, { Custom1: 1 });
    const busy = await waitState(gcs, "both workers busy", (x) =>
      [W1, W2].every((id) => byInstance(x, id)!.status === "RUNNING"),
    );
    for (const id of [W1, W2]) {
      const w = byInstance(busy, id)!;
      assert.equal(w.availableResources.Custom1 ?? 0, 0);
      assert.equal(w.idleDurationMs, 0);
      assert.ok(w.nodeActivity.length > 0, "a busy node reports its activity");
    }
  });

  it("DrainNode of a busy worker is refused, with Ray's reason", async () => {
    const s = await gcs.getClusterResourceState();
    const r = await gcs.drainNode({ nodeId: byInstance(s, W1)!.nodeId, reason: "IDLE_TERMINATION", message: "test" });
    assert.equal(r.accepted, false);
    assert.match(r.rejectionReason, /idle/i);
    await sleep(1000);
    assert.equal(byInstance(await gcs.getClusterResourceState(), W1)!.status, "RUNNING");
  });

  it("request_resources() shows as a cluster resource constraint; placement groups as gang requests", async () => {
    const d = cluster!.startDriver(`
from ray.autoscaler.sdk import request_resources
from ray.util.placement_group import placement_group
request_resources(bundles=[{"CPU": 2}, {"Custom1": 1}, {"Custom1": 1}])
pgs = [
    placement_group([{"CPU": 2}, {"CPU": 2}, {"CPU": 2}], strategy="STRICT_SPREAD"),
    placement_group([{"CPU": 4}, {"CPU": 4}], strategy="STRICT_PACK"),
    placement_group([{"Custom1": 3}], strategy="PACK"),
    placement_group([{"CPU": 3}, {"CPU": 3}], strategy="SPREAD"),
]
print("PGS", flush=True)
time.sleep(3600)
`);
    await d.waitFor("PGS");
    const s = await waitState(
      gcs,
      "constraints and 4 gangs",
      (x) => x.clusterResourceConstraints.length > 0 && x.pendingGangResourceRequests.length === 4,
    );
    const constraint = s.clusterResourceConstraints.flat().map((r) => [r.request.resources, r.count]);
    assert.deepEqual(
      constraint.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        [{ CPU: 2 }, 1],
        [{ Custom1: 1 }, 2],
      ],
    );
    const gangs = s.pendingGangResourceRequests.map((g) => [g.strategy, g.bundles.map((b) => b.resources)]);
    assert.deepEqual(
      gangs.sort((a, b) => String(a[0]).localeCompare(String(b[0]))),
      [
        ["PACK", [{ Custom1: 3 }]],
        ["SPREAD", [{ CPU: 3 }, { CPU: 3 }]],
        ["STRICT_PACK", [{ CPU: 4 }, { CPU: 4 }]],
        ["STRICT_SPREAD", [{ CPU: 2 }, { CPU: 2 }, { CPU: 2 }]],
      ],
    );
  });

  it("the scheduler turns the real state into a decision and a Cluster status block", async () => {
    const s = await gcs.getClusterResourceState();
    const seen = observedFromGcs(s);
    const types: NodeTypeConfig[] = [
      { name: "head-node", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 0 },
      { name: "worker-nodes", resources: { CPU: 1, Custom1: 1, is_spot: 1 }, minWorkers: 2, maxWorkers: 10 },
      { name: "big-nodes", resources: { CPU: 8, Custom1: 4 }, minWorkers: 0, maxWorkers: 2 },
    ];
    const input = {
      types,
      headType: "head-node",
      maxWorkers: 12,
      upscalingSpeed: 1,
      idleTimeoutMs: 5 * 60_000,
      pendingLaunches: {},
      ...seen,
    };
    const d = decide(input);
    assert.ok(seen.nodes.find((n) => n.isHead)?.instanceId === "example-cluster-ray-head-hbxvv");
    assert.deepEqual(d.remove, [], "busy workers are not removed");
    // 3 × {Custom1: 1} + the gangs' demand: something is launched, within the limits.
    assert.ok((d.launch["worker-nodes"] ?? 0) + (d.launch["big-nodes"] ?? 0) > 0, JSON.stringify(d));
    assert.ok((d.launch["big-nodes"] ?? 0) <= 2);
    const lines = formatClusterStatus(input, d);
    assert.equal(lines[0], "Cluster status: 2 nodes");
    assert.ok(lines.includes(" - worker-nodes: 2"), lines.join("\n"));
    assert.ok(
      lines.some((l) => l.startsWith("Resource demands: [{'Custom1': 1.0} * 3")),
      lines.join("\n"),
    );
    assert.ok(
      lines.some((l) => /^Node requests: \{.+\}$/.test(l)),
      lines.join("\n"),
    );
  });

  it("ReportAutoscalingState is accepted, and `ray status` shows what we reported", async () => {
    const s = await gcs.getClusterResourceState();
    await gcs.reportAutoscalingState({
      lastSeenClusterResourceStateVersion: s.version,
      autoscalerStateVersion: 1,
      pendingInstanceRequests: [{ rayNodeTypeName: "worker-nodes", count: 2, requestTsMs: Date.now() }],
      pendingInstances: [{ rayNodeTypeName: "worker-nodes", instanceId: "example-cluster-ray-worker-pend1" }],
      infeasibleResourceRequests: [{ GPU: 8 }],
    });
    const status = await gcs.getClusterStatus();
    const reported = status.autoscalingState!;
    assert.equal(reported.autoscalerStateVersion, 1n);
    assert.equal(reported.pendingInstances[0].instanceId, "example-cluster-ray-worker-pend1");
    assert.deepEqual(reported.infeasibleResourceRequests[0].resourcesBundle, { GPU: 8 });
    const text = cluster!.rayStatus();
    assert.match(text, /Pending:/, text);
    assert.match(text, /example-cluster-ray-worker-pend1: worker-nodes/, text);
    assert.match(text, /worker-nodes, \d+ launching/, text);
  });

  it("a whole autoscaler pass on the real cluster: creates for demand, drains and deletes an idle worker", async () => {
    const SPARE2 = "example-cluster-ray-worker-spare2";
    await cluster!.addWorker({ instanceId: SPARE2, nodeTypeName: "spare-nodes", numCpus: 1 });
    await waitState(gcs, "the new worker idle", (x) => byInstance(x, SPARE2)?.status === "IDLE");
    const spec: AutoscalingSpec = {
      types: [
        { name: "head-node", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 0 },
        { name: "worker-nodes", resources: { CPU: 1, ...WORKER_RESOURCES }, minWorkers: 2, maxWorkers: 10 },
        { name: "spare-nodes", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 2 },
      ],
      headType: "head-node",
      maxWorkers: 12,
      upscalingSpeed: 1,
      idleTimeoutMs: 0, // every idle worker above its minimum goes
    };
    const pods = [W1, W2, SPARE2].map((name) => ({ name, type: name === SPARE2 ? "spare-nodes" : "worker-nodes" }));
    pods.push({ name: "example-cluster-ray-worker-pend2", type: "worker-nodes" }); // created, Ray not up yet
    const autoscaler = new ClusterAutoscaler({ gcs });
    const r = await autoscaler.step(spec, pods);
    assert.ok(r.ok, r.ok ? "" : r.error.message);
    assert.equal(r.reportError, undefined);
    // 3 tasks wait for Custom1; the pod on its way takes one: 2 more worker-nodes.
    assert.deepEqual(r.create, { "worker-nodes": 2 });
    assert.deepEqual(
      r.delete.map((x) => [x.instanceId, x.reason]),
      [[SPARE2, "idle"]],
    );
    assert.deepEqual(r.drainRejected, []);
    // {Custom1: 3} (the PACK group) fits no type: reported, not chased.
    assert.ok(
      r.infeasible.some((l) => l.includes("{'Custom1': 3.0}")),
      r.infeasible.join("\n"),
    );
    await waitState(gcs, "the drained worker gone", (x) => byInstance(x, SPARE2)?.status === "DEAD");
    await cluster!.stopWorker(SPARE2);
    const text = cluster!.rayStatus();
    assert.match(text, /example-cluster-ray-worker-pend2: worker-nodes/, text);
    assert.match(text, /worker-nodes, \d+ launching/, text);
  });

  it("stopping one worker leaves the other workers and the head running", async () => {
    await cluster!.stopWorker(W2);
    const s = await waitState(gcs, `${W2} dead`, (x) => byInstance(x, W2)?.status === "DEAD");
    assert.notEqual(byInstance(s, W1)!.status, "DEAD");
    assert.ok(cluster!.worker(W1)!.alive);
    assert.ok(cluster!.head.alive);
  });

  it("with the head down, calls fail at once with a clear error", async () => {
    const address = cluster!.gcsAddress;
    await cluster!.stop();
    assert.deepEqual(cluster!.liveProcesses(), [], "Ray processes left behind");
    cluster = undefined;
    const down = new GcsAutoscalerClient({ address, timeoutMs: 10_000 });
    try {
      const t0 = Date.now();
      const err = await down.getClusterResourceState().then(
        () => assert.fail("the call succeeded"),
        (e) => e,
      );
      assert.ok(err instanceof GcsError, String(err));
      assert.ok(err.unreachable);
      assert.ok(err.message.includes(address), err.message);
      assert.ok(Date.now() - t0 < 3000, `failed after ${Date.now() - t0} ms`);
    } finally {
      down.close();
    }
  });
});
