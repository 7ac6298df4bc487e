import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../serving/keys.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { registerChampion, seedData, trainTinyModel } from './serving-fixture.ts';

const BIN = new URL('../bin/churn.js', import.meta.url).pathname;

interface LogLine { msg?: string; pid?: number; workerPid?: number; req?: unknown }

/** `churn serve --workers 2` as a user starts it: its stdout (the URL) and stderr (JSON logs) read as they come. */
class Served {
  readonly lines: LogLine[] = [];
  /** lines that are not JSON logs (the URL, the CLI's own one-line messages) */
  readonly text: string[] = [];
  url = '';
  exit: Promise<number | null>;
  constructor(readonly proc: ChildProcess) {
    for (const stream of [proc.stdout!, proc.stderr!]) this.read(stream);
    this.exit = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
  }
  private read(stream: NodeJS.ReadableStream): void {
    let buf = '';
    stream.on('data', (c: Buffer) => {
      buf += c.toString('utf8');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^Churnlens API at (\S+)/.exec(line);
        if (m) this.url = m[1];
        else if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
        else this.text.push(line);
        for (const check of this.checks) check();
      }
    });
  }
  private readonly checks = new Set<() => void>();
  /**
   * Resolves as soon as `what` holds: checked at each line the server writes (so a test can act while
   * the requests it saw arrive are still in flight: a 50-ms poll could miss them all finishing), and
   * every 50 ms.
   */
  until(what: () => boolean, ms = 60_000): Promise<void> {
    if (what()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        this.checks.delete(check);
        clearInterval(poll);
        clearTimeout(timer);
        if (err) reject(err);
        else resolve();
      };
      const check = () => {
        if (what()) done();
      };
      this.checks.add(check);
      const poll = setInterval(check, 50);
      const timer = setTimeout(() => done(new Error(`timed out; log so far: ${JSON.stringify(this.lines.slice(-5))}`)), ms);
    });
  }
  workerPids(): number[] {
    return this.lines.filter((l) => l.msg === 'worker listening').map((l) => l.workerPid!);
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('churn serve --workers: several processes on one port', () => {
  let db: TestDatabase;
  let key: string;
  let accountIds: string[];
  let featureNames: string[];
  let served: Served;
  const env = () => ({ ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'info', CHURN_RATE_LIMIT: '0', CHURN_API_KEYS: '' });
  const auth = () => ({ authorization: `Bearer ${key}` });

  beforeAll(async () => {
    db = await createTestDatabase();
    const seeded = await seedData(db.pool, 40);
    accountIds = seeded.accountIds;
    featureNames = seeded.catalog.names;
    await registerChampion(db.pool, await trainTinyModel(db.pool, seeded.catalog), seeded.catalog);
    key = await createApiKey(db.pool, { name: 'cluster', scopes: ['score:read'] });
    served = new Served(spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--port', '0', '--no-schedule'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] }));
    await served.until(() => served.url !== '' && served.workerPids().length === 2);
  }, 120_000);
  afterAll(async () => {
    if (served && served.proc.exitCode === null) {
      served.proc.kill('SIGKILL');
      for (const pid of served.workerPids()) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
    await db?.drop();
  });

  it('spreads requests over both workers, and /metrics counts those of every worker', async () => {
    const instance = Object.fromEntries(featureNames.map((f) => [f, null]));
    const predicts = 40;
    const results = await Promise.all([
      ...Array.from({ length: predicts }, () => fetch(`${served.url}/v1/predict`, {
        method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ instances: [instance] }),
      })),
      ...accountIds.slice(0, 20).map((id) => fetch(`${served.url}/v1/accounts/${id}/score?top=all`, { headers: auth() })),
    ]);
    expect(results.map((r) => r.status)).toEqual(Array(results.length).fill(200));
    await served.until(() => served.lines.filter((l) => l.msg === 'request completed').length >= results.length);
    const answeredBy = new Set(served.lines.filter((l) => l.msg === 'request completed').map((l) => l.pid));
    expect([...answeredBy].sort()).toEqual(served.workerPids().sort());
    const metrics = await (await fetch(`${served.url}/metrics`)).text();
    expect(metrics).toContain(`churn_scores_served_total{route="predict"} ${predicts}`);
    expect(metrics).toContain('churn_scores_served_total{route="account_score"} 20');
    expect(metrics).toMatch(/^churn_model_version 1$/m); // the highest version served, not a sum over workers
  });

  it('replaces a worker that dies, and keeps answering', async () => {
    const [victim] = served.workerPids();
    process.kill(victim, 'SIGKILL');
    await served.until(() => served.workerPids().length === 3);
    const now = served.workerPids().filter(alive);
    expect(now).toHaveLength(2);
    expect(now).not.toContain(victim);
    const statuses = await Promise.all(Array.from({ length: 20 }, () => fetch(`${served.url}/readyz`).then((r) => r.status)));
    expect(statuses).toEqual(Array(20).fill(200));
  });

  it('on SIGTERM every worker drains its requests in flight, then all exit 0', async () => {
    const ids = accountIds.slice(0, 30);
    const pending = Array.from({ length: 8 }, () => fetch(`${served.url}/v1/scores?top=all`, {
      method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ account_ids: ids }),
    }));
    await served.until(() => served.lines.filter((l) => l.msg === 'incoming request' && JSON.stringify(l.req).includes('/v1/scores')).length >= 4);
    served.proc.kill('SIGTERM');
    const results = await Promise.all(pending);
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    for (const r of results) expect(((await r.json()) as { scores: unknown[] }).scores).toHaveLength(ids.length);
    expect(await served.exit).toBe(0);
    for (const pid of served.workerPids()) expect(alive(pid)).toBe(false);
  });

  it('on Ctrl-C (SIGINT to the primary and every worker at once) each worker drains once: requests in flight finish, all exit 0', async () => {
    const again = new Served(spawn(process.execPath, [BIN, 'serve', '--workers', '2', '--port', '0', '--no-schedule'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] }));
    try {
      await again.until(() => again.url !== '' && again.workerPids().length === 2);
      const ids = accountIds.slice(0, 30);
      const pending = Array.from({ length: 8 }, () => fetch(`${again.url}/v1/scores?top=all`, {
        method: 'POST', headers: { ...auth(), 'content-type': 'application/json' }, body: JSON.stringify({ account_ids: ids }),
      }));
      // every request received (one that reaches a draining server is refused with 503, as it should be)
      await again.until(() => again.lines.filter((l) => l.msg === 'incoming request' && JSON.stringify(l.req).includes('/v1/scores')).length >= 8);
      // a terminal's Ctrl-C reaches the whole foreground process group; the primary then asks each
      // worker to stop as well, which must not cut short the drain the worker has begun
      const finished = again.lines.filter((l) => l.msg === 'request completed').length;
      for (const pid of [again.proc.pid!, ...again.workerPids()]) process.kill(pid, 'SIGINT');
      expect(finished).toBeLessThan(8); // some were in flight (usually all 8)
      const results = await Promise.all(pending);
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      for (const r of results) expect(((await r.json()) as { scores: unknown[] }).scores).toHaveLength(ids.length);
      expect(await again.exit).toBe(0);
      expect(again.text.filter((l) => l.startsWith('churn: stopping'))).toEqual([]); // a worker ended at once by a second signal says so
      expect(again.lines.filter((l) => l.msg === 'worker shutting down: draining requests in flight')).toHaveLength(2);
      for (const pid of again.workerPids()) expect(alive(pid)).toBe(false);
    } finally {
      if (again.proc.exitCode === null) again.proc.kill('SIGKILL');
    }
  });

  it('refuses a bad worker count with one line', () => {
    for (const n of ['0', 'many', '1000']) {
      const r = spawnSync(process.execPath, [BIN, 'serve', '--workers', n], { env: env(), encoding: 'utf8', timeout: 60_000 });
      expect(r.status).not.toBe(0);
      expect(r.stderr).toMatch(/^CHURN_ERR_VALIDATION: /m);
    }
  });
});
