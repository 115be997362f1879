// The run actor's state rows as the engine sees them: parsed from their columns, with values too large
// for a row kept in a `chunks` table beside it. Every statement binds its parameters.

import { exceedsBytes, ROW_VALUE_BYTES, VALUE_CHUNK_CHARS } from "../engine/limits";
import { positionIn, type SubtreePage, type SubtreePosition, sortsBefore } from "../engine/run/gather";
import type { StateRow } from "../engine/run/types";
import { ClonePageWriter, cloneState, pageOutputs, subtreeClones } from "./run-clone-pages";
import { parseInputs, parseObject, parseParents, parseStatus } from "./run-parse";
import { StateWrites } from "./run-state-writes";

/** What a JSON column holds when its value is stored in chunks (stored JSON always starts with `{`). */
export const CHUNKED = "@chunks";
/** A state's JSON columns; "spawn" is a batch of branches in the spawn outbox (keyed by minus its id). */
export type JsonColumn = "inputs" | "outputs" | "data" | "spawn";

export interface StateRecord extends Record<string, SqlStorageValue> {
  seq: number;
  identifier: string;
  node_name: string;
  namespace: string;
  status: string;
  inputs: string | null;
  outputs: string;
  error: string | null;
  data: string;
  parents: string;
  exec_seq: number;
  fanout_index: number;
  lineage: string;
  retry_count: number;
  fanout_id: string;
  manual_retry_fanout_id: string;
  does_unites: number;
  never_ran: number;
  reported_outputs: number;
  enqueue_after: number;
  created_at: number;
  updated_at: number;
  offered: number;
  lease_expires: number | null;
}

/**
 * The states table's columns as `stateRecords` reads them. A query selects these (never `*`) and its rows
 * are read as arrays: workerd builds a row as an array several times faster than as an object, and a
 * batch of reports reads thousands of rows (10,000 rows: 100 ms as objects, 40 ms as arrays).
 */
const STATE_COLUMNS =
  "seq, identifier, node_name, namespace, status, inputs, outputs, error, data, parents, exec_seq, fanout_index, lineage, retry_count, fanout_id, manual_retry_fanout_id, does_unites, never_ran, reported_outputs, enqueue_after, created_at, updated_at, offered, lease_expires";

/** `SELECT <the state columns> FROM states <rest>`, for `stateRecords`. */
export const selectStates = (rest: string) => `SELECT ${STATE_COLUMNS} FROM states ${rest}`;

/** The rows of a `selectStates` query. */
export function stateRecords(cursor: SqlStorageCursor<Record<string, SqlStorageValue>>): StateRecord[] {
  const out: StateRecord[] = [];
  for (const a of cursor.raw()) {
    out.push({
      seq: a[0] as number,
      identifier: a[1] as string,
      node_name: a[2] as string,
      namespace: a[3] as string,
      status: a[4] as string,
      inputs: a[5] as string | null,
      outputs: a[6] as string,
      error: a[7] as string | null,
      data: a[8] as string,
      parents: a[9] as string,
      exec_seq: a[10] as number,
      fanout_index: a[11] as number,
      lineage: a[12] as string,
      retry_count: a[13] as number,
      fanout_id: a[14] as string,
      manual_retry_fanout_id: a[15] as string,
      does_unites: a[16] as number,
      never_ran: a[17] as number,
      reported_outputs: a[18] as number,
      enqueue_after: a[19] as number,
      created_at: a[20] as number,
      updated_at: a[21] as number,
      offered: a[22] as number,
      lease_expires: a[23] as number | null,
    });
  }
  return out;
}

const chunkKey = (seq: number, col: string) => `${seq}\u0000${col}`;

/**
 * Defines `row.inputs` as read and parsed on first use. Inputs can be large (a fan-out head's list to
 * split: 6.9 MB at a million items, in chunks), and most reads of a row never look at them: the head is
 * read for every page of its outputs, a clone for a view that sends its head's inputs as stored text,
 * and a reported state for its report (parsing every reported state's inputs was about 1 % of a run).
 * Reading or spreading the row loads them once; assigning replaces them. A row's stored inputs never
 * change once written, except a waiting unite's (given them once), so loading them later reads what
 * was there when the row was read.
 */
function inputsOnUse(row: StateRow, load: () => Record<string, string>): void {
  const settle = (value: Record<string, string>) =>
    Object.defineProperty(row, "inputs", { value, writable: true, enumerable: true, configurable: true });
  Object.defineProperty(row, "inputs", {
    enumerable: true,
    configurable: true,
    get: () => {
      const value = load();
      settle(value);
      return value;
    },
    set: settle,
  });
}

