import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { register } from '../../../src-main/cli/commands/download';
import { openDataset } from '../../../src-worker/data';
import { buildCifar10Archive, serveFiles, tempDir, type ArchiveServer } from './helpers';

let server: ArchiveServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
});

/** Runs `normlab download …` through commander exactly as the CLI entry does, capturing what it prints. */
async function runCli(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command().name('normlab').exitOverride();
  register(program);
  let stdout = '';
  let stderr = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'normlab', 'download', ...args]);
  } finally {
    vi.restoreAllMocks();
  }
  return { stdout, stderr };
}

describe('normlab download', () => {
  it('fetches cifar10 from --mirror into --data-dir and reports progress', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = join(await tempDir(), 'datasets');
    const { stdout, stderr } = await runCli(['cifar10', '--data-dir', dataDir, '--mirror', server.baseUrl, '--md5', archive.md5]);
    expect(stdout).toBe(`cifar10 ready in ${join(dataDir, 'cifar-10-batches-bin')}\n`);
    const phases = stderr.trim().split('\n').map((line) => line.split(':')[0]);
    expect(phases.filter((p, i) => p !== phases[i - 1])).toEqual(['download', 'verify', 'extract']);
    const size = (archive.bytes.length / 1e6).toFixed(1);
    expect(stderr.trim().split('\n').at(-1)).toBe(`extract: ${size} of ${size} MB`);
    expect(await readdir(dataDir)).toEqual(['cifar-10-batches-bin']);
    expect((await openDataset({ dataset: 'cifar10', dataDir, normalize: false })).trainSize).toBe(20);

    const again = await runCli(['cifar10', '--data-dir', dataDir, '--mirror', server.baseUrl]);
    expect(again.stdout).toBe(`cifar10 already present in ${join(dataDir, 'cifar-10-batches-bin')}\n`);
  });

  it('works through the installed entry point (bin/normlab.mjs)', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = await tempDir();
    const bin = join(import.meta.dirname, '..', '..', '..', 'bin', 'normlab.mjs');
    const args = [bin, 'download', 'cifar10', '--data-dir', dataDir, '--mirror', server.baseUrl, '--md5', archive.md5];
    const { stdout } = await promisify(execFile)(process.execPath, args);
    expect(stdout).toBe(`cifar10 ready in ${join(dataDir, 'cifar-10-batches-bin')}\n`);
    expect((await openDataset({ dataset: 'cifar10', dataDir, normalize: false })).testSize).toBe(4);
  });

  it('fails with the checksum error when the mirror serves a different archive', async () => {
    const archive = await buildCifar10Archive();
    server = await serveFiles({ 'cifar-10-binary.tar.gz': archive.bytes });
    const dataDir = await tempDir();
    await expect(runCli(['cifar10', '--data-dir', dataDir, '--mirror', server.baseUrl])).rejects.toThrow(
      'checksum mismatch for ' + server.baseUrl + 'cifar-10-binary.tar.gz: expected MD5 c32a1d4ab5d03f1284b67883e8d87530',
    );
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('rejects an unknown data set and a missing --data-dir', async () => {
    await expect(runCli(['mnist', '--data-dir', '/tmp/x'])).rejects.toThrow("'mnist' is invalid for argument 'dataset'. Allowed choices are cifar10, cifar100.");
    await expect(runCli(['cifar100'])).rejects.toThrow("required option '--data-dir <dir>' not specified");
  });
});
