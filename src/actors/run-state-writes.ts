// The run actor's state row writes inside a transaction, buffered and written in multi-row statements
// (see StateWrites). The store (run-rows.ts) routes every other statement through a drain of this buffer.

/** The columns of a state row as `insertState` writes them, in order. */
const INSERT_COLUMNS = [
  "seq",
  "identifier",
  "node_name",
  "namespace",
  "status",
  "inputs",
  "outputs",
  "error",
  "data",
  "parents",
  "exec_seq",
  "fanout_index",
  "lineage",
  "retry_count",
  "fanout_id",
  "manual_retry_fanout_id",
  "does_unites",
  "never_ran",
  "reported_outputs",
  "enqueue_after",
  "created_at",
  "updated_at",
  "lease_expires",
  "delivery",
] as const;
const INSERT_ONE = `INSERT INTO states (${INSERT_COLUMNS.join(", ")}) VALUES (${INSERT_COLUMNS.map(() => "?").join(",")})`;

/** Rows per multi-row statement, and the bytes of its one JSON parameter (a value is at most 2 MB). */
const ROWS_PER_STATEMENT = 1_000;
const STATEMENT_PARAM_BYTES = 1_500_000;

type StateWrite =
  | { kind: "insert"; seq: number; values: SqlStorageValue[]; bytes: number }
  | { kind: "update"; seq: number; shape: string; sets: string[]; values: SqlStorageValue[]; bytes: number };

/** At most how many bytes `values` take as JSON text (UTF-8, escapes included). */
function boundBytes(values: readonly SqlStorageValue[]): number {
  let n = 2;
  for (const v of values) n += typeof v === "string" ? v.length * 6 + 3 : 24;
  return n;
}

/**
 * Which of the rows' columns hold the same value in every row: those are bound once, and only the others
 * travel in the JSON rows.
 */
function constantColumns(rows: readonly SqlStorageValue[][], width: number): boolean[] {
  const first = rows[0] as SqlStorageValue[];
  const constant: boolean[] = [];
  for (let c = 0; c < width; c++) {
    const v = first[c];
    constant.push(rows.every((r) => r[c] === v));
  }
  return constant;
}

/**
 * State row writes in multi-row statements. A fan-out page inserts thousands of rows, a dispatch round
 * claims up to 2,000, a report batch settles as many: one statement per row costs about twice the SQLite
 * work of one statement per 1,000 rows, whose rows travel as one JSON array parameter. Columns that hold
 * the same value in every row of a statement (a page's node, status and times; a claim's lease) are bound
 * once instead. Writes keep their order where it matters: a run of consecutive inserts (of distinct new
 * rows) is grouped by node and status, and consecutive updates that set the same columns of distinct rows
 * share a statement; anything else starts the next one.
 */
export class StateWrites {
  buffering = false;
  private pending: StateWrite[] = [];

  constructor(private readonly raw: SqlStorage) {}

  insert(values: SqlStorageValue[]): void {
    if (!this.buffering) {
      this.raw.exec(INSERT_ONE, ...values);
      return;
    }
    this.pending.push({ kind: "insert", seq: values[0] as number, values, bytes: boundBytes(values) });
  }

  update(seq: number, sets: string[], values: SqlStorageValue[]): void {
    if (!this.buffering) {
      this.raw.exec(updateOne(sets), ...values, seq);
      return;
    }
    this.pending.push({
      kind: "update",
      seq,
      shape: sets.join(","),
      sets,
      values,
      bytes: boundBytes(values),
    });
  }

  clear(): void {
    this.pending = [];
  }

  /** Writes everything buffered, in order. */
  drain(): void {
    if (this.pending.length === 0) return;
    const pending = this.pending;
    this.pending = [];
    let i = 0;
    while (i < pending.length) {
      const first = pending[i] as StateWrite;
      let j = i + 1;
      if (first.kind === "insert") {
        while (j < pending.length && pending[j]?.kind === "insert") j += 1;
        this.insertRun(pending.slice(i, j) as Extract<StateWrite, { kind: "insert" }>[]);
      } else {
        const seqs = new Set<number>([first.seq]);
        let bytes = first.bytes;
        while (j < pending.length && j - i < ROWS_PER_STATEMENT) {
          const next = pending[j] as StateWrite;
          if (next.kind !== "update" || next.shape !== first.shape || seqs.has(next.seq)) break;
          if (bytes + next.bytes > STATEMENT_PARAM_BYTES) break;
          bytes += next.bytes;
          seqs.add(next.seq);
          j += 1;
        }
        this.updateGroup(pending.slice(i, j) as Extract<StateWrite, { kind: "update" }>[]);
      }
      i = j;
    }
  }

