// The operator's own kubeconfig loader (operator/kube/kubeconfig.ts): each field it reads, in cluster
// and out, what it refuses (naming the field), and that KubeRest sends the token and reads a token
// file again when it rotates.
import { strict as assert } from "assert";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import { createServer, IncomingMessage, Server } from "http";
import { AddressInfo } from "net";
import { tmpdir } from "os";
import { delimiter, join } from "path";
import YAML from "yaml";
import {
  Connection,
  inClusterConnection,
  kubeconfigConnection,
  kubeconfigFiles,
  loadConnection,
} from "../../operator/kube/kubeconfig";
import { KubeRest } from "../../operator/kube/rest";

const CA = "-----BEGIN CERTIFICATE-----\nca\n-----END CERTIFICATE-----\n";
const CERT = "-----BEGIN CERTIFICATE-----\nclient\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nkey\n-----END PRIVATE KEY-----\n";
const b64 = (s: string) => Buffer.from(s).toString("base64");

/** A kubeconfig with one context `x` → cluster `c`, user `u`, written to a fresh directory. */
function kubeconfig(cluster: Record<string, unknown>, user?: Record<string, unknown>, extra: object = {}): string {
  const dir = mkdtempSync(join(tmpdir(), "kubeconfig-test-"));
  const file = join(dir, "config");
  const doc = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: "c", cluster }],
    users: user ? [{ name: "u", user }] : [],
    contexts: [{ name: "x", context: { cluster: "c", ...(user ? { user: "u" } : {}), namespace: "ignored" } }],
    "current-context": "x",
    ...extra,
  };
  writeFileSync(file, YAML.stringify(doc));
  return file;
}

