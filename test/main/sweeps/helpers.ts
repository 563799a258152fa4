import { expect } from 'vitest';
import { expandSweep, parseSweepSpec, SweepSpecError } from '../../../src-main/sweeps';

/** The problems a sweep spec is refused with (parse and expansion); fails the test if it is accepted. */
export function problems(input: unknown): string[] {
  try {
    expandSweep(parseSweepSpec(input));
  } catch (error) {
    expect(error).toBeInstanceOf(SweepSpecError);
    return (error as SweepSpecError).problems;
  }
  throw new Error('expected the spec to be rejected');
}