/** Parses a JSON column; `chunked` reads a value that was too large for the row. */
export function toStateRow(r: StateRecord, chunked: (col: JsonColumn) => string): StateRow {
  const value = (col: JsonColumn, text: string) => (text === CHUNKED ? chunked(col) : text);
  const what = (col: JsonColumn) => `${col} of state ${r.seq}`;
  const row: StateRow = {
    seq: r.seq,
    identifier: r.identifier,
    node_name: r.node_name,
    namespace: r.namespace,
    status: parseStatus(r.status),
    // A clone's inputs live on its head (see getState); views that list states never show inputs. Stored
    // inputs are parsed on first use (below).
    inputs: {},
    outputs: parseObject(value("outputs", r.outputs), what("outputs")),
    error: r.error,
    data: parseObject(value("data", r.data), what("data")),
    parents: parseParents(r.parents),
    exec_seq: r.exec_seq,
    fanout_index: r.fanout_index,
    lineage: r.lineage,
    retry_count: r.retry_count,
    fanout_id: r.fanout_id,
    manual_retry_fanout_id: r.manual_retry_fanout_id,
    does_unites: r.does_unites === 1,
    never_ran: r.never_ran === 1,
    reported_outputs: r.reported_outputs,
    enqueue_after: r.enqueue_after,
    created_at: r.created_at,
    updated_at: r.updated_at,
  };
  const inputs = r.inputs;
  if (inputs !== null) {
    inputsOnUse(row, () => parseInputs(inputs === CHUNKED ? chunked("inputs") : inputs, what("inputs")));
  }
  return row;
}

/** Cost counters, counted where the work happens (reported by the benchmark). */
export interface RunCostCounters {
  rowsWritten: number;
}

/**
 * A run actor's state rows as the engine sees them: parsed, with values too large for a row read from
 * (and written to) their chunks.
 */
export abstract class SqlRows {
  readonly cost: RunCostCounters = { rowsWritten: 0 };
  /** Every statement of the store goes through this: it first writes what is buffered, in order. */
  protected readonly sql: SqlStorage;
  private readonly writes: StateWrites;
  /** Fan-out clones of this transaction, written as pages (run-clone-pages.ts) with its other rows. */
  private readonly pages = new ClonePageWriter();
  /** The last clone page whose outputs were read (a fan-out's grandchildren read its clones in order). */
  private pageRead: { first: number; outputs: Record<string, unknown>[] } | undefined;
  /**
   * The (seq, column) pairs that have chunks. Chunked values are rare (each is over ROW_VALUE_BYTES), so
   * the set stays small, and replacing a value that was never chunked (every report's outputs) costs no
   * statement. Reloaded after a rolled-back transaction.
   */
  private chunked = new Set<string>();
  private readonly prefetched = new Map<number, StateRecord>();

  /** `empty`: the actor's storage was created just now and holds no state (nothing to load). */
  constructor(
    private readonly raw: SqlStorage,
    empty = false,
  ) {
    this.writes = new StateWrites(raw);
    const writes = this.writes;
    const pages = this.pages;
    this.sql = {
      exec: (query: string, ...bindings: unknown[]) => {
        writes.drain();
        pages.flush(raw);
        return raw.exec(query, ...bindings);
      },
    } as SqlStorage;
    if (!empty) this.loadChunked();
  }

  /**
   * From now until `drainWrites`, state rows are inserted and updated in multi-row statements (see
   * StateWrites). Any other statement of the store writes what is buffered first, so the store reads
   * what it wrote. Only for a caller that drains inside the same transaction.
   */
  bufferWrites(): void {
    this.forgetPrefetched();
    this.writes.buffering = true;
  }

  /** Writes what is buffered and stops buffering. MUST be called inside the transaction that buffered. */
  drainWrites(): void {
    this.forgetPrefetched();
    this.writes.drain();
    this.pages.flush(this.raw);
    this.writes.buffering = false;
  }

  /** Forgets what is buffered (the transaction rolled back) and stops buffering. */
  protected dropWrites(): void {
    this.forgetPrefetched();
    this.writes.clear();
    this.pages.clear();
    this.pageRead = undefined;
    this.writes.buffering = false;
  }

  protected writeInsert(values: SqlStorageValue[]): void {
    this.writes.insert(values);
  }

  /** Keeps a plain fan-out clone in a page; false when it must be a row of its own. */
  protected writeClone(s: StateRow): boolean {
    const added = this.pages.add(s);
    if (added === "opened") this.cost.rowsWritten += 1;
    return added !== false;
  }

  protected writeUpdate(seq: number, sets: string[], values: SqlStorageValue[]): void {
    this.forgetPrefetched(seq);
    this.writes.update(seq, sets, values);
  }

