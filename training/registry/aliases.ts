/**
 * Aliases: moving one is a single transaction that serialises on the alias (advisory lock plus
 * `SELECT ... FOR UPDATE`); the table's trigger records the move and notifies `churn_model_alias`.
 */
import { z } from 'zod';
import { query, withTransaction, type Pool, type Queryable } from '../../core/db.ts';
import { ChurnError, describeIssues } from '../../core/errors.ts';
import * as sql from './sql.ts';
import { AliasName } from './store.ts';
import type { AliasMove, SetAliasResult } from './types.ts';

export const ALIAS_CHANNEL = 'churn_model_alias';

/** The JSON payload of a `churn_model_alias` notification. */
export interface AliasNotification {
  alias: string;
  from_version: number | null;
  to_version: number;
  moved_by: string;
  moved_at: string;
}

const Version = z.number().int().positive();
const Actor = z.string().trim().min(1).max(200);

const SetAliasSchema = z.object({
  alias: AliasName,
  version: Version,
  actor: Actor,
  reason: z.string().max(2000).nullish(),
  /** when given, the move happens only if the alias still points here (null: only if it is unset) */
  expectedFrom: Version.nullable().optional(),
});

export type SetAliasInput = z.input<typeof SetAliasSchema>;

function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const r = schema.safeParse(value);
  if (!r.success) throw new ChurnError('CHURN_ERR_VALIDATION', `${what}: ${describeIssues(r.error.issues)}`);
  return r.data;
}

/** Points `alias` at `version`. Failed and archived versions are refused; a no-op when already there. */
export async function setAlias(pool: Pool, input: SetAliasInput): Promise<SetAliasResult> {
  const v = parse(SetAliasSchema, input, 'invalid alias move');
  return withTransaction(pool, async (client) => {
    await client.query(sql.lockAliasKey(v.alias));
    const target = await query<{ version: number; status: string }>(client, sql.selectVersionForShare(v.version));
    if (!target.length) throw new ChurnError('CHURN_ERR_MODEL_NOT_FOUND', `no model version ${v.version}`);
    if (target[0].status !== 'candidate') {
      throw new ChurnError('CHURN_ERR_VALIDATION', `model version ${v.version} is ${target[0].status === 'failed' ? 'a failed training run' : 'archived'}; it cannot take the alias '${v.alias}'`);
    }
    const current = await query<{ version: number }>(client, sql.selectAliasForUpdate(v.alias));
    const from = current.length ? current[0].version : null;
    if (v.expectedFrom !== undefined && from !== v.expectedFrom) {
      throw new ChurnError('CHURN_ERR_ALIAS_CONFLICT', `the alias '${v.alias}' moved meanwhile: it points at ${from === null ? 'nothing' : `version ${from}`}, not ${v.expectedFrom === null ? 'nothing' : `version ${v.expectedFrom}`}`, { details: { alias: v.alias, expected: v.expectedFrom, actual: from } });
    }
    if (from === v.version) return { alias: v.alias, fromVersion: from, toVersion: v.version, moved: false };
    await client.query(sql.upsertAlias(v.alias, v.version, v.actor, v.reason ?? null));
    return { alias: v.alias, fromVersion: from, toVersion: v.version, moved: true };
  });
}

/** Alias moves, newest first; for one alias, and/or those involving one version. */
export async function aliasHistory(db: Queryable, alias?: string | null, opts: { version?: number; limit?: number } = {}): Promise<AliasMove[]> {
  const a = alias == null ? null : parse(AliasName, alias, 'invalid alias');
  const limit = opts.limit ?? 1000;
  const rows = await query<sql.HistoryRow>(db, sql.selectHistory({ alias: a, version: opts.version ?? null, limit }));
  return rows.map((r) => ({ alias: r.alias, fromVersion: r.from_version, toVersion: r.to_version, movedAt: r.moved_at.toISOString(), movedBy: r.moved_by, reason: r.reason }));
}