/** A file next to `kubeconfigFile`, named relative to it. */
function beside(kubeconfigFile: string, name: string, content: string): string {
  const path = join(kubeconfigFile, "..", name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

const load = (file: string) => kubeconfigConnection([file]);
/** A cluster entry that only names its server. */
const H = { server: "https://h:1" };
const withUser = (user: Record<string, unknown>) => kubeconfig(H, user);
const text = (b?: Buffer) => b?.toString("utf8");

describe("kubeconfig loader: out of cluster", () => {
  it("reads the current context's server (without a trailing slash) and a bearer token", () => {
    const conn = load(kubeconfig({ server: "https://api.example:6443/" }, { token: "t0ken" }));
    assert.deepEqual(conn, { server: "https://api.example:6443", token: "t0ken" });
  });

  it("reads certificate-authority-data, client-certificate-data and client-key-data (base64)", () => {
    const file = kubeconfig(
      { server: "https://h:1", "certificate-authority-data": b64(CA) },
      { "client-certificate-data": b64(CERT), "client-key-data": b64(KEY) },
    );
    const conn = load(file);
    assert.equal(text(conn.ca), CA);
    assert.equal(text(conn.cert), CERT);
    assert.equal(text(conn.key), KEY);
  });

  it("reads certificate-authority, client-certificate and client-key files, relative to the kubeconfig", () => {
    const file = kubeconfig(
      { server: "https://h:1", "certificate-authority": "pki/ca.crt" },
      { "client-certificate": "pki/client.crt", "client-key": "pki/client.key" },
    );
    beside(file, "pki/ca.crt", CA);
    beside(file, "pki/client.crt", CERT);
    const absoluteKey = beside(file, "elsewhere/client.key", KEY);
    // An absolute path is taken as it is.
    writeFileSync(
      file,
      YAML.stringify({
        ...YAML.parse(readFileSync(file, "utf8")),
        users: [{ name: "u", user: { "client-certificate": "pki/client.crt", "client-key": absoluteKey } }],
      }),
    );
    const conn = load(file);
    assert.equal(text(conn.ca), CA);
    assert.equal(text(conn.cert), CERT);
    assert.equal(text(conn.key), KEY);
  });

  it("prefers -data over the file when both are given, as kubectl does", () => {
    const file = kubeconfig({ ...H, "certificate-authority": "missing.crt", "certificate-authority-data": b64(CA) });
    assert.equal(text(load(file).ca), CA);
  });

  it("reads insecure-skip-tls-verify and tls-server-name", () => {
    const server = "https://10.0.0.1:6443";
    const conn = load(kubeconfig({ server, "insecure-skip-tls-verify": true, "tls-server-name": "api" }));
    assert.deepEqual(conn, { server: "https://10.0.0.1:6443", insecureSkipTLSVerify: true, tlsServerName: "api" });
  });

  it("reads tokenFile as a path (relative to the kubeconfig), to be read at request time", () => {
    const file = kubeconfig({ server: "https://h:1" }, { tokenFile: "sa/token" });
    assert.deepEqual(load(file), { server: "https://h:1", tokenFile: join(file, "..", "sa", "token") });
  });

  it("takes token over tokenFile when both are set, as client-go does", () => {
    const conn = load(kubeconfig({ server: "https://h:1" }, { token: "a", tokenFile: "/x" }));
    assert.deepEqual(conn, { server: "https://h:1", token: "a" });
  });

  it("ignores extensions, disable-compression and null fields (client-node's exportConfig writes nulls)", () => {
    const conn = load(
      kubeconfig(
        { ...H, extensions: [{ name: "e", extension: {} }], "disable-compression": true, "proxy-url": null },
        { token: "t", exec: null, "auth-provider": null, extensions: [] },
      ),
    );
    assert.deepEqual(conn, { server: "https://h:1", token: "t" });
  });

  it("follows current-context among several contexts, clusters and users", () => {
    const file = kubeconfig(
      { server: "https://wrong:1" },
      { token: "wrong" },
      {
        clusters: [
          { name: "c", cluster: { server: "https://wrong:1" } },
          { name: "d", cluster: { server: "https://right:2" } },
        ],
        users: [
          { name: "u", user: { token: "wrong" } },
          { name: "v", user: { token: "right" } },
        ],
        contexts: [
          { name: "x", context: { cluster: "c", user: "u" } },
          { name: "y", context: { cluster: "d", user: "v" } },
        ],
        "current-context": "y",
      },
    );
    assert.deepEqual(load(file), { server: "https://right:2", token: "right" });
  });

  it("merges a $KUBECONFIG list as kubectl does: the first current-context and the first entry of a name win", () => {
    const first = kubeconfig({ server: "https://first:1" }, { token: "first" });
    const second = kubeconfig({ server: "https://second:1" }, { token: "second" }, { "current-context": "other" });
    const missing = join(tmpdir(), "no-such-kubeconfig");
    const files = kubeconfigFiles({ KUBECONFIG: [missing, first, second].join(delimiter) });
    assert.deepEqual(files, [missing, first, second]);
    assert.deepEqual(kubeconfigConnection(files), { server: "https://first:1", token: "first" });
  });

  it("reads ~/.kube/config when KUBECONFIG is not set", () => {
    assert.deepEqual(kubeconfigFiles({ HOME: "/home/someone" }), ["/home/someone/.kube/config"]);
  });

  it("accepts a context without a user (no credentials)", () => {
    assert.deepEqual(load(kubeconfig({ server: "http://127.0.0.1:8080" })), { server: "http://127.0.0.1:8080" });
  });
});

describe("kubeconfig loader: what it refuses, naming the field", () => {
  const refuses = (file: string, pattern: RegExp) => assert.throws(() => load(file), pattern);

  it("exec and auth-provider plugins", () => {
    refuses(
      withUser({ exec: { command: "aws", apiVersion: "client.authentication.k8s.io/v1" } }),
      /users\[0\]\.user\.exec: exec credential plugins are not supported/,
    );
    refuses(
      kubeconfig({ server: "https://h:1" }, { "auth-provider": { name: "gcp" } }),
      /users\[0\]\.user\.auth-provider: auth-provider plugins are not supported/,
    );
  });

  it("basic authentication, impersonation and proxies", () => {
    refuses(withUser({ username: "a", password: "b" }), /users\[0\]\.user\.username: basic auth/);
    refuses(kubeconfig({ server: "https://h:1" }, { token: "t", as: "admin" }), /users\[0\]\.user\.as: impersonation/);
    refuses(kubeconfig({ ...H, "proxy-url": "http://p:3128" }), /clusters\[0\]\.cluster\.proxy-url: proxies/);
  });

  it("a field it does not know", () => {
    refuses(withUser({ "token-from-the-future": "x" }), /users\[0\]\.user\.token-from-the-future: not supported/);
  });

  it("a client certificate without its key, and a key without its certificate", () => {
    refuses(
      withUser({ "client-certificate-data": b64(CERT) }),
      /users\[0\]\.user: client-certificate and client-key go together/,
    );
    refuses(withUser({ "client-key-data": b64(KEY) }), /client-certificate and client-key go together/);
  });

  it("a file it cannot read, naming the field and the path", () => {
    const file = kubeconfig({ server: "https://h:1", "certificate-authority": "nope/ca.crt" });
    const path = join(file, "..", "nope", "ca.crt");
    refuses(file, new RegExp(`clusters\\[0\\]\\.cluster\\.certificate-authority: cannot read ${path}`));
  });

  it("a missing or dangling current-context, cluster or user, and a cluster without a server", () => {
    refuses(kubeconfig({ server: "https://h:1" }, undefined, { "current-context": "" }), /current-context: is not set/);
    refuses(kubeconfig(H, undefined, { "current-context": "zz" }), /current-context: no context named "zz"/);
    refuses(
      kubeconfig({ server: "https://h:1" }, undefined, { contexts: [{ name: "x", context: { cluster: "gone" } }] }),
      /contexts\[0\]\.context\.cluster: no cluster named "gone"/,
    );
    refuses(
      kubeconfig(H, undefined, { contexts: [{ name: "x", context: { cluster: "c", user: "gone" } }] }),
      /contexts\[0\]\.context\.user: no user named "gone"/,
    );
    refuses(kubeconfig({ "certificate-authority-data": b64(CA) }), /clusters\[0\]\.cluster\.server: is not set/);
  });

  it("wrong types", () => {
    refuses(kubeconfig({ ...H, "insecure-skip-tls-verify": "yes" }), /insecure-skip-tls-verify: must be true or false/);
    refuses(withUser({ token: 42 }), /users\[0\]\.user\.token: must be a non-empty string/);
    refuses(kubeconfig({ server: "https://h:1" }, undefined, { clusters: { c: {} } }), /clusters: must be a list/);
  });

  it("no kubeconfig at all, out of a pod", () => {
    const missing = join(tmpdir(), "no-such-dir", "config");
    assert.throws(() => loadConnection({ KUBECONFIG: missing }), /no kubeconfig: none of .*no-such-dir\/config exists/);
  });
});

describe("kubeconfig loader: in cluster", () => {
  const serviceAccount = () => {
    const dir = mkdtempSync(join(tmpdir(), "sa-"));
    writeFileSync(join(dir, "token"), "sa-token\n");
    writeFileSync(join(dir, "ca.crt"), CA);
    return dir;
  };

  it("reads KUBERNETES_SERVICE_HOST/PORT, the CA file and names the token file (read at request time)", () => {
    const dir = serviceAccount();
    const conn = inClusterConnection({ KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" }, dir);
    const expected = { server: "https://10.96.0.1:443", ca: CA, tokenFile: join(dir, "token") };
    assert.deepEqual({ ...conn, ca: text(conn?.ca) }, expected);
  });

  it("brackets an IPv6 service address", () => {
    const env = { KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "443" };
    const conn = inClusterConnection(env, serviceAccount());
    assert.equal(conn?.server, "https://[fd00::1]:443");
  });

  it("is not in cluster without the service variables or the token", () => {
    assert.equal(inClusterConnection({}, serviceAccount()), undefined);
    const empty = mkdtempSync(join(tmpdir(), "sa-"));
    assert.equal(inClusterConnection({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1" }, empty), undefined);
  });

  it("an explicit KUBECONFIG wins over the pod's ServiceAccount, as with kubectl", () => {
    const file = kubeconfig({ server: "https://from-file:1" }, { token: "t" });
    const env = { KUBECONFIG: file, KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal(loadConnection(env).server, "https://from-file:1");
  });
});

describe("KubeRest's credentials from a Connection", () => {
  let server: Server;
  let url = "";
  const seen: Array<string | undefined> = [];
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      seen.push(req.headers.authorization);
      res.writeHead(200, { "Content-Type": "application/json" });
      res.end("{}");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());
  beforeEach(() => seen.splice(0));

  const get = async (conn: Connection) => {
    const rest = await KubeRest.create(conn);
    try {
      await rest.get("/api/v1/namespaces");
    } finally {
      rest.close();
    }
  };

  it("sends a fixed token as a bearer token, and none without one", async () => {
    await get({ server: url, token: "abc" });
    await get({ server: url });
    assert.deepEqual(seen, ["Bearer abc", undefined]);
  });

  it("reads a token file again once 30 s have passed, so a rotated ServiceAccount token is used", async () => {
    const file = join(mkdtempSync(join(tmpdir(), "token-")), "token");
    writeFileSync(file, "first\n");
    const rest = await KubeRest.create({ server: url, tokenFile: file });
    const realNow = Date.now;
    try {
      await rest.get("/x");
      writeFileSync(file, "second\n"); // the kubelet rotates it
      await rest.get("/x"); // within 30 s: the token read before
      const later = realNow() + 31_000;
      Date.now = () => later;
      await rest.get("/x");
    } finally {
      Date.now = realNow;
      rest.close();
    }
    assert.deepEqual(seen, ["Bearer first", "Bearer first", "Bearer second"]);
  });
});
