/**
 * The report's first page: the executive summary. Churners caught in the riskiest 10% and 20%
 * against the scorecard and the last model, revenue at risk, what changed since the last model, and
 * what to do. Pure: data in, HTML out; every figure is in the JSON twin.
 */
import { movedFeatures, movedList, previousRole, type ReportData } from './data.ts';
import { deploymentSentence } from './deployment.ts';
import { DRIFT_NOT_MEASURED } from './drift.ts';
import { capturedBy } from './headline.ts';
import { riskiest } from './ranking.ts';
import { escapeXml as esc, pct } from './svg.ts';

const int = (v: number): string => v.toLocaleString('en-US');
/** MRR in whole currency units with thousands separators. */
export const money = (v: number): string => Math.round(v).toLocaleString('en-US');
/** "2026-12-06 12:48 UTC" */
export const when = (iso: string): string => `${iso.slice(0, 10)} ${iso.slice(11, 16)} UTC`;
const tierName = (t: string): string => t.replace(/_/g, ' ');

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>`
    + rows.map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join('')}</tr>`).join('') + '</tbody></table>';
}

function caughtTable(data: ReportData): string {
  const cell = (deciles: ReportData['metrics']['deciles'], tenths: number) => {
    const r = riskiest(deciles, tenths);
    return `<b>${pct(r.capture)}</b> <small>${int(r.churners)} of ${int(deciles[9].cumulativeChurners)}</small>`;
  };
  const rows: string[][] = [[`This model (v${data.model.version})`, cell(data.metrics.deciles, 1), cell(data.metrics.deciles, 2), data.metrics.auc.toFixed(3)]];
  if (data.previous) rows.push([`${data.model.promotedAt ? 'Last model' : previousRole(data).replace(/^./, (c) => c.toUpperCase())} (v${data.previous.version})`, cell(data.previous.metrics.deciles, 1), cell(data.previous.metrics.deciles, 2), data.previous.metrics.auc.toFixed(3)]);
  if (data.scorecard) rows.push(['Hand-weighted scorecard', cell(data.scorecard.deciles, 1), cell(data.scorecard.deciles, 2), data.scorecard.auc.toFixed(3)]);
  rows.push(['Random pick', '10%', '20%', '0.500']);
  return table(['Ranking', 'Riskiest 10%', 'Riskiest 20%', 'AUC'], rows, 'caught');
}

/**
 * Whose stored scores the revenue and the actions come from, when not (only) this version's: e.g. a
 * candidate's report shows the book as the champion scored it, and says so ('' when they are its own).
 */
export function scoredByNote(data: ReportData): string {
  const by = data.revenue?.scoredBy;
  const v = data.model.version;
  if (!by || (by.length === 1 && by[0] === v)) return '';
  const whose = by.map((x) => `v${x}${x === data.model.championVersion ? ' (the current champion)' : ''}`);
  const list = whose.length > 1 ? `${whose.slice(0, -1).join(', ')} and ${whose.at(-1)}` : whose[0];
  return `From the stored scores of model ${list}, not model v${v}'s: v${v} has none (\`churn score --model ${v}\` stores them).`;
}

function revenueBlock(data: ReportData): string {
  const r = data.revenue;
  const parts: string[] = [];
  const whose = scoredByNote(data);
  if (whose) parts.push(`<p class="note"><b>${esc(whose)}</b></p>`);
  if (!r) {
    parts.push('<p>No stored scores yet: run <code>churn score</code> to see the revenue at risk and the accounts to act on.</p>');
  } else {
    // expected loss: each customer's MRR times its churn probability (reports written before it have none)
    const loss = r.expectedLoss !== undefined;
    const rows = r.tiers.map((t) => [esc(tierName(t.tier)), int(t.accounts), money(t.mrr), r.mrr > 0 ? pct(t.mrr / r.mrr) : 'n/a', ...(loss ? [money(t.expectedLoss ?? 0)] : [])]);
    rows.push(['<b>All customers</b>', `<b>${int(r.accounts)}</b>`, `<b>${money(r.mrr)}</b>`, '100%', ...(loss ? [`<b>${money(r.expectedLoss!)}</b>`] : [])]);
    parts.push(table(['Tier (latest score)', 'Accounts', 'MRR', 'Share of MRR', ...(loss ? ['Expected loss'] : [])], rows, 'revenue'));
  }
  const c = data.caught;
  if (c && c.churners > 0) {
    const share = (v: number) => (c.churnedMrr > 0 ? ` (${pct(v / c.churnedMrr)})` : '');
    parts.push(`<p class="note">Among the evaluated accounts, the ${int(c.churners)} churners paid MRR ${money(c.churnedMrr)}. The riskiest 10% held ${int(c.top10.churners)} of them, `
      + `MRR ${money(c.top10.mrr)}${share(c.top10.mrr)}; the riskiest 20% held ${int(c.top20.churners)}, MRR ${money(c.top20.mrr)}${share(c.top20.mrr)}.`
      + `${c.missing ? ` (${int(c.missing)} ${c.missing === 1 ? 'churner' : 'churners'} with no MRR on record ${c.missing === 1 ? 'counts' : 'count'} as 0.)` : ''}</p>`);
  }
  if (r) parts.push(`<p class="note">MRR of each customer's current subscription on ${esc(r.asOf.slice(0, 10))}, by the tier of its latest stored score${r.expectedLoss !== undefined ? '; expected loss: that MRR times the score\'s churn probability, summed' : ''} (${esc(r.scoresFrom?.slice(0, 10) ?? '')}${r.scoresTo !== r.scoresFrom ? ` to ${esc(r.scoresTo?.slice(0, 10) ?? '')}` : ''})${r.formerCustomers ? `; ${int(r.formerCustomers)} scored accounts are no longer customers and are left out` : ''}.</p>`);
  return parts.join('');
}

