/**
 * A worker process for executor tests: it speaks the real protocol over IPC but trains nothing. It reports
 * the GPU it was given, then finishes at once, or (seed 99) waits until it is told to stop.
 */
import type { DoneStatus, ParentMessage, WorkerEvent } from '../../../src-worker/protocol';

const send = (event: WorkerEvent) => process.send?.(event);
const metrics = { test_acc: 0.5, test_acc5: 0.9, test_loss: 1, train_loss: 1, train_acc: 0.5, best_test_acc: 0.5, epochs_completed: 1 };
const finish = (status: DoneStatus) => {
  send({ event: 'done', status, metrics });
  process.disconnect?.();
};

process.on('message', (message: ParentMessage) => {
  if (message.type === 'start') {
    send({ event: 'log', level: 'info', message: `run ${message.spec.runId} sees CUDA_VISIBLE_DEVICES=${process.env.CUDA_VISIBLE_DEVICES}` });
    if (message.spec.seed !== 99) finish('finished');
  } else {
    finish(message.type === 'cancel' ? 'cancelled' : 'interrupted');
  }
});
