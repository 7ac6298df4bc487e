export { generate, unfinishedGeneration, type GenerateResult, type UnfinishedGeneration } from './generate.ts';
export { DEMO_ACCOUNTS, GenerateOptionsSchema, parseGenerateOptions, windowOf, type GenerateOptions, type GenerateOptionsInput, type GenerationWindow } from './options.ts';
export { DRIVERS, type Driver, type TrueDriver } from './latent.ts';
export { EXPECTED_RANGES } from './expected.ts';
