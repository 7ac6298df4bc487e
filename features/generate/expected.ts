/**
 * Documented ranges (docs/synthetic-data.md) for a 12-month run of at least 500 accounts. Centres
 * measured on 20,000 accounts; bands are about four standard deviations of a 600-account run wide.
 */
export const EXPECTED_RANGES = {
  /** Share of all accounts that churn inside a 12-month window (centre 0.20). */
  churnRate12Months: [0.15, 0.27],
  /** Share of churned accounts per true driver (centres 0.27, 0.19, 0.13, 0.17, 0.11, 0.12). */
  driverShare: {
    fading_usage: [0.17, 0.4],
    shallow_adoption: [0.1, 0.3],
    support_pain: [0.05, 0.26],
    payment_trouble: [0.06, 0.28],
    detractor: [0.04, 0.22],
    unexplained: [0.04, 0.22],
  },
} as const;
