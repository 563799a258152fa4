import type { LrSchedule } from '../run-spec';
import { warmupCosine } from './recipe/warmup-cosine';

/** Where training stands when a learning rate is asked for. `epoch` is 0-based; `globalStep` counts steps done. */
export interface SchedulePosition {
  epoch: number;
  globalStep: number;
  totalEpochs: number;
  stepsPerEpoch: number;
}

/**
 * PyTorch's CosineAnnealingLR in closed form with T_max = the run's epochs and, as the reference's
 * utils/lr_scheduler.py does, eta_min = lr * decay: lr_e = eta_min + (lr - eta_min)(1 + cos(pi e / T)) / 2.
 */
export function cosineAnnealing(baseLr: number, decay: number, epoch: number, totalEpochs: number): number {
  const etaMin = baseLr * decay;
  const t = Math.min(epoch, totalEpochs);
  return etaMin + ((baseLr - etaMin) * (1 + Math.cos((Math.PI * t) / totalEpochs))) / 2;
}

/** PyTorch's MultiStepLR: lr * gamma^(number of milestones already reached), milestones in epochs. */
export function multiStep(baseLr: number, milestones: number[], gamma: number, epoch: number): number {
  const passed = milestones.filter((m) => m <= epoch).length;
  return baseLr * gamma ** passed;
}

/** PyTorch's PolynomialLR stepped every batch: lr * (1 - t/T)^power, held at 0 once t reaches T. */
export function polynomial(baseLr: number, power: number, globalStep: number, totalSteps: number): number {
  const t = Math.min(globalStep, totalSteps);
  return baseLr * (1 - t / totalSteps) ** power;
}

/** The learning rate for the step about to run at `pos`. */
export function learningRateAt(schedule: LrSchedule, baseLr: number, pos: SchedulePosition): number {
  switch (schedule.kind) {
    case 'constant':
      return baseLr;
    case 'cosine':
      return cosineAnnealing(baseLr, schedule.decay, pos.epoch, pos.totalEpochs);
    case 'multistep':
      return multiStep(baseLr, schedule.milestones, schedule.gamma, pos.epoch);
    case 'warmup-cosine':
      return warmupCosine(baseLr, pos.epoch, {
        totalEpochs: pos.totalEpochs, warmupEpochs: schedule.warmupEpochs, warmupDecay: schedule.warmupDecay, minLr: schedule.minLr,
      });
    case 'poly':
      return polynomial(baseLr, schedule.power, pos.globalStep, pos.totalEpochs * pos.stepsPerEpoch);
  }
}

/** Whether the rate changes within an epoch (so it must be recomputed every step, not every epoch). */
export function isPerStep(schedule: LrSchedule): boolean {
  return schedule.kind === 'poly';
}
