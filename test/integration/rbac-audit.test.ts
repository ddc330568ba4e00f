// RBAC equals what the operator does (issue 13, "Security, checked rather than claimed"): the
// operator process, under its ServiceAccount and the Role the project installs, is walked through
// everything it does (create, scale up and down, ports changed, a head lost, leader election,
// deletion) on a control plane that writes an audit log; then every request its
// ServiceAccount made is read back from that log. The test fails if the Role grants a verb on a
// resource that was never used, or if the operator was refused anything.
import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { testCluster, testClusterAuditLog } from "../support/cluster";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, clientsFromFile, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { edited, simulatedCluster } from "../helpers/examples";
import { leaderElectionRules, operatorRules, PolicyRule, ROLE, SERVICE_ACCOUNT } from "../../builders/rbac";
import { API_VERSION, GROUP, KIND, LABELS, PLURAL, RayCluster } from "../../api/v1/types";
import { apply, rejectsWith, serviceAccountKubeConfig, clientsFor } from "../helpers/kube";

interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** `group/resource[/subresource] verb`, as RBAC names it (the core group is ""). */
const permission = (group: string, resource: string, verb: string) => `${group}/${resource} ${verb}`;

function granted(rules: PolicyRule[]): Set<string> {
  const out = new Set<string>();
  for (const r of rules)
    for (const g of r.apiGroups) for (const res of r.resources) for (const v of r.verbs) out.add(permission(g, res, v));
  return out;
}

