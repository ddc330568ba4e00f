// The component library as a user's own program uses it, with the real Pulumi engine and Kubernetes
// provider: test/fixtures/component-program (its own Pulumi.yaml, importing RayOperator and RayCluster
// from the project) installs the operator twice on the shared local control plane, as two stacks, each
// in a namespace of its own; the second uses the first's CRD (`crd: "existing"`).
//
// The operators' Deployments run on the simulated kwok nodes (the one real node belongs to other tests):
// there a pod is Running and Ready, so Pulumi's await passes, but nothing runs in it. The operator of
// each install therefore runs beside the control plane as the compiled process the image runs,
// authenticated with a token of the ServiceAccount that install created, so it lives under exactly the
// RBAC the component installed. Its RayClusters' pods are placed on kwok nodes too.
//
// Each test stands alone (`--grep` runs it by itself): it brings both installs up with `pulumi up`, unless
// an earlier test of the run left them up. "Untouched" is proven by what would have moved: every object's
// UID and resourceVersion, the CRD's, and the surviving operator's own request counters.
import { strict as assert } from "assert";
import { execFileSync } from "child_process";
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import YAML from "yaml";
import type { V1ObjectMeta } from "@kubernetes/client-node";
import { testCluster, testClusterAuditLog } from "../support/cluster";
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";
import { Clients, clientsFromFile, deleteNamespace, eventually, statusCode, uniqueName } from "../helpers/kube";
import { ensurePulumi, pulumi, pulumiEnv, PulumiResult } from "../../scripts/pulumi-cli";
import { OperatorProcess, serviceAccountToken, writeKubeconfigWithToken } from "../../scripts/operator-process";
import { ROOT, SEED_STACK_FILE, simulatedCluster } from "../helpers/examples";
import { CRD_NAME, GROUP, LABELS, PLURAL, VERSION } from "../../api/v1/types";
import { SERVICE_ACCOUNT } from "../../builders/rbac";

const FIXTURE = join(ROOT, "test", "fixtures", "component-program");
/** The last commit whose index.ts registered one component per concern at the stack's root. */
const LEGACY_COMMIT = "90e8fe2";
const PROJECT = "ray-operator-component-fixture";

interface Install {
  stack: string;
  namespace: string;
  crd: "install" | "existing";
  /** Set by a successful `pulumi up` of this test run, cleared by `pulumi destroy`. */
  deployed?: boolean;
  /** The stand-in for the Deployment's pod, while the install is up. */
  operator?: OperatorProcess;
}

/** One line of the API server's audit log, the fields read here. */
interface AuditEvent {
  user: { username: string };
  verb: string;
  stage: string;
  objectRef?: { resource?: string; namespace?: string; subresource?: string };
  responseStatus?: { code?: number };
}

/** A step of `pulumi preview --json`, the fields read here. */
interface PreviewStep {
  op: string;
  urn: string;
  oldState?: { urn: string };
}
/** `pulumi stack export`, the fields read here. */
interface StateExport {
  deployment: { resources: Array<{ urn: string }> };
}

/** A RayCluster as read back: what the tests look at. */
interface RayClusterState {
  metadata: V1ObjectMeta;
  status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> };
}
const crs = (namespace: string) => ({ group: GROUP, version: VERSION, namespace, plural: PLURAL });

const ok = (r: PulumiResult, what: string) =>
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
const serviceAccountUser = (ns: string) => `system:serviceaccount:${ns}:${SERVICE_ACCOUNT}`;

