// The namespace Ray clusters and the operator live in, with Pod Security admission labels.
import type { Manifest, Namespace } from "../api/v1/kube-types";
import { OPERATOR_OPT_IN_LABEL, POD_SECURITY_ENFORCE_LABEL } from "../api/v1/types";

export type PodSecurityLevel = "privileged" | "baseline" | "restricted";

export function namespaceObject(name: string, enforce: PodSecurityLevel): Manifest<Namespace, "v1", "Namespace"> {
  return {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: {
      name,
      labels: {
        "app.kubernetes.io/part-of": "ray",
        // The operator installed here runs this namespace's RayClusters also in cluster-wide mode.
        [OPERATOR_OPT_IN_LABEL]: name,
        [POD_SECURITY_ENFORCE_LABEL]: enforce,
        "pod-security.kubernetes.io/enforce-version": "latest",
        // Always warn and audit against the strictest level, so drift shows up before it is enforced.
        "pod-security.kubernetes.io/warn": "restricted",
        "pod-security.kubernetes.io/warn-version": "latest",
        "pod-security.kubernetes.io/audit": "restricted",
        "pod-security.kubernetes.io/audit-version": "latest",
      },
    },
  };
}
