import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerFeaturesDescribe } from '../cli/commands/features-qa.ts';
import { query } from '../core/db.ts';
import { describeSnapshot } from '../features/qa.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const T = new Date('2026-03-01T00:00:00Z');

/** Runs `churn features describe ...` in this process against the test database; returns what it printed. */
async function describeCli(db: TestDatabase, args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerFeaturesDescribe(program.command('features'));
  const printed: string[] = [];
  const spy = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void printed.push(a.join(' ')));
  const saved = process.env.DATABASE_URL;
  process.env.DATABASE_URL = db.url;
  try {
    await program.parseAsync(['node', 'churn', 'features', 'describe', ...args]);
  } finally {
    spy.mockRestore();
    process.env.DATABASE_URL = saved;
  }
  return printed.join('\n');
}

describe('churn features describe', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
    await query(db.pool, `INSERT INTO churn.feature_sets (feature_set_version, feature_names, definitions) VALUES ('cli_qa', $1, $2)`, [
      ['flat_value', 'spread_value'],
      JSON.stringify([{ name: 'flat_value', family: 'usage' }, { name: 'spread_value', family: 'support' }]),
    ]);
    await query(db.pool, `INSERT INTO source.accounts (account_id, name, segment, plan, created_at) SELECT 'q' || n, 'q' || n, 'smb', 'pro', '2025-01-01Z' FROM generate_series(1, 12) n`);
    await query(db.pool, `INSERT INTO churn.feature_snapshots (feature_set_version, as_of, account_id, feature_values)
      SELECT 'cli_qa', $1, 'q' || n, ARRAY[3, n * 1.5] FROM generate_series(1, 12) n`, [T]);
  });
  afterAll(async () => {
    await db?.drop();
  });

  it('prints an aligned table with one line per feature and the flagged ones at the end', async () => {
    const out = await describeCli(db, ['--as-of', '2026-03-01']);
    const lines = out.split('\n');
    expect(lines[0]).toContain('feature set cli_qa as of 2026-03-01T00:00:00.000Z: 12 accounts, 2 features');
    const header = lines.find((l) => l.startsWith('feature '))!;
    const flat = lines.find((l) => l.startsWith('flat_value'))!;
    expect(flat).toMatch(/usage\s+100\.0%/);
    expect(flat.length).toBeLessThanOrEqual(header.length + 'constant'.length);
    expect(lines.find((l) => l.startsWith('spread_value'))).toMatch(/\s1\.5\s/);
    expect(lines[lines.length - 1]).toBe('flagged: flat_value (constant)');
  });

  it('prints the same description as JSON with --json', async () => {
    const out = await describeCli(db, ['--json']);
    expect(JSON.parse(out)).toEqual(JSON.parse(JSON.stringify(await describeSnapshot(db.pool, {}))));
  });

  it('rejects a malformed date before touching the database', async () => {
    await expect(describeCli(db, ['--as-of', '03/01/2026'])).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
    await expect(describeCli(db, ['--as-of', '2026-02-30'])).rejects.toMatchObject({ code: 'CHURN_ERR_VALIDATION' });
  });
});
