import { describe, expect, it } from 'vitest';
import { dpFields, runFields, scheduleFields } from '../../src-worker/run-fields';
import { parseRunSpec } from '../../src-worker/run-spec';
import { trainCommand, trainSpecOf } from './normlab-cli';

describe('normlab train flags, derived from the run spec schema', () => {
  it('has a flag for every field with CLI metadata, and only those', () => {
    const flags = trainCommand().options.map((o) => o.long);
    for (const field of [...runFields(), ...dpFields(), ...scheduleFields()]) {
      if (!field.meta.cli) continue;
      const kebab = field.key.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
      const name = field.meta.cli.name ?? kebab;
      expect(flags.includes(`--${name}`) || flags.includes(`--no-${name}`), field.path).toBe(true);
    }
    expect(flags).not.toContain('--run-id');
    expect(flags).toEqual(expect.arrayContaining(['--kn-dropout', '--groups', '--no-augment', '--normalize-inputs', '--no-normalize-inputs', '--json']));
  });

  it('--help shows defaults, what a run needs, and which runs a field applies to', () => {
    const help = trainCommand().helpInformation({ error: false }).replace(/\s+/g, ' ');
    expect(help).toContain('--momentum <x> SGD momentum (default: 0.9)');
    expect(help).toContain('--groups <n> GroupNorm groups (default: 32; GroupNorm models only)');
    expect(help).toContain('--kn-dropout <p> KernelNorm dropout probability (default: 0.05; KernelNorm models only)');
    expect(help).toMatch(/--epochs <n> training epochs \(required unless --preset sets it\)/);
    expect(help).toMatch(/--logical-batch <n> .*\(required with --dp unless --preset sets it\)/);
    expect(help).toMatch(/--synthetic-train-size <n> built-in sets: training images \(synthetic\/synthetic-textured only\)/);
    expect(help).toMatch(/Run options:.*Execution options:.*--backend <name>.*DP-SGD options:.*--dp .*Output options:.*--json/);
  });

  it('turns every kind of flag into its field: numbers, lists, choices, switches and negations', () => {
    const base = ['--model', 'resnet18_gn', '--dataset', 'synthetic', '--epochs', '2', '--batch-size', '8', '--lr', '0.1'];
    const input = trainSpecOf([...base, '--groups', '8', '--momentum', '0.5', '--weight-decay', '0', '--nesterov', '--no-augment', '--no-normalize-inputs',
      '--schedule', 'multistep', '--gamma', '0.5', '--seed', '4', '--backend', 'wasm', '--stats-every', '0', '--low-resolution']);
    expect(input).toMatchObject({
      model: 'resnet18_gn', groups: 8, momentum: 0.5, weightDecay: 0, nesterov: true, augment: false, normalizeInputs: false,
      schedule: { kind: 'multistep', milestones: [30, 60, 90], gamma: 0.5 }, seed: 4, backend: 'wasm', statsEvery: 0, lowResolution: true,
    });
    expect(trainSpecOf([...base, '--schedule', 'cosine']).schedule).toEqual({ kind: 'cosine', decay: 0.01 });
    expect(trainSpecOf([...base, '--schedule', 'multistep', '--milestones', '5,8']).schedule).toEqual({ kind: 'multistep', milestones: [5, 8], gamma: 0.1 });
    // a flag not given leaves the field to the preset or the schema's default
    const plain = trainSpecOf(base);
    expect(plain).not.toHaveProperty('momentum');
    expect(parseRunSpec(plain)).toMatchObject({ momentum: 0.9, schedule: { kind: 'cosine', decay: 0.01 }, augment: true });
    expect(() => trainSpecOf([...base, '--stats-every', '-1'])).toThrow(/expected an integer >= 0, got "-1"/);
    expect(() => trainSpecOf([...base, '--milestones', '5,x'])).toThrow(/expected a positive integer, got "x"/);
  });

  it('a noise multiplier over dp-paper replaces its ε instead of being overruled by it', () => {
    const spec = parseRunSpec(trainSpecOf(['--preset', 'dp-paper', '--dataset', 'synthetic', '--noise-multiplier', '1.2']));
    expect(spec.dp).toEqual({ noiseMultiplier: 1.2, delta: 8e-7, maxGradNorm: 1, logicalBatch: 8192 });
  });
});

