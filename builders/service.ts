// The head Service of a RayCluster, `<cluster>-ray-head`: how workers and clients reach the head.
import { LABELS, MANAGED_BY } from "../api/v1/types";
import { DefaultedRayCluster, headServicePorts } from "../api/v1/defaults";
import type { Service } from "../api/v1/kube-types";
import { headServiceName, ownerReference, podSelector } from "./names";

/** The head Service `<cluster>-ray-head`, selecting the head pod. */
export function buildHeadService(rc: DefaultedRayCluster) {
  const cluster = rc.metadata.name!;
  return {
    apiVersion: "v1" as const,
    kind: "Service" as const,
    metadata: {
      name: headServiceName(cluster),
      namespace: rc.metadata.namespace,
      labels: { [LABELS.clusterName]: cluster, [LABELS.managedBy]: MANAGED_BY },
      ownerReferences: [ownerReference(rc)],
    },
    spec: {
      type: "ClusterIP",
      selector: podSelector(cluster, "head"),
      ports: headServicePorts(rc.spec).map((p) => ({
        name: p.name,
        port: p.port,
        targetPort: p.targetPort ?? p.port,
        protocol: "TCP",
      })),
    },
  } satisfies Service;
}

/** The head Service as `buildHeadService` makes it. */
export type HeadService = ReturnType<typeof buildHeadService>;
