// Two operator replicas with leader election on a Lease: only the leader acts; when it stops, the
// other takes over and acts.
import { strict as assert } from "assert";
import { testCluster } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, clientsFromFile, deleteNamespace, eventually, sleep, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { simulatedCluster } from "../helpers/examples";
import { LABELS } from "../../api/v1/types";
import { LEADER_ELECTION_LEASE } from "../../builders/rbac";

describe("two operator replicas with leader election (integration)", function () {
  this.timeout(300_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  const replicas: Record<string, OperatorProcess> = {};

  const start = async (id: string) => {
    replicas[id] = await new OperatorProcess(kubeconfig, { RAY_OPERATOR_POD_NAMESPACE: ns, OPERATOR_NAMESPACE: ns, POD_NAME: id, LEADER_ELECT: "true" }).start();
  };
  const holder = async () => (await c.coordination.readNamespacedLease({ namespace: ns, name: LEADER_ELECTION_LEASE })).spec?.holderIdentity;
  const workers = async (cluster: string) =>
    (await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=${cluster},${LABELS.nodeType}=worker` })).items.filter((p) => !p.metadata!.deletionTimestamp).length;

  before(async function () {
    this.timeout(1_800_000);
    c = clientsFromFile((await testCluster()).kubeconfig);
    ns = uniqueName("ha");
    kubeconfig = await operatorNamespace(c, ns);
    await start("replica-a");
    await start("replica-b");
  });
  after(async () => {
    for (const r of Object.values(replicas)) await r.stop();
    if (c) await deleteNamespace(c, ns);
  });

  it("lets only the leader act, and hands over when the leader stops", async () => {
    const leader = await eventually("a leader", async () => holder().catch(() => undefined), 60_000);
    const standby = leader === "replica-a" ? "replica-b" : "replica-a";
    // Both are ready: the standby's job is to wait.
    await eventually("both replicas ready", async () => (await replicas[leader].get("/readyz")).status === 200 && (await replicas[standby].get("/readyz")).status === 200);

    await rayClusters(c, ns).create(simulatedCluster("example-cluster", ns));
    await eventually("workers from the leader", async () => (await workers("example-cluster")) === 2);
    await sleep(1000);
    assert.match(replicas[leader].logs(), /Created worker pod example-cluster-ray-worker-/);
    assert.doesNotMatch(replicas[standby].logs(), /Created|Deleted|caches synced/, "the standby acted");
    assert.match((await replicas[leader].get("/metrics", replicas[leader].metricsPort)).body, /ray_operator_leader 1/);

    // The leader stops (and releases the Lease); the standby takes over and acts.
    assert.equal(await replicas[leader].stop("SIGTERM"), 0);
    await eventually("the standby to lead", async () => (await holder()) === standby, 60_000);
    await rayClusters(c, ns).create(simulatedCluster("example-cluster2", ns));
    await eventually("workers from the new leader", async () => (await workers("example-cluster2")) === 1, 60_000);
    assert.match(replicas[standby].logs(), /acquired lease/);
    // The pod can be listed a moment before the operator has read its create response and logged it.
    await eventually("the new leader's log of its creates", async () => /Created worker pod example-cluster2-ray-worker-/.test(replicas[standby].logs()), 5000);
    // It took over the running cluster without touching it.
    assert.doesNotMatch(replicas[standby].logs(), /example-cluster:.*(Created|Deleted)/);
  });

  it("takes over even when the leader dies without releasing the Lease", async () => {
    const leader = await holder();
    assert.ok(leader && replicas[leader].running());
    const other = leader === "replica-a" ? "replica-b" : "replica-a";
    await start(other);
    await sleep(3000);
    await replicas[leader].stop("SIGKILL");
    await eventually("the surviving replica to lead", async () => (await holder()) === other, 60_000, 500);
    assert.equal(await workers("example-cluster"), 2);
  });
});
