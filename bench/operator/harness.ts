// What every part of `npm run bench` does with its cluster, whichever cluster it is (the kwok-only
// control plane of run.ts or the local cluster with its real node of isolation-real.ts): install the
// CRD and the operator's RBAC, run the operator out of cluster under its ServiceAccount, create
// RayClusters, see them (and their pods) through watches, and clean the namespace between rounds.
import { appendFileSync } from "fs";
import * as k8s from "@kubernetes/client-node";
import {
  OperatorProcess,
  serviceAccountToken,
  writeKubeconfigWithToken,
  buildOperator,
} from "../../scripts/operator-process";
import { ApiError, KubeRest, RequestOptions, isAlreadyExists, isNotFound } from "../../operator/kube/rest";
import { connectionOf } from "../../scripts/kube-connection";
import { Informer, KubeObject, Stored } from "../../operator/kube/informer";
import { createLogger } from "../../operator/util/log";
import { rayClusterCrd } from "../../api/v1/crd";
import { API_VERSION, CRD_NAME, GROUP, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import type { List, Pod, Service } from "../../api/v1/kube-types";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects, SERVICE_ACCOUNT } from "../../builders/rbac";
import { KUBERAY_RAYCLUSTERS, KubeRayCluster } from "./kuberay";
import { CRDS_PATH, crdEstablished } from "./crd";

// The operator and the floor use the same client settings: the API server, not a client limit, is the bound.
export const QPS = 200;
export const BURST = 400;
export const RECONCILE_WORKERS = 10;
// BENCH_PROFILE=<dir>: the operator writes a V8 CPU profile there each time it stops (open in Chrome DevTools).
const PROFILE_DIR = process.env.BENCH_PROFILE;
// BENCH_OPERATOR_LOG=<file>: the operator logs at info level and each operator's log is appended there.
export const OPERATOR_LOG = process.env.BENCH_OPERATOR_LOG;

export const log = (l: string) => console.error(`[bench] ${l}`);
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Another build of the operator: its bundle, its node arguments and extra environment. */
export interface OperatorBuild {
  main: string;
  nodeArgs: string[];
  env?: Record<string, string>;
}

/** The benchmark's side of a cluster: its admin client, the operator it runs, the namespace it works in. */
export class BenchCluster {
  kc = new k8s.KubeConfig();
  admin!: KubeRest;
  op?: OperatorProcess;
  saKubeconfig = "";
  ns = "bench";

