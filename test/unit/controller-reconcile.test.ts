// The controller's reconcile against an in-memory API (test/helpers/fake-kube-api.ts): the real
// informers, expectations, plan, builders, status and event recorder, with every request the
// controller makes recorded. Each test proves what did not happen by a request count that would
// have moved, and drives the passes itself (reconcile(key)), so nothing depends on timing.
import { strict as assert } from "assert";
import { LABELS, RayCluster } from "../../api/v1/types";
import { HEAD_NAME_ANNOTATION } from "../../builders/names";
import { RayClusterController } from "../../operator/controller/raycluster-controller";
import { EventRecorder } from "../../operator/kube/events";
import { ApiError } from "../../operator/kube/rest";
import { OperatorMetrics } from "../../operator/server/metrics";
import { createLogger } from "../../operator/util/log";
import { exampleCluster, edited } from "../helpers/examples";
import { asKubeRest, Call, FakeKubeApi, StoredObject } from "../helpers/fake-kube-api";

const NS = "ray";
const CLUSTERS = `/apis/cluster.ray.io/v1/namespaces/${NS}/rayclusters`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const KEY = `${NS}/example-cluster`;

/** The requests that change something (the API server's writes), dry runs apart. */
const isWrite = (c: Call) => !["GET", "WATCH"].includes(c.method) && !c.query?.dryRun;
const isDryRun = (c: Call) => c.method === "POST" && !!c.query?.dryRun;
const isPodCreate = (c: Call) => isWrite(c) && c.method === "POST" && /\/pods$/.test(c.path);
const podCreates = (api: FakeKubeApi) => api.calls.filter(isPodCreate);
const bodyLabels = (c: Call) => (c.body as StoredObject).metadata.labels ?? {};

interface Harness {
  api: FakeKubeApi;
  controller: RayClusterController;
  metrics: OperatorMetrics;
  lines: string[];
}

async function harness(): Promise<Harness> {
  const api = new FakeKubeApi();
  // A namespace that enforces a Pod Security level: the operator creates pods only in such a one.
  api.put("/api/v1/namespaces", {
    metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "baseline" } },
  });
  const lines: string[] = [];
  const log = createLogger("debug", (line) => lines.push(line));
  const metrics = new OperatorMetrics();
  const rest = asKubeRest(api);
  const events = new EventRecorder(rest, "ray-operator", "test", log);
  const controller = new RayClusterController({ rest, log, metrics, events, namespace: NS, workers: 1 });
  await controller.startInformers();
  // RayClusters, pods, Services: once their watches are open, each change reaches the cache at once.
  await api.watching(3);
  return { api, controller, metrics, lines };
}

const pods = (api: FakeKubeApi, kind?: string) =>
  api.list("api/v1/pods", NS).filter((p) => !kind || p.metadata.labels?.[LABELS.nodeType] === kind);
const clusterOf = (api: FakeKubeApi, name = "example-cluster") =>
  api.list("apis/cluster.ray.io/v1/rayclusters", NS).find((o) => o.metadata.name === name) as RayCluster | undefined;
const eventsOf = (api: FakeKubeApi) =>
  api.list("api/v1/events", NS).map((e) => ({ reason: String(e.reason), message: String(e.message) }));

/**
 * The seed's example-cluster under `name`, its pod templates without their own generateName (which
 * names example-cluster): the pods of two such clusters differ only by the cluster's name and UID.
 */
const seedNamed = (name: string) =>
  edited(exampleCluster("example-cluster", NS), (r) => {
    r.metadata.name = name;
    for (const t of r.spec.podTypes) delete t.podConfig.metadata?.generateName;
  });

/** The dry runs asked for the pods of cluster `name`. */
const dryRunsOfCluster = (api: FakeKubeApi, name: string) =>
  api.calls.filter((c) => isDryRun(c) && bodyLabels(c)[LABELS.clusterName] === name).length;

