// References to ready states of pull nodes, as run actors offer them to the ready-queue actor of their
// (namespace, node) and `states/enqueue` takes them.

export interface ReadyRef {
  id: string;
  /** epoch ms before which the state must not be handed out (enqueue_after) */
  due: number;
}

/** The ready-queue actor of a (namespace, node). */
export const readyQueueName = (namespace: string, node: string): string => `${namespace}\u0000${node}`;
