// The autoscaler's periodic "Cluster status" block, in the shape the original operator logged it
// (the seed: `kubectl -n ray logs <operator pod> | grep ^example-cluster2:`):
//
//   Cluster status: 1 nodes
//    - NodeIdleSeconds: Min=36 Mean=38 Max=41
//    - ResourceUsage: 0.0/2.0 CPU, 0.0/1.0 Custom1, 0.0/1.0 is_spot, 0.0 GiB/0.58 GiB memory,
//        0.0 GiB/0.1 GiB object_store_memory      (one line in the log, cut here)
//   Worker node types:
//    - worker-nodes: 1
//   Placement group demands: []
//   Resource demands: []
//   Unfulfilled demands: []
//   Node requests: {}
//
// Returned as lines without the `<cluster>:` prefix (the operator's logger adds it to each line,
// so `grep ^<cluster>:` keeps working). Numbers and dicts are printed as Ray's Python printed them
// (`2.0`, `{'CPU': 1.0}`), so existing log scrapers and people used to them read them unchanged.
// What the original printed and we cannot know is left out: heartbeats (MostDelayedHeartbeats,
// TimeSinceLastHeartbeat; the GCS tracks liveness itself). What we add, only when there is
// something to say: request_resources() bundles, infeasible demand, nodes being removed, notes.
import type {
  ClusterNode,
  Decision,
  GangDemand,
  RemovalChoice,
  ResourceDemand,
  ResourceMap,
  SchedulerInput,
} from "./scheduler";

/** Python's repr() of a float: shortest round-trip digits, `.0` on integers, exponent outside 1e-4..1e16. */
export function pyFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  const [mant, expStr] = x.toExponential().split("e");
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const digits = mant.includes(".") ? mant : `${mant}`;
    const sign = exp < 0 ? "-" : "+";
    return `${digits}e${sign}${String(Math.abs(exp)).padStart(2, "0")}`;
  }
  const fixed = x.toFixed(Math.max(0, (mant.replace("-", "").split(".")[1]?.length ?? 0) - exp));
  return fixed.includes(".") ? fixed : `${fixed}.0`;
}

/** Python's repr() of a str (single quotes unless the text holds one and no double quote). */
function pyStr(s: string): string {
  const q = s.includes("'") && !s.includes('"') ? '"' : "'";
  return q + s.replace(/\\/g, "\\\\").replace(new RegExp(q, "g"), `\\${q}`) + q;
}

/** Python's repr() of a dict of resources, e.g. `{'CPU': 1.0, 'Custom1': 1.0}`. */
export function pyResources(m: ResourceMap): string {
  return `{${Object.entries(m)
    .map(([k, v]) => `${pyStr(k)}: ${pyFloat(v)}`)
    .join(", ")}}`;
}

const MEMORY_KEYS = new Set(["memory", "object_store_memory"]);
const GiB = 2 ** 30;

/** Python's round(x, 2) then repr, as the original printed GiB figures. */
function gib(bytes: number): string {
  return pyFloat(Math.round((bytes / GiB) * 100) / 100);
}

function isLive(n: ClusterNode): boolean {
  return n.status !== "DEAD" && n.status !== "DRAINING";
}

/** `{'CPU': 1.0} * 3` for repeated shapes: 10,000 pending tasks stay one line. */
function demandList(ds: ResourceDemand[], max: number): string {
  const shown = ds
    .slice(0, max)
    .map((d) => (d.count === 1 ? pyResources(d.resources) : `${pyResources(d.resources)} * ${d.count}`));
  if (ds.length > max) shown.push(`... ${ds.length - max} more shapes`);
  return `[${shown.join(", ")}]`;
}

export interface StatusBlockOptions {
  /** At most this many shapes per demand list (20). */
  maxShapes?: number;
}

