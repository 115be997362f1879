// The namespace actor's one alarm serves every timer table it has (cron schedules and fires, runs to
// start). It is always armed for the earliest due time of all of them; an alarm that goes off early, or
// for a timer removed since, finds nothing due and re-arms.
import { earliest } from "../engine/cron-schedule";

/** A timer table: the earliest time it needs the alarm, or null when nothing in it is pending. */
export type NextWake = () => number | null;

export class OneAlarm {
  /** The alarm time as last read or written; null: none armed (or one is running). */
  private armedAt: number | null = null;

  constructor(
    private readonly storage: DurableObjectStorage,
    /** A timer kind added later adds its `nextWake` here. */
    private readonly timers: readonly NextWake[],
  ) {}

  /** Arms the alarm at the earliest due time of every timer table, or deletes it when none is pending. */
  async arm(): Promise<void> {
    const next = earliest(this.timers.map((t) => t()));
    this.armedAt = next;
    const current = await this.storage.getAlarm();
    if (next === null) {
      if (current !== null) await this.storage.deleteAlarm();
    } else if (current !== next) await this.storage.setAlarm(next);
  }

  /**
   * Makes sure the alarm goes off no later than `at`. The request is made synchronously: called right
   * after a transaction, before any await, it becomes durable together with the rows that need it, so a
   * crash cannot leave them without an alarm.
   */
  noLaterThan(at: number): Promise<void> {
    if (this.armedAt !== null && this.armedAt <= at) return Promise.resolve();
    this.armedAt = at;
    return this.storage.setAlarm(at);
  }

  /** The alarm went off: it is no longer armed until `arm` runs again. */
  fired(): void {
    this.armedAt = null;
  }
}
