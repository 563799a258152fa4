// Trainable-parameter counts of the reference's PyTorch models, written from reading norm-torch's model
// files layer by layer. Deliberately independent of src-worker/models: it imports nothing from there.
// Every channel count c is scaled as max(1, round(c × widthMultiplier)), the documented width rule.

export interface CountOptions {
  numClasses: number;
  lowResolution: boolean;
  widthMultiplier?: number;
}

const conv = (cin: number, cout: number, k: number, bias: boolean) => cin * cout * k * k + (bias ? cout : 0);
const linear = (fin: number, fout: number) => fin * fout + fout;

function scaler(m = 1): (c: number) => number {
  return (c) => Math.max(1, Math.round(c * m));
}

// ---- KNResNets (models/knresnet/knresnet.py): every KNConv2d / conv1x1 has a bias --------------------
type KNBlockRow = ['res' | 'bottleneck' | 'bottleneck1x1', number, number, number];
type KNRow = KNBlockRow | ['trans' | 'trans1x1', number, number];

const KN_TABLES: Record<18 | 34 | 50, { stem: number; rows: KNRow[]; finalConv: [number, number] | null; features: number }> = {
  // [kind, channels, inter_channels, repeats] or [kind, in_channels, out_channels]
  18: {
    stem: 64,
    rows: [['res', 64, 256, 2], ['trans', 64, 256], ['res', 256, 256, 2], ['trans', 256, 512], ['res', 512, 512, 1],
      ['trans', 512, 724], ['res', 724, 724, 1]],
    finalConv: [724, 512],
    features: 512,
  },
  34: {
    stem: 64,
    rows: [['res', 64, 256, 4], ['trans', 64, 256], ['res', 256, 320, 5], ['trans', 256, 512], ['res', 512, 640, 3],
      ['trans', 512, 512], ['res', 512, 843, 2]],
    finalConv: [512, 512],
    features: 512,
  },
  50: {
    stem: 256,
    rows: [['bottleneck', 256, 64, 4], ['trans', 256, 512], ['bottleneck', 512, 128, 5], ['trans', 512, 810],
      ['bottleneck', 810, 201, 4], ['trans1x1', 810, 2048], ['bottleneck1x1', 2048, 512, 2]],
    finalConv: null,
    features: 2048,
  },
};

export function knresnetParamCount(depth: 18 | 34 | 50, o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  const t = KN_TABLES[depth];
  let total = conv(3, s(t.stem), o.lowResolution ? 3 : 7, true);
  for (const row of t.rows) {
    if (row[0] === 'trans') total += conv(s(row[1]), s(row[2]), 2, true);
    else if (row[0] === 'trans1x1') total += conv(s(row[1]), s(row[2]), 1, true);
    else {
      const [kind, c, inter, repeats] = row as KNBlockRow;
      const block = kind === 'res'
        ? conv(s(c), s(inter), 2, true) + conv(s(inter), s(c), 2, true)
        : kind === 'bottleneck'
          ? conv(s(c), s(inter), 2, true) + conv(s(inter), s(inter), 3, true) + conv(s(inter), s(c), 2, true)
          : conv(s(c), s(inter), 1, true) + conv(s(inter), s(inter), 3, true) + conv(s(inter), s(c), 1, true);
      total += repeats * block;
    }
  }
  if (t.finalConv) total += conv(s(t.finalConv[0]), s(t.finalConv[1]), 2, true);
  return total + linear(s(t.features), o.numClasses);
}

// ---- ResNets (torchvision v1.5) and PreactResNets: convs without bias; BN/GN/LN have 2·C, Identity 0 ----
const BLOCKS = { 18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3] } as const;
const norm = (kind: 'bn' | 'gn' | 'ln' | 'nn', c: number) => (kind === 'nn' ? 0 : 2 * c);

export function resnetParamCount(depth: 18 | 34 | 50, kind: 'bn' | 'gn' | 'ln' | 'nn', o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  let inC = s(64);
  let total = conv(3, inC, o.lowResolution ? 3 : 7, false) + norm(kind, inC);
  [64, 128, 256, 512].forEach((reference, stage) => {
    const p = s(reference);
    for (let i = 0; i < BLOCKS[depth][stage]; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const outC = depth === 50 ? 4 * p : p;
      total += depth === 50
        ? conv(inC, p, 1, false) + norm(kind, p) + conv(p, p, 3, false) + norm(kind, p) + conv(p, outC, 1, false) + norm(kind, outC)
        : conv(inC, p, 3, false) + norm(kind, p) + conv(p, p, 3, false) + norm(kind, p);
      if (stride !== 1 || inC !== outC) total += conv(inC, outC, 1, false) + norm(kind, outC);
      inC = outC;
    }
  });
  return total + linear(inC, o.numClasses);
}

export function preactResnetParamCount(depth: 18 | 34 | 50, kind: 'bn' | 'gn' | 'ln' | 'nn', o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  let inC = s(64);
  // the low-resolution stem is a bare conv; the ImageNet stem adds a norm
  let total = conv(3, inC, o.lowResolution ? 3 : 7, false) + (o.lowResolution ? 0 : norm(kind, inC));
  [64, 128, 256, 512].forEach((reference, stage) => {
    const p = s(reference);
    for (let i = 0; i < BLOCKS[depth][stage]; i++) {
      const stride = stage > 0 && i === 0 ? 2 : 1;
      const outC = depth === 50 ? 4 * p : p;
      total += depth === 50
        ? norm(kind, inC) + conv(inC, p, 1, false) + norm(kind, p) + conv(p, p, 3, false) + norm(kind, p) + conv(p, outC, 1, false)
        : norm(kind, inC) + conv(inC, p, 3, false) + norm(kind, p) + conv(p, p, 3, false);
      if (stride !== 1 || inC !== outC) total += conv(inC, outC, 1, false);
      inC = outC;
    }
  });
  return total + norm(kind, inC) + linear(inC, o.numClasses);
}

