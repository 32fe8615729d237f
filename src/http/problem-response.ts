// The one place errors become HTTP answers: RFC 9457 problem+json, never a stack trace.
import type { Context } from 'hono';
import type { Logger } from 'pino';
import { isConnectionFailure } from '../db/pg-errors.ts';
import { NotFound, Problem, ServiceUnavailable } from '../errors/problems.ts';

export function problemResponse(problem: Problem, instance?: string): Response {
  const body = {
    type: problem.type,
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    errors: problem.errors,
    ...(instance ? { instance } : {}),
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
  });
}

export function errorHandler(log: Logger) {
  return (error: Error, c: Context): Response => {
    if (error instanceof Problem) {
      if (error.status >= 500) log.warn({ err: error.cause ?? error, path: c.req.path }, error.message);
      return problemResponse(error, c.req.path);
    }
    if (isConnectionFailure(error)) {
      // An outage, not a bug: the client should retry (section 8), never see a 500.
      log.warn({ err: error, path: c.req.path }, 'database unavailable');
      return problemResponse(new ServiceUnavailable('The database is unavailable; retry shortly'), c.req.path);
    }
    log.error({ err: error, path: c.req.path, method: c.req.method }, 'unhandled error');
    return problemResponse(new Problem(500, 'Internal error', 'The exchange failed to handle this request'), c.req.path);
  };
}

export function notFoundHandler(c: Context): Response {
  return problemResponse(new NotFound(`No route ${c.req.method} ${c.req.path}`), c.req.path);
}
