import * as tf from '@tensorflow/tfjs';

export interface ConvGeometry {
  kernelSize: [number, number];
  stride: [number, number];
  /** [top, bottom, left, right] */
  padding: [number, number, number, number];
}

/**
 * Every receptive window of a zero-padded NHWC input as a row: [N, H'·W', kh·kw·C], with (kh, kw, C) in
 * the order of a flattened [kh, kw, in, out] filter, so cols · W.reshape([kh·kw·C, out]) is the convolution.
 * Built from kh·kw strided slices; the memory is kh·kw times the input's.
 */
export function im2col(x: tf.Tensor4D, geometry: ConvGeometry, caller: string): tf.Tensor3D {
  const [kh, kw] = geometry.kernelSize;
  const [sh, sw] = geometry.stride;
  const [top, bottom, left, right] = geometry.padding;
  const [n, h, w, c] = x.shape;
  const outH = Math.floor((h + top + bottom - kh) / sh) + 1;
  const outW = Math.floor((w + left + right - kw) / sw) + 1;
  if (!(outH > 0 && outW > 0)) {
    throw new Error(`Error in ${caller}: a ${kh}x${kw} window does not fit the padded input [${x.shape}]`);
  }
  return tf.tidy(() => {
    if (kh === 1 && kw === 1 && sh === 1 && sw === 1 && top + bottom + left + right === 0) {
      return tf.reshape<tf.Rank.R3>(x, [n, h * w, c]);
    }
    const padded = top + bottom + left + right > 0 ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]]) : x;
    const slices: tf.Tensor4D[] = [];
    for (let i = 0; i < kh; i++) {
      for (let j = 0; j < kw; j++) {
        slices.push(
          tf.stridedSlice(padded, [0, i, j, 0], [n, i + sh * (outH - 1) + 1, j + sw * (outW - 1) + 1, c], [1, sh, sw, 1]) as tf.Tensor4D,
        );
      }
    }
    const windows = slices.length === 1 ? slices[0] : tf.concat(slices, 3);
    return tf.reshape<tf.Rank.R3>(windows, [n, outH * outW, kh * kw * c]);
  });
}
