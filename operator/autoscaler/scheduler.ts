// The autoscaler's decision, as pure functions: given a RayCluster's pod types and limits, the nodes
// Ray knows, the pods still starting, and the demand Ray reports, decide which pods to create and
// which idle workers to remove. No I/O, no clock (idle times come in the input), so every rule is
// unit- and property-tested, and the operator's loop only fetches, calls `decide`, and acts.
//
// The reference is Ray's own autoscaler (the one the original operator ran):
// python/ray/autoscaler/_private/resource_demand_scheduler.py (`get_nodes_to_launch`, `get_nodes_for`,
// `_resource_based_utilization_scorer`, `get_bin_pack_residual`) and autoscaler.py
// (`terminate_nodes_to_enforce_config_constraints`). This is our own code following the same rules,
// step for step, so that for the same input it picks the same node types and counts (the benchmark,
// bench/autoscaler/run.ts, checks that against Ray's Python on large inputs). Where the project's
// contract (../shared/design/raycluster-api.md §3) is stricter than Ray, the contract wins, and the
// comment says so:
//   - nodes asked for to reach `minWorkers` still respect the global `maxWorkers` (Ray lets
//     min_workers exceed it);
//   - a node running work is never removed, not even to get back under a lowered `maxWorkers` (Ray
//     terminates nodes beyond a type's max_workers even when busy);
//   - the upscaling throttle counts running *workers* of a type (Ray counts the head too).
//
// Why it is fast (10,000 pending requests, 10 types, 1,000 nodes in a few milliseconds): Ray's GCS
// already reports demand aggregated by shape (`ResourceRequestByCount`), and every step here works on
// shapes with counts instead of one entry per request. Packing n requests of one shape onto a node is
// one division per resource instead of n trial fits; this gives the same result as Ray's one-by-one
// first-fit, because Ray sorts identical requests next to each other and a node that could not take
// the first of them cannot take the next. Resources are dense vectors over the cluster's resource
// names, so a fit test is a loop over a few numbers, not dictionary lookups.

// ---------------------------------------------------------------------------------------------
// Input and output
// ---------------------------------------------------------------------------------------------

export type ResourceMap = Record<string, number>;

/** `count` requests of the same resource shape (a pending task/actor shape, or a constraint). */
export interface ResourceDemand {
  resources: ResourceMap;
  count: number;
}

export type GangStrategy = "PACK" | "SPREAD" | "STRICT_PACK" | "STRICT_SPREAD";

/** A pending placement group: its unplaced bundles and its strategy. */
export interface GangDemand {
  strategy: GangStrategy;
  bundles: ResourceMap[];
}

export interface NodeTypeConfig {
  name: string;
  /** What one node of this type offers to Ray (CPU, GPU, memory, custom resources). */
  resources: ResourceMap;
  minWorkers: number;
  maxWorkers: number;
}

export type NodeStatus = "RUNNING" | "IDLE" | "DRAINING" | "DEAD" | "UNSPECIFIED";

/** A node Ray knows (from the GCS's NodeState), mapped to its pod. */
export interface ClusterNode {
  /** The pod name (`RAY_CLOUD_INSTANCE_ID`). */
  instanceId: string;
  /** The pod type (`RAY_NODE_TYPE_NAME`). */
  type: string;
  total: ResourceMap;
  available: ResourceMap;
  /** Ray's view: RUNNING (has work), IDLE, DRAINING, DEAD. DEAD and DRAINING nodes are ignored. */
  status: NodeStatus;
  /** How long Ray has seen the node idle, in ms (0 while busy). */
  idleMs: number;
  isHead: boolean;
  /**
   * Ray's reasons the node was last busy (NodeState.node_activity), for the log; not a busy signal
   * (stale once IDLE).
   */
  activity?: string[];
}

export interface SchedulerInput {
  types: NodeTypeConfig[];
  headType: string;
  /** Cluster-wide cap on workers (the head excluded). */
  maxWorkers: number;
  /** At most max(5, upscalingSpeed × running workers of a type) launches pending per type. */
  upscalingSpeed: number;
  /** Idle workers are removed after this long (ms). */
  idleTimeoutMs: number;
  nodes: ClusterNode[];
  /** Pods created, by type, that have not joined Ray yet. */
  pendingLaunches: Record<string, number>;
  /** Pending tasks and actors, by shape. */
  demands: ResourceDemand[];
  /** Pending placement groups. */
  gangs: GangDemand[];
  /**
   * `ray.autoscaler.sdk.request_resources`: bundles the cluster must be able to hold at once,
   * measured against the nodes' total capacity (not what is free now).
   */
  constraints: ResourceDemand[];
}

export type RemovalReason = "idle" | "over-max-workers";

export interface RemovalChoice {
  instanceId: string;
  type: string;
  reason: RemovalReason;
  idleMs: number;
}

