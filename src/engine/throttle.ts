// Lets each key through at most once per interval, in one isolate: how runtimes report "I served this
// node" without one write per poll or per batch. Bounded: past `maxKeys` the oldest key is forgotten.

export class Throttle {
  private readonly last = new Map<string, number>();

  constructor(
    private readonly everyMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** True (and remembered) when `key` was not let through in the last `everyMs`. */
  due(key: string, now: number = Date.now()): boolean {
    const at = this.last.get(key);
    if (at !== undefined && now - at < this.everyMs) return false;
    this.last.delete(key);
    this.last.set(key, now);
    if (this.last.size > this.maxKeys) {
      const oldest = this.last.keys().next().value;
      if (oldest !== undefined) this.last.delete(oldest);
    }
    return true;
  }
}
