// Admission of RayClusters by a real API server, compared with the in-process validator that
// `pulumi preview` uses (api/v1/validate.ts): generated clusters broken the way users break them are
// refused with a path inside the RayCluster named, or accepted, by both alike; every bound holds at
// its edge; podConfig's unknown fields are refused or pruned; quantities read as a Pod reads them.
// The operator's side (Stalled with the path named, or Ready) can reuse the same generators.
import { strict as assert } from "assert";
import fc from "fast-check";
import { testCluster } from "../support/cluster";
import {
  Clients,
  clientsFromFile,
  deleteNamespace,
  ensureNamespace,
  errorText,
  eventually,
  statusCode,
  uniqueName,
} from "../helpers/kube";
import { installCrd } from "../helpers/operator-env";
import { GROUP, PLURAL, VERSION } from "../../api/v1/types";
import { formatFieldErrors, validateRayCluster } from "../../api/v1/validate";
import { JsonValue } from "../../api/v1/structural-schema";
import {
  compareQuantities,
  HUGE_EXPONENT,
  isAdmissibleQuantity,
  parseQuantityExact,
  Quantity,
  QuantityError,
  quantityFromJson,
  quantitySign,
  roundUpToMilli,
} from "../../api/v1/quantity";
import {
  BOUNDED_FIELDS,
  BOUNDED_LISTS,
  boundedListValue,
  broken,
  brokenClusters,
  Edit,
  exampleJson,
  fieldOf,
  JsonObject,
  PathSegment,
  pathsNamedIn,
  quantityText,
} from "../helpers/bad-clusters";

type Admission = { accepted: true; object: JsonObject } | { accepted: false; status: number; message: string };
type FieldValidation = "Strict" | "Warn" | "Ignore";

const set = (path: PathSegment[], value: JsonValue): Edit => ({ kind: "set", path, value });

