// Which namespaces the operator runs pods in (issue 13, security): `podConfig` is any pod spec, so
// whoever may create a RayCluster may run what it describes. Cluster-wide, the operator runs only the
// RayClusters of namespaces that opted in (label cluster.ray.io/operator=<its namespace>), and it
// creates no pod in a namespace that enforces no Pod Security level. Both are shown against the real
// API server, with the operator under the ClusterRole the project installs; "left alone" is read from
// the API server's audit log (a request the operator made there would be in it), not from a pause.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { testCluster, testClusterAuditLog } from "../support/cluster";
import { OperatorProcess, serviceAccountToken, writeKubeconfigWithToken } from "../../scripts/operator-process";
import { apply, Clients, clientsFromFile, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { installCrd, rayClusters } from "../helpers/operator-env";
import { simulatedCluster } from "../helpers/examples";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects, ROLE, ROLE_BINDING, SERVICE_ACCOUNT } from "../../builders/rbac";
import { LABELS, OPERATOR_OPT_IN_LABEL, POD_SECURITY_ENFORCE_LABEL, RayCluster } from "../../api/v1/types";
import type { Namespace } from "../../api/v1/kube-types";

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string };
}

/** A namespace with the labels given and nothing else (no Pod Security level unless asked). */
function bareNamespace(name: string, labels: Record<string, string>): Namespace {
  return { apiVersion: "v1", kind: "Namespace", metadata: { name, labels } };
}

describe("namespaces the operator runs pods in: opt-in cluster-wide, Pod Security required (integration)", function () {
  this.timeout(600_000);
  let c: Clients;
  let op: OperatorProcess | undefined;
  const created: string[] = [];

  before(async function () {
    this.timeout(1_800_000); // a cold machine builds the control plane first
    const cluster = await testCluster();
    if (!cluster.local) this.skip(); // the audit log and the ClusterRole are the local control plane's
    c = clientsFromFile(cluster.kubeconfig);
    await installCrd(c);
  });
  afterEach(async () => {
    await op?.stop();
    op = undefined;
    for (const ns of created.splice(0)) await deleteNamespace(c, ns);
    // The cluster-scoped grants carry the operator's namespace in their names (rbacObjects).
    for (const home of homes.splice(0)) {
      await c.rbac.deleteClusterRoleBinding({ name: `${ROLE_BINDING}-${home}` }).catch(() => undefined);
      await c.rbac.deleteClusterRole({ name: `${ROLE}-${home}` }).catch(() => undefined);
    }
  });
  const homes: string[] = [];

  /** An operator watching all namespaces, installed in its own namespace with the cluster-wide RBAC. */
  async function clusterWideOperator(): Promise<{ home: string; user: string }> {
    const home = uniqueName("gate-op");
    homes.push(home);
    created.push(home);
    await apply(c, namespaceObject(home, "baseline"));
    for (const obj of rbacObjects(home, "cluster")) await apply(c, obj);
    const kubeconfig = writeKubeconfigWithToken(c.kc, await serviceAccountToken(c.kc, home, SERVICE_ACCOUNT), home);
    op = await new OperatorProcess(kubeconfig, {
      OPERATOR_NAMESPACE: home,
      POD_NAME: uniqueName("op"),
      LEADER_ELECT: "true",
      AUTOSCALER_INTERVAL_SECONDS: "0", // no Ray runs on the simulated nodes
    }).start();
    return { home, user: `system:serviceaccount:${home}:${SERVICE_ACCOUNT}` };
  }

  const podsIn = async (ns: string) => (await c.core.listNamespacedPod({ namespace: ns })).items;
  const condition = (rc: RayCluster, type: string) => rc.status?.conditions?.find((x) => x.type === type);
  const readyWithPods = (ns: string, name: string) =>
    eventually(
      `${ns}/${name} Ready`,
      async () => {
        const rc = (await rayClusters(c, ns).get(name)) as RayCluster;
        const pods = (await podsIn(ns)).filter((p) => p.metadata?.labels?.[LABELS.clusterName] === name);
        return condition(rc, "Ready")?.status === "True" && pods.length === 3 ? pods : undefined;
      },
      120_000,
      300,
    );
  /** What `user` asked of the API server about objects in `ns`, from the audit log. */
  const requestsIn = (user: string, ns: string) =>
    readFileSync(testClusterAuditLog()!, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line) as AuditEvent)
      .filter((e) => e.user.username === user && e.stage === "ResponseComplete" && e.objectRef?.namespace === ns)
      .map((e) => `${e.verb} ${e.objectRef!.resource}/${e.objectRef!.name ?? ""}`);

  it("cluster-wide, runs only the RayClusters of namespaces that opted in, and one that opts in later", async () => {
    const { home, user } = await clusterWideOperator();
    const enforce = { [POD_SECURITY_ENFORCE_LABEL]: "baseline" };
    const optedIn = uniqueName("gate-in");
    const other = uniqueName("gate-out");
    created.push(optedIn, other);
    await apply(c, bareNamespace(optedIn, { ...enforce, [OPERATOR_OPT_IN_LABEL]: home }));
    await apply(c, bareNamespace(other, enforce));
    // The other namespace's cluster is created first: by the time the opted-in one is Ready, the
    // operator has had every chance to act on it.
    await rayClusters(c, other).create(simulatedCluster("example-cluster", other));
    await rayClusters(c, optedIn).create(simulatedCluster("example-cluster", optedIn));
    await readyWithPods(optedIn, "example-cluster");

    const untouched = (await rayClusters(c, other).get("example-cluster")) as RayCluster;
    assert.equal(untouched.status, undefined, "no status written in a namespace that did not opt in");
    assert.deepEqual(await podsIn(other), [], "no pod created there");
    assert.deepEqual(requestsIn(user, other), [], "the operator made no request about that namespace's objects");
    assert.ok(
      requestsIn(user, optedIn).some((r) => r.startsWith("create pods/")),
      "while it did create pods here",
    );

    // Its owners opt in: the operator picks the cluster up from the namespace's watch.
    await apply(c, bareNamespace(other, { ...enforce, [OPERATOR_OPT_IN_LABEL]: home }));
    await readyWithPods(other, "example-cluster");
  });

  it("creates no pod in a namespace with no Pod Security level: Stalled, naming the label; then runs it", async () => {
    const { home } = await clusterWideOperator();
    const lax = uniqueName("gate-lax");
    created.push(lax);
    await apply(c, bareNamespace(lax, { [OPERATOR_OPT_IN_LABEL]: home }));
    await rayClusters(c, lax).create(simulatedCluster("example-cluster", lax));
    const stalled = await eventually(
      "Stalled",
      async () => {
        const rc = (await rayClusters(c, lax).get("example-cluster")) as RayCluster;
        return condition(rc, "Stalled")?.status === "True" ? condition(rc, "Stalled") : undefined;
      },
      60_000,
      300,
    );
    assert.match(
      stalled!.message ?? "",
      new RegExp(`namespace ${lax} enforces no Pod Security level .*${POD_SECURITY_ENFORCE_LABEL}`),
    );
    assert.deepEqual(await podsIn(lax), [], "no pod created");

    // A level is set: the namespace's watch brings the cluster back, and it runs.
    await apply(c, bareNamespace(lax, { [OPERATOR_OPT_IN_LABEL]: home, [POD_SECURITY_ENFORCE_LABEL]: "baseline" }));
    await readyWithPods(lax, "example-cluster");
  });
});
