// Fault 3 of issue 13: etcd SIGKILLed and started again on its data in the middle of scale-ups; and
// the operator's watches forced to 410 Gone by a compaction. A compacted revision is only noticed by
// the API server's watch cache when its own watch on etcd resumes, so each round writes once more
// (the compaction's revision is then past every cached object), compacts, and restarts etcd: the
// watch cache lists again, drops its watchers, and an operator watch that comes back from its last
// resourceVersion is told 410 "too old". The operator logs each at debug level; it must relist and
// act on nothing stale.
import { testControlPlane } from "../support/cluster";
import { compactEtcd, restartProcess } from "../../scripts/cluster/control-plane";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { AuditLog, isMutating, podWrites, replicaOf } from "../helpers/faults-audit";
import { clusterOfPod, etcdRevision, podHistory } from "../helpers/faults-etcd";
import {
  converge,
  countersAgree,
  faultCluster,
  FaultRun,
  faultSeed,
  kwokCluster,
  missing,
  podsIn,
  rng,
  startOperator,
  Want,
} from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const ROUNDS = 2;
const GROW = 40;
const PACED = { KUBE_API_QPS: "10", KUBE_API_BURST: "10" };
/**
 * The operator's word for a watch told 410 Gone: as an ERROR event in the stream (logged at debug),
 * or as the answer to the watch request itself.
 */
const GONE = /informer (\w+): (?:resourceVersion too old, relisting|watch \S+: HTTP 410)/g;
/** Attempts per round to get a 410 out of the compaction (the watch cache may answer 429 meanwhile). */
const ATTEMPTS = 5;

