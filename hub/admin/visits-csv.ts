/**
 * The itinerary CSV: one visit per line, with a header.
 *   worker,ref,start,end,category,rag,checkin_interval_min,next_location,second_worker,unplanned,contact_name,contact_phone
 * Times are ISO 8601. `ref` is a reference code, never an address (R7). Errors name the line and column.
 */
import type { VisitInput } from '../admin/admin-service.js';

export const CSV_COLUMNS = ['worker', 'ref', 'start', 'end', 'category', 'rag', 'checkin_interval_min', 'next_location', 'second_worker', 'unplanned', 'contact_name', 'contact_phone'] as const;
const REQUIRED = ['worker', 'ref', 'start', 'end'];

export interface CsvRow {
  line: number;
  visit: VisitInput;
}

export class CsvError extends Error {
  override name = 'CsvError';
}

/** Splits one CSV line, honouring double quotes ("a, b" and "" escapes). */
function splitLine(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(cur);
      cur = '';
    }
    else cur += c;
  }
  out.push(cur);
  return out.map((s) => s.trim());
}

export function parseVisitsCsv(text: string, file = 'visits.csv'): CsvRow[] {
  const lines = text.split(/\r?\n/);
  // Comment lines (#) may come before the header too: the shipped example explains itself.
  let first = 0;
  while (first < lines.length - 1 && (lines[first].trim() === '' || lines[first].startsWith('#'))) first++;
  const header = splitLine(lines[first] ?? '').map((h) => h.toLowerCase());
  for (const col of REQUIRED) if (!header.includes(col)) throw new CsvError(`${file}:${first + 1}: missing column "${col}" (columns: ${CSV_COLUMNS.join(',')})`);
  for (const col of header) if (!(CSV_COLUMNS as readonly string[]).includes(col)) throw new CsvError(`${file}:${first + 1}: unknown column "${col}"`);
  const rows: CsvRow[] = [];
  const errors: string[] = [];
  for (let n = first + 1; n < lines.length; n++) {
    if (lines[n].trim() === '' || lines[n].startsWith('#')) continue;
    const cells = splitLine(lines[n]);
    const get = (col: string): string => cells[header.indexOf(col)] ?? '';
    const where = `${file}:${n + 1}`;
    const fail = (col: string, msg: string): void => {
      errors.push(`${where}: column "${col}": ${msg}`);
    };
    const start = Date.parse(get('start'));
    const end = Date.parse(get('end'));
    if (!get('worker')) fail('worker', 'required');
    if (!/^[A-Za-z0-9_./-]{1,32}$/.test(get('ref'))) fail('ref', 'must be a reference code (letters, digits, _ . / -), not an address');
    if (Number.isNaN(start)) fail('start', `"${get('start')}" is not an ISO 8601 time`);
    if (Number.isNaN(end)) fail('end', `"${get('end')}" is not an ISO 8601 time`);
    else if (!Number.isNaN(start) && end <= start) fail('end', 'must be after start');
    const cat = get('category') || '1';
    if (cat !== '1' && cat !== '2') fail('category', 'must be 1 or 2');
    const rag = (get('rag') || 'green').toLowerCase();
    if (!['red', 'amber', 'green'].includes(rag)) fail('rag', 'must be red, amber or green');
    const interval = get('checkin_interval_min');
    if (interval && !(Number.isInteger(Number(interval)) && Number(interval) >= 5 && Number(interval) <= 480)) fail('checkin_interval_min', 'must be whole minutes, 5-480');
    const unplanned = (get('unplanned') || 'no').toLowerCase();
    if (!['yes', 'no', 'true', 'false', '1', '0'].includes(unplanned)) fail('unplanned', 'must be yes or no');
    // The contact at the visit address (R13's ladder calls them): a number the dashboard can dial.
    const contactPhone = get('contact_phone');
    if (contactPhone && !/^\+?[0-9 ()-]{3,32}$/.test(contactPhone)) fail('contact_phone', `"${contactPhone}" is not a phone number (digits, spaces, + ( ) -)`);
    if (get('contact_name').length > 128) fail('contact_name', 'at most 128 characters');
    rows.push({
      line: n + 1,
      visit: {
        workerId: get('worker'),
        ref: get('ref'),
        scheduledStart: start,
        expectedEnd: end,
        riskCategory: cat === '2' ? 2 : 1,
        rag: rag as VisitInput['rag'],
        checkinIntervalMin: interval ? Number(interval) : null,
        nextLocation: get('next_location') || null,
        secondWorkerId: get('second_worker') || null,
        unplanned: ['yes', 'true', '1'].includes(unplanned),
        contactName: get('contact_name') || null,
        contactPhone: contactPhone || null,
      },
    });
  }
  if (errors.length > 0) throw new CsvError(errors.join('\n'));
  return rows;
}