// ---- models/toynet.py CNN; kn_cnn has KNConv2d layers of the same shapes (with bias) -----------------
export function cnnParamCount(o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  return conv(3, s(32), 3, true) + conv(s(32), s(64), 3, true) + linear(s(64), o.numClasses);
}

// ---- torchvision convnext_tiny / the reference's knconvnext_tiny (models/knconvnext/knconvnext.py) --------
// Stem Conv2d(3, 96, 4, stride 4, bias) + LayerNorm2d; per CNBlock(d): depthwise Conv2d(d, d, 7, groups d, bias),
// LayerNorm(d), Linear(d, 4d), Linear(4d, d), layer_scale (d); between stages LayerNorm2d(in) + Conv2d(in, out, 2,
// stride 2, bias) — or, in the KN model, ReLU + KNConv2d(in, out, 2×2, bias) with no norm; head LayerNorm2d + Linear.
export function convnextTinyParamCount(kernelNormalized: boolean, o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  const widths = [96, 192, 384, 768].map(s);
  const depths = [3, 3, 9, 3];
  const layerNorm = (c: number) => 2 * c;
  const block = (d: number) => (49 * d + d) + layerNorm(d) + linear(d, 4 * d) + linear(4 * d, d) + d;
  let total = conv(3, widths[0], 4, true) + layerNorm(widths[0]);
  depths.forEach((n, i) => {
    total += n * block(widths[i]);
    const next = widths[i + 1];
    if (next !== undefined) total += (kernelNormalized ? 0 : layerNorm(widths[i])) + conv(widths[i], next, 2, true);
  });
  return total + layerNorm(widths[3]) + linear(widths[3], o.numClasses);
}

// ---- models/segmentation/fc_resnet_seg*.py: torchvision's ResNet without fc (conv1 7×7/2 stem), then
// classifier = Conv2d(512·e, 512, 3, no bias) + norm(512) + Conv2d(512, classes, 1, bias) -----------------
// fc_knresnet* (no reference model; see src-worker/models/segmentation.ts): the KNResNet without its
// classification tail (final 2×2 KNConv, fc), then KNConv2d(C, 512, 3, bias) + Conv2d(512, classes, 1, bias).
const KN_LAST_STAGE: Record<18 | 34 | 50, number> = { 18: 724, 34: 512, 50: 2048 };

export function fcResnetParamCount(depth: 18 | 34 | 50, kind: 'bn' | 'gn' | 'ln', o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  const features = s(512) * (depth === 50 ? 4 : 1);
  const backbone = resnetParamCount(depth, kind, o) - linear(features, o.numClasses);
  return backbone + conv(features, s(512), 3, false) + 2 * s(512) + conv(s(512), o.numClasses, 1, true);
}

export function fcKnresnetParamCount(depth: 18 | 34 | 50, o: CountOptions): number {
  const s = scaler(o.widthMultiplier);
  const tails: Record<18 | 34 | 50, number> = {
    18: conv(s(724), s(512), 2, true), 34: conv(s(512), s(512), 2, true), 50: 0,
  };
  const features = depth === 50 ? s(2048) : s(512);
  const backbone = knresnetParamCount(depth, o) - tails[depth] - linear(features, o.numClasses);
  return backbone + conv(s(KN_LAST_STAGE[depth]), s(512), 3, true) + conv(s(512), o.numClasses, 1, true);
}

/** The expected count for any registered name. */
export function referenceParamCount(name: string, o: CountOptions): number {
  let m: RegExpMatchArray | null;
  if ((m = name.match(/^knresnet(18|34|50)$/))) return knresnetParamCount(Number(m[1]) as 18 | 34 | 50, o);
  if ((m = name.match(/^resnet(18|34|50)_(bn|gn|ln|nn)$/))) {
    return resnetParamCount(Number(m[1]) as 18 | 34 | 50, m[2] as 'bn', o);
  }
  if ((m = name.match(/^preact_resnet(18|34|50)_(bn|gn|ln|nn)$/))) {
    return preactResnetParamCount(Number(m[1]) as 18 | 34 | 50, m[2] as 'bn', o);
  }
  if (name === 'cnn' || name === 'kn_cnn') return cnnParamCount(o);
  if ((m = name.match(/^fc_resnet(18|34|50)_(bn|gn|ln)$/))) return fcResnetParamCount(Number(m[1]) as 18 | 34 | 50, m[2] as 'bn', o);
  if ((m = name.match(/^fc_knresnet(18|34|50)$/))) return fcKnresnetParamCount(Number(m[1]) as 18 | 34 | 50, o);
  if (name === 'convnext_tiny' || name === 'knconvnext_tiny') return convnextTinyParamCount(name.startsWith('kn'), o);
  throw new Error(`referenceParamCount: no reference count for ${name}`);
}
