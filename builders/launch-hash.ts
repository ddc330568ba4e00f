// The launch hash every pod carries (label ray-launch-config): when a pod's hash is not its type's
// current one, the pod is outdated and replaced.
import { NodeKind, RayCluster } from "../api/v1/types";
import { ResolvedPodType, ResolvedSpec, withDefaults } from "../api/v1/defaults";
import { shortHash } from "./hash";

/**
 * The launch config of a node: everything a pod is built from, except the scaling fields, so that
 * rescaling restarts nothing while any other change (including the RayCluster's labels, the seed's
 * way to force a restart) yields a new hash and outdated pods get replaced.
 */
export function launchConfigHash(rc: RayCluster, type: ResolvedPodType, kind: NodeKind, spec: ResolvedSpec = withDefaults(rc.spec)): string {
  return shortHash({
    kind,
    type: type.name,
    podConfig: type.podConfig,
    setupCommands: type.setupCommands,
    rayResources: type.rayResources,
    startCommands: kind === "head" ? spec.headStartRayCommands : spec.workerStartRayCommands,
    clusterLabels: rc.metadata.labels ?? {},
  });
}
