/**
 * A configuration that cannot work: raised while the settings are read (src/config.ts),
 * or while a provider connects with them (a credentials file that cannot be read). The
 * boot stops with its message, which names the variable and never a secret.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
