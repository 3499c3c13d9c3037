/**
 * The command line's own settings: TASKGATE_URL, TASKGATE_API_KEY (DESIGN.md "Command
 * line"), and NO_COLOR / TERM for how it draws on a terminal. They are read once, by
 * src/config.ts (the one reader of the environment, for the server and the CLI alike),
 * and passed in from the CLI's entry.
 */
export { readCliEnvironment, type CliEnvironment } from '../config.js';

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:8080';