/** What the scheduler and the kubelet do: the pod is bound, runs and is ready. */
function run(api: FakeKubeApi, name: string) {
  api.modify(`${PODS}/${name}`, (pod) => {
    pod.spec = { ...(pod.spec as object), nodeName: "node-1" };
    pod.status = {
      phase: "Running",
      podIP: "10.0.0.9",
      conditions: [
        { type: "PodScheduled", status: "True" },
        { type: "Ready", status: "True" },
      ],
    };
  });
}

async function counter(metric: { get(): Promise<{ values: { labels: object; value: number }[] }> }, labels: object) {
  const found = (await metric.get()).values.find((v) => JSON.stringify(v.labels) === JSON.stringify(labels));
  return found?.value ?? 0;
}

describe("the controller's reconcile, against an in-memory API", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });
  afterEach(async () => {
    await h.controller.stop();
  });

  it("makes a new RayCluster's head, workers and Service in one pass, after a dry run per pod type", async () => {
    const { api, controller } = h;
    const rc = api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    assert.equal(await controller.reconcile(KEY), undefined);

    // The dry run comes first, once per pod type, and creates nothing.
    const firstCreate = api.calls.findIndex((c) => isWrite(c) && c.method === "POST");
    const dryRuns = api.calls.filter(isDryRun);
    assert.deepEqual(dryRuns.map((c) => bodyLabels(c)[LABELS.nodeType]).sort(), ["head", "worker"]);
    assert.ok(api.calls.indexOf(dryRuns[1]) < firstCreate, "both dry runs before the first create");

    const [head] = pods(api, "head");
    const workers = pods(api, "worker");
    assert.equal(pods(api, "head").length, 1);
    assert.equal(workers.length, 2, "the seed's minWorkers");
    assert.match(head.metadata.name, /^example-cluster-ray-head-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    for (const w of workers) {
      assert.match(w.metadata.name, /^example-cluster-ray-worker-/);
      assert.equal(w.metadata.annotations?.[HEAD_NAME_ANNOTATION], head.metadata.name, "started against this head");
    }
    for (const p of [head, ...workers]) assert.equal(p.metadata.ownerReferences?.[0].uid, rc.metadata.uid);
    const services = api.list("api/v1/services", NS);
    assert.deepEqual(
      services.map((s) => s.metadata.name),
      ["example-cluster-ray-head"],
    );

    // Everything the pass created is told in one event; status says the head is not ready yet.
    const events = eventsOf(api);
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0].reason, "Created");
    assert.match(events[0].message, new RegExp(`head pod ${head.metadata.name}`));
    assert.match(events[0].message, /worker pods example-cluster-ray-worker-\S+, example-cluster-ray-worker-/);
    assert.match(events[0].message, /head Service example-cluster-ray-head/);
    // Status tells what the pass found (nothing yet); the next pass finds what this one made.
    assert.equal(clusterOf(api)!.status!.phase, "Pending");
    assert.equal(clusterOf(api)!.status!.conditions?.find((c) => c.type === "Ready")?.message, "creating the head pod");
    assert.equal(await counter(h.metrics.podActions, { action: "create", kind: "worker", reason: "" }), 2);
    await controller.reconcile(KEY);
    const status = clusterOf(api)!.status!;
    assert.equal(status.phase, "Pending");
    assert.equal(status.head?.podName, head.metadata.name);
    assert.deepEqual(status.workers, { desired: 2, current: 2, ready: 0 });
    assert.equal(podCreates(api).length, 3, "nothing created twice");
  });

  it("writes Running once every pod is ready, and then nothing at all while nothing changes", async () => {
    const { api, controller } = h;
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await controller.reconcile(KEY);
    for (const p of pods(api)) run(api, p.metadata.name);
    await controller.reconcile(KEY);
    const status = clusterOf(api)!.status!;
    assert.equal(status.phase, "Running");
    assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "True");
    assert.equal(status.head?.podIP, "10.0.0.9");

    // A pass over a converged cluster: not one write (no status patch, no event, no pod).
    const writes = api.calls.filter(isWrite).length;
    const resourceVersion = clusterOf(api)!.metadata.resourceVersion;
    await controller.reconcile(KEY);
    await controller.reconcile(KEY);
    assert.equal(api.calls.filter(isWrite).length, writes);
    assert.equal(clusterOf(api)!.metadata.resourceVersion, resourceVersion);
  });

  it("creates nothing more while its cache has not seen its own creates, and looks again in 5 s", async () => {
    const { api, controller } = h;
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    api.holdEvents(); // the watch lags: the pods exist, the cache does not know them yet
    await controller.reconcile(KEY);
    assert.equal(podCreates(api).length, 3);
    assert.equal(controller.podsOf(clusterOf(api)!).length, 0, "the cache is behind");

    assert.deepEqual(await controller.reconcile(KEY), { requeueAfterMs: 5000 });
    assert.equal(podCreates(api).length, 3, "no duplicate from a stale cache");

    api.releaseEvents();
    assert.equal(controller.podsOf(clusterOf(api)!).length, 3);
    await controller.reconcile(KEY);
    assert.equal(podCreates(api).length, 3);
    assert.equal(pods(api).length, 3);
  });

  it("replaces a deleted worker, and only it", async () => {
    const { api, controller } = h;
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await controller.reconcile(KEY);
    for (const p of pods(api)) run(api, p.metadata.name);
    await controller.reconcile(KEY);
    const [victim, survivor] = pods(api, "worker");
    const head = pods(api, "head")[0];
    const deletesBefore = api.count("DELETE", "pods");

    api.remove(`${PODS}/${victim.metadata.name}`);
    await controller.reconcile(KEY);
    const workers = pods(api, "worker");
    assert.equal(workers.length, 2);
    assert.ok(
      workers.some((w) => w.metadata.uid === survivor.metadata.uid),
      "the other worker stays",
    );
    assert.ok(!workers.some((w) => w.metadata.uid === victim.metadata.uid));
    assert.equal(pods(api, "head")[0].metadata.uid, head.metadata.uid, "the head stays");
    assert.equal(api.count("DELETE", "pods"), deletesBefore, "nothing deleted");
    assert.equal(podCreates(api).length, 4, "three at first, one replacement");
  });

  it("marks an unworkable RayCluster Stalled, naming the field, once, and creates nothing", async () => {
    const { api, controller } = h;
    const unworkable = edited(exampleCluster("example-cluster", NS), (r: RayCluster) => {
      // Admitted by the schema, but the head Service cannot have two ports 6379 (the GCS has it).
      r.spec.headServicePorts = [{ name: "metrics", port: 6379, targetPort: 8080 }];
    });
    api.put(CLUSTERS, unworkable);
    await controller.reconcile(KEY);
    const status = clusterOf(api)!.status!;
    assert.equal(status.phase, "Error");
    const stalled = status.conditions?.find((c) => c.type === "Stalled");
    assert.equal(stalled?.status, "True");
    assert.equal(stalled?.reason, "InvalidSpec");
    assert.match(stalled?.message ?? "", /spec\.headServicePorts\[0\]\.port: Duplicate value: 6379/);
    assert.deepEqual(
      eventsOf(api).map((e) => e.reason),
      ["InvalidSpec"],
    );
    assert.equal(api.calls.filter(isDryRun).length, 0, "not even a dry run");
    assert.deepEqual(pods(api), []);
    assert.deepEqual(api.list("api/v1/services", NS), []);

    // Looked at again, unchanged: no second event, no status write.
    const writes = api.calls.filter(isWrite).length;
    await controller.reconcile(KEY);
    assert.equal(api.calls.filter(isWrite).length, writes);
  });

  it("stops on a pod refused as invalid until the spec changes, naming the RayCluster's field", async () => {
    const { api, controller } = h;
    const invalid = () =>
      new ApiError(422, "Invalid", "Pod is invalid", {
        details: { causes: [{ field: "spec.containers[0].volumeMounts[0].name", message: 'Not found: "missing"' }] },
      });
    api.fail((c) => isDryRun(c) && bodyLabels(c)[LABELS.nodeType] === "worker", invalid);
    const rc = api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await controller.reconcile(KEY);
    const stalled = clusterOf(api)!.status!.conditions?.find((c) => c.type === "Stalled");
    assert.equal(stalled?.reason, "PodCreationFailed");
    assert.match(
      stalled?.message ?? "",
      /spec\.podTypes\[1\]\.podConfig\.spec\.containers\[0\]\.volumeMounts\[0\]\.name: Not found: "missing"/,
    );
    assert.deepEqual(
      eventsOf(api).map((e) => e.reason),
      ["FailedCreate"],
    );
    assert.equal(podCreates(api).length, 0);

    // The same generation again: no retry can help, so nothing is asked.
    const dryRuns = api.calls.filter(isDryRun).length;
    assert.equal(await controller.reconcile(KEY), undefined, "not requeued either");
    assert.equal(api.calls.filter(isDryRun).length, dryRuns);
    assert.equal(podCreates(api).length, 0);

    // A new generation (here: the image) is tried again; the API server now admits it.
    api.modify(`${CLUSTERS}/example-cluster`, (o) => {
      const spec = (o as unknown as RayCluster).spec;
      spec.podTypes[1].podConfig.spec!.containers[0].image = "rayproject/ray:2.60.0-py311";
      o.metadata.generation = (rc.metadata.generation ?? 1) + 1;
    });
    await controller.reconcile(KEY);
    assert.equal(api.calls.filter(isDryRun).length, dryRuns + 2);
    assert.equal(podCreates(api).length, 3);
    assert.equal(clusterOf(api)!.status!.conditions?.find((c) => c.type === "Stalled")?.status, "False");
  });

  it("keeps the workers of a head whose create happened although its answer was lost", async () => {
    const { api, controller, lines } = h;
    const isHeadCreate = (c: Call) => isWrite(c) && c.method === "POST" && bodyLabels(c)[LABELS.nodeType] === "head";
    // The pod is created, then the connection drops before the answer arrives.
    api.fail(isHeadCreate, () => Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), { when: "after" });
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await controller.reconcile(KEY);
    const head = pods(api, "head")[0];
    assert.equal(api.count("DELETE", "pods"), 0, "no worker taken back");
    assert.equal(pods(api, "worker").length, 2);
    // It asked whether the head exists by its name (a list by field selector), then believed it.
    const lookup = api.calls.find((c) => c.method === "GET" && c.query?.fieldSelector !== undefined);
    assert.equal(lookup?.query?.fieldSelector, `metadata.name=${head.metadata.name}`);
    assert.ok(lines.some((l) => l.includes(`head pod ${head.metadata.name} was created although its create failed`)));
  });

  it("takes back the workers of a head whose create failed, then creates the head first", async () => {
    const { api, controller } = h;
    const isHeadCreate = (c: Call) => isWrite(c) && c.method === "POST" && bodyLabels(c)[LABELS.nodeType] === "head";
    api.fail(isHeadCreate, () => new ApiError(500, "InternalError", "etcdserver: request timed out"));
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    await assert.rejects(controller.reconcile(KEY), /etcdserver: request timed out/);
    assert.deepEqual(pods(api), [], "the workers made alongside were deleted");
    assert.equal(api.count("DELETE", "pods"), 2);
    const takenBack = { action: "delete", kind: "worker", reason: "HeadNotCreated" };
    assert.equal(await counter(h.metrics.podActions, takenBack), 2);

    // Next pass: one step at a time, the head's create before any worker's.
    const before = api.calls.length;
    await controller.reconcile(KEY);
    const creates = api.calls.slice(before).filter(isPodCreate);
    assert.deepEqual(
      creates.map((c) => bodyLabels(c)[LABELS.nodeType]),
      ["head", "worker", "worker"],
    );
    assert.equal(pods(api).length, 3);
  });

  it("dry-runs a pod shape once: the next cluster of the same shape is not asked again, another shape is", async () => {
    const { api, controller } = h;
    const dryRunsOf = (name: string) => dryRunsOfCluster(api, name);
    api.put(CLUSTERS, seedNamed("example-cluster"));
    await controller.reconcile(KEY);
    assert.equal(dryRunsOf("example-cluster"), 2);

    // The same template under another name of the same length (a name's length can matter to
    // validation) and another UID: admitted just now, so created without asking.
    api.put(CLUSTERS, seedNamed("twin-ex-cluster"));
    await controller.reconcile(`${NS}/twin-ex-cluster`);
    assert.equal(dryRunsOf("twin-ex-cluster"), 0);
    assert.equal(pods(api).filter((p) => p.metadata.labels?.[LABELS.clusterName] === "twin-ex-cluster").length, 3);

    // Another image on the workers: that shape is new, the head's is not.
    const other = edited(seedNamed("other-x-cluster"), (r) => {
      r.spec.podTypes[1].podConfig.spec!.containers[0].image = "rayproject/ray:2.60.0-py311";
    });
    api.put(CLUSTERS, other);
    await controller.reconcile(`${NS}/other-x-cluster`);
    const asked = api.calls.filter((c) => isDryRun(c) && bodyLabels(c)[LABELS.clusterName] === "other-x-cluster");
    assert.deepEqual(
      asked.map((c) => bodyLabels(c)[LABELS.nodeType]),
      ["worker"],
    );
  });

  it("asks one dry run per shape for clusters of one shape reconciled side by side", async () => {
    const { api, controller } = h;
    api.put(CLUSTERS, seedNamed("example-cluster"));
    api.put(CLUSTERS, seedNamed("twin-ex-cluster"));
    await Promise.all([controller.reconcile(KEY), controller.reconcile(`${NS}/twin-ex-cluster`)]);
    assert.equal(api.calls.filter(isDryRun).length, 2, "one for the head's shape, one for the workers'");
    assert.equal(pods(api).length, 6, "both clusters created their pods");
  });

  it("forgets the shapes a dry run admitted in a namespace once a real create there is refused", async () => {
    const { api, controller } = h;
    const dryRunsOf = (name: string) => dryRunsOfCluster(api, name);
    api.put(CLUSTERS, seedNamed("example-cluster"));
    await controller.reconcile(KEY);
    // Something changed in the namespace since (a quota, a policy): the twin's real creates are refused.
    const forbidden = () => new ApiError(403, "Forbidden", 'pods "x" is forbidden: exceeded quota: pods');
    const twinCreate = (c: Call) => isPodCreate(c) && bodyLabels(c)[LABELS.clusterName] === "twin-ex-cluster";
    api.fail(twinCreate, forbidden);
    api.put(CLUSTERS, seedNamed("twin-ex-cluster"));
    await controller.reconcile(`${NS}/twin-ex-cluster`);
    assert.equal(dryRunsOf("twin-ex-cluster"), 0, "the shape stood, so the twin was not asked first");
    assert.ok(api.calls.some(twinCreate), "its creates were tried and refused");
    // The next cluster of that shape is dry-run again.
    api.put(CLUSTERS, seedNamed("third-x-cluster"));
    await controller.reconcile(`${NS}/third-x-cluster`);
    assert.equal(dryRunsOf("third-x-cluster"), 2);
  });

  it("does nothing for a RayCluster that is gone", async () => {
    const { api, controller } = h;
    api.put(CLUSTERS, exampleCluster("example-cluster", NS));
    api.remove(`${CLUSTERS}/example-cluster`);
    const calls = api.calls.length;
    assert.equal(await controller.reconcile(KEY), undefined);
    assert.equal(api.calls.length, calls, "not a single request");
  });
});
