import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_SERVING_CONFIG } from '../scoring/config.ts';
import { healthScore, tierOf } from '../scoring/health.ts';
import { baseRateOf } from '../training/artifact.ts';
import { createScorer } from '../training/scorer.ts';
import { writePreparedCsv } from '../training/export.ts';
import { getModel, listModels } from '../training/registry/index.ts';
import { syntheticTable } from '../training/synthetic.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

interface Run { code: number; stdout: string; stderr: string }

function churn(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile('node', ['bin/churn.js', ...args], { env: { ...process.env, CHURN_TF_BACKEND: 'cpu', CHURN_LOG_LEVEL: 'error', ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

let dir: string;
let db: TestDatabase;
let csv: string;
const ROWS = 400;

beforeAll(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-train-cli-'));
  csv = path.join(dir, 'prepared.csv');
  await writePreparedCsv(syntheticTable({ rows: ROWS, numeric: 4, text: 2, seed: 21 }), csv);
  db = await createTestDatabase();
});

afterAll(async () => {
  await db?.drop();
  await fs.rm(dir, { recursive: true, force: true });
});

describe('churn train --from-csv and churn predict', () => {
  it('trains gradient-boosted trees when asked (--models gbdt), and names the model types it takes on a wrong one', async () => {
    const artifact = path.join(dir, 'gbdt.json');
    const t = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'gbdt', '--no-register', '--save-artifact', artifact, '--seed', '3']);
    expect(t.stderr).not.toMatch(/CHURN_ERR/);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/trained gbdt on \d+ rows \(5-fold cross-fitted, then refit;/);
    expect(JSON.parse(await fs.readFile(artifact, 'utf8')).model_type).toBe('gbdt');
    const kept = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'gbdt', '--no-register', '--no-refit', '--seed', '3']);
    expect(kept.code).toBe(0);
    expect(kept.stdout).toMatch(/5-fold cross-fitted, final fit on the \d+ train rows;/);
    const bad = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'logistic,forest', '--no-register']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/--models takes a comma-separated list of logistic, gbdt, mlp, got "logistic,forest"/);
  });

  it('trains without the registry, saves the artifact, and predict writes the five columns for every row', async () => {
    const artifact = path.join(dir, 'model.json');
    const out = path.join(dir, 'scores.csv');
    const t = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'logistic', '--no-register', '--save-artifact', artifact, '--seed', '3']);
    expect(t.stderr).not.toMatch(/CHURN_ERR/);
    expect(t.code).toBe(0);
    expect(t.stdout).toMatch(/trained logistic on \d+ rows/);
    expect(t.stdout).toMatch(/test +n=\d+ +AUC 0\.\d{3}/);
    const p = await churn(['predict', '--from-csv', csv, '--out', out, '--artifact', artifact]);
    expect(p.code).toBe(0);
    const lines = (await fs.readFile(out, 'utf8')).trim().split('\n');
    const baseRate = baseRateOf(JSON.parse(await fs.readFile(artifact, 'utf8')));
    expect(lines[0]).toBe('id,churn_probability,health_score,tier,top_drivers');
    expect(lines.length).toBe(ROWS + 1);
    const ids = new Set<string>();
    for (const line of lines.slice(1)) {
      const [id, prob, health, tier, drivers] = line.split(',');
      ids.add(id);
      expect(Number(prob)).toBeGreaterThan(0);
      expect(Number(prob)).toBeLessThan(1);
      // the API's health mapping and tiers (default serving configuration)
      expect(Number(health)).toBe(healthScore(Number(prob), DEFAULT_SERVING_CONFIG.health, baseRate));
      expect(tier).toBe(tierOf(Number(health), DEFAULT_SERVING_CONFIG.tiers).tier.name);
      expect(drivers).toMatch(/^([a-z_0-9]+:[+-]\d+\.\d{2};){2}[a-z_0-9]+:[+-]\d+\.\d{2}$/);
    }
    expect(ids.size).toBe(ROWS);
  });

  it('refuses a CSV that lacks a feature column the model needs, and writes nothing', async () => {
    const artifact = path.join(dir, 'model.json');
    const text = await fs.readFile(csv, 'utf8');
    const header = text.split('\n')[0].split(',');
    const drop = header.indexOf('metric_1');
    const cut = text.trim().split('\n').map((l) => l.split(',').filter((_, j) => j !== drop).join(',')).join('\n');
    const bad = path.join(dir, 'missing-col.csv');
    await fs.writeFile(bad, cut);
    const out = path.join(dir, 'never.csv');
    const p = await churn(['predict', '--from-csv', bad, '--out', out, '--artifact', artifact]);
    expect(p.code).not.toBe(0);
    expect(p.stderr).toMatch(/^CHURN_ERR_BAD_FILE: .*missing 1 feature column\(s\) the model needs: metric_1$/m);
    await expect(fs.stat(out)).rejects.toThrow();
    // a misspelt column is named beside the feature it may be, and an id column under another name gets the option that takes it
    const renamed = path.join(dir, 'renamed-cols.csv');
    const [head, ...rest] = text.split('\n');
    await fs.writeFile(renamed, [head.replace(/(^|,)id(,|$)/, '$1account_id$2').replace(/(^|,)metric_1(,|$)/, '$1metrc_1$2'), ...rest].join('\n'));
    const noId = await churn(['predict', '--from-csv', renamed, '--out', out, '--artifact', artifact]);
    expect(noId.code).toBe(1);
    expect(noId.stderr).toMatch(/^CHURN_ERR_BAD_FILE: .*no id column "id"; to take the ids from "account_id", add --id-col account_id \(columns: /m);
    const typo = await churn(['predict', '--from-csv', renamed, '--out', out, '--artifact', artifact, '--id-col', 'account_id']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^CHURN_ERR_BAD_FILE: .*missing 1 feature column\(s\) the model needs: metric_1 \(the file has "metrc_1"\)$/m);
    await expect(fs.stat(out)).rejects.toThrow();
  });

  it('refuses an --out that is a directory or the input file, leaving no temporary file and the input as it was', async () => {
    const artifact = path.join(dir, 'model.json');
    const folder = await fs.mkdtemp(path.join(dir, 'out-folder-'));
    const intoFolder = await churn(['predict', '--from-csv', csv, '--out', folder, '--artifact', artifact]);
    expect([intoFolder.code, intoFolder.stderr.trim()]).toEqual([1, `CHURN_ERR_IO: --out ${folder} is a directory; name a file to write`]);
    expect((await fs.readdir(dir)).filter((f) => f.includes('.tmp-'))).toEqual([]);
    const input = await fs.readFile(csv, 'utf8');
    const overInput = await churn(['predict', '--from-csv', csv, '--out', path.relative(process.cwd(), csv), '--artifact', artifact]);
    expect([overInput.code, overInput.stderr.trim()]).toEqual([1, `CHURN_ERR_VALIDATION: --out is the input file (--from-csv ${csv}); name another file to write`]);
    expect(await fs.readFile(csv, 'utf8')).toBe(input);
  });

  it('takes --top all, as the API takes ?top=all: every feature in top_drivers', async () => {
    const artifact = path.join(dir, 'model.json');
    const out = path.join(dir, 'all-drivers.csv');
    const p = await churn(['predict', '--from-csv', csv, '--out', out, '--artifact', artifact, '--top', 'all']);
    expect(p.stderr).toBe('');
    expect(p.code).toBe(0);
    const features = (JSON.parse(await fs.readFile(artifact, 'utf8')) as { feature_names: string[] }).feature_names;
    const [, first] = (await fs.readFile(out, 'utf8')).trim().split('\n');
    expect(first.split(',')[4].split(';').map((d) => d.split(':')[0]).sort()).toEqual([...features].sort());
    const bad = await churn(['predict', '--from-csv', csv, '--out', out, '--artifact', artifact, '--top', 'most']);
    expect([bad.code, bad.stderr.trim()]).toEqual([1, 'CHURN_ERR_VALIDATION: top: expected a whole number of drivers, 1-1000, or all']);
  });

  it('rejects a missing label column with one clear line', async () => {
    const t = await churn(['train', '--from-csv', csv, '--label', 'left', '--no-register']);
    expect(t.code).not.toBe(0);
    expect(t.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: .*no label column "left"/);
  });

  it('rejects a mistyped --split-col or --id-col with one line naming the near match, instead of training on the test rows', async () => {
    const split = await churn(['train', '--from-csv', csv, '--label', 'churned', '--split-col', 'Split', '--no-register']);
    expect(split.code).toBe(1);
    expect(split.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: [^\n]*no split column "Split"; did you mean "split"\? \(columns: id, churned, .*, split\)$/);
    const id = await churn(['train', '--from-csv', csv, '--label', 'churned', '--id-col', 'ids', '--no-register']);
    expect(id.code).toBe(1);
    expect(id.stderr.trim()).toMatch(/^CHURN_ERR_BAD_FILE: [^\n]*no id column "ids"; did you mean "id"\?/);
  });

  it('says why a prepared table gives no test figures and how to get them: test rows of one class, or no test rows', async () => {
    const text = (await fs.readFile(csv, 'utf8')).trim().split('\n');
    const retainedTest = path.join(dir, 'retained-test.csv');
    await fs.writeFile(retainedTest, text.map((l, i) => (i > 0 && l.endsWith(',test') ? l.replace(/^([^,]+),[01],/, '$1,0,') : l)).join('\n'));
    const one = await churn(['train', '--from-csv', retainedTest, '--label', 'churned', '--models', 'logistic', '--no-register', '--seed', '3']);
    expect(one.code).toBe(0);
    const tests = text.filter((l) => l.endsWith(',test')).length;
    expect(one.stdout).toContain(`  held out none: the ${tests} test rows are all retained (no churner), so there are no test figures (an AUC needs both classes); the validation figures are on the rows used for early stopping, the cv figures out of fold over the rows the model was fitted on (where it was chosen and calibrated); mark rows of both classes (churned and retained) \`test\` in the split column "split"`);
    const noSplit = path.join(dir, 'no-split.csv');
    await fs.writeFile(noSplit, text.map((l) => l.replace(/,[^,]*$/, '')).join('\n'));
    const none = await churn(['train', '--from-csv', noSplit, '--label', 'churned', '--models', 'logistic', '--no-register', '--seed', '3']);
    expect(none.code).toBe(0);
    expect(none.stdout).toContain('  held out none: no test rows, so there are no test figures; the validation figures are on the rows used for early stopping, the cv figures out of fold over the rows the model was fitted on (where it was chosen and calibrated); add a column "split" that marks rows of both classes (churned and retained) `test`');
    expect(`${one.stdout}${none.stdout}`).not.toContain('--test-dates');
  });

  it('registers a version that a prepared table cannot make champion, predicts with --model, and a failed run leaves the registry as it was', async () => {
    const env = { DATABASE_URL: db.url };
    const t = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'logistic', '--seed', '3'], env);
    expect(t.stderr).not.toMatch(/CHURN_ERR/);
    expect(t.code).toBe(0);
    const version = Number(/^version (\d+)$/m.exec(t.stdout)?.[1]);
    expect(version).toBeGreaterThan(0);
    // a model of a prepared table cannot score the database's accounts: registered, not champion, and the summary says why
    expect(t.stdout).toMatch(/champion: not_comparable \(version \d+ was trained on a prepared table \(csv:prepared\.csv\), not on this database's feature catalogue/);
    await expect(getModel(db.pool, 'champion')).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });

    const out = path.join(dir, 'champion-scores.csv');
    const p = await churn(['predict', '--from-csv', csv, '--out', out, '--model', String(version)], env);
    expect(p.code).toBe(0);
    expect((await fs.readFile(out, 'utf8')).trim().split('\n').length).toBe(ROWS + 1);

    // every train row churned: training cannot run; the failure is recorded, the champion stays
    const oneClass = (await fs.readFile(csv, 'utf8')).trim().split('\n').map((l, i) => (i === 0 ? l : l.replace(/^([^,]+),[01],/, '$1,1,'))).join('\n');
    const bad = path.join(dir, 'one-class.csv');
    await fs.writeFile(bad, oneClass);
    const f = await churn(['train', '--from-csv', bad, '--label', 'churned', '--models', 'logistic'], env);
    expect(f.code).not.toBe(0);
    expect(f.stderr).toMatch(/^CHURN_ERR_NOT_ENOUGH_DATA: /m);
    await expect(getModel(db.pool, 'champion')).rejects.toMatchObject({ code: 'CHURN_ERR_MODEL_NOT_FOUND' });
    const all = await listModels(db.pool, { includeFailed: true });
    expect(all.some((m) => m.status === 'failed')).toBe(true);
  });

  it('records, lists and shows the validation rows\' AUC as the validation AUC, and the cross-validated one as cv', async () => {
    const env = { DATABASE_URL: db.url };
    const t = await churn(['train', '--from-csv', csv, '--label', 'churned', '--models', 'logistic', '--seed', '5'], env);
    expect(t.code).toBe(0);
    const version = Number(/^version (\d+)$/m.exec(t.stdout)?.[1]);
    const m = await getModel(db.pool, version);
    const metrics = m.metrics as { validation: { auc: number; n: number }; cv: { auc: number; n: number }; candidates: { modelType: string; validAuc: number; cvAuc: number }[] };
    const chosen = metrics.candidates.find((c) => c.modelType === 'logistic')!;
    const trainRows = (await fs.readFile(csv, 'utf8')).trim().split('\n').filter((l) => l.endsWith(',train')).length;
    // the carved validation rows (a fifth of the train rows), and out of fold over all of them
    expect(Math.abs(metrics.validation.n - trainRows * 0.2)).toBeLessThanOrEqual(1); // rounded per class
    expect(metrics.validation.auc).toBeCloseTo(chosen.validAuc, 9);
    expect(metrics.cv.n).toBe(trainRows);
    expect(metrics.cv.auc).toBeCloseTo(chosen.cvAuc, 9);
    expect(metrics.cv.auc).not.toBeCloseTo(metrics.validation.auc, 4);
    expect(t.stdout).toMatch(new RegExp(`^  validation n=${metrics.validation.n} +AUC ${metrics.validation.auc.toFixed(3)} `, 'm'));
    expect(t.stdout).toMatch(new RegExp(`^  cv \\(oof\\) +n=${trainRows} +AUC ${metrics.cv.auc.toFixed(3)} `, 'm'));
    const list = await churn(['models', 'list'], env);
    expect(list.stdout).toMatch(new RegExp(`^${version} +logistic +\\S+ \\S+ +${metrics.validation.auc.toFixed(4)} `, 'm'));
    const show = await churn(['models', 'show', String(version), '--json'], env);
    expect(JSON.parse(show.stdout).metricsSummary['validation.auc']).toBeCloseTo(chosen.validAuc, 9);
  });

  it('warns about a column that copies the label, in the summary and in the registry, where models show prints it', async () => {
    const env = { DATABASE_URL: db.url };
    const lines = (await fs.readFile(csv, 'utf8')).trim().split('\n');
    const leaky = path.join(dir, 'leaky.csv');
    await fs.writeFile(leaky, lines.map((l, i) => `${l},${i === 0 ? 'leak' : l.split(',')[1]}`).join('\n'));
    const t = await churn(['train', '--from-csv', leaky, '--label', 'churned', '--models', 'logistic', '--seed', '3'], env);
    expect(t.code).toBe(0);
    const warning = 'leak? `leak` alone ranks the label with AUC 1.000 on the training rows: a column that is known only after the outcome makes a model that cannot work on new accounts';
    expect(t.stdout).toContain(`\n  warning   ${warning}\n`);
    const version = Number(/^version (\d+)$/m.exec(t.stdout)?.[1]);
    expect((await getModel(db.pool, version)).params).toMatchObject({ warnings: [warning], leaks: [{ feature: 'leak', auc: 1 }] });
    const show = await churn(['models', 'show', String(version)], env);
    expect(show.stdout).toContain(`\nwarning    ${warning}\n`);
  });

  it('keeps to the feature catalogue\'s declarations for columns named as its features (a `churn dataset export` file), unless --no-declarations', async () => {
    // days_late_max_180d is declared: risk increasing, a missing value (no invoice due) the lowest.
    // Here paying later goes with churning less, and no invoice due with churning more, against the
    // declarations: left free, a model learns both. x_other carries the signal a model ranks by.
    let state = 7;
    const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
    const lines = ['id,churned,days_late_max_180d,x_other,split'];
    for (let i = 0; i < 800; i++) {
      const late = rand() < 0.15 ? null : Math.floor(rand() * 91);
      const other = Math.round(rand() * 100) / 10;
      const p = 1 / (1 + Math.exp(-(-1.5 + 0.6 * (other - 5) + (late === null ? 1 : (-1.5 * late) / 90))));
      const split = i % 5 === 3 ? 'valid' : i % 5 === 4 ? 'test' : 'train';
      lines.push(`a${i},${rand() < p ? 1 : 0},${late ?? ''},${other},${split}`);
    }
    const file = path.join(dir, 'declared.csv');
    await fs.writeFile(file, `${lines.join('\n')}\n`);
    const trainOn = async (models: string, extra: string[] = []) => {
      const artifact = path.join(dir, `declared-${models}${extra.length ? '-free' : ''}.json`);
      const t = await churn(['train', '--from-csv', file, '--label', 'churned', '--models', models, '--no-register', '--save-artifact', artifact, '--seed', '3', ...extra]);
      expect(t.stderr).not.toMatch(/CHURN_ERR/);
      expect(t.code).toBe(0);
      const doc = JSON.parse(await fs.readFile(artifact, 'utf8'));
      const scorer = createScorer(doc);
      const late = (days: number | null) => scorer.score({ days_late_max_180d: days, x_other: 5 });
      return { t, doc, late };
    };

    const declared = await trainOn('logistic');
    expect(declared.doc.calibration.a).toBeGreaterThan(0);
    expect(declared.t.stderr).toContain('feature catalogue: 1 of 2 columns are its features; their declarations apply (1 risk directions, 1 meanings of a missing value');
    expect(declared.t.stderr).toMatch(/\(1 with a declared risk direction, 1 with a declared meaning of a missing value\)/);
    const contract = declared.doc.input_contract.features.find((f: { name: string }) => f.name === 'days_late_max_180d');
    expect(contract).toMatchObject({ risk: 'increasing', missing_as: 'lowest' });
    expect(declared.late(90).probability).toBeGreaterThanOrEqual(declared.late(0).probability);
    const lateContribution = declared.late(90).contributions[declared.doc.feature_names.indexOf('days_late_max_180d')];
    expect(lateContribution).toBeGreaterThanOrEqual(0);
    // no invoice due reads as the lowest lateness: never riskier than paying on time
    expect(declared.late(null).probability).toBeLessThanOrEqual(declared.late(0).probability + 1e-12);

    const free = await trainOn('logistic', ['--no-declarations']);
    expect(free.t.stderr).not.toContain('feature catalogue:');
    expect(free.doc.input_contract.features.find((f: { name: string }) => f.name === 'days_late_max_180d').risk).toBeUndefined();
    expect(free.late(90).probability).toBeLessThan(free.late(0).probability);
    expect(free.late(null).probability).toBeGreaterThan(free.late(0).probability);

    const trees = await trainOn('gbdt');
    expect(trees.late(90).probability).toBeGreaterThanOrEqual(trees.late(0).probability);
    expect(trees.late(null).probability).toBeLessThanOrEqual(trees.late(0).probability + 1e-12);

    const misplaced = await churn(['train', '--no-declarations'], { DATABASE_URL: db.url });
    expect(misplaced.code).not.toBe(0);
    expect(misplaced.stderr).toContain('--no-declarations applies to --from-csv only');
  });
});
