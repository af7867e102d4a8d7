/**
 * Which alarms are drills. Pure: the store, the admin service and the runtime all ask here.
 */

/**
 * Drill fobs: a team rehearsing against the live hub (`lonewatch sim --drill`) uses devices whose id
 * starts with "drill-"; their alarms are marked as drills everywhere they appear.
 */
export const DRILL_PREFIX = 'drill-';

export function isDrillDevice(deviceId: string | null): boolean {
  return deviceId !== null && deviceId.startsWith(DRILL_PREFIX);
}

/** Drill workers (`lonewatch sim --drill` registers them as drill-<id>). */
export function isDrillWorker(workerId: string | null): boolean {
  return workerId !== null && workerId.startsWith(DRILL_PREFIX);
}

/**
 * A drill fob may only belong to a drill worker: otherwise a real worker's alarm could be taken for a
 * drill (issue 16: a genuinely overdue worker went to the ARC as a test report). Null when allowed.
 */
export function drillPairingProblem(deviceId: string, workerId: string | null): string | null {
  if (!isDrillDevice(deviceId) || workerId === null || isDrillWorker(workerId)) return null;
  return `a drill fob (${deviceId}) can only belong to a drill worker (an id starting with "${DRILL_PREFIX}"), not ${workerId}: its alarms would make a real worker's look like drills`;
}
