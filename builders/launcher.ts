// What runs in a pod's Ray container: the launcher script that sets Ray up, starts it and lives as long
// as it runs, and the readiness probe that says when Ray runs.
import { NodeKind } from "../api/v1/types";
import type { Probe } from "../api/v1/kube-types";

/**
 * The Ray processes whose presence means "Ray runs on this node": the raylet everywhere, and on the
 * head the control store (GCS) too. When one is gone Ray no longer runs here, whatever the container.
 */
const RAY_PROCESSES: Record<NodeKind, string[]> = { head: ["gcs_server", "raylet"], worker: ["raylet"] };
/** How often the launcher looks for Ray's processes once Ray is started. */
const RAY_WATCH_SECONDS = 2;
/** How long Ray's processes may take to appear after the start commands returned (env RAY_START_TIMEOUT_SECONDS). */
const RAY_START_SECONDS = 30;

/**
 * A bash script that sets up and starts Ray, then keeps the container alive exactly as long as Ray
 * runs in it: when a Ray process stops by itself (killed, crashed, or a worker's raylet exiting after
 * a drain) the container exits, so the pod does not stay Running without Ray and the operator replaces
 * it (or, for a drained worker, deletes it). SIGTERM stops Ray and exits 0. It reads /proc, so it
 * needs nothing in the image beyond bash.
 */
export function rayLauncherScript(setupCommands: string[], startCommands: string[], kind: NodeKind = "worker"): string {
  // Each command must succeed, judged like a shell line: `ulimit -n 65536; ray start ...` succeeds
  // when `ray start` does. A failure ends the container, so the pod fails visibly and is replaced.
  const step = (cmd: string) => {
    const shown = cmd.replace(/["\\$`]/g, "\\$&").split("\n")[0];
    return `{\n${cmd}\n} || { echo "ray-operator: command failed: ${shown}" >&2; exit 1; }`;
  };
  const watched = RAY_PROCESSES[kind];
  const startTimeout = `"\${RAY_START_TIMEOUT_SECONDS:-${RAY_START_SECONDS}}"`;
  const notStarted = `{ echo "ray-operator: Ray did not start on this node ($gone is not running)" >&2; exit 1; }`;
  return [
    "trap 'ray stop >/dev/null 2>&1 || true; exit 0' TERM INT",
    ...setupCommands.map(step),
    ...startCommands.map(step),
    `ray_running() {
  local want="${watched.join(" ")}" seen="" p comm
  for p in /proc/[0-9]*; do
    read -r comm < "$p/comm" 2>/dev/null || continue
    case " $want " in *" $comm "*) seen="$seen $comm" ;; esac
  done
  for p in $want; do case " $seen " in *" $p "*) ;; *) echo "$p"; return 1 ;; esac; done
}
tries=0
until gone=$(ray_running); do
  tries=$((tries + 1))
  [ "$tries" -lt ${startTimeout} ] || ${notStarted}
  sleep 1 & wait $!
done
while gone=$(ray_running); do sleep ${RAY_WATCH_SECONDS} & wait $!; done
echo "ray-operator: Ray stopped on this node ($gone is not running); the container exits" >&2
exit 1`,
  ].join("\n");
}

/**
 * Ready means Ray runs: on the head, its control store (GCS) accepts connections; on a worker, its
 * raylet runs (a worker has no fixed port to try: the raylet's is chosen at start). Without it a
 * worker would be Ready as soon as its container starts, seconds before it is a Ray node.
 */
export function rayReadinessProbe(kind: NodeKind): Probe {
  if (kind === "head") return { tcpSocket: { port: 6379 }, periodSeconds: 5, failureThreshold: 3 };
  const check = [
    "for p in /proc/[0-9]*; do",
    'read -r c < "$p/comm" 2>/dev/null && [ "$c" = raylet ] && exit 0;',
    "done; exit 1",
  ].join(" ");
  return { exec: { command: ["/bin/bash", "-c", check] }, periodSeconds: 5, failureThreshold: 3 };
}
