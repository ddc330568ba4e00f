// npm run cluster:up / cluster:down — a local control plane for the demo and for `npm run operator`.
import { existsSync, readFileSync, rmSync } from "fs";
import { join, resolve } from "path";
import { isRunning, startControlPlane, stopControlPlane, ControlPlaneState, adminGet } from "./control-plane";

const STATE_DIR = resolve(__dirname, "..", "..", ".cluster");
const stateFile = join(STATE_DIR, "state.json");
const log = (l: string) => console.error(`[cluster] ${l}`);

function readState(): ControlPlaneState | undefined {
  return existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) : undefined;
}

async function up() {
  const existing = readState();
  if (existing && isRunning(existing)) {
    const pkiDir = join(existing.dataDir, "pki");
    const ready = await adminGet(existing.server, { caCert: join(pkiDir, "ca.crt"), adminCert: join(pkiDir, "admin.crt"), adminKey: join(pkiDir, "admin.key") }, "/readyz");
    if (ready.status === 200) {
      log(`already running at ${existing.server}`);
      console.log(existing.kubeconfig);
      return;
    }
  }
  if (existing) {
    log("found a stopped or broken control plane; cleaning it up");
    stopControlPlane(existing);
  }
  const state = await startControlPlane({ stateDir: STATE_DIR, log });
  log(`export KUBECONFIG=${state.kubeconfig}`);
  console.log(state.kubeconfig);
}

function down() {
  // The operator process `npm start` runs beside a local control plane goes with it.
  const pidFile = join(STATE_DIR, "operator.pid");
  if (existsSync(pidFile)) {
    try {
      process.kill(Number(readFileSync(pidFile, "utf8")), "SIGTERM");
      log("stopped the operator process");
    } catch {
      /* already gone */
    }
    rmSync(pidFile);
  }
  const existing = readState();
  if (!existing) {
    log("no control plane is running");
    return;
  }
  stopControlPlane(existing);
  log("stopped");
}

const cmd = process.argv[2];
if (cmd === "up") up().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
else if (cmd === "down") down();
else {
  console.error("usage: cluster.ts up|down");
  process.exit(2);
}
