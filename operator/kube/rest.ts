// A small JSON client for the Kubernetes API, given a Connection (./kubeconfig.ts: kubeconfig files
// and in-cluster credentials). Why not client-node's generated APIs:
// they build a new TLS agent per request (no connection reuse), re-serialize objects through typed
// models that rename some wire fields, and their informer stops on errors. Here: one keep-alive
// agent, plain JSON in and out, a client-side rate limit, streaming watches, and a request counter
// for metrics and benchmarks.
import * as http from "http";
import * as https from "https";
import * as tlsModule from "tls";
import { readFileSync } from "fs";
import type { Connection } from "./kubeconfig";
import type { Status } from "../../api/v1/kube-types";
import { TokenBucket } from "../util/token-bucket";
import { splitLines } from "../util/split-lines";

export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    /** The answer's body, when it was JSON (a Status, as a rule). */
    readonly status?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

export const isNotFound = (e: unknown) => e instanceof ApiError && e.code === 404;
export const isConflict = (e: unknown) => e instanceof ApiError && e.code === 409;
export const isAlreadyExists = (e: unknown) => e instanceof ApiError && e.code === 409 && e.reason === "AlreadyExists";

export interface RequestOptions {
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  timeoutMs?: number;
  /** The flow this request belongs to (a RayCluster's key): the rate limit is shared fairly between flows. */
  flow?: string;
}

/** One event of a watch on objects of type `T`. */
export type WatchEvent<T> =
  | { type: "ADDED" | "MODIFIED" | "DELETED"; object: T }
  /** Only the resourceVersion the watch has reached. */
  | { type: "BOOKMARK"; object: { metadata?: { resourceVersion?: string } } }
  | { type: "ERROR"; object: Status };

/** The fields of an error answer that the operator reads, when the body is a JSON object. */
function errorBody(parsed: unknown): { reason?: unknown; message?: unknown } {
  return parsed !== null && typeof parsed === "object" ? parsed : {};
}

export interface RestStats {
  /** Requests by verb (get, list, watch, create, update, patch, delete). */
  byVerb: Record<string, number>;
}

export type RequestObserver = (verb: string, resource: string, code: number, seconds: number) => void;

export interface KubeRestOptions {
  qps?: number;
  burst?: number;
  userAgent?: string;
  onRequest?: RequestObserver;
}

/** A write refused by this client's fence (see KubeRest.fence): it was never sent. */
export class FencedError extends Error {
  constructor(method: string, path: string) {
    super(`${method} ${path}: not sent: this replica no longer leads (its renew deadline passed)`);
    this.name = "FencedError";
  }
}

const verbOf = (method: string, query?: RequestOptions["query"], named = true) => {
  switch (method) {
    case "GET":
      return query?.watch ? "watch" : named ? "get" : "list";
    case "POST":
      return query?.dryRun ? "create_dry_run" : "create";
    case "PUT":
      return "update";
    case "PATCH":
      return "patch";
    case "DELETE":
      return "delete";
    default:
      return method.toLowerCase();
  }
};

/**
 * The resource part of an API path, namespace dropped:
 * `/api/v1/namespaces/ray/pods/x/status` → [pods, x, status].
 */
function resourceParts(path: string): string[] {
  const parts = path.split("?")[0].split("/").filter(Boolean);
  const rest = parts.slice(parts[0] === "api" ? 2 : 3); // skip api/v1 or apis/group/version
  if (rest[0] === "namespaces" && rest.length > 2) rest.splice(0, 2);
  return rest;
}

/** `/api/v1/namespaces/ray/pods/x/status` → `pods/status`. */
export function resourceOf(path: string): string {
  const [resource, , sub] = resourceParts(path);
  return sub ? `${resource}/${sub}` : (resource ?? "");
}

/** A path names one object (get) rather than a collection (list). */
const isNamedPath = (path: string) => resourceParts(path).length >= 2;

