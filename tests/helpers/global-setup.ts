import type { TestProject } from 'vitest/node';
import pg from 'pg';
import { createPool, ident, startEmbedded, type EmbeddedDatabase } from '../../core/db.ts';
import { migrate } from '../../features/migrate.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    adminUrl: string;
    templateDb: string;
  }
}

/**
 * One PostgreSQL for the whole run: `DATABASE_URL` when set, else the embedded server under
 * `.churn/test`. A migrated template database is built once; each test file clones it.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedDatabase | undefined;
  let adminUrl: string;
  if (process.env.DATABASE_URL) {
    adminUrl = process.env.DATABASE_URL;
  } else {
    embedded = await startEmbedded('.churn/test', Number(process.env.CHURN_TEST_PG_PORT ?? 54331));
    adminUrl = embedded.url;
  }
  const templateDb = `churn_tpl_${process.pid}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await dropLeftovers(admin);
  await admin.query(`CREATE DATABASE ${ident(templateDb)}`);
  const url = new URL(adminUrl);
  url.pathname = `/${templateDb}`;
  const pool = createPool(url.toString(), { max: 2 });
  await migrate(pool);
  await pool.end();
  project.provide('adminUrl', adminUrl);
  project.provide('templateDb', templateDb);
  return async () => {
    await dropLeftovers(admin, `churn_%_${process.pid}%`);
    await admin.end();
    await embedded?.stop();
  };
}

/** Drops test databases left by this run (teardown) or by runs that died without cleaning up. */
async function dropLeftovers(admin: pg.Client, pattern?: string): Promise<void> {
  const { rows } = await admin.query<{ datname: string }>(
    pattern ? 'SELECT datname FROM pg_database WHERE datname LIKE $1' : "SELECT datname FROM pg_database WHERE datname ~ '^churn_(tpl|t)_[0-9]+'",
    pattern ? [pattern] : [],
  );
  for (const { datname } of rows) {
    const pid = Number(/^churn_(?:tpl|t)_(\d+)/.exec(datname)?.[1]);
    if (!pattern && isAlive(pid)) continue; // another live run's database
    await admin.query(`DROP DATABASE IF EXISTS ${ident(datname)} WITH (FORCE)`).catch(() => undefined);
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isFinite(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
