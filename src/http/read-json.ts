import type { Context } from 'hono';
import { InvalidInput, UnsupportedMediaType } from '../errors/problems.ts';
import { jsonShapeErrors, plainlyWellShaped } from './json-shape.ts';

export interface JsonBody {
  value: unknown;
  raw: string;
}

/** Reads a JSON request body; anything else is a 4xx problem naming what was wrong. */
export async function readJson(c: Context): Promise<JsonBody> {
  const type = c.req.header('content-type') ?? '';
  if (!/^application\/([a-z.+-]*\+)?json\b/i.test(type)) {
    throw new UnsupportedMediaType('Send the body as JSON with content-type: application/json');
  }
  const raw = await c.req.text();
  if (raw.trim() === '') throw new InvalidInput('The request body is empty', [{ path: '', message: 'a JSON body is required' }]);
  let value: unknown;
  try {
    value = JSON.parse(raw) as unknown;
  } catch (error) {
    const message = error instanceof SyntaxError ? error.message : 'malformed JSON';
    throw new InvalidInput('The request body is not valid JSON', [{ path: '', message }]);
  }
  const shapeErrors = plainlyWellShaped(raw) ? [] : jsonShapeErrors(value);
  if (shapeErrors.length > 0) throw new InvalidInput('The request body holds values the exchange cannot store', shapeErrors);
  return { value, raw };
}