describe("admission of RayClusters (integration, real API server)", function () {
  this.timeout(300000);
  let c: Clients;
  const ns = uniqueName("admission");

  /** A dry-run create: what the API server admits, and how, without storing anything. */
  async function admit(body: JsonObject, fieldValidation: FieldValidation = "Strict"): Promise<Admission> {
    try {
      const object = (await c.custom.createNamespacedCustomObject({
        group: GROUP,
        version: VERSION,
        namespace: ns,
        plural: PLURAL,
        body,
        dryRun: "All",
        fieldValidation,
      })) as JsonObject;
      return { accepted: true, object };
    } catch (e) {
      const status = statusCode(e);
      if (status !== 400 && status !== 422) throw e;
      return { accepted: false, status, message: errorText(e) };
    }
  }

  /** Both validators on one cluster: they must agree, and a refusal must name where. */
  async function bothAgree(cluster: JsonObject, what: string): Promise<Admission> {
    const local = validateRayCluster(cluster);
    const server = await admit(cluster);
    const localText = formatFieldErrors(local.errors) || "no errors";
    if (server.accepted) {
      assert.deepEqual(local.errors, [], `${what}: the API server admitted it; validate.ts refused:\n${localText}`);
      return server;
    }
    assert.ok(
      local.errors.length > 0,
      `${what}: the API server refused it (${server.message}); validate.ts admitted it`,
    );
    const named = pathsNamedIn(server.message);
    assert.ok(named.length > 0, `${what}: the API server's message names no path in the RayCluster: ${server.message}`);
    const localFields = new Set(local.errors.map((e) => e.field));
    const unknownToLocal = named.filter((p) => !localFields.has(p));
    assert.deepEqual(
      unknownToLocal,
      [],
      `${what}: the API server names fields validate.ts does not:\n${server.message}\nvalidate.ts:\n${localText}`,
    );
    return server;
  }

  before(async function () {
    this.timeout(1800000); // a cold machine builds the binaries first
    const cluster = await testCluster();
    c = clientsFromFile(cluster.kubeconfig);
    await installCrd(c); // the API server accepts the CRD: structural, and its CEL within the cost budget
    await ensureNamespace(c, ns);
    // Pods, even dry-run ones, need the namespace's default ServiceAccount.
    await eventually("the default ServiceAccount", async () =>
      c.core.readNamespacedServiceAccount({ name: "default", namespace: ns }),
    );
  });
  after(async () => {
    if (c) await deleteNamespace(c, ns);
  });

  it("refuses, naming a path in it, or admits each of 500 broken RayClusters alike with validate.ts", async () => {
    const outcomes = { accepted: 0, refused: 0, strict: 0 };
    await fc.assert(
      fc.asyncProperty(brokenClusters(ns), async (b) => {
        const server = await bothAgree(b.cluster, b.description);
        if (server.accepted) outcomes.accepted++;
        else {
          outcomes.refused++;
          if (server.status === 400) outcomes.strict++;
        }
      }),
      { seed: 16, numRuns: 500, endOnFailure: true },
    );
    // Both sides of the property were exercised, strict decoding among the refusals.
    assert.ok(outcomes.accepted >= 50, `only ${outcomes.accepted} of 500 were admitted`);
    assert.ok(outcomes.refused >= 250, `only ${outcomes.refused} of 500 were refused`);
    assert.ok(outcomes.strict >= 25, `only ${outcomes.strict} refusals were unknown fields`);
  });

  describe("boundaries: accepted at each bound, refused one step beyond, with the field named", () => {
    for (const bounded of BOUNDED_FIELDS) {
      const field = fieldOf(bounded.path);
      it(`${field}: ${bounded.min}..${bounded.max}`, async () => {
        const base = exampleJson("example-cluster", ns);
        for (const ok of [bounded.min, bounded.max]) {
          const result = await bothAgree(
            broken(base, [...(bounded.context ?? []), set(bounded.path, ok)]).cluster,
            `${field} = ${ok}`,
          );
          assert.ok(result.accepted, `${field} = ${ok} was refused`);
        }
        for (const bad of [bounded.min - bounded.step, bounded.max + bounded.step]) {
          const result = await bothAgree(
            broken(base, [...(bounded.context ?? []), set(bounded.path, bad)]).cluster,
            `${field} = ${bad}`,
          );
          assert.ok(
            !result.accepted && pathsNamedIn(result.message).includes(field),
            `${field} = ${bad}: ${JSON.stringify(result)}`,
          );
        }
      });
    }

    for (const list of BOUNDED_LISTS) {
      const field = fieldOf(list.path);
      it(`${field}: at most ${list.max} ${list.map ? "entries" : "items"}`, async () => {
        const base = exampleJson("example-cluster", ns);
        const at = (n: number) =>
          broken(base, [...(list.context ?? []), set(list.path, boundedListValue(list, n))]).cluster;
        assert.ok(
          (await bothAgree(at(list.max), `${field} with ${list.max}`)).accepted,
          `${field} with ${list.max} was refused`,
        );
        const over = await bothAgree(at(list.max + 1), `${field} with ${list.max + 1}`);
        assert.ok(!over.accepted && pathsNamedIn(over.message).includes(field), JSON.stringify(over));
      });
    }
  });

  describe("unknown fields in podConfig", () => {
    const typo = (): JsonObject =>
      broken(exampleJson("example-cluster", ns), [
        { kind: "rename", path: ["spec", "podTypes", 1, "podConfig", "spec", "containers"], to: "containerz" },
        set(
          ["spec", "podTypes", 1, "podConfig", "spec", "containers"],
          [{ name: "ray-node", image: "rayproject/ray:2.60.0" }],
        ),
      ]).cluster;

    it("are refused under strict field validation (kubectl's default), the field named", async () => {
      const result = await admit(typo(), "Strict");
      assert.ok(!result.accepted && result.status === 400, JSON.stringify(result));
      assert.match(result.message, /unknown field "spec\.podTypes\[1\]\.podConfig\.spec\.containerz"/);
    });

    for (const mode of ["Ignore", "Warn"] as const) {
      it(`are pruned, not stored, under ${mode}`, async () => {
        const result = await admit(typo(), mode);
        assert.ok(result.accepted, JSON.stringify(result));
        const podTypes = (result.object.spec as JsonObject).podTypes as JsonObject[];
        const podSpec = (podTypes[1].podConfig as JsonObject).spec as JsonObject;
        assert.equal(podSpec.containerz, undefined);
        assert.ok(Array.isArray(podSpec.containers));
      });
    }
  });

  describe("quantities", () => {
    // Strings users write, right and wrong, plus generated ones. An exponent of seven digits or more
    // is left out: the API server's parser spends seconds on one (the CRD refuses it unparsed).
    const samples = [
      ...new Set([
        ...fc.sample(quantityText, { seed: 5, numRuns: 600 }),
        "1e999",
        "1000000000000000000",
        "m",
        "+",
        "Pi",
        "1.G",
      ]),
    ].filter((s) => !new RegExp(HUGE_EXPONENT).test(s));

    it("are valid, with the same value, exactly when a Pod's parser finds them so, with its message", async () => {
      let parsed = 0;
      for (const text of samples) {
        const pod = {
          metadata: { name: "q" },
          spec: { containers: [{ name: "c", image: "busybox", resources: { requests: { memory: text } } }] },
        };
        let outcome: { status: number; message: string; memory?: string };
        try {
          const created = await c.core.createNamespacedPod({ namespace: ns, body: pod, dryRun: "All" });
          outcome = { status: 201, message: "", memory: created.spec?.containers[0].resources?.requests?.memory };
        } catch (e) {
          outcome = { status: statusCode(e) ?? 0, message: errorText(e) };
        }
        let value: Quantity;
        try {
          value = quantityFromJson(text);
        } catch (e) {
          assert.equal(outcome.status, 400, `${JSON.stringify(text)}: ${JSON.stringify(outcome)}`);
          assert.ok(
            e instanceof QuantityError && outcome.message.includes(e.message),
            `${JSON.stringify(text)}: ${outcome.message}`,
          );
          continue;
        }
        parsed++;
        if (quantitySign(value) < 0) {
          assert.equal(outcome.status, 422, `${JSON.stringify(text)}: ${JSON.stringify(outcome)}`);
          continue;
        }
        assert.equal(outcome.status, 201, `${JSON.stringify(text)}: ${JSON.stringify(outcome)}`);
        // The API server writes it in canonical form ("1E" for 10^18), rounded up to 1m: the same value.
        assert.equal(
          compareQuantities(parseQuantityExact(outcome.memory ?? ""), roundUpToMilli(value)),
          0,
          `${text} became ${outcome.memory}`,
        );
      }
      // Both sides were exercised.
      assert.ok(parsed >= 30 && samples.length - parsed >= 30, `${parsed} of ${samples.length} parsed`);
    });

    it("are admitted in a pod template exactly when a Pod takes them, else refused with the field named", async () => {
      const base = exampleJson("example-cluster", ns);
      const memory = ["spec", "podTypes", 1, "podConfig", "spec", "containers", 0, "resources", "requests", "memory"];
      // Without a limit, so that only the quantity itself decides.
      const noLimit: Edit = {
        kind: "delete",
        path: ["spec", "podTypes", 1, "podConfig", "spec", "containers", 0, "resources", "limits"],
      };
      for (const text of samples) {
        const result = await bothAgree(
          broken(base, [noLimit, set(memory, text)]).cluster,
          `memory ${JSON.stringify(text)}`,
        );
        const podTakes = isAdmissibleQuantity(text) && quantitySign(parseQuantityExact(text)) >= 0 && text.length <= 64;
        assert.equal(result.accepted, podTakes, `memory ${JSON.stringify(text)}: ${JSON.stringify(result)}`);
        if (!result.accepted) {
          assert.ok(pathsNamedIn(result.message).includes(`${fieldOf(memory.slice(0, -1))}[memory]`), result.message);
        }
      }
    });
  });
});
