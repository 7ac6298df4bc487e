/** The synthetic company: customer segments with their plans and prices, and the product's event catalogue. */

export type Segment = 'smb' | 'mid_market' | 'enterprise';

export interface SegmentProfile {
  segment: Segment;
  /** Share of all accounts. */
  share: number;
  /** Seats: log-normal median and sigma, clamped to [minSeats, maxSeats]. */
  seatMedian: number;
  seatSigma: number;
  minSeats: number;
  maxSeats: number;
  plans: readonly { plan: string; weight: number; pricePerSeat: number }[];
  /** Share of accounts on annual contracts. */
  annualShare: number;
  /** Discount percent range (uniform) for annual contracts; monthly ones get none. */
  annualDiscount: readonly [number, number];
  /** Net payment terms in days (0 = card charged on issue). */
  netTermsDays: number;
  /** Support tickets per account-month at baseline. */
  ticketsPerMonth: number;
  /** Monthly hazard that a churn driver becomes active (before trait multipliers). */
  troubleRate: number;
}

export const SEGMENTS: readonly SegmentProfile[] = [
  {
    segment: 'smb', share: 0.62, seatMedian: 4, seatSigma: 0.55, minSeats: 1, maxSeats: 15,
    plans: [{ plan: 'starter', weight: 0.6, pricePerSeat: 15 }, { plan: 'team', weight: 0.4, pricePerSeat: 25 }],
    annualShare: 0.2, annualDiscount: [10, 20], netTermsDays: 0, ticketsPerMonth: 0.25, troubleRate: 0.038,
  },
  {
    segment: 'mid_market', share: 0.29, seatMedian: 16, seatSigma: 0.5, minSeats: 8, maxSeats: 60,
    plans: [{ plan: 'team', weight: 0.45, pricePerSeat: 25 }, { plan: 'business', weight: 0.55, pricePerSeat: 39 }],
    annualShare: 0.5, annualDiscount: [10, 20], netTermsDays: 14, ticketsPerMonth: 0.7, troubleRate: 0.030,
  },
  {
    segment: 'enterprise', share: 0.09, seatMedian: 55, seatSigma: 0.45, minSeats: 30, maxSeats: 220,
    plans: [{ plan: 'business', weight: 0.3, pricePerSeat: 39 }, { plan: 'enterprise', weight: 0.7, pricePerSeat: 55 }],
    annualShare: 0.85, annualDiscount: [15, 30], netTermsDays: 30, ticketsPerMonth: 1.8, troubleRate: 0.024,
  },
];

/** Days from issue to due date: card payers 0, invoice payers their net terms (at least 30 when annual). */
export function paymentTermsDays(seg: SegmentProfile, billing: 'monthly' | 'annual'): number {
  return billing === 'annual' ? Math.max(seg.netTermsDays, 30) : seg.netTermsDays;
}

/** Days from the unpaid invoice's issue to the involuntary end: terms plus 14 days of dunning. */
export function involuntaryLagDays(seg: SegmentProfile, billing: 'monthly' | 'annual'): number {
  return paymentTermsDays(seg, billing) + 14;
}

export const INDUSTRIES = ['software', 'retail', 'healthcare', 'finance', 'education', 'manufacturing', 'media', 'logistics', 'real_estate', 'nonprofit'] as const;
export const REGIONS = ['na', 'emea', 'apac', 'latam'] as const;
export const REGION_WEIGHTS = [0.46, 0.32, 0.15, 0.07] as const;

const NAME_A = ['Blue', 'North', 'Bright', 'Iron', 'Silver', 'Quiet', 'Swift', 'Green', 'Red', 'Clear', 'Summit', 'Harbor', 'Maple', 'Cedar', 'Polar', 'Lumen'];
const NAME_B = ['Labs', 'Works', 'Systems', 'Logistics', 'Health', 'Retail', 'Analytics', 'Foods', 'Media', 'Capital', 'Studio', 'Partners', 'Cloud', 'Goods', 'Learning', 'Energy'];

export function accountName(i: number, a: number, b: number): string {
  return `${NAME_A[a % NAME_A.length]} ${NAME_B[b % NAME_B.length]} ${i}`;
}

export interface FeatureArea {
  area: string;
  /** 0 = adopted at sign-up; higher = later and rarer adoption. */
  difficulty: number;
  /** Probability that a user of an adopting account takes the area up. */
  userReach: number;
}

