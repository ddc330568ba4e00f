// Autoscaling on the demand Ray reports, on the real node (issue 12): the operator in-cluster from its
// image (autoscaler period 2 s), RayClusters whose pods run Ray with their own command, demand put on
// Ray through the head's job API, and Ray's own view read from the head's GCS through the head
// Service (the same AutoscalerStateService the operator reads). These tests used to run the operator
// out of cluster against kwok pods, with a local Ray head and a bridge playing the kubelet; every one
// of them now runs on real pods, so none needs the bridge.
//
// Each test makes its own small cluster, and afterEach deletes it and waits for its pods to go: any
// test passes alone and in any order, and one that fails half-way does not starve the next of the
// node's 2 CPUs. A cluster is the seed's example-cluster renamed: a head with rayResources {CPU: 0}
// (tasks and actors that need a CPU go to workers), the worker type `worker-nodes` with
// {Custom1: 1, is_spot: 1}, 200m CPU requested per pod as the seed stack has it (Ray sees 1 CPU),
// memory limits 2Gi / 1Gi; never more than a head and 3 workers alive at once.
//
// "Nothing happened" is proven with the operator's own counters (pods created and deleted, autoscaler
// passes), which would have moved, never with a sleep.
import { strict as assert } from "assert";
import type { V1Pod } from "@kubernetes/client-node";
import { realNodeCluster } from "../support/cluster";
import { Clients, clientsFromFile, deleteNamespace, eventually, sleep, uniqueName } from "../helpers/kube";
import { edited, exampleCluster } from "../helpers/examples";
import { rayClusters } from "../helpers/operator-env";
import {
  clusterPods,
  getRayCluster,
  installOperatorInCluster,
  isReady,
  jobLine,
  metricSum,
  operatorLog,
  operatorMetrics,
  podProcesses,
  rayGcs,
  rayJobs,
  rayStatusNodes,
} from "../helpers/real-ray";
import { pythonEntrypoint, RayJobClient } from "../../scripts/ray-jobs";
import { GROUP, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import type { GcsAutoscalerClient, RayNodeState } from "../../operator/autoscaler/gcs-client";

const HEAD_TYPE = "head-node";
const TYPE = "worker-nodes";
const GiB = 2 ** 30;

const names = (pods: V1Pod[]) => pods.map((p) => p.metadata!.name!).sort();
const uids = (pods: V1Pod[]) => pods.map((p) => p.metadata!.uid!).sort();
const podReady = (p?: V1Pod) =>
  p?.status?.phase === "Running" && !!p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True");
const condition = (rc: RayCluster, type: string) => rc.status?.conditions?.find((x) => x.type === type);
const reachable = (rc: RayCluster) => condition(rc, "AutoscalerReachable")?.status;

/** The seed's example-cluster as `name`, scaled for one test; its pods are named after it. */
function smallCluster(name: string, ns: string, s: { min: number; max: number; idleTimeoutMinutes?: number }) {
  return edited(exampleCluster("example-cluster", ns), (r: RayCluster) => {
    r.metadata.name = name;
    r.spec.maxWorkers = s.max;
    r.spec.idleTimeoutMinutes = s.idleTimeoutMinutes ?? 5;
    for (const t of r.spec.podTypes) {
      delete t.podConfig.metadata?.generateName;
      if (t.name === HEAD_TYPE) t.rayResources = { CPU: 0 };
      if (t.name === TYPE) Object.assign(t, { minWorkers: s.min, maxWorkers: s.max });
    }
  });
}

/** Ray's live worker nodes (the head's type left out). */
const rayWorkers = (nodes: RayNodeState[]) => nodes.filter((n) => n.status !== "DEAD" && n.rayNodeTypeName === TYPE);

/**
 * The operator's "Cluster status" blocks for `cluster`, oldest first: each block's lines without the
 * `<cluster>:` prefix, the header's timestamp, level and component left out.
 */
function statusBlocks(log: string, cluster: string): string[][] {
  const blocks: string[][] = [];
  let block: string[] | undefined;
  for (const line of log.split("\n")) {
    if (!line.startsWith(`${cluster}:`)) {
      block = undefined;
      continue;
    }
    const rest = line.slice(cluster.length + 1);
    const header = /^\d{4}-\d\d-\d\d [\d:,]+ [A-Z]+ \S+ -- (.*)$/.exec(rest);
    if (header) {
      block = header[1].startsWith("Cluster status:") ? [header[1]] : undefined;
      if (block) blocks.push(block);
    } else block?.push(rest);
  }
  return blocks;
}

/** A Python program for the job API: `ray.init()` first, so it is a driver of the cluster. */
const program = (body: string) =>
  pythonEntrypoint(`import json, socket, time, ray\nray.init(namespace="autoscaling")\n${body.trim()}`);

describe("autoscaling on the demand Ray reports (integration: the real node, real Ray)", function () {
  this.timeout(600_000);
  let c: Clients;
  let ns: string;
  /** Closed after each test. */
  const gcsClients: GcsAutoscalerClient[] = [];
  /** Stopped after each test. */
  const monitors: Array<{ stop(): Promise<void> }> = [];

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node's binaries and images first
    const cluster = await realNodeCluster();
    c = clientsFromFile(cluster.kubeconfig);
    ns = uniqueName("autoscaling");
    await installOperatorInCluster(c, ns);
  });
  after(async () => {
    if (c) await deleteNamespace(c, ns, true);
  });
  afterEach(async function () {
    this.timeout(300_000);
    for (const m of monitors.splice(0)) await m.stop();
    for (const g of gcsClients.splice(0)) g.close();
    if (this.currentTest?.state === "failed") {
      const log = await operatorLog(c, ns).catch((e) => `(no operator log: ${e})`);
      console.error(`--- operator log (last 100 lines) ---\n${log.split("\n").slice(-100).join("\n")}`);
    }
    // Whatever a test left (it failed half-way), the next starts on an empty node.
    const list = { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL };
    const left = (await c.custom.listNamespacedCustomObject(list)) as { items: RayCluster[] };
    await Promise.all(left.items.map((rc) => remove(rc.metadata.name!)));
  });

  async function remove(name: string): Promise<void> {
    await rayClusters(c, ns)
      .delete(name)
      .catch(() => undefined);
    await eventually(
      `${name}'s pods gone`,
      async () => {
        const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `ray-cluster-name=${name}` });
        return pods.items.length === 0;
      },
      240_000,
      1000,
    );
  }

  async function gcsOf(cluster: string): Promise<GcsAutoscalerClient> {
    const g = await rayGcs(c, ns, cluster);
    gcsClients.push(g);
    return g;
  }

  /**
   * Waits until `cluster` has exactly `n` worker pods, every one Ready, and Ray's live worker nodes
   * are exactly those pods (by instance id = pod name).
   */
  async function workersInRay(cluster: string, gcs: GcsAutoscalerClient, n: number, what: string, timeoutMs = 300_000) {
    return eventually(
      what,
      async () => {
        const { workers } = await clusterPods(c, ns, cluster);
        if (workers.length !== n || !workers.every(podReady)) return undefined;
        const inRay = rayWorkers((await gcs.getClusterResourceState()).nodes)
          .map((x) => x.instanceId)
          .sort();
        return JSON.stringify(inRay) === JSON.stringify(names(workers)) ? workers : undefined;
      },
      timeoutMs,
      1000,
    );
  }

  /** Creates `rc` and waits until it is Ready with `workers` worker pods, each a live Ray node. */
  async function launch(rc: RayCluster, workers: number) {
    const name = rc.metadata.name!;
    await rayClusters(c, ns).create(rc);
    const head = await eventually(
      `${name} Ready, its head running Ray`,
      async () => {
        const pods = await clusterPods(c, ns, name);
        return isReady(await getRayCluster(c, ns, name)) && podReady(pods.head) ? pods.head : undefined;
      },
      300_000,
      1000,
    );
    const gcs = await gcsOf(name);
    const running = await workersInRay(name, gcs, workers, `${name}'s ${workers} worker(s) joined Ray`);
    return { head, workers: running, gcs, jobs: await rayJobs(c, ns, name) };
  }

  /** `ray.autoscaler.sdk.request_resources` of `n` {Custom1: 1} bundles (0: clear), through a job. */
  async function requestResources(jobs: RayJobClient, n: number): Promise<void> {
    const r = await jobs.run(
      program(`
from ray.autoscaler.sdk import request_resources
request_resources(bundles=[{"Custom1": 1}] * ${n})
print("REQUESTED", ${n})
`),
    );
    assert.equal(r.status, "SUCCEEDED", r.logs);
  }

  const metrics = () => operatorMetrics(c, ns);
  /** A metric of the operator, summed over the samples with these labels. */
  const counter = async (metric: string, labels: Record<string, string> = {}) =>
    metricSum(await metrics(), metric, labels);
  const passes = () => counter("ray_operator_autoscaler_decisions_total");
  /**
   * Waits until the operator has made `n` more autoscaler passes (of any outcome) than now. The
   * counter is the operator's, over all clusters: here that is the test's own, the only one alive.
   */
  async function morePasses(n: number, what: string): Promise<void> {
    const from = await passes();
    await eventually(`${n} more autoscaler passes ${what}`, async () => (await passes()) >= from + n, 120_000, 500);
  }

  /** Polls a cluster's worker pods until stopped: the most and the fewest alive at once. */
  function watchWorkers(cluster: string): { readonly max: number; readonly min: number } {
    let running = true;
    let max = 0;
    let min = Infinity;
    const loop = (async () => {
      while (running) {
        try {
          const n = (await clusterPods(c, ns, cluster)).workers.length;
          max = Math.max(max, n);
          min = Math.min(min, n);
        } catch {
          /* the next poll will do */
        }
        await sleep(300);
      }
    })();
    monitors.push({
      stop: async () => {
        running = false;
        await loop;
      },
    });
    return {
      get max() {
        return max;
      },
      get min() {
        return min;
      },
    };
  }

  it("a worker's Ray node joins with the pod's name, its type and the resources the pod gives it", async () => {
    const name = "as-join";
    const { head, workers, gcs, jobs } = await launch(smallCluster(name, ns, { min: 1, max: 1 }), 1);
    const [worker] = workers;
    const { nodes } = await gcs.getClusterResourceState();
    const node = nodes.find((n) => n.instanceId === worker.metadata!.name && n.status !== "DEAD");
    assert.ok(node, `no live Ray node with instance id ${worker.metadata!.name}: ${JSON.stringify(nodes)}`);
    assert.equal(node.rayNodeTypeName, TYPE);
    assert.equal(node.nodeIpAddress, worker.status!.podIP, "the Ray node runs in the pod, at its IP");
    // What the pod gives it: CPU from the request (200m, no limit; Ray counts whole CPUs, rounding
    // up), memory from the limit (1Gi), then the type's rayResources.
    const resources = worker.spec!.containers[0].resources!;
    const given = [resources.requests?.cpu, resources.limits?.cpu, resources.limits?.memory];
    assert.deepEqual(given, ["200m", undefined, "1Gi"]);
    const total = Object.fromEntries(["CPU", "memory", "Custom1", "is_spot"].map((k) => [k, node.totalResources[k]]));
    assert.deepEqual(total, { CPU: 1, memory: 1 * GiB, Custom1: 1, is_spot: 1 });
    // The head: its own name and type, no CPU (rayResources {CPU: 0}), memory from its 2Gi limit.
    const headNode = nodes.find((n) => n.instanceId === head.metadata!.name && n.status !== "DEAD");
    assert.ok(headNode, `no live Ray node for the head ${head.metadata!.name}`);
    assert.equal(headNode.rayNodeTypeName, HEAD_TYPE);
    assert.equal(headNode.totalResources.CPU ?? 0, 0);
    assert.equal(headNode.totalResources.memory, 2 * GiB);
    // `ray status -v` on the head says the same, by pod name.
    const listed = (await rayStatusNodes(jobs)).sort((a, b) => a.instance.localeCompare(b.instance));
    const expected = [
      { instance: head.metadata!.name!, type: HEAD_TYPE },
      { instance: worker.metadata!.name!, type: TYPE },
    ].sort((a, b) => a.instance.localeCompare(b.instance));
    assert.deepEqual(listed, expected);
    // The operator reads the same GCS: connected, and it wants the one worker there is.
    const rc = await eventually(
      "AutoscalerReachable=True and a decision in status",
      async () => {
        const rc = await getRayCluster(c, ns, name);
        return reachable(rc) === "True" && rc.status?.autoscaler?.targetWorkers ? rc : undefined;
      },
      60_000,
      1000,
    );
    assert.equal(condition(rc, "AutoscalerReachable")!.reason, "Connected");
    assert.equal(rc.status!.autoscaler!.targetWorkers![TYPE], 1);
  });

  it("request_resources(): scales up to the bundles, keeps them while requested, lets go once cleared", async () => {
    const name = "as-request";
    const idleMs = 15_000;
    const cluster = smallCluster(name, ns, { min: 1, max: 3, idleTimeoutMinutes: idleMs / 60_000 });
    const { workers: initial, gcs, jobs } = await launch(cluster, 1);
    const watch = watchWorkers(name);

    await requestResources(jobs, 3);
    const requested = (await gcs.getClusterResourceState()).clusterResourceConstraints.flat();
    assert.deepEqual(
      requested.map((r) => [r.request.resources, r.count]),
      [[{ Custom1: 1 }, 3]],
      "Ray's request",
    );
    const up = await workersInRay(name, gcs, 3, "3 workers in Ray for the 3 requested bundles");
    assert.ok(uids(up).includes(initial[0].metadata!.uid!), "the first worker is kept");
    assert.equal((await getRayCluster(c, ns, name)).status?.autoscaler?.targetWorkers?.[TYPE], 3);

    // Idle past idleTimeoutMinutes as Ray counts it, but requested: the operator decides again and
    // again with these idle times in hand, and keeps every one.
    const deletes = await counter("ray_operator_pod_actions_total", { action: "delete" });
    await eventually(
      `every worker idle in Ray for longer than ${idleMs} ms`,
      async () => {
        const idle = rayWorkers((await gcs.getClusterResourceState()).nodes);
        return idle.length === 3 && idle.every((n) => n.idleDurationMs > idleMs + 2000);
      },
      120_000,
      1000,
    );
    await morePasses(3, "with the requested workers idle past idleTimeoutMinutes");
    assert.deepEqual(uids((await clusterPods(c, ns, name)).workers), uids(up), "requested workers were removed");
    assert.equal(await counter("ray_operator_pod_actions_total", { action: "delete" }), deletes, "a pod was deleted");
    assert.equal(rayWorkers((await gcs.getClusterResourceState()).nodes).length, 3);

    // Cleared: idle and no longer requested, the two above minWorkers are drained and deleted.
    const upNodes = rayWorkers((await gcs.getClusterResourceState()).nodes);
    const nodeIds = new Map(upNodes.map((n) => [n.instanceId, n.nodeId]));
    const idleDeletes = await counter("ray_operator_pod_actions_total", { action: "delete", reason: "Idle" });
    await requestResources(jobs, 0);
    const down = await workersInRay(name, gcs, 1, "back to minWorkers (1) once the request is cleared");
    const removed = names(up).filter((n) => !names(down).includes(n));
    assert.equal(removed.length, 2);
    const log = await operatorLog(c, ns);
    for (const pod of removed) {
      const m = new RegExp(`^${name}:.*drained idle worker ${pod} \\(${TYPE}, idle (\\d+)s\\)`, "m").exec(log);
      assert.ok(m, `the operator logged draining ${pod}`);
      assert.ok(Number(m[1]) * 1000 >= idleMs, `${pod} drained after ${m[1]} s idle, under idleTimeoutMinutes`);
    }
    const now = await counter("ray_operator_pod_actions_total", { action: "delete", reason: "Idle" });
    assert.equal(now - idleDeletes, 2, "two pods deleted as idle");
    const events = await c.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${name}` });
    const deleted = events.items.filter((e) => e.reason === "DeletedPod").map((e) => e.message ?? "");
    for (const pod of removed) {
      const idle = deleted.some((m) => m.includes(pod) && m.endsWith(": Idle"));
      assert.ok(idle, `a DeletedPod event (Idle) for ${pod}: ${deleted}`);
    }
    // Ray says why each removed node died: drained by the autoscaler as idle, not killed with its pod.
    const died = await jobs.run(
      program(`
nodes = [
    {"id": n["NodeID"], "alive": n["Alive"], "reason": n.get("DeathReason"), "message": n.get("DeathReasonMessage")}
    for n in ray.nodes()
]
print("NODES", json.dumps(nodes))
`),
    );
    assert.equal(died.status, "SUCCEEDED", died.logs);
    type NodeInfo = { id: string; alive: boolean; reason: number; message: string };
    const rayNodes: NodeInfo[] = JSON.parse(/^NODES (.*)$/m.exec(died.logs)![1]);
    for (const pod of removed) {
      const n = rayNodes.find((x) => x.id === nodeIds.get(pod));
      assert.ok(n, `Ray still knows ${pod}'s node ${nodeIds.get(pod)}`);
      assert.equal(n.alive, false);
      assert.equal(n.reason, 4, `${pod}: death reason AUTOSCALER_DRAIN_IDLE (4), got ${n.reason} "${n.message}"`);
      assert.match(n.message, /idle/);
    }
    assert.ok(watch.max <= 3, `at most 3 workers at once, saw ${watch.max}`);
    assert.ok(watch.min >= 1, `never below minWorkers (1), saw ${watch.min}`);
  });

  it("keeps every pod while the head's GCS is frozen (AutoscalerReachable=False), scales once it answers", async () => {
    const name = "as-gcs";
    const { head, workers, gcs, jobs } = await launch(smallCluster(name, ns, { min: 1, max: 2 }), 1);
    const connected = async () => reachable(await getRayCluster(c, ns, name)) === "True";
    await eventually("AutoscalerReachable=True", connected, 60_000, 1000);
    const before = uids([head, ...workers]);
    const gcsServer = podProcesses(head.metadata!.uid!, "gcs_server");
    assert.equal(gcsServer.length, 1, "one gcs_server runs in the head's container");
    const m0 = await metrics();
    const actions0 = metricSum(m0, "ray_operator_pod_actions_total");
    const errors0 = metricSum(m0, "ray_operator_autoscaler_decisions_total", { outcome: "error" });

    // Frozen, not killed: the process and its port stay (the container and its readiness probe do
    // not notice), but nothing answers. Kept well under Ray's own 60 s after which raylets give up
    // on the GCS and exit.
    process.kill(gcsServer[0], "SIGSTOP");
    try {
      const rc = await eventually(
        "AutoscalerReachable=False",
        async () => {
          const rc = await getRayCluster(c, ns, name);
          return condition(rc, "AutoscalerReachable")?.status === "False" ? rc : undefined;
        },
        120_000,
        500,
      );
      const down = condition(rc, "AutoscalerReachable")!;
      assert.equal(down.reason, "ControlStoreUnreachable");
      const address = `${name}-ray-head.${ns}.svc:6379`.replace(/\./g, "\\.");
      assert.match(down.message, new RegExp(`cannot reach the GCS at ${address}: .*(DEADLINE_EXCEEDED|UNAVAILABLE)`));
      // Two failed passes (the second after the backoff) with nothing created or deleted.
      await eventually(
        "2 failed autoscaler passes",
        async () => {
          return (await counter("ray_operator_autoscaler_decisions_total", { outcome: "error" })) >= errors0 + 2;
        },
        120_000,
        500,
      );
      const m1 = await metrics();
      const actions = metricSum(m1, "ray_operator_pod_actions_total");
      assert.equal(actions, actions0, "a pod was created or deleted while the GCS was down");
      assert.equal(metricSum(m1, "ray_operator_autoscaler_unreachable_heads"), 1);
      const pods = await clusterPods(c, ns, name);
      assert.deepEqual(uids([pods.head!, ...pods.workers]), before, "the cluster's pods changed with the GCS down");
      const rcNow = await getRayCluster(c, ns, name);
      assert.equal(condition(rcNow, "AutoscalerReachable")?.status, "False");
      assert.equal(rcNow.status?.phase, "AutoscalingExceptionRecovery");
      assert.match(await operatorLog(c, ns), new RegExp(`^${name}:.*cannot reach the GCS at ${address}`, "m"));
    } finally {
      process.kill(gcsServer[0], "SIGCONT");
    }

    const rc = await eventually(
      "AutoscalerReachable=True again",
      async () => {
        const rc = await getRayCluster(c, ns, name);
        return condition(rc, "AutoscalerReachable")?.status === "True" ? rc : undefined;
      },
      180_000,
      1000,
    );
    assert.equal(condition(rc, "AutoscalerReachable")!.reason, "Connected");
    assert.match(await operatorLog(c, ns), new RegExp(`^${name}:.*GCS at .* reachable again`, "m"));
    const pods = await clusterPods(c, ns, name);
    assert.deepEqual(uids([pods.head!, ...pods.workers]), before);
    // Scaling resumes: a request for two bundles gets a second worker, the first one kept.
    await requestResources(jobs, 2);
    const up = await workersInRay(name, gcs, 2, "a second worker after the outage");
    assert.ok(uids(up).includes(workers[0].metadata!.uid!));
    const phase = async () => (await getRayCluster(c, ns, name)).status?.phase;
    await eventually("phase Running", async () => (await phase()) === "Running", 60_000, 1000);
  });

  it("never goes over maxWorkers for more demand than that; a shape no node type can hold is infeasible", async () => {
    const name = "as-max";
    const max = 3;
    const { gcs, jobs } = await launch(smallCluster(name, ns, { min: 1, max }), 1);
    const watch = watchWorkers(name);
    const created0 = await counter("ray_operator_pod_actions_total", { action: "create", kind: "worker" });
    // Six tasks that each hold a worker's one Custom1 until the test opens the gate (twice what
    // maxWorkers can run at once), and one that needs five Custom1, which no node type has (no CPU,
    // so that its shape is that one resource alone).
    const driver = await jobs.submit(
      program(`
@ray.remote(num_cpus=0)
class Gate:
    def __init__(self):
        self.opened = False
    def open(self):
        self.opened = True
    def is_open(self):
        return self.opened

@ray.remote(resources={"Custom1": 1})
def work(gate):
    while not ray.get(gate.is_open.remote()):
        time.sleep(0.5)
    return socket.gethostname()

@ray.remote(num_cpus=0, resources={"Custom1": 5})
def too_big():
    return 0

gate = Gate.options(name="gate").remote()
big = too_big.remote()
refs = [work.remote(gate) for _ in range(6)]
print("SUBMITTED", flush=True)
print("RAN_ON", json.dumps(ray.get(refs)), flush=True)
`),
    );
    await jobLine(jobs, driver, "SUBMITTED");
    const busy = await workersInRay(name, gcs, max, `${max} workers in Ray`);
    await eventually(
      "Custom1 tasks still waiting in Ray with 3 workers busy",
      async () => {
        const s = await gcs.getClusterResourceState();
        const waiting = s.pendingResourceRequests.filter((r) => r.request.resources.Custom1 === 1);
        return waiting.reduce((a, r) => a + r.count, 0) === 3;
      },
      120_000,
      1000,
    );
    // The operator sees that demand pass after pass and adds nothing.
    await morePasses(3, "with 3 tasks waiting and maxWorkers reached");
    const rc = await getRayCluster(c, ns, name);
    assert.equal(rc.status?.autoscaler?.targetWorkers?.[TYPE], max, "the target is capped at maxWorkers");
    assert.deepEqual(uids((await clusterPods(c, ns, name)).workers), uids(busy));
    const created = await counter("ray_operator_pod_actions_total", { action: "create", kind: "worker" });
    assert.equal(created - created0, max - 1, "worker pods created");
    // Infeasible: in status, in what Ray keeps of the operator's report (GetClusterStatus, what `ray
    // status` reads), and in `ray status` itself, which lists it among the pending demands (Ray 2.60
    // prints no infeasible section: autoscaler/v2/schema.py says so).
    assert.deepEqual(rc.status?.autoscaler?.infeasible, ["{'Custom1': 5.0}: 1 pending tasks/actors"]);
    const reported = (await gcs.getClusterStatus()).autoscalingState?.infeasibleResourceRequests ?? [];
    assert.deepEqual(
      reported.map((r) => ({ ...r.resourcesBundle })),
      [{ Custom1: 5 }],
    );
    const status = await jobs.run("ray status");
    assert.match(status.logs, /^Pending Demands:\n(?: .*\n)* \{'Custom1': 5\.0\}: 1\+ pending tasks\/actors$/m);

    // Open the gate: all six ran, on the three workers.
    const opened = await jobs.run(program(`ray.get(ray.get_actor("gate").open.remote())\nprint("OPENED")`));
    assert.equal(opened.status, "SUCCEEDED", opened.logs);
    const ranOn: string[] = JSON.parse(await jobLine(jobs, driver, "RAN_ON"));
    assert.equal(ranOn.length, 6);
    assert.deepEqual([...new Set(ranOn)].sort(), names(busy));
    assert.ok(watch.max <= max, `at most ${max} worker pods at once, saw ${watch.max}`);
    // The driver gone, so is its infeasible task, and the status line with it.
    await eventually(
      "status.autoscaler.infeasible empty again",
      async () => {
        return (await getRayCluster(c, ns, name)).status?.autoscaler?.infeasible?.length === 0;
      },
      120_000,
      1000,
    );
  });

  it("logs each decision as the seed's `<cluster>:` Cluster status block", async () => {
    const name = "as-log";
    const { gcs, jobs } = await launch(smallCluster(name, ns, { min: 1, max: 2 }), 1);
    await requestResources(jobs, 2);
    await workersInRay(name, gcs, 2, "a second worker for the requested bundles");
    await morePasses(2, "after the second worker joined");
    const blocks = statusBlocks(await operatorLog(c, ns), name);
    const shown = () => blocks.map((b) => b.join("\n")).join("\n\n");
    // The pass that asked for the second worker...
    const up = blocks.findIndex((b) => b.includes("Node requests: {'worker-nodes': 1}"));
    assert.ok(up >= 0, `no block asking for a worker-nodes node:\n${shown()}`);
    const expected = [
      /^Cluster status: 1 nodes$/,
      /^ - NodeIdleSeconds: Min=\d+ Mean=\d+ Max=\d+$/,
      /^ - ResourceUsage: .*0\.0\/1\.0 Custom1, .*GiB memory/,
      /^Worker node types:$/,
      /^ - worker-nodes: 1$/,
      /^Placement group demands: \[\]$/,
      /^Resource demands: \[\]$/,
      /^Requested resources \(request_resources\): \[\{'Custom1': 1\.0\} \* 2\]$/,
      // The requested bundles are covered by the node it asks for.
      /^Unfulfilled demands: \[\]$/,
      /^Node requests: \{'worker-nodes': 1\}$/,
    ];
    assert.equal(blocks[up].length, expected.length, blocks[up].join("\n"));
    expected.forEach((re, i) => assert.match(blocks[up][i], re, blocks[up].join("\n")));
    // ...and a later one with both workers and nothing more to ask for.
    const after = blocks.slice(up + 1).find((b) => b.includes(" - worker-nodes: 2") && b.includes("Node requests: {}"));
    assert.ok(after, `no later block with 2 worker-nodes and no request:\n${shown()}`);
    assert.equal(after[0], "Cluster status: 2 nodes");
  });
});
