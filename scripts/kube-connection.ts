// client-node's KubeConfig as the operator's Connection, for tests, benchmarks and scripts that
// already hold one (and may need what the operator's own loader refuses: exec plugins, for the
// Pulumi workflow against a user's cluster). The operator itself never loads client-node.
import type * as https from "https";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Connection } from "../operator/kube/kubeconfig";

const buffer = (v: unknown): Buffer | undefined =>
  typeof v === "string" ? Buffer.from(v) : Buffer.isBuffer(v) ? v : undefined;

/**
 * The current context of `kc`: server, TLS material and the bearer token client-node would send now
 * (a plugin's token is taken once: these clients live for one test or one benchmark).
 */
export async function connectionOf(kc: KubeConfig): Promise<Connection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  const o: https.RequestOptions = { headers: {} };
  await kc.applyToHTTPSOptions(o);
  const conn: Connection = { server: cluster.server };
  const ca = buffer(o.ca);
  const cert = buffer(o.cert);
  const key = buffer(o.key);
  if (ca) conn.ca = ca;
  if (cert) conn.cert = cert;
  if (key) conn.key = key;
  if (o.rejectUnauthorized === false) conn.insecureSkipTLSVerify = true;
  if (o.servername) conn.tlsServerName = o.servername;
  const auth = (o.headers as Record<string, unknown> | undefined)?.Authorization;
  if (typeof auth === "string" && auth.startsWith("Bearer ")) conn.token = auth.slice("Bearer ".length);
  else if (auth !== undefined || o.auth) throw new Error("kubeconfig: only bearer tokens and client certificates");
  return conn;
}
