/**
 * Which models train on which data sets: a segmentation model needs per-pixel label maps, a classifier one label
 * per image, and DP-SGD's per-example clipping is built for classifiers. The one statement of that rule: `train`
 * (run.ts) refuses a run by it and the API (submit-checks.ts) refuses a sweep by it, each naming the fields its
 * user wrote.
 */
export type Task = 'classification' | 'segmentation';

export interface TaskSubject {
  /** How the model is named to the user, e.g. `model fc_knresnet18` or `grid.model[1]: model fc_knresnet18`. */
  model: string;
  /** How the data set is named, e.g. `data set cifar10` or `data set cifar10 (base.dataset)`. */
  data: string;
  modelTask: Task;
  dataTask: Task;
  dp: boolean;
}

/** What is wrong with training this model on this data set, one sentence per problem; empty when it fits. */
export function taskProblems(s: TaskSubject): string[] {
  const problems: string[] = [];
  if (s.modelTask === 'segmentation' && s.dataTask === 'classification') {
    problems.push(`${s.model} is a segmentation model (per-pixel labels), but ${s.data} is a classification set; use a segmentation data set (cityscapes)`);
  } else if (s.modelTask === 'classification' && s.dataTask === 'segmentation') {
    problems.push(`${s.model} is a classifier, but ${s.data} is a segmentation set (per-pixel labels); use an fc_* segmentation model`);
  }
  if (s.modelTask === 'segmentation' && s.dp) problems.push(`${s.model} is a segmentation model, and DP-SGD (dp) trains classifiers only`);
  return problems;
}
