/** Why Herald refused its configuration: names the key as spelled in its source, and the source. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** The bad key as its source spells it: `HERALD_PORT`, `--port`, `namespaces.chat.historySize`. */
  readonly key: string;
  /** Where the key came from: `environment`, `command line`, or the config file's path. */
  readonly source: string;
  /** What is wrong, without the key and source. */
  readonly problem: string;

  constructor(key: string, source: string, problem: string, options?: ErrorOptions) {
    super(`invalid configuration: ${key} (${source}): ${problem}`, options);
    this.key = key;
    this.source = source;
    this.problem = problem;
  }
}