  protected loadChunked(): void {
    this.chunked = new Set(
      this.sql
        .exec<{ seq: number; col: string }>("SELECT DISTINCT seq, col FROM chunks")
        .toArray()
        .map((r) => chunkKey(r.seq, r.col)),
    );
  }

  /** Deletes the chunks of one value, if it has any. */
  protected dropChunks(seq: number, col: JsonColumn): void {
    // Most runs have no chunked value at all: every report replaces outputs, so skip building the key.
    if (this.chunked.size === 0) return;
    const key = chunkKey(seq, col);
    if (!this.chunked.delete(key)) return;
    this.sql.exec("DELETE FROM chunks WHERE seq = ? AND col = ?", seq, col);
  }

  /**
   * Reads the rows of states about to be read one by one (a batch of reports) in one statement. Each
   * prefetched row serves one `getState` of it until it is written, and none outlives the transaction.
   */
  prefetch(seqs: readonly number[]): void {
    if (seqs.length < 2) return;
    const cursor = this.sql.exec(
      selectStates("WHERE seq IN (SELECT value FROM json_each(?))"),
      JSON.stringify(seqs),
    );
    for (const r of stateRecords(cursor)) this.prefetched.set(r.seq, r);
  }

  /** Forgets prefetched rows: `seq`'s (written), or all of them. */
  protected forgetPrefetched(seq?: number): void {
    if (seq === undefined) this.prefetched.clear();
    else this.prefetched.delete(seq);
  }

  getState(seq: number): StateRow | undefined {
    const cached = this.prefetched.get(seq);
    if (cached) this.prefetched.delete(seq);
    const r = cached ?? stateRecords(this.sql.exec(selectStates("WHERE seq = ?"), seq))[0];
    const state = r ? this.toRow(r) : cloneState(this.sql, seq);
    // A fan-out clone's inputs are its head's (never stored with it).
    if (state && (!r || r.inputs === null)) inputsOnUse(state, () => this.headInputs(state.exec_seq));
    return state;
  }

  /**
   * The inputs stored with state `execSeq` (a fan-out's clones have their head's: pass their exec_seq) as
   * JSON text, in parts whose concatenation is the text: a large value's chunks are neither joined nor
   * parsed. `{}` when this actor holds no inputs for it.
   */
  inputsText(execSeq: number): string[] {
    const head = this.sql
      .exec<{ inputs: string | null }>("SELECT inputs FROM states WHERE seq = ?", execSeq)
      .toArray()[0];
    if (!head?.inputs) return ["{}"];
    return head.inputs === CHUNKED ? this.chunkParts(execSeq, "inputs") : [head.inputs];
  }

  /** A row read with `SELECT *`, its large values read from their chunks. */
  toRow(r: StateRecord): StateRow {
    return toStateRow(r, (col) => this.readChunks(r.seq, col));
  }

  outputsOf(seq: number): Record<string, unknown> | undefined {
    const r = this.sql
      .exec<{ outputs: string }>("SELECT outputs FROM states WHERE seq = ?", seq)
      .toArray()[0];
    if (r) return this.parse(seq, "outputs", r.outputs);
    let page = this.pageRead;
    if (!page || seq < page.first || seq >= page.first + page.outputs.length) {
      page = pageOutputs(this.sql, seq);
      if (!page) return undefined;
      this.pageRead = page;
    }
    return page.outputs[seq - page.first];
  }

  protected headInputs(execSeq: number): Record<string, string> {
    return parseInputs(this.inputsText(execSeq).join(""), `inputs of state ${execSeq}`);
  }

  /**
   * `field` of successful states of `identifier` whose lineage starts with `prefix`, in fan-out order
   * (lineage, output index, seq), after the position `after` when given, at most `limit` (null: all).
   * Each value comes as its JSON text, straight from SQLite (`->`): a unite's input of a million values is
   * never parsed and serialized again value by value. `null`: the state has no such field.
   */
  protected subtreeRows(
    identifier: string,
    prefix: string,
    field: string,
    after: SubtreePosition | null,
    limit: number | null,
  ): SubtreePage {
    const rows = this.subtreeStateRows(identifier, prefix, field, after, limit);
    const clones = subtreeClones(this.sql, identifier, prefix, field, after, limit);
    if (clones.seqs.length === 0) return rows;
    if (rows.seqs.length === 0) return clones;
    // Both in fan-out order: merged, the first `limit` of the two are the first of the subtree.
    const out: SubtreePage = { seqs: [], indexes: [], lineages: [], values: [] };
    let i = 0;
    let j = 0;
    const max = limit ?? Number.POSITIVE_INFINITY;
    while (out.seqs.length < max && (i < rows.seqs.length || j < clones.seqs.length)) {
      const takeRow =
        j >= clones.seqs.length ||
        (i < rows.seqs.length && sortsBefore(positionIn(rows, i), positionIn(clones, j)));
      const from = takeRow ? rows : clones;
      const k = takeRow ? i++ : j++;
      out.seqs.push(from.seqs[k] as number);
      out.indexes.push(from.indexes[k] as number);
      out.lineages.push(from.lineages[k] as string);
      out.values.push(from.values[k] as string | null);
    }
    return out;
  }

