// The namespace actor's one alarm serves every timer table it has (today: cron schedules and fires). It
// is always armed for the earliest due time of all of them; an alarm that goes off early, or for a timer
// removed since, finds nothing due and re-arms.
import { earliest } from "../engine/cron-schedule";

/** A timer table: the earliest time it needs the alarm, or null when nothing in it is pending. */
export type NextWake = () => number | null;

export class OneAlarm {
  constructor(
    private readonly storage: DurableObjectStorage,
    /** A timer kind added later adds its `nextWake` here. */
    private readonly timers: readonly NextWake[],
  ) {}

  /** Arms the alarm at the earliest due time of every timer table, or deletes it when none is pending. */
  async arm(): Promise<void> {
    const next = earliest(this.timers.map((t) => t()));
    if (next === null) {
      await this.storage.deleteAlarm();
      return;
    }
    if ((await this.storage.getAlarm()) !== next) await this.storage.setAlarm(next);
  }
}
