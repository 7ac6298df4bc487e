/** COPY text rows for the per-account tables that come straight from the account's life. */
import type { AccountLife } from './account.ts';
import { DAY_MS, NULL, tsOrNull, type TimeFormatter } from './calendar.ts';
import type { GenerationWindow } from './options.ts';
import type { RowOut } from './support.ts';

/** Columns: account_id, name, segment, plan, industry, region, created_at. */
export function accountRow(life: AccountLife, fmt: TimeFormatter): string {
  return `${life.id}\t${life.name}\t${life.seg.segment}\t${life.plan}\t${life.industry}\t${life.region}\t${fmt.ts(life.createdMs)}\n`;
}

/** Columns: user_id, account_id, role, created_at, deactivated_at. */
export function emitUsers(life: AccountLife, fmt: TimeFormatter, out: RowOut): void {
  for (const u of life.users) out.add(`${u.id}\t${life.id}\t${u.role}\t${fmt.ts(u.createdMs)}\t${tsOrNull(fmt, u.deactivatedMs)}\n`);
}

/**
 * Columns: subscription_id, account_id, plan, mrr, seats, billing_period, discount_pct, is_trial,
 * change_type, started_at, ended_at, canceled_at, status. The first row starts when the account was created.
 */
export function emitSubscriptions(life: AccountLife, fmt: TimeFormatter, out: RowOut): void {
  life.subs.forEach((s, i) => {
    const started = i === 0 ? life.createdMs : s.startDay * DAY_MS;
    const ended = s.endDay === undefined ? undefined : s.endDay * DAY_MS;
    out.add(`${s.id}\t${life.id}\t${s.plan}\t${s.mrr.toFixed(2)}\t${s.seats}\t${s.billing}\t${s.discountPct.toFixed(2)}\t${s.isTrial ? 't' : 'f'}\t${s.changeType}\t${fmt.ts(started)}\t${tsOrNull(fmt, ended)}\t${tsOrNull(fmt, s.cancelMs)}\t${s.status}\n`);
  });
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** Columns: account_id, churned, churned_at, true_driver, risk, seed. */
export function truthRow(w: GenerationWindow, life: AccountLife, fmt: TimeFormatter): string {
  const l = life.latent;
  const risk = {
    segment: life.seg.segment,
    engagement: round4(l.traits.engagement),
    adoption: round4(l.traits.adoption),
    support_load: round4(l.traits.supportLoad),
    payment_reliability: round4(l.traits.paymentReliability),
    sentiment: round4(l.traits.sentiment),
    driver: l.driver ?? null,
    driver_onset: l.onsetDay === undefined ? null : fmt.date(l.onsetDay),
    recovered_at: l.recoverDay === undefined ? null : fmt.date(l.recoverDay),
    intent_at: l.intentDay === undefined ? null : fmt.date(l.intentDay),
    intent_driver: l.intentDriver ?? null,
  };
  const churned = life.churnDay !== undefined;
  // jsonb in COPY text: JSON has no tabs or newlines here; backslashes must be doubled.
  const json = JSON.stringify(risk).replace(/\\/g, '\\\\');
  return `${life.id}\t${churned ? 't' : 'f'}\t${churned ? fmt.ts((life.churnDay as number) * DAY_MS) : NULL}\t${churned ? life.trueDriver : NULL}\t${json}\t${w.seed}\n`;
}
