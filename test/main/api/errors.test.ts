import Database from 'better-sqlite3';
import { CommanderError, InvalidArgumentError } from 'commander';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  ERROR_CODES, errorCodeOf, exitCodeOf, httpStatusOf, ServiceError, toServiceError, type ErrorCode,
} from '../../../src-main/api/errors';
import { zodProblems } from '../../../src-main/api/zod-problems';
import { UsageError } from '../../../src-main/cli/option-parsers';
import { ReadOnlyError } from '../../../src-main/server/app-api';
import { toErrorBody } from '../../../src-main/server/dispatch';
import { ExperimentStore } from '../../../src-main/store';
import { IngestError, InvalidTransitionError, RunNotFoundError, StoreError, StoreOpenError } from '../../../src-main/store/errors';
import { SchemaVersionError } from '../../../src-main/store/migrations';
import { SweepSpecError } from '../../../src-main/sweeps/spec';
import { DataError } from '../../../src-worker/data/types';
import { RunSpecError } from '../../../src-worker/run-spec';
import { CheckpointError } from '../../../src-worker/train/checkpoint';
import { GpuOutOfMemoryError } from '../../../src-worker/train/gpu-failures';
import { PresetError } from '../../../src-worker/train/presets';
import { SegPreviewFileError } from '../../../src-main/store/seg-previews';
import { tempDir } from '../store/helpers';

const tmp = tempDir('errors');
afterAll(() => tmp.cleanup());

/** A real SQLite failure, as better-sqlite3 throws it. */
function sqliteError(): unknown {
  const db = new Database(':memory:');
  try {
    db.exec('SELECT * FROM no_such_table');
  } catch (error) {
    return error;
  } finally {
    db.close();
  }
  throw new Error('expected SQLite to refuse');
}

/** A real refusal of a store file that is not SQLite at all. */
function storeOpenError(): unknown {
  const file = join(tmp.dir, 'not-a-db.db');
  writeFileSync(file, 'plain text, not SQLite\n'.repeat(100));
  try {
    ExperimentStore.open(file).close();
  } catch (error) {
    return error;
  }
  throw new Error('expected the store to refuse the file');
}

async function workerErrors(): Promise<[string, unknown, ErrorCode][]> {
  // these modules load tfjs: imported here, as the service never imports them to classify their errors
  const { InvalidRunError } = await import('../../../src-worker/train/run');
  const { DpSetupError } = await import('../../../src-worker/train/dp-steps');
  const { DpIncompatibleModelError } = await import('../../../src-worker/train/dp/per-sample-grads');
  const { TrainUsageError } = await import('../../../src-main/cli/commands/train');
  return [
    ['InvalidRunError', new InvalidRunError('unknown model "m"'), 'invalid_input'],
    ['DpSetupError', new DpSetupError('no ε or σ'), 'invalid_input'],
    ['DpIncompatibleModelError', new DpIncompatibleModelError('BatchNorm'), 'invalid_input'],
    ['TrainUsageError', new TrainUsageError('--dp missing'), 'invalid_input'],
  ];
}

