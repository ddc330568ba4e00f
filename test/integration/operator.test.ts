// The operator on a real API server: the compiled operator process, running under the ServiceAccount
// and RBAC the project defines, turns RayClusters into pods on kwok nodes and keeps them there
// through edits, failures, restarts and refusals.
//
// Every test stands alone (`--grep "<its title>"`, in any order): it gets a namespace of its own, with
// the operator's RBAC and an operator process of its own, and makes its own RayClusters there. So
// the operator's metrics count that test's work only, and "nothing happened" is proven by a counter
// that would have moved (the operator's metrics, the API server's audit log, UIDs), never by a sleep.
import { strict as assert } from "assert";
import { readFileSync, writeFileSync } from "fs";
import { testCluster, testClusterAuditLog } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, apply, clientsFromFile, deleteNamespace, eventually, rejectsWith, statusCode } from "../helpers/kube";
import { toModel, uniqueName } from "../helpers/kube";
import { installCrd, operatorNamespace, rayClusters, rayClusterTable } from "../helpers/operator-env";
import { simulatedCluster, edited } from "../helpers/examples";
import { LABELS, RayCluster } from "../../api/v1/types";
import { SERVICE_ACCOUNT } from "../../builders/rbac";

type PodLite = { name: string; uid: string; kind: string; type: string; phase: string; ready: boolean };

const uids = (pods: PodLite[]) => pods.map((p) => p.uid).sort();
const condition = (rc: RayCluster, type: string) => rc.status?.conditions?.find((x) => x.type === type);

/** One test's world: its namespace, the operator's RBAC there, the operator process watching it. */
class OperatorEnv {
  op!: OperatorProcess;
  private kubeconfig = "";
  private constructor(
    readonly c: Clients,
    readonly ns: string,
    /** The cluster is the local one, started by this test run (not TEST_KUBECONFIG's). */
    readonly local: boolean,
  ) {}

  static async create(c: Clients, local: boolean, env: Record<string, string> = {}): Promise<OperatorEnv> {
    const world = new OperatorEnv(c, uniqueName("op-test"), local);
    world.kubeconfig = await operatorNamespace(c, world.ns);
    await world.start(env);
    return world;
  }

  /** Starts the operator and waits until it is ready (caches synced, watching). */
  async start(env: Record<string, string> = {}): Promise<OperatorProcess> {
    // No Ray runs on kwok's nodes; the autoscaler has its own tests with real Ray (autoscaling.test.ts).
    this.op = await new OperatorProcess(this.kubeconfig, {
      RAY_OPERATOR_POD_NAMESPACE: this.ns,
      OPERATOR_NAMESPACE: this.ns,
      POD_NAME: uniqueName("op"),
      AUTOSCALER_INTERVAL_SECONDS: "0",
      ...env,
    }).start();
    const ready = async () => (await this.op.get("/readyz").catch(() => ({ status: 0 }))).status === 200;
    await eventually("the operator to be ready", async () => this.op.running() && (await ready()), 60_000);
    return this.op;
  }

  async restart(env: Record<string, string> = {}): Promise<OperatorProcess> {
    await this.op.stop();
    return this.start(env);
  }

  async stop(): Promise<void> {
    await this.op?.stop();
    await deleteNamespace(this.c, this.ns);
  }

  get rcs() {
    return rayClusters(this.c, this.ns);
  }

  async cluster(name: string): Promise<RayCluster> {
    return (await this.rcs.get(name)) as RayCluster;
  }

  /** A seed cluster on the simulated nodes, in this namespace, maybe renamed and edited. */
  async create(seed: "example-cluster" | "example-cluster2", edit?: (rc: RayCluster) => void): Promise<RayCluster> {
    const rc = edited(simulatedCluster(seed, this.ns), (r: RayCluster) => edit?.(r));
    await this.rcs.create(rc);
    return rc;
  }

