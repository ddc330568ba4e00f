// Fault 7 of issue 13, the operator's half of issue 16's property: 500 RayClusters generated (seeded,
// fast-check) the way users break them (test/helpers/bad-clusters.ts), applied as kubectl would
// (strict field validation) to one namespace watched by one operator. Each must be
//   - refused by the API server, naming a path inside the RayCluster; or
//   - accepted and then Stalled, naming a path inside the RayCluster, with no pod ever created; or
//   - accepted and reconciled to the pods its spec asks for (a head, minWorkers of each type).
// Then the operator must be quiet: its reconciles go on (a short resync) while its count of
// mutating requests stays where it was, its log says nothing, and it never exited.
import fc from "fast-check";
import { OperatorProcess } from "../../scripts/operator-process";
import { KWOK_PLACEMENT } from "../../scripts/cluster/control-plane";
import { GROUP, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { JsonValue } from "../../api/v1/structural-schema";
import { withDefaults, workerTypes } from "../../api/v1/defaults";
import type { Pod } from "../../api/v1/kube-types";
import { KubeRest } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { Informer, Stored } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";
import { Clients, deleteNamespace, errorText, eventually, statusCode, uniqueName } from "../helpers/kube";
import { operatorNamespace } from "../helpers/operator-env";
import { brokenClusters, JsonObject, pathsNamedIn } from "../helpers/bad-clusters";
import { AuditLog, podWrites } from "../helpers/faults-audit";
import {
  faultCluster,
  FaultRun,
  faultSeed,
  lite,
  metric,
  mutatingRequests,
  PodLite,
  startOperator,
} from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const CASES = 500;
/** The operator's resync: every cluster is reconciled again this often, whether anything changed or not. */
const RESYNC_SECONDS = 15;
/**
 * How many reconciles of every cluster the quiet window spans: three resyncs, over 30 s, so that a
 * refusal retried on a timer (today every 30 s) is caught as well as one retried at each resync.
 */
const QUIET_PASSES = 3;

type Verdict = "refused" | "stalled" | "running";

interface Case {
  name: string;
  description: string;
  body: JsonObject;
  verdict?: Verdict;
  /** The API server's refusal, or the Stalled condition's message. */
  message?: string;
  /** What the API server stored (its defaults filled in). */
  stored?: JsonObject;
  /** Pods the spec asks for, `<kind>/<type>` → count; undefined when the defaults cannot be read. */
  expected?: Map<string, number>;
  /** Its pods when it was found running. */
  pods?: PodLite[];
}

const isObject = (v: JsonValue | undefined): v is JsonObject =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/**
 * Whether `path` (as an API server message writes it: `spec.podTypes[1].podConfig.spec.containers[0]
 * .resources.requests[memory]`) is a place inside `cluster`: every step but the last exists there (the
 * last may be what is missing, e.g. a required field). A map key may hold dots, which the message does
 * not quote (`...requests.nvidia.com/gpu`): a step may be several dotted parts, where such a key exists.
 */
function pathInside(cluster: JsonObject, path: string): boolean {
  const steps = [...path.matchAll(/\.?([A-Za-z0-9_\-/]+)|\[([^\]]*)\]/g)].map((m) => m[1] ?? m[2]);
  const child = (at: JsonValue, key: string): JsonValue | undefined =>
    Array.isArray(at) ? (/^\d+$/.test(key) ? at[Number(key)] : undefined) : isObject(at) ? at[key] : undefined;
  const walk = (at: JsonValue | undefined, i: number): boolean => {
    if (!isObject(at) && !Array.isArray(at)) return false;
    if (i >= steps.length - 1) return true;
    for (let j = i + 1; j <= steps.length; j++) {
      const next = child(at, steps.slice(i, j).join("."));
      if (next === undefined) continue;
      if (j === steps.length || walk(next, j)) return true;
    }
    return false;
  };
  return walk(cluster, 0);
}

/** The generated cluster as `name`, its pods placed on kwok nodes wherever its pod specs are objects. */
function placed(cluster: JsonObject, name: string): JsonObject {
  const body = structuredClone(cluster);
  (body.metadata as JsonObject).name = name;
  const podTypes = isObject(body.spec) ? body.spec.podTypes : undefined;
  for (const t of Array.isArray(podTypes) ? podTypes : []) {
    const spec = isObject(t) && isObject(t.podConfig) ? t.podConfig.spec : undefined;
    if (!isObject(spec)) continue;
    spec.nodeSelector = { ...(isObject(spec.nodeSelector) ? spec.nodeSelector : {}), ...KWOK_PLACEMENT.nodeSelector };
    spec.tolerations = [...(Array.isArray(spec.tolerations) ? spec.tolerations : []), ...KWOK_PLACEMENT.tolerations];
  }
  return body;
}

