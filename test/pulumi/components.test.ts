// The component library (components/) as a program uses it, under Pulumi's mocks: what RayOperator and
// RayCluster register, two installs in one program, args checked with the field named before anything is
// registered (or, for an Output, before the children built from it), and the aliases that move a stack
// made before the library onto it.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import { RayCluster, RayOperator, RayOperatorArgs, perConcernAliases } from "../../components";
import type { Deployment, Namespace, Role, RoleBinding } from "../../api/v1/kube-types";
import type { RayCluster as RayClusterObject } from "../../api/v1/types";
import { exampleCluster } from "../helpers/examples";
import { Recorded, runInline, valueOf } from "../helpers/pulumi-inline";

const T = {
  operator: "ray-operator:index:RayOperator",
  cluster: "ray-operator:index:RayCluster",
  crd: "kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition",
  namespace: "kubernetes:core/v1:Namespace",
  serviceAccount: "kubernetes:core/v1:ServiceAccount",
  role: "kubernetes:rbac.authorization.k8s.io/v1:Role",
  roleBinding: "kubernetes:rbac.authorization.k8s.io/v1:RoleBinding",
  clusterRole: "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole",
  deployment: "kubernetes:apps/v1:Deployment",
  rayCluster: "kubernetes:cluster.ray.io/v1:RayCluster",
};
const seedSpec = () => exampleCluster("example-cluster").spec;

/** The one resource of `type` (named `name`, if given). */
function one(rs: Recorded[], type: string, name?: string): Recorded {
  const found = rs.filter((r) => r.type === type && (name === undefined || r.name === name));
  assert.equal(found.length, 1, `expected one ${type}${name ? ` named ${name}` : ""}, got ${found.length}`);
  return found[0];
}

/** The message of what `build` throws. */
function thrown(build: () => void): string {
  try {
    build();
  } catch (e) {
    assert.ok(pulumi.RunError.isInstance(e), `not a RunError (printed without a stack): ${String(e)}`);
    return e.message;
  }
  assert.fail("nothing was thrown");
}

