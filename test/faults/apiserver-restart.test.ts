// Fault 2 of issue 13: kube-apiserver SIGKILLed and started again on the same etcd, in the middle of
// the operator's pod creates (a scale-up) and of its deletes (a scale-down to zero), beside a stable
// cluster. Each kill lands in both at once where it can: round r grows grow-r while grow-(r-1)
// shrinks, so ROUNDS + 1 kills hit ROUNDS scale-ups and ROUNDS scale-downs. The operator's watches
// break, requests in flight get no answer (some were carried out, some not): none of it may cost a
// duplicate, a double delete, a pod deleted that was not surplus, or a stable pod.
//
// The witness is etcd's history, not the audit log: a request in flight when the API server dies
// may have been stored, and even answered 201, without its audit line ever being written (the
// answer goes out before the ResponseComplete event is logged). etcd has every pod stored in the
// window once under its name, with the revisions of its create and removal; counted against it per
// cluster, and against the revision at which each cluster was told to shrink, no pod is unaccounted.
import { testControlPlane } from "../support/cluster";
import { restartProcess } from "../../scripts/cluster/control-plane";
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, deleteNamespace, eventually, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { AuditLog, isMutating, podWrites, replicaOf } from "../helpers/faults-audit";
import { accountPods, ClusterPlan, etcdRevision, podHistory } from "../helpers/faults-etcd";
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
  setWorkers,
  startOperator,
  Want,
} from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const ROUNDS = 2;
const GROW = 40;
// Ten requests a second: a 40-pod scale-up or scale-down takes seconds, long enough to land in.
const PACED = { KUBE_API_QPS: "10", KUBE_API_BURST: "10" };

