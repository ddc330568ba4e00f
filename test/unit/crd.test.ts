import { strict as assert } from "assert";
import { readFileSync } from "fs";
import { rayClusterCrd, printerColumns, POD_TEMPLATE_SCHEMA, BOUNDS } from "../../api/v1/crd";
import { validateRayCluster, formatFieldErrors } from "../../api/v1/validate";
import { DEFAULTS } from "../../api/v1/defaults";
import { JsonValue, StructuralSchema } from "../../api/v1/structural-schema";
import { exampleCluster, edited } from "../helpers/examples";
import {
  BAD_CLUSTERS,
  BOUNDED_FIELDS,
  BOUNDED_LISTS,
  boundedListValue,
  broken,
  Edit,
  exampleJson,
  fieldOf,
  PathSegment,
} from "../helpers/bad-clusters";
import {
  enumsFromGeneratedGo,
  generatePodSchema,
  goConstants,
  OUTPUT,
  pinnedKubernetesVersion,
  readPodSchemaSources,
  serialize,
} from "../../scripts/schema/generate-pod-schema";

const fields = (obj: unknown) => validateRayCluster(obj).errors.map((e) => e.field);

/** The schema node at a path of property names (`[]` steps into items, `{}` into additionalProperties). */
function node(schema: StructuralSchema, ...path: string[]): StructuralSchema {
  let at: StructuralSchema | undefined = schema;
  for (const step of path) {
    at = step === "[]" ? at?.items : step === "{}" ? at?.additionalProperties : at?.properties?.[step];
    assert.ok(at, `no schema at ${path.join(".")}`);
  }
  return at;
}

/** Every node of a schema with its path. */
function* nodes(schema: StructuralSchema, path = ""): Generator<[string, StructuralSchema]> {
  yield [path, schema];
  for (const [k, v] of Object.entries(schema.properties ?? {})) yield* nodes(v, `${path}.${k}`);
  if (schema.items) yield* nodes(schema.items, `${path}[]`);
  if (schema.additionalProperties) yield* nodes(schema.additionalProperties, `${path}{}`);
}

const set = (path: PathSegment[], value: JsonValue): Edit => ({ kind: "set", path, value });
const errorsOf = (edits: Edit[]) =>
  validateRayCluster(broken(exampleJson("example-cluster", "ray"), edits).cluster).errors;

