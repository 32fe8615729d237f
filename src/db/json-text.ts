// Rows sent to Postgres as one JSON parameter (unpacked there by jsonb_to_recordset).

/**
 * Postgres refuses NUL in text and jsonb; a buyer can put one in a bid id or an error can carry
 * one. Dropping it keeps one hostile string from blocking a whole batch of records.
 */
export function jsonText(text: string): string {
  if (!text.includes('\\u0000')) return text;
  return JSON.stringify(JSON.parse(text, (_key, value: unknown) => (typeof value === 'string' ? value.replaceAll('\u0000', '') : value)));
}
