import { ConfigSchema } from '../core/config.ts';
import type { Pool } from '../core/db.ts';
import type { Logger } from '../core/log.ts';
import type { Authenticator } from './auth.ts';
import type { ServingConfig } from '../scoring/config.ts';
import type { ServingMetrics } from './metrics.ts';
import type { ModelHolder } from '../scoring/holder.ts';
import type { FeatureReader } from '../features/online.ts';

/** Reports: HTML of the latest report or one version's, and its JSON twin; null when there is none. */
export interface ReportSource {
  html(version: number | 'latest'): Promise<string | null>;
  json(version: number | 'latest'): Promise<unknown | null>;
}

/** Everything the app needs, built by the entry point (server.ts) or a test. */
export interface AppDeps {
  pool: Pool;
  config: ServingConfig;
  holder: ModelHolder;
  features: FeatureReader;
  auth: Authenticator;
  log: Logger;
  metrics: ServingMetrics;
  reports: ReportSource;
  /** requests per minute per API key; 0 turns the limit off */
  rateLimit: number;
  /** largest accepted request body in bytes (default 1 MiB; `POST /v1/predict` takes at least PREDICT_BODY_LIMIT) */
  bodyLimit?: number;
  /** deadlines and bounds of /v1 requests (defaults: those of the CHURN_* variables in core/config.ts) */
  limits?: Partial<ServingLimits>;
  /** origins a browser may call the API from (CHURN_CORS_ORIGINS; `*`: any); empty or unset: CORS off */
  corsOrigins?: string[];
  /** `/metrics` text of the whole cluster when this process is one of several workers (cluster.ts) */
  clusterMetrics?: (() => Promise<string>) | null;
}

/** Deadlines and bounds of /v1 requests (docs/operations.md, "Limits, timeouts and authentication"). */
export interface ServingLimits {
  /** deadline of a /v1 request other than the batch routes, from routing to the response (CHURN_REQUEST_TIMEOUT_MS) */
  requestTimeoutMs: number;
  /** deadline of POST /v1/scores and POST /v1/predict (CHURN_BATCH_TIMEOUT_MS) */
  batchTimeoutMs: number;
  /** drivers one score request may return in all (CHURN_MAX_DRIVERS_PER_REQUEST) */
  maxDriversPerRequest: number;
  /** failed authentication attempts per minute per client address; 0: no limit (CHURN_AUTH_FAILURE_LIMIT) */
  authFailureLimit: number;
}

const defaultOf = (name: keyof typeof ConfigSchema.shape): number => ConfigSchema.shape[name].parse(undefined) as number;

/** `deps.limits` with the configuration's defaults filled in. */
export function servingLimits(deps: Pick<AppDeps, 'limits'>): ServingLimits {
  return {
    requestTimeoutMs: deps.limits?.requestTimeoutMs ?? defaultOf('CHURN_REQUEST_TIMEOUT_MS'),
    batchTimeoutMs: deps.limits?.batchTimeoutMs ?? defaultOf('CHURN_BATCH_TIMEOUT_MS'),
    maxDriversPerRequest: deps.limits?.maxDriversPerRequest ?? defaultOf('CHURN_MAX_DRIVERS_PER_REQUEST'),
    authFailureLimit: deps.limits?.authFailureLimit ?? defaultOf('CHURN_AUTH_FAILURE_LIMIT'),
  };
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** this /v1 route's deadline (default: `ServingLimits.requestTimeoutMs`); set by app.ts on every /v1 route */
    deadlineMs?: number;
  }
}
