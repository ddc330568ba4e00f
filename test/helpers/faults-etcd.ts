// etcd as the fault suite's last witness (issue 13): the API server's storage, read below the API
// server. When kube-apiserver itself is killed, neither the operator's counters nor the audit log
// can say what happened to a request in flight: the operator got no answer, and the API server may
// have stored the pod and answered 201 and still died before it wrote the audit line (the answer
// leaves before the ResponseComplete event is written). etcd's history has every pod that was ever
// stored, each once under its name, with the revision of its create and of its delete: what is
// counted against that cannot be fooled by a lost answer or a lost log line.
//
// The history is read with etcd's own watch (its JSON gateway, /v3/watch) from a start revision;
// etcd keeps it until compaction, which the API server does every 5 minutes (to the revision of
// the round before): a test reads it right after its window, well within that.
import { Clients } from "./kube";

/** etcd's current revision: a point of the history to compare pod events with. */
export async function etcdRevision(etcdUrl: string): Promise<number> {
  const r = await fetch(`${etcdUrl}/v3/kv/range`, {
    method: "POST",
    body: JSON.stringify({ key: b64("/registry/health-of-a-fault-test"), count_only: true }),
  });
  const body = (await r.json()) as { header?: { revision?: string } };
  const revision = Number(body.header?.revision);
  if (!Number.isInteger(revision) || revision <= 0)
    throw new Error(`etcd answered no revision: ${JSON.stringify(body)}`);
  return revision;
}

export interface PodLife {
  name: string;
  /** The revision that created it. */
  createdAt: number;
  /** The revision that removed it from etcd (its deletion finished), if it was removed. */
  deletedAt?: number;
}

export interface PodHistory {
  /** Every pod stored since the start revision, in the order created; a name stored twice is there twice. */
  lives: PodLife[];
  /** How many times each name was created: more than 1 is the same name stored twice. */
  createsByName: Map<string, number>;
}

interface WatchKv {
  key: string;
  create_revision?: string;
  mod_revision?: string;
  version?: string;
}
interface WatchMessage {
  result?: {
    created?: boolean;
    canceled?: boolean;
    compact_revision?: string;
    cancel_reason?: string;
    events?: Array<{ type?: "PUT" | "DELETE"; kv: WatchKv }>;
  };
  error?: { message?: string };
}

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: string) => Buffer.from(s, "base64").toString("utf8");

/**
 * A pod in `namespace` that nothing will ever schedule or touch: its create is a point in etcd's
 * history after everything the test did, so reading the history up to it reads all of the window.
 */
async function historyMark(c: Clients, namespace: string): Promise<string> {
  const name = `faults-history-mark-${Date.now().toString(36)}`;
  await c.core.createNamespacedPod({
    namespace,
    body: {
      metadata: { name },
      spec: {
        // No scheduler has this name: the pod stays Pending on no node, and no kubelet runs it.
        schedulerName: "faults-no-scheduler",
        containers: [{ name: "mark", image: "registry.k8s.io/pause:3.10" }],
      },
    },
  });
  return name;
}

/**
 * Every pod of `namespace` that etcd stored from revision `from` until now (a mark written now
 * ends the read), deleted ones included. Throws when the history from `from` is compacted away.
 */
export async function podHistory(c: Clients, etcdUrl: string, namespace: string, from: number): Promise<PodHistory> {
  const prefix = `/registry/pods/${namespace}/`;
  // The end of a prefix range: the prefix with its last byte + 1 ('/' + 1 is '0').
  const rangeEnd = `${prefix.slice(0, -1)}0`;
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 60_000);
  const lives: PodLife[] = [];
  const open = new Map<string, PodLife>();
  let markName: string | undefined;
  let markSeen = false;
  try {
    const res = await fetch(`${etcdUrl}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: { key: b64(prefix), range_end: b64(rangeEnd), start_revision: from } }),
      signal: abort.signal,
    });
    if (!res.ok || !res.body) throw new Error(`etcd watch: HTTP ${res.status}`);
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let rest = "";
    while (!markSeen) {
      const { value, done } = await reader.read();
      if (done) throw new Error("etcd closed the watch before the history was read to its end");
      const lines = (rest + decoder.decode(value, { stream: true })).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        if (!line.trim()) continue;
        const m = JSON.parse(line) as WatchMessage;
        if (m.error) throw new Error(`etcd watch: ${m.error.message}`);
        const r = m.result ?? {};
        if (r.canceled || Number(r.compact_revision ?? 0) > 0)
          throw new Error(`etcd's history from revision ${from} is compacted (to ${r.compact_revision}) or the watch \
was refused: ${r.cancel_reason ?? ""}`);
        // The watch is registered: only now is a mark sure to be seen (written after it, or before and replayed).
        if (r.created && !markName) markName = await historyMark(c, namespace);
        for (const e of r.events ?? []) {
          const name = unb64(e.kv.key).slice(prefix.length);
          if (name === markName) {
            markSeen = true;
            continue;
          }
          if (e.type === "DELETE") {
            const life = open.get(name);
            if (life) life.deletedAt = Number(e.kv.mod_revision);
            open.delete(name);
          } else if (e.kv.version === "1") {
            // Version 1: this PUT stored a new key (a create); later PUTs of it are updates.
            const life = { name, createdAt: Number(e.kv.create_revision) };
            lives.push(life);
            open.set(name, life);
          }
        }
      }
    }
    abort.abort();
  } finally {
    clearTimeout(timer);
    if (markName) await c.core.deleteNamespacedPod({ namespace, name: markName, gracePeriodSeconds: 0 }).catch(() => 0);
  }
  const createsByName = new Map<string, number>();
  for (const l of lives) createsByName.set(l.name, (createsByName.get(l.name) ?? 0) + 1);
  return { lives, createsByName };
}

