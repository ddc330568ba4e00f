// Where the API server is and how to authenticate to it: in cluster, the ServiceAccount the kubelet
// mounts; out of cluster, $KUBECONFIG or ~/.kube/config. Why not client-node's KubeConfig: loading
// it pulls in the whole generated API (every model and its serializer), WebSockets, JSONPath and the
// cloud auth plugins, tens of megabytes of resident memory for the few fields read here. What is not
// supported (exec and auth-provider plugins, basic auth, impersonation, proxies) is refused with the
// field named, rather than ignored: a silently dropped credential would only show up later as 401s.
import { existsSync, readFileSync } from "fs";
import { homedir } from "os";
import { delimiter, dirname, isAbsolute, join, resolve } from "path";
import type * as YamlModule from "yaml";

/** What a client needs to reach the API server: its address, TLS material and a bearer token. */
export interface Connection {
  /** `https://host:port` (or `http://` for a plain local server). */
  server: string;
  /** PEM CA bundle that signs the server's certificate; the system's CAs when absent. */
  ca?: Buffer;
  /** PEM client certificate and key (both or neither). */
  cert?: Buffer;
  key?: Buffer;
  /** The server's certificate is not verified (kubeconfig `insecure-skip-tls-verify`). */
  insecureSkipTLSVerify?: boolean;
  /** The name checked against the server's certificate, when it differs from the host in `server`. */
  tlsServerName?: string;
  /** A bearer token, fixed for the life of the process. */
  token?: string;
  /** A file holding the bearer token, read again as it rotates (a projected ServiceAccount token). */
  tokenFile?: string;
}

/** The paths of the ServiceAccount volume the kubelet mounts into every pod that asks for it. */
export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

/**
 * In cluster: the `kubernetes` Service's address from the environment, the CA and token files of
 * the mounted ServiceAccount. Undefined when not running in a pod (no KUBERNETES_SERVICE_HOST).
 */
export function inClusterConnection(
  env: NodeJS.ProcessEnv = process.env,
  dir = SERVICE_ACCOUNT_DIR,
): Connection | undefined {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) return undefined;
  const tokenFile = join(dir, "token");
  if (!existsSync(tokenFile)) return undefined;
  // An IPv6 address goes in brackets inside a URL.
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const caFile = join(dir, "ca.crt");
  return {
    server: `https://${hostPart}:${port}`,
    ca: existsSync(caFile) ? readFileSync(caFile) : undefined,
    tokenFile,
  };
}

/** A mapping in a kubeconfig, with the path to it for error messages. */
type Fields = Record<string, unknown>;

class KubeconfigError extends Error {
  constructor(file: string, field: string, problem: string) {
    super(`kubeconfig ${file}: ${field}: ${problem}`);
    this.name = "KubeconfigError";
  }
}

/** A named entry of one of the three lists, with the file it came from (relative paths resolve there). */
interface Entry {
  file: string;
  /** e.g. `users[0].user`, for error messages. */
  at: string;
  fields: Fields;
}

const isMapping = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
/** null and absent are the same: kubeconfig writers (client-node's exportConfig among them) emit both. */
const present = (v: unknown) => v !== undefined && v !== null;

/** The fields read here; any other field of a cluster or user entry is refused, by name. */
const CLUSTER_FIELDS = new Set([
  "server",
  "certificate-authority",
  "certificate-authority-data",
  "insecure-skip-tls-verify",
  "tls-server-name",
  // Neither changes how to connect or authenticate: extensions are tool metadata, compression is
  // the server's to offer.
  "extensions",
  "disable-compression",
]);
const USER_FIELDS = new Set([
  "client-certificate",
  "client-certificate-data",
  "client-key",
  "client-key-data",
  "token",
  "tokenFile",
  "extensions",
]);
/** Why a known field is refused, so the message says what to do instead. */
const UNSUPPORTED: Record<string, string> = {
  exec: "exec credential plugins are not supported; use a token, a token file or a client certificate",
  "auth-provider": "auth-provider plugins are not supported; use a token, a token file or a client certificate",
  username: "basic authentication is not supported (removed from Kubernetes in 1.19)",
  password: "basic authentication is not supported (removed from Kubernetes in 1.19)",
  as: "impersonation is not supported",
  "as-uid": "impersonation is not supported",
  "as-groups": "impersonation is not supported",
  "as-user-extra": "impersonation is not supported",
  "proxy-url": "proxies are not supported",
};

function checkFields(entry: Entry, allowed: Set<string>): void {
  for (const [k, v] of Object.entries(entry.fields)) {
    if (allowed.has(k) || !present(v)) continue;
    throw new KubeconfigError(entry.file, `${entry.at}.${k}`, UNSUPPORTED[k] ?? "not supported by this operator");
  }
}

function str(entry: Entry, field: string): string | undefined {
  const v = entry.fields[field];
  if (!present(v)) return undefined;
  if (typeof v !== "string" || v === "")
    throw new KubeconfigError(entry.file, `${entry.at}.${field}`, "must be a non-empty string");
  return v;
}

function bool(entry: Entry, field: string): boolean | undefined {
  const v = entry.fields[field];
  if (!present(v)) return undefined;
  if (typeof v !== "boolean") throw new KubeconfigError(entry.file, `${entry.at}.${field}`, "must be true or false");
  return v;
}

/** A file named by a kubeconfig: relative to that kubeconfig's directory, as kubectl reads it. */
function readNamed(entry: Entry, field: string): Buffer | undefined {
  const path = str(entry, field);
  if (path === undefined) return undefined;
  const full = isAbsolute(path) ? path : resolve(dirname(entry.file), path);
  try {
    return readFileSync(full);
  } catch (e) {
    throw new KubeconfigError(entry.file, `${entry.at}.${field}`, `cannot read ${full}: ${(e as Error).message}`);
  }
}

