/**
 * A real app serving given report pages (no model needed: the report routes read only the report
 * source, the link secret and the keys), for the report-link and browser tests.
 */
import type { Pool } from '../core/db.ts';
import { silentLogger } from '../core/log.ts';
import { loadCatalog } from '../features/catalog.ts';
import { createOnlineReader } from '../features/online.ts';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { ModelHolder, registryModelSource } from '../scoring/holder.ts';
import { buildApp, type ChurnApp } from '../serving/app.ts';
import { Authenticator } from '../serving/auth.ts';
import type { ReportSource } from '../serving/deps.ts';
import { parseBootstrapKeys } from '../serving/keys.ts';
import { createMetrics } from '../serving/metrics.ts';

export const REPORT_READER_KEY = 'report-reader-secret-1';

/** Version `version` (also 'latest') serves `html` and `json`; any other version has no report. */
export function fixedReports(version: number, html: string, json: unknown): ReportSource {
  const has = (v: number | 'latest') => v === 'latest' || v === version;
  return { html: async (v) => (has(v) ? html : null), json: async (v) => (has(v) ? json : null) };
}

export async function startReportApp(pool: Pool, reports: ReportSource, opts: { authFailureLimit?: number } = {}): Promise<{ app: ChurnApp; close(): Promise<void> }> {
  const catalog = loadCatalog();
  const holder = new ModelHolder(registryModelSource(pool, catalog), silentLogger);
  const features = createOnlineReader(pool, catalog);
  const app = await buildApp({
    pool, config: DEFAULT_SERVING_CONFIG, holder, features,
    auth: new Authenticator(pool, parseBootstrapKeys(`reader:${REPORT_READER_KEY}:score:read`)), log: silentLogger,
    metrics: createMetrics({ defaultMetrics: false }), reports, rateLimit: 0, limits: { authFailureLimit: opts.authFailureLimit ?? 0 },
  });
  await app.ready();
  return {
    app,
    close: async () => {
      await app.close();
      await holder.close();
      await features.close();
    },
  };
}
