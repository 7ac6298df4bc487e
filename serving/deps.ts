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
  /** largest accepted request body in bytes (default 1 MiB) */
  bodyLimit?: number;
  /** `/metrics` text of the whole cluster when this process is one of several workers (cluster.ts) */
  clusterMetrics?: (() => Promise<string>) | null;
}
