// The user's whole workflow with the real Pulumi engine and Kubernetes provider, on the local cluster's
// real node: a fresh stack of the project, `pulumi up` (the operator runs in-cluster from its image and
// starts the seed's clusters, whose pods run Ray), a cluster edit and `pulumi up`, an operator setting
// changed and `pulumi up`, a no-change `pulumi up`, `pulumi destroy`, and a broken config that
// `pulumi preview` refuses before touching anything.
//
// The stack lives in a namespace of its own (never `ray`), so it can run on a cluster that is not the
// test run's (TEST_KUBECONFIG is refused: the real node is needed) and never deletes what it did not
// create: `pulumi destroy` keeps the CRD, and a RayCluster of someone else's survives it.
import { strict as assert } from "assert";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import YAML from "yaml";
import type { V1Pod } from "@kubernetes/client-node";
import { realNodeCluster, testClusterAuditLog } from "../support/cluster";
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";
import {
  Clients,
  clientsFromFile,
  deleteNamespace,
  ensureNamespace,
  eventually,
  rejectsWith,
  uniqueName,
} from "../helpers/kube";
import { ensurePulumi, pulumi, pulumiEnv, PulumiResult } from "../../scripts/pulumi-cli";
import { ROOT, SEED_STACK_FILE, simulatedCluster } from "../helpers/examples";
import { CRD_NAME, GROUP, LABELS, PLURAL, VERSION } from "../../api/v1/types";
import { SERVICE_ACCOUNT, ROLE, ROLE_BINDING, LEADER_ELECTION_ROLE } from "../../builders/rbac";
import { operatorLabels } from "../../builders/operator-workload";

const ok = (r: PulumiResult, what: string) =>
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
const ready = (p: V1Pod) =>
  !p.metadata!.deletionTimestamp && !!p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True");

