import pg from 'pg';
import type { Queryable } from '../core/db.ts';
import { isChurnError } from '../core/errors.ts';
import type { Logger } from '../core/log.ts';
import type { Catalog } from '../features/catalog.ts';
import { ALIAS_CHANNEL, loadModel, resolveVersion } from '../training/registry/index.ts';
import { scoringModel, type ScoringModel } from './model.ts';

export { ALIAS_CHANNEL };

export interface ModelSource {
  /** the version an alias points at now, or null when the alias is unset */
  resolveAlias(alias: string): Promise<number | null>;
  /** loads a version fully (artifact, scorer, references); throws when it cannot */
  load(version: number): Promise<ScoringModel>;
  /** why a loaded model cannot serve (trained on another feature catalogue), or null when it can */
  refuse?(model: ScoringModel): string | null;
}

/**
 * Holds the model serving uses (the champion by default) and swaps it when the alias moves: the new
 * version is loaded completely first, then the reference is replaced in one assignment, so requests in
 * flight finish on the model they started with and no request ever sees a half-loaded model.
 * Moves are noticed by LISTEN on `churn_model_alias` (a dedicated connection that reconnects) and by a
 * periodic check, which also covers a missed notification or a database that was away.
 */
export class ModelHolder {
  private model: ScoringModel | null = null;
  /** the version the alias points at that was refused, and why (it is not loaded again until the alias moves) */
  private refused: { version: number; reason: string } | null = null;
  private refreshing: Promise<void> | null = null;
  private listener: pg.Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private closed = false;
  /** called after every swap (metrics) */
  onSwap: (m: ScoringModel) => void = () => undefined;

  constructor(private readonly source: ModelSource, private readonly log: Logger, readonly alias = 'champion') {}

  get current(): ScoringModel | null {
    return this.model;
  }

  /** Why the alias's version is not the one being served (null when it is, or the alias is unset). */
  get problem(): string | null {
    if (!this.refused) return null;
    return `version ${this.refused.version} holds '${this.alias}' but cannot serve: ${this.refused.reason}; ${this.model ? `serving version ${this.model.version} until it moves` : 'nothing is served until it moves'}`;
  }

  /** Loads the alias's version if it differs from the one held; concurrent calls share one load. */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    const version = await this.source.resolveAlias(this.alias);
    if (version === null || version === this.model?.version) {
      this.refused = null;
      return;
    }
    if (version === this.refused?.version) return;
    const next = await this.source.load(version);
    const reason = this.source.refuse?.(next) ?? null;
    if (reason) {
      this.refused = { version, reason };
      this.log.error({ alias: this.alias, version, serving: this.model?.version ?? null, reason }, 'model not loaded: it cannot serve');
      return;
    }
    this.refused = null;
    const previous = this.model?.version ?? null;
    this.model = next; // the atomic swap
    this.log.info({ alias: this.alias, from: previous, to: next.version }, 'model swapped');
    this.onSwap(next);
  }

  /** Starts the periodic check and the LISTEN connection. */
  start(opts: { databaseUrl?: string; pollMs?: number } = {}): void {
    const pollMs = opts.pollMs ?? 30_000;
    this.timer = setInterval(() => {
      this.refresh().catch((err) => this.log.warn({ err }, 'model refresh failed'));
    }, pollMs);
    this.timer.unref();
    if (opts.databaseUrl) void this.listen(opts.databaseUrl, 500);
  }

  private async listen(url: string, delayMs: number): Promise<void> {
    if (this.closed) return;
    const client = new pg.Client({ connectionString: url, application_name: 'churnlens-listener', connectionTimeoutMillis: 3000 });
    const retry = () => {
      if (this.closed || this.listener !== client) return;
      this.listener = null;
      client.end().catch(() => undefined);
      this.reconnectTimer = setTimeout(() => void this.listen(url, Math.min(delayMs * 2, 10_000)), delayMs);
      this.reconnectTimer.unref();
    };
    this.listener = client;
    client.on('error', retry);
    client.on('end', retry);
    client.on('notification', (msg) => {
      if (msg.channel !== ALIAS_CHANNEL) return;
      this.log.info({ payload: msg.payload }, 'alias moved');
      this.refresh().catch((err) => this.log.warn({ err }, 'model refresh after notification failed'));
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${ALIAS_CHANNEL}`);
      // Anything that moved while we were disconnected.
      this.refresh().catch((err) => this.log.warn({ err }, 'model refresh failed'));
    } catch {
      retry();
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    const l = this.listener;
    this.listener = null;
    await l?.end().catch(() => undefined);
  }
}

/** The model registry in PostgreSQL as the model holder's source. */
export function registryModelSource(db: Queryable, catalog: Catalog): ModelSource {
  return {
    resolveAlias: async (alias) => {
      try {
        return await resolveVersion(db, alias);
      } catch (err) {
        if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
        throw err;
      }
    },
    load: async (version) => {
      const { meta, artifact } = await loadModel(db, version);
      return scoringModel(artifact, { version: meta.version, catalog });
    },
    refuse: (model) => (model.featureSetVersion === catalog.version ? null
      : `it was trained on ${model.featureSetVersion ? `feature set ${model.featureSetVersion}` : 'a prepared table'}, not on this database's feature catalogue (${catalog.version}); \`churn train\` trains one on the catalogue and makes it champion`),
  };
}
