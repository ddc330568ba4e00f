// What the operator's /metrics endpoint exposes: its own metrics and the runtime's, written out, so a
// metric that disappears (or a prom-client release that moves a collector's module) fails here.
import { strict as assert } from "assert";
import { OperatorMetrics } from "../../operator/server/metrics";
import { prometheusSamples } from "../../scripts/operator-process";

const EXPOSED = [
  "ray_operator_reconcile_total counter",
  "ray_operator_reconcile_errors_total counter",
  "ray_operator_reconcile_duration_seconds histogram",
  "ray_operator_workqueue_depth gauge",
  "ray_operator_clusters gauge",
  "ray_operator_pods gauge",
  "ray_operator_workers_deferred gauge",
  "ray_operator_pod_actions_total counter",
  "ray_operator_api_requests_total counter",
  "ray_operator_api_request_duration_seconds histogram",
  "ray_operator_informer_restarts gauge",
  "ray_operator_leader gauge",
  "ray_operator_autoscaler_decisions_total counter",
  "ray_operator_autoscaler_nodes_requested_total counter",
  "ray_operator_autoscaler_nodes_removed_total counter",
  "ray_operator_autoscaler_loop_duration_seconds histogram",
  "ray_operator_autoscaler_unreachable_heads gauge",
  // The runtime's, from prom-client's default collectors (less the perf_hooks ones: metrics.ts says why).
  "ray_operator_process_cpu_user_seconds_total counter",
  "ray_operator_process_cpu_system_seconds_total counter",
  "ray_operator_process_cpu_seconds_total counter",
  "ray_operator_process_start_time_seconds gauge",
  "ray_operator_process_resident_memory_bytes gauge",
  "ray_operator_process_virtual_memory_bytes gauge",
  "ray_operator_process_heap_bytes gauge",
  "ray_operator_process_open_fds gauge",
  "ray_operator_process_max_fds gauge",
  "ray_operator_nodejs_heap_size_total_bytes gauge",
  "ray_operator_nodejs_heap_size_used_bytes gauge",
  "ray_operator_nodejs_external_memory_bytes gauge",
  "ray_operator_nodejs_heap_space_size_total_bytes gauge",
  "ray_operator_nodejs_heap_space_size_used_bytes gauge",
  "ray_operator_nodejs_heap_space_size_available_bytes gauge",
  "ray_operator_nodejs_version_info gauge",
];

describe("the operator's metrics (operator/server/metrics.ts)", () => {
  it("expose the operator's own metrics and the runtime's, each with its type", async () => {
    const text = await new OperatorMetrics().registry.metrics();
    const types = text
      .split("\n")
      .filter((l) => l.startsWith("# TYPE "))
      .map((l) => l.slice("# TYPE ".length));
    assert.deepEqual(types, EXPOSED);
  });

  it("report this process's resident memory and heap as they are", async () => {
    const values = prometheusSamples(await new OperatorMetrics().registry.metrics());
    const rss = values.get("ray_operator_process_resident_memory_bytes");
    const heap = values.get("ray_operator_nodejs_heap_size_used_bytes");
    // The same figures read from Node directly, a moment later: within a factor of two, not zero.
    const now = process.memoryUsage();
    assert.ok(rss && rss > now.rss / 2 && rss < now.rss * 2, `RSS ${rss} against ${now.rss}`);
    assert.ok(heap && heap > now.heapUsed / 2 && heap < now.heapUsed * 2, `heap ${heap} against ${now.heapUsed}`);
  });
});
