import { strict as assert } from "assert";
import { planCluster } from "../../operator/controller/plan";
import { computeStatus } from "../../operator/controller/status";
import { defaulted } from "../../api/v1/defaults";
import { mergePatch } from "../../operator/controller/merge-patch";
import { buildPod, RayPod } from "../../builders/pod";
import { HEAD_NAME_ANNOTATION } from "../../builders/names";
import type { Pod } from "../../operator/controller/pods";
import { exampleCluster, edited } from "../helpers/examples";

let n = 0;
/** A pod as the cache would hold it after the operator created it. */
function pod(
  rc: any,
  type: string,
  kind: "head" | "worker",
  opts: {
    phase?: string;
    ready?: boolean;
    headName?: string;
    deleting?: boolean;
    created?: number;
    scheduling?: "awaiting" | "unschedulable";
  } = {},
) {
  const p = buildPod(defaulted(rc), type, kind, { headPodName: opts.headName });
  n++;
  p.metadata.name = `${p.metadata.generateName}${n}`;
  p.metadata.uid = `uid-${n}`;
  p.metadata.creationTimestamp = new Date(1_700_000_000_000 + (opts.created ?? n) * 1000).toISOString();
  if (opts.deleting) p.metadata.deletionTimestamp = new Date().toISOString();
  const phase = opts.phase ?? "Running";
  p.status = {
    phase,
    conditions: [{ type: "Ready", status: opts.ready === false || phase !== "Running" ? "False" : "True" }],
    podIP: "10.0.0.9",
  };
  if (opts.scheduling === "awaiting") p.status = { phase: "Pending" };
  else if (opts.scheduling === "unschedulable")
    p.status = { phase: "Pending", conditions: [{ type: "PodScheduled", status: "False", reason: "Unschedulable" }] };
  else p.spec.nodeName = "node-1";
  return p as RayPod & Pod; // named, as the API server names a created pod
}

