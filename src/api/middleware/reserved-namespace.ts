// The namespace actor's directory instance has a fixed name; refusing that name as a namespace in every
// `/v0/namespace/{ns}/...` route (including routes added later) keeps users from addressing it.
import { createMiddleware } from "hono/factory";
import { DIRECTORY_ACTOR_NAME } from "../../actors/namespace-actor";
import { ValidationError } from "../../engine/errors";
import type { AppEnv } from "../env";

export const NAMESPACE_ROUTES = "/v0/namespace/:namespace/*";

export const rejectReservedNamespace = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.param("namespace") === DIRECTORY_ACTOR_NAME) {
    throw new ValidationError(`Namespace name ${DIRECTORY_ACTOR_NAME} is reserved`);
  }
  await next();
});
