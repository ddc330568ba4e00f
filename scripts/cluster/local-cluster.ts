// The local cluster as `npm run cluster:up`, `npm start` and the tests use it: the control plane with
// its simulated kwok nodes, and — where this machine can host one — the real node beside them.
// The control plane binds the node address whenever the host can be prepared, so the real node can
// join it at once or later (tests start it on first use; `cluster:up` at once).
import { execFileSync } from "child_process";
import { join, resolve } from "path";
import { ControlPlaneOptions, ControlPlaneState, startControlPlane, stopControlPlane } from "./control-plane";
import { HostJournal, NODE_NETWORK, prepareHost, readJournal, restoreHost, whyNoRealNode, writeJournal } from "./host";
import { buildImages, RealNode, startRealNode } from "./node";
import { Pki } from "./pki";
import { DEFAULT_OPERATOR_IMAGE } from "../../config/stack-config";

const DEBIAN_PACKAGES_SCRIPT = resolve(__dirname, "..", "toolchain", "debian-packages.sh");

export interface LocalCluster {
  controlPlane: ControlPlaneState;
  /** Why this cluster has no real node (and can get none), when it has none. */
  noRealNode?: string;
  node?: RealNode;
}

export interface LocalClusterOptions extends ControlPlaneOptions {
  /**
   * `now`: start the real node with the control plane; `later`: be ready to (attachRealNode); `never`:
   * loopback only.
   */
  realNode: "now" | "later" | "never";
  /** The operator image to build and import (the name the stack config uses). */
  operatorImage?: string;
}

export function pkiOf(state: ControlPlaneState): Pki {
  const dir = join(state.dataDir, "pki");
  const p = (f: string) => join(dir, f);
  return {
    dir,
    caCert: p("ca.crt"),
    caKey: p("ca.key"),
    serverCert: p("apiserver.crt"),
    serverKey: p("apiserver.key"),
    adminCert: p("admin.crt"),
    adminKey: p("admin.key"),
    saKey: p("sa.key"),
    saPub: p("sa.pub"),
  };
}

/** The journal of the host changes that belong to this control plane, if any. */
function journalOf(state: ControlPlaneState): HostJournal | undefined {
  const j = readJournal();
  return j && j.stateDir.startsWith(`${state.dataDir}/`) ? j : undefined;
}

/** Installs the node's Debian packages when missing (as root; a no-op when they are there). */
function ensureNodePackages(): void {
  if (process.getuid?.() !== 0) return;
  execFileSync("bash", [DEBIAN_PACKAGES_SCRIPT], { stdio: ["ignore", "inherit", "inherit"] });
}

export async function startLocalCluster(o: LocalClusterOptions): Promise<LocalCluster> {
  const log = o.log ?? (() => {});
  if (o.realNode !== "never") ensureNodePackages();
  const noRealNode = o.realNode === "never" ? "not asked for" : whyNoRealNode();
  if (noRealNode) {
    if (o.realNode === "now") throw new Error(`cannot start the real node: ${noRealNode}`);
    if (o.realNode === "later") log(`no real node for this control plane: ${noRealNode}`);
    return { controlPlane: await startControlPlane(o), noRealNode };
  }
  // The images first when the node starts now: a cold build takes minutes, and nothing of the host
  // is changed while it runs.
  const images = o.realNode === "now" ? buildImages(o.operatorImage ?? DEFAULT_OPERATOR_IMAGE, log) : undefined;
  // The node's state lives under the control plane's data directory, which does not exist yet: the
  // journal is written with a placeholder and pointed at it once the control plane is up.
  let journal: HostJournal;
  try {
    journal = prepareHost(join("/tmp", `ray-operator-node-${process.pid}-${Date.now()}`));
  } catch (e) {
    // Another run took the host between the check above and now.
    if (o.realNode === "now") throw e;
    log(`no real node for this control plane: ${(e as Error).message}`);
    return { controlPlane: await startControlPlane(o), noRealNode: (e as Error).message };
  }
  let controlPlane: ControlPlaneState;
  try {
    controlPlane = await startControlPlane({ ...o, bindAddress: NODE_NETWORK.nodeIp });
  } catch (e) {
    restoreHost(journal, log);
    throw e;
  }
  journal.stateDir = join(controlPlane.dataDir, "node");
  writeJournal(journal);
  const cluster: LocalCluster = { controlPlane };
  if (images) {
    try {
      cluster.node = await startRealNode({
        binDir: controlPlane.binDir,
        server: controlPlane.server,
        pki: pkiOf(controlPlane),
        journal,
        images,
        log,
      });
    } catch (e) {
      stopLocalCluster(cluster, log, { keepData: true });
      throw e;
    }
  }
  return cluster;
}

/** Starts the real node on a control plane started with `realNode: "later"`. */
export async function attachRealNode(
  cluster: LocalCluster,
  operatorImage = DEFAULT_OPERATOR_IMAGE,
  log: (l: string) => void = () => {},
): Promise<RealNode> {
  if (cluster.node) return cluster.node;
  if (cluster.noRealNode) throw new Error(`this cluster has no real node: ${cluster.noRealNode}`);
  const journal = journalOf(cluster.controlPlane);
  if (!journal) throw new Error("the host journal of this control plane is gone (was the host restored under it?)");
  const images = buildImages(operatorImage, log);
  cluster.node = await startRealNode({
    binDir: cluster.controlPlane.binDir,
    server: cluster.controlPlane.server,
    pki: pkiOf(cluster.controlPlane),
    journal,
    images,
    log,
  });
  return cluster.node;
}

/** Hands the host over to a longer-lived owner (the API server of `cluster:up`, which outlives the CLI). */
export function setHostOwner(cluster: LocalCluster, pid: number): void {
  const j = journalOf(cluster.controlPlane);
  if (!j) return;
  j.ownerPid = pid;
  writeJournal(j);
}

/**
 * Stops the real node and puts the host back, then stops the control plane. Returns what could not be
 * undone on the host (empty when the machine is as it was before).
 */
export function stopLocalCluster(
  cluster: Pick<LocalCluster, "controlPlane">,
  log: (l: string) => void = () => {},
  opts: { keepData?: boolean } = {},
): string[] {
  const j = journalOf(cluster.controlPlane);
  const left = j ? restoreHost(j, log) : [];
  stopControlPlane(cluster.controlPlane, opts);
  for (const l of left) log(`left on the host: ${l}`);
  return left;
}
