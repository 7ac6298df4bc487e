import { execFile } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../features/catalog.ts';
import { scoringModel } from '../scoring/model.ts';
import { importXgboostModel } from '../training/import-xgboost.ts';
import { getModel, loadModel } from '../training/registry/index.ts';
import { createTestDatabase, type TestDatabase } from './helpers/db.ts';

const FIXTURE = path.resolve('tests/fixtures/xgboost');
interface Expected { feature_names: string[]; categories: Record<string, string[]>; rows: (number | string | null)[][]; margin: number[]; contribs: number[][] }

describe('an XGBoost model brought from Python', () => {
  let db: TestDatabase;
  let expected: Expected;
  let text: string;
  beforeAll(async () => {
    db = await createTestDatabase();
    expected = JSON.parse(await fs.readFile(path.join(FIXTURE, 'expected.json'), 'utf8'));
    text = await fs.readFile(path.join(FIXTURE, 'model.json'), 'utf8');
  });
  afterAll(async () => db?.drop());

  it('registers as a version whose scores and explanations are XGBoost\'s own (margin and pred_contribs within 1e-5)', async () => {
    const catalog = loadCatalog();
    const v = await importXgboostModel(db.pool, { file: 'model.json', text, featureNames: expected.feature_names, categories: expected.categories }, catalog);
    expect(v).toMatchObject({ modelType: 'gbdt', featureSetVersion: null, dataSource: 'xgboost:model.json', aliases: [] });
    const { artifact } = await loadModel(db.pool, v.version);
    const model = scoringModel(artifact, { version: v.version, catalog });
    expect(model.featureNames).toEqual(expected.feature_names);
    expect(model.contract.features.find((f) => f.type === 'categorical')?.categories).toEqual([...Object.values(expected.categories)[0]].sort());
    const d = expected.feature_names.length;
    expected.rows.forEach((values, i) => {
      const s = model.score(Object.fromEntries(expected.feature_names.map((n, j) => [n, values[j]])));
      expect(Math.abs(s.logit - expected.margin[i])).toBeLessThan(1e-5);
      for (let j = 0; j < d; j++) expect(Math.abs(s.contributions[j] - expected.contribs[i][j]), `row ${i} feature ${j}`).toBeLessThan(1e-5);
      expect(Math.abs(s.baseValue - expected.contribs[i][d])).toBeLessThan(1e-5); // XGBoost's bias column
    });
  });

  it('imports through `churn models import --xgboost` and predicts with it; a broken file is refused in one line', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'churn-xgb-'));
    const run = (args: string[]) => new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [path.resolve('bin/churn.js'), ...args], { env: { ...process.env, DATABASE_URL: db.url, CHURN_LOG_LEVEL: 'error' }, timeout: 120_000 }, (err, stdout, stderr) => {
        resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
    try {
      await fs.writeFile(path.join(dir, 'categories.json'), JSON.stringify(expected.categories));
      const imported = await run(['models', 'import', '--xgboost', path.join(FIXTURE, 'model.json'), '--feature-names', expected.feature_names.join(','), '--categories', path.join(dir, 'categories.json')]);
      expect(imported.stderr).toBe('');
      const version = Number(/as version (\d+)/.exec(imported.stdout)?.[1]);
      expect((await getModel(db.pool, version)).modelType).toBe('gbdt');
      const csv = [['id', ...expected.feature_names].join(','), ...expected.rows.slice(0, 20).map((r, i) => [`r${i}`, ...r.map((v) => (v === null ? '' : String(v)))].join(','))].join('\n');
      await fs.writeFile(path.join(dir, 'rows.csv'), csv);
      const p = await run(['predict', '--from-csv', path.join(dir, 'rows.csv'), '--out', path.join(dir, 'out.csv'), '--model', String(version)]);
      expect(p.stderr).toBe('');
      const out = (await fs.readFile(path.join(dir, 'out.csv'), 'utf8')).trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
      out.forEach((prob, i) => expect(Math.abs(prob - 1 / (1 + Math.exp(-expected.margin[i])))).toBeLessThan(1e-5));
      await fs.writeFile(path.join(dir, 'broken.json'), '{"learner": 1}');
      const bad = await run(['models', 'import', '--xgboost', path.join(dir, 'broken.json')]);
      expect(bad.code).toBe(1);
      expect(bad.stderr).toMatch(/^CHURN_ERR_VALIDATION: .*not an XGBoost JSON model/m);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
