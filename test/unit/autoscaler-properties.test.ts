// Properties of the scheduler on arbitrary clusters and demand (fast-check): the limits always hold,
// feasible demand is always placed when the limits allow, the head and busy nodes are never removed,
// the throttle is respected, and the decision is a pure function of its input.
import { strict as assert } from "assert";
import fc from "fast-check";
import {
  ClusterNode,
  Decision,
  decide,
  isBusy,
  NodeTypeConfig,
  ResourceDemand,
  ResourceMap,
  SchedulerInput,
} from "../../operator/autoscaler/scheduler";

const RESOURCES = ["CPU", "GPU", "memory", "Custom1"] as const;
const MIN = 60_000;

const resourceMap = (min: number, max: number): fc.Arbitrary<ResourceMap> =>
  fc
    .record(
      {
        CPU: fc.integer({ min, max }),
        GPU: fc.integer({ min: 0, max: 2 }),
        memory: fc.constantFrom(0, 4, 16),
        Custom1: fc.integer({ min: 0, max: 2 }),
      },
      { requiredKeys: ["CPU"] },
    )
    .map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as ResourceMap);

const shape: fc.Arbitrary<ResourceMap> = fc
  .record({
    CPU: fc.constantFrom(0, 0.5, 1, 2, 4),
    GPU: fc.constantFrom(0, 0, 0, 1),
    memory: fc.constantFrom(0, 0, 1, 4),
    Custom1: fc.constantFrom(0, 0, 0, 1),
  })
  .map((m) => Object.fromEntries(Object.entries(m).filter(([, v]) => v > 0)))
  .filter((m) => Object.keys(m).length > 0);

interface Gen {
  types: NodeTypeConfig[];
  workers: {
    type: number;
    usedShare: number;
    idleMin: number;
    status: "RUNNING" | "IDLE" | "DRAINING" | "DEAD";
    activity: boolean;
  }[];
  pending: number[];
  demands: ResourceDemand[];
  gangs: { strategy: "PACK" | "SPREAD" | "STRICT_PACK" | "STRICT_SPREAD"; bundles: ResourceMap[] }[];
  constraints: ResourceDemand[];
  maxWorkers: number;
  upscalingSpeed: number;
  idleTimeoutMin: number;
  headIdleMin: number;
}

const gen: fc.Arbitrary<Gen> = fc
  .record({
    types: fc.array(
      fc.record({
        resources: resourceMap(1, 16),
        minWorkers: fc.integer({ min: 0, max: 3 }),
        maxWorkers: fc.integer({ min: 0, max: 8 }),
      }),
      { minLength: 1, maxLength: 4 },
    ),
    workers: fc.array(
      fc.record({
        type: fc.nat(),
        usedShare: fc.constantFrom(0, 0, 0.5, 1),
        idleMin: fc.integer({ min: 0, max: 30 }),
        status: fc.constantFrom(
          "RUNNING" as const,
          "IDLE" as const,
          "IDLE" as const,
          "DRAINING" as const,
          "DEAD" as const,
        ),
        activity: fc.boolean(),
      }),
      { maxLength: 12 },
    ),
    pending: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 4 }),
    demands: fc.array(fc.record({ resources: shape, count: fc.integer({ min: 1, max: 40 }) }), { maxLength: 5 }),
    gangs: fc.array(
      fc.record({
        strategy: fc.constantFrom("PACK" as const, "SPREAD" as const, "STRICT_PACK" as const, "STRICT_SPREAD" as const),
        bundles: fc.array(shape, { minLength: 1, maxLength: 4 }),
      }),
      { maxLength: 3 },
    ),
    constraints: fc.array(fc.record({ resources: shape, count: fc.integer({ min: 1, max: 6 }) }), { maxLength: 2 }),
    maxWorkers: fc.integer({ min: 0, max: 30 }),
    upscalingSpeed: fc.constantFrom(0, 0.5, 1, 2, 100),
    idleTimeoutMin: fc.integer({ min: 0, max: 20 }),
    headIdleMin: fc.integer({ min: 0, max: 60 }),
  })
  // (fast-check builds records without a prototype; plain objects make failures readable.)
  .map(
    (g) =>
      JSON.parse(
        JSON.stringify({
          ...g,
          types: g.types.map((t) => ({ ...t, minWorkers: Math.min(t.minWorkers, t.maxWorkers) })),
        }),
      ) as Gen,
  );

