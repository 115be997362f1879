// The bodies the API answers with, as zod schemas. They are not used to build the answers (the routes build
// plain objects from the engine's types): they describe them for the OpenAPI document, and the integration
// tests parse real answers with them, so a field added to an answer and not here fails a test.
import { z } from "zod";
import { DispatchedState } from "../../contracts/dispatch";
import {
  CronTrigger,
  NodeTemplate,
  RetryPolicy,
  RunStatus,
  STATE_STATUSES,
  StateStatus,
  StoreConfig,
  Transport,
  Unites,
  ValidationStatus,
} from "../../engine/model";

const jsonObject = z.record(z.string(), z.unknown());
/** Exosphere's timestamps: Python `isoformat()` of a naive UTC datetime. */
const naiveIso = z.string().describe("naive ISO 8601 timestamp in UTC (Python isoformat)");
/** A count for every state status (all present, zeros included). */
const countsByStatus = z.object(
  Object.fromEntries(STATE_STATUSES.map((s) => [s, z.int()])) as Record<StateStatus, z.ZodInt>,
);
const stateId = z.string().describe("24 hex digits: the run key and the state's sequence number");

export const ErrorBody = z.object({ detail: z.string() }).describe("a refusal, in one sentence");
export const PydanticError = z.object({
  type: z.string(),
  loc: z.array(z.union([z.string(), z.int()])),
  msg: z.string(),
  input: z.unknown(),
  ctx: jsonObject.optional(),
});
export const ValidationErrorBody = z
  .object({ detail: z.array(PydanticError) })
  .describe("FastAPI's 422: one pydantic-style error per problem");
export const InternalErrorBody = z
  .object({ success: z.literal(false), detail: z.string() })
  .describe("an unexpected error; the detail names the request id it was logged under");

export const Health = z.object({ message: z.literal("OK") });
export const NamespacesList = z.object({ namespaces: z.array(z.string()), count: z.int() });

const NodeRegistration = z.object({
  name: z.string(),
  inputs_schema: jsonObject,
  outputs_schema: jsonObject,
  secrets: z.array(z.string()),
});
export const RegisteredNodes = z.object({
  runtime_name: z.string(),
  registered_nodes: z.array(NodeRegistration),
});
export const RegisteredNode = NodeRegistration.extend({
  _id: z.string(),
  namespace: z.string(),
  runtime_name: z.string(),
  runtime_namespace: z.string(),
  transport: Transport,
  queue: z.string().optional().describe("ours: the engine's queue binding a push node's ready states go to"),
  created_at: naiveIso,
  updated_at: naiveIso,
  last_seen_at: naiveIso
    .nullable()
    .optional()
    .describe("our extension: when a runtime last polled for this node or ran a batch of it; null: never"),
});

/** Who serves a node a run waits on (our extension). */
const Serving = {
  runtime_name: z.string().nullable().describe("the runtime registered to serve the node; null: none"),
  transport: z.string().nullable(),
  last_seen_at: naiveIso.nullable().describe("when a runtime last polled for it or ran it; null: never"),
};
const WaitingNode = z.object({
  identifier: z.string(),
  node_name: z.string(),
  namespace: z.string(),
  states: z.int().describe("due states of the node that wait (CREATED or QUEUED)"),
  since: naiveIso.describe("when the oldest of them began to wait"),
  ...Serving,
});
const waiting = z
  .array(WaitingNode)
  .optional()
  .describe(
    "our extension: present while the run is PENDING and none of its states ended for 30 s: the nodes it waits on",
  );
export const NodesList = z.object({ namespace: z.string(), count: z.int(), nodes: z.array(RegisteredNode) });

/** Secret names, each mapped to `true`: values and ciphertexts never leave the engine. */
const secretFlags = z.record(z.string(), z.literal(true));
export const GraphTemplate = z.object({
  name: z.string().describe("our addition: Exosphere's dashboard reads it"),
  namespace: z.string().describe("our addition: Exosphere's dashboard reads it"),
  nodes: z.array(NodeTemplate),
  secrets: secretFlags,
  retry_policy: RetryPolicy,
  store_config: StoreConfig,
  triggers: z.array(CronTrigger),
  trigger_schedule: z
    .array(z.object({ expression: z.string(), next_fire_at: z.string() }))
    .describe("our extension: each armed cron schedule and its next fire time (ISO, UTC)"),
  created_at: naiveIso,
  updated_at: naiveIso,
  validation_status: ValidationStatus,
  validation_errors: z.array(z.string()),
});
export const ListedGraphTemplate = z.object({
  _id: z.string(),
  created_at: naiveIso,
  updated_at: naiveIso,
  name: z.string(),
  namespace: z.string(),
  nodes: z.array(NodeTemplate),
  validation_status: ValidationStatus,
  validation_errors: z.array(z.string()),
  secrets: secretFlags,
  triggers: z.array(CronTrigger),
  retry_policy: RetryPolicy,
  store_config: StoreConfig,
});
export const GraphTemplatesList = z.object({
  namespace: z.string(),
  count: z.int(),
  templates: z.array(ListedGraphTemplate),
});

const warnings = z
  .array(z.string())
  .optional()
  .describe("our extension: what the trigger asked for that was ignored (absent when nothing was)");
export const TriggerResult = z.object({
  status: z.literal("CREATED"),
  run_id: z.string(),
  warnings,
  /** Ours, with `wait_ms`: the run's status when the request answered (PENDING: the wait ended first). */
  run_status: RunStatus.optional(),
});

