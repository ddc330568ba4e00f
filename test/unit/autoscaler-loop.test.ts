// AutoscalerLoop with a fake GCS, the real controller and an in-memory API (test/helpers/
// fake-kube-api.ts): which clusters it asks Ray about and when, what it hands the reconciler, what
// the reconciler then does to pods, and what happens when the head's GCS cannot be reached. Passes
// are started by tick() and awaited through the report they end with: nothing waits on a clock.
import { strict as assert } from "assert";
import * as grpc from "@grpc/grpc-js";
import { LABELS, RayCluster } from "../../api/v1/types";
import { GcsApi } from "../../operator/autoscaler/autoscaler";
import {
  AutoscalingStateReport,
  ClusterResourceState,
  DrainNodeArgs,
  DrainNodeResult,
  GcsError,
  RayNodeState,
} from "../../operator/autoscaler/gcs-client";
import { AutoscalerLoop } from "../../operator/autoscaler/loop";
import { AutoscalerReport, RayClusterController } from "../../operator/controller/raycluster-controller";
import { EventRecorder } from "../../operator/kube/events";
import { OperatorMetrics } from "../../operator/server/metrics";
import { createLogger } from "../../operator/util/log";
import { edited, exampleCluster } from "../helpers/examples";
import { asKubeRest, FakeKubeApi } from "../helpers/fake-kube-api";

const NS = "ray";
const CLUSTERS = `/apis/cluster.ray.io/v1/namespaces/${NS}/rayclusters`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const KEY = `${NS}/example-cluster`;
const MIN = 60_000;
/** What Ray sees of one worker of the seed's worker-nodes type. */
const WORKER = { CPU: 1, memory: 2 ** 30, Custom1: 1, is_spot: 1 };

/** The controller, telling the test each report the loop hands it. */
class ReportingController extends RayClusterController {
  readonly handed: AutoscalerReport[] = [];
  private waiting: Array<() => void> = [];
  override report(key: string, report: AutoscalerReport): void {
    super.report(key, report);
    this.handed.push(report);
    for (const resolve of this.waiting.splice(0)) resolve();
  }
  /** Resolves at the next report, then once the pass that made it has returned. */
  async nextReport(): Promise<AutoscalerReport> {
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    // What is left of the pass after its report is promise callbacks, no I/O and no timer: all of
    // them run before the event loop's next check phase.
    await new Promise((resolve) => setImmediate(resolve));
    return this.handed[this.handed.length - 1];
  }
}

/** A head's GCS as the loop uses it: scripted state, recorded calls. */
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
  reads = 0;
  reports: AutoscalingStateReport[] = [];
  drains: DrainNodeArgs[] = [];
  closed = false;
  unreachable = false;
  onDrain?: (args: DrainNodeArgs) => void;
  constructor(readonly address: string) {}
  /** The last-seen versions the loop sent, one per read. */
  lastSeen: number[] = [];
  async getClusterResourceState(args: { lastSeenVersion: number }): Promise<ClusterResourceState> {
    this.reads++;
    this.lastSeen.push(args.lastSeenVersion);
    if (this.unreachable)
      throw new GcsError("GetClusterResourceState", this.address, grpc.status.UNAVAILABLE, "connect ECONNREFUSED");
    return structuredClone(this.state);
  }
  async reportAutoscalingState(report: AutoscalingStateReport): Promise<void> {
    this.reports.push(report);
  }
  async drainNode(args: DrainNodeArgs): Promise<DrainNodeResult> {
    this.onDrain?.(args);
    this.drains.push(args);
    return { accepted: true, rejectionReason: "" };
  }
  /** Channels dropped while the head could not be reached. */
  disconnects = 0;
  disconnect(): void {
    this.disconnects++;
  }
  close(): void {
    this.closed = true;
  }
}

