import { z } from 'zod';
import { parseOrThrow } from '../errors/zod-errors.ts';

export const MAX_PAGE = 100;

const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(MAX_PAGE).default(50),
  after: z.string().min(1).max(200).optional(),
});

export function readPage(query: Record<string, string>): { limit: number; after: string | null } {
  const page = parseOrThrow(pageQuery, query, 'Invalid pagination');
  return { limit: page.limit, after: page.after ?? null };
}

/** `next` is the cursor for the following page, null on the last one. */
export function pageOf<T>(items: T[], limit: number, cursor: (item: T) => string): { items: T[]; next: string | null } {
  return { items, next: items.length === limit ? cursor(items[items.length - 1]!) : null };
}