describe("planning a RayCluster", () => {
  const rc: any = {
    ...exampleCluster("example-cluster"),
    metadata: { name: "example-cluster", namespace: "ray", uid: "rc-uid", generation: 1 },
  };

  it("creates the Service, the head and its workers in one pass", () => {
    const plan = planCluster(defaulted(rc), [], undefined);
    assert.ok(plan.service && "create" in plan.service);
    assert.deepEqual(plan.creations, [
      { kind: "head", type: "head-node", count: 1 },
      { kind: "worker", type: "worker-nodes", count: 2 },
    ]);
    const head = pod(rc, "head-node", "head");
    const next = planCluster(
      defaulted(rc),
      [head, pod(rc, "worker-nodes", "worker", { headName: head.metadata.name })],
      {},
    );
    assert.deepEqual(next.creations, [{ kind: "worker", type: "worker-nodes", count: 1 }]);
  });

  it("creates nothing while the old head is still terminating", () => {
    const old = pod(rc, "head-node", "head", { deleting: true });
    const plan = planCluster(defaulted({ ...rc, status: { head: { podName: old.metadata.name } } }), [old], {});
    assert.deepEqual(plan.creations, []);
  });

  it("does nothing when everything matches", () => {
    const head = pod(rc, "head-node", "head");
    const ws = [
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }),
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }),
    ];
    const plan = planCluster(defaulted(rc), [head, ...ws], {
      spec: {
        ports: [
          { name: "gcs", port: 6379, targetPort: 6379 },
          { name: "client", port: 10001, targetPort: 10001 },
          { name: "dashboard", port: 8265, targetPort: 8265 },
        ],
      },
    });
    assert.equal(plan.service, undefined);
    assert.deepEqual(plan.creations, []);
    assert.deepEqual(plan.deletions, []);
  });

  it("keeps the desired count from status across an operator restart, even above minWorkers", () => {
    const withStatus = {
      ...rc,
      status: {
        podTypes: [
          { name: "head-node", desired: 1 },
          { name: "worker-nodes", desired: 3 },
        ],
      },
    };
    const head = pod(withStatus, "head-node", "head");
    const ws = [1, 2, 3].map(() => pod(withStatus, "worker-nodes", "worker", { headName: head.metadata.name }));
    const plan = planCluster(defaulted(withStatus), [head, ...ws], {});
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.desired["worker-nodes"], 3);
  });

  it("keeps live workers above the count status remembers (created by a pass stopped before its status write)", () => {
    const withStatus = {
      ...rc,
      status: {
        podTypes: [
          { name: "head-node", desired: 1 },
          { name: "worker-nodes", desired: 2 },
        ],
      },
    };
    const head = pod(withStatus, "head-node", "head");
    const ws = [1, 2, 3].map(() =>
      pod(withStatus, "worker-nodes", "worker", { headName: head.metadata.name, phase: "Pending" }),
    );
    const plan = planCluster(defaulted(withStatus), [head, ...ws], {});
    assert.deepEqual(plan.deletions, []);
    assert.equal(plan.desired["worker-nodes"], 3);
    // Above maxWorkers (3 here) is still cut.
    const four = [...ws, pod(withStatus, "worker-nodes", "worker", { headName: head.metadata.name })];
    assert.deepEqual(
      planCluster(defaulted(withStatus), [head, ...four], {}).deletions.map((d) => d.reason),
      ["ScaleDown"],
    );
  });

  it("replaces a lost worker, and removes surplus not-ready workers first", () => {
    const head = pod(rc, "head-node", "head");
    const ok = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name });
    assert.deepEqual(planCluster(defaulted(rc), [head, ok], {}).creations, [
      { kind: "worker", type: "worker-nodes", count: 1 },
    ]);
    const lowered = edited(rc, (r) => (r.spec.podTypes[1].maxWorkers = 1));
    (lowered.spec.podTypes[1] as any).minWorkers = 1;
    const pending = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name, phase: "Pending" });
    const plan = planCluster(defaulted(lowered), [head, ok, pending], {});
    assert.deepEqual(
      plan.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[pending.metadata.name, "ScaleDown"]],
    );
  });

  it("restarts the cluster when the head failed: head and all its workers replaced", () => {
    const head = pod(rc, "head-node", "head", { phase: "Failed" });
    const w = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name });
    const plan = planCluster(defaulted({ ...rc, status: { head: { podName: head.metadata.name } } }), [head, w], {});
    assert.equal(plan.restart, "HeadFailed");
    assert.deepEqual(plan.deletions.map((d) => d.reason).sort(), ["HeadFailed", "HeadReplaced"]);
    // The new head waits until the old workers are gone (their raylets would reach its GCS)...
    assert.deepEqual(plan.creations, []);
    const leaving = {
      ...w,
      metadata: { ...w.metadata, deletionTimestamp: new Date(Date.now() + 30_000).toISOString() },
    };
    const restarted = { ...rc, status: { head: { podName: head.metadata.name } } };
    assert.deepEqual(planCluster(defaulted(restarted), [leaving], {}).creations, []);
    // ...then the head and its workers come in one wave; a pod stuck terminating holds nothing back.
    const wave = [
      { kind: "head", type: "head-node", count: 1 },
      { kind: "worker", type: "worker-nodes", count: 2 },
    ];
    assert.deepEqual(planCluster(defaulted(restarted), [], {}).creations, wave);
    const stuck = { nowMs: Date.now() + 30_000 + 61_000 };
    assert.deepEqual(planCluster(defaulted(restarted), [leaving], {}, {}, stuck).creations, wave);
  });

  it("replaces only the outdated type's pods when its template changes", () => {
    const head = pod(rc, "head-node", "head");
    const w = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name });
    const changed = edited(rc, (r) => (r.spec.podTypes[1].podConfig.spec.containers[0].image = "other"));
    const plan = planCluster(defaulted(changed), [head, w], {});
    assert.deepEqual(
      plan.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[w.metadata.name, "Outdated"]],
    );
    assert.equal(plan.restart, undefined);
  });

  it("never exceeds the global maxWorkers; honours the autoscaler's idle removals down to the desired count", () => {
    const head = pod(rc, "head-node", "head");
    const ws = [1, 2, 3].map(() => pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }));
    assert.equal(
      planCluster(defaulted(rc), [head], {}, { targets: { "worker-nodes": 10 } }).desired["worker-nodes"],
      3,
    );
    const plan = planCluster(
      defaulted({ ...rc, status: { podTypes: [{ name: "worker-nodes", desired: 3 }] } }),
      [head, ...ws],
      {},
      { targets: { "worker-nodes": 2 }, drained: [ws[1].metadata.name, ws[2].metadata.name] },
    );
    assert.deepEqual(
      plan.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[ws[1].metadata.name, "Idle"]],
    );
  });

  describe("the scheduler window", () => {
    const ten = edited(rc, (r) => {
      r.spec.maxWorkers = 10;
      r.spec.podTypes[1].minWorkers = 10;
      r.spec.podTypes[1].maxWorkers = 10;
    });
    const window = { maxUnscheduledWorkers: 4 };

    it("creates the head and no more workers than the window holds, and says how many wait", () => {
      const plan = planCluster(defaulted(ten), [], undefined, {}, window);
      assert.deepEqual(plan.creations, [
        { kind: "head", type: "head-node", count: 1 },
        { kind: "worker", type: "worker-nodes", count: 4 },
      ]);
      assert.equal(plan.deferred, 6);
      assert.equal(plan.desired["worker-nodes"], 10, "the desired count is not cut, only paced");
    });

    it("counts the workers the scheduler has not looked at yet, and no others", () => {
      const head = pod(ten, "head-node", "head");
      const w = (scheduling?: "awaiting" | "unschedulable") =>
        pod(ten, "worker-nodes", "worker", { headName: head.metadata.name, scheduling });
      // 3 awaiting: room for 1.
      let plan = planCluster(defaulted(ten), [head, w("awaiting"), w("awaiting"), w("awaiting"), w()], {}, {}, window);
      assert.deepEqual(plan.creations, [{ kind: "worker", type: "worker-nodes", count: 1 }]);
      assert.equal(plan.deferred, 5);
      // Bound or found unschedulable (waiting for capacity): the window is free again.
      plan = planCluster(
        defaulted(ten),
        [head, w("unschedulable"), w("unschedulable"), w("unschedulable"), w()],
        {},
        {},
        window,
      );
      assert.deepEqual(plan.creations, [{ kind: "worker", type: "worker-nodes", count: 4 }]);
      // Full: nothing created, nothing removed.
      plan = planCluster(
        defaulted(ten),
        [head, w("awaiting"), w("awaiting"), w("awaiting"), w("awaiting")],
        {},
        {},
        window,
      );
      assert.deepEqual(plan.creations, []);
      assert.deepEqual(plan.deletions, []);
      assert.equal(plan.deferred, 6);
    });

    it("never holds back a head, and without a window creates everything at once", () => {
      const head = pod(ten, "head-node", "head");
      // A new cluster: the head always, and only as many workers as the window holds.
      const restart = planCluster(
        defaulted({ ...ten, status: { head: { podName: head.metadata.name } } }),
        [],
        {},
        {},
        window,
      );
      assert.deepEqual(restart.creations, [
        { kind: "head", type: "head-node", count: 1 },
        { kind: "worker", type: "worker-nodes", count: window.maxUnscheduledWorkers },
      ]);
      const unlimited = planCluster(defaulted(ten), [], undefined, {}, { maxUnscheduledWorkers: 0 });
      assert.deepEqual(
        unlimited.creations.find((c) => c.kind === "worker"),
        { kind: "worker", type: "worker-nodes", count: 10 },
      );
      assert.equal(unlimited.deferred, 0);
    });
  });

  it("replaces workers started against another head", () => {
    const head = pod(rc, "head-node", "head");
    const stray = pod(rc, "worker-nodes", "worker", { headName: "old-head" });
    assert.equal(stray.metadata.annotations[HEAD_NAME_ANNOTATION], "old-head");
    const plan = planCluster(defaulted(rc), [head, stray], {});
    assert.deepEqual(
      plan.deletions.map((d) => d.reason),
      ["HeadReplaced"],
    );
  });
});

