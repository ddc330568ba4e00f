// EventRecorder against an in-memory API: what an Event carries, the same event repeated within 10
// minutes bumping one object's count (as client-go's recorder does), and failures that are logged,
// never thrown, and never leave it patching an event that was not made.
import { strict as assert } from "assert";
import { EventRecorder, EventTarget } from "../../operator/kube/events";
import { ApiError } from "../../operator/kube/rest";
import { createLogger } from "../../operator/util/log";
import { asKubeRest, FakeKubeApi } from "../helpers/fake-kube-api";

const target: EventTarget = {
  apiVersion: "cluster.ray.io/v1",
  kind: "RayCluster",
  metadata: { name: "example-cluster", namespace: "ray", uid: "uid-rc" },
};

describe("EventRecorder", () => {
  let api: FakeKubeApi;
  let lines: string[];
  let recorder: EventRecorder;
  const events = () => api.list("api/v1/events", "ray");
  beforeEach(() => {
    api = new FakeKubeApi();
    lines = [];
    const log = createLogger("info", (l) => lines.push(l));
    recorder = new EventRecorder(asKubeRest(api), "ray-operator", "ray-operator-7d9f-x2k4q", log);
  });

  it("creates an Event on the object, in its namespace, saying who reported it", async () => {
    await recorder.record(target, "Warning", "ClusterRestart", "head pod example-cluster-ray-head-x7k2q was lost");
    const [event] = events();
    assert.equal(events().length, 1);
    assert.match(event.metadata.name, /^example-cluster\.[0-9a-f]{16}$/);
    assert.equal(event.metadata.namespace, "ray");
    assert.deepEqual(event.involvedObject, {
      apiVersion: "cluster.ray.io/v1",
      kind: "RayCluster",
      name: "example-cluster",
      namespace: "ray",
      uid: "uid-rc",
    });
    assert.equal(event.type, "Warning");
    assert.equal(event.reason, "ClusterRestart");
    assert.equal(event.message, "head pod example-cluster-ray-head-x7k2q was lost");
    assert.deepEqual(event.source, { component: "ray-operator", host: "ray-operator-7d9f-x2k4q" });
    assert.equal(event.reportingComponent, "ray-operator");
    assert.equal(event.reportingInstance, "ray-operator-7d9f-x2k4q");
    assert.equal(event.count, 1);
    assert.equal(event.firstTimestamp, event.lastTimestamp);
  });

  it("counts the same event repeated on one object instead of making another", async () => {
    for (let i = 0; i < 3; i++) await recorder.record(target, "Normal", "UpdatedService", "Updated the ports");
    assert.equal(events().length, 1);
    assert.equal(events()[0].count, 3);
    assert.equal(api.count("POST", "events"), 1);
    assert.equal(api.count("PATCH", "events"), 2);
    // Another message, reason, type or object is another event.
    await recorder.record(target, "Normal", "UpdatedService", "Updated the ports again");
    await recorder.record(target, "Normal", "Created", "Updated the ports");
    await recorder.record(target, "Warning", "UpdatedService", "Updated the ports");
    const other = { ...target, metadata: { ...target.metadata, uid: "uid-other" } };
    await recorder.record(other, "Normal", "UpdatedService", "Updated the ports");
    assert.equal(events().length, 5);
    assert.deepEqual(
      events()
        .map((e) => e.count)
        .sort(),
      [1, 1, 1, 1, 3],
    );
  });

  it("makes a new event when the same one comes back after 10 minutes", async () => {
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    const realNow = Date.now;
    const start = realNow();
    try {
      Date.now = () => start + 10 * 60_000 + 1;
      await recorder.record(target, "Normal", "Created", "Created head pod x");
    } finally {
      Date.now = realNow;
    }
    assert.equal(events().length, 2);
    assert.deepEqual(
      events().map((e) => e.count),
      [1, 1],
    );
  });

  it("logs a failed create instead of throwing, and makes the next one anew", async () => {
    api.fail(
      (c) => c.method === "POST",
      () => new ApiError(403, "Forbidden", "events is forbidden"),
    );
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    assert.deepEqual(events(), []);
    assert.equal(lines.length, 1);
    assert.match(lines[0], /WARN .*could not record event Created on RayCluster ray\/example-cluster: events is forb/);
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    assert.equal(api.count("PATCH", "events"), 0, "not a patch of the event that was never made");
    assert.equal(events().length, 1);
  });

  it("makes the event anew when the one it would count is gone (events expire)", async () => {
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    api.remove(`/api/v1/namespaces/ray/events/${events()[0].metadata.name}`);
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    assert.equal(events().length, 0, "the count of a deleted event cannot go up");
    assert.match(lines.join("\n"), /could not record event Created/);
    await recorder.record(target, "Normal", "Created", "Created head pod x");
    assert.equal(events().length, 1);
    assert.equal(events()[0].count, 1);
  });
});
