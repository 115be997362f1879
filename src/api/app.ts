// The HTTP surface. Cross-cutting middleware runs outermost first, as in Exosphere (CORS → request id →
// errors → router), then the API key for /v0, then the route modules. A new area of the API is one
// more entry in ROUTE_MODULES.
import { Hono } from "hono";
import type { AppEnv } from "./env";
import { requireApiKey } from "./middleware/auth";
import { cors } from "./middleware/cors";
import { methodNotAllowed, onError, unknownRoute } from "./middleware/errors";
import { requestId } from "./middleware/request-id";
import { graphsRoutes } from "./routes/graphs";
import { healthRoutes } from "./routes/health";
import { namespacesRoutes } from "./routes/namespaces";
import { nodesRoutes } from "./routes/nodes";
import { openApiRoutes } from "./routes/openapi";
import { runCancelRoutes } from "./routes/run-cancel";
import { runCostsRoutes } from "./routes/run-costs";
import { runInspectRoutes } from "./routes/run-inspect";
import { runLiveRoutes } from "./routes/run-live";
import { runsRoutes } from "./routes/runs";
import { runtimeRoutes } from "./routes/runtime";
import { stateReportRoutes } from "./routes/state-reports";
import { statesEnqueueRoutes } from "./routes/states-enqueue";
import { triggerRoutes } from "./routes/trigger";
import { webPageRoutes } from "./routes/web-page";

/** Route modules, each a Hono app declaring full paths; mounted at the root in this order. */
const ROUTE_MODULES: Hono<AppEnv>[] = [
  healthRoutes,
  namespacesRoutes,
  nodesRoutes,
  graphsRoutes,
  triggerRoutes,
  runsRoutes,
  runInspectRoutes,
  runCancelRoutes,
  // The pull-runtime protocol (spec §2.9–§2.15).
  statesEnqueueRoutes,
  stateReportRoutes,
  // Push runtime Workers without a service binding to the engine (contracts/engine-rpc.ts).
  runtimeRoutes,
  // Our extensions (not in Exosphere's API): a run's cost counters, for the benchmark; a run per node,
  // once or live; the OpenAPI document (no key, like /health).
  runCostsRoutes,
  runLiveRoutes,
  openApiRoutes,
  // The web page (no key: it holds no data; it asks for the key and sends it with its API calls).
  webPageRoutes,
];

export const app = new Hono<AppEnv>();

app.use(cors);
app.use(requestId);
app.use(methodNotAllowed(app));
app.use("/v0/*", requireApiKey);
for (const routes of ROUTE_MODULES) app.route("/", routes);
app.notFound(unknownRoute);
app.onError(onError);
