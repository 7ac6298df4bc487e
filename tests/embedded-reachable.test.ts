import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closedAncestor } from '../core/db.ts';
import { envWithout, freePort, postgresOn, runChurn } from './helpers/cli.ts';

/*
 * Run as root, the embedded PostgreSQL runs as the system user postgres, which must enter every
 * directory on the way to its programs and its data. A directory only root may enter (a checkout
 * under /root or `mktemp -d`) is named with the way out, before anything starts.
 */
describe('the embedded PostgreSQL and directories others cannot enter', () => {
  let top: string;
  beforeAll(async () => {
    top = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-reach-'));
    await fs.chmod(top, 0o755);
    await fs.mkdir(path.join(top, 'closed', 'inner'), { recursive: true });
    await fs.chmod(path.join(top, 'closed'), 0o700);
    await fs.mkdir(path.join(top, 'open', 'inner'), { recursive: true });
  });
  afterAll(async () => fs.rm(top, { recursive: true, force: true }));

  it('finds the first parent others cannot enter, and none where all can', async () => {
    expect(await closedAncestor(path.join(top, 'closed', 'inner'))).toEqual({ dir: path.join(top, 'closed'), mode: '700' });
    expect(await closedAncestor(path.join(top, 'open', 'inner'))).toBeNull();
  });

  it('as root, a data directory under a closed one is refused with the way out, exit code 1 and no server left', async () => {
    const home = path.join(top, 'closed', 'inner', '.churn');
    const port = await freePort();
    const r = await runChurn(['db', 'migrate'], { ...envWithout('DATABASE_URL'), CHURN_HOME: home, CHURN_EMBEDDED_PORT: String(port) });
    if (process.getuid?.() === 0) {
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`CHURN_ERR_DATABASE: the embedded PostgreSQL runs as the system user postgres`);
      expect(r.stderr).toContain(`cannot enter ${path.join(top, 'closed')} (mode 700) on the way to the data directory: allow it (chmod o+x ${path.join(top, 'closed')})`);
      expect(postgresOn(path.join(home, 'pg'))).toEqual([]);
    } else {
      // another user runs the server as itself: the directory is its own, and the migration runs
      expect(r.code, r.stderr).toBe(0);
    }
  }, 120_000);
});
