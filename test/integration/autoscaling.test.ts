// Autoscaling on the demand that Ray reports, tested against real Ray (issue 5): the compiled operator
// process under its ServiceAccount, the real control plane (kwok nodes: pods reach Running, no
// container runs) and the pinned `ray` from PyPI. A real Ray head runs locally (`--no-monitor`: the
// operator is the autoscaler) with the head pod's name and environment; the operator reaches its GCS
// through RAY_GCS_ADDRESS_OVERRIDES; the pod-Ray bridge plays the kubelet, turning each Running
// worker pod into a real Ray worker node with the pod's name, type and RAY_OVERRIDE_RESOURCES, and
// stopping exactly that node when the pod goes. Python drivers put real demand on Ray.
//
// The cluster is the seed's example-cluster (worker type `worker-nodes`, {Custom1: 1, is_spot: 1},
// maxWorkers 3, global maxWorkers 3), made quick: minWorkers 1 and idleTimeoutMinutes 0.25 (15 s).
// The tests run in order, each starting from where the previous one left the cluster.
import { strict as assert } from "assert";
import type { V1Pod } from "@kubernetes/client-node";
import { testCluster } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, clientsFromFile, deleteNamespace, eventually, sleep, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { edited, simulatedCluster } from "../helpers/examples";
import { LABELS } from "../../api/v1/types";
import { GcsAutoscalerClient, ClusterResourceState } from "../../operator/autoscaler/gcs-client";
import { freePorts, LocalRayCluster, rayVenv } from "../support/ray";
import { PodRayBridge } from "../support/pod-ray-bridge";

const CLUSTER = "example-cluster";
const TYPE = "worker-nodes";
const MIN = 1;
const MAX = 3;
const IDLE_TIMEOUT_MS = 15_000;

/** The seed's example-cluster, scaled for a quick test. */
function testRayCluster(ns: string) {
  return edited(simulatedCluster(CLUSTER, ns), (r) => {
    r.spec.idleTimeoutMinutes = IDLE_TIMEOUT_MS / 60_000;
    const w = r.spec.podTypes.find((t: any) => t.name === TYPE);
    w.minWorkers = MIN;
    w.maxWorkers = MAX;
    r.spec.maxWorkers = MAX;
  });
}

const live = (pods: V1Pod[]) => pods.filter((p) => !p.metadata!.deletionTimestamp);
const names = (pods: V1Pod[]) => pods.map((p) => p.metadata!.name!).sort();
const uidsOf = (pods: V1Pod[]) => pods.map((p) => p.metadata!.uid!).sort();

/**
 * Watches the worker pods for the whole file (every 250 ms): the most ever present at once, the
 * fewest once the cluster first reached minWorkers, and every pod seen and seen to go.
 */
class PodMonitor {
  max = 0;
  minAfterReady = Infinity;
  private reachedMin = false;
  readonly seen = new Map<string, string>(); // uid -> name
  readonly gone = new Map<string, { name: string; at: number }>();
  private passes = 0;
  private running = false;
  private loop?: Promise<void>;
  constructor(
    private readonly c: Clients,
    private readonly ns: string,
  ) {}
  start(): this {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        try {
          const pods = live(await workerPodsAll(this.c, this.ns));
          const now = new Set(uidsOf(pods));
          for (const p of pods) this.seen.set(p.metadata!.uid!, p.metadata!.name!);
          for (const [uid, name] of this.seen) if (!now.has(uid) && !this.gone.has(uid)) this.gone.set(uid, { name, at: Date.now() });
          this.max = Math.max(this.max, pods.length);
          this.passes++;
          if (pods.length >= MIN) this.reachedMin = true;
          if (this.reachedMin) this.minAfterReady = Math.min(this.minAfterReady, pods.length);
        } catch {
          /* the next pass will do */
        }
        await sleep(250);
      }
    })();
    return this;
  }
  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }
  /** Names of the pods among `uids` that were seen to go. */
  goneOf(uids: string[]): string[] {
    return uids.filter((u) => this.gone.has(u)).map((u) => this.gone.get(u)!.name);
  }
  /** Resolves once a whole pass has run after this call (so it has seen everything up to now). */
  async nextPass(): Promise<void> {
    const target = this.passes + 2;
    while (this.running && this.passes < target) await sleep(50);
  }
}

