import type * as tf from '@tensorflow/tfjs';
import type { ForwardContext } from '../../models/types';
import type { TrainableModel } from '../types';

/**
 * What the segmentation trainer needs of a model: per-pixel logits, plus what checkpoints and the classification
 * trainer's shared parts (train-state.ts) use. The registry's fc_* models are these.
 */
export interface SegmentationModel extends TrainableModel {
  info: { name: string; norm: string; task?: 'segmentation' };
  segmentWith(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D;
}