describe("RayCluster status", () => {
  const rc: any = {
    ...exampleCluster("example-cluster"),
    metadata: { name: "example-cluster", namespace: "ray", uid: "rc-uid", generation: 4 },
  };

  it("is Ready with observedGeneration when the head and every desired worker are ready", () => {
    const head = pod(rc, "head-node", "head");
    const ws = [
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }),
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }),
    ];
    const pods = [head, ...ws];
    const s = computeStatus({ rc: defaulted(rc), pods, plan: planCluster(defaulted(rc), pods, undefined) });
    assert.equal(s.phase, "Running");
    assert.equal(s.observedGeneration, 4);
    const ready = s.conditions!.find((c) => c.type === "Ready")!;
    assert.deepEqual([ready.status, ready.reason, ready.observedGeneration], ["True", "AllPodsReady", 4]);
    assert.deepEqual(s.workers, { desired: 2, current: 2, ready: 2 });
    assert.equal(s.head!.podName, head.metadata.name);
  });

  it("goes back to not Ready as soon as a worker is not", () => {
    const head = pod(rc, "head-node", "head");
    const pods = [
      head,
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }),
      pod(rc, "worker-nodes", "worker", { headName: head.metadata.name, ready: false }),
    ];
    const s = computeStatus({
      rc: defaulted({
        ...rc,
        status: {
          phase: "Running",
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "AllPodsReady",
              message: "",
              lastTransitionTime: "2026-01-01T00:00:00Z",
            },
          ],
        },
      }),
      pods,
      plan: planCluster(defaulted(rc), pods, undefined),
    });
    const ready = s.conditions!.find((c) => c.type === "Ready")!;
    assert.equal(ready.status, "False");
    assert.equal(ready.reason, "WorkersNotReady");
    assert.notEqual(ready.lastTransitionTime, "2026-01-01T00:00:00Z");
    assert.equal(s.conditions!.find((c) => c.type === "Reconciling")!.status, "True");
  });

  it("is Stalled with the fields named when the spec cannot work", () => {
    const s = computeStatus({
      rc: defaulted(rc),
      pods: [],
      invalid: [{ field: "spec.podTypes[1].x", message: "bad" }],
    });
    assert.equal(s.phase, "Error");
    const stalled = s.conditions!.find((c) => c.type === "Stalled")!;
    assert.equal(stalled.status, "True");
    assert.match(stalled.message, /spec\.podTypes\[1\]\.x: bad/);
  });
});

