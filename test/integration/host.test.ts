// The real node leaves the machine as it found it (issue 12): `npm run cluster:up` with pods running,
// then `npm run cluster:down`; and a bring-up killed half-way (a test run that died), cleaned up by the
// next `cluster:down`. Compared by an independent snapshot of the host (test/support/host-snapshot.ts),
// not by the journal the scripts keep. Runs the project's own CLI in child processes, in a state
// directory of its own, with the shared test cluster stopped first (one real node per machine).
import { strict as assert } from "assert";
import { ChildProcess, spawn } from "child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "fs";
import { tmpdir } from "os";
import { join } from "path";
import { releaseSharedCluster } from "../support/cluster";
import { hostSnapshot } from "../support/host-snapshot";
import { JOURNAL_FILE, processAlive, whyNoRealNode } from "../../scripts/cluster/host";
import { clientsFromFile, eventually } from "../helpers/kube";
import { ROOT } from "../helpers/examples";

const CLI = join(ROOT, "scripts", "cluster", "cli.ts");
const TS_NODE = join(ROOT, "node_modules", "ts-node", "dist", "bin.js");

function cli(
  args: string[],
  stateDir: string,
): { proc: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const proc = spawn(process.execPath, [TS_NODE, CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, RAY_OPERATOR_CLUSTER_DIR: stateDir },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  let output = "";
  proc.stdout!.on("data", (d) => (output += d));
  proc.stderr!.on("data", (d) => (output += d));
  return { proc, done: new Promise((r) => proc.once("exit", (code) => r({ code, output }))) };
}

describe("the real node and the host (integration)", function () {
  this.timeout(1_800_000);
  let stateDir: string;

  before(async function () {
    this.timeout(3_600_000);
    await releaseSharedCluster();
    const why = whyNoRealNode();
    if (why) throw new Error(`the real node cannot run here: ${why}`);
  });
  beforeEach(() => (stateDir = mkdtempSync(join(tmpdir(), "ray-operator-host-"))));
  afterEach(async () => {
    // Whatever happened, put the host back before the next test.
    if (existsSync(join(stateDir, "state.json"))) await cli(["down"], stateDir).done;
    rmSync(stateDir, { recursive: true, force: true });
  });

  it("cluster:up, a pod running on the real node, cluster:down: the machine is as it was", async () => {
    const before = hostSnapshot();
    const up = await cli(["up"], stateDir).done;
    assert.equal(up.code, 0, up.output);
    const c = clientsFromFile(join(stateDir, "kubeconfig"));
    await c.core.createNamespacedPod({
      namespace: "default",
      body: {
        metadata: { name: "sleeper" },
        spec: {
          containers: [
            {
              name: "c",
              image: "rayproject/ray:2.60.0",
              imagePullPolicy: "Never",
              command: ["sleep", "3600"],
              volumeMounts: [{ name: "m", mountPath: "/m" }],
            },
          ],
          volumes: [{ name: "m", emptyDir: { medium: "Memory" } }],
        },
      },
    });
    await eventually(
      "the pod Running on the real node",
      async () =>
        (await c.core.readNamespacedPod({ namespace: "default", name: "sleeper" })).status?.phase === "Running",
      120_000,
      500,
    );
    assert.notDeepEqual(hostSnapshot(), before, "the node changed the host while it ran (the check can see it)");
    const down = await cli(["down"], stateDir).done;
    assert.equal(down.code, 0, down.output);
    assert.match(down.output, /the host is as it was/);
    assert.deepEqual(hostSnapshot(), before);
    assert.ok(!existsSync(JOURNAL_FILE), "no journal left");
  });

  it("a bring-up killed half-way is undone by the next cluster:down", async () => {
    const before = hostSnapshot();
    const up = cli(["up"], stateDir);
    // Killed once the node is half-made: containerd and the kubelet started, the node not Ready yet.
    const journal = await eventually(
      "the kubelet started",
      async () => {
        if (!existsSync(JOURNAL_FILE)) return undefined;
        const j = JSON.parse(readFileSync(JOURNAL_FILE, "utf8")) as { pids: Record<string, number> };
        return j.pids.kubelet ? j : undefined;
      },
      600_000,
      100,
    );
    process.kill(-up.proc.pid!, "SIGKILL");
    await up.done;
    assert.ok(
      processAlive(journal.pids.kubelet),
      "the kubelet outlived the killed bring-up (so there is something to clean)",
    );
    const down = await cli(["down"], stateDir).done;
    assert.equal(down.code, 0, down.output);
    for (const [name, pid] of Object.entries(journal.pids))
      assert.ok(!processAlive(pid), `${name} (${pid}) still runs`);
    assert.deepEqual(hostSnapshot(), before);
  });
});
