// CustomResourceDefinitions in the benchmark's cluster: where they are created, and the wait until
// the API server serves them (this operator's, KubeRay's, write-cost.ts's copy).
import type { KubeRest } from "../../operator/kube/rest";

export const CRDS_PATH = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/** What the API server says about a CRD, the part the benchmark waits on. */
interface CrdStatus {
  status?: { conditions?: Array<{ type: string; status: string }> };
}

/** Until the CRD `name` is Established (its resources are served); an error after a minute. */
export async function crdEstablished(admin: KubeRest, name: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const crd = await admin.get<CrdStatus>(`${CRDS_PATH}/${name}`);
    if (crd.status?.conditions?.some((c) => c.type === "Established" && c.status === "True")) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`CRD ${name} not established in a minute`);
}
