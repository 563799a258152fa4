import { hashInts, mulberry32, permutation, STREAM } from './random';
import { DataError, type Batch, type BatchIterationOptions, type Split } from './types';

export function batchCount(size: number, batchSize: number, dropLast: boolean): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/** The epoch's visiting order: a permutation drawn from (seed, epoch), or 0..n-1 unshuffled. */
export function epochOrder(size: number, seed: number, epoch: number, shuffle: boolean): Int32Array {
  if (!shuffle) return Int32Array.from({ length: size }, (_, i) => i);
  return permutation(size, mulberry32(hashInts(seed, epoch, STREAM.shuffle)));
}

/**
 * Yields produce(start), produce(start+1), … in order while keeping up to `depth` of them in flight, so the
 * consumer finds the next batch ready. A failed batch surfaces when the consumer reaches it.
 */
export async function* prefetched<T>(
  start: number,
  end: number,
  depth: number,
  produce: (index: number) => Promise<T>,
): AsyncGenerator<T> {
  const queue: Promise<T>[] = [];
  let next = start;
  const fill = (): void => {
    while (queue.length < depth && next < end) {
      const pending = produce(next++);
      // a batch that fails while an earlier one is awaited must not count as an unhandled rejection
      pending.catch(() => undefined);
      queue.push(pending);
    }
  };
  fill();
  while (queue.length > 0) {
    const batch = await queue.shift()!;
    fill();
    yield batch;
  }
}

/** Runs CPU-bound work on a later turn of the event loop, so queued batches are built while the trainer waits. */
export function later<T>(work: () => T): Promise<T> {
  return new Promise((resolve, reject) => {
    setImmediate(() => {
      try {
        resolve(work());
      } catch (err) {
        reject(err);
      }
    });
  });
}

function assertInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new DataError(`batches: ${name} must be an integer >= ${min}, got ${value}`);
}

/** One epoch over a split of `size` images, in batches built by `build(indices, augment)`. */
export function iterateEpoch(
  split: Split,
  size: number,
  opts: BatchIterationOptions,
  build: (indices: Int32Array, augment: boolean) => Promise<Batch>,
): AsyncIterable<Batch> {
  assertInteger('batchSize', opts.batchSize, 1);
  assertInteger('epoch', opts.epoch, 0);
  assertInteger('seed', opts.seed, 0);
  const startBatch = opts.startBatch ?? 0;
  assertInteger('startBatch', startBatch, 0);
  const depth = opts.prefetch ?? 3;
  assertInteger('prefetch', depth, 1);
  const shuffle = opts.shuffle ?? split === 'train';
  const augment = opts.augment ?? split === 'train';
  const count = batchCount(size, opts.batchSize, opts.dropLast ?? false);
  if (startBatch > count) {
    throw new DataError(`batches: startBatch ${startBatch} is past the end of the epoch (${count} batches of the ${split} split)`);
  }
  return {
    [Symbol.asyncIterator]: () => {
      const order = epochOrder(size, opts.seed, opts.epoch, shuffle);
      return prefetched(startBatch, count, depth, (b) =>
        build(order.subarray(b * opts.batchSize, Math.min(size, (b + 1) * opts.batchSize)), augment),
      );
    },
  };
}

export function assertIndices(split: Split, indices: Int32Array, size: number): void {
  for (const i of indices) {
    if (i < 0 || i >= size) throw new DataError(`getBatch: index ${i} is outside the ${split} split (0..${size - 1})`);
  }
}
