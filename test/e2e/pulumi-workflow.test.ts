// The user's whole workflow with the real Pulumi engine and Kubernetes provider, on a control plane of
// its own: a fresh dev stack, `pulumi up`, the operator running under the RBAC Pulumi installed,
// a config edit and `pulumi up`, a no-change `pulumi up`, `pulumi destroy`, and a broken config
// that `pulumi preview` refuses before touching anything.
import { strict as assert } from "assert";
import { mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import YAML from "yaml";
import { privateCluster } from "../support/cluster";
import { OperatorProcess, serviceAccountToken, tokenKubeconfig } from "../../scripts/operator-process";
import { Clients, clientsFromFile, eventually, rejectsWith, sleep } from "../helpers/kube";
import { ensurePulumi, pulumi, pulumiEnv, PulumiResult } from "../../scripts/pulumi-cli";
import { ROOT } from "../helpers/examples";
import { CRD_NAME, GROUP, LABELS, PLURAL, VERSION } from "../../api/v1/types";
import { SERVICE_ACCOUNT, ROLE, ROLE_BINDING, LEADER_ELECTION_ROLE } from "../../builders/rbac";

const ok = (r: PulumiResult, what: string) => assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);

describe("pulumi up / config edit / destroy with the real Pulumi engine (e2e)", function () {
  this.timeout(900_000);
  let c: Clients;
  let env: NodeJS.ProcessEnv;
  let configFile: string;
  let project: string;
  let stopCluster = () => {};
  let op: OperatorProcess | undefined;
  const ns = "ray";
  const run = (args: string[]) => pulumi([...args, "--stack", "dev"], env, { cwd: project });
  const workerUids = async (cluster: string, kind = "worker") =>
    (await c.core.listNamespacedPod({ namespace: ns, labelSelector: `${LABELS.clusterName}=${cluster},${LABELS.nodeType}=${kind}` })).items
      .filter((p) => !p.metadata!.deletionTimestamp && p.status?.phase === "Running")
      .map((p) => p.metadata!.uid!)
      .sort();
  const allUids = async () => [...(await workerUids("example-cluster", "head")), ...(await workerUids("example-cluster")), ...(await workerUids("example-cluster2", "head")), ...(await workerUids("example-cluster2"))].sort();

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the Kubernetes and Pulumi binaries first
    const binDir = ensurePulumi();
    const cluster = await privateCluster();
    stopCluster = cluster.stop;
    c = clientsFromFile(cluster.kubeconfig);
    const work = mkdtempSync(join(tmpdir(), "ray-operator-pulumi-"));
    // The project as a user has it, but in a directory of its own: Pulumi writes the stack file
    // (config edits, the secrets salt), and the repository's copy must stay as committed.
    project = join(work, "project");
    require("fs").mkdirSync(project);
    for (const entry of readdirSync(ROOT)) {
      if ([".git", ".pulumi-state", ".cluster", "Pulumi.dev.yaml"].includes(entry)) continue;
      symlinkSync(join(ROOT, entry), join(project, entry));
    }
    configFile = join(project, "Pulumi.dev.yaml");
    // The committed salt belongs to the empty demo passphrase; this stack gets its own.
    writeFileSync(configFile, readFileSync(join(ROOT, "Pulumi.dev.yaml"), "utf8").replace(/^encryptionsalt:.*\n?/m, ""));
    env = pulumiEnv({ binDir, stateDir: join(work, "state"), kubeconfig: cluster.kubeconfig, passphrase: "e2e-test-passphrase" });
    ok(await pulumi(["stack", "init", "dev"], env, { cwd: project }), "pulumi stack init dev");
  });
  after(async () => {
    await op?.stop();
    stopCluster();
  });

  it("refuses a broken config in `pulumi preview`, naming the key, and touches nothing", async () => {
    const broken = join(tmpdir(), `broken-${process.pid}.yaml`);
    const doc = YAML.parse(readFileSync(configFile, "utf8"));
    doc.config["ray-operator:operator"].replicas = "two";
    doc.config["ray-operator:clusters"]["example-cluster2"].spec.podTypes[1].minWorkers = 9;
    writeFileSync(broken, YAML.stringify(doc));
    const r = await pulumi(["preview", "--stack", "dev", "--config-file", broken], env, { cwd: project });
    assert.notEqual(r.code, 0);
    const out = r.stdout + r.stderr;
    assert.match(out, /ray-operator:operator\.replicas: must be integer, got "two"/);
    await rejectsWith(404, c.ext.readCustomResourceDefinition({ name: CRD_NAME }));
    await rejectsWith(404, c.core.readNamespace({ name: ns }));
  });

  it("`pulumi up` installs the CRD, namespace, RBAC, operator and both clusters", async () => {
    const r = await run(["up", "--yes", "--skip-preview"]);
    ok(r, "pulumi up");
    const crd = await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
    assert.equal(crd.spec.versions[0].name, "v1");
    const namespace = await c.core.readNamespace({ name: ns });
    assert.equal(namespace.metadata!.labels!["pod-security.kubernetes.io/enforce"], "baseline");
    await c.core.readNamespacedServiceAccount({ namespace: ns, name: SERVICE_ACCOUNT });
    await c.rbac.readNamespacedRole({ namespace: ns, name: ROLE });
    await c.rbac.readNamespacedRoleBinding({ namespace: ns, name: ROLE_BINDING });
    await c.rbac.readNamespacedRole({ namespace: ns, name: LEADER_ELECTION_ROLE });
    const dep = await c.apps.readNamespacedDeployment({ namespace: ns, name: "ray-operator" });
    assert.equal(dep.status?.availableReplicas, 1, "the (simulated) operator pod is available");
    const rcs: any = await c.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: ns, plural: PLURAL });
    assert.deepEqual(rcs.items.map((x: any) => x.metadata.name).sort(), ["example-cluster", "example-cluster2"]);
  });

  it("runs the operator under the ServiceAccount Pulumi installed; both clusters reach the seed's pod counts", async () => {
    const token = await serviceAccountToken(c.kc, ns, SERVICE_ACCOUNT);
    op = await new OperatorProcess(tokenKubeconfig(c.kc, token, ns), { RAY_OPERATOR_POD_NAMESPACE: ns, OPERATOR_NAMESPACE: ns, POD_NAME: "ray-operator-e2e" }).start();
    await eventually("example-cluster: head + 2 workers; example-cluster2: head + 1 worker", async () =>
      (await workerUids("example-cluster", "head")).length === 1 && (await workerUids("example-cluster")).length === 2 && (await workerUids("example-cluster2", "head")).length === 1 && (await workerUids("example-cluster2")).length === 1,
      120_000, 500);
  });

  it("follows a config edit of example-cluster2's minWorkers, restarting nothing", async () => {
    const before = await allUids();
    ok(await run(["config", "set", "--path", "clusters.example-cluster2.spec.podTypes[1].minWorkers", "2"]), "pulumi config set");
    assert.match(readFileSync(configFile, "utf8"), /minWorkers: 2/);
    const r = await run(["up", "--yes", "--skip-preview"]);
    ok(r, "pulumi up after the edit");
    assert.match(r.stdout, /1 updated/);
    await eventually("example-cluster2 at 2 workers", async () => (await workerUids("example-cluster2")).length === 2, 60_000, 500);
    const after = await allUids();
    for (const uid of before) assert.ok(after.includes(uid), "a pod was restarted by a scaling-only change");
    assert.equal(after.length, before.length + 1);
  });

  it("reports no changes on a second `pulumi up` without edits", async () => {
    const r = await run(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    ok(r, "pulumi up --expect-no-changes");
    assert.doesNotMatch(r.stdout, /updated|created|deleted|replaced/);
  });

  it("`pulumi destroy` leaves nothing of the project in the API server", async () => {
    ok(await run(["destroy", "--yes", "--skip-preview"]), "pulumi destroy");
    await op?.stop();
    const gone = (p: Promise<unknown>) => p.then(() => false, (e) => e?.code === 404);
    await eventually("namespace ray gone", () => gone(c.core.readNamespace({ name: ns })), 120_000, 500);
    await eventually("the CRD gone", () => gone(c.ext.readCustomResourceDefinition({ name: CRD_NAME })), 60_000, 500);
    const pods = await c.core.listPodForAllNamespaces({ labelSelector: LABELS.clusterName });
    assert.equal(pods.items.length, 0);
    const services = await c.core.listServiceForAllNamespaces({ labelSelector: LABELS.clusterName });
    assert.equal(services.items.length, 0);
    const roles = await c.rbac.listRoleForAllNamespaces({ labelSelector: "app.kubernetes.io/name=ray-operator" });
    assert.equal(roles.items.length, 0);
    const crbs = await c.rbac.listClusterRoleBinding({ labelSelector: "app.kubernetes.io/name=ray-operator" });
    assert.equal(crbs.items.length, 0);
    await sleep(100);
  });
});
