// Which namespaces the operator may run pods in. `podConfig` is any pod spec: whoever can create a
// RayCluster can run what it says. So the operator creates no pod in a namespace that enforces no
// Pod Security level, and in cluster-wide mode it runs only the RayClusters of namespaces that opted
// in (OPERATOR_OPT_IN_LABEL = the operator's own namespace). Namespaced, it reads its one namespace
// (a Role may grant `get` on it by name); cluster-wide, it watches the opted-in namespaces.
import { OPERATOR_OPT_IN_LABEL, POD_SECURITY_ENFORCE_LABEL } from "../../api/v1/types";
import type { Namespace } from "../../api/v1/kube-types";
import { Informer, Stored } from "../kube/informer";
import { KubeRest } from "../kube/rest";
import type { Logger } from "../util/log";
import type { Refusal } from "./refusals";

export interface NamespaceGateOptions {
  rest: KubeRest;
  /** Namespaced mode: the one namespace watched. Undefined: cluster-wide. */
  watchNamespace?: string;
  /** The operator's own namespace: the opt-in label's value in cluster-wide mode. */
  operatorNamespace: string;
  log: Logger;
}

/** How long a namespace read in namespaced mode is trusted. */
const NAMESPACE_TTL_MS = 30_000;

export class NamespaceGate {
  /** Cluster-wide: the namespaces that opted in, and their labels. */
  readonly informer?: Informer<Stored<Namespace>>;
  /** Namespaced mode: the one namespace's last read, shared by the passes asking while it is under way. */
  private cached?: { at: number; name: string; namespace: Promise<Namespace> };

  constructor(private readonly opts: NamespaceGateOptions) {
    if (!opts.watchNamespace)
      this.informer = new Informer<Stored<Namespace>>(opts.rest, {
        name: "namespaces",
        path: "/api/v1/namespaces",
        labelSelector: `${OPERATOR_OPT_IN_LABEL}=${opts.operatorNamespace}`,
        log: opts.log,
      });
  }

  /** Whether this operator runs the RayClusters of `namespace`. */
  managed(namespace: string): boolean {
    if (this.opts.watchNamespace) return namespace === this.opts.watchNamespace;
    return !!this.informer?.get(namespace);
  }

  /** A slow refusal when `namespace` enforces no Pod Security level (it may gain one: asked again). */
  async podSecurity(namespace: string): Promise<Refusal | undefined> {
    const labels = (await this.namespace(namespace))?.metadata?.labels ?? {};
    if (labels[POD_SECURITY_ENFORCE_LABEL]) return undefined;
    return {
      kind: "slow",
      message:
        `namespace ${namespace} enforces no Pod Security level (label ${POD_SECURITY_ENFORCE_LABEL}): ` +
        "the operator creates no pod there",
    };
  }

  private async namespace(name: string): Promise<Namespace | undefined> {
    if (this.informer) return this.informer.get(name);
    const cached = this.cached;
    if (cached?.name === name && Date.now() - cached.at < NAMESPACE_TTL_MS) return cached.namespace;
    const read = { at: Date.now(), name, namespace: this.opts.rest.get<Namespace>(`/api/v1/namespaces/${name}`) };
    this.cached = read;
    // A failed read is not kept: the next pass asks again.
    read.namespace.catch(() => {
      if (this.cached === read) this.cached = undefined;
    });
    return read.namespace;
  }
}
