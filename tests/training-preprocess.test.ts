import { describe, expect, it } from 'vitest';
import { inferColumn, readCsvTable, tableFromCsv } from '../training/csv-table.ts';
import { encodeColumns, encodedSigns, encodeValue, fitPreprocessing, MISSING, RARE } from '../training/preprocess.ts';
import type { Column } from '../training/table.ts';

const num = (name: string, values: (number | null)[]): Column => ({ name, kind: 'numeric', values });
const txt = (name: string, values: (string | null)[]): Column => ({ name, kind: 'text', values });
const range = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => a + i);

describe('preprocessing', () => {
  it('is fitted on train rows only: changing a value that appears only in test rows changes nothing', () => {
    const base = Array.from({ length: 60 }, (_, i) => (i % 7) + 1);
    const cats = Array.from({ length: 60 }, (_, i) => (i % 2 ? 'a' : 'b'));
    const train = range(0, 50);
    const a = fitPreprocessing([num('x', base), txt('c', cats)], train);
    const changed = [...base];
    const changedCats: string[] = [...cats];
    for (let i = 50; i < 60; i++) { changed[i] = 1e6; changedCats[i] = 'only_in_test'; }
    const b = fitPreprocessing([num('x', changed), txt('c', changedCats)], train);
    expect(b).toEqual(a);
    const x = a.columns[0];
    const trainMean = base.slice(0, 50).reduce((s, v) => s + v, 0) / 50;
    expect(x.kind === 'numeric' && x.transform === 'none' && x.mean).toBeCloseTo(trainMean, 10);
  });

  it('puts categories seen fewer than minCount times, and unseen ones, into the rare bucket', () => {
    const values = [...Array(30).fill('common'), ...Array(12).fill('mid'), 'once', 'twice', 'twice'];
    const pre = fitPreprocessing([txt('plan', values)], range(0, values.length), { minCount: 10 });
    const spec = pre.columns[0];
    expect(spec.kind === 'text' && spec.categories).toEqual(['common', 'mid']);
    expect(pre.encodedNames).toEqual(['plan=common', 'plan=mid', `plan=${RARE}`]);
    const out = new Float64Array(3);
    encodeValue(spec, 'once', out, 0);
    expect([...out]).toEqual([0, 0, 1]);
    encodeValue(spec, 'never_seen', out, 0);
    expect([...out]).toEqual([0, 0, 1]);
    encodeValue(spec, 'mid', out, 0);
    expect([...out]).toEqual([0, 1, 0]);
  });

  it('adds missing indicators only for columns with blanks in training, and imputes the median', () => {
    const withBlanks = [1, 2, null, 4, 5, null, 7, 8, 9, 10];
    const full = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    const cats = ['a', null, 'a', 'a', 'a', 'a', 'a', 'a', 'a', 'a'];
    const pre = fitPreprocessing([num('w', withBlanks), num('f', full), txt('c', cats)], range(0, 10), { minCount: 2 });
    expect(pre.encodedNames).toEqual(['w', `w${MISSING}`, 'f', 'c=a', `c=${RARE}`, `c=${MISSING}`]);
    const w = pre.columns[0];
    if (w.kind !== 'numeric') throw new Error('expected numeric');
    expect(w.median).toBe(6); // median of 1,2,4,5,7,8,9,10
    const { x } = encodeColumns(pre, [num('w', [null]), num('f', [null]), txt('c', [null])]);
    expect(x[0]).toBeCloseTo((6 - w.mean) / w.std, 5);
    expect(x[1]).toBe(1);
    expect(x[5]).toBe(1);
    // maps every encoded input back to its raw column
    expect(pre.encodedToRaw).toEqual([0, 0, 1, 2, 2, 2]);
  });

  it('scores a blank as the lowest (or highest) training value where the catalogue declares what it stands for, its indicator held to the same side', () => {
    const values = [null, 3, 9, null, 1, 4, 12, 6, null, 2];
    const col = (missing: 'lowest' | 'highest', risk: 'increasing' | 'decreasing'): Column => ({ name: 'd', kind: 'numeric', values, missing, risk });
    for (const [missing, risk, expected, indicatorSign] of [['lowest', 'decreasing', 1, 1], ['lowest', 'increasing', 1, -1], ['highest', 'increasing', 12, 1], ['highest', 'decreasing', 12, -1]] as const) {
      // rows 0-7 train: the lowest value there is 1, the highest 12 (row 9's 2 is not a training row)
      const pre = fitPreprocessing([col(missing, risk)], range(0, 8), { hingeQuantiles: [] });
      const spec = pre.columns[0];
      if (spec.kind !== 'numeric') throw new Error('expected numeric');
      expect([spec.missingValue, spec.missingAs]).toEqual([expected, missing]);
      expect(pre.encodedNames).toEqual(['d', `d${MISSING}`]);
      const blank = new Float64Array(2);
      const at = new Float64Array(2);
      encodeValue(spec, null, blank, 0);
      encodeValue(spec, expected, at, 0);
      expect([blank[0], blank[1], at[1]]).toEqual([at[0], 1, 0]);
      // the value's weight follows the risk; the indicator's may only push a blank further the same way:
      // riskier than the riskiest value, or safer than the safest
      expect([...encodedSigns(pre)]).toEqual([risk === 'increasing' ? 1 : -1, indicatorSign]);
    }
    // undeclared: the median, and an indicator left free
    const pre = fitPreprocessing([{ name: 'd', kind: 'numeric', values, risk: 'increasing' }], range(0, 8), { hingeQuantiles: [] });
    const free = pre.columns[0];
    if (free.kind !== 'numeric') throw new Error('expected numeric');
    expect([free.missingValue, free.missingAs, free.median]).toEqual([undefined, undefined, 5]);
    expect([...encodedSigns(pre)]).toEqual([1, 0]);
  });

  it('uses asinh for skewed non-negative counts and standardises to mean 0, sd 1 on train rows', () => {
    const counts = Array.from({ length: 200 }, (_, i) => (i % 20 === 0 ? 500 : i % 5));
    const symmetric = Array.from({ length: 200 }, (_, i) => Math.sin(i));
    const pre = fitPreprocessing([num('n', counts), num('s', symmetric)], range(0, 200));
    const [n, s] = pre.columns;
    expect(n.kind === 'numeric' && n.transform).toBe('asinh');
    expect(s.kind === 'numeric' && s.transform).toBe('none');
    const { x, d } = encodeColumns(pre, [num('n', counts), num('s', symmetric)]);
    let mean = 0;
    let sq = 0;
    for (let i = 0; i < 200; i++) mean += x[i * d] / 200;
    for (let i = 0; i < 200; i++) sq += (x[i * d] - mean) ** 2 / 199;
    expect(mean).toBeCloseTo(0, 5);
    expect(Math.sqrt(sq)).toBeCloseTo(1, 4);
  });

  it('adds a standardised hinge max(0, z - knot) at the training median, owned by its raw column', () => {
    const v = Array.from({ length: 101 }, (_, i) => i); // symmetric: no asinh; median 50
    const binary = Array.from({ length: 101 }, (_, i) => i % 2);
    const pre = fitPreprocessing([num('v', v), num('b', binary)], range(0, 101), { hingeQuantiles: [0.5] });
    const [sv, sb] = pre.columns;
    if (sv.kind !== 'numeric' || sb.kind !== 'numeric') throw new Error('expected numeric');
    expect(sv.hinges).toHaveLength(1);
    expect(sv.hinges![0].knot).toBeCloseTo((50 - sv.mean) / sv.std, 10);
    // a 0/1 column has no knot strictly inside its range: no hinge
    expect(sb.hinges).toBeUndefined();
    expect(pre.encodedToRaw).toEqual([0, 0, 1]);
    const { x, d } = encodeColumns(pre, [num('v', v), num('b', binary)]);
    // the hinge input is flat (at its lowest) up to the median and rises linearly after it
    const h = (i: number) => x[i * d + 1];
    expect(h(10)).toBeCloseTo(h(40), 6);
    expect(h(70) - h(60)).toBeCloseTo(h(90) - h(80), 5);
    expect(h(70)).toBeGreaterThan(h(60));
    let mean = 0;
    for (let i = 0; i < 101; i++) mean += h(i) / 101;
    expect(mean).toBeCloseTo(0, 5);
  });

  it('fits hinge knots on train rows only and encodes a blank as the median with its hinge', () => {
    const v = Array.from({ length: 60 }, (_, i) => (i < 50 ? i : 1e6));
    const pre = fitPreprocessing([num('v', v)], range(0, 50), { hingeQuantiles: [0.25, 0.75] });
    const spec = pre.columns[0];
    if (spec.kind !== 'numeric') throw new Error('expected numeric');
    expect(spec.hinges!.map((k) => k.knot * spec.std + spec.mean)).toEqual([expect.closeTo(12.25, 8), expect.closeTo(36.75, 8)]);
    const out = new Float64Array(3);
    encodeValue(spec, null, out, 0);
    const atMedian = new Float64Array(3);
    encodeValue(spec, spec.median, atMedian, 0);
    expect([...out]).toEqual([...atMedian]);
  });
});

