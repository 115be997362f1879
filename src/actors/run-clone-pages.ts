// Fan-out clones kept as pages (design §6). A fan-out of n outputs makes n - 1 clones of its head, all
// SUCCESS from birth, identical to the head but for their outputs, output index and fan-out id. Writing
// each as a states row (25 columns, plus its entry in the subtree index) was a fifth of a branch's cost.
// Instead, a run of clones with consecutive seqs, born in one transaction from one head, is one row of
// `clone_pages`: what they share once, and their outputs, indices and fan-out ids as JSON arrays. Clone
// `first_seq + k` is member k. Every read of a state (by seq, its outputs, a unite's subtree, the graph
// view, the node counts, the highest seq) reads the pages beside the states table.
//
// A clone that does not fit this shape (a large output, a NEXT_CREATED_ERROR clone, anything with its
// own error or times) stays a states row. Clones are never updated: a SUCCESS clone is final, and manual
// retry supersedes only clones of a failed execution, which are rows.
import { type SubtreePage, type SubtreePosition, sortsBefore } from "../engine/run/gather";
import type { StateRow } from "../engine/run/types";
import { parseObject, parseParents } from "./run-parse";
import { StoredDataError } from "./stored";

/** Most clones in one page: a read of one clone parses at most this page's arrays. */
export const CLONE_PAGE_MEMBERS = 512;
/** Most characters of outputs in one page (well under a row's value bound). */
const CLONE_PAGE_CHARS = 64_000;
/** Most bytes of the one JSON parameter of a statement that writes pages (a bound value is at most 2 MB). */
const STATEMENT_PARAM_BYTES = 1_500_000;

export const CLONE_PAGES_SCHEMA = `CREATE TABLE IF NOT EXISTS clone_pages (
  first_seq INTEGER PRIMARY KEY,
  n INTEGER NOT NULL,
  exec_seq INTEGER NOT NULL,
  identifier TEXT NOT NULL,
  node_name TEXT NOT NULL,
  namespace TEXT NOT NULL,
  parents TEXT NOT NULL,
  lineage TEXT NOT NULL,
  data TEXT NOT NULL,
  manual_retry_fanout_id TEXT NOT NULL,
  enqueue_after INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  fanout_indexes TEXT NOT NULL,
  fanout_ids TEXT NOT NULL,
  outputs TEXT NOT NULL,
  last_index INTEGER NOT NULL DEFAULT 0)`;
/**
 * A unite's subtree read walks the pages of one node in fan-out order: by lineage, then output index (a
 * page's clones are one execution's, in increasing index order, so its last index orders it).
 */
export const CLONE_PAGES_INDEX =
  "CREATE INDEX IF NOT EXISTS clone_pages_subtree ON clone_pages (identifier, lineage, last_index)";

/** Whether a row is a plain fan-out clone, the only kind a page holds. */
function pageable(s: StateRow): boolean {
  return (
    s.exec_seq !== s.seq &&
    s.status === "SUCCESS" &&
    s.error === null &&
    s.retry_count === 0 &&
    !s.does_unites &&
    !s.never_ran &&
    s.reported_outputs === 0 &&
    s.created_at === s.updated_at
  );
}

interface OpenPage {
  template: StateRow;
  parentsText: string;
  dataText: string;
  indexes: number[];
  ids: string[];
  outputs: string[];
  chars: number;
}

/** The clones of a transaction, gathered into pages and written with its other rows. */
export class ClonePageWriter {
  private pages: OpenPage[] = [];

