// The request body size limit. A body that declares its length is judged by its header alone:
// touching the body (as hono/body-limit does, to wrap it) turns @hono/node-server's direct read
// of the socket into a web Request and ReadableStream per request, which cost the hot path more
// than the whole of input validation. Only a body without a length (chunked) is wrapped and
// counted while it is read.
import type { MiddlewareHandler } from 'hono';
import { bodyLimit as countingBodyLimit } from 'hono/body-limit';
import { PayloadTooLarge } from '../errors/problems.ts';

export function bodyLimit(maxBytes: number): MiddlewareHandler {
  const tooLarge = (): never => {
    throw new PayloadTooLarge(`Request bodies are limited to ${maxBytes} bytes`);
  };
  const counting = countingBodyLimit({ maxSize: maxBytes, onError: tooLarge });
  return async (c, next) => {
    const declared = c.req.header('content-length');
    // With both headers HTTP says the length is to be ignored: count instead.
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined) return counting(c, next);
    // Node's HTTP parser delivers exactly this many bytes (or fails the request), so it is the size.
    if (Number(declared) > maxBytes) tooLarge();
    await next();
  };
}
