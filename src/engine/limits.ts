// Named limits, in one place, so that every bound the API enforces can be found and tuned together.

/** Largest request body the API reads (bytes). Larger bodies get 413 before they are parsed. */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Largest `size` accepted by the runs list: one page asks one run actor per run, in parallel. */
export const MAX_RUNS_PAGE_SIZE = 1000;

/** Most nodes one registration request may carry (one storage transaction writes them all). */
export const MAX_NODES_PER_REGISTRATION = 1000;
