import { Command, Option } from 'commander';
import { UsageError } from '../option-parsers';
import { calibrateNoiseMultiplier } from '../../../src-worker/train/dp/calibration';
import { epsilonFor, type RdpConversion } from '../../../src-worker/train/dp/rdp-accountant';

/**
 * `normlab privacy`: the RDP accountant on the command line. With --noise it reports the ε that DP-SGD
 * spends; with --target-epsilon it reports the noise multiplier that keeps within that ε.
 */

interface PrivacyFlags {
  noise?: string;
  targetEpsilon?: string;
  sampleRate: string;
  steps?: string;
  epochs?: string;
  delta: string;
  tolerance: string;
  conversion: RdpConversion;
  json?: boolean;
}

class PrivacyArgumentError extends UsageError {
  override name = 'PrivacyArgumentError';
}

function parseNumber(flag: string, raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value)) {
    throw new PrivacyArgumentError(`privacy: ${flag} must be a number, got "${raw}"`);
  }
  return value;
}

function requireRange(flag: string, value: number, ok: boolean, range: string): number {
  if (!ok) throw new PrivacyArgumentError(`privacy: ${flag} must be ${range}, got ${value}`);
  return value;
}

/** Steps from --steps, or from --epochs as Opacus does (int(epochs / q)). */
function resolveSteps(flags: PrivacyFlags, sampleRate: number): number {
  if ((flags.steps === undefined) === (flags.epochs === undefined)) {
    throw new PrivacyArgumentError('privacy: give exactly one of --steps or --epochs');
  }
  if (flags.steps !== undefined) {
    const steps = parseNumber('--steps', flags.steps);
    return requireRange('--steps', steps, Number.isInteger(steps) && steps >= 0, 'an integer ≥ 0');
  }
  const epochs = parseNumber('--epochs', flags.epochs!);
  requireRange('--epochs', epochs, epochs > 0, '> 0');
  return Math.floor(epochs / sampleRate);
}

function write(line: string): void {
  process.stdout.write(line + '\n');
}

export function runPrivacy(flags: PrivacyFlags): void {
  if ((flags.noise === undefined) === (flags.targetEpsilon === undefined)) {
    throw new PrivacyArgumentError('privacy: give exactly one of --noise (to get ε) or --target-epsilon (to get σ)');
  }
  const sampleRate = parseNumber('--sample-rate', flags.sampleRate);
  requireRange('--sample-rate', sampleRate, sampleRate > 0 && sampleRate <= 1, 'in (0, 1]');
  const delta = parseNumber('--delta', flags.delta);
  requireRange('--delta', delta, delta > 0 && delta < 1, 'in (0, 1)');
  const steps = resolveSteps(flags, sampleRate);
  const conversion = flags.conversion;

  if (flags.noise !== undefined) {
    const sigma = parseNumber('--noise', flags.noise);
    requireRange('--noise', sigma, sigma > 0, '> 0');
    const spent = epsilonFor({ noiseMultiplier: sigma, sampleRate, steps, delta, conversion });
    // no steps: ε is 0 and no order is best (the accountant reports order Infinity, which JSON cannot hold)
    if (flags.json) write(JSON.stringify({ epsilon: spent.epsilon, order: Number.isFinite(spent.order) ? spent.order : null }));
    else {
      write(`ε = ${spent.epsilon.toFixed(4)} at δ = ${delta} (${steps === 0 ? 'no steps: nothing spent' : `best RDP order ${spent.order}`})`);
      write(`  σ = ${sigma}, q = ${sampleRate}, ${steps} steps, ${conversion} conversion`);
    }
    return;
  }

  const targetEpsilon = parseNumber('--target-epsilon', flags.targetEpsilon!);
  requireRange('--target-epsilon', targetEpsilon, targetEpsilon > 0, '> 0');
  if (steps === 0) {
    const given = flags.steps !== undefined ? '--steps 0' : `--epochs ${flags.epochs} at --sample-rate ${sampleRate} is 0 steps`;
    throw new PrivacyArgumentError(`privacy: --target-epsilon needs at least one step (${given}): no steps spend no privacy at any σ`);
  }
  const tolerance = parseNumber('--tolerance', flags.tolerance);
  requireRange('--tolerance', tolerance, tolerance > 0, '> 0');
  const cal = calibrateNoiseMultiplier({ targetEpsilon, delta, sampleRate, steps, tolerance, conversion });
  if (flags.json) write(JSON.stringify({ sigma: cal.noiseMultiplier }));
  else {
    write(`σ = ${cal.noiseMultiplier} (noise multiplier)`);
    write(`  gives ε = ${cal.epsilon.toFixed(4)} ≤ ${targetEpsilon} at δ = ${delta} (best RDP order ${cal.order})`);
    write(`  q = ${sampleRate}, ${steps} steps, ${conversion} conversion`);
  }
}

export function register(program: Command): void {
  program
    .command('privacy')
    .description('RDP accountant for DP-SGD: ε from a noise multiplier, or the noise multiplier for a target ε')
    .option('--noise <sigma>', 'noise multiplier σ (noise std / clipping norm); prints ε')
    .option('--target-epsilon <eps>', 'target ε; prints the calibrated noise multiplier σ')
    .requiredOption('--sample-rate <q>', 'Poisson sampling rate q = expected logical batch / training set size')
    .option('--steps <T>', 'number of DP-SGD steps')
    .option('--epochs <E>', 'number of epochs instead of --steps (steps = floor(E / q))')
    .option('--delta <delta>', 'δ of the (ε, δ) guarantee', '8e-7')
    .option('--tolerance <tol>', 'with --target-epsilon: how far below the target ε may land', '0.01')
    .addOption(
      new Option('--conversion <how>', 'RDP → (ε, δ) conversion: Balle et al. 2020 (Opacus) or classic (old TF Privacy)')
        .choices(['balle2020', 'classic'])
        .default('balle2020'),
    )
    .option('--json', 'print {"epsilon", "order"} or {"sigma"} as JSON')
    .action((flags: PrivacyFlags) => runPrivacy(flags));
}
