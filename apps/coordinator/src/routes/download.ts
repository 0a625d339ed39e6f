import type { Response } from 'express';

function drainOrClose(res: Response): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Sends a store stream as the response body. The store's read stream verifies while it streams and
 * holds back its last chunk until the digest matches, so:
 * - a failure before the first chunk (missing object, a corrupt object that fits in one chunk)
 *   rejects before any header is sent, and the error handler answers with a JSON error;
 * - a failure after it destroys the socket: the client sees an aborted transfer (a short body
 *   against Content-Length, or a chunked body without its last chunk), never a complete 200.
 * Headers are set only once the first chunk is in hand.
 */
export async function sendStream(res: Response, stream: NodeJS.ReadableStream, headers: Record<string, string>): Promise<void> {
  const source = stream as NodeJS.ReadableStream & AsyncIterable<Buffer> & { destroy?: (err?: Error) => void };
  let started = false;
  let clientGone = false;
  const onClose = () => {
    clientGone = true;
    source.destroy?.();
  };
  res.once('close', onClose);
  try {
    for await (const chunk of source) {
      if (clientGone) return;
      if (!started) {
        started = true;
        res.status(200);
        for (const [k, v] of Object.entries(headers)) res.setHeader(k, v);
      }
      if (!res.write(chunk)) await drainOrClose(res);
    }
    if (clientGone) return;
    if (!started) for (const [k, v] of Object.entries(headers)) res.setHeader(k, v); // an empty object
    res.end();
  } catch (err) {
    source.destroy?.();
    // Mid-body: no clean answer is possible any more, so the transfer must visibly fail.
    if (started || res.headersSent) res.destroy(err as Error);
    throw err;
  } finally {
    res.off('close', onClose);
  }
}
