// Fault 1 of issue 13: the operator SIGKILLed at random moments of a 300-worker scale-up across 10
// RayClusters, at least 20 times, beside two clusters that are already stable. Each life of the
// operator is a process of its own (`op-<n>`, its userAgent in the audit log). A moment is chosen by
// progress, not by the clock (a loaded machine would move every moment): the kill comes once the
// life has created a seeded number of pods, 0 to 8 (0: a random instant after its caches synced,
// amid its dry runs and status writes), with more in flight. Then one operator at full speed
// finishes the job. Nothing may be duplicated, lost or replaced.
import { OperatorProcess } from "../../scripts/operator-process";
import { Clients, deleteNamespace, eventually, sleep, uniqueName } from "../helpers/kube";
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
  metric,
  missing,
  PodLite,
  podsIn,
  rng,
  startOperator,
  Want,
} from "../helpers/faults";
import { reportFaultsAfterAll } from "../helpers/faults-report";

reportFaultsAfterAll();

const CLUSTERS = 10;
const WORKERS = 30;
const KILLS = 20;
/** The most pods a life creates before its kill: 20 lives cannot create 330 pods, so every kill lands mid-way. */
const MOST_PER_LIFE = 8;
// Twenty requests a second: a life's creates go out a few at a time, so a kill finds some in flight.
const PACED = { KUBE_API_QPS: "20", KUBE_API_BURST: "20" };