describe("pulumi up / config edit / destroy with the real Pulumi engine (e2e)", function () {
  this.timeout(900_000);
  let c: Clients;
  let env: NodeJS.ProcessEnv;
  let configFile: string;
  let project: string;
  /** The directory the project is copied into (removed after). */
  let work: string | undefined;
  const ns = uniqueName("e2e");
  const foreignNs = uniqueName("others");
  const run = (args: string[]) => pulumi([...args, "--stack", "dev"], env, { cwd: project });
  const podsOf = async (selector: string) =>
    (await c.core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items.filter(ready);
  const rayPodUids = async () => (await podsOf(LABELS.clusterName)).map((p) => p.metadata!.uid!).sort();
  const count = async (cluster: string, kind: string) =>
    (await podsOf(`${LABELS.clusterName}=${cluster},${LABELS.nodeType}=${kind}`)).length;
  const operatorPods = () =>
    podsOf(
      Object.entries(operatorLabels)
        .map(([k, v]) => `${k}=${v}`)
        .join(","),
    );

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the Kubernetes and Pulumi binaries and the images first
    const binDir = ensurePulumi();
    const cluster = await realNodeCluster();
    c = clientsFromFile(cluster.kubeconfig);
    work = mkdtempSync(join(tmpdir(), "ray-operator-pulumi-"));
    // The project as a user has it, in a directory of its own: Pulumi writes the stack file (config
    // edits, the secrets salt), and the repository's copy must stay as committed.
    project = join(work, "project");
    mkdirSync(project);
    for (const entry of readdirSync(ROOT)) {
      if ([".git", ".pulumi-state", ".cluster", "Pulumi.dev.yaml"].includes(entry)) continue;
      symlinkSync(join(ROOT, entry), join(project, entry));
    }
    configFile = join(project, "Pulumi.dev.yaml");
    // The seed's stack (the tests' own copy), in this test's namespace.
    const doc = YAML.parse(readFileSync(SEED_STACK_FILE, "utf8"));
    doc.config["ray-operator:namespace"].name = ns;
    writeFileSync(configFile, YAML.stringify(doc));
    env = pulumiEnv({
      binDir,
      stateDir: join(work, "state"),
      kubeconfig: cluster.kubeconfig,
      passphrase: "e2e-test-passphrase",
    });
    ok(await pulumi(["stack", "init", "dev"], env, { cwd: project }), "pulumi stack init dev");
    // Someone else's RayCluster, which this stack's destroy must leave alone.
    await ensureNamespace(c, foreignNs);
  });
  after(async () => {
    if (c) {
      await run(["destroy", "--yes", "--skip-preview"]);
      await deleteNamespace(c, foreignNs);
    }
    if (work) rmSync(work, { recursive: true, force: true });
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
    await rejectsWith(404, c.core.readNamespace({ name: ns }));
  });

  it("`pulumi up` installs namespace, RBAC and operator, which runs its image and starts both clusters", async () => {
    ok(await run(["up", "--yes", "--skip-preview"]), "pulumi up");
    const crd = await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
    assert.equal(crd.spec.versions[0].name, "v1");
    const namespace = await c.core.readNamespace({ name: ns });
    assert.equal(namespace.metadata!.labels!["pod-security.kubernetes.io/enforce"], "baseline");
    await c.core.readNamespacedServiceAccount({ namespace: ns, name: SERVICE_ACCOUNT });
    await c.rbac.readNamespacedRole({ namespace: ns, name: ROLE });
    await c.rbac.readNamespacedRoleBinding({ namespace: ns, name: ROLE_BINDING });
    await c.rbac.readNamespacedRole({ namespace: ns, name: LEADER_ELECTION_ROLE });
    // Pulumi awaited the Deployment: its pod, from the image, passed its readiness probe.
    const dep = await c.apps.readNamespacedDeployment({ namespace: ns, name: "ray-operator" });
    assert.equal(dep.status?.availableReplicas, 1);
    await eventually(
      "example-cluster: head + 2 workers; example-cluster2: head + 1 worker, all running Ray",
      async () =>
        (await count("example-cluster", "head")) === 1 &&
        (await count("example-cluster", "worker")) === 2 &&
        (await count("example-cluster2", "head")) === 1 &&
        (await count("example-cluster2", "worker")) === 1,
      300_000,
      1000,
    );
  });

  it("follows a config edit of example-cluster2's minWorkers, restarting nothing", async () => {
    const before = await rayPodUids();
    ok(
      await run(["config", "set", "--path", "clusters.example-cluster2.spec.podTypes[1].minWorkers", "2"]),
      "pulumi config set",
    );
    assert.match(readFileSync(configFile, "utf8"), /minWorkers: 2/);
    const r = await run(["up", "--yes", "--skip-preview"]);
    ok(r, "pulumi up after the edit");
    assert.match(r.stdout, /1 updated/);
    await eventually(
      "example-cluster2 at 2 workers",
      async () => (await count("example-cluster2", "worker")) === 2,
      180_000,
      1000,
    );
    const after = await rayPodUids();
    for (const uid of before) assert.ok(after.includes(uid), "a pod was restarted by a scaling-only change");
    assert.equal(after.length, before.length + 1);
  });

  it("rolls the operator's pod on a changed operator setting, and no Ray pod is replaced", async () => {
    const rayBefore = await rayPodUids();
    const [opBefore] = await operatorPods();
    ok(await run(["config", "set", "--path", "operator.logLevel", "debug"]), "pulumi config set operator.logLevel");
    ok(await run(["up", "--yes", "--skip-preview"]), "pulumi up after the operator change");
    const [opAfter] = await eventually(
      "a new operator pod, Ready",
      async () => {
        const pods = await operatorPods();
        return pods.length === 1 && pods[0].metadata!.uid !== opBefore.metadata!.uid ? pods : undefined;
      },
      180_000,
      1000,
    );
    const env = Object.fromEntries(opAfter.spec!.containers[0].env!.map((e) => [e.name, e.value]));
    assert.equal(env.LOG_LEVEL, "debug");
    assert.deepEqual(await rayPodUids(), rayBefore, "the new operator replaced no Ray pod");
  });

  it("rolls the operator during a 200-worker scale-up: no pod created twice, none deleted", async function () {
    const audit = testClusterAuditLog();
    if (!audit) this.skip();
    // A big cluster on the simulated nodes, added to the stack; then, while the operator is creating
    // its workers, an operator setting changes and the Deployment rolls (a second pod surges).
    const doc = YAML.parse(readFileSync(configFile, "utf8"));
    const big = structuredClone(doc.config["ray-operator:clusters"]["example-cluster2"]);
    big.spec.maxWorkers = 200;
    Object.assign(big.spec.podTypes[1], { minWorkers: 200, maxWorkers: 200 });
    for (const t of big.spec.podTypes) {
      delete t.podConfig.metadata.generateName;
      Object.assign(t.podConfig.spec, structuredClone(KWOK_PLACEMENT));
      t.podConfig.spec.containers[0].resources = { requests: { cpu: "10m", memory: "16Mi" } };
    }
    doc.config["ray-operator:clusters"].big = big;
    writeFileSync(configFile, YAML.stringify(doc));
    const stable = await rayPodUids();
    const since = new Date().toISOString();
    ok(await run(["up", "--yes", "--skip-preview"]), "pulumi up adding the big cluster");
    await eventually("the scale-up under way", async () => (await count("big", "worker")) >= 10, 120_000, 200);
    ok(await run(["config", "set", "--path", "operator.workers", "6"]), "pulumi config set operator.workers");
    ok(await run(["up", "--yes", "--skip-preview"]), "pulumi up rolling the operator");
    await eventually("big: 200 workers, all Ready", async () => (await count("big", "worker")) === 200, 600_000, 1000);
    // Every pod request the operator's ServiceAccount made since, from the API server's audit log.
    const user = `system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`;
    const podWrites = readFileSync(audit!, "utf8")
      .split("\n")
      .filter(Boolean)
      .map(
        (l) =>
          JSON.parse(l) as {
            user: { username: string };
            verb: string;
            stage: string;
            stageTimestamp: string;
            requestURI: string;
            objectRef?: { resource?: string; subresource?: string; name?: string };
            responseStatus?: { code?: number };
          },
      )
      .filter((e) => e.user.username === user && e.stage === "ResponseComplete" && e.stageTimestamp >= since)
      .filter((e) => e.objectRef?.resource === "pods" && !e.objectRef.subresource)
      // Each operator that takes over asks the API server once whether the cluster's pods would be
      // admitted (a dry run, which persists nothing): not a create.
      .filter((e) => !/[?&]dryRun=/.test(e.requestURI));
    // A seed cluster's real worker may rightly be replaced meanwhile: those creates are the seed pods
    // that are younger than the scale-up. (A create by generateName has no name in the audit log.)
    const bigPod = (e: { objectRef?: { name?: string } }) => e.objectRef?.name?.startsWith("big-") ?? false;
    const sinceSecond = since.replace(/\.\d+Z$/, "Z");
    const seedCreated = (await c.core.listNamespacedPod({ namespace: ns })).items
      .filter((p) => p.metadata!.labels?.[LABELS.clusterName] !== "big" && p.metadata!.labels?.[LABELS.clusterName])
      .filter((p) => new Date(p.metadata!.creationTimestamp!).toISOString().replace(/\.\d+Z$/, "Z") > sinceSecond);
    const creates =
      podWrites.filter((e) => e.verb === "create" && e.responseStatus?.code === 201).length - seedCreated.length;
    const deletes = podWrites.filter((e) => e.verb === "delete" && bigPod(e)).map((e) => e.objectRef!.name!);
    assert.equal(creates, 201, "the head and 200 workers, each created once");
    assert.deepEqual(deletes, [], "nothing to take back");
    assert.deepEqual(
      (await rayPodUids()).filter((uid) => stable.includes(uid)),
      stable,
      "the seed's Ray pods untouched",
    );
    delete doc.config["ray-operator:clusters"].big;
    writeFileSync(configFile, YAML.stringify(doc));
    ok(await run(["config", "set", "--path", "operator.workers", "4"]), "pulumi config set operator.workers");
    ok(await run(["up", "--yes", "--skip-preview"]), "pulumi up removing the big cluster");
  });

  it("reports no changes on a second `pulumi up` without edits", async () => {
    const r = await run(["up", "--yes", "--skip-preview", "--expect-no-changes"]);
    ok(r, "pulumi up --expect-no-changes");
    assert.doesNotMatch(r.stdout, /updated|created|deleted|replaced/);
  });

  it("`pulumi destroy` removes only the stack's objects: the CRD and others' RayClusters stay", async () => {
    const foreign = simulatedCluster("example-cluster", foreignNs);
    await c.custom.createNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: foreignNs,
      plural: PLURAL,
      body: foreign,
    });
    ok(await run(["destroy", "--yes", "--skip-preview"]), "pulumi destroy");
    const gone = (p: Promise<unknown>) =>
      p.then(
        () => false,
        (e) => e?.code === 404,
      );
    await eventually(`namespace ${ns} gone`, () => gone(c.core.readNamespace({ name: ns })), 180_000, 500);
    const pods = await c.core.listPodForAllNamespaces({ labelSelector: LABELS.clusterName });
    assert.equal(pods.items.filter((p) => p.metadata!.namespace === ns).length, 0);
    const roles = await c.rbac.listRoleForAllNamespaces({ labelSelector: "app.kubernetes.io/name=ray-operator" });
    assert.equal(roles.items.filter((r) => r.metadata!.namespace === ns).length, 0);
    await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
    await c.custom.getNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: foreignNs,
      plural: PLURAL,
      name: "example-cluster",
    });
  });
});
