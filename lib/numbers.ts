// SPDX-License-Identifier: Apache-2.0
/**
 * The number parsers, one module with one variant per situation, so that "what happens to a bad
 * number" is decided by the name a caller picks:
 * - {@link positiveInt}: a programmatic option (ClientOptions and friends). Bad values throw
 *   `INVALID_CONFIG`, because a caller wrote them in code and must hear about it.
 * - {@link numberOr}: a field typed into the editor (a string or a number). Blank, unparsable or
 *   too small values fall back to the default, because a half-typed form must still deploy.
 */
import { ValidationError } from './errors';

/** Accepts a positive integer option, or throws `INVALID_CONFIG` naming the option. */
export function positiveInt(value: unknown, name: string, fallback: number, allowZero = false): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || !Number.isInteger(value)) {
    throw new ValidationError(`Option ${name} must be an integer.`, 'INVALID_CONFIG');
  }
  if (value < 0 || (!allowZero && value === 0)) {
    throw new ValidationError(
      `Option ${name} must be ${allowZero ? 'zero or more' : 'positive'}.`,
      'INVALID_CONFIG',
    );
  }
  return value;
}

/** A number typed as text or given as a number; `fallback` when blank, unparsable or below `min`. */
export function numberOr(value: unknown, fallback: number, min: number): number {
  if (value === '' || value === null || value === undefined) return fallback;
  const n = typeof value === 'number' ? value : Number(String(value).trim());
  return Number.isFinite(n) && n >= min ? n : fallback;
}