describe("RayCluster CRD", () => {
  const crd = rayClusterCrd();
  const version = crd.spec.versions[0];
  const schema = version.schema.openAPIV3Schema;
  const spec = node(schema, "spec");
  const podConfig = node(spec, "podTypes", "[]", "podConfig");

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
    assert.equal(node(spec, "upscalingSpeed").default, 1.0);
    assert.equal(node(spec, "idleTimeoutMinutes").default, 5);
    assert.equal(node(spec, "maxWorkers").default, DEFAULTS.maxWorkers);
    assert.deepEqual(node(spec, "headStartRayCommands").default, [
      "ray stop",
      "ulimit -n 65536; ray start --head --no-monitor --dashboard-host 0.0.0.0",
    ]);
    assert.deepEqual(node(spec, "workerStartRayCommands").default, [
      "ray stop",
      "ulimit -n 65536; ray start --address=$RAY_HEAD_IP:6379",
    ]);
    assert.equal(node(spec, "podTypes", "[]", "minWorkers").default, 0);
  });

  it("keys podTypes by name and checks podConfig against the Pod's own generated schema", () => {
    const podTypes = node(spec, "podTypes");
    assert.equal(podTypes["x-kubernetes-list-type"], "map");
    assert.deepEqual(podTypes["x-kubernetes-list-map-keys"], ["name"]);
    assert.deepEqual(podTypes.items?.required, ["name", "podConfig"]);
    assert.equal(podConfig["x-kubernetes-preserve-unknown-fields"], undefined);
    assert.deepEqual(node(podConfig, "metadata"), POD_TEMPLATE_SCHEMA.podTemplateMetadata);
    assert.deepEqual(Object.keys(node(podConfig, "metadata").properties ?? {}).sort(), [
      "annotations",
      "generateName",
      "labels",
      "name",
    ]);
    // The Pod's schema, plus what a pod that runs Ray needs: a container, with an image.
    const generated = POD_TEMPLATE_SCHEMA.podSpec;
    assert.deepEqual(Object.keys(node(podConfig, "spec").properties ?? {}), Object.keys(generated.properties ?? {}));
    assert.equal(node(podConfig, "spec", "containers").minItems, 1);
    assert.ok(node(podConfig, "spec", "containers", "[]").required?.includes("image"));
    assert.deepEqual(node(podConfig, "spec", "volumes"), node(generated, "volumes"));
  });

  it("is structural: every node has a type, unless it is int-or-string or preserves unknown fields", () => {
    for (const [path, s] of nodes(schema)) {
      if (s["x-kubernetes-int-or-string"]) assert.deepEqual(s.anyOf, [{ type: "integer" }, { type: "string" }], path);
      else if (!s["x-kubernetes-preserve-unknown-fields"]) assert.ok(s.type, `${path} has no type`);
      if (s["x-kubernetes-list-type"] === "map") {
        for (const key of s["x-kubernetes-list-map-keys"] ?? [])
          assert.ok(s.items?.required?.includes(key), `${path}: map key ${key} is not required`);
      }
    }
  });

  it("bounds every count and number of the RayCluster's own fields", () => {
    const own = structuredClone(spec);
    delete own.properties?.podTypes?.items?.properties?.podConfig;
    for (const [path, s] of nodes(own, "spec")) {
      if (s.type !== "integer" && s.type !== "number") continue;
      assert.ok(s.minimum !== undefined && s.maximum !== undefined, `${path} has no minimum and maximum`);
    }
    for (const [path, s] of nodes(own, "spec"))
      if (s.type === "array") assert.ok(s.maxItems !== undefined, `${path} has no maxItems`);
  });

  describe("the generated Pod schema (scripts/schema/generate-pod-schema.ts)", () => {
    it("is what the generator makes of Kubernetes' sources at the pinned version", function () {
      this.timeout(120000); // go mod download, then a 2 MB OpenAPI document and a 12 MB Go file
      const committed = readFileSync(OUTPUT, "utf8");
      const sources = readPodSchemaSources();
      assert.equal(sources.kubernetesVersion, pinnedKubernetesVersion());
      assert.equal(POD_TEMPLATE_SCHEMA.kubernetesVersion, pinnedKubernetesVersion());
      assert.ok(
        serialize(generatePodSchema(sources)) === committed,
        "api/v1/generated/pod-schema.json is stale: run npm run schema:generate",
      );
    });

    it("carries no $ref, description or default, and ObjectMeta only as a pod template has it", () => {
      const text = JSON.stringify(POD_TEMPLATE_SCHEMA);
      for (const absent of [
        '"$ref"',
        '"allOf"',
        '"oneOf"',
        '"description"',
        '"default"',
        '"x-kubernetes-patch',
        '"x-kubernetes-unions"',
      ]) {
        assert.ok(!text.includes(absent), `the generated schema holds ${absent}`);
      }
      const claimMetadata = node(
        POD_TEMPLATE_SCHEMA.podSpec,
        "volumes",
        "[]",
        "ephemeral",
        "volumeClaimTemplate",
        "metadata",
      );
      assert.deepEqual(Object.keys(claimMetadata.properties ?? {}), ["labels", "annotations"]);
    });

    it("takes enums from the Go-generated OpenAPI, with the empty string Go reads as unset", () => {
      assert.deepEqual(node(POD_TEMPLATE_SCHEMA.podSpec, "containers", "[]", "imagePullPolicy").enum, [
        "Always",
        "IfNotPresent",
        "Never",
        "",
      ]);
      assert.deepEqual(node(POD_TEMPLATE_SCHEMA.podSpec, "restartPolicy").enum, ["Always", "Never", "OnFailure", ""]);
      const source = [
        "func schema_k8sio_api_core_v1_Thing(ref common.ReferenceCallback) common.OpenAPIDefinition {",
        '\t\t\t\t\t"mode": {',
        '\t\t\t\t\t\t\tEnum:        []interface{}{"A", "B"},',
        '\t\t\t\t\t"modes": {',
        '\t\t\t\t\t\t\t\t\t\tEnum:    []interface{}{"C"},',
        "func schema_k8sio_api_apps_v1_Other(ref common.ReferenceCallback) common.OpenAPIDefinition {",
        '\t\t\t\t\t"mode": {',
        '\t\t\t\t\t\t\tEnum:        []interface{}{"X"},',
      ].join("\n");
      const enums = enumsFromGeneratedGo(source);
      assert.deepEqual([...enums.keys()], ["io.k8s.api.core.v1.Thing"]);
      assert.deepEqual(enums.get("io.k8s.api.core.v1.Thing")?.get("mode"), { values: ["A", "B"], on: "value" });
      assert.deepEqual(enums.get("io.k8s.api.core.v1.Thing")?.get("modes"), { values: ["C"], on: "items" });
    });

    it("reads name formats from k8s.io/apimachinery's constants", () => {
      const constants = goConstants(
        [
          'const a string = "[a-z]"',
          'const b string = "(" + a + "\\\\.)*"',
          "const n int = 63",
          "const c = a + unknown",
        ].join("\n"),
      );
      assert.equal(constants.get("b"), "([a-z]\\.)*");
      assert.equal(constants.get("n"), "63");
      assert.equal(constants.has("c"), false);
    });
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
      it(`rejects ${what}, naming ${field}`, () => {
        const got = fields(edited(exampleCluster("example-cluster"), edit));
        assert.ok(got.includes(field), `expected an error on ${JSON.stringify(field)}, got ${JSON.stringify(got)}`);
      });
    }

    describe("boundaries", () => {
      for (const bounded of BOUNDED_FIELDS) {
        const field = fieldOf(bounded.path);
        const beyond = [bounded.min - bounded.step, bounded.max + bounded.step];
        it(`${field}: accepts ${bounded.min} and ${bounded.max}, refuses ${beyond.join(" and ")}`, () => {
          for (const ok of [bounded.min, bounded.max]) {
            const errors = errorsOf([...(bounded.context ?? []), set(bounded.path, ok)]);
            assert.deepEqual(errors, [], `${field} = ${ok}: ${formatFieldErrors(errors)}`);
          }
          for (const bad of [bounded.min - bounded.step, bounded.max + bounded.step]) {
            // A bound is an OpenAPI check, after which the CEL rules still run: they may add their own.
            const named = errorsOf([...(bounded.context ?? []), set(bounded.path, bad)]).map((e) => e.field);
            assert.ok(named.includes(field), `${field} = ${bad}: ${JSON.stringify(named)}`);
          }
        });
      }

      for (const list of BOUNDED_LISTS) {
        const field = fieldOf(list.path);
        it(`${field}: accepts ${list.max} ${list.map ? "entries" : "items"}, refuses ${list.max + 1}`, () => {
          const at = (n: number) => errorsOf([...(list.context ?? []), set(list.path, boundedListValue(list, n))]);
          assert.deepEqual(at(list.max), [], formatFieldErrors(at(list.max)));
          assert.deepEqual(
            at(list.max + 1).map((e) => e.field),
            [field],
          );
        });
      }

      it("refuses a fractional Ray resource, which Ray cannot start a node with", () => {
        const named = errorsOf([set(["spec", "podTypes", 1, "rayResources", "Custom1"], 0.5)]).map((e) => e.field);
        assert.deepEqual(named, ["spec.podTypes[1].rayResources.Custom1"]);
        assert.equal(BOUNDS.rayResource, 100e12);
      });
    });

    describe("the pod template", () => {
      const container = ["spec", "podTypes", 1, "podConfig", "spec", "containers", 0];
      const resources = (kind: string, name: string) => [...container, "resources", kind, name];
      const refusals: Array<[string, Edit[], string, RegExp]> = [
        [
          "a misspelt field",
          [{ kind: "rename", path: [...container, "image"], to: "imagee" }],
          "spec.podTypes[1].podConfig.spec.containers[0].imagee",
          /unknown field/,
        ],
        [
          "a field a pod template has not",
          [set(["spec", "podTypes", 1, "podConfig", "metadata", "namespace"], "x")],
          "spec.podTypes[1].podConfig.metadata.namespace",
          /unknown field/,
        ],
        [
          "a value outside an enum",
          [set([...container, "imagePullPolicy"], "IfNotPresnt")],
          "spec.podTypes[1].podConfig.spec.containers[0].imagePullPolicy",
          /Unsupported value/,
        ],
        [
          "a container name with a space",
          [set([...container, "name"], "ray node")],
          "spec.podTypes[1].podConfig.spec.containers[0].name",
          /must match/,
        ],
        [
          "duplicate container names",
          [set(["spec", "podTypes", 1, "podConfig", "spec", "containers", 1], { name: "ray-node", image: "x" })],
          "spec.podTypes[1].podConfig.spec.containers[1]",
          /Duplicate value/,
        ],
        [
          "a quantity with a space",
          [set(resources("requests", "memory"), "512 Mi")],
          "spec.podTypes[1].podConfig.spec.containers[0].resources.requests[memory]",
          /"512 Mi" is not a quantity/,
        ],
        [
          "a fractional number for a quantity",
          [set(resources("requests", "cpu"), 0.5)],
          "spec.podTypes[1].podConfig.spec.containers[0].resources.requests.cpu",
          /integer or string/,
        ],
        [
          "a negative quantity",
          [set(resources("limits", "cpu"), "-1")],
          "spec.podTypes[1].podConfig.spec.containers[0].resources.limits[cpu]",
          /-1 is below 0/,
        ],
        [
          "a request above its limit",
          [set(resources("requests", "memory"), "2Gi")],
          "spec.podTypes[1].podConfig.spec.containers[0].resources.requests",
          /less than or equal to the limit/,
        ],
        [
          "a resource without a domain",
          [set(resources("limits", "gpu"), "1")],
          "spec.podTypes[1].podConfig.spec.containers[0].resources.limits",
          /nvidia.com\/gpu/,
        ],
        [
          "a label key that is no qualified name",
          [set(["spec", "podTypes", 1, "podConfig", "metadata", "labels"], { "bad key!": "x" })],
          "spec.podTypes[1].podConfig.metadata.labels",
          /label keys must be qualified names/,
        ],
        [
          "ephemeral containers, which a pod cannot be created with",
          [set(["spec", "podTypes", 1, "podConfig", "spec", "ephemeralContainers"], [{ name: "d", image: "x" }])],
          "spec.podTypes[1].podConfig.spec.ephemeralContainers",
          /at most 0 items/,
        ],
      ];
      for (const [what, edits, field, message] of refusals) {
        it(`refuses ${what}, naming ${field}`, () => {
          const errors = errorsOf(edits);
          const error = errors.find((e) => e.field === field);
          assert.ok(error, `no error on ${field}: ${formatFieldErrors(errors)}`);
          assert.match(error.message, message);
        });
      }

      it("accepts quantities a Pod accepts, as text or integers, and duplicate env names (a Pod warns)", () => {
        const errors = errorsOf([
          set(resources("requests", "cpu"), "1e3"),
          set(resources("limits", "cpu"), 2000),
          set(resources("limits", "nvidia.com/gpu"), "1"),
          set(resources("requests", "memory"), "0.5Gi"),
          set(
            [...container, "env"],
            [
              { name: "A", value: "1" },
              { name: "A", value: "2" },
            ],
          ),
        ]);
        assert.deepEqual(errors, [], formatFieldErrors(errors));
      });
    });
  });
});