function changes(data: ReportData): string[] {
  const out: string[] = [];
  const m = data.model;
  const since = m.promotedAt ? `champion since ${when(m.promotedAt)}` : 'not (yet) the champion';
  const pts = (a: number, b: number) => `${a >= b ? '+' : ''}${Math.round((a - b) * 100)} points`;
  if (data.previous) {
    const c10 = capturedBy(data, 1);
    const against = m.promotedAt ? 'follows' : `is compared with the ${previousRole(data)}`;
    out.push(`Model v${m.version} (${esc(m.modelType)}, trained ${m.createdAt.slice(0, 10)}, ${since}) ${against} v${data.previous.version}`
      + `${data.previous.createdAt ? ` (trained ${data.previous.createdAt.slice(0, 10)})` : ''}: on the same accounts it catches ${pct(c10.model)} of churners in the riskiest 10% against ${pct(c10.previous!)} `
      + `(${pts(c10.model, c10.previous!)}), AUC ${data.metrics.auc.toFixed(3)} against ${data.previous.metrics.auc.toFixed(3)}.`);
  } else if (m.previousChampion !== null) {
    out.push(`Model v${m.version} (${esc(m.modelType)}, trained ${m.createdAt.slice(0, 10)}, ${since}) follows v${m.previousChampion}, which cannot be compared on the same accounts (see the warnings).`);
  } else {
    out.push(`Model v${m.version} (${esc(m.modelType)}, trained ${m.createdAt.slice(0, 10)}, ${since}) is the first champion: there is no earlier model to compare with.`);
  }
  const moved = movedFeatures(data);
  out.push(!data.drift.length ? esc(DRIFT_NOT_MEASURED)
    : moved.length
    ? `${moved.length} of ${data.drift.length} inputs moved since training (PSI 0.1 or more): ${esc(movedList(data, moved))}; see "What has changed" below.`
    : `None of the ${data.drift.length} inputs moved since training (every PSI below 0.1).`);
  if (data.deployment) out.push(esc(deploymentSentence(data.deployment)));
  return out;
}

function actions(data: ReportData): string {
  const r = data.revenue;
  if (!r || !r.accounts) return '<p>No current customers with a stored score: nothing to act on yet.</p>';
  const whose = scoredByNote(data);
  const items = r.tiers.flatMap((t) => t.actions.map((a) => `<li><b>${esc(a.action.replace(/_/g, ' '))}</b> ${int(a.accounts)} ${esc(tierName(t.tier))} account${a.accounts === 1 ? '' : 's'} (MRR ${money(a.mrr)})</li>`));
  return `${whose ? `<p class="note"><b>${esc(whose)}</b></p>` : ''}<ul class="actions">${items.join('')}</ul><p class="note">The riskiest tier first; each account's recommended action comes from its tier and segment (the serving configuration). <code>GET /v1/accounts?tier=...</code> lists them.</p>`;
}

/** The first page: headline, churners caught, revenue at risk, what changed, what to do. */
export function summaryPage(data: ReportData, headline: string[]): string {
  const m = data.model;
  return `<section class="summary" id="summary">
<h1>Churn model accuracy report: model v${m.version}</h1>
<p class="meta">${esc(m.modelType)} model created ${esc(when(m.createdAt))}${m.promotedAt ? `, champion since ${esc(when(m.promotedAt))}` : ''}. Report generated ${esc(when(data.generatedAt))}; scores and outcomes as of ${esc(data.asOf.slice(0, 10))}.</p>
${m.settings ? `<p class="meta settings">Model: ${esc(m.settings)}.</p>` : ''}
<div class="headline">${headline.slice(0, 2).map((s) => `<p>${esc(s)}</p>`).join('')}</div>
<div class="cols"><div><h2>Churners caught</h2>${caughtTable(data)}<p class="note">Share of the ${int(data.metrics.positives)} churners among ${int(data.metrics.n)} held-out accounts found in the riskiest 10% and 20% by each ranking (risk decile 1, and deciles 1-2, of the decile table).</p></div>
<div><h2>Revenue at risk</h2>${revenueBlock(data)}</div></div>
<h2>What changed since the last model</h2><ul class="changes">${changes(data).map((c) => `<li>${c}</li>`).join('')}</ul>
<h2>What to do</h2>${actions(data)}
</section>`;
}
