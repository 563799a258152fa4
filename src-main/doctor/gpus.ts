import { execFile } from 'node:child_process';
import type { DoctorGpu, DoctorGpus } from './report';

const QUERY = ['--query-gpu=index,name,memory.total,driver_version', '--format=csv,noheader,nounits'];

function run(command: string, args: string[], timeoutMs: number): Promise<{ ok: true; stdout: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    execFile(command, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (!err) resolve({ ok: true, stdout });
      else {
        const code = (err as NodeJS.ErrnoException).code;
        const detail = code === 'ENOENT' ? 'not found' : (stderr.trim().split('\n')[0] || stdout.trim().split('\n')[0] || err.message);
        resolve({ ok: false, error: detail });
      }
    });
  });
}

const numberOrNull = (field: string | undefined): number | null => {
  const value = Number(field?.trim());
  return field !== undefined && field.trim() !== '' && Number.isFinite(value) ? value : null; // "[N/A]" on some boards
};

/** `0, NVIDIA A40, 46068, 550.54.15` lines, as asked for by QUERY. */
export function parseGpuQuery(csv: string): DoctorGpu[] {
  const gpus: DoctorGpu[] = [];
  for (const line of csv.split('\n')) {
    if (!line.trim()) continue;
    const [index, name, memory, driver] = line.split(',').map((f) => f.trim());
    const idx = numberOrNull(index);
    if (idx === null || !name) continue;
    gpus.push({ index: idx, name, memoryTotalMiB: numberOrNull(memory), driverVersion: driver && !driver.startsWith('[') ? driver : null });
  }
  return gpus;
}

/** The driver's CUDA version from `nvidia-smi`'s header (`CUDA Version: 12.4`) or `nvidia-smi -q` (`CUDA Version : 12.4`). */
export function parseCudaVersion(text: string): string | null {
  return /CUDA Version\s*:\s*([0-9]+(?:\.[0-9]+)*)/i.exec(text)?.[1] ?? null;
}

/** The NVIDIA GPUs nvidia-smi reports, with the driver's CUDA version; none (and why) when it cannot be asked. */
export async function probeGpus(command = 'nvidia-smi', timeoutMs = 5000): Promise<DoctorGpus> {
  const listed = await run(command, QUERY, timeoutMs);
  if (!listed.ok) {
    const note = listed.error === 'not found' ? `${command} not found: no NVIDIA driver on this machine (or not on PATH)` : `${command} failed: ${listed.error}`;
    return { command, available: false, gpus: [], cudaVersion: null, note };
  }
  const gpus = parseGpuQuery(listed.stdout);
  let cudaVersion: string | null = null;
  if (gpus.length > 0) {
    const header = await run(command, [], timeoutMs);
    cudaVersion = header.ok ? parseCudaVersion(header.stdout) : null;
    if (cudaVersion === null) {
      const full = await run(command, ['-q'], timeoutMs);
      cudaVersion = full.ok ? parseCudaVersion(full.stdout) : null;
    }
  }
  return { command, available: true, gpus, cudaVersion, ...(gpus.length === 0 ? { note: `${command} answered but lists no GPU` } : {}) };
}
