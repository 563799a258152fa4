import { execFile } from 'node:child_process';
import { cpus } from 'node:os';

export interface Device {
  /** Stable id used in the store and the UI: `gpu:0`, `gpu:1`, … or `cpu`. */
  id: string;
  kind: 'gpu' | 'cpu';
  /** CUDA index handed to a worker as CUDA_VISIBLE_DEVICES (GPUs only). */
  index?: number;
  name: string;
  memoryTotalMiB?: number;
  memoryUsedMiB?: number;
  utilizationPct?: number;
  /** How many workers may run on this device at once. */
  slots: number;
}

export interface DeviceDetectionOptions {
  /** Command to query GPUs; `nvidia-smi` on PATH by default (tests put a fake one there). */
  nvidiaSmi?: string;
  /** Workers per GPU. */
  slotsPerGpu?: number;
  /** Worker slots when no GPU is found (one single-threaded wasm worker per core by default). */
  cpuSlots?: number;
  timeoutMs?: number;
}

const QUERY = ['--query-gpu=index,name,memory.total,memory.used,utilization.gpu', '--format=csv,noheader,nounits'];

function toNumber(field: string | undefined): number | undefined {
  if (field === undefined) return undefined;
  const value = Number(field.trim());
  return Number.isFinite(value) ? value : undefined; // nvidia-smi prints "[N/A]" for unsupported fields
}

export function parseNvidiaSmi(csv: string, slotsPerGpu = 1): Device[] {
  const devices: Device[] = [];
  for (const line of csv.split('\n')) {
    if (!line.trim()) continue;
    const [index, name, total, used, util] = line.split(',').map((f) => f.trim());
    const idx = toNumber(index);
    if (idx === undefined || !name) continue;
    devices.push({
      id: `gpu:${idx}`,
      kind: 'gpu',
      index: idx,
      name,
      memoryTotalMiB: toNumber(total),
      memoryUsedMiB: toNumber(used),
      utilizationPct: toNumber(util),
      slots: slotsPerGpu,
    });
  }
  return devices;
}

function runNvidiaSmi(command: string, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    execFile(command, QUERY, { timeout: timeoutMs }, (err, stdout) => resolve(err ? null : stdout));
  });
}

export function cpuDevice(slots = Math.max(1, cpus().length)): Device {
  return { id: 'cpu', kind: 'cpu', name: `CPU (${cpus().length} cores)`, slots };
}

/** GPUs from nvidia-smi when it answers; otherwise one CPU device with `cpuSlots` slots. */
export async function detectDevices(opts: DeviceDetectionOptions = {}): Promise<Device[]> {
  const out = await runNvidiaSmi(opts.nvidiaSmi ?? 'nvidia-smi', opts.timeoutMs ?? 5000);
  const gpus = out ? parseNvidiaSmi(out, opts.slotsPerGpu ?? 1) : [];
  return gpus.length > 0 ? gpus : [cpuDevice(opts.cpuSlots)];
}
