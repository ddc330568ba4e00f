import { strict as assert } from "assert";
import { rayClusterCrd, printerColumns } from "../../api/v1/crd";
import { validateRayCluster, formatFieldErrors } from "../../api/v1/validate";
import { DEFAULTS } from "../../api/v1/defaults";
import { exampleCluster, edited } from "../helpers/examples";
import { BAD_CLUSTERS } from "../helpers/bad-clusters";

const fields = (obj: unknown) => validateRayCluster(obj).errors.map((e) => e.field);

describe("RayCluster CRD", () => {
  const crd = rayClusterCrd();
  const version = crd.spec.versions[0];
  const schema = version.schema.openAPIV3Schema;

  it("is rayclusters.cluster.ray.io, v1, namespaced, with a short name and a status subresource", () => {
    assert.equal(crd.metadata.name, "rayclusters.cluster.ray.io");
    assert.equal(crd.spec.group, "cluster.ray.io");
    assert.equal(crd.spec.scope, "Namespaced");
    assert.deepEqual(crd.spec.names.kind, "RayCluster");
    assert.ok(crd.spec.names.shortNames.includes("rayc"));
    assert.equal(crd.spec.versions.length, 1);
    assert.equal(version.name, "v1");
    assert.ok(version.served && version.storage);
    assert.deepEqual(version.subresources, { status: {} });
  });

  it("has printer columns for phase, readiness and workers", () => {
    const byName = Object.fromEntries(printerColumns.map((c) => [c.name, c.jsonPath]));
    assert.equal(byName.Status, ".status.phase");
    assert.equal(byName.Ready, '.status.conditions[?(@.type=="Ready")].status');
    assert.equal(byName.Workers, ".status.workers.ready");
    assert.equal(byName.Desired, ".status.workers.desired");
    assert.equal(byName.Age, ".metadata.creationTimestamp");
  });

  it("carries the contract's defaults in the schema", () => {
    const spec = schema.properties.spec.properties;
    assert.equal(spec.upscalingSpeed.default, 1.0);
    assert.equal(spec.idleTimeoutMinutes.default, 5);
    assert.equal(spec.maxWorkers.default, DEFAULTS.maxWorkers);
    assert.deepEqual(spec.headStartRayCommands.default, ["ray stop", "ulimit -n 65536; ray start --head --no-monitor --dashboard-host 0.0.0.0"]);
    assert.deepEqual(spec.workerStartRayCommands.default, ["ray stop", "ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379"]);
    assert.equal(spec.podTypes.items.properties.minWorkers.default, 0);
  });

  it("declares podConfig as an embedded Pod and podTypes as a list keyed by name", () => {
    const podTypes = schema.properties.spec.properties.podTypes;
    assert.equal(podTypes["x-kubernetes-list-type"], "map");
    assert.deepEqual(podTypes["x-kubernetes-list-map-keys"], ["name"]);
    assert.equal(podTypes.items.properties.podConfig["x-kubernetes-embedded-resource"], true);
    assert.deepEqual(podTypes.items.required, ["name", "podConfig"]);
  });

  it("is structural: every node has a type, unless it preserves unknown fields", () => {
    const visit = (s: any, path: string) => {
      if (!s["x-kubernetes-preserve-unknown-fields"] && !s["x-kubernetes-int-or-string"]) assert.ok(s.type, `${path} has no type`);
      for (const [k, v] of Object.entries<any>(s.properties ?? {})) visit(v, `${path}.${k}`);
      if (s.items) visit(s.items, `${path}[]`);
      if (typeof s.additionalProperties === "object") visit(s.additionalProperties, `${path}{}`);
    };
    visit(schema, "");
  });

  describe("admission rules (evaluated from the CRD's own schema and CEL)", () => {
    it("accepts both seed examples and fills defaults", () => {
      for (const name of ["example-cluster", "example-cluster2"] as const) {
        const { errors, object } = validateRayCluster(exampleCluster(name));
        assert.deepEqual(errors, [], formatFieldErrors(errors));
        assert.deepEqual(object.spec.headStartRayCommands, DEFAULTS.headStartRayCommands);
      }
    });

    it("applies defaults to a minimal cluster", () => {
      const rc = edited(exampleCluster("example-cluster"), (r) => {
        delete r.spec.maxWorkers;
        delete r.spec.upscalingSpeed;
        delete r.spec.idleTimeoutMinutes;
        r.spec.podTypes[1].minWorkers = 1;
        delete r.spec.podTypes[1].maxWorkers;
      });
      const { errors, object } = validateRayCluster(rc);
      assert.deepEqual(errors, []);
      assert.equal(object.spec.maxWorkers, 2);
      assert.equal(object.spec.upscalingSpeed, 1);
      assert.equal(object.spec.idleTimeoutMinutes, 5);
    });

    for (const [what, edit, field] of BAD_CLUSTERS) {
      it(`rejects ${what}, naming ${field || "the object"}`, () => {
        const got = fields(edited(exampleCluster("example-cluster"), edit));
        assert.ok(got.includes(field), `expected an error on ${JSON.stringify(field)}, got ${JSON.stringify(got)}`);
      });
    }
  });
});