describe("faults: the operator SIGKILLed during a 300-worker scale-up", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let audit: AuditLog;
  let etcdUrl: string;
  const operators: OperatorProcess[] = [];

  before(async function () {
    this.timeout(1_800_000); // a cold machine builds the binaries first
    ({ c, audit, etcdUrl } = await faultCluster(this));
    ns = uniqueName("f-kill");
    kubeconfig = await operatorNamespace(c, ns);
  });
  after(async () => {
    for (const op of operators) await op.stop();
    if (c) await deleteNamespace(c, ns);
  });

  it(`creates every pod once across ${KILLS}+ kills, and never touches the stable clusters`, async () => {
    const seed = faultSeed("operator kills", 1301);
    const random = rng(seed);
    const run = new FaultRun(`operator SIGKILLed during a ${CLUSTERS * WORKERS}-worker scale-up`, "SIGKILLs");
    let error: unknown;
    let landed = 0;
    let headless = 0;
    let acted = 0;
    try {
      const stable: Want = { "stable-0": 2, "stable-1": 2 };
      const first = await startOperator(kubeconfig, ns, "op-0");
      operators.push(first);
      for (const [name, workers] of Object.entries(stable))
        await rayClusters(c, ns).create(kwokCluster(ns, name, workers));
      const ready = await converge(c, ns, stable, 120_000);
      if (ready.ms === undefined) throw new Error(`the stable clusters never settled: ${ready.stuck}`);
      const stableBefore = (await podsIn(c, ns)).filter((p) => !p.terminating);
      await first.stop();

      const mark = audit.mark();
      const from = await etcdRevision(etcdUrl);
      const want: Want = { ...stable };
      for (let i = 0; i < CLUSTERS; i++) {
        want[`scale-${i}`] = WORKERS;
        await rayClusters(c, ns).create(kwokCluster(ns, `scale-${i}`, WORKERS));
      }
      const scaling = (p: PodLite) => p.cluster.startsWith("scale-") && !p.terminating;
      const seen = new Map<string, PodLite>();
      let before = 0;
      // Kill each life at its moment, until 20 kills have landed with the scale-up unfinished.
      for (let life = 1; landed < KILLS && life <= 3 * KILLS; life++) {
        const op = await startOperator(kubeconfig, ns, `op-${life}`, PACED);
        operators.push(op);
        run.logs.set(`op-${life}`, () => op.logs());
        const creates = random.int(0, MOST_PER_LIFE);
        if (creates === 0) await sleep(random.int(0, 1000));
        else
          await eventually(
            `op-${life} to create ${creates} pods`,
            async () => metric(await op.metrics(), "ray_operator_pod_actions_total", { action: "create" }) >= creates,
            120_000,
            25,
          ).catch((e: Error) => run.check(false, e.message));
        await op.stop("SIGKILL");
        run.injected++;
        const pods = (await podsIn(c, ns)).filter(scaling);
        for (const p of pods) seen.set(p.uid, p);
        if (pods.length < CLUSTERS * (WORKERS + 1)) landed++;
        if (pods.length > before) acted++;
        before = pods.length;
      }
      run.check(landed >= KILLS, `only ${landed} kills landed before the scale-up was done`);
      run.check(acted >= KILLS / 2, `only ${acted} of the killed lives created any pod: the kills tested little`);

      const last = await startOperator(kubeconfig, ns, "op-last");
      operators.push(last);
      run.logs.set("op-last", () => last.logs());
      const done = await converge(c, ns, want, 600_000);
      run.convergeMs = done.ms;
      run.check(done.ms !== undefined, `never converged: ${done.stuck}`);
      const end = (await podsIn(c, ns)).filter((p) => !p.terminating);

      const replaced = missing(stableBefore, end);
      run.replacedWhileStable = replaced.length;
      run.check(!replaced.length, `stable pods replaced: ${replaced.map((p) => p.name).join(", ")}`);

      // etcd's history is the witness of what was stored: a create in flight when its operator was
      // killed can be stored while the API server logs it as failed (its client went away).
      const history = await podHistory(c, etcdUrl, ns, from);
      const plan: Record<string, ClusterPlan> = {};
      for (const name of Object.keys(want))
        plan[name] = { creates: name.startsWith("scale-") ? WORKERS + 1 : 0, workers: want[name] };
      const account = accountPods(history, plan);
      headless = account.headless.length;
      const events = audit.operatorRequests(mark, ns);
      const writes = podWrites(events);
      // A wave whose head was never stored (its life killed between the creates) is undone by design
      // (see accountPods): those workers joined nothing. Every other pod seen must still be there.
      const undone = new Set(account.headless);
      const gone = missing([...seen.values()], end)
        .map((p) => p.name)
        .filter((name) => !undone.has(name));
      run.podsLost = new Set([...gone, ...account.lost]).size;
      run.check(!gone.length, `pods created before a kill and gone at the end: ${gone.join(", ")}`);
      run.check(!account.lost.length, `pods removed that nothing asked to remove (etcd): ${account.lost.join(", ")}`);
      run.duplicates = account.duplicates;
      run.check(
        !account.duplicates,
        `${account.duplicates} pods stored beyond the specs (etcd); removed again: ${account.surplusRemoved}`,
      );
      const deleted = [...writes.deleted.keys()].filter((n) => !undone.has(n));
      run.check(!deleted.length, `the operator deleted pods other than headless ones: ${deleted.join(", ")}`);
      const stored = history.lives.length;
      run.check(writes.creates <= stored, `the audit log has ${writes.creates} pod creates, etcd stored ${stored}`);
      const anonymous = events.filter((e) => isMutating(e) && !replicaOf(e));
      run.check(!anonymous.length, `${anonymous.length} writes without a ray-operator/<POD_NAME> userAgent`);
      const lastWrites = writes.byReplica.get("op-last") ?? { creates: 0, deletes: 0 };
      for (const f of countersAgree(new Map(), await last.metrics(), lastWrites)) run.check(false, `op-last: ${f}`);
      const perLife = [...writes.byReplica].map(([r, w]) => `${r}:${w.creates}`).join(" ");
      console.error(`      [faults] pod creates per life (audit): ${perLife}`);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      const undone = `${headless} headless workers undone`;
      run.record(error, `${landed} mid-scale-up, ${acted} lives created pods, ${undone}; seed ${seed}`);
    }
    run.assertPassed();
  });
});
