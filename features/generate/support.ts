/**
 * Support tickets and survey responses for one account. Support pain multiplies the ticket rate and
 * turns priorities, escalations, resolution times and CSAT sour; a detractor answers NPS 0-6.
 */
import type { AccountLife } from './account.ts';
import { DETRACTOR_COMMENTS, PROMOTER_COMMENTS, TICKET_CATEGORIES } from './catalog.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, NULL, isWeekend, tsOrNull, type TimeFormatter } from './calendar.ts';
import { driverSignal, usageFactor } from './latent.ts';
import type { GenerationWindow } from './options.ts';
import { Rng } from './random.ts';

export interface RowOut {
  add(row: string): void;
}

const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;
const CALM_PRIORITY = [0.27, 0.5, 0.18, 0.05];
const PAIN_PRIORITY = [0.05, 0.3, 0.4, 0.25];
const CALM_CSAT = [0.03, 0.05, 0.12, 0.3, 0.5];
const PAIN_CSAT = [0.45, 0.3, 0.15, 0.07, 0.03];
const CALM_CATEGORY = [0.3, 0.22, 0.1, 0.1, 0.08, 0.1, 0.1];
const PAIN_CATEGORY = [0.08, 0.4, 0.04, 0.2, 0.22, 0.03, 0.03];
const BILLING_CATEGORY = [0.05, 0.05, 0.8, 0.02, 0.02, 0.04, 0.02];

/** Columns: ticket_id, account_id, opened_at, closed_at, priority, status, escalated, escalated_at, category, csat. */
export function emitTickets(w: GenerationWindow, life: AccountLife, fmt: TimeFormatter, out: RowOut): void {
  const rng = new Rng(w.seed, life.index * 8 + 3);
  const { latent, seg } = life;
  const limitMs = life.activeUntilDay * DAY_MS;
  const base = (seg.ticketsPerMonth / 30.44) * latent.traits.supportLoad;
  let n = 0;
  for (let day = Math.max(w.startDay, life.createdDay + 1); day < life.activeUntilDay; day++) {
    const s = driverSignal(latent, day);
    const pain = latent.driver === 'support_pain' ? s : 0;
    const billing = latent.driver === 'payment_trouble' ? s : 0;
    const rate = base * (isWeekend(day) ? 0.3 : 1.28) * (1 + 6 * pain + 1.5 * billing);
    const count = rng.poisson(rate);
    for (let i = 0; i < count; i++) {
      const sour = rng.chance(pain);
      const opened = day * DAY_MS + Math.floor(rng.uniform(6, 20) * HOUR_MS) + rng.int(0, 59) * MINUTE_MS;
      if (opened >= limitMs) continue;
      const priority = PRIORITIES[rng.weighted(sour ? PAIN_PRIORITY : CALM_PRIORITY)];
      const category = TICKET_CATEGORIES[rng.weighted(sour ? PAIN_CATEGORY : rng.chance(billing) ? BILLING_CATEGORY : CALM_CATEGORY)];
      const resolveMs = rng.logNormal(priority === 'urgent' ? 6 : priority === 'high' ? 14 : 22, 0.9) * (sour ? 4 : 1) * HOUR_MS;
      let closed: number | undefined = opened + Math.floor(resolveMs);
      let status = rng.chance(0.25) ? 'solved' : 'closed';
      if (closed >= limitMs) {
        if (life.churnDay !== undefined) closed = Math.max(opened, limitMs - MINUTE_MS);
        else {
          closed = undefined;
          status = rng.chance(0.6) ? 'open' : 'pending';
        }
      }
      const escalate = rng.chance(0.03 + 0.35 * (sour ? 1 : 0) + (priority === 'urgent' ? 0.2 : 0));
      let escalatedAt: number | undefined;
      if (escalate) {
        const at = opened + Math.floor(rng.exponential(0.3) * resolveMs);
        if (at < (closed ?? limitMs)) escalatedAt = at;
      }
      let csat = NULL;
      if (closed !== undefined && rng.chance(0.45)) {
        const slow = resolveMs > 72 * HOUR_MS ? 1 : 0;
        csat = String(1 + rng.weighted(sour || (slow && rng.chance(0.5)) ? PAIN_CSAT : CALM_CSAT));
      }
      out.add(`tkt_${life.id.slice(4)}_${String(++n).padStart(4, '0')}\t${life.id}\t${fmt.ts(opened)}\t${tsOrNull(fmt, closed)}\t${priority}\t${status}\t${escalatedAt !== undefined ? 't' : 'f'}\t${tsOrNull(fmt, escalatedAt)}\t${category}\t${csat}\n`);
    }
  }
}

