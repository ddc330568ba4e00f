// RayClusters that admission must reject: what is wrong, how to make it so, and the field to name.
// The unit tests check them against the in-process validator; the integration tests against a real API server.
export const BAD_CLUSTERS: Array<[string, (r: any) => void, string]> = [
  ["minWorkers above the type's maxWorkers", (r) => (r.spec.podTypes[1].minWorkers = 5), "spec.podTypes[1].minWorkers"],
  ["headPodType naming no type", (r) => (r.spec.headPodType = "nope"), "spec.headPodType"],
  ["duplicate type names", (r) => (r.spec.podTypes[1].name = "head-node"), "spec.podTypes[1]"],
  ["negative maxWorkers", (r) => (r.spec.maxWorkers = -1), "spec.maxWorkers"],
  ["a string for minWorkers", (r) => (r.spec.podTypes[1].minWorkers = "two"), "spec.podTypes[1].minWorkers"],
  ["negative upscalingSpeed", (r) => (r.spec.upscalingSpeed = -0.5), "spec.upscalingSpeed"],
  ["a fractional maxWorkers", (r) => (r.spec.maxWorkers = 2.5), "spec.maxWorkers"],
  ["a negative custom resource", (r) => (r.spec.podTypes[1].rayResources.Custom1 = -1), "spec.podTypes[1].rayResources.Custom1"],
  ["no podTypes", (r) => (r.spec.podTypes = []), "spec.podTypes"],
  ["no headPodType", (r) => delete r.spec.headPodType, "spec.headPodType"],
  ["a podConfig without containers", (r) => (r.spec.podTypes[0].podConfig.spec.containers = []), "spec.podTypes[0].podConfig.spec.containers"],
  ["a container without image", (r) => delete r.spec.podTypes[0].podConfig.spec.containers[0].image, "spec.podTypes[0].podConfig.spec.containers[0].image"],
  ["a podConfig of another kind", (r) => (r.spec.podTypes[0].podConfig.kind = "Deployment"), "spec.podTypes[0].podConfig.kind"],
  ["minWorkers adding up above maxWorkers", (r) => (r.spec.maxWorkers = 1), "spec.maxWorkers"],
  ["a type name that is no label value", (r) => (r.spec.podTypes[1].name = "worker nodes!"), "spec.podTypes[1].name"],
  ["a head service port out of range", (r) => (r.spec.headServicePorts = [{ name: "serve", port: 70000 }]), "spec.headServicePorts[0].port"],
  ["an unknown field", (r) => (r.spec.podTypes[1].minWorker = 1), "spec.podTypes[1].minWorker"],
  ["a name too long for its Service", (r) => (r.metadata.name = "x".repeat(60)), ""],
];
