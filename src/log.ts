import { isatty } from 'node:tty';
import pino, { type Logger } from 'pino';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** What `--log-format` left unset means: a person reads a terminal, a collector reads everything else. */
export function defaultLogFormat(fd: number): LogFormat {
  return isatty(fd) ? 'pretty' : 'json';
}

/**
 * JSON lines (or pino-pretty's lines), written synchronously so the last lines before exit are never lost. fd 2
 * keeps stdout for output. Pretty lines are formatted in this thread by pino-pretty's formatter rather than by
 * its transport, which would run in a worker and write asynchronously; colored only on a terminal.
 */
export function createLogger(level: LogLevel, fd: 1 | 2 = 1, format: LogFormat = defaultLogFormat(fd)): Logger {
  const out = pino.destination({ dest: fd, sync: true });
  if (format === 'json') return pino({ level }, out);
  // loaded only here: a daemon logging JSON never pays for it
  const { prettyFactory } = require('pino-pretty') as typeof import('pino-pretty');
  const pretty = prettyFactory({ colorize: isatty(fd), ignore: 'pid,hostname', singleLine: true, translateTime: 'SYS:HH:MM:ss.l' });
  return pino({ level }, { write: (line: string) => out.write(pretty(line)) });
}
