// The RunStore contract against the in-memory store.
import { MemoryRunStore } from "../../src/engine/run/memory-store";
import { runStoreContract } from "../contract/run-store-contract";

runStoreContract("memory", async (shard, values, test) => {
  const store = new MemoryRunStore(values, shard);
  await test({
    store,
    commit: () => {},
    counts: () => Object.fromEntries([...store.counts].filter(([, n]) => n !== 0)),
    dueAt: (now) =>
      [...store.readyAt]
        .filter(([seq, due]) => due <= now && store.states.get(seq)?.status === "CREATED")
        .map(([seq]) => seq),
    takeRemoteDeltas: () => store.remoteDeltas.splice(0),
  });
});
