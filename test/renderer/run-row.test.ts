// @vitest-environment happy-dom
import { mount } from '@vue/test-utils';
import { describe, expect, it } from 'vitest';
import { createMemoryHistory, createRouter } from 'vue-router';
import RunRow from '../../src-renderer/components/RunRow.vue';
import { RUN_STATUSES, allowedActions, type RunStatus } from '../../src-main/store/run-states';
import type { RunRecord } from '../../src-main/store/types';
import { spec } from '../main/store/helpers';

function record(status: RunStatus): RunRecord {
  return {
    id: 7, sweepId: 1, groupKey: 'g', model: 'knresnet18', dataset: 'synthetic', seed: 1, lr: 0.1, batchSize: 32, epochs: 3,
    status, priority: 0, device: null, attempts: 1, errorReason: null, stderrTail: null, spec: spec(),
    finalTestAcc: null, bestTestAcc: null, finalTestLoss: null, epochsCompleted: null, createdAt: 0, startedAt: null,
    finishedAt: null, owner: null, checkpointDir: null, journalAck: { journal: null, seq: 0 }, autoRetries: 0, jobId: null,
  };
}

function mountRow(status: RunStatus) {
  const router = createRouter({ history: createMemoryHistory(), routes: [{ path: '/:p(.*)*', component: { template: '<div/>' } }] });
  const table = document.createElement('tbody');
  document.body.appendChild(table);
  return mount(RunRow, { props: { run: record(status) }, global: { plugins: [router] }, attachTo: table });
}

const buttons = (w: ReturnType<typeof mountRow>) => w.findAll('button').map((b) => b.text());

describe('RunRow buttons come from the state machine', () => {
  it('offers Retry (and Edit… to retry with changes) for a diverged run and emits retry on click', async () => {
    const w = mountRow('diverged');
    expect(buttons(w)).toEqual(['Retry', 'Edit…']);
    await w.find('button').trigger('click');
    expect(w.emitted('retry')).toEqual([[7]]);
    await w.find('button[aria-label="Clone and edit run 7"]').trigger('click');
    expect(w.emitted('edit')).toEqual([[record('diverged')]]);
    w.unmount();
  });

  it('offers nothing for a finished run', () => {
    const w = mountRow('finished');
    expect(buttons(w)).toEqual([]);
    w.unmount();
  });

  it('matches allowedActions for every status', () => {
    for (const status of RUN_STATUSES) {
      const w = mountRow(status);
      // Edit… is the retry action with changes: shown exactly where retry is
      const shown = buttons(w).filter((t) => t !== 'Edit…').map((t) => (t === 'Cancel' ? 'cancel' : 'retry'));
      expect(shown.sort(), status).toEqual([...allowedActions(status)].sort());
      expect(buttons(w).includes('Edit…'), status).toBe(allowedActions(status).includes('retry'));
      w.unmount();
    }
  });
});