/** The "Cluster status" block for one autoscaler pass, as lines. */
export function formatClusterStatus(
  input: SchedulerInput,
  decision: Decision,
  opts: StatusBlockOptions = {},
): string[] {
  const max = opts.maxShapes ?? 20;
  const lines: string[] = [];
  const live = input.nodes.filter(isLive);
  const pending = Object.values(input.pendingLaunches).reduce((a, b) => a + (b > 0 ? b : 0), 0);
  // One walk over the nodes (1,000 of them): workers by type, idle times, resources used and total.
  let workers = 0;
  const workersByType = new Map<string, number>();
  let idleMin = Infinity;
  let idleMax = -Infinity;
  let idleSum = 0;
  const used = new Map<string, number>();
  const total = new Map<string, number>();
  for (const n of live) {
    if (!n.isHead) {
      workers++;
      workersByType.set(n.type, (workersByType.get(n.type) ?? 0) + 1);
    }
    const idle = Math.floor(n.idleMs / 1000);
    idleMin = Math.min(idleMin, idle);
    idleMax = Math.max(idleMax, idle);
    idleSum += idle;
    for (const k in n.total) {
      // `node:<ip>` (one per node) and `node:__internal_head__` are not shown.
      if (k.startsWith("node:")) continue;
      const t = n.total[k];
      total.set(k, (total.get(k) ?? 0) + t);
      used.set(k, (used.get(k) ?? 0) + Math.max(0, t - (n.available[k] ?? 0)));
    }
  }

  // As the original: the count is of worker nodes; idle times and usage cover every node, head included.
  lines.push(`Cluster status: ${workers} nodes${pending > 0 ? ` (${pending} pending)` : ""}`);
  if (live.length > 0)
    lines.push(` - NodeIdleSeconds: Min=${idleMin} Mean=${Math.floor(idleSum / live.length)} Max=${idleMax}`);
  const usage = [...total.keys()]
    .sort()
    .map((k) =>
      MEMORY_KEYS.has(k)
        ? `${gib(used.get(k)!)} GiB/${gib(total.get(k)!)} GiB ${k}`
        : `${pyFloat(used.get(k)!)}/${pyFloat(total.get(k)!)} ${k}`,
    );
  lines.push(` - ResourceUsage: ${usage.join(", ")}`);

  lines.push("Worker node types:");
  for (const t of input.types) {
    const running = workersByType.get(t.name) ?? 0;
    const p = input.pendingLaunches[t.name] ?? 0;
    if (running === 0 && p === 0) continue;
    lines.push(` - ${t.name}: ${running + p}${p > 0 ? ` (${p} pending)` : ""}`);
  }

  // Only the groups shown are formatted (a cluster may have thousands pending).
  const gangs = input.gangs.slice(0, max).map(gangText);
  const moreGangs = input.gangs.length > max ? `, ... ${input.gangs.length - max} more` : "";
  lines.push(`Placement group demands: [${gangs.join(", ")}${moreGangs}]`);
  lines.push(`Resource demands: ${demandList(input.demands, max)}`);
  if (input.constraints.length > 0)
    lines.push(`Requested resources (request_resources): ${demandList(input.constraints, max)}`);
  lines.push(`Unfulfilled demands: ${demandList(decision.unfulfilled, max)}`);
  const infeasible = [...decision.infeasible, ...decision.infeasibleConstraints];
  if (infeasible.length > 0 || decision.infeasibleGangs.length > 0) {
    const parts = [demandList(infeasible, max)];
    if (decision.infeasibleGangs.length > 0) {
      // Identical groups once, with their number (a job may leave hundreds of the same group pending).
      const groups = sameGangs(decision.infeasibleGangs);
      const shown = groups.slice(0, max).map((g) => (g.count === 1 ? g.text : `${g.text} * ${g.count}`));
      if (groups.length > max) shown.push(`... ${groups.length - max} more`);
      parts.push(`placement groups: [${shown.join(", ")}]`);
    }
    lines.push(`Infeasible demands (no node type can hold them): ${parts.join(" ")}`);
  }
  const requests = Object.entries(decision.launch).filter(([, n]) => n > 0);
  lines.push(`Node requests: {${requests.map(([k, n]) => `${pyStr(k)}: ${n}`).join(", ")}}`);
  if (decision.remove.length > 0) {
    const idleFor = (r: RemovalChoice) => (r.reason === "idle" ? ` ${Math.floor(r.idleMs / 1000)}s` : "");
    const removals = decision.remove.map((r) => `${r.instanceId} (${r.type}, ${r.reason}${idleFor(r)})`);
    lines.push(`Nodes to remove: ${removals.join(", ")}`);
  }
  for (const note of decision.notes) lines.push(` - ${note}`);
  return lines;
}

/** A placement group as the status block shows it: `STRATEGY: [{bundle}, ...]`. */
function gangText(gang: GangDemand): string {
  return `${gang.strategy}: [${gang.bundles.map(pyResources).join(", ")}]`;
}

/** Identical placement groups (same strategy, same bundles in the same order) as one, counted, in first-seen order. */
function sameGangs(gangs: GangDemand[]): { gang: GangDemand; text: string; count: number }[] {
  const byText = new Map<string, { gang: GangDemand; text: string; count: number }>();
  for (const gang of gangs) {
    const text = gangText(gang);
    const same = byText.get(text);
    if (same) same.count++;
    else byText.set(text, { gang, text, count: 1 });
  }
  return [...byText.values()];
}

/**
 * One line per infeasible demand (status.autoscaler.infeasible), in the words `ray status` uses;
 * identical placement groups make one line:
 *   {'GPU': 8.0}: 3 pending tasks/actors
 *   {'CPU': 32.0}, {'CPU': 32.0} (STRICT_PACK): placement group
 *   {'CPU': 8.0}, {'CPU': 8.0} (STRICT_SPREAD): 40 placement groups
 *   {'TPU': 1.0}: 2 from request_resources()
 */
export function formatInfeasible(decision: Decision): string[] {
  return [
    ...decision.infeasible.map((d) => `${pyResources(d.resources)}: ${d.count} pending tasks/actors`),
    ...sameGangs(decision.infeasibleGangs).map(
      ({ gang, count }) =>
        `${gang.bundles.map(pyResources).join(", ")} (${gang.strategy}): ` +
        (count === 1 ? "placement group" : `${count} placement groups`),
    ),
    ...decision.infeasibleConstraints.map((d) => `${pyResources(d.resources)}: ${d.count} from request_resources()`),
  ];
}
