import { defineFeature } from './schema.ts';

/** Sentiment: what the customer says about us (NPS and CSAT surveys). */
export const sentiment = [
  defineFeature({ name: 'nps_latest', label: 'Latest NPS', risk: 'decreasing', family: 'sentiment', kind: 'survey_latest', survey: 'nps', unit: 'score',
    description: 'Latest NPS response: {value} of 10', whenNull: 'No NPS response yet' }),
  defineFeature({ name: 'nps_change', label: 'Change in NPS', risk: 'decreasing', family: 'sentiment', kind: 'survey_change', survey: 'nps', unit: 'score',
    description: 'NPS changed by {value} since the previous response', whenNull: 'Fewer than two NPS responses' }),
  defineFeature({ name: 'nps_detractor', label: 'NPS detractor', risk: 'increasing', family: 'sentiment', kind: 'threshold', dependsOn: ['nps_latest'], op: 'lte', value: 6, unit: 'flag',
    description: 'Detractor (latest NPS 0-6): {value} (1 yes, 0 no)', whenNull: 'No NPS response yet',
    yesNo: { yes: 'Latest NPS response from a detractor (0-6)', no: 'Latest NPS response not from a detractor (0-6)' } }),
  defineFeature({ name: 'nps_promoter', label: 'NPS promoter', risk: 'decreasing', family: 'sentiment', kind: 'threshold', dependsOn: ['nps_latest'], op: 'gte', value: 9, unit: 'flag',
    description: 'Promoter (latest NPS 9-10): {value} (1 yes, 0 no)', whenNull: 'No NPS response yet',
    yesNo: { yes: 'Latest NPS response from a promoter (9-10)', no: 'Latest NPS response not from a promoter (9-10)' } }),
  defineFeature({ name: 'csat_survey_mean_180d', label: 'CSAT survey score', risk: 'decreasing', family: 'sentiment', kind: 'survey_mean', survey: 'csat', window: { days: 180 }, unit: 'score',
    description: 'Mean CSAT survey score of {value} (1-5) over the last 180 days', whenNull: 'No CSAT survey response in the last 180 days' }),
];
