// The informer's supervision, against a scripted API: a failing watch is restarted with a relist, a
// 410 Gone relists, and a relist emits exactly the differences.
import { strict as assert } from "assert";
import { Informer } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";

const pod = (name: string, rv: string) => ({
  metadata: { name, namespace: "ns", resourceVersion: rv, labels: { "ray-cluster-name": "c" } },
});
const tick = (ms = 20) => new Promise((r) => setTimeout(r, ms));

/** A fake API server: lists return `state`; each watch runs the next scripted behaviour. */
function fakeRest(state: { items: any[]; rv: string }, watches: Array<(emit: (e: any) => void) => Promise<void>>) {
  let lists = 0;
  let watchCalls = 0;
  const rest = {
    get: async () => {
      lists++;
      return { items: state.items.map((i) => structuredClone(i)), metadata: { resourceVersion: state.rv } };
    },
    watch: async (_p: string, _q: any, onEvent: (e: any) => void, signal: AbortSignal) => {
      const script = watches[watchCalls++];
      if (!script) return new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      return script(onEvent);
    },
  };
  return { rest: rest as any, lists: () => lists, watchCalls: () => watchCalls };
}

describe("informer", () => {
  const log = createLogger("error", () => {});

  it("lists, then applies watch events to the cache", async () => {
    const f = fakeRest({ items: [pod("a", "1")], rv: "1" }, [
      async (emit) => {
        emit({ type: "ADDED", object: pod("b", "2") });
        emit({ type: "MODIFIED", object: pod("a", "3") });
        emit({ type: "DELETED", object: pod("b", "4") });
      },
    ]);
    const inf = new Informer(f.rest, { name: "pods", path: "/api/v1/pods", log });
    const seen: string[] = [];
    inf.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_, o) => seen.push(`update ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.start();
    await inf.waitForSync();
    await tick();
    inf.stop();
    assert.deepEqual(seen, ["add a", "add b", "update a", "delete b"]);
    assert.deepEqual(
      inf.list().map((p) => p.metadata.name),
      ["a"],
    );
  });

  it("restarts list+watch after a failed watch and emits only what changed meanwhile", async () => {
    const state = { items: [pod("a", "1"), pod("b", "1")], rv: "1" };
    const f = fakeRest(state, [
      async () => {
        // While the watch is broken, b goes away and c appears.
        state.items = [pod("a", "1"), pod("c", "5")];
        state.rv = "5";
        throw new Error("connection reset");
      },
    ]);
    const inf = new Informer(f.rest, { name: "pods", path: "/api/v1/pods", log });
    const seen: string[] = [];
    inf.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (_, o) => seen.push(`update ${o.metadata.name}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.start();
    await inf.waitForSync();
    for (let i = 0; i < 100 && f.lists() < 2; i++) await tick(50);
    await tick();
    inf.stop();
    assert.equal(f.lists(), 2, "relisted after the failure");
    assert.equal(inf.restarts, 1);
    assert.deepEqual(seen, ["add a", "add b", "add c", "delete b"]);
  });

  it("relists on 410 Gone", async () => {
    const f = fakeRest({ items: [pod("a", "1")], rv: "1" }, [
      async (emit) =>
        emit({ type: "ERROR", object: { code: 410, reason: "Expired", message: "too old resource version" } }),
    ]);
    const inf = new Informer(f.rest, { name: "pods", path: "/api/v1/pods", log });
    inf.start();
    await inf.waitForSync();
    for (let i = 0; i < 50 && f.lists() < 2; i++) await tick();
    inf.stop();
    assert.equal(f.lists(), 2);
    assert.equal(inf.restarts, 0, "410 is routine, not a failure");
  });

  it("indexes objects by cluster", async () => {
    const f = fakeRest({ items: [pod("a", "1")], rv: "1" }, []);
    const inf = new Informer(f.rest, {
      name: "pods",
      path: "/api/v1/pods",
      log,
      indexBy: (o: any) => o.metadata.labels["ray-cluster-name"],
    });
    inf.start();
    await inf.waitForSync();
    inf.stop();
    assert.deepEqual(
      inf.byIndex("c").map((p) => p.metadata.name),
      ["a"],
    );
    assert.deepEqual(inf.byIndex("other"), []);
    assert.equal(inf.countByIndex("c"), 1);
    assert.equal(inf.countByIndex("other"), 0);
  });
});