function base64(entry: Entry, field: string): Buffer | undefined {
  const v = str(entry, field);
  return v === undefined ? undefined : Buffer.from(v, "base64");
}

/** `-data` wins over the file, as in kubectl; both absent is undefined. */
function material(entry: Entry, fileField: string, dataField: string): Buffer | undefined {
  return base64(entry, dataField) ?? readNamed(entry, fileField);
}

/** The kubeconfig files to read: $KUBECONFIG (a list, like PATH), else ~/.kube/config. */
export function kubeconfigFiles(env: NodeJS.ProcessEnv = process.env): string[] {
  const listed = (env.KUBECONFIG ?? "").split(delimiter).filter(Boolean);
  if (listed.length) return listed;
  return [join(env.HOME || homedir(), ".kube", "config")];
}

/**
 * The connection of the current context of the given kubeconfig files. Several files merge as in
 * kubectl: the first to set `current-context` sets it, and the first entry of a name wins.
 */
export function kubeconfigConnection(files: string[]): Connection {
  let current: string | undefined;
  const named = {
    clusters: new Map<string, Entry>(),
    users: new Map<string, Entry>(),
    contexts: new Map<string, Entry>(),
  };
  const inner = { clusters: "cluster", users: "user", contexts: "context" } as const;
  const read: string[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      // A listed file that does not exist is skipped, as kubectl does; the error below names them all.
      if ((e as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new Error(`kubeconfig ${file}: ${(e as Error).message}`);
    }
    read.push(file);
    // Loaded only here: in a pod the operator reads its ServiceAccount and never parses YAML, and the
    // library is 1.5 MB of resident memory once loaded (#15).
    const YAML = require("yaml") as typeof YamlModule;
    const doc: unknown = YAML.parse(text);
    if (!present(doc)) continue;
    if (!isMapping(doc)) throw new KubeconfigError(file, "(top level)", "must be a mapping");
    const cc = doc["current-context"];
    if (current === undefined && typeof cc === "string" && cc !== "") current = cc;
    for (const list of ["clusters", "users", "contexts"] as const) {
      const items = doc[list];
      if (!present(items)) continue;
      if (!Array.isArray(items)) throw new KubeconfigError(file, list, "must be a list");
      items.forEach((item: unknown, i) => {
        const at = `${list}[${i}]`;
        if (!isMapping(item) || typeof item.name !== "string")
          throw new KubeconfigError(file, `${at}.name`, "must be a string");
        const fields = item[inner[list]] ?? {};
        if (!isMapping(fields)) throw new KubeconfigError(file, `${at}.${inner[list]}`, "must be a mapping");
        if (!named[list].has(item.name)) named[list].set(item.name, { file, at: `${at}.${inner[list]}`, fields });
      });
    }
  }
  const where = files.join(delimiter);
  if (!read.length) throw new Error(`no kubeconfig: none of ${where} exists, and not running in a pod`);
  if (current === undefined) throw new KubeconfigError(where, "current-context", "is not set");
  const context = named.contexts.get(current);
  if (!context) throw new KubeconfigError(where, "current-context", `no context named "${current}"`);
  const clusterName = str(context, "cluster");
  if (!clusterName) throw new KubeconfigError(context.file, `${context.at}.cluster`, "is not set");
  const cluster = named.clusters.get(clusterName);
  if (!cluster) throw new KubeconfigError(context.file, `${context.at}.cluster`, `no cluster named "${clusterName}"`);
  const userName = str(context, "user");
  // A context without a user is valid (an unauthenticated client); one naming a missing user is not.
  const user = userName === undefined ? undefined : named.users.get(userName);
  if (userName !== undefined && !user)
    throw new KubeconfigError(context.file, `${context.at}.user`, `no user named "${userName}"`);

  checkFields(cluster, CLUSTER_FIELDS);
  const server = str(cluster, "server");
  if (!server) throw new KubeconfigError(cluster.file, `${cluster.at}.server`, "is not set");
  const conn: Connection = {
    server: server.replace(/\/+$/, ""),
    ca: material(cluster, "certificate-authority", "certificate-authority-data"),
    insecureSkipTLSVerify: bool(cluster, "insecure-skip-tls-verify"),
    tlsServerName: str(cluster, "tls-server-name"),
  };
  if (user) {
    checkFields(user, USER_FIELDS);
    conn.cert = material(user, "client-certificate", "client-certificate-data");
    conn.key = material(user, "client-key", "client-key-data");
    if (!conn.cert !== !conn.key)
      throw new KubeconfigError(user.file, user.at, "client-certificate and client-key go together; one is missing");
    conn.token = str(user, "token");
    const tokenFile = str(user, "tokenFile");
    if (tokenFile !== undefined && conn.token === undefined)
      conn.tokenFile = isAbsolute(tokenFile) ? tokenFile : resolve(dirname(user.file), tokenFile);
  }
  for (const k of Object.keys(conn) as Array<keyof Connection>) if (conn[k] === undefined) delete conn[k];
  return conn;
}

/** As client-go's default loading: in cluster when in a pod, else $KUBECONFIG or ~/.kube/config. */
export function loadConnection(env: NodeJS.ProcessEnv = process.env): Connection {
  // An explicit KUBECONFIG wins even in a pod, as with kubectl (the tests run the operator that way).
  if (!env.KUBECONFIG) {
    const inCluster = inClusterConnection(env);
    if (inCluster) return inCluster;
  }
  return kubeconfigConnection(kubeconfigFiles(env));
}