  /** Consecutive inserts: new rows, so their order among themselves does not matter. */
  private insertRun(run: Extract<StateWrite, { kind: "insert" }>[]): void {
    const byShape = new Map<string, Extract<StateWrite, { kind: "insert" }>[]>();
    for (const w of run) {
      const key = `${w.values[1]}\u0000${w.values[4]}`; // identifier, status
      const group = byShape.get(key);
      if (group) group.push(w);
      else byShape.set(key, [w]);
    }
    for (const group of byShape.values()) {
      let k = 0;
      while (k < group.length) {
        let bytes = 0;
        let end = k;
        while (end < group.length && end - k < ROWS_PER_STATEMENT) {
          const b = (group[end] as StateWrite).bytes;
          if (end > k && bytes + b > STATEMENT_PARAM_BYTES) break;
          bytes += b;
          end += 1;
        }
        this.insertGroup(group.slice(k, end).map((w) => w.values));
        k = end;
      }
    }
  }

  private insertGroup(rows: SqlStorageValue[][]): void {
    if (rows.length === 1) {
      this.raw.exec(INSERT_ONE, ...(rows[0] as SqlStorageValue[]));
      return;
    }
    const constant = constantColumns(rows, INSERT_COLUMNS.length);
    const bound: SqlStorageValue[] = [];
    let j = 0;
    const exprs = INSERT_COLUMNS.map((_, c) => {
      if (!constant[c]) return `value->>${j++}`;
      bound.push((rows[0] as SqlStorageValue[])[c] ?? null);
      return "?";
    });
    const json = JSON.stringify(rows.map((r) => r.filter((_, c) => !constant[c])));
    this.raw.exec(
      `INSERT INTO states (${INSERT_COLUMNS.join(", ")}) SELECT ${exprs.join(", ")} FROM json_each(?)`,
      ...bound,
      json,
    );
  }

  private updateGroup(group: Extract<StateWrite, { kind: "update" }>[]): void {
    const first = group[0] as Extract<StateWrite, { kind: "update" }>;
    if (group.length === 1) {
      this.raw.exec(updateOne(first.sets), ...first.values, first.seq);
      return;
    }
    const rows = group.map((w) => w.values);
    const constant = constantColumns(rows, first.sets.length);
    const bound: SqlStorageValue[] = [];
    let j = 1;
    const assignments = first.sets.map((c, k) => {
      if (!constant[k]) return `${c} = u.v${j++}`;
      bound.push(first.values[k] ?? null);
      return `${c} = ?`;
    });
    if (constant.every(Boolean)) {
      // Every row gets the same values (a dispatch round's claims): only the seqs travel.
      this.raw.exec(
        `UPDATE states SET ${assignments.join(", ")} WHERE seq IN (SELECT value FROM json_each(?))`,
        ...bound,
        JSON.stringify(group.map((w) => w.seq)),
      );
      return;
    }
    const varying = first.sets.flatMap((_, k) => (constant[k] ? [] : [k]));
    const columns = varying.map((_, n) => `value->>${n + 1} AS v${n + 1}`);
    this.raw.exec(
      `UPDATE states SET ${assignments.join(", ")}
       FROM (SELECT value->>0 AS s, ${columns.join(", ")} FROM json_each(?)) AS u
       WHERE states.seq = u.s`,
      ...bound,
      JSON.stringify(group.map((w) => [w.seq, ...varying.map((k) => w.values[k] ?? null)])),
    );
  }
}

const updateOne = (sets: readonly string[]) =>
  `UPDATE states SET ${sets.map((c) => `${c} = ?`).join(", ")} WHERE seq = ?`;
