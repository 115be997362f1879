// A unite's array input over branch shards (design §4, §6): the subtree's values read from every actor of
// the run a page at a time, merged into fan-out order (lineage, then seq), as one JSON array. Values travel
// as their JSON text, in columns (cheap to send between actors, never parsed here). Memory is a page per
// actor plus the array being built.

/** One page of an actor's values in fan-out order: column i is one state. */
export interface SubtreePage {
  seqs: number[];
  lineages: string[];
  /** The value as JSON text; null when the state has no such field (an execution with no outputs). */
  values: (string | null)[];
}

/** Reads one actor's values after a (lineage, seq) position (null: from the start), at most `page`. */
export type SubtreeReader = (after: { lineage: string; seq: number } | null) => Promise<SubtreePage>;

/** Merges the actors' pages into one JSON array in fan-out order; a reader returning fewer than `page` is done. */
export async function gatherArray(readers: SubtreeReader[], page: number): Promise<string> {
  const empty: SubtreePage = { seqs: [], lineages: [], values: [] };
  const sources = readers.map((read) => ({ read, page: empty, at: 0, done: false }));
  const parts: string[] = [];
  for (;;) {
    await Promise.all(
      sources.map(async (s) => {
        if (s.at < s.page.seqs.length || s.done) return;
        const last = s.page.seqs.length - 1;
        const after =
          last >= 0 ? { lineage: s.page.lineages[last] as string, seq: s.page.seqs[last] as number } : null;
        s.page = await s.read(after);
        s.at = 0;
        if (s.page.seqs.length < page) s.done = true;
      }),
    );
    // The next value in fan-out order: the smallest (lineage, seq) at the head of any source.
    let next: (typeof sources)[number] | undefined;
    let lineage = "";
    let seq = 0;
    for (const s of sources) {
      if (s.at >= s.page.seqs.length) continue;
      const l = s.page.lineages[s.at] as string;
      const q = s.page.seqs[s.at] as number;
      if (!next || l < lineage || (l === lineage && q < seq)) {
        next = s;
        lineage = l;
        seq = q;
      }
    }
    if (!next) break;
    const value = next.page.values[next.at];
    next.at += 1;
    if (value !== null && value !== undefined) parts.push(value);
  }
  return `[${parts.join(",")}]`;
}
