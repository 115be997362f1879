import { DurableObject } from "cloudflare:workers";

export class RunActor extends DurableObject<Env> {
  ping(): string {
    return "pong";
  }
}
export class NamespaceActor extends DurableObject<Env> {}

export default {
  async fetch(): Promise<Response> {
    return Response.json({ message: "OK" });
  },
  async queue(batch: MessageBatch): Promise<void> {
    batch.ackAll();
  },
} satisfies ExportedHandler<Env>;