  /**
   * Takes a clone into the open page, or opens one: "opened" and "added" say which (a new page is one
   * row written), false that the clone must be a states row.
   */
  add(s: StateRow): "opened" | "added" | false {
    if (!pageable(s)) return false;
    const text = JSON.stringify(s.outputs);
    if (text.length > CLONE_PAGE_CHARS) return false;
    const page = this.pages[this.pages.length - 1];
    if (page && this.extends(page, s, text)) {
      // (A page's indices increase: `extends` checks it, and its last one orders it in subtree reads.)
      page.indexes.push(s.fanout_index);
      page.ids.push(s.fanout_id);
      page.outputs.push(text);
      page.chars += text.length;
      return "added";
    }
    this.pages.push({
      template: s,
      parentsText: JSON.stringify(s.parents),
      dataText: JSON.stringify(s.data),
      indexes: [s.fanout_index],
      ids: [s.fanout_id],
      outputs: [text],
      chars: text.length,
    });
    return "opened";
  }

  private extends(page: OpenPage, s: StateRow, text: string): boolean {
    const t = page.template;
    return (
      s.seq === t.seq + page.indexes.length &&
      s.fanout_index > (page.indexes[page.indexes.length - 1] as number) &&
      page.indexes.length < CLONE_PAGE_MEMBERS &&
      page.chars + text.length <= CLONE_PAGE_CHARS &&
      s.exec_seq === t.exec_seq &&
      s.created_at === t.created_at &&
      s.enqueue_after === t.enqueue_after &&
      s.identifier === t.identifier &&
      s.node_name === t.node_name &&
      s.namespace === t.namespace &&
      s.lineage === t.lineage &&
      s.manual_retry_fanout_id === t.manual_retry_fanout_id &&
      (s.parents === t.parents || JSON.stringify(s.parents) === page.parentsText) &&
      (s.data === t.data || JSON.stringify(s.data) === page.dataText)
    );
  }

  /**
   * Writes the open pages, one row each, several rows per statement: as many as keep its one JSON
   * parameter under STATEMENT_PARAM_BYTES (a bound value is at most 2 MB).
   */
  flush(sql: SqlStorage): void {
    const pages = this.pages;
    this.pages = [];
    // At most how many bytes a page takes in the parameter: every character escaped to 6 (`\uXXXX`).
    const bound = (p: OpenPage) =>
      6 * (p.chars + p.outputs.length + p.parentsText.length + p.dataText.length + 40 * p.ids.length) + 1_000;
    for (let i = 0; i < pages.length; ) {
      let end = i + 1;
      let bytes = bound(pages[i] as OpenPage);
      while (end < pages.length && bytes + bound(pages[end] as OpenPage) <= STATEMENT_PARAM_BYTES) {
        bytes += bound(pages[end] as OpenPage);
        end += 1;
      }
      const group = pages.slice(i, end);
      i = end;
      const rows = group.map((p) => {
        const t = p.template;
        return [
          t.seq,
          p.indexes.length,
          t.exec_seq,
          t.identifier,
          t.node_name,
          t.namespace,
          p.parentsText,
          t.lineage,
          p.dataText,
          t.manual_retry_fanout_id,
          t.enqueue_after,
          t.created_at,
          JSON.stringify(p.indexes),
          JSON.stringify(p.ids),
          `[${p.outputs.join(",")}]`,
          p.indexes[p.indexes.length - 1],
        ];
      });
      sql.exec(
        `INSERT INTO clone_pages (first_seq, n, exec_seq, identifier, node_name, namespace, parents, lineage, data,
           manual_retry_fanout_id, enqueue_after, created_at, fanout_indexes, fanout_ids, outputs, last_index)
         SELECT value->>0, value->>1, value->>2, value->>3, value->>4, value->>5, value->>6, value->>7, value->>8,
           value->>9, value->>10, value->>11, value->>12, value->>13, value->>14, value->>15 FROM json_each(?)`,
        JSON.stringify(rows),
      );
    }
  }

  clear(): void {
    this.pages = [];
  }
}

/** The columns of a page a read of its clones needs, as `pageAt` and `pagesAfter` select them. */
const PAGE_COLUMNS =
  "first_seq, n, exec_seq, identifier, node_name, namespace, parents, lineage, data, manual_retry_fanout_id, enqueue_after, created_at";

