// KubeRay's operator beside this one in `npm run bench` (#15): built once from the Go module proxy by
// scripts/toolchain/kuberay.sh, its CRDs (ray.io/v1) and ClusterRole installed from the same module,
// run out of cluster as a ServiceAccount (a token, as this operator runs), on the same control plane,
// given the same pods to make (workload.ts). Only what a benchmark needs: start, wait until its
// RayCluster controller works, read its own metrics, stop.
import { execFileSync, spawn, ChildProcess } from "child_process";
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from "fs";
import { join, resolve } from "path";
import YAML from "yaml";
import type * as k8s from "@kubernetes/client-node";
import { freePort } from "../../scripts/cluster/control-plane";
import { prometheusSamples, serviceAccountToken, writeKubeconfigWithToken } from "../../scripts/operator-process";
import { KubeRest, isAlreadyExists } from "../../operator/kube/rest";
import type { ClusterRole, ObjectMeta, PodSpec } from "../../api/v1/kube-types";
import { BENCH_IMAGE, benchPodSpec } from "./workload";
import { CRDS_PATH, crdEstablished } from "./crd";

export const KUBERAY_VERSION = "v1.5.0";
const TOOLCHAIN_SCRIPT = resolve(__dirname, "..", "..", "scripts", "toolchain", "kuberay.sh");
export const KUBERAY_RAYCLUSTERS = (namespace: string) => `/apis/ray.io/v1/namespaces/${namespace}/rayclusters`;
/** The label KubeRay puts on every pod of a RayCluster, its value the cluster's name. */
export const KUBERAY_CLUSTER_LABEL = "ray.io/cluster";
const SERVICE_ACCOUNT = "kuberay-operator";
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What scripts/toolchain/kuberay.sh leaves in its cache directory. */
export interface KubeRayToolchain {
  binary: string;
  crdFiles: string[];
  clusterRoleFile: string;
}

/** Builds KubeRay when it is missing (minutes, once; cached under ~/.cache) and says where it is. */
export function kubeRayToolchain(log: (line: string) => void): KubeRayToolchain {
  const started = Date.now();
  const out = execFileSync("bash", [TOOLCHAIN_SCRIPT], { stdio: ["ignore", "pipe", "inherit"], env: process.env })
    .toString()
    .trim()
    .split("\n");
  const dir = out[out.length - 1];
  log(`KubeRay ${KUBERAY_VERSION} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${dir}`);
  const crdDir = join(dir, "crd");
  return {
    binary: join(dir, "bin", "ray-operator"),
    crdFiles: readdirSync(crdDir)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(crdDir, f)),
    clusterRoleFile: join(dir, "rbac", "role.yaml"),
  };
}

/** A manifest read from KubeRay's YAML, sent to the API server as it is. */
interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta & { name: string };
}

function manifests(file: string): Manifest[] {
  return YAML.parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJSON() as Manifest | null)
    .filter((m): m is Manifest => !!m && typeof m.kind === "string");
}

/**
 * Installs KubeRay's CRDs (all of them: its RayJob and RayService controllers start with the RayCluster
 * one, and a controller whose kind is unknown stops the manager) and binds its ClusterRole to a
 * ServiceAccount of `namespace`; returns a kubeconfig with that ServiceAccount's token.
 */
export async function installKubeRay(
  admin: KubeRest,
  kc: k8s.KubeConfig,
  namespace: string,
  toolchain: KubeRayToolchain,
): Promise<string> {
  const create = async (path: string, obj: unknown) => {
    try {
      await admin.create(path, obj);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  };
  const crds = toolchain.crdFiles.flatMap(manifests).filter((m) => m.kind === "CustomResourceDefinition");
  // Each is about a megabyte of schema (a whole pod template per node group): one at a time.
  for (const crd of crds) await create(CRDS_PATH, crd);
  for (const crd of crds) await crdEstablished(admin, crd.metadata.name);
  const role = manifests(toolchain.clusterRoleFile).find((m): m is ClusterRole & Manifest => m.kind === "ClusterRole");
  if (!role) throw new Error(`no ClusterRole in ${toolchain.clusterRoleFile}`);
  await create("/apis/rbac.authorization.k8s.io/v1/clusterroles", role);
  await create(`/api/v1/namespaces/${namespace}/serviceaccounts`, {
    apiVersion: "v1",
    kind: "ServiceAccount",
    metadata: { name: SERVICE_ACCOUNT, namespace },
  });
  await create("/apis/rbac.authorization.k8s.io/v1/clusterrolebindings", {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind: "ClusterRoleBinding",
    metadata: { name: `bench-${SERVICE_ACCOUNT}` },
    roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: role.metadata.name },
    subjects: [{ kind: "ServiceAccount", name: SERVICE_ACCOUNT, namespace }],
  });
  return writeKubeconfigWithToken(kc, await serviceAccountToken(kc, namespace, SERVICE_ACCOUNT), namespace);
}

/** A node group of KubeRay's RayCluster (ray.io/v1), the fields the benchmark sets. */
interface KubeRayGroupSpec {
  rayStartParams: Record<string, string>;
  template: { metadata?: ObjectMeta; spec: PodSpec };
}

export interface KubeRayCluster {
  apiVersion: "ray.io/v1";
  kind: "RayCluster";
  metadata: ObjectMeta & { name: string };
  spec: {
    rayVersion: string;
    headGroupSpec: KubeRayGroupSpec;
    workerGroupSpecs: Array<
      KubeRayGroupSpec & { groupName: string; replicas: number; minReplicas: number; maxReplicas: number }
    >;
  };
  status?: { state?: string; conditions?: Array<{ type: string; status: string }> };
}

