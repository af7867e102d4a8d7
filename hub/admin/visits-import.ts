/**
 * Importing an itinerary CSV, all or nothing (issue 15 items 9 and 13): every visit goes in one
 * transaction; one refused line rolls the whole file back, and every refused line is named with its
 * reason. The CLI (`lonewatch visits import`) and the dashboard's upload both use this, so a file
 * means the same wherever it is imported.
 */
import type { Store } from '../store/store.js';
import { AdminError, addVisitTx } from './admin-service.js';
import type { VisitPolicyRules } from '../rules/visit-policy.js';
import type { CsvRow } from './visits-csv.js';

export interface VisitImport {
  /** Visits imported: every row, or 0 when any row was refused. */
  imported: number;
  /** "file:line: reason" for each refused row (empty when the file went in). */
  refused: string[];
  /** "file:line: warning: ..." policy warnings of imported rows. */
  warnings: string[];
  /** Workers whose itinerary changed (their check-in timers need a look). */
  workerIds: string[];
}

/** Rolls the import's transaction back once every line has been checked. */
class ImportRefused extends Error {}

export async function importVisitRows(store: Store, rows: CsvRow[], rules: VisitPolicyRules, file: string, now = Date.now()): Promise<VisitImport> {
  const refused: string[] = [];
  const warnings: string[] = [];
  let imported = 0;
  try {
    await store.transaction(async (tx) => {
      for (const row of rows) {
        try {
          const res = await addVisitTx(tx, row.visit, rules);
          for (const w of res.warnings) warnings.push(`${file}:${row.line}: warning: ${w}`);
        } catch (err) {
          if (!(err instanceof AdminError)) throw err;
          refused.push(`${file}:${row.line}: ${err.message}`);
        }
      }
      if (refused.length > 0) throw new ImportRefused();
      imported = rows.length;
      for (const workerId of new Set(rows.map((r) => r.visit.workerId))) {
        await tx.appendChange({ at: now, topic: 'visit', alarmId: null, detail: { workerId, change: 'imported' } });
      }
    });
  } catch (err) {
    if (!(err instanceof ImportRefused)) throw err;
  }
  return { imported, refused, warnings: refused.length > 0 ? [] : warnings, workerIds: imported > 0 ? [...new Set(rows.map((r) => r.visit.workerId))] : [] };
}
