import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { ServiceError } from '../../../src-main/api';
import { CIFAR_LAYOUTS } from '../../../src-worker/data/cifar-binary';

/** The ServiceError a service call is refused with; fails the test when the call succeeds or throws anything else. */
export async function refusal(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(ServiceError);
    return error as ServiceError;
  }
  throw new Error('expected the service to refuse the call');
}

/**
 * A CIFAR-10 folder under `root` with every file of the official layout, or all but the last; the files are
 * empty, since a submit checks names only.
 */
export function cifar10Dir(root: string, name: string, { complete }: { complete: boolean }): string {
  const dir = join(root, name);
  const layout = CIFAR_LAYOUTS.cifar10;
  mkdirSync(join(dir, layout.folder), { recursive: true });
  const files = [...layout.trainFiles, ...layout.testFiles];
  for (const file of complete ? files : files.slice(0, -1)) writeFileSync(join(dir, layout.folder, file), '');
  return dir;
}