function rayNode(instanceId: string, over: Partial<RayNodeState> = {}): RayNodeState {
  return {
    nodeId: instanceId.slice(-5),
    instanceId,
    rayNodeTypeName: "worker-nodes",
    instanceTypeName: "",
    nodeIpAddress: "10.0.0.2",
    status: "RUNNING",
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

interface Harness {
  api: FakeKubeApi;
  controller: ReportingController;
  loop: AutoscalerLoop;
  metrics: OperatorMetrics;
  /** The clients the loop connected, in order; `prepare` scripts each as it connects. */
  gcs: FakeGcs[];
  prepare: (gcs: FakeGcs) => void;
}

async function harness(intervalSeconds = 3600, now?: () => number): Promise<Harness> {
  const api = new FakeKubeApi();
  api.put("/api/v1/namespaces", {
    metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "baseline" } },
  });
  const log = createLogger("error", () => {});
  const metrics = new OperatorMetrics();
  const rest = asKubeRest(api);
  const events = new EventRecorder(rest, "ray-operator", "test", log);
  const controller = new ReportingController({
    rest,
    log,
    metrics,
    events,
    namespace: NS,
    workers: 1,
    autoscaling: true,
  });
  await controller.startInformers();
  await api.watching(3);
  // An hour between passes by default: a second tick starts a pass only where one is due at once.
  const h: Harness = { api, controller, metrics, gcs: [], prepare: () => {}, loop: undefined! };
  h.loop = new AutoscalerLoop({
    controller,
    log,
    metrics,
    intervalSeconds,
    now,
    connect: (address) => {
      const client = new FakeGcs(address);
      h.prepare(client);
      h.gcs.push(client);
      return client;
    },
  });
  return h;
}

const headNode = (name: string) =>
  rayNode(name, {
    rayNodeTypeName: "head-node",
    totalResources: { CPU: 1, "node:__internal_head__": 1 },
    availableResources: { CPU: 1 },
  });

const pods = (api: FakeKubeApi, kind?: string) =>
  api.list("api/v1/pods", NS).filter((p) => !kind || p.metadata.labels?.[LABELS.nodeType] === kind);
const clusterOf = (api: FakeKubeApi) =>
  api.list("apis/cluster.ray.io/v1/rayclusters", NS).find((o) => o.metadata.name === "example-cluster") as
    RayCluster | undefined;

/** The scheduler and the kubelet: the pod is bound, runs and is ready. */
function run(api: FakeKubeApi, name: string) {
  api.modify(`${PODS}/${name}`, (pod) => {
    pod.spec = { ...(pod.spec as object), nodeName: "node-1" };
    pod.status = {
      phase: "Running",
      conditions: [
        { type: "PodScheduled", status: "True" },
        { type: "Ready", status: "True" },
      ],
    };
  });
}

/** The seed's example-cluster (or a copy named `name`), its head and workers running, and a GCS that knows them. */
async function runningCluster(h: Harness, edit: (rc: RayCluster) => void = () => {}, name = "example-cluster") {
  const named = (rc: RayCluster) => {
    rc.metadata.name = name;
    edit(rc);
  };
  h.api.put(CLUSTERS, edited(exampleCluster("example-cluster", NS), named));
  await h.controller.reconcile(`${NS}/${name}`);
  for (const p of pods(h.api)) run(h.api, p.metadata.name);
  await h.controller.reconcile(`${NS}/${name}`);
  const head = pods(h.api, "head")[0].metadata.name;
  const workers = pods(h.api, "worker").map((p) => p.metadata.name);
  return { head, workers };
}

async function counter(metric: { get(): Promise<{ values: { labels: object; value: number }[] }> }, labels: object) {
  const found = (await metric.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels));
  return found?.value ?? 0;
}

