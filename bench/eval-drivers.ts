/**
 * `npm run eval:drivers [-- --model champion] [--days-before 14] [--min-history-days 90] [--top-features]`
 *
 * On a synthetic world (DATABASE_URL; `churn generate`, then `churn train`), do the explanations name
 * the real cause of churn? Scores every churned account whose true driver is known (not `unexplained`)
 * as of `--days-before` days before its churn with the model (`--model`, a version or alias, default
 * the champion), takes the family of its top risk-raising driver, and compares it with the family the
 * true driver shows in (see training/driver-agreement.ts for the mapping). Prints the confusion table
 * (true driver x explained family), the shares matched at the top and within the top 3, overall and
 * per driver, the same for the family rule (the family whose contributions sum to the largest risk),
 * and ends with ONE JSON line of the figures.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { reportError } from '../cli/context.ts';
import { loadConfig } from '../core/config.ts';
import { createPool } from '../core/db.ts';
import { ChurnError, describeIssues, isChurnError } from '../core/errors.ts';
import { createProgress } from '../core/progress.ts';
import { familiesOf, loadCatalog } from '../features/catalog.ts';
import { DRIVER_FAMILIES, formatConfusion, measureDriverAgreement, summarizeAgreement } from '../training/driver-agreement.ts';
import { loadModel } from '../training/registry/index.ts';
import { createScorer } from '../training/scorer.ts';

const Options = z.object({
  model: z.string().trim().min(1).default('champion'),
  'days-before': z.coerce.number().int().min(0).max(365).default(14),
  'min-history-days': z.coerce.number().int().min(0).max(3650).default(90),
  'top-features': z.boolean().default(false),
});

const USAGE = `Usage: npm run eval:drivers -- [options]   (DATABASE_URL: a synthetic world with a trained model)

Scores every churned account whose true driver is known, some days before its churn, and measures how
often the family of its top explained driver matches the true driver. Last line: one JSON object.

Options:
  --model <version|alias>    model to explain (default: champion)
  --days-before <n>          score each account this many days before its churn (default: 14)
  --min-history-days <n>     skip accounts scored within the first n days of the data (default: 90)
  --top-features             also list the most frequent top features per true driver
  -h, --help                 show this help`;

async function main(): Promise<void> {
  let values: Record<string, unknown>;
  try {
    ({ values } = parseArgs({
      options: {
        model: { type: 'string' },
        'days-before': { type: 'string' },
        'min-history-days': { type: 'string' },
        'top-features': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    throw new ChurnError('CHURN_ERR_VALIDATION', (err as Error).message.split('\n')[0]);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  delete values.help;
  const parsed = Options.safeParse(values);
  if (!parsed.success) throw new ChurnError('CHURN_ERR_VALIDATION', describeIssues(parsed.error.issues));
  const o = parsed.data;
  const config = loadConfig();
  if (!config.DATABASE_URL) throw new ChurnError('CHURN_ERR_CONFIG', 'set DATABASE_URL to the database of a synthetic world (churn generate, then churn train)');
  const pool = createPool(config.DATABASE_URL, { applicationName: 'churn eval:drivers' });
  try {
    const catalog = loadCatalog();
    const model = await loadModel(pool, o.model).catch((err: unknown) => {
      if (isChurnError(err) && err.code === 'CHURN_ERR_MODEL_NOT_FOUND' && o.model === 'champion') {
        throw new ChurnError('CHURN_ERR_NO_CHAMPION', 'this database has no champion model: train one first (`churn train`) or pass --model VERSION');
      }
      throw err;
    });
    if (model.meta.featureSetVersion !== catalog.version) {
      throw new ChurnError('CHURN_ERR_FEATURE_MISMATCH', `model version ${model.meta.version} was trained on feature set ${model.meta.featureSetVersion ?? '(a prepared table)'}; this checkout computes ${catalog.version}: retrain with \`churn train\``);
    }
    const scorer = createScorer(model.artifact);
    const validationAuc = (model.meta.metrics as { validation?: { auc?: number } } | null)?.validation?.auc ?? null;
    console.log(`model version ${model.meta.version} (${model.meta.modelType}), validation AUC ${validationAuc?.toFixed(4) ?? 'n/a'}; scoring churners ${o['days-before']} days before their churn`);
    const measured = await measureDriverAgreement(pool, catalog, scorer, {
      daysBefore: o['days-before'], minHistoryDays: o['min-history-days'], progress: createProgress('scoring churners'),
    });
    if (!measured.accounts.length) throw new ChurnError('CHURN_ERR_NOT_ENOUGH_DATA', `no churned account could be scored ${o['days-before']} days before its churn with ${o['min-history-days']} days of history`);
    const s = summarizeAgreement(measured.accounts);
    const { tooEarly, tooYoung, noFeatures } = measured.skipped;
    console.log(`${s.overall.accounts} churned accounts with a known driver (skipped: ${tooEarly} scored within the first ${o['min-history-days']} days of data, ${tooYoung} younger than the scoring date, ${noFeatures} without features)`);
    console.log(`matching families: ${Object.entries(DRIVER_FAMILIES).map(([d, f]) => `${d} -> ${f.join(' or ')}`).join('; ')}`);
    const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
    console.log('');
    console.log('feature rule: the family of the top risk-raising feature');
    for (const line of formatConfusion(s, familiesOf(catalog), 'feature')) console.log(line);
    console.log('');
    console.log('family rule: the family whose contributions sum to the largest risk');
    for (const line of formatConfusion(s, familiesOf(catalog), 'family')) console.log(line);
    console.log('');
    console.log(`the top risk driver's family matches the true driver for ${pct(s.overall.top1)} of the accounts (within the top 3: ${pct(s.overall.top3)}); the top risk family for ${pct(s.overall.by_family_sum)}`);
    if (o['top-features']) {
      console.log('');
      console.log('most frequent top risk driver per true driver:');
      for (const [d, feats] of Object.entries(s.topFeatures)) console.log(`  ${d.padEnd(18)} ${Object.entries(feats).map(([f, n]) => `${f} ${n}`).join(', ')}`);
    }
    const round = (x: number) => Math.round(x * 10_000) / 10_000;
    const perDriver = Object.fromEntries(Object.entries(s.perDriver).map(([d, r]) => [d, { n: r.accounts, top1: round(r.top1), top3: round(r.top3), family_rule: round(r.by_family_sum) }]));
    console.log(JSON.stringify({
      model_version: model.meta.version, model_type: model.meta.modelType, validation_auc: validationAuc, days_before: o['days-before'],
      accounts: s.overall.accounts, skipped: measured.skipped, top1_share: round(s.overall.top1), top3_share: round(s.overall.top3),
      family_rule_share: round(s.overall.by_family_sum), per_driver: perDriver, confusion: s.confusion, confusion_family_rule: s.confusionByFamily,
    }));
  } finally {
    await pool.end();
  }
}

main().catch(reportError);
