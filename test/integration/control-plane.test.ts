// What the operator leans on, proven on a real API server: the CRD and its admission rules, garbage
// collection through owner references, scheduling onto kwok nodes, RBAC, namespace deletion.
import { strict as assert } from "assert";
import { testCluster } from "../support/cluster";
import {
  apply,
  Clients,
  clientsFor,
  clientsFromFile,
  deleteNamespace,
  ensureNamespace,
  eventually,
  rejectsWith,
  serviceAccountKubeConfig,
  uniqueName,
} from "../helpers/kube";
import { CRD_NAME, GROUP, PLURAL, VERSION } from "../../api/v1/types";
import { rbacObjects } from "../../builders/rbac";
import { namespaceObject } from "../../builders/namespace";
import { simulatedCluster, edited } from "../helpers/examples";
import { BAD_CLUSTERS } from "../helpers/bad-clusters";
import { installCrd } from "../helpers/operator-env";
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";

const createCluster = (c: Clients, namespace: string, body: any) =>
  c.custom.createNamespacedCustomObject({ group: GROUP, version: VERSION, namespace, plural: PLURAL, body });

describe("the control plane (integration, real API server)", function () {
  this.timeout(180000);
  let c: Clients;
  let local: boolean;
  const ns = uniqueName("cp");

  before(async function () {
    this.timeout(1800000); // a cold machine builds the binaries first
    const cluster = await testCluster();
    local = cluster.local;
    c = clientsFromFile(cluster.kubeconfig);
    await installCrd(c);
    await ensureNamespace(c, ns);
  });
  after(async () => {
    if (c) await deleteNamespace(c, ns);
  });

  describe("the RayCluster CRD", () => {
    it("is accepted with its schema, CEL rules and printer columns", async () => {
      const crd = await c.ext.readCustomResourceDefinition({ name: CRD_NAME });
      assert.equal(crd.spec.versions[0].name, "v1");
      assert.ok(crd.spec.versions[0].additionalPrinterColumns!.some((col) => col.name === "Ready"));
      assert.ok(crd.status?.acceptedNames?.shortNames?.includes("rayc"));
    });

    it("admits both seed examples and applies the schema's defaults", async () => {
      for (const name of ["example-cluster", "example-cluster2"] as const) {
        const rc = simulatedCluster(name, ns);
        delete (rc.spec as any).upscalingSpeed;
        const created: any = await createCluster(c, ns, rc);
        assert.equal(created.spec.upscalingSpeed, 1);
        assert.deepEqual(created.spec.headStartRayCommands, [
          "ray stop",
          "ulimit -n 65536; ray start --head --no-monitor --dashboard-host 0.0.0.0",
        ]);
        assert.equal(created.spec.podTypes[0].podConfig.apiVersion, "v1");
      }
    });

    for (const [what, edit, field] of BAD_CLUSTERS) {
      it(`rejects ${what}, naming ${field || "the object"}`, async () => {
        const rc = edited(simulatedCluster("example-cluster", ns), edit);
        rc.metadata.name = what.includes("name too long") ? rc.metadata.name : uniqueName("bad");
        // Strict field validation, as `kubectl apply` uses by default, so unknown fields are errors too.
        const message = await rejectsWith(
          what === "an unknown field" ? 400 : 422,
          c.custom.createNamespacedCustomObject({
            group: GROUP,
            version: VERSION,
            namespace: ns,
            plural: PLURAL,
            body: rc,
            fieldValidation: "Strict",
          }),
        );
        if (field) assert.ok(message.includes(field), `message does not name ${field}: ${message}`);
      });
    }
  });

  it("garbage-collects a pod owned by a RayCluster when the RayCluster is deleted", async () => {
    const rc: any = await createCluster(c, ns, {
      ...simulatedCluster("example-cluster", ns),
      metadata: { name: "gc-owner", namespace: ns },
    });
    const pod = await c.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: {
          name: "owned-pod",
          ownerReferences: [
            {
              apiVersion: `${GROUP}/${VERSION}`,
              kind: "RayCluster",
              name: rc.metadata.name,
              uid: rc.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: { ...KWOK_PLACEMENT, containers: [{ name: "c", image: "busybox" }] },
      },
    });
    assert.equal(pod.metadata!.ownerReferences![0].uid, rc.metadata.uid);
    await c.custom.deleteNamespacedCustomObject({
      group: GROUP,
      version: VERSION,
      namespace: ns,
      plural: PLURAL,
      name: "gc-owner",
    });
    await eventually(
      "the owned pod to be garbage-collected",
      async () =>
        rejectsWith(404, c.core.readNamespacedPod({ name: "owned-pod", namespace: ns })).then(
          () => true,
          () => false,
        ),
      60000,
    );
  });

  it("schedules a pod onto a kwok node where it becomes Running and Ready", async function () {
    if (!local) this.skip();
    await c.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "fits" },
        spec: {
          ...KWOK_PLACEMENT,
          containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "1", memory: "512Mi" } } }],
        },
      },
    });
    const pod = await eventually("pod fits to be Running and Ready", async () => {
      const p = await c.core.readNamespacedPod({ name: "fits", namespace: ns });
      return p.status?.phase === "Running" &&
        p.status.conditions?.some((x) => x.type === "Ready" && x.status === "True")
        ? p
        : undefined;
    });
    assert.match(pod.spec!.nodeName!, /^kwok-node-/);
    assert.ok(pod.status!.podIP, "the pod has an IP");
  });

  it("keeps a pod that fits no node Pending with the scheduler's reason", async function () {
    if (!local) this.skip();
    await c.core.createNamespacedPod({
      namespace: ns,
      body: {
        metadata: { name: "too-big" },
        spec: {
          ...KWOK_PLACEMENT,
          containers: [{ name: "c", image: "busybox", resources: { requests: { cpu: "1000" } } }],
        },
      },
    });
    const cond = await eventually("the scheduler to give up on too-big", async () => {
      const p = await c.core.readNamespacedPod({ name: "too-big", namespace: ns });
      return p.status?.conditions?.find((x) => x.type === "PodScheduled" && x.status === "False");
    });
    assert.equal(cond.reason, "Unschedulable");
    assert.match(cond.message!, /Insufficient cpu/);
    assert.equal((await c.core.readNamespacedPod({ name: "too-big", namespace: ns })).status!.phase, "Pending");
  });

  describe("RBAC of the operator's ServiceAccount (its real token)", () => {
    const rbacNs = uniqueName("rbac");
    const other = uniqueName("other");
    let sa: Clients;

    before(async () => {
      await apply(c, namespaceObject(rbacNs, "baseline"));
      await ensureNamespace(c, other);
      for (const obj of rbacObjects(rbacNs, "namespace")) await apply(c, obj);
      sa = clientsFor(await serviceAccountKubeConfig(c, rbacNs, "ray-operator-serviceaccount"));
      await createCluster(c, rbacNs, { ...simulatedCluster("example-cluster", rbacNs) });
    });
    after(async () => {
      await deleteNamespace(c, rbacNs);
      await deleteNamespace(c, other);
    });

    it("can do what its Role grants", async () => {
      await sa.custom.listNamespacedCustomObject({ group: GROUP, version: VERSION, namespace: rbacNs, plural: PLURAL });
      await sa.custom.patchNamespacedCustomObjectStatus({
        group: GROUP,
        version: VERSION,
        namespace: rbacNs,
        plural: PLURAL,
        name: "example-cluster",
        body: [{ op: "add", path: "/status", value: { phase: "Pending" } }],
      });
      const pod = await sa.core.createNamespacedPod({
        namespace: rbacNs,
        body: {
          metadata: { name: "by-operator" },
          spec: { ...KWOK_PLACEMENT, containers: [{ name: "c", image: "busybox" }] },
        },
      });
      await sa.core.listNamespacedPod({ namespace: rbacNs });
      await sa.core.deleteNamespacedPod({ namespace: rbacNs, name: pod.metadata!.name! });
      await sa.core.createNamespacedService({
        namespace: rbacNs,
        body: { metadata: { name: "svc" }, spec: { ports: [{ port: 80 }] } },
      });
      await sa.core.createNamespacedEvent({
        namespace: rbacNs,
        body: {
          metadata: { name: "ev.1" },
          involvedObject: { kind: "Pod", name: "x", namespace: rbacNs },
          reason: "Test",
          message: "m",
          type: "Normal",
        },
      });
      await sa.coordination.createNamespacedLease({
        namespace: rbacNs,
        body: { metadata: { name: "ray-operator-leader" }, spec: { holderIdentity: "me" } },
      });
      await sa.coordination.readNamespacedLease({ namespace: rbacNs, name: "ray-operator-leader" });
    });

    it("is forbidden anything else", async () => {
      await rejectsWith(403, sa.core.listNamespacedSecret({ namespace: rbacNs }));
      await rejectsWith(403, sa.core.listNamespacedPod({ namespace: other }));
      await rejectsWith(403, sa.core.listNamespacedConfigMap({ namespace: rbacNs }));
      await rejectsWith(403, sa.apps.listNamespacedDeployment({ namespace: rbacNs }));
      await rejectsWith(403, sa.core.deleteNamespacedService({ namespace: rbacNs, name: "svc" }));
      await rejectsWith(
        403,
        sa.custom.deleteNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: rbacNs,
          plural: PLURAL,
          name: "example-cluster",
        }),
      );
      await rejectsWith(
        403,
        sa.custom.createNamespacedCustomObject({
          group: GROUP,
          version: VERSION,
          namespace: rbacNs,
          plural: PLURAL,
          body: simulatedCluster("example-cluster2", rbacNs),
        }),
      );
      await rejectsWith(403, sa.coordination.readNamespacedLease({ namespace: rbacNs, name: "someone-elses-lease" }));
      await rejectsWith(403, sa.rbac.listNamespacedRole({ namespace: rbacNs }));
      // No exec: ask the authorizer, as `kubectl exec` would be asked.
      const review = await sa.authz.createSelfSubjectAccessReview({
        body: {
          spec: { resourceAttributes: { namespace: rbacNs, verb: "create", resource: "pods", subresource: "exec" } },
        },
      });
      assert.equal(review.status?.allowed, false);
    });
  });

  it("removes what is in a namespace when the namespace is deleted", async () => {
    const doomed = uniqueName("doomed");
    await ensureNamespace(c, doomed);
    await createCluster(c, doomed, simulatedCluster("example-cluster", doomed));
    await c.core.createNamespacedPod({
      namespace: doomed,
      body: { metadata: { name: "p" }, spec: { ...KWOK_PLACEMENT, containers: [{ name: "c", image: "busybox" }] } },
    });
    await deleteNamespace(c, doomed, true);
    await rejectsWith(404, c.core.readNamespacedPod({ namespace: doomed, name: "p" }));
  });
});