  /** The states-table rows of `subtreeRows`. */
  private subtreeStateRows(
    identifier: string,
    prefix: string,
    field: string,
    after: SubtreePosition | null,
    limit: number | null,
  ): SubtreePage {
    // A field whose name holds a double quote cannot be a JSON path label: such values, and those of
    // outputs kept in chunks, are read from the parsed outputs.
    const path = field.includes('"') ? null : `$."${field}"`;
    const value =
      path === null ? "outputs" : `CASE WHEN outputs = '${CHUNKED}' THEN NULL ELSE outputs -> ? END`;
    // The position as a range start on the index (`(lineage, fanout_index) >= …`, a seek) plus a filter
    // of its ties (same lineage and index: an execution and its retries): an OR of the two made SQLite
    // scan the index from the subtree's first key on every page (quadratic in the subtree). Lineage keys
    // are hex, so every key under the prefix sorts below prefix + "g".
    const start = after
      ? {
          where: "(lineage, fanout_index) >= (?, ?) AND NOT (lineage = ? AND fanout_index = ? AND seq <= ?)",
          params: [after.lineage, after.index, after.lineage, after.index, after.seq],
        }
      : { where: "lineage >= ?", params: [prefix] };
    const cursor = this.sql.exec(
      `SELECT seq, fanout_index, lineage, outputs = '${CHUNKED}', ${value}
       FROM states WHERE identifier = ? AND status = 'SUCCESS' AND ${start.where} AND lineage < ?
       ORDER BY lineage, fanout_index, seq LIMIT ?`,
      ...(path === null ? [] : [path]),
      identifier,
      ...start.params,
      `${prefix}g`,
      limit ?? -1,
    );
    const page: SubtreePage = { seqs: [], indexes: [], lineages: [], values: [] };
    type Row = [number, number, string, number, string | null];
    for (const [seq, index, lineage, chunked, text] of cursor.raw() as Iterable<Row>) {
      let json = text;
      if (path === null || chunked === 1) {
        const outputs = this.parse(seq, "outputs", chunked === 1 ? CHUNKED : (text ?? "{}"));
        json = field in outputs ? JSON.stringify(outputs[field]) : null;
      }
      page.seqs.push(seq);
      page.indexes.push(index);
      page.lineages.push(lineage);
      page.values.push(json);
    }
    return page;
  }

  /** A JSON object column, its chunks read when it was too large for the row. */
  protected parse(seq: number, col: JsonColumn, text: string): Record<string, unknown> {
    return parseObject(this.text(seq, col, text), `${col} of state ${seq}`);
  }

  private text(seq: number, col: JsonColumn, text: string): string {
    return text === CHUNKED ? this.readChunks(seq, col) : text;
  }

  protected readChunks(seq: number, col: JsonColumn): string {
    return this.chunkParts(seq, col).join("");
  }

  /** The chunks of one value, in order: their concatenation is its JSON text. */
  private chunkParts(seq: number, col: JsonColumn): string[] {
    return this.sql
      .exec<{ text: string }>("SELECT text FROM chunks WHERE seq = ? AND col = ? ORDER BY part", seq, col)
      .toArray()
      .map((r) => r.text);
  }

  /**
   * The text to put in a JSON column: the JSON itself, or the CHUNKED marker once its chunks are written
   * (a row holds at most 2 MB). Replaces any earlier chunks of that column. MUST run inside the caller's
   * transaction, with the row write.
   */
  protected column(seq: number, col: JsonColumn, value: unknown, replacing: boolean): string {
    const json = JSON.stringify(value);
    if (replacing) this.dropChunks(seq, col);
    if (!exceedsBytes(json, ROW_VALUE_BYTES)) return json;
    this.chunked.add(chunkKey(seq, col));
    let part = 0;
    for (let at = 0; at < json.length; part++) {
      let to = Math.min(json.length, at + VALUE_CHUNK_CHARS);
      // Never split a surrogate pair: each chunk must be valid text on its own.
      const code = json.charCodeAt(to - 1);
      if (to < json.length && code >= 0xd800 && code <= 0xdbff) to -= 1;
      this.sql.exec(
        "INSERT INTO chunks (seq, col, part, text) VALUES (?, ?, ?, ?)",
        seq,
        col,
        part,
        json.slice(at, to),
      );
      this.cost.rowsWritten += 1;
      at = to;
    }
    return CHUNKED;
  }
}
