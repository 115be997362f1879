// What the API's handlers see: the Worker bindings, plus the configuration variables (read only through
// `configOf`, src/config.ts).
import type { ConfigVars } from "../config";

export type AppEnv = {
  Bindings: Env & ConfigVars;
  Variables: { requestId: string };
};
