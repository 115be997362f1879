// A unite's array input over branch shards (design §4, §6): the subtree's values read from every actor of
// the run a page at a time, merged into fan-out order (lineage, then output index, then seq: the clones of
// one execution share its lineage and are spread over the shards), as one JSON array. Values travel
// as their JSON text, in columns (cheap to send between actors, never parsed here). Memory is a page per
// actor plus the array being built, joined a page at a time.

/** Where a state sorts in fan-out order: its lineage, its output index (a clone's), then its seq. */
export interface SubtreePosition {
  lineage: string;
  index: number;
  seq: number;
}

/** Whether position `a` sorts before `b` in fan-out order. */
export function sortsBefore(a: SubtreePosition, b: SubtreePosition): boolean {
  if (a.lineage !== b.lineage) return a.lineage < b.lineage;
  if (a.index !== b.index) return a.index < b.index;
  return a.seq < b.seq;
}

/** One page of an actor's values in fan-out order: column i is one state. */
export interface SubtreePage {
  seqs: number[];
  /** Each state's output index (`fanout_index`). */
  indexes: number[];
  lineages: string[];
  /** The value as JSON text; null when the state has no such field (an execution with no outputs). */
  values: (string | null)[];
}

/** Reads one actor's values after a position (null: from the start), at most `page`. */
export type SubtreeReader = (after: SubtreePosition | null) => Promise<SubtreePage>;

/** The position of column `i` of a page. */
export const positionIn = (page: SubtreePage, i: number): SubtreePosition => ({
  lineage: page.lineages[i] as string,
  index: page.indexes[i] as number,
  seq: page.seqs[i] as number,
});

/** Merges the actors' pages into one JSON array in fan-out order; a reader returning fewer than `page` is done. */
export async function gatherArray(readers: SubtreeReader[], page: number): Promise<string> {
  const empty: SubtreePage = { seqs: [], indexes: [], lineages: [], values: [] };
  const sources = readers.map((read) => ({ read, page: empty, at: 0, done: false }));
  // Values are joined a page at a time, so that a million values are a few hundred strings, not a
  // million, until the array is built.
  const parts: string[] = [];
  let joining: string[] = [];
  const needsPage = (s: (typeof sources)[number]) => !s.done && s.at >= s.page.seqs.length;
  for (;;) {
    // Only when a source has run out of its page (once per page, not once per value: a million awaits
    // of every source would cost more than the values themselves).
    if (sources.some(needsPage)) {
      await Promise.all(
        sources.filter(needsPage).map(async (s) => {
          const last = s.page.seqs.length - 1;
          s.page = await s.read(last >= 0 ? positionIn(s.page, last) : null);
          s.at = 0;
          if (s.page.seqs.length < page) s.done = true;
        }),
      );
    }
    // The next value in fan-out order: the smallest position at the head of any source.
    // (Compared in place: this loop runs once per value, a million times for a million branches.)
    let next: (typeof sources)[number] | undefined;
    let lineage = "";
    let index = 0;
    let seq = 0;
    for (const s of sources) {
      if (s.at >= s.page.seqs.length) continue;
      const l = s.page.lineages[s.at] as string;
      const i = s.page.indexes[s.at] as number;
      const q = s.page.seqs[s.at] as number;
      if (!next || l < lineage || (l === lineage && (i < index || (i === index && q < seq)))) {
        next = s;
        lineage = l;
        index = i;
        seq = q;
      }
    }
    if (!next) break;
    const value = next.page.values[next.at];
    next.at += 1;
    if (value !== null && value !== undefined) joining.push(value);
    if (joining.length === page) {
      parts.push(joining.join(","));
      joining = [];
    }
  }
  if (joining.length > 0) parts.push(joining.join(","));
  return `[${parts.join(",")}]`;
}
