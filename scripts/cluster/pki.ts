// Certificates and keys for a local control plane, made with the openssl CLI: a CA, the API server's
// serving certificate, an admin client certificate (system:masters) and the service-account key pair.
import { execFileSync } from "child_process";
import { writeFileSync } from "fs";
import { join } from "path";

const openssl = (args: string[], cwd: string) => execFileSync("openssl", args, { cwd, stdio: ["ignore", "pipe", "pipe"] });

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
  openssl(["req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", subject], dir);
  writeFileSync(join(dir, `${name}.ext`), ext);
  openssl(["x509", "-req", "-in", `${name}.csr`, "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", `${name}.crt`, "-days", "365", "-sha256", "-extfile", `${name}.ext`], dir);
}

export function makePki(dir: string): Pki {
  openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "365", "-subj", "/CN=ray-operator-local-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"], dir);
  signed(
    dir,
    "apiserver",
    "/CN=kube-apiserver",
    "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local\n",
  );
  signed(dir, "admin", "/O=system:masters/CN=kubernetes-admin", "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n");
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
  const p = (f: string) => join(dir, f);
  return { dir, caCert: p("ca.crt"), caKey: p("ca.key"), serverCert: p("apiserver.crt"), serverKey: p("apiserver.key"), adminCert: p("admin.crt"), adminKey: p("admin.key"), saKey: p("sa.key"), saPub: p("sa.pub") };
}

export function kubeconfigYaml(server: string, pki: Pki, user = "admin"): string {
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
    `    client-certificate: ${pki.adminCert}`,
    `    client-key: ${pki.adminKey}`,
    "contexts:",
    "- name: local",
    "  context:",
    "    cluster: local",
    `    user: ${user}`,
    "current-context: local",
    "",
  ].join("\n");
}