/** The benchmark's RayCluster as KubeRay takes it: 1 head + `workers` workers, the pods of workload.ts. */
export function kubeRayBenchCluster(name: string, namespace: string, workers: number): KubeRayCluster {
  return {
    apiVersion: "ray.io/v1",
    kind: "RayCluster",
    metadata: { name, namespace },
    spec: {
      rayVersion: BENCH_IMAGE.split(":")[1],
      headGroupSpec: { rayStartParams: {}, template: { spec: benchPodSpec() } },
      workerGroupSpecs: [
        {
          groupName: "workers",
          replicas: workers,
          minReplicas: workers,
          maxReplicas: workers,
          rayStartParams: {},
          template: { spec: benchPodSpec() },
        },
      ],
    },
  };
}

/**
 * KubeRay's own word that a cluster is up: `state: ready` (every pod Running and Ready), or, should a
 * version stop writing that deprecated field, the condition KubeRay sets at the same moment.
 */
export function kubeRayClusterReady(rc: KubeRayCluster): boolean {
  if (rc.status?.state === "ready") return true;
  return !!rc.status?.conditions?.some((c) => c.type === "RayClusterProvisioned" && c.status === "True");
}

/** How KubeRay is run: with the benchmark's client settings, or with its own defaults (undefined). */
export interface KubeRaySettings {
  /** Short name in the report. */
  name: string;
  qps?: number;
  burst?: number;
  reconcileConcurrency?: number;
}

export class KubeRayProcess {
  private proc?: ChildProcess;
  private metricsPort = 0;
  private healthPort = 0;

  constructor(
    private readonly binary: string,
    private readonly kubeconfig: string,
    private readonly namespace: string,
    private readonly settings: KubeRaySettings,
    /** Where its log goes (a file, not a pipe into the benchmark: it logs a few lines per reconcile). */
    private readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** The command line: what it needs to run out of cluster beside another operator, then the settings. */
  args(): string[] {
    const s = this.settings;
    return [
      // One replica, out of cluster: no Lease to take (its default is on, for a Deployment of several).
      "--enable-leader-election=false",
      // Free ports of its own: its defaults (:8080, :8082) may be taken on a shared machine.
      `--metrics-addr=127.0.0.1:${this.metricsPort}`,
      `--health-probe-bind-address=127.0.0.1:${this.healthPort}`,
      // Only the benchmark's namespace, as this operator watches only its own: the same caches to fill.
      `--watch-namespace=${this.namespace}`,
      ...(s.reconcileConcurrency === undefined ? [] : [`--reconcile-concurrency=${s.reconcileConcurrency}`]),
      ...(s.qps === undefined ? [] : [`--qps=${s.qps}`]),
      ...(s.burst === undefined ? [] : [`--burst=${s.burst}`]),
    ];
  }

  async start(): Promise<this> {
    this.metricsPort = await freePort();
    this.healthPort = await freePort();
    const fd = openSync(this.logFile, "w");
    this.proc = spawn(this.binary, this.args(), {
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", KUBECONFIG: this.kubeconfig },
      stdio: ["ignore", fd, fd],
    });
    closeSync(fd);
    return this;
  }

  private running(): boolean {
    return !!this.proc && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  /**
   * Resolves once its RayCluster controller has started its workers: its caches are synced and a new
   * RayCluster is reconciled at once. (/readyz alone answers before that.)
   */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`KubeRay exited (${this.proc?.exitCode}); see ${this.logFile}`);
      const workersStarted = existsSync(this.logFile)
        ? readFileSync(this.logFile, "utf8")
            .split("\n")
            .some((l) => l.includes("Starting workers") && l.includes("RayCluster"))
        : false;
      const ready = workersStarted && (await this.get("/readyz", this.healthPort).catch(() => 0)) === 200;
      if (ready) return;
      await sleep(100);
    }
    throw new Error(`KubeRay not ready after ${timeoutMs / 1000} s; see ${this.logFile}`);
  }

  private async get(path: string, port: number): Promise<number> {
    return (await fetch(`http://127.0.0.1:${port}${path}`)).status;
  }

  /** Its Prometheus metrics, sample by sample: `name{labels}` -> value. */
  async metrics(): Promise<Map<string, number>> {
    return prometheusSamples(await (await fetch(`http://127.0.0.1:${this.metricsPort}/metrics`)).text());
  }

  /**
   * Requests its clients sent (client-go's `rest_client_requests_total`, every client of the process:
   * the manager's, the event recorder's), all of them or only these HTTP methods.
   */
  static requests(m: Map<string, number>, methods?: string[]): number {
    let n = 0;
    for (const [k, v] of m) {
      if (!k.startsWith("rest_client_requests_total{")) continue;
      const method = /method="([^"]+)"/.exec(k)?.[1] ?? "";
      if (!methods || methods.includes(method)) n += v;
    }
    return n;
  }

  /** Requests per pod between two snapshots, by HTTP method and answer code (client-go labels no resource). */
  static breakdown(before: Map<string, number>, after: Map<string, number>, pods: number): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [k, v] of after) {
      if (!k.startsWith("rest_client_requests_total{")) continue;
      const key = `${/method="([^"]+)"/.exec(k)?.[1]} ${/code="([^"]+)"/.exec(k)?.[1]}`;
      const d = v - (before.get(k) ?? 0);
      if (d > 0) out[key] = (out[key] ?? 0) + d / pods;
    }
    return out;
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || !this.running()) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    p.kill("SIGTERM");
    const timer = setTimeout(() => p.kill("SIGKILL"), 25_000);
    await exited;
    clearTimeout(timer);
  }
}
