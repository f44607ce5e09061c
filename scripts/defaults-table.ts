// SPDX-License-Identifier: Apache-2.0
/**
 * The README's "Defaults and limits" table, rendered from lib/defaults.ts. test/lib/defaults.test.ts
 * fails when the README's copy differs; `node dist/scripts/defaults-table.js --write` rewrites it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { CORE_DEFAULTS, ENDPOINT_FIELD_DEFAULTS, type Setting } from '../lib/defaults';

export const README = path.join(__dirname, '..', '..', 'README.md');
export const BEGIN = '<!-- defaults-table:begin (generated from lib/defaults.ts) -->';
export const END = '<!-- defaults-table:end -->';

const MiB = 1024 * 1024;

function formatValue(s: Setting): string {
  const n = s.value.toLocaleString('en-US');
  switch (s.unit) {
    case 'bytes':
      return s.value >= MiB && s.value % MiB === 0 ? `${s.value / MiB} MiB (${n} bytes)` : `${n} bytes`;
    case 's':
      return `${n} s`;
    case 'ms':
      return s.value >= 1000 && s.value % 1000 === 0
        ? `${(s.value / 1000).toLocaleString('en-US')} s`
        : `${n} ms`;
    case 'per-second':
      return s.value === 0 ? 'unlimited (0)' : `${n}/s`;
    default:
      return n;
  }
}

/** The table as markdown, without the markers. */
export function renderDefaultsTable(): string {
  const rows = [
    '| Setting | Default | Set with | Why |',
    '|---|---|---|---|',
    ...Object.entries(ENDPOINT_FIELD_DEFAULTS).map(
      ([field, s]: [string, Setting]) =>
        `| ${s.label} | ${formatValue(s)} | config node \`${field}\` | ${s.why} |`,
    ),
    ...Object.values(CORE_DEFAULTS).map(
      (s: Setting) =>
        `| ${s.label} | ${formatValue(s)} | ${s.option ? `client option \`${s.option}\`` : 'fixed'} | ${s.why} |`,
    ),
  ];
  return rows.join('\n');
}

/** The README's current table (between the markers), or undefined when the markers are missing. */
export function readmeDefaultsTable(text: string): string | undefined {
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return undefined;
  return text.slice(start + BEGIN.length, end).trim();
}

if (require.main === module && process.argv.includes('--write')) {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${BEGIN} … ${END} markers`);
  writeFileSync(
    README,
    `${text.slice(0, start + BEGIN.length)}\n${renderDefaultsTable()}\n${text.slice(end)}`,
  );
}
