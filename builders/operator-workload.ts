// The operator's Deployment: restricted security context, probes on its health endpoints, the
// metrics port, and the environment that tells it what to watch.
import type { Deployment, EnvVar, PodSpec } from "../api/v1/kube-types";
import { OPERATOR_NAME, SERVICE_ACCOUNT, WatchMode } from "./rbac";

export const HEALTH_PORT = 8081;
export const METRICS_PORT = 8080;
/** The image runs as this user (see operator/Dockerfile). */
export const OPERATOR_UID = 65532;

export interface OperatorWorkloadOptions {
  namespace: string;
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  replicas: number;
  watch: WatchMode;
  logLevel?: "debug" | "info" | "warn" | "error";
  resources: { requests: { cpu: string; memory: string }; limits: { cpu?: string; memory: string } };
  /** Concurrent reconciles; one slow cluster must not stall the others. */
  workers?: number;
  autoscalerIntervalSeconds?: number;
  /** Per cluster, workers waiting for the scheduler before more are created; 0: no limit. */
  maxUnscheduledWorkers?: number;
  /** Where the operator's pods may run (e.g. a system node pool); left out of the manifest when unset. */
  nodeSelector?: PodSpec["nodeSelector"];
  tolerations?: PodSpec["tolerations"];
}

/** The operator's settings when neither the stack config nor the environment gives them. */
export const OPERATOR_DEFAULTS = { workers: 4, autoscalerIntervalSeconds: 5, maxUnscheduledWorkers: 16 } as const;

export const operatorLabels = { "app.kubernetes.io/name": OPERATOR_NAME, "app.kubernetes.io/component": "operator" };

/** The Deployment; its type is the object's own (checked against client-node's), fields and all. */
export function operatorDeployment(o: OperatorWorkloadOptions) {
  const env: EnvVar[] = [
    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
    { name: "OPERATOR_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
    // Leader election is always on: even with one replica, a rolling update surges a second pod, and
    // two operators acting at once would duplicate creates and deletes.
    { name: "LEADER_ELECT", value: "true" },
    { name: "LOG_LEVEL", value: o.logLevel ?? "info" },
    { name: "RECONCILE_WORKERS", value: String(o.workers ?? OPERATOR_DEFAULTS.workers) },
    {
      name: "AUTOSCALER_INTERVAL_SECONDS",
      value: String(o.autoscalerIntervalSeconds ?? OPERATOR_DEFAULTS.autoscalerIntervalSeconds),
    },
    {
      name: "MAX_UNSCHEDULED_WORKERS",
      value: String(o.maxUnscheduledWorkers ?? OPERATOR_DEFAULTS.maxUnscheduledWorkers),
    },
    { name: "HEALTH_PORT", value: String(HEALTH_PORT) },
    { name: "METRICS_PORT", value: String(METRICS_PORT) },
  ];
  // As in the seed: the operator watches its own namespace when this is set, else the whole cluster.
  if (o.watch === "namespace")
    env.push({ name: "RAY_OPERATOR_POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } });

  return {
    apiVersion: "apps/v1" as const,
    kind: "Deployment" as const,
    metadata: { name: OPERATOR_NAME, namespace: o.namespace, labels: { ...operatorLabels } },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { ...operatorLabels } },
      // The new pod starts as a standby (Ready: waiting is its job) and leads once the old one, stopped,
      // releases the Lease: an update never leaves the clusters without an operator for long.
      strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { ...operatorLabels },
          annotations: {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": String(METRICS_PORT),
            "prometheus.io/path": "/metrics",
          },
        },
        spec: {
          serviceAccountName: SERVICE_ACCOUNT,
          automountServiceAccountToken: true,
          ...(o.nodeSelector ? { nodeSelector: o.nodeSelector } : {}),
          ...(o.tolerations ? { tolerations: o.tolerations } : {}),
          terminationGracePeriodSeconds: 30,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: OPERATOR_UID,
            runAsGroup: OPERATOR_UID,
            fsGroup: OPERATOR_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          containers: [
            {
              name: "operator",
              image: o.image,
              imagePullPolicy: o.imagePullPolicy ?? "IfNotPresent",
              env,
              ports: [
                { name: "metrics", containerPort: METRICS_PORT, protocol: "TCP" },
                { name: "health", containerPort: HEALTH_PORT, protocol: "TCP" },
              ],
              livenessProbe: {
                httpGet: { path: "/healthz", port: "health" },
                initialDelaySeconds: 5,
                periodSeconds: 10,
                failureThreshold: 3,
              },
              readinessProbe: {
                httpGet: { path: "/readyz", port: "health" },
                initialDelaySeconds: 2,
                periodSeconds: 5,
                failureThreshold: 3,
              },
              resources: o.resources,
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
                seccompProfile: { type: "RuntimeDefault" },
              },
            },
          ],
        },
      },
    },
  } satisfies Deployment;
}
