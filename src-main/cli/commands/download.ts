import cliProgress from 'cli-progress';
import { Argument, Command, Option } from 'commander';
import { downloadCifar, type DownloadProgress } from '../../../src-worker/data/download';
import { writeSyntheticCityscapes } from '../../../src-worker/data/cityscapes/synthetic';
import { DATASET_NAMES, isDownloadable } from '../../../src-worker/data/registry';
import { intList, nonNegativeInt, positiveInt, UsageError } from '../option-parsers';

/** What `normlab download` can fetch, from the data-set registry. */
const DOWNLOADABLE = DATASET_NAMES.filter(isDownloadable);

interface SyntheticOptions {
  trainImages: number;
  valImages: number;
  size?: number[];
  seed: number;
}

/**
 * The synthetic street scenes `normlab generate` writes in Cityscapes' layout: the real set needs a login at
 * cityscapes-dataset.com, so tests and demos train on these with --dataset cityscapes.
 */
const CITYSCAPES_SYNTHETIC = 'cityscapes-synthetic';

async function writeSynthetic(dataDir: string, options: SyntheticOptions): Promise<void> {
  const [width, height, ...rest] = options.size ?? [128, 64];
  if (width === undefined || height === undefined || rest.length > 0) throw new UsageError(`generate: --size must be <width>,<height>, got "${(options.size ?? []).join(',')}"`);
  const { trainImages, valImages, seed } = options;
  await writeSyntheticCityscapes(dataDir, { trainImages, valImages, width, height, seed });
  process.stdout.write(`${CITYSCAPES_SYNTHETIC}: ${trainImages} train and ${valImages} val images of ${width}×${height} written to ${dataDir} (train with --dataset cityscapes --data-dir ${dataDir})\n`);
}

function megabytes(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** A progress bar on a terminal; a few plain lines otherwise (logs, CI). */
function progressReporter(stream: NodeJS.WriteStream): { report: (p: DownloadProgress) => void; stop: () => void } {
  if (stream.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: '{phase} [{bar}] {percentage}% {received}/{total} MB', stream, hideCursor: true },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      report: (p) => {
        const total = p.totalBytes ?? p.receivedBytes;
        const payload = { phase: p.phase, received: megabytes(p.receivedBytes), total: megabytes(total) };
        if (!started) {
          bar.start(total, p.receivedBytes, payload);
          started = true;
        }
        bar.setTotal(total);
        bar.update(p.receivedBytes, payload);
      },
      stop: () => {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  let lastPhase = '';
  let lastDecile = -1;
  return {
    report: (p) => {
      const decile = p.totalBytes ? Math.floor((10 * p.receivedBytes) / p.totalBytes) : -1;
      if (p.phase === lastPhase && decile === lastDecile) return;
      if (p.phase !== lastPhase && p.resumedFrom > 0 && p.phase === 'download') {
        stream.write(`resuming at ${megabytes(p.resumedFrom)} MB\n`);
      }
      lastPhase = p.phase;
      lastDecile = decile;
      const total = p.totalBytes ? ` of ${megabytes(p.totalBytes)}` : '';
      stream.write(`${p.phase}: ${megabytes(p.receivedBytes)}${total} MB\n`);
    },
    stop: () => undefined,
  };
}

export function register(program: Command): void {
  program
    .command('download')
    .description(`download and extract an official CIFAR binary archive (resumable, MD5-checked); \`normlab generate ${CITYSCAPES_SYNTHETIC}\` writes a synthetic Cityscapes`)
    .addArgument(new Argument('<dataset>', 'data set to fetch').choices(DOWNLOADABLE))
    .requiredOption('--data-dir <dir>', 'folder to hold cifar-10-batches-bin/ or cifar-100-binary/')
    .option('--mirror <url>', 'base URL serving the same archive file names instead of www.cs.toronto.edu')
    .addOption(new Option('--md5 <hex>', 'expected MD5 of the archive (for a mirror that repackages it)'))
    .option('--keep-archive', 'keep the .tar.gz after extracting it', false)
    .action(async (dataset: 'cifar10' | 'cifar100', options: { dataDir: string; mirror?: string; md5?: string; keepArchive: boolean }) => {
      const progress = progressReporter(process.stderr);
      let result: Awaited<ReturnType<typeof downloadCifar>>;
      try {
        result = await downloadCifar(dataset, {
          dataDir: options.dataDir,
          mirror: options.mirror,
          md5: options.md5,
          keepArchive: options.keepArchive,
          onProgress: progress.report,
        });
      } finally {
        progress.stop();
      }
      process.stdout.write(
        result.alreadyPresent ? `${dataset} already present in ${result.folder}\n` : `${dataset} ready in ${result.folder}\n`,
      );
    });

  program
    .command('generate')
    .description("write a deterministic synthetic data set: cityscapes-synthetic, textured street scenes in Cityscapes' official layout")
    .addArgument(new Argument('<dataset>', 'data set to write').choices([CITYSCAPES_SYNTHETIC]))
    .requiredOption('--data-dir <dir>', 'folder to hold leftImg8bit/ and gtFine/')
    .option('--train-images <n>', 'training images', positiveInt, 64)
    .option('--val-images <n>', 'validation images', positiveInt, 16)
    .option('--size <w,h>', 'image width,height (default: 128,64)', intList)
    .option('--seed <n>', 'seed of the scenes', nonNegativeInt, 0)
    .action(async (_dataset: typeof CITYSCAPES_SYNTHETIC, options: { dataDir: string } & SyntheticOptions) => {
      await writeSynthetic(options.dataDir, options);
    });
}
