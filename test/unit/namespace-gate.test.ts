// NamespaceGate in namespaced mode against an in-memory API: the watched namespace is read once for
// all the passes that ask at the same moment (a burst of new clusters starts ten passes at once), a
// failed read is not remembered, and a namespace without a Pod Security level gets a slow refusal.
import { strict as assert } from "assert";
import { NamespaceGate } from "../../operator/controller/namespaces";
import { ApiError } from "../../operator/kube/rest";
import { createLogger } from "../../operator/util/log";
import { asKubeRest, FakeKubeApi } from "../helpers/fake-kube-api";

const NS = "ray";

function gate(api: FakeKubeApi): NamespaceGate {
  return new NamespaceGate({
    rest: asKubeRest(api),
    watchNamespace: NS,
    operatorNamespace: NS,
    log: createLogger("error", () => undefined),
  });
}

describe("NamespaceGate (namespaced)", () => {
  let api: FakeKubeApi;
  beforeEach(() => {
    api = new FakeKubeApi();
    api.put("/api/v1/namespaces", {
      metadata: { name: NS, labels: { "pod-security.kubernetes.io/enforce": "baseline" } },
    });
  });

  it("reads the namespace once for passes that ask at the same time, and not again within 30 s", async () => {
    const namespaces = gate(api);
    const answers = await Promise.all(Array.from({ length: 10 }, () => namespaces.podSecurity(NS)));
    assert.deepEqual(answers, Array(10).fill(undefined));
    assert.equal(api.count("GET", "namespaces"), 1);
    assert.equal(await namespaces.podSecurity(NS), undefined);
    assert.equal(api.count("GET", "namespaces"), 1);
  });

  it("does not keep a failed read: the next pass asks again", async () => {
    api.fail(
      (c) => c.method === "GET" && c.path.startsWith(`/api/v1/namespaces/${NS}`),
      () => new ApiError(503, "ServiceUnavailable", "the API server is restarting"),
    );
    const namespaces = gate(api);
    const first = await Promise.allSettled([namespaces.podSecurity(NS), namespaces.podSecurity(NS)]);
    assert.deepEqual(
      first.map((r) => r.status),
      ["rejected", "rejected"],
    );
    assert.equal(await namespaces.podSecurity(NS), undefined);
    assert.equal(api.count("GET", "namespaces"), 2);
  });

  it("refuses slowly, naming the label, where the namespace enforces no Pod Security level", async () => {
    api.modify(`/api/v1/namespaces/${NS}`, (ns) => {
      ns.metadata.labels = {};
    });
    const refusal = await gate(api).podSecurity(NS);
    assert.equal(refusal?.kind, "slow");
    assert.match(refusal?.message ?? "", /namespace ray enforces no Pod Security level \(label pod-security/);
  });
});
