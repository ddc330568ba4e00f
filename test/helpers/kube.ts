// Kubernetes clients for tests, from a kubeconfig file or a ServiceAccount token.
import * as k8s from "@kubernetes/client-node";
import { serviceAccountToken, kubeConfigWithToken } from "../../scripts/operator-process";

export interface Clients {
  kc: k8s.KubeConfig;
  core: k8s.CoreV1Api;
  apps: k8s.AppsV1Api;
  custom: k8s.CustomObjectsApi;
  rbac: k8s.RbacAuthorizationV1Api;
  ext: k8s.ApiextensionsV1Api;
  coordination: k8s.CoordinationV1Api;
  authz: k8s.AuthorizationV1Api;
  objects: k8s.KubernetesObjectApi;
}

export function clientsFor(kc: k8s.KubeConfig): Clients {
  return {
    kc,
    core: kc.makeApiClient(k8s.CoreV1Api),
    apps: kc.makeApiClient(k8s.AppsV1Api),
    custom: kc.makeApiClient(k8s.CustomObjectsApi),
    rbac: kc.makeApiClient(k8s.RbacAuthorizationV1Api),
    ext: kc.makeApiClient(k8s.ApiextensionsV1Api),
    coordination: kc.makeApiClient(k8s.CoordinationV1Api),
    authz: kc.makeApiClient(k8s.AuthorizationV1Api),
    objects: k8s.KubernetesObjectApi.makeApiClient(kc),
  };
}

export function clientsFromFile(path: string): Clients {
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(path);
  return clientsFor(kc);
}

/** A KubeConfig that authenticates as a ServiceAccount with a token from the TokenRequest API. */
export async function serviceAccountKubeConfig(
  admin: Clients,
  namespace: string,
  name: string,
): Promise<k8s.KubeConfig> {
  return kubeConfigWithToken(admin.kc, await serviceAccountToken(admin.kc, namespace, name), namespace);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false>,
  timeoutMs = 30000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as T;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(
    `timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${errorText(last)})` : ""}`,
  );
}

/** The API server's message of a failed call. */
export function errorText(e: any): string {
  if (e?.body) {
    try {
      return JSON.parse(e.body).message ?? String(e.body);
    } catch {
      return String(e.body);
    }
  }
  return e instanceof Error ? e.message : String(e);
}

export const statusCode = (e: any): number | undefined => e?.code ?? e?.statusCode;

/** Asserts that `p` fails with HTTP `code`; returns the API server's message. */
export async function rejectsWith(code: number, p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (statusCode(e) !== code) throw new Error(`expected HTTP ${code}, got ${statusCode(e)}: ${errorText(e)}`);
    return errorText(e);
  }
  throw new Error(`expected HTTP ${code}, but the call succeeded`);
}

export async function ensureNamespace(c: Clients, name: string, labels: Record<string, string> = {}): Promise<void> {
  try {
    await c.core.createNamespace({ body: { metadata: { name, labels } } });
  } catch (e) {
    if (statusCode(e) !== 409) throw e;
  }
}

export async function deleteNamespace(c: Clients, name: string, wait = false): Promise<void> {
  try {
    await c.core.deleteNamespace({ name });
  } catch (e) {
    if (statusCode(e) !== 404) throw e;
  }
  if (wait)
    await eventually(
      `namespace ${name} gone`,
      async () =>
        rejectsWith(404, c.core.readNamespace({ name })).then(
          () => true,
          () => false,
        ),
      120000,
      500,
    );
}

/**
 * client-node serializes built-in kinds through its typed models, whose attribute names differ from
 * the wire names in a few places (`x-kubernetes-validations`, `default`, `enum`...): a plain object
 * is first read into the model so that nothing is dropped on the way out.
 */
export function toModel(obj: any): any {
  return k8s.loadYaml(JSON.stringify(obj));
}

/** Server-side apply of a plain object, as the field manager `tests`. */
export async function apply(c: Clients, obj: any): Promise<any> {
  return c.objects.patch(toModel(obj), undefined, undefined, "tests", true, k8s.PatchStrategy.ServerSideApply);
}

let counter = 0;
export const uniqueName = (prefix: string) =>
  `${prefix}-${process.pid % 10000}-${++counter}-${Math.random().toString(36).slice(2, 6)}`;
