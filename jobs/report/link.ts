/**
 * Signed, expiring links to the accuracy report, for people whose browser cannot send an API key:
 * `/v1/reports/latest?token=...` (the champion's report) or `/v1/reports/7?token=...` (one version's).
 * The token is `<report>.<expiry, unix seconds>.<signature>`, the signature the base64url HMAC-SHA256
 * of "churnlens-report-link:v1:<report>:<expiry>" under a secret kept in churn.settings (random,
 * created on first use; replacing it revokes every link). A token opens only the report it names,
 * read-only, until it expires; it is no API key.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { query, type Queryable, type Sql } from '../../core/db.ts';
import { ChurnError, describeIssues } from '../../core/errors.ts';

export type ReportTarget = number | 'latest';

export const REPORT_LINK_SETTING = 'report_link_secret';
/** Default lifetime of a link, and the longest allowed. */
export const DEFAULT_LINK_DAYS = 7;
export const MAX_LINK_DAYS = 365;
const DAY_MS = 86_400_000;

/** The shape of a token (anything else is refused without a database read). */
export const ReportTokenSchema = z.string().max(200).regex(/^(latest|[1-9]\d{0,8})\.(\d{1,12})\.([A-Za-z0-9_-]{43})$/, 'not a report link token');

export const ReportLinkOptionsSchema = z.object({
  target: z.union([z.literal('latest'), z.number().int().positive()]),
  now: z.date(),
  days: z.number().int().min(1).max(MAX_LINK_DAYS).default(DEFAULT_LINK_DAYS),
  /** the server's address as the reader will reach it, e.g. http://127.0.0.1:3000 */
  baseUrl: z.string().url().refine((u) => /^https?:\/\//.test(u), 'the base URL must be http(s)'),
});
export type ReportLinkOptions = z.input<typeof ReportLinkOptionsSchema>;

function signature(secret: Buffer, target: ReportTarget, expires: number): Buffer {
  return createHmac('sha256', secret).update(`churnlens-report-link:v1:${target}:${expires}`).digest();
}

/** A token for `target` valid until `expiresAt` (rounded down to the second). */
export function signReportToken(secret: Buffer, target: ReportTarget, expiresAt: Date): string {
  const expires = Math.floor(expiresAt.getTime() / 1000);
  return `${target}.${expires}.${signature(secret, target, expires).toString('base64url')}`;
}

export type TokenCheck = { ok: true; expiresAt: Date } | { ok: false; reason: 'malformed' | 'forged' | 'other_report' | 'expired'; expiresAt?: Date };

/**
 * Checks a token for the report at `target` at time `now` (signature first, in constant time, so an
 * unsigned token never learns whether its report or expiry would have been right).
 */
export function checkReportToken(secret: Buffer | null, token: string, target: ReportTarget, now: Date): TokenCheck {
  const m = ReportTokenSchema.safeParse(token);
  if (!m.success) return { ok: false, reason: 'malformed' };
  const [named, expiresText, sig] = m.data.split('.');
  const tokenTarget: ReportTarget = named === 'latest' ? 'latest' : Number(named);
  const expires = Number(expiresText);
  const given = Buffer.from(sig, 'base64url');
  const want = secret ? signature(secret, tokenTarget, expires) : null;
  if (!want || given.length !== want.length || !timingSafeEqual(given, want)) return { ok: false, reason: 'forged' };
  const expiresAt = new Date(expires * 1000);
  if (tokenTarget !== target) return { ok: false, reason: 'other_report', expiresAt };
  if (expiresAt.getTime() <= now.getTime()) return { ok: false, reason: 'expired', expiresAt };
  return { ok: true, expiresAt };
}

/** The error a failed check answers with (401, the error shape). */
export function tokenError(check: Exclude<TokenCheck, { ok: true }>): ChurnError {
  switch (check.reason) {
    case 'expired':
      return new ChurnError('CHURN_ERR_LINK_EXPIRED', `this report link expired at ${check.expiresAt!.toISOString()}; ask for a new one (churn report --link)`);
    case 'other_report':
      return new ChurnError('CHURN_ERR_LINK_INVALID', 'this report link opens another report');
    case 'malformed':
      return new ChurnError('CHURN_ERR_LINK_INVALID', 'the token of this report link is malformed (copy the whole link)');
    default:
      return new ChurnError('CHURN_ERR_LINK_INVALID', 'this report link was not signed by this server, or its links were revoked; ask for a new one (churn report --link)');
  }
}

const selectSecret = (): Sql => ({ text: 'SELECT value FROM churn.settings WHERE name = $1', values: [REPORT_LINK_SETTING] });
const insertSecret = (value: string): Sql => ({
  text: 'INSERT INTO churn.settings (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING',
  values: [REPORT_LINK_SETTING, value],
});
const replaceSecret = (value: string): Sql => ({
  text: `INSERT INTO churn.settings (name, value) VALUES ($1, $2)
    ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`,
  values: [REPORT_LINK_SETTING, value],
});

/** The link secret, or null when none was created yet. */
export async function readLinkSecret(db: Queryable): Promise<Buffer | null> {
  const [row] = await query<{ value: string }>(db, selectSecret());
  return row ? Buffer.from(row.value, 'base64url') : null;
}

/** The link secret, created (32 random bytes) when there is none; concurrent callers get the same one. */
export async function ensureLinkSecret(db: Queryable): Promise<Buffer> {
  const existing = await readLinkSecret(db);
  if (existing) return existing;
  await query(db, insertSecret(randomBytes(32).toString('base64url')));
  return (await readLinkSecret(db))!;
}

/** Replaces the secret: every link issued so far stops working (at once for new server reads, within LINK_SECRET_CACHE_MS for a running server). */
export async function revokeReportLinks(db: Queryable): Promise<void> {
  await query(db, replaceSecret(randomBytes(32).toString('base64url')));
}

/** A fresh link: the URL to open, and when it stops working. */
export async function createReportLink(db: Queryable, options: ReportLinkOptions): Promise<{ url: string; token: string; expiresAt: Date }> {
  const parsed = ReportLinkOptionsSchema.safeParse(options);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', `report link: ${describeIssues(parsed.error.issues)}`);
  const o = parsed.data;
  const expiresAt = new Date(o.now.getTime() + o.days * DAY_MS);
  const token = signReportToken(await ensureLinkSecret(db), o.target, expiresAt);
  const url = `${o.baseUrl.replace(/\/+$/, '')}/v1/reports/${o.target}?token=${token}`;
  return { url, token, expiresAt: new Date(Math.floor(expiresAt.getTime() / 1000) * 1000) };
}

/** How long a running server keeps the secret it read (a revoked secret stops working within this). */
export const LINK_SECRET_CACHE_MS = 30_000;

/**
 * The server's side: checks tokens against the stored secret, read at most once per
 * LINK_SECRET_CACHE_MS, and again (at most once a second) when a token does not verify, so a secret
 * created or replaced after the server started is picked up without a restart.
 */
export class ReportLinkVerifier {
  private secret: Buffer | null = null;
  private readAt = -Infinity;

  constructor(private readonly db: Queryable, private readonly cacheMs = LINK_SECRET_CACHE_MS) {}

  private async refresh(): Promise<void> {
    this.secret = await readLinkSecret(this.db);
    this.readAt = performance.now();
  }

  async check(token: string, target: ReportTarget, now = new Date()): Promise<TokenCheck> {
    if (!ReportTokenSchema.safeParse(token).success) return { ok: false, reason: 'malformed' };
    const age = performance.now() - this.readAt;
    if (age >= this.cacheMs) await this.refresh();
    let check = checkReportToken(this.secret, token, target, now);
    if (!check.ok && check.reason === 'forged' && performance.now() - this.readAt >= 1000) {
      await this.refresh();
      check = checkReportToken(this.secret, token, target, now);
    }
    return check;
  }
}
