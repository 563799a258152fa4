import * as tf from '@tensorflow/tfjs';

/** How one spatial axis of a forward convolution maps input positions to output positions. */
export interface AxisGeometry {
  inSize: number;
  kernel: number;
  stride: number;
  /** Zeros added before the first input position (top or left), as the forward conv used them. */
  padBefore: number;
  outSize: number;
}

export interface ConvGeometry {
  batch: number;
  inChannels: number;
  outChannels: number;
  rows: AxisGeometry;
  cols: AxisGeometry;
}

/** The attrs tfjs passes to Conv2DBackpropInput / Conv2DBackpropFilter. */
export interface ConvBackpropAttrs {
  strides?: number | [number, number];
  pad?: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat?: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  dilations?: number | [number, number];
}

function isUnitDilation(dilations: ConvBackpropAttrs['dilations']): boolean {
  if (dilations == null) return true;
  return typeof dilations === 'number' ? dilations === 1 : dilations.every((d) => d === 1);
}

function assertRank4(kernelName: string, what: string, shape: readonly number[]): void {
  if (shape.length !== 4) throw new Error(`${kernelName} (wasm): ${what} must be rank 4, got shape [${shape.join(', ')}]`);
}

/**
 * The forward convolution's geometry, computed the way tfjs does (so 'same', explicit pads and
 * dimRoundingMode agree with every other backend), after checking the attrs are ones these kernels handle.
 */
export function convGeometry(
  kernelName: string,
  xShape: readonly number[],
  filterShape: readonly number[],
  attrs: ConvBackpropAttrs,
): ConvGeometry {
  assertRank4(kernelName, 'input shape', xShape);
  assertRank4(kernelName, 'filter shape', filterShape);
  const dataFormat = attrs.dataFormat ?? 'NHWC';
  if (dataFormat !== 'NHWC') throw new Error(`${kernelName} (wasm): dataFormat ${dataFormat} is not supported, only NHWC`);
  if (!isUnitDilation(attrs.dilations)) {
    throw new Error(`${kernelName} (wasm): dilations ${JSON.stringify(attrs.dilations)} are not supported, only 1`);
  }
  if (attrs.strides == null || attrs.pad == null) throw new Error(`${kernelName} (wasm): attrs strides and pad are required`);
  if (xShape[3] !== filterShape[2]) {
    throw new Error(`${kernelName} (wasm): depth of input (${xShape[3]}) must match input depth for filter ${filterShape[2]}`);
  }
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    1,
    attrs.pad,
    attrs.dimRoundingMode,
    false,
    'channelsLast',
  );
  return {
    batch: info.batchSize,
    inChannels: info.inChannels,
    outChannels: info.outChannels,
    rows: { inSize: info.inHeight, kernel: info.filterHeight, stride: info.strideHeight, padBefore: info.padInfo.top, outSize: info.outHeight },
    cols: { inSize: info.inWidth, kernel: info.filterWidth, stride: info.strideWidth, padBefore: info.padInfo.left, outSize: info.outWidth },
  };
}

/** dy must be exactly what the forward conv would have produced. */
export function assertDyShape(kernelName: string, dyShape: readonly number[], g: ConvGeometry): void {
  const expected = [g.batch, g.rows.outSize, g.cols.outSize, g.outChannels];
  if (dyShape.length !== 4 || expected.some((d, i) => d !== dyShape[i])) {
    throw new Error(
      `${kernelName} (wasm): dy has shape [${dyShape.join(', ')}] but the convolution produces [${expected.join(', ')}]`,
    );
  }
}

/** Explicit pad attr for a 4-D NHWC conv. */
export function explicitPad(rows: [number, number], cols: [number, number]): tf.backend_util.ExplicitPadding {
  return [[0, 0], rows, cols, [0, 0]];
}