function build(g: Gen): SchedulerInput {
  const types: NodeTypeConfig[] = [
    { name: "head", resources: { CPU: 2 }, minWorkers: 0, maxWorkers: 0 },
    ...g.types.map((t, i) => ({
      name: `type-${i}`,
      resources: t.resources,
      minWorkers: t.minWorkers,
      maxWorkers: t.maxWorkers,
    })),
  ];
  const nodes: ClusterNode[] = [
    {
      instanceId: "head",
      type: "head",
      total: { CPU: 2 },
      available: { CPU: g.headIdleMin > 0 ? 2 : 0 },
      status: g.headIdleMin > 0 ? "IDLE" : "RUNNING",
      idleMs: g.headIdleMin * MIN,
      isHead: true,
    },
  ];
  g.workers.forEach((w, i) => {
    const t = types[1 + (w.type % g.types.length)];
    const available: ResourceMap = {};
    for (const [k, v] of Object.entries(t.resources)) available[k] = Math.floor(v * (1 - w.usedShare));
    const used = w.usedShare > 0 || w.activity;
    nodes.push({
      instanceId: `w-${i}`,
      type: t.name,
      total: t.resources,
      available,
      status: w.status === "IDLE" && used ? "RUNNING" : w.status,
      idleMs: used ? 0 : w.idleMin * MIN,
      isHead: false,
      activity: w.activity ? ["Busy workers on node."] : [],
    });
  });
  const pendingLaunches: Record<string, number> = {};
  g.pending.forEach((n, i) => {
    if (i < g.types.length && n > 0) pendingLaunches[`type-${i}`] = n;
  });
  return {
    types,
    headType: "head",
    maxWorkers: g.maxWorkers,
    upscalingSpeed: g.upscalingSpeed,
    idleTimeoutMs: g.idleTimeoutMin * MIN,
    nodes,
    pendingLaunches,
    demands: g.demands,
    gangs: g.gangs,
    constraints: g.constraints,
  };
}

const live = (n: ClusterNode) => n.status !== "DEAD" && n.status !== "DRAINING";

/** Workers per type after the decision's removals, before its launches. */
function keptWorkers(input: SchedulerInput, d: Decision): Record<string, number> {
  const removed = new Set(d.remove.map((r) => r.instanceId));
  const out: Record<string, number> = {};
  for (const t of input.types) out[t.name] = 0;
  for (const n of input.nodes) if (!n.isHead && live(n) && !removed.has(n.instanceId)) out[n.type]++;
  return out;
}

function fits(avail: ResourceMap, need: ResourceMap): boolean {
  return Object.entries(need).every(([k, v]) => v <= (avail[k] ?? 0) + 1e-9);
}

// PROPERTY_RUNS raises the count for a deeper search (each run draws a new seed; a failure prints it).
const RUNS = { numRuns: Number(process.env.PROPERTY_RUNS ?? 400) };
/** A resource map as text, whatever the order of its keys (the scheduler may combine bundles in another order). */
const shapeKey = (m: ResourceMap) => JSON.stringify(Object.entries(m).sort(([a], [b]) => a.localeCompare(b)));

