// The launch hash every pod carries (label ray-launch-config): when a pod's hash is not its type's
// current one, the pod is outdated and replaced.
import { NodeKind } from "../api/v1/types";
import { DefaultedRayCluster, ResolvedPodType } from "../api/v1/defaults";
import { shortHash } from "./hash";

/**
 * The launch config of a node: everything a pod is built from, except the scaling fields, so that
 * rescaling restarts nothing while any other change (including the RayCluster's labels, the seed's
 * way to force a restart) yields a new hash and outdated pods get replaced.
 */
export function launchConfigHash(rc: DefaultedRayCluster, type: ResolvedPodType, kind: NodeKind): string {
  return shortHash({
    kind,
    type: type.name,
    podConfig: type.podConfig,
    setupCommands: type.setupCommands,
    rayResources: type.rayResources,
    startCommands: kind === "head" ? rc.spec.headStartRayCommands : rc.spec.workerStartRayCommands,
    clusterLabels: rc.metadata.labels ?? {},
  });
}
