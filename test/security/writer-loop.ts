// SPDX-License-Identifier: Apache-2.0
/**
 * The hostile Writer of issue 26, in its own process (so its client work is not counted against
 * the producer being measured): loops v2 produce requests that each carry a new schema version
 * (one more optional field), `concurrency` at a time, until told to stop; reports the statuses.
 * 'pause' and 'resume' let the measurement alternate windows with and without it.
 */
import { Agent, request } from 'undici';

interface Args {
  url: string;
  caPem: string;
  key: string;
  topic: string;
  concurrency: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const agent = new Agent({ connections: args.concurrency, connect: { ca: args.caPem } });
const statuses: Record<string, number> = {};
let stopping = false;
let n = 0;
/** While paused, the loops wait here (the measurement's "alone" windows). */
let paused: Promise<void> | undefined;
let resume: (() => void) | undefined;

function schema(i: number): string {
  const fields: Array<Record<string, unknown>> = [{ name: 'id', type: 'string' }];
  for (let f = 0; f < i % 200; f++) fields.push({ name: `f${f}`, type: ['null', 'string'], default: null });
  return JSON.stringify({ type: 'record', name: `Loop${Math.floor(i / 200)}`, fields });
}

async function loop(): Promise<void> {
  while (!stopping) {
    if (paused !== undefined) await paused;
    if (stopping) break;
    const i = n++;
    try {
      const res = await request(`${args.url}/v2/topics/${args.topic}/records?serializer=confluent`, {
        method: 'POST',
        dispatcher: agent,
        headers: { authorization: `Bearer ${args.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ value: { type: 'avro', data: { id: `x${i}` }, schema: schema(i) } }),
      });
      await res.body.dump();
      statuses[res.statusCode] = (statuses[res.statusCode] ?? 0) + 1;
    } catch {
      statuses.error = (statuses.error ?? 0) + 1;
    }
  }
}

const loops = Array.from({ length: args.concurrency }, () => loop());
process.on('message', (m) => {
  if (m === 'pause') {
    paused ??= new Promise<void>((r) => (resume = r));
    return;
  }
  if (m === 'resume' || m === 'stop') {
    resume?.();
    paused = undefined;
  }
  if (m !== 'stop') return;
  stopping = true;
  void Promise.all(loops).then(async () => {
    await agent.close();
    process.send?.({ statuses });
    process.exit(0);
  });
});
process.send?.({ ready: true });
