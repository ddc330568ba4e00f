// Fault 5 of issue 13: another writer fighting the operator while it scales a cluster up. One writes
// the RayCluster's status and metadata as another controller or a user's script would (read, modify,
// write back with the resourceVersion read, sometimes a copy read a while ago), so that every write
// that crosses one of the operator's is refused with 409 Conflict; the other deletes running workers
// by hand. The operator must end with the cluster Ready, each deleted worker replaced exactly once,
// and nothing else touched.
import { OperatorProcess } from "../../scripts/operator-process";
import { Condition, GROUP, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { Clients, deleteNamespace, sleep, statusCode, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { AuditLog, isMutating, podWrites, replicaOf } from "../helpers/faults-audit";
import {
  converge,
  countersAgree,
  faultCluster,
  FaultRun,
  faultSeed,
  kwokCluster,
  metric,
  missing,
  PodLite,
  podsIn,
  rng,
  Rng,
  startOperator,
  Want,
} from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const GROW = 60;
const HAND_DELETES = 15;
const PACED = { KUBE_API_QPS: "10", KUBE_API_BURST: "10" };
/** The condition the other writer keeps in status, as a second controller would. */
const FOREIGN = "example.com/Audited";

describe("faults: another writer fighting the operator", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let audit: AuditLog;
  let ns: string | undefined;
  let op: OperatorProcess | undefined;

  before(async function () {
    this.timeout(1_800_000);
    ({ c, audit } = await faultCluster(this));
  });
  afterEach(async () => {
    await op?.stop();
    op = undefined;
    if (c && ns) await deleteNamespace(c, ns);
    ns = undefined;
  });

  interface Scene {
    namespace: string;
    operator: OperatorProcess;
    want: Want;
    stableBefore: PodLite[];
    mark: number;
    counters: Map<string, number>;
  }

  /** A namespace, the operator, a stable cluster; then `fight` while `fought` scales up to GROW workers. */
  async function scene(run: FaultRun): Promise<Scene> {
    ns = uniqueName("f-writer");
    const namespace = ns;
    const kubeconfig = await operatorNamespace(c, namespace);
    const operator = await startOperator(kubeconfig, namespace, "op", PACED);
    op = operator;
    run.logs.set("op", () => operator.logs());
    const want: Want = { stable: 2 };
    await rayClusters(c, namespace).create(kwokCluster(namespace, "stable", 2));
    const ready = await converge(c, namespace, want, 120_000);
    if (ready.ms === undefined) throw new Error(`the stable cluster never settled: ${ready.stuck}`);
    const stableBefore = (await podsIn(c, namespace)).filter((p) => !p.terminating);
    return { namespace, operator, want, stableBefore, mark: audit.mark(), counters: await operator.metrics() };
  }

  /** The checks every run ends with; `created` is how many pods the operator had to create. */
  async function finish(run: FaultRun, s: Scene, created: number, handDeleted: Set<string>): Promise<void> {
    const done = await converge(c, s.namespace, s.want, 300_000);
    run.convergeMs = done.ms;
    run.check(done.ms !== undefined, `never converged: ${done.stuck}`);
    const end = (await podsIn(c, s.namespace)).filter((p) => !p.terminating);
    const replaced = missing(s.stableBefore, end);
    run.replacedWhileStable = replaced.length;
    run.check(!replaced.length, `stable pods replaced: ${replaced.map((p) => p.name).join(", ")}`);
    const events = audit.operatorRequests(s.mark, s.namespace);
    const writes = podWrites(events);
    run.podsLost += writes.deleted.size;
    run.check(!writes.deletes, `the operator deleted pods: ${[...writes.deleted.keys()].join(", ")}`);
    run.duplicates = Math.max(0, writes.creates - created);
    run.check(writes.creates === created, `the audit log has ${writes.creates} pod creates for ${created} needed`);
    const anonymous = events.filter((e) => isMutating(e) && !replicaOf(e));
    run.check(!anonymous.length, `${anonymous.length} writes without a ray-operator/<POD_NAME> userAgent`);
    for (const f of countersAgree(s.counters, await s.operator.metrics(), writes)) run.check(false, f);
    run.check(s.operator.running(), "the operator exited");
    run.check(![...handDeleted].some((uid) => end.some((p) => p.uid === uid)), "a pod deleted by hand is back");
  }

  const rcPath = (namespace: string, name: string) => ({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  });

  /** One write of the other writer; resolves with whether the API server refused it with 409. */
  async function writeAsOther(
    namespace: string,
    random: Rng,
    fresh: RayCluster,
    held: RayCluster | undefined,
    n: number,
  ): Promise<boolean> {
    const kind = random.int(0, 2);
    const body = structuredClone(kind === 2 && held ? held : fresh);
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const path = rcPath(namespace, body.metadata.name!);
    try {
      if (kind === 1) {
        body.metadata.annotations = { ...(body.metadata.annotations ?? {}), "example.com/audited": String(n) };
        await c.custom.replaceNamespacedCustomObject({ ...path, body });
      } else {
        const status = body.status ?? {};
        const others = (status.conditions ?? []).filter((x) => x.type !== FOREIGN);
        const mine: Condition = {
          type: FOREIGN,
          status: "True",
          reason: "Audit",
          message: `audit ${n}`,
          lastTransitionTime: now,
        };
        body.status = { ...status, conditions: [...others, mine] };
        await c.custom.replaceNamespacedCustomObjectStatus({ ...path, body });
      }
      return false;
    } catch (e) {
      if (statusCode(e) === 409) return true;
      throw e;
    }
  }

  it(`keeps scaling to ${GROW} while another writer updates its status and metadata (409s)`, async () => {
    const seed = faultSeed("status and metadata writer", 1305);
    const random = rng(seed);
    const run = new FaultRun("another writer on status and metadata (409s)", "writes");
    let error: unknown;
    let conflicts = 0;
    let operatorConflicts = 0;
    try {
      const s = await scene(run);
      s.want.fought = GROW;
      await rayClusters(c, s.namespace).create(kwokCluster(s.namespace, "fought", GROW));
      // Fight until the scale-up has finished, and at least 100 times.
      let held: RayCluster | undefined;
      for (let n = 0; ; n++) {
        const fresh = (await rayClusters(c, s.namespace).get("fought")) as RayCluster;
        if ((n >= 100 && (fresh.status?.workers?.ready ?? 0) >= GROW) || n >= 3000) break;
        if (await writeAsOther(s.namespace, random, fresh, held, n)) conflicts++;
        else run.injected++;
        held = fresh;
        await sleep(random.int(10, 100));
      }
      const samples = await s.operator.metrics();
      operatorConflicts = metric(samples, "ray_operator_api_requests_total", { code: "409" });
      await finish(run, s, GROW + 1, new Set());
    } catch (e) {
      error = e;
      throw e;
    } finally {
      const detail = `${conflicts} refused 409 to it, ${operatorConflicts} 409s to the operator; seed ${seed}`;
      run.record(error, detail);
    }
    run.assertPassed();
  });

  it(`replaces each of ${HAND_DELETES} workers deleted by hand during a scale-up to ${GROW}, once`, async () => {
    const seed = faultSeed("workers deleted by hand", 1315);
    const random = rng(seed);
    const run = new FaultRun("workers deleted by hand while it scales", "deletes");
    let error: unknown;
    try {
      const s = await scene(run);
      s.want.fought = GROW;
      await rayClusters(c, s.namespace).create(kwokCluster(s.namespace, "fought", GROW));
      const deleted = new Set<string>();
      const seen = new Map<string, PodLite>();
      while (deleted.size < HAND_DELETES) {
        await sleep(random.int(200, 1000));
        const workers = (await podsIn(c, s.namespace)).filter(
          (p) => p.cluster === "fought" && p.kind === "worker" && !p.terminating && !deleted.has(p.uid),
        );
        for (const p of workers) seen.set(p.uid, p);
        if (!workers.length) continue;
        const victim = random.pick(workers);
        await c.core.deleteNamespacedPod({ namespace: s.namespace, name: victim.name });
        deleted.add(victim.uid);
        run.injected++;
      }
      await finish(run, s, GROW + 1 + HAND_DELETES, deleted);
      const end = (await podsIn(c, s.namespace)).filter((p) => !p.terminating);
      const lost = missing(
        [...seen.values()].filter((p) => !deleted.has(p.uid)),
        end,
      );
      run.podsLost += lost.length;
      run.check(!lost.length, `workers nobody deleted are gone: ${lost.map((p) => p.name).join(", ")}`);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, `seed ${seed}`);
    }
    run.assertPassed();
  });
});