describe("component library: RayOperator and RayCluster (Pulumi mocks)", function () {
  this.timeout(60_000);

  it("installs CRD, namespace, RBAC and Deployment, each named after the component, with defaults", async () => {
    const rs = await runInline(() => new RayOperator("ray"));
    const top = one(rs, T.operator, "ray");
    for (const part of ["RayClusterCrd", "RayNamespace", "OperatorRbac", "OperatorWorkload"])
      assert.equal(one(rs, `ray-operator:index:${part}`, "ray").parent, top.urn, `${part} is not under RayOperator`);
    one(rs, T.crd, "ray");
    const ns = one(rs, T.namespace, "ray").inputs as Namespace;
    assert.equal(ns.metadata!.name, "ray");
    assert.equal(ns.metadata!.labels!["pod-security.kubernetes.io/enforce"], "baseline");
    assert.equal((one(rs, T.role, "ray").inputs as Role).metadata!.namespace, "ray");
    one(rs, T.role, "ray-leader-election");
    const dep = one(rs, T.deployment, "ray").inputs as Deployment;
    assert.equal(dep.spec!.replicas, 1);
    const c = dep.spec!.template.spec!.containers[0];
    assert.equal(c.image, "ray-operator:0.1.0");
    assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } });
    assert.equal(dep.spec!.template.spec!.nodeSelector, undefined, "no placement unless asked for");
  });

  it("holds two installs in one program: another namespace, the second using the first's CRD", async () => {
    const rs = await runInline(() => {
      new RayOperator("team-a", { namespace: "team-a", watch: "cluster" });
      new RayOperator("team-b", { namespace: "team-b", watch: "cluster", crd: "existing", replicas: 2 });
    });
    assert.equal(rs.filter((r) => r.type === T.crd).length, 1, "one CRD for the cluster");
    const names = (type: string) => rs.filter((r) => r.type === type).map((r) => (r.inputs as Role).metadata!.name);
    assert.deepEqual(names(T.namespace).sort(), ["team-a", "team-b"]);
    assert.deepEqual(names(T.clusterRole).sort(), ["ray-operator-role-team-a", "ray-operator-role-team-b"]);
    const b = one(rs, T.deployment, "team-b").inputs as Deployment;
    assert.equal(b.metadata!.namespace, "team-b");
    assert.equal(b.spec!.replicas, 2);
  });

  it("uses an existing namespace without creating or deleting one, and places the operator where told", async () => {
    const rs = await runInline(
      () =>
        new RayOperator("ray", {
          namespace: "platform",
          createNamespace: false,
          nodeSelector: { pool: "system" },
          tolerations: [{ key: "system", operator: "Exists", effect: "NoSchedule" }],
        }),
    );
    assert.equal(rs.filter((r) => r.type === T.namespace).length, 0);
    const pod = (one(rs, T.deployment).inputs as Deployment).spec!.template.spec!;
    assert.deepEqual(pod.nodeSelector, { pool: "system" });
    assert.deepEqual(pod.tolerations, [{ key: "system", operator: "Exists", effect: "NoSchedule" }]);
  });

  it("takes Outputs: a namespace known later names the namespace, the Roles and the binding's subject", async () => {
    const args = { namespace: pulumi.output("team-c"), image: Promise.resolve("op:2") };
    const rs = await runInline(() => new RayOperator("ray", args));
    assert.equal((one(rs, T.namespace).inputs as Namespace).metadata!.name, "team-c");
    for (const r of rs.filter((x) => x.type === T.role)) assert.equal((r.inputs as Role).metadata!.namespace, "team-c");
    const binding = one(rs, T.roleBinding, "ray").inputs as RoleBinding;
    const subject = { kind: "ServiceAccount", name: "ray-operator-serviceaccount", namespace: "team-c" };
    assert.deepEqual(binding.subjects, [subject]);
    assert.equal((one(rs, T.deployment).inputs as Deployment).spec!.template.spec!.containers[0].image, "op:2");
  });

  // [what, args, the start of the problem's line]
  const bad: Array<[string, RayOperatorArgs | Record<string, unknown>, string]> = [
    ["replicas of the wrong type", { replicas: "two" }, 'args.replicas: must be integer, got "two"'],
    ["zero replicas", { replicas: 0 }, "args.replicas: must be >= 1, got 0"],
    ["a bad watch mode", { watch: "all" }, 'args.watch: expected one of "namespace", "cluster", got "all"'],
    ["a namespace that is no DNS label", { namespace: "Team_A" }, "args.namespace: must match pattern"],
    ["an empty image", { image: "" }, 'args.image: must NOT have fewer than 1 characters, got ""'],
    ["a bad CRD mode", { crd: "maybe" }, 'args.crd: expected one of "install", "existing", got "maybe"'],
    ["a bad Pod Security level", { podSecurity: "strict" }, 'args.podSecurity: expected one of "privileged"'],
    [
      "a quantity that is none",
      { resources: { requests: { cpu: "lots" } } },
      "args.resources.requests.cpu: must be a Kubernetes quantity",
    ],
    [
      "a request above its limit",
      { resources: { requests: { memory: "1Gi" } } },
      "args.resources.requests.memory: 1Gi is above the memory limit, 512Mi; raise args.resources.limits.memory",
    ],
    [
      "a misspelled key (from JavaScript)",
      { replica: 2 },
      "args.replica: unknown key; expected one of: namespace, createNamespace, podSecurity, crd, image",
    ],
    [
      "a structural choice given as an Output",
      { watch: pulumi.output("cluster") },
      "args.watch: must be a plain value, not an Output",
    ],
  ];
  for (const [what, args, expected] of bad) {
    it(`refuses ${what} before registering anything, naming the field`, async () => {
      let message = "";
      const rs = await runInline(() => (message = thrown(() => new RayOperator("ray", args as RayOperatorArgs))));
      const [title, ...problems] = message.split("\n");
      assert.equal(title, 'invalid args of RayOperator "ray":');
      assert.ok(
        problems.some((p) => p.startsWith(`  - ${expected}`)),
        message,
      );
      assert.deepEqual(rs, [], "nothing registered");
    });
  }

  it("lists every problem of the args at once", () => {
    const message = thrown(() => new RayOperator("ray", { replicas: 0, watch: "x" } as unknown as RayOperatorArgs));
    assert.equal(message.split("\n").filter((l) => l.startsWith("  - ")).length, 2, message);
  });

  it("refuses a bad value given as an Output once known, naming the field, and builds nothing from it", async () => {
    let op: RayOperator | undefined;
    const rs = await runInline(() => (op = new RayOperator("ray", { replicas: pulumi.output(0) })), { settle: false });
    await assert.rejects(valueOf(op!.settings), (e: Error) => {
      assert.ok(pulumi.ResourceError.isInstance(e), String(e));
      assert.match(e.message, /^invalid args of RayOperator "ray":\n {2}- args\.replicas: must be >= 1, got 0$/);
      return true;
    });
    // Its inputs come from the rejected settings: the Deployment can never register.
    assert.equal(rs.filter((r) => r.type === T.deployment).length, 0);
  });

  it("puts a RayCluster in its operator's namespace, after the CRD and namespace but not the Deployment", async () => {
    const rs = await runInline(() => {
      const operator = new RayOperator("ray", { namespace: "team-d" });
      new RayCluster("example-cluster", { operator, spec: seedSpec(), labels: { team: "d" } });
    });
    const cr = one(rs, T.rayCluster, "example-cluster");
    const obj = cr.inputs as RayClusterObject;
    assert.equal(obj.metadata.namespace, "team-d");
    assert.deepEqual(obj.metadata.labels, { team: "d" });
    assert.equal(obj.spec.headPodType, "head-node");
    const component = one(rs, T.cluster, "example-cluster");
    assert.ok(component.dependencies.includes(one(rs, T.crd).urn), "waits for the CRD");
    assert.ok(component.dependencies.includes(one(rs, T.namespace).urn), "waits for the namespace");
    assert.ok(!component.dependencies.includes(one(rs, T.deployment).urn), "does not wait for the operator to start");
  });

  it("refuses a RayCluster the API server would refuse, naming the field", async () => {
    const spec = seedSpec();
    spec.podTypes[1].minWorkers = 9;
    let message = "";
    const rs = await runInline(() => (message = thrown(() => new RayCluster("c", { namespace: "ray", spec }))));
    assert.match(message, /^invalid args of RayCluster "c":$/m);
    const problem =
      "  - args.spec.podTypes[1].minWorkers: Invalid value: minWorkers must be less than or equal to maxWorkers";
    assert.ok(message.split("\n").includes(problem), message);
    assert.deepEqual(rs, []);
    const noNamespace = thrown(() => new RayCluster("c", { spec: seedSpec() }));
    assert.match(noNamespace, /args\.namespace: required without args\.operator/);
  });

  it("refuses a RayCluster spec given as an Output once it is known", async () => {
    const spec = seedSpec();
    spec.headPodType = "nope";
    let rc: RayCluster | undefined;
    const rs = await runInline(() => (rc = new RayCluster("c", { namespace: "ray", spec: pulumi.output(spec) })), {
      settle: false,
    });
    await assert.rejects(valueOf(rc!.spec), /args\.spec\.headPodType: Invalid value: headPodType must name one of/);
    assert.equal(rs.filter((r) => r.type === T.rayCluster).length, 0);
  });

  it("gives each resource of a RayOperator the URN the per-concern layout gave it, as an alias", async () => {
    // The URNs of `pulumi up` of index.ts at commit 90e8fe2 (dev stack), as the mocks recorded them.
    const old = (type: string, name: string) => `urn:pulumi:dev::ray-operator::${type}::${name}`;
    const c = "ray-operator:index:";
    const before = [
      old(`${c}RayClusterCrd`, "rayclusters"),
      old(`${c}RayClusterCrd$${T.crd}`, "rayclusters"),
      old(`${c}RayNamespace`, "namespace"),
      old(`${c}RayNamespace$${T.namespace}`, "ray"),
      old(`${c}OperatorRbac`, "operator-rbac"),
      old(`${c}OperatorRbac$${T.serviceAccount}`, "serviceaccount-ray-operator-serviceaccount"),
      old(`${c}OperatorRbac$${T.roleBinding}`, "rolebinding-ray-operator-rolebinding"),
      old(`${c}OperatorRbac$${T.roleBinding}`, "rolebinding-ray-operator-leader-election"),
      old(`${c}OperatorRbac$${T.role}`, "role-ray-operator-leader-election"),
      old(`${c}OperatorRbac$${T.role}`, "role-ray-operator-role"),
      old(`${c}OperatorWorkload`, "operator"),
      old(`${c}OperatorWorkload$${T.deployment}`, "ray-operator"),
    ];
    const rs = await runInline(() => {
      const aliases = perConcernAliases("ray-operator", "ray");
      new RayOperator("ray-operator", { namespace: "ray" }, { transformations: [aliases] });
    });
    // Each old URN is claimed by exactly one new resource, of the same type (the last part of the type chain).
    const typeOf = (urn: string) => urn.split("::")[2].split("$").pop();
    for (const urn of before) {
      const claimants = rs.filter((r) => r.aliases.includes(urn));
      assert.deepEqual(
        claimants.map((r) => r.type),
        [typeOf(urn)],
        urn,
      );
    }
    const clusterWide = await runInline(() => {
      const aliases = perConcernAliases("ray-operator", "ray");
      new RayOperator("ray-operator", { namespace: "ray", watch: "cluster" }, { transformations: [aliases] });
    });
    const clusterRole = old(`${c}OperatorRbac$${T.clusterRole}`, "clusterrole-ray-operator-role-ray");
    assert.ok(one(clusterWide, T.clusterRole).aliases.includes(clusterRole));
  });
});
