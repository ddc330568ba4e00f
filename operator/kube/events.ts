// Kubernetes Events on RayClusters (so `kubectl describe raycluster` tells the story), aggregated
// like client-go's recorder: the same event repeated within 10 minutes bumps a count instead of
// creating a new object. Failures to record are logged, never fatal.
import { randomBytes } from "crypto";
import type { Event } from "../../api/v1/kube-types";
import { KubeRest } from "./rest";
import type { Logger } from "../util/log";

export interface EventTarget {
  apiVersion: string;
  kind: string;
  metadata: { name?: string; namespace?: string; uid?: string; resourceVersion?: string };
}

export class EventRecorder {
  private readonly recent = new Map<string, { name: string; count: number; at: number }>();

  constructor(
    private readonly rest: KubeRest,
    private readonly component: string,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  async record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    const ns = target.metadata.namespace!;
    const now = new Date().toISOString();
    const key = `${target.metadata.uid}|${type}|${reason}|${message}`;
    const seen = this.recent.get(key);
    try {
      if (seen && Date.now() - seen.at < 10 * 60_000) {
        seen.count++;
        seen.at = Date.now();
        await this.rest.mergePatch(`/api/v1/namespaces/${ns}/events/${seen.name}`, {
          count: seen.count,
          lastTimestamp: now,
        });
        return;
      }
      const name = `${target.metadata.name}.${randomBytes(8).toString("hex")}`;
      const event: Event = {
        metadata: { name, namespace: ns },
        involvedObject: {
          apiVersion: target.apiVersion,
          kind: target.kind,
          name: target.metadata.name,
          namespace: ns,
          uid: target.metadata.uid,
        },
        type,
        reason,
        message,
        source: { component: this.component, host: this.host },
        reportingComponent: this.component,
        reportingInstance: this.host,
        firstTimestamp: now,
        lastTimestamp: now,
        count: 1,
      };
      await this.rest.create(`/api/v1/namespaces/${ns}/events`, event);
      this.recent.set(key, { name, count: 1, at: Date.now() });
      if (this.recent.size > 5000)
        for (const [k, v] of this.recent) if (Date.now() - v.at > 10 * 60_000) this.recent.delete(k);
    } catch (e) {
      this.recent.delete(key);
      this.log.warn(
        `could not record event ${reason} on ${target.kind} ${ns}/${target.metadata.name}: ${(e as Error).message}`,
      );
    }
  }
}
