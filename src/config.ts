/**
 * Configuration: the options of a cluster instance and their defaults
 * (config/options.ts), their validation (config/validate.ts), and the
 * `SHAZBOT_*` environment variables (config/env.ts).
 */
export { DEFAULTS, type ClusterOptions, type ResolvedConfig } from './config/options.js';
export { MIN_SECRET_LENGTH, resolveOptions } from './config/validate.js';
export { optionsFromEnv, type EnvConfig, type EnvLogLevel } from './config/env.js';
