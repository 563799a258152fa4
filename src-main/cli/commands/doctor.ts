import { Command } from 'commander';
import { resolve } from 'node:path';
import { positiveInt } from '../option-parsers';

interface DoctorFlags {
  json?: boolean;
  bench: boolean;
  benchSeconds?: number;
  nvidiaSmi?: string;
  moduleDir?: string;
}

/** `normlab doctor`: what will run where on this machine, and why (issue 10). */
export function register(program: Command): void {
  program
    .command('doctor')
    .description('what will run where here, and why: GPUs, tfjs-node(-gpu) and their missing libraries, WebGPU adapters, wasm SIMD, a quick benchmark, and what --backend auto picks')
    .option('--json', 'print the report as JSON (the DoctorReport type in src-main/doctor)')
    .option('--no-bench', 'skip the few-second benchmark of each backend')
    .option('--bench-seconds <s>', 'seconds each backend may spend measuring (default 8)', positiveInt)
    .option('--nvidia-smi <command>', 'the nvidia-smi to ask (default: nvidia-smi on PATH)')
    .option('--module-dir <dir>', 'look for @tensorflow/tfjs-node(-gpu) under <dir>/node_modules instead of NormLab\'s own')
    .action(async (o: DoctorFlags) => {
      const { formatDoctorReport, runDoctor } = await import('../../doctor');
      const report = await runDoctor({
        bench: o.bench,
        benchBudgetMs: o.benchSeconds === undefined ? undefined : o.benchSeconds * 1000,
        nvidiaSmi: o.nvidiaSmi,
        moduleDir: o.moduleDir === undefined ? undefined : resolve(o.moduleDir),
        // progress on stderr for people; --json keeps stdout (and stderr) for the report alone
        onProgress: o.json || !process.stderr.isTTY ? undefined : (line) => process.stderr.write(`normlab doctor: ${line}\n`),
      });
      process.stdout.write(o.json ? JSON.stringify(report, null, 2) + '\n' : formatDoctorReport(report));
    });
}
