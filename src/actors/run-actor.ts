import { DurableObject } from "cloudflare:workers";

export class RunActor extends DurableObject<Env> {}