describe("autoscaler scheduler properties (fast-check)", () => {
  it("launches never take a type above its maxWorkers, nor the cluster above maxWorkers", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const input = build(g);
        const d = decide(input);
        const kept = keptWorkers(input, d);
        let total = 0;
        for (const t of input.types) {
          const launched = d.launch[t.name] ?? 0;
          const after = kept[t.name] + (input.pendingLaunches[t.name] ?? 0) + launched;
          if (launched > 0) assert.ok(after <= t.maxWorkers, `${t.name}: ${after} > max ${t.maxWorkers}`);
          assert.equal(d.targetWorkers[t.name], after);
          total += after;
        }
        if (Object.keys(d.launch).length > 0)
          assert.ok(total <= input.maxWorkers, `${total} > maxWorkers ${input.maxWorkers}`);
      }),
      RUNS,
    );
  });

  it("removals never take a type below its minWorkers, and launches bring it up to it when the limits allow", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const input = build(g);
        const d = decide(input);
        const kept = keptWorkers(input, d);
        const before: Record<string, number> = {};
        for (const n of input.nodes) if (!n.isHead && live(n)) before[n.type] = (before[n.type] ?? 0) + 1;
        for (const t of input.types) {
          const min = Math.min(t.minWorkers, t.maxWorkers);
          if (d.remove.some((r) => r.type === t.name))
            assert.ok(kept[t.name] >= min, `${t.name}: ${kept[t.name]} < min ${min}`);
        }
        // With room under the global cap for every minimum, every type reaches its minimum.
        const totalMin = input.types.reduce((a, t) => a + Math.min(t.minWorkers, t.maxWorkers), 0);
        const existing =
          input.nodes.filter((n) => !n.isHead && live(n)).length +
          Object.values(input.pendingLaunches).reduce((a, b) => a + b, 0);
        if (existing + totalMin <= input.maxWorkers) {
          for (const t of input.types)
            assert.ok(d.targetWorkers[t.name] >= Math.min(t.minWorkers, t.maxWorkers), `${t.name} below min`);
        }
      }),
      RUNS,
    );
  });

  it("never removes the head, a busy node, a draining or dead node; idle removals are past the timeout", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const input = build(g);
        const d = decide(input);
        const byId = new Map(input.nodes.map((n) => [n.instanceId, n]));
        assert.equal(new Set(d.remove.map((r) => r.instanceId)).size, d.remove.length, "a node removed twice");
        for (const r of d.remove) {
          const n = byId.get(r.instanceId)!;
          assert.ok(!n.isHead, "head removed");
          assert.ok(!isBusy(n), `busy node ${n.instanceId} removed`);
          assert.ok(live(n), `${n.status} node removed`);
          if (r.reason === "idle") assert.ok(n.idleMs >= input.idleTimeoutMs);
        }
        for (let i = 1; i < d.remove.length; i++)
          assert.ok(d.remove[i - 1].idleMs >= d.remove[i].idleMs, "not least recently used first");
      }),
      RUNS,
    );
  });

  it("respects the upscaling throttle (launches beyond it only for minimums, constraints and placement groups)", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const input = build({ ...g, gangs: [], constraints: [], types: g.types.map((t) => ({ ...t, minWorkers: 0 })) });
        const d = decide(input);
        for (const [type, n] of Object.entries(d.launch)) {
          const running = input.nodes.filter(
            (x) => !x.isHead && live(x) && x.type === type && !d.remove.some((r) => r.instanceId === x.instanceId),
          ).length;
          const bound = Math.max(5, Math.floor(input.upscalingSpeed * Math.max(running, 1)));
          assert.ok(n + (input.pendingLaunches[type] ?? 0) <= bound, `${type}: ${n} + pending > ${bound}`);
          assert.ok(n <= (d.wanted[type] ?? 0));
        }
      }),
      RUNS,
    );
  });

  it("places each demand a launchable type can hold if limits allow, and reports exactly the infeasible shapes", () => {
    fc.assert(
      fc.property(gen, (g) => {
        // Limits out of the way: room for everything, no throttle.
        const roomy: Gen = {
          ...g,
          maxWorkers: 10_000,
          upscalingSpeed: 10_000,
          types: g.types.map((t) => ({ ...t, maxWorkers: 1000 })),
        };
        const input = build(roomy);
        const d = decide(input);
        // What stays unplaced fits no type we may launch: only a node that is busy now (the head).
        const launchable = (m: ResourceMap) => input.types.some((t) => t.maxWorkers > 0 && fits(t.resources, m));
        for (const x of d.unfulfilled)
          assert.ok(!launchable(x.resources), `${JSON.stringify(x.resources)} x${x.count} left unplaced`);
        const canHold = (m: ResourceMap) =>
          input.types.some((t) => t.maxWorkers > 0 && fits(t.resources, m)) ||
          fits(input.types[0].resources, m) ||
          input.nodes.some((n) => live(n) && fits(n.total, m));
        for (const x of d.infeasible)
          assert.ok(!canHold(x.resources), `${JSON.stringify(x.resources)} reported infeasible`);
        for (const x of input.demands)
          if (!canHold(x.resources))
            assert.ok(
              d.infeasible.some((i) => shapeKey(i.resources) === shapeKey(x.resources)),
              `${shapeKey(x.resources)} not reported infeasible`,
            );
      }),
      RUNS,
    );
  });

  it("the nodes launched can actually hold the demand they were launched for", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({ resources: resourceMap(1, 16), minWorkers: fc.constant(0), maxWorkers: fc.constant(1000) }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.array(fc.record({ resources: shape, count: fc.integer({ min: 1, max: 30 }) }), {
          minLength: 1,
          maxLength: 4,
        }),
        (types, demands) => {
          const input = build({
            types,
            workers: [],
            pending: [],
            demands,
            gangs: [],
            constraints: [],
            maxWorkers: 10_000,
            upscalingSpeed: 10_000,
            idleTimeoutMin: 5,
            headIdleMin: 0,
          } as unknown as Gen);
          const d = decide(input);
          // Every feasible request fits one of the launched types, and the launched capacity covers
          // the feasible demand in every resource.
          // (Demand only the head's type could hold waits for the head: no worker is launched for it.)
          const feasible = demands.filter((x) =>
            input.types.some((t) => t.maxWorkers > 0 && fits(t.resources, x.resources)),
          );
          const launchedTypes = Object.keys(d.launch).map((name) => input.types.find((t) => t.name === name)!);
          for (const x of feasible)
            assert.ok(
              launchedTypes.some((t) => fits(t.resources, x.resources)),
              `${JSON.stringify(x.resources)} fits no launched type`,
            );
          const need = (k: string) => feasible.reduce((s, x) => s + x.count * (x.resources[k] ?? 0), 0);
          const have = (k: string) => launchedTypes.reduce((s, t) => s + d.launch[t.name] * (t.resources[k] ?? 0), 0);
          for (const k of RESOURCES)
            assert.ok(have(k) >= need(k) - 1e-9, `${k}: launched ${have(k)} < demanded ${need(k)}`);
          for (const x of d.unfulfilled)
            assert.ok(!feasible.some((f) => JSON.stringify(f.resources) === JSON.stringify(x.resources)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is a pure function: same input, same decision, input untouched", () => {
    fc.assert(
      fc.property(gen, (g) => {
        const input = build(g);
        const copy = structuredClone(input);
        const a = decide(input);
        assert.deepEqual(input, copy);
        assert.deepEqual(decide(input), a);
      }),
      { numRuns: 200 },
    );
  });
});
