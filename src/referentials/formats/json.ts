import { defineFormat, looksLikeJson, parseJson, validReferential } from './format';

/**
 * Socle's own JSON: the référentiel version as Socle stores it and `GET /api/v1/referentials/:id` gives it (hours
 * in integer minutes, every field). Recognised as a JSON object with `domains` (a CASE package has none).
 */
export const jsonFormat = defineFormat({
  name: 'json',
  description: 'Socle JSON (as the API gives it)',
  extension: '.json',
  contentType: 'application/json; charset=utf-8',
  export: (ref) => `${JSON.stringify(ref, null, 2)}\n`,
  accepts: (text) => {
    if (!looksLikeJson(text)) return false;
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'object' && value !== null && 'domains' in value;
    } catch {
      return false;
    }
  },
  import: (text) => validReferential(parseJson(text), 'The JSON file is not a valid référentiel'),
});
