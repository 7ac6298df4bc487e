import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { createPool, ident, type Pool } from '../../core/db.ts';

export interface TestDatabase {
  url: string;
  name: string;
  pool: Pool;
  drop(): Promise<void>;
}

/** A fresh, migrated database for one test file (a clone of the run's template). */
export async function createTestDatabase(opts: { migrated?: boolean } = {}): Promise<TestDatabase> {
  const adminUrl = inject('adminUrl');
  const template = opts.migrated === false ? 'template0' : inject('templateDb');
  const runPid = /_(\d+)$/.exec(inject('templateDb'))?.[1] ?? '0';
  const name = `churn_t_${runPid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await admin.query(`CREATE DATABASE ${ident(name)} TEMPLATE ${ident(template)}`);
        break;
      } catch (err) {
        // Two clones of one template at the same instant can collide; try again shortly.
        if (attempt >= 20 || (err as { code?: string }).code !== '55006') throw err;
        await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
      }
    }
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = createPool(url.toString(), { max: 8 });
  return {
    url: url.toString(),
    name,
    pool,
    drop: async () => {
      await pool.end();
      const a = new pg.Client({ connectionString: adminUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${ident(name)} WITH (FORCE)`).catch(() => undefined);
      await a.end();
    },
  };
}
