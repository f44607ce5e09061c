// SPDX-License-Identifier: Apache-2.0
/**
 * The durable outbox as a {@link Sender} decorator: `send` stores the record (lib/outbox.ts) and
 * calls `onStored` once it is on disk, which is when a producer completes its input; the promise
 * settles later, when the outbox has delivered the record through the transport sender it wraps
 * or dropped it as undeliverable. It never settles for a record that is still stored when the
 * outbox closes: the next run sends that one (there is nobody left to tell).
 */
import { ClosedError } from './errors';
import type { Outbox } from './outbox';
import { type Backlog, type Receipt, type SendOptions, type Sender, submitBySend } from './sender';
import type { ClientStats, CloseOptions, ConnectionCheck, ProduceRecord, ProduceResult } from './types';

export class OutboxSender implements Sender {
  private open: Outbox | undefined;
  private closing: Promise<void> | undefined;

  /**
   * @param ready the outbox being opened (recovery runs before it resolves).
   * @param inner the transport sender the outbox drains through; a function, since using it may
   *   throw (an endpoint being stopped, a configuration the server refuses).
   */
  constructor(
    readonly transport: 'rest' | 'kafka',
    readonly ready: Promise<Outbox>,
    private readonly inner: () => Sender,
    private readonly closeTimeoutMs: number,
  ) {
    ready.then(
      (o) => {
        this.open = o;
      },
      () => undefined,
    );
  }

  send(topic: string, record: ProduceRecord, options?: SendOptions): Promise<ProduceResult> {
    if (this.closing !== undefined) {
      return Promise.reject(new ClosedError('The outbox is closed; the message was not stored', { topic }));
    }
    return new Promise<ProduceResult>((resolve, reject) => {
      const listener = { delivered: resolve, dropped: reject };
      this.ready.then((o) => o.enqueue(topic, record, listener)).then(() => options?.onStored?.(), reject);
    });
  }

  /** Not the hot path: a stored record already cost a disk write. */
  submit<C>(
    topic: string,
    record: ProduceRecord,
    options: SendOptions | undefined,
    receipt: Receipt<C>,
    ctx: C,
  ): void {
    submitBySend(this, topic, record, options, receipt, ctx);
  }

  /** Nothing to take back: a stored record is the outbox's, and the next instance is told by it. */
  withdraw(): number {
    return 0;
  }

  stats(): ClientStats {
    return this.inner().stats();
  }

  testConnection(): Promise<ConnectionCheck> {
    return this.inner().testConnection();
  }

  backlog(): Backlog | undefined {
    const o = this.open;
    if (o === undefined) return undefined;
    return o.lastError ? { depth: o.depth, lastError: o.lastError } : { depth: o.depth };
  }

  watchBacklog(listener: () => void): () => void {
    let stopped = false;
    let outbox: Outbox | undefined;
    this.ready.then(
      (o) => {
        if (stopped) return;
        outbox = o;
        o.on('change', listener);
      },
      () => undefined,
    );
    return () => {
      stopped = true;
      outbox?.off('change', listener);
    };
  }

  /**
   * Closes the outbox only: records in flight stay in the spool until acknowledged, so closing
   * loses nothing (at worst one is sent again after a restart). The transport sender is its
   * owner's to close, after this.
   */
  close(options?: CloseOptions): Promise<void> {
    this.closing ??= this.ready.then(
      (o) => o.close(options?.deadlineMs ?? this.closeTimeoutMs),
      () => undefined,
    );
    return this.closing;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }
}
