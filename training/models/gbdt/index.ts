/**
 * Histogram gradient-boosted trees for churn (binary log-loss) with exact TreeSHAP explanations.
 *
 *   const data = binColumns(rawColumnsFromTable(table.columns), { rows: trainRows });  // once
 *   const fit = trainGbdt(data, table.label, { trainRows, validRows, params: { maxDepth: 5 } });
 *   const compiled = compileGbdt(fit.model);          // also accepts the model's JSON, validated
 *   const margin = predictMargin(compiled, row);       // log-odds of one raw row
 *   const explainer = createTreeExplainer(compiled);   // baseValue + sum(contributions) = margin
 *
 * XGBoost models saved as JSON load into the same form with gbdtFromXgboost(parseXgboostJson(text)).
 */
export { binColumns, numericBinOf, numericCuts, categoryList, MISSING_BIN, type RawColumn, type BinnedMatrix, type FeatureBins, type BinningOptions } from './binning.ts';
export { rawColumnsFromTable } from './columns.ts';
export { trainGbdt, logLoss, type TrainGbdtOptions, type GbdtFit } from './boost.ts';
export type { MonotoneSpec } from './fit-inputs.ts';
export { GbdtModel, GbdtTree, GbdtFeature, GBDT_FORMAT, parseGbdtModel } from './model.ts';
export { GbdtParams, resolveParams, type GbdtParamsInput } from './params.ts';
export { compileGbdt, encodeRow, leafOf, marginOfEncoded, nextNode, predictMargin, type CompiledGbdt, type RawValue } from './predict.ts';
export { createTreeExplainer, type TreeExplainer } from './tree-shap.ts';
export { createReferenceExplainer } from './reference-shap.ts';
export { gbdtFromXgboost, parseXgboostJson, type XgboostImportOptions } from './xgboost.ts';
