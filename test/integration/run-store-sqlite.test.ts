// The RunStore contract against the run actor's SQLite store, in a fresh Durable Object's storage.
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { migrateRunSchema } from "../../src/actors/run-schema";
import { SqlRunStore } from "../../src/actors/run-sql-store";
import { runStoreContract } from "../contract/run-store-contract";

runStoreContract("sqlite", (shard, values, test) =>
  runInDurableObject(env.RUN.getByName(`contract-${crypto.randomUUID()}`), async (_actor, state) => {
    const sql = state.storage.sql;
    migrateRunSchema(sql);
    for (const [key, value] of Object.entries(values)) {
      sql.exec("INSERT INTO store (key, value) VALUES (?, ?)", key, value);
    }
    const store = new SqlRunStore(sql, shard);
    await test({
      store,
      commit: () => store.flush(),
      counts: () => store.counts(),
      dueAt: (now) => store.readyStates(now, 1_000).map((r) => r.seq),
      takeRemoteDeltas: () => {
        const rows = store.pendingSettles(1_000);
        const last = rows[rows.length - 1];
        if (last) store.settlesConfirmed(last.id);
        return rows.flatMap((r) => r.delta.barriers);
      },
    });
  }),
);
