// SPDX-License-Identifier: Apache-2.0
/**
 * Asks the real Java client which partition it would pick for a key, by running
 * `BuiltInPartitioner.partitionForKey` (what KafkaProducer uses for keyed records) from the broker's
 * own kafka-clients jar. This keeps the partition check independent of kafkajs and of our code.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureKafkaJars } from '../../scripts/kafka';

const SOURCE = `
import org.apache.kafka.clients.producer.internals.BuiltInPartitioner;
public class JavaPartition {
  public static void main(String[] args) {
    int n = Integer.parseInt(args[0]);
    for (int i = 1; i < args.length; i++) {
      byte[] key = java.util.HexFormat.of().parseHex(args[i]);
      System.out.println(BuiltInPartitioner.partitionForKey(key, n));
    }
  }
}
`;

/** Java's partition for each key, or undefined when no local jars are available (external cluster). */
export async function javaPartitions(keys: Buffer[], partitions: number): Promise<number[] | undefined> {
  if (process.env.KAFKA_BROKERS && !process.env.KAFKA_HOME) return undefined;
  const libs = await ensureKafkaJars();
  const jar = fs.readdirSync(libs).find((f) => /^kafka-clients-.*\.jar$/.test(f));
  if (!jar) return undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'esnodes-murmur-'));
  try {
    const file = path.join(dir, 'JavaPartition.java');
    fs.writeFileSync(file, SOURCE);
    const out = execFileSync(
      'java',
      ['-cp', path.join(libs, '*'), file, String(partitions), ...keys.map((k) => k.toString('hex'))],
      { encoding: 'utf8', timeout: 60_000, stdio: ['ignore', 'pipe', 'ignore'] },
    );
    return out.trim().split('\n').map(Number);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
