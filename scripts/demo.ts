// npm start: the whole workflow for a new user, in one command, ending with a Ray program's result.
//  - Without KUBECONFIG: the local cluster (npm run cluster:up): a control plane, simulated nodes and
//    a real node that runs containers, with the operator's image and a Ray image built here and
//    imported into it. `pulumi up` of the dev stack installs the CRD, namespace, RBAC, the operator
//    Deployment (it runs in-cluster from its image) and the seed's RayClusters, whose pods run Ray.
//  - With KUBECONFIG (your kind, minikube or real cluster): the same `pulumi up` there, once the
//    operator's image can reach it (it says how, and stops at once if the cluster cannot pull it).
// Then it runs a Ray program on example-cluster through Ray's job submission, prints its result and
// `ray status`, and what to type next.
import { join } from "path";
import * as k8s from "@kubernetes/client-node";
import { emptyPassphraseWarning, ensurePulumi, pulumi, pulumiEnv, ROOT } from "./pulumi-cli";
import { ensureLocalCluster } from "./cluster/cli";
import { loadStackConfig } from "../config/stack-config";
import { readStackFile } from "../config/read-stack-file";
import { KubeRest } from "../operator/kube/rest";
import { connectionOf } from "./kube-connection";
import { GROUP, PLURAL, RayCluster, VERSION } from "../api/v1/types";
import { operatorLabels } from "../builders/operator-workload";
import { pythonEntrypoint, RayJobClient } from "./ray-jobs";
import { IMAGES_SCRIPT } from "./cluster/node";

const log = (l: string) => console.error(`[start] ${l}`);
const DEMO_CLUSTER = "example-cluster";
const DASHBOARD_PORT = 8265;

/** The program `npm start` runs on the cluster: tasks spread over its nodes, each saying where it ran. */
const PROGRAM = `
import socket, time, ray
ray.init()
@ray.remote(scheduling_strategy="SPREAD")
def square(x):
    time.sleep(0.1)
    return x * x, socket.gethostname()
results = ray.get([square.remote(i) for i in range(100)])
print("RESULT sum of squares of 0..99 =", sum(r for r, _ in results))
print("RESULT computed on pods:", ", ".join(sorted({host for _, host in results})))
`;
/** The program's own lines (a job's log also holds Ray's and the job manager's). */
const resultLines = (logs: string) =>
  logs
    .split("\n")
    .filter((l) => l.startsWith("RESULT "))
    .map((l) => l.slice("RESULT ".length))
    .join("\n");
/** `ray status` from its banner on. */
const statusBlock = (logs: string) => logs.slice(Math.max(0, logs.indexOf("========"))).trim();

/** Image pull failures that no wait can fix: the cluster cannot get the operator's image. */
const PULL_FAILURES = ["ErrImagePull", "ImagePullBackOff", "ErrImageNeverPull", "InvalidImageName"];

function imageHowTo(image: string): string {
  const yours = "<your-registry>/ray-operator:0.1.0";
  const buildScript = IMAGES_SCRIPT.replace(`${ROOT}/`, "");
  return [
    `The operator runs in your cluster from the image ${image} (stack config ray-operator:operator.image).`,
    "Get it there first, then run npm start again:",
    `  - with Docker:   docker build -f operator/Dockerfile -t ${yours} . && docker push ${yours}`,
    `  - without it:    bash ${buildScript}   (buildah, no registry; prints a docker-archive tarball), then`,
    `                   skopeo copy docker-archive:<tarball> docker://${yours}` +
      "   (or: kind load image-archive <tarball>)",
    `  - then:          npm run pulumi -- config set --path operator.image ${yours}`,
  ].join("\n");
}

/** Watches the operator's pods while `pulumi up` runs; resolves with the reason when one can never start. */
function watchOperatorImage(rest: KubeRest, namespace: string, signal: AbortSignal): Promise<string | undefined> {
  const selector = Object.entries(operatorLabels)
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return (async () => {
    while (!signal.aborted) {
      try {
        const pods = await rest.get<{ items: k8s.V1Pod[] }>(`/api/v1/namespaces/${namespace}/pods`, {
          labelSelector: selector,
        });
        for (const p of pods.items) {
          for (const cs of p.status?.containerStatuses ?? []) {
            const reason = cs.state?.waiting?.reason;
            if (reason && PULL_FAILURES.includes(reason))
              return `${p.metadata?.name}: ${reason}: ${cs.state?.waiting?.message ?? ""}`;
          }
        }
      } catch {
        /* the namespace may not exist yet */
      }
      await new Promise((r) => setTimeout(r, 2000));
    }
    return undefined;
  })();
}

const isReady = (rc: RayCluster) => !!rc.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True");

