// One autoscaler pass (ClusterAutoscaler.step) against a scripted GCS: what it asks Ray, what it tells
// Ray, and what it hands the operator to do with pods.
import { strict as assert } from "assert";
import * as grpc from "@grpc/grpc-js";
import { AutoscalingSpec, ClusterAutoscaler, GcsApi, WorkerPod } from "../../operator/autoscaler/autoscaler";
import {
  AutoscalingStateReport,
  ClusterResourceState,
  DrainNodeArgs,
  GcsError,
  RayNodeState,
} from "../../operator/autoscaler/gcs-client";

const MIN = 60_000;
const WORKER = { CPU: 1, Custom1: 1, is_spot: 1 };

const spec: AutoscalingSpec = {
  types: [
    { name: "head-node", resources: { CPU: 1 }, minWorkers: 0, maxWorkers: 0 },
    { name: "worker-nodes", resources: WORKER, minWorkers: 1, maxWorkers: 5 },
  ],
  headType: "head-node",
  maxWorkers: 5,
  upscalingSpeed: 1,
  idleTimeoutMs: 5 * MIN,
};

function rayNode(over: Partial<RayNodeState>): RayNodeState {
  return {
    nodeId: "00",
    instanceId: "",
    rayNodeTypeName: "worker-nodes",
    instanceTypeName: "",
    nodeIpAddress: "10.0.0.2",
    status: "IDLE",
    totalResources: WORKER,
    availableResources: WORKER,
    idleDurationMs: 0,
    nodeActivity: [],
    labels: {},
    dynamicLabels: {},
    nodeStateVersion: 1,
    ...over,
  };
}

const headNode = rayNode({
  nodeId: "0a",
  instanceId: "c-ray-head-x",
  rayNodeTypeName: "head-node",
  totalResources: { CPU: 1, "node:__internal_head__": 1 },
  availableResources: { CPU: 0 },
  status: "RUNNING",
});

class FakeGcs implements GcsApi {
  state: ClusterResourceState = {
    version: 1,
    lastSeenAutoscalerStateVersion: 0,
    sessionName: "s",
    nodes: [],
    pendingResourceRequests: [],
    pendingGangResourceRequests: [],
    clusterResourceConstraints: [],
  };
  reports: AutoscalingStateReport[] = [];
  drains: DrainNodeArgs[] = [];
  fail?: GcsError;
  refuse = new Set<string>();

  async getClusterResourceState() {
    if (this.fail) throw this.fail;
    return this.state;
  }
  async reportAutoscalingState(r: AutoscalingStateReport) {
    this.reports.push(r);
  }
  async drainNode(a: DrainNodeArgs) {
    this.drains.push(a);
    const id = String(a.nodeId);
    return this.refuse.has(id)
      ? { accepted: false, rejectionReason: "The node to be idle terminated is no longer idle." }
      : { accepted: true, rejectionReason: "" };
  }
}

