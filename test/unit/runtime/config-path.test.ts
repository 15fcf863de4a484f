import { describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_PATH, resolveConfigPath } from '../../../src/runtime/config-path.js';

describe('config path', () => {
  it('config_path from containerd wins over the environment and the default', () => {
    const location = resolveConfigPath('/opt/a.toml', { TSSHIM_CONFIG: '/opt/b.toml' });
    expect(location).toMatchObject({ path: '/opt/a.toml', explicit: true });
  });

  it('the environment wins over the default', () => {
    expect(resolveConfigPath('', { TSSHIM_CONFIG: '/opt/b.toml' })).toMatchObject({ path: '/opt/b.toml', explicit: true });
  });

  it('with neither, the default path is used and may be absent', () => {
    expect(resolveConfigPath(undefined, {})).toEqual({ path: '/etc/tsshim/config.toml', explicit: false, source: 'the default location' });
    expect(DEFAULT_CONFIG_PATH).toBe('/etc/tsshim/config.toml');
  });

  it('names who chose the path, for error messages', () => {
    expect(resolveConfigPath('/opt/a.toml', {}).source).toBe('config_path of runtimeoptions.v1.Options');
    expect(resolveConfigPath(null, { TSSHIM_CONFIG: '/opt/b.toml' }).source).toBe('$TSSHIM_CONFIG');
  });
});
