import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';

/** A parsed pino line (the fields tests read). */
export interface LogLine {
  level: number;
  msg: string;
  step?: string;
  [key: string]: unknown;
}

/** Tests: a pino logger at `level` whose lines are parsed into `logs`, so a test can assert what was logged. */
export function captureLogs(level: pino.Level = 'warn'): { logs: LogLine[]; logger: Logger } {
  const logs: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as LogLine);
      cb();
    },
  });
  return { logs, logger: pino({ level }, sink) };
}
