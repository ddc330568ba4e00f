// What a refusal of a pod means for its RayCluster (operator/controller/refusals.ts): the user's own
// path named, terminal or retried slowly, and an authorization refusal never blamed on the spec.
import { strict as assert } from "assert";
import { refusalOf } from "../../operator/controller/refusals";
import { ApiError } from "../../operator/kube/rest";

const invalid = (field: string, message: string) =>
  new ApiError(422, "Invalid", `Pod "x" is invalid: ${field}: ${message}`, {
    details: { causes: [{ field, message }] },
  });

describe("refusals of a pod, as its RayCluster sees them", () => {
  it("names the RayCluster's path of an invalid field, and is terminal", () => {
    const r = refusalOf(invalid("spec.containers[1].name", "Invalid value"), 1, "a worker pod");
    assert.deepEqual(r, {
      kind: "terminal",
      message: "a worker pod refused: spec.podTypes[1].podConfig.spec.containers[1].name: Invalid value",
    });
  });

  it("retries a Pod Security refusal slowly, naming the podConfig it is about", () => {
    const message = 'pods "x" is forbidden: violates PodSecurity "baseline:latest": privileged';
    const r = refusalOf(new ApiError(403, "Forbidden", message), 0, "a head pod");
    assert.equal(r?.kind, "slow");
    assert.equal(r?.message, `a head pod refused: spec.podTypes[0].podConfig: ${message}`);
  });

  it("says an authorization refusal is the operator's, not the spec's", () => {
    const message =
      'pods is forbidden: User "system:serviceaccount:ray:ray-operator" cannot create resource "pods" in "ray"';
    const r = refusalOf(new ApiError(403, "Forbidden", message), 1, "a worker pod");
    assert.equal(r?.kind, "slow");
    assert.doesNotMatch(r!.message, /podConfig/);
    assert.match(r!.message, /the operator is not allowed \(RBAC\)/);
  });

  it("is no refusal at all for a conflict, a throttle, a server error or a dropped connection", () => {
    for (const code of [409, 429, 500, 504])
      assert.equal(refusalOf(new ApiError(code, "X", "m"), 0, "a pod"), undefined);
    assert.equal(refusalOf(new Error("socket hang up"), 0, "a pod"), undefined);
  });
});