async function workerPodsAll(c: Clients, ns: string): Promise<V1Pod[]> {
  const list = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=${CLUSTER},${LABELS.nodeType}=worker` });
  return list.items;
}

const cond = (rc: any, type: string) => rc?.status?.conditions?.find((x: any) => x.type === type);
const desiredOf = (rc: any) => rc?.status?.podTypes?.find((t: any) => t.name === TYPE)?.desired;

/** Lines of a driver's output starting with `marker `, parsed as JSON. */
function driverJson(output: string, marker: string): any {
  const line = output.split("\n").find((l) => l.startsWith(`${marker} `));
  if (!line) throw new Error(`no "${marker}" line in:\n${output.slice(-3000)}`);
  return JSON.parse(line.slice(marker.length + 1));
}

/**
 * A driver whose `n` tasks (each {Custom1: 1}, and Ray's default 1 CPU) return only once all of them
 * run at the same time (a barrier actor pinned to the head): they finish only if the cluster holds n
 * worker-nodes at once. Prints RAN_ON [node ids].
 */
function togetherScript(n: number): string {
  return `
import json

@ray.remote(num_cpus=0, resources={"node:__internal_head__": 0.001})
class Barrier:
    def __init__(self):
        self.n = 0
    def arrive(self):
        self.n += 1
    def count(self):
        return self.n

@ray.remote(resources={"Custom1": 1})
def together(barrier, n):
    ray.get(barrier.arrive.remote())
    deadline = time.time() + 240
    while ray.get(barrier.count.remote()) < n:
        if time.time() > deadline:
            raise RuntimeError("the tasks never ran at the same time")
        time.sleep(0.2)
    time.sleep(1)
    return ray.get_runtime_context().get_node_id()

barrier = Barrier.remote()
refs = [together.remote(barrier, ${n}) for _ in range(${n})]
print("SUBMITTED", flush=True)
print("RAN_ON " + json.dumps(ray.get(refs)), flush=True)
`;
}

describe("autoscaling on the demand Ray reports (integration: the operator process, real API server, real Ray)", function () {
  this.timeout(240_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let op: OperatorProcess | undefined;
  let ray: LocalRayCluster | undefined;
  let bridge: PodRayBridge | undefined;
  let monitor: PodMonitor | undefined;
  let gcs: GcsAutoscalerClient | undefined;
  let gcsPort: number;
  const rcs = () => rayClusters(c, ns);
  const workerPods = async () => live(await workerPodsAll(c, ns));
  const getRc = () => rcs().get(CLUSTER);

  /** Ray's view: live worker nodes by instance id (pod name). */
  const rayWorkers = async (s?: ClusterResourceState) => {
    const state = s ?? (await gcs!.getClusterResourceState());
    return state.nodes.filter((n) => n.status !== "DEAD" && !("node:__internal_head__" in n.totalResources)).map((n) => n.instanceId).sort();
  };

  /** What Ray and the operator say, for failure messages: each node's status, idle time and activity; status.autoscaler. */
  const rayView = async () => {
    const s = await gcs!.getClusterResourceState();
    const nodes = s.nodes.filter((n) => n.status !== "DEAD").map((n) => `  ${n.instanceId} ${n.status} idle ${n.idleDurationMs} ms, activity ${JSON.stringify(n.nodeActivity)}`);
    const rc = await getRc();
    return `Ray's nodes (GetClusterResourceState):\n${nodes.join("\n")}\nstatus.autoscaler: ${JSON.stringify(rc.status?.autoscaler)}`;
  };

  /** Waits until exactly `n` worker pods exist, and each has its Ray node up in the GCS. */
  const settledAt = (n: number, what: string, timeoutMs = 90_000) =>
    eventually(
      what,
      async () => {
        const pods = await workerPods();
        if (pods.length !== n || !pods.every((p) => p.status?.phase === "Running")) return undefined;
        const inRay = await rayWorkers();
        return names(pods).every((p) => inRay.includes(p)) ? pods : undefined;
      },
      timeoutMs,
      300,
    );

  before(async function () {
    this.timeout(1_800_000); // first run: the control plane and Ray toolchains
    rayVenv();
    const tc = await testCluster();
    c = clientsFromFile(tc.kubeconfig);
    ns = uniqueName("ray-as");
    kubeconfig = await operatorNamespace(c, ns);
    [gcsPort] = await freePorts(1);
    op = await new OperatorProcess(kubeconfig, {
      RAY_OPERATOR_POD_NAMESPACE: ns,
      OPERATOR_NAMESPACE: ns,
      POD_NAME: uniqueName("op"),
      AUTOSCALER_INTERVAL_SECONDS: "1",
      RAY_GCS_ADDRESS_OVERRIDES: `${ns}/${CLUSTER}=127.0.0.1:${gcsPort}`,
    }).start();
    await eventually("the operator to be ready", async () => op!.running() && (await op!.get("/readyz").catch(() => ({ status: 0 }))).status === 200, 120_000);
    await rcs().create(testRayCluster(ns));
    // The head pod the operator creates; the local Ray head takes its name and its Ray environment.
    const head = await eventually(
      "the head pod Running",
      async () => {
        const list = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=${CLUSTER},${LABELS.nodeType}=head` });
        return list.items.find((p) => p.status?.phase === "Running" && !p.metadata!.deletionTimestamp);
      },
      60_000,
    );
    const env = Object.fromEntries((head.spec!.containers[0].env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]));
    assert.equal(env.RAY_enable_autoscaler_v2, "1", "the head pod runs Ray's v2 autoscaler protocol");
    assert.equal(env.RAY_NODE_TYPE_NAME, "head-node");
    const headResources = JSON.parse(env.RAY_OVERRIDE_RESOURCES);
    ray = await LocalRayCluster.start({
      gcsPort,
      head: {
        instanceId: head.metadata!.name!,
        nodeTypeName: env.RAY_NODE_TYPE_NAME,
        numCpus: headResources.CPU ?? 1,
        env: { RAY_OVERRIDE_RESOURCES: env.RAY_OVERRIDE_RESOURCES, RAY_enable_autoscaler_v2: env.RAY_enable_autoscaler_v2 },
      },
    });
    gcs = new GcsAutoscalerClient({ address: ray.gcsAddress });
    bridge = new PodRayBridge({ clients: c, namespace: ns, cluster: CLUSTER, ray }).start();
    monitor = new PodMonitor(c, ns).start();
  });

  after(async function () {
    this.timeout(180_000);
    await monitor?.stop();
    await bridge?.stop();
    gcs?.close();
    await op?.stop();
    if (ray) {
      await ray.stop();
      assert.deepEqual(ray.liveProcesses(), [], "Ray processes left behind");
    }
    if (c) await deleteNamespace(c, ns);
  });

  afterEach(function () {
    if (this.currentTest?.state === "failed" && op) {
      require("fs").writeFileSync("/tmp/autoscaling-operator.log", op.logs());
      require("fs").writeFileSync("/tmp/autoscaling-bridge.log", bridge?.logs() ?? "");
      console.error(`--- operator log (last 80 lines; all in /tmp/autoscaling-operator.log) ---\n${op.logs().split("\n").slice(-80).join("\n")}`);
      if (ray) console.error(`--- ray status ---\n${ray.rayStatus()}`);
    }
  });

  it("starts at minWorkers: one worker pod, whose Ray node joins the head with the pod's name, type and resources", async () => {
    const [pod] = await settledAt(MIN, `${MIN} worker pod with its Ray node`);
    const s = await gcs!.getClusterResourceState();
    const node = s.nodes.find((n) => n.instanceId === pod.metadata!.name)!;
    assert.equal(node.rayNodeTypeName, TYPE);
    const total = Object.fromEntries(["CPU", "memory", "Custom1", "is_spot"].map((k) => [k, node.totalResources[k]]));
    assert.deepEqual(total, { CPU: 1, memory: 512 * 2 ** 20, Custom1: 1, is_spot: 1 });
    const head = s.nodes.find((n) => "node:__internal_head__" in n.totalResources)!;
    assert.match(head.instanceId, new RegExp(`^${CLUSTER}-ray-head-[a-z0-9]{5}$`));
    const rc = await eventually("AutoscalerReachable=True and a decision in status", async () => {
      const rc = await getRc();
      return cond(rc, "AutoscalerReachable")?.status === "True" && rc.status?.autoscaler?.targetWorkers ? rc : undefined;
    });
    assert.equal(cond(rc, "AutoscalerReachable").reason, "Connected");
    assert.equal(rc.status.autoscaler.targetWorkers[TYPE], MIN);
    assert.equal(desiredOf(rc), MIN);
    await eventually("phase Running", async () => (await getRc()).status?.phase === "Running");
  });

  it("honours request_resources(): scales to cover the bundles and keeps them while requested; clearing it lets them go", async () => {
    const before = names(await workerPods());
    let d = ray!.startDriver(`
from ray.autoscaler.sdk import request_resources
request_resources(bundles=[{"Custom1": 1}] * 3)
print("REQUESTED", flush=True)
`);
    await d.waitFor("REQUESTED");
    await eventually("the constraint in the GCS", async () => (await gcs!.getClusterResourceState()).clusterResourceConstraints.length > 0, 30_000);
    const pods = await settledAt(3, "3 worker pods for the requested bundles");
    for (const b of before) assert.ok(names(pods).includes(b));
    const rc = await getRc();
    assert.equal(rc.status.autoscaler.targetWorkers[TYPE], 3);
    // Idle for longer than idleTimeoutMinutes, but requested: kept.
    await sleep(IDLE_TIMEOUT_MS + 8_000);
    assert.deepEqual(uidsOf(await workerPods()), uidsOf(pods), "requested workers were removed while idle");
    assert.deepEqual(monitor!.goneOf(uidsOf(pods)), [], "a requested worker pod went and came back");
    // Cleared: they are idle and unrequested, and go.
    d = ray!.startDriver(`
from ray.autoscaler.sdk import request_resources
request_resources(bundles=[])
print("CLEARED", flush=True)
`);
    await d.waitFor("CLEARED");
    const after = await settledAt(MIN, `back to ${MIN} worker once the request is cleared`, 90_000);
    assert.equal(after.length, MIN);
    assert.ok(monitor!.max <= MAX);
    assert.ok(monitor!.minAfterReady >= MIN);
  });

  it("keeps every pod while the head's GCS does not answer (AutoscalerReachable=False), and scales again once it does", async () => {
    const before = await workerPods();
    await monitor!.nextPass();
    const seenBefore = new Set(monitor!.seen.keys());
    const t0 = Date.now();
    ray!.pauseHead(); // the head stops answering: every process of it frozen (SIGSTOP)
    let rc: any;
    try {
      rc = await eventually("AutoscalerReachable=False", async () => {
        const rc = await getRc();
        return cond(rc, "AutoscalerReachable")?.status === "False" ? rc : undefined;
      }, 60_000);
      const down = cond(rc, "AutoscalerReachable");
      assert.equal(down.reason, "ControlStoreUnreachable");
      assert.match(down.message, new RegExp(`127\\.0\\.0\\.1:${gcsPort}`));
      await eventually("phase AutoscalingExceptionRecovery", async () => (await getRc()).status?.phase === "AutoscalingExceptionRecovery", 30_000);
      // Down for a while: several failed passes, and nothing is created or deleted.
      await sleep(Math.max(0, t0 + 25_000 - Date.now()));
      assert.deepEqual(uidsOf(await workerPods()), uidsOf(before), "worker pods changed while the GCS was unreachable");
      await monitor!.nextPass();
      assert.deepEqual(monitor!.goneOf(uidsOf(before)), [], "a worker pod went while the GCS was unreachable");
      assert.deepEqual([...monitor!.seen.keys()].filter((u) => !seenBefore.has(u)), [], "a worker pod was created while the GCS was unreachable");
      assert.equal(cond(await getRc(), "AutoscalerReachable").status, "False");
      assert.match(op!.logs(), new RegExp(`^${CLUSTER}:.*cannot reach the GCS`, "m"));
    } finally {
      ray!.resumeHead();
    }
    rc = await eventually("AutoscalerReachable=True again", async () => {
      const rc = await getRc();
      return cond(rc, "AutoscalerReachable")?.status === "True" ? rc : undefined;
    }, 120_000);
    assert.equal(cond(rc, "AutoscalerReachable").reason, "Connected");
    await eventually("phase Running again", async () => (await getRc()).status?.phase === "Running", 30_000);
    assert.deepEqual(uidsOf(await workerPods()), uidsOf(before));
    // Scaling resumes: two Custom1 tasks at once need a second worker.
    const d = ray!.startDriver(togetherScript(2));
    await d.waitFor("SUBMITTED");
    const pods = await settledAt(2, "2 worker pods after the outage");
    await d.waitFor("RAN_ON", 120_000);
    assert.equal(new Set(driverJson(d.output(), "RAN_ON")).size, 2);
    for (const p of before) assert.ok(uidsOf(pods).includes(p.metadata!.uid!));
  });

  it("adds worker-nodes pods for pending Custom1 tasks, and the tasks run on them at the same time", async () => {
    const before = names(await workerPods());
    const d = ray!.startDriver(togetherScript(3));
    await d.waitFor("SUBMITTED");
    const rc = await eventually("targetWorkers 3 and 3 desired", async () => {
      const rc = await getRc();
      return rc.status?.autoscaler?.targetWorkers?.[TYPE] === 3 && desiredOf(rc) === 3 ? rc : undefined;
    }, 60_000);
    assert.deepEqual(rc.status.autoscaler.infeasible ?? [], []);
    const pods = await settledAt(3, "3 worker pods, each a Ray node");
    for (const b of before) assert.ok(names(pods).includes(b), `the existing worker ${b} was kept`);
    await d.waitFor("RAN_ON", 120_000);
    const ranOn: string[] = driverJson(d.output(), "RAN_ON");
    const s = await gcs!.getClusterResourceState();
    const instance = (id: string) => s.nodes.find((n) => n.nodeId === id)?.instanceId;
    assert.deepEqual(ranOn.map(instance).sort(), names(pods), "the 3 tasks ran at once, one on each worker pod's Ray node");
    assert.ok(monitor!.max <= MAX, `at most ${MAX} worker pods at once, saw ${monitor!.max}`);
    // The decision was logged as the seed's Cluster status block, demand included.
    assert.match(op!.logs(), new RegExp(`^${CLUSTER}:.*Resource demands: \\[.*'Custom1': 1\\.0`, "m"));
  });

  it("never goes over maxWorkers for more demand than that, and reports a shape no node type can hold as infeasible", async () => {
    const d = ray!.startDriver(`
import json

@ray.remote(resources={"Custom1": 1})
def work():
    time.sleep(6)
    return ray.get_runtime_context().get_node_id()

@ray.remote(resources={"Custom1": 5})
def too_big():
    return 0

big = too_big.remote()
refs = [work.remote() for _ in range(6)]
print("SUBMITTED", flush=True)
print("RAN_ON " + json.dumps(ray.get(refs)), flush=True)
time.sleep(3600)
`);
    await d.waitFor("SUBMITTED");
    // Ray holds more Custom1 tasks than 3 workers can run: some wait, and still no 4th pod.
    await eventually("Custom1 tasks waiting in Ray with 3 workers busy", async () => {
      const s = await gcs!.getClusterResourceState();
      return s.pendingResourceRequests.some((r) => r.request.resources.Custom1 === 1 && r.count > 0);
    }, 30_000, 200);
    const rc = await eventually("the infeasible {Custom1: 5} in status.autoscaler", async () => {
      const rc = await getRc();
      return (rc.status?.autoscaler?.infeasible ?? []).some((l: string) => /'Custom1': 5\.0/.test(l)) ? rc : undefined;
    }, 60_000);
    assert.equal(rc.status.autoscaler.targetWorkers[TYPE], MAX, "the target is capped at maxWorkers");
    assert.ok(desiredOf(rc) <= MAX);
    await d.waitFor("RAN_ON", 120_000);
    assert.equal(driverJson(d.output(), "RAN_ON").length, 6, "all 6 tasks ran");
    assert.equal((await workerPods()).length, MAX);
    assert.ok(monitor!.max <= MAX, `at most ${MAX} worker pods at once, saw ${monitor!.max}`);
    // Without its driver the infeasible task is gone, and so is the status line.
    await d.stop();
    await eventually("status.autoscaler.infeasible empty again", async () => ((await getRc()).status?.autoscaler?.infeasible ?? ["?"]).length === 0, 60_000);
  });

  // Workers that ran tasks keep Ray's last node_activity while IDLE; they must be removed all the same
  // (this test found the operator treating them as busy, fixed in scheduler.ts isBusy).
  it("drains idle workers in Ray after idleTimeoutMinutes, then deletes their pods, down to minWorkers", async () => {
    const before = names(await workerPods());
    assert.equal(before.length, MAX);
    const after = await settledAt(MIN, `back to ${MIN} worker`, 90_000).catch(async (e) => {
      throw new Error(`${e.message}\n${await rayView()}`);
    });
    const removed = before.filter((n) => !names(after).includes(n));
    assert.equal(removed.length, MAX - MIN);
    // Each was idle for idleTimeoutMinutes (as Ray counts idle time) when the operator drained it.
    for (const pod of removed) {
      const m = new RegExp(`^${CLUSTER}:.*drained idle worker ${pod} \\(${TYPE}, idle (\\d+)s\\)`, "m").exec(op!.logs());
      assert.ok(m, `the operator logged draining ${pod}`);
      assert.ok(Number(m[1]) * 1000 >= IDLE_TIMEOUT_MS - 1000, `${pod} drained after ${m[1]} s idle, before idleTimeoutMinutes`);
    }
    // Ray says why each removed node died: drained by the autoscaler as idle (not killed with its pod).
    const d = ray!.startDriver(`
import json
print("NODES " + json.dumps([{"id": n["NodeID"], "alive": n["Alive"], "reason": n.get("DeathReason"), "message": n.get("DeathReasonMessage")} for n in ray.nodes()]), flush=True)
`);
    await d.waitFor("NODES");
    const info: { id: string; alive: boolean; reason: number; message: string }[] = driverJson(d.output(), "NODES");
    const s = await gcs!.getClusterResourceState();
    for (const pod of removed) {
      const ids = s.nodes.filter((n) => n.instanceId === pod).map((n) => n.nodeId);
      const deaths = info.filter((i) => ids.includes(i.id));
      assert.equal(deaths.length, 1, `one Ray node for ${pod}`);
      assert.equal(deaths[0].alive, false);
      assert.equal(deaths[0].reason, 4, `${pod}: death reason AUTOSCALER_DRAIN_IDLE (4), got ${deaths[0].reason} "${deaths[0].message}"`);
      assert.match(deaths[0].message, /idle/);
    }
    const events = await c.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=${CLUSTER}` });
    const idleDeletes = events.items.filter((e) => e.reason === "DeletedPod" && /: Idle$/.test(e.message ?? ""));
    for (const pod of removed) assert.ok(idleDeletes.some((e) => e.message!.includes(pod)), `a DeletedPod event (Idle) naming ${pod}: ${events.items.map((e) => `${e.reason}: ${e.message}`).join("\n")}`);
    // Never below minWorkers, and the one left is still a live Ray node.
    await sleep(3000);
    assert.equal((await workerPods()).length, MIN);
    assert.ok(monitor!.minAfterReady >= MIN, `never below ${MIN} worker pods, saw ${monitor!.minAfterReady}`);
    assert.deepEqual(await rayWorkers(), names(after));
    assert.deepEqual(bridge!.liveNodes(), names(after));
  });

  it("logs each decision as the seed's `<cluster>:` Cluster status block", () => {
    const logs = op!.logs();
    assert.match(logs, new RegExp(`^${CLUSTER}:.*Cluster status`, "m"));
    const block = logs.split("\n").filter((l) => l.startsWith(`${CLUSTER}:`));
    assert.ok(block.some((l) => /Worker node types:/.test(l)), block.slice(-20).join("\n"));
    assert.ok(block.some((l) => / - worker-nodes: 3$/.test(l)), "a block with 3 worker-nodes");
    assert.ok(monitor!.max <= MAX, `never more than ${MAX} worker pods, saw ${monitor!.max}`);
    assert.ok(monitor!.minAfterReady >= MIN, `never fewer than ${MIN} worker pods, saw ${monitor!.minAfterReady}`);
  });
});
