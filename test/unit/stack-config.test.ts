import { strict as assert } from "assert";
import { join } from "path";
import { ConfigError, loadStackConfig } from "../../config/stack-config";
import { readStackFile } from "../../config/read-stack-file";
import { ROOT } from "../helpers/examples";

const dev = () => readStackFile(join(ROOT, "Pulumi.dev.yaml"));

function problems(mutate: (c: Record<string, any>) => void): string[] {
  const raw = dev();
  const parsed: Record<string, any> = Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, JSON.parse(v)]));
  mutate(parsed);
  const text = Object.fromEntries(
    Object.entries(parsed).map(([k, v]) => [k, typeof v === "string" ? v : JSON.stringify(v)]),
  );
  try {
    loadStackConfig(text);
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.problems;
  }
  return [];
}

describe("stack config", () => {
  it("loads the dev stack with the seed's clusters and the operator settings", () => {
    const c = loadStackConfig(dev());
    assert.equal(c.namespace.name, "ray");
    assert.equal(c.operator.replicas, 1);
    assert.equal(c.operator.watch, "namespace");
    assert.deepEqual(Object.keys(c.clusters), ["example-cluster", "example-cluster2"]);
    const worker = (n: string) => c.clusters[n].spec.podTypes.find((t) => t.name === "worker-nodes")!;
    assert.equal(worker("example-cluster").minWorkers, 2);
    assert.equal(worker("example-cluster").maxWorkers, 3);
    assert.deepEqual(worker("example-cluster").rayResources, { Custom1: 1, is_spot: 1 });
    assert.equal(worker("example-cluster2").minWorkers, 1);
    assert.equal(c.clusters["example-cluster"].spec.maxWorkers, 3);
    assert.equal(c.clusters["example-cluster"].spec.headPodType, "head-node");
  });

  const cases: Array<[string, (c: any) => void, RegExp]> = [
    [
      "an unknown top-level key",
      (c) => (c["ray-operator:replicas"] = 2),
      new RegExp(
        "^ray-operator:replicas: unknown key; " +
          "expected one of: ray-operator:namespace, ray-operator:operator, ray-operator:clusters$",
      ),
    ],
    [
      "a misspelled operator key",
      (c) => (c["ray-operator:operator"].replica = 2),
      /^ray-operator:operator\.replica: unknown key; expected one of: image, .*replicas/,
    ],
    [
      "replicas of the wrong type",
      (c) => (c["ray-operator:operator"].replicas = "two"),
      /^ray-operator:operator\.replicas: must be integer, got "two"$/,
    ],
    [
      "zero replicas",
      (c) => (c["ray-operator:operator"].replicas = 0),
      /^ray-operator:operator\.replicas: must be >= 1, got 0$/,
    ],
    [
      "a negative scheduler window",
      (c) => (c["ray-operator:operator"].maxUnscheduledWorkers = -1),
      /^ray-operator:operator\.maxUnscheduledWorkers: must be >= 0, got -1$/,
    ],
    [
      "a bad watch mode",
      (c) => (c["ray-operator:operator"].watch = "everything"),
      /^ray-operator:operator\.watch: expected one of "namespace", "cluster", got "everything"$/,
    ],
    [
      "a bad Pod Security level",
      (c) => (c["ray-operator:namespace"].podSecurity = "strict"),
      /^ray-operator:namespace\.podSecurity: expected one of/,
    ],
    [
      "a cluster's minWorkers above maxWorkers",
      (c) => (c["ray-operator:clusters"]["example-cluster2"].spec.podTypes[1].minWorkers = 4),
      new RegExp(
        "^ray-operator:clusters\\.example-cluster2\\.spec\\.podTypes\\[1\\]\\.minWorkers: " +
          "Invalid value: minWorkers must be less than or equal to maxWorkers$",
      ),
    ],
    [
      "a cluster whose headPodType names no type",
      (c) => (c["ray-operator:clusters"]["example-cluster"].spec.headPodType = "head"),
      new RegExp(
        "^ray-operator:clusters\\.example-cluster\\.spec\\.headPodType: " +
          "Invalid value: headPodType must name one of podTypes$",
      ),
    ],
    [
      "a cluster with a bad quantity",
      (c) => {
        const container = c["ray-operator:clusters"]["example-cluster"].spec.podTypes[0].podConfig.spec.containers[0];
        container.resources.requests.memory = "lots";
      },
      new RegExp(
        "^ray-operator:clusters\\.example-cluster\\.spec\\.podTypes\\[0\\]\\.podConfig\\.spec\\.containers\\[0\\]" +
          '\\.resources\\.requests\\[memory\\]: Invalid value: "lots" is not a quantity',
      ),
    ],
    [
      "a cluster with more workers than the operator takes",
      (c) => (c["ray-operator:clusters"]["example-cluster"].spec.maxWorkers = 5001),
      /^ray-operator:clusters\.example-cluster\.spec\.maxWorkers: Invalid value: 5001: must be less .* 5000$/,
    ],
    [
      "a cluster with a typo in its pod template",
      (c) => (c["ray-operator:clusters"]["example-cluster"].spec.podTypes[1].podConfig.spec.containerz = []),
      /^ray-operator:clusters\.example-cluster\.spec\.podTypes\[1\]\.podConfig\.spec\.containerz: unknown field$/,
    ],
    [
      "an operator quantity that is none",
      (c) => (c["ray-operator:operator"].resources.requests.cpu = "lots"),
      /^ray-operator:operator\.resources\.requests\.cpu: must be a Kubernetes quantity of at least 0, .* got "lots"$/,
    ],
    [
      "a negative operator quantity",
      (c) => (c["ray-operator:operator"].resources.limits.memory = -1),
      /^ray-operator:operator\.resources\.limits\.memory: must be >= 0, got -1$/,
    ],
    [
      "an operator memory request above the default limit",
      (c) => {
        c["ray-operator:operator"].resources.requests.memory = "1Gi";
        delete c["ray-operator:operator"].resources.limits;
      },
      /^ray-operator:operator\.resources\.requests\.memory: 1Gi is above the memory limit, 512Mi; raise /,
    ],
    [
      "a cluster name that is no DNS label",
      (c) => (c["ray-operator:clusters"]["Bad_Name"] = c["ray-operator:clusters"]["example-cluster"]),
      /^ray-operator:clusters: cluster name "Bad_Name" must be a DNS-1035 label/,
    ],
    [
      "a cluster without spec",
      (c) => (c["ray-operator:clusters"]["example-cluster"] = { labels: {} }),
      /^ray-operator:clusters\.example-cluster: must have required property 'spec'/,
    ],
  ];
  for (const [what, mutate, expected] of cases) {
    it(`rejects ${what}, naming the key`, () => {
      const got = problems(mutate);
      assert.ok(
        got.some((p) => expected.test(p)),
        `no problem matched ${expected}: ${JSON.stringify(got, null, 1)}`,
      );
    });
  }

  it("reports every problem at once", () => {
    const got = problems((c) => {
      c["ray-operator:operator"].replicas = 0;
      c["ray-operator:operator"].watch = "x";
    });
    assert.equal(got.length, 2);
  });

  it("fills defaults when sections are missing", () => {
    const c = loadStackConfig({});
    assert.equal(c.namespace.name, "ray");
    assert.equal(c.namespace.create, true);
    assert.equal(c.operator.replicas, 1);
    assert.equal(c.operator.maxUnscheduledWorkers, 16);
    assert.deepEqual(c.clusters, {});
    assert.equal(loadStackConfig({ "ray-operator:namespace": "ray-prod" }).namespace.name, "ray-prod");
  });
});