/** NPS mean on `day`: the account's sentiment, pulled down by whichever driver is active. */
function npsMean(life: AccountLife, day: number): number {
  const { latent } = life;
  const s = driverSignal(latent, day);
  const t = latent.traits.sentiment;
  switch (s === 0 ? undefined : latent.driver) {
    case 'detractor': return t - s * (t - 3);
    case 'support_pain': return t - 2.2 * s;
    case 'fading_usage': return t - 0.6 * s;
    case 'shallow_adoption': return t - 0.4 * s;
    case 'payment_trouble': return t - 0.5 * s;
    default: return t;
  }
}

/** Columns: response_id, account_id, user_id, survey_type, score, responded_at, comment. */
export function emitSurveys(w: GenerationWindow, life: AccountLife, fmt: TimeFormatter, out: RowOut): void {
  const rng = new Rng(w.seed, life.index * 8 + 4);
  const limitMs = life.activeUntilDay * DAY_MS;
  let n = 0;
  const write = (userId: string, type: 'nps' | 'csat', score: number, at: number) => {
    let comment = NULL;
    if (type === 'nps' && score <= 6 && rng.chance(0.35)) comment = rng.pick(DETRACTOR_COMMENTS);
    else if (type === 'nps' && score >= 9 && rng.chance(0.15)) comment = rng.pick(PROMOTER_COMMENTS);
    out.add(`srv_${life.id.slice(4)}_${String(++n).padStart(4, '0')}\t${life.id}\t${userId}\t${type}\t${score}\t${fmt.ts(at)}\t${comment}\n`);
  };
  const alive = (day: number) => life.users.filter((u) => u.createdMs < day * DAY_MS && (u.deactivatedMs === undefined || u.deactivatedMs > (day + 1) * DAY_MS));
  // NPS: a campaign every 61 days at an account-specific phase; each user answers with probability 0.3.
  for (let c = w.startDay + rng.int(0, 60); c < life.activeUntilDay; c += 61) {
    if (c <= life.createdDay + 30) continue;
    const answer = 0.3 * usageFactor(life.latent, c); // disengaged accounts go quiet rather than answer
    for (const u of alive(c)) {
      if (!rng.chance(answer)) continue;
      const at = c * DAY_MS + Math.floor(rng.exponential(2.5) * DAY_MS) + Math.floor(rng.uniform(7, 20) * HOUR_MS);
      if (at >= limitMs || at >= w.endMs || (u.deactivatedMs !== undefined && at >= u.deactivatedMs)) continue;
      const score = Math.max(0, Math.min(10, Math.round(rng.normal(npsMean(life, Math.floor(at / DAY_MS)), 1.4))));
      write(u.id, 'nps', score, at);
    }
  }
  // In-app CSAT: each month a few users rate the product 1-5; the prompt shows in the app, so
  // fewer users see it while the account's usage is down.
  for (let m = w.startDay + rng.int(0, 29); m < life.activeUntilDay; m += 30) {
    if (m <= life.createdDay) continue;
    const reach = 0.08 * usageFactor(life.latent, m);
    for (const u of alive(m)) {
      if (!rng.chance(reach)) continue;
      const at = m * DAY_MS + Math.floor(rng.uniform(0, 29) * DAY_MS) + Math.floor(rng.uniform(8, 19) * HOUR_MS);
      if (at >= limitMs || at >= w.endMs || at <= u.createdMs || (u.deactivatedMs !== undefined && at >= u.deactivatedMs)) continue;
      const mean = 1 + (npsMean(life, Math.floor(at / DAY_MS)) / 10) * 4.2;
      write(u.id, 'csat', Math.max(1, Math.min(5, Math.round(rng.normal(mean, 0.8)))), at);
    }
  }
}
