// The operator's settings, from its environment (set by the Deployment the Pulumi program builds).
import { hostname } from "os";
import type { Level } from "./util/log";
import { OPERATOR_DEFAULTS } from "../builders/operator-workload";

export interface OperatorConfig {
  /** Watch only this namespace; undefined: the whole cluster. */
  watchNamespace?: string;
  /** Where the leader-election Lease lives. */
  operatorNamespace: string;
  identity: string;
  leaderElect: boolean;
  logLevel: Level;
  workers: number;
  healthPort: number;
  metricsPort: number;
  autoscalerIntervalSeconds: number;
  /**
   * `ns/name=host:port` pairs: where to reach a cluster's GCS instead of its head Service
   * (out-of-cluster runs, tests).
   */
  gcsAddressOverrides: Map<string, string>;
  qps: number;
  burst: number;
  resyncSeconds: number;
  /** Per cluster, workers waiting for the scheduler's first look before more are created (0: no limit). */
  maxUnscheduledWorkers: number;
  /**
   * Leader election (client-go's defaults): the lease lasts 15 s, the holder acts 10 s past a
   * renewal, and retries every 2 s.
   */
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

const int = (v: string | undefined, dflt: number, name: string) => {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0)
    throw new Error(`${name}: expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};

function leaseTimes(env: NodeJS.ProcessEnv) {
  const leaseDurationSeconds = int(env.LEASE_DURATION_SECONDS, 15, "LEASE_DURATION_SECONDS");
  const renewDeadlineSeconds = int(env.RENEW_DEADLINE_SECONDS, 10, "RENEW_DEADLINE_SECONDS");
  const retryPeriodSeconds = int(env.RETRY_PERIOD_SECONDS, 2, "RETRY_PERIOD_SECONDS");
  // The holder must stop acting before anyone else may start.
  if (!(retryPeriodSeconds < renewDeadlineSeconds && renewDeadlineSeconds < leaseDurationSeconds))
    throw new Error(
      `RETRY_PERIOD_SECONDS (${retryPeriodSeconds}) < RENEW_DEADLINE_SECONDS (${renewDeadlineSeconds}) < ` +
        `LEASE_DURATION_SECONDS (${leaseDurationSeconds}) must hold`,
    );
  return { leaseDurationSeconds, renewDeadlineSeconds, retryPeriodSeconds };
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): OperatorConfig {
  const levels = ["debug", "info", "warn", "error"];
  const logLevel = (env.LOG_LEVEL ?? "info") as Level;
  if (!levels.includes(logLevel))
    throw new Error(`LOG_LEVEL: expected one of ${levels.join(", ")}, got ${JSON.stringify(env.LOG_LEVEL)}`);
  const overrides = new Map<string, string>();
  for (const pair of (env.RAY_GCS_ADDRESS_OVERRIDES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const m = /^([^/=]+\/[^/=]+)=([^=]+:\d+)$/.exec(pair);
    if (!m)
      throw new Error(`RAY_GCS_ADDRESS_OVERRIDES: expected namespace/name=host:port, got ${JSON.stringify(pair)}`);
    overrides.set(m[1], m[2]);
  }
  const watchNamespace = env.RAY_OPERATOR_POD_NAMESPACE || undefined;
  return {
    watchNamespace,
    operatorNamespace: env.OPERATOR_NAMESPACE || watchNamespace || "default",
    identity: env.POD_NAME || `${hostname()}-${process.pid}`,
    leaderElect: (env.LEADER_ELECT ?? "false") === "true",
    logLevel,
    workers: int(env.RECONCILE_WORKERS, OPERATOR_DEFAULTS.workers, "RECONCILE_WORKERS") || 1,
    healthPort: int(env.HEALTH_PORT, 8081, "HEALTH_PORT"),
    metricsPort: int(env.METRICS_PORT, 8080, "METRICS_PORT"),
    autoscalerIntervalSeconds: int(
      env.AUTOSCALER_INTERVAL_SECONDS,
      OPERATOR_DEFAULTS.autoscalerIntervalSeconds,
      "AUTOSCALER_INTERVAL_SECONDS",
    ),
    gcsAddressOverrides: overrides,
    qps: int(env.KUBE_API_QPS, 50, "KUBE_API_QPS"),
    burst: int(env.KUBE_API_BURST, 100, "KUBE_API_BURST"),
    resyncSeconds: int(env.RESYNC_SECONDS, 300, "RESYNC_SECONDS"),
    maxUnscheduledWorkers: int(
      env.MAX_UNSCHEDULED_WORKERS,
      OPERATOR_DEFAULTS.maxUnscheduledWorkers,
      "MAX_UNSCHEDULED_WORKERS",
    ),
    ...leaseTimes(env),
  };
}
