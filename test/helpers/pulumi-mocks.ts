// Runs the Pulumi program under Pulumi's own mocks and records every resource it registers, with
// its inputs, parent and dependencies (the stock mocks drop the last two; the monitor keeps them).
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import { setMockOptions } from "@pulumi/pulumi/runtime/settings";
import type { Struct } from "google-protobuf/google/protobuf/struct_pb";

export interface Registered {
  type: string;
  name: string;
  urn: string;
  // Loose on purpose, for now: test/pulumi/program.test.ts reads deep into objects of every kind.
  inputs: any;
  parent: string;
  dependencies: string[];
}

/** The parts of the engine's RegisterResourceRequest and its answer that are recorded. */
interface RegisterRequest {
  getType(): string;
  getName(): string;
  getObject(): Struct;
  getParent(): string;
  getDependenciesList(): string[];
}
interface RegisterResponse {
  getUrn(): string;
}

class RecordingMonitor extends MockMonitor {
  readonly registered: Registered[] = [];
  /** Registrations the engine (here: the mocks) refused; a run with any fails. */
  readonly failed: string[] = [];
  async registerResource(req: RegisterRequest, callback: (err: Error | null, res: RegisterResponse) => void) {
    await super.registerResource(req, (err: Error | null, res: RegisterResponse) => {
      if (err) this.failed.push(`${req.getType()} ${req.getName()}: ${err.message}`);
      else
        this.registered.push({
          type: req.getType(),
          name: req.getName(),
          urn: res.getUrn(),
          inputs: pulumi.runtime.deserializeProperties(req.getObject()),
          parent: req.getParent(),
          dependencies: req.getDependenciesList(),
        });
      callback(err, res);
    });
  }
}

const mocks: pulumi.runtime.Mocks = {
  newResource: (args) => ({ id: `${args.name}-id`, state: { ...args.inputs } }),
  call: (args) => args.inputs,
};

/** Every Output inside `value` (the program's exports), resolved. */
async function resolved(value: unknown): Promise<void> {
  if (pulumi.Output.isInstance(value)) {
    await new Promise<void>((done) => value.apply((v) => resolved(v).then(done)));
    return;
  }
  if (Array.isArray(value)) await Promise.all(value.map(resolved));
  else if (value !== null && typeof value === "object" && !pulumi.Resource.isInstance(value))
    await Promise.all(Object.values(value).map(resolved));
}

/**
 * Loads `programPath` fresh with `config` and returns what it registered once the program is done.
 *
 * "Done" is the engine's own signal, not a quiet period: every resource constructor takes a hold on
 * the runtime's RPC queue before it returns, and releases it once its registration is answered;
 * `disconnect()` waits until that queue has drained (what a real `pulumi up` waits for before the
 * program ends), and keeps waiting if a registration starts meanwhile. The program's exports are
 * resolved first, so that resources made inside an `apply` feeding them hold the queue too.
 */
export async function runProgram(
  programPath: string,
  config: Record<string, string>,
): Promise<{ resources: Registered[]; exports: Record<string, unknown> }> {
  const monitor = new RecordingMonitor(mocks);
  setMockOptions(monitor, "ray-operator", "dev", false);
  pulumi.runtime.setAllConfig(config);
  delete require.cache[require.resolve(programPath)];
  const exports: Record<string, unknown> = require(programPath);
  await resolved(exports);
  await pulumi.runtime.disconnect();
  if (monitor.failed.length) throw new Error(`registrations failed: ${monitor.failed.join("; ")}`);
  return { resources: monitor.registered, exports };
}