/** The pods a stored RayCluster asks for: one head, and minWorkers of each type that has workers. */
function expectedPods(rc: RayCluster): Map<string, number> | undefined {
  try {
    const spec = withDefaults(rc.spec);
    const out = new Map([[`head/${spec.headPodType}`, 1]]);
    for (const t of workerTypes(spec)) if (t.minWorkers > 0) out.set(`worker/${t.name}`, t.minWorkers);
    return out;
  } catch {
    return undefined;
  }
}

function podsMatch(expected: Map<string, number>, pods: PodLite[]): boolean {
  const have = new Map<string, number>();
  for (const p of pods) have.set(`${p.kind}/${p.type}`, (have.get(`${p.kind}/${p.type}`) ?? 0) + 1);
  return have.size === expected.size && [...expected].every(([k, n]) => have.get(k) === n);
}

const MUTATING_SAMPLE = /^ray_operator_api_requests_total\{verb="(create|update|patch|delete)"/;

const condition = (rc: RayCluster, type: string) => rc.status?.conditions?.find((x) => x.type === type);

describe("faults: random RayCluster specs against the operator", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let audit: AuditLog;
  let op: OperatorProcess | undefined;
  let rest: KubeRest | undefined;
  let witness: Informer<Stored<Pod>> | undefined;

  before(async function () {
    this.timeout(1_800_000);
    ({ c, audit } = await faultCluster(this));
    ns = uniqueName("f-specs");
    kubeconfig = await operatorNamespace(c, ns);
  });
  const clusters = async () => {
    const list = { group: GROUP, version: VERSION, namespace: ns, plural: PLURAL };
    return ((await c.custom.listNamespacedCustomObject(list)) as { items: RayCluster[] }).items;
  };
  const podList = async () =>
    (await c.core.listNamespacedPod({ namespace: ns, labelSelector: LABELS.clusterName })).items.map(lite);

  after(async () => {
    witness?.stop();
    rest?.close();
    await op?.stop();
    if (c) await deleteNamespace(c, ns);
  });

  it(`refuses, stalls (no pod, path named) or runs each of ${CASES} random RayClusters, then is quiet`, async () => {
    const seed = faultSeed("random specs", 1316);
    const run = new FaultRun("random RayCluster specs (fast-check)", "specs");
    let error: unknown;
    const cases: Case[] = fc
      .sample(brokenClusters(ns), { seed, numRuns: CASES })
      .map((b, i) => ({ name: `rs-${i}`, description: b.description, body: placed(b.cluster, `rs-${i}`) }));
    const findings = new Map<string, string[]>();
    const tally = (v: Verdict) => cases.filter((k) => k.verdict === v).length;
    const tallies = () => `${tally("refused")} refused, ${tally("stalled")} Stalled, ${tally("running")} running`;
    const finding = (what: string, k: Case, detail: string) =>
      findings.set(what, [...(findings.get(what) ?? []), `${k.name} (${k.description}): ${detail}`]);
    try {
      // Every pod ever created in the namespace, by cluster, seen by a watch of our own.
      rest = await KubeRest.create(await connectionOf(c.kc));
      witness = new Informer<Stored<Pod>>(rest, {
        name: "witness",
        path: `/api/v1/namespaces/${ns}/pods`,
        labelSelector: LABELS.clusterName,
        log: createLogger("error"),
      });
      const everCreated = new Map<string, Set<string>>();
      witness.on({
        add: (p) => {
          const cluster = p.metadata.labels?.[LABELS.clusterName] ?? "";
          everCreated.set(cluster, (everCreated.get(cluster) ?? new Set()).add(p.metadata.uid ?? ""));
        },
      });
      witness.start();
      await witness.waitForSync();
      const operator = await startOperator(kubeconfig, ns, "op", { RESYNC_SECONDS: String(RESYNC_SECONDS) });
      run.injected = cases.length;
      op = operator;
      run.logs.set("op", () => operator.logs());
      const mark = audit.mark();

      // Applied four at a time, as kubectl applies them: strict field validation.
      const queue = [...cases];
      const apply = async () => {
        for (let k = queue.shift(); k; k = queue.shift()) {
          try {
            const stored = (await c.custom.createNamespacedCustomObject({
              group: GROUP,
              version: VERSION,
              namespace: ns,
              plural: PLURAL,
              body: k.body,
              fieldValidation: "Strict",
            })) as RayCluster;
            k.stored = stored as unknown as JsonObject;
            k.expected = expectedPods(stored);
          } catch (e) {
            if (statusCode(e) !== 400 && statusCode(e) !== 422) throw e;
            k.verdict = "refused";
            k.message = errorText(e);
          }
        }
      };
      await Promise.all([apply(), apply(), apply(), apply()]);
      const applied = Date.now();
      const accepted = cases.filter((k) => k.verdict === undefined);

      // Verdicts: Stalled for the current generation, or the pods asked for and not Stalled.
      const undecided = () => accepted.filter((k) => !k.verdict);
      await eventually(
        "a verdict for every accepted RayCluster",
        async () => {
          const byName = new Map((await clusters()).map((rc) => [rc.metadata.name!, rc]));
          const pods = await podList();
          for (const k of undecided()) {
            const rc = byName.get(k.name);
            if (!rc || rc.status?.observedGeneration !== rc.metadata.generation) continue;
            const stalled = condition(rc, "Stalled");
            const mine = pods.filter((p) => p.cluster === k.name);
            if (stalled?.status === "True") {
              k.verdict = "stalled";
              k.message = stalled.message;
            } else if (k.expected && !mine.some((p) => p.terminating) && podsMatch(k.expected, mine)) {
              k.verdict = "running";
              k.pods = mine;
            }
          }
          return undecided().length === 0;
        },
        600_000,
        1000,
      ).catch((e: Error) => {
        for (const k of undecided()) finding("no verdict", k, "neither Stalled nor running as its spec asks");
        run.check(false, e.message);
      });
      run.convergeMs = undecided().length ? undefined : Date.now() - applied;

      // Quiet: every cluster reconciled QUIET_PASSES more times, and not one write.
      const before = await operator.metrics();
      const logLines = operator.logs().split("\n").length;
      const reconciles = (m: Map<string, number>) => metric(m, "ray_operator_reconcile_total");
      const target = reconciles(before) + QUIET_PASSES * accepted.length;
      const quietFrom = Date.now();
      await eventually(
        `${QUIET_PASSES} more reconciles of every cluster`,
        async () => {
          return reconciles(await operator.metrics()) >= target;
        },
        (QUIET_PASSES + 2) * RESYNC_SECONDS * 1000 + 120_000,
        1000,
      );
      const after = await operator.metrics();
      const writes = mutatingRequests(after) - mutatingRequests(before);
      const written = [...after]
        .filter(([k, v]) => MUTATING_SAMPLE.test(k) && v !== (before.get(k) ?? 0))
        .map(([k, v]) => `${k.replace("ray_operator_api_requests_total", "")} +${v - (before.get(k) ?? 0)}`);
      const quietFor = ((Date.now() - quietFrom) / 1000).toFixed(0);
      run.check(!writes, `${writes} writes in ${quietFor} s of resyncs: ${written.join(", ")}`);
      const said = operator
        .logs()
        .split("\n")
        .slice(logLines - 1)
        .filter(Boolean);
      run.check(!said.length, `${said.length} log lines while quiet, e.g. ${said.slice(0, 3).join(" | ")}`);
      run.check(operator.running(), "the operator exited");
      const failed = (m: Map<string, number>) => metric(m, "ray_operator_reconcile_errors_total");
      const errors = failed(after) - failed(before);
      run.check(!errors, `${errors} reconciles failed while quiet`);

      // Each verdict, judged.
      const now = await podList();
      for (const k of cases) {
        if (k.verdict === "refused" || k.verdict === "stalled") {
          const paths = pathsNamedIn(k.message ?? "");
          if (!paths.some((p) => pathInside(k.body, p) || (k.stored !== undefined && pathInside(k.stored, p))))
            finding(`${k.verdict} without naming a path inside the RayCluster`, k, k.message ?? "(no message)");
        }
        if (k.verdict === "stalled") {
          const created = everCreated.get(k.name)?.size ?? 0;
          run.duplicates += created;
          if (created) finding("Stalled after creating pods", k, `${created} pods created`);
        }
        if (k.verdict === "running") {
          const left = now.filter((p) => p.cluster === k.name && !p.terminating);
          const gone = (k.pods ?? []).filter((p) => !left.some((q) => q.uid === p.uid));
          run.replacedWhileStable += gone.length;
          if (gone.length) finding("pods replaced after running as asked", k, gone.map((p) => p.name).join(", "));
          const extra = Math.max(0, (everCreated.get(k.name)?.size ?? 0) - (k.pods?.length ?? 0));
          run.duplicates += extra;
          if (extra) finding("pods created beyond its spec", k, `${extra} more`);
        }
      }
      for (const [what, which] of findings)
        run.check(false, `${which.length} × ${what}; e.g. ${which.slice(0, 3).join(" || ")}`);

      // Three counts of the same creates: the operator's, the API server's, and our watch's.
      const created = podWrites(audit.operatorRequests(mark, ns)).creates;
      const counted = metric(after, "ray_operator_pod_actions_total", { action: "create" });
      const watched = [...everCreated.values()].reduce((n, s) => n + s.size, 0);
      const agree = created === counted && counted === watched;
      run.check(agree, `pod creates: audit ${created}, operator ${counted}, watch ${watched}`);
      console.error(`      [faults] ${tallies()}`);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, `${tallies()}; seed ${seed}`);
    }
    run.assertPassed();
  });
});
