import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../src-main/cli/commands/privacy';
import { epsilonFor } from '../../../src-worker/train/dp/rdp-accountant';

/** Runs `normlab privacy …` in-process on a fresh program (only this command registered). */
async function runCli(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  register(program);
  let out = '';
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    await program.parseAsync(['node', 'normlab', 'privacy', ...args]);
  } finally {
    spy.mockRestore();
  }
  return out;
}

afterEach(() => vi.restoreAllMocks());

describe('normlab privacy', () => {
  it('prints ε and the order as JSON (Opacus test_rdp_accountant setting → 7.32911117143)', async () => {
    const out = await runCli(['--noise', '1.5', '--sample-rate', '0.04', '--steps', '2250', '--delta', '1e-5', '--json']);
    const parsed = JSON.parse(out) as { epsilon: number; order: number };
    expect(Object.keys(parsed).sort()).toEqual(['epsilon', 'order']);
    expect(parsed.epsilon).toBeCloseTo(7.32911117143, 7);
    expect(parsed.order).toBe(3.9);
  });

  it('prints a readable ε line without --json', async () => {
    const out = await runCli(['--noise', '1.12', '--sample-rate', String(256 / 60000), '--steps', '14062', '--delta', '1e-5', '--conversion', 'classic']);
    expect(out).toMatch(/^ε = 2\.92\d\d at δ = 0\.00001 \(best RDP order 9\.1\)/);
  });

  it('calibrates σ for a target ε and the σ it prints spends at most that ε', async () => {
    const out = await runCli(['--target-epsilon', '8', '--sample-rate', '0.16384', '--epochs', '100', '--json']);
    const { sigma } = JSON.parse(out) as { sigma: number };
    const spent = epsilonFor({ noiseMultiplier: sigma, sampleRate: 0.16384, steps: Math.floor(100 / 0.16384), delta: 8e-7 });
    expect(spent.epsilon).toBeLessThanOrEqual(8);
    expect(spent.epsilon).toBeGreaterThan(7.99);
  });

  it.each([
    [['--noise', '1', '--sample-rate', '0', '--steps', '10'], /--sample-rate must be in \(0, 1\], got 0/],
    [['--noise', '1', '--sample-rate', '1.5', '--steps', '10'], /--sample-rate must be in \(0, 1\], got 1.5/],
    [['--noise', '0', '--sample-rate', '0.1', '--steps', '10'], /--noise must be > 0, got 0/],
    [['--noise', '-2', '--sample-rate', '0.1', '--steps', '10'], /--noise must be > 0, got -2/],
    [['--noise', 'abc', '--sample-rate', '0.1', '--steps', '10'], /--noise must be a number, got "abc"/],
    [['--noise', '1', '--sample-rate', '0.1', '--steps', '1.5'], /--steps must be an integer ≥ 0, got 1.5/],
    [['--noise', '1', '--sample-rate', '0.1', '--steps', '10', '--delta', '1'], /--delta must be in \(0, 1\), got 1/],
    [['--noise', '1', '--sample-rate', '0.1'], /exactly one of --steps or --epochs/],
    [['--sample-rate', '0.1', '--steps', '10'], /exactly one of --noise .* or --target-epsilon/],
    [['--noise', '1', '--target-epsilon', '2', '--sample-rate', '0.1', '--steps', '10'], /exactly one of --noise/],
    [['--target-epsilon', '0', '--sample-rate', '0.1', '--steps', '10'], /--target-epsilon must be > 0, got 0/],
  ])('refuses %j', async (args, message) => {
    await expect(runCli(args)).rejects.toThrow(message);
  });
});
