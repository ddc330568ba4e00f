// Scheduler inputs for the benchmark (large, several shapes) and for the parity test against Ray's
// own scheduler (small, random). Deterministic: a seeded generator, so every run compares the same
// inputs.
import type {
  ClusterNode,
  GangDemand,
  NodeTypeConfig,
  ResourceDemand,
  ResourceMap,
  SchedulerInput,
} from "../../operator/autoscaler/scheduler";

/** mulberry32: a small, fast, seeded PRNG (good enough for test data). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const int = (r: () => number, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];

export interface BenchCase {
  name: string;
  input: SchedulerInput;
  /** What the case exercises, printed with its figures. */
  about: string;
}

const GiB = 2 ** 30;

/** Ten node types of a realistic cloud mix: CPU sizes, memory-heavy, GPU, and custom resources. */
function tenTypes(): NodeTypeConfig[] {
  const t = (name: string, resources: ResourceMap, maxWorkers: number, minWorkers = 0): NodeTypeConfig => ({
    name,
    resources,
    minWorkers,
    maxWorkers,
  });
  return [
    t("head", { CPU: 8, memory: 32 * GiB }, 0),
    t("cpu-2", { CPU: 2, memory: 8 * GiB }, 400),
    t("cpu-4", { CPU: 4, memory: 16 * GiB }, 400),
    t("cpu-8", { CPU: 8, memory: 32 * GiB }, 400),
    t("cpu-16", { CPU: 16, memory: 64 * GiB }, 400),
    t("cpu-32", { CPU: 32, memory: 128 * GiB }, 200),
    t("mem-8", { CPU: 8, memory: 128 * GiB }, 200),
    t("gpu-1", { CPU: 8, GPU: 1, memory: 64 * GiB }, 100),
    t("gpu-4", { CPU: 32, GPU: 4, memory: 256 * GiB }, 100),
    t("spot-4", { CPU: 4, memory: 16 * GiB, Custom1: 1, is_spot: 1 }, 300),
  ];
}

/**
 * 1,000 running nodes over the worker types (plus the head), each partly used: `busyShare` of a
 * node's CPU (and as much memory) is in use, the rest free.
 */
function thousandNodes(types: NodeTypeConfig[], r: () => number, busyShare: () => number): ClusterNode[] {
  const nodes: ClusterNode[] = [];
  const head = types[0];
  nodes.push({
    instanceId: "head-0",
    type: head.name,
    total: head.resources,
    available: head.resources,
    status: "RUNNING",
    idleMs: 0,
    isHead: true,
  });
  const workerTypes = types.slice(1);
  for (let i = 0; i < 999; i++) {
    const t = workerTypes[i % workerTypes.length];
    const share = busyShare();
    const available: ResourceMap = {};
    for (const [k, v] of Object.entries(t.resources)) {
      available[k] =
        k === "CPU" || k === "GPU"
          ? Math.max(0, Math.round(v * (1 - share)))
          : k === "memory"
            ? Math.round(v * (1 - share))
            : v;
    }
    nodes.push({
      instanceId: `${t.name}-${i}`,
      type: t.name,
      total: t.resources,
      available,
      status: share > 0 ? "RUNNING" : "IDLE",
      idleMs: share > 0 ? 0 : int(r, 0, 60_000),
      isHead: false,
    });
  }
  return nodes;
}

function base(types: NodeTypeConfig[], nodes: ClusterNode[]): SchedulerInput {
  return {
    types,
    headType: "head",
    maxWorkers: 1400,
    upscalingSpeed: 1,
    idleTimeoutMs: 60 * 60_000,
    nodes,
    pendingLaunches: {},
    demands: [],
    gangs: [],
    constraints: [],
  };
}

/** `n` pending requests spread over `shapes` (the GCS reports them aggregated by shape). */
function spread(n: number, shapes: ResourceMap[], r: () => number): ResourceDemand[] {
  const counts = shapes.map(() => 0);
  for (let i = 0; i < n; i++) counts[Math.floor(r() * shapes.length)]++;
  return shapes.map((resources, i) => ({ resources, count: counts[i] })).filter((d) => d.count > 0);
}

