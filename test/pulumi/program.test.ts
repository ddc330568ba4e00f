import { strict as assert } from "assert";
import { join } from "path";
import { readStackFile } from "../../config/read-stack-file";
import { runProgram, Registered } from "../helpers/pulumi-mocks";
import { ROOT, SEED_STACK_FILE } from "../helpers/examples";

/** Written out: what test/integration/rbac-audit.test.ts found the operator to use, and no more. */
const OPERATOR_RULES = [
  { apiGroups: ["cluster.ray.io"], resources: ["rayclusters"], verbs: ["list", "watch"] },
  { apiGroups: ["cluster.ray.io"], resources: ["rayclusters/status"], verbs: ["patch"] },
  { apiGroups: ["cluster.ray.io"], resources: ["rayclusters/finalizers"], verbs: ["update"] },
  { apiGroups: [""], resources: ["pods"], verbs: ["list", "watch", "create", "delete"] },
  { apiGroups: [""], resources: ["services"], verbs: ["list", "watch", "create", "patch"] },
  { apiGroups: [""], resources: ["events"], verbs: ["create", "patch"] },
  // Its own namespace's labels (Pod Security), by name: nothing about other namespaces.
  { apiGroups: [""], resources: ["namespaces"], verbs: ["get"], resourceNames: ["ray"] },
];

