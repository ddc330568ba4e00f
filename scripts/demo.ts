// npm start: the whole workflow for a new user, in one command.
//  - With KUBECONFIG set (your kind, minikube or real cluster): `pulumi up` of the dev stack there;
//    the operator runs in-cluster from its image (ray-operator:operator.image).
//  - Otherwise: a local control plane (npm run cluster:up) as an embedded default; no container
//    runtime runs there, so the operator process runs here, beside its simulated pod, with that
//    Deployment's ServiceAccount token, i.e. under exactly the RBAC Pulumi installed.
// It ends by printing what to type next.
import { spawn } from "child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "fs";
import { buildOperator, serviceAccountToken, tokenKubeconfig } from "./operator-process";
import { join } from "path";
import * as k8s from "@kubernetes/client-node";
import { ensurePulumi, pulumi, pulumiEnv, ROOT } from "./pulumi-cli";
import { startControlPlane, ControlPlaneState, isRunning } from "./cluster/control-plane";
import { loadStackConfig } from "../config/stack-config";
import { readStackFile } from "../config/read-stack-file";
import { KubeRest } from "../operator/kube/rest";
import { GROUP, PLURAL, VERSION } from "../api/v1/types";
import { SERVICE_ACCOUNT } from "../builders/rbac";

const log = (l: string) => console.error(`[start] ${l}`);
const CLUSTER_DIR = join(ROOT, ".cluster");

async function localControlPlane(): Promise<string> {
  const stateFile = join(CLUSTER_DIR, "state.json");
  if (existsSync(stateFile)) {
    const state: ControlPlaneState = JSON.parse(readFileSync(stateFile, "utf8"));
    if (isRunning(state)) {
      log(`using the local control plane already running at ${state.server}`);
      return state.kubeconfig;
    }
  }
  log("starting a local control plane (the first run builds it from the Go module proxy; later runs take seconds)");
  return (await startControlPlane({ stateDir: CLUSTER_DIR, log })).kubeconfig;
}

/** Starts the operator process in the background under the ServiceAccount Pulumi created. */
async function runOperatorLocally(kubeconfig: string, namespace: string): Promise<string> {
  const pidFile = join(CLUSTER_DIR, "operator.pid");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
      log("stopped the previous operator process");
    } catch {
      /* not running */
    }
  }
  const main = buildOperator();
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const saKubeconfig = tokenKubeconfig(kc, await serviceAccountToken(kc, namespace, SERVICE_ACCOUNT, 86400), namespace);
  const logFile = join(CLUSTER_DIR, "operator.log");
  const fd = openSync(logFile, "a");
  const p = spawn(process.execPath, ["--enable-source-maps", main], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", fd, fd],
    env: { ...process.env, KUBECONFIG: saKubeconfig, RAY_OPERATOR_POD_NAMESPACE: namespace, OPERATOR_NAMESPACE: namespace, POD_NAME: "ray-operator-local", HEALTH_PORT: "0", METRICS_PORT: "0",
      // kwok's simulated nodes run no containers, so no Ray answers there: without this, every cluster
      // would (truthfully) report its control store unreachable. Against a real cluster it runs.
      AUTOSCALER_INTERVAL_SECONDS: "0" },
  });
  closeSync(fd);
  p.unref();
  writeFileSync(pidFile, String(p.pid));
  return logFile;
}

async function waitForClusters(kubeconfig: string, namespace: string, names: string[]): Promise<void> {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rest = await KubeRest.create(kc);
  const deadline = Date.now() + 180_000;
  try {
    while (Date.now() < deadline) {
      const list = await rest.get(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`);
      const ready = list.items.filter((rc: any) => rc.status?.conditions?.some((c: any) => c.type === "Ready" && c.status === "True")).map((rc: any) => rc.metadata.name);
      if (names.every((n) => ready.includes(n))) {
        for (const rc of list.items) log(`${rc.metadata.name}: ${rc.status.phase}, ${rc.status.workers?.ready ?? 0}/${rc.status.workers?.desired ?? 0} workers ready, head ${rc.status.head?.podName}`);
        return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
    log("the clusters are not Ready yet; check `kubectl get rayclusters` and the operator's log");
  } finally {
    rest.close();
  }
}

async function main() {
  const given = process.env.KUBECONFIG;
  const kubeconfig = given ?? (await localControlPlane());
  const local = !given;
  const config = loadStackConfig(readStackFile(join(ROOT, "Pulumi.dev.yaml")));
  const namespace = config.namespace.name;

  log("preparing the Pulumi CLI, its Node.js language host and the Kubernetes provider (built once from the Go module proxy)");
  const env = pulumiEnv({ binDir: ensurePulumi(), stateDir: join(ROOT, ".pulumi-state"), kubeconfig, passphrase: process.env.PULUMI_CONFIG_PASSPHRASE });
  mkdirSync(CLUSTER_DIR, { recursive: true });
  const select = await pulumi(["stack", "select", "dev", "--create"], env);
  if (select.code !== 0) throw new Error(`pulumi stack select dev: ${select.stderr}`);
  log(`pulumi up (stack dev, state in .pulumi-state/, cluster ${kubeconfig})`);
  const up = await pulumi(["up", "--yes", "--skip-preview", "--stack", "dev"], env, { echo: true });
  if (up.code !== 0) throw new Error("pulumi up failed (see above)");

  let operatorLog = "";
  if (local) operatorLog = await runOperatorLocally(kubeconfig, namespace);
  await waitForClusters(kubeconfig, namespace, Object.keys(config.clusters));

  const k = local ? `KUBECONFIG=${kubeconfig} kubectl` : "kubectl";
  console.log(`
Ray clusters are up. Next:
  ${k} -n ${namespace} get rayclusters
  ${k} -n ${namespace} get pods
  ${local ? `grep ^example-cluster2: ${operatorLog}        # the operator's log, one cluster` : `kubectl -n ${namespace} logs deploy/ray-operator | grep ^example-cluster2:`}
Change a cluster (edit Pulumi.dev.yaml, or:)
  npm run pulumi -- config set --path 'clusters.example-cluster2.spec.podTypes[1].minWorkers' 2
  npm run pulumi -- up --yes
Tear down:
  npm run pulumi -- destroy --yes${local ? "\n  npm run cluster:down        # stops the local control plane and the operator process" : ""}
`);
}

main().catch((e) => {
  console.error(`[start] ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