describe('normlab train flags of the ConvNeXt recipe and gradient accumulation', () => {
  it('lists the recipe flags in --help with their defaults and where they apply', () => {
    const help = trainCommand().helpInformation({ error: false }).replace(/\s+/g, ' ');
    expect(help).toMatch(/--optimizer <name> optimizer \(choices: "sgd", "adamw", default: sgd\)|--optimizer <name> optimizer \(default: sgd\)/);
    expect(help).toContain('--adam-beta2 <x> AdamW β2 (default: 0.999; adamw only)');
    expect(help).toContain('--accumulate <n> gradient accumulation: micro-batches of --batch-size per optimizer step (default: 1)');
    expect(help).toContain('--model-ema keep an exponential moving average of the weights');
    expect(help).toContain('--ema-steps <n> update the EMA every N optimizer steps (default: 32; with --model-ema only)');
    expect(help).toMatch(/--random-erasing <p> folder: probability of random erasing per training image \(default: 0; folder only\)/);
    expect(help).toMatch(/--crop-size <w,h> cityscapes: training crop width,height \(default: 1024,512; cityscapes only\)/);
    for (const flag of ['--label-smoothing', '--mixup-alpha', '--cutmix-alpha', '--norm-weight-decay', '--auto-augment', '--ra-reps',
      '--train-crop-size', '--val-resize-size', '--warmup-epochs', '--warmup-decay', '--min-lr', '--ema-decay', '--adam-eps']) {
      expect(help).toContain(flag);
    }
  });

  it('turns the recipe flags into fields, and leaves them at defaults that keep the old behaviour when not given', () => {
    const base = ['--model', 'cnn', '--dataset', 'synthetic', '--epochs', '6', '--batch-size', '8', '--lr', '0.1'];
    const input = trainSpecOf([...base, '--optimizer', 'adamw', '--label-smoothing', '0.1', '--mixup-alpha', '0.2', '--cutmix-alpha', '1',
      '--model-ema', '--ema-steps', '4', '--accumulate', '2', '--norm-weight-decay', '0', '--schedule', 'warmup-cosine', '--warmup-epochs', '2']);
    expect(input).toMatchObject({
      optimizer: 'adamw', labelSmoothing: 0.1, mixupAlpha: 0.2, cutmixAlpha: 1, modelEma: true, emaSteps: 4, accumulate: 2, normWeightDecay: 0,
      schedule: { kind: 'warmup-cosine', warmupEpochs: 2, warmupDecay: 0.01, minLr: 0 },
    });
    const plain = parseRunSpec(trainSpecOf(base));
    expect(plain).toMatchObject({ optimizer: 'sgd', labelSmoothing: 0, mixupAlpha: 0, cutmixAlpha: 0, modelEma: false, accumulate: 1, raReps: 0 });
    expect(plain.normWeightDecay).toBeUndefined();
    expect(() => trainSpecOf([...base, '--accumulate', '0'])).toThrow();
  });
});

describe('list flags of non-integers', () => {
  it('--scale-range takes comma-separated numbers (Cityscapes: 0.5,2)', () => {
    const input = trainSpecOf(['--model', 'fc_knresnet18', '--dataset', 'cityscapes', '--data-dir', '/d', '--epochs', '1', '--batch-size', '2', '--lr', '0.01', '--scale-range', '0.75,1.5']);
    expect(parseRunSpec(input).scaleRange).toEqual([0.75, 1.5]);
    expect(() => trainSpecOf(['--model', 'cnn', '--dataset', 'synthetic', '--epochs', '1', '--batch-size', '2', '--lr', '0.1', '--scale-range', '0.5,x'])).toThrow();
  });
});
