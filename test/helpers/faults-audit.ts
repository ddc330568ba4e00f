// The API server's audit log as the fault suite's witness (issue 13): every request, with who made it
// (the operator's ServiceAccount), from which replica (`ray-operator/<POD_NAME>` in its userAgent),
// when it arrived and when it was answered. What it holds happened, whatever the operator's own
// counters say; but it may lack a request whose API server was killed while answering it: the
// ResponseComplete event is written (blocking mode) after the answer has gone out, so a client can
// hold a 201 that was never logged. Where the API server itself is killed, etcd's history is the
// witness instead (faults-etcd.ts).
import { closeSync, openSync, readSync, statSync } from "fs";
import { SERVICE_ACCOUNT } from "../../builders/rbac";

export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  userAgent?: string;
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  responseStatus?: { code?: number };
  requestReceivedTimestamp: string;
  stageTimestamp: string;
}

const MUTATING = new Set(["create", "update", "patch", "delete", "deletecollection"]);

/** A server-side dry run (`?dryRun=All`): admitted and answered like a write, but nothing is stored. */
export const isDryRun = (e: AuditEvent) => /[?&]dryRun=/.test(e.requestURI);

/** A request that changed something (a dry run changes nothing). */
export const isMutating = (e: AuditEvent) => MUTATING.has(e.verb) && !isDryRun(e);

/** The operator's ServiceAccount as the audit log names it. */
export const operatorUser = (namespace: string) => `system:serviceaccount:${namespace}:${SERVICE_ACCOUNT}`;

/** The replica that made a request: `<POD_NAME>` of `ray-operator/<POD_NAME>`; undefined for any other agent. */
export function replicaOf(e: AuditEvent): string | undefined {
  return /^ray-operator\/(\S+)$/.exec(e.userAgent ?? "")?.[1];
}

/**
 * An audit timestamp in microseconds since the epoch. The API server writes them RFC 3339 with six
 * fractional digits; Date.parse keeps only milliseconds, and two replicas' writes can be closer.
 */
export function micros(ts: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(ts);
  if (!m) throw new Error(`not an audit timestamp: ${ts}`);
  return Date.parse(`${m[1]}Z`) * 1000 + Number((m[2] ?? "").padEnd(6, "0").slice(0, 6));
}

export const code = (e: AuditEvent) => e.responseStatus?.code ?? 0;
export const resourceOf = (e: AuditEvent) =>
  e.objectRef?.subresource ? `${e.objectRef.resource}/${e.objectRef.subresource}` : (e.objectRef?.resource ?? "");

export class AuditLog {
  constructor(readonly path: string) {}

  /** Where the log ends now: what a test does next is logged after this. */
  mark(): number {
    return statSync(this.path).size;
  }

  /**
   * The answered requests (stage ResponseComplete) logged since `from` whose line mentions `needle`
   * (a namespace): read in chunks, only lines that mention it are parsed.
   */
  since(from: number, needle: string): AuditEvent[] {
    const out: AuditEvent[] = [];
    const fd = openSync(this.path, "r");
    try {
      const chunk = Buffer.alloc(8 << 20);
      let position = from;
      let rest = "";
      for (;;) {
        const n = readSync(fd, chunk, 0, chunk.length, position);
        if (n === 0) break;
        position += n;
        const lines = (rest + chunk.subarray(0, n).toString("utf8")).split("\n");
        rest = lines.pop() ?? "";
        for (const l of lines) {
          if (!l.includes(needle)) continue;
          const e = JSON.parse(l) as AuditEvent;
          if (e.stage === "ResponseComplete") out.push(e);
        }
      }
    } finally {
      closeSync(fd);
    }
    return out;
  }

  /** What the operator's ServiceAccount in `namespace` did since `from`. */
  operatorRequests(from: number, namespace: string): AuditEvent[] {
    const user = operatorUser(namespace);
    return this.since(from, namespace).filter((e) => e.user.username === user);
  }
}

export interface PodWrites {
  creates: number;
  deletes: number;
  /** Deleted pods by name: a name twice is a double delete. */
  deleted: Map<string, number>;
  byReplica: Map<string, { creates: number; deletes: number }>;
}