describe("merge patch", () => {
  it("sets removed keys to null and replaces arrays", () => {
    assert.deepEqual(mergePatch({ a: 1, b: { c: 2, d: 3 }, e: [1] }, { a: 1, b: { c: 2 }, e: [2] }), {
      b: { d: null },
      e: [2],
    });
    assert.deepEqual(mergePatch({ a: 1 }, { a: 1 }), {});
  });
});

describe("planning with the autoscaler on: only workers Ray drained go", () => {
  const base: any = {
    ...exampleCluster("example-cluster"),
    metadata: { name: "example-cluster", namespace: "ray", uid: "rc-uid", generation: 2 },
  };
  const limits = { autoscaling: true };

  it("keeps Ray nodes over a lowered maxWorkers until Ray drains them; pods not yet Ray nodes go at once", () => {
    const rc = edited(base, (r) => {
      r.spec.maxWorkers = 1;
      r.spec.podTypes[1].minWorkers = 1;
      r.spec.podTypes[1].maxWorkers = 1;
      r.status = { podTypes: [{ name: "worker-nodes", desired: 3 }] };
    });
    const head = pod(rc, "head-node", "head");
    const busy = [1, 2].map(() => pod(rc, "worker-nodes", "worker", { headName: head.metadata.name }));
    const pending = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name, phase: "Pending" });
    // Running but not yet Ready: its raylet may already run (the probe lags): it waits for a drain too.
    const starting = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name, ready: false });
    const plan = planCluster(defaulted(rc), [head, ...busy, starting, pending], {}, {}, limits);
    assert.equal(plan.desired["worker-nodes"], 1);
    assert.deepEqual(
      plan.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[pending.metadata.name, "ScaleDown"]],
    );
    const drained = planCluster(defaulted(rc), [head, ...busy], {}, { drained: [busy[0].metadata.name] }, limits);
    assert.deepEqual(
      drained.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[busy[0].metadata.name, "Idle"]],
    );
    // Without the autoscaler nothing asks Ray: the newest surplus goes.
    const plain = planCluster(defaulted(rc), [head, ...busy], {}, {}, {});
    assert.deepEqual(
      plain.deletions.map((d) => d.reason),
      ["ScaleDown"],
    );
  });

  it("after a restart, removes the drained worker whose container ended and replaces none", () => {
    const rc = edited(base, (r) => (r.spec.podTypes[1].minWorkers = 1));
    const head = pod(rc, "head-node", "head");
    const stays = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name });
    const drained = pod(rc, "worker-nodes", "worker", { headName: head.metadata.name, phase: "Failed" });
    const restarted = edited(rc, (r) => {
      // What the autoscaler wrote before it asked Ray to drain: the pod, and the count without it.
      r.status = {
        podTypes: [{ name: "worker-nodes", desired: 1 }],
        autoscaler: { draining: [drained.metadata.name] },
      };
    });
    const plan = planCluster(defaulted(restarted), [head, stays, drained], {}, {}, limits);
    assert.deepEqual(
      plan.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[drained.metadata.name, "Idle"]],
    );
    assert.deepEqual(plan.creations, []);
    // The same pod failing on its own (not being drained) is replaced.
    const failed = planCluster(
      defaulted(edited(restarted, (r) => delete r.status.autoscaler)),
      [head, stays, drained],
      {},
      {},
      limits,
    );
    assert.deepEqual(
      failed.deletions.map((d) => d.reason),
      ["WorkerFailed"],
    );
  });

  it("keeps a worker being drained (still a Ray node) out of the count, and deletes it once Ray drained it", () => {
    const template = edited(base, (r) => (r.spec.podTypes[1].minWorkers = 1));
    const head = pod(template, "head-node", "head");
    const [stays, leaving] = [1, 2].map(() =>
      pod(template, "worker-nodes", "worker", { headName: head.metadata.name }),
    );
    const rc = edited(template, (r) => {
      r.status = {
        podTypes: [{ name: "worker-nodes", desired: 1 }],
        autoscaler: { draining: [leaving.metadata.name] },
      };
    });
    const waiting = planCluster(defaulted(rc), [head, stays, leaving], {}, {}, limits);
    assert.equal(waiting.desired["worker-nodes"], 1, "the worker being drained is not counted as one to keep");
    assert.deepEqual(waiting.deletions, []);
    const confirmed = planCluster(
      defaulted(rc),
      [head, stays, leaving],
      {},
      { targets: { "worker-nodes": 1 }, drained: [leaving.metadata.name] },
      limits,
    );
    assert.deepEqual(
      confirmed.deletions.map((d) => [d.pod.metadata.name, d.reason]),
      [[leaving.metadata.name, "Idle"]],
    );
  });
});