describe("faults: etcd restarted, and watches forced to 410 by compaction", function () {
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

  /**
   * ROUNDS scale-ups of GROW workers beside a stable cluster, `inject` in the middle of each; then the
   * checks every fault run ends with. Returns the operator's log.
   */
  async function scaleUpsThrough(
    run: FaultRun,
    seed: number,
    /** Injects the fault; resolves with how many times it did. */
    inject: (round: number) => Promise<number>,
    env: Record<string, string> = {},
    /**
     * Also count against etcd's history (faults-etcd.ts): pods stored in the window, whatever the
     * API server answered (a create may be stored and still answered 500 when etcd dies under it).
     * Not after a compaction, which removes that history.
     */
    history = false,
  ): Promise<string> {
    const random = rng(seed);
    ns = uniqueName("f-etcd");
    const namespace = ns;
    const kubeconfig = await operatorNamespace(c, namespace);
    const operator = await startOperator(kubeconfig, namespace, "op", { ...PACED, ...env });
    op = operator;
    run.logs.set("op", () => operator.logs());
    const want: Want = { stable: 2 };
    await rayClusters(c, namespace).create(kwokCluster(namespace, "stable", 2));
    const ready = await converge(c, namespace, want, 120_000);
    if (ready.ms === undefined) throw new Error(`the stable cluster never settled: ${ready.stuck}`);
    const stableBefore = (await podsIn(c, namespace)).filter((p) => !p.terminating);
    const mark = audit.mark();
    const from = await etcdRevision(testControlPlane()!.etcdUrl);
    const counters = await operator.metrics();
    for (let r = 0; r < ROUNDS; r++) {
      const name = `grow-${r}`;
      want[name] = GROW;
      await rayClusters(c, namespace).create(kwokCluster(namespace, name, GROW));
      const at = random.int(3, GROW - 15);
      const before = await eventually(
        `${at} of ${name}'s workers`,
        async () => {
          const ws = (await podsIn(c, namespace)).filter((p) => p.cluster === name && p.kind === "worker");
          return ws.length >= at ? ws : undefined;
        },
        120_000,
        100,
      );
      run.check(before.length < GROW, `${name}: all workers existed before the fault; it landed after the creates`);
      run.injected += await inject(r);
      const done = await converge(c, namespace, want, 300_000);
      run.convergeMs = done.ms;
      if (done.ms === undefined) throw new Error(`never converged after fault ${r + 1}: ${done.stuck}`);
      const lost = missing(
        before,
        (await podsIn(c, namespace)).filter((p) => !p.terminating),
      );
      run.podsLost += lost.length;
      run.check(!lost.length, `${name}: workers created before the fault are gone: ${lost.map((p) => p.name)}`);
    }
    const end = (await podsIn(c, namespace)).filter((p) => !p.terminating);
    const replaced = missing(stableBefore, end);
    run.replacedWhileStable = replaced.length;
    run.check(!replaced.length, `stable pods replaced: ${replaced.map((p) => p.name).join(", ")}`);
    const events = audit.operatorRequests(mark, namespace);
    const writes = podWrites(events);
    run.podsLost += writes.deleted.size;
    run.check(!writes.deletes, `the operator deleted pods: ${[...writes.deleted.keys()].join(", ")}`);
    const wanted = ROUNDS * (GROW + 1);
    run.duplicates = Math.max(0, writes.creates - wanted);
    run.check(writes.creates <= wanted, `the audit log has ${writes.creates} pod creates for ${wanted} pods`);
    const anonymous = events.filter((e) => isMutating(e) && !replicaOf(e));
    run.check(!anonymous.length, `${anonymous.length} writes without a ray-operator/<POD_NAME> userAgent`);
    const samples = await operator.metrics();
    for (const f of countersAgree(counters, samples, writes)) run.check(false, f);
    if (history) {
      const stored = await podHistory(c, testControlPlane()!.etcdUrl, namespace, from);
      const removed = stored.lives.filter((l) => l.deletedAt !== undefined).map((l) => l.name);
      run.podsLost += removed.length;
      run.check(!removed.length, `etcd has pods removed: ${removed.join(", ")}`);
      let extra = 0;
      for (const [cluster, n] of Object.entries(want)) {
        const created = stored.lives.filter((l) => clusterOfPod(l.name) === cluster).length;
        const needed = cluster === "stable" ? 0 : n + 1;
        extra += Math.max(0, created - needed);
        run.check(created === needed, `etcd stored ${created} pods of ${cluster}, which needed ${needed}`);
      }
      // The audit log's count is a lower bound of the same thing: keep the larger.
      run.duplicates = Math.max(run.duplicates, extra);
      const took = { creates: stored.lives.length, deletes: removed.length };
      for (const f of countersAgree(counters, samples, took, "etcd")) run.check(false, f);
    }
    run.check(operator.running(), "the operator exited");
    return operator.logs();
  }

  it(`etcd SIGKILLed and restarted in ${ROUNDS} scale-ups: every pod once, nothing lost`, async () => {
    const controlPlane = testControlPlane()!;
    const seed = faultSeed("etcd restarts", 1303);
    const downs = rng(seed + 1);
    const run = new FaultRun("etcd killed and restarted mid-scale-up", "restarts");
    let error: unknown;
    try {
      await scaleUpsThrough(
        run,
        seed,
        async () => {
          await restartProcess(controlPlane, "etcd", downs.int(1000, 5000));
          return 1;
        },
        {},
        true,
      );
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, `down 1-5 s each; seed ${seed}`);
    }
    run.assertPassed();
  });

  it(`watches forced to 410 by compaction in ${ROUNDS} scale-ups: relists, acts on nothing stale`, async () => {
    const controlPlane = testControlPlane()!;
    const seed = faultSeed("410 by compaction", 1313);
    const run = new FaultRun("watches forced to 410 by etcd compaction mid-scale-up", "compactions");
    const downs = rng(seed + 1);
    let error: unknown;
    let gone = 0;
    try {
      let counted = 0;
      const log = await scaleUpsThrough(
        run,
        seed,
        async (round) => {
          for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
            // One more write, so the compacted revision is past everything the watch caches hold.
            const bump = `bump-${round}-${attempt}`;
            await c.core.createNamespacedConfigMap({ namespace: ns!, body: { metadata: { name: bump } } });
            await compactEtcd(controlPlane);
            await restartProcess(controlPlane, "etcd", downs.int(0, 2000));
            // The 410 comes once the watch cache has listed again; a watch that came back while it
            // was listing is answered 429 instead, and relists without a 410: then compact again.
            const told = await eventually(
              "a watch of the operator told 410",
              async () => {
                const now = [...(op?.logs() ?? "").matchAll(GONE)].length;
                if (now <= counted) return false;
                counted = now;
                return true;
              },
              20_000,
              200,
            ).catch(() => false);
            if (told) return attempt;
          }
          throw new Error(`${ATTEMPTS} compactions in round ${round + 1}, and no watch of the operator was told 410`);
        },
        { LOG_LEVEL: "debug" },
      );
      const relists = [...log.matchAll(GONE)].map((m) => m[1]);
      gone = relists.length;
      console.error(`      [faults] watches told 410 and relisted: ${relists.join(", ")}`);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, `${gone} watches told 410; seed ${seed}`);
    }
    run.assertPassed();
  });
});
