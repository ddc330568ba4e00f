import { strict as assert } from "assert";
import { WorkQueue } from "../../operator/controller/workqueue";
import { Expectations } from "../../operator/controller/expectations";
import { TokenBucket } from "../../operator/util/token-bucket";

const tick = (ms = 5) => new Promise((r) => setTimeout(r, ms));

describe("work queue", () => {
  it("de-duplicates a key added many times while waiting", async () => {
    const q = new WorkQueue();
    for (let i = 0; i < 5; i++) q.add("ns/a");
    q.add("ns/b");
    assert.equal(q.depth(), 2);
    assert.equal(await q.get(), "ns/a");
    assert.equal(await q.get(), "ns/b");
  });

  it("never hands one key to two workers at once, and runs it again if it was added meanwhile", async () => {
    const q = new WorkQueue();
    q.add("k");
    const key = await q.get();
    q.add("k"); // while processing
    assert.equal(q.depth(), 0, "not handed out while in flight");
    q.done(key!);
    assert.equal(q.depth(), 1, "queued again after done");
  });

  it("runs keys on several workers concurrently and one key serially", async () => {
    const q = new WorkQueue();
    let concurrent = 0;
    let maxConcurrent = 0;
    const perKey = new Map<string, number>();
    let perKeyMax = 0;
    const run = q.run(
      4,
      async (key) => {
        concurrent++;
        perKey.set(key, (perKey.get(key) ?? 0) + 1);
        perKeyMax = Math.max(perKeyMax, perKey.get(key)!);
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await tick(20);
        perKey.set(key, perKey.get(key)! - 1);
        concurrent--;
      },
      () => {},
    );
    for (let i = 0; i < 8; i++) q.add(`k${i}`);
    q.add("k0");
    await tick(100);
    q.shutdown();
    await run;
    assert.equal(maxConcurrent, 4);
    assert.equal(perKeyMax, 1);
  });

  it("retries a failing key with growing per-key backoff and forgets it on success", async () => {
    const q = new WorkQueue(10, 1000);
    assert.equal(q.addRateLimited("k"), 10);
    assert.equal(q.addRateLimited("k"), 20);
    assert.equal(q.addRateLimited("k"), 40);
    assert.equal(q.addRateLimited("other"), 10, "backoff is per key");
    q.forget("k");
    assert.equal(q.addRateLimited("k"), 10);
    q.shutdown();
  });

  it("caps the backoff", () => {
    const q = new WorkQueue(100, 1000);
    let last = 0;
    for (let i = 0; i < 20; i++) last = q.addRateLimited("k");
    assert.equal(last, 1000);
    q.shutdown();
  });

  it("delays addAfter keys, keeping the earliest", async () => {
    const q = new WorkQueue();
    q.addAfter("k", 200);
    q.addAfter("k", 10);
    await tick(40);
    assert.equal(q.depth(), 1);
    q.shutdown();
  });
});

describe("expectations", () => {
  it("are unsatisfied until every create and delete has been observed", () => {
    const e = new Expectations();
    assert.ok(e.satisfied("c"));
    e.expectCreations("c", 2);
    e.expectDeletion("c", "ns/p1");
    assert.ok(!e.satisfied("c"));
    e.creationObserved("c");
    e.creationObserved("c");
    assert.ok(!e.satisfied("c"));
    e.deletionObserved("c", "ns/p1");
    assert.ok(e.satisfied("c"));
  });

  it("keep a create of unknown outcome expected until it is seen, or for a short while only", async () => {
    const e = new Expectations(60_000, 20);
    e.expectCreations("c", 2);
    e.creationObserved("c");
    e.creationUncertain("c"); // no answer: the pod may exist
    assert.ok(!e.satisfied("c"), "no second create while the cache may not show the first");
    e.creationObserved("c"); // it was stored after all, and the watch brought it
    assert.ok(e.satisfied("c"));
    e.expectCreations("d", 1);
    e.creationUncertain("d"); // never stored: nothing will be seen
    assert.ok(!e.satisfied("d"));
    await tick(30);
    assert.ok(e.satisfied("d"), "a create that was not stored blocks the cluster for uncertainMs only");
  });

  it("expire, so a lost event cannot block a cluster forever", async () => {
    const e = new Expectations(20);
    e.expectCreations("c", 1);
    assert.ok(!e.satisfied("c"));
    await tick(30);
    assert.ok(e.satisfied("c"));
  });
});

describe("token bucket", () => {
  it("paces requests beyond the burst at qps", async () => {
    const b = new TokenBucket(100, 5);
    const started = Date.now();
    for (let i = 0; i < 10; i++) await b.take();
    // Five tokens beyond the burst cannot be had in less than 5 / 100 s (a lower bound, never flaky).
    assert.ok(Date.now() - started >= 40, `10 tokens at 100 qps with burst 5 took ${Date.now() - started} ms`);
  });
});

describe("token bucket fairness", () => {
  it("serves flows round-robin, so a big flow cannot starve a small one", async () => {
    // 100 qps: a token takes 10 ms, so none accrues while the takes below are queued (at 1,000 qps
    // one could, on a millisecond boundary, and let a `big` through ahead of the queue).
    const b = new TokenBucket(100, 1);
    await b.take("warm-up"); // the burst is spent; everyone below waits
    const order: string[] = [];
    const waits = [
      ...Array.from({ length: 6 }, () => b.take("big").then(() => order.push("big"))),
      b.take("small").then(() => order.push("small")),
    ];
    await Promise.all(waits);
    assert.ok(order.indexOf("small") <= 1, `small served at position ${order.indexOf("small")}: ${order.join(",")}`);
    assert.equal(order.length, 7);
  });
});
