// The operator walks the seed on a real API server: the compiled operator process, running under the
// ServiceAccount and RBAC the project defines, turns RayClusters into pods on kwok nodes and keeps
// them there through edits, failures, restarts and a second replica.
import { strict as assert } from "assert";
import { testCluster } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, apply, clientsFromFile, deleteNamespace, eventually, rejectsWith, sleep, statusCode, toModel, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters, rayClusterTable } from "../helpers/operator-env";
import { simulatedCluster, edited } from "../helpers/examples";
import { LABELS } from "../../api/v1/types";

type PodLite = { name: string; uid: string; kind: string; type: string; phase: string; ready: boolean; hash: string };

async function podsOf(c: Clients, ns: string, cluster: string): Promise<PodLite[]> {
  const list = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=${cluster}` });
  return list.items
    .filter((p) => !p.metadata!.deletionTimestamp)
    .map((p) => ({
      name: p.metadata!.name!,
      uid: p.metadata!.uid!,
      kind: p.metadata!.labels![LABELS.nodeType],
      type: p.metadata!.labels![LABELS.userNodeType],
      phase: p.status?.phase ?? "",
      ready: !!p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True"),
      hash: p.metadata!.labels![LABELS.launchConfig],
    }));
}

/** Waits until the cluster has exactly one ready head and `workers` ready workers, and reports Ready. */
async function converged(c: Clients, ns: string, cluster: string, workers: number, timeoutMs = 90_000): Promise<PodLite[]> {
  return eventually(
    `${cluster}: 1 head and ${workers} workers ready`,
    async () => {
      const pods = await podsOf(c, ns, cluster);
      const heads = pods.filter((p) => p.kind === "head");
      const ws = pods.filter((p) => p.kind === "worker");
      if (heads.length !== 1 || ws.length !== workers || !pods.every((p) => p.phase === "Running" && p.ready)) return undefined;
      const rc = await rayClusters(c, ns).get(cluster);
      const ready = rc.status?.conditions?.find((x: any) => x.type === "Ready");
      return ready?.status === "True" && rc.status.observedGeneration === rc.metadata.generation ? pods : undefined;
    },
    timeoutMs,
    300,
  );
}

const uids = (pods: PodLite[]) => pods.map((p) => p.uid).sort();

describe("the operator (integration: real API server, the operator process under its ServiceAccount)", function () {
  this.timeout(300_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let op: OperatorProcess;
  const rcs = () => rayClusters(c, ns);
  const startOperator = async (env: Record<string, string> = {}) => {
    // No Ray runs on kwok's nodes; the autoscaler has its own tests with real Ray (autoscaling.test.ts).
    const p = await new OperatorProcess(kubeconfig, { RAY_OPERATOR_POD_NAMESPACE: ns, OPERATOR_NAMESPACE: ns, POD_NAME: uniqueName("op"), AUTOSCALER_INTERVAL_SECONDS: "0", ...env }).start();
    await eventually("the operator to be ready", async () => p.running() && (await p.get("/readyz").catch(() => ({ status: 0 }))).status === 200, 60_000);
    return p;
  };
  const restartOperator = async (env: Record<string, string> = {}) => {
    await op.stop();
    op = await startOperator(env);
  };

  before(async function () {
    this.timeout(1_800_000);
    const cluster = await testCluster();
    c = clientsFromFile(cluster.kubeconfig);
    ns = uniqueName("ray");
    kubeconfig = await operatorNamespace(c, ns);
    op = await startOperator();
  });
  after(async () => {
    await op?.stop();
    if (c) await deleteNamespace(c, ns);
  });
  afterEach(function () {
    if (this.currentTest?.state === "failed") {
      require("fs").writeFileSync("/tmp/operator-test.log", op.logs());
      console.error(`--- operator log (last 60 lines; all in /tmp/operator-test.log) ---\n${op.logs().split("\n").slice(-60).join("\n")}`);
    }
  });

  it("launches example-cluster: a head and 2 workers, named as in the seed", async () => {
    await rcs().create(simulatedCluster("example-cluster", ns));
    const pods = await converged(c, ns, "example-cluster", 2);
    assert.match(pods.find((p) => p.kind === "head")!.name, /^example-cluster-ray-head-[a-z0-9]{5}$/);
    for (const w of pods.filter((p) => p.kind === "worker")) {
      assert.match(w.name, /^example-cluster-ray-worker-[a-z0-9]{5}$/);
      assert.equal(w.type, "worker-nodes");
    }
    const svc = await c.core.readNamespacedService({ namespace: ns, name: "example-cluster-ray-head" });
    assert.deepEqual(svc.spec!.ports!.map((p) => p.port), [6379, 10001, 8265]);
  });

  it("launches example-cluster2 beside it: a head and 1 worker", async () => {
    await rcs().create(simulatedCluster("example-cluster2", ns));
    const pods = await converged(c, ns, "example-cluster2", 1);
    assert.match(pods.find((p) => p.kind === "worker")!.name, /^example-cluster2-ray-worker-[a-z0-9]{5}$/);
  });

  it("lists both RayClusters with healthy columns", async () => {
    const rows = await rayClusterTable(c.kc, ns);
    const byName = Object.fromEntries(rows.map((r) => [r.Name, r]));
    assert.deepEqual([byName["example-cluster"].Status, byName["example-cluster"].Ready, byName["example-cluster"].Workers, byName["example-cluster"].Desired], ["Running", "True", 2, 2]);
    assert.deepEqual([byName["example-cluster2"].Status, byName["example-cluster2"].Ready, byName["example-cluster2"].Workers, byName["example-cluster2"].Desired], ["Running", "True", 1, 1]);
    const rc = await rcs().get("example-cluster");
    assert.equal(rc.status.head.serviceName, "example-cluster-ray-head");
    assert.ok(rc.status.head.podIP, "head pod IP in status");
    const reconciling = rc.status.conditions.find((x: any) => x.type === "Reconciling");
    assert.equal(reconciling.status, "False");
    assert.equal(rc.status.conditions.find((x: any) => x.type === "Stalled").status, "False");
  });

  it("writes per-cluster log lines that `grep ^example-cluster2:` selects", () => {
    const lines = op.logs().split("\n").filter((l) => /^example-cluster2:/.test(l));
    assert.ok(lines.some((l) => /Created head pod example-cluster2-ray-head-/.test(l)), lines.join("\n"));
    assert.ok(lines.some((l) => /Created worker pod example-cluster2-ray-worker-/.test(l)));
    assert.ok(lines.every((l) => !/example-cluster-ray-/.test(l)), "no line of example-cluster under example-cluster2:");
    assert.match(lines[0], /^example-cluster2:\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (INFO|WARN|DEBUG|ERROR) /);
  });

  it("serves /healthz, /readyz and Prometheus /metrics", async () => {
    assert.equal((await op.get("/healthz")).status, 200);
    assert.equal((await op.get("/readyz")).status, 200);
    const metrics = (await op.get("/metrics", op.metricsPort)).body;
    assert.match(metrics, /ray_operator_reconcile_total\{result="success"\} \d+/);
    assert.match(metrics, /ray_operator_pod_actions_total\{action="create",kind="worker",reason=""\} 3/);
    assert.match(metrics, /ray_operator_api_requests_total\{verb="create",resource="pods",code="201"\} 5/);
    assert.match(metrics, /ray_operator_workqueue_depth \d+/);
  });

  it("adds workers when minWorkers is raised, touching no other pod", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const rc = await rcs().get("example-cluster2");
    rc.spec.podTypes[1].minWorkers = 2;
    await rcs().replace(rc);
    const after = await converged(c, ns, "example-cluster2", 2);
    for (const uid of uids(before)) assert.ok(uids(after).includes(uid), "an existing pod was replaced");
  });

  it("paces a scale-up by the scheduler: a few workers at a time wait for it, unschedulable ones do not count", async () => {
    await restartOperator({ MAX_UNSCHEDULED_WORKERS: "3" });
    const paced = edited(simulatedCluster("example-cluster", ns), (r) => {
      r.metadata.name = "paced";
      r.spec.maxWorkers = 10;
      r.spec.podTypes[1].minWorkers = 10;
      r.spec.podTypes[1].maxWorkers = 10;
      // No scheduler serves this name: the workers are never looked at.
      r.spec.podTypes[1].podConfig.spec.schedulerName = "no-such-scheduler";
    });
    await rcs().create(paced);
    const workers = async () => (await podsOf(c, ns, "paced")).filter((p) => p.kind === "worker");
    await eventually("3 workers created", async () => (await workers()).length === 3, 30_000);
    await sleep(3000);
    assert.equal((await workers()).length, 3, "no worker beyond the window while the scheduler has not looked at any");
    const rc = await rcs().get("paced");
    assert.equal(rc.status.podTypes.find((t: any) => t.name === "worker-nodes").desired, 10, "status still wants 10");
    assert.equal((await op.metrics()).get("ray_operator_workers_deferred"), 7, "the held-back workers are in the metrics");
    assert.match(op.logs(), /^paced:.*pacing the scale-up: 7 more workers/m);

    // Unschedulable (no node matches) is a verdict: those pods leave the window, so all 10 exist.
    const unschedulable = await rcs().get("paced");
    delete unschedulable.spec.podTypes[1].podConfig.spec.schedulerName;
    unschedulable.spec.podTypes[1].podConfig.spec.nodeSelector = { "no-such-label": "x" };
    await rcs().replace(unschedulable);
    await eventually("10 unschedulable workers", async () => {
      const ws = await workers();
      return ws.length === 10 && ws.every((p) => p.phase === "Pending");
    }, 60_000, 300);

    // Schedulable again: each pod the scheduler takes makes room for the next, up to 10 Ready.
    const schedulable = await rcs().get("paced");
    delete schedulable.spec.podTypes[1].podConfig.spec.nodeSelector;
    await rcs().replace(schedulable);
    await converged(c, ns, "paced", 10, 90_000);
    assert.equal((await op.metrics()).get("ray_operator_workers_deferred"), 0);
    await rcs().delete("paced");
    await restartOperator();
  });

  it("replaces a deleted worker pod", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const victim = before.find((p) => p.kind === "worker")!;
    await c.core.deleteNamespacedPod({ namespace: ns, name: victim.name });
    const after = await eventually("a replacement worker", async () => {
      const pods = await converged(c, ns, "example-cluster2", 2);
      return pods.some((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.ok(!uids(after).includes(victim.uid));
    assert.equal(after.filter((p) => uids(before).includes(p.uid)).length, 2, "only the deleted pod was replaced");
  });

  it("replaces a failed worker pod", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const victim = before.find((p) => p.kind === "worker")!;
    await c.core.patchNamespacedPodStatus({ namespace: ns, name: victim.name, body: [{ op: "replace", path: "/status/phase", value: "Failed" }] });
    const after = await eventually("the failed worker replaced", async () => {
      const pods = await converged(c, ns, "example-cluster2", 2);
      return pods.some((p) => p.uid === victim.uid) ? undefined : pods;
    });
    assert.equal(after.filter((p) => uids(before).includes(p.uid)).length, 2);
  });

  it("replaces the workers whose pod template changed, and keeps the head", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const rc = await rcs().get("example-cluster2");
    rc.spec.podTypes[1].podConfig.spec.containers[0].image = "rayproject/ray:2.60.0-py311";
    await rcs().replace(rc);
    const after = await eventually("new worker pods", async () => {
      const pods = await converged(c, ns, "example-cluster2", 2);
      return pods.filter((p) => p.kind === "worker").every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.equal(after.find((p) => p.kind === "head")!.uid, before.find((p) => p.kind === "head")!.uid, "the head was kept");
    const pod = await c.core.readNamespacedPod({ namespace: ns, name: after.find((p) => p.kind === "worker")!.name });
    assert.equal(pod.spec!.containers[0].image, "rayproject/ray:2.60.0-py311");
  });

  it("restarts the whole cluster when a label is added (the seed's `try: again`)", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const rc = await rcs().get("example-cluster2");
    rc.metadata.labels = { ...(rc.metadata.labels ?? {}), try: "again" };
    await rcs().replace(rc);
    const after = await eventually("every pod replaced", async () => {
      const pods = await converged(c, ns, "example-cluster2", 2);
      return pods.every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    assert.equal(after.length, 3);
  });

  it("restarts the cluster when its head pod is deleted, and says so", async () => {
    const before = await podsOf(c, ns, "example-cluster2");
    const restarts = (await rcs().get("example-cluster2")).status.headRestarts ?? 0;
    await c.core.deleteNamespacedPod({ namespace: ns, name: before.find((p) => p.kind === "head")!.name });
    await eventually("a new head and new workers", async () => {
      const pods = await converged(c, ns, "example-cluster2", 2);
      return pods.every((p) => !uids(before).includes(p.uid)) ? pods : undefined;
    });
    const rc = await rcs().get("example-cluster2");
    assert.equal(rc.status.headRestarts, restarts + 1);
    const events = await c.core.listNamespacedEvent({ namespace: ns, fieldSelector: `involvedObject.name=example-cluster2` });
    assert.ok(events.items.some((e) => e.reason === "ClusterRestart"), "a ClusterRestart event");
    assert.ok(events.items.some((e) => e.reason === "Created" && /head pod example-cluster2-ray-head-.*worker pods example-cluster2-ray-worker-/.test(e.message ?? "")), "a Created event naming the new head and workers");
    assert.ok(events.items.some((e) => e.reason === "DeletedPod" && /HeadReplaced/.test(e.message ?? "")), "DeletedPod events for the workers");
  });

  it("marks an unworkable RayCluster Stalled, naming the field, and creates nothing", async () => {
    const bad = edited(simulatedCluster("example-cluster", ns), (r) => {
      r.metadata.name = "unworkable";
      // Admitted by the schema, but the head Service cannot have two ports 6379 (the GCS has it).
      r.spec.headServicePorts = [{ name: "metrics", port: 6379, targetPort: 8080 }];
    });
    await rcs().create(bad);
    const rc = await eventually("the Stalled condition", async () => {
      const got = await rcs().get("unworkable");
      return got.status?.conditions?.find((x: any) => x.type === "Stalled" && x.status === "True") ? got : undefined;
    });
    const stalled = rc.status.conditions.find((x: any) => x.type === "Stalled");
    assert.equal(stalled.reason, "InvalidSpec");
    assert.match(stalled.message, /spec\.headServicePorts\[0\]\.port: Duplicate value: 6379/);
    assert.equal(rc.status.phase, "Error");
    assert.equal(rc.status.conditions.find((x: any) => x.type === "Ready").status, "False");
    // The pass that wrote Stalled is the pass that would have created pods: it created none.
    assert.deepEqual(await podsOf(c, ns, "unworkable"), []);
    await rejectsWith(404, c.core.readNamespacedService({ namespace: ns, name: "unworkable-ray-head" }));
    await rcs().delete("unworkable");
  });

  it("stops on a pod the API server refuses as invalid, naming the RayCluster's field, until the spec changes", async () => {
    // Admitted by the CRD's schema, refused by the Pod's own validation: a mount of a volume that does not exist.
    const bad = edited(simulatedCluster("example-cluster", ns), (r) => {
      r.metadata.name = "invalid-pod";
      r.spec.podTypes[1].podConfig.spec.containers[0].volumeMounts = [{ name: "missing", mountPath: "/data" }];
    });
    const counts = async () => {
      const m = await op.metrics();
      return {
        refused: m.get('ray_operator_api_requests_total{verb="create_dry_run",resource="pods",code="422"}') ?? 0,
        creates: m.get('ray_operator_api_requests_total{verb="create",resource="pods",code="201"}') ?? 0,
        passes: m.get('ray_operator_reconcile_total{result="success"}') ?? 0,
      };
    };
    const before = await counts();
    await rcs().create(bad);
    const rc = await eventually("the Stalled condition", async () => {
      const got = await rcs().get("invalid-pod");
      return got.status?.conditions?.find((x: any) => x.type === "Stalled" && x.status === "True") ? got : undefined;
    });
    const stalled = rc.status.conditions.find((x: any) => x.type === "Stalled");
    assert.equal(stalled.reason, "PodCreationFailed");
    assert.match(stalled.message, /spec\.podTypes\[1\]\.podConfig\.spec\.containers\[0\]\.volumeMounts\[0\]\.name: Not found: "missing"/);
    const refused = await counts();
    assert.equal(refused.creates, before.creates, "nothing created");
    // More passes (a label change wakes the cluster without changing its generation): not retried.
    const labelled = await rcs().get("invalid-pod");
    labelled.metadata.labels = { ...(labelled.metadata.labels ?? {}), touched: "yes" };
    await rcs().replace(labelled);
    await eventually("another pass", async () => (await counts()).passes > refused.passes);
    assert.equal((await counts()).refused, refused.refused, "the refusal was not asked again");
    // A new generation is tried again: fixed, it runs.
    const fixed = await rcs().get("invalid-pod");
    delete fixed.spec.podTypes[1].podConfig.spec.containers[0].volumeMounts;
    await rcs().replace(fixed);
    await converged(c, ns, "invalid-pod", 2, 90_000);
    await rcs().delete("invalid-pod");
  });

  it("keeps the workers of a new head whose create succeeded although its answer was lost", async () => {
    // The failpoint drops the answer to every head create that succeeded, as a dropped connection would.
    await restartOperator({ RAY_OPERATOR_FAILPOINT: "lose-head-create-answer" });
    try {
      await rcs().create(edited(simulatedCluster("example-cluster", ns), (r) => (r.metadata.name = "lost-answer")));
      await converged(c, ns, "lost-answer", 2);
      const m = await op.metrics();
      assert.equal(m.get('ray_operator_pod_actions_total{action="delete",kind="worker",reason="HeadNotCreated"}') ?? 0, 0, "no worker taken back");
      assert.equal(m.get('ray_operator_pod_actions_total{action="create",kind="worker",reason=""}'), 2, "each worker created once");
      assert.match(op.logs(), /head pod lost-answer-\S+ was created although its create failed \(socket hang up\)/);
      await rcs().delete("lost-answer");
    } finally {
      await restartOperator();
    }
  });

  it("creates no worker for a head the API server refuses, and the cluster once it admits the head", async () => {
    // A real admission refusal of head pods only (ValidatingAdmissionPolicy): the operator's dry run
    // of the head and one worker per type finds it before anything is created.
    const policy = uniqueName("no-heads");
    await apply(c, {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicy",
      metadata: { name: policy },
      spec: {
        failurePolicy: "Fail",
        matchConstraints: { resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }] },
        validations: [{ expression: `!(object.metadata.?labels["${LABELS.nodeType}"].orValue("") == "head" && object.metadata.?labels["${LABELS.clusterName}"].orValue("") == "refused")`, message: "no head pods for refused here", reason: "Forbidden" }],
      },
    });
    await apply(c, {
      apiVersion: "admissionregistration.k8s.io/v1",
      kind: "ValidatingAdmissionPolicyBinding",
      metadata: { name: policy },
      spec: { policyName: policy, validationActions: ["Deny"], matchResources: { namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": ns } } } },
    });
    const probe = { metadata: { name: "probe", labels: { [LABELS.nodeType]: "head", [LABELS.clusterName]: "refused" } }, spec: { containers: [{ name: "c", image: "x" }] } };
    await eventually("the policy in force", () => c.core.createNamespacedPod({ namespace: ns, body: probe, dryRun: "All" }).then(() => false, (e) => statusCode(e) === 403));
    const counts = async () => {
      const m = await op.metrics();
      return {
        creates: m.get('ray_operator_api_requests_total{verb="create",resource="pods",code="201"}') ?? 0,
        refusedDryRuns: m.get('ray_operator_api_requests_total{verb="create_dry_run",resource="pods",code="403"}') ?? 0,
      };
    };
    const before = await counts();

    await rcs().create(edited(simulatedCluster("example-cluster", ns), (r) => (r.metadata.name = "refused")));
    const rc = await eventually("the Stalled condition", async () => {
      const got = await rcs().get("refused");
      return got.status?.conditions?.find((x: any) => x.type === "Stalled" && x.status === "True") ? got : undefined;
    });
    const stalled = rc.status.conditions.find((x: any) => x.type === "Stalled");
    assert.equal(stalled.reason, "PodCreationFailed");
    assert.match(stalled.message, /head pod of type head-node \(dry run\) refused: spec\.podTypes\[0\]\.podConfig: .*no head pods for refused here/);
    const events = await c.core.listNamespacedEvent({ namespace: ns, fieldSelector: "involvedObject.name=refused" });
    assert.ok(events.items.some((e) => e.reason === "FailedCreate" && /dry run/.test(e.message ?? "")), "a FailedCreate event");
    // Tried again (a 403 may change without the RayCluster changing), and still nothing created.
    await eventually("a second refused dry run", async () => (await counts()).refusedDryRuns >= before.refusedDryRuns + 2, 30_000);
    assert.equal((await counts()).creates, before.creates, "not one pod created");
    assert.deepEqual(await podsOf(c, ns, "refused"), []);

    await c.objects.delete(toModel({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicyBinding", metadata: { name: policy } }));
    await c.objects.delete(toModel({ apiVersion: "admissionregistration.k8s.io/v1", kind: "ValidatingAdmissionPolicy", metadata: { name: policy } }));
    await converged(c, ns, "refused", 2, 90_000);
    await rcs().delete("refused");
  });

  it("leaves running clusters untouched when the operator restarts", async () => {
    const before = [...(await podsOf(c, ns, "example-cluster")), ...(await podsOf(c, ns, "example-cluster2"))];
    await restartOperator();
    await sleep(5000);
    const after = [...(await converged(c, ns, "example-cluster", 2)), ...(await converged(c, ns, "example-cluster2", 2))];
    assert.deepEqual(uids(after), uids(before));
    assert.doesNotMatch(op.logs(), /Created|Deleted/);
    assert.match((await op.get("/metrics", op.metricsPort)).body, /ray_operator_reconcile_total\{result="success"\} [1-9]/);
  });

  it("never duplicates or replaces pods when killed in the middle of creating many workers", async () => {
    // A slow client, so the kill lands in the middle of the creates.
    await restartOperator({ KUBE_API_QPS: "4", KUBE_API_BURST: "4" });
    const big = edited(simulatedCluster("example-cluster", ns), (r) => {
      r.metadata.name = "big";
      r.spec.maxWorkers = 40;
      r.spec.podTypes[1].minWorkers = 40;
      r.spec.podTypes[1].maxWorkers = 40;
      delete r.spec.podTypes[0].podConfig.metadata.generateName;
      delete r.spec.podTypes[1].podConfig.metadata.generateName;
    });
    await rcs().create(big);
    const partial = await eventually("some workers created", async () => {
      const pods = await podsOf(c, ns, "big");
      return pods.filter((p) => p.kind === "worker").length >= 4 ? pods : undefined;
    });
    await op.stop("SIGKILL");
    const atKill = await podsOf(c, ns, "big");
    assert.ok(atKill.filter((p) => p.kind === "worker").length < 40, "the kill landed before all workers existed");
    op = await startOperator();
    const after = await converged(c, ns, "big", 40, 120_000);
    await sleep(2000);
    const final = await podsOf(c, ns, "big");
    assert.equal(final.filter((p) => p.kind === "worker").length, 40, "no duplicate workers");
    assert.equal(final.filter((p) => p.kind === "head").length, 1, "one head");
    for (const p of atKill) assert.ok(uids(after).includes(p.uid), `pod ${p.name} created before the kill was replaced`);
    assert.ok(partial.length > 0);
    await rcs().delete("big");
  });

  it("removes every pod and the Service when the RayCluster is deleted", async () => {
    await rcs().delete("example-cluster2");
    await eventually("example-cluster2's pods and Service gone", async () => {
      const pods = await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=example-cluster2` });
      const svc = await c.core.readNamespacedService({ namespace: ns, name: "example-cluster2-ray-head" }).then(() => true, () => false);
      return pods.items.length === 0 && !svc;
    }, 120_000, 500);
    // The other cluster is untouched.
    await converged(c, ns, "example-cluster", 2);
  });
});
