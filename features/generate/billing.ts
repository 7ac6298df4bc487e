/**
 * Invoices and payment attempts. Card payers (no net terms) are charged on issue and dunned at
 * +3, +7 and +12 days; invoice payers pay within their terms, sometimes late. Payment trouble makes
 * first attempts fail and payments late, and an involuntary churn ends with an uncollectible invoice.
 */
import type { AccountLife, SubscriptionPeriod } from './account.ts';
import { PAYMENT_FAILURES, involuntaryLagDays, paymentTermsDays } from './catalog.ts';
import { DAY_MS, HOUR_MS, MINUTE_MS, NULL, addMonths, type TimeFormatter } from './calendar.ts';
import { driverSignal } from './latent.ts';
import type { GenerationWindow } from './options.ts';
import { Rng } from './random.ts';
import type { RowOut } from './support.ts';

const DUNNING_DAYS = [0, 3, 7, 12];

export interface BillingOut {
  invoices: RowOut;
  attempts: RowOut;
}

/** Billing dates of one subscription row inside [from, to). */
function billingDays(s: SubscriptionPeriod, from: number, to: number): number[] {
  const out: number[] = [];
  const step = s.billing === 'annual' ? 12 : 1;
  for (let k = 0; ; k += step) {
    const d = addMonths(s.startDay, k);
    if (d >= to || (s.endDay !== undefined && d >= s.endDay)) break;
    if (d >= from) out.push(d);
  }
  return out;
}

/**
 * Invoice columns: invoice_id, account_id, subscription_id, issued_at, due_at, paid_at, amount, status, failed_attempts.
 * Attempt columns: attempt_id, invoice_id, account_id, attempted_at, succeeded, failure_reason.
 */
export function emitBilling(w: GenerationWindow, life: AccountLife, fmt: TimeFormatter, out: BillingOut): void {
  const rng = new Rng(w.seed, life.index * 8 + 5);
  const { latent, seg } = life;
  const limitMs = Math.min(w.endMs, life.activeUntilDay * DAY_MS);
  const lastSub = life.subs[life.subs.length - 1];
  const involuntaryDay = life.trueDriver === 'payment_trouble' && life.churnDay !== undefined ? life.churnDay - involuntaryLagDays(seg, lastSub.billing) : undefined;
  const reliability = latent.traits.paymentReliability;
  let n = 0;
  for (const s of life.subs) {
    if (s.isTrial) continue;
    const terms = paymentTermsDays(seg, s.billing);
    for (const day of billingDays(s, w.startDay, life.activeUntilDay)) {
      const issued = day * DAY_MS + 2 * HOUR_MS + rng.int(0, 59) * MINUTE_MS;
      if (issued >= limitMs) continue;
      const due = issued + terms * DAY_MS;
      const amount = (s.billing === 'annual' ? s.mrr * 12 : s.mrr).toFixed(2);
      const trouble = latent.driver === 'payment_trouble' ? driverSignal(latent, day) : 0;
      const final = day === involuntaryDay;
      const invoiceId = `inv_${life.id.slice(4)}_${String(++n).padStart(4, '0')}`;
      let failed = 0;
      let paidAt: number | undefined;
      let gaveUp = false;
      const attempt = (at: number, ok: boolean) => {
        out.attempts.add(`pay_${invoiceId.slice(4)}_${failed + 1}\t${invoiceId}\t${life.id}\t${fmt.ts(at)}\t${ok ? 't' : 'f'}\t${ok ? NULL : rng.pick(PAYMENT_FAILURES)}\n`);
      };
      if (terms === 0) {
        for (let i = 0; i < DUNNING_DAYS.length; i++) {
          const at = issued + DUNNING_DAYS[i] * DAY_MS + (i === 0 ? MINUTE_MS : rng.int(1, 10) * HOUR_MS);
          if (at >= limitMs) break;
          const pOk = final ? 0 : i === 0 ? reliability * (1 - 0.75 * trouble) : 0.85 - 0.45 * trouble;
          const ok = rng.chance(pOk);
          attempt(at, ok);
          if (ok) {
            paidAt = at;
            break;
          }
          failed++;
          if (i === DUNNING_DAYS.length - 1) gaveUp = true;
        }
      } else {
        const late = final || rng.chance(0.06 + 0.7 * trouble);
        const delayDays = late ? terms + rng.exponential(final ? 60 : 18) : terms * rng.beta(2, 2.5);
        if (final || rng.chance(0.02 + 0.55 * trouble)) {
          const at = due + rng.int(1, 20) * HOUR_MS;
          if (at < limitMs) {
            attempt(at, false);
            failed++;
          }
        }
        const at = Math.max(issued + delayDays * DAY_MS, due + (failed ? 3 * DAY_MS : -Infinity));
        if (final) gaveUp = due + 10 * DAY_MS < limitMs;
        else if (at < limitMs) {
          attempt(Math.floor(at), true);
          paidAt = Math.floor(at);
        }
      }
      const status = paidAt !== undefined ? 'paid' : gaveUp ? 'uncollectible' : due < limitMs ? 'past_due' : 'open';
      out.invoices.add(`${invoiceId}\t${life.id}\t${s.id}\t${fmt.ts(issued)}\t${fmt.ts(due)}\t${paidAt === undefined ? NULL : fmt.ts(paidAt)}\t${amount}\t${status}\t${failed}\n`);
    }
  }
}
