import { afterAll, describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { delimiter } from 'node:path';
import { parseCudaVersion, parseGpuQuery } from '../../src-main/doctor/gpus';
import type { DoctorReport } from '../../src-main/doctor';
import { runCli, writeFakeNvidiaSmi } from './fixtures';

describe('doctor: GPUs from nvidia-smi', () => {
  const smi = writeFakeNvidiaSmi(
    [{ name: 'NVIDIA A40', memoryMiB: 46068 }, { name: 'NVIDIA GeForce RTX 3090', memoryMiB: 24576 }],
    { driver: '550.54.15', cuda: '12.4' },
  );
  afterAll(() => rmSync(smi.dir, { recursive: true, force: true }));

  it('names both GPUs of a fake nvidia-smi on PATH, with memory, driver and CUDA version', async () => {
    const env = { PATH: `${smi.dir}${delimiter}${process.env.PATH ?? ''}` };
    const json = await runCli(['doctor', '--no-bench', '--json'], env);
    expect(json.code, json.stderr).toBe(0);
    const report = JSON.parse(json.stdout) as DoctorReport;
    expect(report.gpus).toMatchObject({
      available: true,
      cudaVersion: '12.4',
      gpus: [
        { index: 0, name: 'NVIDIA A40', memoryTotalMiB: 46068, driverVersion: '550.54.15' },
        { index: 1, name: 'NVIDIA GeForce RTX 3090', memoryTotalMiB: 24576, driverVersion: '550.54.15' },
      ],
    });
    expect(report.bench).toBeNull();

    const text = await runCli(['doctor', '--no-bench', '--nvidia-smi', smi.path]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/gpu 0 {2}NVIDIA A40 {2}45\.0 GiB {2}driver 550\.54\.15 {2}CUDA 12\.4/);
    expect(text.stdout).toMatch(/gpu 1 {2}NVIDIA GeForce RTX 3090 {2}24\.0 GiB/);
    // with GPUs present, the missing tfjs-node-gpu is worth installing
    expect(text.stdout).toMatch(/tfjs-node-gpu +not installed\n +fix: `npm install @tensorflow\/tfjs-node-gpu@4\.22\.0`.*CUDA 11\.2.*cuDNN 8\.1/);
  });

  it('says so when there is no nvidia-smi', async () => {
    const result = await runCli(['doctor', '--no-bench', '--nvidia-smi', '/nonexistent/nvidia-smi']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('GPUs (nvidia-smi)\n  none: /nonexistent/nvidia-smi not found: no NVIDIA driver');
  });

  it('parses the query CSV and both spellings of the CUDA version', () => {
    expect(parseGpuQuery('0, Tesla T4, 15360, 535.104.05\n1, Tesla T4, [N/A], [N/A]\n')).toEqual([
      { index: 0, name: 'Tesla T4', memoryTotalMiB: 15360, driverVersion: '535.104.05' },
      { index: 1, name: 'Tesla T4', memoryTotalMiB: null, driverVersion: null },
    ]);
    expect(parseCudaVersion('| NVIDIA-SMI 535.104.05   Driver Version: 535.104.05   CUDA Version: 12.2     |')).toBe('12.2');
    expect(parseCudaVersion('CUDA Version                              : 11.8')).toBe('11.8');
    expect(parseCudaVersion('no such line')).toBeNull();
  });
});
