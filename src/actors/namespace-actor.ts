import { DurableObject } from "cloudflare:workers";

export class NamespaceActor extends DurableObject<Env> {}
