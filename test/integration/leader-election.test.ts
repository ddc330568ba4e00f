// Two operator replicas with leader election on a Lease, on the real API server: only the leader
// acts; when it stops, dies, or stalls past its lease, the other takes over; a leader that wakes
// from a stall acts on nothing. Each test has its own namespace and replicas. "Did not act" is read
// from counters that would have moved: a replica's own request metrics, the API server's audit log.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { testCluster, testClusterAuditLog } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, clientsFromFile, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { simulatedCluster } from "../helpers/examples";
import { LABELS } from "../../api/v1/types";
import { LEADER_ELECTION_LEASE } from "../../builders/rbac";

const WRITES = ["create", "update", "patch", "delete"];

/** Requests a replica sent for anything but its Lease, by verb, from its own metrics. */
async function writesBy(replica: OperatorProcess): Promise<number> {
  let total = 0;
  for (const [sample, value] of await replica.metrics()) {
    const m = /^ray_operator_api_requests_total\{verb="(\w+)",resource="([^"]+)"/.exec(sample);
    if (m && WRITES.includes(m[1]) && m[2] !== "leases") total += value;
  }
  return total;
}

describe("two operator replicas with leader election (integration)", function () {
  this.timeout(300_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let replicas: Record<string, OperatorProcess> = {};

  const start = async (id: string, env: Record<string, string> = {}) => {
    replicas[id] = await new OperatorProcess(kubeconfig, {
      RAY_OPERATOR_POD_NAMESPACE: ns,
      OPERATOR_NAMESPACE: ns,
      POD_NAME: id,
      LEADER_ELECT: "true",
      AUTOSCALER_INTERVAL_SECONDS: "0",
      ...env,
    }).start();
  };
  const holder = async () =>
    (await c.coordination.readNamespacedLease({ namespace: ns, name: LEADER_ELECTION_LEASE })).spec?.holderIdentity;
  const workers = async (cluster: string) =>
    (
      await c.core.listNamespacedPod({
        namespace: ns,
        labelSelector: `${LABELS.clusterName}=${cluster},${LABELS.nodeType}=worker`,
      })
    ).items.filter((p) => !p.metadata!.deletionTimestamp).length;
  const twoReplicas = async (env: Record<string, string> = {}) => {
    await start("replica-a", env);
    await start("replica-b", env);
    const leader = await eventually("a leader", async () => holder().catch(() => undefined), 60_000);
    return { leader, standby: leader === "replica-a" ? "replica-b" : "replica-a" };
  };

  before(async function () {
    this.timeout(1_800_000);
    c = clientsFromFile((await testCluster()).kubeconfig);
  });
  beforeEach(async () => {
    ns = uniqueName("ha");
    kubeconfig = await operatorNamespace(c, ns);
    replicas = {};
  });
  afterEach(async () => {
    for (const r of Object.values(replicas)) {
      if (r.running()) process.kill(r.pid!, "SIGCONT");
      await r.stop();
    }
    if (c) await deleteNamespace(c, ns);
  });

  it("lets only the leader act, and hands over when the leader stops", async () => {
    const { leader, standby } = await twoReplicas();
    // Both are ready: the standby's job is to wait.
    await eventually(
      "both replicas ready",
      async () =>
        (await replicas[leader].get("/readyz")).status === 200 &&
        (await replicas[standby].get("/readyz")).status === 200,
    );

    await rayClusters(c, ns).create(simulatedCluster("example-cluster", ns));
    await eventually("workers from the leader", async () => (await workers("example-cluster")) === 2);
    assert.ok((await writesBy(replicas[leader])) >= 3, "the leader created the pods");
    assert.equal(await writesBy(replicas[standby]), 0, "the standby sent no write");
    assert.match((await replicas[leader].get("/metrics", replicas[leader].metricsPort)).body, /ray_operator_leader 1/);

    // The leader stops (and releases the Lease); the standby takes over and acts.
    assert.equal(await replicas[leader].stop("SIGTERM"), 0);
    await eventually("the standby to lead", async () => (await holder()) === standby, 60_000);
    await rayClusters(c, ns).create(simulatedCluster("example-cluster2", ns));
    await eventually("workers from the new leader", async () => (await workers("example-cluster2")) === 1, 60_000);
    assert.match(replicas[standby].logs(), /acquired lease/);
    // It took over the running cluster without touching it.
    assert.doesNotMatch(replicas[standby].logs(), /example-cluster:.*(Created|Deleted)/);
  });

  it("takes over when the leader dies without releasing the Lease", async () => {
    const { leader, standby } = await twoReplicas();
    await rayClusters(c, ns).create(simulatedCluster("example-cluster", ns));
    await eventually("workers from the leader", async () => (await workers("example-cluster")) === 2);
    await replicas[leader].stop("SIGKILL");
    await eventually("the surviving replica to lead", async () => (await holder()) === standby, 60_000, 500);
    await rayClusters(c, ns).create(simulatedCluster("example-cluster2", ns));
    await eventually("workers from the new leader", async () => (await workers("example-cluster2")) === 1, 60_000);
    assert.equal(await workers("example-cluster"), 2);
  });

  it("a leader frozen past its lease is replaced, and acts on nothing when it wakes", async function () {
    const audit = testClusterAuditLog();
    if (!audit) this.skip(); // the audit log is the local control plane's
    // Short leases, so the test is quick: the holder acts 3 s past a renewal; the lease lasts 6 s.
    const { leader, standby } = await twoReplicas({
      LEASE_DURATION_SECONDS: "6",
      RENEW_DEADLINE_SECONDS: "3",
      RETRY_PERIOD_SECONDS: "1",
    });
    await rayClusters(c, ns).create(simulatedCluster("example-cluster", ns));
    await eventually("workers from the leader", async () => (await workers("example-cluster")) === 2);

    process.kill(replicas[leader].pid!, "SIGSTOP");
    await eventually("the standby to take over", async () => (await holder()) === standby, 60_000, 250);
    // Work the frozen leader will find in its queue when it wakes: a new cluster, a scaled one.
    await rayClusters(c, ns).create(simulatedCluster("example-cluster2", ns));
    const rc = await rayClusters(c, ns).get("example-cluster");
    rc.spec.podTypes[1].minWorkers = 3;
    await rayClusters(c, ns).replace(rc);
    await eventually(
      "the new leader's work",
      async () => (await workers("example-cluster2")) === 1 && (await workers("example-cluster")) === 3,
      60_000,
    );

    const wokeAt = new Date().toISOString();
    process.kill(replicas[leader].pid!, "SIGCONT");
    const code = await eventually(
      "the old leader to exit",
      async () => (replicas[leader].running() ? undefined : { code: (await replicas[leader].stop()) ?? "signal" }),
      60_000,
      250,
    );
    assert.equal(code.code, 1, "it stops, as controller-runtime does when leadership is lost");
    assert.match(replicas[leader].logs(), /lost lease/);

    // Every request the old leader's client made after waking, from the API server's audit log.
    const agent = `ray-operator/${leader}`;
    const after = readFileSync(audit!, "utf8")
      .split("\n")
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            userAgent?: string;
            verb: string;
            stage: string;
            requestReceivedTimestamp: string;
            objectRef?: { resource?: string };
          },
      )
      .filter((e) => e.userAgent === agent && e.stage === "ResponseComplete" && e.requestReceivedTimestamp >= wokeAt);
    assert.deepEqual(
      after.filter((e) => WRITES.includes(e.verb)).map((e) => `${e.verb} ${e.objectRef?.resource}`),
      [],
    );
    assert.equal(await workers("example-cluster"), 3, "no worker created or deleted twice");
    assert.equal(await workers("example-cluster2"), 1);
  });
});
