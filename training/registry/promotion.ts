/**
 * The one promotion rule, for every way an alias moves to a version: `churn models promote`,
 * `PUT /v1/models/:version/aliases/:alias` and training's automatic promotion.
 */
import type { Pool } from '../../core/db.ts';
import { ChurnError, isChurnError } from '../../core/errors.ts';
import { setAlias } from './aliases.ts';
import { metricValue } from './metrics.ts';
import { AliasName, getModel } from './store.ts';
import type { ModelVersion, PromotionResult } from './types.ts';

export interface PromoteRequest {
  /** the version to promote (number, `v7`, or an alias naming it) */
  ref: string | number;
  alias: string;
  actor: string;
  /** the version of the database's feature catalogue: only a version trained on it can score its accounts */
  catalogVersion: string;
  /** move even when the rule says no; needs a `reason`, recorded in the alias history */
  force?: boolean;
  reason?: string | null;
  /**
   * both models' scores on the same rows, when the caller computed them (training does, on its
   * held-out rows): `holderVersion` is the version the caller scored as the alias's holder (null: the
   * alias was free); if the alias has moved since, nothing moves (decision `conflict`)
   */
  sameRows?: { metric: string; candidate: number; holder: number | null; holderVersion: number | null };
}

const fmt = (x: number) => x.toFixed(4);

/** The candidate's and the holder's stored AUC on the same rows (test when both have it, else validation), when they were evaluated on the same data. */
function storedComparison(target: ModelVersion, holder: ModelVersion): { metric: string; candidate: number; holder: number } | null {
  if (target.dataFingerprint !== holder.dataFingerprint || target.dataFingerprint === 'unknown') return null;
  for (const split of ['test', 'validation']) {
    const a = metricValue(target.metrics, 'auc', split);
    const b = metricValue(holder.metrics, 'auc', split);
    if (a !== null && b !== null) return { metric: `${split} AUC`, candidate: a, holder: b };
  }
  return null;
}

/** The version's stored held-out AUC (test, else validation), or null when it has none. */
function heldOutAuc(m: ModelVersion): { metric: string; value: number } | null {
  for (const split of ['test', 'validation']) {
    const value = metricValue(m.metrics, 'auc', split);
    if (value !== null) return { metric: `${split} AUC`, value };
  }
  return null;
}

const trainedOn = (m: ModelVersion) => (m.featureSetVersion ? `feature set ${m.featureSetVersion}` : `a prepared table (${m.dataSource})`);

/**
 * Decides and applies a promotion. Without `force`:
 * - a version not trained on the current feature catalogue is refused (CHURN_ERR_FEATURE_MISMATCH):
 *   it cannot score the database's accounts (a model of other data would score every account alike);
 * - a version that ranks held-out accounts no better than chance (stored test, else validation, AUC
 *   at most 0.5; a model whose calibration flattened it scores exactly 0.5) is not promoted, even to
 *   a free alias (decision `not_better`): it would tier every account alike;
 * - a version worse than the alias's current holder on the same rows is not promoted (decision
 *   `not_better`); rows are the same when the caller scored both (`sameRows`) or when both were
 *   evaluated on the same training data (same data fingerprint: their stored test, else validation,
 *   AUC); when neither holds, nothing can say it is not worse and it is refused
 *   (CHURN_ERR_NOT_COMPARABLE);
 * - a holder that no longer matches the catalogue is replaced without a comparison;
 * - a caller that compared the candidate with a holder (`sameRows`, as training does) moves nothing when
 *   the alias has moved since (decision `conflict`): the comparison was with another version.
 * `force` (with a reason) overrides all of it, and the alias history records who and why.
 */
