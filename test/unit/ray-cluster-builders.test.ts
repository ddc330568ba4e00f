import { strict as assert } from "assert";
import { buildPod, podShape } from "../../builders/pod";
import { buildHeadService } from "../../builders/service";
import { HEAD_NAME_ANNOTATION, newPodName } from "../../builders/names";
import { launchConfigHash } from "../../builders/launch-hash";
import { nodeTypeResources } from "../../builders/resources";
import { defaulted, withDefaults } from "../../api/v1/defaults";
import { checkWorkable } from "../../api/v1/workable";
import { LABELS, RayCluster } from "../../api/v1/types";
import { parseQuantity } from "../../builders/quantity";
import { exampleCluster, edited } from "../helpers/examples";

const withUid = (rc: RayCluster): RayCluster => ({ ...rc, metadata: { ...rc.metadata, uid: "uid-1" } });

describe("ray cluster builders", () => {
  const rc = withUid(exampleCluster("example-cluster"));

  it("names pods and the Service in the seed's shape", () => {
    assert.equal(buildPod(defaulted(rc), "head-node", "head").metadata.generateName, "example-cluster-ray-head-");
    const generateName = (r: RayCluster) => buildPod(defaulted(r), "worker-nodes", "worker").metadata.generateName;
    assert.equal(generateName(rc), "example-cluster-ray-worker-");
    assert.equal(buildHeadService(defaulted(rc)).metadata.name, "example-cluster-ray-head");
    const noGenerateName = edited(rc, (r) => delete r.spec.podTypes[1].podConfig.metadata.generateName);
    assert.equal(generateName(noGenerateName), "example-cluster-ray-worker-");
    const shortPrefix = edited(rc, (r) => (r.spec.podTypes[1].podConfig.metadata.generateName = "gpu-"));
    assert.equal(generateName(shortPrefix), "example-cluster-gpu-");
  });

  it("names a head as generateName would: the prefix and five characters of the API server's alphabet", () => {
    const head = buildPod(defaulted(rc), "head-node", "head", { name: newPodName("example-cluster-ray-head-") });
    assert.equal(head.metadata.generateName, undefined);
    assert.match(head.metadata.name!, /^example-cluster-ray-head-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    // Properties every draw has, whatever the random source gives, so none can fail by chance. That
    // two draws differ is not one of them (1 in 27^5 per pair repeat, as with generateName itself).
    for (let draw = 0; draw < 200; draw++) {
      assert.match(newPodName("p-"), /^p-[bcdfghjklmnpqrstvwxz2456789]{5}$/, "the API server's alphabet, no vowels");
      const long = newPodName("x".repeat(70));
      assert.equal(long.length, 63, "prefix cut to 58, as the API server does");
      assert.equal(long.slice(0, 58), "x".repeat(58));
    }
  });

  it("labels pods as the original did and owns them through a controller reference", () => {
    const pod = buildPod(defaulted(rc), "worker-nodes", "worker", { headPodName: "example-cluster-ray-head-x7k2q" });
    assert.equal(pod.metadata.labels[LABELS.clusterName], "example-cluster");
    assert.equal(pod.metadata.labels[LABELS.nodeType], "worker");
    assert.equal(pod.metadata.labels[LABELS.userNodeType], "worker-nodes");
    assert.match(pod.metadata.labels[LABELS.launchConfig], /^[0-9a-f]{10}$/);
    assert.equal(pod.metadata.annotations[HEAD_NAME_ANNOTATION], "example-cluster-ray-head-x7k2q");
    assert.deepEqual(pod.metadata.ownerReferences, [
      {
        apiVersion: "cluster.ray.io/v1",
        kind: "RayCluster",
        name: "example-cluster",
        uid: "uid-1",
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
  });

  it("starts Ray from the pod's own command with the contract's environment", () => {
    const pod = buildPod(defaulted(rc), "worker-nodes", "worker");
    const c = pod.spec.containers[0];
    assert.deepEqual(c.command, ["/bin/bash", "-c", "--"]);
    assert.match(c.args[0], /ray start --address=\$RAY_HEAD_IP:6379/);
    // The launcher watches Ray's raylet and ends the container when it stops (test/unit/ray-launcher.test.ts runs it).
    assert.match(c.args[0], /Ray stopped on this node/);
    const env = Object.fromEntries((c.env ?? []).map((e) => [e.name, e.value ?? e.valueFrom]));
    assert.equal(env.RAY_HEAD_IP, "example-cluster-ray-head.ray.svc");
    assert.deepEqual(env.RAY_CLOUD_INSTANCE_ID, { fieldRef: { fieldPath: "metadata.name" } });
    assert.equal(env.RAY_NODE_TYPE_NAME, "worker-nodes");
    assert.equal(typeof env.RAY_OVERRIDE_RESOURCES, "string");
    assert.deepEqual(JSON.parse(String(env.RAY_OVERRIDE_RESOURCES)), {
      CPU: 1,
      memory: 2 ** 30 /* the worker's memory limit, 1Gi */,
      Custom1: 1,
      is_spot: 1,
    });
    assert.ok((pod.spec.volumes ?? []).some((v) => v.emptyDir?.medium === "Memory"));
    assert.equal(pod.spec.restartPolicy, "Never");
    const head = buildPod(defaulted(rc), "head-node", "head").spec.containers[0];
    assert.match(head.args[0], /ray start --head --no-monitor --dashboard-host 0.0.0.0/);
  });

  it("changes the launch hash for pod changes and labels, not for scaling fields", () => {
    const spec = withDefaults(rc.spec);
    const hash = (r: RayCluster) => launchConfigHash(defaulted(r), withDefaults(r.spec).podTypes[1], "worker");
    const base = hash(rc);
    assert.equal(base, launchConfigHash(defaulted(rc), spec.podTypes[1], "worker"));
    assert.equal(hash(edited(rc, (r) => (r.spec.podTypes[1].minWorkers = 3))), base);
    assert.equal(hash(edited(rc, (r) => (r.spec.podTypes[1].maxWorkers = 2))), base);
    assert.equal(hash(edited(rc, (r) => (r.spec.upscalingSpeed = 2))), base);
    assert.equal(hash(edited(rc, (r) => (r.spec.idleTimeoutMinutes = 1))), base);
    assert.equal(hash(edited(rc, (r) => (r.spec.maxWorkers = 3))), base);
    const image = (r: RayCluster) => (r.spec.podTypes[1].podConfig.spec!.containers[0].image = "rayproject/ray:other");
    assert.notEqual(hash(edited(rc, image)), base);
    assert.notEqual(hash(edited(rc, (r) => (r.metadata.labels = { try: "again" }))), base);
    const start = ["ray start --address=$RAY_HEAD_IP:6379 --block"];
    assert.notEqual(hash(edited(rc, (r) => (r.spec.workerStartRayCommands = start))), base);
    assert.notEqual(hash(edited(rc, (r) => (r.spec.podTypes[1].setupCommands = ["pip install x"]))), base);
  });

  it("builds the head Service with the default ports plus headServicePorts, overriding by name", () => {
    const ports = [
      { name: "serve", port: 8000 },
      { name: "dashboard", port: 8266, targetPort: 8265 },
    ];
    const svc = buildHeadService(defaulted(edited(rc, (r) => (r.spec.headServicePorts = ports))));
    assert.deepEqual(
      svc.spec.ports.map((p) => [p.name, p.port, p.targetPort]),
      [
        ["gcs", 6379, 6379],
        ["client", 10001, 10001],
        ["dashboard", 8266, 8265],
        ["serve", 8000, 8000],
      ],
    );
    assert.deepEqual(svc.spec.selector, { [LABELS.clusterName]: "example-cluster", [LABELS.nodeType]: "head" });
  });

  it("reads a node type's Ray resources from the pod, rayResources winning", () => {
    const t = withDefaults(
      edited(rc, (r) => {
        r.spec.podTypes[1].podConfig.spec.containers[0].resources = {
          requests: { cpu: "1500m", memory: "1Gi" },
          limits: { "nvidia.com/gpu": 2 },
        };
        r.spec.podTypes[1].rayResources = { CPU: 4, Custom1: 1 };
      }).spec,
    ).podTypes[1];
    assert.deepEqual(nodeTypeResources(t).resources, { CPU: 4, GPU: 2, memory: 2 ** 30, Custom1: 1 });
  });

  it("parses Kubernetes quantities", () => {
    assert.equal(parseQuantity("500m"), 0.5);
    assert.equal(parseQuantity("512Mi"), 512 * 2 ** 20);
    assert.equal(parseQuantity("1G"), 1e9);
    assert.equal(parseQuantity("2e3"), 2000);
    assert.equal(parseQuantity(3), 3);
    assert.throws(() => parseQuantity("one"));
  });

  it("finds what the schema cannot reject and names the field", () => {
    assert.deepEqual(checkWorkable(defaulted(rc)), []);
    const badQuantity = edited(rc, (r) => {
      r.spec.podTypes[1].podConfig.spec.containers[0].resources.requests.cpu = "one";
    });
    assert.deepEqual(
      checkWorkable(defaulted(badQuantity)).map((e) => e.field),
      ["spec.podTypes[1].podConfig.spec.containers[0].resources.requests.cpu"],
    );
    const clash = edited(rc, (r) => (r.spec.headServicePorts = [{ name: "serve", port: 6379 }]));
    assert.deepEqual(
      checkWorkable(defaulted(clash)).map((e) => e.field),
      ["spec.headServicePorts[0].port"],
    );
  });

  describe("podShape: a pod less which cluster it is of, for the operator's dry runs", () => {
    /** The seed's cluster as `name` (UID `uid`), its templates without a generateName of their own. */
    const cluster = (name: string, uid: string, ns = "ray", edit: (r: RayCluster) => void = () => {}) =>
      edited(exampleCluster("example-cluster", ns), (r) => {
        r.metadata.name = name;
        r.metadata.uid = uid;
        for (const t of r.spec.podTypes) delete t.podConfig.metadata.generateName;
        edit(r);
      });
    const shape = (rc: RayCluster, kind: "head" | "worker" = "worker") => {
      const type = kind === "head" ? "head-node" : "worker-nodes";
      const name = kind === "head" ? newPodName(`${rc.metadata.name}-ray-head-`) : undefined;
      return podShape(buildPod(defaulted(rc), type, kind, { headPodName: "dry-run", name }), {
        name: rc.metadata.name!,
        uid: rc.metadata.uid,
      });
    };

    it("is the same for two clusters of one template whose names are as long, whatever their UIDs", () => {
      const a = cluster("cluster-a", "0b7c8d1e-aaaa");
      const b = cluster("cluster-b", "uid-2");
      assert.equal(shape(a), shape(b));
      assert.equal(shape(a, "head"), shape(b, "head"), "the head's random name is left out too");
      assert.doesNotMatch(shape(a), /cluster-a/);
      // Templates that name their pods after their cluster (the seed's do) change the launch hash too.
      const own = (name: string) =>
        cluster(name, "u", "ray", (r) => {
          for (const t of r.spec.podTypes)
            t.podConfig.metadata = { ...t.podConfig.metadata, generateName: `${name}-${t.name}-` };
        });
      assert.equal(shape(own("cluster-a")), shape(own("cluster-b")));
    });

    it("differs with the template, the namespace, or the length of the name", () => {
      const a = cluster("cluster-a", "u1");
      const image = cluster("cluster-b", "u2", "ray", (r) => {
        r.spec.podTypes[1].podConfig.spec.containers[0].image = "rayproject/ray:2.60.0-py311";
      });
      assert.notEqual(shape(a), shape(image));
      assert.notEqual(shape(a), shape(cluster("cluster-b", "u2", "team-b")));
      assert.notEqual(shape(a), shape(cluster("cluster-bb", "u2")));
    });
  });
});