/** The RayCluster of a pod, from the names the operator gives: `<cluster>-ray-<head|worker>-xxxxx`. */
export const clusterOfPod = (name: string) => /^(.*)-ray-(?:head|worker)-[a-z0-9]{5}$/.exec(name)?.[1];

/** What one RayCluster of a fault run needed, for accountPods. */
export interface ClusterPlan {
  /** Pods it needed created in the window: its head and workers (0 for a cluster stable before it). */
  creates: number;
  /** Workers it wanted until it was told to shrink. */
  workers: number;
  /** etcd's revision when it was told to shrink: its workers removed from then on were asked for. */
  shrinkAt?: number;
}

export interface PodAccount {
  /** How many pods were stored beyond what the clusters needed (and not undone as headless). */
  duplicates: number;
  /** Pods removed before their cluster shrank while it had more workers than wanted: a duplicate undone. */
  surplusRemoved: string[];
  /**
   * Workers stored before their cluster had any head, removed again before it shrank: a wave whose
   * head create failed is undone by design (its workers would join no head). Not a loss; counted apart.
   */
  headless: string[];
  /** Pods removed that nothing asked to remove: a head, or a worker its cluster still wanted. */
  lost: string[];
  /** Pods removed as their cluster was asked to shrink. */
  shrunk: string[];
}

/**
 * Every pod of etcd's history against what each cluster needed. A removal before the cluster was
 * told to shrink is a loss, unless the cluster had more workers stored than it wanted at that
 * revision (it undid a duplicate, counted as one), or the worker was stored before any head of its
 * cluster (a headless wave undone).
 */
export function accountPods(history: PodHistory, plan: Record<string, ClusterPlan>): PodAccount {
  const out: PodAccount = { duplicates: 0, surplusRemoved: [], headless: [], lost: [], shrunk: [] };
  const isWorker = (name: string) => name.includes("-ray-worker-");
  const livesOf = (cluster: string) => history.lives.filter((l) => clusterOfPod(l.name) === cluster);
  for (const l of history.lives) {
    if (l.deletedAt === undefined) continue;
    const at = l.deletedAt;
    const cluster = clusterOfPod(l.name) ?? "";
    const want = plan[cluster];
    const lives = livesOf(cluster);
    const firstHead = lives.find((h) => !isWorker(h.name))?.createdAt ?? Number.POSITIVE_INFINITY;
    // Workers stored just before this removal, itself included.
    const stored = lives.filter((w) => isWorker(w.name) && w.createdAt < at && (w.deletedAt ?? at) >= at).length;
    if (!want || !isWorker(l.name)) out.lost.push(l.name);
    else if (want.shrinkAt !== undefined && at >= want.shrinkAt) out.shrunk.push(l.name);
    else if (stored > want.workers) out.surplusRemoved.push(l.name);
    else if (l.createdAt < firstHead) out.headless.push(l.name);
    else out.lost.push(l.name);
  }
  for (const [cluster, want] of Object.entries(plan)) {
    const lives = livesOf(cluster);
    const undone = lives.filter((l) => out.headless.includes(l.name)).length;
    out.duplicates += Math.max(0, lives.length - undone - want.creates);
  }
  out.duplicates += history.lives.filter((l) => !((clusterOfPod(l.name) ?? "") in plan)).length;
  return out;
}
