import { describe, expect, it } from 'vitest';
import { detectDevices, parseNvidiaSmi } from '../../../src-main/scheduler/devices';
import { writeFakeNvidiaSmi } from './fake-nvidia-smi';

describe('device detection', () => {
  it('parses nvidia-smi CSV, keeping [N/A] fields undefined', () => {
    const devices = parseNvidiaSmi('0, NVIDIA A40, 46068, 512, 3\n1, Tesla K80, 11441, [N/A], [N/A]\n', 2);
    expect(devices).toHaveLength(2);
    expect(devices[0]).toMatchObject({ id: 'gpu:0', index: 0, name: 'NVIDIA A40', memoryTotalMiB: 46068, memoryUsedMiB: 512, utilizationPct: 3, slots: 2 });
    expect(devices[1]).toMatchObject({ id: 'gpu:1', index: 1, name: 'Tesla K80', memoryTotalMiB: 11441 });
    expect(devices[1].memoryUsedMiB).toBeUndefined();
  });

  it('finds the GPUs a (fake) nvidia-smi reports', async () => {
    const smi = writeFakeNvidiaSmi(3);
    const devices = await detectDevices({ nvidiaSmi: smi.path });
    expect(devices.map((d) => d.id)).toEqual(['gpu:0', 'gpu:1', 'gpu:2']);
    expect(devices.every((d) => d.kind === 'gpu' && d.slots === 1)).toBe(true);
  });

  it('falls back to CPU slots when nvidia-smi is missing', async () => {
    const devices = await detectDevices({ nvidiaSmi: '/nonexistent/nvidia-smi', cpuSlots: 2 });
    expect(devices).toEqual([expect.objectContaining({ id: 'cpu', kind: 'cpu', slots: 2 })]);
  });
});
