/**
 * The CLI on the embedded PostgreSQL (DATABASE_URL unset), as `npm start` runs it: exit codes, a taken
 * port, SIGTERM to the npm process and Ctrl-C under npm. Each run starts the embedded server (a few seconds), so few runs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, ROOT, alive, descendants, envWithout, freePort, postgresOn, runChurn, takePort, waitFor } from './helpers/cli.ts';

describe('churn on the embedded PostgreSQL (no DATABASE_URL)', () => {
  let home: string;
  let dataDir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-embedded-'));
    dataDir = path.join(home, 'pg');
    env = { ...envWithout('DATABASE_URL', 'PORT'), CHURN_HOME: home, CHURN_EMBEDDED_PORT: String(await freePort()), CHURN_LOG_LEVEL: 'warn' };
  });
  afterAll(async () => {
    for (const pid of postgresOn(dataDir)) process.kill(pid, 'SIGINT'); // only after a failed test
    await waitFor(() => postgresOn(dataDir).length === 0, 10_000);
    await fs.rm(home, { recursive: true, force: true });
  });

  /** `churn serve` on the embedded server, once it listens: the process, its output so far, and its exit code. */
  async function serving(opts: { env?: NodeJS.ProcessEnv; detached?: boolean } = {}) {
    const node = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--no-schedule'], { env: opts.env ?? env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: opts.detached ?? false });
    let out = '';
    node.stdout.on('data', (d) => (out += d));
    node.stderr.on('data', (d) => (out += d));
    let exited = false;
    const exit = new Promise<number | null>((resolve) => node.once('exit', (code) => { exited = true; resolve(code); }));
    // a start that fails ends the wait at once, with its output in the failure
    expect(await waitFor(() => /API at http:\/\/\S+/.test(out) || exited, 60_000) && !exited, out).toBe(true);
    return { node, exit, out: () => out };
  }

  it('--help exits 0 and lists the commands, without a database', async () => {
    const r = await runChurn(['--help'], env);
    expect(r.code).toBe(0);
    for (const command of ['start', 'ingest', 'train', 'serve']) expect(r.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    expect(postgresOn(dataDir)).toEqual([]);
    // the program's --version before a command; after one it is that command's option, here an unknown one
    const version = await runChurn(['--version'], env);
    expect([version.code, version.stdout.trim()]).toEqual([0, '0.1.0']);
    const misplaced = await runChurn(['report', '--version', '3', '--out', path.join(home, 'r.html')], env);
    expect(misplaced.code).toBe(1);
    expect(misplaced.stderr).toMatch(/unknown option '--version'/);
    expect(misplaced.stdout).not.toContain('0.1.0');
  });

  it('a failed command exits 1 with one line and a successful one exits 0, and neither leaves the server running', async () => {
    const bad = path.join(home, 'bad.csv');
    await fs.writeFile(bad, 'account_id,name\nacc_1,Acme\n');
    const failed = await runChurn(['ingest', 'accounts', bad], env);
    expect(failed.stderr.trim().split('\n')).toHaveLength(1);
    expect(failed.stderr).toMatch(/^CHURN_ERR_BAD_FILE: .*bad\.csv/);
    expect(failed.code).toBe(1);
    expect(postgresOn(dataDir)).toEqual([]);

    const ok = await runChurn(['models', 'list'], env);
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    expect(postgresOn(dataDir)).toEqual([]);
  });

  it('churn serve on a taken port prints one line, exits 1 and stops the embedded server', async () => {
    const taken = await takePort();
    try {
      const r = await runChurn(['serve', '--port', String(taken.port), '--no-schedule'], env, 60_000);
      expect(r.stderr.trim()).toBe(`CHURN_ERR_PORT_IN_USE: port ${taken.port} on 127.0.0.1 is in use; set PORT or pass --port`);
      expect(r.code).toBe(1);
      expect(postgresOn(dataDir)).toEqual([]);
    } finally {
      await taken.release();
    }
  });

  it('a server left running by a killed command (SIGKILL) is taken over by the next command and stopped when it ends; a live owner\'s is only joined', async () => {
    const serve = () => {
      const child = spawn(process.execPath, [path.join(ROOT, 'bin/churn.js'), 'serve', '--port', '0', '--no-schedule'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      let exited = false;
      const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => { exited = true; resolve(code); }));
      return { child, exit, out: () => out, exited: () => exited };
    };
    const first = serve();
    expect(await waitFor(() => /API at http:\/\/\S+/.test(first.out()) || first.exited(), 60_000) && !first.exited(), first.out()).toBe(true);
    const [server] = postgresOn(dataDir);
    expect(server).toBeGreaterThan(0);

    // while its owner runs, another command joins the server and leaves it running
    const joined = await runChurn(['models', 'list'], env);
    expect(joined.code, joined.stderr).toBe(0);
    expect(postgresOn(dataDir)).toEqual([server]);

    first.child.kill('SIGKILL'); // no shutdown runs: the postmaster outlives it
    await first.exit;
    expect(await waitFor(() => alive(server), 1_000)).toBe(true);

    const next = await runChurn(['models', 'list'], { ...env, CHURN_LOG_LEVEL: 'debug' });
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout + next.stderr).toContain(`took over the embedded PostgreSQL (pid ${server})`);
    expect(await waitFor(() => !alive(server), 20_000), `postmaster ${server} still running`).toBe(true);
    expect(postgresOn(dataDir)).toEqual([]);
  }, 120_000);

  it('SIGTERM to npm (what a supervisor sends) stops npm, node and the embedded PostgreSQL', async () => {
    // `npm start` runs its script the same way (`exec node bin/churn.js start`), on a slower first start
    const scripts = JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    expect(scripts.start).toBe(`${scripts.churn} start`);
    const npm = spawn('npm', ['run', '--silent', 'churn', '--', 'serve', '--port', '0', '--no-schedule'], { env, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    npm.stdout.on('data', (d) => (out += d));
    npm.stderr.on('data', (d) => (out += d));
    let exited = false;
    const npmExit = new Promise<void>((resolve) => npm.once('exit', () => { exited = true; resolve(); }));
    // a start that fails ends the wait at once, with its output in the failure
    expect(await waitFor(() => /API at http:\/\/\S+/.test(out) || exited, 60_000) && !exited, out).toBe(true);
    const tree = [npm.pid!, ...descendants(npm.pid!)];
    const servers = postgresOn(dataDir);
    expect(servers).toHaveLength(1);
    expect(tree).toContain(servers[0]); // the server is part of the tree that must stop
    npm.kill('SIGTERM');
    await npmExit;
    expect(await waitFor(() => tree.every((pid) => !alive(pid)), 20_000), `still running: ${tree.filter(alive).join(', ')}`).toBe(true);
    expect(postgresOn(dataDir)).toEqual([]);
  });

  it('Ctrl-C while npm start prepares stops with exit 130 and one line, not the database error its clean-up causes', async () => {
    // the terminal's SIGINT reaches the whole group; node stops the embedded PostgreSQL while the
    // command still uses it
    const node = spawn(process.execPath, [BIN, 'start', '--accounts', '300'], { env: { ...env, PORT: String(await freePort()) }, cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let out = '';
    let err = '';
    node.stdout.on('data', (d) => (out += d));
    node.stderr.on('data', (d) => (err += d));
    let exited = false;
    const exit = new Promise<number | null>((resolve) => node.once('exit', (code) => { exited = true; resolve(code); }));
    expect(await waitFor(() => /^database\s/m.test(out) || exited, 60_000) && !exited, out + err).toBe(true);
    await new Promise((r) => setTimeout(r, 500)); // generating the demo data
    const tree = [node.pid!, ...descendants(node.pid!)];
    expect(postgresOn(dataDir)).toHaveLength(1);
    process.kill(-node.pid!, 'SIGINT');
    expect(await exit, out + err).toBe(130);
    expect(err.trim().split('\n').filter((l) => !l.startsWith('{'))).toEqual(['churn: stopping on SIGINT']);
    expect(await waitFor(() => tree.every((pid) => !alive(pid)), 20_000), `still running: ${tree.filter(alive).join(', ')}`).toBe(true);
    expect(postgresOn(dataDir)).toEqual([]);
  }, 120_000);

  it('runs the embedded PostgreSQL outside the terminal\'s process group, so Ctrl-C does not stop it under requests still draining', async () => {
    const { node, exit, out } = await serving({ detached: true });
    const [postmaster] = postgresOn(dataDir);
    // /proc/PID/stat after the command name: state, ppid, process group, session
    const ids = async (pid: number) => {
      const stat = await fs.readFile(`/proc/${pid}/stat`, 'utf8');
      const [, ppid, pgrp, session] = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
      return { ppid, pgrp, session };
    };
    const pm = await ids(postmaster);
    expect(pm.ppid).toBe(node.pid); // started by this command, which stops it
    expect(pm.pgrp).not.toBe((await ids(node.pid!)).pgrp);
    expect(pm.session).toBe(postmaster); // a session of its own
    process.kill(-node.pid!, 'SIGINT'); // the terminal's Ctrl-C
    expect(await exit, out()).toBe(0);
    expect(await waitFor(() => !alive(postmaster), 20_000)).toBe(true);
  });

  it('refuses to join the embedded PostgreSQL of another CHURN_HOME (another checkout) on the same port, with one line', async () => {
    const { node, exit } = await serving();
    const other = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-other-'));
    try {
      const r = await runChurn(['models', 'list'], { ...env, CHURN_HOME: other });
      expect(r.code).toBe(1);
      expect(r.stderr.trim()).toBe(`CHURN_ERR_DATABASE: port ${env.CHURN_EMBEDDED_PORT} is taken by the embedded PostgreSQL of ${home}; this command's is under ${other}: `
        + 'stop the other one, or set CHURN_EMBEDDED_PORT to another port for this one');
      expect(await fs.readdir(other)).toEqual([]); // nothing started or written there
    } finally {
      node.kill('SIGINT');
      expect(await exit).toBe(0);
      await fs.rm(other, { recursive: true, force: true });
    }
  });

  it('stops cleanly on Ctrl-C after its embedded PostgreSQL went away under it (exit 0, not 13 with the clean-up unfinished)', async () => {
    const { node, exit, out } = await serving();
    const [postmaster] = postgresOn(dataDir);
    process.kill(postmaster, 'SIGINT'); // stopped by someone else, or crashed
    expect(await waitFor(() => !alive(postmaster), 20_000)).toBe(true);
    node.kill('SIGINT');
    expect(await exit, out()).toBe(0);
  });

  it('one Ctrl-C under npm, which reaches node twice (from the terminal, then forwarded by npm), drains and exits 0', async () => {
    // A terminal sends Ctrl-C's SIGINT to the whole foreground group, npm and node; npm forwards it to
    // node again, 2-4 ms later (measured with `npm start`). Both reach node here the same way.
    const { node, exit, out } = await serving({ env: { ...env, CHURN_LOG_LEVEL: 'info' } });
    const tree = [node.pid!, ...descendants(node.pid!)];
    expect(postgresOn(dataDir)).toHaveLength(1);
    node.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 3));
    node.kill('SIGINT');
    expect(await exit, out()).toBe(0);
    expect(out()).toMatch(/draining/);
    expect(out()).not.toMatch(/stopping on SIGINT/); // what a second, separate Ctrl-C does: end at once, exit 130
    expect(await waitFor(() => tree.every((pid) => !alive(pid)), 20_000), `still running: ${tree.filter(alive).join(', ')}`).toBe(true);
    expect(postgresOn(dataDir)).toEqual([]);
  });
});
