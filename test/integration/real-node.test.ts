// Real Ray in real pods (issue 12): the local cluster's real node (containerd, runc, the CNI bridge,
// kube-proxy, CoreDNS), the operator running in-cluster from the image built here under the RBAC the
// Pulumi program installs, and the seed's RayClusters whose pods start Ray with their own command.
// Each test makes its own RayClusters (named after it) and removes them, so any one can run alone.
import { strict as assert } from "assert";
import type { V1Pod } from "@kubernetes/client-node";
import { realNodeCluster } from "../support/cluster";
import { Clients, clientsFromFile, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { edited, exampleCluster } from "../helpers/examples";
import {
  clusterPods,
  getRayCluster,
  installOperatorInCluster,
  isReady,
  operatorLog,
  operatorMetrics,
  operatorPod,
  podProcesses,
  rayJobs,
  rayStatusNodes,
} from "../helpers/real-ray";
import { rayClusters } from "../helpers/operator-env";
import { pythonEntrypoint } from "../../scripts/ray-jobs";
import { REAL_NODE_NAME } from "../../scripts/cluster/node";
import { GROUP, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { OPERATOR_NAME, SERVICE_ACCOUNT } from "../../builders/rbac";
import { OperatorProcess, serviceAccountToken, writeKubeconfigWithToken } from "../../scripts/operator-process";
import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";

const PATCH_AS_MERGE = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);

const names = (pods: V1Pod[]) => pods.map((p) => p.metadata!.name!).sort();

/** A seed cluster under another name; its pods are named after it. */
function seedAs(name: string, ns: string, edit: (rc: any) => void = () => {}): RayCluster {
  return edited(exampleCluster("example-cluster", ns), (r) => {
    r.metadata.name = name;
    for (const t of r.spec.podTypes) delete t.podConfig.metadata.generateName;
    edit(r);
  });
}

/** Small clusters for the scaling tests: no CPU on the head, so tasks run on workers only. */
function scalingCluster(name: string, ns: string, min: number, max: number, idleTimeoutMinutes = 5): RayCluster {
  return seedAs(name, ns, (r) => {
    r.spec.maxWorkers = max;
    r.spec.idleTimeoutMinutes = idleTimeoutMinutes;
    r.spec.podTypes[0].rayResources = { CPU: 0 };
    Object.assign(r.spec.podTypes[1], { minWorkers: min, maxWorkers: max });
  });
}

describe("real Ray on the real node (integration)", function () {
  this.timeout(600_000);
  let c: Clients;
  let ns: string;

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the node's binaries and images first
    const cluster = await realNodeCluster();
    c = clientsFromFile(cluster.kubeconfig);
    ns = uniqueName("real");
    await installOperatorInCluster(c, ns);
  });
  after(async () => {
    if (c) await deleteNamespace(c, ns, true);
  });
  // Whatever a test left (it failed half-way), the next starts on an empty node: two CPUs fit only
  // a few Ray pods at once.
  afterEach(async function () {
    if (this.currentTest?.state === "failed") {
      const log = await operatorLog(c, ns).catch((e) => `(no operator log: ${e})`);
      console.error(`--- operator log (last 80 lines) ---\n${log.split("\n").slice(-80).join("\n")}`);
    }
    const left = (await c.custom.listNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
    })) as { items: RayCluster[] };
    await Promise.all(left.items.map((rc) => remove(rc.metadata.name!)));
  });

  async function launch(rc: RayCluster, workers: number): Promise<{ head: V1Pod; workers: V1Pod[] }> {
    await rayClusters(c, ns).create(rc);
    return eventually(
      `${rc.metadata.name} Ready with ${workers} worker(s) running Ray`,
      async () => {
        const now = await getRayCluster(c, ns, rc.metadata.name!);
        const pods = await clusterPods(c, ns, rc.metadata.name!);
        const running = (p?: V1Pod) =>
          p?.status?.phase === "Running" && p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True");
        return isReady(now) && running(pods.head) && pods.workers.length === workers && pods.workers.every(running)
          ? { head: pods.head!, workers: pods.workers }
          : undefined;
      },
      300_000,
      1000,
    );
  }

  async function remove(name: string): Promise<void> {
    await rayClusters(c, ns)
      .delete(name)
      .catch(() => undefined);
    await eventually(
      `${name}'s pods gone`,
      async () => {
        const p = await clusterPods(c, ns, name);
        const all = (await c.core.listNamespacedPod({ namespace: ns, labelSelector: `ray-cluster-name=${name}` }))
          .items;
        return !p.head && all.length === 0;
      },
      180_000,
      1000,
    );
  }

  it("runs the operator in-cluster from its image: Ready on its probes, metrics, `<cluster>:` log lines", async () => {
    const name = "rn-operator";
    const pods = await launch(
      seedAs(name, ns, (r) => (r.spec.podTypes[1].minWorkers = 0)),
      0,
    );
    const log = await operatorLog(c, ns);
    // In-cluster config: the API server through the `kubernetes` Service, with the mounted token.
    assert.match(
      log,
      /ray-operator starting as ray-operator-[a-z0-9]+-[a-z0-9]+: watching namespace .* on https:\/\/10\.96\.0\.1/,
    );
    assert.ok(
      log
        .split("\n")
        .some((l) => l.startsWith(`${name}:`) && l.includes(`Created head pod ${pods.head.metadata!.name}`)),
      log,
    );
    assert.match(await operatorMetrics(c, ns), /ray_operator_reconcile_total\{result="success"\} [1-9]/);
    assert.equal(pods.head.spec!.nodeName, REAL_NODE_NAME);
  });

  it("runs both seed clusters as real Ray clusters: `ray status` lists every pod by name", async () => {
    const clusters = [exampleCluster("example-cluster", ns), exampleCluster("example-cluster2", ns)];
    await Promise.all(clusters.map((rc) => launch(rc, rc.spec.podTypes[1].minWorkers!)));
    for (const rc of clusters) {
      const name = rc.metadata.name!;
      const jobs = await rayJobs(c, ns, name);
      // Ready pods run Ray (their readiness probe says so); a raylet registers with the head moments
      // later. Compared with the pods as they are now: on a loaded machine Ray may give up starting a
      // node (its 30 s raylet wait), and the operator rightly replaces that pod.
      const { listed, pods } = await eventually(
        `${name}'s pods in ray status`,
        async () => {
          const seen = await rayStatusNodes(jobs);
          const now = await clusterPods(c, ns, name);
          if (!now.head || now.workers.length !== rc.spec.podTypes[1].minWorkers) return undefined;
          const current = [now.head, ...now.workers];
          const same =
            seen
              .map((n) => n.instance)
              .sort()
              .join() === names(current).join();
          return same ? { listed: seen, pods: current } : undefined;
        },
        180_000,
        2000,
      );
      // Workers joined the head through the head Service's DNS name: Ray's nodes are its pods.
      assert.deepEqual(listed.map((n) => n.instance).sort(), names(pods));
      assert.deepEqual(listed.find((n) => n.instance === pods[0].metadata!.name)?.type, "head-node");
      for (const p of pods) assert.equal(p.spec!.nodeName, REAL_NODE_NAME);
    }
  });

  it("runs a Ray program submitted to example-cluster and returns its result", async () => {
    const { head, workers } = await launch(seedAs("rn-program", ns), 2);
    const jobs = await rayJobs(c, ns, "rn-program");
    const result = await jobs.run(
      pythonEntrypoint(
        `
import socket, ray
ray.init()
@ray.remote(scheduling_strategy="SPREAD")
def square(x):
    return x * x, socket.gethostname()
results = ray.get([square.remote(i) for i in range(100)])
print("SUM", sum(r for r, _ in results))
print("HOSTS", " ".join(sorted({h for _, h in results})))
`.trim(),
      ),
    );
    assert.equal(result.status, "SUCCEEDED", result.logs);
    assert.match(result.logs, /^SUM 328350$/m);
    const hosts = /^HOSTS (.*)$/m.exec(result.logs)![1].split(" ");
    for (const h of hosts) assert.ok(names([head, ...workers]).includes(h), `${h} is one of the cluster's pods`);
  });

  it("adds a real worker for demand the workers cannot hold, and drains and deletes it once idle", async () => {
    const name = "rn-scale";
    const { workers: initial } = await launch(scalingCluster(name, ns, 1, 2, 0.25), 1);
    const jobs = await rayJobs(c, ns, name);
    // Two tasks, each holding the one Custom1 a worker has, that finish only once both run at the same
    // time: they need two workers. (Not CPU: Ray lends a task's CPU to others while it waits in ray.get.)
    const result = await jobs.run(
      pythonEntrypoint(
        `
import socket, time, ray
ray.init()
@ray.remote(num_cpus=0)
class Barrier:
    def __init__(self):
        self.n = 0
    def arrive(self):
        self.n += 1
    def count(self):
        return self.n
@ray.remote(resources={"Custom1": 1})
def together(barrier):
    ray.get(barrier.arrive.remote())
    while ray.get(barrier.count.remote()) < 2:
        time.sleep(0.2)
    return socket.gethostname()
b = Barrier.remote()
print("HOSTS", " ".join(sorted(ray.get([together.remote(b) for _ in range(2)]))))
`.trim(),
      ),
      300_000,
    );
    assert.equal(result.status, "SUCCEEDED", result.logs);
    const hosts = /^HOSTS (.*)$/m.exec(result.logs)![1].split(" ");
    assert.equal(new Set(hosts).size, 2, `the tasks ran on two workers: ${hosts}`);
    const added = hosts.filter((h) => !names(initial).includes(h));
    assert.equal(added.length, 1, `one of them is a worker the autoscaler added: ${hosts} (initial ${names(initial)})`);
    // Idle past idleTimeoutMinutes (15 s): one of the two is drained in Ray and its pod deleted, and
    // minWorkers (1) stays. Which one is Ray's rule (the longest idle goes first), not the test's.
    const remaining = await eventually(
      "back to one worker",
      async () => {
        const now = (await clusterPods(c, ns, name)).workers;
        return now.length === 1 ? now : undefined;
      },
      180_000,
      1000,
    );
    const [gone] = hosts.filter((h) => !names(remaining).includes(h));
    assert.ok(gone, `one of ${hosts} was removed (left: ${names(remaining)})`);
    assert.match(await operatorLog(c, ns), new RegExp(`${name}:.*drained idle worker ${gone}`), "it was drained first");
    const nodes = await eventually(
      "ray status: the head and the remaining worker",
      async () => {
        const listed = (await rayStatusNodes(await rayJobs(c, ns, name))).map((n) => n.instance);
        return listed.length === 2 ? listed : undefined;
      },
      120_000,
      2000,
    );
    assert.ok(nodes.includes(names(remaining)[0]), `${names(remaining)[0]} is a Ray node: ${nodes}`);
  });

  it("replaces a worker whose Ray died inside its container", async () => {
    const name = "rn-crash";
    const { head, workers } = await launch(scalingCluster(name, ns, 1, 1), 1);
    const victim = workers[0];
    const raylets = podProcesses(victim.metadata!.uid!, "raylet");
    assert.equal(raylets.length, 1, "one raylet runs in the worker's container");
    process.kill(raylets[0], "SIGKILL");
    // The container exits (its command watches the raylet), the pod fails, and a new worker replaces it.
    const replacement = await eventually(
      "a new worker running Ray",
      async () => {
        const now = (await clusterPods(c, ns, name)).workers.filter((w) => w.metadata!.uid !== victim.metadata!.uid);
        return now.length === 1 && now[0].status?.conditions?.some((x) => x.type === "Ready" && x.status === "True")
          ? now[0]
          : undefined;
      },
      180_000,
      1000,
    );
    const nodes = await eventually(
      "the new worker in ray status",
      async () => {
        const listed = (await rayStatusNodes(await rayJobs(c, ns, name))).map((n) => n.instance);
        return listed.includes(replacement.metadata!.name!) ? listed : undefined;
      },
      120_000,
      2000,
    );
    assert.ok(nodes.includes(head.metadata!.name!), "the head was not touched");
  });

  it("restarts the cluster when its head pod is deleted, and the workers rejoin the new head", async () => {
    const name = "rn-head";
    const before = await launch(scalingCluster(name, ns, 1, 1), 1);
    await c.core.deleteNamespacedPod({ namespace: ns, name: before.head.metadata!.name! });
    const after = await eventually(
      "a new head and a new worker",
      async () => {
        const now = await clusterPods(c, ns, name);
        const fresh =
          now.head &&
          now.head.metadata!.uid !== before.head.metadata!.uid &&
          now.workers.length === 1 &&
          now.workers[0].metadata!.uid !== before.workers[0].metadata!.uid;
        const ready = (p?: V1Pod) => p?.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True");
        return fresh && ready(now.head) && ready(now.workers[0]) ? now : undefined;
      },
      300_000,
      1000,
    );
    const nodes = await eventually(
      "the new worker joined the new head",
      async () => {
        const listed = await rayStatusNodes(await rayJobs(c, ns, name));
        return listed.length === 2 ? listed : undefined;
      },
      180_000,
      2000,
    );
    assert.deepEqual(nodes.map((n) => n.instance).sort(), names([after.head!, ...after.workers]));
    const rc = await getRayCluster(c, ns, name);
    assert.equal(rc.status?.headRestarts, 1);
  });

  it("keeps workers running a long task past a lowered maxWorkers until the task ends, then drains one", async () => {
    const name = "rn-lower";
    const { workers: initial } = await launch(scalingCluster(name, ns, 2, 2, 0.25), 2);
    const jobs = await rayJobs(c, ns, name);
    // Two 40-second tasks, one per worker, that may not be retried: a worker removed under one
    // fails the job.
    const job = await jobs.submit(
      pythonEntrypoint(
        `
import socket, time, ray
ray.init()
@ray.remote(resources={"Custom1": 1}, max_retries=0)
def long_task():
    print("RUNNING", socket.gethostname(), flush=True)
    time.sleep(40)
    return socket.gethostname()
print("HOSTS", " ".join(sorted(ray.get([long_task.remote() for _ in range(2)]))))
`.trim(),
      ),
    );
    await eventually(
      "both tasks running",
      async () => ((await jobs.logs(job)).match(/^.*RUNNING /gm) ?? []).length === 2,
      120_000,
      1000,
    );
    // Deletes of pods Ray had not drained (any reason but Idle): once the tasks end, the drained one
    // may go at any moment, which proves nothing either way.
    const deletes = async () =>
      ((await operatorMetrics(c, ns)).match(/^ray_operator_pod_actions_total\{action="delete"[^}]*\} (\d+)/gm) ?? [])
        .filter((line) => !line.includes('reason="Idle"'))
        .reduce((sum, line) => sum + Number(line.split(" ").pop()), 0);
    const deletesBefore = await deletes();
    const rc = await getRayCluster(c, ns, name);
    rc.spec.maxWorkers = 1;
    Object.assign(rc.spec.podTypes[1], { minWorkers: 1, maxWorkers: 1 });
    await rayClusters(c, ns).replace(rc);
    const ended = await eventually(
      "the job to end",
      async () => {
        const info = await jobs.info(job);
        return ["SUCCEEDED", "FAILED", "STOPPED"].includes(info.status) ? info : undefined;
      },
      180_000,
      1000,
    );
    assert.equal(ended.status, "SUCCEEDED", `the tasks ran to their end: ${await jobs.logs(job)}`);
    assert.equal(await deletes(), deletesBefore, "no pod deleted without a drain (a task ran on each)");
    const left = await eventually(
      "one worker left, drained and deleted once idle",
      async () => {
        const now = (await clusterPods(c, ns, name)).workers;
        return now.length === 1 ? now : undefined;
      },
      180_000,
      1000,
    );
    assert.ok(names(initial).includes(left[0].metadata!.name!), "one of the two that ran the tasks");
  });

  it("an operator killed between a drain and the delete removes exactly the drained pod after restart", async () => {
    const name = "rn-drain-crash";
    const { workers: initial } = await launch(scalingCluster(name, ns, 2, 2, 0.25), 2);
    const rc = await getRayCluster(c, ns, name);
    const gcs = `${ns}/${name}=${rc.status!.head!.serviceIP}:6379`;
    // This test runs the operator out of cluster (the same build, under the same ServiceAccount),
    // where it can be killed at a chosen point: the in-cluster one stands aside meanwhile.
    await c.apps.patchNamespacedDeployment(
      { namespace: ns, name: OPERATOR_NAME, body: { spec: { replicas: 0 } } },
      PATCH_AS_MERGE,
    );
    await eventually("the in-cluster operator gone", async () => !(await operatorPod(c, ns)), 120_000, 1000);
    const kubeconfig = writeKubeconfigWithToken(c.kc, await serviceAccountToken(c.kc, ns, SERVICE_ACCOUNT), ns);
    const env = {
      RAY_OPERATOR_POD_NAMESPACE: ns,
      OPERATOR_NAMESPACE: ns,
      LEADER_ELECT: "true",
      AUTOSCALER_INTERVAL_SECONDS: "2",
      RAY_GCS_ADDRESS_OVERRIDES: gcs,
    };
    let op = await new OperatorProcess(kubeconfig, {
      ...env,
      POD_NAME: "crashing",
      RAY_OPERATOR_FAILPOINT: "exit-after-drain",
    }).start();
    try {
      const scaled = await getRayCluster(c, ns, name);
      scaled.spec.podTypes[1].minWorkers = 1;
      await rayClusters(c, ns).replace(scaled);
      // Idle for 15 s, one worker is drained in Ray; the operator dies before deleting its pod.
      await eventually("the operator to die right after the drain", async () => !op.running(), 180_000, 500);
      const draining = (await getRayCluster(c, ns, name)).status?.autoscaler?.draining ?? [];
      assert.equal(draining.length, 1, "what it drained was written down before it asked Ray");
      assert.ok(names(initial).includes(draining[0]));
      op = await new OperatorProcess(kubeconfig, { ...env, POD_NAME: "restarted" }).start();
      const left = await eventually(
        "exactly the drained pod removed",
        async () => {
          const now = (await clusterPods(c, ns, name)).workers;
          return now.length === 1 && !names(now).includes(draining[0]) ? now : undefined;
        },
        180_000,
        1000,
      );
      assert.deepEqual(
        names(left),
        names(initial).filter((n) => n !== draining[0]),
      );
      const metrics = await op.metrics();
      assert.equal(
        metrics.get('ray_operator_pod_actions_total{action="create",kind="worker",reason=""}') ?? 0,
        0,
        "none replaced",
      );
    } finally {
      await op.stop();
      await c.apps.patchNamespacedDeployment(
        { namespace: ns, name: OPERATOR_NAME, body: { spec: { replicas: 1 } } },
        PATCH_AS_MERGE,
      );
      await eventually("the in-cluster operator back", () => operatorPod(c, ns), 180_000, 1000);
    }
  });
});