describe("RBAC against the audit log: the Role grants exactly what the operator uses (integration)", function () {
  this.timeout(600_000);
  let c: Clients;
  let ns: string;
  let op: OperatorProcess | undefined;

  before(async function () {
    this.timeout(1_800_000);
    const cluster = await testCluster();
    if (!cluster.local) this.skip(); // the audit log is the local control plane's
    c = clientsFromFile(cluster.kubeconfig);
  });
  afterEach(async () => {
    await op?.stop();
    if (c && ns) await deleteNamespace(c, ns);
  });

  it("uses every permission it is granted, and is refused nothing", async () => {
    ns = uniqueName("rbac");
    const kubeconfig = await operatorNamespace(c, ns);
    op = await new OperatorProcess(kubeconfig, {
      RAY_OPERATOR_POD_NAMESPACE: ns,
      OPERATOR_NAMESPACE: ns,
      POD_NAME: uniqueName("op"),
      LEADER_ELECT: "true",
      // No Ray runs on the simulated nodes: the autoscaler's requests go to Ray, not to Kubernetes.
      AUTOSCALER_INTERVAL_SECONDS: "0",
    }).start();
    const rcs = rayClusters(c, ns);
    const workers = async (cluster: string) =>
      (
        await c.core.listNamespacedPod({
          namespace: ns,
          labelSelector: `${LABELS.clusterName}=${cluster},${LABELS.nodeType}=worker`,
        })
      ).items.filter((p) => !p.metadata!.deletionTimestamp);
    const head = async (cluster: string) =>
      (
        await c.core.listNamespacedPod({
          namespace: ns,
          labelSelector: `${LABELS.clusterName}=${cluster},${LABELS.nodeType}=head`,
        })
      ).items.find((p) => !p.metadata!.deletionTimestamp);
    const ready = async (cluster: string, n: number) =>
      eventually(
        `${cluster} Ready with ${n} workers`,
        async () => {
          const rc = (await rcs.get(cluster)) as RayCluster;
          return (
            rc.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True") &&
            rc.status.observedGeneration === rc.metadata.generation &&
            (await workers(cluster)).length === n
          );
        },
        120_000,
        300,
      );

    // Create; scale up, then down; change the head Service's ports twice; lose the head; delete.
    const name = "audited";
    await rcs.create(edited(simulatedCluster("example-cluster", ns), (r) => (r.metadata.name = name)));
    await ready(name, 2);
    let rc = await rcs.get(name);
    rc.spec.podTypes[1].minWorkers = 3;
    await rcs.replace(rc);
    await ready(name, 3);
    rc = await rcs.get(name);
    rc.spec.podTypes[1].minWorkers = 1;
    rc.spec.podTypes[1].maxWorkers = 1;
    rc.spec.headServicePorts = [{ name: "metrics", port: 8080 }];
    await rcs.replace(rc);
    await ready(name, 1);
    // The same event twice (the ports updated again): the recorder bumps the first one's count.
    rc = await rcs.get(name);
    rc.spec.headServicePorts = [{ name: "metrics", port: 8081 }];
    await rcs.replace(rc);
    await eventually(
      "the Service's new port",
      async () =>
        (await c.core.readNamespacedService({ namespace: ns, name: `${name}-ray-head` })).spec!.ports!.some(
          (p) => p.port === 8081,
        ),
      60_000,
      300,
    );
    await c.core.deleteNamespacedPod({ namespace: ns, name: (await head(name))!.metadata!.name! });
    await eventually(
      "the cluster restarted",
      async () => ((await rcs.get(name)) as RayCluster).status?.headRestarts === 1,
      60_000,
      300,
    );
    await ready(name, 1);
    await rcs.delete(name);
    await eventually(
      "the pods gone",
      async () =>
        (await c.core.listNamespacedPod({ namespace: ns, labelSelector: LABELS.clusterName })).items.length === 0,
      60_000,
      300,
    );
    await op.stop();

    const user = `system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`;
    const events = readFileSync(testClusterAuditLog()!, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.user.username === user && e.stage === "ResponseComplete" && e.objectRef?.resource);
    const used = new Set(
      events.map((e) =>
        permission(
          e.objectRef!.apiGroup ?? "",
          e.objectRef!.subresource ? `${e.objectRef!.resource}/${e.objectRef!.subresource}` : e.objectRef!.resource!,
          e.verb,
        ),
      ),
    );
    const refused = events
      .filter((e) => e.responseStatus?.code === 403)
      .map((e) => {
        const ref = e.objectRef!;
        const subresource = ref.subresource ? `/${ref.subresource}` : "";
        return `${e.verb} ${ref.resource}${subresource} ${ref.name ?? ""}`;
      });
    assert.deepEqual(refused, [], "the operator was refused");
    // Checked by admission, not requested: `rayclusters/finalizers update` (the next test shows it is needed).
    const grants = new Set(
      [...granted([...operatorRules("namespace", ns), ...leaderElectionRules()])].filter(
        (g) => g !== permission(GROUP, `${PLURAL}/finalizers`, "update"),
      ),
    );
    const unused = [...grants].filter((g) => !used.has(g)).sort();
    const ungranted = [...used].filter((u) => !grants.has(u)).sort();
    assert.deepEqual({ unused, ungranted }, { unused: [], ungranted: [] }, `used: ${[...used].sort().join(", ")}`);
  });

  it("needs `rayclusters/finalizers update` to create pods that block their RayCluster's deletion", async () => {
    // OwnerReferencesPermissionEnforcement (on in the local control plane, as in some distributions)
    // lets a pod carry blockOwnerDeletion only for a user who may update its owner's finalizers.
    ns = uniqueName("rbac-fin");
    await operatorNamespace(c, ns);
    const owner = (await rayClusters(c, ns).create(simulatedCluster("example-cluster", ns))) as RayCluster;
    const pod = (name: string) => ({
      metadata: {
        name,
        ownerReferences: [
          {
            apiVersion: API_VERSION,
            kind: KIND,
            name: owner.metadata.name!,
            uid: owner.metadata.uid!,
            controller: true,
            blockOwnerDeletion: true,
          },
        ],
      },
      spec: { containers: [{ name: "c", image: "x" }] },
    });
    const asOperator = clientsFor(await serviceAccountKubeConfig(c, ns, SERVICE_ACCOUNT));
    await asOperator.core.createNamespacedPod({ namespace: ns, body: pod("with-the-role"), dryRun: "All" });
    const withoutFinalizers = operatorRules("namespace", ns).filter(
      (r) => !r.resources.some((res) => res.endsWith("/finalizers")),
    );
    await apply(c, {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: ROLE, namespace: ns },
      rules: withoutFinalizers,
    });
    const message = await eventually(
      "the narrower Role in force",
      () =>
        rejectsWith(
          403,
          asOperator.core.createNamespacedPod({ namespace: ns, body: pod("without"), dryRun: "All" }),
        ).catch(() => undefined),
      30_000,
      300,
    );
    assert.match(message, /cannot set blockOwnerDeletion/);
  });
});
