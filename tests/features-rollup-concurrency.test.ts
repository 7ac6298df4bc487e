import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Pool } from '../core/db.ts';
import { mulberry32 } from '../core/random.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';
import { loadDataset, randomDataset } from './features-seed.ts';

/*
 * The event rollup (migrations 010, 013) under writers in several sessions at once: whatever the
 * interleaving of their transactions, once they are done the rollup equals a full recomputation.
 * Each case runs real sessions against PostgreSQL and orders them by waiting until one is blocked.
 */

/** The rollup's rows in a canonical order, as text. */
const rollupRows = async (pool: Pool) => (await pool.query(
  `SELECT account_id, kind, key, base_day, last_day, bits::text, key_bits::text, days::text, cum::text, gaps::text, first_key_at
   FROM churn.event_rollup ORDER BY account_id, kind, key NULLS FIRST`)).rows;

describe('event rollup under concurrent writers', () => {
  let db: TestDatabase;
  const clients: pg.Client[] = [];
  let nextId = 5_000_000;

  const connect = async () => {
    const c = new pg.Client({ connectionString: db.url, application_name: 'rollup-race' });
    await c.connect();
    clients.push(c);
    return c;
  };
  /** Resolves once session `c` waits for a lock (a statement it started is blocked). */
  const blocked = async (c: pg.Client) => {
    for (let i = 0; i < 200; i++) {
      const { rows } = await db.pool.query("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [(c as unknown as { processID: number }).processID]);
      if (rows[0]?.wait_event_type === 'Lock') return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the session never waited for a lock');
  };
  const insertEvent = (account: string, day: string, user: string | null = null, type = 'login') =>
    ({ text: 'INSERT INTO source.events (event_id, account_id, user_id, event_type, occurred_at, quantity) VALUES ($1, $2, $3, $4, $5, 2)', values: [nextId++, account, user, type, `2026-03-${day}T10:00:00Z`] });
  /** The accounts whose rollup differs from a recomputation (none), and the maintained rollup against a full recomputation. */
  const expectExact = async () => {
    const drift = await db.pool.query("SELECT d FROM churn.event_rollup_drift((SELECT array_agg(account_id) FROM source.accounts)) d");
    expect(drift.rows).toEqual([]);
    const maintained = await rollupRows(db.pool);
    await db.pool.query('SELECT churn.refresh_event_rollup(NULL)');
    expect(maintained).toEqual(await rollupRows(db.pool));
    return maintained;
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    await loadDataset(db.pool, randomDataset(7013, 12, new Date('2026-01-01T00:00:00Z'), new Date('2026-06-01T00:00:00Z')));
    await db.pool.query(`INSERT INTO source.accounts (account_id, name, segment, plan, created_at) VALUES ('acc_new1', 'n1', 'smb', 'team', '2026-01-01Z'), ('acc_new2', 'n2', 'smb', 'team', '2026-01-01Z')`);
  });
  afterAll(async () => {
    for (const c of clients) await c.end().catch(() => undefined);
    await db?.drop();
  });

  // the race: session A writes an event of an account and stays open; session B writes
  // another event of the same account; A commits. B's maintenance waits for A's commit and then
  // recomputes from both events (before migration 013 both kept their rows: the account twice)
  it.each([['acc_001', 'an account with events'], ['acc_new1', 'an account without events so far']])(
    'two sessions writing events of %s (%s): the second waits for the first, and the rollup equals a recomputation', async (account) => {
      const a = await connect();
      const b = await connect();
      await a.query('BEGIN');
      await a.query(insertEvent(account, '02', 'u_race_a'));
      const bDone = b.query(insertEvent(account, '03', 'u_race_b', 'report_create'));
      await blocked(b);
      await a.query('SELECT pg_sleep(0.2)');
      await a.query('COMMIT');
      await bDone;
      const rows = (await expectExact()).filter((r) => r.account_id === account);
      expect(rows.filter((r) => r.kind === 0)).toHaveLength(1);
      expect(rows.filter((r) => r.kind === 1).map((r) => r.key)).toEqual(expect.arrayContaining(['u_race_a', 'u_race_b']));
    });

  it.each([['acc_002'], ['acc_new2']])('a REPEATABLE READ writer of %s whose snapshot misses the other\'s commit fails with a serialization failure and leaves nothing stale', async (account) => {
    const a = await connect();
    const b = await connect();
    await a.query('BEGIN');
    await a.query(insertEvent(account, '04', 'u_rr_a'));
    await b.query('BEGIN ISOLATION LEVEL REPEATABLE READ');
    await b.query('SELECT count(*) FROM source.events'); // takes B's snapshot before A commits
    const bDone = b.query(insertEvent(account, '05', 'u_rr_b')).then(() => null, (e: { code?: string }) => e);
    await blocked(b);
    await a.query('COMMIT');
    expect(await bDone).toMatchObject({ code: '40001' });
    await b.query('ROLLBACK');
    const rows = (await expectExact()).filter((r) => r.account_id === account && r.kind === 1).map((r) => r.key);
    expect(rows).toContain('u_rr_a');
    expect(rows).not.toContain('u_rr_b');
  });

  it('a change to the event types (a recomputation of every account) waits for an open writer and includes its events', async () => {
    const a = await connect();
    const t = await connect();
    await a.query('BEGIN');
    await a.query(insertEvent('acc_003', '06', 'u_types', 'api_call'));
    const tDone = t.query("UPDATE source.event_types SET feature_area = 'platform' WHERE event_type = 'api_call'");
    await blocked(t);
    await a.query('COMMIT');
    await tDone;
    const rows = (await expectExact()).filter((r) => r.account_id === 'acc_003' && r.kind === 2).map((r) => r.key);
    expect(rows).toContain('platform');
  });

  it('stays equal to a full recomputation after random interleavings of multi-statement writers (some rolled back, some at REPEATABLE READ)', async () => {
    const accounts = ['acc_004', 'acc_005', 'acc_006', 'acc_007'];
    const outcomes = { committed: 0, rolledBack: 0, retryable: 0 };
    const writer = async (w: number) => {
      const r = mulberry32(1000 + w);
      const pick = () => accounts[Math.floor(r() * accounts.length)];
      const c = await connect();
      for (let t = 0; t < 8; t++) {
        await c.query(w === 0 ? 'BEGIN ISOLATION LEVEL REPEATABLE READ' : 'BEGIN');
        try {
          for (let s = 0, n = r() < 0.5 ? 1 : 2 + Math.floor(r() * 2); s < n; s++) {
            const kind = r();
            if (kind < 0.5) {
              await c.query(insertEvent(pick(), String(1 + Math.floor(r() * 28)).padStart(2, '0'), `u_${w}_${Math.floor(r() * 3)}`, r() < 0.5 ? 'login' : 'report_create'));
            } else if (kind < 0.7) {
              // moves one event to another account: both are recomputed
              await c.query('UPDATE source.events SET account_id = $2, quantity = quantity + 1 WHERE event_id = (SELECT min(event_id) FROM source.events WHERE account_id = $1 AND event_id >= 5000000)', [pick(), pick()]);
            } else if (kind < 0.9) {
              await c.query('DELETE FROM source.events WHERE event_id = (SELECT max(event_id) FROM source.events WHERE account_id = $1 AND event_id >= 5000000)', [pick()]);
            } else {
              await c.query('INSERT INTO source.events (event_id, account_id, event_type, occurred_at) SELECT $1 + k, a, \'comment_add\', timestamptz \'2026-04-01Z\' + k * interval \'1 day\' FROM unnest($2::text[]) WITH ORDINALITY AS u(a, k)', [(nextId += 10) - 10, [pick(), pick()]]);
            }
            await c.query('SELECT pg_sleep($1)', [r() * 0.03]);
          }
          if (r() < 0.15) {
            await c.query('ROLLBACK');
            outcomes.rolledBack++;
          } else {
            await c.query('COMMIT');
            outcomes.committed++;
          }
        } catch (err) {
          // a deadlock between multi-statement transactions, or a stale REPEATABLE READ snapshot: retryable
          expect(['40001', '40P01']).toContain((err as { code?: string }).code);
          await c.query('ROLLBACK');
          outcomes.retryable++;
        }
      }
    };
    await Promise.all([0, 1, 2, 3, 4].map(writer));
    expect(outcomes.committed).toBeGreaterThanOrEqual(12);
    await expectExact();
  });
});
