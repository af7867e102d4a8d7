/**
 * A worker's emergency contacts as records of (name, relationship, phone) (issue 15 item 13), for
 * the worker form, the API and the police hand-over (R5: the police are handed who to call, with a
 * number they can dial). Before schema version 10 they were one free-text field; `parseOldText`
 * reads that text into records once, at the migration, and the text itself is kept beside them
 * (`emergencyContactsOldText`) so nobody loses what was written there. Pure.
 */
export interface EmergencyContact {
  name: string;
  relationship: string | null;
  phone: string | null;
}

/** The most contacts one worker may have: enough for a family, small enough to read out to the police. */
export const EMERGENCY_CONTACTS_MAX = 10;

/**
 * The old field's text, a contact a line (or separated by ";"), in the forms the dashboard wrote
 * ("Ravi Khan (brother): 07700 900002") and people typed ("Partner 07700 900456"). A line with no
 * recognisable number keeps the whole line as the name, so nothing in it is lost.
 */
export function parseOldText(text: string | null): EmergencyContact[] {
  if (!text) return [];
  return text
    .split(/\r?\n|;/)
    .map((line) => line.trim())
    .filter(Boolean)
    .slice(0, EMERGENCY_CONTACTS_MAX)
    .map((line) => {
      const m = /^(.*?)\s*(?:\(([^)]*)\))?\s*:?\s*(\+?\d[\d ()-]{4,}\d)?\s*$/.exec(line);
      const name = m?.[1]?.trim() ?? '';
      if (!m || !name) return { name: line, relationship: null, phone: null };
      return { name, relationship: m[2]?.trim() || null, phone: m[3]?.trim() || null };
    });
}

/** One line per contact, for the CSV and plain-text places: "Ravi Khan (brother): 07700 900002". */
export function contactLine(c: EmergencyContact): string {
  return `${c.name}${c.relationship ? ` (${c.relationship})` : ''}${c.phone ? `: ${c.phone}` : ''}`;
}