  async replaceWith(name: string, edit: (rc: RayCluster) => void): Promise<void> {
    const rc = await this.cluster(name);
    edit(rc);
    await this.rcs.replace(rc);
  }

  async pods(cluster: string): Promise<PodLite[]> {
    const selector = `${LABELS.clusterName}=${cluster}`;
    const list = await this.c.core.listNamespacedPod({ namespace: this.ns, labelSelector: selector });
    return list.items
      .filter((p) => !p.metadata!.deletionTimestamp)
      .map((p) => ({
        name: p.metadata!.name!,
        uid: p.metadata!.uid!,
        kind: p.metadata!.labels![LABELS.nodeType],
        type: p.metadata!.labels![LABELS.userNodeType],
        phase: p.status?.phase ?? "",
        ready: !!p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True"),
      }));
  }

  /** Waits until the cluster has exactly one ready head and `workers` ready workers, and reports Ready. */
  async converged(cluster: string, workers: number, timeoutMs = 90_000): Promise<PodLite[]> {
    return eventually(
      `${cluster}: 1 head and ${workers} workers ready`,
      async () => {
        const pods = await this.pods(cluster);
        const heads = pods.filter((p) => p.kind === "head");
        const ws = pods.filter((p) => p.kind === "worker");
        const allReady = pods.every((p) => p.phase === "Running" && p.ready);
        if (heads.length !== 1 || ws.length !== workers || !allReady) return undefined;
        const rc = await this.cluster(cluster);
        const current = rc.status?.observedGeneration === rc.metadata.generation;
        return condition(rc, "Ready")?.status === "True" && current ? pods : undefined;
      },
      timeoutMs,
      300,
    );
  }

  /** Waits for the Stalled condition and returns the RayCluster that carries it. */
  async stalled(name: string): Promise<RayCluster> {
    return eventually("the Stalled condition", async () => {
      const rc = await this.cluster(name);
      return condition(rc, "Stalled")?.status === "True" ? rc : undefined;
    });
  }

  /** A sample of the operator's own metrics (0 when absent: the counter never moved). */
  async metric(sample: string): Promise<number> {
    return (await this.op.metrics()).get(sample) ?? 0;
  }

  /** Reconcile passes this operator process finished, whatever their result. */
  async passes(): Promise<number> {
    const m = await this.op.metrics();
    const finished = (result: string) => m.get(`ray_operator_reconcile_total{result="${result}"}`) ?? 0;
    return finished("success") + finished("requeue") + finished("error");
  }

  /** Pod requests of this operator process with this verb (create, create_dry_run, delete), and code if given. */
  async podRequests(verb: string, code?: number): Promise<number> {
    let n = 0;
    for (const [sample, value] of await this.op.metrics()) {
      const m = /^ray_operator_api_requests_total\{verb="([^"]+)",resource="pods",code="(\d+)"\}$/.exec(sample);
      if (m && m[1] === verb && (code === undefined || Number(m[2]) === code)) n += value;
    }
    return n;
  }

  /**
   * Pod creates and deletes the operator's ServiceAccount made in this namespace that the API server
   * carried out, from its audit log: a witness independent of the operator, which counts the
   * requests of every operator process this test ran (a killed one's too). Undefined when the
   * cluster is not the local one (TEST_KUBECONFIG): there is no audit log to read.
   */
  auditedPodWrites(): { creates: number; deletes: number } | undefined {
    const file = testClusterAuditLog();
    if (!file && this.local) throw new Error("the local cluster writes no audit log: the test cannot count");
    if (!file) return undefined;
    const user = `system:serviceaccount:${this.ns}:${SERVICE_ACCOUNT}`;
    const events = readFileSync(file, "utf8")
      .split("\n")
      .filter((line) => line.includes(user))
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((e) => e.stage === "ResponseComplete" && e.user.username === user)
      .filter((e) => e.objectRef?.resource === "pods" && !e.objectRef.subresource && e.objectRef.namespace === this.ns)
      .filter((e) => !/[?&]dryRun=/.test(e.requestURI));
    const done = (verb: string, code: number) =>
      events.filter((e) => e.verb === verb && e.responseStatus?.code === code).length;
    return { creates: done("create", 201), deletes: done("delete", 200) };
  }
}

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

