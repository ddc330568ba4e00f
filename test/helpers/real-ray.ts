// Helpers for tests on the real node: the operator installed in-cluster from its image exactly as the
// Pulumi program installs it, Ray reached through the head's job API, and Ray's processes found (and
// killed) on the host, where every container's processes are visible.
import { readdirSync, readFileSync } from "fs";
import type { V1Pod } from "@kubernetes/client-node";
import { namespaceObject } from "../../builders/namespace";
import { rbacObjects } from "../../builders/rbac";
import { operatorDeployment, operatorLabels, METRICS_PORT } from "../../builders/operator-workload";
import { DEFAULT_OPERATOR_IMAGE } from "../../config/stack-config";
import { GROUP, LABELS, PLURAL, RayCluster, VERSION } from "../../api/v1/types";
import { RayJobClient } from "../../scripts/ray-jobs";
import { GcsAutoscalerClient } from "../../operator/autoscaler/gcs-client";
import { apply, Clients, eventually } from "./kube";
import { installCrd } from "./operator-env";

export const DASHBOARD_PORT = 8265;

/**
 * CRD, namespace, RBAC and the operator Deployment, as `pulumi up` installs them; resolves once the
 * operator pod is Ready.
 */
export async function installOperatorInCluster(
  c: Clients,
  namespace: string,
  env: { autoscalerIntervalSeconds?: number } = {},
): Promise<V1Pod> {
  await installCrd(c);
  await apply(c, namespaceObject(namespace, "baseline"));
  for (const obj of rbacObjects(namespace, "namespace")) await apply(c, obj);
  await apply(
    c,
    operatorDeployment({
      namespace,
      image: DEFAULT_OPERATOR_IMAGE,
      imagePullPolicy: "IfNotPresent",
      replicas: 1,
      watch: "namespace",
      logLevel: "info",
      resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "512Mi" } },
      autoscalerIntervalSeconds: env.autoscalerIntervalSeconds ?? 2,
    }),
  );
  return eventually("the operator pod to be Ready", () => operatorPod(c, namespace), 180_000, 1000);
}

const selector = (labels: Record<string, string>) =>
  Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

/** The operator's pod once it is Ready (undefined before). */
export async function operatorPod(c: Clients, namespace: string): Promise<V1Pod | undefined> {
  const pods = (await c.core.listNamespacedPod({ namespace, labelSelector: selector(operatorLabels) })).items;
  return pods.find(
    (p) =>
      !p.metadata?.deletionTimestamp && p.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True"),
  );
}

export async function operatorLog(c: Clients, namespace: string): Promise<string> {
  const pod = await operatorPod(c, namespace);
  if (!pod) throw new Error("no Ready operator pod");
  return c.core.readNamespacedPodLog({ namespace, name: pod.metadata!.name! });
}

/** The operator's Prometheus metrics, read from its pod's metrics port over the pod network. */
export async function operatorMetrics(c: Clients, namespace: string): Promise<string> {
  const pod = await operatorPod(c, namespace);
  const r = await fetch(`http://${pod!.status!.podIP}:${METRICS_PORT}/metrics`);
  return r.text();
}

export async function getRayCluster(c: Clients, namespace: string, name: string): Promise<RayCluster> {
  return (await c.custom.getNamespacedCustomObject({
    group: GROUP,
    version: VERSION,
    namespace,
    plural: PLURAL,
    name,
  })) as RayCluster;
}

export const isReady = (rc: RayCluster) =>
  !!rc.status?.conditions?.some((x) => x.type === "Ready" && x.status === "True");

/** Live pods of a cluster (head and workers), by kind. */
export async function clusterPods(
  c: Clients,
  namespace: string,
  cluster: string,
): Promise<{ head?: V1Pod; workers: V1Pod[] }> {
  const pods = (
    await c.core.listNamespacedPod({ namespace, labelSelector: `${LABELS.clusterName}=${cluster}` })
  ).items.filter((p) => !p.metadata?.deletionTimestamp);
  return {
    head: pods.find((p) => p.metadata?.labels?.[LABELS.nodeType] === "head"),
    workers: pods.filter((p) => p.metadata?.labels?.[LABELS.nodeType] === "worker"),
  };
}