describe('prepared CSV loader', () => {
  const csv = ['id,churned,tenure,plan,total,split', 'a,1,3,basic,10.5,train', 'b,0,30,pro, ,train', 'c,0,12,basic,99,test'].join('\n');

  it('reads ids, labels, splits, numeric and text columns; a numeric column with blanks stays numeric', () => {
    const t = tableFromCsv(csv, 'f.csv', { label: 'churned' });
    expect(t.ids).toEqual(['a', 'b', 'c']);
    expect(t.label).toEqual([1, 0, 0]);
    expect(t.split).toEqual(['train', 'train', 'test']);
    expect(t.columns.map((c) => [c.name, c.kind])).toEqual([['tenure', 'numeric'], ['plan', 'text'], ['total', 'numeric']]);
    expect(t.columns[2].values).toEqual([10.5, null, 99]);
    expect(t.source.kind === 'csv' && t.source.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('rejects a file without the label column with one clear error', () => {
    expect(() => tableFromCsv(csv, 'f.csv', { label: 'left' })).toThrow(expect.objectContaining({ code: 'CHURN_ERR_BAD_FILE', message: expect.stringContaining('no label column "left"') }));
  });

  it('rejects labels that are not 0/1, unknown splits and duplicate ids, naming the line', () => {
    expect(() => tableFromCsv(csv.replace('a,1,3', 'a,2,3'), 'f.csv', { label: 'churned' })).toThrow(/line 2: label "2"/);
    expect(() => tableFromCsv(csv.replace('99,test', '99,holdout'), 'f.csv', { label: 'churned' })).toThrow(/line 4: split "holdout"/);
    expect(() => tableFromCsv(csv.replace('c,0,12', 'a,0,12'), 'f.csv', { label: 'churned' })).toThrow(/duplicate id "a"/);
  });

  it('treats a column with a few non-numbers among numbers as numeric with blanks, and a mixed one as text', () => {
    const mostly = [...Array(99).fill('1.5'), 'oops'];
    expect(inferColumn('m', mostly).kind).toBe('numeric');
    expect(inferColumn('m', mostly).values[99]).toBeNull();
    expect(inferColumn('t', ['1', 'x', '2', 'y']).kind).toBe('text');
  });

  it('refuses a named split or id column that is not in the file, naming it and its near matches', () => {
    const error = (message: RegExp) => expect.objectContaining({ code: 'CHURN_ERR_BAD_FILE', message: expect.stringMatching(message) });
    expect(() => tableFromCsv(csv, 'f.csv', { label: 'churned', splitCol: 'Split' })).toThrow(error(/^f\.csv: no split column "Split"; did you mean "split"\? \(columns: id, churned, tenure, plan, total, split\)$/));
    expect(() => tableFromCsv(csv, 'f.csv', { label: 'churned', idCol: 'ID' })).toThrow(error(/no id column "ID"; did you mean "id"\?/));
    expect(() => tableFromCsv(csv, 'f.csv', { label: 'Churned' })).toThrow(error(/no label column "Churned"; did you mean "churned"\?/));
    // a named split column that the file has is read
    expect(tableFromCsv(csv.replace(/,split$/m, ',fold'), 'f.csv', { label: 'churned', splitCol: 'fold' }).split).toEqual(['train', 'train', 'test']);
  });

  it('never reads a column named split as a feature when the split comes from another column, and says so', () => {
    const folds = ['id,churned,tenure,split,fold', 'a,1,3,train,train', 'b,0,30,test,train', 'c,0,12,train,test'].join('\n');
    const r = readCsvTable(folds, 'f.csv', { label: 'churned', splitCol: 'fold' });
    expect(r.table.split).toEqual(['train', 'train', 'test']);
    expect(r.table.columns.map((c) => c.name)).toEqual(['tenure']);
    expect(r.notes).toEqual(['column "split" is left out of the features: it is named as a split column, and the split is read from "fold"']);
    // a split column in another case is not read silently either: left out, and the note says how to read it
    const cased = readCsvTable(csv.replace(/,split$/m, ',Split'), 'f.csv', { label: 'churned' });
    expect(cased.table.split).toEqual(['train', 'train', 'train']);
    expect(cased.table.columns.map((c) => c.name)).toEqual(['tenure', 'plan', 'total']);
    expect(cased.notes).toEqual([expect.stringMatching(/^column "Split" is left out of the features: .*no column "split", so every row is a train row \(--split-col Split reads the split from it\)$/)]);
  });

  it('notes a column of numbers with text cells, read as numbers or as text, with the count and the first line', () => {
    const file = (tenure: (i: number) => string) => ['id,churned,tenure,split', ...Array.from({ length: 40 }, (_, i) => `a${i},${i % 2},${tenure(i)},train`)].join('\n');
    const one = readCsvTable(file((i) => (i === 3 ? 'unknown' : String(i))), 'f.csv', { label: 'churned' });
    expect(one.table.columns[0].kind).toBe('numeric');
    expect(one.table.columns[0].values[3]).toBeNull();
    expect(one.notes).toEqual(['column "tenure": 1 of 40 non-blank cells is not a number (first on line 5: "unknown"); read as numbers, with that cell missing']);
    const tenth = readCsvTable(file((i) => (i % 10 === 1 ? 'unknown' : String(i))), 'f.csv', { label: 'churned' });
    expect(tenth.table.columns[0].kind).toBe('text');
    expect(tenth.notes).toEqual(['column "tenure": 4 of 40 non-blank cells are not numbers (first on line 3: "unknown"), over 5%; read as text, every distinct value a category of its own (blank those cells to read it as numbers)']);
    // numbers and blanks only, or text with no numbers: nothing to say
    expect(readCsvTable(file((i) => (i % 3 ? String(i) : '')), 'f.csv', { label: 'churned' }).notes).toEqual([]);
    expect(readCsvTable(file((i) => (i % 2 ? 'basic' : 'pro')), 'f.csv', { label: 'churned' }).notes).toEqual([]);
  });
});