/** The benchmark: 10,000 pending requests, 10 node types, 1,000 nodes, in several shapes of input. */
export function benchCases(): BenchCase[] {
  const cases: BenchCase[] = [];
  {
    const r = rng(1);
    const types = tenTypes();
    const input = base(
      types,
      thousandNodes(types, r, () => 1),
    );
    input.demands = [{ resources: { CPU: 1 }, count: 10_000 }];
    cases.push({ name: "uniform-cpu", input, about: "10,000 × {CPU: 1} on a full cluster" });
  }
  {
    const r = rng(2);
    const types = tenTypes();
    const input = base(
      types,
      thousandNodes(types, r, () => pick(r, [1, 1, 0.75, 0.5])),
    );
    const shapes: ResourceMap[] = [
      { CPU: 1 },
      { CPU: 2 },
      { CPU: 4 },
      { CPU: 1, memory: 4 * GiB },
      { CPU: 2, memory: 16 * GiB },
      { CPU: 4, memory: 64 * GiB },
      { CPU: 1, GPU: 1 },
      { CPU: 4, GPU: 2 },
      { CPU: 1, Custom1: 1 },
      { CPU: 0.5 },
      { CPU: 8 },
      { CPU: 16, memory: 32 * GiB },
    ];
    input.demands = spread(10_000, shapes, r);
    cases.push({
      name: "mixed-shapes",
      input,
      about: "10,000 requests over 12 shapes (CPU, memory, GPU, custom), cluster partly free",
    });
  }
  {
    const r = rng(3);
    const types = tenTypes();
    const input = base(
      types,
      thousandNodes(types, r, () => 1),
    );
    input.demands = spread(8_000, [{ CPU: 1 }, { CPU: 2 }, { CPU: 1, GPU: 1 }], r);
    const gangs: GangDemand[] = [];
    const strategies = ["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] as const;
    let bundles = 0;
    while (bundles < 2_000) {
      const n = int(r, 2, 8);
      const shape = pick<ResourceMap>(r, [{ CPU: 1 }, { CPU: 2 }, { CPU: 4 }, { CPU: 1, GPU: 1 }]);
      gangs.push({ strategy: pick(r, strategies), bundles: Array.from({ length: n }, () => ({ ...shape })) });
      bundles += n;
    }
    input.gangs = gangs;
    cases.push({
      name: "placement-groups",
      input,
      about: `8,000 requests + ${gangs.length} placement groups (${bundles} bundles, all four strategies)`,
    });
  }
  {
    const r = rng(4);
    const types = tenTypes();
    const input = base(
      types,
      thousandNodes(types, r, () => pick(r, [1, 0.5])),
    );
    // Every request a shape of its own: fractional CPUs and memory sizes (the worst case for
    // aggregation by shape).
    input.demands = Array.from({ length: 10_000 }, (_, i) => ({
      resources: { CPU: 0.25 + (i % 64) * 0.25, memory: (1 + Math.floor(i / 64)) * 0.0625 * GiB },
      count: 1,
    }));
    cases.push({ name: "distinct-shapes", input, about: "10,000 requests, each of a different shape" });
  }
  {
    const r = rng(5);
    const types = tenTypes().map((t) =>
      t.name === "cpu-8" ? { ...t, minWorkers: 150 } : t.name === "spot-4" ? { ...t, minWorkers: 120 } : t,
    );
    const input = base(
      types,
      thousandNodes(types, r, () => 1),
    );
    input.pendingLaunches = { "cpu-4": 20, "gpu-1": 3 };
    input.demands = spread(10_000, [{ CPU: 1 }, { CPU: 1, Custom1: 1 }, { CPU: 2, GPU: 1 }], r);
    input.constraints = [
      { resources: { CPU: 16 }, count: 100 },
      { resources: { CPU: 8, GPU: 1 }, count: 40 },
    ];
    input.upscalingSpeed = 0.5;
    cases.push({
      name: "constraints-min-throttle",
      input,
      about: "10,000 requests + request_resources + minWorkers + pending launches, upscalingSpeed 0.5",
    });
  }
  return cases;
}

// ---------------------------------------------------------------------------------------------
// Small random inputs for the parity test
// ---------------------------------------------------------------------------------------------

const RESOURCE_POOL = ["CPU", "GPU", "memory", "Custom1", "is_spot"] as const;

function randomResources(r: () => number, allowGpu: boolean): ResourceMap {
  const out: ResourceMap = { CPU: pick(r, [1, 2, 4, 8, 16]) };
  if (r() < 0.5) out.memory = pick(r, [4, 8, 16, 64]) * GiB;
  if (allowGpu && r() < 0.3) out.GPU = pick(r, [1, 2, 4]);
  if (r() < 0.3) out.Custom1 = pick(r, [1, 2]);
  if (r() < 0.2) out.is_spot = 1;
  return out;
}

function randomShape(r: () => number): ResourceMap {
  const out: ResourceMap = {};
  const n = int(r, 1, 3);
  for (let i = 0; i < n; i++) {
    const k = pick(r, RESOURCE_POOL);
    out[k] =
      k === "memory" ? pick(r, [1, 2, 8]) * GiB : k === "CPU" ? pick(r, [0.5, 1, 1, 2, 4, 8]) : pick(r, [1, 1, 2]);
  }
  return out;
}

/**
 * A small random cluster and demand, within what both schedulers model the same way: the head's
 * type has no workers (Ray's throttle counts the head as a running node of its type), and the
 * global maxWorkers leaves room for every minWorkers (Ray lets minWorkers exceed it).
 */
export function randomParityCase(seed: number): SchedulerInput {
  const r = rng(seed);
  const nTypes = int(r, 1, 5);
  const types: NodeTypeConfig[] = [
    { name: "head", resources: randomResources(r, false), minWorkers: 0, maxWorkers: 0 },
  ];
  for (let i = 0; i < nTypes; i++) {
    const maxWorkers = int(r, 0, 12);
    types.push({
      name: `type-${String.fromCharCode(97 + i)}`,
      resources: randomResources(r, true),
      minWorkers: Math.min(int(r, 0, 2), maxWorkers),
      maxWorkers,
    });
  }
  const nodes: ClusterNode[] = [
    {
      instanceId: "head",
      type: "head",
      total: types[0].resources,
      available: partlyUsed(r, types[0].resources),
      status: "RUNNING",
      idleMs: 0,
      isHead: true,
    },
  ];
  const pendingLaunches: Record<string, number> = {};
  let workers = 0;
  for (const t of types.slice(1)) {
    const n = int(r, 0, Math.min(4, t.maxWorkers));
    for (let i = 0; i < n; i++) {
      const available = partlyUsed(r, t.resources);
      nodes.push({
        instanceId: `${t.name}-${i}`,
        type: t.name,
        total: t.resources,
        available,
        status: "RUNNING",
        idleMs: 0,
        isHead: false,
      });
    }
    workers += n;
    if (r() < 0.3 && t.maxWorkers > n) {
      pendingLaunches[t.name] = int(r, 1, Math.min(3, t.maxWorkers - n));
      workers += pendingLaunches[t.name];
    }
  }
  const minSum = types.reduce((a, t) => a + t.minWorkers, 0);
  const demands: ResourceDemand[] = [];
  for (let i = int(r, 0, 6); i > 0; i--) demands.push({ resources: randomShape(r), count: int(r, 1, 30) });
  const gangs: GangDemand[] = [];
  for (let i = r() < 0.5 ? int(r, 1, 3) : 0; i > 0; i--) {
    const shape = randomShape(r);
    gangs.push({
      strategy: pick(r, ["PACK", "SPREAD", "STRICT_PACK", "STRICT_SPREAD"] as const),
      bundles: Array.from({ length: int(r, 1, 4) }, () => ({ ...shape })),
    });
  }
  const constraints: ResourceDemand[] = r() < 0.3 ? [{ resources: randomShape(r), count: int(r, 1, 10) }] : [];
  return {
    types,
    headType: "head",
    maxWorkers: workers + minSum + int(r, 0, 25),
    upscalingSpeed: pick(r, [0.5, 1, 2, 10]),
    idleTimeoutMs: 60 * 60_000,
    nodes,
    pendingLaunches,
    demands,
    gangs,
    constraints,
  };
}

function partlyUsed(r: () => number, total: ResourceMap): ResourceMap {
  const out: ResourceMap = {};
  for (const [k, v] of Object.entries(total))
    out[k] = r() < 0.5 ? v : k === "memory" ? Math.round(v * r()) : Math.floor(v * r());
  return out;
}
