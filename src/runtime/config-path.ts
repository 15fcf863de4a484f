export const DEFAULT_CONFIG_PATH = '/etc/tsshim/config.toml';
const CONFIG_PATH_ENV = 'TSSHIM_CONFIG';

export interface ConfigLocation {
  readonly path: string;
  /**
   * True when someone named this file (runtime options or the environment): then it must
   * exist. Only the default location may be absent, meaning "built-in defaults".
   */
  readonly explicit: boolean;
  /** Who named the path, for error messages. */
  readonly source: string;
}

/**
 * Picks the config file: `config_path` of the runtimeoptions.v1.Options containerd sent
 * (how Kata and gVisor let a CRI runtime handler choose its config), then $TSSHIM_CONFIG,
 * then the default path.
 */
export function resolveConfigPath(
  configPathFromOptions?: string | null,
  env: NodeJS.ProcessEnv = process.env,
): ConfigLocation {
  if (configPathFromOptions) {
    return { path: configPathFromOptions, explicit: true, source: 'config_path of runtimeoptions.v1.Options' };
  }
  const fromEnv = env[CONFIG_PATH_ENV];
  if (fromEnv) return { path: fromEnv, explicit: true, source: `$${CONFIG_PATH_ENV}` };
  return { path: DEFAULT_CONFIG_PATH, explicit: false, source: 'the default location' };
}