export interface Decision {
  /** Pods to create now, by type (after the upscaling throttle). */
  launch: Record<string, number>;
  /** What demand, minimums and constraints call for before the throttle (launch ≤ wanted). */
  wanted: Record<string, number>;
  /** Workers per type once this decision is carried out: kept + pending + launched. */
  targetWorkers: Record<string, number>;
  /** Workers to drain and delete, least recently used first. */
  remove: RemovalChoice[];
  /**
   * Tasks and actors no node type can ever hold (reported, never chased): one entry per shape. A
   * placement group's bundles are not in it: an infeasible group is in `infeasibleGangs` alone.
   */
  infeasible: ResourceDemand[];
  /** Placement groups with a bundle no type can hold (STRICT_PACK: the sum of its bundles). */
  infeasibleGangs: GangDemand[];
  /** request_resources bundles no type can hold. */
  infeasibleConstraints: ResourceDemand[];
  /** Feasible demand still without a place after this decision (limits, throttle): by shape. */
  unfulfilled: ResourceDemand[];
  /** Human-readable remarks for the log (throttling, limits reached, busy nodes kept). */
  notes: string[];
}

// ---------------------------------------------------------------------------------------------
// Dense resource vectors
// ---------------------------------------------------------------------------------------------

// Resource maps are plain objects (decoded from the GCS, or literals): the per-node loops walk them
// with `for...in`, which makes no array per call as Object.entries does (thousands per decision).

/** Relative tolerance for fits, so 0.1 + 0.2 of a resource fits in 0.3. */
const EPS = 1e-9;

class ResourceIndex {
  readonly names: string[] = [];
  private readonly byName = new Map<string, number>();

  add(map: ResourceMap): void {
    for (const k in map) {
      if (!this.byName.has(k)) {
        this.byName.set(k, this.names.length);
        this.names.push(k);
      }
    }
  }

  idx(name: string): number | undefined {
    return this.byName.get(name);
  }

  /** The map as a vector over the index; names the index does not hold are left out. */
  vec(map: ResourceMap): Float64Array {
    const v = new Float64Array(this.names.length);
    for (const k in map) {
      const i = this.byName.get(k);
      if (i !== undefined) v[i] = map[k];
    }
    return v;
  }
}

/**
 * One resource shape and how many requests of it are still unplaced. `pos`/`need` list the positive
 * requirements only (a shape needs a handful of the cluster's resources), so a fit test touches
 * only those.
 */
interface Shape {
  resources: ResourceMap;
  pos: Int32Array;
  need: Float64Array;
  count: number;
  /** Ray's sort key: number of keys (zeros included), sum of values, sorted items. */
  nKeys: number;
  sum: number;
  items: [string, number][];
  /** The shape names "GPU" (even with 0): Ray then does not avoid GPU nodes for it. */
  hasGpuKey: boolean;
}

/** What a fit test reads of a shape: its positive requirements. */
type Need = Pick<Shape, "pos" | "need">;

