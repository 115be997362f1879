// The queues of push runtimes, as the engine sees them: one producer binding per runtime, named in the
// engine's wrangler.toml (`[[queues.producers]]`), and named by the runtime when it registers its nodes. A
// registration or a trigger that names a binding the engine does not have is refused where it is made,
// so no state is ever claimed for a queue nobody can send to.
import { ValidationError } from "../engine/errors";

/** What a binding name may look like (a JavaScript identifier, as wrangler requires). */
const BINDING_NAME = /^[A-Za-z_$][A-Za-z0-9_$]{0,127}$/;

/** The queue producer bound as `name` in the engine's environment, or null if there is none. */
export function queueBinding(env: object, name: string): Queue | null {
  if (!BINDING_NAME.test(name)) return null;
  const binding: unknown = (env as Record<string, unknown>)[name];
  if (typeof binding !== "object" || binding === null) return null;
  return typeof (binding as { sendBatch?: unknown }).sendBatch === "function" ? (binding as Queue) : null;
}

/** Refuses (ValidationError) a queue binding name the engine has no queue producer for. */
export function assertQueueBinding(env: object, name: string): void {
  if (queueBinding(env, name) === null) {
    throw new ValidationError(
      `The engine has no queue binding named '${name}': add a [[queues.producers]] binding of that name ` +
        "for the runtime's queue to the engine's wrangler.toml and deploy the engine, then register again",
    );
  }
}