export const PulledState = z.object({
  state_id: stateId,
  node_name: z.string(),
  identifier: z.string(),
  inputs: z.record(z.string(), z.string()),
  created_at: naiveIso,
});
export const EnqueueResult = z.object({
  count: z.int(),
  namespace: z.string(),
  status: z.literal("QUEUED"),
  states: z.array(PulledState),
});

export const ExecutedResult = z.object({ status: z.literal("EXECUTED") });
export const ErroredResult = z.object({ status: z.literal("ERRORED"), retry_created: z.boolean() });
export const PruneResult = z.object({ enqueue_after: z.number(), status: z.literal("PRUNED") });
export const RequeueResult = z.object({ enqueue_after: z.number(), status: z.literal("CREATED") });
export const ManualRetryResult = z.object({ id: stateId, status: z.literal("CREATED") });
export const SecretsResult = z.object({ secrets: z.record(z.string(), z.string()) });
export const CancelRunResult = z.object({ run_id: z.string(), status: z.literal("CANCELLED") });

const runCounts = {
  success_count: z.int().describe("SUCCESS and PRUNED states"),
  pending_count: z.int().describe("CREATED, QUEUED and EXECUTED states"),
  errored_count: z.int().describe("ERRORED and NEXT_CREATED_ERROR states"),
  retried_count: z.int().describe("RETRY_CREATED states"),
  total_count: z.int().describe("every state: attempts, fan-out clones and retries"),
  cancelled_count: z
    .int()
    .optional()
    .describe("our extension: CANCELLED states, present only when the run has some"),
};
export const RunListItem = z.object({
  run_id: z.string(),
  graph_name: z.string(),
  ...runCounts,
  status: RunStatus,
  created_at: naiveIso,
  waiting,
});
export const RunsPage = z.object({
  namespace: z.string(),
  total: z.int(),
  page: z.int(),
  size: z.int(),
  runs: z.array(RunListItem),
});

export const GraphNode = z.object({
  id: stateId,
  node_name: z.string(),
  identifier: z.string(),
  status: StateStatus,
  error: z.string().nullable(),
});
export const RunGraph = z.object({
  root_states: z.array(GraphNode),
  graph_name: z.string(),
  nodes: z.array(GraphNode),
  edges: z.array(z.object({ source: stateId, target: stateId })),
  node_count: z.int(),
  edge_count: z.int(),
  execution_summary: countsByStatus,
  next_cursor: stateId
    .optional()
    .describe("our extension: present when more states follow; pass it back as `cursor`"),
  warnings,
});

export const NodeDetails = z.object({
  id: stateId,
  node_name: z.string(),
  identifier: z.string(),
  graph_name: z.string(),
  run_id: z.string(),
  status: StateStatus,
  inputs: z.record(z.string(), z.string()),
  outputs: jsonObject,
  error: z.string().nullable(),
  parents: z.record(z.string(), stateId),
  created_at: naiveIso,
  updated_at: naiveIso,
  waiting_since: naiveIso
    .optional()
    .describe("our extension, for a CREATED or QUEUED state: since when it waits"),
  served_by: z
    .object(Serving)
    .optional()
    .describe("our extension, for a CREATED or QUEUED state: who should serve its node"),
});

export const RunCosts = z.object({
  run_id: z.string(),
  reportRpcs: z.int(),
  reportCommits: z.int(),
  claimRpcs: z.int(),
  inputsByReference: z.int(),
  rowsWritten: z.int(),
  queueMessages: z.int(),
  sendBatchCalls: z.int(),
  readyQueueOffers: z.int(),
  spawnRpcs: z.int(),
  settleRpcs: z.int(),
  pickupRpcs: z.int(),
  redeliveries: z.int(),
});

export const NodeProgress = z.object({
  identifier: z.string(),
  node_name: z.string(),
  namespace: z.string(),
  next_nodes: z.array(z.string()),
  unites: Unites.nullable(),
  states: countsByStatus.describe("this node's states by status, every status present"),
  total: z.int(),
});
export const RunNodes = z.object({
  run_id: z.string(),
  graph_name: z.string(),
  namespace: z.string(),
  ...runCounts,
  status: RunStatus,
  created_at: naiveIso,
  warnings,
  waiting,
  nodes: z.array(NodeProgress).describe("the graph the run snapshotted, in template order"),
});

// ---- the runtime interface over HTTP (`POST /v0/runtime/{method}`): `{"result": …}` ----

export const RuntimeReportResult = z.object({
  result: z.array(
    z.union([
      z.object({
        applied: z.literal(true),
        status: StateStatus,
        retryCreated: z.boolean().optional(),
        enqueueAfter: z.number(),
      }),
      z.object({
        applied: z.literal(false),
        reason: z.enum(["not_found", "not_queued", "terminal", "page_gap", "duplicate_page"]),
        status: StateStatus.optional(),
      }),
    ]),
  ),
});
/** Inputs or secrets per state seq (the seq as a JSON object key). */
export const RuntimePickupResult = z.object({ result: z.array(z.int()) });
export const RuntimeReportAndTakeResult = z.object({
  result: z.object({
    outcomes: RuntimeReportResult.shape.result,
    eager: z
      .array(DispatchedState)
      .describe("ready states leased to the consumer, as a queue message carries them"),
  }),
});
export const RuntimeNodesSeenResult = z.object({}).describe("nothing to say");
export const RuntimePerStateResult = z.object({
  result: z.record(z.string(), z.record(z.string(), z.string())),
});
export const RuntimeRegistrationResult = z.object({
  result: z.object({ runtime_name: z.string(), queue: z.string(), registered: z.array(z.string()) }),
});