describe("faults: kube-apiserver killed and restarted on the same etcd", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let audit: AuditLog;
  let op: OperatorProcess | undefined;

  before(async function () {
    this.timeout(1_800_000);
    ({ c, audit } = await faultCluster(this));
    ns = uniqueName("f-apiserver");
    kubeconfig = await operatorNamespace(c, ns);
  });
  after(async () => {
    await op?.stop();
    if (c) await deleteNamespace(c, ns);
  });

  it(`mid-creates and mid-deletes (${ROUNDS + 1} kills): every pod once, nothing else deleted`, async () => {
    const controlPlane = testControlPlane()!;
    const seed = faultSeed("kube-apiserver restarts", 1302);
    const random = rng(seed);
    const run = new FaultRun("kube-apiserver killed mid-creates and mid-deletes", "restarts");
    let error: unknown;
    let unlogged = 0;
    let headless = 0;
    let inCreates = 0;
    let inDeletes = 0;
    try {
      op = await startOperator(kubeconfig, ns, "op", PACED);
      const operator = op;
      run.logs.set("op", () => operator.logs());
      const want: Want = { stable: 2 };
      await rayClusters(c, ns).create(kwokCluster(ns, "stable", 2));
      const ready = await converge(c, ns, want, 120_000);
      if (ready.ms === undefined) throw new Error(`the stable cluster never settled: ${ready.stuck}`);
      const stableBefore = (await podsIn(c, ns)).filter((p) => !p.terminating);
      const mark = audit.mark();
      const from = await etcdRevision(controlPlane.etcdUrl);
      const counters = await operator.metrics();
      const plan: Record<string, ClusterPlan> = { stable: { creates: 0, workers: 2 } };
      const workersOf = async (name: string) =>
        (await podsIn(c, ns)).filter((p) => p.cluster === name && p.kind === "worker" && !p.terminating);

      for (let r = 0; r <= ROUNDS; r++) {
        const grow = r < ROUNDS ? `grow-${r}` : undefined;
        const shrink = r > 0 ? `grow-${r - 1}` : undefined;
        if (shrink) {
          want[shrink] = 0;
          plan[shrink].shrinkAt = await etcdRevision(controlPlane.etcdUrl);
          await setWorkers(c, ns, shrink, 0);
        }
        if (grow) {
          want[grow] = GROW;
          plan[grow] = { creates: GROW + 1, workers: GROW };
          await rayClusters(c, ns).create(kwokCluster(ns, grow, GROW));
        }
        // Kill once the scale-up has made `at` workers or the scale-down removed `at`, whichever is
        // first: both run at once, sharing the rate limit, so each is then mid-way.
        const at = random.int(3, GROW / 2);
        const before = await eventually(
          `round ${r} under way`,
          async () => {
            const grown = grow ? await workersOf(grow) : [];
            const left = shrink ? await workersOf(shrink) : [];
            const under = (grow && grown.length >= at) || (shrink && GROW - left.length >= at);
            return under ? { grown, left } : undefined;
          },
          120_000,
          100,
        );
        await restartProcess(controlPlane, "kube-apiserver", random.int(0, 1500));
        run.injected++;
        if (grow && before.grown.length < GROW) inCreates++;
        if (shrink && before.left.length > 0) inDeletes++;
        const done = await converge(c, ns, want, 300_000);
        run.convergeMs = done.ms;
        if (done.ms === undefined) throw new Error(`never converged after kill ${r + 1}: ${done.stuck}`);
        if (grow) {
          const lost = missing(before.grown, await workersOf(grow));
          run.podsLost += lost.length;
          run.check(!lost.length, `${grow}: workers created before the kill are gone: ${lost.map((p) => p.name)}`);
        }
      }
      run.check(inCreates === ROUNDS, `${inCreates} of ${ROUNDS} kills landed mid-creates`);
      run.check(inDeletes === ROUNDS, `${inDeletes} of ${ROUNDS} kills landed mid-deletes`);

      const end = (await podsIn(c, ns)).filter((p) => !p.terminating);
      const replaced = missing(stableBefore, end);
      run.replacedWhileStable = replaced.length;
      run.check(!replaced.length, `stable pods replaced: ${replaced.map((p) => p.name).join(", ")}`);

      const history = await podHistory(c, controlPlane.etcdUrl, ns, from);
      const account = accountPods(history, plan);
      run.duplicates = account.duplicates;
      run.podsLost += account.lost.length;
      headless = account.headless.length;
      const show = (names: string[]) => names.join(", ");
      run.check(
        !account.duplicates,
        `${account.duplicates} pods stored beyond the specs (etcd); ` +
          `removed again before any scale-down: ${show(account.surplusRemoved)}`,
      );
      run.check(!account.lost.length, `pods removed that nothing asked to remove (etcd): ${show(account.lost)}`);
      run.check(
        account.shrunk.length === ROUNDS * GROW,
        `etcd removed ${account.shrunk.length} workers in the scale-downs, of ${ROUNDS * GROW}`,
      );
      const twiceStored = [...history.createsByName].filter(([, n]) => n > 1).map(([name]) => name);
      run.check(!twiceStored.length, `names stored twice: ${show(twiceStored)}`);

      // The audit log may miss a request cut off by a kill, never invent one: no pod the history
      // lacks, no more creates than were stored, and no pod deleted twice.
      const events = audit.operatorRequests(mark, ns);
      const writes = podWrites(events);
      const stored = new Set(history.lives.map((l) => l.name));
      const unknown = [...writes.deleted.keys()].filter((n) => !stored.has(n));
      run.check(!unknown.length, `the audit log has deletes of pods etcd never stored: ${show(unknown)}`);
      const twice = [...writes.deleted].filter(([, n]) => n > 1).map(([name]) => name);
      run.check(!twice.length, `pods deleted twice: ${show(twice)}`);
      const storedCount = history.lives.length;
      run.check(writes.creates <= storedCount, `${writes.creates} pod creates logged, ${storedCount} stored`);
      unlogged = storedCount - writes.creates;
      const anonymous = events.filter((e) => isMutating(e) && !replicaOf(e));
      run.check(!anonymous.length, `${anonymous.length} writes without a ray-operator/<POD_NAME> userAgent`);
      const removed = history.lives.filter((l) => l.deletedAt !== undefined).length;
      const took = { creates: storedCount, deletes: removed };
      for (const f of countersAgree(counters, await operator.metrics(), took, "etcd")) run.check(false, f);
      run.check(operator.running(), "the operator exited");
    } catch (e) {
      error = e;
      throw e;
    } finally {
      const unloggedText = `${unlogged} stored creates not in the audit log, ${headless} headless workers undone`;
      const detail = `${inCreates} in creates, ${inDeletes} in deletes; ${unloggedText}; seed ${seed}`;
      run.record(error, detail);
    }
    run.assertPassed();
  });
});