/** Ray's job API on the cluster's head, through the head Service. */
export async function rayJobs(c: Clients, namespace: string, cluster: string): Promise<RayJobClient> {
  const rc = await eventually(
    `${cluster}'s head Service IP`,
    async () => (await getRayCluster(c, namespace, cluster)).status?.head?.serviceIP,
    60_000,
  );
  const jobs = new RayJobClient(`http://${rc}:${DASHBOARD_PORT}`);
  await jobs.waitUntilServing(180_000);
  return jobs;
}

/** Ray's nodes as `ray status -v` on the head lists them: instance id (the pod name) and node type. */
export async function rayStatusNodes(jobs: RayJobClient): Promise<Array<{ instance: string; type: string }>> {
  const r = await jobs.run("ray status -v", 120_000);
  if (r.status !== "SUCCEEDED") throw new Error(`ray status -v ended ${r.status}: ${r.logs}`);
  return [...r.logs.matchAll(/^Node: (\S+) \((\S+)\)$/gm)].map((m) => ({ instance: m[1], type: m[2] }));
}

/**
 * Host PIDs of the processes named `name` (`raylet`, `gcs_server`) in the pod with `podUid`: found
 * by the pod's cgroup, as the kubelet's cgroupfs driver names it (`.../pod<uid>/<container>`).
 */
export function podProcesses(podUid: string, name: string): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== name) continue;
      if (readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(`pod${podUid}`)) out.push(Number(entry));
    } catch {
      /* exited */
    }
  }
  return out;
}

/**
 * A client of the head's GCS (port 6379) through the head Service, which the host reaches: the same
 * AutoscalerStateService the operator reads, to see Ray's own view of nodes and demand.
 */
export async function rayGcs(c: Clients, namespace: string, cluster: string): Promise<GcsAutoscalerClient> {
  const serviceIP = async () => (await getRayCluster(c, namespace, cluster)).status?.head?.serviceIP;
  const ip = await eventually(`${cluster}'s head Service IP`, serviceIP, 60_000);
  return new GcsAutoscalerClient({ address: `${ip}:6379`, timeoutMs: 10_000 });
}

/**
 * The sum of a Prometheus metric's samples whose labels include `labels` (every sample of the name
 * when empty), from the text `operatorMetrics` returns; 0 when none is there yet (a counter not yet
 * incremented has no sample).
 */
export function metricSum(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const m of text.matchAll(/^(\w+)(?:\{([^}]*)\})? (\S+)$/gm)) {
    if (m[1] !== name) continue;
    const have = new Map([...(m[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((l) => [l[1], l[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Waits until the output of job `submissionId` has a line starting with `marker` and returns the rest
 * of that line; fails at once (with the job's output) if the job ends without printing it.
 */
export async function jobLine(
  jobs: RayJobClient,
  submissionId: string,
  marker: string,
  timeoutMs = 300_000,
): Promise<string> {
  const find = (logs: string) =>
    logs
      .split("\n")
      .find((l) => l.startsWith(marker))
      ?.slice(marker.length)
      .trim();
  return eventually(
    `a "${marker}" line from job ${submissionId}`,
    async () => {
      const found = find(await jobs.logs(submissionId));
      if (found !== undefined) return { found };
      const info = await jobs.info(submissionId);
      if (["STOPPED", "SUCCEEDED", "FAILED"].includes(info.status)) {
        // The loop would retry a thrown error: fail the wait through a value it returns instead.
        const logs = await jobs.logs(submissionId);
        const why = `job ${submissionId} ended ${info.status} without "${marker}": ${info.message ?? ""}`;
        return { error: `${why}\n${logs}` };
      }
      return undefined;
    },
    timeoutMs,
    1000,
  ).then((r) => {
    if ("error" in r) throw new Error(r.error);
    return r.found;
  });
}
