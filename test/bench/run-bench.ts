import { spawn } from 'node:child_process';

/** Runs `npm run bench -- <args>` as the package script does, answering its exit code, stdout and stderr. */
export function runBench(
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string; last: Record<string, any> | undefined }> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/run.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    c.on('close', (status) => {
      let last: Record<string, any> | undefined;
      try {
        last = JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
      } catch {
        /* the test says so */
      }
      resolve({ status, stdout, stderr, last });
    });
  });
}

/** Every latency in the bench's JSON has these, in µs. */
export const PERCENTILES = {
  count: Number,
  p50: Number,
  p90: Number,
  p99: Number,
  p999: Number,
  max: Number,
  mean: Number,
};