async function waitForClusters(
  rest: KubeRest,
  namespace: string,
  names: string[],
  timeoutMs: number,
): Promise<RayCluster[]> {
  const deadline = Date.now() + timeoutMs;
  let list: RayCluster[] = [];
  while (Date.now() < deadline) {
    list = (await rest.get<{ items: RayCluster[] }>(`/apis/${GROUP}/${VERSION}/namespaces/${namespace}/${PLURAL}`))
      .items;
    if (names.every((n) => list.some((rc) => rc.metadata.name === n && isReady(rc)))) return list;
    await new Promise((r) => setTimeout(r, 2000));
  }
  const waiting = list
    .filter((rc) => !isReady(rc))
    .map(
      (rc) =>
        `${rc.metadata.name}: ${rc.status?.conditions?.find((c) => c.type === "Ready")?.message ?? "no status yet"}`,
    );
  throw new Error(
    `the clusters are not Ready after ${timeoutMs / 1000}s (${waiting.join("; ")}); ` +
      "see kubectl get rayclusters and the operator's log",
  );
}

async function main() {
  const given = process.env.KUBECONFIG;
  const config = loadStackConfig(readStackFile(join(ROOT, "Pulumi.dev.yaml")));
  const namespace = config.namespace.name;
  if (given) log(`using your cluster (KUBECONFIG=${given}).\n${imageHowTo(config.operator.image)}\n`);
  else
    log(
      "starting the local cluster: control plane, simulated nodes and a real node " +
        "(the first run builds everything; later runs take a minute)",
    );
  const kubeconfig = given ?? (await ensureLocalCluster(config.operator.image));
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const rest = await KubeRest.create(await connectionOf(kc));

  try {
    log(
      "preparing the Pulumi CLI, its Node.js language host and the Kubernetes provider " +
        "(built once from the Go module proxy)",
    );
    const env = pulumiEnv({
      binDir: ensurePulumi(),
      stateDir: join(ROOT, ".pulumi-state"),
      kubeconfig,
      passphrase: process.env.PULUMI_CONFIG_PASSPHRASE,
    });
    const passphraseWarning = emptyPassphraseWarning();
    if (passphraseWarning) log(passphraseWarning);
    const select = await pulumi(["stack", "select", "dev", "--create"], env);
    if (select.code !== 0) throw new Error(`pulumi stack select dev: ${select.stderr}`);
    log(`pulumi up (stack dev, state in .pulumi-state/, cluster ${kubeconfig})`);
    const stopWatching = new AbortController();
    const up = pulumi(["up", "--yes", "--skip-preview", "--stack", "dev"], env, {
      echo: true,
      signal: stopWatching.signal,
    });
    const pullFailure = await Promise.race([
      up.then(() => undefined),
      watchOperatorImage(rest, namespace, stopWatching.signal),
    ]);
    if (pullFailure) {
      stopWatching.abort();
      await up;
      throw new Error(`the operator's pod cannot start (${pullFailure}).\n${imageHowTo(config.operator.image)}`);
    }
    stopWatching.abort();
    if ((await up).code !== 0) throw new Error("pulumi up failed (see above)");

    const names = Object.keys(config.clusters);
    log(`waiting for ${names.join(", ")} to be Ready (pods running Ray)`);
    const clusters = await waitForClusters(rest, namespace, names, 600_000);
    for (const rc of clusters) {
      const s = rc.status!;
      log(
        `${rc.metadata.name}: ${s.phase}, ${s.workers?.ready ?? 0}/${s.workers?.desired ?? 0} workers ready, ` +
          `head ${s.head?.podName} (Service ${s.head?.serviceIP})`,
      );
    }

    const target = clusters.find((rc) => rc.metadata.name === DEMO_CLUSTER) ?? clusters[0];
    if (target?.status?.head?.serviceIP) {
      const jobs = new RayJobClient(`http://${target.status.head.serviceIP}:${DASHBOARD_PORT}`);
      await jobs.waitUntilServing();
      log(`running a Ray program on ${target.metadata.name} (Ray job submission, ${jobs.dashboard})`);
      const program = await jobs.run(pythonEntrypoint(PROGRAM.trim()));
      if (program.status !== "SUCCEEDED")
        throw new Error(`the Ray program ended ${program.status}: ${program.message}\n${program.logs}`);
      console.log(`\nA Ray program on ${target.metadata.name}:\n${resultLines(program.logs)}`);
      const status = await jobs.run("ray status");
      console.log(`\nray status on ${target.metadata.name}:\n${statusBlock(status.logs)}`);
    }
  } finally {
    rest.close();
  }

  const k = given ? "kubectl" : `KUBECONFIG=${kubeconfig} kubectl`;
  const clusterDown = given
    ? ""
    : "\n  npm run cluster:down        # stops the local cluster and puts the host back as it was";
  console.log(`
Ray clusters are up. Next:
  ${k} -n ${namespace} get rayclusters
  ${k} -n ${namespace} get pods -o wide
  ${k} -n ${namespace} logs deploy/ray-operator | grep ^example-cluster2:      # the operator's log, one cluster
Change a cluster (edit Pulumi.dev.yaml, or:)
  npm run pulumi -- config set --path 'clusters.example-cluster2.spec.podTypes[1].minWorkers' 2
  npm run pulumi -- up --yes
Tear down:
  npm run pulumi -- destroy --yes${clusterDown}
`);
}

main().catch((e) => {
  console.error(`[start] ${e instanceof Error ? e.message : e}`);
  process.exit(1);
});
