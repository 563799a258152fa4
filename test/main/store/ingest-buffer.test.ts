import { describe, expect, it, vi } from 'vitest';
import { IngestBuffer, type PendingRows } from '../../../src-main/store/ingest-buffer';

const metric = (step: number) => ({ runId: 1, key: 'loss', step, value: step, time: 0 });

describe('IngestBuffer', () => {
  it('keeps rows whose write failed, reports a timer failure, and writes them on the next flush', async () => {
    const written: PendingRows[] = [];
    const errors: unknown[] = [];
    let failNext = true;
    const buffer = new IngestBuffer(
      (rows) => {
        if (failNext) {
          failNext = false;
          throw new Error('disk full');
        }
        written.push(rows);
      },
      { maxRows: 100, maxDelayMs: 10, onError: (e) => errors.push(e) },
    );
    buffer.addMetrics([metric(1), metric(2)]);
    await vi.waitFor(() => expect(errors).toHaveLength(1), { timeout: 5000, interval: 10 });
    expect(errors.map(String)).toEqual(['Error: disk full']);
    expect(buffer.pendingRows).toBe(2);
    buffer.addLog({ runId: 1, level: 'info', message: 'later', time: 1 });
    expect(buffer.flush()).toBe(3);
    expect(written).toHaveLength(1);
    expect(written[0].metrics.map((m) => m.step)).toEqual([1, 2]);
    expect(written[0].logs.map((l) => l.message)).toEqual(['later']);
    expect(buffer.flush()).toBe(0);
    buffer.dispose();
  });

  it('rethrows a failed explicit flush so a status change is not recorded over lost rows', () => {
    const buffer = new IngestBuffer(() => {
      throw new Error('locked');
    }, { maxRows: 100, maxDelayMs: 10_000, onError: () => undefined });
    buffer.addMetrics([metric(1)]);
    expect(() => buffer.flush()).toThrow('locked');
    expect(buffer.pendingRows).toBe(1);
    buffer.dispose();
  });
});