describe("the operator (integration: real API server, the operator process under its ServiceAccount)", function () {
  this.timeout(300_000);
  let c: Clients;
  let local = false;
  /** The running test's world, stopped and removed after it. */
  let world: OperatorEnv | undefined;
  const open = async (env: Record<string, string> = {}) => (world = await OperatorEnv.create(c, local, env));

  before(async function () {
    this.timeout(1_800_000);
    const cluster = await testCluster();
    local = cluster.local;
    c = clientsFromFile(cluster.kubeconfig);
    await installCrd(c); // idempotent: server-side apply
  });
  afterEach(async function () {
    if (this.currentTest?.state === "failed" && world) {
      const logs = world.op.logs();
      writeFileSync("/tmp/operator-test.log", logs);
      const tail = logs.split("\n").slice(-60).join("\n");
      console.error(`--- operator log (last 60 lines; all in /tmp/operator-test.log) ---\n${tail}`);
    }
    await world?.stop();
    world = undefined;
  });

  it("launches example-cluster: a head and 2 workers, named as in the seed", async () => {
    const w = await open();
    await w.create("example-cluster");
    const pods = await w.converged("example-cluster", 2);
    assert.match(pods.find((p) => p.kind === "head")!.name, /^example-cluster-ray-head-[a-z0-9]{5}$/);
    for (const worker of pods.filter((p) => p.kind === "worker")) {
      assert.match(worker.name, /^example-cluster-ray-worker-[a-z0-9]{5}$/);
      assert.equal(worker.type, "worker-nodes");
    }
    const svc = await c.core.readNamespacedService({ namespace: w.ns, name: "example-cluster-ray-head" });
    assert.deepEqual(
      svc.spec!.ports!.map((p) => p.port),
      [6379, 10001, 8265],
    );
  });

  it("launches example-cluster2: a head and 1 worker", async () => {
    const w = await open();
    await w.create("example-cluster2");
    const pods = await w.converged("example-cluster2", 1);
    assert.match(pods.find((p) => p.kind === "worker")!.name, /^example-cluster2-ray-worker-[a-z0-9]{5}$/);
  });

  it("lists two RayClusters with healthy columns", async () => {
    const w = await open();
    await w.create("example-cluster");
    await w.create("example-cluster2");
    await w.converged("example-cluster", 2);
    await w.converged("example-cluster2", 1);
    const rows = await rayClusterTable(c.kc, w.ns);
    const byName = Object.fromEntries(rows.map((r) => [r.Name, r]));
    const columns = (name: string) => ["Status", "Ready", "Workers", "Desired"].map((col) => byName[name][col]);
    assert.deepEqual(columns("example-cluster"), ["Running", "True", 2, 2]);
    assert.deepEqual(columns("example-cluster2"), ["Running", "True", 1, 1]);
    const rc = await w.cluster("example-cluster");
    assert.equal(rc.status?.head?.serviceName, "example-cluster-ray-head");
    assert.ok(rc.status?.head?.podIP, "head pod IP in status");
    assert.equal(condition(rc, "Reconciling")?.status, "False");
    assert.equal(condition(rc, "Stalled")?.status, "False");
  });

  it("writes per-cluster log lines that `grep ^example-cluster2:` selects", async () => {
    const w = await open();
    await w.create("example-cluster");
    await w.create("example-cluster2");
    await w.converged("example-cluster", 2);
    await w.converged("example-cluster2", 1);
    const lines = w.op
      .logs()
      .split("\n")
      .filter((l) => /^example-cluster2:/.test(l));
    assert.ok(
      lines.some((l) => /Created head pod example-cluster2-ray-head-/.test(l)),
      lines.join("\n"),
    );
    assert.ok(lines.some((l) => /Created worker pod example-cluster2-ray-worker-/.test(l)));
    const others = lines.filter((l) => /example-cluster-ray-/.test(l));
    assert.deepEqual(others, [], "no line of example-cluster under example-cluster2:");
    assert.match(lines[0], /^example-cluster2:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARN|DEBUG|ERROR) /);
  });

  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    const w = await open();
    await w.create("example-cluster2");
    await w.converged("example-cluster2", 1);
    assert.equal((await w.op.get("/healthz")).status, 200);
    assert.equal((await w.op.get("/readyz")).status, 200);
    const metrics = (await w.op.get("/metrics", w.op.metricsPort)).body;
    assert.match(metrics, /ray_operator_reconcile_total\{result="success"\} [1-9]\d*/);
    // This operator made this test's one cluster: a head and a worker, each created once.
    assert.match(metrics, /^ray_operator_pod_actions_total\{action="create",kind="worker",reason=""\} 1$/m);
    assert.match(metrics, /^ray_operator_pod_actions_total\{action="create",kind="head",reason=""\} 1$/m);
    assert.match(metrics, /^ray_operator_api_requests_total\{verb="create",resource="pods",code="201"\} 2$/m);
    assert.match(metrics, /ray_operator_workqueue_depth \d+/);
  });

  it("adds workers when minWorkers is raised, touching no other pod", async () => {
    const w = await open();
    await w.create("example-cluster2");
    const before = await w.converged("example-cluster2", 1);
    await w.replaceWith("example-cluster2", (rc) => (rc.spec.podTypes[1].minWorkers = 2));
    const after = await w.converged("example-cluster2", 2);
    for (const uid of uids(before)) assert.ok(uids(after).includes(uid), "an existing pod was replaced");
  });

  it("paces a scale-up: a few workers at a time wait for the scheduler, unschedulable ones do not count", async () => {
    const w = await open({ MAX_UNSCHEDULED_WORKERS: "3" });
    await w.create("example-cluster", (r) => {
      r.metadata.name = "paced";
      r.spec.maxWorkers = 10;
      r.spec.podTypes[1].minWorkers = 10;
      r.spec.podTypes[1].maxWorkers = 10;
      // No scheduler serves this name: the workers are never looked at.
      r.spec.podTypes[1].podConfig.spec.schedulerName = "no-such-scheduler";
    });
    const workers = async () => (await w.pods("paced")).filter((p) => p.kind === "worker");
    await eventually("3 workers created", async () => (await workers()).length === 3, 30_000);
    // A pass that finishes with "success" after the one that created them has all three in its cache
    // (until then the expectations make passes end with "requeue"): it would have created more.
    const successes = 'ray_operator_reconcile_total{result="success"}';
    await eventually("a pass that sees the 3 workers", async () => (await w.metric(successes)) >= 2, 30_000);
    assert.equal(await w.metric('ray_operator_pod_actions_total{action="create",kind="worker",reason=""}'), 3);
    assert.equal((await workers()).length, 3, "no worker beyond the window while the scheduler has not looked at any");
    const rc = await w.cluster("paced");
    const desired = rc.status?.podTypes?.find((t) => t.name === "worker-nodes")?.desired;
    assert.equal(desired, 10, "status still wants 10");
    assert.equal(await w.metric("ray_operator_workers_deferred"), 7, "the held-back workers are in the metrics");
    assert.match(w.op.logs(), /^paced:.*pacing the scale-up: 7 more workers/m);

    // Unschedulable (no node matches) is a verdict: those pods leave the window, so all 10 exist.
    await w.replaceWith("paced", (r) => {
      delete r.spec.podTypes[1].podConfig.spec.schedulerName;
      r.spec.podTypes[1].podConfig.spec.nodeSelector = { "no-such-label": "x" };
    });
    const tenPending = async () => {
      const ws = await workers();
      return ws.length === 10 && ws.every((p) => p.phase === "Pending");
    };
    await eventually("10 unschedulable workers", tenPending, 60_000, 300);

    // Schedulable again: each pod the scheduler takes makes room for the next, up to 10 Ready.
    await w.replaceWith("paced", (r) => delete r.spec.podTypes[1].podConfig.spec.nodeSelector);
    await w.converged("paced", 10, 90_000);
    assert.equal(await w.metric("ray_operator_workers_deferred"), 0);
  });

  it("replaces a deleted worker pod, and only it", async () => {
    const w = await open();
    await w.create("example-cluster");
    const before = await w.converged("example-cluster", 2);
    const victim = before.find((p) => p.kind === "worker")!;
    await c.core.deleteNamespacedPod({ namespace: w.ns, name: victim.name });
    const after = await eventually("a replacement worker", async () => {
      const pods = await w.converged("example-cluster", 2);
      return pods.some((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.ok(!uids(after).includes(victim.uid));
    assert.equal(after.filter((p) => uids(before).includes(p.uid)).length, 2, "the head and the other worker kept");
    assert.equal(await w.podRequests("delete"), 0, "nothing deleted: the pod was gone");
  });

  it("replaces a failed worker pod", async () => {
    const w = await open();
    await w.create("example-cluster");
    const before = await w.converged("example-cluster", 2);
    const victim = before.find((p) => p.kind === "worker")!;
    const failed = [{ op: "replace", path: "/status/phase", value: "Failed" }];
    await c.core.patchNamespacedPodStatus({ namespace: w.ns, name: victim.name, body: failed });
    const after = await eventually("the failed worker replaced", async () => {
      const pods = await w.converged("example-cluster", 2);
      return pods.some((p) => p.uid === victim.uid) ? undefined : pods;
    });
    assert.equal(after.filter((p) => uids(before).includes(p.uid)).length, 2, "the head and the other worker kept");
  });

  it("replaces the workers whose pod template changed, and keeps the head", async () => {
    const w = await open();
    await w.create("example-cluster2");
    const before = await w.converged("example-cluster2", 1);
    const image = "rayproject/ray:2.60.0-py311";
    await w.replaceWith("example-cluster2", (rc) => (rc.spec.podTypes[1].podConfig.spec.containers[0].image = image));
    const after = await eventually("new worker pods", async () => {
      const pods = await w.converged("example-cluster2", 1);
      const workers = pods.filter((p) => p.kind === "worker");
      return workers.every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    const head = (pods: PodLite[]) => pods.find((p) => p.kind === "head")!;
    assert.equal(head(after).uid, head(before).uid, "the head was kept");
    const worker = after.find((p) => p.kind === "worker")!.name;
    const pod = await c.core.readNamespacedPod({ namespace: w.ns, name: worker });
    assert.equal(pod.spec!.containers[0].image, image);
  });

  it("restarts the whole cluster when a label is added (the seed's `try: again`)", async () => {
    const w = await open();
    await w.create("example-cluster2");
    const before = await w.converged("example-cluster2", 1);
    await w.replaceWith("example-cluster2", (rc) => (rc.metadata.labels = { ...rc.metadata.labels, try: "again" }));
    const after = await eventually("every pod replaced", async () => {
      const pods = await w.converged("example-cluster2", 1);
      return pods.every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.equal(after.length, 2);
  });

  it("restarts the cluster when its head pod is deleted, and says so", async () => {
    const w = await open();
    await w.create("example-cluster2");
    const before = await w.converged("example-cluster2", 1);
    assert.equal((await w.cluster("example-cluster2")).status?.headRestarts ?? 0, 0);
    await c.core.deleteNamespacedPod({ namespace: w.ns, name: before.find((p) => p.kind === "head")!.name });
    await eventually("a new head and a new worker", async () => {
      const pods = await w.converged("example-cluster2", 1);
      return pods.every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.equal((await w.cluster("example-cluster2")).status?.headRestarts, 1);
    const selector = "involvedObject.name=example-cluster2";
    const events = (await c.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: selector })).items;
    const told = (reason: string, message: RegExp) =>
      events.some((e) => e.reason === reason && message.test(e.message ?? ""));
    assert.ok(told("ClusterRestart", /./), "a ClusterRestart event");
    const created = /head pod example-cluster2-ray-head-.*worker pod example-cluster2-ray-worker-/;
    assert.ok(told("Created", created), "a Created event naming the new head and worker");
    assert.ok(told("DeletedPod", /HeadReplaced/), "a DeletedPod event for the old worker");
  });

  it("marks an unworkable RayCluster Stalled, naming the field, and creates nothing", async () => {
    const w = await open();
    await w.create("example-cluster", (r) => {
      r.metadata.name = "unworkable";
      // Admitted by the schema, but the head Service cannot have two ports 6379 (the GCS has it).
      r.spec.headServicePorts = [{ name: "metrics", port: 6379, targetPort: 8080 }];
    });
    const rc = await w.stalled("unworkable");
    const stalled = condition(rc, "Stalled")!;
    assert.equal(stalled.reason, "InvalidSpec");
    assert.match(stalled.message, /spec\.headServicePorts\[0\]\.port: Duplicate value: 6379/);
    assert.equal(rc.status?.phase, "Error");
    assert.equal(condition(rc, "Ready")?.status, "False");
    // The pass that wrote Stalled is the pass that would have created pods: not one create was sent.
    assert.deepEqual(await w.pods("unworkable"), []);
    assert.equal(await w.podRequests("create"), 0);
    assert.equal(await w.podRequests("create_dry_run"), 0, "not even a dry run");
    await rejectsWith(404, c.core.readNamespacedService({ namespace: w.ns, name: "unworkable-ray-head" }));
  });

  it("stops on a pod refused as invalid, naming the RayCluster's field, until the spec changes", async () => {
    const w = await open();
    const sample = (verb: string, code: number) => w.podRequests(verb, code);
    // Admitted by the CRD's schema, refused by the Pod's own validation: a mount of a volume that does not exist.
    await w.create("example-cluster", (r) => {
      r.metadata.name = "invalid-pod";
      r.spec.podTypes[1].podConfig.spec.containers[0].volumeMounts = [{ name: "missing", mountPath: "/data" }];
    });
    const rc = await w.stalled("invalid-pod");
    const stalled = condition(rc, "Stalled")!;
    assert.equal(stalled.reason, "PodCreationFailed");
    const field = "spec.podTypes[1].podConfig.spec.containers[0].volumeMounts[0].name";
    assert.ok(stalled.message.includes(`${field}: Not found: "missing"`), stalled.message);
    assert.equal(await sample("create", 201), 0, "nothing created");
    const refused = await sample("create_dry_run", 422);
    assert.ok(refused >= 1);
    // More passes (a label change wakes the cluster without changing its generation): not retried.
    const passes = await w.passes();
    await w.replaceWith("invalid-pod", (r) => (r.metadata.labels = { ...(r.metadata.labels ?? {}), touched: "yes" }));
    await eventually("another pass", async () => (await w.passes()) > passes);
    assert.equal(await sample("create_dry_run", 422), refused, "the refusal was not asked again");
    assert.equal(await sample("create", 201), 0);
    // A new generation is tried again: fixed, it runs.
    await w.replaceWith("invalid-pod", (r) => delete r.spec.podTypes[1].podConfig.spec.containers[0].volumeMounts);
    await w.converged("invalid-pod", 2, 90_000);
  });

  it("keeps the workers of a new head whose create succeeded although its answer was lost", async () => {
    // The failpoint drops the answer to every head create that succeeded, as a dropped connection would.
    const w = await open({ RAY_OPERATOR_FAILPOINT: "lose-head-create-answer" });
    await w.create("example-cluster", (r) => (r.metadata.name = "lost-answer"));
    await w.converged("lost-answer", 2);
    const noneTakenBack = 'ray_operator_pod_actions_total{action="delete",kind="worker",reason="HeadNotCreated"}';
    assert.equal(await w.metric(noneTakenBack), 0, "no worker taken back");
    const workerCreates = 'ray_operator_pod_actions_total{action="create",kind="worker",reason=""}';
    assert.equal(await w.metric(workerCreates), 2, "each worker created once");
    assert.match(w.op.logs(), /head pod lost-answer-\S+ was created although its create failed \(socket hang up\)/);
  });

  it("creates no worker for a head the API server refuses, and the cluster once it admits the head", async () => {
    const w = await open();
    // A real admission refusal of head pods only (ValidatingAdmissionPolicy): the operator's dry run
    // of the head and one worker per type finds it before anything is created.
    const policy = uniqueName("no-heads");
    const isRefusedHead =
      `object.metadata.?labels["${LABELS.nodeType}"].orValue("") == "head" && ` +
      `object.metadata.?labels["${LABELS.clusterName}"].orValue("") == "refused"`;
    const admission = "admissionregistration.k8s.io/v1";
    const podCreates = [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }];
    try {
      await apply(c, {
        apiVersion: admission,
        kind: "ValidatingAdmissionPolicy",
        metadata: { name: policy },
        spec: {
          failurePolicy: "Fail",
          matchConstraints: { resourceRules: podCreates },
          validations: [
            { expression: `!(${isRefusedHead})`, message: "no head pods for refused here", reason: "Forbidden" },
          ],
        },
      });
      await apply(c, {
        apiVersion: admission,
        kind: "ValidatingAdmissionPolicyBinding",
        metadata: { name: policy },
        spec: {
          policyName: policy,
          validationActions: ["Deny"],
          matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": w.ns } } },
        },
      });
      const labels = { [LABELS.nodeType]: "head", [LABELS.clusterName]: "refused" };
      const probe = { metadata: { name: "probe", labels }, spec: { containers: [{ name: "c", image: "x" }] } };
      const refusesProbe = () =>
        c.core.createNamespacedPod({ namespace: w.ns, body: probe, dryRun: "All" }).then(
          () => false,
          (e) => statusCode(e) === 403,
        );
      await eventually("the policy in force", refusesProbe);
      const refusedDryRuns = () => w.podRequests("create_dry_run", 403);

      await w.create("example-cluster", (r) => (r.metadata.name = "refused"));
      const rc = await w.stalled("refused");
      const stalled = condition(rc, "Stalled")!;
      assert.equal(stalled.reason, "PodCreationFailed");
      const why = /head pod of type head-node \(dry run\) refused: spec\.podTypes\[0\]\.podConfig: .*no head pods for/;
      assert.match(stalled.message, why);
      const selector = "involvedObject.name=refused";
      const events = await c.core.listNamespacedEvent({ namespace: w.ns, fieldSelector: selector });
      const failedCreate = events.items.some((e) => e.reason === "FailedCreate" && /dry run/.test(e.message ?? ""));
      assert.ok(failedCreate, "a FailedCreate event");
      // Tried again (a 403 may change without the RayCluster changing), and still nothing created.
      await eventually("a second refused dry run", async () => (await refusedDryRuns()) >= 2, 30_000);
      assert.equal(await w.podRequests("create"), 0, "not one pod created");
      assert.deepEqual(await w.pods("refused"), []);
    } finally {
      const binding = { apiVersion: admission, kind: "ValidatingAdmissionPolicyBinding", metadata: { name: policy } };
      await c.objects.delete(toModel(binding)).catch((e) => assert.equal(statusCode(e), 404));
      const vap = { apiVersion: admission, kind: "ValidatingAdmissionPolicy", metadata: { name: policy } };
      await c.objects.delete(toModel(vap)).catch((e) => assert.equal(statusCode(e), 404));
    }
    await w.converged("refused", 2, 90_000);
  });

  it("leaves running clusters untouched when the operator restarts", async () => {
    const w = await open();
    await w.create("example-cluster");
    await w.create("example-cluster2");
    const before = [...(await w.converged("example-cluster", 2)), ...(await w.converged("example-cluster2", 1))];
    const audited = w.auditedPodWrites();
    // One worker: the queue hands out the two clusters the new process starts with, one after the
    // other, before anything else; two passes finished means each cluster was looked at.
    const op = await w.restart({ RECONCILE_WORKERS: "1" });
    await eventually("a pass over each cluster", async () => (await w.passes()) >= 2, 60_000);
    const podWrites = (await w.podRequests("create")) + (await w.podRequests("delete"));
    assert.equal(podWrites, 0, "the restarted operator created or deleted no pod");
    if (audited) assert.deepEqual(w.auditedPodWrites(), audited, "the API server carried out no pod write since");
    const after = [...(await w.pods("example-cluster")), ...(await w.pods("example-cluster2"))];
    assert.deepEqual(uids(after), uids(before));
    assert.doesNotMatch(op.logs(), /Created|Deleted/);
  });

  it("never duplicates or replaces pods when killed in the middle of creating many workers", async () => {
    // A slow client, so the kill lands in the middle of the creates.
    const w = await open({ KUBE_API_QPS: "4", KUBE_API_BURST: "4" });
    await w.create("example-cluster", (r) => {
      r.metadata.name = "big";
      r.spec.maxWorkers = 40;
      r.spec.podTypes[1].minWorkers = 40;
      r.spec.podTypes[1].maxWorkers = 40;
      delete r.spec.podTypes[0].podConfig.metadata?.generateName;
      delete r.spec.podTypes[1].podConfig.metadata?.generateName;
    });
    const workers = async () => (await w.pods("big")).filter((p) => p.kind === "worker");
    await eventually("some workers created", async () => (await workers()).length >= 4);
    await w.op.stop("SIGKILL");
    const atKill = await w.pods("big");
    assert.ok(atKill.filter((p) => p.kind === "worker").length < 40, "the kill landed before all workers existed");
    await w.start();
    // Ready in status is written by a pass that planned nothing more: no create can follow it.
    const after = await w.converged("big", 40, 120_000);
    assert.equal(after.filter((p) => p.kind === "head").length, 1, "one head");
    for (const p of atKill) assert.ok(uids(after).includes(p.uid), `pod ${p.name}, made before the kill, replaced`);
    assert.equal(await w.podRequests("delete"), 0);
    // Both processes' creates, as the API server carried them out: exactly one per pod, none deleted.
    const audited = w.auditedPodWrites();
    if (audited) assert.deepEqual(audited, { creates: 41, deletes: 0 }, "no duplicate was ever created");
  });

  it("removes every pod and the Service when the RayCluster is deleted, and leaves the other cluster be", async () => {
    const w = await open();
    await w.create("example-cluster");
    await w.create("example-cluster2");
    const other = await w.converged("example-cluster", 2);
    await w.converged("example-cluster2", 1);
    await w.rcs.delete("example-cluster2");
    await eventually(
      "example-cluster2's pods and Service gone",
      async () => {
        const selector = `${LABELS.clusterName}=example-cluster2`;
        const pods = await c.core.listNamespacedPod({ namespace: w.ns, labelSelector: selector });
        const service = { namespace: w.ns, name: "example-cluster2-ray-head" };
        const svc = await c.core.readNamespacedService(service).then(
          () => true,
          () => false,
        );
        return pods.items.length === 0 && !svc;
      },
      120_000,
      500,
    );
    assert.deepEqual(uids(await w.converged("example-cluster", 2)), uids(other), "the other cluster untouched");
  });
});
