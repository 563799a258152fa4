import { InvalidArgumentError } from 'commander';

/**
 * A request the command cannot run as given (a bad flag value or combination): main() prints its message and exits
 * with 2, like commander's own parse errors, so scripts can tell a mistake in the call (2) from a failure (1).
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

// Parsers for commander: a bad number is a usage error naming the flag, not NaN passed along.
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${value}"`);
  return n;
}

export function nonNegativeInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`expected an integer >= 0, got "${value}"`);
  return n;
}

export function finiteNumber(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n)) throw new InvalidArgumentError(`expected a number, got "${value}"`);
  return n;
}

/** "30,60,90" → [30, 60, 90]; each item a positive integer. */
export function intList(value: string): number[] {
  return value.split(',').map((v) => positiveInt(v.trim()));
}

/** A comma-separated list of finite numbers, e.g. `--scale-range 0.5,2`. */
export function numberList(value: string): number[] {
  return value.split(',').map((v) => finiteNumber(v.trim()));
}