describe("Pulumi program (index.ts) with the dev stack config, under Pulumi mocks", function () {
  this.timeout(60000);
  let resources: Registered[];
  const ofType = (t: string) => resources.filter((r) => r.type === t);
  const one = (t: string, name?: string) => {
    const found = ofType(t).filter((r) => !name || r.name === name);
    assert.equal(found.length, 1, `expected one ${t}${name ? ` named ${name}` : ""}, got ${found.length}`);
    return found[0];
  };

  before(async () => {
    ({ resources } = await runProgram(join(ROOT, "index.ts"), readStackFile(SEED_STACK_FILE)));
  });

  it("registers one component per concern, with the Kubernetes objects parented to them", () => {
    for (const t of ["RayClusterCrd", "RayNamespace", "OperatorRbac", "OperatorWorkload", "RayCluster"]) {
      assert.ok(ofType(`ray-operator:index:${t}`).length >= 1, `no ${t} component`);
    }
    const components = new Set(resources.filter((r) => r.type.startsWith("ray-operator:index:")).map((r) => r.urn));
    for (const r of resources.filter((r) => r.type.startsWith("kubernetes:"))) {
      assert.ok(components.has(r.parent), `${r.type} ${r.name} is not parented to a component`);
    }
  });

  it("installs the CRD with its schema rules and printer columns", () => {
    const crd = one("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition").inputs;
    assert.equal(crd.metadata.name, "rayclusters.cluster.ray.io");
    assert.deepEqual(
      crd.spec.versions.map((v: any) => v.name),
      ["v1"],
    );
    const v1 = crd.spec.versions[0];
    const spec = v1.schema.openAPIV3Schema.properties.spec;
    assert.deepEqual(spec.required, ["headPodType", "podTypes"]);
    const rules = spec["x-kubernetes-validations"].map((r: any) => r.rule);
    assert.ok(rules.includes("self.podTypes.exists(t, t.name == self.headPodType)"));
    assert.equal(
      spec.properties.podTypes.items["x-kubernetes-validations"][0].rule,
      "!has(self.maxWorkers) || self.minWorkers <= self.maxWorkers",
    );
    assert.deepEqual(spec.properties.podTypes["x-kubernetes-list-map-keys"], ["name"]);
    assert.deepEqual(
      v1.additionalPrinterColumns.map((c: any) => c.name),
      ["Status", "Ready", "Workers", "Desired", "Max", "Head IP", "Age"],
    );
    assert.deepEqual(v1.subresources, { status: {} });
  });

  it("creates the namespace with Pod Security labels", () => {
    const ns = one("kubernetes:core/v1:Namespace").inputs;
    assert.equal(ns.metadata.name, "ray");
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "baseline");
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/warn"], "restricted");
  });

  it("grants the operator exactly the rules it uses, in a namespaced Role", () => {
    const role = one("kubernetes:rbac.authorization.k8s.io/v1:Role", "ray-operator").inputs;
    assert.equal(role.metadata.namespace, "ray");
    assert.deepEqual(role.rules, OPERATOR_RULES);
    for (const rule of role.rules) {
      assert.ok(!rule.resources.includes("pods/exec"), "no exec");
      assert.ok(
        !rule.verbs.includes("*") && !rule.resources.includes("*") && !rule.apiGroups.includes("*"),
        "no wildcards",
      );
    }
    const leases = one("kubernetes:rbac.authorization.k8s.io/v1:Role", "ray-operator-leader-election").inputs;
    assert.deepEqual(leases.rules, [
      { apiGroups: ["coordination.k8s.io"], resources: ["leases"], verbs: ["create"] },
      {
        apiGroups: ["coordination.k8s.io"],
        resources: ["leases"],
        verbs: ["get", "update"],
        resourceNames: ["ray-operator-leader"],
      },
    ]);
    const binding = one("kubernetes:rbac.authorization.k8s.io/v1:RoleBinding", "ray-operator").inputs;
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "ray-operator-serviceaccount", namespace: "ray" },
    ]);
    assert.deepEqual(binding.roleRef, {
      apiGroup: "rbac.authorization.k8s.io",
      kind: "Role",
      name: "ray-operator-role",
    });
    assert.equal(ofType("kubernetes:rbac.authorization.k8s.io/v1:ClusterRole").length, 0);
  });

  it("runs the operator non-root and restricted, with probes, metrics, resources and the configured image", () => {
    const dep = one("kubernetes:apps/v1:Deployment").inputs;
    assert.equal(dep.metadata.name, "ray-operator");
    assert.equal(dep.spec.replicas, 1);
    const pod = dep.spec.template.spec;
    assert.equal(pod.serviceAccountName, "ray-operator-serviceaccount");
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
    const c = pod.containers[0];
    assert.equal(c.image, "ray-operator:0.1.0");
    assert.deepEqual(c.securityContext, {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    assert.equal(c.livenessProbe.httpGet.path, "/healthz");
    assert.equal(c.readinessProbe.httpGet.path, "/readyz");
    assert.deepEqual(
      c.ports.map((p: any) => [p.name, p.containerPort]),
      [
        ["metrics", 8080],
        ["health", 8081],
      ],
    );
    assert.deepEqual(c.resources, { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } });
    const env = Object.fromEntries(c.env.map((e: any) => [e.name, e.value ?? e.valueFrom?.fieldRef?.fieldPath]));
    assert.equal(env.RAY_OPERATOR_POD_NAMESPACE, "metadata.namespace");
    assert.equal(
      env.LEADER_ELECT,
      "true",
      "leader election is on even with one replica (a rolling update surges a second)",
    );
  });

  it("applies both seed clusters with their worker counts and resources, after the CRD", () => {
    const crd = one("kubernetes:apiextensions.k8s.io/v1:CustomResourceDefinition");
    const crdComponent = resources.find((r) => r.urn === crd.parent)!;
    const crs = ofType("kubernetes:cluster.ray.io/v1:RayCluster");
    assert.deepEqual(crs.map((r) => r.inputs.metadata.name).sort(), ["example-cluster", "example-cluster2"]);
    for (const cr of crs) {
      const spec = cr.inputs.spec;
      const worker = spec.podTypes.find((t: any) => t.name === "worker-nodes");
      assert.equal(spec.headPodType, "head-node");
      assert.equal(spec.maxWorkers, 3);
      assert.equal(worker.minWorkers, cr.inputs.metadata.name === "example-cluster" ? 2 : 1);
      assert.equal(worker.maxWorkers, 3);
      assert.deepEqual(worker.rayResources, { Custom1: 1, is_spot: 1 });
      assert.deepEqual(worker.podConfig.spec.containers[0].resources.requests, { cpu: "200m", memory: "512Mi" });
      assert.equal(cr.inputs.metadata.namespace, "ray");
      // The CR's component depends on the CRD's component, so the engine applies the CRD first.
      const component = resources.find((r) => r.urn === cr.parent)!;
      assert.ok(
        component.dependencies.includes(crdComponent.urn) || component.dependencies.includes(crd.urn),
        `${cr.name} does not depend on the CRD`,
      );
    }
  });

  it("switches to a ClusterRole and enables leader election from config", async () => {
    const config = readStackFile(SEED_STACK_FILE);
    const op = JSON.parse(config["ray-operator:operator"]);
    config["ray-operator:operator"] = JSON.stringify({ ...op, watch: "cluster", replicas: 2 });
    const { resources: rs } = await runProgram(join(ROOT, "index.ts"), config);
    const clusterRole = rs.filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:ClusterRole");
    assert.equal(clusterRole.length, 1);
    // Cluster-wide it watches namespaces (which opted in, and their Pod Security level) instead.
    const namespaceRule = { apiGroups: [""], resources: ["namespaces"], verbs: ["list", "watch"] };
    assert.deepEqual(clusterRole[0].inputs.rules, [...OPERATOR_RULES.slice(0, -1), namespaceRule]);
    assert.equal(rs.filter((r) => r.type === "kubernetes:rbac.authorization.k8s.io/v1:ClusterRoleBinding").length, 1);
    const dep = rs.find((r) => r.type === "kubernetes:apps/v1:Deployment")!.inputs;
    assert.equal(dep.spec.replicas, 2);
    const env = Object.fromEntries(dep.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
    assert.equal(env.LEADER_ELECT, "true");
    assert.ok(!("RAY_OPERATOR_POD_NAMESPACE" in env));
  });

  it("fails before registering anything when the config is wrong", async () => {
    const config = readStackFile(SEED_STACK_FILE);
    config["ray-operator:operator"] = JSON.stringify({ replicas: "two" });
    await assert.rejects(
      runProgram(join(ROOT, "index.ts"), config),
      /ray-operator:operator\.replicas: must be integer, got "two"/,
    );
  });
});