/** The operator's pod creates and deletes that took effect (201; 200 or 202), by replica. */
export function podWrites(events: AuditEvent[]): PodWrites {
  const out: PodWrites = { creates: 0, deletes: 0, deleted: new Map(), byReplica: new Map() };
  for (const e of events) {
    if (resourceOf(e) !== "pods" || isDryRun(e)) continue;
    const replica = replicaOf(e) ?? `(${e.userAgent ?? "no userAgent"})`;
    const mine = out.byReplica.get(replica) ?? { creates: 0, deletes: 0 };
    out.byReplica.set(replica, mine);
    if (e.verb === "create" && code(e) === 201) {
      out.creates++;
      mine.creates++;
    } else if (e.verb === "delete" && (code(e) === 200 || code(e) === 202)) {
      out.deletes++;
      mine.deletes++;
      const name = e.objectRef?.name ?? "";
      out.deleted.set(name, (out.deleted.get(name) ?? 0) + 1);
    }
  }
  return out;
}

/** One replica holding the Lease, from its first successful Lease write to the next replica's. */
export interface Tenure {
  replica: string;
  fromUs: number;
  toUs: number;
}

/** A mutating request made by a replica while another one held the Lease, or overlapping another's. */
export interface TwoActors {
  replica: string;
  request: string;
  received: string;
  why: string;
}

const describe = (e: AuditEvent) =>
  `${e.verb} ${resourceOf(e)}${e.objectRef?.name ? ` ${e.objectRef.name}` : ""} → ${code(e)}`;

/**
 * Never two actors, from the audit log alone. Tenures come from successful writes of the Lease (an
 * acquire or a renewal: the writer holds it afterwards). Every other mutating request must (1) be
 * received during its replica's own tenure, and (2) not overlap, from its arrival to its answer,
 * any request of another replica. Returns every request that breaks either rule.
 */
export function twoActors(
  events: AuditEvent[],
  lease: string,
  /** Who held the Lease when the events begin. */
  holder: string,
): { tenures: Tenure[]; violations: TwoActors[] } {
  const sorted = [...events].sort((a, b) => micros(a.stageTimestamp) - micros(b.stageTimestamp));
  const leaseWrites = sorted.filter(
    (e) => resourceOf(e) === "leases" && e.objectRef?.name === lease && isMutating(e) && code(e) < 300,
  );
  const tenures: Tenure[] = [{ replica: holder, fromUs: 0, toUs: Number.POSITIVE_INFINITY }];
  for (const e of leaseWrites) {
    const replica = replicaOf(e) ?? "?";
    const at = micros(e.stageTimestamp);
    const last = tenures[tenures.length - 1];
    if (last?.replica === replica) continue;
    if (last) last.toUs = at;
    tenures.push({ replica, fromUs: at, toUs: Number.POSITIVE_INFINITY });
  }
  const holderAt = (us: number) => tenures.find((t) => t.fromUs <= us && us < t.toUs)?.replica;
  const acts = sorted.filter((e) => isMutating(e) && resourceOf(e) !== "leases");
  const violations: TwoActors[] = [];
  for (const e of acts) {
    const replica = replicaOf(e) ?? "?";
    const received = micros(e.requestReceivedTimestamp);
    const holder = holderAt(received);
    if (holder !== replica)
      violations.push({
        replica,
        request: describe(e),
        received: e.requestReceivedTimestamp,
        why: `received while ${holder ?? "nobody"} held the Lease`,
      });
  }
  // Overlaps: sweep the requests by arrival, keeping the latest answer time of each other replica.
  const byArrival = [...acts].sort((a, b) => micros(a.requestReceivedTimestamp) - micros(b.requestReceivedTimestamp));
  const busyUntil = new Map<string, { until: number; what: string }>();
  for (const e of byArrival) {
    const replica = replicaOf(e) ?? "?";
    const received = micros(e.requestReceivedTimestamp);
    for (const [other, busy] of busyUntil)
      if (other !== replica && busy.until > received)
        violations.push({
          replica,
          request: describe(e),
          received: e.requestReceivedTimestamp,
          why: `arrived while ${other}'s ${busy.what} was in progress`,
        });
    const until = micros(e.stageTimestamp);
    if ((busyUntil.get(replica)?.until ?? 0) < until) busyUntil.set(replica, { until, what: describe(e) });
  }
  return { tenures, violations };
}
