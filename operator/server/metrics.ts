// Prometheus metrics of the operator (prom-client): reconciles, errors and durations, queue depth,
// clusters and pods by state, API requests, leadership, and the autoscaler's decisions.
import type * as PromClient from "prom-client";

// prom-client, less what the operator does not expose. Its default metrics come without the ones built
// on perf_hooks (nodejs_eventloop_lag_*, nodejs_gc_duration_seconds) and without the active handle,
// request and resource counts: loading perf_hooks alone costs ~3 MB of resident memory, 5% of the idle
// operator (#15; each collector bundled on its own and measured). What is kept answers "how much CPU
// and memory, since when": the process's CPU, RSS, start time and file descriptors, the V8 heap by
// space, the Node version. collectDefaultMetrics cannot leave collectors out and the package's index
// loads them all, so the classes and each collector come from their own modules, typed by the
// package's declarations. The version is pinned; the unit test lists the metric names and checks that
// perf_hooks stays unloaded, so a release that moves a module fails there.
type Registry = PromClient.Registry;
const Registry: typeof PromClient.Registry = require("prom-client/lib/registry");
const Counter: typeof PromClient.Counter = require("prom-client/lib/counter");
const Gauge: typeof PromClient.Gauge = require("prom-client/lib/gauge");
const Histogram: typeof PromClient.Histogram = require("prom-client/lib/histogram");

/** One of prom-client's default collectors: registers its metrics, read when the registry is scraped. */
type DefaultCollector = (registry: Registry, config: { prefix: string }) => void;
const DEFAULT_COLLECTORS: DefaultCollector[] = [
  require("prom-client/lib/metrics/processCpuTotal"),
  require("prom-client/lib/metrics/processStartTime"),
  require("prom-client/lib/metrics/osMemoryHeap"),
  require("prom-client/lib/metrics/processOpenFileDescriptors"),
  require("prom-client/lib/metrics/processMaxFileDescriptors"),
  require("prom-client/lib/metrics/heapSizeAndUsed"),
  require("prom-client/lib/metrics/heapSpacesSizeAndUsed"),
  require("prom-client/lib/metrics/version"),
];

export class OperatorMetrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: "ray_operator_reconcile_total",
    help: "Reconciles by result (success, error, requeue).",
    labelNames: ["result"],
    registers: [this.registry],
  });
  readonly reconcileErrors = new Counter({
    name: "ray_operator_reconcile_errors_total",
    help: "Reconciles that failed and will be retried.",
    registers: [this.registry],
  });
  readonly reconcileDuration = new Histogram({
    name: "ray_operator_reconcile_duration_seconds",
    help: "Time spent in one reconcile.",
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  readonly queueDepth = new Gauge({
    name: "ray_operator_workqueue_depth",
    help: "Keys waiting in the work queue.",
    registers: [this.registry],
  });
  readonly clusters = new Gauge({
    name: "ray_operator_clusters",
    help: "RayClusters by phase.",
    labelNames: ["phase"],
    registers: [this.registry],
  });
  readonly pods = new Gauge({
    name: "ray_operator_pods",
    help: "Pods owned by RayClusters, by kind and phase.",
    labelNames: ["kind", "phase"],
    registers: [this.registry],
  });
  readonly workersDeferred = new Gauge({
    name: "ray_operator_workers_deferred",
    help:
      "Workers wanted but not created yet: " +
      "their cluster already has MAX_UNSCHEDULED_WORKERS waiting for the scheduler.",
    registers: [this.registry],
  });
  readonly podActions = new Counter({
    name: "ray_operator_pod_actions_total",
    help: "Pods created and deleted, by kind and reason.",
    labelNames: ["action", "kind", "reason"],
    registers: [this.registry],
  });
  readonly apiRequests = new Counter({
    name: "ray_operator_api_requests_total",
    help: "Kubernetes API requests by verb, resource and status code.",
    labelNames: ["verb", "resource", "code"],
    registers: [this.registry],
  });
  readonly apiLatency = new Histogram({
    name: "ray_operator_api_request_duration_seconds",
    help: "Kubernetes API request latency by verb.",
    labelNames: ["verb"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    registers: [this.registry],
  });
  readonly informerRestarts = new Gauge({
    name: "ray_operator_informer_restarts",
    help: "Times each informer restarted list+watch after an error.",
    labelNames: ["informer"],
    registers: [this.registry],
  });
  readonly leader = new Gauge({
    name: "ray_operator_leader",
    help: "1 when this replica holds the leader Lease.",
    registers: [this.registry],
  });
  // The autoscaler's side.
  readonly autoscalerDecisions = new Counter({
    name: "ray_operator_autoscaler_decisions_total",
    help: "Autoscaler passes by outcome (scale_up, scale_down, steady, error).",
    labelNames: ["outcome"],
    registers: [this.registry],
  });
  readonly autoscalerNodesRequested = new Counter({
    name: "ray_operator_autoscaler_nodes_requested_total",
    help: "Worker pods the autoscaler asked for, by type.",
    labelNames: ["type"],
    registers: [this.registry],
  });
  readonly autoscalerNodesRemoved = new Counter({
    name: "ray_operator_autoscaler_nodes_removed_total",
    help: "Idle workers the autoscaler drained and removed, by type.",
    labelNames: ["type"],
    registers: [this.registry],
  });
  readonly autoscalerDuration = new Histogram({
    name: "ray_operator_autoscaler_loop_duration_seconds",
    help: "Time of one autoscaler pass for one cluster.",
    buckets: [0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  readonly autoscalerUnreachable = new Gauge({
    name: "ray_operator_autoscaler_unreachable_heads",
    help: "Clusters whose control store cannot be reached.",
    registers: [this.registry],
  });

  constructor() {
    for (const collect of DEFAULT_COLLECTORS) collect(this.registry, { prefix: "ray_operator_" });
  }

  observeRequest = (verb: string, resource: string, code: number, seconds: number) => {
    this.apiRequests.inc({ verb, resource, code: String(code) });
    this.apiLatency.observe({ verb }, seconds);
  };
}