export async function promote(pool: Pool, req: PromoteRequest): Promise<PromotionResult> {
  const alias = AliasName.safeParse(req.alias);
  if (!alias.success) throw new ChurnError('CHURN_ERR_VALIDATION', `alias: ${alias.error.issues[0]?.message}`);
  const reasonGiven = req.reason?.trim() || null;
  if (req.force && !reasonGiven) throw new ChurnError('CHURN_ERR_VALIDATION', 'forcing a promotion needs a reason (--reason TEXT, or "reason" in the request body); it is recorded in the alias history');
  const target = await getModel(pool, req.ref);
  const holder = await getModel(pool, req.alias).catch((err: unknown) => {
    if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND') return null;
    throw err;
  });
  const base = { fromVersion: holder?.version ?? null, toVersion: target.version };
  if (holder?.version === target.version) return { ...base, promoted: true, decision: 'already', reason: `'${req.alias}' already points at version ${target.version}` };
  let decision: PromotionResult['decision'];
  let note: string;
  if (req.force) {
    decision = 'forced';
    note = `forced by ${req.actor}: ${reasonGiven}`;
  } else {
    if (target.featureSetVersion !== req.catalogVersion) {
      throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `version ${target.version} was trained on ${trainedOn(target)}, not on this database's feature catalogue (${req.catalogVersion}), so it cannot score its accounts; '${req.alias}' stays ${holder ? `on version ${holder.version}` : 'unset'} (force it with a reason to override)`);
    }
    if (req.sameRows && req.sameRows.holderVersion !== (holder?.version ?? null)) {
      const was = (v: number | null) => (v === null ? 'unset' : `version ${v}`);
      return { ...base, promoted: false, decision: 'conflict', reason: `'${req.alias}' moved from ${was(req.sameRows.holderVersion)} to ${was(holder?.version ?? null)} after the candidate was compared with it; nothing moved (compare again, or promote it by hand)` };
    }
    const ranking = heldOutAuc(target);
    if (ranking && ranking.value <= 0.5) {
      return { ...base, promoted: false, decision: 'not_better', reason: `no better than chance: ${ranking.metric} ${fmt(ranking.value)}, so every account would score alike; '${req.alias}' stays ${holder ? `on version ${holder.version}` : 'unset'}` };
    }
    if (!holder) {
      decision = 'no_champion';
      note = `'${req.alias}' was free`;
    } else if (holder.featureSetVersion !== req.catalogVersion) {
      decision = 'promoted';
      note = `version ${holder.version} was trained on ${trainedOn(holder)}, which no longer matches the feature catalogue`;
    } else {
      const cmp = req.sameRows?.holder != null ? { ...req.sameRows, holder: req.sameRows.holder } : storedComparison(target, holder);
      if (!cmp) {
        throw new ChurnError('CHURN_ERR_NOT_COMPARABLE', `versions ${target.version} and ${holder.version} were evaluated on different rows, so nothing says ${target.version} is not worse; '${req.alias}' stays on version ${holder.version} (retrain both on the same data, or force it with a reason)`);
      }
      const versus = `${cmp.metric} ${fmt(cmp.candidate)} vs ${fmt(cmp.holder)} for version ${holder.version} on the same rows`;
      if (cmp.candidate < cmp.holder) return { ...base, promoted: false, decision: 'not_better', reason: `worse: ${versus}; '${req.alias}' stays on version ${holder.version}` };
      decision = 'promoted';
      note = `not worse: ${versus}`;
    }
  }
  const reason = [reasonGiven && !req.force ? reasonGiven : null, note].filter(Boolean).join('; ');
  try {
    const moved = await setAlias(pool, { alias: req.alias, version: target.version, actor: req.actor, reason, expectedFrom: req.force ? undefined : holder?.version ?? null });
    return { promoted: true, decision: moved.moved ? decision : 'already', reason, fromVersion: moved.fromVersion, toVersion: target.version };
  } catch (err) {
    if (isChurnError(err) && err.code === 'CHURN_ERR_ALIAS_CONFLICT') return { ...base, promoted: false, decision: 'conflict', reason: `${err.message}; nothing moved (try again)` };
    throw err;
  }
}

/** `promote` for a person (CLI, API): a promotion that did not happen is an error saying why. */
export async function promoteOrExplain(pool: Pool, req: PromoteRequest): Promise<PromotionResult> {
  const r = await promote(pool, req);
  if (r.decision === 'not_better') throw new ChurnError('CHURN_ERR_NOT_BETTER', `version ${r.toVersion} is ${r.reason} (force it with a reason to move it anyway)`);
  if (r.decision === 'conflict') throw new ChurnError('CHURN_ERR_ALIAS_CONFLICT', r.reason);
  return r;
}
