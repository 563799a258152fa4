import { describe, expect, it } from 'vitest';
import { placeAdapter } from '../../src-worker/webgpu-placement';

const vulkan = (name: string) => ({ backend: 'vulkan', name });

describe('placeAdapter: a GPU slot\'s worker picks its Dawn adapter by the GPU\'s nvidia-smi name', () => {
  it('takes Dawn\'s default outside a GPU slot', () => {
    expect(placeAdapter([vulkan('NVIDIA GeForce RTX 4090')], {})).toEqual({});
  });

  it('opens the adapter named like the slot\'s GPU on a box with different GPUs', () => {
    const adapters = [vulkan('NVIDIA GeForce RTX 4090'), vulkan('NVIDIA GeForce RTX 3090'), vulkan('SwiftShader Device (Subzero)')];
    expect(placeAdapter(adapters, { NORMLAB_GPU_NAME: 'NVIDIA GeForce RTX 3090', NORMLAB_GPU_ORDINAL: '0' })).toEqual({ adapterName: 'NVIDIA GeForce RTX 3090' });
    expect(placeAdapter(adapters, { NORMLAB_GPU_NAME: 'NVIDIA GeForce RTX 4090', NORMLAB_GPU_ORDINAL: '0' })).toEqual({ adapterName: 'NVIDIA GeForce RTX 4090' });
  });

  it('says so, instead of pretending, when identical GPUs cannot be told apart', () => {
    const adapters = [vulkan('NVIDIA H100 80GB HBM3'), vulkan('NVIDIA H100 80GB HBM3')];
    expect(placeAdapter(adapters, { NORMLAB_GPU_NAME: 'NVIDIA H100 80GB HBM3', NORMLAB_GPU_ORDINAL: '0' })).toEqual({ adapterName: 'NVIDIA H100 80GB HBM3' });
    const second = placeAdapter(adapters, { NORMLAB_GPU_NAME: 'NVIDIA H100 80GB HBM3', NORMLAB_GPU_ORDINAL: '1' });
    expect(second.adapterName).toBe('NVIDIA H100 80GB HBM3');
    expect(second.warning).toMatch(/#1, but Dawn selects adapters by name only: this worker runs on the first/);
  });

  it('warns and falls back to the default when no adapter has the GPU\'s name, listing what there is', () => {
    const placed = placeAdapter([vulkan('SwiftShader Device (Subzero)')], { NORMLAB_GPU_NAME: 'NVIDIA A100-SXM4-40GB' });
    expect(placed.adapterName).toBeUndefined();
    expect(placed.warning).toBe('no WebGPU adapter is named like this slot\'s GPU "NVIDIA A100-SXM4-40GB" (adapters: SwiftShader Device (Subzero) (vulkan)); using Dawn\'s default adapter');
  });
});
