// Fault 4 of issue 13: two operator replicas with leader election on, and the API server made
// unreachable for longer than the Lease (kube-apiserver frozen with SIGSTOP) in the middle of
// scale-ups. In every round but the first the leader stays cut off after the API server thaws, until the
// standby has taken the Lease (as a stalled connection would leave it), so that a takeover happens
// whatever the race; the cluster is then scaled further, and the old leader wakes to a watch that
// tells it so before its Lease does. Never two actors: proven from the audit log, where every
// mutating request of the operator's ServiceAccount names its replica (`ray-operator/<POD_NAME>`).
import { testControlPlane } from "../support/cluster";
import { setFrozen } from "../../scripts/cluster/control-plane";
import { OperatorProcess } from "../../scripts/operator-process";
import { LEADER_ELECTION_LEASE } from "../../builders/rbac";
import { Clients, deleteNamespace, eventually, sleep, uniqueName } from "../helpers/kube";
import { operatorNamespace, rayClusters } from "../helpers/operator-env";
import { AuditLog, isMutating, podWrites, replicaOf, twoActors } from "../helpers/faults-audit";
import {
  converge,
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

/**
 * A shorter Lease than the operator's default (15 s, renew deadline 10 s), with client-go's ordering
 * kept (retry < renew deadline < duration): the same protocol, and each freeze, which must outlast
 * the Lease, costs 11 s of the suite instead of 20.
 */
const LEASE_SECONDS = 8;
const LEASE_ENV = {
  LEASE_DURATION_SECONDS: String(LEASE_SECONDS),
  RENEW_DEADLINE_SECONDS: "5",
  RETRY_PERIOD_SECONDS: "1",
};
const FREEZE_MS = (LEASE_SECONDS + 3) * 1000;
const ROUNDS = 3;
const GROW = 40;
/** Workers added while the old leader is still cut off. */
const MORE = 5;
const REPLICAS = ["replica-a", "replica-b"];

describe("faults: the API server unreachable past the Lease, two replicas", function () {
  this.timeout(1_800_000);
  let c: Clients;
  let ns: string;
  let kubeconfig: string;
  let audit: AuditLog;
  const replicas = new Map<string, OperatorProcess>();
  const stopped: OperatorProcess[] = [];

  before(async function () {
    this.timeout(1_800_000);
    ({ c, audit } = await faultCluster(this));
    ns = uniqueName("f-leader");
    kubeconfig = await operatorNamespace(c, ns);
  });
  after(async () => {
    for (const op of [...replicas.values(), ...stopped]) {
      if (op.pid && op.running()) process.kill(op.pid, "SIGCONT");
      await op.stop();
    }
    if (c) await deleteNamespace(c, ns);
  });

  it(`never has two actors across ${ROUNDS} freezes of ${FREEZE_MS / 1000} s mid-scale-up`, async () => {
    const controlPlane = testControlPlane()!;
    const seed = faultSeed("API server frozen past the Lease", 1304);
    const random = rng(seed);
    const run = new FaultRun("API server frozen past the Lease, 2 replicas", "freezes");
    let error: unknown;
    let exits = 0;
    let takeovers = 0;
    const holder = async () =>
      (await c.coordination.readNamespacedLease({ namespace: ns, name: LEADER_ELECTION_LEASE })).spec?.holderIdentity;
    // A replica that exits (it lost the Lease) comes back under the same name, as the kubelet
    // restarts a container in its pod.
    let lives = 0;
    const start = async (name: string) => {
      const op = await startOperator(kubeconfig, ns, name, { LEADER_ELECT: "true", KUBE_API_QPS: "10", ...LEASE_ENV });
      replicas.set(name, op);
      run.logs.set(`${name}-life-${++lives}`, () => op.logs());
    };
    const restartExited = async () => {
      for (const [name, op] of replicas)
        if (!op.running()) {
          exits++;
          stopped.push(op);
          await start(name);
        }
    };
    try {
      for (const name of REPLICAS) await start(name);
      const want: Want = { stable: 2 };
      await rayClusters(c, ns).create(kwokCluster(ns, "stable", 2));
      const ready = await converge(c, ns, want, 120_000);
      if (ready.ms === undefined) throw new Error(`the stable cluster never settled: ${ready.stuck}`);
      const stableBefore = (await podsIn(c, ns)).filter((p) => !p.terminating);
      const first = await holder();
      if (!first) throw new Error("no replica holds the Lease");
      const mark = audit.mark();

      for (let r = 0; r < ROUNDS; r++) {
        const name = `grow-${r}`;
        want[name] = GROW;
        await rayClusters(c, ns).create(kwokCluster(ns, name, GROW));
        const at = random.int(3, 20);
        await eventually(
          `${at} of ${name}'s workers`,
          async () => {
            const ws = (await podsIn(c, ns)).filter((p) => p.cluster === name && p.kind === "worker");
            return ws.length >= at;
          },
          120_000,
          100,
        );
        const leader = await holder();
        const leaderOp = leader ? replicas.get(leader) : undefined;
        const isolate = r > 0 && leaderOp?.pid !== undefined;
        setFrozen(controlPlane, "kube-apiserver", true);
        if (isolate) process.kill(leaderOp!.pid!, "SIGSTOP");
        run.injected++;
        try {
          await sleep(FREEZE_MS);
        } finally {
          setFrozen(controlPlane, "kube-apiserver", false);
        }
        if (isolate) {
          try {
            await eventually("the standby to take the Lease", async () => (await holder()) !== leader, 60_000, 200);
            // Work for both: the new leader acts on it, and the old one hears of it first thing.
            want[name] = GROW + MORE;
            await setWorkers(c, ns, name, GROW + MORE);
          } finally {
            process.kill(leaderOp!.pid!, "SIGCONT");
          }
        }
        const done = await converge(c, ns, want, 300_000, restartExited);
        run.convergeMs = done.ms;
        if (done.ms === undefined) throw new Error(`never converged after freeze ${r + 1}: ${done.stuck}`);
      }
      const settled = await converge(c, ns, want, 300_000, restartExited);
      run.check(settled.ms !== undefined, `not settled at the end: ${settled.stuck}`);

      const end = (await podsIn(c, ns)).filter((p) => !p.terminating);
      const replaced = missing(stableBefore, end);
      run.replacedWhileStable = replaced.length;
      run.check(!replaced.length, `stable pods replaced: ${replaced.map((p) => p.name).join(", ")}`);

      const events = audit.operatorRequests(mark, ns);
      const strangers = events.filter((e) => isMutating(e) && !REPLICAS.includes(replicaOf(e) ?? ""));
      const stranger = strangers[0]?.userAgent;
      run.check(!strangers.length, `${strangers.length} writes without a replica's userAgent, e.g. ${stranger}`);
      const { tenures, violations } = twoActors(events, LEADER_ELECTION_LEASE, first);
      const shown = violations.slice(0, 8).map((v) => `${v.replica} ${v.request} at ${v.received}: ${v.why}`);
      run.check(!violations.length, `${violations.length} writes by a second actor: ${shown.join("; ")}`);
      console.error(`      [faults] Lease tenures: ${tenures.map((t) => t.replica).join(" -> ")}`);
      takeovers = tenures.length - 1;

      const writes = podWrites(events);
      const twice = [...writes.deleted].filter(([, n]) => n > 1).map(([pod]) => pod);
      run.podsLost = writes.deleted.size;
      run.check(!writes.deletes, `pods deleted: ${[...writes.deleted.keys()].join(", ")}`);
      run.check(!twice.length, `pods deleted twice: ${twice.join(", ")}`);
      const wanted = Object.entries(want).reduce((n, [name, workers]) => n + (name === "stable" ? 0 : workers + 1), 0);
      run.duplicates = Math.max(0, writes.creates - wanted);
      const perReplica = [...writes.byReplica].map(([rep, w]) => `${rep}:${w.creates}`).join(" ");
      run.check(writes.creates === wanted, `${writes.creates} pod creates for ${wanted} pods (${perReplica})`);
    } catch (e) {
      error = e;
      throw e;
    } finally {
      run.record(error, `${takeovers} takeovers, ${exits} replica exits; seed ${seed}`);
    }
    run.assertPassed();
  });
});
