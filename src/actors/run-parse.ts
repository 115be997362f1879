// Parsing what the run actor reads back from its own SQLite, not casting it (issue: data read back is
// parsed). State rows are read on the hot path, a million times in a wide run, so their columns are
// checked by small hand-written parsers; the rarer protocol rows (spawn batches, settle deltas) by zod.
import { z } from "zod";
import { StateStatus } from "../engine/model";
import type { ParentLink, SettleDelta, SpawnBatch } from "../engine/run/types";
import { StoredDataError } from "./stored";

const STATUSES: ReadonlySet<string> = new Set(StateStatus.options);

export function parseStatus(text: string, what = "state status"): StateStatus {
  if (!STATUSES.has(text)) throw new StoredDataError(what, `unknown status ${JSON.stringify(text)}`);
  return text as StateStatus;
}

const json = (text: string, what: string): unknown => {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new StoredDataError(what, "not JSON", { cause: e });
  }
};

/** A JSON object column (inputs, outputs, prune data). */
export function parseObject(text: string, what: string): Record<string, unknown> {
  const value = json(text, what);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new StoredDataError(what, "not a JSON object");
  }
  return value as Record<string, unknown>;
}

/** Inputs: an object of strings. */
export function parseInputs(text: string, what: string): Record<string, string> {
  const value = parseObject(text, what);
  for (const v of Object.values(value)) {
    if (typeof v !== "string") throw new StoredDataError(what, "an input is not a string");
  }
  return value as Record<string, string>;
}

/** A state's ancestors: [identifier, seq, execution seq] triples. */
export function parseParents(text: string, what = "state parents"): ParentLink[] {
  const value = json(text, what);
  if (!Array.isArray(value)) throw new StoredDataError(what, "not a list");
  for (const link of value) {
    if (
      !Array.isArray(link) ||
      link.length !== 3 ||
      typeof link[0] !== "string" ||
      typeof link[1] !== "number" ||
      typeof link[2] !== "number"
    ) {
      throw new StoredDataError(what, "a link is not [identifier, seq, execution]");
    }
  }
  return value as ParentLink[];
}

/** A list of seqs (a dispatch round, a barrier's failed sample). */
export function parseSeqs(text: string, what: string): number[] {
  const value = json(text, what);
  if (!Array.isArray(value) || !value.every((n) => typeof n === "number")) {
    throw new StoredDataError(what, "not a list of seqs");
  }
  return value as number[];
}

const Link = z.tuple([z.string(), z.number(), z.number()]);
const BatchHead = z.object({
  seq: z.number(),
  identifier: z.string(),
  node_name: z.string(),
  namespace: z.string(),
  parents: z.array(Link),
  lineage: z.string(),
});
const SpawnBatchSchema = z.object({
  head: BatchHead,
  spawn: z.array(z.object({ identifier: z.string(), node_name: z.string(), namespace: z.string() })),
  members: z.array(
    z.object({
      fanout_index: z.number(),
      outputs: z.record(z.string(), z.unknown()),
      inputs: z.array(z.record(z.string(), z.string())),
    }),
  ),
  queued: z.array(z.string()).optional(),
});
/**
 * A batch written before batches named their nodes once (each member carried its children whole, and
 * fan-out ids chosen by the run actor): still in an outbox after an upgrade, it is read as the new shape
 * (the shard gives fan-out ids now).
 */
const LegacySpawnBatchSchema = z
  .object({
    head: BatchHead,
    members: z.array(
      z.object({
        fanout_index: z.number(),
        outputs: z.record(z.string(), z.unknown()),
        children: z.array(
          z.object({
            identifier: z.string(),
            node_name: z.string(),
            namespace: z.string(),
            inputs: z.record(z.string(), z.string()),
          }),
        ),
      }),
    ),
  })
  .transform(
    ({ head, members }): SpawnBatch => ({
      head,
      spawn: (members[0]?.children ?? []).map(({ identifier, node_name, namespace }) => ({
        identifier,
        node_name,
        namespace,
      })),
      members: members.map((m) => ({
        fanout_index: m.fanout_index,
        outputs: m.outputs,
        inputs: m.children.map((c) => c.inputs),
      })),
    }),
  );
const SettleDeltaSchema = z.object({
  counts: z.partialRecord(StateStatus, z.number()),
  barriers: z.array(
    z.object({
      unite: z.string(),
      exec_seq: z.number(),
      pending: z.number(),
      failed: z.number(),
      failed_add: z.array(z.number()),
      failed_remove: z.array(z.number()),
    }),
  ),
  tolerated: z.number().optional(),
});

function parseWith<T>(schema: z.ZodType<T>, text: string, what: string): T {
  const parsed = schema.safeParse(json(text, what));
  if (!parsed.success)
    throw new StoredDataError(what, z.prettifyError(parsed.error), { cause: parsed.error });
  return parsed.data;
}

export const parseSpawnBatch = (text: string): SpawnBatch =>
  parseWith(z.union([SpawnBatchSchema, LegacySpawnBatchSchema]), text, "spawn batch");
export const parseSettleDelta = (text: string): SettleDelta =>
  parseWith(SettleDeltaSchema, text, "settle delta");