  /** Connects to the cluster of `kubeconfig` as admin, installs the CRD, the namespace and the operator's RBAC. */
  async install(kubeconfig: string) {
    this.kc.loadFromFile(kubeconfig);
    this.admin = await KubeRest.create(await connectionOf(this.kc), { qps: 1000, burst: 2000 });
    const apply = async (path: string, obj: unknown) => {
      try {
        await this.admin.create(path, obj);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
    };
    await apply(CRDS_PATH, rayClusterCrd());
    await crdEstablished(this.admin, CRD_NAME);
    await apply("/api/v1/namespaces", namespaceObject(this.ns, "baseline"));
    for (const o of rbacObjects(this.ns, "namespace")) {
      const path =
        o.kind === "ServiceAccount"
          ? `/api/v1/namespaces/${this.ns}/serviceaccounts`
          : `/apis/rbac.authorization.k8s.io/v1/namespaces/${this.ns}/${o.kind === "Role" ? "roles" : "rolebindings"}`;
      await apply(path, o);
    }
    this.saKubeconfig = writeKubeconfigWithToken(
      this.kc,
      await serviceAccountToken(this.kc, this.ns, SERVICE_ACCOUNT),
      this.ns,
    );
    buildOperator();
  }

  async stopOperator() {
    await this.op?.stop();
    if (this.op && OPERATOR_LOG) appendFileSync(OPERATOR_LOG, this.op.logs());
    this.op = undefined;
  }

  /** `entry`: another build to run instead of this checkout's. */
  async startOperator(entry?: OperatorBuild) {
    await this.stopOperator();
    this.op = await new OperatorProcess(
      this.saKubeconfig,
      {
        RAY_OPERATOR_POD_NAMESPACE: this.ns,
        OPERATOR_NAMESPACE: this.ns,
        POD_NAME: "bench-operator",
        RECONCILE_WORKERS: String(RECONCILE_WORKERS),
        KUBE_API_QPS: String(QPS),
        KUBE_API_BURST: String(BURST),
        // The benchmark's clusters keep the sizes it gives them: measure the reconcile loop alone.
        AUTOSCALER_INTERVAL_SECONDS: "0",
        LOG_LEVEL: OPERATOR_LOG ? "info" : "warn",
        ...entry?.env,
      },
      PROFILE_DIR ? ["--cpu-prof", `--cpu-prof-dir=${PROFILE_DIR}`] : [],
      entry,
    ).start();
    for (let i = 0; i < 200; i++) {
      if ((await this.op.get("/readyz").catch(() => ({ status: 0 }))).status === 200) return;
      await sleep(100);
    }
    throw new Error("operator not ready");
  }

  metrics(): Promise<Map<string, number>> {
    return this.op!.metrics();
  }

  async memory(): Promise<{ rssMb: number; heapMb: number }> {
    const m = await this.metrics();
    return {
      rssMb: (m.get("ray_operator_process_resident_memory_bytes") ?? NaN) / 2 ** 20,
      heapMb: (m.get("ray_operator_nodejs_heap_size_used_bytes") ?? NaN) / 2 ** 20,
    };
  }

  /**
   * Hands every object of `path` (as listed, then as watched, through the operator's own Informer)
   * to `see` until it returns true, `stop` aborts, or the time is up. Event-driven, so a figure of a
   * few hundred milliseconds is not rounded up to a poll interval, and cheap for the API server.
   */
  observe<T extends KubeObject>(
    path: string,
    labelSelector: string | undefined,
    see: (obj: T) => boolean,
    stop?: AbortSignal,
    timeoutMs = 600_000,
    keep?: (obj: T) => T,
  ): Promise<void> {
    const inf = new Informer<T>(this.admin, {
      name: `bench ${path}`,
      path,
      labelSelector,
      keep,
      log: createLogger("warn", log),
    });
    return new Promise<void>((resolve, reject) => {
      let over = false;
      const finish = (e?: Error) => {
        if (over) return;
        over = true;
        clearTimeout(timer);
        inf.stop();
        if (e) reject(e);
        else resolve();
      };
      const timer = setTimeout(() => finish(new Error(`timed out watching ${path}`)), timeoutMs);
      const check = (o: T) => {
        if (see(o)) finish();
      };
      inf.on({ add: check, update: (_, o) => check(o) });
      stop?.addEventListener("abort", () => finish());
      inf.start();
    });
  }

  async waitReady(names: string[], timeoutMs = 600_000): Promise<void> {
    const ready = (rc: Stored<RayCluster>) =>
      !!rc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") &&
      rc.status.observedGeneration === rc.metadata.generation;
    await this.waitAll(`/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`, names, ready, timeoutMs).catch(
      (e: Error) => Promise.reject(new Error(`${names.length} clusters not Ready: ${e.message}`)),
    );
  }

  /** Resolves once every object of `path` named in `names` has been seen `ready` (through a watch). */
  protected async waitAll<T extends KubeObject & { metadata: { name: string } }>(
    path: string,
    names: string[],
    ready: (obj: T) => boolean,
    timeoutMs: number,
  ): Promise<void> {
    const waiting = new Set(names);
    await this.observe<T>(
      path,
      undefined,
      (obj) => {
        if (ready(obj)) waiting.delete(obj.metadata.name);
        return waiting.size === 0;
      },
      undefined,
      timeoutMs,
    );
  }

  /**
   * Records when a cluster's pods are first seen, scheduled, their containers all running and the pod
   * ready (from a watch), by `<kind> <what>`; call the result to stop.
   */
  trace(cluster: string, t0: number): () => Promise<Map<string, number>> {
    const seen = new Map<string, number>();
    const mark = (what: string) => {
      if (!seen.has(what)) seen.set(what, Date.now() - t0);
    };
    const ac = new AbortController();
    const watching = this.observe<Stored<Pod>>(
      `/api/v1/namespaces/${this.ns}/pods`,
      `${LABELS.clusterName}=${cluster}`,
      (p) => {
        const kind = p.metadata.labels?.[LABELS.nodeType];
        mark(`${kind} created`);
        if (p.spec?.nodeName) mark(`${kind} scheduled`);
        const containers = p.status?.containerStatuses ?? [];
        if (containers.length && containers.every((c) => c.state?.running)) mark(`${kind} started`);
        if (p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")) mark(`${kind} ready`);
        return false;
      },
      ac.signal,
    );
    return async () => {
      ac.abort();
      await watching;
      return new Map([...seen].sort((a, b) => a[1] - b[1]));
    };
  }

  async createClusters(clusters: Array<RayCluster | KubeRayCluster>) {
    // All at once, as `kubectl apply -f` of a directory would.
    await Promise.all(
      clusters.map((rc) =>
        this.admin.create(
          rc.apiVersion === API_VERSION
            ? `/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`
            : KUBERAY_RAYCLUSTERS(this.ns),
          rc,
        ),
      ),
    );
  }

  /**
   * Deletes every RayCluster (clusterCollections), every pod and Service, and the events
   * (each round counts its own), and waits for the namespace to be empty of pods.
   */
  async clean() {
    const collections = this.clusterCollections();
    for (const path of collections) await this.deleteCollection(path);
    await this.deleteCollection(`/api/v1/namespaces/${this.ns}/pods`, { gracePeriodSeconds: 0 });
    for (;;) {
      const left = await Promise.all(
        [`/api/v1/namespaces/${this.ns}/pods`, ...collections].map(
          async (path) =>
            (await this.again(`listing ${path}`, () => this.admin.get<List<KubeObject>>(path, { limit: 1 }))).items
              .length,
        ),
      );
      if (left.every((n) => n === 0)) break;
      await sleep(500);
    }
    const svcs = await this.again("listing services", () =>
      this.admin.get<List<Service>>(`/api/v1/namespaces/${this.ns}/services`),
    );
    await Promise.all(
      svcs.items.map((s) =>
        this.again(`deleting service ${s.metadata?.name}`, () =>
          this.admin
            .delete(`/api/v1/namespaces/${this.ns}/services/${s.metadata?.name}`)
            .catch((e) => (isNotFound(e) ? undefined : Promise.reject(e))),
        ),
      ),
    );
    await this.deleteCollection(`/api/v1/namespaces/${this.ns}/events`);
  }

  /** Where the RayClusters the benchmark creates live (run.ts adds KubeRay's when it runs KubeRay). */
  protected clusterCollections(): string[] {
    return [`/apis/${GROUP}/${VERSION}/namespaces/${this.ns}/${PLURAL}`];
  }

  /** A collection delete, asked again while it fails the way `again` retries. */
  private deleteCollection(path: string, query?: RequestOptions["query"]): Promise<unknown> {
    return this.again(`deleting ${path}`, () => this.admin.request("DELETE", path, { query, timeoutMs: 300_000 }));
  }

  /**
   * An idempotent request of the benchmark's own (a list, a delete), sent again when the API server
   * gave no answer. At 10,000 pods on this machine two things happen that do not at 1,000: a
   * collection delete outlasts the API server's own 60 s limit (it answers 504 and goes on deleting
   * in the background), and a keep-alive connection left idle through a minutes-long floor is
   * dropped as it is reused ("socket hang up"). Either failed the whole run after its figures.
   */
  protected async again<T>(what: string, request: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await request();
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        const unanswered = (e instanceof ApiError && e.code === 504) || code === "ECONNRESET" || code === "EPIPE";
        if (!unanswered || attempt >= 20) throw e;
        log(`${what}: ${(e as Error).message} (attempt ${attempt}); again`);
        await sleep(1000);
      }
    }
  }
}