describe("component library in a program of its own: two installs, two namespaces, real engine (e2e)", function () {
  this.timeout(900_000);
  let c: Clients;
  let env: NodeJS.ProcessEnv;
  let project: string;
  const first: Install = { stack: "first", namespace: uniqueName("ray-first"), crd: "install" };
  const second: Install = { stack: "second", namespace: uniqueName("ray-second"), crd: "existing" };
  const run = (i: Install, args: string[]) => pulumi([...args, "--stack", i.stack], env, { cwd: project });

  /** The install's stack config: its namespace, CRD mode, kwok placement, and the seed's example-cluster. */
  function stackFile(i: Install): string {
    const spec = simulatedCluster("example-cluster", i.namespace).spec;
    const config = {
      [`${PROJECT}:namespace`]: i.namespace,
      [`${PROJECT}:crd`]: i.crd,
      [`${PROJECT}:nodeSelector`]: KWOK_PLACEMENT.nodeSelector,
      [`${PROJECT}:tolerations`]: KWOK_PLACEMENT.tolerations,
      [`${PROJECT}:clusters`]: { "example-cluster": spec },
    };
    return YAML.stringify({ config });
  }

  /** `pulumi up` of the install unless an earlier test left it up, and its operator running. */
  async function up(i: Install): Promise<void> {
    if (!i.deployed) ok(await run(i, ["up", "--yes", "--skip-preview"]), `pulumi up --stack ${i.stack}`);
    i.deployed = true;
    if (i.operator?.running()) return;
    const token = await serviceAccountToken(c.kc, i.namespace, SERVICE_ACCOUNT);
    const operator = new OperatorProcess(writeKubeconfigWithToken(c.kc, token, i.namespace), {
      RAY_OPERATOR_POD_NAMESPACE: i.namespace,
      OPERATOR_NAMESPACE: i.namespace,
      POD_NAME: uniqueName("operator"),
      // No Ray runs on kwok's nodes; the autoscaler is tested against real Ray elsewhere.
      AUTOSCALER_INTERVAL_SECONDS: "0",
    });
    i.operator = await operator.start();
    await eventually(
      `the operator of ${i.namespace} ready`,
      async () => operator.running() && (await operator.get("/readyz").catch(() => ({ status: 0 }))).status === 200,
      60_000,
    );
  }

  /** `pulumi destroy` of the install, then its operator stopped, as the Deployment's pod would be. */
  async function destroy(i: Install): Promise<void> {
    i.deployed = false;
    ok(await run(i, ["destroy", "--yes", "--skip-preview"]), `pulumi destroy --stack ${i.stack}`);
    await i.operator?.stop();
    i.operator = undefined;
  }

  /** Both installs up, each with its example-cluster converged: a Ready head and 2 Ready workers. */
  async function bothConverged(): Promise<void> {
    await up(first);
    await up(second);
    for (const i of [first, second]) {
      await eventually(
        `${i.namespace}/example-cluster Ready with a head and 2 workers`,
        async () => {
          const selector = { namespace: i.namespace, labelSelector: LABELS.clusterName };
          const pods = (await c.core.listNamespacedPod(selector)).items;
          const ready = pods.filter((p) =>
            p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True"),
          );
          const name = "example-cluster";
          const rc = (await c.custom.getNamespacedCustomObject({ ...crs(i.namespace), name })) as RayClusterState;
          return (
            ready.length === 3 &&
            pods.length === 3 &&
            rc.status?.observedGeneration === rc.metadata.generation &&
            rc.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True")
          );
        },
        180_000,
        500,
      );
    }
  }

  /** `kind/name → uid@resourceVersion` of every object an install and its operator own in its namespace. */
  async function objectsOf(ns: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    const add = (kind: string, items: Array<{ metadata?: V1ObjectMeta }>) => {
      for (const o of items) out[`${kind}/${o.metadata!.name}`] = `${o.metadata!.uid}@${o.metadata!.resourceVersion}`;
    };
    add("Namespace", [await c.core.readNamespace({ name: ns })]);
    add("ServiceAccount", (await c.core.listNamespacedServiceAccount({ namespace: ns })).items);
    add("Role", (await c.rbac.listNamespacedRole({ namespace: ns })).items);
    add("RoleBinding", (await c.rbac.listNamespacedRoleBinding({ namespace: ns })).items);
    add("Deployment", (await c.apps.listNamespacedDeployment({ namespace: ns })).items);
    add("ReplicaSet", (await c.apps.listNamespacedReplicaSet({ namespace: ns })).items);
    add("Pod", (await c.core.listNamespacedPod({ namespace: ns })).items);
    add("Service", (await c.core.listNamespacedService({ namespace: ns })).items);
    const rcs = (await c.custom.listNamespacedCustomObject(crs(ns))) as { items: RayClusterState[] };
    add("RayCluster", rcs.items);
    // Left out: the leader's Lease, renewed every few seconds by design, and Events.
    return out;
  }

  /** The operator's writes to the API server so far (its Lease renewals left out), from its own counters. */
  async function writesOf(i: Install): Promise<number> {
    let writes = 0;
    for (const [sample, value] of await i.operator!.metrics()) {
      const m = /^ray_operator_api_requests_total\{verb="(\w+)",resource="([\w/]+)"/.exec(sample);
      if (m && ["create", "update", "patch", "delete"].includes(m[1]) && m[2] !== "leases") writes += value;
    }
    return writes;
  }

  const crdIdentity = async () => {
    const crd = await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
    return `${crd.metadata!.uid}@${crd.metadata!.resourceVersion}`;
  };
  const gone = (p: Promise<unknown>) =>
    p.then(
      () => false,
      (e) => statusCode(e) === 404,
    );

  before(async function () {
    this.timeout(3_600_000); // a cold machine builds the Kubernetes and Pulumi binaries first
    const cluster = await testCluster();
    // The operators' pods and the clusters' are placed on the local cluster's kwok nodes.
    if (!cluster.local) this.skip();
    const binDir = ensurePulumi();
    c = clientsFromFile(cluster.kubeconfig);
    // The program as a user has it, in a directory of its own: Pulumi writes each stack's file there
    // (its secrets salt), and the repository's copy stays as committed. Its index.ts is a link, so its
    // import of the project's components resolves from the repository.
    project = mkdtempSync(join(tmpdir(), "ray-operator-component-"));
    for (const f of ["Pulumi.yaml", "index.ts"]) symlinkSync(join(FIXTURE, f), join(project, f));
    for (const f of ["package.json", "tsconfig.json", "node_modules"]) symlinkSync(join(ROOT, f), join(project, f));
    env = {
      ...pulumiEnv({
        binDir,
        stateDir: join(project, ".state"),
        kubeconfig: cluster.kubeconfig,
        passphrase: "component-test-passphrase",
      }),
      // `npm run typecheck` checks the fixture against the library; the engine need not do it again on
      // every run (seconds each, on a small machine).
      PULUMI_NODEJS_TRANSPILE_ONLY: "true",
    };
    for (const i of [first, second]) {
      writeFileSync(join(project, `Pulumi.${i.stack}.yaml`), stackFile(i));
      ok(await pulumi(["stack", "init", i.stack], env, { cwd: project }), `pulumi stack init ${i.stack}`);
    }
  });

  after(async () => {
    if (c)
      for (const i of [second, first]) {
        await run(i, ["destroy", "--yes", "--skip-preview"]);
        await i.operator?.stop();
        await deleteNamespace(c, i.namespace);
      }
    if (project) rmSync(project, { recursive: true, force: true });
  });

  it("runs two operators side by side, each reconciling only its own namespace's RayCluster", async () => {
    await bothConverged();
    for (const i of [first, second]) {
      const outputs = JSON.parse((await run(i, ["stack", "output", "--json"])).stdout) as Record<string, unknown>;
      assert.deepEqual(
        { namespace: outputs.namespace, crdName: outputs.crdName, rayClusters: outputs.rayClusters },
        { namespace: i.namespace, crdName: CRD_NAME, rayClusters: ["example-cluster"] },
      );
      // Pulumi awaited the Deployment: its pod (on a kwok node) is Ready.
      const dep = await c.apps.readNamespacedDeployment({ namespace: i.namespace, name: "ray-operator" });
      assert.equal(dep.status?.readyReplicas, 1);
    }
    // Who did what, from the API server's audit log: every pod in a namespace was created by that
    // install's ServiceAccount, and neither ServiceAccount sent a request about another namespace.
    const audit = testClusterAuditLog();
    assert.ok(audit, "the local cluster keeps an audit log");
    const events = readFileSync(audit, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.stage === "ResponseComplete");
    for (const i of [first, second]) {
      const podCreates = events.filter(
        (e) =>
          e.verb === "create" &&
          e.responseStatus?.code === 201 &&
          e.objectRef?.resource === "pods" &&
          !e.objectRef.subresource &&
          e.objectRef.namespace === i.namespace,
      );
      const creators = new Set(podCreates.map((e) => e.user.username));
      assert.ok(creators.has(serviceAccountUser(i.namespace)), `no pod created by ${i.namespace}'s operator`);
      // The only other creator: the ReplicaSet controller, of the Deployment's own pod.
      const others = [...creators].filter(
        (u) =>
          u !== serviceAccountUser(i.namespace) &&
          !u.startsWith("system:serviceaccount:kube-system:") &&
          u !== "system:kube-controller-manager",
      );
      assert.deepEqual(others, [], `pods in ${i.namespace} created by another`);
      const elsewhere = events.filter(
        (e) =>
          e.user.username === serviceAccountUser(i.namespace) &&
          e.objectRef?.namespace !== undefined &&
          e.objectRef.namespace !== i.namespace,
      );
      assert.deepEqual(
        elsewhere.map((e) => `${e.verb} ${e.objectRef!.resource} in ${e.objectRef!.namespace}`),
        [],
      );
    }
  });

  it("`pulumi destroy` of the second install leaves the first, its RayCluster and the CRD untouched", async () => {
    await bothConverged();
    const before = await objectsOf(first.namespace);
    const crdBefore = await crdIdentity();
    const writesBefore = await writesOf(first);
    await destroy(second);
    await eventually(
      `namespace ${second.namespace} gone`,
      () => gone(c.core.readNamespace({ name: second.namespace })),
      180_000,
      500,
    );
    assert.deepEqual(await objectsOf(first.namespace), before, "an object of the first install changed");
    assert.equal(await crdIdentity(), crdBefore, "the CRD changed");
    assert.equal(await writesOf(first), writesBefore, "the first install's operator wrote to the API server");
    assert.equal((await first.operator!.get("/readyz")).status, 200);
  });

  it("`pulumi destroy` of the first install, which applied the CRD, keeps it and the second untouched", async () => {
    await bothConverged();
    const before = await objectsOf(second.namespace);
    const crdBefore = await crdIdentity();
    const writesBefore = await writesOf(second);
    await destroy(first);
    await eventually(
      `namespace ${first.namespace} gone`,
      () => gone(c.core.readNamespace({ name: first.namespace })),
      180_000,
      500,
    );
    assert.equal(await crdIdentity(), crdBefore, "the CRD was deleted or changed");
    assert.deepEqual(await objectsOf(second.namespace), before, "an object of the second install changed");
    assert.equal(await writesOf(second), writesBefore, "the second install's operator wrote to the API server");
    assert.equal((await second.operator!.get("/readyz")).status, 200);
  });

  it("moves a stack made before the library (commit 90e8fe2) onto it: nothing deleted or replaced", async () => {
    // The program as it was, from git, with its own copy of the seed stack in a namespace of its own.
    const ns = uniqueName("ray-legacy");
    const old = mkdtempSync(join(tmpdir(), "ray-operator-legacy-"));
    const files = "index.ts Pulumi.yaml api builders components config tsconfig.json package.json";
    execFileSync("bash", ["-c", `git -C "${ROOT}" archive ${LEGACY_COMMIT} ${files} | tar -x -C "${old}"`]);
    symlinkSync(join(ROOT, "node_modules"), join(old, "node_modules"));
    const doc = YAML.parse(readFileSync(SEED_STACK_FILE, "utf8"));
    doc.config["ray-operator:namespace"].name = ns;
    writeFileSync(join(old, "Pulumi.legacy.yaml"), YAML.stringify(doc));
    const legacy = (cwd: string, args: string[]) => pulumi([...args, "--stack", "legacy"], env, { cwd });
    ok(await pulumi(["stack", "init", "legacy"], env, { cwd: old }), "pulumi stack init legacy");
    // Today's program, in a directory of its own, with the same stack file (its secrets salt included).
    const now = mkdtempSync(join(tmpdir(), "ray-operator-now-"));
    for (const entry of readdirSync(ROOT).filter((e) => ![".git", ".pulumi-state", ".cluster"].includes(e)))
      if (!entry.startsWith("Pulumi.") || entry === "Pulumi.yaml") symlinkSync(join(ROOT, entry), join(now, entry));
    try {
      // Everything but the Deployment, whose pod could not start here (the old program has no placement).
      const urn = (type: string, name: string) => `urn:pulumi:legacy::ray-operator::${type}::${name}`;
      const deployment = urn("ray-operator:index:OperatorWorkload$kubernetes:apps/v1:Deployment", "ray-operator");
      ok(await legacy(old, ["up", "--yes", "--skip-preview", "--exclude", deployment]), "pulumi up of the old program");
      copyFileSync(join(old, "Pulumi.legacy.yaml"), join(now, "Pulumi.legacy.yaml"));
      const exported = await legacy(old, ["stack", "export"]);
      ok(exported, "pulumi stack export of the old stack");
      const oldUrns = (JSON.parse(exported.stdout) as StateExport).deployment.resources
        .map((x) => x.urn)
        .filter((u) => !u.includes("::pulumi:providers:"));
      const r = await legacy(now, ["preview", "--json", "--show-sames"]);
      ok(r, "pulumi preview of today's program");
      const steps = (JSON.parse(r.stdout) as { steps: PreviewStep[] }).steps;
      const listing = JSON.stringify(steps.map((x) => [x.op, x.urn, x.oldState?.urn]));
      const kindOf = (u: string) => `${u.split("::")[2].split("$").pop()}::${u.split("::")[3]}`;
      // New: the RayOperator component and the Deployment the old stack never had. Nothing else is
      // created, and nothing deleted or replaced (updates are in place: builders changed since).
      const created = steps
        .filter((x) => x.op === "create")
        .map((x) => kindOf(x.urn))
        .sort();
      const expected = ["kubernetes:apps/v1:Deployment::ray-operator", "ray-operator:index:RayOperator::ray-operator"];
      assert.deepEqual(created, expected, listing);
      const destructive = steps.filter((x) => !["same", "update", "create"].includes(x.op));
      assert.deepEqual(
        destructive.map((x) => `${x.op} ${x.urn}`),
        [],
        listing,
      );
      // Every resource of the old stack is found by today's program (under its new URN, through its alias)
      // and kept: none is left over for the engine to delete.
      const kept = new Set(steps.filter((x) => ["same", "update"].includes(x.op)).map((x) => x.oldState?.urn));
      assert.deepEqual(
        oldUrns.filter((u) => !kept.has(u)),
        [],
        listing,
      );
      assert.ok(oldUrns.length >= 15, listing);
    } finally {
      await legacy(old, ["destroy", "--yes", "--skip-preview"]);
      await pulumi(["stack", "rm", "legacy", "--yes", "--force"], env, { cwd: old });
      await deleteNamespace(c, ns);
      for (const dir of [old, now]) rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses a bad arg in `pulumi preview`, naming the field, given plainly or as an Output", async () => {
    const stack: Install = { stack: "broken", namespace: uniqueName("ray-broken"), crd: "install" };
    const file = join(project, "Pulumi.broken.yaml");
    ok(await pulumi(["stack", "init", "broken"], env, { cwd: project }), "pulumi stack init broken");
    try {
      // Given plainly: the constructor throws before the component registers anything.
      writeFileSync(file, stackFile({ ...stack, crd: "maybe" as Install["crd"] }));
      const plain = await run(stack, ["preview"]);
      assert.notEqual(plain.code, 0);
      assert.match(plain.stdout + plain.stderr, /invalid args of RayOperator "ray":/);
      assert.match(plain.stdout + plain.stderr, /args\.crd: expected one of "install", "existing", got "maybe"/);
      assert.ok(await gone(c.core.readNamespace({ name: stack.namespace })));
      // Given as an Output (the fixture's namespace is one): checked once known, the run ends with the
      // component's error rather than waiting forever on children that can never be built. A run still
      // going after 3 minutes is interrupted, and said to have hung.
      writeFileSync(file, stackFile({ ...stack, namespace: "Not_A_Namespace" }));
      const deadline = AbortSignal.timeout(180_000);
      const output = await pulumi(["preview", "--stack", stack.stack], env, { cwd: project, signal: deadline });
      assert.ok(!deadline.aborted, `pulumi preview hung on a bad Output arg:\n${output.stdout.slice(-3000)}`);
      assert.notEqual(output.code, 0);
      assert.match(output.stdout + output.stderr, /invalid args of RayOperator "ray":/);
      assert.match(output.stdout + output.stderr, /args\.namespace: must match pattern/);
    } finally {
      await pulumi(["stack", "rm", "broken", "--yes", "--force"], env, { cwd: project });
    }
  });
});