export interface PageRecord {
  first_seq: number;
  n: number;
  exec_seq: number;
  identifier: string;
  node_name: string;
  namespace: string;
  parents: string;
  lineage: string;
  data: string;
  manual_retry_fanout_id: string;
  enqueue_after: number;
  created_at: number;
}

function pageRecord(a: SqlStorageValue[]): PageRecord {
  return {
    first_seq: a[0] as number,
    n: a[1] as number,
    exec_seq: a[2] as number,
    identifier: a[3] as string,
    node_name: a[4] as string,
    namespace: a[5] as string,
    parents: a[6] as string,
    lineage: a[7] as string,
    data: a[8] as string,
    manual_retry_fanout_id: a[9] as string,
    enqueue_after: a[10] as number,
    created_at: a[11] as number,
  };
}

/**
 * `columns` (which start with `first_seq, n`) of the page holding clone `seq`, or undefined when no page
 * does: the last page starting at or before it, if `seq` is within its clones.
 */
function pageRowAt(sql: SqlStorage, seq: number, columns: string): SqlStorageValue[] | undefined {
  const [a] = Array.from(
    sql
      .exec(`SELECT ${columns} FROM clone_pages WHERE first_seq <= ? ORDER BY first_seq DESC LIMIT 1`, seq)
      .raw(),
  );
  return a && seq < (a[0] as number) + (a[1] as number) ? a : undefined;
}

/** A page's JSON array column, checked to be one. */
function pageList(text: SqlStorageValue, first: number, what: string): unknown[] {
  const list = JSON.parse(text as string) as unknown;
  if (!Array.isArray(list)) throw new StoredDataError(`${what} of clone page ${first}`, "not a list");
  return list;
}

/** The page holding clone `seq`, or undefined when no page does. */
export function pageAt(sql: SqlStorage, seq: number): PageRecord | undefined {
  const a = pageRowAt(sql, seq, PAGE_COLUMNS);
  return a ? pageRecord(a) : undefined;
}

/** Clone `seq`'s member of its page: its output index, fan-out id and outputs (JSON text). */
function memberOf(sql: SqlStorage, page: PageRecord, seq: number): [number, string, string] {
  const k = `$[${seq - page.first_seq}]`;
  const [a] = Array.from(
    sql
      .exec(
        "SELECT fanout_indexes ->> ?, fanout_ids ->> ?, outputs -> ? FROM clone_pages WHERE first_seq = ?",
        k,
        k,
        k,
        page.first_seq,
      )
      .raw(),
  );
  return [a?.[0] as number, a?.[1] as string, a?.[2] as string];
}

/** Clone `seq` as a state row, or undefined. Its inputs are its head's: the caller gives them. */
export function cloneState(sql: SqlStorage, seq: number): StateRow | undefined {
  const page = pageAt(sql, seq);
  if (!page) return undefined;
  const [fanoutIndex, fanoutId, outputs] = memberOf(sql, page, seq);
  const what = (col: string) => `${col} of state ${seq}`;
  return {
    seq,
    identifier: page.identifier,
    node_name: page.node_name,
    namespace: page.namespace,
    status: "SUCCESS",
    inputs: {},
    outputs: parseObject(outputs, what("outputs")),
    error: null,
    data: parseObject(page.data, what("data")),
    parents: parseParents(page.parents),
    exec_seq: page.exec_seq,
    fanout_index: fanoutIndex,
    lineage: page.lineage,
    retry_count: 0,
    fanout_id: fanoutId,
    manual_retry_fanout_id: page.manual_retry_fanout_id,
    does_unites: false,
    never_ran: false,
    reported_outputs: 0,
    enqueue_after: page.enqueue_after,
    created_at: page.created_at,
    updated_at: page.created_at,
  };
}

/**
 * The page holding clone `seq` as its first seq and its clones' outputs (parsed), or undefined. A caller
 * reading many clones of one page (the grandchildren of a fan-out) keeps the parsed page.
 */