function makeShape(index: ResourceIndex, resources: ResourceMap, count: number): Shape {
  const items = Object.entries(resources).sort(compareItems);
  const pos: number[] = [];
  const need: number[] = [];
  let sum = 0;
  for (const [k, v] of items) {
    sum += v;
    if (v > 0) {
      pos.push(index.idx(k)!);
      need.push(v);
    }
  }
  return {
    resources,
    pos: Int32Array.from(pos),
    need: Float64Array.from(need),
    count,
    nKeys: items.length,
    sum,
    items,
    hasGpuKey: "GPU" in resources,
  };
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function compareItems(a: [string, number], b: [string, number]): number {
  return compareStrings(a[0], b[0]) || a[1] - b[1];
}

/**
 * Ray's packing order (get_bin_pack_residual): more resource kinds first, then heavier, then the
 * sorted (name, amount) pairs, all descending. Identical shapes compare equal.
 */
function compareShapes(a: Shape, b: Shape): number {
  if (a.nKeys !== b.nKeys) return b.nKeys - a.nKeys;
  if (a.sum !== b.sum) return b.sum - a.sum;
  const n = Math.min(a.items.length, b.items.length);
  for (let i = 0; i < n; i++) {
    const c = compareItems(a.items[i], b.items[i]);
    if (c !== 0) return -c;
  }
  return b.items.length - a.items.length;
}

/** A stable key for merging identical shapes. */
function shapeKey(resources: ResourceMap): string {
  return JSON.stringify(Object.entries(resources).sort(compareItems));
}

/**
 * Merges identical shapes (summing counts) and sorts them in Ray's order. Shapes that ask for nothing
 * (no positive amount) are dropped: they fit anywhere, Ray places them on the first node it tries.
 */
function toShapes(index: ResourceIndex, demands: ResourceDemand[]): Shape[] {
  const merged = new Map<string, Shape>();
  for (const d of demands) {
    if (!(d.count > 0)) continue;
    const key = shapeKey(d.resources);
    const s = merged.get(key);
    if (s) s.count += d.count;
    else {
      const shape = makeShape(index, d.resources, d.count);
      if (shape.pos.length > 0) merged.set(key, shape);
    }
  }
  return [...merged.values()].sort(compareShapes);
}

/**
 * A cheap test that a bin can take none of `shapes` (nor of any subset of them): some resource that
 * every shape needs is below the smallest amount any of them asks for. Lets packing drop full nodes
 * (typically: no CPU left) even though other resources, like memory, remain.
 */
class DeadBinTest {
  private readonly idx: number[] = [];
  private readonly min: number[] = [];

  constructor(size: number, shapes: Shape[]) {
    if (shapes.length === 0) return;
    const needCount = new Int32Array(size);
    const minNeed = new Float64Array(size).fill(Infinity);
    for (const s of shapes) {
      for (let j = 0; j < s.pos.length; j++) {
        needCount[s.pos[j]]++;
        if (s.need[j] < minNeed[s.pos[j]]) minNeed[s.pos[j]] = s.need[j];
      }
    }
    for (let i = 0; i < size; i++) {
      if (needCount[i] === shapes.length) {
        this.idx.push(i);
        this.min.push(minNeed[i]);
      }
    }
  }

  dead(bin: Float64Array): boolean {
    for (let j = 0; j < this.idx.length; j++) if (Math.floor(bin[this.idx[j]] / this.min[j] + EPS) < 1) return true;
    return isEmpty(bin);
  }
}

function cloneShapes(shapes: Shape[]): Shape[] {
  return shapes.map((s) => ({ ...s }));
}

/** How many requests of `s` fit in `avail` (at most `limit`). */
function fitCount(avail: Float64Array, s: Need, limit: number): number {
  let k = limit;
  const { pos, need } = s;
  for (let j = 0; j < pos.length && k > 0; j++) {
    const a = avail[pos[j]];
    const n = need[j];
    const fit = Math.floor(a / n + EPS);
    if (fit < k) k = fit;
  }
  return k < 0 ? 0 : k;
}

function take(avail: Float64Array, s: Need, k: number): void {
  const { pos, need } = s;
  for (let j = 0; j < pos.length; j++) {
    const i = pos[j];
    const left = avail[i] - need[j] * k;
    // Clamp rounding dust, so a node that is full reads exactly 0.
    avail[i] = left < EPS * Math.max(1, need[j] * k) ? 0 : left;
  }
}

// ---------------------------------------------------------------------------------------------
// Bin packing (get_bin_pack_residual)
// ---------------------------------------------------------------------------------------------

/**
 * First fit of `shapes` (in Ray's order, with counts) onto `bins` in order; mutates `bins` and the
 * shapes' counts, leaving in them what did not fit.
 */
function packInto(bins: Float64Array[], shapes: Shape[]): void {
  if (bins.length === 0) return;
  // Bins that can take nothing more are skipped for good: a list of live bins, compacted as they
  // fill, keeps 10,000 shapes × 1,000 nodes from being a full cross product. (Skipping a bin that
  // cannot fit a shape changes nothing: first fit would have passed over it.)
  const deadTest = new DeadBinTest(bins[0].length, shapes);
  let live: number[] = [];
  for (let b = 0; b < bins.length; b++) if (!deadTest.dead(bins[b])) live.push(b);
  for (const s of shapes) {
    if (s.count === 0) continue;
    let filled = false;
    for (let i = 0; i < live.length && s.count > 0; i++) {
      const bin = bins[live[i]];
      const k = fitCount(bin, s, s.count);
      if (k === 0) continue;
      take(bin, s, k);
      s.count -= k;
      if (deadTest.dead(bin)) filled = true;
    }
    if (filled) live = live.filter((b) => !deadTest.dead(bins[b]));
    if (live.length === 0) break;
  }
}

function isEmpty(v: Float64Array): boolean {
  for (let i = 0; i < v.length; i++) if (v[i] > 0) return false;
  return true;
}

/** Copies the shapes, packs the copies onto copies of `bins` (`bins` are left as they are); returns what was left. */
function residual(bins: Float64Array[], shapes: Shape[]): Shape[] {
  return packedLeft(
    bins.map((b) => b.slice()),
    shapes,
  );
}

/** Copies the shapes and packs the copies onto `bins` themselves, which the caller has no more use for. */
function packedLeft(bins: Float64Array[], shapes: Shape[]): Shape[] {
  const left = cloneShapes(shapes);
  packInto(bins, left);
  return left.filter((s) => s.count > 0);
}

/**
 * Strict spread of copies of `shapes` onto `bins`: each request on a bin of its own, the first in
 * order that fits it. A bin that takes a request is replaced in `bins` by a changed copy (a vector
 * itself is never written); `undo()` puts the bins that were there back, for a STRICT_SPREAD group
 * that cannot be placed whole. One call places one group (a few bundles) and there may be hundreds
 * of groups over 1,000+ bins: copying the bins, or even the list, for each was most of a decision's
 * time and garbage.
 *
 * `order`: the indices of the bins to try, ascending; by default all. A caller may leave out bins no
 * request of the call can fit.
 */
function spreadOnto(
  bins: Float64Array[],
  shapes: Shape[],
  order?: readonly number[],
): { left: Shape[]; undo: () => void } {
  const left = cloneShapes(shapes);
  const taken: number[] = [];
  const before: Float64Array[] = [];
  const tried = order?.length ?? bins.length;
  for (const s of left) {
    for (let i = 0; i < tried && s.count > 0; i++) {
      const b = order ? order[i] : i;
      if (taken.includes(b) || fitCount(bins[b], s, 1) === 0) continue;
      taken.push(b);
      before.push(bins[b]);
      bins[b] = bins[b].slice();
      take(bins[b], s, 1);
      s.count--;
    }
  }
  const undo = () => {
    for (let k = 0; k < taken.length; k++) bins[taken[k]] = before[k];
  };
  return { left: left.filter((s) => s.count > 0), undo };
}

// ---------------------------------------------------------------------------------------------
// Choosing node types (get_nodes_for and the utilisation score)
// ---------------------------------------------------------------------------------------------

interface TypeInfo {
  config: NodeTypeConfig;
  cap: Float64Array;
  /** Resource indices with capacity ≥ 1, in the type's own key order (Ray sums in that order). */
  scored: Int32Array;
  hasGpu: boolean;
  /** Workers allowed of this type. */
  max: number;
}

/**
 * Ray's utilisation score of one empty node of a type for the remaining demand (a tuple compared
 * lexicographically, higher is better):
 *   1. not a GPU node unless some demand names GPU (Ray's AUTOSCALER_CONSERVE_GPU_NODES, on by
 *      default: don't spend a GPU node on CPU work);
 *   2. how many of the node's resources (of capacity ≥ 1) some demand asks for;
 *   3. the minimum, over the node's resources of capacity ≥ 1, of capacity × utilisation³;
 *   4. the mean of the same.
 * utilisation = (capacity − what is left after greedily packing the demand, in order) / capacity.
 * Cubing favours nodes whose every resource is well used; multiplying by capacity favours bigger
 * nodes when utilisation is equal (fewer nodes for the same work). No fit at all: no score.
 */
type Score = [gpuOk: number, matching: number, min: number, mean: number];

function compareScores(a: Score, b: Score): number {
  for (let i = 0; i < 4; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

/** Which resources the remaining demand asks for, kept current as shapes are used up. */
class DemandKeys {
  readonly positive: Int32Array;
  gpuKeyed = 0;

  constructor(size: number, shapes: Shape[]) {
    this.positive = new Int32Array(size);
    for (const s of shapes) if (s.count > 0) this.add(s, 1);
  }

  add(s: Shape, sign: number): void {
    for (let j = 0; j < s.pos.length; j++) this.positive[s.pos[j]] += sign;
    if (s.hasGpuKey) this.gpuKeyed += sign;
  }
}

/**
 * Packs `shapes` greedily on one empty node of `t` (in order), returning the score, and — when
 * `apply` — removing what fitted from the shapes' counts. `only` restricts to one request of one
 * shape (strict spread).
 */
function scoreType(
  t: TypeInfo,
  shapes: Shape[],
  keys: DemandKeys,
  work: Float64Array,
  apply: boolean,
  deadTest: DeadBinTest,
  only?: Shape,
  drained?: Shape[],
): Score | undefined {
  work.set(t.cap);
  let fitted = false;
  if (only) {
    if (fitCount(work, only, 1) === 1) {
      take(work, only, 1);
      fitted = true;
      if (apply && --only.count === 0) drained?.push(only);
    }
  } else {
    for (const s of shapes) {
      if (s.count === 0) continue;
      const k = fitCount(work, s, s.count);
      if (k === 0) continue;
      take(work, s, k);
      fitted = true;
      if (apply) {
        s.count -= k;
        if (s.count === 0) drained?.push(s);
      }
      if (deadTest.dead(work)) break; // nothing more fits: the rest of the scan would change nothing
    }
  }
  if (!fitted || t.scored.length === 0) return undefined;
  let min = Infinity;
  let sum = 0;
  let matching = 0;
  for (let j = 0; j < t.scored.length; j++) {
    const i = t.scored[j];
    const cap = t.cap[i];
    if (only ? only.pos.includes(i) : keys.positive[i] > 0) matching++;
    const u = (cap - work[i]) / cap;
    const v = cap * u ** 3;
    if (v < min) min = v;
    sum += v;
  }
  const anyGpu = only ? only.hasGpuKey : keys.gpuKeyed > 0;
  const gpuOk = t.hasGpu && !anyGpu ? 0 : 1;
  return [gpuOk, matching, min, sum / t.scored.length];
}

/**
 * Adds nodes one at a time for the remaining demand, each time of the best-scoring type that may
 * still grow (ties: the type whose name sorts last, as Ray's sort of (score, name) pairs does),
 * until the demand is placed, nothing fits, or `maxToAdd` nodes were added. Mutates `shapes`' counts
 * (what is left is what could not be placed). Returns the types added, in first-added order.
 */
function nodesFor(
  types: TypeInfo[],
  counts: Map<string, number>,
  maxToAdd: number,
  shapes: Shape[],
  size: number,
  strictSpread = false,
): Map<string, number> {
  const added = new Map<string, number>();
  let addedTotal = 0;
  const work = new Float64Array(size);
  let live = shapes.filter((s) => s.count > 0);
  const keys = new DemandKeys(size, live);
  // Built from all the shapes once: still valid as shapes are used up (a subset of them can only
  // need more in common).
  const deadTest = new DeadBinTest(size, live);
  let drainedSinceCompaction = 0;
  while (live.length > drainedSinceCompaction && addedTotal < maxToAdd) {
    const first = strictSpread ? live.find((s) => s.count > 0) : undefined;
    let best: TypeInfo | undefined;
    let bestScore: Score | undefined;
    for (const t of types) {
      if ((counts.get(t.config.name) ?? 0) + (added.get(t.config.name) ?? 0) >= t.max) continue;
      const score = scoreType(t, live, keys, work, false, deadTest, first);
      if (!score) continue;
      const c = bestScore ? compareScores(score, bestScore) : 1;
      if (c > 0 || (c === 0 && t.config.name > best!.config.name)) {
        best = t;
        bestScore = score;
      }
    }
    if (!best) break; // nothing left fits any type that may grow
    added.set(best.config.name, (added.get(best.config.name) ?? 0) + 1);
    addedTotal++;
    // Place on the new node what fits there, exactly as it was scored.
    const drained: Shape[] = [];
    scoreType(best, live, keys, work, true, deadTest, first, drained);
    for (const s of drained) keys.add(s, -1);
    // Used-up shapes are skipped by every scan; drop them from the list only now and then.
    drainedSinceCompaction += drained.length;
    if (drainedSinceCompaction > 32 && drainedSinceCompaction * 4 > live.length) {
      live = live.filter((s) => s.count > 0);
      drainedSinceCompaction = 0;
    }
  }
  return added;
}

// ---------------------------------------------------------------------------------------------
// The decision
// ---------------------------------------------------------------------------------------------

function mapAdd(m: Map<string, number>, k: string, n: number): void {
  if (n !== 0) m.set(k, (m.get(k) ?? 0) + n);
}

function isLive(n: ClusterNode): boolean {
  return n.status !== "DEAD" && n.status !== "DRAINING";
}

/**
 * A node running work: Ray says so (status RUNNING), or some resource is in use. Never removed.
 * `node_activity` is not consulted: Ray 2.60's GCS keeps a node's last activity list after it goes
 * back to IDLE, and Ray's own autoscaler decides on status and idle time alone.
 */
export function isBusy(n: ClusterNode): boolean {
  if (n.status === "RUNNING") return true;
  for (const k in n.total) {
    const total = n.total[k];
    const avail = n.available[k] ?? 0;
    if (avail < total - EPS * Math.max(1, total)) return true;
  }
  return false;
}

/** Placement groups → plain demand (PACK, SPREAD: each bundle; STRICT_PACK: their sum) + strict spreads. */
function gangsToDemand(gangs: GangDemand[]): { flat: ResourceDemand[]; strictSpreads: ResourceMap[][] } {
  const flat: ResourceDemand[] = [];
  const strictSpreads: ResourceMap[][] = [];
  for (const g of gangs) {
    if (g.bundles.length === 0) continue;
    if (g.strategy === "STRICT_SPREAD") strictSpreads.push(g.bundles);
    else if (g.strategy === "STRICT_PACK") {
      const sum: ResourceMap = {};
      for (const b of g.bundles) for (const [k, v] of Object.entries(b)) sum[k] = (sum[k] ?? 0) + v;
      flat.push({ resources: sum, count: 1 });
    } else for (const b of g.bundles) flat.push({ resources: b, count: 1 });
  }
  return { flat, strictSpreads };
}

/**
 * The whole decision for one cluster. Order, as in Ray's autoscaler update: first which workers to
 * remove (idle too long, or over a lowered maxWorkers), then, with the nodes that stay, which pods
 * to launch.
 */
export function decide(input: SchedulerInput): Decision {
  const notes: string[] = [];
  const typeByName = new Map(input.types.map((t) => [t.name, t]));
  const liveNodes = input.nodes.filter(isLive);

  const remove = chooseRemovals(input, liveNodes, typeByName, notes);
  const removed = new Set(remove.map((r) => r.instanceId));
  const staying = liveNodes.filter((n) => !removed.has(n.instanceId));

  const plan = planLaunches(input, staying, notes);

  const targetWorkers: Record<string, number> = {};
  for (const t of input.types) targetWorkers[t.name] = 0;
  for (const n of staying) if (!n.isHead && typeByName.has(n.type)) targetWorkers[n.type]++;
  for (const [t, k] of Object.entries(input.pendingLaunches)) if (typeByName.has(t)) targetWorkers[t] += k;
  for (const [t, k] of Object.entries(plan.launch)) targetWorkers[t] += k;

  return { ...plan, targetWorkers, remove, notes };
}

// ---------------------------------------------------------------------------------------------
// Scale down
// ---------------------------------------------------------------------------------------------

function chooseRemovals(
  input: SchedulerInput,
  liveNodes: ClusterNode[],
  typeByName: Map<string, NodeTypeConfig>,
  notes: string[],
): RemovalChoice[] {
  // Workers of known types, most recently used first (busy nodes count as used now): the first
  // minWorkers of each type in this order are kept, so the ones removed are the least recently used.
  const workers = liveNodes
    .filter((n) => !n.isHead && typeByName.has(n.type))
    .map((n) => {
      const busy = isBusy(n);
      return { n, busy, idle: busy ? 0 : n.idleMs };
    })
    .sort((a, b) => a.idle - b.idle || compareStrings(a.n.instanceId, b.n.instanceId));

  // Which workers pending placement groups and request_resources() need only matters for a worker
  // that may go: one idle past the timeout, or any idle one when there are more workers than
  // maxWorkers. When there is none (most passes of a busy cluster), the packing of all that demand
  // onto every node is not done: the outcome is the same.
  const mayGo = workers.length > input.maxWorkers || workers.some((w) => !w.busy && w.idle >= input.idleTimeoutMs);
  const needed = mayGo
    ? nodesNeededByConstraints(
        input,
        liveNodes,
        workers.map((w) => w.n),
      )
    : new Set<string>();

  const kept = new Map<string, number>();
  const remove: RemovalChoice[] = [];
  const couldGo: typeof workers = [];
  for (const w of workers) {
    const t = typeByName.get(w.n.type)!;
    const newCount = (kept.get(t.name) ?? 0) + 1;
    const keepForMin = newCount <= Math.min(t.minWorkers, t.maxWorkers);
    if (!keepForMin && newCount > t.maxWorkers && !w.busy) {
      // Over the type's maxWorkers (it was lowered): remove, idle ones only.
      remove.push({ instanceId: w.n.instanceId, type: t.name, reason: "over-max-workers", idleMs: w.idle });
      continue;
    }
    if (keepForMin || needed.has(w.n.instanceId) || w.busy) {
      if (newCount > t.maxWorkers && w.busy)
        notes.push(`${w.n.instanceId} (${t.name}) is over maxWorkers but busy: kept until idle`);
      mapAdd(kept, t.name, 1);
      continue;
    }
    if (w.idle >= input.idleTimeoutMs) {
      remove.push({ instanceId: w.n.instanceId, type: t.name, reason: "idle", idleMs: w.idle });
      continue;
    }
    mapAdd(kept, t.name, 1);
    couldGo.push(w);
  }

  // Over the global maxWorkers: remove the least recently used of the idle ones that may go.
  const pending = Object.entries(input.pendingLaunches).reduce((a, [t, k]) => a + (typeByName.has(t) ? k : 0), 0);
  const extra = workers.length - remove.length - input.maxWorkers;
  if (extra > 0) {
    const victims = couldGo.slice(-extra);
    for (const w of victims)
      remove.push({ instanceId: w.n.instanceId, type: w.n.type, reason: "over-max-workers", idleMs: w.idle });
    if (victims.length < extra)
      notes.push(`${extra - victims.length} workers over maxWorkers are busy or needed: kept until idle`);
  }
  if (pending > 0 && workers.length - remove.length + pending > input.maxWorkers) {
    notes.push(`pending pods bring workers over maxWorkers ${input.maxWorkers}`);
  }
  // Least recently used first: the order to drain them in.
  return remove.sort((a, b) => b.idleMs - a.idleMs || compareStrings(a.instanceId, b.instanceId));
}

/**
 * Workers that pending placement groups or request_resources() need (Ray: _get_nodes_needed_for_
 * request_resources): the demand is packed onto every node's full capacity, head first, then workers
 * most recently used first; a worker that receives any of it stays.
 */
function nodesNeededByConstraints(
  input: SchedulerInput,
  liveNodes: ClusterNode[],
  sortedWorkers: ClusterNode[],
): Set<string> {
  const { flat, strictSpreads } = gangsToDemand(input.gangs);
  const demand = [...flat, ...input.constraints];
  const needed = new Set<string>();
  if (demand.length === 0 && strictSpreads.length === 0) return needed;
  const index = new ResourceIndex();
  const typeByName = new Map(input.types.map((t) => [t.name, t]));
  const capacity = (n: ClusterNode) => typeByName.get(n.type)?.resources ?? n.total;
  const head = liveNodes.find((n) => n.isHead);
  const headCap = typeByName.get(input.headType)?.resources ?? head?.total ?? {};
  for (const m of [headCap, ...sortedWorkers.map(capacity), ...demand.map((d) => d.resources), ...strictSpreads.flat()])
    index.add(m);
  const bins = [index.vec(headCap), ...sortedWorkers.map((n) => index.vec(capacity(n)))];
  const full = bins.map((b) => b.slice());
  for (const group of strictSpreads) {
    const r = spreadOnto(
      bins,
      toShapes(
        index,
        group.map((b) => ({ resources: b, count: 1 })),
      ),
    );
    if (r.left.length > 0) r.undo();
  }
  packInto(bins, toShapes(index, demand));
  for (let i = 1; i < bins.length; i++) {
    if (bins[i].some((x, j) => x !== full[i][j])) needed.add(sortedWorkers[i - 1].instanceId);
  }
  return needed;
}

// ---------------------------------------------------------------------------------------------
// Scale up (get_nodes_to_launch)
// ---------------------------------------------------------------------------------------------

type LaunchPlan = Pick<
  Decision,
  "launch" | "wanted" | "infeasible" | "infeasibleGangs" | "infeasibleConstraints" | "unfulfilled"
>;

function planLaunches(input: SchedulerInput, nodes: ClusterNode[], notes: string[]): LaunchPlan {
  const { flat: gangFlat, strictSpreads } = gangsToDemand(input.gangs);

  // One index over every resource name that can decide a fit: those of the types and of the demand.
  // A name only nodes have never can (no request needs it), and each node has one of its own
  // (`node:<ip>`): indexing them made every vector as long as the cluster (1,000 nodes: 1,000+ long).
  const index = new ResourceIndex();
  for (const t of input.types) index.add(t.resources);
  for (const d of input.demands) index.add(d.resources);
  for (const d of gangFlat) index.add(d.resources);
  for (const g of strictSpreads) for (const b of g) index.add(b);
  for (const d of input.constraints) index.add(d.resources);
  const size = index.names.length;

  const types: TypeInfo[] = input.types.map((config) => {
    const cap = index.vec(config.resources);
    const scored: number[] = [];
    for (const [k, v] of Object.entries(config.resources)) if (v >= 1) scored.push(index.idx(k)!);
    return {
      config,
      cap,
      scored: Int32Array.from(scored),
      hasGpu: (config.resources.GPU ?? 0) > 0,
      max: Math.max(0, config.maxWorkers),
    };
  });
  const typeInfo = new Map(types.map((t) => [t.config.name, t]));
  const feasible = feasibilityTest(types, input.headType, nodes, index);

  // Step 1: what the cluster has: every live node's free resources, and a full node per pod still
  // starting. Worker counts per type, in first-seen order (Ray iterates types in that order).
  const bins: Float64Array[] = [];
  const counts = new Map<string, number>();
  const runningWorkers = new Map<string, number>();
  for (const n of nodes) {
    bins.push(index.vec(n.available));
    if (!n.isHead && typeInfo.has(n.type)) {
      mapAdd(counts, n.type, 1);
      mapAdd(runningWorkers, n.type, 1);
    }
  }
  for (const [name, k] of Object.entries(input.pendingLaunches)) {
    const t = typeInfo.get(name);
    if (!t || !(k > 0)) continue;
    for (let i = 0; i < k; i++) bins.push(t.cap.slice());
    mapAdd(counts, name, k);
  }
  const workerTotal = () => {
    let s = 0;
    for (const v of counts.values()) s += v;
    return s;
  };
  const addNodes = (added: Map<string, number>, into: Float64Array[]) => {
    for (const [name, k] of added) {
      const cap = typeInfo.get(name)!.cap;
      for (let i = 0; i < k; i++) into.push(cap.slice());
    }
  };

  // Step 2: minWorkers. (Unlike Ray, also within the global maxWorkers: the contract's hard cap.)
  const forMinimum = new Map<string, number>();
  for (const t of types) {
    const target = Math.min(t.config.minWorkers, t.max);
    const have = counts.get(t.config.name) ?? 0;
    const room = input.maxWorkers - workerTotal();
    const add = Math.min(target - have, room);
    if (add > 0) {
      if (add < target - have)
        notes.push(`${t.config.name}: minWorkers ${t.config.minWorkers} capped by maxWorkers ${input.maxWorkers}`);
      mapAdd(forMinimum, t.config.name, add);
      mapAdd(counts, t.config.name, add);
    }
  }
  addNodes(forMinimum, bins);

  // request_resources(): fit against total capacity (every node as if idle), add what is missing.
  const constraintShapes = toShapes(index, input.constraints);
  const infeasibleConstraints: ResourceDemand[] = [];
  if (constraintShapes.length > 0) {
    const totals: Float64Array[] = [];
    const headCap = typeInfo.get(input.headType)?.cap ?? index.vec(nodes.find((n) => n.isHead)?.total ?? {});
    if (nodes.some((n) => n.isHead)) totals.push(headCap.slice());
    for (const [name, k] of counts) for (let i = 0; i < k; i++) totals.push(typeInfo.get(name)!.cap.slice());
    for (const n of nodes) if (!n.isHead && !typeInfo.has(n.type)) totals.push(index.vec(n.total));
    const left = packedLeft(totals, constraintShapes);
    const forConstraints = nodesFor(types, counts, input.maxWorkers - workerTotal(), left, size);
    for (const [name, k] of forConstraints) {
      mapAdd(forMinimum, name, k);
      mapAdd(counts, name, k);
    }
    addNodes(forConstraints, bins);
    for (const s of left)
      if (s.count > 0 && !feasible.shape(s)) infeasibleConstraints.push({ resources: s.resources, count: s.count });
  }

  // Step 3: STRICT_SPREAD groups, one at a time: bundles on distinct existing nodes where they fit,
  // new nodes (one bundle each) for the rest; a group that cannot be placed whole adds nothing.
  const forSpread = new Map<string, number>();
  const infeasibleGangs: GangDemand[] = [];
  const nodeBins = bins.slice();
  const spreadGroups = strictSpreads.map((group) => ({
    group,
    shapes: toShapes(
      index,
      group.map((b) => ({ resources: b, count: 1 })),
    ),
  }));
  // The bins a bundle of some group may fit: bins only lose resources from here on, so one that
  // none fits now never takes one (on a busy cluster, most nodes), and is not tried again per group.
  const spreadDead = new DeadBinTest(
    size,
    spreadGroups.flatMap((g) => g.shapes),
  );
  const mayTakeBundle: number[] = [];
  for (let b = 0; b < nodeBins.length; b++) if (!spreadDead.dead(nodeBins[b])) mayTakeBundle.push(b);
  for (const { group, shapes: groupShapes } of spreadGroups) {
    const onExisting = spreadOnto(nodeBins, groupShapes, mayTakeBundle);
    const toLaunch = nodesFor(
      types,
      counts,
      input.maxWorkers - workerTotal(),
      cloneShapes(onExisting.left),
      size,
      true,
    );
    const fresh: Float64Array[] = [];
    addNodes(toLaunch, fresh);
    const onNew = spreadOnto(fresh, onExisting.left);
    if (onNew.left.length > 0) {
      onExisting.undo();
      if (group.some((b) => !feasible.request(b))) infeasibleGangs.push({ strategy: "STRICT_SPREAD", bundles: group });
      continue;
    }
    for (const [name, k] of toLaunch) {
      mapAdd(counts, name, k);
      mapAdd(forSpread, name, k);
    }
    for (const bin of fresh) {
      if (!spreadDead.dead(bin)) mayTakeBundle.push(nodeBins.length);
      nodeBins.push(bin);
    }
  }

  // Placement-group nodes are exempt from the throttle (Ray: a group is all or nothing, so
  // launching part of it is useless); how many they need is worked out on their own.
  const maxToAdd = input.maxWorkers - workerTotal();
  const gangShapes = toShapes(index, gangFlat);
  const gangLeft = residual(nodeBins, gangShapes);
  const forGangs = nodesFor(types, counts, maxToAdd, gangLeft, size);

  // Steps 4-5: tasks, actors and the other placement groups: pack on what there is, then add nodes.
  const allShapes = toShapes(index, [...gangFlat, ...input.demands]);
  // The last use of these bins: packed as they are.
  const left = packedLeft(nodeBins, allShapes);
  const forDemand = nodesFor(types, counts, maxToAdd, left, size);

  // Infeasible: shapes no type may ever hold and no live node could hold when empty. Those of tasks
  // and actors only: a placement group's bundles (a STRICT_PACK group's sum) are reported once, as
  // the group, below.
  const taskCounts = new Map<string, number>();
  for (const d of input.demands) if (d.count > 0) mapAdd(taskCounts, shapeKey(d.resources), d.count);
  const infeasible: ResourceDemand[] = [];
  const unfulfilled: ResourceDemand[] = [];
  for (const s of left) {
    if (s.count === 0) continue;
    if (feasible.shape(s)) unfulfilled.push({ resources: s.resources, count: s.count });
    else {
      const tasks = Math.min(s.count, taskCounts.get(shapeKey(s.resources)) ?? 0);
      if (tasks > 0) infeasible.push({ resources: s.resources, count: tasks });
    }
  }
  for (const g of input.gangs) {
    if (g.strategy === "STRICT_SPREAD") continue;
    const bundles = g.strategy === "STRICT_PACK" ? gangsToDemand([g]).flat.map((d) => d.resources) : g.bundles;
    if (bundles.some((b) => !feasible.request(b))) infeasibleGangs.push(g);
  }

  // Sum up, then throttle: at most max(5, ⌊speed × max(running workers, 1)⌋) launches pending per
  // type, minimums, request_resources and placement groups excepted.
  const wanted: Record<string, number> = {};
  const launch: Record<string, number> = {};
  for (const t of types) {
    const name = t.config.name;
    const w = (forMinimum.get(name) ?? 0) + (forSpread.get(name) ?? 0) + (forDemand.get(name) ?? 0);
    if (w <= 0) continue;
    wanted[name] = w;
    const running = runningWorkers.get(name) ?? 0;
    const maxPending = Math.max(5, Math.floor(input.upscalingSpeed * Math.max(running, 1)));
    const pending = input.pendingLaunches[name] ?? 0;
    const exempt = (forMinimum.get(name) ?? 0) + (forSpread.get(name) ?? 0) + (forGangs.get(name) ?? 0);
    const bound = Math.max(maxPending - pending, exempt);
    const n = Math.min(Math.max(bound, 0), w);
    if (n > 0) launch[name] = n;
    if (n < w)
      notes.push(
        `${name}: ${w - n} of ${w} launches held back by upscalingSpeed ${input.upscalingSpeed} ` +
          `(${pending} pending, ${running} running)`,
      );
  }
  if (unfulfilled.length > 0) {
    // Why demand is left: limits reached (counting the nodes this decision wants).
    for (const [name, k] of forDemand) mapAdd(counts, name, k);
    for (const t of types)
      if (t.max > 0 && (counts.get(t.config.name) ?? 0) >= t.max)
        notes.push(`${t.config.name}: at maxWorkers ${t.max}`);
    if (workerTotal() >= input.maxWorkers) notes.push(`cluster at maxWorkers ${input.maxWorkers}`);
  }

  return { launch, wanted, infeasible, infeasibleGangs, infeasibleConstraints, unfulfilled };
}

/**
 * Could one request of a shape ever be placed: on an empty node of a type that may have workers (or
 * the head's type), or on some live node's total capacity? `shape` takes a Shape; `request` the
 * resources of one request as they are (a placement group's bundles: no Shape made for each).
 */
function feasibilityTest(
  types: TypeInfo[],
  headType: string,
  nodes: ClusterNode[],
  index: ResourceIndex,
): { shape: (s: Need) => boolean; request: (resources: ResourceMap) => boolean } {
  const caps = types.filter((t) => t.max > 0 || t.config.name === headType).map((t) => t.cap);
  let totals: Float64Array[] | undefined;
  // Each distinct capacity once: 1,000 nodes have a handful (their types'), and hundreds of
  // infeasible placement groups are each tried against them.
  const capacities = () => (totals ??= distinct(nodes.map((n) => index.vec(n.total))));
  return {
    shape: (s) => caps.some((c) => fitCount(c, s, 1) === 1) || capacities().some((c) => fitCount(c, s, 1) === 1),
    request: (resources) =>
      caps.some((c) => fitsOne(c, resources, index)) || capacities().some((c) => fitsOne(c, resources, index)),
  };
}

/** fitCount(avail, the request's shape, 1) === 1, read from the request's map. */
function fitsOne(avail: Float64Array, resources: ResourceMap, index: ResourceIndex): boolean {
  for (const k in resources) {
    const need = resources[k];
    if (need > 0 && Math.floor(avail[index.idx(k)!] / need + EPS) < 1) return false;
  }
  return true;
}

/** The vectors without repeats (the first of equal ones kept). */
function distinct(vectors: Float64Array[]): Float64Array[] {
  const seen = new Set<string>();
  return vectors.filter((v) => {
    const key = v.join(",");
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
