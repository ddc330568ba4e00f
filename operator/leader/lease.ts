// Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: the holder
// renews every retry period; another candidate takes over once the lease has not been renewed for
// its duration, judged by the candidate's own clock from when it last saw the record change (so
// clock skew between replicas does not matter). Updates carry resourceVersion: two candidates can
// never both win. On shutdown the leader releases the lease so a standby takes over at once.
//
// The holder may act only until its renew deadline, counted from when it SENT its last successful
// renewal: the others count the lease duration from when they SAW that renewal, later, and the
// deadline is shorter than the duration, so the holder stops before anyone else may start. Every
// attempt is bounded by what is left of the deadline (a stalled connection cannot keep an old
// leader in office), leader election has a client and a rate limit of its own (a busy controller
// cannot starve its renewals), and `mayAct()` is the fence every write of the operator checks
// right before it is sent: after a process stall (SIGSTOP, a long GC pause) the first thing a
// woken leader does is refuse to write.
import type { Lease, LeaseSpec } from "../../api/v1/kube-types";
import { ApiError, KubeRest, isNotFound } from "../kube/rest";
import type { Logger } from "../util/log";

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds?: number;
  renewDeadlineSeconds?: number;
  retryPeriodSeconds?: number;
  log: Logger;
}

const micro = (d = new Date()) => d.toISOString().replace("Z", "000Z"); // MicroTime: microseconds

export class LeaderElector {
  private observedRecord = "";
  private observedAt = 0;
  private leading = false;
  private stopped = false;
  /** Until when this replica may act (ms): its last successful renewal's send time + renew deadline. */
  private actUntil = 0;
  private readonly duration: number;
  private readonly renewDeadline: number;
  private readonly retry: number;

  constructor(
    private readonly rest: KubeRest,
    private readonly o: LeaderElectionOptions,
  ) {
    this.duration = o.leaseDurationSeconds ?? 15;
    this.renewDeadline = o.renewDeadlineSeconds ?? 10;
    this.retry = o.retryPeriodSeconds ?? 2;
  }

  private get path() {
    return `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases/${this.o.name}`;
  }

  isLeader(): boolean {
    return this.leading;
  }

  /** The write fence: this replica leads and its renew deadline has not passed. */
  mayAct(): boolean {
    return this.leading && Date.now() < this.actUntil;
  }

  /**
   * One attempt to acquire or renew, given `timeoutMs` in all; true when we hold the lease afterwards.
   * On success the fence is moved to the attempt's start + the renew deadline.
   */
  async tryAcquireOrRenew(timeoutMs = this.renewDeadline * 1000): Promise<boolean> {
    const sentAt = Date.now();
    const deadline = sentAt + timeoutMs;
    const left = () => Math.max(1, deadline - Date.now());
    const won = await this.attempt(left);
    if (won) this.actUntil = sentAt + this.renewDeadline * 1000;
    return won;
  }

  private async attempt(left: () => number): Promise<boolean> {
    const now = new Date();
    let lease: Lease;
    try {
      lease = await this.rest.request<Lease>("GET", this.path, { timeoutMs: left() });
    } catch (e) {
      if (!isNotFound(e)) throw e;
      try {
        const created: Lease = {
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: {
            holderIdentity: this.o.identity,
            leaseDurationSeconds: this.duration,
            acquireTime: micro(now),
            renewTime: micro(now),
            leaseTransitions: 0,
          },
        };
        await this.rest.request("POST", `/apis/coordination.k8s.io/v1/namespaces/${this.o.namespace}/leases`, {
          body: created,
          timeoutMs: left(),
        });
        this.observedAt = Date.now();
        return true;
      } catch (err) {
        if (err instanceof ApiError && err.code === 409) return false;
        throw err;
      }
    }
    const spec: LeaseSpec = lease.spec ?? {};
    const record = `${spec.holderIdentity}|${spec.renewTime}|${spec.leaseDurationSeconds}`;
    if (record !== this.observedRecord) {
      this.observedRecord = record;
      this.observedAt = Date.now();
    }
    const holder: string = spec.holderIdentity ?? "";
    const mine = holder === this.o.identity;
    const expired = Date.now() > this.observedAt + (spec.leaseDurationSeconds ?? this.duration) * 1000;
    if (!mine && holder && !expired) return false;
    const body: Lease = {
      ...lease,
      spec: {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: this.duration,
        renewTime: micro(now),
        acquireTime: mine ? spec.acquireTime : micro(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      },
    };
    try {
      const updated = await this.rest.request<Lease>("PUT", this.path, { body, timeoutMs: left() });
      // The API server returns the spec it stored: ours.
      const s = updated.spec!;
      this.observedRecord = `${s.holderIdentity}|${s.renewTime}|${s.leaseDurationSeconds}`;
      this.observedAt = Date.now();
      return true;
    } catch (e) {
      if (e instanceof ApiError && e.code === 409) return false;
      throw e;
    }
  }

  /**
   * Blocks until this replica leads, calls `onLead`, then keeps renewing; calls `onLost` (and
   * returns) the moment the renew deadline passes without a renewal — also when the last attempt
   * is still waiting for an answer.
   */
  async run(onLead: () => void, onLost: () => void): Promise<void> {
    const sleep = (s: number) => new Promise((r) => setTimeout(r, s * 1000));
    while (!this.stopped) {
      try {
        if (await this.tryAcquireOrRenew()) break;
      } catch (e) {
        this.o.log.warn(`leader election: ${(e as Error).message}`);
      }
      await sleep(this.retry * (0.8 + Math.random() * 0.4));
    }
    if (this.stopped) return;
    this.leading = true;
    this.o.log.info(`leader election: ${this.o.identity} acquired lease ${this.o.namespace}/${this.o.name}`);
    onLead();
    await new Promise<void>((resolve) => {
      let watchdog: NodeJS.Timeout | undefined;
      const lost = (why: string) => {
        if (!this.leading) return;
        this.leading = false;
        clearTimeout(watchdog);
        this.o.log.error(`leader election: lost lease ${this.o.namespace}/${this.o.name}: ${why}`);
        onLost();
        resolve();
      };
      // Fires at the deadline whatever the renew loop is waiting for.
      const arm = () => {
        clearTimeout(watchdog);
        const check = () => !this.mayAct() && lost("not renewed within the renew deadline");
        watchdog = setTimeout(check, this.actUntil - Date.now() + 1);
      };
      arm();
      void (async () => {
        while (!this.stopped && this.leading) {
          await sleep(this.retry);
          if (this.stopped || !this.leading) break;
          // A process that was stalled past its deadline must not renew its way back into office:
          // others may already have acted on the expired lease.
          if (!this.mayAct()) return lost("the renew deadline passed (the process was stalled)");
          try {
            if (await this.tryAcquireOrRenew(this.actUntil - Date.now())) {
              arm();
              continue;
            }
            this.o.log.warn("leader election: renew refused (the lease changed); retrying until the renew deadline");
          } catch (e) {
            this.o.log.warn(`leader election: renew failed: ${(e as Error).message}`);
          }
          if (!this.mayAct()) return lost("not renewed within the renew deadline");
        }
        clearTimeout(watchdog);
        resolve();
      })();
    });
  }

  /** Gives the lease up (if held), so a standby replica takes over without waiting for expiry. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.rest.get<Lease>(this.path);
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.rest.request("PUT", this.path, {
        body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1, renewTime: micro() } },
      });
      this.o.log.info(`leader election: released lease ${this.o.namespace}/${this.o.name}`);
    } catch (e) {
      this.o.log.warn(`leader election: release failed: ${(e as Error).message}`);
    }
  }
}