export const AREAS: readonly FeatureArea[] = [
  { area: 'core', difficulty: 0, userReach: 1 },
  { area: 'reports', difficulty: 0.5, userReach: 0.55 },
  { area: 'collaboration', difficulty: 0.6, userReach: 0.6 },
  { area: 'admin', difficulty: 0.35, userReach: 0.15 },
  { area: 'mobile', difficulty: 0.9, userReach: 0.35 },
  { area: 'integrations', difficulty: 1.2, userReach: 0.2 },
  { area: 'analytics', difficulty: 1.4, userReach: 0.3 },
  { area: 'automation', difficulty: 1.6, userReach: 0.25 },
];

export interface EventTypeDef {
  eventType: string;
  area: string;
  isKeyFeature: boolean;
  /** Probability of the event on a day its user is active and uses the area. */
  dayProb: number;
  /** Mean count on such a day (quantity = 1 + Poisson(mean - 1)). */
  meanQty: number;
  /** Emitted once per account-day by the system (user_id NULL) instead of per user. */
  system?: boolean;
  description: string;
}

function ev(eventType: string, area: string, dayProb: number, meanQty: number, description: string, extra: Partial<EventTypeDef> = {}): EventTypeDef {
  return { eventType, area, dayProb, meanQty, description, isKeyFeature: false, ...extra };
}

export const EVENT_TYPES: readonly EventTypeDef[] = [
  ev('login', 'core', 0.97, 1.6, 'User signed in'),
  ev('dashboard_view', 'core', 0.8, 4, 'Viewed a dashboard'),
  ev('record_create', 'core', 0.45, 3, 'Created a record', { isKeyFeature: true }),
  ev('record_update', 'core', 0.55, 5, 'Updated a record'),
  ev('search', 'core', 0.35, 2.5, 'Ran a search'),
  ev('report_view', 'reports', 0.5, 2.5, 'Viewed a report'),
  ev('report_create', 'reports', 0.12, 1.2, 'Built a report', { isKeyFeature: true }),
  ev('report_export', 'reports', 0.15, 1.5, 'Exported a report'),
  ev('report_schedule', 'reports', 0.04, 1, 'Scheduled a report'),
  ev('comment_add', 'collaboration', 0.4, 3, 'Added a comment'),
  ev('mention_send', 'collaboration', 0.25, 2, 'Mentioned a colleague'),
  ev('file_share', 'collaboration', 0.12, 1.3, 'Shared a file'),
  ev('task_assign', 'collaboration', 0.2, 1.8, 'Assigned a task', { isKeyFeature: true }),
  ev('user_invite', 'admin', 0.05, 1.2, 'Invited a user'),
  ev('permission_change', 'admin', 0.06, 1.5, 'Changed permissions'),
  ev('sso_configure', 'admin', 0.01, 1, 'Configured single sign-on'),
  ev('billing_view', 'admin', 0.05, 1, 'Viewed billing'),
  ev('mobile_session', 'mobile', 0.55, 2, 'Used the mobile app'),
  ev('push_open', 'mobile', 0.3, 1.5, 'Opened a push notification'),
  ev('offline_sync', 'mobile', 0.1, 1, 'Synced offline changes'),
  ev('integration_connect', 'integrations', 0.03, 1, 'Connected an integration', { isKeyFeature: true }),
  ev('api_call', 'integrations', 0.85, 40, 'API calls made by an integration', { system: true }),
  ev('sync_complete', 'integrations', 0.8, 6, 'Integration sync completed', { system: true }),
  ev('webhook_deliver', 'integrations', 0.5, 10, 'Webhook delivered', { system: true }),
  ev('chart_build', 'analytics', 0.3, 2, 'Built a chart'),
  ev('query_run', 'analytics', 0.5, 4, 'Ran an analytics query', { isKeyFeature: true }),
  ev('dataset_import', 'analytics', 0.06, 1.2, 'Imported a data set'),
  ev('workflow_create', 'automation', 0.06, 1.1, 'Created a workflow', { isKeyFeature: true }),
  ev('workflow_run', 'automation', 0.7, 8, 'Workflow runs', { system: true }),
  ev('rule_trigger', 'automation', 0.3, 3, 'Edited an automation rule'),
];

export const TICKET_CATEGORIES = ['how_to', 'bug', 'billing', 'integration', 'performance', 'account', 'feature_request'] as const;
export const PAYMENT_FAILURES = ['card_declined', 'insufficient_funds', 'expired_card', 'processing_error'] as const;
export const DETRACTOR_COMMENTS = ['Too expensive for what we use', 'The product is slow', 'Support takes too long', 'Missing features we need', 'Hard to get the team to use it'];
export const PROMOTER_COMMENTS = ['Great product', 'Support is excellent', 'Saves our team hours', 'Easy to use'];