describe("AutoscalerLoop, with a fake GCS", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    h.loop.stop();
    await h.controller.stop();
  });

  it("asks Ray nothing before the head runs, and asks its head's Service once it does", async () => {
    h.api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await h.controller.reconcile(KEY); // pods created, none running
    h.loop.tick();
    // A pass reads the GCS before its first await: had one started, the read would be counted.
    assert.equal(h.gcs.length, 1);
    assert.equal(h.gcs[0].reads, 0);

    run(h.api, pods(h.api, "head")[0].metadata.name);
    const reported = h.controller.nextReport();
    h.loop.tick();
    assert.equal(h.gcs[0].reads, 1);
    assert.equal(h.gcs[0].address, "example-cluster-ray-head.ray.svc:6379");
    await reported;
    // The next pass is an interval away: a tick now starts none.
    h.loop.tick();
    assert.equal(h.gcs[0].reads, 1);
  });

  it("turns pending tasks into worker pods: the reconciler creates what the loop's targets ask", async () => {
    const { head, workers } = await runningCluster(h);
    h.prepare = (gcs) => {
      gcs.state.nodes = [
        headNode(head),
        // Both workers busy with Custom1 work, and more of it waiting.
        ...workers.map((w) => rayNode(w, { availableResources: { ...WORKER, Custom1: 0 } })),
      ];
      gcs.state.pendingResourceRequests = [
        { request: { resources: { Custom1: 1 }, placementConstraints: [], labelSelectors: [] }, count: 5 },
      ];
    };
    const reported = h.controller.nextReport();
    h.loop.tick();
    const report = await reported;
    // maxWorkers is 3: one more worker, whatever the demand.
    assert.deepEqual(report.intent.targets, { "head-node": 0, "worker-nodes": 3 });
    assert.deepEqual(report.status?.nodeRequests, { "worker-nodes": 1 });
    assert.equal(report.unreachable, undefined);
    assert.equal(await counter(h.metrics.autoscalerNodesRequested, { type: "worker-nodes" }), 1);
    assert.equal(await counter(h.metrics.autoscalerDecisions, { outcome: "scale_up" }), 1);
    // What Ray is told: the request, so `ray status` shows it pending.
    const requested = h.gcs[0].reports[0].pendingInstanceRequests?.map((r) => [r.rayNodeTypeName, r.count]);
    assert.deepEqual(requested, [["worker-nodes", 1]]);

    await h.controller.reconcile(KEY);
    assert.equal(pods(h.api, "worker").length, 3);
    assert.equal(clusterOf(h.api)!.status?.autoscaler?.nodeRequests?.["worker-nodes"], 1);
  });

  it("removes an idle worker only once Ray drained it, with the drain written down first", async () => {
    const { head, workers } = await runningCluster(h);
    // Fewer workers wanted: with the autoscaler on, the reconciler alone removes none.
    h.api.modify(`${CLUSTERS}/example-cluster`, (o) => {
      (o as unknown as RayCluster).spec.podTypes[1].minWorkers = 1;
      o.metadata.generation = 2;
    });
    await h.controller.reconcile(KEY);
    assert.equal(h.api.count("DELETE", "pods"), 0, "no worker goes that Ray has not drained");

    const [idle, busy] = workers;
    let drainingWhenDrained: string[] | undefined;
    h.prepare = (gcs) => {
      gcs.state.nodes = [
        headNode(head),
        rayNode(idle, { status: "IDLE", idleDurationMs: 20 * MIN }),
        rayNode(busy, { availableResources: { ...WORKER, CPU: 0 } }),
      ];
      gcs.onDrain = () => (drainingWhenDrained = clusterOf(h.api)!.status?.autoscaler?.draining);
    };
    const reported = h.controller.nextReport();
    h.loop.tick();
    const report = await reported;
    const gcs = h.gcs[0];
    assert.deepEqual(
      gcs.drains.map((d) => [d.nodeId, d.reason]),
      [[idle.slice(-5), "IDLE_TERMINATION"]],
    );
    assert.deepEqual(drainingWhenDrained, [idle], "status named the worker before Ray was asked to drain it");
    assert.deepEqual(report.intent.drained, [idle]);
    assert.equal(await counter(h.metrics.autoscalerNodesRemoved, { type: "worker-nodes" }), 1);

    await h.controller.reconcile(KEY);
    const deleted = h.api.calls.filter((c) => c.method === "DELETE").map((c) => c.path.split("/").pop());
    assert.deepEqual(deleted, [idle], "exactly the drained worker");
    assert.deepEqual(
      pods(h.api, "worker").map((p) => p.metadata.name),
      [busy],
    );
  });

  it("keeps the cluster as it is when the GCS cannot be reached, says so, and waits before asking again", async () => {
    await h.controller.stop();
    h = await harness(0); // a pass due at every tick, but for the backoff
    await runningCluster(h);
    h.prepare = (gcs) => (gcs.unreachable = true);
    const reported = h.controller.nextReport();
    h.loop.tick();
    const report = await reported;
    const gcs = h.gcs[0];
    const address = "example-cluster-ray-head.ray.svc:6379";
    assert.match(report.unreachable ?? "", new RegExp(`^cannot reach the GCS at ${address}: .*UNAVAILABLE`));
    assert.deepEqual(report.intent, { targets: undefined }, "no target of its own, nothing drained");
    assert.equal(await counter(h.metrics.autoscalerDecisions, { outcome: "error" }), 1);

    assert.equal(gcs.disconnects, 1, "no channel held to a head it cannot reach");
    assert.equal(gcs.closed, false, "the cluster's client stays: the next pass reconnects");
    h.loop.tick();
    assert.equal(gcs.reads, 1, "backing off: no second read at once");
    assert.equal((await h.metrics.autoscalerUnreachable.get()).values[0].value, 1);

    const writes = () => h.api.calls.filter((c) => c.method !== "GET" && c.method !== "WATCH");
    const before = writes().length;
    await h.controller.reconcile(KEY);
    const reachable = clusterOf(h.api)!.status?.conditions?.find((c) => c.type === "AutoscalerReachable");
    assert.equal(reachable?.status, "False");
    assert.equal(reachable?.reason, "ControlStoreUnreachable");
    assert.deepEqual(
      writes()
        .slice(before)
        .map((c) => `${c.method} ${c.path}`),
      [`PATCH ${CLUSTERS}/example-cluster/status`],
      "one status write, no pod created or deleted",
    );
    assert.equal(h.api.count("DELETE", "pods"), 0);
  });

  it("closes the GCS client of a RayCluster that is deleted, and connects anew to one recreated", async () => {
    await runningCluster(h);
    const reported = h.controller.nextReport();
    h.loop.tick();
    await reported;
    assert.equal(h.gcs.length, 1);

    h.api.remove(`${CLUSTERS}/example-cluster`);
    h.loop.tick();
    assert.equal(h.gcs[0].closed, true);

    h.api.put(CLUSTERS, exampleCluster("example-cluster", NS)); // same name, a new UID
    h.loop.tick();
    assert.equal(h.gcs.length, 2, "a client for the new cluster");
    assert.equal(h.gcs[1].closed, false);
  });

  it("spreads the first passes of clusters met at once over one period; one met alone is asked at once", async () => {
    let clock = 1_000_000;
    const timed = await harness(4, () => clock);
    try {
      for (const name of ["c-0", "c-1", "c-2", "c-3"]) await runningCluster(timed, undefined, name);
      const reads = () => timed.gcs.reduce((sum, gcs) => sum + gcs.reads, 0);
      const settled = async (passes: number) => {
        while (timed.controller.handed.length < passes) await new Promise((resolve) => setImmediate(resolve));
      };
      // Four clusters met in one tick: due at 0, 1, 2 and 3 s of the 4 s period.
      timed.loop.tick();
      assert.equal(timed.gcs.length, 4);
      assert.equal(reads(), 1);
      await settled(1);
      clock += 999;
      timed.loop.tick();
      assert.equal(reads(), 1);
      clock += 1;
      timed.loop.tick();
      assert.equal(reads(), 2);
      await settled(2);
      clock += 2000;
      timed.loop.tick();
      assert.equal(reads(), 4);
      await settled(4);
      // Each then keeps its own place in the period: the first again at 4 s, not with the others.
      clock = 1_000_000 + 4000;
      timed.loop.tick();
      assert.equal(reads(), 5);
      await settled(5);

      // A RayCluster created later, met on its own: its first pass at once.
      await runningCluster(timed, undefined, "c-4");
      timed.loop.tick();
      assert.equal(timed.gcs.length, 5);
      assert.equal(timed.gcs[4].reads, 1);
      await settled(6);
    } finally {
      timed.loop.stop();
      await timed.controller.stop();
    }
  });

  it("starts afresh against a new head: a new client, and never a version the new GCS has not reached", async () => {
    // Ray's GCS aborts on a read whose last-seen version is above its own (a RAY_CHECK): a new head
    // counts from 0 again, behind the same Service. Every replacement head died of it on the real node.
    const fast = await harness(0.001);
    try {
      const { head } = await runningCluster(fast);
      fast.prepare = (gcs) => (gcs.state.version = 57);
      let reported = fast.controller.nextReport();
      fast.loop.tick();
      await reported;
      assert.deepEqual(fast.gcs[0].lastSeen, [0]);

      fast.api.remove(`${PODS}/${head}`);
      await fast.controller.reconcile(KEY); // the old workers go first
      await fast.controller.reconcile(KEY); // then a new head and workers
      for (const p of pods(fast.api)) run(fast.api, p.metadata.name);
      const newHead = pods(fast.api, "head")[0].metadata.name;
      assert.notEqual(newHead, head);
      fast.prepare = (gcs) => (gcs.state.version = 1);
      reported = fast.controller.nextReport();
      await new Promise((resolve) => setTimeout(resolve, 5)); // past the 1 ms interval
      fast.loop.tick();
      await reported;
      assert.equal(fast.gcs[0].closed, true, "the old head's client closed");
      assert.equal(fast.gcs.length, 2, "a client for the new head");
      assert.deepEqual(fast.gcs[1].lastSeen, [0]);
    } finally {
      fast.loop.stop();
      await fast.controller.stop();
    }
  });
});
