/** Shared pieces of the alert tests: stored scores with chosen health, and a real webhook receiver (node:http). */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Pool } from '../../core/db.ts';
import { FAMILIES } from '../../features/definitions/schema.ts';
import type { ServingConfig } from '../../scoring/config.ts';
import { tierOf } from '../../scoring/health.ts';
import type { Score } from '../../scoring/schema.ts';
import { storeScores, type StoreResult } from '../../scoring/store.ts';

export const DAY_MS = 86_400_000;
export const day = (start: Date, n: number) => new Date(start.getTime() + n * DAY_MS);

/** A score of the default segment with this health (tier from the configured tiers). */
export function makeScore(config: ServingConfig, accountId: string, asOf: Date, health: number): Score {
  const { tier } = tierOf(health, config.tiers);
  return {
    account_id: accountId, as_of: asOf.toISOString(), model_version: 1, feature_set_version: 'alerts-test', segment: config.default_segment, status: 'active',
    churn_probability: (100 - health) / 100, health_score: health, tier: tier.name, recommended_action: tier.recommended_action, scorecard_score: health,
    components: Object.fromEntries(FAMILIES.map((f) => [f, 50])) as Score['components'], base_value: 0, drivers: [],
  };
}

/** Stores one score per account and day as a daily run would (stored an hour after its as-of). */
export async function storeDay(pool: Pool, config: ServingConfig, asOf: Date, healths: Record<string, number>, storedAt = new Date(asOf.getTime() + 3_600_000)): Promise<StoreResult> {
  return storeScores(pool, config, Object.entries(healths).map(([id, h]) => makeScore(config, id, asOf, h)), storedAt);
}

export interface Received {
  delivery: string;
  body: { alert_id: number; account_id: string; sequence: number; kind: string };
}

export interface Receiver {
  url: string;
  /** 'up': answers 204 after `delayMs`; 'down': answers 503 */
  mode: 'up' | 'down';
  delayMs: () => number;
  /** every alert the receiver took (answered 204), in arrival order */
  received: Received[];
  requests: number;
  inFlight: number;
  close(): Promise<void>;
}

export async function startReceiver(opts: { mode?: Receiver['mode']; delayMs?: () => number } = {}): Promise<Receiver> {
  const state = { mode: opts.mode ?? 'up', delayMs: opts.delayMs ?? (() => 0), received: [] as Received[], requests: 0, inFlight: 0 } as Receiver;
  const server = http.createServer((req, res) => {
    let raw = '';
    state.requests++;
    req.on('data', (c) => { raw += c; });
    req.on('end', () => {
      if (state.mode === 'down') {
        res.writeHead(503).end();
        return;
      }
      state.inFlight++;
      state.received.push({ delivery: String(req.headers['x-churn-delivery']), body: JSON.parse(raw) });
      setTimeout(() => {
        state.inFlight--;
        res.writeHead(204).end();
      }, state.delayMs());
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
  state.close = () => new Promise<void>((r) => {
    server.closeAllConnections();
    server.close(() => r());
  });
  return state;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
