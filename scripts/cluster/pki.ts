// Certificates and keys for a local control plane, made with the openssl CLI: a CA, the API server's
// serving certificate, an admin client certificate (system:masters) and the service-account key pair.
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";

const openssl = (args: string[], cwd: string) =>
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

export interface Pki {
  dir: string;
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saKey: string;
  saPub: string;
}

function signed(dir: string, name: string, subject: string, ext: string): void {
  openssl(
    ["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject],
    dir,
  );
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(
    [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "365",
      "-sha256",
      "-extfile",
      `${name}.ext`,
    ],
    dir,
  );
}

const CLIENT_EXT =
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n";
const serverExt = (sans: string[]) =>
  "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n" +
  `subjectAltName=${sans.join(",")}\n`;

/** A client certificate signed by the CA: `subject` as openssl takes it (`/O=group/CN=user`). */
export function clientCert(pki: Pick<Pki, "dir">, name: string, subject: string): { cert: string; key: string } {
  signed(pki.dir, name, subject, CLIENT_EXT);
  return { cert: join(pki.dir, `${name}.crt`), key: join(pki.dir, `${name}.key`) };
}

/** A serving certificate signed by the CA for `sans` (`IP:10.0.0.1`, `DNS:name`). */
export function servingCert(
  pki: Pick<Pki, "dir">,
  name: string,
  cn: string,
  sans: string[],
): { cert: string; key: string } {
  signed(pki.dir, name, `/CN=${cn}`, serverExt(sans));
  return { cert: join(pki.dir, `${name}.crt`), key: join(pki.dir, `${name}.key`) };
}

/** `serverIps`: addresses the API server's certificate names besides loopback and the `kubernetes` Service IP. */
export function makePki(dir: string, serverIps: string[] = []): Pki {
  openssl(
    [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "365",
      "-subj",
      "/CN=ray-operator-local-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  const names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
  const sans = [
    "IP:127.0.0.1",
    "IP:10.96.0.1",
    ...serverIps.map((ip) => `IP:${ip}`),
    "DNS:localhost",
    ...names.map((n) => `DNS:${n}`),
  ];
  signed(dir, "apiserver", "/CN=kube-apiserver", serverExt(sans));
  signed(dir, "admin", "/O=system:masters/CN=kubernetes-admin", CLIENT_EXT);
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
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

/** A kubeconfig for `server` with the CA of `pki` and a client certificate (the admin's unless given). */
export function kubeconfigYaml(
  server: string,
  pki: Pick<Pki, "caCert" | "adminCert" | "adminKey">,
  user = "admin",
  cert = { cert: pki.adminCert, key: pki.adminKey },
): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority: ${pki.caCert}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    client-certificate: ${cert.cert}`,
    `    client-key: ${cert.key}`,
    "contexts:",
    "- name: local",
    "  context:",
    "    cluster: local",
    `    user: ${user}`,
    "current-context: local",
    "",
  ].join("\n");
}