export class KubeRest {
  readonly server: URL;
  readonly stats: RestStats = { byVerb: {} };
  private readonly agent: https.Agent | http.Agent;
  private readonly limiter: TokenBucket;
  private authHeaders: Record<string, string> = {};
  private authFetchedAt = 0;

  private constructor(
    private readonly conn: Connection,
    private readonly opts: KubeRestOptions,
  ) {
    this.server = new URL(conn.server);
    // One secure context for every connection: otherwise each new socket parses the CA and keys again.
    const tls: https.AgentOptions = {
      secureContext: tlsModule.createSecureContext({ ca: conn.ca, cert: conn.cert, key: conn.key }),
      servername: conn.tlsServerName,
    };
    if (conn.insecureSkipTLSVerify) tls.rejectUnauthorized = false;
    if (conn.token) this.authHeaders = { Authorization: `Bearer ${conn.token}` };
    this.agent =
      this.server.protocol === "https:"
        ? new https.Agent({ ...tls, keepAlive: true, maxSockets: 64 })
        : new http.Agent({ keepAlive: true, maxSockets: 64 });
    this.limiter = new TokenBucket(opts.qps ?? 50, opts.burst ?? 100);
  }

  /** Async so that a credential source that needs I/O (a plugin, one day) fits without changing callers. */
  static async create(conn: Connection, opts: KubeRestOptions = {}): Promise<KubeRest> {
    return new KubeRest(conn, opts);
  }

  /**
   * The Authorization header. A token file is read again every 30 s: the kubelet rotates projected
   * ServiceAccount tokens (hourly by default) and the old one stops working when it expires.
   */
  private async headers(): Promise<Record<string, string>> {
    if (this.conn.tokenFile && Date.now() - this.authFetchedAt > 30000) {
      try {
        const token = readFileSync(this.conn.tokenFile, "utf8").trim();
        this.authHeaders = token ? { Authorization: `Bearer ${token}` } : {};
      } catch (e) {
        // Keep the token read last time (it may still be valid) rather than fail every request.
        if (!this.authHeaders.Authorization) throw e;
      }
      this.authFetchedAt = Date.now();
    }
    return this.authHeaders;
  }