describe('one error taxonomy', () => {
  it('classifies every domain error class once, with the HTTP status and exit code of its code', async () => {
    const zodError = z.object({ lr: z.number() }).safeParse({ lr: 'x' }).error;
    const cases: [string, unknown, ErrorCode][] = [
      ['SweepSpecError', new SweepSpecError(['grid.lr[0]: too small']), 'invalid_input'],
      ['RunSpecError', new RunSpecError('invalid run spec'), 'invalid_input'],
      ['PresetError', new PresetError('unknown preset'), 'invalid_input'],
      ['DataError', new DataError('no files'), 'invalid_input'],
      ['UsageError', new UsageError('bad flag'), 'invalid_input'],
      ['InvalidArgumentError', new InvalidArgumentError('not a number'), 'invalid_input'],
      ['CommanderError', new CommanderError(1, 'commander.unknownOption', 'unknown option'), 'invalid_input'],
      ['ZodError', zodError, 'invalid_input'],
      ['IngestError', new IngestError('bad event'), 'invalid_input'],
      ['StoreError', new StoreError('sweep 9 does not exist'), 'invalid_input'],
      ['InvalidTransitionError', new InvalidTransitionError(3, 'finished', 'queued', ['failed']), 'conflict'],
      ['RunNotFoundError', new RunNotFoundError(3), 'not_found'],
      ['StoreOpenError', storeOpenError(), 'storage'],
      ['SchemaVersionError', new SchemaVersionError('from a newer NormLab'), 'storage'],
      ['CheckpointError', new CheckpointError('truncated'), 'storage'],
      ['SegPreviewFileError', new SegPreviewFileError('seg-preview.json: not JSON'), 'storage'],
      ['SqliteError', sqliteError(), 'storage'],
      ['ReadOnlyError', new ReadOnlyError('submitSweep', 'started with --no-scheduler'), 'read_only'],
      ['GpuOutOfMemoryError', new GpuOutOfMemoryError('out of memory'), 'unavailable'],
      ['Error', new Error('a bug'), 'internal'],
      ['a string', 'thrown as a string', 'internal'],
      ...(await workerErrors()),
    ];
    const expectedHttp: Record<ErrorCode, number> = {
      invalid_input: 400, unauthorized: 401, forbidden: 403, not_found: 404, read_only: 405, conflict: 409,
      unavailable: 503, storage: 500, internal: 500,
    };
    // 2 is the CLI's "refused as given"; everything else that goes wrong is a failure (1)
    const expectedExit: Record<ErrorCode, number> = {
      invalid_input: 2, unauthorized: 1, forbidden: 1, not_found: 1, read_only: 1, conflict: 1, unavailable: 1, storage: 1, internal: 1,
    };
    for (const [name, error, code] of cases) {
      // the table goes by class name: each class must still carry the name it is listed under
      if (error instanceof Error) expect(error.name, name).toBe(name);
      expect(errorCodeOf(error), name).toBe(code);
      const body = toErrorBody(error);
      expect(body.code, name).toBe(code);
      expect(httpStatusOf(body.code), name).toBe(expectedHttp[code]);
      expect(exitCodeOf(body.code), name).toBe(expectedExit[code]);
    }
    for (const code of ERROR_CODES) {
      expect(httpStatusOf(code)).toBe(expectedHttp[code]);
      expect(exitCodeOf(code)).toBe(expectedExit[code]);
    }
  });

  it('keeps message and problems when it classifies, and a subclass it does not name gets its parent\'s code', () => {
    const spec = toServiceError(new SweepSpecError(['grid.lr[0]: too small', 'base.model: required']));
    expect(spec).toBeInstanceOf(ServiceError);
    expect(spec.toJSON()).toEqual({ code: 'invalid_input', message: expect.stringContaining('grid.lr[0]'), problems: ['grid.lr[0]: too small', 'base.model: required'] });
    class LockedStoreError extends StoreOpenError {
      override name = 'LockedStoreError';
    }
    expect(errorCodeOf(new LockedStoreError('/x.db', 'locked'))).toBe('storage');
    const own = new ServiceError('conflict', 'already there');
    expect(toServiceError(own)).toBe(own);
  });

  it('formats zod issues as path: message lines, rooted at the argument', () => {
    const schema = z.strictObject({ status: z.array(z.enum(['queued', 'running'])), sweepId: z.number() });
    const error = schema.safeParse({ status: ['queued', 'done'], sweepId: 'one', colour: 'red' }).error!;
    const problems = zodProblems(error, 'filter');
    expect(problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^filter\.status\[1\]: /),
      expect.stringMatching(/^filter\.sweepId: /),
      expect.stringMatching(/^filter: .*colour/),
    ]));
    expect(zodProblems(z.number().safeParse('x').error!)).toEqual([expect.stringMatching(/^\(request\): /)]);
  });
});
