/** The package's version, from package.json (the one place it is written). */
import packageJson from '../package.json' with { type: 'json' };

export const VERSION: string = packageJson.version;
