// Fault injection for the fault tests, in the spirit of etcd's gofail: named points in the code where
// a crash or a lost answer can be made to happen exactly there. Off unless RAY_OPERATOR_FAILPOINT
// names the point (comma-separated); never set in a Deployment.
const active = new Set((process.env.RAY_OPERATOR_FAILPOINT ?? "").split(",").filter(Boolean));

export type Failpoint =
  /** Die (SIGKILL) the moment Ray has drained a node, before its pod is deleted. */
  | "exit-after-drain"
  /** Lose the answer to a head pod's create that succeeded (as a dropped connection would). */
  | "lose-head-create-answer";

export const failpoint = (name: Failpoint): boolean => active.has(name);
