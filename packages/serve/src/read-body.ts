/**
 * Reads a request body up to a limit. Not express.raw: body-parser 2 drains the *whole* body of a
 * request it refuses before answering 413 (for keep-alive), so an endless chunked upload would
 * hold the request until the request timeout. Here a declared Content-Length over the limit is
 * refused before reading, a body that grows over it is refused at once, and the caller closes the
 * connection after the answer (app.ts), so the client cannot keep the server reading.
 */
import type { IncomingMessage } from 'node:http';
import { ServeError } from './errors.ts';

export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = (n: number | string) => new ServeError('PAYLOAD_TOO_LARGE', `request body of ${n} bytes is too large; the limit is ${limit} bytes (--max-body-mb)`);
  const encoding = (req.headers['content-encoding'] ?? 'identity').toLowerCase();
  if (encoding !== 'identity') {
    return Promise.reject(new ServeError('UNSUPPORTED_MEDIA_TYPE', `Content-Encoding ${JSON.stringify(encoding)} is not accepted; send the body uncompressed`));
  }
  const declared = req.headers['content-length'] === undefined ? undefined : Number(req.headers['content-length']);
  if (declared !== undefined && declared > limit) return Promise.reject(tooLarge(declared));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const fail = (err: Error) => {
      cleanup();
      req.pause();
      reject(err);
    };
    const onData = (c: Buffer) => {
      received += c.length;
      if (received > limit) return fail(tooLarge(`more than ${limit}`));
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received));
    };
    const onError = (err: Error) => fail(new ServeError('BAD_REQUEST', `reading the request body failed: ${err.message}`));
    const onAborted = () => fail(new ServeError('BAD_REQUEST', 'the client aborted the request body'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}
