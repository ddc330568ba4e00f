// The operator process: `npm run operator` out of cluster (current kubeconfig), or the image's
// entrypoint in cluster (its ServiceAccount). Namespaced when RAY_OPERATOR_POD_NAMESPACE is set.
import { loadConfig } from "./config";
import { createLogger } from "./util/log";
import { KubeRest } from "./kube/rest";
import { loadConnection } from "./kube/kubeconfig";
import { EventRecorder } from "./kube/events";
import { OperatorMetrics } from "./server/metrics";
import { startHttp } from "./server/http";
import { RayClusterController } from "./controller/raycluster-controller";
import { LeaderElector } from "./leader/lease";
import { LEADER_ELECTION_LEASE } from "../builders/rbac";
import { AutoscalerLoop } from "./autoscaler/loop";

async function main() {
  const config = loadConfig();
  const log = createLogger(config.logLevel);
  // In cluster: the pod's ServiceAccount; out of cluster: $KUBECONFIG or ~/.kube/config.
  const connection = loadConnection();
  const metrics = new OperatorMetrics();
  const rest = await KubeRest.create(connection, {
    qps: config.qps,
    burst: config.burst,
    userAgent: `ray-operator/${config.identity}`,
    onRequest: metrics.observeRequest,
  });
  // Events get a client and rate limit of their own: telling what happened must never delay doing it.
  const eventsRest = await KubeRest.create(connection, {
    qps: Math.max(5, config.qps / 2),
    burst: config.burst,
    userAgent: `ray-operator/${config.identity}`,
    onRequest: metrics.observeRequest,
  });
  const events = new EventRecorder(eventsRest, "ray-operator", config.identity, log);
  const controller = new RayClusterController({
    rest,
    log: log.child("reconcile"),
    metrics,
    events,
    namespace: config.watchNamespace,
    operatorNamespace: config.operatorNamespace,
    workers: config.workers,
    resyncSeconds: config.resyncSeconds,
    maxUnscheduledWorkers: config.maxUnscheduledWorkers,
    autoscaling: config.autoscalerIntervalSeconds > 0,
  });

  const watching = config.watchNamespace ? `namespace ${config.watchNamespace}` : "all namespaces";
  log.info(
    `ray-operator starting as ${config.identity}: watching ${watching} on ${rest.server.origin}, ` +
      `${config.workers} workers, leader election ${config.leaderElect ? "on" : "off"}`,
  );
  for (const [k, v] of config.gcsAddressOverrides)
    log.warn(`GCS address override: ${k} -> ${v} (instead of its head Service)`);

  let started = false;
  // Leader election has a client and a rate limit of its own: a busy controller cannot starve its
  // renewals. Every write of the controller, the autoscaler and the event recorder is fenced by it.
  const electionRest = config.leaderElect
    ? await KubeRest.create(connection, {
        qps: 5,
        burst: 10,
        userAgent: `ray-operator/${config.identity}`,
        onRequest: metrics.observeRequest,
      })
    : undefined;
  const elector = electionRest
    ? new LeaderElector(electionRest, {
        namespace: config.operatorNamespace,
        name: LEADER_ELECTION_LEASE,
        identity: config.identity,
        leaseDurationSeconds: config.leaseDurationSeconds,
        renewDeadlineSeconds: config.renewDeadlineSeconds,
        retryPeriodSeconds: config.retryPeriodSeconds,
        log,
      })
    : undefined;
  if (elector) rest.fence = eventsRest.fence = () => elector.mayAct();
  const probes = {
    // Liveness: the process is stuck (not: the API server is away — restarting would not help).
    healthy: () => controller.healthy(),
    // Readiness follows the caches and the watches. A standby replica is ready: waiting is its job.
    ready: () => (elector && !elector.isLeader() ? { ok: true, detail: "standby" } : controller.ready()),
  };
  const servers = [
    await startHttp(config.healthPort, probes, config.metricsPort === config.healthPort ? metrics.registry : undefined),
  ];
  if (config.metricsPort !== config.healthPort && config.metricsPort > 0)
    servers.push(await startHttp(config.metricsPort, probes, metrics.registry));

  const autoscaler =
    config.autoscalerIntervalSeconds > 0
      ? new AutoscalerLoop({
          controller,
          log: log.child("autoscaler"),
          metrics,
          intervalSeconds: config.autoscalerIntervalSeconds,
          gcsOverrides: config.gcsAddressOverrides,
        })
      : undefined;
  if (!autoscaler) log.warn("autoscaler disabled (AUTOSCALER_INTERVAL_SECONDS=0): workers stay at the desired counts");

  const lead = async () => {
    started = true;
    metrics.leader.set(1);
    await controller.startInformers();
    log.info(`caches synced: ${controller.clusters.size()} RayClusters, ${controller.pods.size()} pods`);
    controller.start();
    autoscaler?.start();
  };

  let stopping = false;
  const shutdown = async (signal: string, code = 0) => {
    if (stopping) return;
    stopping = true;
    log.info(`${signal}: shutting down`);
    const timer = setTimeout(() => process.exit(code), 20_000);
    timer.unref();
    autoscaler?.stop();
    if (started) await controller.stop();
    await elector?.release();
    for (const s of servers) s.close();
    rest.close();
    eventsRest.close();
    electionRest?.close();
    log.info("stopped");
    process.exit(code);
  };
  process.on("SIGTERM", () => void shutdown("SIGTERM"));
  process.on("SIGINT", () => void shutdown("SIGINT"));

  if (elector) {
    log.info(`waiting to lead (lease ${config.operatorNamespace}/${LEADER_ELECTION_LEASE})`);
    // Losing the lease means another replica may already act: stop at once, as controller-runtime does.
    void elector.run(
      () => void lead(),
      () => void shutdown("lost leadership", 1),
    );
  } else await lead();
}

main().catch((e) => {
  console.error(`ray-operator: ${e instanceof Error ? e.stack : e}`);
  process.exit(1);
});