export function pageOutputs(
  sql: SqlStorage,
  seq: number,
): { first: number; outputs: Record<string, unknown>[] } | undefined {
  const a = pageRowAt(sql, seq, "first_seq, n, outputs");
  if (!a) return undefined;
  const first = a[0] as number;
  return { first, outputs: pageList(a[2] as string, first, "outputs") as Record<string, unknown>[] };
}

/**
 * The pages with a clone after `afterSeq`, in seq order, read lazily (a page holds at most
 * CLONE_PAGE_MEMBERS clones, so only pages starting after `afterSeq - CLONE_PAGE_MEMBERS` can).
 */
export function* pagesAfter(
  sql: SqlStorage,
  afterSeq: number,
  where: { namespace?: string; identifier?: string | null } = {},
): Generator<PageRecord> {
  const filters: string[] = [];
  const params: SqlStorageValue[] = [afterSeq - CLONE_PAGE_MEMBERS, afterSeq];
  if (where.namespace !== undefined) {
    filters.push("AND namespace = ?");
    params.push(where.namespace);
  }
  if (where.identifier) {
    filters.push("AND identifier = ?");
    params.push(where.identifier);
  }
  const cursor = sql.exec(
    `SELECT ${PAGE_COLUMNS} FROM clone_pages WHERE first_seq > ? AND first_seq + n - 1 > ? ${filters.join(" ")}
     ORDER BY first_seq`,
    ...params,
  );
  for (const a of cursor.raw()) yield pageRecord(a);
}

/**
 * A page of clones of `identifier` under lineage `prefix`, in fan-out order (lineage, output index, seq)
 * after the position `after`, at most `limit` (null: all): each clone's seq, output index, lineage and
 * `field` of its outputs as JSON text (null: it has no such field).
 */
export function subtreeClones(
  sql: SqlStorage,
  identifier: string,
  prefix: string,
  field: string,
  after: SubtreePosition | null,
  limit: number | null,
): SubtreePage {
  const out: SubtreePage = { seqs: [], indexes: [], lineages: [], values: [] };
  // As for states (run-rows.ts): a seek to the position; the clones at or before it are skipped below.
  const start = after
    ? { where: "(lineage, last_index) >= (?, ?)", params: [after.lineage, after.index] }
    : { where: "lineage >= ?", params: [prefix] };
  const cursor = sql.exec(
    `SELECT first_seq, lineage, fanout_indexes, outputs FROM clone_pages
     WHERE identifier = ? AND ${start.where} AND lineage < ? ORDER BY lineage, last_index`,
    identifier,
    ...start.params,
    `${prefix}g`,
  );
  for (const [first, lineage, indexText, text] of cursor.raw() as Iterable<
    [number, string, string, string]
  >) {
    const indexes = pageList(indexText, first, "fanout_indexes") as number[];
    const outputs = pageList(text, first, "outputs") as Record<string, unknown>[];
    for (let k = 0; k < outputs.length; k++) {
      const position = { lineage, index: indexes[k] as number, seq: first + k };
      if (after && !sortsBefore(after, position)) continue;
      if (limit !== null && out.seqs.length >= limit) return out;
      const o = outputs[k] as Record<string, unknown>;
      out.seqs.push(position.seq);
      out.indexes.push(position.index);
      out.lineages.push(lineage);
      out.values.push(Object.hasOwn(o, field) ? JSON.stringify(o[field]) : null);
    }
  }
  return out;
}

/** Whether a page holds a clone of `identifier` with this fan-out id (manual retry's dedupe). */
export function cloneHasFanoutId(sql: SqlStorage, identifier: string, fanoutId: string): boolean {
  return (
    sql
      .exec(
        "SELECT 1 FROM clone_pages, json_each(clone_pages.fanout_ids) AS f WHERE identifier = ? AND f.value = ? LIMIT 1",
        identifier,
        fanoutId,
      )
      .toArray().length > 0
  );
}
