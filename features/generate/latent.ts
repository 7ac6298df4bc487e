/**
 * The latent churn process (documented in docs/synthetic-data.md). Per account: health traits, at most
 * one churn-driver episode (onset, optional recovery), an intended churn day, and unexplained churn.
 * Observable data is generated from this afterwards; nothing here looks at observable data.
 */
import { Rng } from './random.ts';
import type { SegmentProfile } from './catalog.ts';

export const DRIVERS = ['fading_usage', 'shallow_adoption', 'support_pain', 'payment_trouble', 'detractor'] as const;
export type Driver = (typeof DRIVERS)[number];
export type TrueDriver = Driver | 'unexplained';

export interface Traits {
  /** How much the account's users use the product (mean 1). */
  engagement: number;
  /** Propensity to adopt feature areas, in (0, 1). */
  adoption: number;
  /** Baseline support-ticket load (mean 1). */
  supportLoad: number;
  /** Probability that a payment succeeds at its first attempt when no driver is active. */
  paymentReliability: number;
  /** Baseline NPS mean, 0-10. */
  sentiment: number;
}

export interface Latent {
  traits: Traits;
  driver?: Driver;
  /** Day the driver became active. */
  onsetDay?: number;
  /** Day a recovered driver stopped (no churn follows). */
  recoverDay?: number;
  /** Earliest day the account intends to leave (the billing cycle decides the actual end). */
  intentDay?: number;
  intentDriver?: TrueDriver;
  /** Time constant (days) of the usage decay under fading usage. */
  fadeDays: number;
}

/** Mean delay (days) from onset to the intent to leave, per driver. */
export const DELAY_MEAN: Record<Driver, number> = {
  fading_usage: 70, shallow_adoption: 80, support_pain: 60, payment_trouble: 45, detractor: 65,
};
export const RECOVERY_PROB: Record<Driver, number> = {
  fading_usage: 0.2, shallow_adoption: 0.15, support_pain: 0.25, payment_trouble: 0.3, detractor: 0.2,
};
/** Monthly hazard of churn that no data explains. */
export const UNEXPLAINED_MONTHLY = 0.0036;
const MONTH_DAYS = 30.44;

export function drawTraits(rng: Rng): Traits {
  return {
    engagement: rng.gamma(6, 1 / 6),
    adoption: rng.beta(2.6, 2),
    supportLoad: rng.gamma(2.5, 1 / 2.5),
    paymentReliability: 0.9 + 0.09 * rng.beta(4, 1.5),
    sentiment: Math.min(9.6, Math.max(5.5, rng.normal(8.1, 0.8))),
  };
}

/**
 * Driver weights for one account: base mix times trait tilts (low adoption favours shallow adoption,
 * high support load favours support pain, ...) and segment tilts (card-paying SMBs fail payments more).
 */
export function driverWeights(t: Traits, seg: SegmentProfile): number[] {
  const smb = seg.segment === 'smb';
  const ent = seg.segment === 'enterprise';
  return [
    0.32 * (1.6 - Math.min(1.4, t.engagement) * 0.6),
    0.26 * (2 * (1 - t.adoption)) ** 1.5,
    0.17 * t.supportLoad * (ent ? 1.4 : 1),
    0.1 * (1 + (0.99 - t.paymentReliability) * 40) * (smb ? 1.3 : ent ? 0.5 : 0.9),
    0.15 * (1 + (8.1 - t.sentiment) * 0.5),
  ];
}

/** Multiplier on the segment's trouble rate from the traits (weak, healthy accounts are safer). */
export function troubleMultiplier(t: Traits): number {
  return Math.max(0.3, 1.25 - 0.25 * t.engagement - 0.3 * (t.adoption - 0.55) + 0.15 * (t.supportLoad - 1));
}

/**
 * Draws the latent process for an account created on `createdDay`, seen in [startDay, endDay).
 * Exposure to driver onset begins 21 days after sign-up and at most 75 days before the window.
 */
export function drawLatent(rng: Rng, seg: SegmentProfile, createdDay: number, startDay: number, endDay: number): Latent {
  const traits = drawTraits(rng);
  const out: Latent = { traits, fadeDays: rng.uniform(18, 38) };
  const exposureStart = Math.max(createdDay + 21, startDay - 75);
  const monthlyRate = seg.troubleRate * troubleMultiplier(traits);
  const onset = exposureStart + Math.floor(rng.exponential(MONTH_DAYS / monthlyRate));
  if (onset < endDay) {
    const weights = driverWeights(traits, seg);
    const driver = DRIVERS[rng.weighted(weights)];
    out.driver = driver;
    out.onsetDay = onset;
    const delay = Math.max(21, Math.round(rng.gamma(4, DELAY_MEAN[driver] / 4)));
    if (rng.chance(RECOVERY_PROB[driver])) {
      out.recoverDay = onset + Math.round(rng.uniform(30, 90));
    } else {
      out.intentDay = onset + delay;
      out.intentDriver = driver;
    }
  }
  // Churn no data explains: an independent hazard, effective only while no driver is active.
  const uStart = Math.max(createdDay + 30, startDay);
  const u = uStart + Math.floor(rng.exponential(MONTH_DAYS / UNEXPLAINED_MONTHLY));
  const quiet = out.onsetDay === undefined || u < out.onsetDay || (out.recoverDay !== undefined && u > out.recoverDay + 30);
  if (u < endDay && quiet && (out.intentDay === undefined || u < out.intentDay)) {
    out.intentDay = u;
    out.intentDriver = 'unexplained';
    if (out.onsetDay !== undefined && u < out.onsetDay) {
      out.driver = undefined;
      out.onsetDay = undefined;
      out.recoverDay = undefined;
    }
  }
  if (out.driver === 'detractor') traits.sentiment = Math.min(traits.sentiment, 6 + 1.5 * rng.next());
  return out;
}

/**
 * Strength (0..1) of the driver's observable signal on `day`: ramps up over the 14 days after onset,
 * off again after recovery.
 */
export function driverSignal(l: Latent, day: number): number {
  if (l.onsetDay === undefined || day < l.onsetDay) return 0;
  if (l.recoverDay !== undefined && day >= l.recoverDay) return 0;
  return Math.min(1, (day - l.onsetDay + 1) / 14);
}

/** Account-level usage multiplier on `day` caused by the driver. */
export function usageFactor(l: Latent, day: number): number {
  const s = driverSignal(l, day);
  if (s === 0) return 1;
  switch (l.driver) {
    case 'fading_usage':
      return Math.max(0.05, Math.exp(-(day - (l.onsetDay as number)) / l.fadeDays));
    case 'shallow_adoption':
    case 'support_pain':
    case 'detractor':
      return 1 - 0.15 * s;
    default:
      return 1 - 0.05 * s;
  }
}
