import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';

/** The benchmarks' command lines: a wrong option is one line and exit code 2, before any work starts. */
const run = (file: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, ['--import', 'tsx', file, ...args], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' } });
  return { code: r.status, stderr: r.stderr.trim() };
};

describe('benchmark arguments', () => {
  it('names the option and the value given, in one line, with exit code 2', () => {
    expect(run('bench/generate.ts', '--accounts', 'many')).toEqual({ code: 2, stderr: 'bench:generate: --accounts: expected a number (given: "many")' });
    expect(run('bench/serve.ts', '--rounds', '0')).toEqual({ code: 2, stderr: 'bench:serve: --rounds: expected at least 1 (given: "0")' });
    expect(run('bench/features.ts', '--dates', '3')).toEqual({ code: 2, stderr: "bench:features: Unknown option '--dates'" });
  });
});
