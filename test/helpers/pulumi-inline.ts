// Runs a few lines of a Pulumi program (components constructed by a test) under Pulumi's own mocks,
// and records what they registered: type, name, URN, inputs, parent, dependencies and aliases. It waits
// for the SDK's own count of outstanding RPCs to reach zero, never for a quiet period.
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import * as settings from "@pulumi/pulumi/runtime/settings";

export interface Recorded {
  type: string;
  name: string;
  urn: string;
  /** The inputs as the engine got them; a test reads them as the Kubernetes type it expects. */
  inputs: unknown;
  parent: string;
  dependencies: string[];
  aliases: string[];
}

/** The parts of a RegisterResourceRequest this reads (the SDK's generated classes are untyped here). */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getParent(): string;
  getObject(): Parameters<typeof pulumi.runtime.deserializeProperties>[0];
  getDependenciesList(): string[];
  getAliasesList(): Array<{ getUrn(): string }>;
  getAliasurnsList(): string[];
}
type Callback = (err: unknown, res: { getUrn(): string } | undefined) => void;

class RecordingMonitor extends MockMonitor {
  readonly recorded: Recorded[] = [];
  async registerResource(req: RegisterRequest, callback: Callback) {
    await super.registerResource(req, (err: unknown, res: { getUrn(): string } | undefined) => {
      if (!err && res) {
        this.recorded.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: pulumi.runtime.deserializeProperties(req.getObject()),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
          // As URNs, whichever way the SDK sent them (the engine takes structured aliases; the mocks not).
          aliases: [...req.getAliasesList().map((a) => a.getUrn()), ...req.getAliasurnsList()].filter(Boolean),
        });
      }
      callback(err, res);
    });
  }
}

const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs } }),
  call: (args) => args.inputs,
};

/** The SDK's wait for every outstanding RPC (what `pulumi up` waits for before it exits); not in its typings. */
const waitForRPCs = (settings as unknown as { waitForRPCs(): Promise<void> }).waitForRPCs;

/**
 * Runs `program` as stack `dev` of project `ray-operator` under mocks; resolves with what it registered
 * once every registration has finished, or rejects with the program's own error. `settle: false`
 * returns at once, with the list that fills as registrations finish: for a program whose resource
 * inputs fail, since a resource that never registers leaves its component's outputs waiting forever.
 */
export async function runInline(program: () => void, opts: { settle?: boolean } = {}): Promise<Recorded[]> {
  const monitor = new RecordingMonitor(mocks);
  settings.setMockOptions(monitor, "ray-operator", "dev", false);
  pulumi.runtime.setAllConfig({});
  program();
  if (opts.settle ?? true) await waitForRPCs();
  return monitor.recorded;
}

/** The value of an Output, or its error (the SDK's own promise, which its typings keep internal). */
export function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return (output as unknown as { promise(): Promise<T> }).promise();
}
