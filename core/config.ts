import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { ChurnError, describeIssues, plainIssue } from './errors.ts';

/**
 * A connection string pg reads: a `postgres://` or `postgresql://` URL (or pg's `socket://`). Anything
 * else pg would read as a host name (`notaurl` became "getaddrinfo ENOTFOUND base").
 */
const PostgresUrl = z.string().min(1).refine((v) => {
  try {
    return ['postgres:', 'postgresql:', 'socket:'].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, 'expected a PostgreSQL connection URL: postgres://user:password@host:5432/database');

/** Environment variables, parsed only when an entry point calls `loadConfig`. */
export const ConfigSchema = z.object({
  DATABASE_URL: PostgresUrl.optional(),
  PORT: z.coerce.number().int().min(0).max(65535).default(3000),
  HOST: z.string().min(1).default('127.0.0.1'),
  MLFLOW_TRACKING_URI: z.string().url().optional(),
  CHURN_RATE_LIMIT: z.coerce.number().int().min(0).default(600),
  CHURN_API_KEYS: z.string().optional(),
  CHURN_HOME: z.string().min(1).default('.churn'),
  CHURN_EMBEDDED_PORT: z.coerce.number().int().min(1).max(65535).default(54329),
  CHURN_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  CHURN_SCHEDULE_HOURS: z.coerce.number().min(0).default(24),
  /** feature statements the API runs at once for account scores (default: one per CPU core) */
  CHURN_FEATURE_CONCURRENCY: z.coerce.number().int().min(1).max(64).optional(),
  /** `churn serve` processes sharing the port (default 1; one per core uses every core) */
  CHURN_WORKERS: z.coerce.number().int().min(1).max(64).default(1),
  /** JSON file of the scoring configuration: health mapping, tiers, segments, scorecard, alerts, webhooks (scoring/config.ts) */
  CHURN_SERVING_CONFIG: z.string().min(1).optional(),
  /** JSON file of your own features: event types, ratios between them, account attributes (features/config.ts, docs/features.md) */
  CHURN_FEATURES_CONFIG: z.string().min(1).optional(),
  /** forces a TensorFlow.js backend (default: the fastest that loads) */
  CHURN_TF_BACKEND: z.enum(['tensorflow', 'wasm', 'cpu']).optional(),
  /** deadline of a /v1 request (except the batch routes), from routing to the response: then 503 CHURN_ERR_TIMEOUT */
  CHURN_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5000),
  /** deadline of POST /v1/scores and POST /v1/predict (up to 1,000 accounts or instances) */
  CHURN_BATCH_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  /** PostgreSQL statement_timeout of the API's sessions (keep it under CHURN_REQUEST_TIMEOUT_MS, so a request's statement ends by its deadline) */
  CHURN_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(4000),
  /** PostgreSQL lock_timeout of the API's sessions: the longest a statement waits for a lock another session holds */
  CHURN_LOCK_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(2000),
  /** drivers one score request may return in all (accounts or instances x drivers per score): a bound on response size */
  CHURN_MAX_DRIVERS_PER_REQUEST: z.coerce.number().int().min(100).max(1_000_000).default(10_000),
  /** failed authentication attempts per minute per client address before 429 CHURN_ERR_AUTH_LIMITED; 0 turns the limit off */
  CHURN_AUTH_FAILURE_LIMIT: z.coerce.number().int().min(0).default(20),
  /** origins a browser may call the API from (CORS), comma-separated (`https://cs.example.com,https://app.example.com`, or `*`); unset: CORS off */
  CHURN_CORS_ORIGINS: z.string().optional().transform((value, ctx) => parseOrigins(value, ctx)),
});

/** `CHURN_CORS_ORIGINS` as a list: each an origin (`scheme://host[:port]`, no path) or `*`; empty when unset. */
function parseOrigins(value: string | undefined, ctx: z.RefinementCtx): string[] {
  const origins = (value ?? '').split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of origins) {
    if (o === '*') continue;
    let origin: string | null = null;
    try {
      const u = new URL(o);
      if (u.protocol === 'http:' || u.protocol === 'https:') origin = u.origin;
    } catch {
      // not a URL
    }
    if (origin !== o) ctx.addIssue({ code: 'custom', message: `'${o}' is not an origin: write scheme://host[:port] without a path or trailing slash (https://cs.example.com), or *` });
  }
  return origins;
}

export type Config = z.infer<typeof ConfigSchema> & { home: string };

/** Feature statements the API runs at once: CHURN_FEATURE_CONCURRENCY when set, else one per CPU core. */
export const featureConcurrency = (configured?: number): number => configured ?? os.availableParallelism();

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = ConfigSchema.safeParse(cleaned);
  if (!parsed.success) {
    // each refused value is shown beside its reason, except those that may hold a secret
    const issues = parsed.error.issues.map((i) => {
      const name = String(i.path[0]);
      const given = cleaned[name];
      if (i.path.length !== 1 || given === undefined || /URL|URI|KEY|SECRET|TOKEN|PASSWORD/.test(name)) return i;
      return { ...i, message: `${plainIssue(i, given).message} (given: ${JSON.stringify(given.length > 60 ? `${given.slice(0, 60)}...` : given)})` };
    });
    throw new ChurnError('CHURN_ERR_CONFIG', `invalid environment: ${describeIssues(issues)}`);
  }
  return { ...parsed.data, home: path.resolve(parsed.data.CHURN_HOME) };
}