  private url(path: string, query?: RequestOptions["query"]): URL {
    const u = new URL(path, this.server);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) u.searchParams.set(k, String(v));
    return u;
  }

  private count(verb: string, resource: string, code: number, started: number) {
    this.stats.byVerb[verb] = (this.stats.byVerb[verb] ?? 0) + 1;
    this.opts.onRequest?.(verb, resource, code, (Date.now() - started) / 1000);
  }

  /** One request; the answer's JSON is taken to be a `T` (the API server's, for the path asked). */
  /**
   * Checked right before a write (anything but GET) is sent, after any wait for the rate limit: a
   * leader that lost its lease, or stalled past its renew deadline, sends nothing more.
   */
  fence?: () => boolean;

  async request<T = unknown>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    await this.limiter.take(o.flow);
    const fenced = () => method !== "GET" && !!this.fence && !this.fence();
    if (fenced()) throw new FencedError(method, path);
    const u = this.url(path, o.query);
    const body = o.body === undefined ? undefined : typeof o.body === "string" ? o.body : JSON.stringify(o.body);
    const headers: Record<string, string> = {
      ...(await this.headers()),
      Accept: o.accept ?? "application/json",
      "User-Agent": this.opts.userAgent ?? "ray-operator",
    };
    if (body !== undefined) {
      headers["Content-Type"] = o.contentType ?? "application/json";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const started = Date.now();
    const verb = verbOf(method, o.query, isNamedPath(path));
    const transport = this.server.protocol === "https:" ? https : http;
    return new Promise<T>((resolve, reject) => {
      const req = transport.request(u, { method, headers, agent: this.agent, timeout: o.timeoutMs ?? 30000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const code = res.statusCode ?? 0;
          this.count(verb, resourceOf(path), code, started);
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : undefined;
          } catch {
            parsed = undefined;
          }
          if (code >= 200 && code < 300) resolve(parsed as T);
          else {
            const { reason, message } = errorBody(parsed);
            reject(
              new ApiError(
                code,
                typeof reason === "string" ? reason : "",
                typeof message === "string" ? message : `HTTP ${code} ${text.slice(0, 200)}`,
                parsed,
              ),
            );
          }
        });
        res.on("error", reject);
      });
      req.on("timeout", () => req.destroy(new Error(`${method} ${path}: timed out`)));
      req.on("error", (e) => {
        if (!(e instanceof FencedError)) this.count(verb, resourceOf(path), 0, started);
        reject(e);
      });
      if (!this.fence || method === "GET") {
        req.end(body);
        return;
      }
      // A fenced write is written only once its socket is connected, after one more look at the
      // fence: the awaits and the handshake above may have spanned a process stall.
      req.on("socket", (socket) => {
        const send = () => (fenced() ? req.destroy(new FencedError(method, path)) : req.end(body));
        if (!socket.connecting) send();
        else socket.once(this.server.protocol === "https:" ? "secureConnect" : "connect", send);
      });
    });
  }

  get = <T = unknown>(path: string, query?: RequestOptions["query"]) => this.request<T>("GET", path, { query });
  create = <T = unknown>(path: string, body: unknown, flow?: string) => this.request<T>("POST", path, { body, flow });
  delete = <T = unknown>(path: string, body?: unknown, flow?: string) =>
    this.request<T>("DELETE", path, { body, flow });
  mergePatch = <T = unknown>(path: string, body: unknown, flow?: string) =>
    this.request<T>("PATCH", path, { body, contentType: "application/merge-patch+json", flow });

  /**
   * Streams a watch. Calls `onEvent` for each event and resolves when the server closes the stream
   * (normal: watches time out); rejects on transport errors or a non-200 answer. `abort` stops it.
   */
  /**
   * `idleTimeoutMs`: nothing at all (no event, no bookmark, no end) for this long means the
   * connection is dead (a half-open TCP connection never ends by itself): the watch fails, and its
   * caller starts a new one. Give it more than the watch's own `timeoutSeconds`.
   */
  async watch<T>(
    path: string,
    query: RequestOptions["query"],
    onEvent: (e: WatchEvent<T>) => void,
    signal: AbortSignal,
    idleTimeoutMs = 600_000,
  ): Promise<void> {
    await this.limiter.take();
    const u = this.url(path, { ...query, watch: 1 });
    const headers = {
      ...(await this.headers()),
      Accept: "application/json",
      "User-Agent": this.opts.userAgent ?? "ray-operator",
    };
    const transport = this.server.protocol === "https:" ? https : http;
    const started = Date.now();
    return new Promise<void>((resolve, reject) => {
      const options = { method: "GET", headers, agent: this.agent, signal, timeout: idleTimeoutMs };
      const req = transport.request(u, options, (res) => {
        this.count("watch", resourceOf(path), res.statusCode ?? 0, started);
        if (res.statusCode !== 200) {
          let text = "";
          res.on("data", (c) => (text += c));
          res.on("end", () =>
            reject(
              new ApiError(res.statusCode ?? 0, "", `watch ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`),
            ),
          );
          return;
        }
        res.setEncoding("utf8");
        const push = splitLines((line) => onEvent(JSON.parse(line) as WatchEvent<T>));
        res.on("data", (chunk: string) => {
          try {
            push(chunk);
          } catch (e) {
            req.destroy(e as Error);
          }
        });
        res.on("end", () => resolve());
        res.on("error", reject);
        res.on("aborted", () => resolve());
      });
      req.on("timeout", () => req.destroy(new Error(`watch ${path}: nothing received for ${idleTimeoutMs / 1000}s`)));
      req.on("error", (e: Error) => (e?.name === "AbortError" || signal.aborted ? resolve() : reject(e)));
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}