describe("autoscaler pass (ClusterAutoscaler.step)", () => {
  it("pending demand: creates pods for it, counting pods that exist but are not in Ray yet", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [
      headNode,
      rayNode({
        nodeId: "01",
        instanceId: "c-ray-worker-a",
        availableResources: { CPU: 1, Custom1: 0, is_spot: 1 },
        status: "RUNNING",
      }),
    ];
    gcs.state.pendingResourceRequests = [
      { request: { resources: { Custom1: 1 }, placementConstraints: [], labelSelectors: [] }, count: 3 },
    ];
    const pods: WorkerPod[] = [
      { name: "c-ray-worker-a", type: "worker-nodes" },
      { name: "c-ray-worker-new", type: "worker-nodes" },
    ];
    const a = new ClusterAutoscaler({ gcs, now: () => 1_000_000 });
    const r = await a.step(spec, pods);
    assert.ok(r.ok);
    // 3 waiting; the pod not yet in Ray will take one: 2 more.
    assert.deepEqual(r.create, { "worker-nodes": 2 });
    assert.deepEqual(r.delete, []);
    assert.deepEqual(r.input.pendingLaunches, { "worker-nodes": 1 });
    assert.ok(r.statusLines.includes("Node requests: {'worker-nodes': 2}"), r.statusLines.join("\n"));
    // What Ray is told.
    const rep = gcs.reports[0];
    assert.equal(rep.lastSeenClusterResourceStateVersion, 1);
    assert.deepEqual(rep.pendingInstanceRequests, [
      { rayNodeTypeName: "worker-nodes", count: 2, requestTsMs: 1_000_000 },
    ]);
    assert.deepEqual(
      rep.pendingInstances?.map((p) => p.instanceId),
      ["c-ray-worker-new"],
    );
    // Versions only go up.
    await a.step(spec, pods);
    assert.ok(gcs.reports[1].autoscalerStateVersion > rep.autoscalerStateVersion);
  });

  it("idle workers: drains them in Ray first, deletes only those Ray let go", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [
      headNode,
      rayNode({ nodeId: "01", instanceId: "c-ray-worker-a", idleDurationMs: 1 * MIN }),
      rayNode({ nodeId: "02", instanceId: "c-ray-worker-b", idleDurationMs: 20 * MIN }),
      rayNode({ nodeId: "03", instanceId: "c-ray-worker-c", idleDurationMs: 10 * MIN }),
    ];
    gcs.refuse.add("03");
    const pods = ["a", "b", "c"].map((x) => ({ name: `c-ray-worker-${x}`, type: "worker-nodes" }));
    const r = await new ClusterAutoscaler({ gcs }).step(spec, pods);
    assert.ok(r.ok);
    assert.deepEqual(
      gcs.drains.map((d) => [d.nodeId, d.reason]),
      [
        ["02", "IDLE_TERMINATION"],
        ["03", "IDLE_TERMINATION"],
      ],
    );
    assert.match(gcs.drains[0].message, /idle for 1200 s/);
    assert.deepEqual(
      r.delete.map((x) => x.instanceId),
      ["c-ray-worker-b"],
    );
    assert.deepEqual(
      r.drainRejected.map((x) => [x.removal.instanceId, x.reason]),
      [["c-ray-worker-c", "The node to be idle terminated is no longer idle."]],
    );
  });

  it("Ray nodes whose pod is gone are neither capacity nor removed", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [headNode, rayNode({ nodeId: "09", instanceId: "c-ray-worker-gone", idleDurationMs: 60 * MIN })];
    gcs.state.pendingResourceRequests = [
      { request: { resources: { Custom1: 1 }, placementConstraints: [], labelSelectors: [] }, count: 1 },
    ];
    const r = await new ClusterAutoscaler({ gcs }).step(
      { ...spec, types: [spec.types[0], { ...spec.types[1], minWorkers: 0 }] },
      [],
    );
    assert.ok(r.ok);
    assert.deepEqual(r.create, { "worker-nodes": 1 });
    assert.deepEqual(gcs.drains, []);
  });

  it("GCS unreachable: changes nothing, backs off exponentially, recovers", async () => {
    const gcs = new FakeGcs();
    gcs.fail = new GcsError("GetClusterResourceState", "h:6379", grpc.status.UNAVAILABLE, "connect ECONNREFUSED");
    const a = new ClusterAutoscaler({ gcs, backoffBaseMs: 1000, backoffMaxMs: 5000 });
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await a.step(spec, [{ name: "p", type: "worker-nodes" }]);
      assert.equal(r.ok, false);
      if (!r.ok) {
        waits.push(r.retryInMs);
        assert.equal(r.consecutiveFailures, i + 1);
        assert.match(r.error.message, /UNAVAILABLE/);
      }
    }
    assert.deepEqual(waits, [1000, 2000, 4000, 5000, 5000]);
    assert.deepEqual(gcs.reports, []);
    assert.deepEqual(gcs.drains, []);
    gcs.fail = undefined;
    gcs.state.nodes = [headNode, rayNode({ nodeId: "01", instanceId: "p" })];
    const ok = await a.step(spec, [{ name: "p", type: "worker-nodes" }]);
    assert.ok(ok.ok);
    assert.equal(a.consecutiveFailures, 0);
  });

  it("reports infeasible demand to Ray and lists it for the RayCluster status", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [headNode, rayNode({ nodeId: "01", instanceId: "p" })];
    gcs.state.pendingResourceRequests = [
      { request: { resources: { GPU: 8 }, placementConstraints: [], labelSelectors: [] }, count: 2 },
    ];
    const r = await new ClusterAutoscaler({ gcs }).step(spec, [{ name: "p", type: "worker-nodes" }]);
    assert.ok(r.ok);
    assert.deepEqual(r.infeasible, ["{'GPU': 8.0}: 2 pending tasks/actors"]);
    assert.deepEqual(gcs.reports[0].infeasibleResourceRequests, [{ GPU: 8 }]);
    assert.deepEqual(r.create, {});
  });

  it("writes down what it will drain, and the targets without it, before it asks Ray to drain", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [
      headNode,
      rayNode({ nodeId: "01", instanceId: "w-a" }),
      rayNode({ nodeId: "02", instanceId: "w-b", idleDurationMs: 20 * MIN }),
    ];
    const order: string[] = [];
    const drain = gcs.drainNode.bind(gcs);
    gcs.drainNode = async (a: DrainNodeArgs) => {
      order.push(`drain ${a.nodeId}`);
      return drain(a);
    };
    const pods = ["w-a", "w-b"].map((name) => ({ name, type: "worker-nodes" }));
    const r = await new ClusterAutoscaler({ gcs }).step(spec, pods, {
      persist: async (draining, targets) => {
        order.push(`persist ${draining.join(",")} ${JSON.stringify(targets)}`);
      },
    });
    assert.ok(r.ok);
    assert.deepEqual(order, ['persist w-b {"head-node":0,"worker-nodes":1}', "drain 02"]);
    assert.deepEqual(
      r.delete.map((x) => x.instanceId),
      ["w-b"],
    );
  });

  it("drains nothing when what it will drain cannot be written down", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [
      headNode,
      rayNode({ nodeId: "01", instanceId: "w-a" }),
      rayNode({ nodeId: "02", instanceId: "w-b", idleDurationMs: 20 * MIN }),
    ];
    const pods = ["w-a", "w-b"].map((name) => ({ name, type: "worker-nodes" }));
    const r = await new ClusterAutoscaler({ gcs }).step(spec, pods, {
      persist: async () => {
        throw new Error("HTTP 500");
      },
    });
    assert.ok(r.ok);
    assert.deepEqual(gcs.drains, []);
    assert.deepEqual(r.delete, []);
    assert.match(r.drainRejected[0].reason, /could not record the drain before asking Ray: HTTP 500/);
  });

  it("after restart, a worker an earlier pass drained goes once Ray shows it drained; one Ray runs stays", async () => {
    const gcs = new FakeGcs();
    gcs.state.nodes = [
      headNode,
      rayNode({ nodeId: "01", instanceId: "w-drained", status: "DRAINING" }),
      rayNode({ nodeId: "02", instanceId: "w-dead", status: "DEAD" }),
      rayNode({
        nodeId: "03",
        instanceId: "w-busy",
        status: "RUNNING",
        availableResources: { CPU: 0, Custom1: 0, is_spot: 1 },
      }),
    ];
    const pods = ["w-drained", "w-dead", "w-busy", "w-never-a-node"].map((name) => ({
      name,
      type: "worker-nodes",
      terminating: name !== "w-busy",
    }));
    const r = await new ClusterAutoscaler({ gcs }).step(spec, pods, {
      previous: ["w-drained", "w-dead", "w-busy", "w-never-a-node"],
    });
    assert.ok(r.ok);
    assert.deepEqual(r.drainedBefore, ["w-drained", "w-dead", "w-never-a-node"]);
    assert.deepEqual(gcs.drains, [], "nothing is drained twice, and a busy node is not drained");
  });
});
